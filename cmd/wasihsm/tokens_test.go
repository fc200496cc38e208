//go:build cgo && linux

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/jwstest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/internal/tokentest"
)

// jwsOnToken says where the JWS example's ES256 key lives on each token
// with fallback allow: on the token, or in software where the token lacks
// ES256 (docs/tokens.md).
var jwsOnToken = map[string]bool{
	tokentest.NameOpenCryptoki: false, // no EC at all
	tokentest.NameTPM2:         false, // key pairs only as token objects: no guest keys (docs/semantics.md#token-only-tokens)
	tokentest.NameNSS:          true,
}

// TestJWSOnTokens runs the JWS example (examples/jws) through `wasihsm
// run`, a process of its own, on each token of internal/tokentest, as a
// user configures it: with fallback allow it signs (in software where the
// token lacks ES256, with the notice saying so) and the JWS verifies; with
// fallback deny, where the token lacks ES256, the guest is told notsup and
// nothing else.
func TestJWSOnTokens(t *testing.T) {
	// The test binary itself, which testscript.Main puts in PATH as
	// wasihsm.
	wasihsm, err := exec.LookPath("wasihsm")
	require.NoError(t, err)
	dir := t.TempDir()
	jws := filepath.Join(dir, "jws.wasm")
	require.NoError(t, os.WriteFile(jws, testguest.Build(t, "github.com/wasihsm/wasihsm/examples/jws"), 0o644))
	cache := filepath.Join(dir, "cache")

	for _, fx := range tokentest.All {
		t.Run(fx.Name, func(t *testing.T) {
			tok := fx.Token(t)
			cfg := tokenConfigFile(t, tok)
			run := func(args ...string) (stdout, stderr string, code int) {
				var out, errOut bytes.Buffer
				cmd := exec.Command(wasihsm, append([]string{"run", "--config", cfg, "--cache-dir", cache}, args...)...)
				cmd.Stdout, cmd.Stderr = &out, &errOut
				err := cmd.Run()
				var exit *exec.ExitError
				switch {
				case errors.As(err, &exit):
					code = exit.ExitCode()
				case err != nil:
					t.Fatalf("run wasihsm: %v", err)
				}
				return out.String(), errOut.String(), code
			}

			payload := `{"sub":"` + tok.Name + `"}`
			stdout, stderr, code := run(jws, payload)
			require.Zero(t, code, "stderr: %s", stderr)
			got := jwstest.Check(t, stdout)
			assert.Equal(t, payload, string(got.Payload))
			inSoftware := strings.Contains(stderr, "algorithm runs in the fallback backend")
			assert.Equal(t, !jwsOnToken[tok.Name], inSoftware, "ES256 in software exactly where %s lacks it; stderr: %s", tok.Version, stderr)
			if inSoftware {
				assert.Contains(t, stderr, "algorithm=ES256")
			}

			if !jwsOnToken[tok.Name] {
				_, stderr, code := run("--fallback", "deny", jws, payload)
				assert.Equal(t, 1, code, "the guest fails: %s", stderr)
				assert.Regexp(t, `(?m)^jws: .*\bnotsup\b`, stderr, "the token lacks ES256, and the guest is told so")
				for _, wrong := range []string{"access", "inval", " io"} {
					assert.NotContains(t, stderr, wrong)
				}
			}
		})
	}
}

// tokenConfig writes a wasihsm configuration for tok with fallback allow,
// its PIN (if any) in a file, and returns its path.
func tokenConfigFile(t *testing.T, tok *tokentest.Token) string {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("fallback: allow\npkcs11:\n")
	b.WriteString("  module: " + tok.Module + "\n")
	b.WriteString("  token: " + tok.Label + "\n")
	if tok.PIN != "" {
		pin := filepath.Join(dir, "pin")
		require.NoError(t, os.WriteFile(pin, []byte(tok.PIN+"\n"), 0o600))
		b.WriteString("  pin: file:" + pin + "\n")
	}
	if tok.InitArgs != "" {
		b.WriteString("  init_args: \"" + tok.InitArgs + "\"\n")
	}
	cfg := filepath.Join(dir, "wasihsm.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(b.String()), 0o600))
	return cfg
}
