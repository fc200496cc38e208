//go:build cgo

package hsm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/provider"
)

// A token's mechanism list says what it offers, not what it does: a token
// may list a mechanism and refuse the templates the backend makes keys
// from (tpm2-pkcs11 makes no session keys, imports no private or secret
// key), or make keys it cannot use. So before the backend answers that it
// supports an algorithm, it probes the token: it makes throwaway keys of
// the algorithm exactly as it would make a guest's (generated and
// imported), runs each of the algorithm's operations on them with small
// inputs, checks the results on the host, and destroys the keys. What
// fails is unavailable on the token, and the router places the
// algorithm's keys in software or answers notsup
// (docs/semantics.md#where-keys-live).
//
// Probing is lazy: the first Supports for an algorithm probes it, under
// the same call deadlines and session rules as any call, and the answer
// is kept for the token until a recovery (a token's answers do not change
// while it is up). A probe that fails for a reason that is not the
// token's answer (a timeout, a module fault, no free session) teaches
// nothing: it is not kept, and the next Supports probes again.

// probeEntry is the probe of one algorithm on the backend's token: the
// result, read without a lock by every Supports, and the lock that lets
// one probe run at a time (the others wait for its answer).
type probeEntry struct {
	mu  sync.Mutex
	res atomic.Pointer[probeResult]
}

// probeResult is a finished probe, valid while the backend's recovery
// count is epoch.
type probeResult struct {
	epoch   uint64
	probe   Probe
	refused opSet
}

// newProbeTable makes an entry for every registered algorithm.
func newProbeTable() map[string]*probeEntry {
	m := make(map[string]*probeEntry)
	for _, a := range provider.Algorithms() {
		m[a.Name] = &probeEntry{}
	}
	return m
}

// Supports implements provider.Backend: the answer of the mechanism list
// (see token.Supports), unless probing the token found that it refuses op
// for alg, which is then provider.Unsupported. The first call for an
// algorithm probes it (see probe.go); later ones read what it found.
func (b *Backend) Supports(alg provider.Algorithm, op provider.Operation) provider.Support {
	s := b.token.Supports(alg, op)
	if s == provider.Unsupported {
		return s
	}
	if r := b.probed(alg); r != nil && r.refused.has(op) {
		return provider.Unsupported
	}
	return s
}

// Capabilities lists, for every algorithm of docs/semantics.md#algorithms
// and each operation that applies to it, how this token serves it: as
// Supports answers, so every algorithm the mechanism list offers is
// probed first (once).
func (b *Backend) Capabilities() []Capability {
	out := b.caps.list()
	for i, c := range out {
		out[i].Support = b.Supports(c.Algorithm, c.Operation)
	}
	return out
}

// probed returns the probe of alg for the token as it is since the last
// recovery, probing it first when there is none; nil when the probe could
// not finish and none was kept from before.
func (b *Backend) probed(alg provider.Algorithm) *probeResult {
	e := b.probes[alg.Name]
	if e == nil {
		return nil
	}
	epoch := b.recoveries.Load()
	if r := e.res.Load(); r != nil && r.epoch == epoch {
		return r
	}
	return b.probeOnce(e, alg, epoch)
}

// probeOnce runs the probe of alg unless another caller did while this
// one waited for the entry's lock. A probe that did not finish, or during
// which the token failed, is not kept: the result from before the last
// recovery (or none) stands until a probe finishes.
func (b *Backend) probeOnce(e *probeEntry, alg provider.Algorithm, epoch uint64) *probeResult {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.res.Load()
	if old != nil && old.epoch == epoch {
		return old
	}
	if b.closed.Load() || !b.healthy.Load() {
		return old
	}
	p := b.runProbe(context.Background(), alg)
	if p.Err != nil || b.recoveries.Load() != epoch {
		return old
	}
	r := &probeResult{epoch: epoch, probe: p}
	for _, f := range p.Refusals {
		r.refused |= opsOf(f.Operation)
	}
	e.res.Store(r)
	return r
}

