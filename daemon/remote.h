/*
 * remote.h: saksid's answer to op 0x07, a supervisor's signed remote query (FORMATS.md
 * 3.4): checks the request (parse, key, revocation, signature, role, age, replay), opens
 * its sealed filters, blinds them, runs the query (query.h) and seals the rows to the
 * requester. A look by a personal field or with reveal needs an access entry committed
 * first: this module makes its payload and envelope; the server commits it and only then
 * sends the reply (fail closed).
 *
 * What it must never do: log or return a personal value (refusal texts name no value),
 * answer an ombudsman, an unknown or revoked key with rows, or change anything for a
 * refused request.
 *
 * Threads: saksid_remote_handle may be called from any number of threads at once (the
 * data keys and the replay memory are used under the context's own lock).
 */
#ifndef SAKSID_REMOTE_H
#define SAKSID_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "blind.h"
#include "datakey.h"
#include "ingest.h"
#include "keys.h"
#include "ledger.h"
#include "saksi_error.h"

/* Most requests remembered against replay (within the age bound). */
#define SAKSID_REMOTE_NONCES_MAX 65536

typedef struct saksid_remote_opts {
	saksi_ledger *ro_ledger;            /* read transactions */
	const saksi_keyring *ro_keyring;
	const saksi_blind *ro_blind;        /* the index key */
	const saksi_seckey *ro_store_key;   /* SYM */
	saksi_datakeys *ro_dk;              /* a reader's handle; may be NULL */
	const saksi_seckey *ro_box_key;     /* BOX */
	const saksi_seckey *ro_log_key;     /* SIGN: signs replies */
	const saksi_seckey *ro_access_key;  /* SIGN: signs access entries */
	uint64_t ro_max_age_ms;             /* 0: SAKSI_RQ_MAX_AGE_MS_DEFAULT */
	uint64_t ro_started_ms;             /* requests signed before are refused (replay) */
} saksid_remote_opts;

typedef struct saksid_remote saksid_remote;

/*
 * Makes the context: opens the index for reading (LMDB: call it before any other thread
 * opens a database). SAKSI_ERR_INVAL for missing options or keys of the wrong kind;
 * SAKSI_ERR_NOT_FOUND the ledger has no index; SAKSI_ERR_KEY the index was made with
 * another index key; SAKSI_ERR_NOMEM; the ledger's errors. *last_seq gets the access
 * key's last committed sequence number.
 */
saksi_err saksid_remote_new(const saksid_remote_opts *o, saksid_remote **out,
                            uint64_t *last_seq);
void saksid_remote_free(saksid_remote *q);

/* What to do with one request. */
typedef struct saksid_remote_answer {
	int ra_status;                /* 0 ok; else a reason code (FORMATS.md 3.2) */
	char ra_msg[SAKSID_MSG_MAX];  /* the refusal: one line of English, no value */
	/* Status 0 without an access entry: the reply body, ready to send. */
	uint8_t *ra_reply;
	size_t ra_reply_len;
	/* Status 0 with an access entry: its payload (JSON text); the reply is made by
	 * saksid_remote_finish once the entry is committed. */
	char *ra_access;
	uint8_t ra_hash[32];          /* SHA-256 of the request body */
	uint64_t ra_size;             /* the tree size the query read */
	uint8_t *ra_sealed;           /* the rows, sealed to the requester */
	size_t ra_sealed_len;
	size_t ra_rows;
	uint64_t ra_participants;     /* distinct participants revealed (reveal.h) */
	/* With an access entry: the requester's key as the answer was checked under it,
	 * for saksid_remote_recheck. */
	uint8_t ra_key_id[SAKSI_KEYID_LEN];
	uint8_t ra_pub[32];
	char *ra_branch;
	int ra_reveal;
} saksid_remote_answer;

/* Handles a request body (after the wire's version and op) at the daemon's now, with
 * the requester's key looked up in ro_keyring. */
void saksid_remote_handle(saksid_remote *q, const uint8_t *body, size_t len, uint64_t now,
                          saksid_remote_answer *a);
/*
 * The same, with the requester's key (known, not revoked, role, branch) looked up in kr,
 * the keyring in force (a reload's: keyreload.h); kr is only read during the call.
 */
void saksid_remote_handle_kr(saksid_remote *q, const saksi_keyring *kr,
                             const uint8_t *body, size_t len, uint64_t now,
                             saksid_remote_answer *a);
/*
 * A personal look's answer (ra_access set) about to be released under kr, the keyring
 * in force as its access entry is written (a reload may have come in between, or a
 * revocation dated after the answer's check come into force): 0 if kr still
 * lets its key have those rows (known, not revoked at now, role as in the checks, the
 * same public key and branch); else -1 with a's ra_status and ra_msg set to the
 * refusal (unknown_key, revoked_key, role, branch), as the request would get now. -1
 * for a NULL a; for a NULL kr or an answer without an access entry, -1 with a refused
 * `unavailable` (fail closed: nothing is released) unless a was refused already.
 */
int saksid_remote_recheck(const saksi_keyring *kr, saksid_remote_answer *a, uint64_t now);
/*
 * The access entry's envelope for a->ra_access, signed by the access key with seq and
 * time_ms, into env (SAKSI_ENV_MAX bytes). SAKSI_ERR_INVAL, errors of
 * saksi_envelope_sign.
 */
saksi_err saksid_remote_envelope(const saksid_remote *q, const saksid_remote_answer *a,
                                 uint64_t seq, uint64_t time_ms, uint8_t *env,
                                 size_t cap, size_t *len);
/* The reply once the access entry is at access_index: *out malloc'd. */
saksi_err saksid_remote_finish(const saksid_remote *q, const saksid_remote_answer *a,
                               uint64_t access_index, uint8_t **out, size_t *len);
/* Frees what an answer holds (NULL fields fine) and zeroes it. */
void saksid_remote_answer_clear(saksid_remote_answer *a);

#endif
