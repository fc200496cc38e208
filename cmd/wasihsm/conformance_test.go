//go:build cgo

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/conformance/suite"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
)

// testCacheDir is the compilation cache the tests share (the one
// internal/testguest uses), so that the embedded guest compiles once.
func testCacheDir(t *testing.T) string {
	base, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(t.TempDir(), "cache")
	}
	return filepath.Join(base, "wasihsm", "test-wazero")
}

// TestConformanceOnToken: `wasihsm conformance --json` against a SoftHSM2
// token with fallback deny passes, answering notsup for what SoftHSM2 lacks
// (SHA-3, X25519), and the token holds the same objects afterwards, seen
// from this process (session objects too) and from pkcs11-tool. (The text
// form is tested in conformance/suite; the software backend in make
// conformance.)
func TestConformanceOnToken(t *testing.T) {
	fx := softhsmtest.Token(t)
	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)
	// RSA key generation on a busy CI machine can outlast the default
	// deadline of 5s per token call.
	cfg := filepath.Join(t.TempDir(), "wasihsm.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("fallback: deny\npkcs11:\n  call_timeout: 2m\n"), 0o600))
	env := map[string]string{
		"WASIHSM_CONFIG":        cfg,
		"WASIHSM_BACKEND":       "pkcs11",
		"WASIHSM_PKCS11_MODULE": fx.Module,
		"WASIHSM_TOKEN":         fx.Label,
		"WASIHSM_PIN":           fx.PIN,
	}
	objects := in.Find()
	listed := fx.PKCS11Tool(t, "--list-objects")

	c, stdout, stderr := newTestCLI(env)
	code := runCLI(c, "conformance", "--json", "--cache-dir", testCacheDir(t))
	require.Zero(t, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Empty(t, stderr.String())
	var res suite.Result
	require.NoError(t, json.Unmarshal([]byte(stdout.String()), &res))
	assert.False(t, res.Failed())
	assert.Equal(t, "deny", res.Policy)
	assert.Equal(t, "pkcs11", res.Primary)
	assert.Len(t, res.Cells, len(suite.Rows()))
	assert.Greater(t, res.VectorsPassed, 2000, "the vector files were all read")
	status := map[suite.Row]suite.Status{}
	for _, c := range res.Cells {
		status[c.Row] = c.Status
	}
	// SoftHSM2 has neither SHA-3 nor X25519; what it has passes.
	for row, want := range map[suite.Row]suite.Status{
		{Algorithm: "SHA3-256", Operation: "hash"}:   suite.NotSup,
		{Algorithm: "SHAKE128", Operation: "hash"}:   suite.NotSup,
		{Algorithm: "X25519", Operation: "derive"}:   suite.NotSup,
		{Algorithm: "SHA-256", Operation: "hash"}:    suite.Pass,
		{Algorithm: "ES256", Operation: "sign"}:      suite.Pass,
		{Algorithm: "RS256", Operation: "generate"}:  suite.Pass,
		{Algorithm: "A256GCM", Operation: "decrypt"}: suite.Pass,
		{Algorithm: "HKDF", Operation: "derive"}:     suite.Pass, // composed from the token's HMAC
	} {
		assert.Equal(t, want, status[row], "%v", row)
	}
	for _, sc := range res.Scenarios {
		assert.NotEqual(t, suite.Fail, sc.Status, "%s: %s", sc.Name, sc.Detail)
	}

	assert.Equal(t, objects, in.Find(), "every object the suite made is gone")
	assert.Equal(t, listed, fx.PKCS11Tool(t, "--list-objects"), "pkcs11-tool sees the token as it was")
}

// TestConformanceUsage: mistakes on the command line and in the
// configuration are usage errors, and an unreachable token is 125.
func TestConformanceUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"argument", []string{"conformance", "extra"}, nil, exitUsage, "conformance takes no arguments"},
		{"unknown flag", []string{"conformance", "--nope"}, nil, exitUsage, "flag provided but not defined"},
		{"bad fallback", []string{"conformance", "--fallback", "maybe"}, nil, exitUsage, "fallback"},
		{"no such module", []string{"conformance", "--backend", "pkcs11", "--pkcs11-module", "/nonexistent/libnone.so", "--token", "x"},
			map[string]string{"WASIHSM_PIN": "1234"}, exitInternal, "/nonexistent/libnone.so"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, stdout, stderr := newTestCLI(tc.env)
			assert.Equal(t, tc.code, runCLI(c, tc.args...), "stderr: %s", stderr)
			assert.Contains(t, stderr.String(), tc.want)
			assert.Empty(t, stdout.String())
		})
	}
}
