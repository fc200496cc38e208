package guestabi

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/spec"
)

// The checked-in C header and Rust module are what the generator writes
// from the host and package spec today: a change to either that is not
// regenerated (make generate) fails here.
func TestGeneratedFilesAreFresh(t *testing.T) {
	files, err := Render(context.Background())
	require.NoError(t, err)
	require.Len(t, files, 2)
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(name)))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(got, want), "%s is stale: run make generate", name)
	}
}

// The host exports the 32 + 3 functions of docs/semantics.md#abi and
// #key-extension; each lowered parameter gets a kind, and each buffer its
// length right after it.
func TestImports(t *testing.T) {
	imports, err := Imports(context.Background())
	require.NoError(t, err)
	count := map[string]int{}
	seen := map[string]bool{}
	for _, imp := range imports {
		count[imp.Module]++
		seen[imp.Name] = true
		for i, p := range imp.Params {
			if p.Kind == String || p.Kind == Input || p.Kind == Output {
				require.Less(t, i+1, len(imp.Params), "%s.%s", imp.Name, p.Name)
				assert.Equal(t, Length, imp.Params[i+1].Kind, "%s: %s has its length next", imp.Name, p.Name)
			}
		}
	}
	assert.Equal(t, map[string]int{"wasi_ephemeral_crypto": 32, "wasi_ephemeral_crypto_keys": 3}, count)
	for _, name := range []string{"hash_open", "sign", "derive_key", "private_key_open", "cipher_decrypt_end"} {
		assert.True(t, seen[name], name)
	}

	byName := map[string]Import{}
	for _, imp := range imports {
		byName[imp.Name] = imp
	}
	kinds := func(name string) []ParamKind {
		var out []ParamKind
		for _, p := range byName[name].Params {
			out = append(out, p.Kind)
		}
		return out
	}
	assert.Equal(t, []ParamKind{String, Length, Out}, kinds("hash_open"))
	assert.Equal(t, []ParamKind{String, Length, Handle, Out}, kinds("sign_open"))
	assert.Equal(t, []ParamKind{Handle, Input, Length, Output, Length}, kinds("cipher_encrypt"))
	assert.Equal(t, []ParamKind{Handle, Output, Length, Out}, kinds("private_key_export_public"))
	assert.Equal(t, []ParamKind{Handle, Handle}, kinds("generate_key_set_hash"))
}

// Every entry of written names a buffer parameter of a host function, so
// that a renamed parameter cannot silently make an output const.
func TestWrittenNamesParameters(t *testing.T) {
	imports, err := Imports(context.Background())
	require.NoError(t, err)
	for _, w := range written {
		fn, param, _ := strings.Cut(w, ".")
		found := slices.ContainsFunc(imports, func(imp Import) bool {
			return imp.Name == fn && slices.ContainsFunc(imp.Params, func(p Param) bool { return p.Name == param && p.Kind == Output })
		})
		assert.True(t, found, "%s is no buffer of the host", w)
	}
}

// Every errno and algorithm of package spec is in both files, under its
// name and value.
func TestSpecInBothFiles(t *testing.T) {
	files, err := Render(context.Background())
	require.NoError(t, err)
	c, rs := string(files[HeaderFile]), string(files[RustFile])
	for _, e := range spec.Errnos() {
		assert.Contains(t, c, "#define WASI_CRYPTO_ERRNO_"+strings.ToUpper(e.Name())+" "+strconv.Itoa(int(e))+"\n")
		assert.Contains(t, rs, "pub const "+strings.ToUpper(e.Name())+": u32 = "+strconv.Itoa(int(e))+";")
	}
	for _, a := range spec.Algorithms() {
		assert.Contains(t, c, `"`+a.Name+`"`)
		assert.Contains(t, rs, `"`+a.Name+`"`)
	}
}
