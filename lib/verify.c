/*
 * verify.c: full verification of a ledger copy, or of a tile export, from its exact
 * stored leaf bytes. Every hash, root and node is recomputed here and only then compared
 * with what is stored; nothing stored is ever taken as evidence of itself. Reads only.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "branch_rule.h"
#include "envelope.h"
#include "keylog.h"
#include "remoteq.h"
#include "tiles.h"
#include "verify.h"
#include "wire.h"

#define PROGRESS_EVERY 4096
/* Entries read ahead and signature-checked together; bounded in count and bytes. */
#define BATCH_MAX 1024
#define BATCH_BYTES (16u << 20)
#define THREADS_MAX 64
#define REFUSAL_REC 29 /* key_id (8) || reason (1) || refused (4) || first_ms (8) || last_ms (8) */

/*
 * One entry read ahead: its exact bytes (or the read error), and its producer signature
 * checked, possibly on another thread. Everything else is checked in ledger order.
 */
struct item {
	uint8_t *it_buf;
	size_t it_len;
	saksi_err it_read;
	saksi_err it_sig;   /* SAKSI_OK unless an event's signature was checked and failed */
	/* The keyring in force at this entry (FORMATS.md 4, kind 4): the last keyring entry
	 * before it, or the reviewer's file (it_kr_at SAKSI_VERIFY_NO_INDEX) before any. */
	const saksi_keyring *it_kr;
	uint64_t it_kr_at;
	uint64_t it_kr_ms;  /* that keyring entry's commit time */
	saksi_keyring *it_kr_new; /* this entry's own keyring if it is one that parsed */
	int it_kr_part;     /* a keyring part (version 2) of a set consistent so far */
	uint64_t it_kr_at_new; /* with it_kr_new of a set: the set's first part */
	int it_branch;      /* the payload's branch is the key's (1), is not (0), unknown (-1) */
};

/* A batch shared with signature threads: they only read it, except it_sig of the
 * entries each one takes. */
struct sigwork {
	struct item *sw_items;
	size_t sw_n;
	atomic_size_t sw_next;
};

/*
 * Where the entries, the stored hashes and the checkpoints come from: a ledger's read
 * transaction, or a tile export (FORMATS.md 9). Every check below is the same for both;
 * only what the source stores differs: a ledger keeps every subtree hash, tiles keep
 * one tree level in eight (the others are rebuilt by whoever reads a tile).
 */
struct source {
	void *src_ctx;
	uint64_t src_size;
	unsigned src_node_every;   /* stored hashes at the levels that are multiples of this */
	/* The size is the latest checkpoint's (a tile export): open that checkpoint with the
	 * log key before reading any entry, src_ckpt_next(ctx, CKPT_LATEST) gives it. */
	int src_ckpt_first;
	const char *src_node_what; /* "stored tree node", "tile hash" */
	/* NULL: the source has no origin of its own (its checkpoint's is checked). */
	saksi_err (*src_origin)(void *ctx, char **origin);
	saksi_err (*src_leaf)(void *ctx, uint64_t index, uint8_t **leaf, size_t *len);
	saksi_err (*src_node)(void *ctx, unsigned level, uint64_t index, saksi_hash out);
	saksi_err (*src_ckpt_next)(void *ctx, uint64_t after, uint64_t *size, char **note,
	    size_t *len);
};

#define CKPT_LATEST UINT64_MAX

/* The state of one verification: the snapshot, the recomputed tree, the next checkpoint. */
struct vstate {
	const saksi_verify_opts *o;
	saksi_verify_report *r;
	const struct source *src;
	saksi_merkle_range range;
	/* The next stored checkpoint to check (size 0: none left). */
	uint64_t ck_size;
	char *ck_note;
	size_t ck_len;
	/* The reviewer's checkpoint, opened before the scan. */
	int have_reviewer;
	saksi_checkpoint reviewer;
	/* Entries read ahead, and how many threads check their signatures. */
	struct item *items;
	unsigned threads;
	/* The ledger's keyrings met so far (kept: read-ahead items point at them) and the
	 * one in force after the entries read ahead. */
	saksi_keyring **krs;
	size_t nkrs, krs_cap;
	const saksi_keyring *kr_now;
	uint64_t kr_at, kr_ms;
	/* A keyring set in parts being read (FORMATS.md 4, kind 4, version 2): copies of
	 * its parts so far, the first part's index and commit time, the count. */
	uint8_t **set_body;
	size_t *set_len;
	size_t set_n, set_count;
	uint64_t set_first, set_ms;
	/* The first entry at which a set is broken, and why (SAKSI_VERIFY_NO_INDEX: none). */
	uint64_t kr_bad_at;
	char kr_bad_why[240];
};

const char *
saksi_verify_reason_name(int reason)
{
	static const char *const names[SAKSI_V__COUNT] = {
		[SAKSI_V_OK] = "ok",
		[SAKSI_V_SYSTEM] = "system",
		[SAKSI_V_ORIGIN] = "origin",
		[SAKSI_V_LEAF_MISSING] = "leaf_missing",
		[SAKSI_V_LEAF_STORAGE] = "leaf_storage",
		[SAKSI_V_LEAF_FORMAT] = "leaf_format",
		[SAKSI_V_PREV_ROOT] = "prev_root",
		[SAKSI_V_ENVELOPE_FORMAT] = "envelope_format",
		[SAKSI_V_UNKNOWN_KEY] = "unknown_key",
		[SAKSI_V_SIGNATURE] = "signature",
		[SAKSI_V_REFUSALS_FORMAT] = "refusals_format",
		[SAKSI_V_NODE] = "node",
		[SAKSI_V_EXTRA_LEAF] = "extra_leaf",
		[SAKSI_V_CKPT_FORMAT] = "checkpoint_format",
		[SAKSI_V_CKPT_SIGNATURE] = "checkpoint_signature",
		[SAKSI_V_CKPT_ORIGIN] = "checkpoint_origin",
		[SAKSI_V_CKPT_SIZE] = "checkpoint_size",
		[SAKSI_V_CKPT_ROOT] = "checkpoint_root",
		[SAKSI_V_TRUNCATED] = "truncated",
		[SAKSI_V_UNSIGNED] = "unsigned",
		[SAKSI_V_REVIEWER_FORMAT] = "reviewer_format",
		[SAKSI_V_REVIEWER_SIGNATURE] = "reviewer_signature",
		[SAKSI_V_REVIEWER_ROOT] = "reviewer_root",
		[SAKSI_V_ALERT_FORMAT] = "alert_format",
		[SAKSI_V_ACCESS] = "access",
		[SAKSI_V_KEYRING] = "keyring",
	};
	if (reason < 0 || reason >= SAKSI_V__COUNT || names[reason] == NULL)
		return "unknown";
	return names[reason];
}

/* Records the first failure and returns what saksi_verify_ledger must return. */
static saksi_err fail(struct vstate *s, int reason, uint64_t index, saksi_err err,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static saksi_err
fail(struct vstate *s, int reason, uint64_t index, saksi_err err, const char *fmt, ...)
{
	saksi_verify_report *r = s->r;
	va_list ap;

	r->vr_reason = reason;
	r->vr_index = index;
	r->vr_err = err;
	va_start(ap, fmt);
	vsnprintf(r->vr_message, sizeof(r->vr_message), fmt, ap);
	va_end(ap);
	return reason == SAKSI_V_SYSTEM ? (err != SAKSI_OK ? err : SAKSI_ERR_LEDGER)
	    : SAKSI_ERR_CORRUPT;
}

/* Errors that mean "could not read", as opposed to "read something wrong". */
static int
is_system(saksi_err e)
{
	return e == SAKSI_ERR_NOMEM || e == SAKSI_ERR_IO || e == SAKSI_ERR_LEDGER ||
	    e == SAKSI_ERR_INVAL;
}

static void
hash_b64(const saksi_hash h, char out[45])
{
	sodium_bin2base64(out, 45, h, SAKSI_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
}

static void
keyid_hex(const uint8_t id[SAKSI_KEYID_LEN], char out[2 * SAKSI_KEYID_LEN + 1])
{
	sodium_bin2hex(out, 2 * SAKSI_KEYID_LEN + 1, id, SAKSI_KEYID_LEN);
}

saksi_err
saksi_refusals_parse(const uint8_t *body, size_t len, unsigned *count)
{
	unsigned n, i;

	if (body == NULL || len < 2)
		return SAKSI_ERR_FORMAT;
	n = saksi_get_u16(body);
	if (n == 0 || len != 2 + (size_t)n * REFUSAL_REC)
		return SAKSI_ERR_FORMAT;
	for (i = 0; i < n; i++) {
		const uint8_t *p = body + 2 + (size_t)i * REFUSAL_REC;
		int reason = p[8];

		if (reason < SAKSI_R_PARSE || reason > SAKSI_R_BUSY)
			return SAKSI_ERR_FORMAT;
		if (saksi_get_u32(p + 9) == 0)
			return SAKSI_ERR_FORMAT;
		if (saksi_get_u64(p + 13) > saksi_get_u64(p + 21))
			return SAKSI_ERR_FORMAT;
	}
	if (count != NULL)
		*count = n;
	return SAKSI_OK;
}

/* Printable ASCII from lo to 0x7e, and no other byte. */
static int
ascii_ok(const char *p, size_t n, int lo)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < lo || (unsigned char)p[i] > 0x7e)
			return 0;
	return 1;
}

