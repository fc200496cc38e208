//go:build cgo

package conformance_test

// Interop with tools no one here wrote: openssl verifies the signatures
// that guests make with keys in the token, the standard library opens
// their AES-GCM ciphertexts (and they open its), and keys that pkcs11-tool
// put on the token serve guests as managed keys.
//
// openssl has no command line for AEAD decryption (`openssl enc` refuses
// GCM), so crypto/cipher is the other side of the AES-GCM tests.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

const interopGuest = "github.com/wasihsm/wasihsm/conformance/guests/interop"

// interopSignatures are the signature algorithms that openssl verifies,
// with the length of their signatures (RSA: 2048-bit keys).
var interopSignatures = []struct {
	alg  string
	size int
}{
	{"ES256", 64}, {"ES384", 96}, {"ES512", 132}, {"EdDSA", 64}, {"RS256", 256}, {"PS256", 256},
}

// interopHost is the interop guest's host on one target: the token as the
// only backend, with fallback deny, so that no key can end up in software.
// On the direct target, check counts the keys that appeared on the token
// as sensitive, non-extractable session objects while guests ran.
type interopHost struct {
	h     *testguest.Harness
	b     *hsm.Backend
	check *checkingBackend // nil through p11-kit
	in    *softhsmtest.Inspector
}

func newInteropHost(t *testing.T, tg target, managed ...hsm.ManagedKey) *interopHost {
	t.Helper()
	b, err := hsm.Open(t.Context(), hsm.Config{
		Module:      tg.module,
		Token:       hsm.TokenSelector{Label: tg.label},
		PIN:         func() ([]byte, error) { return []byte(tg.pin), nil },
		ManagedKeys: managed,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	ih := &interopHost{b: b}
	var primary provider.Backend = b
	if tg.seesSessionObjects {
		ih.in = softhsmtest.Inspect(t, tg.module, tg.label, tg.pin)
		ih.check = &checkingBackend{Backend: b, t: t, in: ih.in}
		primary = ih.check
	}
	router, err := provider.NewRouter(provider.RouterConfig{Primary: primary, Policy: provider.FallbackDeny, ManagedKeys: b})
	require.NoError(t, err)
	ih.h = testguest.NewHarness(t, router, wasihost.Options{}, testguest.Build(t, interopGuest))
	return ih
}

// run runs the guest and returns its "NAME VALUE" output lines.
func (ih *interopHost) run(t *testing.T, stdin []byte, args ...string) (map[string]string, testguest.Result) {
	t.Helper()
	r := ih.h.Run("interop", bytes.NewReader(stdin), nil, args...)
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if name, value, ok := strings.Cut(line, " "); ok {
			out[name] = value
		}
	}
	return out, r
}

// notThroughP11Kit are the algorithms of these tests that p11-kit 0.24.1
// remoting does not pass to the token (docs/semantics.md#algorithms): it has no
// serialisation for their mechanism parameters.
var notThroughP11Kit = map[string]bool{"EdDSA": true, "A128GCM": true, "A192GCM": true, "A256GCM": true}

// serves reports whether the token serves alg natively: creating a key
// (create) and every operation of the algorithm. The direct target must
// serve every algorithm of these tests; through p11-kit only those of
// notThroughP11Kit may be missing, and the caller then checks that the
// guest is refused with notsup (fallback deny: nothing runs in software).
func (ih *interopHost) serves(t *testing.T, tg target, alg string, create provider.Operation) bool {
	t.Helper()
	a := provider.MustLookup(alg)
	for _, op := range append([]provider.Operation{create}, provider.KeyOperations(a)...) {
		if s := ih.b.Supports(a, op); s != provider.Native {
			require.True(t, tg.name == "p11-kit" && notThroughP11Kit[alg], "%s: %s %s: %s, want a mechanism of the token", tg.name, alg, op, s)
			t.Logf("%s: %s %s is not served by the token through p11-kit 0.24.1 remoting; the guest must get notsup", tg.name, alg, op)
			return false
		}
	}
	return true
}

// onToken runs f, which makes one key in a guest, and on the direct target
// checks that the key was made on the token: a new sensitive,
// non-extractable session object appeared, and was gone again when the
// guest ended. (With fallback deny and no software backend the key cannot
// be anywhere else; this shows that it was.)
func (ih *interopHost) onToken(t *testing.T, alg string, f func()) {
	t.Helper()
	if ih.check == nil {
		f()
		return
	}
	baseline := len(ih.in.SessionObjects())
	ih.check.mu.Lock()
	before := ih.check.checked
	ih.check.mu.Unlock()
	f()
	ih.check.mu.Lock()
	after := ih.check.checked
	ih.check.mu.Unlock()
	assert.Equal(t, 1, after-before, "%s: one secret or private key object was made on the token", alg)
	assert.Equal(t, baseline, len(ih.in.SessionObjects()), "%s: the key was destroyed on the token when the guest ended", alg)
}

func decodeHex(t *testing.T, name, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err, "%s %q", name, s)
	return b
}

