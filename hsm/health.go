//go:build cgo

package hsm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// Recovery backoff: the first attempt to bring a failed token back comes
// after recoverFirst, and the wait doubles up to recoverMax.
const (
	recoverFirst = 50 * time.Millisecond
	recoverMax   = 1 * time.Second
)

// tokenCall runs body, which calls into the token, on a goroutine of its
// own, and waits for it until ctx ends: a cgo call cannot be interrupted,
// but its caller can stop waiting for it. The goroutine runs body to its
// end in any case, holding the module's gate, so that the module is never
// finalized under it. When body succeeded after the caller gave up, undo
// (when not nil) runs on the same goroutine to take back what body made.
//
// The goroutines in the module are bounded without a counter of their
// own: every body holds a pooled session or the persistent session's
// lock, and releases it no sooner than it returns, so a backend has at most
// MaxSessions bodies in the module, plus its recovery (see recoverLoop),
// however long the token hangs.
//
// A call that times out reports provider.ErrTimeout and makes the backend
// suspect the token (see fault). While the module is being initialised
// again, tokenCall fails at once with errRejected, without running body.
//
// The call ends at ctx's end or, when expire is not nil, when expire
// fires: the call deadline of a token operation (see callTimer).
//
// When holdsMain, the caller holds mainLock for body, and tokenCall lets
// it go once body (and undo) have left the module, whether or not the
// caller still waits: whoever takes mainLock next, Close included, finds
// no call of the persistent session in the module. When body does not run
// (errRejected), the lock stays the caller's.
//
// With Config.InlineCalls, body runs on the caller's goroutine instead and
// is never abandoned: the deadline then bounds only the waits around it.
func (b *Backend) tokenCall(ctx context.Context, expire <-chan time.Time, op string, body func() error, undo func(), holdsMain bool) error {
	if !b.mod.enter() {
		return errRejected
	}
	if b.inline {
		err := body()
		b.mod.leave()
		if holdsMain {
			<-b.mainLock
		}
		return err
	}
	abandoned, err := abandonable(ctx, expire, body, func(err error, abandoned bool) {
		if abandoned && err == nil && undo != nil {
			undo()
		}
		b.mod.leave()
		if holdsMain {
			<-b.mainLock
		}
	})
	if !abandoned {
		return err
	}
	cause := context.Cause(ctx)
	if cause == nil {
		// ctx goes on: expire fired.
		cause = errCallDeadline
	}
	if cause == errCallDeadline {
		b.fault(fmt.Errorf("%s: no answer within its deadline", op), false)
	}
	return fmt.Errorf("hsm: %s: %w", op, timeoutError(cause))
}

// abandonable runs body on a goroutine of its own and waits for it until
// ctx ends or expire (when not nil) fires. It reports whether it gave up
// waiting, or else body's error. Either way finish runs on body's
// goroutine once body has returned, with body's error and whether the
// caller had given up; a body that finishes as the wait ends counts as
// finished, never as both.
func abandonable(ctx context.Context, expire <-chan time.Time, body func() error, finish func(err error, abandoned bool)) (bool, error) {
	h := handoffs.Get().(*handoff)
	h.body, h.finish = body, finish
	go h.run()
	select {
	case err := <-h.done:
		h.free()
		return false, err
	case <-ctx.Done():
	case <-expire:
	}
	if !h.state.CompareAndSwap(0, 2) {
		err := <-h.done
		h.free()
		return false, err
	}
	// h is the body's goroutine's now, which frees it.
	return true, nil
}

// handoff is what abandonable shares with the goroutine that runs body.
// Handoffs are pooled, so that a token call allocates neither the state
// nor the channel: whoever is last to use one, the
// caller that took the result or the goroutine of an abandoned call,
// frees it.
type handoff struct {
	// 0 running, 1 finished (the caller takes the result), 2 abandoned.
	state  atomic.Int32
	done   chan error // capacity 1; empty while pooled
	body   func() error
	finish func(err error, abandoned bool)
}

var handoffs = sync.Pool{New: func() any { return &handoff{done: make(chan error, 1)} }}

