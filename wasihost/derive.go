package wasihost

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost/internal/abi"
	"github.com/wasihsm/wasihsm/wasihost/internal/guestmem"
)

// deriveState is the object behind a derive_key_state handle.
type deriveState struct {
	key      *keyRef
	alg      provider.Algorithm
	nonce    buffer // HKDF info, or the ECDH peer's public key
	hasNonce bool
}

func (s *deriveState) close(ctx context.Context) error {
	s.nonce.free()
	return s.key.release(ctx)
}

// deriveKeyPrepare implements derive_key_prepare(algorithm, algorithm_len,
// private_key, out_state).
//
//   - badf: private_key is not an open key.
//   - fault: the name or the out pointer is outside memory.
//   - notsup: not a derivation algorithm (HKDF, ECDH-P256, ECDH-P384, X25519).
//   - inval: the key is not of that algorithm.
//   - mfile: the instance's handle limit is reached.
func deriveKeyPrepare(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(2), typeKey)
	if err != nil {
		return abi.ErrnoBadf
	}
	name, out := p.rng(0), guestmem.HandleOut(p.u32(3))
	if !valid(mem, name, out) {
		return abi.ErrnoFault
	}
	alg, ok := lookupAlg(view(mem, name), provider.KindKDF, provider.KindKeyAgreement)
	if !ok {
		return abi.ErrnoNotsup
	}
	k := v.(*keyRef)
	if k.key.Algorithm() != alg {
		return abi.ErrnoInval
	}
	if !in.handles.CanInsert() {
		return abi.ErrnoMfile
	}
	k.retain()
	return in.newHandle(ctx, mem, out.Ptr, typeDeriveKey, &deriveState{key: k, alg: alg})
}

// deriveKeySetNonce implements derive_key_set_nonce(state, nonce,
// nonce_len): the HKDF info, or the peer's public key for key agreement.
//
//   - badf: state is not a derivation state.
//   - fault: the nonce is outside memory.
//   - msgsize: the nonce is longer than the buffering limit.
//   - nomem: holding it would exceed the instance's budget.
func deriveKeySetNonce(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeDeriveKey)
	if err != nil {
		return abi.ErrnoBadf
	}
	if !valid(mem, p.rng(1)) {
		return abi.ErrnoFault
	}
	s := v.(*deriveState)
	if errno := in.setBuffer(&s.nonce, view(mem, p.rng(1))); errno != abi.ErrnoSuccess {
		return errno
	}
	s.hasNonce = true
	return abi.ErrnoSuccess
}

// deriveKeySetHash implements derive_key_set_hash(state, hash_state). For
// HKDF the hash is optional and must be the one the key was extracted
// with; key agreement takes none.
//
//   - badf: state is not a derivation state, or hash_state not a hash.
//   - inval: key agreement, or a hash other than the key's.
func deriveKeySetHash(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeDeriveKey)
	if err != nil {
		return abi.ErrnoBadf
	}
	hv, err := in.handles.Get(p.u32(1), typeHash)
	if err != nil {
		return abi.ErrnoBadf
	}
	s := v.(*deriveState)
	prk, ok := s.key.key.(provider.HKDFKey)
	if !ok || prk.Hash() != hv.(*hashState).h.Algorithm() {
		return abi.ErrnoInval
	}
	return abi.ErrnoSuccess
}

// deriveKey implements derive_key(state, output, output_len). On success
// the state is consumed; on failure it stays open.
//
//   - badf: state is not a derivation state.
//   - fault: the output is outside memory.
//   - inval: HKDF: output_len is 0 or more than 255·hash length; key
//     agreement: no peer key set, a malformed peer key, or output_len 0 or
//     longer than the shared secret.
func deriveKey(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeDeriveKey)
	if err != nil {
		return abi.ErrnoBadf
	}
	out := p.rng(1)
	if !valid(mem, out) {
		return abi.ErrnoFault
	}
	s := v.(*deriveState)
	if out.Len == 0 {
		return abi.ErrnoInval
	}
	switch k := s.key.key.(type) {
	case provider.HKDFKey:
		hashLen := k.Hash().OutputSize
		if int(out.Len) > 255*hashLen {
			return abi.ErrnoInval
		}
		buf := in.takeScratch(int(out.Len))[:out.Len]
		if err := k.Expand(in.staging(ctx), s.nonce.b, buf); err != nil {
			in.giveScratch(buf)
			return abi.ToErrno(err)
		}
		copy(view(mem, out), buf)
		in.giveScratch(buf)
	case provider.KeyAgreementKey:
		if !s.hasNonce {
			return abi.ErrnoInval
		}
		secret, err := k.SharedSecret(in.staging(ctx), s.nonce.b)
		if err != nil {
			return abi.ToErrno(err)
		}
		if int(out.Len) > len(secret) {
			clear(secret)
			return abi.ErrnoInval
		}
		copy(view(mem, out), secret)
		clear(secret)
	default:
		return abi.ErrnoInval
	}
	_, _ = in.handles.Remove(p.u32(0), typeDeriveKey)
	return abi.ToErrno(s.close(ctx))
}
