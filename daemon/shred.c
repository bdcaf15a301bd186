/*
 * shred.c: participants' data keys inside the committer's transaction, and their
 * destruction after it (FORMATS.md 7.2, 7.3). A clear NIK exists here only for the moment
 * it takes to turn it into a token, in memory that is wiped; nothing is logged.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>

#include "blind.h"
#include "bytes.h"
#include "envelope.h"
#include "index.h"
#include "shred.h"
#include "wire.h"

#define DKEY_DB "dkey"
#define TOKEN_KEY_CTX "saksi/datakey-token/v1\n"
/* Records of DKEY_DB, by their first byte (FORMATS.md 7.3). */
#define R_NEXT 'c'     /* 'c' -> next slot (8) */
#define R_BACKFILL 'b' /* 'b' -> next leaf to back-fill (8) */
#define R_NIK 'n'      /* 'n' || token (43) -> slot (8) || last producer time (8) ||
                          index of that latest event (8) */
#define NIK_VAL 24
#define R_PENDING 'p'  /* 'p' || slot (8) -> empty: wipe this slot */
#define R_LINK 'l'     /* 'l' || H(kind || id) (32) -> slot (8) || token (43) */
#define R_RLINK 'r'    /* 'r' || slot (8) || H (32) -> empty: the links of a slot */
#define LINK_KEY_CTX "saksi/datakey-link/v1\n"
#define LINK_H 32
#define LINK_VAL (8 + SAKSI_BLIND_TOKEN_LEN)
#define PREP_POOL 16   /* compression contexts kept for the workers */
/* Data keys made ahead (FORMATS.md 7.3): a batch of fresh slots written and synced at
 * start; after each group, while fewer than two batches are written ahead, a chunk more
 * is written, and a thread of its own syncs them, so that neither the write of a batch
 * nor its sync holds up a group, and a group of up to 512 new participants (saksid's
 * group_max) finds its slots made. */
#define SLOT_BATCH 1024
#define SLOT_CHUNK 256    /* written after one group: ~0.2 ms of the committer's CPU */

struct saksid_shred {
	saksi_datakeys *s_dk;
	const saksi_seckey *s_store;
	saksi_blind *s_tok;        /* keyed by a key derived from the store key */
	uint8_t *s_lkey;           /* sodium_malloc: link key, derived from the store key */
	uint8_t *s_key;            /* sodium_malloc: one data key at a time */
	uint8_t *s_blob;           /* one sealed blob */
	saksi_disc2_ctx *s_zctx;
	size_t s_blob_cap;
	/*
	 * The pool: slots [counter, s_synced) are made and synced, handed to no one; up to
	 * s_written they are written, waiting for the syncing thread. s_hi is one past the
	 * last slot handed out by this process: a counter below it means those slots went to
	 * a transaction that did not commit, and they are made anew before anyone gets them
	 * (their keys may have sealed data that is not the ledger's).
	 */
	int s_pool_ok;
	uint64_t s_written, s_hi;
	_Atomic uint64_t s_synced;
	uint64_t s_fills;
	/* The syncing thread: s_sreq is what it was asked to sync up to, s_sdone what it
	 * finished (both under s_smu); s_sfail a sync that failed (the pool is made anew). */
	pthread_mutex_t s_smu;
	pthread_cond_t s_scv;
	pthread_t s_sth;
	int s_sth_on, s_sstop, s_sfail;
	uint64_t s_sreq, s_sdone;
	int s_pending;             /* a forget was marked since the last finish */
	uint64_t s_wiped;
	/* Compression contexts for saksid_shred_prepare, one per worker at a time. */
	pthread_mutex_t s_pmu;
	saksi_disc2_ctx *s_pool[PREP_POOL];
	size_t s_npool;
};

/* What saksid_shred_store needs of an event besides its place (shred.h). */
struct saksid_shred_prep {
	int sp_forget;
	int sp_have_tok;
	char sp_tok[SAKSI_BLIND_TOKEN_LEN + 1];
	size_t sp_nh;
	uint8_t sp_hs[2][LINK_H];
	size_t sp_pt_len, sp_pt_cap;
	uint8_t sp_pt[];            /* the disclosures packed (saksi_disc2_pack) */
};

static saksi_err
mdb_err(int rc)
{
	if (rc == MDB_MAP_FULL)
		return SAKSI_ERR_FULL;
	if (rc == ENOMEM)
		return SAKSI_ERR_NOMEM;
	return SAKSI_ERR_LEDGER;
}

saksi_err
saksid_shred_new(saksi_datakeys *dk, const saksi_seckey *store, saksid_shred **out)
{
	saksid_shred *s;
	uint8_t *tk;
	saksi_err e;

	*out = NULL;
	if (dk == NULL)
		return SAKSI_ERR_INVAL;
	if (store == NULL || saksi_seckey_kind(store) != SAKSI_KEY_SYM)
		return SAKSI_ERR_KEY;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return SAKSI_ERR_NOMEM;
	if (pthread_mutex_init(&s->s_pmu, NULL) != 0) {
		free(s);
		return SAKSI_ERR_NOMEM;
	}
	if (pthread_mutex_init(&s->s_smu, NULL) != 0) {
		pthread_mutex_destroy(&s->s_pmu);
		free(s);
		return SAKSI_ERR_NOMEM;
	}
	if (pthread_cond_init(&s->s_scv, NULL) != 0) {
		pthread_mutex_destroy(&s->s_smu);
		pthread_mutex_destroy(&s->s_pmu);
		free(s);
		return SAKSI_ERR_NOMEM;
	}
	s->s_dk = dk;
	s->s_store = store;
	s->s_blob_cap = saksi_disc2_bound(SAKSI_SEALED_MAX);
	s->s_key = sodium_malloc(SAKSI_DK_KEYLEN);
	s->s_lkey = sodium_malloc(crypto_generichash_KEYBYTES);
	s->s_blob = malloc(s->s_blob_cap);
	tk = sodium_malloc(SAKSI_BLIND_KEYLEN);
	if (saksi_disc2_ctx_new(&s->s_zctx) != SAKSI_OK || s->s_key == NULL ||
	    s->s_lkey == NULL || s->s_blob == NULL || tk == NULL) {
		sodium_free(tk);
		saksid_shred_free(s);
		return SAKSI_ERR_NOMEM;
	}
	/* Its own token key: the index key is optional, forgetting is not. */
	crypto_generichash(tk, SAKSI_BLIND_KEYLEN, (const uint8_t *)TOKEN_KEY_CTX,
	                   sizeof(TOKEN_KEY_CTX) - 1, saksi_seckey_sym(store), 32);
	/* The links (claim or booking id -> slot) are as opaque as the NIK tokens. */
	crypto_generichash(s->s_lkey, crypto_generichash_KEYBYTES,
	                   (const uint8_t *)LINK_KEY_CTX, sizeof(LINK_KEY_CTX) - 1,
	                   saksi_seckey_sym(store), 32);
	e = saksi_blind_new(tk, &s->s_tok);
	sodium_free(tk);
	if (e != SAKSI_OK) {
		saksid_shred_free(s);
		return e;
	}
	*out = s;
	return SAKSI_OK;
}

