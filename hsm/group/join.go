package group

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/provider"
)

// A token that cannot be opened when the group opens (its server or
// device is not there) is not left out for the life of the process: the
// group tries to open it again, with backoff, and once it opens, its
// managed keys are found and proven as at open, and it joins: down,
// recovering, healthy (docs/semantics.md#token-groups).
//
// A client module (p11-kit-proxy.so, p11-kit-client.so) connects to its
// servers only in C_Initialize, so a token behind one appears only after
// the module is initialised again. When the module serves other tokens of
// the group too, that costs them their sessions: their calls in flight
// are waited for (hsm.Reconnect), new calls wait for the sessions to come
// back within their call deadline (run), and each token's keys are
// checked again before it serves. The backoff bounds how often that
// happens while the token stays away: at most every joinMax.
const (
	joinFirst = 100 * time.Millisecond
	joinMax   = 2 * time.Second
)

// pendingToken is a token of the configuration that could not be opened
// yet. Guarded by Group.pmu.
type pendingToken struct {
	index int
	err   error     // the last try's
	since time.Time // when the group first failed to open it
	next  time.Time // when to try again
	wait  time.Duration
	busy  bool // a try runs
}

// status is the pending token's snapshot: down, with its last error.
func (p *pendingToken) status(sel hsm.TokenSelector) TokenStatus {
	return TokenStatus{Index: p.index, Selector: sel, State: Down, LastError: p.err, Keys: map[string]KeyState{}}
}

// members returns the tokens that opened, in the configuration's order.
func (g *Group) members() []*member {
	if p := g.live.Load(); p != nil {
		return *p
	}
	return nil
}

// open opens token i of the configuration as a member, recovering: its
// keys are not checked yet.
func (g *Group) open(ctx context.Context, i int, tc hsm.Config) (*member, error) {
	tc.ManagedKeys = g.memberKeys
	tc.CallTimeout = g.grace
	b, err := hsm.Open(ctx, tc)
	if err != nil {
		return nil, fmt.Errorf("token %d (%s): %w", i, tc.Token, err)
	}
	m := &member{index: i, sel: tc.Token, b: b, keys: map[string]KeyState{}, handles: map[string]provider.Key{}}
	m.state.Store(uint32(Recovering))
	m.since = time.Now()
	return m, nil
}

// sharesModule reports whether an opened member loads module path.
func (g *Group) sharesModule(path string) bool {
	for _, m := range g.members() {
		if g.cfg.Tokens[m.index].Module == path {
			return true
		}
	}
	return false
}

// tryPending starts a try for each pending token that is due; watch calls
// it.
func (g *Group) tryPending(now time.Time) {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	for _, p := range g.pending {
		if p.busy || now.Before(p.next) {
			continue
		}
		p.busy = true
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.join(p)
		}()
	}
}

// join tries to open pending token p; when it opens, it becomes a member
// and is checked, and leaves the pending list.
func (g *Group) join(p *pendingToken) {
	ctx, cancel := context.WithTimeout(context.Background(), slowCalls*g.deadline)
	defer cancel()
	go func() {
		// Close does not wait for a try to time out.
		select {
		case <-g.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	tc := g.cfg.Tokens[p.index]
	m, err := g.open(ctx, p.index, tc)
	if err != nil && !isConfigError(err) && g.sharesModule(tc.Module) {
		// The module is initialised for the group's other tokens and
		// lists no token it could not reach then: initialise it again.
		// (A token that answers with a configuration error, a wrong PIN,
		// is listed already: that would cost the others for nothing.)
		g.quietUntil.Store(time.Now().Add(g.deadline).UnixNano())
		if rerr := hsm.Reconnect(tc.Module); rerr != nil {
			err = fmt.Errorf("token %d (%s): %w", p.index, tc.Token, rerr)
		} else {
			m, err = g.open(ctx, p.index, tc)
		}
	}
	if err == nil && g.closed.Load() {
		_ = m.b.Close()
		err = fmt.Errorf("group: closed: %w", provider.ErrDevice)
	}
	g.pmu.Lock()
	defer g.pmu.Unlock()
	p.busy = false
	if err != nil {
		p.err = err
		p.next = time.Now().Add(p.wait)
		p.wait = min(2*p.wait, joinMax)
		return
	}
	// The member starts recovering; watch checks its keys and puts it in
	// service, as for a token that came back.
	m.noteError(p.err)
	members := slices.Clone(g.members())
	members = append(members, m)
	slices.SortFunc(members, func(a, b *member) int { return a.index - b.index })
	g.live.Store(&members)
	g.pending = slices.DeleteFunc(g.pending, func(q *pendingToken) bool { return q == p })
}

// reconnecting reports whether now is within the pause that the group's
// own reinitialisation of a module causes: the tokens it serves recover
// their sessions and are checked again. It lasts one call deadline from
// the reinitialisation's start, so a call that finds no token then waits
// for them instead of failing after the grace of one attempt, and still
// ends at its deadline.
func (g *Group) reconnecting(now time.Time) bool {
	return now.UnixNano() < g.quietUntil.Load()
}
