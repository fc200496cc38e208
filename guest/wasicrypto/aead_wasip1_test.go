//go:build wasip1

package wasicrypto_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
)

// TestAEADLargeMessage: Seal and Open of a message larger than the
// scratch buffer a host instance keeps (64 KiB) agree with the standard
// library, into a separate buffer and in place.
func TestAEADLargeMessage(t *testing.T) {
	keyBytes := bytes.Repeat([]byte{7}, 32)
	key, err := wasicrypto.ImportKey("A256GCM", keyBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	a, err := wasicrypto.NewAEAD(key)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	block, err := aes.NewCipher(keyBytes)
	if err != nil {
		t.Fatal(err)
	}
	std, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 200<<10+3)
	for i := range msg {
		msg[i] = byte(i * 31)
	}
	aad := []byte("header")
	for i, inPlace := range []bool{false, true} {
		nonce := make([]byte, 12)
		nonce[11] = byte(i + 1) // a new nonce for each seal
		want := std.Seal(nil, nonce, msg, aad)
		buf := bytes.Clone(msg)
		dst := []byte(nil)
		if inPlace {
			dst = buf[:0]
		}
		sealed := a.Seal(dst, nonce, buf, aad)
		if !bytes.Equal(sealed, want) {
			t.Fatalf("in place %t: Seal differs from crypto/cipher", inPlace)
		}
		if inPlace {
			dst = sealed[:0]
		}
		opened, err := a.Open(dst, nonce, sealed, aad)
		if err != nil || !bytes.Equal(opened, msg) {
			t.Fatalf("in place %t: Open = %d bytes, %v; want the message back", inPlace, len(opened), err)
		}
	}
}
