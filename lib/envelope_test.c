/*
 * envelope_test.c: envelopes, disclosures and sealing (FORMATS.md 2): the published SD-JWT
 * disclosure example, forgeries and hostile bytes, and the checked-in test vectors
 * (schemas/vectors/envelope-v1.json), which this test regenerates byte for byte
 * (SAKSI_WRITE_VECTORS=1 rewrites the file; see schemas/vectors/README.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>

#include "bytes.h"
#include "envelope.h"
#include "keys.h"
#include "../tests/keyring_fixture.h"
#include "../tests/testutil.h"

#define VECTOR_FILE SAKSI_SOURCE_DIR "/schemas/vectors/envelope-v1.json"

static uint8_t test_seed[randombytes_SEEDBYTES];
static uint64_t rng_ctr;

/* Seeded pseudo-random bytes, so a failing hostile-input case can be replayed. */
static void
prng(void *buf, size_t len)
{
	uint8_t s[randombytes_SEEDBYTES];

	memcpy(s, test_seed, sizeof(s));
	saksi_put_u64(s, saksi_get_u64(s) ^ rng_ctr++);
	randombytes_buf_deterministic(buf, len, s);
}

static const uint8_t *
pubkey_of(const saksi_seckey *k)
{
	/* libsodium's Ed25519 secret key is seed || pk. */
	return saksi_seckey_ed25519(k) + 32;
}

static size_t
sign_simple(const saksi_seckey *k, uint64_t seq, const char *type, const char *payload,
            uint8_t *out)
{
	size_t w = 0;

	assert_int_equal(saksi_envelope_sign(k, seq, 1718000000000ULL, type,
	                                     (const uint8_t *)payload, strlen(payload), out,
	                                     SAKSI_ENV_MAX, &w), SAKSI_OK);
	return w;
}

/* ---- disclosures ---- */

static void
test_sdjwt_example(void **state)
{
	/* draft-ietf-oauth-selective-disclosure-jwt, the family_name example. */
	static const char d[] = "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0";
	char digest[SAKSI_DIGEST_B64_LEN + 1];
	char *name, *value;

	(void)state;
	saksi_disclosure_digest(d, strlen(d), digest);
	assert_string_equal(digest, "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0");
	assert_int_equal(saksi_disclosure_decode(d, strlen(d), &name, &value), SAKSI_OK);
	assert_string_equal(name, "family_name");
	assert_string_equal(value, "M\xc3\xb6" "bius");
	free(name);
	free(value);
}

static void
test_disclosure_roundtrip(void **state)
{
	char *a, *b, *name, *value, digest[SAKSI_DIGEST_B64_LEN + 1];
	uint8_t salt[16];

	(void)state;
	assert_int_equal(saksi_disclosure_make("nik", "7371010101900001", &a), SAKSI_OK);
	assert_int_equal(saksi_disclosure_make("nik", "7371010101900001", &b), SAKSI_OK);
	/* Fresh salt each time: equal values must not give equal digests. */
	assert_string_not_equal(a, b);
	assert_int_equal(saksi_disclosure_decode(a, strlen(a), &name, &value), SAKSI_OK);
	assert_string_equal(name, "nik");
	assert_string_equal(value, "7371010101900001");
	free(name);
	free(value);
	saksi_disclosure_digest(a, strlen(a), digest);
	assert_int_equal(strlen(digest), SAKSI_DIGEST_B64_LEN);
	free(a);
	free(b);

	/* A known salt gives the compact ["salt","name","value"] encoding. */
	memset(salt, 0, sizeof(salt));
	assert_int_equal(saksi_disclosure_make_salted("n", "v\"\xc3\xb6", salt, &a), SAKSI_OK);
	{
		uint8_t raw[128];
		size_t rawlen;
		assert_int_equal(sodium_base642bin(raw, sizeof(raw), a, strlen(a), NULL, &rawlen,
		                                   NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
		                 0);
		raw[rawlen] = 0;
		assert_string_equal((char *)raw,
		                    "[\"AAAAAAAAAAAAAAAAAAAAAA\",\"n\",\"v\\\"\xc3\xb6\"]");
	}
	free(a);

	assert_int_equal(saksi_disclosure_make("_sd", "x", &a), SAKSI_ERR_FORMAT);
	assert_null(a);
	assert_int_equal(saksi_disclosure_make("...", "x", &a), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disclosure_make("", "x", &a), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disclosure_make("n", "\xff\xfe", &a), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disclosure_make("\xc3", "x", &a), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disclosure_make(NULL, "x", &a), SAKSI_ERR_INVAL);
}

/* base64url of the given JSON text, then decoded: the expected result. */
static void
expect_decode(const char *json, saksi_err want)
{
	char b64[1024], *name = (char *)1, *value = (char *)1;

	sodium_bin2base64(b64, sizeof(b64), (const uint8_t *)json, strlen(json),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (saksi_disclosure_decode(b64, strlen(b64), &name, &value) != want)
		fail_msg("decoding %s: expected %s", json, saksi_strerror(want));
	if (want == SAKSI_OK) {
		free(name);
		free(value);
	} else {
		assert_null(name);
		assert_null(value);
	}
}

static void
test_disclosure_hostile(void **state)
{
	char *name, *value, big[SAKSI_DISCLOSURE_MAX + 2];

	(void)state;
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAAAA\",\"n\",\"v\"]", SAKSI_OK);
	/* 15 bytes of salt: under 128 bits. */
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAA\",\"n\",\"v\"]", SAKSI_ERR_FORMAT);
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAAAA==\",\"n\",\"v\"]", SAKSI_ERR_FORMAT);
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAAA+\",\"n\",\"v\"]", SAKSI_ERR_FORMAT);
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAAAA\",\"n\",5]", SAKSI_ERR_FORMAT);
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAAAA\",\"n\",null]", SAKSI_ERR_FORMAT);
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAAAA\",7,\"v\"]", SAKSI_ERR_FORMAT);
	expect_decode("[16,\"n\",\"v\"]", SAKSI_ERR_FORMAT);
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAAAA\",\"v\"]", SAKSI_ERR_FORMAT);
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAAAA\",\"n\",\"v\",\"w\"]", SAKSI_ERR_FORMAT);
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAAAA\",\"_sd\",\"v\"]", SAKSI_ERR_FORMAT);
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAAAA\",\"\",\"v\"]", SAKSI_ERR_FORMAT);
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAAAA\",\"n\",\"v\"] x", SAKSI_ERR_FORMAT);
	expect_decode("{\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA\"}", SAKSI_ERR_FORMAT);
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAAAA\",\"n\",\"\\u0000\"]", SAKSI_ERR_FORMAT);
	expect_decode("[\"AAAAAAAAAAAAAAAAAAAAAA\",\"n\",\"\xff\"]", SAKSI_ERR_FORMAT);
	expect_decode("", SAKSI_ERR_FORMAT);

	/* Not base64url at all, standard-alphabet or padded. */
	assert_int_equal(saksi_disclosure_decode("W=", 2, &name, &value), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disclosure_decode("WyJ+", 4, &name, &value), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disclosure_decode("WyJ", 2, &name, &value), SAKSI_ERR_FORMAT);
	memset(big, 'A', sizeof(big));
	assert_int_equal(saksi_disclosure_decode(big, SAKSI_DISCLOSURE_MAX + 1, &name, &value),
	                 SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_disclosure_decode(big, SAKSI_DISCLOSURE_MAX, &name, &value),
	                 SAKSI_ERR_FORMAT);
}

