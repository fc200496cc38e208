//go:build cgo

package hsm

import (
	"context"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
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
