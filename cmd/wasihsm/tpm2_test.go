//go:build cgo

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/internal/tokentest"
)

// TestSlotsAndDoctorOnTPM2: on tpm2-pkcs11, `slots` shows what probing
// found, each refusal with the token's CKR code and the quirks found; and
// `doctor` fails a managed ES512 key, which the token makes but cannot
// use (its P-521 keys are broken), with a fix that names the command,
// while a managed ES256 key passes.
func TestSlotsAndDoctorOnTPM2(t *testing.T) {
	fx := tokentest.TPM2(t)
	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)
	p := in.Ctx()
	s, err := p.OpenSession(in.Slot(), pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.CloseSession(s) })
	// Managed keys as an operator makes them: token objects.
	tokentest.ECSigningKey(t, p, s, tokentest.P256Params, "cli-p256", []byte("cli-p256"))
	tokentest.ECSigningKey(t, p, s, tokentest.P521Params, "cli-p521", []byte("cli-p521"))

	dir := t.TempDir()
	pin := filepath.Join(dir, "pin")
	require.NoError(t, os.WriteFile(pin, []byte(fx.PIN), 0o600))
	cfg := filepath.Join(dir, "wasihsm.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`fallback: allow
pkcs11:
  module: `+fx.Module+`
  token: `+fx.Label+`
  pin: file:`+pin+`
keys:
  - name: es256
    label: cli-p256
    algorithm: ES256
    operations: [sign]
    guests: [{module: g.wasm}]
  - name: es512
    label: cli-p521
    algorithm: ES512
    operations: [sign]
    guests: [{module: g.wasm}]
`), 0o644))

	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		c := &cli{stdin: bytes.NewReader(nil), stdout: &out, stderr: &errOut, lookupEnv: func(string) (string, bool) { return "", false }}
		code := c.run(context.Background(), args)
		return code, out.String() + errOut.String()
	}

	code, out := run("slots", "--config", cfg)
	require.Equal(t, exitOK, code, out)
	assert.Regexp(t, `(?m)^  probed +yes`, out)
	assert.Regexp(t, `(?m)^  quirks +read-write-objects$`, out)
	assert.Regexp(t, `(?m)^  SHA-256 +hash +token +ok$`, out)
	assert.Regexp(t, `(?m)^  ES256 +signature +software +refused: generate: CKR_ATTRIBUTE_VALUE_INVALID; import: CKR_ATTRIBUTE_VALUE_INVALID$`, out)
	assert.Regexp(t, `(?m)^  A256GCM +aead +software +refused: generate: CKR_FUNCTION_NOT_SUPPORTED$`, out)
	assert.NotContains(t, out, "CKR_SESSION_READ_ONLY")

	code, out = run("doctor", "--config", cfg)
	assert.Equal(t, 1, code, out)
	assert.Regexp(t, `(?m)^PASS  token probed: .*quirks found: read-write-objects; the token refuses: .*ES256 \(generate: CKR_ATTRIBUTE_VALUE_INVALID`, out)
	assert.Regexp(t, `(?m)^(PASS|WARN)  managed key "es256": label "cli-p256" \(EC P-256\)`, out, "the ES256 key serves")
	assert.NotRegexp(t, `(?m)^FAIL  managed key "es256"`, out)
	assert.Regexp(t, `(?m)^FAIL  managed key "es512": label "cli-p521" \(EC P-521\): the token holds it but cannot serve it as ES512: its P-521 public key is malformed \(guests are told notsup\)$`, out)
	assert.Regexp(t, `wasihsm keys delete --label cli-p521, then wasihsm keys generate --algorithm ALG --label cli-p521`, out)

	// A guest that opens the key is told notsup, every time, under
	// either policy: the token cannot serve it (never io).
	wasihsm, err := exec.LookPath("wasihsm")
	require.NoError(t, err)
	guest := filepath.Join(dir, "g.wasm")
	require.NoError(t, os.WriteFile(guest, testguest.Build(t, "github.com/wasihsm/wasihsm/conformance/guests/interop"), 0o644))
	for _, policy := range []string{"allow", "deny"} {
		cmd := exec.Command(wasihsm, "run", "--config", cfg, "--fallback", policy, "--cache-dir", filepath.Join(dir, "cache"), guest, "sign-managed", "es512", "ES512")
		var stdout, stderr bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader("message"), &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "the guest fails: %s%s", stdout.String(), stderr.String())
		assert.Equal(t, 1, exit.ExitCode(), stderr.String())
		assert.Equal(t, "errno notsup\n", stdout.String(), "fallback %s; stderr: %s", policy, stderr.String())
	}
	// The ES256 key next to it signs.
	cmd := exec.Command(wasihsm, "run", "--config", cfg, "--cache-dir", filepath.Join(dir, "cache"), guest, "sign-managed", "es256", "ES256")
	cmd.Stdin = strings.NewReader("message")
	got, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", got)
	assert.Regexp(t, `(?m)^sig [0-9a-f]{128}$`, string(got))
}
