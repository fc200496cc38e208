package softfallback

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"hash"

	"github.com/wasihsm/wasihsm/provider"
)

// newHash returns the state of a registered hash or XOF.
func newHash(alg provider.Algorithm) provider.Hash {
	var h hash.Hash
	switch alg.Name {
	case "SHA-1":
		h = sha1.New()
	case "SHA-224":
		h = sha256.New224()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	case "SHA3-224":
		h = sha3.New224()
	case "SHA3-256":
		h = sha3.New256()
	case "SHA3-384":
		h = sha3.New384()
	case "SHA3-512":
		h = sha3.New512()
	case "SHAKE128":
		return &xofHash{alg: alg, s: sha3.NewSHAKE128(), scratch: sha3.NewSHAKE128()}
	case "SHAKE256":
		return &xofHash{alg: alg, s: sha3.NewSHAKE256(), scratch: sha3.NewSHAKE256()}
	default:
		// The registry and this switch disagree: a programming error.
		panic("softfallback: no implementation of hash " + alg.Name)
	}
	return &fixedHash{alg: alg, h: h, sum: make([]byte, 0, h.Size())}
}

// fixedHash is a SHA-1, SHA-2 or SHA-3 state. Sum of the standard library's
// hashes works on a copy of the state, so Digest leaves it untouched; the
// sum goes through a buffer kept for the purpose, so that Digest does not
// allocate.
type fixedHash struct {
	alg provider.Algorithm
	h   hash.Hash // nil once closed
	sum []byte
}

func (f *fixedHash) Algorithm() provider.Algorithm { return f.alg }

func (f *fixedHash) Update(p []byte) error {
	if f.h == nil {
		return errorf(f.alg, provider.ErrInvalidArgument, "hash state closed")
	}
	f.h.Write(p)
	return nil
}

func (f *fixedHash) Digest(out []byte) error {
	if f.h == nil {
		return errorf(f.alg, provider.ErrInvalidArgument, "hash state closed")
	}
	if len(out) < 1 || len(out) > f.alg.OutputSize {
		return errorf(f.alg, provider.ErrInvalidArgument, "digest length %d: want 1 to %d", len(out), f.alg.OutputSize)
	}
	f.sum = f.h.Sum(f.sum[:0])
	copy(out, f.sum)
	return nil
}

func (f *fixedHash) Close() error {
	f.h, f.sum = nil, nil
	return nil
}

// xofHash is a SHAKE state. crypto/sha3.SHAKE cannot absorb after it has
// been read, so Digest copies the state into a second SHAKE (through a
// serialisation buffer kept for the purpose, so that it does not allocate)
// and reads from that copy.
type xofHash struct {
	alg        provider.Algorithm
	s, scratch *sha3.SHAKE // nil once closed
	state      []byte
}

func (x *xofHash) Algorithm() provider.Algorithm { return x.alg }

func (x *xofHash) Update(p []byte) error {
	if x.s == nil {
		return errorf(x.alg, provider.ErrInvalidArgument, "hash state closed")
	}
	x.s.Write(p)
	return nil
}

func (x *xofHash) Digest(out []byte) error {
	if x.s == nil {
		return errorf(x.alg, provider.ErrInvalidArgument, "hash state closed")
	}
	if len(out) < 1 {
		return errorf(x.alg, provider.ErrInvalidArgument, "empty output")
	}
	var err error
	if x.state, err = x.s.AppendBinary(x.state[:0]); err != nil {
		return errorf(x.alg, provider.ErrInvalidArgument, "copy state: %v", err)
	}
	if err := x.scratch.UnmarshalBinary(x.state); err != nil {
		return errorf(x.alg, provider.ErrInvalidArgument, "copy state: %v", err)
	}
	x.scratch.Read(out)
	return nil
}

func (x *xofHash) Close() error {
	x.s, x.scratch, x.state = nil, nil, nil
	return nil
}
