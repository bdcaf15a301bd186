/*
 * verify_test.c: builds real ledgers (real LMDB, real keys, real signatures) through the
 * ledger, envelope and note modules, tampers with them by writing LMDB directly, and
 * checks that verification fails at the right entry for the right reason.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>
#include <sodium.h>

#include "bytes.h"
#include "envelope.h"
#include "keys.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"
#include "verify.h"
#include "../tests/ledger_fixture.h"
#include "../tests/testutil.h"

#define ORIGIN "test.saksi.example/ledger"
#define BRANCH "KC-TEST"
#define T0 1718000000000ull

/* Keys shared by all tests: two producers, the log key and a stranger's key. */
struct keys {
	saksi_seckey *log;
	saksi_seckey *other_log;
	saksi_seckey *prod[2];
	saksi_note_verifier v;
	char vkey[SAKSI_VKEY_MAX + 1];
};

/* How a test ledger is built. Entry i is a refusal summary when refusal_every divides
 * i + 1, else an event by producer i % 2; a checkpoint is signed after every group of
 * `group` entries, up to size `sign_upto`. From entry `variant_from` on, payloads carry
 * `variant`, to build a different history under the same keys. */
struct build {
	uint64_t n;
	unsigned group;
	unsigned refusal_every;
	uint64_t sign_upto;
	uint64_t variant_from;
	int variant;
	unsigned alert_every;   /* entry i is an alert when this divides i + 1 (0: never) */
};

struct fx {
	struct keys *k;
	char dir[64];
};

static int
group_setup(void **state)
{
	struct keys *k = calloc(1, sizeof(*k));

	assert_non_null(k);
	lf_log_keys(ORIGIN, &k->log, &k->other_log, k->vkey, &k->v);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &k->prod[0]), SAKSI_OK);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &k->prod[1]), SAKSI_OK);
	*state = k;
	return 0;
}

static int
group_teardown(void **state)
{
	struct keys *k = *state;

	saksi_seckey_free(k->log);
	saksi_seckey_free(k->other_log);
	saksi_seckey_free(k->prod[0]);
	saksi_seckey_free(k->prod[1]);
	free(k);
	return 0;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->k = *state;
	assert_int_equal(tmpdir_make(f->dir, sizeof(f->dir), "saksi-verify"), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	snprintf(p, sizeof(p), "%s/copy", f->dir);
	rm_rf(p);
	rm_rf(f->dir);
	*state = f->k;
	free(f);
	return 0;
}

/* A keyring with both producers; revoked_ms for producer 0 if >= 0; producer 1 left out
 * if only_first. */
static saksi_keyring *
make_keyring(struct keys *k, int only_first, int64_t revoked0)
{
	char json[4096], b64[2][128], id[2][17], rev[32];
	saksi_keyring *kr = NULL;
	char err[256] = "";
	int i;

	for (i = 0; i < 2; i++) {
		saksi_pubkey pub;

		assert_int_equal(saksi_seckey_public(k->prod[i], &pub), SAKSI_OK);
		assert_int_equal(saksi_pubkey_encode(&pub, b64[i], sizeof(b64[i])), SAKSI_OK);
		sodium_bin2hex(id[i], sizeof(id[i]), pub.pk_id, SAKSI_KEYID_LEN);
	}
	if (revoked0 >= 0)
		snprintf(rev, sizeof(rev), "%" PRId64, revoked0);
	else
		snprintf(rev, sizeof(rev), "null");
	snprintf(json, sizeof(json),
	    "{\"saksi_keyring\": 1, \"roles\": {\"queue\": [\"queue.*\"]}, \"keys\": ["
	    "{\"name\": \"kiosk-1\", \"key_id\": \"%s\", \"public_key\": \"%s\", "
	    "\"role\": \"queue\", \"branch\": \"%s\", \"revoked_ms\": %s}"
	    "%s%s%s%s%s%s]}",
	    id[0], b64[0], BRANCH, rev,
	    only_first ? "" : ", {\"name\": \"kiosk-2\", \"key_id\": \"",
	    only_first ? "" : id[1],
	    only_first ? "" : "\", \"public_key\": \"",
	    only_first ? "" : b64[1],
	    only_first ? "" : "\", \"role\": \"queue\", \"branch\": \"" BRANCH,
	    only_first ? "" : "\", \"revoked_ms\": null}");
	if (saksi_keyring_parse(json, strlen(json), &kr, err, sizeof(err)) != SAKSI_OK)
		fail_msg("keyring: %s\n%s", err, json);
	return kr;
}

static void
append_event(saksi_ledger_txn *txn, struct keys *k, uint64_t i, int variant,
             uint64_t seq, uint64_t commit_ms)
{
	uint8_t env[1024];
	char payload[256];
	size_t el;
	int pl;

	pl = snprintf(payload, sizeof(payload),
	    "{\"branch\":\"%s\",\"entry\":%" PRIu64 ",\"variant\":%d}", BRANCH, i, variant);
	assert_int_equal(saksi_envelope_sign(k->prod[i % 2], seq, T0 + i,
	    "queue.booking.created", (const uint8_t *)payload, (size_t)pl, env, sizeof(env),
	    &el), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_EVENT, commit_ms, env, el, NULL,
	    NULL), SAKSI_OK);
}

static void
append_refusals(saksi_ledger_txn *txn, struct keys *k, uint64_t commit_ms)
{
	uint8_t body[2 + 29];

	saksi_put_u16(body, 1);
	memcpy(body + 2, saksi_seckey_id(k->prod[0]), SAKSI_KEYID_LEN);
	body[10] = 11; /* replay */
	saksi_put_u32(body + 11, 3);
	saksi_put_u64(body + 15, commit_ms - 5);
	saksi_put_u64(body + 23, commit_ms - 1);
	assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_REFUSALS, commit_ms, body,
	    sizeof(body), NULL, NULL), SAKSI_OK);
}

/* A detector's alert at entry i >= 2, naming the two entries before it. */
static void
make_alert(saksi_alert *a, uint64_t i)
{
	memset(a, 0, sizeof(*a));
	a->al_id = i;
	a->al_kind = SAKSI_ALERT_RULE;
	a->al_severity = SAKSI_SEV_HIGH;
	strcpy(a->al_rule, "device_many_nik_fast");
	strcpy(a->al_group, "device_id=Y3NTMtg5h3BwxnzBS9MLHuBFF800tNF33lMJlEoJUmg");
	a->al_first_ms = T0 + i - 2;
	a->al_last_ms = T0 + i - 1;
	a->al_value = 6;
	a->al_threshold = 6;
	a->al_trigger = i - 1;
	a->al_total = 2;
	a->al_nevidence = 2;
	a->al_evidence[0] = i - 2;
	a->al_evidence[1] = i - 1;
}

