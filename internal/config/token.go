package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wasihsm/wasihsm/internal/pkcs11uri"
)

// TokenSelector says which token the PKCS#11 backend uses: the one whose
// library, slot and token match every attribute the configuration gives
// (pkcs11.token as a label or as the path attributes of a URI,
// pkcs11.serial, pkcs11.slot_id). It holds no PIN and no module: see
// [PKCS11]. The zero TokenSelector selects nothing.
type TokenSelector struct {
	uri *pkcs11uri.URI // path attributes only; nil when nothing selects
}

// IsSet reports whether any attribute selects a token.
func (t TokenSelector) IsSet() bool { return t.uri != nil }

// URI returns the selector as a PKCS#11 URI of path attributes only (a copy:
// changing it changes nothing here), or nil when nothing selects.
func (t TokenSelector) URI() *pkcs11uri.URI {
	if t.uri == nil {
		return nil
	}
	return t.uri.Clone()
}

// Label returns the token label asked for, if any.
func (t TokenSelector) Label() (string, bool) {
	return attrValue(t.uri, func(u *pkcs11uri.URI) *string { return u.Token })
}

// Serial returns the token serial number asked for, if any.
func (t TokenSelector) Serial() (string, bool) {
	return attrValue(t.uri, func(u *pkcs11uri.URI) *string { return u.Serial })
}

// SlotID returns the slot id asked for, if any.
func (t TokenSelector) SlotID() (uint, bool) {
	if t.uri == nil || t.uri.SlotID == nil {
		return 0, false
	}
	return *t.uri.SlotID, true
}

func attrValue(u *pkcs11uri.URI, f func(*pkcs11uri.URI) *string) (string, bool) {
	if u == nil || f(u) == nil {
		return "", false
	}
	return *f(u), true
}

// MatchesLibrary reports whether the module's CK_INFO matches (see
// [pkcs11uri.URI.MatchesLibrary]); false when nothing selects.
func (t TokenSelector) MatchesLibrary(l pkcs11uri.LibraryInfo) bool {
	return t.uri != nil && t.uri.MatchesLibrary(l)
}

// MatchesSlot reports whether a slot matches; false when nothing selects.
func (t TokenSelector) MatchesSlot(s pkcs11uri.SlotInfo) bool {
	return t.uri != nil && t.uri.MatchesSlot(s)
}

// MatchesToken reports whether a token matches; false when nothing
// selects.
func (t TokenSelector) MatchesToken(tok pkcs11uri.TokenInfo) bool {
	return t.uri != nil && t.uri.MatchesToken(tok)
}

// String returns the selector as a PKCS#11 URI ("pkcs11:token=wasihsm"),
// for messages, or "" when nothing selects.
func (t TokenSelector) String() string {
	if t.uri == nil {
		return ""
	}
	return t.uri.String()
}

// selection is the token selection that one source gives.
type selection struct {
	origin Origin // where it came from
	line   int    // the line of pkcs11.token in the file, or 0
	dir    string // the file's directory, for relative paths in a URI

	token string        // Settings.PKCS11.Token
	match pkcs11uri.URI // the path attributes asked for
	uri   bool          // pkcs11.token is a URI

	// The URI's query: where the PIN is, and the module.
	pin        PINSource
	pinAttr    string // "pin-source" or "pin-value", or "" for none
	modulePath string // resolved against dir; "" for none
	moduleName *string
}

// layerSelection returns the selection of the source being applied.
func (l *loader) layerSelection(o Origin, dir string) *selection {
	if l.layer == nil {
		l.layer = &selection{origin: o, dir: dir}
	}
	return l.layer
}

// hasScheme reports whether v is a PKCS#11 URI rather than a label (the
// scheme is case-insensitive).
func hasScheme(v string) bool {
	return len(v) >= len(pkcs11uri.Scheme) && strings.EqualFold(v[:len(pkcs11uri.Scheme)], pkcs11uri.Scheme)
}

