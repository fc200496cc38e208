package wasihost_test

import (
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestHugeLengthsAllocateNothing: for every host function and each of its
// (ptr, len) parameters, a length of 2^32-1 and a ptr+len that overflows
// 32 bits answer fault (the session's checker holds the rest of the
// contract: nothing written, no handle changed) before the host allocates
// anything of that size. A guest length is checked against the guest's
// memory before it sizes anything; the few dozen bytes a call costs are the
// checker's.
func TestHugeLengthsAllocateNothing(t *testing.T) {
	h := newABIHarness(t)
	s := h.newSession(t)
	defer s.close()
	fx := newFixture(s)
	const calls = 16
	const perCallLimit = 1 << 10
	tried := 0
	for _, fn := range h.funcs {
		base := fx.base(fn)
		for i, p := range fn.params {
			if p.role != rolePtr {
				continue
			}
			for _, r := range []struct {
				name     string
				ptr, len uint32
			}{
				{"len 2^32-1", 0, 0xffffffff},
				{"ptr+len overflows", 0xfffffff0, 0x20},
				{"ptr 2^32-1", 0xffffffff, 1},
			} {
				args := slices.Clone(base)
				args[i], args[i+1] = r.ptr, r.len
				// The checker's trace would grow inside the measurement:
				// start it over, with room for every call.
				s.trace = slices.Grow(s.trace[:0], calls+1)
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				for range calls {
					if e := s.call(fn, args...); e != fault {
						t.Fatalf("%s %s=%s: %s, want fault", fn.name, p.name, r.name, e)
					}
				}
				runtime.ReadMemStats(&m1)
				perCall := (m1.TotalAlloc - m0.TotalAlloc) / calls
				assert.Less(t, perCall, uint64(perCallLimit), "%s %s=%s: %d bytes allocated per call", fn.name, p.name, r.name, perCall)
				tried++
			}
		}
	}
	assert.Greater(t, tried, 3*20, "every range parameter of every function was tried")
	t.Logf("%d (function, range, bad value) cases, each answered fault allocating < %d bytes per call", tried, perCallLimit)
}
