//go:build cgo

package hsm_test

import (
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/tokentest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

// probeOf is the probe of the algorithm name on b.
func probeOf(t *testing.T, b *hsm.Backend, name string) hsm.Probe {
	t.Helper()
	for _, p := range b.Probe() {
		if p.Algorithm.Name == name {
			require.NoError(t, p.Err, name)
			return p
		}
	}
	t.Fatalf("%s was not probed", name)
	return hsm.Probe{}
}

// refusal is the token's answer the probe of name got for op, "" when
// none.
func refusal(t *testing.T, b *hsm.Backend, name string, op provider.Operation) string {
	t.Helper()
	for _, r := range probeOf(t, b, name).Refusals {
		if r.Operation == op {
			return r.CKR
		}
	}
	return ""
}

// TestQuirkReadWriteObjects: tpm2-pkcs11 creates objects only in
// read-write sessions; the backend finds that at open and makes its
// persistent session read-write, so what the token then refuses is what
// it cannot do (CKR_ATTRIBUTE_VALUE_INVALID), not CKR_SESSION_READ_ONLY.
func TestQuirkReadWriteObjects(t *testing.T) {
	tg := tpm2(t)
	b := open(t, tg)
	assert.Contains(t, b.Quirks(), hsm.QuirkReadWriteObjects)
	for _, p := range b.Probe() {
		for _, r := range p.Refusals {
			assert.NotEqual(t, "CKR_SESSION_READ_ONLY", r.CKR, "%s: %v", p.Algorithm.Name, r)
		}
	}
	in := softhsmtest.Inspect(t, tg.module, tg.label, tg.pin)
	assert.Empty(t, in.Find(pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA)), "the check's data object is gone")
}

// TestQuirkTokenKeyPairsOnly: tpm2-pkcs11 generates key pairs only as
// token objects; guest keys are session objects, so the probe finds
// generation refused, and the backend answers notsup (the router then
// places the key in software, or answers notsup).
func TestQuirkTokenKeyPairsOnly(t *testing.T) {
	b := open(t, tpm2(t))
	for _, name := range []string{"ES256", "ES384", "RS256", "PS256"} {
		assert.Equal(t, "CKR_ATTRIBUTE_VALUE_INVALID", refusal(t, b, name, provider.OpGenerate), name)
		assert.Equal(t, provider.Unsupported, b.Supports(alg(name), provider.OpGenerate), name)
		_, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: alg(name)})
		require.ErrorIs(t, err, provider.ErrNotSupported, name)
	}
}

// TestQuirkNoKeyImport: tpm2-pkcs11 takes no private or secret key
// through C_CreateObject.
func TestQuirkNoKeyImport(t *testing.T) {
	b := open(t, tpm2(t))
	for _, name := range []string{"ES256", "RS256", "HS256", "HKDF"} {
		assert.Equal(t, "CKR_ATTRIBUTE_VALUE_INVALID", refusal(t, b, name, provider.OpImport), name)
		assert.Equal(t, provider.Unsupported, b.Supports(alg(name), provider.OpImport), name)
	}
	_, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: alg("HS256"), Input: make([]byte, 32)})
	require.ErrorIs(t, err, provider.ErrNotSupported)
}

// TestQuirkNoGenerateKey: tpm2-pkcs11 lists CKM_AES_KEY_GEN but has no
// C_GenerateKey.
func TestQuirkNoGenerateKey(t *testing.T) {
	b := open(t, tpm2(t))
	assert.Equal(t, "CKR_FUNCTION_NOT_SUPPORTED", refusal(t, b, "A256GCM", provider.OpGenerate))
	// It lists no AES-GCM: that is the list's answer, not tried.
	assert.Len(t, probeOf(t, b, "A256GCM").Refusals, 1)
	assert.Equal(t, provider.Unsupported, b.Supports(alg("A256GCM"), provider.OpGenerate))
}

