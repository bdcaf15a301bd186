/*
 * indexer_test.c: the indexes as saksid keeps them: a ledger written without an index
 * key is indexed at the next start (in bounded transactions, resumable), every later
 * group indexes its own events, a changed index key rebuilds, and disclosures that do not
 * open leave only the personal fields out. Real keys, real LMDB, real ingest checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "../tests/daemon_fixture.h"
#include "commit.h"
#include "envelope.h"
#include "index.h"
#include "indexer.h"
#include "ledger.h"
#include "wire.h"

#define N 12

static struct fx fx;

static int
setup(void **state)
{
	(void)state;
	fx_init(&fx, 2);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	fx_free(&fx);
	return 0;
}

static saksi_blind *
blind_of(uint8_t fill)
{
	uint8_t key[32];
	saksi_blind *b;

	memset(key, fill, sizeof(key));
	assert_int_equal(saksi_blind_new(key, &b), SAKSI_OK);
	return b;
}

static saksid_committer *
committer(saksi_ledger *l, const saksi_blind *b, const saksi_seckey *store)
{
	saksid_commit_opts co;
	saksid_committer *c;

	memset(&co, 0, sizeof(co));
	co.co_ledger = l;
	co.co_origin = FX_ORIGIN;
	co.co_log_key = fx.log;
	co.co_store_key = store;
	co.co_max_clock_skew_ms = 300000;
	co.co_blind = b;
	assert_int_equal(saksid_commit_new(&co, &c), SAKSI_OK);
	return c;
}

static void
nik_of(unsigned i, char out[17])
{
	snprintf(out, 17, "73710141019%05u", i % 3);
}

/* Commits events [from, to): bookings whose NIK cycles through 3 people. */
static void
commit_range(saksid_committer *c, unsigned from, unsigned to)
{
	struct fx_item fis[N];
	saksid_item items[N], *ptr[N];
	char nik[17];

	assert_true(to - from <= N);
	for (unsigned i = from; i < to; i++) {
		const char *set[] = { "nik", nik, NULL };
		char *p;

		nik_of(i, nik);
		p = fx_payload("queue.booking.created", set);
		fx_build(&fx, fx.prod[FX_QUEUE], "queue.booking.created", p, i + 1,
		    FX_NOW + i, &fis[i - from]);
		free(p);
		fx_frame1(&fis[i - from], &items[i - from]);
		saksid_ingest_check(fx.ig, &items[i - from], FX_NOW);
		assert_int_equal(items[i - from].it_code, SAKSI_R_ACCEPTED);
		ptr[i - from] = &items[i - from];
	}
	assert_int_equal(saksid_commit_group(c, ptr, to - from, FX_NOW), SAKSI_OK);
	for (unsigned i = 0; i < to - from; i++) {
		assert_int_equal(items[i].it_code, SAKSI_R_ACCEPTED);
		saksid_item_clear(&items[i]);
		fx_item_free(&fis[i]);
	}
}

/* Hits for person p's NIK under b. */
static size_t
by_nik(saksi_ledger *l, const saksi_blind *b, unsigned p)
{
	char nik[17], tok[SAKSI_BLIND_TOKEN_LEN + 1];
	saksi_index_term t = { SAKSI_IX_NIK, tok };
	saksi_index_query q = { &t, 1, 0, UINT64_MAX, 0, 0 };
	saksi_index_hit h[64];
	saksi_ledger_txn *txn;
	MDB_dbi dbi;
	size_t n;
	int more;

	nik_of(p, nik);
	assert_int_equal(saksi_blind_token(b, SAKSI_BLIND_NIK, nik, 16, tok), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_index_open(saksi_ledger_txn_mdb(txn), 0, &dbi), SAKSI_OK);
	assert_int_equal(saksi_index_query_run(saksi_ledger_txn_mdb(txn), dbi, &q, h, 64, &n,
	    &more), SAKSI_OK);
	saksi_ledger_abort(txn);
	for (size_t i = 1; i < n; i++)
		assert_true(h[i].ih_index > h[i - 1].ih_index);
	return n;
}

static size_t
by_type(saksi_ledger *l)
{
	saksi_index_term t = { SAKSI_IX_TYPE, "queue.booking.created" };
	saksi_index_query q = { &t, 1, 0, UINT64_MAX, 0, 0 };
	saksi_index_hit h[64];
	saksi_ledger_txn *txn;
	MDB_dbi dbi;
	size_t n;
	int more;

	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_index_open(saksi_ledger_txn_mdb(txn), 0, &dbi), SAKSI_OK);
	assert_int_equal(saksi_index_query_run(saksi_ledger_txn_mdb(txn), dbi, &q, h, 64, &n,
	    &more), SAKSI_OK);
	saksi_ledger_abort(txn);
	return n;
}

