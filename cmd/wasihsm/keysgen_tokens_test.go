//go:build cgo && linux

package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/internal/tokentest"
)

// keysGenerateAlgorithms are the managed key algorithms that `wasihsm
// keys generate` makes on each token (docs/tokens.md): openCryptoki has
// no EC, and NSS's RSA is not tried here (its EC is what it adds).
var keysGenerateAlgorithms = map[string][]string{
	tokentest.NameOpenCryptoki: {"RS256", "PS256"},
	tokentest.NameTPM2:         {"ES256", "ES384", "RS256", "PS256"},
	tokentest.NameNSS:          {"ES256", "ES384"},
}

// keysGenerateQuirk is the quirk that `keys generate` meets on each token
// (docs/operations.md#token-quirks).
var keysGenerateQuirk = map[string]string{
	tokentest.NameTPM2: "key-pairs-decrypt",
	tokentest.NameNSS:  "copyable-token-objects",
}

// TestKeysGenerateOnTokens: `wasihsm keys generate` makes a managed key on
// each token, tpm2-pkcs11 (QuirkPairsDecrypt) and NSS softokn
// (QuirkCopyableTokenObjects) included; a guest (`wasihsm run`, a process
// of its own) signs with it, and the signature verifies with the public
// key that `keys generate` printed. The key's operations list still
// holds: for an EC key, export-public, not configured, answers access.
func TestKeysGenerateOnTokens(t *testing.T) {
	wasihsm, err := exec.LookPath("wasihsm")
	require.NoError(t, err)
	dir := t.TempDir()
	guest := filepath.Join(dir, "interop.wasm")
	require.NoError(t, os.WriteFile(guest, testguest.Build(t, "github.com/wasihsm/wasihsm/conformance/guests/interop"), 0o644))
	cache := filepath.Join(dir, "cache")
	msg := []byte("signed by a key that wasihsm keys generate made\n")

	for _, fx := range tokentest.All {
		t.Run(fx.Name, func(t *testing.T) {
			tok := fx.Token(t)
			base := tokenConfigFile(t, tok)
			for _, algName := range keysGenerateAlgorithms[tok.Name] {
				t.Run(algName, func(t *testing.T) {
					label := "keysgen-" + strings.ToLower(algName)
					code, out := runWasihsm(t, wasihsm, "keys", "generate", "--config", base, "--algorithm", algName, "--label", label)
					require.Equal(t, exitOK, code, out)
					t.Cleanup(func() { runWasihsm(t, wasihsm, "keys", "delete", "--config", base, "--label", label) })
					if q := keysGenerateQuirk[tok.Name]; q != "" {
						assert.Contains(t, out, "made the token's way (docs/operations.md#token-quirks): "+q)
					}
					block, _ := pem.Decode([]byte(out))
					require.NotNil(t, block, "keys generate prints the public key: %s", out)
					pub, err := x509.ParsePKIXPublicKey(block.Bytes)
					require.NoError(t, err)

					// The guest's RSA signing asks for the public key
					// (its length); EC keys are granted signing alone.
					rsaKey := strings.HasPrefix(algName, "RS") || strings.HasPrefix(algName, "PS")
					ops := "sign"
					if rsaKey {
						ops = "sign, export-public"
					}
					cfgText, err := os.ReadFile(base)
					require.NoError(t, err)
					cfg := filepath.Join(t.TempDir(), "wasihsm.yaml")
					require.NoError(t, os.WriteFile(cfg, append(cfgText, []byte(`keys:
  - name: signing
    label: `+label+`
    algorithm: `+algName+`
    operations: [`+ops+`]
    guests: [{module: interop.wasm}]
`)...), 0o600))
					cmd := exec.Command(wasihsm, "run", "--config", cfg, "--fallback", "deny", "--cache-dir", cache, guest, "sign-managed", "signing", algName)
					var stdout, stderr bytes.Buffer
					cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(msg), &stdout, &stderr
					if err := cmd.Run(); err != nil {
						var exit *exec.ExitError
						require.True(t, errors.As(err, &exit), "run wasihsm: %v", err)
						t.Fatalf("the guest failed (%d): %s%s", exit.ExitCode(), stdout.String(), stderr.String())
					}
					fields := map[string]string{}
					for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
						k, v, _ := strings.Cut(line, " ")
						fields[k] = v
					}
					if rsaKey {
						assert.Equal(t, hex.EncodeToString(block.Bytes), fields["spki"], "the guest exports the public key keys generate printed")
					} else {
						assert.Equal(t, "access", fields["spki-errno"], "export-public is not in the key's operations")
					}
					sig, err := hex.DecodeString(fields["sig"])
					require.NoError(t, err)
					verifySignature(t, algName, pub, msg, sig)
				})
			}
		})
	}
}