/* The checks common to encode and parse, on the fields a struct holds. */
static int
alert_fields_ok(const saksi_alert *a, size_t rlen, size_t glen)
{
	if (a->al_id == 0 || a->al_kind < SAKSI_ALERT_RULE || a->al_kind > SAKSI_ALERT_REFUSALS ||
	    a->al_severity < SAKSI_SEV_LOW || a->al_severity > SAKSI_SEV_CRITICAL)
		return 0;
	/* A re-raise (RULES.md 5.3) names its original entry, and nothing else, and is at
	 * least one step above low; a chain has at most SAKSI_RERAISE_MAX of them. */
	if (a->al_kind == SAKSI_ALERT_RERAISE &&
	    (a->al_nevidence != 1 || a->al_trigger != a->al_evidence[0] ||
	     a->al_extra < 1 || a->al_extra > SAKSI_RERAISE_MAX ||
	     a->al_severity < SAKSI_SEV_MEDIUM))
		return 0;
	if (rlen == 0 || rlen > SAKSI_RULES_ID_MAX + 6 - 1 || !ascii_ok(a->al_rule, rlen, 0x21))
		return 0;
	if (glen == 0 || glen > SAKSI_RULES_GROUP_MAX || !ascii_ok(a->al_group, glen, 0x20))
		return 0;
	if (a->al_first_ms > a->al_last_ms || a->al_nevidence > SAKSI_ALERT_EVIDENCE_MAX)
		return 0;
	for (uint32_t i = 1; i < a->al_nevidence; i++)
		if (a->al_evidence[i - 1] >= a->al_evidence[i])
			return 0;
	return 1;
}

saksi_err
saksi_alert_leaf_encode(const saksi_alert *a, uint8_t *out, size_t outlen, size_t *written)
{
	size_t rlen, glen, need;
	uint8_t *p = out;

	if (a == NULL || out == NULL || written == NULL)
		return SAKSI_ERR_INVAL;
	rlen = strnlen(a->al_rule, sizeof(a->al_rule));
	glen = strnlen(a->al_group, sizeof(a->al_group));
	if (!alert_fields_ok(a, rlen, glen))
		return SAKSI_ERR_INVAL;
	need = 8 + 3 + rlen + 2 + glen + 6 * 8 + 4 + 1 + 8 * (size_t)a->al_nevidence;
	if (outlen < need)
		return SAKSI_ERR_INVAL;
	saksi_put_u64(p, a->al_id);
	p[8] = (uint8_t)a->al_kind;
	p[9] = (uint8_t)a->al_severity;
	p[10] = (uint8_t)rlen;
	memcpy(p + 11, a->al_rule, rlen);
	p += 11 + rlen;
	saksi_put_u16(p, (uint16_t)glen);
	memcpy(p + 2, a->al_group, glen);
	p += 2 + glen;
	saksi_put_u64(p, a->al_first_ms);
	saksi_put_u64(p + 8, a->al_last_ms);
	saksi_put_u64(p + 16, a->al_value);
	saksi_put_u64(p + 24, a->al_threshold);
	saksi_put_u64(p + 32, a->al_extra);
	saksi_put_u64(p + 40, a->al_trigger);
	saksi_put_u32(p + 48, a->al_total);
	p[52] = (uint8_t)a->al_nevidence;
	p += 53;
	for (uint32_t i = 0; i < a->al_nevidence; i++, p += 8)
		saksi_put_u64(p, a->al_evidence[i]);
	*written = (size_t)(p - out);
	return SAKSI_OK;
}

saksi_err
saksi_alert_leaf_parse(const uint8_t *body, size_t len, saksi_alert *a)
{
	const uint8_t *p = body, *end = body + len;
	size_t rlen, glen;

	if (body == NULL || a == NULL)
		return SAKSI_ERR_FORMAT;
	memset(a, 0, sizeof(*a));
	if (len < 11)
		return SAKSI_ERR_FORMAT;
	a->al_id = saksi_get_u64(p);
	a->al_kind = p[8];
	a->al_severity = p[9];
	rlen = p[10];
	p += 11;
	if (rlen == 0 || rlen > SAKSI_RULES_ID_MAX + 6 - 1 || (size_t)(end - p) < rlen + 2)
		return SAKSI_ERR_FORMAT;
	memcpy(a->al_rule, p, rlen);
	p += rlen;
	glen = saksi_get_u16(p);
	p += 2;
	if (glen == 0 || glen > SAKSI_RULES_GROUP_MAX || (size_t)(end - p) < glen + 53)
		return SAKSI_ERR_FORMAT;
	memcpy(a->al_group, p, glen);
	p += glen;
	a->al_first_ms = saksi_get_u64(p);
	a->al_last_ms = saksi_get_u64(p + 8);
	a->al_value = saksi_get_u64(p + 16);
	a->al_threshold = saksi_get_u64(p + 24);
	a->al_extra = saksi_get_u64(p + 32);
	a->al_trigger = saksi_get_u64(p + 40);
	a->al_total = saksi_get_u32(p + 48);
	a->al_nevidence = p[52];
	p += 53;
	if (a->al_nevidence > SAKSI_ALERT_EVIDENCE_MAX ||
	    (size_t)(end - p) != 8 * (size_t)a->al_nevidence)
		return SAKSI_ERR_FORMAT;
	for (uint32_t i = 0; i < a->al_nevidence; i++, p += 8)
		a->al_evidence[i] = saksi_get_u64(p);
	/* memcpy left both strings NUL-terminated: a is zeroed and the arrays are larger. */
	if (!alert_fields_ok(a, rlen, glen) || strlen(a->al_rule) != rlen ||
	    strlen(a->al_group) != glen)
		return SAKSI_ERR_FORMAT;
	return SAKSI_OK;
}

/*
 * A re-raise (FORMATS.md 4, kind 4) must repeat the alert entry it names in evidence[0]:
 * same id, rule, group and figures, a kind 1-3 original, severity min(critical,
 * original + extra), and no more re-raises than the chain allows (it ends after the
 * first at critical, RULES.md 5.3). That entry is earlier, so already verified.
 */
static saksi_err
check_reraise(struct vstate *s, uint64_t i, const saksi_alert *a)
{
	uint64_t oi = a->al_evidence[0];
	uint8_t *leaf = NULL;
	size_t len;
	saksi_leaf lf;
	saksi_alert o;
	uint64_t max, sev;
	saksi_err e;

	e = s->src->src_leaf(s->src->src_ctx, oi, &leaf, &len);
	if (e != SAKSI_OK)
		return fail(s, is_system(e) ? SAKSI_V_SYSTEM : SAKSI_V_LEAF_STORAGE, oi, e,
		    "entry %" PRIu64 ": cannot be read: %s", oi, saksi_strerror(e));
	e = saksi_leaf_parse(leaf, len, &lf);
	if (e == SAKSI_OK && lf.lf_kind == SAKSI_LEAF_ALERT)
		e = saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &o);
	else if (e == SAKSI_OK)
		e = SAKSI_ERR_FORMAT;
	free(leaf);
	if (e != SAKSI_OK || o.al_kind == SAKSI_ALERT_RERAISE)
		return fail(s, SAKSI_V_ALERT_FORMAT, i, SAKSI_ERR_FORMAT,
		    "entry %" PRIu64 ": a re-raise of entry %" PRIu64 ", which is not an alert",
		    i, oi);
	sev = (uint64_t)o.al_severity + a->al_extra;
	max = o.al_severity >= SAKSI_SEV_CRITICAL ? 1 : SAKSI_SEV_CRITICAL - o.al_severity;
	if (o.al_id != a->al_id || strcmp(o.al_rule, a->al_rule) != 0 ||
	    strcmp(o.al_group, a->al_group) != 0 || o.al_first_ms != a->al_first_ms ||
	    o.al_last_ms != a->al_last_ms || o.al_value != a->al_value ||
	    o.al_threshold != a->al_threshold || o.al_total != a->al_total ||
	    a->al_extra > max ||
	    (uint64_t)a->al_severity != (sev > SAKSI_SEV_CRITICAL ? SAKSI_SEV_CRITICAL : sev))
		return fail(s, SAKSI_V_ALERT_FORMAT, i, SAKSI_ERR_FORMAT,
		    "entry %" PRIu64 ": the re-raise does not match alert %" PRIu64
		    " at entry %" PRIu64, i, o.al_id, oi);
	return SAKSI_OK;
}

