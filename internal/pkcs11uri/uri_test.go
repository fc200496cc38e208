package pkcs11uri

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ptr[T any](v T) *T { return &v }

// rfcExamples are the examples of RFC 7512 §3, each on one line (the RFC
// breaks them for print), with what Parse gives and what String writes.
var rfcExamples = []struct {
	in   string
	want *URI
	out  string // String(); "" when it is in
}{{
	in:   "pkcs11:",
	want: &URI{},
}, {
	in:   "pkcs11:object=my-pubkey;type=public",
	want: &URI{Object: ptr("my-pubkey"), Type: TypePublic},
}, {
	in:   "pkcs11:object=my-key;type=private?pin-source=file:/etc/token",
	want: &URI{Object: ptr("my-key"), Type: TypePrivate, PinSource: ptr("file:/etc/token")},
}, {
	in: "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;" +
		"model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=" +
		"?pin-source=file:/etc/token_pin",
	want: &URI{
		Token:        ptr("The Software PKCS#11 Softtoken"),
		Manufacturer: ptr("Snake Oil, Inc."),
		Model:        ptr("1.0"),
		Object:       ptr("my-certificate"),
		Type:         TypeCert,
		ID:           []byte{0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91},
		Serial:       ptr(""),
		PinSource:    ptr("file:/etc/token_pin"),
	},
	out: "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;serial=;" +
		"model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91?pin-source=file:/etc/token_pin",
}, {
	in:   "pkcs11:object=my-sign-key;type=private?module-name=mypkcs11",
	want: &URI{Object: ptr("my-sign-key"), Type: TypePrivate, ModuleName: ptr("mypkcs11")},
}, {
	in:   "pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1",
	want: &URI{Object: ptr("my-sign-key"), Type: TypePrivate, ModulePath: ptr("/mnt/libmypkcs11.so.1")},
}, {
	in:   "pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin",
	want: &URI{Token: ptr("Software PKCS#11 softtoken"), Manufacturer: ptr("Snake Oil, Inc."), PinValue: ptr("the-pin")},
}, {
	in:   "pkcs11:slot-description=Sun%20Metaslot",
	want: &URI{SlotDescription: ptr("Sun Metaslot")},
}, {
	in: "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23",
	want: &URI{
		LibraryManufacturer: ptr("Snake Oil, Inc."),
		LibraryDescription:  ptr("Soft Token Library"),
		LibraryVersion:      &Version{1, 23},
	},
	out: "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-version=1.23;library-description=Soft%20Token%20Library",
}, {
	in: "pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;id=%01%02%03%Ba%dd%Ca%fe%04%05%06",
	want: &URI{
		Token:          ptr("My token% created by Joe"),
		LibraryVersion: &Version{3, 0},
		ID:             []byte{1, 2, 3, 0xba, 0xdd, 0xca, 0xfe, 4, 5, 6},
	},
	out: "pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3.0;id=%01%02%03%BA%DD%CA%FE%04%05%06",
}, {
	in:   "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert",
	want: &URI{Token: ptr("A name with a substring %;"), Object: ptr("my-certificate"), Type: TypeCert},
}, {
	in:   "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert",
	want: &URI{Token: ptr("Name with a small A with acute: á"), Object: ptr("my-certificate"), Type: TypeCert},
}, {
	// The RFC writes these vendor attributes vendor-aaa and vendor-bbb; this
	// package wants vendor names to start with "x-" (see TestParseErrors for
	// the RFC's form).
	in: "pkcs11:token=my-token;object=my-certificate;type=cert;x-vendor-aaa=value-a" +
		"?pin-source=file:/etc/token_pin&x-vendor-bbb=value-b",
	want: &URI{
		Token: ptr("my-token"), Object: ptr("my-certificate"), Type: TypeCert,
		PinSource:   ptr("file:/etc/token_pin"),
		VendorPath:  map[string]string{"x-vendor-aaa": "value-a"},
		VendorQuery: map[string]string{"x-vendor-bbb": "value-b"},
	},
}}

