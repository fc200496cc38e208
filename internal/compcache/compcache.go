// Package compcache opens wazero's compilation cache in a directory, but
// only a directory that no other user could have written: wazero maps the
// files it finds there as executable code after a CRC check, so an entry
// planted by someone else would run in place of the module compiled, and
// a sha256: grant checked on the module's bytes would not cover it.
//
// # Use
//
//	cache, err := compcache.Open(dir)
//	if err != nil { … run without a cache … }
//	defer cache.Close(ctx)
//
// Open makes a missing directory with mode 0700, then checks it, every
// directory above it and everything in it (wazero keeps its entries in a
// subdirectory per wazero version, platform and architecture) with
// [trusted.Dir]; an error that wraps a [*trusted.Error] says what another
// user could have written.
package compcache

import (
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"

	"github.com/wasihsm/wasihsm/internal/trusted"
)

// Open returns the compilation cache in dir, made if missing.
func Open(dir string) (wazero.CompilationCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("compcache: %w", err)
	}
	resolved, err := trusted.Dir(dir)
	if err != nil {
		return nil, fmt.Errorf("compcache: %w", err)
	}
	// The resolved path, so that no symbolic link lies between the check
	// and wazero; wazero makes its own subdirectory with mode 0700.
	cache, err := wazero.NewCompilationCacheWithDir(resolved)
	if err != nil {
		return nil, fmt.Errorf("compcache: %w", err)
	}
	return cache, nil
}
