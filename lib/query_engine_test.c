/*
 * query_engine_test.c: the query engine (lib/query.c; tests/query_test.c tests the CLI)
 * over a real ledger in a mkdtemp() directory, with real signed envelopes, real
 * disclosures sealed at rest (store key and a participant's data key) and real indexes:
 * masked and revealed rows, paging, timelines, a forgotten participant, entries that do
 * not open or do not match, hostile specs and rows JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>
#include <sodium.h>

#include "bytes.h"
#include "datakey.h"
#include "envelope.h"
#include "index.h"
#include "keys.h"
#include "ledger.h"
#include "query.h"
#include "../tests/testutil.h"
#include "../tests/ixledger.h"

#define ORIGIN IXL_ORIGIN
#define VKEY IXL_VKEY
#define T0 1767225600000ULL /* 2026-01-01T00:00:00Z */
#define NIK1 "7371014101900001"
#define NIK2 "7371014101900002"
#define PHONE1 "+6281234567890"

static int
setup(void **state)
{
	uint8_t key[32];

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 7);
	return ixl_setup(state, "saksi-query", key);
}


/* One event as saksid appends it (ixl_add), committed at T0. Returns its leaf index. */
static uint64_t
add(struct ixl *f, const char *type, uint64_t tms, const char *clear,
    const char *const *personal, size_t np, enum ixl_seal how, uint64_t slot)
{
	return ixl_add(f, type, tms, T0, clear, personal, np, how, slot);
}

static const char *const P_NIK[] = { "nik" };
static const char *const P_NIK_PHONE[] = { "nik", "phone" };

/* A small day: two participants, their bookings and claims, an officer's actions. */
static void
fill(struct ixl *f)
{
	add(f, "queue.booking.created", T0 + 1000, "{\"branch\":\"KC-MAKASSAR\","
	    "\"booking_id\":\"BK-1\",\"nik\":\"" NIK1 "\",\"phone\":\"" PHONE1 "\"}",
	    P_NIK_PHONE, 2, IXL_STORE, 0);                                   /* 0 */
	add(f, "queue.booking.created", T0 + 2000, "{\"branch\":\"KC-MAKASSAR\","
	    "\"booking_id\":\"BK-2\",\"nik\":\"" NIK2 "\"}", P_NIK, 1, IXL_STORE, 0); /* 1 */
	add(f, "claim.submitted", T0 + 5000, "{\"branch\":\"KC-MAKASSAR\",\"claim_id\":"
	    "\"CL-1\",\"booking_id\":\"BK-1\",\"officer_id\":\"OF-9\",\"nik\":\"" NIK1 "\"}",
	    P_NIK, 1, IXL_STORE, 0);                                         /* 2 */
	/* The booking's check-in, earlier in producer time than the claim, later in the
	 * ledger: a timeline orders by producer time. */
	add(f, "queue.checkin", T0 + 3000, "{\"branch\":\"KC-MAKASSAR\",\"booking_id\":"
	    "\"BK-1\"}", NULL, 0, IXL_STORE, 0);                             /* 3 */
	add(f, "claim.approved", T0 + 9000, "{\"branch\":\"KC-MAKASSAR\",\"claim_id\":"
	    "\"CL-1\",\"approver_id\":\"OF-9\"}", NULL, 0, IXL_STORE, 0);    /* 4 */
}

static saksi_query_ctx
ctx_of(struct ixl *f, saksi_ledger_txn **t)
{
	saksi_query_ctx c;
	uint64_t upto;

	assert_int_equal(saksi_ledger_begin(f->l, 0, t), SAKSI_OK);
	c.qc_txn = *t;
	assert_int_equal(saksi_query_index(*t, f->b, &c.qc_dbi, &upto), SAKSI_OK);
	assert_int_equal(upto, saksi_ledger_size(*t));
	c.qc_store = f->store;
	c.qc_dk = f->dk;
	return c;
}

