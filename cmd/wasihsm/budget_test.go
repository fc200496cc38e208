//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/testguest"
)

const hoardPath = "github.com/wasihsm/wasihsm/reliability/guests/hoard"

// TestInstanceBudgetBoundsHostRSS runs the attack of one guest on the host
// with the real CLI in a process of its own: with --max-memory-bytes
// 33554432, the guest passes one 16 MiB buffer to 192 key generation
// states. Without an instance budget the host held every copy (3.1 GiB of
// RSS); with the default budget (64 MiB) the states past it answer nomem
// and the process's peak RSS (its rusage maxrss) stays under 600 MiB.
func TestInstanceBudgetBoundsHostRSS(t *testing.T) {
	const (
		states  = "192"
		size    = "16777216"
		rssGoal = 600 << 20
	)
	dir := t.TempDir()
	wasm := testguest.Build(t, hoardPath)
	module := filepath.Join(dir, "hoard.wasm")
	require.NoError(t, os.WriteFile(module, wasm, 0o644))
	// Compiled beforehand, so that the peak is the run's, not the compiler's.
	cacheDir := filepath.Join(sharedCacheHome(t), "wasihsm", "wazero")
	warmCache(t, cacheDir, wasm)

	cmd := exec.Command("wasihsm", "run", "--backend", "software", "--cache-dir", cacheDir,
		"--max-memory-bytes", "33554432", module, "states", states, size)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WASIHSM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdin = strings.NewReader("\n\n") // past the guest's two stops
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "stderr: %s", stderr.String())
	peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux

	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.NotEmpty(t, lines)
	// 4 buffers of 16 MiB fill the 64 MiB budget; 188 states answer nomem.
	assert.Equal(t, "states 4 188 0", lines[0])
	assert.Equal(t, "again 0", lines[len(lines)-1], "the budget came back when the states were consumed")
	assert.Less(t, peak, int64(rssGoal), "peak RSS of the host")
	t.Logf("192 states of 16 MiB: peak RSS of wasihsm run %.1f MiB (goal < %d MiB)", float64(peak)/(1<<20), rssGoal>>20)
}
