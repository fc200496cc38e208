//go:build cgo && linux

package tokenfaults

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
)

// TestTokenHang: the p11-kit server and its children are stopped with
// SIGSTOP, so the token takes calls and never answers. Many callers sign
// at once: each gets timedout (its call reached the token) or io (the
// backend already knew the token hung) within its deadline; the goroutines
// stuck in the module, and so the OS threads, stay bounded by the session
// pool. After SIGCONT the service recovers by itself; nothing was
// reinitialised, so even the keys the backend created still work.
func TestTokenHang(t *testing.T) {
	fx, r := remoteToken(t)
	b := openBackend(t, fx, r.Module, nil)
	ctx := context.Background()

	managed, err := b.OpenManagedKey(ctx, managedName, provider.Guest{Name: "load"})
	require.NoError(t, err)
	ms := newSigner(t, managed)
	created, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("ES256")})
	require.NoError(t, err)
	cs := newSigner(t, created)
	guest := newGuestRunner(t, b)
	start := time.Now()
	class, err := guest.sign()
	require.Equal(t, ok, class, "%v", err)
	// A guest run's own time: instantiation and the Go runtime's start.
	guestBase := time.Since(start)

	const recoverLimit = 5 * time.Second
	callers := pick(64, 256)
	hang := pick(2*time.Second, 10*time.Second)
	threadsBefore := threads(t)
	watch := watchThreads(t)

	resume := hangToken(t, r)
	stoppedAt := time.Now()
	rec := &recorder{}
	wg := signAll(ctx, callers, func(i int) signer {
		if i%2 == 1 {
			return cs
		}
		return ms
	}, rec)
	// A guest too, and a creation on the persistent session.
	start = time.Now()
	class, err = guest.sign()
	guestHung := sample{who: "guest", start: start, end: time.Now(), class: class, err: err}
	start = time.Now()
	_, err = b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("ES256")})
	createHung := sample{who: "generate", start: start, end: time.Now(), class: classify(err), err: err}
	wg.Wait()
	if left := hang - time.Since(stoppedAt); left > 0 {
		time.Sleep(left)
	}
	threadsMost := watch.max()

	continuedAt := time.Now()
	resume()
	var recovered time.Duration
	for {
		class, err := ms.sign(ctx)
		if class == ok {
			recovered = time.Since(continuedAt)
			break
		}
		require.Less(t, time.Since(continuedAt), recoverLimit, "no success within %v of SIGCONT: %v", recoverLimit, err)
		time.Sleep(10 * time.Millisecond)
	}
	threadsAfter := threads(t)

	hung := summarize(rec.all(), nil)
	t.Logf("%d callers while the token hung: %v", callers, hung)
	t.Logf("a guest while the token hung: %s after %v: %v", guestHung.class, guestHung.end.Sub(guestHung.start).Round(time.Millisecond), guestHung.err)
	t.Logf("a key generation while the token hung: %s after %v", createHung.class, createHung.end.Sub(createHung.start).Round(time.Millisecond))
	t.Logf("first success after SIGCONT: %v (limit %v)", recovered, recoverLimit)
	t.Logf("OS threads: before %d, most while hung %d, after %d", threadsBefore, threadsMost, threadsAfter)

	assert.Equal(t, callers, hung.n)
	assert.Zero(t, hung.classes[ok]+hung.classes[wrong]+hung.classes[other]+hung.classes[keyLost], "every call failed with timedout or io: %v", hung)
	assert.NotZero(t, hung.classes[timedout], "calls that reached the token timed out")
	assert.LessOrEqual(t, hung.maxLatency, callTimeout+margin())
	assert.Contains(t, []string{timedout, device}, guestHung.class)
	assert.LessOrEqual(t, guestHung.end.Sub(guestHung.start), 2*callTimeout+guestBase+guestSlack)
	assert.Contains(t, []string{timedout, device}, createHung.class)
	assert.LessOrEqual(t, createHung.end.Sub(createHung.start), callTimeout+margin())
	// Stuck in the module: at most the 3 pooled sessions, the persistent
	// one and the recovery's probe; the rest is the runtime's.
	assert.LessOrEqual(t, threadsMost, threadsBefore+5+8, "OS threads while %d callers met a hung token", callers)

	// Nothing was reinitialised: every key works, guests too.
	class, err = cs.sign(ctx)
	require.Equal(t, ok, class, "%v", err)
	class, err = guest.sign()
	require.Equal(t, ok, class, "%v", err)
	require.NoError(t, created.Destroy(ctx))
}

// hangToken stops the token's p11-kit server and its children with
// SIGSTOP. The returned function continues them; the test's cleanup does
// when the test did not get that far.
func hangToken(t *testing.T, r *softhsmtest.RemoteFixture) (resume func()) {
	r.Stop(t)
	stopped := true
	t.Cleanup(func() {
		if stopped {
			r.Continue(t)
		}
	})
	return func() {
		r.Continue(t)
		stopped = false
	}
}

// signAll starts n callers at once, caller i signing once with signerFor(i)
// and recording the outcome in rec; wait for them on the WaitGroup.
func signAll(ctx context.Context, n int, signerFor func(i int) signer, rec *recorder) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			class, err := signerFor(i).sign(ctx)
			rec.add(sample{who: fmt.Sprintf("caller-%d", i), start: start, end: time.Now(), class: class, err: err})
		}()
	}
	return &wg
}
