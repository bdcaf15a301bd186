/*
 * commit.c: the single writer of the ledger. One write transaction, one refusal summary,
 * one signed checkpoint and one synced commit per group of events: the log never signs
 * or syncs per event. A receipt is built only after the commit has returned SAKSI_OK.
 * The detectors run in the same transaction and see personal values only as blind
 * tokens; an alert is published only after it is durable in the ledger.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <lmdb.h>
#include <nanomsg/nn.h>
#include <sodium.h>

#include "bytes.h"
#include "commit.h"
#include "detect.h"
#include "envelope.h"
#include "index.h"
#include "indexer.h"
#include "note.h"
#include "rulestail.h"
#include "verify.h"
#include "wire.h"

#define SUMMARY_ENTRY 29 /* key_id (8) || reason (1) || refused (4) || first (8) || last (8) */
/* Entries of one summary: one per refused item at most, plus the refusals handed in. */
#define SUMMARY_MAX (SAKSID_COMMIT_ITEMS_MAX + SAKSID_COMMIT_EXTRA_MAX)
#define RECEIPT_ROOM (SAKSI_NOTE_MAX + 64 * 48 + 512)
#define DISC_AD_PREFIX "saksi/disc-at-rest/v1\n"
/* Refusal alerts (RULES.md 5.4) in the named database REFWIN_DB: per reason (key: the
 * reason, 1 byte) the window: start (8) || count (8) || first (8) || last (8) ||
 * groups (4) || alerted (1) || n (1) || n x summary leaf index (8); REFWIN_ENTRY || n (8)
 * -> the leaf index of refusal alert n; REFWIN_META -> last n (8) || published n (8);
 * REFWIN_ACK || n (8) -> ack leaf index (8) || ack commit ms (8): refusal alert n is
 * acknowledged (RULES.md 5.4). */
#define REFWIN_DB "refwin"
#define REFWIN_HDR (8 + 8 + 8 + 8 + 4 + 1 + 1)
#define REFWIN_ACK 0xfd
#define REFWIN_ENTRY 0xfe
#define REFWIN_META 0xff
#define ACK_TYPE "security.alert.acked"
#define ACK_KIND_REFUSALS "refusals"   /* alert_kind of an ack naming a refusal alert */
#define RERAISE_GROUP_MAX 256  /* re-raises in one commit group */
#define RERAISE_GROUPS_MAX 4   /* groups in one call: ingest waits no longer than that */

struct summary {
	uint8_t s_key_id[SAKSI_KEYID_LEN];
	int s_reason;
	uint32_t s_count;
	uint64_t s_first, s_last;
};

struct saksid_committer {
	saksi_ledger *c_ledger;
	char c_origin[SAKSI_ORIGIN_MAX + 1];
	const saksi_seckey *c_log_key;
	const saksi_seckey *c_store_key;
	saksid_shred *c_shred;        /* NULL: disclosures at rest v1 */
	uint64_t c_ret_ms;            /* retention; 0: keep */
	const saksi_seckey *c_ret_key;
	uint64_t c_ret_next, c_ret_next_new; /* next pass; the one a committed pass sets */
	uint64_t c_retained;
	saksid_item *c_ret_items;     /* SAKSID_RETENTION_BATCH */
	uint64_t c_skew;
	uint64_t c_age;      /* >= c_skew */

	/* Scratch kept between groups, so the hot path does not allocate per event. */
	struct summary *c_sum;        /* SAKSID_COMMIT_ITEMS_MAX entries */
	uint8_t *c_body;              /* summary leaf body */
	uint8_t *c_disc;              /* one sealed-at-rest blob */
	size_t c_disc_cap;
	char *c_note;                 /* the group's signed checkpoint */
	size_t c_note_len;
	saksi_tlog_proof *c_proof;
	saksi_proof_b64 *c_pb;        /* the last receipt's path in base64 (note.h) */
	char *c_receipts;             /* receipt texts of the last group */
	size_t c_receipts_len, c_receipts_cap;

	uint64_t c_size;              /* tree size after the last group */
	uint64_t c_appended;
	int c_sync_later;             /* co_sync_later */
	uint64_t c_ticket;            /* the last group's pending sync (saksid_commit_ticket) */

	/* Refusals decided outside the groups, counted with the next group that commits. */
	struct summary c_extra[SAKSID_COMMIT_EXTRA_MAX];
	size_t c_nextra;
	_Atomic uint64_t c_alert_total;  /* alerts raised: the log's and refusal alerts */
	_Atomic uint64_t c_acked;        /* alerts acknowledged (-1: not known) */
	atomic_int c_detecting;
	uint64_t c_ref_window, c_ref_threshold;  /* refusal alerts; 0: none */
	uint64_t c_ref_alerts;                   /* of them raised by the last group */
	uint64_t c_group_acks;                   /* acknowledgements in the group */
	MDB_dbi c_refwin;
	int c_have_refwin;

	/* Detection: c_mu orders a rules swap against the groups. */
	pthread_mutex_t c_mu;
	saksi_rules *c_rules;         /* owned; NULL: no detection */
	const saksi_blind *c_blind;
	int c_sock;                   /* PUB, or -1 */
	uint64_t c_ack_timeout;       /* ms; 0: never re-raise */
	uint64_t c_alerts;            /* alerts raised by the last group */
	uint8_t *c_alert_body;        /* SAKSI_ALERT_LEAF_MAX */
	saksi_alert c_alert;
	saksi_detect *c_detect;       /* the events' view for the rules (detect.h) */
	saksid_rules_tail c_tail;     /* what the last saksid_commit_rules_set evaluated again */

	/* Secondary indexes (index.h): on whenever co_blind is given. */
	MDB_dbi c_ix_dbi;
	saksid_index_stats c_ix_stats;
	saksi_datakeys *c_dk;         /* borrowed, may be NULL: opens a forgotten one's entries */
	saksi_index_batch *c_ix_batch; /* the group's postings, written sorted at its end */
	/* The background catch-up (commit.h): until c_ix_live, groups index nothing. */
	atomic_int c_ix_live;
	_Atomic uint64_t c_ix_upto;   /* the catch-up's mark */
	atomic_int c_ix_err;          /* what stopped it, SAKSI_OK if nothing */
	atomic_int c_ix_stop;
	unsigned c_ix_step_batch;
	void (*c_ix_done)(void *, const saksid_index_stats *, uint64_t, saksi_err);
	void *c_ix_done_arg;
	pthread_t c_ix_thread;
	int c_ix_thread_on;
	/* Its failures (commit.h, saksid_commit_index_health): retried with a bounded
	 * backoff; c_ix_wmu and c_ix_wcv let saksid_commit_free cut a wait short. */
	void (*c_ix_retry)(void *, uint64_t, saksi_err, uint64_t, uint64_t);
	uint64_t c_ix_retry_min, c_ix_retry_max;
	pthread_mutex_t c_ix_wmu;
	pthread_cond_t c_ix_wcv;
	/* The status "rules" member as JSON text, or NULL: its own lock, never c_mu, which a
	 * commit holds across its write transaction while status must still answer. */
	pthread_mutex_t c_rinfo_mu;
	char *c_rules_info;
	int c_ix_wait_on;             /* c_ix_wmu and c_ix_wcv initialised */
	_Atomic uint64_t c_ix_since_ms;     /* behind since (wall ms); 0 once caught up */
	_Atomic uint64_t c_ix_failures;     /* failed steps since start */
	_Atomic uint64_t c_ix_fail_since_ms; /* first of the failures in a row, 0 if none */
	_Atomic uint64_t c_ix_last_err_ms;  /* the latest failure */
	atomic_int c_ix_last_err;
	_Atomic uint64_t c_ix_retry_at_ms;  /* next attempt while failing, else 0 */
};

/* The daemon's clock, for the status only (the catch-up's failures and retries). */
static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

saksi_err
saksid_disc_seal(const saksi_seckey *store, uint64_t index, const saksi_hash leaf_hash,
                 const uint8_t *plain, size_t len, uint8_t *out, size_t outlen,
                 size_t *written)
{
	uint8_t ad[sizeof(DISC_AD_PREFIX) - 1 + 8 + SAKSI_HASH_LEN];
	const uint8_t *key;
	unsigned long long clen;

	if (store == NULL || saksi_seckey_kind(store) != SAKSI_KEY_SYM ||
	    (key = saksi_seckey_sym(store)) == NULL)
		return SAKSI_ERR_KEY;
	if (outlen < len + SAKSID_DISC_OVERHEAD)
		return SAKSI_ERR_INVAL;
	memcpy(ad, DISC_AD_PREFIX, sizeof(DISC_AD_PREFIX) - 1);
	saksi_put_u64(ad + sizeof(DISC_AD_PREFIX) - 1, index);
	memcpy(ad + sizeof(DISC_AD_PREFIX) - 1 + 8, leaf_hash, SAKSI_HASH_LEN);
	out[0] = 1;   /* version */
	out[1] = 1;   /* key_kind: the store master key */
	memcpy(out + 2, saksi_seckey_id(store), SAKSI_KEYID_LEN);
	randombytes_buf(out + 10, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 34, &clen, plain, len, ad, sizeof(ad),
	                                           NULL, out + 10, key);
	*written = 34 + (size_t)clen;
	return SAKSI_OK;
}

saksi_err
saksid_disc_open(const saksi_seckey *store, uint64_t index, const saksi_hash leaf_hash,
                 const uint8_t *blob, size_t len, uint8_t **plain, size_t *plain_len)
{
	uint8_t ad[sizeof(DISC_AD_PREFIX) - 1 + 8 + SAKSI_HASH_LEN];
	const uint8_t *key;
	unsigned long long mlen;
	uint8_t *m;

	*plain = NULL;
	*plain_len = 0;
	if (store == NULL || saksi_seckey_kind(store) != SAKSI_KEY_SYM ||
	    (key = saksi_seckey_sym(store)) == NULL)
		return SAKSI_ERR_KEY;
	if (len < SAKSID_DISC_OVERHEAD)
		return SAKSI_ERR_FORMAT;
	if (blob[0] != 1 || blob[1] != 1)
		return SAKSI_ERR_VERSION;
	if (sodium_memcmp(blob + 2, saksi_seckey_id(store), SAKSI_KEYID_LEN) != 0)
		return SAKSI_ERR_KEY;
	memcpy(ad, DISC_AD_PREFIX, sizeof(DISC_AD_PREFIX) - 1);
	saksi_put_u64(ad + sizeof(DISC_AD_PREFIX) - 1, index);
	memcpy(ad + sizeof(DISC_AD_PREFIX) - 1 + 8, leaf_hash, SAKSI_HASH_LEN);
	if ((m = malloc(len - SAKSID_DISC_OVERHEAD + 1)) == NULL)
		return SAKSI_ERR_NOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(m, &mlen, NULL, blob + 34, len - 34, ad,
	                                               sizeof(ad), blob + 10, key) != 0) {
		free(m);
		return SAKSI_ERR_DECRYPT;
	}
	*plain = m;
	*plain_len = (size_t)mlen;
	return SAKSI_OK;
}

