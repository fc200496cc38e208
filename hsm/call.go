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

// The call layer: how a Backend calls into its token. It is this file,
// call_coro.go (the hand-off of a call to a coroutine), call_pool.go (the
// pooled sessions), call_recover.go (health and recovery) and the
// module's gate (module.go). One call goes so
// (docs/design.md, "Token calls", pictures it):
//
//	caller: ready → pool.get or lockMain → begin (the lease) → tokenCall ─┐
//	body:   f on the session (a new session, a new login), then lease.end ◄┘
//
// With Config.InlineCalls the body runs on the caller's goroutine and is
// never abandoned; everything else is the same. What holds:
//
//  1. Every goroutine in the module holds a place in its gate (module.enter):
//     a call's lease, or the recovery's own. reinit closes the gate and
//     waits for every place to be given back before C_Finalize; while it
//     is closed, begin fails and the call answers unavailable at once.
//  2. A lease ends exactly once, on the goroutine that ran the body, once
//     the body returned: the coroutine (the caller's own goroutine with
//     InlineCalls), told whether the caller gave up (coCall.state, or
//     handoff.state for Open, decides by compare-and-swap). end runs
//     undo, lets the staged memory go, leaves the gate and unlocks, always
//     in that order: undo runs on the session its body used, and whoever
//     takes mainLock next (Close, reopen, the next withMain) finds no call
//     of the persistent session in the module.
//  3. The goroutines in the module are bounded without a counter of their
//     own: a body holds a pooled session or mainLock until its lease ends,
//     so at most MaxSessions bodies are in the module, plus the recovery,
//     however long the token hangs.
//  4. An abandoned body writes only into memory no caller reuses: a
//     tokenOp whose call timed out is not pooled again (opPool.finish),
//     staged memory stays charged until the lease ends.
//  5. A key's objects are destroyed by one party only: Destroy's body or
//     the orphan sweep (orphans.go), as a compare-and-swap on the key's
//     claim decides (keyBase.Destroy).
//  6. Session handles are good only in the module epoch that gave them
//     out: a recovery replaces the pool whole, under mainLock, and a
//     pooled session opens on its pool's slot, fixed before the pool is
//     published, so a body never reads what reopen writes.
//  7. A call that reaches its call deadline makes the backend suspect the
//     token (fault): the recovery (call_recover.go) runs on a goroutine of
//     its own, and calls fail fast until it brings the token back.

// lease is what one token call holds while its body runs, and what must
// be given back when it ends (invariant 2). Its fields are set by begin
// and read by end only, on one goroutine at a time: the hand-off passes
// it from the caller to the goroutine that runs the body (the coroutine,
// or abandonable's goroutine).
type lease struct {
	mod *module
	// main is mainLock when the call holds it, or nil.
	main chan struct{}
	// undo takes back what the body made, when the caller gave up on a
	// body that succeeded; nil when there is nothing to take back.
	undo func()
	// staged is the body's hold on staged memory, or nil.
	staged *staged
}

// begin enters the module's gate for a call that holds main (mainLock, or
// nil) and stages st, and returns its lease. While the module is being
// initialised again it fails, letting main go: the caller answers
// b.unavailable().
func (b *Backend) begin(main chan struct{}, st *staged, undo func()) (lease, bool) {
	if !b.mod.enter() {
		if main != nil {
			<-main
		}
		return lease{}, false
	}
	st.hold()
	return lease{mod: b.mod, main: main, undo: undo, staged: st}, true
}

// end gives back what l holds, after the body returned err; abandoned says
// that the caller had stopped waiting. The zero lease holds nothing.
func (l *lease) end(err error, abandoned bool) {
	if abandoned && err == nil && l.undo != nil {
		l.undo()
	}
	l.staged.done()
	if l.mod != nil {
		l.mod.leave()
	}
	if l.main != nil {
		<-l.main
	}
}

