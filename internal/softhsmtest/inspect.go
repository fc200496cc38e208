//go:build cgo

package softhsmtest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
)

// Inspector is a PKCS#11 session of the test's own on a token, to look at
// what a backend under test made: the session objects of a process are
// visible to all its sessions. It shares the module with the backend (the
// module is initialised once per process), so the backend must stay open
// while the inspector is used, and the inspector never calls C_Finalize or
// C_Logout (login state belongs to the whole process).
//
// Through p11-kit remoting each instance of the client module is a
// connection of its own, served by a process of its own: an inspector
// there sees token objects, but not the backend's session objects.
type Inspector struct {
	t    testing.TB
	p    *pkcs11.Ctx
	slot uint
	s    pkcs11.SessionHandle
}

// Inspect opens a session on the token labelled label of module, logged
// in with pin, and closes it when the test ends.
func Inspect(t testing.TB, module, label, pin string) *Inspector {
	t.Helper()
	p := pkcs11.New(module)
	if p == nil {
		t.Fatalf("softhsmtest: inspect: cannot load %s", module)
	}
	if err := p.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatalf("softhsmtest: inspect: initialise: %v", err)
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatalf("softhsmtest: inspect: list slots: %v", err)
	}
	in := &Inspector{t: t, p: p}
	found := false
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && strings.TrimRight(ti.Label, " \x00") == label {
			in.slot, found = s, true
			break
		}
	}
	if !found {
		t.Fatalf("softhsmtest: inspect: no token %q in %s", label, module)
	}
	if in.s, err = p.OpenSession(in.slot, pkcs11.CKF_SERIAL_SESSION); err != nil {
		t.Fatalf("softhsmtest: inspect: open session: %v", err)
	}
	if err := p.Login(in.s, pkcs11.CKU_USER, pin); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
		t.Fatalf("softhsmtest: inspect: login: %v", err)
	}
	t.Cleanup(func() { _ = p.CloseSession(in.s) })
	return in
}

// Ctx returns the module's context, for calls the Inspector does not wrap.
func (in *Inspector) Ctx() *pkcs11.Ctx { return in.p }

// Session returns the inspector's session.
func (in *Inspector) Session() pkcs11.SessionHandle { return in.s }

// Slot returns the token's slot.
func (in *Inspector) Slot() uint { return in.slot }

// Find returns every object that matches the template, sorted.
func (in *Inspector) Find(template ...*pkcs11.Attribute) []pkcs11.ObjectHandle {
	in.t.Helper()
	if err := in.p.FindObjectsInit(in.s, template); err != nil {
		in.t.Fatalf("softhsmtest: inspect: find: %v", err)
	}
	var all []pkcs11.ObjectHandle
	for {
		objs, _, err := in.p.FindObjects(in.s, 100)
		if err != nil {
			in.t.Fatalf("softhsmtest: inspect: find: %v", err)
		}
		if len(objs) == 0 {
			break
		}
		all = append(all, objs...)
	}
	if err := in.p.FindObjectsFinal(in.s); err != nil {
		in.t.Fatalf("softhsmtest: inspect: find: %v", err)
	}
	slices.Sort(all)
	return all
}

// SessionObjects returns every session object (CKA_TOKEN false) that the
// inspector can see, sorted.
func (in *Inspector) SessionObjects() []pkcs11.ObjectHandle {
	in.t.Helper()
	return in.Find(pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false))
}

// Attrs reads attributes of an object by type; the test fails on error
// (a sensitive attribute is an error: read it through Ctx to test that).
func (in *Inspector) Attrs(obj pkcs11.ObjectHandle, types ...uint) map[uint][]byte {
	in.t.Helper()
	tmpl := make([]*pkcs11.Attribute, len(types))
	for i, ty := range types {
		tmpl[i] = pkcs11.NewAttribute(ty, nil)
	}
	got, err := in.p.GetAttributeValue(in.s, obj, tmpl)
	if err != nil {
		in.t.Fatalf("softhsmtest: inspect: attributes of object %d: %v", obj, err)
	}
	out := make(map[uint][]byte, len(got))
	for _, a := range got {
		out[a.Type] = a.Value
	}
	return out
}
