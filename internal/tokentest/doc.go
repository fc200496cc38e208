// Package tokentest gives tests the PKCS#11 implementations other than
// SoftHSM2 that Debian 12 ships, each set up headless under a temporary
// directory: openCryptoki's soft token ([OpenCryptoki]), tpm2-pkcs11 on a
// software TPM behind tpm2-abrmd ([TPM2]) and NSS softokn ([NSS]). (SoftHSM2
// is internal/softhsmtest's.) [All] returns the three by name.
//
// # Use
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		tokentest.Shutdown()
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		tok := tokentest.NSS(t) // tok.Module, tok.Label, tok.PIN, tok.InitArgs …
//	}
//
// # One token of each kind per process
//
// A PKCS#11 module is initialised once per process and reads its
// environment then, so the first call of a fixture's function in a test
// binary sets the token up (and sets in the process environment what the
// module reads, listed in [Token.Env]); every later call returns the same
// token. Call it before anything in the process loads the module.
//
// # Global state
//
// openCryptoki keeps state at paths compiled into it: one pkcsslotd per
// host, the soft token's files in /var/lib/opencryptoki/swtok, POSIX shared
// memory in /dev/shm. [OpenCryptoki] takes an exclusive flock on [OCKLock]
// (waiting for it up to [LockWait]) and holds it until [Shutdown]; it moves
// the host's swtok and shared memory aside, puts a symlink to a temporary
// directory in their place, and [Shutdown] puts everything back and removes
// the files the token's libraries made. A process that dies in between
// leaves the symlink and the saved directory behind; the next fixture
// restores them before it starts. Anyone touching openCryptoki by hand must
// hold the same lock.
//
// The other two fixtures touch only their own temporary directory and the
// processes they start (swtpm, dbus-daemon and tpm2-abrmd for TPM2), which
// are stopped by [Shutdown] and, on Linux, by the kernel when the test
// binary exits.
//
// # Missing tools
//
// When a token's packages are missing the test is skipped with the
// reason, unless the environment has CI=true: then it fails, so that CI
// never passes by skipping. A set-up that fails is a failure either way.
package tokentest
