//go:build cgo

package hsm

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
)

// TestLeaseEnd: a lease's end runs undo only for a body that succeeded
// after its caller gave up, and runs it while the call is still in the
// module and holds mainLock; then it gives back the staged memory, leaves
// the module and lets mainLock go.
func TestLeaseEnd(t *testing.T) {
	b, _ := openInternal(t, nil)
	for _, c := range []struct {
		name      string
		err       error
		abandoned bool
		undo      bool
	}{
		{"finished", nil, false, false},
		{"failed", errors.New("failed"), false, false},
		{"abandoned, failed", errors.New("failed"), true, false},
		{"abandoned, succeeded", nil, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			budget := provider.NewBudget(100)
			st, err := stage(budget, 10, "test")
			require.NoError(t, err)
			undone := false
			b.mainLock <- struct{}{}
			l, ok := b.begin(b.mainLock, st, func() {
				undone = true
				assert.True(t, b.mod.busy(), "undo runs in the module")
				assert.Len(t, b.mainLock, 1, "undo runs holding mainLock")
			})
			require.True(t, ok)
			st.done() // the caller's hold: the lease's keeps the charge
			assert.EqualValues(t, 10, budget.Held())
			l.end(c.err, c.abandoned)
			assert.Equal(t, c.undo, undone)
			assert.Zero(t, budget.Held(), "the staged memory is given back")
			assert.False(t, b.mod.busy(), "the call left the module")
			assert.Empty(t, b.mainLock, "mainLock is free")
		})
	}
}
