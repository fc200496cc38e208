//go:build cgo

package languages_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/jwstest"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/internal/wasmtoolchain"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

// jwsExamples are the JWS signers of both SDKs (like examples/jws).
var jwsExamples = []contractGuest{
	{"c", func(tb testing.TB) []byte { return wasmtoolchain.C(tb, "guest/c/examples/jws.c") }},
	{"rust", func(tb testing.TB) []byte { return wasmtoolchain.Rust(tb, "guest/rust", "jws") }},
}

// oneManagedKey serves one key under one name, to every guest: the
// examples' -key path.
type oneManagedKey struct {
	name string
	key  func(context.Context) (provider.Key, error)
	mu   sync.Mutex
}

func (m *oneManagedKey) OpenManagedKey(ctx context.Context, name string, _ provider.Guest) (provider.Key, error) {
	if name != m.name {
		return nil, fmt.Errorf("test: managed key %q: %w", name, provider.ErrNotFound)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.key(ctx)
}

// TestJWSExamples: the C and Rust JWS signers print a JWS that verifies
// with the public key they print, with a key generated on SoftHSM2 with
// the fallback denied (so it is made in the token), and on the software
// backend; a missing managed key fails with noent.
func TestJWSExamples(t *testing.T) {
	fx := softhsmtest.Token(t)
	token := tokenBackend(t, fx)
	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)
	for _, ex := range jwsExamples {
		t.Run(ex.lang, func(t *testing.T) {
			wasm := ex.build(t)
			for _, cfg := range []struct {
				name string
				rc   provider.RouterConfig
			}{
				{"software", provider.RouterConfig{Primary: softfallback.New()}},
				{"softhsm2-deny", provider.RouterConfig{Primary: token, Fallback: softfallback.New(), Policy: provider.FallbackDeny}},
			} {
				t.Run(cfg.name, func(t *testing.T) {
					before := len(in.SessionObjects())
					router, err := provider.NewRouter(cfg.rc)
					require.NoError(t, err)
					h := testguest.NewHarness(t, router, wasihost.Options{}, wasm)
					res := h.Run("jws", nil, nil, `{"sub":"polyglot"}`)
					require.Zero(t, res.ExitCode, res.Stderr)
					out := jwstest.Check(t, res.Stdout)
					assert.JSONEq(t, `{"sub":"polyglot"}`, string(out.Payload))
					assert.Equal(t, wasihost.Stats{}, h.Host.Stats(), "the key is destroyed when the guest exits")
					assert.Equal(t, before, len(in.SessionObjects()), "no session object outlives the guest")

					res = h.Run("jws", nil, nil, "-key", "no-such-key")
					assert.Equal(t, uint32(1), res.ExitCode)
					assert.Contains(t, res.Stderr, "noent")
				})
			}
		})
	}
}

// TestJWSExamplesManagedKey: with -key NAME, the examples sign with the
// managed key, whose public key they print.
func TestJWSExamplesManagedKey(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	for _, ex := range jwsExamples {
		t.Run(ex.lang, func(t *testing.T) {
			software := softfallback.New()
			managed := &oneManagedKey{name: "signer", key: func(ctx context.Context) (provider.Key, error) {
				return software.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("ES256"), Input: der})
			}}
			router, err := provider.NewRouter(provider.RouterConfig{Primary: software, ManagedKeys: managed})
			require.NoError(t, err)
			h := testguest.NewHarness(t, router, wasihost.Options{}, ex.build(t))
			res := h.Run("jws", nil, map[string]string{"WASIHSM_JWS_KEY": "signer"})
			require.Zero(t, res.ExitCode, res.Stderr)
			out := jwstest.Check(t, res.Stdout)
			assert.True(t, out.Key.Equal(&priv.PublicKey), "signed with the managed key")
		})
	}
}

// TestSHA256SumExample: the C example hashes its stdin through the host,
// streaming, as sha256sum(1) prints it; an argument names another hash.
func TestSHA256SumExample(t *testing.T) {
	router, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
	require.NoError(t, err)
	h := testguest.NewHarness(t, router, wasihost.Options{}, wasmtoolchain.C(t, "guest/c/examples/sha256sum.c"))
	data := make([]byte, 1<<20+12345) // more than the guest's 64 KiB chunk, not a multiple of it
	_, err = rand.Read(data)
	require.NoError(t, err)

	sum := sha256.Sum256(data)
	res := h.Run("sha256sum", bytes.NewReader(data), nil)
	require.Zero(t, res.ExitCode, res.Stderr)
	assert.Equal(t, hex.EncodeToString(sum[:])+"  -\n", res.Stdout)

	s3 := sha3.Sum512(data)
	res = h.Run("sha256sum", bytes.NewReader(data), nil, "SHA3-512")
	require.Zero(t, res.ExitCode, res.Stderr)
	assert.Equal(t, hex.EncodeToString(s3[:])+"  -\n", res.Stdout)

	empty := sha256.Sum256(nil)
	res = h.Run("sha256sum", nil, nil)
	assert.Equal(t, hex.EncodeToString(empty[:])+"  -\n", res.Stdout)

	res = h.Run("sha256sum", bytes.NewReader(data), nil, "sha-256")
	assert.Equal(t, uint32(1), res.ExitCode)
	assert.Contains(t, res.Stderr, "notsup")
}
