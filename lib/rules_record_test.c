/*
 * rules_record_test.c: the decoders of the rules engine's stored records on bytes
 * (saksi_rules_record_decode, RULES.md 4.1), with the findings of fuzz_rstate kept as
 * regressions: a record that contradicts the format is SAKSI_ERR_CORRUPT, a good one
 * decodes and encodes back to itself. No LMDB: the decoders take bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bytes.h"
#include "rules.h"
#include "rules_impl.h"

static saksi_rules *
load(void)
{
	saksi_rules *r = NULL;
	char err[512] = "";

	if (saksi_rules_load(SAKSI_SOURCE_DIR "/schemas/rules/default.rules", NULL, &r, err,
	                     sizeof(err)) != SAKSI_OK)
		fail_msg("default.rules: %s", err);
	return r;
}

/* The index of the first rule of type t. */
static size_t
rule_of(const saksi_rules *r, int t)
{
	for (size_t i = 0; i < r->rs_nrules; i++)
		if (r->rs_rules[i]->r_type == t)
			return i;
	fail_msg("no rule of type %d in default.rules", t);
	return 0;
}

/* An event_count group record: text, one suppression record with actor, entries. */
static size_t
group_rec(uint8_t *b, const char *text, size_t tl, const char *actor, size_t al,
          uint32_t nent)
{
	size_t o = 0;

	b[o++] = 1;
	b[o++] = RT_EVENT_COUNT;
	saksi_put_u64(b + o, 5000);
	o += 8;
	saksi_put_u16(b + o, (uint16_t)tl);
	o += 2;
	memcpy(b + o, text, tl);
	o += tl;
	saksi_put_u16(b + o, 1);
	o += 2;
	b[o++] = (uint8_t)al;
	memcpy(b + o, actor, al);
	o += al;
	b[o++] = 1;
	saksi_put_u64(b + o, 100);
	saksi_put_u64(b + o + 8, 3);
	saksi_put_u64(b + o + 16, 1);
	o += 24;
	saksi_put_u32(b + o, nent);
	o += 4;
	for (uint32_t i = 0; i < nent; i++, o += 16) {
		saksi_put_u64(b + o, 1000 + i);
		saksi_put_u64(b + o + 8, i);
	}
	return o;
}

static void
test_group(void **state)
{
	saksi_rules *r = load();
	size_t i = rule_of(r, RT_EVENT_COUNT), n;
	uint8_t b[512];
	int canon = -1;
	(void)state;

	n = group_rec(b, "device_id=abc", 13, "", 0, 2);
	assert_int_equal(saksi_rules_record_decode(r, 'G', i, b, n, &canon), SAKSI_OK);
	assert_int_equal(canon, 1);
	/* Each byte short, or one more: corrupt. */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(saksi_rules_record_decode(r, 'G', i, b, k, NULL),
		                 SAKSI_ERR_CORRUPT);
	b[n] = 0;
	assert_int_equal(saksi_rules_record_decode(r, 'G', i, b, n + 1, NULL), SAKSI_ERR_CORRUPT);
	/* Found by fuzz_rstate: a NUL in the group text (or an actor) cut the text short,
	 * so two different records read as one group (corpus/rstate/regress-group-nul). */
	n = group_rec(b, "device\0id=abc", 13, "", 0, 0);
	assert_int_equal(saksi_rules_record_decode(r, 'G', i, b, n, &canon), SAKSI_ERR_CORRUPT);
	assert_int_equal(canon, 0);
	n = group_rec(b, "device_id=abc", 13, "a\0", 2, 0);
	assert_int_equal(saksi_rules_record_decode(r, 'G', i, b, n, NULL), SAKSI_ERR_CORRUPT);
	/* Another rule type, a version, an empty text. */
	n = group_rec(b, "device_id=abc", 13, "", 0, 0);
	b[1] = RT_VALUE_COUNT;
	assert_int_equal(saksi_rules_record_decode(r, 'G', i, b, n, NULL), SAKSI_ERR_CORRUPT);
	b[1] = RT_EVENT_COUNT;
	b[0] = 2;
	assert_int_equal(saksi_rules_record_decode(r, 'G', i, b, n, NULL), SAKSI_ERR_CORRUPT);
	n = group_rec(b, "", 0, "", 0, 0);
	assert_int_equal(saksi_rules_record_decode(r, 'G', i, b, n, NULL), SAKSI_ERR_CORRUPT);
	/* Arguments. */
	assert_int_equal(saksi_rules_record_decode(r, 'G', r->rs_nrules, b, n, NULL),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_record_decode(r, 'Z', 0, b, n, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_record_decode(NULL, 'G', 0, b, n, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_record_decode(r, 'G', i, NULL, 3, NULL), SAKSI_ERR_INVAL);
	saksi_rules_free(r);
}

static void
test_join_alert(void **state)
{
	saksi_rules *r = load();
	uint8_t b[256];
	size_t o = 0;
	(void)state;

	b[o++] = 1;
	saksi_put_u64(b + o, 1000);
	saksi_put_u64(b + o + 8, 3);
	o += 16;
	b[o++] = 1;
	b[o++] = 10;
	memcpy(b + o, "booking_id", 10);
	o += 10;
	b[o++] = 5;
	memcpy(b + o, "BK-01", 5);
	o += 5;
	b[o++] = 0;
	assert_int_equal(saksi_rules_record_decode(r, 'J', 0, b, o, NULL), SAKSI_OK);
	for (size_t k = 0; k < o; k++)
		assert_int_equal(saksi_rules_record_decode(r, 'J', 0, b, k, NULL),
		                 SAKSI_ERR_CORRUPT);
	b[o - 1] = 2;   /* personal is 0 or 1 */
	assert_int_equal(saksi_rules_record_decode(r, 'J', 0, b, o, NULL), SAKSI_ERR_CORRUPT);
	assert_int_equal(saksi_rules_record_decode(r, 'J', r->rs_njoins, b, o, NULL),
	                 SAKSI_ERR_INVAL);

	o = 0;
	b[o++] = 1;
	b[o++] = SAKSI_ALERT_RULE;
	b[o++] = SAKSI_SEV_HIGH;
	b[o++] = 2;
	memcpy(b + o, "r1", 2);
	o += 2;
	saksi_put_u16(b + o, 3);
	memcpy(b + o + 2, "g=x", 3);
	o += 5;
	memset(b + o, 0, 52);
	o += 52;
	b[o++] = 1;
	saksi_put_u64(b + o, 4);
	o += 8;
	assert_int_equal(saksi_rules_record_decode(r, 'A', 0, b, o, NULL), SAKSI_OK);
	for (size_t k = 0; k < o; k++)
		assert_int_equal(saksi_rules_record_decode(r, 'A', 0, b, k, NULL),
		                 SAKSI_ERR_CORRUPT);
	b[1] = SAKSI_ALERT_REFUSALS;   /* kinds 4 and 5 are never in the log */
	assert_int_equal(saksi_rules_record_decode(r, 'A', 0, b, o, NULL), SAKSI_ERR_CORRUPT);
	saksi_rules_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_join_alert),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
