/*
 * contract-c: the contract guest in C, built against the SDK header
 * guest/c/wasi_ephemeral_crypto.h alone. It holds no rule of the contract:
 * the host sends the requests and grades the answers, the same data the
 * Go contract guest (conformance/guests/contract) answers.
 *
 *   contract-c -kat     answers the known-answer requests of
 *                       conformance/suite (one per line on stdin; see
 *                       conformance/guests/contract/kat_wasip1.go for the
 *                       protocol) with "ok HEX [HEX…]" or "err ERRNO".
 *   contract-c -script  runs the commands of an ABI scenario of
 *                       conformance/abiscript (one per line on stdin; see
 *                       its package documentation) and answers each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasi_ephemeral_crypto.h"

/* The memory every request passes to the host: a static arena, reset per
   request, so that addresses are stable and predictable. */
static uint8_t arena[16 << 20];
static size_t top;

static uint8_t *alloc(size_t n) {
	top = (top + 7) & ~(size_t)7;
	if (top + n > sizeof arena) {
		fprintf(stderr, "contract-c: arena exhausted\n");
		exit(3);
	}
	uint8_t *p = arena + top;
	top += n;
	return p;
}

static int unhex(int c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* hex decodes s ("-" is empty) into the arena and sets *len. */
static uint8_t *hex(const char *s, size_t *len) {
	if (strcmp(s, "-") == 0) {
		*len = 0;
		return alloc(0);
	}
	size_t n = strlen(s);
	if (n % 2 != 0) {
		fprintf(stderr, "contract-c: odd hex %s\n", s);
		exit(3);
	}
	uint8_t *b = alloc(n / 2);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = unhex(s[2 * i]), lo = unhex(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			fprintf(stderr, "contract-c: bad hex %s\n", s);
			exit(3);
		}
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return b;
}

/* put_hex prints b in hex; empty is "-" when dash is set (the scripts'
   form) and nothing otherwise (the -kat answers' form). */
static void put_hex(const uint8_t *b, size_t n, int dash) {
	static const char digits[] = "0123456789abcdef";
	if (n == 0 && dash) {
		fputc('-', stdout);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		fputc(digits[b[i] >> 4], stdout);
		fputc(digits[b[i] & 15], stdout);
	}
}

/* fields splits line in place at spaces; returns the count. */
static int fields(char *line, char **f, int max) {
	int n = 0;
	for (char *tok = strtok(line, " \t\r\n"); tok != NULL && n < max; tok = strtok(NULL, " \t\r\n")) f[n++] = tok;
	return n;
}

/* ---- -kat ---------------------------------------------------------------- */

/* What the current request opened, closed when it ends whatever its outcome
   (so that a long run stays within the handle limit). */
enum kind { KEY, HASH, SIGN_STATE, CIPHER };
static struct {
	enum kind kind;
	wasi_crypto_handle_t *h; /* the handle's current value */
} opened[16];
static int nopened;
static wasi_crypto_handle_t handles[16];

static wasi_crypto_handle_t *track(enum kind k, wasi_crypto_handle_t h) {
	handles[nopened] = h;
	opened[nopened].kind = k;
	opened[nopened].h = &handles[nopened];
	return &handles[nopened++];
}

static void close_all(void) {
	for (int i = nopened - 1; i >= 0; i--) {
		wasi_crypto_handle_t h = *opened[i].h, done;
		switch (opened[i].kind) {
		case KEY: private_key_close(h); break;
		case HASH: hash_close(h); break;
		case CIPHER: cipher_close(h); break;
		case SIGN_STATE:
			if (sign_end(h, &done) == 0) sign_close(done);
			break;
		}
	}
	nopened = 0;
}

/* A request fails at its first errno: must returns it to the dispatcher. */
#define MUST(call)                             \
	do {                                   \
		wasi_crypto_errno_t e_ = (call); \
		if (e_ != 0) return e_;        \
	} while (0)

static wasi_crypto_errno_t prepare(const char *alg, wasi_crypto_handle_t *st) {
	return generate_key_prepare(alg, strlen(alg), st);
}

static wasi_crypto_errno_t import_key(const char *alg, const char *keyhex, wasi_crypto_handle_t *key) {
	size_t n;
	uint8_t *k = hex(keyhex, &n);
	wasi_crypto_handle_t st;
	MUST(prepare(alg, &st));
	MUST(generate_key_set_input(st, k, n));
	MUST(generate_key(st, key));
	track(KEY, *key);
	return 0;
}

static wasi_crypto_errno_t new_key(const char *alg, wasi_crypto_handle_t *key) {
	wasi_crypto_handle_t st;
	MUST(prepare(alg, &st));
	MUST(generate_key(st, key));
	track(KEY, *key);
	return 0;
}

static wasi_crypto_errno_t export_key(wasi_crypto_handle_t key, uint8_t **spki, size_t *n) {
	*spki = alloc(4096);
	return private_key_export_public(key, *spki, 4096, n);
}

static wasi_crypto_errno_t sign_with(const char *alg, wasi_crypto_handle_t key, const char *msghex, size_t size, uint8_t **sig) {
	size_t mn;
	uint8_t *msg = hex(msghex, &mn);
	wasi_crypto_handle_t st, s;
	MUST(sign_open(alg, strlen(alg), key, &st));
	wasi_crypto_handle_t *tracked = track(SIGN_STATE, st);
	wasi_crypto_errno_t e = sign_begin(st, &s);
	if (e != 0) {
		nopened--; /* not begun: close the opened state instead */
		sign_close(st);
		return e;
	}
	*tracked = s;
	MUST(sign_update(s, msg, mn));
	*sig = alloc(size);
	return sign(s, *sig, size);
}

/* cipher opens a cipher state on key with nonce and aad; *c is tracked. */
static wasi_crypto_errno_t cipher(wasi_crypto_handle_t key, const char *noncehex, const char *aadhex, wasi_crypto_handle_t **c) {
	wasi_crypto_handle_t st;
	MUST(cipher_open(key, &st));
	*c = track(CIPHER, st);
	size_t nn, an;
	uint8_t *nonce = hex(noncehex, &nn), *aad = hex(aadhex, &an);
	MUST(cipher_set_nonce(**c, nonce, nn));
	return cipher_set_auth_data(**c, aad, an);
}

static wasi_crypto_errno_t seal(wasi_crypto_handle_t *c, const uint8_t *pt, size_t n, uint8_t **ct, uint8_t **tag) {
	wasi_crypto_handle_t enc;
	MUST(cipher_encrypt_begin(*c, &enc));
	*ct = alloc(n);
	wasi_crypto_errno_t e = cipher_encrypt(enc, pt, n, *ct, n);
	MUST(cipher_encrypt_end(enc, c));
	MUST(e);
	*tag = alloc(16);
	return cipher_get_auth_tag(*c, *tag, 16);
}

static wasi_crypto_errno_t open_(wasi_crypto_handle_t *c, const uint8_t *ct, size_t n, const uint8_t *tag, size_t tn, uint8_t **pt) {
	MUST(cipher_set_auth_tag(*c, tag, tn));
	wasi_crypto_handle_t dec;
	MUST(cipher_decrypt_begin(*c, &dec));
	*pt = alloc(n);
	wasi_crypto_errno_t e = cipher_decrypt(dec, ct, n, *pt, n);
	MUST(cipher_decrypt_end(dec, c));
	return e;
}

static wasi_crypto_errno_t derive(const char *alg, wasi_crypto_handle_t key, const uint8_t *nonce, size_t nn, size_t len, uint8_t **out) {
	wasi_crypto_handle_t d;
	MUST(derive_key_prepare(alg, strlen(alg), key, &d));
	MUST(derive_key_set_nonce(d, nonce, nn));
	*out = alloc(len);
	return derive_key(d, *out, len);
}

/* Results of a request: up to three hex fields (NULL: "-"). */
static const uint8_t *res[3];
static size_t reslen[3];
static int nres;

static void result(const uint8_t *b, size_t n) {
	res[nres] = b;
	reslen[nres++] = n;
}

static wasi_crypto_errno_t kat(char **f, int n) {
	size_t len, nn;
	wasi_crypto_handle_t key, h;
	uint8_t *out, *out2, *in, *nonce;
	const char *op = f[0];
	if (strcmp(op, "hash") == 0 && n == 4) {
		MUST(hash_open(f[1], strlen(f[1]), &h));
		track(HASH, h);
		in = hex(f[2], &len);
		MUST(hash_update(h, in, len));
		size_t dl = (size_t)atol(f[3]);
		out = alloc(dl);
		MUST(hash_digest(h, out, dl));
		result(out, dl);
	} else if ((strcmp(op, "mac") == 0 && n == 4) || (strcmp(op, "sign") == 0 && n == 5)) {
		size_t size = op[0] == 's' ? (size_t)atol(f[4]) : strcmp(f[1], "HS256") == 0 ? 32 : strcmp(f[1], "HS384") == 0 ? 48 : 64;
		MUST(import_key(f[1], f[2], &key));
		MUST(sign_with(f[1], key, f[3], size, &out));
		result(out, size);
	} else if (strcmp(op, "hkdf") == 0 && n == 6) {
		wasi_crypto_handle_t st;
		MUST(prepare(WASI_CRYPTO_ALG_HKDF, &st));
		MUST(hash_open(f[1], strlen(f[1]), &h));
		track(HASH, h);
		MUST(generate_key_set_hash(st, h));
		in = hex(f[2], &len);
		MUST(generate_key_set_input(st, in, len));
		if (strcmp(f[3], "-") != 0) {
			nonce = hex(f[3], &nn);
			MUST(generate_key_set_nonce(st, nonce, nn));
		}
		MUST(generate_key(st, &key));
		track(KEY, key);
		in = hex(f[4], &len);
		size_t ol = (size_t)atol(f[5]);
		MUST(derive(WASI_CRYPTO_ALG_HKDF, key, in, len, ol, &out));
		result(out, ol);
	} else if (strcmp(op, "seal") == 0 && n == 6) {
		wasi_crypto_handle_t *c;
		MUST(import_key(f[1], f[2], &key));
		MUST(cipher(key, f[3], f[4], &c));
		in = hex(f[5], &len);
		MUST(seal(c, in, len, &out, &out2));
		result(out, len);
		result(out2, 16);
	} else if (strcmp(op, "open") == 0 && n == 7) {
		wasi_crypto_handle_t *c;
		size_t tn;
		MUST(import_key(f[1], f[2], &key));
		MUST(cipher(key, f[3], f[4], &c));
		in = hex(f[5], &len);
		uint8_t *tag = hex(f[6], &tn);
		MUST(open_(c, in, len, tag, tn, &out));
		result(out, len);
	} else if (strcmp(op, "export") == 0 && n == 3) {
		MUST(import_key(f[1], f[2], &key));
		MUST(export_key(key, &out, &len));
		result(out, len);
	} else if (strcmp(op, "gensign") == 0 && n == 4) {
		size_t size = (size_t)atol(f[3]);
		MUST(new_key(f[1], &key));
		if (f[1][0] == 'H') { /* HS* keys are secret: nothing to export ("-") */
			result(NULL, 0);
		} else {
			MUST(export_key(key, &out, &len));
			result(out, len);
		}
		MUST(sign_with(f[1], key, f[2], size, &out2));
		result(out2, size);
	} else if (strcmp(op, "genseal") == 0 && n == 5) {
		wasi_crypto_handle_t *c, *d;
		uint8_t *tag, *back;
		MUST(new_key(f[1], &key));
		MUST(cipher(key, f[2], f[3], &c));
		in = hex(f[4], &len);
		MUST(seal(c, in, len, &out, &tag));
		MUST(cipher(key, f[2], f[3], &d));
		MUST(open_(d, out, len, tag, 16, &back));
		result(out, len);
		result(tag, 16);
		result(back, len);
	} else if ((strcmp(op, "genagree") == 0 && n == 4) || (strcmp(op, "agree") == 0 && n == 5)) {
		int gen = op[0] == 'g';
		if (gen) {
			MUST(new_key(f[1], &key));
			MUST(export_key(key, &out2, &len));
			result(out2, len);
		} else {
			MUST(import_key(f[1], f[2], &key));
		}
		nonce = hex(f[gen ? 2 : 3], &nn);
		size_t ol = (size_t)atol(f[gen ? 3 : 4]);
		MUST(derive(f[1], key, nonce, nn, ol, &out));
		result(out, ol);
	} else {
		fprintf(stderr, "contract-c: bad request %s (%d fields)\n", op, n);
		exit(3);
	}
	return 0;
}

/* ---- -script --------------------------------------------------------------- */

/* The named memory of a scenario. */
static struct {
	char name[32];
	uint8_t *p;
	size_t n;
} names[64];
static int nnames;

static int lookup(const char *name) {
	for (int i = 0; i < nnames; i++)
		if (strcmp(names[i].name, name) == 0) return i;
	return -1;
}

static int define(const char *name, uint8_t *p, size_t n) {
	if (strlen(name) >= sizeof names[0].name || nnames == 64 || lookup(name) >= 0) return -1;
	strcpy(names[nnames].name, name);
	names[nnames].p = p;
	names[nnames++].n = n;
	return 0;
}

/* arg evaluates an argument: a number, &NAME[+N] (address), #NAME (length)
   or $NAME (the u32 at NAME). */
static int arg(const char *s, uint32_t *v) {
	if (s[0] == '&' || s[0] == '#' || s[0] == '$') {
		char name[32];
		const char *plus = strchr(s + 1, '+');
		size_t len = plus ? (size_t)(plus - s - 1) : strlen(s + 1);
		if (len >= sizeof name) return -1;
		memcpy(name, s + 1, len);
		name[len] = 0;
		int i = lookup(name);
		if (i < 0) return -1;
		uint32_t off = plus ? (uint32_t)strtoul(plus + 1, NULL, 0) : 0;
		switch (s[0]) {
		case '&': *v = (uint32_t)(uintptr_t)names[i].p + off; break;
		case '#': *v = (uint32_t)names[i].n; break;
		default:
			if (names[i].n < 4) return -1;
			memcpy(v, names[i].p, 4);
		}
		return 0;
	}
	char *end;
	*v = (uint32_t)strtoul(s, &end, 0);
	return *end == 0 ? 0 : -1;
}

#define P(i) ((void *)(uintptr_t)a[i])

/* call invokes the import fn with the evaluated arguments; -1 for an
   unknown name or a wrong argument count. */
static long call(const char *fn, const uint32_t *a, int n) {
#define IS(name, count) (strcmp(fn, name) == 0 && n == count)
	if (IS("cipher_open", 2)) return cipher_open(a[0], P(1));
	if (IS("cipher_set_nonce", 3)) return cipher_set_nonce(a[0], P(1), a[2]);
	if (IS("cipher_set_auth_data", 3)) return cipher_set_auth_data(a[0], P(1), a[2]);
	if (IS("cipher_get_auth_tag", 3)) return cipher_get_auth_tag(a[0], P(1), a[2]);
	if (IS("cipher_set_auth_tag", 3)) return cipher_set_auth_tag(a[0], P(1), a[2]);
	if (IS("cipher_encrypt_begin", 2)) return cipher_encrypt_begin(a[0], P(1));
	if (IS("cipher_encrypt", 5)) return cipher_encrypt(a[0], P(1), a[2], P(3), a[4]);
	if (IS("cipher_encrypt_end", 2)) return cipher_encrypt_end(a[0], P(1));
	if (IS("cipher_decrypt_begin", 2)) return cipher_decrypt_begin(a[0], P(1));
	if (IS("cipher_decrypt", 5)) return cipher_decrypt(a[0], P(1), a[2], P(3), a[4]);
	if (IS("cipher_decrypt_end", 2)) return cipher_decrypt_end(a[0], P(1));
	if (IS("cipher_close", 1)) return cipher_close(a[0]);
	if (IS("hash_open", 3)) return hash_open(P(0), a[1], P(2));
	if (IS("hash_update", 3)) return hash_update(a[0], P(1), a[2]);
	if (IS("hash_digest", 3)) return hash_digest(a[0], P(1), a[2]);
	if (IS("hash_close", 1)) return hash_close(a[0]);
	if (IS("sign_open", 4)) return sign_open(P(0), a[1], a[2], P(3));
	if (IS("sign_set_nonce", 3)) return sign_set_nonce(a[0], P(1), a[2]);
	if (IS("sign_begin", 2)) return sign_begin(a[0], P(1));
	if (IS("sign_update", 3)) return sign_update(a[0], P(1), a[2]);
	if (IS("sign", 3)) return sign(a[0], P(1), a[2]);
	if (IS("sign_end", 2)) return sign_end(a[0], P(1));
	if (IS("sign_close", 1)) return sign_close(a[0]);
	if (IS("generate_key_prepare", 3)) return generate_key_prepare(P(0), a[1], P(2));
	if (IS("generate_key_set_nonce", 3)) return generate_key_set_nonce(a[0], P(1), a[2]);
	if (IS("generate_key_set_input", 3)) return generate_key_set_input(a[0], P(1), a[2]);
	if (IS("generate_key_set_hash", 2)) return generate_key_set_hash(a[0], a[1]);
	if (IS("generate_key", 2)) return generate_key(a[0], P(1));
	if (IS("derive_key_prepare", 4)) return derive_key_prepare(P(0), a[1], a[2], P(3));
	if (IS("derive_key_set_nonce", 3)) return derive_key_set_nonce(a[0], P(1), a[2]);
	if (IS("derive_key_set_hash", 2)) return derive_key_set_hash(a[0], a[1]);
	if (IS("derive_key", 3)) return derive_key(a[0], P(1), a[2]);
	if (IS("private_key_close", 1)) return private_key_close(a[0]);
	if (IS("private_key_export_public", 4)) return private_key_export_public(a[0], P(1), a[2], P(3));
	if (IS("private_key_open", 3)) return private_key_open(P(0), a[1], P(2));
#undef IS
	return -1;
}

/* script answers one command: see conformance/abiscript. */
static void script(char **f, int n) {
	size_t len;
	if (strcmp(f[0], "buf") == 0 && n == 3) {
		uint8_t *b = hex(f[2], &len);
		if (define(f[1], b, len) == 0) {
			puts("ok");
			return;
		}
	} else if (strcmp(f[0], "str") == 0 && n == 3) {
		len = strlen(f[2]);
		uint8_t *b = alloc(len);
		memcpy(b, f[2], len);
		if (define(f[1], b, len) == 0) {
			puts("ok");
			return;
		}
	} else if (strcmp(f[0], "fill") == 0 && n == 3) {
		len = (size_t)strtoul(f[2], NULL, 0);
		uint8_t *b = alloc(len);
		memset(b, 0xA5, len);
		if (define(f[1], b, len) == 0) {
			puts("ok");
			return;
		}
	} else if (strcmp(f[0], "read") == 0 && n == 2) {
		int i = lookup(f[1]);
		if (i >= 0) {
			fputs("ok ", stdout);
			put_hex(names[i].p, names[i].n, 1);
			fputc('\n', stdout);
			return;
		}
	} else if (strcmp(f[0], "call") == 0 && n >= 2 && n <= 7) {
		uint32_t a[5];
		int ok = 1;
		for (int i = 2; i < n; i++) ok = ok && arg(f[i], &a[i - 2]) == 0;
		long e = ok ? call(f[1], a, n - 2) : -1;
		if (e >= 0) {
			printf("ok %ld\n", e);
			return;
		}
	}
	printf("err bad command %s\n", f[0]);
}

static char line[8 << 20]; /* as the Go guest: requests up to 8 MiB */

int main(int argc, char **argv) {
	int katmode = argc == 2 && strcmp(argv[1], "-kat") == 0;
	if (!katmode && !(argc == 2 && strcmp(argv[1], "-script") == 0)) {
		fprintf(stderr, "usage: contract-c -kat|-script < REQUESTS\n");
		return 2;
	}
	char *f[8];
	while (fgets(line, sizeof line, stdin) != NULL) {
		if (strchr(line, '\n') == NULL && !feof(stdin)) {
			fprintf(stderr, "contract-c: line longer than %zu bytes\n", sizeof line);
			return 3;
		}
		int n = fields(line, f, 8);
		if (n == 0) continue;
		if (!katmode) {
			script(f, n);
			fflush(stdout);
			continue;
		}
		top = 0;
		nres = 0;
		wasi_crypto_errno_t e = kat(f, n);
		close_all();
		if (e != 0) {
			const char *name = wasi_crypto_errno_name(e);
			printf("err %s\n", name ? name : "unknown");
			continue;
		}
		fputs("ok", stdout);
		for (int i = 0; i < nres; i++) {
			fputc(' ', stdout);
			put_hex(res[i], reslen[i], res[i] == NULL);
		}
		fputc('\n', stdout);
	}
	return 0;
}
