// Command startup is the guest of the start-up benchmark (package bench):
// it makes one host call as soon as it runs, prints the SHA-256 of "wasihsm"
// that the host computed, and exits. The time from starting `wasihsm run`
// to that line is the start-up cost of a run.
package main
