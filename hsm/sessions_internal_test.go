//go:build cgo

package hsm

import (
	"math"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
)

// TestSessionLimitConversion: every CK_ULONG a token may report as its
// session limit becomes a limit the backend can use, never a negative
// number of sessions (openCryptoki reports ULONG_MAX-1).
func TestSessionLimitConversion(t *testing.T) {
	for _, tc := range []struct {
		name         string
		token        uint
		limit, count int
		backend      int // SessionLimit with nothing configured
	}{
		{"CK_EFFECTIVELY_INFINITE", pkcs11.CK_EFFECTIVELY_INFINITE, 0, 0, DefaultMaxSessions},
		{"CK_UNAVAILABLE_INFORMATION", pkcs11.CK_UNAVAILABLE_INFORMATION, -1, -1, DefaultMaxSessions},
		{"openCryptoki: ULONG_MAX-1", math.MaxUint - 1, 0, -1, DefaultMaxSessions},
		{"above int32", math.MaxInt32 + 1, 0, -1, DefaultMaxSessions},
		{"above int", math.MaxInt + 1, 0, -1, DefaultMaxSessions},
		{"int32 max", math.MaxInt32, math.MaxInt32, math.MaxInt32, DefaultMaxSessions},
		{"tpm2-pkcs11: 1024", 1024, 1024, 1024, DefaultMaxSessions},
		{"few", 4, 4, 4, 4},
		{"one", 1, 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.limit, sessionLimit(tc.token), "limit")
			assert.Equal(t, tc.count, sessionCount(tc.token), "count")
			assert.Equal(t, tc.backend, SessionLimit(sessionLimit(tc.token), 0), "sessions the backend opens")
			assert.Equal(t, min(3, tc.backend), SessionLimit(sessionLimit(tc.token), 3), "with 3 configured")
		})
	}
}
