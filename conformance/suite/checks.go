package suite

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	"github.com/wasihsm/wasihsm/internal/vectors"
	"github.com/wasihsm/wasihsm/provider"
)

// A check is one request to the contract guest's -kat mode (see
// conformance/guests/contract/kat_wasip1.go) and what its answer must be.
// Each check counts for the cells (algorithm × operation) it exercises.
type check struct {
	// name says where the check comes from: a vector file and case, or
	// the probe and its algorithm.
	name string
	// alg is the algorithm and create how its key is made (OpGenerate,
	// OpImport; OpHash for hashes): together they say whether a target can
	// serve the check at all.
	alg    provider.Algorithm
	create provider.Operation
	// ops are the operations the check exercises; its cells are (alg, op).
	ops []provider.Operation
	// hashes are the hashes whose states the check opens besides: the
	// hash state that names an HKDF key's hash (docs/semantics.md#derivation).
	// A target that cannot serve one cannot serve the check.
	hashes []provider.Algorithm
	// vector is true for a published known answer (as opposed to a probe
	// whose answer the host verifies with keys of its own).
	vector  bool
	request string
	// want is the exact answer, or verify decides.
	want   string
	verify func(answer string) error
}

// hx is the guest's hex form: "-" for empty.
func hx(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}

// fatalTB stops a loader with a panic that buildChecks turns into an
// error: the vectors are compiled into the binary, so this happens only
// when the data in it is broken.
type fatalTB struct{}

type loadError struct{ error }

func (fatalTB) Helper() {}
func (fatalTB) Fatalf(format string, args ...any) {
	panic(loadError{fmt.Errorf(format, args...)})
}

// buildChecks returns every check of the suite: the published vectors of
// internal/vectors, each passing or excluded by the rule written next to
// it (an excluded vector's request still runs when the rule names the
// errno the contract answers), and the probes of key generation, import
// and export that no vector covers.
func buildChecks() (checks []check, err error) {
	defer func() {
		if r := recover(); r != nil {
			le, ok := r.(loadError)
			if !ok {
				panic(r)
			}
			checks, err = nil, fmt.Errorf("suite: vectors: %w", le.error)
		}
	}()
	var b builder
	b.vectors()
	if err := b.probes(); err != nil {
		return nil, err
	}
	return b.checks, nil
}

type builder struct{ checks []check }

func (b *builder) add(c check) { b.checks = append(b.checks, c) }

var (
	opHash    = []provider.Operation{provider.OpHash}
	opImpSign = []provider.Operation{provider.OpImport, provider.OpSign}
)

