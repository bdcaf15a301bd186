/*
 * note_test.c: signed notes, checkpoints and tlog-proofs against the C2SP and x/mod vectors
 * (read in place from SAKSI_VECTORS_DIR, never copied), round trips, and every malformed
 * input class with its exact error code. Keys are derived from a printed random seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "merkle.h"
#include "note.h"

#define BUF_MAX (SAKSI_TLOG_PROOF_MAX + 4096)

/* What the vectors file gives us; every field must be found. */
struct vectors {
	char v1_vkey[SAKSI_VKEY_MAX + 1];
	char v1_note[1024];
	size_t v1_note_len;
	char v2_skey[512];
	char v2_vkey[SAKSI_VKEY_MAX + 1];
	char v2_text[512];
	size_t v2_text_len;
	char v2_sigline[512];
	char empty_root[128];
};

struct fixture {
	uint8_t seed[32];
};

struct key {
	char name[SAKSI_ORIGIN_MAX + 1];
	uint8_t pk[32];
	uint8_t *sk; /* sodium_malloc, 64 bytes */
	saksi_note_verifier v;
};

/* Decodes a C string literal body (between the quotes); 0 on an escape we do not know. */
static int
unescape(const char *s, size_t n, char *out, size_t outmax, size_t *outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\') {
			if (++i == n)
				return 0;
			switch (s[i]) {
			case 'n': c = '\n'; break;
			case '\\': c = '\\'; break;
			case '"': c = '"'; break;
			default: return 0;
			}
		}
		if (o + 1 >= outmax)
			return 0;
		out[o++] = c;
	}
	out[o] = '\0';
	*outlen = o;
	return 1;
}

static void
copy_field(char *dst, size_t dstmax, const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	assert_true(n < dstmax);
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static int
starts(const char *line, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && memcmp(line, prefix, k) == 0;
}

/* Reads signed-note.md; skip()s if the vectors directory is absent. */
static void
vectors_load(struct vectors *vx)
{
	static const char path[] = SAKSI_VECTORS_DIR "/signed-note.md";
	char *buf;
	FILE *f;
	size_t len, pos = 0;
	int section = 0, want_note = 0, want_sig = 0;

	memset(vx, 0, sizeof *vx);
	if ((f = fopen(path, "rb")) == NULL) {
		print_message("vectors not found at %s: skipping\n", path);
		skip();
	}
	buf = malloc(65536);
	assert_non_null(buf);
	len = fread(buf, 1, 65535, f);
	fclose(f);
	buf[len] = '\0';

	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		const char *t = line;
		size_t tn = n;

		pos += n + 1;
		while (tn > 0 && *t == ' ')
			t++, tn--;
		if (starts(line, n, "## Vector 1"))
			section = 1;
		else if (starts(line, n, "## Vector 2"))
			section = 2;
		else if (starts(line, n, "## "))
			section = 0;

		if (want_note) {
			const char *q1 = memchr(t, '"', tn), *q2 = t + tn;

			while (q2 > t && q2[-1] != '"')
				q2--;
			assert_non_null(q1);
			assert_true(q2 - 1 > q1);
			assert_true(unescape(q1 + 1, (size_t)(q2 - 1 - (q1 + 1)), vx->v1_note,
			                     sizeof vx->v1_note, &vx->v1_note_len));
			want_note = 0;
		} else if (want_sig) {
			copy_field(vx->v2_sigline, sizeof vx->v2_sigline, t, tn);
			want_sig = 0;
		} else if (section == 1 && starts(t, tn, "vkey: ")) {
			copy_field(vx->v1_vkey, sizeof vx->v1_vkey, t + 6, tn - 6);
		} else if (section == 1 && starts(t, tn, "note (as a C string):")) {
			want_note = 1;
		} else if (section == 2 && starts(t, tn, "PRIVATE+KEY+")) {
			copy_field(vx->v2_skey, sizeof vx->v2_skey, t, tn);
		} else if (section == 2 && starts(t, tn, "vkey: ")) {
			copy_field(vx->v2_vkey, sizeof vx->v2_vkey, t + 6, tn - 6);
		} else if (section == 2 && starts(t, tn, "Signing the text \"")) {
			const char *q1 = t + strlen("Signing the text "), *q2 = t + tn;

			while (q2 > q1 + 1 && q2[-1] != '"')
				q2--;
			assert_true(unescape(q1 + 1, (size_t)(q2 - 1 - (q1 + 1)), vx->v2_text,
			                     sizeof vx->v2_text, &vx->v2_text_len));
		} else if (section == 2 && starts(t, tn, "gives the signature line:")) {
			want_sig = 1;
		} else if (starts(t, tn, "Empty tree root: ")) {
			copy_field(vx->empty_root, sizeof vx->empty_root, t + 17, tn - 17);
		}
	}
	free(buf);
	/* The file is there: a field we cannot find is a failure, not a skip. */
	assert_true(vx->v1_vkey[0] && vx->v1_note_len && vx->v2_skey[0] && vx->v2_vkey[0] &&
	            vx->v2_text_len && vx->v2_sigline[0] && vx->empty_root[0]);
}

/* A key derived from the run's seed and a label, so a failing run can be replayed. */
static void
key_make(struct key *k, const struct fixture *fx, const char *name, const char *label)
{
	uint8_t *seed = sodium_malloc(crypto_sign_SEEDBYTES);

	assert_non_null(seed);
	memset(k, 0, sizeof *k);
	assert_true(strlen(name) <= SAKSI_ORIGIN_MAX);
	strcpy(k->name, name);
	k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	assert_non_null(k->sk);
	crypto_generichash(seed, crypto_sign_SEEDBYTES, (const uint8_t *)label, strlen(label),
	                   fx->seed, sizeof fx->seed);
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	sodium_free(seed);
	strcpy(k->v.nv_name, name);
	memcpy(k->v.nv_pk, k->pk, 32);
	assert_int_equal(saksi_note_keyid(name, k->pk, k->v.nv_keyid), SAKSI_OK);
}

static void
key_free(struct key *k)
{
	sodium_free(k->sk);
	k->sk = NULL;
}

/* Signs text (a C string) under k; returns the note length. */
static size_t
sign_str(const struct key *k, const char *text, char *out)
{
	size_t n = 0;

	assert_int_equal(saksi_note_sign(text, strlen(text), k->name, k->sk, out,
	                                 SAKSI_NOTE_MAX + 1, &n),
	                 SAKSI_OK);
	assert_int_equal(strlen(out), n);
	return n;
}

static saksi_err
open_str(const char *note, const saksi_note_verifier *v)
{
	size_t tl = 0;

	return saksi_note_open(note, strlen(note), v, &tl);
}

/* Appends "— name base64(bytes)\n" to out. */
static void
append_sigline(char *out, const char *name, const uint8_t *bytes, size_t n)
{
	char b64[2048];

	assert_true(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL) <= sizeof b64);
	sodium_bin2base64(b64, sizeof b64, bytes, n, sodium_base64_VARIANT_ORIGINAL);
	strcat(out, "\xe2\x80\x94 ");
	strcat(out, name);
	strcat(out, " ");
	strcat(out, b64);
	strcat(out, "\n");
}

/* A real tlog-cosignature/v1 line by witness w over a checkpoint body. */
static void
append_cosig(char *out, const struct key *w, const char *body, uint64_t t)
{
	uint8_t sig[4 + 8 + 64], sum[32];
	char msg[2048];
	crypto_hash_sha256_state st;
	const uint8_t sep[2] = { '\n', 0x04 };

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)w->name, strlen(w->name));
	crypto_hash_sha256_update(&st, sep, 2);
	crypto_hash_sha256_update(&st, w->pk, 32);
	crypto_hash_sha256_final(&st, sum);
	memcpy(sig, sum, 4);
	for (int i = 0; i < 8; i++)
		sig[4 + i] = (uint8_t)(t >> (56 - 8 * i));
	snprintf(msg, sizeof msg, "cosignature/v1\ntime %llu\n%s", (unsigned long long)t, body);
	crypto_sign_detached(sig + 12, NULL, (const uint8_t *)msg, strlen(msg), w->sk);
	append_sigline(out, w->name, sig, sizeof sig);
}

/* Replaces the first occurrence of from by to in the C string s (which has room). */
static void
subst(char *s, const char *from, const char *to)
{
	char *p = strstr(s, from);
	size_t fl = strlen(from), tl = strlen(to);

	assert_non_null(p);
	memmove(p + tl, p + fl, strlen(p + fl) + 1);
	memcpy(p, to, tl);
}

