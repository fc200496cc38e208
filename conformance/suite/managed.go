package suite

import (
	"context"
	"fmt"
	"sync"

	"github.com/wasihsm/wasihsm/provider"
)

// The contract guest's keys/managed-key scenario opens this managed key as
// the guest named guestName (conformance/guests/contract/errors_wasip1.go).
const (
	managedName = "managed-es256"
	guestName   = "contract"
)

// sessionKeys serves the one managed key the contract guest asks for: an
// ES256 key that the suite generates through the target's own router (so,
// on a token, a session object) the first time it is opened, and destroys
// in close. The suite never touches the operator's provisioned keys.
type sessionKeys struct {
	generate func(context.Context, provider.KeyRequest) (provider.Key, error)
	mu       sync.Mutex
	key      provider.Key
}

func (s *sessionKeys) OpenManagedKey(ctx context.Context, name string, guest provider.Guest) (provider.Key, error) {
	if name != managedName {
		return nil, fmt.Errorf("suite: managed key %q: %w", name, provider.ErrNotFound)
	}
	if guest.Name != guestName {
		return nil, fmt.Errorf("suite: managed key %q for guest %q: %w", name, guest.Name, provider.ErrAccessDenied)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key == nil {
		k, err := s.generate(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("ES256")})
		if err != nil {
			return nil, fmt.Errorf("suite: managed key %q: %w", name, err)
		}
		s.key = k
	}
	return managedKey{s.key}, nil
}

// close destroys the key, if one was made.
func (s *sessionKeys) close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key == nil {
		return nil
	}
	err := s.key.Destroy(ctx)
	s.key = nil
	return err
}

// managedKey is a key that guests may use but never destroy.
type managedKey struct{ provider.Key }

func (managedKey) Destroy(context.Context) error { return nil }

func (k managedKey) NewSignState(ctx context.Context, n int) (provider.SignState, error) {
	s, ok := k.Key.(provider.Signer)
	if !ok {
		return nil, fmt.Errorf("suite: managed key cannot sign: %w", provider.ErrNotSupported)
	}
	return s.NewSignState(ctx, n)
}

func (k managedKey) PublicKeyDER(ctx context.Context) ([]byte, error) {
	e, ok := k.Key.(provider.PublicKeyExporter)
	if !ok {
		return nil, fmt.Errorf("suite: managed key has no public key: %w", provider.ErrNotSupported)
	}
	return e.PublicKeyDER(ctx)
}
