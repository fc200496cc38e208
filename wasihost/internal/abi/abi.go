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
	"github.com/wasihsm/wasihsm/wasihost/internal/handles"
)

// Module names of the two host modules.
const (
	ModuleName     = "wasi_ephemeral_crypto"
	KeysModuleName = "wasi_ephemeral_crypto_keys"
)

// Errno is a wasi_ephemeral_crypto error code. Values are the spec's enum
// order, the same as WASI preview1.
type Errno uint32

// The errnos this host answers (docs/semantics.md, #abi and #errors).
const (
	ErrnoSuccess        Errno = 0
	ErrnoAccess         Errno = 2
	ErrnoBadf           Errno = 8
	ErrnoBadmsg         Errno = 9
	ErrnoFault          Errno = 21
	ErrnoInval          Errno = 28
	ErrnoIO             Errno = 29
	ErrnoMfile          Errno = 33
	ErrnoMsgsize        Errno = 35
	ErrnoNfile          Errno = 41
	ErrnoNoent          Errno = 44
	ErrnoNomem          Errno = 48
	ErrnoNotrecoverable Errno = 56
	ErrnoNotsup         Errno = 58
	ErrnoRange          Errno = 68
	ErrnoTimedout       Errno = 73
)

var errnoNames = map[Errno]string{
	ErrnoSuccess: "success", ErrnoAccess: "access", ErrnoBadf: "badf", ErrnoBadmsg: "badmsg",
	ErrnoFault: "fault", ErrnoInval: "inval", ErrnoIO: "io", ErrnoMfile: "mfile",
	ErrnoMsgsize: "msgsize", ErrnoNfile: "nfile", ErrnoNoent: "noent", ErrnoNomem: "nomem",
	ErrnoNotrecoverable: "notrecoverable", ErrnoNotsup: "notsup", ErrnoRange: "range",
	ErrnoTimedout: "timedout",
}

// String returns the spec's name of the errno.
func (e Errno) String() string {
	if s, ok := errnoNames[e]; ok {
		return s
	}
	return "errno(" + strconv.Itoa(int(e)) + ")"
}

// Errnos returns every errno this host can answer, in numeric order.
func Errnos() []Errno {
	return []Errno{ErrnoSuccess, ErrnoAccess, ErrnoBadf, ErrnoBadmsg, ErrnoFault, ErrnoInval,
		ErrnoIO, ErrnoMfile, ErrnoMsgsize, ErrnoNfile, ErrnoNoent, ErrnoNomem,
		ErrnoNotrecoverable, ErrnoNotsup, ErrnoRange, ErrnoTimedout}
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
