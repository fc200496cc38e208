package keyimport

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
)

func pkcs8(t *testing.T, k any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return der
}

func TestParse(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	tests := []struct {
		alg   string
		input []byte
		want  error // nil: accepted
		form  any   // the type returned
	}{
		{"ES256", pkcs8(t, p256), nil, &ecdsa.PrivateKey{}},
		{"ES384", pkcs8(t, p256), provider.ErrInvalidArgument, nil},
		{"ES256", pkcs8(t, ed), provider.ErrInvalidArgument, nil},
		{"EdDSA", pkcs8(t, ed), nil, ed25519.PrivateKey{}},
		{"EdDSA", pkcs8(t, p256), provider.ErrInvalidArgument, nil},
		{"ECDH-P256", pkcs8(t, p256), nil, &ecdh.PrivateKey{}},
		{"ECDH-P384", pkcs8(t, p384), nil, &ecdh.PrivateKey{}},
		{"ECDH-P384", pkcs8(t, p256), provider.ErrInvalidArgument, nil},
		{"X25519", pkcs8(t, x), nil, &ecdh.PrivateKey{}},
		{"X25519", pkcs8(t, ed), provider.ErrInvalidArgument, nil},
		{"ECDH-P256", pkcs8(t, x), provider.ErrInvalidArgument, nil},
		{"RS256", pkcs8(t, p256), provider.ErrInvalidArgument, nil},
		{"ES256", []byte("not DER"), provider.ErrInvalidArgument, nil},
		{"ES256", append(pkcs8(t, p256), 0), provider.ErrInvalidArgument, nil},
		{"HS256", pkcs8(t, p256), provider.ErrInvalidArgument, nil},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			k, err := Parse(provider.MustLookup(tt.alg), tt.input)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
				assert.Nil(t, k)
				assert.NotContains(t, err.Error(), string(tt.input[:min(len(tt.input), 8)]))
				return
			}
			require.NoError(t, err)
			assert.IsType(t, tt.form, k)
		})
	}
}

func TestRSABitsAndPrimes(t *testing.T) {
	key := func(bits, primes int) *rsa.PrivateKey {
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), uint(bits-1)), E: 65537}}
		for range primes {
			k.Primes = append(k.Primes, big.NewInt(3))
		}
		return k
	}
	rs := provider.MustLookup("RS256")
	for _, tc := range []struct {
		bits, primes int
		want         error
	}{
		{1024, 2, provider.ErrInvalidArgument},
		{2047, 2, provider.ErrInvalidArgument},
		{2048, 2, nil},
		{8192, 2, nil},
		{8193, 2, provider.ErrInvalidArgument},
		{2048, 3, provider.ErrInvalidArgument},
	} {
		_, err := Check(rs, key(tc.bits, tc.primes))
		if tc.want == nil {
			assert.NoError(t, err, "%d bits", tc.bits)
		} else {
			assert.ErrorIs(t, err, tc.want, "%d bits, %d primes", tc.bits, tc.primes)
		}
	}
}

func TestDiscard(t *testing.T) {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	Discard(ed)
	assert.Equal(t, make(ed25519.PrivateKey, len(ed)), ed)
	n := big.NewInt(12345)
	WipeInts(n, nil)
	for _, w := range n.Bits() {
		assert.Zero(t, w)
	}
	Discard(nil) // no panic
}
