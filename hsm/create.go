//go:build cgo

package hsm

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"math/big"
	"slices"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/provider/keyimport"
)

// RSA modulus sizes accepted on import and for managed keys: the rules of
// keyimport, shared with the software backend.
const (
	minRSABits = keyimport.MinRSABits
	maxRSABits = keyimport.MaxRSABits
)

// GenerateKey implements provider.Backend: it generates a key on the token
// when req.Input is nil, and imports req.Input otherwise, as a session
// object with CKA_SENSITIVE true, CKA_EXTRACTABLE false and CKA_PRIVATE
// true (docs/semantics.md#where-keys-live). The import formats and rules are those of the
// software backend (see the package documentation).
func (b *Backend) GenerateKey(ctx context.Context, req provider.KeyRequest) (provider.Key, error) {
	return b.generateKey(ctx, req, true)
}

// generateKey is GenerateKey; check says whether it asks Supports first
// (a probe, which is how Supports finds out, does not).
func (b *Backend) generateKey(ctx context.Context, req provider.KeyRequest, check bool) (provider.Key, error) {
	alg := req.Algorithm
	if !registered(alg) || !alg.Kind.Keyed() {
		return nil, fmt.Errorf("hsm: key algorithm %q: %w", alg.Name, provider.ErrNotSupported)
	}
	if alg.Kind == provider.KindKDF {
		return b.newHKDFKey(ctx, req, check)
	}
	if req.Nonce != nil {
		return nil, errorf(alg, provider.ErrInvalidArgument, "the algorithm takes no nonce")
	}
	if req.Hash != (provider.Algorithm{}) {
		return nil, errorf(alg, provider.ErrInvalidArgument, "the algorithm takes no hash")
	}
	op := provider.OpGenerate
	if req.Imported() {
		op = provider.OpImport
	}
	if check && b.Supports(alg, op) == provider.Unsupported {
		return nil, errorf(alg, provider.ErrNotSupported, "the token cannot %s such keys", op)
	}
	// The key is made first: what it cannot be fails before the token
	// makes anything.
	k, err := newKey(alg)
	if err != nil {
		return nil, err
	}
	var o objects
	if alg.Kind.Symmetric() {
		o, err = b.newSecret(ctx, alg, req.Input)
	} else {
		o, err = b.newPair(ctx, alg, req.Input, k)
	}
	if err != nil {
		return nil, err
	}
	k.base().init(b, alg, o)
	return k, nil
}

// backendKey is every kind of key the backend makes: a provider.Key around
// the keyBase it shares.
type backendKey interface {
	provider.Key
	base() *keyBase
}

func (k *keyBase) base() *keyBase { return k }

// newKey makes the key value of alg (not HKDF), without objects yet.
func newKey(alg provider.Algorithm) (backendKey, error) {
	switch alg.Kind {
	case provider.KindAEAD:
		return &aeadKey{}, nil
	case provider.KindMAC:
		return &macKey{mech: hmacMechanisms[alg.Hash]}, nil
	case provider.KindKeyAgreement:
		k := &agreeKey{}
		return k, k.setCurve(alg)
	case provider.KindSignature:
		k := &signKey{}
		return k, k.setMechanism(alg)
	}
	return nil, fmt.Errorf("hsm: key algorithm %q: %w", alg.Name, provider.ErrNotSupported)
}

// setPublic gives a key pair k its public key spki (nil when a managed key
// has none) and the length size of its signatures.
func setPublic(k backendKey, spki []byte, size int) {
	switch k := k.(type) {
	case *signKey:
		k.spki, k.size = spki, size
	case *agreeKey:
		k.spki = spki
	}
}

// objects are the handles of a key the backend created, and the
// generation of the persistent session that holds them.
type objects struct {
	priv, pub pkcs11.ObjectHandle
	gen       uint64
}

// init sets up a key the backend created: every operation of its
// algorithm is allowed.
func (k *keyBase) init(b *Backend, alg provider.Algorithm, o objects) {
	k.b, k.alg, k.obj, k.pub, k.gen = b, alg, o.priv, o.pub, o.gen
	k.names = opNamesOf(alg)
	k.allowed = opsOf(provider.KeyOperations(alg)...)
}