void
saksid_shred_free(saksid_shred *s)
{
	if (s == NULL)
		return;
	if (s->s_sth_on) {
		pthread_mutex_lock(&s->s_smu);
		s->s_sstop = 1;
		pthread_cond_signal(&s->s_scv);
		pthread_mutex_unlock(&s->s_smu);
		pthread_join(s->s_sth, NULL);
	}
	pthread_cond_destroy(&s->s_scv);
	pthread_mutex_destroy(&s->s_smu);
	saksi_blind_free(s->s_tok);
	saksi_disc2_ctx_free(s->s_zctx);
	for (size_t i = 0; i < s->s_npool; i++)
		saksi_disc2_ctx_free(s->s_pool[i]);
	pthread_mutex_destroy(&s->s_pmu);
	sodium_free(s->s_key);
	sodium_free(s->s_lkey);
	if (s->s_blob != NULL) {
		sodium_memzero(s->s_blob, s->s_blob_cap);
		free(s->s_blob);
	}
	free(s);
}

uint64_t
saksid_shred_wiped(const saksid_shred *s)
{
	return s->s_wiped;
}

/* The token of the `nik` among the names and values ingest decoded, in the disclosures'
 * order (saksi_index_nik_token's answer for the same list); 0 if none normalises. */
static int
nik_token_of(const saksid_shred *s, char *const *names, char *const *values, size_t nd,
             char tok[SAKSI_BLIND_TOKEN_LEN + 1])
{
	for (size_t i = 0; i < nd; i++)
		if (strcmp(names[i], "nik") == 0 &&
		    saksi_blind_token(s->s_tok, SAKSI_BLIND_NIK, values[i], strlen(values[i]),
		                      tok) == SAKSI_OK)
			return 1;
	return 0;
}

/* A counter of the dkey db under the one-byte key k (R_NEXT, R_BACKFILL): 0 while it
 * was never written. */
static saksi_err
counter_get(MDB_txn *mt, MDB_dbi dbi, uint8_t k, uint64_t *v)
{
	MDB_val key = { 1, &k }, val;
	int rc;

	rc = mdb_get(mt, dbi, &key, &val);
	if (rc == MDB_NOTFOUND) {
		*v = 0;
		return SAKSI_OK;
	}
	if (rc != 0)
		return mdb_err(rc);
	if (val.mv_size != 8)
		return SAKSI_ERR_CORRUPT;
	*v = saksi_get_u64(val.mv_data);
	return SAKSI_OK;
}

static saksi_err
counter_put(MDB_txn *mt, MDB_dbi dbi, uint8_t k, uint64_t v)
{
	uint8_t b[8];
	MDB_val key = { 1, &k }, val = { sizeof(b), b };
	int rc;

	saksi_put_u64(b, v);
	if ((rc = mdb_put(mt, dbi, &key, &val, 0)) != 0)
		return mdb_err(rc);
	return SAKSI_OK;
}

/* counter_get in txn's ledger, where the dkey db may not exist yet (0 then). */
static saksi_err
txn_counter(saksi_ledger_txn *txn, uint8_t k, uint64_t *v)
{
	MDB_txn *mt;
	MDB_dbi dbi;
	int rc;

	*v = 0;
	if ((mt = saksi_ledger_txn_mdb(txn)) == NULL)
		return SAKSI_ERR_LEDGER;
	if ((rc = mdb_dbi_open(mt, DKEY_DB, 0, &dbi)) == MDB_NOTFOUND)
		return SAKSI_OK;
	if (rc != 0)
		return mdb_err(rc);
	return counter_get(mt, dbi, k, v);
}

/* The counter "c": the first slot no committed entry refers to. */
static saksi_err
next_get(MDB_txn *mt, MDB_dbi dbi, uint64_t *next)
{
	return counter_get(mt, dbi, R_NEXT, next);
}

/*
 * Makes the pool anew from next, the counter: every slot from it to the end of the file
 * (made ahead by an earlier run, or handed to a transaction that did not commit) gets a
 * fresh key, synced, before any of them is handed out.
 */
static void
synced_raise(saksid_shred *s, uint64_t to)
{
	uint64_t cur = atomic_load(&s->s_synced);

	while (cur < to && !atomic_compare_exchange_weak(&s->s_synced, &cur, to))
		;
}

static saksi_err
pool_remake(saksid_shred *s, uint64_t next)
{
	uint64_t end = saksi_dk_slots(s->s_dk), n = SLOT_BATCH;
	saksi_err e;

	if (s->s_hi > end)
		end = s->s_hi;
	if (s->s_written > end)
		end = s->s_written;
	if (end > next && end - next > n)
		n = end - next;
	if (n > SAKSI_DK_SLOTS_MAX - next)
		n = SAKSI_DK_SLOTS_MAX - next;
	if (n == 0)
		return SAKSI_ERR_FULL;
	s->s_pool_ok = 0;
	if ((e = saksi_dk_fill(s->s_dk, next, n, 1)) != SAKSI_OK)
		return e;
	/* Everything up to next + n is new and synced; the syncing thread may still raise
	 * s_synced to a mark below that, never above what was written. */
	s->s_pool_ok = 1;
	s->s_written = next + n;
	atomic_store(&s->s_synced, next + n);
	s->s_hi = next;
	s->s_fills++;
	return SAKSI_OK;
}

/* A new slot from the counter, made ahead and synced, with its data key in s_key. */
static saksi_err
new_slot(saksid_shred *s, MDB_txn *mt, MDB_dbi dbi, uint64_t *slot)
{
	saksi_err e;

	if ((e = next_get(mt, dbi, slot)) != SAKSI_OK)
		return e;
	if (*slot >= SAKSI_DK_SLOTS_MAX)
		return SAKSI_ERR_FULL;
	/* No pool yet, used up, or handed to a transaction that did not commit: made here,
	 * synced, as every slot was before the pool (saksid_shred_refill keeps this rare). */
	if (!s->s_pool_ok || *slot < s->s_hi || *slot >= atomic_load(&s->s_synced)) {
		if ((e = pool_remake(s, *slot)) != SAKSI_OK)
			return e;
	}
	if ((e = counter_put(mt, dbi, R_NEXT, *slot + 1)) != SAKSI_OK)
		return e;
	/* From here the slot is this transaction's: if it does not commit, the slot is
	 * made anew before it is handed again (s_hi). */
	s->s_hi = *slot + 1;
	return saksi_dk_get(s->s_dk, *slot, s->s_key);
}