/* Loads the first stored checkpoint with size > after into s (ck_size 0 if none). */
static saksi_err
next_ckpt(struct vstate *s, uint64_t after)
{
	saksi_err e;

	free(s->ck_note);
	s->ck_note = NULL;
	s->ck_len = 0;
	s->ck_size = 0;
	e = s->src->src_ckpt_next(s->src->src_ctx, after, &s->ck_size, &s->ck_note, &s->ck_len);
	if (e == SAKSI_ERR_NOT_FOUND) {
		s->ck_size = 0;
		return SAKSI_OK;
	}
	if (e != SAKSI_OK) {
		s->ck_size = 0;
		return fail(s, SAKSI_V_SYSTEM, SAKSI_VERIFY_NO_INDEX, e,
		    "cannot read the checkpoint after size %" PRIu64 ": %s", after,
		    saksi_strerror(e));
	}
	if (s->ck_size <= after) /* the ledger module broke its own contract */
		return fail(s, SAKSI_V_SYSTEM, SAKSI_VERIFY_NO_INDEX, SAKSI_ERR_LEDGER,
		    "checkpoint iteration did not advance past size %" PRIu64, after);
	return SAKSI_OK;
}

/*
 * Opens the current stored checkpoint: log signature, origin, and the size it is filed
 * under. A failure is reported at entry `index`.
 */
static saksi_err
open_ckpt(struct vstate *s, uint64_t index, saksi_checkpoint *c)
{
	const saksi_note_verifier *v = s->o->vo_log;
	uint64_t n = s->ck_size;
	size_t tl;
	saksi_err e;

	e = saksi_note_open(s->ck_note, s->ck_len, v, &tl);
	if (e == SAKSI_ERR_SIGNATURE)
		return fail(s, SAKSI_V_CKPT_SIGNATURE, index, e,
		    "checkpoint at size %" PRIu64 ": not signed by the log key %s", n,
		    v->nv_name);
	if (e != SAKSI_OK)
		return fail(s, SAKSI_V_CKPT_FORMAT, index, e,
		    "checkpoint at size %" PRIu64 ": not a well-formed signed note (%s)", n,
		    saksi_strerror(e));
	e = saksi_checkpoint_open(s->ck_note, s->ck_len, v, c);
	if (e == SAKSI_ERR_KEY)
		return fail(s, SAKSI_V_CKPT_ORIGIN, index, e,
		    "checkpoint at size %" PRIu64 ": its origin is not %s", n, v->nv_name);
	if (e == SAKSI_ERR_SIGNATURE)
		return fail(s, SAKSI_V_CKPT_SIGNATURE, index, e,
		    "checkpoint at size %" PRIu64 ": not signed by the log key %s", n,
		    v->nv_name);
	if (e != SAKSI_OK)
		return fail(s, SAKSI_V_CKPT_FORMAT, index, e,
		    "checkpoint at size %" PRIu64 ": malformed checkpoint body (%s)", n,
		    saksi_strerror(e));
	if (strcmp(c->ck_origin, v->nv_name) != 0)
		return fail(s, SAKSI_V_CKPT_ORIGIN, index, SAKSI_ERR_KEY,
		    "checkpoint at size %" PRIu64 ": its origin is not %s", n, v->nv_name);
	if (c->ck_size != n)
		return fail(s, SAKSI_V_CKPT_SIZE, index, SAKSI_ERR_CORRUPT,
		    "checkpoint stored at size %" PRIu64 " says size %" PRIu64, n, c->ck_size);
	return SAKSI_OK;
}

/* Checks the current stored checkpoint against the root of the first ck_size entries. */
static saksi_err
check_ckpt(struct vstate *s, const saksi_hash root)
{
	uint64_t n = s->ck_size;
	saksi_checkpoint c;
	saksi_err e;

	if ((e = open_ckpt(s, n - 1, &c)) != SAKSI_OK)
		return e;
	if (sodium_memcmp(c.ck_root, root, SAKSI_HASH_LEN) != 0) {
		char want[45], got[45];

		hash_b64(c.ck_root, want);
		hash_b64(root, got);
		return fail(s, SAKSI_V_CKPT_ROOT, n - 1, SAKSI_ERR_PROOF,
		    "checkpoint at size %" PRIu64 ": signed root %s is not the root %s of "
		    "the first %" PRIu64 " entries", n, want, got, n);
	}
	s->r->vr_checkpoints++;
	s->r->vr_latest = n;
	return SAKSI_OK;
}

/* Opens the reviewer's checkpoint before anything else: a bad one makes the run moot. */
static saksi_err
open_reviewer(struct vstate *s)
{
	const saksi_verify_opts *o = s->o;
	size_t tl;
	saksi_err e;

	if (o->vo_reviewer_ckpt == NULL)
		return SAKSI_OK;
	e = saksi_note_open(o->vo_reviewer_ckpt, o->vo_reviewer_ckpt_len, o->vo_log, &tl);
	if (e == SAKSI_ERR_SIGNATURE)
		return fail(s, SAKSI_V_REVIEWER_SIGNATURE, SAKSI_VERIFY_NO_INDEX, e,
		    "your checkpoint is not signed by the log key %s", o->vo_log->nv_name);
	if (e != SAKSI_OK)
		return fail(s, SAKSI_V_REVIEWER_FORMAT, SAKSI_VERIFY_NO_INDEX, e,
		    "your checkpoint is not a well-formed signed note (%s)", saksi_strerror(e));
	e = saksi_checkpoint_open(o->vo_reviewer_ckpt, o->vo_reviewer_ckpt_len, o->vo_log,
	    &s->reviewer);
	if (e == SAKSI_ERR_SIGNATURE)
		return fail(s, SAKSI_V_REVIEWER_SIGNATURE, SAKSI_VERIFY_NO_INDEX, e,
		    "your checkpoint is not signed by the log key %s", o->vo_log->nv_name);
	if (e != SAKSI_OK)
		return fail(s, SAKSI_V_REVIEWER_FORMAT, SAKSI_VERIFY_NO_INDEX, e,
		    "your checkpoint is not a checkpoint of %s (%s)", o->vo_log->nv_name,
		    saksi_strerror(e));
	s->have_reviewer = 1;
	s->r->vr_reviewer_size = s->reviewer.ck_size;
	return SAKSI_OK;
}

static saksi_err
check_reviewer(struct vstate *s, const saksi_hash root)
{
	uint64_t n = s->reviewer.ck_size;

	if (n == 0 && sodium_memcmp(s->reviewer.ck_root, root, SAKSI_HASH_LEN) != 0)
		return fail(s, SAKSI_V_REVIEWER_ROOT, SAKSI_VERIFY_NO_INDEX, SAKSI_ERR_PROOF,
		    "your checkpoint of the empty tree has a root that is not the empty root");
	if (sodium_memcmp(s->reviewer.ck_root, root, SAKSI_HASH_LEN) != 0)
		return fail(s, SAKSI_V_REVIEWER_ROOT, n - 1, SAKSI_ERR_PROOF,
		    "entry %" PRIu64 ": the first %" PRIu64 " entries are not the ones your "
		    "checkpoint signed (history was rewritten or rolled back and re-signed)",
		    n - 1, n);
	s->r->vr_reviewer = 1;
	return SAKSI_OK;
}

/* Names stored hash (level, idx) for a message: the tree node, and for a tile export
 * the file that holds it. */
static void
node_where(const struct vstate *s, unsigned level, uint64_t idx, char *out, size_t len)
{
	char rel[SAKSI_TILES_PATH_MAX] = "";
	uint64_t count = s->r->vr_size >> level, n = idx / SAKSI_TILE_WIDTH;
	unsigned w = n < count / SAKSI_TILE_WIDTH ? 0 : (unsigned)(count % SAKSI_TILE_WIDTH);

	if (s->src->src_node_every == SAKSI_TILE_HEIGHT && level < 64 &&
	    saksi_tiles_path(rel, sizeof(rel), (int)(level / SAKSI_TILE_HEIGHT), n, w) ==
	    SAKSI_OK)
		snprintf(out, len, "%s (level %u, index %" PRIu64 ") in %s",
		    s->src->src_node_what, level, idx, rel);
	else
		snprintf(out, len, "%s (level %u, index %" PRIu64 ")", s->src->src_node_what,
		    level, idx);
}

