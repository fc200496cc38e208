package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

type pinKind uint8

const (
	pinNone     pinKind = iota
	pinLiteral          // WASIHSM_PIN: ref is the PIN
	pinEnv              // env:NAME: ref is NAME
	pinFile             // file:PATH: ref is PATH
	pinURIValue         // a token URI's pin-value: ref is the PIN
)

// PINSource is where the user PIN comes from: WASIHSM_PIN, the source that
// the file's pkcs11.pin names ("env:NAME" or "file:PATH"), or the
// pin-source or pin-value of the token's PKCS#11 URI. Formatting it with
// any verb shows the source, never the PIN; [PINSource.Read] gives the
// PIN.
type PINSource struct {
	kind pinKind
	ref  string
}

// IsSet reports whether a source was given.
func (p PINSource) IsSet() bool { return p.kind != pinNone }

// File returns the path of the file that holds the PIN, and whether the
// PIN comes from a file (file:PATH, or a token URI's pin-source).
func (p PINSource) File() (path string, ok bool) {
	if p.kind != pinFile {
		return "", false
	}
	return p.ref, true
}

// String returns the source: "WASIHSM_PIN", "env:NAME", "file:PATH",
// "pkcs11.token pin-value", or "" when none was given.
func (p PINSource) String() string {
	switch p.kind {
	case pinLiteral:
		return EnvPIN
	case pinURIValue:
		return FieldToken + " pin-value"
	case pinEnv:
		return "env:" + p.ref
	case pinFile:
		return "file:" + p.ref
	}
	return ""
}

// GoString is like String, so that %#v does not show the PIN either.
func (p PINSource) GoString() string { return fmt.Sprintf("config.PINSource(%q)", p.String()) }

// Format implements fmt.Formatter, so that no verb (%d and %x included)
// prints the PIN: every verb prints String, %#v prints GoString.
func (p PINSource) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, p.GoString())
		return
	}
	_, _ = io.WriteString(f, p.String())
}

// Read returns the PIN: WASIHSM_PIN's value, the variable's value for
// env:NAME (looked up with lookupEnv; nil means os.LookupEnv), the first
// line of the file for file:PATH, or the URI's pin-value. An empty PIN is
// an error, except from a pin-value, which says so explicitly
// ("pin-value="). Errors name the source, never the PIN.
//
// # Wiping
//
// The PIN comes back as a fresh byte slice that belongs to the caller,
// who zeroes it (see [Wipe]) as soon as it has been used: a Go string
// cannot be wiped, so none is made from it here. For file:PATH the whole
// file read is zeroed before Read returns. The literal, environment and
// URI sources hold the PIN in Go strings that the process got it in;
// those cannot be wiped, which is one reason to prefer file:PATH.
func (p PINSource) Read(lookupEnv func(string) (string, bool)) ([]byte, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	var pin []byte
	switch p.kind {
	case pinNone:
		return nil, fmt.Errorf("config: %s: no PIN source; set %s or pkcs11.pin in the config file", FieldPIN, EnvPIN)
	case pinLiteral:
		pin = []byte(p.ref)
	case pinURIValue:
		return []byte(p.ref), nil
	case pinEnv:
		v, ok := lookupEnv(p.ref)
		if !ok {
			return nil, fmt.Errorf("config: %s: %s: the environment variable %s is not set", FieldPIN, p, p.ref)
		}
		pin = []byte(v)
	case pinFile:
		b, err := os.ReadFile(p.ref)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %s: %w", FieldPIN, p, unwrapPath(err))
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		pin = bytes.Clone(line)
		Wipe(b)
	}
	if len(pin) == 0 {
		return nil, fmt.Errorf("config: %s: %s: the PIN is empty", FieldPIN, p)
	}
	return pin, nil
}

// Wipe zeroes b. Callers of [PINSource.Read] wipe the PIN with it once
// the token has it.
func Wipe(b []byte) { clear(b) }

// parsePINSource parses the file's pkcs11.pin. Its problems never quote
// the value, which might be a PIN written in by mistake.
func parsePINSource(v, dir string) (PINSource, string) {
	kind, ref, ok := strings.Cut(v, ":")
	if ok {
		switch kind {
		case "env":
			if !validEnvName(ref) {
				return PINSource{}, "env: must be followed by the name of an environment variable (letters, digits, _)"
			}
			return PINSource{kind: pinEnv, ref: ref}, ""
		case "file":
			if ref == "" {
				return PINSource{}, "file: must be followed by the path of a file that holds the PIN"
			}
			return PINSource{kind: pinFile, ref: inDir(dir, ref)}, ""
		}
	}
	return PINSource{}, `must name where the PIN is, "env:NAME" or "file:PATH", not hold the PIN itself`
}

func validEnvName(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