static void
spec_init(saksi_query_spec *s, int timeline)
{
	memset(s, 0, sizeof(*s));
	s->qs_timeline = timeline;
	s->qs_limit = timeline ? SAKSI_QUERY_TIMELINE_LIMIT_DEFAULT : SAKSI_QUERY_LIMIT_DEFAULT;
}

static void
test_query_masked_and_revealed(void **state)
{
	struct ixl *f = *state;
	char tok[SAKSI_BLIND_TOKEN_LEN + 1];
	saksi_ledger_txn *t;
	saksi_query_ctx c;
	saksi_query_spec s;
	saksi_query_result r;

	fill(f);
	c = ctx_of(f, &t);
	assert_int_equal(saksi_query_blind(f->b, SAKSI_IX_NIK, NIK1, tok), SAKSI_OK);
	spec_init(&s, 0);
	s.qs_value[SAKSI_IX_NIK] = tok;
	assert_true(saksi_query_spec_personal(&s));
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 2);
	assert_int_equal(r.qr_more, 0);
	assert_int_equal(r.qr_revealed, 0);
	assert_int_equal(r.qr_rows[0].qr_index, 0);
	assert_int_equal(r.qr_rows[1].qr_index, 2);
	assert_string_equal(r.qr_rows[0].qr_type, "queue.booking.created");
	assert_int_equal(r.qr_rows[0].qr_time_ms, T0 + 1000);
	assert_string_equal(r.qr_rows[0].qr_personal, "nik=7371********0001 phone=+6281******890");
	assert_string_equal(json_string_value(json_object_get(r.qr_rows[0].qr_payload, "nik")),
	    "7371********0001");
	assert_string_equal(json_string_value(json_object_get(r.qr_rows[1].qr_payload,
	    "claim_id")), "CL-1");
	assert_int_equal(r.qr_rows[0].qr_forgotten, 0);
	saksi_query_result_free(&r);

	s.qs_reveal = 1;
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_revealed, 1);
	assert_string_equal(r.qr_rows[0].qr_personal, "nik=" NIK1 " phone=" PHONE1);
	assert_string_equal(json_string_value(json_object_get(r.qr_rows[1].qr_payload, "nik")),
	    NIK1);
	saksi_query_result_free(&r);

	/* AND with a plain field, and a time range. */
	s.qs_reveal = 0;
	s.qs_value[SAKSI_IX_TYPE] = "claim.submitted";
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 1);
	assert_int_equal(r.qr_rows[0].qr_index, 2);
	saksi_query_result_free(&r);
	s.qs_value[SAKSI_IX_TYPE] = NULL;
	s.qs_since_ms = T0 + 1001;
	s.qs_has_since = 1;
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 1);
	saksi_query_result_free(&r);

	/* A NIK never seen: nothing, no error. */
	assert_int_equal(saksi_query_blind(f->b, SAKSI_IX_NIK, "3171014101900009", tok),
	    SAKSI_OK);
	spec_init(&s, 0);
	s.qs_value[SAKSI_IX_NIK] = tok;
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 0);
	saksi_query_result_free(&r);
	saksi_ledger_abort(t);
}