// create makes a key's objects with mk on the persistent session (the one
// place objects are created, one at a time), checks the private or secret
// key's attributes, and runs after (reading the public half, say). When a
// step after mk fails, the objects are destroyed again.
func (b *Backend) create(ctx context.Context, alg provider.Algorithm, generated bool,
	mk func(s pkcs11.SessionHandle) (objects, error), after func(s pkcs11.SessionHandle, o objects) error,
) (objects, error) {
	names := opNamesOf(alg)
	op := names.imprt
	if generated {
		op = names.generate
	}
	var out objects
	err := b.withMain(ctx, op, true, func(s pkcs11.SessionHandle) error {
		o, err := mk(s)
		if err != nil {
			return err
		}
		if err := b.checkKept(s, alg, o.priv, generated); err != nil {
			_ = destroyObjects(b.p, s, o.priv, o.pub)
			return err
		}
		if after != nil {
			if err := after(s, o); err != nil {
				_ = destroyObjects(b.p, s, o.priv, o.pub)
				return err
			}
		}
		o.gen = b.gen.Load()
		out = o
		return nil
	}, func(s pkcs11.SessionHandle) {
		// The caller stopped waiting: nobody will destroy the key.
		_ = destroyObjects(b.p, s, out.priv, out.pub)
	})
	if err != nil {
		// out is not the caller's to read: a body the deadline abandoned
		// may still be writing it.
		return objects{}, err
	}
	return out, nil
}

// secretObject returns the mk of create for a secret key: generated with
// mech from tmpl, or, when value is not nil, created from tmpl and value.
func (t *token) secretObject(mech uint, tmpl []*pkcs11.Attribute, value []byte) func(pkcs11.SessionHandle) (objects, error) {
	if value != nil {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_VALUE, value))
		return func(s pkcs11.SessionHandle) (objects, error) {
			o, err := t.caps.createObject(t.p, s, tmpl)
			return objects{priv: o}, err
		}
	}
	m := []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}
	return func(s pkcs11.SessionHandle) (objects, error) {
		o, err := t.caps.generateKey(t.p, s, m, tmpl)
		return objects{priv: o}, err
	}
}

// pairObjects returns the mk of create for a key pair: generated with
// mech, or, when imported, created from the two templates (which then
// hold the key material).
func (t *token) pairObjects(mech uint, imported bool, pubT, privT []*pkcs11.Attribute) func(pkcs11.SessionHandle) (objects, error) {
	if imported {
		return func(s pkcs11.SessionHandle) (objects, error) {
			priv, err := t.caps.createObject(t.p, s, privT)
			if err != nil {
				return objects{}, err
			}
			pub, err := t.caps.createObject(t.p, s, pubT)
			if err != nil {
				_ = destroyObjects(t.p, s, priv)
				return objects{}, err
			}
			return objects{priv: priv, pub: pub}, nil
		}
	}
	m := []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}
	return func(s pkcs11.SessionHandle) (objects, error) {
		pub, priv, err := t.caps.generateKeyPair(t.p, s, m, pubT, privT)
		return objects{priv: priv, pub: pub}, err
	}
}

// material is a parsed private key as PKCS#11 attributes: those of the
// private-key object and of the public-key object, without the common
// template. wipe zeroes the secret values.
type material struct {
	keyType   uint
	priv, pub []*pkcs11.Attribute
	secrets   [][]byte
}

func (m *material) wipe() {
	for _, s := range m.secrets {
		clear(s)
	}
}

