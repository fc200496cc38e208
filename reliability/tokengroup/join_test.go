//go:build cgo && linux

package tokengroup

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm/group"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// TestJoinsWhenReachable: a group of three opens while token 2's server
// does not run; four wasm guests sign (ES256) and MAC (HS256) with the
// managed keys; token 2's server starts 1.5 s in. Token 2 goes from down
// to healthy within rejoinWithin of its start (the proxy, which serves
// the two healthy tokens too, is initialised again to reach it), then
// serves calls, and no guest call fails, none takes longer than the call
// deadline, and every result verifies.
func TestJoinsWhenReachable(t *testing.T) {
	fx, k := newGroup(t)
	fx.Kill(t, 2)
	g := openGroupAsIs(t, fx, group.Balance)
	st := g.Status()
	require.Len(t, st, 3)
	for i := range 2 {
		require.Equal(t, group.Healthy, st[i].State, "token %d at open: %v", i, st[i].LastError)
	}
	require.Equal(t, group.Down, st[2].State, "token 2 is not reachable at open")
	require.Error(t, st[2].LastError)
	require.Len(t, g.OpenErrors(), 1)

	router, err := provider.NewRouter(provider.RouterConfig{Primary: g, Policy: provider.FallbackDeny, ManagedKeys: g})
	require.NoError(t, err)
	h := testguest.NewHarness(t, router, wasihost.Options{}, testguest.Build(t, groupGuest))
	const total = 7 * time.Second
	outs := make([]string, 4)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() {
			res := h.Run(guestName, nil, nil, strconv.Itoa(i), fmt.Sprint(total.Seconds()))
			outs[i] = res.Stdout
			if res.ExitCode != 0 {
				outs[i] += "\nexit " + strconv.Itoa(int(res.ExitCode)) + ": " + res.Stderr
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	require.Equal(t, group.Down, g.Status()[2].State, "token 2 stays down while its server does not run")
	fx.Start(t, 2)
	started := time.Now()
	seen := map[group.State]bool{}
	var took time.Duration
	for time.Since(started) < rejoinWithin+time.Second {
		s := g.Status()[2]
		seen[s.State] = true
		if s.State == group.Healthy {
			took = time.Since(started)
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	joined := g.Status()[2]
	wg.Wait()
	after := g.Status()

	var calls, failed, bad int
	var slowest time.Duration
	for i, out := range outs {
		c, f, b, s, err := checkGuest(k, i, out)
		require.NoError(t, err, "guest %d: %s", i, tail(out))
		calls, failed, bad, slowest = calls+c, failed+f, bad+b, max(slowest, s)
	}
	t.Logf("join: token 2 healthy %v after its server started (states seen %v); %d guest calls, %d failed, %d did not verify, slowest %v (deadline %v), failovers %d, recoveries of the healthy tokens %d/%d",
		took.Round(time.Millisecond), seen, calls, failed, bad, slowest.Round(time.Millisecond), callTimeout, g.Failovers(),
		after[0].Backend.Recoveries, after[1].Backend.Recoveries)
	for _, s := range after {
		t.Logf("token %d: %s, %d operations, %d failed over, keys %v", s.Index, s.State, s.Operations, s.Failovers, s.Keys)
	}
	require.Equal(t, group.Healthy, joined.State, "token 2 joined within %v of its start (last error %v)", rejoinWithin+time.Second, joined.LastError)
	assert.LessOrEqual(t, took, rejoinWithin, "token 2 joined within %v", rejoinWithin)
	assert.True(t, seen[group.Recovering] || took < 5*time.Millisecond, "token 2 went through recovering (its keys checked) before healthy")
	assert.Equal(t, group.KeyPresent, after[2].Keys["sig"])
	assert.Equal(t, group.KeyPresent, after[2].Keys["mac"])
	assert.Greater(t, after[2].Operations, joined.Operations, "token 2 serves calls once it joined")
	assert.Empty(t, g.OpenErrors())
	assert.Positive(t, calls)
	assert.Zero(t, failed, "no guest call fails")
	assert.Zero(t, bad, "every result verifies")
	assert.LessOrEqual(t, slowest, callTimeout, "no call takes longer than its deadline")
}
