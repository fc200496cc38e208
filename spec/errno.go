package spec

import "strconv"

// Errno is an error code of wasi_ephemeral_crypto (docs/semantics.md#errors).
// The values are the spec's enum order, the same numbers as WASI preview1;
// the ABI carries them as a 16-bit errno.
type Errno uint16

// The errnos that the contract names.
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

// errnoNames is indexed by value, so that naming an errno (done per host
// call by observers) is one bounds check.
var errnoNames = [...]string{
	ErrnoSuccess: "success", ErrnoAccess: "access", ErrnoBadf: "badf", ErrnoBadmsg: "badmsg",
	ErrnoFault: "fault", ErrnoInval: "inval", ErrnoIO: "io", ErrnoMfile: "mfile",
	ErrnoMsgsize: "msgsize", ErrnoNfile: "nfile", ErrnoNoent: "noent", ErrnoNomem: "nomem",
	ErrnoNotrecoverable: "notrecoverable", ErrnoNotsup: "notsup", ErrnoRange: "range",
	ErrnoTimedout: "timedout",
}

// Name returns the spec's name of the errno ("success", "badf", "io"), or
// "" for a value the contract does not name.
func (e Errno) Name() string {
	if int(e) < len(errnoNames) {
		return errnoNames[e]
	}
	return ""
}

// String returns the errno's name, or "errno(N)" for a value the contract
// does not name.
func (e Errno) String() string {
	if s := e.Name(); s != "" {
		return s
	}
	return "errno(" + strconv.Itoa(int(e)) + ")"
}

// Errnos returns every errno the contract names, in numeric order.
func Errnos() []Errno {
	var out []Errno
	for e, name := range errnoNames {
		if name != "" {
			out = append(out, Errno(e))
		}
	}
	return out
}
