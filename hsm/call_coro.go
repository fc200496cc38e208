//go:build cgo

package hsm

import (
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"
	"time"
)

// The hand-off of a token call to a coroutine (docs/design.md, "Token
// calls"). A cgo call cannot be interrupted, so a caller that must be
// answered at its deadline cannot make the call itself; but handing the
// call to another goroutine through the scheduler (go, a channel) makes
// the runtime wake an idle CPU for every call (runtime.wakep), which on a
// virtual machine costs as much as a short token operation. A coroutine
// (iter.Pull) is a goroutine that the caller switches to directly, on the
// caller's own OS thread and P, without the scheduler: the body runs
// while the caller is parked in the coroutine, and when the body ends the
// thread switches straight back. So a call costs two goroutine switches
// and no wake, the price of calling inline.
//
// The deadline: when the call deadline passes or ctx ends while the body
// is still in the token, a timer's goroutine (or the context's AfterFunc
// goroutine) abandons the call (coCall.state decides, by
// compare-and-swap, between it and the body finishing) and calls the
// coroutine's yield itself: the coroutine's parked goroutine, the caller,
// runs on, answered that the call was abandoned, and the rescuer parks in
// its place. When the body finally returns, its goroutine ends the lease
// (invariant 2 of call.go), waits until the caller has taken its answer,
// and ends; the coroutine's end switches to the parked rescuer, which
// ends too. Nothing is left behind: the goroutines of an abandoned call
// are the body's, in the token (its OS thread, bounded as invariant 3
// says), and the rescuer's, parked without a thread.
//
// The coroutine records the OS thread lock of the goroutine that makes it
// (runtime.LockOSThread): the Go runtime lets only that thread switch to
// it, so a rescuer on another thread could not answer a caller locked to
// its thread. Such a caller must use Config.InlineCalls.

// Call states (coCall.state).
const (
	// callArming: the coroutine arms the deadline; no rescuer may resume
	// the caller yet (it would find the coroutine half set up).
	callArming int32 = iota
	callRunning
	callFinished
	callAbandoned
)

// errExpired is the answer of a call whose deadline passed, or whose
// context ended, while its coroutine armed the deadline: the body does
// not run.
var errExpired = errors.New("hsm: the call expired before it started")

// coCall is one token call that onCoroutine runs. body, lease, ctx and
// expire are set before the coroutine starts; resume and watch by the
// coroutine before the body runs; err by the coroutine when the body
// finished in time, read by the caller after it got back.
type coCall struct {
	body   func() error
	lease  lease
	ctx    context.Context
	expire time.Duration
	err    error
	// state goes from callArming to callRunning, and then to
	// callFinished when the body finishes or callAbandoned when a rescuer
	// gives up on it, as a compare-and-swap decides.
	state atomic.Int32
	// expired is set by every rescuer, before it tries to abandon the
	// call: one that came while the coroutine armed the deadline could
	// not abandon it, and the body does not run.
	expired atomic.Bool
	// resume is the coroutine's yield: whoever abandons the call calls it
	// to let the caller run on.
	resume func(struct{}) bool
	// watch and stopCtx are the deadline's timer and ctx's AfterFunc,
	// armed by the coroutine once resume is set; the caller reads them
	// once it runs again, which no rescuer lets it do before they are set
	// (callArming).
	watch   *callWatch
	stopCtx func() bool
	// taken is done by the caller once it has its answer; an abandoned
	// body's coroutine waits for it before it ends, because the end of a
	// coroutine writes what the caller's resumption read.
	taken sync.WaitGroup
}

// onCoroutine runs body on a coroutine under lease l and waits for it
// until ctx ends or the call deadline, expire from now, passes. It
// reports whether it gave up waiting, or else body's error. Either way,
// once body has returned, its goroutine ends l; a body that finishes as
// the wait ends counts as finished, never as both.
func onCoroutine(ctx context.Context, expire time.Duration, body func() error, l lease) (bool, error) {
	c := &coCall{body: body, lease: l, ctx: ctx, expire: expire}
	c.taken.Add(1)
	next, _ := iter.Pull(c.run)
	_, abandoned := next()
	c.watch.stop()
	if c.stopCtx != nil {
		c.stopCtx()
	}
	c.taken.Done()
	if abandoned || c.err == errExpired {
		return true, nil
	}
	return false, c.err
}

// run is the coroutine: it arms the deadline, runs the body and ends the
// lease. It never yields itself; a rescuer yields for it (abandon).
func (c *coCall) run(yield func(struct{}) bool) {
	c.resume = yield
	c.watch = watchCall(c, c.expire)
	if c.ctx.Done() != nil {
		c.stopCtx = context.AfterFunc(c.ctx, c.abandon)
	}
	// From here a rescuer may resume the caller: the store orders what
	// was set above before its compare-and-swap.
	c.state.Store(callRunning)
	err := errExpired
	if !c.expired.Load() {
		err = c.body()
	}
	if !c.state.CompareAndSwap(callRunning, callFinished) {
		// The caller was answered without us.
		c.lease.end(err, true)
		c.taken.Wait()
		return
	}
	c.err = err
	c.lease.end(err, false)
}

// abandon gives up on the call, unless its body has finished: the caller
// runs on, and the calling goroutine (a timer's or a context's) parks in
// the coroutine until the body ends.
func (c *coCall) abandon() {
	c.expired.Store(true)
	if c.state.CompareAndSwap(callRunning, callAbandoned) {
		c.resume(struct{}{})
	}
}

// callWatch is a call deadline's timer, pooled: an AfterFunc timer made
// once, armed for one call at a time (a Reset and a Stop per call).
type callWatch struct {
	t *time.Timer
	c atomic.Pointer[coCall]
}

var callWatches = sync.Pool{New: func() any {
	w := &callWatch{}
	w.t = time.AfterFunc(time.Hour, w.fire)
	w.t.Stop()
	return w
}}

// watchCall arms a watch that abandons c after d.
func watchCall(c *coCall, d time.Duration) *callWatch {
	w := callWatches.Get().(*callWatch)
	w.c.Store(c)
	w.t.Reset(d)
	return w
}

// fire is the timer's function.
func (w *callWatch) fire() {
	if c := w.c.Load(); c != nil {
		c.abandon()
	}
}

// stop disarms w and pools it again, unless it fired: then its function
// may still be running, and w is left to the garbage collector.
func (w *callWatch) stop() {
	if w.t.Stop() {
		w.c.Store(nil)
		callWatches.Put(w)
	}
}