void
saksid_commit_free(saksid_committer *c)
{
	if (c == NULL)
		return;
	if (c->c_ix_thread_on) {
		pthread_mutex_lock(&c->c_ix_wmu);
		atomic_store(&c->c_ix_stop, 1);
		pthread_cond_signal(&c->c_ix_wcv);
		pthread_mutex_unlock(&c->c_ix_wmu);
		pthread_join(c->c_ix_thread, NULL);
	}
	if (c->c_ix_wait_on) {
		pthread_cond_destroy(&c->c_ix_wcv);
		pthread_mutex_destroy(&c->c_ix_wmu);
	}
	saksi_index_batch_free(c->c_ix_batch);
	free(c->c_sum);
	free(c->c_body);
	if (c->c_disc != NULL) {
		sodium_memzero(c->c_disc, c->c_disc_cap);
		free(c->c_disc);
	}
	free(c->c_note);
	free(c->c_proof);
	free(c->c_pb);
	free(c->c_receipts);
	saksi_rules_free(c->c_rules);
	free(c->c_alert_body);
	free(c->c_ret_items);
	saksi_detect_free(c->c_detect);
	free(c->c_rules_info);
	pthread_mutex_destroy(&c->c_rinfo_mu);
	pthread_mutex_destroy(&c->c_mu);
	free(c);
}

static saksi_err sign_checkpoint(saksid_committer *c, saksi_ledger_txn *txn, uint64_t size);

/*
 * A new ledger gets a signed checkpoint of the empty tree at once, so that anyone asking
 * for the latest checkpoint gets a signed answer from the first moment, and a reviewer can
 * hold the log to it.
 */
static saksi_err
sign_empty(saksid_committer *c)
{
	saksi_ledger_txn *txn;
	uint64_t size;
	char *note = NULL;
	size_t len;
	saksi_err e;

	if ((e = saksi_ledger_begin(c->c_ledger, 1, &txn)) != SAKSI_OK)
		return e;
	e = saksi_ledger_size(txn) != 0 ? SAKSI_OK :
	    saksi_ledger_ckpt_latest(txn, &size, &note, &len);
	free(note);
	if (e != SAKSI_ERR_NOT_FOUND) {
		/* Not empty, or already signed: nothing to do (or a read error to report). */
		saksi_ledger_abort(txn);
		return e;
	}
	if ((e = sign_checkpoint(c, txn, 0)) != SAKSI_OK ||
	    (e = saksi_ledger_ckpt_put(txn, 0, c->c_note, c->c_note_len)) != SAKSI_OK) {
		saksi_ledger_abort(txn);
		return e;
	}
	return saksi_ledger_commit(txn);
}

saksi_err
saksid_commit_new(const saksid_commit_opts *o, saksid_committer **out)
{
	saksid_committer *c;
	size_t olen;
	saksi_err e;

	*out = NULL;
	if (o == NULL || o->co_ledger == NULL || o->co_origin == NULL)
		return SAKSI_ERR_INVAL;
	olen = strlen(o->co_origin);
	if (olen == 0 || olen > SAKSI_ORIGIN_MAX)
		return SAKSI_ERR_INVAL;
	if (o->co_log_key == NULL || saksi_seckey_kind(o->co_log_key) != SAKSI_KEY_SIGN ||
	    o->co_store_key == NULL || saksi_seckey_kind(o->co_store_key) != SAKSI_KEY_SYM)
		return SAKSI_ERR_KEY;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SAKSI_ERR_NOMEM;
	c->c_ledger = o->co_ledger;
	memcpy(c->c_origin, o->co_origin, olen + 1);
	c->c_log_key = o->co_log_key;
	c->c_store_key = o->co_store_key;
	c->c_shred = o->co_shred;
	c->c_sync_later = o->co_sync_later != 0;
	c->c_ret_ms = o->co_retention_ms;
	c->c_ret_key = o->co_retention_key;
	if (c->c_ret_ms != 0 && (c->c_shred == NULL || c->c_ret_key == NULL ||
	    saksi_seckey_kind(c->c_ret_key) != SAKSI_KEY_SIGN)) {
		free(c);
		return SAKSI_ERR_KEY;
	}
	c->c_skew = o->co_max_clock_skew_ms;
	c->c_age = o->co_max_event_age_ms > c->c_skew ? o->co_max_event_age_ms : c->c_skew;
	c->c_blind = o->co_blind;
	c->c_dk = o->co_datakeys;
	atomic_store(&c->c_acked, UINT64_MAX);
	c->c_sock = o->co_alerts_on ? o->co_alerts_sock : -1;
	if (o->co_refusal_window_ms > 0 && o->co_refusal_threshold > 0) {
		c->c_ref_window = o->co_refusal_window_ms;
		c->c_ref_threshold = o->co_refusal_threshold;
	}
	c->c_ack_timeout = o->co_ack_timeout_ms;
	pthread_mutex_init(&c->c_mu, NULL);
	pthread_mutex_init(&c->c_rinfo_mu, NULL);
	c->c_alert_body = malloc(SAKSI_ALERT_LEAF_MAX);
	if (c->c_ret_ms != 0 &&
	    (c->c_ret_items = calloc(SAKSID_RETENTION_BATCH, sizeof(saksid_item))) == NULL) {
		free(c->c_alert_body);
		pthread_mutex_destroy(&c->c_rinfo_mu);
		pthread_mutex_destroy(&c->c_mu);
		free(c);
		return SAKSI_ERR_NOMEM;
	}
	c->c_disc_cap = SAKSI_SEALED_MAX + SAKSID_DISC_OVERHEAD;
	c->c_sum = calloc(SUMMARY_MAX, sizeof(*c->c_sum));
	c->c_body = malloc(2 + SUMMARY_ENTRY * SUMMARY_MAX);
	c->c_disc = malloc(c->c_disc_cap);
	c->c_note = malloc(SAKSI_NOTE_MAX + 1);
	c->c_proof = calloc(1, sizeof(*c->c_proof));
	c->c_pb = calloc(1, sizeof(*c->c_pb));
	c->c_receipts_cap = 64 * 1024;
	c->c_receipts = malloc(c->c_receipts_cap);
	if (c->c_sum == NULL || c->c_body == NULL || c->c_disc == NULL || c->c_note == NULL ||
	    c->c_proof == NULL || c->c_pb == NULL || c->c_receipts == NULL ||
	    c->c_alert_body == NULL ||
	    (c->c_blind != NULL && saksi_detect_new(c->c_blind, &c->c_detect) != SAKSI_OK) ||
	    (c->c_blind != NULL && saksi_index_batch_new(&c->c_ix_batch) != SAKSI_OK)) {
		saksid_commit_free(c);
		return SAKSI_ERR_NOMEM;
	}
	if ((e = sign_empty(c)) != SAKSI_OK) {
		saksid_commit_free(c);
		return e;
	}
	/* Forgets committed before a crash are destroyed before anything else runs. */
	if (c->c_shred != NULL &&
	    (e = saksid_shred_finish(c->c_shred, c->c_ledger, 1, NULL)) != SAKSI_OK) {
		saksid_commit_free(c);
		return e;
	}
	/* The data keys made ahead, before the first group (a failure: the first group
	 * that needs a key makes them). */
	if (c->c_shred != NULL)
		(void)saksid_shred_refill(c->c_shred, c->c_ledger);
	/* Every event the indexes lack is indexed before the first group is taken, or, in
	 * the background, behind the groups (saksid_commit_index_start). */
	c->c_ix_step_batch = o->co_index_batch;
	c->c_ix_done = o->co_index_done;
	c->c_ix_done_arg = o->co_index_arg;
	c->c_ix_retry = o->co_index_retry;
	c->c_ix_retry_min = o->co_index_retry_min_ms != 0 ? o->co_index_retry_min_ms :
	    SAKSID_INDEX_RETRY_MIN_MS;
	c->c_ix_retry_max = o->co_index_retry_max_ms != 0 ? o->co_index_retry_max_ms :
	    SAKSID_INDEX_RETRY_MAX_MS;
	if (c->c_ix_retry_max < c->c_ix_retry_min)
		c->c_ix_retry_max = c->c_ix_retry_min;
	if (c->c_blind != NULL && !o->co_index_background &&
	    (e = saksid_index_catchup(c->c_ledger, c->c_blind, c->c_store_key, o->co_datakeys,
	    o->co_index_batch, &c->c_ix_dbi, &c->c_ix_stats)) != SAKSI_OK) {
		saksid_commit_free(c);
		return e;
	}
	if (c->c_blind != NULL && o->co_index_background) {
		saksi_ledger_txn *rtxn;
		uint64_t upto;

		if ((e = saksid_index_catchup_begin(c->c_ledger, c->c_blind, &c->c_ix_dbi, &upto,
		    &c->c_ix_stats)) != SAKSI_OK ||
		    (e = saksi_ledger_begin(c->c_ledger, 0, &rtxn)) != SAKSI_OK) {
			saksid_commit_free(c);
			return e;
		}
		atomic_store(&c->c_ix_upto, upto);
		/* Nothing to catch up (a new ledger, a clean stop): groups index at once. */
		if (upto >= saksi_ledger_size(rtxn))
			atomic_store(&c->c_ix_live, 1);
		else
			atomic_store(&c->c_ix_since_ms, wall_ms());
		saksi_ledger_abort(rtxn);
	} else if (c->c_blind != NULL)
		atomic_store(&c->c_ix_live, 1);
	*out = c;
	return SAKSI_OK;
}

saksi_err
saksid_commit_index_step(saksid_committer *c, int *done)
{
	uint64_t upto;
	saksi_err e = SAKSI_OK;

	*done = 0;
	if (c->c_blind == NULL)
		return SAKSI_ERR_INVAL;
	pthread_mutex_lock(&c->c_mu);
	if (atomic_load(&c->c_ix_live))
		*done = 1;
	else if (c->c_shred != NULL &&
	    (e = saksid_shred_finish(c->c_shred, c->c_ledger, 0, NULL)) != SAKSI_OK)
		;   /* a forget's wipe left pending: his disclosures must not be opened */
	else {
		upto = atomic_load(&c->c_ix_upto);
		e = saksid_index_catchup_step(c->c_ledger, c->c_blind, c->c_store_key, c->c_dk,
		                              c->c_ix_step_batch, c->c_ix_dbi, &upto, done,
		                              &c->c_ix_stats);
		atomic_store(&c->c_ix_upto, upto);
		/* Under the lock, so no group commits between the last step and this; told
		 * before the status can say so. */
		if (e == SAKSI_OK && *done && c->c_ix_done != NULL)
			c->c_ix_done(c->c_ix_done_arg, &c->c_ix_stats, upto, SAKSI_OK);
		if (e == SAKSI_OK && *done)
			atomic_store(&c->c_ix_live, 1);
	}
	pthread_mutex_unlock(&c->c_mu);
	return e;
}

/* Waits ms on the monotonic clock, or until saksid_commit_free asks the thread to stop. */
static void
index_wait(saksid_committer *c, uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->c_ix_wmu);
	while (!atomic_load(&c->c_ix_stop) &&
	    pthread_cond_timedwait(&c->c_ix_wcv, &c->c_ix_wmu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&c->c_ix_wmu);
}

/*
 * The catch-up's thread. A failed step (map or disk full, a read error, a pending wipe
 * that did not finish) wrote nothing and is tried again after a backoff that doubles
 * from c_ix_retry_min to c_ix_retry_max: a full disk freed, or a transient error, must
 * not leave the index behind until someone restarts saksid. Each failure and the
 * recovery are told (c_ix_retry) and kept for the status.
 */
