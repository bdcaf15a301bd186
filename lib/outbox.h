/*
 * outbox.h: the producer's durable outbox. Events are stored in a local LMDB environment
 * (synced) before the producer is told "queued", and delivered to saksid later, in order,
 * exactly once in the ledger: a resubmission of the same bytes is a duplicate that gets the
 * first receipt back. An entry leaves the queue only with a verified receipt, or into the
 * dead-letter list with the daemon's reason: never silently.
 *
 * A saksi_outbox is used by one thread at a time; several processes may open the same
 * directory (LMDB locks it), at worst sending an entry twice, which the daemon dedups.
 */
#ifndef SAKSI_OUTBOX_H
#define SAKSI_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "keys.h"
#include "note.h"
#include "saksi_error.h"
#include "schema.h"

typedef struct saksi_outbox saksi_outbox;

#define SAKSI_OUTBOX_MAP_DEFAULT (256u * 1024 * 1024)

/*
 * Everything is borrowed and must outlive the outbox, except ob_box_pk (copied).
 * ob_log is needed by saksi_outbox_flush (every receipt is checked against it before the
 * entry leaves the queue); ob_key, ob_box_pk and ob_schemas only by
 * saksi_outbox_enqueue_event. An outbox that only stores prebuilt items may leave them NULL.
 */
typedef struct saksi_outbox_opts {
	size_t ob_map_size;               /* bytes; 0: SAKSI_OUTBOX_MAP_DEFAULT */
	const saksi_note_verifier *ob_log;
	const saksi_seckey *ob_key;       /* the producer's signing key */
	const uint8_t *ob_box_pk;         /* the appliance's X25519 public key (32) */
	const saksi_schemas *ob_schemas;
} saksi_outbox_opts;

/*
 * Opens (creating it, mode 0700, if absent) the outbox in directory dir. SAKSI_ERR_INVAL
 * for NULL arguments, SAKSI_ERR_KEY if ob_key is not a signing key, SAKSI_ERR_VERSION for
 * an outbox of another format, SAKSI_ERR_PERM, SAKSI_ERR_NOT_FOUND (a missing parent),
 * SAKSI_ERR_FULL, SAKSI_ERR_LEDGER for other LMDB failures.
 */
saksi_err saksi_outbox_open(const char *dir, const saksi_outbox_opts *opts,
                            saksi_outbox **out);
void saksi_outbox_close(saksi_outbox *ob);

/*
 * Queues one built item (an envelope, and its sealed disclosures or sealed_len 0), synced
 * to disk before it returns SAKSI_OK with its id in *id (ids increase, never reused).
 * The envelope must parse (saksi_envelope_parse's codes); sealed_len over
 * SAKSI_SEALED_MAX is SAKSI_ERR_TOO_LARGE. Its seq must be above every seq queued before
 * for its key (the daemon refuses the rest as replays): else SAKSI_ERR_RANGE, except for
 * the very same bytes still pending, which is SAKSI_OK with the pending entry's id (a
 * producer that crashed before it noted the id may queue again). The same key and seq
 * with other bytes still pending is SAKSI_ERR_EXISTS. SAKSI_ERR_FULL when the outbox's
 * map or disk is full (nothing was queued).
 */
saksi_err saksi_outbox_enqueue(saksi_outbox *ob, const uint8_t *env, size_t env_len,
                               const uint8_t *sealed, size_t sealed_len, uint64_t *id);

/*
 * Builds, signs and seals an event with ob_key (as saksi_client_submit does) and queues it,
 * in one synced transaction. seq 0 takes the next seq of the outbox's persistent counter
 * for that key (it survives producer restarts and never gives a seq twice); another seq
 * must be above the counter (SAKSI_ERR_RANGE) and moves it. *seq_out (if non-NULL) gets
 * the seq, *id the entry's id. SAKSI_ERR_INVAL without ob_key, ob_box_pk or ob_schemas;
 * SAKSI_ERR_SCHEMA for an unknown type or a payload that fails its schema;
 * SAKSI_ERR_TOO_LARGE over a size cap; SAKSI_ERR_FULL. A refused event takes no seq.
 */
saksi_err saksi_outbox_enqueue_event(saksi_outbox *ob, const char *type, const char *payload,
                                     uint64_t time_ms, uint64_t seq, uint64_t *seq_out,
                                     uint64_t *id);

/*
 * The persistent seq counter of a key: *seq = the last seq queued (0 if none). floor
 * raises it to at least seq (for a key that signed events before it used the outbox);
 * it never lowers it. SAKSI_ERR_INVAL for NULL arguments, SAKSI_ERR_FULL.
 */
saksi_err saksi_outbox_seq_last(saksi_outbox *ob, const uint8_t key_id[SAKSI_KEYID_LEN],
                                uint64_t *seq);
