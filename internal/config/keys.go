package config

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/wasihsm/wasihsm/provider"
)

// ManagedKey is a key that the operator provisioned on the token and named
// in the configuration file's keys: guests open it by name with
// private_key_open (docs/semantics.md#key-extension), if one of Guests is theirs, for
// Operations only. It stays on the token.
type ManagedKey struct {
	// Name is what guests pass to private_key_open; unique among the keys.
	Name string
	// Label is the key's CKA_LABEL, or "" when only ID finds it.
	Label string
	// ID is the key's CKA_ID, or nil when only Label finds it. When both
	// are set, the key must have both.
	ID []byte
	// Algorithm is what the key is for: one that takes a key, but not
	// HKDF.
	Algorithm provider.Algorithm
	// Guests may open the key; a guest that matches any of them may.
	Guests []KeyGuest
	// Operations are what the guests may do with the key: the file's
	// operations, or else every operation of the algorithm
	// (provider.KeyOperations).
	Operations []provider.Operation
}

// KeyGuest names a guest module that may open a managed key: by its module
// name (for `wasihsm run`, the base name of the wasm file as given on the
// command line, extension included: "jws.wasm") or by the SHA-256 of its
// wasm file, which the configuration holds in lower case. Exactly one is
// set.
type KeyGuest = provider.GuestRule

// AllowsGuest reports whether guest may open the key.
func (k ManagedKey) AllowsGuest(guest provider.Guest) bool {
	return slices.ContainsFunc(k.Guests, func(g KeyGuest) bool { return g.Matches(guest) })
}

// AllowsOperation reports whether guests may use the key for op.
func (k ManagedKey) AllowsOperation(op provider.Operation) bool {
	return slices.Contains(k.Operations, op)
}

// keyOperations are the operations a managed key may allow, by name.
var keyOperations = []provider.Operation{
	provider.OpSign, provider.OpEncrypt, provider.OpDecrypt, provider.OpDerive, provider.OpExportPublic,
}

func opNames(ops []provider.Operation) []string {
	var n []string
	for _, op := range ops {
		n = append(n, op.String())
	}
	return n
}

// keyedAlgorithms lists the names a managed key's algorithm may have
// (provider.Manageable).
func keyedAlgorithms() string {
	var n []string
	for _, a := range provider.Algorithms() {
		if provider.Manageable(a) {
			n = append(n, a.Name)
		}
	}
	return strings.Join(n, ", ")
}

