package softfallback

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"slices"

	"github.com/wasihsm/wasihsm/provider"
)

// BackendName is what [Backend.Name] and every key's Backend method return.
const BackendName = "software"

// Backend is the pure-Go backend. The zero value is not meant to be used;
// call [New].
type Backend struct{}

var _ provider.Backend = (*Backend)(nil)

// New returns the software backend. It holds no state of its own: keys own
// their material.
func New() *Backend { return &Backend{} }

// Name implements provider.Backend: it returns "software".
func (b *Backend) Name() string { return BackendName }

// Supports implements provider.Backend. It answers provider.Software for
// every registered algorithm and each operation that applies to it (see the
// package documentation), and provider.Unsupported otherwise.
func (b *Backend) Supports(alg provider.Algorithm, op provider.Operation) provider.Support {
	if !registered(alg) {
		return provider.Unsupported
	}
	var ok bool
	switch alg.Kind {
	case provider.KindHash, provider.KindXOF:
		ok = op == provider.OpHash
	case provider.KindKDF:
		// An HKDF key is Extract(salt, IKM): it always has input.
		ok = op == provider.OpImport || op == provider.OpDerive
	default:
		ok = op == provider.OpGenerate || op == provider.OpImport ||
			slices.Contains(provider.KeyOperations(alg), op)
	}
	if ok {
		return provider.Software
	}
	return provider.Unsupported
}

// NewHash implements provider.Backend. alg must be a registered hash or
// XOF, else provider.ErrNotSupported.
func (b *Backend) NewHash(_ context.Context, alg provider.Algorithm) (provider.Hash, error) {
	if !registered(alg) || (alg.Kind != provider.KindHash && alg.Kind != provider.KindXOF) {
		return nil, fmt.Errorf("softfallback: hash %q: %w", alg.Name, provider.ErrNotSupported)
	}
	return newHash(alg), nil
}

// GenerateKey implements provider.Backend: it generates a key when
// req.Input is nil and imports req.Input otherwise.
func (b *Backend) GenerateKey(_ context.Context, req provider.KeyRequest) (provider.Key, error) {
	alg := req.Algorithm
	if !registered(alg) || !alg.Kind.Keyed() {
		return nil, fmt.Errorf("softfallback: key algorithm %q: %w", alg.Name, provider.ErrNotSupported)
	}
	if alg.Kind != provider.KindKDF {
		if req.Nonce != nil {
			return nil, errorf(alg, provider.ErrInvalidArgument, "the algorithm takes no nonce")
		}
		if req.Hash != (provider.Algorithm{}) {
			return nil, errorf(alg, provider.ErrInvalidArgument, "the algorithm takes no hash")
		}
	}
	switch alg.Kind {
	case provider.KindAEAD:
		return newAEADKey(alg, req.Input)
	case provider.KindMAC:
		return newMACKey(alg, req.Input)
	case provider.KindKDF:
		return newHKDFKey(req)
	case provider.KindSignature:
		return newSignatureKey(alg, req.Input)
	case provider.KindKeyAgreement:
		return newAgreementKey(alg, req.Input)
	}
	return nil, fmt.Errorf("softfallback: key algorithm %q: %w", alg.Name, provider.ErrNotSupported)
}

// registered reports whether alg is exactly an entry of the registry, so
// that a hand-made Algorithm value cannot pass for a known one.
func registered(alg provider.Algorithm) bool {
	reg, ok := provider.Lookup(alg.Name)
	return ok && reg == alg
}

// errorf wraps sentinel with the package prefix and the algorithm name.
func errorf(alg provider.Algorithm, sentinel error, format string, args ...any) error {
	return fmt.Errorf("softfallback: %s: %s: %w", alg.Name, fmt.Sprintf(format, args...), sentinel)
}

// keyHash returns the constructor and crypto.Hash of SHA-256/384/512, the
// hashes that keys are built on.
func keyHash(name string) (func() hash.Hash, crypto.Hash, bool) {
	switch name {
	case "SHA-256":
		return sha256.New, crypto.SHA256, true
	case "SHA-384":
		return sha512.New384, crypto.SHA384, true
	case "SHA-512":
		return sha512.New, crypto.SHA512, true
	}
	return nil, 0, false
}