// Probe probes every algorithm that the token's mechanism list offers
// (or returns what earlier probes found) and returns the results, in the
// order of provider.Algorithms. A result whose Err is set could not be
// finished. It is what `wasihsm slots` and `doctor` show.
func (b *Backend) Probe() []Probe {
	var out []Probe
	for _, alg := range provider.Algorithms() {
		offered := false
		for _, op := range operationsOf(alg) {
			offered = offered || b.token.Supports(alg, op) != provider.Unsupported
		}
		if !offered {
			continue
		}
		if r := b.probed(alg); r != nil {
			out = append(out, r.probe)
			continue
		}
		// Not kept: probe once more for the report, to say why.
		out = append(out, b.runProbe(context.Background(), alg))
	}
	return out
}

// Exercise runs each of ops on k (a key of this backend, a managed key
// say) with small inputs and checks the results on the host, as probing
// does: a signature must verify under the key's public key, a sealed
// message must open, an exported public key must parse. It returns what
// failed; err is set when a failure says nothing about the token (a
// timeout, a module fault). Nothing is written to the token.
func (b *Backend) Exercise(ctx context.Context, k provider.Key, ops []provider.Operation) ([]Refusal, error) {
	pr := &prober{b: b, ctx: ctx, p: Probe{Algorithm: k.Algorithm()}}
	failed := pr.exercise(k, ops, "", nil)
	if pr.p.Err != nil {
		return nil, pr.p.Err
	}
	return failed, nil
}

// prober is one probe in progress.
type prober struct {
	b   *Backend
	ctx context.Context
	p   Probe
}

// runProbe probes alg on the token: what the mechanism list offers of it
// is tried for real.
func (b *Backend) runProbe(ctx context.Context, alg provider.Algorithm) Probe {
	start := time.Now()
	pr := &prober{b: b, ctx: ctx, p: Probe{Algorithm: alg}}
	epoch := b.recoveries.Load()
	if err := b.ready(); err != nil {
		pr.p.Err = fmt.Errorf("hsm: probe %s: %w", alg.Name, err)
		return pr.p
	}
	switch {
	case !alg.Kind.Keyed():
		pr.hash()
	case alg.Kind == provider.KindKDF:
		pr.hkdf()
	default:
		pr.keys()
	}
	pr.p.Took = time.Since(start)
	if pr.p.Err == nil && (!b.healthy.Load() || b.recoveries.Load() != epoch) {
		// The token failed meanwhile: what it refused may be that.
		pr.p.Err = fmt.Errorf("hsm: probe %s: the token failed while it was probed: %w", alg.Name, provider.ErrDevice)
	}
	if pr.p.Err != nil {
		pr.p.Refusals = nil
	}
	return pr.p
}

// offered reports whether the mechanism list offers op for the probe's
// algorithm.
func (pr *prober) offered(op provider.Operation) bool {
	return pr.b.token.Supports(pr.p.Algorithm, op) != provider.Unsupported
}

// refusal makes the Refusal of err for op at step; ok is false when err
// says nothing about what the token can do, and then it is recorded as
// the probe's Err.
func (pr *prober) refusal(op provider.Operation, step string, err error) (r Refusal, ok bool) {
	if volatile(err) {
		if pr.p.Err == nil {
			pr.p.Err = fmt.Errorf("hsm: probe %s: %s: %w", pr.p.Algorithm.Name, step, err)
		}
		return Refusal{}, false
	}
	r = Refusal{Operation: op, Step: step, Err: err}
	var te *TokenError
	if errors.As(err, &te) {
		r.CKR = te.Name
	}
	return r, true
}

// fail records a refusal of op at step; it reports whether the probe
// goes on.
func (pr *prober) fail(op provider.Operation, step string, err error) bool {
	r, ok := pr.refusal(op, step, err)
	if ok {
		pr.p.Refusals = append(pr.p.Refusals, r)
	}
	return ok
}

