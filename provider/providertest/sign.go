package providertest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
)

// deterministic reports whether a's signatures depend on the key and the
// message only (HMAC, Ed25519, RSA PKCS#1 v1.5).
func deterministic(a provider.Algorithm) bool {
	return a.Kind == provider.KindMAC || a.Name == "EdDSA" || (a.IsRSA() && !a.IsPSS())
}

// testSignStates checks the SignState contract for every signing
// algorithm: the size, Sign appends, can be repeated, does not disturb the
// state, Update may follow, Reset drops the data, a closed state and a
// negative limit are refused; and the message limit, on states that
// buffer.
func (s *suite) testSignStates(t *testing.T) {
	for _, a := range keyed() {
		if a.Kind != provider.KindSignature && a.Kind != provider.KindMAC {
			continue
		}
		if _, ok := s.creation(t, a); !ok {
			continue
		}
		t.Run(a.Name, func(t *testing.T) {
			k := s.key(t, a)
			var pub any
			size := a.OutputSize
			if a.Kind == provider.KindSignature {
				pub = PublicKey(t, k)
			}
			if a.IsRSA() {
				size = pub.(*rsa.PublicKey).Size()
			}
			// check checks sig over msg: equal to a one-shot signature
			// when the algorithm is deterministic, verified on the host
			// when it has a public key.
			check := func(msg, sig []byte, what string) {
				t.Helper()
				if deterministic(a) {
					require.Equal(t, Sign(t, k, msg), sig, "%s: as signed in one go", what)
				}
				if pub != nil {
					require.True(t, Verify(a, pub, msg, sig), "%s: signature over %q", what, msg)
				}
			}
			s.checkSignState(t, k.(provider.Signer), size, check)
			if s.buffers(a) {
				s.checkMessageLimit(t, k.(provider.Signer), check)
			} else {
				// The state hashes as data comes: the limit does not apply.
				st, err := k.(provider.Signer).NewSignState(ctx, 1)
				require.NoError(t, err)
				defer st.Close()
				data := make([]byte, 4096)
				require.NoError(t, st.Update(ctx, data), "an unbuffered state takes more than maxBuffered")
				sig, err := st.Sign(ctx, nil)
				require.NoError(t, err)
				check(data, sig, "past maxBuffered")
			}
		})
	}
}

func (s *suite) checkSignState(t *testing.T, k provider.Signer, size int, check func(msg, sig []byte, what string)) {
	st, err := k.NewSignState(ctx, 1024)
	require.NoError(t, err)
	defer st.Close()
	require.Equal(t, size, st.Size())

	require.NoError(t, st.Update(ctx, []byte("hello ")))
	require.NoError(t, st.Update(ctx, []byte("world")))
	prefix := []byte("dst:")
	s1, err := st.Sign(ctx, bytes.Clone(prefix))
	require.NoError(t, err)
	require.Equal(t, prefix, s1[:len(prefix)], "Sign appends to dst")
	require.Len(t, s1, len(prefix)+size)
	check([]byte("hello world"), s1[len(prefix):], "first sign")
	s2, err := st.Sign(ctx, nil)
	require.NoError(t, err)
	check([]byte("hello world"), s2, "repeated sign")

	require.NoError(t, st.Update(ctx, []byte("!")))
	s3, err := st.Sign(ctx, nil)
	require.NoError(t, err)
	check([]byte("hello world!"), s3, "update after sign")

	st.Reset()
	require.NoError(t, st.Update(ctx, []byte("again")))
	s4, err := st.Sign(ctx, nil)
	require.NoError(t, err)
	check([]byte("again"), s4, "after reset")

	st.Reset()
	s5, err := st.Sign(ctx, nil)
	require.NoError(t, err)
	check([]byte{}, s5, "empty message")

	require.NoError(t, st.Close())
	s.refused(t, st.Update(ctx, []byte("x")), provider.ErrInvalidArgument, nil)
	_, err = st.Sign(ctx, nil)
	s.refused(t, err, provider.ErrInvalidArgument, nil)

	_, err = k.NewSignState(ctx, -1)
	s.refused(t, err, provider.ErrInvalidArgument, nil)
}

