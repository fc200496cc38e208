package suite

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"sync"

	"github.com/wasihsm/wasihsm/conformance/suite/internal/guestbuild"
)

//go:generate go run ./internal/genguest

// contractGZ is conformance/guests/contract built for wasip1 by
// internal/genguest; contractStamp records the Go version that built it,
// and the SHA-256 of the wasm and of its sources. TestEmbeddedGuestIsFresh fails when the
// sources have changed since.
var (
	//go:embed contract.wasm.gz
	contractGZ []byte
	//go:embed contract.wasm.stamp
	contractStamp string
)

var guestOnce = sync.OnceValues(func() ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(contractGZ))
	if err != nil {
		return nil, fmt.Errorf("suite: embedded guest: %w", err)
	}
	wasm, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("suite: embedded guest: %w", err)
	}
	st, err := guestbuild.ParseStamp(contractStamp)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(wasm); hex.EncodeToString(sum[:]) != st.WasmSHA {
		return nil, fmt.Errorf("suite: embedded guest: SHA-256 does not match contract.wasm.stamp")
	}
	return wasm, nil
})

// Guest returns the embedded contract guest (wasm bytes). The bytes are
// shared: do not modify them.
func Guest() ([]byte, error) { return guestOnce() }

// GuestStamp is what contract.wasm.stamp records of the embedded guest:
// the Go version that built it and the hashes of its bytes and sources.
func GuestStamp() (guestbuild.StampInfo, error) { return guestbuild.ParseStamp(contractStamp) }
