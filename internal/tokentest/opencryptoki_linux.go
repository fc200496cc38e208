package tokentest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// OCKLock is the file whose exclusive flock anyone touching openCryptoki's
// host-global state holds while doing so.
const OCKLock = "/run/lock/wasihsm-opencryptoki.lock"

// LockWait is how long [OpenCryptoki] waits for [OCKLock].
const LockWait = 10 * time.Minute

// OCKLabel is the label of the token that [OpenCryptoki] makes.
const OCKLabel = "wasihsm-ock"

// OCKSlot is the slot of openCryptoki's soft token in Debian's default
// opencryptoki.conf.
const OCKSlot = 3

// ockDefaultSOPIN is the SO PIN of a soft token that was never initialised.
const ockDefaultSOPIN = "87654321"

// The paths compiled into openCryptoki 3.8.1.
const (
	ockStateDir = "/var/lib/opencryptoki"
	ockSwtok    = ockStateDir + "/swtok"
	ockLockDir  = "/run/lock/opencryptoki"
	ockRunDir   = "/var/run"
	ockShmDir   = "/dev/shm"
	ockShmName  = "var.lib.opencryptoki."
	savedSuffix = ".wasihsm-saved"
	ockTempPfx  = "tokentest-ock-"
)

var ockModules = []string{
	"/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so",
	"/usr/lib/aarch64-linux-gnu/pkcs11/libopencryptoki.so",
	"/usr/lib64/pkcs11/libopencryptoki.so",
	"/usr/lib/pkcs11/libopencryptoki.so",
}

// ockHost is what the openCryptoki fixture took over, for Shutdown.
var ockHost struct {
	lock    *os.File
	created bool            // the symlink at ockSwtok is ours
	saved   bool            // the host's swtok is at ockSwtok+savedSuffix
	shm     []string        // the host's shared memory, renamed with savedSuffix
	before  map[string]bool // entries of the watched directories before
	dir     string
	made    []string // directories the fixture made, parents first
}

// ockWatched are the directories where openCryptoki's daemon and libraries
// make files (the token's libraries make state and lock directories for
// every slot they look at); what the fixture's token made there is removed
// at Shutdown.
func ockWatched() []string {
	dirs := []string{ockRunDir, ockShmDir}
	for _, root := range []string{ockStateDir, ockLockDir} {
		dirs = append(dirs, root)
		if es, err := os.ReadDir(root); err == nil {
			for _, e := range es {
				// Not the token's own directory, nor the host's set aside.
				if e.IsDir() && filepath.Join(root, e.Name()) != ockSwtok && !strings.HasSuffix(e.Name(), savedSuffix) {
					dirs = append(dirs, filepath.Join(root, e.Name()))
				}
			}
		}
	}
	return dirs
}

// ockEntries lists the entries of the watched directories that
// openCryptoki may have made.
func ockEntries() map[string]bool {
	m := map[string]bool{}
	for _, d := range ockWatched() {
		es, _ := os.ReadDir(d)
		for _, e := range es {
			n := e.Name()
			if strings.HasSuffix(n, savedSuffix) || filepath.Join(d, n) == ockSwtok {
				continue // the host's, set aside; the fixture's symlink
			}
			switch d {
			case ockRunDir:
				if !strings.HasPrefix(n, "pkcsslotd") {
					continue
				}
			case ockShmDir:
				if !strings.HasPrefix(n, ockShmName) {
					continue
				}
			}
			m[filepath.Join(d, n)] = true
		}
	}
	return m
}

