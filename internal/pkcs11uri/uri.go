package pkcs11uri

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Scheme is the URI scheme, with its colon, as String writes it.
const Scheme = "pkcs11:"

// ObjectType is the value of the type attribute: the object's class.
type ObjectType string

// The object types of RFC 7512 (CKO_PUBLIC_KEY, CKO_PRIVATE_KEY,
// CKO_CERTIFICATE, CKO_SECRET_KEY, CKO_DATA).
const (
	TypePublic    ObjectType = "public"
	TypePrivate   ObjectType = "private"
	TypeCert      ObjectType = "cert"
	TypeSecretKey ObjectType = "secret-key"
	TypeData      ObjectType = "data"
)

var objectTypes = []ObjectType{TypePublic, TypePrivate, TypeCert, TypeSecretKey, TypeData}

// Version is a CK_VERSION: the library-version attribute.
type Version struct {
	Major, Minor uint8
}

// String returns "Major.Minor".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// URI is a parsed PKCS#11 URI. A nil field is an absent attribute; a
// non-nil one holds the decoded value, which may be empty.
type URI struct {
	// Token attributes (CK_TOKEN_INFO): label, manufacturerID, model,
	// serialNumber.
	Token, Manufacturer, Model, Serial *string
	// Library attributes (CK_INFO).
	LibraryManufacturer, LibraryDescription *string
	LibraryVersion                          *Version
	// Slot attributes (CK_SLOT_INFO and the CK_SLOT_ID).
	SlotManufacturer, SlotDescription *string
	SlotID                            *uint
	// Object attributes: CKA_LABEL, CKA_ID (raw bytes; nil when absent,
	// empty but not nil for "id=") and the class ("" when absent).
	Object *string
	ID     []byte
	Type   ObjectType

	// Query attributes. PinValue is a PIN: see the package documentation.
	PinSource, PinValue, ModuleName, ModulePath *string

	// Vendor-specific attributes ("x-" names) of the path and of the
	// query, decoded; nil when there are none.
	VendorPath, VendorQuery map[string]string
}

// kind says how an attribute's value is written.
type kind uint8

const (
	kindText    kind = iota // percent-encoded UTF-8
	kindBytes               // percent-encoded bytes (id)
	kindSlotID              // 1*DIGIT
	kindVersion             // 1*DIGIT [ "." 1*DIGIT ]
	kindType                // one of objectTypes
)

// attr describes one standard attribute. The table's order is the order in
// which String writes them.
type attr struct {
	name   string
	query  bool
	kind   kind
	secret bool                  // never shown in an error
	text   func(u *URI) **string // for kindText
}

var attrs = []attr{
	{name: "token", text: func(u *URI) **string { return &u.Token }},
	{name: "manufacturer", text: func(u *URI) **string { return &u.Manufacturer }},
	{name: "serial", text: func(u *URI) **string { return &u.Serial }},
	{name: "model", text: func(u *URI) **string { return &u.Model }},
	{name: "library-manufacturer", text: func(u *URI) **string { return &u.LibraryManufacturer }},
	{name: "library-version", kind: kindVersion},
	{name: "library-description", text: func(u *URI) **string { return &u.LibraryDescription }},
	{name: "object", text: func(u *URI) **string { return &u.Object }},
	{name: "type", kind: kindType},
	{name: "id", kind: kindBytes},
	{name: "slot-description", text: func(u *URI) **string { return &u.SlotDescription }},
	{name: "slot-manufacturer", text: func(u *URI) **string { return &u.SlotManufacturer }},
	{name: "slot-id", kind: kindSlotID},

	{name: "pin-source", query: true, text: func(u *URI) **string { return &u.PinSource }},
	{name: "pin-value", query: true, secret: true, text: func(u *URI) **string { return &u.PinValue }},
	{name: "module-name", query: true, text: func(u *URI) **string { return &u.ModuleName }},
	{name: "module-path", query: true, text: func(u *URI) **string { return &u.ModulePath }},
}

func lookup(name string) *attr {
	for i := range attrs {
		if attrs[i].name == name {
			return &attrs[i]
		}
	}
	return nil
}

func names(query bool) string {
	var n []string
	for _, a := range attrs {
		if a.query == query {
			n = append(n, a.name)
		}
	}
	return strings.Join(n, ", ")
}

// Error is a problem with a URI given to Parse. It names the attribute and
// says what is wrong; it never holds a pin-value.
type Error struct {
	// Attr is the attribute's name, or "" when the problem is not with one
	// named attribute.
	Attr string
	// Problem says what is wrong and what would be right.
	Problem string
}

// Error returns "pkcs11uri: ATTR: PROBLEM".
func (e *Error) Error() string {
	if e.Attr == "" {
		return "pkcs11uri: " + e.Problem
	}
	return "pkcs11uri: " + e.Attr + ": " + e.Problem
}

