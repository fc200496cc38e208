//go:build cgo

package reliability_test

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// Soak settings: WASIHSM_SOAK is how long the load runs (`make soak` sets
// minutes; `make test` runs the default).
const (
	soakEnv         = "WASIHSM_SOAK"
	soakDefault     = 20 * time.Second
	soakWorkers     = 8 // guest instances running at once
	soakRounds      = 4 // mix rounds per instance
	soakMaxSessions = 4 // the token backend's session pool
)

// snapshot is what must come back to its baseline after the load.
type snapshot struct {
	goroutines     int
	rss            int64
	sessionObjects int
	tokenObjects   int
	tokenSessions  int // the process's open sessions on the token
}

func takeSnapshot(t *testing.T, in *softhsmtest.Inspector) snapshot {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	return snapshot{
		goroutines:     runtime.NumGoroutine(),
		rss:            rss(),
		sessionObjects: len(in.SessionObjects()),
		tokenObjects:   len(in.Find(pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true))),
		tokenSessions:  openSessions(in),
	}
}

func (s snapshot) String() string {
	return fmt.Sprintf("goroutines %d, RSS %s, token sessions %d, session objects %d, token objects %d",
		s.goroutines, mib(s.rss), s.tokenSessions, s.sessionObjects, s.tokenObjects)
}

// TestSoak runs soakWorkers guest instances at a time, each doing mixed
// work (hash, AES-GCM, ES256 signing, HKDF, HS256, each checked against
// the standard library, in the guest or, for signatures, by checkMix),
// one after another for
// WASIHSM_SOAK, alternating between a host whose primary is the SoftHSM2
// token and a host on the software backend. No guest may fail; after the
// load the goroutines, the token's objects, the host's state and the RSS
// are back to their baseline, and the token's sessions never exceed the
// pool's cap (RSS within a margin: the Go heap
// and wazero's code cache do not shrink to the byte).
func TestSoak(t *testing.T) {
	duration := envDuration(t, soakEnv, soakDefault)
	b, fx := tokenBackend(t, hsm.Config{MaxSessions: soakMaxSessions})
	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)
	tokenRouter, err := provider.NewRouter(provider.RouterConfig{Primary: b, Fallback: newCountingSoftware(), Policy: provider.FallbackAllow, ManagedKeys: b})
	require.NoError(t, err)
	softRouter, err := provider.NewRouter(provider.RouterConfig{Primary: newCountingSoftware(), Policy: provider.FallbackDeny})
	require.NoError(t, err)
	wasm := guestWasm(t)
	hosts := []*testguest.Harness{
		testguest.NewHarness(t, tokenRouter, wasihost.Options{}, wasm),
		testguest.NewHarness(t, softRouter, wasihost.Options{}, wasm),
	}
	// Warm up under the same load for a quarter of the run: compile, the
	// pool's sessions, and the memory that a process keeps once it has
	// served such a load (the C heap's per-thread arenas of SoftHSM2, the
	// race detector's shadow of the heap) reach their steady size; then
	// the baseline. What grows after it grows with the work: a leak.
	warmUntil := time.Now().Add(duration / 4)
	var warm sync.WaitGroup
	for w := range soakWorkers {
		warm.Go(func() {
			for i := 0; i == 0 || time.Now().Before(warmUntil); i++ {
				r := hosts[(w+i)%len(hosts)].Run("warmup", nil, nil, "mix", "1")
				assert.Zero(t, r.ExitCode, r.Stderr)
			}
		})
	}
	warm.Wait()
	before := takeSnapshot(t, in)

	var instances, ops, failures atomic.Int64
	var mu sync.Mutex
	var firstFailures []string
	deadline := time.Now().Add(duration)
	start := time.Now()
	// Sample the sessions and goroutines while the load runs.
	var peakSessions, peakGoroutines int
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				peakSessions = max(peakSessions, openSessions(in))
				peakGoroutines = max(peakGoroutines, runtime.NumGoroutine())
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range soakWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				h := hosts[(w+i)%len(hosts)]
				r := h.Run(fmt.Sprintf("soak-%d-%d", w, i), nil, nil, "mix", strconv.Itoa(soakRounds))
				instances.Add(1)
				err := checkMix(r.Stdout, soakRounds)
				if r.ExitCode != 0 || err != nil {
					failures.Add(1)
					mu.Lock()
					if len(firstFailures) < 5 {
						firstFailures = append(firstFailures, fmt.Sprintf("exit %d: %v: %s", r.ExitCode, err, r.Stderr))
					}
					mu.Unlock()
					continue
				}
				ops.Add(soakRounds * mixOpsPerRound)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	elapsed := time.Since(start)
	during := rss()

	// Goroutines that served the load may take a moment to end.
	after := takeSnapshot(t, in)
	for i := 0; i < 50 && after.goroutines > before.goroutines; i++ {
		time.Sleep(100 * time.Millisecond)
		after = takeSnapshot(t, in)
	}
	t.Logf("soak: %s, %d workers: %d instances, %d ops (%.0f ops/s), %d failures", elapsed.Round(time.Second), soakWorkers,
		instances.Load(), ops.Load(), float64(ops.Load())/elapsed.Seconds(), failures.Load())
	t.Logf("soak: before: %s", before)
	t.Logf("soak: after:  %s (RSS at the end of the load %s)", after, mib(during))
	t.Logf("soak: during: at most %d token sessions open, %d goroutines", peakSessions, peakGoroutines)

	assert.Zero(t, failures.Load(), "failed instances: %s", strings.Join(firstFailures, "\n"))
	assert.Positive(t, ops.Load())
	assert.LessOrEqual(t, after.goroutines, before.goroutines, "goroutines back to the baseline")
	assert.Equal(t, before.sessionObjects, after.sessionObjects, "session objects back to the baseline")
	assert.Equal(t, before.tokenObjects, after.tokenObjects, "token objects back to the baseline")
	// The backend keeps its pool's sessions open for reuse, so the count
	// may rise from the baseline up to the pool's cap, never beyond: the
	// cap plus the test's inspector session.
	assert.LessOrEqual(t, peakSessions, soakMaxSessions+1, "token sessions bounded by the pool while the load runs")
	assert.LessOrEqual(t, after.tokenSessions, soakMaxSessions+1, "token sessions after the load: the pool's, and the inspector's")
	assert.LessOrEqual(t, after.rss, before.rss+soakRSSMargin, "RSS back to the baseline (margin %s)", mib(soakRSSMargin))
	for _, h := range hosts {
		assert.Equal(t, wasihost.Stats{}, h.Host.Stats(), "no instance state left in the host")
	}
}

// soakRSSMargin is how far above the baseline the RSS may end: the Go
// heap's and the race detector's shadow memory do not go back to the OS
// to the byte.
const soakRSSMargin = 64 << 20

// openSessions counts the process's open sessions on the token. SoftHSM2
// reports no ulSessionCount (CK_UNAVAILABLE_INFORMATION), but its session
// handles belong to the process and are small numbers: C_GetSessionInfo
// answers for each open one, whichever session opened it.
func openSessions(in *softhsmtest.Inspector) int {
	n := 0
	for h := pkcs11.SessionHandle(1); h <= 1<<14; h++ {
		if _, err := in.Ctx().GetSessionInfo(h); err == nil {
			n++
		}
	}
	return n
}
