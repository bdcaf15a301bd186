/*
 * ingest_test.c: every refusal reason of the ingest checks, with real keys, signatures,
 * schemas (schemas/events) and example payloads (schemas/examples), the framing of
 * submit requests, and the order in which the checks name a refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>
#include <lmdb.h>

#include "../tests/daemon_fixture.h"
#include "bytes.h"
#include "wire.h"

static struct fx fx;

static int
setup(void **state)
{
	(void)state;
	fx_init(&fx, 4);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	fx_free(&fx);
	return 0;
}

/* Checks a built item at FX_NOW; returns the code, leaves the item in *out. */
static int
check_at(const struct fx_item *fi, saksid_item *out, uint64_t now)
{
	fx_frame1(fi, out);
	return saksid_ingest_check(fx.ig, out, now);
}

static int
check(const struct fx_item *fi)
{
	saksid_item it;
	int r = check_at(fi, &it, FX_NOW);
	saksid_item_clear(&it);
	return r;
}

/*
 * Builds and checks at FX_NOW an event of type (NULL: ptype) signed by k at seq, its
 * payload the example of ptype with the members of set changed (fx_payload; set may be
 * NULL);
 * returns the code, and the refusal's message into msg (MSG_LEN bytes; NULL: not
 * wanted).
 */
#define MSG_LEN SAKSID_MSG_MAX
#define BOOKING "queue.booking.created"
static int
check_ev(const saksi_seckey *k, const char *ptype, const char *type,
         const char *const *set, uint64_t seq, char *msg)
{
	struct fx_item fi;
	saksid_item it;
	char *p = fx_payload(ptype, set);
	int r;

	fx_build(&fx, k, type != NULL ? type : ptype, p, seq, FX_NOW, &fi);
	r = check_at(&fi, &it, FX_NOW);
	if (msg != NULL)
		snprintf(msg, MSG_LEN, "%s", it.it_msg);
	saksid_item_clear(&it);
	fx_item_free(&fi);
	free(p);
	return r;
}

static void
test_accept_with_disclosures(void **state)
{
	struct fx_item fi;
	saksid_item it;
	saksi_hash h;
	(void)state;

	fx_booking(&fx, FX_QUEUE, 1, FX_NOW, &fi);
	assert_true(fi.sealed_len > 0);
	assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_ACCEPTED);
	assert_memory_equal(it.it_key_id, saksi_seckey_id(fx.prod[FX_QUEUE]), 8);
	assert_int_equal(it.it_seq, 1);
	assert_int_equal(it.it_time_ms, FX_NOW);
	crypto_hash_sha256(h, fi.env, fi.env_len);
	assert_memory_equal(it.it_env_hash, h, 32);
	assert_non_null(it.it_disc);
	assert_int_equal(it.it_disc_len, fi.disc_len);
	assert_memory_equal(it.it_disc, fi.disc, fi.disc_len);
	saksid_item_clear(&it);
	assert_null(it.it_disc);
	saksid_item_clear(&it);   /* twice is harmless */
	fx_item_free(&fi);
}

static void
test_accept_without_personal_fields(void **state)
{
	struct fx_item fi;
	saksid_item it;
	char *p = fx_payload("queue.slot.opened", NULL);
	(void)state;

	fx_build(&fx, fx.prod[FX_QUEUE], "queue.slot.opened", p, 2, FX_NOW, &fi);
	assert_int_equal(fi.sealed_len, 0);
	assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_ACCEPTED);
	assert_null(it.it_disc);
	/* An empty list sealed anyway is fine too, and nothing is kept. */
	fx_seal(fx.prod[FX_QUEUE], fx.box_pub.pk_key, &fi, "[]");
	assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_ACCEPTED);
	assert_null(it.it_disc);
	/* The national key may sign for any branch. */
	fx_item_free(&fi);
	free(p);
	{
		const char *set[] = { "branch", "KC-JAKARTA-UTARA", NULL };
		assert_int_equal(check_ev(fx.prod[FX_NATIONAL], BOOKING, NULL, set, 1, NULL),
		                 SAKSI_R_ACCEPTED);
	}
}

