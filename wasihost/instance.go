package wasihost

import (
	"context"
	"errors"
	"sync"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost/internal/abi"
	"github.com/wasihsm/wasihsm/wasihost/internal/guestmem"
	"github.com/wasihsm/wasihsm/wasihost/internal/handles"
)

// The handle types of docs/semantics.md#handles. cipher_state_encrypted and
// cipher_state_decrypted have no handles of their own: no function returns
// them, and cipher_decrypt_end takes the decrypting handle.
const (
	typeHash handles.Type = iota + 1
	typeKey
	typeCipherInitial
	typeCipherEncrypting
	typeCipherDecrypting
	typeSignInitial
	typeSignSigning
	typeGenerateKey
	typeDeriveKey
)

// maxRetainedScratch is the largest scratch buffer an instance keeps between
// calls; a larger one (a big message) is dropped after use, so an idle
// instance holds little memory.
const maxRetainedScratch = 64 << 10

// instance is the state of one guest module instance.
type instance struct {
	host  *Host
	mod   api.Module
	guest provider.Guest

	mu      sync.Mutex // serialises the instance's calls
	closed  bool
	handles *handles.Table
	scratch []byte // output staging, reused
	// budget counts the host memory held for the guest (see
	// Options.MaxInstanceBytes). The retained scratch, at most
	// maxRetainedScratch bytes, is the instance's fixed cost and is not
	// charged; everything sized by the guest is.
	budget *provider.Budget
}

func newInstance(h *Host, mod api.Module, guest provider.Guest) *instance {
	return &instance{host: h, mod: mod, guest: guest, handles: handles.New(h.opts.MaxHandles),
		budget: provider.NewBudget(int64(h.opts.MaxInstanceBytes))}
}

// staging returns ctx carrying the instance's budget, for a call whose
// backend may stage memory of its own (docs/semantics.md#limits).
func (in *instance) staging(ctx context.Context) context.Context {
	return provider.WithBudget(ctx, in.budget)
}

// call runs a host function body under the instance lock. The deferred
// unlock matters: wazero turns a panic into a trap and then closes the
// module, whose close notifier takes this lock.
func (in *instance) call(ctx context.Context, mem api.Memory, stack []uint64, body func(*instance, context.Context, api.Memory, args) abi.Errno) abi.Errno {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return abi.ErrnoBadf // every handle was released
	}
	return body(in, ctx, mem, stack)
}

// close releases every handle; keys whose last reference goes are destroyed.
func (in *instance) close(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil
	}
	in.closed = true
	var errs []error
	for _, v := range in.handles.Drain() {
		errs = append(errs, closeObject(ctx, v))
	}
	in.scratch = nil
	err := errors.Join(errs...)
	if err != nil {
		in.host.opts.Logger.Error("wasihost: releasing instance", "guest", in.guest.Name, "err", err)
	}
	return err
}

// closer is implemented by every object a handle can hold.
type closer interface {
	close(ctx context.Context) error
}

func closeObject(ctx context.Context, v any) error {
	if c, ok := v.(closer); ok {
		return c.close(ctx)
	}
	return nil
}

// takeScratch returns a buffer of length 0 and capacity ≥ n for staging
// output; giveScratch hands it back.
func (in *instance) takeScratch(n int) []byte {
	if cap(in.scratch) < n {
		return make([]byte, 0, n)
	}
	return in.scratch[:0]
}

// dropScratch ends the use of a scratch buffer after a call that failed
// with err. After a timeout the buffer is left alone: the backend may have
// abandoned the call with its body still reading it (see hsm's
// tokenCall), and the backend keeps that memory charged until the body
// ends.
func (in *instance) dropScratch(b []byte, err error) {
	if !errors.Is(err, provider.ErrTimeout) {
		in.giveScratch(b)
	}
}

func (in *instance) giveScratch(b []byte) {
	clear(b[:cap(b)]) // it may have held plaintext or secrets
	if cap(b) <= maxRetainedScratch {
		in.scratch = b[:0]
	}
}

// keyRef is a key with the references to it: its handle, if still open, and
// each state that uses it (docs/semantics.md#handles: a state keeps its key alive).
type keyRef struct {
	key  provider.Key
	refs int
	// The nonce this key last encrypted with (docs/semantics.md#algorithms).
	lastNonce    [12]byte
	hasLastNonce bool
}

