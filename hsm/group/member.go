package group

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/provider"
)

// State is a token's health in the group.
type State uint8

// The states (docs/semantics.md#token-groups).
const (
	// Recovering: the token failed, or came back and its managed keys
	// are being found and checked again; it serves nothing meanwhile.
	Recovering State = iota
	// Healthy: the token serves operations, on the managed keys it was
	// proven to hold.
	Healthy
	// Down: the token has been recovering for longer than DownAfter.
	Down
)

// String returns "healthy", "recovering" or "down".
func (s State) String() string {
	switch s {
	case Healthy:
		return "healthy"
	case Recovering:
		return "recovering"
	case Down:
		return "down"
	}
	return "state(?)"
}

// KeyState says whether a token serves a managed key.
type KeyState uint8

// The key states.
const (
	// KeyUnchecked: the token has not been checked yet (it was down at
	// open), or its check failed for a token error.
	KeyUnchecked KeyState = iota
	// KeyPresent: the key is on the token and proven equal to the
	// group's.
	KeyPresent
	// KeyMissing: no object of the key's label and id is on the token.
	KeyMissing
	// KeyDifferent: the token holds another key under the key's label
	// and id, or one that does not fit its algorithm.
	KeyDifferent
	// KeyUnsupported: the token, as this process reaches it, cannot run
	// the key's algorithm (its probe refused it), so the key cannot be
	// proven nor served there: p11-kit's remoting, for one, carries no
	// AES-GCM (docs/operations.md#token-groups).
	KeyUnsupported
)

// String returns "present", "missing", "different", "unsupported" or
// "unchecked".
func (s KeyState) String() string {
	switch s {
	case KeyPresent:
		return "present"
	case KeyMissing:
		return "missing"
	case KeyDifferent:
		return "different"
	case KeyUnsupported:
		return "unsupported"
	}
	return "unchecked"
}

// member is one token of the group.
type member struct {
	index int
	sel   hsm.TokenSelector
	b     *hsm.Backend

	inflight  atomic.Int64
	ops       atomic.Uint64
	failures  atomic.Uint64 // attempts that failed over to another token
	latencyNS atomic.Int64  // total time of the attempts
	state     atomic.Uint32 // a State

	mu       sync.Mutex // guards what follows
	lastErr  error
	since    time.Time // when the token left Healthy
	seenRecs uint64    // the backend's recoveries when last checked
	keys     map[string]KeyState
	checking bool
	// checkFailed is 1 + the backend's recoveries when a check of the
	// member last failed for a token error, 0 when none did (see
	// pausing).
	checkFailed uint64
	// nextCheck is when a check that failed for a token error may run
	// again (see recheckPause).
	nextCheck time.Time
	// handles are the member's opened managed keys, by name, for the
	// guests' operations (see managed.memberKey).
	handles map[string]provider.Key
}

func (m *member) getState() State { return State(m.state.Load()) }

// serves reports whether the member may take an operation on the managed
// key name ("" for none).
func (m *member) serves(name string) bool {
	if m.getState() != Healthy {
		return false
	}
	if name == "" {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys[name] == KeyPresent
}

// pausing reports whether the member, out of service, is expected back
// soon without having failed itself: its backend waits for, or renews
// sessions after, another token's reinitialisation of their shared module
// (hsm.Stats.Pausing), or it is healthy again and its keys' check runs
// and has not failed since. A member that served managed key name ("" for
// none) before is one a call on it waits for, within its deadline
// (docs/semantics.md#token-groups).
func (m *member) pausing(name string) bool {
	if m.getState() != Recovering {
		return false
	}
	st := m.b.Stats()
	m.mu.Lock()
	defer m.mu.Unlock()
	if name != "" && m.keys[name] != KeyPresent {
		return false
	}
	if st.Pausing || !st.Healthy {
		return st.Pausing
	}
	return m.checkFailed != st.Recoveries+1
}

// noteError records err as the member's last error.
func (m *member) noteError(err error) {
	m.mu.Lock()
	m.lastErr = err
	m.mu.Unlock()
}

// fail takes the member out of service at once, for err: its backend
// found the token failed, or its keys must be checked again.
func (m *member) fail(err error, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.lastErr = err
	}
	if m.getState() == Healthy {
		m.since = now
		m.state.Store(uint32(Recovering))
	}
}

// key returns the member's handle of managed key name, opening it on
// first use.
func (m *member) key(ctx context.Context, name string) (provider.Key, error) {
	m.mu.Lock()
	k := m.handles[name]
	m.mu.Unlock()
	if k != nil {
		return k, nil
	}
	k, err := m.b.OpenManagedKey(ctx, name, internalGuest)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.handles[name]; old != nil {
		_ = k.Destroy(ctx)
		return old, nil
	}
	m.handles[name] = k
	return k, nil
}

// TokenStatus is a snapshot of one token of the group, for slots, doctor
// and metrics.
type TokenStatus struct {
	// Index is the token's place in the configuration's list.
	Index int
	// Selector is how the configuration selects it.
	Selector hsm.TokenSelector
	// State is its health, and LastError the last error it answered (nil
	// when none since it was opened).
	State     State
	LastError error
	// Keys says, per managed key name, whether the token serves it.
	Keys map[string]KeyState
	// Operations counts the attempts run on the token; Failovers those
	// that failed and moved the operation to another token; Latency is
	// their total time; InFlight those running now.
	Operations, Failovers uint64
	Latency               time.Duration
	InFlight              int64
	// Backend is the token backend's own snapshot (sessions, recoveries).
	Backend hsm.Stats
}

func (m *member) status() TokenStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make(map[string]KeyState, len(m.keys))
	for k, v := range m.keys {
		keys[k] = v
	}
	return TokenStatus{
		Index: m.index, Selector: m.sel, State: m.getState(), LastError: m.lastErr, Keys: keys,
		Operations: m.ops.Load(), Failovers: m.failures.Load(), Latency: time.Duration(m.latencyNS.Load()),
		InFlight: m.inflight.Load(), Backend: m.b.Stats(),
	}
}
