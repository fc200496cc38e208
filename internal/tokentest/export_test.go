package tokentest

import "sync"

// ReleaseOpenCryptoki puts back the host state that the process's
// openCryptoki fixture took (if it took any) and lets [OpenCryptoki] set
// the token up again, so that a test can watch a set-up of its own from
// start to end.
func ReleaseOpenCryptoki() {
	shutdownOpenCryptoki()
	ockFixture.once = sync.Once{}
	ockFixture.tok, ockFixture.skip, ockFixture.err = nil, "", nil
}
