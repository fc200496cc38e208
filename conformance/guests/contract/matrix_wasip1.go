//go:build wasip1

package main

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"

	"github.com/wasihsm/wasihsm/guest/wasicrypto/raw"
)

// The matrix scenario tries every algorithm of docs/semantics.md#algorithms end to end and
// reports, one line each, "matrix ALG ERRNO": the errno of the first call
// that failed, or success. The host compares the lines with what its
// backends and policy can serve (e.g. fallback deny on a token).

func init() {
	scenarios = append(scenarios, scenario{"matrix/every-algorithm", testMatrix})
}

var matrixHashes = []string{"SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512",
	"SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512", "SHAKE128", "SHAKE256"}

func testMatrix(t *T) {
	for _, alg := range matrixHashes {
		fmt.Printf("matrix %s %s\n", alg, name(matrixHash(alg)))
	}
	for _, alg := range append(keyAlgs, "ES512", "EdDSA", "RS384", "RS512", "PS384", "PS512", "HKDF") {
		fmt.Printf("matrix %s %s\n", alg, name(matrixKey(alg)))
	}
}

func matrixHash(alg string) uint32 {
	a, n := str(alg)
	out := newSlot()
	if e := raw.HashOpen(a, n, out.addr); e != 0 {
		return e
	}
	d, _ := alloc(16)
	if e := raw.HashUpdate(out.get(), d, 16); e != 0 {
		return e
	}
	if e := raw.HashDigest(out.get(), d, 16); e != 0 {
		return e
	}
	return raw.HashClose(out.get())
}

// matrixKey generates (or, for RSA and HKDF, imports) a key of alg and uses
// it once.
func matrixKey(alg string) uint32 {
	a, n := str(alg)
	st := newSlot()
	if e := raw.GenerateKeyPrepare(a, n, st.addr); e != 0 {
		return e
	}
	switch {
	case alg == "HKDF":
		ha, hn := str("SHA-256")
		h := newSlot()
		if e := raw.HashOpen(ha, hn, h.addr); e != 0 {
			return e
		}
		if e := raw.GenerateKeySetHash(st.get(), h.get()); e != 0 {
			return e
		}
		ia, in := put([]byte("input keying material"))
		if e := raw.GenerateKeySetInput(st.get(), ia, in); e != 0 {
			return e
		}
	case alg[0] == 'R' || alg[0] == 'P':
		ia, in := put(rsa2048)
		if e := raw.GenerateKeySetInput(st.get(), ia, in); e != 0 {
			return e
		}
	}
	k := newSlot()
	if e := raw.GenerateKey(st.get(), k.addr); e != 0 {
		return e
	}
	key := k.get()
	defer raw.PrivateKeyClose(key)
	out := newSlot()
	switch alg[0] {
	case 'A': // AES-GCM: one encryption
		if e := raw.CipherOpen(key, out.addr); e != 0 {
			return e
		}
		c := out.get()
		na, nn := put([]byte("matrix-nonce"))
		if e := raw.CipherSetNonce(c, na, nn); e != 0 {
			return e
		}
		if e := raw.CipherEncryptBegin(c, out.addr); e != 0 {
			return e
		}
		buf, _ := alloc(32)
		if e := raw.CipherEncrypt(out.get(), buf, 16, buf+16, 16); e != 0 {
			return e
		}
		return 0
	case 'E', 'X': // ECDH / X25519 (ES*, EdDSA sign below)
		if alg[0] == 'E' && alg[1] != 'C' {
			break
		}
		curve := map[string]ecdh.Curve{"ECDH-P256": ecdh.P256(), "ECDH-P384": ecdh.P384(), "X25519": ecdh.X25519()}[alg]
		peer, _ := curve.GenerateKey(rand.Reader)
		if e := raw.DeriveKeyPrepare(a, n, key, out.addr); e != 0 {
			return e
		}
		d := out.get()
		pa, pn := put(peer.PublicKey().Bytes())
		if e := raw.DeriveKeySetNonce(d, pa, pn); e != 0 {
			return e
		}
		o, _ := alloc(32)
		return raw.DeriveKey(d, o, 16)
	case 'H':
		if alg == "HKDF" {
			if e := raw.DeriveKeyPrepare(a, n, key, out.addr); e != 0 {
				return e
			}
			o, _ := alloc(32)
			return raw.DeriveKey(out.get(), o, 32)
		}
	}
	// Signatures and MACs: sign a few bytes.
	if e := raw.SignOpen(a, n, key, out.addr); e != 0 {
		return e
	}
	if e := raw.SignBegin(out.get(), out.addr); e != 0 {
		return e
	}
	s := out.get()
	m, _ := alloc(8)
	if e := raw.SignUpdate(s, m, 8); e != 0 {
		return e
	}
	sig, _ := alloc(1)
	return raw.Sign(s, sig, 1)
}
