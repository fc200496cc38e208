package providertest

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
)

// testSupports: Supports never reports an operation that does not apply
// to an algorithm, nor anything for an algorithm that is not exactly a
// registry entry.
func (s *suite) testSupports(t *testing.T) {
	for _, a := range provider.Algorithms() {
		applies := Operations(a)
		for _, op := range AllOperations() {
			if !slices.Contains(applies, op) {
				assert.Equal(t, provider.Unsupported, s.b.Supports(a, op), "%s %s does not apply", a, op)
			}
		}
	}
	for _, a := range []provider.Algorithm{
		{},
		{Name: "SHA-256", Kind: provider.KindHash, OutputSize: 20},
		{Name: "A128GCM", Kind: provider.KindAEAD, KeySize: 8},
		{Name: "MD5", Kind: provider.KindHash, OutputSize: 16},
	} {
		for _, op := range AllOperations() {
			assert.Equal(t, provider.Unsupported, s.b.Supports(a, op), "%+v %s", a, op)
		}
	}
}

// testRefusals: a key creation that Supports reports unsupported fails
// with ErrNotSupported, however good the request. Algorithms served only
// in part (some operation of their keys unsupported) are left to the
// router, which never places keys of them here; they are logged.
func (s *suite) testRefusals(t *testing.T) {
	for _, a := range keyed() {
		for _, create := range []provider.Operation{provider.OpGenerate, provider.OpImport} {
			if create == provider.OpGenerate && a.Kind == provider.KindKDF {
				continue // no request generates HKDF keys: see the import rules
			}
			switch {
			case s.b.Supports(a, create) == provider.Unsupported:
				req := request(t, a, create)
				k, err := s.b.GenerateKey(ctx, req)
				require.Nil(t, k, "%s %s", a, create)
				s.refused(t, err, provider.ErrNotSupported, req.Input)
			case !Serves(s.b, a, create):
				t.Logf("%s: %s is supported but not every operation of its keys; not tested here", a, create)
			}
		}
	}
}

