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

#include "../tests/server_fixture.h"
#include "../tests/testutil.h"
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

/* A new ledger of the fixture's log in fx.dir/name. */
static saksi_ledger *
ledger_in(const char *name)
{
	char dir[128];
	saksi_ledger *l;

	snprintf(dir, sizeof(dir), "%s/%s", fx.dir, name);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(saksi_ledger_open(dir, FX_ORIGIN, fx.vkey, NULL, &l), SAKSI_OK);
	return l;
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

/* The committer's options on l with the index key b (NULL: no indexes) and store. */
static void
commit_opts(saksid_commit_opts *co, saksi_ledger *l, const saksi_blind *b,
            const saksi_seckey *store)
{
	fx_commit_opts(co, &fx, l, 300000);
	co->co_store_key = store;
	co->co_blind = b;
}

static saksid_committer *
committer(saksi_ledger *l, const saksi_blind *b, const saksi_seckey *store)
{
	saksid_commit_opts co;
	saksid_committer *c;

	commit_opts(&co, l, b, store);
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
	saksi_ledger *l;
	saksid_committer *c;
	saksi_blind *b = blind_of(1), *b2 = blind_of(2);
	const saksid_index_stats *st;
	saksid_index_stats st2;
	saksi_ledger_txn *txn;
	MDB_dbi dbi;

	(void)state;
	l = ledger_in("ledger-a");

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
	saksi_ledger *l;
	saksid_committer *c;
	saksi_blind *b = blind_of(3);
	saksid_index_stats st;
	saksi_ledger_txn *txn;
	MDB_dbi dbi;

	(void)state;
	l = ledger_in("ledger-b");
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
	char clear[128], nik[17], *disc;
	size_t dlen;
	saksi_ledger *l;
	saksid_committer *c;
	saksi_blind *b = blind_of(1);
	saksi_seckey *other;
	saksid_index_forgot st;
	saksi_ledger_txn *txn;
	MDB_dbi dbi;

	(void)state;
	l = ledger_in("ledger-f");
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

/*
 * Commits events [from, to) of a mix, in one group: bookings (NIK of 3 people, 2
 * devices, each its own booking id) and staff logins (3 officers). seq is i + 1 for
 * both producers. With fast set the ingest workers made every item's index keys.
 */
static void
commit_mixed(saksid_committer *c, unsigned from, unsigned to, int fast)
{
	struct fx_item fis[N];
	saksid_item items[N], *ptr[N];
	char nik[17], dev[16], bk[24], off[16];

	assert_true(to - from <= N);
	for (unsigned i = from; i < to; i++) {
		unsigned k = i - from;
		char *p;

		if (i % 3 == 2) {
			const char *set[] = { "officer_id", off, NULL };

			snprintf(off, sizeof(off), "MKS-%04u", i % 4);
			p = fx_payload("staff.login", set);
			fx_build(&fx, fx.prod[FX_STAFF], "staff.login", p, i + 1, FX_NOW + i / 2,
			    &fis[k]);
		} else {
			const char *set[] = { "nik", nik, "device_id", dev, "booking_id", bk, NULL };

			nik_of(i, nik);
			snprintf(dev, sizeof(dev), "web-%u", i % 2);
			snprintf(bk, sizeof(bk), "BK-IX-%05u", i);
			p = fx_payload("queue.booking.created", set);
			fx_build(&fx, fx.prod[FX_QUEUE], "queue.booking.created", p, i + 1,
			    FX_NOW + i / 2, &fis[k]);
		}
		free(p);
		fx_frame1(&fis[k], &items[k]);
		saksid_ingest_check(fx.ig, &items[k], FX_NOW);
		assert_int_equal(items[k].it_code, SAKSI_R_ACCEPTED);
		if (fast)
			assert_non_null(items[k].it_ixk);
		else
			assert_null(items[k].it_ixk);
		ptr[k] = &items[k];
	}
	assert_int_equal(saksid_commit_group(c, ptr, to - from, FX_NOW), SAKSI_OK);
	for (unsigned k = 0; k < to - from; k++) {
		assert_int_equal(items[k].it_code, SAKSI_R_ACCEPTED);
		saksid_item_clear(&items[k]);
		assert_null(items[k].it_ixk);
		fx_item_free(&fis[k]);
	}
}

/* Every key and posting of l's index in LMDB's order (tu_db_dump). */
static uint8_t *
dump(saksi_ledger *l, size_t *len)
{
	saksi_ledger_txn *t;
	MDB_dbi dbi;
	uint8_t *out;

	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_index_open(saksi_ledger_txn_mdb(t), 0, &dbi), SAKSI_OK);
	out = tu_db_dump(saksi_ledger_txn_mdb(t), dbi, len);
	saksi_ledger_abort(t);
	return out;
}

/* Deletes l's index, then rebuilds it with the start-up catch-up (batches of 5). */
static void
rebuild(saksi_ledger *l, const saksi_blind *b, uint64_t events)
{
	saksi_ledger_txn *t;
	saksid_index_stats st;
	MDB_dbi dbi;

	assert_int_equal(saksi_ledger_begin(l, 1, &t), SAKSI_OK);
	assert_int_equal(saksi_index_open(saksi_ledger_txn_mdb(t), 0, &dbi), SAKSI_OK);
	assert_int_equal(mdb_drop(saksi_ledger_txn_mdb(t), dbi, 0), 0);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	assert_int_equal(saksid_index_catchup(l, b, fx.store, NULL, 5, &dbi, &st), SAKSI_OK);
	assert_int_equal(st.is_from, 0);
	assert_int_equal(st.is_events, events);
	assert_int_equal(st.is_undisclosed, 0);
}

/*
 * The fast path (keys made by the ingest workers, written sorted once per group) and the
 * committer's own (keys made from the item) write the same index, byte for byte, as the
 * start-up catch-up rebuilding it from the stored leaves and disclosures at rest.
 */
static void
test_fast_path_same_bytes(void **state)
{
	saksi_ledger *l, *l2;
	saksid_committer *c;
	saksi_blind *b = blind_of(4);
	uint8_t *fast, *slow, *built;
	size_t flen, slen, blen;

	(void)state;
	l = ledger_in("ledger-fast");
	l2 = ledger_in("ledger-slow");

	saksid_ingest_index(fx.ig, b);
	c = committer(l, b, fx.store);
	commit_mixed(c, 0, 12, 1);
	commit_mixed(c, 12, 13, 1);
	commit_mixed(c, 13, 24, 1);
	saksid_commit_free(c);
	saksid_ingest_index(fx.ig, NULL);
	c = committer(l2, b, fx.store);
	commit_mixed(c, 0, 7, 0);
	commit_mixed(c, 7, 19, 0);
	commit_mixed(c, 19, 24, 0);
	saksid_commit_free(c);
	assert_int_equal(by_type(l), 16);
	assert_int_equal(by_nik(l, b, 0), 8);   /* i % 3 == 0 */

	/* Same events, same leaf indexes, same tokens: the same bytes, whichever path. */
	fast = dump(l, &flen);
	slow = dump(l2, &slen);
	assert_int_equal(flen, slen);
	assert_memory_equal(fast, slow, flen);
	rebuild(l, b, 24);
	built = dump(l, &blen);
	assert_int_equal(blen, flen);
	assert_memory_equal(built, fast, flen);
	free(fast);
	free(slow);
	free(built);
	saksi_ledger_close(l);
	saksi_ledger_close(l2);
	saksi_blind_free(b);
}

static uint64_t
index_upto(saksi_ledger *l)
{
	saksi_ledger_txn *t;
	MDB_dbi dbi;
	uint64_t upto;
	uint8_t check[8];

	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_index_open(saksi_ledger_txn_mdb(t), 0, &dbi), SAKSI_OK);
	assert_int_equal(saksi_index_state(saksi_ledger_txn_mdb(t), dbi, &upto, check),
	    SAKSI_OK);
	saksi_ledger_abort(t);
	return upto;
}

