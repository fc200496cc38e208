package providertest

import (
	"bytes"
	"crypto/sha3"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
)

func (s *suite) testHash(t *testing.T) {
	t.Run("Vectors", s.testHashVectors)
	t.Run("XOF", s.testXOFLengths)
	t.Run("Errors", s.testHashErrors)
	t.Run("Limit", s.testHashLimit)
}

// hashes reports whether the backend serves a as a hash, and logs it when
// not.
func (s *suite) hashes(t testing.TB, a provider.Algorithm) bool {
	t.Helper()
	if s.b.Supports(a, provider.OpHash) != provider.Unsupported {
		return true
	}
	t.Logf("%s: not served by this backend; not tested here", a)
	return false
}

// newHash opens a hash state, closed when the test ends.
func (s *suite) newHash(t testing.TB, a provider.Algorithm) provider.Hash {
	t.Helper()
	h, err := s.b.NewHash(ctx, a)
	require.NoError(t, err, "%s", a)
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func digestOf(t testing.TB, h provider.Hash, n int) []byte {
	t.Helper()
	out := make([]byte, n)
	require.NoError(t, h.Digest(out))
	return out
}

// testHashVectors runs every hash and XOF known answer that the backend
// serves, checking that Digest gives prefixes, can be repeated, and leaves
// the state usable.
func (s *suite) testHashVectors(t *testing.T) {
	c := newTally(t)
	for _, v := range vectors.Hashes(t) {
		if s.b.Supports(alg(v.Alg), provider.OpHash) == provider.Unsupported {
			c.add("%s: not served (refusal checked in Errors)", v.Alg)
			continue
		}
		a := alg(v.Alg)
		n := len(v.Digest)
		if a.Kind == provider.KindHash {
			require.Equal(t, a.OutputSize, n, v.Source)
		}

		h := s.newHash(t, a)
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
		h2 := s.newHash(t, a)
		half := len(v.Msg) / 2
		require.NoError(t, h2.Update(v.Msg[:half]))
		_ = digestOf(t, h2, 1)
		require.NoError(t, h2.Update(v.Msg[half:]))
		require.Equal(t, v.Digest, digestOf(t, h2, n), "%s: split update", v.Source)

		// Update after Digest continues the same message.
		extra := []byte("more")
		require.NoError(t, h.Update(extra))
		require.Equal(t, hostSum(a, append(bytes.Clone(v.Msg), extra...), n), digestOf(t, h, n), "%s: update after digest", v.Source)
		for _, h := range []provider.Hash{h, h2} {
			require.NoError(t, h.Close())
		}
		c.add("%s: digest, prefixes, split and continued updates match", v.Alg)
	}
}

// hostSum is the standard library's n-byte digest of msg with a.
func hostSum(a provider.Algorithm, msg []byte, n int) []byte {
	switch a.Name {
	case "SHAKE128":
		return sha3.SumSHAKE128(msg, n)
	case "SHAKE256":
		return sha3.SumSHAKE256(msg, n)
	}
	return hostDigest(a.Name, msg)[:n]
}

// testXOFLengths checks SHAKE outputs of 1 to 200 bytes: each is a prefix
// of the longer ones and matches the standard library.
func (s *suite) testXOFLengths(t *testing.T) {
	for _, tc := range []struct {
		name string
		ref  func([]byte, int) []byte
	}{{"SHAKE128", sha3.SumSHAKE128}, {"SHAKE256", sha3.SumSHAKE256}} {
		if !s.hashes(t, alg(tc.name)) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			msg := []byte("wasihsm")
			h := s.newHash(t, alg(tc.name))
			require.NoError(t, h.Update(msg))
			full := digestOf(t, h, 200)
			require.Equal(t, tc.ref(msg, 200), full)
			for n := 1; n <= 200; n++ {
				require.Equal(t, full[:n], digestOf(t, h, n), "length %d", n)
			}
			// Absorbing after reading continues the message.
			require.NoError(t, h.Update(msg))
			require.Equal(t, tc.ref(append(bytes.Clone(msg), msg...), 300), digestOf(t, h, 300))
		})
	}
}

