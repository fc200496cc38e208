//go:build cgo

package hsm_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/tokentest"
	"github.com/wasihsm/wasihsm/provider"
)

var ctx = context.Background()

// TestMain stops the p11-kit server and removes the test token when the
// tests are done (see package softhsmtest), and the other tokens' fixtures
// (see package tokentest).
func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Shutdown()
	tokentest.Shutdown()
	os.Exit(code)
}

// tokenConfig is the configuration of a token of package tokentest.
func tokenConfig(tok *tokentest.Token) hsm.Config {
	cfg := hsm.Config{Module: tok.Module, InitArgs: tok.InitArgs, Token: hsm.TokenSelector{Label: tok.Label}}
	if tok.PIN != "" {
		cfg.PIN = pinOf(tok.PIN)
	}
	return cfg
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

// tpm2 is the tpm2-pkcs11 token on a software TPM (see package
// tokentest).
func tpm2(t testing.TB) target {
	t.Helper()
	fx := tokentest.TPM2(t)
	return target{name: "tpm2-pkcs11", module: fx.Module, label: fx.Label, pin: fx.PIN}
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

func destroy(t testing.TB, k provider.Key) {
	t.Helper()
	require.NoError(t, k.Destroy(ctx))
}

// inspect opens a session of the test's own on tg's token (see
// softhsmtest.Inspector). A backend on tg must stay open while it is used.
func inspect(t testing.TB, tg target) *softhsmtest.Inspector {
	t.Helper()
	return softhsmtest.Inspect(t, tg.module, tg.label, tg.pin)
}
