/*
 * shred_test.c: per-participant data keys through the real committer on a real ledger:
 * three participants, one forgotten by a supervisor's signed request (his disclosures and
 * the request's own stop opening, the others' still open, his bytes appear in no file),
 * a backup of the key file taken before the forget is useless after it, and a crash
 * between the ledger commit and the slot wipe still ends wiped at the next start. Each
 * runs twice: with the committer making all of it, and with the ingest workers'
 * part (saksid_shred_prepare) made at ingest; the two store the same bytes.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "../tests/server_fixture.h"
#include "bytes.h"
#include "commit.h"
#include "datakey.h"
#include "ledger.h"
#include "shred.h"
#include "wire.h"

#define SKEW 300000

static const char *const NIK[3] = { "7371054507880003", "7371010101900011",
	                            "3171014101900022" };
static const char *const KPJ[3] = { "18045213577", "18045299901", "18045277702" };
static const char *const PHONE[3] = { "+6281242317765", "+6281399887766", "+6285711223344" };

static struct fx fx;
static saksi_seckey *spv;          /* role supervisor */
static saksi_keyring *kr;
static saksid_ingest *ig;
static int prep_mode;              /* 1: ingest prepares for the shred (it_shprep) */

struct env {
	char dir[256], slots[300], master[300];
	saksi_ledger *l;
	saksi_datakeys *dk;
	saksid_shred *sh;
	saksid_committer *c;
};

static int
setup(void **state)
{
	json_t *root, *keys, *e;
	saksi_pubkey pub;
	char b64[SAKSI_PUBKEY_B64_LEN + 1], hex[17], err[256], *js;

	(void)state;
	fx_init(&fx, 0);
	spv = fx_key(fx.seed, "supervisor", SAKSI_KEY_SIGN);
	/* The fixture's keyring, plus a supervisor key with the default role. */
	root = json_loads(fx.keyring_json, 0, NULL);
	assert_non_null(root);
	json_object_set_new(json_object_get(root, "roles"), "supervisor",
	                    json_pack("[s]", "supervisor.*"));
	assert_int_equal(saksi_seckey_public(spv, &pub), SAKSI_OK);
	assert_int_equal(saksi_pubkey_encode(&pub, b64, sizeof(b64)), SAKSI_OK);
	sodium_bin2hex(hex, sizeof(hex), pub.pk_id, 8);
	e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:n}", "name", "supervisor", "key_id", hex,
	              "public_key", b64, "role", "supervisor", "branch", "*", "revoked_ms");
	keys = json_object_get(root, "keys");
	json_array_append_new(keys, e);
	js = json_dumps(root, 0);
	json_decref(root);
	assert_int_equal(saksi_keyring_parse(js, strlen(js), &kr, err, sizeof(err)), SAKSI_OK);
	free(js);
	assert_int_equal(saksid_ingest_new(kr, fx.sc, fx.box, &ig), SAKSI_OK);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	saksid_ingest_free(ig);
	saksi_keyring_free(kr);
	saksi_seckey_free(spv);
	fx_free(&fx);
	return 0;
}

/* The committer's options on v's ledger and shredder, as saksid gives them. */
static void
env_commit_opts(struct env *v, saksid_commit_opts *co)
{
	fx_commit_opts(co, &fx, v->l, SKEW);
	co->co_shred = v->sh;
}

static void
env_open(struct env *v, const char *name, int with_committer)
{
	saksid_commit_opts co;

	snprintf(v->dir, sizeof(v->dir), "%s/%s%s", fx.dir, prep_mode ? "prep-" : "", name);
	mkdir(v->dir, 0700);
	snprintf(v->slots, sizeof(v->slots), "%s/datakeys", v->dir);
	snprintf(v->master, sizeof(v->master), "%s.master", v->dir);
	assert_int_equal(saksi_ledger_open(v->dir, FX_ORIGIN, fx.vkey, NULL, &v->l), SAKSI_OK);
	assert_int_equal(saksi_dk_open(v->slots, v->master, fx.store, 1, 1, &v->dk), SAKSI_OK);
	assert_int_equal(saksid_shred_new(v->dk, fx.store, &v->sh), SAKSI_OK);
	saksid_ingest_shred(ig, prep_mode ? v->sh : NULL);
	v->c = NULL;
	if (!with_committer)
		return;
	env_commit_opts(v, &co);
	assert_int_equal(saksid_commit_new(&co, &v->c), SAKSI_OK);
}

static void
env_close(struct env *v)
{
	saksid_ingest_shred(ig, NULL);
	saksid_commit_free(v->c);
	saksid_shred_free(v->sh);
	saksi_dk_close(v->dk);
	saksi_ledger_close(v->l);
}

/* Clears it[0..n) and frees the built items fi[0..n) they were framed from. */
static void
items_free(saksid_item *it, struct fx_item *fi, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		saksid_item_clear(&it[i]);
		fx_item_free(&fi[i]);
	}
}

static void
booking_nik(const char *nik, int who, uint64_t seq, struct fx_item *fi)
{
	char bid[32];
	const char *set[] = { "nik", nik, "kpj", KPJ[who], "phone", PHONE[who],
		              "booking_id", bid, NULL };
	char *p;

	snprintf(bid, sizeof(bid), "BK-20250311-%05u", (unsigned)seq);
	p = fx_payload("queue.booking.created", set);
	fx_build(&fx, fx.prod[FX_QUEUE], "queue.booking.created", p, seq, FX_NOW - 1000 + seq,
	         fi);
	free(p);
}

static void
booking(int who, uint64_t seq, struct fx_item *fi)
{
	char bid[32];
	const char *set[] = { "nik", NIK[who], "kpj", KPJ[who], "phone", PHONE[who],
		              "booking_id", bid, NULL };
	char *p;

	snprintf(bid, sizeof(bid), "BK-20250310-%05u", (unsigned)seq);
	p = fx_payload("queue.booking.created", set);
	fx_build(&fx, fx.prod[FX_QUEUE], "queue.booking.created", p, seq, FX_NOW - 1000 + seq,
	         fi);
	free(p);
}

static void
forget_req(int who, uint64_t seq, struct fx_item *fi)
{
	const char *set[] = { "nik", NIK[who], NULL };
	char *p = fx_payload(SAKSID_FORGET_TYPE, set);

	fx_build(&fx, spv, SAKSID_FORGET_TYPE, p, seq, FX_NOW, fi);
	free(p);
}

