//go:build wasip1

package main

import (
	"bufio"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
	"github.com/wasihsm/wasihsm/guest/wasicrypto/raw"
)

// nop is the benchmark's baseline import: a host function that does
// nothing, with the signature of hash_update.
//
//go:wasmimport bench nop
func nop(a, b, c uint32) uint32

func main() {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	g := &guest{keys: map[string]*wasicrypto.Key{}, data: map[int][]byte{}}
	for in.Scan() {
		answer, err := g.do(strings.Fields(in.Text()))
		if err != nil {
			fmt.Fprintf(out, "err %v\n", err)
		} else {
			fmt.Fprintf(out, "ok%s\n", answer)
		}
		out.Flush()
	}
}

// guest is the state kept between commands.
type guest struct {
	keys     map[string]*wasicrypto.Key
	data     map[int][]byte
	hash     uint32 // a SHA-256 hash state, for update0 and digest
	signing  uint32 // an ES256 signing state, for signupdate
	digest   [64]byte
	aeadKey  *wasicrypto.Key
	aeadAlg  string
	aead     *wasicrypto.AEAD
	sealed   []byte
	nonce    [wasicrypto.NonceSize]byte
	hashOpen bool
}

// addr is the guest address of b's first byte (b may be empty).
func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// errno turns a raw call's result into an error.
func errno(fn string, e uint32) error {
	if e != 0 {
		return fmt.Errorf("%s: %v", fn, wasicrypto.Errno(e))
	}
	return nil
}

// pattern returns size bytes of i%251, made once per size.
func (g *guest) pattern(size int) []byte {
	if b, ok := g.data[size]; ok {
		return b
	}
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i % 251)
	}
	g.data[size] = b
	return b
}

// keyBytes is 1, 2, 3, … n.
func keyBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return b
}

func (g *guest) do(args []string) (string, error) {
	if len(args) < 2 {
		return "", errors.New("usage: OP [ARGS] N")
	}
	n, err := strconv.Atoi(args[len(args)-1])
	if err != nil || n < 1 {
		return "", fmt.Errorf("bad count %q", args[len(args)-1])
	}
	op, params := args[0], args[1:len(args)-1]
	want := map[string]int{"nop": 0, "update0": 0, "digest": 0, "signupdate": 0, "cycle": 0,
		"hash": 2, "ghash": 2, "sign": 1, "msign": 1, "hmac": 1, "gcm": 2, "keygen": 1}
	np, ok := want[op]
	if !ok {
		return "", fmt.Errorf("unknown command %q", op)
	}
	if len(params) != np {
		return "", fmt.Errorf("%s takes %d parameters and a count", op, np)
	}
	size := 0
	if np == 2 {
		if size, err = strconv.Atoi(params[1]); err != nil || size < 0 {
			return "", fmt.Errorf("bad size %q", params[1])
		}
	}
	switch op {
	case "nop":
		for range n {
			nop(0, 0, 0)
		}
		return "", nil
	case "update0":
		return "", g.update0(n)
	case "digest":
		return g.digestLoop(n)
	case "signupdate":
		return "", g.signUpdate(n)
	case "cycle":
		return "", g.cycle(n)
	case "hash":
		return g.hostHash(params[0], g.pattern(size), n)
	case "ghash":
		return guestHash(params[0], g.pattern(size), n)
	case "sign":
		return g.sign(params[0], n)
	case "msign":
		return g.msign(params[0], n)
	case "hmac":
		return g.hmac(params[0], n)
	case "gcm":
		return g.gcm(params[0], g.pattern(size), n)
	default: // keygen
		return "", keygen(params[0], n)
	}
}

// sha256State opens the SHA-256 state of update0 and digest once.
func (g *guest) sha256State() error {
	if g.hashOpen {
		return nil
	}
	alg := []byte("SHA-256")
	var state uint32
	if err := errno("hash_open", raw.HashOpen(addr(alg), uint32(len(alg)), uint32(uintptr(unsafe.Pointer(&state))))); err != nil {
		return err
	}
	g.hash, g.hashOpen = state, true
	return nil
}

func (g *guest) update0(n int) error {
	if err := g.sha256State(); err != nil {
		return err
	}
	p := addr(g.digest[:])
	for range n {
		if e := raw.HashUpdate(g.hash, p, 0); e != 0 {
			return errno("hash_update", e)
		}
	}
	return nil
}

func (g *guest) digestLoop(n int) (string, error) {
	if err := g.sha256State(); err != nil {
		return "", err
	}
	p := addr(g.digest[:])
	for range n {
		if e := raw.HashDigest(g.hash, p, 32); e != 0 {
			return "", errno("hash_digest", e)
		}
	}
	return " " + hex.EncodeToString(g.digest[:32]), nil
}

func (g *guest) signUpdate(n int) error {
	if g.signing == 0 {
		key, err := g.key("ES256")
		if err != nil {
			return err
		}
		alg := []byte("ES256")
		var initial, signing uint32
		if err := errno("sign_open", raw.SignOpen(addr(alg), uint32(len(alg)), key.Handle(), uint32(uintptr(unsafe.Pointer(&initial))))); err != nil {
			return err
		}
		if err := errno("sign_begin", raw.SignBegin(initial, uint32(uintptr(unsafe.Pointer(&signing))))); err != nil {
			return err
		}
		g.signing = signing
	}
	msg := g.pattern(64)
	p := addr(msg)
	for range n {
		if e := raw.SignUpdate(g.signing, p, 64); e != 0 {
			return errno("sign_update", e)
		}
	}
	return nil
}

