//go:build cgo

package hsm

import (
	"slices"
	"sync/atomic"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// usageAttrs are the usage attributes that PKCS#11 gives each class of key
// object. Every key the backend and Admin make sets each attribute of its
// class, true only where kindUsage says: a token fills the attributes a
// template leaves out with its own defaults, and SoftHSM2's defaults make
// an AES key able to wrap, unwrap and sign, and an EC key able to decrypt
// and unwrap.
var usageAttrs = map[uint][]uint{
	pkcs11.CKO_SECRET_KEY:  {pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT, pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY, pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP, pkcs11.CKA_DERIVE},
	pkcs11.CKO_PRIVATE_KEY: {pkcs11.CKA_DECRYPT, pkcs11.CKA_SIGN, pkcs11.CKA_SIGN_RECOVER, pkcs11.CKA_UNWRAP, pkcs11.CKA_DERIVE},
	pkcs11.CKO_PUBLIC_KEY:  {pkcs11.CKA_ENCRYPT, pkcs11.CKA_VERIFY, pkcs11.CKA_VERIFY_RECOVER, pkcs11.CKA_WRAP, pkcs11.CKA_DERIVE},
}

// attrNames names the CK_BBOOL attributes that a key's policy sets and
// that checkKeyAttributes reads back, for errors and for `wasihsm keys
// list` and `doctor`.
var attrNames = map[uint]string{
	pkcs11.CKA_ENCRYPT: "CKA_ENCRYPT", pkcs11.CKA_DECRYPT: "CKA_DECRYPT",
	pkcs11.CKA_SIGN: "CKA_SIGN", pkcs11.CKA_VERIFY: "CKA_VERIFY",
	pkcs11.CKA_SIGN_RECOVER: "CKA_SIGN_RECOVER", pkcs11.CKA_VERIFY_RECOVER: "CKA_VERIFY_RECOVER",
	pkcs11.CKA_WRAP: "CKA_WRAP", pkcs11.CKA_UNWRAP: "CKA_UNWRAP", pkcs11.CKA_DERIVE: "CKA_DERIVE",
	pkcs11.CKA_MODIFIABLE: "CKA_MODIFIABLE", pkcs11.CKA_COPYABLE: "CKA_COPYABLE",
	pkcs11.CKA_TOKEN: "CKA_TOKEN", pkcs11.CKA_PRIVATE: "CKA_PRIVATE",
	pkcs11.CKA_SENSITIVE: "CKA_SENSITIVE", pkcs11.CKA_ALWAYS_SENSITIVE: "CKA_ALWAYS_SENSITIVE",
	pkcs11.CKA_EXTRACTABLE: "CKA_EXTRACTABLE", pkcs11.CKA_NEVER_EXTRACTABLE: "CKA_NEVER_EXTRACTABLE",
}

// usage is what a key may do on the token: the usage attributes that are
// true on its secret or private key, and on the public key of a pair.
type usage struct{ key, pub []uint }

// kindUsage is the one table of what each kind of key needs on the token;
// every other usage attribute of its class is false. AES-GCM encrypts and
// decrypts; HMAC signs and verifies (the backend verifies a tag by
// computing it with C_Sign, but a key that can sign can verify anyway);
// HKDF's PRK only signs, as HKDF-Extract and -Expand are HMAC calls
// (hkdf.go); a signature key signs and its public half verifies; an ECDH
// key derives, and its public half does nothing on the token.
var kindUsage = map[provider.Kind]usage{
	provider.KindAEAD:         {key: []uint{pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT}},
	provider.KindMAC:          {key: []uint{pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY}},
	provider.KindKDF:          {key: []uint{pkcs11.CKA_SIGN}},
	provider.KindSignature:    {key: []uint{pkcs11.CKA_SIGN}, pub: []uint{pkcs11.CKA_VERIFY}},
	provider.KindKeyAgreement: {key: []uint{pkcs11.CKA_DERIVE}},
}

// usageOf is what a key of alg needs.
func usageOf(alg provider.Algorithm) usage { return kindUsage[alg.Kind] }

// keyClass is the class of alg's secret or private key object.
func keyClass(alg provider.Algorithm) uint {
	if alg.Kind.Symmetric() {
		return pkcs11.CKO_SECRET_KEY
	}
	return pkcs11.CKO_PRIVATE_KEY
}

// deviations are what a token was found doing otherwise than PKCS#11
// says, learned while using it: named data that the code consults where
// the difference matters.
type deviations struct {
	// noCopyable: the token answered CKR_ATTRIBUTE_TYPE_INVALID to a
	// template with CKA_COPYABLE (an attribute of PKCS#11 2.40 that older
	// tokens do not know) and took the same template without it. Keys are
	// made without it from then on; they are still not modifiable, and
	// such a token has no notion of copy restrictions to set.
	noCopyable atomic.Bool
	// The quirks of quirks.go that change what the backend does.
	quirkFlags
}

// policy is the part of a template that fixes what an object of class
// may do: each usage attribute of the class, true only when allowed lists
// it; CKA_MODIFIABLE false, so that no attribute can be turned on later;
// and CKA_COPYABLE false, so that C_CopyObject cannot make a copy with
// other attributes (left out on a token that does not know it).
//
// CKA_MODIFIABLE comes last: SoftHSM2 applies a C_DeriveKey template in
// order and refuses every attribute after CKA_MODIFIABLE false as
// read-only (CKR_ATTRIBUTE_READ_ONLY), so a derive template ends with the
// policy. C_CreateObject and C_Generate* take the attributes in any order.
func (c *capabilities) policy(class uint, allowed []uint) []*pkcs11.Attribute {
	var t []*pkcs11.Attribute
	for _, a := range usageAttrs[class] {
		t = append(t, pkcs11.NewAttribute(a, slices.Contains(allowed, a)))
	}
	if !c.dev.noCopyable.Load() {
		t = append(t, pkcs11.NewAttribute(c.copyable, false))
	}
	return append(t, pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false))
}

