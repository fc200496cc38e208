package wasicrypto

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/wasihsm/wasihsm/spec"
)

func TestErrnoError(t *testing.T) {
	tests := []struct {
		e    Errno
		want string
	}{
		{ErrnoSuccess, "success"},
		{ErrnoAccess, "access"},
		{ErrnoBadf, "badf"},
		{ErrnoBadmsg, "badmsg"},
		{ErrnoFault, "fault"},
		{ErrnoInval, "inval"},
		{ErrnoIo, "io"},
		{ErrnoMfile, "mfile"},
		{ErrnoMsgsize, "msgsize"},
		{ErrnoNfile, "nfile"},
		{ErrnoNoent, "noent"},
		{ErrnoNomem, "nomem"},
		{ErrnoNotrecoverable, "notrecoverable"},
		{ErrnoNotsup, "notsup"},
		{ErrnoRange, "range"},
		{ErrnoTimedout, "timedout"},
		{Errno(1), "errno 1"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Errno(%d).Error() = %q, want %q", uint16(tt.e), got, tt.want)
		}
	}
}

// The numbers are the wire values of docs/semantics.md#abi; a typo here would make
// every guest misreport errors.
func TestErrnoValues(t *testing.T) {
	want := map[Errno]uint16{
		ErrnoSuccess: 0, ErrnoAccess: 2, ErrnoBadf: 8, ErrnoBadmsg: 9, ErrnoFault: 21,
		ErrnoInval: 28, ErrnoIo: 29, ErrnoMfile: 33, ErrnoMsgsize: 35, ErrnoNfile: 41,
		ErrnoNoent: 44, ErrnoNomem: 48, ErrnoNotrecoverable: 56, ErrnoNotsup: 58,
		ErrnoRange: 68, ErrnoTimedout: 73,
	}
	if n := len(spec.Errnos()); len(want) != n {
		t.Errorf("%d errno names, want %d", n, len(want))
	}
	for e, v := range want {
		if uint16(e) != v {
			t.Errorf("%v = %d, want %d", e, uint16(e), v)
		}
	}
}

func TestCallError(t *testing.T) {
	var err error = &CallError{Func: "sign_open", Errno: ErrnoInval}
	if got, want := err.Error(), "wasicrypto: sign_open: inval"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	err = &CallError{Func: "AEAD.Open", Detail: "short", Errno: ErrnoBadmsg}
	if got, want := err.Error(), "wasicrypto: AEAD.Open: short: badmsg"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestErrnoIs(t *testing.T) {
	tests := []struct {
		e      Errno
		target error
		want   bool
	}{
		{ErrnoNoent, fs.ErrNotExist, true},
		{ErrnoAccess, fs.ErrPermission, true},
		{ErrnoNotsup, errors.ErrUnsupported, true},
		{ErrnoInval, ErrnoInval, true},
		{ErrnoInval, ErrnoBadf, false},
		{ErrnoInval, fs.ErrNotExist, false},
		{ErrnoNoent, fs.ErrPermission, false},
		{ErrnoBadf, errors.ErrUnsupported, false},
	}
	for _, tt := range tests {
		// Through the wrapping every caller sees.
		err := fmt.Errorf("context: %w", &CallError{Func: "f", Errno: tt.e})
		if got := errors.Is(err, tt.target); got != tt.want {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", err, tt.target, got, tt.want)
		}
	}
}

func TestTimeout(t *testing.T) {
	var timeout interface{ Timeout() bool }
	err := fmt.Errorf("x: %w", &CallError{Func: "sign", Errno: ErrnoTimedout})
	if !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Errorf("%v is not a timeout", err)
	}
	if ErrnoIo.Timeout() {
		t.Errorf("io is a timeout")
	}
}
