//go:build cgo

package reliability_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
)

// recordingProvider passes everything on and keeps every error message
// and every import input the host handed over (the host's own copy of the
// guest's bytes, since the provider gets that slice itself).
type recordingProvider struct {
	provider.Provider
	mu     sync.Mutex
	errs   []string
	inputs [][]byte
}

func (p *recordingProvider) GenerateKey(ctx context.Context, req provider.KeyRequest) (provider.Key, error) {
	k, err := p.Provider.GenerateKey(ctx, req)
	p.mu.Lock()
	defer p.mu.Unlock()
	if req.Input != nil {
		p.inputs = append(p.inputs, req.Input)
	}
	if err != nil {
		p.errs = append(p.errs, err.Error())
	}
	return k, err
}

// TestSecretsStayOut: a guest imports keys whose bytes the test knows
// (good ones on the token and in the software fallback, and malformed
// ones that fail), with every logger at debug level writing to one
// buffer. Neither the log nor any error message holds a key's bytes (raw,
// hex or base64) or the PIN; a wrong PIN's error does not hold it either.
// And the host's copy of each import input is zeroed once the guest is
// done with it.
func TestSecretsStayOut(t *testing.T) {
	var logs testguest.LockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	fx := softhsmtest.Token(t)
	wrongPIN := "wrong-" + fx.PIN
	_, err := hsm.Open(context.Background(), hsm.Config{Module: fx.Module, Token: hsm.TokenSelector{Label: fx.Label},
		PIN: func() ([]byte, error) { return []byte(wrongPIN), nil }})
	require.Error(t, err, "a wrong PIN does not open the token")
	errs := []string{err.Error()}

	b, _ := tokenBackend(t, hsm.Config{})
	router, err := provider.NewRouter(provider.RouterConfig{Primary: b, Fallback: newCountingSoftware(),
		Policy: provider.FallbackAllow, Logger: logger})
	require.NoError(t, err)
	rec := &recordingProvider{Provider: router}
	h := testguest.NewHarness(t, rec, wasihost.Options{Logger: logger}, guestWasm(t))

	random := func(n int) []byte {
		k := make([]byte, n)
		_, _ = rand.Read(k)
		return k
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecScalar, err := ec.Bytes()
	require.NoError(t, err)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	xDER, _ := x509.MarshalPKCS8PrivateKey(x)
	aes, hmacKey, short := random(32), random(32), random(31)
	imports := []struct {
		alg      string
		material []byte
		secret   []byte // what must not show
		errno    int
	}{
		{"A256GCM", aes, aes, 0},                      // token
		{"HS256", hmacKey, hmacKey, 0},                // token
		{"ES256", ecDER, ecScalar, 0},                 // token
		{"X25519", xDER, x.Bytes(), 0},                // software fallback
		{"A256GCM", short, short, 28},                 // inval: wrong length
		{"ES256", ecDER[:len(ecDER)-5], ecScalar, 28}, // inval: truncated DER
		{"ES256", xDER, x.Bytes(), 28},                // inval: an X25519 key for ES256
	}
	args := []string{"import"}
	want := ""
	for _, im := range imports {
		args = append(args, im.alg, hex.EncodeToString(im.material))
		want += fmt.Sprintf("import %s %d\n", im.alg, im.errno)
	}
	r := h.Run("secrets", nil, nil, args...)
	require.Zero(t, r.ExitCode, r.Stderr)
	assert.Equal(t, want, r.Stdout)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	errs = append(errs, rec.errs...)
	assert.Len(t, rec.errs, 3, "the three malformed imports failed in the provider")
	require.Len(t, rec.inputs, len(imports))
	for i, in := range rec.inputs {
		assert.Equal(t, make([]byte, len(in)), in, "import %d (%s): the host's copy of the input is zeroed", i, imports[i].alg)
	}
	text := logs.String() + "\n" + strings.Join(errs, "\n")
	assert.Contains(t, logs.String(), "fallback", "the capture works: the router logged the X25519 fallback")
	t.Logf("captured %d bytes of logs and %d error messages", len(logs.String()), len(errs))
	for _, pin := range []string{fx.PIN, wrongPIN} {
		assert.NotContains(t, text, pin, "a PIN in the logs or errors")
	}
	for _, im := range imports {
		for _, form := range []string{string(im.secret), hex.EncodeToString(im.secret), strings.ToUpper(hex.EncodeToString(im.secret)),
			base64.StdEncoding.EncodeToString(im.secret), base64.RawURLEncoding.EncodeToString(im.secret), fmt.Sprint(im.secret)} {
			assert.NotContains(t, text, form, "%s key bytes in the logs or errors", im.alg)
		}
	}
}
