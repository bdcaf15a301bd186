/*
 * remoteq.h: remote supervisors' queries, wire op 0x07 (FORMATS.md 3.4): the request a
 * supervisor signs with his own Ed25519 key (personal filter values sealed to the
 * appliance's box key), the reply saksid signs with the log key (rows sealed to the
 * requester), and the signed request as an access entry carries it (so `saksi verify`
 * can check that the requester really asked).
 *
 * What it must never do: put a clear personal value anywhere but inside a sealed box or
 * the guarded memory of a saksi_rq_personal; trust a byte of a request or reply before
 * its strict parse; print, log or exit.
 *
 * Threads: no state; every function may be called from any thread.
 */
#ifndef SAKSI_REMOTEQ_H
#define SAKSI_REMOTEQ_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "index.h"
#include "keys.h"
#include "query.h"
#include "saksi_error.h"

#define SAKSI_RQ_VERSION 1
#define SAKSI_RQ_NONCE_LEN 16
#define SAKSI_RQ_CASE_MAX 64
/* A request body (after the wire's version and op) is at most this long. */
#define SAKSI_RQ_REQUEST_MAX 8192
/* Personal filters: nik..ip (7); a clear value is at most SAKSI_BLIND_INPUT_MAX. */
#define SAKSI_RQ_PERSONAL_MAX 7
#define SAKSI_RQ_PLAIN_MAX 5
/* The stored form (the access entry's "request", before base64). */
#define SAKSI_RQ_STORED_MAX 1024
/* Default bound on a request's age (and lead) against saksid's clock. */
#define SAKSI_RQ_MAX_AGE_MS_DEFAULT 300000u

enum saksi_rq_command {
	SAKSI_RQ_QUERY = 1,
	SAKSI_RQ_TIMELINE = 2,
};

/*
 * What a requester asks. Personal filters (nik, kpj, phone, email, account as
 * "BBB:NUMBER", device, ip) in clear: they are sealed to the appliance by
 * saksi_rq_request_make and never leave in clear. Plain filters (officer, branch, type,
 * claim, booking) travel as they are. Borrowed.
 */
typedef struct saksi_rq_params {
	int rp_command;                        /* enum saksi_rq_command */
	int rp_reveal;
	const char *rp_value[SAKSI_IX__COUNT]; /* clear values; NULL absent */
	uint64_t rp_since_ms, rp_until_ms, rp_after;
	int rp_has_since, rp_has_until, rp_has_after;
	uint32_t rp_limit;
	const char *rp_case_ref;               /* NULL or 1..64 of [A-Za-z0-9_./-] */
	uint64_t rp_time_ms;                   /* the requester's clock */
} saksi_rq_params;

/* A parsed request: pointers into the parsed buffer, valid while it lives. */
typedef struct saksi_rq_request {
	uint8_t rq_key_id[SAKSI_KEYID_LEN];
	uint8_t rq_nonce[SAKSI_RQ_NONCE_LEN];
	uint64_t rq_time_ms;
	int rq_command;
	int rq_reveal;
	uint64_t rq_since_ms, rq_until_ms, rq_after;
	int rq_has_since, rq_has_until, rq_has_after;
	uint32_t rq_limit;
	char rq_case_ref[SAKSI_RQ_CASE_MAX + 1];        /* "" if none */
	char rq_plain[SAKSI_IX__COUNT][SAKSI_QUERY_VALUE_MAX + 1]; /* "" absent; 8..12 only */
	const uint8_t *rq_core;        /* the signed fields (from version to the plain list) */
	size_t rq_core_len;
	const uint8_t *rq_sealed;      /* the sealed personal filters (NULL in a stored form) */
	size_t rq_sealed_len;
	uint8_t rq_sealed_hash[32];    /* SHA-256 of the sealed bytes (of "" when none) */
	int rq_personal;               /* 1: there are sealed personal filters */
	const uint8_t *rq_sig;         /* 64 bytes */
} saksi_rq_request;

