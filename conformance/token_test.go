//go:build cgo

// Package conformance_test runs the contract guest against the PKCS#11
// backend on a real SoftHSM2 token, directly and through p11-kit remoting.
package conformance_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/internal/tokentest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Shutdown()
	tokentest.Shutdown()
	os.Exit(code)
}

// The contract guest's limits (conformance/guests/contract/harness_wasip1.go).
var contractOptions = wasihost.Options{MaxHandles: 64, MaxBufferedBytes: 4096}

const managedLabel = "wasihsm-conformance-es256"

// target is one way to the test token. Through p11-kit remoting, the
// server's sessions do not share session objects with the client's other
// sessions, so a session of the test's own sees the backend's keys only on
// the direct target (seesSessionObjects).
type target struct {
	name, module, label, pin string
	seesSessionObjects       bool
}

var provisionOnce sync.Once

// targets returns the token directly and through p11-kit remoting, with
// a managed ES256 key provisioned on it by pkcs11-tool (a token object, as
// an operator would make it).
func targets(t *testing.T) []target {
	fx := softhsmtest.Token(t)
	remote := fx.Remote(t)
	provisionOnce.Do(func() {
		fx.PKCS11Tool(t, "--keypairgen", "--key-type", "EC:prime256v1", "--label", managedLabel, "--id", "c0ffee")
	})
	return []target{
		{"softhsm2", fx.Module, fx.Label, fx.PIN, true},
		{"p11-kit", remote.Module, remote.Label, fx.PIN, false},
	}
}

// checkingBackend is the PKCS#11 backend under test, looking at every key
// the moment a guest has it made: through a session of the test's own,
// each new private or secret object must be a sensitive, non-extractable,
// private session object.
type checkingBackend struct {
	*hsm.Backend
	t       *testing.T
	in      *softhsmtest.Inspector
	mu      sync.Mutex
	checked int
}

func (b *checkingBackend) GenerateKey(ctx context.Context, req provider.KeyRequest) (provider.Key, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	before := b.in.SessionObjects()
	k, err := b.Backend.GenerateKey(ctx, req)
	if err != nil {
		return nil, err
	}
	for _, o := range b.in.SessionObjects() {
		if contains(before, o) {
			continue
		}
		a := b.in.Attrs(o, pkcs11.CKA_CLASS, pkcs11.CKA_TOKEN)
		assert.Equal(b.t, []byte{0}, a[pkcs11.CKA_TOKEN], "%s: CKA_TOKEN", req.Algorithm)
		if a[pkcs11.CKA_CLASS][0] == pkcs11.CKO_PUBLIC_KEY {
			continue
		}
		s := b.in.Attrs(o, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_PRIVATE)
		assert.Equal(b.t, []byte{1}, s[pkcs11.CKA_SENSITIVE], "%s: CKA_SENSITIVE", req.Algorithm)
		assert.Equal(b.t, []byte{0}, s[pkcs11.CKA_EXTRACTABLE], "%s: CKA_EXTRACTABLE", req.Algorithm)
		assert.Equal(b.t, []byte{1}, s[pkcs11.CKA_PRIVATE], "%s: CKA_PRIVATE", req.Algorithm)
		_, err := b.in.Ctx().GetAttributeValue(b.in.Session(), o, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		assert.Error(b.t, err, "%s: CKA_VALUE must not be readable", req.Algorithm)
		b.checked++
	}
	return k, nil
}

func contains(hs []pkcs11.ObjectHandle, h pkcs11.ObjectHandle) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

func openBackend(t *testing.T, tg target) *hsm.Backend {
	b, err := hsm.Open(context.Background(), hsm.Config{
		Module: tg.module,
		Token:  hsm.TokenSelector{Label: tg.label},
		PIN:    func() ([]byte, error) { return []byte(tg.pin), nil },
		ManagedKeys: []hsm.ManagedKey{{
			Name: "managed-es256", Label: managedLabel, Algorithm: provider.MustLookup("ES256"),
			Guests: []hsm.GuestRule{{Module: "contract"}},
		}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// tokenOnly are scenarios that test the host's own rules with a fault
// injecting key store or a restricted primary; they run in wasihost's and
// the policy tests below, not against a token.
var tokenOnly = map[string]string{
	"errno/provider-faults": "the errno table, with injected faults (wasihost TestContract)",
	"policy/deny-notsup":    "a restricted software primary (wasihost TestContractDenyPolicy); the token's own deny matrix is TestDenyMatrix",
}

// TestContractOnToken runs every scenario of the contract guest with the
// token as the primary backend and fallback allow, and checks after each
// that the token holds exactly the objects it held before.
func TestContractOnToken(t *testing.T) {
	wasm := testguest.Build(t, "github.com/wasihsm/wasihsm/conformance/guests/contract")
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			b := openBackend(t, tg)
			in := softhsmtest.Inspect(t, tg.module, tg.label, tg.pin)
			var primary provider.Backend = b
			cb := &checkingBackend{Backend: b, t: t, in: in}
			if tg.seesSessionObjects {
				primary = cb
			}
			router, err := provider.NewRouter(provider.RouterConfig{
				Primary: primary, Fallback: softfallback.New(), Policy: provider.FallbackAllow, ManagedKeys: b})
			require.NoError(t, err)
			h := testguest.NewHarness(t, router, contractOptions, wasm)
			names := strings.Fields(h.Run("contract", nil, nil, "-list").Stdout)
			require.NotEmpty(t, names)
			baseline := len(in.SessionObjects())
			tokenObjects := len(in.Find(pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true)))
			for _, name := range names {
				if why, ok := tokenOnly[name]; ok {
					t.Logf("%s runs elsewhere: %s", name, why)
					continue
				}
				t.Run(name, func(t *testing.T) {
					r := h.Run("contract", nil, nil, name)
					assert.Contains(t, r.Stdout, "ok "+name+"\n", "stderr: %s", r.Stderr)
					assert.Zero(t, r.ExitCode, r.Stdout)
					for _, line := range strings.Split(r.Stdout, "\n") {
						if strings.HasPrefix(line, "matrix ") {
							assert.True(t, strings.HasSuffix(line, " success"), "with fallback allow every algorithm runs: %s", line)
						}
					}
					if tg.seesSessionObjects { // through p11-kit the count is always 0: no check
						assert.Equal(t, baseline, len(in.SessionObjects()), "session objects back to the baseline after the instance closed")
					}
					assert.Equal(t, wasihost.Stats{}, h.Host.Stats())
				})
			}
			assert.Equal(t, tokenObjects, len(in.Find(pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true))),
				"the managed key is still on the token, and nothing else was added")
			assert.Positive(t, tokenObjects, "the managed key is a token object the inspector sees")
			if tg.seesSessionObjects {
				assert.Greater(t, cb.checked, 20, "keys checked on the token while guests ran")
			}

			// The managed key is refused to another guest.
			r := h.Run("intruder", nil, nil, "keys/managed-key")
			assert.Contains(t, r.Stdout, "private_key_open(ES256) = access")
		})
	}
}

