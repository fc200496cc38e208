//go:build wasip1

package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
)

func main() {
	args := os.Args[1:]
	var err error
	switch {
	case len(args) == 2 && args[0] == "sign":
		err = sign(args[1])
	case len(args) == 3 && args[0] == "sign-managed":
		err = signManaged(args[1], args[2])
	case len(args) == 2 && args[0] == "seal":
		err = seal(args[1])
	case len(args) == 2 && args[0] == "open":
		err = open(args[1])
	default:
		fmt.Fprintln(os.Stderr, "usage: interop sign ALG | sign-managed NAME ALG | seal ALG | open ALG")
		os.Exit(2)
	}
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "interop:", err)
	if e := (*wasicrypto.CallError)(nil); errors.As(err, &e) {
		fmt.Println("errno", e.Errno)
		os.Exit(1)
	}
	os.Exit(2)
}

// sign generates a key of alg on the host, signs stdin with it, and prints
// the signature and the public key.
func sign(alg string) error {
	msg, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	key, err := wasicrypto.GenerateKey(alg)
	if err != nil {
		return err
	}
	defer key.Close()
	sig, err := wasicrypto.Sign(alg, key, msg)
	if err != nil {
		return err
	}
	spki, err := key.PublicKey()
	if err != nil {
		return err
	}
	fmt.Printf("sig %x\nspki %x\n", sig, spki)
	return nil
}

// signManaged signs stdin with the managed key name, of algorithm alg, and
// prints the signature and, when the host gives it, the public key.
func signManaged(name, alg string) error {
	msg, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	key, err := wasicrypto.OpenManagedKey(name)
	if err != nil {
		return err
	}
	defer key.Close()
	sig, err := wasicrypto.Sign(alg, key, msg)
	if err != nil {
		return err
	}
	fmt.Printf("sig %x\n", sig)
	spki, err := key.PublicKey()
	if e := (*wasicrypto.CallError)(nil); errors.As(err, &e) {
		fmt.Println("spki-errno", e.Errno)
		return nil
	} else if err != nil {
		return err
	}
	fmt.Printf("spki %x\n", spki)
	return nil
}

// seal imports the raw key, encrypts pt under nonce and aad, and prints the
// ciphertext and the tag.
func seal(alg string) error {
	in, err := readFields("key", "nonce", "aad", "pt")
	if err != nil {
		return err
	}
	aead, err := importAEAD(alg, in["key"])
	if err != nil {
		return err
	}
	defer aead.Close()
	ct, tag, err := aead.Encrypt(in["nonce"], in["pt"], in["aad"])
	if err != nil {
		return err
	}
	fmt.Printf("ct %x\ntag %x\n", ct, tag)
	return nil
}

// open imports the raw key, checks the tag and decrypts ct, and prints the
// plaintext.
func open(alg string) error {
	in, err := readFields("key", "nonce", "aad", "ct", "tag")
	if err != nil {
		return err
	}
	aead, err := importAEAD(alg, in["key"])
	if err != nil {
		return err
	}
	defer aead.Close()
	pt, err := aead.Decrypt(in["nonce"], in["ct"], in["tag"], in["aad"])
	if err != nil {
		return err
	}
	fmt.Printf("pt %x\n", pt)
	return nil
}

func importAEAD(alg string, raw []byte) (*wasicrypto.AEAD, error) {
	key, err := wasicrypto.ImportKey(alg, raw)
	if err != nil {
		return nil, err
	}
	// The cipher state keeps the key alive (docs/semantics.md#handles).
	defer key.Close()
	return wasicrypto.NewAEAD(key)
}

// readFields reads "NAME HEX" lines from stdin (HEX may be empty) and
// checks that exactly the names want are there.
func readFields(want ...string) (map[string][]byte, error) {
	out := map[string][]byte{}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		b, err := hex.DecodeString(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%s given twice", name)
		}
		out[name] = b
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, name := range want {
		if _, ok := out[name]; !ok {
			return nil, fmt.Errorf("no %q line on stdin", name)
		}
	}
	if len(out) != len(want) {
		return nil, fmt.Errorf("want exactly the lines %s", strings.Join(want, ", "))
	}
	return out, nil
}
