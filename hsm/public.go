//go:build cgo

package hsm

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"math/big"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// Curve parameters as CKA_EC_PARAMS holds them: the DER of the named
// curve's OID (RFC 5480, RFC 8410).
var (
	oidP256    = mustOID(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
	oidP384    = mustOID(asn1.ObjectIdentifier{1, 3, 132, 0, 34})
	oidP521    = mustOID(asn1.ObjectIdentifier{1, 3, 132, 0, 35})
	oidEd25519 = mustOID(asn1.ObjectIdentifier{1, 3, 101, 112})
	// PKCS#11 3.0 also allows the curve's name as a PrintableString; some
	// tokens answer that form.
	nameEd25519 = mustPrintable("edwards25519")
)

func mustOID(oid asn1.ObjectIdentifier) []byte {
	der, err := asn1.Marshal(oid)
	if err != nil {
		panic(err)
	}
	return der
}

func mustPrintable(s string) []byte {
	der, err := asn1.MarshalWithParams(s, "printable")
	if err != nil {
		panic(err)
	}
	return der
}

// ecCurve is a curve of docs/semantics.md#algorithms that a token key may
// be on: the algorithms of its signature and key-agreement keys ("": none),
// its CKA_EC_PARAMS, its crypto/ecdh curve (nil for Ed25519), its key size
// as CK_MECHANISM_INFO counts it (0 for Ed25519), and the length of a bare
// public point (uncompressed for the NIST curves).
type ecCurve struct {
	name, sign, derive string
	params             []byte
	ecdh               ecdh.Curve
	bits               uint
	point              int
}

var ecCurves = []ecCurve{
	{"P-256", "ES256", "ECDH-P256", oidP256, ecdh.P256(), 256, 65},
	{"P-384", "ES384", "ECDH-P384", oidP384, ecdh.P384(), 384, 97},
	{"P-521", "ES512", "", oidP521, ecdh.P521(), 521, 133},
	{"Ed25519", "EdDSA", "", oidEd25519, nil, 0, ed25519.PublicKeySize},
}

// curveNamed returns the curve called name, or the zero ecCurve.
func curveNamed(name string) ecCurve {
	for _, c := range ecCurves {
		if c.name == name {
			return c
		}
	}
	return ecCurve{}
}

// sameCurve reports whether CKA_EC_PARAMS read from a token names curve.
func sameCurve(params []byte, curve string) bool {
	if curve == "Ed25519" && bytes.Equal(params, nameEd25519) {
		return true
	}
	want := curveNamed(curve).params
	return want != nil && bytes.Equal(params, want)
}

// ecPoint unwraps CKA_EC_POINT: PKCS#11 says it is the DER OCTET STRING
// of the point, but some tokens give the bare point. rawLen is the length
// of the bare point (65 for an uncompressed P-256 point, 32 for Ed25519);
// the length decides, since a bare uncompressed point also starts with the
// OCTET STRING tag 0x04.
func ecPoint(v []byte, rawLen int) ([]byte, bool) {
	if len(v) == rawLen {
		return v, true
	}
	var inner []byte
	if rest, err := asn1.Unmarshal(v, &inner); err == nil && len(rest) == 0 && len(inner) == rawLen {
		return inner, true
	}
	return nil, false
}

// wrapPoint is CKA_EC_POINT for a point: its DER OCTET STRING.
func wrapPoint(point []byte) []byte {
	der, err := asn1.Marshal(point)
	if err != nil {
		panic(err) // a byte slice always marshals
	}
	return der
}

// readPublic reads a key's public half from the token and returns it as
// SubjectPublicKeyInfo DER, with the length of the key's signatures (RSA:
// the modulus length; otherwise the algorithm's). pub is the public-key
// object; for RSA it may be 0, and the private key's public attributes are
// read instead. A public key that the token answers but that does not
// parse is an *UnusableKeyError (notsup); the token's failed calls keep
// their errors.
func (t *token) readPublic(s pkcs11.SessionHandle, alg provider.Algorithm, priv, pub pkcs11.ObjectHandle) ([]byte, int, error) {
	get := func(obj pkcs11.ObjectHandle, types ...uint) ([]*pkcs11.Attribute, error) {
		tmpl := make([]*pkcs11.Attribute, len(types))
		for i, t := range types {
			tmpl[i] = pkcs11.NewAttribute(t, nil)
		}
		return t.p.GetAttributeValue(s, obj, tmpl)
	}
	var key any
	size := alg.OutputSize
	switch {
	case alg.IsRSA():
		obj := pub
		if obj == 0 {
			obj = priv
		}
		a, err := get(obj, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT)
		if err != nil {
			return nil, 0, err
		}
		n, e := new(big.Int).SetBytes(a[0].Value), new(big.Int).SetBytes(a[1].Value)
		if n.Sign() <= 0 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return nil, 0, &UnusableKeyError{Algorithm: alg.Name, Problem: "its RSA public key is malformed"}
		}
		k := &rsa.PublicKey{N: n, E: int(e.Int64())}
		key, size = k, k.Size()
	case pub == 0:
		return nil, 0, errorf(alg, provider.ErrNotFound, "no public key object")
	default:
		a, err := get(pub, pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT)
		if err != nil {
			return nil, 0, err
		}
		c := curveNamed(alg.Curve)
		point, ok := ecPoint(a[1].Value, c.point)
		if !ok || c.params == nil || !sameCurve(a[0].Value, alg.Curve) {
			return nil, 0, &UnusableKeyError{Algorithm: alg.Name, Problem: "its " + alg.Curve + " public key is malformed"}
		}
		if c.ecdh == nil {
			key = ed25519.PublicKey(point)
			break
		}
		k, err := c.ecdh.NewPublicKey(point)
		if err != nil {
			return nil, 0, &UnusableKeyError{Algorithm: alg.Name, Problem: "its " + alg.Curve + " public key is not on the curve"}
		}
		key = k
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, 0, errorf(alg, provider.ErrDevice, "encode the public key: %v", err)
	}
	return der, size, nil
}
