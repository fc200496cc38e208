// Package guestmem checks and accesses guest linear memory by the rules of
// docs/semantics.md#memory: every (ptr, len) must lie wholly inside memory, including
// when ptr+len overflows 2^32, and nothing is written unless the whole call
// succeeds.
//
// Reads return views into guest memory, not copies: host functions copy only
// what a later write of the same call (an overlapping output) or a later
// guest call could change while the host still needs it.
package guestmem

import "github.com/tetratelabs/wazero/api"

// Range is a (ptr, len) pair from the guest.
type Range struct {
	Ptr, Len uint32
}

// End returns one past the range's last byte, in 64 bits so it cannot
// overflow.
func (r Range) End() uint64 { return uint64(r.Ptr) + uint64(r.Len) }

// Valid reports whether r lies wholly inside mem. A zero-length range is
// valid anywhere up to and including the end of memory.
func Valid(mem api.Memory, r Range) bool {
	return mem != nil && r.End() <= uint64(mem.Size())
}

// View returns the guest bytes of r, or false when r is not wholly inside
// mem. The slice aliases guest memory and is valid until the guest runs
// again (memory may grow then).
func View(mem api.Memory, r Range) ([]byte, bool) {
	if !Valid(mem, r) {
		return nil, false
	}
	if r.Len == 0 {
		return []byte{}, true
	}
	return mem.Read(r.Ptr, r.Len)
}

// Overlap reports whether two ranges share a byte.
func Overlap(a, b Range) bool {
	if a.Len == 0 || b.Len == 0 {
		return false
	}
	return uint64(a.Ptr) < b.End() && uint64(b.Ptr) < a.End()
}

// HandleOut is the 4-byte range where the host writes a new handle.
func HandleOut(ptr uint32) Range { return Range{Ptr: ptr, Len: 4} }
