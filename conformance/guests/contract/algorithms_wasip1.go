//go:build wasip1

package main

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"hash"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
	"github.com/wasihsm/wasihsm/guest/wasicrypto/raw"
)

// docs/semantics.md#algorithms: algorithms.

//go:embed testdata/rsa2048.pk8
var rsa2048 []byte

//go:embed testdata/rsa1024.pk8
var rsa1024 []byte

func init() {
	scenarios = append(scenarios,
		scenario{"alg/names-exact", testNamesExact},
		scenario{"hash/digest-rules", testDigestRules},
		scenario{"hash/xof", testXOF},
		scenario{"keys/generate-every-algorithm", testGenerateEvery},
		scenario{"keys/import-rules", testImportRules},
		scenario{"keys/nonce-and-hash-only-for-hkdf", testSettersOnlyForHKDF},
		scenario{"cipher/rules", testCipherRules},
		scenario{"cipher/aad-persists", testAADPersists},
		scenario{"sign/algorithm-must-be-keys", testSignAlgMatch},
		scenario{"sign/outputs-and-prefixes", testSignOutputs},
		scenario{"sign/repeatable-and-end-drops", testSignRepeatable},
		scenario{"sign/set-nonce-inval", testSignSetNonce},
		scenario{"sign/verified-on-host", testSignVerifiedOnHost},
		scenario{"derive/hkdf-rfc5869", testHKDFKnownAnswer},
		scenario{"derive/hkdf-rules", testHKDFRules},
		scenario{"derive/key-agreement", testKeyAgreement},
	)
}

var hashes = []struct {
	name string
	size int
	new  func() hash.Hash
}{
	{"SHA-1", 20, sha1.New}, {"SHA-224", 28, sha256.New224}, {"SHA-256", 32, sha256.New},
	{"SHA-384", 48, sha512.New384}, {"SHA-512", 64, sha512.New},
	{"SHA3-224", 28, func() hash.Hash { return sha3.New224() }},
	{"SHA3-256", 32, func() hash.Hash { return sha3.New256() }},
	{"SHA3-384", 48, func() hash.Hash { return sha3.New384() }},
	{"SHA3-512", 64, func() hash.Hash { return sha3.New512() }},
}

func testNamesExact(t *T) {
	out := newSlot()
	for _, n := range []string{"sha-256", "SHA256", "SHA-256 ", " SHA-256", "SHA-256\x00", "", "ES256", "HKDF", "shake128"} {
		a, l := str(n)
		t.Expect("hash_open("+n+")", raw.HashOpen(a, l, out.addr), wasicrypto.ErrnoNotsup)
	}
	for _, n := range []string{"es256", "SHA-256", "SHAKE128", "A128CBC", "RS1", ""} {
		a, l := str(n)
		t.Expect("generate_key_prepare("+n+")", raw.GenerateKeyPrepare(a, l, out.addr), wasicrypto.ErrnoNotsup)
	}
	k := genKey(t, "HS256", nil)
	for _, n := range []string{"hs256", "A128GCM", "HKDF", "SHA-256"} {
		a, l := str(n)
		t.Expect("sign_open("+n+")", raw.SignOpen(a, l, k, out.addr), wasicrypto.ErrnoNotsup)
	}
	for _, n := range []string{"hkdf", "HS256", "ECDH"} {
		a, l := str(n)
		t.Expect("derive_key_prepare("+n+")", raw.DeriveKeyPrepare(a, l, k, out.addr), wasicrypto.ErrnoNotsup)
	}
	if !out.untouched() {
		t.Errorf("notsup wrote the out pointer")
	}
}