static void
test_add(void **state)
{
	struct ixl *f = *state;
	saksi_ledger_txn *t;
	saksi_query_ctx c;
	saksi_query_result r;

	fill(f);
	c = ctx_of(f, &t);
	memset(&r, 0, sizeof(r));
	assert_int_equal(saksi_query_add(&c, 2, 0, &r), SAKSI_OK);
	assert_int_equal(saksi_query_add(&c, 0, 1, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 2);
	assert_int_equal(r.qr_rows[0].qr_index, 2);
	assert_string_equal(r.qr_rows[0].qr_personal, "nik=7371********0001");
	assert_string_equal(r.qr_rows[1].qr_personal, "nik=" NIK1 " phone=" PHONE1);
	assert_int_equal(saksi_query_add(&c, 99, 0, &r), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(r.qr_fail_what, SAKSI_QF_LEAF);
	assert_int_equal(r.qr_fail_index, 99);
	assert_int_equal(r.qr_n, 2);
	assert_int_equal(saksi_query_add(NULL, 0, 0, &r), SAKSI_ERR_INVAL);
	saksi_query_result_free(&r);
	saksi_ledger_abort(t);
}

static void
test_paging(void **state)
{
	struct ixl *f = *state;
	saksi_ledger_txn *t;
	saksi_query_ctx c;
	saksi_query_spec s;
	saksi_query_result r;
	uint64_t seen[8];
	size_t nseen = 0;

	fill(f);
	c = ctx_of(f, &t);
	spec_init(&s, 0);
	s.qs_value[SAKSI_IX_BRANCH] = "KC-MAKASSAR";
	s.qs_limit = 2;
	for (;;) {
		assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
		for (size_t i = 0; i < r.qr_n; i++)
			seen[nseen++] = r.qr_rows[i].qr_index;
		if (!r.qr_more) {
			saksi_query_result_free(&r);
			break;
		}
		assert_int_equal(r.qr_n, 2);
		s.qs_after = r.qr_rows[r.qr_n - 1].qr_index;
		s.qs_has_after = 1;
		saksi_query_result_free(&r);
	}
	assert_int_equal(nseen, 5);
	for (size_t i = 0; i < nseen; i++)
		assert_int_equal(seen[i], i);
	saksi_ledger_abort(t);
}

static void
test_timeline(void **state)
{
	struct ixl *f = *state;
	char tok[SAKSI_BLIND_TOKEN_LEN + 1];
	saksi_ledger_txn *t;
	saksi_query_ctx c;
	saksi_query_spec s;
	saksi_query_result r;
	static const uint64_t want[] = { 0, 3, 2, 4 };

	fill(f);
	c = ctx_of(f, &t);
	/* NIK1: his booking and claim, then the booking's check-in and the claim's approval,
	 * which do not carry his NIK, in producer time. */
	assert_int_equal(saksi_query_blind(f->b, SAKSI_IX_NIK, NIK1, tok), SAKSI_OK);
	spec_init(&s, 1);
	s.qs_value[SAKSI_IX_NIK] = tok;
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(r.qr_rows[i].qr_index, want[i]);
	assert_int_equal(r.qr_more, 0);
	saksi_query_result_free(&r);
	/* Cut at the limit. */
	s.qs_limit = 3;
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 3);
	assert_int_equal(r.qr_more, 1);
	saksi_query_result_free(&r);
	/* A claim: its entries and its booking's. */
	spec_init(&s, 1);
	s.qs_value[SAKSI_IX_CLAIM] = "CL-1";
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 4);
	saksi_query_result_free(&r);
	saksi_ledger_abort(t);
}