func TestParseRFCExamples(t *testing.T) {
	for _, tt := range rfcExamples {
		t.Run(tt.in, func(t *testing.T) {
			u, err := Parse(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, u)
			out := tt.out
			if out == "" {
				out = tt.in
			}
			assert.Equal(t, out, u.String())
			again, err := Parse(u.String())
			require.NoError(t, err)
			assert.Equal(t, u, again)
		})
	}
}

func TestParseForms(t *testing.T) {
	tests := []struct {
		in   string
		want *URI
		out  string
	}{
		{"PKCS11:token=t", &URI{Token: ptr("t")}, "pkcs11:token=t"},
		{"Pkcs11:?", &URI{}, "pkcs11:"},
		{"pkcs11:?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin%3Fx",
			&URI{ModulePath: ptr("/usr/lib/softhsm/libsofthsm2.so"), PinSource: ptr("file:/run/pin?x")},
			"pkcs11:?pin-source=file:/run/pin?x&module-path=/usr/lib/softhsm/libsofthsm2.so"},
		{"pkcs11:slot-id=0", &URI{SlotID: ptr(uint(0))}, ""},
		{"pkcs11:slot-id=007", &URI{SlotID: ptr(uint(7))}, "pkcs11:slot-id=7"},
		{"pkcs11:slot-id=1394567567", &URI{SlotID: ptr(uint(1394567567))}, ""},
		{"pkcs11:library-version=255.0", &URI{LibraryVersion: &Version{255, 0}}, ""},
		{"pkcs11:id=", &URI{ID: []byte{}}, ""},
		{"pkcs11:id=ab", &URI{ID: []byte("ab")}, "pkcs11:id=%61%62"},
		{"pkcs11:token=", &URI{Token: ptr("")}, ""},
		{"pkcs11:token=a=b&c", &URI{Token: ptr("a=b&c")}, "pkcs11:token=a=b%26c"},
		{"pkcs11:token=[x]|y", nil, ""}, // '|' is for the query only
		{"pkcs11:token=[x]", &URI{Token: ptr("[x]")}, "pkcs11:token=%5Bx%5D"},
		{"pkcs11:?pin-value=a|b/c?d", &URI{PinValue: ptr("a|b/c?d")}, "pkcs11:?pin-value=a%7Cb/c?d"},
		{"pkcs11:type=secret-key;type2=x", nil, ""},
		{"pkcs11:x-a=%00%ff;x-b_2=?x-a=1", &URI{
			VendorPath:  map[string]string{"x-a": "\x00\xff", "x-b_2": ""},
			VendorQuery: map[string]string{"x-a": "1"},
		}, "pkcs11:x-a=%00%FF;x-b_2=?x-a=1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := Parse(tt.in)
			if tt.want == nil {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, u)
			out := tt.out
			if out == "" {
				out = tt.in
			}
			assert.Equal(t, out, u.String())
		})
	}
}