static void
test_parse(void **state)
{
	struct fx_item fi, bad;
	saksid_item it;
	uint8_t garbage[40];
	(void)state;

	fx_booking(&fx, FX_QUEUE, 3, FX_NOW, &fi);
	memset(&bad, 0, sizeof(bad));

	/* Not an envelope at all: no key id can be read. */
	memset(garbage, 0x41, sizeof(garbage));
	bad.env = garbage;
	bad.env_len = sizeof(garbage);
	assert_int_equal(check_at(&bad, &it, FX_NOW), SAKSI_R_PARSE);
	assert_memory_equal(it.it_key_id, (uint8_t[8]){ 0 }, 8);
	assert_non_null(strstr(it.it_msg, "envelope"));
	bad.env_len = 0;
	assert_int_equal(check_at(&bad, &it, FX_NOW), SAKSI_R_PARSE);

	/* Truncated: the claimed key id is kept for the summary. */
	bad.env = fi.env;
	bad.env_len = fi.env_len - 1;
	assert_int_equal(check_at(&bad, &it, FX_NOW), SAKSI_R_PARSE);
	assert_memory_equal(it.it_key_id, saksi_seckey_id(fx.prod[FX_QUEUE]), 8);

	/* A byte after the signature. */
	bad.env = malloc(fi.env_len + 1);
	memcpy(bad.env, fi.env, fi.env_len);
	bad.env[fi.env_len] = 0;
	bad.env_len = fi.env_len + 1;
	assert_int_equal(check_at(&bad, &it, FX_NOW), SAKSI_R_PARSE);

	/* Unknown version. */
	bad.env_len = fi.env_len;
	bad.env[0] = 2;
	assert_int_equal(check_at(&bad, &it, FX_NOW), SAKSI_R_PARSE);
	assert_memory_equal(it.it_key_id, (uint8_t[8]){ 0 }, 8);
	free(bad.env);

	/* The sealed box's fixed part. */
	bad = fi;
	bad.sealed_len = 40;
	assert_int_equal(check_at(&bad, &it, FX_NOW), SAKSI_R_PARSE);
	assert_non_null(strstr(it.it_msg, "sealed"));
	bad.sealed = malloc(fi.sealed_len);
	memcpy(bad.sealed, fi.sealed, fi.sealed_len);
	bad.sealed_len = fi.sealed_len;
	bad.sealed[0] = 2;
	assert_int_equal(check_at(&bad, &it, FX_NOW), SAKSI_R_PARSE);
	free(bad.sealed);
	fx_item_free(&fi);
}

static void
test_size_inside_envelope(void **state)
{
	/* A payload_len over 60000 inside an envelope that fits the framing cap. */
	static const char type[] = "queue.booking.created";
	size_t tl = sizeof(type) - 1, plen = SAKSI_PAYLOAD_MAX + 1;
	size_t len = SAKSI_ENV_HDR + tl + 4 + plen + 64;
	uint8_t *e = calloc(1, len);
	struct fx_item bad;
	saksid_item it;
	(void)state;

	assert_true(len <= SAKSI_ENV_MAX);
	e[0] = 1;
	e[1] = 1;
	memcpy(e + 2, saksi_seckey_id(fx.prod[FX_QUEUE]), 8);
	saksi_put_u64(e + 10, 1);
	saksi_put_u64(e + 18, FX_NOW);
	e[26] = (uint8_t)tl;
	memcpy(e + 27, type, tl);
	saksi_put_u32(e + 27 + tl, (uint32_t)plen);
	memset(e + 31 + tl, ' ', plen);
	e[31 + tl] = '{';
	e[31 + tl + plen - 1] = '}';
	memset(&bad, 0, sizeof(bad));
	bad.env = e;
	bad.env_len = len;
	assert_int_equal(check_at(&bad, &it, FX_NOW), SAKSI_R_SIZE);
	assert_memory_equal(it.it_key_id, saksi_seckey_id(fx.prod[FX_QUEUE]), 8);
	free(e);
}

static void
test_unknown_and_revoked(void **state)
{
	struct fx_item fi;
	saksid_item it;
	saksi_seckey *stranger = fx_key(fx.seed, "stranger", SAKSI_KEY_SIGN);
	char *p = fx_payload("queue.booking.created", NULL);
	(void)state;

	fx_build(&fx, stranger, "queue.booking.created", p, 1, FX_NOW, &fi);
	assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_UNKNOWN_KEY);
	assert_memory_equal(it.it_key_id, saksi_seckey_id(stranger), 8);
	assert_non_null(strstr(it.it_msg, "not in the keyring"));
	fx_item_free(&fi);

	fx_build(&fx, fx.prod[FX_REVOKED], "queue.booking.created", p, 1, FX_NOW, &fi);
	assert_int_equal(check(&fi), SAKSI_R_REVOKED_KEY);
	fx_item_free(&fi);

	/* Revoked from revoked_ms on, by the daemon's clock, not the event's. */
	fx_build(&fx, fx.prod[FX_LATER_REVOKED], "queue.booking.created", p, 1, FX_NOW, &fi);
	assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_ACCEPTED);
	saksid_item_clear(&it);
	assert_int_equal(check_at(&fi, &it, FX_NOW + 3600000 - 1), SAKSI_R_ACCEPTED);
	saksid_item_clear(&it);
	assert_int_equal(check_at(&fi, &it, FX_NOW + 3600000), SAKSI_R_REVOKED_KEY);
	fx_item_free(&fi);
	saksi_seckey_free(stranger);
	free(p);
}

