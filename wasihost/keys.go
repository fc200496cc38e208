package wasihost

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost/internal/abi"
	"github.com/wasihsm/wasihsm/wasihost/internal/guestmem"
)

// generateState is the object behind a generate_key_state handle.
type generateState struct {
	alg      provider.Algorithm
	input    buffer
	hasInput bool
	nonce    buffer
	hasNonce bool
	hash     provider.Algorithm
}

func (s *generateState) close(context.Context) error {
	s.input.free() // key material
	s.nonce.free()
	return nil
}

// generateKeyPrepare implements generate_key_prepare(algorithm,
// algorithm_len, out_state).
//
//   - fault: the name or the out pointer is outside memory.
//   - notsup: not a key algorithm of docs/semantics.md#algorithms.
//   - mfile: the instance's handle limit is reached.
func generateKeyPrepare(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	name, out := p.rng(0), guestmem.HandleOut(p.u32(2))
	if !valid(mem, name, out) {
		return abi.ErrnoFault
	}
	alg, ok := lookupAlg(view(mem, name), provider.KindAEAD, provider.KindSignature, provider.KindMAC,
		provider.KindKDF, provider.KindKeyAgreement)
	if !ok {
		return abi.ErrnoNotsup
	}
	if !in.handles.CanInsert() {
		return abi.ErrnoMfile
	}
	return in.newHandle(ctx, mem, out.Ptr, typeGenerateKey, &generateState{alg: alg})
}

// generateKeySetNonce implements generate_key_set_nonce(state, nonce,
// nonce_len): the HKDF-Extract salt.
//
//   - badf: state is not a key generation state.
//   - fault: the nonce is outside memory.
//   - inval: the algorithm takes no nonce (all but HKDF).
//   - msgsize: the nonce is longer than the buffering limit.
//   - nomem: holding it would exceed the instance's budget.
func generateKeySetNonce(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeGenerateKey)
	if err != nil {
		return abi.ErrnoBadf
	}
	if !valid(mem, p.rng(1)) {
		return abi.ErrnoFault
	}
	s := v.(*generateState)
	if s.alg.Kind != provider.KindKDF {
		return abi.ErrnoInval
	}
	if errno := in.setBuffer(&s.nonce, view(mem, p.rng(1))); errno != abi.ErrnoSuccess {
		return errno
	}
	s.hasNonce = true
	return abi.ErrnoSuccess
}

// generateKeySetInput implements generate_key_set_input(state, input,
// input_len): key material to import (raw, PKCS#8 DER, or the HKDF IKM).
//
//   - badf: state is not a key generation state.
//   - fault: the input is outside memory.
//   - msgsize: the input is longer than the buffering limit.
//   - nomem: holding it would exceed the instance's budget.
func generateKeySetInput(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeGenerateKey)
	if err != nil {
		return abi.ErrnoBadf
	}
	if !valid(mem, p.rng(1)) {
		return abi.ErrnoFault
	}
	s := v.(*generateState)
	if errno := in.setBuffer(&s.input, view(mem, p.rng(1))); errno != abi.ErrnoSuccess {
		return errno
	}
	s.hasInput = true
	return abi.ErrnoSuccess
}

// generateKeySetHash implements generate_key_set_hash(state, hash_state):
// the HKDF hash. Only the hash state's algorithm matters; its data is
// ignored and it stays open.
//
//   - badf: state is not a key generation state, or hash_state not a hash.
//   - inval: the algorithm takes no hash (all but HKDF), or the hash is not
//     SHA-256, SHA-384 or SHA-512.
func generateKeySetHash(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeGenerateKey)
	if err != nil {
		return abi.ErrnoBadf
	}
	hv, err := in.handles.Get(p.u32(1), typeHash)
	if err != nil {
		return abi.ErrnoBadf
	}
	s, h := v.(*generateState), hv.(*hashState).h.Algorithm()
	if s.alg.Kind != provider.KindKDF || !provider.HKDFHash(h) {
		return abi.ErrnoInval
	}
	s.hash = h
	return abi.ErrnoSuccess
}

