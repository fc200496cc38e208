//go:build unix

package trusted

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDir: a directory is trusted when it, every directory above it and
// everything in it are this user's (or root's) and no other may write
// them; above it, a sticky directory may be writable by all. The tests run
// as root, who can hand a path to another user (uid 65534).
func TestDir(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup changes the tree base/parent/dir/entry.
		setup func(parent, dir, entry string) error
		path  string // the path that fails: "parent", "dir" or "entry"
		want  error
	}{
		{"private", func(_, _, _ string) error { return nil }, "", nil},
		{"parent writable, sticky", func(p, _, _ string) error { return os.Chmod(p, 0o777|fs.ModeSticky) }, "", nil},
		{"owned by root", func(p, d, e string) error {
			return errors.Join(os.Chown(p, 0, 0), os.Chown(d, 0, 0), os.Chown(e, 0, 0))
		}, "", nil},
		{"parent writable", func(p, _, _ string) error { return os.Chmod(p, 0o777) }, "parent", ErrWritable},
		{"parent owned by another user", func(p, _, _ string) error { return os.Chown(p, 65534, 65534) }, "parent", ErrNotOwned},
		{"dir writable by its group", func(_, d, _ string) error { return os.Chmod(d, 0o770) }, "dir", ErrWritable},
		{"dir writable and sticky", func(_, d, _ string) error { return os.Chmod(d, 0o777|fs.ModeSticky) }, "dir", ErrWritable},
		{"dir owned by another user", func(_, d, _ string) error { return os.Chown(d, 65534, 65534) }, "dir", ErrNotOwned},
		{"entry writable", func(_, _, e string) error { return os.Chmod(e, 0o622) }, "entry", ErrWritable},
		{"entry owned by another user", func(_, _, e string) error { return os.Chown(e, 65534, 65534) }, "entry", ErrNotOwned},
		{"entry a symbolic link", func(_, _, e string) error { return errors.Join(os.Remove(e), os.Symlink("/etc/passwd", e)) }, "entry", ErrSymlink},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			parent := filepath.Join(base, "parent")
			dir := filepath.Join(parent, "dir")
			entry := filepath.Join(dir, "sub", "entry")
			require.NoError(t, os.MkdirAll(filepath.Dir(entry), 0o700))
			require.NoError(t, os.WriteFile(entry, nil, 0o600))
			require.NoError(t, tc.setup(parent, dir, entry))

			got, err := Dir(dir)
			if tc.want == nil {
				require.NoError(t, err)
				assert.Equal(t, dir, got)
				return
			}
			require.ErrorIs(t, err, tc.want)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, map[string]string{"parent": parent, "dir": dir, "entry": entry}[tc.path], e.Path)
		})
	}
}

// TestDirThroughLink: a link to a trusted directory is resolved, and Dir
// returns the directory itself, the path to use.
func TestDirThroughLink(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "dir")
	require.NoError(t, os.Mkdir(dir, 0o700))
	link := filepath.Join(base, "link")
	require.NoError(t, os.Symlink(dir, link))
	got, err := Dir(link)
	require.NoError(t, err)
	assert.Equal(t, dir, got)
}

// TestFile checks one file, as the configuration loader does.
func TestFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.NoError(t, File(p, fi))

	require.NoError(t, os.Chmod(p, 0o666))
	fi, err = os.Stat(p)
	require.NoError(t, err)
	err = File(p, fi)
	require.ErrorIs(t, err, ErrWritable)
	assert.EqualError(t, err, p+": writable by group or others (mode 0666)")
}
