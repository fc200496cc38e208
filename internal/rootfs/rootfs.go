// Package rootfs gives a guest a host directory that it cannot leave: a
// wazero [sys.FS] on top of an [os.Root].
//
// # Use
//
//	fsys, err := rootfs.Open("/srv/data", rootfs.ReadWrite)
//	...
//	defer fsys.Close()
//	cfg := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(fsys, "/data")
//
// # What it promises
//
// Every path the guest names resolves beneath the directory: "..", an
// absolute path, a symbolic link that the guest made and one that was
// already there are all followed by [os.Root], which refuses any step that
// would leave the directory. Such a refusal answers EPERM, and nothing
// outside the directory is read, written, created, removed, listed or
// stat'ed. Symbolic links are stored as given, so a link may point
// anywhere; following it stays beneath the root.
//
// wazero's own [wazero.FSConfig.WithDirMount] makes no such promise: it
// resolves paths against the host's file system and follows symbolic links
// out of the directory.
//
// A [ReadOnly] FS answers EROFS to anything that would change the
// directory (opening for writing, O_CREAT, O_TRUNC, mkdir, unlink, rename,
// chmod, utimens and the like) and EBADF to a write on an open file.
//
// # Limits
//
// The guest can still use whatever the directory holds: a hard link that
// the host made to a file elsewhere is that file. Mount only directories
// whose contents the guest may have.
package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// Mode says whether the guest may change the directory.
type Mode uint8

const (
	// ReadWrite lets the guest read and change the directory.
	ReadWrite Mode = iota
	// ReadOnly lets the guest read the directory and change nothing.
	ReadOnly
)

// String returns "rw" or "ro", as --dir writes them.
func (m Mode) String() string {
	if m == ReadOnly {
		return "ro"
	}
	return "rw"
}

// ErrMode is the error of Open for a Mode that is neither ReadWrite nor
// ReadOnly.
var ErrMode = errors.New("rootfs: unknown mode")

// FS is a directory that a guest sees as a file system and cannot leave.
// Its methods may be called from any goroutine.
type FS struct {
	experimentalsys.UnimplementedFS
	root *os.Root
	mode Mode
}

var _ experimentalsys.FS = (*FS)(nil)

// Open opens dir as the root of an FS. The FS keeps the directory open (so
// that it stays the same directory even if dir is renamed) until Close.
func Open(dir string, mode Mode) (*FS, error) {
	if mode != ReadWrite && mode != ReadOnly {
		return nil, fmt.Errorf("%w %d", ErrMode, mode)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	return &FS{root: root, mode: mode}, nil
}

// Close closes the directory. Files the guest opened stay usable until
// they are closed.
func (f *FS) Close() error { return f.root.Close() }

// String returns the host directory and the mode, for messages.
func (f *FS) String() string { return f.root.Name() + " (" + f.mode.String() + ")" }

// name turns wazero's path (relative to the mount, "" or "." for the mount
// itself) into a name for os.Root.
func name(path string) string {
	if path == "" {
		return "."
	}
	return path
}

// pathErrno maps an error of an os.Root method to an Errno. os.Root answers
// a path that would leave the root with an error of its own, not a system
// error; that answers EPERM, as a permission the guest does not have.
func pathErrno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	var se syscall.Errno
	if errors.As(err, &se) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist) ||
		errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrInvalid) || errors.Is(err, fs.ErrClosed) {
		return experimentalsys.UnwrapOSError(err)
	}
	return experimentalsys.EPERM
}

// writes are the open flags that change the file system.
const writes = experimentalsys.O_CREAT | experimentalsys.O_TRUNC | experimentalsys.O_APPEND

// OpenFile implements [experimentalsys.FS.OpenFile].
func (f *FS) OpenFile(path string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	access := flag & (experimentalsys.O_RDONLY | experimentalsys.O_WRONLY | experimentalsys.O_RDWR)
	if f.mode == ReadOnly && (access != experimentalsys.O_RDONLY || flag&writes != 0) {
		return nil, experimentalsys.EROFS
	}
	n := name(path)
	if flag&experimentalsys.O_NOFOLLOW != 0 {
		// os.Root follows a final symbolic link whatever the flags say.
		if fi, err := f.root.Lstat(n); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, experimentalsys.ELOOP
		}
	}
	osf, err := f.root.OpenFile(n, osFlag(flag), perm)
	if err != nil {
		return nil, pathErrno(err)
	}
	file := &file{fs: f, name: n, flag: flag, f: osf}
	if flag&experimentalsys.O_DIRECTORY != 0 {
		if isDir, errno := file.IsDir(); errno != 0 || !isDir {
			_ = osf.Close()
			if errno == 0 {
				errno = experimentalsys.ENOTDIR
			}
			return nil, errno
		}
	}
	return file, 0
}

