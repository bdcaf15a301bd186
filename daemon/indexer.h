/*
 * indexer.h: brings the ledger's secondary indexes (lib/index.h) up to date at daemon
 * start: a ledger written before indexes existed, or while saksid ran without an
 * index_key, is indexed from the state's mark, in bounded write transactions, so that
 * upgrading loses nothing. It opens disclosures at rest only to tokenise them.
 */
#ifndef SAKSID_INDEXER_H
#define SAKSID_INDEXER_H

#include <stdint.h>

#include <lmdb.h>

#include "blind.h"
#include "datakey.h"
#include "keys.h"
#include "ledger.h"
#include "saksi_error.h"

/* Leaves examined per write transaction of the catch-up. */
#define SAKSID_INDEX_BATCH 4096

typedef struct saksid_index_stats {
	uint64_t is_from;        /* the mark found */
	uint64_t is_events;      /* events indexed */
	uint64_t is_undisclosed; /* events whose stored disclosures did not open (or whose
	                            participant was forgotten): indexed without their
	                            personal fields */
	int is_reset;            /* the index was made with another index key: rebuilt */
} saksid_index_stats;

/*
 * Opens (creating) the index in l, prepares it for blind's key (a changed key empties it)
 * and indexes every leaf from the mark to the end, batch leaves per committed write
 * transaction (0: SAKSID_INDEX_BATCH), so a crash loses at most one batch of work, never
 * consistency. *dbi: the handle for saksi_index_event in later transactions. store and
 * dk (may be NULL: v1 blobs only) open the disclosures at rest (FORMATS.md 7.1, 7.2); a
 * forgotten participant's events are indexed without their personal fields. st may be
 * NULL. Errors: those of the ledger
 * (SAKSI_ERR_FULL, SAKSI_ERR_LEDGER, SAKSI_ERR_CORRUPT for a leaf that does not decode),
 * SAKSI_ERR_INVAL for NULL arguments or a read-only ledger.
 */
saksi_err saksid_index_catchup(saksi_ledger *l, const saksi_blind *blind,
                               const saksi_seckey *store, saksi_datakeys *dk,
                               unsigned batch, MDB_dbi *dbi,
                               saksid_index_stats *st);

/*
 * The same catch-up in steps, for a saksid that serves while it catches up (commit.h):
 * saksid_index_catchup_begin opens (creating) the index and prepares it, in a committed
 * write transaction of its own (*upto: where indexing resumes; st zeroed, then is_from
 * and is_reset set). saksid_index_catchup_step then indexes from *upto, batch leaves at
 * most (0: SAKSID_INDEX_BATCH), in one committed write transaction, and moves *upto; it
 * sets *done = 1, writing nothing, when *upto has reached the ledger's size (which may
 * grow between steps: a step takes what has been committed since). The caller keeps any
 * other writer of the index out from begin to the step that says done (saksid: its
 * committer indexes nothing meanwhile, and takes each step under its own lock). Errors
 * as saksid_index_catchup's.
 */
saksi_err saksid_index_catchup_begin(saksi_ledger *l, const saksi_blind *blind,
                                     MDB_dbi *dbi, uint64_t *upto, saksid_index_stats *st);
saksi_err saksid_index_catchup_step(saksi_ledger *l, const saksi_blind *blind,
                                    const saksi_seckey *store, saksi_datakeys *dk,
                                    unsigned batch, MDB_dbi dbi, uint64_t *upto, int *done,
                                    saksid_index_stats *st);

typedef struct saksid_index_forgot {
	uint64_t if_entries;    /* his entries found through his NIK token */
	uint64_t if_postings;   /* personal postings removed */
	uint64_t if_unopened;   /* his entries whose disclosures did not open: only their NIK
	                           posting could be removed */
	uint64_t if_related;    /* entries of his claims and bookings without a nik, reached
	                           through claim_id / booking_id */
	uint64_t if_resealed_v1;    /* v1 blobs (store key) re-sealed under his data key */
	uint64_t if_resealed_store; /* v2 blobs of the store key re-sealed under it */
} saksid_index_forgot;

/*
 * A forget request committed in txn (a supervisor.forget.requested event, disc its
 * disclosures JSON array, clear): takes the participant out of the index in the same
 * transaction (FORMATS.md 7.4). His entries are those posted under his NIK token (made
 * with blind from the request's `nik` disclosure); for each, its disclosures at rest are
 * opened (store, dk; his data key is wiped only after this transaction commits) and every
 * personal posting they gave is removed; then his NIK key is dropped. Non-personal
 * postings stay. Call it after the request itself is indexed, so that its own NIK posting
 * goes too. His entries' disclosures still under the store key (v1), and the entries of
 * his claims and bookings (found by claim_id and booking_id) that name no NIK, lose their
 * personal postings and are re-sealed under his data key (dk), so that they are wiped
 * with it. A request without a nik disclosure removes nothing. st may be NULL. Errors:
 * SAKSI_ERR_INVAL for NULL arguments; those of the ledger and index (SAKSI_ERR_FULL,
 * SAKSI_ERR_LEDGER, SAKSI_ERR_NOMEM, SAKSI_ERR_CORRUPT): the caller must abort txn.
 */
saksi_err saksid_index_forget(saksi_ledger_txn *txn, MDB_dbi dbi, const saksi_blind *blind,
                              const saksi_seckey *store, saksi_datakeys *dk,
                              const uint8_t *disc, size_t disc_len,
                              saksid_index_forgot *st);

#endif