func (g *guest) cycle(n int) error {
	alg := []byte("SHA-256")
	msg := g.pattern(64)
	var state uint32
	sp := uint32(uintptr(unsafe.Pointer(&state)))
	for range n {
		if err := errno("hash_open", raw.HashOpen(addr(alg), uint32(len(alg)), sp)); err != nil {
			return err
		}
		if err := errno("hash_update", raw.HashUpdate(state, addr(msg), 64)); err != nil {
			return err
		}
		if err := errno("hash_digest", raw.HashDigest(state, addr(g.digest[:]), 32)); err != nil {
			return err
		}
		if err := errno("hash_close", raw.HashClose(state)); err != nil {
			return err
		}
	}
	return nil
}

func (g *guest) hostHash(alg string, data []byte, n int) (string, error) {
	var digest []byte
	var err error
	for range n {
		if digest, err = wasicrypto.Hash(alg, data); err != nil {
			return "", err
		}
	}
	return " " + hex.EncodeToString(digest), nil
}

// guestHash is the baseline of hostHash: the same standard library code,
// compiled into the guest.
func guestHash(alg string, data []byte, n int) (string, error) {
	var h hash.Hash
	switch alg {
	case "SHA-256":
		h = sha256.New()
	case "SHA-512":
		h = sha512.New()
	case "SHA3-256":
		h = sha3.New256()
	default:
		return "", fmt.Errorf("no guest hash %q", alg)
	}
	var digest []byte
	for range n {
		h.Reset()
		h.Write(data)
		digest = h.Sum(digest[:0])
	}
	return " " + hex.EncodeToString(digest), nil
}

// key returns the generated key of alg, making it on first use.
func (g *guest) key(alg string) (*wasicrypto.Key, error) {
	if k, ok := g.keys[alg]; ok {
		return k, nil
	}
	k, err := wasicrypto.GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	g.keys[alg] = k
	return k, nil
}

func (g *guest) sign(alg string, n int) (string, error) {
	key, err := g.key(alg)
	if err != nil {
		return "", err
	}
	msg := g.pattern(64)
	var buf [132]byte // the longest signature of the contract's algorithms
	var sig []byte
	for range n {
		if sig, err = wasicrypto.AppendSign(buf[:0], alg, key, msg); err != nil {
			return "", err
		}
	}
	spki, err := key.PublicKey()
	if err != nil {
		return "", err
	}
	return " " + hex.EncodeToString(sig) + " " + hex.EncodeToString(spki), nil
}

// msign is sign with the managed key named alg, opened on first use.
func (g *guest) msign(alg string, n int) (string, error) {
	name := "managed " + alg
	if _, ok := g.keys[name]; !ok {
		k, err := wasicrypto.OpenManagedKey(alg)
		if err != nil {
			return "", err
		}
		g.keys[name] = k
	}
	key := g.keys[name]
	msg := g.pattern(64)
	var buf [132]byte
	var sig []byte
	var err error
	for range n {
		if sig, err = wasicrypto.AppendSign(buf[:0], alg, key, msg); err != nil {
			return "", err
		}
	}
	spki, err := key.PublicKey()
	if err != nil {
		return "", err
	}
	return " " + hex.EncodeToString(sig) + " " + hex.EncodeToString(spki), nil
}

func (g *guest) hmac(alg string, n int) (string, error) {
	name := "import " + alg
	key, ok := g.keys[name]
	if !ok {
		var err error
		if key, err = wasicrypto.ImportKey(alg, keyBytes(64)); err != nil {
			return "", err
		}
		g.keys[name] = key
	}
	msg := g.pattern(64)
	var buf [64]byte
	var mac []byte
	var err error
	for range n {
		if mac, err = wasicrypto.AppendSign(buf[:0], alg, key, msg); err != nil {
			return "", err
		}
	}
	return " " + hex.EncodeToString(mac), nil
}

// gcm seals data n times with nonces 0..n-1 (big-endian in the last eight
// bytes); the host refuses a repeated nonce, so the counter goes on across
// commands: the nonce of the first seal of a command is the one after the
// last seal of the previous command. It answers the first nonce and the
// last tag.
func (g *guest) gcm(alg string, data []byte, n int) (string, error) {
	if g.aead == nil || g.aeadAlg != alg {
		if g.aead != nil {
			g.aead.Close()
			g.aeadKey.Close()
		}
		key, err := wasicrypto.ImportKey(alg, keyBytes(keySize(alg)))
		if err != nil {
			return "", err
		}
		aead, err := wasicrypto.NewAEAD(key)
		if err != nil {
			return "", err
		}
		g.aeadKey, g.aead, g.aeadAlg = key, aead, alg
		clear(g.nonce[:])
	}
	if cap(g.sealed) < len(data)+wasicrypto.TagSize {
		g.sealed = make([]byte, 0, len(data)+wasicrypto.TagSize)
	}
	first := hex.EncodeToString(g.nonce[:])
	var sealed []byte
	var err error
	for range n {
		if sealed, err = g.seal(data); err != nil {
			return "", err
		}
		incr(g.nonce[:])
	}
	return " " + first + " " + hex.EncodeToString(sealed[len(data):]), nil
}

// seal turns Seal's panic on a host error into an error.
func (g *guest) seal(data []byte) (sealed []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("seal: %v", r)
		}
	}()
	return g.aead.Seal(g.sealed[:0], g.nonce[:], data, nil), nil
}

// incr adds one to the big-endian counter b.
func incr(b []byte) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i]++
		if b[i] != 0 {
			return
		}
	}
}

func keySize(alg string) int {
	switch alg {
	case "A128GCM":
		return 16
	case "A192GCM":
		return 24
	}
	return 32
}

func keygen(alg string, n int) error {
	for range n {
		k, err := wasicrypto.GenerateKey(alg)
		if err != nil {
			return err
		}
		if err := k.Close(); err != nil {
			return err
		}
	}
	return nil
}
