package wasicrypto

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"testing"
)

func TestSignatureSize(t *testing.T) {
	tests := []struct {
		alg  string
		want int
	}{
		{"ES256", 64}, {"ES384", 96}, {"ES512", 132}, {"EdDSA", 64},
		{"HS256", 32}, {"HS384", 48}, {"HS512", 64},
		{"RS256", 0}, {"PS512", 0}, {"es256", 0}, {"", 0},
	}
	for _, tt := range tests {
		if got := signatureSize(tt.alg); got != tt.want {
			t.Errorf("signatureSize(%q) = %d, want %d", tt.alg, got, tt.want)
		}
	}
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
		if !isRSA(alg) {
			t.Errorf("isRSA(%q) = false", alg)
		}
	}
	if isRSA("ES256") {
		t.Errorf("isRSA(ES256) = true")
	}
}

func TestDigestSize(t *testing.T) {
	tests := []struct {
		alg  string
		want int
	}{
		{"SHA-1", 20}, {"SHA-224", 28}, {"SHA-256", 32}, {"SHA-384", 48}, {"SHA-512", 64},
		{"SHA3-224", 28}, {"SHA3-256", 32}, {"SHA3-384", 48}, {"SHA3-512", 64},
		{"SHAKE128", 32}, {"SHAKE256", 64}, {"sha-256", 0}, {"MD5", 0},
	}
	for _, tt := range tests {
		if got := digestSize(tt.alg); got != tt.want {
			t.Errorf("digestSize(%q) = %d, want %d", tt.alg, got, tt.want)
		}
	}
}

func TestSharedSecretSize(t *testing.T) {
	tests := []struct {
		alg  string
		want int
	}{
		{"ECDH-P256", 32}, {"ECDH-P384", 48}, {"X25519", 32}, {"ECDH-P521", 0},
	}
	for _, tt := range tests {
		if got := sharedSecretSize(tt.alg); got != tt.want {
			t.Errorf("sharedSecretSize(%q) = %d, want %d", tt.alg, got, tt.want)
		}
	}
}

func TestRSAModulusLen(t *testing.T) {
	for _, bits := range []int{2048, 2056} {
		key, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rsaModulusLen(spki)
		if err != nil || got != key.Size() {
			t.Errorf("rsaModulusLen(RSA-%d) = %d, %v; want %d", bits, got, err, key.Size())
		}
		if _, err := rsaModulusLen(spki[:len(spki)-1]); err == nil {
			t.Errorf("rsaModulusLen(truncated RSA-%d) succeeded", bits)
		}
	}
}

func TestRSAModulusLenRejects(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSPKI, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string][]byte{
		"empty":          nil,
		"EC key":         ecSPKI,
		"not a sequence": {0x02, 0x01, 0x00},
		"length beyond":  {0x30, 0x82, 0xff, 0xff},
		"zero modulus": {
			0x30, 0x0c,
			0x30, 0x00, // AlgorithmIdentifier (contents not checked)
			0x03, 0x08, 0x00, // BIT STRING, no unused bits
			0x30, 0x05, 0x02, 0x01, 0x00, 0x02, 0x00,
		},
	}
	for name, spki := range tests {
		if n, err := rsaModulusLen(spki); err != errBadSPKI {
			t.Errorf("%s: rsaModulusLen = %d, %v; want errBadSPKI", name, n, err)
		}
	}
}

func FuzzRSAModulusLen(f *testing.F) {
	f.Add([]byte{0x30, 0x0c, 0x30, 0x00, 0x03, 0x08, 0x00, 0x30, 0x05, 0x02, 0x01, 0x7f, 0x02, 0x00})
	f.Fuzz(func(t *testing.T, spki []byte) {
		n, err := rsaModulusLen(spki)
		if err == nil && (n < 1 || n > len(spki)) {
			t.Errorf("rsaModulusLen = %d for %d input bytes", n, len(spki))
		}
	})
}