// checkMessageLimit: a state that buffers holds at most maxBuffered
// bytes; an Update that would exceed it fails with ErrMessageTooLarge and
// buffers nothing of that call.
func (s *suite) checkMessageLimit(t *testing.T, k provider.Signer, check func(msg, sig []byte, what string)) {
	st, err := k.NewSignState(ctx, 10)
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
		err := st.Update(ctx, []byte(tc.data))
		if tc.want == nil {
			require.NoError(t, err, tc.name)
		} else {
			s.refused(t, err, tc.want, nil)
		}
		sig, err := st.Sign(ctx, nil)
		require.NoError(t, err, tc.name)
		check([]byte(tc.msg), sig, tc.name)
	}

	zero, err := k.NewSignState(ctx, 0)
	require.NoError(t, err)
	defer zero.Close()
	s.refused(t, zero.Update(ctx, []byte("x")), provider.ErrMessageTooLarge, nil)
	sig, err := zero.Sign(ctx, nil)
	require.NoError(t, err)
	check(nil, sig, "limit 0")
}

// testHMACVectors: valid tags match (truncated ones as a prefix of the
// MAC); invalid ones do not. Keys shorter than the hash are refused on
// import (RFC 7518 §3.2), so those cases are excluded by that rule, and the
// refusal itself is checked.
func (s *suite) testHMACVectors(t *testing.T) {
	c := newTally(t)
	served := map[string]bool{}
	for _, name := range []string{"HS256", "HS384", "HS512"} {
		served[name] = s.serves(t, alg(name), provider.OpImport)
	}
	for _, v := range vectors.HMAC(t) {
		if !served[v.Alg] {
			c.add("%s: not served", v.File)
			continue
		}
		a := alg(v.Alg)
		if len(v.Key) < a.OutputSize {
			k, err := s.b.GenerateKey(ctx, provider.KeyRequest{Algorithm: a, Input: v.Key})
			require.Nil(t, k)
			require.ErrorIs(t, err, provider.ErrInvalidArgument, v.String())
			c.add("%s: excluded by rule: key shorter than the hash, import refused (inval)", v.File)
			continue
		}
		k := s.newKey(t, provider.KeyRequest{Algorithm: a, Input: v.Key})
		tag := Sign(t, k, v.Msg)[:v.TagBits/8]
		switch v.Result {
		case vectors.Valid:
			require.Equal(t, v.Tag, tag, v.String())
			c.add("%s: valid: tag matches", v.File)
		case vectors.Invalid:
			require.NotEqual(t, v.Tag, tag, v.String())
			c.add("%s: invalid: tag differs", v.File)
		}
		destroy(t, k)
	}
}

// testECDSA signs the distinct messages of the ECDSA vector files (all,
// or as many as Options.MaxSignedMessages allows) with a generated and an
// imported key, and verifies the r‖s signatures on the host
// (whose verifier this package's own tests check against the files).
// There is no P-521 file: ES512 signs a sample of the P-256 messages.
func (s *suite) testECDSA(t *testing.T) {
	c := newTally(t)
	msgs := map[string][][]byte{}
	for _, v := range vectors.ECDSAP1363(t) {
		msgs[v.Alg] = append(msgs[v.Alg], v.Msg)
	}
	msgs["ES512"] = uniqueMessages(msgs["ES256"])[:24]
	for _, name := range []string{"ES256", "ES384", "ES512"} {
		a := alg(name)
		var keys []provider.Key
		if s.serves(t, a, provider.OpGenerate) {
			keys = append(keys, s.newKey(t, provider.KeyRequest{Algorithm: a}))
		}
		if s.serves(t, a, provider.OpImport) {
			host := hostKey(t, a.Curve).(*ecdsa.PrivateKey)
			k := s.newKey(t, provider.KeyRequest{Algorithm: a, Input: PKCS8(t, host)})
			require.True(t, host.PublicKey.Equal(PublicKey(t, k)), "%s: exported public key", name)
			keys = append(keys, k)
		}
		if len(keys) == 0 {
			continue
		}
		for _, k := range keys {
			pub := PublicKey(t, k)
			for _, m := range s.signedMessages(msgs[name]) {
				sig := Sign(t, k, m)
				require.Len(t, sig, a.OutputSize)
				require.True(t, Verify(a, pub, m, sig), "%s over %x", name, m)
				c.add("%s: signed a vector message, r‖s verified on the host", name)
			}
			destroy(t, k)
		}
	}
}

