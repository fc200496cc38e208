//go:build cgo

package hsm

import (
	"context"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
)

// TestCheckKeptOncePerKind: the backend reads a created key's attributes
// back for the first key of each algorithm and origin, not for the ones
// after it, and again for the first of each kind once the persistent
// session has been reopened (as recovering the token does).
func TestCheckKeptOncePerKind(t *testing.T) {
	b, _ := openInternal(t, nil)
	ctx := context.Background()
	create := func(req provider.KeyRequest) {
		t.Helper()
		k, err := b.GenerateKey(ctx, req)
		require.NoError(t, err)
		require.NoError(t, k.Destroy(ctx))
	}
	aes := provider.KeyRequest{Algorithm: provider.MustLookup("A256GCM")}
	imported := provider.KeyRequest{Algorithm: provider.MustLookup("A256GCM"), Input: make([]byte, 32)}
	es256 := provider.KeyRequest{Algorithm: provider.MustLookup("ES256")}
	hs := provider.MustLookup("HS256")
	// The probes make the first keys of each kind (generated and
	// imported), through the same path as a guest's: they are read back.
	for _, a := range []provider.Algorithm{aes.Algorithm, es256.Algorithm, hs} {
		require.NotEqual(t, provider.Unsupported, b.Supports(a, provider.OpImport))
	}
	assert.Equal(t, int64(6), b.keptChecks.Load(), "the probes' keys: three algorithms, generated and imported")

	steps := []struct {
		name string
		req  provider.KeyRequest
		want int64 // read-backs so far
	}{
		{"first guest AES key", aes, 6},
		{"first imported AES key", imported, 6},
		{"first ES256 key", es256, 6},
	}
	for _, s := range steps {
		create(s.req)
		assert.Equal(t, s.want, b.keptChecks.Load(), s.name)
	}

	require.NoError(t, b.reopen())
	create(aes)
	assert.Equal(t, int64(7), b.keptChecks.Load(), "a new persistent session checks again")
	create(aes)
	assert.Equal(t, int64(7), b.keptChecks.Load(), "and then trusts the kind again")

	// A key the token did not keep sensitive fails the check, and the
	// failure is not remembered: the next key of the kind is read back.
	leak := func() {
		t.Helper()
		b.mainLock <- struct{}{}
		leaky, err := b.p.CreateObject(b.main, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, make([]byte, 32)),
		})
		require.NoError(t, err)
		b.kept[keptCheck{hs.Name, false}] = 0 // as if not checked yet in this session
		err = b.checkKept(b.main, hs, leaky, false)
		require.NoError(t, b.p.DestroyObject(b.main, leaky))
		<-b.mainLock
		require.ErrorIs(t, err, provider.ErrDevice)
		assert.Contains(t, err.Error(), "CKA_SENSITIVE is false")
	}
	leak()
	assert.Equal(t, int64(8), b.keptChecks.Load())
	create(provider.KeyRequest{Algorithm: hs, Input: make([]byte, 32)})
	assert.Equal(t, int64(9), b.keptChecks.Load(), "the failed kind is checked again")
	create(provider.KeyRequest{Algorithm: hs, Input: make([]byte, 32)})
	assert.Equal(t, int64(9), b.keptChecks.Load(), "and then trusted")
}