func testDigestRules(t *T) {
	msg1, msg2 := []byte("The quick brown fox "), []byte("jumps over the lazy dog")
	for _, h := range hashes {
		ref := h.new()
		ref.Write(msg1)
		want1 := ref.Sum(nil)
		ref.Write(msg2)
		want2 := ref.Sum(nil)

		s := openHash(t, h.name)
		a, _ := alloc(h.size + 1)
		t.Expect(h.name+" digest_len 0", raw.HashDigest(s, a, 0), wasicrypto.ErrnoInval)
		t.Expect(h.name+" digest_len size+1", raw.HashDigest(s, a, uint32(h.size+1)), wasicrypto.ErrnoInval)
		update(t, s, msg1)
		if got := digest(t, s, h.size); !bytes.Equal(got, want1) {
			t.Errorf("%s: digest %x, want %x", h.name, got, want1)
		}
		if got := digest(t, s, h.size); !bytes.Equal(got, want1) {
			t.Errorf("%s: second digest differs: digest disturbed the state", h.name)
		}
		for _, n := range []int{1, 5, h.size - 1} {
			if got := digest(t, s, n); !bytes.Equal(got, want1[:n]) {
				t.Errorf("%s: %d-byte prefix %x", h.name, n, got)
			}
		}
		update(t, s, msg2)
		if got := digest(t, s, h.size); !bytes.Equal(got, want2) {
			t.Errorf("%s: update after digest: %x, want %x", h.name, got, want2)
		}
		t.Must("hash_close", raw.HashClose(s))
	}
}

func testXOF(t *T) {
	for _, x := range []struct {
		name string
		sum  func([]byte, int) []byte
	}{{"SHAKE128", sha3.SumSHAKE128}, {"SHAKE256", sha3.SumSHAKE256}} {
		s := openHash(t, x.name)
		a, _ := alloc(1)
		t.Expect(x.name+" digest_len 0", raw.HashDigest(s, a, 0), wasicrypto.ErrnoInval)
		update(t, s, []byte("abc"))
		for _, n := range []int{1, 16, 32, 64, 200, 1000, 5000} {
			if got, want := digest(t, s, n), x.sum([]byte("abc"), n); !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes: %x…, want %x…", x.name, n, got[:min(n, 8)], want[:min(n, 8)])
			}
		}
		update(t, s, []byte("def"))
		if got, want := digest(t, s, 64), x.sum([]byte("abcdef"), 64); !bytes.Equal(got, want) {
			t.Errorf("%s: update after digest", x.name)
		}
	}
}

var keyAlgs = []string{"A128GCM", "A192GCM", "A256GCM", "HS256", "HS384", "HS512", "ES256", "ES384", "ES512",
	"EdDSA", "RS256", "PS256", "ECDH-P256", "ECDH-P384", "X25519"}

func testGenerateEvery(t *T) {
	for _, alg := range keyAlgs {
		k := genKey(t, alg, nil)
		a, b := alloc(2048)
		n := newSlot()
		e := raw.PrivateKeyExportPublic(k, a, uint32(len(b)), n.addr)
		switch alg[0] {
		case 'A', 'H':
			t.Expect(alg+" export_public (symmetric)", e, wasicrypto.ErrnoInval)
		default:
			if !t.Expect(alg+" export_public", e, 0) {
				continue
			}
			if _, err := x509.ParsePKIXPublicKey(b[:n.get()]); err != nil {
				t.Errorf("%s: SPKI does not parse: %v", alg, err)
			}
		}
		t.Must("private_key_close", raw.PrivateKeyClose(k))
	}
	// HKDF cannot be generated without input (the IKM is required).
	g := prepare(t, "HKDF")
	h := openHash(t, "SHA-256")
	t.Must("set_hash", raw.GenerateKeySetHash(g, h))
	t.Expect("generate_key(HKDF, no input)", raw.GenerateKey(g, newSlot().addr), wasicrypto.ErrnoInval)
}

func pkcs8(t *T, key any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Errorf("marshal PKCS#8: %v", err)
		panic(fatal{})
	}
	return der
}