static void
append_alert(saksi_ledger_txn *txn, uint64_t i, uint64_t commit_ms)
{
	uint8_t body[SAKSI_ALERT_LEAF_MAX];
	saksi_alert a;
	size_t len;

	make_alert(&a, i);
	assert_int_equal(saksi_alert_leaf_encode(&a, body, sizeof(body), &len), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_ALERT, commit_ms, body, len, NULL,
	    NULL), SAKSI_OK);
}

/* Builds (or extends) the ledger in dir as b says. */
static void
build(struct keys *k, const char *dir, const struct build *b)
{
	saksi_ledger_opts o;
	saksi_ledger *l = NULL;
	saksi_ledger_txn *txn = NULL;
	uint64_t i, seq[2] = { 0, 0 }, size;
	unsigned group = b->group ? b->group : 5;

	memset(&o, 0, sizeof(o));
	o.lo_map_size = 64u << 20;
	assert_int_equal(saksi_ledger_open(dir, ORIGIN, k->vkey, &o, &l), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	size = saksi_ledger_size(txn);
	saksi_ledger_abort(txn);
	assert_int_equal(size, 0);
	for (i = 0; i < b->n; i += group) {
		uint64_t j, end = i + group < b->n ? i + group : b->n;
		uint64_t commit_ms = T0 + 1000 * (i / group + 1);

		assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
		for (j = i; j < end; j++) {
			int variant = j >= b->variant_from ? b->variant : 0;

			if (b->refusal_every && (j + 1) % b->refusal_every == 0)
				append_refusals(txn, k, commit_ms);
			else if (b->alert_every && j >= 2 && (j + 1) % b->alert_every == 0)
				append_alert(txn, j, commit_ms);
			else
				append_event(txn, k, j, variant, ++seq[j % 2], commit_ms);
		}
		if (end <= b->sign_upto)
			lf_put_ckpt(txn, k->log, ORIGIN, end);
		assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	}
	saksi_ledger_close(l);
}

static struct build
std_build(uint64_t n)
{
	struct build b;

	memset(&b, 0, sizeof(b));
	b.n = n;
	b.group = 5;
	b.refusal_every = 7;
	b.sign_upto = UINT64_MAX;
	b.variant_from = UINT64_MAX;
	return b;
}

struct prog {
	uint64_t calls, last_done, last_total;
};

static void
on_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct prog *p = ctx;

	assert_true(done <= total);
	assert_true(done >= p->last_done);
	p->calls++;
	p->last_done = done;
	p->last_total = total;
}

/* The root of the ledger in dir at size. */
static void
stored_root(const char *dir, uint64_t size, saksi_hash root)
{
	saksi_ledger *l = lf_open_ro(dir);
	saksi_ledger_txn *txn = NULL;

	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_root(txn, size, root), SAKSI_OK);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
}

/* Opens dir read-only and verifies it with `threads` signature threads. */
static saksi_err
run_verify_threads(struct keys *k, const char *dir, const saksi_keyring *kr,
                   const char *reviewer, size_t reviewer_len, unsigned threads,
                   saksi_verify_report *r)
{
	saksi_ledger *l = NULL;
	saksi_verify_opts vo;
	saksi_err e;

	l = lf_open_ro(dir);
	memset(&vo, 0, sizeof(vo));
	vo.vo_log = &k->v;
	vo.vo_keyring = kr;
	vo.vo_reviewer_ckpt = reviewer;
	vo.vo_reviewer_ckpt_len = reviewer_len;
	vo.vo_threads = threads;
	e = saksi_verify_ledger(l, &vo, r);
	saksi_ledger_close(l);
	return e;
}

/* Every tamper test runs with signature threads: the answer must not depend on them. */
static saksi_err
run_verify(struct keys *k, const char *dir, const saksi_keyring *kr, const char *reviewer,
           size_t reviewer_len, saksi_verify_report *r)
{
	saksi_verify_report one;
	saksi_err e, e1;

	e = run_verify_threads(k, dir, kr, reviewer, reviewer_len, 3, r);
	e1 = run_verify_threads(k, dir, kr, reviewer, reviewer_len, 1, &one);
	assert_int_equal(e, e1);
	assert_int_equal(r->vr_reason, one.vr_reason);
	assert_int_equal(r->vr_index, one.vr_index);
	assert_string_equal(r->vr_message, one.vr_message);
	assert_int_equal(r->vr_checked, one.vr_checked);
	assert_int_equal(r->vr_events, one.vr_events);
	assert_int_equal(r->vr_nodes, one.vr_nodes);
	assert_memory_equal(r->vr_root, one.vr_root, SAKSI_HASH_LEN);
	return e;
}

/* Verifies with the full keyring and expects failure `reason` at `index`. */
static void
expect_fail(struct fx *f, const char *dir, const char *reviewer, size_t rlen, int reason,
            uint64_t index, const char *msg_prefix)
{
	saksi_keyring *kr = make_keyring(f->k, 0, -1);
	saksi_verify_report r;
	saksi_err e;

	e = run_verify(f->k, dir, kr, reviewer, rlen, &r);
	saksi_keyring_free(kr);
	if (e != SAKSI_ERR_CORRUPT || r.vr_reason != reason || r.vr_index != index)
		fail_msg("want %s at %" PRIu64 ", got %s (%s) at %" PRIu64 ": %s",
		    saksi_verify_reason_name(reason), index, saksi_verify_reason_name(r.vr_reason),
		    saksi_strerror(e), r.vr_index, r.vr_message);
	if (msg_prefix != NULL && strncmp(r.vr_message, msg_prefix, strlen(msg_prefix)) != 0)
		fail_msg("message \"%s\" does not start with \"%s\"", r.vr_message, msg_prefix);
}

static void
expect_ok(struct fx *f, const char *dir, const char *reviewer, size_t rlen,
          saksi_verify_report *r)
{
	saksi_keyring *kr = make_keyring(f->k, 0, -1);
	saksi_err e;

	e = run_verify(f->k, dir, kr, reviewer, rlen, r);
	saksi_keyring_free(kr);
	if (e != SAKSI_OK)
		fail_msg("verification failed: %s (%s)", r->vr_message, saksi_strerror(e));
}

/* ---- raw LMDB access: the attacker's tools ---- */

static void
key_u64(uint8_t k[8], uint64_t v)
{
	saksi_put_u64(k, v);
}

/* The exact leaf bytes, read back through the library (it knows the codecs). */
static uint8_t *
leaf_bytes(const char *dir, uint64_t index, size_t *len)
{
	saksi_ledger *l = NULL;
	saksi_ledger_txn *txn = NULL;
	uint8_t *leaf = NULL;

	l = lf_open_ro(dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(txn, index, &leaf, len), SAKSI_OK);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	return leaf;
}

