/*
 * bundle.h: evidence bundles (FORMATS.md 8): one investigation's ledger entries with their
 * inclusion proofs to one signed checkpoint, the disclosures of those entries only (in
 * clear, or sealed to a recipient's X25519 key), signed by the supervisor who exported it.
 * The verifier recomputes every hash, proof and digest from the bytes in the bundle and
 * trusts nothing it carries: only the log's verifier key, the keyring and, to open sealed
 * disclosures, the recipient's own box key. Never reads a ledger, never prints. Thread-safe:
 * no global state; a saksi_bundle is used by one thread at a time.
 */
#ifndef SAKSI_BUNDLE_H
#define SAKSI_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "merkle.h"
#include "note.h"
#include "saksi_error.h"

#define SAKSI_BUNDLE_VERSION 1
#define SAKSI_BUNDLE_MAX (64u * 1024 * 1024)   /* bytes of a bundle file */
#define SAKSI_BUNDLE_ENTRIES_MAX 20000
#define SAKSI_BUNDLE_CASE_MAX 64               /* case_ref: [A-Za-z0-9_./-]{1,64} */
#define SAKSI_BUNDLE_SELECTION_MAX 2048        /* selection: printable ASCII */
/* Disclosures JSON array of one entry (as stored at rest, FORMATS.md 7.1). */
#define SAKSI_BUNDLE_DISC_MAX 65536
/* A sealed entry: version (1) || crypto_box_seal of leaf hash (32) || the array. */
#define SAKSI_BUNDLE_SEALED_OVERHEAD (1 + 48 + 32)
#define SAKSI_BUNDLE_SEALED_MAX (SAKSI_BUNDLE_SEALED_OVERHEAD + SAKSI_BUNDLE_DISC_MAX)
/* be_index / br_entry when a failure is not about one entry. */
#define SAKSI_BUNDLE_NO_ENTRY UINT64_MAX

enum saksi_bundle_mode {
	SAKSI_BUNDLE_PLAIN = 1,    /* disclosures in clear ("decrypted") */
	SAKSI_BUNDLE_SEALED = 2,   /* each entry's disclosures sealed to the recipient */
};

/* What an entry carries besides its leaf and proof. */
enum saksi_bundle_disc {
	SAKSI_BD_NONE = 0,         /* the entry has no personal field */
	SAKSI_BD_PLAIN = 1,        /* be_disc: the disclosures JSON array, in clear */
	SAKSI_BD_SEALED = 2,       /* be_disc: the sealed box (binary) */
	SAKSI_BD_FORGOTTEN = 3,    /* the participant was forgotten: nothing can be disclosed */
};

typedef struct saksi_bundle_entry {
	uint64_t be_index;         /* leaf index in the log */
	uint8_t *be_leaf;          /* the leaf bytes exactly as hashed (FORMATS.md 4) */
	size_t be_leaf_len;
	saksi_hash *be_proof;      /* inclusion proof, RFC 9162 order (NULL when empty) */
	size_t be_proof_len;
	int be_disc_kind;          /* enum saksi_bundle_disc */
	uint8_t *be_disc;          /* see saksi_bundle_disc; wiped when freed */
	size_t be_disc_len;
} saksi_bundle_entry;

/*
 * A bundle in memory. Everything is owned by the bundle (saksi_bundle_free). Built by the
 * exporter (saksi_bundle_new, _add, _set_*, _sign, _format) or read by a verifier
 * (saksi_bundle_parse). Entries are in strictly ascending be_index.
 */
typedef struct saksi_bundle {
	int b_mode;                                  /* enum saksi_bundle_mode */
	char b_case[SAKSI_BUNDLE_CASE_MAX + 1];
	uint64_t b_created_ms;
	uint8_t b_exporter[SAKSI_KEYID_LEN];         /* the supervisor's key id */
	uint8_t b_recipient[SAKSI_KEYID_LEN];        /* sealed: the recipient's box key id */
	uint64_t b_access;                           /* leaf index of the access entry */
	char b_selection[SAKSI_BUNDLE_SELECTION_MAX + 1];
	char b_log[SAKSI_ORIGIN_MAX + 1];            /* the log's verifier key name (origin) */
	char *b_checkpoint;                          /* signed checkpoint note, verbatim */
	size_t b_checkpoint_len;
	saksi_bundle_entry *b_entries;
	size_t b_n, b_cap;
	uint8_t b_sig[64];                           /* the exporter's Ed25519 signature */
	int b_signed;
} saksi_bundle;

/*
 * A new, empty bundle. case_ref: 1..64 of [A-Za-z0-9_./-]; selection: 1..2048 bytes of
 * printable ASCII (0x20..0x7E), saying how the entries were chosen; log: a valid key name;
 * checkpoint: a well-formed signed checkpoint note (its signature is not checked here);
 * recipient: the box key's id for SAKSI_BUNDLE_SEALED, ignored (zero) for PLAIN.
 * SAKSI_ERR_INVAL for anything else; SAKSI_ERR_NOMEM.
 */
