package wasihost_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/wasihost/internal/abi"
)

// Fuzzing the ABI: the fuzz targets drive the harness of abi_test.go, whose
// checker holds every call to the contract (see session.call). The work of
// one input is bounded: at most maxSteps calls, each on at most the one
// page of guest memory (64 KiB), and no algorithm name in memory that makes
// a slow key (RSA) unless a poke writes one.
//
// An input names functions by their place in name order and pre-placed
// inputs by their place in abiData's list: a new host function changes what
// committed corpus files (testdata/fuzz/) do, but they stay valid inputs.

const (
	maxSteps = 64
	// opPoke, as a step's first byte, writes bytes of the input into the
	// poke area instead of calling a function: names and DER that no
	// pre-placed input has.
	opPoke = 0xff
	// recentSpans is how many ranges a step may refer back to.
	recentSpans = 16
)

// Values that sit on the edges of the checks.
var (
	interesting     = []uint32{0, 1, 12, 16, 32, 64, abiMemSize, abiMemSize - 1, 0xffffffff, 0xfffffff0, 0x80000000}
	interestingLens = []uint32{0, 1, 4, 12, 15, 16, 17, 32, 33, 64, 65, 100, 132, 255 * 32, 255*32 + 1,
		abiMaxBuffered, abiMaxBuffered + 1, abiMemSize, 0xffffffff, 0xfffffff0, 0x80000000}
)

// decoder reads a call sequence from fuzz input; past its end it reads
// zeros, so that every input decodes.
type decoder struct {
	b      []byte
	recent []span
}

