/*
 * chash: the C guest of the benchmark suite (package bench), the C twin of
 * bench/guests/loop's "hash" command: it reads one command per line from
 * stdin and answers one line, so that a benchmark measures the calls and
 * not the start of the guest.
 *
 *   hash ALG SIZE N   the host hashes SIZE bytes of the pattern i%251, N
 *                     times, through the SDK header's wasi_crypto_hash (as
 *                     the Go guest calls wasicrypto.Hash); answers "ok DIGEST"
 *
 * Anything else answers "err MESSAGE".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wasi_ephemeral_crypto.h"

static char line[256];
static char answer[256];

/* reply writes answer with one write(2): stdio may hand the host a
   zero-length piece, which a pipe's writer waits on until the benchmark
   reads again, while the benchmark waits on the guest. */
static void reply(size_t n) {
	answer[n++] = '\n';
	for (size_t off = 0; off < n;) {
		ssize_t w = write(1, answer + off, n - off);
		if (w <= 0) exit(1);
		off += (size_t)w;
	}
}
static uint8_t *data;
static size_t data_size;

/* next_line reads one line of stdin into line with read(2): stdio's
   buffered reads of a pipe ask for more than a command and would wait for
   it. It returns 0 at the end of the input. */
static int next_line(void) {
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(0, &c, 1);
		if (r <= 0) return n > 0;
		if (c == '\n' || n == sizeof line - 1) {
			line[n] = 0;
			return 1;
		}
		line[n++] = c;
	}
}

int main(void) {
	while (next_line()) {
		char alg[32];
		long size, n;
		char extra;
		if (sscanf(line, "hash %31s %ld %ld %c", alg, &size, &n, &extra) != 3 || size < 0 || n < 1) {
			reply((size_t)snprintf(answer, sizeof answer - 1, "err usage: hash ALG SIZE N"));
			continue;
		}
		if ((size_t)size != data_size) {
			free(data);
			data = malloc((size_t)size + 1);
			if (data == NULL) return 1;
			for (long i = 0; i < size; i++) data[i] = (uint8_t)(i % 251);
			data_size = (size_t)size;
		}
		uint8_t digest[WASI_CRYPTO_SIZE_SHA_512];
		size_t len = strcmp(alg, WASI_CRYPTO_ALG_SHA_512) == 0 ? WASI_CRYPTO_SIZE_SHA_512 : WASI_CRYPTO_SIZE_SHA_256;
		wasi_crypto_errno_t e = 0;
		for (long i = 0; i < n && e == 0; i++) e = wasi_crypto_hash(alg, data, data_size, digest, len);
		if (e != 0) {
			const char *name = wasi_crypto_errno_name(e);
			reply((size_t)snprintf(answer, sizeof answer - 1, "err %s", name ? name : "unknown errno"));
			continue;
		}
		size_t k = (size_t)snprintf(answer, sizeof answer, "ok ");
		for (size_t i = 0; i < len; i++) k += (size_t)snprintf(answer + k, sizeof answer - k, "%02x", digest[i]);
		reply(k);
	}
	return 0;
}