/*
 * Compares the stored nodes that leaf i completes with hashes recomputed from the compact
 * range before i is pushed: (0, i) is the leaf hash, and for every level L at which i+1 is
 * a multiple of 2^L, (L, (i+1)/2^L - 1) joins the range's L-th smallest subtree with the
 * level L-1 result (the range keeps its subtrees largest first).
 */
static saksi_err
check_nodes(struct vstate *s, uint64_t i, const saksi_hash leaf_hash)
{
	char where[128];
	saksi_hash h, stored;
	unsigned level, top = 0;
	saksi_err e;

	while ((((i + 1) >> top) & 1) == 0)
		top++;
	memcpy(h, leaf_hash, SAKSI_HASH_LEN);
	for (level = 0;; level++) {
		uint64_t idx = ((i + 1) >> level) - 1;

		if (level > 0) {
			/* i's trailing one bits guarantee these left siblings exist. */
			if (level > s->range.mr_count)
				abort();
			saksi_merkle_node_hash(h, s->range.mr_hash[s->range.mr_count - level], h);
		}
		if (level % s->src->src_node_every != 0) {
			if (level == top)
				break;
			continue;
		}
		e = s->src->src_node(s->src->src_ctx, level, idx, stored);
		if (e != SAKSI_OK || sodium_memcmp(stored, h, SAKSI_HASH_LEN) != 0)
			node_where(s, level, idx, where, sizeof(where));
		if (e == SAKSI_ERR_NOT_FOUND)
			return fail(s, SAKSI_V_NODE, i, e, "entry %" PRIu64 ": %s is missing", i,
			    where);
		if (e != SAKSI_OK && is_system(e))
			return fail(s, SAKSI_V_SYSTEM, i, e, "entry %" PRIu64 ": cannot read %s: %s",
			    i, where, saksi_strerror(e));
		if (e != SAKSI_OK)
			return fail(s, SAKSI_V_NODE, i, e, "entry %" PRIu64 ": %s is unreadable (%s)",
			    i, where, saksi_strerror(e));
		if (sodium_memcmp(stored, h, SAKSI_HASH_LEN) != 0) {
			if (level == 0)
				return fail(s, SAKSI_V_NODE, i, SAKSI_ERR_CORRUPT,
				    "entry %" PRIu64 ": %s leaf hash does not match the "
				    "entry's bytes%s%s", i, s->src->src_node_every == 1 ? "stored" :
				    "the level 0 tile's", s->src->src_node_every == 1 ? "" : ": ",
				    s->src->src_node_every == 1 ? "" : where);
			return fail(s, SAKSI_V_NODE, i, SAKSI_ERR_CORRUPT,
			    "entry %" PRIu64 ": %s does not match the entries under it", i, where);
		}
		s->r->vr_nodes++;
		if (level == top)
			break;
	}
	return SAKSI_OK;
}

/*
 * The expensive part of an event's check, safe on any thread: parses leaf and envelope,
 * finds the key and verifies the signature. What fails before the signature is left for
 * check_event to find and report in order.
 */
static void
sign_check(struct item *it)
{
	const saksi_keyring *kr = it->it_kr;
	const saksi_keyring_entry *ke;
	saksi_envelope ev;
	saksi_leaf lf;

	it->it_sig = SAKSI_OK;
	if (it->it_read != SAKSI_OK || saksi_leaf_parse(it->it_buf, it->it_len, &lf) != SAKSI_OK ||
	    lf.lf_kind != SAKSI_LEAF_EVENT ||
	    saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &ev) != SAKSI_OK ||
	    (ke = saksi_keyring_find(kr, ev.ev_key_id)) == NULL ||
	    ke->ke_pub.pk_kind != SAKSI_KEY_SIGN)
		return;
	/* Revocation is deliberately not consulted: it stops new events, not old ones. */
	it->it_sig = saksi_envelope_verify(&ev, ke->ke_pub.pk_key);
	/* The branch check of a ledger keyring parses the payload: here, on the threads. */
	if (it->it_kr_at != SAKSI_VERIFY_NO_INDEX && strcmp(ke->ke_branch, "*") != 0)
		it->it_branch = saksi_payload_branch_is(&ev, ke->ke_branch);
}

static void *
sign_worker(void *arg)
{
	struct sigwork *w = arg;
	size_t i;

	while ((i = atomic_fetch_add(&w->sw_next, 1)) < w->sw_n)
		sign_check(&w->sw_items[i]);
	return NULL;
}

