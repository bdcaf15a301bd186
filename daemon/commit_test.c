/*
 * commit_test.c: the committer on a real LMDB ledger in a temporary directory:
 * receipts that verify offline, duplicates, equivocation, replay and clock skew (also
 * inside one group), refusal summaries, one checkpoint per group, a full map that
 * writes nothing, disclosures that are only ever stored sealed, and acks and re-raises
 * of alerts on a clock the test gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>

#include "../tests/server_fixture.h"
#include "../tests/ledger_fixture.h"
#include "bytes.h"
#include "commit.h"
#include "verify.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"
#include "wire.h"

#define SKEW 300000

static struct fx fx;
static unsigned ledger_no;
static const saksi_blind *lc_blind;   /* given to committers lc_open makes */
static int lc_sock = -1;              /* their alerts PUB socket, -1 for none */
static uint64_t lc_ack_timeout;       /* their re-raise timeout, ms */
static uint64_t lc_ref_window, lc_ref_threshold; /* their refusal alerts, 0: none */
static int lc_sync_later;             /* lo_meta_async and co_sync_later */

struct lc {
	char dir[128];
	saksi_ledger *l;
	saksid_committer *c;
};

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

static void
lc_open_opts(struct lc *lc, size_t map_size, uint64_t event_age_ms)
{
	saksi_ledger_opts o;
	saksid_commit_opts co;

	snprintf(lc->dir, sizeof(lc->dir), "%s/ledger-%u", fx.dir, ledger_no++);
	assert_int_equal(mkdir(lc->dir, 0700), 0);
	memset(&o, 0, sizeof(o));
	o.lo_map_size = map_size;
	o.lo_meta_async = lc_sync_later;
	assert_int_equal(saksi_ledger_open(lc->dir, FX_ORIGIN, fx.vkey, &o, &lc->l), SAKSI_OK);
	memset(&co, 0, sizeof(co));
	co.co_sync_later = lc_sync_later;
	co.co_ledger = lc->l;
	co.co_origin = FX_ORIGIN;
	co.co_log_key = fx.log;
	co.co_store_key = fx.store;
	co.co_max_clock_skew_ms = SKEW;
	co.co_blind = lc_blind;
	co.co_alerts_on = lc_sock >= 0;
	co.co_alerts_sock = lc_sock;
	co.co_ack_timeout_ms = lc_ack_timeout;
	co.co_refusal_window_ms = lc_ref_window;
	co.co_refusal_threshold = lc_ref_threshold;
	co.co_max_event_age_ms = event_age_ms;
	assert_int_equal(saksid_commit_new(&co, &lc->c), SAKSI_OK);
}

static void
lc_open(struct lc *lc, size_t map_size)
{
	lc_open_opts(lc, map_size, 0);
}

static void
lc_close(struct lc *lc)
{
	saksid_commit_free(lc->c);
	saksi_ledger_close(lc->l);
}

static uint64_t
lc_size(struct lc *lc)
{
	return lf_size(lc->l);
}

/* Number of stored checkpoints and the latest size. */
static size_t
lc_checkpoints(struct lc *lc, uint64_t *latest)
{
	saksi_ledger_txn *t;
	uint64_t after = 0, size;
	char *note;
	size_t len, n = 0;

	*latest = 0;
	assert_int_equal(saksi_ledger_begin(lc->l, 0, &t), SAKSI_OK);
	while (saksi_ledger_ckpt_next(t, after, &size, &note, &len) == SAKSI_OK) {
		saksi_checkpoint ck;
		assert_int_equal(saksi_checkpoint_open(note, len, &fx.v, &ck), SAKSI_OK);
		assert_int_equal(ck.ck_size, size);
		free(note);
		n++;
		after = *latest = size;
	}
	saksi_ledger_abort(t);
	return n;
}

/* Runs fis through the ingest checks and one commit group at now. */
static saksi_err
run(struct lc *lc, struct fx_item *fis, size_t n, saksid_item *items, uint64_t now)
{
	saksid_item *ptr[64];

	assert_true(n <= 64);
	for (size_t i = 0; i < n; i++) {
		fx_frame1(&fis[i], &items[i]);
		saksid_ingest_check(fx.ig, &items[i], now);
		ptr[i] = &items[i];
	}
	return saksid_commit_group(lc->c, ptr, n, now);
}

static void
clear(saksid_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		saksid_item_clear(&items[i]);
}

/* Verifies an item's receipt offline: leaf = extra || envelope. Returns the checkpoint
 * size it proves against. */
static uint64_t
verify_receipt(struct lc *lc, const saksid_item *it, const struct fx_item *fi)
{
	saksi_tlog_proof *p = calloc(1, sizeof(*p));
	saksi_checkpoint ck;
	saksi_hash h;
	uint8_t *leaf;

	assert_true(it->it_code == SAKSI_R_ACCEPTED || it->it_code == SAKSI_R_DUPLICATE);
	assert_int_equal(saksi_tlog_proof_parse(saksid_commit_receipt(lc->c, it),
	                                        it->it_receipt_len, p), SAKSI_OK);
	assert_int_equal(p->tp_index, it->it_index);
	assert_true(p->tp_has_extra);
	assert_int_equal(p->tp_extra_len, SAKSI_LEAF_HDR);
	leaf = malloc(SAKSI_LEAF_HDR + fi->env_len);
	memcpy(leaf, p->tp_extra, SAKSI_LEAF_HDR);
	memcpy(leaf + SAKSI_LEAF_HDR, fi->env, fi->env_len);
	saksi_merkle_leaf_hash(h, leaf, SAKSI_LEAF_HDR + fi->env_len);
	assert_int_equal(saksi_tlog_proof_verify(p, &fx.v, h, &ck), SAKSI_OK);
	/* The same proof does not verify for other bytes. */
	leaf[SAKSI_LEAF_HDR + fi->env_len - 1] ^= 1;
	saksi_merkle_leaf_hash(h, leaf, SAKSI_LEAF_HDR + fi->env_len);
	assert_int_equal(saksi_tlog_proof_verify(p, &fx.v, h, NULL), SAKSI_ERR_PROOF);
	free(leaf);
	free(p);
	return ck.ck_size;
}

/* Reads leaf index and checks it is a refusal summary; returns its entry count and
 * copies up to max entries' (key id, reason, count). */
