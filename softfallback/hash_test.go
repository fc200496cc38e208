package softfallback_test

import (
	"bytes"
	"crypto/sha3"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

func newHash(t testing.TB, name string) provider.Hash {
	t.Helper()
	h, err := softfallback.New().NewHash(ctx, alg(name))
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func digestOf(t testing.TB, h provider.Hash, n int) []byte {
	t.Helper()
	out := make([]byte, n)
	require.NoError(t, h.Digest(out))
	return out
}

// TestHashVectors runs every hash and XOF known answer, checking that
// Digest gives prefixes, can be repeated, and leaves the state usable.
func TestHashVectors(t *testing.T) {
	c := newTally(t)
	for _, v := range vectors.Hashes(t) {
		a := alg(v.Alg)
		n := len(v.Digest)
		if a.Kind == provider.KindHash {
			require.Equal(t, a.OutputSize, n, v.Source)
		}

		h := newHash(t, v.Alg)
		require.Equal(t, a, h.Algorithm())
		require.NoError(t, h.Update(v.Msg))
		require.Equal(t, hex.EncodeToString(v.Digest), hex.EncodeToString(digestOf(t, h, n)), v.Source)
		// Prefixes, and the full digest again: Digest disturbs nothing.
		for _, p := range []int{1, n / 2, n - 1, n} {
			if p >= 1 {
				require.Equal(t, v.Digest[:p], digestOf(t, h, p), "%s: prefix %d", v.Source, p)
			}
		}

		// Absorbed in two parts, with a Digest in between.
		h2 := newHash(t, v.Alg)
		half := len(v.Msg) / 2
		require.NoError(t, h2.Update(v.Msg[:half]))
		_ = digestOf(t, h2, 1)
		require.NoError(t, h2.Update(v.Msg[half:]))
		require.Equal(t, v.Digest, digestOf(t, h2, n), "%s: split update", v.Source)

		// Update after Digest continues the same message.
		extra := []byte("more")
		require.NoError(t, h.Update(extra))
		h3 := newHash(t, v.Alg)
		require.NoError(t, h3.Update(append(bytes.Clone(v.Msg), extra...)))
		require.Equal(t, digestOf(t, h3, n), digestOf(t, h, n), "%s: update after digest", v.Source)
		c.add("%s passed", v.Alg)
	}
}

// TestXOFLengths checks SHAKE outputs of 1 to 200 bytes: each is a prefix
// of the longer ones and matches the standard library.
func TestXOFLengths(t *testing.T) {
	msg := []byte("wasihsm")
	for name, ref := range map[string]func([]byte, int) []byte{
		"SHAKE128": sha3.SumSHAKE128,
		"SHAKE256": sha3.SumSHAKE256,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHash(t, name)
			require.NoError(t, h.Update(msg))
			full := digestOf(t, h, 200)
			require.Equal(t, ref(msg, 200), full)
			for n := 1; n <= 200; n++ {
				require.Equal(t, full[:n], digestOf(t, h, n), "length %d", n)
			}
			// Absorbing after reading continues the message.
			require.NoError(t, h.Update(msg))
			require.Equal(t, ref(append(bytes.Clone(msg), msg...), 300), digestOf(t, h, 300))
		})
	}
}

func TestHashErrors(t *testing.T) {
	b := softfallback.New()
	for _, tc := range []struct {
		name string
		alg  provider.Algorithm
		want error
	}{
		{"key algorithm", alg("A128GCM"), provider.ErrNotSupported},
		{"MAC", alg("HS256"), provider.ErrNotSupported},
		{"HKDF", alg("HKDF"), provider.ErrNotSupported},
		{"zero algorithm", provider.Algorithm{}, provider.ErrNotSupported},
		{"unregistered name", provider.Algorithm{Name: "MD5", Kind: provider.KindHash, OutputSize: 16}, provider.ErrNotSupported},
		{"forged registry entry", provider.Algorithm{Name: "SHA-256", Kind: provider.KindHash, OutputSize: 16}, provider.ErrNotSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.NewHash(ctx, tc.alg)
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), "softfallback: ")
		})
	}

	for _, tc := range []struct {
		name string
		alg  string
		out  int
		want error
	}{
		{"empty digest", "SHA-256", 0, provider.ErrInvalidArgument},
		{"longer than SHA-256", "SHA-256", 33, provider.ErrInvalidArgument},
		{"longer than SHA3-224", "SHA3-224", 29, provider.ErrInvalidArgument},
		{"longer than SHA-1", "SHA-1", 21, provider.ErrInvalidArgument},
		{"empty XOF output", "SHAKE128", 0, provider.ErrInvalidArgument},
		{"full SHA-512", "SHA-512", 64, nil},
		{"long XOF output", "SHAKE256", 4096, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newHash(t, tc.alg).Digest(make([]byte, tc.out))
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}

	t.Run("closed", func(t *testing.T) {
		for _, name := range []string{"SHA-256", "SHAKE128"} {
			h := newHash(t, name)
			require.NoError(t, h.Close())
			require.ErrorIs(t, h.Update([]byte("x")), provider.ErrInvalidArgument)
			require.ErrorIs(t, h.Digest(make([]byte, 1)), provider.ErrInvalidArgument)
		}
	})
}

// TestHashAllocs checks that the hot path, Update and Digest, does not
// allocate.
func TestHashAllocs(t *testing.T) {
	data := make([]byte, 1000)
	out := make([]byte, 32)
	for _, tc := range []struct {
		alg string
		n   int
	}{{"SHA-256", 32}, {"SHA-1", 20}, {"SHA3-256", 32}, {"SHA-512", 32}, {"SHAKE128", 32}, {"SHAKE256", 32}} {
		h := newHash(t, tc.alg)
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = h.Update(data) }), "%s Update", tc.alg)
		_ = h.Digest(out[:tc.n]) // the first call may size the scratch buffer
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = h.Digest(out[:tc.n]) }), "%s Digest", tc.alg)
	}
	h := newHash(t, "SHAKE256")
	long := make([]byte, 1000)
	_ = h.Digest(long)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = h.Digest(long) }), "SHAKE256 Digest of 1000 bytes")
}
