/*
 * indexer.c: the start-up catch-up of the secondary indexes (indexer.h). Reads leaves and
 * opens their disclosures at rest in memory only, to make blind tokens; the clear values
 * are wiped at once and nothing personal is logged or returned.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "commit.h"
#include "datakey.h"
#include "index.h"
#include "indexer.h"
#include "merkle.h"

/* Indexes leaf i (an event) as it was committed, its disclosures opened if they open. */
static saksi_err
one(saksi_ledger_txn *txn, MDB_dbi dbi, const saksi_blind *b, const saksi_seckey *store,
    saksi_datakeys *dk, uint64_t i, const uint8_t *leaf, size_t len, const saksi_leaf *lf, saksid_index_stats *st)
{
	uint8_t *blob = NULL;
	char *plain = NULL;
	size_t blen = 0, plen = 0;
	saksi_hash h;
	saksi_err e;

	e = saksi_ledger_disc_get(txn, i, &blob, &blen);
	if (e == SAKSI_OK) {
		saksi_merkle_leaf_hash(h, leaf, len);
		/* Forgotten (SAKSI_ERR_NOT_FOUND) or not opening: no personal fields. */
		if (saksi_disc_open_any(store, dk, i, h, blob, blen, &plain, &plen) != SAKSI_OK) {
			st->is_undisclosed++;
			plain = NULL;
			plen = 0;
		}
		free(blob);
	} else if (e != SAKSI_ERR_NOT_FOUND)
		return e;
	e = saksi_index_event(saksi_ledger_txn_mdb(txn), dbi, b, i, lf->lf_body,
	    lf->lf_body_len, (const uint8_t *)plain, plen);
	if (plain != NULL) {
		sodium_memzero(plain, plen);
		free(plain);
	}
	if (e == SAKSI_ERR_FORMAT)
		return SAKSI_OK;   /* a body that is no envelope: a verifier's matter, not ours */
	if (e == SAKSI_OK)
		st->is_events++;
	return e;
}

saksi_err
saksid_index_catchup(saksi_ledger *l, const saksi_blind *b, const saksi_seckey *store,
                     saksi_datakeys *dk, unsigned batch, MDB_dbi *dbi, saksid_index_stats *stp)
{
	saksid_index_stats local;
	saksid_index_stats *st = stp != NULL ? stp : &local;
	saksi_ledger_txn *txn;
	uint64_t upto, size, end;
	saksi_err e;

	if (l == NULL || b == NULL || store == NULL || dbi == NULL)
		return SAKSI_ERR_INVAL;
	memset(st, 0, sizeof(*st));
	if (batch == 0)
		batch = SAKSID_INDEX_BATCH;
	if ((e = saksi_ledger_begin(l, 1, &txn)) != SAKSI_OK)
		return e;
	if ((e = saksi_index_open(saksi_ledger_txn_mdb(txn), 1, dbi)) != SAKSI_OK ||
	    (e = saksi_index_prepare(saksi_ledger_txn_mdb(txn), *dbi, b, &upto,
	    &st->is_reset)) != SAKSI_OK) {
		saksi_ledger_abort(txn);
		return e;
	}
	if ((e = saksi_ledger_commit(txn)) != SAKSI_OK)
		return e;
	st->is_from = upto;
	for (;;) {
		if ((e = saksi_ledger_begin(l, 1, &txn)) != SAKSI_OK)
			return e;
		size = saksi_ledger_size(txn);
		if (upto >= size) {
			saksi_ledger_abort(txn);
			return SAKSI_OK;
		}
		end = size - upto > batch ? upto + batch : size;
		for (uint64_t i = upto; i < end && e == SAKSI_OK; i++) {
			uint8_t *leaf;
			size_t len;
			saksi_leaf lf;

			if ((e = saksi_ledger_leaf(txn, i, &leaf, &len)) != SAKSI_OK)
				break;
			if (saksi_leaf_parse(leaf, len, &lf) == SAKSI_OK &&
			    lf.lf_kind == SAKSI_LEAF_EVENT)
				e = one(txn, *dbi, b, store, dk, i, leaf, len, &lf, st);
			free(leaf);
		}
		if (e == SAKSI_OK)
			e = saksi_index_skip(saksi_ledger_txn_mdb(txn), *dbi, end);
		if (e != SAKSI_OK) {
			saksi_ledger_abort(txn);
			return e;
		}
		if ((e = saksi_ledger_commit(txn)) != SAKSI_OK)
			return e;
		upto = end;
	}
}
