package wasicrypto

import "errors"

// The output sizes the contract fixes (docs/semantics.md#algorithms). They live in a portable
// file so that they are tested on the host too.

// digestSize returns the digest size of a hash in bytes, and for the XOFs
// the length that gives their full security strength (SHAKE128 32,
// SHAKE256 64). It returns 0 for a name the contract does not list.
func digestSize(alg string) int {
	switch alg {
	case "SHA-1":
		return 20
	case "SHA-224", "SHA3-224":
		return 28
	case "SHA-256", "SHA3-256", "SHAKE128":
		return 32
	case "SHA-384", "SHA3-384":
		return 48
	case "SHA-512", "SHA3-512", "SHAKE256":
		return 64
	}
	return 0
}

// isRSA reports whether alg is an RSA signature algorithm, whose signature
// is as long as the key's modulus.
func isRSA(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return true
	}
	return false
}

// signatureSize returns the fixed signature (or MAC) size of alg in bytes;
// 0 for the RSA algorithms, whose size depends on the key, and for names
// the contract does not list.
func signatureSize(alg string) int {
	switch alg {
	case "HS256":
		return 32
	case "HS384":
		return 48
	case "HS512", "ES256", "EdDSA":
		return 64
	case "ES384":
		return 96
	case "ES512":
		return 132
	}
	return 0
}

// sharedSecretSize returns the size of the shared secret of a key agreement
// algorithm in bytes, 0 for a name the contract does not list.
func sharedSecretSize(alg string) int {
	switch alg {
	case "ECDH-P256", "X25519":
		return 32
	case "ECDH-P384":
		return 48
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
