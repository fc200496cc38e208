//go:build wasip1

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"unsafe"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
	"github.com/wasihsm/wasihsm/guest/wasicrypto/raw"
)

var stdin = bufio.NewReader(os.Stdin)

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: hoard states N SIZE, hoard encrypt SIZE K, hoard sign SIZE, or hoard open SIZE"))
	}
	var err error
	switch args := os.Args[2:]; os.Args[1] {
	case "states":
		err = states(args)
	case "encrypt":
		err = encrypt(args)
	case "sign":
		err = signBuffered(args)
	case "open":
		err = openNamed(args)
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

// wait tells the test that the guest stopped, and waits for its line.
func wait() {
	fmt.Println("wait")
	if _, err := stdin.ReadString('\n'); err != nil {
		fail(fmt.Errorf("stdin: %w", err))
	}
}

func numbers(args []string, names ...string) ([]int, error) {
	if len(args) != len(names) {
		return nil, fmt.Errorf("want %v", names)
	}
	ns := make([]int, len(args))
	for i, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s %q: want a whole number ≥ 1", names[i], a)
		}
		ns[i] = n
	}
	return ns, nil
}

func addr(b *byte) uint32 { return uint32(uintptr(unsafe.Pointer(b))) }

func strAddr(s string) (uint32, uint32) {
	return uint32(uintptr(unsafe.Pointer(unsafe.StringData(s)))), uint32(len(s))
}

// prepare opens a key generation state of alg.
func prepare(alg string) (uint32, error) {
	var h uint32
	p, n := strAddr(alg)
	if e := raw.GenerateKeyPrepare(p, n, uint32(uintptr(unsafe.Pointer(&h)))); e != 0 {
		return 0, fmt.Errorf("generate_key_prepare %s: %v", alg, wasicrypto.Errno(e))
	}
	return h, nil
}

// consume turns a state into a key and closes the key.
func consume(state uint32) error {
	var k uint32
	if e := raw.GenerateKey(state, uint32(uintptr(unsafe.Pointer(&k)))); e != 0 {
		return fmt.Errorf("generate_key: %v", wasicrypto.Errno(e))
	}
	if e := raw.PrivateKeyClose(k); e != 0 {
		return fmt.Errorf("private_key_close: %v", wasicrypto.Errno(e))
	}
	return nil
}

func states(args []string) error {
	ns, err := numbers(args, "N", "SIZE")
	if err != nil {
		return err
	}
	n, size := ns[0], ns[1]
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte(i) | 1 // a key of any bytes; not all zero
	}
	var hs []uint32
	ok, nomem, other := 0, 0, 0
	for range n {
		h, err := prepare("HS256")
		if err != nil {
			return err
		}
		hs = append(hs, h)
		switch e := wasicrypto.Errno(raw.GenerateKeySetInput(h, addr(&buf[0]), uint32(size))); e {
		case wasicrypto.ErrnoSuccess:
			ok++
		case wasicrypto.ErrnoNomem:
			nomem++
		default:
			other++
		}
	}
	fmt.Println("states", ok, nomem, other)
	wait()
	for _, h := range hs {
		if err := consume(h); err != nil {
			return err
		}
	}
	fmt.Println("released")
	wait()
	h, err := prepare("HS256")
	if err != nil {
		return err
	}
	fmt.Println("again", uint32(raw.GenerateKeySetInput(h, addr(&buf[0]), uint32(size))))
	return consume(h)
}

func encrypt(args []string) error {
	ns, err := numbers(args, "SIZE", "K")
	if err != nil {
		return err
	}
	size, k := ns[0], ns[1]
	st, err := prepare("A256GCM")
	if err != nil {
		return err
	}
	var key, state, enc uint32
	if e := raw.GenerateKey(st, uint32(uintptr(unsafe.Pointer(&key)))); e != 0 {
		return fmt.Errorf("generate_key: %v", wasicrypto.Errno(e))
	}
	if e := raw.CipherOpen(key, uint32(uintptr(unsafe.Pointer(&state)))); e != 0 {
		return fmt.Errorf("cipher_open: %v", wasicrypto.Errno(e))
	}
	nonce := make([]byte, 12)
	if e := raw.CipherSetNonce(state, addr(&nonce[0]), 12); e != 0 {
		return fmt.Errorf("cipher_set_nonce: %v", wasicrypto.Errno(e))
	}
	if e := raw.CipherEncryptBegin(state, uint32(uintptr(unsafe.Pointer(&enc)))); e != 0 {
		return fmt.Errorf("cipher_encrypt_begin: %v", wasicrypto.Errno(e))
	}
	buf := make([]byte, size) // plaintext and ciphertext: they may overlap
	wait()
	first := uint32(0)
	for i := range k {
		e := raw.CipherEncrypt(enc, addr(&buf[0]), uint32(size), addr(&buf[0]), uint32(size))
		if i == 0 {
			first = e
		}
	}
	fmt.Println("encrypt", first)
	wait()
	return nil
}

func signBuffered(args []string) error {
	ns, err := numbers(args, "SIZE")
	if err != nil {
		return err
	}
	size := ns[0]
	const alg = "HS256"
	st, err := prepare(alg)
	if err != nil {
		return err
	}
	var key, state, signing uint32
	if e := raw.GenerateKey(st, uint32(uintptr(unsafe.Pointer(&key)))); e != 0 {
		return fmt.Errorf("generate_key: %v", wasicrypto.Errno(e))
	}
	p, n := strAddr(alg)
	if e := raw.SignOpen(p, n, key, uint32(uintptr(unsafe.Pointer(&state)))); e != 0 {
		return fmt.Errorf("sign_open: %v", wasicrypto.Errno(e))
	}
	if e := raw.SignBegin(state, uint32(uintptr(unsafe.Pointer(&signing)))); e != 0 {
		return fmt.Errorf("sign_begin: %v", wasicrypto.Errno(e))
	}
	buf := make([]byte, size)
	if e := raw.SignUpdate(signing, addr(&buf[0]), uint32(size)); e != 0 {
		return fmt.Errorf("sign_update: %v", wasicrypto.Errno(e))
	}
	wait()
	sig := make([]byte, 32)
	fmt.Println("sign", raw.Sign(signing, addr(&sig[0]), uint32(len(sig))))
	if e := raw.SignEnd(signing, uint32(uintptr(unsafe.Pointer(&state)))); e != 0 {
		return fmt.Errorf("sign_end: %v", wasicrypto.Errno(e))
	}
	if e := raw.SignClose(state); e != 0 {
		return fmt.Errorf("sign_close: %v", wasicrypto.Errno(e))
	}
	if e := raw.PrivateKeyClose(key); e != 0 {
		return fmt.Errorf("private_key_close: %v", wasicrypto.Errno(e))
	}
	wait()
	return nil
}

func openNamed(args []string) error {
	ns, err := numbers(args, "SIZE")
	if err != nil {
		return err
	}
	name := make([]byte, ns[0])
	for i := range name {
		name[i] = 'k'
	}
	var key uint32
	fmt.Println("open", raw.PrivateKeyOpen(addr(&name[0]), uint32(len(name)), uint32(uintptr(unsafe.Pointer(&key)))))
	return nil
}
