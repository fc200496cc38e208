package rootfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// fileID is what tells two files apart.
type fileID struct {
	dev uint64
	ino sys.Inode
}

func idOf(t testing.TB, path string) fileID {
	t.Helper()
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	st := sys.NewStat_t(fi)
	return fileID{st.Dev, st.Ino}
}

// FuzzConfined makes a symbolic link to target in the root, then names path,
// directly and through the link, in every operation of the FS. Whatever the
// two strings are, nothing outside the root changes, and nothing the FS
// answers (a stat, a directory entry, a file's bytes) comes from outside.
func FuzzConfined(f *testing.F) {
	for _, seed := range [][2]string{
		{"../outside/secret.txt", "../outside"},
		{"secret.txt", "../../../../../../../.."},
		{"outside/secret.txt", ".."},
		{"..", "/"},
		{"/etc/passwd", "/etc"},
		{"sub/../../outside/dir", "sub/.."},
		{"abs/secret.txt", "abs"},
		{"rel/dir/x", "rel/dir"},
		{"l/l/l", "l"},
		{"in/../..", "in/../../outside/secret.txt"},
		{".", ""},
		{"", "."},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, path, target string) {
		top := layout(t)
		exerciseConfined(t, top, open(t, top, ReadWrite), path, target)
	})
}

// exerciseConfined is one run of FuzzConfined on fsys, the FS of top's root.
func exerciseConfined(t *testing.T, top string, fsys experimentalsys.FS, path, target string) {
	t.Helper()
	outside := filepath.Join(top, "outside")
	forbidden := map[fileID]string{}
	for _, p := range []string{filepath.Dir(top), top, outside, filepath.Join(outside, "dir"), filepath.Join(outside, "secret.txt"), "/"} {
		forbidden[idOf(t, p)] = p
	}
	beforeOutside, beforeTop := snapshot(t, outside), entries(t, top)

	check := func(op string, id fileID) {
		if p, ok := forbidden[id]; ok {
			t.Fatalf("%s(%q) with l -> %q reached %s outside the root", op, path, target, p)
		}
	}
	_ = fsys.Symlink(target, "l")
	for _, p := range []string{path, "l/" + path, "l"} {
		if st, errno := fsys.Stat(p); errno == 0 {
			check("stat", fileID{st.Dev, st.Ino})
		}
		if st, errno := fsys.Lstat(p); errno == 0 {
			check("lstat", fileID{st.Dev, st.Ino})
		}
		_, _ = fsys.Readlink(p)
		if file, errno := fsys.OpenFile(p, experimentalsys.O_RDONLY, 0); errno == 0 {
			readConfined(t, file, check)
		}
		if file, errno := fsys.OpenFile(p, experimentalsys.O_RDWR|experimentalsys.O_CREAT, 0o644); errno == 0 {
			_, _ = file.Write([]byte("x"))
			_ = file.Close()
		}
		_ = fsys.Mkdir(p, 0o755)
		_ = fsys.Chmod(p, 0o755)
		_ = fsys.Utimens(p, 0, 0)
		_ = fsys.Link("file.txt", p)
		_ = fsys.Link(p, "hard")
		_ = fsys.Symlink("x", p)
		_ = fsys.Rename("sub/inner.txt", p)
		_ = fsys.Rename(p, "moved")
		_ = fsys.Unlink(p)
		_ = fsys.Rmdir(p)
	}
	require.Equal(t, beforeOutside, snapshot(t, outside), "path %q, l -> %q changed something outside the root", path, target)
	require.Equal(t, beforeTop, entries(t, top), "path %q, l -> %q changed the root's parent", path, target)
}

// readConfined reads an open file or directory and checks that none of it
// comes from outside the root.
func readConfined(t *testing.T, file experimentalsys.File, check func(string, fileID)) {
	defer file.Close()
	dev, _ := file.Dev()
	ino, _ := file.Ino()
	check("open", fileID{dev, ino})
	if isDir, _ := file.IsDir(); isDir {
		ents, _ := file.Readdir(-1)
		for _, e := range ents {
			check("readdir", fileID{dev, e.Ino})
		}
		return
	}
	buf := make([]byte, 256)
	n, _ := file.Read(buf)
	if bytes.Contains(buf[:n], []byte(secret)) {
		t.Fatalf("read the file outside the root")
	}
}

// entries lists the names in dir.
func entries(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}