/* Stores leaf bytes at index as codec 0 (raw), the way any writer of FORMATS.md 7 may. */
static void
raw_put_leaf(struct raw *r, uint64_t index, const uint8_t *leaf, size_t len)
{
	MDB_dbi dbi = raw_db(r, "leaf");
	uint8_t k[8], *v = malloc(9 + len);
	MDB_val key = { 8, k }, val = { 9 + len, v };

	assert_non_null(v);
	key_u64(k, index);
	v[0] = 0;
	saksi_put_u32(v + 1, 0);
	saksi_put_u32(v + 5, (uint32_t)len);
	memcpy(v + 9, leaf, len);
	assert_int_equal(mdb_put(r->txn, dbi, &key, &val, 0), 0);
	free(v);
}

/*
 * The attacker's simplest edit: entry index with byte `off` (from the end if negative)
 * XORed with mask, or set to `set` if mask is 0, stored back as a well-formed raw record.
 * Returns the leaf's kind byte as it was.
 */
static int
edit_leaf_byte(const char *dir, uint64_t index, long off, uint8_t mask, uint8_t set)
{
	struct raw raw;
	uint8_t *leaf;
	size_t len, at;
	int kind;

	leaf = leaf_bytes(dir, index, &len);
	kind = leaf[1];
	at = off < 0 ? len - (size_t)(-off) : (size_t)off;
	assert_true(at < len);
	if (mask != 0)
		leaf[at] ^= mask;
	else
		leaf[at] = set;
	raw_open(dir, &raw);
	raw_put_leaf(&raw, index, leaf, len);
	raw_close(&raw);
	free(leaf);
	return kind;
}

static void
raw_del_u64(struct raw *r, const char *db, uint64_t index)
{
	MDB_dbi dbi = raw_db(r, db);
	uint8_t k[8];
	MDB_val key = { 8, k };

	key_u64(k, index);
	assert_int_equal(mdb_del(r->txn, dbi, &key, NULL), 0);
}

static void
raw_put_node(struct raw *r, unsigned level, uint64_t index, const saksi_hash h)
{
	MDB_dbi dbi = raw_db(r, "node");
	uint8_t k[8];
	MDB_val key = { 8, k }, val = { SAKSI_HASH_LEN, (void *)h };

	assert_int_equal(saksi_ledger_node_key(k, level, index), SAKSI_OK);
	assert_int_equal(mdb_put(r->txn, dbi, &key, &val, 0), 0);
}

static void
raw_del_node(struct raw *r, unsigned level, uint64_t index)
{
	MDB_dbi dbi = raw_db(r, "node");
	uint8_t k[8];
	MDB_val key = { 8, k };

	assert_int_equal(saksi_ledger_node_key(k, level, index), SAKSI_OK);
	assert_int_equal(mdb_del(r->txn, dbi, &key, NULL), 0);
}

/* The checkpoint note filed under size in dir's ledger, over what is there. */
static void
file_ckpt(const char *dir, uint64_t size, const char *note, size_t len)
{
	struct raw r;
	MDB_dbi dbi;
	uint8_t k[8];
	MDB_val key = { 8, k }, val = { len, (void *)note };

	raw_open(dir, &r);
	dbi = raw_db(&r, "ckpt");
	key_u64(k, size);
	assert_int_equal(mdb_put(r.txn, dbi, &key, &val, 0), 0);
	raw_close(&r);
}

/* Replaces every stored node with the hashes of the leaves as they now are, the way a
 * careful attacker covers a rewritten leaf. */
static void
raw_rehash_all(const char *dir, uint64_t n)
{
	saksi_hash *lvl = calloc(n, sizeof(saksi_hash));
	struct raw r;
	uint64_t i, count = n;
	unsigned level = 0;

	assert_non_null(lvl);
	for (i = 0; i < n; i++) {
		size_t len;
		uint8_t *leaf = leaf_bytes(dir, i, &len);

		saksi_merkle_leaf_hash(lvl[i], leaf, len);
		free(leaf);
	}
	raw_open(dir, &r);
	while (count > 0) {
		for (i = 0; i < count; i++)
			raw_put_node(&r, level, i, lvl[i]);
		for (i = 0; i + 1 < count; i += 2)
			saksi_merkle_node_hash(lvl[i / 2], lvl[i], lvl[i + 1]);
		count /= 2;
		level++;
	}
	raw_close(&r);
	free(lvl);
}

/* A checkpoint of size over a root of fill bytes, signed with the other log key under
 * the log's name, filed under size: a forgery. */
static void
forge_ckpt(struct fx *f, uint64_t size, uint8_t fill)
{
	saksi_hash root;
	char note[1024];
	size_t len;

	memset(root, fill, sizeof(root));
	lf_sign_ckpt(f->k->other_log, ORIGIN, ORIGIN, size, root, note, sizeof(note), &len);
	file_ckpt(f->dir, size, note, len);
}

/* The stored checkpoint note of size n (malloc'd). */
static char *
stored_ckpt(const char *dir, uint64_t size, size_t *len)
{
	saksi_ledger *l = NULL;
	saksi_ledger_txn *txn = NULL;
	char *note = NULL;

	l = lf_open_ro(dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_ckpt_get(txn, size, &note, len), SAKSI_OK);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	return note;
}

/* ---- tests ---- */

static void
test_intact(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(43);
	saksi_keyring *kr;
	saksi_verify_report r;
	saksi_ledger *l = NULL;
	saksi_ledger_txn *txn = NULL;
	saksi_verify_opts vo;
	struct prog p = { 0, 0, 0 };
	saksi_hash root;

	build(f->k, f->dir, &b);
	kr = make_keyring(f->k, 0, -1);
	l = lf_open_ro(f->dir);
	memset(&vo, 0, sizeof(vo));
	vo.vo_log = &f->k->v;
	vo.vo_keyring = kr;
	vo.vo_progress = on_progress;
	vo.vo_progress_ctx = &p;
	vo.vo_progress_every = 10;
	assert_int_equal(saksi_verify_ledger(l, &vo, &r), SAKSI_OK);
	assert_int_equal(r.vr_reason, SAKSI_V_OK);
	assert_int_equal(r.vr_index, SAKSI_VERIFY_NO_INDEX);
	assert_int_equal(r.vr_size, 43);
	assert_int_equal(r.vr_checked, 43);
	assert_int_equal(r.vr_refusals, 6);  /* entries 6, 13, 20, 27, 34, 41 */
	assert_int_equal(r.vr_events, 37);
	assert_int_equal(r.vr_checkpoints, 9); /* sizes 5, 10, ..., 40, 43 */
	assert_int_equal(r.vr_latest, 43);
	assert_int_equal(r.vr_revoked, 0);
	/* 43 leaf hashes + one node per completed subtree above level 0: 43 - popcount(43). */
	assert_int_equal(r.vr_nodes, 43 + 43 - 4);
	assert_int_equal(p.calls, 5); /* at 10, 20, 30, 40, and the end */
	assert_int_equal(p.last_done, 43);
	assert_int_equal(p.last_total, 43);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_root(txn, 43, root), SAKSI_OK);
	saksi_ledger_abort(txn);
	assert_memory_equal(root, r.vr_root, SAKSI_HASH_LEN);
	saksi_ledger_close(l);
	saksi_keyring_free(kr);
}

