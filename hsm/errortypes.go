package hsm

import (
	"fmt"

	"github.com/wasihsm/wasihsm/provider"
)

// The error types of this file are those that callers inspect with
// errors.As. They exist in every build, so that callers compile without
// cgo; only a build with cgo makes them.

// TokenError is a PKCS#11 call that the token, or its module, answered
// with a return value other than CKR_OK: "hsm: <op>: <name>: <sentinel>".
// Every error of this package that comes from such an answer wraps one, so
// a caller that must tell one answer from another (a wrong PIN from a
// locked one) finds it with errors.As rather than in the message. It
// unwraps to the provider sentinel of its return value, the one that
// errors.go's table assigns.
type TokenError struct {
	// Op is the operation that failed: "login", "sign", "ES256: sign", …
	Op string
	// Code is the CK_RV, comparable with the CKR_ constants of
	// github.com/miekg/pkcs11.
	Code uint
	// Name is Code's name in PKCS#11 3.0, "CKR_PIN_INCORRECT";
	// "CKR_0x…" or "CKR_VENDOR_DEFINED+0x…" for values it does not define.
	Name string
	// Err is the provider sentinel that Code stands for.
	Err error

	traits trait // what the backend does about it besides reporting it
}

// trait is what the backend does about a return value besides reporting
// it: a set of the flags defined with the table, in errors.go.
type trait uint8

func (e *TokenError) Error() string {
	return "hsm: " + e.Op + ": " + e.Name + ": " + e.Err.Error()
}

// Unwrap returns the provider sentinel.
func (e *TokenError) Unwrap() error { return e.Err }

// ManagedKeyError is an entry of Config.ManagedKeys that [Open] refuses:
// "hsm: config: ManagedKeys[<index>] (<name>): <field>: <problem>:
// invalid argument". It unwraps to provider.ErrInvalidArgument.
type ManagedKeyError struct {
	// Index is the entry's index in Config.ManagedKeys.
	Index int
	// Name is the entry's Name.
	Name string
	// Field names the field, or fields, at fault: "Algorithm",
	// "Guests[0].SHA256", "Label, ID".
	Field string
	// Problem says what is wrong with it.
	Problem string
}

func (e *ManagedKeyError) Error() string {
	return fmt.Sprintf("hsm: config: ManagedKeys[%d] (%q): %s: %s: %v", e.Index, e.Name, e.Field, e.Problem, provider.ErrInvalidArgument)
}

// Unwrap returns provider.ErrInvalidArgument.
func (e *ManagedKeyError) Unwrap() error { return provider.ErrInvalidArgument }

// UnusableKeyError is a key that the token holds but cannot serve, known
// from what the token stored, not from a failed call: a public key
// attribute that does not parse as the key's algorithm wants (tpm2-pkcs11's
// P-521 keys, QuirkBrokenP521). Reading the same object again gives the
// same answer, so it is a limitation of the token, and it unwraps to
// provider.ErrNotSupported: a guest is told notsup
// (docs/semantics.md#errors). A call the token fails keeps its own
// error (a TokenError), transient or not.
type UnusableKeyError struct {
	// Algorithm is the key's algorithm, "ES512".
	Algorithm string
	// Problem says what the token stored: "its P-521 public key is
	// malformed".
	Problem string
}

func (e *UnusableKeyError) Error() string {
	return fmt.Sprintf("hsm: %s: the token cannot serve the key: %s: %v", e.Algorithm, e.Problem, provider.ErrNotSupported)
}

// Unwrap returns provider.ErrNotSupported.
func (e *UnusableKeyError) Unwrap() error { return provider.ErrNotSupported }
