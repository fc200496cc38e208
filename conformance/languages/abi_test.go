//go:build cgo

package languages_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasihsm/wasihsm/internal/guestabi"
	"github.com/wasihsm/wasihsm/internal/wasmtoolchain"
	"github.com/wasihsm/wasihsm/wasihost"
)

// TestImportsMatchHost: the C and Rust contract guests call every import
// (their -script mode dispatches to each), so their import sections are
// what the header and the crate lower to: each of the host's 35 functions,
// with as many i32 parameters as the host's and one i32 result.
func TestImportsMatchHost(t *testing.T) {
	ctx := context.Background()
	host, err := guestabi.Imports(ctx)
	require.NoError(t, err)
	params := map[string]int{}
	for _, imp := range host {
		params[imp.Module+"."+imp.Name] = len(imp.Params)
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	for _, g := range contractGuests {
		t.Run(g.lang, func(t *testing.T) {
			compiled, err := rt.CompileModule(ctx, g.build(t))
			require.NoError(t, err)
			seen := map[string]bool{}
			for _, f := range compiled.ImportedFunctions() {
				module, name, _ := f.Import()
				if module != wasihost.ModuleName && module != wasihost.KeysModuleName {
					continue
				}
				key := module + "." + name
				seen[key] = true
				n, ok := params[key]
				if !assert.True(t, ok, "%s is no function of the host", key) {
					continue
				}
				assert.Len(t, f.ParamTypes(), n, key)
				for _, p := range f.ParamTypes() {
					assert.Equal(t, api.ValueTypeI32, p, key)
				}
				assert.Equal(t, []api.ValueType{api.ValueTypeI32}, f.ResultTypes(), key)
			}
			assert.Len(t, seen, len(params), "the guest imports every function of the host")
		})
	}
}

// TestHeaderIsPortable: the header alone compiles as strict C99 and as
// C++11, warnings as errors.
func TestHeaderIsPortable(t *testing.T) {
	clang := wasmtoolchain.NeedClang(t)
	root, err := wasmtoolchain.Root()
	require.NoError(t, err)
	dir := t.TempDir()
	src := filepath.Join(dir, "use.c")
	require.NoError(t, writeFile(src, `#include "wasi_ephemeral_crypto.h"
int use(void) {
	uint8_t d[WASI_CRYPTO_SIZE_SHA_256];
	return (int)wasi_crypto_hash(WASI_CRYPTO_ALG_SHA_256, "x", 1, d, sizeof d);
}
`))
	for _, lang := range [][]string{{"-x", "c", "-std=c99", "-pedantic"}, {"-x", "c++", "-std=c++11"}} {
		args := append([]string{"--target=wasm32-wasi", "-Wall", "-Wextra", "-Werror", "-c", "-I", filepath.Join(root, "guest", "c"),
			"-o", filepath.Join(dir, "use.o")}, lang...)
		out, err := exec.Command(clang, append(args, src)...).CombinedOutput()
		assert.NoError(t, err, "%v: %s", lang, out)
	}
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }
