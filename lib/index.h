/*
 * index.h: the secondary indexes of the ledger (FORMATS.md 7.4): field value -> the event
 * leaves that carry it, ascending, for the supervisory unit's queries. Personal values are
 * indexed only as blind tokens (blind.h), never in clear; nothing here prints or logs.
 *
 * One named LMDB database (SAKSI_INDEX_DB) in the ledger's environment, written in the
 * same write transaction as the leaves it indexes (the caller passes the MDB_txn under
 * saksi_ledger_txn_mdb) and read through any read transaction, so a query sees exactly
 * the leaves its snapshot holds. Threads: as LMDB (one writer, many readers); the
 * functions keep no state between calls.
 */
#ifndef SAKSI_INDEX_H
#define SAKSI_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

#include "blind.h"
#include "envelope.h"
#include "saksi_error.h"

#define SAKSI_INDEX_DB "index"
#define SAKSI_INDEX_VERSION 1
/* A non-personal value longer than this is indexed by its SHA-256 (FORMATS.md 7.4). */
#define SAKSI_INDEX_RAW_MAX 64
/* Most terms in one query. */
#define SAKSI_INDEX_TERMS_MAX 16
/* A query by time alone collects and sorts its hits: at most this many. */
#define SAKSI_INDEX_TIME_ONLY_MAX (4u * 1024 * 1024)

/* Field tags: the first byte of every key. The numbers are stored: never renumber. */
typedef enum saksi_index_field {
	SAKSI_IX_STATE = 0,   /* the state record, not a field */
	SAKSI_IX_NIK = 1,     /* blind token of nik */
	SAKSI_IX_KPJ = 2,     /* blind token of kpj */
	SAKSI_IX_PHONE = 3,   /* blind token of phone */
	SAKSI_IX_EMAIL = 4,   /* blind token of email */
	SAKSI_IX_ACCOUNT = 5, /* blind token of bank_code:bank_account */
	SAKSI_IX_DEVICE = 6,  /* blind token of device_id */
	SAKSI_IX_IP = 7,      /* blind token of ip */
	SAKSI_IX_OFFICER = 8, /* officer_id or approver_id, as in the payload */
	SAKSI_IX_BRANCH = 9,  /* branch */
	SAKSI_IX_TYPE = 10,   /* the envelope's event type */
	SAKSI_IX_CLAIM = 11,  /* claim_id */
	SAKSI_IX_BOOKING = 12, /* booking_id */
	SAKSI_IX_TIME = 13,   /* producer time_ms (8 bytes) */
	SAKSI_IX__COUNT
} saksi_index_field;

/* The field's name ("nik", "officer", ...; the CLI's option names), or NULL. */
const char *saksi_index_field_name(saksi_index_field f);
/* The field by name, or SAKSI_IX_STATE if none. */
saksi_index_field saksi_index_field_by_name(const char *name);
/* 1 if the field is indexed as a blind token (a personal field). */
int saksi_index_field_personal(saksi_index_field f);
/* The blind kind of a personal field; SAKSI_BLIND_NONE for the others. */
saksi_blind_kind saksi_index_field_kind(saksi_index_field f);

/*
 * The key check of an index key: the first 8 bytes of the blind token of kind device of
 * "saksi-index-keycheck-v1". Stored in the state so that tokens made with another key
 * are never looked up (they would find nothing, silently).
 */
saksi_err saksi_index_keycheck(const saksi_blind *b, uint8_t check[8]);

/*
 * The index's database handle: created if absent when create = 1 (wtxn). LMDB's rule
 * applies: no two transactions of one process may open databases at the same time, so
 * the daemon opens it once, in its own write transaction, and keeps the handle (valid for
 * the environment's life once that transaction commits). SAKSI_ERR_NOT_FOUND if absent
 * and create = 0; SAKSI_ERR_LEDGER if the environment has no room for another named
 * database; SAKSI_ERR_FULL.
 */
saksi_err saksi_index_open(MDB_txn *txn, int create, MDB_dbi *dbi);

/*
 * The state: *upto = every event leaf below it is indexed, none at or above it is;
 * check = the key check of the index key the tokens were made with. SAKSI_ERR_NOT_FOUND
 * if the index has no state yet; SAKSI_ERR_VERSION, SAKSI_ERR_CORRUPT for a state of
 * another version or size; SAKSI_ERR_LEDGER.
 */
saksi_err saksi_index_state(MDB_txn *txn, MDB_dbi dbi, uint64_t *upto, uint8_t check[8]);

