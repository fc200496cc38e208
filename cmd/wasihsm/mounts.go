package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasihsm/wasihsm/internal/config"
)

// Where SoftHSM2 2.6 looks for its configuration when SOFTHSM2_CONF is not
// set: the user's file if there is one, else the system's; and the token
// directory it uses when the file names none.
const (
	softHSMUserConf        = ".config/softhsm2/softhsm2.conf" // under $HOME
	softHSMSystemConf      = "/etc/softhsm/softhsm2.conf"
	softHSMDefaultTokenDir = "/var/lib/softhsm/tokens"
)

// secretPath is a host path that no --dir may give a guest.
type secretPath struct {
	what string // "the PIN file", for messages
	path string // as configured
	from string // where the setting came from; "" when that goes without saying
	why  string // what a guest could do with it
	dir  bool   // a directory: a mount inside it exposes it too
}

// secretPaths lists what the settings use that a guest must not reach:
// the configuration file, the PIN file, the compilation cache (even with
// --no-cache, since a guest that writes it plants code for later runs) and
// the token directory of SoftHSM2 when the module is SoftHSM2.
func secretPaths(s config.Settings, lookupEnv func(string) (string, bool)) []secretPath {
	var out []secretPath
	if s.ConfigFile != "" {
		out = append(out, secretPath{what: "the configuration file", path: s.ConfigFile,
			why: "it says which module is loaded and where the PIN is"})
	}
	if pin, ok := s.PKCS11.PIN.File(); ok {
		out = append(out, secretPath{what: "the PIN file", path: pin, from: s.Origin(config.FieldPIN).String(),
			why: "it holds the token's user PIN"})
	}
	if s.CacheDir != "" {
		out = append(out, secretPath{what: "the compilation cache", path: s.CacheDir, from: s.Origin(config.FieldCacheDir).String(),
			why: "a guest that writes it plants code that a later run executes", dir: true})
	}
	if s.Backend == config.BackendPKCS11 && isSoftHSM(s.PKCS11.Module) {
		if dir, conf, ok := softHSMTokenDir(lookupEnv); ok {
			out = append(out, secretPath{what: "the SoftHSM2 token directory", path: dir, from: conf,
				why: "it holds the token's objects", dir: true})
		}
	}
	return out
}

// isSoftHSM reports whether module is SoftHSM2's (libsofthsm2.so).
func isSoftHSM(module string) bool {
	return strings.Contains(filepath.Base(module), "softhsm")
}

// softHSMTokenDir returns SoftHSM2's directories.tokendir and the file it
// came from, found as SoftHSM2 finds its configuration. ok is false when
// there is no configuration to read, and then SoftHSM2 has no token either.
func softHSMTokenDir(lookupEnv func(string) (string, bool)) (dir, conf string, ok bool) {
	conf, set := lookupEnv("SOFTHSM2_CONF")
	if !set {
		conf = softHSMSystemConf
		if home, ok := lookupEnv("HOME"); ok {
			if user := filepath.Join(home, softHSMUserConf); fileExists(user) {
				conf = user
			}
		}
	}
	f, err := os.Open(conf)
	if err != nil {
		return "", "", false
	}
	defer f.Close()
	dir = softHSMDefaultTokenDir
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, found := strings.Cut(sc.Text(), "=")
		if found && strings.TrimSpace(key) == "directories.tokendir" {
			dir = strings.TrimSpace(value)
		}
	}
	return dir, conf, true
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// errMountExposes is the error of checkMounts.
var errMountExposes = errors.New("would give the guest")

// checkMounts refuses a --dir whose host directory holds a secret path (or,
// for a directory such as the token directory, lies inside it). Paths are
// compared absolute, cleaned and with symbolic links resolved, so that
// another spelling of the same directory is refused too.
func checkMounts(mounts []mount, secrets []secretPath) error {
	for _, m := range mounts {
		host, err := resolvePath(m.host)
		if err != nil {
			return fmt.Errorf("--dir %s: %v", m.spec, err)
		}
		for _, s := range secrets {
			p, err := resolvePath(s.path)
			if err != nil {
				return fmt.Errorf("--dir %s: %s %s: %v", m.spec, s.what, s.path, err)
			}
			name := s.what + " " + s.path
			if s.from != "" {
				name += " (from " + s.from + ")"
			}
			switch {
			case within(p, host):
				return fmt.Errorf("--dir %s %w %s: %s; mount a directory that does not hold it", m.spec, errMountExposes, name, s.why)
			case s.dir && within(host, p):
				return fmt.Errorf("--dir %s %w part of %s: %s; mount a directory outside it", m.spec, errMountExposes, name, s.why)
			}
		}
	}
	return nil
}

// within reports whether path is dir or lies beneath it; both are resolved.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// resolvePath returns path absolute, cleaned and with its symbolic links
// resolved. Of a path that does not exist yet (a cache directory not yet
// made), the part that exists is resolved and the rest appended.
func resolvePath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	var rest []string
	for {
		resolved, err := filepath.EvalSymlinks(abs)
		if err == nil {
			return filepath.Join(append([]string{resolved}, rest...)...), nil
		}
		parent := filepath.Dir(abs)
		if !errors.Is(err, fs.ErrNotExist) || parent == abs {
			return "", err
		}
		rest = append([]string{filepath.Base(abs)}, rest...)
		abs = parent
	}
}
