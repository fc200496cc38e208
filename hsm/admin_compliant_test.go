package hsm_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/wasihsm/wasihsm/hsm"
)

// TestCompliant: each attribute that keeps a key from being a managed key
// is named, and only those.
func TestCompliant(t *testing.T) {
	good := hsm.TokenKey{Class: "private", Token: true, Private: true, Sensitive: true}
	for _, tc := range []struct {
		name     string
		edit     func(*hsm.TokenKey)
		loggedIn bool
		want     []string
	}{
		{"managed key", func(*hsm.TokenKey) {}, true, nil},
		{"session object", func(k *hsm.TokenKey) { k.Token = false }, true,
			[]string{"CKA_TOKEN is false: a session object, gone when its session closes"}},
		{"extractable", func(k *hsm.TokenKey) { k.Extractable = true }, true,
			[]string{"CKA_EXTRACTABLE is true: the key can be wrapped and taken off the token"}},
		{"not sensitive", func(k *hsm.TokenKey) { k.Sensitive = false }, true,
			[]string{"CKA_SENSITIVE is false: the key's value can be read off the token"}},
		{"public with a login", func(k *hsm.TokenKey) { k.Private = false }, true,
			[]string{"CKA_PRIVATE is false: the key is usable without a login"}},
		{"public without a login", func(k *hsm.TokenKey) { k.Private = false }, false, nil},
		{"only a public key", func(k *hsm.TokenKey) { k.Class, k.Sensitive = "public", false }, true,
			[]string{"only a public key: the private half is not on the token"}},
		{"all wrong", func(k *hsm.TokenKey) { *k = hsm.TokenKey{Class: "secret", Extractable: true} }, true, []string{
			"CKA_TOKEN is false: a session object, gone when its session closes",
			"CKA_SENSITIVE is false: the key's value can be read off the token",
			"CKA_EXTRACTABLE is true: the key can be wrapped and taken off the token",
			"CKA_PRIVATE is false: the key is usable without a login",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := good
			tc.edit(&k)
			assert.Equal(t, tc.want, k.Compliant(tc.loggedIn))
		})
	}
}
