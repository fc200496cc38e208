//go:build cgo

package hsm

// sessionsWaiting is the number of operations waiting for a pooled
// session (for Stats).
func (b *Backend) sessionsWaiting() int { return int(b.pool.Load().waiting.Load()) }
