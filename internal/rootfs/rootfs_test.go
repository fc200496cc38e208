package rootfs

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// secret is what the file outside the root holds.
const secret = "outside the root"

// layout makes a directory with the root and, beside it, "outside":
//
//	outside/secret.txt, outside/dir/
//	root/file.txt, root/sub/inner.txt, root/emptydir/
//	root/abs -> TMP/outside, root/rel -> ../outside, root/in -> sub
//
// It returns the top directory.
func layout(t testing.TB) string {
	t.Helper()
	top := t.TempDir()
	for _, d := range []string{"outside/dir", "root/sub", "root/emptydir"} {
		require.NoError(t, os.MkdirAll(filepath.Join(top, d), 0o755))
	}
	for name, body := range map[string]string{
		"outside/secret.txt": secret, "root/file.txt": "hello", "root/sub/inner.txt": "inner",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(top, name), []byte(body), 0o644))
	}
	for link, target := range map[string]string{
		"root/abs": filepath.Join(top, "outside"), "root/rel": "../outside", "root/in": "sub",
	} {
		require.NoError(t, os.Symlink(target, filepath.Join(top, link)))
	}
	return top
}

func open(t testing.TB, top string, mode Mode) *FS {
	t.Helper()
	fsys, err := Open(filepath.Join(top, "root"), mode)
	require.NoError(t, err)
	t.Cleanup(func() { _ = fsys.Close() })
	return fsys
}

// snapshot describes everything under dir (and dir itself) that a change
// would show: names, types, modes, sizes, times and contents.
func snapshot(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := path + " " + fi.Mode().String() + " " + fi.ModTime().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			line += " " + string(b)
		}
		out = append(out, line)
		return nil
	})
	require.NoError(t, err)
	return out
}

func readAll(t testing.TB, f experimentalsys.File) string {
	t.Helper()
	var b []byte
	buf := make([]byte, 7)
	for {
		n, errno := f.Read(buf)
		require.Zero(t, errno)
		if n == 0 {
			return string(b)
		}
		b = append(b, buf[:n]...)
	}
}