/*
 * Makes a request body: signs it with sk (kind SIGN), sealing the personal filters to
 * box_pk (the appliance's X25519 key) with crypto_box_seal; the nonce is random.
 * *out malloc'd. SAKSI_ERR_INVAL for NULL arguments, an unknown command, a limit outside
 * 1..SAKSI_QUERY_LIMIT_MAX, a plain value or case reference that FORMATS.md 3.4 does not
 * allow, a personal value over SAKSI_BLIND_INPUT_MAX or empty; SAKSI_ERR_KEY sk is not a
 * signing key or box_pk is of low order; SAKSI_ERR_NOMEM.
 */
saksi_err saksi_rq_request_make(const saksi_seckey *sk, const uint8_t box_pk[32],
                                const saksi_rq_params *p, uint8_t **out, size_t *outlen);

/*
 * Parses a request body strictly (FORMATS.md 3.4): every length, flag, tag and value
 * checked, nothing after the signature. Does not verify the signature or open the box.
 * SAKSI_ERR_VERSION unknown version; SAKSI_ERR_TOO_LARGE over SAKSI_RQ_REQUEST_MAX;
 * SAKSI_ERR_FORMAT anything else malformed.
 */
saksi_err saksi_rq_request_parse(const uint8_t *buf, size_t len, saksi_rq_request *rq);
/* Checks rq's signature with the requester's Ed25519 public key: SAKSI_OK or
 * SAKSI_ERR_SIGNATURE. */
saksi_err saksi_rq_request_verify(const saksi_rq_request *rq, const uint8_t pk[32]);
/* SHA-256 of a request body as received: what the reply is bound to. */
void saksi_rq_request_hash(const uint8_t *buf, size_t len, uint8_t hash[32]);

/* The personal filters, opened: values in one guarded (sodium_malloc) block. */
typedef struct saksi_rq_personal {
	char *pp_value[SAKSI_IX__COUNT];   /* clear, NUL-terminated; NULL absent */
	void *pp_mem;                      /* the guarded block */
	size_t pp_mem_len;
} saksi_rq_personal;
/*
 * Opens rq's sealed filters with the appliance's box key pair (X25519 pk and sk).
 * A request without them gives an empty set. SAKSI_ERR_DECRYPT the box does not open;
 * SAKSI_ERR_FORMAT the list is malformed (count 1..7, tags 1..7 ascending, values
 * 1..SAKSI_BLIND_INPUT_MAX bytes without NUL); SAKSI_ERR_NOMEM. Nothing is kept on error.
 */
saksi_err saksi_rq_personal_open(const saksi_rq_request *rq, const uint8_t box_pk[32],
                                 const uint8_t box_sk[32], saksi_rq_personal *pp);
/* Wipes and frees. A zeroed or freed pp is fine. */
void saksi_rq_personal_free(saksi_rq_personal *pp);

/*
 * The stored form of a request (FORMATS.md 3.4): core || SHA-256(sealed) || signature,
 * the sealed filters left out so that no personal value reaches the ledger, while the
 * requester's signature still verifies. base64 (standard, padded) into *b64 (malloc'd).
 * SAKSI_ERR_NOMEM.
 */
saksi_err saksi_rq_request_stored(const saksi_rq_request *rq, char **b64);
/* Parses a stored form (base64 text, len chars) into rq; buf (SAKSI_RQ_STORED_MAX bytes)
 * holds the decoded bytes rq points into. SAKSI_ERR_FORMAT, SAKSI_ERR_VERSION. */
saksi_err saksi_rq_stored_parse(const char *b64, size_t len, uint8_t *buf, saksi_rq_request *rq);

/*
 * The engine's spec of a request: its plain filters, bounds, limit and reveal flag, and
 * the personal filters as the tokens in tok (made by the caller with the index key; ""
 * for absent). s points into rq and tok.
 */
void saksi_rq_spec(const saksi_rq_request *rq,
                   const char tok[SAKSI_IX__COUNT][SAKSI_BLIND_TOKEN_LEN + 1],
                   saksi_query_spec *s);

