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
// CKM_SHA3_256 anyway is caught by the probe, before anything is routed
// to it: its digest answers CKR_MECHANISM_INVALID, so Supports answers
// Unsupported, the router sends SHA3-256 to the fallback, and the probe's
// refusal names the CKR code. The probe's session goes back to the pool
// (the token's open sessions do not grow), and the backend goes on
// serving everything else.
func TestLyingToken(t *testing.T) {
	fx := softhsmtest.Token(t)
	b, err := Open(context.Background(), Config{Module: fx.Module, Token: TokenSelector{Label: fx.Label},
		PIN: func() ([]byte, error) { return []byte(fx.PIN), nil }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)
	sha3 := provider.MustLookup("SHA3-256")
	require.Equal(t, provider.Unsupported, b.Supports(sha3, provider.OpHash), "the honest token has no SHA3-256")

	// One good digest first, so that the pool has its first session.
	sha256 := provider.MustLookup("SHA-256")
	digest := func(p provider.Provider, alg provider.Algorithm) ([]byte, error) {
		h, err := p.NewHash(context.Background(), alg)
		if err != nil {
			return nil, err
		}
		defer h.Close()
		require.NoError(t, h.Update([]byte("abc")))
		sum := make([]byte, 32)
		return sum, h.Digest(sum)
	}
	router, err := provider.NewRouter(provider.RouterConfig{Primary: b, Fallback: softwareHashes{}, Policy: provider.FallbackAllow})
	require.NoError(t, err)
	_, err = digest(router, sha256)
	require.NoError(t, err)
	sessions := openSessions(in)

	lie(b, pkcs11.CKM_SHA3_256, pkcs11.CKF_DIGEST)
	require.Equal(t, provider.Native, b.token.Supports(sha3, provider.OpHash), "the list now has it")
	require.Equal(t, provider.Unsupported, b.Supports(sha3, provider.OpHash), "the probe caught the lie")
	p := b.probes[sha3.Name].res.Load()
	require.NotNil(t, p)
	require.Len(t, p.probe.Refusals, 1)
	assert.Equal(t, "CKR_MECHANISM_INVALID", p.probe.Refusals[0].CKR)
	_, err = digest(router, sha3)
	require.ErrorContains(t, err, "the fallback was reached", "SHA3-256 goes to the fallback")
	_, err = b.NewHash(context.Background(), sha3)
	require.ErrorIs(t, err, provider.ErrNotSupported)
	assert.Equal(t, sessions, openSessions(in), "no session leaked by the probe")

	// Everything else still works.
	sum, err := digest(router, sha256)
	require.NoError(t, err)
	assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hexString(sum))
	k, err := b.GenerateKey(context.Background(), provider.KeyRequest{Algorithm: provider.MustLookup("ES256")})
	require.NoError(t, err)
	require.NoError(t, k.Destroy(context.Background()))
}

// softwareHashes is a fallback that says when it is reached.
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
