package softfallback

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"unsafe"

	"github.com/wasihsm/wasihsm/provider"
)

// aeadKey is an A128GCM, A192GCM or A256GCM key. It keeps only the cipher:
// the raw key is zeroed as soon as the key schedule is built.
type aeadKey struct {
	keyBase
	gcm cipher.AEAD // nil once destroyed
}

var _ provider.AEADKey = (*aeadKey)(nil)

func newAEADKey(alg provider.Algorithm, input []byte) (*aeadKey, error) {
	raw := make([]byte, alg.KeySize)
	defer clear(raw)
	if input == nil {
		rand.Read(raw)
	} else if len(input) != alg.KeySize {
		return nil, errorf(alg, provider.ErrInvalidArgument, "import: key of %d bytes, want %d", len(input), alg.KeySize)
	} else {
		copy(raw, input)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, errorf(alg, provider.ErrInvalidArgument, "import: %v", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, errorf(alg, provider.ErrInvalidArgument, "import: %v", err)
	}
	k := &aeadKey{keyBase: keyBase{alg: alg}, gcm: gcm}
	k.wipe = func() { k.gcm = nil }
	return k, nil
}

// Seal implements provider.AEADKey. Inputs that overlap the output other
// than exactly (which cipher.AEAD would refuse with a panic) are copied
// first, so the result is the same as with separate buffers.
func (k *aeadKey) Seal(_ context.Context, dst, nonce, plaintext, aad []byte) ([]byte, error) {
	if err := k.acquire(); err != nil {
		return nil, err
	}
	defer k.release()
	if len(nonce) != k.alg.NonceSize {
		return nil, errorf(k.alg, provider.ErrInvalidArgument, "nonce of %d bytes, want %d", len(nonce), k.alg.NonceSize)
	}
	out := spare(dst, len(plaintext)+k.gcm.Overhead())
	plaintext, wipe := unaliased(out, plaintext)
	defer wipe()
	nonce, _ = separate(out, nonce)
	aad, _ = separate(out, aad)
	return k.gcm.Seal(dst, nonce, plaintext, aad), nil
}

// Open implements provider.AEADKey. When authentication fails it returns
// dst unchanged and an error wrapping provider.ErrAuthentication, and
// nothing else: the cause stays opaque.
func (k *aeadKey) Open(_ context.Context, dst, nonce, ciphertextAndTag, aad []byte) ([]byte, error) {
	if err := k.acquire(); err != nil {
		return dst, err
	}
	defer k.release()
	if len(nonce) != k.alg.NonceSize {
		return dst, errorf(k.alg, provider.ErrInvalidArgument, "nonce of %d bytes, want %d", len(nonce), k.alg.NonceSize)
	}
	if len(ciphertextAndTag) < k.gcm.Overhead() {
		return dst, errorf(k.alg, provider.ErrAuthentication, "open")
	}
	out := spare(dst, len(ciphertextAndTag)-k.gcm.Overhead())
	ciphertextAndTag, _ = unaliased(out, ciphertextAndTag)
	nonce, _ = separate(out, nonce)
	aad, _ = separate(out, aad)
	plain, err := k.gcm.Open(dst, nonce, ciphertextAndTag, aad)
	if err != nil {
		return dst, errorf(k.alg, provider.ErrAuthentication, "open")
	}
	return plain, nil
}

// spare returns the n bytes after len(dst) that cipher.AEAD writes into when
// dst has the capacity, or nil when it will allocate.
func spare(dst []byte, n int) []byte {
	if cap(dst)-len(dst) < n {
		return nil
	}
	return dst[len(dst) : len(dst)+n]
}

// unaliased returns in, or a copy of it when it overlaps out other than by
// starting at the same address (which cipher.AEAD handles, in place), with a
// function that zeroes the copy.
func unaliased(out, in []byte) ([]byte, func()) {
	if len(in) > 0 && len(out) > 0 && unsafe.SliceData(out) == unsafe.SliceData(in) {
		return in, func() {}
	}
	return separate(out, in)
}

// separate returns in, or a copy of it when it overlaps out at all, with a
// function that zeroes the copy. cipher.AEAD reads a nonce or additional
// data while it writes its output, so those must not overlap it.
func separate(out, in []byte) ([]byte, func()) {
	if len(out) == 0 || len(in) == 0 {
		return in, func() {}
	}
	o, i := uintptr(unsafe.Pointer(unsafe.SliceData(out))), uintptr(unsafe.Pointer(unsafe.SliceData(in)))
	if o+uintptr(len(out)) <= i || i+uintptr(len(in)) <= o {
		return in, func() {}
	}
	c := bytes.Clone(in)
	return c, func() { clear(c) }
}
