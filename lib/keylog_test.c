/*
 * keylog_test.c: the keyring ledger entry (FORMATS.md 4, kind 4): canonical form, the
 * strict parser (every malformed body refused), the differences a reviewer is shown, and
 * verification of real ledgers (real LMDB, keys, signatures) against the keyring history
 * they record: a doctored history is caught at the entry it concerns.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "bytes.h"
#include "envelope.h"
#include "keylog.h"
#include "keys.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"
#include "verify.h"
#include "../tests/ledger_fixture.h"
#include "../tests/testutil.h"

#define ORIGIN "test.saksi.example/keylog"
#define BRANCH "KC-TEST"
#define T0 1718000000000ull

struct keys {
	saksi_seckey *log;
	saksi_seckey *prod[2];
	saksi_note_verifier v;
	char vkey[SAKSI_VKEY_MAX + 1];
	char b64[2][SAKSI_PUBKEY_B64_LEN + 1];
	char id[2][2 * SAKSI_KEYID_LEN + 1];
};

static struct keys K;

static int
group_setup(void **state)
{
	uint8_t seed[32];
	saksi_pubkey pub;
	int i;

	(void)state;
	assert_true(sodium_init() >= 0);
	/* Fixed keys: the tests are deterministic, nothing random to seed. */
	for (i = 0; i < 3; i++) {
		memset(seed, 0x41 + i, sizeof(seed));
		assert_int_equal(saksi_seckey_from_secret(SAKSI_KEY_SIGN, seed,
		    i == 0 ? &K.log : &K.prod[i - 1]), SAKSI_OK);
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(saksi_seckey_public(K.prod[i], &pub), SAKSI_OK);
		assert_int_equal(saksi_pubkey_encode(&pub, K.b64[i], sizeof(K.b64[i])), SAKSI_OK);
		sodium_bin2hex(K.id[i], sizeof(K.id[i]), pub.pk_id, SAKSI_KEYID_LEN);
	}
	assert_int_equal(saksi_seckey_public(K.log, &pub), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format(ORIGIN, pub.pk_key, K.vkey, sizeof(K.vkey)),
	    SAKSI_OK);
	assert_int_equal(saksi_note_vkey_parse(K.vkey, &K.v), SAKSI_OK);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	saksi_seckey_free(K.log);
	saksi_seckey_free(K.prod[0]);
	saksi_seckey_free(K.prod[1]);
	return 0;
}

/* How a keyring differs from the standard one (both keys, role queue, branch BRANCH). */
struct krspec {
	int only_first;       /* producer 1 left out */
	const char *role1;    /* producer 1's role (default queue) */
	const char *branch0;  /* producer 0's branch (default BRANCH) */
	const char *rev0;     /* producer 0's revoked_ms text (default null) */
	const char *queue;    /* the queue role's patterns (default ["queue.*"]) */
};

/* A keyring file's text, written loosely (spaces, keys in reverse id order). */
static char *
keyring_json(const struct krspec *s)
{
	char *j = malloc(8192);
	char k1[1024] = "";

	assert_non_null(j);
	if (!s->only_first)
		snprintf(k1, sizeof(k1),
		    "{\"name\": \"kiosk-2\", \"key_id\": \"%s\", \"public_key\": \"%s\", "
		    "\"role\": \"%s\", \"branch\": \"" BRANCH "\", \"revoked_ms\": null}, ",
		    K.id[1], K.b64[1], s->role1 ? s->role1 : "queue");
	snprintf(j, 8192,
	    "{\"saksi_keyring\": 1,\n \"roles\": {\"queue\": %s, \"claim\": [\"claim.*\"]},\n"
	    " \"keys\": [%s{\"name\": \"kiosk-1\", \"key_id\": \"%s\", \"public_key\": \"%s\", "
	    "\"role\": \"queue\", \"branch\": \"%s\", \"revoked_ms\": %s}]}\n",
	    s->queue ? s->queue : "[\"queue.*\"]", k1, K.id[0], K.b64[0],
	    s->branch0 ? s->branch0 : BRANCH, s->rev0 ? s->rev0 : "null");
	return j;
}

static uint8_t *
body_of(const struct krspec *s, size_t *len)
{
	char *j = keyring_json(s), err[256] = "";
	uint8_t *b = NULL;

	if (saksi_keylog_encode(j, strlen(j), &b, len, err, sizeof(err)) != SAKSI_OK)
		fail_msg("encode: %s\n%s", err, j);
	free(j);
	return b;
}

static saksi_keyring *
keyring_of(const struct krspec *s)
{
	char *j = keyring_json(s), err[256] = "";
	saksi_keyring *kr = NULL;

	if (saksi_keyring_parse(j, strlen(j), &kr, err, sizeof(err)) != SAKSI_OK)
		fail_msg("keyring: %s\n%s", err, j);
	free(j);
	return kr;
}


/* ---- a keyring over several entries (version 2 parts) ---- */

#define MANY_ROLES "{\"queue\": [\"queue.*\"], \"claim\": [\"claim.*\"]}"

/* Keys from..to of a national keyring, fixed seeds (nothing random), written loosely. */
static char *
many_json_prod(size_t from, size_t to, const char *roles, int prod)
{
	size_t cap = 256 + (to - from) * 256, n = 0, i;
	char *j = malloc(cap);
	uint8_t seed[32];
	saksi_seckey *sk;
	saksi_pubkey pub;
	char b64[SAKSI_PUBKEY_B64_LEN + 1], id[2 * SAKSI_KEYID_LEN + 1];

	assert_non_null(j);
	n += (size_t)snprintf(j + n, cap - n, "{\"saksi_keyring\": 1, \"roles\": %s, \"keys\": [",
	    roles ? roles : MANY_ROLES);
	for (i = from; i < to; i++) {
		memset(seed, 0, sizeof(seed));
		saksi_put_u64(seed, i + 1);
		assert_int_equal(saksi_seckey_from_secret(SAKSI_KEY_SIGN, seed, &sk), SAKSI_OK);
		assert_int_equal(saksi_seckey_public(sk, &pub), SAKSI_OK);
		saksi_seckey_free(sk);
		assert_int_equal(saksi_pubkey_encode(&pub, b64, sizeof(b64)), SAKSI_OK);
		sodium_bin2hex(id, sizeof(id), pub.pk_id, SAKSI_KEYID_LEN);
		n += (size_t)snprintf(j + n, cap - n, "%s{\"name\": \"kiosk-%04zu\", \"key_id\": "
		    "\"%s\", \"public_key\": \"%s\", \"role\": \"%s\", \"branch\": \"KC-%03zu\", "
		    "\"revoked_ms\": %s}", i > from ? ", " : "", i, id, b64,
		    i % 3 ? "queue" : "claim", i % 300, i % 7 ? "null" : "1718000000000");
	}
	for (i = 0; i < 2; i++)
		if (prod & (1 << i))
			n += (size_t)snprintf(j + n, cap - n, "%s{\"name\": \"kiosk-%zu\", \"key_id\": "
			    "\"%s\", \"public_key\": \"%s\", \"role\": \"queue\", \"branch\": \""
			    BRANCH "\", \"revoked_ms\": null}", n > 0 && j[n - 1] != '[' ? ", " : "",
			    i + 1, K.id[i], K.b64[i]);
	snprintf(j + n, cap - n, "]}\n");
	return j;
}

