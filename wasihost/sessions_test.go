package wasihost_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasihsm/wasihsm/provider"
	"github.com/wasihsm/wasihsm/wasihost"
	"github.com/wasihsm/wasihsm/wasihost/internal/wasmtest"
)

// inflightProvider's hashes take a while to absorb and count how many
// absorb at once: a stand-in for a backend call that holds a token
// session for its duration.
type inflightProvider struct {
	now, peak atomic.Int64
}

func (p *inflightProvider) NewHash(_ context.Context, alg provider.Algorithm) (provider.Hash, error) {
	return &inflightHash{p: p, alg: alg}, nil
}

func (p *inflightProvider) GenerateKey(context.Context, provider.KeyRequest) (provider.Key, error) {
	return nil, provider.ErrNotSupported
}

func (p *inflightProvider) OpenManagedKey(context.Context, string, provider.Guest) (provider.Key, error) {
	return nil, provider.ErrNotFound
}

type inflightHash struct {
	p   *inflightProvider
	alg provider.Algorithm
}

func (h *inflightHash) Algorithm() provider.Algorithm { return h.alg }

func (h *inflightHash) Update([]byte) error {
	n := h.p.now.Add(1)
	defer h.p.now.Add(-1)
	for {
		peak := h.p.peak.Load()
		if n <= peak || h.p.peak.CompareAndSwap(peak, n) {
			break
		}
	}
	time.Sleep(5 * time.Millisecond)
	return nil
}

func (h *inflightHash) Digest([]byte) error { return nil }
func (h *inflightHash) Close() error        { return nil }

// TestOneBackendCallPerInstance: the host runs one call of an instance at a
// time, so an instance holds at most one backend call — one token session —
// at once, however many goroutines of the embedder call into it. Eight
// goroutines calling hash_update on one instance never overlap in the
// backend; the same eight spread over eight instances do, which shows that
// the count would see it.
func TestOneBackendCallPerInstance(t *testing.T) {
	ctx := context.Background()
	const goroutines, calls = 8, 20
	run := func(t *testing.T, instances int) int64 {
		p := &inflightProvider{}
		host, err := wasihost.New(p, wasihost.Options{})
		require.NoError(t, err)
		rt := wazero.NewRuntime(ctx)
		t.Cleanup(func() { _ = rt.Close(ctx) })
		require.NoError(t, host.Instantiate(ctx, rt))
		compiled, err := rt.CompileModule(ctx, wasmtest.Trampolines([]wasmtest.Import{
			{Module: wasihost.ModuleName, Name: "hash_open", Params: 3},
			{Module: wasihost.ModuleName, Name: "hash_update", Params: 3},
		}, 1))
		require.NoError(t, err)
		mods := make([]api.Module, instances)
		for i := range mods {
			mods[i], err = rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName(fmt.Sprintf("g%d", i)))
			require.NoError(t, err)
			require.True(t, mods[i].Memory().WriteString(0, "SHA-256"))
		}
		var wg sync.WaitGroup
		for g := range goroutines {
			mod := mods[g%instances]
			out := uint32(64 + 4*g)
			res, err := mod.ExportedFunction("call_hash_open").Call(ctx, 0, 7, uint64(out))
			require.NoError(t, err)
			require.Zero(t, res[0], "hash_open")
			h, _ := mod.Memory().ReadUint32Le(out)
			update := mod.ExportedFunction("call_hash_update") // one per goroutine
			wg.Go(func() {
				for range calls {
					res, err := update.Call(ctx, uint64(h), 0, 7)
					assert.NoError(t, err)
					assert.Zero(t, res[0], "hash_update")
				}
			})
		}
		wg.Wait()
		return p.peak.Load()
	}
	assert.Equal(t, int64(1), run(t, 1), "one instance: never two backend calls at once")
	assert.Greater(t, run(t, goroutines), int64(1), "eight instances: their calls do overlap")
}