/* Flips one bit of the base64 payload of the line starting at sig_line. */
static void
flip_sig_bit(char *sig_line, size_t byte, uint8_t mask)
{
	char *b64 = strchr(sig_line + 4, ' ') + 1, *eol = strchr(b64, '\n');
	uint8_t raw[512];
	size_t n;

	assert_int_equal(sodium_base642bin(raw, sizeof raw, b64, (size_t)(eol - b64), NULL, &n,
	                                   NULL, sodium_base64_VARIANT_ORIGINAL),
	                 0);
	assert_true(byte < n);
	raw[byte] ^= mask;
	sodium_bin2base64(b64, (size_t)(eol - b64) + 1, raw, n, sodium_base64_VARIANT_ORIGINAL);
	*eol = '\n';
}

/* Reference RFC 9162 hashing, written independently of merkle.c. */
static void
ref_leaf(saksi_hash out, uint64_t i)
{
	uint8_t buf[1 + 8];

	buf[0] = 0x00;
	for (int j = 0; j < 8; j++)
		buf[1 + j] = (uint8_t)(i >> (56 - 8 * j));
	crypto_hash_sha256(out, buf, sizeof buf);
}

static void
ref_node(saksi_hash out, const saksi_hash l, const saksi_hash r)
{
	uint8_t buf[1 + 64];

	buf[0] = 0x01;
	memcpy(buf + 1, l, 32);
	memcpy(buf + 33, r, 32);
	crypto_hash_sha256(out, buf, sizeof buf);
}

static size_t
split_point(size_t n)
{
	size_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

static void
ref_mth(const saksi_hash *d, size_t n, saksi_hash out)
{
	saksi_hash l, r;
	size_t k;

	if (n == 0) {
		crypto_hash_sha256(out, (const uint8_t *)"", 0);
		return;
	}
	if (n == 1) {
		memcpy(out, d[0], 32);
		return;
	}
	k = split_point(n);
	ref_mth(d, k, l);
	ref_mth(d + k, n - k, r);
	ref_node(out, l, r);
}

static size_t
ref_path(size_t m, const saksi_hash *d, size_t n, saksi_hash *out)
{
	size_t k, c;

	if (n <= 1)
		return 0;
	k = split_point(n);
	if (m < k) {
		c = ref_path(m, d, k, out);
		ref_mth(d + k, n - k, out[c]);
	} else {
		c = ref_path(m - k, d + k, n - k, out);
		ref_mth(d, k, out[c]);
	}
	return c + 1;
}

/* ---- vectors ---- */

static void
test_vector1_spec_example(void **state)
{
	struct vectors vx;
	saksi_note_verifier v;
	char vkey[SAKSI_VKEY_MAX];
	size_t tl = 0;
	const char *nl;

	(void)state;
	vectors_load(&vx);
	assert_int_equal(saksi_note_vkey_parse(vx.v1_vkey, &v), SAKSI_OK);
	assert_string_equal(v.nv_name, "example.com/foo");
	assert_int_equal(saksi_note_open(vx.v1_note, vx.v1_note_len, &v, &tl), SAKSI_OK);
	nl = strstr(vx.v1_note, "\n\n");
	assert_non_null(nl);
	assert_int_equal(tl, (size_t)(nl - vx.v1_note) + 1);
	assert_int_equal(saksi_note_vkey_format(v.nv_name, v.nv_pk, vkey, sizeof vkey), SAKSI_OK);
	assert_string_equal(vkey, vx.v1_vkey);

	/* The same note with one text byte changed no longer verifies. */
	vx.v1_note[0] ^= 0x20;
	assert_int_equal(saksi_note_open(vx.v1_note, vx.v1_note_len, &v, &tl),
	                 SAKSI_ERR_SIGNATURE);
}

static void
test_vector2_go_signer(void **state)
{
	struct vectors vx;
	saksi_note_verifier v;
	uint8_t raw[64], pk[32], keyid[4], *sk, *seed;
	char name[SAKSI_ORIGIN_MAX + 1], vkey[SAKSI_VKEY_MAX], *p, *q, want[2048];
	char out[SAKSI_NOTE_MAX + 1];
	size_t n, written = 0, tl = 0;

	(void)state;
	vectors_load(&vx);
	/* PRIVATE+KEY+<name>+<keyid>+<base64(0x01 || seed)> */
	p = vx.v2_skey + strlen("PRIVATE+KEY+");
	q = strchr(p, '+');
	assert_non_null(q);
	memcpy(name, p, (size_t)(q - p));
	name[q - p] = '\0';
	p = strchr(q + 1, '+');
	assert_non_null(p);
	assert_int_equal(p - (q + 1), 8);
	assert_int_equal(sodium_base642bin(raw, sizeof raw, p + 1, strlen(p + 1), NULL, &n, NULL,
	                                   sodium_base64_VARIANT_ORIGINAL),
	                 0);
	assert_int_equal(n, 33);
	assert_int_equal(raw[0], 0x01);

	seed = sodium_malloc(32);
	sk = sodium_malloc(64);
	assert_non_null(seed);
	assert_non_null(sk);
	memcpy(seed, raw + 1, 32);
	sodium_memzero(raw, sizeof raw);
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_free(seed);

	assert_int_equal(saksi_note_keyid(name, pk, keyid), SAKSI_OK);
	sodium_bin2hex(want, sizeof want, keyid, 4);
	assert_memory_equal(want, q + 1, 8);
	assert_int_equal(saksi_note_vkey_format(name, pk, vkey, sizeof vkey), SAKSI_OK);
	assert_string_equal(vkey, vx.v2_vkey);

	assert_int_equal(saksi_note_sign(vx.v2_text, vx.v2_text_len, name, sk, out, sizeof out,
	                                 &written),
	                 SAKSI_OK);
	sodium_free(sk);
	snprintf(want, sizeof want, "%s\n%s\n", vx.v2_text, vx.v2_sigline);
	assert_int_equal(written, strlen(want));
	assert_string_equal(out, want);

	assert_int_equal(saksi_note_vkey_parse(vx.v2_vkey, &v), SAKSI_OK);
	assert_int_equal(saksi_note_open(out, written, &v, &tl), SAKSI_OK);
	assert_int_equal(tl, vx.v2_text_len);
}

static void
test_empty_tree_checkpoint(void **state)
{
	struct vectors vx;
	saksi_checkpoint c, back;
	char out[512], want[512];
	size_t n = 0;

	(void)state;
	vectors_load(&vx);
	memset(&c, 0, sizeof c);
	strcpy(c.ck_origin, "example.com/empty");
	c.ck_size = 0;
	saksi_merkle_empty_root(c.ck_root);
	assert_int_equal(saksi_checkpoint_format(&c, out, sizeof out, &n), SAKSI_OK);
	snprintf(want, sizeof want, "example.com/empty\n0\n%s\n", vx.empty_root);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	assert_int_equal(saksi_checkpoint_parse(out, n, &back), SAKSI_OK);
	assert_int_equal(back.ck_size, 0);
	crypto_hash_sha256(c.ck_root, (const uint8_t *)"", 0);
	assert_memory_equal(back.ck_root, c.ck_root, 32);
}

/* ---- keys and names ---- */

static void
test_vkey_round_trip_and_errors(void **state)
{
	struct key k;
	saksi_note_verifier v;
	char vkey[SAKSI_VKEY_MAX], bad[SAKSI_VKEY_MAX + 64], b64[64];
	uint8_t key[40];
	char *plus;
	const char *key64;

	key_make(&k, *state, "log.example/saksi", "vkey");
	assert_int_equal(saksi_note_vkey_format(k.name, k.pk, vkey, sizeof vkey), SAKSI_OK);
	/* the key's base64 may itself hold '+': find it after the second one */
	key64 = strchr(strchr(vkey, '+') + 1, '+') + 1;
	assert_int_equal(saksi_note_vkey_parse(vkey, &v), SAKSI_OK);
	assert_memory_equal(&v, &k.v, sizeof v);
	/* Exact fit, then one byte short (the NUL counts). */
	assert_int_equal(saksi_note_vkey_format(k.name, k.pk, bad, strlen(vkey) + 1), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format(k.name, k.pk, bad, strlen(vkey)),
	                 SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_note_vkey_format(k.name, k.pk, bad, 0), SAKSI_ERR_TOO_LARGE);

	/* x/mod accepts the key id in upper case too. */
	strcpy(bad, vkey);
	plus = strchr(bad, '+');
	for (int i = 1; i <= 8; i++)
		if (plus[i] >= 'a')
			plus[i] = (char)(plus[i] - 32);
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_OK);

	/* Wrong key id. */
	strcpy(bad, vkey);
	plus = strchr(bad, '+');
	plus[1] = plus[1] == '0' ? '1' : '0';
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_KEY);
	/* The same key under another name: the id no longer matches. */
	strcpy(bad, "other.example");
	strcat(bad, strchr(vkey, '+'));
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_KEY);

	assert_int_equal(saksi_note_vkey_parse("", &v), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_note_vkey_parse("nameonly", &v), SAKSI_ERR_FORMAT);
	snprintf(bad, sizeof bad, "%s", vkey);
	bad[key64 - vkey - 1] = '\0';
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_FORMAT);  /* no key part */
	snprintf(bad, sizeof bad, "n+1234567+%s", key64);
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_FORMAT);  /* 7 hex */
	snprintf(bad, sizeof bad, "n+1234567g+%s", key64);
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_FORMAT);  /* not hex */
	snprintf(bad, sizeof bad, "+12345678+%s", key64);
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_FORMAT);  /* empty name */
	snprintf(bad, sizeof bad, "a b+12345678+%s", key64);
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_FORMAT);  /* space */
	snprintf(bad, sizeof bad, "%s", vkey);
	strcat(bad, "A");
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_FORMAT);  /* bad base64 */
	snprintf(bad, sizeof bad, "%s", vkey);
	bad[strlen(bad) - 1] = '\0';
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_FORMAT);  /* no padding */

	/* A key of another type (0x04: a cosignature key) or length is not ours. */
	key[0] = 0x04;
	memcpy(key + 1, k.pk, 32);
	sodium_bin2base64(b64, sizeof b64, key, 33, sodium_base64_VARIANT_ORIGINAL);
	snprintf(bad, sizeof bad, "n+12345678+%s", b64);
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_KEY);
	key[0] = 0x01;
	sodium_bin2base64(b64, sizeof b64, key, 34, sodium_base64_VARIANT_ORIGINAL);
	snprintf(bad, sizeof bad, "n+12345678+%s", b64);
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_KEY);

	memset(bad, 'n', SAKSI_ORIGIN_MAX + 1);
	snprintf(bad + SAKSI_ORIGIN_MAX + 1, sizeof bad - SAKSI_ORIGIN_MAX - 1, "+%s",
	         strchr(vkey, '+') + 1);
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_TOO_LARGE); /* long name */
	snprintf(bad, sizeof bad, "n+1234+678+%s", key64);
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_FORMAT);
	snprintf(bad, sizeof bad, "n+ 1234567+%s", key64);
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_FORMAT);
	/* a failed parse leaves v as it was */
	memset(&v, 0x5a, sizeof v);
	strcpy(bad, vkey);
	plus = strchr(bad, '+');
	plus[1] = plus[1] == '0' ? '1' : '0';
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_KEY);
	assert_int_equal(((uint8_t *)&v)[0], 0x5a);
	assert_int_equal(((uint8_t *)&v)[sizeof v - 1], 0x5a);

	memset(bad, 'a', SAKSI_VKEY_MAX + 1);
	bad[SAKSI_VKEY_MAX + 1] = '\0';
	assert_int_equal(saksi_note_vkey_parse(bad, &v), SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_note_vkey_parse(NULL, &v), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_note_vkey_parse(vkey, NULL), SAKSI_ERR_INVAL);
	key_free(&k);
}

