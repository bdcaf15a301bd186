/*
 * schema_test.c: the real schemas load, every example validates (and its disclosures match
 * its digests), every type refuses broken payloads, every keyword fails as it should, and
 * hostile input (duplicates, depth bombs, huge input) and broken schema files are refused.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "envelope.h"
#include "schema.h"
#include "../tests/testutil.h"

#define EVENTS_DIR SAKSI_SOURCE_DIR "/schemas/events"
#define EXAMPLES_DIR SAKSI_SOURCE_DIR "/schemas/examples"

/* The types the task and the detectors rely on; more may exist. */
static const char *const must_types[] = {
	"queue.slot.opened", "queue.booking.created", "queue.booking.cancelled",
	"queue.booking.rescheduled", "queue.checkin", "queue.called", "queue.service.started",
	"queue.service.ended", "queue.noshow", "claim.eligibility.checked", "claim.submitted",
	"claim.nik.checked", "claim.document.checked", "claim.identity.verified",
	"claim.approved", "claim.rejected", "claim.payment.sent", "claim.payment.failed",
	"staff.login", "staff.quota.override", "staff.priority.changed",
};

/* JSON written with single quotes in C, for legibility: 'a' becomes "a". */
static char *
q(const char *s)
{
	char *r = strdup(s);

	assert_non_null(r);
	for (char *c = r; *c; c++)
		if (*c == '\'')
			*c = '"';
	return r;
}

static saksi_schemas *
load_real(void)
{
	saksi_schemas *s = NULL;
	char err[512];
	saksi_err e = saksi_schemas_load(EVENTS_DIR, &s, err, sizeof(err));

	if (e != SAKSI_OK)
		fail_msg("loading %s: %s", EVENTS_DIR, err);
	return s;
}

/*
 * The two-step check (saksi_schemas_parse_payload, then saksi_schemas_validate_json) of a
 * signed payload of a known type must give what saksi_schemas_validate gave: the same
 * code, the same message, and leave the tree as it found it.
 */
static void
same_in_two_steps(const saksi_schemas *s, const char *type, const char *text, size_t len,
                  saksi_err want, const char *msg)
{
	char err[512] = "unset";
	json_t *root = (json_t *)1;
	size_t refs;
	saksi_err e;

	if (!saksi_schemas_has(s, type))
		return;
	e = saksi_schemas_parse_payload(text, len, &root, err, sizeof(err));
	if (e == SAKSI_OK) {
		assert_non_null(root);
		refs = root->refcount;
		e = saksi_schemas_validate_json(s, type, root, err, sizeof(err));
		assert_int_equal(root->refcount, refs);
		json_decref(root);
	} else
		assert_null(root);
	if (e != want || strcmp(err, msg) != 0)
		fail_msg("%s in two steps: got %d \"%s\", in one %d \"%s\"\n  payload: %.300s",
		         type, e, err, want, msg, text);
}

/* Validates text (signed or clear) and checks the code and the exact message. */
static void
expect(const saksi_schemas *s, const char *type, int clear, const char *text, saksi_err want,
       const char *msg)
{
	char err[512] = "unset";
	saksi_err e = clear ? saksi_schemas_validate_clear(s, type, text, strlen(text), err, sizeof(err))
	                    : saksi_schemas_validate(s, type, text, strlen(text), err, sizeof(err));

	if (e != want || (msg != NULL && strcmp(err, msg) != 0))
		fail_msg("%s %s: got %d \"%s\", want %d \"%s\"\n  payload: %.300s", type,
		         clear ? "clear" : "signed", e, err, want, msg ? msg : "", text);
	if (!clear)
		same_in_two_steps(s, type, text, strlen(text), e, err);
}

static void
expect_json(const saksi_schemas *s, const char *type, int clear, const json_t *j, saksi_err want,
            const char *msg)
{
	char *text = json_dumps(j, JSON_COMPACT);

	assert_non_null(text);
	expect(s, type, clear, text, want, msg);
	free(text);
}

static void
test_load_real(void **state)
{
	saksi_schemas *s = load_real();
	const char *const *p;

	(void)state;
	for (size_t i = 0; i < sizeof(must_types) / sizeof(must_types[0]); i++)
		assert_true(saksi_schemas_has(s, must_types[i]));
	assert_true(saksi_schemas_count(s) >= sizeof(must_types) / sizeof(must_types[0]));
	for (size_t i = 1; i < saksi_schemas_count(s); i++)
		assert_true(strcmp(saksi_schemas_type_at(s, i - 1), saksi_schemas_type_at(s, i)) < 0);
	assert_null(saksi_schemas_type_at(s, saksi_schemas_count(s)));
	assert_false(saksi_schemas_has(s, "queue.booking"));
	assert_false(saksi_schemas_has(s, "queue.booking.created.x"));
	assert_false(saksi_schemas_has(s, ""));
	assert_false(saksi_schemas_has(s, NULL));
	assert_false(saksi_schemas_has(NULL, "queue.checkin"));
	assert_int_equal(saksi_schemas_count(NULL), 0);
	assert_null(saksi_schemas_type_at(NULL, 0));

	p = saksi_schemas_personal(s, "queue.booking.created");
	assert_non_null(p);
	{
		static const char *const want[] = { "nik", "kpj", "name", "phone", "email",
		                                    "device_id", "ip", NULL };
		for (size_t i = 0; want[i] != NULL || p[i] != NULL; i++) {
			assert_non_null(p[i]);
			assert_non_null(want[i]);
			assert_string_equal(p[i], want[i]);
		}
	}
	p = saksi_schemas_personal(s, "queue.called");
	assert_non_null(p);
	assert_null(p[0]);
	assert_null(saksi_schemas_personal(s, "no.such.type"));
	assert_null(saksi_schemas_personal(s, NULL));
	assert_null(saksi_schemas_personal(NULL, "queue.called"));
	saksi_schemas_free(s);
	saksi_schemas_free(NULL);
}

/* Every schema file follows the conventions of schemas/README.md. */
static void
test_conventions(void **state)
{
	saksi_schemas *s = load_real();
	char path[1024];

	char *readme = slurp(SAKSI_SOURCE_DIR "/schemas/README.md", NULL);

	(void)state;
	assert_non_null(readme);
	for (size_t i = 0; i < saksi_schemas_count(s); i++) {
		const char *t = saksi_schemas_type_at(s, i);
		const char *k, *sec, *end;
		json_t *sch, *props, *v;
		size_t n = 0;
		char head[128], row[128];

		/* The README documents every type and every field of it. */
		snprintf(head, sizeof(head), "\n### `%s`\n", t);
		sec = strstr(readme, head);
		if (sec == NULL)
			fail_msg("schemas/README.md has no section %s", t);
		sec += strlen(head);
		end = strstr(sec, "\n### ");
		if (end == NULL)
			end = sec + strlen(sec);

		snprintf(path, sizeof(path), "%s/%s.json", EVENTS_DIR, t);
		sch = tu_load_json(path);
		props = json_object_get(sch, "properties");
		assert_string_equal(json_string_value(json_object_get(json_object_get(props, "branch"),
		                                                      "pattern")),
		                    "^[A-Z0-9-]{2,24}$");
		json_object_foreach(props, k, v) {
			json_t *pat = json_object_get(v, "pattern");
			json_t *clear = json_object_get(v, "x-clear");
			/* Patterns are anchored as written: a schema author never relies on search. */
			if (clear != NULL)
				pat = json_object_get(clear, "pattern");
			if (pat != NULL) {
				const char *ps = json_string_value(pat);
				assert_true(ps[0] == '^' && ps[strlen(ps) - 1] == '$');
			}
			assert_non_null(json_object_get(v, "description"));
			snprintf(row, sizeof(row), "\n| `%s` |", k);
			{
				const char *r = strstr(sec, row);
				if (r == NULL || r > end)
					fail_msg("schemas/README.md: %s lacks field %s", t, k);
			}
			if (json_is_true(json_object_get(v, "x-personal")))
				n++;
		}
		{
			const char *const *p = saksi_schemas_personal(s, t);
			size_t m = 0;
			while (p[m] != NULL)
				m++;
			assert_int_equal(m, n);
		}
		json_decref(sch);
	}
	free(readme);
	saksi_schemas_free(s);
}

/* One signed example per type, and no example without a schema. */
static void
test_examples_valid(void **state)
{
	saksi_schemas *s = load_real();
	char path[1024];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < saksi_schemas_count(s); i++) {
		const char *t = saksi_schemas_type_at(s, i);
		char *text;
		snprintf(path, sizeof(path), "%s/%s.json", EXAMPLES_DIR, t);
		text = slurp(path, NULL);
		if (text == NULL)
			fail_msg("no example %s", path);
		expect(s, t, 0, text, SAKSI_OK, "");
		free(text);
	}
	d = opendir(EXAMPLES_DIR);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0) {
			char t[256];
			snprintf(t, sizeof(t), "%.*s", (int)(l - 5), de->d_name);
			if (!saksi_schemas_has(s, t))
				fail_msg("example %s has no schema", de->d_name);
			n++;
		}
	}
	closedir(d);
	assert_int_equal(n, saksi_schemas_count(s));
	saksi_schemas_free(s);
}

/*
 * The disclosures of each example open to the clear example: every digest is
 * base64url(SHA-256(disclosure)) of a [salt, name, value] disclosure (FORMATS.md 2.1), and
 * the clear payload passes validate_clear while the signed one does not (and vice versa).
 */