// TestEscapes tries every way out of the root through every operation: each
// answers an errno, and nothing outside changes.
func TestEscapes(t *testing.T) {
	top := layout(t)
	outside := filepath.Join(top, "outside")
	abs := filepath.Join(outside, "secret.txt")
	tests := []struct {
		name string
		op   func(*FS) experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"open ..", func(f *FS) experimentalsys.Errno {
			return openErrno(f.OpenFile("../outside/secret.txt", experimentalsys.O_RDONLY, 0))
		}, experimentalsys.EPERM},
		{"open sub/../..", func(f *FS) experimentalsys.Errno {
			return openErrno(f.OpenFile("sub/../../outside/secret.txt", experimentalsys.O_RDONLY, 0))
		}, experimentalsys.EPERM},
		{"open absolute path", func(f *FS) experimentalsys.Errno { return openErrno(f.OpenFile(abs, experimentalsys.O_RDONLY, 0)) }, experimentalsys.EPERM},
		{"open through absolute link", func(f *FS) experimentalsys.Errno {
			return openErrno(f.OpenFile("abs/secret.txt", experimentalsys.O_RDONLY, 0))
		}, experimentalsys.EPERM},
		{"open through relative link", func(f *FS) experimentalsys.Errno {
			return openErrno(f.OpenFile("rel/secret.txt", experimentalsys.O_RDONLY, 0))
		}, experimentalsys.EPERM},
		{"list through link", func(f *FS) experimentalsys.Errno {
			return openErrno(f.OpenFile("rel", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0))
		}, experimentalsys.EPERM},
		{"create through link", func(f *FS) experimentalsys.Errno {
			return openErrno(f.OpenFile("abs/new.txt", experimentalsys.O_WRONLY|experimentalsys.O_CREAT|experimentalsys.O_EXCL, 0o644))
		}, experimentalsys.EPERM},
		{"truncate through link", func(f *FS) experimentalsys.Errno {
			return openErrno(f.OpenFile("rel/secret.txt", experimentalsys.O_WRONLY|experimentalsys.O_TRUNC, 0))
		}, experimentalsys.EPERM},
		{"stat through link", func(f *FS) experimentalsys.Errno { _, e := f.Stat("abs/secret.txt"); return e }, experimentalsys.EPERM},
		{"stat link to outside", func(f *FS) experimentalsys.Errno { _, e := f.Stat("rel"); return e }, experimentalsys.EPERM},
		{"lstat ..", func(f *FS) experimentalsys.Errno { _, e := f.Lstat(".."); return e }, experimentalsys.EPERM},
		{"readlink through link", func(f *FS) experimentalsys.Errno { _, e := f.Readlink("rel/dir"); return e }, experimentalsys.EPERM},
		{"mkdir through link", func(f *FS) experimentalsys.Errno { return f.Mkdir("abs/newdir", 0o755) }, experimentalsys.EPERM},
		{"mkdir ..", func(f *FS) experimentalsys.Errno { return f.Mkdir("../newdir", 0o755) }, experimentalsys.EPERM},
		{"chmod through link", func(f *FS) experimentalsys.Errno { return f.Chmod("rel/secret.txt", 0o777) }, experimentalsys.EPERM},
		{"chmod link to outside", func(f *FS) experimentalsys.Errno { return f.Chmod("abs", 0o777) }, experimentalsys.EPERM},
		{"utimens through link", func(f *FS) experimentalsys.Errno { return f.Utimens("rel/secret.txt", 0, 0) }, experimentalsys.EPERM},
		{"rename out", func(f *FS) experimentalsys.Errno { return f.Rename("file.txt", "abs/moved.txt") }, experimentalsys.EPERM},
		{"rename in", func(f *FS) experimentalsys.Errno { return f.Rename("rel/secret.txt", "stolen.txt") }, experimentalsys.EPERM},
		{"link out", func(f *FS) experimentalsys.Errno { return f.Link("file.txt", "rel/linked.txt") }, experimentalsys.EPERM},
		{"link in", func(f *FS) experimentalsys.Errno { return f.Link("abs/secret.txt", "stolen.txt") }, experimentalsys.EPERM},
		{"symlink placed outside", func(f *FS) experimentalsys.Errno { return f.Symlink("x", "rel/planted") }, experimentalsys.EPERM},
		{"unlink through link", func(f *FS) experimentalsys.Errno { return f.Unlink("rel/secret.txt") }, experimentalsys.EPERM},
		{"rmdir through link", func(f *FS) experimentalsys.Errno { return f.Rmdir("abs/dir") }, experimentalsys.EPERM},
		{"new link to .. then read", func(f *FS) experimentalsys.Errno {
			if e := f.Symlink("../../../../../../..", "up"); e != 0 {
				return e
			}
			return openErrno(f.OpenFile("up"+abs, experimentalsys.O_RDONLY, 0))
		}, experimentalsys.EPERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, outside)
			assert.Equal(t, tt.want, tt.op(open(t, top, ReadWrite)))
			assert.Equal(t, before, snapshot(t, outside), "something outside the root changed")
		})
	}
}

func openErrno(f experimentalsys.File, errno experimentalsys.Errno) experimentalsys.Errno {
	if f != nil {
		_ = f.Close()
	}
	return errno
}