static void *
index_thread(void *arg)
{
	saksid_committer *c = arg;
	uint64_t wait = 0, row = 0;
	saksi_err e;
	int done = 0;

	while (!done && !atomic_load(&c->c_ix_stop)) {
		e = saksid_commit_index_step(c, &done);
		if (e == SAKSI_OK) {
			if (row > 0) {
				atomic_store(&c->c_ix_err, SAKSI_OK);
				atomic_store(&c->c_ix_fail_since_ms, 0);
				atomic_store(&c->c_ix_retry_at_ms, 0);
				if (c->c_ix_retry != NULL)
					c->c_ix_retry(c->c_ix_done_arg, atomic_load(&c->c_ix_upto),
					              SAKSI_OK, row, 0);
			}
			row = 0;
			wait = 0;
			continue;
		}
		wait = wait == 0 ? c->c_ix_retry_min : wait * 2;
		if (wait > c->c_ix_retry_max)
			wait = c->c_ix_retry_max;
		if (row++ == 0)
			atomic_store(&c->c_ix_fail_since_ms, wall_ms());
		atomic_fetch_add(&c->c_ix_failures, 1);
		atomic_store(&c->c_ix_last_err, (int)e);
		atomic_store(&c->c_ix_last_err_ms, wall_ms());
		atomic_store(&c->c_ix_retry_at_ms, wall_ms() + wait);
		atomic_store(&c->c_ix_err, (int)e);
		if (c->c_ix_retry != NULL)
			c->c_ix_retry(c->c_ix_done_arg, atomic_load(&c->c_ix_upto), e, row, wait);
		index_wait(c, wait);
	}
	if (done)
		atomic_store(&c->c_ix_since_ms, 0);
	return NULL;
}

saksi_err
saksid_commit_index_start(saksid_committer *c)
{
	if (c->c_blind == NULL || c->c_ix_thread_on)
		return SAKSI_ERR_INVAL;
	if (atomic_load(&c->c_ix_live))
		return SAKSI_OK;
	if (!c->c_ix_wait_on) {
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (pthread_cond_init(&c->c_ix_wcv, &ca) != 0) {
			pthread_condattr_destroy(&ca);
			return SAKSI_ERR_NOMEM;
		}
		pthread_condattr_destroy(&ca);
		pthread_mutex_init(&c->c_ix_wmu, NULL);
		c->c_ix_wait_on = 1;
	}
	if (pthread_create(&c->c_ix_thread, NULL, index_thread, c) != 0)
		return SAKSI_ERR_NOMEM;
	c->c_ix_thread_on = 1;
	return SAKSI_OK;
}

void
saksid_commit_rules_tail(const saksid_committer *c, saksid_rules_tail *out)
{
	*out = c->c_tail;
}

int
saksid_commit_index_health(const saksid_committer *c, saksid_index_health *h)
{
	memset(h, 0, sizeof(*h));
	if (c->c_blind == NULL)
		return 0;
	h->ih_behind_since_ms = atomic_load(&c->c_ix_live) ? 0 :
	    atomic_load(&c->c_ix_since_ms);
	h->ih_failures = atomic_load(&c->c_ix_failures);
	h->ih_failing_since_ms = atomic_load(&c->c_ix_fail_since_ms);
	h->ih_last_err = (saksi_err)atomic_load(&c->c_ix_last_err);
	h->ih_last_err_ms = atomic_load(&c->c_ix_last_err_ms);
	h->ih_retry_at_ms = atomic_load(&c->c_ix_retry_at_ms);
	return 1;
}

int
saksid_commit_index_progress(const saksid_committer *c, uint64_t *upto, int *catching_up,
                             saksi_err *err)
{
	if (c->c_blind == NULL)
		return 0;
	*catching_up = !atomic_load(&c->c_ix_live);
	*upto = atomic_load(&c->c_ix_upto);
	*err = (saksi_err)atomic_load(&c->c_ix_err);
	return 1;
}

const char *
saksid_commit_receipt(const saksid_committer *c, const saksid_item *it)
{
	return c->c_receipts + it->it_receipt_off;
}

uint64_t
saksid_commit_ticket(const saksid_committer *c)
{
	return c->c_ticket;
}

uint64_t
saksid_commit_size(const saksid_committer *c)
{
	return c->c_size;
}

uint64_t
saksid_commit_appended(const saksid_committer *c)
{
	return c->c_appended;
}

const saksid_index_stats *
saksid_commit_index_stats(const saksid_committer *c)
{
	return &c->c_ix_stats;
}

uint64_t
saksid_commit_alerts(const saksid_committer *c)
{
	return c->c_alerts;
}

uint64_t
saksid_commit_alert_total(const saksid_committer *c)
{
	return atomic_load(&c->c_alert_total);
}

uint64_t
saksid_commit_alert_acked(const saksid_committer *c)
{
	return atomic_load(&c->c_acked);
}

static saksi_err refwin_meta(saksid_committer *c, MDB_txn *mt, uint64_t *last,
                             uint64_t *published);
static saksi_err refwin_acked_count(saksid_committer *c, MDB_txn *mt, uint64_t *n);

/*
 * The status counters at a rules (re)load: alerts raised (the log's and the refusal
 * alerts), and acknowledged, read once from the states (one lookup per alert; after
 * this, each committed ack adds one). c_mu held; last: the log's last id.
 */
static void
count_alerts(saksid_committer *c, const saksi_rules *r, uint64_t last)
{
	saksi_ledger_txn *txn;
	saksi_alert_state st;
	uint64_t flast = 0, fmark, acked = 0;
	MDB_txn *mt;

	if (saksi_ledger_begin(c->c_ledger, 0, &txn) != SAKSI_OK)
		return;
	if ((mt = saksi_ledger_txn_mdb(txn)) != NULL &&
	    refwin_meta(c, mt, &flast, &fmark) == SAKSI_OK)
		atomic_store(&c->c_alert_total, last + flast);
	for (uint64_t id = 1; mt != NULL && id <= last; id++) {
		if (saksi_rules_alert_state(r, mt, id, &st) != SAKSI_OK) {
			acked = UINT64_MAX;   /* not known: the status says null */
			break;
		}
		acked += st.as_acked != 0;
	}
	if (mt != NULL && acked != UINT64_MAX) {
		uint64_t racked;

		if (refwin_acked_count(c, mt, &racked) == SAKSI_OK)
			acked += racked;
		else
			acked = UINT64_MAX;
	}
	atomic_store(&c->c_acked, acked);
	saksi_ledger_abort(txn);
}

int
saksid_commit_detecting(const saksid_committer *c)
{
	return atomic_load(&c->c_detecting);
}

/* Adds n refusals of (key id, reason) seen from first to last to sum[0..n). */
static size_t
summary_merge(struct summary *sum, size_t n, size_t cap, const uint8_t *key_id, int reason,
              uint64_t count, uint64_t first, uint64_t last)
{
	static const uint8_t zero[SAKSI_KEYID_LEN];
	size_t i;

	for (i = 0; i < n; i++)
		if (sum[i].s_reason == reason &&
		    memcmp(sum[i].s_key_id, key_id, SAKSI_KEYID_LEN) == 0)
			break;
	if (i == n && n == cap) {
		/* Full: the rest goes to the zero key id of this reason, in the last entry. */
		i = cap - 1;
		key_id = zero;
		memcpy(sum[i].s_key_id, zero, SAKSI_KEYID_LEN);
	}
	if (i == n) {
		memcpy(sum[i].s_key_id, key_id, SAKSI_KEYID_LEN);
		sum[i].s_reason = reason;
		sum[i].s_count = 0;
		sum[i].s_first = first;
		sum[i].s_last = last;
		n++;
	}
	sum[i].s_count = count > UINT32_MAX - sum[i].s_count ? UINT32_MAX
	                                                     : sum[i].s_count + (uint32_t)count;
	if (first < sum[i].s_first)
		sum[i].s_first = first;
	if (last > sum[i].s_last)
		sum[i].s_last = last;
	return n;
}

void
saksid_commit_refused_add(saksid_committer *c, const uint8_t key_id[SAKSI_KEYID_LEN],
                          int reason, uint64_t n, uint64_t first_ms, uint64_t last_ms)
{
	if (n == 0 || reason < SAKSI_R_PARSE || reason > 255)
		return;
	c->c_nextra = summary_merge(c->c_extra, c->c_nextra, SAKSID_COMMIT_EXTRA_MAX, key_id,
	                            reason, n, first_ms, last_ms);
}

/* Memory mode (RULES.md 4.4): a snapshot of the rules' state in mt when one is due, or
 * now (force). LMDB mode: nothing to do. */
static saksi_err
rules_snapshot(const saksi_rules *r, MDB_txn *mt, uint64_t now_ms, int force)
{
	saksi_rules_mem_stats ms;

	if (r == NULL || mt == NULL || saksi_rules_memory_stats(r, &ms) != SAKSI_OK)
		return SAKSI_OK;
	return saksi_rules_snapshot(r, mt, now_ms, force, NULL);
}

saksi_err
saksid_commit_rules_set(saksid_committer *c, saksi_rules *r)
{
	saksi_ledger_txn *txn;
	MDB_txn *mt;
	saksi_rules *old;
	uint64_t last = 0;
	saksi_err e;

	if (r != NULL && c->c_blind == NULL) {
		saksi_rules_free(r);
		return SAKSI_ERR_INVAL;
	}
	pthread_mutex_lock(&c->c_mu);
	if (r != NULL) {
		if ((e = saksi_ledger_begin(c->c_ledger, 1, &txn)) != SAKSI_OK)
			goto fail;
		if ((mt = saksi_ledger_txn_mdb(txn)) == NULL)
			e = SAKSI_ERR_LEDGER;
		else if ((e = rules_snapshot(c->c_rules, mt, 0, 1)) == SAKSI_OK)
			e = saksi_rules_attach(r, mt);   /* the old rules' memory written first */
		if (e == SAKSI_OK)
			e = saksi_rules_alert_last(r, mt, &last);
		/* The refusal windows' database: opened here, in the committer's own write
		 * transaction, as LMDB wants a new handle opened by one transaction at a time. */
		if (e == SAKSI_OK && c->c_ref_window > 0 && !c->c_have_refwin) {
			int rc = mdb_dbi_open(mt, REFWIN_DB, MDB_CREATE, &c->c_refwin);
			e = rc == 0 ? SAKSI_OK : rc == MDB_MAP_FULL ? SAKSI_ERR_FULL
			                                            : SAKSI_ERR_LEDGER;
		}
		if (e != SAKSI_OK) {
			saksi_ledger_abort(txn);
			goto fail;
		}
		if ((e = saksi_ledger_commit(txn)) != SAKSI_OK)
			goto fail;
		if (c->c_ref_window > 0)
			c->c_have_refwin = 1;
		/* Memory mode: the events after the snapshot, evaluated again. */
		if ((e = saksid_rules_resume(c->c_ledger, r, c->c_blind, c->c_store_key, c->c_dk,
		                             &c->c_tail)) != SAKSI_OK)
			goto fail;
		count_alerts(c, r, last);
	} else if (c->c_rules != NULL) {
		/* Detection off (or saksid stopping): the rules' memory written out. */
		if ((e = saksi_ledger_begin(c->c_ledger, 1, &txn)) != SAKSI_OK)
			goto fail;
		if ((e = rules_snapshot(c->c_rules, saksi_ledger_txn_mdb(txn), 0, 1)) != SAKSI_OK) {
			saksi_ledger_abort(txn);
			goto fail;
		}
		if ((e = saksi_ledger_commit(txn)) != SAKSI_OK)
			goto fail;
	}
	atomic_store(&c->c_detecting, r != NULL);
	old = c->c_rules;
	c->c_rules = r;
	pthread_mutex_unlock(&c->c_mu);
	saksi_rules_free(old);
	return saksid_commit_publish(c);

fail:
	pthread_mutex_unlock(&c->c_mu);
	saksi_rules_free(r);
	return e;
}

