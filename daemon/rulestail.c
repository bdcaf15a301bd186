/*
 * rulestail.c: the tail of the ledger after the rules' last snapshot, evaluated again at
 * a start (rulestail.h). Opens disclosures at rest in memory only, to blind them, as the
 * committer's workers did; the clear values are wiped at once and never logged.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>
#include <sodium.h>

#include "bytes.h"
#include "detect.h"
#include "merkle.h"
#include "rulestail.h"

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Leaf i (an event) evaluated again as it was at commit time. */
static saksi_err
again(saksi_ledger_txn *txn, saksi_detect *d, const saksi_rules *r,
      const saksi_seckey *store, saksi_datakeys *dk, uint64_t i, const uint8_t *leaf,
      size_t len, const saksi_leaf *lf, saksid_rules_tail *st)
{
	uint8_t *blob = NULL;
	char *plain = NULL;
	size_t blen = 0, plen = 0;
	saksi_rules_result res;
	saksi_hash h;
	int evaluated = 0;
	saksi_err e;

	e = saksi_ledger_disc_get(txn, i, &blob, &blen);
	if (e == SAKSI_OK) {
		saksi_merkle_leaf_hash(h, leaf, len);
		/* One that does not open now did at commit: the tail then differs, and the
		 * check below says so rather than guess. */
		if (saksi_disc_open_any(store, dk, i, h, blob, blen, &plain, &plen) != SAKSI_OK) {
			plain = NULL;
			plen = 0;
		}
		free(blob);
	} else if (e != SAKSI_ERR_NOT_FOUND)
		return e;
	e = saksi_detect_eval(d, r, saksi_ledger_txn_mdb(txn), i, lf->lf_body, lf->lf_body_len,
	    (const uint8_t *)plain, plen, &evaluated, &res);
	if (plain != NULL) {
		sodium_memzero(plain, plen);
		free(plain);
	}
	if (e == SAKSI_OK && evaluated) {
		st->rt_events++;
		st->rt_refound += res.rr_refound;
		/* A new alert from the tail is refused by the engine (SAKSI_ERR_CORRUPT). */
		if (res.rr_nalerts != 0)
			e = SAKSI_ERR_CORRUPT;
	}
	if (e == SAKSI_ERR_CORRUPT)
		st->rt_bad = i;   /* the log says where, for the operator */
	return e;
}

saksi_err
saksid_rules_resume(saksi_ledger *l, const saksi_rules *r, const saksi_blind *b,
                    const saksi_seckey *store, saksi_datakeys *dk, saksid_rules_tail *stp)
{
	saksid_rules_tail local;
	saksid_rules_tail *st = stp != NULL ? stp : &local;
	saksi_rules_mem_stats ms;
	saksi_ledger_txn *txn;
	saksi_detect *d = NULL;
	uint64_t upto, end, t0;
	saksi_err e;

	memset(st, 0, sizeof(*st));
	st->rt_bad = UINT64_MAX;
	if (l == NULL || r == NULL || b == NULL)
		return SAKSI_ERR_INVAL;
	if (saksi_rules_memory_stats(r, &ms) != SAKSI_OK)
		return SAKSI_OK;          /* LMDB mode: the state is current */
	st->rt_memory = 1;
	t0 = mono_ms();
	if ((e = saksi_rules_resume_range(r, &st->rt_from, &st->rt_to)) != SAKSI_OK ||
	    (e = saksi_detect_new(b, &d)) != SAKSI_OK)
		return e;
	upto = st->rt_from;
	do {
		if ((e = saksi_ledger_begin(l, 1, &txn)) != SAKSI_OK)
			break;
		if (st->rt_to > saksi_ledger_size(txn)) {
			/* The state has seen leaves the ledger lacks: not this ledger's. */
			saksi_ledger_abort(txn);
			e = SAKSI_ERR_CORRUPT;
			break;
		}
		end = st->rt_to - upto > SAKSID_RULES_TAIL_BATCH ? upto + SAKSID_RULES_TAIL_BATCH :
		    st->rt_to;
		for (uint64_t i = upto; i < end && e == SAKSI_OK; i++) {
			uint8_t *leaf;
			size_t len;
			saksi_leaf lf;

			if ((e = saksi_ledger_leaf(txn, i, &leaf, &len)) != SAKSI_OK)
				break;
			if (saksi_leaf_parse(leaf, len, &lf) == SAKSI_OK &&
			    lf.lf_kind == SAKSI_LEAF_EVENT)
				e = again(txn, d, r, store, dk, i, leaf, len, &lf, st);
			free(leaf);
		}
		if (e == SAKSI_OK && end == st->rt_to) {
			e = saksi_rules_alert_last(r, saksi_ledger_txn_mdb(txn), &st->rt_log_last);
			if (e == SAKSI_OK &&
			    (e = saksi_rules_resume_check(r, saksi_ledger_txn_mdb(txn))) ==
			    SAKSI_ERR_CORRUPT)
				st->rt_bad = st->rt_to;   /* the log's last alerts not raised */
		}
		if (e != SAKSI_OK) {
			saksi_ledger_abort(txn);
			break;
		}
		if ((e = saksi_ledger_commit(txn)) != SAKSI_OK)
			break;
		upto = end;
	} while (upto < st->rt_to);
	saksi_detect_free(d);
	st->rt_ms = mono_ms() - t0;
	return e;
}

