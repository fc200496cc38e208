//go:build !cgo

package hsm

import (
	"context"
	"fmt"

	"github.com/wasihsm/wasihsm/provider"
)

// errNoCGO is the answer of every entry point in a build without cgo:
// package pkcs11 loads modules through cgo.
var errNoCGO = fmt.Errorf("hsm: built without PKCS#11 support (cgo disabled): %w", provider.ErrNotSupported)

// Backend is a PKCS#11 token as a provider.Backend. This build has no
// PKCS#11 support: [Open] always fails.
type Backend struct{}

var (
	_ provider.Backend     = (*Backend)(nil)
	_ provider.ManagedKeys = (*Backend)(nil)
)

// Open fails: this build has no PKCS#11 support (cgo disabled). The error
// wraps provider.ErrNotSupported.
func Open(ctx context.Context, cfg Config) (*Backend, error) { return nil, errNoCGO }

// Slots fails: this build has no PKCS#11 support (cgo disabled).
func Slots(ctx context.Context, path, initArgs string) ([]SlotInfo, error) { return nil, errNoCGO }

// Reconnect does nothing: this build loads no module.
func Reconnect(path string) error { return nil }

// Name implements provider.Backend: it returns "pkcs11".
func (b *Backend) Name() string { return BackendName }

// Supports implements provider.Backend: nothing is supported.
func (b *Backend) Supports(provider.Algorithm, provider.Operation) provider.Support {
	return provider.Unsupported
}

// Capabilities returns nothing: there is no token.
func (b *Backend) Capabilities() []Capability { return nil }

// NewHash implements provider.Backend; it fails.
func (b *Backend) NewHash(context.Context, provider.Algorithm) (provider.Hash, error) {
	return nil, errNoCGO
}

// GenerateKey implements provider.Backend; it fails.
func (b *Backend) GenerateKey(context.Context, provider.KeyRequest) (provider.Key, error) {
	return nil, errNoCGO
}

// OpenManagedKey implements provider.ManagedKeys; it fails.
func (b *Backend) OpenManagedKey(context.Context, string, provider.Guest) (provider.Key, error) {
	return nil, errNoCGO
}

// Close does nothing.
func (b *Backend) Close() error { return nil }

// Probe returns nothing: there is no token.
func (b *Backend) Probe() []Probe { return nil }

// Exercise fails: there is no token.
func (b *Backend) Exercise(context.Context, provider.Key, []provider.Operation) ([]Refusal, error) {
	return nil, errNoCGO
}

// Quirks returns nothing: there is no token.
func (b *Backend) Quirks() []string { return nil }

// Slot returns 0: there is no token.
func (b *Backend) Slot() uint { return 0 }
