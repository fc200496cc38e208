package softfallback_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

// TestHMACVectors: valid tags match (truncated ones as a prefix of the MAC);
// invalid ones do not. Keys shorter than the hash are refused on import
// (RFC 7518 §3.2), so those cases are excluded by that rule, and the
// refusal itself is checked.
func TestHMACVectors(t *testing.T) {
	b := softfallback.New()
	c := newTally(t)
	for _, v := range vectors.HMAC(t) {
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
		require.NoError(t, k.Destroy(ctx))
	}
}

// TestHKDFVectors imports the IKM with the salt and hash, then expands.
// Invalid cases ask for more than 255 hash lengths.
func TestHKDFVectors(t *testing.T) {
	b := softfallback.New()
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
	}
}

// TestAESGCMVectors: 96-bit IV cases seal and open as expected; other IV
// sizes are excluded by the contract's rule (nonce exactly 12 bytes), and
// both Seal and Open must refuse them.
func TestAESGCMVectors(t *testing.T) {
	b := softfallback.New()
	c := newTally(t)
	for _, v := range vectors.AESGCM(t) {
		require.Equal(t, 128, v.TagBits)
		name := map[int]string{128: "A128GCM", 192: "A192GCM", 256: "A256GCM"}[v.KeyBits]
		k := importKey(t, b, name, v.Key).(provider.AEADKey)
		ct := append(bytes.Clone(v.CT), v.Tag...)
		if v.IVBits != 96 {
			_, err := k.Seal(ctx, nil, v.IV, v.Msg, v.AAD)
			require.ErrorIs(t, err, provider.ErrInvalidArgument, v.String())
			_, err = k.Open(ctx, nil, v.IV, ct, v.AAD)
			require.ErrorIs(t, err, provider.ErrInvalidArgument, v.String())
			c.add("aes_gcm: %s: excluded by rule: IV not 12 bytes (inval asserted)", v.Result)
			continue
		}
		sealed, err := k.Seal(ctx, nil, v.IV, v.Msg, v.AAD)
		require.NoError(t, err)
		opened, err := k.Open(ctx, []byte("prefix"), v.IV, ct, v.AAD)
		switch v.Result {
		case vectors.Valid:
			require.Equal(t, ct, sealed, v.String())
			require.NoError(t, err, v.String())
			require.Equal(t, append([]byte("prefix"), v.Msg...), opened, v.String())
			c.add("aes_gcm: valid: seal and open match")
		case vectors.Invalid:
			require.ErrorIs(t, err, provider.ErrAuthentication, v.String())
			require.Equal(t, []byte("prefix"), opened, "nothing appended: %s", v)
			require.NotEqual(t, ct, sealed, v.String())
			c.add("aes_gcm: invalid: open fails with badmsg")
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

// TestECDHVectors imports each private scalar as PKCS#8 and derives with
// the peer's point. The API takes a raw point, so cases whose SPKI is not a
// well-formed named-curve P-256 key (explicit or wrong curve parameters,
// broken ASN.1) are excluded by that rule: checking an SPKI is the caller's
// job. None of them may be a valid case.
func TestECDHVectors(t *testing.T) {
	b := softfallback.New()
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
			switch {
			case err == nil:
				require.Equal(t, v.Shared, shared, v.String())
				c.add("ecdh: acceptable: accepted, shared secret matches")
			default:
				require.ErrorIs(t, err, provider.ErrInvalidArgument, v.String())
				c.add("ecdh: acceptable: refused (inval)")
			}
		}
		require.NoError(t, k.Destroy(ctx))
	}
}

// TestEd25519Vectors: the file verifies signatures. For the public keys of
// RFC 8032, whose private keys are known, our signature must be the
// expected one byte for byte (Ed25519 is deterministic) and our exported
// SPKI the file's. For the others, the harness checks the case on the host
// and our own key signs the message, verified with its exported public key.
func TestEd25519Vectors(t *testing.T) {
	b := softfallback.New()
	c := newTally(t)
	own := generate(t, b, provider.KeyRequest{Algorithm: alg("EdDSA")})
	ownPub := publicKey(t, own).(ed25519.PublicKey)
	for _, v := range vectors.Ed25519(t) {
		if v.Seed != nil {
			k := importKey(t, b, "EdDSA", pkcs8(t, ed25519.NewKeyFromSeed(v.Seed)))
			der, err := k.(provider.PublicKeyExporter).PublicKeyDER(ctx)
			require.NoError(t, err)
			require.Equal(t, v.PublicKeyDER, der, v.String())
			sig := sign(t, k, v.Msg)
			if v.Result == vectors.Valid {
				require.Equal(t, v.Sig, sig, v.String())
				c.add("ed25519: valid, private key known: signature matches")
			} else {
				require.NotEqual(t, v.Sig, sig, v.String())
				c.add("ed25519: invalid, private key known: our signature differs")
			}
			continue
		}
		require.Equal(t, v.Result == vectors.Valid, ed25519.Verify(v.PublicKey, v.Msg, v.Sig), "host check of %s", v)
		require.True(t, ed25519.Verify(ownPub, v.Msg, sign(t, own, v.Msg)), v.String())
		c.add("ed25519: %s, no private key: host check agrees, own key signs the message", v.Result)
	}
}

// TestECDSAVectors first checks the host-side P1363 verifier against the
// vectors (so its verdicts can be trusted), then signs every message of the
// files with generated and imported keys and verifies the r‖s signatures.
func TestECDSAVectors(t *testing.T) {
	b := softfallback.New()
	c := newTally(t)
	msgs := map[string][][]byte{}
	for _, v := range vectors.ECDSAP1363(t) {
		pub, err := x509.ParsePKIXPublicKey(v.PublicKeyDER)
		require.NoError(t, err)
		got := verifyP1363(pub.(*ecdsa.PublicKey), digest(v.Hash, v.Msg), v.Sig)
		require.Equal(t, v.Result == vectors.Valid, got, "host verifier on %s", v)
		c.add("%s: %s: host verifier agrees", v.File, v.Result)
		msgs[v.Alg] = append(msgs[v.Alg], v.Msg)
	}
	curves := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}
	// No P-521 file: sign a sample of the P-256 messages (P-521 is slow
	// under the race detector).
	msgs["ES512"] = uniqueMessages(msgs["ES256"])[:24]
	for name, curve := range curves {
		a := alg(name)
		hostKey := newECDSAKey(t, curve)
		keys := []provider.Key{
			generate(t, b, provider.KeyRequest{Algorithm: a}),
			importKey(t, b, name, pkcs8(t, hostKey)),
		}
		require.True(t, hostKey.PublicKey.Equal(publicKey(t, keys[1])), "%s: exported public key", name)
		for _, k := range keys {
			pub := publicKey(t, k)
			for _, m := range uniqueMessages(msgs[name]) {
				sig := sign(t, k, m)
				require.Len(t, sig, a.OutputSize)
				require.True(t, verify(a, pub, m, sig), "%s over %x", name, m)
				c.add("%s: signed a vector message, r‖s verified on the host", name)
			}
		}
	}
}

