package guestmem

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// newMemory instantiates a module with one page (64 KiB) of memory: the
// smallest real wasm memory, so the bounds tests exercise wazero's own.
func newMemory(t *testing.T) api.Memory {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = r.Close(ctx) })
	// (module (memory (export "memory") 1))
	bin := []byte{0, 'a', 's', 'm', 1, 0, 0, 0,
		5, 3, 1, 0, 1, // memory section: 1 memory, min 1
		7, 10, 1, 6, 'm', 'e', 'm', 'o', 'r', 'y', 2, 0} // export "memory" mem 0
	mod, err := r.Instantiate(ctx, bin)
	require.NoError(t, err)
	return mod.Memory()
}

func TestValid(t *testing.T) {
	mem := newMemory(t)
	size := mem.Size()
	require.Equal(t, uint32(65536), size)
	tests := []struct {
		name string
		r    Range
		want bool
	}{
		{"empty at 0", Range{0, 0}, true},
		{"whole", Range{0, size}, true},
		{"last byte", Range{size - 1, 1}, true},
		{"empty at end", Range{size, 0}, true},
		{"empty past end", Range{size + 1, 0}, false},
		{"one past", Range{size - 1, 2}, false},
		{"overflow 2^32", Range{math.MaxUint32, 2}, false},
		{"max len", Range{0, math.MaxUint32}, false},
		{"max ptr", Range{math.MaxUint32, 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Valid(mem, tt.r))
			v, ok := View(mem, tt.r)
			assert.Equal(t, tt.want, ok)
			if ok {
				assert.Len(t, v, int(tt.r.Len))
			}
		})
	}
}

func TestViewAliasesMemory(t *testing.T) {
	mem := newMemory(t)
	v, ok := View(mem, Range{10, 4})
	require.True(t, ok)
	copy(v, "abcd")
	got, _ := mem.Read(10, 4)
	assert.Equal(t, "abcd", string(got))
}

func TestOverlap(t *testing.T) {
	tests := []struct {
		a, b Range
		want bool
	}{
		{Range{0, 10}, Range{10, 10}, false},
		{Range{0, 10}, Range{9, 10}, true},
		{Range{5, 1}, Range{0, 10}, true},
		{Range{0, 0}, Range{0, 10}, false},
		{Range{math.MaxUint32 - 1, 1}, Range{math.MaxUint32 - 1, 1}, true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Overlap(tt.a, tt.b), "%v %v", tt.a, tt.b)
		assert.Equal(t, tt.want, Overlap(tt.b, tt.a), "%v %v", tt.b, tt.a)
	}
}
