package wasicrypto

import (
	"errors"

	"github.com/wasihsm/wasihsm/spec"
)

// The output sizes come from the contract's algorithm table (package
// spec). They live in a portable file so that they are tested on the host
// too.

// digestSize returns the digest size of a hash in bytes, and for the XOFs
// the length that gives their full security strength (SHAKE128 32,
// SHAKE256 64: twice the strength, in bytes — the SDK's choice, since the
// contract lets the caller choose). It returns 0 for a name the contract
// does not list.
func digestSize(alg string) int {
	a, _ := spec.Lookup(alg)
	switch a.Kind {
	case spec.KindHash:
		return a.OutputSize
	case spec.KindXOF:
		switch alg {
		case "SHAKE128":
			return 32
		case "SHAKE256":
			return 64
		}
	}
	return 0
}

// isRSA reports whether alg is an RSA signature algorithm, whose signature
// is as long as the key's modulus.
func isRSA(alg string) bool {
	a, _ := spec.Lookup(alg)
	return a.IsRSA()
}

// signatureSize returns the fixed signature (or MAC) size of alg in bytes;
// 0 for the RSA algorithms, whose size depends on the key, and for names
// the contract does not list.
func signatureSize(alg string) int {
	a, _ := spec.Lookup(alg)
	if a.Kind == spec.KindSignature || a.Kind == spec.KindMAC {
		return a.OutputSize
	}
	return 0
}

// sharedSecretSize returns the size of the shared secret of a key agreement
// algorithm in bytes, 0 for a name the contract does not list.
func sharedSecretSize(alg string) int {
	a, _ := spec.Lookup(alg)
	if a.Kind == spec.KindKeyAgreement {
		return a.OutputSize
	}
	return 0
}

var errBadSPKI = errors.New("malformed RSA SubjectPublicKeyInfo")

// rsaModulusLen returns the length in bytes of the modulus of an RSA public
// key given as DER SubjectPublicKeyInfo: the length of its signatures. It
// reads just enough DER for that, so that guests need not link crypto/x509.
//
//	SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
//	RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
func rsaModulusLen(spki []byte) (int, error) {
	const (
		tagInteger   = 0x02
		tagBitString = 0x03
		tagSequence  = 0x30
	)
	spkiBody, _, ok := derElement(spki, tagSequence)
	if !ok {
		return 0, errBadSPKI
	}
	_, rest, ok := derElement(spkiBody, tagSequence) // AlgorithmIdentifier
	if !ok {
		return 0, errBadSPKI
	}
	bits, _, ok := derElement(rest, tagBitString)
	if !ok || len(bits) < 1 || bits[0] != 0 { // no unused bits
		return 0, errBadSPKI
	}
	rsaBody, _, ok := derElement(bits[1:], tagSequence)
	if !ok {
		return 0, errBadSPKI
	}
	modulus, _, ok := derElement(rsaBody, tagInteger)
	if !ok || len(modulus) == 0 || modulus[0]&0x80 != 0 { // empty or negative
		return 0, errBadSPKI
	}
	for len(modulus) > 0 && modulus[0] == 0 {
		modulus = modulus[1:]
	}
	if len(modulus) == 0 {
		return 0, errBadSPKI
	}
	return len(modulus), nil
}

// derElement reads one DER element with the given tag from the start of b
// and returns its contents and what follows it.
func derElement(b []byte, tag byte) (contents, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, nil, false
	}
	n, b := int(b[1]), b[2:]
	if n&0x80 != 0 { // long form: the next n&0x7f bytes are the length
		k := n & 0x7f
		if k == 0 || k > 3 || len(b) < k {
			return nil, nil, false
		}
		n = 0
		for _, c := range b[:k] {
			n = n<<8 | int(c)
		}
		b = b[k:]
	}
	if n > len(b) {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}
