package pkcs11uri

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics, fails only with a *Error, and every URI it
// returns survives String: Parse(u.String()) equals u, and String is then
// stable.
func FuzzParse(f *testing.F) {
	for _, tt := range rfcExamples {
		f.Add(tt.in)
	}
	for _, seed := range []string{
		"PKCS11:token=a%2;serial=1?pin-source=x%zz",
		"pkcs11:slot-id=18446744073709551615;library-version=255.255",
		"pkcs11:id=%00%FF;x-a=%00?x-a=&pin-value=%C3%A1|/?",
		"pkcs11:token=my-token;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b",
		"pkcs11:?",
		"pkcs11:;",
		"pkcs11:type=secret-key?module-name=softhsm2",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Problem == "" {
				t.Fatalf("Parse(%q): %T %v", s, err, err)
			}
			return
		}
		out := u.String()
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) = %#v; Parse(String() = %q): %v", s, u, out, err)
		}
		if !reflect.DeepEqual(u, again) {
			t.Fatalf("Parse(%q) = %#v, but Parse(%q) = %#v", s, u, out, again)
		}
		if again.String() != out {
			t.Fatalf("String is not stable: %q, then %q", out, again.String())
		}
		if !reflect.DeepEqual(u, u.Clone()) {
			t.Fatalf("Clone of %q differs", s)
		}
	})
}