// volatileCodes are return values that say something about the moment,
// not about what the token can do: no session free, the token's memory
// full for now, a call cancelled.
var volatileCodes = map[uint]bool{
	pkcs11.CKR_SESSION_COUNT: true, pkcs11.CKR_DEVICE_MEMORY: true,
	pkcs11.CKR_FUNCTION_CANCELED: true, pkcs11.CKR_DEVICE_REMOVED: true,
	pkcs11.CKR_TOKEN_NOT_PRESENT: true, pkcs11.CKR_SESSION_CLOSED: true,
}

// volatile reports whether err, met while probing, says nothing about
// what the token can do: a return value the backend retries or recovers
// from (see the traits), one of volatileCodes, or a failure of the call
// layer (a deadline, no free session, the backend closing, a lost
// session). Anything else the token answered is a refusal.
func volatile(err error) bool {
	var te *TokenError
	if errors.As(err, &te) {
		return te.traits&(fatal|transient|relogin|evict|hidden) != 0 || volatileCodes[te.Code]
	}
	var rv pkcs11.Error
	if errors.As(err, &rv) {
		return volatile(ckrError("", err))
	}
	return errors.Is(err, provider.ErrTimeout) || errors.Is(err, provider.ErrNoResources) ||
		errors.Is(err, provider.ErrKeyLost) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errPoolClosed) || errors.Is(err, errReinit)
}

// errWrongResult is the error of a step where the token answered CKR_OK
// with a result that does not check out on the host.
var errWrongResult = fmt.Errorf("the token's result does not check out on the host: %w", provider.ErrDevice)

func wrong(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errWrongResult)
}

// probeMessage is what probes hash, sign and seal.
var probeMessage = []byte("wasihsm probe")

// hash probes a digest: one C_Digest, compared with the host's.
func (pr *prober) hash() {
	alg := pr.p.Algorithm
	if !pr.offered(provider.OpHash) {
		return
	}
	ref := hostHashes[alg.Name]
	h := &hashState{b: pr.b, alg: alg, mech: hashMechanisms[alg.Name], Buffer: provider.Buffer{Max: pr.b.maxBuffered}}
	defer func() { _ = h.Close() }()
	if err := h.Update(probeMessage); err != nil {
		pr.fail(provider.OpHash, "digest", err)
		return
	}
	out := make([]byte, alg.OutputSize)
	if err := h.Digest(out); err != nil {
		pr.fail(provider.OpHash, "digest", err)
		return
	}
	if ref != nil {
		want := ref()
		want.Write(probeMessage)
		if !bytes.Equal(out, want.Sum(nil)) {
			pr.fail(provider.OpHash, "digest", wrong("the digest differs from the host's"))
		}
	}
}

// hostHashes are the host's hashes of the names of hashMechanisms.
var hostHashes = map[string]func() hash.Hash{
	"SHA-1": sha1.New, "SHA-224": sha256.New224, "SHA-256": sha256.New,
	"SHA-384": sha512.New384, "SHA-512": sha512.New,
	"SHA3-224": func() hash.Hash { return sha3.New224() }, "SHA3-256": func() hash.Hash { return sha3.New256() },
	"SHA3-384": func() hash.Hash { return sha3.New384() }, "SHA3-512": func() hash.Hash { return sha3.New512() },
}

