//go:build wasip1

package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/wasihsm/wasihsm/guest/wasicrypto/raw"
)

// runKAT answers known-answer requests from stdin, one per line, through
// the raw imports; the host test holds the vectors and the expected
// answers, so the vectors stay data files on the host side. Requests
// (hex fields, "-" for empty):
//
//	hash ALG MSG LEN            → digest
//	mac ALG KEY MSG             → MAC (errno name if the key is refused)
//	hkdf HASH IKM SALT INFO LEN → OKM
//	seal ALG KEY NONCE AAD PT   → CT TAG
//	open ALG KEY NONCE AAD CT TAG → PT, or the errno name
//	sign ALG KEY MSG LEN        → signature (KEY: PKCS#8 or raw)
//	agree ALG KEY PEER LEN      → shared secret (KEY: PKCS#8)
//	export ALG KEY              → the imported key's SubjectPublicKeyInfo
//	gensign ALG MSG LEN         → SPKI (or "-" for a MAC) and the signature,
//	                              with a key generated for the request
//	genseal ALG NONCE AAD PT    → CT TAG and the plaintext that opening them
//	                              with the same generated key gives back
//	genagree ALG PEER LEN       → SPKI and the shared secret of a generated
//	                              key with PEER
//
// Each answer is one line: "ok HEX [HEX…]" or "err ERRNO". The gen*
// requests let the host check keys it never sees: it verifies the
// signature with the exported public key, compares the round trip, or
// computes the shared secret from its own half.
func runKAT() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 8<<20)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for in.Scan() {
		top = 0
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		out, e := katLine(f)
		if e != 0 {
			fmt.Fprintf(w, "err %s\n", name(e))
		} else {
			fmt.Fprintf(w, "ok %s\n", out)
		}
	}
}

func hx(s string) []byte {
	if s == "-" {
		return []byte{}
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("kat: bad hex " + s)
	}
	return b
}

// cleanups close what the current request opened, whatever its outcome,
// so that a long run stays within the instance's handle limit.
var cleanups []func()

func onDone(f func()) { cleanups = append(cleanups, f) }

func katLine(f []string) (string, uint32) {
	t := &T{}
	var out string
	var e uint32
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		cleanups = cleanups[:0]
	}()
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatal); !ok {
					panic(r)
				}
				e = lastErrno
			}
		}()
		out, e = katOp(t, f)
	}()
	return out, e
}

// lastErrno is the errno of the last call that failed a Must.
var lastErrno uint32

func must(what string, e uint32) {
	if e != 0 {
		lastErrno = e
		panic(fatal{})
	}
}