/*
 * The catch-up behind the groups (co_index_background): groups commit while it runs and
 * index nothing, the index always covers exactly the entries below its mark, each step
 * takes what was committed since, and once it is done the groups index their own events.
 * The result is the index a rebuild makes, byte for byte. Stepped by hand: no timing.
 */
static void
test_background(void **state)
{
	saksi_ledger *l;
	saksid_committer *c;
	saksid_commit_opts co;
	saksi_blind *b = blind_of(5);
	uint64_t upto;
	uint8_t *live, *built;
	size_t llen, blen;
	int behind, done, steps = 0;
	saksi_err ie;

	(void)state;
	l = ledger_in("ledger-bg");
	c = committer(l, NULL, fx.store);
	commit_mixed(c, 0, 12, 0);
	/* Without indexes, none of this. */
	assert_int_equal(saksid_commit_index_progress(c, &upto, &behind, &ie), 0);
	assert_int_equal(saksid_commit_index_step(c, &done), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_commit_index_start(c), SAKSI_ERR_INVAL);
	saksid_commit_free(c);

	saksid_ingest_index(fx.ig, b);
	commit_opts(&co, l, b, fx.store);
	co.co_index_background = 1;
	co.co_index_batch = 5;
	assert_int_equal(saksid_commit_new(&co, &c), SAKSI_OK);
	assert_int_equal(saksid_commit_index_progress(c, &upto, &behind, &ie), 1);
	assert_true(behind);
	assert_int_equal(upto, 0);
	assert_int_equal(ie, SAKSI_OK);
	assert_int_equal(index_upto(l), 0);
	assert_int_equal(by_type(l), 0);

	/* Served at once: a group commits before any step, and is not indexed yet. */
	commit_mixed(c, 12, 16, 1);
	assert_int_equal(index_upto(l), 0);
	assert_int_equal(by_type(l), 0);
	assert_int_equal(saksid_commit_index_step(c, &done), SAKSI_OK);
	steps++;
	assert_false(done);
	assert_int_equal(index_upto(l), 5);
	assert_int_equal(by_type(l), 4);   /* bookings among leaves 0..4: 0, 1, 3, 4 */
	assert_int_equal(saksid_commit_index_progress(c, &upto, &behind, &ie), 1);
	assert_true(behind);
	assert_int_equal(upto, 5);
	commit_mixed(c, 16, 20, 1);
	while (!done) {
		assert_int_equal(saksid_commit_index_step(c, &done), SAKSI_OK);
		steps++;
		assert_true(steps < 10);
	}
	/* 20 leaves by 5, and the step that finds nothing left. */
	assert_int_equal(steps, 5);
	assert_int_equal(index_upto(l), 20);
	assert_int_equal(saksid_commit_index_progress(c, &upto, &behind, &ie), 1);
	assert_false(behind);
	/* Done stays done; no thread to start. */
	assert_int_equal(saksid_commit_index_step(c, &done), SAKSI_OK);
	assert_true(done);
	assert_int_equal(saksid_commit_index_start(c), SAKSI_OK);
	/* Now the groups index their own. */
	commit_mixed(c, 20, 24, 1);
	assert_int_equal(index_upto(l), 24);
	assert_int_equal(by_type(l), 16);
	/* A group that ends with a refusal summary: the mark passes it too, so a reader
	 * comparing it with the tree size sees the index whole. */
	{
		struct fx_item fi[2];
		saksid_item it[2], *ptr[2] = { &it[0], &it[1] };
		saksi_ledger_txn *t;
		char *p = fx_payload("queue.booking.created", NULL);

		for (int k = 0; k < 2; k++) {
			fx_build(&fx, fx.prod[FX_QUEUE], "queue.booking.created", p, 100 + k,
			    FX_NOW + 20, &fi[k]);
			fx_frame1(&fi[k], &it[k]);
			saksid_ingest_check(fx.ig, &it[k], FX_NOW);
			assert_int_equal(it[k].it_code, SAKSI_R_ACCEPTED);
		}
		free(p);
		it[1].it_code = SAKSI_R_SIGNATURE;   /* as if ingest had refused it */
		assert_int_equal(saksid_commit_group(c, ptr, 2, FX_NOW), SAKSI_OK);
		for (int k = 0; k < 2; k++) {
			saksid_item_clear(&it[k]);
			fx_item_free(&fi[k]);
		}
		assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
		assert_int_equal(saksi_ledger_size(t), 26);   /* the event and the summary */
		saksi_ledger_abort(t);
		assert_int_equal(index_upto(l), 26);
		assert_int_equal(by_type(l), 17);
	}
	saksid_commit_free(c);
	saksid_ingest_index(fx.ig, NULL);

	live = dump(l, &llen);
	rebuild(l, b, 25);
	built = dump(l, &blen);
	assert_int_equal(blen, llen);
	assert_memory_equal(built, live, llen);
	free(live);
	free(built);
	saksi_ledger_close(l);
	saksi_blind_free(b);
}

