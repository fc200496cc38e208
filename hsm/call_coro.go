//go:build cgo

package hsm

import (
	"context"
	"errors"
	"iter"
	"runtime"
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
// and no wake, about the price of calling inline. The coroutines are
// kept (coWorker) and run one call after another, so a call makes no
// goroutine and allocates nothing.
//
// The deadline: when the call deadline passes or ctx ends while the body
// is still in the token, a timer's goroutine (or the context's AfterFunc
// goroutine) abandons the call — coWorker.state decides, by
// compare-and-swap, between it and the body finishing — and calls the
// coroutine's yield itself: the caller, parked in the coroutine, runs on,
// answered that the call was abandoned, and the rescuer parks in its
// place. When the body finally returns, the coroutine ends the lease
// (invariant 2 of call.go), waits until the caller has taken its answer,
// and ends; its end switches to the parked rescuer, which ends too. So
// the goroutines of an abandoned call are the coroutine, in the token
// (its OS thread, bounded as invariant 3 says), and the rescuer, parked
// without a thread, and both end when the token answers; the worker is
// not kept.
//
// The Go runtime lets a coroutine be switched to only from the OS thread
// it was made on when it was made on a thread locked with
// runtime.LockOSThread, and from no locked thread when it was not. The
// workers are made on a goroutine of their own, never locked, so that
// any caller and any rescuer can switch to them; a caller locked to its
// thread cannot (the runtime aborts the process) and must use
// Config.InlineCalls.

// Call states, the low bits of coWorker.state.
const (
	// callArming: the coroutine arms the deadline; no rescuer may resume
	// the caller yet (it would find the worker half set up).
	callArming uint64 = iota
	callRunning
	callFinished
	callAbandoned

	callStateBits = 2
	callStateMask = 1<<callStateBits - 1
)

// errExpired is the answer of a call whose deadline passed, or whose
// context ended, while its coroutine armed the deadline: the body does
// not run.
var errExpired = errors.New("hsm: the call expired before it started")

// errBodyPanicked is what the lease of a call whose body panicked ends
// with: not a success, so nothing is undone on a session in an unknown
// state.
var errBodyPanicked = errors.New("hsm: the token call panicked")

// coWorker is a kept coroutine that runs token calls, one at a time.
// The fields of a call are written by its caller before it switches to
// the coroutine and read by the caller after it is back; the coroutine
// writes err, watch and stopCtx.
type coWorker struct {
	next func() (struct{}, bool)
	stop func()
	// resume is the coroutine's yield, set when it starts: it switches
	// back to the caller, and a rescuer calls it to let the caller run on.
	resume func(struct{}) bool

	// seq numbers the worker's calls, so that a rescuer that comes late,
	// for a call that ended, finds another number and does nothing.
	seq uint64
	// state is seq<<callStateBits | a call state: callArming, then
	// callRunning, then callFinished when the body finishes or
	// callAbandoned when a rescuer gives up on it, as a compare-and-swap
	// decides.
	state atomic.Uint64
	// expired is the highest seq of a call a rescuer came for, set before
	// it tries to abandon the call: one that came while the coroutine
	// armed the deadline could not abandon it, and the body does not run.
	expired atomic.Uint64

	body   func() error
	lease  lease
	ctx    context.Context
	expire time.Duration
	err    error
	// watch and stopCtx are the deadline's timer and ctx's AfterFunc,
	// armed by the coroutine once the call started; the caller stops
	// them once it runs again, which no rescuer lets it do before they
	// are set (callArming).
	watch   *callWatch
	stopCtx func() bool
	// taken is done by the caller once it has its answer; an abandoned
	// body's coroutine waits for it before it ends, because the end of a
	// coroutine writes what the caller's resumption read.
	taken sync.WaitGroup
}

// maxIdleWorkers bounds the coroutines kept between calls (a parked
// goroutine each, a few KiB); more calls at once make more, and those
// beyond the bound end after their call. Idle ones also end at each
// garbage collection, as sync.Pool lets its objects go, so that a process
// whose load went down does not keep them, and its goroutines come back
// to what they were.
const maxIdleWorkers = 128

// idleWorkers holds the kept coroutines.
var idleWorkers = make(chan *coWorker, maxIdleWorkers)

func init() { drainAtNextGC() }

// gcMark is an object that only the garbage collector frees. It holds a
// pointer so that it is an allocation of its own: the runtime packs small
// objects without pointers together, and frees them together.
type gcMark struct{ _ *gcMark }

// drainAtNextGC ends the idle workers when the next garbage collection
// runs, and then again at the one after.
func drainAtNextGC() {
	runtime.AddCleanup(new(gcMark), func(struct{}) {
		for {
			select {
			case w := <-idleWorkers:
				w.stop()
			default:
				drainAtNextGC()
				return
			}
		}
	}, struct{}{})
}

// getWorker returns an idle worker, or makes one on a goroutine of its
// own (see the locking note above).
func getWorker() *coWorker {
	select {
	case w := <-idleWorkers:
		return w
	default:
	}
	made := make(chan *coWorker)
	go func() {
		w := &coWorker{}
		w.next, w.stop = iter.Pull(w.loop)
		made <- w
	}()
	return <-made
}

// putWorker keeps w for the next call, or ends it.
func putWorker(w *coWorker) {
	w.body, w.lease, w.ctx, w.err, w.watch, w.stopCtx = nil, lease{}, nil, nil, nil, nil
	select {
	case idleWorkers <- w:
	default:
		w.stop()
	}
}

// onCoroutine runs body on a coroutine under lease l and waits for it
// until ctx ends or the call deadline, expire from now, passes. It
// reports whether it gave up waiting, or else body's error. Either way,
// once body has returned, its coroutine ends l; a body that finishes as
// the wait ends counts as finished, never as both.
func onCoroutine(ctx context.Context, expire time.Duration, body func() error, l lease) (bool, error) {
	w := getWorker()
	w.seq++
	seq := w.seq
	w.state.Store(seq << callStateBits)
	w.body, w.lease, w.ctx, w.expire = body, l, ctx, expire
	w.taken.Add(1)
	w.next()
	w.watch.stop()
	if w.stopCtx != nil {
		w.stopCtx()
	}
	w.taken.Done()
	if w.state.Load() == seq<<callStateBits|callAbandoned {
		// The coroutine ends when the body returns; the worker is not
		// kept.
		return true, nil
	}
	err := w.err
	putWorker(w)
	if err == errExpired {
		return true, nil
	}
	return false, err
}

// loop is the coroutine: it runs a call each time the caller switches to
// it, and switches back when the call is done, until its call is
// abandoned or the worker is stopped.
func (w *coWorker) loop(yield func(struct{}) bool) {
	w.resume = yield
	for w.run() && yield(struct{}{}) {
	}
}

// run runs the current call: it arms the deadline, runs the body and
// ends the lease. It reports whether the call finished, rather than
// being abandoned.
func (w *coWorker) run() (finished bool) {
	seq := w.seq
	inBody := false
	defer func() {
		if !inBody {
			return
		}
		// The body panicked: the lease still ends, once, and the panic
		// goes on to the caller (iter.Pull hands it over), or, when the
		// caller was answered already, ends with the coroutine.
		p := recover()
		abandoned := !w.state.CompareAndSwap(seq<<callStateBits|callRunning, seq<<callStateBits|callFinished)
		w.lease.end(errBodyPanicked, abandoned)
		if abandoned {
			w.taken.Wait()
		}
		if p != nil {
			panic(p)
		}
	}()
	w.watch = watchCall(w, seq, w.expire)
	if w.ctx.Done() != nil {
		w.stopCtx = context.AfterFunc(w.ctx, func() { w.abandon(seq) })
	}
	// From here a rescuer may resume the caller: the store orders what
	// was set above before its compare-and-swap.
	w.state.Store(seq<<callStateBits | callRunning)
	err := errExpired
	if w.expired.Load() != seq {
		inBody = true
		err = w.body()
		inBody = false
	}
	if !w.state.CompareAndSwap(seq<<callStateBits|callRunning, seq<<callStateBits|callFinished) {
		// The caller was answered without us.
		w.lease.end(err, true)
		w.taken.Wait()
		return false
	}
	w.err = err
	w.lease.end(err, false)
	return true
}

// abandon gives up on call seq, unless its body has finished: the caller
// runs on, and the calling goroutine (a timer's or a context's) parks in
// the coroutine until the body ends.
func (w *coWorker) abandon(seq uint64) {
	// Never back: a rescuer of an earlier call may come late.
	for old := w.expired.Load(); old < seq && !w.expired.CompareAndSwap(old, seq); old = w.expired.Load() {
	}
	if w.state.CompareAndSwap(seq<<callStateBits|callRunning, seq<<callStateBits|callAbandoned) {
		w.resume(struct{}{})
	}
}

// callWatch is a call deadline's timer, pooled: an AfterFunc timer made
// once, armed for one call at a time (a Reset and a Stop per call).
type callWatch struct {
	t   *time.Timer
	w   atomic.Pointer[coWorker]
	seq atomic.Uint64
}

var callWatches = sync.Pool{New: func() any {
	cw := &callWatch{}
	cw.t = time.AfterFunc(time.Hour, cw.fire)
	cw.t.Stop()
	return cw
}}

// watchCall arms a watch that abandons call seq of w after d.
func watchCall(w *coWorker, seq uint64, d time.Duration) *callWatch {
	cw := callWatches.Get().(*callWatch)
	cw.seq.Store(seq)
	cw.w.Store(w)
	cw.t.Reset(d)
	return cw
}

// fire is the timer's function.
func (cw *callWatch) fire() {
	if w := cw.w.Load(); w != nil {
		w.abandon(cw.seq.Load())
	}
}

// stop disarms cw and pools it again, unless it fired: then its function
// may still be running, and cw is left to the garbage collector.
func (cw *callWatch) stop() {
	if cw.t.Stop() {
		cw.w.Store(nil)
		callWatches.Put(cw)
	}
}
