package softfallback_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

// TestHashAllocs checks that the hot path, Update and Digest, does not
// allocate.
func TestHashAllocs(t *testing.T) {
	newHash := func(name string) provider.Hash {
		h, err := softfallback.New().NewHash(context.Background(), provider.MustLookup(name))
		require.NoError(t, err)
		t.Cleanup(func() { _ = h.Close() })
		return h
	}
	data := make([]byte, 1000)
	out := make([]byte, 32)
	for _, tc := range []struct {
		alg string
		n   int
	}{{"SHA-256", 32}, {"SHA-1", 20}, {"SHA3-256", 32}, {"SHA-512", 32}, {"SHAKE128", 32}, {"SHAKE256", 32}} {
		h := newHash(tc.alg)
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = h.Update(data) }), "%s Update", tc.alg)
		_ = h.Digest(out[:tc.n]) // the first call may size the scratch buffer
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = h.Digest(out[:tc.n]) }), "%s Digest", tc.alg)
	}
	h := newHash("SHAKE256")
	long := make([]byte, 1000)
	_ = h.Digest(long)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = h.Digest(long) }), "SHAKE256 Digest of 1000 bytes")
}
