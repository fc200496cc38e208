package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
)

// tokenEnv is one way to the token: the product's backend (as the only
// backend, so every key is on the token) and the raw baseline. inline,
// for the token in the process, is a second backend on the same token
// with hsm.Config.InlineCalls.
type tokenEnv struct {
	router provider.Provider
	inline provider.Provider
	raw    *rawToken
}

// The process's ways to the token, made once: crypto11 insists on calling
// C_Initialize itself, so it comes first; the raw baseline and the backend
// accept a module that is already initialised.
var (
	directOnce sync.Once
	direct     *tokenEnv
	signer11   crypto.Signer
	directErr  error

	remoteOnce sync.Once
	remote     *tokenEnv
	remoteErr  error
)

// openEnv opens the raw baseline and the backend on module, and, with
// inline, the backend with InlineCalls too.
func openEnv(module, label, pin string, inline bool) (*tokenEnv, error) {
	raw, err := openRaw(module, label, pin)
	if err != nil {
		return nil, err
	}
	env := &tokenEnv{raw: raw}
	if env.router, err = openRouter(module, label, pin, false); err != nil {
		return nil, err
	}
	if inline {
		if env.inline, err = openRouter(module, label, pin, true); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// openRouter opens a backend on module as the router's only backend.
func openRouter(module, label, pin string, inline bool) (provider.Provider, error) {
	b, err := hsm.Open(context.Background(), hsm.Config{
		Module:      module,
		Token:       hsm.TokenSelector{Label: label},
		PIN:         func() ([]byte, error) { return []byte(pin), nil },
		InlineCalls: inline,
	})
	if err != nil {
		return nil, err
	}
	return provider.NewRouter(provider.RouterConfig{Primary: b})
}

// directToken is SoftHSM2 loaded in this process, with a crypto11 ES256
// signer on it.
func directToken(tb testing.TB) *tokenEnv {
	tb.Helper()
	fx := softhsmtest.Token(tb)
	directOnce.Do(func() {
		c11, err := crypto11.Configure(&crypto11.Config{Path: fx.Module, TokenLabel: fx.Label, Pin: fx.PIN})
		if err != nil {
			directErr = fmt.Errorf("crypto11: %w", err)
			return
		}
		// Never closed: its Close would finalize the module under the others.
		id := make([]byte, 8)
		rand.Read(id)
		if signer11, err = c11.GenerateECDSAKeyPair(id, elliptic.P256()); err != nil {
			directErr = fmt.Errorf("crypto11: generate: %w", err)
			return
		}
		direct, directErr = openEnv(fx.Module, fx.Label, fx.PIN, true)
	})
	if directErr != nil {
		tb.Fatalf("bench: %v", directErr)
	}
	return direct
}

// remoteToken is the same token through p11-kit's remoting.
func remoteToken(tb testing.TB) *tokenEnv {
	tb.Helper()
	fx := softhsmtest.Token(tb)
	rf := fx.Remote(tb)
	remoteOnce.Do(func() { remote, remoteErr = openEnv(rf.Module, rf.Label, fx.PIN, false) })
	if remoteErr != nil {
		tb.Fatalf("bench: %v", remoteErr)
	}
	return remote
}

// rawSign benchmarks the raw baseline of "sign ALG": a key pair generated
// once, each operation SignInit and Sign in the kept session.
func rawSign(b *testing.B, r *rawToken, alg string) {
	k, err := r.generatePair(alg)
	if err != nil {
		b.Fatal(err)
	}
	defer r.destroy(k.priv, k.pub)
	msg := pattern(64)
	sig := hostLoop(b, func() ([]byte, error) { return r.sign(r.session, alg, k.priv, msg) })
	verifySignature(b, alg, k.public, sig)
}

// BenchmarkToken runs each token operation through a guest and the host
// (guest → host → SoftHSM2) next to the raw miekg/pkcs11 calls on the same
// token, and ES256 also next to crypto11's Signer; the goals are
// benchreport's (GoalSign, GoalShort, GoalBulk, GoalKeygen,
// GoalCPUOverInline). Each product path runs twice: "product" with the
// default backend (every token call on a coroutine, under the call
// deadline) and "product-inline" with hsm.Config.InlineCalls.
func BenchmarkToken(b *testing.B) {
	env := directToken(b)
	products := []product{
		{"product", start(b, newHarness(b, env.router), "bench")},
		{"product-inline", start(b, newHarness(b, env.inline), "bench")},
	}
	for range *rounds {
		benchToken(b, products, env.raw)
	}
}

// product is a guest session on one configuration of the backend, named
// as its sub-benchmarks are.
type product struct {
	name string
	s    *session
}

func benchToken(b *testing.B, products []product, r *rawToken) {
	// each runs body for every product, as sub-benchmark work/<product>.
	each := func(work string, body func(b *testing.B, s *session)) {
		for _, p := range products {
			b.Run(work+"/"+p.name, func(b *testing.B) { body(b, p.s) })
		}
	}
	for _, alg := range []string{"ES256", "EdDSA"} {
		each(alg+"-sign", func(b *testing.B, s *session) {
			b.ReportAllocs()
			checkSignature(b, alg, loop(b, s, "sign "+alg))
		})
		b.Run(alg+"-sign/raw", func(b *testing.B) { rawSign(b, r, alg) })
		if alg == "ES256" {
			b.Run(alg+"-sign/crypto11", benchCrypto11)
		}
	}
	each("HS256-64B", func(b *testing.B, s *session) {
		b.ReportAllocs()
		checkMAC(b, loop(b, s, "hmac HS256"))
	})
	b.Run("HS256-64B/raw", func(b *testing.B) {
		key := r.macKey(b)
		msg := pattern(64)
		mac := hostLoop(b, func() ([]byte, error) { return r.sign(r.session, "HS256", key, msg) })
		checkMAC(b, []string{fmt.Sprintf("%x", mac)})
	})
	for _, size := range []int{64, mib} {
		name := "A256GCM-64B"
		if size == mib {
			name = "A256GCM-1MiB"
		}
		each(name, func(b *testing.B, s *session) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			checkGCM(b, size, b.N, loop(b, s, "gcm A256GCM "+strconv.Itoa(size)))
		})
		b.Run(name+"/raw", func(b *testing.B) { rawGCM(b, r, size) })
	}
	each("ES256-keygen", func(b *testing.B, s *session) {
		b.ReportAllocs()
		loop(b, s, "keygen ES256")
	})
	b.Run("ES256-keygen/raw", func(b *testing.B) {
		hostLoop(b, func() ([]byte, error) {
			k, err := r.generatePair("ES256")
			if err != nil {
				return nil, err
			}
			return nil, r.destroy(k.priv, k.pub)
		})
	})
	each("AES-keygen", func(b *testing.B, s *session) {
		b.ReportAllocs()
		loop(b, s, "keygen A256GCM")
	})
	b.Run("AES-keygen/raw", func(b *testing.B) {
		hostLoop(b, func() ([]byte, error) {
			k, err := r.generateAES()
			if err != nil {
				return nil, err
			}
			return nil, r.destroy(k)
		})
	})
}

// rawGCM benchmarks the raw baseline of "gcm A256GCM SIZE": an imported
// key, each operation EncryptInit and Encrypt with the next nonce.
func rawGCM(b *testing.B, r *rawToken, size int) {
	key, err := r.importSecret(pkcs11.CKK_AES, keyBytes(32))
	if err != nil {
		b.Fatal(err)
	}
	defer r.destroy(key)
	data := pattern(size)
	nonce := make([]byte, 12)
	var last []byte
	b.SetBytes(int64(size))
	out := hostLoop(b, func() ([]byte, error) {
		last = append(last[:0], nonce...)
		out, err := r.seal(key, nonce, data)
		incr(nonce)
		return out, err
	})
	if want := gcmTag(b, last, size); len(out) != size+16 || string(out[size:]) != string(want) {
		b.Fatalf("bench: raw A256GCM: a wrong tag")
	}
}

// incr adds one to the big-endian counter c.
func incr(c []byte) {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]++
		if c[i] != 0 {
			return
		}
	}
}

