package testguest

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
)

// TestWithModuleName: wazero reads the name written, and a second rename
// replaces the first name section rather than adding one (which wazero
// refuses).
func TestWithModuleName(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	empty := []byte("\x00asm\x01\x00\x00\x00")
	for _, tc := range []struct {
		name string
		wasm []byte
	}{
		{"victim.wasm", WithModuleName(t, empty, "first.wasm")},
		{"", WithModuleName(t, empty, "first.wasm")},
		{"a-longer-name-" + string(make([]byte, 200)), empty},
	} {
		compiled, err := r.CompileModule(ctx, WithModuleName(t, tc.wasm, tc.name))
		if err != nil {
			t.Fatalf("%q: %v", tc.name, err)
		}
		if got := compiled.Name(); got != tc.name {
			t.Errorf("Name() = %q, want %q", got, tc.name)
		}
	}
}