static void
test_examples_disclosures(void **state)
{
	saksi_schemas *s = load_real();
	char path[1024];

	(void)state;
	assert_true(sodium_init() >= 0);
	for (size_t i = 0; i < saksi_schemas_count(s); i++) {
		const char *t = saksi_schemas_type_at(s, i);
		const char *const *personal = saksi_schemas_personal(s, t);
		json_t *signed_ex, *clear_ex, *disc, *rebuilt, *d;
		size_t k, np = 0;

		snprintf(path, sizeof(path), "%s/%s.json", EXAMPLES_DIR, t);
		signed_ex = tu_load_json(path);
		snprintf(path, sizeof(path), "%s/clear/%s.json", EXAMPLES_DIR, t);
		clear_ex = tu_load_json(path);
		snprintf(path, sizeof(path), "%s/disclosures/%s.json", EXAMPLES_DIR, t);
		disc = tu_load_json(path);
		assert_true(json_is_array(disc));
		rebuilt = json_deep_copy(signed_ex);

		json_array_foreach(disc, k, d) {
			const char *ds = json_string_value(d);
			unsigned char hash[crypto_hash_sha256_BYTES], bin[1024];
			char digest[64];
			size_t bl;
			json_t *arr, *sd;
			json_error_t je;
			const char *name;

			assert_non_null(ds);
			assert_int_equal(sodium_base642bin(bin, sizeof(bin), ds, strlen(ds), NULL, &bl, NULL,
			                                   sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
			arr = json_loadb((const char *)bin, bl, JSON_REJECT_DUPLICATES, &je);
			assert_non_null(arr);
			assert_int_equal(json_array_size(arr), 3);
			assert_true(strlen(json_string_value(json_array_get(arr, 0))) >= 22);
			name = json_string_value(json_array_get(arr, 1));
			assert_non_null(name);
			assert_true(json_is_string(json_array_get(arr, 2)));
			crypto_hash_sha256(hash, (const unsigned char *)ds, strlen(ds));
			sodium_bin2base64(digest, sizeof(digest), hash, sizeof(hash),
			                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
			sd = json_object_get(json_object_get(signed_ex, name), "_sd");
			if (sd == NULL || strcmp(json_string_value(sd), digest) != 0)
				fail_msg("%s: disclosure %zu (%s) does not match its digest", t, k, name);
			json_object_set(rebuilt, name, json_array_get(arr, 2));
			json_decref(arr);
			np++;
		}
		/* Every personal member present is disclosed; the rebuilt payload is the clear one. */
		for (k = 0; personal[k] != NULL; k++)
			if (json_object_get(signed_ex, personal[k]) != NULL)
				np--;
		assert_int_equal(np, 0);
		assert_true(json_equal(rebuilt, clear_ex));
		expect_json(s, t, 1, clear_ex, SAKSI_OK, "");
		if (json_array_size(disc) > 0) {
			expect_json(s, t, 0, clear_ex, SAKSI_ERR_SCHEMA, NULL);
			expect_json(s, t, 1, signed_ex, SAKSI_ERR_SCHEMA, NULL);
		} else
			expect_json(s, t, 1, signed_ex, SAKSI_OK, "");
		json_decref(signed_ex);
		json_decref(clear_ex);
		json_decref(disc);
		json_decref(rebuilt);
	}
	saksi_schemas_free(s);
}

/* A value of another JSON type than the schema's, and the message it must give. */
static json_t *
wrong_type(const json_t *prop, const char **got, const char **want)
{
	const char *t = json_string_value(json_object_get(prop, "type"));

	*want = t;
	if (strcmp(t, "string") == 0) {
		*got = "an integer";
		return json_integer(12345);
	}
	if (strcmp(t, "array") == 0) {
		*got = "an object";
		return json_object();
	}
	*got = "a string";
	return json_string("x");
}

/* For every type: each required member missing, an unknown member, each member broken. */
static void
test_invalid_every_type(void **state)
{
	saksi_schemas *s = load_real();
	char path[1024], msg[512];
	size_t cases = 0;

	(void)state;
	for (size_t i = 0; i < saksi_schemas_count(s); i++) {
		const char *t = saksi_schemas_type_at(s, i);
		json_t *sch, *ex, *props, *req, *v, *m;
		const char *k;
		size_t x;

		snprintf(path, sizeof(path), "%s/%s.json", EVENTS_DIR, t);
		sch = tu_load_json(path);
		snprintf(path, sizeof(path), "%s/%s.json", EXAMPLES_DIR, t);
		ex = tu_load_json(path);
		props = json_object_get(sch, "properties");
		req = json_object_get(sch, "required");

		json_array_foreach(req, x, v) {
			m = json_deep_copy(ex);
			json_object_del(m, json_string_value(v));
			snprintf(msg, sizeof(msg), "/%s: required member is missing", json_string_value(v));
			expect_json(s, t, 0, m, SAKSI_ERR_SCHEMA, msg);
			json_decref(m);
			cases++;
		}
		m = json_deep_copy(ex);
		json_object_set_new(m, "zz_extra", json_true());
		expect_json(s, t, 0, m, SAKSI_ERR_SCHEMA, "/zz_extra: unknown member (additionalProperties is false)");
		json_decref(m);
		expect(s, t, 0, "[]", SAKSI_ERR_SCHEMA, "(root): is an array, expected object");

		json_object_foreach(props, k, v) {
			json_t *bad;
			const char *got, *want;
			if (json_is_true(json_object_get(v, "x-personal"))) {
				m = json_deep_copy(ex);
				json_object_set_new(m, k, json_string("1234567890123456"));
				snprintf(msg, sizeof(msg), "/%s: a personal field must be {\"_sd\": \"<43-char base64url digest>\"} in a signed payload", k);
				expect_json(s, t, 0, m, SAKSI_ERR_SCHEMA, msg);
				json_decref(m);
				cases++;
				continue;
			}
			m = json_deep_copy(ex);
			bad = wrong_type(v, &got, &want);
			json_object_set_new(m, k, bad);
			snprintf(msg, sizeof(msg), "/%s: is %s, expected %s", k, got, want);
			expect_json(s, t, 0, m, SAKSI_ERR_SCHEMA, msg);
			json_decref(m);
			cases++;
			if (json_object_get(v, "maximum") != NULL) {
				json_int_t mx = json_integer_value(json_object_get(v, "maximum"));
				m = json_deep_copy(ex);
				json_object_set_new(m, k, json_integer(mx + 1));
				snprintf(msg, sizeof(msg), "/%s: %" JSON_INTEGER_FORMAT " is above the maximum %" JSON_INTEGER_FORMAT, k, mx + 1, mx);
				expect_json(s, t, 0, m, SAKSI_ERR_SCHEMA, msg);
				json_decref(m);
				cases++;
			}
			if (json_object_get(v, "minimum") != NULL) {
				json_int_t mn = json_integer_value(json_object_get(v, "minimum"));
				m = json_deep_copy(ex);
				json_object_set_new(m, k, json_integer(mn - 1));
				snprintf(msg, sizeof(msg), "/%s: %" JSON_INTEGER_FORMAT " is below the minimum %" JSON_INTEGER_FORMAT, k, mn - 1, mn);
				expect_json(s, t, 0, m, SAKSI_ERR_SCHEMA, msg);
				json_decref(m);
				cases++;
			}
			if (json_object_get(v, "enum") != NULL) {
				m = json_deep_copy(ex);
				json_object_set_new(m, k, json_string("zzz_not_a_value"));
				snprintf(msg, sizeof(msg), "/%s: is not one of the %zu allowed values", k,
				         json_array_size(json_object_get(v, "enum")));
				expect_json(s, t, 0, m, SAKSI_ERR_SCHEMA, msg);
				json_decref(m);
				cases++;
			}
			if (json_object_get(v, "pattern") != NULL) {
				m = json_deep_copy(ex);
				json_object_set_new(m, k, json_string("~"));
				snprintf(msg, sizeof(msg), "/%s: does not match the pattern %s", k,
				         json_string_value(json_object_get(v, "pattern")));
				expect_json(s, t, 0, m, SAKSI_ERR_SCHEMA, msg);
				json_decref(m);
				cases++;
			}
			if (json_object_get(v, "format") != NULL) {
				m = json_deep_copy(ex);
				json_object_set_new(m, k, json_string("2025-02-29"));
				if (strcmp(json_string_value(json_object_get(v, "format")), "date") == 0)
					snprintf(msg, sizeof(msg), "/%s: is not a date (YYYY-MM-DD)", k);
				else
					snprintf(msg, sizeof(msg), "/%s: is not an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM))", k);
				expect_json(s, t, 0, m, SAKSI_ERR_SCHEMA, msg);
				json_decref(m);
				cases++;
			}
			if (json_object_get(v, "items") != NULL) {
				m = json_deep_copy(ex);
				json_object_set_new(m, k, json_array());
				snprintf(msg, sizeof(msg), "/%s: 0 items is below the minimum %" JSON_INTEGER_FORMAT, k,
				         json_integer_value(json_object_get(v, "minItems")));
				expect_json(s, t, 0, m, SAKSI_ERR_SCHEMA, msg);
				json_array_append_new(json_object_get(m, k), json_null());
				snprintf(msg, sizeof(msg), "/%s/0: is null, expected %s", k,
				         json_string_value(json_object_get(json_object_get(v, "items"), "type")));
				expect_json(s, t, 0, m, SAKSI_ERR_SCHEMA, msg);
				json_decref(m);
				cases += 2;
			}
		}
		json_decref(sch);
		json_decref(ex);
	}
	print_message("%zu invalid payloads refused with the expected message\n", cases);
	saksi_schemas_free(s);
}

/* Real-schema messages that the README and other modules quote. */
static void
test_known_messages(void **state)
{
	saksi_schemas *s = load_real();
	char *ex = slurp(EXAMPLES_DIR "/queue.booking.created.json", NULL);
	json_t *j;
	char err[256];

	(void)state;
	assert_non_null(ex);
	j = json_loads(ex, 0, NULL);
	json_object_set_new(j, "slot_hour", json_integer(25));
	expect_json(s, "queue.booking.created", 0, j, SAKSI_ERR_SCHEMA,
	            "/slot_hour: 25 is above the maximum 23");
	json_object_set_new(j, "slot_hour", json_real(9.5));
	expect_json(s, "queue.booking.created", 0, j, SAKSI_ERR_SCHEMA,
	            "/slot_hour: is a number with a fraction or exponent, expected integer");
	/* Stricter than 2020-12: 9.0 is not an integer here. */
	json_object_set_new(j, "slot_hour", json_real(9.0));
	expect_json(s, "queue.booking.created", 0, j, SAKSI_ERR_SCHEMA, NULL);
	json_object_set_new(j, "slot_hour", json_integer(9));
	/* A digest that is not canonical base64url of 32 bytes (spare bits set). */
	json_object_set_new(j, "nik", json_pack("{s:s}", "_sd", "mH3901V89VrTvPULjO6rDHvv4pIlr1wgW72DKh05k-N"));
	expect_json(s, "queue.booking.created", 0, j, SAKSI_ERR_SCHEMA,
	            "/nik: a personal field must be {\"_sd\": \"<43-char base64url digest>\"} in a signed payload");
	json_object_set_new(j, "nik", json_pack("{s:s}", "_sd", "mH3901V89VrTvPULjO6rDHvv4pIlr1wgW72DKh05k+M"));
	expect_json(s, "queue.booking.created", 0, j, SAKSI_ERR_SCHEMA, NULL);
	json_object_set_new(j, "nik", json_pack("{s:s}", "_sd", "mH3901V89VrTvPULjO6rDHvv4pIlr1wgW72DKh05k-"));
	expect_json(s, "queue.booking.created", 0, j, SAKSI_ERR_SCHEMA, NULL);
	json_object_set_new(j, "nik", json_pack("{s:s,s:i}", "_sd", "mH3901V89VrTvPULjO6rDHvv4pIlr1wgW72DKh05k-M", "x", 1));
	expect_json(s, "queue.booking.created", 0, j, SAKSI_ERR_SCHEMA, NULL);
	json_object_set_new(j, "nik", json_pack("{s:i}", "_sd", 1));
	expect_json(s, "queue.booking.created", 0, j, SAKSI_ERR_SCHEMA, NULL);
	json_object_set_new(j, "nik", json_pack("{s:s}", "_sd", "mH3901V89VrTvPULjO6rDHvv4pIlr1wgW72DKh05k-M"));
	expect_json(s, "queue.booking.created", 0, j, SAKSI_OK, "");
	json_object_set_new(j, "slot_date", json_string("2025-13-01"));
	expect_json(s, "queue.booking.created", 0, j, SAKSI_ERR_SCHEMA,
	            "/slot_date: is not a date (YYYY-MM-DD)");
	json_decref(j);
	free(ex);

	/* The clear side: a bad personal value is named, never quoted. */
	ex = slurp(EXAMPLES_DIR "/clear/claim.submitted.json", NULL);
	j = json_loads(ex, 0, NULL);
	json_object_set_new(j, "nik", json_string("737105450788000X"));
	{
		char *text = json_dumps(j, JSON_COMPACT);
		assert_int_equal(saksi_schemas_validate_clear(s, "claim.submitted", text, strlen(text),
		                                              err, sizeof(err)), SAKSI_ERR_SCHEMA);
		assert_string_equal(err, "/nik: does not match the pattern ^[0-9]{16}$");
		free(text);
	}
	json_object_set_new(j, "nik", json_integer(7371054507880003LL));
	expect_json(s, "claim.submitted", 1, j, SAKSI_ERR_SCHEMA,
	            "/nik: a personal field must be a string in clear (found an integer)");
	json_object_set_new(j, "nik", json_string("7371054507880003"));
	json_object_set_new(j, "name", json_string(""));
	expect_json(s, "claim.submitted", 1, j, SAKSI_ERR_SCHEMA,
	            "/name: 0 characters is below the minimum length 1");
	json_object_set_new(j, "phone", json_string("081242317765"));
	json_object_set_new(j, "name", json_string("SITI"));
	expect_json(s, "claim.submitted", 1, j, SAKSI_ERR_SCHEMA,
	            "/phone: does not match the pattern ^\\+628[0-9]{8,11}$");
	json_decref(j);
	free(ex);
	saksi_schemas_free(s);
}

static const char kw_schema[] =
	"{'$schema': 'https://json-schema.org/draft/2020-12/schema',"
	" '$id': 'https://saksi.example/schemas/events/test.kw.json',"
	" 'x-event-type': 'test.kw', 'title': 'keywords', 'description': 'every keyword',"
	" 'type': 'object', 'additionalProperties': false, 'required': ['branch', 'req'],"
	" 'properties': {"
	"  'branch': {'type': 'string', 'pattern': '^[A-Z0-9-]{2,24}$'},"
	"  'req': {'type': 'boolean'},"
	"  'multi': {'type': ['string', 'null']},"
	"  'num': {'type': 'number', 'minimum': -1.5, 'maximum': 2.5},"
	"  'int': {'type': 'integer', 'minimum': 0, 'maximum': 23},"
	"  'en': {'type': 'string', 'enum': ['a', 'b']},"
	"  'co': {'type': 'integer', 'const': 7},"
	"  'len': {'type': 'string', 'minLength': 2, 'maxLength': 3},"
	"  'pat': {'type': 'string', 'pattern': '^[a-c]+(x|yz)?$'},"
	"  'd': {'type': 'string', 'format': 'date'},"
	"  'dt': {'type': 'string', 'format': 'date-time'},"
	"  'arr': {'type': 'array', 'minItems': 1, 'maxItems': 2, 'items': {'type': 'integer'}},"
	"  'any': {'type': ['array', 'object', 'string', 'integer', 'boolean', 'null'],"
	"          'additionalProperties': false,"
	"          'items': {'type': ['array', 'integer'], 'items': {'type': 'integer'}}},"
	"  'obj': {'type': 'object', 'additionalProperties': false, 'required': ['x'],"
	"          'properties': {'x': {'type': 'string'}, 'y': {'type': 'null'}}},"
	"  'nik': {'description': 'NIK', 'x-personal': true,"
	"          'x-clear': {'type': 'string', 'pattern': '^[0-9]{16}$'}},"
	"  'nm': {'x-personal': true, 'x-clear': {'type': 'string', 'minLength': 1, 'maxLength': 3}}"
	" }}";

struct tmpdir {
	char td_path[256];
};

static void
tmp_make(struct tmpdir *t)
{
	assert_int_equal(tmpdir_make(t->td_path, sizeof(t->td_path), "saksi-schema"), 0);
}

static void
tmp_write(const struct tmpdir *t, const char *name, const char *text, size_t len)
{
	char path[512];

	path_in(t->td_path, name, path, sizeof(path));
	spit(path, text, len);
}

static void
tmp_remove(struct tmpdir *t)
{
	DIR *d = opendir(t->td_path);
	struct dirent *de;
	char path[512];

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", t->td_path, de->d_name);
		if (unlink(path) != 0)
			assert_int_equal(rmdir(path), 0);
	}
	closedir(d);
	assert_int_equal(rmdir(t->td_path), 0);
}

static saksi_schemas *
load_kw(struct tmpdir *t)
{
	saksi_schemas *s = NULL;
	char err[512];
	char *text = q(kw_schema);

	tmp_make(t);
	tmp_write(t, "test.kw.json", text, strlen(text));
	free(text);
	if (saksi_schemas_load(t->td_path, &s, err, sizeof(err)) != SAKSI_OK)
		fail_msg("keyword schema: %s", err);
	return s;
}

static void
kw(const saksi_schemas *s, const char *members, saksi_err want, const char *msg)
{
	char buf[2048];
	char *text;

	snprintf(buf, sizeof(buf), "{'branch': 'KC-X'%s%s%s}",
	         strstr(members, "'req'") ? "" : ", 'req': true", members[0] ? ", " : "", members);
	text = q(buf);
	expect(s, "test.kw", 0, text, want, msg);
	free(text);
}

/* Each supported keyword, passing and failing, with its message. */
static void
test_keywords(void **state)
{
	struct tmpdir t;
	saksi_schemas *s = load_kw(&t);
	const char *sd = "{'_sd': 'mH3901V89VrTvPULjO6rDHvv4pIlr1wgW72DKh05k-M'}";
	char buf[512];

	(void)state;
	assert_true(saksi_schemas_has(s, "test.kw"));
	kw(s, "", SAKSI_OK, "");
	/* type */
	kw(s, "'req': 1", SAKSI_ERR_SCHEMA, "/req: is an integer, expected boolean");
	kw(s, "'multi': 'x'", SAKSI_OK, "");
	kw(s, "'multi': null", SAKSI_OK, "");
	kw(s, "'multi': 1", SAKSI_ERR_SCHEMA, "/multi: is an integer, expected string or null");
	kw(s, "'any': [[1], 2]", SAKSI_OK, "");
	kw(s, "'any': [true]", SAKSI_ERR_SCHEMA, "/any/0: is a boolean, expected integer or array");
	kw(s, "'any': 1.5", SAKSI_ERR_SCHEMA,
	   "/any: is a number with a fraction or exponent, expected string or integer or boolean or object or array or null");
	kw(s, "'any': {}", SAKSI_OK, "");
	kw(s, "'any': {'a': 1}", SAKSI_ERR_SCHEMA, "/any/a: unknown member (additionalProperties is false)");
	/* minimum, maximum on numbers, integers and reals */
	kw(s, "'num': -1.5", SAKSI_OK, "");
	kw(s, "'num': 2", SAKSI_OK, "");
	kw(s, "'num': 2.5", SAKSI_OK, "");
	kw(s, "'num': 2.5000001", SAKSI_ERR_SCHEMA, "/num: 2.5000001 is above the maximum 2.5");
	kw(s, "'num': -2", SAKSI_ERR_SCHEMA, "/num: -2 is below the minimum -1.5");
	kw(s, "'num': 3", SAKSI_ERR_SCHEMA, "/num: 3 is above the maximum 2.5");
	kw(s, "'int': 0", SAKSI_OK, "");
	kw(s, "'int': 23", SAKSI_OK, "");
	kw(s, "'int': -1", SAKSI_ERR_SCHEMA, "/int: -1 is below the minimum 0");
	kw(s, "'int': 24", SAKSI_ERR_SCHEMA, "/int: 24 is above the maximum 23");
	kw(s, "'int': 9223372036854775807", SAKSI_ERR_SCHEMA,
	   "/int: 9223372036854775807 is above the maximum 23");
	kw(s, "'int': 1e1", SAKSI_ERR_SCHEMA, "/int: is a number with a fraction or exponent, expected integer");
	kw(s, "'int': '1'", SAKSI_ERR_SCHEMA, "/int: is a string, expected integer");
	/* enum, const */
	kw(s, "'en': 'b'", SAKSI_OK, "");
	kw(s, "'en': 'c'", SAKSI_ERR_SCHEMA, "/en: is not one of the 2 allowed values");
	kw(s, "'en': 'A'", SAKSI_ERR_SCHEMA, "/en: is not one of the 2 allowed values");
	kw(s, "'co': 7", SAKSI_OK, "");
	kw(s, "'co': 8", SAKSI_ERR_SCHEMA, "/co: is not the constant value required");
	/* minLength, maxLength count code points, not bytes */
	kw(s, "'len': 'ab'", SAKSI_OK, "");
	kw(s, "'len': '\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80'", SAKSI_OK, "");
	kw(s, "'len': 'a'", SAKSI_ERR_SCHEMA, "/len: 1 characters is below the minimum length 2");
	kw(s, "'len': '\xf0\x9f\x98\x80'", SAKSI_ERR_SCHEMA, "/len: 1 characters is below the minimum length 2");
	kw(s, "'len': 'abcd'", SAKSI_ERR_SCHEMA, "/len: 4 characters is above the maximum length 3");
	kw(s, "'len': '\\u00e9\\u00e9\\u00e9\\u00e9'", SAKSI_ERR_SCHEMA, "/len: 4 characters is above the maximum length 3");
	/* pattern: anchored as written, POSIX ERE */
	kw(s, "'pat': 'abc'", SAKSI_OK, "");
	kw(s, "'pat': 'cx'", SAKSI_OK, "");
	kw(s, "'pat': 'ayz'", SAKSI_OK, "");
	kw(s, "'pat': 'ad'", SAKSI_ERR_SCHEMA, "/pat: does not match the pattern ^[a-c]+(x|yz)?$");
	kw(s, "'pat': ''", SAKSI_ERR_SCHEMA, "/pat: does not match the pattern ^[a-c]+(x|yz)?$");
	kw(s, "'pat': 'abc\\n'", SAKSI_ERR_SCHEMA, "/pat: does not match the pattern ^[a-c]+(x|yz)?$");
	kw(s, "'pat': '\\u00e1'", SAKSI_ERR_SCHEMA, "/pat: does not match the pattern ^[a-c]+(x|yz)?$");
	expect(s, "test.kw", 0, "{\"branch\": \"kc-x\", \"req\": true}", SAKSI_ERR_SCHEMA, "/branch: does not match the pattern ^[A-Z0-9-]{2,24}$");
	/* format date and date-time, strictly */
	kw(s, "'d': '2024-02-29'", SAKSI_OK, "");
	kw(s, "'d': '2000-02-29'", SAKSI_OK, "");
	kw(s, "'d': '2023-12-31'", SAKSI_OK, "");
	{
		static const char *const bad_dates[] = { "2023-02-29", "1900-02-29", "2024-04-31",
		                                         "2024-00-10", "2024-13-01", "2024-01-00",
		                                         "0000-01-01", "2024-1-01", "2024/01/01",
		                                         "20240101", "2024-01-01T00:00:00Z",
		                                         " 2024-01-01", "2024-01-0a", "" };
		for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
			snprintf(buf, sizeof(buf), "'d': '%s'", bad_dates[i]);
			kw(s, buf, SAKSI_ERR_SCHEMA, "/d: is not a date (YYYY-MM-DD)");
		}
	}
	{
		static const char *const good[] = { "2025-03-10T00:00:00Z", "2025-03-10T23:59:59+08:00",
		                                    "2025-03-10T08:00:00.123-05:30",
		                                    "2025-03-10T08:00:00.123456789Z",
		                                    "2024-02-29T12:00:00+00:00" };
		static const char *const bad[] = { "2025-03-10", "2025-03-10T00:00:00",
		                                   "2025-03-10t00:00:00Z", "2025-03-10T00:00:00z",
		                                   "2025-03-10 00:00:00Z", "2025-03-10T24:00:00Z",
		                                   "2025-03-10T00:60:00Z", "2025-03-10T00:00:60Z",
		                                   "2025-03-10T00:00:00.Z", "2025-03-10T00:00:00.1234567890Z",
		                                   "2025-03-10T00:00:00+0800", "2025-03-10T00:00:00+24:00",
		                                   "2025-03-10T00:00:00+08:60", "2025-03-10T00:00:00Z ",
		                                   "2025-02-30T00:00:00Z", "2025-03-10T0:00:00Z",
		                                   "2025-03-10T00:00:00+08:00:00" };
		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			snprintf(buf, sizeof(buf), "'dt': '%s'", good[i]);
			kw(s, buf, SAKSI_OK, "");
		}
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(buf, sizeof(buf), "'dt': '%s'", bad[i]);
			kw(s, buf, SAKSI_ERR_SCHEMA,
			   "/dt: is not an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM))");
		}
	}
	/* items, minItems, maxItems */
	kw(s, "'arr': [1]", SAKSI_OK, "");
	kw(s, "'arr': [1, 2]", SAKSI_OK, "");
	kw(s, "'arr': []", SAKSI_ERR_SCHEMA, "/arr: 0 items is below the minimum 1");
	kw(s, "'arr': [1, 2, 3]", SAKSI_ERR_SCHEMA, "/arr: 3 items is above the maximum 2");
	kw(s, "'arr': [1, 'x']", SAKSI_ERR_SCHEMA, "/arr/1: is a string, expected integer");
	/* properties, required, additionalProperties on a nested object */
	kw(s, "'obj': {'x': ''}", SAKSI_OK, "");
	kw(s, "'obj': {'x': '', 'y': null}", SAKSI_OK, "");
	kw(s, "'obj': {}", SAKSI_ERR_SCHEMA, "/obj/x: required member is missing");
	kw(s, "'obj': {'x': '', 'y': 0}", SAKSI_ERR_SCHEMA, "/obj/y: is an integer, expected null");
	kw(s, "'obj': {'x': '', 'a/b~c': 0}", SAKSI_ERR_SCHEMA,
	   "/obj/a~1b~0c: unknown member (additionalProperties is false)");
	kw(s, "'obj': {'x': '', 'a\\nb': 0}", SAKSI_ERR_SCHEMA,
	   "/obj/a?b: unknown member (additionalProperties is false)");
	expect(s, "test.kw", 0, "{\"branch\": \"KC-X\"}", SAKSI_ERR_SCHEMA, "/req: required member is missing");
	/* x-personal: signed form */
	snprintf(buf, sizeof(buf), "'nik': %s, 'nm': %s", sd, sd);
	kw(s, buf, SAKSI_OK, "");
	kw(s, "'nik': '7371054507880003'", SAKSI_ERR_SCHEMA,
	   "/nik: a personal field must be {\"_sd\": \"<43-char base64url digest>\"} in a signed payload");
	kw(s, "'nik': {'_sd': null}", SAKSI_ERR_SCHEMA, NULL);
	kw(s, "'nik': {}", SAKSI_ERR_SCHEMA, NULL);
	kw(s, "'nik': {'_sd': 'mH3901V89VrTvPULjO6rDHvv4pIlr1wgW72DKh05k=M'}", SAKSI_ERR_SCHEMA, NULL);
	kw(s, "'nik': {'_sd': 'mH3901V89VrTvPULjO6rDHvv4pIlr1wgW72DKh05k-M='}", SAKSI_ERR_SCHEMA, NULL);
	/* x-clear: clear form */
	{
		char *text = q("{'branch': 'KC-X', 'req': false, 'nik': '7371054507880003', 'nm': 'AB\xc3\x89'}");
		expect(s, "test.kw", 1, text, SAKSI_OK, "");
		free(text);
		text = q("{'branch': 'KC-X', 'req': false, 'nik': '737105450788000', 'nm': 'A'}");
		expect(s, "test.kw", 1, text, SAKSI_ERR_SCHEMA, "/nik: does not match the pattern ^[0-9]{16}$");
		free(text);
		text = q("{'branch': 'KC-X', 'req': false, 'nm': 'ABCD'}");
		expect(s, "test.kw", 1, text, SAKSI_ERR_SCHEMA, "/nm: 4 characters is above the maximum length 3");
		free(text);
		snprintf(buf, sizeof(buf), "{'branch': 'KC-X', 'req': false, 'nm': %s}", sd);
		text = q(buf);
		expect(s, "test.kw", 1, text, SAKSI_ERR_SCHEMA,
		       "/nm: a personal field must be a string in clear (found an object)");
		free(text);
	}
	saksi_schemas_free(s);
	tmp_remove(&t);
}

