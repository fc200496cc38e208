//go:build cgo

package hsm

// PKCS#11 3.0 constants that github.com/miekg/pkcs11 v1.1.2 (built on the
// v2.40 headers) lacks. The values are those of the OASIS PKCS#11 3.0
// pkcs11t.h, checked against NSS's copy of it (/usr/include/nss/pkcs11t.h)
// and, where it has them, p11-kit's pkcs11.h. This is the one place they
// are defined.
const (
	// Key types.
	ckkECEdwards    = 0x00000040 // CKK_EC_EDWARDS: Ed25519, Ed448
	ckkECMontgomery = 0x00000041 // CKK_EC_MONTGOMERY: X25519, X448
	ckkHKDF         = 0x00000042 // CKK_HKDF

	// Mechanisms.
	ckmECEdwardsKeyPairGen    = 0x00001055 // CKM_EC_EDWARDS_KEY_PAIR_GEN
	ckmECMontgomeryKeyPairGen = 0x00001056 // CKM_EC_MONTGOMERY_KEY_PAIR_GEN
	ckmEdDSA                  = 0x00001057 // CKM_EDDSA
	ckmHKDFDerive             = 0x0000402a // CKM_HKDF_DERIVE
	ckmHKDFData               = 0x0000402b // CKM_HKDF_DATA
	ckmHKDFKeyGen             = 0x0000402c // CKM_HKDF_KEY_GEN

	// Return values.
	ckrTokenResourceExceeded = 0x00000201 // CKR_TOKEN_RESOURCE_EXCEEDED
	ckrOperationCancelFailed = 0x00000202 // CKR_OPERATION_CANCEL_FAILED
)
