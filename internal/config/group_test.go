package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGroupTokens: a group's items inherit module and PIN from pkcs11,
// take their own when given, and imply backend pkcs11 with policy
// balance.
func TestGroupTokens(t *testing.T) {
	p := writeConfig(t, `pkcs11:
  module: /lib/proxy.so
  pin: env:PIN
  init_args: "configdir='sql:/a'"
  tokens:
    - token: "pkcs11:serial=aaaa"
    - token: "pkcs11:token=t;serial=bbbb"
      module: /lib/other.so
      pin: env:OTHER
      init_args: ""
`)
	s, err := load(t, map[string]string{FlagConfig: p}, nil)
	require.NoError(t, err)
	assert.Equal(t, BackendPKCS11, s.Backend)
	assert.Equal(t, PolicyBalance, s.PKCS11.Policy)
	require.Len(t, s.PKCS11.Tokens, 2)
	a, b := s.PKCS11.Tokens[0], s.PKCS11.Tokens[1]
	assert.Equal(t, "pkcs11:serial=aaaa", a.Selector.String())
	assert.Equal(t, "/lib/proxy.so", a.Module)
	assert.Equal(t, "env:PIN", a.PIN.String())
	assert.Equal(t, "/lib/other.so", b.Module)
	assert.Equal(t, "env:OTHER", b.PIN.String())
	assert.Equal(t, "configdir='sql:/a'", a.InitArgs, "an item without init_args inherits pkcs11.init_args")
	assert.Equal(t, "", b.InitArgs, "an item's own init_args, empty included, is kept")
	serial, _ := b.Selector.Serial()
	assert.Equal(t, "bbbb", serial)
	assert.Contains(t, s.PKCS11.AllowedModules, "/lib/other.so", "a module the file names for a token is allowed")
	assert.NoError(t, s.CheckPKCS11())
	assert.False(t, s.PKCS11.Selector.IsSet())
}

// TestGroupRefusals: configurations of a group that Load refuses, each
// with the field and the problem.
func TestGroupRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		flags      map[string]string
		want       string
	}{
		{"one item", "pkcs11:\n  module: /m.so\n  tokens:\n    - token: a\n", nil,
			"pkcs11.tokens[0]: a group needs two or more tokens"},
		{"empty list", "pkcs11:\n  module: /m.so\n  tokens: []\n", nil,
			"pkcs11.tokens: empty list"},
		{"no token in an item", "pkcs11:\n  module: /m.so\n  tokens:\n    - pin: env:P\n    - token: b\n", nil,
			"pkcs11.tokens[0]: no token; select it by serial or URI"},
		{"identical labels", "pkcs11:\n  module: /m.so\n  tokens:\n    - token: same\n    - token: same\n", nil,
			"pkcs11.tokens[1].token: selects what pkcs11.tokens[0] selects"},
		{"unknown item field", "pkcs11:\n  module: /m.so\n  tokens:\n    - token: a\n      lable: x\n    - token: b\n", nil,
			"pkcs11.tokens[0].lable: unknown field; want one of token, module, pin, init_args"},
		{"PIN in the URI", "pkcs11:\n  module: /m.so\n  tokens:\n    - token: \"pkcs11:serial=a?pin-value=1234\"\n    - token: b\n", nil,
			"the URI carries a PIN"},
		{"object in the URI", "pkcs11:\n  module: /m.so\n  tokens:\n    - token: \"pkcs11:serial=a;object=k\"\n    - token: b\n", nil,
			"the URI names an object"},
		{"group and token", "pkcs11:\n  module: /m.so\n  token: one\n  tokens:\n    - token: a\n    - token: b\n", nil,
			"a group (pkcs11.tokens) and a single token (pkcs11.token"},
		{"group and --token", "pkcs11:\n  module: /m.so\n  tokens:\n    - token: a\n    - token: b\n", map[string]string{"token": "x"},
			"a group (pkcs11.tokens) and a single token (pkcs11.token, from flag --token)"},
		{"no module", "pkcs11:\n  tokens:\n    - token: a\n    - token: b\n", nil,
			"pkcs11.tokens[0]: no module"},
		{"module not allowed", "pkcs11:\n  module: /m.so\n  allowed_modules: [/m.so]\n  tokens:\n    - token: a\n    - token: b\n      module: /x.so\n", nil,
			"pkcs11.tokens[1]: module \"/x.so\" is not in pkcs11.allowed_modules"},
		{"policy without group", "pkcs11:\n  module: /m.so\n  token: a\n  policy: failover\n", nil,
			"pkcs11.policy: applies to pkcs11.tokens only"},
		{"unknown policy", "pkcs11:\n  module: /m.so\n  policy: random\n  tokens:\n    - token: a\n    - token: b\n", nil,
			"pkcs11.policy: \"random\": want balance or failover"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flags := map[string]string{FlagConfig: writeConfig(t, tc.body)}
			for k, v := range tc.flags {
				flags[k] = v
			}
			_, err := load(t, flags, nil)
			require.Error(t, err)
			assert.True(t, strings.Contains(err.Error(), tc.want), "error %q\nwant it to contain %q", err, tc.want)
		})
	}
}