// TestQuirkBrokenP521: tpm2-pkcs11's P-521 keys do not work. Guest keys
// of ES512 are refused like every key pair there; a managed ES512 key (a
// token object, made here on a session of the test's own) does not open:
// its stored public key is malformed, an *hsm.UnusableKeyError, notsup.
func TestQuirkBrokenP521(t *testing.T) {
	tg := tpm2(t)
	in := softhsmtest.Inspect(t, tg.module, tg.label, tg.pin)
	p := in.Ctx()
	s, err := p.OpenSession(in.Slot(), pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.CloseSession(s) })
	label, id := "probe-p521", []byte{0x52, 0x1}
	tokentest.ECSigningKey(t, p, s, tokentest.P521Params, label, id)

	b := open(t, tg, func(c *hsm.Config) {
		c.ManagedKeys = []hsm.ManagedKey{{Name: "p521", Label: label, ID: id, Algorithm: alg("ES512"),
			Guests: []provider.GuestRule{{Module: "g"}}, Operations: []provider.Operation{provider.OpSign}}}
	})
	assert.Equal(t, provider.Unsupported, b.Supports(alg("ES512"), provider.OpGenerate), "no guest ES512 keys")
	// The token's P-521 public key does not parse: the key does not open,
	// every time, and the answer is the token's limitation (notsup), not
	// a device error (doctor fails it, naming the fix).
	for range 2 {
		_, err := b.OpenManagedKey(ctx, "p521", provider.Guest{Name: "g"})
		require.ErrorIs(t, err, provider.ErrNotSupported)
		require.NotErrorIs(t, err, provider.ErrDevice)
		var unusable *hsm.UnusableKeyError
		require.ErrorAs(t, err, &unusable)
		assert.Equal(t, "ES512", unusable.Algorithm)
		assert.Contains(t, unusable.Problem, "P-521 public key is malformed")
	}
}

// TestRoutingOnTPM2: what tpm2-pkcs11 cannot do goes to software under
// fallback allow and is notsup under deny: never the token's
// CKR_ATTRIBUTE_VALUE_INVALID (inval) or CKR_SESSION_READ_ONLY (access).
// Hashes it has stay on the token.
func TestRoutingOnTPM2(t *testing.T) {
	b := open(t, tpm2(t))
	for _, policy := range []provider.Policy{provider.FallbackAllow, provider.FallbackDeny} {
		r, err := provider.NewRouter(provider.RouterConfig{Primary: b, Fallback: softfallback.New(), Policy: policy})
		require.NoError(t, err)
		for _, req := range []provider.KeyRequest{
			{Algorithm: alg("ES256")}, {Algorithm: alg("RS256")}, {Algorithm: alg("A128GCM")},
			{Algorithm: alg("HS256"), Input: make([]byte, 32)},
			{Algorithm: alg("HKDF"), Input: make([]byte, 32), Hash: alg("SHA-256")},
		} {
			k, err := r.GenerateKey(ctx, req)
			if policy == provider.FallbackDeny {
				require.ErrorIs(t, err, provider.ErrNotSupported, "%s under deny", req.Algorithm.Name)
				continue
			}
			require.NoError(t, err, "%s under allow", req.Algorithm.Name)
			assert.Equal(t, "software", k.Backend(), req.Algorithm.Name)
			require.NoError(t, k.Destroy(ctx))
		}
		h, err := r.NewHash(ctx, alg("SHA-256"))
		require.NoError(t, err)
		require.NoError(t, h.Close())
		hb, _, err := r.Route(alg("SHA-256"), provider.OpHash)
		require.NoError(t, err)
		assert.Equal(t, "pkcs11", hb.Name(), "SHA-256 hashes on the token")
	}
}

// TestQuirkPairsDecrypt: tpm2-pkcs11 refuses a key pair whose template
// says CKA_DECRYPT false (private key) or CKA_ENCRYPT false (public key);
// Admin.Create finds that from its answer and makes the pair without
// them. The token then sets them true, and nothing else beyond what the
// algorithm needs: the rest of the key's usage is as strict as anywhere.
func TestQuirkPairsDecrypt(t *testing.T) {
	tg := tpm2(t)
	cfg := hsm.Config{Module: tg.module, Token: hsm.TokenSelector{Label: tg.label}, PIN: pinOf(tg.pin)}
	a, err := hsm.OpenAdmin(ctx, cfg, hsm.AdminOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	require.NoError(t, a.Login(ctx))
	for _, name := range []string{"ES256", "RS256"} {
		label := "quirk-pairs-decrypt-" + name
		k, err := a.Create(ctx, hsm.KeySpec{Label: label, ID: []byte(label), Algorithm: name})
		require.NoError(t, err, name)
		t.Cleanup(func() { _, _ = a.Delete(ctx, label, nil) })
		assert.Contains(t, a.Quirks(), hsm.QuirkPairsDecrypt)
		assert.ElementsMatch(t, []string{"CKA_DECRYPT", "CKA_ENCRYPT on the public key"}, a.Excess(k, name),
			"%s: the quirk's attributes, and nothing else, beyond what %s needs", name, name)
		assert.Contains(t, k.Algorithms, name)
		assert.True(t, k.Sensitive && !k.Extractable && k.AlwaysSensitive && k.NeverExtractable, name)
	}
}
