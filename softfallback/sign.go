package softfallback

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"hash"
	"math/big"
	"slices"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/provider/keyimport"
)

// signatureKey is an ES*, EdDSA, RS* or PS* private key. Exactly one of ec,
// ed and rsa is set until the key is destroyed.
type signatureKey struct {
	asymmetric
	newHash func() hash.Hash // nil for EdDSA
	hash    crypto.Hash
	size    int // signature length

	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
	rsa *rsa.PrivateKey
}

var (
	_ provider.Signer            = (*signatureKey)(nil)
	_ provider.PublicKeyExporter = (*signatureKey)(nil)
)

func newSignatureKey(alg provider.Algorithm, input []byte) (*signatureKey, error) {
	var (
		priv any
		err  error
	)
	if input == nil {
		priv, err = generateSignatureKey(alg)
	} else if priv, err = keyimport.Parse(alg, input); err != nil {
		err = importError(alg, err)
	}
	if err != nil {
		return nil, err
	}
	k, err := signatureKeyOf(alg, priv)
	if err != nil {
		keyimport.Discard(priv)
		return nil, err
	}
	return k, nil
}

// signatureKeyOf checks that priv is a key for alg and wraps it.
func signatureKeyOf(alg provider.Algorithm, priv any) (*signatureKey, error) {
	priv, err := keyimport.Check(alg, priv)
	if err != nil {
		return nil, importError(alg, err)
	}
	k := &signatureKey{asymmetric: asymmetric{keyBase: keyBase{alg: alg}}}
	var pub crypto.PublicKey
	switch p := priv.(type) {
	case ed25519.PrivateKey:
		k.ed, k.size, pub = p, ed25519.SignatureSize, p.Public()
	case *rsa.PrivateKey:
		k.rsa, k.size, pub = p, p.Size(), p.Public()
	case *ecdsa.PrivateKey:
		k.ec, k.size, pub = p, alg.OutputSize, p.Public()
	}
	if alg.Curve != "Ed25519" {
		var ok bool
		if k.newHash, k.hash, ok = keyHash(alg.Hash); !ok {
			return nil, errorf(alg, provider.ErrNotSupported, "no hash %q", alg.Hash)
		}
	}
	if err := k.setPublic(pub); err != nil {
		return nil, err
	}
	k.wipe = func() {
		keyimport.Discard(k.ed)
		keyimport.Discard(k.ec)
		keyimport.Discard(k.rsa)
		k.ed, k.ec, k.rsa = nil, nil, nil
	}
	return k, nil
}

func generateSignatureKey(alg provider.Algorithm) (any, error) {
	var (
		priv any
		err  error
	)
	switch {
	case alg.Curve == "Ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case alg.IsRSA():
		priv, err = rsa.GenerateKey(rand.Reader, alg.KeySize)
	default:
		var c elliptic.Curve
		switch alg.Curve {
		case "P-256":
			c = elliptic.P256()
		case "P-384":
			c = elliptic.P384()
		case "P-521":
			c = elliptic.P521()
		default:
			return nil, errorf(alg, provider.ErrNotSupported, "no curve %q", alg.Curve)
		}
		priv, err = ecdsa.GenerateKey(c, rand.Reader)
	}
	if err != nil {
		return nil, errorf(alg, provider.ErrDevice, "generate: %v", err)
	}
	return priv, nil
}

// NewSignState implements provider.Signer. Only EdDSA buffers the message
// (pure Ed25519 needs all of it at once), up to maxBuffered bytes; the other
// algorithms hash it as it comes.
func (k *signatureKey) NewSignState(ctx context.Context, maxBuffered int) (provider.SignState, error) {
	if err := k.alive(); err != nil {
		return nil, err
	}
	if maxBuffered < 0 {
		return nil, errorf(k.alg, provider.ErrInvalidArgument, "negative buffer limit")
	}
	if k.newHash == nil {
		return &edState{key: k, msg: provider.Buffer{Max: maxBuffered, Budget: provider.BudgetFrom(ctx)}}, nil
	}
	h := k.newHash()
	return &digestState{key: k, h: h, sum: make([]byte, 0, h.Size())}, nil
}