// run is the goroutine of abandonable.
func (h *handoff) run() {
	err := h.body()
	abandoned := !h.state.CompareAndSwap(0, 1)
	h.finish(err, abandoned)
	if abandoned {
		// Nobody waits for the result.
		h.free()
		return
	}
	h.done <- err
}

// free pools h again, its channel empty.
func (h *handoff) free() {
	h.body, h.finish = nil, nil
	h.state.Store(0)
	handoffs.Put(h)
}

// errRejected is tokenCall's answer while the module is being initialised
// again: body did not run. Callers answer b.unavailable() instead.
var errRejected = fmt.Errorf("hsm: the module is being initialised again: %w", provider.ErrDevice)

// errCallDeadline ends a call's context when the call deadline
// (Config.CallTimeout) passes.
var errCallDeadline = errors.New("hsm: no answer within the call deadline")

// slowCalls is how many call deadlines the slow operations get: Open
// (which asks the token for every mechanism) and key creation (RSA key
// generation takes seconds on a busy token).
const slowCalls = 6

// callContext bounds ctx by the call deadline, or by slowCalls of them for
// a slow operation.
func (b *Backend) callContext(ctx context.Context, slow bool) (context.Context, context.CancelFunc) {
	d := b.callTimeout
	if slow {
		d *= slowCalls
	}
	return context.WithTimeoutCause(ctx, d, errCallDeadline)
}

// callTimers holds stopped timers for the call deadlines of token
// operations (see callTimer).
var callTimers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// startCallTimer starts the call deadline of a token operation on a
// pooled timer: a Reset and a Stop per operation, where a context with a
// deadline makes and drops a context, a timer and a channel (5
// allocations). The caller waits on its channel in every wait of the
// operation, and gives it back with stopCallTimer; Stop leaves no value
// in the channel to be read by the timer's next user.
func (b *Backend) startCallTimer() *time.Timer { return startCallTimerFor(b.callTimeout) }

// startCallTimerFor is startCallTimer for a deadline d from now.
func startCallTimerFor(d time.Duration) *time.Timer {
	t := callTimers.Get().(*time.Timer)
	t.Reset(d)
	return t
}

// stopCallTimer stops t and pools it again.
func stopCallTimer(t *time.Timer) {
	t.Stop()
	callTimers.Put(t)
}

// ready fails fast, with provider.ErrDevice, while the token is
// unhealthy, and starts a recovery when another user of the module
// initialised it again (this backend's sessions died with that).
func (b *Backend) ready() error {
	if b.healthy.Load() {
		if b.mod.epoch.Load() == b.modEpoch.Load() {
			return nil
		}
		// No need to initialise it again: recoverOnce opens new sessions.
		b.fault(errors.New("another user of the module initialised it again"), false)
	}
	return b.unavailable()
}

// unavailable is the error of a call while the token is unhealthy.
func (b *Backend) unavailable() error {
	b.hmu.Lock()
	cause := b.cause
	b.hmu.Unlock()
	if cause == nil {
		cause = errors.New("the module is being initialised again")
	}
	return fmt.Errorf("hsm: the token is unavailable, recovering (%v): %w", cause, provider.ErrDevice)
}

// fault marks the token unhealthy for cause and starts the recovery, unless
// one runs. reinit says that the module must be finalized and initialised
// again (the token went away); otherwise (a call timed out) the recovery
// first waits for the token to answer, and reinitialises only if it
// answers with a module error.
func (b *Backend) fault(cause error, reinit bool) {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	if reinit {
		b.needReinit, b.badEpoch = true, b.modEpoch.Load()
	}
	if b.recovering || b.closed.Load() {
		return
	}
	b.healthy.Store(false)
	b.cause = cause
	b.recovering = true
	b.recoverDone = make(chan struct{})
	go b.recoverLoop(b.recoverDone)
}

// checkFault looks at the error of a call: a module-class error (the
// token or its connection went away) starts a recovery.
func (b *Backend) checkFault(op string, err error) {
	if err != nil && hasTrait(err, fatal) {
		b.fault(ckrError(op, err), true)
	}
}

