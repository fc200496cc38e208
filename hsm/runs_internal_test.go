//go:build cgo

package hsm

import (
	"context"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/tokentest"
	"github.com/wasihsm/wasihsm/provider"
)

// hide makes c believe that the token does not list mechanism m, as a
// token without it (tpm2-pkcs11 1.9.0 has no CKM_ECDH1_DERIVE), and works
// the support table out again.
func hide(c *capabilities, m uint) {
	delete(c.mechs, m)
	for _, alg := range provider.Algorithms() {
		for _, op := range allOperations {
			c.support[capKey{alg.Name, op}] = c.evaluate(alg, op)
		}
	}
}

// TestKeysOfferWhatTheTokenRuns: a P-256 key that may derive offers
// ECDH-P256 only on a token that can derive with it; there, Fits and
// Create refuse ECDH-P256 with notsup and name the operation, while the
// signing algorithms go on.
func TestKeysOfferWhatTheTokenRuns(t *testing.T) {
	ctx := context.Background()
	fx := softhsmtest.Token(t)
	a, err := OpenAdmin(ctx, Config{Module: fx.Module, Token: TokenSelector{Label: fx.Label},
		PIN: func() ([]byte, error) { return []byte(fx.PIN), nil }}, AdminOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	require.NoError(t, a.Login(ctx))

	ecdh, err := a.Create(ctx, KeySpec{Label: "runs-ecdh", ID: []byte{0xec, 0xd1}, Algorithm: "ECDH-P256"})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = a.Delete(ctx, "runs-ecdh", nil) })
	require.Equal(t, []string{"ECDH-P256"}, ecdh.Algorithms, "SoftHSM2 derives with it")
	es, err := a.Create(ctx, KeySpec{Label: "runs-es", ID: []byte{0xec, 0xd2}, Algorithm: "ES256"})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = a.Delete(ctx, "runs-es", nil) })
	require.Equal(t, []string{"ES256"}, es.Algorithms)

	hide(a.caps, pkcs11.CKM_ECDH1_DERIVE)
	found, err := a.Find(ctx, "runs-ecdh", nil)
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Empty(t, found[0].Algorithms, "no ECDH-P256 on a token without CKM_ECDH1_DERIVE")
	err = a.Fits(ctx, found[0], "ECDH-P256")
	require.ErrorIs(t, err, provider.ErrNotSupported)
	require.Contains(t, err.Error(), "cannot derive")
	_, err = a.Create(ctx, KeySpec{Label: "runs-ecdh2", ID: []byte{0xec, 0xd3}, Algorithm: "ECDH-P256"})
	require.ErrorIs(t, err, provider.ErrNotSupported)
	left, err := a.Find(ctx, "runs-ecdh2", nil)
	require.NoError(t, err)
	require.Empty(t, left, "nothing was made")

	found, err = a.Find(ctx, "runs-es", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"ES256"}, found[0].Algorithms)
	require.NoError(t, a.Fits(ctx, found[0], "ES256"))
}

// TestNewKeyNeedsItsPublicKey: tpm2-pkcs11 1.9.0 stores a malformed
// CKA_EC_POINT for the P-521 keys it generates. A new managed ES512 key
// with such a public key fails Create, saying why, and is removed; a key
// of ES256 from the same token passes. (Admin.Create's own templates are
// refused by this token for other reasons, so the pairs are made here with
// the attributes it takes, as an operator's tool would.)
func TestNewKeyNeedsItsPublicKey(t *testing.T) {
	ctx := context.Background()
	tok := tokentest.TPM2(t)
	a, err := OpenAdmin(ctx, Config{Module: tok.Module, InitArgs: tok.InitArgs, Token: TokenSelector{Label: tok.Label},
		PIN: func() ([]byte, error) { return []byte(tok.PIN), nil }}, AdminOptions{})
	require.NoError(t, err, "%s", tok.Version)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	require.NoError(t, a.Login(ctx))
	require.NoError(t, a.begin(ctx))
	defer a.end()

	for _, tc := range []struct {
		alg    string
		params []byte
		want   error
	}{
		{"ES512", []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}, provider.ErrNotSupported}, // secp521r1
		{"ES256", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, nil},    // prime256v1
	} {
		t.Run(tc.alg, func(t *testing.T) {
			label, id := "calls-"+tc.alg, []byte(tc.alg)
			pub, priv, err := a.p.GenerateKeyPair(a.s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
				[]*pkcs11.Attribute{
					pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
					pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, tc.params),
					pkcs11.NewAttribute(pkcs11.CKA_LABEL, label), pkcs11.NewAttribute(pkcs11.CKA_ID, id),
				},
				[]*pkcs11.Attribute{
					pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
					pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
					pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
					pkcs11.NewAttribute(pkcs11.CKA_LABEL, label), pkcs11.NewAttribute(pkcs11.CKA_ID, id),
				})
			require.NoError(t, err, "the token makes the %s pair", tc.alg)
			err = a.requirePublic(provider.MustLookup(tc.alg), priv, pub)
			left, ferr := a.findObjects(a.s, selector(anyClass, label, nil), 0)
			require.NoError(t, ferr)
			if tc.want == nil {
				require.NoError(t, err)
				require.Len(t, left, 2, "the good pair stays")
				require.NoError(t, destroyObjects(a.p, a.s, priv, pub))
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.Contains(t, err.Error(), "public key cannot be read, and the key was removed")
			var unusable *UnusableKeyError
			require.ErrorAs(t, err, &unusable, "what the token stored, not a failed call")
			require.Contains(t, unusable.Problem, "P-521 public key is malformed")
			require.Empty(t, left, "the half-made key was removed, both halves")
		})
	}
}

// TestTPM2KeysOfferNoECDH: tpm2-pkcs11 has no CKM_ECDH1_DERIVE; a P-256
// key on it that may derive offers ES256 only, and Fits refuses it for
// ECDH-P256 with notsup.
func TestTPM2KeysOfferNoECDH(t *testing.T) {
	ctx := context.Background()
	tok := tokentest.TPM2(t)
	a, err := OpenAdmin(ctx, Config{Module: tok.Module, InitArgs: tok.InitArgs, Token: TokenSelector{Label: tok.Label},
		PIN: func() ([]byte, error) { return []byte(tok.PIN), nil }}, AdminOptions{})
	require.NoError(t, err, "%s", tok.Version)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	require.NoError(t, a.Login(ctx))
	_, listed := a.caps.mechanism(pkcs11.CKM_ECDH1_DERIVE)
	require.False(t, listed, "the token lists no CKM_ECDH1_DERIVE")

	label, id := "calls-p256-derive", []byte{0xd2}
	require.NoError(t, a.begin(ctx))
	_, _, err = a.p.GenerateKeyPair(a.s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
		[]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label), pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		},
		[]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
			pkcs11.NewAttribute(pkcs11.CKA_DERIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label), pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		})
	a.end()
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = a.Delete(ctx, label, nil) })

	found, err := a.Find(ctx, label, nil)
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Contains(t, found[0].Grants, "CKA_DERIVE", "the key may derive")
	require.Equal(t, []string{"ES256"}, found[0].Algorithms, "no ECDH-P256 on a token without CKM_ECDH1_DERIVE")
	err = a.Fits(ctx, found[0], "ECDH-P256")
	require.ErrorIs(t, err, provider.ErrNotSupported)
}