static void
test_forgotten_and_broken(void **state)
{
	struct ixl *f = *state;
	char tok[SAKSI_BLIND_TOKEN_LEN + 1];
	saksi_ledger_txn *t;
	saksi_query_ctx c;
	saksi_query_spec s;
	saksi_query_result r;
	uint64_t a, b, d;

	a = add(f, "queue.booking.created", T0 + 1, "{\"branch\":\"KC-A\",\"booking_id\":"
	    "\"BK-7\",\"nik\":\"" NIK1 "\"}", P_NIK, 1, IXL_SLOT, 1);
	assert_int_equal(saksi_dk_wipe(f->dk, 1), SAKSI_OK);   /* forgotten */
	c = ctx_of(f, &t);
	spec_init(&s, 0);
	s.qs_value[SAKSI_IX_BRANCH] = "KC-A";
	s.qs_reveal = 1;
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 1);
	assert_int_equal(r.qr_rows[0].qr_index, a);
	assert_int_equal(r.qr_rows[0].qr_forgotten, 1);
	assert_string_equal(r.qr_rows[0].qr_personal, "[forgotten]");
	assert_non_null(json_object_get(json_object_get(r.qr_rows[0].qr_payload, "nik"), "_sd"));
	saksi_query_result_free(&r);
	saksi_ledger_abort(t);

	/* Disclosures under another store key: do not open. */
	b = add(f, "queue.booking.created", T0 + 2, "{\"branch\":\"KC-B\",\"booking_id\":"
	    "\"BK-8\",\"nik\":\"" NIK2 "\"}", P_NIK, 1, IXL_OTHER, 0);
	c = ctx_of(f, &t);
	s.qs_value[SAKSI_IX_BRANCH] = "KC-B";
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_ERR_DECRYPT);
	assert_int_equal(r.qr_fail_what, SAKSI_QF_DISC_OPEN);
	assert_int_equal(r.qr_fail_index, b);
	assert_int_equal(r.qr_fail_cause, SAKSI_ERR_KEY);
	assert_int_equal(r.qr_n, 0);
	saksi_query_result_free(&r);
	saksi_ledger_abort(t);

	/* Disclosures that match no digest. */
	d = add(f, "queue.booking.created", T0 + 3, "{\"branch\":\"KC-C\",\"booking_id\":"
	    "\"BK-9\",\"nik\":\"" NIK2 "\"}", P_NIK, 1, IXL_WRONG, 0);
	c = ctx_of(f, &t);
	s.qs_value[SAKSI_IX_BRANCH] = "KC-C";
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_ERR_CORRUPT);
	assert_int_equal(r.qr_fail_what, SAKSI_QF_DISC_MATCH);
	assert_int_equal(r.qr_fail_index, d);
	saksi_query_result_free(&r);

	/* The same in a timeline by the NIK, and an index with another key. */
	assert_int_equal(saksi_query_blind(f->b, SAKSI_IX_NIK, NIK2, tok), SAKSI_OK);
	spec_init(&s, 1);
	s.qs_value[SAKSI_IX_NIK] = tok;
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_ERR_DECRYPT);
	assert_int_equal(r.qr_fail_index, b);
	saksi_query_result_free(&r);
	{
		saksi_blind *other;
		uint8_t k2[32] = { 1 };
		MDB_dbi dbi;

		assert_int_equal(saksi_blind_new(k2, &other), SAKSI_OK);
		assert_int_equal(saksi_query_index(t, other, &dbi, NULL), SAKSI_ERR_KEY);
		saksi_blind_free(other);
	}
	saksi_ledger_abort(t);
}