static void
test_empty(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(0);
	saksi_verify_report r;

	build(f->k, f->dir, &b);
	expect_ok(f, f->dir, NULL, 0, &r);
	assert_int_equal(r.vr_size, 0);
	assert_int_equal(r.vr_checkpoints, 0);
}

static void
test_bad_options(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(3);
	saksi_ledger *l = NULL;
	saksi_verify_opts vo;
	saksi_verify_report r;
	saksi_keyring *kr;

	build(f->k, f->dir, &b);
	kr = make_keyring(f->k, 0, -1);
	l = lf_open_ro(f->dir);
	memset(&vo, 0, sizeof(vo));
	vo.vo_keyring = kr;
	assert_int_equal(saksi_verify_ledger(l, &vo, &r), SAKSI_ERR_INVAL);
	assert_int_equal(r.vr_reason, SAKSI_V_SYSTEM);
	vo.vo_log = &f->k->v;
	vo.vo_keyring = NULL;
	assert_int_equal(saksi_verify_ledger(l, &vo, &r), SAKSI_ERR_INVAL);
	vo.vo_keyring = kr;
	vo.vo_reviewer_ckpt_len = 5;
	assert_int_equal(saksi_verify_ledger(l, &vo, &r), SAKSI_ERR_INVAL);
	vo.vo_reviewer_ckpt_len = 0;
	assert_int_equal(saksi_verify_ledger(NULL, &vo, &r), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_verify_ledger(l, &vo, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_verify_ledger(l, &vo, &r), SAKSI_OK);
	saksi_ledger_close(l);
	saksi_keyring_free(kr);
}

static void
test_wrong_origin(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(3);
	saksi_keyring *kr = make_keyring(f->k, 0, -1);
	saksi_note_verifier saved = f->k->v;
	saksi_pubkey pub;
	char vkey[SAKSI_VKEY_MAX + 1];
	saksi_verify_report r;

	build(f->k, f->dir, &b);
	assert_int_equal(saksi_seckey_public(f->k->log, &pub), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format("other.example/log", pub.pk_key, vkey,
	    sizeof(vkey)), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_parse(vkey, &f->k->v), SAKSI_OK);
	assert_int_equal(run_verify(f->k, f->dir, kr, NULL, 0, &r), SAKSI_ERR_CORRUPT);
	f->k->v = saved;
	assert_int_equal(r.vr_reason, SAKSI_V_ORIGIN);
	assert_int_equal(r.vr_index, SAKSI_VERIFY_NO_INDEX);
	saksi_keyring_free(kr);
}

/* A byte of the payload flipped in the stored leaf: the producer signature fails. */
static void
test_flip_payload_byte(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);

	build(f->k, f->dir, &b);
	edit_leaf_byte(f->dir, 11, -64 - 3, 0x01, 0); /* inside the payload's closing digits */
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_SIGNATURE, 11, "entry 11: producer signature");
	{
		/* The report still says how far it got: 11 entries and their root. */
		saksi_keyring *kr = make_keyring(f->k, 0, -1);
		saksi_verify_report r;
		saksi_hash root;

		assert_int_equal(run_verify(f->k, f->dir, kr, NULL, 0, &r), SAKSI_ERR_CORRUPT);
		saksi_keyring_free(kr);
		assert_int_equal(r.vr_checked, 11);
		assert_int_equal(r.vr_size, 20);
		assert_int_equal(r.vr_checkpoints, 2);
		stored_root(f->dir, 11, root);
		assert_memory_equal(root, r.vr_root, SAKSI_HASH_LEN);
	}
}

/* A byte of prev_root flipped: the chain breaks at that very entry. */
static void
test_flip_prev_root_byte(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);

	build(f->k, f->dir, &b);
	edit_leaf_byte(f->dir, 9, 10 + 7, 0x80, 0);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_PREV_ROOT, 9,
	    "entry 9: prev_root does not match the root of the 9 entries before it");
}

/* A flipped commit time: the leaf is still well-formed and signed parts are intact, but
 * its hash no longer matches the stored node (and the next entry's prev_root). */
static void
test_flip_commit_time(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);

	build(f->k, f->dir, &b);
	edit_leaf_byte(f->dir, 2, 9, 0x01, 0); /* last byte of commit_time_ms */
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_NODE, 2,
	    "entry 2: stored leaf hash does not match");
	/* With the nodes rehashed too, the chain still catches it at the next entry. */
	raw_rehash_all(f->dir, 20);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_PREV_ROOT, 3,
	    "entry 3: prev_root does not match the root of the 3 entries before it");
}

/* The stored bytes themselves damaged (whatever the codec): undecodable or wrong. */
static void
test_flip_stored_byte(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);
	struct raw raw;
	MDB_dbi dbi;
	uint8_t k[8], *copy;
	MDB_val key = { 8, k }, val;
	saksi_keyring *kr;
	saksi_verify_report r;
	saksi_err e;

	build(f->k, f->dir, &b);
	raw_open(f->dir, &raw);
	dbi = raw_db(&raw, "leaf");
	key_u64(k, 12);
	assert_int_equal(mdb_get(raw.txn, dbi, &key, &val), 0);
	copy = malloc(val.mv_size);
	assert_non_null(copy);
	memcpy(copy, val.mv_data, val.mv_size);
	copy[val.mv_size / 2] ^= 0x10;
	val.mv_data = copy;
	assert_int_equal(mdb_put(raw.txn, dbi, &key, &val, 0), 0);
	raw_close(&raw);
	free(copy);
	kr = make_keyring(f->k, 0, -1);
	e = run_verify(f->k, f->dir, kr, NULL, 0, &r);
	saksi_keyring_free(kr);
	assert_int_equal(e, SAKSI_ERR_CORRUPT);
	assert_int_equal(r.vr_index, 12);
	/* Which check sees it first depends on where the byte landed in the stored form;
	 * every one of them names entry 12. */
	assert_true(r.vr_reason == SAKSI_V_LEAF_STORAGE || r.vr_reason == SAKSI_V_LEAF_FORMAT ||
	    r.vr_reason == SAKSI_V_PREV_ROOT || r.vr_reason == SAKSI_V_SIGNATURE ||
	    r.vr_reason == SAKSI_V_ENVELOPE_FORMAT || r.vr_reason == SAKSI_V_NODE);
	assert_memory_equal(r.vr_message, "entry 12:", 9);
}

static void
test_bad_leaf_version(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(10);

	build(f->k, f->dir, &b);
	edit_leaf_byte(f->dir, 3, 0, 0, 2); /* leaf version 2 */
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_LEAF_FORMAT, 3, "entry 3: not a valid leaf");
}

