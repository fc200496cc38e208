/*
 * sha256sum: prints the SHA-256 of stdin, computed by the host, streaming
 * (the input is never held whole): "HEX  -", as sha256sum(1) prints it.
 * An argument names another hash (SHA-384, SHA3-256, …).
 *
 *     clang --target=wasm32-wasi -O2 -I guest/c -o sha256sum.wasm guest/c/examples/sha256sum.c
 *     wasihsm run sha256sum.wasm < FILE
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wasi_ephemeral_crypto.h"

static uint8_t chunk[64 << 10];

static int fail(const char *what, wasi_crypto_errno_t e) {
	const char *name = wasi_crypto_errno_name(e);
	fprintf(stderr, "sha256sum: %s: %s\n", what, name ? name : "unknown errno");
	return 1;
}

int main(int argc, char **argv) {
	const char *alg = argc > 1 ? argv[1] : WASI_CRYPTO_ALG_SHA_256;
	wasi_crypto_handle_t h;
	wasi_crypto_errno_t e = hash_open(alg, strlen(alg), &h);
	if (e != 0) return fail(alg, e);
	for (;;) {
		ssize_t n = read(0, chunk, sizeof chunk);
		if (n < 0) {
			perror("sha256sum: read");
			return 1;
		}
		if (n == 0) break;
		if ((e = hash_update(h, chunk, (size_t)n)) != 0) return fail("hash_update", e);
	}
	uint8_t digest[WASI_CRYPTO_SIZE_SHA_512];
	size_t len = WASI_CRYPTO_SIZE_SHA_256;
	if (strcmp(alg, WASI_CRYPTO_ALG_SHA_384) == 0 || strcmp(alg, WASI_CRYPTO_ALG_SHA3_384) == 0) len = 48;
	if (strcmp(alg, WASI_CRYPTO_ALG_SHA_512) == 0 || strcmp(alg, WASI_CRYPTO_ALG_SHA3_512) == 0) len = 64;
	if ((e = hash_digest(h, digest, len)) != 0) return fail("hash_digest", e);
	hash_close(h);
	for (size_t i = 0; i < len; i++) printf("%02x", digest[i]);
	printf("  -\n");
	return 0;
}
