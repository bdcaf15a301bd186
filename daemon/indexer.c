/*
 * indexer.c: the start-up catch-up of the secondary indexes (indexer.h). Reads leaves and
 * opens their disclosures at rest in memory only, to make blind tokens; the clear values
 * are wiped at once and nothing personal is logged or returned.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "bytes.h"
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

/* Appends every leaf posted under (f, value), ascending, to the list *all (*n of *cap). */
static saksi_err
term_leaves(MDB_txn *mt, MDB_dbi dbi, saksi_index_field f, const char *value, uint64_t **all,
            size_t *n, size_t *cap)
{
	saksi_index_term term = { f, value };
	saksi_index_query q;
	saksi_index_hit hits[256];
	uint64_t *grown;
	size_t got;
	int more = 1;
	saksi_err e;

	memset(&q, 0, sizeof(q));
	q.iq_terms = &term;
	q.iq_nterms = 1;
	q.iq_until_ms = UINT64_MAX;
	while (more) {
		if ((e = saksi_index_query_run(mt, dbi, &q, hits, 256, &got, &more)) != SAKSI_OK)
			return e;
		if (*n + got > *cap) {
			*cap = (*n + got) * 2;
			if ((grown = realloc(*all, *cap * sizeof(**all))) == NULL)
				return SAKSI_ERR_NOMEM;
			*all = grown;
		}
		for (size_t i = 0; i < got; i++)
			(*all)[(*n)++] = hits[i].ih_index;
		if (got > 0) {
			q.iq_after = hits[got - 1].ih_index;
			q.iq_has_after = 1;
		}
	}
	return SAKSI_OK;
}

/* Every leaf posted under the token, ascending (malloc'd list in *out). */
static saksi_err
forget_leaves(MDB_txn *mt, MDB_dbi dbi, const char *tok, uint64_t **out, size_t *n)
{
	size_t cap = 0;
	saksi_err e;

	*out = NULL;
	*n = 0;
	if ((e = term_leaves(mt, dbi, SAKSI_IX_NIK, tok, out, n, &cap)) != SAKSI_OK) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return e;
}

/*
 * What a forget does to the disclosures at rest of the entries it reaches beyond his
 * data key's (FORMATS.md 7.4, "Forget"): his data key (slot, key) re-seals them, so that
 * they go with it when the slot is wiped after the commit.
 */
struct reseal {
	int rs_on;                    /* 0: no data key (v1-only saksid): nothing re-sealed */
	uint64_t rs_slot;
	uint8_t *rs_key;              /* sodium_malloc'd, SAKSI_DK_KEYLEN */
	uint64_t rs_v1, rs_store;     /* blobs re-sealed: v1, and v2 under the store key */
};

/* 1 if the disclosures JSON array has a `nik` disclosure (whoever's). */
static int
has_nik(const char *plain, size_t len)
{
	json_t *a, *v;
	size_t i;
	int found = 0;

	if ((a = json_loadb(plain, len, 0, NULL)) == NULL)
		return 0;
	json_array_foreach(a, i, v) {
		char *name = NULL, *value = NULL;

		if (json_is_string(v) && saksi_disclosure_decode(json_string_value(v),
		    json_string_length(v), &name, &value) == SAKSI_OK)
			found = strcmp(name, "nik") == 0;
		if (value != NULL) {
			sodium_memzero(value, strlen(value));
			free(value);
		}
		free(name);
		if (found)
			break;
	}
	json_decref(a);
	return found;
}

/*
 * Replaces the stored blob of leaf i (FORMATS.md 7, db `disc`, key: the index, 8 bytes
 * big-endian) in the forget's transaction. saksi_ledger_disc_put never overwrites, which
 * is right for appends; a forget is the one writer that must.
 */
static saksi_err
disc_replace(saksi_ledger_txn *txn, uint64_t i, const uint8_t *blob, size_t len)
{
	MDB_txn *mt = saksi_ledger_txn_mdb(txn);
	uint8_t k[8];
	MDB_val key = { sizeof(k), k }, val = { len, (void *)blob };
	MDB_dbi dbi;
	int rc;

	if (mt == NULL)
		return SAKSI_ERR_LEDGER;
	saksi_put_u64(k, i);
	if ((rc = mdb_dbi_open(mt, "disc", 0, &dbi)) == 0)
		rc = mdb_put(mt, dbi, &key, &val, 0);
	return rc == 0 ? SAKSI_OK : rc == MDB_MAP_FULL ? SAKSI_ERR_FULL : SAKSI_ERR_LEDGER;
}

/* Re-seals the opened disclosures of leaf i under his data key, if the blob is v1 or a
 * v2 blob of the store key (his own v2 blobs already go with his key). */
