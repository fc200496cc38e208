//go:build wasip1

package main

import (
	"github.com/wasihsm/wasihsm/guest/wasicrypto"
	"github.com/wasihsm/wasihsm/guest/wasicrypto/raw"
)

// docs/semantics.md#abi: check order, failed calls write nothing; #handles.

func init() {
	scenarios = append(scenarios,
		scenario{"abi/error-order", testErrorOrder},
		scenario{"abi/failure-writes-nothing", testFailureWritesNothing},
		scenario{"handles/zero-and-unknown", testZeroAndUnknownHandles},
		scenario{"handles/wrong-type", testWrongTypeHandles},
		scenario{"handles/closed", testClosedHandles},
		scenario{"handles/begin-end-consume", testBeginEndConsume},
		scenario{"handles/generate-consumed-on-success-only", testGenerateConsumption},
		scenario{"handles/derive-consumed-on-success-only", testDeriveConsumption},
		scenario{"handles/hash-for-set-hash-stays-open", testSetHashKeepsHash},
		scenario{"handles/state-keeps-key-alive", testStateKeepsKey},
		scenario{"handles/limit-mfile", testHandleLimit},
	)
}

var scenarios []scenario

func testErrorOrder(t *T) {
	key := genKey(t, "ES256", nil)
	na, nn := str("no-such-alg")
	out := newSlot()
	// badf beats fault and notsup.
	t.Expect("sign_open(bad key, bad ptr, unknown alg)", raw.SignOpen(badPtr, 4, 0, badPtr), wasicrypto.ErrnoBadf)
	t.Expect("sign_open(bad key, unknown alg)", raw.SignOpen(na, nn, 999, out.addr), wasicrypto.ErrnoBadf)
	// fault beats notsup.
	t.Expect("sign_open(key, bad out ptr, unknown alg)", raw.SignOpen(na, nn, key, badPtr), wasicrypto.ErrnoFault)
	t.Expect("sign_open(key, bad name ptr)", raw.SignOpen(badPtr, 5, key, out.addr), wasicrypto.ErrnoFault)
	// notsup beats inval (an algorithm that is not the key's).
	t.Expect("sign_open(key, unknown alg)", raw.SignOpen(na, nn, key, out.addr), wasicrypto.ErrnoNotsup)
	ha, hn := str("ES384")
	t.Expect("sign_open(ES256 key, ES384)", raw.SignOpen(ha, hn, key, out.addr), wasicrypto.ErrnoInval)
	// Two handles: the first bad one decides, before any memory check.
	t.Expect("generate_key_set_hash(bad, bad)", raw.GenerateKeySetHash(0, 0), wasicrypto.ErrnoBadf)
	// fault beats inval: a nonce of the wrong length at a bad address.
	h := openHash(t, "SHA-256")
	t.Expect("hash_digest(bad ptr, len 0)", raw.HashDigest(h, badPtr, 0), wasicrypto.ErrnoFault)
	t.Expect("hash_digest(len 0)", raw.HashDigest(h, base(), 0), wasicrypto.ErrnoInval)
	if !out.untouched() {
		t.Errorf("a failed call wrote its out pointer")
	}
}

func testFailureWritesNothing(t *T) {
	out := newSlot()
	na, nn := str("SHA-257")
	t.Expect("hash_open(unknown)", raw.HashOpen(na, nn, out.addr), wasicrypto.ErrnoNotsup)
	g := prepare(t, "HS256")
	short := []byte("too short for HS256")
	a, n := put(short)
	t.Must("set_input", raw.GenerateKeySetInput(g, a, n))
	t.Expect("generate_key(HS256, short key)", raw.GenerateKey(g, out.addr), wasicrypto.ErrnoInval)
	h := openHash(t, "SHA-256")
	da, db := buf(64)
	t.Expect("hash_digest(65 > 32)", raw.HashDigest(h, da, 33), wasicrypto.ErrnoInval)
	if !out.untouched() || !allMarker(db) {
		t.Errorf("a failed call wrote guest memory")
	}
}