// TestInteropSignatures: for each signature algorithm, a guest generates a
// key on the token and signs a message; openssl verifies the signature
// with the public key the guest exported, and refuses it when one bit of
// the signature or of the message is flipped.
func TestInteropSignatures(t *testing.T) {
	requireOpenSSL(t)
	msg := []byte("wasihsm interop: signed in a wasm guest by a key in the token\n")
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			ih := newInteropHost(t, tg)
			for _, c := range interopSignatures {
				t.Run(c.alg, func(t *testing.T) {
					if !ih.serves(t, tg, c.alg, provider.OpGenerate) {
						out, r := ih.run(t, msg, "sign", c.alg)
						assert.Equal(t, map[string]string{"errno": "notsup"}, out, "stderr: %s", r.Stderr)
						return
					}
					var out map[string]string
					var r testguest.Result
					ih.onToken(t, c.alg, func() {
						out, r = ih.run(t, msg, "sign", c.alg)
					})
					require.Zero(t, r.ExitCode, "stdout: %s\nstderr: %s", r.Stdout, r.Stderr)
					sig, spki := decodeHex(t, "sig", out["sig"]), decodeHex(t, "spki", out["spki"])
					require.Len(t, sig, c.size)

					dir := t.TempDir()
					got, log := opensslVerify(t, dir, c.alg, spki, msg, sig)
					assert.Equal(t, verified, got, "the guest's %s signature:\n%s", c.alg, log)

					bad := bytes.Clone(sig)
					bad[len(bad)/3] ^= 0x10
					got, log = opensslVerify(t, dir, c.alg, spki, msg, bad)
					assert.Equal(t, refused, got, "a %s signature with a flipped bit:\n%s", c.alg, log)

					other := bytes.Clone(msg)
					other[0] ^= 0x01
					got, log = opensslVerify(t, dir, c.alg, spki, other, sig)
					assert.Equal(t, refused, got, "a %s signature over another message:\n%s", c.alg, log)
				})
			}
		})
	}
}

