//go:build cgo

package hsm_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

// TestContract runs the provider contract against the token, directly and
// through p11-kit remoting. Each part covers exactly the algorithms that
// the backend's Supports reports for that target (the router sends nothing
// else): what remoting does not pass is not tested through it, and the
// list of what was left out is logged.
func TestContract(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			b := open(t, tg)
			t.Run("Hashes", func(t *testing.T) { testHashes(t, b) })
			t.Run("HMAC", func(t *testing.T) { testHMACVectors(t, b) })
			t.Run("HKDF", func(t *testing.T) { testHKDFVectors(t, b) })
			t.Run("AESGCM", func(t *testing.T) { testAESGCMVectors(t, b) })
			t.Run("ECDSA", func(t *testing.T) { testECDSA(t, b) })
			t.Run("EdDSA", func(t *testing.T) { testEdDSA(t, b) })
			t.Run("RSA", func(t *testing.T) { testRSA(t, b) })
			t.Run("ECDH", func(t *testing.T) { testECDH(t, b) })
			t.Run("Import", func(t *testing.T) { testImportRules(t, b) })
			t.Run("KeyInterfaces", func(t *testing.T) { testKeyInterfaces(t, b) })
			t.Run("SignStates", func(t *testing.T) { testSignStates(t, b) })
			t.Run("MessageLimit", func(t *testing.T) { testMessageLimit(t, b) })
			t.Run("Destroy", func(t *testing.T) { testDestroy(t, b) })
		})
	}
}

// serves reports whether b serves keys of name (created by generation, or
// by import for HKDF), and logs it when not.
func serves(t *testing.T, b *hsm.Backend, name string) bool {
	t.Helper()
	a := alg(name)
	create := provider.OpGenerate
	if a.Kind == provider.KindKDF {
		create = provider.OpImport
	}
	if !supported(b, a, create) {
		t.Logf("%s: not served by this token; not tested here", name)
		return false
	}
	return true
}

func testHashes(t *testing.T, b *hsm.Backend) {
	c := newTally(t)
	for _, v := range vectors.Hashes(t) {
		a := alg(v.Alg)
		if b.Supports(a, provider.OpHash) != provider.Native {
			_, err := b.NewHash(ctx, a)
			require.ErrorIs(t, err, provider.ErrNotSupported, v.Source)
			c.add("%s: not on this token: notsup", v.Alg)
			continue
		}
		h, err := b.NewHash(ctx, a)
		require.NoError(t, err)
		require.Equal(t, a, h.Algorithm())
		half := len(v.Msg) / 2
		require.NoError(t, h.Update(v.Msg[:half]))
		require.NoError(t, h.Update(v.Msg[half:]))
		out := make([]byte, a.OutputSize)
		require.NoError(t, h.Digest(out))
		require.Equal(t, v.Digest, out, v.Source)
		// Repeatable, and a prefix on request.
		short := make([]byte, 5)
		require.NoError(t, h.Digest(short))
		require.Equal(t, v.Digest[:5], short, v.Source)
		require.NoError(t, h.Close())
		c.add("%s: digest matches, twice", v.Alg)
	}
	h, err := b.NewHash(ctx, alg("SHA-256"))
	require.NoError(t, err)
	for _, n := range []int{0, 33} {
		require.ErrorIs(t, h.Digest(make([]byte, n)), provider.ErrInvalidArgument, "digest of %d bytes", n)
	}
	require.NoError(t, h.Close())
	require.ErrorIs(t, h.Update([]byte("x")), provider.ErrInvalidArgument, "closed")
	for _, a := range []provider.Algorithm{alg("SHAKE128"), alg("SHA3-256"), alg("ES256"), {Name: "SHA-256", Kind: provider.KindHash, OutputSize: 20}} {
		_, err := b.NewHash(ctx, a)
		require.ErrorIs(t, err, provider.ErrNotSupported, a.Name)
	}
}