static void
test_not_an_event(void **state)
{
	struct ixl *f = *state;
	uint8_t env[SAKSI_ENV_MAX], body[2] = { 0, 0 };
	const char *p = "{\"branch\":\"KC-Z\"}";
	saksi_ledger_txn *t;
	saksi_query_ctx c;
	saksi_query_spec s;
	saksi_query_result r;
	size_t elen;
	uint64_t idx;

	/* A refusal summary indexed as if it were an event: the index lies. */
	assert_int_equal(saksi_envelope_sign(f->sk, ++f->seq, T0, "queue.checkin",
	    (const uint8_t *)p, strlen(p), env, sizeof(env), &elen), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(f->l, 1, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(t, SAKSI_LEAF_REFUSALS, T0, body, 2, &idx, NULL),
	    SAKSI_OK);
	assert_int_equal(saksi_index_event(saksi_ledger_txn_mdb(t), f->dbi, f->b, idx, env,
	    elen, NULL, 0), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	c = ctx_of(f, &t);
	spec_init(&s, 0);
	s.qs_value[SAKSI_IX_BRANCH] = "KC-Z";
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_ERR_CORRUPT);
	assert_int_equal(r.qr_fail_what, SAKSI_QF_NOT_EVENT);
	assert_int_equal(r.qr_fail_index, idx);
	saksi_query_result_free(&r);
	saksi_ledger_abort(t);
}

static void
test_no_index(void **state)
{
	struct ixl *f = *state;
	char dir[256];
	saksi_ledger *l;
	saksi_ledger_txn *t;
	MDB_dbi dbi;

	(void)f;
	assert_int_equal(tmpdir_make(dir, sizeof(dir), "saksi-query-noix"), 0);
	assert_int_equal(saksi_ledger_open(dir, ORIGIN, VKEY, NULL, &l), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_query_index(t, f->b, &dbi, NULL), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_query_index(NULL, f->b, &dbi, NULL), SAKSI_ERR_INVAL);
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	rm_rf(dir);
}

static void
expect_bad(const saksi_query_spec *s, const char *part)
{
	const char *why = NULL;

	assert_int_equal(saksi_query_spec_check(s, &why), SAKSI_ERR_INVAL);
	assert_non_null(why);
	assert_non_null(strstr(why, part));
}

static void
test_spec_check(void **state)
{
	struct ixl *f = *state;
	char tok[SAKSI_BLIND_TOKEN_LEN + 1], big[200];
	saksi_query_spec s;
	saksi_query_result r;
	saksi_ledger_txn *t;
	saksi_query_ctx c;
	const char *why = "x";

	assert_int_equal(saksi_query_blind(f->b, SAKSI_IX_NIK, NIK1, tok), SAKSI_OK);
	spec_init(&s, 0);
	expect_bad(&s, "at least one filter");
	s.qs_has_until = 1;
	assert_int_equal(saksi_query_spec_check(&s, &why), SAKSI_OK);
	assert_null(why);
	s.qs_has_since = 1;
	s.qs_since_ms = 5;
	expect_bad(&s, "since is after until");
	spec_init(&s, 0);
	s.qs_value[SAKSI_IX_NIK] = NIK1;   /* a clear NIK is never a term */
	expect_bad(&s, "blind token");
	s.qs_value[SAKSI_IX_NIK] = tok;
	s.qs_limit = 0;
	expect_bad(&s, "limit");
	s.qs_limit = SAKSI_QUERY_LIMIT_MAX + 1;
	expect_bad(&s, "limit");
	s.qs_limit = 10;
	s.qs_value[SAKSI_IX_OFFICER] = "a,b";
	expect_bad(&s, "printable");
	s.qs_value[SAKSI_IX_OFFICER] = "";
	expect_bad(&s, "printable");
	memset(big, 'a', sizeof(big));
	big[SAKSI_QUERY_VALUE_MAX + 1] = '\0';
	s.qs_value[SAKSI_IX_OFFICER] = big;
	expect_bad(&s, "printable");
	big[SAKSI_QUERY_VALUE_MAX] = '\0';
	assert_int_equal(saksi_query_spec_check(&s, NULL), SAKSI_OK);
	s.qs_value[SAKSI_IX_TIME] = "1";
	expect_bad(&s, "not filters");
	s.qs_value[SAKSI_IX_TIME] = NULL;
	/* Timelines: exactly one identifier, no paging. */
	s.qs_timeline = 1;
	expect_bad(&s, "exactly one");
	s.qs_value[SAKSI_IX_OFFICER] = NULL;
	assert_int_equal(saksi_query_spec_check(&s, NULL), SAKSI_OK);
	s.qs_has_after = 1;
	expect_bad(&s, "one story");
	spec_init(&s, 1);
	s.qs_value[SAKSI_IX_IP] = tok;
	expect_bad(&s, "exactly one");
	spec_init(&s, 1);
	s.qs_value[SAKSI_IX_BRANCH] = "KC-A";
	expect_bad(&s, "exactly one");
	assert_int_equal(saksi_query_spec_check(NULL, &why), SAKSI_ERR_INVAL);

	/* run refuses the same, and NULLs. */
	c = ctx_of(f, &t);
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_ERR_INVAL);
	assert_int_equal(r.qr_n, 0);
	assert_int_equal(saksi_query_run(NULL, &s, &r), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_query_run(&c, NULL, &r), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_query_run(&c, &s, NULL), SAKSI_ERR_INVAL);
	saksi_ledger_abort(t);

	/* Blinding: personal fields only. */
	assert_int_equal(saksi_query_blind(f->b, SAKSI_IX_OFFICER, "x", tok), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_query_blind(f->b, SAKSI_IX_NIK, "12", tok), SAKSI_ERR_FORMAT);
	assert_string_equal(tok, "");
	assert_int_equal(saksi_query_blind(f->b, SAKSI_IX__COUNT, "12", tok), SAKSI_ERR_INVAL);
}