/* The refusal alerts' numbers: the last raised and the last published (0, 0 at first). */
static saksi_err
refwin_meta(saksid_committer *c, MDB_txn *mt, uint64_t *last, uint64_t *published)
{
	uint8_t key = REFWIN_META;
	MDB_val k = { 1, &key }, v;
	int rc;

	*last = *published = 0;
	if (!c->c_have_refwin)
		return SAKSI_OK;
	if ((rc = mdb_get(mt, c->c_refwin, &k, &v)) == MDB_NOTFOUND)
		return SAKSI_OK;
	if (rc != 0)
		return SAKSI_ERR_LEDGER;
	if (v.mv_size != 16)
		return SAKSI_ERR_CORRUPT;
	*last = saksi_get_u64(v.mv_data);
	*published = saksi_get_u64((const uint8_t *)v.mv_data + 8);
	return *published <= *last ? SAKSI_OK : SAKSI_ERR_CORRUPT;
}

/* Refusal alerts acknowledged so far: the REFWIN_ACK records, counted at a (re)load. */
static saksi_err
refwin_acked_count(saksid_committer *c, MDB_txn *mt, uint64_t *n)
{
	uint8_t pfx = REFWIN_ACK;
	MDB_val k = { 1, &pfx }, v;
	MDB_cursor *cur;
	int rc;

	*n = 0;
	if (!c->c_have_refwin)
		return SAKSI_OK;
	if (mdb_cursor_open(mt, c->c_refwin, &cur) != 0)
		return SAKSI_ERR_LEDGER;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 1 || ((const uint8_t *)k.mv_data)[0] != REFWIN_ACK)
			break;
		(*n)++;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? SAKSI_OK : SAKSI_ERR_LEDGER;
}

/*
 * Refusal alert n as an ack sees it (RULES.md 5.4): SAKSI_ERR_NOT_FOUND if it was never
 * raised, else SAKSI_OK with *ack_leaf the index of its ack or UINT64_MAX while open.
 */
static saksi_err
refwin_alert_state(saksid_committer *c, MDB_txn *mt, uint64_t n, uint64_t *ack_leaf)
{
	uint8_t key[9];
	MDB_val k = { sizeof(key), key }, v;
	int rc;

	*ack_leaf = UINT64_MAX;
	if (!c->c_have_refwin)
		return SAKSI_ERR_NOT_FOUND;
	key[0] = REFWIN_ENTRY;
	saksi_put_u64(key + 1, n);
	if ((rc = mdb_get(mt, c->c_refwin, &k, &v)) == MDB_NOTFOUND)
		return SAKSI_ERR_NOT_FOUND;
	if (rc != 0)
		return SAKSI_ERR_LEDGER;
	if (v.mv_size != 8)
		return SAKSI_ERR_CORRUPT;
	key[0] = REFWIN_ACK;
	if ((rc = mdb_get(mt, c->c_refwin, &k, &v)) == MDB_NOTFOUND)
		return SAKSI_OK;
	if (rc != 0)
		return SAKSI_ERR_LEDGER;
	if (v.mv_size != 16)
		return SAKSI_ERR_CORRUPT;
	*ack_leaf = saksi_get_u64(v.mv_data);
	return SAKSI_OK;
}

static saksi_err
refwin_put(saksid_committer *c, MDB_txn *mt, const uint8_t *key, size_t klen,
           const uint8_t *val, size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	int rc = mdb_put(mt, c->c_refwin, &k, &v, 0);

	return rc == 0 ? SAKSI_OK : rc == MDB_MAP_FULL ? SAKSI_ERR_FULL : SAKSI_ERR_LEDGER;
}

static saksi_err
refwin_meta_put(saksid_committer *c, MDB_txn *mt, uint64_t last, uint64_t published)
{
	uint8_t key = REFWIN_META, val[16];

	saksi_put_u64(val, last);
	saksi_put_u64(val + 8, published);
	return refwin_put(c, mt, &key, 1, val, sizeof(val));
}

/* Sends refusal alerts from + 1 .. to, read back from their ledger entries. */
static saksi_err
publish_refusals(saksid_committer *c, saksi_ledger_txn *txn, MDB_txn *mt, uint64_t from,
                 uint64_t to)
{
	uint8_t key[9], *leaf;
	MDB_val k = { sizeof(key), key }, v;
	saksi_leaf lf;
	size_t len;
	char *json;
	saksi_err e;

	for (uint64_t n = from + 1; n <= to; n++) {
		key[0] = REFWIN_ENTRY;
		saksi_put_u64(key + 1, n);
		if (mdb_get(mt, c->c_refwin, &k, &v) != 0 || v.mv_size != 8)
			return SAKSI_ERR_CORRUPT;
		if ((e = saksi_ledger_leaf(txn, saksi_get_u64(v.mv_data), &leaf, &len)) !=
		    SAKSI_OK)
			return e;
		e = saksi_leaf_parse(leaf, len, &lf);
		if (e == SAKSI_OK && lf.lf_kind != SAKSI_LEAF_ALERT)
			e = SAKSI_ERR_CORRUPT;
		if (e == SAKSI_OK)
			e = saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &c->c_alert);
		free(leaf);
		if (e == SAKSI_OK)
			e = saksi_alert_json(&c->c_alert, &json);
		if (e != SAKSI_OK)
			return e;
		if (c->c_sock >= 0)
			(void)nn_send(c->c_sock, json, strlen(json), NN_DONTWAIT);
		free(json);
	}
	return SAKSI_OK;
}

/* Publishes alerts past the mark; c_mu held. */
static saksi_err
publish_locked(saksid_committer *c)
{
	saksi_ledger_txn *txn;
	MDB_txn *mt;
	uint64_t mark, last, rmark, rlast, fmark, flast, id;
	char *json;
	saksi_err e;

	if (c->c_rules == NULL)
		return SAKSI_OK;
	if ((e = saksi_ledger_begin(c->c_ledger, 1, &txn)) != SAKSI_OK)
		return e;
	if ((mt = saksi_ledger_txn_mdb(txn)) == NULL) {
		saksi_ledger_abort(txn);
		return SAKSI_ERR_LEDGER;
	}
	if ((e = saksi_rules_published_get(c->c_rules, mt, &mark)) != SAKSI_OK ||
	    (e = saksi_rules_alert_last(c->c_rules, mt, &last)) != SAKSI_OK ||
	    (e = saksi_rules_reraise_published_get(c->c_rules, mt, &rmark)) != SAKSI_OK ||
	    (e = saksi_rules_reraise_last(c->c_rules, mt, &rlast)) != SAKSI_OK ||
	    (e = refwin_meta(c, mt, &flast, &fmark)) != SAKSI_OK ||
	    (last <= mark && rlast <= rmark && flast <= fmark)) {
		saksi_ledger_abort(txn);
		return e;
	}
	/* Alerts, then re-raises (RULES.md 5.3): a re-raise always follows its original. */
	for (id = mark + 1; id <= last; id++) {
		if ((e = saksi_rules_alert_get(c->c_rules, mt, id, &c->c_alert)) != SAKSI_OK ||
		    (e = saksi_alert_json(&c->c_alert, &json)) != SAKSI_OK) {
			saksi_ledger_abort(txn);
			return e;
		}
		/* PUB never blocks; a subscriber too slow or absent misses it, and reads the
		 * ledger (saksi alerts list) instead. */
		if (c->c_sock >= 0)
			(void)nn_send(c->c_sock, json, strlen(json), NN_DONTWAIT);
		free(json);
	}
	for (id = rmark + 1; id <= rlast; id++) {
		if ((e = saksi_rules_reraise_get(c->c_rules, mt, id, &c->c_alert)) != SAKSI_OK ||
		    (e = saksi_alert_json(&c->c_alert, &json)) != SAKSI_OK) {
			saksi_ledger_abort(txn);
			return e;
		}
		if (c->c_sock >= 0)
			(void)nn_send(c->c_sock, json, strlen(json), NN_DONTWAIT);
		free(json);
	}
	/* Refusal alerts (RULES.md 5.4), numbered apart, marked apart. */
	if (flast > fmark && ((e = publish_refusals(c, txn, mt, fmark, flast)) != SAKSI_OK ||
	    (e = refwin_meta_put(c, mt, flast, flast)) != SAKSI_OK)) {
		saksi_ledger_abort(txn);
		return e;
	}
	if ((last > mark && (e = saksi_rules_published_set(c->c_rules, mt, last)) != SAKSI_OK) ||
	    (rlast > rmark &&
	     (e = saksi_rules_reraise_published_set(c->c_rules, mt, rlast)) != SAKSI_OK)) {
		saksi_ledger_abort(txn);
		return e;
	}
	return saksi_ledger_commit(txn);
}

saksi_err
saksid_commit_publish(saksid_committer *c)
{
	saksi_err e;

	pthread_mutex_lock(&c->c_mu);
	e = publish_locked(c);
	pthread_mutex_unlock(&c->c_mu);
	return e;
}

static void
set_msg(saksid_item *it, int code, const char *msg)
{
	it->it_code = code;
	snprintf(it->it_msg, sizeof(it->it_msg), "%s", msg);
}

/* Adds a refused item to the group's summary, one entry per (key id, reason). */
static size_t
summary_add(struct summary *sum, size_t n, const saksid_item *it)
{
	for (size_t i = 0; i < n; i++) {
		struct summary *s = &sum[i];
		if (s->s_reason == it->it_code &&
		    memcmp(s->s_key_id, it->it_key_id, SAKSI_KEYID_LEN) == 0) {
			s->s_count++;
			if (it->it_recv_ms < s->s_first)
				s->s_first = it->it_recv_ms;
			if (it->it_recv_ms > s->s_last)
				s->s_last = it->it_recv_ms;
			return n;
		}
	}
	memcpy(sum[n].s_key_id, it->it_key_id, SAKSI_KEYID_LEN);
	sum[n].s_reason = it->it_code;
	sum[n].s_count = 1;
	sum[n].s_first = sum[n].s_last = it->it_recv_ms;
	return n + 1;
}

/*
 * Feeds the event just appended at idx to the detectors, through the code `saksi replay`
 * uses too (detect.h). A malformed event (one the engine refuses as such) is committed
 * all the same, undetected; any other failure fails the group.
 */
static saksi_err
detect(saksid_committer *c, saksi_ledger_txn *txn, const saksid_item *it, uint64_t idx)
{
	MDB_txn *mt;

	if ((mt = saksi_ledger_txn_mdb(txn)) == NULL)
		return SAKSI_ERR_LEDGER;
	/* Prepared by the ingest worker: the same code, the same input, done in parallel. */
	if (it->it_prep != NULL)
		return saksi_detect_eval_prepared(it->it_prep, c->c_rules, mt, idx, NULL, NULL);
	return saksi_detect_eval(c->c_detect, c->c_rules, mt, idx, it->it_env, it->it_env_len,
	                         it->it_disc, it->it_disc_len, NULL, NULL);
}

/* Appends a ledger entry for every alert raised after id `before`. */
static saksi_err
alert_leaves(saksid_committer *c, saksi_ledger_txn *txn, uint64_t before, uint64_t now_ms)
{
	MDB_txn *mt;
	uint64_t last;
	size_t len;
	saksi_err e;

	if ((mt = saksi_ledger_txn_mdb(txn)) == NULL)
		return SAKSI_ERR_LEDGER;
	if ((e = saksi_rules_alert_last(c->c_rules, mt, &last)) != SAKSI_OK)
		return e;
	for (uint64_t id = before + 1; id <= last; id++) {
		uint64_t idx;

		/* Tracked in the same transaction: open from its commit on, for acks and
		 * re-raises (RULES.md 5.3). */
		if ((e = saksi_rules_alert_get(c->c_rules, mt, id, &c->c_alert)) != SAKSI_OK ||
		    (e = saksi_alert_leaf_encode(&c->c_alert, c->c_alert_body,
		                                 SAKSI_ALERT_LEAF_MAX, &len)) != SAKSI_OK ||
		    (e = saksi_ledger_append(txn, SAKSI_LEAF_ALERT, now_ms, c->c_alert_body, len,
		                             &idx, NULL)) != SAKSI_OK ||
		    (e = saksi_rules_alert_track(c->c_rules, mt, id, idx, now_ms)) != SAKSI_OK)
			return e;
		c->c_alerts++;
	}
	return SAKSI_OK;
}

