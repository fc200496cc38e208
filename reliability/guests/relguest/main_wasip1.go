//go:build wasip1

package main

import (
	"bufio"
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
	"github.com/wasihsm/wasihsm/guest/wasicrypto/raw"
)

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: relguest mix N, hold ALG…, import ALG HEX…, or sweep LO HI [H…]"))
	}
	var err error
	switch args := os.Args[2:]; os.Args[1] {
	case "mix":
		err = mix(args)
	case "hold":
		err = hold(args)
	case "sweep":
		err = sweep(args)
	case "import":
		err = importKeys(args)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "FAIL", err)
	os.Exit(1)
}

// mix runs N rounds of mixed work and checks every result.
func mix(args []string) error {
	if len(args) != 1 {
		return errors.New("mix N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	ops := 0
	for i := range n {
		msg := fmt.Appendf(nil, "round %d of a tenant's work", i)

		// Hash.
		got, err := wasicrypto.Hash("SHA-256", msg)
		if err != nil {
			return err
		}
		if want := sha256.Sum256(msg); !bytes.Equal(got, want[:]) {
			return fmt.Errorf("SHA-256: %x, want %x", got, want)
		}
		ops++

		// AEAD: a generated key, seal then open; a flipped bit must fail.
		k, err := wasicrypto.GenerateKey("A256GCM")
		if err != nil {
			return err
		}
		a, err := wasicrypto.NewAEAD(k)
		if err != nil {
			return err
		}
		nonce := make([]byte, a.NonceSize())
		_, _ = rand.Read(nonce)
		ct := a.Seal(nil, nonce, msg, []byte("aad"))
		pt, err := a.Open(nil, nonce, ct, []byte("aad"))
		if err != nil || !bytes.Equal(pt, msg) {
			return fmt.Errorf("A256GCM open: %q, %v", pt, err)
		}
		ct[0] ^= 1
		if _, err := a.Open(nil, nonce, ct, []byte("aad")); !errors.Is(err, wasicrypto.ErrnoBadmsg) {
			return fmt.Errorf("A256GCM open of a forgery: %v, want badmsg", err)
		}
		_ = a.Close()
		_ = k.Close()
		ops += 3

		// Sign; the host verifies (the guest stays small without
		// crypto/x509 and crypto/ecdsa, which is compile time saved).
		sk, err := wasicrypto.GenerateKey("ES256")
		if err != nil {
			return err
		}
		sig, err := wasicrypto.Sign("ES256", sk, msg)
		if err != nil {
			return err
		}
		spki, err := sk.PublicKey()
		if err != nil {
			return err
		}
		_ = sk.Close()
		fmt.Printf("es256 %x %x %x\n", spki, msg, sig)
		ops += 3

		// HKDF, against the standard library.
		ikm := make([]byte, 32)
		_, _ = rand.Read(ikm)
		prk, err := wasicrypto.NewHKDFKey("SHA-256", ikm, []byte("salt"))
		if err != nil {
			return err
		}
		okm, err := wasicrypto.HKDFExpand(prk, []byte("info"), 42)
		if err != nil {
			return err
		}
		_ = prk.Close()
		want, _ := hkdf.Key(sha256.New, ikm, []byte("salt"), "info", 42)
		if !bytes.Equal(okm, want) {
			return fmt.Errorf("HKDF: %x, want %x", okm, want)
		}
		ops += 2

		// HMAC with an imported key, against the standard library.
		mk, err := wasicrypto.ImportKey("HS256", ikm)
		if err != nil {
			return err
		}
		tag, err := wasicrypto.Sign("HS256", mk, msg)
		if err != nil {
			return err
		}
		_ = mk.Close()
		m := hmac.New(sha256.New, ikm)
		m.Write(msg)
		if !hmac.Equal(tag, m.Sum(nil)) {
			return errors.New("HS256: wrong tag")
		}
		ops += 2
	}
	fmt.Printf("ok %d ops\n", ops)
	return nil
}

// hold makes a key of each algorithm ("import:ALG:HEX" imports HEX), uses
// it once, prints its handle, and keeps them all until stdin ends.
func hold(algs []string) error {
	var keys []*wasicrypto.Key
	for _, spec := range algs {
		alg, material, err := parseSpec(spec)
		if err != nil {
			return err
		}
		k, err := makeKey(alg, material)
		if err != nil {
			return fmt.Errorf("%s: %w", spec, err)
		}
		if err := use(alg, k); err != nil {
			return fmt.Errorf("%s: use: %w", spec, err)
		}
		keys = append(keys, k)
		name := alg
		if material != nil {
			name = "import:" + alg
		}
		fmt.Printf("key %s %d\n", name, k.Handle())
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	for _, k := range keys {
		_ = k.Close()
	}
	return nil
}

// parseSpec splits "ALG" or "import:ALG:HEX".
func parseSpec(spec string) (alg string, material []byte, err error) {
	rest, imported := strings.CutPrefix(spec, "import:")
	if !imported {
		return spec, nil, nil
	}
	alg, h, ok := strings.Cut(rest, ":")
	if !ok {
		return "", nil, fmt.Errorf("%s: want import:ALG:HEX", spec)
	}
	material, err = hex.DecodeString(h)
	return alg, material, err
}

// makeKey generates a key of alg, or imports material when it is not nil.
// An HKDF key is always made from random input keying material.
func makeKey(alg string, material []byte) (*wasicrypto.Key, error) {
	switch {
	case alg == "HKDF":
		ikm := make([]byte, 32)
		_, _ = rand.Read(ikm)
		return wasicrypto.NewHKDFKey("SHA-256", ikm, nil)
	case material != nil:
		return wasicrypto.ImportKey(alg, material)
	}
	return wasicrypto.GenerateKey(alg)
}

// use does one operation with k, so that the key surely exists where it
// lives.
func use(alg string, k *wasicrypto.Key) error {
	switch {
	case strings.HasSuffix(alg, "GCM"):
		a, err := wasicrypto.NewAEAD(k)
		if err != nil {
			return err
		}
		defer a.Close()
		nonce := make([]byte, a.NonceSize())
		_, _ = rand.Read(nonce)
		a.Seal(nil, nonce, []byte("x"), nil)
		return nil
	case alg == "HKDF":
		_, err := wasicrypto.HKDFExpand(k, nil, 32)
		return err
	case strings.HasPrefix(alg, "ECDH-") || alg == "X25519":
		// The key's own public key is a valid peer: the point (or the
		// X25519 key) ends its SubjectPublicKeyInfo.
		spki, err := k.PublicKey()
		if err != nil {
			return err
		}
		n := map[string]int{"ECDH-P256": 65, "ECDH-P384": 97, "X25519": 32}[alg]
		if len(spki) < n {
			return fmt.Errorf("public key of %d bytes", len(spki))
		}
		_, err = wasicrypto.ECDH(alg, k, spki[len(spki)-n:])
		return err
	default: // signatures and MACs
		_, err := wasicrypto.Sign(alg, k, []byte("x"))
		return err
	}
}

// importKeys imports each pair ALG HEX and prints the errno it got.
func importKeys(args []string) error {
	if len(args)%2 != 0 {
		return errors.New("usage: import ALG HEX, any number of times")
	}
	for i := 0; i < len(args); i += 2 {
		material, err := hex.DecodeString(args[i+1])
		if err != nil {
			return err
		}
		k, err := wasicrypto.ImportKey(args[i], material)
		var e wasicrypto.Errno
		switch {
		case err == nil:
			if err := use(args[i], k); err != nil {
				return fmt.Errorf("%s: use: %w", args[i], err)
			}
			_ = k.Close()
		case !errors.As(err, &e):
			return err
		}
		fmt.Printf("import %s %d\n", args[i], e)
	}
	return nil
}

// sweep calls functions that take a key or a state with handle values the
// guest never received: every call must answer badf.
func sweep(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: sweep LO HI, then any extra handle values")
	}
	var hs []uint32
	lo, err1 := strconv.ParseUint(args[0], 10, 32)
	hi, err2 := strconv.ParseUint(args[1], 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	for h := lo; h <= hi; h++ {
		hs = append(hs, uint32(h))
	}
	for _, a := range args[2:] {
		h, err := strconv.ParseUint(a, 10, 32)
		if err != nil {
			return err
		}
		hs = append(hs, uint32(h))
	}
	buf := make([]byte, 1024)
	var out uint32
	p := addr(&buf[0])
	o := uint32(uintptr(unsafe.Pointer(&out)))
	alg := "ES256"
	algPtr := uint32(uintptr(unsafe.Pointer(unsafe.StringData(alg))))
	calls := []struct {
		name string
		call func(h uint32) uint32
	}{
		{"private_key_export_public", func(h uint32) uint32 { return raw.PrivateKeyExportPublic(h, p, 1024, o) }},
		{"private_key_close", func(h uint32) uint32 { return raw.PrivateKeyClose(h) }},
		{"cipher_open", func(h uint32) uint32 { return raw.CipherOpen(h, o) }},
		{"sign_open", func(h uint32) uint32 { return raw.SignOpen(algPtr, uint32(len(alg)), h, o) }},
		{"hash_update", func(h uint32) uint32 { return raw.HashUpdate(h, p, 16) }},
		{"sign_update", func(h uint32) uint32 { return raw.SignUpdate(h, p, 16) }},
		{"cipher_encrypt_begin", func(h uint32) uint32 { return raw.CipherEncryptBegin(h, o) }},
		{"generate_key", func(h uint32) uint32 { return raw.GenerateKey(h, o) }},
		{"derive_key", func(h uint32) uint32 { return raw.DeriveKey(h, p, 32) }},
	}
	n, bad := 0, 0
	for _, h := range hs {
		for _, c := range calls {
			n++
			if e := c.call(h); wasicrypto.Errno(e) != wasicrypto.ErrnoBadf {
				bad++
				fmt.Printf("notbadf %s %d %d\n", c.name, h, e)
			}
		}
	}
	if bad == 0 {
		fmt.Printf("badf %d\n", n)
	}
	return nil
}

func addr(b *byte) uint32 { return uint32(uintptr(unsafe.Pointer(b))) }