static saksi_err
reseal_one(saksi_ledger_txn *txn, struct reseal *rs, uint64_t i, const saksi_hash h,
           const uint8_t *blob, size_t blen, const char *plain, size_t plen)
{
	uint8_t kid[8], *out;
	size_t cap, w = 0;
	uint64_t id;
	int kind;
	saksi_err e;

	if (!rs->rs_on)
		return SAKSI_OK;
	if (blob[0] == 2) {
		if (saksi_disc2_key(blob, blen, &kind, &id) != SAKSI_OK || kind != SAKSI_DK_STORE)
			return SAKSI_OK;
		rs->rs_store++;
	} else
		rs->rs_v1++;
	cap = saksi_disc2_bound(plen);
	if ((out = malloc(cap)) == NULL)
		return SAKSI_ERR_NOMEM;
	saksi_put_u64(kid, rs->rs_slot);
	e = saksi_disc2_seal(SAKSI_DK_DATA, kid, rs->rs_key, i, h, (const uint8_t *)plain,
	                     plen, out, cap, &w);
	if (e == SAKSI_OK)
		e = disc_replace(txn, i, out, w);
	free(out);
	return e == SAKSI_ERR_FORMAT ? SAKSI_OK : e;   /* a v1 list kept as received */
}

/*
 * Removes the personal postings of entry i, and re-seals its disclosures under his data
 * key (rs). A related entry (of his claim or booking, found by its id, not by his NIK) is
 * left alone when its disclosures name a NIK: then it is someone's own, not his.
 */
static saksi_err
forget_one(saksi_ledger_txn *txn, MDB_dbi dbi, const saksi_blind *b, const saksi_seckey *store,
           saksi_datakeys *dk, uint64_t i, saksid_index_forgot *st, struct reseal *rs,
           int related)
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
	saksi_merkle_leaf_hash(h, leaf, len);
	e = saksi_ledger_disc_get(txn, i, &blob, &blen);
	if (e == SAKSI_OK) {
		if (saksi_disc_open_any(store, dk, i, h, blob, blen, &plain, &plen) != SAKSI_OK) {
			plain = NULL;
			plen = 0;
		}
	} else if (e != SAKSI_ERR_NOT_FOUND) {
		free(leaf);
		return e;
	}
	if (related && (plain == NULL || has_nik(plain, plen))) {
		e = SAKSI_OK;   /* nothing of his to take, or another participant's entry */
		goto out;
	}
	if (related)
		st->if_related++;
	if (plain == NULL)
		st->if_unopened++;   /* the NIK key's drop still takes this entry's posting */
	e = saksi_index_unpost_personal(saksi_ledger_txn_mdb(txn), dbi, b, i, lf.lf_body,
	    lf.lf_body_len, (const uint8_t *)plain, plen, &st->if_postings);
	if (e == SAKSI_ERR_FORMAT)
		e = SAKSI_OK;
	if (e == SAKSI_OK && plain != NULL)
		e = reseal_one(txn, rs, i, h, blob, blen, plain, plen);
out:
	if (plain != NULL) {
		sodium_memzero(plain, plen);
		free(plain);
	}
	free(blob);
	free(leaf);
	return e;
}

/* The claim_id and booking_id of his entries (non-personal: in the payload), as index
 * terms into ids (strings malloc'd). */
static saksi_err
forget_ids(saksi_ledger_txn *txn, const uint64_t *leaves, size_t n, json_t *ids)
{
	static const char *const names[] = { "claim_id", "booking_id" };

	for (size_t k = 0; k < n; k++) {
		uint8_t *leaf = NULL;
		size_t len;
		saksi_leaf lf;
		saksi_envelope env;
		json_t *p;
		saksi_err e;

		if ((e = saksi_ledger_leaf(txn, leaves[k], &leaf, &len)) != SAKSI_OK)
			return e;
		if (saksi_leaf_parse(leaf, len, &lf) == SAKSI_OK && lf.lf_kind == SAKSI_LEAF_EVENT &&
		    saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &env) == SAKSI_OK &&
		    (p = json_loadb((const char *)env.ev_payload, env.ev_payload_len, 0,
		                    NULL)) != NULL) {
			for (size_t f = 0; f < 2; f++) {
				json_t *v = json_object_get(p, names[f]), *a;
				char key[2] = { names[f][0], 0 };

				if (!json_is_string(v) || json_string_length(v) == 0)
					continue;
				if ((a = json_object_get(ids, key)) == NULL) {
					a = json_object();
					json_object_set_new(ids, key, a);
				}
				json_object_set_new(a, json_string_value(v), json_true());
			}
			json_decref(p);
		}
		free(leaf);
	}
	return SAKSI_OK;
}

