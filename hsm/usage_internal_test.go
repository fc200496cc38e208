//go:build cgo

package hsm

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/provider/providertest"
)

// TestUsageTable states, in words, what kindUsage allows each kind of key:
// the table the templates are built from, and the other tests' oracle.
func TestUsageTable(t *testing.T) {
	names := func(ts []uint) []string {
		var out []string
		for _, a := range ts {
			out = append(out, attrNames[a])
		}
		return out
	}
	for _, tc := range []struct {
		kind     provider.Kind
		key, pub []string
	}{
		{provider.KindAEAD, []string{"CKA_ENCRYPT", "CKA_DECRYPT"}, nil},
		{provider.KindMAC, []string{"CKA_SIGN", "CKA_VERIFY"}, nil},
		{provider.KindKDF, []string{"CKA_SIGN"}, nil},
		{provider.KindSignature, []string{"CKA_SIGN"}, []string{"CKA_VERIFY"}},
		{provider.KindKeyAgreement, []string{"CKA_DERIVE"}, nil},
	} {
		u, ok := kindUsage[tc.kind]
		require.True(t, ok, "%s has a row", tc.kind)
		assert.Equal(t, tc.key, names(u.key), "%s key", tc.kind)
		assert.Equal(t, tc.pub, names(u.pub), "%s public key", tc.kind)
	}
	for _, alg := range provider.Algorithms() {
		if alg.Kind.Keyed() {
			assert.NotEmpty(t, usageOf(alg).key, "%s needs some use", alg.Name)
		}
	}
}

// importInput is key material that alg's import takes: PKCS#8 for a pair,
// the raw key for AES-GCM and HMAC, input keying material for HKDF.
func importInput(t *testing.T, alg provider.Algorithm) []byte {
	t.Helper()
	switch {
	case alg.Kind == provider.KindAEAD:
		return randomKey(t, alg.KeySize)
	case alg.Kind == provider.KindMAC:
		return randomKey(t, alg.OutputSize)
	case alg.Kind == provider.KindKDF:
		return []byte("input keying material")
	case alg.Curve == "Ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		return providertest.PKCS8(t, k)
	case alg.IsRSA():
		return providertest.RSAKey(t)
	}
	curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[alg.Curve]
	require.NotNil(t, curve, "%s: no curve", alg.Name)
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	require.NoError(t, err)
	return providertest.PKCS8(t, k)
}

