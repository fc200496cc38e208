//go:build !wasip1

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasihsm/wasihsm/internal/jwstest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

// runJWS runs the example guest on the software backend, as `wasihsm run`
// does, and returns its stdout, stderr and exit code.
func runJWS(t *testing.T, args ...string) (string, string, uint32) {
	t.Helper()
	ctx := context.Background()
	wasm := testguest.Build(t, "github.com/wasihsm/wasihsm/examples/jws")
	router, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
	require.NoError(t, err)
	host, err := wasihost.New(router, wasihost.Options{})
	require.NoError(t, err)
	rt := testguest.NewRuntime(t)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	require.NoError(t, host.Instantiate(ctx, rt))
	compiled, err := rt.CompileModule(ctx, wasm)
	require.NoError(t, err)
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().WithArgs(append([]string{"jws"}, args...)...).
		WithStdout(&stdout).WithStderr(&stderr).WithRandSource(rand.Reader).WithSysWalltime()
	mod, err := host.InstantiateGuest(ctx, rt, compiled, cfg, provider.Guest{Name: "jws"})
	var exit *sys.ExitError
	code := uint32(0)
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	if mod != nil {
		require.NoError(t, mod.Close(ctx))
	}
	require.Equal(t, wasihost.Stats{}, host.Stats(), "the guest's key is destroyed when it exits")
	return stdout.String(), stderr.String(), code
}

func TestJWSVerifiesOnTheHost(t *testing.T) {
	out, stderr, code := runJWS(t)
	require.Zero(t, code, stderr)
	assert.JSONEq(t, `{"iss":"wasihsm","sub":"jws-example","aud":"demo"}`, string(jwstest.Check(t, out).Payload))
}

func TestJWSWithPayloadAndFreshKeys(t *testing.T) {
	out1, _, code := runJWS(t, `{"sub":"alice"}`)
	require.Zero(t, code)
	out2, _, code := runJWS(t, `{"sub":"alice"}`)
	require.Zero(t, code)
	first, second := jwstest.Check(t, out1), jwstest.Check(t, out2)
	assert.JSONEq(t, `{"sub":"alice"}`, string(first.Payload))
	assert.False(t, first.Key.Equal(second.Key), "each run generates its own key")
}

func TestJWSErrors(t *testing.T) {
	_, stderr, code := runJWS(t, "not json")
	assert.Equal(t, uint32(1), code)
	assert.Contains(t, stderr, "JSON object")

	_, stderr, code = runJWS(t, "-key", "no-such-key")
	assert.Equal(t, uint32(1), code)
	assert.Contains(t, stderr, "noent")

	_, _, code = runJWS(t, "a", "b")
	assert.Equal(t, uint32(2), code)
}
