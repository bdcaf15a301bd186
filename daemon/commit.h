/*
 * commit.h: the single committer. Takes a group of checked items in arrival order, decides
 * replay, equivocation and clock skew against the ledger, appends the accepted events and
 * one refusal summary, signs one checkpoint, commits once (synced), and only then builds
 * the receipts. Nothing is acknowledged for a group whose commit failed.
 *
 * Threads: one committer per ledger, used by one thread at a time (LMDB has one writer).
 */
#ifndef SAKSID_COMMIT_H
#define SAKSID_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "blind.h"
#include "indexer.h"
#include "ingest.h"
#include "keys.h"
#include "ledger.h"
#include "merkle.h"
#include "rules.h"
#include "rulestail.h"
#include "saksi_error.h"
#include "shred.h"

/* The index catch-up's backoff after a failed step (commit.h, co_index_retry_*). */
#define SAKSID_INDEX_RETRY_MIN_MS 1000
#define SAKSID_INDEX_RETRY_MAX_MS 60000

/* Most items in one group: keeps the refusal summary leaf under SAKSI_LEAF_MAX. */
#define SAKSID_COMMIT_ITEMS_MAX 2048

typedef struct saksid_commit_opts {
	saksi_ledger *co_ledger;          /* borrowed */
	const char *co_origin;            /* checkpoint origin and note key name */
	const saksi_seckey *co_log_key;   /* SIGN, borrowed: signs the checkpoints */
	const saksi_seckey *co_store_key; /* SYM, borrowed: seals disclosures at rest */
	uint64_t co_max_clock_skew_ms;    /* how far ahead of the daemon's clock, and behind */
	uint64_t co_max_event_age_ms;     /* how far behind, if larger (a producer's outbox
	                                     delivering after an outage); 0: the skew */
	const saksi_blind *co_blind;      /* borrowed; needed once rules are set */
	int co_alerts_on;                 /* 1: co_alerts_sock is the alerts' PUB socket */
	int co_alerts_sock;               /* nanomsg PUB socket (0 is a valid one) */
	/* Refusal alerts (RULES.md 5.4): with detection on, refusals of one reason reaching
	 * co_refusal_threshold within one window of co_refusal_window_ms (daemon clock)
	 * raise an alert of kind 5. 0 for either: no refusal alerts. */
	uint64_t co_refusal_window_ms;
	uint64_t co_refusal_threshold;
	saksid_shred *co_shred;           /* borrowed; NULL: disclosures at rest v1 (store
	                                     key); else v2 with per-participant data keys,
	                                     forgets finished at saksid_commit_new and after
	                                     each group's commit (shred.h) */
	uint64_t co_retention_ms;         /* 0: keep; else forget participants whose latest
	                                     event is older (needs co_shred, co_retention_key) */
	const saksi_seckey *co_retention_key; /* SIGN, borrowed: signs retention forgets */
	saksi_datakeys *co_datakeys;      /* borrowed, may be NULL: the data keys co_shred
	                                     uses, for the index catch-up to open v2
	                                     disclosures at rest (indexer.h) */
	uint64_t co_ack_timeout_ms;       /* re-raise an alert unacknowledged this long; 0 never */
	int co_index_background;          /* 1: the index catch-up is left to
	                                     saksid_commit_index_start (not done in
	                                     saksid_commit_new) */
	unsigned co_index_batch;          /* leaves per catch-up transaction; 0: default */
	/* Called once when the catch-up has caught up, before the status says so, with e
	 * SAKSI_OK (from the step that finds it done, the committer's lock held: call no
	 * committer function). A failure no longer ends it: see co_index_retry. May be
	 * NULL. */
	void (*co_index_done)(void *arg, const saksid_index_stats *st, uint64_t upto,
	                      saksi_err e);
	void *co_index_arg;
	/* A failed catch-up step is tried again after a backoff that doubles from
	 * co_index_retry_min_ms to co_index_retry_max_ms (0: SAKSID_INDEX_RETRY_MIN_MS,
	 * SAKSID_INDEX_RETRY_MAX_MS). Called (may be NULL; from the catch-up's thread, with
	 * co_index_arg) after each failure: e, the failures in a row so far and the wait
	 * before the next try; and once when a step succeeds again: e SAKSI_OK, the
	 * failures in a row it ends, wait 0. upto: the mark. */
	void (*co_index_retry)(void *arg, uint64_t upto, saksi_err e, uint64_t row,
	                       uint64_t wait_ms);
	uint64_t co_index_retry_min_ms;
	uint64_t co_index_retry_max_ms;
	int co_sync_later;                /* 1: co_ledger was opened with lo_meta_async, and
	                                     saksid_commit_group leaves its commit's meta
	                                     sync to the caller (saksid_commit_ticket) */
} saksid_commit_opts;

