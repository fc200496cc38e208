// Package wasmtest encodes tiny WebAssembly modules for tests, so that host
// functions can be called from real wasm code without a wat2wasm tool.
//
// # Trampolines
//
// [Trampolines] builds a module that re-exports imported host functions as
// its own: a test calls "call_"+name through wazero, the call enters wasm
// and leaves it through the import, exactly as a compiled guest's call
// would, with the module's own memory as the caller's memory. The test reads
// and writes that memory directly to set up inputs and inspect outputs.
//
// The encoder imports nothing; it writes the binary format of the
// WebAssembly core specification 1.0 (section 5), and only the few
// constructs a trampoline needs.
package wasmtest

import "fmt"

// Import names one function a trampoline module imports. It takes Params
// i32 parameters and returns one i32.
type Import struct {
	Module string
	Name   string
	Params int
}

// Section ids, value types and opcodes of the binary format.
const (
	sectionType     = 1
	sectionImport   = 2
	sectionFunction = 3
	sectionMemory   = 5
	sectionExport   = 7
	sectionCode     = 10

	typeFunc = 0x60
	typeI32  = 0x7f

	externFunc   = 0x00
	externMemory = 0x02

	limitsMinMax = 0x01

	opLocalGet = 0x20
	opCall     = 0x10
	opEnd      = 0x0b

	// MaxPages is the most pages a wasm32 memory can have (4 GiB).
	MaxPages = 65536
)

// Trampolines returns a module that imports each function of imports (in
// that order, so import i is function index i), defines for each one a
// function of the same signature that passes its parameters to the import
// and returns its result, exported as "call_"+Name, and exports one memory
// "memory" of exactly memPages 64 KiB pages (min = max, so it cannot grow).
//
// It panics when two imports share a Name (their exports would collide),
// when a Params is negative, or when memPages exceeds MaxPages: these are
// mistakes in the test, not conditions to handle.
func Trampolines(imports []Import, memPages uint32) []byte {
	if memPages > MaxPages {
		panic(fmt.Sprintf("wasmtest: %d pages exceed the wasm32 limit of %d", memPages, MaxPages))
	}
	exported := make(map[string]bool, len(imports))

	// One type per distinct parameter count, in order of first use.
	typeOf := make(map[int]uint32)
	var types []byte
	var nTypes uint64
	for _, im := range imports {
		if im.Params < 0 {
			panic(fmt.Sprintf("wasmtest: %s.%s: negative parameter count", im.Module, im.Name))
		}
		if exported[im.Name] {
			panic(fmt.Sprintf("wasmtest: duplicate function name %q", im.Name))
		}
		exported[im.Name] = true
		if _, ok := typeOf[im.Params]; ok {
			continue
		}
		typeOf[im.Params] = uint32(nTypes)
		nTypes++
		types = append(types, typeFunc)
		types = AppendULEB128(types, uint64(im.Params))
		for range im.Params {
			types = append(types, typeI32)
		}
		types = append(types, 1, typeI32) // one i32 result
	}

	var imps, funcs, exports, code []byte
	n := uint64(len(imports))
	imps = AppendULEB128(imps, n)
	funcs = AppendULEB128(funcs, n)
	exports = AppendULEB128(exports, n+1)
	code = AppendULEB128(code, n)
	for i, im := range imports {
		t := uint64(typeOf[im.Params])
		imps = appendName(imps, im.Module)
		imps = appendName(imps, im.Name)
		imps = append(imps, externFunc)
		imps = AppendULEB128(imps, t)

		funcs = AppendULEB128(funcs, t)

		exports = appendName(exports, "call_"+im.Name)
		exports = append(exports, externFunc)
		exports = AppendULEB128(exports, n+uint64(i)) // defined functions follow the imports

		body := []byte{0} // no locals
		for p := range im.Params {
			body = append(body, opLocalGet)
			body = AppendULEB128(body, uint64(p))
		}
		body = append(body, opCall)
		body = AppendULEB128(body, uint64(i))
		body = append(body, opEnd)
		code = AppendULEB128(code, uint64(len(body)))
		code = append(code, body...)
	}
	exports = appendName(exports, "memory")
	exports = append(exports, externMemory, 0)

	mem := []byte{1, limitsMinMax}
	mem = AppendULEB128(mem, uint64(memPages))
	mem = AppendULEB128(mem, uint64(memPages))

	out := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	out = appendSection(out, sectionType, append(AppendULEB128(nil, nTypes), types...))
	out = appendSection(out, sectionImport, imps)
	out = appendSection(out, sectionFunction, funcs)
	out = appendSection(out, sectionMemory, mem)
	out = appendSection(out, sectionExport, exports)
	out = appendSection(out, sectionCode, code)
	return out
}

// AppendULEB128 appends v in unsigned LEB128, the encoding of every count,
// index and size in the binary format.
func AppendULEB128(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	b = AppendULEB128(b, uint64(len(s)))
	return append(b, s...)
}

func appendSection(b []byte, id byte, content []byte) []byte {
	b = append(b, id)
	b = AppendULEB128(b, uint64(len(content)))
	return append(b, content...)
}
