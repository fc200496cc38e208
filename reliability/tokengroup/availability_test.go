//go:build cgo && linux

package tokengroup

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
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

// groupGuest signs and MACs with the managed keys and prints each result.
const groupGuest = "github.com/wasihsm/wasihsm/reliability/guests/groupguest"

// availabilityScale is the length of TestAvailability relative to the
// issue's 30 s: 1 with WASIHSM_GROUP_SOAK=full (make soak-group), 0.4
// otherwise. The failures injected and the figures asserted are the same.
func availabilityScale() float64 {
	if os.Getenv("WASIHSM_GROUP_SOAK") == "full" {
		return 1
	}
	return 0.4
}

// TestAvailability: three tokens, four wasm guests signing (ES256) and
// MACing (HS256) with managed keys for 30 s (scaled); token 0's server is
// killed whole at 10 s and started again at 13 s; token 1's is stopped
// (SIGSTOP) at 15 s for 5 s. No guest call fails, none takes longer than
// the call deadline, every result verifies, and both tokens rejoin within
// 5 s of being back. (AES-GCM sealing is not in the mix: p11-kit's
// remoting does not carry AES-GCM, TestGCMUnservableThroughProxy;
// docs/reliability.md.)
func TestAvailability(t *testing.T) {
	scale := availabilityScale()
	at := func(s float64) time.Duration { return time.Duration(s * scale * float64(time.Second)) }
	fx, k := newGroup(t)
	g := openGroup(t, fx, group.Balance)
	router, err := provider.NewRouter(provider.RouterConfig{Primary: g, Policy: provider.FallbackDeny, ManagedKeys: g})
	require.NoError(t, err)
	h := testguest.NewHarness(t, router, wasihost.Options{}, testguest.Build(t, groupGuest))

	total := at(30)
	outs := make([]string, 4)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range outs {
		wg.Go(func() {
			res := h.Run(guestName, nil, nil, strconv.Itoa(i), fmt.Sprint(total.Seconds()))
			outs[i] = res.Stdout
			if res.ExitCode != 0 {
				outs[i] += "\nexit " + strconv.Itoa(int(res.ExitCode)) + ": " + res.Stderr
			}
		})
	}
	r := watchRejoin(g)
	sleepUntil := func(d time.Duration) { time.Sleep(time.Until(start.Add(d))) }
	sleepUntil(at(10))
	fx.Kill(t, 0)
	sleepUntil(at(13))
	fx.Start(t, 0)
	r.isBack(0)
	sleepUntil(at(15))
	fx.Stop(t, 1)
	sleepUntil(at(20))
	fx.Continue(t, 1)
	r.isBack(1)
	wg.Wait()
	// The guests may end before a token that came back late rejoined.
	require.Eventually(t, func() bool {
		s := g.Status()
		return s[0].State == group.Healthy && s[1].State == group.Healthy
	}, rejoinWithin, 10*time.Millisecond)
	took := r.wait()

	var calls, failed, bad int
	var slowest time.Duration
	for i, out := range outs {
		c, f, b, s, err := checkGuest(k, i, out)
		require.NoError(t, err, "guest %d", i)
		calls, failed, bad, slowest = calls+c, failed+f, bad+b, max(slowest, s)
	}
	t.Logf("availability (%v): %d guest calls, %d failed, %d did not verify, slowest %v (deadline %v), failovers %d, rejoin: token 0 %v, token 1 %v",
		total, calls, failed, bad, slowest.Round(time.Millisecond), callTimeout, g.Failovers(),
		took[0].Round(time.Millisecond), took[1].Round(time.Millisecond))
	for _, s := range g.Status() {
		t.Logf("token %d: %s, %d operations, %d failed over, mean %v", s.Index, s.State, s.Operations, s.Failovers,
			(s.Latency / time.Duration(max(s.Operations, 1))).Round(time.Microsecond))
	}
	assert.Positive(t, calls)
	assert.Zero(t, failed, "no guest call fails")
	assert.Zero(t, bad, "every result verifies")
	assert.LessOrEqual(t, slowest, callTimeout, "no call takes longer than its deadline")
	for _, i := range []int{0, 1} {
		d, ok := took[i]
		assert.True(t, ok, "token %d rejoined", i)
		assert.LessOrEqual(t, d, rejoinWithin, "token %d rejoined within %v", i, rejoinWithin)
	}
}

// checkGuest reads guest id's output and verifies every result: it
// returns the calls, the failed calls, the results that did not verify and
// the slowest call.
func checkGuest(k keys, id int, out string) (calls, failed, bad int, slowest time.Duration, err error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	done := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "done":
			done = true
			continue
		case len(f) == 5 && f[0] == "err":
			calls++
			failed++
			ns, _ := strconv.ParseInt(f[4], 10, 64)
			slowest = max(slowest, time.Duration(ns))
			continue
		case len(f) == 4 && (f[0] == "sig" || f[0] == "mac"):
		default:
			return 0, 0, 0, 0, fmt.Errorf("unexpected line %q", sc.Text())
		}
		calls++
		ns, _ := strconv.ParseInt(f[3], 10, 64)
		slowest = max(slowest, time.Duration(ns))
		result, herr := hex.DecodeString(f[2])
		msg := []byte(fmt.Sprintf("groupguest %d round %s", id, f[1]))
		ok := herr == nil && (f[0] == "sig" && k.verifySig(msg, result) || f[0] == "mac" && k.verifyMAC(msg, result))
		if !ok {
			bad++
		}
	}
	if !done {
		return 0, 0, 0, 0, fmt.Errorf("the guest did not finish: %q", tail(out))
	}
	return calls, failed, bad, slowest, nil
}

func tail(s string) string {
	if len(s) > 300 {
		return s[len(s)-300:]
	}
	return s
}
