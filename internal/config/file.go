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
// the setting of the same name.
var sections = map[string][]string{
	"":       {"backend", "fallback", "pkcs11", "limits", "cache_dir"},
	"pkcs11": {"module", "token", "pin"},
	"limits": {"max_handles", "max_buffered_bytes"},
}

// fileEntry is one value from the file.
type fileEntry struct {
	field string // "pkcs11.token"
	value string
	line  int
}

// parseFile returns the values of the configuration file data (named by
// o) in document order. It checks the file's structure: problems with the
// values are the settings' to find.
func parseFile(o Origin, data []byte) ([]fileEntry, fieldErrors) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file sets nothing
		}
		return nil, fieldErrors{&FieldError{Origin: o, Problem: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, fieldErrors{&FieldError{Origin: o, Problem: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	default:
		return nil, fieldErrors{&FieldError{Origin: o, Line: extra.Line, Problem: "more than one YAML document; want one"}}
	}
	w := walker{origin: o}
	if len(doc.Content) == 1 {
		w.mapping("", doc.Content[0])
	}
	return w.entries, w.errs
}

type walker struct {
	origin  Origin
	entries []fileEntry
	errs    fieldErrors
}

func (w *walker) fail(field string, n *yaml.Node, format string, args ...any) {
	w.errs.add(&FieldError{Origin: w.origin, Field: field, Line: n.Line, Problem: fmt.Sprintf(format, args...)})
}

// mapping walks the mapping n of section (the root when "").
func (w *walker) mapping(section string, n *yaml.Node) {
	n = deref(n)
	if isNull(n) {
		return
	}
	known := sections[section]
	if n.Kind != yaml.MappingNode {
		w.fail(section, n, "want a mapping of %s, not %s", strings.Join(known, ", "), kindName(n))
		return
	}
	seen := make(map[string]int) // field → line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		field := k.Value
		if section != "" {
			field = section + "." + k.Value
		}
		if k.Kind != yaml.ScalarNode {
			w.fail(section, k, "a field name must be a plain word, not %s", kindName(k))
			continue
		}
		if !contains(known, k.Value) {
			w.fail(field, k, "unknown field; want one of %s", strings.Join(known, ", "))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			w.fail(field, k, "given twice; the first is on line %d", line)
			continue
		}
		seen[k.Value] = k.Line
		if _, ok := sections[field]; ok {
			w.mapping(field, v)
			continue
		}
		v = deref(v)
		switch {
		case isNull(v):
			// "field:" with no value leaves the setting to the defaults
		case v.Kind != yaml.ScalarNode:
			w.fail(field, v, "want a single value, not %s", kindName(v))
		default:
			w.entries = append(w.entries, fileEntry{field: field, value: v.Value, line: v.Line})
		}
	}
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
		return fmt.Sprintf("the value %q", n.Value)
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
