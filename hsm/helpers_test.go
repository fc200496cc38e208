//go:build cgo

package hsm_test

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
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
)

var ctx = context.Background()

// TestMain stops the p11-kit server and removes the test token when the
// tests are done (see package softhsmtest).
func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Shutdown()
	os.Exit(code)
}

func alg(name string) provider.Algorithm { return provider.MustLookup(name) }

// target is a way to reach the test token: directly through SoftHSM2, or
// through p11-kit remoting.
type target struct {
	name   string
	module string
	label  string
	pin    string
}

func direct(t testing.TB) target {
	t.Helper()
	fx := softhsmtest.Token(t)
	return target{name: "softhsm2", module: fx.Module, label: fx.Label, pin: fx.PIN}
}

func remote(t testing.TB) target {
	t.Helper()
	fx := softhsmtest.Token(t)
	r := fx.Remote(t)
	return target{name: "p11-kit", module: r.Module, label: r.Label, pin: fx.PIN}
}

// targets returns both ways to the token; the direct one first, so that
// SoftHSM2's configuration is set before anything loads a module.
func targets(t testing.TB) []target { return []target{direct(t), remote(t)} }

func pinOf(pin string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(pin), nil }
}

func (tg target) config() hsm.Config {
	return hsm.Config{Module: tg.module, Token: hsm.TokenSelector{Label: tg.label}, PIN: pinOf(tg.pin)}
}

// open opens a backend on tg, with edit applied to the configuration, and
// closes it when the test ends.
func open(t testing.TB, tg target, edit ...func(*hsm.Config)) *hsm.Backend {
	t.Helper()
	cfg := tg.config()
	for _, e := range edit {
		e(&cfg)
	}
	b, err := hsm.Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

func generate(t testing.TB, b *hsm.Backend, req provider.KeyRequest) provider.Key {
	t.Helper()
	k, err := b.GenerateKey(ctx, req)
	require.NoError(t, err, "%s", req.Algorithm)
	require.Equal(t, req.Algorithm, k.Algorithm())
	require.Equal(t, "pkcs11", k.Backend())
	return k
}

func importKey(t testing.TB, b *hsm.Backend, name string, input []byte) provider.Key {
	t.Helper()
	return generate(t, b, provider.KeyRequest{Algorithm: alg(name), Input: input})
}

func destroy(t testing.TB, k provider.Key) {
	t.Helper()
	require.NoError(t, k.Destroy(ctx))
}

func pkcs8(t testing.TB, priv any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	return der
}

// rsaVectorKey returns the Wycheproof 2048-bit RSA key as PKCS#8:
// importing it spares a slow RSA generation per test.
func rsaVectorKey(t testing.TB) []byte {
	t.Helper()
	for _, v := range vectors.RSASigGen(t) {
		if v.Alg == "RS256" && v.Result == vectors.Valid {
			return v.PrivateKeyPKCS8
		}
	}
	t.Fatal("no RS256 key in the RSA vectors")
	return nil
}

// supported reports whether b serves every operation of a key of alg
// created by create, as the router would ask.
func supported(b *hsm.Backend, a provider.Algorithm, create provider.Operation) bool {
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
		n := (p.Curve.Params().N.BitLen() + 7) / 8
		if len(sig) != 2*n {
			return false
		}
		return ecdsa.Verify(p, digest(a.Hash, msg), new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:]))
	case *rsa.PublicKey:
		_, ch := hostHash(a.Hash)
		if a.IsPSS() {
			return rsa.VerifyPSS(p, ch, digest(a.Hash, msg), sig, &rsa.PSSOptions{SaltLength: ch.Size()}) == nil
		}
		return rsa.VerifyPKCS1v15(p, ch, digest(a.Hash, msg), sig) == nil
	}
	return false
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

// inspect opens a session of the test's own on tg's token (see
// softhsmtest.Inspector). A backend on tg must stay open while it is used.
func inspect(t testing.TB, tg target) *softhsmtest.Inspector {
	t.Helper()
	return softhsmtest.Inspect(t, tg.module, tg.label, tg.pin)
}
