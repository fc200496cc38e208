package spec

import "time"

// The default limits of one guest instance (docs/semantics.md#limits). The
// host applies them to the zero fields of its options; the CLI shows them
// as its settings' defaults.
const (
	// DefaultMaxHandles is the default limit of open handles per instance
	// (beyond it: mfile).
	DefaultMaxHandles = 1024
	// DefaultMaxBufferedBytes is the default limit of bytes one state
	// buffers (beyond it: msgsize).
	DefaultMaxBufferedBytes = 16 << 20
	// DefaultMaxInstanceBytes is the default budget of host bytes held for
	// one instance at once (beyond it: nomem).
	DefaultMaxInstanceBytes = 64 << 20
)

// The default deadlines of a call on a token (docs/semantics.md#errors: a call
// answers by its deadline). The PKCS#11 backend applies them to the zero
// fields of its configuration; the CLI shows them as its settings'
// defaults.
const (
	// DefaultSessionWait is how long an operation waits for a free session
	// of the token (beyond it: nfile).
	DefaultSessionWait = 5 * time.Second
	// DefaultCallTimeout is the deadline of one operation on the token
	// (beyond it: timedout).
	DefaultCallTimeout = 5 * time.Second
)