/* A refusal summary with a bad reason code inside a correctly chained leaf. */
static void
test_bad_refusal_summary(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(10);

	build(f->k, f->dir, &b);
	/* Entry 6 is a refusal summary; reason "accepted" is not a refusal. */
	assert_int_equal(edit_leaf_byte(f->dir, 6, SAKSI_LEAF_HDR + 2 + 8, 0, 0),
	    SAKSI_LEAF_REFUSALS);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_REFUSALS_FORMAT, 6,
	    "entry 6: the refusal summary does not parse");
}

/* An event leaf whose body is not an envelope. */
static void
test_bad_envelope(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(10);

	build(f->k, f->dir, &b);
	edit_leaf_byte(f->dir, 2, SAKSI_LEAF_HDR, 0, 9); /* envelope version 9 */
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_ENVELOPE_FORMAT, 2,
	    "entry 2: the event envelope does not parse");
}

/* Entry 8 deleted from the middle. */
static void
test_delete_entry(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);
	struct raw raw;
	saksi_keyring *kr;
	saksi_verify_report r;

	build(f->k, f->dir, &b);
	raw_open(f->dir, &raw);
	raw_del_u64(&raw, "leaf", 8);
	raw_close(&raw);
	kr = make_keyring(f->k, 0, -1);
	assert_int_equal(run_verify(f->k, f->dir, kr, NULL, 0, &r), SAKSI_ERR_CORRUPT);
	saksi_keyring_free(kr);
	assert_int_equal(r.vr_index, 8);
	assert_int_equal(r.vr_reason, SAKSI_V_LEAF_MISSING);
}

/* Entry 8 deleted and the later ones moved down to close the gap. */
static void
test_delete_and_renumber(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);
	struct raw raw;
	uint8_t *leaves[20];
	size_t lens[20];
	uint64_t i;

	build(f->k, f->dir, &b);
	for (i = 0; i < 20; i++)
		leaves[i] = leaf_bytes(f->dir, i, &lens[i]);
	raw_open(f->dir, &raw);
	for (i = 8; i < 19; i++)
		raw_put_leaf(&raw, i, leaves[i + 1], lens[i + 1]);
	raw_del_u64(&raw, "leaf", 19);
	raw_close(&raw);
	for (i = 0; i < 20; i++)
		free(leaves[i]);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_PREV_ROOT, 8,
	    "entry 8: prev_root does not match the root of the 8 entries before it");
}

/* Entries 5 and 12 swapped. */
static void
test_swap_entries(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);
	struct raw raw;
	uint8_t *a, *c;
	size_t al, cl;

	build(f->k, f->dir, &b);
	a = leaf_bytes(f->dir, 5, &al);
	c = leaf_bytes(f->dir, 12, &cl);
	raw_open(f->dir, &raw);
	raw_put_leaf(&raw, 5, c, cl);
	raw_put_leaf(&raw, 12, a, al);
	raw_close(&raw);
	free(a);
	free(c);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_PREV_ROOT, 5,
	    "entry 5: prev_root does not match the root of the 5 entries before it");
}

/* Entry k rewritten with a new, validly signed envelope by the same producer. */
static void
rewrite_entry(struct fx *f, uint64_t k)
{
	struct raw raw;
	uint8_t *leaf, env[1024], *nl;
	char payload[128];
	saksi_envelope ev;
	size_t len, el;
	int pl;

	leaf = leaf_bytes(f->dir, k, &len);
	assert_int_equal(saksi_envelope_parse(leaf + SAKSI_LEAF_HDR, len - SAKSI_LEAF_HDR, &ev),
	    SAKSI_OK);
	pl = snprintf(payload, sizeof(payload), "{\"branch\":\"%s\",\"entry\":%" PRIu64
	    ",\"variant\":666}", BRANCH, k);
	assert_int_equal(saksi_envelope_sign(f->k->prod[k % 2], ev.ev_seq, ev.ev_time_ms,
	    ev.ev_type, (const uint8_t *)payload, (size_t)pl, env, sizeof(env), &el),
	    SAKSI_OK);
	nl = malloc(SAKSI_LEAF_HDR + el);
	assert_non_null(nl);
	memcpy(nl, leaf, SAKSI_LEAF_HDR);
	memcpy(nl + SAKSI_LEAF_HDR, env, el);
	raw_open(f->dir, &raw);
	raw_put_leaf(&raw, k, nl, SAKSI_LEAF_HDR + el);
	raw_close(&raw);
	free(nl);
	free(leaf);
}

static void
test_rewrite_entry_resigned(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);

	build(f->k, f->dir, &b);
	rewrite_entry(f, 7);
	/* The signature is valid; the stored leaf hash gives it away at once... */
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_NODE, 7, "entry 7: stored leaf hash");
	/* ...and an attacker who recomputes every node is caught by the next prev_root. */
	raw_rehash_all(f->dir, 20);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_PREV_ROOT, 8,
	    "entry 8: prev_root does not match the root of the 8 entries before it");
}

/* The last entry rewritten (no later prev_root): the signed checkpoint catches it. */
static void
test_rewrite_last_entry(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);

	build(f->k, f->dir, &b);
	rewrite_entry(f, 19);
	raw_rehash_all(f->dir, 20);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_CKPT_ROOT, 19, "checkpoint at size 20: signed root");
}

static void
test_node_tampered(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);
	struct raw raw;
	saksi_hash junk;

	build(f->k, f->dir, &b);
	memset(junk, 0xab, sizeof(junk));
	raw_open(f->dir, &raw);
	raw_put_node(&raw, 2, 1, junk); /* leaves [4, 8): completed by entry 7 */
	raw_close(&raw);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_NODE, 7,
	    "entry 7: stored tree node (level 2, index 1) does not match the entries under it");
}

static void
test_node_missing(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);
	struct raw raw;

	build(f->k, f->dir, &b);
	raw_open(f->dir, &raw);
	raw_del_node(&raw, 3, 1); /* leaves [8, 16): completed by entry 15 */
	raw_close(&raw);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_NODE, 15,
	    "entry 15: stored tree node (level 3, index 1) is missing");
}

/* A checkpoint replaced by one signed with another key under the same name. */
static void
test_forged_checkpoint(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);

	build(f->k, f->dir, &b);
	forge_ckpt(f, 10, 0x42);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_CKPT_SIGNATURE, 9,
	    "checkpoint at size 10: not signed by the log key");
}

/* A genuine checkpoint whose root line was edited after signing. */
static void
test_checkpoint_body_edited(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);
	char *note, *nl;
	size_t len;

	build(f->k, f->dir, &b);
	note = stored_ckpt(f->dir, 15, &len);
	nl = strchr(strchr(note, '\n') + 1, '\n') + 1; /* the root line */
	nl[3] = nl[3] == 'A' ? 'B' : 'A';
	file_ckpt(f->dir, 15, note, len);
	free(note);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_CKPT_SIGNATURE, 14,
	    "checkpoint at size 15: not signed by the log key");
}