static void
test_signature(void **state)
{
	struct fx_item fi;
	char *pos;
	(void)state;

	fx_booking(&fx, FX_QUEUE, 4, FX_NOW, &fi);
	fi.env[fi.env_len - 1] ^= 1;
	assert_int_equal(check(&fi), SAKSI_R_SIGNATURE);
	fi.env[fi.env_len - 1] ^= 1;
	assert_int_equal(check(&fi), SAKSI_R_ACCEPTED);
	/* A changed payload byte: "slot_hour":9 becomes 8. */
	pos = memmem(fi.env, fi.env_len, "\"slot_hour\":9", 13);
	assert_non_null(pos);
	pos[12] = '8';
	assert_int_equal(check(&fi), SAKSI_R_SIGNATURE);
	pos[12] = '9';
	/* The seq field is signed too. */
	fi.env[17] ^= 1;
	assert_int_equal(check(&fi), SAKSI_R_SIGNATURE);
	fx_item_free(&fi);
}

static void
test_role_branch_schema(void **state)
{
	struct fx_item fi;
	char msg[MSG_LEN];
	(void)state;

	assert_int_equal(check_ev(fx.prod[FX_QUEUE], "claim.submitted", NULL, NULL, 5, msg),
	                 SAKSI_R_ROLE);
	assert_non_null(strstr(msg, "claim.submitted"));

	assert_int_equal(check_ev(fx.prod[FX_STAFF], BOOKING, NULL, NULL, 5, NULL),
	                 SAKSI_R_ROLE);

	{
		const char *set[] = { "branch", "KC-JAKARTA-UTARA", NULL };
		assert_int_equal(check_ev(fx.prod[FX_QUEUE], BOOKING, NULL, set, 6, msg),
		                 SAKSI_R_BRANCH);
		assert_non_null(strstr(msg, "KC-JAKARTA-UTARA"));
	}
	{
		const char *set[] = { "branch", NULL, NULL };
		assert_int_equal(check_ev(fx.prod[FX_QUEUE], BOOKING, NULL, set, 6, msg),
		                 SAKSI_R_BRANCH);
		assert_non_null(strstr(msg, "no branch"));
	}
	{
		const char *set[] = { "branch", "#42", NULL };
		assert_int_equal(check_ev(fx.prod[FX_QUEUE], BOOKING, NULL, set, 6, NULL),
		                 SAKSI_R_BRANCH);
	}
	{
		const char *set[] = { "slot_hour", "#25", NULL };
		assert_int_equal(check_ev(fx.prod[FX_QUEUE], BOOKING, NULL, set, 7, msg),
		                 SAKSI_R_SCHEMA);
		assert_non_null(strstr(msg, "slot_hour"));
	}
	{
		/* The role allows queue.*, but there is no such type. */
		assert_int_equal(check_ev(fx.prod[FX_QUEUE], "queue.slot.opened",
		                 "queue.slot.reopened", NULL, 8, msg), SAKSI_R_SCHEMA);
		assert_non_null(strstr(msg, "unknown event type"));
	}
	{
		/* Not JSON: no branch can be read, the schema check names it. */
		static const char junk[] = "{\"branch\":\"KC-MAKASSAR\",";
		memset(&fi, 0, sizeof(fi));
		fi.env = malloc(SAKSI_ENV_MAX);
		assert_int_equal(saksi_envelope_sign(fx.prod[FX_QUEUE], 9, FX_NOW,
		                                     "queue.slot.opened", (const uint8_t *)junk,
		                                     sizeof(junk) - 1, fi.env, SAKSI_ENV_MAX,
		                                     &fi.env_len), SAKSI_OK);
		assert_int_equal(check(&fi), SAKSI_R_SCHEMA);
		fx_item_free(&fi);
	}
}

/*
 * One strict parse serves the branch, schema and disclosure checks. A payload that parse
 * refuses but jansson alone reads (nested deeper than 16) still gets the branch check
 * first; one it reads keeps every cap of the schema check.
 */