// Parse parses a PKCS#11 URI. The error is a *Error.
func Parse(s string) (*URI, error) {
	if len(s) < len(Scheme) || !strings.EqualFold(s[:len(Scheme)], Scheme) {
		return nil, &Error{Problem: `not a PKCS#11 URI: it must start with "pkcs11:" (RFC 7512)`}
	}
	path, query, _ := strings.Cut(s[len(Scheme):], "?")
	u := new(URI)
	seen := make(map[string]bool)
	for _, c := range []struct {
		s     string
		query bool
	}{{path, false}, {query, true}} {
		if c.s == "" {
			continue
		}
		sep := ";"
		if c.query {
			sep = "&"
		}
		for i, a := range strings.Split(c.s, sep) {
			if err := u.parseAttr(a, c.query, i+1, seen); err != nil {
				return nil, err
			}
		}
	}
	return u, nil
}

func component(query bool) string {
	if query {
		return "query"
	}
	return "path"
}

// parseAttr parses the n-th attribute a (name=value) of the path or the
// query into u.
func (u *URI) parseAttr(a string, query bool, n int, seen map[string]bool) error {
	name, value, ok := strings.Cut(a, "=")
	switch {
	case a == "":
		sep := ";"
		if query {
			sep = "&"
		}
		return &Error{Problem: fmt.Sprintf("attribute %d of the %s is empty; remove the stray %q", n, component(query), sep)}
	case !ok && lookup(a) != nil:
		return &Error{Attr: a, Problem: "has no value; write " + a + "=VALUE"}
	case !ok:
		// Not quoted: it might be a PIN written without its name.
		return &Error{Problem: fmt.Sprintf("attribute %d of the %s is not name=value", n, component(query))}
	case name == "" || !validName(name):
		return &Error{Problem: fmt.Sprintf("attribute %d of the %s: a name must be letters, digits, '-' and '_' (and is not empty)", n, component(query))}
	}
	key := name
	if query {
		key = "?" + name
	}
	if seen[key] {
		return &Error{Attr: name, Problem: "given twice; each attribute may appear once"}
	}
	seen[key] = true

	def := lookup(name)
	if def == nil {
		if len(name) > 2 && strings.HasPrefix(name, "x-") {
			return u.setVendor(name, value, query)
		}
		return unknown(name, query)
	}
	if def.query != query {
		if query {
			return &Error{Attr: name, Problem: "is a path attribute; write it before the '?'"}
		}
		return &Error{Attr: name, Problem: "is a query attribute; write it after a '?'"}
	}
	return u.set(def, value)
}

func unknown(name string, query bool) error {
	if lower := strings.ToLower(name); lower != name && lookup(lower) != nil {
		return &Error{Attr: name, Problem: "unknown attribute; attribute names are lower case: " + lower}
	}
	return &Error{Attr: name, Problem: fmt.Sprintf("unknown %s attribute; want one of %s, or a vendor-specific x-NAME (RFC 7512)", component(query), names(query))}
}

func (u *URI) setVendor(name, value string, query bool) error {
	b, problem := decode(value, query)
	if problem != "" {
		// Vendor values are opaque, and a query one might be secret.
		return &Error{Attr: name, Problem: "the value " + problem}
	}
	m := &u.VendorPath
	if query {
		m = &u.VendorQuery
	}
	if *m == nil {
		*m = make(map[string]string)
	}
	(*m)[name] = string(b)
	return nil
}

