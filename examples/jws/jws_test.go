//go:build !wasip1

package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

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

// verifyJWS checks a compact ES256 JWS with the standard library and returns
// its payload.
func verifyJWS(t *testing.T, jws string, pub *ecdsa.PublicKey) []byte {
	t.Helper()
	parts := strings.Split(jws, ".")
	require.Len(t, parts, 3, "compact JWS")
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	var h struct{ Alg, Typ string }
	require.NoError(t, json.Unmarshal(header, &h))
	assert.Equal(t, "ES256", h.Alg)
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	require.NoError(t, err)
	require.Len(t, sig, 64, "ES256 signature is r‖s, 64 bytes (RFC 7518 §3.4)")
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	require.True(t, ecdsa.Verify(pub, digest[:], r, s), "the JWS signature verifies with the exported public key")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	return payload
}

func parseOutput(t *testing.T, out string) (string, *ecdsa.PublicKey) {
	t.Helper()
	jws, rest, ok := strings.Cut(out, "\n")
	require.True(t, ok, out)
	block, _ := pem.Decode([]byte(rest))
	require.NotNil(t, block, "a PEM block follows the JWS: %q", rest)
	assert.Equal(t, "PUBLIC KEY", block.Type)
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	require.NoError(t, err)
	ec, ok := pub.(*ecdsa.PublicKey)
	require.True(t, ok, "%T", pub)
	return jws, ec
}

func TestJWSVerifiesOnTheHost(t *testing.T) {
	out, stderr, code := runJWS(t)
	require.Zero(t, code, stderr)
	jws, pub := parseOutput(t, out)
	payload := verifyJWS(t, jws, pub)
	assert.JSONEq(t, `{"iss":"wasihsm","sub":"jws-example","aud":"demo"}`, string(payload))
}

func TestJWSWithPayloadAndFreshKeys(t *testing.T) {
	out1, _, code := runJWS(t, `{"sub":"alice"}`)
	require.Zero(t, code)
	out2, _, code := runJWS(t, `{"sub":"alice"}`)
	require.Zero(t, code)
	jws1, pub1 := parseOutput(t, out1)
	_, pub2 := parseOutput(t, out2)
	assert.JSONEq(t, `{"sub":"alice"}`, string(verifyJWS(t, jws1, pub1)))
	assert.False(t, pub1.Equal(pub2), "each run generates its own key")
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
