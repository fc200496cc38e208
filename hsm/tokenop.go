//go:build cgo

package hsm

import (
	"context"
	"errors"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// opKind is what a tokenOp does on the token.
type opKind uint8

const (
	opSign    opKind = iota + 1 // C_SignInit, C_Sign
	opEncrypt                   // C_EncryptInit, C_Encrypt
	opDecrypt                   // C_DecryptInit, C_Decrypt (AEAD errors)
)

// tokenOp is one token operation of a key (a signature, an HMAC, an
// AES-GCM encryption or decryption), made so that running it allocates
// nothing of its own: tokenOps are pooled per key (see opPool),
// and the function that withSession runs (run: the key's refinding around
// once) is bound once, when the tokenOp is made, rather than as closures per
// call. What is left per call are miekg/pkcs11's own allocations (the C
// mechanism, the answer's Go copy) and withSession's body.
type tokenOp struct {
	k    *keyBase
	kind opKind
	// name is the operation as errors name it ("A256GCM: decrypt").
	name  string
	mechs []*pkcs11.Mechanism
	data  []byte
	// out is the token's answer, in memory of its own (miekg/pkcs11 makes
	// it); opPool.finish hands it to the caller.
	out []byte

	run func(s pkcs11.SessionHandle) error

	// gcm are the parameters of an AES-GCM operation, set per call;
	// gcmMechs is CKM_AES_GCM with them, made once.
	gcm      pkcs11.GCMParams
	gcmMechs []*pkcs11.Mechanism
}

// once runs the operation on session s.
func (c *tokenOp) once(s pkcs11.SessionHandle) error {
	obj, err := c.k.object(s)
	if err != nil {
		return err
	}
	p := c.k.b.p
	switch c.kind {
	case opSign:
		if err := p.SignInit(s, c.mechs, obj); err != nil {
			return err
		}
		c.out, err = p.Sign(s, c.data)
		return err
	case opEncrypt:
		defer c.gcm.Free()
		if err := p.EncryptInit(s, c.mechs, obj); err != nil {
			return err
		}
		c.out, err = p.Encrypt(s, c.data)
		return err
	default: // opDecrypt
		defer c.gcm.Free()
		if err := p.DecryptInit(s, c.mechs, obj); err != nil {
			return err
		}
		if c.out, err = p.Decrypt(s, c.data); err != nil {
			return decryptAEADError(c.name, err)
		}
		return nil
	}
}

// runOp runs one token operation of k on a pooled session: kind on data
// with mechs (for AES-GCM, CKM_AES_GCM with nonce and aad), named name in
// errors, answering about out bytes. What it stages is charged to budget
// (nil: nothing) until the body ends (see tokenStaging). It returns the
// token's answer, which is the caller's. The caller holds k (acquire).
func (k *keyBase) runOp(ctx context.Context, budget *provider.Budget, kind opKind, name string, mechs []*pkcs11.Mechanism, data []byte, out int, nonce, aad []byte) ([]byte, error) {
	st, err := stage(budget, tokenStaging(len(data), out), name)
	if err != nil {
		return nil, err
	}
	c := k.ops.get(k)
	c.kind, c.name, c.mechs, c.data = kind, name, mechs, data
	if kind != opSign {
		c.setGCM(nonce, aad)
	}
	err = k.b.withSessionHeld(ctx, name, c.run, st)
	return k.ops.finish(c, err), err
}

// setGCM makes c's mechanism CKM_AES_GCM with nonce and aad.
func (c *tokenOp) setGCM(nonce, aad []byte) {
	c.gcm = *pkcs11.NewGCMParams(nonce, aad, gcmTagBits)
	c.mechs = c.gcmMechs
}

// opPool pools the tokenOps of one key. The zero value is ready.
type opPool struct{ p sync.Pool }

// get returns a tokenOp of k.
func (p *opPool) get(k *keyBase) *tokenOp {
	if c, ok := p.p.Get().(*tokenOp); ok {
		return c
	}
	c := &tokenOp{k: k}
	c.run = k.refinding(c.once)
	c.gcmMechs = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, &c.gcm)}
	return c
}

// finish ends c's use after withSession returned err: it returns the
// token's answer, which becomes the caller's, and pools c again. On an
// error it returns nil without reading c: a call that timed out may have
// been abandoned with its body still running on c (see
// Backend.tokenCall), and that c is left to the garbage collector.
func (p *opPool) finish(c *tokenOp, err error) []byte {
	if err != nil {
		if !errors.Is(err, provider.ErrTimeout) {
			p.recycle(c)
		}
		return nil
	}
	out := c.out
	p.recycle(c)
	return out
}

// recycle clears c's references and pools it.
func (p *opPool) recycle(c *tokenOp) {
	c.out, c.data, c.mechs = nil, nil, nil
	c.gcm = pkcs11.GCMParams{}
	p.p.Put(c)
}

// fixedMechanisms are the mechanisms without parameters that keys sign
// with, made once: a mechanism list per call was an allocation of every
// token operation. miekg/pkcs11 only reads them.
var fixedMechanisms = func() map[uint][]*pkcs11.Mechanism {
	m := make(map[uint][]*pkcs11.Mechanism)
	for _, mech := range []uint{
		pkcs11.CKM_ECDSA, ckmEdDSA, pkcs11.CKM_RSA_PKCS,
		pkcs11.CKM_SHA256_HMAC, pkcs11.CKM_SHA384_HMAC, pkcs11.CKM_SHA512_HMAC,
	} {
		m[mech] = []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}
	}
	return m
}()

// mechanismList returns the mechanism list of mech with params: a shared
// one when there are no parameters and mech is in fixedMechanisms, else a
// new one.
func mechanismList(mech uint, params []byte) []*pkcs11.Mechanism {
	if params == nil {
		if l, ok := fixedMechanisms[mech]; ok {
			return l
		}
	}
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, params)}
}
