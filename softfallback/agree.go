package softfallback

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/provider/keyimport"
)

// agreementKey is an ECDH-P256, ECDH-P384 or X25519 private key.
type agreementKey struct {
	asymmetric
	curve    ecdh.Curve
	peerSize int              // length of a peer's public key
	priv     *ecdh.PrivateKey // nil once destroyed
}

var (
	_ provider.KeyAgreementKey   = (*agreementKey)(nil)
	_ provider.PublicKeyExporter = (*agreementKey)(nil)
)

func newAgreementKey(alg provider.Algorithm, input []byte) (*agreementKey, error) {
	k := &agreementKey{asymmetric: asymmetric{keyBase: keyBase{alg: alg}}}
	switch alg.Curve {
	case "P-256":
		k.curve, k.peerSize = ecdh.P256(), 1+2*32
	case "P-384":
		k.curve, k.peerSize = ecdh.P384(), 1+2*48
	case "X25519":
		k.curve, k.peerSize = ecdh.X25519(), 32
	default:
		return nil, errorf(alg, provider.ErrNotSupported, "no curve %q", alg.Curve)
	}
	if input == nil {
		priv, err := k.curve.GenerateKey(rand.Reader)
		if err != nil {
			return nil, errorf(alg, provider.ErrDevice, "generate: %v", err)
		}
		k.priv = priv
	} else {
		parsed, err := keyimport.Parse(alg, input)
		if err != nil {
			return nil, importError(alg, err)
		}
		k.priv = parsed.(*ecdh.PrivateKey)
	}
	if err := k.setPublic(k.priv.PublicKey()); err != nil {
		return nil, err
	}
	k.wipe = func() { k.priv = nil }
	return k, nil
}

// SharedSecret implements provider.KeyAgreementKey. peerPublic is an
// uncompressed SEC1 point for ECDH-P256/P384 and 32 bytes for X25519; a
// malformed point, a point off the curve, or an X25519 peer key of low order
// (an all-zero secret) is an invalid argument.
func (k *agreementKey) SharedSecret(_ context.Context, peerPublic []byte) ([]byte, error) {
	if err := k.acquire(); err != nil {
		return nil, err
	}
	defer k.release()
	if len(peerPublic) != k.peerSize {
		return nil, errorf(k.alg, provider.ErrInvalidArgument, "peer public key of %d bytes, want %d", len(peerPublic), k.peerSize)
	}
	peer, err := k.curve.NewPublicKey(peerPublic)
	if err != nil {
		return nil, errorf(k.alg, provider.ErrInvalidArgument, "peer public key: %v", err)
	}
	secret, err := k.priv.ECDH(peer)
	if err != nil {
		return nil, errorf(k.alg, provider.ErrInvalidArgument, "peer public key: %v", err)
	}
	return secret, nil
}