/* Checks the signatures of a batch on up to `threads` threads (the caller's included). */
static void
sign_batch(struct item *items, size_t n, unsigned threads)
{
	pthread_t tid[THREADS_MAX];
	struct sigwork w;
	unsigned t, started = 0;

	w.sw_items = items;
	w.sw_n = n;
	atomic_init(&w.sw_next, 0);
	if (threads > n)
		threads = (unsigned)n;
	/* A thread that cannot be started only makes this slower, never wrong. */
	for (t = 1; t < threads; t++) {
		if (pthread_create(&tid[started], NULL, sign_worker, &w) != 0)
			break;
		started++;
	}
	sign_worker(&w);
	for (t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
}

/*
 * An access entry saksid wrote for a remote query names the requester, not its signer:
 * his signed request, carried in it, must verify with his keyring key and say what the
 * entry says (remoteq.h). Other access entries are their own signer's word.
 */
static saksi_err
check_access(struct vstate *s, uint64_t i, const saksi_envelope *ev, const saksi_keyring *kr)
{
	const char *why = NULL;
	json_t *p;
	saksi_err e;

	if (strcmp(ev->ev_type, "supervisor.access.logged") != 0)
		return SAKSI_OK;
	p = json_loadb((const char *)ev->ev_payload, ev->ev_payload_len, JSON_REJECT_DUPLICATES,
	    NULL);
	if (p == NULL)
		return SAKSI_OK;   /* the payload's schema is ingest's check, not verify's */
	e = saksi_rq_access_check(p, kr, &why);
	json_decref(p);
	if (e == SAKSI_OK || e == SAKSI_ERR_NOT_FOUND)
		return SAKSI_OK;
	if (e == SAKSI_ERR_NOMEM)
		return fail(s, SAKSI_V_SYSTEM, i, e, "entry %" PRIu64 ": out of memory", i);
	return fail(s, SAKSI_V_ACCESS, i, e, "entry %" PRIu64 ": access entry for a remote "
	    "query: %s", i, why != NULL ? why : saksi_strerror(e));
}

/*
 * With the ledger's own keyring in force, what saksid checked at ingest (FORMATS.md 3.2)
 * is checked again: a key revoked before that keyring was recorded, a role that may not
 * sign the type, a payload of another branch. Revocation after the keyring entry is not
 * judged: saksid's clock at ingest is not in the ledger, only the group's commit time.
 */
static saksi_err
check_granted(struct vstate *s, uint64_t i, const saksi_envelope *ev,
              const saksi_keyring_entry *ke, const struct item *it)
{
	char idhex[2 * SAKSI_KEYID_LEN + 1];
	int ok;

	keyid_hex(ev->ev_key_id, idhex);
	if (ke->ke_revoked_ms >= 0 && (uint64_t)ke->ke_revoked_ms <= it->it_kr_ms)
		return fail(s, SAKSI_V_KEYRING, i, SAKSI_ERR_KEY,
		    "entry %" PRIu64 ": producer key %s (%s) was revoked at %lld in the keyring "
		    "recorded at entry %" PRIu64 ", before that entry", i, idhex, ke->ke_name,
		    (long long)ke->ke_revoked_ms, it->it_kr_at);
	if (!saksi_keyring_role_allows(it->it_kr, ke->ke_role, ev->ev_type))
		return fail(s, SAKSI_V_KEYRING, i, SAKSI_ERR_KEY,
		    "entry %" PRIu64 ": producer key %s (%s) has role %s, which may not sign %s, "
		    "in the keyring recorded at entry %" PRIu64, i, idhex, ke->ke_name,
		    ke->ke_role, ev->ev_type, it->it_kr_at);
	if (strcmp(ke->ke_branch, "*") == 0)
		return SAKSI_OK;
	ok = it->it_branch >= 0 ? it->it_branch : saksi_payload_branch_is(ev, ke->ke_branch);
	if (!ok)
		return fail(s, SAKSI_V_KEYRING, i, SAKSI_ERR_KEY,
		    "entry %" PRIu64 ": producer key %s (%s) is for branch %s in the keyring "
		    "recorded at entry %" PRIu64 ", and the payload names another or none", i,
		    idhex, ke->ke_name, ke->ke_branch, it->it_kr_at);
	return SAKSI_OK;
}

static saksi_err
check_event(struct vstate *s, uint64_t i, const saksi_leaf *lf, const struct item *it)
{
	const saksi_keyring_entry *ke;
	saksi_envelope ev;
	char idhex[2 * SAKSI_KEYID_LEN + 1];
	saksi_err e;

	e = saksi_envelope_parse(lf->lf_body, lf->lf_body_len, &ev);
	if (e != SAKSI_OK)
		return fail(s, SAKSI_V_ENVELOPE_FORMAT, i, e,
		    "entry %" PRIu64 ": the event envelope does not parse (%s)", i,
		    saksi_strerror(e));
	keyid_hex(ev.ev_key_id, idhex);
	ke = saksi_keyring_find(it->it_kr, ev.ev_key_id);
	if (ke == NULL && it->it_kr_at != SAKSI_VERIFY_NO_INDEX)
		return fail(s, SAKSI_V_KEYRING, i, SAKSI_ERR_KEY,
		    "entry %" PRIu64 ": producer key %s is not in the keyring recorded at entry %"
		    PRIu64 ", in force then", i, idhex, it->it_kr_at);
	if (ke == NULL)
		return fail(s, SAKSI_V_UNKNOWN_KEY, i, SAKSI_ERR_KEY,
		    "entry %" PRIu64 ": producer key %s is not in the keyring (a keyring copy "
		    "older than the key? ask the operator for the current keyring.json)", i,
		    idhex);
	if (ke->ke_pub.pk_kind != SAKSI_KEY_SIGN)
		return fail(s, SAKSI_V_UNKNOWN_KEY, i, SAKSI_ERR_KEY,
		    "entry %" PRIu64 ": keyring key %s (%s) is not a signing key", i, idhex,
		    ke->ke_name);
	if (it->it_sig != SAKSI_OK)
		return fail(s, SAKSI_V_SIGNATURE, i, it->it_sig,
		    "entry %" PRIu64 ": producer signature by %s (%s, seq %" PRIu64
		    ") does not verify", i, ke->ke_name, idhex, ev.ev_seq);
	if (it->it_kr_at != SAKSI_VERIFY_NO_INDEX && (e = check_granted(s, i, &ev, ke, it)) !=
	    SAKSI_OK)
		return e;
	if ((e = check_access(s, i, &ev, it->it_kr)) != SAKSI_OK)
		return e;
	if (ke->ke_revoked_ms >= 0)
		s->r->vr_revoked++;
	s->r->vr_events++;
	return SAKSI_OK;
}

static saksi_err
check_leaf(struct vstate *s, uint64_t i, const struct item *it)
{
	const uint8_t *buf = it->it_buf;
	size_t len = it->it_len;
	saksi_leaf lf;
	saksi_hash leaf_hash, before;
	saksi_err e = it->it_read;

	if (e == SAKSI_ERR_NOT_FOUND && s->src->src_ckpt_first)
		return fail(s, SAKSI_V_LEAF_MISSING, i, e,
		    "entry %" PRIu64 ": missing from the export of %" PRIu64 " entries (its "
		    "entry bundle is absent or holds fewer entries)", i, s->r->vr_size);
	if (e == SAKSI_ERR_NOT_FOUND)
		return fail(s, SAKSI_V_LEAF_MISSING, i, e,
		    "entry %" PRIu64 ": missing from a ledger of %" PRIu64 " entries", i,
		    s->r->vr_size);
	if (e != SAKSI_OK && is_system(e))
		return fail(s, SAKSI_V_SYSTEM, i, e, "entry %" PRIu64 ": cannot be read: %s", i,
		    saksi_strerror(e));
	if (e != SAKSI_OK && s->src->src_ckpt_first)
		return fail(s, SAKSI_V_LEAF_STORAGE, i, e,
		    "entry %" PRIu64 ": its entry bundle's bytes do not split into entries "
		    "there (%s)", i, saksi_strerror(e));
	if (e != SAKSI_OK)
		return fail(s, SAKSI_V_LEAF_STORAGE, i, e,
		    "entry %" PRIu64 ": stored bytes cannot be decoded (%s)", i,
		    saksi_strerror(e));

	e = saksi_leaf_parse(buf, len, &lf);
	if (e != SAKSI_OK)
		return fail(s, SAKSI_V_LEAF_FORMAT, i, e,
		    "entry %" PRIu64 ": not a valid leaf (%s)", i, saksi_strerror(e));
	saksi_merkle_leaf_hash(leaf_hash, buf, len);
	if (saksi_merkle_range_root(&s->range, before) != SAKSI_OK)
		abort(); /* the range is ours alone; a damaged one is a bug here */
	if (sodium_memcmp(lf.lf_prev_root, before, SAKSI_HASH_LEN) != 0)
		return fail(s, SAKSI_V_PREV_ROOT, i, SAKSI_ERR_PROOF,
		    "entry %" PRIu64 ": prev_root does not match the root of the %" PRIu64
		    " entries before it", i, i);
	if (i == s->kr_bad_at && lf.lf_kind != SAKSI_LEAF_KEYRING)
		return fail(s, SAKSI_V_KEYRING, i, SAKSI_ERR_FORMAT, "entry %" PRIu64 ": %s", i,
		    s->kr_bad_why);
	if (lf.lf_kind == SAKSI_LEAF_EVENT) {
		if ((e = check_event(s, i, &lf, it)) != SAKSI_OK)
			return e;
	} else if (lf.lf_kind == SAKSI_LEAF_REFUSALS) {
		e = saksi_refusals_parse(lf.lf_body, lf.lf_body_len, NULL);
		if (e != SAKSI_OK)
			return fail(s, SAKSI_V_REFUSALS_FORMAT, i, e,
			    "entry %" PRIu64 ": the refusal summary does not parse", i);
		s->r->vr_refusals++;
	} else if (lf.lf_kind == SAKSI_LEAF_ALERT) {
		saksi_alert a;
		e = saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &a);
		if (e != SAKSI_OK)
			return fail(s, SAKSI_V_ALERT_FORMAT, i, e,
			    "entry %" PRIu64 ": the alert does not parse", i);
		/* An alert is raised by events already in the ledger, never by later ones. */
		if (a.al_trigger >= i ||
		    (a.al_nevidence > 0 && a.al_evidence[a.al_nevidence - 1] >= i))
			return fail(s, SAKSI_V_ALERT_FORMAT, i, SAKSI_ERR_FORMAT,
			    "entry %" PRIu64 ": the alert names an entry at or after itself", i);
		if (a.al_kind == SAKSI_ALERT_RERAISE && (e = check_reraise(s, i, &a)) != SAKSI_OK)
			return e;
		s->r->vr_alerts++;
	} else if (lf.lf_kind == SAKSI_LEAF_KEYRING) {
		if (i == s->kr_bad_at)
			return fail(s, SAKSI_V_KEYRING, i, SAKSI_ERR_FORMAT, "entry %" PRIu64
			    ": %s", i, s->kr_bad_why);
		if (it->it_kr_part && it->it_kr_new == NULL) {
			/* A part before its set's last: counted with the set. */
		} else if (it->it_kr_new == NULL) {
			char why[256] = "";
			e = saksi_keylog_parse(lf.lf_body, lf.lf_body_len, NULL, why, sizeof(why));
			if (e == SAKSI_ERR_NOMEM)
				return fail(s, SAKSI_V_SYSTEM, i, e, "entry %" PRIu64 ": out of memory",
				    i);
			return fail(s, SAKSI_V_KEYRING, i, e != SAKSI_OK ? e : SAKSI_ERR_FORMAT,
			    "entry %" PRIu64 ": the keyring entry does not parse (%s)", i,
			    why[0] != '\0' ? why : saksi_strerror(e));
		}
		if (it->it_kr_new != NULL) {
			/* A set is named by its first part (saksid's `keylog` too). */
			uint64_t at = it->it_kr_part ? it->it_kr_at_new : i;
			if (s->r->vr_keyrings == 0)
				s->r->vr_keyring_first = at;
			s->r->vr_keyring_last = at;
			s->r->vr_keyrings++;
		}
	} else
		return fail(s, SAKSI_V_LEAF_FORMAT, i, SAKSI_ERR_FORMAT,
		    "entry %" PRIu64 ": unknown leaf kind %d", i, lf.lf_kind);
	if ((e = check_nodes(s, i, leaf_hash)) != SAKSI_OK)
		return e;
	if (saksi_merkle_range_push(&s->range, leaf_hash) != SAKSI_OK)
		abort(); /* i < 2^64 - 1 and the range is ours alone */
	s->r->vr_checked = i + 1;
	return SAKSI_OK;
}

