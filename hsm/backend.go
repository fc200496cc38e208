//go:build cgo

package hsm

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// Backend is a PKCS#11 token as a provider.Backend and provider.ManagedKeys.
// It is safe for concurrent use. Create it with [Open] and release it with
// [Backend.Close].
//
// How it calls into the token, and what keeps that safe across
// goroutines, is the call layer's (call.go).
type Backend struct {
	// token is set by Open and not changed after; login says whether the
	// backend logs in (a PIN source is set), and then the objects it
	// creates are private (CKA_PRIVATE true).
	token
	// These are set by Open and not changed after.
	cfg         Config
	wait        time.Duration
	callTimeout time.Duration
	// inline runs token calls on the caller's goroutine (Config.InlineCalls).
	inline      bool
	maxBuffered int
	managed     map[string]*managedEntry
	// probes are what probing found the token doing, per algorithm
	// (probe.go).
	probes map[string]*probeEntry

	// pool is the pooled sessions; a recovery replaces it whole, under
	// mainLock (see reopen).
	pool atomic.Pointer[sessionPool]

	// mainLock guards main: the persistent session, logged in for the
	// life of the backend, in which every object is created and destroyed.
	// Session objects live as long as the session that created them, so
	// they must not be created in pooled sessions, which come and go; and
	// serialising creation works around SoftHSM2's failures under
	// parallel creation. It is a channel so that waiting for it can honour
	// a context; a call's lease lets it go (see lease.end).
	mainLock chan struct{}
	main     pkcs11.SessionHandle
	// gen counts the openings of main. A key remembers the generation its
	// objects were created in; when main has been reopened since, they
	// are gone with the old session. Atomic: keys read it without mainLock.
	gen atomic.Uint64
	// closed is set once, by Close; atomic, read by every call.
	closed atomic.Bool
	// kept records, per algorithm and origin, the generation of main in
	// which a created key passed checkKeyAttributes (see checkKept).
	// Guarded by mainLock.
	kept map[keptCheck]uint64
	// keptChecks counts the attribute read-backs, for the tests.
	keptChecks atomic.Int64

	// orphans are the objects of keys whose Destroy could not reach the
	// persistent session; sweeping says that sweep runs to destroy them
	// (see orphan). Both are guarded by orphanMu.
	orphanMu sync.Mutex
	orphans  []objects
	sweeping bool
	// closing is closed by Close, to end the recovery's backoff.
	closing chan struct{}

	// Health (see call_recover.go). modEpoch is the module epoch that the
	// backend's sessions belong to. The three atomics are read by every
	// call without a lock and written by the recovery.
	modEpoch   atomic.Uint64
	healthy    atomic.Bool
	recoveries atomic.Uint64
	// collateral is true while the running recovery is only the pause
	// that another user's reinitialisation of the module caused: the
	// token itself has not failed (Stats.Pausing).
	collateral atomic.Bool
	hmu        sync.Mutex // guards the fields below
	recovering bool
	needReinit bool
	badEpoch   uint64 // the module epoch that failed, for needReinit
	cause      error
	// recoverDone is closed when the running recovery ends.
	recoverDone chan struct{}
}

var (
	_ provider.Backend     = (*Backend)(nil)
	_ provider.ManagedKeys = (*Backend)(nil)
)

// Open loads cfg.Module (once per process, shared with other backends),
// finds the token that cfg.Token selects, logs in with cfg.PIN, discovers
// the token's mechanisms and opens its persistent session. Configuration
// errors wrap provider.ErrInvalidArgument, a module outside the allow-list
// provider.ErrAccessDenied, a token that is not there provider.ErrNotFound.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	cfg = cloneConfig(cfg)
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	managed, err := parseManagedKeys(cfg.ManagedKeys)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, timeoutError(err)
	}
	mod, err := openModule(cfg.Module, cfg.InitArgs)
	if err != nil {
		return nil, err
	}
	b := &Backend{
		token:       token{mod: mod, p: mod.ctx, login: cfg.PIN != nil},
		cfg:         cfg,
		wait:        orDefault(cfg.SessionWait, DefaultSessionWait),
		callTimeout: orDefault(cfg.CallTimeout, DefaultCallTimeout),
		inline:      cfg.InlineCalls,
		kept:        make(map[keptCheck]uint64),
		maxBuffered: orDefault(cfg.MaxBuffered, DefaultMaxBuffered),
		managed:     managed,
		probes:      newProbeTable(),
		mainLock:    make(chan struct{}, 1),
		closing:     make(chan struct{}),
	}
	b.pool.Store(b.newPool(0, 0))
	// The opening calls into the token too: it runs where its deadline
	// can abandon it, and cleans up after itself when it was abandoned.
	octx, cancel := context.WithTimeoutCause(ctx, slowCalls*b.callTimeout, errCallDeadline)
	defer cancel()
	l, ok := b.begin(nil, nil, nil)
	if !ok {
		_ = mod.release()
		return nil, errReinit
	}
	// The lease leaves the module before closeLocked enters it again.
	abandoned, err := abandonable(octx, nil, b.open, l, func(err error, abandoned bool) {
		switch {
		case err != nil:
			_ = mod.release()
		case abandoned:
			_ = b.closeLocked()
		}
	})
	if abandoned {
		return nil, fmt.Errorf("hsm: open: %w", timeoutError(context.Cause(octx)))
	}
	if err != nil {
		return nil, err
	}
	b.modEpoch.Store(b.mod.epoch.Load())
	b.healthy.Store(true)
	return b, nil
}

