//go:build wasip1

// Command dirguest is the guest of the --dir tests. Each mode prints one
// line per attempt, so that a script can check every one:
//
//	dirguest escape DIR OUTSIDE  a hostile guest in its mount DIR tries to
//	                             reach the host directory OUTSIDE (which
//	                             holds secret.txt and dir/): "refused NAME:
//	                             ERROR" when it could not, "ESCAPED NAME:
//	                             WHAT" when it could
//	dirguest readonly DIR        tries to change a read-only mount DIR
//	                             (which holds file.txt and sub/):
//	                             "refused NAME: ERROR" or "CHANGED NAME";
//	                             then reads it: "read NAME" or "FAILED NAME"
//	dirguest honest DIR          does ordinary file work in DIR: "ok NAME"
//	                             or "FAILED NAME: ERROR"
//
// The escape mode also names paths with ".." through raw path_open, as a
// guest that does not use Go's os package (which cleans "..") can.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"
	"unsafe"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: dirguest escape|readonly|honest DIR [OUTSIDE]")
		os.Exit(2)
	}
	dir := os.Args[2]
	switch os.Args[1] {
	case "escape":
		if len(os.Args) < 4 {
			fmt.Fprintln(os.Stderr, "usage: dirguest escape DIR OUTSIDE")
			os.Exit(2)
		}
		escape(dir, os.Args[3])
	case "readonly":
		readonly(dir)
	case "honest":
		honest(dir)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}

// escape tries each way out of dir to outside: a link it makes to "..",
// the links the host left (pre-abs, pre-rel) and ".." itself.
func escape(dir, outside string) {
	// The link is only text; making it is allowed. Following it is not.
	if err := os.Symlink("../../../../../../../../..", path.Join(dir, ".r")); err != nil {
		fmt.Println("FAILED symlink:", err)
	}
	vias := []struct{ name, base string }{
		{"new-link", path.Join(dir, ".r", outside)},
		{"pre-abs", path.Join(dir, "pre-abs")},
		{"pre-rel", path.Join(dir, "pre-rel")},
	}
	// Reads first, then changes, and the changes that would take the
	// secret away last, so that every attempt meets the same outside.
	for _, via := range vias {
		tryRead(via.name+" read", path.Join(via.base, "secret.txt"))
		tryList(via.name+" list", via.base)
		tryList(via.name+" list dir", path.Join(via.base, "dir"))
		if _, err := os.Stat(path.Join(via.base, "secret.txt")); err == nil {
			fmt.Println("ESCAPED", via.name, "stat: the file outside exists")
		} else {
			fmt.Printf("refused %s stat: %v\n", via.name, err)
		}
	}
	for _, via := range vias {
		tryCreate(via.name+" create", path.Join(via.base, via.name+"-planted.txt"))
		tryErr(via.name+" mkdir", os.Mkdir(path.Join(via.base, via.name+"-planted-dir"), 0o755))
		tryErr(via.name+" symlink out", os.Symlink("x", path.Join(via.base, via.name+"-planted-link")))
		tryErr(via.name+" rename out", os.Rename(path.Join(dir, "mine.txt"), path.Join(via.base, via.name+"-moved.txt")))
		tryErr(via.name+" link in", os.Link(path.Join(via.base, "secret.txt"), path.Join(dir, via.name+"-stolen-link.txt")))
	}
	for _, via := range vias {
		tryErr(via.name+" truncate", os.Truncate(path.Join(via.base, "secret.txt"), 0))
		tryErr(via.name+" rename in", os.Rename(path.Join(via.base, "secret.txt"), path.Join(dir, via.name+"-stolen.txt")))
		tryErr(via.name+" remove", os.Remove(path.Join(via.base, "dir")))
	}
	// Go's os package cleans "/data/../x" to "/x", which is in no mount;
	// a guest of its own makes path_open carry ".." to the host.
	for _, p := range []string{
		"..",
		"../outside/secret.txt",
		strings.TrimPrefix(outside, "/") + "/secret.txt",
		outside + "/secret.txt",
		"pre-rel/../../outside/secret.txt",
		".r/" + strings.TrimPrefix(outside, "/") + "/secret.txt",
	} {
		rawOpen("raw "+p, p)
	}
}

