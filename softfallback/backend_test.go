package softfallback_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/softfallback"
)

var allOps = []provider.Operation{
	provider.OpHash, provider.OpGenerate, provider.OpImport, provider.OpSign,
	provider.OpEncrypt, provider.OpDecrypt, provider.OpDerive, provider.OpExportPublic,
}

// TestSupports is the provider.Backend contract check: the backend serves
// every registered algorithm, with exactly the operations that apply.
func TestSupports(t *testing.T) {
	b := softfallback.New()
	require.Equal(t, "software", b.Name())
	for _, a := range provider.Algorithms() {
		want := map[provider.Operation]bool{}
		switch {
		case !a.Kind.Keyed():
			want[provider.OpHash] = true
		case a.Kind == provider.KindKDF:
			want[provider.OpImport], want[provider.OpDerive] = true, true
		default:
			want[provider.OpGenerate], want[provider.OpImport] = true, true
			for _, op := range provider.KeyOperations(a) {
				want[op] = true
			}
		}
		for _, op := range allOps {
			exp := provider.Unsupported
			if want[op] {
				exp = provider.Software
			}
			assert.Equal(t, exp, b.Supports(a, op), "%s %s", a, op)
		}
	}
	// What the router needs to place keys here.
	for _, a := range keyedAlgorithms() {
		create := provider.OpGenerate
		if a.Kind == provider.KindKDF {
			create = provider.OpImport
		}
		assert.Equal(t, provider.Software, b.Supports(a, create), "%s %s", a, create)
		for _, op := range provider.KeyOperations(a) {
			assert.Equal(t, provider.Software, b.Supports(a, op), "%s %s", a, op)
		}
	}
	forged := provider.Algorithm{Name: "SHA-256", Kind: provider.KindHash, OutputSize: 20}
	assert.Equal(t, provider.Unsupported, b.Supports(forged, provider.OpHash))
	assert.Equal(t, provider.Unsupported, b.Supports(provider.Algorithm{}, provider.OpHash))
}

// TestKeyInterfaces: each kind of key implements its operations, and only
// asymmetric keys export a public key.
func TestKeyInterfaces(t *testing.T) {
	b := softfallback.New()
	for _, a := range keyedAlgorithms() {
		t.Run(a.Name, func(t *testing.T) {
			k := keyFor(t, b, a)
			assert.Equal(t, a, k.Algorithm())
			assert.Equal(t, "software", k.Backend())
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
			assert.True(t, ok, "interface of kind %s", a.Kind)
		})
	}
}

// TestGenerate makes one key of each algorithm that can be generated (one
// RSA key only: generation is slow) and uses it.
func TestGenerate(t *testing.T) {
	b := softfallback.New()
	for _, a := range keyedAlgorithms() {
		if a.Kind == provider.KindKDF || (a.IsRSA() && a.Name != "PS256") {
			continue
		}
		t.Run(a.Name, func(t *testing.T) {
			k := generate(t, b, provider.KeyRequest{Algorithm: a})
			msg := []byte("generated")
			switch a.Kind {
			case provider.KindAEAD:
				ak := k.(provider.AEADKey)
				nonce := make([]byte, 12)
				ct, err := ak.Seal(ctx, nil, nonce, msg, nil)
				require.NoError(t, err)
				pt, err := ak.Open(ctx, nil, nonce, ct, nil)
				require.NoError(t, err)
				require.Equal(t, msg, pt)
			case provider.KindMAC:
				require.Len(t, sign(t, k, msg), a.OutputSize)
			case provider.KindSignature:
				pub := publicKey(t, k)
				if a.IsRSA() {
					require.Equal(t, 2048, pub.(*rsa.PublicKey).N.BitLen())
				}
				require.True(t, verify(a, pub, msg, sign(t, k, msg)))
			case provider.KindKeyAgreement:
				other := generate(t, b, provider.KeyRequest{Algorithm: a})
				s1 := sharedWith(t, k, other)
				s2 := sharedWith(t, other, k)
				require.Equal(t, s1, s2)
				require.Len(t, s1, a.OutputSize)
			}
		})
	}
}