func testImportRules(t *T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	bytesN := func(n int) []byte { return bytes.Repeat([]byte{0x42}, n) }
	cases := []struct {
		alg   string
		input []byte
		want  wasicrypto.Errno
	}{
		{"A128GCM", bytesN(16), 0}, {"A128GCM", bytesN(15), wasicrypto.ErrnoInval}, {"A128GCM", bytesN(17), wasicrypto.ErrnoInval},
		{"A192GCM", bytesN(24), 0}, {"A192GCM", bytesN(16), wasicrypto.ErrnoInval},
		{"A256GCM", bytesN(32), 0}, {"A256GCM", bytesN(0), wasicrypto.ErrnoInval},
		{"HS256", bytesN(32), 0}, {"HS256", bytesN(100), 0}, {"HS256", bytesN(31), wasicrypto.ErrnoInval},
		{"HS384", bytesN(48), 0}, {"HS384", bytesN(47), wasicrypto.ErrnoInval},
		{"HS512", bytesN(64), 0}, {"HS512", bytesN(63), wasicrypto.ErrnoInval},
		{"ES256", pkcs8(t, p256), 0}, {"ES256", pkcs8(t, p384), wasicrypto.ErrnoInval},
		{"ES384", pkcs8(t, p384), 0}, {"ES512", pkcs8(t, p256), wasicrypto.ErrnoInval},
		{"ES256", []byte("not DER"), wasicrypto.ErrnoInval}, {"ES256", pkcs8(t, ed), wasicrypto.ErrnoInval},
		{"EdDSA", pkcs8(t, ed), 0}, {"EdDSA", pkcs8(t, p256), wasicrypto.ErrnoInval},
		{"RS256", rsa2048, 0}, {"PS384", rsa2048, 0}, {"RS256", rsa1024, wasicrypto.ErrnoInval},
		{"RS256", pkcs8(t, p256), wasicrypto.ErrnoInval},
		{"ECDH-P256", pkcs8(t, p256), 0}, {"ECDH-P384", pkcs8(t, p256), wasicrypto.ErrnoInval},
		{"X25519", pkcs8(t, x), 0}, {"X25519", pkcs8(t, ed), wasicrypto.ErrnoInval},
	}
	for _, c := range cases {
		g := prepare(t, c.alg)
		a, n := put(c.input)
		t.Must("set_input", raw.GenerateKeySetInput(g, a, n))
		out := newSlot()
		if t.Expect("import "+c.alg+" ("+hex.EncodeToString(c.input[:min(len(c.input), 4)])+"…)", raw.GenerateKey(g, out.addr), c.want) && c.want == 0 {
			t.Must("private_key_close", raw.PrivateKeyClose(out.get()))
		} else if c.want != 0 && !out.untouched() {
			t.Errorf("failed import wrote the out pointer")
		}
	}
	// An imported EC key signs verifiably with the key's own public half.
	k := genKey(t, "ES256", pkcs8(t, p256))
	msg := []byte("imported")
	sig := signOnce(t, "ES256", k, msg, 64)
	sum := sha256.Sum256(msg)
	if !ecdsa.Verify(&p256.PublicKey, sum[:], bigInt(sig[:32]), bigInt(sig[32:])) {
		t.Errorf("signature with imported key does not verify with its public key")
	}
}

func testSettersOnlyForHKDF(t *T) {
	h := openHash(t, "SHA-256")
	a, n := put([]byte("nonce"))
	for _, alg := range keyAlgs {
		g := prepare(t, alg)
		t.Expect(alg+" set_nonce", raw.GenerateKeySetNonce(g, a, n), wasicrypto.ErrnoInval)
		t.Expect(alg+" set_hash", raw.GenerateKeySetHash(g, h), wasicrypto.ErrnoInval)
	}
	g := prepare(t, "HKDF")
	for _, bad := range []string{"SHA-1", "SHA-224", "SHA3-256", "SHAKE128"} {
		t.Expect("HKDF set_hash "+bad, raw.GenerateKeySetHash(g, openHash(t, bad)), wasicrypto.ErrnoInval)
	}
	ia, in := put([]byte("ikm"))
	t.Must("set_input", raw.GenerateKeySetInput(g, ia, in))
	t.Expect("generate_key(HKDF, no hash)", raw.GenerateKey(g, newSlot().addr), wasicrypto.ErrnoInval)
	t.Must("set_nonce(salt)", raw.GenerateKeySetNonce(g, a, n))
	for _, good := range []string{"SHA-256", "SHA-384", "SHA-512"} {
		t.Expect("HKDF set_hash "+good, raw.GenerateKeySetHash(g, openHash(t, good)), 0)
	}
	t.Must("generate_key(HKDF)", raw.GenerateKey(g, newSlot().addr))
}

