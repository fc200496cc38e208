package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/wasihsm/wasihsm/internal/config"
)

// wasmMagic is how every WebAssembly binary starts.
const wasmMagic = "\x00asm"

// isGuestPath reports whether a --guest value names a wasm file rather
// than a module: it has a slash (./jws.wasm, build/jws.wasm). A module
// name never has one, so the rule does not depend on which files exist.
func isGuestPath(v string) bool {
	return strings.ContainsRune(v, '/') || strings.ContainsRune(v, os.PathSeparator)
}

// guestFileGrant grants the wasm file at path by its SHA-256: the
// configuration then trusts those exact bytes, wherever they are placed.
func guestFileGrant(path string) (config.KeyGuest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return config.KeyGuest{}, fmt.Errorf("%q: a path names a wasm file to grant by its SHA-256: %w", path, err)
	}
	if !bytes.HasPrefix(data, []byte(wasmMagic)) {
		return config.KeyGuest{}, fmt.Errorf("%q: not a WebAssembly module (no \\0asm at its start)", path)
	}
	sum := sha256.Sum256(data)
	return config.KeyGuest{SHA256: hex.EncodeToString(sum[:])}, nil
}

// chkGrantSuffix names the doctor's check of a managed key's grants, after
// keyCheck's name.
const chkGrantSuffix = " grants"

// checkGuestGrants warns, for each managed key that a module-name grant
// opens, that the name is no proof of the code: whoever can place a file of
// that name where the guest is run from gets the key. It reads only the
// configuration.
func checkGuestGrants(r *doctorReport, keys []config.ManagedKey) {
	for _, k := range keys {
		var names []string
		for _, g := range k.Guests {
			if g.Module != "" {
				names = append(names, g.Module)
			}
		}
		if len(names) == 0 {
			continue
		}
		sel := "--label " + k.Label
		if k.Label == "" {
			sel = fmt.Sprintf("--id %x", k.ID)
		}
		r.add(keyCheck(k)+chkGrantSuffix, checkWarn,
			fmt.Sprintf("module: %s trusts whoever can place a file of that name where wasihsm run is given one", strings.Join(names, ", module: ")),
			fmt.Sprintf("grant the wasm file's SHA-256 instead: wasihsm keys show %s --guest PATH/%s prints the grant (sha256: HEX)", sel, names[0]))
	}
}