static void
test_key_names(void **state)
{
	static const char *const bad_names[] = {
		"",
		"a b",
		"a+b",
		"a\tb",
		"a\nb",
		"a\x01" "b",
		"a\xc2\xa0" "b",        /* U+00A0 NO-BREAK SPACE */
		"a\xc2\x85" "b",        /* U+0085 NEXT LINE */
		"a\xe1\x9a\x80" "b",    /* U+1680 OGHAM SPACE MARK */
		"a\xe2\x80\x80" "b",    /* U+2000 EN QUAD */
		"a\xe2\x80\x8a" "b",    /* U+200A HAIR SPACE */
		"a\xe2\x80\xa8" "b",    /* U+2028 LINE SEPARATOR */
		"a\xe2\x80\xaf" "b",    /* U+202F */
		"a\xe2\x81\x9f" "b",    /* U+205F */
		"a\xe3\x80\x80" "b",    /* U+3000 IDEOGRAPHIC SPACE */
		"a\xff" "b",            /* not UTF-8 */
		"a\xc0\xaf" "b",        /* overlong */
		"a\xed\xa0\x80" "b",    /* surrogate */
		"a\xf4\x90\x80\x80",    /* above U+10FFFF */
		"a\xe2\x80",            /* truncated */
		"a\xc3\x28",            /* bad continuation byte */
		"a\x80",                /* lone continuation byte */
	};
	struct key k;
	uint8_t id[4];
	char out[SAKSI_VKEY_MAX], name[SAKSI_ORIGIN_MAX + 2];

	key_make(&k, *state, "k", "names");
	for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
		assert_int_equal(saksi_note_keyid(bad_names[i], k.pk, id), SAKSI_ERR_INVAL);
		assert_int_equal(saksi_note_vkey_format(bad_names[i], k.pk, out, sizeof out),
		                 SAKSI_ERR_INVAL);
	}
	/* Not spaces: U+200B ZERO WIDTH SPACE is not White_Space; non-ASCII letters are fine. */
	assert_int_equal(saksi_note_keyid("a\xe2\x80\x8b" "b", k.pk, id), SAKSI_OK);
	assert_int_equal(saksi_note_keyid("\xc3\xa9t\xc3\xa9.example/log", k.pk, id), SAKSI_OK);
	memset(name, 'n', SAKSI_ORIGIN_MAX);
	name[SAKSI_ORIGIN_MAX] = '\0';
	assert_int_equal(saksi_note_keyid(name, k.pk, id), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format(name, k.pk, out, sizeof out), SAKSI_OK);
	name[SAKSI_ORIGIN_MAX] = 'n';
	name[SAKSI_ORIGIN_MAX + 1] = '\0';
	assert_int_equal(saksi_note_keyid(name, k.pk, id), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_note_keyid(NULL, k.pk, id), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_note_keyid("k", NULL, id), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_note_keyid("k", k.pk, NULL), SAKSI_ERR_INVAL);
	key_free(&k);
}

/* ---- signing ---- */

static void
test_sign_errors(void **state)
{
	struct key k, other;
	char out[SAKSI_NOTE_MAX + 1], *text;
	size_t n = 0, overhead, tl = 0;
	uint8_t *mixed;

	key_make(&k, *state, "log.example", "sign");
	key_make(&other, *state, "log.example", "sign-other");
#define SIGN(t) saksi_note_sign((t), strlen(t), k.name, k.sk, out, sizeof out, &n)
	assert_int_equal(SIGN(""), SAKSI_ERR_INVAL);
	assert_int_equal(SIGN("no final newline"), SAKSI_ERR_INVAL);
	assert_int_equal(SIGN("\n"), SAKSI_ERR_INVAL);
	assert_int_equal(SIGN("\nleading blank\n"), SAKSI_ERR_INVAL);
	assert_int_equal(SIGN("a\n\nb\n"), SAKSI_ERR_INVAL);
	assert_int_equal(SIGN("a\r\n"), SAKSI_ERR_INVAL);
	assert_int_equal(SIGN("a\x7f\n"), SAKSI_OK); /* DEL is not below U+0020 */
	assert_int_equal(SIGN("a\xff\n"), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_note_sign("a\0b\n", 4, k.name, k.sk, out, sizeof out, &n),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_note_sign("a\n", 2, "bad name", k.sk, out, sizeof out, &n),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_note_sign("a\n", 2, k.name, NULL, out, sizeof out, &n),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_note_sign(NULL, 2, k.name, k.sk, out, sizeof out, &n),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_note_sign("a\n", 2, k.name, k.sk, NULL, sizeof out, &n),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_note_sign("a\n", 2, k.name, k.sk, out, sizeof out, NULL),
	                 SAKSI_ERR_INVAL);
#undef SIGN

	/* Output buffer: exact fit, one byte short. */
	assert_int_equal(saksi_note_sign("a\n", 2, k.name, k.sk, out, sizeof out, &n), SAKSI_OK);
	assert_int_equal(saksi_note_sign("a\n", 2, k.name, k.sk, out, n + 1, &n), SAKSI_OK);
	assert_int_equal(saksi_note_sign("a\n", 2, k.name, k.sk, out, n, &n),
	                 SAKSI_ERR_TOO_LARGE);

	/* A note of exactly SAKSI_NOTE_MAX bytes is signed and opened; one more is refused. */
	overhead = 1 + 4 + strlen(k.name) + 1 + 92 + 1;
	text = malloc(SAKSI_NOTE_MAX + 2);
	assert_non_null(text);
	memset(text, 'x', SAKSI_NOTE_MAX + 1);
	text[SAKSI_NOTE_MAX - overhead - 1] = '\n';
	assert_int_equal(saksi_note_sign(text, SAKSI_NOTE_MAX - overhead, k.name, k.sk, out,
	                                 sizeof out, &n),
	                 SAKSI_OK);
	assert_int_equal(n, SAKSI_NOTE_MAX);
	assert_int_equal(saksi_note_open(out, n, &k.v, &tl), SAKSI_OK);
	assert_int_equal(tl, SAKSI_NOTE_MAX - overhead);
	text[SAKSI_NOTE_MAX - overhead - 1] = 'x';
	text[SAKSI_NOTE_MAX - overhead] = '\n';
	assert_int_equal(saksi_note_sign(text, SAKSI_NOTE_MAX - overhead + 1, k.name, k.sk, out,
	                                 sizeof out, &n),
	                 SAKSI_ERR_TOO_LARGE);
	text[SAKSI_NOTE_MAX] = '\n';
	assert_int_equal(saksi_note_sign(text, SAKSI_NOTE_MAX + 1, k.name, k.sk, out,
	                                 sizeof out, &n),
	                 SAKSI_ERR_TOO_LARGE);
	free(text);

	/* A secret key whose public half belongs to another seed is caught, not published. */
	mixed = sodium_malloc(64);
	assert_non_null(mixed);
	memcpy(mixed, k.sk, 32);
	memcpy(mixed + 32, other.pk, 32);
	assert_int_equal(saksi_note_sign("a\n", 2, k.name, mixed, out, sizeof out, &n),
	                 SAKSI_ERR_KEY);
	sodium_free(mixed);
	key_free(&k);
	key_free(&other);
}

