package hsm_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/wasihsm/wasihsm/hsm"
)

func TestSessionLimit(t *testing.T) {
	tests := []struct {
		name                 string
		tokenMax, configured int
		want                 int
	}{
		{"no limit, none configured", 0, 0, hsm.DefaultMaxSessions},
		{"token does not say", -1, 0, hsm.DefaultMaxSessions},
		{"configured, token without limit", 0, 40, 40},
		{"token lower than the default", 4, 0, 4},
		{"token lower than configured", 4, 8, 4},
		{"configured lower than the token", 100, 8, 8},
		{"token higher than the default", 100, 0, hsm.DefaultMaxSessions},
		{"token allows one", 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, hsm.SessionLimit(tt.tokenMax, tt.configured))
		})
	}
}