/*
 * An acknowledgement (RULES.md 5.3, 5.4) is committed only if it names an alert that is
 * open now, in this transaction: *id is that alert, or 0 for any other event, and
 * *refusals is 1 when it names a refusal alert (alert_kind "refusals": those are
 * numbered apart). Otherwise the item is refused as `schema` (the payload names
 * something that is not there to ack), and nothing is written. Returns a ledger error or
 * OK.
 */
static saksi_err
ack_check(saksid_committer *c, saksi_ledger_txn *txn, saksid_item *it, uint64_t *id,
          int *refusals)
{
	saksi_envelope env;
	saksi_alert_state st;
	json_t *root, *v, *kind;
	MDB_txn *mt;
	uint64_t aid, ack_leaf;
	saksi_err e;

	*id = 0;
	*refusals = 0;
	if (saksi_envelope_parse(it->it_env, it->it_env_len, &env) != SAKSI_OK ||
	    strcmp(env.ev_type, ACK_TYPE) != 0)
		return SAKSI_OK;
	root = json_loadb((const char *)env.ev_payload, env.ev_payload_len,
	                  JSON_REJECT_DUPLICATES, NULL);
	v = json_object_get(root, "alert_id");
	kind = json_object_get(root, "alert_kind");
	if (!json_is_integer(v) || json_integer_value(v) < 1 || (kind != NULL &&
	    (!json_is_string(kind) || strcmp(json_string_value(kind), ACK_KIND_REFUSALS)))) {
		/* Ingest checked it against the schema: cannot happen. */
		json_decref(root);
		set_msg(it, SAKSI_R_SCHEMA, "alert_id is not a positive integer, or "
		        "alert_kind is not \"refusals\"");
		return SAKSI_OK;
	}
	aid = (uint64_t)json_integer_value(v);
	*refusals = kind != NULL;
	json_decref(root);
	if (c->c_rules == NULL) {
		snprintf(it->it_msg, sizeof(it->it_msg), "no open %salert %llu: detection is off",
		         *refusals ? "refusal " : "", (unsigned long long)aid);
		it->it_code = SAKSI_R_SCHEMA;
		return SAKSI_OK;
	}
	if ((mt = saksi_ledger_txn_mdb(txn)) == NULL)
		return SAKSI_ERR_LEDGER;
	if (*refusals) {
		/* Refusal alerts (RULES.md 5.4): their own numbers and ack records. */
		e = refwin_alert_state(c, mt, aid, &ack_leaf);
		if (e == SAKSI_ERR_NOT_FOUND) {
			snprintf(it->it_msg, sizeof(it->it_msg), "no open refusal alert %llu: "
			         "there is no such alert", (unsigned long long)aid);
			it->it_code = SAKSI_R_SCHEMA;
			return SAKSI_OK;
		}
		if (e != SAKSI_OK)
			return e;
		if (ack_leaf != UINT64_MAX) {
			snprintf(it->it_msg, sizeof(it->it_msg), "no open refusal alert %llu: it "
			         "was acknowledged at index %llu", (unsigned long long)aid,
			         (unsigned long long)ack_leaf);
			it->it_code = SAKSI_R_SCHEMA;
			return SAKSI_OK;
		}
		*id = aid;
		return SAKSI_OK;
	}
	e = saksi_rules_alert_state(c->c_rules, mt, aid, &st);
	if (e == SAKSI_ERR_NOT_FOUND) {
		snprintf(it->it_msg, sizeof(it->it_msg), "no open alert %llu: there is no such "
		         "alert", (unsigned long long)aid);
		it->it_code = SAKSI_R_SCHEMA;
		return SAKSI_OK;
	}
	if (e != SAKSI_OK)
		return e;
	if (st.as_acked) {
		snprintf(it->it_msg, sizeof(it->it_msg), "no open alert %llu: it was "
		         "acknowledged at index %llu", (unsigned long long)aid,
		         (unsigned long long)st.as_ack_leaf);
		it->it_code = SAKSI_R_SCHEMA;
		return SAKSI_OK;
	}
	*id = aid;
	return SAKSI_OK;
}

/* 1 if the item is a forget request (its type read from the envelope). */
static int
is_forget(const saksid_item *it)
{
	saksi_envelope env;

	return saksi_envelope_parse(it->it_env, it->it_env_len, &env) == SAKSI_OK &&
	    strcmp(env.ev_type, SAKSID_FORGET_TYPE) == 0;
}

/*
 * The event appended at idx into the group's index batch: the keys its ingest worker
 * made, or made here (a retention forget, or a worker short of memory). A forget writes
 * the batch first, since it reads the index (FORMATS.md 7.4: his postings go with his
 * data key, in this transaction, the request's own among them). While the catch-up
 * runs, events are left to it, but a forget still takes out what is indexed already.
 */
static saksi_err
index_event(saksid_committer *c, saksi_ledger_txn *txn, const saksid_item *it, uint64_t idx)
{
	saksi_index_keys *k = NULL;
	saksi_err e = SAKSI_OK;
	int live = atomic_load(&c->c_ix_live);

	if (live && it->it_ixk != NULL)
		e = saksi_index_batch_add(c->c_ix_batch, it->it_ixk, idx);
	else if (live) {
		e = saksi_index_keys_of(c->c_blind, it->it_env, it->it_env_len, it->it_disc,
		                        it->it_disc_len, &k);
		if (e == SAKSI_OK)
			e = saksi_index_batch_add(c->c_ix_batch, k, idx);
		saksi_index_keys_free(k);
		if (e == SAKSI_ERR_FORMAT)
			e = SAKSI_OK;   /* not indexed; the index only helps find entries */
	}
	if (e != SAKSI_OK || it->it_disc == NULL || !is_forget(it))
		return e;
	if ((e = saksi_index_batch_write(c->c_ix_batch, saksi_ledger_txn_mdb(txn),
	    c->c_ix_dbi)) != SAKSI_OK)
		return e;
	return saksid_index_forget(txn, c->c_ix_dbi, c->c_blind, c->c_store_key, c->c_dk,
	                           it->it_disc, it->it_disc_len, NULL);
}

/*
 * At a group's end: its postings, sorted, and the mark past its last leaf (its refusal
 * summary and alert entries are no events, and a reader compares the mark with the tree
 * size). While the catch-up runs, the mark is its own.
 */
static saksi_err
index_group_end(saksid_committer *c, saksi_ledger_txn *txn)
{
	MDB_txn *mt = saksi_ledger_txn_mdb(txn);
	saksi_err e;

	if (c->c_ix_batch == NULL)
		return SAKSI_OK;
	if ((e = saksi_index_batch_write(c->c_ix_batch, mt, c->c_ix_dbi)) != SAKSI_OK ||
	    !atomic_load(&c->c_ix_live))
		return e;
	return saksi_index_skip(mt, c->c_ix_dbi, saksi_ledger_size(txn));
}

/* Replay, equivocation, clock skew; then the append. Returns a ledger error or OK. */
static saksi_err
decide(saksid_committer *c, saksi_ledger_txn *txn, saksid_item *it, uint64_t now_ms)
{
	saksi_hash env_hash, leaf_hash;
	uint64_t idx, last, diff, ack;
	int ahead, ack_refusals;
	size_t blen;
	saksi_err e;

	e = saksi_ledger_seq_get(txn, it->it_key_id, it->it_seq, &idx, env_hash);
	if (e == SAKSI_OK) {
		if (sodium_memcmp(env_hash, it->it_env_hash, SAKSI_HASH_LEN) == 0) {
			it->it_code = SAKSI_R_DUPLICATE;
			it->it_index = idx;
			it->it_msg[0] = '\0';
		} else {
			snprintf(it->it_msg, sizeof(it->it_msg), "seq %llu of this key is already "
			         "in the ledger at index %llu with other bytes",
			         (unsigned long long)it->it_seq, (unsigned long long)idx);
			it->it_code = SAKSI_R_EQUIVOCATION;
		}
		return SAKSI_OK;
	}
	if (e != SAKSI_ERR_NOT_FOUND)
		return e;
	if ((e = saksi_ledger_seq_last(txn, it->it_key_id, &last)) != SAKSI_OK)
		return e;
	if (it->it_seq <= last) {
		snprintf(it->it_msg, sizeof(it->it_msg), "seq %llu is not above the last "
		         "committed seq %llu of this key", (unsigned long long)it->it_seq,
		         (unsigned long long)last);
		it->it_code = SAKSI_R_REPLAY;
		return SAKSI_OK;
	}
	/*
	 * A clock running ahead is held tight: it would move the rules' watermark and make
	 * everyone else's events late. An old event may be older, up to the age bound: that
	 * is what a producer's outbox delivers after an outage, and it is stored with both
	 * times, so its delay stays visible.
	 */
	ahead = it->it_time_ms > now_ms;
	diff = ahead ? it->it_time_ms - now_ms : now_ms - it->it_time_ms;
	if (diff > (ahead ? c->c_skew : c->c_age)) {
		snprintf(it->it_msg, sizeof(it->it_msg), "time_ms %llu is %llu ms %s the "
		         "daemon's clock %llu (tolerance %llu ms)",
		         (unsigned long long)it->it_time_ms, (unsigned long long)diff,
		         ahead ? "ahead of" : "behind", (unsigned long long)now_ms,
		         (unsigned long long)(ahead ? c->c_skew : c->c_age));
		it->it_code = SAKSI_R_CLOCK_SKEW;
		return SAKSI_OK;
	}
	if ((e = ack_check(c, txn, it, &ack, &ack_refusals)) != SAKSI_OK ||
	    it->it_code != SAKSI_R_ACCEPTED)
		return e;
	e = saksi_ledger_append_hdr(txn, SAKSI_LEAF_EVENT, now_ms, it->it_env, it->it_env_len,
	                            &idx, leaf_hash, it->it_leaf_hdr);
	if (e != SAKSI_OK)
		return e;
	if ((e = saksi_ledger_seq_put(txn, it->it_key_id, it->it_seq, idx, it->it_env_hash)) !=
	    SAKSI_OK)
		return e;
	if (it->it_disc != NULL && c->c_shred != NULL) {
		if ((e = saksid_shred_store(c->c_shred, txn, it, idx, leaf_hash)) != SAKSI_OK)
			return e;
	} else if (it->it_disc != NULL) {
		if (it->it_disc_len + SAKSID_DISC_OVERHEAD > c->c_disc_cap)
			return SAKSI_ERR_TOO_LARGE;   /* ingest caps it far below */
		e = saksid_disc_seal(c->c_store_key, idx, leaf_hash, it->it_disc, it->it_disc_len,
		                     c->c_disc, c->c_disc_cap, &blen);
		if (e == SAKSI_OK)
			e = saksi_ledger_disc_put(txn, idx, c->c_disc, blen);
		sodium_memzero(c->c_disc, blen);
		if (e != SAKSI_OK)
			return e;
	}
	if (c->c_rules != NULL && (e = detect(c, txn, it, idx)) != SAKSI_OK)
		return e;
	if (c->c_blind != NULL && (e = index_event(c, txn, it, idx)) != SAKSI_OK)
		return e;
	if (ack != 0 && !ack_refusals && (e = saksi_rules_alert_ack(c->c_rules,
	    saksi_ledger_txn_mdb(txn), ack, idx, now_ms)) != SAKSI_OK)
		return e;   /* ack_check found it open in this transaction */
	if (ack != 0 && ack_refusals) {
		uint8_t akey[9], aval[16];

		akey[0] = REFWIN_ACK;
		saksi_put_u64(akey + 1, ack);
		saksi_put_u64(aval, idx);
		saksi_put_u64(aval + 8, now_ms);
		if ((e = refwin_put(c, saksi_ledger_txn_mdb(txn), akey, sizeof(akey), aval,
		                    sizeof(aval))) != SAKSI_OK)
			return e;
	}
	if (ack != 0)
		c->c_group_acks++;
	it->it_code = SAKSI_R_ACCEPTED;
	it->it_index = idx;
	it->it_msg[0] = '\0';
	return SAKSI_OK;
}

