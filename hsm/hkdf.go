//go:build cgo

package hsm

import (
	"bytes"
	"context"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// hkdfKey is an HKDF pseudorandom key composed from the token's HMAC
// (RFC 5869): the PRK is a generic secret on the token, sensitive and not
// extractable, and Expand is a chain of token HMAC calls.
type hkdfKey struct {
	keyBase
	hash provider.Algorithm
	mech uint // the HMAC mechanism of hash
}

var _ provider.HKDFKey = (*hkdfKey)(nil)

// newHKDFKey runs HKDF-Extract on the token: the salt (or, when there is
// none, a hash-length string of zeros, RFC 5869 §2.2) becomes a temporary
// HMAC key object, the token computes PRK = HMAC(salt, IKM), and the PRK
// becomes the key's object. The host copy of the PRK is zeroed at once;
// the salt, a public value, is not secret. check says whether it asks
// Supports first (see generateKey).
func (b *Backend) newHKDFKey(ctx context.Context, req provider.KeyRequest, check bool) (*hkdfKey, error) {
	alg := req.Algorithm
	if req.Input == nil {
		return nil, errorf(alg, provider.ErrInvalidArgument, "input keying material required")
	}
	if req.Hash == (provider.Algorithm{}) {
		return nil, errorf(alg, provider.ErrInvalidArgument, "hash required")
	}
	if !registered(req.Hash) || !provider.HKDFHash(req.Hash) {
		return nil, errorf(alg, provider.ErrInvalidArgument, "hash %q: want SHA-256, SHA-384 or SHA-512", req.Hash.Name)
	}
	if check && b.Supports(alg, provider.OpImport) == provider.Unsupported {
		return nil, errorf(alg, provider.ErrNotSupported, "the token has no HMAC to compose HKDF from")
	}
	mech := hmacMechanisms[req.Hash.Name]
	salt := req.Nonce
	if len(salt) == 0 {
		salt = make([]byte, req.Hash.OutputSize)
	}
	saltKey := b.hmacKey(req.Hash.Name, salt)
	secret := func(value []byte) []*pkcs11.Attribute {
		return b.keyTemplate(alg,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
		)
	}
	extract := func(s pkcs11.SessionHandle) (objects, error) {
		saltObj, err := b.caps.createObject(b.p, s, secret(saltKey))
		if err != nil {
			return objects{}, err
		}
		defer func() { _ = destroyObjects(b.p, s, saltObj) }()
		if err := b.p.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, saltObj); err != nil {
			return objects{}, err
		}
		prk, err := b.singleCall(alg.Name+": extract", callSign, s, req.Input, req.Hash.OutputSize)
		if err != nil {
			return objects{}, err
		}
		defer clear(prk)
		if len(prk) != req.Hash.OutputSize {
			return objects{}, errorf(alg, provider.ErrDevice, "the token made a PRK of %d bytes, want %d", len(prk), req.Hash.OutputSize)
		}
		prkKey := b.hmacKey(req.Hash.Name, prk)
		defer clear(prkKey)
		obj, err := b.caps.createObject(b.p, s, secret(prkKey))
		return objects{priv: obj}, err
	}
	o, err := b.create(ctx, alg, false, extract, nil)
	if err != nil {
		return nil, err
	}
	k := &hkdfKey{hash: req.Hash, mech: mech}
	k.init(b, alg, o)
	return k, nil
}

// Hash implements provider.HKDFKey.
func (k *hkdfKey) Hash() provider.Algorithm { return k.hash }

// Expand implements provider.HKDFKey: T(i) = HMAC(PRK, T(i-1)‖info‖i) on
// the token, for i = 1…⌈len(out)/hash length⌉, all in one session.
func (k *hkdfKey) Expand(ctx context.Context, info, out []byte) error {
	if err := k.acquire(provider.OpDerive); err != nil {
		return err
	}
	defer k.release()
	hashLen := k.hash.OutputSize
	if limit := 255 * hashLen; len(out) < 1 || len(out) > limit {
		return k.errorf(provider.ErrInvalidArgument, "output of %d bytes, want 1 to %d", len(out), limit)
	}
	n := (len(out) + hashLen - 1) / hashLen
	op := fmt.Sprintf("%s: expand", k.alg.Name)
	// The body writes to buffers of its own, never to out: when the call
	// deadline abandons it, it runs on after Expand has returned. Those
	// buffers (info's copy, the block, okm) and the buffer each block's
	// HMAC is answered into are charged to the budget in ctx until the
	// body ends.
	blockLen := hashLen + len(info) + 1
	st, err := stage(provider.BudgetFrom(ctx), len(info)+blockLen+len(out)+outputLimit(hashLen), op)
	if err != nil {
		return err
	}
	info = bytes.Clone(info)
	okm := make([]byte, len(out))
	err = k.b.withSessionHeld(ctx, op, func(s pkcs11.SessionHandle) error {
		block := make([]byte, 0, blockLen)
		defer func() { clear(block[:cap(block)]) }()
		obj, err := k.object(s)
		if err != nil {
			return err
		}
		var prev []byte
		for i := 1; i <= n; i++ {
			block = append(append(append(block[:0], prev...), info...), byte(i))
			clear(prev)
			if err := k.b.p.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(k.mech, nil)}, obj); err != nil {
				return err
			}
			t, err := k.b.singleCall(op, callSign, s, block, hashLen)
			if err != nil {
				return err
			}
			if len(t) != hashLen {
				clear(t)
				return k.errorf(provider.ErrDevice, "the token made an HMAC of %d bytes, want %d", len(t), hashLen)
			}
			copy(okm[(i-1)*hashLen:], t)
			prev = t
		}
		clear(prev)
		return nil
	}, st)
	if err != nil {
		// okm is left alone: an abandoned body may still write to it.
		return err
	}
	copy(out, okm)
	clear(okm)
	return nil
}
