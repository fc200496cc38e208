package pkcs11uri

import "strings"

// LibraryInfo is what a module reports about itself (CK_INFO).
type LibraryInfo struct {
	Manufacturer string // manufacturerID
	Description  string // libraryDescription
	Version      Version
}

// SlotInfo is what a module reports about a slot (CK_SLOT_INFO) and the
// slot's id.
type SlotInfo struct {
	ID           uint
	Description  string // slotDescription
	Manufacturer string // manufacturerID
}

// TokenInfo is what a module reports about a token (CK_TOKEN_INFO).
type TokenInfo struct {
	Label        string
	Manufacturer string // manufacturerID
	Model        string
	Serial       string // serialNumber
}

// MatchesLibrary reports whether the library attributes of u
// (library-manufacturer, library-description, library-version) all equal
// those of l. A URI without them matches every library.
func (u *URI) MatchesLibrary(l LibraryInfo) bool {
	return len(u.VendorPath) == 0 &&
		match(u.LibraryManufacturer, l.Manufacturer) &&
		match(u.LibraryDescription, l.Description) &&
		(u.LibraryVersion == nil || *u.LibraryVersion == l.Version)
}

// MatchesSlot reports whether the slot attributes of u (slot-id,
// slot-description, slot-manufacturer) all equal those of s.
func (u *URI) MatchesSlot(s SlotInfo) bool {
	return len(u.VendorPath) == 0 &&
		(u.SlotID == nil || *u.SlotID == s.ID) &&
		match(u.SlotDescription, s.Description) &&
		match(u.SlotManufacturer, s.Manufacturer)
}

// MatchesToken reports whether the token attributes of u (token,
// manufacturer, model, serial) all equal those of t.
func (u *URI) MatchesToken(t TokenInfo) bool {
	return len(u.VendorPath) == 0 &&
		match(u.Token, t.Label) &&
		match(u.Manufacturer, t.Manufacturer) &&
		match(u.Model, t.Model) &&
		match(u.Serial, t.Serial)
}

// match compares an attribute of the URI with a string a module reported:
// PKCS#11 pads those with blanks to a fixed length, and some modules (or
// their Go bindings) leave NULs.
func match(want *string, have string) bool {
	return want == nil || *want == strings.TrimRight(have, " \x00")
}