func randomKey(t *testing.T, n int) []byte {
	t.Helper()
	k := make([]byte, n)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// checkPolicy reads, through in (a session of the test's own), every usage
// attribute of obj's class, CKA_MODIFIABLE and CKA_COPYABLE, each on its
// own, and checks them against kindUsage: true exactly where alg needs
// it, CKA_MODIFIABLE and CKA_COPYABLE false. withCopyable says whether
// the token knows CKA_COPYABLE.
func checkPolicy(t *testing.T, in *softhsmtest.Inspector, alg provider.Algorithm, obj pkcs11.ObjectHandle, withCopyable bool) {
	t.Helper()
	class, ok := ulongAttr(&pkcs11.Attribute{Value: in.Attrs(obj, pkcs11.CKA_CLASS)[pkcs11.CKA_CLASS]})
	require.True(t, ok)
	allowed := usageOf(alg).key
	if class == pkcs11.CKO_PUBLIC_KEY {
		allowed = usageOf(alg).pub
	}
	want := map[uint]bool{pkcs11.CKA_MODIFIABLE: false}
	if withCopyable {
		want[pkcs11.CKA_COPYABLE] = false
	}
	for _, a := range usageAttrs[class] {
		want[a] = slices.Contains(allowed, a)
	}
	require.Len(t, usageAttrs[class], map[uint]int{pkcs11.CKO_SECRET_KEY: 7, pkcs11.CKO_PRIVATE_KEY: 5, pkcs11.CKO_PUBLIC_KEY: 5}[class])
	for a, v := range want {
		got := in.Attrs(obj, a)[a]
		assert.Equal(t, v, boolAttr(&pkcs11.Attribute{Value: got}), "%s: class %d: %s", alg.Name, class, attrNames[a])
	}
}

// TestKeyUsage makes a key of every algorithm of the registry that the
// token can generate or import, as a guest key through the backend and
// as a managed key through Admin (`wasihsm keys generate` and `keys
// import`), and reads every usage attribute of each object back from a
// session of its own: true exactly where kindUsage says, CKA_MODIFIABLE
// and CKA_COPYABLE false, for the secret or private key and the public
// half alike.
func TestKeyUsage(t *testing.T) {
	ctx := context.Background()
	b, _ := openInternal(t, nil)
	fx := softhsmtest.Token(t)
	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)
	a, err := OpenAdmin(ctx, Config{Module: fx.Module, Token: TokenSelector{Label: fx.Label},
		PIN: func() ([]byte, error) { return []byte(fx.PIN), nil }}, AdminOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	require.NoError(t, a.Login(ctx))

	tag := fmt.Sprintf("%x", randomKey(t, 4))
	tested := 0
	for _, alg := range provider.Algorithms() {
		if !alg.Kind.Keyed() {
			continue
		}
		for _, op := range []provider.Operation{provider.OpGenerate, provider.OpImport} {
			if b.Supports(alg, op) == provider.Unsupported {
				continue
			}
			t.Run(alg.Name+" "+op.String()+" guest", func(t *testing.T) {
				req := provider.KeyRequest{Algorithm: alg}
				if op == provider.OpImport {
					req.Input = importInput(t, alg)
				}
				if alg.Kind == provider.KindKDF {
					req.Hash = provider.MustLookup("SHA-256")
				}
				before := in.SessionObjects()
				k, err := b.GenerateKey(ctx, req)
				require.NoError(t, err)
				defer func() { require.NoError(t, k.Destroy(ctx)) }()
				var objs []pkcs11.ObjectHandle
				for _, o := range in.SessionObjects() {
					if !slices.Contains(before, o) {
						objs = append(objs, o)
					}
				}
				require.Len(t, objs, map[bool]int{true: 1, false: 2}[alg.Kind.Symmetric()])
				for _, o := range objs {
					checkPolicy(t, in, alg, o, true)
				}
			})
			if _, err := adminAlgorithm(alg.Name); err != nil {
				continue
			}
			tested++
			t.Run(alg.Name+" "+op.String()+" keys", func(t *testing.T) {
				label := "usage-" + alg.Name + "-" + op.String() + "-" + tag
				spec := KeySpec{Label: label, ID: []byte(label), Algorithm: alg.Name}
				if op == provider.OpImport {
					spec.Material = importInput(t, alg)
				}
				k, err := a.Create(ctx, spec)
				require.NoError(t, err)
				t.Cleanup(func() { _, _ = a.Delete(ctx, label, nil) })
				assert.Empty(t, a.Excess(k, alg.Name), "Create's own reading")
				objs := in.Find(pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
				require.Len(t, objs, map[bool]int{true: 1, false: 2}[alg.Kind.Symmetric()])
				for _, o := range objs {
					checkPolicy(t, in, alg, o, true)
				}
			})
		}
	}
	// The registry's AES-GCM, HMAC, ECDSA, EdDSA, RSA and ECDH algorithms,
	// each generated and imported.
	assert.GreaterOrEqual(t, tested, 2*16, "managed-key cases run")
}

// TestNoCopyableToken: a token that does not know CKA_COPYABLE answers
// CKR_ATTRIBUTE_TYPE_INVALID to a template with it. Such a token is
// played here by SoftHSM2 asked for a vendor attribute it does not know
// in CKA_COPYABLE's place. The first key is made without the attribute
// after one refusal, the token is remembered as one without it
// (deviations.noCopyable), and every later key, guest or managed, is made
// without it, with the rest of its policy intact. A template that the
// token refuses for another attribute still fails, and teaches nothing.
func TestNoCopyableToken(t *testing.T) {
	ctx := context.Background()
	const unknown = pkcs11.CKA_VENDOR_DEFINED | 0x5741
	fx := softhsmtest.Token(t)
	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)

	// Another attribute unknown: the error stands, nothing is learnt.
	b, _ := openInternal(t, nil)
	b.caps.copyable = unknown
	b.mainLock <- struct{}{}
	_, err := b.caps.createObject(b.p, b.main, b.keyTemplate(provider.MustLookup("HS256"),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, make([]byte, 32)),
		pkcs11.NewAttribute(pkcs11.CKA_VENDOR_DEFINED|0x5742, true)))
	<-b.mainLock
	require.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_TYPE_INVALID))
	require.False(t, b.caps.dev.noCopyable.Load(), "a refusal of another attribute is not the deviation")

	// The first key meets the refusal and is made without the attribute.
	// (SoftHSM2 leaves a half-made session object behind for each
	// template it refuses; a token that really lacks the attribute
	// refuses it before making anything. So the objects are counted from
	// here on.)
	k, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("A256GCM")})
	require.NoError(t, err)
	require.True(t, b.caps.dev.noCopyable.Load(), "the deviation is remembered")
	require.NoError(t, k.Destroy(ctx))

	// A template built before a concurrent call found the deviation out
	// still carries the attribute: it is stripped at once.
	stale := append(b.keyTemplate(provider.MustLookup("HS256"),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, make([]byte, 32))), pkcs11.NewAttribute(unknown, false))
	b.mainLock <- struct{}{}
	o, err := b.caps.createObject(b.p, b.main, stale)
	if err == nil {
		_ = b.p.DestroyObject(b.main, o)
	}
	<-b.mainLock
	require.NoError(t, err, "a template built before the deviation was found")

	for _, name := range []string{"A256GCM", "ES256", "ECDH-P256", "HS256"} {
		alg := provider.MustLookup(name)
		before := in.SessionObjects()
		k, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: alg})
		require.NoError(t, err, name)
		var objs []pkcs11.ObjectHandle
		for _, o := range in.SessionObjects() {
			if !slices.Contains(before, o) {
				objs = append(objs, o)
			}
		}
		require.Len(t, objs, map[bool]int{true: 1, false: 2}[alg.Kind.Symmetric()], "%s: made at once, without a refusal", name)
		for _, o := range objs {
			checkPolicy(t, in, alg, o, false)
		}
		if agree, ok := k.(provider.KeyAgreementKey); ok {
			peer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			require.NoError(t, err)
			ecdhPeer, err := peer.PublicKey.ECDH()
			require.NoError(t, err)
			_, err = agree.SharedSecret(ctx, ecdhPeer.Bytes())
			require.NoError(t, err, "the derived secret's template, without CKA_COPYABLE")
		}
		require.NoError(t, k.Destroy(ctx))
	}

	// Admin learns the same of its token.
	a, err := OpenAdmin(ctx, Config{Module: fx.Module, Token: TokenSelector{Label: fx.Label},
		PIN: func() ([]byte, error) { return []byte(fx.PIN), nil }}, AdminOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	require.NoError(t, a.Login(ctx))
	a.caps.copyable = unknown
	label := fmt.Sprintf("nocopyable-%x", randomKey(t, 4))
	present := in.Find()
	_, err = a.Create(ctx, KeySpec{Label: label, ID: []byte(label), Algorithm: "ES384"})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = a.Delete(ctx, label, nil) })
	require.True(t, a.caps.dev.noCopyable.Load())
	destroyHalfMade(t, in, present, label)
	for _, o := range in.Find(pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)) {
		checkPolicy(t, in, provider.MustLookup("ES384"), o, false)
	}
}

