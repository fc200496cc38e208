package wasihost

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost/internal/abi"
	"github.com/wasihsm/wasihsm/wasihost/internal/guestmem"
	"github.com/wasihsm/wasihsm/wasihost/internal/handles"
)

const (
	gcmNonceSize = 12
	gcmTagSize   = 16
)

// cipherState is the object behind the cipher_state handles; the handle's
// type says where in the state machine it is.
type cipherState struct {
	key  *keyRef
	aead provider.AEADKey

	nonce      [gcmNonceSize]byte
	hasNonce   bool // a nonce is set (decryptions may reuse it)
	freshNonce bool // set since the last *_begin: what encrypt_begin requires
	aad        buffer

	tag    [gcmTagSize]byte // set by cipher_set_auth_tag, for the next decryption
	hasTag bool

	lastTag    [gcmTagSize]byte // of the last encryption
	hasLastTag bool

	done bool // cipher_encrypt/cipher_decrypt ran since *_begin
}

func (s *cipherState) close(ctx context.Context) error {
	s.aad.free()
	return s.key.release(ctx)
}

// cipherOpen implements cipher_open(private_key, out_state).
//
//   - badf: private_key is not an open key.
//   - fault: the out pointer is outside memory.
//   - inval: the key is not an AEAD (A*GCM) key.
//   - mfile: the instance's handle limit is reached.
func cipherOpen(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeKey)
	if err != nil {
		return abi.ErrnoBadf
	}
	out := guestmem.HandleOut(p.u32(1))
	if !valid(mem, out) {
		return abi.ErrnoFault
	}
	k := v.(*keyRef)
	aead, ok := k.key.(provider.AEADKey)
	if !ok || k.key.Algorithm().Kind != provider.KindAEAD {
		return abi.ErrnoInval
	}
	if !in.handles.CanInsert() {
		return abi.ErrnoMfile
	}
	k.retain()
	return in.newHandle(ctx, mem, out.Ptr, typeCipherInitial, &cipherState{key: k, aead: aead})
}

// cipherInitial fetches an initial cipher state and checks a range.
func cipherInitial(in *instance, mem api.Memory, h uint32, r guestmem.Range) (*cipherState, abi.Errno) {
	v, err := in.handles.Get(h, typeCipherInitial)
	if err != nil {
		return nil, abi.ErrnoBadf
	}
	if !valid(mem, r) {
		return nil, abi.ErrnoFault
	}
	return v.(*cipherState), abi.ErrnoSuccess
}

// cipherSetNonce implements cipher_set_nonce(state, nonce, nonce_len).
//
//   - badf: state is not an initial cipher state.
//   - fault: the nonce is outside memory.
//   - inval: nonce_len is not 12.
func cipherSetNonce(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	s, errno := cipherInitial(in, mem, p.u32(0), p.rng(1))
	if errno != abi.ErrnoSuccess {
		return errno
	}
	if p.u32(2) != gcmNonceSize {
		return abi.ErrnoInval
	}
	copy(s.nonce[:], view(mem, p.rng(1)))
	s.hasNonce, s.freshNonce = true, true
	return abi.ErrnoSuccess
}

// cipherSetAuthData implements cipher_set_auth_data(state, auth, auth_len).
// The AAD applies to every later encryption and decryption until set again.
//
//   - badf: state is not an initial cipher state.
//   - fault: the AAD is outside memory.
//   - msgsize: the AAD is longer than the buffering limit.
//   - nomem: holding it would exceed the instance's budget.
func cipherSetAuthData(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	s, errno := cipherInitial(in, mem, p.u32(0), p.rng(1))
	if errno != abi.ErrnoSuccess {
		return errno
	}
	return in.setBuffer(&s.aad, view(mem, p.rng(1)))
}

// cipherGetAuthTag implements cipher_get_auth_tag(state, tag, tag_len): the
// tag of the last encryption, or its first tag_len bytes.
//
//   - badf: state is not an initial cipher state.
//   - fault: the tag buffer is outside memory.
//   - inval: no encryption yet, or tag_len is 0 or more than 16.
func cipherGetAuthTag(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	out := p.rng(1)
	s, errno := cipherInitial(in, mem, p.u32(0), out)
	if errno != abi.ErrnoSuccess {
		return errno
	}
	if !s.hasLastTag || out.Len == 0 || out.Len > gcmTagSize {
		return abi.ErrnoInval
	}
	copy(view(mem, out), s.lastTag[:])
	return abi.ErrnoSuccess
}

