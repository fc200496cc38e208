//go:build !cgo

package hsm

// The hooks of Stats in a build without PKCS#11 support: there is no pool
// and no token.

func (b *Backend) sessionCounts() (open, inUse int) { return 0, 0 }
func (b *Backend) sessionsWaiting() int             { return 0 }
func (b *Backend) healthyNow() bool                 { return false }
func (b *Backend) recoveryCount() uint64            { return 0 }