func (u *URI) set(def *attr, value string) error {
	fail := func(format string, args ...any) error {
		return &Error{Attr: def.name, Problem: fmt.Sprintf(format, args...)}
	}
	switch def.kind {
	case kindSlotID:
		if !digits(value) {
			return fail("%q is not a decimal number (the CK_SLOT_ID)", value)
		}
		id, err := strconv.ParseUint(value, 10, strconv.IntSize)
		if err != nil {
			return fail("%q is larger than a slot id can be", value)
		}
		v := uint(id)
		u.SlotID = &v
		return nil
	case kindVersion:
		major, minor, dot := strings.Cut(value, ".")
		if !digits(major) || dot && !digits(minor) {
			return fail("%q is not a version; want MAJOR or MAJOR.MINOR, such as 2 or 2.6", value)
		}
		v := Version{}
		for _, p := range []struct {
			s   string
			dst *uint8
		}{{major, &v.Major}, {minor, &v.Minor}} {
			if p.s == "" {
				continue
			}
			n, err := strconv.ParseUint(p.s, 10, 8)
			if err != nil {
				return fail("%q: each number of a CK_VERSION is at most 255", value)
			}
			*p.dst = uint8(n)
		}
		u.LibraryVersion = &v
		return nil
	case kindType:
		t := ObjectType(value)
		if !slices.Contains(objectTypes, t) {
			return fail("%q is not one of public, private, cert, secret-key, data", value)
		}
		u.Type = t
		return nil
	}

	b, problem := decode(value, def.query)
	if problem != "" {
		if def.secret {
			return fail("the value %s", problem)
		}
		return fail("%q: %s", value, problem)
	}
	if def.kind == kindBytes {
		if b == nil {
			b = []byte{}
		}
		u.ID = b
		return nil
	}
	if !utf8.Valid(b) {
		if def.secret {
			return fail("the value is not UTF-8 once decoded")
		}
		return fail("%q is not UTF-8 once decoded; only id may hold other bytes", value)
	}
	s := string(b)
	*def.text(u) = &s
	return nil
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// mayAppear reports whether c may appear unencoded in a value of the path
// (pk11-pchar) or of the query (pk11-qchar).
func mayAppear(c byte, query bool) bool {
	if isUnreserved(c) || strings.IndexByte(":[]@!$'()*+,=", c) >= 0 {
		return true
	}
	if query {
		return c == '/' || c == '?' || c == '|'
	}
	return c == '&'
}

// decode percent-decodes v, a value of the path or the query. The problem
// never quotes v: the caller decides whether it may be shown.
func decode(v string, query bool) ([]byte, string) {
	var b []byte
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '%':
			if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
				return nil, "has a bad %-escape; want % and two hex digits (%25 for % itself)"
			}
			b = append(b, unhex(v[i+1])<<4|unhex(v[i+2]))
			i += 2
		case mayAppear(c, query):
			b = append(b, c)
		default:
			return nil, fmt.Sprintf("holds a character that must be percent-encoded in the %s (%%%02X)", component(query), c)
		}
	}
	return b, ""
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// String returns the URI in the form Parse reads, pin-value included. Use
// Redacted for anything that might be logged or shown.
func (u *URI) String() string { return u.format(false) }

// Redacted is String with the pin-value (when there is one) written as
// "***".
func (u *URI) Redacted() string { return u.format(true) }

// Format implements fmt.Formatter: every verb prints Redacted, so that a
// URI in a log line or an error never shows its PIN.
func (u URI) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, u.Redacted()) }

func (u *URI) format(redact bool) string {
	var b strings.Builder
	b.WriteString(Scheme)
	for _, query := range []bool{false, true} {
		first := true
		put := func(name, value string, raw bool) {
			switch {
			case !first && query:
				b.WriteByte('&')
			case !first:
				b.WriteByte(';')
			case query:
				b.WriteByte('?')
			}
			first = false
			b.WriteString(name)
			b.WriteByte('=')
			if raw {
				b.WriteString(value)
			} else {
				encode(&b, value, query)
			}
		}
		for i := range attrs {
			a := &attrs[i]
			if a.query != query {
				continue
			}
			switch a.kind {
			case kindText:
				if p := *a.text(u); p != nil {
					if a.secret && redact {
						put(a.name, "***", true)
					} else {
						put(a.name, *p, false)
					}
				}
			case kindBytes:
				if u.ID != nil {
					var id strings.Builder
					for _, c := range u.ID {
						fmt.Fprintf(&id, "%%%02X", c)
					}
					put(a.name, id.String(), true)
				}
			case kindSlotID:
				if u.SlotID != nil {
					put(a.name, strconv.FormatUint(uint64(*u.SlotID), 10), true)
				}
			case kindVersion:
				if u.LibraryVersion != nil {
					put(a.name, u.LibraryVersion.String(), true)
				}
			case kindType:
				if u.Type != "" {
					put(a.name, string(u.Type), false)
				}
			}
		}
		vendor := u.VendorPath
		if query {
			vendor = u.VendorQuery
		}
		for _, name := range slices.Sorted(maps.Keys(vendor)) {
			put(name, vendor[name], false)
		}
	}
	return b.String()
}

// encode writes v percent-encoded for the path or the query: unreserved
// characters and those that are safe in any URI context stay as they are.
func encode(b *strings.Builder, v string, query bool) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if isUnreserved(c) || strings.IndexByte(":@!$'()*+,=", c) >= 0 || query && (c == '/' || c == '?') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(b, "%%%02X", c)
	}
}

// Clone returns a deep copy of u.
func (u *URI) Clone() *URI {
	c := *u
	for _, a := range attrs {
		if a.kind == kindText {
			if p := *a.text(u); p != nil {
				v := *p
				*a.text(&c) = &v
			}
		}
	}
	if u.ID != nil {
		c.ID = slices.Clone(u.ID)
	}
	if u.LibraryVersion != nil {
		v := *u.LibraryVersion
		c.LibraryVersion = &v
	}
	if u.SlotID != nil {
		v := *u.SlotID
		c.SlotID = &v
	}
	c.VendorPath = maps.Clone(u.VendorPath)
	c.VendorQuery = maps.Clone(u.VendorQuery)
	return &c
}

// HasQuery reports whether u has any query attribute.
func (u *URI) HasQuery() bool {
	return u.PinSource != nil || u.PinValue != nil || u.ModuleName != nil || u.ModulePath != nil || len(u.VendorQuery) > 0
}