// recoverLoop brings the token back, with backoff, until it succeeds or
// the backend closes. It runs on a goroutine of its own and calls into the
// module directly, without deadline: while it waits for a hung token,
// callers fail fast, and it holds one OS thread.
func (b *Backend) recoverLoop(done chan struct{}) {
	defer close(done)
	wait := recoverFirst
	for {
		if b.closed.Load() {
			b.hmu.Lock()
			b.recovering = false
			b.hmu.Unlock()
			return
		}
		err := b.recoverOnce()
		if err == nil {
			b.hmu.Lock()
			if b.needReinit {
				// A module error arrived while recovering: go round once
				// more.
				b.hmu.Unlock()
				continue
			}
			b.recovering, b.cause = false, nil
			b.recoveries.Add(1)
			b.healthy.Store(true)
			b.hmu.Unlock()
			return
		}
		b.hmu.Lock()
		b.cause = err
		// Whatever failed, the next attempt starts from C_Initialize: a
		// client module such as p11-kit-client.so connects there, and
		// shows no token until it does.
		b.needReinit, b.badEpoch = true, b.mod.epoch.Load()
		b.hmu.Unlock()
		select {
		case <-time.After(wait):
		case <-b.closing:
		}
		wait = min(2*wait, recoverMax)
	}
}

// recoverOnce is one attempt of recoverLoop.
func (b *Backend) recoverOnce() error {
	b.hmu.Lock()
	reinit, bad := b.needReinit, b.badEpoch
	b.needReinit = false
	b.hmu.Unlock()
	switch {
	case reinit:
		if err := b.mod.reinit(bad); err != nil {
			return err
		}
		return b.reopen()
	case b.mod.epoch.Load() != b.modEpoch.Load():
		// Another user of the module initialised it again.
		return b.reopen()
	default:
		// A call timed out: is the token answering again? This waits as
		// long as the token hangs.
		if !b.mod.enter() {
			return errors.New("hsm: the module is being initialised again")
		}
		_, err := b.p.GetTokenInfo(b.slot)
		b.mod.leave()
		if err != nil {
			return ckrError("probe the token", err)
		}
		return nil
	}
}

// reopen starts the backend afresh on a module that was initialised
// again: the old sessions are forgotten (their handles died with the old
// module instance), the token found again, a new pool made, the
// persistent session opened and logged in. Keys the backend created are
// lost (they were session objects); managed keys find their objects again
// by label and id on their next use.
func (b *Backend) reopen() error {
	b.mainLock <- struct{}{}
	defer func() { <-b.mainLock }()
	if b.closed.Load() {
		return errPoolClosed
	}
	epoch := b.mod.epoch.Load()
	b.pool.Load().discard()
	b.main = 0
	b.gen.Add(1)
	if !b.mod.enter() {
		return errors.New("hsm: the module is being initialised again")
	}
	defer b.mod.leave()
	slot, info, err := selectToken(b.p, b.cfg.Token)
	if err != nil {
		return err
	}
	b.slot = slot
	b.pool.Store(newSessionPool(b.poolSize(info), b.wait, b.closeSession))
	if err := b.openMain(); err != nil {
		return err
	}
	b.modEpoch.Store(epoch)
	return nil
}

// healthyNow reports whether the backend serves calls (for Stats).
func (b *Backend) healthyNow() bool { return b.healthy.Load() }

// recoveryCount is how often the backend came back from an unhealthy
// token (for Stats).
func (b *Backend) recoveryCount() uint64 { return b.recoveries.Load() }

// sessionCounts returns the pooled sessions that exist and those in use
// (for Stats); the persistent session is not counted.
func (b *Backend) sessionCounts() (open, inUse int) { return b.pool.Load().counts() }

// openSessionIn opens a pooled session; it is the body's first step when
// the pool gave room for one rather than an idle session.
func (b *Backend) openSessionIn(s *pkcs11.SessionHandle) error {
	if *s != 0 {
		return nil
	}
	opened, err := b.openSession()
	if err != nil {
		return err
	}
	*s = opened
	return nil
}
