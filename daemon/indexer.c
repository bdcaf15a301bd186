/*
 * indexer.c: the start-up catch-up of the secondary indexes (indexer.h). Reads leaves and
 * opens their disclosures at rest in memory only, to make blind tokens; the clear values
 * are wiped at once and nothing personal is logged or returned.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "commit.h"
#include "datakey.h"
#include "envelope.h"
#include "index.h"
#include "indexer.h"
#include "merkle.h"

/*
 * Adds leaf i (an event) to bt as it was committed, its disclosures opened if they open:
 * the keys saksi_index_event would write, written with the step's others, sorted.
 */
static saksi_err
one(saksi_ledger_txn *txn, saksi_index_batch *bt, const saksi_blind *b,
    const saksi_seckey *store, saksi_datakeys *dk, uint64_t i, const uint8_t *leaf,
    size_t len, const saksi_leaf *lf, saksid_index_stats *st)
{
	saksi_index_keys *k = NULL;
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
	e = saksi_index_keys_of(b, lf->lf_body, lf->lf_body_len, (const uint8_t *)plain, plen,
	                        &k);
	if (e == SAKSI_OK)
		e = saksi_index_batch_add(bt, k, i);
	saksi_index_keys_free(k);
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
saksid_index_catchup_begin(saksi_ledger *l, const saksi_blind *b, MDB_dbi *dbi,
                           uint64_t *upto, saksid_index_stats *st)
{
	saksi_ledger_txn *txn;
	saksi_err e;

	if (l == NULL || b == NULL || dbi == NULL || upto == NULL || st == NULL)
		return SAKSI_ERR_INVAL;
	memset(st, 0, sizeof(*st));
	if ((e = saksi_ledger_begin(l, 1, &txn)) != SAKSI_OK)
		return e;
	if ((e = saksi_index_open(saksi_ledger_txn_mdb(txn), 1, dbi)) != SAKSI_OK ||
	    (e = saksi_index_prepare(saksi_ledger_txn_mdb(txn), *dbi, b, upto,
	    &st->is_reset)) != SAKSI_OK) {
		saksi_ledger_abort(txn);
		return e;
	}
	if ((e = saksi_ledger_commit(txn)) != SAKSI_OK)
		return e;
	st->is_from = *upto;
	return SAKSI_OK;
}

saksi_err
saksid_index_catchup_step(saksi_ledger *l, const saksi_blind *b, const saksi_seckey *store,
                          saksi_datakeys *dk, unsigned batch, MDB_dbi dbi, uint64_t *upto,
                          int *done, saksid_index_stats *st)
{
	saksi_ledger_txn *txn;
	saksi_index_batch *bt;
	uint64_t size, end;
	saksi_err e;

	if (l == NULL || b == NULL || store == NULL || upto == NULL || done == NULL ||
	    st == NULL)
		return SAKSI_ERR_INVAL;
	*done = 0;
	if (batch == 0)
		batch = SAKSID_INDEX_BATCH;
	if ((e = saksi_ledger_begin(l, 1, &txn)) != SAKSI_OK)
		return e;
	size = saksi_ledger_size(txn);
	if (*upto >= size) {
		saksi_ledger_abort(txn);
		*done = 1;
		return SAKSI_OK;
	}
	if ((e = saksi_index_batch_new(&bt)) != SAKSI_OK) {
		saksi_ledger_abort(txn);
		return e;
	}
	end = size - *upto > batch ? *upto + batch : size;
	for (uint64_t i = *upto; i < end && e == SAKSI_OK; i++) {
		uint8_t *leaf;
		size_t len;
		saksi_leaf lf;

		if ((e = saksi_ledger_leaf(txn, i, &leaf, &len)) != SAKSI_OK)
			break;
		if (saksi_leaf_parse(leaf, len, &lf) == SAKSI_OK &&
		    lf.lf_kind == SAKSI_LEAF_EVENT)
			e = one(txn, bt, b, store, dk, i, leaf, len, &lf, st);
		free(leaf);
	}
	if (e == SAKSI_OK)
		e = saksi_index_batch_write(bt, saksi_ledger_txn_mdb(txn), dbi);
	saksi_index_batch_free(bt);
	if (e == SAKSI_OK)
		e = saksi_index_skip(saksi_ledger_txn_mdb(txn), dbi, end);
	if (e != SAKSI_OK) {
		saksi_ledger_abort(txn);
		return e;
	}
	if ((e = saksi_ledger_commit(txn)) != SAKSI_OK)
		return e;
	*upto = end;
	return SAKSI_OK;
}

saksi_err
saksid_index_catchup(saksi_ledger *l, const saksi_blind *b, const saksi_seckey *store,
                     saksi_datakeys *dk, unsigned batch, MDB_dbi *dbi, saksid_index_stats *stp)
{
	saksid_index_stats local;
	saksid_index_stats *st = stp != NULL ? stp : &local;
	uint64_t upto;
	saksi_err e;
	int done = 0;

	if (l == NULL || b == NULL || store == NULL || dbi == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = saksid_index_catchup_begin(l, b, dbi, &upto, st)) != SAKSI_OK)
		return e;
	while (!done)
		if ((e = saksid_index_catchup_step(l, b, store, dk, batch, *dbi, &upto, &done,
		    st)) != SAKSI_OK)
			return e;
	return SAKSI_OK;
}

/* ---- forgetting ---- */

