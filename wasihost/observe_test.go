package wasihost_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
	"github.com/wasihsm/wasihsm/wasihost/internal/wasmtest"
)

// recorder is an Observer that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []wasihost.Event
}

func (r *recorder) Observe(_ context.Context, ev wasihost.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

// observed is a guest made of trampolines, on a host with an Observer.
type observed struct {
	t   *testing.T
	ctx context.Context
	mod api.Module
}

// Guest memory of observed: inputs at fixed addresses, out pointers at
// outBase+4i, outputs from outputBase.
const (
	obsOutBase    = 0x1000
	obsOutputBase = 0x2000
)

func newObserved(t *testing.T, opts wasihost.Options) *observed {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	router, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
	require.NoError(t, err)
	host, err := wasihost.New(router, opts)
	require.NoError(t, err)
	require.NoError(t, host.Instantiate(ctx, rt))
	var imports []wasmtest.Import
	for _, f := range []struct {
		name   string
		params int
	}{
		{"hash_open", 3}, {"hash_update", 3}, {"hash_digest", 3}, {"hash_close", 1},
		{"generate_key_prepare", 3}, {"generate_key_set_input", 3}, {"generate_key", 2},
		{"sign_open", 4}, {"sign_begin", 2}, {"sign_update", 3}, {"sign", 3},
	} {
		imports = append(imports, wasmtest.Import{Module: wasihost.ModuleName, Name: f.name, Params: f.params})
	}
	imports = append(imports, wasmtest.Import{Module: wasihost.KeysModuleName, Name: "private_key_close", Params: 1})
	compiled, err := rt.CompileModule(ctx, wasmtest.Trampolines(imports, 1))
	require.NoError(t, err)
	mod, err := host.InstantiateGuest(ctx, rt, compiled, wazero.NewModuleConfig().WithName("tramp"),
		provider.Guest{Name: "observed-guest", SHA256: "abc"})
	require.NoError(t, err)
	return &observed{t: t, ctx: ctx, mod: mod}
}

// put writes b at addr and returns (addr, len) for a range parameter.
func (o *observed) put(addr uint32, b []byte) (uint64, uint64) {
	require.True(o.t, o.mod.Memory().Write(addr, b))
	return uint64(addr), uint64(len(b))
}

// call calls a function and returns its errno.
func (o *observed) call(name string, params ...uint64) uint32 {
	o.t.Helper()
	stack := make([]uint64, max(len(params), 1))
	copy(stack, params)
	require.NoError(o.t, o.mod.ExportedFunction("call_"+name).CallWithStack(o.ctx, stack))
	return uint32(stack[0])
}

// out reads out pointer i.
func (o *observed) out(i uint32) uint64 {
	v, ok := o.mod.Memory().ReadUint32Le(obsOutBase + 4*i)
	require.True(o.t, ok)
	return uint64(v)
}

// secretKey is an HS256 key the tests import: no log may show it.
var secretKey = []byte("0123456789abcdef-SECRET-KEY-BYTES")

// script makes a fixed sequence of calls, successes and failures, and
// returns the events the observer must have seen, in order.
func (o *observed) script() []wasihost.Event {
	const (
		sw  = softfallback.BackendName
		ok  = wasihost.ErrnoSuccess
		bad = wasihost.Errno(8)  // badf
		ns  = wasihost.Errno(58) // notsup
		inv = wasihost.Errno(28) // inval
	)
	sha, shaLen := o.put(0x100, []byte("SHA-256"))
	hs, hsLen := o.put(0x120, []byte("HS256"))
	nope, nopeLen := o.put(0x140, []byte("NOT-AN-ALGORITHM"))
	es, esLen := o.put(0x160, []byte("ES256"))
	msg, msgLen := o.put(0x200, []byte("guest data that must not be logged"))
	key, keyLen := o.put(0x300, secretKey)

	require.Zero(o.t, o.call("hash_open", sha, shaLen, obsOutBase))
	hash := o.out(0)
	require.Zero(o.t, o.call("hash_update", hash, msg, msgLen))
	require.Zero(o.t, o.call("hash_digest", hash, obsOutputBase, 32))
	require.Zero(o.t, o.call("hash_close", hash))
	require.EqualValues(o.t, bad, o.call("hash_update", hash, msg, msgLen))
	require.EqualValues(o.t, ns, o.call("hash_open", nope, nopeLen, obsOutBase))

	require.Zero(o.t, o.call("generate_key_prepare", hs, hsLen, obsOutBase+4))
	gen := o.out(1)
	require.Zero(o.t, o.call("generate_key_set_input", gen, key, keyLen))
	require.Zero(o.t, o.call("generate_key", gen, obsOutBase+8))
	k := o.out(2)
	require.EqualValues(o.t, inv, o.call("sign_open", es, esLen, k, obsOutBase+12)) // not the key's algorithm
	require.Zero(o.t, o.call("sign_open", hs, hsLen, k, obsOutBase+12))
	require.Zero(o.t, o.call("sign_begin", o.out(3), obsOutBase+16))
	st := o.out(4)
	require.Zero(o.t, o.call("sign_update", st, msg, msgLen))
	require.Zero(o.t, o.call("sign", st, obsOutputBase, 32))
	require.Zero(o.t, o.call("private_key_close", k))

	ev := func(fn, alg, backend string, e wasihost.Errno) wasihost.Event {
		mod := wasihost.ModuleName
		if strings.HasPrefix(fn, "private_key") {
			mod = wasihost.KeysModuleName
		}
		return wasihost.Event{Guest: provider.Guest{Name: "observed-guest", SHA256: "abc"}, Module: mod,
			Function: fn, Algorithm: alg, Backend: backend, Errno: e}
	}
	return []wasihost.Event{
		ev("hash_open", "SHA-256", sw, ok),
		ev("hash_update", "SHA-256", sw, ok),
		ev("hash_digest", "SHA-256", sw, ok),
		ev("hash_close", "SHA-256", sw, ok),
		ev("hash_update", "", "", bad),
		ev("hash_open", "", "", ns),
		ev("generate_key_prepare", "HS256", "", ok),
		ev("generate_key_set_input", "HS256", "", ok),
		ev("generate_key", "HS256", sw, ok),
		ev("sign_open", "HS256", sw, inv), // the key's, not the name's
		ev("sign_open", "HS256", sw, ok),
		ev("sign_begin", "HS256", sw, ok),
		ev("sign_update", "HS256", sw, ok),
		ev("sign", "HS256", sw, ok),
		ev("private_key_close", "HS256", sw, ok),
	}
}

func TestObserverEvents(t *testing.T) {
	rec := &recorder{}
	o := newObserved(t, wasihost.Options{Observer: rec})
	want := o.script()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.events, len(want))
	for i, got := range rec.events {
		assert.GreaterOrEqual(t, got.Duration.Nanoseconds(), int64(0), "event %d", i)
		got.Duration = 0
		assert.Equal(t, want[i], got, "event %d", i)
	}
}

