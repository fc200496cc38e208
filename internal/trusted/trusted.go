// Package trusted tells whether a file or a directory can only have been
// written by the user that runs wasihsm (or by root): the configuration
// file names the shared object that wasihsm loads, and the compilation
// cache holds machine code that wazero maps and runs, so whoever can write
// either runs code as wasihsm.
//
// # What counts
//
// A path is trusted when it is owned by the user running (the effective
// uid) or by root, and no write permission bit for group or others is set,
// as ssh requires of its configuration. A directory above the one checked
// may be writable by others only with the sticky bit (as /tmp is), which
// keeps them from renaming or removing what they do not own. Inside a
// checked directory, a symbolic link is not trusted: its target is
// wherever its maker pointed it.
//
// On systems without POSIX owners and permission bits (Windows), nothing
// here can tell, and every path is trusted.
package trusted

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Why a path is not trusted.
var (
	// ErrNotOwned: the path belongs to a user other than the one running
	// and root.
	ErrNotOwned = errors.New("owned by another user")
	// ErrWritable: group or others may write the path.
	ErrWritable = errors.New("writable by group or others")
	// ErrSymlink: a symbolic link inside a checked directory.
	ErrSymlink = errors.New("a symbolic link")
)

// Error is a path that is not trusted.
type Error struct {
	// Path is the path that fails, which may be below or above the one
	// checked.
	Path string
	// Mode is its mode, from lstat.
	Mode fs.FileMode
	// Owner is its owner's uid, and Self the effective uid of the process.
	Owner, Self int
	// Err is ErrNotOwned, ErrWritable or ErrSymlink.
	Err error
}

// Error says which path fails and why: "PATH: " and the [Error.Reason].
func (e *Error) Error() string { return e.Path + ": " + e.Reason() }

// Reason says why the path fails: "writable by group or others (mode
// 0666)", "owned by another user (uid 65534; this process runs as uid
// 1000)" or "a symbolic link".
func (e *Error) Reason() string {
	switch {
	case errors.Is(e.Err, ErrWritable):
		return fmt.Sprintf("%v (mode %04o)", e.Err, e.Mode.Perm())
	case errors.Is(e.Err, ErrNotOwned):
		return fmt.Sprintf("%v (uid %d; this process runs as uid %d)", e.Err, e.Owner, e.Self)
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// File checks the file or directory at path, whose information fi is (from
// the Stat of the file as opened, so that what is checked is what is
// read). It returns nil or an [*Error].
func File(path string, fi fs.FileInfo) error { return check(path, fi, false) }

// check checks one path; sticky says that a sticky directory may be
// writable by others (a directory above the one checked).
func check(path string, fi fs.FileInfo, sticky bool) error {
	uid, ok := owner(fi)
	if !ok {
		return nil
	}
	self := os.Geteuid()
	e := &Error{Path: path, Mode: fi.Mode(), Owner: uid, Self: self}
	switch {
	case uid != self && uid != 0:
		e.Err = ErrNotOwned
	case fi.Mode().Perm()&0o022 != 0 && !(sticky && fi.IsDir() && fi.Mode()&fs.ModeSticky != 0):
		e.Err = ErrWritable
	default:
		return nil
	}
	return e
}

// Dir checks the directory dir, every directory above it, and everything
// inside it, and returns its path with every symbolic link resolved: the
// path to use, so that no link that another user could swap lies between
// the check and the use. It returns an [*Error] for the first path that
// is not trusted, or the error that stopped the check.
func Dir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	for p := filepath.Dir(resolved); ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		if err := check(p, fi, true); err != nil {
			return "", err
		}
		if filepath.Dir(p) == p {
			break
		}
	}
	err = filepath.WalkDir(resolved, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if uid, ok := owner(fi); ok {
				return &Error{Path: p, Mode: fi.Mode(), Owner: uid, Self: os.Geteuid(), Err: ErrSymlink}
			}
			return nil
		}
		return check(p, fi, false)
	})
	if err != nil {
		return "", err
	}
	return resolved, nil
}