/* The syncing thread: fdatasync of the slot file up to what it is asked, then the pool
 * grows to it. It touches nothing but the file's descriptor (saksi_dk_datasync). */
static void *
sync_main(void *arg)
{
	saksid_shred *s = arg;
	uint64_t to;
	saksi_err e;

	pthread_mutex_lock(&s->s_smu);
	for (;;) {
		while (!s->s_sstop && s->s_sreq <= s->s_sdone)
			pthread_cond_wait(&s->s_scv, &s->s_smu);
		if (s->s_sstop)
			break;
		to = s->s_sreq;
		pthread_mutex_unlock(&s->s_smu);
		e = saksi_dk_datasync(s->s_dk);
		pthread_mutex_lock(&s->s_smu);
		s->s_sdone = to;
		if (e == SAKSI_OK)
			synced_raise(s, to);
		else
			s->s_sfail = 1;
	}
	pthread_mutex_unlock(&s->s_smu);
	return NULL;
}

saksi_err
saksid_shred_refill(saksid_shred *s, saksi_ledger *l)
{
	saksi_ledger_txn *txn;
	MDB_txn *mt;
	MDB_dbi dbi;
	uint64_t next, n;
	int fail, idle;
	saksi_err e;
	int rc;

	pthread_mutex_lock(&s->s_smu);
	fail = s->s_sfail;
	s->s_sfail = 0;
	idle = s->s_sreq <= s->s_sdone;
	pthread_mutex_unlock(&s->s_smu);
	/* A failed sync: what it covered may not be on disk, whatever a later sync says. */
	if (fail)
		s->s_pool_ok = 0;
	if (s->s_pool_ok) {
		/* Ahead of the counter, beyond the pool: nothing refers to these slots. */
		if (s->s_written - s->s_hi < 2 * SLOT_BATCH && s->s_written < SAKSI_DK_SLOTS_MAX) {
			n = SAKSI_DK_SLOTS_MAX - s->s_written < SLOT_CHUNK ?
			    SAKSI_DK_SLOTS_MAX - s->s_written : SLOT_CHUNK;
			if ((e = saksi_dk_fill(s->s_dk, s->s_written, n, 0)) != SAKSI_OK)
				return e;
			s->s_written += n;
			s->s_fills++;
		}
		/* Synced by the thread, a batch at a time (each sync meets LMDB's on the
		 * disk), or at once when running low. */
		if (idle && s->s_written > atomic_load(&s->s_synced) &&
		    (s->s_written - atomic_load(&s->s_synced) >= SLOT_BATCH ||
		     atomic_load(&s->s_synced) - s->s_hi < SLOT_BATCH / 2)) {
			if (!s->s_sth_on) {
				if (pthread_create(&s->s_sth, NULL, sync_main, s) != 0)
					return SAKSI_ERR_NOMEM;   /* new_slot makes and syncs its own */
				s->s_sth_on = 1;
			}
			pthread_mutex_lock(&s->s_smu);
			s->s_sreq = s->s_written;
			pthread_cond_signal(&s->s_scv);
			pthread_mutex_unlock(&s->s_smu);
		}
		return SAKSI_OK;
	}
	/* At start (or after a failed sync): the counter as committed, and every slot from
	 * it made anew. */
	if ((e = saksi_ledger_begin(l, 0, &txn)) != SAKSI_OK)
		return e;
	if ((mt = saksi_ledger_txn_mdb(txn)) == NULL)
		e = SAKSI_ERR_LEDGER;
	else if ((rc = mdb_dbi_open(mt, DKEY_DB, 0, &dbi)) == MDB_NOTFOUND)
		next = 0;
	else if (rc != 0)
		e = mdb_err(rc);
	else
		e = next_get(mt, dbi, &next);
	saksi_ledger_abort(txn);
	if (e != SAKSI_OK)
		return e;
	if (next >= SAKSI_DK_SLOTS_MAX)
		return SAKSI_OK;
	return pool_remake(s, next);
}

uint64_t
saksid_shred_fills(const saksid_shred *s)
{
	return s->s_fills;
}

void
saksid_shred_pool_marks(const saksid_shred *s, uint64_t *synced, uint64_t *written)
{
	*synced = atomic_load(&((saksid_shred *)s)->s_synced);
	*written = s->s_written;
}

saksi_err
saksid_shred_given(saksi_ledger_txn *txn, uint64_t *n)
{
	return txn_counter(txn, R_NEXT, n);
}

/*
 * The ids an event's entries are linked by (FORMATS.md 7.3): its claim_id, then its
 * booking_id, from the payload (not personal: they are in the clear in the leaf), each
 * as H = BLAKE2b-256(key = the link key, kind || id), kind 'c' or 'b'. The count (0..2).
 */
static size_t
link_hashes_of(const saksid_shred *s, const json_t *p, uint8_t hs[2][LINK_H])
{
	static const char *const names[] = { "claim_id", "booking_id" };
	json_t *v;
	size_t n = 0;

	for (size_t f = 0; f < 2; f++) {
		crypto_generichash_state st;
		uint8_t kind = (uint8_t)names[f][0];

		v = json_object_get(p, names[f]);
		if (!json_is_string(v) || json_string_length(v) == 0)
			continue;
		crypto_generichash_init(&st, s->s_lkey, crypto_generichash_KEYBYTES, LINK_H);
		crypto_generichash_update(&st, &kind, 1);
		crypto_generichash_update(&st, (const uint8_t *)json_string_value(v),
		                          json_string_length(v));
		crypto_generichash_final(&st, hs[n++], LINK_H);
	}
	return n;
}

static size_t
link_hashes(const saksid_shred *s, const saksi_envelope *env, uint8_t hs[2][LINK_H])
{
	json_t *p;
	size_t n;

	p = json_loadb((const char *)env->ev_payload, env->ev_payload_len, 0, NULL);
	if (p == NULL)
		return 0;
	n = link_hashes_of(s, p, hs);
	json_decref(p);
	return n;
}

