//go:build cgo

package hsm

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/provider"
)

// TestProbeOncePerAlgorithm: the first Supports of an algorithm probes it
// (a throwaway key is made: the attribute read-back of its kind runs);
// later ones, for any of its operations, make nothing.
func TestProbeOncePerAlgorithm(t *testing.T) {
	b, _ := openInternal(t, nil)
	es := provider.MustLookup("ES384")
	require.Nil(t, b.probes[es.Name].res.Load(), "nothing probed at open")
	checks := b.keptChecks.Load()
	assert.Equal(t, provider.Native, b.Supports(es, provider.OpGenerate))
	r := b.probes[es.Name].res.Load()
	require.NotNil(t, r, "the first Supports probed")
	assert.Empty(t, r.probe.Refusals)
	assert.Greater(t, b.keptChecks.Load(), checks, "the probe made keys")
	checks = b.keptChecks.Load()
	start := time.Now()
	for range 1000 {
		for _, op := range []provider.Operation{provider.OpGenerate, provider.OpImport, provider.OpSign, provider.OpExportPublic} {
			require.Equal(t, provider.Native, b.Supports(es, op))
		}
	}
	assert.Less(t, time.Since(start), 200*time.Millisecond, "4000 answers from what was probed")
	assert.Equal(t, checks, b.keptChecks.Load(), "no key made after the first probe")
	assert.Same(t, r, b.probes[es.Name].res.Load())
}

// TestProbeConcurrentFirstUse: guests asking about a fresh algorithm at
// the same moment wait for one probe and all get its answer.
func TestProbeConcurrentFirstUse(t *testing.T) {
	b, _ := openInternal(t, nil)
	es := provider.MustLookup("ES256")
	checks := b.keptChecks.Load()
	var wg sync.WaitGroup
	answers := make([]provider.Support, 16)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = b.Supports(es, provider.OpSign)
		}()
	}
	wg.Wait()
	for _, a := range answers {
		assert.Equal(t, provider.Native, a)
	}
	assert.Equal(t, checks+2, b.keptChecks.Load(), "one probe: one generated and one imported key")
}

// TestProbeRefusalIsUnsupported: what the probe found refused is
// provider.Unsupported however the mechanism list reads; the other
// operations keep the list's answer.
func TestProbeRefusalIsUnsupported(t *testing.T) {
	b, _ := openInternal(t, nil)
	hs := provider.MustLookup("HS384")
	b.probes[hs.Name].res.Store(&probeResult{epoch: b.recoveries.Load(), refused: opsOf(provider.OpImport),
		probe: Probe{Algorithm: hs, Refusals: []Refusal{{Operation: provider.OpImport, Step: "import", CKR: "CKR_ATTRIBUTE_VALUE_INVALID"}}}})
	assert.Equal(t, provider.Unsupported, b.Supports(hs, provider.OpImport))
	assert.Equal(t, provider.Native, b.Supports(hs, provider.OpGenerate))
	_, err := b.GenerateKey(context.Background(), provider.KeyRequest{Algorithm: hs, Input: make([]byte, 48)})
	require.ErrorIs(t, err, provider.ErrNotSupported, "an import the probe found refused is notsup, not the token's inval")
}

// TestProbeNotKeptOnTimeout: a probe that meets a hung token (the p11-kit
// server stopped) learns nothing: it is not kept, Supports answers from
// the mechanism list, and once the token is back (after a recovery) the
// next Supports probes again and keeps the answer.
func TestProbeNotKeptOnTimeout(t *testing.T) {
	fx := softhsmtest.Token(t)
	r := fx.Remote(t)
	b, _ := openInternal(t, func(c *Config) {
		c.Module, c.Token = r.Module, TokenSelector{Label: r.Label}
		c.CallTimeout = 300 * time.Millisecond
	})
	es := provider.MustLookup("ES256")
	r.Stop(t)
	stopped := true
	t.Cleanup(func() {
		if stopped {
			r.Continue(t)
		}
	})
	assert.Equal(t, provider.Native, b.Supports(es, provider.OpGenerate), "the list's answer while the token hangs")
	assert.Nil(t, b.probes[es.Name].res.Load(), "a probe that timed out is not kept")
	probes := b.Probe()
	var p Probe
	for _, q := range probes {
		if q.Algorithm == es {
			p = q
		}
	}
	require.Error(t, p.Err, "the report says why ES256 is not probed")
	assert.Empty(t, p.Refusals)
	r.Continue(t)
	stopped = false
	waitHealthy(t, b, 1)
	assert.Equal(t, provider.Native, b.Supports(es, provider.OpGenerate))
	res := b.probes[es.Name].res.Load()
	require.NotNil(t, res, "probed once the token answers")
	assert.Empty(t, res.probe.Refusals)
	assert.Equal(t, b.recoveries.Load(), res.epoch)
}

// TestProbeAgainAfterRecovery: a recovery makes every algorithm be
// probed again on its next use: the token behind the selector may not be
// the one probed.
func TestProbeAgainAfterRecovery(t *testing.T) {
	b, _ := openInternal(t, nil)
	a := provider.MustLookup("A128GCM")
	require.Equal(t, provider.Native, b.Supports(a, provider.OpEncrypt))
	first := b.probes[a.Name].res.Load()
	require.NotNil(t, first)
	b.recoveries.Add(1) // as recoverLoop does when the token is back
	require.Equal(t, provider.Native, b.Supports(a, provider.OpEncrypt))
	second := b.probes[a.Name].res.Load()
	require.NotSame(t, first, second, "probed again")
	assert.Equal(t, b.recoveries.Load(), second.epoch)
}

