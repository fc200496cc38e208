package tokentest

import (
	"testing"

	"github.com/miekg/pkcs11"
)

// The DER of the named curves' object identifiers, as CKA_EC_PARAMS
// holds them.
var (
	P256Params = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07} // prime256v1
	P521Params = []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}                   // secp521r1
)

// ECSigningKey generates an EC key pair on the token of session s as an
// operator's tools make a managed key: token objects, the private half
// sensitive, not extractable, private and for signing, both halves
// labelled label with id id. curve is CKA_EC_PARAMS (P256Params,
// P521Params). The test's cleanup destroys both halves.
func ECSigningKey(t testing.TB, p *pkcs11.Ctx, s pkcs11.SessionHandle, curve []byte, label string, id []byte) {
	t.Helper()
	pub, priv, err := p.GenerateKeyPair(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
		[]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, curve),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label), pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		},
		[]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label), pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		})
	if err != nil {
		t.Fatalf("tokentest: generate the EC key %q: %v", label, err)
	}
	t.Cleanup(func() { _ = p.DestroyObject(s, priv); _ = p.DestroyObject(s, pub) })
}
