//go:build cgo

package hsm

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// module is a loaded PKCS#11 module, shared by every backend (and Slots
// call) of the process that names it.
type module struct {
	path string // as first given, for messages
	key  string // registry key: the resolved path
	ctx  *pkcs11.Ctx

	// Guarded by registry.mu.
	refs        int
	initialized bool // C_Initialize succeeded and C_Finalize is still due
	owned       bool // this package called C_Initialize, so it finalizes
}

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

// openModule loads and initialises the module at path, or takes another
// reference to it. Every successful call must be paired with release.
func openModule(path string) (*module, error) {
	key := moduleKey(path)
	registry.mu.Lock()
	defer registry.mu.Unlock()
	m := registry.modules[key]
	if m == nil {
		ctx := pkcs11.New(path)
		if ctx == nil {
			return nil, fmt.Errorf("hsm: load module %q: the library cannot be loaded or is not a PKCS#11 module: %w", path, provider.ErrDevice)
		}
		m = &module{path: path, key: key, ctx: ctx}
		registry.modules[key] = m
	}
	if !m.initialized {
		err := m.ctx.Initialize()
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
	m.initialized = false
	if !m.owned {
		return nil
	}
	if err := m.ctx.Finalize(); err != nil && !hasTrait(err, done) {
		return ckrError(fmt.Sprintf("finalize module %q", m.path), err)
	}
	return nil
}