func testHMACVectors(t *testing.T, b *hsm.Backend) {
	c := newTally(t)
	served := map[string]bool{}
	for _, name := range []string{"HS256", "HS384", "HS512"} {
		served[name] = serves(t, b, name)
	}
	for _, v := range vectors.HMAC(t) {
		if !served[v.Alg] {
			continue
		}
		a := alg(v.Alg)
		if len(v.Key) < a.OutputSize {
			_, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: a, Input: v.Key})
			require.ErrorIs(t, err, provider.ErrInvalidArgument, v.String())
			c.add("%s: excluded by rule: key shorter than the hash, import refused (inval)", v.File)
			continue
		}
		k := importKey(t, b, v.Alg, v.Key)
		tag := sign(t, k, v.Msg)[:v.TagBits/8]
		switch v.Result {
		case vectors.Valid:
			require.Equal(t, v.Tag, tag, v.String())
			c.add("%s: valid: tag matches", v.File)
		case vectors.Invalid:
			require.NotEqual(t, v.Tag, tag, v.String())
			c.add("%s: invalid: tag differs", v.File)
		}
		destroy(t, k)
	}
}

func testHKDFVectors(t *testing.T, b *hsm.Backend) {
	if !serves(t, b, "HKDF") {
		return
	}
	require.Equal(t, provider.Composed, b.Supports(alg("HKDF"), provider.OpDerive))
	c := newTally(t)
	for _, v := range vectors.HKDF(t) {
		k := generate(t, b, provider.KeyRequest{Algorithm: alg("HKDF"), Input: v.IKM, Nonce: v.Salt, Hash: alg(v.Hash)})
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

func testAESGCMVectors(t *testing.T, b *hsm.Backend) {
	c := newTally(t)
	served := map[string]bool{}
	for _, name := range []string{"A128GCM", "A192GCM", "A256GCM"} {
		served[name] = serves(t, b, name)
	}
	for _, v := range vectors.AESGCM(t) {
		require.Equal(t, 128, v.TagBits)
		name := map[int]string{128: "A128GCM", 192: "A192GCM", 256: "A256GCM"}[v.KeyBits]
		if !served[name] {
			c.add("%s: not on this token", name)
			continue
		}
		k := importKey(t, b, name, v.Key).(provider.AEADKey)
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
			c.add("aes_gcm: invalid: open fails with badmsg")
		}
		destroy(t, k)
	}
	if !served["A128GCM"] {
		return
	}
	// A short input and a truncated tag are authentication failures too.
	k := generate(t, b, provider.KeyRequest{Algorithm: alg("A128GCM")}).(provider.AEADKey)
	defer destroy(t, k)
	nonce := make([]byte, 12)
	sealed, err := k.Seal(ctx, nil, nonce, []byte("attack at dawn"), []byte("aad"))
	require.NoError(t, err)
	require.Len(t, sealed, 14+16)
	for _, bad := range [][]byte{sealed[:15], sealed[:len(sealed)-1], {}} {
		out, err := k.Open(ctx, nil, nonce, bad, []byte("aad"))
		require.ErrorIs(t, err, provider.ErrAuthentication)
		require.Empty(t, out)
		require.Equal(t, "hsm: A128GCM: open: authentication failed", err.Error())
	}
	_, err = k.Seal(ctx, nil, make([]byte, 16), nil, nil)
	require.ErrorIs(t, err, provider.ErrInvalidArgument)
	// The empty message.
	empty, err := k.Seal(ctx, nil, nonce, nil, nil)
	require.NoError(t, err)
	require.Len(t, empty, 16)
	pt, err := k.Open(ctx, nil, nonce, empty, nil)
	require.NoError(t, err)
	require.Empty(t, pt)
}

func testECDSA(t *testing.T, b *hsm.Backend) {
	c := newTally(t)
	var msgs [][]byte
	for _, v := range vectors.ECDSAP1363(t) {
		msgs = append(msgs, v.Msg)
	}
	msgs = uniqueMessages(msgs)[:16]
	curves := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}
	for name, curve := range curves {
		if !serves(t, b, name) {
			continue
		}
		a := alg(name)
		hostKey := newECDSAKey(t, curve)
		keys := []provider.Key{
			generate(t, b, provider.KeyRequest{Algorithm: a}),
			importKey(t, b, name, pkcs8(t, hostKey)),
		}
		require.True(t, hostKey.PublicKey.Equal(publicKey(t, keys[1])), "%s: exported public key", name)
		for _, k := range keys {
			pub := publicKey(t, k)
			for _, m := range msgs {
				sig := sign(t, k, m)
				require.Len(t, sig, a.OutputSize)
				require.True(t, verify(a, pub, m, sig), "%s over %x", name, m)
				c.add("%s: signed a vector message, r‖s verified on the host", name)
			}
			destroy(t, k)
		}
	}
}

