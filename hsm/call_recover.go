//go:build cgo

package hsm

import (
	"errors"
	"fmt"
	"time"

	"github.com/wasihsm/wasihsm/provider"
)

// Recovery backoff: the first attempt to bring a failed token back comes
// after recoverFirst, and the wait doubles up to recoverMax.
const (
	recoverFirst = 50 * time.Millisecond
	recoverMax   = 1 * time.Second
)

// ready fails fast, with provider.ErrDevice, while the token is
// unhealthy, and starts a recovery when another user of the module
// initialised it again (this backend's sessions died with that).
func (b *Backend) ready() error {
	if b.healthy.Load() {
		if b.mod.epoch.Load() == b.modEpoch.Load() {
			return nil
		}
		// No need to initialise it again: recoverOnce opens new sessions.
		b.fault(errors.New("another user of the module initialised it again"), false, true)
	}
	return b.unavailable()
}

// pausing reports whether the backend cannot serve now only because
// another user of the module initialises it again, or did (Stats.Pausing):
// the module's gate is closed, or the backend's sessions belong to the
// module's previous instance (its next call renews them), or it is
// renewing them; its own token has not failed.
func (b *Backend) pausing() bool {
	if !b.healthy.Load() {
		return b.collateral.Load()
	}
	return b.mod.reiniting() || b.mod.epoch.Load() != b.modEpoch.Load()
}

// unavailable is the error of a call while the token is unhealthy.
func (b *Backend) unavailable() error {
	b.hmu.Lock()
	cause := b.cause
	b.hmu.Unlock()
	if cause == nil {
		cause = errReinit
	}
	return fmt.Errorf("hsm: the token is unavailable, recovering (%v): %w", cause, provider.ErrDevice)
}

// fault marks the token unhealthy for cause and starts the recovery, unless
// one runs. reinit says that the module must be finalized and initialised
// again (the token went away); otherwise (a call timed out) the recovery
// first waits for the token to answer, and reinitialises only if it
// answers with a module error. collateral says that the token did not
// fail: another user of the module initialised it again (Stats.Pausing).
func (b *Backend) fault(cause error, reinit, collateral bool) {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	if reinit {
		b.needReinit, b.badEpoch = true, b.modEpoch.Load()
	}
	if !collateral {
		b.collateral.Store(false)
	}
	if b.recovering || b.closed.Load() {
		return
	}
	b.collateral.Store(collateral)
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
		b.fault(ckrError(op, err), true, false)
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
			b.collateral.Store(false)
			b.recoveries.Add(1)
			b.healthy.Store(true)
			b.hmu.Unlock()
			return
		}
		b.hmu.Lock()
		b.cause = err
		if !errors.Is(err, errReinit) {
			// The token failed too, not only the module's other user's
			// reinitialisation (which closes the gate: errReinit).
			b.collateral.Store(false)
		}
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
			return errReinit
		}
		_, err := b.p.GetTokenInfo(b.pool.Load().slot)
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
		return errReinit
	}
	defer b.mod.leave()
	slot, info, err := selectToken(b.p, b.cfg.Token)
	if errors.Is(err, provider.ErrNotFound) {
		// The token is not listed again yet (a remote token whose
		// server has not come back, a slot the module lists later): a
		// token fault, not an object that is not there, which is what
		// ErrNotFound means to the callers of an operation.
		return fmt.Errorf("hsm: the token is not back: %s: %w", err.Error(), provider.ErrDevice)
	}
	if err != nil {
		return err
	}
	// The token's slot may have changed: the new pool's sessions, and the
	// persistent session, open on the new one. b.slot, which calls read
	// without mainLock, stays as Open found it.
	b.pool.Store(b.newPool(slot, b.poolSize(info)))
	if err := b.openMain(); err != nil {
		return err
	}
	b.modEpoch.Store(epoch)
	return nil
}