static void
test_one_parse(void **state)
{
	struct fx_item fi;
	saksid_item it;
	char deep[64], wide[2048], msg[MSG_LEN];
	char *p;
	size_t n;
	(void)state;

	/* 17 levels: "x" holds 16 nested arrays inside the payload object. */
	memset(deep, 0, sizeof(deep));
	deep[0] = '#';
	memset(deep + 1, '[', 16);
	memset(deep + 17, ']', 16);
	{
		const char *set[] = { "branch", "KC-JAKARTA-UTARA", "x", deep, NULL };
		assert_int_equal(check_ev(fx.prod[FX_QUEUE], BOOKING, NULL, set, 20, msg),
		                 SAKSI_R_BRANCH);
		assert_non_null(strstr(msg, "KC-JAKARTA-UTARA"));
	}
	{
		const char *set[] = { "x", deep, NULL };
		p = fx_payload("queue.booking.created", set);
		fx_build(&fx, fx.prod[FX_QUEUE], "queue.booking.created", p, 21, FX_NOW, &fi);
		assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_SCHEMA);
		assert_string_equal(it.it_msg,
		                    "queue.booking.created: payload nests deeper than 16");
		fx_item_free(&fi);
		/* An unknown type is named before the parse's refusal. */
		fx_build(&fx, fx.prod[FX_QUEUE], "queue.booking.lost", p, 21, FX_NOW, &fi);
		assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_SCHEMA);
		assert_string_equal(it.it_msg, "unknown event type queue.booking.lost");
		fx_item_free(&fi);
		free(p);
	}
	/* 65 members in "x": the branch is read, then the member cap refuses. */
	n = (size_t)snprintf(wide, sizeof(wide), "#{");
	for (int k = 0; k < 65; k++)
		n += (size_t)snprintf(wide + n, sizeof(wide) - n, "%s\"m%d\":0", k ? "," : "", k);
	snprintf(wide + n, sizeof(wide) - n, "}");
	{
		const char *set[] = { "branch", "KC-JAKARTA-UTARA", "x", wide, NULL };
		assert_int_equal(check_ev(fx.prod[FX_QUEUE], BOOKING, NULL, set, 22, NULL),
		                 SAKSI_R_BRANCH);
	}
	{
		const char *set[] = { "x", wide, NULL };
		assert_int_equal(check_ev(fx.prod[FX_QUEUE], BOOKING, NULL, set, 23, msg),
		                 SAKSI_R_SCHEMA);
		assert_string_equal(msg, "queue.booking.created: /x: object has 65 members, "
		                    "above the cap of 64");
	}
	/* Duplicate members: neither parse reads a branch; the schema check names it. */
	{
		static const char dup[] = "{\"branch\":\"KC-JAKARTA-UTARA\",\"branch\":\"KC-X\"}";
		memset(&fi, 0, sizeof(fi));
		fi.env = malloc(SAKSI_ENV_MAX);
		assert_int_equal(saksi_envelope_sign(fx.prod[FX_QUEUE], 24, FX_NOW,
		                                     "queue.slot.opened", (const uint8_t *)dup,
		                                     sizeof(dup) - 1, fi.env, SAKSI_ENV_MAX,
		                                     &fi.env_len), SAKSI_OK);
		assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_SCHEMA);
		assert_non_null(strstr(it.it_msg, "duplicate member name"));
		fx_item_free(&fi);
	}
	/* A JSON array payload: no branch to read, the schema check names it. */
	{
		static const char arr[] = "[\"KC-MAKASSAR\"]";
		memset(&fi, 0, sizeof(fi));
		fi.env = malloc(SAKSI_ENV_MAX);
		assert_int_equal(saksi_envelope_sign(fx.prod[FX_QUEUE], 25, FX_NOW,
		                                     "queue.slot.opened", (const uint8_t *)arr,
		                                     sizeof(arr) - 1, fi.env, SAKSI_ENV_MAX,
		                                     &fi.env_len), SAKSI_OK);
		assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_SCHEMA);
		assert_string_equal(it.it_msg, "queue.slot.opened: (root): is an array, expected "
		                    "object");
		fx_item_free(&fi);
	}
}

/* Re-seals fi with the JSON array `list`. */
static void
reseal(struct fx_item *fi, const char *list)
{
	fx_seal(fx.prod[FX_QUEUE], fx.box_pub.pk_key, fi, list);
}