// TestOperations is what an honest guest does in its directory, and the
// errno each mistake answers.
func TestOperations(t *testing.T) {
	tests := []struct {
		name string
		op   func(t *testing.T, f *FS) experimentalsys.Errno
		want experimentalsys.Errno
	}{
		{"create, write, read back", func(t *testing.T, f *FS) experimentalsys.Errno {
			w, errno := f.OpenFile("new.txt", experimentalsys.O_RDWR|experimentalsys.O_CREAT|experimentalsys.O_EXCL, 0o600)
			require.Zero(t, errno)
			n, errno := w.Write([]byte("written"))
			require.Zero(t, errno)
			require.Equal(t, 7, n)
			_, errno = w.Pwrite([]byte("W"), 0)
			require.Zero(t, errno)
			off, errno := w.Seek(0, io.SeekStart)
			require.Zero(t, errno)
			require.Zero(t, off)
			assert.Equal(t, "Written", readAll(t, w))
			buf := make([]byte, 3)
			n, errno = w.Pread(buf, 4)
			require.Zero(t, errno)
			assert.Equal(t, "ten", string(buf[:n]))
			require.Zero(t, w.Truncate(3))
			require.Zero(t, w.Sync())
			require.Zero(t, w.Datasync())
			st, errno := w.Stat()
			require.Zero(t, errno)
			assert.EqualValues(t, 3, st.Size)
			return w.Close()
		}, 0},
		{"append", func(t *testing.T, f *FS) experimentalsys.Errno {
			w, errno := f.OpenFile("file.txt", experimentalsys.O_WRONLY|experimentalsys.O_APPEND, 0)
			require.Zero(t, errno)
			assert.True(t, w.IsAppend())
			_, errno = w.Write([]byte(" world"))
			require.Zero(t, errno)
			require.Zero(t, w.SetAppend(false))
			_, errno = w.Pwrite([]byte("J"), 0)
			require.Zero(t, errno)
			require.Zero(t, w.Close())
			r, errno := f.OpenFile("file.txt", experimentalsys.O_RDONLY, 0)
			require.Zero(t, errno)
			defer r.Close()
			assert.Equal(t, "Jello world", readAll(t, r))
			return 0
		}, 0},
		{"readdir", func(t *testing.T, f *FS) experimentalsys.Errno {
			d, errno := f.OpenFile(".", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
			require.Zero(t, errno)
			defer d.Close()
			ents, errno := d.Readdir(-1)
			require.Zero(t, errno)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name)
				st, errno := f.Lstat(e.Name)
				require.Zero(t, errno)
				assert.Equal(t, st.Ino, e.Ino, e.Name)
				assert.Equal(t, st.Mode.Type(), e.Type, e.Name)
			}
			slices.Sort(names)
			assert.Equal(t, []string{"abs", "emptydir", "file.txt", "in", "rel", "sub"}, names)
			// Rewinding shows entries made since.
			require.Zero(t, f.Mkdir("later", 0o755))
			_, errno = d.Seek(0, io.SeekStart)
			require.Zero(t, errno)
			ents, errno = d.Readdir(-1)
			require.Zero(t, errno)
			assert.Len(t, ents, 7)
			return 0
		}, 0},
		{"stat and lstat", func(t *testing.T, f *FS) experimentalsys.Errno {
			st, errno := f.Stat("in")
			require.Zero(t, errno)
			assert.True(t, st.Mode.IsDir())
			st, errno = f.Lstat("in")
			require.Zero(t, errno)
			assert.Equal(t, fs.ModeSymlink, st.Mode.Type())
			st, errno = f.Stat("")
			require.Zero(t, errno)
			assert.True(t, st.Mode.IsDir())
			return 0
		}, 0},
		{"symlink inside, followed", func(t *testing.T, f *FS) experimentalsys.Errno {
			require.Zero(t, f.Symlink("sub/../sub/inner.txt", "link"))
			target, errno := f.Readlink("link")
			require.Zero(t, errno)
			assert.Equal(t, "sub/../sub/inner.txt", target)
			r, errno := f.OpenFile("in/inner.txt", experimentalsys.O_RDONLY, 0)
			require.Zero(t, errno)
			assert.Equal(t, "inner", readAll(t, r))
			require.Zero(t, r.Close())
			r, errno = f.OpenFile("link", experimentalsys.O_RDONLY, 0)
			require.Zero(t, errno)
			defer r.Close()
			assert.Equal(t, "inner", readAll(t, r))
			return 0
		}, 0},
		{"mkdir, rename, link, chmod, utimens, unlink, rmdir", func(t *testing.T, f *FS) experimentalsys.Errno {
			require.Zero(t, f.Mkdir("d", 0o755))
			require.Zero(t, f.Rename("file.txt", "d/moved.txt"))
			require.Zero(t, f.Link("d/moved.txt", "d/hard.txt"))
			require.Zero(t, f.Chmod("d/hard.txt", 0o600))
			require.Zero(t, f.Utimens("d/hard.txt", 1e9, experimentalsys.UTIME_OMIT))
			st, errno := f.Stat("d/moved.txt")
			require.Zero(t, errno)
			assert.EqualValues(t, 2, st.Nlink)
			assert.Equal(t, fs.FileMode(0o600), st.Mode.Perm())
			assert.EqualValues(t, 1e9, st.Atim)
			require.Zero(t, f.Unlink("d/moved.txt"))
			require.Zero(t, f.Unlink("d/hard.txt"))
			return f.Rmdir("d")
		}, 0},
		{"file utimens", func(t *testing.T, f *FS) experimentalsys.Errno {
			w, errno := f.OpenFile("file.txt", experimentalsys.O_RDONLY, 0)
			require.Zero(t, errno)
			defer w.Close()
			require.Zero(t, w.Utimens(experimentalsys.UTIME_OMIT, 2e9))
			st, errno := w.Stat()
			require.Zero(t, errno)
			assert.EqualValues(t, 2e9, st.Mtim)
			return 0
		}, 0},
		{"missing", func(t *testing.T, f *FS) experimentalsys.Errno { _, e := f.Stat("nope"); return e }, experimentalsys.ENOENT},
		{"create excl existing", func(t *testing.T, f *FS) experimentalsys.Errno {
			return openErrno(f.OpenFile("file.txt", experimentalsys.O_WRONLY|experimentalsys.O_CREAT|experimentalsys.O_EXCL, 0o644))
		}, experimentalsys.EEXIST},
		{"mkdir existing", func(t *testing.T, f *FS) experimentalsys.Errno { return f.Mkdir("sub", 0o755) }, experimentalsys.EEXIST},
		{"path through a file", func(t *testing.T, f *FS) experimentalsys.Errno { _, e := f.Stat("file.txt/x"); return e }, experimentalsys.ENOTDIR},
		{"O_DIRECTORY on a file", func(t *testing.T, f *FS) experimentalsys.Errno {
			return openErrno(f.OpenFile("file.txt", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0))
		}, experimentalsys.ENOTDIR},
		{"open a directory for writing", func(t *testing.T, f *FS) experimentalsys.Errno {
			return openErrno(f.OpenFile("sub", experimentalsys.O_WRONLY, 0))
		}, experimentalsys.EISDIR},
		{"O_NOFOLLOW on a link", func(t *testing.T, f *FS) experimentalsys.Errno {
			return openErrno(f.OpenFile("in", experimentalsys.O_RDONLY|experimentalsys.O_NOFOLLOW, 0))
		}, experimentalsys.ELOOP},
		{"rmdir a file", func(t *testing.T, f *FS) experimentalsys.Errno { return f.Rmdir("file.txt") }, experimentalsys.ENOTDIR},
		{"rmdir non-empty", func(t *testing.T, f *FS) experimentalsys.Errno { return f.Rmdir("sub") }, experimentalsys.ENOTEMPTY},
		{"unlink a directory", func(t *testing.T, f *FS) experimentalsys.Errno { return f.Unlink("emptydir") }, experimentalsys.EISDIR},
		{"unlink a link to a directory", func(t *testing.T, f *FS) experimentalsys.Errno { return f.Unlink("in") }, 0},
		{"read a directory", func(t *testing.T, f *FS) experimentalsys.Errno {
			d, errno := f.OpenFile("sub", experimentalsys.O_RDONLY, 0)
			require.Zero(t, errno)
			defer d.Close()
			_, errno = d.Read(make([]byte, 1))
			return errno
		}, experimentalsys.EISDIR},
		{"use after close", func(t *testing.T, f *FS) experimentalsys.Errno {
			r, errno := f.OpenFile("file.txt", experimentalsys.O_RDONLY, 0)
			require.Zero(t, errno)
			require.Zero(t, r.Close())
			_, errno = r.Read(make([]byte, 1))
			return errno
		}, experimentalsys.EBADF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.op(t, open(t, layout(t), ReadWrite)))
		})
	}
}

