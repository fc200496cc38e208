package reliability_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// sweepCalls is the number of functions relguest's sweep calls per handle.
const sweepCalls = 9

// highHandles are values far from the ones a table hands out.
var highHandles = []uint32{65535, 65536, 1 << 20, 1 << 31, 1<<32 - 2, 1<<32 - 1}

// sweepArgs are relguest's sweep arguments: 0..4096, then extra and the
// high values.
func sweepArgs(extra ...uint32) ([]string, int) {
	args := []string{"sweep", "0", "4096"}
	for _, h := range append(extra, highHandles...) {
		args = append(args, strconv.FormatUint(uint64(h), 10))
	}
	return args, (4097 + len(extra) + len(highHandles)) * sweepCalls
}

// TestCrossInstanceIsolation: while guest A holds a key of each kind, guest
// B, in the same host and runtime, calls every key- and state-taking
// function with handle values 0..4096, A's own handle values and high
// values. Every call answers badf, and A's handles are all still there.
func TestCrossInstanceIsolation(t *testing.T) {
	router, err := provider.NewRouter(provider.RouterConfig{Primary: newCountingSoftware(), Policy: provider.FallbackDeny})
	require.NoError(t, err)
	h := testguest.NewHarness(t, router, wasihost.Options{}, guestWasm(t))

	specs := []string{"A256GCM", "ES256", "EdDSA", "HS256", "HKDF", "X25519", importSpec(t, "ES384")}
	a := startHold(t, h, "tenant-a", specs...)
	require.Len(t, a.order, 7)
	before := h.Host.Stats()
	require.Equal(t, 1, before.Instances, "A is the one instance with state")
	args, calls := sweepArgs(a.order...)
	r := h.Run("tenant-b", nil, nil, args...)
	require.Zero(t, r.ExitCode, r.Stderr)
	assert.Equal(t, fmt.Sprintf("badf %d\n", calls), r.Stdout, "every call of B with a handle it never received answers badf")
	assert.Equal(t, before, h.Host.Stats(), "B changed nothing of A's")

	// A's handles still work after B's sweep: a second instance of A's
	// kind makes the same handle values in its own table (values are
	// table indexes, the same in every instance, which is why only the
	// table's owner can use them).
	a2 := startHold(t, h, "tenant-a2", specs...)
	assert.Equal(t, a.order, a2.order, "handle values are per-instance table indexes")
	a.release(t)
	a2.release(t)
	assert.Equal(t, wasihost.Stats{}, h.Host.Stats(), "nothing outlives the instances")
}

// mixOpsPerRound is the number of operations one round of relguest mix
// counts: a hash; AES-GCM seal, open and a refused forgery; ES256
// generate, sign and export (the host verifies); HKDF extract and expand;
// HS256 import and sign.
const mixOpsPerRound = 11
