package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"go.yaml.in/yaml/v3"
)

// sections lists the fields of the file's mappings: the root ("") and each
// section. A field that is not a section holds a single value, which is
// the setting of the same name, or a list (see lists, and keys).
var sections = map[string][]string{
	"":        {"backend", "fallback", "pkcs11", "limits", "cache_dir", "keys", "log", "metrics"},
	"pkcs11":  {"module", "init_args", "allowed_modules", "token", "serial", "slot_id", "pin", "session_wait", "call_timeout", "max_sessions", "tokens", "policy"},
	"limits":  {"max_handles", "max_buffered_bytes", "max_memory_bytes", "max_instance_bytes"},
	"log":     {"level", "format"},
	"metrics": {"addr"},
}

// lists are the fields that hold a list of single values, each a value of
// the setting: what the items are, and what to do instead of an empty list.
var lists = map[string]struct{ items, empty string }{
	FieldAllowedModules: {"module paths", "list the modules that may be loaded, or leave the field out to allow just pkcs11.module"},
}

// The fields of an item of keys, and of an item of its guests.
var (
	keyFields   = []string{"name", "label", "id", "algorithm", "guests", "operations"}
	guestFields = []string{"module", "sha256"}
)

// fileEntry is one value from the file.
type fileEntry struct {
	field string // the setting: "pkcs11.token"
	name  string // as errors name it: the field, or a list item ("pkcs11.allowed_modules[1]")
	value string
	line  int
}

// rawValue is one single value of a managed key, as the file gives it.
type rawValue struct {
	field string // as errors name it: "keys[0].algorithm"
	value string
	line  int
}

// rawKey is one item of keys, checked for its structure only.
type rawKey struct {
	field      string // "keys[0]"
	line       int
	values     map[string]rawValue // name, label, id, algorithm
	guests     []rawGuest
	guestsLine int // 0 when guests is not given
	ops        []rawValue
	opsLine    int // 0 when operations is not given
}

// rawGuest is one item of a key's guests.
type rawGuest struct {
	field          string // "keys[0].guests[1]"
	line           int
	module, sha256 *rawValue
}

// parsed is what parseFile finds in the file.
type parsed struct {
	entries   []fileEntry
	keys      []rawKey
	keysGiven bool
	keysLine  int
	// tokens are the items of pkcs11.tokens.
	tokens      []rawToken
	tokensGiven bool
	tokensLine  int
	errs        fieldErrors
}

// parseFile returns the values of the configuration file data (named by
// o) in document order. It checks the file's structure: problems with the
// values are the settings' to find.
func parseFile(o Origin, data []byte) parsed {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return parsed{} // an empty file sets nothing
		}
		return parsed{errs: fieldErrors{&FieldError{Origin: o, Problem: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return parsed{errs: fieldErrors{&FieldError{Origin: o, Problem: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}}
	default:
		return parsed{errs: fieldErrors{&FieldError{Origin: o, Line: extra.Line, Problem: "more than one YAML document; want one"}}}
	}
	w := walker{origin: o}
	if len(doc.Content) == 1 {
		w.mapping("", doc.Content[0])
	}
	return w.parsed
}

type walker struct {
	origin Origin
	parsed
}

func (w *walker) fail(field string, n *yaml.Node, format string, args ...any) {
	w.errs.add(&FieldError{Origin: w.origin, Field: field, Line: n.Line, Problem: fmt.Sprintf(format, args...)})
}

// fields walks the mapping n named field, whose fields are known, and calls
// f for each field that is known and given once.
func (w *walker) fields(field string, n *yaml.Node, known []string, f func(name string, k, v *yaml.Node)) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		w.fail(field, n, "want a mapping of %s, not %s", strings.Join(known, ", "), kindName(n))
		return
	}
	seen := make(map[string]int) // field → line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		name := k.Value
		if field != "" {
			name = field + "." + k.Value
		}
		if k.Kind != yaml.ScalarNode {
			w.fail(field, k, "a field name must be a plain word, not %s", kindName(k))
			continue
		}
		if !contains(known, k.Value) {
			w.fail(name, k, "unknown field; want one of %s", strings.Join(known, ", "))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			w.fail(name, k, "given twice; the first is on line %d", line)
			continue
		}
		seen[k.Value] = k.Line
		f(k.Value, k, v)
	}
}

