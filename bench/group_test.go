//go:build linux

package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/hsm/group"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
)

// groupEnv is the set-up of BenchmarkGroup: two tokens, each behind its
// own p11-kit server, through p11-kit-proxy, with the same ES256 managed
// key; and three ways to them, each with two guest sessions.
type groupEnv struct {
	fx                  *softhsmtest.Group
	single, one, two    [2]*session
	singleP, oneP, twoP provider.Provider
}

// newGroupEnv makes the tokens and the three providers: a single token
// (hsm.Backend, as pkcs11.token), the same token as a group of one, and
// the group of both (balance). They are never closed: closing the last
// user of p11-kit-proxy finalizes it, and the proxy then finalizes every
// module it loaded, the process's own SoftHSM2 among them, which the other
// benchmarks use. The servers go when the benchmark ends.
func newGroupEnv(b *testing.B) *groupEnv {
	b.Helper()
	fx := softhsmtest.Servers(b, 2)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		b.Fatal(err)
	}
	configs := make([]hsm.Config, len(fx.Tokens))
	for i, tok := range fx.Tokens {
		configs[i] = hsm.Config{
			Module: fx.Module, Token: hsm.TokenSelector{Serial: tok.Serial},
			PIN: func() ([]byte, error) { return []byte(fx.PIN), nil },
		}
		a, err := hsm.OpenAdmin(context.Background(), configs[i], hsm.AdminOptions{})
		if err == nil {
			err = a.Login(context.Background())
		}
		if err == nil {
			_, err = a.Create(context.Background(), hsm.KeySpec{Label: "bench-group", ID: []byte{0xb1}, Algorithm: "ES256", Material: der})
		}
		if a != nil {
			_ = a.Close()
		}
		if err != nil {
			b.Fatalf("bench: provision token %d: %v", i, err)
		}
	}
	// Everything that holds the proxy module is closed when the
	// benchmark ends, so that the module is finalised: p11-kit-proxy
	// initialises every module registered with p11-kit, SoftHSM2's
	// included, in this process, and the token benchmarks that run after
	// this one initialise SoftHSM2 themselves (crypto11 refuses a module
	// that is already initialised).
	managed := []hsm.ManagedKey{{Name: "ES256", Label: "bench-group", ID: []byte{0xb1}, Algorithm: provider.MustLookup("ES256"),
		Guests: []hsm.GuestRule{{Module: "bench"}}}}
	env := &groupEnv{fx: fx}

	single := configs[0]
	single.ManagedKeys = managed
	sb, err := hsm.Open(context.Background(), single)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sb.Close() })
	openGroup := func(tokens ...hsm.Config) provider.Provider {
		g, err := group.Open(context.Background(), group.Config{Tokens: tokens, ManagedKeys: managed})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = g.Close() })
		for _, s := range g.Status() {
			if s.State != group.Healthy {
				b.Fatalf("bench: group token %d: %s (%v)", s.Index, s.State, s.LastError)
			}
		}
		return router(b, g, g)
	}
	env.singleP = router(b, sb, sb)
	env.oneP = openGroup(configs[0])
	env.twoP = openGroup(configs...)
	for _, w := range []struct {
		p provider.Provider
		s *[2]*session
	}{{env.singleP, &env.single}, {env.oneP, &env.one}, {env.twoP, &env.two}} {
		h := newHarness(b, w.p)
		w.s[0], w.s[1] = start(b, h, "bench"), start(b, h, "bench")
	}
	return env
}

func router(b *testing.B, primary provider.Backend, keys provider.ManagedKeys) provider.Provider {
	r, err := provider.NewRouter(provider.RouterConfig{Primary: primary, ManagedKeys: keys})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// run signs with the managed key from both sessions at once, b.N in all,
// checks a signature, and reports each server's CPU time per signature
// next to the client's (cpu-ns/op).
func (e *groupEnv) run(b *testing.B, ss [2]*session) {
	b.ReportAllocs()
	var before [2]time.Duration
	for i := range before {
		before[i] = e.fx.ServerCPU(i)
	}
	together(b, "msign ES256", ss[0], ss[1])
	for i := range before {
		b.ReportMetric(float64(e.fx.ServerCPU(i)-before[i])/float64(b.N), fmt.Sprintf("srv%d-cpu-ns/op", i))
	}
	checkSignature(b, "ES256", ss[0].must(b, "msign ES256 1"))
}

// BenchmarkGroup signs with ES256 and a managed key from two guests in
// parallel, through p11-kit-proxy to SoftHSM2 tokens each behind a p11-kit
// server of its own: "1-token" is one token as pkcs11.token configures
// it, "group-of-1" the same token as a group of one (the group's cost),
// "2-tokens" a group of two with policy balance. Goals: 2-tokens ≥ 1.7×
// 1-token; group-of-1 within 1-token's run-to-run range. srvN-cpu-ns/op
// is server N's CPU time per signature (its SoftHSM2 runs there), for
// when the machine's CPUs saturate first.
func BenchmarkGroup(b *testing.B) {
	env := newGroupEnv(b)
	for range *rounds {
		b.Run("ES256-managed/1-token", func(b *testing.B) { env.run(b, env.single) })
		b.Run("ES256-managed/group-of-1", func(b *testing.B) { env.run(b, env.one) })
		b.Run("ES256-managed/2-tokens", func(b *testing.B) { env.run(b, env.two) })
	}
}
