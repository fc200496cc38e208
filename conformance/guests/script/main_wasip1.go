//go:build wasip1

package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/wasihsm/wasihsm/guest/wasicrypto/raw"
)

// arena holds the scenario's named memory: a package-level array never
// moves, so the addresses passed to the host stay valid.
var (
	arena [1 << 20]byte
	top   int
	names = map[string][]byte{}
)

func define(name string, b []byte) bool {
	top = (top + 7) &^ 7
	if _, dup := names[name]; dup || top+len(b) > len(arena) {
		return false
	}
	dst := arena[top : top+len(b) : top+len(b)]
	copy(dst, b)
	top += len(b)
	names[name] = dst
	return true
}

// arg evaluates a number, &NAME[+N], #NAME or $NAME.
func arg(s string) (uint32, bool) {
	if s == "" {
		return 0, false
	}
	if sigil := s[0]; sigil == '&' || sigil == '#' || sigil == '$' {
		name, off, hasOff := strings.Cut(s[1:], "+")
		b, ok := names[name]
		if !ok {
			return 0, false
		}
		switch sigil {
		case '&':
			n := uint64(0)
			if hasOff {
				var err error
				if n, err = strconv.ParseUint(off, 0, 32); err != nil {
					return 0, false
				}
			}
			return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) + uint32(n), true
		case '#':
			return uint32(len(b)), true
		default:
			if len(b) < 4 {
				return 0, false
			}
			return binary.LittleEndian.Uint32(b), true
		}
	}
	n, err := strconv.ParseUint(s, 0, 32)
	return uint32(n), err == nil
}

// imports are the raw calls by import name, each with its arity.
var imports = map[string]func(a []uint32) uint32{
	"cipher_open":               func(a []uint32) uint32 { return raw.CipherOpen(a[0], a[1]) },
	"cipher_set_nonce":          func(a []uint32) uint32 { return raw.CipherSetNonce(a[0], a[1], a[2]) },
	"cipher_set_auth_data":      func(a []uint32) uint32 { return raw.CipherSetAuthData(a[0], a[1], a[2]) },
	"cipher_get_auth_tag":       func(a []uint32) uint32 { return raw.CipherGetAuthTag(a[0], a[1], a[2]) },
	"cipher_set_auth_tag":       func(a []uint32) uint32 { return raw.CipherSetAuthTag(a[0], a[1], a[2]) },
	"cipher_encrypt_begin":      func(a []uint32) uint32 { return raw.CipherEncryptBegin(a[0], a[1]) },
	"cipher_encrypt":            func(a []uint32) uint32 { return raw.CipherEncrypt(a[0], a[1], a[2], a[3], a[4]) },
	"cipher_encrypt_end":        func(a []uint32) uint32 { return raw.CipherEncryptEnd(a[0], a[1]) },
	"cipher_decrypt_begin":      func(a []uint32) uint32 { return raw.CipherDecryptBegin(a[0], a[1]) },
	"cipher_decrypt":            func(a []uint32) uint32 { return raw.CipherDecrypt(a[0], a[1], a[2], a[3], a[4]) },
	"cipher_decrypt_end":        func(a []uint32) uint32 { return raw.CipherDecryptEnd(a[0], a[1]) },
	"cipher_close":              func(a []uint32) uint32 { return raw.CipherClose(a[0]) },
	"hash_open":                 func(a []uint32) uint32 { return raw.HashOpen(a[0], a[1], a[2]) },
	"hash_update":               func(a []uint32) uint32 { return raw.HashUpdate(a[0], a[1], a[2]) },
	"hash_digest":               func(a []uint32) uint32 { return raw.HashDigest(a[0], a[1], a[2]) },
	"hash_close":                func(a []uint32) uint32 { return raw.HashClose(a[0]) },
	"sign_open":                 func(a []uint32) uint32 { return raw.SignOpen(a[0], a[1], a[2], a[3]) },
	"sign_set_nonce":            func(a []uint32) uint32 { return raw.SignSetNonce(a[0], a[1], a[2]) },
	"sign_begin":                func(a []uint32) uint32 { return raw.SignBegin(a[0], a[1]) },
	"sign_update":               func(a []uint32) uint32 { return raw.SignUpdate(a[0], a[1], a[2]) },
	"sign":                      func(a []uint32) uint32 { return raw.Sign(a[0], a[1], a[2]) },
	"sign_end":                  func(a []uint32) uint32 { return raw.SignEnd(a[0], a[1]) },
	"sign_close":                func(a []uint32) uint32 { return raw.SignClose(a[0]) },
	"generate_key_prepare":      func(a []uint32) uint32 { return raw.GenerateKeyPrepare(a[0], a[1], a[2]) },
	"generate_key_set_nonce":    func(a []uint32) uint32 { return raw.GenerateKeySetNonce(a[0], a[1], a[2]) },
	"generate_key_set_input":    func(a []uint32) uint32 { return raw.GenerateKeySetInput(a[0], a[1], a[2]) },
	"generate_key_set_hash":     func(a []uint32) uint32 { return raw.GenerateKeySetHash(a[0], a[1]) },
	"generate_key":              func(a []uint32) uint32 { return raw.GenerateKey(a[0], a[1]) },
	"derive_key_prepare":        func(a []uint32) uint32 { return raw.DeriveKeyPrepare(a[0], a[1], a[2], a[3]) },
	"derive_key_set_nonce":      func(a []uint32) uint32 { return raw.DeriveKeySetNonce(a[0], a[1], a[2]) },
	"derive_key_set_hash":       func(a []uint32) uint32 { return raw.DeriveKeySetHash(a[0], a[1]) },
	"derive_key":                func(a []uint32) uint32 { return raw.DeriveKey(a[0], a[1], a[2]) },
	"private_key_close":         func(a []uint32) uint32 { return raw.PrivateKeyClose(a[0]) },
	"private_key_export_public": func(a []uint32) uint32 { return raw.PrivateKeyExportPublic(a[0], a[1], a[2], a[3]) },
	"private_key_open":          func(a []uint32) uint32 { return raw.PrivateKeyOpen(a[0], a[1], a[2]) },
}