static void
test_disclose_and_check(void **state)
{
	static const char payload[] =
	    "{\"branch\":\"KC-MAKASSAR\",\"nik\":\"7371010101900001\","
	    "\"phone\":\"+6281234567890\",\"slot_hour\":9,\"note\":{\"a\":1}}";
	const char *const personal[] = { "nik", "phone", "bank_account" };
	char *p, *d, **names, **values;
	size_t plen, dlen, n;
	json_t *o;

	(void)state;
	assert_int_equal(saksi_disclose_payload(payload, strlen(payload), personal, 3, &p, &plen,
	                                        &d, &dlen), SAKSI_OK);
	assert_int_equal(strlen(p), plen);
	assert_int_equal(strlen(d), dlen);
	/* No clear personal value survives in the signed payload. */
	assert_null(strstr(p, "7371010101900001"));
	assert_null(strstr(p, "6281234567890"));
	assert_non_null(strstr(p, "\"branch\":\"KC-MAKASSAR\""));
	assert_non_null(strstr(p, "\"slot_hour\":9"));
	assert_null(strstr(p, "bank_account"));
	o = json_loads(p, 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_string_length(json_object_get(json_object_get(o, "nik"), "_sd")),
	                 SAKSI_DIGEST_B64_LEN);
	json_decref(o);

	assert_int_equal(saksi_disclosures_check((uint8_t *)p, plen, (uint8_t *)d, dlen, &names,
	                                         &values, &n), SAKSI_OK);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "nik");
	assert_string_equal(values[0], "7371010101900001");
	assert_string_equal(names[1], "phone");
	assert_string_equal(values[1], "+6281234567890");
	saksi_disclosures_free(names, values, n);
	/* Only checking. */
	assert_int_equal(saksi_disclosures_check((uint8_t *)p, plen, (uint8_t *)d, dlen, NULL,
	                                         NULL, NULL), SAKSI_OK);
	free(p);
	free(d);

	/* No personal field present: "[]" and an unchanged payload. */
	assert_int_equal(saksi_disclose_payload("{\"a\":1}", 7, personal, 3, &p, &plen, &d,
	                                        &dlen), SAKSI_OK);
	assert_string_equal(p, "{\"a\":1}");
	assert_string_equal(d, "[]");
	assert_int_equal(saksi_disclosures_check((uint8_t *)p, plen, (uint8_t *)d, dlen, &names,
	                                         &values, &n), SAKSI_OK);
	assert_int_equal(n, 0);
	assert_null(names);
	saksi_disclosures_free(names, values, n);
	free(p);
	free(d);

	/* Errors. */
	assert_int_equal(saksi_disclose_payload("[1]", 3, personal, 3, &p, &plen, &d, &dlen),
	                 SAKSI_ERR_FORMAT);
	assert_null(p);
	assert_int_equal(saksi_disclose_payload("{\"a\":1", 6, personal, 3, &p, &plen, &d, &dlen),
	                 SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disclose_payload("{\"nik\":1,\"nik\":2}", 17, personal, 3, &p,
	                                        &plen, &d, &dlen), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disclose_payload("{\"nik\":7371}", 12, personal, 3, &p, &plen,
	                                        &d, &dlen), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disclose_payload("{\"nik\":null}", 12, personal, 3, &p, &plen,
	                                        &d, &dlen), SAKSI_ERR_FORMAT);
	{
		const char *const twice[] = { "nik", "nik" };
		const char *many[SAKSI_DISCLOSURES_MAX + 1];
		for (size_t i = 0; i < SAKSI_DISCLOSURES_MAX + 1; i++)
			many[i] = "x";
		assert_int_equal(saksi_disclose_payload("{}", 2, twice, 2, &p, &plen, &d, &dlen),
		                 SAKSI_ERR_INVAL);
		assert_int_equal(saksi_disclose_payload("{}", 2, many, SAKSI_DISCLOSURES_MAX + 1,
		                                        &p, &plen, &d, &dlen), SAKSI_ERR_TOO_LARGE);
	}
}

/*
 * saksi_disclosures_check_list agrees with saksi_disclosures_check_json (code, count,
 * pairs) and, when it passes with disclosures, its list is each disclosure of the JSON
 * list base64url-decoded, in order, each behind its length (FORMATS.md 7.1's compact
 * list); otherwise there is no list.
 */
