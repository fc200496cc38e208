// Package guestabi writes the C header guest/c/wasi_ephemeral_crypto.h and
// the Rust module guest/rust/src/raw.rs from the one place where the
// project defines the contract: the imports are read from the host itself
// (the functions that wasihost exports, with their parameter names, in
// their order), the errnos and algorithms from package spec. Nothing in
// either file is typed by hand, so the C and Rust SDKs cannot drift from
// the host: TestGeneratedFilesAreFresh fails when a file differs from what
// [Render] gives, and `make generate` rewrites them.
//
// # Parameters
//
// Every parameter of the lowered ABI (docs/semantics.md#abi) is an i32.
// The generator gives each a C and Rust type from its name alone: a
// parameter named out_* is a pointer to a u32 the host writes; X followed
// by X_len is a buffer (a string for algorithm and name), read-only unless
// [written] lists it; X_len is its length; anything else is a handle.
package guestabi

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

// Files are the generated files, relative to the module root.
const (
	HeaderFile = "guest/c/wasi_ephemeral_crypto.h"
	RustFile   = "guest/rust/src/raw.rs"
)

// Import is one host function a guest imports.
type Import struct {
	Module string
	Name   string
	Params []Param
}

// Param is one lowered parameter.
type Param struct {
	Name string
	Kind ParamKind
}

// ParamKind says what a parameter carries.
type ParamKind int

// The kinds of parameter.
const (
	Handle ParamKind = iota // a handle (u32)
	String                  // the address of a UTF-8 string the host reads
	Input                   // the address of bytes the host reads
	Output                  // the address of bytes the host writes
	Length                  // the length of the buffer before it
	Out                     // the address of a little-endian u32 the host writes
)

// written are the buffers the host writes (docs/semantics.md#abi: the
// outputs of the functions), as function.parameter. Every other buffer is
// only read. TestWrittenNamesParameters checks each names a buffer.
var written = []string{
	"cipher_get_auth_tag.tag",
	"cipher_encrypt.ciphertext",
	"cipher_decrypt.plaintext",
	"hash_digest.digest",
	"sign.signature",
	"derive_key.output",
	"private_key_export_public.buf",
}

// stringParams are the buffers that carry text (an algorithm or a key name).
var stringParams = []string{"algorithm", "name"}

// Imports returns the functions that wasihost exports to guests, module
// by module (wasi_ephemeral_crypto, then wasi_ephemeral_crypto_keys), each
// in the host's order, with its parameters classified.
func Imports(ctx context.Context) ([]Import, error) {
	router, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
	if err != nil {
		return nil, fmt.Errorf("guestabi: %w", err)
	}
	host, err := wasihost.New(router, wasihost.Options{})
	if err != nil {
		return nil, fmt.Errorf("guestabi: %w", err)
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	if err := host.Instantiate(ctx, rt); err != nil {
		return nil, fmt.Errorf("guestabi: %w", err)
	}
	var out []Import
	for _, module := range []string{wasihost.ModuleName, wasihost.KeysModuleName} {
		mod := rt.Module(module)
		if mod == nil {
			return nil, fmt.Errorf("guestabi: the host has no module %s", module)
		}
		var defs []Import
		byIndex := map[string]uint32{}
		for name, def := range mod.ExportedFunctionDefinitions() {
			if n := len(def.ResultTypes()); n != 1 {
				return nil, fmt.Errorf("guestabi: %s.%s returns %d values, want the errno", module, name, n)
			}
			if len(def.ParamNames()) != len(def.ParamTypes()) {
				return nil, fmt.Errorf("guestabi: %s.%s: parameters without names", module, name)
			}
			params, err := classify(name, def.ParamNames())
			if err != nil {
				return nil, err
			}
			defs = append(defs, Import{Module: module, Name: name, Params: params})
			byIndex[name] = def.Index()
		}
		slices.SortFunc(defs, func(a, b Import) int { return int(byIndex[a.Name]) - int(byIndex[b.Name]) })
		out = append(out, defs...)
	}
	return out, nil
}

// classify gives each parameter of fn its kind (see the package
// documentation).
func classify(fn string, names []string) ([]Param, error) {
	params := make([]Param, len(names))
	for i, n := range names {
		params[i].Name = n
		switch {
		case strings.HasPrefix(n, "out_"):
			params[i].Kind = Out
		case strings.HasSuffix(n, "_len"):
			if i == 0 || names[i-1]+"_len" != n {
				return nil, fmt.Errorf("guestabi: %s: %s follows no buffer %s", fn, n, strings.TrimSuffix(n, "_len"))
			}
			params[i].Kind = Length
		case i+1 < len(names) && names[i+1] == n+"_len":
			switch {
			case slices.Contains(written, fn+"."+n):
				params[i].Kind = Output
			case slices.Contains(stringParams, n):
				params[i].Kind = String
			default:
				params[i].Kind = Input
			}
		default:
			params[i].Kind = Handle
		}
	}
	return params, nil
}

// Render returns the generated files, keyed by their path relative to the
// module root.
func Render(ctx context.Context) (map[string][]byte, error) {
	imports, err := Imports(ctx)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		HeaderFile: renderC(imports),
		RustFile:   renderRust(imports),
	}, nil
}