// fitFunc fits a template to the token: as given, or stripped of
// CKA_COPYABLE (see tolerant).
type fitFunc = func([]*pkcs11.Attribute) []*pkcs11.Attribute

// tolerant runs call with the templates as given; when the token answers
// that it does not know an attribute, and the templates asked for
// CKA_COPYABLE, it runs call once more with the templates stripped of it
// (see deviations.noCopyable). When that works, the token is remembered
// as one without the attribute; when it does not, the first error stands.
// On a token known to lack it, the templates are stripped from the start:
// one built before another call found out may still carry it.
func tolerant[T any](c *capabilities, call func(fit fitFunc) (T, error)) (T, error) {
	if c.dev.noCopyable.Load() {
		return call(c.strip)
	}
	out, err := call(asGiven)
	if err == nil || !hasTrait(err, unknownAttribute) {
		return out, err
	}
	out, err2 := call(c.strip)
	if err2 != nil {
		return out, err
	}
	c.dev.noCopyable.Store(true)
	return out, nil
}

// asGiven and strip are the fits of tolerant. The method value c.strip
// is made only when a token lacks CKA_COPYABLE: a closure made on every
// call was an allocation of every key creation.
func asGiven(t []*pkcs11.Attribute) []*pkcs11.Attribute { return t }

func (c *capabilities) strip(t []*pkcs11.Attribute) []*pkcs11.Attribute {
	return slices.DeleteFunc(slices.Clone(t), func(a *pkcs11.Attribute) bool { return a.Type == c.copyable })
}

// createObject is C_CreateObject through tolerant.
func (c *capabilities) createObject(p *pkcs11.Ctx, s pkcs11.SessionHandle, t []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	return tolerant(c, func(fit fitFunc) (pkcs11.ObjectHandle, error) { return p.CreateObject(s, fit(t)) })
}

// generateKey is C_GenerateKey through tolerant.
func (c *capabilities) generateKey(p *pkcs11.Ctx, s pkcs11.SessionHandle, m []*pkcs11.Mechanism, t []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	return tolerant(c, func(fit fitFunc) (pkcs11.ObjectHandle, error) { return p.GenerateKey(s, m, fit(t)) })
}

// generateKeyPair is C_GenerateKeyPair through tolerant.
func (c *capabilities) generateKeyPair(p *pkcs11.Ctx, s pkcs11.SessionHandle, m []*pkcs11.Mechanism, pubT, privT []*pkcs11.Attribute) (pub, priv pkcs11.ObjectHandle, err error) {
	o, err := tolerant(c, func(fit fitFunc) (objects, error) {
		pub, priv, err := p.GenerateKeyPair(s, m, fit(pubT), fit(privT))
		return objects{priv: priv, pub: pub}, err
	})
	return o.pub, o.priv, err
}

// deriveKey is C_DeriveKey through tolerant.
func (c *capabilities) deriveKey(p *pkcs11.Ctx, s pkcs11.SessionHandle, m []*pkcs11.Mechanism, base pkcs11.ObjectHandle, t []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	return tolerant(c, func(fit fitFunc) (pkcs11.ObjectHandle, error) { return p.DeriveKey(s, m, base, fit(t)) })
}

// grants reads which of the policy's attributes are true on obj, an
// object of class: the usage attributes of the class, CKA_MODIFIABLE, and
// CKA_COPYABLE where the token knows it. An attribute the token will not
// report counts as false.
func (c *capabilities) grants(p *pkcs11.Ctx, s pkcs11.SessionHandle, obj pkcs11.ObjectHandle, class uint) []string {
	read := append(slices.Clone(usageAttrs[class]), pkcs11.CKA_MODIFIABLE)
	if !c.dev.noCopyable.Load() {
		read = append(read, pkcs11.CKA_COPYABLE)
	}
	var out []string
	for _, a := range read {
		got, err := p.GetAttributeValue(s, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(a, nil)})
		if err == nil && len(got) == 1 && boolAttr(got[0]) {
			out = append(out, attrNames[a])
		}
	}
	return out
}

// excess are the names in granted that allowed does not list.
func excess(granted []string, allowed []uint) []string {
	var out []string
	for _, g := range granted {
		if !slices.ContainsFunc(allowed, func(a uint) bool { return attrNames[a] == g }) {
			out = append(out, g)
		}
	}
	return out
}