/* How loud a rising refusal count is: forgeries and dead keys first, load last. */
static int
refusal_severity(int reason)
{
	switch (reason) {
	case SAKSI_R_SIGNATURE:
	case SAKSI_R_EQUIVOCATION:
	case SAKSI_R_REVOKED_KEY:
	case SAKSI_R_DISCLOSURE:
		return SAKSI_SEV_HIGH;
	case SAKSI_R_BUSY:
	case SAKSI_R_UNAVAILABLE:
		return SAKSI_SEV_LOW;
	default:
		return SAKSI_SEV_MEDIUM;
	}
}

/*
 * Refusal alerts (RULES.md 5.4): adds this group's refusals, by reason, to the reason's
 * window (daemon clock, windows aligned on multiples of the window length) and raises
 * one alert of kind 5 the first time a window's count reaches the threshold. The window
 * state is written in the group's transaction, so a crash forgets nothing and raises
 * nothing twice. sidx: the index of the group's refusal summary, the evidence.
 */
static saksi_err
refusal_alerts(saksid_committer *c, saksi_ledger_txn *txn, size_t nsum, uint64_t sidx,
               uint64_t now_ms)
{
	uint8_t key[1], rec[REFWIN_HDR + 8 * SAKSI_ALERT_EVIDENCE_MAX];
	uint64_t count[256], first[256], last[256], start, wstart, n;
	uint32_t groups;
	size_t len, nev;
	int alerted, rc;
	MDB_txn *mt;
	MDB_val k, v;
	saksi_err e;

	if ((mt = saksi_ledger_txn_mdb(txn)) == NULL)
		return SAKSI_ERR_LEDGER;
	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < nsum; i++) {
		const struct summary *x = &c->c_sum[i];
		int r = x->s_reason & 0xff;

		if (count[r] == 0 || x->s_first < first[r])
			first[r] = x->s_first;
		if (count[r] == 0 || x->s_last > last[r])
			last[r] = x->s_last;
		count[r] += x->s_count;
	}
	wstart = now_ms - now_ms % c->c_ref_window;
	for (int r = SAKSI_R_PARSE; r < 256; r++) {
		if (count[r] == 0)
			continue;
		key[0] = (uint8_t)r;
		k.mv_size = 1;
		k.mv_data = key;
		rc = mdb_get(mt, c->c_refwin, &k, &v);
		if (rc == 0 && (v.mv_size < REFWIN_HDR || v.mv_size > sizeof(rec) ||
		    (v.mv_size - REFWIN_HDR) % 8 != 0))
			return SAKSI_ERR_CORRUPT;
		if (rc != 0 && rc != MDB_NOTFOUND)
			return SAKSI_ERR_LEDGER;
		if (rc == 0 && (start = saksi_get_u64(v.mv_data)) == wstart) {
			memcpy(rec, v.mv_data, v.mv_size);
			len = v.mv_size;
		} else {
			/* A new window: what the old one counted is in the ledger already. */
			memset(rec, 0, REFWIN_HDR);
			saksi_put_u64(rec, wstart);
			saksi_put_u64(rec + 16, first[r]);
			len = REFWIN_HDR;
		}
		n = saksi_get_u64(rec + 8);
		n = n + count[r] < n ? UINT64_MAX : n + count[r];
		saksi_put_u64(rec + 8, n);
		if (first[r] < saksi_get_u64(rec + 16))
			saksi_put_u64(rec + 16, first[r]);
		if (last[r] > saksi_get_u64(rec + 24))
			saksi_put_u64(rec + 24, last[r]);
		groups = saksi_get_u32(rec + 32) + 1;
		saksi_put_u32(rec + 32, groups);
		alerted = rec[36];
		nev = rec[37];
		if (nev < SAKSI_ALERT_EVIDENCE_MAX) {
			saksi_put_u64(rec + REFWIN_HDR + 8 * nev, sidx);
			rec[37] = (uint8_t)++nev;
			len = REFWIN_HDR + 8 * nev;
		}
		if (!alerted && n >= c->c_ref_threshold) {
			saksi_alert *a = &c->c_alert;
			size_t alen;

			memset(a, 0, sizeof(*a));
			a->al_kind = SAKSI_ALERT_REFUSALS;
			a->al_severity = refusal_severity(r);
			snprintf(a->al_rule, sizeof(a->al_rule), "refusals:%s", saksi_reason_name(r));
			snprintf(a->al_group, sizeof(a->al_group), "reason=%s", saksi_reason_name(r));
			a->al_first_ms = saksi_get_u64(rec + 16);
			a->al_last_ms = saksi_get_u64(rec + 24);
			if (a->al_last_ms < a->al_first_ms)
				a->al_last_ms = a->al_first_ms;
			a->al_value = n;
			a->al_threshold = c->c_ref_threshold;
			a->al_extra = c->c_ref_window;
			a->al_trigger = sidx;
			a->al_total = groups;
			a->al_nevidence = (uint32_t)nev;
			for (size_t i = 0; i < nev; i++)
				a->al_evidence[i] = saksi_get_u64(rec + REFWIN_HDR + 8 * i);
			uint64_t flast, fmark, idx;
			uint8_t ekey[9], eval[8];

			/* Numbered apart from the rules' alert log: a replay of the rules over the
			 * ledger gives their alerts the same ids with or without these. */
			if ((e = refwin_meta(c, mt, &flast, &fmark)) != SAKSI_OK)
				return e;
			a->al_id = ++flast;
			if ((e = saksi_alert_leaf_encode(a, c->c_alert_body, SAKSI_ALERT_LEAF_MAX,
			                                 &alen)) != SAKSI_OK ||
			    (e = saksi_ledger_append(txn, SAKSI_LEAF_ALERT, now_ms, c->c_alert_body,
			                             alen, &idx, NULL)) != SAKSI_OK)
				return e;
			ekey[0] = REFWIN_ENTRY;
			saksi_put_u64(ekey + 1, flast);
			saksi_put_u64(eval, idx);
			if ((e = refwin_put(c, mt, ekey, sizeof(ekey), eval, sizeof(eval))) !=
			        SAKSI_OK ||
			    (e = refwin_meta_put(c, mt, flast, fmark)) != SAKSI_OK)
				return e;
			c->c_alerts++;
			c->c_ref_alerts++;
			rec[36] = 1;
		}
		v.mv_size = len;
		v.mv_data = rec;
		if ((rc = mdb_put(mt, c->c_refwin, &k, &v, 0)) != 0)
			return rc == MDB_MAP_FULL ? SAKSI_ERR_FULL : SAKSI_ERR_LEDGER;
	}
	return SAKSI_OK;
}

/* Appends the refusal summary and bumps the counters. */
static saksi_err
summarize(saksid_committer *c, saksi_ledger_txn *txn, size_t nsum, uint64_t now_ms)
{
	uint8_t *p = c->c_body;
	uint64_t sidx;
	saksi_err e;

	saksi_put_u16(p, (uint16_t)nsum);
	p += 2;
	for (size_t i = 0; i < nsum; i++) {
		const struct summary *s = &c->c_sum[i];
		memcpy(p, s->s_key_id, SAKSI_KEYID_LEN);
		p[8] = (uint8_t)s->s_reason;
		saksi_put_u32(p + 9, s->s_count);
		saksi_put_u64(p + 13, s->s_first);
		saksi_put_u64(p + 21, s->s_last);
		p += SUMMARY_ENTRY;
		if ((e = saksi_ledger_stat_add(txn, s->s_reason, s->s_key_id, s->s_count)) !=
		    SAKSI_OK)
			return e;
	}
	if ((e = saksi_ledger_append(txn, SAKSI_LEAF_REFUSALS, now_ms, c->c_body,
	                             (size_t)(p - c->c_body), &sidx, NULL)) != SAKSI_OK)
		return e;
	if (c->c_rules != NULL && c->c_have_refwin)
		return refusal_alerts(c, txn, nsum, sidx, now_ms);
	return SAKSI_OK;
}

/* Signs the checkpoint of the tree as txn sees it into c->c_note. */
static saksi_err
sign_checkpoint(saksid_committer *c, saksi_ledger_txn *txn, uint64_t size)
{
	saksi_checkpoint ck;
	char body[SAKSI_ORIGIN_MAX + 128];
	size_t blen;
	saksi_err e;

	memset(&ck, 0, sizeof(ck));
	memcpy(ck.ck_origin, c->c_origin, sizeof(ck.ck_origin));
	ck.ck_size = size;
	if ((e = saksi_ledger_root(txn, size, ck.ck_root)) != SAKSI_OK)
		return e;
	if ((e = saksi_checkpoint_format(&ck, body, sizeof(body), &blen)) != SAKSI_OK)
		return e;
	return saksi_note_sign(body, blen, c->c_origin, saksi_seckey_ed25519(c->c_log_key),
	                       c->c_note, SAKSI_NOTE_MAX + 1, &c->c_note_len);
}

static void
set_note(saksi_tlog_proof *p, const char *note, size_t len)
{
	memcpy(p->tp_note, note, len);
	p->tp_note[len] = '\0';
	p->tp_note_len = len;
}

_Static_assert(sizeof(((saksid_item *)0)->it_leaf_hdr) == SAKSI_LEAF_HDR,
               "it_leaf_hdr holds one leaf header");

/* samenote: c_proof's note was formatted into a receipt already (so checked). */
static saksi_err
receipt(saksid_committer *c, saksi_ledger_txn *rtxn, saksid_item *it, uint64_t size,
        int samenote)
{
	saksi_tlog_proof *p = c->c_proof;
	uint8_t *leaf = NULL;
	size_t leaf_len, written;
	saksi_err e;

	if (c->c_receipts_cap - c->c_receipts_len < RECEIPT_ROOM) {
		size_t cap = c->c_receipts_cap * 2;
		char *r;
		while (cap - c->c_receipts_len < RECEIPT_ROOM)
			cap *= 2;
		if ((r = realloc(c->c_receipts, cap)) == NULL)
			return SAKSI_ERR_NOMEM;
		c->c_receipts = r;
		c->c_receipts_cap = cap;
	}
	if (it->it_code == SAKSI_R_ACCEPTED) {
		/* Kept from the append: reading the leaf back and decompressing it cost more
		 * than the rest of the receipt. */
		memcpy(p->tp_extra, it->it_leaf_hdr, SAKSI_LEAF_HDR);
	} else {
		if ((e = saksi_ledger_leaf(rtxn, it->it_index, &leaf, &leaf_len)) != SAKSI_OK)
			return e;
		if (leaf_len < SAKSI_LEAF_HDR) {
			free(leaf);
			return SAKSI_ERR_CORRUPT;
		}
		memcpy(p->tp_extra, leaf, SAKSI_LEAF_HDR);
		free(leaf);
	}
	p->tp_extra_len = SAKSI_LEAF_HDR;
	p->tp_has_extra = 1;
	p->tp_index = it->it_index;
	e = saksi_ledger_prove_inclusion(rtxn, it->it_index, size, p->tp_proof,
	                                 &p->tp_proof_len);
	if (e != SAKSI_OK)
		return e;
	if (samenote)
		e = saksi_tlog_proof_format_samenote(p, c->c_pb, c->c_receipts + c->c_receipts_len,
		    c->c_receipts_cap - c->c_receipts_len, &written);
	else
		e = saksi_tlog_proof_format(p, c->c_receipts + c->c_receipts_len,
		    c->c_receipts_cap - c->c_receipts_len, &written);
	if (e != SAKSI_OK)
		return e;
	it->it_receipt_off = c->c_receipts_len;
	it->it_receipt_len = written;
	c->c_receipts_len += written;
	return SAKSI_OK;
}

