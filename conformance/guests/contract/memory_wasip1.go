//go:build wasip1

package main

import (
	"bytes"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
	"github.com/wasihsm/wasihsm/guest/wasicrypto/raw"
)

// docs/semantics.md#memory: guest memory.

func init() {
	scenarios = append(scenarios,
		scenario{"memory/out-of-bounds-fault", testOutOfBounds},
		scenario{"memory/fault-changes-nothing", testFaultChangesNothing},
		scenario{"memory/overlapping-encrypt", testOverlapEncrypt},
		scenario{"memory/overlapping-decrypt", testOverlapDecrypt},
		scenario{"memory/overlapping-export", testOverlapExport},
	)
}

// badRanges are (ptr, len) pairs that are never wholly inside memory.
var badRanges = [][2]uint32{
	{badPtr, 1},
	{badPtr, 0},
	{overflowPtr, overflowLen}, // ptr+len overflows 2^32
	{0, 0xFFFF_FFFF},
}

func testOutOfBounds(t *T) {
	ak := genKey(t, "A128GCM", nil)
	hk := genKey(t, "HS256", nil)
	ek := genKey(t, "ES256", nil)
	h := openHash(t, "SHA-256")
	c := cipherOpen(t, ak)
	enc := cipherOpen(t, ak)
	setNonce(t, enc, []byte("nonce-12byte"))
	o := newSlot()
	t.Must("cipher_encrypt_begin", raw.CipherEncryptBegin(enc, o.addr))
	encrypting := o.get()
	dec := cipherOpen(t, ak)
	setNonce(t, dec, []byte("nonce-12byte"))
	ta, _ := alloc(16)
	t.Must("cipher_set_auth_tag", raw.CipherSetAuthTag(dec, ta, 16))
	t.Must("cipher_decrypt_begin", raw.CipherDecryptBegin(dec, o.addr))
	decrypting := o.get()
	s := signOpen(t, "HS256", hk)
	signing := signBegin(t, signOpen(t, "HS256", hk))
	g := prepare(t, "HKDF")
	d := deriveOpen(t, "HKDF", hkdfKey(t, "SHA-256", []byte("ikm"), nil))
	good, _ := alloc(64)

	for _, r := range badRanges {
		p, n := r[0], r[1]
		calls := []struct {
			name string
			e    uint32
		}{
			{"cipher_open(out)", raw.CipherOpen(ak, p)},
			{"cipher_set_nonce", raw.CipherSetNonce(c, p, n)},
			{"cipher_set_auth_data", raw.CipherSetAuthData(c, p, n)},
			{"cipher_get_auth_tag", raw.CipherGetAuthTag(c, p, n)},
			{"cipher_set_auth_tag", raw.CipherSetAuthTag(c, p, n)},
			{"cipher_encrypt_begin(out)", raw.CipherEncryptBegin(c, p)},
			{"cipher_encrypt(pt)", raw.CipherEncrypt(encrypting, p, n, good, 64)},
			{"cipher_encrypt(ct)", raw.CipherEncrypt(encrypting, good, 4, p, n)},
			{"cipher_encrypt_end(out)", raw.CipherEncryptEnd(encrypting, p)},
			{"cipher_decrypt_begin(out)", raw.CipherDecryptBegin(c, p)},
			{"cipher_decrypt(ct)", raw.CipherDecrypt(decrypting, p, n, good, 64)},
			{"cipher_decrypt(pt)", raw.CipherDecrypt(decrypting, good, 4, p, n)},
			{"cipher_decrypt_end(out)", raw.CipherDecryptEnd(decrypting, p)},
			{"hash_open(name)", raw.HashOpen(p, n, good)},
			{"hash_open(out)", raw.HashOpen(good, 7, p)},
			{"hash_update", raw.HashUpdate(h, p, n)},
			{"hash_digest", raw.HashDigest(h, p, n)},
			{"sign_open(name)", raw.SignOpen(p, n, hk, good)},
			{"sign_open(out)", raw.SignOpen(good, 5, hk, p)},
			{"sign_set_nonce", raw.SignSetNonce(s, p, n)},
			{"sign_begin(out)", raw.SignBegin(s, p)},
			{"sign_update", raw.SignUpdate(signing, p, n)},
			{"sign", raw.Sign(signing, p, n)},
			{"sign_end(out)", raw.SignEnd(signing, p)},
			{"generate_key_prepare(name)", raw.GenerateKeyPrepare(p, n, good)},
			{"generate_key_prepare(out)", raw.GenerateKeyPrepare(good, 5, p)},
			{"generate_key_set_nonce", raw.GenerateKeySetNonce(g, p, n)},
			{"generate_key_set_input", raw.GenerateKeySetInput(g, p, n)},
			{"generate_key(out)", raw.GenerateKey(g, p)},
			{"derive_key_prepare(name)", raw.DeriveKeyPrepare(p, n, ek, good)},
			{"derive_key_prepare(out)", raw.DeriveKeyPrepare(good, 4, ek, p)},
			{"derive_key_set_nonce", raw.DeriveKeySetNonce(d, p, n)},
			{"derive_key", raw.DeriveKey(d, p, n)},
			{"private_key_export_public(buf)", raw.PrivateKeyExportPublic(ek, p, n, good)},
			{"private_key_export_public(out_len)", raw.PrivateKeyExportPublic(ek, good, 64, p)},
			{"private_key_open(name)", raw.PrivateKeyOpen(p, n, good)},
			{"private_key_open(out)", raw.PrivateKeyOpen(good, 3, p)},
		}
		for _, c := range calls {
			if isOutOnly(c.name) && n != 1 {
				continue // out pointers take the ptr only; one pass is enough
			}
			t.Expect(c.name, c.e, wasicrypto.ErrnoFault)
		}
	}
}