// osFlag maps wazero's open flags to os.OpenFile's. O_NOFOLLOW and
// O_DIRECTORY are checked by OpenFile itself; O_NONBLOCK means nothing for
// files and directories.
func osFlag(flag experimentalsys.Oflag) int {
	var o int
	switch flag & (experimentalsys.O_RDONLY | experimentalsys.O_WRONLY | experimentalsys.O_RDWR) {
	case experimentalsys.O_WRONLY:
		o = os.O_WRONLY
	case experimentalsys.O_RDWR:
		o = os.O_RDWR
	default:
		o = os.O_RDONLY
	}
	for _, m := range []struct {
		from experimentalsys.Oflag
		to   int
	}{
		{experimentalsys.O_APPEND, os.O_APPEND},
		{experimentalsys.O_CREAT, os.O_CREATE},
		{experimentalsys.O_EXCL, os.O_EXCL},
		{experimentalsys.O_TRUNC, os.O_TRUNC},
		{experimentalsys.O_SYNC | experimentalsys.O_DSYNC | experimentalsys.O_RSYNC, os.O_SYNC},
	} {
		if flag&m.from != 0 {
			o |= m.to
		}
	}
	return o
}

// Lstat implements [experimentalsys.FS.Lstat].
func (f *FS) Lstat(path string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := f.root.Lstat(name(path))
	if err != nil {
		return sys.Stat_t{}, pathErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Stat implements [experimentalsys.FS.Stat].
func (f *FS) Stat(path string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := f.root.Stat(name(path))
	if err != nil {
		return sys.Stat_t{}, pathErrno(err)
	}
	return sys.NewStat_t(fi), 0
}

// Readlink implements [experimentalsys.FS.Readlink]. The target is
// returned as stored; reading it says nothing about what it points at.
func (f *FS) Readlink(path string) (string, experimentalsys.Errno) {
	target, err := f.root.Readlink(name(path))
	if err != nil {
		return "", pathErrno(err)
	}
	return target, 0
}

// change runs op when the FS may be changed, and answers EROFS otherwise.
func (f *FS) change(op func() error) experimentalsys.Errno {
	if f.mode == ReadOnly {
		return experimentalsys.EROFS
	}
	return pathErrno(op())
}

// Mkdir implements [experimentalsys.FS.Mkdir].
func (f *FS) Mkdir(path string, perm fs.FileMode) experimentalsys.Errno {
	return f.change(func() error { return f.root.Mkdir(name(path), perm) })
}

// Chmod implements [experimentalsys.FS.Chmod].
func (f *FS) Chmod(path string, perm fs.FileMode) experimentalsys.Errno {
	return f.change(func() error { return f.root.Chmod(name(path), perm) })
}

// Rename implements [experimentalsys.FS.Rename].
func (f *FS) Rename(from, to string) experimentalsys.Errno {
	return f.change(func() error { return f.root.Rename(name(from), name(to)) })
}

// Link implements [experimentalsys.FS.Link].
func (f *FS) Link(oldPath, newPath string) experimentalsys.Errno {
	return f.change(func() error { return f.root.Link(name(oldPath), name(newPath)) })
}

// Symlink implements [experimentalsys.FS.Symlink]. target is stored as
// given, like symlink(2); only linkName is a path in the FS.
func (f *FS) Symlink(target, linkName string) experimentalsys.Errno {
	return f.change(func() error { return f.root.Symlink(target, name(linkName)) })
}

// Rmdir implements [experimentalsys.FS.Rmdir]: ENOTDIR for anything but a
// directory, which os.Root's Remove would also remove.
func (f *FS) Rmdir(path string) experimentalsys.Errno {
	return f.remove(path, true)
}

// Unlink implements [experimentalsys.FS.Unlink]: EISDIR for a directory,
// which os.Root's Remove would also remove.
func (f *FS) Unlink(path string) experimentalsys.Errno {
	return f.remove(path, false)
}

func (f *FS) remove(path string, dir bool) experimentalsys.Errno {
	return f.change(func() error {
		n := name(path)
		fi, err := f.root.Lstat(n)
		switch {
		case err != nil:
			return err
		case dir && !fi.IsDir():
			return syscall.ENOTDIR
		case !dir && fi.IsDir():
			return syscall.EISDIR
		}
		return f.root.Remove(n)
	})
}

// Utimens implements [experimentalsys.FS.Utimens].
func (f *FS) Utimens(path string, atim, mtim int64) experimentalsys.Errno {
	return f.change(func() error { return f.root.Chtimes(name(path), timeOf(atim), timeOf(mtim)) })
}

// timeOf turns a wazero timestamp into the time os.Root's Chtimes wants: the
// zero time leaves the file's time as it is, as UTIME_OMIT asks.
func timeOf(ns int64) time.Time {
	if ns == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
