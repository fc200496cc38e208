//go:build cgo

package hsm

// PKCS#11 3.0 constants that github.com/miekg/pkcs11 v1.1.2 (built on the
// v2.40 headers) lacks. The values are those of the OASIS PKCS#11 3.0
// pkcs11t.h, checked against NSS's copy of it (/usr/include/nss/pkcs11t.h)
// and, where it has them, p11-kit's pkcs11.h. This is the one place they
// are defined.
const (
	// Key types.
	ckkECEdwards = 0x00000040 // CKK_EC_EDWARDS: Ed25519, Ed448

	// Mechanisms.
	ckmECEdwardsKeyPairGen = 0x00001055 // CKM_EC_EDWARDS_KEY_PAIR_GEN
	ckmEdDSA               = 0x00001057 // CKM_EDDSA

	// Return values.
	ckrTokenResourceExceeded = 0x00000201 // CKR_TOKEN_RESOURCE_EXCEEDED
	ckrOperationCancelFailed = 0x00000202 // CKR_OPERATION_CANCEL_FAILED
)
