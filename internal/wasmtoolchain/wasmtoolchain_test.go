package wasmtoolchain

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoot(t *testing.T) {
	root, err := Root()
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "guest", "c", "wasi_ephemeral_crypto.h"))
	assert.NoError(t, err)
}

// A C build is a wasm module, cached for the process; a broken source is
// an error of its own, never a missing toolchain (which would skip).
func TestBuildC(t *testing.T) {
	clang := NeedClang(t)
	wasm := C(t, "guest/c/examples/sha256sum.c")
	assert.True(t, bytes.HasPrefix(wasm, []byte("\x00asm")), "a wasm module")
	assert.Equal(t, &wasm[0], &C(t, "guest/c/examples/sha256sum.c")[0], "cached")

	root, err := Root()
	require.NoError(t, err)
	_, err = BuildC(clang, root, "guest/c/no-such-file.c")
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrMissing))
}

func TestBuildRust(t *testing.T) {
	cargo, err := Cargo()
	needs(t, err)
	root, err := Root()
	require.NoError(t, err)
	_, err = BuildRust(cargo, root, "guest/rust", "no-such-example")
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrMissing))
}