/* Hostile payloads: duplicates, depth, width, size, broken JSON; and argument errors. */
static void
test_hostile(void **state)
{
	struct tmpdir t;
	saksi_schemas *s = load_kw(&t);
	char err[256], small[8];
	char *big;
	size_t i, n;

	(void)state;
	expect(s, "test.kw", 0, "{\"branch\": \"KC-X\", \"req\": true, \"req\": false}",
	       SAKSI_ERR_SCHEMA, "payload is not valid JSON: a duplicate member name at byte 37");
	expect(s, "test.kw", 0, "{\"branch\": \"KC-X\", \"obj\": {\"x\": \"\", \"x\": \"\"}, \"req\": true}",
	       SAKSI_ERR_SCHEMA, NULL);
	expect(s, "test.kw", 0, "{\"branch\": \"KC-X\", \"req\": true} {}", SAKSI_ERR_SCHEMA,
	       "payload is not valid JSON: trailing data after the object at byte 33");
	expect(s, "test.kw", 0, "{\"branch\": \"KC-X\", \"req\": tru}", SAKSI_ERR_SCHEMA, NULL);
	expect(s, "test.kw", 0, "{\"branch\": \"KC-X\", \"req\": true", SAKSI_ERR_SCHEMA,
	       "payload is not valid JSON: premature end of input at byte 30");
	expect(s, "test.kw", 0, "{\"branch\": \"KC-\xff\", \"req\": true}", SAKSI_ERR_SCHEMA,
	       "payload is not valid JSON: invalid UTF-8 at byte 15");
	expect(s, "test.kw", 0, "{\"branch\": \"KC\\u0000X\", \"req\": true}", SAKSI_ERR_SCHEMA,
	       NULL);
	expect(s, "test.kw", 0, "{\"branch\": \"KC-X\", \"req\": true, \"int\": 99999999999999999999}",
	       SAKSI_ERR_SCHEMA, NULL);
	expect(s, "test.kw", 0, "{\"branch\": \"KC-X\", \"req\": true, \"num\": 1e999}",
	       SAKSI_ERR_SCHEMA, NULL);
	expect(s, "test.kw", 0, "\"x\"", SAKSI_ERR_SCHEMA, NULL);
	expect(s, "test.kw", 0, "", SAKSI_ERR_SCHEMA, "payload is empty");
	/* jansson's own text would quote the input here; ours must not. */
	expect(s, "test.kw", 0, "{\"branch\" \"7371054507880003\"}", SAKSI_ERR_SCHEMA,
	       "payload is not valid JSON: invalid syntax at byte 28");

	/* Depth: 16 levels pass the depth rule (and fail the schema), 17 do not. */
	{
		char deep[256];
		n = (size_t)snprintf(deep, sizeof(deep), "{\"branch\": \"KC-X\", \"req\": true, \"any\": ");
		for (i = 0; i < 15; i++)
			deep[n++] = '[';
		for (i = 0; i < 15; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		deep[n] = '\0';
		expect(s, "test.kw", 0, deep, SAKSI_ERR_SCHEMA, "/any/0/0: is an array, expected integer");
		n = (size_t)snprintf(deep, sizeof(deep), "{\"branch\": \"KC-X\", \"req\": true, \"any\": ");
		for (i = 0; i < 16; i++)
			deep[n++] = '[';
		for (i = 0; i < 16; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		deep[n] = '\0';
		expect(s, "test.kw", 0, deep, SAKSI_ERR_SCHEMA, "payload nests deeper than 16");
		/* Brackets inside strings do not count. */
		expect(s, "test.kw", 0, "{\"branch\": \"KC-X\", \"req\": true, \"multi\": \"[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"}",
		       SAKSI_OK, "");
	}
	/* A depth bomb as large as allowed. */
	big = malloc(SAKSI_PAYLOAD_MAX + 2);
	assert_non_null(big);
	memset(big, '[', SAKSI_PAYLOAD_MAX);
	assert_int_equal(saksi_schemas_validate(s, "test.kw", big, SAKSI_PAYLOAD_MAX, err, sizeof(err)),
	                 SAKSI_ERR_SCHEMA);
	assert_string_equal(err, "payload nests deeper than 16");
	memset(big, '{', SAKSI_PAYLOAD_MAX);
	assert_int_equal(saksi_schemas_validate(s, "test.kw", big, SAKSI_PAYLOAD_MAX, err, sizeof(err)),
	                 SAKSI_ERR_SCHEMA);
	/* Huge: one byte over the cap is refused before parsing, whatever it holds. */
	memset(big, ' ', SAKSI_PAYLOAD_MAX + 1);
	memcpy(big, "{\"branch\": \"KC-X\", \"req\": true}", 31);
	assert_int_equal(saksi_schemas_validate(s, "test.kw", big, SAKSI_PAYLOAD_MAX, err, sizeof(err)),
	                 SAKSI_OK);
	assert_int_equal(saksi_schemas_validate(s, "test.kw", big, SAKSI_PAYLOAD_MAX + 1, err, sizeof(err)),
	                 SAKSI_ERR_SCHEMA);
	assert_string_equal(err, "payload is 60001 bytes, above the cap of 60000");
	assert_int_equal(saksi_schemas_validate_clear(s, "test.kw", big, SAKSI_PAYLOAD_MAX + 1, err, sizeof(err)),
	                 SAKSI_ERR_SCHEMA);
	assert_int_equal(saksi_schemas_validate(s, "test.kw", big, (size_t)-1, err, sizeof(err)),
	                 SAKSI_ERR_SCHEMA);
	/* A long string inside the cap is fine for the parser, refused by the schema. */
	n = (size_t)snprintf(big, 64, "{\"branch\": \"KC-X\", \"req\": true, \"len\": \"");
	memset(big + n, 'a', 50000);
	n += 50000;
	memcpy(big + n, "\"}", 3);
	assert_int_equal(saksi_schemas_validate(s, "test.kw", big, strlen(big), err, sizeof(err)),
	                 SAKSI_ERR_SCHEMA);
	assert_string_equal(err, "/len: 50000 characters is above the maximum length 3");
	free(big);

	/* Width: 64 members pass the cap (and fail the schema), 65 do not, at any depth. */
	{
		char wide[2048];
		for (int w = 64; w <= 65; w++) {
			n = (size_t)snprintf(wide, sizeof(wide), "{\"branch\": \"KC-X\", \"req\": true, \"any\": {");
			for (int k = 0; k < w; k++)
				n += (size_t)snprintf(wide + n, sizeof(wide) - n, "%s\"m%d\": 0", k ? ", " : "", k);
			n += (size_t)snprintf(wide + n, sizeof(wide) - n, "}}");
			expect(s, "test.kw", 0, wide, SAKSI_ERR_SCHEMA,
			       w == 64 ? "/any/m0: unknown member (additionalProperties is false)"
			               : "/any: object has 65 members, above the cap of 64");
		}
	}

	/* A very long member name is cut in the message, not overflowed. */
	big = malloc(4096);
	assert_non_null(big);
	n = (size_t)snprintf(big, 64, "{\"branch\": \"KC-X\", \"req\": true, \"");
	memset(big + n, 'a', 3000);
	memcpy(big + n + 3000, "\": 1}", 6);
	assert_int_equal(saksi_schemas_validate(s, "test.kw", big, strlen(big), err, sizeof(err)),
	                 SAKSI_ERR_SCHEMA);
	assert_true(strncmp(err, "/aaaa", 5) == 0);
	assert_non_null(strstr(err, "aaa...: unknown member (additionalProperties is false)"));
	assert_true(strlen(err) < 300);
	free(big);

	/* Unknown type, bad arguments, tiny or absent error buffers. */
	assert_int_equal(saksi_schemas_validate(s, "no.such", "{}", 2, err, sizeof(err)), SAKSI_ERR_NOT_FOUND);
	assert_string_equal(err, "unknown event type (no schema)");
	assert_int_equal(saksi_schemas_validate_clear(s, "no.such", "{}", 2, err, sizeof(err)), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_schemas_validate(NULL, "test.kw", "{}", 2, err, sizeof(err)), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_schemas_validate(s, NULL, "{}", 2, err, sizeof(err)), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_schemas_validate(s, "test.kw", NULL, 2, err, sizeof(err)), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_schemas_validate(s, "test.kw", NULL, 0, err, sizeof(err)), SAKSI_ERR_SCHEMA);
	assert_int_equal(saksi_schemas_validate(s, "test.kw", "{}", 2, NULL, 0), SAKSI_ERR_SCHEMA);
	assert_int_equal(saksi_schemas_validate(s, "test.kw", "{}", 2, small, sizeof(small)), SAKSI_ERR_SCHEMA);
	assert_string_equal(small, "/branch");
	assert_int_equal(saksi_schemas_validate(s, "test.kw", "{}", 2, small, 0), SAKSI_ERR_SCHEMA);
	/* Not NUL-terminated: only len bytes are read. */
	assert_int_equal(saksi_schemas_validate(s, "test.kw", "{\"branch\":\"KC-X\",\"req\":true}garbage", 28,
	                                        err, sizeof(err)), SAKSI_OK);
	saksi_schemas_free(s);
	tmp_remove(&t);
}

/* Nested arrays, depth levels deep (the outermost counts as 1), built without parsing. */
static json_t *
nest(size_t depth)
{
	json_t *j = json_integer(0);

	for (size_t i = 0; i < depth; i++) {
		json_t *a = json_array();
		assert_non_null(a);
		assert_int_equal(json_array_append_new(a, j), 0);
		j = a;
	}
	return j;
}

/* A test.kw payload with member "any" set to v (reference taken). */
static json_t *
kw_with(json_t *v)
{
	json_t *o = json_pack("{s:s, s:b}", "branch", "KC-X", "req", 1);

	assert_non_null(o);
	assert_int_equal(json_object_set_new(o, "any", v), 0);
	return o;
}

static void
expect_tree(const saksi_schemas *s, const char *type, const json_t *root, saksi_err want,
            const char *msg)
{
	char err[512] = "unset";
	saksi_err e = saksi_schemas_validate_json(s, type, root, err, sizeof(err));

	if (e != want || strcmp(err, msg) != 0)
		fail_msg("%s: got %d \"%s\", want %d \"%s\"", type, e, err, want, msg);
}

/*
 * The two steps on their own: the parse's refusals, and the caps enforced on a tree that
 * no parser built (deeper than any parse would let through, wider than the cap).
 */
static void
test_parsed(void **state)
{
	struct tmpdir t;
	saksi_schemas *s = load_kw(&t);
	char err[256], small[8], *big;
	json_t *root = (json_t *)1, *o, *w;
	size_t n;

	(void)state;
	/* Parse: arguments. */
	assert_int_equal(saksi_schemas_parse_payload("{}", 2, NULL, err, sizeof(err)),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_schemas_parse_payload(NULL, 2, &root, err, sizeof(err)),
	                 SAKSI_ERR_INVAL);
	assert_null(root);
	/* Parse: every refusal, with the words saksi_schemas_validate uses, and no tree. */
	root = (json_t *)1;
	assert_int_equal(saksi_schemas_parse_payload(NULL, 0, &root, err, sizeof(err)),
	                 SAKSI_ERR_SCHEMA);
	assert_string_equal(err, "payload is empty");
	assert_null(root);
	assert_int_equal(saksi_schemas_parse_payload("{\"a\":1,\"a\":2}", 13, &root, err,
	                                             sizeof(err)), SAKSI_ERR_SCHEMA);
	assert_string_equal(err, "payload is not valid JSON: a duplicate member name at byte 10");
	assert_null(root);
	assert_int_equal(saksi_schemas_parse_payload("{\"a\":1} x", 9, &root, NULL, 0),
	                 SAKSI_ERR_SCHEMA);
	assert_int_equal(saksi_schemas_parse_payload("{\"a\":1", 6, &root, small, sizeof(small)),
	                 SAKSI_ERR_SCHEMA);
	assert_string_equal(small, "payload");
	big = malloc(SAKSI_PAYLOAD_MAX + 1);
	assert_non_null(big);
	memset(big, '[', SAKSI_PAYLOAD_MAX + 1);
	assert_int_equal(saksi_schemas_parse_payload(big, SAKSI_PAYLOAD_MAX, &root, err,
	                                             sizeof(err)), SAKSI_ERR_SCHEMA);
	assert_string_equal(err, "payload nests deeper than 16");
	assert_int_equal(saksi_schemas_parse_payload(big, SAKSI_PAYLOAD_MAX + 1, &root, err,
	                                             sizeof(err)), SAKSI_ERR_SCHEMA);
	assert_string_equal(err, "payload is 60001 bytes, above the cap of 60000");
	assert_null(root);
	free(big);
	/* Parse alone knows no types: an unknown type's payload parses. */
	assert_int_equal(saksi_schemas_parse_payload("{\"a\":1}", 7, &root, err, sizeof(err)),
	                 SAKSI_OK);
	assert_string_equal(err, "");
	assert_true(json_is_object(root));

	/* Validate: arguments and the unknown type. */
	assert_int_equal(saksi_schemas_validate_json(NULL, "test.kw", root, err, sizeof(err)),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_schemas_validate_json(s, NULL, root, err, sizeof(err)),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_schemas_validate_json(s, "test.kw", NULL, err, sizeof(err)),
	                 SAKSI_ERR_INVAL);
	expect_tree(s, "no.such", root, SAKSI_ERR_NOT_FOUND, "unknown event type (no schema)");
	expect_tree(s, "test.kw", root, SAKSI_ERR_SCHEMA,
	            "/a: unknown member (additionalProperties is false)");
	assert_int_equal(saksi_schemas_validate_json(s, "test.kw", root, NULL, 0), SAKSI_ERR_SCHEMA);
	json_decref(root);

	/* A root that no parse of ours would give: not an object. */
	o = json_integer(5);
	expect_tree(s, "test.kw", o, SAKSI_ERR_SCHEMA, "(root): is an integer, expected object");
	json_decref(o);

	/* Depth: 16 levels pass the cap (and fail the schema), 17 do not, nor 5,000 (more than
	 * jansson's parser ever builds; its json_delete recurses, so not millions). */
	o = kw_with(nest(15));
	expect_tree(s, "test.kw", o, SAKSI_ERR_SCHEMA, "/any/0/0: is an array, expected integer");
	json_decref(o);
	o = kw_with(nest(16));
	expect_tree(s, "test.kw", o, SAKSI_ERR_SCHEMA, "payload nests deeper than 16");
	json_decref(o);
	o = kw_with(nest(5000));
	expect_tree(s, "test.kw", o, SAKSI_ERR_SCHEMA, "payload nests deeper than 16");
	json_decref(o);
	/* Deep inside an object that is also too wide: depth is named, as on the bytes. */
	o = kw_with(nest(16));
	for (n = 0; n < 70; n++) {
		char k[16];
		snprintf(k, sizeof(k), "m%zu", n);
		assert_int_equal(json_object_set_new(o, k, json_true()), 0);
	}
	expect_tree(s, "test.kw", o, SAKSI_ERR_SCHEMA, "payload nests deeper than 16");
	json_decref(o);

	/* Width: 64 members pass the cap, 65 do not, at the top or further down. */
	for (size_t width = 64; width <= 65; width++) {
		w = json_object();
		for (n = 0; n < width; n++) {
			char k[16];
			snprintf(k, sizeof(k), "m%zu", n);
			assert_int_equal(json_object_set_new(w, k, json_integer(0)), 0);
		}
		o = kw_with(json_pack("[{s:O}]", "x", w));
		expect_tree(s, "test.kw", o, SAKSI_ERR_SCHEMA, width == 64 ?
		            "/any/0: is an object, expected integer or array" :
		            "/any/0/x: object has 65 members, above the cap of 64");
		json_decref(o);
		/* With branch and req, even 64 is too wide at the top. */
		json_object_set_new(w, "branch", json_string("KC-X"));
		json_object_set_new(w, "req", json_true());
		snprintf(err, sizeof(err), "(root): object has %zu members, above the cap of 64",
		         width + 2);
		expect_tree(s, "test.kw", w, SAKSI_ERR_SCHEMA, err);
		json_decref(w);
	}

	/* A valid tree passes and is left as it was. */
	o = kw_with(json_pack("[[i, i], i]", 1, 2, 3));
	n = o->refcount;
	expect_tree(s, "test.kw", o, SAKSI_OK, "");
	assert_int_equal(o->refcount, n);
	json_decref(o);
	saksi_schemas_free(s);
	tmp_remove(&t);
}

/* Seeded byte mutations of every example: each is refused or accepted, never a crash. */
static void
test_fuzz(void **state)
{
	saksi_schemas *s = load_real();
	uint64_t seed = 0x5a4b5349ULL, x;
	const char *env = getenv("SAKSI_SEED");
	char path[1024], err[256];
	size_t ok = 0, refused = 0;

	(void)state;
	if (env != NULL)
		seed = strtoull(env, NULL, 0);
	print_message("fuzz seed %llu (set SAKSI_SEED to repeat another)\n", (unsigned long long)seed);
	x = seed ? seed : 1;
	for (size_t i = 0; i < saksi_schemas_count(s); i++) {
		const char *t = saksi_schemas_type_at(s, i);
		char *text, *buf;
		size_t len;

		snprintf(path, sizeof(path), "%s/%s.json", EXAMPLES_DIR, t);
		text = slurp(path, NULL);
		assert_non_null(text);
		len = strlen(text);
		buf = malloc(len + 1);
		assert_non_null(buf);
		for (int round = 0; round < 1000; round++) {
			size_t n = len;
			memcpy(buf, text, len);
			for (int k = 0; k < 1 + round % 4; k++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				switch (x % 4) {
				case 0: buf[(x >> 8) % n] = (char)(x >> 16); break;
				case 1: buf[(x >> 8) % n] = "{}[]\",:\\0e-"[(x >> 16) % 12]; break;
				case 2: n = 1 + (x >> 8) % n; break;
				default: buf[(x >> 8) % n] = ' '; break;
				}
			}
			saksi_err e = (round & 1) ? saksi_schemas_validate_clear(s, t, buf, n, err, sizeof(err))
			                          : saksi_schemas_validate(s, t, buf, n, err, sizeof(err));
			if (!(round & 1))
				same_in_two_steps(s, t, buf, n, e, err);
			if (e == SAKSI_OK)
				ok++;
			else if (e == SAKSI_ERR_SCHEMA)
				refused++;
			else
				fail_msg("seed %llu: %s: code %d", (unsigned long long)seed, t, e);
		}
		free(buf);
		free(text);
	}
	print_message("%zu accepted, %zu refused\n", ok, refused);
	assert_true(refused > 0);
	saksi_schemas_free(s);
}

struct worker {
	const saksi_schemas *w_s;
	char **w_text;
	size_t w_n;
	int w_bad;
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	char err[256];

	for (int round = 0; round < 50; round++)
		for (size_t i = 0; i < w->w_n; i++)
			if (saksi_schemas_validate(w->w_s, saksi_schemas_type_at(w->w_s, i), w->w_text[i],
			                           strlen(w->w_text[i]), err, sizeof(err)) != SAKSI_OK)
				w->w_bad++;
	return NULL;
}

/* One loaded set, validated from several threads at once (the header promises it). */
static void
test_threads(void **state)
{
	saksi_schemas *s = load_real();
	size_t n = saksi_schemas_count(s);
	char **text = calloc(n, sizeof(*text));
	struct worker w[4];
	pthread_t th[4];
	char path[1024];

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s.json", EXAMPLES_DIR, saksi_schemas_type_at(s, i));
		text[i] = slurp(path, NULL);
		assert_non_null(text[i]);
	}
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .w_s = s, .w_text = text, .w_n = n, .w_bad = 0 };
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].w_bad, 0);
	}
	for (size_t i = 0; i < n; i++)
		free(text[i]);
	free(text);
	saksi_schemas_free(s);
}

