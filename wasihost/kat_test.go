package wasihost_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// katCase is one request to the contract guest's -kat mode and the answer
// the vector demands: "ok HEX…" or "err ERRNO". check, when set, decides
// instead of an exact match (truncated MAC tags, invalid vectors).
type katCase struct {
	name    string
	request string
	want    string
	check   func(got string) error
}

func h(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}

// TestKnownAnswersThroughGuest feeds the public vectors to a real wasm guest,
// which computes every answer through the host ABI; each vector either
// passes or is excluded by a rule written next to it, and the rule's errno
// is checked.
func TestKnownAnswersThroughGuest(t *testing.T) {
	var cases []katCase
	add := func(name, req, want string) { cases = append(cases, katCase{name: name, request: req, want: want}) }

	for _, v := range vectors.Hashes(t) {
		add(fmt.Sprintf("%s %s len=%d", v.Source, v.Alg, len(v.Msg)),
			fmt.Sprintf("hash %s %s %d", v.Alg, h(v.Msg), len(v.Digest)), "ok "+hex.EncodeToString(v.Digest))
	}
	for _, v := range vectors.HMAC(t) {
		hashLen := provider.MustLookup(v.Alg).OutputSize
		req := fmt.Sprintf("mac %s %s %s", v.Alg, h(v.Key), h(v.Msg))
		switch {
		case len(v.Key) < hashLen:
			// Rule: keys shorter than the hash length are refused (RFC 7518 §3.2).
			add(v.Case.String()+" short key: inval", req, "err inval")
		case v.Result == vectors.Valid:
			tag := hex.EncodeToString(v.Tag)
			cases = append(cases, katCase{name: v.Case.String(), request: req, check: func(got string) error {
				if !strings.HasPrefix(got, "ok "+tag) {
					return fmt.Errorf("MAC does not start with the %d-bit tag %s", v.TagBits, tag)
				}
				return nil
			}})
		default:
			tag := hex.EncodeToString(v.Tag)
			cases = append(cases, katCase{name: v.Case.String(), request: req, check: func(got string) error {
				if strings.HasPrefix(got, "ok "+tag) {
					return fmt.Errorf("an invalid tag matched")
				}
				return nil
			}})
		}
	}
	for _, v := range vectors.HKDF(t) {
		req := fmt.Sprintf("hkdf %s %s %s %s %d", v.Hash, h(v.IKM), h(v.Salt), h(v.Info), v.Size)
		if v.Result == vectors.Valid {
			add(v.Case.String(), req, "ok "+hex.EncodeToString(v.OKM))
		} else {
			// Rule: output longer than 255 hash lengths is inval (CONTRACT §4).
			add(v.Case.String()+" too long: inval", req, "err inval")
		}
	}
	for _, v := range vectors.AESGCM(t) {
		alg := fmt.Sprintf("A%dGCM", v.KeyBits)
		open := fmt.Sprintf("open %s %s %s %s %s %s", alg, h(v.Key), h(v.IV), h(v.AAD), h(v.CT), h(v.Tag))
		switch {
		case v.IVBits != 96:
			// Rule: the nonce is exactly 12 bytes; others are inval (CONTRACT §4).
			add(v.Case.String()+" IV not 12 bytes: inval", open, "err inval")
		case v.Result == vectors.Valid:
			add(v.Case.String()+" open", open, "ok "+hex.EncodeToString(v.Msg))
			add(v.Case.String()+" seal", fmt.Sprintf("seal %s %s %s %s %s", alg, h(v.Key), h(v.IV), h(v.AAD), h(v.Msg)),
				"ok "+hex.EncodeToString(v.CT)+" "+hex.EncodeToString(v.Tag))
		default:
			add(v.Case.String()+" open", open, "err badmsg")
		}
	}
	for _, v := range vectors.RSASigGen(t) {
		if v.Alg == "" {
			continue // Rule: SHA-1 and SHA-224 have no JWS name; nothing to ask for.
		}
		add(v.Case.String(), fmt.Sprintf("sign %s %s %s %d", v.Alg, h(v.PrivateKeyPKCS8), h(v.Msg), len(v.Sig)),
			"ok "+hex.EncodeToString(v.Sig))
	}
	for _, v := range vectors.Ed25519(t) {
		if v.Seed == nil || v.Result != vectors.Valid {
			continue // Rule: only vectors whose private key is known (RFC 8032) can be signed.
		}
		der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(v.Seed))
		require.NoError(t, err)
		add(v.Case.String(), fmt.Sprintf("sign EdDSA %s %s 64", h(der), h(v.Msg)), "ok "+hex.EncodeToString(v.Sig))
	}
	for _, v := range vectors.ECDH(t) {
		peer, ok := uncompressedP256(v.Public)
		if !ok {
			continue // Rule: the peer SPKI is not a well-formed P-256 key, so there is no point to pass.
		}
		priv, err := ecdh.P256().NewPrivateKey(v.Private)
		require.NoError(t, err)
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		require.NoError(t, err)
		req := fmt.Sprintf("agree ECDH-P256 %s %s 32", h(der), h(peer))
		switch v.Result {
		case vectors.Valid:
			add(v.Case.String(), req, "ok "+hex.EncodeToString(v.Shared))
		case vectors.Invalid:
			add(v.Case.String(), req, "err inval")
		default:
			want := "ok " + hex.EncodeToString(v.Shared)
			cases = append(cases, katCase{name: v.Case.String() + " (acceptable)", request: req, check: func(got string) error {
				if got != want && got != "err inval" {
					return fmt.Errorf("neither the shared secret nor inval")
				}
				return nil
			}})
		}
	}
	require.Greater(t, len(cases), 2000, "the vector files were all read")

	var stdin bytes.Buffer
	for _, c := range cases {
		stdin.WriteString(c.request + "\n")
	}
	// A refused import leaves its generate state open until the instance
	// closes (CONTRACT §2), so this long run needs a high handle limit.
	hr := newHarness(t, contractGuest(t), wasihost.Options{MaxHandles: 1 << 16}, provider.RouterConfig{})
	out, stderr, code := hr.run("contract", &stdin, nil, "-kat")
	require.Zero(t, code, stderr)
	answers := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, answers, len(cases))
	counts := map[string]int{}
	for i, c := range cases {
		got := answers[i]
		var err error
		if c.check != nil {
			err = c.check(got)
		} else if got != c.want {
			err = fmt.Errorf("got %.80s, want %.80s", got, c.want)
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		counts[strings.Fields(c.request)[0]]++
	}
	t.Logf("vectors answered through the guest: %v", counts)
	hr.requireClean()
}

// uncompressedP256 extracts the SEC1 point of a well-formed P-256 SPKI.
func uncompressedP256(spki []byte) ([]byte, bool) {
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, false
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, false
	}
	e, err := ec.ECDH()
	if err != nil || e.Curve() != ecdh.P256() {
		return nil, false
	}
	return e.Bytes(), true
}

func TestGuestImportsAllFunctions(t *testing.T) {
	// A guest that imports all 35 functions instantiates (issue 2, Done).
	hr := newHarness(t, contractGuest(t), contractOptions, provider.RouterConfig{})
	imported := map[string]bool{}
	for _, f := range hr.Compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod == wasihost.ModuleName || mod == wasihost.KeysModuleName {
			imported[mod+"."+name] = true
		}
	}
	assert.Len(t, imported, 35, "the contract guest imports every function: %v", imported)
	_, _, code := hr.run("contract", nil, nil, "-list")
	assert.Zero(t, code)
}
