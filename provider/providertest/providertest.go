package providertest

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
)

// Options tells the suite what it cannot learn from Backend.Supports. Only
// ErrorPrefix is required.
type Options struct {
	// ErrorPrefix begins every error message of the backend ("hsm: ").
	ErrorPrefix string
	// HashBuffer is the number of bytes one hash state holds at most, as
	// the backend is configured (hsm.Config.MaxBuffered); Update answers
	// provider.ErrMessageTooLarge beyond it. 0 when hash states do not
	// buffer. When set, it must be at least the longest hash vector
	// (1,000,000 bytes).
	HashBuffer int
	// MaxSignedMessages caps how many distinct messages of the ECDSA and
	// RSASSA-PSS vector files are signed per algorithm, for a backend
	// whose signatures are slow to get; 0 signs them all.
	MaxSignedMessages int
	// SignBuffers names the algorithms, besides EdDSA, whose sign states
	// buffer the message, so that NewSignState's maxBuffered bounds it.
	// The sign states of every other algorithm must hash as data comes
	// and take any amount of it.
	SignBuffers []string
}

// TestBackend runs the contract suite against b, as subtests of t. The
// parts of the suite run in parallel with each other (t.Parallel), as a
// backend must be safe for concurrent use, and so after TestBackend
// returns: close b in a t.Cleanup, not with defer. The suite creates keys
// of its own and destroys them.
func TestBackend(t *testing.T, b provider.Backend, opts Options) {
	require.NotEmpty(t, opts.ErrorPrefix, "Options.ErrorPrefix")
	s := &suite{b: b, opts: opts}
	// The slowest parts first, so that parallel runs end together.
	for _, part := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"ECDSA", s.testECDSA},
		{"Hash", s.testHash},
		{"HKDF", s.testHKDF},
		{"RSA", s.testRSA},
		{"HMAC", s.testHMACVectors},
		{"EdDSA", s.testEdDSA},
		{"ECDH", s.testECDH},
		{"AESGCM", s.testAESGCMVectors},
		{"SignStates", s.testSignStates},
		{"Import", s.testImportRules},
		{"Generate", s.testGenerate},
		{"Router", s.testRouter},
		{"Keys", s.testKeys},
		{"Export", s.testExport},
		{"InputNotRetained", s.testInputNotRetained},
		{"AEAD", s.testAEAD},
		{"ConcurrentDestroy", s.testConcurrentDestroy},
		{"Refusals", s.testRefusals},
		{"Supports", s.testSupports},
	} {
		t.Run(part.name, func(t *testing.T) {
			t.Parallel()
			part.run(t)
		})
	}
}

// suite is one run of the contract against one backend.
type suite struct {
	b    provider.Backend
	opts Options
}

var ctx = context.Background()

func alg(name string) provider.Algorithm { return provider.MustLookup(name) }

// keyed returns every registered algorithm that takes a key.
func keyed() []provider.Algorithm {
	var out []provider.Algorithm
	for _, a := range provider.Algorithms() {
		if a.Kind.Keyed() {
			out = append(out, a)
		}
	}
	return out
}

// creation is how the suite makes keys of a on this backend: by import for
// RSA (generation is slow) and HKDF (never generated), by generation
// otherwise, or the other way when only that one serves. ok is false, and
// the reason logged, when neither serves a.
func (s *suite) creation(t testing.TB, a provider.Algorithm) (create provider.Operation, ok bool) {
	t.Helper()
	order := []provider.Operation{provider.OpGenerate, provider.OpImport}
	if a.IsRSA() || a.Kind == provider.KindKDF {
		slices.Reverse(order)
	}
	for _, op := range order {
		if Serves(s.b, a, op) {
			return op, true
		}
	}
	t.Logf("%s: not served by this backend; not tested here", a)
	return 0, false
}