// setupOpenCryptoki takes the lock, puts a temporary directory in place of
// the soft token's, starts pkcsslotd and initialises the token.
func setupOpenCryptoki() (tok *Token, skip string, err error) {
	module := firstExisting(ockModules)
	if module == "" {
		return nil, "libopencryptoki.so not found (install opencryptoki)", nil
	}
	if why := missing([][2]string{{"pkcsslotd", "opencryptoki"}, {"pkcsconf", "opencryptoki"}, {"pkcs11-tool", "opensc"}}); why != "" {
		return nil, why, nil
	}
	if os.Geteuid() != 0 {
		return nil, "the openCryptoki fixture takes over host-global state (pkcsslotd, /var/lib/opencryptoki): run as root", nil
	}
	if err := lockOCK(); err != nil {
		return nil, "", err
	}
	defer func() {
		if err != nil {
			shutdownOpenCryptoki()
		}
	}()
	if err := recoverOCK(); err != nil {
		return nil, "", err
	}
	if pid := processNamed("pkcsslotd"); pid != 0 {
		return nil, "", fmt.Errorf("opencryptoki: pkcsslotd already runs (pid %d) though no one holds %s: stop it (systemctl stop pkcsslotd, or service pkcsslotd stop): there is one per host, and the fixture starts its own", pid, OCKLock)
	}
	// Shared memory left by earlier users would be taken for the token's
	// state: set it aside.
	shm, _ := filepath.Glob(filepath.Join(ockShmDir, ockShmName+"*"))
	for _, p := range shm {
		if strings.HasSuffix(p, savedSuffix) {
			continue
		}
		if err := os.Rename(p, p+savedSuffix); err != nil {
			return nil, "", fmt.Errorf("opencryptoki: set aside %s: %w", p, err)
		}
		ockHost.shm = append(ockHost.shm, p)
	}
	// The lock directories come from systemd-tmpfiles, which a host
	// without systemd never runs; the token cannot work without them.
	for _, d := range []string{ockLockDir, filepath.Join(ockLockDir, "swtok")} {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			if err := makeGroupDir(d); err != nil {
				return nil, "", fmt.Errorf("opencryptoki: %w", err)
			}
			ockHost.made = append(ockHost.made, d)
		}
	}
	ockHost.before = ockEntries()

	dir, err := os.MkdirTemp("", ockTempPfx)
	if err != nil {
		return nil, "", err
	}
	ockHost.dir = dir
	tokDir := filepath.Join(dir, "swtok")
	if err := makeGroupDir(tokDir); err != nil {
		return nil, "", err
	}
	if err := makeGroupDir(filepath.Join(tokDir, "TOK_OBJ")); err != nil {
		return nil, "", err
	}
	if _, err := os.Lstat(ockSwtok); err == nil {
		if err := os.Rename(ockSwtok, ockSwtok+savedSuffix); err != nil {
			return nil, "", fmt.Errorf("opencryptoki: set aside %s: %w", ockSwtok, err)
		}
		ockHost.saved = true
	}
	if err := os.Symlink(tokDir, ockSwtok); err != nil {
		return nil, "", fmt.Errorf("opencryptoki: %w", err)
	}
	ockHost.created = true

	slotd, err := startChild(NameOpenCryptoki, filepath.Join(dir, "pkcsslotd.log"), nil, "pkcsslotd", "-f")
	if err != nil {
		return nil, "", err
	}
	if err := waitFor(slotd, 10*time.Second, "pkcsslotd", func() error {
		_, err := os.Stat(filepath.Join(ockRunDir, "pkcsslotd.socket"))
		return err
	}); err != nil {
		return nil, "", err
	}

	tok = &Token{
		Name:    NameOpenCryptoki,
		Module:  module,
		Label:   OCKLabel,
		PIN:     randomHex(4), // 4 to 8 characters
		SOPIN:   randomHex(4),
		Version: packageVersion("openCryptoki", "opencryptoki"),
		Dir:     dir,
	}
	slot := strconv.Itoa(OCKSlot)
	secrets := []string{tok.PIN, tok.SOPIN}
	// The label through C_InitToken (pkcs11-tool): `pkcsconf -I` reads it
	// from its input, and on a freshly installed Debian 12 it initialises
	// the token with an empty label. pkcsconf exits 0 when it fails: the
	// token's flags tell.
	if _, err := run(nil, secrets, "", "pkcs11-tool", "--module", module, "--slot", slot,
		"--init-token", "--label", tok.Label, "--so-pin", ockDefaultSOPIN); err != nil {
		return nil, "", fmt.Errorf("opencryptoki: %w", err)
	}
	if _, err := run(nil, secrets, "", "pkcsconf", "-P", "-c", slot, "-S", ockDefaultSOPIN, "-n", tok.SOPIN); err != nil {
		return nil, "", fmt.Errorf("opencryptoki: %w", err)
	}
	if _, err := run(nil, secrets, "", "pkcsconf", "-u", "-c", slot, "-S", tok.SOPIN, "-n", tok.PIN); err != nil {
		return nil, "", fmt.Errorf("opencryptoki: %w", err)
	}
	out, err := run(nil, secrets, "", "pkcsconf", "-t", "-c", slot)
	if err != nil {
		return nil, "", fmt.Errorf("opencryptoki: %w", err)
	}
	info := pkcsconfInfo(out)
	if info["Label"] != tok.Label || info["Model"] != "IBM SoftTok" {
		return nil, "", fmt.Errorf("opencryptoki: slot %d is not the soft token labelled %q after initialisation:\n%s", OCKSlot, tok.Label, out)
	}
	flags := info["Flags"]
	if !strings.Contains(flags, "|TOKEN_INITIALIZED|") || !strings.Contains(flags, "|USER_PIN_INITIALIZED|") || strings.Contains(flags, "TO_BE_CHANGED") {
		return nil, "", fmt.Errorf("opencryptoki: the token's PINs were not set (flags %s):\n%s", flags, out)
	}
	tok.Serial = info["Serial Number"]
	return tok, "", nil
}

