package tokentest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// TPM2Label is the label of the token that [TPM2] makes.
const TPM2Label = "wasihsm-tpm2"

// tpm2Modules are where distributions put libtpm2_pkcs11.so.
var tpm2Modules = []string{
	"/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so",
	"/usr/lib/aarch64-linux-gnu/pkcs11/libtpm2_pkcs11.so",
	"/usr/lib64/pkcs11/libtpm2_pkcs11.so",
	"/usr/lib/pkcs11/libtpm2_pkcs11.so",
}

// tpm2Tools are the programs the TPM2 fixture runs, with their packages.
var tpm2Tools = [][2]string{
	{"swtpm", "swtpm"},
	{"dbus-daemon", "dbus"},
	{"tpm2-abrmd", "tpm2-abrmd"},
	{"tpm2_getrandom", "tpm2-tools"},
	{"tpm2_ptool", "libtpm2-pkcs11-tools"},
}

// busConfig is a session bus of the fixture's own on a socket in its
// directory, open to the user who runs it.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// setupTPM2 starts a software TPM (swtpm) on free ports of 127.0.0.1, a
// private session bus and tpm2-abrmd in front of the TPM on it (without a
// resource manager the TPM runs out of object and session memory after a
// few processes), makes a tpm2-pkcs11 store and a token in it, and sets
// the variables that tpm2-pkcs11 reads in the process environment.
func setupTPM2() (tok *Token, skip string, err error) {
	module := firstExisting(tpm2Modules)
	if module == "" {
		return nil, "libtpm2_pkcs11.so not found (install libtpm2-pkcs11-1)", nil
	}
	if why := missing(tpm2Tools); why != "" {
		return nil, why, nil
	}
	for _, tcti := range []struct{ name, pkg string }{{"tabrmd", "libtss2-tcti-tabrmd0"}, {"swtpm", "libtss2-tcti-swtpm0"}} {
		if firstExisting(tctiPaths(tcti.name)) == "" {
			return nil, fmt.Sprintf("libtss2-tcti-%s.so.0 not found (install %s)", tcti.name, tcti.pkg), nil
		}
	}
	dir, err := os.MkdirTemp("", "tokentest-tpm2-")
	if err != nil {
		return nil, "", err
	}
	defer func() {
		if err != nil {
			stopChildren(NameTPM2)
			_ = os.RemoveAll(dir)
		}
	}()
	state, store := filepath.Join(dir, "tpmstate"), filepath.Join(dir, "store")
	for _, d := range []string{state, store} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, "", err
		}
	}

	port, err := freePortPair()
	if err != nil {
		return nil, "", err
	}
	swtpm, err := startChild(NameTPM2, filepath.Join(dir, "swtpm.log"), nil, "swtpm", "socket", "--tpm2",
		"--tpmstate", "dir="+state,
		"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
		"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port+1),
		"--flags", "not-need-init,startup-clear")
	if err != nil {
		return nil, "", err
	}
	if err := waitFor(swtpm, 10*time.Second, "swtpm", func() error {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port+1))
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		return nil, "", err
	}

	busSocket := filepath.Join(dir, "bus")
	busConf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(busConf, []byte(fmt.Sprintf(busConfig, busSocket)), 0o600); err != nil {
		return nil, "", err
	}
	bus, err := startChild(NameTPM2, filepath.Join(dir, "dbus.log"), nil, "dbus-daemon", "--config-file="+busConf, "--nofork", "--nopidfile")
	if err != nil {
		return nil, "", err
	}
	if err := waitFor(bus, 10*time.Second, "dbus-daemon", func() error {
		_, err := os.Stat(busSocket)
		return err
	}); err != nil {
		return nil, "", err
	}

	tcti := "tabrmd:bus_type=session"
	env := []string{
		"DBUS_SESSION_BUS_ADDRESS=unix:path=" + busSocket,
		"TPM2_PKCS11_TCTI=" + tcti,
		"TPM2TOOLS_TCTI=" + tcti,
		"TPM2_PKCS11_STORE=" + store,
	}
	abrmd, err := startChild(NameTPM2, filepath.Join(dir, "tpm2-abrmd.log"), env[:1], "tpm2-abrmd",
		"--session", "--allow-root", "--flush-all", fmt.Sprintf("--tcti=swtpm:host=127.0.0.1,port=%d", port))
	if err != nil {
		return nil, "", err
	}
	if err := waitFor(abrmd, 20*time.Second, "tpm2-abrmd", func() error {
		_, err := run(env, nil, "", "tpm2_getrandom", "4", "--hex")
		return err
	}); err != nil {
		return nil, "", err
	}

	tok = &Token{
		Name:    NameTPM2,
		Module:  module,
		Label:   TPM2Label,
		PIN:     randomHex(4),
		SOPIN:   randomHex(4),
		Env:     env,
		Version: packageVersion("tpm2-pkcs11", "libtpm2-pkcs11-1"),
		Dir:     dir,
	}
	secrets := []string{tok.PIN, tok.SOPIN}
	out, err := run(env, secrets, "", "tpm2_ptool", "init", "--path", store)
	if err != nil {
		return nil, "", fmt.Errorf("tpm2: make the store: %w", err)
	}
	pid := regexp.MustCompile(`(?m)^id:\s*(\d+)`).FindStringSubmatch(out)
	if pid == nil {
		return nil, "", fmt.Errorf("tpm2: no primary object id in tpm2_ptool init's output: %s", out)
	}
	if _, err := run(env, secrets, "", "tpm2_ptool", "addtoken", "--pid="+pid[1], "--label", tok.Label,
		"--sopin", tok.SOPIN, "--userpin", tok.PIN, "--path", store); err != nil {
		return nil, "", fmt.Errorf("tpm2: add the token: %w", err)
	}
	if tok.Serial, err = serialFromPKCS11Tool(env, module, tok.Label); err != nil {
		return nil, "", fmt.Errorf("tpm2: %w", err)
	}
	// Before anything in this process initialises the module: it reads
	// them at C_Initialize.
	if restoreTPM2Env, err = setenv(env); err != nil {
		return nil, "", err
	}
	return tok, "", nil
}

// tctiPaths are where distributions put the TCTI library named name.
func tctiPaths(name string) []string {
	var ps []string
	for _, dir := range []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"} {
		ps = append(ps, filepath.Join(dir, "libtss2-tcti-"+name+".so.0"))
	}
	return ps
}

// serialFromPKCS11Tool reads the serial number of the token labelled label
// from `pkcs11-tool --list-token-slots`, run with env; it answers "" when
// OpenSC's pkcs11-tool is not installed.
func serialFromPKCS11Tool(env []string, module, label string) (string, error) {
	if missing([][2]string{{"pkcs11-tool", "opensc"}}) != "" {
		return "", nil
	}
	out, err := run(env, nil, "", "pkcs11-tool", "--module", module, "--list-token-slots")
	if err != nil {
		return "", err
	}
	var cur string
	found := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case strings.HasPrefix(k, "Slot "):
			found = false
		case k == "token label":
			found = v == label
		case k == "serial num" && found:
			cur = v
			return cur, nil
		}
	}
	return "", fmt.Errorf("no serial number for the token %q in pkcs11-tool's slot list:\n%s", label, out)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
