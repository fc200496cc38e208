//go:build cgo

package hsm_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/provider"
)

// TestReconnect: Reconnect does nothing for a module the process has not
// loaded; on a loaded one it initialises it again, the backend on it
// recovers (one more recovery), pausing all along (its token did not
// fail), and its new keys work again.
func TestReconnect(t *testing.T) {
	require.NoError(t, hsm.Reconnect("/nonexistent/libnothing.so"), "a module not loaded: nothing to do")
	tg := direct(t)
	b := open(t, tg)
	before := b.Stats().Recoveries
	require.NoError(t, hsm.Reconnect(tg.module))
	var failed bool // a look found it recovering but not pausing
	require.Eventually(t, func() bool {
		// A call notices the new module instance and starts the recovery.
		_, _ = b.GenerateKey(ctx, provider.KeyRequest{Algorithm: alg("HS256")})
		s := b.Stats()
		failed = failed || !s.Healthy && !s.Pausing
		return s.Healthy && s.Recoveries > before
	}, 5*time.Second, 10*time.Millisecond, "the backend recovers after the module was initialised again")
	assert.False(t, failed, "its token did not fail: the backend recovers pausing")
	assert.False(t, b.Stats().Pausing, "not pausing once healthy")
	k := generate(t, b, provider.KeyRequest{Algorithm: alg("HS256")})
	destroy(t, k)
}
