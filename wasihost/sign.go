package wasihost

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost/internal/abi"
	"github.com/wasihsm/wasihsm/wasihost/internal/guestmem"
)

// signState is the object behind the sign_state handles.
type signState struct {
	key    *keyRef
	st     provider.SignState
	sigBuf []byte // reused by sign
}

func (s *signState) close(ctx context.Context) error {
	err := s.st.Close()
	if rerr := s.key.release(ctx); err == nil {
		err = rerr
	}
	return err
}

// signOpen implements sign_open(algorithm, algorithm_len, private_key,
// out_state).
//
//   - badf: private_key is not an open key.
//   - fault: the name or the out pointer is outside memory.
//   - notsup: not a signature or MAC algorithm of docs/semantics.md#algorithms.
//   - inval: the algorithm is not the key's.
//   - mfile: the instance's handle limit is reached.
//   - msgsize, nfile, timedout, io: the backend could not start the state.
func signOpen(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(2), typeKey)
	if err != nil {
		return abi.ErrnoBadf
	}
	name, out := p.rng(0), guestmem.HandleOut(p.u32(3))
	if !valid(mem, name, out) {
		return abi.ErrnoFault
	}
	alg, ok := lookupAlg(view(mem, name), provider.KindSignature, provider.KindMAC)
	if !ok {
		return abi.ErrnoNotsup
	}
	k := v.(*keyRef)
	signer, ok := k.key.(provider.Signer)
	if !ok || k.key.Algorithm() != alg {
		return abi.ErrnoInval
	}
	if !in.handles.CanInsert() {
		return abi.ErrnoMfile
	}
	st, err := signer.NewSignState(in.staging(ctx), in.host.opts.MaxBufferedBytes)
	if err != nil {
		return abi.ToErrno(err)
	}
	k.retain()
	return in.newHandle(ctx, mem, out.Ptr, typeSignInitial, &signState{key: k, st: st})
}

// signSetNonce implements sign_set_nonce(state, nonce, nonce_len). No
// built-in algorithm takes a nonce: a guest never chooses an ECDSA nonce
// (docs/semantics.md#algorithms).
//
//   - badf: state is not an initial sign state.
//   - fault: the nonce is outside memory.
//   - inval: always, otherwise.
func signSetNonce(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	if _, err := in.handles.Get(p.u32(0), typeSignInitial); err != nil {
		return abi.ErrnoBadf
	}
	if !valid(mem, p.rng(1)) {
		return abi.ErrnoFault
	}
	return abi.ErrnoInval
}

// signBegin implements sign_begin(state, out_state). It consumes state.
//
//   - badf: state is not an initial sign state.
//   - fault: the out pointer is outside memory.
func signBegin(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	if _, err := in.handles.Get(p.u32(0), typeSignInitial); err != nil {
		return abi.ErrnoBadf
	}
	out := guestmem.HandleOut(p.u32(1))
	if !valid(mem, out) {
		return abi.ErrnoFault
	}
	_, errno := in.transition(mem, p.u32(0), typeSignInitial, typeSignSigning, out.Ptr)
	return errno
}

// signUpdate implements sign_update(state, data, data_len).
//
//   - badf: state is not a signing state.
//   - fault: data is outside memory.
//   - msgsize: the algorithm buffers the message (EdDSA) and it would exceed
//     the buffering limit; nothing of this call was absorbed.
func signUpdate(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeSignSigning)
	if err != nil {
		return abi.ErrnoBadf
	}
	data := p.rng(1)
	if !valid(mem, data) {
		return abi.ErrnoFault
	}
	return abi.ToErrno(v.(*signState).st.Update(ctx, view(mem, data)))
}

// sign implements sign(state, signature, signature_len): the signature over
// all data since sign_begin, or its first signature_len bytes. It may be
// called any number of times and sign_update may follow.
//
//   - badf: state is not a signing state.
//   - fault: the buffer is outside memory.
//   - inval: signature_len is 0 or longer than the signature.
func sign(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeSignSigning)
	if err != nil {
		return abi.ErrnoBadf
	}
	out := p.rng(1)
	if !valid(mem, out) {
		return abi.ErrnoFault
	}
	s := v.(*signState)
	if out.Len == 0 || int(out.Len) > s.st.Size() {
		return abi.ErrnoInval
	}
	sig, err := s.st.Sign(ctx, s.sigBuf[:0])
	if err != nil {
		return abi.ToErrno(err)
	}
	copy(view(mem, out), sig)
	s.sigBuf = sig
	return abi.ErrnoSuccess
}

// signEnd implements sign_end(state, out_state): it drops the data, consumes
// the signing state and returns an initial one.
//
//   - badf: state is not a signing state.
//   - fault: the out pointer is outside memory.
func signEnd(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	if _, err := in.handles.Get(p.u32(0), typeSignSigning); err != nil {
		return abi.ErrnoBadf
	}
	out := guestmem.HandleOut(p.u32(1))
	if !valid(mem, out) {
		return abi.ErrnoFault
	}
	v, errno := in.transition(mem, p.u32(0), typeSignSigning, typeSignInitial, out.Ptr)
	if errno == abi.ErrnoSuccess {
		v.(*signState).st.Reset()
	}
	return errno
}

// signClose implements sign_close(state).
//
//   - badf: state is not an initial sign state.
func signClose(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Remove(p.u32(0), typeSignInitial)
	if err != nil {
		return abi.ErrnoBadf
	}
	return abi.ToErrno(closeObject(ctx, v))
}