func tryRead(name, p string) {
	b, err := os.ReadFile(p)
	if err != nil {
		fmt.Printf("refused %s: %v\n", name, err)
		return
	}
	fmt.Printf("ESCAPED %s: read %q\n", name, b)
}

func tryList(name, p string) {
	ents, err := os.ReadDir(p)
	if err != nil {
		fmt.Printf("refused %s: %v\n", name, err)
		return
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	fmt.Printf("ESCAPED %s: listed %v\n", name, names)
}

func tryCreate(name, p string) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		fmt.Printf("refused %s: %v\n", name, err)
		return
	}
	f.Close()
	fmt.Printf("ESCAPED %s: created %s\n", name, p)
}

func tryErr(name string, err error) {
	if err != nil {
		fmt.Printf("refused %s: %v\n", name, err)
		return
	}
	fmt.Printf("ESCAPED %s\n", name)
}

//go:wasmimport wasi_snapshot_preview1 path_open
//go:noescape
func pathOpen(fd int32, dirflags uint32, path unsafe.Pointer, pathLen uint32, oflags uint32, rightsBase uint64, rightsInheriting uint64, fdflags uint32, result unsafe.Pointer) uint32

// preopen is the descriptor of the first --dir: after stdin, stdout and
// stderr.
const preopen = 3

// rawOpen opens p, relative to the mount, with path_open itself, following
// symbolic links, and reads what it opened.
func rawOpen(name, p string) {
	b := []byte(p)
	var fd int32
	const lookupSymlinkFollow = 1
	const rightsFdRead = 1 << 1
	errno := pathOpen(preopen, lookupSymlinkFollow, unsafe.Pointer(&b[0]), uint32(len(b)), 0, rightsFdRead, 0, 0, unsafe.Pointer(&fd))
	if errno != 0 {
		fmt.Printf("refused %s: errno %d\n", name, errno)
		return
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		// A directory: what the guest got is a way to list it.
		ents, _ := f.ReadDir(-1)
		fmt.Printf("ESCAPED %s: opened a directory of %d entries\n", name, len(ents))
		return
	}
	fmt.Printf("ESCAPED %s: read %q\n", name, data)
}

// readonly tries every change to dir, then reads it.
func readonly(dir string) {
	file := path.Join(dir, "file.txt")
	changes := []struct {
		name string
		do   func() error
	}{
		{"write", func() error { return os.WriteFile(file, []byte("changed"), 0o644) }},
		{"append", func() error { return openClose(file, os.O_WRONLY|os.O_APPEND) }},
		{"create", func() error { return os.WriteFile(path.Join(dir, "new.txt"), nil, 0o644) }},
		{"create read-only", func() error { return openClose(path.Join(dir, "new.txt"), os.O_RDONLY|os.O_CREATE) }},
		{"truncate", func() error { return os.Truncate(file, 0) }},
		{"remove", func() error { return os.Remove(file) }},
		{"rmdir", func() error { return os.Remove(path.Join(dir, "sub")) }},
		{"mkdir", func() error { return os.Mkdir(path.Join(dir, "made"), 0o755) }},
		{"rename", func() error { return os.Rename(file, path.Join(dir, "moved.txt")) }},
		{"symlink", func() error { return os.Symlink("file.txt", path.Join(dir, "soft")) }},
		{"link", func() error { return os.Link(file, path.Join(dir, "hard")) }},
		{"chtimes", func() error { return os.Chtimes(file, time.Unix(1, 0), time.Unix(1, 0)) }},
	}
	for _, c := range changes {
		if err := c.do(); err != nil {
			fmt.Printf("refused %s: %v\n", c.name, err)
		} else {
			fmt.Printf("CHANGED %s\n", c.name)
		}
	}
	if b, err := os.ReadFile(file); err != nil {
		fmt.Printf("FAILED read: %v\n", err)
	} else {
		fmt.Printf("read file.txt %q\n", b)
	}
	if ents, err := os.ReadDir(dir); err != nil {
		fmt.Printf("FAILED list: %v\n", err)
	} else {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		fmt.Printf("read dir %v\n", names)
	}
}