static void
check_list_agrees(const json_t *root, const char *list, saksi_err want, size_t wcount)
{
	char **names = (char **)1, **values = (char **)1;
	uint8_t *l = (uint8_t *)1, *exp;
	size_t n = 99, ll = 99, off = 1, i;
	json_t *arr, *v;

	assert_int_equal(saksi_disclosures_check_list(root, (const uint8_t *)list, strlen(list),
	                                              &names, &values, &n, &l, &ll), want);
	assert_int_equal(n, wcount);
	saksi_disclosures_free(names, values, n);
	if (want != SAKSI_OK || wcount == 0) {
		assert_null(l);
		assert_int_equal(ll, 0);
		return;
	}
	arr = json_loads(list, 0, NULL);
	assert_non_null(arr);
	exp = malloc(1 + strlen(list) * 2);
	assert_non_null(exp);
	exp[0] = (uint8_t)json_array_size(arr);
	json_array_foreach(arr, i, v) {
		size_t bl;

		assert_int_equal(sodium_base642bin(exp + off + 2, strlen(list), json_string_value(v),
		                                   json_string_length(v), NULL, &bl, NULL,
		                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
		saksi_put_u16(exp + off, (uint16_t)bl);
		off += 2 + bl;
	}
	assert_int_equal(ll, off);
	assert_memory_equal(l, exp, off);
	free(exp);
	free(l);
	json_decref(arr);
	/* No list to hand out: refused, nothing else given. */
	n = 99;
	names = values = (char **)1;
	assert_int_equal(saksi_disclosures_check_list(root, (const uint8_t *)list, strlen(list),
	                                              &names, &values, &n, NULL, &ll),
	                 SAKSI_ERR_INVAL);
	assert_null(names);
	assert_null(values);
	assert_int_equal(n, 0);
	assert_int_equal(saksi_disclosures_check_list(root, (const uint8_t *)list, strlen(list),
	                                              NULL, NULL, NULL, &l, NULL),
	                 SAKSI_ERR_INVAL);
}

/*
 * saksi_disclosures_check_json on the parsed payload must agree with the one-step check:
 * same code, same pairs in the same order, the same n without pairs, the tree untouched.
 */
static void
check_json_agrees(const char *payload, const char *list, saksi_err want, char **wn,
                  char **wv, size_t wcount)
{
	char **names = (char **)1, **values = (char **)1;
	size_t n = 99, refs;
	json_t *root = json_loads(payload, JSON_REJECT_DUPLICATES, NULL);
	saksi_err e;

	if (root == NULL)
		return;   /* the one-step check's own parse refused it */
	refs = root->refcount;
	e = saksi_disclosures_check_json(root, (const uint8_t *)list, strlen(list), &names,
	                                 &values, &n);
	if (e != want)
		fail_msg("parsed check of %s against %s: got %s, expected %s", payload, list,
		         saksi_strerror(e), saksi_strerror(want));
	assert_int_equal(n, wcount);
	if (want == SAKSI_OK && wcount > 0) {
		for (size_t i = 0; i < n; i++) {
			assert_string_equal(names[i], wn[i]);
			assert_string_equal(values[i], wv[i]);
		}
	} else {
		assert_null(names);
		assert_null(values);
	}
	saksi_disclosures_free(names, values, n);
	n = 99;
	assert_int_equal(saksi_disclosures_check_json(root, (const uint8_t *)list, strlen(list),
	                                              NULL, NULL, &n), want);
	assert_int_equal(n, wcount);
	check_list_agrees(root, list, want, wcount);
	assert_int_equal(root->refcount, refs);
	json_decref(root);
}

static void
check_expect(const char *payload, const char *list, saksi_err want)
{
	char **names = (char **)1, **values = (char **)1;
	size_t n = 99;

	if (saksi_disclosures_check((const uint8_t *)payload, strlen(payload),
	                            (const uint8_t *)list, strlen(list), &names, &values, &n) !=
	    want)
		fail_msg("check of %s against %s: expected %s", payload, list,
		         saksi_strerror(want));
	check_json_agrees(payload, list, want, names, values, n);
	if (want != SAKSI_OK) {
		assert_null(names);
		assert_null(values);
		assert_int_equal(n, 0);
	} else
		saksi_disclosures_free(names, values, n);
}

/* A disclosure of [salt, name, value] given as JSON text, however long (malloc'd). */
static char *
disclosure_of(const char *json)
{
	return tu_b64url(json);
}

/*
 * The parsed-payload check's own edges: arguments, a payload tree that is not an object,
 * more disclosures than fit its stack table, and disclosures, values and salts longer than
 * its stack buffers.
 */
static void
test_check_parsed(void **state)
{
	char **names = (char **)1, **values = (char **)1;
	size_t n = 99, i;
	json_t *root, *list, *o;
	char *d, *text, *json, *payload, digest[SAKSI_DIGEST_B64_LEN + 1], name[16];
	uint8_t salt[16];

	(void)state;
	root = json_object();
	assert_int_equal(saksi_disclosures_check_json(NULL, (const uint8_t *)"[]", 2, &names,
	                                              &values, &n), SAKSI_ERR_INVAL);
	assert_null(names);
	assert_null(values);
	assert_int_equal(n, 0);
	names = values = (char **)1;
	n = 99;
	assert_int_equal(saksi_disclosures_check_json(root, NULL, 0, &names, &values, &n),
	                 SAKSI_ERR_INVAL);
	assert_null(names);
	assert_int_equal(n, 0);
	assert_int_equal(saksi_disclosures_check_json(root, (const uint8_t *)"[]", 2, NULL, NULL,
	                                              NULL), SAKSI_OK);
	json_decref(root);
	/* Trees no parse of a payload object gives. */
	root = json_array();
	assert_int_equal(saksi_disclosures_check_json(root, (const uint8_t *)"[]", 2, &names,
	                                              &values, &n), SAKSI_ERR_FORMAT);
	json_decref(root);
	root = json_string("{}");
	assert_int_equal(saksi_disclosures_check_json(root, (const uint8_t *)"[]", 2, NULL, NULL,
	                                              &n), SAKSI_ERR_FORMAT);
	json_decref(root);

	/* 32 disclosures, every one used: past the 8 the check keeps on its stack. */
	root = json_object();
	list = json_array();
	memset(salt, 7, sizeof(salt));
	for (i = 0; i < SAKSI_DISCLOSURES_MAX; i++) {
		char value[32];
		snprintf(name, sizeof(name), "f%zu", i);
		snprintf(value, sizeof(value), "value %zu", i);
		salt[0] = (uint8_t)i;
		assert_int_equal(saksi_disclosure_make_salted(name, value, salt, &d), SAKSI_OK);
		saksi_disclosure_digest(d, strlen(d), digest);
		/* Members in reverse order of the list: the search must wrap around. */
		json_object_set_new(root, name, json_pack("{s:s}", "_sd", digest));
		json_array_insert_new(list, 0, json_string(d));
		free(d);
	}
	text = json_dumps(list, JSON_COMPACT);
	assert_int_equal(saksi_disclosures_check_json(root, (const uint8_t *)text, strlen(text),
	                                              &names, &values, &n), SAKSI_OK);
	assert_int_equal(n, SAKSI_DISCLOSURES_MAX);
	assert_string_equal(names[0], "f31");
	assert_string_equal(values[0], "value 31");
	assert_string_equal(names[31], "f0");
	saksi_disclosures_free(names, values, n);
	payload = json_dumps(root, JSON_COMPACT);
	check_expect(payload, text, SAKSI_OK);
	free(payload);
	/* One of them dropped from the payload: extra. */
	json_object_del(root, "f17");
	assert_int_equal(saksi_disclosures_check_json(root, (const uint8_t *)text, strlen(text),
	                                              &names, &values, &n), SAKSI_ERR_PROOF);
	assert_null(names);
	free(text);
	json_decref(list);
	json_decref(root);

	/* A value of 2,000 bytes: the disclosure no longer fits the decoder's stack buffer. */
	json = malloc(4096);
	assert_non_null(json);
	n = (size_t)snprintf(json, 4096, "[\"AAAAAAAAAAAAAAAAAAAAAA\",\"name\",\"");
	memset(json + n, 'x', 2000);
	strcpy(json + n + 2000, "\"]");
	d = disclosure_of(json);
	saksi_disclosure_digest(d, strlen(d), digest);
	root = json_pack("{s:{s:s}}", "name", "_sd", digest);
	list = json_pack("[s]", d);
	text = json_dumps(list, JSON_COMPACT);
	payload = json_dumps(root, JSON_COMPACT);
	check_expect(payload, text, SAKSI_OK);
	assert_int_equal(saksi_disclosures_check_json(root, (const uint8_t *)text, strlen(text),
	                                              &names, &values, &n), SAKSI_OK);
	assert_int_equal(strlen(values[0]), 2000);
	saksi_disclosures_free(names, values, n);
	free(payload);
	free(text);
	json_decref(list);
	json_decref(root);
	free(d);

	/* A salt of 1,000 characters (750 bytes), canonical or not. */
	for (int bad = 0; bad < 3; bad++) {
		n = (size_t)snprintf(json, 4096, "[\"");
		memset(json + n, 'A', 1000);
		n += 1000;
		if (bad == 1)
			json[n - 1] = '+';     /* not base64url */
		if (bad == 2)
			json[n++] = 'B';       /* 1,001 characters: not a whole encoding */
		strcpy(json + n, "\",\"nik\",\"7371010101900001\"]");
		d = disclosure_of(json);
		saksi_disclosure_digest(d, strlen(d), digest);
		o = json_pack("{s:{s:s}}", "nik", "_sd", digest);
		list = json_pack("[s]", d);
		text = json_dumps(list, JSON_COMPACT);
		payload = json_dumps(o, JSON_COMPACT);
		check_expect(payload, text, bad ? SAKSI_ERR_FORMAT : SAKSI_OK);
		free(payload);
		free(text);
		json_decref(list);
		json_decref(o);
		free(d);
	}
	free(json);
}

static void
test_check_mismatch(void **state)
{
	uint8_t salt[16];
	char *dn, *dp, *dn2, gn[SAKSI_DIGEST_B64_LEN + 1], gp[SAKSI_DIGEST_B64_LEN + 1];
	char payload[512], list[1024], bad[512];

	(void)state;
	memset(salt, 1, sizeof(salt));
	assert_int_equal(saksi_disclosure_make_salted("nik", "1", salt, &dn), SAKSI_OK);
	salt[0] = 2;
	assert_int_equal(saksi_disclosure_make_salted("phone", "2", salt, &dp), SAKSI_OK);
	salt[0] = 3;
	assert_int_equal(saksi_disclosure_make_salted("nik", "3", salt, &dn2), SAKSI_OK);
	saksi_disclosure_digest(dn, strlen(dn), gn);
	saksi_disclosure_digest(dp, strlen(dp), gp);
	snprintf(payload, sizeof(payload), "{\"nik\":{\"_sd\":\"%s\"},\"phone\":{\"_sd\":\"%s\"},"
	         "\"x\":{\"y\":1}}", gn, gp);

	snprintf(list, sizeof(list), "[\"%s\",\"%s\"]", dp, dn);
	check_expect(payload, list, SAKSI_OK);
	/* Missing, extra, duplicated. */
	snprintf(list, sizeof(list), "[\"%s\"]", dn);
	check_expect(payload, list, SAKSI_ERR_PROOF);
	snprintf(list, sizeof(list), "[\"%s\",\"%s\",\"%s\"]", dn, dp, dn2);
	check_expect(payload, list, SAKSI_ERR_PROOF);
	snprintf(list, sizeof(list), "[\"%s\",\"%s\",\"%s\"]", dn, dp, dn);
	check_expect(payload, list, SAKSI_ERR_PROOF);
	/* Another value for the same name does not match the digest. */
	snprintf(list, sizeof(list), "[\"%s\",\"%s\"]", dn2, dp);
	check_expect(payload, list, SAKSI_ERR_PROOF);
	/* A digest moved to another member: the disclosure names a different field. */
	snprintf(bad, sizeof(bad), "{\"phone\":{\"_sd\":\"%s\"},\"nik\":{\"_sd\":\"%s\"}}", gn, gp);
	snprintf(list, sizeof(list), "[\"%s\",\"%s\"]", dn, dp);
	check_expect(bad, list, SAKSI_ERR_PROOF);
	/* The same digest twice in the payload. */
	snprintf(bad, sizeof(bad), "{\"nik\":{\"_sd\":\"%s\"},\"nik2\":{\"_sd\":\"%s\"}}", gn, gn);
	snprintf(list, sizeof(list), "[\"%s\"]", dn);
	check_expect(bad, list, SAKSI_ERR_PROOF);
	/* Digests without disclosures. */
	check_expect(payload, "[]", SAKSI_ERR_PROOF);

	/* Malformed. */
	snprintf(list, sizeof(list), "[\"%s\",\"%s\"]", dn, dp);
	check_expect("[]", list, SAKSI_ERR_FORMAT);
	check_expect("{", list, SAKSI_ERR_FORMAT);
	check_expect(payload, "{}", SAKSI_ERR_FORMAT);
	check_expect(payload, "[1]", SAKSI_ERR_FORMAT);
	check_expect(payload, "[\"!!\"]", SAKSI_ERR_FORMAT);
	check_expect(payload, "[", SAKSI_ERR_FORMAT);
	snprintf(bad, sizeof(bad), "{\"nik\":{\"_sd\":\"%s\",\"x\":1}}", gn);
	snprintf(list, sizeof(list), "[\"%s\"]", dn);
	check_expect(bad, list, SAKSI_ERR_FORMAT);
	snprintf(bad, sizeof(bad), "{\"nik\":{\"_sd\":\"%.42s\"}}", gn);
	check_expect(bad, list, SAKSI_ERR_FORMAT);
	check_expect("{\"nik\":{\"_sd\":5}}", list, SAKSI_ERR_FORMAT);
	{
		char *many = malloc(64 * (SAKSI_DISCLOSURES_MAX + 1) + 8);
		strcpy(many, "[");
		for (int i = 0; i <= SAKSI_DISCLOSURES_MAX; i++)
			strcat(many, i ? ",\"a\"" : "\"a\"");
		strcat(many, "]");
		check_expect("{}", many, SAKSI_ERR_TOO_LARGE);
		free(many);
	}
	free(dn);
	free(dp);
	free(dn2);
}

/* ---- envelopes ---- */

static void
test_envelope_roundtrip(void **state)
{
	saksi_seckey *k = kf_pattern_key(SAKSI_KEY_SIGN, 0), *other = kf_pattern_key(SAKSI_KEY_SIGN, 1);
	uint8_t env[SAKSI_ENV_MAX], *m;
	saksi_envelope ev;
	size_t w;

	(void)state;
	w = sign_simple(k, 42, "queue.booking.created", "{\"a\":1}", env);
	assert_int_equal(w, 27 + 21 + 4 + 7 + 64);
	assert_int_equal(env[0], 1);
	assert_int_equal(env[1], 1);
	assert_memory_equal(env + 2, saksi_seckey_id(k), 8);
	assert_int_equal(saksi_get_u64(env + 10), 42);
	assert_int_equal(saksi_get_u64(env + 18), 1718000000000ULL);
	assert_int_equal(env[26], 21);
	assert_int_equal(saksi_get_u32(env + 48), 7);

	assert_int_equal(saksi_envelope_parse(env, w, &ev), SAKSI_OK);
	assert_memory_equal(ev.ev_key_id, saksi_seckey_id(k), 8);
	assert_int_equal(ev.ev_seq, 42);
	assert_int_equal(ev.ev_time_ms, 1718000000000ULL);
	assert_string_equal(ev.ev_type, "queue.booking.created");
	assert_int_equal(ev.ev_payload_len, 7);
	assert_memory_equal(ev.ev_payload, "{\"a\":1}", 7);
	assert_ptr_equal(ev.ev_sig, env + w - 64);
	assert_ptr_equal(ev.ev_bytes, env);
	assert_int_equal(ev.ev_len, w);
	assert_int_equal(saksi_envelope_verify(&ev, pubkey_of(k)), SAKSI_OK);
	assert_int_equal(saksi_envelope_verify(&ev, pubkey_of(other)), SAKSI_ERR_SIGNATURE);

	/* Independently: Ed25519 over the domain prefix and every byte before the signature. */
	m = malloc(18 + w - 64);
	memcpy(m, "saksi/envelope/v1\n", 18);
	memcpy(m + 18, env, w - 64);
	assert_int_equal(crypto_sign_verify_detached(env + w - 64, m, 18 + w - 64, pubkey_of(k)),
	                 0);
	/* And not over the bytes alone. */
	assert_int_not_equal(crypto_sign_verify_detached(env + w - 64, env, w - 64, pubkey_of(k)),
	                     0);
	free(m);

	/* Every single-bit change is refused, by the parser or by the signature. */
	for (size_t i = 0; i < w * 8; i++) {
		saksi_err e;
		env[i / 8] ^= (uint8_t)(1 << (i % 8));
		e = saksi_envelope_parse(env, w, &ev);
		if (e == SAKSI_OK)
			e = saksi_envelope_verify(&ev, pubkey_of(k));
		if (e == SAKSI_OK)
			fail_msg("bit %zu flipped and still accepted", i);
		env[i / 8] ^= (uint8_t)(1 << (i % 8));
	}
	saksi_seckey_free(other);
	saksi_seckey_free(k);
}

static void
test_envelope_caps(void **state)
{
	saksi_seckey *k = kf_pattern_key(SAKSI_KEY_SIGN, 0), *box = kf_pattern_key(SAKSI_KEY_BOX, 0);
	uint8_t *env = malloc(SAKSI_ENV_MAX + 1), *payload = malloc(SAKSI_PAYLOAD_MAX + 1);
	char type[SAKSI_TYPE_MAX + 2];
	saksi_envelope ev;
	size_t w;

	(void)state;
	memset(type, 'a', sizeof(type));
	type[SAKSI_TYPE_MAX] = '\0';
	memset(payload, ' ', SAKSI_PAYLOAD_MAX + 1);
	payload[0] = '{';
	payload[SAKSI_PAYLOAD_MAX - 1] = '}';
	/* The largest envelope there is. */
	assert_int_equal(saksi_envelope_sign(k, 1, 0, type, payload, SAKSI_PAYLOAD_MAX, env,
	                                     SAKSI_ENV_MAX, &w), SAKSI_OK);
	assert_int_equal(w, SAKSI_ENV_MAX);
	/* 27 + 64 + 4 + 60000 + 64; FORMATS.md's "60,163" is 4 too many. */
	assert_int_equal(w, 60159);
	assert_int_equal(saksi_envelope_parse(env, w, &ev), SAKSI_OK);
	assert_int_equal(saksi_envelope_verify(&ev, pubkey_of(k)), SAKSI_OK);
	assert_int_equal(saksi_envelope_sign(k, 1, 0, type, payload, SAKSI_PAYLOAD_MAX, env,
	                                     SAKSI_ENV_MAX - 1, &w), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_envelope_sign(k, 1, 0, type, payload, SAKSI_PAYLOAD_MAX + 1, env,
	                                     SAKSI_ENV_MAX + 1, &w), SAKSI_ERR_TOO_LARGE);
	type[SAKSI_TYPE_MAX] = 'a';
	type[SAKSI_TYPE_MAX + 1] = '\0';
	assert_int_equal(saksi_envelope_sign(k, 1, 0, type, payload, 2, env, SAKSI_ENV_MAX, &w),
	                 SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_envelope_sign(k, 1, 0, "", payload, 2, env, SAKSI_ENV_MAX, &w),
	                 SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_envelope_sign(k, 1, 0, "Queue.x", payload, 2, env, SAKSI_ENV_MAX,
	                                     &w), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_envelope_sign(k, 1, 0, "queue-x", payload, 2, env, SAKSI_ENV_MAX,
	                                     &w), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_envelope_sign(k, 0, 0, "q", payload, 2, env, SAKSI_ENV_MAX, &w),
	                 SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_envelope_sign(k, 1, 0, "q", payload, 1, env, SAKSI_ENV_MAX, &w),
	                 SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_envelope_sign(box, 1, 0, "q", payload, 2, env, SAKSI_ENV_MAX, &w),
	                 SAKSI_ERR_KEY);
	assert_int_equal(saksi_envelope_sign(NULL, 1, 0, "q", payload, 2, env, SAKSI_ENV_MAX, &w),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_envelope_parse(env, SAKSI_ENV_MAX + 1, &ev), SAKSI_ERR_TOO_LARGE);
	free(env);
	free(payload);
	saksi_seckey_free(box);
	saksi_seckey_free(k);
}

static void
test_envelope_hostile(void **state)
{
	saksi_seckey *k = kf_pattern_key(SAKSI_KEY_SIGN, 0);
	uint8_t env[SAKSI_ENV_MAX + 1], mut[SAKSI_ENV_MAX + 1];
	saksi_envelope ev;
	size_t w, i, t;

	(void)state;
	w = sign_simple(k, 7, "claim.submitted", "{\"claim_id\":\"JHT-1\"}", env);
	/* Every truncation and one trailing byte. */
	for (i = 0; i < w; i++)
		assert_int_equal(saksi_envelope_parse(env, i, &ev), SAKSI_ERR_FORMAT);
	env[w] = 0;
	assert_int_equal(saksi_envelope_parse(env, w + 1, &ev), SAKSI_ERR_FORMAT);

#define MUTATE(off, val, want)                                                   \
	do {                                                                     \
		memcpy(mut, env, w);                                             \
		mut[off] = (uint8_t)(val);                                       \
		assert_int_equal(saksi_envelope_parse(mut, w, &ev), want);       \
	} while (0)
	MUTATE(0, 2, SAKSI_ERR_VERSION);
	MUTATE(0, 0, SAKSI_ERR_VERSION);
	MUTATE(1, 2, SAKSI_ERR_VERSION);
	MUTATE(26, 0, SAKSI_ERR_FORMAT);
	MUTATE(26, 65, SAKSI_ERR_TOO_LARGE);
	MUTATE(26, 255, SAKSI_ERR_TOO_LARGE);
	MUTATE(26, 14, SAKSI_ERR_TOO_LARGE); /* "d" 00 00 00 read as payload_len */
	MUTATE(26, 16, SAKSI_ERR_FORMAT);
	MUTATE(27, 'C', SAKSI_ERR_FORMAT);
	MUTATE(30, ' ', SAKSI_ERR_FORMAT);
	MUTATE(30, 0, SAKSI_ERR_FORMAT);
	MUTATE(30, 0x80, SAKSI_ERR_FORMAT);
#undef MUTATE
	/* seq 0. */
	memcpy(mut, env, w);
	memset(mut + 10, 0, 8);
	assert_int_equal(saksi_envelope_parse(mut, w, &ev), SAKSI_ERR_FORMAT);
	/* payload_len: 15-byte type, so it sits at 42. */
	t = 27 + 15;
	memcpy(mut, env, w);
	saksi_put_u32(mut + t, 60001);
	assert_int_equal(saksi_envelope_parse(mut, w, &ev), SAKSI_ERR_TOO_LARGE);
	saksi_put_u32(mut + t, UINT32_MAX);
	assert_int_equal(saksi_envelope_parse(mut, w, &ev), SAKSI_ERR_TOO_LARGE);
	saksi_put_u32(mut + t, 1);
	assert_int_equal(saksi_envelope_parse(mut, w, &ev), SAKSI_ERR_FORMAT);
	saksi_put_u32(mut + t, 0);
	assert_int_equal(saksi_envelope_parse(mut, w, &ev), SAKSI_ERR_FORMAT);
	saksi_put_u32(mut + t, saksi_get_u32(env + t) + 1);
	assert_int_equal(saksi_envelope_parse(mut, w, &ev), SAKSI_ERR_FORMAT);
	saksi_put_u32(mut + t, saksi_get_u32(env + t) - 1);
	assert_int_equal(saksi_envelope_parse(mut, w, &ev), SAKSI_ERR_FORMAT);

	/* Random bytes behind a valid version: an error or a parse, never a crash. */
	for (i = 0; i < 2000; i++) {
		size_t len;
		uint8_t r[4];
		prng(r, sizeof(r));
		len = saksi_get_u32(r) % 400;
		prng(mut, len);
		if (len > 2) {
			mut[0] = 1;
			mut[1] = 1;
		}
		if (saksi_envelope_parse(mut, len, &ev) == SAKSI_OK)
			assert_int_equal(saksi_envelope_verify(&ev, pubkey_of(k)),
			                 SAKSI_ERR_SIGNATURE);
	}
	/* Valid framing around random type and payload lengths. */
	for (i = 0; i < 2000; i++) {
		uint8_t r[2];
		prng(r, sizeof(r));
		memcpy(mut, env, w);
		mut[26] = r[0];
		mut[42] = r[1];
		(void)saksi_envelope_parse(mut, w, &ev);
	}
	saksi_seckey_free(k);
}

/* ---- sealing ---- */

/*
 * saksi_disclosures_open_hashed with SHA-256 of the envelope opens what
 * saksi_disclosures_open opens, refuses the hash of another envelope, and has the same
 * refusals for the box itself. Leaves sealed as it found it.
 */
static void
check_open_hashed(const uint8_t k[32], const uint8_t *env, size_t ew, const uint8_t *env2,
                  size_t ew2, uint8_t *sealed, size_t sw, const char *list)
{
	uint8_t h[32], h2[32], *plain = (uint8_t *)1;
	size_t plen = 0;

	crypto_hash_sha256(h, env, ew);
	crypto_hash_sha256(h2, env2, ew2);
	assert_int_equal(saksi_disclosures_open_hashed(k, h, sealed, sw, &plain, &plen), SAKSI_OK);
	assert_int_equal(plen, strlen(list));
	assert_memory_equal(plain, list, plen);
	assert_int_equal(plain[plen], 0);
	free(plain);
	plain = (uint8_t *)1;
	assert_int_equal(saksi_disclosures_open_hashed(k, h2, sealed, sw, &plain, &plen),
	                 SAKSI_ERR_DECRYPT);
	assert_null(plain);
	/* The hash, not the envelope: the envelope's own bytes as "hash" do not open it. */
	assert_int_equal(saksi_disclosures_open_hashed(k, env, sealed, sw, &plain, &plen),
	                 SAKSI_ERR_DECRYPT);
	for (size_t i = 0; i < 41; i++)
		assert_int_equal(saksi_disclosures_open_hashed(k, h, sealed, i, &plain, &plen),
		                 SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disclosures_open_hashed(k, h, sealed, SAKSI_SEALED_MAX + 1, &plain,
	                                               &plen), SAKSI_ERR_TOO_LARGE);
	sealed[0] = 2;
	assert_int_equal(saksi_disclosures_open_hashed(k, h, sealed, sw, &plain, &plen),
	                 SAKSI_ERR_VERSION);
	sealed[0] = 1;
	sealed[sw - 1] ^= 1;
	assert_int_equal(saksi_disclosures_open_hashed(k, h, sealed, sw, &plain, &plen),
	                 SAKSI_ERR_DECRYPT);
	sealed[sw - 1] ^= 1;
	assert_int_equal(saksi_disclosures_open_hashed(NULL, h, sealed, sw, &plain, &plen),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disclosures_open_hashed(k, NULL, sealed, sw, &plain, &plen),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disclosures_open_hashed(k, h, NULL, sw, &plain, &plen),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disclosures_open_hashed(k, h, sealed, sw, NULL, &plen),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disclosures_open_hashed(k, h, sealed, sw, &plain, NULL),
	                 SAKSI_ERR_INVAL);
}

static void
test_seal_open(void **state)
{
	saksi_seckey *prod = kf_pattern_key(SAKSI_KEY_SIGN, 0), *app = kf_pattern_key(SAKSI_KEY_BOX, 0x40);
	saksi_seckey *app2 = kf_pattern_key(SAKSI_KEY_BOX, 0x41);
	saksi_pubkey apub;
	uint8_t env[SAKSI_ENV_MAX], env2[SAKSI_ENV_MAX], sealed[2048], k1[32], k2[32], kp[32];
	uint8_t xsk[32], ad[53], plain2[1024], *plain;
	size_t ew, ew2, sw, plen;
	char *d, list[512];

	(void)state;
	assert_int_equal(saksi_seckey_public(app, &apub), SAKSI_OK);
	ew = sign_simple(prod, 1, "queue.booking.created", "{\"a\":1}", env);
	ew2 = sign_simple(prod, 2, "queue.booking.created", "{\"a\":1}", env2);
	assert_int_equal(saksi_disclosure_make("nik", "7371010101900001", &d), SAKSI_OK);
	snprintf(list, sizeof(list), "[\"%s\"]", d);
	free(d);

	assert_int_equal(saksi_disclosures_seal(prod, apub.pk_key, env, ew, (uint8_t *)list,
	                                        strlen(list), sealed, sizeof(sealed), &sw),
	                 SAKSI_OK);
	assert_int_equal(sw, 1 + 24 + strlen(list) + 16);
	assert_int_equal(sealed[0], 1);
	assert_int_equal(saksi_disclosures_key(app, pubkey_of(prod), k1), SAKSI_OK);
	assert_int_equal(saksi_disclosures_open(k1, env, ew, sealed, sw, &plain, &plen), SAKSI_OK);
	assert_int_equal(plen, strlen(list));
	assert_memory_equal(plain, list, plen);
	assert_int_equal(plain[plen], 0);
	free(plain);
	check_open_hashed(k1, env, ew, env2, ew2, sealed, sw, list);

	/* Independently: K from the producer's side, AD, XChaCha20-Poly1305. */
	crypto_sign_ed25519_sk_to_curve25519(xsk, saksi_seckey_ed25519(prod));
	assert_int_equal(crypto_box_beforenm(kp, apub.pk_key, xsk), 0);
	assert_memory_equal(kp, k1, 32);
	memcpy(ad, "saksi/disclosures/v1\n", 21);
	crypto_hash_sha256(ad + 21, env, ew);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(plain2, NULL, NULL,
	                 sealed + 25, sw - 25, ad, sizeof(ad), sealed + 1, kp), 0);
	assert_memory_equal(plain2, list, strlen(list));

	/* Bound to the envelope, the appliance key and every byte. */
	assert_int_equal(saksi_disclosures_open(k1, env2, ew2, sealed, sw, &plain, &plen),
	                 SAKSI_ERR_DECRYPT);
	assert_null(plain);
	assert_int_equal(saksi_disclosures_key(app2, pubkey_of(prod), k2), SAKSI_OK);
	assert_int_equal(saksi_disclosures_open(k2, env, ew, sealed, sw, &plain, &plen),
	                 SAKSI_ERR_DECRYPT);
	for (size_t i = 1; i < sw; i++) {
		sealed[i] ^= 0x20;
		assert_int_equal(saksi_disclosures_open(k1, env, ew, sealed, sw, &plain, &plen),
		                 SAKSI_ERR_DECRYPT);
		sealed[i] ^= 0x20;
	}
	sealed[0] = 2;
	assert_int_equal(saksi_disclosures_open(k1, env, ew, sealed, sw, &plain, &plen),
	                 SAKSI_ERR_VERSION);
	sealed[0] = 1;
	for (size_t i = 0; i < 41; i++)
		assert_int_equal(saksi_disclosures_open(k1, env, ew, sealed, i, &plain, &plen),
		                 SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disclosures_open(k1, env, ew, sealed, sw - 1, &plain, &plen),
	                 SAKSI_ERR_DECRYPT);
	assert_int_equal(saksi_disclosures_open(k1, env, ew, sealed, SAKSI_SEALED_MAX + 1, &plain,
	                                        &plen), SAKSI_ERR_TOO_LARGE);

	/* An empty list seals and opens (41 bytes). */
	assert_int_equal(saksi_disclosures_seal(prod, apub.pk_key, env, ew, (uint8_t *)"[]", 2,
	                                        sealed, sizeof(sealed), &sw), SAKSI_OK);
	assert_int_equal(sw, 43);
	assert_int_equal(saksi_disclosures_open(k1, env, ew, sealed, sw, &plain, &plen), SAKSI_OK);
	assert_int_equal(plen, 2);
	free(plain);

	/* Refusals. */
	assert_int_equal(saksi_disclosures_seal(prod, apub.pk_key, env, ew, (uint8_t *)"[]", 2,
	                                        sealed, 42, &sw), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disclosures_seal(prod, apub.pk_key, env, ew, (uint8_t *)"{}", 2,
	                                        sealed, sizeof(sealed), &sw), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disclosures_seal(prod, apub.pk_key, env, ew, (uint8_t *)"[1]", 3,
	                                        sealed, sizeof(sealed), &sw), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disclosures_seal(prod, apub.pk_key, env, ew, (uint8_t *)"[", 1,
	                                        sealed, sizeof(sealed), &sw), SAKSI_ERR_FORMAT);
	{
		char many[512] = "[";
		for (int i = 0; i <= SAKSI_DISCLOSURES_MAX; i++)
			strcat(many, i ? ",\"\"" : "\"\"");
		strcat(many, "]");
		assert_int_equal(saksi_disclosures_seal(prod, apub.pk_key, env, ew, (uint8_t *)many,
		                                        strlen(many), sealed, sizeof(sealed), &sw),
		                 SAKSI_ERR_TOO_LARGE);
		assert_int_equal(saksi_disclosures_seal(prod, apub.pk_key, env, ew, (uint8_t *)many,
		                                        65537, sealed, sizeof(sealed), &sw),
		                 SAKSI_ERR_TOO_LARGE);
	}
	assert_int_equal(saksi_disclosures_seal(app, apub.pk_key, env, ew, (uint8_t *)"[]", 2,
	                                        sealed, sizeof(sealed), &sw), SAKSI_ERR_KEY);
	memset(kp, 0, sizeof(kp)); /* a low-order point: the shared secret would be zero */
	assert_int_equal(saksi_disclosures_seal(prod, kp, env, ew, (uint8_t *)"[]", 2, sealed,
	                                        sizeof(sealed), &sw), SAKSI_ERR_KEY);
	assert_int_equal(saksi_disclosures_key(prod, pubkey_of(prod), k2), SAKSI_ERR_KEY);
	assert_int_equal(saksi_disclosures_key(app, kp, k2), SAKSI_ERR_KEY);
	saksi_seckey_free(app2);
	saksi_seckey_free(app);
	saksi_seckey_free(prod);
}

/* ---- test vectors ---- */

static const char *
err_name(saksi_err e)
{
	switch (e) {
	case SAKSI_OK:
		return "ok";
	case SAKSI_ERR_FORMAT:
		return "format";
	case SAKSI_ERR_VERSION:
		return "version";
	case SAKSI_ERR_TOO_LARGE:
		return "too_large";
	case SAKSI_ERR_SIGNATURE:
		return "signature";
	default:
		return saksi_strerror(e);
	}
}

static json_t *
hexj(const uint8_t *b, size_t len)
{
	char *h = malloc(len * 2 + 1);
	json_t *j;

	sodium_bin2hex(h, len * 2 + 1, b, len);
	j = json_string(h);
	free(h);
	return j;
}

static size_t
unhex(const char *h, uint8_t *out, size_t outlen)
{
	size_t n;

	assert_non_null(h);
	assert_int_equal(sodium_hex2bin(out, outlen, h, strlen(h), NULL, &n, NULL), 0);
	return n;
}

/* Re-signs an envelope we have deliberately made malformed, so only the parser can object. */
static void
resign(uint8_t *env, size_t len, const uint8_t sk[64], int with_domain)
{
	uint8_t *m = malloc(18 + len);

	memcpy(m, "saksi/envelope/v1\n", 18);
	memcpy(m + 18, env, len - 64);
	if (with_domain)
		crypto_sign_detached(env + len - 64, NULL, m, 18 + len - 64, sk);
	else
		crypto_sign_detached(env + len - 64, NULL, env, len - 64, sk);
	free(m);
}

static void
add_invalid(json_t *arr, const char *what, const uint8_t *env, size_t len, const char *error)
{
	json_array_append_new(arr, json_pack("{s:s,s:o,s:s}", "description", what, "envelope",
	                                     hexj(env, len), "error", error));
}

#define VEC_TIME 1718000000000LL /* 2024-06-10T06:13:20Z */

/*
 * The whole vector file, built by our code from fixed keys and inputs. Only the sealed
 * box is built here by hand (a fixed nonce, which the library never takes), which also
 * makes it an independent check of FORMATS.md 2.2 against saksi_disclosures_open.
 */
static char *
build_vectors(void)
{
	saksi_seckey *prod = kf_pattern_key(SAKSI_KEY_SIGN, 0x00), *app = kf_pattern_key(SAKSI_KEY_BOX, 0x40);
	saksi_pubkey ppub, apub;
	uint8_t seed[32], xs[32], salt[16], h[32], nonce[24], k[32], xsk[32], ad[53];
	uint8_t env[2][1024], bad[1024], sealed[1024];
	size_t ew[2], i;
	char b64[61], *disc[2], dig[2][SAKSI_DIGEST_B64_LEN + 1], payload[2][512], list[512];
	const char *names[2] = { "nik", "phone" };
	const char *values[2] = { "7371010101900001", "+6281234567890" };
	const char *types[2] = { "queue.booking.created", "claim.submitted" };
	json_t *root, *j, *arr, *inv;
	unsigned long long clen;
	char *out;

	for (i = 0; i < 32; i++) {
		seed[i] = (uint8_t)i;
		xs[i] = (uint8_t)(0x40 + i);
	}
	assert_int_equal(saksi_seckey_public(prod, &ppub), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(app, &apub), SAKSI_OK);

	root = json_object();
	json_object_set_new(root, "description", json_string(
	    "saksi event envelope v1 test vectors (schemas/FORMATS.md section 2). "
	    "Generated by lib/envelope_test.c; see schemas/vectors/README.md. "
	    "Binary values are lowercase hex unless named otherwise."));
	saksi_pubkey_encode(&ppub, b64, sizeof(b64));
	json_object_set_new(root, "producer", json_pack("{s:o,s:o,s:o,s:s}",
	    "ed25519_seed", hexj(seed, 32), "ed25519_public_key", hexj(ppub.pk_key, 32),
	    "key_id", hexj(ppub.pk_id, 8), "public_key_blob_base64", b64));
	saksi_pubkey_encode(&apub, b64, sizeof(b64));
	json_object_set_new(root, "appliance", json_pack("{s:o,s:o,s:o,s:s}",
	    "x25519_secret", hexj(xs, 32), "x25519_public_key", hexj(apub.pk_key, 32),
	    "key_id", hexj(apub.pk_id, 8), "public_key_blob_base64", b64));

	arr = json_array();
	for (i = 0; i < 2; i++) {
		memset(salt, (int)(0xa0 + i), sizeof(salt));
		assert_int_equal(saksi_disclosure_make_salted(names[i], values[i], salt, &disc[i]),
		                 SAKSI_OK);
		saksi_disclosure_digest(disc[i], strlen(disc[i]), dig[i]);
		json_array_append_new(arr, json_pack("{s:o,s:s,s:s,s:s,s:s}", "salt",
		                                     hexj(salt, 16), "name", names[i], "value",
		                                     values[i], "disclosure", disc[i], "digest",
		                                     dig[i]));
	}
	json_object_set_new(root, "disclosures", arr);

	snprintf(payload[0], sizeof(payload[0]),
	         "{\"booking_id\":\"QB-20240610-0001\",\"branch\":\"KC-MAKASSAR\","
	         "\"nik\":{\"_sd\":\"%s\"},\"phone\":{\"_sd\":\"%s\"},\"slot_hour\":9}",
	         dig[0], dig[1]);
	snprintf(payload[1], sizeof(payload[1]),
	         "{\"branch\":\"KC-MAKASSAR\",\"claim_id\":\"JHT-20240610-0001\"}");
	arr = json_array();
	for (i = 0; i < 2; i++) {
		assert_int_equal(saksi_envelope_sign(prod, i + 1, (uint64_t)VEC_TIME + i * 1000,
		                                     types[i], (uint8_t *)payload[i],
		                                     strlen(payload[i]), env[i], sizeof(env[i]),
		                                     &ew[i]), SAKSI_OK);
		crypto_hash_sha256(h, env[i], ew[i]);
		j = json_pack("{s:I,s:I,s:s,s:s,s:o,s:o,s:o}", "seq", (json_int_t)(i + 1),
		              "time_ms", (json_int_t)(VEC_TIME + (json_int_t)i * 1000), "type",
		              types[i], "payload", payload[i], "signature",
		              hexj(env[i] + ew[i] - 64, 64), "sha256", hexj(h, 32), "envelope",
		              hexj(env[i], ew[i]));
		json_array_append_new(arr, j);
	}
	json_object_set_new(root, "envelopes", arr);

	/* Disclosures of envelope 0 sealed to the appliance, nonce 0x60.. */
	snprintf(list, sizeof(list), "[\"%s\",\"%s\"]", disc[0], disc[1]);
	for (i = 0; i < 24; i++)
		nonce[i] = (uint8_t)(0x60 + i);
	crypto_sign_ed25519_sk_to_curve25519(xsk, saksi_seckey_ed25519(prod));
	assert_int_equal(crypto_box_beforenm(k, apub.pk_key, xsk), 0);
	memcpy(ad, "saksi/disclosures/v1\n", 21);
	crypto_hash_sha256(ad + 21, env[0], ew[0]);
	sealed[0] = 1;
	memcpy(sealed + 1, nonce, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + 25, &clen, (uint8_t *)list,
	                                           strlen(list), ad, sizeof(ad), NULL, nonce, k);
	arr = json_array();
	json_array_append_new(arr, json_pack("{s:i,s:o,s:o,s:s,s:o}", "envelope", 0,
	    "key", hexj(k, 32), "nonce", hexj(nonce, 24), "plaintext", list,
	    "sealed", hexj(sealed, 25 + (size_t)clen)));
	json_object_set_new(root, "sealed", arr);

	/* Forgeries and malformed envelopes, all derived from envelope 1. */
	inv = json_array();
	memcpy(bad, env[1], ew[1]);
	bad[ew[1] - 1] ^= 0x01;
	add_invalid(inv, "last signature bit flipped", bad, ew[1], "signature");
	memcpy(bad, env[1], ew[1]);
	bad[29] ^= 0x03;
	add_invalid(inv, "type changed after signing (claim -> clbim)", bad, ew[1], "signature");
	memcpy(bad, env[1], ew[1]);
	resign(bad, ew[1], saksi_seckey_ed25519(prod), 0);
	add_invalid(inv, "signed without the \"saksi/envelope/v1\\n\" prefix", bad, ew[1],
	            "signature");
	memcpy(bad, env[1], ew[1]);
	bad[ew[1]] = 0;
	add_invalid(inv, "one byte after the signature", bad, ew[1] + 1, "format");
	add_invalid(inv, "last byte missing", env[1], ew[1] - 1, "format");
	memcpy(bad, env[1], ew[1]);
	bad[0] = 2;
	resign(bad, ew[1], saksi_seckey_ed25519(prod), 1);
	add_invalid(inv, "version 2", bad, ew[1], "version");
	memcpy(bad, env[1], ew[1]);
	bad[1] = 2;
	resign(bad, ew[1], saksi_seckey_ed25519(prod), 1);
	add_invalid(inv, "alg 2", bad, ew[1], "version");
	memcpy(bad, env[1], ew[1]);
	memset(bad + 10, 0, 8);
	resign(bad, ew[1], saksi_seckey_ed25519(prod), 1);
	add_invalid(inv, "seq 0", bad, ew[1], "format");
	memcpy(bad, env[1], ew[1]);
	bad[27] = 'C';
	resign(bad, ew[1], saksi_seckey_ed25519(prod), 1);
	add_invalid(inv, "type with an upper-case letter", bad, ew[1], "format");
	memcpy(bad, env[1], ew[1]);
	saksi_put_u32(bad + 27 + 15, 60001);
	add_invalid(inv, "payload_len 60001", bad, ew[1], "too_large");
	json_object_set_new(root, "invalid_envelopes", inv);

	out = json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	assert_non_null(out);
	json_decref(root);
	free(disc[0]);
	free(disc[1]);
	saksi_seckey_free(app);
	saksi_seckey_free(prod);
	{
		/* A text file ends with a newline. */
		size_t n = strlen(out);
		char *t = realloc(out, n + 2);
		assert_non_null(t);
		t[n] = '\n';
		t[n + 1] = '\0';
		out = t;
	}
	return out;
}

static void
test_vectors_reproduce(void **state)
{
	char *mine = build_vectors(), *file;
	const char *w = getenv("SAKSI_WRITE_VECTORS");
	size_t len = 0;

	(void)state;
	if (w != NULL && strcmp(w, "1") == 0) {
		spit(VECTOR_FILE, mine, strlen(mine));
		print_message("wrote %s\n", VECTOR_FILE);
	}
	if (access(VECTOR_FILE, F_OK) != 0)
		fail_msg("%s is missing: run SAKSI_WRITE_VECTORS=1 envelope_test once", VECTOR_FILE);
	file = slurp(VECTOR_FILE, &len);
	if (len != strlen(mine) || memcmp(file, mine, len) != 0)
		fail_msg("the envelope format changed: our code no longer reproduces %s. If the "
		         "change is intended it needs a new format version, not new vectors.",
		         VECTOR_FILE);
	free(file);
	free(mine);
}

/* Reads the checked-in file and checks what each vector means, not only its bytes. */
static void
test_vectors_verify(void **state)
{
	json_error_t jerr;
	json_t *root, *v, *p, *a;
	uint8_t seed[32], pk[32], sk[64], id[8], env[1024], buf[1024], h[32], k[32];
	uint8_t salt[16], *plain;
	size_t n, el, i, plen;
	saksi_envelope ev;
	saksi_pubkey pub;
	saksi_seckey *app;
	char *d, *payload0 = NULL;
	char hex[129], **names, **values;
	saksi_err e;

	(void)state;
	root = json_load_file(VECTOR_FILE, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		fail_msg("%s: %s", VECTOR_FILE, jerr.text);

	p = json_object_get(root, "producer");
	unhex(json_string_value(json_object_get(p, "ed25519_seed")), seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_bin2hex(hex, sizeof(hex), pk, 32);
	assert_string_equal(hex, json_string_value(json_object_get(p, "ed25519_public_key")));
	saksi_key_id(pk, id);
	sodium_bin2hex(hex, sizeof(hex), id, 8);
	assert_string_equal(hex, json_string_value(json_object_get(p, "key_id")));
	assert_int_equal(saksi_pubkey_decode(json_string_value(json_object_get(p,
	                 "public_key_blob_base64")), &pub), SAKSI_OK);
	assert_memory_equal(pub.pk_key, pk, 32);

	json_array_foreach(json_object_get(root, "disclosures"), i, v) {
		char dg[SAKSI_DIGEST_B64_LEN + 1], *nm, *vl;
		const char *ds = json_string_value(json_object_get(v, "disclosure"));
		unhex(json_string_value(json_object_get(v, "salt")), salt, sizeof(salt));
		assert_int_equal(saksi_disclosure_make_salted(
		    json_string_value(json_object_get(v, "name")),
		    json_string_value(json_object_get(v, "value")), salt, &d), SAKSI_OK);
		assert_string_equal(d, ds);
		free(d);
		saksi_disclosure_digest(ds, strlen(ds), dg);
		assert_string_equal(dg, json_string_value(json_object_get(v, "digest")));
		assert_int_equal(saksi_disclosure_decode(ds, strlen(ds), &nm, &vl), SAKSI_OK);
		assert_string_equal(nm, json_string_value(json_object_get(v, "name")));
		assert_string_equal(vl, json_string_value(json_object_get(v, "value")));
		free(nm);
		free(vl);
	}

	a = json_object_get(root, "envelopes");
	assert_int_equal(json_array_size(a), 2);
	json_array_foreach(a, i, v) {
		const char *pl = json_string_value(json_object_get(v, "payload"));
		el = unhex(json_string_value(json_object_get(v, "envelope")), env, sizeof(env));
		assert_int_equal(saksi_envelope_parse(env, el, &ev), SAKSI_OK);
		assert_int_equal(saksi_envelope_verify(&ev, pk), SAKSI_OK);
		assert_memory_equal(ev.ev_key_id, id, 8);
		assert_int_equal(ev.ev_seq, json_integer_value(json_object_get(v, "seq")));
		assert_int_equal(ev.ev_time_ms, json_integer_value(json_object_get(v, "time_ms")));
		assert_string_equal(ev.ev_type, json_string_value(json_object_get(v, "type")));
		assert_int_equal(ev.ev_payload_len, strlen(pl));
		assert_memory_equal(ev.ev_payload, pl, strlen(pl));
		sodium_bin2hex(hex, sizeof(hex), ev.ev_sig, 64);
		assert_string_equal(hex, json_string_value(json_object_get(v, "signature")));
		crypto_hash_sha256(h, env, el);
		sodium_bin2hex(hex, sizeof(hex), h, 32);
		assert_string_equal(hex, json_string_value(json_object_get(v, "sha256")));
		if (i == 0)
			payload0 = strdup(pl);
	}

	/* The sealed box opens with K computed on the appliance's side. */
	p = json_object_get(root, "appliance");
	unhex(json_string_value(json_object_get(p, "x25519_secret")), seed, sizeof(seed));
	assert_int_equal(saksi_seckey_from_secret(SAKSI_KEY_BOX, seed, &app), SAKSI_OK);
	v = json_array_get(json_object_get(root, "sealed"), 0);
	assert_int_equal(saksi_disclosures_key(app, pk, k), SAKSI_OK);
	sodium_bin2hex(hex, sizeof(hex), k, 32);
	assert_string_equal(hex, json_string_value(json_object_get(v, "key")));
	el = unhex(json_string_value(json_object_get(json_array_get(a, 0), "envelope")), env,
	           sizeof(env));
	n = unhex(json_string_value(json_object_get(v, "sealed")), buf, sizeof(buf));
	assert_int_equal(saksi_disclosures_open(k, env, el, buf, n, &plain, &plen), SAKSI_OK);
	assert_string_equal((char *)plain, json_string_value(json_object_get(v, "plaintext")));
	/* And the disclosures match envelope 0's digests. */
	assert_non_null(payload0);
	assert_int_equal(saksi_disclosures_check((uint8_t *)payload0, strlen(payload0), plain,
	                                         plen, &names, &values, &n), SAKSI_OK);
	assert_int_equal(n, 2);
	assert_string_equal(values[0], "7371010101900001");
	saksi_disclosures_free(names, values, n);
	free(plain);
	free(payload0);
	saksi_seckey_free(app);

	json_array_foreach(json_object_get(root, "invalid_envelopes"), i, v) {
		el = unhex(json_string_value(json_object_get(v, "envelope")), env, sizeof(env));
		e = saksi_envelope_parse(env, el, &ev);
		if (e == SAKSI_OK)
			e = saksi_envelope_verify(&ev, pk);
		if (strcmp(err_name(e), json_string_value(json_object_get(v, "error"))) != 0)
			fail_msg("invalid vector \"%s\": got %s",
			         json_string_value(json_object_get(v, "description")), err_name(e));
	}
	json_decref(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sdjwt_example),
		cmocka_unit_test(test_disclosure_roundtrip),
		cmocka_unit_test(test_disclosure_hostile),
		cmocka_unit_test(test_disclose_and_check),
		cmocka_unit_test(test_check_mismatch),
		cmocka_unit_test(test_check_parsed),
		cmocka_unit_test(test_envelope_roundtrip),
		cmocka_unit_test(test_envelope_caps),
		cmocka_unit_test(test_envelope_hostile),
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_vectors_reproduce),
		cmocka_unit_test(test_vectors_verify),
	};
	const char *s = getenv("SAKSI_TEST_SEED");
	char hex[sizeof(test_seed) * 2 + 1];
	size_t n = 0;

	if (sodium_init() < 0)
		return 1;
	if (s == NULL || sodium_hex2bin(test_seed, sizeof(test_seed), s, strlen(s), NULL, &n,
	                                NULL) != 0 || n != sizeof(test_seed))
		randombytes_buf(test_seed, sizeof(test_seed));
	sodium_bin2hex(hex, sizeof(hex), test_seed, sizeof(test_seed));
	printf("envelope_test: SAKSI_TEST_SEED=%s\n", hex);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