func testEdDSA(t *testing.T, b *hsm.Backend) {
	if !serves(t, b, "EdDSA") {
		return
	}
	c := newTally(t)
	own := generate(t, b, provider.KeyRequest{Algorithm: alg("EdDSA")})
	defer destroy(t, own)
	ownPub := publicKey(t, own).(ed25519.PublicKey)
	keys := map[string]provider.Key{}
	for _, v := range vectors.Ed25519(t) {
		if v.Seed == nil {
			require.True(t, ed25519.Verify(ownPub, v.Msg, sign(t, own, v.Msg)), v.String())
			c.add("ed25519: %s, no private key: own key signs the message", v.Result)
			continue
		}
		k, ok := keys[string(v.Seed)]
		if !ok {
			k = importKey(t, b, "EdDSA", pkcs8(t, ed25519.NewKeyFromSeed(v.Seed)))
			keys[string(v.Seed)] = k
			defer destroy(t, k)
			der, err := k.(provider.PublicKeyExporter).PublicKeyDER(ctx)
			require.NoError(t, err)
			require.Equal(t, v.PublicKeyDER, der, v.String())
		}
		sig := sign(t, k, v.Msg)
		if v.Result == vectors.Valid {
			require.Equal(t, v.Sig, sig, v.String())
			c.add("ed25519: valid, private key known: signature matches")
		} else {
			require.NotEqual(t, v.Sig, sig, v.String())
			c.add("ed25519: invalid, private key known: our signature differs")
		}
	}
}

func testRSA(t *testing.T, b *hsm.Backend) {
	c := newTally(t)
	keys := map[string]provider.Key{}
	for _, v := range vectors.RSASigGen(t) {
		if v.Alg == "" {
			c.add("rsa_pkcs1: excluded by rule: %s is no contract algorithm's hash", v.Hash)
			continue
		}
		if !supported(b, alg(v.Alg), provider.OpImport) {
			c.add("rsa_pkcs1: %s not on this token", v.Alg)
			continue
		}
		id := v.Alg + string(v.PrivateKeyPKCS8)
		k, ok := keys[id]
		if !ok {
			k = importKey(t, b, v.Alg, v.PrivateKeyPKCS8)
			defer destroy(t, k)
			der, err := k.(provider.PublicKeyExporter).PublicKeyDER(ctx)
			require.NoError(t, err)
			require.Equal(t, v.PublicKeyDER, der, "exported SPKI of %s", v)
			keys[id] = k
		}
		require.Equal(t, v.Sig, sign(t, k, v.Msg), v.String())
		c.add("rsa_pkcs1: %s %s: signature matches", v.Alg, v.Result)
	}
	var msgs [][]byte
	for _, v := range vectors.RSAPSS(t) {
		msgs = append(msgs, v.Msg)
	}
	msgs = uniqueMessages(msgs)[:8]
	for _, name := range []string{"PS256", "PS384", "PS512"} {
		if !serves(t, b, name) {
			continue
		}
		a := alg(name)
		k := importKey(t, b, name, rsaVectorKey(t))
		pub := publicKey(t, k).(*rsa.PublicKey)
		for _, m := range msgs {
			sig := sign(t, k, m)
			require.Len(t, sig, 256)
			require.True(t, verify(a, pub, m, sig), "%s over %x", name, m)
			c.add("%s: PSS (salt = hash length) verified on the host", name)
		}
		destroy(t, k)
	}
	// One generated key (generation is slow): 2048 bits, signatures verify.
	if serves(t, b, "PS256") {
		k := generate(t, b, provider.KeyRequest{Algorithm: alg("PS256")})
		pub := publicKey(t, k).(*rsa.PublicKey)
		require.Equal(t, 2048, pub.N.BitLen())
		require.Equal(t, 65537, pub.E)
		require.True(t, verify(alg("PS256"), pub, []byte("generated"), sign(t, k, []byte("generated"))))
		destroy(t, k)
	}
}

var (
	oidPublicKeyEC = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidP256        = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
)

// namedP256Point returns the public point of a well-formed
// SubjectPublicKeyInfo that names P-256, without judging the point.
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

