package provider

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGuestRuleMatches(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		name  string
		rule  GuestRule
		guest Guest
		want  bool
	}{
		{"module", GuestRule{Module: "jws.wasm"}, Guest{Name: "jws.wasm"}, true},
		{"other module", GuestRule{Module: "jws.wasm"}, Guest{Name: "evil.wasm", SHA256: hash}, false},
		{"hash, any case", GuestRule{SHA256: strings.ToUpper(hash)}, Guest{Name: "x", SHA256: hash}, true},
		{"other hash", GuestRule{SHA256: hash}, Guest{SHA256: strings.Repeat("cd", 32)}, false},
		{"hash rule, guest without hash", GuestRule{SHA256: hash}, Guest{Name: hash}, false},
		{"empty rule", GuestRule{}, Guest{}, false},
		{"empty rule, named guest", GuestRule{}, Guest{Name: "jws.wasm"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.rule.Matches(tt.guest))
		})
	}
}

func TestIsSHA256Hex(t *testing.T) {
	for s, want := range map[string]bool{
		strings.Repeat("ab", 32): true, strings.Repeat("AB", 32): true,
		strings.Repeat("ab", 31): false, strings.Repeat("ab", 33): false,
		strings.Repeat("zz", 32): false, "": false,
	} {
		assert.Equal(t, want, IsSHA256Hex(s), "%q", s)
	}
}
