//go:build wasip1

package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
)

// Limits the host is configured with for this guest (wasihost/contract_test.go).
const (
	hostMaxHandles  = 64
	hostMaxBuffered = 4096
)

// Addresses that are never inside linear memory, and a range that
// overflows 2^32.
const (
	badPtr      = 0xFFFF_FF00
	overflowPtr = 0xFFFF_FFF0
	overflowLen = 0x20
)

// arena is the memory every scenario passes to the host: a package-level
// array never moves, so its addresses stay valid across calls.
var (
	arena [8 << 20]byte
	top   int
)

func base() uint32 { return uint32(uintptr(unsafe.Pointer(&arena[0]))) }

// alloc returns n fresh bytes of the arena (8-aligned) and their address.
func alloc(n int) (uint32, []byte) {
	top = (top + 7) &^ 7
	if top+n > len(arena) {
		panic("contract guest: arena exhausted")
	}
	b := arena[top : top+n : top+n]
	a := base() + uint32(top)
	top += n
	return a, b
}

// put copies b into the arena and returns its address and length.
func put(b []byte) (uint32, uint32) {
	a, dst := alloc(len(b))
	copy(dst, b)
	return a, uint32(len(b))
}

func str(s string) (uint32, uint32) { return put([]byte(s)) }

// slot is a u32 out-parameter, pre-filled with a marker.
type slot struct {
	addr uint32
	b    []byte
}

const marker = 0xA5A5A5A5

func newSlot() slot {
	a, b := alloc(4)
	binary.LittleEndian.PutUint32(b, marker)
	return slot{a, b}
}

func (s slot) get() uint32     { return binary.LittleEndian.Uint32(s.b) }
func (s slot) untouched() bool { return s.get() == marker }

// buf is an output buffer pre-filled with a marker byte.
func buf(n int) (uint32, []byte) {
	a, b := alloc(n)
	for i := range b {
		b[i] = 0xA5
	}
	return a, b
}

func allMarker(b []byte) bool {
	for _, c := range b {
		if c != 0xA5 {
			return false
		}
	}
	return true
}

// T collects the failures of one scenario.
type T struct {
	name string
	errs []string
}

func (t *T) Errorf(format string, args ...any) {
	_, file, line, _ := runtime.Caller(1)
	if i := strings.LastIndexByte(file, '/'); i >= 0 {
		file = file[i+1:]
	}
	t.errs = append(t.errs, fmt.Sprintf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
}

// Expect checks an errno. what names the call, and the algorithm of a
// call that makes a key or opens a hash ("generate_key(HS256)"), so that
// the host grades a notsup for an algorithm the target cannot serve as
// notsup rather than failed (conformance/suite).
func (t *T) Expect(what string, got uint32, want wasicrypto.Errno) bool {
	if wasicrypto.Errno(got) != want {
		_, file, line, _ := runtime.Caller(1)
		if i := strings.LastIndexByte(file, '/'); i >= 0 {
			file = file[i+1:]
		}
		t.errs = append(t.errs, fmt.Sprintf("%s:%d: %s = %s, want %s", file, line, what, name(got), want.Error()))
		return false
	}
	return true
}

func name(e uint32) string {
	if e == 0 {
		return "success"
	}
	return wasicrypto.Errno(e).Error()
}

// Must fails the scenario at once when the errno is not success; what is
// as for Expect.
type fatal struct{}

func (t *T) Must(what string, got uint32) {
	if got != 0 {
		t.errs = append(t.errs, fmt.Sprintf("%s = %s, want success", what, name(got)))
		panic(fatal{})
	}
}

// sigLine reports a signature for the host to verify.
func sigLine(alg string, spki, msg, sig []byte) {
	fmt.Printf("sig %s %s %s %s\n", alg, hex.EncodeToString(spki), hex.EncodeToString(msg), hex.EncodeToString(sig))
}

type scenario struct {
	name string
	run  func(t *T)
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "-kat" {
		runKAT()
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "-list" {
		for _, s := range scenarios {
			fmt.Println(s.name)
		}
		return
	}
	only := map[string]bool{}
	for _, a := range os.Args[1:] {
		only[a] = true
	}
	failed := 0
	for _, s := range scenarios {
		if len(only) > 0 && !only[s.name] {
			continue
		}
		top = 0
		t := &T{name: s.name}
		func() {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(fatal); !ok {
						t.errs = append(t.errs, fmt.Sprintf("panic: %v", r))
					}
				}
			}()
			s.run(t)
		}()
		if len(t.errs) > 0 {
			failed++
			fmt.Printf("FAIL %s: %s\n", s.name, strings.Join(t.errs, "; "))
		} else {
			fmt.Printf("ok %s\n", s.name)
		}
	}
	if failed > 0 {
		os.Exit(1)
	}
}
