//go:build cgo

package hsm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// opSet is a set of provider operations.
type opSet uint16

func opsOf(ops ...provider.Operation) opSet {
	var s opSet
	for _, op := range ops {
		s |= 1 << op
	}
	return s
}

func (s opSet) has(op provider.Operation) bool { return s&(1<<op) != 0 }

// keyBase is what every key of the backend shares: the token objects, the
// operations allowed on them, and the lock that keeps Destroy from
// removing the objects while an operation uses them.
type keyBase struct {
	b   *Backend
	alg provider.Algorithm
	obj pkcs11.ObjectHandle // the private or secret key
	pub pkcs11.ObjectHandle // the public key, or 0
	// gen is the generation of the persistent session that created the
	// objects (see Backend.gen); 0 for managed keys, which are token
	// objects and outlive sessions.
	gen uint64
	// managed is the name of a managed key, or "" for a key the backend
	// created (and destroys).
	managed string
	allowed opSet

	// objMu guards obj and epoch of a managed key, which object finds
	// again after the module was initialised again: object handles are
	// only good in the module epoch (see module.epoch) that gave them out.
	objMu sync.Mutex
	epoch uint64

	// mu guards destroyed: operations hold it for reading (acquire),
	// Destroy for writing.
	mu        sync.RWMutex
	destroyed bool

	// names are the key's operations as errors name them, set with alg.
	names keyOpNames
	// ops are the key's pooled token operations (see tokenOp).
	ops opPool
}

// keyOpNames are the names of a key's token operations in errors ("ES256:
// sign"), made once per algorithm: built per call, they were an
// allocation of every token operation.
type keyOpNames struct{ sign, encrypt, decrypt, generate, imprt, destroy string }

// algOpNames holds the keyOpNames of every algorithm.
var algOpNames = func() map[string]keyOpNames {
	m := make(map[string]keyOpNames)
	for _, a := range provider.Algorithms() {
		m[a.Name] = newOpNames(a.Name)
	}
	return m
}()

func newOpNames(alg string) keyOpNames {
	return keyOpNames{
		sign: alg + ": sign", encrypt: alg + ": encrypt", decrypt: alg + ": decrypt",
		generate: alg + ": generate", imprt: alg + ": import", destroy: alg + ": destroy",
	}
}

// opNamesOf returns alg's keyOpNames.
func opNamesOf(alg provider.Algorithm) keyOpNames {
	if n, ok := algOpNames[alg.Name]; ok {
		return n
	}
	return newOpNames(alg.Name)
}

// Algorithm implements provider.Key.
func (k *keyBase) Algorithm() provider.Algorithm { return k.alg }

// Backend implements provider.Key: it returns "pkcs11".
func (k *keyBase) Backend() string { return BackendName }

// acquire takes the key for op. It fails when the key is destroyed
// (provider.ErrInvalidArgument), when op is not allowed on a managed key
// (provider.ErrAccessDenied), and when the key's objects died with the
// session that created them (provider.ErrKeyLost). On success the caller
// must call release.
func (k *keyBase) acquire(op provider.Operation) error {
	k.mu.RLock()
	err := k.usable(op)
	if err != nil {
		k.mu.RUnlock()
	}
	return err
}

func (k *keyBase) release() { k.mu.RUnlock() }

func (k *keyBase) usable(op provider.Operation) error {
	switch {
	case k.destroyed:
		return k.errorf(provider.ErrInvalidArgument, "key destroyed")
	case !k.allowed.has(op):
		return k.errorf(provider.ErrAccessDenied, "managed key %q: %s is not allowed", k.managed, op)
	case k.b.closed.Load():
		return errPoolClosed
	case k.gen != 0 && k.gen != k.b.gen.Load():
		return k.errorf(provider.ErrKeyLost, "the key's session was lost, and the key with it")
	}
	return nil
}

// object returns the handle of the private or secret key for a call on
// session s. A managed key whose handle is from an older module epoch (the
// token was restarted, say) is found again by its label and id first,
// and must still fit its configuration.
func (k *keyBase) object(s pkcs11.SessionHandle) (pkcs11.ObjectHandle, error) {
	if k.managed == "" {
		return k.obj, nil
	}
	k.objMu.Lock()
	defer k.objMu.Unlock()
	epoch := k.b.modEpoch.Load()
	if k.epoch == epoch {
		return k.obj, nil
	}
	e := k.b.managed[k.managed]
	found, err := k.b.findManaged(s, e)
	if errors.Is(err, provider.ErrNotFound) {
		// A lost login hides private objects; another caller may have
		// logged in again meanwhile, so look once more before saying so.
		if k.b.loggedOut(s) {
			return 0, pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN)
		}
		found, err = k.b.findManaged(s, e)
	}
	if err != nil {
		return 0, err
	}
	k.obj, k.epoch = found.base().obj, epoch
	return k.obj, nil
}

