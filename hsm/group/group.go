package group

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/provider"
)

// Group is several tokens as one provider.Backend and provider.ManagedKeys.
// It is safe for concurrent use. Create it with [Open] and release it
// with [Group.Close].
type Group struct {
	cfg       Config
	deadline  time.Duration
	grace     time.Duration // see run
	downAfter time.Duration
	// live are the tokens that opened, in the configuration's order;
	// a token that joins later (see join.go) replaces the slice.
	live    atomic.Pointer[[]*member]
	managed map[string]*managedKey
	// memberKeys are the managed keys as each token's backend opens them.
	memberKeys []hsm.ManagedKey
	// challenge is the group's random input to the check of secret keys
	// (see check.go); it never leaves the process.
	challenge [48]byte
	next      atomic.Uint64 // round-robin start among equally loaded tokens
	failovers atomic.Uint64
	// pmu guards pending: the tokens that could not be opened yet.
	pmu     sync.Mutex
	pending []*pendingToken
	// quietUntil (Unix nanoseconds) is when the pause that the group's
	// own reinitialisation of a module causes is over (see reconnecting).
	quietUntil atomic.Int64

	closed  atomic.Bool
	closing chan struct{}
	wg      sync.WaitGroup
}

var (
	_ provider.Backend     = (*Group)(nil)
	_ provider.ManagedKeys = (*Group)(nil)
)

// internalGuest is the name under which the group opens the managed keys
// of its tokens: the group applies the configuration's guest rules
// itself. No embedder names a guest so (a NUL byte cannot be in a file
// name), so no guest can pass for it.
var internalGuest = provider.Guest{Name: "\x00wasihsm-group"}

// checkPrefix names the second, internal entry of each managed key on
// the tokens: every operation allowed, for the equality check.
const checkPrefix = "\x00check:"

// Open opens every token of cfg and checks, on each, that it holds every
// managed key and that it is the same key (see check.go). A token that
// cannot be opened now is not an error unless none can: it is recovered
// in the background and joins once it answers and its keys are proven.
// A managed key that no token holds, or that two tokens hold as different
// keys with none agreeing with the first token that holds it, is still
// served by the tokens that agree; [Group.Status] says which.
func Open(ctx context.Context, cfg Config) (*Group, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	g := &Group{
		cfg:       cfg,
		deadline:  cfg.callTimeout(),
		grace:     cfg.attemptTimeout(),
		downAfter: cfg.downAfter(),
		managed:   make(map[string]*managedKey, len(cfg.ManagedKeys)),
		closing:   make(chan struct{}),
	}
	if _, err := rand.Read(g.challenge[:]); err != nil {
		return nil, fmt.Errorf("group: random check input: %w", err)
	}
	var memberKeys []hsm.ManagedKey
	for _, mk := range cfg.ManagedKeys {
		k, err := newManagedKey(g, mk)
		if err != nil {
			return nil, err
		}
		g.managed[mk.Name] = k
		use := mk
		use.Guests = []hsm.GuestRule{{Module: internalGuest.Name}}
		check := mk
		check.Name, check.Operations = checkPrefix+mk.Name, nil
		check.Guests = use.Guests
		memberKeys = append(memberKeys, use, check)
	}
	g.memberKeys = memberKeys
	var opened []*member
	var errs []error
	now := time.Now()
	for i, tc := range cfg.Tokens {
		m, err := g.open(ctx, i, tc)
		if err != nil {
			errs = append(errs, err)
			if isConfigError(err) {
				break
			}
			g.pending = append(g.pending, &pendingToken{index: i, err: err, since: now, next: now.Add(joinFirst), wait: joinFirst})
			continue
		}
		opened = append(opened, m)
	}
	if len(errs) > 0 && (len(opened) == 0 || isConfigError(errors.Join(errs...))) {
		for _, m := range opened {
			_ = m.b.Close()
		}
		return nil, fmt.Errorf("group: open: %w", errors.Join(errs...))
	}
	// A token that could not be opened is tried again in the background
	// and joins once it opens and its keys are proven (join.go).
	g.live.Store(&opened)
	for _, m := range opened {
		g.check(ctx, m)
	}
	g.wg.Add(1)
	go g.watch()
	return g, nil
}

// isConfigError reports whether err is a mistake of the configuration,
// which no retry mends, rather than a token that does not answer.
func isConfigError(err error) bool {
	return errors.Is(err, provider.ErrInvalidArgument) || errors.Is(err, provider.ErrAccessDenied)
}

// Name implements provider.Backend: "pkcs11", as a single token.
func (g *Group) Name() string { return hsm.BackendName }

// Supports implements provider.Backend: the least support among the
// tokens, so that any token can take over what one started.
func (g *Group) Supports(alg provider.Algorithm, op provider.Operation) provider.Support {
	least := provider.Native
	for _, m := range g.members() {
		least = min(least, m.b.Supports(alg, op))
	}
	return least
}

