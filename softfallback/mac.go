package softfallback

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"hash"

	"github.com/wasihsm/wasihsm/provider"
)

// macKey is an HS256, HS384 or HS512 key.
type macKey struct {
	keyBase
	newHash func() hash.Hash
	raw     []byte // zeroed by Destroy
}

var _ provider.Signer = (*macKey)(nil)

func newMACKey(alg provider.Algorithm, input []byte) (*macKey, error) {
	newHash, _, ok := keyHash(alg.Hash)
	if !ok {
		return nil, errorf(alg, provider.ErrNotSupported, "no hash %q", alg.Hash)
	}
	var raw []byte
	switch {
	case input == nil:
		raw = make([]byte, alg.KeySize)
		rand.Read(raw)
	case len(input) < alg.OutputSize:
		// RFC 7518 §3.2: a key as long as the hash at least.
		return nil, errorf(alg, provider.ErrInvalidArgument, "import: key of %d bytes, want at least %d", len(input), alg.OutputSize)
	case len(input) > newHash().BlockSize():
		// RFC 2104 §2: HMAC hashes a key longer than the block; keeping
		// the hash rather than the input gives the same MACs, and a key
		// imported from a large input holds no large copy of it.
		h := newHash()
		h.Write(input)
		raw = h.Sum(nil)
	default:
		raw = append([]byte(nil), input...)
	}
	k := &macKey{keyBase: keyBase{alg: alg}, newHash: newHash, raw: raw}
	k.wipe = func() { clear(k.raw); k.raw = nil }
	return k, nil
}

// NewSignState implements provider.Signer. HMAC absorbs data as it comes,
// so maxBuffered does not apply.
func (k *macKey) NewSignState(_ context.Context, maxBuffered int) (provider.SignState, error) {
	if err := k.acquire(); err != nil {
		return nil, err
	}
	defer k.release()
	if maxBuffered < 0 {
		return nil, errorf(k.alg, provider.ErrInvalidArgument, "negative buffer limit")
	}
	m := hmac.New(k.newHash, k.raw)
	return &macState{key: k, mac: m, sum: make([]byte, 0, m.Size())}, nil
}

// macState is an open HMAC computation.
type macState struct {
	key *macKey
	mac hash.Hash // nil once closed
	sum []byte
}

func (s *macState) Update(_ context.Context, p []byte) error {
	if err := s.usable(); err != nil {
		return err
	}
	s.mac.Write(p)
	return nil
}

func (s *macState) Sign(_ context.Context, dst []byte) ([]byte, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	// hmac's Sum leaves the running state as it was.
	s.sum = s.mac.Sum(s.sum[:0])
	return append(dst, s.sum...), nil
}

func (s *macState) Size() int { return s.key.alg.OutputSize }

func (s *macState) Reset() {
	if s.mac != nil {
		s.mac.Reset()
	}
}

func (s *macState) Close() error {
	if s.sum != nil {
		clear(s.sum[:cap(s.sum)])
	}
	s.mac, s.sum = nil, nil
	return nil
}

func (s *macState) usable() error {
	if s.mac == nil {
		return errorf(s.key.alg, provider.ErrInvalidArgument, "sign state closed")
	}
	return s.key.alive()
}