// handleTakers lists, for every function that takes a handle, a call with
// that handle and otherwise valid arguments.
func handleTakers() []struct {
	name string
	call func(h uint32) uint32
} {
	a, b := alloc(256)
	_ = b
	out := newSlot()
	alg, algN := str("SHA-256")
	return []struct {
		name string
		call func(h uint32) uint32
	}{
		{"cipher_open", func(h uint32) uint32 { return raw.CipherOpen(h, out.addr) }},
		{"cipher_set_nonce", func(h uint32) uint32 { return raw.CipherSetNonce(h, a, 12) }},
		{"cipher_set_auth_data", func(h uint32) uint32 { return raw.CipherSetAuthData(h, a, 4) }},
		{"cipher_get_auth_tag", func(h uint32) uint32 { return raw.CipherGetAuthTag(h, a, 16) }},
		{"cipher_set_auth_tag", func(h uint32) uint32 { return raw.CipherSetAuthTag(h, a, 16) }},
		{"cipher_encrypt_begin", func(h uint32) uint32 { return raw.CipherEncryptBegin(h, out.addr) }},
		{"cipher_encrypt", func(h uint32) uint32 { return raw.CipherEncrypt(h, a, 4, a+64, 4) }},
		{"cipher_encrypt_end", func(h uint32) uint32 { return raw.CipherEncryptEnd(h, out.addr) }},
		{"cipher_decrypt_begin", func(h uint32) uint32 { return raw.CipherDecryptBegin(h, out.addr) }},
		{"cipher_decrypt", func(h uint32) uint32 { return raw.CipherDecrypt(h, a, 4, a+64, 4) }},
		{"cipher_decrypt_end", func(h uint32) uint32 { return raw.CipherDecryptEnd(h, out.addr) }},
		{"cipher_close", func(h uint32) uint32 { return raw.CipherClose(h) }},
		{"hash_update", func(h uint32) uint32 { return raw.HashUpdate(h, a, 4) }},
		{"hash_digest", func(h uint32) uint32 { return raw.HashDigest(h, a, 4) }},
		{"hash_close", func(h uint32) uint32 { return raw.HashClose(h) }},
		{"sign_open", func(h uint32) uint32 { return raw.SignOpen(alg, algN, h, out.addr) }},
		{"sign_set_nonce", func(h uint32) uint32 { return raw.SignSetNonce(h, a, 4) }},
		{"sign_begin", func(h uint32) uint32 { return raw.SignBegin(h, out.addr) }},
		{"sign_update", func(h uint32) uint32 { return raw.SignUpdate(h, a, 4) }},
		{"sign", func(h uint32) uint32 { return raw.Sign(h, a, 4) }},
		{"sign_end", func(h uint32) uint32 { return raw.SignEnd(h, out.addr) }},
		{"sign_close", func(h uint32) uint32 { return raw.SignClose(h) }},
		{"generate_key_set_nonce", func(h uint32) uint32 { return raw.GenerateKeySetNonce(h, a, 4) }},
		{"generate_key_set_input", func(h uint32) uint32 { return raw.GenerateKeySetInput(h, a, 4) }},
		{"generate_key_set_hash", func(h uint32) uint32 { return raw.GenerateKeySetHash(h, h) }},
		{"generate_key", func(h uint32) uint32 { return raw.GenerateKey(h, out.addr) }},
		{"derive_key_prepare", func(h uint32) uint32 { return raw.DeriveKeyPrepare(alg, algN, h, out.addr) }},
		{"derive_key_set_nonce", func(h uint32) uint32 { return raw.DeriveKeySetNonce(h, a, 4) }},
		{"derive_key_set_hash", func(h uint32) uint32 { return raw.DeriveKeySetHash(h, h) }},
		{"derive_key", func(h uint32) uint32 { return raw.DeriveKey(h, a, 4) }},
		{"private_key_close", func(h uint32) uint32 { return raw.PrivateKeyClose(h) }},
		{"private_key_export_public", func(h uint32) uint32 { return raw.PrivateKeyExportPublic(h, a, 256, out.addr) }},
	}
}

func testZeroAndUnknownHandles(t *T) {
	for _, f := range handleTakers() {
		for _, h := range []uint32{0, 1 << 20, 0xFFFF_FFFF} {
			t.Expect(f.name, f.call(h), wasicrypto.ErrnoBadf)
		}
	}
}

// typedHandles opens one handle of each type.
func typedHandles(t *T) map[string]uint32 {
	key := genKey(t, "A128GCM", nil)
	hkey := genKey(t, "HS256", nil)
	c := cipherOpen(t, key)
	enc := cipherOpen(t, key)
	setNonce(t, enc, []byte("nonce-12byte"))
	o := newSlot()
	t.Must("cipher_encrypt_begin", raw.CipherEncryptBegin(enc, o.addr))
	s := signOpen(t, "HS256", hkey)
	sg := signOpen(t, "HS256", hkey)
	signing := signBegin(t, sg)
	return map[string]uint32{
		"key": key, "hash": openHash(t, "SHA-256"), "cipher": c, "encrypting": o.get(),
		"sign": s, "signing": signing, "generate": prepare(t, "A128GCM"),
		"derive": deriveOpen(t, "HKDF", hkdfKey(t, "SHA-256", []byte("ikm"), nil)),
	}
}