/*
 * Makes the index ready for writing in wtxn: creates it (upto 0) if absent; if it was
 * made with another index key, empties it and starts again from 0 (*reset = 1), since
 * every token changes with the key. *upto: where indexing must resume. reset may be NULL.
 * SAKSI_ERR_FULL, SAKSI_ERR_LEDGER (no room for another named database), errors of
 * saksi_index_state.
 */
saksi_err saksi_index_prepare(MDB_txn *wtxn, MDB_dbi dbi, const saksi_blind *b, uint64_t *upto,
                              int *reset);

/*
 * Indexes the event leaf idx: env is its envelope (FORMATS.md 2), disc/disc_len the
 * disclosures JSON array opened from its sealed box (NULL/0 if it has none). Adds one key
 * per field present (FORMATS.md 7.4) and moves upto to idx + 1. The caller indexes events
 * in ledger order, with every event below idx already indexed. A value that does not
 * normalise, a personal value whose disclosure does not match, a field that is not a
 * string: that field is left out (the event is committed; the index only helps find it).
 * SAKSI_ERR_FORMAT for an envelope or payload that does not parse (nothing written);
 * SAKSI_ERR_FULL, SAKSI_ERR_LEDGER, SAKSI_ERR_NOMEM: the caller must abort wtxn.
 */
saksi_err saksi_index_event(MDB_txn *wtxn, MDB_dbi dbi, const saksi_blind *b, uint64_t idx,
                            const uint8_t *env, size_t env_len, const uint8_t *disc,
                            size_t disc_len);
/*
 * The keys of one event, made apart from any transaction, so that saksid's ingest workers
 * do the parsing and blinding on every core and its committer only writes. The keys are
 * exactly those saksi_index_event adds (it is saksi_index_keys_of then a write): one
 * posting per key, (leaf index, producer time), the leaf index given when written.
 * A saksi_index_keys holds blind tokens (personal fields under the index key), no clear
 * value; it is immutable once made and may move between threads.
 *
 * saksi_index_keys_make: from env (parsed), its payload parsed (a JSON object) and the
 * disclosure pairs names/values[0..nd) as saksi_disclosures_check_json gave them for this
 * payload (NULL, 0 when none). Pure: no LMDB, no state; b may be shared by threads.
 * SAKSI_ERR_INVAL for a NULL argument or a payload that is not an object; SAKSI_ERR_NOMEM.
 * saksi_index_keys_of: the same from the envelope's bytes and the clear disclosures JSON
 * array (NULL/0 if none), parsing and checking them as saksi_index_event does (personal
 * fields left out if the disclosures do not match). SAKSI_ERR_FORMAT for an envelope or
 * payload that does not parse; SAKSI_ERR_INVAL; SAKSI_ERR_NOMEM.
 * saksi_index_keys_free wipes and frees; NULL is fine.
 */
typedef struct saksi_index_keys saksi_index_keys;
saksi_err saksi_index_keys_make(const saksi_blind *b, const saksi_envelope *env,
                                const json_t *payload, char *const *names,
                                char *const *values, size_t nd, saksi_index_keys **out);
saksi_err saksi_index_keys_of(const saksi_blind *b, const uint8_t *env, size_t env_len,
                              const uint8_t *disc, size_t disc_len, saksi_index_keys **out);
void saksi_index_keys_free(saksi_index_keys *k);

/*
 * A commit group's postings, gathered and then written sorted in key order through one
 * cursor, so that events sharing a key (a branch, a type, an hour's milliseconds) touch
 * its pages once rather than once per event. The database's content afterwards is the
 * same as saksi_index_event's for each event in turn. One batch per writing thread.
 * saksi_index_batch_add copies k's keys with the posting of leaf idx (k is not kept);
 * the caller adds events in ledger order, every event below the first one added already
 * indexed (or added). saksi_index_batch_write writes them in wtxn and moves upto to the
 * last leaf added + 1, then empties the batch (also on failure: the caller aborts wtxn).
 * An empty batch writes nothing. saksi_index_batch_clear empties it (wiping the tokens),
 * for a group that failed. Errors: SAKSI_ERR_INVAL for NULL arguments; SAKSI_ERR_NOMEM
 * (add); those of saksi_index_event's write (write): SAKSI_ERR_FULL, SAKSI_ERR_LEDGER,
 * SAKSI_ERR_NOT_FOUND if the index has no state (not prepared).
 */
typedef struct saksi_index_batch saksi_index_batch;
saksi_err saksi_index_batch_new(saksi_index_batch **out);
void saksi_index_batch_free(saksi_index_batch *bt);
saksi_err saksi_index_batch_add(saksi_index_batch *bt, const saksi_index_keys *k,
                                uint64_t idx);
