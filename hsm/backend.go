//go:build cgo

package hsm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// Backend is a PKCS#11 token as a provider.Backend and provider.ManagedKeys.
// It is safe for concurrent use. Create it with [Open] and release it with
// [Backend.Close].
type Backend struct {
	cfg         Config
	mod         *module
	p           *pkcs11.Ctx
	slot        uint
	caps        *capabilities
	pool        atomic.Pointer[sessionPool]
	wait        time.Duration
	callTimeout time.Duration
	// inline runs token calls on the caller's goroutine (Config.InlineCalls).
	inline      bool
	maxBuffered int
	managed     map[string]*managedEntry

	// login says whether the backend logs in (a PIN source is set); then
	// the objects it creates are private (CKA_PRIVATE true).
	login bool

	// mainLock guards main: the persistent session, logged in for the
	// life of the backend, in which every object is created and destroyed.
	// Session objects live as long as the session that created them, so
	// they must not be created in pooled sessions, which come and go; and
	// serialising creation works around SoftHSM2's failures under
	// parallel creation. It is a channel so that waiting for it can honour
	// a context.
	mainLock chan struct{}
	main     pkcs11.SessionHandle
	// gen counts the openings of main. A key remembers the generation its
	// objects were created in; when main has been reopened since, they
	// are gone with the old session.
	gen    atomic.Uint64
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

	// Health (see health.go). modEpoch is the module epoch that the
	// backend's sessions belong to.
	modEpoch   atomic.Uint64
	healthy    atomic.Bool
	recoveries atomic.Uint64
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
	mod, err := openModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	b := &Backend{
		cfg:         cfg,
		mod:         mod,
		p:           mod.ctx,
		wait:        orDefault(cfg.SessionWait, DefaultSessionWait),
		callTimeout: orDefault(cfg.CallTimeout, DefaultCallTimeout),
		inline:      cfg.InlineCalls,
		kept:        make(map[keptCheck]uint64),
		maxBuffered: orDefault(cfg.MaxBuffered, DefaultMaxBuffered),
		managed:     managed,
		login:       cfg.PIN != nil,
		mainLock:    make(chan struct{}, 1),
		closing:     make(chan struct{}),
	}
	b.pool.Store(newSessionPool(0, 0, b.closeSession))
	// The opening calls into the token too: it runs where its deadline
	// can abandon it, and cleans up after itself when it was abandoned.
	octx, cancel := b.callContext(ctx, true)
	defer cancel()
	if !mod.enter() {
		_ = mod.release()
		return nil, fmt.Errorf("hsm: open: the module is being initialised again: %w", provider.ErrDevice)
	}
	abandoned, err := abandonable(octx, nil, b.open, func(err error, abandoned bool) {
		mod.leave()
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
	slot, info, err := selectToken(b.p, b.cfg.Token)
	if err != nil {
		return err
	}
	b.slot = slot
	if info.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
		return fmt.Errorf("hsm: token %q in slot %d is not initialised: %w", info.Label, slot, provider.ErrDevice)
	}
	if info.Flags&pkcs11.CKF_LOGIN_REQUIRED != 0 && !b.login {
		return fmt.Errorf("hsm: token %q requires a login and no PIN source is configured: %w", info.Label, provider.ErrAccessDenied)
	}
	if b.caps, err = discover(b.p, slot); err != nil {
		return err
	}
	size := SessionLimit(sessionCount(info.MaxSessionCount), b.cfg.MaxSessions)
	if size < 2 {
		return fmt.Errorf("hsm: token %q allows %d session(s); the backend needs 2 or more: %w", info.Label, size, provider.ErrNoResources)
	}
	b.pool.Store(newSessionPool(b.poolSize(info), b.wait, b.closeSession))
	b.mainLock <- struct{}{}
	defer func() { <-b.mainLock }()
	return b.openMain()
}

// poolSize is the size of the session pool on the token of info: one
// session of the limit is the persistent one, the pool has the rest.
func (b *Backend) poolSize(info pkcs11.TokenInfo) int {
	return max(1, SessionLimit(sessionCount(info.MaxSessionCount), b.cfg.MaxSessions)-1)
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

func (b *Backend) openSession() (pkcs11.SessionHandle, error) {
	// Read-only sessions suffice: they may create, use and destroy session
	// objects, and read token objects. Many tokens allow fewer read-write
	// sessions.
	return b.p.OpenSession(b.slot, pkcs11.CKF_SERIAL_SESSION)
}

func (b *Backend) closeSession(s pkcs11.SessionHandle) {
	// Nothing to do about a failure: the session is dropped either way.
	_ = b.p.CloseSession(s)
}

// openMain opens the persistent session and logs in. The caller holds
// mainLock.
func (b *Backend) openMain() error {
	s, err := b.openSession()
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
	return nil
}

// loginLocked logs the user in through the persistent session. The PIN
// is asked for now and zeroed as soon as C_Login returns. The caller holds
// mainLock.
func (b *Backend) loginLocked() error {
	if !b.login {
		return fmt.Errorf("hsm: login: the token wants a login and no PIN source is configured: %w", provider.ErrAccessDenied)
	}
	pin, err := b.cfg.PIN()
	if err != nil {
		return fmt.Errorf("hsm: login: read the PIN: %w: %w", provider.ErrAccessDenied, err)
	}
	defer clear(pin)
	// A string view of the PIN, not a copy: only the bytes above exist
	// in Go memory, and they are zeroed. (pkcs11.Ctx.Login copies the PIN
	// into C memory, which it frees without zeroing.)
	err = b.p.Login(b.main, pkcs11.CKU_USER, unsafe.String(unsafe.SliceData(pin), len(pin)))
	if err != nil && !hasTrait(err, done) {
		return ckrError("login", err)
	}
	return nil
}

// lockMain takes mainLock, waiting up to the session wait, ctx or expire
// (the call deadline).
func (b *Backend) lockMain(ctx context.Context, expire <-chan time.Time) error {
	if err := ctx.Err(); err != nil {
		return timeoutError(err)
	}
	select {
	case b.mainLock <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(b.wait)
	defer timer.Stop()
	select {
	case b.mainLock <- struct{}{}:
		return nil
	case <-timer.C:
		return fmt.Errorf("hsm: the persistent session was busy for %v: %w", b.wait, provider.ErrNoResources)
	case <-ctx.Done():
		return timeoutError(ctx.Err())
	case <-expire:
		return timeoutError(errCallDeadline)
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
	// The deadline runs on a pooled timer, as withSession's does: a
	// context of its own per call was five allocations.
	d := b.callTimeout
	if creating {
		d *= slowCalls
	}
	timer := startCallTimerFor(d)
	defer stopCallTimer(timer)
	if err := b.lockMain(ctx, timer.C); err != nil {
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
		// undo runs before tokenCall lets mainLock go, so s is still
		// the persistent session f succeeded on.
		undoMain = func() { undo(s) }
	}
	err := b.tokenCall(ctx, timer.C, op, body, undoMain, true)
	if errors.Is(err, errRejected) {
		// The body never ran: the lock is still the caller's.
		<-b.mainLock
		return b.unavailable()
	}
	return ckrError(op, err)
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
// each body that ran, once it has returned, on whatever goroutine it ran.
// So a body abandoned at the call deadline keeps its memory charged until
// it ends (docs/design.md, "Limits").
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
// It lets go of the caller's hold on st when it returns; each body holds
// st until it has returned.
func (b *Backend) withSessionHeld(ctx context.Context, op string, f func(s pkcs11.SessionHandle) error, st *staged) error {
	defer st.done()
	// The deadline runs on a pooled timer rather than a context of its
	// own (see startCallTimer): every wait below watches both.
	deadline := time.Now().Add(b.callTimeout)
	timer := b.startCallTimer()
	defer stopCallTimer(timer)
	evicted, relogins := false, 0
	for {
		if err := b.ready(); err != nil {
			return err
		}
		pool := b.pool.Load()
		s, err := pool.get(ctx, timer.C)
		if errors.Is(err, errPoolClosed) && !b.closed.Load() {
			// A recovery replaced the pool while this call waited.
			return b.unavailable()
		}
		if err != nil {
			return err
		}
		body := func() error { return b.onSession(pool, s, op, f) }
		if st != nil {
			st.hold() // the body's, let go when it returns
			body = func() error {
				defer st.done()
				return b.onSession(pool, s, op, f)
			}
		}
		err = b.tokenCall(ctx, timer.C, op, body, nil, false)
		if errors.Is(err, errRejected) {
			// The body never ran: the session and its hold on st are
			// still the caller's.
			st.done()
			pool.put(s, true)
			return b.unavailable()
		}
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
	err := b.openSessionIn(&s)
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