// testImportRules names the refusal of every malformed or mismatched key
// request (package keyimport's rules and the contract's). An algorithm the
// backend does not serve may be refused with ErrNotSupported before its
// input is judged.
func (s *suite) testImportRules(t *testing.T) {
	p256, p384, p521 := hostKey(t, "P-256"), hostKey(t, "P-384"), hostKey(t, "P-521")
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	der := map[string][]byte{
		"P-256": PKCS8(t, p256), "P-384": PKCS8(t, p384), "P-521": PKCS8(t, p521),
		"Ed25519": PKCS8(t, hostKey(t, "Ed25519")), "X25519": PKCS8(t, hostKey(t, "X25519")),
		"RSA-1024": PKCS8(t, rsa1024), "RSA-2048": RSAKey(t),
	}
	garbage := []byte("not a key at all")
	trailing := append(bytes.Clone(der["P-256"]), 0)
	truncated := der["P-256"][:len(der["P-256"])-1]
	none := provider.Algorithm{}

	for _, tc := range []struct {
		name  string
		alg   provider.Algorithm
		input []byte
		nonce []byte
		hash  provider.Algorithm
		want  error
	}{
		{"A128GCM 15 bytes", alg("A128GCM"), make([]byte, 15), nil, none, provider.ErrInvalidArgument},
		{"A128GCM 17 bytes", alg("A128GCM"), make([]byte, 17), nil, none, provider.ErrInvalidArgument},
		{"A128GCM empty input", alg("A128GCM"), []byte{}, nil, none, provider.ErrInvalidArgument},
		{"A192GCM 32 bytes", alg("A192GCM"), make([]byte, 32), nil, none, provider.ErrInvalidArgument},
		{"A192GCM 24 bytes", alg("A192GCM"), make([]byte, 24), nil, none, nil},
		{"A256GCM 16 bytes", alg("A256GCM"), make([]byte, 16), nil, none, provider.ErrInvalidArgument},
		{"A256GCM 32 bytes", alg("A256GCM"), make([]byte, 32), nil, none, nil},
		{"HS256 31 bytes", alg("HS256"), make([]byte, 31), nil, none, provider.ErrInvalidArgument},
		{"HS256 32 bytes", alg("HS256"), make([]byte, 32), nil, none, nil},
		{"HS256 100 bytes", alg("HS256"), make([]byte, 100), nil, none, nil},
		{"HS256 1000 bytes", alg("HS256"), make([]byte, 1000), nil, none, nil},
		{"HS384 47 bytes", alg("HS384"), make([]byte, 47), nil, none, provider.ErrInvalidArgument},
		{"HS512 63 bytes", alg("HS512"), make([]byte, 63), nil, none, provider.ErrInvalidArgument},
		{"HS256 empty input", alg("HS256"), []byte{}, nil, none, provider.ErrInvalidArgument},
		{"ES256 garbage", alg("ES256"), garbage, nil, none, provider.ErrInvalidArgument},
		{"ES256 empty input", alg("ES256"), []byte{}, nil, none, provider.ErrInvalidArgument},
		{"ES256 trailing byte", alg("ES256"), trailing, nil, none, provider.ErrInvalidArgument},
		{"ES256 truncated", alg("ES256"), truncated, nil, none, provider.ErrInvalidArgument},
		{"ES256 P-384 key", alg("ES256"), der["P-384"], nil, none, provider.ErrInvalidArgument},
		{"ES256 Ed25519 key", alg("ES256"), der["Ed25519"], nil, none, provider.ErrInvalidArgument},
		{"ES256 RSA key", alg("ES256"), der["RSA-2048"], nil, none, provider.ErrInvalidArgument},
		{"ES256 X25519 key", alg("ES256"), der["X25519"], nil, none, provider.ErrInvalidArgument},
		{"ES256 P-256 key", alg("ES256"), der["P-256"], nil, none, nil},
		{"ES384 P-256 key", alg("ES384"), der["P-256"], nil, none, provider.ErrInvalidArgument},
		{"ES512 P-384 key", alg("ES512"), der["P-384"], nil, none, provider.ErrInvalidArgument},
		{"ES512 P-521 key", alg("ES512"), der["P-521"], nil, none, nil},
		{"EdDSA P-256 key", alg("EdDSA"), der["P-256"], nil, none, provider.ErrInvalidArgument},
		{"EdDSA X25519 key", alg("EdDSA"), der["X25519"], nil, none, provider.ErrInvalidArgument},
		{"EdDSA raw seed", alg("EdDSA"), make([]byte, 32), nil, none, provider.ErrInvalidArgument},
		{"EdDSA Ed25519 key", alg("EdDSA"), der["Ed25519"], nil, none, nil},
		{"RS256 1024-bit key", alg("RS256"), der["RSA-1024"], nil, none, provider.ErrInvalidArgument},
		{"PS512 1024-bit key", alg("PS512"), der["RSA-1024"], nil, none, provider.ErrInvalidArgument},
		{"RS256 P-256 key", alg("RS256"), der["P-256"], nil, none, provider.ErrInvalidArgument},
		{"PS256 Ed25519 key", alg("PS256"), der["Ed25519"], nil, none, provider.ErrInvalidArgument},
		{"RS384 2048-bit key", alg("RS384"), der["RSA-2048"], nil, none, nil},
		{"ECDH-P256 P-384 key", alg("ECDH-P256"), der["P-384"], nil, none, provider.ErrInvalidArgument},
		{"ECDH-P256 X25519 key", alg("ECDH-P256"), der["X25519"], nil, none, provider.ErrInvalidArgument},
		{"ECDH-P384 garbage", alg("ECDH-P384"), garbage, nil, none, provider.ErrInvalidArgument},
		{"ECDH-P384 P-521 key", alg("ECDH-P384"), der["P-521"], nil, none, provider.ErrInvalidArgument},
		{"ECDH-P384 P-384 key", alg("ECDH-P384"), der["P-384"], nil, none, nil},
		{"X25519 Ed25519 key", alg("X25519"), der["Ed25519"], nil, none, provider.ErrInvalidArgument},
		{"X25519 P-256 key", alg("X25519"), der["P-256"], nil, none, provider.ErrInvalidArgument},
		{"X25519 raw key", alg("X25519"), make([]byte, 32), nil, none, provider.ErrInvalidArgument},
		{"X25519 RSA key", alg("X25519"), der["RSA-2048"], nil, none, provider.ErrInvalidArgument},
		{"X25519 X25519 key", alg("X25519"), der["X25519"], nil, none, nil},

		{"A128GCM generate with nonce", alg("A128GCM"), nil, make([]byte, 12), none, provider.ErrInvalidArgument},
		{"ES256 empty nonce", alg("ES256"), der["P-256"], []byte{}, none, provider.ErrInvalidArgument},
		{"HS256 with hash", alg("HS256"), nil, nil, alg("SHA-256"), provider.ErrInvalidArgument},
		{"X25519 with hash", alg("X25519"), nil, nil, alg("SHA-512"), provider.ErrInvalidArgument},

		{"HKDF without input", alg("HKDF"), nil, nil, alg("SHA-256"), provider.ErrInvalidArgument},
		{"HKDF without hash", alg("HKDF"), []byte("ikm"), nil, none, provider.ErrInvalidArgument},
		{"HKDF with SHA-1", alg("HKDF"), []byte("ikm"), nil, alg("SHA-1"), provider.ErrInvalidArgument},
		{"HKDF with SHA-224", alg("HKDF"), []byte("ikm"), nil, alg("SHA-224"), provider.ErrInvalidArgument},
		{"HKDF with SHA3-256", alg("HKDF"), []byte("ikm"), nil, alg("SHA3-256"), provider.ErrInvalidArgument},
		{"HKDF with SHAKE128", alg("HKDF"), []byte("ikm"), nil, alg("SHAKE128"), provider.ErrInvalidArgument},
		{"HKDF with HS256 as hash", alg("HKDF"), []byte("ikm"), nil, alg("HS256"), provider.ErrInvalidArgument},
		{"HKDF with forged hash", alg("HKDF"), []byte("ikm"), nil, provider.Algorithm{Name: "SHA-256", Kind: provider.KindHash}, provider.ErrInvalidArgument},
		{"HKDF empty IKM and salt", alg("HKDF"), []byte{}, []byte{}, alg("SHA-384"), nil},
		{"HKDF SHA-512", alg("HKDF"), []byte("ikm"), []byte("salt"), alg("SHA-512"), nil},
		{"HKDF long salt", alg("HKDF"), []byte("ikm"), make([]byte, 200), alg("SHA-256"), nil},

		{"hash as key", alg("SHA-256"), nil, nil, none, provider.ErrNotSupported},
		{"XOF as key", alg("SHAKE256"), []byte("x"), nil, none, provider.ErrNotSupported},
		{"zero algorithm", none, nil, nil, none, provider.ErrNotSupported},
		{"forged algorithm", provider.Algorithm{Name: "A128GCM", Kind: provider.KindAEAD, KeySize: 8}, nil, nil, none, provider.ErrNotSupported},
		{"unregistered algorithm", provider.Algorithm{Name: "ChaCha20-Poly1305", Kind: provider.KindAEAD}, nil, nil, none, provider.ErrNotSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			create := provider.OpImport
			if tc.input == nil {
				create = provider.OpGenerate
			}
			unsupported := s.b.Supports(tc.alg, create) == provider.Unsupported
			want := tc.want
			if want == nil && unsupported {
				want = provider.ErrNotSupported
			}
			k, err := s.b.GenerateKey(ctx, provider.KeyRequest{Algorithm: tc.alg, Input: tc.input, Nonce: tc.nonce, Hash: tc.hash})
			if want == nil {
				require.NoError(t, err)
				require.Equal(t, tc.alg, k.Algorithm())
				destroy(t, k)
				return
			}
			require.Nil(t, k)
			if unsupported && errors.Is(err, provider.ErrNotSupported) {
				want = provider.ErrNotSupported
			}
			s.refused(t, err, want, tc.input)
		})
	}
}

