package group

import (
	"fmt"
	"time"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/spec"
)

// Policy says which healthy token serves an operation
// (docs/semantics.md#token-groups).
type Policy uint8

// The policies.
const (
	// Balance spreads operations over the healthy tokens, the least
	// loaded (fewest operations in flight) first. It is the default.
	Balance Policy = iota
	// Failover uses the first healthy token in the list, and the next
	// ones only when it fails.
	Failover
)

// String returns the policy as written in configuration.
func (p Policy) String() string {
	switch p {
	case Balance:
		return "balance"
	case Failover:
		return "failover"
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// ParsePolicy parses "balance" or "failover".
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "balance":
		return Balance, nil
	case "failover":
		return Failover, nil
	}
	return 0, fmt.Errorf("group: policy %q: want balance or failover: %w", s, provider.ErrInvalidArgument)
}

// Defaults for the zero fields of [Config].
const (
	// DefaultCallTimeout is the deadline of one operation on the group,
	// all its attempts together.
	DefaultCallTimeout = spec.DefaultCallTimeout
	// AttemptsPerCall is how many attempts fit in the call deadline by
	// default: an attempt on one token is given up after a quarter of
	// it, so that a retry on another token still fits.
	AttemptsPerCall = 4
	// DefaultDownAfter is how long a token stays recovering before it
	// counts as down.
	DefaultDownAfter = 1 * time.Second
	// checkInterval is how often the group looks at its tokens' health.
	checkInterval = 25 * time.Millisecond
)

// Config configures [Open]. Open copies it.
type Config struct {
	// Tokens are the group's tokens, two or more (one is allowed, for a
	// group of one), each a complete hsm.Config: module, selector, PIN.
	// Their ManagedKeys and CallTimeout are ignored: the group's own
	// apply.
	Tokens []hsm.Config
	// Policy chooses among the healthy tokens.
	Policy Policy
	// CallTimeout is the deadline of one operation on the group: every
	// attempt, on every token, and the waits between them. 0 means
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// AttemptTimeout is the deadline of one attempt on one token; a token
	// that does not answer in time is given up on (and recovered in the
	// background) and the operation tried on another. 0 means
	// CallTimeout / AttemptsPerCall. It must be below CallTimeout.
	AttemptTimeout time.Duration
	// DownAfter is how long a failed token counts as recovering before it
	// counts as down; while every token is down, operations fail at once.
	// 0 means DefaultDownAfter.
	DownAfter time.Duration
	// ManagedKeys are the keys that every token of the group holds
	// (docs/semantics.md#token-groups).
	ManagedKeys []hsm.ManagedKey
}

func (c Config) callTimeout() time.Duration {
	if c.CallTimeout > 0 {
		return c.CallTimeout
	}
	return DefaultCallTimeout
}

func (c Config) attemptTimeout() time.Duration {
	if c.AttemptTimeout > 0 {
		return c.AttemptTimeout
	}
	return c.callTimeout() / AttemptsPerCall
}

func (c Config) downAfter() time.Duration {
	if c.DownAfter > 0 {
		return c.DownAfter
	}
	return DefaultDownAfter
}

// check checks what Open can check before it opens a token.
func (c Config) check() error {
	switch {
	case len(c.Tokens) == 0:
		return fmt.Errorf("group: config: Tokens: no token: %w", provider.ErrInvalidArgument)
	case c.Policy > Failover:
		return fmt.Errorf("group: config: Policy %v: %w", c.Policy, provider.ErrInvalidArgument)
	case c.CallTimeout < 0 || c.AttemptTimeout < 0 || c.DownAfter < 0:
		return fmt.Errorf("group: config: CallTimeout, AttemptTimeout and DownAfter must not be negative: %w", provider.ErrInvalidArgument)
	case c.attemptTimeout() >= c.callTimeout():
		return fmt.Errorf("group: config: AttemptTimeout %v must be below CallTimeout %v, so that a retry fits: %w",
			c.attemptTimeout(), c.callTimeout(), provider.ErrInvalidArgument)
	}
	for i, a := range c.Tokens {
		for j, b := range c.Tokens[:i] {
			if a.Module == b.Module && a.Token == b.Token && !a.Token.IsZero() {
				return fmt.Errorf("group: config: Tokens[%d] selects what Tokens[%d] selects (%s); give each its serial or URI: %w",
					i, j, a.Token, provider.ErrInvalidArgument)
			}
		}
	}
	return nil
}