/* Signed with the log key, but the body names another origin. */
static void
test_checkpoint_other_origin(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(10);
	saksi_hash root;
	char note[1024];
	size_t len;

	build(f->k, f->dir, &b);
	stored_root(f->dir, 5, root);
	lf_sign_ckpt(f->k->log, ORIGIN, "other.example/log", 5, root, note, sizeof(note),
	    &len);
	file_ckpt(f->dir, 5, note, len);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_CKPT_ORIGIN, 4, "checkpoint at size 5: its origin");
}

/* A genuine checkpoint of size 5 filed under size 6. */
static void
test_checkpoint_wrong_size(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(10);
	char *note;
	size_t len;

	build(f->k, f->dir, &b);
	note = stored_ckpt(f->dir, 5, &len);
	file_ckpt(f->dir, 6, note, len);
	free(note);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_CKPT_SIZE, 5,
	    "checkpoint stored at size 6 says size 5");
}

/* Entries appended after the last signed checkpoint. */
static void
test_unsigned_tail(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(23);

	b.sign_upto = 15;
	build(f->k, f->dir, &b);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_UNSIGNED, 15,
	    "entry 15: not covered by the latest signed checkpoint, nor are the 7 entries");
}

static void
test_no_checkpoint(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(4);

	b.sign_upto = 0;
	build(f->k, f->dir, &b);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_UNSIGNED, 0,
	    "entry 0: no signed checkpoint covers it");
}

/* The last entries deleted, but their signed checkpoint left in place. */
static void
test_truncated_with_checkpoint(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);
	struct raw raw;
	uint64_t i;

	build(f->k, f->dir, &b);
	raw_open(f->dir, &raw);
	for (i = 17; i < 20; i++)
		raw_del_u64(&raw, "leaf", i);
	raw_close(&raw);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_TRUNCATED, 17,
	    "entry 17: missing, but the log signed a checkpoint of 20 entries");
}

/* A forged checkpoint beyond the end is a forgery, not proof of truncation. */
static void
test_forged_checkpoint_beyond(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(10);

	build(f->k, f->dir, &b);
	forge_ckpt(f, 50, 0x17);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_CKPT_SIGNATURE, 10,
	    "checkpoint at size 50: not signed by the log key");
}

/*
 * A careful truncation: the last entries, their nodes and checkpoints removed, so the
 * ledger is a consistent shorter log. Only the reviewer's older checkpoint shows it.
 */
static void
test_truncated_vs_reviewer(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);
	struct raw raw;
	saksi_verify_report r;
	char *reviewer;
	size_t rlen;

	build(f->k, f->dir, &b);
	reviewer = stored_ckpt(f->dir, 20, &rlen);
	/* Back to 15 entries: leaves 15..19, their nodes, checkpoint 20. */
	raw_open(f->dir, &raw);
	raw_del_u64(&raw, "leaf", 15);
	raw_del_u64(&raw, "leaf", 16);
	raw_del_u64(&raw, "leaf", 17);
	raw_del_u64(&raw, "leaf", 18);
	raw_del_u64(&raw, "leaf", 19);
	raw_del_node(&raw, 0, 15);
	raw_del_node(&raw, 0, 16);
	raw_del_node(&raw, 0, 17);
	raw_del_node(&raw, 0, 18);
	raw_del_node(&raw, 0, 19);
	raw_del_node(&raw, 1, 7);
	raw_del_node(&raw, 1, 8);
	raw_del_node(&raw, 1, 9);
	raw_del_node(&raw, 2, 3);
	raw_del_node(&raw, 2, 4);
	raw_del_node(&raw, 3, 1);
	raw_del_node(&raw, 4, 0);
	raw_del_u64(&raw, "ckpt", 20);
	raw_close(&raw);
	expect_ok(f, f->dir, NULL, 0, &r);
	assert_int_equal(r.vr_size, 15);
	expect_fail(f, f->dir, reviewer, rlen, SAKSI_V_TRUNCATED, 15,
	    "entry 15: missing, but your checkpoint covers 20 entries");
	free(reviewer);
}

/*
 * The operator rolls back to entry 12, writes a different history with the log key and
 * signs it all again. Every stored signature is valid; the reviewer's checkpoint of size
 * 15, kept from before, is not a prefix of the new ledger.
 */
static void
test_rolled_back_and_resigned(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);
	saksi_verify_report r;
	char copy[128], *reviewer, *later;
	size_t rlen, llen;

	snprintf(copy, sizeof(copy), "%s/copy", f->dir);
	assert_int_equal(mkdir(copy, 0700), 0);
	build(f->k, copy, &b);
	reviewer = stored_ckpt(copy, 15, &rlen);
	later = stored_ckpt(copy, 10, &llen);
	rm_rf(copy);
	assert_int_equal(mkdir(copy, 0700), 0);
	b.n = 25;
	b.variant_from = 12;
	b.variant = 1;
	build(f->k, copy, &b);
	/* On its own, the rewritten ledger is flawless. */
	expect_ok(f, copy, NULL, 0, &r);
	assert_int_equal(r.vr_size, 25);
	/* An older checkpoint from before the fork still matches... */
	expect_ok(f, copy, later, llen, &r);
	assert_int_equal(r.vr_reviewer, 1);
	assert_int_equal(r.vr_reviewer_size, 10);
	/* ...the one covering rewritten entries does not. */
	expect_fail(f, copy, reviewer, rlen, SAKSI_V_REVIEWER_ROOT, 14,
	    "entry 14: the first 15 entries are not the ones your checkpoint signed");
	free(reviewer);
	free(later);
}

static void
test_reviewer_forged(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(10);
	saksi_hash root;
	char note[1024];
	size_t len;

	build(f->k, f->dir, &b);
	memset(root, 1, sizeof(root));
	lf_sign_ckpt(f->k->other_log, ORIGIN, ORIGIN, 5, root, note, sizeof(note), &len);
	expect_fail(f, f->dir, note, len, SAKSI_V_REVIEWER_SIGNATURE, SAKSI_VERIFY_NO_INDEX,
	    "your checkpoint is not signed by the log key");
	expect_fail(f, f->dir, "garbage\n", 8, SAKSI_V_REVIEWER_FORMAT, SAKSI_VERIFY_NO_INDEX,
	    "your checkpoint is not a well-formed signed note");
}

/* A reviewer's checkpoint of size 0 is checked against the empty root. */
static void
test_reviewer_empty_tree(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(6);
	saksi_verify_report r;
	saksi_hash root;
	char note[1024];
	size_t len;

	build(f->k, f->dir, &b);
	saksi_merkle_empty_root(root);
	lf_sign_ckpt(f->k->log, ORIGIN, ORIGIN, 0, root, note, sizeof(note), &len);
	expect_ok(f, f->dir, note, len, &r);
	assert_int_equal(r.vr_reviewer, 1);
	assert_int_equal(r.vr_reviewer_size, 0);
	root[0] ^= 1;
	lf_sign_ckpt(f->k->log, ORIGIN, ORIGIN, 0, root, note, sizeof(note), &len);
	expect_fail(f, f->dir, note, len, SAKSI_V_REVIEWER_ROOT, SAKSI_VERIFY_NO_INDEX,
	    "your checkpoint of the empty tree");
}