// testExport imports keys made on the host and checks that the exported
// SubjectPublicKeyInfo is theirs, in a slice the caller owns.
func (s *suite) testExport(t *testing.T) {
	p256, p384, p521 := hostKey(t, "P-256").(*ecdsa.PrivateKey), hostKey(t, "P-384").(*ecdsa.PrivateKey), hostKey(t, "P-521").(*ecdsa.PrivateKey)
	ed := hostKey(t, "Ed25519").(ed25519.PrivateKey)
	x := hostKey(t, "X25519").(*ecdh.PrivateKey)
	e256, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	for _, tc := range []struct {
		name      string
		alg       string
		priv, pub any
	}{
		{"ES256", "ES256", p256, p256.Public()}, {"ES384", "ES384", p384, p384.Public()}, {"ES512", "ES512", p521, p521.Public()},
		{"EdDSA", "EdDSA", ed, ed.Public()},
		{"ECDH-P256 from an EC key", "ECDH-P256", p256, p256.Public()},
		{"ECDH-P256 from an ECDH key", "ECDH-P256", e256, e256.PublicKey()},
		{"ECDH-P384", "ECDH-P384", p384, p384.Public()},
		{"X25519", "X25519", x, x.PublicKey()},
	} {
		if !s.serves(t, alg(tc.alg), provider.OpImport) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			k := s.newKey(t, provider.KeyRequest{Algorithm: alg(tc.alg), Input: PKCS8(t, tc.priv)})
			want, err := x509.MarshalPKIXPublicKey(tc.pub)
			require.NoError(t, err)
			got, err := k.(provider.PublicKeyExporter).PublicKeyDER(ctx)
			require.NoError(t, err)
			require.Equal(t, want, got)
			// The caller owns the returned slice.
			clear(got)
			again, err := k.(provider.PublicKeyExporter).PublicKeyDER(ctx)
			require.NoError(t, err)
			require.Equal(t, want, again)
		})
	}
}