// orDefault returns v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// open does the part of Open that needs the module; on failure the caller
// releases it.
func (b *Backend) open() error {
	t, err := openToken(b.mod, b.cfg.Token)
	if err != nil {
		return err
	}
	t.login = b.login
	b.token = t
	if t.loginRequired() && !b.login {
		return t.noPIN()
	}
	size := SessionLimit(sessionLimit(t.info.MaxSessionCount), b.cfg.MaxSessions)
	if size < 2 {
		return fmt.Errorf("hsm: token %q allows %d session(s); the backend needs 2 or more: %w", t.info.Label, size, provider.ErrNoResources)
	}
	b.pool.Store(b.newPool(t.slot, b.poolSize(t.info)))
	b.mainLock <- struct{}{}
	defer func() { <-b.mainLock }()
	return b.openMain()
}

// poolSize is the size of the session pool on the token of info: one
// session of the limit is the persistent one, the pool has the rest.
func (b *Backend) poolSize(info pkcs11.TokenInfo) int {
	return max(1, SessionLimit(sessionLimit(info.MaxSessionCount), b.cfg.MaxSessions)-1)
}

// checkConfig checks what Open can check before it loads anything.
func checkConfig(cfg Config) error {
	if cfg.Module == "" {
		return fmt.Errorf("hsm: config: Module: no PKCS#11 module given: %w", provider.ErrInvalidArgument)
	}
	if err := AllowModule(cfg.Module, cfg); err != nil {
		return err
	}
	if cfg.Token.IsZero() {
		return fmt.Errorf("hsm: config: Token: no token selected (give a label, serial or slot id): %w", provider.ErrInvalidArgument)
	}
	if cfg.MaxSessions < 0 || cfg.SessionWait < 0 || cfg.MaxBuffered < 0 || cfg.CallTimeout < 0 {
		return fmt.Errorf("hsm: config: MaxSessions, SessionWait, CallTimeout and MaxBuffered must not be negative: %w", provider.ErrInvalidArgument)
	}
	return nil
}

// cloneConfig copies the slices of cfg, so that the caller's later changes
// do not reach the backend.
func cloneConfig(cfg Config) Config {
	cfg.AllowedModules = slices.Clone(cfg.AllowedModules)
	if cfg.Token.SlotID != nil {
		id := *cfg.Token.SlotID
		cfg.Token.SlotID = &id
	}
	keys := make([]ManagedKey, len(cfg.ManagedKeys))
	for i, k := range cfg.ManagedKeys {
		k.ID = slices.Clone(k.ID)
		k.Guests = slices.Clone(k.Guests)
		k.Operations = slices.Clone(k.Operations)
		keys[i] = k
	}
	cfg.ManagedKeys = keys
	return cfg
}

// Name implements provider.Backend: it returns "pkcs11".
func (b *Backend) Name() string { return BackendName }

// Close closes the backend's sessions, which destroys every key it
// created (they are session objects), and releases the module, finalizing
// it when no other backend uses it. Keys and states of the backend fail
// afterwards. Close is idempotent. It waits for the token no longer than
// the call deadline: when the token hangs, the sessions are closed (and
// the module released) in the background once it answers, and Close
// reports provider.ErrTimeout.
func (b *Backend) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(b.closing)
	b.hmu.Lock()
	recovering := b.recoverDone
	b.hmu.Unlock()
	finished := make(chan error, 1)
	go func() {
		if recovering != nil {
			<-recovering
		}
		finished <- b.closeLocked()
	}()
	timer := time.NewTimer(b.callTimeout)
	defer timer.Stop()
	select {
	case err := <-finished:
		return err
	case <-timer.C:
		return fmt.Errorf("hsm: close: the token did not answer within %v; closing in the background: %w", b.callTimeout, provider.ErrTimeout)
	}
}

// closeLocked closes the sessions and releases the module. It waits for
// the persistent session's lock (held by a call in flight, maybe).
func (b *Backend) closeLocked() error {
	b.closed.Store(true)
	b.mainLock <- struct{}{}
	// Sessions of an older module epoch, or of a module being initialised
	// again, are gone already: their handles are forgotten, not closed.
	live := b.mod.epoch.Load() == b.modEpoch.Load() && b.mod.enter()
	if live {
		b.pool.Load().shutdown()
	} else {
		b.pool.Load().discard()
	}
	if b.main != 0 {
		if live {
			b.closeSession(b.main)
		}
		b.main = 0
		b.gen.Add(1)
	}
	if live {
		b.mod.leave()
	}
	<-b.mainLock
	return b.mod.release()
}

// newPool makes a session pool of size sessions on slot, before it is
// published (see sessionPool.slot).
func (b *Backend) newPool(slot uint, size int) *sessionPool {
	p := newSessionPool(size, b.wait, b.closeSession)
	p.slot = slot
	return p
}

// openSession opens a session on slot, the slot of the pool it is for.
func (b *Backend) openSession(slot uint) (pkcs11.SessionHandle, error) {
	// Read-only sessions suffice: they may create, use and destroy session
	// objects, and read token objects. Many tokens allow fewer read-write
	// sessions.
	return b.p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
}

func (b *Backend) closeSession(s pkcs11.SessionHandle) {
	// Nothing to do about a failure: the session is dropped either way.
	_ = b.p.CloseSession(s)
}

// openMain opens the persistent session and logs in. The caller holds
// mainLock.
func (b *Backend) openMain() error {
	s, err := b.openMainSession(b.pool.Load().slot)
	if err != nil {
		return ckrError("open the persistent session", err)
	}
	b.main = s
	b.gen.Add(1)
	if b.login {
		if err := b.loginLocked(); err != nil {
			b.closeSession(s)
			b.main = 0
			return err
		}
	}
	return b.settleMainSession()
}

// loginLocked logs the user in through the persistent session (see
// token.logIn). The caller holds mainLock.
func (b *Backend) loginLocked() error {
	if !b.login {
		return b.noPIN()
	}
	return b.logIn(b.main, b.cfg.PIN)
}