func testCipherRules(t *T) {
	k := genKey(t, "A128GCM", nil)
	c := cipherOpen(t, k)
	out := newSlot()
	// Nonce exactly 12 bytes.
	for _, n := range []uint32{0, 11, 13, 16} {
		a, _ := alloc(int(n) + 1)
		t.Expect("cipher_set_nonce len", raw.CipherSetNonce(c, a, n), wasicrypto.ErrnoInval)
	}
	// A nonce is required before encrypt_begin; a tag (and nonce) before decrypt_begin.
	t.Expect("encrypt_begin without nonce", raw.CipherEncryptBegin(c, out.addr), wasicrypto.ErrnoInval)
	t.Expect("decrypt_begin without nonce", raw.CipherDecryptBegin(c, out.addr), wasicrypto.ErrnoInval)
	// No tag before any encryption; tag length limits.
	ta, tb := buf(17)
	t.Expect("get_auth_tag before encryption", raw.CipherGetAuthTag(c, ta, 16), wasicrypto.ErrnoInval)
	for _, n := range []uint32{0, 15, 17} {
		t.Expect("set_auth_tag len", raw.CipherSetAuthTag(c, ta, n), wasicrypto.ErrnoInval)
	}
	nonce := []byte("unique-nonce")
	c, ct, tag := encrypt(t, c, nonce, []byte("hello, world"))
	// The nonce must be set again, and may not be the key's last one.
	t.Expect("encrypt_begin without new nonce", raw.CipherEncryptBegin(c, out.addr), wasicrypto.ErrnoInval)
	setNonce(t, c, nonce)
	t.Expect("encrypt_begin with the key's last nonce", raw.CipherEncryptBegin(c, out.addr), wasicrypto.ErrnoInval)
	// Another state of the same key refuses it too.
	c2 := cipherOpen(t, k)
	setNonce(t, c2, nonce)
	t.Expect("encrypt_begin(other state, same key, last nonce)", raw.CipherEncryptBegin(c2, out.addr), wasicrypto.ErrnoInval)
	if !out.untouched() {
		t.Errorf("failed begin wrote the out pointer")
	}
	// Tag prefix and limits.
	t.Expect("get_auth_tag 17", raw.CipherGetAuthTag(c, ta, 17), wasicrypto.ErrnoInval)
	t.Expect("get_auth_tag 0", raw.CipherGetAuthTag(c, ta, 0), wasicrypto.ErrnoInval)
	t.Must("get_auth_tag 5", raw.CipherGetAuthTag(c, ta, 5))
	if !bytes.Equal(tb[:5], tag[:5]) || !allMarker(tb[5:]) {
		t.Errorf("tag prefix: %x", tb)
	}
	// Decrypting needs the tag; a decryption may reuse the nonce.
	setNonce(t, c, nonce)
	t.Expect("decrypt_begin without tag", raw.CipherDecryptBegin(c, out.addr), wasicrypto.ErrnoInval)
	c, pt, e := decrypt(t, c, nonce, ct, tag)
	t.Expect("decrypt", e, 0)
	if string(pt) != "hello, world" {
		t.Errorf("decrypted %q", pt)
	}
	// The tag applies to one decryption.
	t.Expect("decrypt_begin again without tag", raw.CipherDecryptBegin(c, out.addr), wasicrypto.ErrnoInval)
	// A nonce set before a decryption does not serve an encryption after it.
	t.Expect("encrypt_begin after a decryption, no new nonce", raw.CipherEncryptBegin(c, out.addr), wasicrypto.ErrnoInval)

	// One encrypt per begin; output ≥ input; exactly input-length bytes written.
	// An end without an encryption is allowed (the state can always be
	// closed); the nonce stays used and the last tag stays the last tag.
	setNonce(t, c, []byte("skipped-nonc"))
	t.Must("encrypt_begin", raw.CipherEncryptBegin(c, out.addr))
	o2 := newSlot()
	t.Must("encrypt_end without encrypt", raw.CipherEncryptEnd(out.get(), o2.addr))
	c = o2.get()
	t.Must("get_auth_tag after empty series", raw.CipherGetAuthTag(c, ta, 16))
	if !bytes.Equal(tb[:16], tag) {
		t.Errorf("an empty series changed the last tag")
	}
	setNonce(t, c, []byte("skipped-nonc"))
	t.Expect("encrypt_begin(nonce of the empty series)", raw.CipherEncryptBegin(c, out.addr), wasicrypto.ErrnoInval)

	setNonce(t, c, []byte("second-nonce"))
	t.Must("encrypt_begin", raw.CipherEncryptBegin(c, out.addr))
	enc := out.get()
	pa, pn := put([]byte("0123456789"))
	ca, cb := buf(20)
	t.Expect("encrypt into 9 bytes", raw.CipherEncrypt(enc, pa, pn, ca, 9), wasicrypto.ErrnoRange)
	if !allMarker(cb) {
		t.Errorf("range wrote the ciphertext buffer")
	}
	t.Must("encrypt into 20 bytes", raw.CipherEncrypt(enc, pa, pn, ca, 20))
	if allMarker(cb[:10]) || !allMarker(cb[10:]) {
		t.Errorf("encrypt wrote %x, want exactly 10 bytes", cb)
	}
	t.Expect("second encrypt", raw.CipherEncrypt(enc, pa, pn, ca, 20), wasicrypto.ErrnoInval)
	t.Must("encrypt_end", raw.CipherEncryptEnd(enc, o2.addr))
	c = o2.get()

	// Decrypt: output ≥ input, one per begin.
	ta2, _ := put(tag)
	setNonce(t, c, nonce)
	t.Must("set_auth_tag", raw.CipherSetAuthTag(c, ta2, 16))
	t.Must("decrypt_begin", raw.CipherDecryptBegin(c, out.addr))
	dec := out.get()
	xa, xn := put(ct)
	da, db := buf(len(ct) + 4)
	t.Expect("decrypt into short buffer", raw.CipherDecrypt(dec, xa, xn, da, xn-1), wasicrypto.ErrnoRange)
	t.Must("decrypt", raw.CipherDecrypt(dec, xa, xn, da, uint32(len(db))))
	if string(db[:len(ct)]) != "hello, world" || !allMarker(db[len(ct):]) {
		t.Errorf("decrypt wrote %q", db)
	}
	t.Expect("second decrypt", raw.CipherDecrypt(dec, xa, xn, da, uint32(len(db))), wasicrypto.ErrnoInval)
	t.Must("decrypt_end", raw.CipherDecryptEnd(dec, o2.addr))
	// A decryption series may end without a decryption; the tag is spent.
	setNonce(t, o2.get(), nonce)
	t.Must("set_auth_tag", raw.CipherSetAuthTag(o2.get(), ta2, 16))
	t.Must("decrypt_begin", raw.CipherDecryptBegin(o2.get(), out.addr))
	t.Must("decrypt_end without decrypt", raw.CipherDecryptEnd(out.get(), o2.addr))
	t.Expect("decrypt_begin (tag spent)", raw.CipherDecryptBegin(o2.get(), out.addr), wasicrypto.ErrnoInval)

	// cipher_open needs an AEAD key.
	for _, alg := range []string{"HS256", "ES256", "X25519"} {
		t.Expect("cipher_open("+alg+" key)", raw.CipherOpen(genKey(t, alg, nil), out.addr), wasicrypto.ErrnoInval)
	}
	t.Expect("cipher_open(HKDF key)", raw.CipherOpen(hkdfKey(t, "SHA-256", []byte("x"), nil), out.addr), wasicrypto.ErrnoInval)
}