func testECDH(t *testing.T, b *hsm.Backend) {
	// Against crypto/ecdh, both ways, with generated and imported keys.
	for _, tc := range []struct {
		name  string
		curve ecdh.Curve
	}{{"ECDH-P256", ecdh.P256()}, {"ECDH-P384", ecdh.P384()}} {
		if !serves(t, b, tc.name) {
			continue
		}
		host, err := tc.curve.GenerateKey(rand.Reader)
		require.NoError(t, err)
		other, err := tc.curve.GenerateKey(rand.Reader)
		require.NoError(t, err)
		for _, k := range []provider.Key{
			generate(t, b, provider.KeyRequest{Algorithm: alg(tc.name)}),
			importKey(t, b, tc.name, pkcs8(t, other)),
		} {
			pub := publicKey(t, k).(*ecdsa.PublicKey)
			tokenPub, err := pub.ECDH()
			require.NoError(t, err)
			want, err := host.ECDH(tokenPub)
			require.NoError(t, err)
			got, err := k.(provider.KeyAgreementKey).SharedSecret(ctx, host.PublicKey().Bytes())
			require.NoError(t, err)
			require.Equal(t, want, got, tc.name)
			require.Len(t, got, alg(tc.name).OutputSize)
			destroy(t, k)
		}
	}
	if !serves(t, b, "ECDH-P256") {
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
		k := importKey(t, b, "ECDH-P256", pkcs8(t, priv)).(provider.KeyAgreementKey)
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
	k := generate(t, b, provider.KeyRequest{Algorithm: alg("ECDH-P256")}).(provider.KeyAgreementKey)
	defer destroy(t, k)
	host, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	p := host.PublicKey().Bytes()
	offCurve := bytes.Clone(p)
	offCurve[len(offCurve)-1] ^= 1
	for name, peer := range map[string][]byte{
		"compressed": append([]byte{2 + p[64]&1}, p[1:33]...),
		"off curve":  offCurve,
		"P-384 size": make([]byte, 97),
		"empty":      nil,
		"identity":   append([]byte{4}, make([]byte, 64)...),
	} {
		_, err := k.SharedSecret(ctx, peer)
		require.ErrorIs(t, err, provider.ErrInvalidArgument, name)
	}
}

// testImportRules runs the software backend's table of import requests
// against the token: each answer must be the software backend's, except
// that algorithms the token does not serve are not supported.
func testImportRules(t *testing.T, b *hsm.Backend) {
	soft := softfallback.New()
	p256, p384, p521 := newECDSAKey(t, elliptic.P256()), newECDSAKey(t, elliptic.P384()), newECDSAKey(t, elliptic.P521())
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	der := map[string][]byte{
		"P-256": pkcs8(t, p256), "P-384": pkcs8(t, p384), "P-521": pkcs8(t, p521),
		"Ed25519": pkcs8(t, ed), "X25519": pkcs8(t, x), "RSA-1024": pkcs8(t, rsa1024),
		"RSA-2048": rsaVectorKey(t),
	}
	garbage := []byte("not a key at all")
	trailing := append(bytes.Clone(der["P-256"]), 0)
	truncated := der["P-256"][:len(der["P-256"])-1]
	none := provider.Algorithm{}

	for _, tc := range []struct {
		name  string
		alg   provider.Algorithm
		input []byte
		nonce []byte
		hash  provider.Algorithm
		want  error
	}{
		{"A128GCM 15 bytes", alg("A128GCM"), make([]byte, 15), nil, none, provider.ErrInvalidArgument},
		{"A128GCM 17 bytes", alg("A128GCM"), make([]byte, 17), nil, none, provider.ErrInvalidArgument},
		{"A128GCM empty input", alg("A128GCM"), []byte{}, nil, none, provider.ErrInvalidArgument},
		{"A192GCM 32 bytes", alg("A192GCM"), make([]byte, 32), nil, none, provider.ErrInvalidArgument},
		{"A256GCM 16 bytes", alg("A256GCM"), make([]byte, 16), nil, none, provider.ErrInvalidArgument},
		{"A256GCM 32 bytes", alg("A256GCM"), make([]byte, 32), nil, none, nil},
		{"A192GCM 24 bytes", alg("A192GCM"), make([]byte, 24), nil, none, nil},
		{"HS256 31 bytes", alg("HS256"), make([]byte, 31), nil, none, provider.ErrInvalidArgument},
		{"HS256 32 bytes", alg("HS256"), make([]byte, 32), nil, none, nil},
		{"HS256 100 bytes", alg("HS256"), make([]byte, 100), nil, none, nil},
		{"HS256 1000 bytes", alg("HS256"), make([]byte, 1000), nil, none, nil},
		{"HS384 47 bytes", alg("HS384"), make([]byte, 47), nil, none, provider.ErrInvalidArgument},
		{"HS512 63 bytes", alg("HS512"), make([]byte, 63), nil, none, provider.ErrInvalidArgument},
		{"HS256 empty input", alg("HS256"), []byte{}, nil, none, provider.ErrInvalidArgument},
		{"ES256 garbage", alg("ES256"), garbage, nil, none, provider.ErrInvalidArgument},
		{"ES256 empty input", alg("ES256"), []byte{}, nil, none, provider.ErrInvalidArgument},
		{"ES256 trailing byte", alg("ES256"), trailing, nil, none, provider.ErrInvalidArgument},
		{"ES256 truncated", alg("ES256"), truncated, nil, none, provider.ErrInvalidArgument},
		{"ES256 P-384 key", alg("ES256"), der["P-384"], nil, none, provider.ErrInvalidArgument},
		{"ES256 Ed25519 key", alg("ES256"), der["Ed25519"], nil, none, provider.ErrInvalidArgument},
		{"ES256 RSA key", alg("ES256"), der["RSA-2048"], nil, none, provider.ErrInvalidArgument},
		{"ES256 X25519 key", alg("ES256"), der["X25519"], nil, none, provider.ErrInvalidArgument},
		{"ES256 P-256 key", alg("ES256"), der["P-256"], nil, none, nil},
		{"ES384 P-256 key", alg("ES384"), der["P-256"], nil, none, provider.ErrInvalidArgument},
		{"ES512 P-384 key", alg("ES512"), der["P-384"], nil, none, provider.ErrInvalidArgument},
		{"ES512 P-521 key", alg("ES512"), der["P-521"], nil, none, nil},
		{"EdDSA P-256 key", alg("EdDSA"), der["P-256"], nil, none, provider.ErrInvalidArgument},
		{"EdDSA X25519 key", alg("EdDSA"), der["X25519"], nil, none, provider.ErrInvalidArgument},
		{"EdDSA raw seed", alg("EdDSA"), make([]byte, 32), nil, none, provider.ErrInvalidArgument},
		{"EdDSA Ed25519 key", alg("EdDSA"), der["Ed25519"], nil, none, nil},
		{"RS256 1024-bit key", alg("RS256"), der["RSA-1024"], nil, none, provider.ErrInvalidArgument},
		{"PS512 1024-bit key", alg("PS512"), der["RSA-1024"], nil, none, provider.ErrInvalidArgument},
		{"RS256 P-256 key", alg("RS256"), der["P-256"], nil, none, provider.ErrInvalidArgument},
		{"PS256 Ed25519 key", alg("PS256"), der["Ed25519"], nil, none, provider.ErrInvalidArgument},
		{"RS384 2048-bit key", alg("RS384"), der["RSA-2048"], nil, none, nil},
		{"ECDH-P256 P-384 key", alg("ECDH-P256"), der["P-384"], nil, none, provider.ErrInvalidArgument},
		{"ECDH-P256 X25519 key", alg("ECDH-P256"), der["X25519"], nil, none, provider.ErrInvalidArgument},
		{"ECDH-P384 garbage", alg("ECDH-P384"), garbage, nil, none, provider.ErrInvalidArgument},
		{"ECDH-P384 P-521 key", alg("ECDH-P384"), der["P-521"], nil, none, provider.ErrInvalidArgument},
		{"ECDH-P384 P-384 key", alg("ECDH-P384"), der["P-384"], nil, none, nil},
		{"X25519 Ed25519 key", alg("X25519"), der["Ed25519"], nil, none, provider.ErrInvalidArgument},
		{"X25519 X25519 key", alg("X25519"), der["X25519"], nil, none, nil},

		{"A128GCM generate with nonce", alg("A128GCM"), nil, make([]byte, 12), none, provider.ErrInvalidArgument},
		{"ES256 empty nonce", alg("ES256"), der["P-256"], []byte{}, none, provider.ErrInvalidArgument},
		{"HS256 with hash", alg("HS256"), nil, nil, alg("SHA-256"), provider.ErrInvalidArgument},
		{"X25519 with hash", alg("X25519"), nil, nil, alg("SHA-512"), provider.ErrInvalidArgument},

		{"HKDF without input", alg("HKDF"), nil, nil, alg("SHA-256"), provider.ErrInvalidArgument},
		{"HKDF without hash", alg("HKDF"), []byte("ikm"), nil, none, provider.ErrInvalidArgument},
		{"HKDF with SHA-1", alg("HKDF"), []byte("ikm"), nil, alg("SHA-1"), provider.ErrInvalidArgument},
		{"HKDF with SHA3-256", alg("HKDF"), []byte("ikm"), nil, alg("SHA3-256"), provider.ErrInvalidArgument},
		{"HKDF with HS256 as hash", alg("HKDF"), []byte("ikm"), nil, alg("HS256"), provider.ErrInvalidArgument},
		{"HKDF with forged hash", alg("HKDF"), []byte("ikm"), nil, provider.Algorithm{Name: "SHA-256", Kind: provider.KindHash}, provider.ErrInvalidArgument},
		{"HKDF empty IKM and salt", alg("HKDF"), []byte{}, []byte{}, alg("SHA-384"), nil},
		{"HKDF SHA-512", alg("HKDF"), []byte("ikm"), []byte("salt"), alg("SHA-512"), nil},
		{"HKDF long salt", alg("HKDF"), []byte("ikm"), make([]byte, 200), alg("SHA-256"), nil},

		{"hash as key", alg("SHA-256"), nil, nil, none, provider.ErrNotSupported},
		{"zero algorithm", none, nil, nil, none, provider.ErrNotSupported},
		{"forged algorithm", provider.Algorithm{Name: "A128GCM", Kind: provider.KindAEAD, KeySize: 8}, nil, nil, none, provider.ErrNotSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := provider.KeyRequest{Algorithm: tc.alg, Input: tc.input, Nonce: tc.nonce, Hash: tc.hash}
			// The software backend's answer is the reference.
			sk, serr := soft.GenerateKey(ctx, req)
			if serr == nil {
				require.NoError(t, sk.Destroy(ctx))
			}
			if tc.want == nil {
				require.NoError(t, serr, "software backend")
			} else {
				require.ErrorIs(t, serr, tc.want, "software backend")
			}
			want := tc.want
			create := provider.OpImport
			if tc.input == nil {
				create = provider.OpGenerate
			}
			if want == nil && b.Supports(tc.alg, create) == provider.Unsupported {
				want = provider.ErrNotSupported
			}
			k, err := b.GenerateKey(ctx, req)
			if want == nil {
				require.NoError(t, err)
				destroy(t, k)
				return
			}
			// An algorithm the token does not serve may be refused before
			// its input is judged.
			if !errors.Is(err, provider.ErrNotSupported) || b.Supports(tc.alg, create) != provider.Unsupported {
				require.ErrorIs(t, err, want)
			}
			require.Nil(t, k)
			assert.Contains(t, err.Error(), "hsm: ")
			if len(tc.input) >= 8 && !bytes.Equal(tc.input, make([]byte, len(tc.input))) {
				assert.NotContains(t, err.Error(), string(tc.input), "the message must not repeat the input")
			}
		})
	}
}

