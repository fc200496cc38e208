//go:build cgo

package languages_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/conformance/abiscript"
	"github.com/wasihsm/wasihsm/conformance/suite"
	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/internal/wasmtoolchain"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Shutdown()
	os.Exit(code)
}

// contractGuest is one language's contract guest.
type contractGuest struct {
	lang  string
	build func(testing.TB) []byte
}

var contractGuests = []contractGuest{
	{"c", func(tb testing.TB) []byte { return wasmtoolchain.C(tb, "conformance/guests/contract-c/contract.c") }},
	{"rust", func(tb testing.TB) []byte { return wasmtoolchain.Rust(tb, "conformance/guests/contract-rust", "") }},
}

// tokenBackend opens the process's SoftHSM2 test token, with a deadline
// per call long enough for RSA key generation on a busy machine.
func tokenBackend(t *testing.T, fx *softhsmtest.Fixture) *hsm.Backend {
	t.Helper()
	b, err := hsm.Open(context.Background(), hsm.Config{
		Module:      fx.Module,
		Token:       hsm.TokenSelector{Label: fx.Label},
		PIN:         func() ([]byte, error) { return []byte(fx.PIN), nil },
		CallTimeout: 2 * time.Minute,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// targets are the software backend and SoftHSM2 with the software
// fallback (allowed, as by default), as conformance/matrix_test.go names
// them.
func targets(t *testing.T) []suite.Target {
	software := softfallback.New()
	return []suite.Target{
		{Name: "software", Primary: software, Policy: provider.FallbackAllow},
		{Name: "softhsm2 fallback allow", Primary: tokenBackend(t, softhsmtest.Token(t)), Fallback: software, Policy: provider.FallbackAllow},
	}
}

// TestKnownAnswers: every known-answer vector and probe of the suite,
// through the C and the Rust contract guest, passes on each target, into
// every cell of the matrix, as through the Go guest.
func TestKnownAnswers(t *testing.T) {
	for _, g := range contractGuests {
		t.Run(g.lang, func(t *testing.T) {
			wasm := g.build(t)
			for _, tg := range targets(t) {
				t.Run(strings.ReplaceAll(tg.Name, " ", "-"), func(t *testing.T) {
					res, err := suite.RunKnownAnswers(context.Background(), tg, suite.Options{Guest: wasm, Cache: testguest.CompilationCache()})
					require.NoError(t, err)
					require.Len(t, res.Cells, len(suite.Rows()))
					for _, c := range res.Cells {
						assert.Equal(t, suite.Pass, c.Status, "%s %s: %v", c.Algorithm, c.Operation, c.Failures)
					}
					// The vector files hold 2,796 answers the API can
					// compute (wasihost's TestKnownAnswersThroughGuest):
					// fewer passing means vectors were dropped.
					assert.GreaterOrEqual(t, res.VectorsPassed, 2796)
					assert.Empty(t, res.Scenarios)
					t.Logf("%s on %s: %d checks, %d vectors passed in %s", g.lang, tg.Name, res.ChecksPassed, res.VectorsPassed, res.Duration)
				})
			}
		})
	}
}

// scriptOptions are the limits of the contract guests' hosts
// (conformance/suite: the scenarios' host).
var scriptOptions = wasihost.Options{MaxHandles: 64, MaxBufferedBytes: 4096}

// scriptGuests run conformance/abiscript's scenarios: the C and Rust
// contract guests, and the Go script guest through guest/wasicrypto/raw.
var scriptGuests = append([]contractGuest{
	{"go", func(tb testing.TB) []byte {
		return testguest.Build(tb, "github.com/wasihsm/wasihsm/conformance/guests/script")
	}},
}, contractGuests...)

// TestABIScenarios runs every scenario of conformance/abiscript, each in
// a fresh instance, through the Go, C and Rust guests' raw imports, on
// each target; afterwards no handle and no key outlives its instance.
func TestABIScenarios(t *testing.T) {
	scenarios, err := abiscript.Scenarios()
	require.NoError(t, err)
	require.NotEmpty(t, scenarios)
	for _, g := range scriptGuests {
		t.Run(g.lang, func(t *testing.T) {
			wasm := g.build(t)
			for _, tg := range targets(t) {
				t.Run(strings.ReplaceAll(tg.Name, " ", "-"), func(t *testing.T) {
					router, err := provider.NewRouter(provider.RouterConfig{Primary: tg.Primary, Fallback: tg.Fallback, Policy: tg.Policy})
					require.NoError(t, err)
					h := testguest.NewHarness(t, router, scriptOptions, wasm)
					for _, sc := range scenarios {
						res := h.Run("script", strings.NewReader(sc.Input()), nil, "-script")
						assert.Zero(t, res.ExitCode, "%s: stderr: %s", sc.Name, res.Stderr)
						assert.NoError(t, sc.Check(res.Stdout))
						assert.Equal(t, wasihost.Stats{}, h.Host.Stats(), "%s: nothing outlives the instance", sc.Name)
					}
				})
			}
		})
	}
}