// TestInteropAESGCM: keys imported raw into the token; what a guest seals,
// crypto/cipher opens (and seals to the same bytes), what crypto/cipher
// seals, a guest opens, and a tampered tag or ciphertext is badmsg to the
// guest.
func TestInteropAESGCM(t *testing.T) {
	cases := []struct {
		alg     string
		keySize int
		aad, pt []byte
	}{
		{"A128GCM", 16, []byte("header"), []byte("sixteen byte msg")},
		{"A192GCM", 24, nil, []byte("no additional data, and a plaintext that is not a multiple of the block size")},
		{"A256GCM", 32, []byte(`{"alg":"dir","enc":"A256GCM"}`), bytes.Repeat([]byte{0xa5}, 1000)},
		{"A256GCM", 32, []byte("additional data only"), nil},
	}
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			ih := newInteropHost(t, tg)
			for i, c := range cases {
				t.Run(fmt.Sprintf("%s/%d", c.alg, i), func(t *testing.T) {
					key, nonce := randomBytes(t, c.keySize), randomBytes(t, 12)
					block, err := aes.NewCipher(key)
					require.NoError(t, err)
					gcm, err := cipher.NewGCM(block)
					require.NoError(t, err)

					// The guest seals; the standard library opens.
					if !ih.serves(t, tg, c.alg, provider.OpImport) {
						out, r := ih.run(t, fieldLines("key", key, "nonce", nonce, "aad", c.aad, "pt", c.pt), "seal", c.alg)
						assert.Equal(t, map[string]string{"errno": "notsup"}, out, "stderr: %s", r.Stderr)
						return
					}
					var out map[string]string
					var r testguest.Result
					ih.onToken(t, c.alg, func() {
						out, r = ih.run(t, fieldLines("key", key, "nonce", nonce, "aad", c.aad, "pt", c.pt), "seal", c.alg)
					})
					require.Zero(t, r.ExitCode, "stdout: %s\nstderr: %s", r.Stdout, r.Stderr)
					ct, tag := decodeHex(t, "ct", out["ct"]), decodeHex(t, "tag", out["tag"])
					require.Len(t, ct, len(c.pt))
					require.Len(t, tag, 16)
					sealed := append(bytes.Clone(ct), tag...)
					pt, err := gcm.Open(nil, nonce, sealed, c.aad)
					require.NoError(t, err, "crypto/cipher opens what the guest sealed")
					assert.Equal(t, hex.EncodeToString(c.pt), hex.EncodeToString(pt))
					assert.Equal(t, hex.EncodeToString(gcm.Seal(nil, nonce, c.pt, c.aad)), hex.EncodeToString(sealed),
						"the same bytes as crypto/cipher's")

					// The standard library seals (under a nonce of its
					// own); the guest opens.
					nonce = randomBytes(t, 12)
					sealed = gcm.Seal(nil, nonce, c.pt, c.aad)
					ct, tag = sealed[:len(c.pt)], sealed[len(c.pt):]
					ih.onToken(t, c.alg, func() {
						out, r = ih.run(t, fieldLines("key", key, "nonce", nonce, "aad", c.aad, "ct", ct, "tag", tag), "open", c.alg)
					})
					require.Zero(t, r.ExitCode, "stdout: %s\nstderr: %s", r.Stdout, r.Stderr)
					assert.Equal(t, hex.EncodeToString(c.pt), out["pt"], "the guest opens what crypto/cipher sealed")

					// Tampered: the guest answers badmsg and gives no plaintext.
					badTag := bytes.Clone(tag)
					badTag[15] ^= 0x80
					out, r = ih.run(t, fieldLines("key", key, "nonce", nonce, "aad", c.aad, "ct", ct, "tag", badTag), "open", c.alg)
					assert.Equal(t, uint32(1), r.ExitCode, "stderr: %s", r.Stderr)
					assert.Equal(t, map[string]string{"errno": "badmsg"}, out, "a tampered tag")
					if len(ct) > 0 {
						badCT := bytes.Clone(ct)
						badCT[len(badCT)/2] ^= 0x01
						out, r = ih.run(t, fieldLines("key", key, "nonce", nonce, "aad", c.aad, "ct", badCT, "tag", tag), "open", c.alg)
						assert.Equal(t, uint32(1), r.ExitCode, "stderr: %s", r.Stderr)
						assert.Equal(t, map[string]string{"errno": "badmsg"}, out, "a tampered ciphertext")
					}
				})
			}
		})
	}
}

