package testguest

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// WithModuleName returns a copy of wasm whose name section gives the
// module the name name, as a guest's author can: the section is the
// guest's to write, and wazero takes a module's name from it when the
// embedder does not set one. Any name section wasm had is dropped (wazero
// refuses two), so the copy has no function names. It fails the test when
// wasm is not a well-formed sequence of sections.
func WithModuleName(t testing.TB, wasm []byte, name string) []byte {
	t.Helper()
	header := []byte("\x00asm\x01\x00\x00\x00")
	if !bytes.HasPrefix(wasm, header) {
		t.Fatalf("testguest: WithModuleName: not a wasm 1.0 module")
	}
	out := bytes.Clone(header)
	for rest := wasm[len(header):]; len(rest) > 0; {
		id := rest[0]
		size, n := binary.Uvarint(rest[1:])
		if n <= 0 || size > uint64(len(rest)-1-n) {
			t.Fatalf("testguest: WithModuleName: malformed section %d", id)
		}
		section := rest[:1+n+int(size)]
		payload := rest[1+n : 1+n+int(size)]
		rest = rest[len(section):]
		if id == 0 {
			secName, m := binary.Uvarint(payload)
			if m > 0 && secName <= uint64(len(payload)-m) && string(payload[m:m+int(secName)]) == "name" {
				continue
			}
		}
		out = append(out, section...)
	}
	// Subsection 0, the module name: a name (length, bytes) in a
	// subsection (id, length), in a custom section called "name".
	sub := binary.AppendUvarint(nil, uint64(len(name)))
	sub = append(sub, name...)
	payload := binary.AppendUvarint(nil, uint64(len("name")))
	payload = append(payload, "name"...)
	payload = append(payload, 0)
	payload = binary.AppendUvarint(payload, uint64(len(sub)))
	payload = append(payload, sub...)
	out = append(out, 0)
	out = binary.AppendUvarint(out, uint64(len(payload)))
	return append(out, payload...)
}
