//go:build cgo

package hsm

import (
	"context"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// NewHash implements provider.Backend for the hashes whose digest
// mechanism the token lists.
//
// hash_digest may be asked any number of times without disturbing the
// state, and a token digest cannot be copied (SoftHSM2 answers
// C_GetOperationState with CKR_FUNCTION_NOT_SUPPORTED); holding a session
// per open hash would also let guests drain the pool. So the state
// buffers the data, up to Config.MaxBuffered bytes, and each Digest is one
// C_Digest over all of it on a pooled session.
func (b *Backend) NewHash(ctx context.Context, alg provider.Algorithm) (provider.Hash, error) {
	if !registered(alg) || (alg.Kind != provider.KindHash && alg.Kind != provider.KindXOF) {
		return nil, fmt.Errorf("hsm: hash %q: %w", alg.Name, provider.ErrNotSupported)
	}
	if b.Supports(alg, provider.OpHash) == provider.Unsupported {
		return nil, errorf(alg, provider.ErrNotSupported, "the token has no such digest")
	}
	return &hashState{b: b, alg: alg, mech: hashMechanisms[alg.Name], Buffer: provider.Buffer{Max: b.maxBuffered, Budget: provider.BudgetFrom(ctx)}}, nil
}

// hashState is an open hash on the token. Its buffer is charged to the
// budget of the context that opened it.
type hashState struct {
	b    *Backend
	alg  provider.Algorithm
	mech uint
	provider.Buffer
	closed bool
}

func (h *hashState) Algorithm() provider.Algorithm { return h.alg }

func (h *hashState) Update(p []byte) error {
	if h.closed {
		return errorf(h.alg, provider.ErrInvalidArgument, "hash state closed")
	}
	if len(p) > h.Max-len(h.Bytes()) {
		return errorf(h.alg, provider.ErrMessageTooLarge, "more than %d bytes to hash", h.Max)
	}
	if err := h.Append(p); err != nil {
		return errorf(h.alg, err, "hash buffer")
	}
	return nil
}

func (h *hashState) Digest(out []byte) error {
	if h.closed {
		return errorf(h.alg, provider.ErrInvalidArgument, "hash state closed")
	}
	if len(out) < 1 || len(out) > h.alg.OutputSize {
		return errorf(h.alg, provider.ErrInvalidArgument, "digest length %d: want 1 to %d", len(out), h.alg.OutputSize)
	}
	var sum []byte
	op := h.alg.Name + ": digest"
	// The token reads the buffer until the body returns, also after the
	// caller stopped waiting: the body holds it charged.
	st, err := stage(h.Budget, tokenStaging(len(h.Bytes()), h.alg.OutputSize), op)
	if err != nil {
		return err
	}
	// The interface gives Digest no context; the session wait bounds it.
	err = h.b.withSessionHeld(context.Background(), op, func(s pkcs11.SessionHandle) error {
		if err := h.b.p.DigestInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(h.mech, nil)}); err != nil {
			return err
		}
		var err error
		sum, err = h.b.singleCall(op, callDigest, s, h.Bytes(), h.alg.OutputSize)
		return err
	}, st)
	if err != nil {
		return err
	}
	if len(sum) != h.alg.OutputSize {
		return errorf(h.alg, provider.ErrDevice, "the token made a digest of %d bytes, want %d", len(sum), h.alg.OutputSize)
	}
	copy(out, sum)
	return nil
}

func (h *hashState) Close() error {
	h.Drop()
	h.closed = true
	return nil
}
