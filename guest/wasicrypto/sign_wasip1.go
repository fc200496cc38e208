//go:build wasip1

package wasicrypto

import (
	"strconv"

	"github.com/wasihsm/wasihsm/guest/wasicrypto/internal/abi"
)

// Sign returns the signature of msg by key under alg, which must be the
// key's algorithm. For HS256, HS384 and HS512 it is the MAC. See [Signer]
// for the format of each algorithm.
func Sign(alg string, key *Key, msg []byte) ([]byte, error) {
	return AppendSign(nil, alg, key, msg)
}

// AppendSign is [Sign] that appends the signature to dst and returns the
// extended slice. When dst has room for the signature it allocates
// nothing, which matters in a Go guest: an allocation there costs more
// than a host call.
func AppendSign(dst []byte, alg string, key *Key, msg []byte) ([]byte, error) {
	s, err := openSigner(alg, key)
	if err != nil {
		return dst, err
	}
	defer s.Close()
	if _, err := s.Write(msg); err != nil {
		return dst, err
	}
	return s.AppendSign(dst)
}

// A Signer signs (or MACs) a stream of data with a key on the host. Write
// the data, then call Sign; it implements [io.Writer].
//
// Signatures have the fixed length of [Signer.Size]: ES256, ES384 and
// ES512 give r‖s of 64, 96 and 132 bytes, as JWS wants (not ASN.1); EdDSA
// 64 bytes; RS* and PS* the key's modulus length (PSS with a salt as long
// as the hash); HS* the hash length.
//
// The wasi_ephemeral_crypto API has no verification: verify in the guest
// with the standard library and [Key.PublicKey], or compare MACs with
// [crypto/hmac.Equal].
type Signer struct {
	state uint32 // a sign_state_signing handle
	alg   string
	size  int
}

// NewSigner opens a signing state for alg with key and begins a message.
// For RSA keys it also reads the public key once, to learn the signature
// length from the modulus.
func NewSigner(alg string, key *Key) (*Signer, error) {
	s, err := openSigner(alg, key)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// openSigner is NewSigner without the allocation: the Signer is the
// caller's value.
func openSigner(alg string, key *Key) (Signer, error) {
	var initial uint32
	if err := check("sign_open", abi.SignOpen(stringPtr(alg), size(alg), key.Handle(), &initial)); err != nil {
		return Signer{}, err
	}
	sigSize, err := signerSize(alg, key)
	if err != nil {
		abi.SignClose(initial)
		return Signer{}, err
	}
	var signing uint32
	if err := check("sign_begin", abi.SignBegin(initial, &signing)); err != nil {
		abi.SignClose(initial)
		return Signer{}, err
	}
	return Signer{state: signing, alg: alg, size: sigSize}, nil
}

// signerSize is the signature length for alg with key. The host would
// write a prefix into a shorter buffer and refuse a longer one, so the
// length must be known exactly.
func signerSize(alg string, key *Key) (int, error) {
	if n := signatureSize(alg); n > 0 {
		return n, nil
	}
	if !isRSA(alg) {
		return 0, &CallError{Func: "NewSigner", Detail: "unknown signature length for " + strconv.Quote(alg), Errno: ErrnoNotsup}
	}
	spki, err := key.PublicKey()
	if err != nil {
		return 0, err
	}
	n, err := rsaModulusLen(spki)
	if err != nil {
		return 0, &CallError{Func: "NewSigner", Detail: err.Error(), Errno: ErrnoInval}
	}
	return n, nil
}

// Algorithm returns the algorithm name given to [NewSigner].
func (s *Signer) Algorithm() string { return s.alg }

// Size returns the length of the signatures in bytes.
func (s *Signer) Size() int { return s.size }

// Write adds p to the message. It writes all of p or returns an error; the
// host may limit how much one message may buffer (msgsize).
func (s *Signer) Write(p []byte) (int, error) {
	if err := check("sign_update", abi.SignUpdate(s.state, bytesPtr(p), size(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Sign returns the signature of everything written since [NewSigner] or
// the last [Signer.Reset]. It may be called again, and writing may go on.
func (s *Signer) Sign() ([]byte, error) {
	return s.AppendSign(nil)
}

// AppendSign is [Signer.Sign] that appends the signature to dst and
// returns the extended slice; on an error it returns dst unchanged. When
// dst has room for the signature it allocates nothing.
func (s *Signer) AppendSign(dst []byte) ([]byte, error) {
	out, sig := sliceForAppend(dst, s.size)
	if err := check("sign", abi.Sign(s.state, bytesPtr(sig), size(sig))); err != nil {
		return dst, err
	}
	return out, nil
}

// Reset drops the data written so far and begins a new message with the
// same key. If it fails, the Signer is closed.
func (s *Signer) Reset() error {
	var initial uint32
	if err := check("sign_end", abi.SignEnd(s.state, &initial)); err != nil {
		return err
	}
	s.state = 0
	if err := check("sign_begin", abi.SignBegin(initial, &s.state)); err != nil {
		abi.SignClose(initial)
		return err
	}
	return nil
}

// Close ends the message and releases the signing state. Further calls
// fail with badf.
func (s *Signer) Close() error {
	var initial uint32
	err := check("sign_end", abi.SignEnd(s.state, &initial))
	s.state = 0
	if err != nil {
		return err
	}
	return check("sign_close", abi.SignClose(initial))
}