// TestInteropPKCS11ToolKeys: keys that pkcs11-tool put on the token serve
// the guest as managed keys, and openssl verifies what they sign.
//   - imported: openssl generates a P-256 key, pkcs11-tool writes its
//     PKCS#8 DER to the token as a private key object (no public key
//     object, so the key is configured for "sign" only); openssl verifies
//     with the public key it derives from its own private key.
//   - keypairgen: pkcs11-tool generates a P-256 key pair on the token and
//     exports the public key; the guest exports the same SPKI, and openssl
//     verifies with pkcs11-tool's. (P-256: this pkcs11-tool cannot export
//     a P-384 public key, "cannot create EVP_PKEY".)
func TestInteropPKCS11ToolKeys(t *testing.T) {
	requireOpenSSL(t)
	tgs := targets(t)
	fx := softhsmtest.Token(t)
	dir := t.TempDir()
	suffix := hex.EncodeToString(randomBytes(t, 4))

	// openssl's key, imported by pkcs11-tool.
	importedLabel, importedID := "wasihsm-interop-imported-"+suffix, "1a"+suffix
	keyPEM, keyDER, pubPEM := filepath.Join(dir, "key.pem"), filepath.Join(dir, "key.der"), filepath.Join(dir, "pub.pem")
	mustOpenSSL(t, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPEM)
	mustOpenSSL(t, "pkcs8", "-topk8", "-nocrypt", "-in", keyPEM, "-outform", "DER", "-out", keyDER)
	mustOpenSSL(t, "pkey", "-in", keyPEM, "-pubout", "-out", pubPEM)
	fx.PKCS11Tool(t, "--write-object", keyDER, "--type", "privkey", "--usage-sign", "--label", importedLabel, "--id", importedID)
	t.Cleanup(func() { fx.PKCS11Tool(t, "--delete-object", "--type", "privkey", "--id", importedID) })
	require.NoError(t, os.Remove(keyDER))
	require.NoError(t, os.Remove(keyPEM))
	opensslPub, err := os.ReadFile(pubPEM)
	require.NoError(t, err)
	block, _ := pem.Decode(opensslPub)
	require.NotNil(t, block, "openssl pkey -pubout wrote PEM")

	// pkcs11-tool's key pair.
	pairLabel, pairID := "wasihsm-interop-keypairgen-"+suffix, "1b"+suffix
	pairPub := filepath.Join(dir, "pair-pub.der")
	fx.PKCS11Tool(t, "--keypairgen", "--key-type", "EC:prime256v1", "--usage-sign", "--label", pairLabel, "--id", pairID)
	t.Cleanup(func() {
		fx.PKCS11Tool(t, "--delete-object", "--type", "privkey", "--id", pairID)
		fx.PKCS11Tool(t, "--delete-object", "--type", "pubkey", "--id", pairID)
	})
	fx.PKCS11Tool(t, "--read-object", "--type", "pubkey", "--id", pairID, "--output-file", pairPub)
	toolSPKI, err := os.ReadFile(pairPub)
	require.NoError(t, err)

	managed := []hsm.ManagedKey{
		{Name: "interop-imported", Label: importedLabel, ID: decodeHex(t, "id", importedID), Algorithm: provider.MustLookup("ES256"),
			Guests: []hsm.GuestRule{{Module: "interop"}}, Operations: []provider.Operation{provider.OpSign}},
		{Name: "interop-keypairgen", Label: pairLabel, ID: decodeHex(t, "id", pairID), Algorithm: provider.MustLookup("ES256"),
			Guests: []hsm.GuestRule{{Module: "interop"}}},
	}
	msg := []byte("wasihsm interop: signed by a key that pkcs11-tool put on the token\n")
	for _, tg := range tgs {
		t.Run(tg.name, func(t *testing.T) {
			ih := newInteropHost(t, tg, managed...)
			t.Run("imported", func(t *testing.T) {
				out, r := ih.run(t, msg, "sign-managed", "interop-imported", "ES256")
				require.Zero(t, r.ExitCode, "stdout: %s\nstderr: %s", r.Stdout, r.Stderr)
				assert.Equal(t, "access", out["spki-errno"], "export-public is not configured for this key")
				sig := decodeHex(t, "sig", out["sig"])
				require.Len(t, sig, 64)
				got, log := opensslVerify(t, t.TempDir(), "ES256", block.Bytes, msg, sig)
				assert.Equal(t, verified, got, "the signature of openssl's own key, imported by pkcs11-tool:\n%s", log)
				sig[5] ^= 0x02
				got, log = opensslVerify(t, t.TempDir(), "ES256", block.Bytes, msg, sig)
				assert.Equal(t, refused, got, "a flipped bit:\n%s", log)
			})
			t.Run("keypairgen", func(t *testing.T) {
				out, r := ih.run(t, msg, "sign-managed", "interop-keypairgen", "ES256")
				require.Zero(t, r.ExitCode, "stdout: %s\nstderr: %s", r.Stdout, r.Stderr)
				assert.Equal(t, hex.EncodeToString(toolSPKI), out["spki"], "the guest exports the public key pkcs11-tool exports")
				sig := decodeHex(t, "sig", out["sig"])
				require.Len(t, sig, 64)
				got, log := opensslVerify(t, t.TempDir(), "ES256", toolSPKI, msg, sig)
				assert.Equal(t, verified, got, "the signature of pkcs11-tool's key pair:\n%s", log)
			})
		})
	}
}