/* ---- opening: every malformed class ---- */

static void
test_open_malformed(void **state)
{
	struct key k, other_name, other_id;
	char good[SAKSI_NOTE_MAX + 1], buf[2 * SAKSI_NOTE_MAX], big[SAKSI_NOTE_MAX + 2];
	char *sigline;
	size_t n, tl = 99;
	saksi_note_verifier v;

	key_make(&k, *state, "log.example", "open");
	key_make(&other_name, *state, "log2.example", "open");
	key_make(&other_id, *state, "log.example", "open-other-id");
	n = sign_str(&k, "line one\nline two\n", good);
	assert_int_equal(saksi_note_open(good, n, &k.v, &tl), SAKSI_OK);
	assert_int_equal(tl, strlen("line one\nline two\n"));
	sigline = strstr(good, "\n\n") + 2;

	/* flipped bits: in the signature, in the key id, in the text */
	strcpy(buf, good);
	flip_sig_bit(buf + (sigline - good), 4 + 10, 0x01);
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_SIGNATURE);
	strcpy(buf, good);
	flip_sig_bit(buf + (sigline - good), 0, 0x80);
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_SIGNATURE); /* id unknown: ignored */
	strcpy(buf, good);
	buf[0] ^= 0x01;
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_SIGNATURE);

	/* wrong key name, wrong key id in the verifier */
	assert_int_equal(open_str(good, &other_name.v), SAKSI_ERR_SIGNATURE);
	assert_int_equal(open_str(good, &other_id.v), SAKSI_ERR_SIGNATURE);
	v = k.v;
	v.nv_pk[0] ^= 1; /* right name and id, wrong key: the line is checked and fails */
	assert_int_equal(open_str(good, &v), SAKSI_ERR_SIGNATURE);
	/* wrong key name in the note: the line is someone else's */
	strcpy(buf, good);
	subst(buf, "\xe2\x80\x94 log.example ", "\xe2\x80\x94 log.exampl ");
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_SIGNATURE);

	/* missing final newline, trailing garbage, CR, NUL, bad UTF-8 */
	assert_int_equal(saksi_note_open(good, n - 1, &k.v, &tl), SAKSI_ERR_FORMAT);
	snprintf(buf, sizeof buf, "%sx", good);
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	snprintf(buf, sizeof buf, "%sx\n", good);
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "one\n", "one\r\n");
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	buf[n - 1] = '\r';
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	memcpy(buf, good, n);
	buf[3] = '\0';
	assert_int_equal(saksi_note_open(buf, n, &k.v, &tl), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	buf[3] = (char)0xff;
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);

	/* blank lines: in the text, before the separator, after and between signatures */
	strcpy(buf, good);
	subst(buf, "one\n", "one\n\n");
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "\n\n", "\n\n\n");
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	snprintf(buf, sizeof buf, "\n%s", good);
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	snprintf(buf, sizeof buf, "%s\n", good);
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	snprintf(buf, sizeof buf, "%s\n%s", good, sigline);
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	/* no separator, no signature lines */
	strcpy(buf, good);
	subst(buf, "\n\n", "\n");
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	assert_int_equal(open_str("line one\n\n", &k.v), SAKSI_ERR_FORMAT);
	assert_int_equal(open_str("\n\n", &k.v), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_note_open("", 0, &k.v, &tl), SAKSI_ERR_FORMAT);

	/* signature line syntax */
	strcpy(buf, good);
	subst(buf, "\xe2\x80\x94 ", "- ");
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "\xe2\x80\x94 ", "\xe2\x80\x94");
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "log.example ", "log.example  ");
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "log.example ", "log.example");
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "\xe2\x80\x94 log.example", "\xe2\x80\x94 log+example");
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "=\n", "\n");
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);           /* padding */
	strcpy(buf, good);
	subst(buf, "=\n", "==\n");
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	buf[n - 4] = '*';
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);           /* bad base64 */
	strcpy(buf, good);
	subst(buf, "=\n", "= \n");
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	/* bad base64 in another signer's line fails the whole note */
	snprintf(buf, sizeof buf, "%s\xe2\x80\x94 w.example AAAA*AAA\n", good);
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	/* a signature under 5 bytes (x/mod's minimum), ours or not */
	snprintf(buf, sizeof buf, "%s\xe2\x80\x94 w.example AAAAAA==\n", good);
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_FORMAT);
	snprintf(buf, sizeof buf, "%s\xe2\x80\x94 w.example AAAAAAA=\n", good);
	assert_int_equal(open_str(buf, &k.v), SAKSI_OK);

	/* caps */
	memset(big, 'a', sizeof big);
	assert_int_equal(saksi_note_open(big, SAKSI_NOTE_MAX + 1, &k.v, &tl),
	                 SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_note_open(NULL, 0, &k.v, &tl), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_note_open(good, n, NULL, &tl), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_note_open(good, n, &k.v, NULL), SAKSI_ERR_INVAL);
	v = k.v;
	memset(v.nv_name, 'a', sizeof v.nv_name); /* not terminated */
	assert_int_equal(saksi_note_open(good, n, &v, &tl), SAKSI_ERR_INVAL);

	key_free(&k);
	key_free(&other_name);
	key_free(&other_id);
}

static void
test_open_signature_lines(void **state)
{
	struct key k, w1, w2, twin;
	char good[SAKSI_NOTE_MAX + 1], buf[2 * SAKSI_NOTE_MAX], body[256], *sigline;
	uint8_t raw[4 + 64 + 1];
	size_t i;

	key_make(&k, *state, "log.example", "lines");
	key_make(&w1, *state, "witness1.example", "w1");
	key_make(&w2, *state, "witness2.example", "w2");
	key_make(&twin, *state, "log.example", "twin"); /* same name, another key */
	snprintf(body, sizeof body, "log.example\n7\n%s\n",
	         "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	(void)sign_str(&k, body, good);
	sigline = strstr(good, "\n\n") + 2;

	/* Witness cosignatures before and after ours are ignored. */
	snprintf(buf, sizeof buf, "%s", good);
	append_cosig(buf, &w1, body, 1700000000);
	append_cosig(buf, &w2, body, 1700000001);
	assert_int_equal(open_str(buf, &k.v), SAKSI_OK);
	buf[strlen(body) + 1] = '\0';
	append_cosig(buf, &w1, body, 1700000000);
	strcat(buf, sigline);
	assert_int_equal(open_str(buf, &k.v), SAKSI_OK);
	/* A witness verifier would have to use its own format: as a note key it fails. */
	assert_int_equal(open_str(buf, &w1.v), SAKSI_ERR_SIGNATURE);

	/* Same name, other key id: ignored. Same id, other name: ignored. */
	randombytes_buf_deterministic(raw, sizeof raw, ((const struct fixture *)*state)->seed);
	memcpy(raw, twin.v.nv_keyid, 4);
	snprintf(buf, sizeof buf, "%s", good);
	append_sigline(buf, twin.name, raw, 68);
	assert_int_equal(open_str(buf, &k.v), SAKSI_OK);
	memcpy(raw, k.v.nv_keyid, 4);
	snprintf(buf, sizeof buf, "%s", good);
	append_sigline(buf, "log.example.evil", raw, 68);
	assert_int_equal(open_str(buf, &k.v), SAKSI_OK);

	/* Our name and id on a bad line fails the note, wherever it is and whatever its size. */
	snprintf(buf, sizeof buf, "%s", good);
	append_sigline(buf, k.name, raw, 68);
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_SIGNATURE);
	snprintf(buf, sizeof buf, "%s", good);
	append_sigline(buf, k.name, raw, 67);
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_SIGNATURE);
	snprintf(buf, sizeof buf, "%s", good);
	append_sigline(buf, k.name, raw, 69);
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_SIGNATURE);
	/* A duplicate good line is fine. */
	snprintf(buf, sizeof buf, "%s%s", good, sigline);
	assert_int_equal(open_str(buf, &k.v), SAKSI_OK);

	/* SAKSI_NOTE_MAX_SIGS lines in all are accepted, one more is refused before any check. */
	memcpy(raw, twin.v.nv_keyid, 4);
	snprintf(buf, sizeof buf, "%s", good);
	for (i = 1; i < SAKSI_NOTE_MAX_SIGS; i++)
		append_sigline(buf, "w.example", raw, 5);
	assert_int_equal(open_str(buf, &k.v), SAKSI_OK);
	append_sigline(buf, "w.example", raw, 5);
	assert_int_equal(open_str(buf, &k.v), SAKSI_ERR_TOO_LARGE);

	key_free(&k);
	key_free(&w1);
	key_free(&w2);
	key_free(&twin);
}