static char *
many_json(size_t from, size_t to, const char *roles)
{
	return many_json_prod(from, to, roles, 0);
}

static void
check_split(size_t nkeys, size_t want_parts)
{
	saksi_keylog_parts p;
	saksi_keyring *kr = NULL, *part;
	char *j = many_json(0, nkeys, NULL), *c = NULL, *jc = NULL, err[256] = "";
	size_t clen, jclen, i, sum = 0, bad = 99;
	unsigned ix, cnt;

	assert_int_equal(saksi_keylog_split(j, strlen(j), &p, err, sizeof(err)), SAKSI_OK);
	printf("# %zu keys: %zu part(s)\n", nkeys, p.kp_n);
	if (want_parts > 0)
		assert_int_equal(p.kp_n, want_parts);
	assert_int_equal(saksi_keylog_canon(j, strlen(j), &c, &clen, NULL, 0), SAKSI_OK);
	for (i = 0; i < p.kp_n; i++) {
		assert_true(p.kp_len[i] <= SAKSI_KEYLOG_MAX);
		assert_int_equal(saksi_keylog_part_hdr(p.kp_body[i], p.kp_len[i], &ix, &cnt, NULL,
		    0), SAKSI_OK);
		assert_int_equal(ix, i + 1);
		assert_int_equal(cnt, p.kp_n);
		if (p.kp_n == 1) {
			/* One part is today's version 1 body, byte for byte. */
			assert_int_equal(p.kp_body[0][0], SAKSI_KEYLOG_VERSION);
			assert_int_equal(p.kp_len[0], 1 + clen);
			assert_memory_equal(p.kp_body[0] + 1, c, clen);
			continue;
		}
		assert_int_equal(p.kp_body[i][0], SAKSI_KEYLOG_VERSION_PART);
		/* A key is never split: every part is a keyring by itself. */
		assert_int_equal(saksi_keyring_parse((const char *)p.kp_body[i] +
		    SAKSI_KEYLOG_PART_HDR, p.kp_len[i] - SAKSI_KEYLOG_PART_HDR, &part, err,
		    sizeof(err)), SAKSI_OK);
		sum += saksi_keyring_count(part);
		saksi_keyring_free(part);
		/* Greedy: a part other than the last has no room for the next key (~250). */
		if (i + 1 < p.kp_n)
			assert_true(p.kp_len[i] > SAKSI_KEYLOG_MAX - 400);
		/* A version 1 parse refuses a part: it is not a keyring on its own. */
		assert_int_equal(saksi_keylog_parse(p.kp_body[i], p.kp_len[i], NULL, NULL, 0),
		    SAKSI_ERR_VERSION);
	}
	if (p.kp_n > 1)
		assert_int_equal(sum, nkeys);
	assert_int_equal(saksi_keylog_join((const uint8_t *const *)p.kp_body, p.kp_len, p.kp_n,
	    &kr, &jc, &jclen, &bad, err, sizeof(err)), SAKSI_OK);
	assert_int_equal(saksi_keyring_count(kr), nkeys);
	assert_int_equal(jclen, clen);
	assert_memory_equal(jc, c, clen);
	saksi_keyring_free(kr);
	saksi_keylog_parts_free(&p);
	assert_int_equal(p.kp_n, 0);
	free(jc);
	free(c);
	free(j);
}

static void
test_split_join(void **state)
{
	(void)state;
	check_split(2, 1);
	check_split(200, 1);
	check_split(400, 2);
	check_split(1500, 0);
	saksi_keylog_parts_free(NULL);
}

/* A part body: header || the canonical JSON of keys from..to under roles. */
static uint8_t *
part_of(size_t from, size_t to, const char *roles, unsigned ix, unsigned cnt, size_t *len)
{
	char *j = many_json(from, to, roles), *c;
	size_t clen;
	uint8_t *b;

	assert_int_equal(saksi_keylog_canon(j, strlen(j), &c, &clen, NULL, 0), SAKSI_OK);
	b = malloc(SAKSI_KEYLOG_PART_HDR + clen);
	assert_non_null(b);
	b[0] = SAKSI_KEYLOG_VERSION_PART;
	saksi_put_u16(b + 1, (uint16_t)ix);
	saksi_put_u16(b + 3, (uint16_t)cnt);
	memcpy(b + SAKSI_KEYLOG_PART_HDR, c, clen);
	*len = SAKSI_KEYLOG_PART_HDR + clen;
	free(c);
	free(j);
	return b;
}