// accepts says which handle types each function takes.
var accepts = map[string][]string{
	"cipher_open": {"key"}, "cipher_set_nonce": {"cipher"}, "cipher_set_auth_data": {"cipher"},
	"cipher_get_auth_tag": {"cipher"}, "cipher_set_auth_tag": {"cipher"}, "cipher_encrypt_begin": {"cipher"},
	"cipher_encrypt": {"encrypting"}, "cipher_encrypt_end": {"encrypting"}, "cipher_decrypt_begin": {"cipher"},
	"cipher_decrypt": {"decrypting"}, "cipher_decrypt_end": {"decrypting"}, "cipher_close": {"cipher"},
	"hash_update": {"hash"}, "hash_digest": {"hash"}, "hash_close": {"hash"},
	"sign_open": {"key"}, "sign_set_nonce": {"sign"}, "sign_begin": {"sign"}, "sign_update": {"signing"},
	"sign": {"signing"}, "sign_end": {"signing"}, "sign_close": {"sign"},
	"generate_key_set_nonce": {"generate"}, "generate_key_set_input": {"generate"},
	"generate_key_set_hash": {"generate"}, "generate_key": {"generate"},
	"derive_key_prepare": {"key"}, "derive_key_set_nonce": {"derive"}, "derive_key_set_hash": {"derive"},
	"derive_key": {"derive"}, "private_key_close": {"key"}, "private_key_export_public": {"key"},
}

func testWrongTypeHandles(t *T) {
	hs := typedHandles(t)
	for _, f := range handleTakers() {
		ok := map[string]bool{}
		for _, typ := range accepts[f.name] {
			ok[typ] = true
		}
		if len(ok) == 0 {
			t.Errorf("%s: no accepted type listed", f.name)
		}
		for typ, h := range hs {
			if ok[typ] {
				continue
			}
			t.Expect(f.name+"("+typ+" handle)", f.call(h), wasicrypto.ErrnoBadf)
		}
	}
}

func testClosedHandles(t *T) {
	h := openHash(t, "SHA-256")
	t.Must("hash_close", raw.HashClose(h))
	t.Expect("hash_update(closed)", raw.HashUpdate(h, base(), 1), wasicrypto.ErrnoBadf)
	t.Expect("hash_close(closed)", raw.HashClose(h), wasicrypto.ErrnoBadf)

	k := genKey(t, "HS256", nil)
	s := signOpen(t, "HS256", k)
	t.Must("sign_close", raw.SignClose(s))
	t.Expect("sign_begin(closed)", raw.SignBegin(s, newSlot().addr), wasicrypto.ErrnoBadf)
	t.Must("private_key_close", raw.PrivateKeyClose(k))
	t.Expect("sign_open(closed key)", raw.SignOpen(0, 0, k, newSlot().addr), wasicrypto.ErrnoBadf)
	t.Expect("private_key_close(closed)", raw.PrivateKeyClose(k), wasicrypto.ErrnoBadf)

	// A new handle never reuses a closed value.
	h2 := openHash(t, "SHA-256")
	if h2 == h || h2 == k || h2 == s {
		t.Errorf("handle value %d reused", h2)
	}
}

func testBeginEndConsume(t *T) {
	k := genKey(t, "HS256", nil)
	s := signOpen(t, "HS256", k)
	signing := signBegin(t, s)
	if signing == s {
		t.Errorf("sign_begin returned the consumed value")
	}
	t.Expect("sign_close(consumed initial)", raw.SignClose(s), wasicrypto.ErrnoBadf)
	t.Expect("sign_begin(consumed)", raw.SignBegin(s, newSlot().addr), wasicrypto.ErrnoBadf)
	out := newSlot()
	t.Must("sign_end", raw.SignEnd(signing, out.addr))
	t.Expect("sign_update(consumed signing)", raw.SignUpdate(signing, base(), 1), wasicrypto.ErrnoBadf)
	t.Must("sign_close(new initial)", raw.SignClose(out.get()))

	ck := genKey(t, "A256GCM", nil)
	c := cipherOpen(t, ck)
	c2, ct, tag := encrypt(t, c, []byte("0123456789ab"), []byte("hello"))
	if c2 == c {
		t.Errorf("cipher_encrypt_end returned the consumed value")
	}
	t.Expect("cipher_set_nonce(consumed)", raw.CipherSetNonce(c, base(), 12), wasicrypto.ErrnoBadf)
	// cipher_decrypt_end takes the handle cipher_decrypt_begin returned.
	c3, pt, e := decrypt(t, c2, []byte("0123456789ab"), ct, tag)
	t.Expect("cipher_decrypt", e, 0)
	if string(pt) != "hello" {
		t.Errorf("decrypted %q", pt)
	}
	t.Expect("cipher_close(consumed)", raw.CipherClose(c2), wasicrypto.ErrnoBadf)
	t.Must("cipher_close", raw.CipherClose(c3))
}

