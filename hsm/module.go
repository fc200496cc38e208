//go:build cgo

package hsm

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// module is a loaded PKCS#11 module, shared by every backend (and Slots
// call) of the process that names it.
type module struct {
	path string // as first given, for messages
	key  string // registry key: the resolved path
	ctx  *pkcs11.Ctx
	// fns is the module's function list, for the calls that package
	// pkcs11 cannot make as PKCS#11 wants them (see module.finish).
	fns functionList

	// initArgs are the init args (Config.InitArgs) of the module's
	// initialisation by this package, and reserved their C copy, passed
	// as pReserved (nil when initArgs is ""). Guarded by registry.mu;
	// reserved lives as long as initArgs stays the same, since a module
	// may keep the pointer until C_Finalize.
	initArgs string
	reserved *cString

	// Guarded by registry.mu.
	refs        int
	initialized bool // C_Initialize succeeded and C_Finalize is still due
	owned       bool // this package called C_Initialize, so it finalizes

	// epoch counts the module's initialisations by this package: a
	// session or object handle is only good in the epoch that gave it out.
	epoch atomic.Uint64
	// reinitMu serialises reinit.
	reinitMu sync.Mutex

	// The gate: every goroutine that calls into the module holds it
	// (enter, leave), and reinit closes it and waits for the calls in
	// flight, because C_Finalize while another thread is in the module is
	// undefined behaviour (PKCS#11 3.0 §5.4).
	gateMu   sync.Mutex
	inflight int
	closing  bool
	drained  *sync.Cond // signalled when inflight drops to 0
}

// enter admits a goroutine that is about to call into the module; it
// answers false, at once, while reinit is under way. Every true must be
// paired with leave.
func (m *module) enter() bool {
	m.gateMu.Lock()
	defer m.gateMu.Unlock()
	if m.closing {
		return false
	}
	m.inflight++
	return true
}

// leave ends what enter admitted.
func (m *module) leave() {
	m.gateMu.Lock()
	m.inflight--
	if m.inflight == 0 {
		m.drained.Broadcast()
	}
	m.gateMu.Unlock()
}

// reiniting reports whether reinit has closed the gate: the module's
// calls fail fast, with errReinit, until it is initialised again.
func (m *module) reiniting() bool {
	m.gateMu.Lock()
	defer m.gateMu.Unlock()
	return m.closing
}

// busy reports whether a goroutine is in the module.
func (m *module) busy() bool {
	m.gateMu.Lock()
	defer m.gateMu.Unlock()
	return m.inflight > 0
}

// reinit finalizes the module and initialises it again, which is how a
// client library such as p11-kit-client.so reconnects to a token that went
// away: the sessions, logins and object handles of every user of the
// module die with it. It does nothing when the module was initialised
// again since the caller saw epoch seen (another backend sharing the module
// did it). It waits for the calls in flight up to reinitDrain: a module
// that serves several tokens (p11-kit-proxy) may hold calls to another
// token that hangs, and while the gate is closed every token of the
// module fails fast; then it opens the gate again and reports
// errReinitBusy, for the recovery to try again after its backoff. Only a
// background goroutine may call it.
func (m *module) reinit(seen uint64) error {
	m.reinitMu.Lock()
	defer m.reinitMu.Unlock()
	m.gateMu.Lock()
	m.closing = true
	expired := false // guarded by gateMu
	stop := time.AfterFunc(reinitDrain, func() {
		m.gateMu.Lock()
		expired = true
		m.drained.Broadcast()
		m.gateMu.Unlock()
	})
	for m.inflight > 0 && !expired {
		m.drained.Wait()
	}
	stop.Stop()
	if m.inflight > 0 {
		m.closing = false
		m.gateMu.Unlock()
		return errReinitBusy
	}
	m.gateMu.Unlock()
	defer func() {
		m.gateMu.Lock()
		m.closing = false
		m.gateMu.Unlock()
	}()

	registry.mu.Lock()
	defer registry.mu.Unlock()
	if m.initialized && m.epoch.Load() != seen {
		return nil
	}
	if m.initialized {
		// The connection (or device) is gone; what C_Finalize says about
		// it does not matter.
		_ = m.ctx.Finalize()
		m.initialized = false
	}
	if err := m.initialize(m.initArgs); err != nil && !hasTrait(err, done) {
		return ckrError(fmt.Sprintf("initialize module %q again", m.path), err)
	}
	m.initialized, m.owned = true, true
	m.epoch.Add(1)
	return nil
}

