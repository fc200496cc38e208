//go:build cgo && linux

package tokenfaults

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
)

// TestTokenRestart: goroutines and real guests sign with a managed key
// while the p11-kit server in front of the token is killed (SIGKILL, with
// the processes that serve its connections) and started again on the same
// socket. During the outage every call returns within its deadline with
// io or timedout; after the restart the service comes back by itself
// within restartLimit; no signature is wrong; the OS threads stay bounded.
// A key the backend created before the restart answers notrecoverable; a
// new one works.
func TestTokenRestart(t *testing.T) {
	fx, r := remoteToken(t)
	b := openBackend(t, fx, r.Module, nil)
	// A second backend on the same module: the module is initialised
	// again once, and this one opens new sessions.
	other := openBackend(t, fx, r.Module, nil)
	ctx := context.Background()

	managed, err := b.OpenManagedKey(ctx, managedName, provider.Guest{Name: "load"})
	require.NoError(t, err)
	ms := newSigner(t, managed)
	created, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("ES256")})
	require.NoError(t, err)
	cs := newSigner(t, created)
	class, err := cs.sign(ctx)
	require.Equal(t, ok, class, "%v", err)
	guest := newGuestRunner(t, b)
	class, err = guest.sign()
	require.Equal(t, ok, class, "%v", err)

	const restartLimit = 5 * time.Second
	workers := pick(16, 32)
	guests := pick(2, 4)
	cycles := pick(1, 5)
	outage := pick(1500*time.Millisecond, 5*time.Second)
	threadsBefore := threads(t)
	watch := watchThreads(t)

	rec := &recorder{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopLoad := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	// On a failure too: the server runs again for the next test, and no
	// guest outlives the test.
	t.Cleanup(func() {
		if !r.Running() {
			r.Start(t)
		}
	})
	t.Cleanup(stopLoad)
	load(rec, workers, ms, "load", stop, &wg)
	guestLoad(rec, guests, guest, stop, &wg)
	time.Sleep(500 * time.Millisecond)

	type window struct{ down, up time.Time }
	var windows []window
	var firstOK []time.Duration
	for range cycles {
		down := time.Now()
		r.Kill(t)
		time.Sleep(outage)
		up := time.Now()
		r.Start(t)
		firstOK = append(firstOK, waitOK(t, rec, up, restartLimit))
		windows = append(windows, window{down, up})
		time.Sleep(pick(500*time.Millisecond, 2*time.Second))
	}
	stopLoad()
	threadsMost := watch.max()
	threadsAfter := threads(t)

	samples := rec.all()
	inOutage := func(s sample) bool {
		for _, w := range windows {
			if s.end.After(w.down) && s.start.Before(w.up) {
				return true
			}
		}
		return false
	}
	isGuest := func(s sample) bool { return len(s.who) > 6 && s.who[:6] == "guest-" }
	backendOutage := summarize(samples, func(s sample) bool { return !isGuest(s) && inOutage(s) })
	guestOutage := summarize(samples, func(s sample) bool { return isGuest(s) && inOutage(s) })
	all := summarize(samples, nil)
	t.Logf("backend calls during the outages: %v", backendOutage)
	t.Logf("guest runs during the outages: %v", guestOutage)
	t.Logf("all calls: %v", all)
	t.Logf("first success after each restart: %v (limit %v)", firstOK, restartLimit)
	t.Logf("OS threads: before %d, most during %d, after %d", threadsBefore, threadsMost, threadsAfter)

	assert.Zero(t, all.classes[wrong], "wrong results")
	for _, s := range samples {
		if s.class != ok && s.class != timedout && s.class != device {
			t.Errorf("%s: unexpected %s: %v", s.who, s.class, s.err)
		}
	}
	// Each backend call is one operation on the token: its deadline.
	assert.LessOrEqual(t, summarize(samples, func(s sample) bool { return !isGuest(s) }).maxLatency, callTimeout+margin())
	// A guest run opens the key and signs: two operations, and the
	// instantiation and the Go runtime's start, which take what they take
	// on a loaded machine whether the token is there or not.
	healthyGuest := summarize(samples, func(s sample) bool { return isGuest(s) && !inOutage(s) })
	t.Logf("guest runs outside the outages: %v", healthyGuest)
	// A guest is CPU-bound between its host calls: on a loaded machine
	// its run stretches by seconds, so the bound checks that no run hung,
	// not how fast guests run.
	assert.LessOrEqual(t, guestOutage.maxLatency, 2*callTimeout+healthyGuest.maxLatency+guestSlack)
	assert.NotZero(t, backendOutage.n, "calls were made during the outage")
	assert.Less(t, backendOutage.classes[ok], backendOutage.n, "the outage was felt")
	// The cgo calls are bounded by the sessions (4) and the recovery; the
	// rest is the runtime's.
	assert.LessOrEqual(t, threadsMost, threadsBefore+4+1+8, "OS threads during the outage")

	// The backend's own session key died with the server's process; the
	// managed key and new keys work.
	_, err = cs.sign(ctx)
	require.ErrorIs(t, err, provider.ErrKeyLost)
	class, err = ms.sign(ctx)
	require.Equal(t, ok, class, "%v", err)
	fresh, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("ES256")})
	require.NoError(t, err)
	class, err = newSigner(t, fresh).sign(ctx)
	require.Equal(t, ok, class, "%v", err)
	class, err = guest.sign()
	require.Equal(t, ok, class, "%v", err)
	require.NoError(t, fresh.Destroy(ctx))
	// The other backend was idle: its first call finds the module
	// initialised again and fails fast (io) while it opens new sessions.
	var otherErr error
	for range 100 {
		var otherKey provider.Key
		otherKey, otherErr = other.OpenManagedKey(ctx, managedName, provider.Guest{Name: "load"})
		if otherErr == nil {
			class, otherErr = newSigner(t, otherKey).sign(ctx)
			if class == ok {
				break
			}
		}
		require.ErrorIs(t, otherErr, provider.ErrDevice)
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, otherErr, "the second backend on the module works again")
	require.NoError(t, created.Destroy(ctx), "a lost key's Destroy has nothing to do")
}