typedef struct saksid_committer saksid_committer;

/* SAKSI_ERR_KEY for keys of the wrong kind, SAKSI_ERR_INVAL for a bad origin. */
saksi_err saksid_commit_new(const saksid_commit_opts *opts, saksid_committer **out);
void saksid_commit_free(saksid_committer *c);

/*
 * Decides and commits one group of n (1..SAKSID_COMMIT_ITEMS_MAX) items at daemon time
 * now_ms (the clock-skew reference and every new leaf's commit_time_ms). Items with
 * it_code other than SAKSI_R_ACCEPTED were refused before (ingest) and are only counted
 * in the refusal summary (except SAKSI_R_UNAVAILABLE, the daemon's own failure, which is
 * passed through uncounted). On return every item has its final it_code:
 *   SAKSI_R_ACCEPTED / SAKSI_R_DUPLICATE: it_index and a receipt (saksid_commit_receipt);
 *   a refusal: it_msg says why.
 * If the write fails (SAKSI_ERR_FULL when the map or disk is full, or another ledger
 * error) nothing is written, every item gets SAKSI_R_UNAVAILABLE, and the error is
 * returned. A group that only holds duplicates writes nothing. A duplicate gets the same
 * receipt as the first time, byte for byte: proved to the checkpoint of the group that
 * committed it. Does not free the items' disclosures.
 */
saksi_err saksid_commit_group(saksid_committer *c, saksid_item *const *items, size_t n,
                              uint64_t now_ms);

/*
 * After a group's receipts are sent: work that must not delay them. Makes the next batch
 * of data keys ahead when the pool runs low (saksid_shred_refill), so that groups hand
 * out keys without writing or syncing the slot file. A failure is left to the group that
 * needs a key. Takes the committer's lock.
 */
void saksid_commit_after(saksid_committer *c);

/*
 * With co_sync_later: what the last saksid_commit_group's answers wait for. Its commit
 * returned with the pages synced and the meta page written, not synced (ledger.h,
 * saksi_ledger_commit_nosync); its receipts are built. Nothing of the group may be sent
 * before saksi_ledger_sync(ledger, ticket) returned SAKSI_OK; on its failure every
 * accepted or duplicate item must be answered SAKSI_R_UNAVAILABLE instead. 0: nothing
 * to wait for (nothing written, or a group that forgot a participant or raised an alert,
 * which syncs before it destroys keys or publishes). Any thread may call the sync, while
 * the committer goes on with the next group.
 */
uint64_t saksid_commit_ticket(const saksid_committer *c);

/* The receipt text of an accepted or duplicate item of the last group (not
 * NUL-terminated, it->it_receipt_len bytes); valid until the next saksid_commit_group. */
const char *saksid_commit_receipt(const saksid_committer *c, const saksid_item *it);

/*
 * Detection (RULES.md). Binds r to the rule state in the ledger (saksi_rules_attach, in
 * its own committed write transaction) and makes it the rules every later group is
 * evaluated with; the committer owns r from then on and frees the rules it replaces.
 * r NULL turns detection off. Safe to call from another thread while groups commit: it
 * waits for the running group. On failure r is freed and the old rules stay.
 * SAKSI_ERR_INVAL if r is given without co_blind. Then publishes the alerts not yet
 * published (saksid_commit_publish).
 *
 * In each group, every newly appended event is evaluated in the group's transaction,
 * with its personal fields as blind tokens; each alert raised becomes a ledger entry of
 * kind 3 (FORMATS.md 4) in the same group. A rules failure other than a malformed event
 * fails the group like a ledger failure. After the commit, the new alerts are published.
 */
saksi_err saksid_commit_rules_set(saksid_committer *c, saksi_rules *r);
/*
 * What the last saksid_commit_rules_set with rules evaluated again (rulestail.h), whether
 * it succeeded or not: saksid logs it at start, and on a mismatch (SAKSI_ERR_CORRUPT)
 * names the leaf (rt_bad). The caller's thread, after saksid_commit_rules_set returned.
 */
void saksid_commit_rules_tail(const saksid_committer *c, saksid_rules_tail *out);
/*
 * Sends every alert past the published mark on co_alerts_sock (one JSON line each,
 * RULES.md 5.2, never blocking) and moves the mark, in a write transaction of its own:
 * a crash before the mark moves re-publishes them (at least once). No-op without rules.
 */
