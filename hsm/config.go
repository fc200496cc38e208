package hsm

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/spec"
)

// BackendName is what [Backend.Name] and every key's Backend method return.
const BackendName = "pkcs11"

// Defaults for the zero fields of [Config].
const (
	// DefaultMaxSessions bounds the session pool when the token reports
	// no session limit (CK_EFFECTIVELY_INFINITE) or none at all.
	DefaultMaxSessions = 16
	// DefaultSessionWait is how long an operation waits for a free
	// session before it fails with provider.ErrNoResources.
	DefaultSessionWait = spec.DefaultSessionWait
	// DefaultMaxBuffered bounds the data that one hash state buffers.
	DefaultMaxBuffered = spec.DefaultMaxBufferedBytes
	// DefaultCallTimeout is the deadline of one operation on the token.
	DefaultCallTimeout = spec.DefaultCallTimeout
)

// SessionLimit is the number of sessions the backend opens at most: the
// configured number (Config.MaxSessions; 0 means [DefaultMaxSessions]),
// lowered to the token's limit tokenMax (as [SlotInfo.MaxSessions]: 0 for
// no limit, -1 when the token does not say; any value below 1 sets no
// limit).
func SessionLimit(tokenMax, configured int) int {
	n := DefaultMaxSessions
	if configured > 0 {
		n = configured
	}
	if tokenMax > 0 && tokenMax < n {
		n = tokenMax
	}
	return n
}

// Config configures [Open]. Open copies it; the caller may reuse it.
type Config struct {
	// Module is the path of the PKCS#11 module (shared library). Required.
	Module string
	// InitArgs is passed to the module's C_Initialize as
	// CK_C_INITIALIZE_ARGS.pReserved, a NUL-terminated string; "" passes
	// NULL. Most modules want none; NSS softokn wants its parameter string
	// (configdir='sql:DIR' certPrefix='' keyPrefix='' secmod='secmod.db'
	// flags=). A module is initialised once per process: every backend,
	// [Admin] and [Slots] call that shares it must give the same InitArgs,
	// or the one that comes second fails with provider.ErrInvalidArgument.
	InitArgs string
	// AllowedModules lists the module paths that may be loaded. When it
	// is empty, only Module itself is allowed. Paths are compared after
	// filepath.Clean; a module named by a PKCS#11 URI's module-path must
	// be in this list too.
	AllowedModules []string
	// Token selects the token. At least one field must be set.
	Token TokenSelector
	// PIN returns the user PIN when the backend logs in: at Open, and
	// again when the token reports that the user is no longer logged in.
	// The backend zeroes the returned slice right after C_Login and never
	// logs it nor puts it in an error. nil means no login, which only a
	// token without CKF_LOGIN_REQUIRED accepts; an empty PIN is passed on
	// as such.
	PIN func() ([]byte, error)
	// MaxSessions caps the number of sessions the backend opens (the pool
	// and the one persistent session). 0 means the token's
	// ulMaxSessionCount, or DefaultMaxSessions when the token has no limit.
	MaxSessions int
	// SessionWait is how long an operation waits for a pooled session
	// before failing with provider.ErrNoResources; 0 means
	// DefaultSessionWait. A context deadline that comes first gives
	// provider.ErrTimeout.
	SessionWait time.Duration
	// CallTimeout is the deadline of each operation on the token: the
	// wait for a session and the PKCS#11 calls together. An operation that
	// the token does not answer in time fails with provider.ErrTimeout
	// (the calls run on, on a goroutine the backend bounds, and their
	// result is dropped), and the backend then treats the token as
	// unhealthy until it answers again: calls fail fast with
	// provider.ErrDevice meanwhile. A context deadline that comes first
	// ends the wait as well. 0 means DefaultCallTimeout. Two slow
	// operations get six times as long: Open, and creating a key (RSA key
	// generation takes seconds on a busy token).
	CallTimeout time.Duration
	// InlineCalls runs the PKCS#11 calls of an operation on the caller's
	// goroutine itself rather than on a coroutine (the default), and so
	// gives up the deadline inside the token: a call the token does not
	// answer holds its caller until the token answers. CallTimeout then
	// bounds only the waits around the calls (for a session, for the
	// persistent session), so callers that find every session held by a
	// hung token still get provider.ErrTimeout, and the OS threads in the
	// module stay bounded by the sessions. Opening the backend and
	// recovering the token keep their deadlines either way.
	//
	// It is not faster: the coroutine runs the calls on the caller's own
	// thread (bench/ANALYSIS.md measures both). Set it only when guests
	// call the backend from a goroutine locked to its OS thread
	// (runtime.LockOSThread): the Go runtime does not let a locked
	// goroutine switch to a coroutine made on another goroutine, and
	// aborts the process at such a caller's first token call.
	InlineCalls bool
	// MaxBuffered bounds the bytes one hash state buffers (the token's
	// digests cannot be copied, so a hash that must answer hash_digest
	// repeatedly keeps its data); beyond it Update answers
	// provider.ErrMessageTooLarge. 0 means DefaultMaxBuffered. Sign states
	// take their limit from NewSignState instead.
	MaxBuffered int
	// ManagedKeys are the token objects that guests may open by name
	// (docs/semantics.md#key-extension).
	ManagedKeys []ManagedKey
}

