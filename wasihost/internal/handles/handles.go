// Package handles implements the per-instance handle table with type-state
// (docs/semantics.md#handles).
//
// # Promises
//
//   - 0 is never a handle.
//   - A handle value is never reused within a table: once closed or
//     consumed, it answers ErrBadHandle for the life of the table, even
//     after 2^32-1 handles (then Insert answers ErrLimit).
//   - A handle of another type answers ErrBadHandle, exactly like an
//     unknown one: a guest cannot tell a wrong type from a closed handle.
//   - The number of live handles never exceeds the table's limit.
//
// A Table is not safe for concurrent use; the host serialises calls of one
// instance.
package handles

import (
	"errors"
	"math"
)

// Type is the type-state of a handle. The host defines the values; 0 is
// reserved as "no type".
type Type uint8

var (
	// ErrBadHandle: unknown, closed, consumed or wrong-type handle (badf).
	ErrBadHandle = errors.New("bad handle")
	// ErrLimit: the table holds its limit of live handles (mfile).
	ErrLimit = errors.New("handle limit reached")
)

type entry struct {
	typ   Type
	value any
}

// Table maps handle values to typed values.
type Table struct {
	entries map[uint32]entry
	next    uint32
	limit   int
}

// New returns an empty table that holds at most limit live handles.
func New(limit int) *Table {
	return &Table{entries: make(map[uint32]entry), next: 1, limit: limit}
}

// Insert stores v under a new handle of type typ.
func (t *Table) Insert(typ Type, v any) (uint32, error) {
	if len(t.entries) >= t.limit || t.next == 0 {
		return 0, ErrLimit
	}
	h := t.next
	if h == math.MaxUint32 {
		t.next = 0 // exhausted: values are never reused
	} else {
		t.next++
	}
	t.entries[h] = entry{typ: typ, value: v}
	return h, nil
}

// Get returns the value of handle h if it is live and of type typ.
func (t *Table) Get(h uint32, typ Type) (any, error) {
	e, ok := t.entries[h]
	if !ok || e.typ != typ || typ == 0 {
		return nil, ErrBadHandle
	}
	return e.value, nil
}

// Remove closes handle h of type typ and returns its value.
func (t *Table) Remove(h uint32, typ Type) (any, error) {
	v, err := t.Get(h, typ)
	if err != nil {
		return nil, err
	}
	delete(t.entries, h)
	return v, nil
}

// CanInsert reports whether Insert would succeed now. The host checks it
// before doing work whose result needs a new handle, so that a full table
// fails the call before anything has changed.
func (t *Table) CanInsert() bool { return len(t.entries) < t.limit && t.next != 0 }

// Transition consumes handle h of type from and returns a new handle of type
// to for the same value (the `*_begin` and `*_end` functions). It never
// fails for lack of room, since one handle replaces another — except when
// all 2^32-1 values are used up.
func (t *Table) Transition(h uint32, from, to Type) (uint32, any, error) {
	v, err := t.Get(h, from)
	if err != nil {
		return 0, nil, err
	}
	if t.next == 0 {
		return 0, nil, ErrLimit
	}
	delete(t.entries, h)
	nh, err := t.Insert(to, v)
	if err != nil { // unreachable: one entry was just freed
		t.entries[h] = entry{typ: from, value: v}
		return 0, nil, err
	}
	return nh, v, nil
}

// Len returns the number of live handles.
func (t *Table) Len() int { return len(t.entries) }

// Drain removes every handle and returns their values, in no particular
// order. The table stays usable, and old values stay invalid.
func (t *Table) Drain() []any {
	out := make([]any, 0, len(t.entries))
	for h, e := range t.entries {
		out = append(out, e.value)
		delete(t.entries, h)
	}
	return out
}
