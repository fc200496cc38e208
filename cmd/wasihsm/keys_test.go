//go:build cgo

package main

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/config"
	"github.com/wasihsm/wasihsm/internal/jwstest"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
)

// TestKeysGenerateForGuest: `wasihsm keys generate` makes an ES256 key on
// the token with the attributes of a managed key; the configuration it
// prints is what internal/config parses, and with it the JWS example
// signs with that key (verified with the public key keys printed), while
// the key's value cannot be read off the token.
func TestKeysGenerateForGuest(t *testing.T) {
	fx := softhsmtest.Token(t)
	const label = "cli-keys-jws"
	env := map[string]string{
		"WASIHSM_PKCS11_MODULE": fx.Module,
		"WASIHSM_TOKEN":         fx.Label,
		"WASIHSM_PIN":           fx.PIN,
	}
	c, stdout, stderr := newTestCLI(env)
	code := runCLI(c, "keys", "generate", "--algorithm", "ES256", "--label", label, "--id", "c1e5",
		"--guest", "jws.wasm", "--operations", "sign,export-public", "--json")
	require.Zero(t, code, "stderr: %s", stderr.String())
	var out keyJSON
	require.NoError(t, json.Unmarshal([]byte(stdout.String()), &out))
	assert.Equal(t, label, out.Label)
	assert.Equal(t, "c1e5", out.ID)
	assert.Equal(t, "EC P-256", out.Type)
	assert.True(t, out.Token && out.Sensitive && !out.Extractable && out.Private && out.AlwaysSensitive && out.NeverExtractable, "%+v", out)
	block, _ := pem.Decode([]byte(out.PublicKeyPEM))
	require.NotNil(t, block)
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	require.NoError(t, err)

	// The token says the same to a session of its own: two token objects,
	// the private one sensitive, never extractable, private; its value
	// cannot be read.
	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)
	privs := in.Find(pkcs11.NewAttribute(pkcs11.CKA_LABEL, label), pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY))
	require.Len(t, privs, 1)
	a := in.Attrs(privs[0], pkcs11.CKA_TOKEN, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_PRIVATE,
		pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_NEVER_EXTRACTABLE, pkcs11.CKA_SIGN, pkcs11.CKA_ID)
	for ty, want := range map[uint]byte{pkcs11.CKA_TOKEN: 1, pkcs11.CKA_SENSITIVE: 1, pkcs11.CKA_EXTRACTABLE: 0, pkcs11.CKA_PRIVATE: 1,
		pkcs11.CKA_ALWAYS_SENSITIVE: 1, pkcs11.CKA_NEVER_EXTRACTABLE: 1, pkcs11.CKA_SIGN: 1} {
		assert.Equal(t, []byte{want}, a[ty], "attribute 0x%x", ty)
	}
	assert.Equal(t, []byte{0xc1, 0xe5}, a[pkcs11.CKA_ID])
	_, err = in.Ctx().GetAttributeValue(in.Session(), privs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	require.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_SENSITIVE))
	pubs := in.Find(pkcs11.NewAttribute(pkcs11.CKA_LABEL, label), pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true))
	require.Len(t, pubs, 1)

	// The printed configuration parses to the key it names.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "wasihsm.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("backend: pkcs11\nfallback: deny\n"+out.Config), 0o600))
	env["WASIHSM_CONFIG"] = cfg
	s, err := config.Load(config.Input{Flags: map[string]string{}, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	mk, ok := s.ManagedKey(label)
	require.True(t, ok)
	assert.Equal(t, label, mk.Label)
	assert.Equal(t, []byte{0xc1, 0xe5}, mk.ID)
	assert.Equal(t, "ES256", mk.Algorithm.Name)
	assert.Equal(t, []config.KeyGuest{{Module: "jws.wasm"}}, mk.Guests)
	assert.Equal(t, []provider.Operation{provider.OpSign, provider.OpExportPublic}, mk.Operations)

	// The guest signs with it.
	wasm := testguest.Build(t, "github.com/wasihsm/wasihsm/examples/jws")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jws.wasm"), wasm, 0o644))
	c, stdout, stderr = newTestCLI(env)
	// The scripts' compilation cache: compiling jws.wasm under the race
	// detector takes long, and it is the same module every run.
	cacheDir := filepath.Join(sharedCacheHome(t), "wasihsm", "wazero")
	code = runCLI(c, "run", "--cache-dir", cacheDir, filepath.Join(dir, "jws.wasm"), "-key", label)
	require.Zero(t, code, "stderr: %s", stderr.String())
	assert.True(t, pub.(*ecdsa.PublicKey).Equal(jwstest.Check(t, stdout.String()).Key), "the guest signs with the key that keys generated")

	// doctor agrees.
	c, stdout, stderr = newTestCLI(env)
	code = runCLI(c, "doctor")
	require.Zero(t, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	assert.Contains(t, stdout.String(), `PASS  managed key "`+label+`"`)
}