/* ---- checkpoints ---- */

static void
test_checkpoint_round_trip(void **state)
{
	const struct fixture *fx = *state;
	const uint64_t sizes[] = { 0, 1, 9, 10, 1000000, UINT64_MAX - 1, UINT64_MAX };
	saksi_checkpoint c, back;
	char out[512];
	uint8_t rnd[32 * 64];
	size_t n, i;

	randombytes_buf_deterministic(rnd, sizeof rnd, fx->seed);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		memset(&c, 0, sizeof c);
		snprintf(c.ck_origin, sizeof c.ck_origin, "example.com/log%zu", i);
		c.ck_size = sizes[i];
		memcpy(c.ck_root, rnd + 32 * i, 32);
		assert_int_equal(saksi_checkpoint_format(&c, out, sizeof out, &n), SAKSI_OK);
		assert_int_equal(n, strlen(out));
		assert_int_equal(saksi_checkpoint_parse(out, n, &back), SAKSI_OK);
		assert_memory_equal(&back, &c, sizeof c);
		/* exact fit, and every size short of it */
		for (size_t o = 0; o <= n; o++)
			assert_int_equal(saksi_checkpoint_format(&c, out, o, &n), SAKSI_ERR_TOO_LARGE);
		assert_int_equal(saksi_checkpoint_format(&c, out, n + 1, &n), SAKSI_OK);
	}
	assert_int_equal(saksi_checkpoint_format(&c, out, sizeof out, &n), SAKSI_OK);
	assert_true(strncmp(strchr(out, '\n'), "\n18446744073709551615\n", 22) == 0);
	memset(&c, 0, sizeof c);
	assert_int_equal(saksi_checkpoint_format(&c, out, sizeof out, &n), SAKSI_ERR_INVAL);
	strcpy(c.ck_origin, "a b");
	assert_int_equal(saksi_checkpoint_format(&c, out, sizeof out, &n), SAKSI_ERR_INVAL);
	memset(c.ck_origin, 'a', sizeof c.ck_origin); /* not terminated */
	assert_int_equal(saksi_checkpoint_format(&c, out, sizeof out, &n), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_checkpoint_format(NULL, out, sizeof out, &n), SAKSI_ERR_INVAL);
}

static saksi_err
ck_parse(const char *s)
{
	saksi_checkpoint c;

	return saksi_checkpoint_parse(s, strlen(s), &c);
}