static void
test_filter_text(void **state)
{
	struct ixl *f = *state;
	char tok[SAKSI_BLIND_TOKEN_LEN + 1], out[SAKSI_QUERY_FILTER_MAX + 1], want[256];
	char small[16];
	saksi_query_spec s;

	assert_int_equal(saksi_query_blind(f->b, SAKSI_IX_NIK, NIK1, tok), SAKSI_OK);
	spec_init(&s, 0);
	s.qs_value[SAKSI_IX_OFFICER] = "OF-9";
	s.qs_value[SAKSI_IX_NIK] = tok;
	s.qs_since_ms = 5;
	s.qs_has_since = 1;
	s.qs_after = 7;
	s.qs_has_after = 1;
	assert_int_equal(saksi_query_filter_text(&s, out, sizeof(out)), SAKSI_OK);
	snprintf(want, sizeof(want), "nik=%s,officer=OF-9,since=5,after=7,limit=100", tok);
	assert_string_equal(out, want);
	assert_null(strstr(out, NIK1));
	assert_int_equal(saksi_query_filter_text(&s, small, sizeof(small)),
	    SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_query_filter_text(NULL, out, sizeof(out)), SAKSI_ERR_INVAL);
}

/*
 * Branch scope (query.h qs_branch): a KC-MAKASSAR key sees KC-MAKASSAR entries only, in
 * a query, a timeline (which neither shows nor follows another branch's entries) and the
 * filter text; "*" sees all; a branch filter naming another branch is refused.
 */