func (d *decoder) u8() byte {
	if len(d.b) == 0 {
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) u16() uint32 { return uint32(d.u8()) | uint32(d.u8())<<8 }
func (d *decoder) u32() uint32 { return d.u16() | d.u16()<<16 }

func pick[T any](d *decoder, from []T) T { return from[int(d.u8())%len(from)] }

// handle: mostly one the sequence received (open, closed or consumed).
func (d *decoder) handle(pool []uint32) uint32 {
	switch sel := d.u8() % 8; {
	case sel < 5 && len(pool) > 0:
		return pick(d, pool)
	case sel < 6:
		return uint32(d.u8())
	case sel == 6:
		return pick(d, interesting)
	default:
		return d.u32()
	}
}

func (d *decoder) length() uint32 {
	switch d.u8() % 4 {
	case 0:
		return uint32(d.u8())
	case 1:
		return pick(d, interestingLens)
	case 2:
		return d.u16()
	default:
		return d.u32()
	}
}

// span: a pre-placed input, a buffer in the scratch or poke area, a range
// used before (exactly, or shifted and resized: overlaps), one near the end
// of memory, or edge and raw values.
func (d *decoder) span() span {
	var s span
	switch sel := d.u8() % 8; {
	case sel < 3:
		s = pick(d, abiData().inputs).at
	case sel == 3:
		off := d.u16()
		if off&1 == 0 {
			s = span{scratchBase + (off>>1)%scratchSize, 0}
		} else {
			s = span{pokeBase + (off>>1)%pokeSize, 0}
		}
		s.len = d.length()
	case sel == 4 && len(d.recent) > 0:
		s = d.recent[len(d.recent)-1-int(d.u8())%len(d.recent)]
	case sel == 5 && len(d.recent) > 0:
		r := d.recent[len(d.recent)-1-int(d.u8())%len(d.recent)]
		s = span{r.ptr + uint32(d.u8()%32) - 16, d.length()}
	case sel == 6:
		if sub := d.u8(); sub&1 == 1 {
			s = span{abiMemSize - uint32(sub>>1), d.length()}
		} else {
			s = span{pick(d, interesting), pick(d, interestingLens)}
		}
	default:
		s = span{d.u32(), d.u32()}
	}
	d.remember(s)
	return s
}

// out: an out slot mostly, else edges, inside a range of this or an
// earlier call, or raw.
func (d *decoder) out() uint32 {
	switch sel := d.u8() % 8; {
	case sel < 4:
		return outSlotBase + 4*(uint32(d.u8())%outSlots)
	case sel == 4:
		return pick(d, interesting)
	case sel == 5:
		return abiMemSize - uint32(d.u8()%8)
	case sel == 6 && len(d.recent) > 0:
		r := d.recent[len(d.recent)-1-int(d.u8())%len(d.recent)]
		return r.ptr + uint32(d.u8()%16)
	default:
		return d.u32()
	}
}

func (d *decoder) remember(s span) {
	if len(d.recent) == recentSpans {
		d.recent = append(d.recent[:0], d.recent[1:]...)
	}
	d.recent = append(d.recent, s)
}

// run decodes data into at most maxSteps steps and runs them in s.
func (s *session) run(data []byte) {
	s.tb.Helper()
	d := &decoder{b: data}
	args := make([]uint32, 0, 8)
	for step := 0; step < maxSteps && len(d.b) > 0; step++ {
		op := d.u8()
		if op == opPoke {
			at := pokeBase + uint32(d.u8())
			n := min(int(d.u8()%33), len(d.b))
			copy(s.mem[at:], d.b[:n])
			d.b = d.b[n:]
			continue
		}
		fn := s.h.funcs[int(op)%len(s.h.funcs)]
		args = args[:0]
		for i := 0; i < len(fn.params); i++ {
			switch fn.params[i].role {
			case roleHandle:
				args = append(args, d.handle(s.pool))
			case rolePtr:
				r := d.span()
				args = append(args, r.ptr, r.len)
				i++
			case roleOut:
				args = append(args, d.out())
			}
		}
		s.call(fn, args...)
	}
}

// FuzzHostABI runs generated call sequences on a fresh instance each; the
// session's checker holds every call to the contract, and after the
// sequence nothing may outlive the instance.
func FuzzHostABI(f *testing.F) {
	h := newABIHarness(f)
	for _, seed := range hostABISeeds(h) {
		f.Add(seed.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := h.newSession(t)
		defer s.close()
		s.run(data)
	})
}

// FuzzRandomArgs calls one function with random arguments on a fresh
// instance that holds a handle of every type (a fixture: handle values are
// the same in every instance, so small random values hit them).
func FuzzRandomArgs(f *testing.F) {
	h := newABIHarness(f)
	s := h.newSession(f)
	fx := newFixture(s)
	for _, fn := range h.funcs {
		var a [5]uint32
		copy(a[:], fx.base(fn))
		f.Add(uint8(fn.index), a[0], a[1], a[2], a[3], a[4])
		a[len(fn.params)-1] = 0xffffffff
		f.Add(uint8(fn.index), a[0], a[1], a[2], a[3], a[4])
	}
	s.close()
	f.Fuzz(func(t *testing.T, fn uint8, a0, a1, a2, a3, a4 uint32) {
		s := h.newSession(t)
		defer s.close()
		newFixture(s)
		hf := h.funcs[int(fn)%len(h.funcs)]
		s.call(hf, []uint32{a0, a1, a2, a3, a4}[:len(hf.params)]...)
	})
}

// A seed is a call sequence in the decoder's encoding, with the errno each
// call must answer, so that TestHostABISeeds can check that the seeds
// reach what they claim to.
type hostABISeed struct {
	name  string
	data  []byte
	wants []abi.Errno
}

// seedBuilder writes call sequences in the decoder's encoding. Handles are
// named by their place in the pool: the n-th handle the sequence received.
type seedBuilder struct {
	h    *abiHarness
	seed hostABISeed
}

type seedArg []byte

// argPool is the n-th handle received; argHandle a handle value.
func argPool(n int) seedArg      { return seedArg{0, byte(n)} }
func argHandle(v uint32) seedArg { return append(seedArg{7}, le(v)...) }

// argIn is a pre-placed input; argScratch a buffer of n bytes at off in
// the scratch area; argSpan any range.
func argIn(name string) seedArg {
	for i, x := range abiData().inputs {
		if x.name == name {
			return seedArg{0, byte(i)}
		}
	}
	panic("no input " + name)
}

func argScratch(off, n uint16) seedArg {
	return append(append(seedArg{3}, le16(off<<1)...), append(seedArg{2}, le16(n)...)...)
}
func argSpan(ptr, n uint32) seedArg { return append(append(seedArg{7}, le(ptr)...), le(n)...) }

// argSlot is out slot n; argOut any out pointer.
func argSlot(n int) seedArg   { return seedArg{0, byte(n)} }
func argOut(v uint32) seedArg { return append(seedArg{7}, le(v)...) }

func le(v uint32) []byte   { return binary.LittleEndian.AppendUint32(nil, v) }
func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

func (b *seedBuilder) build() hostABISeed { return b.seed }

func (b *seedBuilder) call(want abi.Errno, name string, args ...seedArg) *seedBuilder {
	fn := b.h.byName[name]
	if fn == nil {
		panic("no function " + name)
	}
	b.seed.data = append(b.seed.data, byte(fn.index))
	for _, a := range args {
		b.seed.data = append(b.seed.data, a...)
	}
	b.seed.wants = append(b.seed.wants, want)
	return b
}

func (b *seedBuilder) poke(at byte, data []byte) *seedBuilder {
	b.seed.data = append(append(b.seed.data, opPoke, at, byte(len(data))), data...)
	return b
}

// hostABISeeds are the meaningful sequences the fuzzer starts from.
func hostABISeeds(h *abiHarness) []hostABISeed {
	seq := func(name string) *seedBuilder { return &seedBuilder{h: h, seed: hostABISeed{name: name}} }
	limit := seq("handle limit")
	for i := range abiMaxHandles + 1 {
		want := success
		if i == abiMaxHandles {
			want = mfile
		}
		limit.call(want, "hash_open", argIn("SHA-256"), argSlot(i))
	}
	limit.call(success, "hash_close", argPool(0)).call(success, "hash_open", argIn("SHA-256"), argSlot(0))
	return []hostABISeed{
		seq("hash").
			call(success, "hash_open", argIn("SHA-256"), argSlot(0)).
			call(success, "hash_update", argPool(0), argIn("msg")).
			call(success, "hash_digest", argPool(0), argScratch(0, 32)).
			call(success, "hash_digest", argPool(0), argScratch(0x40, 16)).
			call(success, "hash_close", argPool(0)).
			call(badf, "hash_update", argPool(0), argIn("msg")).
			call(success, "hash_open", argIn("SHAKE128"), argSlot(1)).
			call(success, "hash_digest", argPool(1), argScratch(0x100, 1000)).
			build(),
		seq("aes-gcm roundtrip").
			call(success, "generate_key_prepare", argIn("A128GCM"), argSlot(0)).
			call(success, "generate_key", argPool(0), argSlot(1)). // key: pool 1
			call(success, "cipher_open", argPool(1), argSlot(2)).
			call(success, "cipher_set_nonce", argPool(2), argIn("nonce12")).
			call(success, "cipher_set_auth_data", argPool(2), argIn("aad")).
			call(success, "cipher_encrypt_begin", argPool(2), argSlot(3)).
			call(success, "cipher_encrypt", argPool(3), argIn("msg"), argScratch(0x100, 100)).
			call(success, "cipher_encrypt_end", argPool(3), argSlot(4)).
			call(success, "cipher_get_auth_tag", argPool(4), argScratch(0x200, 16)).
			call(success, "cipher_set_nonce", argPool(4), argIn("nonce12")).
			call(success, "cipher_set_auth_tag", argPool(4), argScratch(0x200, 16)).
			call(success, "cipher_decrypt_begin", argPool(4), argSlot(5)).
			call(success, "cipher_decrypt", argPool(5), argScratch(0x100, 100), argScratch(0x300, 100)).
			call(success, "cipher_decrypt_end", argPool(5), argSlot(6)).
			call(inval, "cipher_encrypt_begin", argPool(6), argSlot(7)). // nonce used up
			call(success, "cipher_close", argPool(6)).
			call(success, "private_key_close", argPool(1)).
			build(),
		seq("aes-gcm in place, bad tag").
			call(success, "generate_key_prepare", argIn("A256GCM"), argSlot(0)).
			call(success, "generate_key_set_input", argPool(0), argIn("key32")).
			call(success, "generate_key", argPool(0), argSlot(1)).
			call(success, "cipher_open", argPool(1), argSlot(2)).
			call(success, "cipher_set_nonce", argPool(2), argIn("nonce12b")).
			call(success, "cipher_encrypt_begin", argPool(2), argSlot(3)).
			call(success, "cipher_encrypt", argPool(3), argIn("msg"), argIn("msg")).
			call(success, "cipher_encrypt_end", argPool(3), argSlot(4)).
			call(success, "cipher_set_nonce", argPool(4), argIn("nonce12b")).
			call(success, "cipher_set_auth_tag", argPool(4), argIn("tag16")).
			call(success, "cipher_decrypt_begin", argPool(4), argSlot(5)).
			call(badmsg, "cipher_decrypt", argPool(5), argIn("msg"), argIn("msg")).
			call(success, "cipher_decrypt_end", argPool(5), argSlot(6)).
			build(),
		seq("es256 sign and export").
			call(success, "generate_key_prepare", argIn("ES256"), argSlot(0)).
			call(success, "generate_key_set_input", argPool(0), argIn("pkcs8-ES256")).
			call(success, "generate_key", argPool(0), argSlot(1)).
			call(success, "sign_open", argIn("ES256"), argPool(1), argSlot(2)).
			call(success, "sign_begin", argPool(2), argSlot(3)).
			call(success, "sign_update", argPool(3), argIn("msg")).
			call(success, "sign", argPool(3), argScratch(0x100, 64)).
			call(success, "sign_update", argPool(3), argIn("aad")).
			call(success, "sign", argPool(3), argScratch(0x200, 32)).
			call(success, "sign_end", argPool(3), argSlot(4)).
			call(success, "sign_close", argPool(4)).
			call(success, "private_key_export_public", argPool(1), argScratch(0x300, 256), argSlot(5)).
			call(rangeErr, "private_key_export_public", argPool(1), argScratch(0x400, 8), argSlot(6)).
			call(success, "private_key_close", argPool(1)).
			build(),
		seq("eddsa and hs256").
			call(success, "generate_key_prepare", argIn("EdDSA"), argSlot(0)).
			call(success, "generate_key_set_input", argPool(0), argIn("pkcs8-EdDSA")).
			call(success, "generate_key", argPool(0), argSlot(1)).
			call(success, "sign_open", argIn("EdDSA"), argPool(1), argSlot(2)).
			call(success, "sign_begin", argPool(2), argSlot(3)).
			call(success, "sign_update", argPool(3), argIn("msg")).
			call(success, "sign", argPool(3), argScratch(0x100, 64)).
			call(success, "generate_key_prepare", argIn("HS256"), argSlot(4)).
			call(success, "generate_key_set_input", argPool(4), argIn("key32")).
			call(success, "generate_key", argPool(4), argSlot(5)).
			call(success, "sign_open", argIn("HS256"), argPool(5), argSlot(6)).
			call(success, "sign_begin", argPool(6), argSlot(7)).
			call(success, "sign_update", argPool(7), argIn("msg")).
			call(success, "sign", argPool(7), argScratch(0x200, 32)).
			call(inval, "private_key_export_public", argPool(5), argScratch(0x300, 256), argSlot(8)).
			build(),
		seq("hkdf").
			call(success, "hash_open", argIn("SHA-256"), argSlot(0)).
			call(success, "generate_key_prepare", argIn("HKDF"), argSlot(1)).
			call(success, "generate_key_set_input", argPool(1), argIn("key32")).
			call(success, "generate_key_set_nonce", argPool(1), argIn("nonce12")).
			call(success, "generate_key_set_hash", argPool(1), argPool(0)).
			call(success, "generate_key", argPool(1), argSlot(2)).
			call(success, "derive_key_prepare", argIn("HKDF"), argPool(2), argSlot(3)).
			call(success, "derive_key_set_nonce", argPool(3), argIn("aad")).
			call(success, "derive_key_set_hash", argPool(3), argPool(0)).
			call(success, "derive_key", argPool(3), argScratch(0x100, 42)).
			call(badf, "derive_key", argPool(3), argScratch(0x100, 42)).
			build(),
		seq("key agreement").
			call(success, "generate_key_prepare", argIn("X25519"), argSlot(0)).
			call(success, "generate_key", argPool(0), argSlot(1)).
			call(success, "derive_key_prepare", argIn("X25519"), argPool(1), argSlot(2)).
			call(success, "derive_key_set_nonce", argPool(2), argIn("peer-X25519")).
			call(success, "derive_key", argPool(2), argScratch(0x100, 32)).
			call(success, "generate_key_prepare", argIn("ECDH-P256"), argSlot(3)).
			call(success, "generate_key_set_input", argPool(3), argIn("pkcs8-ECDH-P256")).
			call(success, "generate_key", argPool(3), argSlot(4)).
			call(success, "derive_key_prepare", argIn("ECDH-P256"), argPool(4), argSlot(5)).
			call(success, "derive_key_set_nonce", argPool(5), argIn("peer-P256")).
			call(success, "derive_key", argPool(5), argScratch(0x200, 32)).
			call(success, "private_key_export_public", argPool(4), argScratch(0x300, 256), argSlot(6)).
			build(),
		seq("managed key").
			call(success, "private_key_open", argIn("managed-es256"), argSlot(0)).
			call(success, "sign_open", argIn("ES256"), argPool(0), argSlot(1)).
			call(success, "private_key_close", argPool(0)). // the state keeps the key
			call(success, "sign_begin", argPool(1), argSlot(2)).
			call(success, "sign", argPool(2), argScratch(0, 64)).
			call(abi.ErrnoAccess, "private_key_open", argIn("denied"), argSlot(3)).
			call(abi.ErrnoNoent, "private_key_open", argIn("SHA-256"), argSlot(3)).
			build(),
		seq("faults").
			call(fault, "hash_open", argSpan(0xfffffff0, 0x20), argSlot(0)).
			call(fault, "hash_open", argIn("SHA-256"), argOut(abiMemSize-2)).
			call(success, "hash_open", argIn("SHA-256"), argSlot(0)).
			call(fault, "hash_update", argPool(0), argSpan(0, 0xffffffff)).
			call(fault, "hash_digest", argPool(0), argSpan(abiMemSize, 1)).
			call(badf, "hash_digest", argHandle(0), argSpan(abiMemSize, 1)).
			build(),
		seq("poked name").
			poke(0, []byte("SHA3-512")).
			call(success, "hash_open", argSpan(pokeBase, 8), argSlot(0)).
			call(success, "hash_digest", argPool(0), argScratch(0, 64)).
			build(),
		limit.build(),
	}
}

// TestHostABISeeds checks that each seed decodes to the calls it was
// written as: that the fuzzer starts from deep states.
func TestHostABISeeds(t *testing.T) {
	h := newABIHarness(t)
	for _, seed := range hostABISeeds(h) {
		t.Run(seed.name, func(t *testing.T) {
			s := h.newSession(t)
			defer s.close()
			s.run(seed.data)
			var got []abi.Errno
			for _, c := range s.trace {
				got = append(got, c.errno)
			}
			require.Equal(t, seed.wants, got, s.traceText())
		})
	}
}

// TestDecoderBounds: whatever the input, a sequence makes at most maxSteps
// calls.
func TestDecoderBounds(t *testing.T) {
	h := newABIHarness(t)
	s := h.newSession(t)
	defer s.close()
	data := make([]byte, 4096)
	for i := range data {
		data[i] = byte(i * 7) // hash_update/close/... with assorted arguments
	}
	s.run(data)
	assert.LessOrEqual(t, len(s.trace), maxSteps)
}