static void
test_checkpoint_malformed(void **state)
{
#define R44 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	char buf[1024];
	saksi_checkpoint c;

	(void)state;
	assert_int_equal(ck_parse("o\n0\n" R44 "\n"), SAKSI_OK);
	assert_int_equal(ck_parse("o\n18446744073709551615\n" R44 "\n"), SAKSI_OK);
	assert_int_equal(saksi_checkpoint_parse("o\n18446744073709551615\n" R44 "\n",
	                                        strlen("o\n18446744073709551615\n" R44 "\n"),
	                                        &c),
	                 SAKSI_OK);
	assert_true(c.ck_size == UINT64_MAX);

	/* size */
	assert_int_equal(ck_parse("o\n01\n" R44 "\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n00\n" R44 "\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n18446744073709551616\n" R44 "\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n99999999999999999999\n" R44 "\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n100000000000000000000\n" R44 "\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n\n" R44 "\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n+1\n" R44 "\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n-1\n" R44 "\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n 1\n" R44 "\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n1 \n" R44 "\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n0x1\n" R44 "\n"), SAKSI_ERR_FORMAT);
	/* root: 43 and 45 chars, no padding, bad base64, non-canonical bits, 33 bytes */
	assert_int_equal(ck_parse("o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n"),
	                 SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n1\n" R44 "=\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA\n"),
	                 SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF*=\n"),
	                 SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n1\n47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"),
	                 SAKSI_ERR_FORMAT); /* base64url is not the standard alphabet */
	assert_int_equal(ck_parse("o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n"),
	                 SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n1\n\n"), SAKSI_ERR_FORMAT);
	/* lines: extension line, missing final LF, CRLF, blank line, missing lines */
	assert_int_equal(ck_parse("o\n1\n" R44 "\next\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n1\n" R44 "\n\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n1\n" R44), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n1\n" R44 "\r\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\r\n1\n" R44 "\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n1\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("o\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse(""), SAKSI_ERR_FORMAT);
	/* origin */
	assert_int_equal(ck_parse("\n1\n" R44 "\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("a b\n1\n" R44 "\n"), SAKSI_ERR_FORMAT);
	assert_int_equal(ck_parse("a+b\n1\n" R44 "\n"), SAKSI_ERR_FORMAT);
	memset(buf, 'o', SAKSI_ORIGIN_MAX);
	snprintf(buf + SAKSI_ORIGIN_MAX, sizeof buf - SAKSI_ORIGIN_MAX, "\n1\n" R44 "\n");
	assert_int_equal(ck_parse(buf), SAKSI_OK);
	memset(buf, 'o', SAKSI_ORIGIN_MAX + 1);
	snprintf(buf + SAKSI_ORIGIN_MAX + 1, sizeof buf - SAKSI_ORIGIN_MAX - 1, "\n1\n" R44 "\n");
	assert_int_equal(ck_parse(buf), SAKSI_ERR_TOO_LARGE);
	/* caps and arguments */
	assert_int_equal(saksi_checkpoint_parse(buf, SAKSI_NOTE_MAX + 1, &c), SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_checkpoint_parse(NULL, 0, &c), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_checkpoint_parse("o\n0\n" R44 "\n", 3, NULL), SAKSI_ERR_INVAL);
}

static void
test_checkpoint_open(void **state)
{
	struct key k;
	saksi_checkpoint c;
	char note[SAKSI_NOTE_MAX + 1];
	size_t n;

	key_make(&k, *state, "log.example", "ckopen");
	n = sign_str(&k, "log.example\n5\n" R44 "\n", note);
	assert_int_equal(saksi_checkpoint_open(note, n, &k.v, &c), SAKSI_OK);
	assert_string_equal(c.ck_origin, "log.example");
	assert_int_equal(c.ck_size, 5);
	/* origin is not the key's name */
	n = sign_str(&k, "other.example\n5\n" R44 "\n", note);
	assert_int_equal(saksi_checkpoint_open(note, n, &k.v, &c), SAKSI_ERR_KEY);
	/* a well-signed note that is not a checkpoint */
	n = sign_str(&k, "log.example\n05\n" R44 "\n", note);
	assert_int_equal(saksi_checkpoint_open(note, n, &k.v, &c), SAKSI_ERR_FORMAT);
	n = sign_str(&k, "log.example\n5\n" R44 "\nextension\n", note);
	assert_int_equal(saksi_checkpoint_open(note, n, &k.v, &c), SAKSI_ERR_FORMAT);
	/* signature first: a tampered size is a signature failure */
	n = sign_str(&k, "log.example\n5\n" R44 "\n", note);
	note[strlen("log.example\n")] = '6';
	assert_int_equal(saksi_checkpoint_open(note, n, &k.v, &c), SAKSI_ERR_SIGNATURE);
	assert_int_equal(saksi_checkpoint_open(NULL, n, &k.v, &c), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_checkpoint_open(note, n, NULL, &c), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_checkpoint_open(note, n, &k.v, NULL), SAKSI_ERR_INVAL);
	key_free(&k);
}

/* ---- tlog-proof ---- */

/* A tree of n leaves, a signed checkpoint over it and the tlog-proof for leaf idx. */
static void
make_proof(const struct key *k, const saksi_hash *leaves, size_t n, size_t idx,
           saksi_tlog_proof *p)
{
	saksi_checkpoint c;
	char body[512];
	size_t bl;

	memset(&c, 0, sizeof c);
	strcpy(c.ck_origin, k->name);
	c.ck_size = n;
	ref_mth(leaves, n, c.ck_root);
	assert_int_equal(saksi_checkpoint_format(&c, body, sizeof body, &bl), SAKSI_OK);
	memset(p, 0, sizeof *p);
	p->tp_index = idx;
	p->tp_proof_len = ref_path(idx, leaves, n, p->tp_proof);
	p->tp_note_len = sign_str(k, body, p->tp_note);
}

/*
 * saksi_tlog_proof_format_samenote writes the very text of saksi_tlog_proof_format, with
 * the same size checks; it only skips the note's check (a broken note passes).
 */
static void
samenote_same_text(const saksi_tlog_proof *p, const char *text, size_t n)
{
	static char out2[BUF_MAX];
	saksi_tlog_proof *q = malloc(sizeof *q);
	size_t w = 12345;

	assert_non_null(q);
	assert_int_equal(saksi_tlog_proof_format_samenote(p, NULL, out2, sizeof out2, &w),
	                 SAKSI_OK);
	assert_int_equal(w, n);
	assert_memory_equal(out2, text, n + 1);
	w = 12345;
	assert_int_equal(saksi_tlog_proof_format_samenote(p, NULL, out2, n, &w),
	                 SAKSI_ERR_TOO_LARGE);
	assert_int_equal(w, 12345);
	assert_int_equal(saksi_tlog_proof_format_samenote(NULL, NULL, out2, n, &w),
	                 SAKSI_ERR_INVAL);
	memcpy(q, p, sizeof *q);
	q->tp_proof_len = SAKSI_MERKLE_MAX_PROOF + 1;
	assert_int_equal(saksi_tlog_proof_format_samenote(q, NULL, out2, sizeof out2, &w),
	                 SAKSI_ERR_INVAL);
	memcpy(q, p, sizeof *q);
	q->tp_note_len = 5;   /* the origin's first bytes: no checkpoint, no signature */
	q->tp_note[5] = '\0';
	assert_int_equal(saksi_tlog_proof_format(q, out2, sizeof out2, &w), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_tlog_proof_format_samenote(q, NULL, out2, sizeof out2, &w),
	                 SAKSI_OK);
	free(q);
}

static void
proof_round_trip(saksi_tlog_proof *p)
{
	static char out[BUF_MAX];
	saksi_tlog_proof *back = malloc(sizeof *back);
	size_t n = 0;

	assert_non_null(back);
	assert_int_equal(saksi_tlog_proof_format(p, out, sizeof out, &n), SAKSI_OK);
	assert_int_equal(n, strlen(out));
	assert_true(n <= SAKSI_TLOG_PROOF_MAX);
	assert_int_equal(saksi_tlog_proof_parse(out, n, back), SAKSI_OK);
	assert_int_equal(back->tp_has_extra, p->tp_has_extra);
	assert_int_equal(back->tp_extra_len, p->tp_extra_len);
	assert_memory_equal(back->tp_extra, p->tp_extra, p->tp_extra_len);
	assert_true(back->tp_index == p->tp_index);
	assert_int_equal(back->tp_proof_len, p->tp_proof_len);
	assert_memory_equal(back->tp_proof, p->tp_proof, 32 * p->tp_proof_len);
	assert_int_equal(back->tp_note_len, p->tp_note_len);
	assert_memory_equal(back->tp_note, p->tp_note, p->tp_note_len);
	assert_int_equal(back->tp_note[back->tp_note_len], '\0');
	/* every output size short of the text is refused, wherever the text stops */
	for (size_t o = 0; o <= n; o += o < 700 ? 1 : 97) {
		size_t w = 12345;

		assert_int_equal(saksi_tlog_proof_format(p, out, o, &w), SAKSI_ERR_TOO_LARGE);
		assert_int_equal(w, 12345);
	}
	assert_int_equal(saksi_tlog_proof_format(p, out, n, &n), SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_tlog_proof_format(p, out, n + 1, &n), SAKSI_OK);
	samenote_same_text(p, out, n);
	free(back);
}

/*
 * A receipt after receipt through one saksi_proof_b64, as the committer formats a group's:
 * the text is the plain formatter's for every leaf of trees of several sizes, in order,
 * backwards and from one tree to the next; a cache that lies (hash and base64 disagree)
 * shows that equal hashes are what is copied, and a refused format leaves it alone.
 */
static void
test_tlog_proof_b64_cache(void **state)
{
	const struct fixture *fx = *state;
	saksi_tlog_proof *p = malloc(sizeof *p);
	saksi_proof_b64 *pb = calloc(1, sizeof *pb);
	saksi_hash leaves[70];
	static const size_t sizes[] = { 1, 2, 3, 13, 64, 70 };
	char *a = malloc(BUF_MAX), *b = malloc(BUF_MAX);
	size_t na, nb, copied = 0, si, i, j;
	struct key k;

	assert_non_null(p);
	assert_non_null(pb);
	assert_non_null(a);
	assert_non_null(b);
	key_make(&k, fx, "log.example/cache", "cache");
	for (i = 0; i < 70; i++)
		ref_leaf(leaves[i], i);
	for (si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
		for (j = 0; j < 2 * sizes[si]; j++) {
			i = j < sizes[si] ? j : 2 * sizes[si] - 1 - j;
			make_proof(&k, leaves, sizes[si], i, p);
			p->tp_has_extra = (i & 1) != 0;
			p->tp_extra_len = p->tp_has_extra ? 42 : 0;
			for (size_t x = 0; x < p->tp_proof_len && x < pb->pb_n; x++)
				copied += memcmp(pb->pb_hash[pb->pb_n - 1 - x],
				                 p->tp_proof[p->tp_proof_len - 1 - x], 32) == 0;
			assert_int_equal(saksi_tlog_proof_format(p, a, BUF_MAX, &na), SAKSI_OK);
			assert_int_equal(saksi_tlog_proof_format_samenote(p, pb, b, BUF_MAX, &nb),
			                 SAKSI_OK);
			assert_int_equal(na, nb);
			assert_memory_equal(a, b, na + 1);
			assert_int_equal(pb->pb_n, p->tp_proof_len);
		}
	assert_true(copied > 100);   /* the cache was used, not only filled */

	/* Refused (too small): the cache keeps the last path. */
	make_proof(&k, leaves, 70, 5, p);
	assert_int_equal(saksi_tlog_proof_format_samenote(p, pb, b, BUF_MAX, &nb), SAKSI_OK);
	assert_int_equal(saksi_tlog_proof_format_samenote(p, pb, b, 20, &nb),
	                 SAKSI_ERR_TOO_LARGE);
	assert_int_equal(pb->pb_n, p->tp_proof_len);
	assert_memory_equal(pb->pb_hash, p->tp_proof, 32 * p->tp_proof_len);
	/* A lying entry is copied only where its hash is equal. */
	memset(pb->pb_b64[0], 'A', sizeof pb->pb_b64[0]);
	assert_int_equal(saksi_tlog_proof_format_samenote(p, pb, b, BUF_MAX, &nb), SAKSI_OK);
	assert_non_null(strstr(b, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"));
	pb->pb_hash[0][0] ^= 1;
	memset(pb->pb_b64[0], 'A', sizeof pb->pb_b64[0]);
	assert_int_equal(saksi_tlog_proof_format_samenote(p, pb, b, BUF_MAX, &nb), SAKSI_OK);
	assert_int_equal(saksi_tlog_proof_format(p, a, BUF_MAX, &na), SAKSI_OK);
	assert_memory_equal(a, b, na + 1);
	free(a);
	free(b);
	free(pb);
	free(p);
}

static void
test_tlog_proof_round_trip(void **state)
{
	const struct fixture *fx = *state;
	saksi_tlog_proof *p = malloc(sizeof *p);
	saksi_hash leaves[13];
	struct key k;
	char *out = malloc(BUF_MAX);
	size_t n;

	assert_non_null(p);
	assert_non_null(out);
	key_make(&k, fx, "log.example/rt", "rt");
	for (size_t i = 0; i < 13; i++)
		ref_leaf(leaves[i], i);
	make_proof(&k, leaves, 13, 6, p);
	proof_round_trip(p);
	/* with the spec's example layout: first lines, then a blank line, then the note */
	assert_int_equal(saksi_tlog_proof_format(p, out, BUF_MAX, &n), SAKSI_OK);
	assert_true(strncmp(out, "c2sp.org/tlog-proof@v1\nindex 6\n", 31) == 0);
	assert_non_null(strstr(out, "=\n\nlog.example/rt\n13\n"));

	p->tp_has_extra = 1;
	p->tp_extra_len = 42;
	randombytes_buf_deterministic(p->tp_extra, 42, fx->seed);
	proof_round_trip(p);
	p->tp_extra_len = sizeof p->tp_extra;
	proof_round_trip(p);
	p->tp_extra_len = 1;
	proof_round_trip(p);

	/* no proof lines (a tree of one), the full 64, index 0 and UINT64_MAX */
	make_proof(&k, leaves, 1, 0, p);
	assert_int_equal(p->tp_proof_len, 0);
	proof_round_trip(p);
	p->tp_proof_len = SAKSI_MERKLE_MAX_PROOF;
	randombytes_buf_deterministic(p->tp_proof, sizeof p->tp_proof, fx->seed);
	p->tp_index = UINT64_MAX;
	proof_round_trip(p);

	/* inconsistent structs are refused by format */
	p->tp_has_extra = 1;
	p->tp_extra_len = 0;
	assert_int_equal(saksi_tlog_proof_format(p, out, BUF_MAX, &n), SAKSI_ERR_INVAL);
	p->tp_has_extra = 0;
	p->tp_extra_len = 3;
	assert_int_equal(saksi_tlog_proof_format(p, out, BUF_MAX, &n), SAKSI_ERR_INVAL);
	p->tp_has_extra = 1;
	p->tp_extra_len = sizeof p->tp_extra + 1;
	assert_int_equal(saksi_tlog_proof_format(p, out, BUF_MAX, &n), SAKSI_ERR_INVAL);
	p->tp_extra_len = 3;
	p->tp_proof_len = SAKSI_MERKLE_MAX_PROOF + 1;
	assert_int_equal(saksi_tlog_proof_format(p, out, BUF_MAX, &n), SAKSI_ERR_INVAL);
	p->tp_proof_len = 1;
	p->tp_note_len -= 1; /* the note loses its final LF */
	assert_int_equal(saksi_tlog_proof_format(p, out, BUF_MAX, &n), SAKSI_ERR_INVAL);
	p->tp_note_len = SAKSI_NOTE_MAX + 1;
	assert_int_equal(saksi_tlog_proof_format(p, out, BUF_MAX, &n), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_tlog_proof_format(NULL, out, BUF_MAX, &n), SAKSI_ERR_INVAL);

	key_free(&k);
	free(out);
	free(p);
}

/* "c2sp.org/tlog-proof@v1\nindex 2\n", nhash hash lines, sep, note. */
static void
build_proof(char *buf, size_t nhash, const char *sep, const char *note)
{
	size_t i;

	assert_true(40 + 45 * nhash + strlen(sep) + strlen(note) < BUF_MAX);
	strcpy(buf, "c2sp.org/tlog-proof@v1\nindex 2\n");
	for (i = 0; i < nhash; i++)
		strcat(buf, R44 "\n");
	strcat(buf, sep);
	strcat(buf, note);
}

static saksi_err
tp_parse(const char *s, saksi_tlog_proof *p)
{
	return saksi_tlog_proof_parse(s, strlen(s), p);
}

static void
test_tlog_proof_malformed(void **state)
{
	saksi_tlog_proof *p = malloc(sizeof *p);
	saksi_hash leaves[5];
	struct key k;
	char *good = malloc(BUF_MAX), *buf = malloc(BUF_MAX), *note;
	size_t n, i;

	assert_non_null(p);
	assert_non_null(good);
	assert_non_null(buf);
	key_make(&k, *state, "log.example", "tpbad");
	for (i = 0; i < 5; i++)
		ref_leaf(leaves[i], i);
	make_proof(&k, leaves, 5, 2, p);
	p->tp_has_extra = 1;
	p->tp_extra_len = 3;
	memcpy(p->tp_extra, "abc", 3);
	assert_int_equal(saksi_tlog_proof_format(p, good, BUF_MAX, &n), SAKSI_OK);
	assert_int_equal(tp_parse(good, p), SAKSI_OK);
	note = strstr(good, "\n\n") + 2;

	/* first line */
	strcpy(buf, good);
	subst(buf, "@v1", "@v2");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_VERSION);
	strcpy(buf, good);
	subst(buf, "c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v1 \n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v10\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_VERSION);
	strcpy(buf, good);
	subst(buf, "c2sp.org/tlog-proof@v1\n", "C2SP.org/tlog-proof@v1\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "c2sp.org/tlog-proof@v1\n", "");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	assert_int_equal(tp_parse("c2sp.org/tlog-proof@v1", p), SAKSI_ERR_FORMAT);
	assert_int_equal(tp_parse("c2sp.org/tlog-proof@v1\n", p), SAKSI_ERR_FORMAT);
	assert_int_equal(tp_parse("c2sp.org/tlog-proof@v1\nextra YWJj\n", p), SAKSI_ERR_FORMAT);
	assert_int_equal(tp_parse("c2sp.org/tlog-proof@v1\nextra YWJj", p), SAKSI_ERR_FORMAT);
	assert_int_equal(tp_parse("", p), SAKSI_ERR_FORMAT);

	/* extra */
	strcpy(buf, good);
	subst(buf, "extra YWJj\n", "extra \n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "extra YWJj\n", "extra YWJ\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "extra YWJj\n", "extra YW*j\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "extra YWJj\n", "extra  YWJj\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "extra YWJj\n", "extra YWJj\nextra YWJj\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "extra YWJj\nindex 2\n", "index 2\nextra YWJj\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	{
		uint8_t big[257];
		char line[512];

		memset(big, 7, sizeof big);
		strcpy(line, "extra ");
		sodium_bin2base64(line + 6, sizeof line - 6, big, 256,
		                  sodium_base64_VARIANT_ORIGINAL);
		strcat(line, "\n");
		strcpy(buf, good);
		subst(buf, "extra YWJj\n", line);
		assert_int_equal(tp_parse(buf, p), SAKSI_OK);
		assert_int_equal(p->tp_extra_len, 256);
		sodium_bin2base64(line + 6, sizeof line - 6, big, 257,
		                  sodium_base64_VARIANT_ORIGINAL);
		strcat(line, "\n");
		strcpy(buf, good);
		subst(buf, "extra YWJj\n", line);
		assert_int_equal(tp_parse(buf, p), SAKSI_ERR_TOO_LARGE);
		line[strlen(line) - 1] = '\0';
		strcat(line, "AAAA\n"); /* 348 chars: over the cap before decoding */
		strcpy(buf, good);
		subst(buf, "extra YWJj\n", line);
		assert_int_equal(tp_parse(buf, p), SAKSI_ERR_TOO_LARGE);
	}
	/* no extra line at all is fine */
	strcpy(buf, good);
	subst(buf, "extra YWJj\n", "");
	assert_int_equal(tp_parse(buf, p), SAKSI_OK);
	assert_int_equal(p->tp_has_extra, 0);

	/* index */
	strcpy(buf, good);
	subst(buf, "index 2\n", "index 02\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "index 2\n", "index \n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "index 2\n", "index -2\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "index 2\n", "index 18446744073709551616\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "index 2\n", "index  2\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "index 2\n", "Index 2\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "index 2\n", "");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "index 2\n", "index 0\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_OK);

	/* proof lines: 43/45 chars, bad base64 */
	strcpy(buf, good);
	subst(buf, "=\n\n", "\n\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "=\n\n", "==\n\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "=\n\n", "*\n\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "index 2\n", "index 2\n\n"); /* the blank line moves before the proof */
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);

	/* the cap on proof lines: SAKSI_MERKLE_MAX_PROOF pass, one more is refused */
	build_proof(buf, SAKSI_MERKLE_MAX_PROOF, "\n", note);
	assert_int_equal(tp_parse(buf, p), SAKSI_OK);
	assert_int_equal(p->tp_proof_len, SAKSI_MERKLE_MAX_PROOF);
	build_proof(buf, SAKSI_MERKLE_MAX_PROOF + 1, "\n", note);
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_TOO_LARGE);
	build_proof(buf, 400, "\n", note);
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_TOO_LARGE);

	/* missing blank line before the checkpoint, with and without proof lines */
	build_proof(buf, 2, "", note);
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	build_proof(buf, 0, "", note);
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	build_proof(buf, 2, "\n", "");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	build_proof(buf, 2, "", "");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	build_proof(buf, 2, "\n\n", note);
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);

	/* the note: trailing garbage, no final LF, not a checkpoint, unsigned, too large */
	snprintf(buf, BUF_MAX, "%sx", good);
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	snprintf(buf, BUF_MAX, "%s\n", good);
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_tlog_proof_parse(good, strlen(good) - 1, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "\n5\n", "\n05\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	subst(buf, "\n5\n", "\n5\nextension\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	strcpy(buf, good);
	*strstr(buf, "\n\n\xe2") = '\0'; /* the checkpoint body with no signature */
	strcat(buf, "\n");
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	{
		char *huge = malloc(SAKSI_TLOG_PROOF_MAX + 2);

		assert_non_null(huge);
		/* a note of SAKSI_NOTE_MAX + 1 bytes behind a short header */
		n = (size_t)snprintf(huge, SAKSI_TLOG_PROOF_MAX, "c2sp.org/tlog-proof@v1\nindex 2\n\n");
		memset(huge + n, 'a', SAKSI_NOTE_MAX + 1);
		huge[n + SAKSI_NOTE_MAX + 1] = '\0';
		assert_int_equal(tp_parse(huge, p), SAKSI_ERR_TOO_LARGE);
		memset(huge, 'a', SAKSI_TLOG_PROOF_MAX + 1);
		assert_int_equal(saksi_tlog_proof_parse(huge, SAKSI_TLOG_PROOF_MAX + 1, p),
		                 SAKSI_ERR_TOO_LARGE);
		free(huge);
	}
	assert_int_equal(saksi_tlog_proof_parse(NULL, 0, p), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_tlog_proof_parse(good, strlen(good), NULL), SAKSI_ERR_INVAL);

	/* a failed parse leaves nothing behind */
	assert_int_equal(tp_parse(good, p), SAKSI_OK);
	build_proof(buf, 2, "", note);
	assert_int_equal(tp_parse(buf, p), SAKSI_ERR_FORMAT);
	assert_int_equal(p->tp_proof_len, 0);
	assert_int_equal(p->tp_note_len, 0);

	key_free(&k);
	free(good);
	free(buf);
	free(p);
}

static void
test_tlog_proof_verify(void **state)
{
	saksi_tlog_proof *p = malloc(sizeof *p), *q = malloc(sizeof *q);
	saksi_hash leaves[21], leaf;
	saksi_checkpoint c;
	struct key k, other;
	char body[512];
	size_t n, idx, bl;

	assert_non_null(p);
	assert_non_null(q);
	key_make(&k, *state, "log.example", "verify");
	key_make(&other, *state, "log.example", "verify-other");
	for (size_t i = 0; i < 21; i++)
		ref_leaf(leaves[i], i);

	/* every leaf of every tree size up to 21 */
	for (n = 1; n <= 21; n++) {
		for (idx = 0; idx < n; idx++) {
			make_proof(&k, leaves, n, idx, p);
			memset(&c, 0, sizeof c);
			assert_int_equal(saksi_tlog_proof_verify(p, &k.v, leaves[idx], &c),
			                 SAKSI_OK);
			assert_int_equal(c.ck_size, n);
			assert_string_equal(c.ck_origin, "log.example");
		}
	}
	make_proof(&k, leaves, 21, 13, p);
	assert_int_equal(saksi_tlog_proof_verify(p, &k.v, leaves[13], NULL), SAKSI_OK);

	/* wrong leaf, altered proof hash, dropped or added proof line, wrong index */
	assert_int_equal(saksi_tlog_proof_verify(p, &k.v, leaves[12], NULL), SAKSI_ERR_PROOF);
	*q = *p;
	q->tp_proof[2][31] ^= 0x01;
	assert_int_equal(saksi_tlog_proof_verify(q, &k.v, leaves[13], NULL), SAKSI_ERR_PROOF);
	*q = *p;
	q->tp_proof_len--;
	assert_int_equal(saksi_tlog_proof_verify(q, &k.v, leaves[13], NULL), SAKSI_ERR_PROOF);
	*q = *p;
	memcpy(q->tp_proof[q->tp_proof_len++], leaves[0], 32);
	assert_int_equal(saksi_tlog_proof_verify(q, &k.v, leaves[13], NULL), SAKSI_ERR_PROOF);
	*q = *p;
	q->tp_index = 12;
	assert_int_equal(saksi_tlog_proof_verify(q, &k.v, leaves[13], NULL), SAKSI_ERR_PROOF);
	q->tp_index = 21;
	assert_int_equal(saksi_tlog_proof_verify(q, &k.v, leaves[13], NULL), SAKSI_ERR_RANGE);

	/* altered checkpoint: a byte of the signed text, a re-signed wrong root, wrong log */
	*q = *p;
	q->tp_note[strlen("log.example\n")] = '3'; /* size 21 -> 31 */
	assert_int_equal(saksi_tlog_proof_verify(q, &k.v, leaves[13], NULL),
	                 SAKSI_ERR_SIGNATURE);
	*q = *p;
	memset(&c, 0, sizeof c);
	strcpy(c.ck_origin, "log.example");
	c.ck_size = 21;
	ref_mth(leaves, 20, c.ck_root);
	assert_int_equal(saksi_checkpoint_format(&c, body, sizeof body, &bl), SAKSI_OK);
	q->tp_note_len = sign_str(&k, body, q->tp_note);
	assert_int_equal(saksi_tlog_proof_verify(q, &k.v, leaves[13], NULL), SAKSI_ERR_PROOF);
	assert_int_equal(saksi_tlog_proof_verify(p, &other.v, leaves[13], NULL),
	                 SAKSI_ERR_SIGNATURE);
	/* a proof that survives text round trip still verifies; the text altered does not */
	{
		char *txt = malloc(BUF_MAX);

		assert_non_null(txt);
		assert_int_equal(saksi_tlog_proof_format(p, txt, BUF_MAX, &bl), SAKSI_OK);
		assert_int_equal(saksi_tlog_proof_parse(txt, bl, q), SAKSI_OK);
		assert_int_equal(saksi_tlog_proof_verify(q, &k.v, leaves[13], &c), SAKSI_OK);
		/* one base64 char of the first proof hash, still valid base64 */
		char *c5 = txt + strlen("c2sp.org/tlog-proof@v1\nindex 13\n") + 5;

		*c5 = *c5 == 'A' ? 'B' : 'A';
		assert_int_equal(saksi_tlog_proof_parse(txt, bl, q), SAKSI_OK);
		assert_int_equal(saksi_tlog_proof_verify(q, &k.v, leaves[13], &c),
		                 SAKSI_ERR_PROOF);
		free(txt);
	}

	/* the leaf hash of the empty tree's neighbour: an empty tree proves nothing */
	make_proof(&k, leaves, 1, 0, p);
	p->tp_index = 0;
	ref_leaf(leaf, 99);
	assert_int_equal(saksi_tlog_proof_verify(p, &k.v, leaf, NULL), SAKSI_ERR_PROOF);

	assert_int_equal(saksi_tlog_proof_verify(NULL, &k.v, leaf, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_tlog_proof_verify(p, NULL, leaf, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_tlog_proof_verify(p, &k.v, NULL, NULL), SAKSI_ERR_INVAL);
	p->tp_proof_len = SAKSI_MERKLE_MAX_PROOF + 1;
	assert_int_equal(saksi_tlog_proof_verify(p, &k.v, leaf, NULL), SAKSI_ERR_INVAL);
	key_free(&k);
	key_free(&other);
	free(p);
	free(q);
}

static int
group_setup(void **state)
{
	struct fixture *fx = malloc(sizeof *fx);
	const char *env = getenv("SAKSI_TEST_SEED");
	char hex[65];
	size_t n;

	if (fx == NULL || sodium_init() < 0)
		return -1;
	if (env != NULL) {
		if (sodium_hex2bin(fx->seed, sizeof fx->seed, env, strlen(env), NULL, &n, NULL) != 0 ||
		    n != sizeof fx->seed)
			return -1;
	} else
		randombytes_buf(fx->seed, sizeof fx->seed);
	sodium_bin2hex(hex, sizeof hex, fx->seed, sizeof fx->seed);
	print_message("note_test seed: SAKSI_TEST_SEED=%s\n", hex);
	*state = fx;
	return 0;
}

static int
group_teardown(void **state)
{
	free(*state);
	return 0;
}

/* libsodium 1.0.18 decodes bytes >= 0x80 as '/': such spellings must be refused (fuzz_note). */
static void
test_b64_high_bit(void **state)
{
	char t[] = "log.example/x\n0\n47DEQpj8HBSa+\xb7TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
	char ok[] = "log.example/x\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
	saksi_checkpoint c;
	saksi_note_verifier v;

	(void)state;
	assert_int_equal(saksi_checkpoint_parse(ok, strlen(ok), &c), SAKSI_OK);
	assert_int_equal(saksi_checkpoint_parse(t, strlen(t), &c), SAKSI_ERR_FORMAT);
	assert_int_not_equal(saksi_note_vkey_parse(
	    "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2\xeb", &v), SAKSI_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_high_bit),
		cmocka_unit_test(test_vector1_spec_example),
		cmocka_unit_test(test_vector2_go_signer),
		cmocka_unit_test(test_empty_tree_checkpoint),
		cmocka_unit_test(test_vkey_round_trip_and_errors),
		cmocka_unit_test(test_key_names),
		cmocka_unit_test(test_sign_errors),
		cmocka_unit_test(test_open_malformed),
		cmocka_unit_test(test_open_signature_lines),
		cmocka_unit_test(test_checkpoint_round_trip),
		cmocka_unit_test(test_checkpoint_malformed),
		cmocka_unit_test(test_checkpoint_open),
		cmocka_unit_test(test_tlog_proof_round_trip),
		cmocka_unit_test(test_tlog_proof_b64_cache),
		cmocka_unit_test(test_tlog_proof_malformed),
		cmocka_unit_test(test_tlog_proof_verify),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