/* Links each id of a participant's event to his slot (the newest participant of an id
 * wins), with the reverse record a forget deletes them by. */
static saksi_err
link_put(MDB_txn *mt, MDB_dbi dbi, uint8_t hs[2][LINK_H], size_t nh, uint64_t slot,
         const char tok[SAKSI_BLIND_TOKEN_LEN])
{
	uint8_t lk[1 + LINK_H], lv[LINK_VAL], rk[1 + 8 + LINK_H];
	MDB_val key, val;
	int rc;

	for (size_t i = 0; i < nh; i++) {
		lk[0] = R_LINK;
		memcpy(lk + 1, hs[i], LINK_H);
		key.mv_size = sizeof(lk);
		key.mv_data = lk;
		rc = mdb_get(mt, dbi, &key, &val);
		if (rc == 0 && val.mv_size == LINK_VAL &&
		    saksi_get_u64(val.mv_data) != slot) {
			/* Someone else's id before: his reverse record goes with the link. */
			rk[0] = R_RLINK;
			memcpy(rk + 1, val.mv_data, 8);
			memcpy(rk + 9, hs[i], LINK_H);
			key.mv_size = sizeof(rk);
			key.mv_data = rk;
			if ((rc = mdb_del(mt, dbi, &key, NULL)) != 0 && rc != MDB_NOTFOUND)
				return mdb_err(rc);
		} else if (rc != 0 && rc != MDB_NOTFOUND)
			return mdb_err(rc);
		saksi_put_u64(lv, slot);
		memcpy(lv + 8, tok, SAKSI_BLIND_TOKEN_LEN);
		key.mv_size = sizeof(lk);
		key.mv_data = lk;
		val.mv_size = sizeof(lv);
		val.mv_data = lv;
		if ((rc = mdb_put(mt, dbi, &key, &val, 0)) != 0)
			return mdb_err(rc);
		rk[0] = R_RLINK;
		saksi_put_u64(rk + 1, slot);
		memcpy(rk + 9, hs[i], LINK_H);
		key.mv_size = sizeof(rk);
		key.mv_data = rk;
		val.mv_size = 0;
		val.mv_data = NULL;
		if ((rc = mdb_put(mt, dbi, &key, &val, 0)) != 0)
			return mdb_err(rc);
	}
	return SAKSI_OK;
}

/*
 * The slot an event without a `nik` belongs to, through the first of its ids that is
 * linked to a live slot, with its data key in s_key; *found 0 if none (the store key).
 * Refreshes that participant's latest time: a payment of his claim is his business with
 * the service, so retention counts from it too (the "n" record's index stays that of his
 * own latest event, which retention reads his NIK back from).
 */
static saksi_err
link_get(saksid_shred *s, MDB_txn *mt, MDB_dbi dbi, uint8_t hs[2][LINK_H], size_t nh,
         uint64_t time_ms, uint64_t *slot, int *found)
{
	uint8_t lk[1 + LINK_H], nk[1 + SAKSI_BLIND_TOKEN_LEN], nv[NIK_VAL];
	MDB_val key, val;
	saksi_err e;
	int rc;

	*found = 0;
	for (size_t i = 0; i < nh && !*found; i++) {
		lk[0] = R_LINK;
		memcpy(lk + 1, hs[i], LINK_H);
		key.mv_size = sizeof(lk);
		key.mv_data = lk;
		if ((rc = mdb_get(mt, dbi, &key, &val)) == MDB_NOTFOUND)
			continue;
		if (rc != 0)
			return mdb_err(rc);
		if (val.mv_size != LINK_VAL)
			return SAKSI_ERR_CORRUPT;
		*slot = saksi_get_u64(val.mv_data);
		nk[0] = R_NIK;
		memcpy(nk + 1, (const uint8_t *)val.mv_data + 8, SAKSI_BLIND_TOKEN_LEN);
		e = saksi_dk_get(s->s_dk, *slot, s->s_key);
		if (e == SAKSI_ERR_NOT_FOUND || e == SAKSI_ERR_DECRYPT)
			continue;   /* a forget deletes its links: cannot happen */
		if (e != SAKSI_OK)
			return e;
		*found = 1;
		key.mv_size = sizeof(nk);
		key.mv_data = nk;
		rc = mdb_get(mt, dbi, &key, &val);
		if (rc == 0 && val.mv_size == NIK_VAL && saksi_get_u64(val.mv_data) == *slot &&
		    saksi_get_u64((const uint8_t *)val.mv_data + 8) < time_ms) {
			memcpy(nv, val.mv_data, NIK_VAL);
			saksi_put_u64(nv + 8, time_ms);
			val.mv_size = sizeof(nv);
			val.mv_data = nv;
			if ((rc = mdb_put(mt, dbi, &key, &val, 0)) != 0)
				return mdb_err(rc);
		} else if (rc != 0 && rc != MDB_NOTFOUND)
			return mdb_err(rc);
		sodium_memzero(nk, sizeof(nk));
	}
	return SAKSI_OK;
}

/* A forget: every link of slot goes, so a later event of his claims and bookings is
 * sealed with the store key, as for an event without a participant. */
static saksi_err
link_del_slot(MDB_txn *mt, MDB_dbi dbi, uint64_t slot)
{
	uint8_t rk[1 + 8], lk[1 + LINK_H];
	MDB_cursor *cur;
	MDB_val key, val, lkey;
	saksi_err e = SAKSI_OK;
	int rc;

	if ((rc = mdb_cursor_open(mt, dbi, &cur)) != 0)
		return mdb_err(rc);
	rk[0] = R_RLINK;
	saksi_put_u64(rk + 1, slot);
	for (;;) {
		key.mv_size = sizeof(rk);
		key.mv_data = rk;
		if ((rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE)) != 0)
			break;
		if (key.mv_size != 1 + 8 + LINK_H || memcmp(key.mv_data, rk, sizeof(rk)) != 0)
			break;
		lk[0] = R_LINK;
		memcpy(lk + 1, (const uint8_t *)key.mv_data + 9, LINK_H);
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		lkey.mv_size = sizeof(lk);
		lkey.mv_data = lk;
		rc = mdb_get(mt, dbi, &lkey, &val);
		if (rc == 0 && val.mv_size == LINK_VAL && saksi_get_u64(val.mv_data) == slot)
			rc = mdb_del(mt, dbi, &lkey, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		e = mdb_err(rc);
	mdb_cursor_close(cur);
	return e;
}

static saksi_disc2_ctx *
pool_get(saksid_shred *s)
{
	saksi_disc2_ctx *c = NULL;

	pthread_mutex_lock(&s->s_pmu);
	if (s->s_npool > 0)
		c = s->s_pool[--s->s_npool];
	pthread_mutex_unlock(&s->s_pmu);
	if (c == NULL && saksi_disc2_ctx_new(&c) != SAKSI_OK)
		c = NULL;   /* a one-shot compression: the same bytes, slower */
	return c;
}

static void
pool_put(saksid_shred *s, saksi_disc2_ctx *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&s->s_pmu);
	if (s->s_npool < PREP_POOL) {
		s->s_pool[s->s_npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&s->s_pmu);
	saksi_disc2_ctx_free(c);
}

static struct saksid_shred_prep *
prep_alloc(size_t disc_len)
{
	size_t cap = saksi_disc2_pack_bound(disc_len);
	struct saksid_shred_prep *p = calloc(1, sizeof(*p) + cap);

	if (p != NULL)
		p->sp_pt_cap = cap;
	return p;
}

void
saksid_shred_prep_free(saksid_shred_prep *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, sizeof(*p) + p->sp_pt_cap);
	free(p);
}

