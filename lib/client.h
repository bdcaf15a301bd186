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
#include "note.h"
#include "saksi_error.h"
#include "schema.h"

typedef struct saksi_client saksi_client;

typedef struct saksi_client_opts {
	const char *co_url;             /* e.g. ipc:///run/saksi/ingest.sock or tcp://127.0.0.1:7400 */
	const saksi_seckey *co_key;     /* the producer's signing key (borrowed) */
	const uint8_t *co_box_pk;       /* the appliance's X25519 public key (32 bytes) */
	const saksi_note_verifier *co_log; /* to check receipts; NULL to skip (not recommended) */
	const saksi_schemas *co_schemas;   /* to know the personal fields and pre-validate */
	int co_timeout_ms;              /* per request; 0 = 10000 */
} saksi_client_opts;

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
 */
saksi_err saksi_client_submit(saksi_client *c, const saksi_event *ev, size_t n,
                              saksi_result *results);
/* Submits already built items (envelope + sealed disclosures): for replays and tests. */
saksi_err saksi_client_submit_raw(saksi_client *c, const uint8_t *const *env,
                                  const size_t *env_len, const uint8_t *const *sealed,
                                  const size_t *sealed_len, size_t n, saksi_result *results);
void saksi_result_clear(saksi_result *r);

/* Latest signed checkpoint (*note malloc'd). */
saksi_err saksi_client_checkpoint(saksi_client *c, char **note, size_t *len);

#endif