func testAADPersists(t *T) {
	keyBytes := bytes.Repeat([]byte{7}, 16)
	k := genKey(t, "A128GCM", keyBytes)
	c := cipherOpen(t, k)
	setAAD(t, c, []byte("header"))
	var cts, tags [][]byte
	for i := 0; i < 2; i++ {
		var ct, tag []byte
		c, ct, tag = encrypt(t, c, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, []byte("msg"))
		cts, tags = append(cts, ct), append(tags, tag)
	}
	// A second key of the same bytes with the same AAD set once opens both.
	k2 := genKey(t, "A128GCM", keyBytes)
	d := cipherOpen(t, k2)
	setAAD(t, d, []byte("header"))
	for i := 0; i < 2; i++ {
		var pt []byte
		var e uint32
		d, pt, e = decrypt(t, d, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, cts[i], tags[i])
		if !t.Expect("decrypt with persisted AAD", e, 0) {
			return
		}
		if string(pt) != "msg" {
			t.Errorf("pt %q", pt)
		}
	}
	// Changing the AAD breaks authentication.
	setAAD(t, d, []byte("other"))
	_, _, e := decrypt(t, d, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, cts[0], tags[0])
	t.Expect("decrypt with other AAD", e, wasicrypto.ErrnoBadmsg)
}

