package wasmtest

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

func TestAppendULEB128(t *testing.T) {
	tests := []struct {
		v    uint64
		want []byte
	}{
		{0, []byte{0x00}},
		{1, []byte{0x01}},
		{127, []byte{0x7f}},
		{128, []byte{0x80, 0x01}},
		{255, []byte{0xff, 0x01}},
		{16383, []byte{0xff, 0x7f}},
		{16384, []byte{0x80, 0x80, 0x01}},
		{624485, []byte{0xe5, 0x8e, 0x26}}, // the example of the LEB128 article
		{65536, []byte{0x80, 0x80, 0x04}},
		{math.MaxUint32, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, AppendULEB128(nil, tt.v), "%d", tt.v)
		assert.Equal(t, append([]byte{0xaa}, tt.want...), AppendULEB128([]byte{0xaa}, tt.v), "appends")
	}
}

// TestTrampolinesGolden pins the encoding of the smallest trampoline
// module, written out by hand from the binary format.
func TestTrampolinesGolden(t *testing.T) {
	want := []byte{
		0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
		1, 6, 1, 0x60, 1, 0x7f, 1, 0x7f, // type: (func (param i32) (result i32))
		2, 7, 1, 1, 'm', 1, 'f', 0x00, 0, // import "m" "f" (func (type 0))
		3, 2, 1, 0, // function: one of type 0
		5, 4, 1, 0x01, 1, 1, // memory: min 1 max 1
		7, 19, 2, 6, 'c', 'a', 'l', 'l', '_', 'f', 0x00, 1, 6, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0, // exports
		10, 8, 1, 6, 0, 0x20, 0, 0x10, 0, 0x0b, // code: local.get 0; call 0; end
	}
	assert.Equal(t, want, Trampolines([]Import{{"m", "f", 1}}, 1))
}

// recorder is a host module function that records the arguments of its
// calls and answers a value derived from them and its own identity.
type recorder struct {
	id   uint32
	args [][]uint32
}

func (r *recorder) result(args []uint32) uint32 {
	v := r.id * 0x01000193
	for i, a := range args {
		v ^= a + uint32(i)*0x9e3779b9
	}
	return v
}

// TestTrampolines instantiates a module with enough imports that every count,
// index and size needs multi-byte LEB128, and calls every trampoline.
func TestTrampolines(t *testing.T) {
	ctx := context.Background()
	imports := []Import{
		{"env", "none", 0},
		{"env", "one", 1},
		{"other", "two", 2},
		{"env", "five", 5},
		{"env", "seven", 7},
	}
	for i := range 200 {
		imports = append(imports, Import{Module: fmt.Sprintf("m%d", i%3), Name: fmt.Sprintf("f%d", i), Params: i % 9})
	}

	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	recs := map[string]*recorder{}
	builders := map[string]wazero.HostModuleBuilder{}
	var order []string
	for i, im := range imports {
		b, ok := builders[im.Module]
		if !ok {
			b = rt.NewHostModuleBuilder(im.Module)
			builders[im.Module] = b
			order = append(order, im.Module)
		}
		rec := &recorder{id: uint32(i)}
		recs[im.Name] = rec
		params := make([]api.ValueType, im.Params)
		for p := range params {
			params[p] = api.ValueTypeI32
		}
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
			args := make([]uint32, len(params))
			for p := range args {
				args[p] = uint32(stack[p])
			}
			rec.args = append(rec.args, args)
			stack[0] = uint64(rec.result(args))
		}), params, []api.ValueType{api.ValueTypeI32}).Export(im.Name)
	}
	for _, name := range order {
		_, err := builders[name].Instantiate(ctx)
		require.NoError(t, err)
	}

	const pages = 3
	bin := Trampolines(imports, pages)
	compiled, err := rt.CompileModule(ctx, bin)
	require.NoError(t, err, "the runtime validates the module")
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig())
	require.NoError(t, err)

	assert.Len(t, compiled.ImportedFunctions(), len(imports))
	assert.Len(t, compiled.ExportedFunctions(), len(imports))
	for _, im := range imports {
		fn := mod.ExportedFunction("call_" + im.Name)
		require.NotNil(t, fn, im.Name)
		def := fn.Definition()
		require.Len(t, def.ParamTypes(), im.Params, im.Name)
		require.Equal(t, []api.ValueType{api.ValueTypeI32}, def.ResultTypes(), im.Name)

		// Distinct values, including ones with the sign bit set, so that a
		// swapped or truncated parameter shows.
		args := make([]uint64, im.Params)
		want := make([]uint32, im.Params)
		for p := range args {
			v := uint32(p+1)*0x10001 ^ 0x80000000*uint32(p%2)
			if p == 3 {
				v = math.MaxUint32
			}
			args[p], want[p] = uint64(v), v
		}
		res, err := fn.Call(ctx, args...)
		require.NoError(t, err, im.Name)
		rec := recs[im.Name]
		require.Len(t, rec.args, 1, "%s called once", im.Name)
		assert.Equal(t, want, rec.args[0], "%s args", im.Name)
		require.Len(t, res, 1)
		assert.Equal(t, uint64(rec.result(want)), res[0], "%s result", im.Name)
	}

	mem := mod.Memory()
	require.NotNil(t, mem)
	assert.Equal(t, uint32(pages*65536), mem.Size())
	memDef := compiled.ExportedMemories()["memory"]
	require.NotNil(t, memDef)
	assert.Equal(t, uint32(pages), memDef.Min())
	max, ok := memDef.Max()
	assert.True(t, ok)
	assert.Equal(t, uint32(pages), max)
	_, ok = mem.Grow(1)
	assert.False(t, ok, "min = max: the memory cannot grow")
}

func TestTrampolinesEmpty(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	mod, err := rt.Instantiate(ctx, Trampolines(nil, 0))
	require.NoError(t, err)
	assert.Equal(t, uint32(0), mod.Memory().Size())
	assert.Empty(t, mod.ExportedFunctionDefinitions())
}

func TestTrampolinesPanics(t *testing.T) {
	assert.Panics(t, func() { Trampolines([]Import{{"a", "f", 1}, {"b", "f", 1}}, 1) }, "duplicate name")
	assert.Panics(t, func() { Trampolines([]Import{{"a", "f", -1}}, 1) }, "negative params")
	assert.Panics(t, func() { Trampolines(nil, MaxPages+1) }, "too many pages")
	assert.NotPanics(t, func() { Trampolines(nil, MaxPages) })
}
