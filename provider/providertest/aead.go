package providertest

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
)

var gcmNames = map[int]string{128: "A128GCM", 192: "A192GCM", 256: "A256GCM"}

// testAESGCMVectors: 96-bit IV cases seal and open as expected; other IV
// sizes are excluded by the contract's rule (nonce exactly 12 bytes), and
// both Seal and Open must refuse them.
func (s *suite) testAESGCMVectors(t *testing.T) {
	c := newTally(t)
	served := map[string]bool{}
	for _, name := range gcmNames {
		served[name] = s.serves(t, alg(name), provider.OpImport)
	}
	for _, v := range vectors.AESGCM(t) {
		require.Equal(t, 128, v.TagBits)
		name := gcmNames[v.KeyBits]
		if !served[name] {
			c.add("aes_gcm: %s not served", name)
			continue
		}
		k := s.newKey(t, provider.KeyRequest{Algorithm: alg(name), Input: v.Key}).(provider.AEADKey)
		ct := append(bytes.Clone(v.CT), v.Tag...)
		if v.IVBits != 96 {
			_, err := k.Seal(ctx, nil, v.IV, v.Msg, v.AAD)
			require.ErrorIs(t, err, provider.ErrInvalidArgument, v.String())
			_, err = k.Open(ctx, nil, v.IV, ct, v.AAD)
			require.ErrorIs(t, err, provider.ErrInvalidArgument, v.String())
			c.add("aes_gcm: %s: excluded by rule: IV not 12 bytes (inval asserted)", v.Result)
			destroy(t, k)
			continue
		}
		sealed, err := k.Seal(ctx, []byte("p"), v.IV, v.Msg, v.AAD)
		require.NoError(t, err)
		opened, err := k.Open(ctx, []byte("prefix"), v.IV, ct, v.AAD)
		switch v.Result {
		case vectors.Valid:
			require.Equal(t, append([]byte("p"), ct...), sealed, v.String())
			require.NoError(t, err, v.String())
			require.Equal(t, append([]byte("prefix"), v.Msg...), opened, v.String())
			c.add("aes_gcm: valid: seal and open match")
		case vectors.Invalid:
			require.ErrorIs(t, err, provider.ErrAuthentication, v.String())
			require.Equal(t, []byte("prefix"), opened, "nothing appended: %s", v)
			require.NotEqual(t, append([]byte("p"), ct...), sealed, v.String())
			c.add("aes_gcm: invalid: open fails with badmsg")
		}
		destroy(t, k)
	}
}

// testAEAD: nonces other than 12 bytes are refused; every failed
// authentication is one opaque ErrAuthentication that appends nothing;
// the empty message works; outputs may overlap inputs exactly or not at
// all, and shifted overlaps give the same result as separate buffers.
func (s *suite) testAEAD(t *testing.T) {
	for _, name := range []string{"A128GCM", "A192GCM", "A256GCM"} {
		a := alg(name)
		if !s.serves(t, a, provider.OpImport) {
			continue
		}
		t.Run(name, func(t *testing.T) { s.checkAEAD(t, a) })
	}
}

func (s *suite) checkAEAD(t *testing.T, a provider.Algorithm) {
	k := s.newKey(t, provider.KeyRequest{Algorithm: a, Input: bytes.Repeat([]byte{1}, a.KeySize)}).(provider.AEADKey)
	nonce := bytes.Repeat([]byte{2}, 12)
	msg := []byte("the plaintext of some length")
	aad := []byte("header")
	ref, err := k.Seal(ctx, nil, nonce, msg, aad)
	require.NoError(t, err)
	require.Len(t, ref, len(msg)+a.TagSize)

	for _, tc := range []struct {
		name  string
		nonce []byte
		open  []byte
		want  error
	}{
		{"nonce of 11 bytes", nonce[:11], ref, provider.ErrInvalidArgument},
		{"nonce of 13 bytes", append(bytes.Clone(nonce), 0), ref, provider.ErrInvalidArgument},
		{"nonce of 16 bytes", make([]byte, 16), ref, provider.ErrInvalidArgument},
		{"empty nonce", []byte{}, ref, provider.ErrInvalidArgument},
		{"ciphertext shorter than a tag", nonce, ref[:15], provider.ErrAuthentication},
		{"empty ciphertext", nonce, []byte{}, provider.ErrAuthentication},
		{"nil ciphertext", nonce, nil, provider.ErrAuthentication},
		{"tag truncated by a byte", nonce, ref[:len(ref)-1], provider.ErrAuthentication},
		{"tag modified", nonce, flip(ref, len(ref)-1), provider.ErrAuthentication},
		{"ciphertext modified", nonce, flip(ref, 0), provider.ErrAuthentication},
		{"other nonce", bytes.Repeat([]byte{3}, 12), ref, provider.ErrAuthentication},
		{"tag only of an empty message", nonce, ref[len(msg):], provider.ErrAuthentication},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := k.Open(ctx, []byte("keep"), tc.nonce, tc.open, aad)
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, []byte("keep"), out, "nothing appended")
			if tc.want == provider.ErrAuthentication {
				require.Equal(t, s.opts.ErrorPrefix+a.Name+": open: authentication failed", err.Error(), "opaque")
			} else {
				s.refused(t, err, tc.want, nil)
				_, err := k.Seal(ctx, nil, tc.nonce, msg, aad)
				s.refused(t, err, provider.ErrInvalidArgument, nil)
			}
		})
	}

	t.Run("empty message", func(t *testing.T) {
		ct, err := k.Seal(ctx, nil, nonce, nil, nil)
		require.NoError(t, err)
		require.Len(t, ct, a.TagSize)
		pt, err := k.Open(ctx, nil, nonce, ct, nil)
		require.NoError(t, err)
		require.Empty(t, pt)
	})
	t.Run("in place", func(t *testing.T) {
		buf := make([]byte, len(msg), len(msg)+a.TagSize)
		copy(buf, msg)
		ct, err := k.Seal(ctx, buf[:0], nonce, buf, aad)
		require.NoError(t, err)
		require.Equal(t, ref, ct)
		pt, err := k.Open(ctx, ct[:0], nonce, ct, aad)
		require.NoError(t, err)
		require.Equal(t, msg, pt)
	})
	t.Run("shifted overlap", func(t *testing.T) {
		// Output one byte after the input start, and one byte before:
		// cipher.AEAD would panic; the result must be as with separate
		// buffers.
		for _, shift := range []int{1, -1} {
			buf := make([]byte, len(msg)+64)
			in, outAt := 8, 8+shift
			copy(buf[in:], msg)
			ct, err := k.Seal(ctx, buf[outAt:outAt], nonce, buf[in:in+len(msg)], aad)
			require.NoError(t, err)
			require.Equal(t, ref, ct, "seal, shift %d", shift)
			copy(buf[in:], ref)
			pt, err := k.Open(ctx, buf[outAt:outAt], nonce, buf[in:in+len(ref)], aad)
			require.NoError(t, err)
			require.Equal(t, msg, pt, "open, shift %d", shift)
		}
		// Additional data inside the output region.
		buf := make([]byte, 128)
		copy(buf[4:], aad)
		ct, err := k.Seal(ctx, buf[:0], nonce, msg, buf[4:4+len(aad)])
		require.NoError(t, err)
		require.Equal(t, ref, ct)
	})
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}
