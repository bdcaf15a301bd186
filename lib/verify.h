/*
 * verify.h: the ombudsman's full verification of a ledger copy, or of a tile export of
 * it. It recomputes everything from the exact stored leaf bytes and never trusts a
 * stored hash, a stored root or the daemon's word: only the log's verifier key and the
 * producers' keyring. Reads a ledger through one read transaction (a consistent
 * snapshot), an export through its one checkpoint; never writes. Thread-safe:
 * it keeps no state between calls (it may start threads of its own, see vo_threads).
 */
#ifndef SAKSI_VERIFY_H
#define SAKSI_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"
#include "rules.h"
#include "saksi_error.h"

/* vr_index when a failure is not about one entry (e.g. the reviewer's checkpoint). */
#define SAKSI_VERIFY_NO_INDEX UINT64_MAX

/* Why verification failed: the first failing check, in ledger order. */
enum saksi_verify_reason {
	SAKSI_V_OK = 0,
	SAKSI_V_SYSTEM,           /* the ledger could not be read (I/O, memory, LMDB) */
	SAKSI_V_ORIGIN,           /* the ledger's origin is not the verifier key's name */
	SAKSI_V_LEAF_MISSING,     /* an entry below the tree size is absent */
	SAKSI_V_LEAF_STORAGE,     /* stored entry cannot be decoded (codec, length, zstd) */
	SAKSI_V_LEAF_FORMAT,      /* the leaf does not parse (version, kind, length) */
	SAKSI_V_PREV_ROOT,        /* prev_root is not the root of the entries before it */
	SAKSI_V_ENVELOPE_FORMAT,  /* an event leaf's envelope does not parse */
	SAKSI_V_UNKNOWN_KEY,      /* the producer key is not in the keyring */
	SAKSI_V_SIGNATURE,        /* the producer signature does not verify */
	SAKSI_V_REFUSALS_FORMAT,  /* a refusal summary does not parse strictly */
	SAKSI_V_NODE,             /* a stored tree node is absent or differs from the leaves */
	SAKSI_V_EXTRA_LEAF,       /* a leaf is stored beyond the tree size */
	SAKSI_V_CKPT_FORMAT,      /* a stored checkpoint is not a well-formed note/body */
	SAKSI_V_CKPT_SIGNATURE,   /* a stored checkpoint is not signed by the log key */
	SAKSI_V_CKPT_ORIGIN,      /* a stored checkpoint names another origin */
	SAKSI_V_CKPT_SIZE,        /* a stored checkpoint's size is not the size it is kept under */
	SAKSI_V_CKPT_ROOT,        /* a stored checkpoint's root is not the recomputed root */
	SAKSI_V_TRUNCATED,        /* a signed checkpoint covers entries the ledger lacks */
	SAKSI_V_UNSIGNED,         /* entries beyond the latest signed checkpoint */
	SAKSI_V_REVIEWER_FORMAT,  /* the reviewer's checkpoint is not a well-formed note */
	SAKSI_V_REVIEWER_SIGNATURE, /* the reviewer's checkpoint is not signed by the log key */
	SAKSI_V_REVIEWER_ROOT,    /* the ledger's prefix differs from the reviewer's checkpoint */
	SAKSI_V_ALERT_FORMAT,     /* an alert leaf does not parse strictly, or names later leaves */
	SAKSI_V_ACCESS,           /* an access entry written for a remote query does not carry
	                             its requester's valid signed request (FORMATS.md 3.4) */
	SAKSI_V_KEYRING,          /* a keyring entry does not parse, or an event breaks the
	                             keyring the ledger recorded before it (FORMATS.md 4) */
	SAKSI_V__COUNT
};

/* A short name for reason ("prev_root", "signature", ...); static storage. */
const char *saksi_verify_reason_name(int reason);

/* Called every vo_progress_every entries and once at the end (done == total). */
typedef void (*saksi_verify_progress)(void *ctx, uint64_t done, uint64_t total);

typedef struct saksi_verify_opts {
	const saksi_note_verifier *vo_log;  /* the log key (from its vkey); required */
	const saksi_keyring *vo_keyring;    /* producer keys; required */
	/* A checkpoint note the reviewer kept from earlier, or NULL: it must verify with
	 * vo_log and its tree must be a prefix of this ledger. */
	const char *vo_reviewer_ckpt;
	size_t vo_reviewer_ckpt_len;
	saksi_verify_progress vo_progress;  /* may be NULL */
	void *vo_progress_ctx;
	uint64_t vo_progress_every;         /* 0 = 4096 */
	/* Threads checking producer signatures, the caller's included (0 or 1: only the
	 * caller's; at most 64). Every other check runs in ledger order on the caller's
	 * thread, so the first failure reported is the same whatever the count. */
	unsigned vo_threads;
} saksi_verify_opts;

