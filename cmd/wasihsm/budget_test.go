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

	"github.com/wasihsm/wasihsm/internal/softhsmtest"
	"github.com/wasihsm/wasihsm/internal/testguest"
)

const hoardPath = "github.com/wasihsm/wasihsm/reliability/guests/hoard"

// TestInstanceBudgetBoundsHostRSS runs the attacks of one guest on the
// host's memory with the real CLI in a process of its own, and reads the
// process's peak RSS (its rusage maxrss):
//
//   - with --max-memory-bytes 33554432, the guest passes one 16 MiB
//     buffer to 192 key generation states. Without an instance budget the
//     host held every copy (3.1 GiB of RSS); with the default budget
//     (64 MiB) the states past it answer nomem and the peak stays under
//     600 MiB.
//   - one cipher_encrypt of 1000 MiB on the token (SoftHSM2) peaked at
//     6.5 GiB and went on after the guest was answered. Here 256 MiB (4×
//     the budget, a quarter of the time of the probe guest's writing
//     1000 MiB) answers nomem, and the peak is under 600 MiB above that of
//     the probe guest allocating as much with the same flags (the guest's
//     own memory, which wazero copies as it grows).
func TestInstanceBudgetBoundsHostRSS(t *testing.T) {
	const rssGoal = 600 << 20
	token := softhsmtest.Token(t)
	tests := []struct {
		name  string
		flags []string
		env   []string
		guest []string
		// control, when set, is the probe guest's arguments for a run with
		// the same flags whose peak RSS is the guest's own: the goal is
		// then on the difference.
		control []string
		want    []string // the first lines, and the last
		last    string
	}{{
		name:  "192 states of 16 MiB",
		flags: []string{"--backend", "software", "--max-memory-bytes", "33554432"},
		guest: []string{"states", "192", "16777216"},
		// 4 buffers of 16 MiB fill the 64 MiB budget; 188 answer nomem.
		want: []string{"states 4 188 0", "wait", "released", "wait"},
		last: "again 0", // the budget came back when the states were consumed
	}, {
		name:    "256 MiB encrypted on the token",
		flags:   []string{"--backend", "pkcs11", "--pkcs11-module", token.Module, "--token", token.Label},
		env:     []string{"WASIHSM_PIN=" + token.PIN, "SOFTHSM2_CONF=" + token.ConfPath},
		guest:   []string{"encrypt", "268435456", "1"},
		control: []string{"alloc", "268435456"},
		want:    []string{"wait", "encrypt 48"}, // nomem
		last:    "wait",
	}}
	dir := t.TempDir()
	// Compiled beforehand, so that the peak is the run's, not the compiler's.
	cacheDir := filepath.Join(sharedCacheHome(t), "wasihsm", "wazero")
	modules := map[string]string{}
	for name, path := range map[string]string{"hoard": hoardPath, "probe": probePath} {
		wasm := testguest.Build(t, path)
		modules[name] = filepath.Join(dir, name+".wasm")
		require.NoError(t, os.WriteFile(modules[name], wasm, 0o644))
		warmCache(t, cacheDir, wasm)
	}
	// run runs a guest with tt's flags and environment; it returns the
	// guest's stdout lines and the process's peak RSS.
	run := func(t *testing.T, flags, env []string, guest string, guestArgs ...string) ([]string, int64) {
		t.Helper()
		args := append(append([]string{"run", "--cache-dir", cacheDir}, flags...), append([]string{modules[guest]}, guestArgs...)...)
		cmd := exec.Command("wasihsm", args...)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "WASIHSM_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, env...)
		cmd.Stdin = strings.NewReader("\n\n") // past the hoard guest's two stops
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, "%s %v: stderr: %s", guest, guestArgs, stderr.String())
		peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
		return strings.Split(strings.TrimSpace(string(out)), "\n"), peak
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, peak := run(t, tt.flags, tt.env, "hoard", tt.guest...)
			require.GreaterOrEqual(t, len(lines), len(tt.want), "stdout: %q", lines)
			assert.Equal(t, tt.want, lines[:len(tt.want)])
			assert.Equal(t, tt.last, lines[len(lines)-1])
			if tt.control == nil {
				assert.Less(t, peak, int64(rssGoal), "peak RSS of the host")
				t.Logf("peak RSS of wasihsm run %.1f MiB (goal < %d MiB)", float64(peak)/(1<<20), rssGoal>>20)
				return
			}
			_, guestPeak := run(t, tt.flags, tt.env, "probe", tt.control...)
			assert.Less(t, peak-guestPeak, int64(rssGoal), "peak RSS of the host beyond the guest's own")
			t.Logf("peak RSS of wasihsm run %.1f MiB; with the probe guest allocating as much, %.1f MiB (goal: < %d MiB more)",
				float64(peak)/(1<<20), float64(guestPeak)/(1<<20), rssGoal>>20)
		})
	}
}