// testInputNotRetained: the backend copies what it keeps, so clobbering
// the request's slices afterwards changes nothing.
func (s *suite) testInputNotRetained(t *testing.T) {
	msg := []byte("message")
	if s.serves(t, alg("HS256"), provider.OpImport) {
		raw := bytes.Repeat([]byte{7}, 32)
		k := s.newKey(t, provider.KeyRequest{Algorithm: alg("HS256"), Input: raw})
		before := Sign(t, k, msg)
		clear(raw)
		require.Equal(t, before, Sign(t, k, msg), "HS256")
	}
	if s.serves(t, alg("HKDF"), provider.OpImport) {
		ikm, salt := []byte("input keying material"), []byte("salt")
		k := s.newKey(t, provider.KeyRequest{Algorithm: alg("HKDF"), Input: ikm, Nonce: salt, Hash: alg("SHA-256")}).(provider.HKDFKey)
		out1 := make([]byte, 42)
		require.NoError(t, k.Expand(ctx, []byte("info"), out1))
		clear(ikm)
		clear(salt)
		out2 := make([]byte, 42)
		require.NoError(t, k.Expand(ctx, []byte("info"), out2))
		require.Equal(t, out1, out2, "HKDF")
	}
	if s.serves(t, alg("EdDSA"), provider.OpImport) {
		der := PKCS8(t, hostKey(t, "Ed25519"))
		k := s.newKey(t, provider.KeyRequest{Algorithm: alg("EdDSA"), Input: der})
		before := Sign(t, k, msg)
		clear(der)
		require.Equal(t, before, Sign(t, k, msg), "EdDSA")
	}
	for _, name := range []string{"X25519", "ECDH-P256"} {
		a := alg(name)
		if !s.serves(t, a, provider.OpImport) {
			continue
		}
		der := PKCS8(t, hostKey(t, map[string]string{"X25519": "X25519", "ECDH-P256": "P-256"}[name]))
		k := s.newKey(t, provider.KeyRequest{Algorithm: a, Input: der}).(provider.KeyAgreementKey)
		peer := peerPoint(t, a)
		s1, err := k.SharedSecret(ctx, peer)
		require.NoError(t, err)
		clear(der)
		s2, err := k.SharedSecret(ctx, peer)
		require.NoError(t, err)
		require.Equal(t, s1, s2, name)
	}
	if s.serves(t, alg("A128GCM"), provider.OpImport) {
		raw := bytes.Repeat([]byte{9}, 16)
		k := s.newKey(t, provider.KeyRequest{Algorithm: alg("A128GCM"), Input: raw}).(provider.AEADKey)
		nonce := make([]byte, 12)
		ct1, err := k.Seal(ctx, nil, nonce, msg, nil)
		require.NoError(t, err)
		clear(raw)
		ct2, err := k.Seal(ctx, nil, nonce, msg, nil)
		require.NoError(t, err)
		require.Equal(t, ct1, ct2, "A128GCM")
	}
}

