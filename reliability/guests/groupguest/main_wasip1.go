//go:build wasip1

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
)

func main() {
	if len(os.Args) != 3 {
		fail(errors.New("usage: groupguest ID SECONDS"))
	}
	secs, err := strconv.ParseFloat(os.Args[2], 64)
	if err != nil {
		fail(err)
	}
	sig, err := wasicrypto.OpenManagedKey("sig")
	if err != nil {
		fail(err)
	}
	mac, err := wasicrypto.OpenManagedKey("mac")
	if err != nil {
		fail(err)
	}
	end := time.Now().Add(time.Duration(secs * float64(time.Second)))
	rounds := 0
	for ; time.Now().Before(end); rounds++ {
		msg := []byte(fmt.Sprintf("groupguest %s round %d", os.Args[1], rounds))
		call(rounds, "sig", "ES256", sig, msg)
		call(rounds, "mac", "HS256", mac, msg)
	}
	fmt.Println("done", rounds)
}

// call signs msg with key and prints the result, or the errno.
func call(round int, op, alg string, key *wasicrypto.Key, msg []byte) {
	start := time.Now()
	out, err := wasicrypto.Sign(alg, key, msg)
	took := time.Since(start).Nanoseconds()
	if err != nil {
		errno := -1
		if e := (*wasicrypto.CallError)(nil); errors.As(err, &e) {
			errno = int(e.Errno)
		}
		fmt.Printf("err %d %s %d %d\n", round, op, errno, took)
		return
	}
	fmt.Printf("%s %d %x %d\n", op, round, out, took)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "groupguest:", err)
	os.Exit(1)
}