saksi_err
saksid_shred_prepare(saksid_shred *s, const saksi_envelope *ev, const json_t *payload,
                     char *const *names, char *const *values, size_t nd,
                     const uint8_t *list, size_t list_len, saksid_shred_prep **out)
{
	struct saksid_shred_prep *p;
	saksi_disc2_ctx *c;
	saksi_err e;

	if (out != NULL)
		*out = NULL;
	if (s == NULL || ev == NULL || payload == NULL || (nd > 0 && (names == NULL ||
	    values == NULL)) || list == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	/* The list is never longer than the JSON it came from: the same room as there. */
	if ((p = prep_alloc(list_len)) == NULL)
		return SAKSI_ERR_NOMEM;
	p->sp_forget = strcmp(ev->ev_type, SAKSID_FORGET_TYPE) == 0;
	p->sp_have_tok = nik_token_of(s, names, values, nd, p->sp_tok);
	p->sp_nh = p->sp_forget ? 0 : link_hashes_of(s, payload, p->sp_hs);
	c = pool_get(s);
	e = saksi_disc2_pack_list(c, list, list_len, p->sp_pt, p->sp_pt_cap, &p->sp_pt_len);
	pool_put(s, c);
	if (e != SAKSI_OK) {
		saksid_shred_prep_free(p);
		return e;
	}
	*out = p;
	return SAKSI_OK;
}

/* The same for an item no worker prepared, from its bytes alone. */
static saksi_err
prep_here(saksid_shred *s, const saksid_item *it, struct saksid_shred_prep **out)
{
	struct saksid_shred_prep *p;
	saksi_envelope env;
	saksi_err e;

	*out = NULL;
	if ((e = saksi_envelope_parse(it->it_env, it->it_env_len, &env)) != SAKSI_OK)
		return e;   /* ingest parsed it: cannot happen */
	if ((p = prep_alloc(it->it_disc_len)) == NULL)
		return SAKSI_ERR_NOMEM;
	p->sp_forget = strcmp(env.ev_type, SAKSID_FORGET_TYPE) == 0;
	p->sp_have_tok = saksi_index_nik_token(s->s_tok, it->it_disc, it->it_disc_len,
	                                       p->sp_tok);
	p->sp_nh = p->sp_forget ? 0 : link_hashes(s, &env, p->sp_hs);
	e = saksi_disc2_pack(s->s_zctx, it->it_disc, it->it_disc_len, p->sp_pt, p->sp_pt_cap,
	                     &p->sp_pt_len);
	if (e != SAKSI_OK) {
		saksid_shred_prep_free(p);
		return e;
	}
	*out = p;
	return SAKSI_OK;
}

saksi_err
saksid_shred_store(saksid_shred *s, saksi_ledger_txn *txn, const saksid_item *it,
                   uint64_t idx, const saksi_hash leaf_hash)
{
	struct saksid_shred_prep *p = it->it_shprep, *own = NULL;
	const char *tok;
	uint8_t nk[1 + SAKSI_BLIND_TOKEN_LEN], nv[NIK_VAL], pk[9], kid[8];
	MDB_val key, val;
	MDB_txn *mt;
	MDB_dbi dbi;
	uint64_t slot = 0, last = 0;
	int forget, have_tok, found = 0, rc;
	size_t w = 0, nh;
	saksi_err e = SAKSI_OK;

	if (it->it_disc == NULL)
		return SAKSI_OK;
	if ((mt = saksi_ledger_txn_mdb(txn)) == NULL)
		return SAKSI_ERR_LEDGER;
	/* A retention forget, or an item whose worker was short of memory: made here. */
	if (p == NULL) {
		if ((e = prep_here(s, it, &own)) != SAKSI_OK)
			return e;
		p = own;
	}
	forget = p->sp_forget;
	have_tok = p->sp_have_tok;
	tok = p->sp_tok;
	nh = p->sp_nh;
	if (!have_tok && !forget && nh > 0) {
		/* No `nik`, but his claim or booking: his data key (a payment's account). */
		if ((rc = mdb_dbi_open(mt, DKEY_DB, MDB_CREATE, &dbi)) != 0) {
			e = mdb_err(rc);
			goto out;
		}
		if ((e = link_get(s, mt, dbi, p->sp_hs, nh, it->it_time_ms, &slot, &found)) !=
		    SAKSI_OK)
			goto out;
		if (found) {
			saksi_put_u64(kid, slot);
			e = saksi_disc2_seal_packed(SAKSI_DK_DATA, kid, s->s_key, idx, leaf_hash,
			                            p->sp_pt, p->sp_pt_len, s->s_blob,
			                            s->s_blob_cap, &w);
			goto put;
		}
	}
	if (!have_tok && !forget) {
		/* No participant: the store key, compactly. */
		e = saksi_disc2_seal_packed(SAKSI_DK_STORE, saksi_seckey_id(s->s_store),
		                            saksi_seckey_sym(s->s_store), idx, leaf_hash, p->sp_pt,
		                            p->sp_pt_len, s->s_blob, s->s_blob_cap, &w);
		goto put;
	}
	if ((rc = mdb_dbi_open(mt, DKEY_DB, MDB_CREATE, &dbi)) != 0) {
		e = mdb_err(rc);
		goto out;
	}
	nk[0] = R_NIK;
	if (have_tok) {
		memcpy(nk + 1, tok, SAKSI_BLIND_TOKEN_LEN);
		key.mv_size = sizeof(nk);
		key.mv_data = nk;
		rc = mdb_get(mt, dbi, &key, &val);
		if (rc == 0 && val.mv_size == NIK_VAL) {
			slot = saksi_get_u64(val.mv_data);
			last = saksi_get_u64((const uint8_t *)val.mv_data + 8);
			e = saksi_dk_get(s->s_dk, slot, s->s_key);
			if (e == SAKSI_OK)
				found = 1;
			else if (e != SAKSI_ERR_NOT_FOUND && e != SAKSI_ERR_DECRYPT)
				goto out;
			e = SAKSI_OK;
			/* A mapping to a dead slot (cannot happen): a new key, the old data
			 * stays gone. */
		} else if (rc == 0)
			e = SAKSI_ERR_CORRUPT;
		else if (rc != MDB_NOTFOUND)
			e = mdb_err(rc);
		if (e != SAKSI_OK)
			goto out;
	}
	/* A forget of a participant never seen still gets a slot of its own, wiped with
	 * the rest: the request's NIK must not stay readable either. */
	if (!found && (e = new_slot(s, mt, dbi, &slot)) != SAKSI_OK)
		goto out;
	if (forget) {
		if (have_tok && (rc = mdb_del(mt, dbi, &key, NULL)) != 0 && rc != MDB_NOTFOUND) {
			e = mdb_err(rc);
			goto out;
		}
		if ((e = link_del_slot(mt, dbi, slot)) != SAKSI_OK)
			goto out;
		pk[0] = R_PENDING;
		saksi_put_u64(pk + 1, slot);
		key.mv_size = sizeof(pk);
		key.mv_data = pk;
		val.mv_size = 0;
		val.mv_data = NULL;
		if ((rc = mdb_put(mt, dbi, &key, &val, 0)) != 0) {
			e = mdb_err(rc);
			goto out;
		}
		s->s_pending = 1;
	} else {
		saksi_put_u64(nv, slot);
		saksi_put_u64(nv + 8, it->it_time_ms > last ? it->it_time_ms : last);
		saksi_put_u64(nv + 16, idx);
		val.mv_size = sizeof(nv);
		val.mv_data = nv;
		if ((rc = mdb_put(mt, dbi, &key, &val, 0)) != 0) {
			e = mdb_err(rc);
			goto out;
		}
		if ((e = link_put(mt, dbi, p->sp_hs, nh, slot, tok)) != SAKSI_OK)
			goto out;
	}
	saksi_put_u64(kid, slot);
	e = saksi_disc2_seal_packed(SAKSI_DK_DATA, kid, s->s_key, idx, leaf_hash, p->sp_pt,
	                            p->sp_pt_len, s->s_blob, s->s_blob_cap, &w);
put:
	if (e == SAKSI_OK) {
		if (w > SAKSI_DISC_MAX)
			e = SAKSI_ERR_TOO_LARGE;   /* compaction only shrinks: cannot happen */
		else
			e = saksi_ledger_disc_put(txn, idx, s->s_blob, w);
		sodium_memzero(s->s_blob, w);
	}
out:
	sodium_memzero(s->s_key, SAKSI_DK_KEYLEN);
	sodium_memzero(nk, sizeof(nk));
	saksid_shred_prep_free(own);
	return e;
}

saksi_err
saksid_shred_finish(saksid_shred *s, saksi_ledger *l, int force, uint64_t *n)
{
	saksi_ledger_txn *txn;
	MDB_txn *mt;
	MDB_dbi dbi;
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	uint8_t k = R_PENDING;
	uint64_t wiped = 0;
	saksi_err e;
	int rc;

	if (n != NULL)
		*n = 0;
	if (!force && !s->s_pending)
		return SAKSI_OK;
	if ((e = saksi_ledger_begin(l, 1, &txn)) != SAKSI_OK)
		return e;
	if ((mt = saksi_ledger_txn_mdb(txn)) == NULL) {
		e = SAKSI_ERR_LEDGER;
		goto fail;
	}
	if ((rc = mdb_dbi_open(mt, DKEY_DB, MDB_CREATE, &dbi)) != 0 ||
	    (rc = mdb_cursor_open(mt, dbi, &cur)) != 0) {
		e = mdb_err(rc);
		goto fail;
	}
	/* First destroy, then forget that we must: a crash in between destroys again. */
	key.mv_size = 1;
	key.mv_data = &k;
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (key.mv_size != 9 || ((const uint8_t *)key.mv_data)[0] != R_PENDING)
			break;
		if ((e = saksi_dk_wipe(s->s_dk, saksi_get_u64((const uint8_t *)key.mv_data + 1))) !=
		    SAKSI_OK)
			goto fail;
		wiped++;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		e = mdb_err(rc);
		goto fail;
	}
	if (wiped == 0) {
		mdb_cursor_close(cur);
		saksi_ledger_abort(txn);
		s->s_pending = 0;
		return SAKSI_OK;
	}
	/* The slots are zero on disk; the rotation makes every older copy of them (a
	 * backup, a block a copy-on-write filesystem or an SSD kept) unopenable. */
	if ((e = saksi_dk_sync(s->s_dk)) != SAKSI_OK ||
	    (e = saksi_dk_rotate(s->s_dk, NULL)) != SAKSI_OK)
		goto fail;
	key.mv_size = 1;
	key.mv_data = &k;
	while ((rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE)) == 0 &&
	       key.mv_size == 9 && ((const uint8_t *)key.mv_data)[0] == R_PENDING) {
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		key.mv_size = 1;
		key.mv_data = &k;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		e = mdb_err(rc);
		goto fail;
	}
	mdb_cursor_close(cur);
	cur = NULL;
	if ((e = saksi_ledger_commit(txn)) != SAKSI_OK)
		return e;
	s->s_pending = 0;
	s->s_wiped += wiped;
	if (n != NULL)
		*n = wiped;
	return SAKSI_OK;