func isOutOnly(name string) bool {
	return bytes.HasSuffix([]byte(name), []byte("(out)")) || bytes.HasSuffix([]byte(name), []byte("(out_len)"))
}

// testFaultChangesNothing: a faulting call leaves every state as it was.
func testFaultChangesNothing(t *T) {
	h := openHash(t, "SHA-256")
	update(t, h, []byte("abc"))
	before := digest(t, h, 32)
	t.Expect("hash_update(fault)", raw.HashUpdate(h, overflowPtr, overflowLen), wasicrypto.ErrnoFault)
	if after := digest(t, h, 32); !bytes.Equal(before, after) {
		t.Errorf("hash state changed by a faulting update")
	}

	k := genKey(t, "HS256", nil)
	s := signBegin(t, signOpen(t, "HS256", k))
	signUpdate(t, s, []byte("abc"))
	mac := signOut(t, s, 32)
	t.Expect("sign_update(fault)", raw.SignUpdate(s, badPtr, 8), wasicrypto.ErrnoFault)
	if again := signOut(t, s, 32); !bytes.Equal(mac, again) {
		t.Errorf("sign state changed by a faulting update")
	}

	// A faulting begin does not consume its state.
	ck := genKey(t, "A128GCM", nil)
	c := cipherOpen(t, ck)
	setNonce(t, c, []byte("nonce-12byte"))
	t.Expect("cipher_encrypt_begin(fault)", raw.CipherEncryptBegin(c, badPtr), wasicrypto.ErrnoFault)
	out := newSlot()
	t.Must("cipher_encrypt_begin after fault", raw.CipherEncryptBegin(c, out.addr))

	// A faulting generate_key leaves the state open.
	g := prepare(t, "A128GCM")
	t.Expect("generate_key(fault)", raw.GenerateKey(g, badPtr), wasicrypto.ErrnoFault)
	t.Must("generate_key after fault", raw.GenerateKey(g, newSlot().addr))
}

