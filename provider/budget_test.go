package provider_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
)

func TestBudgetCharge(t *testing.T) {
	tests := []struct {
		name    string
		charges []int // in order; negative: release that many
		wantErr []bool
		held    int64
	}{
		{"within", []int{40, 60}, []bool{false, false}, 100},
		{"past the limit counts nothing", []int{60, 41}, []bool{false, true}, 60},
		{"released bytes fit again", []int{100, -30, 30}, []bool{false, false, false}, 100},
		{"zero charges nothing", []int{0}, []bool{false}, 0},
		{"one charge past the limit", []int{101}, []bool{true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := provider.NewBudget(100)
			for i, n := range tt.charges {
				if n < 0 {
					b.Release(-n)
					continue
				}
				err := b.Charge(n)
				if tt.wantErr[i] {
					assert.ErrorIs(t, err, provider.ErrBudgetExhausted)
				} else {
					assert.NoError(t, err)
				}
			}
			assert.Equal(t, tt.held, b.Held())
			assert.Equal(t, int64(100), b.Limit())
		})
	}
}

func TestNilBudgetChargesNothing(t *testing.T) {
	var b *provider.Budget
	require.NoError(t, b.Charge(1<<40))
	b.Release(1 << 40)
	assert.Zero(t, b.Held())
	assert.Nil(t, provider.BudgetFrom(context.Background()))
}

func TestBudgetFromContext(t *testing.T) {
	b := provider.NewBudget(10)
	assert.Same(t, b, provider.BudgetFrom(provider.WithBudget(context.Background(), b)))
}

// TestBudgetConcurrent: concurrent charges never take the budget past its
// limit, and every release comes back.
func TestBudgetConcurrent(t *testing.T) {
	const limit, n, workers = 1000, 7, 8
	b := provider.NewBudget(limit)
	var wg sync.WaitGroup
	var mu sync.Mutex
	most := int64(0)
	for range workers {
		wg.Go(func() {
			for range 2000 {
				err := b.Charge(n)
				if errors.Is(err, provider.ErrBudgetExhausted) {
					continue
				}
				assert.NoError(t, err)
				mu.Lock()
				most = max(most, b.Held())
				mu.Unlock()
				b.Release(n)
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, most, int64(limit))
	assert.Zero(t, b.Held())
}

func TestBuffer(t *testing.T) {
	budget := provider.NewBudget(1024)
	b := provider.Buffer{Max: 1000, Budget: budget}
	require.NoError(t, b.Append([]byte("secret")))
	assert.Equal(t, "secret", string(b.Bytes()))
	assert.EqualValues(t, 256, budget.Held(), "the first growth charges the buffer's capacity")
	first := b.Bytes()[:cap(b.Bytes())]

	require.NoError(t, b.Append(make([]byte, 600)))
	assert.Equal(t, make([]byte, len(first)), first, "the outgrown buffer is zeroed")
	assert.EqualValues(t, cap(b.Bytes()), budget.Held(), "only the live capacity stays charged")

	capacity := cap(b.Bytes())
	b.Reset()
	assert.Empty(t, b.Bytes())
	assert.Equal(t, capacity, cap(b.Bytes()), "Reset keeps the capacity")
	assert.EqualValues(t, capacity, budget.Held(), "and its charge")

	// A growth the budget cannot pay for changes nothing.
	other := provider.Buffer{Max: 1000, Budget: budget}
	require.NoError(t, b.Append([]byte("kept")))
	held := budget.Held()
	err := other.Append(make([]byte, 900))
	require.ErrorIs(t, err, provider.ErrBudgetExhausted)
	assert.Empty(t, other.Bytes())
	assert.Equal(t, held, budget.Held())

	whole := b.Bytes()[:cap(b.Bytes())]
	b.Drop()
	assert.Equal(t, make([]byte, len(whole)), whole, "Drop zeroes the buffer")
	assert.Zero(t, budget.Held(), "and gives its charge back")
}