// testKeys: each kind of key implements its operations, names its
// algorithm and backend, and only asymmetric keys export a public key.
// After Destroy, every use of the key and of states opened on it fails
// with ErrInvalidArgument ("key destroyed"), and so does a second Destroy.
func (s *suite) testKeys(t *testing.T) {
	for _, a := range keyed() {
		if _, ok := s.creation(t, a); !ok {
			continue
		}
		t.Run(a.Name, func(t *testing.T) {
			k := s.key(t, a)
			assert.Equal(t, a, k.Algorithm())
			assert.Equal(t, s.b.Name(), k.Backend())
			_, exporter := k.(provider.PublicKeyExporter)
			assert.Equal(t, !a.Kind.Symmetric(), exporter, "PublicKeyExporter")
			var ok bool
			switch a.Kind {
			case provider.KindAEAD:
				_, ok = k.(provider.AEADKey)
			case provider.KindSignature, provider.KindMAC:
				_, ok = k.(provider.Signer)
			case provider.KindKDF:
				_, ok = k.(provider.HKDFKey)
			case provider.KindKeyAgreement:
				_, ok = k.(provider.KeyAgreementKey)
			}
			require.True(t, ok, "interface of kind %s", a.Kind)

			var st provider.SignState
			if sk, ok := k.(provider.Signer); ok {
				var err error
				st, err = sk.NewSignState(ctx, 100)
				require.NoError(t, err)
				require.NoError(t, st.Update(ctx, []byte("data")))
			}
			require.NoError(t, k.Destroy(ctx))

			var errs []error
			errs = append(errs, k.Destroy(ctx))
			switch k := k.(type) {
			case provider.AEADKey:
				_, err := k.Seal(ctx, nil, make([]byte, 12), nil, nil)
				errs = append(errs, err)
				_, err = k.Open(ctx, nil, make([]byte, 12), make([]byte, 16), nil)
				errs = append(errs, err)
			case provider.Signer:
				_, err := k.NewSignState(ctx, 100)
				errs = append(errs, err, st.Update(ctx, []byte("x")))
				_, err = st.Sign(ctx, nil)
				errs = append(errs, err)
			case provider.HKDFKey:
				errs = append(errs, k.Expand(ctx, nil, make([]byte, 16)))
			case provider.KeyAgreementKey:
				_, err := k.SharedSecret(ctx, peerPoint(t, a))
				errs = append(errs, err)
			}
			if e, ok := k.(provider.PublicKeyExporter); ok {
				_, err := e.PublicKeyDER(ctx)
				errs = append(errs, err)
			}
			for i, err := range errs {
				require.ErrorIs(t, err, provider.ErrInvalidArgument, "use %d", i)
				require.Contains(t, err.Error(), "key destroyed", "use %d", i)
				require.Contains(t, err.Error(), s.opts.ErrorPrefix, "use %d", i)
			}
			if st != nil {
				require.NoError(t, st.Close())
			}
		})
	}
}

// peerPoint is a valid peer public key for a key-agreement algorithm: an
// uncompressed point, or 32 bytes for X25519.
func peerPoint(t testing.TB, a provider.Algorithm) []byte {
	t.Helper()
	switch k := hostKey(t, a.Curve).(type) {
	case *ecdsa.PrivateKey:
		e, err := k.ECDH()
		require.NoError(t, err)
		return e.PublicKey().Bytes()
	case *ecdh.PrivateKey:
		return k.PublicKey().Bytes()
	}
	t.Fatalf("no peer point for %s", a)
	return nil
}

// testGenerate makes one key of each algorithm that the backend generates
// (one RSA key only: generation is slow) and uses it.
func (s *suite) testGenerate(t *testing.T) {
	rsaDone := false
	for _, a := range keyed() {
		if a.Kind == provider.KindKDF {
			continue
		}
		if !s.serves(t, a, provider.OpGenerate) || (a.IsRSA() && rsaDone) {
			continue
		}
		rsaDone = rsaDone || a.IsRSA()
		t.Run(a.Name, func(t *testing.T) {
			k := s.newKey(t, provider.KeyRequest{Algorithm: a})
			msg := []byte("generated")
			switch a.Kind {
			case provider.KindAEAD:
				ak := k.(provider.AEADKey)
				nonce := make([]byte, 12)
				ct, err := ak.Seal(ctx, nil, nonce, msg, nil)
				require.NoError(t, err)
				require.Len(t, ct, len(msg)+a.TagSize)
				pt, err := ak.Open(ctx, nil, nonce, ct, nil)
				require.NoError(t, err)
				require.Equal(t, msg, pt)
			case provider.KindMAC:
				require.Len(t, Sign(t, k, msg), a.OutputSize)
			case provider.KindSignature:
				pub := PublicKey(t, k)
				if a.IsRSA() {
					r := pub.(*rsa.PublicKey)
					require.Equal(t, 2048, r.N.BitLen())
					require.Equal(t, 65537, r.E)
				}
				require.True(t, Verify(a, pub, msg, Sign(t, k, msg)))
			case provider.KindKeyAgreement:
				other := s.newKey(t, provider.KeyRequest{Algorithm: a})
				s1 := sharedWith(t, k, other)
				require.Equal(t, s1, sharedWith(t, other, k))
				require.Len(t, s1, a.OutputSize)
			}
		})
	}
}