// cipherSetAuthTag implements cipher_set_auth_tag(state, tag, tag_len): the
// tag the next decryption must verify.
//
//   - badf: state is not an initial cipher state.
//   - fault: the tag is outside memory.
//   - inval: tag_len is not 16.
func cipherSetAuthTag(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	s, errno := cipherInitial(in, mem, p.u32(0), p.rng(1))
	if errno != abi.ErrnoSuccess {
		return errno
	}
	if p.u32(2) != gcmTagSize {
		return abi.ErrnoInval
	}
	copy(s.tag[:], view(mem, p.rng(1)))
	s.hasTag = true
	return abi.ErrnoSuccess
}

// cipherEncryptBegin implements cipher_encrypt_begin(state, out_state). It
// consumes state.
//
//   - badf: state is not an initial cipher state.
//   - fault: the out pointer is outside memory.
//   - inval: no nonce set since the last cipher_encrypt_begin or
//     cipher_decrypt_begin, or the nonce is the one this key last
//     encrypted with.
func cipherEncryptBegin(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	out := guestmem.HandleOut(p.u32(1))
	s, errno := cipherInitial(in, mem, p.u32(0), out)
	if errno != abi.ErrnoSuccess {
		return errno
	}
	k := s.key
	if !s.freshNonce || (k.hasLastNonce && k.lastNonce == s.nonce) {
		return abi.ErrnoInval
	}
	if _, errno := in.transition(mem, p.u32(0), typeCipherInitial, typeCipherEncrypting, out.Ptr); errno != abi.ErrnoSuccess {
		return errno
	}
	k.lastNonce, k.hasLastNonce = s.nonce, true
	s.hasNonce, s.freshNonce = false, false
	s.done = false
	return abi.ErrnoSuccess
}

// cipherEncrypt implements cipher_encrypt(state, plaintext, plaintext_len,
// ciphertext, ciphertext_len): exactly plaintext_len bytes of ciphertext are
// written; the tag is kept for cipher_get_auth_tag.
//
//   - badf: state is not an encrypting cipher state.
//   - fault: a buffer is outside memory.
//   - inval: this state already encrypted its message.
//   - range: ciphertext_len < plaintext_len.
//   - nomem: staging the ciphertext would exceed the instance's budget.
func cipherEncrypt(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeCipherEncrypting)
	if err != nil {
		return abi.ErrnoBadf
	}
	pt, ct := p.rng(1), p.rng(3)
	if !valid(mem, pt, ct) {
		return abi.ErrnoFault
	}
	s := v.(*cipherState)
	if s.done {
		return abi.ErrnoInval
	}
	if ct.Len < pt.Len {
		return abi.ErrnoRange
	}
	// Seal into host memory, then copy: plaintext and ciphertext may
	// overlap in any way. An output larger than the scratch an instance
	// keeps is left to the backend to allocate (a token's answer is in
	// memory of its own already, so staging it would be one more copy of
	// a large message); it holds no secret, so it is not cleared. The
	// output is charged to the budget for the call, whoever allocates it;
	// the backend charges what else it stages.
	n := int(pt.Len) + gcmTagSize
	if err := in.budget.Charge(n); err != nil {
		return abi.ToErrno(err)
	}
	defer in.budget.Release(n)
	var buf []byte
	if n <= maxRetainedScratch {
		buf = in.takeScratch(n)
	}
	sealed, err := s.aead.Seal(in.staging(ctx), buf, s.nonce[:], view(mem, pt), s.aad.b)
	if err != nil {
		if buf != nil {
			in.dropScratch(buf, err)
		}
		return abi.ToErrno(err)
	}
	copy(view(mem, guestmem.Range{Ptr: ct.Ptr, Len: pt.Len}), sealed[:pt.Len])
	copy(s.lastTag[:], sealed[pt.Len:])
	s.hasLastTag = true
	s.done = true
	if buf != nil {
		in.giveScratch(sealed)
	}
	return abi.ErrnoSuccess
}

// cipherEncryptEnd implements cipher_encrypt_end(state, out_state). It
// consumes the encrypting state and returns an initial one. It succeeds
// also when cipher_encrypt did not run (or failed), so that a guest can
// always get back to a state it can close; then no encryption happened,
// the nonce stays used, and cipher_get_auth_tag still answers the last
// encryption that did.
//
//   - badf: state is not an encrypting cipher state.
//   - fault: the out pointer is outside memory.
func cipherEncryptEnd(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	return cipherEnd(in, mem, p, typeCipherEncrypting)
}