// keys probes a key algorithm: a generated key and an imported one (each
// as far as the mechanism list offers it), with each of the algorithm's
// operations that the list offers on each key made.
func (pr *prober) keys() {
	alg := pr.p.Algorithm
	// The operations the list rules out are unavailable already: only
	// those it offers are tried.
	var ops []provider.Operation
	for _, op := range provider.KeyOperations(alg) {
		if pr.offered(op) {
			ops = append(ops, op)
		}
	}
	// passed are the operations that worked on some key made; first is
	// the first failure of each operation.
	var passed opSet
	var first []Refusal
	try := func(create provider.Operation, req provider.KeyRequest, secret []byte) bool {
		k, err := pr.b.generateKey(pr.ctx, req, false)
		if err != nil {
			return pr.fail(create, create.String(), err)
		}
		defer pr.destroy(k)
		origin := "a generated key"
		if create == provider.OpImport {
			origin = "an imported key"
		}
		refused := pr.exercise(k, ops, origin, secret)
		if pr.p.Err != nil {
			return false
		}
		var bad opSet
		for _, r := range refused {
			// The key cannot do what its kind must: keys made this way
			// are no good on the token.
			pr.p.Refusals = append(pr.p.Refusals, Refusal{Operation: create, Step: r.Step, CKR: r.CKR, Err: r.Err})
			if !slices.ContainsFunc(first, func(f Refusal) bool { return f.Operation == r.Operation }) {
				first = append(first, r)
			}
			bad |= opsOf(r.Operation)
		}
		for _, op := range ops {
			if !bad.has(op) {
				passed |= opsOf(op)
			}
		}
		return true
	}
	if pr.offered(provider.OpGenerate) && !try(provider.OpGenerate, provider.KeyRequest{Algorithm: alg}, nil) {
		return
	}
	if pr.offered(provider.OpImport) {
		in, secret, err := probeMaterial(alg)
		if err != nil {
			pr.p.Err = err
			return
		}
		defer clear(in)
		if !try(provider.OpImport, provider.KeyRequest{Algorithm: alg, Input: in}, secret) {
			return
		}
	}
	// An operation that failed on every key made is unavailable for any
	// key of the algorithm (managed keys included).
	for _, r := range first {
		if !passed.has(r.Operation) {
			pr.p.Refusals = append(pr.p.Refusals, r)
		}
	}
}

// hkdf probes HKDF: Extract (an import) and Expand with each of its
// hashes, compared with the host's HKDF.
func (pr *prober) hkdf() {
	alg := pr.p.Algorithm
	if !pr.offered(provider.OpImport) {
		return
	}
	ikm, salt := make([]byte, 32), make([]byte, 16)
	_, _ = rand.Read(ikm)
	_, _ = rand.Read(salt)
	for _, name := range []string{"SHA-256", "SHA-384", "SHA-512"} {
		h := provider.MustLookup(name)
		k, err := pr.b.generateKey(pr.ctx, provider.KeyRequest{Algorithm: alg, Input: ikm, Nonce: salt, Hash: h}, false)
		if err != nil {
			if !pr.fail(provider.OpImport, "import with "+name, err) {
				return
			}
			continue
		}
		out := make([]byte, 40)
		err = k.(provider.HKDFKey).Expand(pr.ctx, probeMessage, out)
		pr.destroy(k)
		if err == nil {
			prk, _ := hkdf.Extract(hostHashes[name], ikm, salt)
			want, _ := hkdf.Expand(hostHashes[name], prk, string(probeMessage), len(out))
			if !bytes.Equal(out, want) {
				err = wrong("the output differs from the host's HKDF")
			}
		}
		if err != nil && !pr.fail(provider.OpDerive, "expand with "+name, err) {
			return
		}
	}
}

// destroy destroys a throwaway key, even when the probe's context ended
// (the backend's orphan sweep takes over what it cannot reach now).
func (pr *prober) destroy(k provider.Key) {
	_ = k.Destroy(context.WithoutCancel(pr.ctx))
}

// exercise runs each of ops on k and returns what failed; a failure that
// says nothing about the token ends it, with pr.p.Err set. origin (when
// not "") is said in each step ("sign on a generated key"); secret is the
// value of an imported MAC key, to check its tags against.
func (pr *prober) exercise(k provider.Key, ops []provider.Operation, origin string, secret []byte) []Refusal {
	var out []Refusal
	step := func(s string) string {
		if origin == "" {
			return s
		}
		return s + " on " + origin
	}
	var sealed, nonce []byte
	for _, op := range ops {
		var err error
		name := op.String()
		switch op {
		case provider.OpSign:
			err = pr.sign(k, secret)
		case provider.OpExportPublic:
			_, err = publicOf(pr.ctx, k)
		case provider.OpEncrypt:
			sealed, nonce, err = pr.seal(k)
			name = "seal"
		case provider.OpDecrypt:
			name = "open"
			err = pr.open(k, sealed, nonce)
		case provider.OpDerive:
			err = pr.agree(k)
		}
		if err == nil {
			if op == provider.OpSign || op == provider.OpEncrypt {
				pr.b.noticeLengths(pr.ctx, k)
			}
			continue
		}
		r, ok := pr.refusal(op, step(name), err)
		if !ok {
			return out
		}
		out = append(out, r)
	}
	return out
}