// TestParseErrors lists every kind of problem with its exact message.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", `pkcs11uri: not a PKCS#11 URI: it must start with "pkcs11:" (RFC 7512)`},
		{"pkcs11", `pkcs11uri: not a PKCS#11 URI: it must start with "pkcs11:" (RFC 7512)`},
		{"pkcs:token=a", `pkcs11uri: not a PKCS#11 URI: it must start with "pkcs11:" (RFC 7512)`},
		{"pkcs11:token=a;", `pkcs11uri: attribute 2 of the path is empty; remove the stray ";"`},
		{"pkcs11:;token=a", `pkcs11uri: attribute 1 of the path is empty; remove the stray ";"`},
		{"pkcs11:?pin-source=a&&x-b=1", `pkcs11uri: attribute 2 of the query is empty; remove the stray "&"`},
		{"pkcs11:token", `pkcs11uri: token: has no value; write token=VALUE`},
		{"pkcs11:token=a?1234", `pkcs11uri: attribute 1 of the query is not name=value`},
		{"pkcs11:=a", `pkcs11uri: attribute 1 of the path: a name must be letters, digits, '-' and '_' (and is not empty)`},
		{"pkcs11:to ken=a", `pkcs11uri: attribute 1 of the path: a name must be letters, digits, '-' and '_' (and is not empty)`},
		{"pkcs11:token=a;token=a", `pkcs11uri: token: given twice; each attribute may appear once`},
		{"pkcs11:?pin-value=1&pin-value=1", `pkcs11uri: pin-value: given twice; each attribute may appear once`},
		{"pkcs11:x-a=1?x-b=1&x-b=2", `pkcs11uri: x-b: given twice; each attribute may appear once`},
		{"pkcs11:tokne=a", `pkcs11uri: tokne: unknown path attribute; want one of token, manufacturer, serial, model, ` +
			`library-manufacturer, library-version, library-description, object, type, id, slot-description, ` +
			`slot-manufacturer, slot-id, or a vendor-specific x-NAME (RFC 7512)`},
		{"pkcs11:?pin=1234", `pkcs11uri: pin: unknown query attribute; want one of pin-source, pin-value, ` +
			`module-name, module-path, or a vendor-specific x-NAME (RFC 7512)`},
		{"pkcs11:token=my-token;vendor-aaa=value-a", `pkcs11uri: vendor-aaa: unknown path attribute; want one of token, ` +
			`manufacturer, serial, model, library-manufacturer, library-version, library-description, object, type, ` +
			`id, slot-description, slot-manufacturer, slot-id, or a vendor-specific x-NAME (RFC 7512)`},
		{"pkcs11:x-=1", `pkcs11uri: x-: unknown path attribute; want one of token, manufacturer, serial, model, ` +
			`library-manufacturer, library-version, library-description, object, type, id, slot-description, ` +
			`slot-manufacturer, slot-id, or a vendor-specific x-NAME (RFC 7512)`},
		{"pkcs11:Token=a", `pkcs11uri: Token: unknown attribute; attribute names are lower case: token`},
		{"pkcs11:pin-value=1234", `pkcs11uri: pin-value: is a query attribute; write it after a '?'`},
		{"pkcs11:?token=a", `pkcs11uri: token: is a path attribute; write it before the '?'`},
		{"pkcs11:slot-id=", `pkcs11uri: slot-id: "" is not a decimal number (the CK_SLOT_ID)`},
		{"pkcs11:slot-id=-1", `pkcs11uri: slot-id: "-1" is not a decimal number (the CK_SLOT_ID)`},
		{"pkcs11:slot-id=0x10", `pkcs11uri: slot-id: "0x10" is not a decimal number (the CK_SLOT_ID)`},
		{"pkcs11:slot-id=%31", `pkcs11uri: slot-id: "%31" is not a decimal number (the CK_SLOT_ID)`},
		{"pkcs11:slot-id=99999999999999999999999", `pkcs11uri: slot-id: "99999999999999999999999" is larger than a slot id can be`},
		{"pkcs11:library-version=1.", `pkcs11uri: library-version: "1." is not a version; want MAJOR or MAJOR.MINOR, such as 2 or 2.6`},
		{"pkcs11:library-version=.1", `pkcs11uri: library-version: ".1" is not a version; want MAJOR or MAJOR.MINOR, such as 2 or 2.6`},
		{"pkcs11:library-version=1.2.3", `pkcs11uri: library-version: "1.2.3" is not a version; want MAJOR or MAJOR.MINOR, such as 2 or 2.6`},
		{"pkcs11:library-version=2.256", `pkcs11uri: library-version: "2.256": each number of a CK_VERSION is at most 255`},
		{"pkcs11:type=Private", `pkcs11uri: type: "Private" is not one of public, private, cert, secret-key, data`},
		{"pkcs11:type=", `pkcs11uri: type: "" is not one of public, private, cert, secret-key, data`},
		{"pkcs11:token=a%2", `pkcs11uri: token: "a%2": has a bad %-escape; want % and two hex digits (%25 for % itself)`},
		{"pkcs11:token=a%zz", `pkcs11uri: token: "a%zz": has a bad %-escape; want % and two hex digits (%25 for % itself)`},
		{"pkcs11:token=50%", `pkcs11uri: token: "50%": has a bad %-escape; want % and two hex digits (%25 for % itself)`},
		{"pkcs11:token=My token", `pkcs11uri: token: "My token": holds a character that must be percent-encoded in the path (%20)`},
		{"pkcs11:token=a/b", `pkcs11uri: token: "a/b": holds a character that must be percent-encoded in the path (%2F)`},
		{"pkcs11:token=a#b", `pkcs11uri: token: "a#b": holds a character that must be percent-encoded in the path (%23)`},
		{"pkcs11:token=é", `pkcs11uri: token: "é": holds a character that must be percent-encoded in the path (%C3)`},
		{"pkcs11:?module-path=/a b", `pkcs11uri: module-path: "/a b": holds a character that must be percent-encoded in the query (%20)`},
		{"pkcs11:object=%ff", `pkcs11uri: object: "%ff" is not UTF-8 once decoded; only id may hold other bytes`},
		{"pkcs11:id=%0", `pkcs11uri: id: "%0": has a bad %-escape; want % and two hex digits (%25 for % itself)`},
		{"pkcs11:x-v=a b", `pkcs11uri: x-v: the value holds a character that must be percent-encoded in the path (%20)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := Parse(tt.in)
			assert.Nil(t, u)
			require.EqualError(t, err, tt.want)
			var e *Error
			require.True(t, errors.As(err, &e))
		})
	}
}

// TestPINNeverInErrors gives Parse broken URIs that hold a pin-value: no
// error shows it.
func TestPINNeverInErrors(t *testing.T) {
	const pin = "s3cr3t"
	for _, in := range []string{
		"pkcs11:?pin-value=" + pin + "%",
		"pkcs11:?pin-value=" + pin + "%zz",
		"pkcs11:?pin-value=" + pin + " x",
		"pkcs11:?pin-value=" + pin + "%ff",
		"pkcs11:?pin-value=" + pin + "&pin-value=" + pin,
		"pkcs11:pin-value=" + pin,
		"pkcs11:?" + pin,
		"pkcs11:?pin-value=" + pin + "&token=x",
		"pkcs11:?pin-value=" + pin + "&bogus=" + pin,
		"pkcs11:?x-secret=" + pin + " x",
		"pkcs11:slot-id=x?pin-value=" + pin,
	} {
		_, err := Parse(in)
		require.Error(t, err, in)
		assert.NotContains(t, err.Error(), pin, in)
		assert.Equal(t, strings.Count(err.Error(), "\n"), 0)
	}
}

func TestRedacted(t *testing.T) {
	u, err := Parse("pkcs11:token=t?pin-value=the-pin&module-path=/m.so")
	require.NoError(t, err)
	assert.Equal(t, "pkcs11:token=t?pin-value=the-pin&module-path=/m.so", u.String())
	assert.Equal(t, "pkcs11:token=t?pin-value=***&module-path=/m.so", u.Redacted())
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		assert.Equal(t, u.Redacted(), fmt.Sprintf(verb, u), verb)
		assert.Equal(t, u.Redacted(), fmt.Sprintf(verb, *u), verb)
	}
	assert.NotContains(t, fmt.Sprintf("%v", struct{ U *URI }{u}), "the-pin")
	assert.NotContains(t, fmt.Sprintf("%+v", struct{ U URI }{*u}), "the-pin")

	u, err = Parse("pkcs11:token=t")
	require.NoError(t, err)
	assert.Equal(t, u.String(), u.Redacted(), "nothing to redact")
}

func TestClone(t *testing.T) {
	u, err := Parse(rfcExamples[3].in + "&pin-value=1&x-q=2")
	require.NoError(t, err)
	u.VendorPath = map[string]string{"x-p": "3"}
	u.SlotID, u.LibraryVersion = ptr(uint(4)), &Version{1, 2}
	c := u.Clone()
	assert.Equal(t, u, c)
	*c.Token, c.ID[0], *c.SlotID, c.LibraryVersion.Major = "changed", 0, 5, 9
	c.VendorPath["x-p"], c.VendorQuery["x-q"] = "", ""
	assert.Equal(t, "The Software PKCS#11 Softtoken", *u.Token)
	assert.Equal(t, byte(0x69), u.ID[0])
	assert.Equal(t, uint(4), *u.SlotID)
	assert.Equal(t, uint8(1), u.LibraryVersion.Major)
	assert.Equal(t, "3", u.VendorPath["x-p"])
	assert.Equal(t, "2", u.VendorQuery["x-q"])
	assert.Equal(t, &URI{}, (&URI{}).Clone())
}

func TestHasQuery(t *testing.T) {
	for in, want := range map[string]bool{
		"pkcs11:token=a":                false,
		"pkcs11:token=a?":               false,
		"pkcs11:?pin-source=f":          true,
		"pkcs11:?pin-value=":            true,
		"pkcs11:?module-name=m":         true,
		"pkcs11:?module-path=/m":        true,
		"pkcs11:?x-a=1":                 true,
		"pkcs11:x-a=1":                  false,
		"pkcs11:library-version=1?x-a=": true,
	} {
		u, err := Parse(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, u.HasQuery(), in)
	}
}

func TestMatches(t *testing.T) {
	lib := LibraryInfo{Manufacturer: "SoftHSM                         ", Description: "Implementation of PKCS11          ", Version: Version{2, 6}}
	slot := SlotInfo{ID: 1394567567, Description: "SoftHSM slot ID 0x5320a3cf      ", Manufacturer: "SoftHSM project"}
	tok := TokenInfo{Label: "wasihsm                         ", Manufacturer: "SoftHSM project", Model: "SoftHSM v2      ", Serial: "1a2b3c4d5e6f7a8b"}
	tests := []struct {
		uri                string
		library, slot, tok bool
	}{
		{"pkcs11:", true, true, true},
		{"pkcs11:token=wasihsm", true, true, true},
		{"pkcs11:token=wasihsm%20", true, true, false},
		{"pkcs11:token=Wasihsm", true, true, false},
		{"pkcs11:token=wasihsm;serial=1a2b3c4d5e6f7a8b;model=SoftHSM%20v2;manufacturer=SoftHSM%20project", true, true, true},
		{"pkcs11:token=wasihsm;serial=0000", true, true, false},
		{"pkcs11:serial=", true, true, false},
		{"pkcs11:model=SoftHSM%20v2", true, true, true},
		{"pkcs11:slot-id=1394567567", true, true, true},
		{"pkcs11:slot-id=0", true, false, true},
		{"pkcs11:slot-description=SoftHSM%20slot%20ID%200x5320a3cf;slot-manufacturer=SoftHSM%20project", true, true, true},
		{"pkcs11:slot-manufacturer=other", true, false, true},
		{"pkcs11:library-manufacturer=SoftHSM;library-description=Implementation%20of%20PKCS11;library-version=2.6", true, true, true},
		{"pkcs11:library-version=2", false, true, true},
		{"pkcs11:library-description=other", false, true, true},
		// Object and query attributes play no part in matching these levels.
		{"pkcs11:object=k;type=private;id=%01?pin-value=1&module-path=/x.so&x-q=1", true, true, true},
		// A vendor-specific path attribute is not understood: nothing matches.
		{"pkcs11:token=wasihsm;x-vendor=1", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			u, err := Parse(tt.uri)
			require.NoError(t, err)
			assert.Equal(t, tt.library, u.MatchesLibrary(lib), "library")
			assert.Equal(t, tt.slot, u.MatchesSlot(slot), "slot")
			assert.Equal(t, tt.tok, u.MatchesToken(tok), "token")
		})
	}
	u, err := Parse("pkcs11:token=wasihsm")
	require.NoError(t, err)
	assert.True(t, u.MatchesToken(TokenInfo{Label: "wasihsm\x00\x00"}), "NUL padding")
}
