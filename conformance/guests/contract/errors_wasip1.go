//go:build wasip1

package main

import (
	"bytes"
	"crypto/x509"
	"math/big"
	"os"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
	"github.com/wasihsm/wasihsm/guest/wasicrypto/raw"
)

// docs/semantics.md#errors (every errno row) and #key-extension (keys).

func init() {
	scenarios = append(scenarios,
		scenario{"errno/badmsg-leaves-plaintext-untouched", testBadmsg},
		scenario{"errno/range", testRange},
		scenario{"errno/msgsize", testMsgsize},
		scenario{"errno/noent", testNoent},
		scenario{"errno/provider-faults", testProviderFaults},
		scenario{"keys/export-public", testExportPublic},
		scenario{"keys/managed-key", testManagedKey},
		scenario{"policy/deny-notsup", testDenyNotsup},
	)
}

func bigInt(b []byte) *big.Int { return new(big.Int).SetBytes(b) }

func testBadmsg(t *T) {
	k := genKey(t, "A128GCM", nil)
	c := cipherOpen(t, k)
	nonce := []byte("nonce-badmsg")
	c, ct, tag := encrypt(t, c, nonce, []byte("authentic message"))
	for i, tamper := range []func(ct, tag []byte){
		func(ct, tag []byte) { ct[0] ^= 1 },
		func(ct, tag []byte) { tag[15] ^= 0x80 },
	} {
		ct2, tag2 := append([]byte(nil), ct...), append([]byte(nil), tag...)
		tamper(ct2, tag2)
		dec, pt, e := decrypt(t, c, nonce, ct2, tag2)
		t.Expect("decrypt tampered", e, wasicrypto.ErrnoBadmsg)
		if !allMarker(pt) {
			t.Errorf("case %d: badmsg left decrypted bytes in the plaintext buffer: %x", i, pt)
		}
		// The state is still decrypting; the genuine ciphertext opens with the genuine tag only.
		if i == 0 {
			ca, cn := put(ct)
			pa, pb := buf(len(ct))
			t.Must("decrypt genuine after badmsg", raw.CipherDecrypt(dec, ca, cn, pa, uint32(len(pb))))
			if string(pb) != "authentic message" {
				t.Errorf("retry gave %q", pb)
			}
			out := newSlot()
			t.Must("decrypt_end", raw.CipherDecryptEnd(dec, out.addr))
			c = out.get()
		} else {
			// After a failure the series can still be ended, and the state closed.
			out := newSlot()
			t.Must("decrypt_end after badmsg", raw.CipherDecryptEnd(dec, out.addr))
			c = out.get()
		}
	}
	// In-place decryption that fails leaves the ciphertext as it was.
	ct2, tag2 := append([]byte(nil), ct...), append([]byte(nil), tag...)
	tag2[0] ^= 1
	setNonce(t, c, nonce)
	ta, tn := put(tag2)
	t.Must("set_auth_tag", raw.CipherSetAuthTag(c, ta, tn))
	out := newSlot()
	t.Must("decrypt_begin", raw.CipherDecryptBegin(c, out.addr))
	ca, cn := put(ct2)
	mem := arenaSlice(ca, cn)
	t.Expect("in-place decrypt tampered", raw.CipherDecrypt(out.get(), ca, cn, ca, cn), wasicrypto.ErrnoBadmsg)
	if !bytes.Equal(mem, ct2) {
		t.Errorf("failed in-place decryption changed the buffer")
	}
}

func arenaSlice(addr, n uint32) []byte {
	off := addr - base()
	return arena[off : off+n]
}

