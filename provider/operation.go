package provider

import "fmt"

// Operation is one thing a backend can do with an algorithm. The router asks
// backends about (algorithm, operation) pairs.
type Operation uint8

// The operations of the API.
const (
	OpHash         Operation = iota + 1 // hash_open … hash_digest
	OpGenerate                          // generate_key without input
	OpImport                            // generate_key with set_input
	OpSign                              // sign (signatures and MACs)
	OpEncrypt                           // cipher_encrypt
	OpDecrypt                           // cipher_decrypt
	OpDerive                            // derive_key (HKDF-Expand, ECDH)
	OpExportPublic                      // private_key_export_public
)

var opNames = [...]string{
	OpHash: "hash", OpGenerate: "generate", OpImport: "import", OpSign: "sign",
	OpEncrypt: "encrypt", OpDecrypt: "decrypt", OpDerive: "derive", OpExportPublic: "export-public",
}

// String returns the operation's lower-case name.
func (o Operation) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// KeyOperations returns the operations a key of algorithm a must support in
// the backend that holds it. A key lives in one backend for its whole life,
// so the router places it only where all of these are available.
func KeyOperations(a Algorithm) []Operation {
	switch a.Kind {
	case KindAEAD:
		return []Operation{OpEncrypt, OpDecrypt}
	case KindSignature:
		return []Operation{OpSign, OpExportPublic}
	case KindMAC:
		return []Operation{OpSign}
	case KindKDF:
		return []Operation{OpDerive}
	case KindKeyAgreement:
		return []Operation{OpDerive, OpExportPublic}
	}
	return nil
}

// Manageable reports whether an operator may provision keys of algorithm a
// as managed keys (private_key_open): algorithms that take a key, but not
// HKDF, whose keys guests make from input keying material (HKDF-Extract),
// so that a provisioned one has no meaning in the API.
func Manageable(a Algorithm) bool { return a.Valid() && a.Kind.Keyed() && a.Kind != KindKDF }

// Support says how a backend serves an (algorithm, operation) pair.
type Support uint8

// Levels of support, from none to native.
const (
	Unsupported Support = iota // the backend cannot do it
	Software                   // done in host memory by a pure-Go backend
	Composed                   // built from other mechanisms of a token (HKDF from HMAC)
	Native                     // a mechanism of the token does it
)

// String returns the support level as shown by `wasihsm slots`.
func (s Support) String() string {
	switch s {
	case Software:
		return "software"
	case Composed:
		return "composed"
	case Native:
		return "token"
	}
	return "unavailable"
}