static void
all_unavailable(saksid_item *const *items, size_t n, saksi_err e, int failed)
{
	char msg[SAKSID_MSG_MAX];

	if (failed)
		/* Sticky (lib/ledger.c, sync_to): not the disk's state now, saksid's. */
		snprintf(msg, sizeof(msg), "the ledger's sync failed earlier: saksid writes "
		         "nothing more until it is restarted (see its log); retry later");
	else if (e == SAKSI_ERR_FULL)
		snprintf(msg, sizeof(msg), "the ledger is full; nothing was written, retry later");
	else if (e == SAKSI_ERR_IO)
		/* LMDB reports a short write (a disk that filled up mid-write) as EIO. */
		snprintf(msg, sizeof(msg), "the ledger could not be written (I/O error: a full "
		         "or failing disk, see saksid's log); nothing was written, retry later");
	else
		snprintf(msg, sizeof(msg), "the ledger failed (%s); nothing was written, retry "
		         "later", saksi_strerror(e));
	for (size_t i = 0; i < n; i++)
		set_msg(items[i], SAKSI_R_UNAVAILABLE, msg);
}

/*
 * A retention pass in txn, when one is due: the retention key's forget requests go
 * through decide() like any event. The next mark is applied once the group commits.
 */
static saksi_err
retention(saksid_committer *c, saksi_ledger_txn *txn, uint64_t now_ms, int force,
          uint64_t *done)
{
	size_t n = 0;
	saksi_err e = SAKSI_OK;

	*done = 0;
	c->c_ret_next_new = c->c_ret_next;
	if (c->c_ret_ms == 0 || now_ms < c->c_ret_ms || (!force && now_ms < c->c_ret_next))
		return SAKSI_OK;
	e = saksid_shred_retention(c->c_shred, txn, c->c_ret_key, now_ms - c->c_ret_ms, now_ms,
	                           c->c_ret_items, SAKSID_RETENTION_BATCH, &n);
	if (e != SAKSI_OK)
		return e;
	for (size_t i = 0; i < n && e == SAKSI_OK; i++) {
		e = decide(c, txn, &c->c_ret_items[i], now_ms);
		if (e == SAKSI_OK && c->c_ret_items[i].it_code == SAKSI_R_ACCEPTED)
			(*done)++;
	}
	saksid_shred_items_free(c->c_ret_items, n);
	c->c_ret_next_new = n == SAKSID_RETENTION_BATCH ? now_ms :
	    now_ms + SAKSID_RETENTION_EVERY_MS;
	return e;
}

saksi_err
saksid_commit_retention(saksid_committer *c, uint64_t now_ms, uint64_t *n)
{
	saksi_ledger_txn *txn = NULL;
	uint64_t size0, size, done = 0;
	saksi_err e;

	if (n != NULL)
		*n = 0;
	if (c->c_ret_ms == 0)
		return SAKSI_ERR_INVAL;
	pthread_mutex_lock(&c->c_mu);
	if ((e = saksi_ledger_begin(c->c_ledger, 1, &txn)) != SAKSI_OK)
		goto out;
	size0 = saksi_ledger_size(txn);
	if ((e = retention(c, txn, now_ms, 1, &done)) != SAKSI_OK)
		goto out;
	if ((e = index_group_end(c, txn)) != SAKSI_OK)
		goto out;
	size = saksi_ledger_size(txn);
	if (size == size0) {
		saksi_ledger_abort(txn);
		txn = NULL;
		c->c_ret_next = c->c_ret_next_new;
		goto out;
	}
	if ((e = rules_snapshot(c->c_rules, saksi_ledger_txn_mdb(txn), now_ms, 1)) != SAKSI_OK)
		goto out;
	if ((e = sign_checkpoint(c, txn, size)) != SAKSI_OK ||
	    (e = saksi_ledger_ckpt_put(txn, size, c->c_note, c->c_note_len)) != SAKSI_OK)
		goto out;
	e = saksi_ledger_commit(txn);
	txn = NULL;
	if (e != SAKSI_OK)
		goto out;
	c->c_size = size;
	c->c_ret_next = c->c_ret_next_new;
	c->c_retained += done;
	if (n != NULL)
		*n = done;
	(void)saksid_shred_finish(c->c_shred, c->c_ledger, 0, NULL);
out:
	if (txn != NULL)
		saksi_ledger_abort(txn);
	saksi_index_batch_clear(c->c_ix_batch);
	pthread_mutex_unlock(&c->c_mu);
	return e;
}

uint64_t
saksid_commit_retained(const saksid_committer *c)
{
	return c->c_retained;
}

int
saksid_commit_retention_due(const saksid_committer *c, uint64_t now_ms)
{
	return c->c_ret_ms != 0 && now_ms >= c->c_ret_ms && now_ms >= c->c_ret_next;
}

void
saksid_commit_after(saksid_committer *c)
{
	if (c->c_shred == NULL)
		return;
	pthread_mutex_lock(&c->c_mu);
	(void)saksid_shred_refill(c->c_shred, c->c_ledger);
	pthread_mutex_unlock(&c->c_mu);
}

saksi_err
saksid_commit_group(saksid_committer *c, saksid_item *const *items, size_t n,
                    uint64_t now_ms)
{
	saksi_ledger_txn *txn = NULL, *rtxn = NULL;
	uint64_t size0, size, ck_size, alerts0 = 0;
	size_t nsum = 0, nreceipt = 0, forgets = 0;
	int samenote = 0;   /* the group's note is in c_proof and was checked */
	uint64_t retained = 0;
	char *note = NULL;
	size_t note_len;
	saksi_err e;

	c->c_appended = 0;
	c->c_alerts = 0;
	c->c_ref_alerts = 0;
	c->c_group_acks = 0;
	c->c_receipts_len = 0;
	c->c_ticket = 0;
	if (n == 0 || n > SAKSID_COMMIT_ITEMS_MAX)
		return SAKSI_ERR_INVAL;

	pthread_mutex_lock(&c->c_mu);
	if ((e = saksi_ledger_begin(c->c_ledger, 1, &txn)) != SAKSI_OK)
		goto fail;
	size0 = saksi_ledger_size(txn);
	if (c->c_rules != NULL) {
		MDB_txn *mt = saksi_ledger_txn_mdb(txn);
		if (mt == NULL)
			e = SAKSI_ERR_LEDGER;
		else
			e = saksi_rules_alert_last(c->c_rules, mt, &alerts0);
		if (e != SAKSI_OK)
			goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		saksid_item *it = items[i];
		if (it->it_code == SAKSI_R_ACCEPTED && (e = decide(c, txn, it, now_ms)) != SAKSI_OK)
			goto fail;
		forgets += it->it_code == SAKSI_R_ACCEPTED && is_forget(it);
		/* Unavailable (the daemon's own failure, e.g. memory) is not the producer's
		 * doing: answered, but not counted as a refusal. */
		if (it->it_code == SAKSI_R_UNAVAILABLE)
			continue;
		if (it->it_code >= SAKSI_R_PARSE)
			nsum = summary_add(c->c_sum, nsum, it);
		else
			nreceipt++;
	}
	for (size_t i = 0; i < c->c_nextra; i++) {
		const struct summary *x = &c->c_extra[i];
		nsum = summary_merge(c->c_sum, nsum, SUMMARY_MAX, x->s_key_id, x->s_reason,
		                     x->s_count, x->s_first, x->s_last);
	}
	if (c->c_ret_ms != 0 && (e = retention(c, txn, now_ms, 0, &retained)) != SAKSI_OK)
		goto fail;
	if (c->c_rules != NULL && (e = alert_leaves(c, txn, alerts0, now_ms)) != SAKSI_OK)
		goto fail;
	/* A snapshot when due; at once when a participant is forgotten, as his events'
	 * disclosures will not open again for a tail evaluated after a crash. */
	if (c->c_rules != NULL && (e = rules_snapshot(c->c_rules, saksi_ledger_txn_mdb(txn),
	    now_ms, forgets > 0 || retained > 0)) != SAKSI_OK)
		goto fail;
	if (nsum > 0 && (e = summarize(c, txn, nsum, now_ms)) != SAKSI_OK)
		goto fail;
	if ((e = index_group_end(c, txn)) != SAKSI_OK)
		goto fail;
	size = saksi_ledger_size(txn);
	if (size == size0) {
		/* Only duplicates: nothing to write, nothing to sign. */
		saksi_ledger_abort(txn);
		txn = NULL;
	} else {
		if ((e = sign_checkpoint(c, txn, size)) != SAKSI_OK)
			goto fail;
		if ((e = saksi_ledger_ckpt_put(txn, size, c->c_note, c->c_note_len)) != SAKSI_OK)
			goto fail;
		/* The data keys this group hands out were synced before (saksid_shred_refill,
		 * or new_slot's own synced batch): nothing of the slot file to sync here. */
		if (c->c_sync_later)
			e = saksi_ledger_commit_nosync(txn, &c->c_ticket);
		else
			e = saksi_ledger_commit(txn);
		txn = NULL;
		/*
		 * What follows destroys data keys or tells the world (alerts): only once the
		 * group is durable. A group that needs neither leaves the meta page's sync to
		 * its caller, who sends nothing of it before (saksid_commit_ticket).
		 */
		if (e == SAKSI_OK && c->c_ticket != 0 && (forgets > 0 || retained > 0 ||
		    c->c_alerts > 0)) {
			e = saksi_ledger_sync(c->c_ledger, c->c_ticket);
			c->c_ticket = 0;
		}
		if (e != SAKSI_OK)
			goto fail;
	}
	c->c_size = size;
	c->c_appended = size - size0;
	c->c_nextra = 0;   /* counted: in the summary and the stat db */
	atomic_fetch_add(&c->c_alert_total, c->c_alerts);
	if (c->c_group_acks > 0 && atomic_load(&c->c_acked) != UINT64_MAX)
		atomic_fetch_add(&c->c_acked, c->c_group_acks);
	if (c->c_ret_ms != 0) {
		c->c_ret_next = c->c_ret_next_new;
		c->c_retained += retained;
	}
	/* Durable: destroy the keys of the participants forgotten in it. A failure leaves
	 * the pending marks, and the next group (or the next start) finishes. */
	if (c->c_shred != NULL)
		(void)saksid_shred_finish(c->c_shred, c->c_ledger, 0, NULL);
	/* Durable: hand the new alerts on. A failure here loses nothing: the mark stays,
	 * and the next group or the next start publishes them. */
	if (c->c_alerts > 0)
		(void)publish_locked(c);
	pthread_mutex_unlock(&c->c_mu);
	if (nreceipt == 0)
		return SAKSI_OK;

	/* Durable now (or once c_ticket is synced): build the receipts from what the ledger
	 * holds, in a snapshot that may be ahead of the disk by this group only. */
	if ((e = saksi_ledger_begin_unsynced(c->c_ledger, &rtxn)) != SAKSI_OK)
		goto noreceipt;
	for (size_t i = 0; i < n; i++) {
		saksid_item *it = items[i];
		if (it->it_code == SAKSI_R_ACCEPTED) {
			ck_size = size;
			if (!samenote)
				set_note(c->c_proof, c->c_note, c->c_note_len);
		} else if (it->it_code == SAKSI_R_DUPLICATE) {
			/*
			 * The same receipt as the first time: proved to the checkpoint of the
			 * group that committed it, the first one signed after its index.
			 */
			e = saksi_ledger_ckpt_next(rtxn, it->it_index, &ck_size, &note, &note_len);
			if (e == SAKSI_OK && note_len > SAKSI_NOTE_MAX)
				e = SAKSI_ERR_CORRUPT;
			if (e != SAKSI_OK)
				goto noreceipt;
			set_note(c->c_proof, note, note_len);
			free(note);
			note = NULL;
			samenote = 0;
		} else
			continue;
		if ((e = receipt(c, rtxn, it, ck_size, samenote)) != SAKSI_OK)
			goto noreceipt;
		samenote = it->it_code == SAKSI_R_ACCEPTED;
	}
	saksi_ledger_commit(rtxn);
	return SAKSI_OK;

noreceipt:
	/* The events are durable; only their receipts failed. A resubmission of the same
	 * bytes is a duplicate and gets its receipt then. */
	free(note);
	if (rtxn != NULL)
		saksi_ledger_abort(rtxn);
	for (size_t i = 0; i < n; i++) {
		saksid_item *it = items[i];
		if (it->it_code == SAKSI_R_ACCEPTED || it->it_code == SAKSI_R_DUPLICATE)
			set_msg(it, SAKSI_R_UNAVAILABLE, "committed, but the receipt could not be "
			        "built; resubmit the same bytes for it");
	}
	return e;

fail:
	if (txn != NULL)
		saksi_ledger_abort(txn);
	saksi_index_batch_clear(c->c_ix_batch);
	pthread_mutex_unlock(&c->c_mu);
	c->c_appended = 0;
	c->c_alerts = 0;
	c->c_ticket = 0;
	all_unavailable(items, n, e, saksi_ledger_failed(c->c_ledger));
	return e;
}

