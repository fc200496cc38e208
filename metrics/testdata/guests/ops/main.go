//go:build wasip1

// Command ops is the guest of the metrics tests: it makes a fixed sequence
// of host calls (a hash, an XOF, an ES256 signature, an A256GCM encryption
// and two decryptions, one with a wrong tag, and two calls that fail) and
// prints one line per call, "function algorithm errno", with "-" for a
// call that names no algorithm the host knows. The tests compare the
// metrics with these lines.
//
//	ops        make the calls and exit
//	ops wait   make the calls, then wait for stdin to close
package main

import (
	"fmt"
	"io"
	"os"
	"unsafe"

	"github.com/wasihsm/wasihsm/guest/wasicrypto/raw"
)

// Package-level buffers: their addresses stay put (see package raw).
var (
	sha256Name  = []byte("SHA-256")
	shake128    = []byte("SHAKE128")
	es256       = []byte("ES256")
	a256gcm     = []byte("A256GCM")
	md5         = []byte("MD5")
	message     = []byte("the message the guest hashes, signs and encrypts")
	digest      [32]byte
	signature   [64]byte
	nonce       = [12]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	ciphertext  [64]byte
	plaintext   [64]byte
	tag         [16]byte
	wrongTag    [16]byte
	outs        [8]uint32
	failedCalls int
)

func addr[T any](p *T) uint32 { return uint32(uintptr(unsafe.Pointer(p))) }

func bytesAddr(b []byte) (uint32, uint32) { return addr(&b[0]), uint32(len(b)) }

// call prints what a call did and returns whether it answered want.
func call(fn, alg string, want, errno uint32) {
	fmt.Printf("%s %s %d\n", fn, alg, errno)
	if errno != want {
		fmt.Fprintf(os.Stderr, "ops: %s answered %d, want %d\n", fn, errno, want)
		failedCalls++
	}
}

const (
	success = 0
	badf    = 8
	badmsg  = 9
	notsup  = 58
)

func main() {
	hash("SHA-256", sha256Name, 32)
	hash("SHAKE128", shake128, 16)
	sign()
	aead()

	p, n := bytesAddr(md5)
	call("hash_open", "-", notsup, raw.HashOpen(p, n, addr(&outs[0])))
	p, n = bytesAddr(message)
	call("hash_update", "-", badf, raw.HashUpdate(12345, p, n))

	if failedCalls > 0 {
		os.Exit(1)
	}
	if len(os.Args) > 1 && os.Args[1] == "wait" {
		_, _ = io.Copy(io.Discard, os.Stdin)
	}
}

func hash(alg string, name []byte, size uint32) {
	p, n := bytesAddr(name)
	call("hash_open", alg, success, raw.HashOpen(p, n, addr(&outs[0])))
	h := outs[0]
	mp, mn := bytesAddr(message)
	call("hash_update", alg, success, raw.HashUpdate(h, mp, mn))
	call("hash_digest", alg, success, raw.HashDigest(h, addr(&digest[0]), size))
	call("hash_close", alg, success, raw.HashClose(h))
}

func sign() {
	const alg = "ES256"
	p, n := bytesAddr(es256)
	call("generate_key_prepare", alg, success, raw.GenerateKeyPrepare(p, n, addr(&outs[0])))
	call("generate_key", alg, success, raw.GenerateKey(outs[0], addr(&outs[1])))
	key := outs[1]
	call("sign_open", alg, success, raw.SignOpen(p, n, key, addr(&outs[2])))
	call("sign_begin", alg, success, raw.SignBegin(outs[2], addr(&outs[3])))
	st := outs[3]
	mp, mn := bytesAddr(message)
	call("sign_update", alg, success, raw.SignUpdate(st, mp, mn))
	call("sign", alg, success, raw.Sign(st, addr(&signature[0]), uint32(len(signature))))
	call("sign_end", alg, success, raw.SignEnd(st, addr(&outs[4])))
	call("sign_close", alg, success, raw.SignClose(outs[4]))
	call("private_key_close", alg, success, raw.PrivateKeyClose(key))
}

func aead() {
	const alg = "A256GCM"
	p, n := bytesAddr(a256gcm)
	call("generate_key_prepare", alg, success, raw.GenerateKeyPrepare(p, n, addr(&outs[0])))
	call("generate_key", alg, success, raw.GenerateKey(outs[0], addr(&outs[1])))
	key := outs[1]
	call("cipher_open", alg, success, raw.CipherOpen(key, addr(&outs[2])))
	st := outs[2]
	np, nn := addr(&nonce[0]), uint32(len(nonce))
	call("cipher_set_nonce", alg, success, raw.CipherSetNonce(st, np, nn))
	call("cipher_encrypt_begin", alg, success, raw.CipherEncryptBegin(st, addr(&outs[3])))
	mp, mn := bytesAddr(message)
	call("cipher_encrypt", alg, success, raw.CipherEncrypt(outs[3], mp, mn, addr(&ciphertext[0]), uint32(len(ciphertext))))
	call("cipher_encrypt_end", alg, success, raw.CipherEncryptEnd(outs[3], addr(&outs[4])))
	st = outs[4]
	call("cipher_get_auth_tag", alg, success, raw.CipherGetAuthTag(st, addr(&tag[0]), uint32(len(tag))))

	// A wrong tag: the decryption fails with badmsg.
	call("cipher_set_nonce", alg, success, raw.CipherSetNonce(st, np, nn))
	wrongTag = tag
	wrongTag[0] ^= 1
	for _, tg := range []*[16]byte{&wrongTag, &tag} {
		want := uint32(success)
		if tg == &wrongTag {
			want = badmsg
		}
		call("cipher_set_auth_tag", alg, success, raw.CipherSetAuthTag(st, addr(&tg[0]), uint32(len(tg))))
		call("cipher_decrypt_begin", alg, success, raw.CipherDecryptBegin(st, addr(&outs[5])))
		call("cipher_decrypt", alg, want, raw.CipherDecrypt(outs[5], addr(&ciphertext[0]), mn, addr(&plaintext[0]), uint32(len(plaintext))))
		call("cipher_decrypt_end", alg, success, raw.CipherDecryptEnd(outs[5], addr(&outs[6])))
		st = outs[6]
	}
	call("cipher_close", alg, success, raw.CipherClose(st))
	call("private_key_close", alg, success, raw.PrivateKeyClose(key))
}