func katOp(t *T, f []string) (string, uint32) {
	switch f[0] {
	case "hash":
		a, n := str(f[1])
		o := newSlot()
		must("hash_open", raw.HashOpen(a, n, o.addr))
		h := o.get()
		onDone(func() { raw.HashClose(h) })
		ma, mn := put(hx(f[2]))
		must("hash_update", raw.HashUpdate(h, ma, mn))
		l, _ := strconv.Atoi(f[3])
		da, db := alloc(l)
		must("hash_digest", raw.HashDigest(h, da, uint32(l)))
		return hex.EncodeToString(db), 0
	case "mac":
		size := map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}[f[1]]
		return katSign(f[1], hx(f[2]), hx(f[3]), size), 0
	case "hkdf":
		g := prepareK("HKDF")
		a, n := str(f[1])
		o := newSlot()
		must("hash_open", raw.HashOpen(a, n, o.addr))
		h := o.get()
		onDone(func() { raw.HashClose(h) })
		must("set_hash", raw.GenerateKeySetHash(g, h))
		ia, in := put(hx(f[2]))
		must("set_input", raw.GenerateKeySetInput(g, ia, in))
		if f[3] != "-" {
			sa, sn := put(hx(f[3]))
			must("set_nonce", raw.GenerateKeySetNonce(g, sa, sn))
		}
		must("generate_key", raw.GenerateKey(g, o.addr))
		prk := o.get()
		onDone(func() { raw.PrivateKeyClose(prk) })
		da, dn := str("HKDF")
		must("derive_key_prepare", raw.DeriveKeyPrepare(da, dn, prk, o.addr))
		d := o.get()
		na, nn := put(hx(f[4]))
		must("derive_key_set_nonce", raw.DeriveKeySetNonce(d, na, nn))
		l, _ := strconv.Atoi(f[5])
		oa, ob := alloc(l)
		must("derive_key", raw.DeriveKey(d, oa, uint32(l)))
		return hex.EncodeToString(ob), 0
	case "seal":
		c := openCipher(f[1], hx(f[2]), hx(f[3]), hx(f[4]))
		o := newSlot()
		must("encrypt_begin", raw.CipherEncryptBegin(c.get(), o.addr))
		enc := o.get()
		pa, pn := put(hx(f[5]))
		ca, cb := alloc(int(pn))
		e := raw.CipherEncrypt(enc, pa, pn, ca, pn)
		must("encrypt_end", raw.CipherEncryptEnd(enc, c.addr))
		must("encrypt", e)
		ta, tb := alloc(16)
		must("get_auth_tag", raw.CipherGetAuthTag(c.get(), ta, 16))
		return hex.EncodeToString(cb) + " " + hex.EncodeToString(tb), 0
	case "open":
		c := openCipher(f[1], hx(f[2]), hx(f[3]), hx(f[4]))
		ta, tn := put(hx(f[6]))
		must("set_auth_tag", raw.CipherSetAuthTag(c.get(), ta, tn))
		o := newSlot()
		must("decrypt_begin", raw.CipherDecryptBegin(c.get(), o.addr))
		dec := o.get()
		ca, cn := put(hx(f[5]))
		pa, pb := alloc(int(cn))
		e := raw.CipherDecrypt(dec, ca, cn, pa, cn)
		must("decrypt_end", raw.CipherDecryptEnd(dec, c.addr))
		must("decrypt", e)
		return hex.EncodeToString(pb), 0
	case "sign":
		l, _ := strconv.Atoi(f[4])
		return katSign(f[1], hx(f[2]), hx(f[3]), l), 0
	case "export":
		return hex.EncodeToString(katExport(importKey(f[1], hx(f[2])))), 0
	case "gensign":
		k := generateKey(f[1])
		spki := "-"
		if f[1][0] != 'H' { // HS* keys are secret: nothing to export
			spki = hex.EncodeToString(katExport(k))
		}
		l, _ := strconv.Atoi(f[3])
		return spki + " " + signWith(f[1], k, hx(f[2]), l), 0
	case "genseal":
		k := generateKey(f[1])
		nonce, aad, pt := hx(f[2]), hx(f[3]), hx(f[4])
		c := cipherFor(k, nonce, aad)
		o := newSlot()
		must("encrypt_begin", raw.CipherEncryptBegin(c.get(), o.addr))
		enc := o.get()
		pa, pn := put(pt)
		ca, cb := alloc(int(pn))
		e := raw.CipherEncrypt(enc, pa, pn, ca, pn)
		must("encrypt_end", raw.CipherEncryptEnd(enc, c.addr))
		must("encrypt", e)
		ta, tb := alloc(16)
		must("get_auth_tag", raw.CipherGetAuthTag(c.get(), ta, 16))
		d := cipherFor(k, nonce, aad)
		must("set_auth_tag", raw.CipherSetAuthTag(d.get(), ta, 16))
		must("decrypt_begin", raw.CipherDecryptBegin(d.get(), o.addr))
		dec := o.get()
		ra, rb := alloc(int(pn))
		e = raw.CipherDecrypt(dec, ca, pn, ra, pn)
		must("decrypt_end", raw.CipherDecryptEnd(dec, d.addr))
		must("decrypt", e)
		return hex.EncodeToString(cb) + " " + hex.EncodeToString(tb) + " " + hex.EncodeToString(rb), 0
	case "genagree":
		k := generateKey(f[1])
		spki := hex.EncodeToString(katExport(k))
		a, n := str(f[1])
		o := newSlot()
		must("derive_key_prepare", raw.DeriveKeyPrepare(a, n, k, o.addr))
		d := o.get()
		pa, pn := put(hx(f[2]))
		must("derive_key_set_nonce", raw.DeriveKeySetNonce(d, pa, pn))
		l, _ := strconv.Atoi(f[3])
		oa, ob := alloc(l)
		if e := raw.DeriveKey(d, oa, uint32(l)); e != 0 {
			lastErrno = e
			panic(fatal{})
		}
		return spki + " " + hex.EncodeToString(ob), 0
	case "agree":
		k := importKey(f[1], hx(f[2]))
		a, n := str(f[1])
		o := newSlot()
		must("derive_key_prepare", raw.DeriveKeyPrepare(a, n, k, o.addr))
		d := o.get()
		pa, pn := put(hx(f[3]))
		must("derive_key_set_nonce", raw.DeriveKeySetNonce(d, pa, pn))
		l, _ := strconv.Atoi(f[4])
		oa, ob := alloc(l)
		e := raw.DeriveKey(d, oa, uint32(l))
		if e != 0 {
			// A failed derivation leaves its state open (docs/semantics.md#handles).
			lastErrno = e
			panic(fatal{})
		}
		return hex.EncodeToString(ob), 0
	}
	panic("kat: unknown request " + f[0])
}