saksi_err
saksid_rules_pending_tail(saksi_ledger *l, uint64_t *from, uint64_t *to)
{
	saksi_ledger_txn *txn;
	MDB_txn *mt;
	MDB_dbi dbi;
	MDB_val k = { 1, (void *)"N" }, v;
	uint64_t next = UINT64_MAX, size;
	saksi_err e = SAKSI_OK;
	int rc;

	if (from != NULL)
		*from = 0;
	if (to != NULL)
		*to = 0;
	if (l == NULL || from == NULL || to == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = saksi_ledger_begin(l, 0, &txn)) != SAKSI_OK)
		return e;
	if ((mt = saksi_ledger_txn_mdb(txn)) == NULL) {
		saksi_ledger_abort(txn);
		return SAKSI_ERR_LEDGER;
	}
	size = saksi_ledger_size(txn);
	/* RULES.md 4.4: 'N' (34 bytes, next leaf at 26) and 'C' (17, next leaf at 9). */
	if ((rc = mdb_dbi_open(mt, SAKSI_RULES_DB, 0, &dbi)) == MDB_NOTFOUND)
		goto out;          /* no rule state yet */
	if (rc != 0) {
		e = SAKSI_ERR_LEDGER;
		goto out;
	}
	if ((rc = mdb_get(mt, dbi, &k, &v)) == MDB_NOTFOUND)
		goto out;          /* written in LMDB mode: current */
	if (rc != 0 || v.mv_size != 34) {
		e = rc != 0 ? SAKSI_ERR_LEDGER : SAKSI_ERR_CORRUPT;
		goto out;
	}
	next = saksi_get_u64((const uint8_t *)v.mv_data + 26);
	k.mv_data = (void *)"C";
	if ((rc = mdb_get(mt, dbi, &k, &v)) == MDB_NOTFOUND)
		goto out;          /* no evaluation since the state was first loaded */
	if (rc != 0 || v.mv_size != 17) {
		e = rc != 0 ? SAKSI_ERR_LEDGER : SAKSI_ERR_CORRUPT;
		goto out;
	}
	*to = saksi_get_u64((const uint8_t *)v.mv_data + 9);
	*from = next == UINT64_MAX ? *to : next;
	if (*from > *to || *to > size) {
		*from = *to = 0;
		e = SAKSI_ERR_CORRUPT;
	}
out:
	saksi_ledger_abort(txn);
	return e;
}
