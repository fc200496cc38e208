//go:build cgo

package hsm_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"github.com/wasihsm/wasihsm/hsm"
	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/provider/providertest"
)

// TestConcurrency: many goroutines generate, import, use and destroy keys
// and hash at once, on a pool smaller than their number. SoftHSM2 2.6.1
// fails parallel key creation at random (CKR_GENERAL_ERROR, upstream issue
// 573); no such error may reach a caller. Run with -race.
func TestConcurrency(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			b := open(t, tg, func(c *hsm.Config) { c.MaxSessions = 5 })
			const workers, rounds = 16, 6
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				errs []error
			)
			fail := func(w, r int, what string, err error) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("worker %d round %d: %s: %w", w, r, what, err))
				mu.Unlock()
			}
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for r := range rounds {
						if err := workOnce(b, w, r); err != nil {
							fail(w, r, "work", err)
							return
						}
					}
				}()
			}
			wg.Wait()
			for _, err := range errs {
				t.Error(err)
			}
		})
	}
}

// workOnce makes one key of a kind that depends on the worker and the
// round, uses it and destroys it; and hashes.
func workOnce(b *hsm.Backend, w, r int) error {
	names := []string{"ES256", "HS256", "A128GCM", "EdDSA", "ECDH-P256", "HS512", "ES384"}
	name := names[(w+r)%len(names)]
	a := provider.MustLookup(name)
	req := provider.KeyRequest{Algorithm: a}
	if r%2 == 1 && a.Kind == provider.KindMAC {
		req.Input = bytes.Repeat([]byte{byte(w)}, a.OutputSize)
	}
	create := provider.OpGenerate
	if req.Input != nil {
		create = provider.OpImport
	}
	if !providertest.Serves(b, a, create) {
		name, a, req = "HS256", provider.MustLookup("HS256"), provider.KeyRequest{Algorithm: provider.MustLookup("HS256")}
	}
	k, err := b.GenerateKey(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: create: %w", name, err)
	}
	defer k.Destroy(ctx)
	switch k := k.(type) {
	case provider.Signer:
		st, err := k.NewSignState(ctx, 1<<10)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.Update(ctx, []byte("concurrent")); err != nil {
			return err
		}
		for range 3 {
			if _, err := st.Sign(ctx, nil); err != nil {
				return fmt.Errorf("%s: sign: %w", name, err)
			}
		}
	case provider.AEADKey:
		nonce := make([]byte, 12)
		rand.Read(nonce)
		ct, err := k.Seal(ctx, nil, nonce, []byte("concurrent"), nil)
		if err != nil {
			return fmt.Errorf("%s: seal: %w", name, err)
		}
		if _, err := k.Open(ctx, nil, nonce, ct, nil); err != nil {
			return fmt.Errorf("%s: open: %w", name, err)
		}
	case provider.KeyAgreementKey:
		der, err := b.GenerateKey(ctx, provider.KeyRequest{Algorithm: a})
		if err != nil {
			return fmt.Errorf("%s: second key: %w", name, err)
		}
		defer der.Destroy(ctx)
		spki, err := der.(provider.PublicKeyExporter).PublicKeyDER(ctx)
		if err != nil {
			return err
		}
		// The uncompressed point is the last 65 bytes of a P-256 SPKI.
		if _, err := k.SharedSecret(ctx, spki[len(spki)-65:]); err != nil {
			return fmt.Errorf("%s: derive: %w", name, err)
		}
	}
	h, err := b.NewHash(ctx, provider.MustLookup("SHA-256"))
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.Update([]byte("concurrent")); err != nil {
		return err
	}
	return h.Digest(make([]byte, 32))
}
