package bench

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"math/big"
	"testing"
)

// keyBytes is the guest's MAC and AES key material: 1, 2, 3, … n.
func keyBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return b
}

// unhex decodes the fields of an answer, failing tb when one is not hex.
func unhex(tb testing.TB, what string, fields []string, n int) [][]byte {
	tb.Helper()
	if len(fields) != n {
		tb.Fatalf("bench: %s answered %d fields %v, want %d", what, len(fields), fields, n)
	}
	out := make([][]byte, n)
	for i, f := range fields {
		b, err := hex.DecodeString(f)
		if err != nil {
			tb.Fatalf("bench: %s answered %q: %v", what, f, err)
		}
		out[i] = b
	}
	return out
}

// checkSignature verifies the answer of "sign ALG N" (signature and
// SubjectPublicKeyInfo) over the guest's 64-byte message.
func checkSignature(tb testing.TB, alg string, answer []string) {
	tb.Helper()
	f := unhex(tb, "sign "+alg, answer, 2)
	pub, err := x509.ParsePKIXPublicKey(f[1])
	if err != nil {
		tb.Fatalf("bench: sign %s: public key: %v", alg, err)
	}
	verifySignature(tb, alg, pub, f[0])
}

// verifySignature checks sig (r‖s for ES256) of the guest's message.
func verifySignature(tb testing.TB, alg string, pub any, sig []byte) {
	tb.Helper()
	msg := pattern(64)
	var ok bool
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		digest := sha256.Sum256(msg)
		ok = alg == "ES256" && len(sig) == 64 &&
			ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	case ed25519.PublicKey:
		ok = alg == "EdDSA" && ed25519.Verify(k, msg, sig)
	default:
		tb.Fatalf("bench: sign %s: a public key of type %T", alg, pub)
	}
	if !ok {
		tb.Fatalf("bench: sign %s: the signature %x does not verify", alg, sig)
	}
}

// wantMAC is HS256 of the guest's message with the guest's key.
func wantMAC() []byte {
	m := hmac.New(sha256.New, keyBytes(64))
	m.Write(pattern(64))
	return m.Sum(nil)
}

// checkMAC compares the answer of "hmac HS256 N" with the standard library.
func checkMAC(tb testing.TB, answer []string) {
	tb.Helper()
	if got := unhex(tb, "hmac HS256", answer, 1)[0]; !hmac.Equal(got, wantMAC()) {
		tb.Fatalf("bench: hmac HS256 = %x, want %x", got, wantMAC())
	}
}

// gcmTag is the A256GCM tag of size pattern bytes under the guest's key
// and nonce.
func gcmTag(tb testing.TB, nonce []byte, size int) []byte {
	tb.Helper()
	block, err := aes.NewCipher(keyBytes(32))
	if err != nil {
		tb.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		tb.Fatal(err)
	}
	sealed := aead.Seal(nil, nonce, pattern(size), nil)
	return sealed[size:]
}

// checkGCM checks the answer of "gcm A256GCM SIZE N": the first nonce and
// the tag of the last seal, whose nonce is n-1 after the first.
func checkGCM(tb testing.TB, size, n int, answer []string) {
	tb.Helper()
	f := unhex(tb, "gcm A256GCM", answer, 2)
	nonce := new(big.Int).SetBytes(f[0])
	nonce.Add(nonce, big.NewInt(int64(n-1)))
	last := nonce.FillBytes(make([]byte, 12))
	if want := gcmTag(tb, last, size); !hmac.Equal(f[1], want) {
		tb.Fatalf("bench: gcm A256GCM %d: the tag %x, want %x", size, f[1], want)
	}
}
