//go:build cgo

package main

import (
	"crypto/ecdsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/jwstest"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
)

// TestManagedKeyThroughCLI: an operator provisions a key on the token with
// pkcs11-tool and grants it to one guest in the config file; that guest
// signs with it (the same key every run, verified with the public key the
// token holds), another guest is refused, and the key stays on the token.
func TestManagedKeyThroughCLI(t *testing.T) {
	fx := softhsmtest.Token(t)
	const label = "cli-managed-es256"
	fx.PKCS11Tool(t, "--keypairgen", "--key-type", "EC:prime256v1", "--label", label, "--id", "a1")
	dir := t.TempDir()
	pubFile := filepath.Join(dir, "pub.der")
	fx.PKCS11Tool(t, "--read-object", "--type", "pubkey", "--label", label, "--output-file", pubFile)
	pubDER, err := os.ReadFile(pubFile)
	require.NoError(t, err)
	tokenPub, err := x509.ParsePKIXPublicKey(pubDER)
	require.NoError(t, err, "pkcs11-tool's public key")

	wasm := testguest.Build(t, "github.com/wasihsm/wasihsm/examples/jws")
	for _, name := range []string{"jws.wasm", "other.wasm"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), wasm, 0o644))
	}
	cfg := filepath.Join(dir, "wasihsm.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`backend: pkcs11
fallback: deny
keys:
  - name: signing
    label: `+label+`
    algorithm: ES256
    guests: [{module: jws.wasm}]
    operations: [sign, export-public]
`), 0o600))
	env := map[string]string{
		"WASIHSM_CONFIG":        cfg,
		"WASIHSM_PKCS11_MODULE": fx.Module,
		"WASIHSM_TOKEN":         fx.Label,
		"WASIHSM_PIN":           fx.PIN,
	}

	for run := 0; run < 2; run++ {
		c, stdout, stderr := newTestCLI(env)
		code := runCLI(c, "run", "--cache-dir", filepath.Join(dir, "cache"), filepath.Join(dir, "jws.wasm"), "-key", "signing")
		require.Zero(t, code, "stderr: %s", stderr.String())
		assert.True(t, tokenPub.(*ecdsa.PublicKey).Equal(jwstest.Check(t, stdout.String()).Key), "the guest signs with the provisioned key")
	}

	c, _, stderr := newTestCLI(env)
	code := runCLI(c, "run", "--cache-dir", filepath.Join(dir, "cache"), filepath.Join(dir, "other.wasm"), "-key", "signing")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "access", "another guest is refused the key")

	// Still on the token.
	out := fx.PKCS11Tool(t, "--list-objects", "--type", "privkey")
	assert.Contains(t, out, label)
}