/*
 * Checks an access entry's payload (schemas/events/supervisor.access.logged.json) that
 * carries a "request" (written by saksid for a remote query): the stored request parses,
 * its key is in kr and its signature verifies, and the payload says what it asked:
 * key_id, command, revealed, personal_filter, case_ref, and the filter text (personal
 * tokens as the payload has them, the rest as the request has it). A payload without
 * "request" is SAKSI_ERR_NOT_FOUND (a local access entry: its own signer asked), unless
 * its "participants" (any entry's, checked first) is more than its "results" or above 0
 * with "revealed" false: SAKSI_ERR_FORMAT.
 * SAKSI_ERR_KEY unknown key; SAKSI_ERR_SIGNATURE; SAKSI_ERR_FORMAT a request that does
 * not parse or a payload that does not match it. why (may be NULL) gets a static reason.
 */
saksi_err saksi_rq_access_check(const json_t *payload, const saksi_keyring *kr,
                                const char **why);

/*
 * The reply body (status 0, FORMATS.md 3.4): version || request hash (32) || access
 * index (8; UINT64_MAX: none was needed) || tree size (8) || sealed_len (4) || the JSON
 * sealed (crypto_box_seal) to the requester's X25519 key (converted from his Ed25519 pk)
 * || Ed25519 signature with the log key. *out malloc'd.
 * make: SAKSI_ERR_KEY log_key not SIGN or a requester pk that does not convert;
 * SAKSI_ERR_TOO_LARGE the reply would exceed SAKSI_WIRE_MSG_MAX; SAKSI_ERR_NOMEM.
 * The seal and the signature are separate steps so that saksid can seal before it knows
 * the access index: seal, then sign.
 */
saksi_err saksi_rq_reply_seal(const uint8_t requester_pk[32], const char *json, size_t len,
                              uint8_t **sealed, size_t *sealed_len);
saksi_err saksi_rq_reply_make(const saksi_seckey *log_key, const uint8_t req_hash[32],
                              uint64_t access_index, uint64_t tree_size,
                              const uint8_t *sealed, size_t sealed_len, uint8_t **out,
                              size_t *outlen);
/*
 * Checks and opens a reply body: parse (SAKSI_ERR_FORMAT, SAKSI_ERR_VERSION), the
 * request hash (SAKSI_ERR_PROOF: a reply to another request), the log key's signature
 * with log_pk (SAKSI_ERR_SIGNATURE), the box with the requester's key sk (SAKSI_ERR_DECRYPT).
 * *json malloc'd, NUL-terminated (it may hold revealed personal values: wipe it).
 */
saksi_err saksi_rq_reply_open(const uint8_t *buf, size_t len, const uint8_t log_pk[32],
                              const uint8_t req_hash[32], const saksi_seckey *sk,
                              uint64_t *access_index, uint64_t *tree_size, char **json,
                              size_t *json_len);

/*
 * One op 7 exchange over nanomsg (REQ): sends version || 0x07 || req to url and waits
 * up to timeout_ms (0: 10000) for the reply. SAKSI_OK: a reply of version 1 and op 7
 * came back; *status its status byte; *body (malloc'd, NUL-terminated beyond *blen) its
 * body: the reply body (status 0) or the daemon's one-line reason. SAKSI_ERR_FORMAT a
 * reply of another version or op, or a status that is no reason code (2..15);
 * SAKSI_ERR_NET, SAKSI_ERR_TIMEOUT; SAKSI_ERR_INVAL.
 */
saksi_err saksi_rq_exchange(const char *url, int timeout_ms, const uint8_t *req, size_t len,
                            int *status, uint8_t **body, size_t *blen);

/*
 * The sealed JSON (FORMATS.md 3.4): {"saksi_query_reply":1,"entries":[rows],"more":B,
 * "revealed":B}, rows as saksi_query_rows_json. to_json: malloc'd compact text.
 * from_json: strict (members exactly these, rows as saksi_query_rows_from_json);
 * SAKSI_ERR_FORMAT, SAKSI_ERR_NOMEM.
 */
saksi_err saksi_rq_result_json(const saksi_query_result *res, char **json, size_t *len);
saksi_err saksi_rq_result_parse(const char *json, size_t len, saksi_query_result *res);

#endif