// TestDenyMatrix: with fallback deny, exactly the algorithms that the token
// can neither serve nor compose answer notsup.
func TestDenyMatrix(t *testing.T) {
	wasm := testguest.Build(t, "github.com/wasihsm/wasihsm/conformance/guests/contract")
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			b := openBackend(t, tg)
			router, err := provider.NewRouter(provider.RouterConfig{
				Primary: b, Fallback: softfallback.New(), Policy: provider.FallbackDeny})
			require.NoError(t, err)
			h := testguest.NewHarness(t, router, contractOptions, wasm)
			r := h.Run("contract", nil, nil, "matrix/every-algorithm")
			require.Zero(t, r.ExitCode, r.Stdout)
			got := map[string]string{}
			for _, line := range strings.Split(r.Stdout, "\n") {
				if f := strings.Fields(line); len(f) == 3 && f[0] == "matrix" {
					got[f[1]] = f[2]
				}
			}
			var unsupported []string
			for _, alg := range provider.Algorithms() {
				want := "success"
				if !servesAll(b, alg) {
					want = "notsup"
					unsupported = append(unsupported, alg.Name)
				}
				assert.Equal(t, want, got[alg.Name], alg.Name)
			}
			t.Logf("%s with fallback deny: notsup for %v", tg.name, unsupported)
			assert.Subset(t, unsupported, []string{"SHA3-256", "SHAKE128", "X25519"}, "SoftHSM2 has no SHA-3 or X25519")
		})
	}
}

// servesAll reports whether the token can create and fully use alg.
func servesAll(b *hsm.Backend, alg provider.Algorithm) bool {
	if !alg.Kind.Keyed() {
		return b.Supports(alg, provider.OpHash) != provider.Unsupported
	}
	create := provider.OpGenerate
	if alg.IsRSA() || alg.Kind == provider.KindKDF {
		create = provider.OpImport // the matrix imports RSA keys and the HKDF IKM
	}
	if b.Supports(alg, create) == provider.Unsupported {
		return false
	}
	for _, op := range provider.KeyOperations(alg) {
		if b.Supports(alg, op) == provider.Unsupported {
			return false
		}
	}
	return true
}

// TestManyInstancesOnToken: two goroutines run many JWS guests at once on
// one backend; every JWS verifies, and no key is left on the token.
func TestManyInstancesOnToken(t *testing.T) {
	wasm := testguest.Build(t, "github.com/wasihsm/wasihsm/examples/jws")
	tg := targets(t)[0]
	b := openBackend(t, tg)
	in := softhsmtest.Inspect(t, tg.module, tg.label, tg.pin)
	router, err := provider.NewRouter(provider.RouterConfig{Primary: b, Policy: provider.FallbackDeny})
	require.NoError(t, err)
	h := testguest.NewHarness(t, router, wasihost.Options{}, wasm)
	baseline := len(in.SessionObjects())
	const perGoroutine = 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*perGoroutine)
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perGoroutine; i++ {
				payload := fmt.Sprintf(`{"sub":"g%d-%d"}`, g, i)
				r := h.Run("jws", nil, nil, payload)
				if r.ExitCode != 0 {
					errs <- fmt.Errorf("guest %s: exit %d: %s", payload, r.ExitCode, r.Stderr)
					continue
				}
				errs <- verifyJWS(r.Stdout, payload)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, baseline, len(in.SessionObjects()), "every guest's key was destroyed on the token")
	assert.Equal(t, wasihost.Stats{}, h.Host.Stats())
}

func verifyJWS(out, payload string) error {
	jws, rest, _ := strings.Cut(out, "\n")
	block, _ := pem.Decode([]byte(rest))
	if block == nil {
		return fmt.Errorf("no public key in %q", out)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return err
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a compact JWS: %q", jws)
	}
	if p, _ := base64.RawURLEncoding.DecodeString(parts[1]); string(p) != payload {
		return fmt.Errorf("payload %q, want %q", p, payload)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return fmt.Errorf("signature of %d bytes: %v", len(sig), err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub.(*ecdsa.PublicKey), digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return fmt.Errorf("JWS %q does not verify", jws)
	}
	return nil
}
