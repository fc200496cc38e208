//go:build wasip1

package wasicrypto

import (
	"crypto/cipher"
	"errors"

	"github.com/wasihsm/wasihsm/guest/wasicrypto/internal/abi"
)

// The AES-GCM parameters of the contract (docs/semantics.md#algorithms).
const (
	// NonceSize is the nonce length of every AEAD key, in bytes.
	NonceSize = 12
	// TagSize is the authentication tag length, in bytes.
	TagSize = 16
)

var _ cipher.AEAD = (*AEAD)(nil)

// An AEAD encrypts and authenticates with an A128GCM, A192GCM or A256GCM
// key on the host. If the host fails to end an encryption or decryption,
// the AEAD loses its state and later calls fail with badf. [AEAD.Encrypt] and [AEAD.Decrypt] keep the ciphertext and
// the tag apart and return every error; [AEAD.Seal] and [AEAD.Open] make it
// a [cipher.AEAD] with the tag appended to the ciphertext, as crypto/cipher's
// GCM does.
//
// The host refuses to encrypt twice in a row with the same nonce under the
// same key; nonces remain the caller's duty, as with any GCM.
type AEAD struct {
	state uint32 // a cipher_state_initial handle; begin/end replace it
}

// NewAEAD opens a cipher state for key.
func NewAEAD(key *Key) (*AEAD, error) {
	var state uint32
	if err := check("cipher_open", abi.CipherOpen(key.Handle(), &state)); err != nil {
		return nil, err
	}
	return &AEAD{state: state}, nil
}

// NonceSize returns [NonceSize].
func (a *AEAD) NonceSize() int { return NonceSize }

// Overhead returns [TagSize]: how much longer Seal's output is than the
// plaintext.
func (a *AEAD) Overhead() int { return TagSize }

// Encrypt encrypts and authenticates plaintext and authenticates
// additionalData, and returns the ciphertext (as long as the plaintext) and
// the tag. nonce must be [NonceSize] bytes.
func (a *AEAD) Encrypt(nonce, plaintext, additionalData []byte) (ciphertext, tag []byte, err error) {
	ciphertext = make([]byte, len(plaintext))
	tag = make([]byte, TagSize)
	if err := a.encrypt(ciphertext, tag, nonce, plaintext, additionalData); err != nil {
		return nil, nil, err
	}
	return ciphertext, tag, nil
}

// encrypt writes the ciphertext of plaintext into ct (which may overlap
// plaintext, docs/semantics.md#memory) and the tag into tag.
func (a *AEAD) encrypt(ct, tag, nonce, plaintext, additionalData []byte) error {
	if err := a.setup(nonce, additionalData); err != nil {
		return err
	}
	var encrypting uint32
	if err := check("cipher_encrypt_begin", abi.CipherEncryptBegin(a.state, &encrypting)); err != nil {
		return err
	}
	a.state = 0
	encErr := check("cipher_encrypt", abi.CipherEncrypt(encrypting, bytesPtr(plaintext), size(plaintext), bytesPtr(ct), size(ct)))
	// End the encryption whatever happened, to get the cipher state back.
	if err := check("cipher_encrypt_end", abi.CipherEncryptEnd(encrypting, &a.state)); err != nil {
		return err
	}
	if encErr != nil {
		return encErr
	}
	return check("cipher_get_auth_tag", abi.CipherGetAuthTag(a.state, bytesPtr(tag), size(tag)))
}

// Decrypt checks tag and decrypts ciphertext, authenticating
// additionalData too. A failed authentication is [ErrnoBadmsg], with no
// hint of which input was wrong.
func (a *AEAD) Decrypt(nonce, ciphertext, tag, additionalData []byte) ([]byte, error) {
	plaintext := make([]byte, len(ciphertext))
	if err := a.decrypt(plaintext, nonce, ciphertext, tag, additionalData); err != nil {
		return nil, err
	}
	return plaintext, nil
}

// decrypt writes the plaintext of ct into pt (which may overlap ct). On
// failure pt holds no decrypted byte.
func (a *AEAD) decrypt(pt, nonce, ct, tag, additionalData []byte) error {
	if err := a.setup(nonce, additionalData); err != nil {
		return err
	}
	if err := check("cipher_set_auth_tag", abi.CipherSetAuthTag(a.state, bytesPtr(tag), size(tag))); err != nil {
		return err
	}
	var decrypting uint32
	if err := check("cipher_decrypt_begin", abi.CipherDecryptBegin(a.state, &decrypting)); err != nil {
		return err
	}
	a.state = 0
	decErr := check("cipher_decrypt", abi.CipherDecrypt(decrypting, bytesPtr(ct), size(ct), bytesPtr(pt), size(pt)))
	if err := check("cipher_decrypt_end", abi.CipherDecryptEnd(decrypting, &a.state)); err != nil {
		return err
	}
	return decErr
}

// setup sets the nonce and the additional data. The host keeps the last
// additional data until it is set again, so it is set every time, empty too.
func (a *AEAD) setup(nonce, additionalData []byte) error {
	if err := check("cipher_set_nonce", abi.CipherSetNonce(a.state, bytesPtr(nonce), size(nonce))); err != nil {
		return err
	}
	return check("cipher_set_auth_data", abi.CipherSetAuthData(a.state, bytesPtr(additionalData), size(additionalData)))
}

// Seal encrypts and authenticates plaintext, authenticates additionalData,
// and appends ciphertext‖tag to dst, as [cipher.AEAD] says; to encrypt in
// place, pass plaintext[:0] as dst.
//
// The cipher.AEAD interface has no error result, so Seal panics with the
// [*CallError] when the host fails (a wrong nonce length, a repeated nonce,
// a token timeout). Use [AEAD.Encrypt] to handle those as errors.
func (a *AEAD) Seal(dst, nonce, plaintext, additionalData []byte) []byte {
	ret, out := sliceForAppend(dst, len(plaintext)+TagSize)
	if err := a.encrypt(out[:len(plaintext)], out[len(plaintext):], nonce, plaintext, additionalData); err != nil {
		panic(err)
	}
	return ret
}

// Open authenticates and decrypts ciphertext‖tag as made by [AEAD.Seal],
// authenticates additionalData, and appends the plaintext to dst; to
// decrypt in place, pass ciphertext[:0] as dst. A failed authentication is
// [ErrnoBadmsg], and the part of dst's capacity that would have held the
// plaintext is zeroed.
func (a *AEAD) Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error) {
	if len(ciphertext) < TagSize {
		return nil, &CallError{Func: "AEAD.Open", Errno: ErrnoBadmsg}
	}
	n := len(ciphertext) - TagSize
	ret, out := sliceForAppend(dst, n)
	if err := a.decrypt(out, nonce, ciphertext[:n], ciphertext[n:], additionalData); err != nil {
		if errors.Is(err, ErrnoBadmsg) {
			// As crypto/cipher does; a call that fails otherwise wrote
			// nothing, and out may be the caller's ciphertext.
			clear(out)
		}
		return nil, err
	}
	return ret, nil
}

// Close releases the cipher state. Further calls fail with badf.
func (a *AEAD) Close() error {
	err := check("cipher_close", abi.CipherClose(a.state))
	a.state = 0
	return err
}

// sliceForAppend extends in by n bytes and returns the whole slice and the
// new tail, reusing in's capacity when it can (as crypto/cipher does).
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return
}
