//go:build wasip1

package main

import (
	"encoding/hex"
	"fmt"
	"os"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
)

func main() {
	digest, err := wasicrypto.Hash("SHA-256", []byte("wasihsm"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "startup:", err)
		os.Exit(1)
	}
	fmt.Println(hex.EncodeToString(digest))
}