// TestRSASigGenVectors: PKCS#1 v1.5 signing is deterministic, so with the
// file's private key our signature must be the file's. Groups hashed with
// SHA-1 or SHA-224 map to no contract algorithm and are excluded.
func TestRSASigGenVectors(t *testing.T) {
	b := softfallback.New()
	c := newTally(t)
	keys := map[string]provider.Key{}
	for _, v := range vectors.RSASigGen(t) {
		if v.Alg == "" {
			c.add("rsa_pkcs1: %s: excluded by rule: %s is no contract algorithm's hash", v.Result, v.Hash)
			continue
		}
		id := v.Alg + string(v.PrivateKeyPKCS8)
		k, ok := keys[id]
		if !ok {
			k = importKey(t, b, v.Alg, v.PrivateKeyPKCS8)
			der, err := k.(provider.PublicKeyExporter).PublicKeyDER(ctx)
			require.NoError(t, err)
			require.Equal(t, v.PublicKeyDER, der, "exported SPKI of %s", v)
			keys[id] = k
		}
		require.Equal(t, v.Sig, sign(t, k, v.Msg), v.String())
		c.add("rsa_pkcs1: %s %s (flags %v): signature matches", v.Alg, v.Result, v.Flags)
	}
}

// TestRSAPSSVectors checks the host verifier (salt 32) against the file,
// then signs every message with PS256, PS384 and PS512 keys and verifies
// with the salt length fixed to the hash length (RFC 7518 §3.5).
func TestRSAPSSVectors(t *testing.T) {
	b := softfallback.New()
	c := newTally(t)
	var msgs [][]byte
	for _, v := range vectors.RSAPSS(t) {
		pub, err := x509.ParsePKIXPublicKey(v.PublicKeyDER)
		require.NoError(t, err)
		got := verify(alg(v.Alg), pub, v.Msg, v.Sig)
		require.Equal(t, v.Result == vectors.Valid, got, "host verifier on %s", v)
		c.add("rsa_pss: %s: host verifier agrees", v.Result)
		msgs = append(msgs, v.Msg)
	}
	for _, name := range []string{"PS256", "PS384", "PS512"} {
		a := alg(name)
		k := importKey(t, b, name, rsaVectorKey(t))
		pub := publicKey(t, k).(*rsa.PublicKey)
		for _, m := range uniqueMessages(msgs) {
			sig := sign(t, k, m)
			require.Len(t, sig, 256)
			require.True(t, verify(a, pub, m, sig), "%s over %x", name, m)
			// PSS is randomised: signing again gives another valid signature.
			_, ch := hostHash(a.Hash)
			require.NoError(t, rsa.VerifyPSS(pub, ch, digest(a.Hash, m), sign(t, k, m), &rsa.PSSOptions{SaltLength: ch.Size()}))
			c.add("%s: signed a vector message, PSS (salt = hash length) verified", name)
		}
	}
}