// fieldLimits are the lengths of the CK_*_INFO fields that URI attributes
// are compared with: a longer value can match nothing.
var fieldLimits = []struct {
	attr  string
	get   func(*pkcs11uri.URI) *string
	limit int
}{
	{"token", func(u *pkcs11uri.URI) *string { return u.Token }, maxLabel},
	{"manufacturer", func(u *pkcs11uri.URI) *string { return u.Manufacturer }, 32},
	{"serial", func(u *pkcs11uri.URI) *string { return u.Serial }, maxSerial},
	{"model", func(u *pkcs11uri.URI) *string { return u.Model }, 16},
	{"library-manufacturer", func(u *pkcs11uri.URI) *string { return u.LibraryManufacturer }, 32},
	{"library-description", func(u *pkcs11uri.URI) *string { return u.LibraryDescription }, 32},
	{"slot-manufacturer", func(u *pkcs11uri.URI) *string { return u.SlotManufacturer }, 32},
	{"slot-description", func(u *pkcs11uri.URI) *string { return u.SlotDescription }, 64},
}

func setToken(l *loader, v string, o Origin, dir string) string {
	if !hasScheme(v) {
		if len(v) > maxLabel {
			return fmt.Sprintf("label %q is %d bytes long; a PKCS#11 token label has at most %d (or give a pkcs11: URI)",
				redactPIN(v), len(v), maxLabel)
		}
		sel := l.layerSelection(o, dir)
		sel.line, sel.token = l.line, v
		sel.match.Token = &v
		return ""
	}

	if o.Kind == FromFile && strings.Contains(v, "pin-value") {
		// Even a URI that does not parse may hold the PIN in the file.
		l.filePIN = true
	}
	u, err := pkcs11uri.Parse(v)
	if err != nil {
		return "not a valid PKCS#11 URI: " + strings.TrimPrefix(err.Error(), "pkcs11uri: ")
	}
	switch {
	case u.Object != nil:
		return "the URI's object= names an object, but pkcs11.token selects a token; name managed keys under keys:"
	case u.ID != nil:
		return "the URI's id= names an object, but pkcs11.token selects a token; name managed keys under keys:"
	case u.Type != "":
		return "the URI's type= names a kind of object, but pkcs11.token selects a token; leave it out"
	case len(u.VendorPath) > 0:
		return fmt.Sprintf("the URI's %s= is a vendor-specific attribute that wasihsm does not know; "+
			"with it the URI would match no token (RFC 7512)", firstKey(u.VendorPath))
	case u.PinSource != nil && u.PinValue != nil:
		return "the URI has both pin-source and pin-value; keep one"
	}
	for _, f := range fieldLimits {
		if p := f.get(u); p != nil && len(*p) > f.limit {
			return fmt.Sprintf("the URI's %s= is %d bytes long; the PKCS#11 field has at most %d, so no token would match",
				f.attr, len(*p), f.limit)
		}
	}

	sel := l.layerSelection(o, dir)
	if u.Serial != nil && sel.match.Serial != nil {
		return "the URI's serial= and pkcs11.serial both give the serial number; give it in one place"
	}
	if u.SlotID != nil && sel.match.SlotID != nil {
		return "the URI's slot-id= and pkcs11.slot_id both give the slot; give it in one place"
	}
	switch {
	case u.PinSource != nil:
		pin, problem := parsePINSourceAttr(*u.PinSource, dir)
		if problem != "" {
			return problem
		}
		sel.pin, sel.pinAttr = pin, "pin-source"
	case u.PinValue != nil:
		sel.pin, sel.pinAttr = PINSource{kind: pinURIValue, ref: *u.PinValue}, "pin-value"
	}
	if u.ModulePath != nil {
		if *u.ModulePath == "" {
			return "the URI's module-path= is empty; want the path of the PKCS#11 module"
		}
		sel.modulePath = modulePath(dir, *u.ModulePath)
	}
	sel.moduleName = u.ModuleName

	sel.line, sel.token, sel.uri = l.line, u.Redacted(), true
	mergePath(&sel.match, u)
	return ""
}

