//go:build wasip1

// Command probe is the guest of the wasihsm CLI tests: each subcommand
// shows one thing the host gives a guest.
//
//	probe exit N          exit with code N
//	probe args            print argv, one per line
//	probe env             print the environment, sorted, one per line
//	probe hash ALG TEXT   print the hex digest of TEXT, hashed by the host
//	probe open N          open up to N hash states; print how many opened
//	probe cat FILE        print FILE
//	probe write FILE TEXT write TEXT into FILE
//	probe stdin           copy stdin to stdout
//	probe sleep           sleep forever
//	probe spin            loop forever without a call
//	probe alloc N         allocate and touch N bytes (N ≥ 1)
//	probe clock           print whether the wall clock and random source work
//	probe key NAME        open the managed key NAME and print "opened NAME"
//	probe seal ALG KEY NONCE TEXT
//	                      import the AEAD key KEY (hex), print the hex of
//	                      TEXT (hex) sealed with NONCE (hex), open it
//	                      again and print "opened ok"
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: probe COMMAND [ARGS...]")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "exit":
		n, err := strconv.Atoi(arg(args, 0))
		if err != nil {
			fail(err.Error())
		}
		os.Exit(n)
	case "args":
		for i, a := range os.Args {
			fmt.Printf("argv[%d]=%s\n", i, a)
		}
	case "env":
		env := os.Environ()
		slices.Sort(env)
		for _, e := range env {
			fmt.Println(e)
		}
	case "hash":
		sum, err := wasicrypto.Hash(arg(args, 0), []byte(arg(args, 1)))
		if err != nil {
			fail(err.Error())
		}
		fmt.Println(hex.EncodeToString(sum))
	case "open":
		n, err := strconv.Atoi(arg(args, 0))
		if err != nil {
			fail(err.Error())
		}
		opened := 0
		for ; opened < n; opened++ {
			if _, err = wasicrypto.NewHasher("SHA-256"); err != nil {
				break
			}
		}
		fmt.Printf("opened %d\n", opened)
		if err != nil {
			fmt.Printf("then: %v\n", err)
		}
	case "cat":
		b, err := os.ReadFile(arg(args, 0))
		if err != nil {
			fail(err.Error())
		}
		os.Stdout.Write(b)
	case "write":
		if err := os.WriteFile(arg(args, 0), []byte(arg(args, 1)), 0o644); err != nil {
			fail(err.Error())
		}
	case "stdin":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fail(err.Error())
		}
	case "sleep":
		for {
			time.Sleep(time.Hour)
		}
	case "spin":
		spin()
	case "alloc":
		n, err := strconv.Atoi(arg(args, 0))
		if err != nil {
			fail(err.Error())
		}
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = byte(i)
		}
		fmt.Println("allocated", len(buf), buf[n-1])
	case "clock":
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			fail(err.Error())
		}
		start := time.Now()
		time.Sleep(10 * time.Millisecond)
		fmt.Println("year ok:", start.Year() >= 2024)
		fmt.Println("monotonic ok:", time.Since(start) >= 10*time.Millisecond)
		fmt.Println("random ok:", !slices.Equal(b, make([]byte, 16)))
	case "key":
		k, err := wasicrypto.OpenManagedKey(arg(args, 0))
		if err != nil {
			fail(err.Error())
		}
		if err := k.Close(); err != nil {
			fail(err.Error())
		}
		fmt.Println("opened", arg(args, 0))
	case "seal":
		key, nonce, text := unhex(arg(args, 1)), unhex(arg(args, 2)), unhex(arg(args, 3))
		k, err := wasicrypto.ImportKey(arg(args, 0), key)
		if err != nil {
			fail(err.Error())
		}
		aead, err := wasicrypto.NewAEAD(k)
		if err != nil {
			fail(err.Error())
		}
		ct, tag, err := aead.Encrypt(nonce, text, nil)
		if err != nil {
			fail(err.Error())
		}
		fmt.Println(hex.EncodeToString(append(ct, tag...)))
		opened, err := aead.Open(nil, nonce, append(ct, tag...), nil)
		if err != nil {
			fail(err.Error())
		}
		if !slices.Equal(opened, text) {
			fail("the opened text differs")
		}
		fmt.Println("opened ok")
	default:
		fail("unknown command " + os.Args[1])
	}
}

var counter int

// spin never returns and calls nothing: only the runtime's loop check can
// stop it.
func spin() {
	for {
		counter++
	}
}

func arg(args []string, i int) string {
	if i >= len(args) {
		fail(fmt.Sprintf("%s: missing argument %d", os.Args[1], i+1))
	}
	return args[i]
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		fail(err.Error())
	}
	return b
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "probe:", msg)
	os.Exit(100)
}