/* Sets (or deletes, value NULL) the member at a '/'-separated path in j. */
static void
set_path(json_t *j, const char *path, const char *value)
{
	char *p = strdup(path), *save = NULL, *tok, *next;
	json_t *cur = j;

	assert_non_null(p);
	tok = strtok_r(p, "/", &save);
	while ((next = strtok_r(NULL, "/", &save)) != NULL) {
		cur = json_object_get(cur, tok);
		assert_non_null(cur);
		tok = next;
	}
	if (value == NULL)
		json_object_del(cur, tok);
	else {
		char *v = q(value);
		json_error_t e;
		json_t *nv = json_loads(v, JSON_DECODE_ANY, &e);
		if (nv == NULL)
			fail_msg("bad test value %s: %s", v, e.text);
		json_object_set_new(cur, tok, nv);
		free(v);
	}
	free(p);
}

struct broken {
	const char *b_path;
	const char *b_value; /* NULL: delete */
	const char *b_msg;   /* expected message, after "test.kw.json: " */
};

static const struct broken broken[] = {
	{ "properties/int/oneOf", "[]", "/properties/int: unsupported keyword \"oneOf\"" },
	{ "properties/int/$ref", "'#'", "/properties/int: unsupported keyword \"$ref\"" },
	{ "properties/len/minlength", "1", "/properties/len: unsupported keyword \"minlength\"" },
	{ "properties/obj/additionalProperties", "true", "/properties/obj: keyword \"additionalProperties\" must be false (the only form supported)" },
	{ "properties/obj/additionalProperties", "{}", "/properties/obj: keyword \"additionalProperties\" must be false (the only form supported)" },
	{ "properties/obj/additionalProperties", NULL, "/properties/obj: missing \"additionalProperties\": false on an object schema" },
	{ "additionalProperties", NULL, "(root): missing keyword \"additionalProperties\"" },
	{ "properties/int/type", NULL, "/properties/int: missing keyword \"type\"" },
	{ "properties/int/type", "'int'", "/properties/int: keyword \"type\" names an unknown type" },
	{ "properties/int/type", "['integer', 'integer']", "/properties/int: keyword \"type\" names a type twice" },
	{ "properties/int/type", "[]", "/properties/int: keyword \"type\" must be a type name or a non-empty array of them" },
	{ "properties/int/type", "[1]", "/properties/int: keyword \"type\" must be a type name or a non-empty array of them" },
	{ "properties/int/minLength", "1", "/properties/int: keyword \"minLength\" does nothing for the type declared" },
	{ "properties/len/minimum", "1", "/properties/len: keyword \"minimum\" does nothing for the type declared" },
	{ "properties/len/items", "{'type': 'string'}", "/properties/len: keyword \"items\" does nothing for the type declared" },
	{ "properties/int/required", "[]", "/properties/int: keyword \"required\" does nothing for the type declared" },
	{ "properties/obj/properties/x/x-personal", "true", "/properties/obj/properties/x: keyword \"x-personal\" is not allowed here" },
	{ "properties/int/x-clear", "{'type': 'string'}", "/properties/int: keyword \"x-clear\" is not allowed here" },
	{ "properties/nik/x-personal", "false", "/properties/nik: keyword \"x-personal\" must be true" },
	{ "properties/nik/x-clear", NULL, "/properties/nik: missing keyword \"x-clear\" on a personal field" },
	{ "properties/nik/x-clear", "'^[0-9]{16}$'", "/properties/nik: keyword \"x-clear\" must be a schema object" },
	{ "properties/nik/x-clear/type", "'integer'", "/properties/nik/x-clear: keyword \"pattern\" does nothing for the type declared" },
	{ "properties/nm/x-clear/type", "'integer'", "/properties/nm/x-clear: keyword \"minLength\" does nothing for the type declared" },
	{ "properties/nik/x-clear/type", "['string', 'null']", "/properties/nik/x-clear: keyword \"type\" must be \"string\": a disclosed value is a string" },
	{ "properties/nik/x-clear/items", "{}", "/properties/nik/x-clear: keyword \"items\" is not allowed here" },
	{ "properties/nik/x-clear/x-personal", "true", "/properties/nik/x-clear: keyword \"x-personal\" is not allowed here" },
	{ "properties/nik/type", "'object'", "/properties/nik: keyword \"type\" is not allowed beside \"x-personal\" (the signed form of a personal field is fixed)" },
	{ "properties/nik/pattern", "'^x$'", "/properties/nik: keyword \"pattern\" is not allowed beside \"x-personal\" (the signed form of a personal field is fixed)" },
	{ "properties/nik/foo", "1", "/properties/nik: keyword \"foo\" is not allowed beside \"x-personal\" (the signed form of a personal field is fixed)" },
	{ "$schema", "'http://json-schema.org/draft-07/schema#'", "(root): keyword \"$schema\" must be \"https://json-schema.org/draft/2020-12/schema\"" },
	{ "$schema", NULL, "(root): missing keyword \"$schema\"" },
	{ "$id", "'https://saksi.example/schemas/events/other.json'", "(root): keyword \"$id\" must be \"https://saksi.example/schemas/events/test.kw.json\"" },
	{ "$id", "'https://saksi.example/schemas/events/test.kw.jsonx'", "(root): keyword \"$id\" must be \"https://saksi.example/schemas/events/test.kw.json\"" },
	{ "x-event-type", "'test.other'", "(root): keyword \"x-event-type\" must be \"test.kw\", the file name" },
	{ "title", NULL, "(root): missing keyword \"title\"" },
	{ "description", "1", "(root): keyword \"description\" must be a string" },
	{ "properties/int/title", "[]", "/properties/int: keyword \"title\" must be a string" },
	{ "properties/int/$id", "'x'", "/properties/int: keyword \"$id\" is not allowed here" },
	{ "properties/int/$schema", "'x'", "/properties/int: keyword \"$schema\" is not allowed here" },
	{ "type", "['object', 'null']", "(root): keyword \"type\" must be \"object\" for an event" },
	{ "type", "'array'", "(root): keyword \"additionalProperties\" does nothing for the type declared" },
	{ "properties/branch", NULL, "(root): keyword \"required\" names \"branch\", which is not in properties" },
	{ "required", "['req']", "(root): keyword \"required\": every event needs a required, non-personal string \"branch\"" },
	{ "properties/branch/type", "'integer'", "/properties/branch: keyword \"pattern\" does nothing for the type declared" },
	{ "required", "['branch', 'branch']", "(root): keyword \"required\" names \"branch\" twice" },
	{ "required", "'branch'", "(root): keyword \"required\" must be an array of property names" },
	{ "required", "[1]", "(root): keyword \"required\" must be an array of property names" },
	{ "properties", "[]", "(root): keyword \"properties\" must be an object" },
	{ "properties/int", "1", "/properties/int: a property's schema must be an object" },
	{ "properties/en/enum", "[]", "/properties/en: keyword \"enum\" must be a non-empty array" },
	{ "properties/en/enum", "'a'", "/properties/en: keyword \"enum\" must be a non-empty array" },
	{ "properties/en/enum", "['a', 'a']", "/properties/en: keyword \"enum\": value 1 repeats value 0" },
	{ "properties/en/enum", "['a', 1]", "/properties/en: keyword \"enum\": value 1 does not have the type declared" },
	{ "properties/co/const", "'7'", "/properties/co: keyword \"const\" does not have the type declared" },
	{ "properties/len/minLength", "-1", "/properties/len: keyword \"minLength\" must be an integer from 0 to 1000000" },
	{ "properties/len/maxLength", "1.5", "/properties/len: keyword \"maxLength\" must be an integer from 0 to 1000000" },
	{ "properties/len/maxLength", "1", "/properties/len: keyword \"minLength\" is above \"maxLength\"" },
	{ "properties/arr/minItems", "'1'", "/properties/arr: keyword \"minItems\" must be an integer from 0 to 1000000" },
	{ "properties/arr/maxItems", "0", "/properties/arr: keyword \"minItems\" is above \"maxItems\"" },
	{ "properties/arr/items", NULL, "/properties/arr: missing keyword \"items\" on an array schema" },
	{ "properties/arr/items", "[{'type': 'integer'}]", "/properties/arr: keyword \"items\" must be a schema object" },
	{ "properties/arr/items/type", "'float'", "/properties/arr/items: keyword \"type\" names an unknown type" },
	{ "properties/int/minimum", "'0'", "/properties/int: keyword \"minimum\" must be a number" },
	{ "properties/int/maximum", "-1", "/properties/int: keyword \"minimum\" is above \"maximum\"" },
	{ "properties/pat/pattern", "'^(a$'", "/properties/pat: keyword \"pattern\" does not compile: " },
	{ "properties/pat/pattern", "1", "/properties/pat: keyword \"pattern\" must be a string" },
	{ "properties/pat/pattern", "'^\\\\d+$'", "/properties/pat: keyword \"pattern\" has a backslash that is not before a punctuation character" },
	{ "properties/pat/pattern", "'^a.b$'", "/properties/pat: keyword \"pattern\" has an unescaped \".\"" },
	{ "properties/pat/pattern", "'^[^a]$'", "/properties/pat: keyword \"pattern\" has a negated bracket expression" },
	{ "properties/pat/pattern", "'^[[:digit:]]$'", "/properties/pat: keyword \"pattern\" has \"\\\" or \"[\" inside a bracket expression" },
	{ "properties/pat/pattern", "'^[a\\\\]]$'", "/properties/pat: keyword \"pattern\" has \"\\\" or \"[\" inside a bracket expression" },
	{ "properties/pat/pattern", "'^[]a]$'", "/properties/pat: keyword \"pattern\" has \"]\" first in a bracket expression" },
	{ "properties/pat/pattern", "'^[a-z$'", "/properties/pat: keyword \"pattern\" has an unterminated bracket expression" },
	{ "properties/pat/pattern", "'^\\u00e9$'", "/properties/pat: keyword \"pattern\" has a character outside printable ASCII" },
	{ "properties/pat/pattern", "'^a\\\\'", "/properties/pat: keyword \"pattern\" has a backslash that is not before a punctuation character" },
	{ "properties/d/format", "'email'", "/properties/d: keyword \"format\" must be \"date\" or \"date-time\"" },
	{ "properties/d/format", "'DATE'", "/properties/d: keyword \"format\" must be \"date\" or \"date-time\"" },
};

