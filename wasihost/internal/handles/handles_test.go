package handles

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	typeA Type = iota + 1
	typeB
)

func TestHandlesStartAtOneAndAreNeverReused(t *testing.T) {
	tab := New(10)
	h1, err := tab.Insert(typeA, "one")
	require.NoError(t, err)
	assert.Equal(t, uint32(1), h1)
	_, err = tab.Remove(h1, typeA)
	require.NoError(t, err)
	h2, err := tab.Insert(typeA, "two")
	require.NoError(t, err)
	assert.NotEqual(t, h1, h2)
	_, err = tab.Get(h1, typeA)
	assert.ErrorIs(t, err, ErrBadHandle)
	_, err = tab.Get(0, typeA)
	assert.ErrorIs(t, err, ErrBadHandle)
}

func TestGet(t *testing.T) {
	tab := New(10)
	h, err := tab.Insert(typeA, 42)
	require.NoError(t, err)
	tests := []struct {
		name    string
		handle  uint32
		typ     Type
		wantErr error
	}{
		{"live", h, typeA, nil},
		{"wrong type", h, typeB, ErrBadHandle},
		{"zero type", h, 0, ErrBadHandle},
		{"zero handle", 0, typeA, ErrBadHandle},
		{"unknown", h + 1, typeA, ErrBadHandle},
		{"max", math.MaxUint32, typeA, ErrBadHandle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := tab.Get(tt.handle, tt.typ)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, v)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 42, v)
		})
	}
}

func TestLimit(t *testing.T) {
	tab := New(2)
	_, err := tab.Insert(typeA, 1)
	require.NoError(t, err)
	h, err := tab.Insert(typeA, 2)
	require.NoError(t, err)
	assert.False(t, tab.CanInsert())
	_, err = tab.Insert(typeA, 3)
	assert.ErrorIs(t, err, ErrLimit)
	assert.Equal(t, 2, tab.Len())

	// A transition replaces a handle, so it works at the limit.
	nh, v, err := tab.Transition(h, typeA, typeB)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	_, err = tab.Get(h, typeA)
	assert.ErrorIs(t, err, ErrBadHandle, "a consumed handle is bad from then on")
	_, err = tab.Get(nh, typeB)
	assert.NoError(t, err)
}

func TestTransitionWrongType(t *testing.T) {
	tab := New(2)
	h, _ := tab.Insert(typeA, 1)
	_, _, err := tab.Transition(h, typeB, typeA)
	assert.ErrorIs(t, err, ErrBadHandle)
	_, err = tab.Get(h, typeA)
	assert.NoError(t, err, "a failed transition changes nothing")
}

func TestExhaustion(t *testing.T) {
	tab := New(10)
	tab.next = math.MaxUint32
	h, err := tab.Insert(typeA, 1)
	require.NoError(t, err)
	assert.Equal(t, uint32(math.MaxUint32), h)
	_, err = tab.Insert(typeA, 2)
	assert.ErrorIs(t, err, ErrLimit, "values are never reused, even after wrapping")
	_, _, err = tab.Transition(h, typeA, typeB)
	assert.ErrorIs(t, err, ErrLimit)
	_, err = tab.Get(h, typeA)
	assert.NoError(t, err)
}

func TestDrain(t *testing.T) {
	tab := New(10)
	h, _ := tab.Insert(typeA, 1)
	_, _ = tab.Insert(typeB, 2)
	assert.ElementsMatch(t, []any{1, 2}, tab.Drain())
	assert.Equal(t, 0, tab.Len())
	_, err := tab.Get(h, typeA)
	assert.ErrorIs(t, err, ErrBadHandle)
	h2, _ := tab.Insert(typeA, 3)
	assert.Greater(t, h2, h)
}