func TestObserversFanOut(t *testing.T) {
	assert.Nil(t, wasihost.Observers())
	assert.Nil(t, wasihost.Observers(nil, nil))
	assert.Nil(t, wasihost.LogObserver(nil))
	a := &recorder{}
	assert.Same(t, a, wasihost.Observers(nil, a))
	b := &recorder{}
	var n int
	o := newObserved(t, wasihost.Options{Observer: wasihost.Observers(a, nil, b,
		wasihost.ObserverFunc(func(context.Context, wasihost.Event) { n++ }))})
	want := o.script()
	assert.Len(t, a.events, len(want))
	assert.Equal(t, a.events, b.events)
	assert.Equal(t, len(want), n)
}

func TestLogObserver(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  int // records: the script's calls logged at that level or above
	}{
		{slog.LevelDebug, 15},
		{slog.LevelInfo, 0}, // every failure in the script is the guest's own
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tt.level}))
			o := newObserved(t, wasihost.Options{Observer: wasihost.LogObserver(logger), Logger: logger})
			want := o.script()
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if tt.want == 0 {
				assert.Empty(t, strings.TrimSpace(buf.String()))
				return
			}
			require.Len(t, lines, tt.want)
			for i, line := range lines {
				var rec map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
				assert.Equal(t, "DEBUG", rec["level"])
				assert.Equal(t, "host call", rec["msg"])
				assert.Equal(t, "observed-guest", rec["guest"])
				assert.Equal(t, want[i].Function, rec["function"])
				assert.Equal(t, want[i].Algorithm, rec["algorithm"])
				assert.Equal(t, want[i].Backend, rec["backend"])
				assert.Equal(t, want[i].Errno.String(), rec["errno"])
				assert.IsType(t, float64(0), rec["latency"]) // nanoseconds
			}
			out := buf.String()
			for _, secret := range []string{string(secretKey), hex.EncodeToString(secretKey), "guest data", "NOT-AN-ALGORITHM"} {
				assert.NotContains(t, out, secret)
			}
		})
	}
}

func TestErrnoString(t *testing.T) {
	for e, want := range map[wasihost.Errno]string{0: "success", 8: "badf", 29: "io", 9999: "errno(9999)"} {
		assert.Equal(t, want, e.String())
	}
}

// BenchmarkHostCallObserved is BenchmarkHostCall's hash_update with an
// Observer that does nothing: the cost of describing and timing a call.
func BenchmarkHostCallObserved(b *testing.B) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	b.Cleanup(func() { _ = rt.Close(ctx) })
	router, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
	require.NoError(b, err)
	host, err := wasihost.New(router, wasihost.Options{Observer: wasihost.ObserverFunc(func(context.Context, wasihost.Event) {})})
	require.NoError(b, err)
	require.NoError(b, host.Instantiate(ctx, rt))
	compiled, err := rt.CompileModule(ctx, wasmtest.Trampolines([]wasmtest.Import{
		{Module: wasihost.ModuleName, Name: "hash_open", Params: 3},
		{Module: wasihost.ModuleName, Name: "hash_update", Params: 3},
	}, 1))
	require.NoError(b, err)
	mod, err := host.InstantiateGuest(ctx, rt, compiled, wazero.NewModuleConfig(), provider.Guest{Name: "bench"})
	require.NoError(b, err)
	require.True(b, mod.Memory().Write(0, []byte("SHA-256")))
	stack := []uint64{0, 7, 64}
	require.NoError(b, mod.ExportedFunction("call_hash_open").CallWithStack(ctx, stack))
	require.Zero(b, stack[0])
	state, _ := mod.Memory().ReadUint32Le(64)
	fn := mod.ExportedFunction("call_hash_update")
	stack = make([]uint64, 3)
	b.ReportAllocs()
	for b.Loop() {
		stack[0], stack[1], stack[2] = uint64(state), 128, 0
		if err := fn.CallWithStack(ctx, stack); err != nil || stack[0] != 0 {
			b.Fatalf("errno %d, err %v", stack[0], err)
		}
	}
}