static void
test_disclosure(void **state)
{
	struct fx_item fi, other;
	saksid_item it;
	json_t *arr;
	json_error_t jerr;
	char *list, *d;
	uint8_t *keep;
	size_t keep_len;
	(void)state;

	fx_booking(&fx, FX_QUEUE, 10, FX_NOW, &fi);
	assert_int_equal(check(&fi), SAKSI_R_ACCEPTED);

	/* Sealed to another appliance. */
	fx_seal(fx.prod[FX_QUEUE], fx.other_box_pub.pk_key, &fi, fi.disc);
	assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_DISCLOSURE);
	assert_non_null(strstr(it.it_msg, "do not open"));

	/* Sealed by another producer key (K differs). */
	fx_seal(fx.prod[FX_NATIONAL], fx.box_pub.pk_key, &fi, fi.disc);
	assert_int_equal(check(&fi), SAKSI_R_DISCLOSURE);

	/* One disclosure missing. */
	arr = json_loads(fi.disc, 0, &jerr);
	assert_non_null(arr);
	json_array_remove(arr, 0);
	list = json_dumps(arr, JSON_COMPACT);
	reseal(&fi, list);
	assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_DISCLOSURE);
	assert_non_null(strstr(it.it_msg, "missing, extra"));
	free(list);

	/* One extra. */
	json_decref(arr);
	arr = json_loads(fi.disc, 0, &jerr);
	assert_int_equal(saksi_disclosure_make("nik", "3201000000000001", &d), SAKSI_OK);
	json_array_append_new(arr, json_string(d));
	free(d);
	list = json_dumps(arr, JSON_COMPACT);
	reseal(&fi, list);
	assert_int_equal(check(&fi), SAKSI_R_DISCLOSURE);
	free(list);

	/* One replaced by a disclosure of the same field with another value. */
	json_decref(arr);
	arr = json_loads(fi.disc, 0, &jerr);
	assert_int_equal(saksi_disclosure_make("nik", "3201000000000001", &d), SAKSI_OK);
	json_array_set_new(arr, 0, json_string(d));
	free(d);
	list = json_dumps(arr, JSON_COMPACT);
	reseal(&fi, list);
	assert_int_equal(check(&fi), SAKSI_R_DISCLOSURE);
	free(list);
	json_decref(arr);

	/* Not a JSON array of disclosures at all (the library would not seal that). */
	fx_seal_raw(fx.prod[FX_QUEUE], fx.box_pub.pk_key, &fi, "not json", 8);
	assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_DISCLOSURE);
	assert_non_null(strstr(it.it_msg, "malformed"));
	/* The raw sealer is right: the real list sealed by it opens. */
	fx_seal_raw(fx.prod[FX_QUEUE], fx.box_pub.pk_key, &fi, fi.disc, fi.disc_len);
	assert_int_equal(check(&fi), SAKSI_R_ACCEPTED);
	reseal(&fi, "[]");
	assert_int_equal(check(&fi), SAKSI_R_DISCLOSURE);

	/* No sealed box, but the payload has digests. */
	free(fi.sealed);
	fi.sealed = NULL;
	fi.sealed_len = 0;
	assert_int_equal(check(&fi), SAKSI_R_DISCLOSURE);

	/* A sealed box bound to another envelope (its AD names that envelope's hash). */
	fx_booking(&fx, FX_QUEUE, 11, FX_NOW, &other);
	reseal(&fi, fi.disc);
	assert_int_equal(check(&fi), SAKSI_R_ACCEPTED);
	keep = fi.sealed;
	keep_len = fi.sealed_len;
	fi.sealed = other.sealed;
	fi.sealed_len = other.sealed_len;
	assert_int_equal(check(&fi), SAKSI_R_DISCLOSURE);
	fi.sealed = keep;
	fi.sealed_len = keep_len;
	fx_item_free(&other);
	fx_item_free(&fi);
}

/* When several checks fail, the first in FORMATS.md 3.2's order names the refusal. */
static void
test_order(void **state)
{
	struct fx_item fi;
	saksi_seckey *stranger = fx_key(fx.seed, "stranger", SAKSI_KEY_SIGN);
	const char *set[] = { "branch", "KC-JAKARTA-UTARA", "slot_hour", "#99", NULL };
	char *p = fx_payload("queue.booking.created", set);
	(void)state;

	/* Unknown key beats a bad signature. */
	fx_build(&fx, stranger, "queue.booking.created", p, 1, FX_NOW, &fi);
	fi.env[fi.env_len - 1] ^= 1;
	assert_int_equal(check(&fi), SAKSI_R_UNKNOWN_KEY);
	fx_item_free(&fi);
	/* Revoked beats a bad signature. */
	fx_build(&fx, fx.prod[FX_REVOKED], "queue.booking.created", p, 1, FX_NOW, &fi);
	fi.env[fi.env_len - 1] ^= 1;
	assert_int_equal(check(&fi), SAKSI_R_REVOKED_KEY);
	fx_item_free(&fi);
	/* A bad signature beats the wrong role. */
	fx_build(&fx, fx.prod[FX_STAFF], "queue.booking.created", p, 1, FX_NOW, &fi);
	assert_int_equal(check(&fi), SAKSI_R_ROLE);
	fi.env[fi.env_len - 1] ^= 1;
	assert_int_equal(check(&fi), SAKSI_R_SIGNATURE);
	fx_item_free(&fi);
	/* The wrong branch beats the schema; the schema beats the disclosures. */
	fx_build(&fx, fx.prod[FX_QUEUE], "queue.booking.created", p, 1, FX_NOW, &fi);
	fx_seal(fx.prod[FX_QUEUE], fx.other_box_pub.pk_key, &fi, fi.disc);
	assert_int_equal(check(&fi), SAKSI_R_BRANCH);
	fx_item_free(&fi);
	fx_build(&fx, fx.prod[FX_NATIONAL], "queue.booking.created", p, 1, FX_NOW, &fi);
	fx_seal(fx.prod[FX_NATIONAL], fx.other_box_pub.pk_key, &fi, fi.disc);
	assert_int_equal(check(&fi), SAKSI_R_SCHEMA);
	fx_item_free(&fi);
	saksi_seckey_free(stranger);
	free(p);
}