fail:
	if (cur != NULL)
		mdb_cursor_close(cur);
	saksi_ledger_abort(txn);
	return e;
}

/* ---- retention ---- */

/* The clear NIK of the participant whose latest event is at idx (malloc'd; the caller
 * wipes it), from that event's disclosures. SAKSI_ERR_NOT_FOUND if it has none. */
static saksi_err
nik_of(saksid_shred *s, saksi_ledger_txn *txn, uint64_t idx, char **nik)
{
	uint8_t *blob = NULL;
	saksi_hash h;
	char *json = NULL;
	size_t bl, jl = 0, i;
	json_t *a = NULL, *v;
	saksi_err e;

	*nik = NULL;
	if ((e = saksi_ledger_disc_get(txn, idx, &blob, &bl)) != SAKSI_OK ||
	    (e = saksi_ledger_node(txn, 0, idx, h)) != SAKSI_OK ||
	    (e = saksi_disc_open_any(s->s_store, s->s_dk, idx, h, blob, bl, &json, &jl)) !=
	    SAKSI_OK)
		goto out;
	e = SAKSI_ERR_NOT_FOUND;
	if ((a = json_loadb(json, jl, 0, NULL)) == NULL)
		goto out;
	json_array_foreach(a, i, v) {
		char *name = NULL, *value = NULL;

		if (!json_is_string(v) ||
		    saksi_disclosure_decode(json_string_value(v), json_string_length(v), &name,
		                            &value) != SAKSI_OK)
			continue;
		if (strcmp(name, "nik") == 0 && *nik == NULL) {
			*nik = value;
			e = SAKSI_OK;
		} else {
			sodium_memzero(value, strlen(value));
			free(value);
		}
		free(name);
	}
out:
	json_decref(a);
	if (json != NULL) {
		sodium_memzero(json, jl);
		free(json);
	}
	free(blob);
	return e;
}

