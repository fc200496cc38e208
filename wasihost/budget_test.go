package wasihost_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

// hoardGuest is the hostile guest of the budget tests.
const hoardGuest = "github.com/wasihsm/wasihsm/reliability/guests/hoard"

func newHoardHarness(t *testing.T, opts wasihost.Options) *testguest.Harness {
	t.Helper()
	router, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
	require.NoError(t, err)
	return testguest.NewHarness(t, router, opts, testguest.Build(t, hoardGuest))
}

// TestBudgetBoundsStates: a guest that passes one buffer to many key
// generation states gets nomem once the instance's budget is spent — the
// per-state limit alone let it make the host hold N times the buffer —
// the host never holds more than the budget for it, and the budget comes
// back when the states are consumed.
func TestBudgetBoundsStates(t *testing.T) {
	const (
		budget = 4 << 20
		size   = 1 << 20
		n      = 16
	)
	h := newHoardHarness(t, wasihost.Options{MaxInstanceBytes: budget, MaxBufferedBytes: 2 * size})
	g := h.Start("hoard", "states", fmt.Sprint(n), fmt.Sprint(size))

	var ok, nomem, other int
	_, err := fmt.Sscanf(g.Line(), "states %d %d %d", &ok, &nomem, &other)
	require.NoError(t, err)
	g.Expect("wait")
	held := h.Host.Stats().HeldBytes
	assert.Equal(t, budget/size, ok, "states that fit in the budget")
	assert.Equal(t, n-budget/size, nomem, "the rest answered nomem")
	assert.Zero(t, other)
	assert.LessOrEqual(t, held, int64(budget), "the host holds no more than the budget for the guest")
	assert.Equal(t, int64(ok*size), held, "each buffer is charged")

	g.Continue()
	g.Expect("released")
	g.Expect("wait")
	assert.Zero(t, h.Host.Stats().HeldBytes, "consuming the states gave the budget back")

	g.Continue()
	g.Expect("again 0") // a later input fits again
	assert.Zero(t, g.Wait().ExitCode)
	assert.Zero(t, h.Host.Stats().HeldBytes, "the instance is gone, and its charges with it")
}

// TestBudgetStatesPerInstance: the budget is per instance, the buffering
// limit per state: one input past the per-state limit is still msgsize,
// and a second instance has a budget of its own.
func TestBudgetStatesPerInstance(t *testing.T) {
	const size = 1 << 20
	tests := []struct {
		name string
		opts wasihost.Options
		want string // the states line
	}{
		{"past the per-state limit: msgsize", wasihost.Options{MaxInstanceBytes: 8 * size, MaxBufferedBytes: size - 1}, "states 0 0 4"},
		{"within both", wasihost.Options{MaxInstanceBytes: 4 * size, MaxBufferedBytes: size}, "states 4 0 0"},
		{"past the budget: nomem", wasihost.Options{MaxInstanceBytes: 3 * size, MaxBufferedBytes: size}, "states 3 1 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHoardHarness(t, tt.opts)
			a := h.Start("a", "states", "4", fmt.Sprint(size))
			a.Expect(tt.want)
			a.Expect("wait")
			b := h.Start("b", "states", "4", fmt.Sprint(size))
			b.Expect(tt.want) // a's charges are not b's
			b.Expect("wait")
			for _, g := range []*testguest.Running{a, b} {
				g.Continue()
				g.Expect("released")
				g.Expect("wait")
				g.Continue()
				g.Line()
				assert.Zero(t, g.Wait().ExitCode)
			}
		})
	}
}

// TestBudgetBoundsManagedKeyName: private_key_open copies the name for the
// lookup; a name longer than the budget has room for answers nomem
// without the copy, a short one is looked up (noent: none configured).
func TestBudgetBoundsManagedKeyName(t *testing.T) {
	const budget = 1 << 20
	tests := []struct {
		size int
		want string
	}{
		{16, "open 44"},
		{budget, "open 44"},
		{4 * budget, "open 48"},
	}
	h := newHoardHarness(t, wasihost.Options{MaxInstanceBytes: budget})
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			g := h.Start("hoard", "open", fmt.Sprint(tt.size))
			g.Expect(tt.want)
			assert.Zero(t, g.Wait().ExitCode)
		})
	}
}

// TestBudgetRefusesEncryptWithoutAllocating: a cipher_encrypt whose output
// would exceed the budget answers nomem before the host or the backend
// allocates anything of its size.
func TestBudgetRefusesEncryptWithoutAllocating(t *testing.T) {
	const (
		budget = 8 << 20
		size   = 16 << 20
		calls  = 32
	)
	h := newHoardHarness(t, wasihost.Options{MaxInstanceBytes: budget})
	g := h.Start("hoard", "encrypt", fmt.Sprint(size), fmt.Sprint(calls))
	g.Expect("wait")
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	g.Continue()
	line := g.Line()
	runtime.ReadMemStats(&m1)
	g.Expect("wait")
	g.Continue()
	assert.Zero(t, g.Wait().ExitCode)
	assert.Equal(t, "encrypt 48", line, "nomem (48)")
	perCall := (m1.TotalAlloc - m0.TotalAlloc) / calls
	assert.Less(t, perCall, uint64(64<<10), "%d bytes allocated per refused call of %d bytes", perCall, size)
	t.Logf("a refused cipher_encrypt of %d bytes: %d bytes allocated per call (%d calls)", size, perCall, calls)
}