static void
test_unknown_key(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(10);
	saksi_keyring *kr = make_keyring(f->k, 1, -1);
	saksi_verify_report r;

	build(f->k, f->dir, &b);
	assert_int_equal(run_verify(f->k, f->dir, kr, NULL, 0, &r), SAKSI_ERR_CORRUPT);
	assert_int_equal(r.vr_reason, SAKSI_V_UNKNOWN_KEY);
	assert_int_equal(r.vr_index, 1); /* the first event of producer 1 */
	assert_memory_equal(r.vr_message, "entry 1: producer key ", 22);
	saksi_keyring_free(kr);
}

/* A key revoked since still verifies what it signed before. */
static void
test_revoked_key_still_verifies(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(10);
	saksi_keyring *kr = make_keyring(f->k, 0, (int64_t)T0 + 1);
	saksi_verify_report r;

	build(f->k, f->dir, &b);
	assert_int_equal(run_verify(f->k, f->dir, kr, NULL, 0, &r), SAKSI_OK);
	assert_int_equal(r.vr_revoked, 4); /* producer 0's events 0, 2, 4, 8 (6 is a refusal) */
	saksi_keyring_free(kr);
}

/* A signature byte flipped: the key id still names a keyring key. */
static void
test_wrong_signature(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(10);

	build(f->k, f->dir, &b);
	edit_leaf_byte(f->dir, 3, -1, 0x01, 0); /* last byte of the signature */
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_SIGNATURE, 3, "entry 3: producer signature");
}

/* Verification reads a copy: tampering with the copy leaves the original intact. */
static void
test_original_untouched_by_copy(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(12);
	saksi_verify_report r;
	char copy[128], src[512], dst[512];
	DIR *d;
	struct dirent *de;
	struct raw raw;

	build(f->k, f->dir, &b);
	snprintf(copy, sizeof(copy), "%s/copy", f->dir);
	assert_int_equal(mkdir(copy, 0700), 0);
	assert_non_null(d = opendir(f->dir));
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char *buf;
		FILE *in, *out;

		snprintf(src, sizeof(src), "%s/%s", f->dir, de->d_name);
		/* LMDB's lock file belongs to the live environment, not to the copy. */
		if (strstr(de->d_name, "lock") != NULL || stat(src, &st) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		snprintf(dst, sizeof(dst), "%s/%s", copy, de->d_name);
		assert_non_null(buf = malloc((size_t)st.st_size + 1));
		assert_non_null(in = fopen(src, "rb"));
		assert_non_null(out = fopen(dst, "wb"));
		assert_int_equal(fread(buf, 1, (size_t)st.st_size, in), (size_t)st.st_size);
		assert_int_equal(fwrite(buf, 1, (size_t)st.st_size, out), (size_t)st.st_size);
		fclose(in);
		fclose(out);
		free(buf);
	}
	closedir(d);
	raw_open(copy, &raw);
	raw_del_u64(&raw, "leaf", 0);
	raw_close(&raw);
	expect_fail(f, copy, NULL, 0, SAKSI_V_LEAF_MISSING, 0, "entry 0: missing");
	expect_ok(f, f->dir, NULL, 0, &r);
	assert_int_equal(r.vr_size, 12);
}

/*
 * More entries than one read-ahead batch (1024): failures on both sides of a batch edge
 * are found at their own index, with one thread or several.
 */
static void
test_batches(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(2100);
	saksi_verify_report r;

	b.group = 100;
	build(f->k, f->dir, &b);
	expect_ok(f, f->dir, NULL, 0, &r);
	assert_int_equal(r.vr_size, 2100);
	assert_int_equal(r.vr_checkpoints, 21);
	edit_leaf_byte(f->dir, 2052, -1, 0x01, 0); /* entry 2052 is an event */
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_SIGNATURE, 2052, "entry 2052: producer");
	edit_leaf_byte(f->dir, 1024, -1, 0x01, 0); /* the first of the second batch */
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_SIGNATURE, 1024, "entry 1024: producer");
	edit_leaf_byte(f->dir, 1023, -1, 0x01, 0); /* the last of the first */
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_SIGNATURE, 1023, "entry 1023: producer");
}

static void
test_refusals_parse(void **state)
{
	uint8_t body[2 + 2 * 29];
	unsigned n = 0;

	(void)state;
	memset(body, 0, sizeof(body));
	saksi_put_u16(body, 2);
	body[2 + 8] = 2;
	saksi_put_u32(body + 2 + 9, 1);
	saksi_put_u64(body + 2 + 13, 5);
	saksi_put_u64(body + 2 + 21, 5);
	body[31 + 8] = 14;
	saksi_put_u32(body + 31 + 9, 7);
	saksi_put_u64(body + 31 + 13, 1);
	saksi_put_u64(body + 31 + 21, 9);
	assert_int_equal(saksi_refusals_parse(body, sizeof(body), &n), SAKSI_OK);
	assert_int_equal(n, 2);
	/* Length must match the count exactly. */
	assert_int_equal(saksi_refusals_parse(body, sizeof(body) - 1, NULL), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_refusals_parse(body, 1, NULL), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_refusals_parse(NULL, 0, NULL), SAKSI_ERR_FORMAT);
	saksi_put_u16(body, 1);
	assert_int_equal(saksi_refusals_parse(body, sizeof(body), NULL), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_refusals_parse(body, 31, NULL), SAKSI_OK);
	saksi_put_u16(body, 0);
	assert_int_equal(saksi_refusals_parse(body, 2, NULL), SAKSI_ERR_FORMAT);
	saksi_put_u16(body, 2);
	body[31 + 8] = 15; /* busy: counted like the others */
	assert_int_equal(saksi_refusals_parse(body, sizeof(body), NULL), SAKSI_OK);
	body[31 + 8] = 16; /* not a refusal code */
	assert_int_equal(saksi_refusals_parse(body, sizeof(body), NULL), SAKSI_ERR_FORMAT);
	body[31 + 8] = 1; /* duplicate is not a refusal */
	assert_int_equal(saksi_refusals_parse(body, sizeof(body), NULL), SAKSI_ERR_FORMAT);
	body[31 + 8] = 14;
	saksi_put_u32(body + 31 + 9, 0); /* refused nothing */
	assert_int_equal(saksi_refusals_parse(body, sizeof(body), NULL), SAKSI_ERR_FORMAT);
	saksi_put_u32(body + 31 + 9, 7);
	saksi_put_u64(body + 31 + 13, 10); /* first after last */
	assert_int_equal(saksi_refusals_parse(body, sizeof(body), NULL), SAKSI_ERR_FORMAT);
}

