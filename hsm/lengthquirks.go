//go:build cgo

package hsm

import (
	"context"
	"crypto/rand"
	"sync/atomic"

	"github.com/miekg/pkcs11"
)

// noticeLengths asks the token, once per algorithm while probing k (a key
// the probe just used), the questions that show how it answers lengths:
// an AES-GCM length query (QuirkGCMShortLength), a MAC into a buffer too
// short (QuirkTruncatedHMAC) and an RSA signature into one
// (QuirkUnusableLength). The backend never asks them of guests' calls
// (module.finish passes buffers of the algorithm's size and believes no
// shorter answer); they are asked so that `wasihsm slots` and `doctor`
// can say what the token does. Each operation begun is ended with a call
// of the full size; a session on which that fails is not pooled again. An
// error, or another answer, notices nothing.
func (b *Backend) noticeLengths(ctx context.Context, k any) {
	var (
		call  singlePart
		mechs []*pkcs11.Mechanism
		obj   pkcs11.ObjectHandle
		in    []byte
		size  int
		quirk *atomic.Bool
	)
	in = probeMessage
	switch k := k.(type) {
	case *aeadKey:
		nonce := make([]byte, k.alg.NonceSize)
		_, _ = rand.Read(nonce)
		gcm := pkcs11.NewGCMParams(nonce, nil, gcmTagBits)
		defer gcm.Free()
		call, obj, size, quirk = callEncrypt, k.obj, len(in)+k.alg.TagSize, &b.caps.dev.gcmShortLength
		mechs = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, gcm)}
	case *macKey:
		call, obj, size, quirk = callSign, k.obj, k.alg.OutputSize, &b.caps.dev.truncatedMAC
		mechs = mechanismList(k.mech, nil)
	case *signKey:
		if !k.alg.IsRSA() || k.alg.IsPSS() {
			return
		}
		hashSize := map[string]int{"SHA-256": 32, "SHA-384": 48, "SHA-512": 64}[k.alg.Hash]
		in = append(append([]byte(nil), k.prefix...), make([]byte, hashSize)...)
		call, obj, size, quirk = callSign, k.obj, k.size, &b.caps.dev.unusableLength
		mechs = mechanismList(k.mech, k.params)
	default:
		return
	}
	if quirk.Load() {
		return
	}
	_ = b.withSession(ctx, "notice lengths", func(s pkcs11.SessionHandle) error {
		var err error
		if call == callEncrypt {
			err = b.p.EncryptInit(s, mechs, obj)
		} else {
			err = b.p.SignInit(s, mechs, obj)
		}
		if err != nil {
			return nil
		}
		var rv, n uint
		switch quirk {
		case &b.caps.dev.gcmShortLength:
			rv, n = b.mod.call(call, s, in, nil)
			if rv == pkcs11.CKR_OK && n < uint(size) {
				quirk.Store(true)
			}
		default:
			// Half the length, in a buffer of the whole: a token that
			// writes past the length it is given (openCryptoki 3.8.1
			// writes a whole HMAC) still writes into memory of ours.
			short := make([]byte, size)[:size/2]
			rv, n = b.mod.call(call, s, in, short)
			switch {
			case rv == pkcs11.CKR_OK && n == uint(len(short)) && quirk == &b.caps.dev.truncatedMAC:
				quirk.Store(true)
				return nil // the operation ended
			case rv == pkcs11.CKR_BUFFER_TOO_SMALL && n != uint(size) && quirk == &b.caps.dev.unusableLength:
				quirk.Store(true)
			case rv != pkcs11.CKR_BUFFER_TOO_SMALL:
				return nil // ended: PKCS#11 ends an operation on any other answer
			}
		}
		if rv, _ := b.mod.call(call, s, in, make([]byte, size)); rv != pkcs11.CKR_OK {
			return endOperation("notice lengths", pkcs11.Error(rv), b.stillActiveAfter(call, s, in))
		}
		return nil
	})
}

// stillActiveAfter reports whether the operation of call is still active
// on s (module.stillActive).
func (b *Backend) stillActiveAfter(call singlePart, s pkcs11.SessionHandle, in []byte) bool {
	return b.mod.stillActive(call, s, in)
}
