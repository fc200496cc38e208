//go:build cgo && linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/tokentest"
)

// TestDoctorOnTokens: `wasihsm doctor` (a process of its own) on each
// token of internal/tokentest passes exactly when the configuration
// works, and each configuration that does not work fails with a fix that
// names what to change: a wrong PIN (on NSS softokn, whose database has
// no password, any PIN), a managed key of an algorithm the token cannot
// run, and NSS softokn without its init args.
func TestDoctorOnTokens(t *testing.T) {
	wasihsm := lookWasihsm(t)
	type edit func(cfg string) string
	setPIN := func(pin string) edit {
		return func(cfg string) string {
			file := filepath.Join(t.TempDir(), "pin")
			require.NoError(t, os.WriteFile(file, []byte(pin+"\n"), 0o600))
			cfg = regexp.MustCompile(`(?m)^  pin: .*\n`).ReplaceAllString(cfg, "")
			return strings.Replace(cfg, "pkcs11:\n", "pkcs11:\n  pin: file:"+file+"\n", 1)
		}
	}
	managed := func(alg string) edit {
		return func(cfg string) string {
			return cfg + "keys:\n  - name: cannot\n    label: doctor-cannot\n    algorithm: " + alg + "\n    operations: [sign]\n    guests: [{module: g.wasm}]\n"
		}
	}
	noInitArgs := func(cfg string) string {
		return regexp.MustCompile(`(?m)^  init_args: .*\n`).ReplaceAllString(cfg, "")
	}
	// The algorithm of a managed key that each token cannot run: no EC
	// at all; broken P-521 (the key made below); no EdDSA.
	cannot := map[string]string{tokentest.NameOpenCryptoki: "ES256", tokentest.NameTPM2: "ES512", tokentest.NameNSS: "EdDSA"}

	for _, fx := range tokentest.All {
		t.Run(fx.Name, func(t *testing.T) {
			tok := fx.Token(t)
			base := tokenConfigFile(t, tok)
			text, err := os.ReadFile(base)
			require.NoError(t, err)
			if tok.Name == tokentest.NameTPM2 {
				// tpm2-pkcs11 makes the P-521 key (and stores it broken).
				makeP521(t, tok, "doctor-cannot")
			}
			cases := []struct {
				name string
				edit edit
				fail string // "": doctor passes
				fix  string
			}{
				{name: "works"},
				{"wrong PIN", setPIN("99999999"), `(?m)^FAIL  login: `, ""},
				{"managed key the token cannot run", managed(cannot[tok.Name]), `(?m)^FAIL  (managed key "cannot"|mechanisms for managed keys): `, `fix: .*(wasihsm keys generate --algorithm|choose algorithms the token has)`},
			}
			switch tok.Name {
			case tokentest.NameNSS:
				cases[1].fix = `fix: .*remove pkcs11\.pin`
				cases = append(cases, struct {
					name string
					edit edit
					fail string
					fix  string
				}{"no init args", noInitArgs, `(?m)^FAIL  .*CKR_ARGUMENTS_BAD`, `fix: .*pkcs11\.init_args`})
			default:
				cases[1].fix = `fix: .*(PIN|pin)`
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					cfg := string(text)
					if tc.edit != nil {
						cfg = tc.edit(cfg)
					}
					path := filepath.Join(t.TempDir(), "wasihsm.yaml")
					require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
					code, out := runWasihsm(t, wasihsm, "doctor", "--config", path)
					if tc.fail == "" {
						assert.Equal(t, exitOK, code, out)
						assert.NotRegexp(t, `(?m)^FAIL`, out)
						return
					}
					assert.Equal(t, exitFailed, code, out)
					assert.Regexp(t, tc.fail, out)
					assert.Regexp(t, tc.fix, out)
				})
			}
		})
	}
}

// lookWasihsm is the test binary as the wasihsm command, which
// testscript.Main puts in PATH.
func lookWasihsm(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("wasihsm")
	require.NoError(t, err)
	return path
}

// makeP521 makes a P-521 key pair labelled label on tok as an operator
// would (token objects, signing), and removes it when the test ends.
func makeP521(t *testing.T, tok *tokentest.Token, label string) {
	t.Helper()
	in := softhsmtest.Inspect(t, tok.Module, tok.Label, tok.PIN)
	p := in.Ctx()
	s, err := p.OpenSession(in.Slot(), pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.CloseSession(s) })
	tokentest.ECSigningKey(t, p, s, tokentest.P521Params, label, []byte(label))
}