saksi_err saksi_bundle_new(int mode, const char *case_ref, uint64_t created_ms,
                           const char *selection, const char *log, const char *checkpoint,
                           size_t checkpoint_len, const uint8_t recipient[SAKSI_KEYID_LEN],
                           uint64_t access_index, saksi_bundle **out);
/* Wipes every disclosure and frees everything. NULL is fine. */
void saksi_bundle_free(saksi_bundle *b);

/*
 * Appends an entry (copies leaf and proof); index must be above the last entry's.
 * *e (may be NULL) points at it until the next add. The entry starts as SAKSI_BD_NONE.
 * SAKSI_ERR_INVAL out of order, a leaf of 0 or over SAKSI_LEAF_MAX bytes, a proof over
 * SAKSI_MERKLE_MAX_PROOF hashes; SAKSI_ERR_TOO_LARGE past SAKSI_BUNDLE_ENTRIES_MAX;
 * SAKSI_ERR_NOMEM. Invalidates the signature.
 */
saksi_err saksi_bundle_add(saksi_bundle *b, uint64_t index, const uint8_t *leaf, size_t len,
                           const saksi_hash *proof, size_t proof_len, saksi_bundle_entry **e);
/*
 * The entry's disclosures (a JSON array of disclosure strings, as saksi_disc_open_any
 * gives it): in clear in a PLAIN bundle; in a SEALED bundle sealed here to recipient_pk
 * (the X25519 public key of the box key named at saksi_bundle_new; ignored for PLAIN)
 * together with the leaf's hash, so a box moved to another entry does not open as its.
 * SAKSI_ERR_INVAL len 0 or over SAKSI_BUNDLE_DISC_MAX, or recipient_pk NULL when sealing;
 * SAKSI_ERR_KEY a low-order recipient key; SAKSI_ERR_NOMEM.
 */
saksi_err saksi_bundle_set_disclosures(saksi_bundle *b, saksi_bundle_entry *e,
                                       const uint8_t *json, size_t len,
                                       const uint8_t recipient_pk[32]);
/* Marks the entry as a forgotten participant's (no disclosures can be exported). */
void saksi_bundle_set_forgotten(saksi_bundle *b, saksi_bundle_entry *e);

/*
 * The SHA-256 of the bundle's signed transcript (FORMATS.md 8.2): every field but the
 * signature, binary, field by field. Used by sign and verify.
 */
void saksi_bundle_digest(const saksi_bundle *b, uint8_t out[32]);
/* Signs with sk (kind SIGN): b_exporter = its key id. SAKSI_ERR_KEY another kind. */
saksi_err saksi_bundle_sign(saksi_bundle *b, const saksi_seckey *sk);

/*
 * The bundle file (FORMATS.md 8.1): *out malloc'd, NUL-terminated, *len without the NUL.
 * The caller wipes it (it may hold personal data). SAKSI_ERR_INVAL unsigned or empty;
 * SAKSI_ERR_TOO_LARGE over SAKSI_BUNDLE_MAX; SAKSI_ERR_NOMEM.
 */
saksi_err saksi_bundle_format(const saksi_bundle *b, char **out, size_t *len);
/*
 * Strict parse of a bundle file: a JSON object (duplicate and unknown members refused),
 * every member of FORMATS.md 8.1 with its type, canonical base64 and hex, sizes capped,
 * entries strictly ascending, the access entry among them, a disclosure member matching
 * the mode. Checks no signature, hash or proof (saksi_bundle_verify does). errbuf (may be
 * NULL) says what and where, e.g. "entries[3]: index 41 is not above 41".
 * SAKSI_ERR_VERSION saksi_bundle is not 1; SAKSI_ERR_TOO_LARGE over a cap;
 * SAKSI_ERR_FORMAT anything else malformed; SAKSI_ERR_NOMEM.
 */
saksi_err saksi_bundle_parse(const char *text, size_t len, saksi_bundle **out, char *errbuf,
                             size_t errlen);

/*
 * Opens the sealed disclosures of entry e with the recipient's box key (kind BOX): *json
 * malloc'd and NUL-terminated (the caller wipes and frees it). SAKSI_ERR_INVAL the entry
 * is not sealed; SAKSI_ERR_KEY box is not a box key; SAKSI_ERR_DECRYPT the box does not
 * open with it, or was sealed for another leaf; SAKSI_ERR_FORMAT malformed.
 */
saksi_err saksi_bundle_open(const saksi_bundle_entry *e, const saksi_seckey *box,
                            char **json, size_t *json_len);