/* The index token of the request's nik disclosure; 0 if it has none that normalises. */
static int
forget_token(const saksi_blind *b, const uint8_t *disc, size_t len,
             char tok[SAKSI_BLIND_TOKEN_LEN + 1])
{
	json_t *a, *v;
	size_t i;
	int found = 0;

	a = json_loadb((const char *)disc, len, 0, NULL);
	if (!json_is_array(a)) {
		json_decref(a);
		return 0;
	}
	json_array_foreach(a, i, v) {
		char *name = NULL, *value = NULL;

		if (!json_is_string(v) ||
		    saksi_disclosure_decode(json_string_value(v), json_string_length(v), &name,
		                            &value) != SAKSI_OK)
			continue;
		if (strcmp(name, "nik") == 0 &&
		    saksi_blind_token(b, SAKSI_BLIND_NIK, value, strlen(value), tok) == SAKSI_OK)
			found = 1;
		sodium_memzero(value, strlen(value));
		free(value);
		free(name);
		if (found)
			break;
	}
	json_decref(a);
	return found;
}

/* Every leaf posted under the token, ascending (malloc'd list in *out). */
static saksi_err
forget_leaves(MDB_txn *mt, MDB_dbi dbi, const char *tok, uint64_t **out, size_t *n)
{
	saksi_index_term term = { SAKSI_IX_NIK, tok };
	saksi_index_query q;
	saksi_index_hit hits[256];
	uint64_t *all = NULL, *grown;
	size_t got, cap = 0;
	int more = 1;
	saksi_err e = SAKSI_OK;

	*out = NULL;
	*n = 0;
	memset(&q, 0, sizeof(q));
	q.iq_terms = &term;
	q.iq_nterms = 1;
	q.iq_until_ms = UINT64_MAX;
	while (more) {
		if ((e = saksi_index_query_run(mt, dbi, &q, hits, 256, &got, &more)) != SAKSI_OK)
			break;
		if (*n + got > cap) {
			cap = (*n + got) * 2;
			if ((grown = realloc(all, cap * sizeof(*all))) == NULL) {
				e = SAKSI_ERR_NOMEM;
				break;
			}
			all = grown;
		}
		for (size_t i = 0; i < got; i++)
			all[(*n)++] = hits[i].ih_index;
		if (got > 0) {
			q.iq_after = hits[got - 1].ih_index;
			q.iq_has_after = 1;
		}
	}
	if (e != SAKSI_OK) {
		free(all);
		*n = 0;
		return e;
	}
	*out = all;
	return SAKSI_OK;
}

/* Removes the personal postings of his entry i. */
static saksi_err
forget_one(saksi_ledger_txn *txn, MDB_dbi dbi, const saksi_blind *b, const saksi_seckey *store,
           saksi_datakeys *dk, uint64_t i, saksid_index_forgot *st)
{
	uint8_t *leaf = NULL, *blob = NULL;
	char *plain = NULL;
	size_t len, blen = 0, plen = 0;
	saksi_leaf lf;
	saksi_hash h;
	saksi_err e;

	if ((e = saksi_ledger_leaf(txn, i, &leaf, &len)) != SAKSI_OK)
		return e;
	if (saksi_leaf_parse(leaf, len, &lf) != SAKSI_OK || lf.lf_kind != SAKSI_LEAF_EVENT) {
		free(leaf);
		return SAKSI_ERR_CORRUPT;   /* only event leaves are ever posted */
	}
	e = saksi_ledger_disc_get(txn, i, &blob, &blen);
	if (e == SAKSI_OK) {
		saksi_merkle_leaf_hash(h, leaf, len);
		if (saksi_disc_open_any(store, dk, i, h, blob, blen, &plain, &plen) != SAKSI_OK) {
			plain = NULL;
			plen = 0;
		}
		free(blob);
	} else if (e != SAKSI_ERR_NOT_FOUND) {
		free(leaf);
		return e;
	}
	if (plain == NULL)
		st->if_unopened++;   /* the NIK key's drop still takes this entry's posting */
	e = saksi_index_unpost_personal(saksi_ledger_txn_mdb(txn), dbi, b, i, lf.lf_body,
	    lf.lf_body_len, (const uint8_t *)plain, plen, &st->if_postings);
	if (plain != NULL) {
		sodium_memzero(plain, plen);
		free(plain);
	}
	free(leaf);
	return e == SAKSI_ERR_FORMAT ? SAKSI_OK : e;
}

saksi_err
saksid_index_forget(saksi_ledger_txn *txn, MDB_dbi dbi, const saksi_blind *b,
                    const saksi_seckey *store, saksi_datakeys *dk, const uint8_t *disc,
                    size_t disc_len, saksid_index_forgot *stp)
{
	saksid_index_forgot local;
	saksid_index_forgot *st = stp != NULL ? stp : &local;
	char tok[SAKSI_BLIND_TOKEN_LEN + 1];
	uint64_t *leaves = NULL;
	size_t n = 0;
	MDB_txn *mt;
	saksi_err e;

	memset(st, 0, sizeof(*st));
	if (txn == NULL || b == NULL || store == NULL || disc == NULL ||
	    (mt = saksi_ledger_txn_mdb(txn)) == NULL)
		return SAKSI_ERR_INVAL;
	if (!forget_token(b, disc, disc_len, tok))
		return SAKSI_OK;
	/* Collected first: the removals below would move a cursor walking the key. */
	if ((e = forget_leaves(mt, dbi, tok, &leaves, &n)) != SAKSI_OK)
		goto out;
	st->if_entries = n;
	for (size_t i = 0; i < n && e == SAKSI_OK; i++)
		e = forget_one(txn, dbi, b, store, dk, leaves[i], st);
	if (e == SAKSI_OK)
		e = saksi_index_drop(mt, dbi, SAKSI_IX_NIK, tok, &st->if_postings);
out:
	free(leaves);
	sodium_memzero(tok, sizeof(tok));
	return e;
}