// refinding wraps the body f of an operation with k: when the token says
// that k's object handle is invalid and k is a managed key, the handle is
// forgotten and f runs once more, finding the object again by label and
// id. (SoftHSM2 drops the handles of private objects when the login is
// lost, so a managed key's handle is stale after a new login.) When the
// second run fails too, the first error stands, unless the second says
// that the login is lost; either way a lost login turns into a new login
// and a retry (see Backend.unhide).
func (k *keyBase) refinding(f func(s pkcs11.SessionHandle) error) func(s pkcs11.SessionHandle) error {
	return func(s pkcs11.SessionHandle) error {
		err := f(s)
		if err == nil || k.managed == "" || !hasTrait(err, hidden) {
			return err
		}
		k.objMu.Lock()
		k.epoch = 0
		k.objMu.Unlock()
		err2 := f(s)
		if err2 != nil && !hasTrait(err2, relogin) {
			return err
		}
		// Success, or the login is lost (found while looking again): the
		// caller logs in again and retries.
		return err2
	}
}

// alive reports whether the key can still be used for op, for work that
// does not touch the token (absorbing data into a state).
func (k *keyBase) alive(op provider.Operation) error {
	if err := k.acquire(op); err != nil {
		return err
	}
	k.release()
	return nil
}

// publicKeyDER is PublicKeyDER of a key pair whose public key (nil when a
// managed key has none) is spki.
func (k *keyBase) publicKeyDER(spki []byte) ([]byte, error) {
	if err := k.alive(provider.OpExportPublic); err != nil {
		return nil, err
	}
	if spki == nil {
		return nil, k.errorf(provider.ErrNotFound, "managed key %q has no public key object on the token", k.managed)
	}
	return bytes.Clone(spki), nil
}

// Destroy implements provider.Key. It destroys the key's objects on the
// token (both halves of a pair), or, for a managed key, only releases it.
// Every later use of the key fails.
func (k *keyBase) Destroy(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.destroyed {
		return k.errorf(provider.ErrInvalidArgument, "key destroyed")
	}
	k.destroyed = true
	if k.managed != "" || k.b.closed.Load() {
		// Managed keys stay on the token; a closed backend's session
		// objects are gone already.
		return nil
	}
	// claimed says who destroys the objects: this call's body (1), which
	// may run on after the caller stopped waiting, or, when the body never
	// got to run, the backend's sweep (2).
	var claimed atomic.Int32
	err := k.b.withMain(ctx, k.names.destroy, false, func(s pkcs11.SessionHandle) error {
		claimed.CompareAndSwap(0, 1)
		if claimed.Load() != 1 {
			return nil // the backend's sweep has them
		}
		if k.gen != k.b.gen.Load() {
			// Gone with the session that created them.
			return nil
		}
		return destroyObjects(k.b.p, s, k.obj, k.pub)
	}, nil)
	switch {
	case errors.Is(err, provider.ErrKeyLost):
		return nil
	case err != nil && claimed.CompareAndSwap(0, 2):
		// The persistent session could not be had (the token is
		// recovering, the session was busy beyond the session wait, ctx
		// ended first): the objects are still on the token, and the
		// caller forgets the key, so the backend destroys them as soon as
		// it can.
		k.b.orphan(objects{priv: k.obj, pub: k.pub, gen: k.gen})
		return nil
	}
	return err
}

