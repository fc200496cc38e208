//go:build cgo && linux

package tokengroup

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/hsm/group"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
)

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Shutdown()
	os.Exit(code)
}

const (
	// callTimeout is the group's call deadline in these tests; each
	// attempt on one token gets a quarter of it.
	callTimeout = 2 * time.Second
	// rejoinWithin is how soon a token that is back must serve again.
	rejoinWithin = 5 * time.Second
	guestName    = "groupguest"
)

// keys are the managed keys on every token of a group: "sig" (ES256) and
// "mac" (HS256), the same on each.
type keys struct {
	ec  *ecdsa.PrivateKey
	mac []byte
}

// tokenConfig selects token tok of fx through the proxy, by serial.
func tokenConfig(fx *softhsmtest.Group, tok *softhsmtest.GroupToken) hsm.Config {
	pin := fx.PIN
	return hsm.Config{
		Module:      fx.Module,
		Token:       hsm.TokenSelector{Serial: tok.Serial},
		PIN:         func() ([]byte, error) { return []byte(pin), nil },
		MaxSessions: 8,
	}
}

// The process's group and its keys (see softhsmtest.Servers): the keys
// are provisioned once.
var (
	provisionOnce sync.Once
	provisioned   keys
)

// newGroup returns the process's three tokens behind their servers, with
// the same managed keys on each, put there through the proxy as `wasihsm
// keys import` does.
func newGroup(t *testing.T) (*softhsmtest.Group, keys) {
	t.Helper()
	fx := softhsmtest.Servers(t, 3)
	provisionOnce.Do(func() {
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		der, err := x509.MarshalPKCS8PrivateKey(ec)
		require.NoError(t, err)
		k := keys{ec: ec, mac: make([]byte, 32)}
		_, _ = rand.Read(k.mac)
		for _, tok := range fx.Tokens {
			a, err := hsm.OpenAdmin(context.Background(), tokenConfig(fx, tok), hsm.AdminOptions{})
			require.NoError(t, err)
			require.NoError(t, a.Login(context.Background()))
			_, err = a.Create(context.Background(), hsm.KeySpec{Label: "sig", ID: []byte{1}, Algorithm: "ES256", Material: der})
			require.NoError(t, err)
			_, err = a.Create(context.Background(), hsm.KeySpec{Label: "mac", ID: []byte{2}, Algorithm: "HS256", Material: k.mac})
			require.NoError(t, err)
			require.NoError(t, a.Close())
		}
		provisioned = k
	})
	require.NotNil(t, provisioned.ec, "the keys were provisioned")
	return fx, provisioned
}

// openGroup opens the group of fx's tokens, every one healthy.
func openGroup(t *testing.T, fx *softhsmtest.Group, policy group.Policy) *group.Group {
	t.Helper()
	g := openGroupAsIs(t, fx, policy)
	for i, s := range g.Status() {
		require.Equal(t, group.Healthy, s.State, "token %d at open: %v", i, s.LastError)
		require.Equal(t, group.KeyPresent, s.Keys["sig"], "token %d", i)
		require.Equal(t, group.KeyPresent, s.Keys["mac"], "token %d", i)
	}
	return g
}

// openGroupAsIs opens the group of fx's tokens, whatever their state.
func openGroupAsIs(t *testing.T, fx *softhsmtest.Group, policy group.Policy) *group.Group {
	t.Helper()
	cfg := group.Config{Policy: policy, CallTimeout: callTimeout, ManagedKeys: []hsm.ManagedKey{
		{Name: "sig", Label: "sig", ID: []byte{1}, Algorithm: provider.MustLookup("ES256"), Guests: []hsm.GuestRule{{Module: guestName}, {Module: "load"}}},
		{Name: "mac", Label: "mac", ID: []byte{2}, Algorithm: provider.MustLookup("HS256"), Guests: []hsm.GuestRule{{Module: guestName}, {Module: "load"}}},
	}}
	for _, tok := range fx.Tokens {
		cfg.Tokens = append(cfg.Tokens, tokenConfig(fx, tok))
	}
	g, err := group.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Logf("close: %v", err)
		}
	})
	return g
}

