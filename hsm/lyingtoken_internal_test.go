//go:build cgo

package hsm

import (
	"context"
	"errors"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
)

// lie makes the backend believe the token lists mechanism m with flags,
// as a token whose C_GetMechanismList and C_GetMechanismInfo claim more
// than its C_*Init functions deliver would, and works the support table
// out again from it.
func lie(b *Backend, m, flags uint) {
	b.caps.mechs[m] = pkcs11.MechanismInfo{Flags: flags}
	for _, alg := range provider.Algorithms() {
		for _, op := range allOperations {
			b.caps.support[capKey{alg.Name, op}] = b.caps.evaluate(alg, op)
		}
	}
}

// TestLyingToken: SoftHSM2 has no SHA3 digests; a token that lists
// CKM_SHA3_256 anyway gets SHA3-256 routed to it, and the digest then
// fails with CKR_MECHANISM_INVALID. The caller gets ErrNotSupported (the
// guest: notsup), the error names the CKR code, the pooled session goes
// back to the pool (the token's open sessions do not grow), and the
// backend goes on serving everything else. The router does not send the
// failed call to the fallback: where an algorithm runs is decided from
// the mechanism list, once, as for keys.
func TestLyingToken(t *testing.T) {
	fx := softhsmtest.Token(t)
	b, err := Open(context.Background(), Config{Module: fx.Module, Token: TokenSelector{Label: fx.Label},
		PIN: func() ([]byte, error) { return []byte(fx.PIN), nil }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)
	sha3 := provider.MustLookup("SHA3-256")
	require.Equal(t, provider.Unsupported, b.Supports(sha3, provider.OpHash), "the honest token has no SHA3-256")

	lie(b, pkcs11.CKM_SHA3_256, pkcs11.CKF_DIGEST)
	require.Equal(t, provider.Native, b.Supports(sha3, provider.OpHash), "the lie is believed")
	router, err := provider.NewRouter(provider.RouterConfig{Primary: b, Fallback: softwareHashes{}, Policy: provider.FallbackAllow})
	require.NoError(t, err)

	// One good digest first, so that the pool has its first session.
	digest := func(alg provider.Algorithm) ([]byte, error) {
		h, err := router.NewHash(context.Background(), alg)
		require.NoError(t, err, "the hash opens: the token buffers until the digest")
		defer h.Close()
		require.NoError(t, h.Update([]byte("abc")))
		sum := make([]byte, 32)
		return sum, h.Digest(sum)
	}
	_, err = digest(provider.MustLookup("SHA-256"))
	require.NoError(t, err)
	sessions := openSessions(in)
	for range 3 * DefaultMaxSessions { // more than the pool: a leaked session would show
		_, err := digest(sha3)
		require.ErrorIs(t, err, provider.ErrNotSupported)
		assert.Contains(t, err.Error(), "CKR_MECHANISM_INVALID")
	}
	assert.Equal(t, sessions, openSessions(in), "no session leaked by the failed digests")

	// Everything else still works.
	sum, err := digest(provider.MustLookup("SHA-256"))
	require.NoError(t, err)
	assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hexString(sum))
	k, err := b.GenerateKey(context.Background(), provider.KeyRequest{Algorithm: provider.MustLookup("ES256")})
	require.NoError(t, err)
	require.NoError(t, k.Destroy(context.Background()))
}

// softwareHashes is a fallback that must not be reached.
type softwareHashes struct{ provider.Backend }

func (softwareHashes) Name() string { return "software" }
func (softwareHashes) Supports(provider.Algorithm, provider.Operation) provider.Support {
	return provider.Software
}
func (softwareHashes) NewHash(context.Context, provider.Algorithm) (provider.Hash, error) {
	return nil, errors.New("the fallback was reached")
}

// openSessions counts the process's open sessions on the token (SoftHSM2
// reports no ulSessionCount, but answers C_GetSessionInfo for any open
// session handle of the process).
func openSessions(in *softhsmtest.Inspector) int {
	n := 0
	for h := pkcs11.SessionHandle(1); h <= 1<<14; h++ {
		if _, err := in.Ctx().GetSessionInfo(h); err == nil {
			n++
		}
	}
	return n
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