func testSignAlgMatch(t *T) {
	out := newSlot()
	for _, c := range []struct{ key, alg string }{
		{"ES256", "ES384"}, {"ES256", "EdDSA"}, {"HS256", "HS384"}, {"EdDSA", "ES256"},
	} {
		k := genKey(t, c.key, nil)
		a, n := str(c.alg)
		t.Expect("sign_open("+c.alg+", "+c.key+" key)", raw.SignOpen(a, n, k, out.addr), wasicrypto.ErrnoInval)
	}
	for _, alg := range []string{"RS384", "PS256"} {
		k := genKey(t, "RS256", rsa2048)
		a, n := str(alg)
		t.Expect("sign_open("+alg+", RS256 key)", raw.SignOpen(a, n, k, out.addr), wasicrypto.ErrnoInval)
	}
	a, n := str("ES256")
	t.Expect("sign_open(ES256, AES key)", raw.SignOpen(a, n, genKey(t, "A128GCM", nil), out.addr), wasicrypto.ErrnoInval)
	t.Expect("sign_open(ES256, ECDH key)", raw.SignOpen(a, n, genKey(t, "ECDH-P256", nil), out.addr), wasicrypto.ErrnoInval)
	if !out.untouched() {
		t.Errorf("failed sign_open wrote the out pointer")
	}
}

var sigSizes = []struct {
	alg  string
	size int
}{{"ES256", 64}, {"ES384", 96}, {"ES512", 132}, {"EdDSA", 64}, {"RS256", 256}, {"PS512", 256}, {"HS256", 32}, {"HS384", 48}, {"HS512", 64}}

func sigKey(t *T, alg string) uint32 {
	if alg[0] == 'R' || alg[0] == 'P' {
		return genKey(t, alg, rsa2048)
	}
	return genKey(t, alg, nil)
}

func testSignOutputs(t *T) {
	for _, s := range sigSizes {
		k := sigKey(t, s.alg)
		st := signBegin(t, signOpen(t, s.alg, k))
		signUpdate(t, st, []byte("message"))
		a, b := buf(s.size + 1)
		t.Expect(s.alg+" sign len 0", raw.Sign(st, a, 0), wasicrypto.ErrnoInval)
		t.Expect(s.alg+" sign len size+1", raw.Sign(st, a, uint32(s.size+1)), wasicrypto.ErrnoInval)
		if !allMarker(b) {
			t.Errorf("%s: failed sign wrote", s.alg)
		}
		t.Must("sign full", raw.Sign(st, a, uint32(s.size)))
		if !allMarker(b[s.size:]) {
			t.Errorf("%s: signature longer than %d", s.alg, s.size)
		}
		// A prefix: deterministic algorithms give the same bytes.
		p, pb := buf(10)
		t.Must("sign prefix", raw.Sign(st, p, 10))
		if deterministic := s.alg[0] == 'R' || s.alg[0] == 'H' || s.alg == "EdDSA"; deterministic {
			if !bytes.Equal(pb, b[:10]) {
				t.Errorf("%s: prefix %x, full %x", s.alg, pb, b[:10])
			}
		}
	}
}

