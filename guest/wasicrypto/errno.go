package wasicrypto

import (
	"errors"
	"io/fs"
	"strconv"

	"github.com/wasihsm/wasihsm/spec"
)

// Errno is an error code of wasi_ephemeral_crypto, as the host returns it.
// The values are the spec's enum order, the same numbers as WASI preview1;
// they and their names are package spec's.
//
// An Errno is comparable and is itself an error, so errors.Is works with the
// constants below on any error this package returns:
//
//	if errors.Is(err, wasicrypto.ErrnoNotsup) { ... }
//
// It also answers errors.Is for the standard sentinels that mean the same
// thing: [fs.ErrNotExist] (noent), [fs.ErrPermission] (access) and
// [errors.ErrUnsupported] (notsup).
type Errno uint16

// The errno values that the wasihsm contract names (docs/semantics.md#errors).
const (
	// ErrnoSuccess is not an error; no function of this package returns it.
	ErrnoSuccess = Errno(spec.ErrnoSuccess)
	// ErrnoAccess: the host's policy forbids this key or operation to this guest.
	ErrnoAccess = Errno(spec.ErrnoAccess)
	// ErrnoBadf: an unknown, closed, consumed or wrong-type handle.
	ErrnoBadf = Errno(spec.ErrnoBadf)
	// ErrnoBadmsg: AEAD authentication failed.
	ErrnoBadmsg = Errno(spec.ErrnoBadmsg)
	// ErrnoFault: a memory range outside the guest's linear memory.
	ErrnoFault = Errno(spec.ErrnoFault)
	// ErrnoInval: an argument wrong for this algorithm or state.
	ErrnoInval = Errno(spec.ErrnoInval)
	// ErrnoIo: the token failed and could not be recovered.
	ErrnoIo = Errno(spec.ErrnoIO)
	// ErrnoMfile: the instance's handle limit is reached.
	ErrnoMfile = Errno(spec.ErrnoMfile)
	// ErrnoMsgsize: the data buffered by one state exceeds the host's limit.
	ErrnoMsgsize = Errno(spec.ErrnoMsgsize)
	// ErrnoNfile: the token has no session or object space left.
	ErrnoNfile = Errno(spec.ErrnoNfile)
	// ErrnoNoent: no managed key of that name.
	ErrnoNoent = Errno(spec.ErrnoNoent)
	// ErrnoNomem: the host is out of memory.
	ErrnoNomem = Errno(spec.ErrnoNomem)
	// ErrnoNotrecoverable: the key no longer exists on the token.
	ErrnoNotrecoverable = Errno(spec.ErrnoNotrecoverable)
	// ErrnoNotsup: an unknown algorithm, or one the host cannot serve.
	ErrnoNotsup = Errno(spec.ErrnoNotsup)
	// ErrnoRange: an output buffer is too short.
	ErrnoRange = Errno(spec.ErrnoRange)
	// ErrnoTimedout: the token did not answer within the host's deadline.
	ErrnoTimedout = Errno(spec.ErrnoTimedout)
)

// Error returns the errno's name in the spec ("inval", "badf", ...), or
// "errno N" for a value the contract does not name.
func (e Errno) Error() string {
	if name := spec.Errno(e).Name(); name != "" {
		return name
	}
	return "errno " + strconv.Itoa(int(e))
}

// Is reports whether e means the same as target, one of the standard
// sentinels [fs.ErrNotExist], [fs.ErrPermission] or [errors.ErrUnsupported].
// (Equality with another Errno needs no method: errors.Is compares first.)
func (e Errno) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return e == ErrnoNoent
	case fs.ErrPermission:
		return e == ErrnoAccess
	case errors.ErrUnsupported:
		return e == ErrnoNotsup
	}
	return false
}

// Timeout reports whether e is a timeout (timedout), so that callers that
// test for interface{ Timeout() bool } treat it as one.
func (e Errno) Timeout() bool { return e == ErrnoTimedout }

// CallError is the error of every failing operation of this package: which
// host function failed (or which operation the package refused before
// calling the host) and the errno. It unwraps to its Errno.
type CallError struct {
	// Func is the name of the host function as imported ("sign_open"), or,
	// for a check this package makes itself, of the Go method ("AEAD.Open").
	Func string
	// Detail, when not empty, says more than the errno; it never contains
	// key material.
	Detail string
	// Errno is the host's answer, or the errno the host would have given.
	Errno Errno
}

// Error returns "wasicrypto: FUNC: [DETAIL: ]ERRNO", e.g.
// "wasicrypto: sign_open: inval".
func (e *CallError) Error() string {
	s := "wasicrypto: " + e.Func + ": "
	if e.Detail != "" {
		s += e.Detail + ": "
	}
	return s + e.Errno.Error()
}

// Unwrap returns the Errno, so that errors.Is(err, ErrnoX) works.
func (e *CallError) Unwrap() error { return e.Errno }

// Timeout reports whether the errno is timedout.
func (e *CallError) Timeout() bool { return e.Errno.Timeout() }