// destroyObjects destroys the non-zero handles, returning the first error.
func destroyObjects(p *pkcs11.Ctx, s pkcs11.SessionHandle, objs ...pkcs11.ObjectHandle) error {
	var first error
	for _, o := range objs {
		if o == 0 {
			continue
		}
		if err := p.DestroyObject(s, o); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// errorf wraps sentinel with the package prefix and the key's algorithm.
func (k *keyBase) errorf(sentinel error, format string, args ...any) error {
	return errorf(k.alg, sentinel, format, args...)
}

// errorf wraps sentinel with the package prefix and the algorithm name:
// "hsm: ES256: <message>: <sentinel>".
func errorf(alg provider.Algorithm, sentinel error, format string, args ...any) error {
	return fmt.Errorf("hsm: %s: %s: %w", alg.Name, fmt.Sprintf(format, args...), sentinel)
}

// boolAttr is the CK_BBOOL value of a read attribute.
func boolAttr(a *pkcs11.Attribute) bool { return len(a.Value) == 1 && a.Value[0] != 0 }

// ulongAttr is the CK_ULONG value of a read attribute, in the host's byte
// order and size.
func ulongAttr(a *pkcs11.Attribute) (uint, bool) {
	v := a.Value
	var n uint64
	switch len(v) {
	case 4:
		n = uint64(binary.NativeEndian.Uint32(v))
	case 8:
		n = binary.NativeEndian.Uint64(v)
	default:
		return 0, false
	}
	return uint(n), true
}

// keyTemplate is what every private or secret key the backend creates
// for alg says about itself (docs/semantics.md, "Where keys live"): an
// object of its class, a session object (a token object for an Admin), sensitive, never extractable,
// private when the backend is logged in, able to do what alg needs and
// nothing else, and not modifiable or copyable (see capabilities.policy).
func (t *token) keyTemplate(alg provider.Algorithm, extra ...*pkcs11.Attribute) []*pkcs11.Attribute {
	class := keyClass(alg)
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, t.persistent),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, t.login),
	}
	tmpl = append(tmpl, extra...)
	return append(tmpl, t.caps.policy(class, usageOf(alg).key)...)
}

// publicTemplate is what the public halves of alg's pairs say about
// themselves: public session objects (token objects for an Admin), able to do what alg needs of a
// public key (verify, for a signature) and nothing else, and not
// modifiable or copyable.
func (t *token) publicTemplate(alg provider.Algorithm, extra ...*pkcs11.Attribute) []*pkcs11.Attribute {
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, t.persistent),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
	}
	tmpl = append(tmpl, extra...)
	return append(tmpl, t.caps.policy(pkcs11.CKO_PUBLIC_KEY, usageOf(alg).pub)...)
}

// keptCheck is a kind of key the backend creates: its algorithm and
// whether it was generated on the token or imported.
type keptCheck struct {
	alg       string
	generated bool
}

// checkKept runs checkKeyAttributes on the first key of its kind (algorithm
// and origin) that the backend creates in the persistent session's
// generation, and trusts the token for the others: every key of a kind is
// made from the same template by the same module, and reading the
// attributes back costs SoftHSM2 as much as generating an AES key (it
// decrypts private objects' attributes). A new generation (the session
// reopened, the token recovered, perhaps a different token behind the
// same selector) checks again; a failed check is not remembered, so the
// next key is checked too. The caller holds mainLock.
func (b *Backend) checkKept(s pkcs11.SessionHandle, alg provider.Algorithm, obj pkcs11.ObjectHandle, generated bool) error {
	c, gen := keptCheck{alg.Name, generated}, b.gen.Load()
	if g, ok := b.kept[c]; ok && g == gen {
		return nil
	}
	if err := b.checkKeyAttributes(s, alg, obj, generated); err != nil {
		return err
	}
	b.kept[c] = gen
	return nil
}

// checkKeyAttributes reads back the attributes that docs/semantics.md#where-keys-live requires
// of a key the backend created, and its policy (usage, CKA_MODIFIABLE,
// CKA_COPYABLE), and fails when the token did not keep them. SoftHSM2,
// for one, leaves a key extractable in the clear unless the template says
// otherwise; generated keys must moreover have been so from
// the start (CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE).
func (b *Backend) checkKeyAttributes(s pkcs11.SessionHandle, alg provider.Algorithm, obj pkcs11.ObjectHandle, generated bool) error {
	want := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, b.login),
	}
	if generated {
		want = append(want,
			pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, true))
	}
	want = append(want, b.caps.policy(keyClass(alg), usageOf(alg).key)...)
	b.keptChecks.Add(1)
	tmpl := make([]*pkcs11.Attribute, len(want))
	for i, w := range want {
		tmpl[i] = pkcs11.NewAttribute(w.Type, nil)
	}
	got, err := b.p.GetAttributeValue(s, obj, tmpl)
	if err != nil {
		return err
	}
	for i, w := range want {
		if v := boolAttr(got[i]); v != boolAttr(w) {
			return errorf(alg, provider.ErrDevice, "the token did not keep the key as asked: %s is %t", attrNames[w.Type], v)
		}
	}
	return nil
}