// mapping walks the mapping n of section (the root when "").
func (w *walker) mapping(section string, n *yaml.Node) {
	w.fields(section, n, sections[section], func(name string, k, v *yaml.Node) {
		field := name
		if section != "" {
			field = section + "." + name
		}
		if _, ok := sections[field]; ok {
			w.mapping(field, v)
			return
		}
		if field == FieldKeys {
			w.keyList(k, v)
			return
		}
		if field == FieldTokens {
			w.tokenList(k, v)
			return
		}
		if what, ok := lists[field]; ok {
			for i, item := range w.list(field, what.items, what.empty, v) {
				if s, ok := w.scalar(fmt.Sprintf("%s[%d]", field, i), item); ok {
					w.entries = append(w.entries, fileEntry{field: field, name: fmt.Sprintf("%s[%d]", field, i), value: s, line: item.Line})
				}
			}
			return
		}
		if s, ok := w.scalar(field, v); ok {
			w.entries = append(w.entries, fileEntry{field: field, name: field, value: s, line: deref(v).Line})
		}
	})
}

// scalar returns the single value of n; ok is false when there is none:
// "field:" with no value leaves the setting to the defaults, and a list or
// a mapping is an error.
func (w *walker) scalar(field string, n *yaml.Node) (string, bool) {
	n = deref(n)
	switch {
	case isNull(n):
		return "", false
	case n.Kind != yaml.ScalarNode:
		w.fail(field, n, "want a single value, not %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

// list returns the items of the list n named field; what says what they
// are. A null list is no list; an empty one is an error, which empty says
// how to put right.
func (w *walker) list(field, what, empty string, n *yaml.Node) []*yaml.Node {
	n = deref(n)
	switch {
	case isNull(n):
		return nil
	case n.Kind != yaml.SequenceNode:
		w.fail(field, n, "want a list of %s, not %s", what, kindName(n))
		return nil
	case len(n.Content) == 0:
		w.fail(field, n, "empty list; %s", empty)
		return nil
	}
	return n.Content
}

// keyList walks keys: a list of managed keys.
func (w *walker) keyList(k, n *yaml.Node) {
	w.keysGiven, w.keysLine = true, k.Line
	for i, item := range w.list(FieldKeys, "managed keys (each a mapping of "+strings.Join(keyFields, ", ")+")",
		"list the managed keys, or leave the field out", n) {
		item = deref(item)
		rk := rawKey{field: fmt.Sprintf("%s[%d]", FieldKeys, i), line: item.Line, values: make(map[string]rawValue)}
		if isNull(item) {
			w.fail(rk.field, item, "want a mapping of %s, not nothing", strings.Join(keyFields, ", "))
			continue
		}
		bad := len(w.errs)
		w.fields(rk.field, item, keyFields, func(name string, k, v *yaml.Node) {
			field := rk.field + "." + name
			switch name {
			case "guests":
				rk.guestsLine = k.Line
				for j, g := range w.list(field, "guests (each module: NAME or sha256: HEX)",
					"name at least one guest that may open the key", v) {
					rk.guests = append(rk.guests, w.guest(fmt.Sprintf("%s[%d]", field, j), g))
				}
			case "operations":
				rk.opsLine = k.Line
				for j, op := range w.list(field, "operations",
					"leave the field out to allow every operation of the key's algorithm", v) {
					if s, ok := w.scalar(fmt.Sprintf("%s[%d]", field, j), op); ok {
						rk.ops = append(rk.ops, rawValue{fmt.Sprintf("%s[%d]", field, j), s, deref(op).Line})
					}
				}
			default:
				if s, ok := w.scalar(field, v); ok {
					rk.values[name] = rawValue{field, s, deref(v).Line}
				}
			}
		})
		if len(w.errs) == bad {
			// A key with a broken structure is reported as it is: what
			// it lacks would only add noise.
			w.keys = append(w.keys, rk)
		}
	}
}

// guest walks one item of a key's guests.
func (w *walker) guest(field string, n *yaml.Node) rawGuest {
	n = deref(n)
	g := rawGuest{field: field, line: n.Line}
	if isNull(n) {
		w.fail(field, n, "want module: NAME or sha256: HEX, not nothing")
		return g
	}
	w.fields(field, n, guestFields, func(name string, _, v *yaml.Node) {
		if s, ok := w.scalar(field+"."+name, v); ok {
			rv := &rawValue{field + "." + name, s, deref(v).Line}
			if name == "module" {
				g.module = rv
			} else {
				g.sha256 = rv
			}
		}
	})
	return g
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", redactPIN(n.Value))
	}
	return "this"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unwrapPath drops the operation and path that a *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