func (s *suite) testHashErrors(t *testing.T) {
	type refusal struct {
		name string
		alg  provider.Algorithm
		want error
	}
	refusals := []refusal{
		{"key algorithm", alg("A128GCM"), provider.ErrNotSupported},
		{"MAC", alg("HS256"), provider.ErrNotSupported},
		{"HKDF", alg("HKDF"), provider.ErrNotSupported},
		{"zero algorithm", provider.Algorithm{}, provider.ErrNotSupported},
		{"unregistered name", provider.Algorithm{Name: "MD5", Kind: provider.KindHash, OutputSize: 16}, provider.ErrNotSupported},
		{"forged registry entry", provider.Algorithm{Name: "SHA-256", Kind: provider.KindHash, OutputSize: 16}, provider.ErrNotSupported},
	}
	// A hash that Supports reports unsupported is refused as such.
	for _, a := range provider.Algorithms() {
		if !a.Kind.Keyed() && s.b.Supports(a, provider.OpHash) == provider.Unsupported {
			refusals = append(refusals, refusal{"unsupported " + a.Name, a, provider.ErrNotSupported})
		}
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			h, err := s.b.NewHash(ctx, tc.alg)
			require.Nil(t, h)
			s.refused(t, err, tc.want, nil)
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
		{"longer than SHA-384", "SHA-384", 49, provider.ErrInvalidArgument},
		{"empty XOF output", "SHAKE128", 0, provider.ErrInvalidArgument},
		{"full SHA-512", "SHA-512", 64, nil},
		{"one byte of SHA-224", "SHA-224", 1, nil},
		{"long XOF output", "SHAKE256", 4096, nil},
	} {
		if !s.hashes(t, alg(tc.alg)) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			err := s.newHash(t, alg(tc.alg)).Digest(make([]byte, tc.out))
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			s.refused(t, err, tc.want, nil)
		})
	}

	t.Run("closed", func(t *testing.T) {
		for _, name := range []string{"SHA-256", "SHA-384", "SHAKE128"} {
			if !s.hashes(t, alg(name)) {
				continue
			}
			h := s.newHash(t, alg(name))
			require.NoError(t, h.Update([]byte("data")))
			require.NoError(t, h.Close())
			require.ErrorIs(t, h.Update([]byte("x")), provider.ErrInvalidArgument, name)
			require.ErrorIs(t, h.Digest(make([]byte, 1)), provider.ErrInvalidArgument, name)
		}
	})
}

// testHashLimit: a hash state that buffers holds at most HashBuffer bytes;
// an Update that would exceed it fails with ErrMessageTooLarge and absorbs
// nothing of that call.
func (s *suite) testHashLimit(t *testing.T) {
	limit := s.opts.HashBuffer
	if limit == 0 {
		t.Log("hash states do not buffer: no limit to check")
		return
	}
	require.GreaterOrEqual(t, limit, 1_000_000, "Options.HashBuffer below the longest hash vector")
	// The limit is the state's, not the algorithm's: one hash shows it.
	for _, name := range []string{"SHA-256", "SHA-512", "SHA3-256"} {
		a := alg(name)
		if !s.hashes(t, a) {
			continue
		}
		data := fill(limit, 3)
		h := s.newHash(t, a)
		absorbed := 0
		for _, tc := range []struct {
			name string
			n    int
			want error
		}{
			{"within the limit", limit - 10, nil},
			{"one past the limit", 11, provider.ErrMessageTooLarge},
			{"exactly to the limit", 10, nil},
			{"one more byte", 1, provider.ErrMessageTooLarge},
			{"empty update at the limit", 0, nil},
		} {
			p := make([]byte, tc.n)
			if absorbed+tc.n <= limit {
				p = data[absorbed : absorbed+tc.n]
			}
			err := h.Update(p)
			if tc.want == nil {
				require.NoError(t, err, tc.name)
				absorbed += tc.n
			} else {
				s.refused(t, err, tc.want, nil)
			}
			require.Equal(t, hostDigest(name, data[:absorbed]), digestOf(t, h, a.OutputSize), "%s %s: digest of what was absorbed", name, tc.name)
		}
		return
	}
	t.Fatal("Options.HashBuffer is set, but the backend serves none of SHA-256, SHA-512, SHA3-256")
}