/*
 * Re-raises (RULES.md 5.3): every open alert whose latest raise is c_ack_timeout ms or
 * more before now_ms is raised again, in groups of at most RERAISE_GROUP_MAX, each its
 * own transaction with a signed checkpoint; the state moves in the same transaction, so
 * a crash neither repeats nor loses one. Then they are published. At most
 * RERAISE_GROUPS_MAX groups a call, since submissions wait meanwhile: a backlog (after
 * a long stop) drains over the next ticks, oldest first.
 */
saksi_err
saksid_commit_reraise(saksid_committer *c, uint64_t now_ms)
{
	saksi_ledger_txn *txn;
	MDB_txn *mt;
	uint64_t id, size0, size;
	size_t len, k, groups = 0;
	saksi_err e = SAKSI_OK;

	c->c_alerts = 0;
	pthread_mutex_lock(&c->c_mu);
	if (c->c_rules == NULL || c->c_ack_timeout == 0) {
		pthread_mutex_unlock(&c->c_mu);
		return SAKSI_OK;
	}
	for (;;) {
		if ((e = saksi_ledger_begin(c->c_ledger, 1, &txn)) != SAKSI_OK)
			break;
		if ((mt = saksi_ledger_txn_mdb(txn)) == NULL) {
			saksi_ledger_abort(txn);
			e = SAKSI_ERR_LEDGER;
			break;
		}
		size0 = saksi_ledger_size(txn);
		for (k = 0; k < RERAISE_GROUP_MAX; k++) {
			e = saksi_rules_reraise_due(c->c_rules, mt, now_ms, c->c_ack_timeout, &id);
			if (e == SAKSI_ERR_NOT_FOUND) {
				e = SAKSI_OK;
				break;
			}
			if (e != SAKSI_OK ||
			    (e = saksi_rules_reraise(c->c_rules, mt, id, now_ms, &c->c_alert)) !=
			    SAKSI_OK ||
			    (e = saksi_alert_leaf_encode(&c->c_alert, c->c_alert_body,
			                                 SAKSI_ALERT_LEAF_MAX, &len)) != SAKSI_OK ||
			    (e = saksi_ledger_append(txn, SAKSI_LEAF_ALERT, now_ms, c->c_alert_body,
			                             len, NULL, NULL)) != SAKSI_OK)
				break;
		}
		size = saksi_ledger_size(txn);
		if (e == SAKSI_OK && size > size0 &&
		    (e = index_group_end(c, txn)) == SAKSI_OK &&
		    (e = sign_checkpoint(c, txn, size)) == SAKSI_OK &&
		    (e = saksi_ledger_ckpt_put(txn, size, c->c_note, c->c_note_len)) == SAKSI_OK) {
			e = saksi_ledger_commit(txn);
			if (e == SAKSI_OK) {
				c->c_size = size;
				c->c_alerts += size - size0;
			}
		} else
			saksi_ledger_abort(txn);
		if (e != SAKSI_OK || k < RERAISE_GROUP_MAX || ++groups == RERAISE_GROUPS_MAX)
			break;
	}
	if (c->c_alerts > 0)
		(void)publish_locked(c);
	pthread_mutex_unlock(&c->c_mu);
	return e;
}

/*
 * The rules' description for the status op (FORMATS.md 3.3 "rules"), set by whoever
 * loads them (main, at start and on SIGHUP) and read by the status thread: kept as text
 * under c_rinfo_mu, so that neither side holds the other's objects.
 */
saksi_err
saksid_commit_rules_info_set(saksid_committer *c, const char *json)
{
	char *copy = NULL;

	if (c == NULL)
		return SAKSI_ERR_INVAL;
	if (json != NULL && (copy = strdup(json)) == NULL)
		return SAKSI_ERR_NOMEM;
	pthread_mutex_lock(&c->c_rinfo_mu);
	free(c->c_rules_info);
	c->c_rules_info = copy;
	pthread_mutex_unlock(&c->c_rinfo_mu);
	return SAKSI_OK;
}

char *
saksid_commit_rules_info(saksid_committer *c)
{
	char *copy = NULL;

	if (c == NULL)
		return NULL;
	pthread_mutex_lock(&c->c_rinfo_mu);
	if (c->c_rules_info != NULL)
		copy = strdup(c->c_rules_info);
	pthread_mutex_unlock(&c->c_rinfo_mu);
	return copy;
}

/*
 * The keyring entry (FORMATS.md 4, kind 4): the `keylog` database remembers the index of
 * the last one written, so that a start finds it without reading the ledger through. The
 * entry itself is compared byte for byte, never trusted by its index alone.
 */
saksi_err
saksid_commit_keyring(saksid_committer *c, const uint8_t *body, size_t len, uint64_t now_ms,
                      uint64_t *index)
{
	const uint8_t *b[1] = { body };
	size_t l[1] = { len };

	if (index != NULL)
		*index = UINT64_MAX;
	if (body == NULL || len == 0)
		return SAKSI_ERR_INVAL;
	return saksid_commit_keyring_parts(c, b, l, 1, now_ms, index);
}

/* Whether the n entries from first are exactly these bodies (kind 4). */
static saksi_err
keyring_same(saksi_ledger_txn *txn, uint64_t first, const uint8_t *const *bodies,
             const size_t *lens, size_t n, int *same)
{
	saksi_leaf lf;
	uint8_t *leaf;
	size_t llen, i;
	saksi_err e;

	*same = 0;
	for (i = 0; i < n; i++) {
		if ((e = saksi_ledger_leaf(txn, first + i, &leaf, &llen)) != SAKSI_OK)
			return e == SAKSI_ERR_NOT_FOUND ? SAKSI_OK : e;
		if (saksi_leaf_parse(leaf, llen, &lf) != SAKSI_OK ||
		    lf.lf_kind != SAKSI_LEAF_KEYRING || lf.lf_body_len != lens[i] ||
		    memcmp(lf.lf_body, bodies[i], lens[i]) != 0) {
			free(leaf);
			return SAKSI_OK;
		}
		free(leaf);
	}
	*same = 1;
	return SAKSI_OK;
}

/*
 * A keyring in n parts (keylog.h saksi_keylog_split): all of them consecutive, in one
 * commit group of their own, so that no event and no checkpoint ever sits between the
 * parts of a set. `last` names the first part; the set is compared part by part.
 */
saksi_err
saksid_commit_keyring_parts(saksid_committer *c, const uint8_t *const *bodies,
                            const size_t *lens, size_t n, uint64_t now_ms, uint64_t *index)
{
	saksi_ledger_txn *txn;
	MDB_txn *mt;
	MDB_dbi dbi;
	MDB_val k = { 4, (void *)"last" }, v;
	uint8_t ib[8];
	uint64_t idx, first = UINT64_MAX, size;
	size_t i;
	saksi_err e;
	int same = 0;

	if (index != NULL)
		*index = UINT64_MAX;
	if (c == NULL || bodies == NULL || lens == NULL || n == 0)
		return SAKSI_ERR_INVAL;
	for (i = 0; i < n; i++)
		if (bodies[i] == NULL || lens[i] == 0)
			return SAKSI_ERR_INVAL;
	pthread_mutex_lock(&c->c_mu);
	if ((e = saksi_ledger_begin(c->c_ledger, 1, &txn)) != SAKSI_OK)
		goto out;
	if ((mt = saksi_ledger_txn_mdb(txn)) == NULL ||
	    mdb_dbi_open(mt, "keylog", MDB_CREATE, &dbi) != MDB_SUCCESS) {
		e = SAKSI_ERR_LEDGER;
		goto abort;
	}
	if (mdb_get(mt, dbi, &k, &v) == MDB_SUCCESS && v.mv_size == 8) {
		idx = saksi_get_u64(v.mv_data);
		if ((e = keyring_same(txn, idx, bodies, lens, n, &same)) != SAKSI_OK)
			goto abort;
		if (same) {
			/* Committed, not aborted: an abort would close the database handle
			 * this transaction opened, under the other modules' feet. */
			if ((e = saksi_ledger_commit(txn)) == SAKSI_OK && index != NULL)
				*index = idx;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if ((e = saksi_ledger_append(txn, SAKSI_LEAF_KEYRING, now_ms, bodies[i], lens[i],
		    &idx, NULL)) != SAKSI_OK)
			goto abort;
		if (i == 0)
			first = idx;
	}
	saksi_put_u64(ib, first);
	v.mv_size = sizeof(ib);
	v.mv_data = ib;
	if (mdb_put(mt, dbi, &k, &v, 0) != MDB_SUCCESS) {
		e = SAKSI_ERR_LEDGER;
		goto abort;
	}
	size = saksi_ledger_size(txn);
	if ((e = index_group_end(c, txn)) != SAKSI_OK ||
	    (e = sign_checkpoint(c, txn, size)) != SAKSI_OK ||
	    (e = saksi_ledger_ckpt_put(txn, size, c->c_note, c->c_note_len)) != SAKSI_OK)
		goto abort;
	if ((e = saksi_ledger_commit(txn)) == SAKSI_OK) {
		c->c_size = size;
		if (index != NULL)
			*index = first;
	}
	goto out;
abort:
	saksi_ledger_abort(txn);
out:
	pthread_mutex_unlock(&c->c_mu);
	return e;
}
