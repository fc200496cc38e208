package bench

import (
	"fmt"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BenchmarkHandoff measures what the default backend's call deadline
// costs without any wasihsm code in the way: the raw operations of the
// token rows HS256 of 64 B and ES256 sign (C_SignInit + C_Sign on a kept
// session and key), made
//
//   - "inline": on the benchmark's goroutine;
//   - "goroutine": on a goroutine of its own per call while the caller
//     waits for its answer or a deadline timer, as hsm's tokenCall does
//     (a goroutine, a channel, a select);
//   - "goroutine-no-idle-cpu": the same while other goroutines keep every
//     other P busy, so that the Go scheduler has no idle P to wake;
//   - "coroutine": on a kept coroutine (iter.Pull), which the caller
//     switches to and back from on its own thread, as hsm's tokenCall
//     does now.
//
// The difference between the first two is the hand-off's price on this
// machine; the third shows how much of it is the scheduler waking an
// idle CPU for each goroutine it makes runnable (runtime.wakep: a futex
// wake of a parked thread, which a hypervisor turns into an
// inter-processor interrupt to a halted vCPU). No goal: bench/ANALYSIS.md
// uses the rows to explain the default backend's token rows.
func BenchmarkHandoff(b *testing.B) {
	works := handoffWorks(b, directToken(b).raw)
	co := newCoroutine()
	defer co.stop()
	for range *rounds {
		for _, w := range works {
			b.Run(w.name+"/inline", func(b *testing.B) {
				w.check(b, hostLoop(b, w.op))
			})
			b.Run(w.name+"/goroutine", func(b *testing.B) {
				w.check(b, hostLoop(b, func() ([]byte, error) { return onGoroutine(w.op) }))
			})
			b.Run(w.name+"/goroutine-no-idle-cpu", func(b *testing.B) {
				stop := occupyOtherPs()
				defer stop()
				w.check(b, hostLoop(b, func() ([]byte, error) { return onGoroutine(w.op) }))
			})
			b.Run(w.name+"/coroutine", func(b *testing.B) {
				w.check(b, hostLoop(b, func() ([]byte, error) { return co.run(w.op) }))
			})
		}
	}
}

// handoffWork is one raw operation of the diagnostic and the check of
// its output.
type handoffWork struct {
	name  string
	op    func() ([]byte, error)
	check func(tb testing.TB, out []byte)
}

// handoffWorks are the raw HS256 of 64 B and ES256 signature of the token
// rows, on keys made for tb (and destroyed when it ends).
func handoffWorks(tb testing.TB, r *rawToken) []handoffWork {
	mac := r.macKey(tb)
	pair, err := r.generatePair("ES256")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = r.destroy(pair.priv, pair.pub) })
	msg := pattern(64)
	return []handoffWork{
		{"HS256-64B", func() ([]byte, error) { return r.sign(r.session, "HS256", mac, msg) },
			func(tb testing.TB, out []byte) { checkMAC(tb, []string{fmt.Sprintf("%x", out)}) }},
		{"ES256-sign", func() ([]byte, error) { return r.sign(r.session, "ES256", pair.priv, msg) },
			func(tb testing.TB, out []byte) { verifySignature(tb, "ES256", pair.public, out) }},
	}
}

// handoffTimer is the deadline onGoroutine waits on next to the answer,
// as tokenCall waits on its call timer; it never fires in the benchmark.
var handoffTimer = time.NewTimer(time.Hour)

// onGoroutine runs call on a goroutine of its own and waits for its
// answer or the deadline.
func onGoroutine(call func() ([]byte, error)) ([]byte, error) {
	type answer struct {
		out []byte
		err error
	}
	done := make(chan answer, 1)
	go func() {
		out, err := call()
		done <- answer{out, err}
	}()
	select {
	case a := <-done:
		return a.out, a.err
	case <-handoffTimer.C:
		return nil, fmt.Errorf("bench: no answer within the deadline")
	}
}

// coroutine is a kept coroutine that makes one call each time it is
// switched to, and switches back when the call returns.
type coroutine struct {
	call func()
	next func() (struct{}, bool)
	stop func()
}

func newCoroutine() *coroutine {
	c := &coroutine{}
	c.next, c.stop = iter.Pull(func(yield func(struct{}) bool) {
		for {
			c.call()
			if !yield(struct{}{}) {
				return
			}
		}
	})
	return c
}

// run makes call on the coroutine.
func (c *coroutine) run(call func() ([]byte, error)) ([]byte, error) {
	var out []byte
	var err error
	c.call = func() { out, err = call() }
	c.next()
	return out, err
}

// occupyOtherPs keeps GOMAXPROCS-1 goroutines spinning until the returned
// function is called, so that no P is idle.
func occupyOtherPs() (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) - 1 {
		wg.Go(func() {
			for !done.Load() {
			}
		})
	}
	return func() {
		done.Store(true)
		wg.Wait()
	}
}

// TestHandoff checks the diagnostic's paths: each operation handed to a
// goroutine, with and without the other Ps occupied, gives a right
// answer, and occupyOtherPs lets its goroutines go.
func TestHandoff(t *testing.T) {
	for _, w := range handoffWorks(t, directToken(t).raw) {
		out, err := onGoroutine(w.op)
		require.NoError(t, err, w.name)
		w.check(t, out)
		co := newCoroutine()
		out, err = co.run(w.op)
		require.NoError(t, err, w.name)
		w.check(t, out)
		out, err = co.run(w.op)
		co.stop()
		require.NoError(t, err, w.name)
		w.check(t, out)

		before := runtime.NumGoroutine()
		stop := occupyOtherPs()
		out, err = onGoroutine(w.op)
		stop()
		require.NoError(t, err, w.name)
		w.check(t, out)
		// A goroutine that has called wg.Done may still be counted for a
		// moment before it exits. (Not assert.Eventually: it counts as
		// a goroutine itself.)
		left := runtime.NumGoroutine()
		for deadline := time.Now().Add(time.Second); left > before && time.Now().Before(deadline); left = runtime.NumGoroutine() {
			time.Sleep(time.Millisecond)
		}
		assert.LessOrEqual(t, left, before, "%s: goroutines left after occupyOtherPs stopped", w.name)
	}
}
