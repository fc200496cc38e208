package rootfs

import (
	"io"
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// fileOffset is int64. Seek is declared with it because go vet takes any
// Seek(int64, int) for an io.Seeker whose results are wrong, and wazero's
// Seek answers an Errno, not an error.
type fileOffset = int64

// file is a file or directory opened in an FS. The operations on an open
// file use its descriptor; the two that need a name (SetAppend, which must
// reopen, and Utimens) go through the FS's os.Root, and only while the
// name still names this file.
type file struct {
	experimentalsys.UnimplementedFile
	fs     *FS
	name   string
	flag   experimentalsys.Oflag
	f      *os.File
	closed bool

	// cached holds what cannot change while the file is open.
	cached *cachedStat
}

type cachedStat struct {
	dev   uint64
	ino   sys.Inode
	isDir bool
}

var _ experimentalsys.File = (*file)(nil)

func (f *file) cachedStat() (cachedStat, experimentalsys.Errno) {
	if f.cached == nil {
		if _, errno := f.Stat(); errno != 0 {
			return cachedStat{}, errno
		}
	}
	return *f.cached, 0
}

// Dev implements [experimentalsys.File.Dev].
func (f *file) Dev() (uint64, experimentalsys.Errno) {
	c, errno := f.cachedStat()
	return c.dev, errno
}

// Ino implements [experimentalsys.File.Ino].
func (f *file) Ino() (sys.Inode, experimentalsys.Errno) {
	c, errno := f.cachedStat()
	return c.ino, errno
}

// IsDir implements [experimentalsys.File.IsDir].
func (f *file) IsDir() (bool, experimentalsys.Errno) {
	c, errno := f.cachedStat()
	return c.isDir, errno
}

// IsAppend implements [experimentalsys.File.IsAppend].
func (f *file) IsAppend() bool { return f.flag&experimentalsys.O_APPEND != 0 }

// SetAppend implements [experimentalsys.File.SetAppend]. An os.File's
// append mode is fixed when it is opened, so the file is opened again,
// beneath the same root, and kept only if it is still the same file.
func (f *file) SetAppend(enable bool) experimentalsys.Errno {
	switch {
	case f.closed:
		return experimentalsys.EBADF
	case enable == f.IsAppend():
		return 0
	case f.fs.mode == ReadOnly:
		return experimentalsys.EROFS
	}
	if isDir, errno := f.IsDir(); errno != 0 || isDir {
		if errno == 0 {
			errno = experimentalsys.EISDIR
		}
		return errno
	}
	flag := f.flag &^ (experimentalsys.O_CREAT | experimentalsys.O_EXCL | experimentalsys.O_TRUNC | experimentalsys.O_APPEND)
	if enable {
		flag |= experimentalsys.O_APPEND
	}
	offset, err := f.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return experimentalsys.UnwrapOSError(err)
	}
	nf, err := f.fs.root.OpenFile(f.name, osFlag(flag), 0)
	if err != nil {
		return pathErrno(err)
	}
	if errno := f.sameFile(nf); errno != 0 {
		_ = nf.Close()
		return errno
	}
	if _, err := nf.Seek(offset, io.SeekStart); err != nil {
		_ = nf.Close()
		return experimentalsys.UnwrapOSError(err)
	}
	_ = f.f.Close()
	f.f, f.flag = nf, flag
	return 0
}

// sameFile answers 0 when other is the file f has open, ENOENT otherwise
// (its name now names another file, or none).
func (f *file) sameFile(other *os.File) experimentalsys.Errno {
	a, err := f.f.Stat()
	if err != nil {
		return experimentalsys.UnwrapOSError(err)
	}
	b, err := other.Stat()
	if err != nil {
		return experimentalsys.UnwrapOSError(err)
	}
	if !os.SameFile(a, b) {
		return experimentalsys.ENOENT
	}
	return 0
}

// Stat implements [experimentalsys.File.Stat].
func (f *file) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if f.closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	fi, err := f.f.Stat()
	if err != nil {
		return sys.Stat_t{}, experimentalsys.UnwrapOSError(err)
	}
	st := sys.NewStat_t(fi)
	f.cached = &cachedStat{dev: st.Dev, ino: st.Ino, isDir: fi.IsDir()}
	return st, 0
}