// testKeyInterfaces: each kind of key implements its operations, and only
// asymmetric keys export a public key.
func testKeyInterfaces(t *testing.T, b *hsm.Backend) {
	for _, a := range provider.Algorithms() {
		if !a.Kind.Keyed() {
			continue
		}
		req := provider.KeyRequest{Algorithm: a}
		switch {
		case a.Kind == provider.KindKDF:
			req.Input, req.Hash = []byte("ikm"), alg("SHA-256")
		case a.IsRSA():
			req.Input = rsaVectorKey(t)
		}
		create := provider.OpGenerate
		if req.Input != nil {
			create = provider.OpImport
		}
		if !supported(b, a, create) {
			continue
		}
		k := generate(t, b, req)
		_, exporter := k.(provider.PublicKeyExporter)
		assert.Equal(t, !a.Kind.Symmetric(), exporter, "%s: PublicKeyExporter", a)
		var ok bool
		switch a.Kind {
		case provider.KindAEAD:
			_, ok = k.(provider.AEADKey)
		case provider.KindSignature, provider.KindMAC:
			_, ok = k.(provider.Signer)
		case provider.KindKDF:
			_, ok = k.(provider.HKDFKey)
		case provider.KindKeyAgreement:
			_, ok = k.(provider.KeyAgreementKey)
		}
		assert.True(t, ok, "%s: interface of kind %s", a, a.Kind)
		destroy(t, k)
	}
}