// importMaterial parses a PKCS#8 key for a signature or key-agreement
// algorithm into attributes. Wrong key types, curves and sizes are invalid
// arguments, as in the software backend. The parsed key is zeroed as far
// as Go allows; the caller wipes the returned material.
func importMaterial(alg provider.Algorithm, der []byte) (*material, error) {
	parsed, err := keyimport.Parse(alg, der)
	if err != nil {
		return nil, fmt.Errorf("hsm: %s: import: %w", alg.Name, err)
	}
	defer keyimport.Discard(parsed)
	switch p := parsed.(type) {
	case ed25519.PrivateKey:
		seed := bytes.Clone(p.Seed())
		pub := p.Public().(ed25519.PublicKey)
		return &material{
			keyType: ckkECEdwards,
			priv:    []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidEd25519), pkcs11.NewAttribute(pkcs11.CKA_VALUE, seed)},
			pub:     []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidEd25519), pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, wrapPoint(pub))},
			secrets: [][]byte{seed},
		}, nil
	case *rsa.PrivateKey:
		r := p
		r.Precompute()
		n, e := r.N.Bytes(), big.NewInt(int64(r.E)).Bytes()
		secret := [][]byte{r.D.Bytes(), r.Primes[0].Bytes(), r.Primes[1].Bytes(),
			r.Precomputed.Dp.Bytes(), r.Precomputed.Dq.Bytes(), r.Precomputed.Qinv.Bytes()}
		return &material{
			keyType: pkcs11.CKK_RSA,
			priv: []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_MODULUS, n),
				pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, e),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE_EXPONENT, secret[0]),
				pkcs11.NewAttribute(pkcs11.CKA_PRIME_1, secret[1]),
				pkcs11.NewAttribute(pkcs11.CKA_PRIME_2, secret[2]),
				pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_1, secret[3]),
				pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_2, secret[4]),
				pkcs11.NewAttribute(pkcs11.CKA_COEFFICIENT, secret[5]),
			},
			pub:     []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_MODULUS, n), pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, e)},
			secrets: secret,
		}, nil
	}
	// ES* (an ECDSA key) and ECDH-P* (an ECDH key): the token takes the
	// scalar and the point.
	var ek *ecdh.PrivateKey
	switch p := parsed.(type) {
	case *ecdh.PrivateKey:
		ek = p
	case *ecdsa.PrivateKey:
		if ek, err = p.ECDH(); err != nil {
			return nil, errorf(alg, provider.ErrInvalidArgument, "import: %v", err)
		}
	default:
		return nil, errorf(alg, provider.ErrInvalidArgument, "import: %T", parsed)
	}
	params := curveNamed(alg.Curve).params
	d := ek.Bytes()
	return &material{
		keyType: pkcs11.CKK_EC,
		priv:    []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params), pkcs11.NewAttribute(pkcs11.CKA_VALUE, d)},
		pub:     []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params), pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, wrapPoint(ek.PublicKey().Bytes()))},
		secrets: [][]byte{d},
	}, nil
}

// newSecret generates or imports the secret key of an AEAD or MAC key.
func (b *Backend) newSecret(ctx context.Context, alg provider.Algorithm, input []byte) (objects, error) {
	mk, value, err := b.secretKey(alg, input)
	if err != nil {
		return objects{}, err
	}
	defer clear(value)
	return b.create(ctx, alg, input == nil, mk, nil)
}

// newPair generates or imports the key pair of a signature or
// key-agreement key k, with the usage of kindUsage, and gives k the public
// key read back from the token (SubjectPublicKeyInfo DER) with the
// signature length.
func (b *Backend) newPair(ctx context.Context, alg provider.Algorithm, input []byte, k backendKey) (objects, error) {
	mk, wipe, err := b.pairKey(alg, input)
	if err != nil {
		return objects{}, err
	}
	defer wipe()
	var (
		spki []byte
		size int
	)
	o, err := b.create(ctx, alg, input == nil, mk,
		func(s pkcs11.SessionHandle, o objects) error {
			var err error
			spki, size, err = b.readPublic(s, alg, o.priv, o.pub)
			return err
		})
	if err != nil {
		return objects{}, err
	}
	setPublic(k, spki, size)
	return o, nil
}

// pairKey returns the mk of create for a key pair of alg: generated, or
// imported from input (PKCS#8) when it is not nil. Its templates hold
// extra too. The caller calls wipe once mk has run.
func (t *token) pairKey(alg provider.Algorithm, input []byte, extra ...*pkcs11.Attribute) (mk func(pkcs11.SessionHandle) (objects, error), wipe func(), err error) {
	return t.pairKeyWithout(alg, input, nil, extra...)
}

