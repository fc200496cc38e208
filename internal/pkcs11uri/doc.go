// Package pkcs11uri parses and formats PKCS#11 URIs (RFC 7512), the
// standard way to name a PKCS#11 library, slot, token or object, such as
//
//	pkcs11:token=wasihsm;serial=1a2b3c4d?pin-source=file:/etc/wasihsm/pin
//
// It is pure Go (no cgo) and imports only the standard library, so that
// configuration can be checked without loading a PKCS#11 module.
//
// # Use
//
//	u, err := pkcs11uri.Parse(s)
//	if err != nil { … }            // a *Error naming the attribute
//	if u.MatchesToken(pkcs11uri.TokenInfo{Label: label, Serial: serial}) { … }
//	log.Print(u.Redacted())        // never u.String(): it holds a pin-value
//
// A [URI] is a plain struct: a nil field is an absent attribute, a non-nil
// one holds its decoded value (so "serial=" is an empty serial, which is not
// the same as no serial). [Parse] and [URI.String] are inverses:
// Parse(u.String()) gives back u for every u that Parse returned.
//
// # What is accepted
//
// The grammar is RFC 7512 §2.3:
//
//   - The scheme is case-insensitive ("PKCS11:" is "pkcs11:"); attribute
//     names are matched exactly, in lower case, as every implementation
//     writes them.
//   - Path attributes, separated by ';': token, manufacturer, serial, model,
//     library-manufacturer, library-description, library-version (M or M.N,
//     each 0–255, as in CK_VERSION; "3" is 3.0), slot-manufacturer,
//     slot-description, slot-id (decimal), object, id (any bytes), type
//     (public, private, cert, secret-key or data).
//   - Query attributes, after '?', separated by '&': pin-source, pin-value,
//     module-name, module-path.
//   - Vendor-specific attributes must have names that start with "x-"
//     (then letters, digits, '-' and '_'); they are kept in
//     [URI.VendorPath] and [URI.VendorQuery]. Some implementations (NSS,
//     p11-kit) take any unknown name for a vendor-specific one, as the last
//     example of RFC 7512 §3 does ("vendor-aaa"); this package refuses such
//     names, so that a misspelt attribute ("tokne=…") is an error rather
//     than an attribute that silently makes the URI match nothing.
//   - Every other attribute name is an error, and so is an attribute given
//     twice (RFC 7512 forbids duplicates in the path and leaves duplicate
//     vendor query attributes to the consumer: here they are errors too).
//   - Values are percent-encoded per RFC 3986: every character outside the
//     component's set (pk11-pchar in the path, pk11-qchar in the query) must
//     be written %XX; a '%' not followed by two hex digits is an error.
//     Text attributes must decode to UTF-8; id and vendor values may be any
//     bytes. slot-id, library-version and type are not percent-decoded: the
//     grammar allows only digits, dots and the type names there.
//   - Whitespace is not allowed anywhere (the line breaks in the RFC's
//     examples are for print only).
//
// [URI.String] writes the attributes in a fixed order: token, manufacturer,
// serial, model, library-manufacturer, library-version, library-description,
// object, type, id, slot-description, slot-manufacturer, slot-id, the
// vendor-specific path attributes by name; then pin-source, pin-value,
// module-name, module-path and the vendor-specific query attributes by name.
// It percent-encodes every byte of id (as the RFC recommends) and, in other
// values, every byte outside the unreserved characters and ":@!$'()*+,="
// (and "/" and "?" in the query), with upper-case hex digits.
//
// # Matching
//
// [URI.MatchesLibrary], [URI.MatchesSlot] and [URI.MatchesToken] compare the
// attributes of one level (CK_INFO, CK_SLOT_INFO, CK_TOKEN_INFO) with what
// the module reports: every attribute of that level that the URI has must be
// equal; the others do not matter, so "pkcs11:" matches everything. The
// module's fixed-length, blank-padded strings are compared without their
// trailing blanks. A URI with a vendor-specific path attribute matches
// nothing: this package cannot know what the attribute asks for, and
// ignoring it would select more than the URI says (p11-kit does the same
// with attributes it does not understand).
//
// # Secrets
//
// pin-value holds a PIN. No error of this package shows it (nor any part
// of a vendor-specific query value); [URI.Redacted] writes the URI with
// pin-value=*** for logs and messages, and formatting a *URI with the fmt
// package prints Redacted too. Only an explicit call of [URI.String] gives
// the PIN back.
package pkcs11uri