func (b *builder) vectors() {
	t := fatalTB{}
	for _, v := range vectors.Hashes(t) {
		b.add(check{name: v.Source, alg: provider.MustLookup(v.Alg), create: provider.OpHash, ops: opHash, vector: true,
			request: fmt.Sprintf("hash %s %s %d", v.Alg, hx(v.Msg), len(v.Digest)), want: "ok " + hex.EncodeToString(v.Digest)})
	}
	for _, v := range vectors.HMAC(t) {
		alg := provider.MustLookup(v.Alg)
		c := check{name: v.Case.String(), alg: alg, create: provider.OpImport, ops: opImpSign, vector: true,
			request: fmt.Sprintf("mac %s %s %s", v.Alg, hx(v.Key), hx(v.Msg))}
		tag := hex.EncodeToString(v.Tag)
		switch {
		case len(v.Key) < alg.OutputSize:
			// Rule: keys shorter than the hash length are refused (RFC 7518 §3.2, docs/semantics.md#algorithms).
			c.name += " [rule: key shorter than the hash: inval]"
			c.want = "err inval"
		case v.Result == vectors.Valid:
			// A truncated tag is the leftmost TagBits of the MAC.
			c.verify = func(got string) error {
				if !strings.HasPrefix(got, "ok "+tag) {
					return fmt.Errorf("MAC does not start with the %d-bit tag %s", v.TagBits, tag)
				}
				return nil
			}
		default:
			c.verify = func(got string) error {
				if !strings.HasPrefix(got, "ok ") || strings.HasPrefix(got, "ok "+tag) {
					return fmt.Errorf("want a MAC other than the invalid tag, got %.40s", got)
				}
				return nil
			}
		}
		b.add(c)
	}
	hkdf := provider.MustLookup("HKDF")
	for _, v := range vectors.HKDF(t) {
		c := check{name: v.Case.String(), alg: hkdf, create: provider.OpImport,
			ops: []provider.Operation{provider.OpImport, provider.OpDerive}, vector: true,
			hashes:  []provider.Algorithm{provider.MustLookup(v.Hash)},
			request: fmt.Sprintf("hkdf %s %s %s %s %d", v.Hash, hx(v.IKM), hx(v.Salt), hx(v.Info), v.Size)}
		if v.Result == vectors.Valid {
			c.want = "ok " + hex.EncodeToString(v.OKM)
		} else {
			// Rule: output longer than 255 hash lengths is inval (docs/semantics.md#algorithms).
			c.name += " [rule: output too long: inval]"
			c.want = "err inval"
		}
		b.add(c)
	}
	for _, v := range vectors.AESGCM(t) {
		name := fmt.Sprintf("A%dGCM", v.KeyBits)
		alg := provider.MustLookup(name)
		open := check{name: v.Case.String() + " open", alg: alg, create: provider.OpImport,
			ops: []provider.Operation{provider.OpImport, provider.OpDecrypt}, vector: true,
			request: fmt.Sprintf("open %s %s %s %s %s %s", name, hx(v.Key), hx(v.IV), hx(v.AAD), hx(v.CT), hx(v.Tag))}
		switch {
		case v.IVBits != 96:
			// Rule: the nonce is exactly 12 bytes; other lengths are inval (docs/semantics.md#algorithms).
			open.name += " [rule: IV not 12 bytes: inval]"
			open.want = "err inval"
		case v.Result == vectors.Valid:
			open.want = "ok " + hex.EncodeToString(v.Msg)
			b.add(check{name: v.Case.String() + " seal", alg: alg, create: provider.OpImport,
				ops: []provider.Operation{provider.OpImport, provider.OpEncrypt}, vector: true,
				request: fmt.Sprintf("seal %s %s %s %s %s", name, hx(v.Key), hx(v.IV), hx(v.AAD), hx(v.Msg)),
				want:    "ok " + hex.EncodeToString(v.CT) + " " + hex.EncodeToString(v.Tag)})
		default:
			open.want = "err badmsg"
		}
		b.add(open)
	}
	for _, v := range vectors.RSASigGen(t) {
		if v.Alg == "" {
			continue // Rule: SHA-1 and SHA-224 have no JWS name (docs/semantics.md#algorithms): nothing to ask for.
		}
		b.add(check{name: v.Case.String(), alg: provider.MustLookup(v.Alg), create: provider.OpImport, ops: opImpSign, vector: true,
			request: fmt.Sprintf("sign %s %s %s %d", v.Alg, hx(v.PrivateKeyPKCS8), hx(v.Msg), len(v.Sig)),
			want:    "ok " + hex.EncodeToString(v.Sig)})
	}
	eddsa := provider.MustLookup("EdDSA")
	for _, v := range vectors.Ed25519(t) {
		if v.Seed == nil || v.Result != vectors.Valid {
			continue // Rule: only vectors whose private key is known (RFC 8032) can be signed; the API has no verification.
		}
		der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(v.Seed))
		if err != nil {
			t.Fatalf("%s: %v", v.Case, err)
		}
		b.add(check{name: v.Case.String(), alg: eddsa, create: provider.OpImport, ops: opImpSign, vector: true,
			request: fmt.Sprintf("sign EdDSA %s %s 64", hx(der), hx(v.Msg)), want: "ok " + hex.EncodeToString(v.Sig)})
	}
	p256 := provider.MustLookup("ECDH-P256")
	for _, v := range vectors.ECDH(t) {
		peer, wellFormed := uncompressedP256(v.Public)
		if !wellFormed {
			// Rule: the peer SPKI is not a well-formed P-256 key, so it has no
			// SEC1 point to pass; passed as it is (DER, not a point), the
			// contract answers inval (docs/semantics.md#algorithms: the peer's public key is a
			// SEC1 uncompressed point).
			peer = v.Public
		}
		priv, err := ecdh.P256().NewPrivateKey(v.Private)
		if err != nil {
			t.Fatalf("%s: %v", v.Case, err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatalf("%s: %v", v.Case, err)
		}
		c := check{name: v.Case.String(), alg: p256, create: provider.OpImport,
			ops: []provider.Operation{provider.OpImport, provider.OpDerive}, vector: true,
			request: fmt.Sprintf("agree ECDH-P256 %s %s 32", hx(der), hx(peer))}
		switch {
		case !wellFormed:
			c.name += " [rule: malformed peer SPKI, passed as the point: inval]"
			c.want = "err inval"
		case v.Result == vectors.Valid:
			c.want = "ok " + hex.EncodeToString(v.Shared)
		case v.Result == vectors.Invalid:
			c.want = "err inval"
		default:
			want := "ok " + hex.EncodeToString(v.Shared)
			c.name += " (acceptable: the secret or inval)"
			c.verify = func(got string) error {
				if got != want && got != "err inval" {
					return fmt.Errorf("neither the shared secret nor inval")
				}
				return nil
			}
		}
		b.add(c)
	}
	// Not run here: the Wycheproof ECDSA P1363 and RSA-PSS files are
	// verification vectors, and the API has no verification; the provider
	// tests (provider/providertest) use them.
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

var probeMsg = []byte("wasihsm conformance: a message to sign")

// probes adds, for every key algorithm, checks of generation, import and
// export that the host verifies with keys of its own.
func (b *builder) probes() error {
	rsaKey, err := rsaProbeKey()
	if err != nil {
		return err
	}
	for _, alg := range provider.Algorithms() {
		var err error
		switch alg.Kind {
		case provider.KindSignature:
			err = b.signatureProbes(alg, rsaKey)
		case provider.KindMAC:
			size := alg.OutputSize
			b.add(check{name: "probe: generate, sign", alg: alg, create: provider.OpGenerate,
				ops:     []provider.Operation{provider.OpGenerate, provider.OpSign},
				request: fmt.Sprintf("gensign %s %s %d", alg.Name, hx(probeMsg), size),
				verify: func(got string) error {
					f := strings.Fields(got)
					if len(f) != 3 || f[0] != "ok" || f[1] != "-" || len(f[2]) != 2*size {
						return fmt.Errorf("want ok - and a %d-byte MAC, got %.60s", size, got)
					}
					return nil
				}})
		case provider.KindAEAD:
			b.aeadProbe(alg)
		case provider.KindKeyAgreement:
			err = b.agreementProbes(alg)
		}
		if err != nil {
			return fmt.Errorf("suite: probes for %s: %w", alg.Name, err)
		}
	}
	return nil
}

// rsaProbeKey is the 2048-bit key of the Wycheproof PKCS#1 signing file,
// so that no RSA key is generated on the host.
func rsaProbeKey() (*rsa.PrivateKey, error) {
	for _, v := range vectors.RSASigGen(fatalTB{}) {
		k, err := x509.ParsePKCS8PrivateKey(v.PrivateKeyPKCS8)
		if err != nil {
			return nil, fmt.Errorf("suite: %s: %w", v.Case, err)
		}
		if rk, ok := k.(*rsa.PrivateKey); ok && rk.N.BitLen() == 2048 {
			return rk, nil
		}
	}
	return nil, fmt.Errorf("suite: no 2048-bit RSA key in the vectors")
}

func (b *builder) signatureProbes(alg provider.Algorithm, rsaKey *rsa.PrivateKey) error {
	var priv crypto.Signer
	switch {
	case alg.IsRSA():
		priv = rsaKey
	case alg.Name == "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		priv = k
	default:
		curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[alg.Curve]
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return err
		}
		priv = k
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	spki, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return err
	}
	size := sigSize(alg)
	b.add(check{name: "probe: generate, sign, export; verified on the host", alg: alg, create: provider.OpGenerate,
		ops:     []provider.Operation{provider.OpGenerate, provider.OpSign, provider.OpExportPublic},
		request: fmt.Sprintf("gensign %s %s %d", alg.Name, hx(probeMsg), size),
		verify: func(got string) error {
			f := strings.Fields(got)
			if len(f) != 3 || f[0] != "ok" {
				return fmt.Errorf("want ok SPKI SIG, got %.60s", got)
			}
			pubDER, err1 := hex.DecodeString(f[1])
			sig, err2 := hex.DecodeString(f[2])
			if err1 != nil || err2 != nil {
				return fmt.Errorf("bad hex in %.60s", got)
			}
			pub, err := x509.ParsePKIXPublicKey(pubDER)
			if err != nil {
				return fmt.Errorf("exported public key: %w", err)
			}
			return VerifySignature(alg, pub, probeMsg, sig)
		}})
	b.add(check{name: "probe: import PKCS#8, sign; verified on the host", alg: alg, create: provider.OpImport, ops: opImpSign,
		request: fmt.Sprintf("sign %s %s %s %d", alg.Name, hx(der), hx(probeMsg), size),
		verify: func(got string) error {
			sig, err := hex.DecodeString(strings.TrimPrefix(got, "ok "))
			if !strings.HasPrefix(got, "ok ") || err != nil {
				return fmt.Errorf("want ok SIG, got %.60s", got)
			}
			return VerifySignature(alg, priv.Public(), probeMsg, sig)
		}})
	b.add(check{name: "probe: import PKCS#8, export the public key", alg: alg, create: provider.OpImport,
		ops:     []provider.Operation{provider.OpImport, provider.OpExportPublic},
		request: fmt.Sprintf("export %s %s", alg.Name, hx(der)), want: "ok " + hex.EncodeToString(spki)})
	return nil
}