// testEdDSA: for the public keys of RFC 8032 in the Wycheproof file, whose
// private keys are known, the signature must be the expected one byte for
// byte (Ed25519 is deterministic) and the exported SubjectPublicKeyInfo
// the file's. The other messages are signed by a key of the backend's own
// and verified with its exported public key.
func (s *suite) testEdDSA(t *testing.T) {
	a := alg("EdDSA")
	if _, ok := s.creation(t, a); !ok {
		return
	}
	imports := s.serves(t, a, provider.OpImport)
	c := newTally(t)
	own := s.key(t, a)
	ownPub := PublicKey(t, own).(ed25519.PublicKey)
	keys := map[string]provider.Key{}
	for _, v := range vectors.Ed25519(t) {
		if v.Seed == nil || !imports {
			require.True(t, ed25519.Verify(ownPub, v.Msg, Sign(t, own, v.Msg)), v.String())
			c.add("ed25519: %s: own key signs the message", v.Result)
			continue
		}
		k, ok := keys[string(v.Seed)]
		if !ok {
			k = s.newKey(t, provider.KeyRequest{Algorithm: a, Input: PKCS8(t, ed25519.NewKeyFromSeed(v.Seed))})
			keys[string(v.Seed)] = k
			der, err := k.(provider.PublicKeyExporter).PublicKeyDER(ctx)
			require.NoError(t, err)
			require.Equal(t, v.PublicKeyDER, der, v.String())
		}
		sig := Sign(t, k, v.Msg)
		if v.Result == vectors.Valid {
			require.Equal(t, v.Sig, sig, v.String())
			c.add("ed25519: valid, private key known: signature matches")
		} else {
			require.NotEqual(t, v.Sig, sig, v.String())
			c.add("ed25519: invalid, private key known: our signature differs")
		}
	}
}

// testRSA: PKCS#1 v1.5 signing is deterministic, so with the file's
// private key the signature must be the file's (groups hashed with SHA-1
// or SHA-224 map to no contract algorithm and are excluded). PSS is
// randomised: the distinct messages of the PSS file (all, or as many as
// Options.MaxSignedMessages allows) are signed twice with PS256, PS384 and
// PS512, and each signature verified with the salt as long as the hash
// (RFC 7518 §3.5).
func (s *suite) testRSA(t *testing.T) {
	c := newTally(t)
	keys := map[string]provider.Key{}
	for _, v := range vectors.RSASigGen(t) {
		if v.Alg == "" {
			c.add("rsa_pkcs1: %s: excluded by rule: %s is no contract algorithm's hash", v.Result, v.Hash)
			continue
		}
		if !Serves(s.b, alg(v.Alg), provider.OpImport) {
			c.add("rsa_pkcs1: %s not served", v.Alg)
			continue
		}
		id := v.Alg + string(v.PrivateKeyPKCS8)
		k, ok := keys[id]
		if !ok {
			k = s.newKey(t, provider.KeyRequest{Algorithm: alg(v.Alg), Input: v.PrivateKeyPKCS8})
			der, err := k.(provider.PublicKeyExporter).PublicKeyDER(ctx)
			require.NoError(t, err)
			require.Equal(t, v.PublicKeyDER, der, "exported SPKI of %s", v)
			keys[id] = k
		}
		require.Equal(t, v.Sig, Sign(t, k, v.Msg), v.String())
		c.add("rsa_pkcs1: %s %s (flags %v): signature matches", v.Alg, v.Result, v.Flags)
	}

	var msgs [][]byte
	for _, v := range vectors.RSAPSS(t) {
		msgs = append(msgs, v.Msg)
	}
	for _, name := range []string{"PS256", "PS384", "PS512"} {
		a := alg(name)
		if !s.serves(t, a, provider.OpImport) {
			continue
		}
		k := s.newKey(t, provider.KeyRequest{Algorithm: a, Input: RSAKey(t)})
		pub := PublicKey(t, k).(*rsa.PublicKey)
		for _, m := range s.signedMessages(msgs) {
			for range 2 {
				sig := Sign(t, k, m)
				require.Len(t, sig, pub.Size())
				require.True(t, Verify(a, pub, m, sig), "%s over %x", name, m)
			}
			c.add("%s: signed a vector message twice, PSS (salt = hash length) verified", name)
		}
		destroy(t, k)
	}
}