func testOverlapEncrypt(t *T) {
	nonceBase := []byte("nonce-0000xx")
	pt := bytes.Repeat([]byte("overlapping plaintext|"), 7)
	nonce := func(i int) []byte {
		n := append([]byte(nil), nonceBase...)
		n[10], n[11] = byte('a'+i), 'z'
		return n
	}
	// The reference is the same key bytes and nonce with separate buffers.
	raw32 := []byte("0123456789abcdef0123456789abcdef")
	for shift := -3; shift <= 3; shift++ {
		k1 := genKey(t, "A256GCM", raw32)
		k2 := genKey(t, "A256GCM", raw32)
		c1, c2 := cipherOpen(t, k1), cipherOpen(t, k2)
		_, ref, refTag := encrypt(t, c1, nonce(9), pt)

		// In place (shift 0) or shifted by a few bytes either way.
		setNonce(t, c2, nonce(9))
		out := newSlot()
		t.Must("cipher_encrypt_begin", raw.CipherEncryptBegin(c2, out.addr))
		enc := out.get()
		region, mem := alloc(len(pt) + 16)
		ptOff := 8
		copy(mem[ptOff:], pt)
		ctOff := ptOff + shift
		t.Must("cipher_encrypt(overlap)", raw.CipherEncrypt(enc, region+uint32(ptOff), uint32(len(pt)), region+uint32(ctOff), uint32(len(pt))))
		if got := mem[ctOff : ctOff+len(pt)]; !bytes.Equal(got, ref) {
			t.Errorf("shift %d: overlapping ciphertext differs from separate buffers", shift)
		}
		t.Must("cipher_encrypt_end", raw.CipherEncryptEnd(enc, out.addr))
		ta, tb := alloc(16)
		t.Must("cipher_get_auth_tag", raw.CipherGetAuthTag(out.get(), ta, 16))
		if !bytes.Equal(tb, refTag) {
			t.Errorf("shift %d: tag differs", shift)
		}
	}
}

func testOverlapDecrypt(t *T) {
	raw32 := []byte("0123456789abcdef0123456789abcdef")
	key := genKey(t, "A256GCM", raw32)
	pt := bytes.Repeat([]byte("decrypt me in place!"), 5)
	c := cipherOpen(t, key)
	nonce := []byte("nonce-decrpt")
	c, ct, tag := encrypt(t, c, nonce, pt)
	for shift := -3; shift <= 3; shift++ {
		setNonce(t, c, nonce)
		ta, tn := put(tag)
		t.Must("cipher_set_auth_tag", raw.CipherSetAuthTag(c, ta, tn))
		out := newSlot()
		t.Must("cipher_decrypt_begin", raw.CipherDecryptBegin(c, out.addr))
		dec := out.get()
		region, mem := alloc(len(ct) + 16)
		ctOff := 8
		copy(mem[ctOff:], ct)
		ptOff := ctOff + shift
		t.Must("cipher_decrypt(overlap)", raw.CipherDecrypt(dec, region+uint32(ctOff), uint32(len(ct)), region+uint32(ptOff), uint32(len(ct))))
		if got := mem[ptOff : ptOff+len(pt)]; !bytes.Equal(got, pt) {
			t.Errorf("shift %d: overlapping plaintext differs", shift)
		}
		t.Must("cipher_decrypt_end", raw.CipherDecryptEnd(dec, out.addr))
		c = out.get()
	}
}

// testOverlapExport: the output length pointer inside the DER buffer.
func testOverlapExport(t *T) {
	k := genKey(t, "ES256", nil)
	want := exportPublic(t, k)
	region, mem := alloc(len(want) + 8)
	// Length written after the bytes: it wins where they overlap.
	t.Must("export(out_len inside buf)", raw.PrivateKeyExportPublic(k, region, uint32(len(mem)), region+4))
	if got := u32le(mem[4:8]); got != uint32(len(want)) {
		t.Errorf("out_len = %d, want %d", got, len(want))
	}
	if !bytes.Equal(mem[8:len(want)], want[8:]) {
		t.Errorf("DER outside the overlap damaged")
	}
}