/* One signed forget request by the retention key, as a producer would make it. */
static saksi_err
retention_item(const saksi_seckey *rkey, const char *nik, uint64_t seq, uint64_t now_ms,
               saksid_item *it)
{
	static const char *const personal[] = { "nik" };
	json_t *p;
	char *clear, *payload = NULL, *disc = NULL;
	size_t cl, plen, dlen;
	uint8_t *env;
	saksi_err e;

	memset(it, 0, sizeof(*it));
	p = json_pack("{s:s, s:s, s:s, s:s}", "branch", SAKSID_RETENTION_BRANCH, "officer_id",
	              SAKSID_RETENTION_OFFICER, "nik", nik, "reason", "retention_ended");
	if (p == NULL)
		return SAKSI_ERR_NOMEM;
	clear = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(p);
	if (clear == NULL)
		return SAKSI_ERR_NOMEM;
	cl = strlen(clear);
	e = saksi_disclose_payload(clear, cl, personal, 1, &payload, &plen, &disc, &dlen);
	sodium_memzero(clear, cl);
	free(clear);
	if (e != SAKSI_OK)
		return e;
	if ((env = malloc(SAKSI_ENV_MAX)) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto fail;
	}
	it->it_env = env;
	if ((e = saksi_envelope_sign(rkey, seq, now_ms, SAKSID_FORGET_TYPE,
	                             (const uint8_t *)payload, plen, env, SAKSI_ENV_MAX,
	                             &it->it_env_len)) != SAKSI_OK)
		goto fail;
	free(payload);
	crypto_hash_sha256(it->it_env_hash, env, it->it_env_len);
	memcpy(it->it_key_id, saksi_seckey_id(rkey), SAKSI_KEYID_LEN);
	it->it_seq = seq;
	it->it_time_ms = now_ms;
	it->it_recv_ms = now_ms;
	it->it_disc = (uint8_t *)disc;
	it->it_disc_len = dlen;
	it->it_code = SAKSI_R_ACCEPTED;
	return SAKSI_OK;
fail:
	free(payload);
	sodium_memzero(disc, dlen);
	free(disc);
	saksid_shred_items_free(it, 1);
	return e;
}

saksi_err
saksid_shred_retention(saksid_shred *s, saksi_ledger_txn *txn, const saksi_seckey *rkey,
                       uint64_t cutoff_ms, uint64_t now_ms, saksid_item *items, size_t max,
                       size_t *n)
{
	MDB_txn *mt;
	MDB_dbi dbi;
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	uint8_t k = R_NIK;
	uint64_t seq;
	char *nik;
	saksi_err e;
	int rc;

	*n = 0;
	if (rkey == NULL || saksi_seckey_kind(rkey) != SAKSI_KEY_SIGN)
		return SAKSI_ERR_KEY;
	if ((mt = saksi_ledger_txn_mdb(txn)) == NULL)
		return SAKSI_ERR_LEDGER;
	if ((e = saksi_ledger_seq_last(txn, saksi_seckey_id(rkey), &seq)) != SAKSI_OK)
		return e;
	if ((rc = mdb_dbi_open(mt, DKEY_DB, MDB_CREATE, &dbi)) != 0 ||
	    (rc = mdb_cursor_open(mt, dbi, &cur)) != 0)
		return mdb_err(rc);
	key.mv_size = 1;
	key.mv_data = &k;
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0 && *n < max;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		const uint8_t *v = val.mv_data;

		if (((const uint8_t *)key.mv_data)[0] != R_NIK)
			break;
		if (val.mv_size != NIK_VAL) {
			e = SAKSI_ERR_CORRUPT;
			goto out;
		}
		if (saksi_get_u64(v + 8) >= cutoff_ms)
			continue;
		e = nik_of(s, txn, saksi_get_u64(v + 16), &nik);
		if (e == SAKSI_ERR_NOT_FOUND || e == SAKSI_ERR_DECRYPT)
			continue;   /* nothing left to read: nothing to forget by NIK */
		if (e != SAKSI_OK)
			goto out;
		e = retention_item(rkey, nik, seq + 1 + *n, now_ms, &items[*n]);
		sodium_memzero(nik, strlen(nik));
		free(nik);
		if (e != SAKSI_OK)
			goto out;
		(*n)++;
	}
	e = rc == 0 || rc == MDB_NOTFOUND ? SAKSI_OK : mdb_err(rc);
out:
	mdb_cursor_close(cur);
	if (e != SAKSI_OK) {
		saksid_shred_items_free(items, *n);
		*n = 0;
	}
	return e;
}

void
saksid_shred_items_free(saksid_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((uint8_t *)items[i].it_env);
		items[i].it_env = NULL;
		saksid_item_clear(&items[i]);
	}
}

/* ---- back-fill of the links (shred.h) ---- */

saksi_err
saksid_shred_backfill_mark(saksi_ledger_txn *txn, uint64_t *mark)
{
	return txn_counter(txn, R_BACKFILL, mark);
}

