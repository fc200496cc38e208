// Package archtest holds tests of the project's shape: which package may
// import which (docs/design.md, "Packages and the one direction").
package archtest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/wasihsm/wasihsm"

// deps lists the packages pkg depends on (non-test builds), for GOOS/GOARCH
// of the host.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"/"+pkg).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.Fields(string(out))
}

func TestDependencyDirection(t *testing.T) {
	tests := []struct {
		pkg       string
		forbidden []string // module-relative prefixes
		external  []string // import paths of other modules, as prefixes
		stdOnly   bool     // only the standard library, the package itself and allowed
		allowed   []string // module-relative packages a stdOnly package may import
	}{
		// spec, the contract's facts, is a leaf: the guest SDK and the host
		// both import it.
		{pkg: "spec", stdOnly: true},
		// provider imports only the standard library and spec.
		{pkg: "provider", stdOnly: true, allowed: []string{"spec"}},
		// The host never imports a backend; backends never import the host.
		{pkg: "wasihost", forbidden: []string{"softfallback", "hsm", "cmd", "internal/rootfs"}},
		{pkg: "softfallback", forbidden: []string{"wasihost", "hsm", "cmd"}},
		{pkg: "hsm", forbidden: []string{"wasihost", "softfallback", "cmd", "internal/config"}},
		// A group of tokens is a backend over hsm backends, as neutral.
		{pkg: "hsm/group", forbidden: []string{"wasihost", "softfallback", "cmd", "internal/config"}},
		// The confined file system knows nothing of the project; only
		// cmd/wasihsm wires it (the host above does not import it).
		{pkg: "internal/rootfs", forbidden: []string{"provider", "wasihost", "softfallback", "hsm", "cmd", "internal/config"}},
		// The configuration is the ground floor of the CLI: it knows the
		// contract's defaults (spec), not the host, a backend or wazero.
		{pkg: "internal/config", forbidden: []string{"wasihost", "hsm", "softfallback", "cmd"}, external: []string{"github.com/tetratelabs/wazero"}},
		// PKCS#11 URIs are parsed with the standard library alone.
		{pkg: "internal/pkcs11uri", stdOnly: true},
		// The guest SDK is independent of the host side.
		{pkg: "guest/wasicrypto", forbidden: []string{"provider", "wasihost", "softfallback", "hsm"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			for _, d := range deps(t, tt.pkg) {
				if tt.stdOnly {
					firstElem, _, _ := strings.Cut(d, "/")
					isStd := !strings.Contains(firstElem, ".")
					isAllowed := slices.ContainsFunc(tt.allowed, func(a string) bool { return d == module+"/"+a })
					assert.True(t, isStd || isAllowed || strings.HasPrefix(d, module+"/"+tt.pkg),
						"%s must import only the standard library, but depends on %s", tt.pkg, d)
				}
				for _, f := range tt.forbidden {
					assert.False(t, d == module+"/"+f || strings.HasPrefix(d, module+"/"+f+"/"),
						"%s must not depend on %s", tt.pkg, d)
				}
				for _, f := range tt.external {
					assert.False(t, d == f || strings.HasPrefix(d, f+"/"),
						"%s must not depend on %s", tt.pkg, d)
				}
			}
		})
	}
}