// sign signs probeMessage with k and checks the result: a signature
// verifies under k's public key (when it has one), a MAC of an imported
// key equals the host's.
func (pr *prober) sign(k provider.Key, secret []byte) error {
	signer, ok := k.(provider.Signer)
	if !ok {
		return wrong("%T is no signer", k)
	}
	st, err := signer.NewSignState(pr.ctx, len(probeMessage))
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	if err := st.Update(pr.ctx, probeMessage); err != nil {
		return err
	}
	sig, err := st.Sign(pr.ctx, nil)
	if err != nil {
		return err
	}
	alg := k.Algorithm()
	if alg.Kind == provider.KindMAC {
		if len(sig) != alg.OutputSize {
			return wrong("a tag of %d bytes, want %d", len(sig), alg.OutputSize)
		}
		if secret != nil {
			m := hmac.New(hostHashes[alg.Hash], secret)
			m.Write(probeMessage)
			if !hmac.Equal(sig, m.Sum(nil)) {
				return wrong("the tag differs from the host's HMAC")
			}
		}
		return nil
	}
	pub, err := publicOf(pr.ctx, k)
	if err != nil {
		// A managed key without a public key object: nothing to verify
		// with (export-public says so where it is allowed).
		return nil
	}
	if !verifySignature(alg, pub, probeMessage, sig) {
		return wrong("the signature does not verify under the key's public key")
	}
	return nil
}

// publicOf exports k's public key and parses it.
func publicOf(ctx context.Context, k provider.Key) (crypto.PublicKey, error) {
	e, ok := k.(provider.PublicKeyExporter)
	if !ok {
		return nil, wrong("%T has no public key", k)
	}
	der, err := e.PublicKeyDER(ctx)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, wrong("the public key does not parse: %v", err)
	}
	return pub, nil
}

// verifySignature reports whether sig is alg's signature of msg under pub.
func verifySignature(alg provider.Algorithm, pub crypto.PublicKey, msg, sig []byte) bool {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return alg.Curve == "Ed25519" && ed25519.Verify(p, msg, sig)
	case *ecdsa.PublicKey:
		ref := hostHashes[alg.Hash]
		if ref == nil || len(sig)%2 != 0 {
			return false
		}
		h := ref()
		h.Write(msg)
		half := len(sig) / 2
		r, s := new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])
		return ecdsa.Verify(p, h.Sum(nil), r, s)
	case *rsa.PublicKey:
		var ch crypto.Hash
		switch alg.Hash {
		case "SHA-256":
			ch = crypto.SHA256
		case "SHA-384":
			ch = crypto.SHA384
		case "SHA-512":
			ch = crypto.SHA512
		default:
			return false
		}
		h := ch.New()
		h.Write(msg)
		if alg.IsPSS() {
			return rsa.VerifyPSS(p, ch, h.Sum(nil), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
		}
		return rsa.VerifyPKCS1v15(p, ch, h.Sum(nil), sig) == nil
	}
	return false
}

// seal seals probeMessage with k under a random nonce (never a fixed
// one: k may be a managed key in use elsewhere).
func (pr *prober) seal(k provider.Key) (sealed, nonce []byte, err error) {
	a, ok := k.(provider.AEADKey)
	if !ok {
		return nil, nil, wrong("%T is no AEAD key", k)
	}
	nonce = make([]byte, k.Algorithm().NonceSize)
	_, _ = rand.Read(nonce)
	sealed, err = a.Seal(pr.ctx, nil, nonce, probeMessage, probeMessage[:6])
	if err == nil && len(sealed) != len(probeMessage)+k.Algorithm().TagSize {
		err = wrong("a sealed message of %d bytes, want %d", len(sealed), len(probeMessage)+k.Algorithm().TagSize)
	}
	return sealed, nonce, err
}

