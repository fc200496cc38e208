package config

import (
	"errors"
	"strconv"
	"strings"
)

// OriginKind says which kind of source gave a value.
type OriginKind uint8

// The kinds of source, in increasing precedence.
const (
	FromDefault OriginKind = iota
	FromFile
	FromEnv
	FromFlag
)

// Origin is where a value came from.
type Origin struct {
	Kind OriginKind
	// Name is the file's path, the environment variable or the flag (without
	// dashes); empty for a default.
	Name string
}

// String returns the origin as error messages write it: "config PATH",
// "env NAME", "flag --NAME" or "default".
func (o Origin) String() string {
	switch o.Kind {
	case FromFile:
		return "config " + o.Name
	case FromEnv:
		return "env " + o.Name
	case FromFlag:
		return "flag --" + o.Name
	}
	return "default"
}

// FieldError is one problem with the settings.
type FieldError struct {
	// Origin is where the wrong value came from; FromDefault when the
	// problem is a missing value.
	Origin Origin
	// Field is the setting, as named in the file ("pkcs11.pin"); empty
	// for a problem with the file as a whole.
	Field string
	// Line is the line in the file, or 0.
	Line int
	// Problem says what is wrong and what would be right. It never holds
	// a PIN.
	Problem string
	// Err is the error behind the problem, for errors.Is and errors.As,
	// or nil.
	Err error
}

// Unwrap returns Err.
func (e *FieldError) Unwrap() error { return e.Err }

// Error returns "ORIGIN: FIELD: PROBLEM (line N)". The field is left out
// when the origin (a flag or an environment variable) already names it.
func (e *FieldError) Error() string {
	var parts []string
	if e.Origin.Kind != FromDefault {
		parts = append(parts, e.Origin.String())
	}
	if e.Field != "" && (e.Origin.Kind == FromFile || e.Origin.Kind == FromDefault) {
		parts = append(parts, e.Field)
	}
	msg := strings.Join(append(parts, e.Problem), ": ")
	if e.Line > 0 {
		msg += " (line " + strconv.Itoa(e.Line) + ")"
	}
	return msg
}

// fieldErrors collects the problems of one Load.
type fieldErrors []error

func (errs *fieldErrors) add(err error) { *errs = append(*errs, err) }

func (errs fieldErrors) err() error { return errors.Join(errs...) }