// serves reports whether the backend serves keys of a created by create,
// and logs it when not.
func (s *suite) serves(t testing.TB, a provider.Algorithm, create provider.Operation) bool {
	t.Helper()
	if Serves(s.b, a, create) {
		return true
	}
	t.Logf("%s keys by %s: not served by this backend; not tested here", a, create)
	return false
}

// request is a well-formed request for a key of a made by create: nothing
// to generate, and for import the material the rules accept (a fresh host
// key as PKCS#8, the RSA vector key, raw bytes of the key size, IKM with
// SHA-256 for HKDF).
func request(t testing.TB, a provider.Algorithm, create provider.Operation) provider.KeyRequest {
	t.Helper()
	req := provider.KeyRequest{Algorithm: a}
	if a.Kind == provider.KindKDF {
		req.Hash = alg("SHA-256")
	}
	if create != provider.OpImport {
		return req
	}
	switch {
	case a.Kind == provider.KindAEAD:
		req.Input = fill(a.KeySize, 1)
	case a.Kind == provider.KindMAC:
		req.Input = fill(a.OutputSize, 2)
	case a.Kind == provider.KindKDF:
		req.Input = []byte("input keying material")
	case a.IsRSA():
		req.Input = RSAKey(t)
	default:
		req.Input = PKCS8(t, hostKey(t, a.Curve))
	}
	return req
}

// hostKey generates a private key on the host for a curve of the registry.
func hostKey(t testing.TB, curve string) any {
	t.Helper()
	var (
		k   any
		err error
	)
	switch curve {
	case "P-256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "P-384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "P-521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "Ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "X25519":
		k, err = ecdh.X25519().GenerateKey(rand.Reader)
	default:
		t.Fatalf("no host key for curve %q", curve)
	}
	require.NoError(t, err)
	return k
}

// fill returns n bytes counting up from b: key material that is neither
// zero nor repeated.
func fill(n int, b byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b + byte(i)
	}
	return out
}

// newKey creates a key as req asks, failing the test on error; the key is
// destroyed when the test ends, if it has not been by then.
func (s *suite) newKey(t testing.TB, req provider.KeyRequest) provider.Key {
	t.Helper()
	k, err := s.b.GenerateKey(ctx, req)
	require.NoError(t, err, "%s key", req.Algorithm)
	require.NotNil(t, k)
	require.Equal(t, req.Algorithm, k.Algorithm())
	t.Cleanup(func() { _ = k.Destroy(ctx) })
	return k
}

// key makes a fresh key of a the way creation says; a must be served.
func (s *suite) key(t testing.TB, a provider.Algorithm) provider.Key {
	t.Helper()
	create, ok := s.creation(t, a)
	require.True(t, ok, "%s is not served", a)
	return s.newKey(t, request(t, a, create))
}

// destroy destroys k now and fails the test if that fails.
func destroy(t testing.TB, k provider.Key) {
	t.Helper()
	require.NoError(t, k.Destroy(ctx))
}

// signedMessages returns the distinct messages of msgs, as many as
// Options.MaxSignedMessages allows.
func (s *suite) signedMessages(msgs [][]byte) [][]byte {
	msgs = uniqueMessages(msgs)
	if m := s.opts.MaxSignedMessages; m > 0 && len(msgs) > m {
		msgs = msgs[:m]
	}
	return msgs
}

// buffers reports whether sign states of a buffer the message.
func (s *suite) buffers(a provider.Algorithm) bool {
	return a.Name == "EdDSA" || slices.Contains(s.opts.SignBuffers, a.Name)
}

// refused checks a refusal: err wraps want, carries the backend's prefix
// and does not repeat input (key material).
func (s *suite) refused(t testing.TB, err, want error, input []byte) {
	t.Helper()
	require.ErrorIs(t, err, want)
	require.Contains(t, err.Error(), s.opts.ErrorPrefix)
	if len(input) >= 8 && slices.ContainsFunc(input, func(b byte) bool { return b != 0 }) {
		require.NotContains(t, err.Error(), string(input), "the message must not repeat the input")
	}
}