static void
expect_load_fail(const char *dir, saksi_err want, const char *msg_prefix)
{
	saksi_schemas *s = (saksi_schemas *)1;
	char err[512];
	saksi_err e = saksi_schemas_load(dir, &s, err, sizeof(err));

	assert_null(s);
	if (e != want || strncmp(err, msg_prefix, strlen(msg_prefix)) != 0)
		fail_msg("load: got %d \"%s\", want %d \"%s...\"", e, err, want, msg_prefix);
}

/* Broken schema files are refused, naming the file and the keyword. */
static void
test_broken_schemas(void **state)
{
	struct tmpdir t;
	char msg[512];
	char *base = q(kw_schema);
	json_t *good = json_loads(base, 0, NULL);

	(void)state;
	assert_non_null(good);
	free(base);
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		json_t *j = json_deep_copy(good);
		char *text;

		set_path(j, broken[i].b_path, broken[i].b_value);
		text = json_dumps(j, JSON_INDENT(1));
		tmp_make(&t);
		/* A good schema beside it: one bad file spoils the whole set. */
		tmp_write(&t, "test.kw.json", text, strlen(text));
		{
			char *real = slurp(EVENTS_DIR "/queue.called.json", NULL);
			tmp_write(&t, "queue.called.json", real, strlen(real));
			free(real);
		}
		snprintf(msg, sizeof(msg), "test.kw.json: %s", broken[i].b_msg);
		expect_load_fail(t.td_path, SAKSI_ERR_FORMAT, msg);
		tmp_remove(&t);
		free(text);
		json_decref(j);
	}
	json_decref(good);
}