// katSign signs msg with a key imported from key and returns the first
// size bytes of the signature, hex-encoded.
func katSign(alg string, key, msg []byte, size int) string {
	return signWith(alg, importKey(alg, key), msg, size)
}

// signWith signs msg with the key handle k.
func signWith(alg string, k uint32, msg []byte, size int) string {
	a, n := str(alg)
	o := newSlot()
	must("sign_open", raw.SignOpen(a, n, k, o.addr))
	must("sign_begin", raw.SignBegin(o.get(), o.addr))
	s := o.get()
	onDone(func() {
		e := newSlot()
		raw.SignEnd(s, e.addr)
		raw.SignClose(e.get())
	})
	ma, mn := put(msg)
	must("sign_update", raw.SignUpdate(s, ma, mn))
	sa, sb := alloc(size)
	must("sign", raw.Sign(s, sa, uint32(size)))
	return hex.EncodeToString(sb)
}

func prepareK(alg string) uint32 {
	a, n := str(alg)
	o := newSlot()
	must("generate_key_prepare", raw.GenerateKeyPrepare(a, n, o.addr))
	return o.get()
}

func importKey(alg string, key []byte) uint32 {
	g := prepareK(alg)
	a, n := put(key)
	must("set_input", raw.GenerateKeySetInput(g, a, n))
	o := newSlot()
	e := raw.GenerateKey(g, o.addr)
	if e != 0 {
		// A refused import leaves the state open (docs/semantics.md#handles): it counts
		// toward the handle limit until the instance closes, so the host
		// runs this mode with a high limit.
		lastErrno = e
		panic(fatal{})
	}
	k := o.get()
	onDone(func() { raw.PrivateKeyClose(k) })
	return k
}

// generateKey generates a key of alg (no input) for this request.
func generateKey(alg string) uint32 {
	g := prepareK(alg)
	o := newSlot()
	if e := raw.GenerateKey(g, o.addr); e != 0 {
		lastErrno = e
		panic(fatal{})
	}
	k := o.get()
	onDone(func() { raw.PrivateKeyClose(k) })
	return k
}

// katExport returns the public key of k as SubjectPublicKeyInfo DER.
func katExport(k uint32) []byte {
	a, b := alloc(4096)
	n := newSlot()
	must("private_key_export_public", raw.PrivateKeyExportPublic(k, a, uint32(len(b)), n.addr))
	return b[:n.get()]
}

// openCipher returns a slot holding the current initial
// cipher state (it changes with every *_end).
func openCipher(alg string, key, nonce, aad []byte) slot {
	return cipherFor(importKey(alg, key), nonce, aad)
}

// cipherFor opens a cipher state on the key handle k with nonce and aad.
func cipherFor(k uint32, nonce, aad []byte) slot {
	c := newSlot()
	must("cipher_open", raw.CipherOpen(k, c.addr))
	onDone(func() { raw.CipherClose(c.get()) })
	na, nn := put(nonce)
	must("set_nonce", raw.CipherSetNonce(c.get(), na, nn))
	aa, an := put(aad)
	must("set_auth_data", raw.CipherSetAuthData(c.get(), aa, an))
	return c
}
