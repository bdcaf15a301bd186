/*
 * reveal_test.c: the participant count of access entries (reveal.h): one person in many
 * spellings and entries is one, NIK before KPJ, forgotten and masked rows count nothing,
 * disclosures as the ledger stores them, and every error path.
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

#include "reveal.h"
#include "../tests/testutil.h"

#define DISC_DIR SAKSI_SOURCE_DIR "/schemas/examples/disclosures"

static void
test_args(void **state)
{
	saksi_reveal *r;
	saksi_query_result res;
	uint64_t n = 7;

	(void)state;
	assert_int_equal(saksi_reveal_new(NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_reveal_add(NULL, "3171014101900001", NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_reveal_add_row(NULL, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_reveal_add_disclosures(NULL, "[]", 2), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_reveal_count(NULL), 0);
	saksi_reveal_free(NULL);
	assert_int_equal(saksi_reveal_result(NULL, &n), SAKSI_ERR_INVAL);
	memset(&res, 0, sizeof(res));
	assert_int_equal(saksi_reveal_result(&res, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_reveal_new(&r), SAKSI_OK);
	assert_int_equal(saksi_reveal_add_row(r, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_reveal_add_disclosures(r, NULL, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_reveal_count(r), 0);
	saksi_reveal_free(r);
}

static void
test_distinct(void **state)
{
	saksi_reveal *r;

	(void)state;
	assert_int_equal(saksi_reveal_new(&r), SAKSI_OK);
	/* One NIK, three spellings, with and without a KPJ: one person. */
	assert_int_equal(saksi_reveal_add(r, "3171014101900001", NULL), SAKSI_OK);
	assert_int_equal(saksi_reveal_add(r, " 3171-0141-0190-0001 ", "12345678901"), SAKSI_OK);
	assert_int_equal(saksi_reveal_add(r, "3171.0141.0190.0001", NULL), SAKSI_OK);
	assert_int_equal(saksi_reveal_count(r), 1);
	/* A KPJ alone is someone (an entry without a NIK); the same KPJ again is not. */
	assert_int_equal(saksi_reveal_add(r, NULL, "12345678901"), SAKSI_OK);
	assert_int_equal(saksi_reveal_add(r, NULL, "123-4567-8901"), SAKSI_OK);
	assert_int_equal(saksi_reveal_count(r), 2);
	/* Neither: a staff action, no one. */
	assert_int_equal(saksi_reveal_add(r, NULL, NULL), SAKSI_OK);
	assert_int_equal(saksi_reveal_count(r), 2);
	/* A value that does not normalise counts by its text, apart from any NIK. */
	assert_int_equal(saksi_reveal_add(r, "not-a-nik", NULL), SAKSI_OK);
	assert_int_equal(saksi_reveal_add(r, "not-a-nik", NULL), SAKSI_OK);
	assert_int_equal(saksi_reveal_count(r), 3);
	/* Counting twice changes nothing; adds after a count go on. */
	assert_int_equal(saksi_reveal_count(r), 3);
	assert_int_equal(saksi_reveal_add(r, "7371054507880003", NULL), SAKSI_OK);
	assert_int_equal(saksi_reveal_count(r), 4);
	saksi_reveal_free(r);
}

/* Many rows, seeded: the count is exact. */
static void
test_many(void **state)
{
	saksi_reveal *r;
	unsigned seed = (unsigned)time(NULL);
	const char *env = getenv("SAKSI_TEST_SEED");
	char nik[17];
	uint8_t seen[3000];
	uint64_t want = 0;

	(void)state;
	if (env != NULL)
		seed = (unsigned)strtoul(env, NULL, 10);
	print_message("reveal_test seed %u (SAKSI_TEST_SEED=%u to repeat)\n", seed, seed);
	srand(seed);
	memset(seen, 0, sizeof(seen));
	assert_int_equal(saksi_reveal_new(&r), SAKSI_OK);
	for (int i = 0; i < 20000; i++) {
		int k = rand() % 3000;

		snprintf(nik, sizeof(nik), "3171%012d", k);
		want += !seen[k];
		seen[k] = 1;
		assert_int_equal(saksi_reveal_add(r, nik, NULL), SAKSI_OK);
		if (i % 5000 == 0)
			assert_int_equal(saksi_reveal_count(r), want);
	}
	assert_int_equal(saksi_reveal_count(r), want);
	saksi_reveal_free(r);
}

static void
row(saksi_query_result *res, const char *payload, int forgotten)
{
	saksi_query_row *rw;

	assert_true(res->qr_n < res->qr_cap);
	rw = &res->qr_rows[res->qr_n++];
	memset(rw, 0, sizeof(*rw));
	rw->qr_payload = json_loads(payload, 0, NULL);
	assert_non_null(rw->qr_payload);
	rw->qr_forgotten = forgotten;
	rw->qr_personal = strdup("");
}