saksi_err saksi_outbox_seq_floor(saksi_outbox *ob, const uint8_t key_id[SAKSI_KEYID_LEN],
                                 uint64_t seq);

/* A delivered entry, handed to the caller. Pointers valid during the callback only. */
typedef struct saksi_outbox_receipt {
	uint64_t or_id;
	uint64_t or_index;        /* leaf index in the ledger */
	int or_duplicate;         /* 1: the daemon had it already (an earlier send) */
	const uint8_t *or_env;
	size_t or_env_len;
	const char *or_receipt;   /* tlog-proof text, NUL-terminated */
	size_t or_receipt_len;
} saksi_outbox_receipt;
typedef void (*saksi_outbox_receipt_fn)(void *arg, const saksi_outbox_receipt *r);

/* A refused entry in the dead-letter list. */
typedef struct saksi_outbox_dead {
	uint64_t od_id;
	int od_code;              /* enum saksi_reason */
	const char *od_message;   /* the daemon's one-line reason */
	const uint8_t *od_env;
	size_t od_env_len;
	const uint8_t *od_sealed; /* NULL when od_sealed_len is 0 */
	size_t od_sealed_len;
} saksi_outbox_dead;
typedef void (*saksi_outbox_dead_fn)(void *arg, const saksi_outbox_dead *d);

typedef struct saksi_outbox_flush_result {
	uint64_t of_sent;         /* entries sent (requests may have been sent again) */
	uint64_t of_delivered;    /* left the queue with a receipt (accepted or duplicate) */
	uint64_t of_duplicate;    /* ... of which the daemon had already */
	uint64_t of_dead;         /* moved to the dead-letter list */
	int of_status;            /* the reason code that stopped the flush (14), or 0 */
	char of_message[256];     /* the daemon's message with of_status, or "" */
} saksi_outbox_flush_result;

/*
 * Sends the pending entries in queue order, in requests of at most `batch` (1..256; 0:
 * 64) items and SAKSI_WIRE_MSG_MAX bytes, until the queue is empty or `max` entries have
 * left it (0: no limit). c needs no producer key (items are sent raw). For each result:
 * accepted or duplicate (code 1: an earlier send got in) with a receipt that proves the
 * entry's own envelope under ob_log: the receipt is stored (saksi_outbox_receipts) and
 * the entry removed, in one synced transaction per request; then on_receipt (if non-NULL)
 * is called. Unavailable (14): the entry and all after it stay, the flush stops and
 * returns SAKSI_ERR_REFUSED with of_status 14. Any other refusal: the entry moves to the
 * dead-letter list with the reason (the queue goes on).
 * A transport failure (SAKSI_ERR_NET, SAKSI_ERR_TIMEOUT), a whole request refused
 * (SAKSI_ERR_REFUSED, of_status its status), a malformed reply (SAKSI_ERR_FORMAT) or a
 * receipt that does not verify (SAKSI_ERR_PROOF) stops the flush and keeps every entry of
 * that request. SAKSI_OK: the queue is empty or `max` was reached. SAKSI_ERR_INVAL
 * without ob_log. fr may be NULL.
 * A kill at any point loses nothing: an entry is removed only in the transaction that
 * stores its receipt, and one sent but not removed is sent again as a duplicate.
 */
saksi_err saksi_outbox_flush(saksi_outbox *ob, saksi_client *c, size_t batch, size_t max,
                             saksi_outbox_receipt_fn on_receipt, void *arg,
                             saksi_outbox_flush_result *fr);

typedef struct saksi_outbox_status {
	uint64_t os_pending;      /* entries waiting to be delivered */
	uint64_t os_dead;         /* in the dead-letter list */
	uint64_t os_receipts;     /* receipts kept (saksi_outbox_receipt_remove drops them) */
	uint64_t os_oldest_ms;    /* time_ms of the first pending entry, 0 if none */
	uint64_t os_next_id;      /* the id the next entry will get */
} saksi_outbox_status;
saksi_err saksi_outbox_stat(saksi_outbox *ob, saksi_outbox_status *st);

/*
 * Walks the kept receipts / the dead letters in id order, calling fn for each.
 * SAKSI_ERR_CORRUPT for a stored record that does not parse.
 */
saksi_err saksi_outbox_receipts(saksi_outbox *ob, saksi_outbox_receipt_fn fn, void *arg);
saksi_err saksi_outbox_dead_list(saksi_outbox *ob, saksi_outbox_dead_fn fn, void *arg);
/* Drops a kept receipt or a dead letter the producer has dealt with: SAKSI_ERR_NOT_FOUND. */
saksi_err saksi_outbox_receipt_remove(saksi_outbox *ob, uint64_t id);
saksi_err saksi_outbox_dead_remove(saksi_outbox *ob, uint64_t id);

#endif