static size_t
read_summary(struct lc *lc, uint64_t index, uint8_t ids[][8], int *reasons, uint32_t *counts,
             size_t max)
{
	saksi_ledger_txn *t;
	saksi_leaf lf;
	uint8_t *leaf;
	size_t len, n;

	assert_int_equal(saksi_ledger_begin(lc->l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(t, index, &leaf, &len), SAKSI_OK);
	saksi_ledger_abort(t);
	assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
	assert_int_equal(lf.lf_kind, SAKSI_LEAF_REFUSALS);
	assert_int_equal(lf.lf_commit_ms, FX_NOW);
	n = saksi_get_u16(lf.lf_body);
	assert_int_equal(lf.lf_body_len, 2 + 29 * n);
	for (size_t i = 0; i < n && i < max; i++) {
		const uint8_t *e = lf.lf_body + 2 + 29 * i;
		memcpy(ids[i], e, 8);
		reasons[i] = e[8];
		counts[i] = saksi_get_u32(e + 9);
		assert_int_equal(saksi_get_u64(e + 13), FX_NOW);   /* first: it_recv_ms */
		assert_int_equal(saksi_get_u64(e + 21), FX_NOW);   /* last */
	}
	free(leaf);
	return n;
}

/* The refusal counter of (reason, key id). */
static uint64_t
stat_of(struct lc *lc, int reason, const uint8_t *id)
{
	saksi_ledger_txn *t;
	uint64_t n = 0;

	assert_int_equal(saksi_ledger_begin(lc->l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_stat_get(t, reason, id, &n), SAKSI_OK);
	saksi_ledger_abort(t);
	return n;
}

static void
test_accept_and_receipts(void **state)
{
	struct lc lc;
	struct fx_item fi[3];
	saksid_item it[3];
	saksi_ledger_txn *t;
	saksi_leaf lf;
	saksi_hash empty;
	uint8_t *leaf;
	size_t len;
	uint64_t latest;
	(void)state;

	lc_open(&lc, 0);
	/* A new ledger has a signed checkpoint of the empty tree from the start. */
	{
		char *note;
		size_t nlen, tlen;
		saksi_checkpoint ck;
		assert_int_equal(saksi_ledger_begin(lc.l, 0, &t), SAKSI_OK);
		assert_int_equal(saksi_ledger_ckpt_latest(t, &latest, &note, &nlen), SAKSI_OK);
		saksi_ledger_abort(t);
		assert_int_equal(latest, 0);
		tlen = (size_t)(strstr(note, "\n\n") - note) + 1;
		assert_int_equal(saksi_checkpoint_parse(note, tlen, &ck), SAKSI_OK);
		assert_int_equal(ck.ck_size, 0);
		saksi_merkle_empty_root(empty);
		assert_memory_equal(ck.ck_root, empty, 32);
		free(note);
	}
	for (int i = 0; i < 3; i++)
		fx_booking(&fx, FX_QUEUE, (uint64_t)i + 1, FX_NOW - 1000, &fi[i]);
	assert_int_equal(run(&lc, fi, 3, it, FX_NOW), SAKSI_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(it[i].it_code, SAKSI_R_ACCEPTED);
		assert_int_equal(it[i].it_index, i);
		assert_int_equal(verify_receipt(&lc, &it[i], &fi[i]), 3);
	}
	assert_int_equal(saksid_commit_size(lc.c), 3);
	assert_int_equal(saksid_commit_appended(lc.c), 3);
	assert_int_equal(lc_checkpoints(&lc, &latest), 1);
	assert_int_equal(latest, 3);

	/* Leaf 0 as FORMATS.md 4 says. */
	assert_int_equal(saksi_ledger_begin(lc.l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(t, 0, &leaf, &len), SAKSI_OK);
	saksi_ledger_abort(t);
	assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
	assert_int_equal(lf.lf_kind, SAKSI_LEAF_EVENT);
	assert_int_equal(lf.lf_commit_ms, FX_NOW);
	saksi_merkle_empty_root(empty);
	assert_memory_equal(lf.lf_prev_root, empty, 32);
	assert_int_equal(lf.lf_body_len, fi[0].env_len);
	assert_memory_equal(lf.lf_body, fi[0].env, fi[0].env_len);
	free(leaf);

	/* A second group: one more checkpoint; the old receipts stay valid. */
	clear(it, 3);
	fx_item_free(&fi[0]);
	fx_booking(&fx, FX_QUEUE, 4, FX_NOW, &fi[0]);
	assert_int_equal(run(&lc, fi, 1, it, FX_NOW), SAKSI_OK);
	assert_int_equal(it[0].it_index, 3);
	assert_int_equal(verify_receipt(&lc, &it[0], &fi[0]), 4);
	assert_int_equal(lc_checkpoints(&lc, &latest), 2);
	assert_int_equal(latest, 4);
	clear(it, 1);
	for (int i = 0; i < 3; i++)
		fx_item_free(&fi[i]);
	lc_close(&lc);
}

static void test_rules(void **state);

static void
test_duplicate(void **state)
{
	struct lc lc;
	struct fx_item fi[3];
	saksid_item it[3];
	uint64_t latest;
	(void)state;

	lc_open(&lc, 0);
	fx_booking(&fx, FX_QUEUE, 1, FX_NOW, &fi[0]);
	fx_booking(&fx, FX_QUEUE, 2, FX_NOW, &fi[1]);
	char *first;

	assert_int_equal(run(&lc, fi, 2, it, FX_NOW), SAKSI_OK);
	assert_int_equal(it[1].it_index, 1);
	first = strndup(saksid_commit_receipt(lc.c, &it[1]), it[1].it_receipt_len);
	assert_non_null(first);
	clear(it, 2);

	/* The same bytes again, alone: the same receipt, byte for byte, and nothing
	 * written. Also long after (no clock skew for duplicates). */
	assert_int_equal(run(&lc, &fi[1], 1, it, FX_NOW + 10 * SKEW), SAKSI_OK);
	assert_int_equal(it[0].it_code, SAKSI_R_DUPLICATE);
	assert_int_equal(it[0].it_index, 1);
	assert_int_equal(verify_receipt(&lc, &it[0], &fi[1]), 2);
	assert_int_equal(it[0].it_receipt_len, strlen(first));
	assert_memory_equal(saksid_commit_receipt(lc.c, &it[0]), first, strlen(first));
	free(first);
	assert_int_equal(saksid_commit_appended(lc.c), 0);
	assert_int_equal(lc_size(&lc), 2);
	assert_int_equal(lc_checkpoints(&lc, &latest), 1);
	clear(it, 1);

	/* Inside one group: the second copy is a duplicate of the first. */
	fx_booking(&fx, FX_QUEUE, 3, FX_NOW, &fi[2]);
	{
		struct fx_item g[3] = { fi[2], fi[2], fi[0] };
		assert_int_equal(run(&lc, g, 3, it, FX_NOW), SAKSI_OK);
		assert_int_equal(it[0].it_code, SAKSI_R_ACCEPTED);
		assert_int_equal(it[1].it_code, SAKSI_R_DUPLICATE);
		assert_int_equal(it[2].it_code, SAKSI_R_DUPLICATE);
		assert_int_equal(it[0].it_index, 2);
		assert_int_equal(it[1].it_index, 2);
		assert_int_equal(it[2].it_index, 0);
		assert_int_equal(verify_receipt(&lc, &it[1], &fi[2]), 3);
		/* Proved to the checkpoint of the group that committed it (size 2). */
		assert_int_equal(verify_receipt(&lc, &it[2], &fi[0]), 2);
	}
	assert_int_equal(lc_size(&lc), 3);
	clear(it, 3);
	for (int i = 0; i < 3; i++)
		fx_item_free(&fi[i]);
	lc_close(&lc);
}

static void
test_equivocation_and_replay(void **state)
{
	struct lc lc;
	struct fx_item fi[9];
	saksid_item it[9];
	uint8_t ids[4][8];
	int reasons[4];
	uint32_t counts[4];
	uint64_t latest;
	const uint8_t *qid = saksi_seckey_id(fx.prod[FX_QUEUE]);
	(void)state;

	lc_open(&lc, 0);
	fx_booking(&fx, FX_QUEUE, 10, FX_NOW, &fi[0]);
	fx_booking(&fx, FX_QUEUE, 20, FX_NOW, &fi[1]);
	assert_int_equal(run(&lc, fi, 2, it, FX_NOW), SAKSI_OK);
	clear(it, 2);

	fx_booking(&fx, FX_QUEUE, 20, FX_NOW + 1, &fi[2]);   /* seq 20, other bytes */
	fx_booking(&fx, FX_QUEUE, 15, FX_NOW, &fi[3]);       /* below the last seq */
	fx_booking(&fx, FX_QUEUE, 21, FX_NOW, &fi[4]);
	assert_int_equal(run(&lc, &fi[2], 3, it, FX_NOW), SAKSI_OK);
	assert_int_equal(it[0].it_code, SAKSI_R_EQUIVOCATION);
	assert_non_null(strstr(it[0].it_msg, "other bytes"));
	assert_int_equal(it[1].it_code, SAKSI_R_REPLAY);
	assert_non_null(strstr(it[1].it_msg, "not above"));
	assert_int_equal(it[2].it_code, SAKSI_R_ACCEPTED);
	assert_int_equal(it[2].it_index, 2);
	/* One summary leaf after the accepted event, one checkpoint covering both. */
	assert_int_equal(lc_size(&lc), 4);
	assert_int_equal(verify_receipt(&lc, &it[2], &fi[4]), 4);
	assert_int_equal(read_summary(&lc, 3, ids, reasons, counts, 4), 2);
	assert_memory_equal(ids[0], qid, 8);
	assert_int_equal(reasons[0], SAKSI_R_EQUIVOCATION);
	assert_int_equal(counts[0], 1);
	assert_memory_equal(ids[1], qid, 8);
	assert_int_equal(reasons[1], SAKSI_R_REPLAY);
	assert_int_equal(counts[1], 1);
	assert_int_equal(lc_checkpoints(&lc, &latest), 2);
	assert_int_equal(latest, 4);
	assert_int_equal(stat_of(&lc, SAKSI_R_EQUIVOCATION, qid), 1);
	assert_int_equal(stat_of(&lc, SAKSI_R_REPLAY, qid), 1);
	clear(it, 3);

	/* Inside one group: seq 31 twice with other bytes, then 33 before 32. */
	fx_booking(&fx, FX_QUEUE, 31, FX_NOW, &fi[5]);
	fx_booking(&fx, FX_QUEUE, 31, FX_NOW + 5, &fi[6]);
	fx_booking(&fx, FX_QUEUE, 33, FX_NOW, &fi[7]);
	fx_booking(&fx, FX_QUEUE, 32, FX_NOW, &fi[8]);
	assert_int_equal(run(&lc, &fi[5], 4, it, FX_NOW), SAKSI_OK);
	assert_int_equal(it[0].it_code, SAKSI_R_ACCEPTED);
	assert_int_equal(it[1].it_code, SAKSI_R_EQUIVOCATION);
	assert_int_equal(it[2].it_code, SAKSI_R_ACCEPTED);
	assert_int_equal(it[3].it_code, SAKSI_R_REPLAY);
	assert_int_equal(it[0].it_index, 4);
	assert_int_equal(it[2].it_index, 5);
	assert_int_equal(lc_size(&lc), 7);
	assert_int_equal(read_summary(&lc, 6, ids, reasons, counts, 4), 2);
	assert_int_equal(reasons[0], SAKSI_R_EQUIVOCATION);
	assert_int_equal(reasons[1], SAKSI_R_REPLAY);
	assert_int_equal(verify_receipt(&lc, &it[0], &fi[5]), 7);
	assert_int_equal(verify_receipt(&lc, &it[2], &fi[7]), 7);
	clear(it, 4);
	for (int i = 0; i < 9; i++)
		fx_item_free(&fi[i]);
	lc_close(&lc);
}

static void
test_clock_skew(void **state)
{
	struct lc lc;
	struct fx_item fi[4];
	saksid_item it[4];
	(void)state;

	lc_open(&lc, 0);
	fx_booking(&fx, FX_QUEUE, 1, FX_NOW - SKEW - 1, &fi[0]);
	fx_booking(&fx, FX_QUEUE, 2, FX_NOW + SKEW + 1, &fi[1]);
	fx_booking(&fx, FX_QUEUE, 3, FX_NOW - SKEW, &fi[2]);
	fx_booking(&fx, FX_QUEUE, 4, FX_NOW + SKEW, &fi[3]);
	assert_int_equal(run(&lc, fi, 4, it, FX_NOW), SAKSI_OK);
	assert_int_equal(it[0].it_code, SAKSI_R_CLOCK_SKEW);
	assert_non_null(strstr(it[0].it_msg, "tolerance"));
	assert_int_equal(it[1].it_code, SAKSI_R_CLOCK_SKEW);
	assert_int_equal(it[2].it_code, SAKSI_R_ACCEPTED);
	assert_int_equal(it[3].it_code, SAKSI_R_ACCEPTED);
	assert_int_equal(lc_size(&lc), 3);   /* two events and the summary */
	clear(it, 4);
	lc_close(&lc);
	/* With an age bound, old events are taken up to it; the future stays at the skew. */
	lc_open_opts(&lc, 0, 4 * SKEW);
	fx_item_free(&fi[0]);
	fx_item_free(&fi[1]);
	fx_item_free(&fi[2]);
	fx_item_free(&fi[3]);
	fx_booking(&fx, FX_QUEUE, 1, FX_NOW - 4 * SKEW - 1, &fi[0]);
	fx_booking(&fx, FX_QUEUE, 2, FX_NOW + SKEW + 1, &fi[1]);
	fx_booking(&fx, FX_QUEUE, 3, FX_NOW - 4 * SKEW, &fi[2]);
	fx_booking(&fx, FX_QUEUE, 4, FX_NOW - 2 * SKEW, &fi[3]);
	assert_int_equal(run(&lc, fi, 4, it, FX_NOW), SAKSI_OK);
	assert_int_equal(it[0].it_code, SAKSI_R_CLOCK_SKEW);
	assert_non_null(strstr(it[0].it_msg, "behind"));
	assert_int_equal(it[1].it_code, SAKSI_R_CLOCK_SKEW);
	assert_non_null(strstr(it[1].it_msg, "ahead of"));
	assert_int_equal(it[2].it_code, SAKSI_R_ACCEPTED);
	assert_int_equal(it[3].it_code, SAKSI_R_ACCEPTED);
	clear(it, 4);
	/* A refused seq is not used up: seq 5 well in time goes in. */
	fx_item_free(&fi[0]);
	fx_booking(&fx, FX_QUEUE, 5, FX_NOW, &fi[0]);
	assert_int_equal(run(&lc, fi, 1, it, FX_NOW), SAKSI_OK);
	assert_int_equal(it[0].it_code, SAKSI_R_ACCEPTED);
	clear(it, 1);
	for (int i = 0; i < 4; i++)
		fx_item_free(&fi[i]);
	lc_close(&lc);
}

static void
test_ingest_refusals_summarized(void **state)
{
	struct lc lc;
	struct fx_item fi[5];
	saksid_item it[5];
	saksi_seckey *stranger = fx_key(fx.seed, "stranger", SAKSI_KEY_SIGN);
	char *p = fx_payload("queue.booking.created", NULL);
	uint8_t ids[4][8];
	int reasons[4];
	uint32_t counts[4];
	uint64_t latest;
	(void)state;

	lc_open(&lc, 0);
	fx_booking(&fx, FX_QUEUE, 1, FX_NOW, &fi[0]);
	fx_booking(&fx, FX_QUEUE, 2, FX_NOW, &fi[1]);
	fi[1].env[fi[1].env_len - 1] ^= 1;
	fx_build(&fx, stranger, "queue.booking.created", p, 1, FX_NOW, &fi[2]);
	fx_booking(&fx, FX_QUEUE, 3, FX_NOW, &fi[3]);
	fi[3].env[fi[3].env_len - 1] ^= 1;
	fx_booking(&fx, FX_QUEUE, 4, FX_NOW, &fi[4]);
	assert_int_equal(run(&lc, fi, 5, it, FX_NOW), SAKSI_OK);
	assert_int_equal(it[0].it_code, SAKSI_R_ACCEPTED);
	assert_int_equal(it[1].it_code, SAKSI_R_SIGNATURE);
	assert_int_equal(it[2].it_code, SAKSI_R_UNKNOWN_KEY);
	assert_int_equal(it[3].it_code, SAKSI_R_SIGNATURE);
	assert_int_equal(it[4].it_code, SAKSI_R_ACCEPTED);
	assert_int_equal(it[4].it_index, 1);
	assert_int_equal(lc_size(&lc), 3);
	assert_int_equal(read_summary(&lc, 2, ids, reasons, counts, 4), 2);
	assert_memory_equal(ids[0], saksi_seckey_id(fx.prod[FX_QUEUE]), 8);
	assert_int_equal(reasons[0], SAKSI_R_SIGNATURE);
	assert_int_equal(counts[0], 2);
	assert_memory_equal(ids[1], saksi_seckey_id(stranger), 8);
	assert_int_equal(reasons[1], SAKSI_R_UNKNOWN_KEY);
	assert_int_equal(counts[1], 1);
	assert_int_equal(verify_receipt(&lc, &it[4], &fi[4]), 3);
	clear(it, 5);

	/* An item the daemon itself could not check (unavailable) is answered as such and
	 * is not the producer's refusal: no summary, nothing written. */
	fx_frame1(&fi[0], &it[0]);
	it[0].it_code = SAKSI_R_UNAVAILABLE;
	{
		saksid_item *ptr = &it[0];
		assert_int_equal(saksid_commit_group(lc.c, &ptr, 1, FX_NOW), SAKSI_OK);
	}
	assert_int_equal(it[0].it_code, SAKSI_R_UNAVAILABLE);
	assert_int_equal(saksid_commit_appended(lc.c), 0);
	assert_int_equal(lc_size(&lc), 3);

	/* A group of refusals only: a summary and a checkpoint, no receipts. */
	assert_int_equal(run(&lc, &fi[1], 2, it, FX_NOW), SAKSI_OK);
	assert_int_equal(lc_size(&lc), 4);
	assert_int_equal(read_summary(&lc, 3, ids, reasons, counts, 4), 2);
	assert_int_equal(lc_checkpoints(&lc, &latest), 2);
	assert_int_equal(latest, 4);
	clear(it, 2);
	/* The counters add up over groups; unavailable is not counted. */
	assert_int_equal(stat_of(&lc, SAKSI_R_SIGNATURE, saksi_seckey_id(fx.prod[FX_QUEUE])), 3);
	assert_int_equal(stat_of(&lc, SAKSI_R_UNKNOWN_KEY, saksi_seckey_id(stranger)), 2);
	assert_int_equal(stat_of(&lc, SAKSI_R_UNAVAILABLE, saksi_seckey_id(fx.prod[FX_QUEUE])), 0);
	for (int i = 0; i < 5; i++)
		fx_item_free(&fi[i]);
	saksi_seckey_free(stranger);
	free(p);
	lc_close(&lc);
}

/* The LMDB data file of a ledger directory. */
static void
data_file(const struct lc *lc, char *out, size_t outlen)
{
	struct stat st;

	snprintf(out, outlen, "%s/data.mdb", lc->dir);
	assert_int_equal(stat(out, &st), 0);
	assert_true(st.st_size > 0);
}

static void
test_disclosures_at_rest(void **state)
{
	static const char *const personal[] = { "7371054507880003", "18045213577",
		"SITI RAHMAWATI", "+6281242317765", "siti.rahmawati88@gmail.com",
		"web-5b1e0c9d77a24f31", "114.125.34.17" };
	struct lc lc;
	struct fx_item fi[2];
	saksid_item it[2];
	saksi_ledger_txn *t;
	uint8_t *blob, *leaf, *plain;
	size_t blen, llen, plen;
	saksi_hash lh;
	saksi_seckey *other = fx_key(fx.seed, "other-store", SAKSI_KEY_SYM);
	char path[256];
	char *p = fx_payload("queue.slot.opened", NULL);
	(void)state;

	lc_open(&lc, 0);
	fx_booking(&fx, FX_QUEUE, 1, FX_NOW, &fi[0]);
	fx_build(&fx, fx.prod[FX_QUEUE], "queue.slot.opened", p, 2, FX_NOW, &fi[1]);
	assert_int_equal(run(&lc, fi, 2, it, FX_NOW), SAKSI_OK);
	assert_int_equal(it[0].it_code, SAKSI_R_ACCEPTED);
	assert_int_equal(it[1].it_code, SAKSI_R_ACCEPTED);

	assert_int_equal(saksi_ledger_begin(lc.l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_disc_get(t, 0, &blob, &blen), SAKSI_OK);
	/* No personal field, nothing stored. */
	assert_int_equal(saksi_ledger_disc_get(t, 1, &plain, &plen), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_ledger_leaf(t, 0, &leaf, &llen), SAKSI_OK);
	saksi_ledger_abort(t);
	saksi_merkle_leaf_hash(lh, leaf, llen);
	free(leaf);

	assert_int_equal(blob[0], 1);
	assert_int_equal(blob[1], 1);
	assert_memory_equal(blob + 2, saksi_seckey_id(fx.store), 8);
	assert_int_equal(blen, SAKSID_DISC_OVERHEAD + fi[0].disc_len);
	assert_int_equal(saksid_disc_open(fx.store, 0, lh, blob, blen, &plain, &plen), SAKSI_OK);
	assert_int_equal(plen, fi[0].disc_len);
	assert_memory_equal(plain, fi[0].disc, plen);
	free(plain);
	/* Bound to its index and leaf hash, and to the store key. */
	assert_int_equal(saksid_disc_open(fx.store, 1, lh, blob, blen, &plain, &plen),
	                 SAKSI_ERR_DECRYPT);
	lh[0] ^= 1;
	assert_int_equal(saksid_disc_open(fx.store, 0, lh, blob, blen, &plain, &plen),
	                 SAKSI_ERR_DECRYPT);
	lh[0] ^= 1;
	assert_int_equal(saksid_disc_open(other, 0, lh, blob, blen, &plain, &plen), SAKSI_ERR_KEY);
	assert_int_equal(saksid_disc_open(fx.log, 0, lh, blob, blen, &plain, &plen), SAKSI_ERR_KEY);
	blob[blen - 1] ^= 1;
	assert_int_equal(saksid_disc_open(fx.store, 0, lh, blob, blen, &plain, &plen),
	                 SAKSI_ERR_DECRYPT);
	blob[0] = 2;
	assert_int_equal(saksid_disc_open(fx.store, 0, lh, blob, blen, &plain, &plen),
	                 SAKSI_ERR_VERSION);
	assert_int_equal(saksid_disc_open(fx.store, 0, lh, blob, SAKSID_DISC_OVERHEAD - 1, &plain,
	                                  &plen), SAKSI_ERR_FORMAT);
	free(blob);

	/* Never in clear on disk: none of the personal values is in the LMDB file. */
	clear(it, 2);
	lc_close(&lc);
	data_file(&lc, path, sizeof(path));
	assert_int_equal(fx_file_contains(path, FX_ORIGIN), 1);   /* the grep works */
	for (size_t i = 0; i < sizeof(personal) / sizeof(personal[0]); i++) {
		if (fx_file_contains(path, personal[i]) != 0)
			fail_msg("personal value %zu found in clear in %s", i, path);
	}
	for (int i = 0; i < 2; i++)
		fx_item_free(&fi[i]);
	saksi_seckey_free(other);
	free(p);
}

static void
test_map_full(void **state)
{
	struct lc lc;
	struct fx_item fi[16], keep;
	saksid_item it[16];
	uint64_t seq = 1, before = 0, latest_before = 0, latest;
	size_t ck_before = 0;
	saksi_err e = SAKSI_OK;
	int groups;
	(void)state;

	lc_open(&lc, 256 * 1024);
	fx_booking(&fx, FX_QUEUE, seq++, FX_NOW, &keep);
	assert_int_equal(run(&lc, &keep, 1, it, FX_NOW), SAKSI_OK);
	clear(it, 1);
	for (groups = 0; groups < 2000; groups++) {
		before = lc_size(&lc);
		ck_before = lc_checkpoints(&lc, &latest_before);
		for (int i = 0; i < 16; i++)
			fx_booking(&fx, FX_QUEUE, seq++, FX_NOW, &fi[i]);
		e = run(&lc, fi, 16, it, FX_NOW);
		if (e != SAKSI_OK)
			break;
		clear(it, 16);
		for (int i = 0; i < 16; i++)
			fx_item_free(&fi[i]);
	}
	assert_int_equal(e, SAKSI_ERR_FULL);
	printf("# map full after %d groups, %llu leaves\n", groups, (unsigned long long)before);
	assert_true(before > 0);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(it[i].it_code, SAKSI_R_UNAVAILABLE);
		assert_non_null(strstr(it[i].it_msg, "full"));
	}
	assert_int_equal(saksid_commit_appended(lc.c), 0);
	/* Nothing of the failed group is in the ledger. */
	assert_int_equal(lc_size(&lc), before);
	assert_int_equal(lc_checkpoints(&lc, &latest), ck_before);
	assert_int_equal(latest, latest_before);
	{
		saksi_ledger_txn *t;
		uint8_t *blob;
		size_t blen;
		uint64_t idx, last;
		saksi_hash h;

		assert_int_equal(saksi_ledger_begin(lc.l, 0, &t), SAKSI_OK);
		assert_int_equal(saksi_ledger_disc_get(t, before, &blob, &blen), SAKSI_ERR_NOT_FOUND);
		assert_int_equal(saksi_ledger_seq_get(t, saksi_seckey_id(fx.prod[FX_QUEUE]),
		                                      seq - 1, &idx, h), SAKSI_ERR_NOT_FOUND);
		assert_int_equal(saksi_ledger_seq_last(t, saksi_seckey_id(fx.prod[FX_QUEUE]),
		                                       &last), SAKSI_OK);
		assert_int_equal(last, seq - 17);
		saksi_ledger_abort(t);
	}
	/* Duplicates of what is in still get their receipts from a full ledger. */
	clear(it, 16);
	for (int i = 0; i < 16; i++)
		fx_item_free(&fi[i]);
	assert_int_equal(run(&lc, &keep, 1, it, FX_NOW), SAKSI_OK);
	assert_int_equal(it[0].it_code, SAKSI_R_DUPLICATE);
	assert_int_equal(it[0].it_index, 0);
	/* Its original receipt: against the checkpoint of its own group (size 1). */
	assert_int_equal(verify_receipt(&lc, &it[0], &keep), 1);
	clear(it, 1);
	fx_item_free(&keep);
	lc_close(&lc);
}

static void
test_errors(void **state)
{
	struct lc lc;
	saksid_commit_opts co;
	saksid_committer *c;
	saksid_item it, *ptr = &it;
	uint8_t out[128], *plain;
	size_t w, plen;
	saksi_hash lh;
	char longname[300];
	(void)state;

	lc_open(&lc, 0);
	memset(&co, 0, sizeof(co));
	co.co_ledger = lc.l;
	co.co_origin = FX_ORIGIN;
	co.co_log_key = fx.store;
	co.co_store_key = fx.store;
	assert_int_equal(saksid_commit_new(&co, &c), SAKSI_ERR_KEY);
	co.co_log_key = fx.log;
	co.co_store_key = fx.log;
	assert_int_equal(saksid_commit_new(&co, &c), SAKSI_ERR_KEY);
	co.co_store_key = NULL;
	assert_int_equal(saksid_commit_new(&co, &c), SAKSI_ERR_KEY);
	co.co_store_key = fx.store;
	co.co_origin = "";
	assert_int_equal(saksid_commit_new(&co, &c), SAKSI_ERR_INVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	co.co_origin = longname;
	assert_int_equal(saksid_commit_new(&co, &c), SAKSI_ERR_INVAL);
	co.co_ledger = NULL;
	assert_int_equal(saksid_commit_new(&co, &c), SAKSI_ERR_INVAL);

	memset(&it, 0, sizeof(it));
	assert_int_equal(saksid_commit_group(lc.c, &ptr, 0, FX_NOW), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_commit_group(lc.c, &ptr, SAKSID_COMMIT_ITEMS_MAX + 1, FX_NOW),
	                 SAKSI_ERR_INVAL);

	memset(lh, 7, sizeof(lh));
	assert_int_equal(saksid_disc_seal(fx.log, 0, lh, (const uint8_t *)"[]", 2, out,
	                                  sizeof(out), &w), SAKSI_ERR_KEY);
	assert_int_equal(saksid_disc_seal(fx.store, 0, lh, (const uint8_t *)"[]", 2, out,
	                                  SAKSID_DISC_OVERHEAD + 1, &w), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_disc_seal(fx.store, 0, lh, (const uint8_t *)"[]", 2, out,
	                                  sizeof(out), &w), SAKSI_OK);
	assert_int_equal(w, SAKSID_DISC_OVERHEAD + 2);
	assert_int_equal(saksid_disc_open(fx.store, 0, lh, out, w, &plain, &plen), SAKSI_OK);
	assert_int_equal(plen, 2);
	assert_memory_equal(plain, "[]", 2);
	free(plain);
	lc_close(&lc);
}

#define RULES_T "saksi-rules 1\nlateness 1m\nselect book\n  match queue.booking.created\n" \
    "rule r1\n  type event_count\n  severity high\n  events book\n  group-by device_id\n" \
    "  timespan 10s\n  condition gte 3\n  suppress 1h\n  reraise 2\n"

static saksi_rules *
rules_t(void)
{
	saksi_rules *r = NULL;
	char err[256];

	assert_int_equal(saksi_rules_parse(RULES_T, strlen(RULES_T), "t.rules", NULL, &r, err,
	    sizeof(err)), SAKSI_OK);
	return r;
}

/* Detection inside the commit group: the alert is an entry of the same group, after its
 * events; the published mark follows the commit; rules can be turned off. */
static void
test_rules(void **state)
{
	struct lc lc;
	struct fx_item fi[6];
	saksid_item items[6];
	saksi_blind *b;
	saksi_ledger_txn *t;
	saksi_rules *ro;
	saksi_leaf lf;
	saksi_alert a;
	uint8_t key[SAKSI_BLIND_KEYLEN], *leaf;
	uint64_t mark, last;
	size_t len;
	(void)state;

	/* Rules need a blinding context. */
	lc_open(&lc, 0);
	assert_int_equal(saksid_commit_rules_set(lc.c, rules_t()), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_commit_publish(lc.c), SAKSI_OK);   /* no rules: nothing */
	lc_close(&lc);

	memset(key, 7, sizeof(key));
	assert_int_equal(saksi_blind_new(key, &b), SAKSI_OK);
	lc_blind = b;
	lc_open(&lc, 0);
	assert_int_equal(saksid_commit_rules_set(lc.c, rules_t()), SAKSI_OK);
	for (size_t i = 0; i < 6; i++)
		fx_booking(&fx, FX_QUEUE, i + 1, FX_NOW - 1000 + i, &fi[i]);
	assert_int_equal(run(&lc, fi, 3, items, FX_NOW), SAKSI_OK);
	assert_int_equal(saksid_commit_alerts(lc.c), 1);
	assert_int_equal(saksid_commit_appended(lc.c), 4);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(items[i].it_code, SAKSI_R_ACCEPTED);
		assert_int_equal(items[i].it_index, i);
		saksid_item_clear(&items[i]);
	}
	assert_int_equal(saksi_ledger_begin(lc.l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(t, 3, &leaf, &len), SAKSI_OK);
	assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
	assert_int_equal(lf.lf_kind, SAKSI_LEAF_ALERT);
	assert_int_equal(lf.lf_commit_ms, FX_NOW);
	assert_int_equal(saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &a), SAKSI_OK);
	free(leaf);
	assert_int_equal(a.al_id, 1);
	assert_string_equal(a.al_rule, "r1");
	assert_int_equal(a.al_trigger, 2);
	assert_int_equal(a.al_nevidence, 3);
	assert_int_equal(a.al_evidence[2], 2);
	/* The group's personal values reach the alert only as a token. */
	assert_memory_equal(a.al_group, "device_id=", 10);
	assert_true(saksi_blind_is_token(a.al_group + 10));
	/* Published (to nobody: no socket) once committed. */
	ro = rules_t();
	assert_int_equal(saksi_rules_attach_readonly(ro, saksi_ledger_txn_mdb(t)), SAKSI_OK);
	assert_int_equal(saksi_rules_published_get(ro, saksi_ledger_txn_mdb(t), &mark),
	    SAKSI_OK);
	assert_int_equal(saksi_rules_alert_last(ro, saksi_ledger_txn_mdb(t), &last), SAKSI_OK);
	assert_int_equal(mark, 1);
	assert_int_equal(last, 1);
	saksi_rules_free(ro);
	saksi_ledger_abort(t);

	/* The same bytes again are duplicates: not counted a second time. */
	assert_int_equal(run(&lc, fi, 3, items, FX_NOW), SAKSI_OK);
	assert_int_equal(saksid_commit_alerts(lc.c), 0);
	assert_int_equal(saksid_commit_appended(lc.c), 0);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(items[i].it_code, SAKSI_R_DUPLICATE);
		saksid_item_clear(&items[i]);
	}
	/* Detection off: three more bookings, no alert entry. */
	assert_int_equal(saksid_commit_rules_set(lc.c, NULL), SAKSI_OK);
	assert_int_equal(run(&lc, fi + 3, 3, items, FX_NOW), SAKSI_OK);
	assert_int_equal(saksid_commit_alerts(lc.c), 0);
	assert_int_equal(saksid_commit_appended(lc.c), 3);
	for (size_t i = 0; i < 3; i++)
		saksid_item_clear(&items[i]);
	assert_int_equal(lc_size(&lc), 7);
	lc_close(&lc);
	lc_blind = NULL;
	saksi_blind_free(b);
	for (size_t i = 0; i < 6; i++)
		fx_item_free(&fi[i]);
}

/*
 * co_sync_later: a group's commit leaves its meta page's sync to the caller
 * (saksid_commit_ticket), its receipts already built; a group that writes nothing has
 * nothing to wait for. The scenarios above and the rules' run the same way.
 */
static void
test_sync_later(void **state)
{
	struct lc lc;
	struct fx_item fi[2];
	saksid_item it[2];
	uint64_t ticket;

	lc_sync_later = 1;
	test_accept_and_receipts(state);
	test_duplicate(state);
	test_rules(state);

	lc_open(&lc, 0);
	for (int i = 0; i < 2; i++)
		fx_booking(&fx, FX_QUEUE, (uint64_t)i + 1, FX_NOW - 1000, &fi[i]);
	assert_int_equal(run(&lc, fi, 2, it, FX_NOW), SAKSI_OK);
	ticket = saksid_commit_ticket(lc.c);
	assert_true(ticket != 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(verify_receipt(&lc, &it[i], &fi[i]), 2);
	assert_int_equal(saksi_ledger_sync(lc.l, ticket), SAKSI_OK);
	clear(it, 2);
	/* Only duplicates: nothing written, nothing to sync. */
	assert_int_equal(run(&lc, fi, 2, it, FX_NOW), SAKSI_OK);
	assert_int_equal(it[0].it_code, SAKSI_R_DUPLICATE);
	assert_int_equal(saksid_commit_ticket(lc.c), 0);
	assert_int_equal(verify_receipt(&lc, &it[1], &fi[1]), 2);
	clear(it, 2);
	for (int i = 0; i < 2; i++)
		fx_item_free(&fi[i]);
	lc_close(&lc);
	lc_sync_later = 0;
}


/*
 * A crash between an alert's commit and its publication: the alert is in the state with
 * the published mark behind it. The next start (rules_set) publishes it, at least once.
 */
/* A PUB socket bound at url and a SUB connected to it (receive timeout to ms), once the
 * connection is up: PUB drops what it sends before. */
static void
pubsub_pair(const char *url, int to, int *pub, int *sub)
{
	assert_true((*pub = nn_socket(AF_SP, NN_PUB)) >= 0);
	assert_true(nn_bind(*pub, url) >= 0);
	assert_true((*sub = nn_socket(AF_SP, NN_SUB)) >= 0);
	assert_true(nn_setsockopt(*sub, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) >= 0);
	assert_true(nn_setsockopt(*sub, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to)) >= 0);
	assert_true(nn_connect(*sub, url) >= 0);
	for (int i = 0; i < 1000 && nn_get_statistic(*sub, NN_STAT_CURRENT_CONNECTIONS) == 0;
	    i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* Rule state as a crashed daemon leaves it: rules_t() attached in a committed
 * transaction, then, in the open write transaction returned in *t, three bookings from
 * the device token tok evaluated, which raise alert 1. */
static saksi_rules *
crashed_rules(struct lc *lc, const char *tok, saksi_ledger_txn **t)
{
	saksi_rules *r = rules_t();
	saksi_rule_field f[1];
	saksi_rule_event ev;

	assert_int_equal(saksi_ledger_begin(lc->l, 1, t), SAKSI_OK);
	assert_int_equal(saksi_rules_attach(r, saksi_ledger_txn_mdb(*t)), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(*t), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(lc->l, 1, t), SAKSI_OK);
	f[0].rf_name = "device_id";
	f[0].rf_value = tok;
	f[0].rf_personal = 1;
	memset(&ev, 0, sizeof(ev));
	ev.re_type = "queue.booking.created";
	ev.re_branch = FX_BRANCH;
	ev.re_fields = f;
	ev.re_nfields = 1;
	for (uint64_t i = 0; i < 3; i++) {
		ev.re_index = i;
		ev.re_time_ms = FX_NOW + i;
		assert_int_equal(saksi_rules_eval(r, saksi_ledger_txn_mdb(*t), &ev, NULL),
		    SAKSI_OK);
	}
	return r;
}

/* The end of a publish-after-crash test: a second start publishes nothing; then the
 * committer, both sockets and the blinder go. */
static void
nothing_more_published(struct lc *lc, int pub, int sub, saksi_blind *b)
{
	char *msg = NULL;
	int to = 0;

	assert_int_equal(saksid_commit_publish(lc->c), SAKSI_OK);
	assert_true(nn_setsockopt(sub, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to)) >= 0);
	assert_true(nn_recv(sub, &msg, NN_MSG, NN_DONTWAIT) < 0);
	lc_close(lc);
	lc_sock = -1;
	lc_blind = NULL;
	nn_close(sub);
	nn_close(pub);
	saksi_blind_free(b);
}

static void
test_publish_after_crash(void **state)
{
	struct lc lc;
	saksi_blind *b;
	saksi_rules *r;
	saksi_ledger_txn *t;
	char tok[SAKSI_BLIND_TOKEN_LEN + 1], *msg = NULL;
	uint8_t key[SAKSI_BLIND_KEYLEN];
	uint64_t mark, last;
	int pub, sub, to = 10000, n;
	(void)state;

	memset(key, 9, sizeof(key));
	assert_int_equal(saksi_blind_new(key, &b), SAKSI_OK);
	assert_int_equal(saksi_blind_token(b, SAKSI_BLIND_DEVICE, "device-000001", 13, tok),
	    SAKSI_OK);
	pubsub_pair("inproc://commit-test-alerts", to, &pub, &sub);
	lc_blind = b;
	lc_sock = pub;
	lc_open(&lc, 0);

	/* What the crashed daemon left: rule state with alert 1, never published. */
	r = crashed_rules(&lc, tok, &t);
	assert_int_equal(saksi_rules_alert_last(r, saksi_ledger_txn_mdb(t), &last), SAKSI_OK);
	assert_int_equal(saksi_rules_published_get(r, saksi_ledger_txn_mdb(t), &mark),
	    SAKSI_OK);
	assert_int_equal(last, 1);
	assert_int_equal(mark, 0);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);

	/* The restart publishes it and moves the mark. */
	assert_int_equal(saksid_commit_rules_set(lc.c, r), SAKSI_OK);
	n = nn_recv(sub, &msg, NN_MSG, 0);
	assert_true(n > 0);
	assert_non_null(memmem(msg, (size_t)n, "\"id\":1,\"kind\":\"rule\"", 20));
	assert_non_null(memmem(msg, (size_t)n, "\"evidence\":[0,1,2]", 18));
	nn_freemsg(msg);
	r = rules_t();
	assert_int_equal(saksi_ledger_begin(lc.l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_rules_attach_readonly(r, saksi_ledger_txn_mdb(t)), SAKSI_OK);
	assert_int_equal(saksi_rules_published_get(r, saksi_ledger_txn_mdb(t), &mark),
	    SAKSI_OK);
	assert_int_equal(mark, 1);
	saksi_ledger_abort(t);
	saksi_rules_free(r);
	/* Nothing more to publish: a second start sends nothing. */
	nothing_more_published(&lc, pub, sub, b);
}

/* One item checked by ig and committed alone at now; its code, message in msg. */
static int
run_ack(struct lc *lc, saksid_ingest *ig, const struct fx_item *fi, uint64_t now,
        char *msg, size_t msglen)
{
	saksid_item it, *ptr = &it;
	int code;

	fx_frame1(fi, &it);
	saksid_ingest_check(ig, &it, now);
	assert_int_equal(it.it_code, SAKSI_R_ACCEPTED);
	assert_int_equal(saksid_commit_group(lc->c, &ptr, 1, now), SAKSI_OK);
	code = it.it_code;
	snprintf(msg, msglen, "%s", it.it_msg);
	saksid_item_clear(&it);
	return code;
}

/* The leaf at index, parsed as an alert entry (fails unless it is one); its commit time
 * into commit_ms (NULL: not wanted). */
static void
alert_at(struct lc *lc, uint64_t index, saksi_alert *a, uint64_t *commit_ms)
{
	saksi_ledger_txn *t;
	saksi_leaf lf;
	uint8_t *leaf;
	size_t len;

	assert_int_equal(saksi_ledger_begin(lc->l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(t, index, &leaf, &len), SAKSI_OK);
	saksi_ledger_abort(t);
	assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
	assert_int_equal(lf.lf_kind, SAKSI_LEAF_ALERT);
	assert_int_equal(saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, a), SAKSI_OK);
	if (commit_ms != NULL)
		*commit_ms = lf.lf_commit_ms;
	free(leaf);
}

/*
 * Acks and re-raises in the committer, on the daemon's clock as given: an alert left
 * open is raised again (kind 4, its own group and checkpoint) at exactly the timeout,
 * once at critical for a high rule, then never; an ack commits for an open alert only,
 * and is refused as schema for an acked or unknown one or with detection off; the
 * ledger verifies with the ack and the re-raise in it.
 */
static void
test_ack_reraise(void **state)
{
	struct lc lc;
	struct fx_item fi[3], ack;
	saksid_item items[3];
	saksi_blind *b;
	saksi_seckey *officer;
	saksi_pubkey pub;
	saksi_keyring *kr;
	saksid_ingest *ig;
	saksi_alert a;
	saksi_verify_opts vo;
	saksi_verify_report vr;
	json_t *root;
	char *krjson, *p, *rp, b64[SAKSI_PUBKEY_B64_LEN + 1], hex[17], err[256], msg[256];
	const char *set[] = { "alert_id", "#1", NULL };
	const char *rset[] = { "alert_id", "#1", "alert_kind", "refusals", NULL };
	uint8_t key[SAKSI_BLIND_KEYLEN];
	uint64_t ck_latest, ms, T = 60000;
	size_t nck;
	(void)state;

	/* The fixture's keyring plus a security officer's key. */
	officer = fx_key(fx.seed, "officer", SAKSI_KEY_SIGN);
	assert_int_equal(saksi_seckey_public(officer, &pub), SAKSI_OK);
	assert_int_equal(saksi_pubkey_encode(&pub, b64, sizeof(b64)), SAKSI_OK);
	sodium_bin2hex(hex, sizeof(hex), pub.pk_id, 8);
	assert_non_null(root = json_loads(fx.keyring_json, 0, NULL));
	json_object_set_new(json_object_get(root, "roles"), "security",
	                    json_pack("[s]", "security.*"));
	json_array_append_new(json_object_get(root, "keys"), json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:n}", "name", "officer", "key_id", hex, "public_key",
	    b64, "role", "security", "branch", "*", "revoked_ms"));
	krjson = json_dumps(root, 0);
	json_decref(root);
	assert_int_equal(saksi_keyring_parse(krjson, strlen(krjson), &kr, err, sizeof(err)),
	                 SAKSI_OK);
	free(krjson);
	assert_int_equal(saksid_ingest_new(kr, fx.sc, fx.box, &ig), SAKSI_OK);

	memset(key, 5, sizeof(key));
	assert_int_equal(saksi_blind_new(key, &b), SAKSI_OK);
	lc_blind = b;
	lc_ack_timeout = T;
	lc_open(&lc, 0);

	/* Without rules an ack names no open alert; nothing is re-raised. */
	p = fx_payload("security.alert.acked", set);
	fx_build(&fx, officer, "security.alert.acked", p, 1, FX_NOW, &ack);
	assert_int_equal(run_ack(&lc, ig, &ack, FX_NOW, msg, sizeof(msg)), SAKSI_R_SCHEMA);
	assert_string_equal(msg, "no open alert 1: detection is off");
	assert_int_equal(saksid_commit_reraise(lc.c, FX_NOW + 10 * T), SAKSI_OK);
	assert_int_equal(saksid_commit_alerts(lc.c), 0);
	assert_int_equal(saksid_commit_alert_acked(lc.c), UINT64_MAX);   /* not known yet */

	/* Alert 1 (high) at entry 3, committed at FX_NOW; before the ack exists, an ack of
	 * alert 7 is refused too. */
	assert_int_equal(saksid_commit_rules_set(lc.c, rules_t()), SAKSI_OK);
	for (size_t i = 0; i < 3; i++)
		fx_booking(&fx, FX_QUEUE, i + 1, FX_NOW - 1000 + i, &fi[i]);
	assert_int_equal(run(&lc, fi, 3, items, FX_NOW), SAKSI_OK);
	clear(items, 3);
	assert_int_equal(saksid_commit_alerts(lc.c), 1);
	assert_int_equal(lc_size(&lc), 5);   /* the refusal summary, 3 events, the alert */
	alert_at(&lc, 4, &a, &ms);
	assert_int_equal(a.al_id, 1);
	/* The status counters: raised 1, acknowledged 0. */
	assert_int_equal(saksid_commit_alert_total(lc.c), 1);
	assert_int_equal(saksid_commit_alert_acked(lc.c), 0);

	/* Not a millisecond early; then exactly once, at critical, in a group of its own. */
	nck = lc_checkpoints(&lc, &ck_latest);
	assert_int_equal(saksid_commit_reraise(lc.c, FX_NOW + T - 1), SAKSI_OK);
	assert_int_equal(saksid_commit_alerts(lc.c), 0);
	assert_int_equal(lc_size(&lc), 5);
	assert_int_equal(saksid_commit_reraise(lc.c, FX_NOW + T), SAKSI_OK);
	assert_int_equal(saksid_commit_alerts(lc.c), 1);
	assert_int_equal(lc_size(&lc), 6);
	assert_int_equal(lc_checkpoints(&lc, &ck_latest), nck + 1);
	assert_int_equal(ck_latest, 6);
	alert_at(&lc, 5, &a, &ms);
	assert_int_equal(ms, FX_NOW + T);
	assert_int_equal(a.al_id, 1);
	assert_int_equal(a.al_kind, SAKSI_ALERT_RERAISE);
	assert_int_equal(a.al_severity, SAKSI_SEV_CRITICAL);
	assert_int_equal(a.al_extra, 1);
	assert_int_equal(a.al_nevidence, 1);
	assert_int_equal(a.al_evidence[0], 4);
	assert_int_equal(saksid_commit_reraise(lc.c, FX_NOW + 100 * T), SAKSI_OK);
	assert_int_equal(saksid_commit_alerts(lc.c), 0);
	assert_int_equal(lc_size(&lc), 6);

	/* The ack commits once (its alert is still open after the chain ended). */
	fx_item_free(&ack);
	fx_build(&fx, officer, "security.alert.acked", p, 2, FX_NOW + T, &ack);
	assert_int_equal(run_ack(&lc, ig, &ack, FX_NOW + T, msg, sizeof(msg)),
	                 SAKSI_R_ACCEPTED);
	assert_int_equal(lc_size(&lc), 7);
	/* Counted for the status: a re-raise is no new alert, the ack closes the one. */
	assert_int_equal(saksid_commit_alert_total(lc.c), 1);
	assert_int_equal(saksid_commit_alert_acked(lc.c), 1);
	/* A rules reload counts them again from the state. */
	assert_int_equal(saksid_commit_rules_set(lc.c, rules_t()), SAKSI_OK);
	assert_int_equal(saksid_commit_alert_total(lc.c), 1);
	assert_int_equal(saksid_commit_alert_acked(lc.c), 1);
	fx_item_free(&ack);
	fx_build(&fx, officer, "security.alert.acked", p, 3, FX_NOW + T, &ack);
	assert_int_equal(run_ack(&lc, ig, &ack, FX_NOW + T, msg, sizeof(msg)), SAKSI_R_SCHEMA);
	assert_string_equal(msg, "no open alert 1: it was acknowledged at index 6");
	free(p);
	set[1] = "#7";
	p = fx_payload("security.alert.acked", set);
	fx_item_free(&ack);
	fx_build(&fx, officer, "security.alert.acked", p, 3, FX_NOW + T, &ack);
	assert_int_equal(run_ack(&lc, ig, &ack, FX_NOW + T, msg, sizeof(msg)), SAKSI_R_SCHEMA);
	assert_string_equal(msg, "no open alert 7: there is no such alert");
	free(p);
	/* Refusal alert 1 does not exist (no refusal alerts configured here): its ack is
	 * refused, although rules' alert 1 does (RULES.md 5.4). */
	rp = fx_payload("security.alert.acked", rset);
	fx_item_free(&ack);
	fx_build(&fx, officer, "security.alert.acked", rp, 3, FX_NOW + T, &ack);
	assert_int_equal(run_ack(&lc, ig, &ack, FX_NOW + T, msg, sizeof(msg)), SAKSI_R_SCHEMA);
	assert_string_equal(msg, "no open refusal alert 1: there is no such alert");
	free(rp);

	/* The whole ledger verifies, the officer's signature with the keyring. */
	memset(&vo, 0, sizeof(vo));
	vo.vo_log = &fx.v;
	vo.vo_keyring = kr;
	assert_int_equal(saksi_verify_ledger(lc.l, &vo, &vr), SAKSI_OK);
	assert_int_equal(vr.vr_alerts, 2);
	assert_int_equal(vr.vr_events, 4);

	/* A forged re-raise that does not repeat its original fails verification at its
	 * own entry: one severity too low, a step past the chain's end, another id, an
	 * original that is an event. Each
	 * goes into a copy of the ledger, taken while it is closed. */
	alert_at(&lc, 5, &a, &ms);
	lc_close(&lc);
	for (int k = 0; k < 4; k++) {
		saksi_ledger_txn *t;
		saksi_ledger *l2;
		saksi_ledger_opts o;
		uint8_t body[SAKSI_ALERT_LEAF_MAX];
		saksi_alert f = a;
		char dir2[200], cmd[1024];
		size_t blen;
		uint64_t idx;

		if (k == 0)
			f.al_severity = SAKSI_SEV_HIGH;
		else if (k == 1)
			f.al_extra = 2;
		else if (k == 2)
			f.al_id = 2;
		else
			f.al_trigger = f.al_evidence[0] = 1;
		snprintf(dir2, sizeof(dir2), "%s-forged", lc.dir);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -r '%s' '%s'", dir2, lc.dir, dir2);
		assert_int_equal(system(cmd), 0);
		memset(&o, 0, sizeof(o));
		assert_int_equal(saksi_ledger_open(dir2, FX_ORIGIN, fx.vkey, &o, &l2), SAKSI_OK);
		assert_int_equal(saksi_alert_leaf_encode(&f, body, sizeof(body), &blen), SAKSI_OK);
		assert_int_equal(saksi_ledger_begin(l2, 1, &t), SAKSI_OK);
		assert_int_equal(saksi_ledger_append(t, SAKSI_LEAF_ALERT, FX_NOW + 2 * T, body, blen,
		                                     &idx, NULL), SAKSI_OK);
		assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
		assert_int_equal(saksi_verify_ledger(l2, &vo, &vr), SAKSI_ERR_CORRUPT);
		assert_int_equal(vr.vr_reason, SAKSI_V_ALERT_FORMAT);
		assert_int_equal(vr.vr_index, idx);
		assert_non_null(strstr(vr.vr_message, k < 3 ? "the re-raise does not match alert" :
		                       "a re-raise of entry 1, which is not an alert"));
		saksi_ledger_close(l2);
	}

	lc_blind = NULL;
	lc_ack_timeout = 0;
	saksi_blind_free(b);
	for (size_t i = 0; i < 3; i++)
		fx_item_free(&fi[i]);
	fx_item_free(&ack);
	saksid_ingest_free(ig);
	saksi_keyring_free(kr);
	saksi_seckey_free(officer);
}

/* A backlog of due alerts drains 1024 a call (four groups of 256, each with its
 * checkpoint), oldest first, and the rest at the next call. */
static void
test_reraise_backlog(void **state)
{
	static const char one[] = "saksi-rules 1\nlateness 1m\nselect book\n"
	    "  match queue.booking.created\nrule r1\n  type event_count\n  severity low\n"
	    "  events book\n  group-by device_id\n  timespan 10s\n  condition gte 1\n"
	    "  suppress 1h\n  reraise never\n";
	enum { N = 1030 };
	struct lc lc;
	struct fx_item fi[64];
	saksid_item items[64];
	saksi_blind *b;
	saksi_rules *r = NULL;
	saksi_alert a;
	uint8_t key[SAKSI_BLIND_KEYLEN];
	uint64_t ck, ms, size0, T = 1000;
	size_t nck;
	char err[128];
	(void)state;

	memset(key, 3, sizeof(key));
	assert_int_equal(saksi_blind_new(key, &b), SAKSI_OK);
	lc_blind = b;
	lc_ack_timeout = T;
	lc_open(&lc, 0);
	assert_int_equal(saksi_rules_parse(one, strlen(one), "t.rules", NULL, &r, err,
	    sizeof(err)), SAKSI_OK);
	assert_int_equal(saksid_commit_rules_set(lc.c, r), SAKSI_OK);
	/* N bookings from N devices: N alerts, the i-th committed at FX_NOW + i. */
	for (size_t i = 0; i < N; i += 64) {
		size_t n = N - i < 64 ? N - i : 64;

		for (size_t j = 0; j < n; j++) {
			char dev[32], *p;
			const char *set[] = { "device_id", dev, NULL };

			snprintf(dev, sizeof(dev), "backlog-dev-%06zu", i + j);
			p = fx_payload("queue.booking.created", set);
			fx_build(&fx, fx.prod[FX_QUEUE], "queue.booking.created", p, i + j + 1,
			         FX_NOW, &fi[j]);
			free(p);
		}
		assert_int_equal(run(&lc, fi, n, items, FX_NOW + i), SAKSI_OK);
		assert_int_equal(saksid_commit_alerts(lc.c), n);
		clear(items, n);
		for (size_t j = 0; j < n; j++)
			fx_item_free(&fi[j]);
	}
	size0 = lc_size(&lc);
	assert_int_equal(size0, 2 * N);
	nck = lc_checkpoints(&lc, &ck);

	/* All due at FX_NOW + N + T: 1024 now, in four groups, then 6. */
	assert_int_equal(saksid_commit_reraise(lc.c, FX_NOW + N + T), SAKSI_OK);
	assert_int_equal(saksid_commit_alerts(lc.c), 1024);
	assert_int_equal(lc_checkpoints(&lc, &ck), nck + 4);
	assert_int_equal(ck, size0 + 1024);
	alert_at(&lc, size0, &a, &ms);
	assert_int_equal(a.al_id, 1);   /* the oldest first */
	assert_int_equal(a.al_kind, SAKSI_ALERT_RERAISE);
	assert_int_equal(a.al_severity, SAKSI_SEV_MEDIUM);
	alert_at(&lc, size0 + 1023, &a, &ms);
	assert_int_equal(a.al_id, 1024);
	assert_int_equal(saksid_commit_reraise(lc.c, FX_NOW + N + T), SAKSI_OK);
	assert_int_equal(saksid_commit_alerts(lc.c), N - 1024);
	assert_int_equal(lc_checkpoints(&lc, &ck), nck + 5);
	assert_int_equal(ck, size0 + N);
	alert_at(&lc, size0 + N - 1, &a, &ms);
	assert_int_equal(a.al_id, N);
	/* Nothing left due until a period after these re-raises. */
	assert_int_equal(saksid_commit_reraise(lc.c, FX_NOW + N + 2 * T - 1), SAKSI_OK);
	assert_int_equal(saksid_commit_alerts(lc.c), 0);

	lc_close(&lc);
	lc_blind = NULL;
	lc_ack_timeout = 0;
	saksi_blind_free(b);
}

/*
 * A crash between a re-raise's commit and its publication: the re-raise log is ahead of
 * its mark. The next start publishes it, after the alert log's own, and only once.
 */
static void
test_reraise_publish_after_crash(void **state)
{
	struct lc lc;
	saksi_blind *b;
	saksi_rules *r;
	saksi_ledger_txn *t;
	saksi_alert a;
	char tok[SAKSI_BLIND_TOKEN_LEN + 1], *msg = NULL;
	uint8_t key[SAKSI_BLIND_KEYLEN];
	uint64_t mark;
	int pub, sub, to = 10000, n;
	(void)state;

	memset(key, 4, sizeof(key));
	assert_int_equal(saksi_blind_new(key, &b), SAKSI_OK);
	assert_int_equal(saksi_blind_token(b, SAKSI_BLIND_DEVICE, "device-000002", 13, tok),
	    SAKSI_OK);
	pubsub_pair("inproc://commit-test-reraise", to, &pub, &sub);
	lc_blind = b;
	lc_sock = pub;
	lc_open(&lc, 0);

	/* What the crashed daemon left: alert 1 tracked and published, then re-raised in a
	 * committed transaction, never published. */
	r = crashed_rules(&lc, tok, &t);
	assert_int_equal(saksi_rules_alert_track(r, saksi_ledger_txn_mdb(t), 1, 3, FX_NOW),
	    SAKSI_OK);
	assert_int_equal(saksi_rules_published_set(r, saksi_ledger_txn_mdb(t), 1), SAKSI_OK);
	assert_int_equal(saksi_rules_reraise(r, saksi_ledger_txn_mdb(t), 1, FX_NOW + 5, &a),
	    SAKSI_OK);
	assert_int_equal(saksi_rules_reraise_published_get(r, saksi_ledger_txn_mdb(t), &mark),
	    SAKSI_OK);
	assert_int_equal(mark, 0);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);

	/* The restart publishes the re-raise alone and moves its mark. */
	assert_int_equal(saksid_commit_rules_set(lc.c, r), SAKSI_OK);
	n = nn_recv(sub, &msg, NN_MSG, 0);
	assert_true(n > 0);
	assert_non_null(memmem(msg, (size_t)n, "\"id\":1,\"kind\":\"reraise\"", 23));
	assert_non_null(memmem(msg, (size_t)n, "\"extra\":1,", 10));
	assert_non_null(memmem(msg, (size_t)n, "\"severity\":\"critical\"", 21));
	nn_freemsg(msg);
	r = rules_t();
	assert_int_equal(saksi_ledger_begin(lc.l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_rules_attach_readonly(r, saksi_ledger_txn_mdb(t)), SAKSI_OK);
	assert_int_equal(saksi_rules_reraise_published_get(r, saksi_ledger_txn_mdb(t), &mark),
	    SAKSI_OK);
	assert_int_equal(mark, 1);
	saksi_ledger_abort(t);
	saksi_rules_free(r);
	nothing_more_published(&lc, pub, sub, b);
}

/* n forged bookings (refused: signature) of producer 0, seq from *seq on. */
static void
forged(struct fx_item *fi, size_t n, uint64_t *seq)
{
	for (size_t i = 0; i < n; i++) {
		fx_booking(&fx, FX_QUEUE, (*seq)++, FX_NOW, &fi[i]);
		fi[i].env[fi[i].env_len - 1] ^= 1;
	}
}

static void
run_free(struct lc *lc, struct fx_item *fi, size_t n, uint64_t now)
{
	saksid_item items[8];

	assert_int_equal(run(lc, fi, n, items, now), SAKSI_OK);
	clear(items, n);
	for (size_t i = 0; i < n; i++)
		fx_item_free(&fi[i]);
}

/*
 * Refusal alerts (RULES.md 5.4): the refusals of one reason reaching the threshold in a
 * window raise one alert of kind 5, after the group's summary; the busy refusals handed
 * in count like the others; a new window starts over; the window survives a restart;
 * and the ledger verifies.
 */
static void
test_refusal_alerts(void **state)
{
	/* FX_NOW lies 40 s into a one-minute window: windows here end at FX_NOW + 20 s. */
	const uint64_t w = 60000, t1 = FX_NOW + 20000, t2 = FX_NOW + 80000;
	const uint8_t *kid = saksi_seckey_id(fx.prod[FX_QUEUE]);
	struct lc lc;
	struct fx_item fi[4];
	saksi_blind *b;
	saksi_alert a;
	saksi_verify_opts vo;
	saksi_verify_report vr;
	uint8_t key[SAKSI_BLIND_KEYLEN];
	uint64_t seq = 1000;
	(void)state;

	assert_int_equal(FX_NOW % w, 40000);
	memset(key, 7, sizeof(key));
	assert_int_equal(saksi_blind_new(key, &b), SAKSI_OK);
	lc_blind = b;
	lc_ref_window = w;
	lc_ref_threshold = 3;
	lc_open(&lc, 0);
	assert_int_equal(saksid_commit_rules_set(lc.c, rules_t()), SAKSI_OK);
	assert_int_equal(saksid_commit_detecting(lc.c), 1);

	/* Two: below the threshold. Entry 0 is the summary. */
	forged(fi, 2, &seq);
	run_free(&lc, fi, 2, FX_NOW);
	assert_int_equal(saksid_commit_appended(lc.c), 1);
	assert_int_equal(saksid_commit_alerts(lc.c), 0);
	/* One more and an event: 1 event, 2 summary, 3 the alert. */
	forged(fi, 1, &seq);
	fx_booking(&fx, FX_QUEUE, seq++, FX_NOW, &fi[1]);
	run_free(&lc, fi, 2, FX_NOW + 1);
	assert_int_equal(saksid_commit_appended(lc.c), 3);
	assert_int_equal(saksid_commit_alerts(lc.c), 1);
	assert_int_equal(saksid_commit_alert_total(lc.c), 1);
	alert_at(&lc, 3, &a, NULL);
	assert_int_equal(a.al_id, 1);
	assert_int_equal(a.al_kind, SAKSI_ALERT_REFUSALS);
	assert_int_equal(a.al_severity, SAKSI_SEV_HIGH);
	assert_string_equal(a.al_rule, "refusals:signature");
	assert_string_equal(a.al_group, "reason=signature");
	assert_int_equal(a.al_value, 3);
	assert_int_equal(a.al_threshold, 3);
	assert_int_equal(a.al_extra, w);
	assert_int_equal(a.al_trigger, 2);
	assert_int_equal(a.al_total, 2);
	assert_int_equal(a.al_nevidence, 2);
	assert_int_equal(a.al_evidence[0], 0);
	assert_int_equal(a.al_evidence[1], 2);
	assert_int_equal(a.al_first_ms, FX_NOW);   /* the refused items' arrival times */
	assert_int_equal(a.al_last_ms, FX_NOW);

	/* Same window: more signatures raise nothing more; five busy refusals handed in
	 * raise their own alert, low. 4 summary, 5 alert. */
	forged(fi, 1, &seq);
	saksid_commit_refused_add(lc.c, kid, SAKSI_R_BUSY, 5, FX_NOW + 1, FX_NOW + 2);
	run_free(&lc, fi, 1, FX_NOW + 2);
	assert_int_equal(saksid_commit_appended(lc.c), 2);
	assert_int_equal(saksid_commit_alerts(lc.c), 1);
	alert_at(&lc, 5, &a, NULL);
	assert_int_equal(a.al_id, 2);
	assert_string_equal(a.al_rule, "refusals:busy");
	assert_int_equal(a.al_severity, SAKSI_SEV_LOW);
	assert_int_equal(a.al_value, 5);
	assert_int_equal(a.al_first_ms, FX_NOW + 1);
	assert_int_equal(a.al_last_ms, FX_NOW + 2);
	assert_int_equal(stat_of(&lc, SAKSI_R_BUSY, kid), 5);
	assert_int_equal(stat_of(&lc, SAKSI_R_SIGNATURE, kid), 4);

	/* The next window starts over: 6 summary (3 forged), 7 alert. */
	forged(fi, 3, &seq);
	run_free(&lc, fi, 3, t1);
	assert_int_equal(saksid_commit_alerts(lc.c), 1);
	alert_at(&lc, 7, &a, NULL);
	assert_int_equal(a.al_id, 3);
	assert_int_equal(a.al_value, 3);
	assert_int_equal(a.al_total, 1);

	/* A window carried over a restart: two before, one after (8, 9 summaries, 10). */
	forged(fi, 2, &seq);
	run_free(&lc, fi, 2, t2);
	assert_int_equal(saksid_commit_alerts(lc.c), 0);
	lc_close(&lc);
	assert_int_equal(saksi_ledger_open(lc.dir, FX_ORIGIN, fx.vkey, NULL, &lc.l), SAKSI_OK);
	{
		saksid_commit_opts co;

		fx_commit_opts(&co, &fx, lc.l, SKEW);
		co.co_blind = b;
		co.co_refusal_window_ms = w;
		co.co_refusal_threshold = 3;
		assert_int_equal(saksid_commit_new(&co, &lc.c), SAKSI_OK);
	}
	assert_int_equal(saksid_commit_rules_set(lc.c, rules_t()), SAKSI_OK);
	assert_int_equal(saksid_commit_alert_total(lc.c), 3);
	forged(fi, 1, &seq);
	run_free(&lc, fi, 1, t2 + 1);
	assert_int_equal(saksid_commit_alerts(lc.c), 1);
	alert_at(&lc, 10, &a, NULL);
	assert_int_equal(a.al_id, 4);
	assert_int_equal(a.al_value, 3);
	assert_int_equal(a.al_nevidence, 2);
	assert_int_equal(a.al_evidence[0], 8);
	assert_int_equal(a.al_evidence[1], 9);
	assert_int_equal(a.al_trigger, 9);

	/* The ledger with its kind-5 alerts and busy refusals verifies. */
	memset(&vo, 0, sizeof(vo));
	vo.vo_log = &fx.v;
	vo.vo_keyring = fx.kr;
	assert_int_equal(saksi_verify_ledger(lc.l, &vo, &vr), SAKSI_OK);
	assert_int_equal(vr.vr_alerts, 4);
	lc_close(&lc);
	lc_blind = NULL;
	lc_ref_window = lc_ref_threshold = 0;
	saksi_blind_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_and_receipts),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_sync_later),
		cmocka_unit_test(test_publish_after_crash),
		cmocka_unit_test(test_refusal_alerts),
		cmocka_unit_test(test_ack_reraise),
		cmocka_unit_test(test_reraise_backlog),
		cmocka_unit_test(test_reraise_publish_after_crash),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_equivocation_and_replay),
		cmocka_unit_test(test_clock_skew),
		cmocka_unit_test(test_ingest_refusals_summarized),
		cmocka_unit_test(test_disclosures_at_rest),
		cmocka_unit_test(test_map_full),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