// pairKeyWithout is pairKey with the templates left without the usage
// attributes of drop (QuirkPairsDecrypt): the token then sets them as it
// will.
func (t *token) pairKeyWithout(alg provider.Algorithm, input []byte, drop *pairDrop, extra ...*pkcs11.Attribute) (mk func(pkcs11.SessionHandle) (objects, error), wipe func(), err error) {
	mech, keyType := pairMechanism(alg)
	var pubT, privT []*pkcs11.Attribute
	wipe = func() {}
	if input == nil {
		if alg.IsRSA() {
			pubT = append(pubT, pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, alg.KeySize),
				pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
		} else {
			params := curveNamed(alg.Curve).params
			pubT = append(pubT, pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params))
		}
	} else {
		m, err := importMaterial(alg, input)
		if err != nil {
			return nil, nil, err
		}
		keyType, pubT, privT, wipe = m.keyType, m.pub, m.priv, m.wipe
	}
	kt := pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType)
	privT = t.keyTemplate(alg, append(append([]*pkcs11.Attribute{kt}, extra...), privT...)...)
	pubT = t.publicTemplate(alg, append(append([]*pkcs11.Attribute{kt}, extra...), pubT...)...)
	if drop != nil {
		privT, pubT = withoutAttrs(privT, drop.priv), withoutAttrs(pubT, drop.pub)
	}
	return t.pairObjects(mech, input != nil, pubT, privT), wipe, nil
}

// secretKey returns the mk of create for a secret key of alg (AES-GCM or
// HMAC): generated, or imported from input when it is not nil, as value,
// which the caller zeroes once mk has run. Its template holds extra too.
func (t *token) secretKey(alg provider.Algorithm, input []byte, extra ...*pkcs11.Attribute) (mk func(pkcs11.SessionHandle) (objects, error), value []byte, err error) {
	keyType, mech := uint(pkcs11.CKK_AES), uint(pkcs11.CKM_AES_KEY_GEN)
	if alg.Kind == provider.KindMAC {
		keyType, mech = pkcs11.CKK_GENERIC_SECRET, pkcs11.CKM_GENERIC_SECRET_KEY_GEN
	}
	tmpl := t.keyTemplate(alg, append([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType)}, extra...)...)
	switch {
	case input == nil:
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, alg.KeySize))
	case alg.Kind == provider.KindMAC:
		// RFC 7518 §3.2: a key as long as the hash at least.
		if len(input) < alg.OutputSize {
			return nil, nil, errorf(alg, provider.ErrInvalidArgument, "import: key of %d bytes, want at least %d", len(input), alg.OutputSize)
		}
		value = t.hmacKey(alg.Hash, input)
	default:
		// Exactly the algorithm's size: the token would take any AES size.
		if len(input) != alg.KeySize {
			return nil, nil, errorf(alg, provider.ErrInvalidArgument, "import: key of %d bytes, want %d", len(input), alg.KeySize)
		}
		value = bytes.Clone(input)
	}
	return t.secretObject(mech, tmpl, value), value, nil
}

// pairMechanism is the key-pair generation mechanism and the key type of
// alg's pairs: Ed25519, RSA or an EC curve.
func pairMechanism(alg provider.Algorithm) (mech, keyType uint) {
	switch {
	case alg.Curve == "Ed25519":
		return ckmECEdwardsKeyPairGen, ckkECEdwards
	case alg.IsRSA():
		return pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, pkcs11.CKK_RSA
	default:
		return pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKK_EC
	}
}

// pairDrop are the usage attributes that a token refuses to be told
// about a key pair's private and public key (QuirkPairsDecrypt).
type pairDrop struct{ priv, pub []uint }

// withoutAttrs is tmpl without the attributes of the types of drop.
func withoutAttrs(tmpl []*pkcs11.Attribute, drop []uint) []*pkcs11.Attribute {
	return slices.DeleteFunc(slices.Clone(tmpl), func(a *pkcs11.Attribute) bool { return slices.Contains(drop, a.Type) })
}