// sigSize is the signature length of docs/semantics.md#algorithms (RSA: the modulus).
func sigSize(alg provider.Algorithm) int {
	if alg.IsRSA() {
		return alg.KeySize / 8
	}
	return alg.OutputSize
}

// VerifySignature checks sig over msg with the standard library, as
// docs/semantics.md#algorithms defines alg's output: r‖s of fixed width for ES*, PKCS#1
// v1.5 for RS*, PSS with the salt as long as the hash for PS*, and pure
// Ed25519. Tests of other packages that check a guest's signatures use it.
func VerifySignature(alg provider.Algorithm, pub crypto.PublicKey, msg, sig []byte) error {
	hashes := map[string]crypto.Hash{"SHA-256": crypto.SHA256, "SHA-384": crypto.SHA384, "SHA-512": crypto.SHA512}
	digest := func(h crypto.Hash) []byte {
		d := h.New()
		d.Write(msg)
		return d.Sum(nil)
	}
	switch {
	case alg.Name == "EdDSA":
		k, ok := pub.(ed25519.PublicKey)
		if !ok || !ed25519.Verify(k, msg, sig) {
			return fmt.Errorf("EdDSA signature does not verify")
		}
	case alg.IsRSA():
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s: the public key is %T", alg.Name, pub)
		}
		h := hashes[alg.Hash]
		var err error
		if alg.IsPSS() {
			err = rsa.VerifyPSS(k, h, digest(h), sig, &rsa.PSSOptions{SaltLength: h.Size(), Hash: h})
		} else {
			err = rsa.VerifyPKCS1v15(k, h, digest(h), sig)
		}
		if err != nil {
			return fmt.Errorf("%s signature: %w", alg.Name, err)
		}
	default:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || len(sig) != alg.OutputSize {
			return fmt.Errorf("%s: public key %T, signature of %d bytes", alg.Name, pub, len(sig))
		}
		if k.Curve.Params().Name != alg.Curve {
			return fmt.Errorf("%s: key on %s", alg.Name, k.Curve.Params().Name)
		}
		h := hashes[alg.Hash]
		n := len(sig) / 2
		if !ecdsa.Verify(k, digest(h), new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])) {
			return fmt.Errorf("%s signature does not verify", alg.Name)
		}
	}
	return nil
}