func openClose(p string, flag int) error {
	f, err := os.OpenFile(p, flag, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// honest does what an ordinary guest does with its directory. It stops at
// the first failure.
func honest(dir string) {
	p := func(name string) string { return path.Join(dir, name) }
	steps := []struct {
		name string
		do   func() error
	}{
		{"mkdir", func() error { return os.Mkdir(p("work"), 0o755) }},
		{"create and write", func() error { return os.WriteFile(p("work/a.txt"), []byte("hello"), 0o644) }},
		{"read back", func() error { return want(p("work/a.txt"), "hello") }},
		{"append", func() error {
			f, err := os.OpenFile(p("work/a.txt"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			if _, err := f.WriteString(", world"); err != nil {
				return err
			}
			return f.Close()
		}},
		{"pwrite, pread, seek, truncate", func() error {
			f, err := os.OpenFile(p("work/a.txt"), os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("J"), 0); err != nil {
				return err
			}
			buf := make([]byte, 5)
			if _, err := f.ReadAt(buf, 7); err != nil {
				return err
			}
			if string(buf) != "world" {
				return fmt.Errorf("pread %q", buf)
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			if err := f.Truncate(5); err != nil {
				return err
			}
			all, err := io.ReadAll(f)
			if err != nil || string(all) != "Jello" {
				return fmt.Errorf("read %q: %v", all, err)
			}
			return f.Sync()
		}},
		{"rename", func() error { return os.Rename(p("work/a.txt"), p("work/b.txt")) }},
		{"symlink inside", func() error { return os.Symlink("../work/b.txt", p("work/link")) }},
		{"read through the link", func() error { return want(p("work/link"), "Jello") }},
		{"readlink", func() error {
			t, err := os.Readlink(p("work/link"))
			if err == nil && t != "../work/b.txt" {
				err = fmt.Errorf("readlink %q", t)
			}
			return err
		}},
		{"hard link", func() error { return os.Link(p("work/b.txt"), p("work/c.txt")) }},
		{"stat and lstat", func() error {
			fi, err := os.Stat(p("work/link"))
			if err != nil {
				return err
			}
			li, err := os.Lstat(p("work/link"))
			if err != nil {
				return err
			}
			if !fi.Mode().IsRegular() || li.Mode()&os.ModeSymlink == 0 || fi.Size() != 5 {
				return fmt.Errorf("stat %v, lstat %v", fi.Mode(), li.Mode())
			}
			return nil
		}},
		{"chtimes", func() error {
			when := time.Unix(1_000_000_000, 0)
			if err := os.Chtimes(p("work/b.txt"), when, when); err != nil {
				return err
			}
			fi, err := os.Stat(p("work/b.txt"))
			if err == nil && !fi.ModTime().Equal(when) {
				err = fmt.Errorf("mtime %v", fi.ModTime())
			}
			return err
		}},
		{"readdir", func() error {
			ents, err := os.ReadDir(p("work"))
			if err != nil {
				return err
			}
			var names []string
			for _, e := range ents {
				names = append(names, e.Name()+":"+e.Type().String())
			}
			if w := []string{"b.txt:----------", "c.txt:----------", "link:L---------"}; !slices.Equal(names, w) {
				return fmt.Errorf("readdir %v, want %v", names, w)
			}
			return nil
		}},
		{"create exclusive refuses an existing file", func() error {
			err := openClose(p("work/b.txt"), os.O_WRONLY|os.O_CREATE|os.O_EXCL)
			if !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("got %v, want it to exist", err)
			}
			return nil
		}},
		{"remove", func() error {
			for _, n := range []string{"work/link", "work/b.txt", "work/c.txt"} {
				if err := os.Remove(p(n)); err != nil {
					return err
				}
			}
			return nil
		}},
		{"rmdir", func() error { return os.Remove(p("work")) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			fmt.Printf("FAILED %s: %v\n", s.name, err)
			os.Exit(1)
		}
		fmt.Printf("ok %s\n", s.name)
	}
}

func want(p, content string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if !bytes.Equal(b, []byte(content)) {
		return fmt.Errorf("%s holds %q, want %q", p, b, content)
	}
	return nil
}