func testSignRepeatable(t *T) {
	key := bytes.Repeat([]byte("k"), 32)
	k := genKey(t, "HS256", key)
	mac := func(parts ...string) []byte {
		m := hmac.New(sha256.New, key)
		for _, p := range parts {
			m.Write([]byte(p))
		}
		return m.Sum(nil)
	}
	s := signBegin(t, signOpen(t, "HS256", k))
	signUpdate(t, s, []byte("part one "))
	if got := signOut(t, s, 32); !bytes.Equal(got, mac("part one ")) {
		t.Errorf("first MAC wrong")
	}
	if got := signOut(t, s, 32); !bytes.Equal(got, mac("part one ")) {
		t.Errorf("repeated sign differs")
	}
	signUpdate(t, s, []byte("part two"))
	if got := signOut(t, s, 32); !bytes.Equal(got, mac("part one ", "part two")) {
		t.Errorf("sign_update after sign: MAC does not cover all data since sign_begin")
	}
	out := newSlot()
	t.Must("sign_end", raw.SignEnd(s, out.addr))
	s2 := signBegin(t, out.get())
	signUpdate(t, s2, []byte("fresh"))
	if got := signOut(t, s2, 32); !bytes.Equal(got, mac("fresh")) {
		t.Errorf("sign_end did not drop the data")
	}
	// EdDSA (buffered) behaves the same.
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ek := genKey(t, "EdDSA", pkcs8(t, edPriv))
	es := signBegin(t, signOpen(t, "EdDSA", ek))
	signUpdate(t, es, []byte("ab"))
	signUpdate(t, es, []byte("cd"))
	if got := signOut(t, es, 64); !bytes.Equal(got, ed25519.Sign(edPriv, []byte("abcd"))) {
		t.Errorf("EdDSA signature differs from the standard library's")
	}
	signUpdate(t, es, []byte("ef"))
	if got := signOut(t, es, 64); !bytes.Equal(got, ed25519.Sign(edPriv, []byte("abcdef"))) {
		t.Errorf("EdDSA sign_update after sign")
	}
}

func testSignSetNonce(t *T) {
	for _, s := range sigSizes {
		st := signOpen(t, s.alg, sigKey(t, s.alg))
		for _, n := range []uint32{0, 12, 32} {
			a, _ := alloc(int(n))
			t.Expect(s.alg+" sign_set_nonce", raw.SignSetNonce(st, a, n), wasicrypto.ErrnoInval)
		}
	}
}

func testSignVerifiedOnHost(t *T) {
	msg := []byte(`{"sub":"guest","n":42}`)
	for _, alg := range []string{"ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
		k := sigKey(t, alg)
		size := 64
		switch alg {
		case "ES384":
			size = 96
		case "ES512":
			size = 132
		}
		if alg[0] == 'R' || alg[0] == 'P' {
			size = 256
		}
		sigLine(alg, exportPublic(t, k), msg, signOnce(t, alg, k, msg, size))
	}
	// A generated RSA key, once (generation is slow).
	k := genKey(t, "PS256", nil)
	sigLine("PS256", exportPublic(t, k), msg, signOnce(t, "PS256", k, msg, 256))
}

