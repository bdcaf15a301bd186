/*
 * client.h: the producer client library. Builds signed envelopes with sealed disclosures,
 * submits batches to saksid over nanomsg (REQ), and checks every receipt it gets back
 * against the log's verifier key before reporting success.
 * A saksi_client is used by one thread at a time; open one per thread.
 */
#ifndef SAKSI_CLIENT_H
#define SAKSI_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "merkle.h"
#include "note.h"
#include "saksi_error.h"
#include "schema.h"

typedef struct saksi_client saksi_client;

/*
 * co_key, co_log and co_schemas are borrowed and must outlive the client; co_box_pk is
 * copied. co_key, co_box_pk and co_schemas are needed only by saksi_client_submit: a
 * client that only submits raw items or reads (checkpoint, get, proofs: anyone may ask,
 * no producer key is involved) may leave them NULL.
 */
typedef struct saksi_client_opts {
	const char *co_url;             /* e.g. ipc:///run/saksi/ingest.sock or tcp://127.0.0.1:7400 */
	const saksi_seckey *co_key;     /* the producer's signing key (borrowed) */
	const uint8_t *co_box_pk;       /* the appliance's X25519 public key (32 bytes) */
	const saksi_note_verifier *co_log; /* to check receipts; NULL to skip (not recommended) */
	const saksi_schemas *co_schemas;   /* to know the personal fields and pre-validate */
	int co_timeout_ms;              /* per request; 0 = 10000 */
} saksi_client_opts;

/*
 * Opens a REQ socket and connects it (nanomsg connects in the background: a daemon that
 * is not up yet is not an error here). SAKSI_ERR_INVAL for a bad url or negative timeout,
 * SAKSI_ERR_KEY if co_key is not a signing key, SAKSI_ERR_NET.
 */
saksi_err saksi_client_open(const saksi_client_opts *opts, saksi_client **out);
void saksi_client_close(saksi_client *c);

/* One event to submit: type and a payload with personal values in clear. */
typedef struct saksi_event {
	const char *se_type;
	const char *se_payload;   /* JSON object */
	uint64_t se_seq;          /* producer sequence, strictly increasing per key */
	uint64_t se_time_ms;      /* when the action happened */
} saksi_event;

typedef struct saksi_result {
	int sr_code;              /* enum saksi_reason */
	uint64_t sr_index;        /* leaf index when accepted or duplicate */
	char *sr_receipt;         /* malloc'd tlog-proof text, or NULL */
	char sr_message[256];     /* refusal reason, or "" */
} saksi_result;

/*
 * Builds, signs, seals and submits n (1..256) events in one message, waits for the reply
 * and fills results[n]. SAKSI_OK means a reply came back (look at each sr_code); transport
 * failures are SAKSI_ERR_NET / SAKSI_ERR_TIMEOUT. A receipt that does not verify against
 * co_log is SAKSI_ERR_PROOF for the whole call. Free each result with saksi_result_clear.
 *
 * An event whose clear payload fails the schema (or whose type is unknown, or which is
 * over a size cap, or has seq 0) is not sent: its result has the code the daemon would
 * give (SAKSI_R_SCHEMA, SAKSI_R_SIZE, SAKSI_R_PARSE) and a message starting "not sent: ";
 * the others are sent (nothing at all if none is left, and the call returns SAKSI_OK).
 * A reply that is malformed in any way (version, op, count, lengths, trailing bytes, an
 * unknown result code, a receipt that does not parse or is not for an event leaf) is
 * SAKSI_ERR_FORMAT. A reply whose status refuses the whole request is SAKSI_ERR_REFUSED,
 * with that status as every sent item's sr_code. SAKSI_ERR_INVAL for n out of range or a
 * client opened without co_key, co_box_pk or co_schemas. On any error other than
 * SAKSI_ERR_REFUSED no result holds a receipt (nothing to clear).
 */
saksi_err saksi_client_submit(saksi_client *c, const saksi_event *ev, size_t n,
                              saksi_result *results);
/*
 * Submits already built items (envelope + sealed disclosures): for replays and tests.
 * sealed / sealed_len may be NULL (no item has disclosures); sealed_len[i] == 0 sends
 * none for item i. Receipts are checked as by saksi_client_submit; SAKSI_ERR_TOO_LARGE
 * if the request would exceed SAKSI_WIRE_MSG_MAX.
 */
saksi_err saksi_client_submit_raw(saksi_client *c, const uint8_t *const *env,
                                  const size_t *env_len, const uint8_t *const *sealed,
                                  const size_t *sealed_len, size_t n, saksi_result *results);
void saksi_result_clear(saksi_result *r);