static void
test_catchup_and_live(void **state)
{
	char dir[128];
	saksi_ledger *l;
	saksid_committer *c;
	saksi_blind *b = blind_of(1), *b2 = blind_of(2);
	const saksid_index_stats *st;
	saksid_index_stats st2;
	saksi_ledger_txn *txn;
	MDB_dbi dbi;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/ledger-a", fx.dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(saksi_ledger_open(dir, FX_ORIGIN, fx.vkey, NULL, &l), SAKSI_OK);

	/* Written without an index key: no index at all. */
	c = committer(l, NULL, fx.store);
	commit_range(c, 0, 6);
	commit_range(c, 6, 12);
	saksid_commit_free(c);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_index_open(saksi_ledger_txn_mdb(txn), 0, &dbi),
	    SAKSI_ERR_NOT_FOUND);
	saksi_ledger_abort(txn);

	/* The next start with a key indexes everything. */
	c = committer(l, b, fx.store);
	st = saksid_commit_index_stats(c);
	assert_int_equal(st->is_from, 0);
	assert_int_equal(st->is_events, 12);
	assert_int_equal(st->is_undisclosed, 0);
	assert_int_equal(st->is_reset, 0);
	assert_int_equal(by_nik(l, b, 0), 4);
	assert_int_equal(by_nik(l, b, 1), 4);
	assert_int_equal(by_type(l), 12);
	/* Live: the group's own transaction indexes its events. */
	commit_range(c, 12, 15);
	assert_int_equal(by_nik(l, b, 0), 5);
	assert_int_equal(by_type(l), 15);
	saksid_commit_free(c);

	/* Started again: nothing left to do. */
	c = committer(l, b, fx.store);
	st = saksid_commit_index_stats(c);
	assert_int_equal(st->is_events, 0);
	assert_true(st->is_from >= 15);
	saksid_commit_free(c);

	/* Another index key: rebuilt, in batches of 4 leaves. */
	assert_int_equal(saksid_index_catchup(l, b2, fx.store, NULL, 4, &dbi, &st2), SAKSI_OK);
	assert_int_equal(st2.is_reset, 1);
	assert_int_equal(st2.is_events, 15);
	assert_int_equal(by_nik(l, b2, 2), 5);
	assert_int_equal(by_nik(l, b, 0), 0);

	/* A store key that does not open the disclosures: indexed without personal fields. */
	assert_int_equal(saksid_index_catchup(l, b, fx.box, NULL, 4, &dbi, &st2), SAKSI_OK);
	assert_int_equal(st2.is_reset, 1);
	assert_int_equal(st2.is_events, 15);
	assert_int_equal(st2.is_undisclosed, 15);
	assert_int_equal(by_nik(l, b, 0), 0);
	assert_int_equal(by_type(l), 15);

	assert_int_equal(saksid_index_catchup(NULL, b, fx.store, NULL, 4, &dbi, &st2),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksid_index_catchup(l, NULL, fx.store, NULL, 4, &dbi, &st2),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksid_index_catchup(l, b, NULL, NULL, 4, &dbi, &st2), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_index_catchup(l, b, fx.store, NULL, 4, NULL, &st2), SAKSI_ERR_INVAL);

	saksi_ledger_close(l);
	saksi_blind_free(b);
	saksi_blind_free(b2);
}

/* A catch-up cut short (its mark behind what it indexed) repeats work, never duplicates. */
static void
test_resume(void **state)
{
	char dir[128];
	saksi_ledger *l;
	saksid_committer *c;
	saksi_blind *b = blind_of(3);
	saksid_index_stats st;
	saksi_ledger_txn *txn;
	MDB_dbi dbi;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/ledger-b", fx.dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(saksi_ledger_open(dir, FX_ORIGIN, fx.vkey, NULL, &l), SAKSI_OK);
	c = committer(l, b, fx.store);
	commit_range(c, 0, 9);
	saksid_commit_free(c);
	/* Move the mark back as a crash between index writes and the mark would leave it. */
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	assert_int_equal(saksi_index_open(saksi_ledger_txn_mdb(txn), 0, &dbi), SAKSI_OK);
	{
		MDB_val k = { 6, (void *)"\0state" }, v;
		uint8_t nv[16];

		assert_int_equal(mdb_get(saksi_ledger_txn_mdb(txn), dbi, &k, &v), 0);
		memcpy(nv, v.mv_data, 16);
		memset(nv, 0, 8);
		assert_int_equal(mdb_del(saksi_ledger_txn_mdb(txn), dbi, &k, NULL), 0);
		v.mv_data = nv;
		assert_int_equal(mdb_put(saksi_ledger_txn_mdb(txn), dbi, &k, &v, 0), 0);
	}
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	assert_int_equal(saksid_index_catchup(l, b, fx.store, NULL, 2, &dbi, &st), SAKSI_OK);
	assert_int_equal(st.is_from, 0);
	assert_int_equal(st.is_events, 9);
	assert_int_equal(by_nik(l, b, 0), 3);
	assert_int_equal(by_type(l), 9);
	saksi_ledger_close(l);
	saksi_blind_free(b);
}