// testSignStates: sign is repeatable, update may follow it, reset drops the
// data, sizes are CONTRACT §4's.
func testSignStates(t *testing.T, b *hsm.Backend) {
	for _, tc := range []struct {
		name          string
		input         []byte
		size          int
		deterministic bool
	}{
		{"ES256", nil, 64, false}, {"ES384", nil, 96, false}, {"ES512", nil, 132, false},
		{"EdDSA", nil, 64, true},
		{"RS256", rsaVectorKey(t), 256, true}, {"PS384", rsaVectorKey(t), 256, false},
		{"HS256", nil, 32, true}, {"HS384", nil, 48, true}, {"HS512", nil, 64, true},
	} {
		a := alg(tc.name)
		create := provider.OpGenerate
		if tc.input != nil {
			create = provider.OpImport
		}
		if !supported(b, a, create) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			k := generate(t, b, provider.KeyRequest{Algorithm: a, Input: tc.input})
			defer destroy(t, k)
			st, err := k.(provider.Signer).NewSignState(ctx, 1<<16)
			require.NoError(t, err)
			defer st.Close()
			require.Equal(t, tc.size, st.Size())
			require.NoError(t, st.Update(ctx, []byte("hello, ")))
			first, err := st.Sign(ctx, []byte("dst:"))
			require.NoError(t, err)
			require.Len(t, first, 4+tc.size)
			require.Equal(t, "dst:", string(first[:4]))
			again, err := st.Sign(ctx, nil)
			require.NoError(t, err)
			if tc.deterministic {
				require.Equal(t, first[4:], again)
			}
			require.NoError(t, st.Update(ctx, []byte("world")))
			whole, err := st.Sign(ctx, nil)
			require.NoError(t, err)
			oneShot := sign(t, k, []byte("hello, world"))
			if tc.deterministic {
				require.Equal(t, oneShot, whole)
			} else {
				pub := publicKey(t, k)
				require.True(t, verify(a, pub, []byte("hello, world"), whole))
			}
			st.Reset()
			empty, err := st.Sign(ctx, nil)
			require.NoError(t, err)
			if tc.deterministic {
				require.Equal(t, sign(t, k, nil), empty)
			}
			_, err = k.(provider.Signer).NewSignState(ctx, -1)
			require.ErrorIs(t, err, provider.ErrInvalidArgument)
			require.NoError(t, st.Close())
			_, err = st.Sign(ctx, nil)
			require.ErrorIs(t, err, provider.ErrInvalidArgument)
		})
	}
}

