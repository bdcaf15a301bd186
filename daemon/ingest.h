/*
 * ingest.h: the checks on one submitted item that need no ledger state, in the order of
 * FORMATS.md 3.2 (size, parse, unknown key, revoked key, signature, role, branch, schema,
 * disclosure). Replay, equivocation and clock skew are decided by the committer (commit.h),
 * which alone sees the ledger in order.
 *
 * Threads: a saksid_ingest is immutable once made: any number of threads may call
 * saksid_ingest_check on it at once, each on its own items.
 */
#ifndef SAKSID_INGEST_H
#define SAKSID_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "detect.h"
#include "index.h"
#include "keys.h"
#include "merkle.h"
#include "saksi_error.h"
#include "schema.h"

#define SAKSID_MSG_MAX 160

/*
 * One submitted item on its way through the daemon. The framing fields point into the
 * request message and are valid while it lives. it_msg never holds personal data (it
 * is sent back to the producer who submitted the item, and never logged).
 */
typedef struct saksid_item {
	/* Set by saksid_submit_frame. */
	const uint8_t *it_env;
	size_t it_env_len;
	const uint8_t *it_sealed;
	size_t it_sealed_len;
	uint64_t it_recv_ms;          /* daemon clock when the request came in (summaries) */
	/* Set by saksid_ingest_check. */
	int it_code;                  /* enum saksi_reason; SAKSI_R_ACCEPTED while it passes */
	uint8_t it_key_id[SAKSI_KEYID_LEN]; /* as claimed by the bytes, zero if unreadable */
	uint64_t it_seq;
	uint64_t it_time_ms;
	saksi_hash it_env_hash;       /* SHA-256 of the envelope (seq table, at-rest AD) */
	uint8_t *it_disc;             /* the disclosures JSON array (personal data!), or NULL
	                                 when the event has no personal field */
	size_t it_disc_len;
	saksi_detect_event *it_prep;  /* the event as the rules will see it (blind tokens!),
	                                 made by the worker when detection is on; NULL:
	                                 the committer makes it (detect.h) */
	saksi_index_keys *it_ixk;     /* the event's index keys (blind tokens!), made by the
	                                 worker when indexing is on; NULL: the committer
	                                 makes them (index.h) */
	struct saksid_shred_prep *it_shprep; /* what shred needs of it besides its place
	                                 (personal data!), made by the worker when
	                                 saksid_ingest_shred gave the shred; NULL: the
	                                 committer makes it (shred.h) */
	char it_msg[SAKSID_MSG_MAX];  /* refusal: one line of English */
	/* Set by saksid_commit_group. */
	uint64_t it_index;            /* leaf index (accepted, duplicate) */
	uint8_t it_leaf_hdr[42];      /* accepted: its leaf's header (SAKSI_LEAF_HDR), kept
	                                 from the append for the receipt */
	size_t it_receipt_off;        /* receipt text in the committer's receipt buffer */
	size_t it_receipt_len;
} saksid_item;

/*
 * Submit request framing (FORMATS.md 3): body = count (2) || count x item. The return
 * value is a request-level status: SAKSI_R_ACCEPTED (0), SAKSI_R_PARSE or SAKSI_R_SIZE,
 * with a one-line message in msg.
 * saksid_submit_count reads and checks count (1..256: 0 is PARSE, more is SIZE).
 * saksid_submit_frame fills items[0..count) (zeroing them first; it_recv_ms = recv_ms).
 * An item whose envelope or sealed box declares a length over its cap, but which still
 * lies inside the message, gets it_code = SAKSI_R_SIZE and the rest goes on; a length
 * that runs past the end of the message, or bytes after the last item, fail the whole
 * request (SAKSI_R_SIZE if the length was also over its cap, else SAKSI_R_PARSE).
 */
int saksid_submit_count(const uint8_t *body, size_t len, size_t *count, char *msg,
                        size_t msglen);
int saksid_submit_frame(const uint8_t *body, size_t len, saksid_item *items, size_t count,
                        uint64_t recv_ms, char *msg, size_t msglen);

typedef struct saksid_ingest saksid_ingest;

/*
 * Makes the checking context. kr and sc are borrowed and must outlive it. box (kind BOX)
 * is used only here: the disclosure key K of every keyring key is computed now and kept
 * in guarded memory, so box may be freed once this returns.
 * SAKSI_ERR_KEY if box is not a BOX key, SAKSI_ERR_NOMEM.
 */
saksi_err saksid_ingest_new(const saksi_keyring *kr, const saksi_schemas *sc,
                            const saksi_seckey *box, saksid_ingest **out);
void saksid_ingest_free(saksid_ingest *ig);
/*
 * Detection: with b set, every accepted item also gets it_prep (saksi_detect_prepare on
 * the payload and disclosures the checks already parsed and opened), so that the
 * committer does not redo that work on its one thread. b is borrowed and must outlive
 * ig; NULL (the default) makes none. Call before any saksid_ingest_check. An item whose
 * preparation fails for want of memory is accepted all the same, with it_prep NULL.
 */
void saksid_ingest_detect(saksid_ingest *ig, const saksi_blind *b);
/*
 * Indexing (index.h): with b set, every accepted item also gets it_ixk
 * (saksi_index_keys_make on the payload and disclosures the checks already parsed and
 * opened), so that the committer only writes the keys. Same rules as
 * saksid_ingest_detect: b borrowed, called before any check, a failure for want of
 * memory leaves it_ixk NULL.
 */
void saksid_ingest_index(saksid_ingest *ig, const saksi_blind *b);

/*
 * Data keys (shred.h): with s set, every accepted item with disclosures also gets
 * it_shprep (saksid_shred_prepare: the participant's token, the link hashes, the
 * disclosures packed for sealing at rest), so that the committer only looks up and
 * seals. Same rules as saksid_ingest_detect: s borrowed (it must outlive every check),
 * called before any check, a failure leaves it_shprep NULL.
 */
struct saksid_shred;
void saksid_ingest_shred(saksid_ingest *ig, struct saksid_shred *s);

/*
 * Checks one framed item at daemon time now_ms (the revocation cut-off). Sets it_code,
 * it_msg, it_key_id, it_seq, it_time_ms, it_env_hash, it_disc and returns it_code.
 * An item already refused by the framing keeps its code. An allocation failure gives
 * SAKSI_R_UNAVAILABLE. Frees nothing: call saksid_item_clear when done. Sets it_prep
 * too, on an accepted item, if saksid_ingest_detect gave a blinding context.
 */
int saksid_ingest_check(const saksid_ingest *ig, saksid_item *it, uint64_t now_ms);

/* Wipes and frees the item's disclosures, it_prep, it_ixk and it_shprep; the item may
 * be reused after it. */
void saksid_item_clear(saksid_item *it);

#endif