// generateKey implements generate_key(state, out_private_key): generates
// the key, or imports the input. On success the state is consumed; on
// failure it stays open.
//
//   - badf: state is not a key generation state.
//   - fault: the out pointer is outside memory.
//   - notsup: no backend may hold a key of this algorithm under the policy.
//   - inval: HKDF without input or hash; input that is not a valid key of
//     the algorithm (docs/semantics.md#algorithms).
//   - mfile, nfile, timedout, io: no room for the key.
func generateKey(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeGenerateKey)
	if err != nil {
		return abi.ErrnoBadf
	}
	out := guestmem.HandleOut(p.u32(1))
	if !valid(mem, out) {
		return abi.ErrnoFault
	}
	s := v.(*generateState)
	if s.alg.Kind == provider.KindKDF && (!s.hasInput || !s.hash.Valid()) {
		return abi.ErrnoInval
	}
	req := provider.KeyRequest{Algorithm: s.alg, Hash: s.hash}
	if s.hasInput {
		req.Input = s.input.b
		if req.Input == nil {
			req.Input = []byte{} // an empty input is still an import
		}
	}
	if s.hasNonce {
		req.Nonce = s.nonce.b
		if req.Nonce == nil {
			req.Nonce = []byte{}
		}
	}
	// The state's handle is freed by this call, so there is room for the
	// key whenever there was room for the state.
	key, err := in.host.provider.GenerateKey(in.staging(ctx), req)
	if err != nil {
		return abi.ToErrno(err)
	}
	_, _ = in.handles.Remove(p.u32(0), typeGenerateKey)
	_ = s.close(ctx)
	return in.newHandle(ctx, mem, out.Ptr, typeKey, &keyRef{key: key, refs: 1})
}

// privateKeyClose implements private_key_close(private_key). The key
// stays alive while states use it; a managed key stays on the token.
//
//   - badf: private_key is not an open key.
func privateKeyClose(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Remove(p.u32(0), typeKey)
	if err != nil {
		return abi.ErrnoBadf
	}
	return abi.ToErrno(closeObject(ctx, v))
}

// privateKeyExportPublic implements private_key_export_public(private_key,
// buf, buf_len, out_len): the SubjectPublicKeyInfo DER of the key's public
// half, and its length.
//
//   - badf: private_key is not an open key.
//   - fault: buf or out_len is outside memory.
//   - inval: the key is symmetric.
//   - range: buf_len is shorter than the DER; the needed length is written
//     to out_len (the one failure that writes, docs/semantics.md#abi).
func privateKeyExportPublic(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeKey)
	if err != nil {
		return abi.ErrnoBadf
	}
	buf, outLen := p.rng(1), guestmem.HandleOut(p.u32(3))
	if !valid(mem, buf, outLen) {
		return abi.ErrnoFault
	}
	k := v.(*keyRef)
	exp, ok := k.key.(provider.PublicKeyExporter)
	if !ok || k.key.Algorithm().Kind.Symmetric() {
		return abi.ErrnoInval
	}
	der, err := exp.PublicKeyDER(ctx)
	if err != nil {
		return abi.ToErrno(err)
	}
	if int(buf.Len) < len(der) {
		mem.WriteUint32Le(outLen.Ptr, uint32(len(der)))
		return abi.ErrnoRange
	}
	// Write the length after the bytes: if the ranges overlap, the length
	// is what the guest reads last, the same as with separate buffers where
	// both are intact. A guest that overlaps them loses part of the DER,
	// which is its own doing.
	copy(view(mem, buf), der)
	mem.WriteUint32Le(outLen.Ptr, uint32(len(der)))
	return abi.ErrnoSuccess
}

// privateKeyOpen implements private_key_open(name, name_len,
// out_private_key): a managed key (docs/semantics.md#key-extension).
//
//   - fault: the name or the out pointer is outside memory.
//   - mfile: the instance's handle limit is reached.
//   - noent: no managed key of that name.
//   - access: this guest may not use it; an anonymous guest (one without
//     a provider.Guest from InstantiateGuest) may use none, whatever the
//     name.
//   - nomem: the name is longer than the instance's budget has room for.
func privateKeyOpen(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	name, out := p.rng(0), guestmem.HandleOut(p.u32(2))
	if !valid(mem, name, out) {
		return abi.ErrnoFault
	}
	if in.guest.Anonymous() {
		return abi.ErrnoAccess
	}
	if !in.handles.CanInsert() {
		return abi.ErrnoMfile
	}
	// The name is copied for the lookup, charged while it is held.
	if err := in.budget.Charge(int(name.Len)); err != nil {
		return abi.ToErrno(err)
	}
	key, err := in.host.provider.OpenManagedKey(ctx, string(view(mem, name)), in.guest)
	in.budget.Release(int(name.Len))
	if err != nil {
		return abi.ToErrno(err)
	}
	return in.newHandle(ctx, mem, out.Ptr, typeKey, &keyRef{key: key, refs: 1})
}
