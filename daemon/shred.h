/*
 * shred.h: saksid's side of per-participant data keys (FORMATS.md 7.1 v2, 7.2, 7.3).
 * In the committer's transaction it maps a participant's NIK token to a data-key slot,
 * seals each event's disclosures with that participant's data key, and turns a
 * supervisor.forget.requested entry into a pending wipe; after the commit it wipes the
 * pending slots and rotates the master key. It never logs and never keeps a clear NIK.
 *
 * Threads: used by the committer's thread only (under the committer's lock), but for
 * saksid_shred_prepare, which any number of ingest workers may call at once.
 */
#ifndef SAKSID_SHRED_H
#define SAKSID_SHRED_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "datakey.h"
#include "envelope.h"
#include "ingest.h"
#include "keys.h"
#include "ledger.h"
#include "merkle.h"
#include "saksi_error.h"

#define SAKSID_FORGET_TYPE "supervisor.forget.requested"

typedef struct saksid_shred saksid_shred;

/*
 * dk: the writable key store (borrowed); store: the store key (SYM, borrowed), which
 * seals events without a participant and keys the participant tokens (a token key
 * derived from it, so that tokens need no index key). SAKSI_ERR_KEY, SAKSI_ERR_NOMEM.
 */
saksi_err saksid_shred_new(saksi_datakeys *dk, const saksi_seckey *store, saksid_shred **out);
void saksid_shred_free(saksid_shred *s);

/*
 * For an event just appended at idx (leaf_hash its hash) in txn, with disclosures
 * (it_disc non-NULL): finds or makes its participant's data key (by the `nik`
 * disclosure; none: that of the participant its claim_id or booking_id is linked to,
 * else the store key), seals the disclosures (v2) and stores them
 * (saksi_ledger_disc_put). A forget request's disclosures are sealed with the key of
 * the participant it forgets, whose mapping is removed and whose slot is marked for
 * wiping in the same txn, and his links deleted. An event with a `nik` links the ids it
 * names to his slot (FORMATS.md 7.3). Records the participant's latest producer time
 * (retention), also for a linked event without `nik`.
 * Ledger errors as saksi_ledger_*; SAKSI_ERR_IO from the slot file.
 */
saksi_err saksid_shred_store(saksid_shred *s, saksi_ledger_txn *txn, const saksid_item *it,
                             uint64_t idx, const saksi_hash leaf_hash);
/*
 * The part of saksid_shred_store that does not depend on the event's place in the
 * ledger, done by an ingest worker (ingest.h, saksid_ingest_shred) from what its checks
 * parsed and opened, so that the committer's one thread only looks the participant up
 * and seals: whether ev is a forget, the token of the `nik` disclosure (names and values
 * as saksi_disclosures_check_list returns them), the link hashes of the payload's
 * claim_id and booking_id, and the disclosures packed for sealing from the compact list
 * that check returns (saksi_disc2_pack_list). saksid_shred_store takes an item's
 * it_shprep for all that, and makes it from the item's bytes where it is NULL: the
 * stored bytes are the same either way. *out holds personal data (packed disclosures, a
 * token): saksid_shred_prep_free wipes it. SAKSI_ERR_INVAL, SAKSI_ERR_NOMEM, and
 * saksi_disc2_pack_list's errors.
 */
typedef struct saksid_shred_prep saksid_shred_prep;
saksi_err saksid_shred_prepare(saksid_shred *s, const saksi_envelope *ev,
                               const json_t *payload, char *const *names,
                               char *const *values, size_t nd, const uint8_t *list,
                               size_t list_len, saksid_shred_prep **out);
void saksid_shred_prep_free(saksid_shred_prep *p);
/*
 * The pool of data keys made ahead (FORMATS.md 7.3): a new participant gets the slot the
 * counter "c" names, made and synced before, so a group makes no key and syncs no slot.
 * Called at start and after each group has been answered (under the committer's lock,
 * never in a write transaction): at the first call, reads the committed counter and
 * makes every slot from it to the end of the slot file anew, synced (slots made ahead by
 * an earlier run, or handed to a transaction a crash cut short, are never handed out
 * with their old keys); later, while fewer than two batches (2 x 1,024) are written
 * ahead of the last slot handed out, writes 256 more beyond them, and has a thread of
 * the shredder's own sync them (a batch at a time, or at once when fewer than half a
 * batch of synced slots are left): only synced slots are handed out. A failed sync makes the pool
 * anew at the next call. A failure costs nothing but time: a group that finds the pool
 * empty makes a batch itself. Ledger errors, saksi_dk_fill's, SAKSI_ERR_NOMEM (no thread).
 */