/* Builds a submit body: count || items. */
static uint8_t *
body_of(struct fx_item *items, size_t n, size_t *len)
{
	size_t l = 2;
	uint8_t *b, *q;

	for (size_t i = 0; i < n; i++)
		l += 8 + items[i].env_len + items[i].sealed_len;
	b = q = malloc(l);
	saksi_put_u16(q, (uint16_t)n);
	q += 2;
	for (size_t i = 0; i < n; i++) {
		saksi_put_u32(q, (uint32_t)items[i].env_len);
		memcpy(q + 4, items[i].env, items[i].env_len);
		q += 4 + items[i].env_len;
		saksi_put_u32(q, (uint32_t)items[i].sealed_len);
		if (items[i].sealed_len > 0)
			memcpy(q + 4, items[i].sealed, items[i].sealed_len);
		q += 4 + items[i].sealed_len;
	}
	*len = l;
	return b;
}

static void
test_framing(void **state)
{
	struct fx_item fi[2];
	saksid_item items[3];
	char msg[SAKSID_MSG_MAX];
	size_t len, count;
	uint8_t *b, two[2];
	(void)state;

	fx_booking(&fx, FX_QUEUE, 20, FX_NOW, &fi[0]);
	fx_booking(&fx, FX_NATIONAL, 20, FX_NOW, &fi[1]);
	b = body_of(fi, 2, &len);
	assert_int_equal(saksid_submit_count(b, len, &count, msg, sizeof(msg)), SAKSI_R_ACCEPTED);
	assert_int_equal(count, 2);
	assert_int_equal(saksid_submit_frame(b, len, items, 2, 77, msg, sizeof(msg)),
	                 SAKSI_R_ACCEPTED);
	assert_int_equal(items[1].it_recv_ms, 77);
	assert_int_equal(items[1].it_env_len, fi[1].env_len);
	assert_memory_equal(items[1].it_sealed, fi[1].sealed, fi[1].sealed_len);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(saksid_ingest_check(fx.ig, &items[i], FX_NOW), SAKSI_R_ACCEPTED);
		saksid_item_clear(&items[i]);
	}
	/* The count must match what the caller sized. */
	assert_int_equal(saksid_submit_frame(b, len, items, 1, 0, msg, sizeof(msg)),
	                 SAKSI_R_PARSE);
	/* Bytes after the last item. */
	b = realloc(b, len + 1);
	b[len] = 0;
	assert_int_equal(saksid_submit_frame(b, len + 1, items, 2, 0, msg, sizeof(msg)),
	                 SAKSI_R_PARSE);
	assert_non_null(strstr(msg, "after the last item"));
	/* Truncated anywhere: parse. */
	for (size_t cut = 2; cut < len; cut += 97)
		assert_int_equal(saksid_submit_frame(b, cut, items, 2, 0, msg, sizeof(msg)),
		                 SAKSI_R_PARSE);
	/* An envelope length over the cap that runs past the end: size. */
	saksi_put_u32(b + 2, SAKSI_ENV_MAX + 1);
	assert_int_equal(saksid_submit_frame(b, len, items, 2, 0, msg, sizeof(msg)),
	                 SAKSI_R_SIZE);
	free(b);

	/* Counts. */
	assert_int_equal(saksid_submit_count(two, 1, &count, msg, sizeof(msg)), SAKSI_R_PARSE);
	saksi_put_u16(two, 0);
	assert_int_equal(saksid_submit_count(two, 2, &count, msg, sizeof(msg)), SAKSI_R_PARSE);
	saksi_put_u16(two, 257);
	assert_int_equal(saksid_submit_count(two, 2, &count, msg, sizeof(msg)), SAKSI_R_SIZE);
	saksi_put_u16(two, 256);
	assert_int_equal(saksid_submit_count(two, 2, &count, msg, sizeof(msg)), SAKSI_R_ACCEPTED);

	/* Over-cap lengths inside the message: that item is refused (size), the rest goes
	 * on. */
	{
		size_t big = SAKSI_ENV_MAX + 1, l = 2 + 4 + big + 4 + 4 + fi[0].env_len + 4 +
		             fi[0].sealed_len + 4 + 10 + 4 + SAKSI_SEALED_MAX + 1;
		uint8_t *q;

		b = q = calloc(1, l);
		saksi_put_u16(q, 3);
		q += 2;
		saksi_put_u32(q, (uint32_t)big);
		q += 4 + big;
		saksi_put_u32(q, 0);
		q += 4;
		saksi_put_u32(q, (uint32_t)fi[0].env_len);
		memcpy(q + 4, fi[0].env, fi[0].env_len);
		q += 4 + fi[0].env_len;
		saksi_put_u32(q, (uint32_t)fi[0].sealed_len);
		memcpy(q + 4, fi[0].sealed, fi[0].sealed_len);
		q += 4 + fi[0].sealed_len;
		saksi_put_u32(q, 10);
		q += 4 + 10;
		saksi_put_u32(q, SAKSI_SEALED_MAX + 1);
		q += 4 + SAKSI_SEALED_MAX + 1;
		assert_int_equal((size_t)(q - b), l);
		assert_int_equal(saksid_submit_frame(b, l, items, 3, 0, msg, sizeof(msg)),
		                 SAKSI_R_ACCEPTED);
		assert_int_equal(items[0].it_code, SAKSI_R_SIZE);
		assert_int_equal(items[1].it_code, SAKSI_R_ACCEPTED);
		assert_int_equal(items[2].it_code, SAKSI_R_SIZE);
		assert_int_equal(saksid_ingest_check(fx.ig, &items[0], FX_NOW), SAKSI_R_SIZE);
		assert_int_equal(saksid_ingest_check(fx.ig, &items[1], FX_NOW), SAKSI_R_ACCEPTED);
		assert_int_equal(saksid_ingest_check(fx.ig, &items[2], FX_NOW), SAKSI_R_SIZE);
		for (int i = 0; i < 3; i++)
			saksid_item_clear(&items[i]);
		free(b);
	}
	fx_item_free(&fi[0]);
	fx_item_free(&fi[1]);
}