/* Ingests and commits fis as one group; every item must be accepted. */
static void
commit(struct env *v, struct fx_item *fis, size_t n, saksid_item *items)
{
	saksid_item *ptr[16];

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++) {
		fx_frame1(&fis[i], &items[i]);
		assert_int_equal(saksid_ingest_check(ig, &items[i], FX_NOW), SAKSI_R_ACCEPTED);
		/* Prepared at ingest exactly when asked for and there is something to seal. */
		assert_int_equal(items[i].it_shprep != NULL, prep_mode &&
		                 items[i].it_disc != NULL);
		ptr[i] = &items[i];
	}
	assert_int_equal(saksid_commit_group(v->c, ptr, n, FX_NOW), SAKSI_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(items[i].it_code, SAKSI_R_ACCEPTED);
}

/* Opens the stored disclosures of leaf idx with what a reader on the appliance has. */
static saksi_err
reveal(struct env *v, saksi_datakeys *dk, uint64_t idx, char **json, int *kind)
{
	saksi_ledger_txn *t;
	uint8_t *blob, *leaf;
	size_t bl, ll, jl;
	saksi_hash h;
	uint64_t kid;
	saksi_err e;

	assert_int_equal(saksi_ledger_begin(v->l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_disc_get(t, idx, &blob, &bl), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(t, idx, &leaf, &ll), SAKSI_OK);
	saksi_ledger_abort(t);
	saksi_merkle_leaf_hash(h, leaf, ll);
	assert_int_equal(saksi_disc2_key(blob, bl, kind, &kid), SAKSI_OK);
	e = saksi_disc_open_any(fx.store, dk, idx, h, blob, bl, json, &jl);
	free(blob);
	free(leaf);
	return e;
}

/* Slots given to participants, as committed (the counter "c"). */
static uint64_t
given(struct env *v)
{
	saksi_ledger_txn *t;
	uint64_t n;

	assert_int_equal(saksi_ledger_begin(v->l, 0, &t), SAKSI_OK);
	assert_int_equal(saksid_shred_given(t, &n), SAKSI_OK);
	saksi_ledger_abort(t);
	return n;
}

/* The slot file's bytes of slots [first, first + n) (malloc'd). */
static uint8_t *
slot_bytes(struct env *v, uint64_t first, uint64_t n)
{
	size_t len;
	char *b = fx_read(v->slots, &len);
	uint8_t *out = malloc(n * SAKSI_DK_SLOT_SIZE);

	assert_non_null(b);
	assert_non_null(out);
	assert_true(len >= SAKSI_DK_HDR_SIZE + (first + n) * SAKSI_DK_SLOT_SIZE);
	memcpy(out, b + SAKSI_DK_HDR_SIZE + first * SAKSI_DK_SLOT_SIZE, n * SAKSI_DK_SLOT_SIZE);
	free(b);
	return out;
}

static int
file_has(const char *path, const char *s)
{
	int r = fx_file_contains(path, s);

	assert_true(r >= 0);
	return r;
}

/* None of participant who's values in the ledger's files. */
static void
assert_absent(struct env *v, int who)
{
	char p[320];

	snprintf(p, sizeof(p), "%s/data.mdb", v->dir);
	assert_false(file_has(p, NIK[who]));
	assert_false(file_has(p, KPJ[who]));
	assert_false(file_has(p, PHONE[who] + 1));
	assert_false(file_has(v->slots, NIK[who]));
	assert_false(file_has(v->master, NIK[who]));
}

static void
test_forget_one_of_three(void **state)
{
	struct env v;
	struct fx_item fis[5], fg[2];
	saksid_item items[5], gi[2];
	saksi_datakeys *rd;
	char *json, *old_slots;
	size_t osn;
	int kind;

	(void)state;
	env_open(&v, "three", 1);
	for (int i = 0; i < 3; i++)
		booking(i, (uint64_t)i + 1, &fis[i]);
	booking(0, 4, &fis[3]);
	{
		char *p = fx_payload("staff.login", NULL);
		fx_build(&fx, fx.prod[FX_STAFF], "staff.login", p, 1, FX_NOW, &fis[4]);
		free(p);
	}
	commit(&v, fis, 5, items);

	/* Each participant's events under his own data key; a staff login (no NIK) under
	 * the store key. Each opens to exactly what the producer disclosed. */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(reveal(&v, v.dk, items[i].it_index, &json, &kind), SAKSI_OK);
		assert_int_equal(kind, i == 4 ? SAKSI_DK_STORE : SAKSI_DK_DATA);
		assert_string_equal(json, fis[i].disc);
		sodium_memzero(json, strlen(json));
		free(json);
	}
	assert_int_equal(given(&v), 3);
	assert_true(saksi_dk_slots(v.dk) >= 3);   /* and the pool made ahead */
	for (int i = 0; i < 3; i++)
		assert_absent(&v, i);

	/* A backup of the key file, taken before the forget. */
	old_slots = fx_read(v.slots, &osn);
	assert_non_null(old_slots);

	forget_req(0, 1, &fg[0]);
	commit(&v, fg, 1, gi);
	assert_int_equal(saksid_shred_wiped(v.sh), 1);
	assert_int_equal(saksi_dk_generation(v.dk), 2);

	/* Gone: both of his events, and the request's own NIK. The others still open, also
	 * for a reader that opened the key store before the rotation. */
	assert_int_equal(saksi_dk_open(v.slots, v.master, fx.store, 0, 0, &rd), SAKSI_OK);
	assert_int_equal(reveal(&v, rd, items[0].it_index, &json, &kind), SAKSI_ERR_NOT_FOUND);
	assert_null(json);
	assert_int_equal(reveal(&v, rd, items[3].it_index, &json, &kind), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(reveal(&v, rd, gi[0].it_index, &json, &kind), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(kind, SAKSI_DK_DATA);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(reveal(&v, rd, items[i].it_index, &json, &kind), SAKSI_OK);
		assert_string_equal(json, fis[i].disc);
		free(json);
	}
	saksi_dk_close(rd);
	for (int i = 0; i < 3; i++)
		assert_absent(&v, i);

	/* He comes back: a new key; his old events stay gone. */
	booking(0, 5, &fg[1]);
	commit(&v, &fg[1], 1, &gi[1]);
	assert_int_equal(reveal(&v, v.dk, gi[1].it_index, &json, &kind), SAKSI_OK);
	free(json);
	assert_int_equal(reveal(&v, v.dk, items[0].it_index, &json, &kind), SAKSI_ERR_NOT_FOUND);
	env_close(&v);

	/* The old key file put back (a restored backup): his slot does not open with the
	 * master the appliance holds now, nor do the others' (re-wrapped since). */
	fx_write(v.slots, old_slots, osn, 0600);
	free(old_slots);
	env_open(&v, "three", 0);
	assert_int_equal(reveal(&v, v.dk, items[0].it_index, &json, &kind), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(reveal(&v, v.dk, items[1].it_index, &json, &kind), SAKSI_ERR_NOT_FOUND);
	env_close(&v);

	items_free(items, fis, 5);
	items_free(gi, fg, 2);
}

/*
 * saksid killed after the forget's commit, before the wipe: the ledger holds the pending
 * mark, the slot is intact. The next committer finishes at its start.
 */
static void
test_crash_before_wipe(void **state)
{
	struct env v;
	struct fx_item fi[2];
	saksid_item it[2], *p;
	saksi_ledger_txn *t;
	saksi_hash h;
	uint64_t idx, n;
	uint8_t key[32];
	char *json;
	int kind;

	(void)state;
	env_open(&v, "crash", 1);
	booking(1, 1, &fi[0]);
	commit(&v, fi, 1, it);
	saksid_commit_free(v.c);
	v.c = NULL;

	/* What the committer does for a forget, up to its commit, and no further. */
	forget_req(1, 1, &fi[1]);
	fx_frame1(&fi[1], &it[1]);
	assert_int_equal(saksid_ingest_check(ig, &it[1], FX_NOW), SAKSI_R_ACCEPTED);
	assert_int_equal(saksi_ledger_begin(v.l, 1, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(t, SAKSI_LEAF_EVENT, FX_NOW, it[1].it_env,
	                                     it[1].it_env_len, &idx, h), SAKSI_OK);
	assert_int_equal(saksid_shred_store(v.sh, t, &it[1], idx, h), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	assert_int_equal(saksi_dk_get(v.dk, 0, key), SAKSI_OK);   /* not yet destroyed */
	env_close(&v);

	/* Restart: the committer's start destroys it. */
	env_open(&v, "crash", 1);
	assert_int_equal(saksi_dk_get(v.dk, 0, key), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_dk_generation(v.dk), 2);
	assert_int_equal(reveal(&v, v.dk, it[0].it_index, &json, &kind), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(reveal(&v, v.dk, idx, &json, &kind), SAKSI_ERR_NOT_FOUND);
	/* Done once: a second finish finds nothing pending and does not rotate. */
	assert_int_equal(saksid_shred_finish(v.sh, v.l, 1, &n), SAKSI_OK);
	assert_int_equal(n, 0);
	assert_int_equal(saksi_dk_generation(v.dk), 2);
	/* A group of duplicates only does not touch the keys either. */
	p = &it[0];
	saksid_item_clear(&it[0]);
	fx_frame1(&fi[0], &it[0]);
	assert_int_equal(saksid_ingest_check(ig, &it[0], FX_NOW), SAKSI_R_ACCEPTED);
	assert_int_equal(saksid_commit_group(v.c, &p, 1, FX_NOW), SAKSI_OK);
	assert_int_equal(it[0].it_code, SAKSI_R_DUPLICATE);
	assert_int_equal(saksi_dk_generation(v.dk), 2);
	env_close(&v);
	items_free(it, fi, 2);
}

/*
 * Retention: a participant whose latest event is older than the retention is forgotten by
 * a signed forget entry of the retention key in the first group after the mark; one with
 * a recent event is not.
 */
static void
test_retention(void **state)
{
	struct env v;
	struct fx_item fi[3];
	saksid_item it[3], *p;
	saksid_commit_opts co;
	saksi_ledger_txn *t;
	uint64_t day = 86400000ull, now2 = FX_NOW + 2 * day, n, size;
	uint8_t *leaf;
	size_t ll;
	saksi_leaf lf;
	saksi_envelope env;
	saksi_pubkey pub;
	char *json;
	int kind;

	(void)state;
	env_open(&v, "retention", 0);
	env_commit_opts(&v, &co);
	co.co_retention_ms = day;
	/* A retention key is required, and a signing one. */
	assert_int_equal(saksid_commit_new(&co, &v.c), SAKSI_ERR_KEY);
	co.co_retention_key = fx.store;
	assert_int_equal(saksid_commit_new(&co, &v.c), SAKSI_ERR_KEY);
	co.co_retention_key = spv;
	assert_int_equal(saksid_commit_new(&co, &v.c), SAKSI_OK);

	booking(0, 1, &fi[0]);
	booking(1, 2, &fi[1]);
	commit(&v, fi, 2, it);
	assert_int_equal(saksid_commit_retained(v.c), 0);

	/* Two days later, participant 1 books again; participant 0 has been silent. */
	{
		char bid[] = "BK-20250312-00003";
		const char *set[] = { "nik", NIK[1], "kpj", KPJ[1], "phone", PHONE[1],
		                      "booking_id", bid, NULL };
		char *pl = fx_payload("queue.booking.created", set);
		fx_build(&fx, fx.prod[FX_QUEUE], "queue.booking.created", pl, 3, now2, &fi[2]);
		free(pl);
	}
	fx_frame1(&fi[2], &it[2]);
	assert_int_equal(saksid_ingest_check(ig, &it[2], now2), SAKSI_R_ACCEPTED);
	p = &it[2];
	assert_int_equal(saksid_commit_group(v.c, &p, 1, now2), SAKSI_OK);
	assert_int_equal(it[2].it_code, SAKSI_R_ACCEPTED);
	assert_int_equal(saksid_commit_retained(v.c), 1);
	assert_int_equal(saksid_commit_appended(v.c), 2);
	assert_int_equal(saksi_dk_generation(v.dk), 2);

	/* Entry 3: the retention key's signed request, reason retention_ended. */
	assert_int_equal(saksi_ledger_begin(v.l, 0, &t), SAKSI_OK);
	size = saksi_ledger_size(t);
	assert_int_equal(size, 4);
	assert_int_equal(saksi_ledger_leaf(t, 3, &leaf, &ll), SAKSI_OK);
	saksi_ledger_abort(t);
	assert_int_equal(saksi_leaf_parse(leaf, ll, &lf), SAKSI_OK);
	assert_int_equal(lf.lf_kind, SAKSI_LEAF_EVENT);
	assert_int_equal(saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &env), SAKSI_OK);
	assert_string_equal(env.ev_type, SAKSID_FORGET_TYPE);
	assert_int_equal(saksi_seckey_public(spv, &pub), SAKSI_OK);
	assert_int_equal(saksi_envelope_verify(&env, pub.pk_key), SAKSI_OK);
	assert_non_null(memmem(env.ev_payload, env.ev_payload_len, "retention_ended", 15));
	assert_null(memmem(env.ev_payload, env.ev_payload_len, NIK[0], 16));
	free(leaf);

	assert_int_equal(reveal(&v, v.dk, it[0].it_index, &json, &kind), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(reveal(&v, v.dk, 3, &json, &kind), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(reveal(&v, v.dk, it[1].it_index, &json, &kind), SAKSI_OK);
	free(json);
	assert_int_equal(reveal(&v, v.dk, it[2].it_index, &json, &kind), SAKSI_OK);
	free(json);

	/* Nothing more is due; a pass of its own writes nothing. Five days on, participant
	 * 1 goes too, with the next seq of the retention key. */
	assert_int_equal(saksid_commit_retention(v.c, now2, &n), SAKSI_OK);
	assert_int_equal(n, 0);
	assert_int_equal(saksid_commit_retention(v.c, now2 + 5 * day, &n), SAKSI_OK);
	assert_int_equal(n, 1);
	assert_int_equal(reveal(&v, v.dk, it[2].it_index, &json, &kind), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksid_commit_retained(v.c), 2);
	assert_int_equal(saksid_commit_size(v.c), 5);
	env_close(&v);
	items_free(it, fi, 3);

	/* Without retention, a pass is refused. */
	env_open(&v, "noretention", 1);
	assert_int_equal(saksid_commit_retention(v.c, now2, &n), SAKSI_ERR_INVAL);
	env_close(&v);
}

/* A cancellation (no `nik`) of booking BK-20250310-<nr>, by the queue producer. */
static void
cancel(unsigned nr, uint64_t seq, uint64_t time_ms, struct fx_item *fi)
{
	char bid[32];
	const char *set[] = { "booking_id", bid, NULL };
	char *p;

	snprintf(bid, sizeof(bid), "BK-20250310-%05u", nr);
	p = fx_payload("queue.booking.cancelled", set);
	fx_build(&fx, fx.prod[FX_QUEUE], "queue.booking.cancelled", p, seq, time_ms, fi);
	free(p);
}

/* The key kind and id of leaf idx's blob. */
static void
blob_key(struct env *v, uint64_t idx, int *kind, uint64_t *id)
{
	saksi_ledger_txn *t;
	uint8_t *blob;
	size_t bl;

	assert_int_equal(saksi_ledger_begin(v->l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_disc_get(t, idx, &blob, &bl), SAKSI_OK);
	saksi_ledger_abort(t);
	assert_int_equal(saksi_disc2_key(blob, bl, kind, id), SAKSI_OK);
	free(blob);
}

/* Counts of the `dkey` records 'l' and 'r'; the latest time of slot's 'n' record. */
static void
dkey_records(struct env *v, uint64_t slot, size_t *links, size_t *rlinks, uint64_t *latest)
{
	saksi_ledger_txn *t;
	MDB_txn *mt;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val key, val;
	int rc;

	*links = *rlinks = 0;
	*latest = 0;
	assert_int_equal(saksi_ledger_begin(v->l, 0, &t), SAKSI_OK);
	mt = saksi_ledger_txn_mdb(t);
	assert_int_equal(mdb_dbi_open(mt, "dkey", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(mt, dbi, &cur), 0);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		const uint8_t *k = key.mv_data;

		if (k[0] == 'l') {
			assert_int_equal(key.mv_size, 33);
			assert_int_equal(val.mv_size, 8 + 43);
			(*links)++;
		} else if (k[0] == 'r') {
			assert_int_equal(key.mv_size, 41);
			assert_int_equal(val.mv_size, 0);
			(*rlinks)++;
		} else if (k[0] == 'n' && saksi_get_u64(val.mv_data) == slot)
			*latest = saksi_get_u64((const uint8_t *)val.mv_data + 8);
	}
	assert_int_equal(rc, MDB_NOTFOUND);
	mdb_cursor_close(cur);
	saksi_ledger_abort(t);
}

/*
 * FORMATS.md 7.3 links: an entry without `nik` that names a participant's booking is
 * sealed under his data key in the same group, refreshes his latest time, and goes with
 * his forget; an id named by a newer participant is his; a forget deletes only its own
 * links, and a later entry of a forgotten booking falls back to the store key.
 */
static void
test_links(void **state)
{
	struct env v;
	struct fx_item fi[9];
	saksid_item it[9];
	uint64_t slot0, slot1, id, latest;
	size_t links, rlinks;
	char *json;
	int kind;

	(void)state;
	env_open(&v, "links", 1);
	/* One group: his booking 1, its cancellation, one of booking 99 (nobody's). */
	booking(0, 1, &fi[0]);
	cancel(1, 2, FX_NOW + 10, &fi[1]);
	cancel(99, 3, FX_NOW + 10, &fi[2]);
	commit(&v, fi, 3, it);
	blob_key(&v, it[0].it_index, &kind, &slot0);
	assert_int_equal(kind, SAKSI_DK_DATA);
	blob_key(&v, it[1].it_index, &kind, &id);
	assert_int_equal(kind, SAKSI_DK_DATA);
	assert_int_equal(id, slot0);
	assert_int_equal(reveal(&v, v.dk, it[1].it_index, &json, &kind), SAKSI_OK);
	assert_string_equal(json, fi[1].disc);
	free(json);
	blob_key(&v, it[2].it_index, &kind, &id);
	assert_int_equal(kind, SAKSI_DK_STORE);
	dkey_records(&v, slot0, &links, &rlinks, &latest);
	assert_int_equal(links, 1);
	assert_int_equal(rlinks, 1);
	assert_int_equal(latest, FX_NOW + 10);   /* refreshed by his cancellation */

	/* Participant 1 books under the same id (booking 4 also 1's): the id is his now. */
	{
		char bid[] = "BK-20250310-00001";
		const char *set[] = { "nik", NIK[1], "kpj", KPJ[1], "phone", PHONE[1],
		                      "booking_id", bid, NULL };
		char *p = fx_payload("queue.booking.created", set);

		fx_build(&fx, fx.prod[FX_QUEUE], "queue.booking.created", p, 4, FX_NOW + 20,
		         &fi[3]);
		free(p);
	}
	cancel(1, 5, FX_NOW + 30, &fi[4]);
	commit(&v, &fi[3], 2, &it[3]);
	blob_key(&v, it[3].it_index, &kind, &slot1);
	assert_true(slot1 != slot0);
	blob_key(&v, it[4].it_index, &kind, &id);
	assert_int_equal(kind, SAKSI_DK_DATA);
	assert_int_equal(id, slot1);
	dkey_records(&v, slot0, &links, &rlinks, &latest);
	assert_int_equal(links, 1);
	assert_int_equal(rlinks, 1);   /* participant 0's reverse record went */

	/* Participant 0 forgotten: 1's link stays. */
	forget_req(0, 1, &fi[5]);
	cancel(1, 6, FX_NOW + 40, &fi[6]);
	commit(&v, &fi[5], 2, &it[5]);
	blob_key(&v, it[6].it_index, &kind, &id);
	assert_int_equal(kind, SAKSI_DK_DATA);
	assert_int_equal(id, slot1);
	assert_int_equal(reveal(&v, v.dk, it[1].it_index, &json, &kind), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(reveal(&v, v.dk, it[6].it_index, &json, &kind), SAKSI_OK);
	free(json);

	/* Participant 1 forgotten: no link left; the booking's next entry, the store key. */
	forget_req(1, 2, &fi[7]);
	cancel(1, 7, FX_NOW + 50, &fi[8]);
	commit(&v, &fi[7], 2, &it[7]);
	blob_key(&v, it[8].it_index, &kind, &id);
	assert_int_equal(kind, SAKSI_DK_STORE);
	assert_int_equal(reveal(&v, v.dk, it[4].it_index, &json, &kind), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(reveal(&v, v.dk, it[6].it_index, &json, &kind), SAKSI_ERR_NOT_FOUND);
	dkey_records(&v, slot1, &links, &rlinks, &latest);
	assert_int_equal(links, 0);
	assert_int_equal(rlinks, 0);
	env_close(&v);

	/* A link record of the wrong size (a damaged ledger): an error, not a guess. */
	env_open(&v, "links-bad", 1);
	{
		saksi_ledger_txn *t;
		saksi_hash h;
		MDB_txn *mt;
		MDB_dbi dbi;
		MDB_cursor *cur;
		MDB_val key, val;
		uint8_t short_val[8] = { 0 };

		memset(h, 0, sizeof(h));
		saksid_item_clear(&it[0]);
		commit(&v, fi, 1, it);   /* his booking 1: linked */
		saksid_item_clear(&it[1]);
		fx_frame1(&fi[1], &it[1]);
		assert_int_equal(saksid_ingest_check(ig, &it[1], FX_NOW), SAKSI_R_ACCEPTED);
		assert_int_equal(saksi_ledger_begin(v.l, 1, &t), SAKSI_OK);
		mt = saksi_ledger_txn_mdb(t);
		assert_int_equal(mdb_dbi_open(mt, "dkey", 0, &dbi), 0);
		assert_int_equal(mdb_cursor_open(mt, dbi, &cur), 0);
		key.mv_size = 1;
		key.mv_data = (uint8_t []){ 'l' };
		assert_int_equal(mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE), 0);
		assert_int_equal(((const uint8_t *)key.mv_data)[0], 'l');
		val.mv_size = sizeof(short_val);
		val.mv_data = short_val;
		assert_int_equal(mdb_cursor_put(cur, &key, &val, MDB_CURRENT), 0);
		mdb_cursor_close(cur);
		/* Its cancellation (the error comes before anything is stored). */
		assert_int_equal(saksid_shred_store(v.sh, t, &it[1], 0, h), SAKSI_ERR_CORRUPT);
		saksi_ledger_abort(t);
	}
	env_close(&v);
	items_free(it, fi, 9);
}

static int
prep_on(void **state)
{
	(void)state;
	prep_mode = 1;
	return 0;
}

static int
prep_off(void **state)
{
	(void)state;
	prep_mode = 0;
	return 0;
}

/* Every record of the `dkey` database, in order, as one byte string. */
static uint8_t *
dkey_dump(struct env *v, size_t *len)
{
	saksi_ledger_txn *t;
	MDB_txn *mt;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val key, val;
	uint8_t *b = NULL;
	size_t n = 0;
	int rc;

	assert_int_equal(saksi_ledger_begin(v->l, 0, &t), SAKSI_OK);
	mt = saksi_ledger_txn_mdb(t);
	assert_int_equal(mdb_dbi_open(mt, "dkey", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(mt, dbi, &cur), 0);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		b = realloc(b, n + 4 + key.mv_size + val.mv_size);
		assert_non_null(b);
		saksi_put_u16(b + n, (uint16_t)key.mv_size);
		saksi_put_u16(b + n + 2, (uint16_t)val.mv_size);
		memcpy(b + n + 4, key.mv_data, key.mv_size);
		memcpy(b + n + 4 + key.mv_size, val.mv_data, val.mv_size);
		n += 4 + key.mv_size + val.mv_size;
	}
	assert_int_equal(rc, MDB_NOTFOUND);
	mdb_cursor_close(cur);
	saksi_ledger_abort(t);
	*len = n;
	return b;
}

/*
 * The same groups into two ledgers, once prepared by ingest and once not: the same
 * leaves, the same data-key records (tokens, links, slots), and each entry's
 * disclosures sealed under the same key to the same number of bytes, opening to the same
 * list. Covers a participant's booking, its cancellation (linked), an id nobody has, an
 * event without personal fields, a forget, and his return.
 */
static void
test_prep_same_bytes(void **state)
{
	struct env v[2];
	struct fx_item fi[8];
	saksid_item it[2][8];
	uint8_t *d[2];
	size_t dl[2];

	(void)state;
	booking(0, 1, &fi[0]);
	cancel(1, 2, FX_NOW + 10, &fi[1]);
	cancel(99, 3, FX_NOW + 10, &fi[2]);
	booking(1, 4, &fi[3]);
	{
		char *p = fx_payload("staff.login", NULL);
		fx_build(&fx, fx.prod[FX_STAFF], "staff.login", p, 1, FX_NOW, &fi[4]);
		free(p);
	}
	forget_req(0, 1, &fi[5]);
	booking(0, 5, &fi[6]);
	cancel(4, 6, FX_NOW + 20, &fi[7]);
	for (int m = 0; m < 2; m++) {
		prep_mode = m;
		env_open(&v[m], "same", 1);
		commit(&v[m], fi, 5, it[m]);
		commit(&v[m], &fi[5], 1, &it[m][5]);
		commit(&v[m], &fi[6], 2, &it[m][6]);
	}
	prep_mode = 0;
	for (int i = 0; i < 8; i++) {
		saksi_ledger_txn *t[2];
		uint8_t *leaf[2], *blob[2];
		size_t ll[2], bl[2];
		saksi_err e[2];
		char *json[2];
		int kind[2];
		uint64_t id[2];

		assert_int_equal(it[0][i].it_index, it[1][i].it_index);
		for (int m = 0; m < 2; m++) {
			assert_int_equal(saksi_ledger_begin(v[m].l, 0, &t[m]), SAKSI_OK);
			assert_int_equal(saksi_ledger_leaf(t[m], it[m][i].it_index, &leaf[m], &ll[m]),
			                 SAKSI_OK);
			e[m] = saksi_ledger_disc_get(t[m], it[m][i].it_index, &blob[m], &bl[m]);
			saksi_ledger_abort(t[m]);
		}
		assert_int_equal(ll[0], ll[1]);
		assert_memory_equal(leaf[0], leaf[1], ll[0]);
		assert_int_equal(e[0], e[1]);
		free(leaf[0]);
		free(leaf[1]);
		if (e[0] != SAKSI_OK)
			continue;
		assert_int_equal(bl[0], bl[1]);
		for (int m = 0; m < 2; m++) {
			assert_int_equal(saksi_disc2_key(blob[m], bl[m], &kind[m], &id[m]), SAKSI_OK);
			free(blob[m]);
			e[m] = reveal(&v[m], v[m].dk, it[m][i].it_index, &json[m], &kind[m]);
		}
		assert_int_equal(kind[0], kind[1]);
		assert_int_equal(id[0], id[1]);
		assert_int_equal(e[0], e[1]);
		if (e[0] == SAKSI_OK) {
			assert_string_equal(json[0], json[1]);
			assert_string_equal(json[0], fi[i].disc);
		}
		for (int m = 0; m < 2; m++)
			if (json[m] != NULL) {
				sodium_memzero(json[m], strlen(json[m]));
				free(json[m]);
			}
	}
	for (int m = 0; m < 2; m++)
		d[m] = dkey_dump(&v[m], &dl[m]);
	assert_int_equal(dl[0], dl[1]);
	assert_memory_equal(d[0], d[1], dl[0]);
	assert_int_equal(saksid_shred_wiped(v[0].sh), saksid_shred_wiped(v[1].sh));
	for (int m = 0; m < 2; m++) {
		free(d[m]);
		env_close(&v[m]);
		for (int i = 0; i < 8; i++)
			saksid_item_clear(&it[m][i]);
	}
	for (int i = 0; i < 8; i++)
		fx_item_free(&fi[i]);
}

/* Ingest workers prepare at once, sharing the shred's compression contexts. */
#define PAR_THREADS 4
#define PAR_EACH 8

struct par {
	saksid_item *items;
	size_t n;
};

static void *
par_check(void *arg)
{
	struct par *p = arg;

	for (size_t i = 0; i < p->n; i++)
		if (saksid_ingest_check(ig, &p->items[i], FX_NOW) != SAKSI_R_ACCEPTED ||
		    p->items[i].it_shprep == NULL)
			return p;
	return NULL;
}

static void
test_prep_threads(void **state)
{
	struct fx_item fi[PAR_THREADS * PAR_EACH];
	saksid_item it[PAR_THREADS * PAR_EACH], *ptr[PAR_THREADS * PAR_EACH];
	struct par par[PAR_THREADS];
	pthread_t th[PAR_THREADS];
	struct env v;
	char *json;
	int kind;

	(void)state;
	prep_mode = 1;
	env_open(&v, "threads", 1);
	for (size_t i = 0; i < PAR_THREADS * PAR_EACH; i++) {
		booking((int)(i % 3), i + 1, &fi[i]);
		fx_frame1(&fi[i], &it[i]);
		ptr[i] = &it[i];
	}
	for (int t = 0; t < PAR_THREADS; t++) {
		par[t].items = it + t * PAR_EACH;
		par[t].n = PAR_EACH;
		assert_int_equal(pthread_create(&th[t], NULL, par_check, &par[t]), 0);
	}
	for (int t = 0; t < PAR_THREADS; t++) {
		void *r;
		assert_int_equal(pthread_join(th[t], &r), 0);
		assert_null(r);
	}
	assert_int_equal(saksid_commit_group(v.c, ptr, PAR_THREADS * PAR_EACH, FX_NOW),
	                 SAKSI_OK);
	for (size_t i = 0; i < PAR_THREADS * PAR_EACH; i++) {
		assert_int_equal(it[i].it_code, SAKSI_R_ACCEPTED);
		assert_int_equal(reveal(&v, v.dk, it[i].it_index, &json, &kind), SAKSI_OK);
		assert_int_equal(kind, SAKSI_DK_DATA);
		assert_string_equal(json, fi[i].disc);
		sodium_memzero(json, strlen(json));
		free(json);
	}
	assert_int_equal(given(&v), 3);   /* three participants */
	/* Refused at ingest (the sealed disclosures tampered with, or the signature):
	 * nothing prepared. */
	for (int k = 0; k < 2; k++) {
		saksid_item bad;
		uint8_t *copy = malloc(k == 0 ? fi[0].sealed_len : fi[0].env_len);

		assert_non_null(copy);
		fx_frame1(&fi[0], &bad);
		if (k == 0) {
			memcpy(copy, fi[0].sealed, fi[0].sealed_len);
			copy[fi[0].sealed_len - 1] ^= 1;
			bad.it_sealed = copy;
		} else {
			memcpy(copy, fi[0].env, fi[0].env_len);
			copy[fi[0].env_len - 1] ^= 1;
			bad.it_env = copy;
		}
		assert_int_equal(saksid_ingest_check(ig, &bad, FX_NOW),
		                 k == 0 ? SAKSI_R_DISCLOSURE : SAKSI_R_SIGNATURE);
		assert_null(bad.it_shprep);
		saksid_item_clear(&bad);
		free(copy);
	}
	env_close(&v);
	prep_mode = 0;
	items_free(it, fi, PAR_THREADS * PAR_EACH);
}

/*
 * The data keys made ahead (FORMATS.md 7.3): a batch at start, none made or written by a
 * group, the next batch after a group is answered; a slot handed to a transaction that did
 * not commit, and every slot made ahead by a run that was killed, gets a new key before
 * anyone is given it, so no key ever serves two participants.
 */
static void
test_pool(void **state)
{
	struct env v;
	struct fx_item fi[6];
	saksid_item it[6];
	saksi_ledger_txn *t;
	saksi_hash h;
	uint64_t idx, kid;
	uint8_t *b0, *b1, *k3, *k4, got[32];
	char *json;
	int kind;

	(void)state;
	env_open(&v, "pool", 1);
	assert_int_equal(saksid_shred_fills(v.sh), 1);
	assert_int_equal(saksi_dk_slots(v.dk), 1024);
	assert_int_equal(given(&v), 0);
	b0 = slot_bytes(&v, 0, 1024);

	/* Three new participants in one group: slots 0, 1, 2 as they were made ahead. */
	for (int i = 0; i < 3; i++)
		booking(i, (uint64_t)i + 1, &fi[i]);
	commit(&v, fi, 3, it);
	assert_int_equal(given(&v), 3);
	assert_int_equal(saksid_shred_fills(v.sh), 1);
	b1 = slot_bytes(&v, 0, 1024);
	assert_memory_equal(b0, b1, 1024 * SAKSI_DK_SLOT_SIZE);
	free(b1);
	for (int i = 0; i < 3; i++) {
		uint8_t *blob;
		size_t bl;

		assert_int_equal(reveal(&v, v.dk, it[i].it_index, &json, &kind), SAKSI_OK);
		assert_int_equal(kind, SAKSI_DK_DATA);
		sodium_memzero(json, strlen(json));
		free(json);
		assert_int_equal(saksi_ledger_begin(v.l, 0, &t), SAKSI_OK);
		assert_int_equal(saksi_ledger_disc_get(t, it[i].it_index, &blob, &bl), SAKSI_OK);
		saksi_ledger_abort(t);
		assert_int_equal(saksi_disc2_key(blob, bl, &kind, &kid), SAKSI_OK);
		assert_int_equal(kid, (uint64_t)i);
		free(blob);
	}
	/* Answered, but the slot file may not grow: nothing written ahead, nothing lost
	 * (the chunk is written after a later group). */
	{
		struct rlimit old, lim;

		assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
		signal(SIGXFSZ, SIG_IGN);
		lim = old;
		lim.rlim_cur = (rlim_t)(SAKSI_DK_HDR_SIZE + 1024 * SAKSI_DK_SLOT_SIZE);
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
		saksid_commit_after(v.c);
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
		signal(SIGXFSZ, SIG_DFL);
		assert_int_equal(saksid_shred_fills(v.sh), 1);
		assert_int_equal(saksi_dk_slots(v.dk), 1024);
	}
	/* Answered: a chunk of 256 more written after each group, until two batches are
	 * written ahead of the last slot given (3 + 2048 <= 2304). */
	saksid_commit_after(v.c);
	assert_int_equal(saksid_shred_fills(v.sh), 2);
	assert_int_equal(saksi_dk_slots(v.dk), 1280);
	for (int i = 0; i < 8; i++)
		saksid_commit_after(v.c);
	assert_int_equal(saksid_shred_fills(v.sh), 6);
	assert_int_equal(saksi_dk_slots(v.dk), 2304);
	/* The syncing thread makes them usable a batch at a time, in its own time: waited
	 * for, bounded. */
	for (int i = 0; i < 30000; i++) {
		uint64_t synced, written;

		saksid_commit_after(v.c);
		saksid_shred_pool_marks(v.sh, &synced, &written);
		assert_int_equal(written, 2304);
		if (synced >= 2048)
			break;
		assert_int_equal(synced, 1024);
		usleep(1000);
	}
	{
		uint64_t synced, written;

		/* Synced a batch at a time: the last chunk waits while plenty are left. */
		saksid_shred_pool_marks(v.sh, &synced, &written);
		assert_int_equal(synced, 2048);
	}
	assert_int_equal(saksid_shred_fills(v.sh), 6);
	b1 = slot_bytes(&v, 0, 1024);
	assert_memory_equal(b0, b1, 1024 * SAKSI_DK_SLOT_SIZE);
	free(b1);

	/* A group that hands slot 3 to a new participant, then does not commit. */
	assert_non_null(k3 = sodium_malloc(32));
	assert_non_null(k4 = sodium_malloc(32));
	assert_int_equal(saksi_dk_get(v.dk, 3, k3), SAKSI_OK);
	booking_nik("7371024509880004", 0, 4, &fi[3]);
	fx_frame1(&fi[3], &it[3]);
	assert_int_equal(saksid_ingest_check(ig, &it[3], FX_NOW), SAKSI_R_ACCEPTED);
	assert_int_equal(saksi_ledger_begin(v.l, 1, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(t, SAKSI_LEAF_EVENT, FX_NOW, it[3].it_env,
	                                     it[3].it_env_len, &idx, h), SAKSI_OK);
	assert_int_equal(saksid_shred_store(v.sh, t, &it[3], idx, h), SAKSI_OK);
	saksi_ledger_abort(t);
	/* The next new participant gets slot 3, under a new key. */
	booking_nik("7371024509880005", 1, 5, &fi[4]);
	commit(&v, &fi[4], 1, &it[4]);
	assert_int_equal(given(&v), 4);
	assert_int_equal(saksid_shred_fills(v.sh), 7);
	assert_int_equal(saksi_dk_get(v.dk, 3, got), SAKSI_OK);
	assert_memory_not_equal(got, k3, 32);
	assert_int_equal(reveal(&v, v.dk, it[4].it_index, &json, &kind), SAKSI_OK);
	assert_string_equal(json, fi[4].disc);
	sodium_memzero(json, strlen(json));
	free(json);
	b1 = slot_bytes(&v, 0, 3);
	assert_memory_equal(b0, b1, 3 * SAKSI_DK_SLOT_SIZE);
	free(b1);

	/* Killed with a pool made ahead (synced, handed to no one): at start every slot
	 * from the counter on is made anew, the ones given stay as they are. */
	assert_int_equal(saksi_dk_get(v.dk, 4, k4), SAKSI_OK);
	free(b0);
	b0 = slot_bytes(&v, 0, 2304);
	env_close(&v);
	env_open(&v, "pool", 1);
	assert_int_equal(saksid_shred_fills(v.sh), 1);
	assert_int_equal(saksi_dk_slots(v.dk), 2304);
	assert_int_equal(given(&v), 4);
	b1 = slot_bytes(&v, 0, 2304);
	assert_memory_equal(b0, b1, 4 * SAKSI_DK_SLOT_SIZE);
	for (uint64_t i = 4; i < 2304; i++)
		assert_memory_not_equal(b0 + i * SAKSI_DK_SLOT_SIZE, b1 + i * SAKSI_DK_SLOT_SIZE,
		                        SAKSI_DK_SLOT_SIZE);
	free(b1);
	booking_nik("7371024509880006", 2, 6, &fi[5]);
	commit(&v, &fi[5], 1, &it[5]);
	assert_int_equal(given(&v), 5);
	assert_int_equal(saksi_dk_get(v.dk, 4, got), SAKSI_OK);
	assert_memory_not_equal(got, k4, 32);
	/* Everyone committed still opens, each under his own slot. */
	for (int i = 0; i < 6; i++) {
		if (i == 3)
			continue;
		assert_int_equal(reveal(&v, v.dk, it[i].it_index, &json, &kind), SAKSI_OK);
		assert_string_equal(json, fi[i].disc);
		sodium_memzero(json, strlen(json));
		free(json);
	}
	env_close(&v);
	free(b0);
	sodium_memzero(got, sizeof(got));
	sodium_free(k3);
	sodium_free(k4);
	items_free(it, fi, 6);
}

/* Hostile or odd input to the shredder itself. */
static void
test_errors(void **state)
{
	struct env v;
	saksid_shred *s;
	saksi_seckey *sign;

	(void)state;
	env_open(&v, "errors", 0);
	assert_int_equal(saksid_shred_new(NULL, fx.store, &s), SAKSI_ERR_INVAL);
	assert_null(s);
	assert_int_equal(saksid_shred_new(v.dk, NULL, &s), SAKSI_ERR_KEY);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &sign), SAKSI_OK);
	assert_int_equal(saksid_shred_new(v.dk, sign, &s), SAKSI_ERR_KEY);
	saksi_seckey_free(sign);
	/* Nothing pending: a no-op, no rotation. */
	assert_int_equal(saksid_shred_finish(v.sh, v.l, 1, NULL), SAKSI_OK);
	assert_int_equal(saksi_dk_generation(v.dk), 1);
	/* The workers' half: nothing to prepare without disclosures; free takes NULL. */
	{
		saksid_shred_prep *p = (saksid_shred_prep *)1;
		saksi_envelope ev;
		json_t *o = json_object();

		memset(&ev, 0, sizeof(ev));
		assert_int_equal(saksid_shred_prepare(v.sh, &ev, o, NULL, NULL, 0, NULL, 0, &p),
		                 SAKSI_ERR_INVAL);
		assert_null(p);
		assert_int_equal(saksid_shred_prepare(NULL, &ev, o, NULL, NULL, 0,
		                                      (const uint8_t *)"[]", 2, &p),
		                 SAKSI_ERR_INVAL);
		assert_int_equal(saksid_shred_prepare(v.sh, &ev, NULL, NULL, NULL, 0,
		                                      (const uint8_t *)"[]", 2, &p),
		                 SAKSI_ERR_INVAL);
		assert_int_equal(saksid_shred_prepare(v.sh, &ev, o, NULL, NULL, 1,
		                                      (const uint8_t *)"[]", 2, &p),
		                 SAKSI_ERR_INVAL);
		assert_int_equal(saksid_shred_prepare(v.sh, &ev, o, NULL, NULL, 0,
		                                      (const uint8_t *)"[]", 2, NULL),
		                 SAKSI_ERR_INVAL);
		/* A list pack refuses (empty) is refused here too: the committer then
		 * fails the same way on its own. */
		assert_int_equal(saksid_shred_prepare(v.sh, &ev, o, NULL, NULL, 0,
		                                      (const uint8_t *)"[]", 0, &p),
		                 SAKSI_ERR_FORMAT);
		assert_null(p);
		json_decref(o);
		saksid_shred_prep_free(NULL);
	}
	env_close(&v);
}

/*
 * The back-fill's steps (shred.h) on a ledger this committer wrote (its links there
 * already): marks, done, idempotence (nothing re-sealed, the links made again), and
 * its error paths: NULL arguments, a mark record of the wrong size.
 */
static void
test_backfill_steps(void **state)
{
	struct env v;
	struct fx_item fi[3];
	saksid_item items[3];
	saksid_backfill_stats st;
	saksi_ledger_txn *t;
	uint64_t mark = 7;
	uint8_t bad[3] = { 1, 2, 3 }, bk = 'b';
	MDB_val key = { 1, &bk }, val = { sizeof(bad), bad };
	MDB_dbi dbi;
	int done = 0;

	(void)state;
	env_open(&v, "backfill", 1);
	for (int i = 0; i < 3; i++)
		booking(i, (uint64_t)i + 1, &fi[i]);
	commit(&v, fi, 3, items);
	memset(&st, 0, sizeof(st));
	assert_int_equal(saksi_ledger_begin(v.l, 1, &t), SAKSI_OK);
	assert_int_equal(saksid_shred_backfill_mark(t, &mark), SAKSI_OK);
	assert_int_equal(mark, 0);   /* never run */
	assert_int_equal(saksid_shred_backfill_step(NULL, t, 2, &mark, &done, &st),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksid_shred_backfill_step(v.sh, NULL, 2, &mark, &done, &st),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksid_shred_backfill_step(v.sh, t, 2, NULL, &done, &st),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksid_shred_backfill_step(v.sh, t, 2, &mark, NULL, &st),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksid_shred_backfill_step(v.sh, t, 2, &mark, &done, NULL),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksid_shred_backfill_step(v.sh, t, 2, &mark, &done, &st), SAKSI_OK);
	assert_int_equal(mark, 2);
	assert_false(done);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(v.l, 1, &t), SAKSI_OK);
	assert_int_equal(saksid_shred_backfill_step(v.sh, t, 2, &mark, &done, &st), SAKSI_OK);
	assert_int_equal(mark, 3);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(v.l, 1, &t), SAKSI_OK);
	assert_int_equal(saksid_shred_backfill_step(v.sh, t, 2, &mark, &done, &st), SAKSI_OK);
	assert_true(done);
	assert_int_equal(mark, 3);
	/* Written by this saksid: linked and sealed already, nothing to re-seal. */
	assert_int_equal(st.bf_events, 3);
	assert_int_equal(st.bf_links, 3);
	assert_int_equal(st.bf_resealed, 0);
	assert_int_equal(st.bf_store_left, 0);
	assert_int_equal(st.bf_unopened, 0);
	/* A mark of the wrong size. */
	assert_int_equal(mdb_dbi_open(saksi_ledger_txn_mdb(t), "dkey", 0, &dbi), 0);
	assert_int_equal(mdb_put(saksi_ledger_txn_mdb(t), dbi, &key, &val, 0), 0);
	assert_int_equal(saksid_shred_backfill_mark(t, &mark), SAKSI_ERR_CORRUPT);
	assert_int_equal(saksid_shred_backfill_step(v.sh, t, 2, &mark, &done, &st),
	                 SAKSI_ERR_CORRUPT);
	saksi_ledger_abort(t);
	items_free(items, fi, 3);
	env_close(&v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forget_one_of_three),
		cmocka_unit_test(test_crash_before_wipe),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_links),
		cmocka_unit_test_setup_teardown(test_forget_one_of_three, prep_on, prep_off),
		cmocka_unit_test_setup_teardown(test_crash_before_wipe, prep_on, prep_off),
		cmocka_unit_test_setup_teardown(test_retention, prep_on, prep_off),
		cmocka_unit_test_setup_teardown(test_links, prep_on, prep_off),
		cmocka_unit_test(test_prep_same_bytes),
		cmocka_unit_test(test_prep_threads),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_pool),
		cmocka_unit_test_setup_teardown(test_pool, prep_on, prep_off),
		cmocka_unit_test(test_backfill_steps),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