/* The disclosures JSON array of a clear payload's personal members. */
static char *
disc_of(const char *clear, const char *const *personal, size_t np, size_t *len)
{
	char *payload, *disc;
	size_t plen;

	assert_int_equal(saksi_disclose_payload(clear, strlen(clear), personal, np, &payload,
	    &plen, &disc, len), SAKSI_OK);
	free(payload);
	return disc;
}

/*
 * A forget request's own transaction takes the participant's postings out: found through
 * his NIK, removed per entry from his opened disclosures; entries that do not open lose
 * at least their NIK posting. Others and the non-personal postings stay.
 */
static void
test_forget(void **state)
{
	static const char *const nik_only[] = { "nik" };
	static const char *const phone_only[] = { "phone" };
	char dir[128], clear[128], nik[17], *disc;
	size_t dlen;
	saksi_ledger *l;
	saksid_committer *c;
	saksi_blind *b = blind_of(1);
	saksi_seckey *other;
	saksid_index_forgot st;
	saksi_ledger_txn *txn;
	MDB_dbi dbi;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/ledger-f", fx.dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(saksi_ledger_open(dir, FX_ORIGIN, fx.vkey, NULL, &l), SAKSI_OK);
	c = committer(l, b, fx.store);
	commit_range(c, 0, 12);
	saksid_commit_free(c);
	assert_int_equal(by_nik(l, b, 0), 4);

	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	assert_int_equal(saksi_index_open(saksi_ledger_txn_mdb(txn), 0, &dbi), SAKSI_OK);
	nik_of(0, nik);
	snprintf(clear, sizeof(clear), "{\"nik\":\"%s\"}", nik);
	disc = disc_of(clear, nik_only, 1, &dlen);
	assert_int_equal(saksid_index_forget(NULL, dbi, b, fx.store, NULL, (uint8_t *)disc,
	    dlen, &st), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_index_forget(txn, dbi, NULL, fx.store, NULL, (uint8_t *)disc,
	    dlen, &st), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_index_forget(txn, dbi, b, NULL, NULL, (uint8_t *)disc, dlen,
	    &st), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_index_forget(txn, dbi, b, fx.store, NULL, NULL, 0, &st),
	    SAKSI_ERR_INVAL);
	/* Not JSON, or no nik among the disclosures: nothing to find him by. */
	assert_int_equal(saksid_index_forget(txn, dbi, b, fx.store, NULL, (uint8_t *)"[", 1,
	    &st), SAKSI_OK);
	assert_int_equal(st.if_entries, 0);
	{
		size_t pl;
		char *pd = disc_of("{\"phone\":\"081234567890\"}", phone_only, 1, &pl);

		assert_int_equal(saksid_index_forget(txn, dbi, b, fx.store, NULL, (uint8_t *)pd,
		    pl, &st), SAKSI_OK);
		assert_int_equal(st.if_entries, 0);
		free(pd);
	}
	assert_int_equal(saksid_index_forget(txn, dbi, b, fx.store, NULL, (uint8_t *)disc,
	    dlen, &st), SAKSI_OK);
	assert_int_equal(st.if_entries, 4);
	assert_int_equal(st.if_unopened, 0);
	assert_true(st.if_postings >= 4);
	free(disc);

	/* Person 1's entries do not open with another store key: their NIK postings go
	 * all the same (the key's drop). */
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SYM, &other), SAKSI_OK);
	nik_of(1, nik);
	snprintf(clear, sizeof(clear), "{\"nik\":\"%s\"}", nik);
	disc = disc_of(clear, nik_only, 1, &dlen);
	assert_int_equal(saksid_index_forget(txn, dbi, b, other, NULL, (uint8_t *)disc, dlen,
	    &st), SAKSI_OK);
	assert_int_equal(st.if_entries, 4);
	assert_int_equal(st.if_unopened, 4);
	assert_int_equal(st.if_postings, 4);
	assert_int_equal(saksid_index_forget(txn, dbi, b, other, NULL, (uint8_t *)disc, dlen,
	    &st), SAKSI_OK);
	assert_int_equal(st.if_entries, 0);   /* the first call took them all */
	free(disc);
	saksi_seckey_free(other);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);

	assert_int_equal(by_nik(l, b, 0), 0);
	assert_int_equal(by_nik(l, b, 1), 0);
	assert_int_equal(by_nik(l, b, 2), 4);
	assert_int_equal(by_type(l), 12);
	saksi_ledger_close(l);
	saksi_blind_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catchup_and_live),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_forget),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
