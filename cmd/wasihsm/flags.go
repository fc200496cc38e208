package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/wasihsm/wasihsm/internal/config"
	"github.com/wasihsm/wasihsm/internal/rootfs"
)

// runFlags are the parsed flags of `wasihsm run`.
type runFlags struct {
	config  *config.Flags
	noCache bool
	timeout time.Duration
	mounts  []mount
	env     []envVar
	module  string   // MODULE.wasm
	args    []string // the guest's arguments after argv[0]
}

// mount is one --dir.
type mount struct {
	spec        string // as given, for messages
	host, guest string
	mode        rootfs.Mode
}

// envVar is one variable of the guest's environment.
type envVar struct{ name, value string }

// parseRunFlags parses the arguments of `wasihsm run`. Parsing stops at the
// first argument that is not a flag, MODULE.wasm, so that the guest's own
// flags pass through. It returns flag.ErrHelp for -h.
func parseRunFlags(args []string, lookupEnv func(string) (string, bool)) (*runFlags, error) {
	f := &runFlags{}
	fs := newRunFlagSet(f, lookupEnv)
	fs.SetOutput(io.Discard) // the caller prints the error and the usage
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() == 0 {
		return nil, errors.New("run: no MODULE.wasm given")
	}
	if f.timeout < 0 {
		return nil, fmt.Errorf("flag --timeout: %v is negative; want a duration such as 30s, or 0 for none", f.timeout)
	}
	f.module, f.args = fs.Arg(0), fs.Args()[1:]
	return f, nil
}

// newRunFlagSet defines the flags of run into f.
func newRunFlagSet(f *runFlags, lookupEnv func(string) (string, bool)) *flag.FlagSet {
	fs := flag.NewFlagSet("wasihsm run", flag.ContinueOnError)
	f.config = config.AddFlags(fs)
	fs.BoolVar(&f.noCache, "no-cache", false, "compile without the compilation cache")
	fs.DurationVar(&f.timeout, "timeout", 0, "stop the guest after `duration` (0: never)")
	fs.Func("dir", "give the guest the host directory `HOST[:GUEST[:ro]]`", func(v string) error {
		m, err := parseMount(v)
		if err == nil {
			f.mounts = append(f.mounts, m)
		}
		return err
	})
	fs.Func("env", "set `NAME=VALUE` in the guest's environment", func(v string) error {
		e, ok, err := parseEnv(v, lookupEnv)
		if err == nil && ok {
			f.env = setEnv(f.env, e)
		}
		return err
	})
	return fs
}

// parseMount parses HOST[:GUEST[:MODE]]; GUEST defaults to HOST's
// absolute path, MODE (ro or rw) to rw.
func parseMount(v string) (mount, error) {
	host, guest, mode := v, "", rootfs.ReadWrite
	skip := 0
	if runtime.GOOS == "windows" && len(v) >= 2 && v[1] == ':' {
		skip = 2 // a drive letter is not the separator
	}
	if i := strings.IndexByte(v[skip:], ':'); i >= 0 {
		host, guest = v[:skip+i], v[skip+i+1:]
		if g, m, ok := cutLast(guest, ":"); ok && (m == rootfs.ReadOnly.String() || m == rootfs.ReadWrite.String()) {
			guest = g
			if m == rootfs.ReadOnly.String() {
				mode = rootfs.ReadOnly
			}
		}
		if guest == "" {
			return mount{}, fmt.Errorf("%q: empty GUEST path after ':'; want HOST[:GUEST[:ro]]", v)
		}
	}
	if host == "" {
		return mount{}, fmt.Errorf("%q: empty HOST path; want HOST[:GUEST[:ro]]", v)
	}
	fi, err := os.Stat(host)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return mount{}, fmt.Errorf("%s: %v", host, err)
	}
	if !fi.IsDir() {
		return mount{}, fmt.Errorf("%s: not a directory", host)
	}
	if guest == "" {
		abs, err := filepath.Abs(host)
		if err != nil {
			return mount{}, err
		}
		guest = filepath.ToSlash(abs)
	}
	return mount{spec: v, host: host, guest: guest, mode: mode}, nil
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// parseEnv parses NAME=VALUE, or NAME for the host's value. ok is false
// when NAME alone names a variable the host does not have.
func parseEnv(v string, lookupEnv func(string) (string, bool)) (e envVar, ok bool, err error) {
	name, value, hasValue := strings.Cut(v, "=")
	if name == "" {
		return envVar{}, false, fmt.Errorf("%q: empty NAME; want NAME=VALUE or NAME", v)
	}
	if strings.ContainsRune(name, 0) || strings.ContainsRune(value, 0) {
		return envVar{}, false, fmt.Errorf("%q: contains a NUL byte", name)
	}
	if !hasValue {
		value, ok = lookupEnv(name)
		return envVar{name, value}, ok, nil
	}
	return envVar{name, value}, true, nil
}

// setEnv sets e in env: a later --env of the same name replaces the value
// in place.
func setEnv(env []envVar, e envVar) []envVar {
	for i := range env {
		if env[i].name == e.name {
			env[i] = e
			return env
		}
	}
	return append(env, e)
}

// parseFlagsOnly parses the arguments of a subcommand that takes flags and
// no operands (its FlagSet is named "wasihsm NAME"). done says that the
// command ends here, with code: after printing the usage for -h, or after
// a usage error.
func (c *cli) parseFlagsOnly(fs *flag.FlagSet, args []string) (code int, done bool) {
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(c.stdout, usage)
		return exitOK, true
	case err != nil:
		return c.usageError(err.Error()), true
	case fs.NArg() > 0:
		return c.usageError(strings.TrimPrefix(fs.Name(), "wasihsm ") + " takes no arguments"), true
	}
	return exitOK, false
}
