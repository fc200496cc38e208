//go:build cgo

package hsm

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// sessionPool is a bounded pool of PKCS#11 sessions. A session is used by
// one goroutine at a time (PKCS#11 allows one active operation of a kind
// per session); get hands one out, or room for one to open, and put
// takes it back, or closes it when the caller found it dead. At most size
// sessions exist at once; get waits for one to be put back, up to the
// pool's wait or the context's deadline, whichever comes first.
type sessionPool struct {
	// close, wait and size are set by newSessionPool and not changed after.
	close func(pkcs11.SessionHandle)
	wait  time.Duration
	size  int
	// slot is the token's slot, which the pool's sessions open on. It is
	// set before the pool is published (Backend.pool) and not changed
	// after, so calls read it without a lock.
	slot uint

	// slots holds one token per session that exists (idle or in use):
	// get sends, put receives.
	slots chan struct{}

	mu        sync.Mutex // guards the fields below
	idle      []pkcs11.SessionHandle
	closed    bool
	discarded bool

	// waiting counts the callers of get blocked for a session (Stats).
	waiting atomic.Int64
}

func newSessionPool(size int, wait time.Duration, close func(pkcs11.SessionHandle)) *sessionPool {
	return &sessionPool{close: close, wait: wait, size: size, slots: make(chan struct{}, size)}
}

var errPoolClosed = fmt.Errorf("hsm: backend closed: %w", provider.ErrDevice)

// get reserves a session for the caller's exclusive use: an idle one, or,
// when it answers 0, room for one that the caller opens with open (outside
// the pool, where a deadline can abandon it). Either way the caller must
// put back what it got (0 when opening failed). It answers
// provider.ErrNoResources when no session is free within the pool's wait,
// and provider.ErrTimeout when ctx ends or deadline (when not zero)
// passes first.
func (p *sessionPool) get(ctx context.Context, deadline time.Time) (pkcs11.SessionHandle, error) {
	if err := ctx.Err(); err != nil {
		return 0, timeoutError(err)
	}
	select {
	case p.slots <- struct{}{}:
	default:
		p.waiting.Add(1)
		defer p.waiting.Add(-1)
		timer, byDeadline := waitTimer(p.wait, deadline)
		defer timer.Stop()
		select {
		case p.slots <- struct{}{}:
		case <-timer.C:
			if byDeadline {
				return 0, timeoutError(errCallDeadline)
			}
			return 0, fmt.Errorf("hsm: session pool: all %d sessions busy for %v: %w", p.size, p.wait, provider.ErrNoResources)
		case <-ctx.Done():
			return 0, timeoutError(ctx.Err())
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		<-p.slots
		return 0, errPoolClosed
	}
	if n := len(p.idle); n > 0 {
		s := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return s, nil
	}
	return 0, nil
}

// put gives a session back. A session that is not healthy (the token
// answered it with a session-class error) is closed, making room for a
// fresh one; so is every session put back after shutdown, unless the pool
// was discarded: then its handles belong to a finalized module, where the
// same numbers may name other sessions now, and are only forgotten.
func (p *sessionPool) put(s pkcs11.SessionHandle, healthy bool) {
	p.mu.Lock()
	switch {
	case s == 0:
		p.mu.Unlock()
	case healthy && !p.closed:
		p.idle = append(p.idle, s)
		p.mu.Unlock()
	case p.discarded:
		p.mu.Unlock()
	default:
		p.mu.Unlock()
		p.close(s)
	}
	<-p.slots
}

// shutdown closes the idle sessions; sessions in use are closed as they
// are put back, and get fails from now on.
func (p *sessionPool) shutdown() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, s := range idle {
		p.close(s)
	}
}

// discard is shutdown for a pool whose module was finalized: its sessions
// are gone already, and their handles are forgotten, never closed.
func (p *sessionPool) discard() {
	p.mu.Lock()
	p.idle, p.closed, p.discarded = nil, true, true
	p.mu.Unlock()
}

// counts returns the sessions that exist (idle or in use) and those in
// use.
func (p *sessionPool) counts() (open, inUse int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inUse = len(p.slots)
	return inUse + len(p.idle), inUse
}

// timeoutError is the error for a context that ended (deadline or
// cancellation) while waiting for the token: provider.ErrTimeout, and the
// context's error too.
func timeoutError(ctxErr error) error {
	return fmt.Errorf("hsm: waiting for the token: %w (%w)", provider.ErrTimeout, ctxErr)
}