// hasPath reports whether u has a path attribute.
func hasPath(u *pkcs11uri.URI) bool {
	p := *u
	p.PinSource, p.PinValue, p.ModuleName, p.ModulePath, p.VendorQuery = nil, nil, nil, nil, nil
	return p.String() != pkcs11uri.Scheme
}

// mergePath copies the path attributes of src that select a library, slot
// or token into dst.
func mergePath(dst, src *pkcs11uri.URI) {
	for _, f := range []func(*pkcs11uri.URI) **string{
		func(u *pkcs11uri.URI) **string { return &u.Token },
		func(u *pkcs11uri.URI) **string { return &u.Manufacturer },
		func(u *pkcs11uri.URI) **string { return &u.Serial },
		func(u *pkcs11uri.URI) **string { return &u.Model },
		func(u *pkcs11uri.URI) **string { return &u.LibraryManufacturer },
		func(u *pkcs11uri.URI) **string { return &u.LibraryDescription },
		func(u *pkcs11uri.URI) **string { return &u.SlotManufacturer },
		func(u *pkcs11uri.URI) **string { return &u.SlotDescription },
	} {
		if p := *f(src); p != nil {
			*f(dst) = p
		}
	}
	if src.LibraryVersion != nil {
		dst.LibraryVersion = src.LibraryVersion
	}
	if src.SlotID != nil {
		dst.SlotID = src.SlotID
	}
}

func firstKey(m map[string]string) string {
	first := ""
	for k := range m {
		if first == "" || k < first {
			first = k
		}
	}
	return first
}

func setSerial(l *loader, v string, o Origin, dir string) string {
	if len(v) > maxSerial {
		return fmt.Sprintf("%q is %d bytes long; a PKCS#11 token serial number has at most %d", v, len(v), maxSerial)
	}
	sel := l.layerSelection(o, dir)
	if sel.match.Serial != nil {
		return "pkcs11.serial and the serial= of the pkcs11.token URI both give the serial number; give it in one place"
	}
	sel.match.Serial = &v
	return ""
}

func setSlotID(l *loader, v string, o Origin, dir string) string {
	n, err := strconv.ParseUint(v, 0, strconv.IntSize)
	if err != nil {
		return fmt.Sprintf("%q is not a slot id; want a whole number ≥ 0 (decimal, or hex as 0x…)", v)
	}
	sel := l.layerSelection(o, dir)
	if sel.match.SlotID != nil {
		return "pkcs11.slot_id and the slot-id= of the pkcs11.token URI both give the slot; give it in one place"
	}
	id := uint(n)
	sel.match.SlotID = &id
	return ""
}

// parsePINSourceAttr parses a token URI's pin-source. RFC 7512 leaves its
// form to the application; wasihsm reads what pkcs11.pin names, and a file
// written as a path or a file: URI, as other PKCS#11 tools do.
func parsePINSourceAttr(v, dir string) (PINSource, string) {
	switch {
	case v == "":
		return PINSource{}, "the URI's pin-source= is empty; want file:PATH or env:NAME"
	case strings.HasPrefix(v, "|"):
		return PINSource{}, fmt.Sprintf("the URI's pin-source %q runs a program, which wasihsm does not do; use file:PATH or env:NAME", v)
	case strings.HasPrefix(v, "env:"):
		if !validEnvName(v[len("env:"):]) {
			return PINSource{}, fmt.Sprintf("the URI's pin-source %q: env: must be followed by the name of an environment variable (letters, digits, _)", v)
		}
		return PINSource{kind: pinEnv, ref: v[len("env:"):]}, ""
	case strings.HasPrefix(v, "file:"):
		path := v[len("file:"):]
		if rest, ok := strings.CutPrefix(path, "//"); ok {
			// file://HOST/PATH (RFC 8089): only the local host.
			host, p, _ := strings.Cut(rest, "/")
			if host != "" && host != "localhost" {
				return PINSource{}, fmt.Sprintf("the URI's pin-source %q names host %q; want a local file, file:/PATH", v, host)
			}
			path = "/" + p
		}
		if path == "" || path == "/" {
			return PINSource{}, fmt.Sprintf("the URI's pin-source %q names no file; want file:PATH", v)
		}
		return PINSource{kind: pinFile, ref: inDir(dir, path)}, ""
	}
	if scheme, _, ok := strings.Cut(v, ":"); ok && !strings.ContainsRune(scheme, '/') {
		return PINSource{}, fmt.Sprintf("the URI's pin-source %q: want file:PATH, a path, or env:NAME", v)
	}
	return PINSource{kind: pinFile, ref: inDir(dir, v)}, ""
}

