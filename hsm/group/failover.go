package group

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wasihsm/wasihsm/provider"
)

// retryPause is how long an operation that found no token to try, or
// every token failing, waits before it looks again (a token may be in a
// short recovery: its module initialised again by another token's).
const retryPause = 10 * time.Millisecond

// errGroupDeadline ends an operation's context at the group's call
// deadline.
var errGroupDeadline = errors.New("group: no token answered within the call deadline")

// failsOver reports whether err is the token's failure rather than the
// operation's: the operation is then tried on another token. Every
// operation of the API gives the same result when repeated with the same
// inputs, so a retry is safe even when the failed attempt did its work.
func failsOver(err error) bool {
	return errors.Is(err, provider.ErrDevice) || errors.Is(err, provider.ErrTimeout) ||
		errors.Is(err, provider.ErrNoResources) || errors.Is(err, provider.ErrKeyLost) ||
		errors.Is(err, provider.ErrNotFound)
}

// candidates appends to out the members that may serve an operation on
// managed key name ("" for none), in the order the policy tries them.
func (g *Group) candidates(name string, out []*member) []*member {
	for _, m := range g.members() {
		if m.serves(name) {
			out = append(out, m)
		}
	}
	if g.cfg.Policy == Balance && len(out) > 1 {
		// Least loaded first; among equals, round robin.
		start := int(g.next.Add(1) % uint64(len(out)))
		slices.Reverse(out[:start])
		slices.Reverse(out[start:])
		slices.Reverse(out)
		slices.SortStableFunc(out, func(a, b *member) int {
			return int(a.inflight.Load() - b.inflight.Load())
		})
	}
	return out
}

// allDown reports whether no member may come back soon: every one is
// down, or serves the key name not at all.
func (g *Group) allDown(name string) bool {
	for _, m := range g.members() {
		if m.getState() == Down {
			continue
		}
		if name != "" && m.getState() == Healthy {
			m.mu.Lock()
			present := m.keys[name] == KeyPresent
			m.mu.Unlock()
			if !present {
				continue
			}
		}
		return false
	}
	return true
}

// pausing reports whether a member that may serve managed key name ("" for
// none) is pausing (member.pausing).
func (g *Group) pausing(name string) bool {
	for _, m := range g.members() {
		if m.pausing(name) {
			return true
		}
	}
	return false
}

// absent reports whether every token was checked and none serves managed
// key name: it is missing or different everywhere.
func (g *Group) absent(name string) bool {
	for _, m := range g.members() {
		if m.getState() != Healthy {
			return false
		}
		m.mu.Lock()
		present := m.keys[name] == KeyPresent
		m.mu.Unlock()
		if present {
			return false
		}
	}
	return true
}

// run runs f on the group's tokens, the policy's choice first, within the
// call deadline: when a token fails (failsOver), f runs on the next; when
// none is left, run waits for one to come back, until the deadline. It
// fails at once, with provider.ErrDevice, when every token is down, and
// after the grace of one attempt timeout when none is healthy nor pausing
// (member.pausing).
// f's attempt on one token ends at the token's own call deadline (the
// group's attempt timeout). name is the managed key f uses, or "".
func (g *Group) run(ctx context.Context, name string, f func(ctx context.Context, m *member) error) error {
	return g.runWithin(ctx, g.deadline, name, f)
}

// runWithin is run with the call deadline d. The deadline costs nothing
// while there is time for a whole attempt: each attempt is bounded by the
// token's own call deadline (the attempt timeout), and only one that
// starts closer to the deadline than two attempts gets a context that
// ends at it.
func (g *Group) runWithin(ctx context.Context, d time.Duration, name string, f func(ctx context.Context, m *member) error) error {
	if g.closed.Load() {
		return fmt.Errorf("group: closed: %w", provider.ErrDevice)
	}
	deadline := time.Now().Add(d)
	var last error
	failed := false
	var idleSince time.Time // when the call first found no token to try
	var buf [8]*member
	for {
		cands := g.candidates(name, buf[:0])
		if len(cands) == 0 {
			now := time.Now()
			if idleSince.IsZero() {
				idleSince = now
			}
			// Every token down: at once. Every token recovering: after
			// the grace of an attempt, unless one is only pausing (its
			// module was initialised again for another token's sake, by
			// that token's recovery or by the group for a token that
			// joins, join.go) or is back and being checked: calls wait
			// for those, within their deadline. A token that failed
			// itself is not waited for past the grace; a guest should
			// not wait a whole call deadline to learn that no token
			// serves.
			if g.allDown(name) || now.Sub(idleSince) >= g.grace && !g.reconnecting(now) && !g.pausing(name) {
				if last == nil {
					last = g.lastError()
				}
				return fmt.Errorf("group: no token can serve it now: %w: %w", provider.ErrDevice, last)
			}
		} else {
			idleSince = time.Time{}
		}
		for _, m := range cands {
			remaining := time.Until(deadline)
			if remaining <= 0 || ctx.Err() != nil {
				break
			}
			actx, cancel := ctx, context.CancelFunc(nil)
			if remaining < 2*g.grace {
				actx, cancel = context.WithTimeoutCause(ctx, remaining, errGroupDeadline)
			}
			m.inflight.Add(1)
			start := time.Now()
			err := f(actx, m)
			m.latencyNS.Add(int64(time.Since(start)))
			m.ops.Add(1)
			m.inflight.Add(-1)
			if cancel != nil {
				cancel()
			}
			if err == nil {
				if failed {
					g.failovers.Add(1)
				}
				return nil
			}
			if ctx.Err() != nil {
				return err // the caller gave up
			}
			if !failsOver(err) {
				return err
			}
			m.failures.Add(1)
			m.noteError(err)
			last, failed = err, true
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("group: %w", err)
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			if last == nil {
				last = errGroupDeadline
			}
			return fmt.Errorf("group: no token answered within %v: %w: %w", d, provider.ErrTimeout, last)
		}
		pause := time.NewTimer(min(retryPause, remaining))
		select {
		case <-ctx.Done():
			pause.Stop()
			return fmt.Errorf("group: %w", ctx.Err())
		case <-pause.C:
		}
	}
}

// lastError is the last error of any member, for the message of a group
// that has none healthy.
func (g *Group) lastError() error {
	for _, m := range g.members() {
		m.mu.Lock()
		err := m.lastErr
		m.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return errors.New("group: no token in service")
}

// unsupported reports whether every token that absent found without
// managed key name cannot run its algorithm at all.
func (g *Group) unsupported(name string) bool {
	for _, m := range g.members() {
		m.mu.Lock()
		st := m.keys[name]
		m.mu.Unlock()
		if st != KeyUnsupported {
			return false
		}
	}
	return len(g.members()) > 0
}
