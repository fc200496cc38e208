//go:build cgo

package hsm

import (
	"context"
	"fmt"
	"slices"
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
	pool        *sessionPool
	wait        time.Duration
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
		maxBuffered: orDefault(cfg.MaxBuffered, DefaultMaxBuffered),
		managed:     managed,
		login:       cfg.PIN != nil,
		mainLock:    make(chan struct{}, 1),
	}
	if err := b.open(); err != nil {
		_ = mod.release()
		return nil, err
	}
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
	size := sessionLimit(info.MaxSessionCount, b.cfg.MaxSessions)
	if size < 2 {
		return fmt.Errorf("hsm: token %q allows %d session(s); the backend needs 2 or more: %w", info.Label, size, provider.ErrNoResources)
	}
	// One session is the persistent one; the pool has the rest.
	b.pool = newSessionPool(size-1, b.wait, b.openSession, b.closeSession)
	b.mainLock <- struct{}{}
	defer func() { <-b.mainLock }()
	return b.openMain()
}

// sessionLimit is the number of sessions the backend may open: the
// token's limit, lowered to the configured one.
func sessionLimit(token uint, configured int) int {
	n := DefaultMaxSessions
	if configured > 0 {
		n = configured
	}
	if token != pkcs11.CK_EFFECTIVELY_INFINITE && token != pkcs11.CK_UNAVAILABLE_INFORMATION && int(token) < n {
		n = int(token)
	}
	return n
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
	if cfg.MaxSessions < 0 || cfg.SessionWait < 0 || cfg.MaxBuffered < 0 {
		return fmt.Errorf("hsm: config: MaxSessions, SessionWait and MaxBuffered must not be negative: %w", provider.ErrInvalidArgument)
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
// afterwards. Close is idempotent.
func (b *Backend) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	b.pool.shutdown()
	b.mainLock <- struct{}{}
	if b.main != 0 {
		b.closeSession(b.main)
		b.main = 0
		b.gen.Add(1)
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

// lockMain takes mainLock, waiting up to the session wait or ctx.
func (b *Backend) lockMain(ctx context.Context) error {
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
	}
}

// createAttempts bounds the tries of a call that creates objects and fails
// with a transient error (see trait transient).
const createAttempts = 4

// withMain runs f on the persistent session, holding mainLock. When the
// session turns out dead, it is reopened (with a new generation: the
// session objects died with it) and f runs once more; when the token has
// forgotten the login, the backend logs in again and f runs once more;
// when creating and the token fails transiently, f runs up to
// createAttempts times. f must leave no object behind when it fails.
// Errors of package pkcs11 come back as tokenErrors for op.
func (b *Backend) withMain(ctx context.Context, op string, creating bool, f func(s pkcs11.SessionHandle) error) error {
	if b.closed.Load() {
		return errPoolClosed
	}
	if err := b.lockMain(ctx); err != nil {
		return err
	}
	defer func() { <-b.mainLock }()
	if b.closed.Load() {
		return errPoolClosed
	}
	reopened, reloggedIn, tries := false, false, 0
	for {
		if b.main == 0 {
			if err := b.openMain(); err != nil {
				return err
			}
		}
		err := f(b.main)
		tries++
		switch {
		case err == nil:
			return nil
		case hasTrait(err, evict) && !reopened:
			reopened = true
			b.closeSession(b.main)
			b.main = 0
			continue
		case hasTrait(err, relogin) && !reloggedIn:
			reloggedIn = true
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

// withSession runs f on a pooled session. A session found dead is closed
// and f runs once more on a fresh one; when the token has forgotten the
// login, the backend logs in again and f runs once more. f must finish
// every operation it starts (PKCS#11 ends an operation on its final call,
// or on an error). Errors of package pkcs11 come back as tokenErrors for
// op.
func (b *Backend) withSession(ctx context.Context, op string, f func(s pkcs11.SessionHandle) error) error {
	evicted, reloggedIn := false, false
	for {
		s, err := b.pool.get(ctx)
		if err != nil {
			return err
		}
		err = f(s)
		dead := err != nil && hasTrait(err, evict)
		b.pool.put(s, !dead)
		switch {
		case err == nil:
			return nil
		case dead && !evicted:
			evicted = true
			continue
		case hasTrait(err, relogin) && !reloggedIn:
			reloggedIn = true
			if lerr := b.relogin(ctx); lerr != nil {
				return lerr
			}
			continue
		}
		return ckrError(op, err)
	}
}

// relogin logs in again after the token reported that the user is not
// logged in.
func (b *Backend) relogin(ctx context.Context) error {
	return b.withMain(ctx, "login", false, func(pkcs11.SessionHandle) error {
		// withMain (re)opened the session if it had to, which logs in.
		return b.loginLocked()
	})
}
