//go:build wasip1

package main

import (
	"encoding/binary"

	"github.com/wasihsm/wasihsm/guest/wasicrypto/raw"
)

// Thin wrappers over the raw imports for the common, successful paths.
// Each takes the scenario so that an unexpected errno fails it at once.

func openHash(t *T, alg string) uint32 {
	a, n := str(alg)
	out := newSlot()
	t.Must("hash_open "+alg, raw.HashOpen(a, n, out.addr))
	return out.get()
}

func digest(t *T, h uint32, n int) []byte {
	a, b := alloc(n)
	t.Must("hash_digest", raw.HashDigest(h, a, uint32(n)))
	return append([]byte(nil), b...)
}

func update(t *T, h uint32, data []byte) {
	a, n := put(data)
	t.Must("hash_update", raw.HashUpdate(h, a, n))
}

// genKey generates (input nil) or imports a key.
func genKey(t *T, alg string, input []byte) uint32 {
	st := prepare(t, alg)
	if input != nil {
		a, n := put(input)
		t.Must("generate_key_set_input", raw.GenerateKeySetInput(st, a, n))
	}
	out := newSlot()
	t.Must("generate_key "+alg, raw.GenerateKey(st, out.addr))
	return out.get()
}

func prepare(t *T, alg string) uint32 {
	a, n := str(alg)
	out := newSlot()
	t.Must("generate_key_prepare "+alg, raw.GenerateKeyPrepare(a, n, out.addr))
	return out.get()
}

// hkdfKey makes an HKDF PRK from ikm and salt (nil: no salt).
func hkdfKey(t *T, hash string, ikm, salt []byte) uint32 {
	st := prepare(t, "HKDF")
	h := openHash(t, hash)
	t.Must("generate_key_set_hash", raw.GenerateKeySetHash(st, h))
	a, n := put(ikm)
	t.Must("generate_key_set_input", raw.GenerateKeySetInput(st, a, n))
	if salt != nil {
		a, n := put(salt)
		t.Must("generate_key_set_nonce", raw.GenerateKeySetNonce(st, a, n))
	}
	out := newSlot()
	t.Must("generate_key HKDF", raw.GenerateKey(st, out.addr))
	t.Must("hash_close", raw.HashClose(h))
	return out.get()
}

func exportPublic(t *T, key uint32) []byte {
	a, b := alloc(4096)
	n := newSlot()
	t.Must("private_key_export_public", raw.PrivateKeyExportPublic(key, a, uint32(len(b)), n.addr))
	return append([]byte(nil), b[:n.get()]...)
}

func signOpen(t *T, alg string, key uint32) uint32 {
	a, n := str(alg)
	out := newSlot()
	t.Must("sign_open "+alg, raw.SignOpen(a, n, key, out.addr))
	return out.get()
}

func signBegin(t *T, st uint32) uint32 {
	out := newSlot()
	t.Must("sign_begin", raw.SignBegin(st, out.addr))
	return out.get()
}

func signUpdate(t *T, st uint32, data []byte) {
	a, n := put(data)
	t.Must("sign_update", raw.SignUpdate(st, a, n))
}

func signOut(t *T, st uint32, n int) []byte {
	a, b := alloc(n)
	t.Must("sign", raw.Sign(st, a, uint32(n)))
	return append([]byte(nil), b...)
}

// signOnce signs msg with a fresh state and closes it.
func signOnce(t *T, alg string, key uint32, msg []byte, size int) []byte {
	st := signOpen(t, alg, key)
	s := signBegin(t, st)
	signUpdate(t, s, msg)
	sig := signOut(t, s, size)
	out := newSlot()
	t.Must("sign_end", raw.SignEnd(s, out.addr))
	t.Must("sign_close", raw.SignClose(out.get()))
	return sig
}

func cipherOpen(t *T, key uint32) uint32 {
	out := newSlot()
	t.Must("cipher_open", raw.CipherOpen(key, out.addr))
	return out.get()
}

func setNonce(t *T, st uint32, nonce []byte) {
	a, n := put(nonce)
	t.Must("cipher_set_nonce", raw.CipherSetNonce(st, a, n))
}

func setAAD(t *T, st uint32, aad []byte) {
	a, n := put(aad)
	t.Must("cipher_set_auth_data", raw.CipherSetAuthData(st, a, n))
}

// encrypt runs one encryption on an initial state and returns the new
// initial state, the ciphertext and the tag.
func encrypt(t *T, st uint32, nonce, pt []byte) (uint32, []byte, []byte) {
	setNonce(t, st, nonce)
	out := newSlot()
	t.Must("cipher_encrypt_begin", raw.CipherEncryptBegin(st, out.addr))
	enc := out.get()
	pa, pn := put(pt)
	ca, cb := alloc(len(pt))
	t.Must("cipher_encrypt", raw.CipherEncrypt(enc, pa, pn, ca, uint32(len(cb))))
	out2 := newSlot()
	t.Must("cipher_encrypt_end", raw.CipherEncryptEnd(enc, out2.addr))
	st = out2.get()
	ta, tb := alloc(16)
	t.Must("cipher_get_auth_tag", raw.CipherGetAuthTag(st, ta, 16))
	return st, append([]byte(nil), cb...), append([]byte(nil), tb...)
}

// decrypt runs one decryption; it returns the new initial state, the
// plaintext, and the errno of cipher_decrypt (on failure the state is still
// the decrypting one, and is returned instead).
func decrypt(t *T, st uint32, nonce, ct, tag []byte) (uint32, []byte, uint32) {
	setNonce(t, st, nonce)
	ta, tn := put(tag)
	t.Must("cipher_set_auth_tag", raw.CipherSetAuthTag(st, ta, tn))
	out := newSlot()
	t.Must("cipher_decrypt_begin", raw.CipherDecryptBegin(st, out.addr))
	dec := out.get()
	ca, cn := put(ct)
	pa, pb := buf(len(ct))
	if e := raw.CipherDecrypt(dec, ca, cn, pa, uint32(len(pb))); e != 0 {
		return dec, append([]byte(nil), pb...), e
	}
	out2 := newSlot()
	t.Must("cipher_decrypt_end", raw.CipherDecryptEnd(dec, out2.addr))
	return out2.get(), append([]byte(nil), pb...), 0
}

func deriveOpen(t *T, alg string, key uint32) uint32 {
	a, n := str(alg)
	out := newSlot()
	t.Must("derive_key_prepare "+alg, raw.DeriveKeyPrepare(a, n, key, out.addr))
	return out.get()
}

func u32le(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
