package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUnsupportedEverywhere(t *testing.T) {
	tok := func(state string) groupTokenReport {
		return groupTokenReport{Keys: map[string]string{"seal": state}}
	}
	for _, tc := range []struct {
		name   string
		tokens []groupTokenReport
		want   bool
	}{
		{"every token unsupported", []groupTokenReport{tok("unsupported"), tok("unsupported")}, true},
		{"one token missing it", []groupTokenReport{tok("unsupported"), tok("missing")}, false},
		{"one token down, unchecked", []groupTokenReport{tok("unsupported"), tok("unchecked")}, false},
		{"one token serves it", []groupTokenReport{tok("present"), tok("unsupported")}, false},
		{"no token", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, unsupportedEverywhere(tc.tokens, "seal"))
		})
	}
}
