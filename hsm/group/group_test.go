//go:build cgo

package group_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"math/big"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/hsm/group"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/metrics"
	"github.com/wasihsm/wasihsm/provider"
)

func TestMain(m *testing.M) {
	code := m.Run()
	softhsmtest.Shutdown()
	os.Exit(code)
}

// replicas is how many tokens the tests' SoftHSM2 holds.
const replicas = 2

var guest = provider.Guest{Name: "app"}

// tokenConfig is the hsm.Config of replica fx.
func tokenConfig(fx *softhsmtest.Fixture) hsm.Config {
	pin := fx.PIN
	return hsm.Config{
		Module: fx.Module,
		Token:  hsm.TokenSelector{Serial: fx.Serial},
		PIN:    func() ([]byte, error) { return []byte(pin), nil },
	}
}

// provision puts a key on a token with material (nil: generated there).
func provision(t *testing.T, fx *softhsmtest.Fixture, label string, id byte, alg string, material []byte) {
	t.Helper()
	a, err := hsm.OpenAdmin(context.Background(), tokenConfig(fx), hsm.AdminOptions{})
	require.NoError(t, err)
	defer func() { _ = a.Close() }()
	require.NoError(t, a.Login(context.Background()))
	_, err = a.Create(context.Background(), hsm.KeySpec{Label: label, ID: []byte{id}, Algorithm: alg, Material: material})
	require.NoError(t, err)
}

func pkcs8(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return der
}

func managed(name, label string, id byte, alg string) hsm.ManagedKey {
	return hsm.ManagedKey{Name: name, Label: label, ID: []byte{id}, Algorithm: provider.MustLookup(alg), Guests: []hsm.GuestRule{{Module: guest.Name}}}
}

// keys are the managed keys of the tests' tokens, provisioned once.
type keys struct {
	ec   *ecdsa.PrivateKey
	mac  []byte
	aead []byte
}

var provisioned *keys

// setup provisions, once per process, on both replicas: the same ES256,
// HS256 and A256GCM keys ("sig", "mac", "box"); on token 1 a different
// ES256 key than on token 0 under "odd"; and "half" on token 0 only.
func setup(t *testing.T) ([]*softhsmtest.Fixture, *keys) {
	t.Helper()
	fxs := softhsmtest.Replicas(t, replicas)
	if provisioned != nil {
		return fxs, provisioned
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	k := &keys{ec: ec, mac: make([]byte, 32), aead: make([]byte, 32)}
	rand.Read(k.mac)
	rand.Read(k.aead)
	for i, fx := range fxs {
		provision(t, fx, "sig", 1, "ES256", pkcs8(t, ec))
		provision(t, fx, "mac", 2, "HS256", k.mac)
		provision(t, fx, "box", 3, "A256GCM", k.aead)
		odd, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		provision(t, fx, "odd", 4, "ES256", pkcs8(t, odd))
		if i == 0 {
			provision(t, fx, "half", 5, "ES256", pkcs8(t, odd))
		}
	}
	provisioned = k
	return fxs, k
}

func groupConfig(fxs []*softhsmtest.Fixture, policy group.Policy) group.Config {
	cfg := group.Config{Policy: policy, CallTimeout: 4 * time.Second, ManagedKeys: []hsm.ManagedKey{
		managed("sig", "sig", 1, "ES256"), managed("mac", "mac", 2, "HS256"), managed("box", "box", 3, "A256GCM"),
		managed("odd", "odd", 4, "ES256"), managed("half", "half", 5, "ES256"), managed("absent", "absent", 6, "HS256"),
	}}
	for _, fx := range fxs {
		cfg.Tokens = append(cfg.Tokens, tokenConfig(fx))
	}
	return cfg
}

func openGroup(t *testing.T, cfg group.Config) *group.Group {
	t.Helper()
	g, err := group.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close() })
	return g
}