// arity is each import's parameter count, so that a wrong call is
// refused before it reaches a[i].
var arity = map[string]int{
	"cipher_open": 2, "cipher_set_nonce": 3, "cipher_set_auth_data": 3, "cipher_get_auth_tag": 3,
	"cipher_set_auth_tag": 3, "cipher_encrypt_begin": 2, "cipher_encrypt": 5, "cipher_encrypt_end": 2,
	"cipher_decrypt_begin": 2, "cipher_decrypt": 5, "cipher_decrypt_end": 2, "cipher_close": 1,
	"hash_open": 3, "hash_update": 3, "hash_digest": 3, "hash_close": 1,
	"sign_open": 4, "sign_set_nonce": 3, "sign_begin": 2, "sign_update": 3, "sign": 3, "sign_end": 2, "sign_close": 1,
	"generate_key_prepare": 3, "generate_key_set_nonce": 3, "generate_key_set_input": 3, "generate_key_set_hash": 2,
	"generate_key": 2, "derive_key_prepare": 4, "derive_key_set_nonce": 3, "derive_key_set_hash": 2, "derive_key": 3,
	"private_key_close": 1, "private_key_export_public": 4, "private_key_open": 3,
}

// command answers one line of a scenario (see conformance/abiscript).
func command(f []string) (string, bool) {
	switch {
	case f[0] == "buf" && len(f) == 3:
		b := []byte{}
		if f[2] != "-" {
			var err error
			if b, err = hex.DecodeString(f[2]); err != nil {
				return "", false
			}
		}
		return "", define(f[1], b)
	case f[0] == "str" && len(f) == 3:
		return "", define(f[1], []byte(f[2]))
	case f[0] == "fill" && len(f) == 3:
		n, err := strconv.Atoi(f[2])
		if err != nil || n < 0 {
			return "", false
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = 0xA5
		}
		return "", define(f[1], b)
	case f[0] == "read" && len(f) == 2:
		b, ok := names[f[1]]
		if len(b) == 0 {
			return " -", ok
		}
		return " " + hex.EncodeToString(b), ok
	case f[0] == "call" && len(f) >= 2:
		fn, ok := imports[f[1]]
		if !ok || arity[f[1]] != len(f)-2 {
			return "", false
		}
		a := make([]uint32, len(f)-2)
		for i, s := range f[2:] {
			if a[i], ok = arg(s); !ok {
				return "", false
			}
		}
		return " " + strconv.FormatUint(uint64(fn(a)), 10), true
	}
	return "", false
}

func main() {
	if len(os.Args) != 2 || os.Args[1] != "-script" {
		fmt.Fprintln(os.Stderr, "usage: script -script < COMMANDS")
		os.Exit(2)
	}
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		if answer, ok := command(f); ok {
			fmt.Fprintf(out, "ok%s\n", answer)
		} else {
			fmt.Fprintf(out, "err bad command %s\n", f[0])
		}
	}
}
