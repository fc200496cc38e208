//go:build wasip1

package wasicrypto_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
)

// TestAppendSign: AppendSign appends the MAC to dst (keeping what dst
// held), agrees with Sign and with crypto/hmac, allocates nothing in the
// guest when dst has room, and on an error returns dst as it was.
func TestAppendSign(t *testing.T) {
	keyBytes := []byte("a 32-byte key for the HS256 test")
	key, err := wasicrypto.ImportKey("HS256", keyBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	msg := []byte("hello")
	m := hmac.New(sha256.New, keyBytes)
	m.Write(msg)
	want := m.Sum(nil)

	sig, err := wasicrypto.Sign("HS256", key, msg)
	if err != nil || !bytes.Equal(sig, want) {
		t.Fatalf("Sign = %x, %v; want %x", sig, err, want)
	}
	dst := append(make([]byte, 0, 64), "prefix"...)
	out, err := wasicrypto.AppendSign(dst, "HS256", key, msg)
	if err != nil || string(out[:6]) != "prefix" || !bytes.Equal(out[6:], want) {
		t.Fatalf("AppendSign = %q, %v; want prefix and %x", out, err, want)
	}
	if &out[0] != &dst[:1][0] {
		t.Error("AppendSign did not use dst's room")
	}
	short := []byte("x")
	if out, err := wasicrypto.AppendSign(short, "HS256", key, msg); err != nil || string(out[:1]) != "x" || !bytes.Equal(out[1:], want) {
		t.Errorf("AppendSign into a full slice = %q, %v", out, err)
	}

	var buf [32]byte
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := wasicrypto.AppendSign(buf[:0], "HS256", key, msg); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendSign with room allocates %v times per call, want 0", allocs)
	}

	s, err := wasicrypto.NewSigner("HS256", key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(msg); err != nil {
		t.Fatal(err)
	}
	out, err = s.AppendSign(dst)
	if err != nil || !bytes.Equal(out[6:], want) {
		t.Fatalf("Signer.AppendSign = %x, %v", out, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out, err = s.AppendSign(dst)
	if !errors.Is(err, wasicrypto.ErrnoBadf) || string(out) != "prefix" {
		t.Errorf("AppendSign on a closed Signer = %q, %v; want dst unchanged and badf", out, err)
	}
}
