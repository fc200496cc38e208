//go:build wasip1

package wasicrypto

import (
	"strconv"

	"github.com/wasihsm/wasihsm/guest/wasicrypto/internal/abi"
)

// Hash returns the digest of data under the hash algorithm alg, such as
// "SHA-256". For SHAKE128 and SHAKE256 it returns 32 and 64 bytes; use
// [XOF] for another length.
func Hash(alg string, data []byte) ([]byte, error) {
	return XOF(alg, data, 0)
}

// XOF returns the first n bytes of the output of the extendable-output
// function alg ("SHAKE128" or "SHAKE256") over data. For a fixed-size hash,
// n may be at most its digest size and the result is a prefix of the digest.
// n = 0 means the default length of [Hasher.Size].
func XOF(alg string, data []byte, n int) ([]byte, error) {
	h, err := NewHasher(alg)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if _, err := h.Write(data); err != nil {
		return nil, err
	}
	return h.Sum(n)
}

// A Hasher hashes a stream of data on the host. It implements [io.Writer].
// Unlike [hash.Hash] its methods return the host's errors, and it holds a
// host handle that Close releases.
type Hasher struct {
	state uint32
	alg   string
}

// NewHasher opens a hash state for alg (see the package documentation for
// the names).
func NewHasher(alg string) (*Hasher, error) {
	var state uint32
	if err := check("hash_open", abi.HashOpen(stringPtr(alg), size(alg), &state)); err != nil {
		return nil, err
	}
	return &Hasher{state: state, alg: alg}, nil
}

// Algorithm returns the algorithm name given to [NewHasher].
func (h *Hasher) Algorithm() string { return h.alg }

// Size returns the default length of [Hasher.Sum]: the digest size, or for
// SHAKE128 and SHAKE256 32 and 64 bytes, the lengths of their full security
// strength. It is 0 for an algorithm the package does not know, which the
// host may still serve.
func (h *Hasher) Size() int { return digestSize(h.alg) }

// Write adds p to the data being hashed. It writes all of p or returns an
// error.
func (h *Hasher) Write(p []byte) (int, error) {
	if err := check("hash_update", abi.HashUpdate(h.state, bytesPtr(p), size(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Sum returns the first n bytes of the digest of the data written so far;
// n = 0 means [Hasher.Size]. It does not change the state: writing and
// summing may go on.
func (h *Hasher) Sum(n int) ([]byte, error) {
	if n == 0 {
		n = h.Size()
		if n == 0 {
			return nil, invalid("Hasher.Sum", "no default digest size for "+strconv.Quote(h.alg))
		}
	}
	if n < 0 {
		return nil, invalid("Hasher.Sum", "negative length")
	}
	digest := make([]byte, n)
	if err := check("hash_digest", abi.HashDigest(h.state, bytesPtr(digest), size(digest))); err != nil {
		return nil, err
	}
	return digest, nil
}

// Close releases the hash state. Further calls fail with badf.
func (h *Hasher) Close() error {
	err := check("hash_close", abi.HashClose(h.state))
	h.state = 0
	return err
}
