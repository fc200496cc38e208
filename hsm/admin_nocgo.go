//go:build !cgo

package hsm

import (
	"context"

	"github.com/wasihsm/wasihsm/provider"
)

// Admin provisions managed keys on a token. This build has no PKCS#11
// support: [OpenAdmin] always fails.
type Admin struct{}

// OpenAdmin fails: this build has no PKCS#11 support (cgo disabled). The
// error wraps provider.ErrNotSupported.
func OpenAdmin(context.Context, Config, AdminOptions) (*Admin, error) { return nil, errNoCGO }

// Slot returns 0: there is no token.
func (a *Admin) Slot() uint { return 0 }

// Label returns "": there is no token.
func (a *Admin) Label() string { return "" }

// LoginRequired returns false: there is no token.
func (a *Admin) LoginRequired() bool { return false }

// Supports answers provider.Unsupported.
func (a *Admin) Supports(provider.Algorithm, provider.Operation) provider.Support {
	return provider.Unsupported
}

// Login fails.
func (a *Admin) Login(context.Context) error { return errNoCGO }

// Close does nothing.
func (a *Admin) Close() error { return nil }

// List fails.
func (a *Admin) List(context.Context) ([]TokenKey, error) { return nil, errNoCGO }

// Find fails.
func (a *Admin) Find(context.Context, string, []byte) ([]TokenKey, error) { return nil, errNoCGO }

// Fits fails.
func (a *Admin) Fits(context.Context, TokenKey, string) error { return errNoCGO }

// Create fails.
func (a *Admin) Create(context.Context, KeySpec) (TokenKey, error) { return TokenKey{}, errNoCGO }

// Excess returns nil: there is no token.
func (a *Admin) Excess(TokenKey, ...string) []string { return nil }

// Delete fails.
func (a *Admin) Delete(context.Context, string, []byte) (int, error) { return 0, errNoCGO }

// Quirks lists the quirks found while making managed keys; none without cgo.
func (a *Admin) Quirks() []string { return nil }
