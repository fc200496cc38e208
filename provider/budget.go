package provider

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Budget is the host memory one guest instance may hold at once: the bytes
// its states buffer and the bytes its calls stage, counted before they are
// allocated. Whoever allocates on the guest's behalf charges the Budget
// first and releases the same number of bytes when the memory is dropped.
//
// The host makes one Budget per guest instance and passes it to backends
// in the context of the calls that may stage memory (see [WithBudget]). A
// backend that keeps memory past the call that asked for it — a buffering
// state, or a token call that goes on running after the caller stopped
// waiting for it — keeps its charge until it drops that memory, so that an
// abandoned call still counts against the guest that made it.
//
// A nil *Budget charges nothing and never refuses. Its methods are safe for
// concurrent use.
type Budget struct {
	limit int64
	held  atomic.Int64
}

// NewBudget returns a Budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Charge counts n more bytes against the budget, or, when they would
// exceed its limit, counts nothing and returns an error wrapping
// ErrBudgetExhausted. Charge before allocating.
func (b *Budget) Charge(n int) error {
	if b == nil || n <= 0 {
		return nil
	}
	for {
		held := b.held.Load()
		if int64(n) > b.limit-held {
			return fmt.Errorf("%d bytes more than the %d of %d left: %w", n, b.limit-held, b.limit, ErrBudgetExhausted)
		}
		if b.held.CompareAndSwap(held, held+int64(n)) {
			return nil
		}
	}
}

// Release gives back n bytes that Charge counted.
func (b *Budget) Release(n int) {
	if b == nil || n <= 0 {
		return
	}
	b.held.Add(-int64(n))
}

// Held returns the bytes charged now.
func (b *Budget) Held() int64 {
	if b == nil {
		return 0
	}
	return b.held.Load()
}

// Limit returns the budget's limit in bytes.
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// budgetKey is the context key of WithBudget.
type budgetKey struct{}

// WithBudget returns ctx carrying b, for backends to charge what they
// stage for the call (see [BudgetFrom]).
func WithBudget(ctx context.Context, b *Budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// BudgetFrom returns the Budget that ctx carries, or nil (which charges
// nothing).
func BudgetFrom(ctx context.Context) *Budget {
	b, _ := ctx.Value(budgetKey{}).(*Budget)
	return b
}

// Buffer is data a backend keeps whole for one operation — a message that a
// token digests or signs in one call, or that Ed25519 needs at once — up to
// Max bytes, which the caller checks before Append. Its capacity is charged
// to Budget from before it is allocated until Drop, and every buffer it lets
// go is zeroed first. The zero Buffer with a nil Budget charges nothing.
type Buffer struct {
	// Max is the most bytes the buffer grows to.
	Max int
	// Budget is charged for the buffer's capacity; nil charges nothing.
	Budget *Budget
	buf    []byte
}

// Append appends p. It grows the buffer by hand, so that the old one is
// zeroed rather than left to the garbage collector as append would; the
// error is the budget's (wrapping ErrBudgetExhausted), and then nothing
// changed.
func (c *Buffer) Append(p []byte) error {
	if need := len(c.buf) + len(p); need > cap(c.buf) {
		n := min(max(need, 2*cap(c.buf), 256), c.Max)
		if err := c.Budget.Charge(n); err != nil {
			return err
		}
		b := make([]byte, len(c.buf), n)
		copy(b, c.buf)
		clear(c.buf)
		c.Budget.Release(cap(c.buf))
		c.buf = b
	}
	c.buf = append(c.buf, p...)
	return nil
}

// Bytes returns the data; it is valid until the next Append, Reset or Drop.
func (c *Buffer) Bytes() []byte { return c.buf }

// Reset zeroes the data and empties the buffer, keeping its capacity (and
// its charge) for what comes next.
func (c *Buffer) Reset() {
	clear(c.buf)
	c.buf = c.buf[:0]
}

// Drop zeroes the buffer and gives its charge back.
func (c *Buffer) Drop() {
	clear(c.buf)
	c.Budget.Release(cap(c.buf))
	c.buf = nil
}
