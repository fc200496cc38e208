//go:build cgo

package hsm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// sessionPool is a bounded pool of PKCS#11 sessions. A session is used by
// one goroutine at a time (PKCS#11 allows one active operation of a kind
// per session); get hands one out, opening it when none is idle, and put
// takes it back, or closes it when the caller found it dead. At most size
// sessions exist at once; get waits for one to be put back, up to the
// pool's wait or the context's deadline, whichever comes first.
type sessionPool struct {
	open  func() (pkcs11.SessionHandle, error)
	close func(pkcs11.SessionHandle)
	wait  time.Duration
	size  int

	// slots holds one token per session that exists (idle or in use):
	// get sends, put receives.
	slots chan struct{}

	mu     sync.Mutex
	idle   []pkcs11.SessionHandle
	closed bool
}

func newSessionPool(size int, wait time.Duration, open func() (pkcs11.SessionHandle, error), close func(pkcs11.SessionHandle)) *sessionPool {
	return &sessionPool{open: open, close: close, wait: wait, size: size, slots: make(chan struct{}, size)}
}

var errPoolClosed = fmt.Errorf("hsm: backend closed: %w", provider.ErrDevice)

// get returns a session for the caller's exclusive use; the caller must
// put it back. It answers provider.ErrNoResources when no session is free
// within the pool's wait (or the token refuses to open one), and
// provider.ErrTimeout when ctx ends first.
func (p *sessionPool) get(ctx context.Context) (pkcs11.SessionHandle, error) {
	if err := ctx.Err(); err != nil {
		return 0, timeoutError(err)
	}
	select {
	case p.slots <- struct{}{}:
	default:
		timer := time.NewTimer(p.wait)
		defer timer.Stop()
		select {
		case p.slots <- struct{}{}:
		case <-timer.C:
			return 0, fmt.Errorf("hsm: session pool: all %d sessions busy for %v: %w", p.size, p.wait, provider.ErrNoResources)
		case <-ctx.Done():
			return 0, timeoutError(ctx.Err())
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return 0, errPoolClosed
	}
	if n := len(p.idle); n > 0 {
		s := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return s, nil
	}
	p.mu.Unlock()
	s, err := p.open()
	if err != nil {
		<-p.slots
		return 0, ckrError("open session", err)
	}
	return s, nil
}

// put gives a session back. A session that is not healthy (the token
// answered it with a session-class error) is closed, making room for a
// fresh one.
func (p *sessionPool) put(s pkcs11.SessionHandle, healthy bool) {
	p.mu.Lock()
	if healthy && !p.closed {
		p.idle = append(p.idle, s)
		p.mu.Unlock()
	} else {
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

// timeoutError is the error for a context that ended (deadline or
// cancellation) while waiting for the token: provider.ErrTimeout, and the
// context's error too.
func timeoutError(ctxErr error) error {
	return fmt.Errorf("hsm: waiting for the token: %w (%w)", provider.ErrTimeout, ctxErr)
}
