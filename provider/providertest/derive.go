package providertest

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
)

func (s *suite) testHKDF(t *testing.T) {
	a := alg("HKDF")
	if !s.serves(t, a, provider.OpImport) {
		return
	}
	t.Run("Vectors", s.testHKDFVectors)
	t.Run("Bounds", s.testHKDFBounds)
}

// testHKDFVectors imports the IKM with the salt and hash, then expands.
// Invalid cases ask for more than 255 hash lengths.
func (s *suite) testHKDFVectors(t *testing.T) {
	c := newTally(t)
	for _, v := range vectors.HKDF(t) {
		k := s.newKey(t, provider.KeyRequest{Algorithm: alg("HKDF"), Input: v.IKM, Nonce: v.Salt, Hash: alg(v.Hash)})
		hk, ok := k.(provider.HKDFKey)
		require.True(t, ok)
		require.Equal(t, alg(v.Hash), hk.Hash())
		out := make([]byte, v.Size)
		err := hk.Expand(ctx, v.Info, out)
		switch v.Result {
		case vectors.Valid:
			require.NoError(t, err, v.String())
			require.Equal(t, v.OKM, out, v.String())
			c.add("%s: valid: output matches", v.File)
		case vectors.Invalid:
			require.ErrorIs(t, err, provider.ErrInvalidArgument, v.String())
			c.add("%s: invalid: inval", v.File)
		}
		destroy(t, k)
	}
}

// testHKDFBounds: Expand gives 1 to 255 hash lengths of output, no more
// and no less.
func (s *suite) testHKDFBounds(t *testing.T) {
	for _, h := range []string{"SHA-256", "SHA-384", "SHA-512"} {
		k := s.newKey(t, provider.KeyRequest{Algorithm: alg("HKDF"), Input: []byte("ikm"), Hash: alg(h)}).(provider.HKDFKey)
		limit := 255 * alg(h).OutputSize
		for _, tc := range []struct {
			n    int
			want error
		}{{0, provider.ErrInvalidArgument}, {1, nil}, {limit, nil}, {limit + 1, provider.ErrInvalidArgument}} {
			err := k.Expand(ctx, nil, make([]byte, tc.n))
			if tc.want == nil {
				require.NoError(t, err, "%s %d", h, tc.n)
			} else {
				require.ErrorIs(t, err, tc.want, "%s %d", h, tc.n)
			}
		}
		destroy(t, k)
	}
}

func (s *suite) testECDH(t *testing.T) {
	t.Run("Host", s.testECDHHost)
	t.Run("Vectors", s.testECDHVectors)
	t.Run("PeerErrors", s.testPeerErrors)
}

// testECDHHost agrees with crypto/ecdh, with generated and imported keys.
func (s *suite) testECDHHost(t *testing.T) {
	for _, tc := range []struct {
		name  string
		curve ecdh.Curve
	}{{"ECDH-P256", ecdh.P256()}, {"ECDH-P384", ecdh.P384()}, {"X25519", ecdh.X25519()}} {
		a := alg(tc.name)
		host, err := tc.curve.GenerateKey(rand.Reader)
		require.NoError(t, err)
		other, err := tc.curve.GenerateKey(rand.Reader)
		require.NoError(t, err)
		var keys []provider.Key
		if s.serves(t, a, provider.OpGenerate) {
			keys = append(keys, s.newKey(t, provider.KeyRequest{Algorithm: a}))
		}
		if s.serves(t, a, provider.OpImport) {
			k := s.newKey(t, provider.KeyRequest{Algorithm: a, Input: PKCS8(t, other)})
			require.Equal(t, other.PublicKey().Bytes(), rawPublic(t, PublicKey(t, k)), "%s: exported public key", tc.name)
			keys = append(keys, k)
		}
		for _, k := range keys {
			tokenPub, err := tc.curve.NewPublicKey(rawPublic(t, PublicKey(t, k)))
			require.NoError(t, err)
			want, err := host.ECDH(tokenPub)
			require.NoError(t, err)
			got, err := k.(provider.KeyAgreementKey).SharedSecret(ctx, host.PublicKey().Bytes())
			require.NoError(t, err)
			require.Equal(t, want, got, tc.name)
			require.Len(t, got, a.OutputSize)
			destroy(t, k)
		}
	}
}

var (
	oidPublicKeyEC = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidP256        = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
)

// namedP256Point returns the public point of a well-formed
// SubjectPublicKeyInfo that names P-256, as bytes, without judging the
// point itself: that is the backend's job.
func namedP256Point(der []byte) ([]byte, bool) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(der, &spki)
	if err != nil || len(rest) != 0 || !spki.Algorithm.Algorithm.Equal(oidPublicKeyEC) || spki.PublicKey.BitLength%8 != 0 {
		return nil, false
	}
	var curve asn1.ObjectIdentifier
	rest, err = asn1.Unmarshal(spki.Algorithm.Parameters.FullBytes, &curve)
	if err != nil || len(rest) != 0 || !curve.Equal(oidP256) {
		return nil, false
	}
	return spki.PublicKey.Bytes, true
}