// TestReadOnly: a ReadOnly FS reads, and answers EROFS (or EBADF on an open
// file) to every change, and nothing changes.
func TestReadOnly(t *testing.T) {
	top := layout(t)
	root := filepath.Join(top, "root")
	f := open(t, top, ReadOnly)

	r, errno := f.OpenFile("file.txt", experimentalsys.O_RDONLY, 0)
	require.Zero(t, errno)
	assert.Equal(t, "hello", readAll(t, r))
	_, errno = r.Write([]byte("x"))
	assert.Equal(t, experimentalsys.EBADF, errno)
	assert.Equal(t, experimentalsys.EROFS, r.SetAppend(true))
	assert.Equal(t, experimentalsys.EROFS, r.Utimens(0, 0))
	require.Zero(t, r.Close())
	d, errno := f.OpenFile("sub", experimentalsys.O_RDONLY|experimentalsys.O_DIRECTORY, 0)
	require.Zero(t, errno)
	ents, errno := d.Readdir(-1)
	require.Zero(t, errno)
	assert.Len(t, ents, 1)
	require.Zero(t, d.Close())

	before := snapshot(t, root)
	tests := []struct {
		name string
		op   func() experimentalsys.Errno
	}{
		{"open for writing", func() experimentalsys.Errno { return openErrno(f.OpenFile("file.txt", experimentalsys.O_WRONLY, 0)) }},
		{"open read-write", func() experimentalsys.Errno { return openErrno(f.OpenFile("file.txt", experimentalsys.O_RDWR, 0)) }},
		{"create read-only", func() experimentalsys.Errno {
			return openErrno(f.OpenFile("new.txt", experimentalsys.O_RDONLY|experimentalsys.O_CREAT, 0o644))
		}},
		{"truncate read-only", func() experimentalsys.Errno {
			return openErrno(f.OpenFile("file.txt", experimentalsys.O_RDONLY|experimentalsys.O_TRUNC, 0))
		}},
		{"mkdir", func() experimentalsys.Errno { return f.Mkdir("d", 0o755) }},
		{"chmod", func() experimentalsys.Errno { return f.Chmod("file.txt", 0o777) }},
		{"rename", func() experimentalsys.Errno { return f.Rename("file.txt", "moved.txt") }},
		{"link", func() experimentalsys.Errno { return f.Link("file.txt", "hard.txt") }},
		{"symlink", func() experimentalsys.Errno { return f.Symlink("file.txt", "soft") }},
		{"unlink", func() experimentalsys.Errno { return f.Unlink("file.txt") }},
		{"rmdir", func() experimentalsys.Errno { return f.Rmdir("emptydir") }},
		{"utimens", func() experimentalsys.Errno { return f.Utimens("file.txt", 0, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, experimentalsys.EROFS, tt.op())
		})
	}
	assert.Equal(t, before, snapshot(t, root), "a read-only FS changed")
}

func TestOpenRefuses(t *testing.T) {
	top := layout(t)
	_, err := Open(filepath.Join(top, "root", "file.txt"), ReadOnly)
	assert.ErrorAs(t, err, new(*fs.PathError)) // os.OpenRoot: "not a directory"
	_, err = Open(filepath.Join(top, "nowhere"), ReadWrite)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = Open(top, Mode(7))
	assert.ErrorIs(t, err, ErrMode)
}
