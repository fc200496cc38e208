package wasihost

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost/internal/abi"
	"github.com/wasihsm/wasihsm/wasihost/internal/guestmem"
	"github.com/wasihsm/wasihsm/wasihost/internal/handles"
)

// Observer receives one [Event] per host call a guest makes, after the
// call, on the guest's goroutine. It must be safe for concurrent use (guest
// instances run in parallel) and should return quickly: the guest waits.
// The slog logger of [LogObserver] and the Prometheus collector of package
// metrics are Observers; [Observers] feeds several.
type Observer interface {
	Observe(ctx context.Context, ev Event)
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(ctx context.Context, ev Event)

// Observe implements Observer.
func (f ObserverFunc) Observe(ctx context.Context, ev Event) { f(ctx, ev) }

// Event describes one host call. It holds no guest data: no key bytes, no
// message, no name the guest passed that is not a registered algorithm.
type Event struct {
	// Guest is the guest that called, as the embedder named it to
	// InstantiateGuest; the zero Guest for an anonymous guest.
	Guest provider.Guest
	// Module is the host module: ModuleName or KeysModuleName.
	Module string
	// Function is the host function, as the guest imports it
	// ("sign", "hash_update").
	Function string
	// Algorithm is the algorithm the call worked with: that of the state
	// or key the call names, or of the algorithm name it passes. It is ""
	// when the call named no valid handle and no registered algorithm.
	Algorithm string
	// Backend is the name of the backend that holds the key or runs the
	// hash ("pkcs11", "software"), or "" when no backend is involved yet
	// (generate_key_prepare and its setters) or the call named nothing
	// valid. For hashes it is the router's choice ([provider.Router.Route]);
	// with a Provider that is not a router, hashes have no backend.
	Backend string
	// Errno is what the call answered; ErrnoSuccess is 0.
	Errno Errno
	// Duration is the time the call's body took, without waiting for the
	// instance's lock.
	Duration time.Duration
}

// Errno is an errno a host call answers (docs/semantics.md#errors); the values
// and names are package spec's.
type Errno uint32

// ErrnoSuccess is the errno of a call that succeeded.
const ErrnoSuccess = Errno(abi.ErrnoSuccess)

// String returns the spec's name of the errno ("success", "badf", "io"),
// or "errno(N)" for a value the contract does not name.
func (e Errno) String() string { return abi.Errno(e).String() }

// Observers returns an Observer that passes each event to every non-nil
// one of obs, in order; nil when there is none, so that the host keeps its
// unobserved fast path.
func Observers(obs ...Observer) Observer {
	var live multiObserver
	for _, o := range obs {
		if o != nil {
			live = append(live, o)
		}
	}
	switch len(live) {
	case 0:
		return nil
	case 1:
		return live[0]
	}
	return live
}

type multiObserver []Observer

func (m multiObserver) Observe(ctx context.Context, ev Event) {
	for _, o := range m {
		o.Observe(ctx, ev)
	}
}

// LogObserver returns an Observer that logs every call to logger with the
// message "host call" and the attributes guest, function, algorithm,
// backend, errno and latency. Successful calls, and failures that are the
// guest's own (badf, inval, badmsg, ...), are logged at Debug; a managed
// key refused to the guest (access) at Info; failures of the backend (io,
// timedout, nfile, nomem, notrecoverable) at Warn. Nothing is formatted
// when the logger does not want the level.
func LogObserver(logger *slog.Logger) Observer {
	if logger == nil {
		return nil
	}
	return logObserver{logger}
}

type logObserver struct{ l *slog.Logger }

func (o logObserver) Observe(ctx context.Context, ev Event) {
	level := errnoLevel(ev.Errno)
	if !o.l.Enabled(ctx, level) {
		return
	}
	o.l.LogAttrs(ctx, level, "host call",
		slog.String("guest", ev.Guest.Name),
		slog.String("function", ev.Function),
		slog.String("algorithm", ev.Algorithm),
		slog.String("backend", ev.Backend),
		slog.String("errno", ev.Errno.String()),
		slog.Duration("latency", ev.Duration))
}

// errnoLevel is the log level of a call that answered e.
func errnoLevel(e Errno) slog.Level {
	switch abi.Errno(e) {
	case abi.ErrnoIO, abi.ErrnoTimedout, abi.ErrnoNfile, abi.ErrnoNomem, abi.ErrnoNotrecoverable:
		return slog.LevelWarn
	case abi.ErrnoAccess:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// observedFunc is a host function with what the observer needs to know
// about its parameters, found from their names once, at Instantiate.
type observedFunc struct {
	module string
	name   string
	body   func(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno
	// subject is the parameter holding the handle the call acts on
	// ("state", "private_key"), or -1.
	subject int
	// algName is the parameter holding the pointer of an algorithm name
	// (its length follows), or -1.
	algName int
	// out is the out pointer of the handle the call creates, or -1.
	out int
}

func newObservedFunc(module string, f hostFunc) *observedFunc {
	o := &observedFunc{module: module, name: f.name, body: f.body, subject: -1, algName: -1, out: -1}
	for i, p := range f.params {
		switch {
		case (p == "state" || p == "private_key") && o.subject < 0:
			o.subject = i
		case p == "algorithm":
			o.algName = i
		case strings.HasPrefix(p, "out_") && p != "out_len" && o.out < 0:
			o.out = i
		}
	}
	return o
}

// adaptObserved is adapt for a host with an Observer: the same call,
// described and timed, then reported.
func (h *Host) adaptObserved(module string, f hostFunc) api.GoModuleFunc {
	of := newObservedFunc(module, f)
	obs := h.opts.Observer
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		inst := h.instance(ctx, mod)
		ev := inst.observedCall(ctx, mod.Memory(), stack, of)
		stack[0] = uint64(ev.Errno)
		obs.Observe(ctx, ev)
	}
}

// observedCall runs the body as call does, and describes it.
func (in *instance) observedCall(ctx context.Context, mem api.Memory, stack []uint64, f *observedFunc) (ev Event) {
	ev = Event{Guest: in.guest, Module: f.module, Function: f.name}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		ev.Errno = Errno(abi.ErrnoBadf)
		return ev
	}
	p := args(stack)
	// Before the call: it may close or consume the handle it names.
	if f.subject >= 0 {
		ev.Algorithm, ev.Backend = in.describe(in.peek(p.u32(f.subject)))
	}
	if ev.Algorithm == "" && f.algName >= 0 {
		if r := p.rng(f.algName); guestmem.Valid(mem, r) {
			if a, ok := provider.LookupBytes(view(mem, r)); ok {
				ev.Algorithm = a.Name
			}
		}
	}
	start := time.Now()
	errno := f.body(in, ctx, mem, p)
	ev.Duration = time.Since(start)
	ev.Errno = Errno(errno)
	// After a call that created a handle: the new object says where it
	// lives (generate_key, private_key_open, hash_open).
	if errno == abi.ErrnoSuccess && f.out >= 0 && ev.Backend == "" {
		if h, ok := mem.ReadUint32Le(p.u32(f.out)); ok {
			v := in.peek(h)
			if s, ok := v.(*hashState); ok && s.backend == "" {
				s.backend = in.host.hashBackend(s.h)
			}
			if alg, backend := in.describe(v); alg != "" {
				ev.Algorithm, ev.Backend = alg, backend
			}
		}
	}
	return ev
}

// peek returns the object behind handle h, whatever its type, or nil.
func (in *instance) peek(h uint32) any {
	for typ := typeHash; typ <= typeDeriveKey; typ++ {
		if v, err := in.handles.Get(h, typ); err == nil {
			return v
		}
	}
	return nil
}

// describe returns the algorithm and backend of a handle's object.
func (in *instance) describe(v any) (alg, backend string) {
	switch s := v.(type) {
	case *hashState:
		return s.h.Algorithm().Name, s.backend
	case *keyRef:
		return s.key.Algorithm().Name, s.key.Backend()
	case *cipherState:
		return s.key.key.Algorithm().Name, s.key.key.Backend()
	case *signState:
		return s.key.key.Algorithm().Name, s.key.key.Backend()
	case *generateState:
		return s.alg.Name, ""
	case *deriveState:
		return s.alg.Name, s.key.key.Backend()
	}
	return "", ""
}

// backendNamer is a hash that knows its backend.
type backendNamer interface{ Backend() string }

// router is a Provider that tells where it runs what: [*provider.Router].
type router interface {
	Route(alg provider.Algorithm, op provider.Operation) (provider.Backend, provider.Support, error)
}

// hashBackend names the backend of a hash the provider opened: its own
// answer if it has one, else the router's choice for the algorithm, which
// is the one the router made when it opened the hash.
func (h *Host) hashBackend(hash provider.Hash) string {
	if n, ok := hash.(backendNamer); ok {
		return n.Backend()
	}
	if r, ok := h.provider.(router); ok {
		if b, _, err := r.Route(hash.Algorithm(), provider.OpHash); err == nil {
			return b.Name()
		}
	}
	return ""
}

// peek walks the handle types from typeHash to typeDeriveKey. This fails to
// compile when that range no longer holds the nine types of docs/semantics.md#handles (a
// type added or moved), so that peek is looked at again.
var _ = [1]struct{}{}[typeDeriveKey-typeHash-handles.Type(8)]
