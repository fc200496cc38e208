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
	// size is the length of the answer, which the algorithm fixes.
	size int
	// out is the token's answer, in memory of its own (module.finish
	// makes it); opPool.finish hands it to the caller.
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
	t := &c.k.b.token
	switch c.kind {
	case opSign:
		if err := t.p.SignInit(s, c.mechs, obj); err != nil {
			return err
		}
		c.out, err = t.singleCall(c.name, callSign, s, c.data, c.size)
		return err
	case opEncrypt:
		defer c.gcm.Free()
		if err := t.p.EncryptInit(s, c.mechs, obj); err != nil {
			return err
		}
		c.out, err = t.singleCall(c.name, callEncrypt, s, c.data, c.size)
		return err
	default: // opDecrypt
		defer c.gcm.Free()
		if err := t.p.DecryptInit(s, c.mechs, obj); err != nil {
			return err
		}
		out, active, err := t.mod.finish(callDecrypt, s, c.data, c.size, outputLimit(c.size))
		if err != nil {
			return endOperation(c.name, decryptAEADError(c.name, err), active)
		}
		c.out = out
		return nil
	}
}

// singleCall makes call on session s, whose operation its init began, for
// input in and an answer of size bytes (see module.finish); op names it in
// errors. A failure that may have left the operation active on s ends it
// (see endOperation).
func (t *token) singleCall(op string, call singlePart, s pkcs11.SessionHandle, in []byte, size int) ([]byte, error) {
	out, active, err := t.mod.finish(call, s, in, size, outputLimit(size))
	if err != nil {
		return nil, endOperation(op, err, active)
	}
	return out, nil
}

// outputLimit is the largest output buffer that a call for an answer of
// out bytes gives a token which asks for more (CKR_BUFFER_TOO_SMALL): a
// few blocks more, room for an AES-GCM decryption that wants its whole
// input's length, or an encryption that wants a block and a tag beyond
// it. It does not grow with the input: a guest's large message to sign
// is not charged twice.
func outputLimit(out int) int { return out + 64 }

// endOperation is err, the failure of a call for op, when the operation
// is no longer active on the session; when it is (active), the error
// gains trait evict, so that the session is closed rather than given to
// the next call (which would inherit the operation), and the call is
// tried once more on a fresh session. Closing the session is the one end
// of an operation that every token honours: PKCS#11 3.0 ends one with an
// init without a mechanism, which 2.40 tokens such as SoftHSM2 2.6.1
// refuse (CKR_ARGUMENTS_BAD), keeping the operation. On the persistent
// session (HKDF-Extract's HMAC) that means reopening it, and the session
// objects go with it, as when the token loses the session (withMain).
func endOperation(op string, err error, active bool) error {
	if !active {
		return err
	}
	var te *TokenError
	if !errors.As(ckrError(op, err), &te) {
		return err
	}
	evicted := *te
	evicted.traits |= evict
	return &evicted
}

// runOp runs one token operation of k on a pooled session: kind on data
// with mechs (for AES-GCM, CKM_AES_GCM with nonce and aad), named name in
// errors, answering out bytes. What it stages is charged to budget
// (nil: nothing) until the body ends (see tokenStaging). It returns the
// token's answer, which is the caller's. The caller holds k (acquire).
func (k *keyBase) runOp(ctx context.Context, budget *provider.Budget, kind opKind, name string, mechs []*pkcs11.Mechanism, data []byte, out int, nonce, aad []byte) ([]byte, error) {
	st, err := stage(budget, tokenStaging(len(data), out), name)
	if err != nil {
		return nil, err
	}
	c := k.ops.get(k)
	c.kind, c.name, c.mechs, c.data, c.size = kind, name, mechs, data, out
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