/* Why verification failed: the first failing check, in the order of saksi_bundle_verify. */
enum saksi_bundle_reason {
	SAKSI_BV_OK = 0,
	SAKSI_BV_CKPT,           /* the checkpoint is malformed or not signed by the log key */
	SAKSI_BV_ORIGIN,         /* the bundle names another log than the verifier key */
	SAKSI_BV_RANGE,          /* an entry's index is not below the checkpoint's size */
	SAKSI_BV_LEAF,           /* an entry's leaf does not parse (version, kind, body) */
	SAKSI_BV_PROOF,          /* an entry's inclusion proof does not reach the root */
	SAKSI_BV_UNKNOWN_KEY,    /* an event's producer key is not in the keyring */
	SAKSI_BV_SIGNATURE,      /* an event's producer signature does not verify */
	SAKSI_BV_EVIDENCE,       /* an alert names evidence entries the bundle lacks */
	SAKSI_BV_SEALED,         /* sealed disclosures do not open for this entry */
	SAKSI_BV_DISCLOSURE,     /* disclosures do not match the digests of the payload */
	SAKSI_BV_ACCESS,         /* the access entry is not this export's record */
	SAKSI_BV_EXPORTER,       /* the exporter key is unknown or its signature fails */
	SAKSI_BV_CONSISTENCY,    /* the newer checkpoint does not extend the bundle's */
	SAKSI_BV_KEYRING,        /* an event breaks the keyring the bundle proves in force
	                            before it: revoked before, a role or branch it lacks */
	SAKSI_BV__COUNT
};
/* A short name for reason ("proof", "disclosure", ...); static storage. */
const char *saksi_bundle_reason_name(int reason);

typedef struct saksi_bundle_verify_opts {
	const saksi_note_verifier *bo_log;    /* required */
	const saksi_keyring *bo_keyring;      /* producers and the exporter; required */
	/* The recipient's box key for a SEALED bundle, or NULL: the sealed disclosures are
	 * then left unopened (br_unopened counts them) and the rest is verified. */
	const saksi_seckey *bo_box;
	/* A newer signed checkpoint and the consistency proof from the bundle's checkpoint
	 * to it (RFC 9162 order), or NULL: checked last. */
	const char *bo_newer;
	size_t bo_newer_len;
	const saksi_hash *bo_consistency;
	size_t bo_consistency_len;
} saksi_bundle_verify_opts;

typedef struct saksi_bundle_report {
	int br_reason;              /* enum saksi_bundle_reason */
	uint64_t br_entry;          /* leaf index of the failing entry, or SAKSI_BUNDLE_NO_ENTRY */
	char br_message[512];       /* "entry 41: ..." */
	uint64_t br_size;           /* the checkpoint's tree size */
	saksi_hash br_root;
	size_t br_entries, br_events, br_alerts, br_refusals;
	size_t br_disclosed;        /* entries whose disclosures were checked against digests */
	size_t br_unopened;         /* sealed entries left unopened (no box key given) */
	size_t br_forgotten;        /* entries of forgotten participants */
	const char *br_exporter;    /* the exporter's keyring name (valid while the keyring) */
	int br_consistent;          /* 1 if a newer checkpoint was given and is consistent */
	size_t br_keyrings;         /* keyrings the bundle proves whole (an entry or a set) */
	size_t br_kr_events;        /* events checked with one of them, not bo_keyring */
	uint64_t br_keyring_last;   /* the (first) entry of the last keyring proved whole */
	uint64_t br_newer_size;
} saksi_bundle_report;

/*
 * Verifies b, in this order, stopping at the first failure: the checkpoint (signature with
 * bo_log, origin); then every entry in ascending order: index below the tree size, leaf
 * parse, leaf hash recomputed and its inclusion proof against the checkpoint's root, an
 * event's producer signature (keyring; revocation does not matter), an alert's body and
 * that its evidence entries are in the bundle, a refusal summary's body; then its
 * disclosures (opened with bo_box when sealed) against the digests in its signed payload
 * (every _sd member disclosed, nothing extra), or, with none, that it has no personal
 * field unless marked forgotten; then the access entry (a supervisor.access.logged event
 * signed by the exporter, command "bundle", the same case_ref, results = the other
 * entries); then the exporter's key (in the keyring, with a role that may sign
 * supervisor.access.logged) and its signature over the transcript; then the newer
 * checkpoint if given.
 * The keyring an event is checked with: the last keyring the bundle proves before it, a
 * kind 4 entry or a whole set of parts (FORMATS.md 4), as saksi verify does with a
 * ledger's (the key in it, its role may sign the type, its branch, not revoked at or
 * before that entry's commit time: SAKSI_BV_UNKNOWN_KEY, SAKSI_BV_KEYRING); bo_keyring
 * for an event before any, or after a set the bundle holds only in part. A bundle
 * proves the entries it holds, not that none lies between: a keyring entry the
 * exporter left out is not seen (saksi bundle --keyrings puts in the one in force at
 * each event).
 * SAKSI_OK intact; SAKSI_ERR_CORRUPT a check failed (r says which entry and why);
 * SAKSI_ERR_INVAL missing options; SAKSI_ERR_NOMEM.
 */
saksi_err saksi_bundle_verify(const saksi_bundle *b, const saksi_bundle_verify_opts *o,
                              saksi_bundle_report *r);

#endif