// verifySig reports whether sig (r‖s) is k's ES256 signature of msg.
func (k keys) verifySig(msg, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	h := sha256.Sum256(msg)
	return ecdsa.Verify(&k.ec.PublicKey, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

// verifyMAC reports whether mac is k's HS256 MAC of msg.
func (k keys) verifyMAC(msg, mac []byte) bool {
	h := hmac.New(sha256.New, k.mac)
	h.Write(msg)
	return hmac.Equal(h.Sum(nil), mac)
}

// signWith signs msg with the managed key name from the Go side, as the
// host does for a guest, and returns the result and how long it took.
func signWith(ctx context.Context, key provider.Key, msg []byte) ([]byte, time.Duration, error) {
	start := time.Now()
	st, err := key.(provider.Signer).NewSignState(ctx, 1<<16)
	if err != nil {
		return nil, time.Since(start), err
	}
	defer func() { _ = st.Close() }()
	if err := st.Update(ctx, msg); err != nil {
		return nil, time.Since(start), err
	}
	out, err := st.Sign(ctx, nil)
	return out, time.Since(start), err
}

// rejoin watches g and records, per token, when it is healthy again after
// back was called for it.
type rejoin struct {
	mu   sync.Mutex
	back map[int]time.Time
	took map[int]time.Duration
	stop chan struct{}
	done chan struct{}
}

func watchRejoin(g *group.Group) *rejoin {
	r := &rejoin{back: map[int]time.Time{}, took: map[int]time.Duration{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			select {
			case <-r.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			for _, s := range g.Status() {
				r.mu.Lock()
				if at, ok := r.back[s.Index]; ok && s.State == group.Healthy {
					r.took[s.Index] = time.Since(at)
					delete(r.back, s.Index)
				}
				r.mu.Unlock()
			}
		}
	}()
	return r
}

// isBack notes that token i is back (restarted or continued) now.
func (r *rejoin) isBack(i int) {
	r.mu.Lock()
	r.back[i] = time.Now()
	r.mu.Unlock()
}

// wait stops watching and returns how long each token took to rejoin;
// a token missing from the map did not rejoin.
func (r *rejoin) wait() map[int]time.Duration {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.took
}

// TestFailoverKillAndHang: with three tokens, signing and MACing from four
// goroutines, token 0's server is killed and token 1's stopped: no call
// fails, none takes longer than the call deadline, every result verifies,
// and both tokens serve again within rejoinWithin of being back.
func TestFailoverKillAndHang(t *testing.T) {
	fx, k := newGroup(t)
	g := openGroup(t, fx, group.Balance)
	ctx := context.Background()
	sig, err := g.OpenManagedKey(ctx, "sig", provider.Guest{Name: "load"})
	require.NoError(t, err)
	mac, err := g.OpenManagedKey(ctx, "mac", provider.Guest{Name: "load"})
	require.NoError(t, err)

	var (
		mu       sync.Mutex
		calls    int
		failures []error
		bad      int
		slowest  time.Duration
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				msg := []byte("load " + strconv.Itoa(w) + " " + strconv.Itoa(i))
				key, verify := sig, k.verifySig
				if i%2 == 1 {
					key, verify = mac, k.verifyMAC
				}
				out, took, err := signWith(ctx, key, msg)
				mu.Lock()
				calls++
				slowest = max(slowest, took)
				if err != nil {
					failures = append(failures, err)
				} else if !verify(msg, out) {
					bad++
				}
				mu.Unlock()
			}
		})
	}
	r := watchRejoin(g)
	time.Sleep(500 * time.Millisecond)
	fx.Kill(t, 0)
	time.Sleep(time.Second)
	fx.Start(t, 0)
	r.isBack(0)
	time.Sleep(500 * time.Millisecond)
	fx.Stop(t, 1)
	time.Sleep(2 * time.Second)
	fx.Continue(t, 1)
	r.isBack(1)
	require.Eventually(t, func() bool {
		s := g.Status()
		return s[0].State == group.Healthy && s[1].State == group.Healthy
	}, rejoinWithin+time.Second, 10*time.Millisecond, "both tokens rejoin")
	close(stop)
	wg.Wait()
	took := r.wait()
	t.Logf("%d calls, %d failed, slowest %v, failovers %d, rejoin %v", calls, len(failures), slowest.Round(time.Millisecond), g.Failovers(), took)
	for _, s := range g.Status() {
		t.Logf("token %d: %s, %d operations, %d failovers, last error %v", s.Index, s.State, s.Operations, s.Failovers, s.LastError)
	}
	assert.Empty(t, failures, "no call fails")
	assert.Zero(t, bad, "every result verifies")
	assert.LessOrEqual(t, slowest, callTimeout, "no call takes longer than its deadline")
	assert.Positive(t, g.Failovers(), "calls did fail over")
	for _, i := range []int{0, 1} {
		d, ok := took[i]
		assert.True(t, ok, "token %d rejoined", i)
		assert.LessOrEqual(t, d, rejoinWithin, "token %d rejoined in time", i)
	}
}

