//go:build cgo

package reliability_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
)

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Shutdown()
	os.Exit(code)
}

// tokenBackend opens the PKCS#11 backend on the process's SoftHSM2 token,
// directly (not through p11-kit), so that an Inspector of the test sees
// the backend's session objects: SoftHSM2 shows a process's session
// objects to all of that process's sessions.
func tokenBackend(t *testing.T, cfg hsm.Config) (*hsm.Backend, *softhsmtest.Fixture) {
	t.Helper()
	fx := softhsmtest.Token(t)
	cfg.Module = fx.Module
	cfg.Token = hsm.TokenSelector{Label: fx.Label}
	pin := fx.PIN
	cfg.PIN = func() ([]byte, error) { return []byte(pin), nil }
	b, err := hsm.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b, fx
}

// tokenKeySpecs lists relguest hold specs for every keyed algorithm whose
// keys the backend keeps on the token: generated, and imported where the
// guest can make import material (all but RSA).
func tokenKeySpecs(t testing.TB, b provider.Backend) []string {
	var specs []string
	for _, alg := range provider.Algorithms() {
		if !alg.Kind.Keyed() {
			continue
		}
		onToken := func(first provider.Operation) bool {
			if b.Supports(alg, first) == provider.Unsupported {
				return false
			}
			for _, op := range provider.KeyOperations(alg) {
				if b.Supports(alg, op) == provider.Unsupported {
					return false
				}
			}
			return true
		}
		if alg.Kind == provider.KindKDF { // HKDF keys are made from input only
			if onToken(provider.OpImport) {
				specs = append(specs, alg.Name)
			}
			continue
		}
		if onToken(provider.OpGenerate) {
			specs = append(specs, alg.Name)
		}
		if !alg.IsRSA() && onToken(provider.OpImport) {
			specs = append(specs, importSpec(t, alg.Name))
		}
	}
	return specs
}

// newObjects returns the objects in now that are not in before.
func newObjects(before, now []pkcs11.ObjectHandle) []pkcs11.ObjectHandle {
	var out []pkcs11.ObjectHandle
	for _, o := range now {
		if !slices.Contains(before, o) {
			out = append(out, o)
		}
	}
	return out
}

func isCKR(err error, rv uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == rv
}