func testHKDFKnownAnswer(t *T) {
	// RFC 5869 Appendix A.1 (SHA-256) and A.3 (no salt, no info).
	ikm := bytes.Repeat([]byte{0x0b}, 22)
	salt, _ := hex.DecodeString("000102030405060708090a0b0c")
	info, _ := hex.DecodeString("f0f1f2f3f4f5f6f7f8f9")
	want, _ := hex.DecodeString("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
	if got := expand(t, hkdfKey(t, "SHA-256", ikm, salt), info, 42); !bytes.Equal(got, want) {
		t.Errorf("RFC 5869 A.1: %x", got)
	}
	want3, _ := hex.DecodeString("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
	if got := expand(t, hkdfKey(t, "SHA-256", ikm, nil), nil, 42); !bytes.Equal(got, want3) {
		t.Errorf("RFC 5869 A.3: %x", got)
	}
}

func testHKDFRules(t *T) {
	prk := hkdfKey(t, "SHA-384", []byte("ikm"), []byte("salt"))
	d := deriveOpen(t, "HKDF", prk)
	t.Expect("set_hash SHA-256 on a SHA-384 PRK", raw.DeriveKeySetHash(d, openHash(t, "SHA-256")), wasicrypto.ErrnoInval)
	t.Must("set_hash SHA-384", raw.DeriveKeySetHash(d, openHash(t, "SHA-384")))
	a, b := buf(255*48 + 1)
	t.Expect("derive 0", raw.DeriveKey(d, a, 0), wasicrypto.ErrnoInval)
	t.Expect("derive 255*48+1", raw.DeriveKey(d, a, 255*48+1), wasicrypto.ErrnoInval)
	if !allMarker(b) {
		t.Errorf("failed derive wrote")
	}
	t.Must("derive 255*48", raw.DeriveKey(d, a, 255*48))
	// Output is a prefix-consistent stream: shorter lengths give prefixes.
	long := append([]byte(nil), b[:255*48]...)
	if got := expand(t, prk, nil, 20); !bytes.Equal(got, long[:20]) {
		t.Errorf("HKDF output of 20 bytes is not a prefix of the long output")
	}
	// A PRK key is only for HKDF.
	out := newSlot()
	ha, hn := str("HKDF")
	t.Expect("derive_key_prepare(HKDF, ES256 key)", raw.DeriveKeyPrepare(ha, hn, genKey(t, "ES256", nil), out.addr), wasicrypto.ErrnoInval)
	xa, xn := str("X25519")
	t.Expect("derive_key_prepare(X25519, PRK)", raw.DeriveKeyPrepare(xa, xn, prk, out.addr), wasicrypto.ErrnoInval)
}

func testKeyAgreement(t *T) {
	for _, c := range []struct {
		alg   string
		curve ecdh.Curve
	}{{"ECDH-P256", ecdh.P256()}, {"ECDH-P384", ecdh.P384()}, {"X25519", ecdh.X25519()}} {
		local, _ := c.curve.GenerateKey(rand.Reader)
		k := genKey(t, c.alg, nil)
		spki := exportPublic(t, k)
		hostPub := publicFromSPKI(t, c.curve, spki)
		want, err := local.ECDH(hostPub)
		if err != nil {
			t.Errorf("%s: local ECDH: %v", c.alg, err)
			continue
		}
		d := deriveOpen(t, c.alg, k)
		a, b := buf(len(want) + 1)
		t.Expect(c.alg+" derive without peer", raw.DeriveKey(d, a, uint32(len(want))), wasicrypto.ErrnoInval)
		t.Expect(c.alg+" set_hash", raw.DeriveKeySetHash(d, openHash(t, "SHA-256")), wasicrypto.ErrnoInval)
		// Not on the curve; for X25519, a low-order point (all-zero secret).
		bad := bytes.Repeat([]byte{0x04}, len(local.PublicKey().Bytes()))
		if c.alg == "X25519" {
			bad = make([]byte, 32)
		}
		ba, bn := put(bad)
		t.Must("set_nonce(bad peer)", raw.DeriveKeySetNonce(d, ba, bn))
		t.Expect(c.alg+" derive with invalid peer", raw.DeriveKey(d, a, uint32(len(want))), wasicrypto.ErrnoInval)
		pa, pn := put(local.PublicKey().Bytes())
		t.Must("set_nonce(peer)", raw.DeriveKeySetNonce(d, pa, pn))
		t.Expect(c.alg+" derive longer than the secret", raw.DeriveKey(d, a, uint32(len(want)+1)), wasicrypto.ErrnoInval)
		if !allMarker(b) {
			t.Errorf("failed derive wrote")
		}
		t.Must("derive", raw.DeriveKey(d, a, uint32(len(want))))
		if !bytes.Equal(b[:len(want)], want) {
			t.Errorf("%s: shared secret differs", c.alg)
		}
		// A prefix.
		d2 := deriveOpen(t, c.alg, k)
		t.Must("set_nonce(peer)", raw.DeriveKeySetNonce(d2, pa, pn))
		p, pb := alloc(8)
		t.Must("derive prefix", raw.DeriveKey(d2, p, 8))
		if !bytes.Equal(pb, want[:8]) {
			t.Errorf("%s: prefix differs", c.alg)
		}
	}
}

func publicFromSPKI(t *T, curve ecdh.Curve, spki []byte) *ecdh.PublicKey {
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		t.Errorf("parse SPKI: %v", err)
		panic(fatal{})
	}
	switch p := pub.(type) {
	case *ecdh.PublicKey:
		return p
	case *ecdsa.PublicKey:
		e, err := p.ECDH()
		if err != nil {
			t.Errorf("ECDH public key: %v", err)
			panic(fatal{})
		}
		return e
	}
	t.Errorf("SPKI holds %T", pub)
	panic(fatal{})
}
