package abi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost/internal/handles"
)

func TestToErrno(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Errno
	}{
		{"nil", nil, ErrnoSuccess},
		{"bad handle", handles.ErrBadHandle, ErrnoBadf},
		{"handle limit", handles.ErrLimit, ErrnoMfile},
		{"invalid", provider.ErrInvalidArgument, ErrnoInval},
		{"not supported", provider.ErrNotSupported, ErrnoNotsup},
		{"auth", provider.ErrAuthentication, ErrnoBadmsg},
		{"too large", provider.ErrMessageTooLarge, ErrnoMsgsize},
		{"no resources", provider.ErrNoResources, ErrnoNfile},
		{"access", provider.ErrAccessDenied, ErrnoAccess},
		{"not found", provider.ErrNotFound, ErrnoNoent},
		{"key lost", provider.ErrKeyLost, ErrnoNotrecoverable},
		{"timeout", provider.ErrTimeout, ErrnoTimedout},
		{"device", provider.ErrDevice, ErrnoIO},
		{"fault", ErrFault, ErrnoFault},
		{"range", ErrRange, ErrnoRange},
		{"nomem", provider.ErrBudgetExhausted, ErrnoNomem},
		{"wrapped", fmt.Errorf("hsm: sign: %w", provider.ErrTimeout), ErrnoTimedout},
		{"unclassified is a failure, never success", errors.New("boom"), ErrnoIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ToErrno(tt.err))
		})
	}
}

func TestErrnoNumbersMatchContract(t *testing.T) {
	// docs/semantics.md#abi: the numbers are WASI preview1's.
	want := map[string]Errno{
		"success": 0, "access": 2, "badf": 8, "badmsg": 9, "fault": 21, "inval": 28, "io": 29,
		"mfile": 33, "msgsize": 35, "nfile": 41, "noent": 44, "nomem": 48, "notrecoverable": 56,
		"notsup": 58, "range": 68, "timedout": 73,
	}
	assert.Len(t, Errnos(), len(want))
	for _, e := range Errnos() {
		assert.Equal(t, want[e.String()], e, e.String())
	}
	assert.Equal(t, "errno(1000)", Errno(1000).String())
}