// What openssl made of a signature.
const (
	verified = "verified" // it printed its success line and exited 0
	refused  = "refused"  // it checked the signature and printed its failure line
)

// opensslVerify verifies sig over msg with the SubjectPublicKeyInfo spki
// by the openssl command line, in dir. It answers verified, refused, or
// "error" when openssl failed otherwise (a file it could not read), with
// the command and what openssl printed.
func opensslVerify(t *testing.T, dir, alg string, spki, msg, sig []byte) (string, string) {
	t.Helper()
	pub, msgFile, sigFile := filepath.Join(dir, "pub.pem"), filepath.Join(dir, "msg"), filepath.Join(dir, "sig")
	require.NoError(t, os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), 0o600))
	require.NoError(t, os.WriteFile(msgFile, msg, 0o600))
	var args []string
	switch alg {
	case "ES256", "ES384", "ES512":
		// JWS r‖s to the ASN.1 ECDSA-Sig-Value that openssl reads.
		n := len(sig) / 2
		der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
		require.NoError(t, err)
		sig = der
		args = []string{"dgst", "-sha" + alg[2:], "-verify", pub, "-signature", sigFile, msgFile}
	case "RS256":
		args = []string{"dgst", "-sha256", "-verify", pub, "-signature", sigFile, msgFile}
	case "PS256":
		args = []string{"dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32", "-verify", pub, "-signature", sigFile, msgFile}
	case "EdDSA":
		args = []string{"pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msgFile, "-sigfile", sigFile}
	default:
		t.Fatalf("no openssl command for %s", alg)
	}
	require.NoError(t, os.WriteFile(sigFile, sig, 0o600))
	out, err := exec.Command("openssl", args...).CombinedOutput()
	log := "openssl " + strings.Join(args, " ") + "\n" + string(out)
	if exit := (*exec.ExitError)(nil); err != nil && !errors.As(err, &exit) {
		t.Fatalf("run %s: %v", log, err)
	}
	// dgst prints "Verified OK" or "Verification failure", pkeyutl
	// "Signature Verified Successfully" or "Signature Verification Failure".
	text := strings.ToLower(string(out))
	switch {
	case err == nil && strings.Contains(text, "verified"):
		return verified, log
	case err != nil && strings.Contains(text, "verification failure"):
		return refused, log
	}
	return "error", log
}

// requireOpenSSL skips the test when the openssl command is missing, or
// fails it when CI=true.
func requireOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("openssl not found (CI=true: tests that need it must not skip)")
		}
		t.Skip("openssl not found (install openssl)")
	}
}

func mustOpenSSL(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fieldLines is the interop guest's "NAME HEX" stdin.
func fieldLines(kv ...any) []byte {
	var b strings.Builder
	for i := 0; i < len(kv); i += 2 {
		fmt.Fprintf(&b, "%s %x\n", kv[i], kv[i+1])
	}
	return []byte(b.String())
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}
