package softfallback

import (
	"context"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
)

// These tests keep references to the backend's internal slices to see that
// Destroy (and Close, for EdDSA buffers) really zeroes them.

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func wordsZero(x *big.Int) bool {
	for _, w := range x.Bits() {
		if w != 0 {
			return false
		}
	}
	return true
}

func mustGenerate(t *testing.T, req provider.KeyRequest) provider.Key {
	t.Helper()
	k, err := New().GenerateKey(context.Background(), req)
	require.NoError(t, err)
	return k
}

func TestDestroyZeroes(t *testing.T) {
	ctx := context.Background()

	t.Run("HMAC key", func(t *testing.T) {
		k := mustGenerate(t, provider.KeyRequest{Algorithm: provider.MustLookup("HS512")}).(*macKey)
		raw := k.raw
		require.Len(t, raw, 64)
		require.False(t, allZero(raw))
		require.NoError(t, k.Destroy(ctx))
		require.True(t, allZero(raw))
		require.Nil(t, k.raw)
	})
	t.Run("HKDF PRK", func(t *testing.T) {
		k := mustGenerate(t, provider.KeyRequest{Algorithm: provider.MustLookup("HKDF"), Input: []byte("ikm"), Hash: provider.MustLookup("SHA-384")}).(*hkdfKey)
		prk := k.prk
		require.Len(t, prk, 48)
		require.False(t, allZero(prk))
		require.NoError(t, k.Destroy(ctx))
		require.True(t, allZero(prk))
	})
	t.Run("Ed25519 private key", func(t *testing.T) {
		k := mustGenerate(t, provider.KeyRequest{Algorithm: provider.MustLookup("EdDSA")}).(*signatureKey)
		priv := []byte(k.ed)
		require.Len(t, priv, 64)
		require.NoError(t, k.Destroy(ctx))
		require.True(t, allZero(priv))
		require.Nil(t, k.ed)
	})
	t.Run("ECDSA scalar", func(t *testing.T) {
		k := mustGenerate(t, provider.KeyRequest{Algorithm: provider.MustLookup("ES384")}).(*signatureKey)
		//lint:ignore SA1019 the test looks at the scalar that Destroy zeroes.
		d := k.ec.D
		require.False(t, wordsZero(d))
		require.NoError(t, k.Destroy(ctx))
		require.True(t, wordsZero(d))
		require.Nil(t, k.ec)
	})
	t.Run("RSA private values", func(t *testing.T) {
		var der []byte
		for _, v := range vectors.RSASigGen(t) {
			if v.Alg == "RS256" {
				der = v.PrivateKeyPKCS8
				break
			}
		}
		k := mustGenerate(t, provider.KeyRequest{Algorithm: provider.MustLookup("RS256"), Input: der}).(*signatureKey)
		priv := k.rsa
		require.False(t, wordsZero(priv.D))
		require.NoError(t, k.Destroy(ctx))
		require.Nil(t, k.rsa)
		for _, x := range append([]*big.Int{priv.D, priv.Precomputed.Dp, priv.Precomputed.Dq, priv.Precomputed.Qinv}, priv.Primes...) {
			require.True(t, wordsZero(x))
		}
	})
	t.Run("AES and ECDH keys are dropped", func(t *testing.T) {
		a := mustGenerate(t, provider.KeyRequest{Algorithm: provider.MustLookup("A128GCM")}).(*aeadKey)
		require.NoError(t, a.Destroy(ctx))
		require.Nil(t, a.gcm)
		x := mustGenerate(t, provider.KeyRequest{Algorithm: provider.MustLookup("X25519")}).(*agreementKey)
		require.NoError(t, x.Destroy(ctx))
		require.Nil(t, x.priv)
	})
	t.Run("EdDSA buffer", func(t *testing.T) {
		k := mustGenerate(t, provider.KeyRequest{Algorithm: provider.MustLookup("EdDSA")}).(*signatureKey)
		st, err := k.NewSignState(ctx, 1<<16)
		require.NoError(t, err)
		s := st.(*edState)
		require.NoError(t, s.Update(ctx, []byte("secret message")))
		first := whole(s.msg.Bytes())
		// Growing the buffer zeroes the old one.
		require.NoError(t, s.Update(ctx, make([]byte, 1000)))
		require.True(t, allZero(first))
		require.NoError(t, s.Update(ctx, []byte("more secret")))
		s.Reset()
		require.True(t, allZero(whole(s.msg.Bytes())))
		require.NoError(t, s.Update(ctx, []byte("last secret")))
		buf := whole(s.msg.Bytes())
		require.NoError(t, s.Close())
		require.True(t, allZero(buf))
	})
}

// whole returns b up to its capacity: all of the memory a buffer holds.
func whole(b []byte) []byte { return b[:cap(b)] }