/* The catch-up on its own thread: started, it ends caught up, and says so once. */
struct done_seen {
	int calls;
	saksi_err e;
	uint64_t upto, events;
};

static void
on_done(void *arg, const saksid_index_stats *st, uint64_t upto, saksi_err e)
{
	struct done_seen *d = arg;

	d->calls++;
	d->e = e;
	d->upto = upto;
	d->events = st->is_events;
}

static void
test_background_thread(void **state)
{
	saksi_ledger *l;
	saksid_committer *c;
	saksid_commit_opts co;
	saksi_blind *b = blind_of(6);
	struct done_seen d = { 0, SAKSI_ERR_INVAL, 0, 0 };
	uint64_t upto;
	int behind;
	saksi_err ie;

	(void)state;
	l = ledger_in("ledger-th");
	c = committer(l, NULL, fx.store);
	commit_mixed(c, 0, 12, 0);
	commit_mixed(c, 12, 24, 0);
	saksid_commit_free(c);

	commit_opts(&co, l, b, fx.store);
	co.co_index_background = 1;
	co.co_index_batch = 1;
	co.co_index_done = on_done;
	co.co_index_arg = &d;
	assert_int_equal(saksid_commit_new(&co, &c), SAKSI_OK);
	assert_int_equal(saksid_commit_index_start(c), SAKSI_OK);
	assert_int_equal(saksid_commit_index_start(c), SAKSI_ERR_INVAL);   /* once */
	/* Groups go on meanwhile (their events are the catch-up's or their own). */
	commit_mixed(c, 24, 30, 0);
	/* Bounded wait on the condition (60 s), never on a guess of how long it takes. */
	for (int i = 0; i < 6000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		assert_int_equal(saksid_commit_index_progress(c, &upto, &behind, &ie), 1);
		assert_int_equal(ie, SAKSI_OK);
		if (!behind)
			break;
		nanosleep(&ts, NULL);
	}
	assert_false(behind);
	saksid_commit_free(c);   /* joins the thread */
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.e, SAKSI_OK);
	assert_true(d.upto >= 24);
	assert_true(d.events >= 16);
	assert_int_equal(by_type(l), 20);
	assert_int_equal(index_upto(l), 30);
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
		cmocka_unit_test(test_fast_path_same_bytes),
		cmocka_unit_test(test_background),
		cmocka_unit_test(test_background_thread),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