// resolveToken applies the token selection in effect: the label or URI,
// what selects the token, and the module and PIN of a URI's query.
func (l *loader) resolveToken(sel *selection) {
	s := &l.s
	s.PKCS11.Token = sel.token
	fail := func(format string, args ...any) {
		l.errs.add(&FieldError{Origin: sel.origin, Field: FieldToken, Line: sel.line, Problem: fmt.Sprintf(format, args...)})
	}
	if hasPath(&sel.match) {
		s.PKCS11.Selector = TokenSelector{uri: sel.match.Clone()}
	} else if sel.uri {
		// Only a URI can select nothing ("pkcs11:?pin-source=…"); taking
		// whichever token comes first would be a guess.
		fail("the URI selects no particular token; add token=LABEL, serial=NUMBER or slot-id=ID to its path " +
			"(or set pkcs11.serial or pkcs11.slot_id)")
	}

	if sel.modulePath != "" {
		switch mo := s.origins[FieldPKCS11Module]; {
		case s.PKCS11.Module == "":
			s.PKCS11.Module = sel.modulePath
			s.origins[FieldPKCS11Module] = sel.origin
		case !samePath(s.PKCS11.Module, sel.modulePath):
			fail("the URI's module-path %q differs from pkcs11.module %q (from %s); give the module in one place",
				sel.modulePath, s.PKCS11.Module, mo)
		}
	}
	if sel.moduleName != nil {
		name := *sel.moduleName
		switch base := moduleBase(s.PKCS11.Module); {
		case s.PKCS11.Module == "":
			fail("the URI's module-name %q does not say where the module is; set pkcs11.module (or the URI's module-path) too", name)
		case name != base && "lib"+name != base:
			fail("the URI's module-name %q does not match the module %s; want %q (its file name without lib and suffix)",
				name, s.PKCS11.Module, strings.TrimPrefix(base, "lib"))
		}
	}

	if sel.pinAttr != "" {
		switch po := s.origins[FieldPIN]; {
		case po.Kind == sel.origin.Kind:
			rival := FieldPIN
			if po.Kind == FromEnv {
				rival = EnvPIN
			}
			fail("the URI's %s and %s both give the PIN; keep one", sel.pinAttr, rival)
		case po.Kind < sel.origin.Kind:
			s.PKCS11.PIN = sel.pin
			s.origins[FieldPIN] = sel.origin
		}
	}
}

// moduleBase returns a module's file name without its directory and
// everything from the first dot: /usr/lib/softhsm/libsofthsm2.so gives
// libsofthsm2.
func moduleBase(module string) string {
	base := filepath.Base(module)
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	return base
}

// redactPIN replaces what follows "pin-value=" in v with "***", for a value
// that is quoted in a message and might be a URI that did not parse as one.
func redactPIN(v string) string {
	var b strings.Builder
	for {
		i := strings.Index(v, "pin-value=")
		if i < 0 {
			b.WriteString(v)
			return b.String()
		}
		b.WriteString(v[:i+len("pin-value=")])
		b.WriteString("***")
		v = v[i+len("pin-value="):]
		if j := strings.IndexByte(v, '&'); j >= 0 {
			v = v[j:]
		} else {
			v = ""
		}
	}
}
