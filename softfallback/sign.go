package softfallback

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"hash"
	"math/big"
	"slices"

	"github.com/wasihsm/wasihsm/provider"
)

// RSA modulus sizes accepted on import (CONTRACT §4: at least 2048 bits;
// the upper bound keeps a guest from making the host work on huge keys).
const (
	minRSABits = 2048
	maxRSABits = 8192
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
	} else {
		priv, err = parsePKCS8(alg, input)
	}
	if err != nil {
		return nil, err
	}
	k, err := signatureKeyOf(alg, priv)
	if err != nil {
		discard(priv)
		return nil, err
	}
	return k, nil
}

// signatureKeyOf checks that priv is a key for alg and wraps it.
func signatureKeyOf(alg provider.Algorithm, priv any) (*signatureKey, error) {
	k := &signatureKey{asymmetric: asymmetric{keyBase: keyBase{alg: alg}}}
	var pub crypto.PublicKey
	switch {
	case alg.Curve == "Ed25519":
		ed, ok := priv.(ed25519.PrivateKey)
		if !ok {
			return nil, wrongKey(alg, priv)
		}
		k.ed, k.size, pub = ed, ed25519.SignatureSize, ed.Public()
	case alg.IsRSA():
		r, ok := priv.(*rsa.PrivateKey)
		if !ok {
			return nil, wrongKey(alg, priv)
		}
		if err := checkRSABits(alg, r.N.BitLen()); err != nil {
			return nil, err
		}
		if len(r.Primes) != 2 {
			return nil, errorf(alg, provider.ErrInvalidArgument, "import: multi-prime RSA key")
		}
		k.rsa, k.size, pub = r, r.Size(), r.Public()
	default:
		e, ok := priv.(*ecdsa.PrivateKey)
		if !ok || e.Curve.Params().Name != alg.Curve {
			return nil, wrongKey(alg, priv)
		}
		k.ec, k.size, pub = e, alg.OutputSize, e.Public()
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
		discard(k.ed)
		discard(k.ec)
		discard(k.rsa)
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

func checkRSABits(alg provider.Algorithm, bits int) error {
	if bits < minRSABits || bits > maxRSABits {
		return errorf(alg, provider.ErrInvalidArgument, "import: RSA key of %d bits, want %d to %d", bits, minRSABits, maxRSABits)
	}
	return nil
}

// discard zeroes what it can of a private key that is being dropped: the
// Ed25519 key bytes, and the words of the big integers of ECDSA and RSA keys.
func discard(priv any) {
	switch p := priv.(type) {
	case ed25519.PrivateKey:
		clear(p)
	case *ecdsa.PrivateKey:
		if p != nil {
			//lint:ignore SA1019 zeroing is the one change made to D, as the key is dropped.
			wipeInts(p.D)
		}
	case *rsa.PrivateKey:
		if p != nil {
			wipeInts(p.D, p.Precomputed.Dp, p.Precomputed.Dq, p.Precomputed.Qinv)
			wipeInts(p.Primes...)
		}
	}
}

// wrongKey is the error for a parsed private key of the wrong type or
// curve. It names what was found, never its bytes.
func wrongKey(alg provider.Algorithm, priv any) error {
	var found string
	switch p := priv.(type) {
	case *ecdsa.PrivateKey:
		found = "an EC key on " + p.Curve.Params().Name
	case ed25519.PrivateKey:
		found = "an Ed25519 key"
	case *rsa.PrivateKey:
		found = "an RSA key"
	case *ecdh.PrivateKey:
		found = fmt.Sprintf("an ECDH key on %v", p.Curve())
	default:
		found = fmt.Sprintf("a key of type %T", priv)
	}
	want := alg.Curve
	if alg.IsRSA() {
		want = "RSA"
	}
	return errorf(alg, provider.ErrInvalidArgument, "import: %s, want a %s key", found, want)
}

// NewSignState implements provider.Signer. Only EdDSA buffers the message
// (pure Ed25519 needs all of it at once), up to maxBuffered bytes; the other
// algorithms hash it as it comes.
func (k *signatureKey) NewSignState(_ context.Context, maxBuffered int) (provider.SignState, error) {
	if err := k.alive(); err != nil {
		return nil, err
	}
	if maxBuffered < 0 {
		return nil, errorf(k.alg, provider.ErrInvalidArgument, "negative buffer limit")
	}
	if k.newHash == nil {
		return &edState{key: k, max: maxBuffered}, nil
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
// bytes, and zeroes the buffer when it drops it.
type edState struct {
	key    *signatureKey
	max    int
	buf    []byte
	closed bool
}

func (s *edState) Update(_ context.Context, p []byte) error {
	if err := s.usable(); err != nil {
		return err
	}
	if len(p) > s.max-len(s.buf) {
		return errorf(s.key.alg, provider.ErrMessageTooLarge, "message of more than %d bytes", s.max)
	}
	if need := len(s.buf) + len(p); need > cap(s.buf) {
		// Grow by hand, so that the old buffer is zeroed rather than
		// left to the garbage collector as append would.
		c := min(max(need, 2*cap(s.buf), 256), s.max)
		b := make([]byte, len(s.buf), c)
		copy(b, s.buf)
		clear(s.buf)
		s.buf = b
	}
	s.buf = append(s.buf, p...)
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
	return append(dst, ed25519.Sign(s.key.ed, s.buf)...), nil
}

func (s *edState) Size() int { return ed25519.SignatureSize }

func (s *edState) Reset() {
	clear(s.buf)
	s.buf = s.buf[:0]
}

func (s *edState) Close() error {
	clear(s.buf)
	s.buf, s.closed = nil, true
	return nil
}

func (s *edState) usable() error {
	if s.closed {
		return errorf(s.key.alg, provider.ErrInvalidArgument, "sign state closed")
	}
	return s.key.alive()
}
