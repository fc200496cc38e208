package wasihost

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost/internal/abi"
	"github.com/wasihsm/wasihsm/wasihost/internal/guestmem"
)

// hashState is the object behind a hash_state handle.
type hashState struct {
	h       provider.Hash
	backend string // set by an Observer's first look (observe.go)
}

func (s *hashState) close(context.Context) error { return s.h.Close() }

// hashOpen implements hash_open(algorithm, algorithm_len, out_state).
//
//   - fault: the name or the out pointer is outside memory.
//   - notsup: not a hash or XOF of docs/semantics.md#algorithms, or no backend may serve it.
//   - mfile: the instance's handle limit is reached.
func hashOpen(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	name, out := p.rng(0), guestmem.HandleOut(p.u32(2))
	if !valid(mem, name, out) {
		return abi.ErrnoFault
	}
	alg, ok := lookupAlg(view(mem, name), provider.KindHash, provider.KindXOF)
	if !ok {
		return abi.ErrnoNotsup
	}
	if !in.handles.CanInsert() {
		return abi.ErrnoMfile
	}
	h, err := in.host.provider.NewHash(in.staging(ctx), alg)
	if err != nil {
		return abi.ToErrno(err)
	}
	return in.newHandle(ctx, mem, out.Ptr, typeHash, &hashState{h: h})
}

// hashUpdate implements hash_update(state, data, data_len).
//
//   - badf: state is not an open hash state.
//   - fault: data is outside memory.
func hashUpdate(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeHash)
	if err != nil {
		return abi.ErrnoBadf
	}
	data := p.rng(1)
	if !valid(mem, data) {
		return abi.ErrnoFault
	}
	return abi.ToErrno(v.(*hashState).h.Update(view(mem, data)))
}

// hashDigest implements hash_digest(state, digest, digest_len): the first
// digest_len bytes of the digest, state undisturbed.
//
//   - badf: state is not an open hash state.
//   - fault: the digest buffer is outside memory.
//   - inval: digest_len is 0, or longer than the digest (not for XOFs).
func hashDigest(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeHash)
	if err != nil {
		return abi.ErrnoBadf
	}
	out := p.rng(1)
	if !valid(mem, out) {
		return abi.ErrnoFault
	}
	h := v.(*hashState).h
	alg := h.Algorithm()
	if out.Len == 0 || (alg.Kind == provider.KindHash && int(out.Len) > alg.OutputSize) {
		return abi.ErrnoInval
	}
	// The digest is written straight into guest memory: no input of this
	// call can overlap it, and Digest fails before writing or not at all.
	return abi.ToErrno(h.Digest(view(mem, out)))
}

// hashClose implements hash_close(state).
//
//   - badf: state is not an open hash state.
func hashClose(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Remove(p.u32(0), typeHash)
	if err != nil {
		return abi.ErrnoBadf
	}
	return abi.ToErrno(closeObject(ctx, v))
}