typedef struct saksi_verify_report {
	uint64_t vr_size;           /* tree size: entries in the ledger */
	uint64_t vr_checked;        /* entries fully verified before stopping */
	uint64_t vr_events;         /* event leaves verified */
	uint64_t vr_refusals;       /* refusal summary leaves verified */
	uint64_t vr_revoked;        /* events signed by keys revoked since (still valid) */
	uint64_t vr_nodes;          /* stored node hashes recomputed and compared */
	uint64_t vr_checkpoints;    /* stored checkpoints verified */
	uint64_t vr_latest;         /* size of the latest stored checkpoint, 0 if none */
	saksi_hash vr_root;         /* recomputed root of the vr_checked entries */
	int vr_reviewer;            /* 1 if a reviewer checkpoint was checked and matched */
	uint64_t vr_reviewer_size;  /* its tree size */
	int vr_reason;              /* enum saksi_verify_reason; SAKSI_V_OK when intact */
	uint64_t vr_index;          /* first failing entry, or SAKSI_VERIFY_NO_INDEX */
	int vr_err;                 /* the library error behind the failure, or SAKSI_OK */
	char vr_message[512];       /* e.g. "entry 41: prev_root does not match ..." */
	uint64_t vr_alerts;         /* alert leaves verified */
	/* Keyring entries (FORMATS.md 4, kind 4) verified: how many, the first and the last
	 * (SAKSI_VERIFY_NO_INDEX: none). Events before the first are checked with
	 * vo_keyring; from each on, with the keyring it records (key, role, branch, and no
	 * revocation at or before its commit time), vo_keyring no longer consulted. */
	uint64_t vr_keyrings;
	uint64_t vr_keyring_first;
	uint64_t vr_keyring_last;
} saksi_verify_report;

/*
 * Verifies the whole ledger l (open it read-only) and fills *r. For every entry in order:
 * reads its exact stored bytes, parses the leaf, recomputes its hash, checks prev_root
 * against the root of the entries before it, checks an event's producer signature with
 * its keyring key (revocation does not matter for entries already in the ledger; an
 * unknown key is a failure; the keyring is vo_keyring before the first keyring entry,
 * then the one the ledger recorded last, see vr_keyrings) or parses a refusal summary or
 * a keyring entry strictly, and compares every stored
 * node hash the entry completes. Every stored checkpoint must verify with vo_log and name
 * the root recomputed at its size; the latest must cover every entry.
 *
 * Returns SAKSI_OK if the ledger is intact; SAKSI_ERR_CORRUPT if it is not (r->vr_reason,
 * vr_index and vr_message say where and why: the first failure in ledger order);
 * SAKSI_ERR_INVAL for missing options; a system error (SAKSI_ERR_IO, _NOMEM, _LEDGER) if
 * the ledger could not be read, with r->vr_reason = SAKSI_V_SYSTEM.
 *
 * For a failure found at a checkpoint, vr_index is the last entry it covers (size - 1);
 * for a checkpoint beyond the ledger's end, the first missing entry (the ledger size).
 */
saksi_err saksi_verify_ledger(saksi_ledger *l, const saksi_verify_opts *opts,
                              saksi_verify_report *r);

/*
 * Verifies a C2SP tlog-tiles export (FORMATS.md 9, tiles.h) in directory dir as
 * saksi_verify_ledger verifies a ledger, for the tree of its `checkpoint`: that
 * checkpoint is opened with vo_log first (a failure there stops everything: it says how
 * many entries to read), then every entry is read from its entry bundle and checked in
 * order as above, and every hash of every hash tile the tree needs is compared with the
 * one recomputed from the entries (vr_nodes counts them; the levels between tile levels
 * are not stored, so not compared). A bundle or tile that is absent, holds too few or too
 * many entries or hashes, or bytes that do not split into entries is a failure at the
 * first entry it concerns (SAKSI_V_LEAF_MISSING, _LEAF_STORAGE, _NODE, _EXTRA_LEAF). There
 * is one checkpoint: vr_checkpoints is 1 and vr_latest its size. The same returns as
 * saksi_verify_ledger; a dir without a checkpoint file is SAKSI_ERR_NOT_FOUND with
 * vr_reason SAKSI_V_SYSTEM.
 */
saksi_err saksi_verify_tiles(const char *dir, const saksi_verify_opts *opts,
                             saksi_verify_report *r);

/*
 * Strict parse of a refusal summary body (FORMATS.md section 4, kind 2): count >= 1, exact
 * length, reasons 2..15, refused >= 1, first_ms <= last_ms. SAKSI_ERR_FORMAT otherwise;
 * *count (may be NULL) gets the record count.
 */
saksi_err saksi_refusals_parse(const uint8_t *body, size_t len, unsigned *count);

/* Longest alert leaf body (FORMATS.md section 4, kind 3). */
#define SAKSI_ALERT_LEAF_MAX (8 + 3 + (SAKSI_RULES_ID_MAX + 5) + 2 + SAKSI_RULES_GROUP_MAX + \
                              6 * 8 + 4 + 1 + 8 * SAKSI_ALERT_EVIDENCE_MAX)
/*
 * Alert leaf body (FORMATS.md section 4, kind 3). encode: SAKSI_ERR_INVAL for an alert
 * that the format cannot carry (the same checks as parse) or outlen too small.
 * parse: strict (id >= 1, kinds, severities, lengths, ASCII, first_ms <= last_ms, at most
 * 64 evidence indices, strictly ascending, nothing after): SAKSI_ERR_FORMAT otherwise.
 * It does not compare indices with the leaf's own: the verifier does.
 */
saksi_err saksi_alert_leaf_encode(const saksi_alert *a, uint8_t *out, size_t outlen,
                                  size_t *written);
saksi_err saksi_alert_leaf_parse(const uint8_t *body, size_t len, saksi_alert *out);

#endif
