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

// Stamp is the text recorded next to the embedded guest: the Go version
// that built it and the SHA-256 of the wasm bytes.
func Stamp(goVersion string, wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return fmt.Sprintf("go %s\nsha256 %s\n", goVersion, hex.EncodeToString(sum[:]))
}

// ParseStamp reads what Stamp wrote.
func ParseStamp(s string) (goVersion, sha string, err error) {
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		k, v, _ := strings.Cut(l, " ")
		switch k {
		case "go":
			goVersion = v
		case "sha256":
			sha = v
		}
	}
	if goVersion == "" || len(sha) != 64 {
		return "", "", fmt.Errorf("guestbuild: stamp %q: want lines \"go VERSION\" and \"sha256 HEX\"", s)
	}
	return goVersion, sha, nil
}