// testMessageLimit: the states that buffer (EdDSA, HMAC) refuse data beyond
// maxBuffered with msgsize and absorb nothing of it; ECDSA buffers nothing.
func testMessageLimit(t *testing.T, b *hsm.Backend) {
	for _, name := range []string{"EdDSA", "HS256", "ES256"} {
		if !serves(t, b, name) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			k := generate(t, b, provider.KeyRequest{Algorithm: alg(name)})
			defer destroy(t, k)
			st, err := k.(provider.Signer).NewSignState(ctx, 10)
			require.NoError(t, err)
			defer st.Close()
			require.NoError(t, st.Update(ctx, []byte("0123456789")))
			err = st.Update(ctx, []byte("x"))
			if name == "ES256" {
				require.NoError(t, err, "ECDSA hashes as data comes")
				return
			}
			require.ErrorIs(t, err, provider.ErrMessageTooLarge)
			sig, err := st.Sign(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, sign(t, k, []byte("0123456789")), sig, "the refused update absorbed nothing")
		})
	}
}

// testDestroy: a destroyed key and its open states fail; a second Destroy
// fails.
func testDestroy(t *testing.T, b *hsm.Backend) {
	if !serves(t, b, "ES256") {
		return
	}
	k := generate(t, b, provider.KeyRequest{Algorithm: alg("ES256")})
	st, err := k.(provider.Signer).NewSignState(ctx, 100)
	require.NoError(t, err)
	require.NoError(t, k.Destroy(ctx))
	require.ErrorIs(t, st.Update(ctx, []byte("x")), provider.ErrInvalidArgument)
	_, err = st.Sign(ctx, nil)
	require.ErrorIs(t, err, provider.ErrInvalidArgument)
	_, err = k.(provider.PublicKeyExporter).PublicKeyDER(ctx)
	require.ErrorIs(t, err, provider.ErrInvalidArgument)
	require.ErrorIs(t, k.Destroy(ctx), provider.ErrInvalidArgument)
}