// Read implements [experimentalsys.File.Read].
func (f *file) Read(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Read(buf)
	return n, f.errno(err)
}

// Pread implements [experimentalsys.File.Pread].
func (f *file) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.ReadAt(buf, off)
	return n, f.errno(err)
}

// Seek implements [experimentalsys.File.Seek]. Seeking a directory to 0
// makes the next Readdir start again, and see entries made since.
func (f *file) Seek(offset fileOffset, whence int) (int64, experimentalsys.Errno) {
	if whence < io.SeekStart || whence > io.SeekEnd {
		return 0, experimentalsys.EINVAL
	}
	n, err := f.f.Seek(offset, whence)
	return n, f.errno(err)
}

// Readdir implements [experimentalsys.File.Readdir]. Each entry is
// lstat'ed beside the open directory, not by a path from the root, so the
// inode and type are those of the entry itself.
func (f *file) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	if f.closed {
		return nil, experimentalsys.EBADF
	}
	if isDir, errno := f.IsDir(); errno != 0 || !isDir {
		return nil, experimentalsys.EBADF
	}
	fis, err := f.f.Readdir(n)
	if err != nil && err != io.EOF {
		return nil, experimentalsys.UnwrapOSError(err)
	}
	dirents := make([]experimentalsys.Dirent, 0, len(fis))
	for _, fi := range fis {
		st := sys.NewStat_t(fi)
		dirents = append(dirents, experimentalsys.Dirent{Ino: st.Ino, Name: fi.Name(), Type: fi.Mode().Type()})
	}
	return dirents, 0
}

// Write implements [experimentalsys.File.Write].
func (f *file) Write(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.Write(buf)
	return n, f.errno(err)
}

// Pwrite implements [experimentalsys.File.Pwrite].
func (f *file) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.f.WriteAt(buf, off)
	return n, f.errno(err)
}

// Truncate implements [experimentalsys.File.Truncate].
func (f *file) Truncate(size int64) experimentalsys.Errno {
	if size < 0 {
		return experimentalsys.EINVAL
	}
	return f.errno(f.f.Truncate(size))
}

// Sync implements [experimentalsys.File.Sync].
func (f *file) Sync() experimentalsys.Errno { return f.errno(f.f.Sync()) }

// Datasync implements [experimentalsys.File.Datasync], as Sync: os.File has
// no fdatasync, and syncing more is never wrong.
func (f *file) Datasync() experimentalsys.Errno { return f.Sync() }

// Utimens implements [experimentalsys.File.Utimens]. os.File cannot set its
// times, so they are set by name beneath the root, when the name still
// names this file (ENOENT otherwise).
func (f *file) Utimens(atim, mtim int64) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	if f.fs.mode == ReadOnly {
		return experimentalsys.EROFS
	}
	other, err := f.fs.root.Open(f.name)
	if err != nil {
		return pathErrno(err)
	}
	defer other.Close()
	if errno := f.sameFile(other); errno != 0 {
		return errno
	}
	return pathErrno(f.fs.root.Chtimes(f.name, timeOf(atim), timeOf(mtim)))
}

// Close implements [experimentalsys.File.Close].
func (f *file) Close() experimentalsys.Errno {
	if f.closed {
		return 0
	}
	f.closed = true
	return experimentalsys.UnwrapOSError(f.f.Close())
}

// errno maps an error of the open file: io.EOF is no error, a closed file
// is EBADF.
func (f *file) errno(err error) experimentalsys.Errno {
	if err == nil || err == io.EOF {
		return 0
	}
	if f.closed {
		return experimentalsys.EBADF
	}
	errno := experimentalsys.UnwrapOSError(err)
	if errno == experimentalsys.EISDIR || errno == experimentalsys.EBADF || errno == experimentalsys.EINVAL {
		if isDir, _ := f.IsDir(); isDir {
			return experimentalsys.EISDIR
		}
	}
	return errno
}