func sign(t *testing.T, k provider.Key, msg []byte) []byte {
	t.Helper()
	st, err := k.(provider.Signer).NewSignState(context.Background(), 1<<20)
	require.NoError(t, err)
	defer func() { _ = st.Close() }()
	require.NoError(t, st.Update(context.Background(), msg))
	sig, err := st.Sign(context.Background(), nil)
	require.NoError(t, err)
	require.Len(t, sig, st.Size())
	return sig
}

// TestKeysProvenOnEveryToken: the group serves a managed key from the
// tokens that hold it and proved it the same key; a token that holds
// another key under its label and id, or none, does not serve it, and
// Status says so. Every result verifies with the key the test imported.
func TestKeysProvenOnEveryToken(t *testing.T) {
	fxs, k := setup(t)
	g := openGroup(t, groupConfig(fxs, group.Balance))
	st := g.Status()
	require.Len(t, st, replicas)
	for i, s := range st {
		assert.Equal(t, group.Healthy, s.State, "token %d", i)
		for _, name := range []string{"sig", "mac", "box"} {
			assert.Equal(t, group.KeyPresent, s.Keys[name], "token %d key %s", i, name)
		}
	}
	assert.Equal(t, group.KeyPresent, st[0].Keys["odd"], "the first token's key is the group's")
	assert.Equal(t, group.KeyDifferent, st[1].Keys["odd"], "another key under the same label and id")
	assert.Equal(t, group.KeyPresent, st[0].Keys["half"])
	assert.Equal(t, group.KeyMissing, st[1].Keys["half"])
	assert.Equal(t, group.KeyMissing, st[0].Keys["absent"])

	ctx := context.Background()
	msg := []byte("a message for every token")
	sigKey, err := g.OpenManagedKey(ctx, "sig", guest)
	require.NoError(t, err)
	macKey, err := g.OpenManagedKey(ctx, "mac", guest)
	require.NoError(t, err)
	boxKey, err := g.OpenManagedKey(ctx, "box", guest)
	require.NoError(t, err)
	spki, err := sigKey.(provider.PublicKeyExporter).PublicKeyDER(ctx)
	require.NoError(t, err)
	want, err := x509.MarshalPKIXPublicKey(&k.ec.PublicKey)
	require.NoError(t, err)
	assert.Equal(t, want, spki)
	wantMAC := hmac.New(sha256.New, k.mac)
	wantMAC.Write(msg)
	block, err := aes.NewCipher(k.aead)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	for i := range 20 {
		sig := sign(t, sigKey, msg)
		h := sha256.Sum256(msg)
		assert.True(t, ecdsa.Verify(&k.ec.PublicKey, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])), "signature %d", i)
		assert.Equal(t, wantMAC.Sum(nil), sign(t, macKey, msg), "MAC %d", i)
		nonce := make([]byte, 12)
		rand.Read(nonce)
		sealed, err := boxKey.(provider.AEADKey).Seal(ctx, nil, nonce, msg, nil)
		require.NoError(t, err)
		plain, err := gcm.Open(nil, nonce, sealed, nil)
		require.NoError(t, err, "seal %d", i)
		assert.Equal(t, msg, plain)
	}
	for i, s := range g.Status() {
		assert.Positive(t, s.Operations, "balance spreads the work: token %d took some", i)
	}
	// "half" and "odd" are served by token 0 alone: every operation runs
	// there.
	before := g.Status()[1].Operations
	half, err := g.OpenManagedKey(ctx, "half", guest)
	require.NoError(t, err)
	for range 5 {
		sign(t, half, msg)
	}
	assert.Equal(t, before, g.Status()[1].Operations, "the token without the key takes none of its work")
}