/* Alert leaves verify; a damaged or forward-looking one is named. */
static void
test_alerts(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);
	saksi_verify_report r;
	uint8_t *leaf;
	size_t len;

	b.alert_every = 4;   /* entries 3, 7, 11, 15, 19; 6 and 13 stay refusals */
	build(f->k, f->dir, &b);
	expect_ok(f, f->dir, NULL, 0, &r);
	assert_int_equal(r.vr_alerts, 5);
	assert_int_equal(r.vr_refusals, 2);
	assert_int_equal(r.vr_events, 13);
	leaf = leaf_bytes(f->dir, 3, &len);
	assert_int_equal(leaf[1], SAKSI_LEAF_ALERT);
	free(leaf);
	/* Severity 5 does not exist. */
	assert_int_equal(edit_leaf_byte(f->dir, 7, SAKSI_LEAF_HDR + 9, 0, 5), SAKSI_LEAF_ALERT);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_ALERT_FORMAT, 7,
	    "entry 7: the alert does not parse");
}

static void
test_alert_forward(void **state)
{
	struct fx *f = *state;
	struct build b = std_build(20);

	b.alert_every = 4;
	build(f->k, f->dir, &b);
	/* The last evidence index's low byte of entry 11 set to 11: itself. */
	assert_int_equal(edit_leaf_byte(f->dir, 11, -1, 0, 11), SAKSI_LEAF_ALERT);
	expect_fail(f, f->dir, NULL, 0, SAKSI_V_ALERT_FORMAT, 11,
	    "entry 11: the alert names an entry at or after itself");
}

static void
test_alert_leaf_parse(void **state)
{
	uint8_t body[SAKSI_ALERT_LEAF_MAX], copy[SAKSI_ALERT_LEAF_MAX];
	saksi_alert a, b;
	size_t len, rlen;

	(void)state;
	make_alert(&a, 9);
	assert_int_equal(saksi_alert_leaf_encode(&a, body, sizeof(body), &len), SAKSI_OK);
	rlen = strlen(a.al_rule);
	assert_int_equal(len, 8 + 3 + rlen + 2 + strlen(a.al_group) + 53 + 16);
	assert_int_equal(saksi_alert_leaf_parse(body, len, &b), SAKSI_OK);
	assert_memory_equal(&a, &b, sizeof(a));
	/* Exact length only. */
	assert_int_equal(saksi_alert_leaf_parse(body, len - 1, &b), SAKSI_ERR_FORMAT);
	memcpy(copy, body, len);
	copy[len] = 0;
	assert_int_equal(saksi_alert_leaf_parse(copy, len + 1, &b), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_alert_leaf_parse(body, 10, &b), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_alert_leaf_parse(NULL, 0, &b), SAKSI_ERR_FORMAT);
	/* One field at a time. */
#define BAD(off, val) do { memcpy(copy, body, len); copy[(off)] = (val); \
	assert_int_equal(saksi_alert_leaf_parse(copy, len, &b), SAKSI_ERR_FORMAT); } while (0)
	BAD(7, 0);                        /* id 0 */
	BAD(8, 0);                        /* kind 0 */
	BAD(8, 4);                        /* kind 4 */
	BAD(8, 6);                        /* kind 6 */
	/* Kind 5, the daemon's refusal alert, parses like the rules' kinds. */
	memcpy(copy, body, len);
	copy[8] = SAKSI_ALERT_REFUSALS;
	assert_int_equal(saksi_alert_leaf_parse(copy, len, &b), SAKSI_OK);
	assert_int_equal(b.al_kind, SAKSI_ALERT_REFUSALS);
	BAD(9, 0);                        /* severity 0 */
	BAD(10, 0);                       /* empty rule */
	BAD(11, ' ');                     /* a space in the rule */
	BAD(11 + rlen + 2, 0x7f);         /* DEL in the group */
	BAD(11 + rlen + 2, '\0');         /* NUL in the group */
	BAD(len - 16 - 1, 3);             /* n says 3, two are there */
	BAD(len - 1, 0);                  /* evidence not ascending */
	memcpy(copy, body, len);
	saksi_put_u16(copy + 11 + rlen, 0);   /* empty group */
	assert_int_equal(saksi_alert_leaf_parse(copy, len, &b), SAKSI_ERR_FORMAT);
#undef BAD
	/* first_ms after last_ms: refused both ways. */
	b = a;
	b.al_first_ms = b.al_last_ms + 1;
	assert_int_equal(saksi_alert_leaf_encode(&b, body, sizeof(body), &len), SAKSI_ERR_INVAL);
	b = a;
	b.al_nevidence = SAKSI_ALERT_EVIDENCE_MAX + 1;
	assert_int_equal(saksi_alert_leaf_encode(&b, body, sizeof(body), &len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_alert_leaf_encode(&a, body, 20, &len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_alert_leaf_encode(NULL, body, sizeof(body), &len),
	    SAKSI_ERR_INVAL);
	/* The largest alert fits SAKSI_ALERT_LEAF_MAX exactly. */
	b = a;
	memset(b.al_rule, 'r', SAKSI_RULES_ID_MAX + 5);
	memset(b.al_group, 'g', SAKSI_RULES_GROUP_MAX);
	b.al_nevidence = SAKSI_ALERT_EVIDENCE_MAX;
	for (uint32_t i = 0; i < b.al_nevidence; i++)
		b.al_evidence[i] = i;
	assert_int_equal(saksi_alert_leaf_encode(&b, body, sizeof(body), &len), SAKSI_OK);
	assert_int_equal(len, SAKSI_ALERT_LEAF_MAX);
	assert_int_equal(saksi_alert_leaf_parse(body, len, &a), SAKSI_OK);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void
test_reason_names(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < SAKSI_V__COUNT; i++)
		assert_string_not_equal(saksi_verify_reason_name(i), "unknown");
	assert_string_equal(saksi_verify_reason_name(SAKSI_V_PREV_ROOT), "prev_root");
	assert_string_equal(saksi_verify_reason_name(-1), "unknown");
	assert_string_equal(saksi_verify_reason_name(SAKSI_V__COUNT), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alerts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_forward, setup, teardown),
		cmocka_unit_test(test_alert_leaf_parse),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_origin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flip_payload_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flip_prev_root_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flip_commit_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flip_stored_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_leaf_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_refusal_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_envelope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_and_renumber, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swap_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_entry_resigned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_last_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_body_edited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_other_origin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_wrong_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsigned_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_with_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_checkpoint_beyond, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_vs_reviewer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rolled_back_and_resigned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reviewer_forged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reviewer_empty_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked_key_still_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_original_untouched_by_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
		cmocka_unit_test(test_refusals_parse),
		cmocka_unit_test(test_reason_names),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