// benchCrypto11 signs the guest's message with crypto11's ECDSA Signer
// (the digest on the host, as the others).
func benchCrypto11(b *testing.B) {
	msg := pattern(64)
	sig := hostLoop(b, func() ([]byte, error) {
		digest := sha256.Sum256(msg)
		return signer11.Sign(rand.Reader, digest[:], crypto.SHA256)
	})
	digest := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(signer11.Public().(*ecdsa.PublicKey), digest[:], sig) {
		b.Fatal("bench: crypto11's signature does not verify")
	}
}

// BenchmarkRemote signs with ES256 through p11-kit's remoting (guest →
// host → p11-kit client → server → SoftHSM2) next to raw miekg/pkcs11 over
// the same remote module. Goal: ≥ 0.95× raw.
func BenchmarkRemote(b *testing.B) {
	env := remoteToken(b)
	s := start(b, newHarness(b, env.router), "bench")
	for range *rounds {
		b.Run("ES256-sign/product", func(b *testing.B) {
			b.ReportAllocs()
			checkSignature(b, "ES256", loop(b, s, "sign ES256"))
		})
		b.Run("ES256-sign/raw", func(b *testing.B) { rawSign(b, env.raw, "ES256") })
	}
}

// BenchmarkParallelToken signs with ES256 on SoftHSM2 in one guest
// instance, split over two instances at once, and with raw miekg/pkcs11
// in two goroutines with a session each. Goal: two instances ≥ 0.95× the
// raw two goroutines. The "-inline" runs use hsm.Config.InlineCalls.
func BenchmarkParallelToken(b *testing.B) {
	env := directToken(b)
	h, hi := newHarness(b, env.router), newHarness(b, env.inline)
	s1, s2 := start(b, h, "bench"), start(b, h, "bench")
	i1, i2 := start(b, hi, "bench"), start(b, hi, "bench")
	for range *rounds {
		b.Run("1-instance", func(b *testing.B) { together(b, "sign ES256", s1) })
		b.Run("2-instances", func(b *testing.B) { together(b, "sign ES256", s1, s2) })
		b.Run("2-instances-inline", func(b *testing.B) { together(b, "sign ES256", i1, i2) })
		b.Run("raw-2-goroutines", func(b *testing.B) { rawParallel(b, env.raw) })
	}
}