func (k *keyRef) retain() { k.refs++ }

func (k *keyRef) release(ctx context.Context) error {
	k.refs--
	if k.refs > 0 {
		return nil
	}
	return k.key.Destroy(ctx)
}

// close implements closer for the key handle.
func (k *keyRef) close(ctx context.Context) error { return k.release(ctx) }

// args gives typed access to the parameters on a host function's stack.
type args []uint64

func (a args) u32(i int) uint32 { return uint32(a[i]) }

func (a args) rng(i int) guestmem.Range {
	return guestmem.Range{Ptr: uint32(a[i]), Len: uint32(a[i+1])}
}

// hostFunc is one host function: its name, parameter names (for logs and
// traces), and its body. Bodies check in the order of docs/semantics.md#abi: handles
// (badf), then memory ranges (fault), then the algorithm (notsup), then the
// rest; they write guest memory only once nothing can fail any more.
type hostFunc struct {
	name   string
	params []string
	body   func(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno
}

func (f hostFunc) paramTypes() []api.ValueType {
	t := make([]api.ValueType, len(f.params))
	for i := range t {
		t[i] = api.ValueTypeI32
	}
	return t
}

// valid reports whether every range lies inside mem.
func valid(mem api.Memory, rs ...guestmem.Range) bool {
	for _, r := range rs {
		if !guestmem.Valid(mem, r) {
			return false
		}
	}
	return true
}

// view returns the guest bytes of a range that valid has checked.
func view(mem api.Memory, r guestmem.Range) []byte {
	b, _ := guestmem.View(mem, r)
	return b
}

// newHandle stores v under a new handle of type typ and writes it to the
// out pointer (already checked by valid). On failure it closes v.
func (in *instance) newHandle(ctx context.Context, mem api.Memory, out uint32, typ handles.Type, v any) abi.Errno {
	h, err := in.handles.Insert(typ, v)
	if err != nil {
		_ = closeObject(ctx, v)
		return abi.ToErrno(err)
	}
	mem.WriteUint32Le(out, h)
	return abi.ErrnoSuccess
}

// transition consumes handle h of type from, gives its value a new handle of
// type to and writes it to out (already checked by valid).
func (in *instance) transition(mem api.Memory, h uint32, from, to handles.Type, out uint32) (any, abi.Errno) {
	nh, v, err := in.handles.Transition(h, from, to)
	if err != nil {
		return nil, abi.ToErrno(err)
	}
	mem.WriteUint32Le(out, nh)
	return v, abi.ErrnoSuccess
}

// lookupAlg resolves an algorithm name from guest memory without
// allocating; kinds lists the kinds acceptable to the calling function.
func lookupAlg(name []byte, kinds ...provider.Kind) (provider.Algorithm, bool) {
	a, ok := provider.LookupBytes(name)
	if !ok {
		return provider.Algorithm{}, false
	}
	for _, k := range kinds {
		if a.Kind == k {
			return a, true
		}
	}
	return provider.Algorithm{}, false
}

// buffer is guest data a state holds (AAD, key input, HKDF salt or info,
// a peer key): its storage is charged to the instance's budget for its
// whole capacity until free.
type buffer struct {
	b      []byte
	budget *provider.Budget // that charged b's storage
}

// free zeroes the storage and gives its charge back.
func (buf *buffer) free() {
	clear(buf.b[:cap(buf.b)])
	buf.budget.Release(cap(buf.b))
	buf.b = nil
}

// setBuffer copies src into buf, reusing its storage when it is large
// enough. It answers msgsize when src is longer than the buffering limit
// of one state, and nomem when new storage would exceed the instance's
// budget; then buf is unchanged.
func (in *instance) setBuffer(buf *buffer, src []byte) abi.Errno {
	if len(src) > in.host.opts.MaxBufferedBytes {
		return abi.ErrnoMsgsize
	}
	if len(src) > cap(buf.b) {
		// Charged before it is allocated; the old storage is given back
		// only once the new one is held.
		if err := in.budget.Charge(len(src)); err != nil {
			return abi.ToErrno(err)
		}
		b := make([]byte, len(src))
		buf.free()
		buf.b, buf.budget = b, in.budget
	}
	clear(buf.b[:cap(buf.b)])
	buf.b = append(buf.b[:0], src...)
	return abi.ErrnoSuccess
}
