package providertest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	_ "crypto/sha1" // registers crypto.SHA1 for hostDigest
	_ "crypto/sha256"
	_ "crypto/sha3"
	_ "crypto/sha512"
	"crypto/x509"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
)

// AllOperations returns every operation of the API.
func AllOperations() []provider.Operation {
	return []provider.Operation{
		provider.OpHash, provider.OpGenerate, provider.OpImport, provider.OpSign,
		provider.OpEncrypt, provider.OpDecrypt, provider.OpDerive, provider.OpExportPublic,
	}
}

// Operations returns the operations that apply to a: hashing for a hash or
// XOF; import and derivation for HKDF, whose keys are always made from
// input; generation, import and provider.KeyOperations for other keyed
// algorithms. No backend supports any other operation of a.
func Operations(a provider.Algorithm) []provider.Operation {
	switch {
	case !a.Kind.Keyed():
		return []provider.Operation{provider.OpHash}
	case a.Kind == provider.KindKDF:
		return []provider.Operation{provider.OpImport, provider.OpDerive}
	}
	return append([]provider.Operation{provider.OpGenerate, provider.OpImport}, provider.KeyOperations(a)...)
}

// Serves reports whether b serves keys of a made by create (OpGenerate or
// OpImport) with every operation such a key has: what the router asks
// before it places a key on b.
func Serves(b provider.Backend, a provider.Algorithm, create provider.Operation) bool {
	if b.Supports(a, create) == provider.Unsupported {
		return false
	}
	for _, op := range provider.KeyOperations(a) {
		if b.Supports(a, op) == provider.Unsupported {
			return false
		}
	}
	return true
}

// PKCS8 returns priv as PKCS#8 DER.
func PKCS8(t testing.TB, priv any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	return der
}

// RSAKey returns the 2048-bit RSA key (e = 65537) of the Wycheproof PKCS#1
// signature-generation vectors as PKCS#8, a fresh copy each time:
// importing it spares a slow RSA key generation.
func RSAKey(t testing.TB) []byte {
	t.Helper()
	rsaKey.Lock()
	defer rsaKey.Unlock()
	if rsaKey.der == nil {
		for _, v := range vectors.RSASigGen(t) {
			if v.Alg == "RS256" && v.Result == vectors.Valid {
				rsaKey.der = v.PrivateKeyPKCS8
				break
			}
		}
		require.NotNil(t, rsaKey.der, "no RS256 key in the RSA vectors")
	}
	return bytes.Clone(rsaKey.der)
}

var rsaKey struct {
	sync.Mutex
	der []byte
}

// Sign signs msg in one Update with k, which must be a provider.Signer,
// and checks that the signature is as long as the state's Size.
func Sign(t testing.TB, k provider.Key, msg []byte) []byte {
	t.Helper()
	s, ok := k.(provider.Signer)
	require.True(t, ok, "%s is not a Signer", k.Algorithm())
	st, err := s.NewSignState(ctx, 1<<20)
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.Update(ctx, msg))
	sig, err := st.Sign(ctx, nil)
	require.NoError(t, err)
	require.Len(t, sig, st.Size())
	return sig
}

// PublicKey returns the public key that k exports, parsed by crypto/x509.
func PublicKey(t testing.TB, k provider.Key) crypto.PublicKey {
	t.Helper()
	e, ok := k.(provider.PublicKeyExporter)
	require.True(t, ok, "%s does not export its public key", k.Algorithm())
	der, err := e.PublicKeyDER(ctx)
	require.NoError(t, err)
	pub, err := x509.ParsePKIXPublicKey(der)
	require.NoError(t, err)
	return pub
}

// Verify reports whether sig is a signature of a over msg under pub,
// checked with the standard library as a relying party would: Ed25519;
// ECDSA as JWS r‖s of exactly twice the width of the group order; RSA
// PKCS#1 v1.5; RSASSA-PSS with MGF1 of the same hash and a salt as long as
// the hash (RFC 7518 §3.5).
func Verify(a provider.Algorithm, pub crypto.PublicKey, msg, sig []byte) bool {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return a.Curve == "Ed25519" && ed25519.Verify(p, msg, sig)
	case *ecdsa.PublicKey:
		return p.Curve.Params().Name == a.Curve && verifyP1363(p, hostDigest(a.Hash, msg), sig)
	case *rsa.PublicKey:
		if !a.IsRSA() {
			return false
		}
		h := hostHash(a.Hash)
		if a.IsPSS() {
			return rsa.VerifyPSS(p, h, hostDigest(a.Hash, msg), sig, &rsa.PSSOptions{SaltLength: h.Size()}) == nil
		}
		return rsa.VerifyPKCS1v15(p, h, hostDigest(a.Hash, msg), sig) == nil
	}
	return false
}

// verifyP1363 verifies an IEEE P1363 (r‖s) ECDSA signature: exactly twice
// the width of the group order, no other length.
func verifyP1363(pub *ecdsa.PublicKey, digest, sig []byte) bool {
	n := (pub.Curve.Params().N.BitLen() + 7) / 8
	if len(sig) != 2*n {
		return false
	}
	r := new(big.Int).SetBytes(sig[:n])
	s := new(big.Int).SetBytes(sig[n:])
	return ecdsa.Verify(pub, digest, r, s)
}

// hostHash is the standard library's hash of a registered fixed-length
// hash's name.
func hostHash(name string) crypto.Hash {
	h, ok := map[string]crypto.Hash{
		"SHA-1": crypto.SHA1, "SHA-224": crypto.SHA224, "SHA-256": crypto.SHA256,
		"SHA-384": crypto.SHA384, "SHA-512": crypto.SHA512,
		"SHA3-224": crypto.SHA3_224, "SHA3-256": crypto.SHA3_256,
		"SHA3-384": crypto.SHA3_384, "SHA3-512": crypto.SHA3_512,
	}[name]
	if !ok {
		panic("providertest: no host hash " + name)
	}
	return h
}

// hostDigest hashes msg on the host with the hash called name.
func hostDigest(name string, msg []byte) []byte {
	h := hostHash(name).New()
	h.Write(msg)
	return h.Sum(nil)
}

// tally counts outcomes of vector runs and logs them when the test ends,
// so that a run says which cases it checked and which the rules excluded.
type tally struct {
	mu sync.Mutex
	m  map[string]int
}

func newTally(t *testing.T) *tally {
	c := &tally{m: map[string]int{}}
	t.Cleanup(func() {
		keys := make([]string, 0, len(c.m))
		for k := range c.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "\n  %5d  %s", c.m[k], k)
		}
		t.Logf("vector outcomes:%s", b.String())
	})
	return c
}

func (c *tally) add(format string, args ...any) {
	c.mu.Lock()
	c.m[fmt.Sprintf(format, args...)]++
	c.mu.Unlock()
}

// uniqueMessages returns the distinct messages of a vector set, in order.
func uniqueMessages(msgs [][]byte) [][]byte {
	seen := map[string]bool{}
	var out [][]byte
	for _, m := range msgs {
		if !seen[string(m)] {
			seen[string(m)] = true
			out = append(out, slices.Clone(m))
		}
	}
	return out
}