// saturationGuests and saturationCPUs are the saturation row's load: more
// guests than CPUs, each always runnable, so that CPU time is what counts.
const (
	saturationGuests = 4
	saturationCPUs   = 2
)

// BenchmarkSaturation makes HS256 MACs of 64 B in saturationGuests guest
// instances at once, each with a key of its own, with GOMAXPROCS at
// saturationCPUs: with the default backend ("product") and with
// hsm.Config.InlineCalls ("product-inline"). Goal: the default's throughput
// ≥ 0.95× inline_calls'. With every CPU wanted by a guest, whatever the
// call deadline's hand-off spends comes out of the throughput: it must not
// spin on a CPU a guest is waiting for.
func BenchmarkSaturation(b *testing.B) {
	env := directToken(b)
	products := []struct {
		name   string
		guests []*session
	}{{"product", nil}, {"product-inline", nil}}
	for i, p := range []provider.Provider{env.router, env.inline} {
		h := newHarness(b, p)
		for range saturationGuests {
			products[i].guests = append(products[i].guests, start(b, h, "bench"))
		}
	}
	for range *rounds {
		for _, p := range products {
			b.Run("HS256-64B/"+p.name, func(b *testing.B) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(saturationCPUs))
				together(b, "hmac HS256", p.guests...)
			})
		}
	}
	for _, p := range products {
		for _, s := range p.guests {
			checkMAC(b, s.must(b, "hmac HS256 1"))
		}
	}
}

// rawParallel signs with ES256 in two goroutines, each with a session of
// its own, b.N signatures in all.
func rawParallel(b *testing.B, r *rawToken) {
	k, err := r.generatePair("ES256")
	if err != nil {
		b.Fatal(err)
	}
	defer r.destroy(k.priv, k.pub)
	sessions := make([]pkcs11.SessionHandle, 2)
	for i := range sessions {
		if sessions[i], err = r.newSession(); err != nil {
			b.Fatal(err)
		}
		defer r.p.CloseSession(sessions[i])
	}
	msg := pattern(64)
	sigs := make([][]byte, len(sessions))
	errs := make(chan error, len(sessions))
	b.ResetTimer()
	cpu := startCPU(b)
	for i, sess := range sessions {
		n := b.N/2 + i*(b.N%2)
		go func() {
			var err error
			for range n {
				if sigs[i], err = r.sign(sess, "ES256", k.priv, msg); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range sessions {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu()
	for _, sig := range sigs {
		if sig != nil {
			verifySignature(b, "ES256", k.public, sig)
		}
	}
}

// TestToken runs each token operation once through the guest (with and
// without inline calls), raw and with crypto11, directly and through
// p11-kit, and checks the results.
func TestToken(t *testing.T) {
	env := directToken(t)
	for _, router := range []provider.Provider{env.router, env.inline} {
		s := start(t, newHarness(t, router), "bench")
		checkSignature(t, "ES256", s.must(t, "sign ES256 2"))
		checkSignature(t, "EdDSA", s.must(t, "sign EdDSA 2"))
		checkMAC(t, s.must(t, "hmac HS256 2"))
		checkGCM(t, 64, 2, s.must(t, "gcm A256GCM 64 2"))
		// Larger than the scratch a host instance keeps: the token's
		// answer goes to the guest without staging.
		checkGCM(t, mib, 1, s.must(t, "gcm A256GCM %d 1", mib))
		s.must(t, "keygen ES256 2")
		s.must(t, "keygen A256GCM 2")
	}

	r := env.raw
	for _, alg := range []string{"ES256", "EdDSA"} {
		k, err := r.generatePair(alg)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := r.sign(r.session, alg, k.priv, pattern(64))
		if err != nil {
			t.Fatal(err)
		}
		verifySignature(t, alg, k.public, sig)
		if err := r.destroy(k.priv, k.pub); err != nil {
			t.Fatal(err)
		}
	}
	rs := start(t, newHarness(t, remoteToken(t).router), "bench")
	checkSignature(t, "ES256", rs.must(t, "sign ES256 2"))
}
