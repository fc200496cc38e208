package softhsmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

// TestSeparate checks that a separate token shares nothing with the
// process's: not the configuration, the PINs or the objects, and that
// programs loading it always find it while other programs log in to the
// process's token again and again (loading the token they log in to, 1 load
// in 25 missed it on a 2-core machine).
func TestSeparate(t *testing.T) {
	fx := Token(t)
	dir := filepath.Join(t.TempDir(), "separate")
	sep, err := fx.Separate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv("SOFTHSM2_CONF"); got != fx.ConfPath {
		t.Errorf("SOFTHSM2_CONF = %q after Separate, want the process's %q", got, fx.ConfPath)
	}
	if sep.Dir != dir || sep.ConfPath != filepath.Join(dir, "softhsm2.conf") {
		t.Errorf("separate token in %q with configuration %q, want %q", sep.Dir, sep.ConfPath, dir)
	}
	if sep.Serial == fx.Serial || sep.PIN == fx.PIN || sep.SOPIN == fx.SOPIN {
		t.Errorf("separate token shares the serial or a PIN with the process's token")
	}
	if sep.Label != fx.Label || sep.Module != fx.Module {
		t.Errorf("separate token %q of %s, want %q of %s", sep.Label, sep.Module, fx.Label, fx.Module)
	}
	if _, err := fx.Separate(dir); err == nil {
		t.Error("a second Separate in the same directory succeeded")
	}

	sep.PKCS11Tool(t, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "softhsmtest-separate-only", "--id", "5e01")
	if out := sep.PKCS11Tool(t, "--list-objects"); !strings.Contains(out, "softhsmtest-separate-only") {
		t.Errorf("the key made on the separate token is not there:\n%s", out)
	}
	if out := fx.PKCS11Tool(t, "--list-objects"); strings.Contains(out, "softhsmtest-separate-only") {
		t.Errorf("the key made on the separate token is on the process's token:\n%s", out)
	}

	// Logins on the process's token (each rewrites its token.object) while
	// programs load the separate one.
	tool, err := exec.LookPath("pkcs11-tool")
	if err != nil {
		unavailable(t, "pkcs11-tool not found (install opensc)")
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		unavailable(t, "softhsm2-util not found (install softhsm2)")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = run(fx, tool, "--module", fx.Module, "--token-label", fx.Label, "--login", "--pin", fx.PIN, "--list-objects")
		}
	}()
	defer wg.Wait()
	defer close(stop)
	const loads = 50
	for i := range loads {
		out, err := run(sep, util, "--show-slots")
		if err != nil {
			t.Fatalf("load %d of the separate token: %v", i, err)
		}
		if serialOf(out, sep.Label) != sep.Serial {
			t.Fatalf("load %d of the separate token: token %s not listed:\n%s", i, sep.Serial, out)
		}
	}
}