// TestAllDown: with every token's server gone, calls fail fast with
// provider.ErrDevice (io), and succeed again within rejoinWithin of one
// token's return.
func TestAllDown(t *testing.T) {
	fx, k := newGroup(t)
	g := openGroup(t, fx, group.Balance)
	ctx := context.Background()
	sig, err := g.OpenManagedKey(ctx, "sig", provider.Guest{Name: "load"})
	require.NoError(t, err)
	for i := range fx.Tokens {
		fx.Kill(t, i)
	}
	// The first calls find the tokens failing; none waits the deadline.
	var slowest time.Duration
	for range 20 {
		_, took, err := signWith(ctx, sig, []byte("m"))
		require.ErrorIs(t, err, provider.ErrDevice)
		slowest = max(slowest, took)
	}
	// Once they are down, at once.
	time.Sleep(group.DefaultDownAfter + 100*time.Millisecond)
	_, fast, err := signWith(ctx, sig, []byte("m"))
	require.ErrorIs(t, err, provider.ErrDevice)
	t.Logf("while failing: slowest %v; once down: %v", slowest.Round(time.Millisecond), fast)
	assert.Less(t, slowest, callTimeout/2, "fails well before the deadline")
	assert.Less(t, fast, 50*time.Millisecond, "fails at once when every token is down")

	fx.Start(t, 2)
	back := time.Now()
	var out []byte
	for {
		out, _, err = signWith(ctx, sig, []byte("m"))
		if err == nil || time.Since(back) > rejoinWithin+time.Second {
			break
		}
		require.True(t, errors.Is(err, provider.ErrDevice), "%v", err)
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err, "serves again once one token is back")
	served := time.Since(back)
	t.Logf("served again %v after one token came back", served.Round(time.Millisecond))
	assert.LessOrEqual(t, served, rejoinWithin)
	assert.True(t, k.verifySig([]byte("m"), out))
}