static void
test_new_errors(void **state)
{
	saksid_ingest *ig;
	(void)state;

	assert_int_equal(saksid_ingest_new(fx.kr, fx.sc, fx.log, &ig), SAKSI_ERR_KEY);
	assert_null(ig);
	assert_int_equal(saksid_ingest_new(fx.kr, fx.sc, fx.store, &ig), SAKSI_ERR_KEY);
	assert_int_equal(saksid_ingest_new(NULL, fx.sc, fx.box, &ig), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_ingest_new(fx.kr, NULL, fx.box, &ig), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_ingest_new(fx.kr, fx.sc, NULL, &ig), SAKSI_ERR_INVAL);
	saksid_ingest_free(NULL);
}

/* Many threads on one context at once: each gets its own, correct answers. */
#define NTHREADS 4
#define PER_THREAD 24
static struct fx_item thr_items[NTHREADS][PER_THREAD];

static void *
thr_main(void *arg)
{
	size_t t = (size_t)(uintptr_t)arg;
	long bad = 0;

	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < PER_THREAD; i++) {
			saksid_item it;
			int want = (i % 3 == 2) ? SAKSI_R_SIGNATURE : SAKSI_R_ACCEPTED;
			if (check_at(&thr_items[t][i], &it, FX_NOW) != want)
				bad++;
			if (want == SAKSI_R_ACCEPTED &&
			    (it.it_disc == NULL || it.it_disc_len != thr_items[t][i].disc_len))
				bad++;
			saksid_item_clear(&it);
		}
	}
	return (void *)bad;
}

static void
test_threads(void **state)
{
	pthread_t th[NTHREADS];
	(void)state;

	for (size_t t = 0; t < NTHREADS; t++)
		for (size_t i = 0; i < PER_THREAD; i++) {
			fx_booking(&fx, FX_NFIXED + t, 100 + i, FX_NOW, &thr_items[t][i]);
			if (i % 3 == 2)
				thr_items[t][i].env[thr_items[t][i].env_len - 1] ^= 1;
		}
	for (size_t t = 0; t < NTHREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, thr_main, (void *)(uintptr_t)t), 0);
	for (size_t t = 0; t < NTHREADS; t++) {
		void *bad;
		pthread_join(th[t], &bad);
		assert_int_equal((long)bad, 0);
	}
	for (size_t t = 0; t < NTHREADS; t++)
		for (size_t i = 0; i < PER_THREAD; i++)
			fx_item_free(&thr_items[t][i]);
}

/* A rules state of its own in a fresh LMDB directory. */
struct rstate {
	char dir[64];
	MDB_env *env;
	saksi_rules *r;
};