/*
 * Reads entries [first, first + count) ahead, up to BATCH_MAX and BATCH_BYTES; a read
 * error ends the batch at that entry. Returns how many items were filled.
 */
static size_t
read_batch(struct vstate *s, uint64_t first, uint64_t count, struct item *items)
{
	size_t k, bytes = 0;

	for (k = 0; k < BATCH_MAX && k < count && bytes < BATCH_BYTES; k++) {
		struct item *it = &items[k];

		it->it_buf = NULL;
		it->it_len = 0;
		it->it_sig = SAKSI_OK;
		it->it_read = s->src->src_leaf(s->src->src_ctx, first + k, &it->it_buf, &it->it_len);
		if (it->it_read != SAKSI_OK)
			return k + 1;
		bytes += it->it_len;
	}
	return k;
}

static void
free_batch(struct item *items, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++) {
		free(items[k].it_buf);
		items[k].it_buf = NULL;
	}
}

static saksi_err
check_origin(struct vstate *s)
{
	char *origin = NULL;
	saksi_err e;

	if (s->src->src_origin == NULL)
		return SAKSI_OK;
	e = s->src->src_origin(s->src->src_ctx, &origin);
	if (e == SAKSI_ERR_NOT_FOUND)
		return fail(s, SAKSI_V_ORIGIN, SAKSI_VERIFY_NO_INDEX, e,
		    "the ledger records no origin; is this a saksi ledger?");
	if (e != SAKSI_OK)
		return fail(s, SAKSI_V_SYSTEM, SAKSI_VERIFY_NO_INDEX, e,
		    "cannot read the ledger's origin: %s", saksi_strerror(e));
	if (strcmp(origin, s->o->vo_log->nv_name) != 0) {
		e = fail(s, SAKSI_V_ORIGIN, SAKSI_VERIFY_NO_INDEX, SAKSI_ERR_KEY,
		    "the ledger's origin is \"%.200s\" but the verifier key is for \"%.200s\"",
		    origin, s->o->vo_log->nv_name);
		free(origin);
		return e;
	}
	free(origin);
	return SAKSI_OK;
}

/* What follows entry i: the checkpoints and the reviewer's checkpoint of size i + 1. */
static saksi_err
after_leaf(struct vstate *s, uint64_t i, uint64_t n, uint64_t every)
{
	const saksi_verify_opts *o = s->o;
	saksi_hash root;
	saksi_err e;

	if (s->ck_size == i + 1 || (s->have_reviewer && s->reviewer.ck_size == i + 1))
		if (saksi_merkle_range_root(&s->range, root) != SAKSI_OK)
			abort();
	if (s->ck_size == i + 1) {
		if ((e = check_ckpt(s, root)) != SAKSI_OK)
			return e;
		if ((e = next_ckpt(s, i + 1)) != SAKSI_OK)
			return e;
	}
	if (s->have_reviewer && s->reviewer.ck_size == i + 1 &&
	    (e = check_reviewer(s, root)) != SAKSI_OK)
		return e;
	if (o->vo_progress != NULL && (i + 1) % every == 0 && i + 1 != n)
		o->vo_progress(o->vo_progress_ctx, i + 1, n);
	return SAKSI_OK;
}


static void
set_clear(struct vstate *s)
{
	size_t k;

	for (k = 0; k < s->set_n; k++)
		free(s->set_body[k]);
	s->set_n = 0;
	s->set_count = 0;
}

/* Records the first broken keyring set (reported when check_leaf reaches index), and
 * drops the set being read. */