saksi_err saksi_index_batch_write(saksi_index_batch *bt, MDB_txn *wtxn, MDB_dbi dbi);
void saksi_index_batch_clear(saksi_index_batch *bt);
/* Postings the batch holds now. */
size_t saksi_index_batch_count(const saksi_index_batch *bt);

/*
 * Forgetting a participant (FORMATS.md 7.4): removes from wtxn the postings of leaf idx
 * under the personal keys (nik, kpj, phone, email, account, device, ip) that
 * saksi_index_event made from the same envelope and disclosures; the same tokens' postings
 * of other leaves, and the leaf's non-personal postings, stay. disc NULL/0: nothing to
 * remove (the event had no personal postings). *n (may be NULL) is increased by the
 * postings removed; one already absent is no error. SAKSI_ERR_INVAL for NULL arguments;
 * SAKSI_ERR_FORMAT for an envelope or payload that does not parse (nothing removed);
 * SAKSI_ERR_FULL, SAKSI_ERR_LEDGER, SAKSI_ERR_NOMEM: the caller must abort wtxn.
 */
saksi_err saksi_index_unpost_personal(MDB_txn *wtxn, MDB_dbi dbi, const saksi_blind *b,
                                      uint64_t idx, const uint8_t *env, size_t env_len,
                                      const uint8_t *disc, size_t disc_len, uint64_t *n);
/*
 * Deletes the key (f, value), values as in saksi_index_term, with all its postings; *n
 * (may be NULL) is increased by their number. An absent key is SAKSI_OK. SAKSI_ERR_INVAL
 * for an unknown field, the time field, an empty value or a personal value that is not a
 * token; SAKSI_ERR_FULL, SAKSI_ERR_LEDGER: the caller must abort wtxn.
 */
saksi_err saksi_index_drop(MDB_txn *wtxn, MDB_dbi dbi, saksi_index_field f, const char *value,
                           uint64_t *n);
/* Moves upto (never down): for leaves that are not events, and events skipped. */
saksi_err saksi_index_skip(MDB_txn *wtxn, MDB_dbi dbi, uint64_t upto);
/*
 * The token (saksi_blind_token, SAKSI_BLIND_NIK) of the `nik` in a list of clear
 * disclosures (a JSON array of disclosure strings, as opened from an event's sealed
 * part): 1 with the token in tok, or 0 if the list does not parse, holds no nik
 * disclosure, or its nik does not normalise. Disclosures that do not decode are passed
 * over; every decoded value is wiped. The daemon finds the participant of a forget
 * request, and the data key of an event, this way.
 */
int saksi_index_nik_token(const saksi_blind *b, const uint8_t *disc, size_t len,
                          char tok[SAKSI_BLIND_TOKEN_LEN + 1]);

/* One hit: a leaf and its producer time. */
typedef struct saksi_index_hit {
	uint64_t ih_index;
	uint64_t ih_time_ms;
} saksi_index_hit;

/* One equality term. For a personal field the value is the blind token text (43
 * characters, saksi_blind_token); for the others the value as in the payload. */
typedef struct saksi_index_term {
	saksi_index_field it_field;
	const char *it_value;
} saksi_index_term;

typedef struct saksi_index_query {
	const saksi_index_term *iq_terms;  /* ANDed; 0..SAKSI_INDEX_TERMS_MAX */
	size_t iq_nterms;
	uint64_t iq_since_ms;              /* producer time, inclusive; 0 for none */
	uint64_t iq_until_ms;              /* inclusive; UINT64_MAX for none */
	uint64_t iq_after;                 /* only leaves above this index ... */
	int iq_has_after;                  /* ... if set (paging) */
} saksi_index_query;

/*
 * Runs q in txn: the hits, in ascending leaf index, into out (at most max, >= 1); *n the
 * number written; *more = 1 if there are further hits (ask again with iq_after = the last
 * index). Terms are joined by leapfrogging their ascending lists, so a query costs a few
 * cursor seeks per hit of its rarest term; a query by time alone reads the time range.
 * SAKSI_ERR_INVAL for no term and no time bound, too many terms, an unknown field, a
 * personal term whose value is not a token, an empty value, since > until, max 0;
 * SAKSI_ERR_TOO_LARGE for a time-only query of more than SAKSI_INDEX_TIME_ONLY_MAX hits;
 * SAKSI_ERR_CORRUPT for a stored
 * posting of the wrong size; SAKSI_ERR_NOMEM, SAKSI_ERR_LEDGER.
 */
saksi_err saksi_index_query_run(MDB_txn *txn, MDB_dbi dbi, const saksi_index_query *q,
                                saksi_index_hit *out, size_t max, size_t *n, int *more);

#endif
