package wasihost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/spec"
	"github.com/wasihsm/wasihsm/wasihost/internal/abi"
)

// Module names of the two host modules.
const (
	ModuleName     = abi.ModuleName
	KeysModuleName = abi.KeysModuleName
)

// Defaults of Options: the contract's (package spec).
const (
	// DefaultMaxHandles is the default limit of open handles per instance.
	DefaultMaxHandles = spec.DefaultMaxHandles
	// DefaultMaxBufferedBytes is the default limit of bytes one state may
	// hold (AAD, key material, HKDF info, a buffered EdDSA message).
	DefaultMaxBufferedBytes = spec.DefaultMaxBufferedBytes
	// DefaultMaxInstanceBytes is the default budget of host bytes held for
	// one instance: its states' buffers and its calls' staging together.
	DefaultMaxInstanceBytes = spec.DefaultMaxInstanceBytes
)

// Options configures a Host. The zero value is valid and uses the defaults.
type Options struct {
	// MaxHandles limits the open handles of one guest instance; beyond it
	// calls that create a handle answer mfile. 0 means DefaultMaxHandles.
	MaxHandles int
	// MaxBufferedBytes limits the bytes one state may hold; beyond it the
	// call answers msgsize. 0 means DefaultMaxBufferedBytes.
	MaxBufferedBytes int
	// MaxInstanceBytes is the budget of host memory held for one guest
	// instance at once: what all its states buffer and all its calls
	// stage, token calls abandoned at their deadline included until they
	// end (see provider.Budget). Each allocation is charged before it is
	// made; one that would exceed the budget answers nomem. 0 means
	// DefaultMaxInstanceBytes.
	MaxInstanceBytes int
	// Logger receives failures the guest cannot see (a key that could not
	// be destroyed). nil discards them.
	Logger *slog.Logger
	// Observer receives an Event for every host call (see LogObserver and
	// package metrics). nil observes nothing, at no cost per call.
	Observer Observer
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxHandles < 0 || o.MaxBufferedBytes < 0 || o.MaxInstanceBytes < 0 {
		return o, fmt.Errorf("wasihost: negative limit: %w", provider.ErrInvalidArgument)
	}
	if o.MaxHandles == 0 {
		o.MaxHandles = DefaultMaxHandles
	}
	if o.MaxBufferedBytes == 0 {
		o.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if o.MaxInstanceBytes == 0 {
		o.MaxInstanceBytes = DefaultMaxInstanceBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Host serves the two host modules to any number of guest instances.
type Host struct {
	provider provider.Provider
	opts     Options

	mu        sync.RWMutex // guards instances; every call reads it, so reads share
	instances map[api.Module]*instance

	// last is the instance the latest lookup found. A guest makes its
	// calls in runs, and comparing one interface value is cheaper than the
	// read lock and a map lookup keyed on an interface (a third of the
	// cheapest call's cost). It is set under mu's read lock and
	// cleared under its write lock, so no instance that release or Close
	// dropped stays in it.
	last atomic.Pointer[instance]
}

// New returns a Host that serves p with opts.
func New(p provider.Provider, opts Options) (*Host, error) {
	if p == nil {
		return nil, fmt.Errorf("wasihost: no provider: %w", provider.ErrInvalidArgument)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Host{provider: p, opts: opts, instances: make(map[api.Module]*instance)}, nil
}

// Instantiate instantiates both host modules into r. Call it once per
// runtime, before instantiating guests that import them.
func (h *Host) Instantiate(ctx context.Context, r wazero.Runtime) error {
	for _, m := range []struct {
		name  string
		funcs []hostFunc
	}{{ModuleName, cryptoFuncs}, {KeysModuleName, keysFuncs}} {
		b := r.NewHostModuleBuilder(m.name)
		for _, f := range m.funcs {
			fn := h.adapt(f)
			if h.opts.Observer != nil {
				fn = h.adaptObserved(m.name, f)
			}
			b.NewFunctionBuilder().
				WithGoModuleFunction(fn, f.paramTypes(), []api.ValueType{api.ValueTypeI32}).
				WithParameterNames(f.params...).
				WithResultNames("errno").
				Export(f.name)
		}
		if _, err := b.Instantiate(ctx); err != nil {
			return fmt.Errorf("wasihost: instantiate %s: %w", m.name, err)
		}
	}
	return nil
}

// guestKey is the context key under which InstantiateGuest passes the guest
// being instantiated to the host functions its start function calls.
type guestKey struct{}

// pending links an instantiation to the instance state its first host call
// creates, so that the close notifier can release it.
type pending struct {
	guest provider.Guest
	mu    sync.Mutex
	inst  *instance
}

// InstantiateGuest instantiates compiled with cfg (running its start
// function, as wazero does) as the guest identified by guest, and arranges
// for its handles and keys to be released the moment the module closes. An
// error from the guest's start function, such as a *sys.ExitError, is
// returned unchanged, with the module (nil if it did not instantiate).
//
// guest is the only identity the guest has for managed keys; the module's
// name (cfg's WithName, or the wasm name section) plays no part. The zero
// Guest is anonymous and opens no managed key, as does every module
// instantiated directly with wazero.
func (h *Host) InstantiateGuest(ctx context.Context, r wazero.Runtime, compiled wazero.CompiledModule, cfg wazero.ModuleConfig, guest provider.Guest) (api.Module, error) {
	p := &pending{guest: guest}
	ctx = context.WithValue(ctx, guestKey{}, p)
	ctx = experimental.WithCloseNotifier(ctx, experimental.CloseNotifyFunc(func(ctx context.Context, _ uint32) {
		p.mu.Lock()
		inst := p.inst
		p.mu.Unlock()
		if inst != nil {
			h.release(ctx, inst)
		}
	}))
	mod, err := r.InstantiateModule(ctx, compiled, cfg)
	if mod != nil {
		// Calls after instantiation (exports the embedder calls) carry
		// their own context, without p: bind the state to the module now,
		// so that they run as this guest and the notifier can release it.
		inst := h.instance(ctx, mod)
		if mod.IsClosed() { // it may have closed before p knew the state
			h.release(ctx, inst)
		}
	}
	return mod, err
}

// instance returns the state of the calling module, creating it on its
// first call.
func (h *Host) instance(ctx context.Context, mod api.Module) *instance {
	if inst := h.last.Load(); inst != nil && inst.mod == mod {
		return inst
	}
	h.mu.RLock()
	inst, ok := h.instances[mod]
	if ok {
		h.last.Store(inst)
	}
	h.mu.RUnlock()
	if ok {
		return inst
	}
	h.mu.Lock()
	inst, ok = h.instances[mod]
	if !ok {
		h.sweepLocked(ctx)
		// The identity is the embedder's word only. mod.Name() is not
		// used, even as a default: without WithName it is the module
		// name in the wasm name section, which the guest wrote.
		var guest provider.Guest
		p, _ := ctx.Value(guestKey{}).(*pending)
		if p != nil {
			guest = p.guest
		}
		inst = newInstance(h, mod, guest)
		h.instances[mod] = inst
		if p != nil {
			p.mu.Lock()
			p.inst = inst
			p.mu.Unlock()
		}
	}
	h.mu.Unlock()
	return inst
}

// sweepLocked releases the states of modules that closed without a
// notifier (instantiated directly with wazero).
func (h *Host) sweepLocked(ctx context.Context) {
	for mod, inst := range h.instances {
		if mod.IsClosed() {
			delete(h.instances, mod)
			h.last.CompareAndSwap(inst, nil)
			inst.close(ctx)
		}
	}
}

func (h *Host) release(ctx context.Context, inst *instance) {
	h.mu.Lock()
	if h.instances[inst.mod] == inst {
		delete(h.instances, inst.mod)
	}
	h.last.CompareAndSwap(inst, nil)
	h.mu.Unlock()
	inst.close(ctx)
}

// Close releases every instance's handles and keys. Guests that call the
// host afterwards start over with empty tables.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	all := h.instances
	h.instances = make(map[api.Module]*instance)
	h.last.Store(nil)
	h.mu.Unlock()
	var errs []error
	for _, inst := range all {
		errs = append(errs, inst.close(ctx))
	}
	return errors.Join(errs...)
}

// Stats is a snapshot of the host's live state, for tests and metrics.
type Stats struct {
	// Instances is the number of guest instances with state.
	Instances int
	// Handles is the number of open handles over all instances.
	Handles int
	// HeldBytes is the host memory charged to the instances' budgets
	// (Options.MaxInstanceBytes) over all instances.
	HeldBytes int64
}

// Stats returns a snapshot of the host's live state.
func (h *Host) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Stats{Instances: len(h.instances)}
	for _, inst := range h.instances {
		inst.mu.Lock()
		s.Handles += inst.handles.Len()
		inst.mu.Unlock()
		s.HeldBytes += inst.budget.Held()
	}
	return s
}

// adapt turns a host function body into a wazero stack-based function: it
// finds the caller's instance, runs the body under the instance lock and
// writes the errno to stack[0].
func (h *Host) adapt(f hostFunc) api.GoModuleFunc {
	body := f.body
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		inst := h.instance(ctx, mod)
		stack[0] = uint64(inst.call(ctx, mod.Memory(), stack, body))
	}
}