static void set_broken(struct vstate *s, uint64_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_broken(struct vstate *s, uint64_t index, const char *fmt, ...)
{
	va_list ap;

	if (s->kr_bad_at == SAKSI_VERIFY_NO_INDEX) {
		s->kr_bad_at = index;
		va_start(ap, fmt);
		vsnprintf(s->kr_bad_why, sizeof(s->kr_bad_why), fmt, ap);
		va_end(ap);
	}
	set_clear(s);
}

/*
 * One version 2 part (FORMATS.md 4, kind 4): parts 1..n consecutive, one commit time;
 * at part n the set is joined and becomes the keyring in force from the next entry.
 */
static saksi_err
set_part(struct vstate *s, uint64_t batch, uint64_t index, struct item *it,
         const saksi_leaf *lf)
{
	char why[200] = "";
	unsigned ix, cnt;
	size_t bad;
	uint8_t *copy;
	saksi_err e;

	if ((e = saksi_keylog_part_hdr(lf->lf_body, lf->lf_body_len, &ix, &cnt, why,
	    sizeof(why))) != SAKSI_OK) {
		set_broken(s, index, "the keyring part does not parse (%.150s)", why);
		return SAKSI_OK;
	}
	if (s->set_n > 0 && (ix != s->set_n + 1 || cnt != s->set_count ||
	    lf->lf_commit_ms != s->set_ms)) {
		set_broken(s, index, "keyring part %u of %u where part %zu of %zu of the set "
		    "begun at entry %" PRIu64 " belongs%s", ix, cnt, s->set_n + 1, s->set_count,
		    s->set_first, lf->lf_commit_ms != s->set_ms ? " (another commit time)" : "");
		return SAKSI_OK;
	}
	if (s->set_n == 0 && ix != 1) {
		set_broken(s, index, "keyring part %u of %u without the parts before it", ix,
		    cnt);
		return SAKSI_OK;
	}
	if (s->set_n == 0) {
		uint8_t **nb = realloc(s->set_body, cnt * sizeof(*nb));
		size_t *nl;

		if (nb != NULL)
			s->set_body = nb;
		if (nb == NULL || (nl = realloc(s->set_len, cnt * sizeof(*nl))) == NULL)
			return fail(s, SAKSI_V_SYSTEM, SAKSI_VERIFY_NO_INDEX, SAKSI_ERR_NOMEM,
			    "out of memory");
		s->set_len = nl;
		s->set_count = cnt;
		s->set_first = index;
		s->set_ms = lf->lf_commit_ms;
	}
	if ((copy = malloc(lf->lf_body_len)) == NULL)
		return fail(s, SAKSI_V_SYSTEM, SAKSI_VERIFY_NO_INDEX, SAKSI_ERR_NOMEM,
		    "out of memory");
	memcpy(copy, lf->lf_body, lf->lf_body_len);
	s->set_body[s->set_n] = copy;
	s->set_len[s->set_n++] = lf->lf_body_len;
	it->it_kr_part = 1;
	if (s->set_n < s->set_count)
		return SAKSI_OK;
	e = saksi_keylog_join((const uint8_t *const *)s->set_body, s->set_len, s->set_n,
	    &it->it_kr_new, NULL, NULL, &bad, why, sizeof(why));
	if (e == SAKSI_ERR_NOMEM)
		return fail(s, SAKSI_V_SYSTEM, SAKSI_VERIFY_NO_INDEX, e, "out of memory");
	if (e != SAKSI_OK) {
		/* Named at the part at fault, unless check_leaf passed it in an earlier
		 * batch: then at this last part. */
		uint64_t at = s->set_first + bad < batch ? index : s->set_first + bad;
		s->kr_bad_at = SAKSI_VERIFY_NO_INDEX == s->kr_bad_at ? at : s->kr_bad_at;
		if (s->kr_bad_at == at)
			snprintf(s->kr_bad_why, sizeof(s->kr_bad_why), "the keyring set begun at "
			    "entry %" PRIu64 " does not join (%.150s)", s->set_first, why);
		set_clear(s);
		return SAKSI_OK;
	}
	it->it_kr_at_new = s->set_first;
	s->krs[s->nkrs++] = it->it_kr_new;
	s->kr_now = it->it_kr_new;
	s->kr_at = s->set_first;
	s->kr_ms = s->set_ms;
	set_clear(s);
	return SAKSI_OK;
}

/*
 * Gives each entry read ahead the keyring in force at it, in ledger order: a keyring
 * entry is in force from the entry after it. One that does not parse is left for
 * check_leaf to report in order; the entries after it are never checked.
 */
static saksi_err
keyrings_ahead(struct vstate *s, uint64_t first, struct item *items, size_t m)
{
	saksi_leaf lf;
	size_t k;
	saksi_err e;

	for (k = 0; k < m; k++) {
		struct item *it = &items[k];

		it->it_kr = s->kr_now;
		it->it_kr_at = s->kr_at;
		it->it_kr_ms = s->kr_ms;
		it->it_kr_new = NULL;
		it->it_branch = -1;
		it->it_kr_part = 0;
		if (it->it_read != SAKSI_OK ||
		    saksi_leaf_parse(it->it_buf, it->it_len, &lf) != SAKSI_OK)
			continue;
		if (lf.lf_kind != SAKSI_LEAF_KEYRING) {
			if (s->set_n > 0)
				set_broken(s, first + k, "the keyring set begun at entry %" PRIu64
				    " is incomplete: %zu of its %zu parts, then this entry",
				    s->set_first, s->set_n, s->set_count);
			continue;
		}
		if (s->nkrs == s->krs_cap) {
			size_t cap = s->krs_cap ? 2 * s->krs_cap : 8;
			saksi_keyring **n = realloc(s->krs, cap * sizeof(*n));
			if (n == NULL)
				return fail(s, SAKSI_V_SYSTEM, SAKSI_VERIFY_NO_INDEX, SAKSI_ERR_NOMEM,
				    "out of memory");
			s->krs = n;
			s->krs_cap = cap;
		}
		if (lf.lf_body_len > 0 && lf.lf_body[0] == SAKSI_KEYLOG_VERSION_PART) {
			if ((e = set_part(s, first, first + k, it, &lf)) != SAKSI_OK)
				return e;
			continue;
		}
		if (s->set_n > 0)
			set_broken(s, first + k, "a keyring entry within the keyring set begun "
			    "at entry %" PRIu64 " (%zu of %zu parts)", s->set_first, s->set_n,
			    s->set_count);
		e = saksi_keylog_parse(lf.lf_body, lf.lf_body_len, &it->it_kr_new, NULL, 0);
		if (e == SAKSI_ERR_NOMEM)
			return fail(s, SAKSI_V_SYSTEM, SAKSI_VERIFY_NO_INDEX, e, "out of memory");
		if (e != SAKSI_OK)
			continue;   /* check_leaf reports it; nothing after it is checked */
		s->krs[s->nkrs++] = it->it_kr_new;
		s->kr_now = it->it_kr_new;
		s->kr_at = first + k;
		s->kr_ms = lf.lf_commit_ms;
	}
	return SAKSI_OK;
}

/*
 * A source whose tree size is its checkpoint's: that checkpoint must verify before its
 * size is used for anything, and one of the empty tree must have the empty root.
 */
static saksi_err
first_ckpt(struct vstate *s)
{
	saksi_checkpoint c;
	saksi_hash empty;
	saksi_err e;

	e = s->src->src_ckpt_next(s->src->src_ctx, CKPT_LATEST, &s->ck_size, &s->ck_note,
	    &s->ck_len);
	if (e != SAKSI_OK)
		return fail(s, SAKSI_V_SYSTEM, SAKSI_VERIFY_NO_INDEX, e,
		    "cannot read the checkpoint: %s", saksi_strerror(e));
	e = open_ckpt(s, s->ck_size > 0 ? s->ck_size - 1 : SAKSI_VERIFY_NO_INDEX, &c);
	if (e == SAKSI_OK && s->ck_size == 0) {
		saksi_merkle_empty_root(empty);
		if (sodium_memcmp(c.ck_root, empty, SAKSI_HASH_LEN) != 0)
			e = fail(s, SAKSI_V_CKPT_ROOT, SAKSI_VERIFY_NO_INDEX, SAKSI_ERR_PROOF,
			    "checkpoint at size 0: its root is not the root of the empty tree");
		else
			s->r->vr_checkpoints++;
	}
	free(s->ck_note);
	s->ck_note = NULL;
	s->ck_len = 0;
	s->ck_size = 0;
	return e;
}

static saksi_err
scan(struct vstate *s)
{
	const saksi_verify_opts *o = s->o;
	saksi_verify_report *r = s->r;
	uint64_t every = o->vo_progress_every ? o->vo_progress_every : PROGRESS_EVERY;
	uint64_t i, n;
	uint8_t *extra = NULL;
	size_t extra_len;
	saksi_hash root;
	saksi_err e;

	if ((e = check_origin(s)) != SAKSI_OK)
		return e;
	if ((e = open_reviewer(s)) != SAKSI_OK)
		return e;
	n = r->vr_size = s->src->src_size;
	if (s->src->src_ckpt_first && (e = first_ckpt(s)) != SAKSI_OK)
		return e;
	if ((e = next_ckpt(s, 0)) != SAKSI_OK)
		return e;
	if (s->have_reviewer && s->reviewer.ck_size == 0) {
		/* A checkpoint of the empty tree: its root must be the empty root. */
		saksi_merkle_empty_root(root);
		if ((e = check_reviewer(s, root)) != SAKSI_OK)
			return e;
	}

	for (i = 0; i < n;) {
		size_t m = read_batch(s, i, n - i, s->items), k;

		if ((e = keyrings_ahead(s, i, s->items, m)) != SAKSI_OK) {
			free_batch(s->items, m);
			return e;
		}
		sign_batch(s->items, m, s->threads);
		for (k = 0; k < m; k++, i++) {
			e = check_leaf(s, i, &s->items[k]);
			if (e == SAKSI_OK)
				e = after_leaf(s, i, n, every);
			if (e != SAKSI_OK) {
				free_batch(s->items, m);
				return e;
			}
		}
		free_batch(s->items, m);
	}
	if (s->set_n > 0)
		return fail(s, SAKSI_V_KEYRING, s->set_first + s->set_n - 1, SAKSI_ERR_FORMAT,
		    "entry %" PRIu64 ": the keyring set begun at entry %" PRIu64 " is incomplete: "
		    "%zu of its %zu parts, then the end of the ledger", s->set_first + s->set_n - 1,
		    s->set_first, s->set_n, s->set_count);
	/* A leaf stored past the tree size means the size itself cannot be trusted. */
	e = s->src->src_leaf(s->src->src_ctx, n, &extra, &extra_len);
	free(extra);
	if (e == SAKSI_OK && s->src->src_ckpt_first)
		return fail(s, SAKSI_V_EXTRA_LEAF, n, SAKSI_ERR_CORRUPT,
		    "entry %" PRIu64 ": in the last entry bundle, beyond the checkpoint's size %"
		    PRIu64, n, n);
	if (e == SAKSI_OK)
		return fail(s, SAKSI_V_EXTRA_LEAF, n, SAKSI_ERR_CORRUPT,
		    "entry %" PRIu64 ": stored beyond the tree size %" PRIu64
		    " (an earlier entry was removed)", n, n);
	if (e != SAKSI_ERR_NOT_FOUND && is_system(e))
		return fail(s, SAKSI_V_SYSTEM, n, e, "cannot read past the end: %s",
		    saksi_strerror(e));
	if (e != SAKSI_ERR_NOT_FOUND)
		return fail(s, SAKSI_V_EXTRA_LEAF, n, e,
		    "entry %" PRIu64 ": undecodable data stored beyond the tree size", n);

	if (s->ck_size > n) {
		saksi_checkpoint c;

		/* Only a checkpoint the log really signed proves that entries were lost. */
		if ((e = open_ckpt(s, n, &c)) != SAKSI_OK)
			return e;
		return fail(s, SAKSI_V_TRUNCATED, n, SAKSI_ERR_CORRUPT,
		    "entry %" PRIu64 ": missing, but the log signed a checkpoint of %" PRIu64
		    " entries and the ledger has only %" PRIu64 " (entries were removed)", n,
		    s->ck_size, n);
	}
	if (s->have_reviewer && s->reviewer.ck_size > n)
		return fail(s, SAKSI_V_TRUNCATED, n, SAKSI_ERR_CORRUPT,
		    "entry %" PRIu64 ": missing, but your checkpoint covers %" PRIu64
		    " entries and the ledger has only %" PRIu64
		    " (truncated or rolled back, or a copy taken before your checkpoint: "
		    "verify one taken after it)", n, s->reviewer.ck_size, n);
	if (r->vr_latest < n)
		return fail(s, SAKSI_V_UNSIGNED, r->vr_latest, SAKSI_ERR_CORRUPT,
		    r->vr_latest == 0 ?
		    "entry %" PRIu64 ": no signed checkpoint covers it or the %" PRIu64
		    " entries after it" :
		    "entry %" PRIu64 ": not covered by the latest signed checkpoint, nor are "
		    "the %" PRIu64 " entries after it", r->vr_latest, n - r->vr_latest - 1);
	if (o->vo_progress != NULL)
		o->vo_progress(o->vo_progress_ctx, n, n);
	return SAKSI_OK;
}

/* Checks the options every entry point takes; fills r for a refusal. */
static int
opts_ok(const saksi_verify_opts *opts, saksi_verify_report *r)
{
	memset(r, 0, sizeof(*r));
	r->vr_index = SAKSI_VERIFY_NO_INDEX;
	if (opts == NULL || opts->vo_log == NULL || opts->vo_keyring == NULL ||
	    (opts->vo_reviewer_ckpt == NULL && opts->vo_reviewer_ckpt_len != 0)) {
		r->vr_reason = SAKSI_V_SYSTEM;
		r->vr_err = SAKSI_ERR_INVAL;
		snprintf(r->vr_message, sizeof(r->vr_message), "invalid verification options");
		return 0;
	}
	return 1;
}

/* The arguments of an entry point: r given, the options, then the source (the ledger
 * or the tiles' directory); r filled for a refusal. */
static int
args_ok(const saksi_verify_opts *opts, const void *source, saksi_verify_report *r)
{
	if (r == NULL || !opts_ok(opts, r))
		return 0;
	if (source == NULL) {
		opts_ok(NULL, r);
		return 0;
	}
	return 1;
}

/* A failure before any state exists (the source cannot be opened). */
static saksi_err
fail_early(saksi_verify_report *r, saksi_err err, const char *msg)
{
	struct vstate s;

	memset(&s, 0, sizeof(s));
	s.r = r;
	return fail(&s, SAKSI_V_SYSTEM, SAKSI_VERIFY_NO_INDEX, err, "%s", msg);
}

/* One verification of whatever src reads; opts already checked. */
static saksi_err
run(const struct source *src, const saksi_verify_opts *opts, saksi_verify_report *r)
{
	struct vstate s;
	saksi_err e;

	memset(&s, 0, sizeof(s));
	s.o = opts;
	s.r = r;
	s.src = src;
	s.threads = opts->vo_threads == 0 ? 1 :
	    opts->vo_threads > THREADS_MAX ? THREADS_MAX : opts->vo_threads;
	saksi_merkle_range_init(&s.range);
	s.kr_now = opts->vo_keyring;
	s.kr_at = SAKSI_VERIFY_NO_INDEX;
	s.kr_bad_at = SAKSI_VERIFY_NO_INDEX;
	r->vr_keyring_first = r->vr_keyring_last = SAKSI_VERIFY_NO_INDEX;
	if ((s.items = calloc(BATCH_MAX, sizeof(*s.items))) == NULL)
		return fail(&s, SAKSI_V_SYSTEM, SAKSI_VERIFY_NO_INDEX, SAKSI_ERR_NOMEM,
		    "out of memory");
	e = scan(&s);
	/* Also after a failure: the root of the entries that did verify. */
	if (saksi_merkle_range_root(&s.range, r->vr_root) != SAKSI_OK)
		abort();
	free(s.ck_note);
	free(s.items);
	for (size_t k = 0; k < s.nkrs; k++)
		saksi_keyring_free(s.krs[k]);
	free(s.krs);
	set_clear(&s);
	free(s.set_body);
	free(s.set_len);
	if (e == SAKSI_OK)
		r->vr_reason = SAKSI_V_OK;
	return e;
}

/* The ledger as a source: its read transaction. */
static saksi_err
ledger_origin(void *ctx, char **origin)
{
	return saksi_ledger_meta(ctx, "origin", origin);
}

static saksi_err
ledger_leaf(void *ctx, uint64_t index, uint8_t **leaf, size_t *len)
{
	return saksi_ledger_leaf(ctx, index, leaf, len);
}

static saksi_err
ledger_node(void *ctx, unsigned level, uint64_t index, saksi_hash out)
{
	return saksi_ledger_node(ctx, level, index, out);
}

static saksi_err
ledger_ckpt_next(void *ctx, uint64_t after, uint64_t *size, char **note, size_t *len)
{
	return saksi_ledger_ckpt_next(ctx, after, size, note, len);
}

saksi_err
saksi_verify_ledger(saksi_ledger *l, const saksi_verify_opts *opts, saksi_verify_report *r)
{
	saksi_ledger_txn *txn;
	struct source src;
	saksi_err e;

	if (!args_ok(opts, l, r))
		return SAKSI_ERR_INVAL;
	e = saksi_ledger_begin(l, 0, &txn);
	if (e != SAKSI_OK) {
		char msg[200];

		snprintf(msg, sizeof(msg), "cannot begin a read transaction: %s",
		    saksi_strerror(e));
		return fail_early(r, e, msg);
	}
	memset(&src, 0, sizeof(src));
	src.src_ctx = txn;
	src.src_size = saksi_ledger_size(txn);
	src.src_node_every = 1;
	src.src_node_what = "stored tree node";
	src.src_origin = ledger_origin;
	src.src_leaf = ledger_leaf;
	src.src_node = ledger_node;
	src.src_ckpt_next = ledger_ckpt_next;
	e = run(&src, opts, r);
	saksi_ledger_abort(txn);
	return e;
}

/* A tile export as a source: the tree of its one checkpoint. */
struct tsrc {
	saksi_tiles *ts_t;
	uint64_t ts_size;
};

static saksi_err
tiles_leaf(void *ctx, uint64_t index, uint8_t **leaf, size_t *len)
{
	struct tsrc *t = ctx;

	return saksi_tiles_leaf(t->ts_t, t->ts_size, index, leaf, len);
}

static saksi_err
tiles_node(void *ctx, unsigned level, uint64_t index, saksi_hash out)
{
	struct tsrc *t = ctx;

	return saksi_tiles_hash(t->ts_t, t->ts_size, level, index, out);
}

static saksi_err
tiles_ckpt(void *ctx, uint64_t after, uint64_t *size, char **note, size_t *len)
{
	struct tsrc *t = ctx;
	const char *ck;
	size_t cl;

	if (after != CKPT_LATEST && after >= t->ts_size)
		return SAKSI_ERR_NOT_FOUND;
	ck = saksi_tiles_checkpoint(t->ts_t, &cl);
	if ((*note = malloc(cl + 1)) == NULL)
		return SAKSI_ERR_NOMEM;
	memcpy(*note, ck, cl + 1);
	*len = cl;
	*size = t->ts_size;
	return SAKSI_OK;
}

saksi_err
saksi_verify_tiles(const char *dir, const saksi_verify_opts *opts, saksi_verify_report *r)
{
	saksi_checkpoint c;
	struct source src;
	struct tsrc t;
	const char *ck, *sep;
	size_t cl;
	saksi_err e;

	if (!args_ok(opts, dir, r))
		return SAKSI_ERR_INVAL;
	e = saksi_tiles_open(dir, &t.ts_t);
	if (e != SAKSI_OK) {
		char msg[400];

		if (e == SAKSI_ERR_NOT_FOUND)
			snprintf(msg, sizeof(msg), "%.300s holds no file named checkpoint: is it a "
			    "tile export (saksi export-tiles)?", dir);
		else
			snprintf(msg, sizeof(msg), "cannot read the checkpoint of the tile export "
			    "%.300s: %s", dir, saksi_strerror(e));
		return fail_early(r, e, msg);
	}
	/*
	 * The tree is the one the checkpoint names. Its size is read here unverified, only
	 * to know which tiles to read: scan opens the checkpoint with the log key before
	 * anything else (src_ckpt_first) and stops if it does not verify.
	 */
	ck = saksi_tiles_checkpoint(t.ts_t, &cl);
	t.ts_size = 0;
	if ((sep = strstr(ck, "\n\n")) != NULL &&
	    saksi_checkpoint_parse(ck, (size_t)(sep - ck) + 1, &c) == SAKSI_OK)
		t.ts_size = c.ck_size;
	memset(&src, 0, sizeof(src));
	src.src_ctx = &t;
	src.src_size = t.ts_size;
	src.src_node_every = SAKSI_TILE_HEIGHT;
	src.src_node_what = "tile hash";
	src.src_ckpt_first = 1;
	src.src_leaf = tiles_leaf;
	src.src_node = tiles_node;
	src.src_ckpt_next = tiles_ckpt;
	e = run(&src, opts, r);
	saksi_tiles_close(t.ts_t);
	return e;
}