// runWasihsm runs wasihsm (the test binary, which testscript.Main puts in
// PATH) as a process of its own, as the token's module is then loaded
// afresh, and returns its exit code and everything it printed.
func runWasihsm(t *testing.T, wasihsm string, args ...string) (int, string) {
	var out bytes.Buffer
	cmd := exec.Command(wasihsm, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	case err != nil:
		t.Fatalf("run wasihsm: %v", err)
	}
	return 0, out.String()
}

// verifySignature checks sig, a signature of algName (JWS form: r‖s for
// ECDSA), over msg with pub, and that a flipped bit fails.
func verifySignature(t *testing.T, algName string, pub crypto.PublicKey, msg, sig []byte) {
	t.Helper()
	var h crypto.Hash
	switch algName[2:] {
	case "256":
		h = crypto.SHA256
	case "384":
		h = crypto.SHA384
	default:
		h = crypto.SHA512
	}
	digest := func() []byte {
		switch h {
		case crypto.SHA256:
			d := sha256.Sum256(msg)
			return d[:]
		case crypto.SHA384:
			d := sha512.Sum384(msg)
			return d[:]
		}
		d := sha512.Sum512(msg)
		return d[:]
	}()
	check := func(sig []byte) bool {
		switch k := pub.(type) {
		case *ecdsa.PublicKey:
			n := len(sig) / 2
			return len(sig)%2 == 0 && ecdsa.Verify(k, digest, new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:]))
		case *rsa.PublicKey:
			if strings.HasPrefix(algName, "PS") {
				return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
			}
			return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
		}
		t.Fatalf("a public key of type %T", pub)
		return false
	}
	assert.True(t, check(sig), "the %s signature verifies", algName)
	sig = bytes.Clone(sig)
	sig[len(sig)/3] ^= 0x04
	assert.False(t, check(sig), "a flipped bit does not")
}

// TestKeysGenerateBrokenP521OnTPM2: tpm2-pkcs11 makes a P-521 key whose
// stored public key is malformed (quirk broken-p521). `keys generate
// --algorithm ES512` must not print a key it cannot read nor leave the key
// behind: it fails, says the token cannot serve the key, and the token
// holds nothing afterwards.
func TestKeysGenerateBrokenP521OnTPM2(t *testing.T) {
	wasihsm, err := exec.LookPath("wasihsm")
	require.NoError(t, err)
	tok := tokentest.TPM2(t)
	base := tokenConfigFile(t, tok)
	code, out := runWasihsm(t, wasihsm, "keys", "generate", "--config", base, "--algorithm", "ES512", "--label", "keysgen-es512")
	t.Cleanup(func() { runWasihsm(t, wasihsm, "keys", "delete", "--config", base, "--label", "keysgen-es512") })
	assert.NotEqual(t, exitOK, code, out)
	assert.Contains(t, out, "the token cannot serve the key")
	assert.Contains(t, out, "the key was removed")
	assert.NotContains(t, out, "BEGIN PUBLIC KEY")
	code, out = runWasihsm(t, wasihsm, "keys", "list", "--config", base)
	require.Equal(t, exitOK, code, out)
	assert.NotContains(t, out, "keysgen-es512", "no half of the key is left on the token")
}
