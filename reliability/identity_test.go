//go:build cgo

package reliability_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/jwstest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// TestGuestCannotNameItself: a managed ES256 key on the token is granted
// to the module named victim.wasm only. A hostile guest (the jws example,
// whose wasm name section was rewritten to say "victim.wasm", as any
// guest's author can) asks for it with private_key_open. Instantiated by
// an embedder without a provider.Guest — with the zero Guest, or with
// wazero directly, in both cases without WithName, so that wazero names
// the module as its name section says — it is anonymous and gets access.
// Named by the embedder as something else, it gets access too. The real
// victim, named victim.wasm by its embedder, opens the key and signs with
// it.
func TestGuestCannotNameItself(t *testing.T) {
	const label, keyName, victim = "identity-victim-es256", "victim-key", "victim.wasm"
	b, fx := tokenBackend(t, hsm.Config{ManagedKeys: []hsm.ManagedKey{{
		Name: keyName, Label: label, Algorithm: provider.MustLookup("ES256"),
		Guests:     []hsm.GuestRule{{Module: victim}},
		Operations: []provider.Operation{provider.OpSign, provider.OpExportPublic},
	}}})
	fx.PKCS11Tool(t, "--keypairgen", "--key-type", "EC:prime256v1", "--label", label, "--id", "1d")
	pubFile := filepath.Join(t.TempDir(), "pub.der")
	fx.PKCS11Tool(t, "--read-object", "--type", "pubkey", "--label", label, "--output-file", pubFile)
	pubDER, err := os.ReadFile(pubFile)
	require.NoError(t, err)
	tokenPub, err := x509.ParsePKIXPublicKey(pubDER)
	require.NoError(t, err)

	router, err := provider.NewRouter(provider.RouterConfig{Primary: b, Policy: provider.FallbackDeny, ManagedKeys: b})
	require.NoError(t, err)
	host, err := wasihost.New(router, wasihost.Options{})
	require.NoError(t, err)
	ctx := context.Background()
	rt := testguest.NewRuntime(t)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	require.NoError(t, host.Instantiate(ctx, rt))
	jws := testguest.Build(t, "github.com/wasihsm/wasihsm/examples/jws")
	honest, err := rt.CompileModule(ctx, jws)
	require.NoError(t, err)
	hostile, err := rt.CompileModule(ctx, testguest.WithModuleName(t, jws, victim))
	require.NoError(t, err)
	require.Equal(t, victim, hostile.Name(), "the control: wazero reads the name the guest wrote")

	run := func(t *testing.T, instantiate func(wazero.ModuleConfig) (api.Module, error)) (stdout, stderr string, code uint32) {
		t.Helper()
		var out, errOut bytes.Buffer
		// No WithName: the module is named as its name section says.
		cfg := wazero.NewModuleConfig().WithArgs("jws", "-key", keyName).
			WithStdout(&out).WithStderr(&errOut).WithRandSource(rand.Reader).WithSysWalltime()
		mod, err := instantiate(cfg)
		if mod != nil {
			defer mod.Close(ctx)
		}
		var exit *sys.ExitError
		switch {
		case errors.As(err, &exit):
			code = exit.ExitCode()
		case err != nil:
			t.Fatalf("instantiate: %v; stderr: %s", err, errOut.String())
		}
		return out.String(), errOut.String(), code
	}

	refused := []struct {
		name        string
		instantiate func(wazero.ModuleConfig) (api.Module, error)
	}{
		{"InstantiateGuest with the zero Guest", func(cfg wazero.ModuleConfig) (api.Module, error) {
			return host.InstantiateGuest(ctx, rt, hostile, cfg, provider.Guest{})
		}},
		{"wazero directly", func(cfg wazero.ModuleConfig) (api.Module, error) {
			return rt.InstantiateModule(ctx, hostile, cfg)
		}},
		{"InstantiateGuest naming it otherwise", func(cfg wazero.ModuleConfig) (api.Module, error) {
			return host.InstantiateGuest(ctx, rt, hostile, cfg, provider.Guest{Name: "hostile.wasm"})
		}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := run(t, tt.instantiate)
			assert.Equal(t, uint32(1), code, "stdout: %s", stdout)
			assert.Equal(t, "jws: open the managed key \""+keyName+"\": wasicrypto: private_key_open: access\n", stderr)
			assert.Empty(t, stdout, "nothing signed")
		})
	}

	t.Run("the victim, named by its embedder", func(t *testing.T) {
		stdout, stderr, code := run(t, func(cfg wazero.ModuleConfig) (api.Module, error) {
			return host.InstantiateGuest(ctx, rt, honest, cfg, provider.Guest{Name: victim})
		})
		require.Zero(t, code, "stderr: %s", stderr)
		assert.True(t, tokenPub.(*ecdsa.PublicKey).Equal(jwstest.Check(t, stdout).Key), "the guest signs with the managed key")
	})
}
