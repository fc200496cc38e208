package tokentest

import (
	"fmt"
	"os"
	"path/filepath"
)

// NSSLabel is the label of NSS softokn's database token.
const NSSLabel = "NSS Certificate DB"

// nssModules are where distributions put libsoftokn3.so.
var nssModules = []string{
	"/usr/lib/x86_64-linux-gnu/libsoftokn3.so",
	"/usr/lib/aarch64-linux-gnu/libsoftokn3.so",
	"/usr/lib64/libsoftokn3.so",
	"/usr/lib/libsoftokn3.so",
}

// NSSInitArgs is the parameter string NSS softokn needs as
// CK_C_INITIALIZE_ARGS.pReserved to open the database in dir (C_Initialize
// without it answers CKR_ARGUMENTS_BAD).
func NSSInitArgs(dir string) string {
	return fmt.Sprintf("configdir='sql:%s' certPrefix='' keyPrefix='' secmod='secmod.db' flags=", dir)
}

// setupNSS makes an NSS database with an empty password in a temporary
// directory: its token needs no login, so PIN is empty.
func setupNSS() (*Token, string, error) {
	module := firstExisting(nssModules)
	if module == "" {
		return nil, "libsoftokn3.so not found (install libnss3)", nil
	}
	if why := missing([][2]string{{"certutil", "libnss3-tools"}}); why != "" {
		return nil, why, nil
	}
	dir, err := os.MkdirTemp("", "tokentest-nss-")
	if err != nil {
		return nil, "", err
	}
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o700); err != nil {
		return nil, "", err
	}
	if _, err := run(nil, nil, "", "certutil", "-N", "-d", "sql:"+db, "--empty-password"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", fmt.Errorf("nss: make the database: %w", err)
	}
	return &Token{
		Name:     NameNSS,
		Module:   module,
		Label:    NSSLabel,
		InitArgs: NSSInitArgs(db),
		Version:  packageVersion("NSS softokn", "libnss3"),
		Dir:      dir,
	}, "", nil
}

func firstExisting(paths []string) string {
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}