saksi_err saksid_shred_refill(saksid_shred *s, saksi_ledger *l);
/* Writes of slots made ahead so far (saksid_shred_refill's chunks, the batches made at
 * start, and by groups that found the pool empty). */
uint64_t saksid_shred_fills(const saksid_shred *s);
/* The pool's marks: slots made ahead and synced up to *synced (the syncing thread moves
 * it), written up to *written. */
void saksid_shred_pool_marks(const saksid_shred *s, uint64_t *synced, uint64_t *written);
/* The slots handed to participants as txn sees it (the counter "c"). Ledger errors. */
saksi_err saksid_shred_given(saksi_ledger_txn *txn, uint64_t *n);
/*
 * After a commit, or at start (force = 1): if slots are pending, wipes them in place,
 * syncs, rotates the master key, then clears the pending marks in a write txn of its own.
 * A crash anywhere in between leaves the marks, and the next call finishes. *n (may be
 * NULL) gets the number of slots wiped.
 */
saksi_err saksid_shred_finish(saksid_shred *s, saksi_ledger *l, int force, uint64_t *n);
/*
 * Retention (saksid's retention_days): in the committer's txn, finds up to max
 * participants whose latest event (producer time) is before cutoff_ms and makes, for
 * each, a supervisor.forget.requested event signed by rkey (kind SIGN; a keyring key of
 * a role allowed that type) at now_ms, reason retention_ended, branch
 * SAKSID_RETENTION_BRANCH, officer SAKSID_RETENTION_OFFICER, with seq above rkey's last
 * one, and its NIK disclosure (read back from the participant's latest event). items
 * (room for max) get them ready for the committer (it_code accepted); free them with
 * saksid_shred_items_free. A participant whose latest disclosures no longer open is
 * skipped. SAKSI_ERR_KEY for rkey; ledger errors.
 */
#define SAKSID_RETENTION_BRANCH "KP-PUSAT"
#define SAKSID_RETENTION_OFFICER "saksid-retention"
saksi_err saksid_shred_retention(saksid_shred *s, saksi_ledger_txn *txn,
                                 const saksi_seckey *rkey, uint64_t cutoff_ms,
                                 uint64_t now_ms, saksid_item *items, size_t max, size_t *n);
void saksid_shred_items_free(saksid_item *items, size_t n);
/* Participants forgotten (marked) by the groups since the last finish; slots wiped by it. */
uint64_t saksid_shred_wiped(const saksid_shred *s);

/*
 * Back-fill of the links (FORMATS.md 7.3) over a ledger written before them, by the
 * maintenance command `saksi backfill-links` while saksid is stopped (cli/backfill.c).
 * In ledger order, as saksid would have done it when each entry was written: an event
 * whose disclosures open and name a `nik` mapped to a live slot links its claim_id and
 * booking_id to that slot; an event's disclosures still under the store key (v1, or v2
 * kind 1) are re-sealed in place under the data key of its participant (by its `nik`'s
 * mapping, else by the link of its claim_id or booking_id), so that a later forget finds
 * nothing of his under the store key. No slot is made: a NIK without a mapping (never
 * seen by a saksid with data keys, or forgotten) is left as it is, and so are entries
 * that do not open (forgotten) and forget requests. The mark, "b" in the dkey database
 * (next leaf, 8), moves in the same transaction, so a kill loses at most one step.
 */
typedef struct saksid_backfill_stats {
	uint64_t bf_events;     /* events with disclosures examined */
	uint64_t bf_links;      /* ids linked (made, or made again) */
	uint64_t bf_resealed;   /* store-key blobs re-sealed under a data key */
	uint64_t bf_unopened;   /* blobs that did not open (forgotten): left */
	uint64_t bf_store_left; /* store-key blobs of no participant with a data key: left */
} saksid_backfill_stats;
/* The mark (0: never back-filled; the ledger's size once done). Any transaction. */
saksi_err saksid_shred_backfill_mark(saksi_ledger_txn *txn, uint64_t *mark);
/*
 * One step in txn (a write transaction the caller commits, or aborts on error): leaves
 * from the mark, at most batch (0: 512), counted into st (added to). *mark gets the new
 * mark; *done = 1, writing nothing, when the mark had reached the ledger's size.
 * SAKSI_ERR_INVAL, the ledger's errors, SAKSI_ERR_CORRUPT for a dkey record of the wrong
 * size.
 */
saksi_err saksid_shred_backfill_step(saksid_shred *s, saksi_ledger_txn *txn, unsigned batch,
                                     uint64_t *mark, int *done, saksid_backfill_stats *st);

#endif
