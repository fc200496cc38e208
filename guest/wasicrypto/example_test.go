//go:build wasip1

package wasicrypto_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"math/big"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
)

func ExampleHash() {
	digest, err := wasicrypto.Hash("SHA-256", []byte("hello"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hex.EncodeToString(digest))
	// Output: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
}

func ExampleXOF() {
	out, err := wasicrypto.XOF("SHAKE128", []byte("hello"), 16)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hex.EncodeToString(out))
	// Output: 8eb4b6a932f280335ee1a279f8c208a3
}

func ExampleNewHasher() {
	h, err := wasicrypto.NewHasher("SHA-256")
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	fmt.Fprint(h, "hel")
	fmt.Fprint(h, "lo")
	digest, err := h.Sum(0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hex.EncodeToString(digest))
	// Output: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
}

// An HMAC key imported from known bytes gives a reproducible MAC.
func ExampleSign_hmac() {
	key, err := wasicrypto.ImportKey("HS256", []byte("a 32-byte key for the HS256 demo"))
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	mac, err := wasicrypto.Sign("HS256", key, []byte("hello"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hex.EncodeToString(mac))
	// Output: 375667bde4b0ac2b64dc849efa5b0afa3a7f1f784e14c71a3c1434d45423cccd
}

// The host signs; the guest verifies with the standard library, since the
// API has no verification.
func ExampleNewSigner() {
	key, err := wasicrypto.GenerateKey("ES256")
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()

	s, err := wasicrypto.NewSigner("ES256", key)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	msg := []byte("a message to sign")
	s.Write(msg)
	sig, err := s.Sign() // r‖s, 64 bytes
	if err != nil {
		log.Fatal(err)
	}

	spki, err := key.PublicKey()
	if err != nil {
		log.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		log.Fatal(err)
	}
	digest := sha256.Sum256(msg)
	r := new(big.Int).SetBytes(sig[:32])
	sv := new(big.Int).SetBytes(sig[32:])
	fmt.Println("signature bytes:", len(sig))
	fmt.Println("verified:", ecdsa.Verify(pub.(*ecdsa.PublicKey), digest[:], r, sv))
	// Output:
	// signature bytes: 64
	// verified: true
}

func ExampleNewAEAD() {
	key, err := wasicrypto.ImportKey("A256GCM", []byte("an AES-256 key of 32 bytes long!"))
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	aead, err := wasicrypto.NewAEAD(key) // a cipher.AEAD
	if err != nil {
		log.Fatal(err)
	}
	defer aead.Close()

	// A fixed nonce only to make the output reproducible: use a fresh
	// random nonce for every message.
	nonce := []byte("unique nonce")
	sealed := aead.Seal(nil, nonce, []byte("attack at dawn"), []byte("header"))
	fmt.Println(hex.EncodeToString(sealed))

	plaintext, err := aead.Open(nil, nonce, sealed, []byte("header"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", plaintext)

	sealed[0] ^= 1
	_, err = aead.Open(nil, nonce, sealed, []byte("header"))
	fmt.Println(errors.Is(err, wasicrypto.ErrnoBadmsg))
	// Output:
	// 61cfb6deacd45314e55204efeeb119dec79be9b1ad6f5629ac5b3133f32d
	// attack at dawn
	// true
}

// Test case 1 of RFC 5869.
func ExampleHKDFExpand() {
	ikm := bytes.Repeat([]byte{0x0b}, 22)
	salt, _ := hex.DecodeString("000102030405060708090a0b0c")
	info, _ := hex.DecodeString("f0f1f2f3f4f5f6f7f8f9")

	prk, err := wasicrypto.NewHKDFKey("SHA-256", ikm, salt)
	if err != nil {
		log.Fatal(err)
	}
	defer prk.Close()
	okm, err := wasicrypto.HKDFExpand(prk, info, 42)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hex.EncodeToString(okm))
	// Output: 3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865
}

// The host's half of a key agreement with a peer whose key the guest holds.
func ExampleECDH() {
	key, err := wasicrypto.GenerateKey("ECDH-P256")
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}

	hostSecret, err := wasicrypto.ECDH("ECDH-P256", key, peer.PublicKey().Bytes())
	if err != nil {
		log.Fatal(err)
	}

	spki, err := key.PublicKey()
	if err != nil {
		log.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		log.Fatal(err)
	}
	hostPub, err := pub.(*ecdsa.PublicKey).ECDH()
	if err != nil {
		log.Fatal(err)
	}
	peerSecret, err := peer.ECDH(hostPub)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same secret:", bytes.Equal(hostSecret, peerSecret))
	// Output: same secret: true
}

// A managed key is provisioned by the operator; its name comes from the
// guest's configuration.
func ExampleOpenManagedKey() {
	key, err := wasicrypto.OpenManagedKey("release-signing")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Fatal("no managed key release-signing on this host")
	case errors.Is(err, fs.ErrPermission):
		log.Fatal("this guest may not use release-signing")
	case err != nil:
		log.Fatal(err)
	}
	defer key.Close()

	sig, err := wasicrypto.Sign("ES256", key, []byte("release v1.2.3"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hex.EncodeToString(sig))
}
