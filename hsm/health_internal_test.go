//go:build cgo

package hsm

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
)

// TestAbandonable: the caller stops waiting when its context ends, the
// body runs to its end anyway, and finish learns whether the caller took
// the result; a body that returns first is never abandoned.
func TestAbandonable(t *testing.T) {
	errBody := errors.New("body")
	tests := []struct {
		name          string
		bodyTakes     time.Duration
		wait          time.Duration
		wantAbandoned bool
		wantErr       error
	}{
		{"body first", 0, time.Second, false, errBody},
		{"deadline first", 200 * time.Millisecond, 20 * time.Millisecond, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.wait)
			defer cancel()
			type finished struct {
				err       error
				abandoned bool
			}
			fin := make(chan finished, 1)
			start := time.Now()
			abandoned, err := abandonable(ctx, nil, func() error {
				time.Sleep(tt.bodyTakes)
				return errBody
			}, lease{}, func(err error, abandoned bool) { fin <- finished{err, abandoned} })
			waited := time.Since(start)
			assert.Equal(t, tt.wantAbandoned, abandoned)
			assert.Equal(t, tt.wantErr, err)
			if tt.wantAbandoned {
				assert.Less(t, waited, tt.bodyTakes, "the caller did not wait for the body")
			}
			f := <-fin
			assert.Equal(t, errBody, f.err, "the body ran to its end")
			assert.Equal(t, tt.wantAbandoned, f.abandoned)
		})
	}
}

// TestAbandonableExpire: the call deadline's timer ends the wait like the
// context does, and a pooled hand-off left by an abandoned call carries
// nothing into the calls after it.
func TestAbandonableExpire(t *testing.T) {
	b := &Backend{callTimeout: 20 * time.Millisecond}
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	// Were expire not watched, the body would end after a second, and
	// the call would not count as abandoned.
	time.AfterFunc(time.Second, free)
	finished := make(chan bool, 1)
	timer := time.NewTimer(b.callTimeout)
	abandoned, err := abandonable(context.Background(), timer.C, func() error {
		<-release
		return nil
	}, lease{}, func(_ error, abandoned bool) { finished <- abandoned })
	timer.Stop()
	require.True(t, abandoned)
	require.NoError(t, err)
	free()
	require.True(t, <-finished, "finish learns that the caller gave up")
	for i := range 100 {
		want := errors.New("body")
		if i%2 == 0 {
			want = nil
		}
		timer := time.NewTimer(b.callTimeout)
		abandoned, err := abandonable(context.Background(), timer.C, func() error { return want }, lease{}, func(error, bool) {})
		timer.Stop()
		require.False(t, abandoned, "call %d", i)
		require.Equal(t, want, err, "call %d", i)
	}
}

// TestModuleGateBusy: a call that stays in the module past reinitDrain
// (another token of a proxy module hangs) makes reinit give up and open
// the gate again, without finalizing: the module's other tokens go on.
func TestModuleGateBusy(t *testing.T) {
	b, _ := openInternal(t, nil)
	m := b.mod
	require.True(t, m.enter())
	epoch := m.epoch.Load()
	start := time.Now()
	err := m.reinit(epoch)
	waited := time.Since(start)
	require.ErrorIs(t, err, errReinitBusy)
	require.ErrorIs(t, err, provider.ErrDevice)
	assert.GreaterOrEqual(t, waited, reinitDrain, "it waited for the call first")
	assert.Equal(t, epoch, m.epoch.Load(), "not initialised again")
	require.True(t, m.enter(), "the gate is open again")
	m.leave()
	m.leave()
	require.NoError(t, m.reinit(epoch), "drained: now it does")
	assert.Equal(t, epoch+1, m.epoch.Load())
}

// TestModuleGate: reinit waits for the calls in the module and turns new
// ones away meanwhile; another backend's reinit since the failed epoch is
// not repeated.
func TestModuleGate(t *testing.T) {
	b, _ := openInternal(t, nil)
	m := b.mod
	require.True(t, m.enter())
	epoch := m.epoch.Load()
	done := make(chan error, 1)
	go func() { done <- m.reinit(epoch) }()
	// reinit closes the gate and waits for the call in flight.
	require.Eventually(t, func() bool {
		m.gateMu.Lock()
		defer m.gateMu.Unlock()
		return m.closing
	}, 5*time.Second, time.Millisecond)
	assert.False(t, m.enter(), "no new call while the module is reinitialised")
	select {
	case err := <-done:
		t.Fatalf("reinit did not wait for the call in flight: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	m.leave()
	require.NoError(t, <-done)
	assert.Equal(t, epoch+1, m.epoch.Load())
	require.NoError(t, m.reinit(epoch), "reinitialised since: nothing to do")
	assert.Equal(t, epoch+1, m.epoch.Load())

	// The backend notices the new epoch: io at once, then it recovers
	// by itself with new sessions.
	k, err := b.GenerateKey(context.Background(), provider.KeyRequest{Algorithm: provider.MustLookup("HS256")})
	require.ErrorIs(t, err, provider.ErrDevice)
	require.Nil(t, k)
	require.Eventually(t, func() bool {
		k, err = b.GenerateKey(context.Background(), provider.KeyRequest{Algorithm: provider.MustLookup("HS256")})
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	assert.EqualValues(t, 1, b.recoveries.Load())
	require.NoError(t, k.Destroy(context.Background()))
}

// TestAbandonedMainCallLeavesTheModuleFirst: a call on the persistent
// session whose caller stopped waiting lets mainLock go only after it left
// the module, so whoever takes the lock next, Close included, finds the
// module idle (Close would otherwise refuse to finalize it).
func TestAbandonedMainCallLeavesTheModuleFirst(t *testing.T) {
	b, _ := openInternal(t, nil)
	for i := 0; i < 200; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		started, finish := make(chan struct{}), make(chan struct{})
		go func() {
			<-started
			cancel()
		}()
		err := b.withMain(ctx, "wait for the test", false, func(pkcs11.SessionHandle) error {
			close(started)
			<-finish
			return nil
		}, nil)
		require.ErrorIs(t, err, provider.ErrTimeout, "the caller stopped waiting")
		close(finish)
		b.mainLock <- struct{}{}
		busy := b.mod.busy()
		<-b.mainLock
		require.False(t, busy, "iteration %d: mainLock was free while the abandoned call was still in the module", i)
	}
}