// TestOpenManagedKeyRefusals: the group applies the guest rules itself.
func TestOpenManagedKeyRefusals(t *testing.T) {
	fxs, _ := setup(t)
	g := openGroup(t, groupConfig(fxs, group.Failover))
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		key   string
		guest provider.Guest
		want  error
	}{
		{"unknown key", "nope", guest, provider.ErrNotFound},
		{"on no token", "absent", guest, provider.ErrNotFound},
		{"other guest", "sig", provider.Guest{Name: "intruder"}, provider.ErrAccessDenied},
		{"anonymous", "sig", provider.Guest{}, provider.ErrAccessDenied},
		{"the group's own name", "sig", provider.Guest{Name: "\x00wasihsm-group"}, provider.ErrAccessDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := g.OpenManagedKey(ctx, tc.key, tc.guest)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, k)
		})
	}
	// Failover: every operation on the first token while it is healthy.
	k, err := g.OpenManagedKey(ctx, "sig", guest)
	require.NoError(t, err)
	for range 5 {
		sign(t, k, []byte("x"))
	}
	st := g.Status()
	assert.Zero(t, st[1].Operations, "failover policy: the second token waits")
	assert.Positive(t, st[0].Operations)
}

// TestConfigRefusals: configurations the group refuses before it opens
// anything.
func TestConfigRefusals(t *testing.T) {
	fxs, _ := setup(t)
	one := tokenConfig(fxs[0])
	for _, tc := range []struct {
		name string
		cfg  group.Config
	}{
		{"no token", group.Config{}},
		{"attempt not below the deadline", group.Config{Tokens: []hsm.Config{one}, CallTimeout: time.Second, AttemptTimeout: time.Second}},
		{"negative deadline", group.Config{Tokens: []hsm.Config{one}, CallTimeout: -1}},
		{"the same token twice", group.Config{Tokens: []hsm.Config{one, one}}},
		{"unknown policy", group.Config{Tokens: []hsm.Config{one}, Policy: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := group.Open(context.Background(), tc.cfg)
			require.ErrorIs(t, err, provider.ErrInvalidArgument)
			assert.Nil(t, g)
		})
	}
}

// TestGeneratedKeysSpread: keys a guest makes go to the healthy tokens
// and live there.
func TestGeneratedKeysSpread(t *testing.T) {
	fxs, _ := setup(t)
	g := openGroup(t, groupConfig(fxs, group.Balance))
	ctx := context.Background()
	for range 6 {
		k, err := g.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("ECDH-P256")})
		require.NoError(t, err)
		peer, err := ecdh.P256().GenerateKey(rand.Reader)
		require.NoError(t, err)
		secret, err := k.(provider.KeyAgreementKey).SharedSecret(ctx, peer.PublicKey().Bytes())
		require.NoError(t, err)
		assert.Len(t, secret, 32)
		require.NoError(t, k.Destroy(ctx))
	}
	for i, s := range g.Status() {
		assert.Positive(t, s.Operations, "token %d made some of the keys", i)
	}
}

// TestMetrics: the collector reports each token of a group, from the
// group's own counts.
func TestMetrics(t *testing.T) {
	fxs, _ := setup(t)
	g := openGroup(t, groupConfig(fxs, group.Balance))
	ctx := context.Background()
	k, err := g.OpenManagedKey(ctx, "sig", guest)
	require.NoError(t, err)
	for range 6 {
		sign(t, k, []byte("m"))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.New(metrics.Config{Token: g, Group: g}))
	families, err := reg.Gather()
	require.NoError(t, err)
	values := map[string]float64{} // name{labels} → value
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			values[key] = v
		}
	}
	st := g.Status()
	for i, s := range st {
		token := "token=" + strconv.Itoa(i)
		assert.Equal(t, float64(s.Operations), values["wasihsm_group_token_operations_total,"+token], "token %d", i)
		assert.Equal(t, 1.0, values["wasihsm_group_token_state,state=healthy,"+token], "token %d", i)
		assert.Equal(t, 0.0, values["wasihsm_group_token_state,state=down,"+token], "token %d", i)
	}
	assert.Equal(t, 1.0, values["wasihsm_token_healthy"], "the group is healthy while a token is")
}
