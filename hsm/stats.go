package hsm

// Stats is a snapshot of a backend's session pool and of the token's
// health, for metrics (package metrics) and health checks.
type Stats struct {
	// SessionsOpen is the number of pooled sessions that are open, idle
	// or in use. The persistent session, which every backend holds for
	// its whole life, is not counted.
	SessionsOpen int
	// SessionsInUse is the number of pooled sessions an operation holds.
	SessionsInUse int
	// SessionsWaiting is the number of operations waiting for a session
	// because all of them are in use (see Config.SessionWait).
	SessionsWaiting int
	// Healthy is true while the token serves calls, and false while the
	// backend is recovering it (its calls fail fast with
	// provider.ErrDevice meanwhile), and in a build without PKCS#11
	// support.
	Healthy bool
	// Recoveries counts the times the backend brought the token back
	// after it failed (C_Finalize and C_Initialize, or a hung token that
	// answered again).
	Recoveries uint64
	// Pausing is true while the backend cannot serve only because another
	// user of its module (a backend of another token behind the same
	// p11-kit-proxy.so, say) initialises the module again, or did, which
	// ends this backend's sessions: while the module is being initialised
	// (its calls fail fast with provider.ErrDevice), and while the backend
	// recovers from it, opening new sessions. Its own token has not
	// failed, and it is expected back soon. It turns false when the
	// recovery finds the token failing too.
	Pausing bool
}