// destroyHalfMade destroys the objects on in's token that are not in
// present and not labelled label: what SoftHSM2 left half-made of the
// templates it refused while the key labelled label was made. Made for a
// token key, they are token objects, which outlive the test in the
// process's token (and its later runs, with -count) and are loaded again
// whenever the module is initialised; with SoftHSM2's defaults (no label,
// CKA_TOKEN false) they pass for session objects, which
// TestAbandonedCreationLeavesNothing counts after a reinitialisation.
func destroyHalfMade(t *testing.T, in *softhsmtest.Inspector, present []pkcs11.ObjectHandle, label string) {
	t.Helper()
	p := in.Ctx()
	s, err := p.OpenSession(in.Slot(), pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	require.NoError(t, err)
	defer func() { _ = p.CloseSession(s) }()
	for _, o := range in.Find() {
		if slices.Contains(present, o) || string(in.Attrs(o, pkcs11.CKA_LABEL)[pkcs11.CKA_LABEL]) == label {
			continue
		}
		require.NoError(t, p.DestroyObject(s, o), "a half-made object")
	}
}

// TestManagedKeyCannotWrap is the attack on keys with more usage than
// they need: with the PIN, a managed A256GCM key (made by `wasihsm keys
// generate`) is asked to wrap another key on the token, extractable as
// another tool may have left it, to reveal its value. The token refuses
// (CKA_WRAP false), and the key can be neither changed (CKA_MODIFIABLE
// false) nor copied with CKA_WRAP true (CKA_COPYABLE false).
func TestManagedKeyCannotWrap(t *testing.T) {
	ctx := context.Background()
	fx := softhsmtest.Token(t)
	a, err := OpenAdmin(ctx, Config{Module: fx.Module, Token: TokenSelector{Label: fx.Label},
		PIN: func() ([]byte, error) { return []byte(fx.PIN), nil }}, AdminOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	require.NoError(t, a.Login(ctx))
	label := fmt.Sprintf("wrapper-%x", randomKey(t, 4))
	_, err = a.Create(ctx, KeySpec{Label: label, ID: []byte(label), Algorithm: "A256GCM"})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = a.Delete(ctx, label, nil) })

	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)
	// A read-write session of the attacker's own (the login is the
	// process's).
	p := in.Ctx()
	s, err := p.OpenSession(in.Slot(), pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.CloseSession(s) })
	found := in.Find(pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
	require.Len(t, found, 1)
	managed := found[0]
	victim, err := p.CreateObject(s, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, randomKey(t, 32)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.DestroyObject(s, victim) })

	_, err = p.WrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP, nil)}, managed, victim)
	assert.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED), "wrapping with the managed key")
	err = p.SetAttributeValue(s, managed, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_WRAP, true)})
	assert.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_ACTION_PROHIBITED), "turning CKA_WRAP on")
	copied, err := p.CopyObject(s, managed, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_WRAP, true)})
	if err == nil {
		_ = p.DestroyObject(s, copied)
	}
	assert.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_ACTION_PROHIBITED), "copying it with CKA_WRAP on")
}
