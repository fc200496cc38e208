package provider

import "errors"

// The sentinel errors of every backend. Backends wrap them with context
// (fmt.Errorf("hsm: sign: %w", ErrTimeout)); callers test with errors.Is. Each
// has exactly one wasi_ephemeral_crypto errno (see docs/semantics.md#errors), given in its
// comment.
var (
	// ErrInvalidArgument: an argument is wrong for this algorithm or state
	// (lengths, missing nonce/tag/hash, key of the wrong algorithm). errno inval.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotSupported: unknown algorithm, or one that the configured backends
	// and policy cannot serve. errno notsup.
	ErrNotSupported = errors.New("not supported")
	// ErrAuthentication: AEAD authentication failed. It is deliberately
	// opaque: it never says which part of the input was wrong. errno badmsg.
	ErrAuthentication = errors.New("authentication failed")
	// ErrMessageTooLarge: buffered data of one state would exceed the
	// configured limit. errno msgsize.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrBudgetExhausted: the host memory held for the guest instance would
	// exceed its budget (see Budget). errno nomem.
	ErrBudgetExhausted = errors.New("instance memory budget exhausted")
	// ErrNoResources: the token has no session or object space left within
	// the deadline. errno nfile.
	ErrNoResources = errors.New("no token resources left")
	// ErrAccessDenied: the policy forbids this key or operation to this
	// guest. errno access.
	ErrAccessDenied = errors.New("access denied")
	// ErrNotFound: no managed key of that name. errno noent.
	ErrNotFound = errors.New("not found")
	// ErrDevice: the token failed and could not be recovered. errno io.
	ErrDevice = errors.New("device error")
	// ErrKeyLost: the key no longer exists on the token (lost in a token
	// restart). errno notrecoverable.
	ErrKeyLost = errors.New("key lost")
	// ErrTimeout: the token did not answer within the configured deadline.
	// errno timedout.
	ErrTimeout = errors.New("timed out")
)