// Reconnect initialises the module at path again when this process has it
// initialised, so that a client module lists a token that was unreachable
// when it was initialised: p11-kit-proxy.so and p11-kit-client.so connect
// to their servers in C_Initialize only, and a server that was down then
// stays out of the slot list until the next one. It does nothing when the
// module is not loaded and initialised (the next Open initialises it
// afresh). Every other user of the module loses its sessions with it and
// recovers them (docs/design.md#a-group-of-tokens); calls in flight are
// waited for up to a bound, and when they stay longer it fails with
// provider.ErrDevice and changes nothing.
func Reconnect(path string) error {
	registry.mu.Lock()
	m := registry.modules[moduleKey(path)]
	ok := m != nil && m.initialized && m.refs > 0
	registry.mu.Unlock()
	if !ok {
		return nil
	}
	return m.reinit(m.epoch.Load())
}

// reinitDrain bounds reinit's wait for the calls in flight.
const reinitDrain = 100 * time.Millisecond

// errReinitBusy is reinit's answer when calls stayed in the module past
// reinitDrain.
var errReinitBusy = fmt.Errorf("hsm: calls stayed in the module (another of its tokens hangs); initialising it again later: %w", provider.ErrDevice)

// registry holds the process's modules. A PKCS#11 module is initialised
// once per process, however many users it has: the first user initialises
// it, the last one finalizes it. C_Finalize is never called from an exit
// path (SoftHSM2 is known to crash in it at exit), only by the Close that
// drops the last reference. The library itself stays loaded for the life of
// the process: unloading modules that start threads or register atexit
// handlers is a common cause of crashes.
var registry = struct {
	mu      sync.Mutex
	modules map[string]*module
}{modules: map[string]*module{}}

// moduleKey is the registry key of a module path: the path with symbolic
// links resolved, so that two names of one library share one C_Initialize
// (the dynamic loader would give them the same instance anyway). A bare
// library name, which the loader searches for, is its own key.
func moduleKey(path string) string {
	if !strings.ContainsRune(path, filepath.Separator) {
		return path
	}
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		return resolved
	}
	return filepath.Clean(path)
}

// initialize calls C_Initialize with args as pReserved ("" passes NULL)
// and remembers them for reinit. The caller holds registry.mu.
func (m *module) initialize(args string) error {
	if m.reserved != nil && m.initArgs != args {
		m.reserved.free()
		m.reserved = nil
	}
	m.initArgs = args
	if args == "" {
		return m.ctx.Initialize()
	}
	if m.reserved == nil {
		m.reserved = newCString(args)
	}
	return m.ctx.Initialize(pkcs11.InitializeWithReserved(m.reserved.ptr()))
}

// openModule loads and initialises the module at path with initArgs (see
// Config.InitArgs), or takes another reference to it. While the module is
// in use with other init args, it is refused: a library is initialised
// once per process, so a second set of arguments could not take effect,
// and sharing the module would run this user's token with the first
// user's settings. (When something else in the process initialised the
// module, the first user's args are compared, though the module never
// saw them.) Every successful call must be paired with release.
func openModule(path, initArgs string) (*module, error) {
	key := moduleKey(path)
	registry.mu.Lock()
	defer registry.mu.Unlock()
	m := registry.modules[key]
	if m == nil {
		ctx := pkcs11.New(path)
		if ctx == nil {
			return nil, fmt.Errorf("hsm: load module %q: the library cannot be loaded or is not a PKCS#11 module: %w", path, provider.ErrDevice)
		}
		fns, err := functionsOf(ctx)
		if err != nil {
			return nil, fmt.Errorf("hsm: load module %q: %w: %w", path, provider.ErrDevice, err)
		}
		m = &module{path: path, key: key, ctx: ctx, fns: fns}
		m.drained = sync.NewCond(&m.gateMu)
		registry.modules[key] = m
	}
	if m.initialized && m.initArgs != initArgs {
		return nil, fmt.Errorf("hsm: initialize module %q: it is initialised in this process with other init args (pkcs11.init_args), and a module takes one set per process: %w", path, provider.ErrInvalidArgument)
	}
	if !m.initialized {
		err := m.initialize(initArgs)
		switch {
		case err == nil:
			m.owned = true
		case hasTrait(err, done):
			// Someone else in the process initialised it; they finalize.
			m.owned = false
		default:
			return nil, ckrError(fmt.Sprintf("initialize module %q", path), err)
		}
		m.initialized = true
		m.epoch.Add(1)
	}
	m.refs++
	return m, nil
}

// release drops a reference, and finalizes the module when it was the
// last one and this package initialised it.
func (m *module) release() error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	m.refs--
	if m.refs > 0 || !m.initialized {
		return nil
	}
	if m.busy() {
		// Calls that a deadline abandoned are still in the module (a hung
		// token): finalizing under them is undefined, so the module stays
		// initialised, and the next user shares it.
		return fmt.Errorf("hsm: finalize module %q: calls abandoned after their deadline are still in it: %w", m.path, provider.ErrTimeout)
	}
	m.initialized = false
	if !m.owned {
		return nil
	}
	if err := m.ctx.Finalize(); err != nil && !hasTrait(err, done) {
		return ckrError(fmt.Sprintf("finalize module %q", m.path), err)
	}
	return nil
}