// managedKeys checks the keys of the file and returns them.
func (l *loader) managedKeys(o Origin, raw []rawKey, errs *fieldErrors) []ManagedKey {
	var keys []ManagedKey
	var items []rawKey               // the item of each key
	names := make(map[string]rawKey) // name → first key with it
	for _, rk := range raw {
		bad := len(*errs)
		fail := func(field string, line int, format string, args ...any) {
			errs.add(&FieldError{Origin: o, Field: field, Line: line, Problem: fmt.Sprintf(format, args...)})
		}
		// value returns the key's field, reporting an empty one.
		value := func(name string) (rawValue, bool) {
			v, ok := rk.values[name]
			if ok && v.value == "" {
				fail(v.field, v.line, "empty")
				return v, false
			}
			return v, ok
		}
		k := ManagedKey{}

		if v, ok := value("name"); ok {
			switch first, dup := names[v.value]; {
			case strings.ContainsFunc(v.value, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
				fail(v.field, v.line, "%q has a space or a control character; want a name without them, such as jws-signer", v.value)
			case dup:
				fail(v.field, v.line, "%q is already the name of %s (line %d); each managed key needs its own name",
					v.value, first.field, first.line)
			default:
				names[v.value] = rk
				k.Name = v.value
			}
		} else if _, given := rk.values["name"]; !given {
			fail(rk.field+".name", rk.line, "required: the name that guests pass to private_key_open")
		}

		if v, ok := value("label"); ok {
			k.Label = v.value
		}
		if v, ok := value("id"); ok {
			b, err := hex.DecodeString(v.value)
			if err != nil {
				fail(v.field, v.line, "%q is not hex; want the CKA_ID as an even number of hex digits, such as 01a2", v.value)
			}
			k.ID = b
		}
		_, label := rk.values["label"]
		_, id := rk.values["id"]
		if !label && !id {
			fail(rk.field, rk.line, "needs label or id (or both): the CKA_LABEL or CKA_ID of the key on the token")
		}

		if v, ok := value("algorithm"); ok {
			k.Algorithm, ok = keyAlgorithm(v, fail)
			if ok {
				k.Operations = keyOps(rk, k.Algorithm, fail)
			}
		} else if _, given := rk.values["algorithm"]; !given {
			fail(rk.field+".algorithm", rk.line, "required: the key's algorithm, one of %s", keyedAlgorithms())
		}

		if rk.guestsLine == 0 {
			fail(rk.field+".guests", rk.line, "required: at least one guest that may open the key (module: NAME or sha256: HEX)")
		}
		for _, g := range rk.guests {
			if kg, ok := keyGuest(g, fail); ok {
				k.Guests = append(k.Guests, kg)
			}
		}

		if len(*errs) == bad {
			for i, other := range keys {
				if sameObject(k, other) && !sameGrant(k, other) {
					fail(rk.field, rk.line, "names the same token object as %s (line %d), %s, but grants other guests or operations; "+
						"give each token object one grant: merge the two into one item", items[i].field, items[i].line, selectorText(k, other))
					break
				}
			}
		}
		if len(*errs) == bad {
			keys = append(keys, k)
			items = append(items, rk)
		}
	}
	return keys
}

// sameObject reports whether two keys name the same token object, as far
// as the configuration tells: each selects the objects that have every
// attribute it gives (label, id) and must find exactly one, so two keys
// that agree on every attribute both give, and both give at least one,
// select the same object when the token has it. A key by label alone and
// one by id alone may or may not; only the token knows.
func sameObject(a, b ManagedKey) bool {
	labels := a.Label != "" && b.Label != ""
	ids := a.ID != nil && b.ID != nil
	return (labels || ids) &&
		(!labels || a.Label == b.Label) &&
		(!ids || bytes.Equal(a.ID, b.ID))
}

// sameGrant reports whether two keys let the same guests do the same
// operations, in any order.
func sameGrant(a, b ManagedKey) bool {
	sameSet := func(x, y []KeyGuest) bool {
		return !slices.ContainsFunc(x, func(g KeyGuest) bool { return !slices.Contains(y, g) }) &&
			!slices.ContainsFunc(y, func(g KeyGuest) bool { return !slices.Contains(x, g) })
	}
	sameOps := func(x, y []provider.Operation) bool {
		return !slices.ContainsFunc(x, func(op provider.Operation) bool { return !slices.Contains(y, op) }) &&
			!slices.ContainsFunc(y, func(op provider.Operation) bool { return !slices.Contains(x, op) })
	}
	return sameSet(a.Guests, b.Guests) && sameOps(a.Operations, b.Operations)
}

// selectorText says what two keys that name the same object share:
// label "l", id 01, or both.
func selectorText(a, b ManagedKey) string {
	var parts []string
	if a.Label != "" && b.Label != "" {
		parts = append(parts, fmt.Sprintf("label %q", a.Label))
	}
	if a.ID != nil && b.ID != nil {
		parts = append(parts, fmt.Sprintf("id %x", a.ID))
	}
	return strings.Join(parts, " and ")
}

// keyAlgorithm checks a key's algorithm.
func keyAlgorithm(v rawValue, fail func(string, int, string, ...any)) (provider.Algorithm, bool) {
	alg, ok := provider.Lookup(v.value)
	switch {
	case !ok:
		for _, a := range provider.Algorithms() {
			if strings.EqualFold(a.Name, v.value) {
				fail(v.field, v.line, "%q is not an algorithm; names are case-sensitive: %s", v.value, a.Name)
				return alg, false
			}
		}
		fail(v.field, v.line, "%q is not an algorithm; want one of %s", v.value, keyedAlgorithms())
		return alg, false
	case alg.Kind == provider.KindHash:
		fail(v.field, v.line, "%q is a hash, which takes no key; want one of %s", v.value, keyedAlgorithms())
		return alg, false
	case !alg.Kind.Keyed():
		fail(v.field, v.line, "%q is an extendable-output function, which takes no key; want one of %s", v.value, keyedAlgorithms())
		return alg, false
	case alg.Kind == provider.KindKDF:
		fail(v.field, v.line, "%q keys are made by guests from input keying material (HKDF-Extract) and cannot be managed; want one of %s",
			v.value, keyedAlgorithms())
		return alg, false
	}
	return alg, true
}

// keyOps checks a key's operations against its algorithm.
func keyOps(rk rawKey, alg provider.Algorithm, fail func(string, int, string, ...any)) []provider.Operation {
	allowed := provider.KeyOperations(alg)
	if rk.opsLine == 0 {
		return allowed
	}
	var ops []provider.Operation
	for _, v := range rk.ops {
		i := slices.IndexFunc(keyOperations, func(op provider.Operation) bool { return op.String() == v.value })
		switch {
		case v.value == "":
			fail(v.field, v.line, "empty")
		case i < 0:
			fail(v.field, v.line, "%q is not an operation of a managed key; want one of %s",
				v.value, strings.Join(opNames(keyOperations), ", "))
		case !slices.Contains(allowed, keyOperations[i]):
			fail(v.field, v.line, "%q does not apply to %s (%s key); want %s",
				v.value, alg.Name, article(alg.Kind.String()), orList(opNames(allowed)))
		case slices.Contains(ops, keyOperations[i]):
			fail(v.field, v.line, "%q is listed twice", v.value)
		default:
			ops = append(ops, keyOperations[i])
		}
	}
	if err := CheckOperations(alg, ops); err != nil {
		fail(rk.field+".operations", rk.opsLine, "%v", err)
	}
	return ops
}

// ErrEncryptWithoutDecrypt is the problem of an AEAD key that guests may
// encrypt with but not decrypt with: AES-GCM is a stream cipher, so
// encrypting zeros under a nonce of one's choosing gives the keystream of
// that nonce, which reads whatever was encrypted under it. An encrypt
// grant is a decrypt grant too, and saying otherwise would mislead.
var ErrEncryptWithoutDecrypt = errors.New("allows encrypt without decrypt")

// CheckOperations reports what is wrong with granting ops on a key of alg
// beyond each operation applying to alg: it returns an error that wraps
// [ErrEncryptWithoutDecrypt] and says why, or nil.
func CheckOperations(alg provider.Algorithm, ops []provider.Operation) error {
	if alg.Kind == provider.KindAEAD && slices.Contains(ops, provider.OpEncrypt) && !slices.Contains(ops, provider.OpDecrypt) {
		return fmt.Errorf("%w, but for %s (AES-GCM) an encrypt grant is a decrypt grant too: "+
			"encrypting zeros under a nonce of its choosing gives a guest the keystream of that nonce, which reads whatever was encrypted under it; "+
			"allow encrypt and decrypt, or decrypt alone", ErrEncryptWithoutDecrypt, alg.Name)
	}
	return nil
}

// keyGuest checks one of a key's guests.
func keyGuest(g rawGuest, fail func(string, int, string, ...any)) (KeyGuest, bool) {
	switch {
	case g.module != nil && g.sha256 != nil:
		fail(g.field, g.line, "want module or sha256 in each guest, not both; list them as two guests")
	case g.module != nil:
		m := *g.module
		switch {
		case m.value == "":
			fail(m.field, m.line, "empty")
		case strings.ContainsAny(m.value, `/\`):
			fail(m.field, m.line, "%q is a path; a guest's module name is the base name of its wasm file, such as jws.wasm", m.value)
		default:
			return KeyGuest{Module: m.value}, true
		}
	case g.sha256 != nil:
		h := *g.sha256
		if !provider.IsSHA256Hex(h.value) {
			fail(h.field, h.line, "%q is not a SHA-256; want the 64 hex digits of the wasm file's SHA-256 (sha256sum FILE)", h.value)
			break
		}
		return KeyGuest{SHA256: strings.ToLower(h.value)}, true
	default:
		fail(g.field, g.line, "want module: NAME or sha256: HEX")
	}
	return KeyGuest{}, false
}

// article puts "a" or "an" before a word.
func article(w string) string {
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an " + w
	}
	return "a " + w
}
