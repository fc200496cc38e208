//go:build wasip1

package wasicrypto

import "unsafe"

// check turns the errno of host function fn into an error.
func check(fn string, e uint32) error {
	if e == 0 {
		return nil
	}
	return &CallError{Func: fn, Errno: Errno(e)}
}

// invalid is the error of an argument this package refuses before calling
// the host, with the errno the host would have given.
func invalid(op, detail string) error {
	return &CallError{Func: op, Detail: detail, Errno: ErrnoInval}
}

// bytesPtr is the address of b's first byte, nil for an empty b: the host
// accepts (0, 0) as an empty range.
func bytesPtr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

// stringPtr is bytesPtr for a string.
func stringPtr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

// size is a length as the ABI's u32. Linear memory is at most 4 GiB, so
// every length fits.
func size[T []byte | string](b T) uint32 { return uint32(len(b)) }