// TestVolatile: what a probe may learn from and what it may not.
func TestVolatile(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{ckrError("x", pkcs11.Error(pkcs11.CKR_ATTRIBUTE_VALUE_INVALID)), false},
		{ckrError("x", pkcs11.Error(pkcs11.CKR_FUNCTION_NOT_SUPPORTED)), false},
		{ckrError("x", pkcs11.Error(pkcs11.CKR_HOST_MEMORY)), false},
		{ckrError("x", pkcs11.Error(pkcs11.CKR_SESSION_READ_ONLY)), false},
		{pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID), false},
		{wrong("the signature does not verify"), false},
		{ckrError("x", pkcs11.Error(pkcs11.CKR_GENERAL_ERROR)), true},
		{ckrError("x", pkcs11.Error(pkcs11.CKR_DEVICE_REMOVED)), true},
		{ckrError("x", pkcs11.Error(pkcs11.CKR_SESSION_COUNT)), true},
		{ckrError("x", pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN)), true},
		{pkcs11.Error(pkcs11.CKR_DEVICE_ERROR), true},
		{timeoutError(context.DeadlineExceeded), true},
		{errPoolClosed, true},
		{errReinit, true},
		{errors.New("no free session: " + provider.ErrNoResources.Error()), false},
		{errorf(provider.MustLookup("ES256"), provider.ErrNoResources, "no free session"), true},
	} {
		assert.Equal(t, tt.want, volatile(tt.err), "%v", tt.err)
	}
}

// TestQuirkGCMTagGeneralError: SoftHSM2 answers a broken GCM tag with
// CKR_GENERAL_ERROR (asked directly, on a session of the test's own); the
// quirk table makes that an authentication failure on an AEAD
// decryption, so that the backend's Open answers one.
func TestQuirkGCMTagGeneralError(t *testing.T) {
	fx := softhsmtest.Token(t)
	in := softhsmtest.Inspect(t, fx.Module, fx.Label, fx.PIN)
	p, s := in.Ctx(), in.Session()
	key, err := p.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 16),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true), pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
	})
	require.NoError(t, err)
	defer func() { _ = p.DestroyObject(s, key) }()
	nonce := make([]byte, 12)
	gcm := func() []*pkcs11.Mechanism {
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, pkcs11.NewGCMParams(nonce, nil, 128))}
	}
	require.NoError(t, p.EncryptInit(s, gcm(), key))
	sealed, err := p.Encrypt(s, []byte("message"))
	require.NoError(t, err)
	sealed[len(sealed)-1] ^= 1
	require.NoError(t, p.DecryptInit(s, gcm(), key))
	_, err = p.Decrypt(s, sealed)
	require.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_GENERAL_ERROR), "SoftHSM2's answer to a broken tag")
	assert.Equal(t, QuirkGCMTagGeneralError, aeadTagCodes[pkcs11.CKR_GENERAL_ERROR])
	require.ErrorIs(t, decryptAEADError("A128GCM: decrypt", err), provider.ErrAuthentication)

	b, _ := openInternal(t, nil)
	ctx := context.Background()
	k, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: provider.MustLookup("A128GCM")})
	require.NoError(t, err)
	defer func() { require.NoError(t, k.Destroy(ctx)) }()
	aead := k.(provider.AEADKey)
	sealed, err = aead.Seal(ctx, nil, nonce, []byte("message"), nil)
	require.NoError(t, err)
	sealed[len(sealed)-1] ^= 1
	_, err = aead.Open(ctx, nil, nonce, sealed, nil)
	require.ErrorIs(t, err, provider.ErrAuthentication)
}

// TestQuirkReadWriteObjectsNotOnSoftHSM2: SoftHSM2 creates session
// objects in read-only sessions, as PKCS#11 says: the check runs once at
// open, finds nothing, leaves nothing behind, and the persistent session
// stays read-only.
func TestQuirkReadWriteObjectsNotOnSoftHSM2(t *testing.T) {
	b, _ := openInternal(t, nil)
	assert.True(t, b.caps.dev.rwChecked.Load())
	assert.False(t, b.caps.readWriteObjects())
	assert.NotContains(t, b.Quirks(), QuirkReadWriteObjects)
	info, err := b.p.GetSessionInfo(b.main)
	require.NoError(t, err)
	assert.Zero(t, info.Flags&pkcs11.CKF_RW_SESSION, "the persistent session is read-only")
	found := 0
	require.NoError(t, b.withMain(context.Background(), "find", false, func(s pkcs11.SessionHandle) error {
		objs, err := b.findObjects(s, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, sessionCheckLabel)}, 0)
		found = len(objs)
		return err
	}, nil))
	assert.Zero(t, found, "the check's data object is destroyed")
}

// TestQuirkTable: every quirk is named once, says where it was seen,
// what it does and how it is met, and names a test of this package that
// exists.
func TestQuirkTable(t *testing.T) {
	tests := testFuncs(t)
	names := map[string]bool{}
	for _, q := range Quirks() {
		assert.False(t, names[q.Name], "%s named twice", q.Name)
		names[q.Name] = true
		for field, v := range map[string]string{"SeenOn": q.SeenOn, "Deviation": q.Deviation, "Detection": q.Detection, "Handling": q.Handling} {
			assert.NotEmpty(t, v, "%s: %s", q.Name, field)
		}
		assert.True(t, tests[q.Test], "%s: test %s is not in package hsm", q.Name, q.Test)
	}
}

// testFuncs are the names of the Test functions of the package's test
// files.
func testFuncs(t *testing.T) map[string]bool {
	files, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	out := map[string]bool{}
	fset := gotoken.NewFileSet()
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		parsed, err := parser.ParseFile(fset, f, src, 0)
		require.NoError(t, err)
		for _, d := range parsed.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") {
				out[fn.Name.Name] = true
			}
		}
	}
	return out
}
