package abiscript

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The embedded scenarios parse, and each names its calls' errnos.
func TestScenariosParse(t *testing.T) {
	all, err := Scenarios()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(all), 10)
	for _, s := range all {
		calls := 0
		for _, st := range s.Steps {
			if strings.HasPrefix(st.Command, "call ") {
				calls++
				require.Len(t, st.Want, 1, "%s line %d", s.Name, st.Line)
			}
		}
		assert.NotZero(t, calls, s.Name)
	}
}

func TestParse(t *testing.T) {
	got, err := Parse(`
# a comment
scenario one
  slot h        
  buf b 00*3ff
  call hash_close $h = badf
  read b = 00*3ff | 01*3ff
  read h != a5a5a5a5
`)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "one", got[0].Name)
	assert.Equal(t, []Step{
		{Line: 4, Command: "fill h 4"},
		{Line: 5, Command: "buf b 000000ff"},
		{Line: 6, Command: "call hash_close $h", Want: []string{"badf"}},
		{Line: 7, Command: "read b", Want: []string{"000000ff", "010101ff"}},
		{Line: 8, Command: "read h", Want: []string{"a5a5a5a5"}, Not: true},
	}, got[0].Steps)

	for _, bad := range []string{
		"call hash_close 0 = badf",                        // before a scenario
		"scenario a\nscenario a",                          // twice
		"scenario a\n call hash_close 0",                  // no errno
		"scenario a\n call hash_close 0 = nosuch",         // unknown errno
		"scenario a\n call hash_close 0 = badf | success", // one errno only
		"scenario a\n read x",                             // no expectation
		"scenario a\n buf x 00 = 00",                      // expectation on a definition
		"scenario a\n frob x",                             // unknown command
		"scenario a\n call hash_close 0 !=  badf",         // != on a call
	} {
		_, err := Parse(bad)
		assert.ErrorIs(t, err, ErrSyntax, "%q", bad)
	}
}

func TestCheck(t *testing.T) {
	all, err := Parse(`scenario s
  slot h
  call hash_close 0 = badf
  read h = a5a5a5a5 | 00000000
  read h != 01020304
`)
	require.NoError(t, err)
	s := all[0]
	assert.Equal(t, "fill h 4\ncall hash_close 0\nread h\nread h\n", s.Input())
	assert.NoError(t, s.Check("ok\nok 8\nok a5a5a5a5\nok a5a5a5a5\n"))
	assert.NoError(t, s.Check("ok\nok 8\nok 00000000\nok 00000000\n"))
	for name, out := range map[string]string{
		"wrong errno":      "ok\nok 0\nok a5a5a5a5\nok a5a5a5a5\n",
		"unnamed errno":    "ok\nok 1000\nok a5a5a5a5\nok a5a5a5a5\n",
		"wrong bytes":      "ok\nok 8\nok a5a5a5a6\nok a5a5a5a5\n",
		"excluded bytes":   "ok\nok 8\nok a5a5a5a5\nok 01020304\n",
		"missing answers":  "ok\nok 8\n",
		"extra answers":    "ok\nok 8\nok a5a5a5a5\nok a5a5a5a5\nok\n",
		"guest refused":    "ok\nerr bad command call\nok a5a5a5a5\nok a5a5a5a5\n",
		"definition value": "ok 1\nok 8\nok a5a5a5a5\nok a5a5a5a5\n",
		"no output":        "",
	} {
		err := s.Check(out)
		assert.True(t, errors.Is(err, ErrMismatch), "%s: %v", name, err)
	}
}