// TestRejoinProvesKeys: a token that comes back holding another key under
// a managed key's label and id (replaced while it was down) rejoins for
// the keys it still holds, and serves none of the replaced one's
// operations; the other tokens serve them.
func TestRejoinProvesKeys(t *testing.T) {
	fx, k := newGroup(t)
	g := openGroup(t, fx, group.Balance)
	ctx := context.Background()
	sig, err := g.OpenManagedKey(ctx, "sig", provider.Guest{Name: "load"})
	require.NoError(t, err)
	mac, err := g.OpenManagedKey(ctx, "mac", provider.Guest{Name: "load"})
	require.NoError(t, err)

	fx.Kill(t, 2)
	require.Eventually(t, func() bool {
		_, _, err := signWith(ctx, sig, []byte("m"))
		require.NoError(t, err, "the others serve meanwhile")
		return g.Status()[2].State != group.Healthy
	}, 10*time.Second, time.Millisecond, "the group notices")
	// Another key under "sig"'s label and id, written to the token's
	// files while its server is down.
	fx.Tool(t, 2, "--delete-object", "--type", "privkey", "--id", "01")
	fx.Tool(t, 2, "--delete-object", "--type", "pubkey", "--id", "01")
	fx.Tool(t, 2, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "sig", "--id", "01")
	t.Cleanup(func() { restoreSig(t, fx, k) })
	fx.Start(t, 2)
	require.Eventually(t, func() bool { return g.Status()[2].State == group.Healthy }, rejoinWithin, 10*time.Millisecond)
	st := g.Status()[2]
	assert.Equal(t, group.KeyDifferent, st.Keys["sig"], "the replaced key is not served")
	assert.Equal(t, group.KeyPresent, st.Keys["mac"], "the key it still holds is")

	before := g.Status()[2].Operations
	for i := range 30 {
		out, _, err := signWith(ctx, sig, []byte{byte(i)})
		require.NoError(t, err)
		assert.True(t, k.verifySig([]byte{byte(i)}, out), "every signature is the group's key's")
	}
	assert.Equal(t, before, g.Status()[2].Operations, "token 2 signs nothing with the replaced key")
	for i := range 30 {
		out, _, err := signWith(ctx, mac, []byte{byte(i)})
		require.NoError(t, err)
		assert.True(t, k.verifyMAC([]byte{byte(i)}, out))
	}
	assert.Greater(t, g.Status()[2].Operations, before, "token 2 serves the MAC key again")
}

// restoreSig puts the group's "sig" key back on token 2, for the tests
// that come after.
func restoreSig(t *testing.T, fx *softhsmtest.Group, k keys) {
	der, err := x509.MarshalPKCS8PrivateKey(k.ec)
	require.NoError(t, err)
	a, err := hsm.OpenAdmin(context.Background(), tokenConfig(fx, fx.Tokens[2]), hsm.AdminOptions{})
	require.NoError(t, err)
	defer func() { _ = a.Close() }()
	require.NoError(t, a.Login(context.Background()))
	_, err = a.Delete(context.Background(), "sig", []byte{1})
	require.NoError(t, err)
	_, err = a.Create(context.Background(), hsm.KeySpec{Label: "sig", ID: []byte{1}, Algorithm: "ES256", Material: der})
	require.NoError(t, err)
}

// TestGeneratedKeysLiveOnOneToken: a key a guest generates lives on the
// token that made it; when that token is lost (its server killed and
// started again: the key's session object died with it) the key answers
// notrecoverable, and new keys go to the healthy tokens and work.
func TestGeneratedKeysLiveOnOneToken(t *testing.T) {
	fx, _ := newGroup(t)
	g := openGroup(t, fx, group.Balance)
	ctx := context.Background()
	ops := func() []uint64 {
		var out []uint64
		for _, s := range g.Status() {
			out = append(out, s.Operations)
		}
		return out
	}
	before := ops()
	key, err := g.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("ES256")})
	require.NoError(t, err)
	after := ops()
	home := -1
	for i := range after {
		if after[i] > before[i] {
			home = i
		}
	}
	require.NotEqual(t, -1, home, "one token made the key")
	_, _, err = signWith(ctx, key, []byte("m"))
	require.NoError(t, err)

	fx.Kill(t, home)
	fx.Start(t, home)
	require.Eventually(t, func() bool {
		_, _, err := signWith(ctx, key, []byte("m"))
		require.True(t, err == nil || errors.Is(err, provider.ErrDevice) || errors.Is(err, provider.ErrKeyLost), "%v", err)
		return errors.Is(err, provider.ErrKeyLost)
	}, 10*time.Second, 10*time.Millisecond, "the key answers notrecoverable once its token is back without it")
	for range 6 {
		k, err := g.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("ES256")})
		require.NoError(t, err, "new keys go to the healthy tokens")
		_, _, err = signWith(ctx, k, []byte("m"))
		require.NoError(t, err)
		require.NoError(t, k.Destroy(ctx))
	}
}
