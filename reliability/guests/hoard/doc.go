// Command hoard is the hostile guest of the instance-budget tests: it asks
// the host to hold as much memory on its behalf as the host will, and
// stops between steps until a line arrives on stdin, so that the test can
// look at the host meanwhile.
//
//	hoard states N SIZE  makes one buffer of SIZE bytes and passes it to
//	                     generate_key_set_input of N HS256 states; prints
//	                     "states OK NOMEM OTHER" (how many answered
//	                     success, nomem, anything else) and "wait"; then
//	                     consumes every state (generate_key, private_key_close),
//	                     prints "released" and "wait"; then passes the
//	                     buffer to one more state and prints "again ERRNO"
//	hoard encrypt SIZE K generates an A256GCM key and an encrypting state,
//	                     prints "wait"; then calls cipher_encrypt of SIZE
//	                     bytes K times, prints "encrypt ERRNO" (the first
//	                     call's answer) and "wait"
//	hoard sign SIZE      generates an HS256 key and a signing state that
//	                     holds a message of SIZE bytes, prints "wait";
//	                     then signs, prints "sign ERRNO", closes the
//	                     state and the key and prints "wait"
//	hoard open SIZE      calls private_key_open with a name of SIZE bytes
//	                     and prints "open ERRNO"
//
// After each "wait" it reads one line from stdin. Any failure of its own
// prints "FAIL ..." on stderr and exits 1.
package main
