package wasihost_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
	"github.com/wasihsm/wasihsm/wasihost/internal/wasmtest"
)

// BenchmarkHostCall measures one host call from wasm, side by side with
// its baseline in the same run: a bare api.GoModuleFunc that does nothing
// (its goal in bench/RESULTS.md: at most 1.5× the bare import). Both
// go through the same trampoline, so the difference is the host's own cost:
// finding the instance, its lock, the handle lookup and the bounds checks.
func BenchmarkHostCall(b *testing.B) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	b.Cleanup(func() { _ = rt.Close(ctx) })
	_, err := rt.NewHostModuleBuilder("bench").NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) { stack[0] = 0 }),
			[]api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).
		Export("nop").Instantiate(ctx)
	require.NoError(b, err)
	router, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
	require.NoError(b, err)
	host, err := wasihost.New(router, wasihost.Options{})
	require.NoError(b, err)
	require.NoError(b, host.Instantiate(ctx, rt))
	wasm := wasmtest.Trampolines([]wasmtest.Import{
		{Module: "bench", Name: "nop", Params: 3},
		{Module: wasihost.ModuleName, Name: "hash_open", Params: 3},
		{Module: wasihost.ModuleName, Name: "hash_update", Params: 3},
		{Module: wasihost.ModuleName, Name: "hash_digest", Params: 3},
	}, 1)
	compiled, err := rt.CompileModule(ctx, wasm)
	require.NoError(b, err)
	mod, err := host.InstantiateGuest(ctx, rt, compiled, wazero.NewModuleConfig(), provider.Guest{Name: "bench"})
	require.NoError(b, err)
	mem := mod.Memory()
	require.True(b, mem.Write(0, []byte("SHA-256")))
	stack := []uint64{0, 7, 64}
	require.NoError(b, mod.ExportedFunction("call_hash_open").CallWithStack(ctx, stack))
	require.Zero(b, stack[0])
	state, _ := mem.ReadUint32Le(64)

	for _, bc := range []struct {
		name string
		fn   api.Function
		args []uint64
	}{
		{"bare-import", mod.ExportedFunction("call_nop"), []uint64{uint64(state), 128, 0}},
		{"hash_update-0B", mod.ExportedFunction("call_hash_update"), []uint64{uint64(state), 128, 0}},
		{"hash_update-64B", mod.ExportedFunction("call_hash_update"), []uint64{uint64(state), 128, 64}},
		{"hash_digest-32B", mod.ExportedFunction("call_hash_digest"), []uint64{uint64(state), 256, 32}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			stack := make([]uint64, 3)
			b.ReportAllocs()
			for b.Loop() {
				copy(stack, bc.args)
				if err := bc.fn.CallWithStack(ctx, stack); err != nil || stack[0] != 0 {
					b.Fatalf("errno %d, err %v", stack[0], err)
				}
			}
		})
	}
}