func testGenerateConsumption(t *T) {
	g := prepare(t, "HS256")
	a, n := put([]byte("short"))
	t.Must("set_input", raw.GenerateKeySetInput(g, a, n))
	out := newSlot()
	t.Expect("generate_key(HS256, short input)", raw.GenerateKey(g, out.addr), wasicrypto.ErrnoInval)
	// The state is still open and usable.
	a, n = put([]byte("a key that is thirty-two bytes!!"))
	t.Must("set_input again", raw.GenerateKeySetInput(g, a, n))
	t.Must("generate_key(HS256)", raw.GenerateKey(g, out.addr))
	t.Expect("generate_key(consumed)", raw.GenerateKey(g, newSlot().addr), wasicrypto.ErrnoBadf)
	t.Expect("set_input(consumed)", raw.GenerateKeySetInput(g, a, n), wasicrypto.ErrnoBadf)
}

func testDeriveConsumption(t *T) {
	prk := hkdfKey(t, "SHA-256", []byte("input keying material"), []byte("salt"))
	d := deriveOpen(t, "HKDF", prk)
	a, _ := alloc(255*32 + 1)
	t.Expect("derive_key(too long)", raw.DeriveKey(d, a, 255*32+1), wasicrypto.ErrnoInval)
	t.Must("derive_key", raw.DeriveKey(d, a, 42))
	t.Expect("derive_key(consumed)", raw.DeriveKey(d, a, 42), wasicrypto.ErrnoBadf)
}

func testSetHashKeepsHash(t *T) {
	h := openHash(t, "SHA-256")
	update(t, h, []byte("data the key derivation must ignore"))
	before := digest(t, h, 32)
	g := prepare(t, "HKDF")
	t.Must("generate_key_set_hash(HKDF, SHA-256)", raw.GenerateKeySetHash(g, h))
	a, n := put([]byte("ikm"))
	t.Must("set_input", raw.GenerateKeySetInput(g, a, n))
	out := newSlot()
	t.Must("generate_key(HKDF)", raw.GenerateKey(g, out.addr))
	// Same PRK as with a fresh SHA-256 state: the absorbed data is ignored.
	other := hkdfKey(t, "SHA-256", []byte("ikm"), nil)
	if x, y := expand(t, out.get(), nil, 32), expand(t, other, nil, 32); string(x) != string(y) {
		t.Errorf("hash state data changed the key: %x vs %x", x, y)
	}
	after := digest(t, h, 32)
	if string(before) != string(after) {
		t.Errorf("hash state disturbed")
	}
	t.Must("hash_close (still open)", raw.HashClose(h))
}

func expand(t *T, prk uint32, info []byte, n int) []byte {
	d := deriveOpen(t, "HKDF", prk)
	if info != nil {
		a, l := put(info)
		t.Must("derive_key_set_nonce", raw.DeriveKeySetNonce(d, a, l))
	}
	a, b := alloc(n)
	t.Must("derive_key", raw.DeriveKey(d, a, uint32(n)))
	return append([]byte(nil), b...)
}

func testStateKeepsKey(t *T) {
	k := genKey(t, "ES256", nil)
	pub := exportPublic(t, k)
	s := signOpen(t, "ES256", k)
	ck := genKey(t, "A128GCM", nil)
	c := cipherOpen(t, ck)
	t.Must("private_key_close", raw.PrivateKeyClose(k))
	t.Must("private_key_close", raw.PrivateKeyClose(ck))
	signing := signBegin(t, s)
	msg := []byte("signed after the key handle was closed")
	signUpdate(t, signing, msg)
	sig := signOut(t, signing, 64)
	sigLine("ES256", pub, msg, sig)
	_, ct, tag := encrypt(t, c, []byte("nonce-12byte"), []byte("still works"))
	if len(ct) != 11 || len(tag) != 16 {
		t.Errorf("encryption after key close: %x %x", ct, tag)
	}
}

func testHandleLimit(t *T) {
	var hs []uint32
	out := newSlot()
	a, n := str("SHA-256")
	for i := 0; i < hostMaxHandles; i++ {
		t.Must("hash_open(SHA-256)", raw.HashOpen(a, n, out.addr))
		hs = append(hs, out.get())
	}
	out = newSlot()
	t.Expect("hash_open over the limit", raw.HashOpen(a, n, out.addr), wasicrypto.ErrnoMfile)
	ga, gn := str("HS256")
	t.Expect("generate_key_prepare over the limit", raw.GenerateKeyPrepare(ga, gn, out.addr), wasicrypto.ErrnoMfile)
	ka, kn := str("any")
	t.Expect("private_key_open over the limit", raw.PrivateKeyOpen(ka, kn, out.addr), wasicrypto.ErrnoMfile)
	if !out.untouched() {
		t.Errorf("mfile wrote the out pointer")
	}
	t.Must("hash_close", raw.HashClose(hs[0]))
	t.Must("hash_open after close", raw.HashOpen(a, n, out.addr))
}