// testECDHVectors imports each private scalar as PKCS#8 and derives with
// the peer's point. The API takes a raw point, so cases whose SPKI is not a
// well-formed named-curve P-256 key (explicit or wrong curve parameters,
// broken ASN.1) are excluded by that rule: checking an SPKI is the
// caller's job. None of them may be a valid case.
func (s *suite) testECDHVectors(t *testing.T) {
	if !s.serves(t, alg("ECDH-P256"), provider.OpImport) {
		return
	}
	c := newTally(t)
	for _, v := range vectors.ECDH(t) {
		point, ok := namedP256Point(v.Public)
		if !ok {
			require.NotEqual(t, vectors.Valid, v.Result, v.String())
			c.add("ecdh: %s: excluded by rule: peer SPKI is not a named-curve P-256 key", v.Result)
			continue
		}
		priv, err := ecdh.P256().NewPrivateKey(v.Private)
		require.NoError(t, err, v.String())
		k := s.newKey(t, provider.KeyRequest{Algorithm: alg("ECDH-P256"), Input: PKCS8(t, priv)}).(provider.KeyAgreementKey)
		shared, err := k.SharedSecret(ctx, point)
		switch v.Result {
		case vectors.Valid:
			require.NoError(t, err, v.String())
			require.Equal(t, v.Shared, shared, v.String())
			c.add("ecdh: valid: shared secret matches")
		case vectors.Invalid:
			require.ErrorIs(t, err, provider.ErrInvalidArgument, v.String())
			c.add("ecdh: invalid: inval")
		case vectors.Acceptable:
			if err == nil {
				require.Equal(t, v.Shared, shared, v.String())
				c.add("ecdh: acceptable: accepted, shared secret matches")
			} else {
				require.ErrorIs(t, err, provider.ErrInvalidArgument, v.String())
				c.add("ecdh: acceptable: refused (inval)")
			}
		}
		destroy(t, k)
	}
}

// testPeerErrors names the refusal of every malformed peer public key.
func (s *suite) testPeerErrors(t *testing.T) {
	keys := map[string]provider.KeyAgreementKey{}
	for _, name := range []string{"ECDH-P256", "ECDH-P384", "X25519"} {
		if _, ok := s.creation(t, alg(name)); ok {
			keys[name] = s.key(t, alg(name)).(provider.KeyAgreementKey)
		}
	}
	peer256, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	peer384, err := ecdh.P384().GenerateKey(rand.Reader)
	require.NoError(t, err)
	good256 := peer256.PublicKey().Bytes()
	offCurve := bytes.Clone(good256)
	offCurve[64] ^= 1
	for _, tc := range []struct {
		name string
		key  string
		peer []byte
		want error
	}{
		{"P-256 valid", "ECDH-P256", good256, nil},
		{"P-256 empty", "ECDH-P256", nil, provider.ErrInvalidArgument},
		{"P-256 point at infinity", "ECDH-P256", []byte{0}, provider.ErrInvalidArgument},
		{"P-256 identity as an uncompressed point", "ECDH-P256", append([]byte{4}, make([]byte, 64)...), provider.ErrInvalidArgument},
		{"P-256 compressed point", "ECDH-P256", compress(good256), provider.ErrInvalidArgument},
		{"P-256 off the curve", "ECDH-P256", offCurve, provider.ErrInvalidArgument},
		{"P-256 without prefix", "ECDH-P256", good256[1:], provider.ErrInvalidArgument},
		{"P-256 hybrid prefix", "ECDH-P256", append([]byte{6}, good256[1:]...), provider.ErrInvalidArgument},
		{"P-256 given a P-384 point", "ECDH-P256", peer384.PublicKey().Bytes(), provider.ErrInvalidArgument},
		{"P-256 given 97 zero bytes", "ECDH-P256", make([]byte, 97), provider.ErrInvalidArgument},
		{"P-384 given a P-256 point", "ECDH-P384", good256, provider.ErrInvalidArgument},
		{"P-384 valid", "ECDH-P384", peer384.PublicKey().Bytes(), nil},
		{"X25519 31 bytes", "X25519", make([]byte, 31), provider.ErrInvalidArgument},
		{"X25519 33 bytes", "X25519", make([]byte, 33), provider.ErrInvalidArgument},
		{"X25519 all-zero point (low order)", "X25519", make([]byte, 32), provider.ErrInvalidArgument},
		{"X25519 point of order 1", "X25519", append([]byte{1}, make([]byte, 31)...), provider.ErrInvalidArgument},
		{"X25519 valid", "X25519", bytes.Repeat([]byte{9}, 32), nil},
	} {
		k, ok := keys[tc.key]
		if !ok {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			shared, err := k.SharedSecret(ctx, tc.peer)
			if tc.want == nil {
				require.NoError(t, err)
				require.Len(t, shared, alg(tc.key).OutputSize)
				return
			}
			require.Nil(t, shared)
			s.refused(t, err, tc.want, nil)
		})
	}
}

// compress turns an uncompressed P-256 point into its compressed form.
func compress(p []byte) []byte {
	return append([]byte{2 | p[64]&1}, p[1:33]...)
}