static void
test_branch_scope(void **state)
{
	struct ixl *f = *state;
	char tok[SAKSI_BLIND_TOKEN_LEN + 1], out[SAKSI_QUERY_FILTER_MAX + 1], want[256];
	saksi_ledger_txn *t;
	saksi_query_ctx c;
	saksi_query_spec s;
	saksi_query_result r;
	const char *why = NULL;
	uint64_t jkt, jkt_claim;

	fill(f);   /* 0..4, all KC-MAKASSAR */
	/* NIK1 also visited Jakarta: a booking there and a claim that names it. */
	jkt = add(f, "queue.booking.created", T0 + 4000, "{\"branch\":\"KC-JAKARTA\","
	    "\"booking_id\":\"BK-J\",\"nik\":\"" NIK1 "\"}", P_NIK, 1, IXL_STORE, 0);
	jkt_claim = add(f, "claim.submitted", T0 + 6000, "{\"branch\":\"KC-JAKARTA\","
	    "\"claim_id\":\"CL-J\",\"booking_id\":\"BK-J\",\"officer_id\":\"OF-9\"}",
	    NULL, 0, IXL_STORE, 0);
	c = ctx_of(f, &t);

	/* A query by officer: national sees both branches, Makassar only its own. */
	spec_init(&s, 0);
	s.qs_value[SAKSI_IX_OFFICER] = "OF-9";
	s.qs_branch = "*";
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 3);   /* 2, 4 (the approver) and the Jakarta claim */
	assert_int_equal(r.qr_rows[2].qr_index, jkt_claim);
	saksi_query_result_free(&r);
	s.qs_branch = "KC-MAKASSAR";
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 2);
	assert_int_equal(r.qr_rows[0].qr_index, 2);
	assert_int_equal(r.qr_rows[1].qr_index, 4);
	saksi_query_result_free(&r);
	/* The scope shows in the filter text; a filter on its own branch is the same. */
	assert_int_equal(saksi_query_filter_text(&s, out, sizeof(out)), SAKSI_OK);
	assert_string_equal(out, "officer=OF-9,branch=KC-MAKASSAR,limit=100");
	s.qs_value[SAKSI_IX_BRANCH] = "KC-MAKASSAR";
	assert_int_equal(saksi_query_filter_text(&s, out, sizeof(out)), SAKSI_OK);
	assert_string_equal(out, "officer=OF-9,branch=KC-MAKASSAR,limit=100");
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 2);
	saksi_query_result_free(&r);
	/* Another branch by filter: refused, nothing found. */
	s.qs_value[SAKSI_IX_BRANCH] = "KC-JAKARTA";
	assert_int_equal(saksi_query_spec_check(&s, &why), SAKSI_ERR_INVAL);
	assert_non_null(strstr(why, "another branch"));
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_ERR_INVAL);
	assert_int_equal(r.qr_n, 0);
	saksi_query_result_free(&r);
	/* A scope that is not a branch code. */
	s.qs_value[SAKSI_IX_BRANCH] = NULL;
	s.qs_branch = "KC,X";
	assert_int_equal(saksi_query_spec_check(&s, &why), SAKSI_ERR_INVAL);
	s.qs_branch = "";
	assert_int_equal(saksi_query_spec_check(&s, &why), SAKSI_ERR_INVAL);

	/* A timeline of NIK1: national 6 entries, Makassar the 4 of its own, and the
	 * Jakarta claim that its Jakarta booking names is not followed either. */
	assert_int_equal(saksi_query_blind(f->b, SAKSI_IX_NIK, NIK1, tok), SAKSI_OK);
	spec_init(&s, 1);
	s.qs_value[SAKSI_IX_NIK] = tok;
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 6);   /* 0 3 2 jkt 4 and CL-J, followed from BK-J */
	saksi_query_result_free(&r);
	s.qs_branch = "KC-MAKASSAR";
	s.qs_reveal = 1;
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 4);
	for (size_t i = 0; i < r.qr_n; i++) {
		assert_int_not_equal(r.qr_rows[i].qr_index, jkt);
		assert_string_equal(json_string_value(json_object_get(r.qr_rows[i].qr_payload,
		    "branch")), "KC-MAKASSAR");
	}
	saksi_query_result_free(&r);
	snprintf(want, sizeof(want), "nik=%s,branch=KC-MAKASSAR,limit=1000", tok);
	assert_int_equal(saksi_query_filter_text(&s, out, sizeof(out)), SAKSI_OK);
	assert_string_equal(out, want);
	/* A Jakarta key following the Jakarta booking sees only the Jakarta entries. */
	spec_init(&s, 1);
	s.qs_value[SAKSI_IX_BOOKING] = "BK-J";
	s.qs_branch = "KC-JAKARTA";
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	assert_int_equal(r.qr_n, 2);
	assert_int_equal(r.qr_rows[0].qr_index, jkt);
	assert_int_equal(r.qr_rows[1].qr_index, jkt_claim);
	saksi_query_result_free(&r);
	saksi_ledger_abort(t);
}

