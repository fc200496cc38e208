package provider

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tableBackend serves exactly the (algorithm, operation) pairs it lists; it
// records what it was asked to create. It is a test double for routing
// decisions only: no cryptography happens in these tests.
type tableBackend struct {
	name    string
	serves  map[string][]Operation
	created []string
}

func (b *tableBackend) Name() string { return b.name }

func (b *tableBackend) Supports(alg Algorithm, op Operation) Support {
	for _, o := range b.serves[alg.Name] {
		if o == op {
			return Native
		}
	}
	return Unsupported
}

func (b *tableBackend) NewHash(_ context.Context, alg Algorithm) (Hash, error) {
	b.created = append(b.created, alg.Name)
	return nil, nil
}

func (b *tableBackend) GenerateKey(_ context.Context, req KeyRequest) (Key, error) {
	b.created = append(b.created, req.Algorithm.Name)
	return nil, nil
}

// uncomparable makes the backend's dynamic type uncomparable, as a backend
// holding a slice or map by value may be; the router must never compare.
type uncomparableBackend struct {
	*tableBackend
	_ []int
}

func TestParsePolicy(t *testing.T) {
	for _, p := range []Policy{FallbackAllow, FallbackPublicOnly, FallbackDeny} {
		got, err := ParsePolicy(p.String())
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	_, err := ParsePolicy("maybe")
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.Contains(t, err.Error(), "allow, public-only or deny")
}

func TestNewRouterValidates(t *testing.T) {
	_, err := NewRouter(RouterConfig{})
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = NewRouter(RouterConfig{Primary: &tableBackend{}, Policy: Policy(7)})
	assert.ErrorIs(t, err, ErrInvalidArgument)
}

func TestRouting(t *testing.T) {
	token := map[string][]Operation{
		"SHA-256": {OpHash},
		"ES256":   {OpGenerate, OpImport, OpSign, OpExportPublic},
		// The token can make AES keys but not use them for GCM (as through
		// p11-kit remoting): such a key must not be placed there.
		"A128GCM": {OpGenerate, OpImport},
		// HS256 only by import.
		"HS256": {OpImport, OpSign},
	}
	software := map[string][]Operation{}
	for _, a := range Algorithms() {
		if a.Kind.Keyed() {
			software[a.Name] = append([]Operation{OpGenerate, OpImport}, KeyOperations(a)...)
		} else {
			software[a.Name] = []Operation{OpHash}
		}
	}
	tests := []struct {
		alg     string
		imports bool
		policy  Policy
		want    string // the backend the key or hash lands on; "" for ErrNotSupported
	}{
		{"SHA-256", false, FallbackDeny, "token"},
		{"SHA3-256", false, FallbackAllow, "software"},
		{"SHA3-256", false, FallbackPublicOnly, "software"},
		{"SHA3-256", false, FallbackDeny, ""},
		{"ES256", false, FallbackDeny, "token"},
		{"ES384", false, FallbackAllow, "software"},
		{"ES384", false, FallbackPublicOnly, ""},
		{"ES384", false, FallbackDeny, ""},
		{"A128GCM", false, FallbackAllow, "software"},
		{"A128GCM", false, FallbackDeny, ""},
		{"HS256", true, FallbackDeny, "token"},
		{"HS256", false, FallbackAllow, "software"},
		{"HS256", false, FallbackDeny, ""},
	}
	for _, tt := range tests {
		t.Run(tt.alg+"/"+tt.policy.String(), func(t *testing.T) {
			tok := &tableBackend{name: "token", serves: token}
			sw := &tableBackend{name: "software", serves: software}
			r, err := NewRouter(RouterConfig{Primary: uncomparableBackend{tableBackend: tok}, Fallback: sw, Policy: tt.policy})
			require.NoError(t, err)
			alg := MustLookup(tt.alg)
			ctx := context.Background()
			if alg.Kind.Keyed() {
				req := KeyRequest{Algorithm: alg}
				if tt.imports {
					req.Input = []byte("material")
				}
				_, err = r.GenerateKey(ctx, req)
			} else {
				_, err = r.NewHash(ctx, alg)
			}
			if tt.want == "" {
				assert.ErrorIs(t, err, ErrNotSupported)
				assert.Empty(t, tok.created)
				assert.Empty(t, sw.created)
				return
			}
			require.NoError(t, err)
			byName := map[string]*tableBackend{"token": tok, "software": sw}
			assert.Equal(t, []string{tt.alg}, byName[tt.want].created, "placed on %s", tt.want)
		})
	}
}

func TestRouterRejectsWrongKinds(t *testing.T) {
	r, err := NewRouter(RouterConfig{Primary: &tableBackend{}})
	require.NoError(t, err)
	_, err = r.NewHash(context.Background(), MustLookup("ES256"))
	assert.ErrorIs(t, err, ErrNotSupported)
	_, err = r.GenerateKey(context.Background(), KeyRequest{Algorithm: MustLookup("SHA-256")})
	assert.ErrorIs(t, err, ErrNotSupported)
}

func TestFallbackLoggedOncePerAlgorithm(t *testing.T) {
	var logs bytes.Buffer
	sw := &tableBackend{name: "software", serves: map[string][]Operation{"SHA-1": {OpHash}, "SHA-224": {OpHash}}}
	r, err := NewRouter(RouterConfig{Primary: &tableBackend{name: "token"}, Fallback: sw,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		_, err = r.NewHash(context.Background(), MustLookup("SHA-1"))
		require.NoError(t, err)
	}
	_, err = r.NewHash(context.Background(), MustLookup("SHA-224"))
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(logs.String(), "algorithm=SHA-1 "), logs.String())
	assert.Equal(t, 1, strings.Count(logs.String(), "algorithm=SHA-224 "), logs.String())
}

func TestManagedKeysDefaultNotFound(t *testing.T) {
	r, err := NewRouter(RouterConfig{Primary: &tableBackend{}})
	require.NoError(t, err)
	_, err = r.OpenManagedKey(context.Background(), "k", Guest{Name: "g"})
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestRouteReportsSupport(t *testing.T) {
	r, err := NewRouter(RouterConfig{Primary: &tableBackend{name: "token", serves: map[string][]Operation{"SHA-256": {OpHash}}}})
	require.NoError(t, err)
	b, s, err := r.Route(MustLookup("SHA-256"), OpHash)
	require.NoError(t, err)
	assert.Equal(t, "token", b.Name())
	assert.Equal(t, Native, s)
	_, _, err = r.Route(MustLookup("SHA-1"), OpHash)
	assert.True(t, errors.Is(err, ErrNotSupported))
	assert.Equal(t, "token", Native.String())
	assert.Equal(t, "unavailable", Unsupported.String())
}
