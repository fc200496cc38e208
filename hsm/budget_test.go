//go:build cgo

package hsm_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
)

// TestBudgetCharges: what the token backend holds or stages for a guest is
// charged to the budget in the context before it is allocated, refused
// with ErrBudgetExhausted past it, and given back when the state closes or
// the call's body ends.
func TestBudgetCharges(t *testing.T) {
	b := open(t, direct(t))
	const limit = 1 << 16
	tests := []struct {
		name string
		run  func(t *testing.T, budget *provider.Budget)
	}{
		{"hash buffer", func(t *testing.T, budget *provider.Budget) {
			h, err := b.NewHash(provider.WithBudget(ctx, budget), provider.MustLookup("SHA-256"))
			require.NoError(t, err)
			require.NoError(t, h.Update(make([]byte, limit/4)))
			assert.Equal(t, int64(limit/4), budget.Held(), "the buffer's storage")
			assert.ErrorIs(t, h.Update(make([]byte, limit)), provider.ErrBudgetExhausted, "growing past the budget")
			assert.Equal(t, int64(limit/4), budget.Held(), "a refused update charges nothing")
			// The token reads the buffer until the body ends, which may
			// outlive the state: the digest charges it once more.
			require.NoError(t, h.Digest(make([]byte, 32)))
			assert.Equal(t, int64(limit/4), budget.Held(), "the digest's staging is given back")
			require.NoError(t, h.Update(make([]byte, limit/2)))
			assert.ErrorIs(t, h.Digest(make([]byte, 32)), provider.ErrBudgetExhausted, "a buffer of 3/4 of the budget cannot be staged again")
			require.NoError(t, h.Close())
		}},
		{"HMAC buffer and sign", func(t *testing.T, budget *provider.Budget) {
			k := generate(t, b, provider.KeyRequest{Algorithm: provider.MustLookup("HS256")})
			defer destroy(t, k)
			st, err := k.(provider.Signer).NewSignState(provider.WithBudget(ctx, budget), limit)
			require.NoError(t, err)
			require.NoError(t, st.Update(ctx, make([]byte, limit/4)))
			assert.Equal(t, int64(limit/4), budget.Held())
			_, err = st.Sign(ctx, nil)
			require.NoError(t, err, "the message and the HMAC fit beside the buffer")
			require.NoError(t, st.Update(ctx, make([]byte, limit/4)))
			_, err = st.Sign(ctx, nil)
			assert.ErrorIs(t, err, provider.ErrBudgetExhausted, "staging the message again would exceed the budget")
			require.NoError(t, st.Close())
		}},
		{"AES-GCM staging", func(t *testing.T, budget *provider.Budget) {
			k := generate(t, b, provider.KeyRequest{Algorithm: provider.MustLookup("A256GCM")})
			defer destroy(t, k)
			aead := k.(provider.AEADKey)
			nonce := make([]byte, 12)
			bctx := provider.WithBudget(ctx, budget)
			_, err := aead.Seal(bctx, nil, nonce, make([]byte, limit/4), nil)
			require.NoError(t, err)
			_, err = aead.Seal(bctx, nil, nonce, make([]byte, limit/2), nil)
			assert.ErrorIs(t, err, provider.ErrBudgetExhausted, "input and answer twice: past the budget")
		}},
		{"HKDF-Expand staging", func(t *testing.T, budget *provider.Budget) {
			k := generate(t, b, provider.KeyRequest{Algorithm: provider.MustLookup("HKDF"),
				Input: make([]byte, 32), Hash: provider.MustLookup("SHA-256")})
			defer destroy(t, k)
			hk := k.(provider.HKDFKey)
			bctx := provider.WithBudget(ctx, budget)
			require.NoError(t, hk.Expand(bctx, make([]byte, limit/4), make([]byte, 32)))
			assert.ErrorIs(t, hk.Expand(bctx, make([]byte, limit/2), make([]byte, 32)), provider.ErrBudgetExhausted)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			budget := provider.NewBudget(limit)
			tt.run(t, budget)
			assert.Zero(t, budget.Held(), "everything was given back")
		})
	}
}
