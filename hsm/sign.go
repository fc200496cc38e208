//go:build cgo

package hsm

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// signKey is an ES*, EdDSA, RS* or PS* private key on the token.
//
// ECDSA and RSA hash the message on the host as it comes (SoftHSM2's
// hashed ECDSA mechanisms do not do multi-part, and the spec's repeatable
// sign needs a digest that can be taken any number of times) and give the
// digest to the token: CKM_ECDSA, CKM_RSA_PKCS over the DigestInfo, or
// CKM_RSA_PKCS_PSS with the hash's parameters. EdDSA is pure Ed25519, which
// must see the whole message, so its states buffer it.
type signKey struct {
	keyBase
	mech    uint
	params  []byte           // CK_RSA_PKCS_PSS_PARAMS for PS*, else nil
	newHash func() hash.Hash // nil for EdDSA
	prefix  []byte           // the DigestInfo prefix for RS*, else nil
	size    int              // signature length
	spki    []byte           // the public key; nil when a managed key has none
}

var (
	_ provider.Signer            = (*signKey)(nil)
	_ provider.PublicKeyExporter = (*signKey)(nil)
)

// DigestInfo prefixes of EMSA-PKCS1-v1_5 (RFC 8017 §9.2, note 1): the DER
// of the AlgorithmIdentifier and the OCTET STRING header before the digest.
var digestInfoPrefix = map[string][]byte{
	"SHA-256": {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	"SHA-384": {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	"SHA-512": {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// hostHash returns the constructor of SHA-256/384/512, the PKCS#11 digest
// mechanism and the MGF1 generator of the same hash.
func hostHash(name string) (newHash func() hash.Hash, mech, mgf uint, ok bool) {
	switch name {
	case "SHA-256":
		return sha256.New, pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, true
	case "SHA-384":
		return sha512.New384, pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384, true
	case "SHA-512":
		return sha512.New, pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512, true
	}
	return nil, 0, 0, false
}

// setMechanism sets the signing mechanism of alg.
func (k *signKey) setMechanism(alg provider.Algorithm) error {
	if alg.Curve == "Ed25519" {
		k.mech = ckmEdDSA
		return nil
	}
	newHash, hashMech, mgf, ok := hostHash(alg.Hash)
	if !ok {
		return errorf(alg, provider.ErrNotSupported, "no hash %q", alg.Hash)
	}
	k.newHash = newHash
	switch {
	case alg.IsPSS():
		// RFC 7518 §3.5: MGF1 with the same hash, a salt as long as the
		// hash.
		k.mech, k.params = pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(hashMech, mgf, uint(newHash().Size()))
	case alg.IsRSA():
		k.mech, k.prefix = pkcs11.CKM_RSA_PKCS, digestInfoPrefix[alg.Hash]
	default:
		k.mech = pkcs11.CKM_ECDSA
	}
	return nil
}

// PublicKeyDER implements provider.PublicKeyExporter with the public key
// read from the token when the key was made or opened.
func (k *signKey) PublicKeyDER(context.Context) ([]byte, error) { return k.publicKeyDER(k.spki) }

// NewSignState implements provider.Signer. EdDSA states buffer the message
// up to maxBuffered bytes; the others hash it on the host as it comes.
func (k *signKey) NewSignState(ctx context.Context, maxBuffered int) (provider.SignState, error) {
	if err := k.alive(provider.OpSign); err != nil {
		return nil, err
	}
	if maxBuffered < 0 {
		return nil, k.errorf(provider.ErrInvalidArgument, "negative buffer limit")
	}
	if k.newHash == nil {
		return &bufferState{key: k, Buffer: provider.Buffer{Max: maxBuffered, Budget: provider.BudgetFrom(ctx)}}, nil
	}
	h := k.newHash()
	return &digestState{key: k, h: h, sum: make([]byte, 0, len(k.prefix)+h.Size())}, nil
}

// signData signs data (a message, a digest or a DigestInfo, as the
// mechanism wants) on the token, charging what it stages to budget (nil:
// nothing) until the body ends.
func (k *signKey) signData(ctx context.Context, budget *provider.Budget, dst, data []byte) ([]byte, error) {
	if err := k.acquire(provider.OpSign); err != nil {
		return nil, err
	}
	defer k.release()
	sig, err := k.runOp(ctx, budget, opSign, k.names.sign, mechanismList(k.mech, k.params), data, k.size, nil, nil)
	if err != nil {
		return nil, err
	}
	if len(sig) != k.size {
		return nil, k.errorf(provider.ErrDevice, "the token made a signature of %d bytes, want %d", len(sig), k.size)
	}
	return append(dst, sig...), nil
}

func (k *signKey) signatureSize() int { return k.size }

// tokenSigner is a key whose sign states are bufferStates or
// digestStates.
type tokenSigner interface {
	signData(ctx context.Context, budget *provider.Budget, dst, data []byte) ([]byte, error)
	signatureSize() int
	alive(op provider.Operation) error
	errorf(sentinel error, format string, args ...any) error
}

// digestState is an open ECDSA or RSA signature: the message is hashed on
// the host as it comes, and the digest signed on the token on demand.
type digestState struct {
	key *signKey
	h   hash.Hash // nil once closed
	sum []byte    // prefix‖digest, rebuilt by each Sign
}

func (s *digestState) Update(_ context.Context, p []byte) error {
	if s.h == nil {
		return s.key.errorf(provider.ErrInvalidArgument, "sign state closed")
	}
	if err := s.key.alive(provider.OpSign); err != nil {
		return err
	}
	s.h.Write(p)
	return nil
}

func (s *digestState) Sign(ctx context.Context, dst []byte) ([]byte, error) {
	if s.h == nil {
		return nil, s.key.errorf(provider.ErrInvalidArgument, "sign state closed")
	}
	// Sum works on a copy of the hash state: the state goes on.
	s.sum = s.h.Sum(append(s.sum[:0], s.key.prefix...))
	return s.key.signData(ctx, nil, dst, s.sum) // a digest: nothing sized by the guest
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

// bufferState is an open signature whose mechanism needs the whole
// message at once: EdDSA (pure Ed25519), and HMAC on the token (a token
// HMAC cannot be copied to answer repeated signs). It buffers the data up
// to max bytes, and zeroes the buffer whenever it drops it. The buffer's
// capacity is charged to the budget of the context that opened the state,
// from before it is allocated until the state closes.
type bufferState struct {
	key tokenSigner
	provider.Buffer
	closed bool
}

func (s *bufferState) Update(_ context.Context, p []byte) error {
	if s.closed {
		return s.key.errorf(provider.ErrInvalidArgument, "sign state closed")
	}
	if err := s.key.alive(provider.OpSign); err != nil {
		return err
	}
	if len(p) > s.Max-len(s.Bytes()) {
		return s.key.errorf(provider.ErrMessageTooLarge, "message of more than %d bytes", s.Max)
	}
	if err := s.Append(p); err != nil {
		return s.key.errorf(err, "message buffer")
	}
	return nil
}

func (s *bufferState) Sign(ctx context.Context, dst []byte) ([]byte, error) {
	if s.closed {
		return nil, s.key.errorf(provider.ErrInvalidArgument, "sign state closed")
	}
	return s.key.signData(ctx, s.Budget, dst, s.Bytes())
}

func (s *bufferState) Size() int { return s.key.signatureSize() }

func (s *bufferState) Reset() {
	s.Buffer.Reset()
}

func (s *bufferState) Close() error {
	s.Drop()
	s.closed = true
	return nil
}