// TokenSelector says which token to use. Every field that is set must
// match, and exactly one token may match. A PKCS#11 URI (RFC 7512) maps to
// it: token → Label, serial → Serial, manufacturer → Manufacturer, model →
// Model, slot-id → SlotID, slot-description → SlotDescription.
type TokenSelector struct {
	// Label is the token label (CK_TOKEN_INFO.label, without the padding).
	Label string
	// Serial is the token serial number.
	Serial string
	// Manufacturer is the token's manufacturer ID.
	Manufacturer string
	// Model is the token's model.
	Model string
	// SlotID is the slot's ID; nil matches any slot.
	SlotID *uint
	// SlotDescription is the slot's description.
	SlotDescription string
}

// IsZero reports whether no field of s is set.
func (s TokenSelector) IsZero() bool { return s == TokenSelector{} }

// ManagedKey names a key that an operator provisioned on the token, for
// the guests and operations it allows (docs/semantics.md#key-extension). Its objects are never
// destroyed by the backend.
type ManagedKey struct {
	// Name is what guests pass to private_key_open. Required and unique.
	Name string
	// Label and ID find the key's objects (CKA_LABEL, CKA_ID); at least
	// one is required, and when both are set both must match. For a key
	// pair, the public half is the public-key object with the same ID (or,
	// without an ID, the same label).
	Label string
	ID    []byte
	// Algorithm is the key's algorithm (ES256, HS256, A256GCM, …); it
	// must be [provider.Manageable]. The object's class, key type, curve
	// or size must agree.
	Algorithm provider.Algorithm
	// Guests are the guests that may open the key; at least one rule.
	Guests []GuestRule
	// Operations are the operations allowed on the key, each one of
	// provider.KeyOperations of the algorithm. Empty means all of those.
	Operations []provider.Operation
}

// GuestRule matches guests by module name or by the SHA-256 of their wasm
// binary. Exactly one field is set.
type GuestRule = provider.GuestRule

// Capability says how the token serves one (algorithm, operation) pair.
type Capability struct {
	Algorithm provider.Algorithm
	Operation provider.Operation
	// Support is provider.Native, provider.Composed or
	// provider.Unsupported; never provider.Software.
	Support provider.Support
}

// SlotInfo describes a slot of a module and its token, for `wasihsm slots`.
type SlotInfo struct {
	// ID is the slot ID.
	ID uint
	// Description and Manufacturer describe the slot.
	Description  string
	Manufacturer string
	// TokenPresent reports whether a token is in the slot; the fields
	// below are zero when it is not.
	TokenPresent bool
	// Label, Serial, TokenManufacturer and Model describe the token.
	Label             string
	Serial            string
	TokenManufacturer string
	Model             string
	// Flags are the token's CKF_* flags, and FlagNames their names
	// ("login-required", "token-initialized", …).
	Flags     uint
	FlagNames []string
	// MaxSessions and MaxRWSessions are the token's session limits: 0
	// means no limit (CK_EFFECTIVELY_INFINITE) and -1 that the token does
	// not say. Sessions and RWSessions are the sessions open now, -1 when
	// the token does not say.
	MaxSessions, Sessions     int
	MaxRWSessions, RWSessions int
	// Capabilities says how the token serves each algorithm of docs/semantics.md#algorithms,
	// as [Backend.Capabilities] would.
	Capabilities []Capability
}

// String describes the selector for messages, as label="…" serial="…" ….
func (s TokenSelector) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, fmt.Sprintf("%s=%q", k, v))
		}
	}
	add("label", s.Label)
	add("serial", s.Serial)
	add("manufacturer", s.Manufacturer)
	add("model", s.Model)
	if s.SlotID != nil {
		parts = append(parts, fmt.Sprintf("slot-id=%d", *s.SlotID))
	}
	add("slot-description", s.SlotDescription)
	if len(parts) == 0 {
		return "(any token)"
	}
	return strings.Join(parts, " ")
}

// AllowModule reports, as an error wrapping provider.ErrAccessDenied,
// whether the module at path may not be loaded under cfg: it must be one of
// cfg.AllowedModules, or cfg.Module when that list is empty. Paths are
// compared after filepath.Clean. Use it to check a module that a PKCS#11
// URI names (module-path) before putting it in a Config.
func AllowModule(path string, cfg Config) error {
	allowed := cfg.AllowedModules
	if len(allowed) == 0 {
		allowed = []string{cfg.Module}
	}
	clean := filepath.Clean(path)
	if slices.ContainsFunc(allowed, func(a string) bool { return a != "" && filepath.Clean(a) == clean }) {
		return nil
	}
	return fmt.Errorf("hsm: config: module %q is not in the allowed modules: %w", path, provider.ErrAccessDenied)
}
