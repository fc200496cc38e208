/*
 * jws: signs a JWT with an ES256 key made by the host (in the token when
 * there is one), or with the managed key named by -key NAME or
 * $WASIHSM_JWS_KEY; prints the compact JWS and the public key as PEM.
 *
 *     clang --target=wasm32-wasi -O2 -I guest/c -o jws.wasm guest/c/examples/jws.c
 *     wasihsm run jws.wasm [-key NAME] [PAYLOAD]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasi_ephemeral_crypto.h"

static const char header[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
static const char default_claims[] = "{\"iss\":\"wasihsm\",\"sub\":\"jws-example\",\"aud\":\"demo\"}";

static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char std64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 writes data in base64 (alphabet, with padding or not) to out,
   NUL-terminated, and returns the length. out holds 4*(len+2)/3+1 bytes. */
static size_t base64(const uint8_t *data, size_t len, const char *alphabet, int pad, char *out) {
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		size_t n = len - i < 3 ? len - i : 3;
		uint32_t v = (uint32_t)data[i] << 16;
		if (n > 1) v |= (uint32_t)data[i + 1] << 8;
		if (n > 2) v |= data[i + 2];
		for (size_t j = 0; j < 4; j++) {
			if (j <= n) out[o++] = alphabet[(v >> (18 - 6 * j)) & 63];
			else if (pad) out[o++] = '=';
		}
	}
	out[o] = 0;
	return o;
}

static int fail(const char *what, wasi_crypto_errno_t e) {
	const char *name = wasi_crypto_errno_name(e);
	fprintf(stderr, "jws: %s: %s\n", what, name ? name : "unknown errno");
	return 1;
}

int main(int argc, char **argv) {
	const char *key_name = getenv("WASIHSM_JWS_KEY");
	int i = 1;
	if (argc - i >= 2 && strcmp(argv[i], "-key") == 0) {
		key_name = argv[i + 1];
		i += 2;
	}
	if (argc - i > 1) {
		fprintf(stderr, "usage: jws [-key NAME] [PAYLOAD]\n");
		return 2;
	}
	const char *payload = argc - i == 1 ? argv[i] : default_claims;
	if (payload[strspn(payload, " \t\n")] != '{') {
		fprintf(stderr, "jws: the payload must be a JSON object (a JWT claim set)\n");
		return 1;
	}

	wasi_crypto_handle_t key;
	wasi_crypto_errno_t e;
	if (key_name != NULL && *key_name != 0) {
		if ((e = wasi_crypto_managed_key(key_name, &key)) != 0) return fail("open the managed key", e);
	} else if ((e = wasi_crypto_generate_key(WASI_CRYPTO_ALG_ES256, NULL, 0, &key)) != 0) {
		return fail("generate an ES256 key", e);
	}

	size_t plen = strlen(payload);
	char *input = malloc(4 * (sizeof header + plen + 2) / 3 + 8);
	if (input == NULL) return 1;
	size_t n = base64((const uint8_t *)header, sizeof header - 1, url, 0, input);
	input[n++] = '.';
	n += base64((const uint8_t *)payload, plen, url, 0, input + n);

	/* ES256 signatures from the host are r‖s, 64 bytes: the JWS form. */
	uint8_t sig[WASI_CRYPTO_SIZE_ES256];
	if ((e = wasi_crypto_sign(WASI_CRYPTO_ALG_ES256, key, input, n, sig, sizeof sig)) != 0) return fail("sign", e);
	uint8_t spki[512];
	size_t spki_len;
	if ((e = private_key_export_public(key, spki, sizeof spki, &spki_len)) != 0) return fail("export the public key", e);
	private_key_close(key);

	char sig64[96], pem[700];
	base64(sig, sizeof sig, url, 0, sig64);
	printf("%s.%s\n-----BEGIN PUBLIC KEY-----\n", input, sig64);
	size_t pn = base64(spki, spki_len, std64, 1, pem);
	for (size_t off = 0; off < pn; off += 64) printf("%.64s\n", pem + off);
	printf("-----END PUBLIC KEY-----\n");
	free(input);
	return 0;
}
