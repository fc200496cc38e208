// Package guestbuild builds the contract guest the one way that both the
// generator of the embedded copy and the test that keeps that copy fresh
// use, so that the two builds can be compared byte for byte.
package guestbuild

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Package is the import path of the guest that the suite embeds.
const Package = "github.com/wasihsm/wasihsm/conformance/guests/contract"

// Flags are the build flags: no file paths, symbols or VCS stamps in the
// output, so that the same sources and Go version give the same bytes.
var Flags = []string{"-trimpath", "-ldflags=-s -w", "-buildvcs=false"}

// GoTool returns the go command: $GOROOT/bin/go when GOROOT is set (go
// generate and go test set it), else "go" from PATH.
func GoTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// Build compiles the guest with goTool for GOOS=wasip1 GOARCH=wasm and
// returns the wasm bytes and the Go version that built them.
func Build(goTool string) (wasm []byte, goVersion string, err error) {
	dir, err := os.MkdirTemp("", "wasihsm-contract-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "contract.wasm")
	args := append([]string{"build", "-o", out}, Flags...)
	cmd := exec.Command(goTool, append(args, Package)...)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWASM=", "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("guestbuild: go build %s: %v: %s", Package, err, strings.TrimSpace(string(msg)))
	}
	wasm, err = os.ReadFile(out)
	if err != nil {
		return nil, "", err
	}
	v, err := exec.Command(goTool, "env", "GOVERSION").Output()
	if err != nil {
		return nil, "", fmt.Errorf("guestbuild: go env GOVERSION: %w", err)
	}
	return wasm, strings.TrimSpace(string(v)), nil
}

// Compress gzips wasm with a fixed header (no name, no time).
func Compress(wasm []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(wasm); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Sources returns the SHA-256 of what the guest is built from in this
// module: every Go and embedded file of the module's packages that the
// guest imports for wasip1 (by module-relative path and content), and the
// version of every other module it imports from. Unlike the wasm bytes, it does not depend on the Go
// version, so a test can tell a stale embedded guest on any toolchain.
func Sources(goTool string) (string, error) {
	root, err := exec.Command(goTool, "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("guestbuild: go list -m: %w", err)
	}
	modDir := strings.TrimSpace(string(root))
	// Files of the module's own packages, one per line; for packages of
	// other modules, "@module@version" (their sources are fixed by it).
	const format = `{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{else}}@{{.Module.Path}}@{{.Module.Version}}
{{end}}{{end}}`
	cmd := exec.Command(goTool, "list", "-deps", "-f", format, Package)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("guestbuild: go list -deps %s: %w", Package, err)
	}
	var rels, modules []string
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case f == "":
		case strings.HasPrefix(f, "@"):
			modules = append(modules, f)
		default:
			rel, err := filepath.Rel(modDir, f)
			if err != nil {
				return "", fmt.Errorf("guestbuild: %s: %w", f, err)
			}
			rels = append(rels, filepath.ToSlash(rel))
		}
	}
	slices.Sort(rels)
	slices.Sort(modules)
	h := sha256.New()
	for _, m := range slices.Compact(modules) {
		fmt.Fprintln(h, m)
	}
	for _, rel := range slices.Compact(rels) {
		data, err := os.ReadFile(filepath.Join(modDir, filepath.FromSlash(rel)))
		if err != nil {
			return "", fmt.Errorf("guestbuild: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", rel, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Stamp is the text recorded next to the embedded guest: the Go version
// that built it, the SHA-256 of the wasm bytes, and the SHA-256 of its
// sources ([Sources]).
func Stamp(goVersion string, wasm []byte, sources string) string {
	sum := sha256.Sum256(wasm)
	return fmt.Sprintf("go %s\nsha256 %s\nsources %s\n", goVersion, hex.EncodeToString(sum[:]), sources)
}

// StampInfo is what a stamp records.
type StampInfo struct {
	GoVersion string // the Go version that built the guest
	WasmSHA   string // SHA-256 of the wasm bytes, hex
	Sources   string // SHA-256 of the sources, hex (see Sources)
}

// ParseStamp reads what Stamp wrote.
func ParseStamp(s string) (StampInfo, error) {
	var st StampInfo
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		k, v, _ := strings.Cut(l, " ")
		switch k {
		case "go":
			st.GoVersion = v
		case "sha256":
			st.WasmSHA = v
		case "sources":
			st.Sources = v
		}
	}
	if st.GoVersion == "" || len(st.WasmSHA) != 64 || len(st.Sources) != 64 {
		return StampInfo{}, fmt.Errorf("guestbuild: stamp %q: want lines \"go VERSION\", \"sha256 HEX\" and \"sources HEX\"", s)
	}
	return st, nil
}
