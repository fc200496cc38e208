package group

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/wasihsm/wasihsm/provider"
)

// The equality proof (docs/security.md#token-groups). A managed key is
// served by a token only once the token has shown that it holds the same
// key as the group: for a key pair, the same public key; for a secret
// key, the same answer to a question only the key can answer, computed
// inside the token:
//
//   - HMAC keys: the MAC of the group's random challenge;
//   - AES-GCM keys: the seal of a random block under a random nonce, both
//     from the challenge, with a fixed label as AAD.
//
// The challenge is drawn at Open and never leaves the process; the answers
// are compared and kept as a SHA-256 (the reference) only. Neither reveals
// anything usable: the MAC of a random message nobody else sees forges
// nothing, and the GCM seal uses its nonce only ever with the same
// plaintext and AAD (on every token, every time), which shows nothing a
// single seal does not. The classic key check value, the encryption of a
// zero block, is refused on purpose: for AES-GCM that block is the GHASH
// key H, with which tags can be forged.

// recheckPause is how long a token whose check failed for a token error
// (its backend healthy, its answers not) waits before the next check, so
// that a token that fails every check is not asked every checkInterval.
const recheckPause = 250 * time.Millisecond

// checkAAD is the AAD of the AES-GCM check.
var checkAAD = []byte("wasihsm token-group key check")

// fingerprint computes on m the value that shows which key m holds as
// managed key k, or the token's error.
func (g *Group) fingerprint(ctx context.Context, m *member, k *managedKey) ([]byte, error) {
	key, err := m.b.OpenManagedKey(ctx, checkPrefix+k.cfg.Name, internalGuest)
	if err != nil {
		return nil, err
	}
	defer func() { _ = key.Destroy(ctx) }()
	var answer []byte
	switch kk := key.(type) {
	case provider.PublicKeyExporter:
		answer, err = kk.PublicKeyDER(ctx)
	case provider.Signer:
		var st provider.SignState
		if st, err = kk.NewSignState(ctx, len(g.challenge)); err != nil {
			return nil, err
		}
		defer func() { _ = st.Close() }()
		if err = st.Update(ctx, g.challenge[:]); err == nil {
			answer, err = st.Sign(ctx, nil)
		}
	case provider.AEADKey:
		answer, err = kk.Seal(ctx, nil, g.challenge[:12], g.challenge[12:], checkAAD)
	default:
		return nil, errors.New("group: a managed key of no kind the check knows")
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(answer)
	return sum[:], nil
}

// check finds and proves every managed key on m, and puts m in service
// when it answered for all of them. A token error leaves m recovering,
// to be checked again when its backend is healthy.
func (g *Group) check(ctx context.Context, m *member) {
	defer func() {
		m.mu.Lock()
		m.checking = false
		m.mu.Unlock()
	}()
	recs := m.b.Stats().Recoveries
	if !m.b.Stats().Healthy {
		return
	}
	found := make(map[string]KeyState, len(g.managed))
	for name, k := range g.managed {
		fp, err := g.fingerprint(ctx, m, k)
		switch {
		case err == nil:
			if k.proven(fp) {
				found[name] = KeyPresent
			} else {
				found[name] = KeyDifferent
			}
		case errors.Is(err, provider.ErrNotFound):
			found[name] = KeyMissing
		case errors.Is(err, provider.ErrNotSupported):
			// Refused before the token saw the key: nothing is known of
			// it, and guests are refused when they open it, not when
			// they use it.
			found[name] = KeyUnsupported
			m.noteError(err)
		case errors.Is(err, provider.ErrInvalidArgument), errors.Is(err, provider.ErrAccessDenied):
			found[name] = KeyDifferent
			m.noteError(err)
		default:
			// The token failed while being checked: not back yet. When
			// only its module's reinitialisation for another token's sake
			// failed the check, the next look checks it again.
			m.noteError(err)
			if !m.b.Stats().Pausing {
				m.mu.Lock()
				m.nextCheck = time.Now().Add(recheckPause)
				m.checkFailed = recs + 1
				m.mu.Unlock()
			}
			return
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys, m.seenRecs = found, recs
	if m.b.Stats().Recoveries != recs || !m.b.Stats().Healthy {
		return // it failed again meanwhile: check again
	}
	m.state.Store(uint32(Healthy))
	m.since = time.Time{}
}

// proven reports whether fp is the group's fingerprint of k; the first
// token that answers for k, in the configuration's order at Open, sets
// it.
func (k *managedKey) proven(fp []byte) bool {
	k.refMu.Lock()
	defer k.refMu.Unlock()
	if k.reference == nil {
		k.reference = fp
		return true
	}
	return bytes.Equal(k.reference, fp)
}
