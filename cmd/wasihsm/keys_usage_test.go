package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestKeysUsage: each keys subcommand's mistakes on the command line, in
// the order they are checked, are usage errors found before any
// configuration or token is read.
func TestKeysUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the first line on stderr
	}{
		{[]string{"list", "extra"}, "keys list takes no arguments"},
		{[]string{"list", "--label", "x"}, "keys list: flag provided but not defined: -label"},
		{[]string{"show"}, "keys show: --label or --id (or both) is required"},
		{[]string{"show", "--label", "x", "extra"}, "keys show takes no arguments"},
		{[]string{"show", "--label", "x", "--print", "nope", "--id", "0g"}, `keys show: --print "nope": want all, public or config`},
		{[]string{"show", "--label", "x", "--print", "config"}, "keys show: --print config needs --guest: the configuration grants the key to guests"},
		{[]string{"show", "--id", "0g"}, `keys show: --id "0g" is not hex; want an even number of hex digits, such as 01a2`},
		{[]string{"delete"}, "keys delete: --label or --id (or both) is required"},
		{[]string{"delete", "--id", "0g"}, `keys delete: --id "0g" is not hex; want an even number of hex digits, such as 01a2`},
		{[]string{"delete", "--label", "x", "--print", "all"}, "keys delete: flag provided but not defined: -print"},
		{[]string{"delete", "--label", "x", "--algorithm", "ES256"}, "keys delete: flag provided but not defined: -algorithm"},
		{[]string{"generate", "--algorithm", "ES256"}, "keys generate: --algorithm and --label are required"},
		{[]string{"generate", "--algorithm", "ES256", "--label", "x", "extra"}, "keys generate takes no arguments"},
		{[]string{"generate", "--algorithm", "ES256", "--label", "x", "--print", "config", "--id", "0g"}, "keys generate: --print config needs --guest: the configuration grants the key to guests"},
		{[]string{"generate", "--label", "x", "--id", "0g"}, `keys generate: --id "0g" is not hex; want an even number of hex digits, such as 01a2`},
		{[]string{"import", "--algorithm", "A128GCM", "--label", "x", "--id", "0g"}, "keys import: want one FILE (- for stdin) after the flags"},
		{[]string{"import", "--algorithm", "A128GCM", "--label", "x", "a", "b"}, "keys import: want one FILE (- for stdin) after the flags"},
		{[]string{"import", "--label", "x", "key.der"}, "keys import: --algorithm and --label are required"},
		{[]string{"import", "--algorithm", "A128GCM", "--label", "x", "--print", "public,config", "key.der"}, `keys import: --print "public,config": want all, public or config`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			c, stdout, stderr := newTestCLI(nil)
			assert.Equal(t, exitUsage, runCLI(c, append([]string{"keys"}, tc.args...)...), "stderr: %s", stderr)
			assert.Equal(t, "wasihsm: "+tc.want+"\n\n"+keysUsage, stderr.String())
			assert.Empty(t, stdout.String())
		})
	}
	for _, sub := range []string{"list", "show", "generate", "import", "delete"} {
		c, stdout, stderr := newTestCLI(nil)
		assert.Equal(t, exitOK, runCLI(c, "keys", sub, "-h"))
		assert.Equal(t, keysUsage, stdout.String())
		assert.Empty(t, stderr.String())
	}
}