saksi_err saksid_commit_publish(saksid_committer *c);
/*
 * Secondary indexes (index.h, FORMATS.md 7.4): with co_blind, saksid_commit_new first
 * indexes whatever the ledger holds past the index's mark (indexer.h), and every group
 * then indexes its events in its own transaction: the keys an item brings (it_ixk, made
 * by the ingest worker) or else made by the committer, written sorted once per group
 * (saksi_index_batch). What that start-up catch-up did (with co_index_background: what
 * saksid_index_catchup_begin found, then the steps so far):
 */
const saksid_index_stats *saksid_commit_index_stats(const saksid_committer *c);
/*
 * With co_index_background, saksid_commit_new only prepares the index and the catch-up
 * runs behind the groups: until it has reached the ledger's end, groups index nothing
 * (the catch-up takes their events when it gets there), so the index always covers
 * exactly the entries below its mark; once it has, groups index their own events again.
 * Each step is one write transaction of co_index_batch leaves taken under the committer's
 * lock, between groups, never between a forget's commit and its data key's wipe.
 * saksid_commit_index_step runs one step (the caller's thread; *done = 1 once caught
 * up, and from then on); saksid_commit_index_start runs the steps on a thread of its own
 * until done or saksid_commit_free, which stops and joins it (cutting a backoff short);
 * a failed step is tried again with a bounded backoff (co_index_retry_*), so the
 * catch-up never stops short while saksid runs. Start it after the sandbox (its
 * thread must be under the same seccomp filter). SAKSI_ERR_INVAL without indexes;
 * start: SAKSI_ERR_NOMEM if no thread; step: the errors of saksid_index_catchup_step.
 */
saksi_err saksid_commit_index_step(saksid_committer *c, int *done);
saksi_err saksid_commit_index_start(saksid_committer *c);
/*
 * For the status (any thread): 0 without indexes; else 1, *catching_up = 1 while the
 * catch-up has not reached the end, *upto = its mark then (the entries below it are
 * indexed, none above: the ledger's size once caught up, which the caller knows better),
 * *err = the failure that stopped it (SAKSI_OK if none).
 */
int saksid_commit_index_progress(const saksid_committer *c, uint64_t *upto,
                                 int *catching_up, saksi_err *err);

typedef struct saksid_index_health {
	uint64_t ih_behind_since_ms;  /* wall ms the catch-up began (this start); 0 if none
	                                 runs or it has caught up */
	uint64_t ih_failures;         /* failed steps since start, recovered ones included */
	uint64_t ih_failing_since_ms; /* the first failure of those in a row now; 0: the
	                                 last step succeeded */
	saksi_err ih_last_err;        /* the latest failure (kept after a recovery) */
	uint64_t ih_last_err_ms;      /* when; 0: never failed */
	uint64_t ih_retry_at_ms;      /* while failing: the next try (wall ms), else 0 */
} saksid_index_health;

/* The catch-up's failures and retries, for the status (any thread): 0 without indexes
 * (*h zeroed), else 1. */
int saksid_commit_index_health(const saksid_committer *c, saksid_index_health *h);
/*
 * Retention (co_retention_ms): the first group committed at or after each hour's mark
 * (and every call of saksid_commit_retention: saksid's timer calls it when
 * saksid_commit_retention_due) also forgets, in its own transaction and
 * checkpoint, up to SAKSID_RETENTION_BATCH participants whose latest event is older than
 * co_retention_ms before now_ms: each as a supervisor.forget.requested entry signed by
 * co_retention_key (shred.h), so the ledger records every shred. A full batch leaves the
 * mark at now, so the next group goes on.
 * saksid_commit_retention runs such a pass as a group of its own (saksid calls it at
 * start, before it listens); *n (may be NULL) gets the participants forgotten. Not to be
 * called while another thread runs saksid_commit_group. SAKSI_ERR_INVAL without
 * retention set; otherwise the errors of saksid_commit_group.
 */
#define SAKSID_RETENTION_BATCH 64
#define SAKSID_RETENTION_EVERY_MS 3600000
saksi_err saksid_commit_retention(saksid_committer *c, uint64_t now_ms, uint64_t *n);
/* Participants forgotten by retention since the committer was made. */
uint64_t saksid_commit_retained(const saksid_committer *c);
/* 1 if retention is set and a pass is due at now_ms (the committer's thread only). */
int saksid_commit_retention_due(const saksid_committer *c, uint64_t now_ms);