/* Broken files and directories, as opposed to broken schemas. */
static void
test_broken_files(void **state)
{
	struct tmpdir t;
	saksi_schemas *s = NULL;
	char err[512], path[512];
	char *text = q(kw_schema), *big;

	(void)state;
	expect_load_fail("/nonexistent/saksi/schemas", SAKSI_ERR_NOT_FOUND, "/nonexistent/saksi/schemas: cannot open");
	assert_int_equal(saksi_schemas_load(NULL, &s, err, sizeof(err)), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_schemas_load(EVENTS_DIR, NULL, err, sizeof(err)), SAKSI_ERR_INVAL);

	tmp_make(&t);
	snprintf(path, sizeof(path), "%s: no *.json schema file", t.td_path);
	expect_load_fail(t.td_path, SAKSI_ERR_NOT_FOUND, path);
	tmp_write(&t, "README.md", "x", 1);
	tmp_write(&t, ".hidden.json", "x", 1);
	tmp_write(&t, ".json", "x", 1);
	expect_load_fail(t.td_path, SAKSI_ERR_NOT_FOUND, path);
	tmp_write(&t, "test.kw.json", text, strlen(text));
	assert_int_equal(saksi_schemas_load(t.td_path, &s, err, sizeof(err)), SAKSI_OK);
	assert_int_equal(saksi_schemas_count(s), 1);
	saksi_schemas_free(s);

	tmp_write(&t, "test.kw2.json", "{\"a\": 1, \"a\": 2}", 16);
	expect_load_fail(t.td_path, SAKSI_ERR_FORMAT, "test.kw2.json: not valid JSON (line 1, column ");
	tmp_write(&t, "test.kw2.json", "{", 1);
	expect_load_fail(t.td_path, SAKSI_ERR_FORMAT, "test.kw2.json: not valid JSON");
	tmp_write(&t, "test.kw2.json", "[]", 2);
	expect_load_fail(t.td_path, SAKSI_ERR_FORMAT, "test.kw2.json: (root): a schema must be a JSON object");
	snprintf(path, sizeof(path), "%s/test.kw2.json", t.td_path);
	unlink(path);

	tmp_write(&t, "Test.json", text, strlen(text));
	expect_load_fail(t.td_path, SAKSI_ERR_FORMAT, "Test.json: the file name must be the event type");
	snprintf(path, sizeof(path), "%s/Test.json", t.td_path);
	unlink(path);
	{
		char name[100];
		memset(name, 'a', 65);
		memcpy(name + 65, ".json", 6);
		tmp_write(&t, name, text, strlen(text));
		expect_load_fail(t.td_path, SAKSI_ERR_FORMAT, name);
		snprintf(path, sizeof(path), "%s/%s", t.td_path, name);
		unlink(path);
	}
	/* x-event-type must match the file name, even for a good schema under another name. */
	tmp_write(&t, "test.kx.json", text, strlen(text));
	expect_load_fail(t.td_path, SAKSI_ERR_FORMAT, "test.kx.json: (root): keyword \"$id\" must be");
	snprintf(path, sizeof(path), "%s/test.kx.json", t.td_path);
	unlink(path);

	snprintf(path, sizeof(path), "%s/dir.json", t.td_path);
	assert_int_equal(mkdir(path, 0700), 0);
	expect_load_fail(t.td_path, SAKSI_ERR_IO, "dir.json: not a regular file");
	assert_int_equal(rmdir(path), 0);

	/* A symlink is not followed (O_NOFOLLOW). */
	snprintf(path, sizeof(path), "%s/link.json", t.td_path);
	assert_int_equal(symlink(EVENTS_DIR "/queue.called.json", path), 0);
	expect_load_fail(t.td_path, SAKSI_ERR_IO, "link.json: cannot open");
	unlink(path);

	big = malloc(1024 * 1024 + 2);
	assert_non_null(big);
	memset(big, ' ', 1024 * 1024 + 1);
	tmp_write(&t, "big.json", big, 1024 * 1024 + 1);
	expect_load_fail(t.td_path, SAKSI_ERR_TOO_LARGE, "big.json: larger than");
	free(big);
	tmp_remove(&t);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_real),
		cmocka_unit_test(test_conventions),
		cmocka_unit_test(test_examples_valid),
		cmocka_unit_test(test_examples_disclosures),
		cmocka_unit_test(test_invalid_every_type),
		cmocka_unit_test(test_known_messages),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_parsed),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_broken_schemas),
		cmocka_unit_test(test_broken_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