// Close closes every token of the group.
func (g *Group) Close() error {
	if !g.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(g.closing)
	g.wg.Wait()
	var errs []error
	for _, m := range g.members() {
		m.mu.Lock()
		handles := m.handles
		m.handles = nil
		m.mu.Unlock()
		for _, k := range handles {
			_ = k.Destroy(context.Background())
		}
		if err := m.b.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Status returns a snapshot of every token of the group, in the
// configuration's order; a token not opened yet is Down, with the error
// of its last try and its keys unchecked.
func (g *Group) Status() []TokenStatus {
	members := g.members()
	out := make([]TokenStatus, 0, len(g.cfg.Tokens))
	for _, m := range members {
		out = append(out, m.status())
	}
	g.pmu.Lock()
	for _, p := range g.pending {
		out = append(out, p.status(g.cfg.Tokens[p.index].Token))
	}
	g.pmu.Unlock()
	slices.SortFunc(out, func(a, b TokenStatus) int { return a.Index - b.Index })
	return out
}

// OpenErrors are the last errors of the tokens that could not be opened
// yet: Open could not open them, and they have not joined since (see
// join.go).
func (g *Group) OpenErrors() []error {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	errs := make([]error, 0, len(g.pending))
	for _, p := range g.pending {
		errs = append(errs, p.err)
	}
	return errs
}

// Failovers counts the operations that succeeded on another token than
// the first one tried.
func (g *Group) Failovers() uint64 { return g.failovers.Load() }

// Stats sums the tokens' pools, for the single-token metrics: healthy
// when at least one token is.
func (g *Group) Stats() hsm.Stats {
	var s hsm.Stats
	for _, m := range g.members() {
		t := m.b.Stats()
		s.SessionsOpen += t.SessionsOpen
		s.SessionsInUse += t.SessionsInUse
		s.SessionsWaiting += t.SessionsWaiting
		s.Recoveries += t.Recoveries
		s.Healthy = s.Healthy || m.getState() == Healthy
	}
	return s
}

// watch looks at the tokens' health every checkInterval: a token whose
// backend is recovering leaves service; one that is back is checked again
// (its managed keys found and proven) before it rejoins; a token not
// opened yet is tried again when its backoff is over (join.go).
func (g *Group) watch() {
	defer g.wg.Done()
	t := time.NewTicker(checkInterval)
	defer t.Stop()
	for {
		select {
		case <-g.closing:
			return
		case <-t.C:
		}
		now := time.Now()
		g.tryPending(now)
		for _, m := range g.members() {
			st := m.b.Stats()
			m.mu.Lock()
			state, recs, checking := m.getState(), m.seenRecs, m.checking || now.Before(m.nextCheck)
			m.mu.Unlock()
			switch {
			case !st.Healthy:
				m.fail(nil, now)
				m.mu.Lock()
				if m.getState() == Recovering && now.Sub(m.since) > g.downAfter {
					m.state.Store(uint32(Down))
				}
				m.mu.Unlock()
			case checking:
			case state != Healthy || st.Recoveries != recs:
				// Back (or recovered between two looks): check it again
				// before it serves.
				m.fail(nil, now)
				m.mu.Lock()
				m.checking = true
				m.mu.Unlock()
				g.wg.Add(1)
				go func() {
					defer g.wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), g.deadline)
					defer cancel()
					g.check(ctx, m)
				}()
			}
		}
	}
}

// slowCalls is how many call deadlines creating a key gets (as hsm's).
const slowCalls = 6

// GenerateKey implements provider.Backend: the key is made on one healthy
// token, the policy's choice, and lives there for its life: when that
// token is lost, the key answers provider.ErrKeyLost (notrecoverable),
// and new keys go to the healthy tokens. A token that fails while making
// it is given up for the next.
func (g *Group) GenerateKey(ctx context.Context, req provider.KeyRequest) (provider.Key, error) {
	var key provider.Key
	// Creation gets the slow operations' deadline, as on one token (RSA
	// key generation takes seconds on a busy token).
	err := g.runWithin(ctx, slowCalls*g.deadline, "", func(ctx context.Context, m *member) error {
		var err error
		key, err = m.b.GenerateKey(ctx, req)
		return err
	})
	return key, err
}

// NewHash implements provider.Backend: a hash runs on one healthy token,
// the policy's choice, for its life.
func (g *Group) NewHash(ctx context.Context, alg provider.Algorithm) (provider.Hash, error) {
	var h provider.Hash
	err := g.run(ctx, "", func(ctx context.Context, m *member) error {
		var err error
		h, err = m.b.NewHash(ctx, alg)
		return err
	})
	return h, err
}