func testRange(t *T) {
	k := genKey(t, "A128GCM", nil)
	c := cipherOpen(t, k)
	setNonce(t, c, []byte("nonce-range!"))
	out := newSlot()
	t.Must("encrypt_begin", raw.CipherEncryptBegin(c, out.addr))
	pa, pn := put([]byte("12345"))
	ca, cb := buf(5)
	t.Expect("encrypt 5 into 4", raw.CipherEncrypt(out.get(), pa, pn, ca, 4), wasicrypto.ErrnoRange)
	t.Expect("encrypt 5 into 0", raw.CipherEncrypt(out.get(), pa, pn, ca, 0), wasicrypto.ErrnoRange)
	if !allMarker(cb) {
		t.Errorf("range wrote")
	}
	// Export with a short buffer: range, and the needed length written.
	ek := genKey(t, "ES256", nil)
	der := exportPublic(t, ek)
	ba, bb := buf(len(der) - 1)
	n := newSlot()
	t.Expect("export_public short", raw.PrivateKeyExportPublic(ek, ba, uint32(len(bb)), n.addr), wasicrypto.ErrnoRange)
	if n.get() != uint32(len(der)) {
		t.Errorf("needed length %d, want %d", n.get(), len(der))
	}
	if !allMarker(bb) {
		t.Errorf("range wrote the DER buffer")
	}
	n2 := newSlot()
	t.Expect("export_public len 0", raw.PrivateKeyExportPublic(ek, 0, 0, n2.addr), wasicrypto.ErrnoRange)
	if n2.get() != uint32(len(der)) {
		t.Errorf("needed length with empty buffer: %d", n2.get())
	}
}

func testMsgsize(t *T) {
	over := make([]byte, hostMaxBuffered+1)
	ba, bn := put(over)
	fa, fn := put(over[:hostMaxBuffered])
	k := genKey(t, "A128GCM", nil)
	c := cipherOpen(t, k)
	t.Expect("set_auth_data over limit", raw.CipherSetAuthData(c, ba, bn), wasicrypto.ErrnoMsgsize)
	t.Must("set_auth_data at limit", raw.CipherSetAuthData(c, fa, fn))
	g := prepare(t, "HS256")
	t.Expect("set_input over limit", raw.GenerateKeySetInput(g, ba, bn), wasicrypto.ErrnoMsgsize)
	h := prepare(t, "HKDF")
	t.Expect("generate set_nonce over limit", raw.GenerateKeySetNonce(h, ba, bn), wasicrypto.ErrnoMsgsize)
	d := deriveOpen(t, "HKDF", hkdfKey(t, "SHA-256", []byte("ikm"), nil))
	t.Expect("derive set_nonce over limit", raw.DeriveKeySetNonce(d, ba, bn), wasicrypto.ErrnoMsgsize)
	// EdDSA buffers the message: the limit applies to the total.
	ek := genKey(t, "EdDSA", nil)
	s := signBegin(t, signOpen(t, "EdDSA", ek))
	half := uint32(hostMaxBuffered / 2)
	t.Must("sign_update half", raw.SignUpdate(s, fa, half))
	t.Must("sign_update half", raw.SignUpdate(s, fa, half))
	t.Expect("sign_update one more byte", raw.SignUpdate(s, fa, 1), wasicrypto.ErrnoMsgsize)
	// The failed update absorbed nothing: the signature is over the 4096 bytes.
	sig := signOut(t, s, 64)
	sigLine("EdDSA", exportPublic(t, ek), over[:hostMaxBuffered], sig)
	// Hash-then-sign algorithms do not buffer: no limit.
	es := signBegin(t, signOpen(t, "ES256", genKey(t, "ES256", nil)))
	for i := 0; i < 4; i++ {
		t.Must("ES256 sign_update (not buffered)", raw.SignUpdate(es, ba, bn))
	}
}

func testNoent(t *T) {
	out := newSlot()
	for _, n := range []string{"no-such-key", "", "managed-es256 "} {
		a, l := str(n)
		t.Expect("private_key_open("+n+")", raw.PrivateKeyOpen(a, l, out.addr), wasicrypto.ErrnoNoent)
	}
	if !out.untouched() {
		t.Errorf("noent wrote the out pointer")
	}
}

