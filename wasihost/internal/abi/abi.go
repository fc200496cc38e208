// Package abi holds the wasm ABI of wasi_ephemeral_crypto as docs/semantics.md#abi
// lowers it: the module and function names, the errno enum, and the one
// mapping from Go errors to errnos.
//
// # The errno mapping
//
// [ToErrno] is the only place where an error becomes an errno. It walks a
// table of sentinels with errors.Is; an error that matches none becomes
// [ErrnoIO] — an explicit failure, never success — because an unclassified
// failure is, from the guest's view, a device that failed.
package abi

import (
	"errors"
	"strconv"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/spec"
	"github.com/wasihsm/wasihsm/wasihost/internal/handles"
)

// Module names of the two host modules.
const (
	ModuleName     = "wasi_ephemeral_crypto"
	KeysModuleName = "wasi_ephemeral_crypto_keys"
)

// Errno is a wasi_ephemeral_crypto error code as a host function returns
// it (an i32). The values and names are package spec's.
type Errno uint32

// The errnos this host answers (docs/semantics.md#errors).
const (
	ErrnoSuccess        = Errno(spec.ErrnoSuccess)
	ErrnoAccess         = Errno(spec.ErrnoAccess)
	ErrnoBadf           = Errno(spec.ErrnoBadf)
	ErrnoBadmsg         = Errno(spec.ErrnoBadmsg)
	ErrnoFault          = Errno(spec.ErrnoFault)
	ErrnoInval          = Errno(spec.ErrnoInval)
	ErrnoIO             = Errno(spec.ErrnoIO)
	ErrnoMfile          = Errno(spec.ErrnoMfile)
	ErrnoMsgsize        = Errno(spec.ErrnoMsgsize)
	ErrnoNfile          = Errno(spec.ErrnoNfile)
	ErrnoNoent          = Errno(spec.ErrnoNoent)
	ErrnoNomem          = Errno(spec.ErrnoNomem)
	ErrnoNotrecoverable = Errno(spec.ErrnoNotrecoverable)
	ErrnoNotsup         = Errno(spec.ErrnoNotsup)
	ErrnoRange          = Errno(spec.ErrnoRange)
	ErrnoTimedout       = Errno(spec.ErrnoTimedout)
)

// String returns the spec's name of the errno, or "errno(N)" for a value
// the contract does not name.
func (e Errno) String() string {
	if e > 0xffff {
		return "errno(" + strconv.Itoa(int(e)) + ")"
	}
	return spec.Errno(e).String()
}

// Errnos returns every errno this host can answer, in numeric order.
func Errnos() []Errno {
	all := spec.Errnos()
	out := make([]Errno, len(all))
	for i, e := range all {
		out[i] = Errno(e)
	}
	return out
}

// errnoTable is the one mapping from errors to errnos (docs/semantics.md#errors). Order
// matters only if an error wraps several sentinels; the first match wins.
var errnoTable = []struct {
	err   error
	errno Errno
}{
	{handles.ErrBadHandle, ErrnoBadf},
	{handles.ErrLimit, ErrnoMfile},
	{provider.ErrInvalidArgument, ErrnoInval},
	{provider.ErrNotSupported, ErrnoNotsup},
	{provider.ErrAuthentication, ErrnoBadmsg},
	{provider.ErrMessageTooLarge, ErrnoMsgsize},
	{provider.ErrBudgetExhausted, ErrnoNomem},
	{provider.ErrNoResources, ErrnoNfile},
	{provider.ErrAccessDenied, ErrnoAccess},
	{provider.ErrNotFound, ErrnoNoent},
	{provider.ErrKeyLost, ErrnoNotrecoverable},
	{provider.ErrTimeout, ErrnoTimedout},
	{provider.ErrDevice, ErrnoIO},
	{ErrFault, ErrnoFault},
	{ErrRange, ErrnoRange},
}

// Host-level conditions that have no provider sentinel.
var (
	// ErrFault: a (ptr, len) range outside linear memory.
	ErrFault = errors.New("memory range out of bounds")
	// ErrRange: an output buffer shorter than the input.
	ErrRange = errors.New("output buffer too short")
)

// ToErrno maps err to the errno the guest sees. nil is success; an error
// that matches no row of the table is ErrnoIO.
func ToErrno(err error) Errno {
	if err == nil {
		return ErrnoSuccess
	}
	for _, row := range errnoTable {
		if errors.Is(err, row.err) {
			return row.errno
		}
	}
	return ErrnoIO
}
