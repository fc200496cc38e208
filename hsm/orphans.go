//go:build cgo

package hsm

import (
	"context"
	"errors"
	"time"

	"github.com/miekg/pkcs11"
)

// orphan takes over the objects of a key whose Destroy could not reach the
// persistent session: the token was recovering, a long call (an RSA key
// generation) held the session beyond the session wait, or the caller's
// context had ended. The caller forgets the key, so nobody else would
// destroy them, and session objects live as long as the session: without
// this, they would stay on the token for the life of the backend. sweep
// destroys them as soon as the persistent session can be had.
func (b *Backend) orphan(o objects) {
	b.orphanMu.Lock()
	b.orphans = append(b.orphans, o)
	start := !b.sweeping
	b.sweeping = true
	b.orphanMu.Unlock()
	if start {
		go b.sweep()
	}
}

// sweep destroys the orphans on the persistent session, trying again with
// the recovery's backoff while the token is unavailable or the session
// busy, until none is left or the backend closes (which closes the session
// and so destroys them). At most one sweep runs per backend.
func (b *Backend) sweep() {
	wait := recoverFirst
	for {
		_ = b.withMain(context.Background(), "destroy the objects of destroyed keys", false, b.destroyOrphans, nil)
		b.orphanMu.Lock()
		if len(b.orphans) == 0 || b.closed.Load() {
			b.orphans, b.sweeping = nil, false
			b.orphanMu.Unlock()
			return
		}
		b.orphanMu.Unlock()
		select {
		case <-time.After(wait):
		case <-b.closing:
		}
		wait = min(2*wait, recoverMax)
	}
}

// destroyOrphans destroys the orphans' objects on the persistent session
// s; the caller holds mainLock. Objects of an older generation of the
// session are gone with it already. An object that cannot be destroyed now
// stays an orphan, and the first such error is returned (withMain then
// logs in again, or reopens the session, and calls again).
func (b *Backend) destroyOrphans(s pkcs11.SessionHandle) error {
	b.orphanMu.Lock()
	defer b.orphanMu.Unlock()
	var (
		kept  []objects
		first error
	)
	for _, o := range b.orphans {
		if o.gen != b.gen.Load() {
			continue
		}
		o.priv = destroyOrKeep(b.p, s, o.priv, &first)
		o.pub = destroyOrKeep(b.p, s, o.pub, &first)
		if o.priv != 0 || o.pub != 0 {
			kept = append(kept, o)
		}
	}
	b.orphans = kept
	return first
}

// destroyOrKeep destroys obj (when not 0) and returns 0 when it is gone,
// or obj, recording the error in first, when it is still there.
func destroyOrKeep(p *pkcs11.Ctx, s pkcs11.SessionHandle, obj pkcs11.ObjectHandle, first *error) pkcs11.ObjectHandle {
	if obj == 0 {
		return 0
	}
	// An invalid handle is an object gone already (private session
	// objects die with a lost login, PKCS#11 3.0 §5.6), as for Destroy.
	err := p.DestroyObject(s, obj)
	if err == nil || errors.Is(err, pkcs11.Error(pkcs11.CKR_OBJECT_HANDLE_INVALID)) {
		return 0
	}
	if *first == nil {
		*first = err
	}
	return obj
}