static void
test_masks(void **state)
{
	static const char *const cases[][3] = {
		{ "nik", NIK1, "7371********0001" },
		{ "kpj", "12345678901", "*******8901" },
		{ "phone", PHONE1, "+6281******890" },
		{ "email", "budi@example.id", "b***@example.id" },
		{ "email", "@x", "***" },
		{ "name", "budi santoso", "B. S." },
		{ "ip", "10.1.2.3", "10.1.*.*" },
		{ "ip", "fe80::1", "fe80:*" },
		{ "device_id", "ABCDEFGHIJKL", "ABCD****IJKL" },
		{ "nik", "1234", "****" },
		{ "amount", "1000000", "***" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *m = saksi_query_mask(cases[i][0], cases[i][1]);

		assert_non_null(m);
		assert_string_equal(m, cases[i][2]);
		free(m);
	}
}

static void
test_rows_json(void **state)
{
	struct ixl *f = *state;
	saksi_ledger_txn *t;
	saksi_query_ctx c;
	saksi_query_spec s;
	saksi_query_result r, back;
	json_t *rows, *bad;
	static const char *const hostile[] = {
		"{}", "[1]", "[{}]",
		"[{\"index\":-1,\"time_ms\":1,\"type\":\"a\",\"key_id\":\"0011223344556677\","
		"\"payload\":{},\"personal\":\"\",\"forgotten\":false}]",
		"[{\"index\":1,\"time_ms\":1,\"type\":\"A\",\"key_id\":\"0011223344556677\","
		"\"payload\":{},\"personal\":\"\",\"forgotten\":false}]",
		"[{\"index\":1,\"time_ms\":1,\"type\":\"a\",\"key_id\":\"001122334455667\","
		"\"payload\":{},\"personal\":\"\",\"forgotten\":false}]",
		"[{\"index\":1,\"time_ms\":1,\"type\":\"a\",\"key_id\":\"0011223344556677\","
		"\"payload\":[],\"personal\":\"\",\"forgotten\":false}]",
		"[{\"index\":1,\"time_ms\":1,\"type\":\"a\",\"key_id\":\"0011223344556677\","
		"\"payload\":{},\"personal\":\"a\\u0000b\",\"forgotten\":false}]",
		"[{\"index\":1,\"time_ms\":1,\"type\":\"a\",\"key_id\":\"0011223344556677\","
		"\"payload\":{},\"personal\":\"\",\"forgotten\":0}]",
		"[{\"index\":1,\"time_ms\":1,\"type\":\"a\",\"key_id\":\"0011223344556677\","
		"\"payload\":{},\"personal\":\"\",\"forgotten\":false,\"x\":1}]",
	};

	fill(f);
	c = ctx_of(f, &t);
	spec_init(&s, 0);
	s.qs_value[SAKSI_IX_BRANCH] = "KC-MAKASSAR";
	assert_int_equal(saksi_query_run(&c, &s, &r), SAKSI_OK);
	saksi_ledger_abort(t);
	rows = saksi_query_rows_json(&r);
	assert_non_null(rows);
	assert_int_equal(saksi_query_rows_from_json(rows, &back), SAKSI_OK);
	assert_int_equal(back.qr_n, r.qr_n);
	for (size_t i = 0; i < r.qr_n; i++) {
		assert_int_equal(back.qr_rows[i].qr_index, r.qr_rows[i].qr_index);
		assert_int_equal(back.qr_rows[i].qr_time_ms, r.qr_rows[i].qr_time_ms);
		assert_string_equal(back.qr_rows[i].qr_type, r.qr_rows[i].qr_type);
		assert_string_equal(back.qr_rows[i].qr_key_id, r.qr_rows[i].qr_key_id);
		assert_string_equal(back.qr_rows[i].qr_personal, r.qr_rows[i].qr_personal);
		assert_true(json_equal(back.qr_rows[i].qr_payload, r.qr_rows[i].qr_payload));
	}
	json_decref(rows);
	saksi_query_result_free(&back);
	saksi_query_result_free(&r);
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		bad = json_loads(hostile[i], JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
		assert_non_null(bad);
		assert_int_equal(saksi_query_rows_from_json(bad, &back), SAKSI_ERR_FORMAT);
		assert_int_equal(back.qr_n, 0);
		assert_null(back.qr_rows);
		json_decref(bad);
	}
	assert_int_equal(saksi_query_rows_from_json(NULL, &back), SAKSI_ERR_FORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_query_masked_and_revealed, setup,
		                                ixl_teardown),
		cmocka_unit_test_setup_teardown(test_add, setup, ixl_teardown),
		cmocka_unit_test_setup_teardown(test_paging, setup, ixl_teardown),
		cmocka_unit_test_setup_teardown(test_timeline, setup, ixl_teardown),
		cmocka_unit_test_setup_teardown(test_forgotten_and_broken, setup, ixl_teardown),
		cmocka_unit_test_setup_teardown(test_not_an_event, setup, ixl_teardown),
		cmocka_unit_test_setup_teardown(test_no_index, setup, ixl_teardown),
		cmocka_unit_test_setup_teardown(test_spec_check, setup, ixl_teardown),
		cmocka_unit_test_setup_teardown(test_filter_text, setup, ixl_teardown),
		cmocka_unit_test_setup_teardown(test_branch_scope, setup, ixl_teardown),
		cmocka_unit_test_setup_teardown(test_masks, setup, ixl_teardown),
		cmocka_unit_test_setup_teardown(test_rows_json, setup, ixl_teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
