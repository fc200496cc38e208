//go:build cgo

package hsm

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
)

// TestOnCoroutine: the caller gets the body's answer, or stops waiting at
// the call deadline or when its context ends; the body runs to its end
// anyway and ends the lease once, on its coroutine, after which the
// coroutine and its rescuer are gone.
func TestOnCoroutine(t *testing.T) {
	errBody := errors.New("body")
	tests := []struct {
		name          string
		expire        time.Duration
		ctxEnds       time.Duration // 0: ctx never ends
		wantAbandoned bool
		wantErr       error
	}{
		{"body first", time.Hour, 0, false, errBody},
		{"call deadline first", 20 * time.Millisecond, 0, true, nil},
		{"context ends first", time.Hour, 20 * time.Millisecond, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := goroutines()
			ctx := context.Background()
			if tt.ctxEnds > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxEnds)
				defer cancel()
			}
			budget := provider.NewBudget(1 << 10)
			st, err := stage(budget, 100, "test")
			require.NoError(t, err)
			release := make(chan struct{})
			ended := make(chan struct{})
			l := lease{staged: st, undo: func() { close(ended) }}
			st.hold()
			start := time.Now()
			abandoned, err := onCoroutine(ctx, tt.expire, func() error {
				if tt.wantAbandoned {
					<-release
				}
				return nil
			}, l)
			st.done() // the caller's hold
			waited := time.Since(start)
			assert.Equal(t, tt.wantAbandoned, abandoned)
			if !tt.wantAbandoned {
				assert.NoError(t, err)
				assert.Zero(t, budget.Held(), "the body's lease ended before the caller got the answer")
				return
			}
			assert.NoError(t, err)
			assert.Less(t, waited, time.Second, "the caller did not wait for the body")
			assert.Equal(t, int64(100), budget.Held(), "the abandoned body still holds its staged memory")
			close(release)
			select {
			case <-ended:
			case <-time.After(5 * time.Second):
				t.Fatal("the abandoned body's lease did not end with undo")
			}
			// Polled here: require.Eventually polls on a goroutine of its own.
			for deadline := time.Now().Add(5 * time.Second); budget.Held() != 0 || goroutines() > before; time.Sleep(time.Millisecond) {
				require.True(t, time.Now().Before(deadline), "the lease ends, then the coroutine and its rescuer: held %d, goroutines %d, before %d", budget.Held(), goroutines(), before)
			}
		})
	}
}

// TestOnCoroutineRace: a body that returns as its deadline passes is
// either finished or abandoned, never both: the lease ends exactly once
// (the budget balances), and undo runs exactly for the calls the caller
// gave up on whose body ran and succeeded. A deadline that passes while
// the coroutine starts answers the caller without running the body.
func TestOnCoroutineRace(t *testing.T) {
	budget := provider.NewBudget(1 << 20)
	type outcome struct {
		abandoned  bool
		ran, undid atomic.Bool
	}
	outcomes := make([]*outcome, 300)
	for i := range outcomes {
		o := &outcome{}
		outcomes[i] = o
		st, err := stage(budget, 10, "test")
		require.NoError(t, err)
		st.hold()
		d := time.Duration(i%7-1) * 10 * time.Microsecond
		abandoned, err := onCoroutine(context.Background(), d, func() error {
			o.ran.Store(true)
			time.Sleep(max(d, 0))
			return nil
		}, lease{staged: st, undo: func() { o.undid.Store(true) }})
		st.done()
		require.NoError(t, err)
		o.abandoned = abandoned
	}
	for deadline := time.Now().Add(5 * time.Second); budget.Held() != 0; time.Sleep(time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "every lease ends once: %d bytes still held", budget.Held())
	}
	abandoned, ran := 0, 0
	for i, o := range outcomes {
		assert.Equal(t, o.abandoned && o.ran.Load(), o.undid.Load(), "call %d: undo runs for a call given up on after its body ran, only", i)
		if o.abandoned {
			abandoned++
		}
		if o.ran.Load() {
			ran++
		}
		if !o.abandoned {
			assert.True(t, o.ran.Load(), "call %d: a call not given up on ran its body", i)
		}
	}
	t.Logf("%d calls: %d abandoned, %d bodies ran", len(outcomes), abandoned, ran)
}

// goroutines counts the goroutines that exist, from a dump of all of them.
func goroutines() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "\ngoroutine ") + 1
}

// TestOnCoroutinePanic: a body that panics still ends its lease, once and
// without undo, and the panic reaches the caller, as it would inline.
func TestOnCoroutinePanic(t *testing.T) {
	budget := provider.NewBudget(1 << 10)
	st, err := stage(budget, 100, "test")
	require.NoError(t, err)
	st.hold()
	undone := false
	l := lease{staged: st, undo: func() { undone = true }}
	assert.PanicsWithValue(t, "token", func() {
		_, _ = onCoroutine(context.Background(), time.Hour, func() error { panic("token") }, l)
	})
	st.done()
	assert.Zero(t, budget.Held(), "the lease ended")
	assert.False(t, undone, "nothing is undone after a panic")
	abandoned, err := onCoroutine(context.Background(), time.Hour, func() error { return nil }, lease{})
	assert.False(t, abandoned)
	assert.NoError(t, err, "the next call runs on another coroutine")
}

// TestIdleWorkersEndAtGC: the coroutines kept between calls end at the
// next garbage collection, so a process's goroutines come back to what
// they were once its load is gone.
func TestIdleWorkersEndAtGC(t *testing.T) {
	before := goroutines()
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			_, err := onCoroutine(context.Background(), time.Hour, func() error { <-release; return nil }, lease{})
			assert.NoError(t, err)
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	require.GreaterOrEqual(t, len(idleWorkers), 1, "the workers are kept after their calls")
	for deadline := time.Now().Add(5 * time.Second); len(idleWorkers) > 0 || goroutines() > before; time.Sleep(10 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "idle workers %d, goroutines %d, before %d", len(idleWorkers), goroutines(), before)
		runtime.GC()
	}
}
