//go:build cgo

package hsm

import (
	"bytes"
	"context"
	"crypto/ecdh"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// agreeKey is an ECDH-P256 or ECDH-P384 private key on the token, used
// with CKM_ECDH1_DERIVE.
type agreeKey struct {
	keyBase
	curve    ecdh.Curve
	peerSize int    // length of a peer's public key: an uncompressed point
	spki     []byte // the public key; nil when a managed key has none
}

var (
	_ provider.KeyAgreementKey   = (*agreeKey)(nil)
	_ provider.PublicKeyExporter = (*agreeKey)(nil)
)

func (k *agreeKey) setCurve(alg provider.Algorithm) error {
	c := curveNamed(alg.Curve)
	if c.ecdh == nil {
		return errorf(alg, provider.ErrNotSupported, "no curve %q", alg.Curve)
	}
	k.curve, k.peerSize = c.ecdh, c.point
	return nil
}

// PublicKeyDER implements provider.PublicKeyExporter, as signKey's does.
func (k *agreeKey) PublicKeyDER(context.Context) ([]byte, error) { return k.publicKeyDER(k.spki) }

// SharedSecret implements provider.KeyAgreementKey. The peer's point is
// checked on the host first (uncompressed, on the curve, not the identity:
// provider.ErrInvalidArgument otherwise). Then the token derives the
// shared secret into a temporary generic-secret object, the one object the
// backend makes readable (CKA_SENSITIVE false, CKA_EXTRACTABLE true), whose
// value is read and which is destroyed at once, on the persistent session.
func (k *agreeKey) SharedSecret(ctx context.Context, peerPublic []byte) ([]byte, error) {
	if err := k.acquire(provider.OpDerive); err != nil {
		return nil, err
	}
	defer k.release()
	if len(peerPublic) != k.peerSize {
		return nil, k.errorf(provider.ErrInvalidArgument, "peer public key of %d bytes, want %d", len(peerPublic), k.peerSize)
	}
	if _, err := k.curve.NewPublicKey(peerPublic); err != nil {
		return nil, k.errorf(provider.ErrInvalidArgument, "peer public key: %v", err)
	}
	size := k.alg.OutputSize
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, k.b.login),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, size),
	}
	// The secret is only read: it may do nothing on the token.
	tmpl = append(tmpl, k.b.caps.policy(pkcs11.CKO_SECRET_KEY, nil)...)
	// CKD_NULL: the raw x-coordinate, as ECDH in JOSE and crypto/ecdh.
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDH1_DERIVE,
		pkcs11.NewECDH1DeriveParams(pkcs11.CKD_NULL, nil, bytes.Clone(peerPublic)))}
	var secret []byte
	err := k.b.withMain(ctx, k.alg.Name+": derive", true, k.refinding(func(s pkcs11.SessionHandle) error {
		priv, err := k.object(s)
		if err != nil {
			return err
		}
		obj, err := k.b.caps.deriveKey(k.b.p, s, mech, priv, tmpl)
		if err != nil {
			return err
		}
		defer func() { _ = destroyObjects(k.b.p, s, obj) }()
		a, err := k.b.p.GetAttributeValue(s, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err != nil {
			return err
		}
		secret = a[0].Value
		return nil
	}), nil)
	if err != nil {
		return nil, err
	}
	if len(secret) != size {
		clear(secret)
		return nil, k.errorf(provider.ErrDevice, "the token derived a secret of %d bytes, want %d", len(secret), size)
	}
	return secret, nil
}