// signDigest appends the signature of a message digest to dst. The caller
// holds the key.
func (k *signatureKey) signDigest(dst, digest []byte) ([]byte, error) {
	var (
		sig []byte
		err error
	)
	switch {
	case k.ec != nil:
		// JWS (RFC 7518 §3.4): r and s, each as wide as the group order.
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, k.ec, digest)
		if err == nil {
			n := len(dst)
			dst = slices.Grow(dst, k.size)[:n+k.size]
			r.FillBytes(dst[n : n+k.size/2])
			s.FillBytes(dst[n+k.size/2:])
			return dst, nil
		}
	case k.rsa != nil && k.alg.IsPSS():
		sig, err = rsa.SignPSS(rand.Reader, k.rsa, k.hash, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case k.rsa != nil:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.rsa, k.hash, digest)
	}
	if err != nil {
		return nil, errorf(k.alg, provider.ErrDevice, "sign: %v", err)
	}
	return append(dst, sig...), nil
}

// digestState is an open ECDSA or RSA signature: the message is hashed as
// it comes and the digest signed on demand.
type digestState struct {
	key *signatureKey
	h   hash.Hash // nil once closed
	sum []byte
}

func (s *digestState) Update(_ context.Context, p []byte) error {
	if err := s.usable(); err != nil {
		return err
	}
	s.h.Write(p)
	return nil
}

func (s *digestState) Sign(_ context.Context, dst []byte) ([]byte, error) {
	if s.h == nil {
		return nil, errorf(s.key.alg, provider.ErrInvalidArgument, "sign state closed")
	}
	if err := s.key.acquire(); err != nil {
		return nil, err
	}
	defer s.key.release()
	s.sum = s.h.Sum(s.sum[:0])
	return s.key.signDigest(dst, s.sum)
}

func (s *digestState) Size() int { return s.key.size }

func (s *digestState) Reset() {
	if s.h != nil {
		s.h.Reset()
	}
}

func (s *digestState) Close() error {
	s.h, s.sum = nil, nil
	return nil
}

func (s *digestState) usable() error {
	if s.h == nil {
		return errorf(s.key.alg, provider.ErrInvalidArgument, "sign state closed")
	}
	return s.key.alive()
}

// edState is an open Ed25519 signature. It buffers the message, up to max
// bytes, and zeroes the buffer when it drops it. The buffer's capacity is
// charged to the budget of the context that opened the state, from before
// it is allocated until the state closes.
type edState struct {
	key    *signatureKey
	msg    provider.Buffer
	closed bool
}

func (s *edState) Update(_ context.Context, p []byte) error {
	if err := s.usable(); err != nil {
		return err
	}
	if len(p) > s.msg.Max-len(s.msg.Bytes()) {
		return errorf(s.key.alg, provider.ErrMessageTooLarge, "message of more than %d bytes", s.msg.Max)
	}
	if err := s.msg.Append(p); err != nil {
		return errorf(s.key.alg, err, "message buffer")
	}
	return nil
}

func (s *edState) Sign(_ context.Context, dst []byte) ([]byte, error) {
	if s.closed {
		return nil, errorf(s.key.alg, provider.ErrInvalidArgument, "sign state closed")
	}
	if err := s.key.acquire(); err != nil {
		return nil, err
	}
	defer s.key.release()
	return append(dst, ed25519.Sign(s.key.ed, s.msg.Bytes())...), nil
}

func (s *edState) Size() int { return ed25519.SignatureSize }

func (s *edState) Reset() { s.msg.Reset() }

func (s *edState) Close() error {
	s.msg.Drop()
	s.closed = true
	return nil
}

func (s *edState) usable() error {
	if s.closed {
		return errorf(s.key.alg, provider.ErrInvalidArgument, "sign state closed")
	}
	return s.key.alive()
}
