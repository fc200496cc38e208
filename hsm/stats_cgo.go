//go:build cgo

package hsm

// Stats returns a snapshot of the backend's pool (the persistent session
// not counted) and health. It is cheap (no call into the token) and safe
// for concurrent use.
func (b *Backend) Stats() Stats {
	pool := b.pool.Load()
	open, inUse := pool.counts()
	return Stats{
		SessionsOpen:    open,
		SessionsInUse:   inUse,
		SessionsWaiting: int(pool.waiting.Load()),
		Healthy:         b.healthy.Load(),
		Recoveries:      b.recoveries.Load(),
		Pausing:         b.pausing(),
	}
}