/* The live slot a NIK token is mapped to, its key in s_key; *found 0 if none. */
static saksi_err
mapped_slot(saksid_shred *s, MDB_txn *mt, MDB_dbi dbi, const char tok[SAKSI_BLIND_TOKEN_LEN],
            uint64_t *slot, int *found)
{
	uint8_t nk[1 + SAKSI_BLIND_TOKEN_LEN];
	MDB_val key = { sizeof(nk), nk }, val;
	saksi_err e;
	int rc;

	*found = 0;
	nk[0] = R_NIK;
	memcpy(nk + 1, tok, SAKSI_BLIND_TOKEN_LEN);
	rc = mdb_get(mt, dbi, &key, &val);
	sodium_memzero(nk, sizeof(nk));
	if (rc == MDB_NOTFOUND)
		return SAKSI_OK;
	if (rc != 0)
		return mdb_err(rc);
	if (val.mv_size != NIK_VAL)
		return SAKSI_ERR_CORRUPT;
	*slot = saksi_get_u64(val.mv_data);
	e = saksi_dk_get(s->s_dk, *slot, s->s_key);
	if (e == SAKSI_OK)
		*found = 1;
	return e == SAKSI_ERR_NOT_FOUND || e == SAKSI_ERR_DECRYPT ? SAKSI_OK : e;
}

/* Leaf i, its disclosures open (plain), back-filled as saksid would have written it. */
static saksi_err
backfill_one(saksid_shred *s, saksi_ledger_txn *txn, MDB_dbi dbi, uint64_t i,
             const saksi_hash h, const saksi_envelope *env, const uint8_t *blob, size_t blen,
             const char *plain, size_t plen, saksid_backfill_stats *st)
{
	MDB_txn *mt = saksi_ledger_txn_mdb(txn);
	char tok[SAKSI_BLIND_TOKEN_LEN + 1];
	uint8_t hs[2][LINK_H], kid[8];
	uint64_t slot = 0, id;
	int kind, store_blob, found = 0;
	size_t nh, w = 0;
	saksi_err e = SAKSI_OK;

	store_blob = blob[0] == 1 || (saksi_disc2_key(blob, blen, &kind, &id) == SAKSI_OK &&
	    kind == SAKSI_DK_STORE);
	nh = link_hashes(s, env, hs);
	if (saksi_index_nik_token(s->s_tok, (const uint8_t *)plain, plen, tok)) {
		if ((e = mapped_slot(s, mt, dbi, tok, &slot, &found)) == SAKSI_OK && found &&
		    (e = link_put(mt, dbi, hs, nh, slot, tok)) == SAKSI_OK)
			st->bf_links += nh;
	} else if (store_blob && nh > 0)
		e = link_get(s, mt, dbi, hs, nh, env->ev_time_ms, &slot, &found);
	if (e == SAKSI_OK && store_blob && !found)
		st->bf_store_left++;
	if (e == SAKSI_OK && store_blob && found) {
		saksi_put_u64(kid, slot);
		e = saksi_disc2_seal_ctx(s->s_zctx, SAKSI_DK_DATA, kid, s->s_key, i, h,
		                         (const uint8_t *)plain, plen, s->s_blob, s->s_blob_cap,
		                         &w);
		if (e == SAKSI_OK) {
			uint8_t k[8];
			MDB_val key = { sizeof(k), k }, val = { w, s->s_blob };
			MDB_dbi ddb;
			int rc;

			/* saksi_ledger_disc_put never overwrites; a re-seal must (as a forget's). */
			saksi_put_u64(k, i);
			if ((rc = mdb_dbi_open(mt, "disc", 0, &ddb)) == 0)
				rc = mdb_put(mt, ddb, &key, &val, 0);
			e = rc == 0 ? SAKSI_OK : mdb_err(rc);
			if (e == SAKSI_OK)
				st->bf_resealed++;
		} else if (e == SAKSI_ERR_FORMAT) {
			e = SAKSI_OK;      /* a v1 list kept as received: left as it is */
			st->bf_store_left++;
		}
		sodium_memzero(s->s_blob, w);
	}
	sodium_memzero(s->s_key, SAKSI_DK_KEYLEN);
	sodium_memzero(tok, sizeof(tok));
	sodium_memzero(hs, sizeof(hs));
	return e;
}

saksi_err
saksid_shred_backfill_step(saksid_shred *s, saksi_ledger_txn *txn, unsigned batch,
                           uint64_t *mark, int *done, saksid_backfill_stats *st)
{
	MDB_txn *mt;
	MDB_dbi dbi;
	uint64_t size, end;
	saksi_err e;
	int rc;

	if (s == NULL || txn == NULL || mark == NULL || done == NULL || st == NULL ||
	    (mt = saksi_ledger_txn_mdb(txn)) == NULL)
		return SAKSI_ERR_INVAL;
	*done = 0;
	if (batch == 0)
		batch = 512;
	if ((e = saksid_shred_backfill_mark(txn, mark)) != SAKSI_OK)
		return e;
	size = saksi_ledger_size(txn);
	if (*mark >= size) {
		*done = 1;
		return SAKSI_OK;
	}
	if ((rc = mdb_dbi_open(mt, DKEY_DB, MDB_CREATE, &dbi)) != 0)
		return mdb_err(rc);
	end = size - *mark > batch ? *mark + batch : size;
	for (uint64_t i = *mark; i < end && e == SAKSI_OK; i++) {
		uint8_t *leaf = NULL, *blob = NULL;
		char *plain = NULL;
		size_t len, blen = 0, plen = 0;
		saksi_envelope env;
		saksi_leaf lf;
		saksi_hash h;

		if ((e = saksi_ledger_leaf(txn, i, &leaf, &len)) != SAKSI_OK)
			break;
		if (saksi_leaf_parse(leaf, len, &lf) != SAKSI_OK || lf.lf_kind != SAKSI_LEAF_EVENT ||
		    saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &env) != SAKSI_OK ||
		    strcmp(env.ev_type, SAKSID_FORGET_TYPE) == 0) {
			free(leaf);
			continue;
		}
		e = saksi_ledger_disc_get(txn, i, &blob, &blen);
		if (e == SAKSI_ERR_NOT_FOUND) {
			e = SAKSI_OK;
			free(leaf);
			continue;
		}
		if (e == SAKSI_OK) {
			st->bf_events++;
			saksi_merkle_leaf_hash(h, leaf, len);
			if (blen == 0 || saksi_disc_open_any(s->s_store, s->s_dk, i, h, blob, blen,
			    &plain, &plen) != SAKSI_OK)
				st->bf_unopened++;
			else
				e = backfill_one(s, txn, dbi, i, h, &env, blob, blen, plain, plen, st);
		}
		if (plain != NULL) {
			sodium_memzero(plain, plen);
			free(plain);
		}
		free(blob);
		free(leaf);
	}
	if (e != SAKSI_OK)
		return e;
	if ((e = counter_put(mt, dbi, R_BACKFILL, end)) != SAKSI_OK)
		return e;
	*mark = end;
	return SAKSI_OK;
}