/*
 * Acknowledgements and re-raises (RULES.md 5.3). An event of type security.alert.acked
 * is committed only if its alert_id names an open alert (then the alert is closed in the
 * same transaction); otherwise it is refused with SAKSI_R_SCHEMA, "no open alert N: ...".
 * With alert_kind "refusals" it names refusal alert N (RULES.md 5.4, numbered apart,
 * never re-raised), whose ack is kept in refwin: "no open refusal alert N: ...".
 *
 * saksid_commit_reraise raises again, at daemon time now_ms, the alerts left open
 * co_ack_timeout_ms or more since their latest raise, oldest first, at most 1024 a call
 * (kind 4 entries, own commit groups and checkpoints), then publishes them;
 * saksid_commit_alerts says how many. No-op without rules or with co_ack_timeout_ms 0.
 * Called by the committer's thread.
 */
saksi_err saksid_commit_reraise(saksid_committer *c, uint64_t now_ms);
/* Alerts raised by the last group. */
uint64_t saksid_commit_alerts(const saksid_committer *c);

/*
 * Refusals decided outside the group (the server's `busy` answers: whole requests never
 * framed into a group) to be counted with the next group that commits: they enter its
 * refusal summary, the `stat` counters and the refusal alert windows, exactly like
 * refused items. Kept until a group commits; at most SAKSID_COMMIT_EXTRA_MAX distinct
 * (key id, reason) pairs are held, more are added to the pair of the zero key id.
 * Counts saturate at 2^32 - 1 per pair. The committer's thread only.
 */
#define SAKSID_COMMIT_EXTRA_MAX 64
void saksid_commit_refused_add(saksid_committer *c, const uint8_t key_id[SAKSI_KEYID_LEN],
                               int reason, uint64_t n, uint64_t first_ms, uint64_t last_ms);

/* Alerts raised in total (the rules' alert log and the refusal alerts; 0 without
 * detection), and whether detection is on. Any thread, without waiting for a group. */
uint64_t saksid_commit_alert_total(const saksid_committer *c);
/* Of them acknowledged (RULES.md 5.3); UINT64_MAX when not known (no detection yet, or
 * a state that could not be read). Any thread. */
uint64_t saksid_commit_alert_acked(const saksid_committer *c);
int saksid_commit_detecting(const saksid_committer *c);
/* The status op's "rules" member (FORMATS.md 3.3) as compact JSON text: set by main at
 * each (re)load (NULL: none), read as a malloc'd copy (NULL: none, or out of memory). */
saksi_err saksid_commit_rules_info_set(saksid_committer *c, const char *json);
char *saksid_commit_rules_info(saksid_committer *c);

/* Tree size and leaves written by the last group (0 if it wrote nothing). */
uint64_t saksid_commit_size(const saksid_committer *c);
uint64_t saksid_commit_appended(const saksid_committer *c);

/*
 * Disclosures at rest (FORMATS.md 7.1): seal (store key kind SYM) into out, which needs
 * len + SAKSID_DISC_OVERHEAD bytes; open a stored blob (*plain malloc'd; the caller wipes
 * and frees it). SAKSI_ERR_DECRYPT if it does not open (wrong key, index or leaf hash),
 * SAKSI_ERR_FORMAT / SAKSI_ERR_VERSION for a malformed blob, SAKSI_ERR_KEY for a blob
 * sealed under another key id.
 */
#define SAKSID_DISC_OVERHEAD (1 + 1 + SAKSI_KEYID_LEN + 24 + 16)
saksi_err saksid_disc_seal(const saksi_seckey *store, uint64_t index,
                           const saksi_hash leaf_hash, const uint8_t *plain, size_t len,
                           uint8_t *out, size_t outlen, size_t *written);
saksi_err saksid_disc_open(const saksi_seckey *store, uint64_t index,
                           const saksi_hash leaf_hash, const uint8_t *blob, size_t len,
                           uint8_t **plain, size_t *plain_len);

/*
 * The keyring entry (FORMATS.md 4, kind 4, keylog.h): unless the last keyring entry
 * written to this ledger has exactly this body, appends one at now_ms in a commit group
 * of its own (with its checkpoint). saksid calls it at start, before it accepts any
 * event. *index (may be NULL) gets the index of the entry in force (new or found), or
 * UINT64_MAX on failure. SAKSI_ERR_INVAL without a body; the ledger's errors.
 */
saksi_err saksid_commit_keyring(saksid_committer *c, const uint8_t *body, size_t len,
                                uint64_t now_ms, uint64_t *index);

/*
 * The same for a keyring of n parts (keylog.h saksi_keylog_split; n == 1 is the call
 * above): unless the last keyring set written has exactly these bodies, appends all n
 * consecutively in one commit group of their own. *index gets the first part's index.
 */
saksi_err saksid_commit_keyring_parts(saksid_committer *c, const uint8_t *const *bodies,
                                      const size_t *lens, size_t n, uint64_t now_ms,
                                      uint64_t *index);

#endif