/*
 * Latest signed checkpoint (*note malloc'd, NUL-terminated; *len excludes the NUL). With
 * co_log the note is opened first, and its errors are returned (SAKSI_ERR_SIGNATURE,
 * SAKSI_ERR_KEY, SAKSI_ERR_FORMAT). SAKSI_ERR_REFUSED for a non-zero status (status 14
 * with an empty log: it has no checkpoint before its first commit); see
 * saksi_client_refusal.
 */
saksi_err saksi_client_checkpoint(saksi_client *c, char **note, size_t *len);

/*
 * The read-only requests (FORMATS.md 3, ops 3-5). Each sends one request and parses the
 * reply strictly: a reply of another version or op, a status that is not a reason code,
 * or a body that is not exactly what the op answers is SAKSI_ERR_FORMAT, and then nothing
 * is returned. A refusal is mapped from its status: 2 (parse), which saksid sends to a
 * well-formed read only when the index or size is not in the log (past its end, or no
 * signed checkpoint of that size), is SAKSI_ERR_NOT_FOUND; any other reason code (14,
 * unavailable: retry later) is SAKSI_ERR_REFUSED. saksi_client_refusal then gives the
 * status and the daemon's one-line message. Transport failures are SAKSI_ERR_NET and
 * SAKSI_ERR_TIMEOUT; SAKSI_ERR_INVAL for a NULL argument.
 */

/*
 * Leaf `index` (FORMATS.md 4): *leaf malloc'd, *len bytes. It must be a version 1 leaf of
 * SAKSI_LEAF_HDR..SAKSI_LEAF_MAX bytes whose body parses strictly (an envelope, or a refusal
 * summary), else SAKSI_ERR_FORMAT. Nothing here proves that the log holds these bytes:
 * check them with saksi_client_prove_inclusion's proof.
 */
saksi_err saksi_client_get(saksi_client *c, uint64_t index, uint8_t **leaf, size_t *len);

/*
 * A tlog-proof@v1 (FORMATS.md 6) for leaf `index` in the signed tree of size `size`; size 0
 * asks for the latest checkpoint. *tlog_proof malloc'd, NUL-terminated; *len excludes the
 * NUL. The reply must parse as a tlog-proof with the leaf header as extra (version 1, kind
 * event or refusals), this index, a checkpoint of this size (or, for size 0, any size above
 * index) and exactly the number of hashes RFC 9162 gives for them: else SAKSI_ERR_FORMAT.
 * With co_log its checkpoint is opened first and those errors are returned
 * (SAKSI_ERR_SIGNATURE, SAKSI_ERR_KEY). The leaf itself is not checked here: the caller
 * hashes extra || envelope, or the bytes from saksi_client_get (which must begin with
 * extra), and calls saksi_tlog_proof_verify. SAKSI_ERR_RANGE, without asking, for
 * size != 0 and index >= size.
 */
saksi_err saksi_client_prove_inclusion(saksi_client *c, uint64_t index, uint64_t size,
                                       char **tlog_proof, size_t *len);

/*
 * RFC 9162 consistency proof between tree sizes m and n (0 < m <= n, else SAKSI_ERR_RANGE
 * without asking): *nproof hashes into proof, exactly as many as RFC 9162 gives for m and n
 * (else SAKSI_ERR_FORMAT; m == n gives none). The caller checks it between the roots of two
 * checkpoints it trusts (saksi_merkle_verify_consistency): the log signs only the trees it
 * committed, and this reply carries no root.
 */
saksi_err saksi_client_prove_consistency(saksi_client *c, uint64_t m, uint64_t n,
                                         saksi_hash proof[SAKSI_MERKLE_MAX_PROOF],
                                         size_t *nproof);

/*
 * The daemon's status (FORMATS.md 3.3, op 6): *json malloc'd, NUL-terminated, *len
 * excludes the NUL. It must be a JSON object (duplicate members refused) carrying
 * "saksi_status": 1, else SAKSI_ERR_FORMAT; its members are not checked further here.
 * Nothing in it is signed: it is the daemon's word. Errors as the read requests above.
 */
saksi_err saksi_client_status(saksi_client *c, char **json, size_t *len);

/*
 * After a refusal with status 15 (busy): the milliseconds the daemon asked the producer
 * to wait before sending again ("retry after N ms" in its message), else 0. A producer
 * that must not lose the event waits that long and resubmits the same bytes.
 */
uint64_t saksi_client_retry_after(const saksi_client *c);

/*
 * After the last call on c returned SAKSI_ERR_REFUSED or SAKSI_ERR_NOT_FOUND from a daemon
 * reply: its status (a reason code, enum saksi_reason) in *status (if non-NULL) and its
 * one-line message, with anything not printable ASCII replaced by '?'. After any other
 * result: 0 and "". The string belongs to c and changes with the next call on c.
 */
const char *saksi_client_refusal(const saksi_client *c, int *status);

#endif