// open opens what seal made, and the same with its tag broken, which
// must fail as an authentication failure (anything else would reach
// guests as a device error).
func (pr *prober) open(k provider.Key, sealed, nonce []byte) error {
	a, ok := k.(provider.AEADKey)
	if !ok {
		return wrong("%T is no AEAD key", k)
	}
	if sealed == nil {
		// Nothing sealed to open: seal failed, and said why.
		s, n, err := pr.seal(k)
		if errors.Is(err, provider.ErrAccessDenied) {
			// A managed key that may open but not seal: nothing to
			// open that would check out.
			return nil
		}
		if err != nil {
			return err
		}
		sealed, nonce = s, n
	}
	plain, err := a.Open(pr.ctx, nil, nonce, sealed, probeMessage[:6])
	if err != nil {
		return err
	}
	if !bytes.Equal(plain, probeMessage) {
		return wrong("the opened message differs from the sealed one")
	}
	bad := bytes.Clone(sealed)
	bad[len(bad)-1] ^= 1
	if _, err := a.Open(pr.ctx, nil, nonce, bad, probeMessage[:6]); !errors.Is(err, provider.ErrAuthentication) {
		if err == nil {
			return wrong("a broken tag opened")
		}
		return err
	}
	return nil
}

// agree derives a shared secret with a host key pair and checks it
// against the host's, made with k's public key.
func (pr *prober) agree(k provider.Key) error {
	a, ok := k.(provider.KeyAgreementKey)
	if !ok {
		return wrong("%T is no key-agreement key", k)
	}
	curve := hostCurves[k.Algorithm().Curve]
	if curve == nil {
		return wrong("no host curve %q", k.Algorithm().Curve)
	}
	peer, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	secret, err := a.SharedSecret(pr.ctx, peer.PublicKey().Bytes())
	if err != nil {
		return err
	}
	defer clear(secret)
	pub, err := publicOf(pr.ctx, k)
	if err != nil {
		// A managed key without its public half: only the call is checked.
		return nil
	}
	ep, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return wrong("the public key is a %T", pub)
	}
	theirs, err := ep.ECDH()
	if err != nil {
		return wrong("the public key: %v", err)
	}
	want, err := peer.ECDH(theirs)
	if err != nil || !bytes.Equal(secret, want) {
		return wrong("the shared secret differs from the host's")
	}
	return nil
}

// hostCurves are the host's curves of the ECDH algorithms.
var hostCurves = map[string]ecdh.Curve{"P-256": ecdh.P256(), "P-384": ecdh.P384(), "P-521": ecdh.P521()}

// probeMaterial is what a probe imports for alg (not HKDF): PKCS#8 DER
// for a key pair, a random value for a secret key (returned as secret
// too, to check MAC tags with).
func probeMaterial(alg provider.Algorithm) (in, secret []byte, err error) {
	switch alg.Kind {
	case provider.KindAEAD, provider.KindMAC:
		in = make([]byte, alg.KeySize)
		_, _ = rand.Read(in)
		return in, in, nil
	}
	var priv any
	switch {
	case alg.IsRSA():
		return bytes.Clone(probeRSAKey), nil, nil
	case alg.Curve == "Ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case alg.Kind == provider.KindKeyAgreement:
		priv, err = hostCurves[alg.Curve].GenerateKey(rand.Reader)
	default:
		curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[alg.Curve]
		if curve == nil {
			return nil, nil, fmt.Errorf("hsm: probe %s: no host curve %q: %w", alg.Name, alg.Curve, provider.ErrNotSupported)
		}
		priv, err = ecdsa.GenerateKey(curve, rand.Reader)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("hsm: probe %s: make a key to import: %w", alg.Name, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("hsm: probe %s: make a key to import: %w", alg.Name, err)
	}
	return der, nil, nil
}
