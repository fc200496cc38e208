package softfallback_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"fmt"
	"hash"
	"math/big"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

var ctx = context.Background()

func alg(name string) provider.Algorithm { return provider.MustLookup(name) }

// generate asks the backend for a key and fails the test on error.
func generate(t testing.TB, b *softfallback.Backend, req provider.KeyRequest) provider.Key {
	t.Helper()
	k, err := b.GenerateKey(ctx, req)
	require.NoError(t, err, "%s", req.Algorithm)
	t.Cleanup(func() { _ = k.Destroy(ctx) })
	return k
}

func importKey(t testing.TB, b *softfallback.Backend, name string, input []byte) provider.Key {
	t.Helper()
	return generate(t, b, provider.KeyRequest{Algorithm: alg(name), Input: input})
}

// rsaVectorKey returns the Wycheproof 2048-bit RSA key (e = 65537) as
// PKCS#8: importing it spares the tests a slow RSA key generation per
// algorithm.
func rsaVectorKey(t testing.TB) []byte {
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
	return rsaKey.der
}

var rsaKey struct {
	sync.Mutex
	der []byte
}

// keyFor returns a fresh key of any keyed algorithm: imported for RSA (see
// rsaVectorKey) and HKDF (which cannot be generated), generated otherwise.
func keyFor(t testing.TB, b *softfallback.Backend, a provider.Algorithm) provider.Key {
	t.Helper()
	switch {
	case a.IsRSA():
		return generate(t, b, provider.KeyRequest{Algorithm: a, Input: rsaVectorKey(t)})
	case a.Kind == provider.KindKDF:
		return generate(t, b, provider.KeyRequest{Algorithm: a, Input: []byte("input keying material"), Hash: alg("SHA-256")})
	}
	return generate(t, b, provider.KeyRequest{Algorithm: a})
}

// keyedAlgorithms returns every registered algorithm that takes a key.
func keyedAlgorithms() []provider.Algorithm {
	var out []provider.Algorithm
	for _, a := range provider.Algorithms() {
		if a.Kind.Keyed() {
			out = append(out, a)
		}
	}
	return out
}

func pkcs8(t testing.TB, priv any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	return der
}

func hostHash(name string) (func() hash.Hash, crypto.Hash) {
	switch name {
	case "SHA-256":
		return sha256.New, crypto.SHA256
	case "SHA-384":
		return sha512.New384, crypto.SHA384
	case "SHA-512":
		return sha512.New, crypto.SHA512
	}
	panic("no hash " + name)
}

func digest(name string, msg []byte) []byte {
	h, _ := hostHash(name)
	d := h()
	d.Write(msg)
	return d.Sum(nil)
}

// sign signs msg in one Update with a key that must be a Signer.
func sign(t testing.TB, k provider.Key, msg []byte) []byte {
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

func publicKey(t testing.TB, k provider.Key) any {
	t.Helper()
	e, ok := k.(provider.PublicKeyExporter)
	require.True(t, ok, "%s does not export its public key", k.Algorithm())
	der, err := e.PublicKeyDER(ctx)
	require.NoError(t, err)
	pub, err := x509.ParsePKIXPublicKey(der)
	require.NoError(t, err)
	return pub
}

// verify checks sig over msg on the host, as a relying party would: JWS
// r‖s for ECDSA, PSS with the salt as long as the hash for PS*.
func verify(a provider.Algorithm, pub any, msg, sig []byte) bool {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(p, msg, sig)
	case *ecdsa.PublicKey:
		return verifyP1363(p, digest(a.Hash, msg), sig)
	case *rsa.PublicKey:
		_, ch := hostHash(a.Hash)
		if a.IsPSS() {
			return rsa.VerifyPSS(p, ch, digest(a.Hash, msg), sig, &rsa.PSSOptions{SaltLength: ch.Size()}) == nil
		}
		return rsa.VerifyPKCS1v15(p, ch, digest(a.Hash, msg), sig) == nil
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

func newECDSAKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	require.NoError(t, err)
	return k
}

// tally counts outcomes of vector runs and logs them at the end of a test.
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