func cipherEnd(in *instance, mem api.Memory, p args, from handles.Type) abi.Errno {
	v, err := in.handles.Get(p.u32(0), from)
	if err != nil {
		return abi.ErrnoBadf
	}
	out := guestmem.HandleOut(p.u32(1))
	if !valid(mem, out) {
		return abi.ErrnoFault
	}
	s := v.(*cipherState)
	if _, errno := in.transition(mem, p.u32(0), from, typeCipherInitial, out.Ptr); errno != abi.ErrnoSuccess {
		return errno
	}
	s.done = false
	if from == typeCipherDecrypting {
		s.hasTag = false // each decryption verifies its own tag
	}
	return abi.ErrnoSuccess
}

// cipherDecryptBegin implements cipher_decrypt_begin(state, out_state). It
// consumes state.
//
//   - badf: state is not an initial cipher state.
//   - fault: the out pointer is outside memory.
//   - inval: no nonce or no tag set.
func cipherDecryptBegin(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	out := guestmem.HandleOut(p.u32(1))
	s, errno := cipherInitial(in, mem, p.u32(0), out)
	if errno != abi.ErrnoSuccess {
		return errno
	}
	if !s.hasNonce || !s.hasTag {
		return abi.ErrnoInval
	}
	if _, errno := in.transition(mem, p.u32(0), typeCipherInitial, typeCipherDecrypting, out.Ptr); errno != abi.ErrnoSuccess {
		return errno
	}
	s.freshNonce = false // an encryption after this needs its own cipher_set_nonce
	s.done = false
	return abi.ErrnoSuccess
}

// cipherDecrypt implements cipher_decrypt(state, ciphertext, ciphertext_len,
// plaintext, plaintext_len): verifies the tag set before
// cipher_decrypt_begin and writes exactly ciphertext_len bytes of plaintext.
//
//   - badf: state is not a decrypting cipher state.
//   - fault: a buffer is outside memory.
//   - inval: this state already decrypted its message.
//   - range: plaintext_len < ciphertext_len.
//   - nomem: staging the ciphertext would exceed the instance's budget.
//   - badmsg: authentication failed; the plaintext buffer is untouched, and
//     the state may try again.
func cipherDecrypt(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Get(p.u32(0), typeCipherDecrypting)
	if err != nil {
		return abi.ErrnoBadf
	}
	ct, pt := p.rng(1), p.rng(3)
	if !valid(mem, ct, pt) {
		return abi.ErrnoFault
	}
	s := v.(*cipherState)
	if s.done {
		return abi.ErrnoInval
	}
	if pt.Len < ct.Len {
		return abi.ErrnoRange
	}
	// Join ciphertext and tag in host memory and open there: nothing
	// reaches the guest before the tag is verified. The staging is
	// charged to the budget for the call, before it is allocated.
	n := int(ct.Len) + gcmTagSize
	if err := in.budget.Charge(n); err != nil {
		return abi.ToErrno(err)
	}
	defer in.budget.Release(n)
	buf := in.takeScratch(n)
	buf = append(buf, view(mem, ct)...)
	buf = append(buf, s.tag[:]...)
	opened, err := s.aead.Open(in.staging(ctx), buf[:0], s.nonce[:], buf, s.aad.b)
	if err != nil {
		in.dropScratch(buf, err)
		return abi.ToErrno(err)
	}
	copy(view(mem, guestmem.Range{Ptr: pt.Ptr, Len: ct.Len}), opened)
	s.done = true
	in.giveScratch(buf)
	return abi.ErrnoSuccess
}

// cipherDecryptEnd implements cipher_decrypt_end(state, out_state). It takes
// the handle cipher_decrypt_begin returned (docs/semantics.md#handles), consumes it and
// returns an initial state, also after a failed (badmsg) or missing
// cipher_decrypt, so that the guest can close the state. The tag is
// cleared: the next decryption needs its own.
//
//   - badf: state is not a decrypting cipher state.
//   - fault: the out pointer is outside memory.
func cipherDecryptEnd(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	return cipherEnd(in, mem, p, typeCipherDecrypting)
}

// cipherClose implements cipher_close(state).
//
//   - badf: state is not an initial cipher state.
func cipherClose(in *instance, ctx context.Context, mem api.Memory, p args) abi.Errno {
	v, err := in.handles.Remove(p.u32(0), typeCipherInitial)
	if err != nil {
		return abi.ErrnoBadf
	}
	return abi.ToErrno(closeObject(ctx, v))
}