// pkcsconfInfo reads the "Key: value" lines of `pkcsconf -t`, with the
// flags as "|A|B|" (the tool prints "0x44D (A|B|)").
func pkcsconfInfo(out string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "Flags" {
			if _, f, ok := strings.Cut(v, "("); ok {
				v = "|" + strings.TrimSuffix(f, ")")
			}
		}
		m[k] = v
	}
	return m
}

// makeGroupDir makes a directory that the pkcs11 group may use, as
// openCryptoki's own are.
func makeGroupDir(path string) error {
	if err := os.Mkdir(path, 0o770); err != nil {
		return err
	}
	if g, err := user.LookupGroup("pkcs11"); err == nil {
		if gid, err := strconv.Atoi(g.Gid); err == nil {
			if err := os.Chown(path, -1, gid); err != nil {
				return err
			}
		}
	}
	return os.Chmod(path, 0o770)
}

// lockOCK takes the exclusive lock on OCKLock, waiting up to LockWait.
func lockOCK() error {
	f, err := os.OpenFile(OCKLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("opencryptoki: open the lock: %w", err)
	}
	deadline := time.Now().Add(LockWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			ockHost.lock = f
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return fmt.Errorf("opencryptoki: lock %s (waited up to %s): %w", OCKLock, LockWait, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// recoverOCK puts back what a fixture of a process that died left: its
// symlink in place of the host's swtok, and the host's swtok and shared
// memory set aside.
func recoverOCK() error {
	if target, err := os.Readlink(ockSwtok); err == nil && strings.Contains(target, string(filepath.Separator)+ockTempPfx) {
		if err := os.Remove(ockSwtok); err != nil {
			return fmt.Errorf("opencryptoki: remove a left-over symlink: %w", err)
		}
		_ = os.RemoveAll(filepath.Dir(target))
	}
	if _, err := os.Lstat(ockSwtok + savedSuffix); err == nil {
		if _, err := os.Lstat(ockSwtok); err == nil {
			return fmt.Errorf("opencryptoki: both %s and %s exist: put back the host's token by hand", ockSwtok, ockSwtok+savedSuffix)
		}
		if err := os.Rename(ockSwtok+savedSuffix, ockSwtok); err != nil {
			return fmt.Errorf("opencryptoki: put back %s: %w", ockSwtok, err)
		}
	}
	saved, _ := filepath.Glob(filepath.Join(ockShmDir, ockShmName+"*"+savedSuffix))
	for _, p := range saved {
		_ = os.Rename(p, strings.TrimSuffix(p, savedSuffix))
	}
	return nil
}

// shutdownOpenCryptoki stops pkcsslotd, removes what the token made and
// puts back the host's state, then releases the lock.
func shutdownOpenCryptoki() {
	if ockHost.lock == nil {
		return
	}
	stopChildren(NameOpenCryptoki)
	if ockHost.before != nil {
		after := ockEntries()
		var made []string
		for p := range after {
			if !ockHost.before[p] {
				made = append(made, p)
			}
		}
		// Deepest first.
		slices.SortFunc(made, func(a, b string) int { return len(b) - len(a) })
		for _, p := range made {
			_ = os.RemoveAll(p)
		}
	}
	if ockHost.created {
		_ = os.Remove(ockSwtok)
	}
	if ockHost.saved {
		_ = os.Rename(ockSwtok+savedSuffix, ockSwtok)
	}
	for _, p := range ockHost.shm {
		_ = os.Remove(p)
		_ = os.Rename(p+savedSuffix, p)
	}
	if ockHost.dir != "" {
		_ = os.RemoveAll(ockHost.dir)
	}
	for i := len(ockHost.made) - 1; i >= 0; i-- {
		_ = os.RemoveAll(ockHost.made[i])
	}
	_ = syscall.Flock(int(ockHost.lock.Fd()), syscall.LOCK_UN)
	ockHost.lock.Close()
	ockHost.lock = nil
	ockHost.created, ockHost.saved, ockHost.shm, ockHost.before, ockHost.dir, ockHost.made = false, false, nil, nil, "", nil
}

// processNamed returns the pid of a running process whose command name is
// name, or 0.
func processNamed(name string) int {
	ds, _ := os.ReadDir("/proc")
	for _, d := range ds {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", d.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != name {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat")); err == nil {
			// A zombie is not running.
			if _, rest, ok := strings.Cut(string(st), ") "); ok && strings.HasPrefix(rest, "Z") {
				continue
			}
		}
		return pid
	}
	return 0
}
