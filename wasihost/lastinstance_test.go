package wasihost_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
	"github.com/wasihsm/wasihsm/wasihost/internal/abi"
	"github.com/wasihsm/wasihsm/wasihost/internal/wasmtest"
)

// TestInstanceLookup checks that the host's memo of the last caller never
// gives one instance another's state: two instances calling in turn each
// see their own handles, a closed instance's state is gone, and after
// Host.Close a guest starts over with an empty table rather than the
// closed one.
func TestInstanceLookup(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	router, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
	require.NoError(t, err)
	host, err := wasihost.New(router, wasihost.Options{})
	require.NoError(t, err)
	require.NoError(t, host.Instantiate(ctx, rt))
	compiled, err := rt.CompileModule(ctx, wasmtest.Trampolines([]wasmtest.Import{
		{Module: wasihost.ModuleName, Name: "hash_open", Params: 3},
		{Module: wasihost.ModuleName, Name: "hash_update", Params: 3},
	}, 1))
	require.NoError(t, err)
	instantiate := func(name string) api.Module {
		mod, err := host.InstantiateGuest(ctx, rt, compiled, wazero.NewModuleConfig().WithName(name), provider.Guest{Name: name})
		require.NoError(t, err)
		require.True(t, mod.Memory().Write(0, []byte("SHA-256")))
		return mod
	}
	call := func(mod api.Module, fn string, args ...uint64) abi.Errno {
		stack := append([]uint64(nil), args...)
		require.NoError(t, mod.ExportedFunction("call_"+fn).CallWithStack(ctx, stack))
		return abi.Errno(stack[0])
	}
	open := func(mod api.Module) uint64 {
		require.Equal(t, abi.ErrnoSuccess, call(mod, "hash_open", 0, 7, 64))
		h, _ := mod.Memory().ReadUint32Le(64)
		return uint64(h)
	}

	a, b := instantiate("a"), instantiate("b")
	ha := open(a)
	assert.Equal(t, abi.ErrnoBadf, call(b, "hash_update", ha, 128, 0), "b has no handle of a's")
	assert.Equal(t, abi.ErrnoSuccess, call(a, "hash_update", ha, 128, 0), "a still has its state after b's call")
	hb := open(b)
	assert.Equal(t, abi.ErrnoSuccess, call(b, "hash_update", hb, 128, 0))
	assert.Equal(t, abi.ErrnoSuccess, call(a, "hash_update", ha, 128, 0))

	require.NoError(t, host.Close(ctx))
	assert.Equal(t, abi.ErrnoBadf, call(a, "hash_update", ha, 128, 0), "Close released a's handles")
	assert.Equal(t, abi.ErrnoSuccess, call(a, "hash_open", 0, 7, 64), "after Close a starts over with a live, empty table")

	require.NoError(t, b.Close(ctx))
	c := instantiate("c")
	hc := open(c)
	assert.Equal(t, abi.ErrnoSuccess, call(c, "hash_update", hc, 128, 0))
}