static void
test_result(void **state)
{
	saksi_query_result res;
	uint64_t n = 9;

	(void)state;
	memset(&res, 0, sizeof(res));
	res.qr_cap = 8;
	res.qr_rows = calloc(res.qr_cap, sizeof(*res.qr_rows));
	row(&res, "{\"nik\":\"3171014101900001\",\"kpj\":\"12345678901\"}", 0);
	row(&res, "{\"nik\":\"3171-0141-0190-0001\"}", 0);
	row(&res, "{\"kpj\":\"18045213577\"}", 0);
	row(&res, "{\"officer_id\":\"OF-1\"}", 0);
	/* Forgotten: its members are digests, and it says so. */
	row(&res, "{\"nik\":{\"_sd\":\"WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AEz8\"}}", 1);
	row(&res, "{\"nik\":{\"_sd\":\"WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AEz8\"}}", 0);
	/* Not revealed: nothing was shown, whatever the rows hold. */
	assert_int_equal(saksi_reveal_result(&res, &n), SAKSI_OK);
	assert_int_equal(n, 0);
	res.qr_revealed = 1;
	assert_int_equal(saksi_reveal_result(&res, &n), SAKSI_OK);
	assert_int_equal(n, 2);
	saksi_query_result_free(&res);
	/* An empty revealed result: none. */
	res.qr_revealed = 1;
	assert_int_equal(saksi_reveal_result(&res, &n), SAKSI_OK);
	assert_int_equal(n, 0);
	saksi_query_result_free(&res);
}

static void
test_disclosures(void **state)
{
	saksi_reveal *r;
	char *text, buf[512], *d1, *d2;
	size_t len;

	(void)state;
	assert_int_equal(saksi_reveal_new(&r), SAKSI_OK);
	/* As the ledger stores them: a claim with nik and kpj, a booking with nik. */
	text = slurp(DISC_DIR "/claim.submitted.json", &len);
	assert_int_equal(saksi_reveal_add_disclosures(r, text, len), SAKSI_OK);
	free(text);
	text = slurp(DISC_DIR "/claim.submitted.json", &len);
	assert_int_equal(saksi_reveal_add_disclosures(r, text, len), SAKSI_OK);
	free(text);
	assert_int_equal(saksi_reveal_count(r), 1);
	/* None at all, and a list without nik or kpj: no one. */
	assert_int_equal(saksi_reveal_add_disclosures(r, "[]", 2), SAKSI_OK);
	d1 = tu_b64url("[\"c2FsdA\",\"phone\",\"+6281234567890\"]");
	snprintf(buf, sizeof(buf), "[\"%s\"]", d1);
	assert_int_equal(saksi_reveal_add_disclosures(r, buf, strlen(buf)), SAKSI_OK);
	assert_int_equal(saksi_reveal_count(r), 1);
	/* kpj alone. */
	d2 = tu_b64url("[\"c2FsdA\",\"kpj\",\"99999999999\"]");
	snprintf(buf, sizeof(buf), "[\"%s\",\"%s\"]", d1, d2);
	assert_int_equal(saksi_reveal_add_disclosures(r, buf, strlen(buf)), SAKSI_OK);
	assert_int_equal(saksi_reveal_count(r), 2);
	/* Malformed: not JSON, not an array, not strings, not base64url, not a triple; the
	 * counter is unchanged. */
	assert_int_equal(saksi_reveal_add_disclosures(r, "[", 1), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_reveal_add_disclosures(r, "{}", 2), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_reveal_add_disclosures(r, "[1]", 3), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_reveal_add_disclosures(r, "[\"%%%\"]", 7), SAKSI_ERR_FORMAT);
	free(d1);
	d1 = tu_b64url("[\"c2FsdA\",\"nik\"]");
	snprintf(buf, sizeof(buf), "[\"%s\",\"%s\"]", d2, d1);
	assert_int_equal(saksi_reveal_add_disclosures(r, buf, strlen(buf)), SAKSI_ERR_FORMAT);
	free(d1);
	d1 = tu_b64url("[\"c2FsdA\",\"nik\",\"3171014101900009\"]");
	snprintf(buf, sizeof(buf), "[\"%s\",\"@@\"]", d1);
	assert_int_equal(saksi_reveal_add_disclosures(r, buf, strlen(buf)), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_reveal_count(r), 2);
	free(d1);
	free(d2);
	saksi_reveal_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_distinct),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_result),
		cmocka_unit_test(test_disclosures),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