// tokenCall runs body, which calls into the token, on a coroutine
// (call_coro.go) under lease l, and waits for it until ctx ends or the
// call deadline passes: a cgo call cannot be interrupted, but its caller
// can stop waiting for it. The coroutine runs body to its end in any case
// and then ends l (see lease.end). A call that times out reports
// provider.ErrTimeout and, at its call deadline, makes the backend
// suspect the token (see fault).
//
// With Config.InlineCalls, body runs on the caller's goroutine instead and
// is never abandoned: the deadline then bounds only the waits around it.
func (b *Backend) tokenCall(ctx context.Context, deadline time.Time, op string, body func() error, l lease) error {
	if b.inline {
		err := body()
		l.end(err, false)
		return err
	}
	abandoned, err := onCoroutine(ctx, time.Until(deadline), body, l)
	if !abandoned {
		return err
	}
	cause := context.Cause(ctx)
	if cause == nil {
		// ctx goes on: the call deadline passed.
		cause = errCallDeadline
	}
	if cause == errCallDeadline {
		b.fault(fmt.Errorf("%s: no answer within its deadline", op), false, false)
	}
	return fmt.Errorf("hsm: %s: %w", op, timeoutError(cause))
}

// abandonable runs body on a goroutine of its own and waits for it until
// ctx ends or expire (when not nil) fires. It is the hand-off of a
// backend's opening, once per backend, whose finish must run after body
// on the goroutine that ran it; token calls use onCoroutine, which wakes
// no thread. It reports whether it gave up waiting, or else body's error. Either way, once body has returned, its
// goroutine ends l and then calls finish (when not nil), with body's error
// and whether the caller had given up; a body that finishes as the wait
// ends counts as finished, never as both.
func abandonable(ctx context.Context, expire <-chan time.Time, body func() error, l lease, finish func(err error, abandoned bool)) (bool, error) {
	h := handoffs.Get().(*handoff)
	h.body, h.lease, h.finish = body, l, finish
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

// handoff is what abandonable shares with the goroutine that runs
// body. Handoffs are pooled: whoever is last to use one, the caller that
// took the result or the goroutine of an abandoned call, frees it. body,
// lease and finish are written before the goroutine starts and cleared by
// free, after it is done with them.
type handoff struct {
	// state: 0 running, 1 finished (the caller takes the result), 2
	// abandoned; changed by compare-and-swap only.
	state  atomic.Int32
	done   chan error // capacity 1; empty while pooled
	body   func() error
	lease  lease
	finish func(err error, abandoned bool)
}

var handoffs = sync.Pool{New: func() any { return &handoff{done: make(chan error, 1)} }}

// run is the goroutine of abandonable.
func (h *handoff) run() {
	err := h.body()
	abandoned := !h.state.CompareAndSwap(0, 1)
	h.lease.end(err, abandoned)
	if h.finish != nil {
		h.finish(err, abandoned)
	}
	if abandoned {
		// Nobody waits for the result.
		h.free()
		return
	}
	h.done <- err
}

// free pools h again, its channel empty.
func (h *handoff) free() {
	h.body, h.lease, h.finish = nil, lease{}, nil
	h.state.Store(0)
	handoffs.Put(h)
}

// errCallDeadline ends a call's context when the call deadline
// (Config.CallTimeout) passes.
var errCallDeadline = errors.New("hsm: no answer within the call deadline")

// slowCalls is how many call deadlines the slow operations get: Open
// (which asks the token for every mechanism) and key creation (RSA key
// generation takes seconds on a busy token).
const slowCalls = 6

// waitTimer is the timer of a wait that gives up after wait, or at
// deadline (the call deadline; zero: none) when that comes first, which
// byDeadline then reports. A call makes one only when it must wait: the
// call deadline of the token call itself is the coroutine's
// (call_coro.go), so an operation that finds a session free arms no other
// timer.
func waitTimer(wait time.Duration, deadline time.Time) (t *time.Timer, byDeadline bool) {
	if !deadline.IsZero() {
		if left := time.Until(deadline); left < wait {
			wait, byDeadline = left, true
		}
	}
	return time.NewTimer(wait), byDeadline
}

// openSessionIn opens a pooled session; it is the body's first step when
// the pool gave room for one rather than an idle session.
func (b *Backend) openSessionIn(pool *sessionPool, s *pkcs11.SessionHandle) error {
	if *s != 0 {
		return nil
	}
	opened, err := b.openSession(pool.slot)
	if err != nil {
		return err
	}
	*s = opened
	return nil
}

// lockMain takes mainLock, waiting up to the session wait, ctx or the
// call deadline.
func (b *Backend) lockMain(ctx context.Context, deadline time.Time) error {
	if err := ctx.Err(); err != nil {
		return timeoutError(err)
	}
	select {
	case b.mainLock <- struct{}{}:
		return nil
	default:
	}
	timer, byDeadline := waitTimer(b.wait, deadline)
	defer timer.Stop()
	select {
	case b.mainLock <- struct{}{}:
		return nil
	case <-timer.C:
		if byDeadline {
			return timeoutError(errCallDeadline)
		}
		return fmt.Errorf("hsm: the persistent session was busy for %v: %w", b.wait, provider.ErrNoResources)
	case <-ctx.Done():
		return timeoutError(ctx.Err())
	}
}

// maxRelogins bounds the new logins of one operation. More than one: an
// operation that waited for a session may find the login lost again.
const maxRelogins = 3

// createAttempts bounds the tries of a call that creates objects and fails
// with a transient error (see trait transient).
const createAttempts = 4

// withMain runs f on the persistent session, holding mainLock, within the
// call deadline (see tokenCall). When the session turns out dead, it is
// reopened (with a new generation: the session objects died with it) and
// f runs once more; when the token has forgotten the login, the backend
// logs in again and f runs again (up to maxRelogins times); when creating
// and the token fails transiently, f runs up to createAttempts times. f
// must leave no object behind when it fails; undo (when not nil) takes
// back what f made when f succeeded after the caller stopped waiting.
// Errors of package pkcs11 come back as tokenErrors for op.
func (b *Backend) withMain(ctx context.Context, op string, creating bool, f func(s pkcs11.SessionHandle) error, undo func(s pkcs11.SessionHandle)) error {
	if b.closed.Load() {
		return errPoolClosed
	}
	if err := b.ready(); err != nil {
		return err
	}
	// The deadline is a time, not a context of its own (five
	// allocations): the waits and the coroutine watch it.
	d := b.callTimeout
	if creating {
		d *= slowCalls
	}
	deadline := time.Now().Add(d)
	if err := b.lockMain(ctx, deadline); err != nil {
		return err
	}
	var s pkcs11.SessionHandle
	body := func() error {
		if b.closed.Load() {
			return errPoolClosed
		}
		if !b.healthy.Load() {
			return b.unavailable()
		}
		err := b.mainLoop(op, creating, func(main pkcs11.SessionHandle) error {
			s = main
			return f(main)
		})
		b.checkFault(op, err)
		return err
	}
	var undoMain func()
	if undo != nil {
		// The lease runs undo before it lets mainLock go, so s is still
		// the persistent session f succeeded on.
		undoMain = func() { undo(s) }
	}
	l, ok := b.begin(b.mainLock, nil, undoMain)
	if !ok {
		return b.unavailable()
	}
	return ckrError(op, b.tokenCall(ctx, deadline, op, body, l))
}

// mainLoop is the body of withMain; the caller holds mainLock.
func (b *Backend) mainLoop(op string, creating bool, f func(s pkcs11.SessionHandle) error) error {
	reopened, relogins, tries := false, 0, 0
	for {
		if b.main == 0 {
			if err := b.openMain(); err != nil {
				return err
			}
		}
		err := b.unhide(b.main, f(b.main))
		tries++
		switch {
		case err == nil:
			return nil
		case hasTrait(err, fatal):
			return err
		case hasTrait(err, evict) && !reopened:
			reopened = true
			b.closeSession(b.main)
			b.main = 0
			continue
		case hasTrait(err, relogin) && relogins < maxRelogins:
			relogins++
			if lerr := b.loginLocked(); lerr != nil {
				return lerr
			}
			continue
		case hasTrait(err, transient) && creating && tries < createAttempts:
			time.Sleep(time.Duration(tries) * 5 * time.Millisecond)
			continue
		}
		return ckrError(op, err)
	}
}

// withSession runs f on a pooled session, within the call deadline (see
// tokenCall): the wait for a session and the calls together. A session
// found dead is closed and f runs once more on a fresh one; when the token
// has forgotten the login, the backend logs in again and f runs again (up
// to maxRelogins times). f must finish every operation it starts (PKCS#11
// ends an operation on its final call, or on an error), and must not write
// to memory of the caller's: when the caller stops waiting, f runs on.
// Errors of package pkcs11 come back as tokenErrors for op.
func (b *Backend) withSession(ctx context.Context, op string, f func(s pkcs11.SessionHandle) error) error {
	return b.withSessionHeld(ctx, op, f, nil)
}

// staged is memory a token call stages for a guest — the input the token
// reads and the answer made in C and copied into Go — charged to the
// guest's budget before the call. The charge is given back when the last
// of its holders lets it go: the caller, once withSessionHeld returns, and
// the lease of each body that ran, when it ends (see lease.end). So a body
// abandoned at the call deadline keeps its memory charged until it ends
// (docs/design.md, "Limits").
type staged struct {
	budget *provider.Budget
	n      int
	refs   atomic.Int32
}

// stage charges n bytes to budget for a token call of op, before anything
// is allocated. A nil budget or n ≤ 0 stages nothing (a nil *staged).
func stage(budget *provider.Budget, n int, op string) (*staged, error) {
	if budget == nil || n <= 0 {
		return nil, nil
	}
	if err := budget.Charge(n); err != nil {
		return nil, fmt.Errorf("hsm: %s: %w", op, err)
	}
	st := &staged{budget: budget, n: n}
	st.refs.Store(1) // the caller's
	return st, nil
}

// hold adds a holder; done lets one go, the last giving the charge back.
func (st *staged) hold() {
	if st != nil {
		st.refs.Add(1)
	}
}

func (st *staged) done() {
	if st != nil && st.refs.Add(-1) == 0 {
		st.budget.Release(st.n)
	}
}

// withSessionHeld is withSession for a call that stages st (nil: none).
// It lets go of the caller's hold on st when it returns; each body's
// lease holds st until it ends.
func (b *Backend) withSessionHeld(ctx context.Context, op string, f func(s pkcs11.SessionHandle) error, st *staged) error {
	defer st.done()
	// The deadline is a time rather than a context of its own (see
	// withMain): every wait below watches it and ctx.
	deadline := time.Now().Add(b.callTimeout)
	evicted, relogins := false, 0
	for {
		if err := b.ready(); err != nil {
			return err
		}
		pool := b.pool.Load()
		s, err := pool.get(ctx, deadline)
		if errors.Is(err, errPoolClosed) && !b.closed.Load() {
			// A recovery replaced the pool while this call waited.
			return b.unavailable()
		}
		if err != nil {
			return err
		}
		l, ok := b.begin(nil, st, nil)
		if !ok {
			// The session is still the caller's.
			pool.put(s, true)
			return b.unavailable()
		}
		err = b.tokenCall(ctx, deadline, op, func() error { return b.onSession(pool, s, op, f) }, l)
		switch {
		case err == nil:
			return nil
		case hasTrait(err, fatal):
			return ckrError(op, err)
		case hasTrait(err, evict) && !evicted:
			evicted = true
			continue
		case hasTrait(err, relogin) && relogins < maxRelogins:
			relogins++
			if lerr := b.relogin(ctx, deadline); lerr != nil {
				return lerr
			}
			continue
		}
		return ckrError(op, err)
	}
}

// onSession is withSession's body: f on s, a session of pool (0: open
// one first), which goes back to the pool afterwards.
func (b *Backend) onSession(pool *sessionPool, s pkcs11.SessionHandle, op string, f func(s pkcs11.SessionHandle) error) error {
	if !b.healthy.Load() {
		pool.put(s, true)
		return b.unavailable()
	}
	err := b.openSessionIn(pool, &s)
	if err == nil {
		err = b.unhide(s, f(s))
	}
	pool.put(s, err == nil || !hasTrait(err, evict|fatal))
	b.checkFault(op, err)
	return err
}

// unhide turns an error of trait hidden on session s into
// CKR_USER_NOT_LOGGED_IN when s is no longer logged in: the object was
// only hidden by the lost login.
func (b *Backend) unhide(s pkcs11.SessionHandle, err error) error {
	if err == nil || !hasTrait(err, hidden) || !b.loggedOut(s) {
		return err
	}
	return pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN)
}

// loggedOut reports whether the backend logs in and session s is no
// longer logged in.
func (b *Backend) loggedOut(s pkcs11.SessionHandle) bool {
	if !b.login {
		return false
	}
	info, err := b.p.GetSessionInfo(s)
	return err == nil && (info.State == pkcs11.CKS_RO_PUBLIC_SESSION || info.State == pkcs11.CKS_RW_PUBLIC_SESSION)
}

// relogin logs in again after the token reported that the user is not
// logged in, within what is left of the call deadline.
func (b *Backend) relogin(ctx context.Context, deadline time.Time) error {
	ctx, cancel := context.WithDeadlineCause(ctx, deadline, errCallDeadline)
	defer cancel()
	return b.withMain(ctx, "login", false, func(pkcs11.SessionHandle) error {
		// withMain (re)opened the session if it had to, which logs in.
		return b.loginLocked()
	}, nil)
}