// sharedWith derives k's secret with the public key of other, taken from
// its exported SPKI.
func sharedWith(t testing.TB, k, other provider.Key) []byte {
	t.Helper()
	pub := publicKey(t, other)
	var raw []byte
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		e, err := p.ECDH()
		require.NoError(t, err)
		raw = e.Bytes()
	case *ecdh.PublicKey:
		raw = p.Bytes()
	}
	s, err := k.(provider.KeyAgreementKey).SharedSecret(ctx, raw)
	require.NoError(t, err)
	return s
}

// TestImport imports keys made on the host and checks that the exported
// SubjectPublicKeyInfo is theirs.
func TestImport(t *testing.T) {
	b := softfallback.New()
	p256, p384, p521 := newECDSAKey(t, elliptic.P256()), newECDSAKey(t, elliptic.P384()), newECDSAKey(t, elliptic.P521())
	ePub, ed, _ := ed25519.GenerateKey(rand.Reader)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	e256, _ := ecdh.P256().GenerateKey(rand.Reader)
	for _, tc := range []struct {
		alg       string
		priv, pub any
	}{
		{"ES256", p256, p256.Public()}, {"ES384", p384, p384.Public()}, {"ES512", p521, p521.Public()},
		{"EdDSA", ed, ePub},
		{"ECDH-P256", p256, p256.Public()}, {"ECDH-P256", e256, e256.PublicKey()}, {"ECDH-P384", p384, p384.Public()},
		{"X25519", x, x.PublicKey()},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			k := importKey(t, b, tc.alg, pkcs8(t, tc.priv))
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

// TestImportErrors names the refusal of every malformed or mismatched key
// request.
func TestImportErrors(t *testing.T) {
	b := softfallback.New()
	p256, p384, p521 := newECDSAKey(t, elliptic.P256()), newECDSAKey(t, elliptic.P384()), newECDSAKey(t, elliptic.P521())
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	der := map[string][]byte{
		"P-256": pkcs8(t, p256), "P-384": pkcs8(t, p384), "P-521": pkcs8(t, p521),
		"Ed25519": pkcs8(t, ed), "X25519": pkcs8(t, x), "RSA-1024": pkcs8(t, rsa1024),
		"RSA-2048": rsaVectorKey(t),
	}
	garbage := []byte("not a key at all")
	trailing := append(bytes.Clone(der["P-256"]), 0)
	truncated := der["P-256"][:len(der["P-256"])-1]

	for _, tc := range []struct {
		name  string
		alg   provider.Algorithm
		input []byte
		nonce []byte
		hash  provider.Algorithm
		want  error
	}{
		{"A128GCM 15 bytes", alg("A128GCM"), make([]byte, 15), nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"A128GCM 17 bytes", alg("A128GCM"), make([]byte, 17), nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"A128GCM empty input", alg("A128GCM"), []byte{}, nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"A192GCM 32 bytes", alg("A192GCM"), make([]byte, 32), nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"A256GCM 16 bytes", alg("A256GCM"), make([]byte, 16), nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"A256GCM 32 bytes", alg("A256GCM"), make([]byte, 32), nil, provider.Algorithm{}, nil},
		{"HS256 31 bytes", alg("HS256"), make([]byte, 31), nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"HS256 32 bytes", alg("HS256"), make([]byte, 32), nil, provider.Algorithm{}, nil},
		{"HS256 100 bytes", alg("HS256"), make([]byte, 100), nil, provider.Algorithm{}, nil},
		{"HS384 47 bytes", alg("HS384"), make([]byte, 47), nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"HS512 63 bytes", alg("HS512"), make([]byte, 63), nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"HS256 empty input", alg("HS256"), []byte{}, nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ES256 garbage", alg("ES256"), garbage, nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ES256 empty input", alg("ES256"), []byte{}, nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ES256 trailing byte", alg("ES256"), trailing, nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ES256 truncated", alg("ES256"), truncated, nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ES256 P-384 key", alg("ES256"), der["P-384"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ES256 Ed25519 key", alg("ES256"), der["Ed25519"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ES256 RSA key", alg("ES256"), der["RSA-2048"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ES256 X25519 key", alg("ES256"), der["X25519"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ES256 P-256 key", alg("ES256"), der["P-256"], nil, provider.Algorithm{}, nil},
		{"ES384 P-256 key", alg("ES384"), der["P-256"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ES512 P-384 key", alg("ES512"), der["P-384"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ES512 P-521 key", alg("ES512"), der["P-521"], nil, provider.Algorithm{}, nil},
		{"EdDSA P-256 key", alg("EdDSA"), der["P-256"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"EdDSA X25519 key", alg("EdDSA"), der["X25519"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"EdDSA raw seed", alg("EdDSA"), make([]byte, 32), nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"RS256 1024-bit key", alg("RS256"), der["RSA-1024"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"PS512 1024-bit key", alg("PS512"), der["RSA-1024"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"RS256 P-256 key", alg("RS256"), der["P-256"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"PS256 Ed25519 key", alg("PS256"), der["Ed25519"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"RS384 2048-bit key", alg("RS384"), der["RSA-2048"], nil, provider.Algorithm{}, nil},
		{"ECDH-P256 P-384 key", alg("ECDH-P256"), der["P-384"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ECDH-P256 X25519 key", alg("ECDH-P256"), der["X25519"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ECDH-P384 garbage", alg("ECDH-P384"), garbage, nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ECDH-P384 P-521 key", alg("ECDH-P384"), der["P-521"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"X25519 Ed25519 key", alg("X25519"), der["Ed25519"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"X25519 P-256 key", alg("X25519"), der["P-256"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"X25519 raw key", alg("X25519"), make([]byte, 32), nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"X25519 RSA key", alg("X25519"), der["RSA-2048"], nil, provider.Algorithm{}, provider.ErrInvalidArgument},

		{"A128GCM generate with nonce", alg("A128GCM"), nil, make([]byte, 12), provider.Algorithm{}, provider.ErrInvalidArgument},
		{"ES256 empty nonce", alg("ES256"), der["P-256"], []byte{}, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"HS256 with hash", alg("HS256"), nil, nil, alg("SHA-256"), provider.ErrInvalidArgument},
		{"X25519 with hash", alg("X25519"), nil, nil, alg("SHA-512"), provider.ErrInvalidArgument},

		{"HKDF without input", alg("HKDF"), nil, nil, alg("SHA-256"), provider.ErrInvalidArgument},
		{"HKDF without hash", alg("HKDF"), []byte("ikm"), nil, provider.Algorithm{}, provider.ErrInvalidArgument},
		{"HKDF with SHA-1", alg("HKDF"), []byte("ikm"), nil, alg("SHA-1"), provider.ErrInvalidArgument},
		{"HKDF with SHA-224", alg("HKDF"), []byte("ikm"), nil, alg("SHA-224"), provider.ErrInvalidArgument},
		{"HKDF with SHA3-256", alg("HKDF"), []byte("ikm"), nil, alg("SHA3-256"), provider.ErrInvalidArgument},
		{"HKDF with SHAKE128", alg("HKDF"), []byte("ikm"), nil, alg("SHAKE128"), provider.ErrInvalidArgument},
		{"HKDF with HS256 as hash", alg("HKDF"), []byte("ikm"), nil, alg("HS256"), provider.ErrInvalidArgument},
		{"HKDF with forged hash", alg("HKDF"), []byte("ikm"), nil, provider.Algorithm{Name: "SHA-256", Kind: provider.KindHash}, provider.ErrInvalidArgument},
		{"HKDF empty IKM and salt", alg("HKDF"), []byte{}, []byte{}, alg("SHA-384"), nil},
		{"HKDF SHA-512", alg("HKDF"), []byte("ikm"), []byte("salt"), alg("SHA-512"), nil},

		{"hash as key", alg("SHA-256"), nil, nil, provider.Algorithm{}, provider.ErrNotSupported},
		{"XOF as key", alg("SHAKE256"), []byte("x"), nil, provider.Algorithm{}, provider.ErrNotSupported},
		{"zero algorithm", provider.Algorithm{}, nil, nil, provider.Algorithm{}, provider.ErrNotSupported},
		{"forged algorithm", provider.Algorithm{Name: "A128GCM", Kind: provider.KindAEAD, KeySize: 8}, nil, nil, provider.Algorithm{}, provider.ErrNotSupported},
		{"unregistered algorithm", provider.Algorithm{Name: "ChaCha20-Poly1305", Kind: provider.KindAEAD}, nil, nil, provider.Algorithm{}, provider.ErrNotSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: tc.alg, Input: tc.input, Nonce: tc.nonce, Hash: tc.hash})
			if tc.want == nil {
				require.NoError(t, err)
				require.NoError(t, k.Destroy(ctx))
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, k)
			assert.Contains(t, err.Error(), "softfallback: ")
			if len(tc.input) >= 8 && !bytes.Equal(tc.input, make([]byte, len(tc.input))) {
				assert.NotContains(t, err.Error(), string(tc.input), "the message must not repeat the input")
			}
		})
	}
}

// TestInputNotRetained: the backend copies what it keeps, so clobbering
// the request's slices afterwards changes nothing.
func TestInputNotRetained(t *testing.T) {
	b := softfallback.New()
	msg := []byte("message")

	hkey := bytes.Repeat([]byte{7}, 32)
	h := importKey(t, b, "HS256", hkey)
	before := sign(t, h, msg)
	clear(hkey)
	require.Equal(t, before, sign(t, h, msg))

	ikm, salt := []byte("input keying material"), []byte("salt")
	k := generate(t, b, provider.KeyRequest{Algorithm: alg("HKDF"), Input: ikm, Nonce: salt, Hash: alg("SHA-256")}).(provider.HKDFKey)
	out1 := make([]byte, 42)
	require.NoError(t, k.Expand(ctx, []byte("info"), out1))
	clear(ikm)
	clear(salt)
	out2 := make([]byte, 42)
	require.NoError(t, k.Expand(ctx, []byte("info"), out2))
	require.Equal(t, out1, out2)

	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	der := pkcs8(t, edPriv)
	e := importKey(t, b, "EdDSA", der)
	before = sign(t, e, msg)
	clear(der)
	require.Equal(t, before, sign(t, e, msg))

	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	der = pkcs8(t, x)
	xk := importKey(t, b, "X25519", der).(provider.KeyAgreementKey)
	peer := bytes.Repeat([]byte{9}, 32)
	s1, err := xk.SharedSecret(ctx, peer)
	require.NoError(t, err)
	clear(der)
	s2, err := xk.SharedSecret(ctx, peer)
	require.NoError(t, err)
	require.Equal(t, s1, s2)

	aes := bytes.Repeat([]byte{9}, 16)
	a := importKey(t, b, "A128GCM", aes).(provider.AEADKey)
	nonce := make([]byte, 12)
	ct1, _ := a.Seal(ctx, nil, nonce, msg, nil)
	clear(aes)
	ct2, _ := a.Seal(ctx, nil, nonce, msg, nil)
	require.Equal(t, ct1, ct2)
}

// TestSignStates checks the SignState contract for every signing
// algorithm: Sign appends, can be repeated, does not disturb the state,
// Update may follow, Reset drops the data.
func TestSignStates(t *testing.T) {
	b := softfallback.New()
	for _, a := range keyedAlgorithms() {
		if a.Kind != provider.KindSignature && a.Kind != provider.KindMAC {
			continue
		}
		t.Run(a.Name, func(t *testing.T) {
			k := keyFor(t, b, a)
			deterministic := a.Kind == provider.KindMAC || a.Name == "EdDSA" || (a.IsRSA() && !a.IsPSS())
			check := func(msg, sig []byte) {
				t.Helper()
				if a.Kind == provider.KindMAC {
					require.Equal(t, sign(t, k, msg), sig)
					return
				}
				require.True(t, verify(a, publicKey(t, k), msg, sig), "signature over %q", msg)
			}
			st, err := k.(provider.Signer).NewSignState(ctx, 1024)
			require.NoError(t, err)
			defer st.Close()
			if a.OutputSize > 0 {
				require.Equal(t, a.OutputSize, st.Size())
			} else {
				require.Equal(t, 256, st.Size())
			}

			require.NoError(t, st.Update(ctx, []byte("hello ")))
			require.NoError(t, st.Update(ctx, []byte("world")))
			prefix := []byte("dst")
			s1, err := st.Sign(ctx, bytes.Clone(prefix))
			require.NoError(t, err)
			require.Equal(t, prefix, s1[:3], "Sign appends to dst")
			require.Len(t, s1, 3+st.Size())
			check([]byte("hello world"), s1[3:])
			s2, err := st.Sign(ctx, nil)
			require.NoError(t, err)
			check([]byte("hello world"), s2)
			if deterministic {
				require.Equal(t, s1[3:], s2, "repeated Sign")
			}

			require.NoError(t, st.Update(ctx, []byte("!")))
			s3, err := st.Sign(ctx, nil)
			require.NoError(t, err)
			check([]byte("hello world!"), s3)

			st.Reset()
			require.NoError(t, st.Update(ctx, []byte("again")))
			s4, err := st.Sign(ctx, nil)
			require.NoError(t, err)
			check([]byte("again"), s4)

			st.Reset()
			s5, err := st.Sign(ctx, nil)
			require.NoError(t, err)
			check([]byte{}, s5)

			require.NoError(t, st.Close())
			require.ErrorIs(t, st.Update(ctx, []byte("x")), provider.ErrInvalidArgument)
			_, err = st.Sign(ctx, nil)
			require.ErrorIs(t, err, provider.ErrInvalidArgument)

			_, err = k.(provider.Signer).NewSignState(ctx, -1)
			require.ErrorIs(t, err, provider.ErrInvalidArgument)
		})
	}
}

// TestEdDSAMessageLimit: an EdDSA state buffers at most maxBuffered bytes;
// an Update that would exceed it fails with ErrMessageTooLarge and buffers
// nothing of that call.
func TestEdDSAMessageLimit(t *testing.T) {
	b := softfallback.New()
	k := generate(t, b, provider.KeyRequest{Algorithm: alg("EdDSA")})
	pub := publicKey(t, k).(ed25519.PublicKey)
	st, err := k.(provider.Signer).NewSignState(ctx, 10)
	require.NoError(t, err)
	defer st.Close()

	for _, tc := range []struct {
		name string
		data string
		want error
		msg  string // everything buffered after the call
	}{
		{"within the limit", "123456", nil, "123456"},
		{"one past the limit", "abcde", provider.ErrMessageTooLarge, "123456"},
		{"exactly to the limit", "abcd", nil, "123456abcd"},
		{"one more byte", "z", provider.ErrMessageTooLarge, "123456abcd"},
		{"empty update at the limit", "", nil, "123456abcd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := st.Update(ctx, []byte(tc.data))
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
			sig, err := st.Sign(ctx, nil)
			require.NoError(t, err)
			require.True(t, ed25519.Verify(pub, []byte(tc.msg), sig))
		})
	}

	zero, err := k.(provider.Signer).NewSignState(ctx, 0)
	require.NoError(t, err)
	defer zero.Close()
	require.ErrorIs(t, zero.Update(ctx, []byte("x")), provider.ErrMessageTooLarge)
	sig, err := zero.Sign(ctx, nil)
	require.NoError(t, err)
	require.True(t, ed25519.Verify(pub, nil, sig))

	// The other algorithms hash as they go: the limit does not apply.
	for _, name := range []string{"ES256", "HS256"} {
		st, err := keyFor(t, b, alg(name)).(provider.Signer).NewSignState(ctx, 1)
		require.NoError(t, err)
		require.NoError(t, st.Update(ctx, make([]byte, 4096)), name)
		require.NoError(t, st.Close())
	}
}

func TestAEAD(t *testing.T) {
	b := softfallback.New()
	k := importKey(t, b, "A256GCM", bytes.Repeat([]byte{1}, 32)).(provider.AEADKey)
	nonce := bytes.Repeat([]byte{2}, 12)
	msg := []byte("the plaintext of some length")
	aad := []byte("header")
	ref, err := k.Seal(ctx, nil, nonce, msg, aad)
	require.NoError(t, err)
	require.Len(t, ref, len(msg)+16)

	for _, tc := range []struct {
		name  string
		nonce []byte
		open  []byte
		want  error
	}{
		{"nonce of 11 bytes", nonce[:11], ref, provider.ErrInvalidArgument},
		{"nonce of 13 bytes", append(bytes.Clone(nonce), 0), ref, provider.ErrInvalidArgument},
		{"empty nonce", []byte{}, ref, provider.ErrInvalidArgument},
		{"ciphertext shorter than a tag", nonce, ref[:15], provider.ErrAuthentication},
		{"empty ciphertext", nonce, nil, provider.ErrAuthentication},
		{"tag modified", nonce, flip(ref, len(ref)-1), provider.ErrAuthentication},
		{"ciphertext modified", nonce, flip(ref, 0), provider.ErrAuthentication},
		{"other nonce", bytes.Repeat([]byte{3}, 12), ref, provider.ErrAuthentication},
		{"tag only of an empty message", nonce, ref[len(msg):], provider.ErrAuthentication},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := k.Open(ctx, dst, tc.nonce, tc.open, aad)
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, []byte("keep"), out, "nothing appended")
			if tc.want == provider.ErrAuthentication {
				require.Equal(t, "softfallback: A256GCM: open: authentication failed", err.Error(), "opaque")
			}
			if len(tc.nonce) != 12 {
				_, err := k.Seal(ctx, nil, tc.nonce, msg, aad)
				require.ErrorIs(t, err, provider.ErrInvalidArgument)
			}
		})
	}

	t.Run("in place", func(t *testing.T) {
		buf := make([]byte, len(msg), len(msg)+16)
		copy(buf, msg)
		ct, err := k.Seal(ctx, buf[:0], nonce, buf, aad)
		require.NoError(t, err)
		require.Equal(t, ref, ct)
		pt, err := k.Open(ctx, ct[:0], nonce, ct, aad)
		require.NoError(t, err)
		require.Equal(t, msg, pt)
	})
	t.Run("shifted overlap", func(t *testing.T) {
		// Output one byte after the input start, and one byte before:
		// cipher.AEAD would panic; the result must be as with separate
		// buffers.
		for _, shift := range []int{1, -1} {
			buf := make([]byte, len(msg)+64)
			in, outAt := 8, 8+shift
			copy(buf[in:], msg)
			ct, err := k.Seal(ctx, buf[outAt:outAt], nonce, buf[in:in+len(msg)], aad)
			require.NoError(t, err)
			require.Equal(t, ref, ct, "seal, shift %d", shift)
			copy(buf[in:], ref)
			pt, err := k.Open(ctx, buf[outAt:outAt], nonce, buf[in:in+len(ref)], aad)
			require.NoError(t, err)
			require.Equal(t, msg, pt, "open, shift %d", shift)
		}
		// Additional data inside the output region.
		buf := make([]byte, 128)
		copy(buf[4:], aad)
		ct, err := k.Seal(ctx, buf[:0], nonce, msg, buf[4:4+len(aad)])
		require.NoError(t, err)
		require.Equal(t, ref, ct)
	})
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

func TestHKDFExpandBounds(t *testing.T) {
	b := softfallback.New()
	for _, h := range []string{"SHA-256", "SHA-384", "SHA-512"} {
		k := generate(t, b, provider.KeyRequest{Algorithm: alg("HKDF"), Input: []byte("ikm"), Hash: alg(h)}).(provider.HKDFKey)
		limit := 255 * alg(h).OutputSize
		for _, tc := range []struct {
			n    int
			want error
		}{{0, provider.ErrInvalidArgument}, {1, nil}, {limit, nil}, {limit + 1, provider.ErrInvalidArgument}} {
			err := k.Expand(ctx, nil, make([]byte, tc.n))
			if tc.want == nil {
				require.NoError(t, err, "%s %d", h, tc.n)
			} else {
				require.ErrorIs(t, err, tc.want, "%s %d", h, tc.n)
			}
		}
	}
}

func TestSharedSecretErrors(t *testing.T) {
	b := softfallback.New()
	p256 := generate(t, b, provider.KeyRequest{Algorithm: alg("ECDH-P256")}).(provider.KeyAgreementKey)
	p384 := generate(t, b, provider.KeyRequest{Algorithm: alg("ECDH-P384")}).(provider.KeyAgreementKey)
	x25519 := generate(t, b, provider.KeyRequest{Algorithm: alg("X25519")}).(provider.KeyAgreementKey)
	peer256, _ := ecdh.P256().GenerateKey(rand.Reader)
	peer384, _ := ecdh.P384().GenerateKey(rand.Reader)
	good256 := peer256.PublicKey().Bytes()
	offCurve := bytes.Clone(good256)
	offCurve[64] ^= 1
	for _, tc := range []struct {
		name string
		key  provider.KeyAgreementKey
		peer []byte
		want error
	}{
		{"P-256 valid", p256, good256, nil},
		{"P-256 empty", p256, nil, provider.ErrInvalidArgument},
		{"P-256 point at infinity", p256, []byte{0}, provider.ErrInvalidArgument},
		{"P-256 compressed point", p256, compress(good256), provider.ErrInvalidArgument},
		{"P-256 off the curve", p256, offCurve, provider.ErrInvalidArgument},
		{"P-256 without prefix", p256, good256[1:], provider.ErrInvalidArgument},
		{"P-256 hybrid prefix", p256, append([]byte{6}, good256[1:]...), provider.ErrInvalidArgument},
		{"P-256 given a P-384 point", p256, peer384.PublicKey().Bytes(), provider.ErrInvalidArgument},
		{"P-384 given a P-256 point", p384, good256, provider.ErrInvalidArgument},
		{"P-384 valid", p384, peer384.PublicKey().Bytes(), nil},
		{"X25519 31 bytes", x25519, make([]byte, 31), provider.ErrInvalidArgument},
		{"X25519 33 bytes", x25519, make([]byte, 33), provider.ErrInvalidArgument},
		{"X25519 all-zero point (low order)", x25519, make([]byte, 32), provider.ErrInvalidArgument},
		{"X25519 point of order 1", x25519, append([]byte{1}, make([]byte, 31)...), provider.ErrInvalidArgument},
		{"X25519 valid", x25519, bytes.Repeat([]byte{9}, 32), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.key.SharedSecret(ctx, tc.peer)
			if tc.want == nil {
				require.NoError(t, err)
				require.NotEmpty(t, s)
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, s)
		})
	}
}

// compress turns an uncompressed P-256 point into its compressed form.
func compress(p []byte) []byte {
	out := append([]byte{2 | p[64]&1}, p[1:33]...)
	return out
}

// TestDestroy: after Destroy, every use of the key and of states opened on
// it fails with ErrInvalidArgument ("key destroyed").
func TestDestroy(t *testing.T) {
	b := softfallback.New()
	for _, a := range keyedAlgorithms() {
		t.Run(a.Name, func(t *testing.T) {
			k := keyFor(t, b, a)
			var st provider.SignState
			if s, ok := k.(provider.Signer); ok {
				var err error
				st, err = s.NewSignState(ctx, 100)
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
				_, err := k.SharedSecret(ctx, make([]byte, 32))
				errs = append(errs, err)
			}
			if e, ok := k.(provider.PublicKeyExporter); ok {
				_, err := e.PublicKeyDER(ctx)
				errs = append(errs, err)
			}
			for i, err := range errs {
				require.ErrorIs(t, err, provider.ErrInvalidArgument, "use %d", i)
				require.Contains(t, err.Error(), "key destroyed", "use %d", i)
			}
			if st != nil {
				require.NoError(t, st.Close())
			}
		})
	}
}

// TestRouter places every algorithm on this backend through the provider's
// router, as the host will.
func TestRouter(t *testing.T) {
	r, err := provider.NewRouter(provider.RouterConfig{Primary: softfallback.New()})
	require.NoError(t, err)
	for _, a := range provider.Algorithms() {
		switch {
		case !a.Kind.Keyed():
			h, err := r.NewHash(ctx, a)
			require.NoError(t, err, a.Name)
			require.NoError(t, h.Close())
		case a.Kind == provider.KindKDF:
			k, err := r.GenerateKey(ctx, provider.KeyRequest{Algorithm: a, Input: []byte{1}, Hash: alg("SHA-256")})
			require.NoError(t, err)
			require.NoError(t, k.Destroy(ctx))
			_, err = r.GenerateKey(ctx, provider.KeyRequest{Algorithm: a, Hash: alg("SHA-256")})
			require.ErrorIs(t, err, provider.ErrNotSupported, "HKDF cannot be generated")
		case a.IsRSA():
			k, err := r.GenerateKey(ctx, provider.KeyRequest{Algorithm: a, Input: rsaVectorKey(t)})
			require.NoError(t, err, a.Name)
			require.NoError(t, k.Destroy(ctx))
		default:
			k, err := r.GenerateKey(ctx, provider.KeyRequest{Algorithm: a})
			require.NoError(t, err, a.Name)
			require.NoError(t, k.Destroy(ctx))
		}
	}
}

// TestConcurrentUse runs operations on shared keys from several goroutines
// while another destroys them; run with -race. Every operation either
// succeeds or reports the destroyed key.
func TestConcurrentUse(t *testing.T) {
	b := softfallback.New()
	for _, name := range []string{"HS256", "EdDSA", "ES256", "A128GCM", "HKDF", "X25519"} {
		t.Run(name, func(t *testing.T) {
			k := keyFor(t, b, alg(name))
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 20 {
						var err error
						switch k := k.(type) {
						case provider.Signer:
							var st provider.SignState
							if st, err = k.NewSignState(ctx, 64); err == nil {
								if err = st.Update(ctx, []byte("data")); err == nil {
									_, err = st.Sign(ctx, nil)
								}
								st.Close()
							}
						case provider.AEADKey:
							_, err = k.Seal(ctx, nil, make([]byte, 12), []byte("data"), nil)
						case provider.HKDFKey:
							err = k.Expand(ctx, nil, make([]byte, 32))
						case provider.KeyAgreementKey:
							_, err = k.SharedSecret(ctx, bytes.Repeat([]byte{9}, 32))
						}
						if err != nil {
							assert.ErrorIs(t, err, provider.ErrInvalidArgument)
							assert.Contains(t, err.Error(), "key destroyed")
						}
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.NoError(t, k.Destroy(ctx))
			}()
			wg.Wait()
		})
	}
}