static void
rstate_open(struct rstate *rs)
{
	static const char text[] =
	    "saksi-rules 1\n"
	    "lateness 5m\n"
	    "select book\n"
	    "  match queue.booking.created\n"
	    "rule per_nik\n"
	    "  type event_count\n"
	    "  severity high\n"
	    "  events book\n"
	    "  group-by nik branch\n"
	    "  timespan 1h\n"
	    "  condition gte 1\n"
	    "  suppress 0s\n"
	    "  reraise 1\n";
	char err[256];
	MDB_txn *t;

	assert_int_equal(tmpdir_make(rs->dir, sizeof(rs->dir), "saksi-ingest"), 0);
	assert_int_equal(mdb_env_create(&rs->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(rs->env, 2), 0);
	assert_int_equal(mdb_env_open(rs->env, rs->dir, 0, 0600), 0);
	assert_int_equal(saksi_rules_parse(text, strlen(text), "t.rules", NULL, &rs->r, err,
	    sizeof(err)), SAKSI_OK);
	assert_int_equal(mdb_txn_begin(rs->env, NULL, 0, &t), 0);
	assert_int_equal(saksi_rules_attach(rs->r, t), SAKSI_OK);
	assert_int_equal(mdb_txn_commit(t), 0);
}

static void
rstate_close(struct rstate *rs)
{
	char cmd[128];

	saksi_rules_free(rs->r);
	mdb_env_close(rs->env);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rs->dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * With a blinding context the workers prepare each accepted event for the rules, and what
 * they prepare raises the alert the committer's own path (saksi_detect_eval on the
 * envelope and the opened disclosures) raises: same group, same tokens.
 */
static void
test_detect_prepare(void **state)
{
	struct fx_item fi;
	struct rstate a, b;
	saksid_item it;
	saksi_blind *bl;
	saksi_detect *d;
	saksi_rules_result ra, rb;
	saksi_alert aa, ab;
	uint8_t key[32];
	int ev_a = -1, ev_b = -1;
	MDB_txn *ta, *tb;
	(void)state;

	memset(key, 7, sizeof(key));
	assert_int_equal(saksi_blind_new(key, &bl), SAKSI_OK);
	assert_int_equal(saksi_detect_new(bl, &d), SAKSI_OK);
	fx_booking(&fx, FX_QUEUE, 1, FX_NOW, &fi);

	/* Off by default: nothing prepared. */
	assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_ACCEPTED);
	assert_null(it.it_prep);
	saksid_item_clear(&it);

	saksid_ingest_detect(fx.ig, bl);
	assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_ACCEPTED);
	assert_non_null(it.it_prep);
	assert_non_null(it.it_disc);
	rstate_open(&a);
	rstate_open(&b);
	assert_int_equal(mdb_txn_begin(a.env, NULL, 0, &ta), 0);
	assert_int_equal(mdb_txn_begin(b.env, NULL, 0, &tb), 0);
	assert_int_equal(saksi_detect_eval_prepared(it.it_prep, a.r, ta, 5, &ev_a, &ra),
	    SAKSI_OK);
	assert_int_equal(saksi_detect_eval(d, b.r, tb, 5, it.it_env, it.it_env_len, it.it_disc,
	    it.it_disc_len, &ev_b, &rb), SAKSI_OK);
	assert_int_equal(ev_a, 1);
	assert_int_equal(ev_b, 1);
	assert_int_equal(ra.rr_nalerts, 1);
	assert_int_equal(rb.rr_nalerts, 1);
	assert_int_equal(saksi_rules_alert_get(a.r, ta, 1, &aa), SAKSI_OK);
	assert_int_equal(saksi_rules_alert_get(b.r, tb, 1, &ab), SAKSI_OK);
	assert_string_equal(aa.al_group, ab.al_group);
	assert_non_null(strstr(aa.al_group, "nik="));
	assert_non_null(strstr(aa.al_group, "branch=KC-MAKASSAR"));
	assert_int_equal(aa.al_nevidence, 1);
	assert_int_equal(aa.al_evidence[0], 5);
	mdb_txn_abort(ta);
	mdb_txn_abort(tb);
	rstate_close(&a);
	rstate_close(&b);
	saksid_item_clear(&it);
	assert_null(it.it_prep);
	saksid_item_clear(&it);   /* twice is harmless */

	/* A refused item gets none. */
	fx_item_free(&fi);
	fx_booking(&fx, FX_QUEUE, 2, FX_NOW, &fi);
	fi.env[fi.env_len - 1] ^= 1;   /* the signature */
	assert_int_equal(check_at(&fi, &it, FX_NOW), SAKSI_R_SIGNATURE);
	assert_null(it.it_prep);
	saksid_item_clear(&it);
	fx_item_free(&fi);

	saksid_ingest_detect(fx.ig, NULL);
	saksid_ingest_detect(NULL, bl);   /* harmless */
	saksi_detect_free(d);
	saksi_blind_free(bl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_with_disclosures),
		cmocka_unit_test(test_accept_without_personal_fields),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_size_inside_envelope),
		cmocka_unit_test(test_unknown_and_revoked),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_role_branch_schema),
		cmocka_unit_test(test_one_parse),
		cmocka_unit_test(test_disclosure),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_detect_prepare),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