static void
test_join_doctored(void **state)
{
	saksi_keylog_parts p;
	char *j = many_json(0, 1500, NULL), err[256];
	const uint8_t *b[8];
	size_t l[8], bad, n, i;
	uint8_t *x, *y, hdr[5] = { 2, 0, 1, 0, 2 };
	saksi_keyring *kr = (saksi_keyring *)&K;
	unsigned ix, cnt;
	(void)state;

	assert_int_equal(saksi_keylog_split(j, strlen(j), &p, NULL, 0), SAKSI_OK);
	n = p.kp_n;
	assert_true(n >= 4 && n <= 8);
	/* A part missing (the last, or one in the middle): the count says so. */
	assert_int_equal(saksi_keylog_join((const uint8_t *const *)p.kp_body, p.kp_len, n - 1,
	    &kr, NULL, NULL, &bad, err, sizeof(err)), SAKSI_ERR_FORMAT);
	assert_null(kr);
	assert_int_equal(bad, 0);
	for (i = 0; i + 1 < n; i++) {
		b[i] = p.kp_body[i < 1 ? i : i + 1];
		l[i] = p.kp_len[i < 1 ? i : i + 1];
	}
	assert_int_equal(saksi_keylog_join(b, l, n - 1, NULL, NULL, NULL, &bad, err,
	    sizeof(err)), SAKSI_ERR_FORMAT);
	/* Reordered: parts 2 and 3 swapped. */
	for (i = 0; i < n; i++) {
		b[i] = p.kp_body[i];
		l[i] = p.kp_len[i];
	}
	b[1] = p.kp_body[2], l[1] = p.kp_len[2];
	b[2] = p.kp_body[1], l[2] = p.kp_len[1];
	assert_int_equal(saksi_keylog_join(b, l, n, NULL, NULL, NULL, &bad, err, sizeof(err)),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(err, "part 3 of"));
	/* Duplicated: part 2 again in part 3's place. */
	b[1] = p.kp_body[1], l[1] = p.kp_len[1];
	b[2] = p.kp_body[1], l[2] = p.kp_len[1];
	assert_int_equal(saksi_keylog_join(b, l, n, NULL, NULL, NULL, &bad, err, sizeof(err)),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(bad, 2);
	/* A lone part is no keyring; nor an empty or oversize body. */
	assert_int_equal(saksi_keylog_join(b, l, 1, NULL, NULL, NULL, &bad, err, sizeof(err)),
	    SAKSI_ERR_VERSION);
	l[2] = SAKSI_KEYLOG_MAX + 1;
	assert_int_equal(saksi_keylog_join(b, l, n, NULL, NULL, NULL, &bad, err, sizeof(err)),
	    SAKSI_ERR_TOO_LARGE);
	assert_int_equal(bad, 2);
	assert_int_equal(saksi_keylog_join(b, l, 0, NULL, NULL, NULL, &bad, err, sizeof(err)),
	    SAKSI_ERR_INVAL);
	/* A part whose JSON is not a keyring. */
	b[2] = hdr, l[2] = sizeof(hdr);
	assert_int_equal(saksi_keylog_join(b, l, n, NULL, NULL, NULL, &bad, err, sizeof(err)),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(bad, 2);
	saksi_keylog_parts_free(&p);
	free(j);

	/* Not the canonical split: 400 keys in halves, each loads, numbered right. */
	x = part_of(0, 200, NULL, 1, 2, &l[0]);
	y = part_of(200, 400, NULL, 2, 2, &l[1]);
	b[0] = x, b[1] = y;
	assert_int_equal(saksi_keylog_join(b, l, 2, NULL, NULL, NULL, &bad, err, sizeof(err)),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(bad, 0);
	assert_non_null(strstr(err, "canonical split"));
	free(y);
	/* Part 2 with roles other than part 1's. */
	y = part_of(200, 400, "{\"queue\": [\"queue.*\"], \"claim\": [\"claim.x\"]}", 2, 2, &l[1]);
	b[1] = y;
	assert_int_equal(saksi_keylog_join(b, l, 2, NULL, NULL, NULL, &bad, err, sizeof(err)),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(err, "other roles"));
	free(y);
	/* The same key in both parts: the joined keyring does not load. */
	y = part_of(199, 400, NULL, 2, 2, &l[1]);
	b[1] = y;
	assert_int_equal(saksi_keylog_join(b, l, 2, NULL, NULL, NULL, &bad, err, sizeof(err)),
	    SAKSI_ERR_FORMAT);
	free(y);
	free(x);

	/* Headers. */
	assert_int_equal(saksi_keylog_part_hdr(hdr, 5, &ix, &cnt, NULL, 0), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_keylog_part_hdr(hdr, 0, &ix, &cnt, NULL, 0), SAKSI_ERR_FORMAT);
	x = part_of(0, 2, NULL, 1, 2, &l[0]);
	assert_int_equal(saksi_keylog_part_hdr(x, l[0], &ix, &cnt, NULL, 0), SAKSI_OK);
	assert_int_equal(ix, 1);
	assert_int_equal(cnt, 2);
	saksi_put_u16(x + 3, 1);   /* a set of one part is version 1, never 2 */
	assert_int_equal(saksi_keylog_part_hdr(x, l[0], &ix, &cnt, err, sizeof(err)),
	    SAKSI_ERR_FORMAT);
	saksi_put_u16(x + 1, 0);
	saksi_put_u16(x + 3, 2);
	assert_int_equal(saksi_keylog_part_hdr(x, l[0], &ix, &cnt, NULL, 0), SAKSI_ERR_FORMAT);
	saksi_put_u16(x + 1, 3);
	assert_int_equal(saksi_keylog_part_hdr(x, l[0], &ix, &cnt, NULL, 0), SAKSI_ERR_FORMAT);
	x[0] = 3;
	assert_int_equal(saksi_keylog_part_hdr(x, l[0], &ix, &cnt, NULL, 0), SAKSI_ERR_VERSION);
	free(x);

	/* One part alone (a bundle's, saksi get's check). */
	{
		size_t off = 0;
		char *loose;
		uint8_t *z;

		x = part_of(0, 2, NULL, 2, 3, &l[0]);
		assert_int_equal(saksi_keylog_entry_parse(x, l[0], &off, NULL, 0), SAKSI_OK);
		assert_int_equal(off, SAKSI_KEYLOG_PART_HDR);
		saksi_put_u16(x + 3, 1);
		assert_int_equal(saksi_keylog_entry_parse(x, l[0], &off, NULL, 0),
		    SAKSI_ERR_FORMAT);
		x[0] = 3;
		assert_int_equal(saksi_keylog_entry_parse(x, l[0], &off, NULL, 0),
		    SAKSI_ERR_VERSION);
		free(x);
		x = part_of(0, 0, NULL, 1, 2, &l[0]);
		assert_int_equal(saksi_keylog_entry_parse(x, l[0], NULL, err, sizeof(err)),
		    SAKSI_ERR_FORMAT);
		assert_non_null(strstr(err, "without a key"));
		free(x);
		/* Not canonical: the loose text behind a valid header. */
		loose = many_json(0, 2, NULL);
		z = malloc(SAKSI_KEYLOG_PART_HDR + strlen(loose));
		assert_non_null(z);
		memcpy(z, "\2\0\1\0\2", 5);
		memcpy(z + 5, loose, strlen(loose));
		assert_int_equal(saksi_keylog_entry_parse(z, 5 + strlen(loose), NULL, err,
		    sizeof(err)), SAKSI_ERR_FORMAT);
		assert_non_null(strstr(err, "canonical"));
		free(z);
		free(loose);
		/* Oversize; a version 1 body as saksi_keylog_parse. */
		z = calloc(1, SAKSI_KEYLOG_MAX + 1);
		assert_non_null(z);
		z[0] = 2;
		assert_int_equal(saksi_keylog_entry_parse(z, SAKSI_KEYLOG_MAX + 1, NULL, NULL, 0),
		    SAKSI_ERR_TOO_LARGE);
		free(z);
		x = part_of(0, 2, NULL, 1, 2, &l[0]);
		x[4] = 1;
		x += 4;
		x[0] = 1;
		assert_int_equal(saksi_keylog_entry_parse(x, l[0] - 4, &off, NULL, 0), SAKSI_OK);
		assert_int_equal(off, 1);
		free(x - 4);
	}
}

/* ---- encoding ---- */

static void
test_canonical(void **state)
{
	struct krspec s = { 0 };
	char *j = keyring_json(&s), *c = NULL, *c2 = NULL, want[2048];
	size_t cl, cl2;
	const char *first = strcmp(K.id[0], K.id[1]) < 0 ? K.id[0] : K.id[1];
	(void)state;

	assert_int_equal(saksi_keylog_canon(j, strlen(j), &c, &cl, NULL, 0), SAKSI_OK);
	assert_int_equal(strlen(c), cl);
	/* Compact, members in byte order, keys in key id order. */
	assert_non_null(strstr(c, "{\"keys\":[{\"branch\":\"" BRANCH "\",\"key_id\":\""));
	snprintf(want, sizeof(want), "\"key_id\":\"%s\"", first);
	assert_true(strstr(c, want) < strstr(c, strcmp(first, K.id[0]) == 0 ?
	    K.id[1] : K.id[0]));
	assert_non_null(strstr(c, "],\"roles\":{\"claim\":[\"claim.*\"],\"queue\":[\"queue.*\"]}"
	    ",\"saksi_keyring\":1}"));
	assert_null(strchr(c, ' '));
	assert_null(strchr(c, '\n'));
	/* Canonical is a fixed point. */
	assert_int_equal(saksi_keylog_canon(c, cl, &c2, &cl2, NULL, 0), SAKSI_OK);
	assert_int_equal(cl, cl2);
	assert_memory_equal(c, c2, cl);
	free(c2);
	/* Patterns' order and repeats do not matter. */
	s.queue = "[\"queue.b\", \"queue.a\", \"queue.b\"]";
	free(j);
	j = keyring_json(&s);
	assert_int_equal(saksi_keylog_canon(j, strlen(j), &c2, &cl2, NULL, 0), SAKSI_OK);
	assert_non_null(strstr(c2, "\"queue\":[\"queue.a\",\"queue.b\"]"));
	free(c2);
	free(c);
	free(j);
}

static void
test_encode_parse(void **state)
{
	struct krspec s = { .rev0 = "1718000000500" };
	saksi_keyring *kr = NULL;
	const saksi_keyring_entry *ke;
	uint8_t *b;
	size_t len;
	char err[256] = "";
	(void)state;

	b = body_of(&s, &len);
	assert_int_equal(b[0], 1);
	assert_int_equal(saksi_keylog_parse(b, len, &kr, err, sizeof(err)), SAKSI_OK);
	assert_int_equal(saksi_keyring_count(kr), 2);
	ke = saksi_keyring_at(kr, 0);
	assert_non_null(ke);
	ke = saksi_keyring_find(kr, saksi_seckey_id(K.prod[0]));
	assert_non_null(ke);
	assert_int_equal(ke->ke_revoked_ms, 1718000000500ll);
	assert_string_equal(ke->ke_branch, BRANCH);
	saksi_keyring_free(kr);
	/* kr may be NULL: a check only. */
	assert_int_equal(saksi_keylog_parse(b, len, NULL, NULL, 0), SAKSI_OK);
	free(b);

	/* Bad arguments and files. */
	assert_int_equal(saksi_keylog_encode("{}", 2, NULL, &len, NULL, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_keylog_canon("{}", 2, NULL, &len, NULL, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_keylog_encode("{}", 2, &b, &len, err, sizeof(err)),
	    SAKSI_ERR_FORMAT);
	assert_null(b);
	assert_int_equal(saksi_keylog_encode("{\"saksi_keyring\":2,\"roles\":{},\"keys\":[]}",
	    40, &b, &len, err, sizeof(err)), SAKSI_ERR_VERSION);
	assert_int_equal(saksi_keylog_parse(NULL, 3, NULL, NULL, 0), SAKSI_ERR_INVAL);
}

/* A keyring too big for one leaf is refused, not cut. */
static void
test_too_large(void **state)
{
	size_t cap = 1u << 20, n = 0, i;
	char *j = malloc(cap), *c = NULL;
	uint8_t *b = NULL, *big;
	size_t len;
	char err[256] = "";
	(void)state;

	assert_non_null(j);
	/* One key with a long roles section: 900 roles of ~100 bytes each. */
	n += (size_t)snprintf(j + n, cap - n, "{\"saksi_keyring\":1,\"roles\":{");
	for (i = 0; i < 900; i++)
		n += (size_t)snprintf(j + n, cap - n, "%s\"role%04zu\":[\"a.very.long.event.type."
		    "name.that.takes.room.%04zu\",\"another.type.%04zu.*\"]", i ? "," : "", i, i, i);
	n += (size_t)snprintf(j + n, cap - n, "},\"keys\":[{\"name\":\"k\",\"key_id\":\"%s\","
	    "\"public_key\":\"%s\",\"role\":\"role0000\",\"branch\":\"*\",\"revoked_ms\":null}]}",
	    K.id[0], K.b64[0]);
	assert_int_equal(saksi_keylog_encode(j, n, &b, &len, err, sizeof(err)),
	    SAKSI_ERR_TOO_LARGE);
	assert_null(b);
	assert_non_null(strstr(err, "over the"));
	{
		saksi_keylog_parts p;
		/* Split, the one key does not fit beside the roles either. */
		assert_int_equal(saksi_keylog_split(j, n, &p, err, sizeof(err)),
		    SAKSI_ERR_TOO_LARGE);
		assert_int_equal(p.kp_n, 0);
		assert_non_null(strstr(err, "does not fit"));
	}
	/* The parser refuses a body over a leaf's room before reading it. */
	big = calloc(1, SAKSI_KEYLOG_MAX + 1);
	assert_non_null(big);
	big[0] = 1;
	assert_int_equal(saksi_keylog_parse(big, SAKSI_KEYLOG_MAX + 1, NULL, err, sizeof(err)),
	    SAKSI_ERR_TOO_LARGE);
	free(big);
	free(c);
	free(j);
}

static saksi_err
parse_text(const char *json)
{
	size_t n = strlen(json);
	uint8_t *b = malloc(n + 1);
	saksi_keyring *kr = (saksi_keyring *)&K;   /* must be reset to NULL on failure */
	saksi_err e;

	assert_non_null(b);
	b[0] = 1;
	memcpy(b + 1, json, n);
	e = saksi_keylog_parse(b, n + 1, &kr, NULL, 0);
	if (e == SAKSI_OK)
		saksi_keyring_free(kr);
	else
		assert_null(kr);
	free(b);
	return e;
}

static void
test_parse_strict(void **state)
{
	struct krspec s = { 0 };
	uint8_t *b, *m;
	size_t len, i;
	char *c, *alt;
	(void)state;

	b = body_of(&s, &len);
	m = malloc(len + 2);
	assert_non_null(m);

	/* Empty, version 0 and 2. */
	assert_int_equal(saksi_keylog_parse(b, 0, NULL, NULL, 0), SAKSI_ERR_FORMAT);
	memcpy(m, b, len);
	m[0] = 0;
	assert_int_equal(saksi_keylog_parse(m, len, NULL, NULL, 0), SAKSI_ERR_VERSION);
	m[0] = 2;
	assert_int_equal(saksi_keylog_parse(m, len, NULL, NULL, 0), SAKSI_ERR_VERSION);
	/* Every truncation. */
	for (i = 1; i < len; i++)
		assert_int_equal(saksi_keylog_parse(b, i, NULL, NULL, 0), SAKSI_ERR_FORMAT);
	/* Anything after it: a NUL, a space, a newline. */
	memcpy(m, b, len);
	m[len] = '\0';
	assert_int_equal(saksi_keylog_parse(m, len + 1, NULL, NULL, 0), SAKSI_ERR_FORMAT);
	m[len] = ' ';
	assert_int_equal(saksi_keylog_parse(m, len + 1, NULL, NULL, 0), SAKSI_ERR_FORMAT);
	m[len] = '\n';
	assert_int_equal(saksi_keylog_parse(m, len + 1, NULL, NULL, 0), SAKSI_ERR_FORMAT);
	/* Every single byte changed to a space or flipped: refused or (rarely) another
	 * canonical keyring, never a crash; a space is never canonical. */
	for (i = 1; i < len; i++) {
		memcpy(m, b, len);
		m[i] = ' ';
		assert_int_equal(saksi_keylog_parse(m, len, NULL, NULL, 0), SAKSI_ERR_FORMAT);
		m[i] = (uint8_t)(b[i] ^ 0x01);
		(void)saksi_keylog_parse(m, len, NULL, NULL, 0);
	}

	c = strndup((char *)b + 1, len - 1);
	assert_non_null(c);
	alt = malloc(len + 64);
	assert_non_null(alt);
	/* A valid keyring, not canonical: whitespace, member order. */
	assert_int_equal(parse_text("{\"saksi_keyring\":1,\"roles\":{},\"keys\":[]}"),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(parse_text("{\"keys\":[],\"roles\":{},\"saksi_keyring\":1}"), SAKSI_OK);
	assert_int_equal(parse_text("{\"keys\": [],\"roles\":{},\"saksi_keyring\":1}"),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(parse_text("{\"keys\":[],\"roles\":{},\"saksi_keyring\":1}\n"),
	    SAKSI_ERR_FORMAT);
	/* Unknown member, duplicate member, another version, not JSON, not an object. */
	assert_int_equal(parse_text("{\"extra\":1,\"keys\":[],\"roles\":{},\"saksi_keyring\":1}"),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(parse_text("{\"keys\":[],\"roles\":{},\"roles\":{},\"saksi_keyring\":1}"),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(parse_text("{\"keys\":[],\"roles\":{},\"saksi_keyring\":2}"),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(parse_text("{\"keys\":[],\"roles\":{},\"saksi_keyring\":1"),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(parse_text("[]"), SAKSI_ERR_FORMAT);
	assert_int_equal(parse_text(""), SAKSI_ERR_FORMAT);
	/* Patterns out of order or repeated; keys out of id order; upper-case hex; an
	 * escaped character that need not be. */
	assert_int_equal(parse_text("{\"keys\":[],\"roles\":{\"q\":[\"q.b\",\"q.a\"]},"
	    "\"saksi_keyring\":1}"), SAKSI_ERR_FORMAT);
	assert_int_equal(parse_text("{\"keys\":[],\"roles\":{\"q\":[\"q.a\",\"q.a\"]},"
	    "\"saksi_keyring\":1}"), SAKSI_ERR_FORMAT);
	assert_int_equal(parse_text("{\"keys\":[],\"roles\":{\"q\":[\"q.a\",\"q.b\"]},"
	    "\"saksi_keyring\":1}"), SAKSI_OK);
	assert_int_equal(parse_text("{\"keys\":[],\"roles\":{\"q\":[\"q\\u002ea\"]},"
	    "\"saksi_keyring\":1}"), SAKSI_ERR_FORMAT);
	{
		/* The canonical body with its two keys swapped. */
		const char *k0 = strstr(c, "{\"branch\""), *k1 = strstr(k0 + 1, "{\"branch\"");
		const char *end = strstr(k1, "}]");
		size_t l0 = (size_t)(k1 - 1 - k0), l1 = (size_t)(end + 1 - k1), pre = (size_t)(k0 - c);

		memcpy(alt, c, pre);
		memcpy(alt + pre, k1, l1);
		alt[pre + l1] = ',';
		memcpy(alt + pre + l1 + 1, k0, l0);
		strcpy(alt + pre + l1 + 1 + l0, end + 1);
		assert_int_equal(strlen(alt), len - 1);
		assert_int_equal(parse_text(alt), SAKSI_ERR_FORMAT);
		/* Upper-case hex in a key id. */
		strcpy(alt, c);
		for (char *p = strstr(alt, "\"key_id\":\"") + 10; *p != '"'; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
		assert_int_equal(parse_text(alt), SAKSI_ERR_FORMAT);
		/* And the canonical text itself parses. */
		strcpy(alt, c);
		assert_int_equal(parse_text(alt), SAKSI_OK);
	}
	free(alt);
	free(c);
	free(m);
	free(b);
}

/* ---- differences ---- */

static int
diff_of(const struct krspec *a, const struct krspec *b, char *out, size_t outlen)
{
	uint8_t *ba, *bb;
	size_t la, lb;
	int n;

	ba = body_of(a, &la);
	bb = body_of(b, &lb);
	n = saksi_keylog_diff((char *)ba + 1, la - 1, (char *)bb + 1, lb - 1, out, outlen);
	free(ba);
	free(bb);
	return n;
}

static void
test_diff(void **state)
{
	struct krspec led = { .rev0 = "1718000000500" }, file;
	char out[4096], want[256];
	(void)state;

	file = led;
	assert_int_equal(diff_of(&led, &file, out, sizeof(out)), 0);
	assert_string_equal(out, "");

	/* A revocation removed. */
	file.rev0 = NULL;
	assert_int_equal(diff_of(&led, &file, out, sizeof(out)), 1);
	snprintf(want, sizeof(want), "key %s (kiosk-1): revoked at 1718000000500 -> not "
	    "revoked (revocation removed)\n", K.id[0]);
	assert_string_equal(out, want);

	/* A role widened: the key's role, and a role's patterns. */
	file = led;
	file.role1 = "claim";
	assert_int_equal(diff_of(&led, &file, out, sizeof(out)), 1);
	snprintf(want, sizeof(want), "key %s (kiosk-2): role queue -> claim\n", K.id[1]);
	assert_string_equal(out, want);
	file = led;
	file.queue = "[\"queue.*\", \"claim.*\"]";
	assert_int_equal(diff_of(&led, &file, out, sizeof(out)), 1);
	assert_string_equal(out, "role queue: patterns [\"queue.*\"] -> "
	    "[\"claim.*\",\"queue.*\"]\n");

	/* A key added (file has it, the ledger does not), and the other way round. */
	led.only_first = 1;
	file = led;
	file.only_first = 0;
	assert_int_equal(diff_of(&led, &file, out, sizeof(out)), 1);
	snprintf(want, sizeof(want), "key %s (kiosk-2, role queue, branch " BRANCH "): added\n",
	    K.id[1]);
	assert_string_equal(out, want);
	assert_int_equal(diff_of(&file, &led, out, sizeof(out)), 1);
	snprintf(want, sizeof(want), "key %s (kiosk-2, role queue, branch " BRANCH
	    "): removed\n", K.id[1]);
	assert_string_equal(out, want);

	/* Several at once, a branch among them; a small buffer ends with "...", the count
	 * is still whole; out may be NULL. */
	file.branch0 = "KC-OTHER";
	file.rev0 = "1718000000900";
	assert_int_equal(diff_of(&led, &file, out, sizeof(out)), 3);
	assert_non_null(strstr(out, "branch " BRANCH " -> KC-OTHER\n"));
	assert_non_null(strstr(out, "revoked at 1718000000500 -> revoked at 1718000000900\n"));
	assert_int_equal(diff_of(&led, &file, out, 80), 3);
	assert_true(strlen(out) < 80);
	assert_non_null(strstr(out, "..."));
	assert_int_equal(diff_of(&led, &file, NULL, 0), 3);
	assert_int_equal(saksi_keylog_diff("[]", 2, "{}", 2, out, sizeof(out)), -1);
	assert_int_equal(saksi_keylog_diff(NULL, 0, "{}", 2, out, sizeof(out)), -1);
}

/* ---- verification with the ledger's keyring history ---- */

/* One ledger entry to append: an event by producer p of type, or a keyring body. */
struct ent {
	int kind;            /* SAKSI_LEAF_EVENT or SAKSI_LEAF_KEYRING */
	int p;
	const char *type;
	const char *branch;  /* the payload's branch (default BRANCH) */
	const struct krspec *kr;
	const uint8_t *raw;  /* a keyring body as is */
	size_t raw_len;
	/* Keyring bodies appended in this one group, one commit time (kind KEYRING). */
	const uint8_t *const *rawv;
	const size_t *rawl;
	size_t rawn;
};

/* Builds a ledger of n entries, one group (and checkpoint) each, in a fresh dir. */
static void
build(char *dir, size_t dirlen, const struct ent *ents, size_t n)
{
	saksi_ledger_opts o;
	saksi_ledger *l = NULL;
	saksi_ledger_txn *txn;
	uint64_t seq[2] = { 0, 0 };
	size_t i;

	assert_int_equal(tmpdir_make(dir, dirlen, "saksi-keylog"), 0);
	memset(&o, 0, sizeof(o));
	o.lo_map_size = 16u << 20;
	assert_int_equal(saksi_ledger_open(dir, ORIGIN, K.vkey, &o, &l), SAKSI_OK);
	for (i = 0; i < n; i++) {
		const struct ent *e = &ents[i];
		uint64_t ms = T0 + 1000 * (i + 1);
		assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
		if (e->kind == SAKSI_LEAF_EVENT) {
			uint8_t env[1024];
			char pl[256];
			size_t el;
			int pn = snprintf(pl, sizeof(pl), "{\"branch\":\"%s\",\"n\":%zu}",
			    e->branch ? e->branch : BRANCH, i);

			assert_int_equal(saksi_envelope_sign(K.prod[e->p], ++seq[e->p], ms - 10,
			    e->type ? e->type : "queue.booking.created", (const uint8_t *)pl,
			    (size_t)pn, env, sizeof(env), &el), SAKSI_OK);
			assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_EVENT, ms, env, el,
			    NULL, NULL), SAKSI_OK);
		} else if (e->rawn > 0) {
			size_t m;

			for (m = 0; m < e->rawn; m++)
				assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_KEYRING, ms,
				    e->rawv[m], e->rawl[m], NULL, NULL), SAKSI_OK);
		} else {
			uint8_t *b = NULL;
			size_t len = e->raw_len;

			if (e->raw == NULL)
				b = body_of(e->kr, &len);
			assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_KEYRING, ms,
			    e->raw ? e->raw : b, len, NULL, NULL), SAKSI_OK);
			free(b);
		}
		lf_put_ckpt(txn, K.log, ORIGIN, saksi_ledger_size(txn));
		assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	}
	saksi_ledger_close(l);
}

/* Verifies with the keyring file `file`; returns the result, r filled. */
static saksi_err
verify(const char *dir, const struct krspec *file, saksi_verify_report *r)
{
	saksi_ledger *l = NULL;
	saksi_verify_opts vo;
	saksi_keyring *kr = keyring_of(file);
	saksi_err e;

	l = lf_open_ro(dir);
	memset(&vo, 0, sizeof(vo));
	vo.vo_log = &K.v;
	vo.vo_keyring = kr;
	vo.vo_threads = 2;
	e = saksi_verify_ledger(l, &vo, r);
	saksi_ledger_close(l);
	saksi_keyring_free(kr);
	if (e != SAKSI_OK)
		printf("# %s\n", r->vr_message);
	return e;
}

/* The ledger in dir, verified with the file's keyring (krspec 0), is caught at entry
 * index as a keyring breach, its message holding what (NULL: not checked), and removed;
 * the report into r for more checks. */
static void
verify_breach(char *dir, uint64_t index, const char *what, saksi_verify_report *r)
{
	static const struct krspec full = { 0 };

	assert_int_equal(verify(dir, &full, r), SAKSI_ERR_CORRUPT);
	assert_int_equal(r->vr_reason, SAKSI_V_KEYRING);
	assert_int_equal(r->vr_index, index);
	if (what != NULL)
		assert_non_null(strstr(r->vr_message, what));
	rm_rf(dir);
}

#define EV(p_) { SAKSI_LEAF_EVENT, (p_), NULL, NULL, NULL, NULL, 0, NULL, NULL, 0 }
#define KR(s_) { SAKSI_LEAF_KEYRING, 0, NULL, NULL, (s_), NULL, 0, NULL, NULL, 0 }

static void
test_verify_history(void **state)
{
	static const struct krspec full = { 0 }, first = { .only_first = 1 };
	const struct ent ents[] = { EV(0), EV(1), KR(&full), EV(0), EV(1), KR(&first),
	                            EV(0), EV(0) };
	saksi_verify_report r;
	char dir[256];
	(void)state;

	build(dir, sizeof(dir), ents, sizeof(ents) / sizeof(ents[0]));
	/* Intact: before entry 2 with the file, from it on with the ledger's keyrings. */
	assert_int_equal(verify(dir, &full, &r), SAKSI_OK);
	assert_int_equal(r.vr_keyrings, 2);
	assert_int_equal(r.vr_keyring_first, 2);
	assert_int_equal(r.vr_keyring_last, 5);
	assert_int_equal(r.vr_events, 6);
	/* The file matters only before the history starts: without key 1 it fails at 1. */
	assert_int_equal(verify(dir, &first, &r), SAKSI_ERR_CORRUPT);
	assert_int_equal(r.vr_reason, SAKSI_V_UNKNOWN_KEY);
	assert_int_equal(r.vr_index, 1);
	assert_string_equal(saksi_verify_reason_name(SAKSI_V_KEYRING), "keyring");
	rm_rf(dir);
}

/* A ledger whose keyring is older than the event history (no entry): as before. */
static void
test_verify_no_history(void **state)
{
	static const struct krspec full = { 0 };
	const struct ent ents[] = { EV(0), EV(1) };
	saksi_verify_report r;
	char dir[256];
	(void)state;

	build(dir, sizeof(dir), ents, 2);
	assert_int_equal(verify(dir, &full, &r), SAKSI_OK);
	assert_int_equal(r.vr_keyrings, 0);
	assert_int_equal(r.vr_keyring_first, SAKSI_VERIFY_NO_INDEX);
	assert_int_equal(r.vr_keyring_last, SAKSI_VERIFY_NO_INDEX);
	rm_rf(dir);
}

/* Each breach of the keyring in force is caught at its event, with a clear message. */
static void
test_verify_breaches(void **state)
{
	static const struct krspec full = { 0 }, first = { .only_first = 1 },
	    other_branch = { .branch0 = "KC-OTHER" },
	    revoked_before = { .rev0 = "1718000000500" },
	    revoked_after = { .rev0 = "1718000004500" };
	saksi_verify_report r;
	char dir[256];
	(void)state;

	{
		/* Key 1 not in the keyring recorded at 1: its event at 3 is caught, even
		 * though the file (the doctored one, key added) has it. */
		const struct ent e[] = { EV(0), KR(&first), EV(0), EV(1) };
		build(dir, sizeof(dir), e, 4);
		verify_breach(dir, 3, "entry 3: producer key ", &r);
		assert_non_null(strstr(r.vr_message, "is not in the keyring recorded at entry 1"));
	}
	{
		/* A role that may not sign the type. */
		const struct ent e[] = { KR(&full), EV(0),
		    { SAKSI_LEAF_EVENT, 1, "claim.submitted", NULL, NULL, NULL, 0, NULL, NULL, 0 } };
		build(dir, sizeof(dir), e, 3);
		verify_breach(dir, 2, "(kiosk-2) has role queue, which may not "
		    "sign claim.submitted, in the keyring recorded at entry 0", &r);
	}
	{
		/* Another branch in the payload than the key's. */
		const struct ent e[] = { KR(&other_branch), EV(1), EV(0) };
		build(dir, sizeof(dir), e, 3);
		verify_breach(dir, 2, "is for branch KC-OTHER", &r);
	}
	{
		/* Revoked before the keyring entry took effect (its commit time T0 + 1000):
		 * no event of it may follow. Revoked later: not judged (ingest's clock). */
		const struct ent e[] = { KR(&revoked_before), EV(1), EV(0) };
		const struct ent e2[] = { KR(&revoked_after), EV(0), EV(0), EV(0), EV(0), EV(0) };
		build(dir, sizeof(dir), e, 3);
		verify_breach(dir, 2, "(kiosk-1) was revoked at 1718000000500 in "
		    "the keyring recorded at entry 0", &r);
		build(dir, sizeof(dir), e2, 6);
		assert_int_equal(verify(dir, &full, &r), SAKSI_OK);
		assert_int_equal(r.vr_revoked, 5);
		rm_rf(dir);
	}
	{
		/* A keyring entry that does not parse, or is not canonical. */
		static const uint8_t bad[] = { 3, '{', '}' };
		static const char loose[] = "\x01{\"keys\": [],\"roles\":{},\"saksi_keyring\":1}";
		const struct ent e[] = { EV(0), { SAKSI_LEAF_KEYRING, 0, NULL, NULL, NULL, bad,
		    sizeof(bad), NULL, NULL, 0 }, EV(0) };
		const struct ent e2[] = { EV(0), EV(1), { SAKSI_LEAF_KEYRING, 0, NULL, NULL, NULL,
		    (const uint8_t *)loose, sizeof(loose) - 1, NULL, NULL, 0 }, EV(0) };
		build(dir, sizeof(dir), e, 3);
		verify_breach(dir, 1, "entry 1: the keyring entry does not parse "
		    "(unknown version 3)", &r);
		build(dir, sizeof(dir), e2, 4);
		verify_breach(dir, 2, "not in its canonical form", &r);
	}
}

/* A ledger whose keyring set (1,500 keys and the producers in prod) is written in the
 * part order given (0-based; -1 ends), all in one group, then events of both producers
 * unless no_events. Returns the number of parts of the full set. */
static size_t
build_set(char *dir, size_t dirlen, int prod, const int *order, int split_group,
          int no_events)
{
	saksi_keylog_parts p;
	char *j = many_json_prod(0, 1500, NULL, prod);
	const uint8_t *b[16];
	size_t l[16], n = 0, np;
	struct ent e[4];

	assert_int_equal(saksi_keylog_split(j, strlen(j), &p, NULL, 0), SAKSI_OK);
	np = p.kp_n;
	for (; order[n] >= 0; n++) {
		b[n] = p.kp_body[order[n]];
		l[n] = p.kp_len[order[n]];
	}
	memset(e, 0, sizeof(e));
	e[0].kind = e[1].kind = SAKSI_LEAF_KEYRING;
	e[0].rawv = b;
	e[0].rawl = l;
	e[0].rawn = split_group ? 1 : n;
	e[1].rawv = b + 1;
	e[1].rawl = l + 1;
	e[1].rawn = n - 1;
	e[2].kind = e[3].kind = SAKSI_LEAF_EVENT;
	e[3].p = 1;
	if (split_group) {
		e[2].kind = SAKSI_LEAF_EVENT;
		build(dir, dirlen, e, no_events ? 2 : 4);
	} else {
		e[1] = e[2];
		e[2] = e[3];
		build(dir, dirlen, e, no_events ? 1 : 3);
	}
	saksi_keylog_parts_free(&p);
	free(j);
	return np;
}

static void
test_verify_parts(void **state)
{
	static const struct krspec full = { 0 };
	static const int all[] = { 0, 1, 2, 3, 4, -1 }, missing[] = { 0, 1, 3, 4, -1 },
	    reordered[] = { 0, 2, 1, 3, 4, -1 }, dup[] = { 0, 1, 1, 2, 3, 4, -1 },
	    short_[] = { 0, 1, 2, 3, -1 };
	saksi_verify_report r;
	char dir[256];
	(void)state;

	/* The whole set, then events of both producers: checked with the set's keyring. */
	assert_int_equal(build_set(dir, sizeof(dir), 3, all, 0, 0), 5);
	assert_int_equal(verify(dir, &full, &r), SAKSI_OK);
	assert_int_equal(r.vr_keyrings, 1);
	assert_int_equal(r.vr_keyring_first, 0);
	assert_int_equal(r.vr_keyring_last, 0);
	assert_int_equal(r.vr_size, 7);
	rm_rf(dir);
	/* Producer 2 not in the set: its event after it is caught, naming the set. */
	build_set(dir, sizeof(dir), 1, all, 0, 0);
	verify_breach(dir, 6, "is not in the keyring recorded at entry 0", &r);
	/* A part missing: part 4 where part 3 belongs. */
	build_set(dir, sizeof(dir), 3, missing, 0, 0);
	verify_breach(dir, 2, "entry 2: keyring part 4 of 5 where part 3 of 5", &r);
	/* Reordered. */
	build_set(dir, sizeof(dir), 3, reordered, 0, 0);
	verify_breach(dir, 1, NULL, &r);
	/* Duplicated. */
	build_set(dir, sizeof(dir), 3, dup, 0, 0);
	verify_breach(dir, 2, "keyring part 2 of 5 where part 3 of 5", &r);
	/* Incomplete, then an event. */
	build_set(dir, sizeof(dir), 3, short_, 0, 0);
	verify_breach(dir, 4, "is incomplete: 4 of its 5 parts, then this", &r);
	/* Incomplete at the end of the ledger. */
	build_set(dir, sizeof(dir), 3, short_, 0, 1);
	verify_breach(dir, 3, "then the end of the ledger", &r);
	/* Parts in two groups (two commit times). */
	build_set(dir, sizeof(dir), 3, all, 1, 1);
	verify_breach(dir, 1, "another commit time", &r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_encode_parse),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_split_join),
		cmocka_unit_test(test_join_doctored),
		cmocka_unit_test(test_parse_strict),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_verify_history),
		cmocka_unit_test(test_verify_no_history),
		cmocka_unit_test(test_verify_breaches),
		cmocka_unit_test(test_verify_parts),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
