//go:build cgo && linux

package tokentest_test

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wasihsm/wasihsm/internal/tokentest"
)

// TestOpenCryptokiRestoresHost runs the openCryptoki fixture in a test
// process of its own and checks that the host's openCryptoki state
// (state and lock directories, pkcsslotd's run files, shared memory) is
// the same after as before.
func TestOpenCryptokiRestoresHost(t *testing.T) {
	if os.Getenv("TOKENTEST_CHILD") != "" {
		t.Skip("in the child")
	}
	if os.Geteuid() != 0 {
		tokentest.OpenCryptoki(t) // skips (fails under CI) with the reason
	}
	// The lock is per open file: this process must not hold it while the
	// child sets its token up.
	tokentest.ReleaseOpenCryptoki()
	before := ockState(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestFixtures$/^opencryptoki$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "TOKENTEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "--- PASS: TestFixtures/opencryptoki", "%s", out)
	assert.Equal(t, before, ockState(t), "openCryptoki's host state is put back")
}

// ockState describes, under the lock, every file openCryptoki keeps on the
// host: path, type, mode and link target.
func ockState(t *testing.T) []string {
	f, err := os.OpenFile(tokentest.OCKLock, os.O_CREATE|os.O_RDWR, 0o644)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	var state []string
	for _, root := range []string{"/var/lib/opencryptoki", "/run/lock/opencryptoki"} {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			st, err := os.Lstat(p)
			if err != nil {
				return nil
			}
			line := fmt.Sprintf("%s %v", p, st.Mode())
			if st.Mode()&fs.ModeSymlink != 0 {
				target, _ := os.Readlink(p)
				line += " -> " + target
			}
			state = append(state, line)
			return nil
		})
	}
	for _, pat := range []string{"/dev/shm/var.lib.opencryptoki.*", "/var/run/pkcsslotd*"} {
		m, _ := filepath.Glob(pat)
		state = append(state, m...)
	}
	for _, s := range state {
		require.False(t, strings.Contains(s, "wasihsm-saved"), "nothing left set aside: %s", s)
	}
	return state
}