func (b *builder) aeadProbe(alg provider.Algorithm) {
	nonce, aad, pt := []byte("probe-nonce!"), []byte("probe aad"), []byte("a plaintext of a few bytes, sealed and opened")
	b.add(check{name: "probe: generate, seal, open", alg: alg, create: provider.OpGenerate,
		ops:     []provider.Operation{provider.OpGenerate, provider.OpEncrypt, provider.OpDecrypt},
		request: fmt.Sprintf("genseal %s %s %s %s", alg.Name, hx(nonce), hx(aad), hx(pt)),
		verify: func(got string) error {
			f := strings.Fields(got)
			if len(f) != 4 || f[0] != "ok" || len(f[1]) != 2*len(pt) || len(f[2]) != 32 || f[3] != hex.EncodeToString(pt) {
				return fmt.Errorf("want ok CT TAG PT with the plaintext back, got %.80s", got)
			}
			if f[1] == f[3] {
				return fmt.Errorf("the ciphertext is the plaintext")
			}
			return nil
		}})
}

func (b *builder) agreementProbes(alg provider.Algorithm) error {
	curve := map[string]ecdh.Curve{"P-256": ecdh.P256(), "P-384": ecdh.P384(), "X25519": ecdh.X25519()}[alg.Curve]
	peer, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	own, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(own)
	if err != nil {
		return err
	}
	spki, err := x509.MarshalPKIXPublicKey(own.PublicKey())
	if err != nil {
		return err
	}
	shared, err := own.ECDH(peer.PublicKey())
	if err != nil {
		return err
	}
	size := alg.OutputSize
	b.add(check{name: "probe: generate, export, agree; checked on the host", alg: alg, create: provider.OpGenerate,
		ops:     []provider.Operation{provider.OpGenerate, provider.OpDerive, provider.OpExportPublic},
		request: fmt.Sprintf("genagree %s %s %d", alg.Name, hx(peer.PublicKey().Bytes()), size),
		verify: func(got string) error {
			f := strings.Fields(got)
			if len(f) != 3 || f[0] != "ok" {
				return fmt.Errorf("want ok SPKI SECRET, got %.60s", got)
			}
			pubDER, err := hex.DecodeString(f[1])
			if err != nil {
				return err
			}
			pk, err := x509.ParsePKIXPublicKey(pubDER)
			if err != nil {
				return fmt.Errorf("exported public key: %w", err)
			}
			var pub *ecdh.PublicKey
			switch k := pk.(type) {
			case *ecdh.PublicKey:
				pub = k
			case *ecdsa.PublicKey:
				if pub, err = k.ECDH(); err != nil {
					return err
				}
			default:
				return fmt.Errorf("exported public key is %T", pk)
			}
			if pub.Curve() != curve {
				return fmt.Errorf("exported public key on another curve")
			}
			want, err := peer.ECDH(pub)
			if err != nil {
				return err
			}
			if f[2] != hex.EncodeToString(want) {
				return fmt.Errorf("shared secret differs from the host's")
			}
			return nil
		}})
	b.add(check{name: "probe: import PKCS#8, agree", alg: alg, create: provider.OpImport,
		ops:     []provider.Operation{provider.OpImport, provider.OpDerive},
		request: fmt.Sprintf("agree %s %s %s %d", alg.Name, hx(der), hx(peer.PublicKey().Bytes()), size),
		want:    "ok " + hex.EncodeToString(shared)})
	b.add(check{name: "probe: import PKCS#8, export the public key", alg: alg, create: provider.OpImport,
		ops:     []provider.Operation{provider.OpImport, provider.OpExportPublic},
		request: fmt.Sprintf("export %s %s", alg.Name, hx(der)), want: "ok " + hex.EncodeToString(spki)})
	return nil
}