// testProviderFaults: the host under test serves managed keys whose names
// make the provider fail with each backend error, so that every errno row
// of docs/semantics.md#errors is answered to a real guest.
func testProviderFaults(t *T) {
	out := newSlot()
	for _, c := range []struct {
		name string
		want wasicrypto.Errno
	}{
		{"fault-access", wasicrypto.ErrnoAccess},
		{"fault-nfile", wasicrypto.ErrnoNfile},
		{"fault-timedout", wasicrypto.ErrnoTimedout},
		{"fault-io", wasicrypto.ErrnoIo},
		{"fault-notrecoverable", wasicrypto.ErrnoNotrecoverable},
		{"fault-unclassified", wasicrypto.ErrnoIo},
	} {
		a, l := str(c.name)
		t.Expect("private_key_open("+c.name+")", raw.PrivateKeyOpen(a, l, out.addr), c.want)
	}
	if !out.untouched() {
		t.Errorf("a failed open wrote the out pointer")
	}
}

func testExportPublic(t *T) {
	for _, alg := range []string{"A128GCM", "HS512"} {
		a, _ := alloc(64)
		n := newSlot()
		t.Expect(alg+" export", raw.PrivateKeyExportPublic(genKey(t, alg, nil), a, 64, n.addr), wasicrypto.ErrnoInval)
		if !n.untouched() {
			t.Errorf("inval wrote out_len")
		}
	}
	n := newSlot()
	a, _ := alloc(64)
	t.Expect("HKDF export", raw.PrivateKeyExportPublic(hkdfKey(t, "SHA-256", []byte("i"), nil), a, 64, n.addr), wasicrypto.ErrnoInval)
	// Exactly the length written, in a larger buffer.
	k := genKey(t, "ES384", nil)
	ba, bb := buf(1024)
	t.Must("export", raw.PrivateKeyExportPublic(k, ba, 1024, n.addr))
	der := bb[:n.get()]
	if _, err := x509.ParsePKIXPublicKey(der); err != nil {
		t.Errorf("SPKI: %v", err)
	}
	if !allMarker(bb[n.get():]) {
		t.Errorf("export wrote past the DER")
	}
}

// testManagedKey: the host provisions "managed-es256" for this guest. The
// messages name the key's algorithm, so that a host which cannot serve
// ES256 under its policy grades the scenario notsup rather than failed.
func testManagedKey(t *T) {
	a, l := str("managed-es256")
	out := newSlot()
	t.Must("private_key_open(ES256)", raw.PrivateKeyOpen(a, l, out.addr))
	k := out.get()
	msg := []byte("signed with a managed key")
	sigLine("ES256", exportPublic(t, k), msg, signOnce(t, "ES256", k, msg, 64))
	t.Must("private_key_close", raw.PrivateKeyClose(k))
	// Closing only closes the handle: it opens again.
	t.Must("private_key_open(ES256) again", raw.PrivateKeyOpen(a, l, out.addr))
}

// testDenyNotsup runs only against a host whose primary backend lacks
// X25519 and SHA3-256, with fallback deny (WASIHSM_CONTRACT_HOST=restricted).
func testDenyNotsup(t *T) {
	if os.Getenv("WASIHSM_CONTRACT_HOST") != "restricted" {
		t.Errorf("run this scenario with WASIHSM_CONTRACT_HOST=restricted")
		return
	}
	out := newSlot()
	a, l := str("SHA3-256")
	t.Expect("hash_open(SHA3-256) denied", raw.HashOpen(a, l, out.addr), wasicrypto.ErrnoNotsup)
	g := prepare(t, "X25519")
	t.Expect("generate_key(X25519) denied", raw.GenerateKey(g, out.addr), wasicrypto.ErrnoNotsup)
	if !out.untouched() {
		t.Errorf("notsup wrote the out pointer")
	}
	// What the primary serves still works.
	update(t, openHash(t, "SHA-256"), []byte("x"))
	genKey(t, "ES256", nil)
}