/* His slot and data key, from the newest of his entries sealed with one: the forget
 * request itself, which saksid sealed with his key in this transaction. */
static saksi_err
forget_key(saksi_ledger_txn *txn, saksi_datakeys *dk, const uint64_t *leaves, size_t n,
           struct reseal *rs)
{
	for (size_t k = n; k > 0 && dk != NULL; k--) {
		uint8_t *blob = NULL;
		size_t blen;
		uint64_t slot;
		int kind;
		saksi_err e;

		e = saksi_ledger_disc_get(txn, leaves[k - 1], &blob, &blen);
		if (e == SAKSI_ERR_NOT_FOUND)
			continue;
		if (e != SAKSI_OK)
			return e;
		e = saksi_disc2_key(blob, blen, &kind, &slot);
		free(blob);
		if (e != SAKSI_OK || kind != SAKSI_DK_DATA)
			continue;
		e = saksi_dk_get(dk, slot, rs->rs_key);
		if (e == SAKSI_OK) {
			rs->rs_on = 1;
			rs->rs_slot = slot;
			return SAKSI_OK;
		}
		if (e != SAKSI_ERR_NOT_FOUND && e != SAKSI_ERR_DECRYPT)
			return e;
	}
	return SAKSI_OK;   /* no live key of his: nothing to re-seal under */
}

saksi_err
saksid_index_forget(saksi_ledger_txn *txn, MDB_dbi dbi, const saksi_blind *b,
                    const saksi_seckey *store, saksi_datakeys *dk, const uint8_t *disc,
                    size_t disc_len, saksid_index_forgot *stp)
{
	saksid_index_forgot local;
	saksid_index_forgot *st = stp != NULL ? stp : &local;
	char tok[SAKSI_BLIND_TOKEN_LEN + 1];
	uint64_t *leaves = NULL, *rel = NULL;
	size_t n = 0, nrel = 0, relcap = 0;
	struct reseal rs;
	json_t *ids = NULL, *set, *x;
	const char *id;
	MDB_txn *mt;
	saksi_err e;

	memset(st, 0, sizeof(*st));
	memset(&rs, 0, sizeof(rs));
	if (txn == NULL || b == NULL || store == NULL || disc == NULL ||
	    (mt = saksi_ledger_txn_mdb(txn)) == NULL)
		return SAKSI_ERR_INVAL;
	if (!saksi_index_nik_token(b, disc, disc_len, tok))
		return SAKSI_OK;
	if ((rs.rs_key = sodium_malloc(SAKSI_DK_KEYLEN)) == NULL ||
	    (ids = json_object()) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	/* Collected first: the removals below would move a cursor walking the key. */
	if ((e = forget_leaves(mt, dbi, tok, &leaves, &n)) != SAKSI_OK ||
	    (e = forget_key(txn, dk, leaves, n, &rs)) != SAKSI_OK ||
	    (e = forget_ids(txn, leaves, n, ids)) != SAKSI_OK)
		goto out;
	/* The entries of his claims and bookings that do not name him (a call, a payment):
	 * found by the id before any of his postings go. */
	for (size_t f = 0; f < 2 && e == SAKSI_OK; f++) {
		set = json_object_get(ids, f == 0 ? "c" : "b");
		json_object_foreach(set, id, x) {
			if ((e = term_leaves(mt, dbi, f == 0 ? SAKSI_IX_CLAIM : SAKSI_IX_BOOKING, id,
			                     &rel, &nrel, &relcap)) != SAKSI_OK)
				break;
		}
	}
	st->if_entries = n;
	for (size_t i = 0; i < n && e == SAKSI_OK; i++)
		e = forget_one(txn, dbi, b, store, dk, leaves[i], st, &rs, 0);
	for (size_t i = 0; i < nrel && e == SAKSI_OK; i++) {
		int his = 0, dup = 0;

		for (size_t k = 0; k < n && !his; k++)
			his = leaves[k] == rel[i];
		for (size_t k = 0; k < i && !dup; k++)
			dup = rel[k] == rel[i];   /* a claim's entry that names his booking too */
		if (!his && !dup)
			e = forget_one(txn, dbi, b, store, dk, rel[i], st, &rs, 1);
	}
	if (e == SAKSI_OK)
		e = saksi_index_drop(mt, dbi, SAKSI_IX_NIK, tok, &st->if_postings);
	st->if_resealed_v1 = rs.rs_v1;
	st->if_resealed_store = rs.rs_store;
out:
	json_decref(ids);
	free(leaves);
	free(rel);
	sodium_free(rs.rs_key);
	sodium_memzero(tok, sizeof(tok));
	return e;
}
