package wasihost_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
	"github.com/wasihsm/wasihsm/wasihost"
)

// countingBackend is the real software backend, counting the keys that are
// alive, so tests can check that nothing outlives an instance.
type countingBackend struct {
	provider.Backend
	live atomic.Int64
}

func (b *countingBackend) GenerateKey(ctx context.Context, req provider.KeyRequest) (provider.Key, error) {
	k, err := b.Backend.GenerateKey(ctx, req)
	if err != nil {
		return nil, err
	}
	b.live.Add(1)
	return wrapKey(k, b), nil
}

// countedKey forwards every operation interface of the wrapped key.
type countedKey struct {
	provider.Key
	b         *countingBackend
	destroyed atomic.Bool
}

func (k *countedKey) Destroy(ctx context.Context) error {
	if !k.destroyed.CompareAndSwap(false, true) {
		return errors.New("countedKey: destroyed twice")
	}
	k.b.live.Add(-1)
	return k.Key.Destroy(ctx)
}

func (k *countedKey) NewSignState(ctx context.Context, n int) (provider.SignState, error) {
	s, ok := k.Key.(provider.Signer)
	if !ok {
		return nil, provider.ErrInvalidArgument
	}
	return s.NewSignState(ctx, n)
}

func (k *countedKey) PublicKeyDER(ctx context.Context) ([]byte, error) {
	e, ok := k.Key.(provider.PublicKeyExporter)
	if !ok {
		return nil, provider.ErrInvalidArgument
	}
	return e.PublicKeyDER(ctx)
}

// The host type-switches on AEADKey, HKDFKey and KeyAgreementKey, so a
// wrapper must implement exactly the interfaces of the key it wraps.
func wrapKey(k provider.Key, b *countingBackend) provider.Key {
	c := &countedKey{Key: k, b: b}
	switch inner := k.(type) {
	case provider.AEADKey:
		return &countedAEAD{countedKey: c, aead: inner}
	case provider.HKDFKey:
		return &countedHKDF{countedKey: c, prk: inner}
	case provider.KeyAgreementKey:
		return &countedAgreement{countedKey: c, ka: inner}
	}
	return c
}

type countedAEAD struct {
	*countedKey
	aead provider.AEADKey
}

func (k *countedAEAD) Seal(ctx context.Context, dst, nonce, pt, aad []byte) ([]byte, error) {
	return k.aead.Seal(ctx, dst, nonce, pt, aad)
}

func (k *countedAEAD) Open(ctx context.Context, dst, nonce, ct, aad []byte) ([]byte, error) {
	return k.aead.Open(ctx, dst, nonce, ct, aad)
}

type countedHKDF struct {
	*countedKey
	prk provider.HKDFKey
}

func (k *countedHKDF) Hash() provider.Algorithm { return k.prk.Hash() }

func (k *countedHKDF) Expand(ctx context.Context, info, out []byte) error {
	return k.prk.Expand(ctx, info, out)
}

type countedAgreement struct {
	*countedKey
	ka provider.KeyAgreementKey
}

func (k *countedAgreement) SharedSecret(ctx context.Context, peer []byte) ([]byte, error) {
	return k.ka.SharedSecret(ctx, peer)
}

// harness is a testguest.Harness over the counting software backend.
type harness struct {
	*testguest.Harness
	t       testing.TB
	host    *wasihost.Host
	backend *countingBackend
}

func newHarness(t testing.TB, wasm []byte, opts wasihost.Options, cfg provider.RouterConfig) *harness {
	t.Helper()
	b := &countingBackend{Backend: softfallback.New()}
	if cfg.Primary == nil {
		cfg.Primary = b
	}
	router, err := provider.NewRouter(cfg)
	require.NoError(t, err)
	h := testguest.NewHarness(t, router, opts, wasm)
	return &harness{Harness: h, t: t, host: h.Host, backend: b}
}

// run runs the guest and returns its stdout, stderr and exit code.
func (h *harness) run(guest string, stdin io.Reader, env map[string]string, args ...string) (string, string, uint32) {
	h.t.Helper()
	r := h.Run(guest, stdin, env, args...)
	return r.Stdout, r.Stderr, r.ExitCode
}

// requireClean checks that no instance state and no key outlives the
// guests that ran.
func (h *harness) requireClean() {
	h.t.Helper()
	require.Equal(h.t, wasihost.Stats{}, h.host.Stats(), "instance state left behind")
	require.Zero(h.t, h.backend.live.Load(), "keys left alive")
}

func contractGuest(t testing.TB) []byte {
	return testguest.Build(t, "github.com/wasihsm/wasihsm/conformance/guests/contract")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic("must: " + err.Error())
	}
	return v
}