// sharedWith derives k's secret with the public key of other, taken from
// its exported SubjectPublicKeyInfo.
func sharedWith(t testing.TB, k, other provider.Key) []byte {
	t.Helper()
	s, err := k.(provider.KeyAgreementKey).SharedSecret(ctx, rawPublic(t, PublicKey(t, other)))
	require.NoError(t, err)
	return s
}

// rawPublic is the form SharedSecret takes of a parsed public key.
func rawPublic(t testing.TB, pub any) []byte {
	t.Helper()
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		e, err := p.ECDH()
		require.NoError(t, err)
		return e.Bytes()
	case *ecdh.PublicKey:
		return p.Bytes()
	}
	t.Fatalf("no key-agreement public key: %T", pub)
	return nil
}

// testRouter places every algorithm through a provider.Router whose
// primary is the backend, as the host will: what the backend serves lands
// on it, the rest is not supported.
func (s *suite) testRouter(t *testing.T) {
	r, err := provider.NewRouter(provider.RouterConfig{Primary: s.b})
	require.NoError(t, err)
	for _, a := range provider.Algorithms() {
		if !a.Kind.Keyed() {
			h, err := r.NewHash(ctx, a)
			if s.b.Supports(a, provider.OpHash) == provider.Unsupported {
				require.ErrorIs(t, err, provider.ErrNotSupported, a.Name)
				continue
			}
			require.NoError(t, err, a.Name)
			require.NoError(t, h.Close())
			continue
		}
		for _, create := range []provider.Operation{provider.OpGenerate, provider.OpImport} {
			if create == provider.OpGenerate && a.IsRSA() {
				continue // slow; TestGenerate makes one RSA key
			}
			k, err := r.GenerateKey(ctx, request(t, a, create))
			if !Serves(s.b, a, create) {
				// HKDF keys are never generated.
				require.ErrorIs(t, err, provider.ErrNotSupported, "%s %s", a, create)
				continue
			}
			require.NoError(t, err, "%s %s", a, create)
			require.Equal(t, s.b.Name(), k.Backend())
			destroy(t, k)
		}
	}
}

// testConcurrentDestroy runs operations on shared keys from several
// goroutines while another destroys them; run with -race. Every operation
// either succeeds or reports the destroyed key.
func (s *suite) testConcurrentDestroy(t *testing.T) {
	for _, name := range []string{"HS256", "EdDSA", "ES256", "A128GCM", "HKDF", "X25519", "ECDH-P256"} {
		a := alg(name)
		if _, ok := s.creation(t, a); !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			k := s.key(t, a)
			var peer []byte
			if a.Kind == provider.KindKeyAgreement {
				peer = peerPoint(t, a)
			}
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for range 20 {
						var err error
						switch k := k.(type) {
						case provider.Signer:
							var st provider.SignState
							if st, err = k.NewSignState(ctx, 64); err == nil {
								if err = st.Update(ctx, []byte("data")); err == nil {
									_, err = st.Sign(ctx, nil)
								}
								assert.NoError(t, st.Close())
							}
						case provider.AEADKey:
							_, err = k.Seal(ctx, nil, make([]byte, 12), []byte("data"), nil)
						case provider.HKDFKey:
							err = k.Expand(ctx, nil, make([]byte, 32))
						case provider.KeyAgreementKey:
							_, err = k.SharedSecret(ctx, peer)
						}
						if err != nil {
							assert.ErrorIs(t, err, provider.ErrInvalidArgument)
							assert.Contains(t, err.Error(), "key destroyed")
						}
					}
				})
			}
			wg.Go(func() { assert.NoError(t, k.Destroy(ctx)) })
			wg.Wait()
		})
	}
}
