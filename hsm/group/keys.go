package group

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/provider"
)

// managedKey is one managed key of the group's configuration.
type managedKey struct {
	g   *Group
	cfg hsm.ManagedKey
	// refMu guards reference: the SHA-256 of the first token's answer to
	// the check (check.go).
	refMu     sync.Mutex
	reference []byte
}

func newManagedKey(g *Group, mk hsm.ManagedKey) (*managedKey, error) {
	if g.managed[mk.Name] != nil {
		return nil, fmt.Errorf("group: managed key %q: a second key of that name: %w", mk.Name, provider.ErrInvalidArgument)
	}
	return &managedKey{g: g, cfg: mk}, nil
}

// OpenManagedKey implements provider.ManagedKeys: the key as one key of
// the group, whose every operation runs on a token that was proven to
// hold it, failing over to another when that token fails. It answers
// provider.ErrNotFound when no managed key has that name,
// provider.ErrAccessDenied when guest may not open it.
func (g *Group) OpenManagedKey(ctx context.Context, name string, guest provider.Guest) (provider.Key, error) {
	k := g.managed[name]
	if k == nil {
		return nil, fmt.Errorf("group: managed key %q: no such key: %w", name, provider.ErrNotFound)
	}
	if guest.Anonymous() || !slices.ContainsFunc(k.cfg.Guests, func(r hsm.GuestRule) bool { return r.Matches(guest) }) {
		return nil, fmt.Errorf("group: managed key %q: guest %q may not open it: %w", name, guest.Name, provider.ErrAccessDenied)
	}
	if g.absent(name) {
		if g.unsupported(name) {
			return nil, fmt.Errorf("group: managed key %q: no token of the group, as this process reaches them, can run %s: %w",
				name, k.cfg.Algorithm.Name, provider.ErrNotSupported)
		}
		return nil, fmt.Errorf("group: managed key %q: on no token of the group (or different from the group's): %w", name, provider.ErrNotFound)
	}
	// Open it on a token now, so that a key no token serves fails here,
	// as on a single token.
	var first provider.Key
	base := groupKey{k: k, alg: k.cfg.Algorithm}
	err := g.run(ctx, name, func(ctx context.Context, m *member) error {
		key, err := m.key(ctx, name)
		if errors.Is(err, provider.ErrNotFound) {
			m.fail(err, timeNow())
		}
		if err != nil {
			return err
		}
		base.size, base.signErr = 0, nil
		if signer, ok := key.(provider.Signer); ok {
			// The signature's size (an RSA key's is its modulus's), and
			// whether signing is allowed at all, as the token answers
			// them; a token that fails meanwhile is the next one's turn.
			st, err := signer.NewSignState(ctx, 0)
			switch {
			case err == nil:
				base.size = st.Size()
				_ = st.Close()
			case failsOver(err):
				return err
			default:
				base.signErr = err
			}
		}
		first = key
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch first.(type) {
	case provider.KeyAgreementKey:
		return &agreeKey{base}, nil
	case provider.PublicKeyExporter:
		return &signKey{macKey{base}}, nil
	case provider.Signer:
		return &macKey{base}, nil
	case provider.AEADKey:
		return &aeadKey{base}, nil
	}
	return nil, fmt.Errorf("group: managed key %q: %s keys are not served by a group: %w", name, k.cfg.Algorithm.Name, provider.ErrNotSupported)
}

// groupKey is what every kind of managed key of the group has.
type groupKey struct {
	k   *managedKey
	alg provider.Algorithm
	// size is a signature's length; signErr the token's answer to a new
	// sign state when it refused one (the operation is not allowed).
	size    int
	signErr error
}

// Algorithm implements provider.Key.
func (k groupKey) Algorithm() provider.Algorithm { return k.alg }

// Backend implements provider.Key.
func (k groupKey) Backend() string { return hsm.BackendName }

// Destroy implements provider.Key: a managed key is only released; the
// tokens' handles stay with the group.
func (k groupKey) Destroy(context.Context) error { return nil }

// on runs f with the key's handle on a token, failing over (Group.run).
func (k groupKey) on(ctx context.Context, f func(ctx context.Context, key provider.Key) error) error {
	name := k.k.cfg.Name
	return k.k.g.run(ctx, name, func(ctx context.Context, m *member) error {
		key, err := m.key(ctx, name)
		if err == nil {
			err = f(ctx, key)
		}
		if errors.Is(err, provider.ErrNotFound) {
			// Gone from the token: check it again before it serves.
			m.fail(err, timeNow())
		}
		return err
	})
}

// macKey is a managed HMAC key of the group.
type macKey struct{ groupKey }

// NewSignState implements provider.Signer.
func (k *macKey) NewSignState(ctx context.Context, maxBuffered int) (provider.SignState, error) {
	if k.signErr != nil {
		return nil, k.signErr
	}
	if maxBuffered < 0 {
		return nil, fmt.Errorf("group: sign: negative buffer limit: %w", provider.ErrInvalidArgument)
	}
	return &signState{k: k.groupKey, buf: provider.Buffer{Max: maxBuffered, Budget: provider.BudgetFrom(ctx)}}, nil
}

// signKey is a managed signature key pair of the group.
type signKey struct{ macKey }

// PublicKeyDER implements provider.PublicKeyExporter.
func (k *signKey) PublicKeyDER(ctx context.Context) ([]byte, error) {
	var out []byte
	err := k.on(ctx, func(ctx context.Context, key provider.Key) error {
		var err error
		out, err = key.(provider.PublicKeyExporter).PublicKeyDER(ctx)
		return err
	})
	return out, err
}

// aeadKey is a managed AES-GCM key of the group.
type aeadKey struct{ groupKey }

// Seal implements provider.AEADKey. Each attempt appends to a copy of
// dst's length, so a failed attempt leaves nothing behind.
func (k *aeadKey) Seal(ctx context.Context, dst, nonce, plaintext, aad []byte) ([]byte, error) {
	var out []byte
	err := k.on(ctx, func(ctx context.Context, key provider.Key) error {
		var err error
		out, err = key.(provider.AEADKey).Seal(ctx, dst, nonce, plaintext, aad)
		return err
	})
	return out, err
}

// Open implements provider.AEADKey.
func (k *aeadKey) Open(ctx context.Context, dst, nonce, ciphertextAndTag, aad []byte) ([]byte, error) {
	var out []byte
	err := k.on(ctx, func(ctx context.Context, key provider.Key) error {
		var err error
		out, err = key.(provider.AEADKey).Open(ctx, dst, nonce, ciphertextAndTag, aad)
		return err
	})
	return out, err
}

// agreeKey is a managed ECDH key of the group.
type agreeKey struct{ groupKey }

// PublicKeyDER implements provider.PublicKeyExporter.
func (k *agreeKey) PublicKeyDER(ctx context.Context) ([]byte, error) {
	return (&signKey{macKey{k.groupKey}}).PublicKeyDER(ctx)
}

// SharedSecret implements provider.KeyAgreementKey.
func (k *agreeKey) SharedSecret(ctx context.Context, peerPublic []byte) ([]byte, error) {
	var out []byte
	err := k.on(ctx, func(ctx context.Context, key provider.Key) error {
		var err error
		out, err = key.(provider.KeyAgreementKey).SharedSecret(ctx, peerPublic)
		return err
	})
	return out, err
}

// signState is a signature with a managed key of the group. It keeps the
// data (up to maxBuffered, charged to the guest's budget), and each Sign
// is one attempt (or several, failing over) of a fresh state on a token
// over all of it: a token's state cannot be moved to another token, the
// data can.
type signState struct {
	k   groupKey
	buf provider.Buffer
}

// Update implements provider.SignState.
func (s *signState) Update(_ context.Context, p []byte) error {
	if len(s.buf.Bytes())+len(p) > s.buf.Max {
		return fmt.Errorf("group: sign: more than %d bytes: %w", s.buf.Max, provider.ErrMessageTooLarge)
	}
	return s.buf.Append(p)
}

// Sign implements provider.SignState.
func (s *signState) Sign(ctx context.Context, dst []byte) ([]byte, error) {
	var out []byte
	err := s.k.on(ctx, func(ctx context.Context, key provider.Key) error {
		st, err := key.(provider.Signer).NewSignState(ctx, max(s.buf.Max, len(s.buf.Bytes())))
		if err != nil {
			return err
		}
		defer func() { _ = st.Close() }()
		if data := s.buf.Bytes(); len(data) > 0 {
			if err := st.Update(ctx, data); err != nil {
				return err
			}
		}
		out, err = st.Sign(ctx, dst)
		return err
	})
	return out, err
}

// Size implements provider.SignState.
func (s *signState) Size() int { return s.k.size }

// Reset implements provider.SignState.
func (s *signState) Reset() { s.buf.Reset() }

// Close implements provider.SignState.
func (s *signState) Close() error {
	s.buf.Drop()
	return nil
}

// timeNow is time.Now, named for the members' bookkeeping.
func timeNow() time.Time { return time.Now() }
