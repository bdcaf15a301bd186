/*
 * fuzz_ledger.c: libFuzzer target for what reads a ledger copy, which a verifier gets from
 * somebody else: the leaf format (saksi_leaf_parse), refusal summaries
 * (saksi_refusals_parse), stored leaf records (FORMATS.md 7: codec || dict_id || raw_len
 * || zstd frame) and stored checkpoints, read by saksi_ledger_leaf and by the full
 * verification (saksi_verify_ledger). A real ledger is built once: signed envelopes, a
 * refusal summary, a trained zstd dictionary, a signed checkpoint; it verifies. Each input
 * then replaces, written with LMDB directly, either leaf 16's stored record (first byte
 * even) or the checkpoint note (odd), and the copy is opened read-only and verified:
 * it must verify exactly when it still holds the same leaf, or the same checkpoint.
 */
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "bytes.h"
#include "envelope.h"
#include "fuzz.h"
#include "keys.h"
#include "ledger.h"
#include "note.h"
#include "verify.h"

#define FZ_LEAVES 20   /* past lo_dict_after below, so later leaves use the dictionary */
#define FZ_VICTIM 16   /* the leaf whose stored record an input replaces: a dictionary one */
#define FZ_REFUSAL 4   /* this entry is a refusal summary */
#define FZ_MAP (64u << 20)
#define FZ_ORIGIN "fuzz.example/ledger"

/* Set once by LLVMFuzzerInitialize, read-only afterwards. */
static char fz_dir[64];
static saksi_keyring *fz_kr;
static saksi_note_verifier fz_log;
static uint8_t fz_leaf[SAKSI_LEAF_MAX];     /* leaf 16 as appended */
static size_t fz_leaf_len;
static uint8_t fz_rec[2 * SAKSI_LEAF_MAX];  /* its stored record */
static size_t fz_rec_len;
static char fz_note[SAKSI_NOTE_MAX];         /* the checkpoint at FZ_LEAVES */
static size_t fz_note_len;

static void
cleanup(void)
{
	fuzz_rmtree(fz_dir);
}

static void
raw_open(MDB_env **env, MDB_txn **txn, unsigned flags)
{
	FUZZ_SETUP(mdb_env_create(env) == 0);
	FUZZ_SETUP(mdb_env_set_maxdbs(*env, 32) == 0 && mdb_env_set_mapsize(*env, FZ_MAP) == 0);
	/* No sync: the copy is thrown away, and a sync per input would be the whole cost. */
	FUZZ_SETUP(mdb_env_open(*env, fz_dir, MDB_NOTLS | MDB_NOSYNC | flags, 0600) == 0);
	FUZZ_SETUP(mdb_txn_begin(*env, NULL, flags & MDB_RDONLY, txn) == 0);
}

static void
raw_key(uint8_t k[8], uint64_t v)
{
	saksi_put_u64(k, v);
}

/* A producer key and its one-key keyring; the log key and its verifier. */
static void
make_keys(saksi_seckey **prod, uint8_t log_sk[64])
{
	char json[1024], b64[SAKSI_PUBKEY_B64_LEN + 1], id[2 * SAKSI_KEYID_LEN + 1];
	char vkey[SAKSI_VKEY_MAX + 1], err[256];
	uint8_t secret[32], log_pk[32];
	saksi_pubkey pub;

	memset(secret, 0x71, sizeof secret);
	FUZZ_SETUP(saksi_seckey_from_secret(SAKSI_KEY_SIGN, secret, prod) == SAKSI_OK);
	FUZZ_SETUP(saksi_seckey_public(*prod, &pub) == SAKSI_OK);
	FUZZ_SETUP(saksi_pubkey_encode(&pub, b64, sizeof b64) == SAKSI_OK);
	sodium_bin2hex(id, sizeof id, pub.pk_id, SAKSI_KEYID_LEN);
	snprintf(json, sizeof json,
	         "{\"saksi_keyring\":1,\"roles\":{\"queue\":[\"queue.*\"]},\"keys\":[{\"name\":"
	         "\"kiosk\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"queue\","
	         "\"branch\":\"*\",\"revoked_ms\":null}]}",
	         id, b64);
	FUZZ_SETUP(saksi_keyring_parse(json, strlen(json), &fz_kr, err, sizeof err) == SAKSI_OK);
	memset(secret, 0x72, sizeof secret);
	crypto_sign_seed_keypair(log_pk, log_sk, secret);
	FUZZ_SETUP(saksi_note_vkey_format(FZ_ORIGIN, log_pk, vkey, sizeof vkey) == SAKSI_OK);
	FUZZ_SETUP(saksi_note_vkey_parse(vkey, &fz_log) == SAKSI_OK);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	saksi_ledger_opts o = { .lo_map_size = FZ_MAP, .lo_dict_after = 12 };
	saksi_verify_opts vo = { 0 };
	saksi_verify_report r;
	saksi_checkpoint ck;
	saksi_seckey *prod;
	saksi_ledger *l;
	saksi_ledger_txn *t;
	uint8_t log_sk[64], env[SAKSI_ENV_MAX], summary[2 + 29], k[8], *lf;
	char payload[2048], body[512], vkey[SAKSI_VKEY_MAX + 1];
	size_t elen, blen, len;
	MDB_env *menv;
	MDB_txn *mtxn;
	MDB_dbi dbi;
	MDB_val key = { 8, k }, val;
	uint64_t i;
	int n;

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	FUZZ_SCRATCH(fz_dir, sizeof fz_dir, "saksi-fuzz-ledger");
	atexit(cleanup);
	make_keys(&prod, log_sk);
	FUZZ_SETUP(saksi_note_vkey_format(FZ_ORIGIN, log_sk + 32, vkey, sizeof vkey) == SAKSI_OK);
	FUZZ_SETUP(saksi_ledger_open(fz_dir, FZ_ORIGIN, vkey, &o, &l) == SAKSI_OK);
	FUZZ_SETUP(saksi_ledger_begin(l, 1, &t) == SAKSI_OK);
	for (i = 0; i < FZ_LEAVES; i++) {
		if (i == FZ_REFUSAL) {
			saksi_put_u16(summary, 1);
			memset(summary + 2, 0xab, 8);
			summary[10] = 6;                    /* signature */
			saksi_put_u32(summary + 11, 3);
			saksi_put_u64(summary + 15, 1741564800000);
			saksi_put_u64(summary + 23, 1741564800999);
			FUZZ_SETUP(saksi_ledger_append(t, SAKSI_LEAF_REFUSALS, 1741564801000, summary,
			                               sizeof summary, NULL, NULL) == SAKSI_OK);
			continue;
		}
		/* Long and alike, so that zstd pays and the dictionary gets trained. */
		n = snprintf(payload, sizeof payload,
		             "{\"branch\":\"KC-MAKASSAR\",\"booking_id\":\"BK-2025-%05llu\","
		             "\"slot_hour\":%llu,\"note\":\"%0*d\"}",
		             (unsigned long long)i * 7919, (unsigned long long)i % 24,
		             (int)(sizeof payload - 120), (int)i);
		FUZZ_SETUP(saksi_envelope_sign(prod, i + 1, 1741564800000 + i, "queue.called",
		                               (const uint8_t *)payload, (size_t)n, env, sizeof env,
		                               &elen) == SAKSI_OK);
		FUZZ_SETUP(saksi_ledger_append(t, SAKSI_LEAF_EVENT, 1741564801000 + i, env, elen,
		                               NULL, NULL) == SAKSI_OK);
	}
	/* The checkpoint over all of it, signed by the log key. */
	memset(&ck, 0, sizeof ck);
	strcpy(ck.ck_origin, FZ_ORIGIN);
	ck.ck_size = FZ_LEAVES;
	FUZZ_SETUP(saksi_ledger_root(t, FZ_LEAVES, ck.ck_root) == SAKSI_OK);
	FUZZ_SETUP(saksi_checkpoint_format(&ck, body, sizeof body, &blen) == SAKSI_OK);
	FUZZ_SETUP(saksi_note_sign(body, blen, FZ_ORIGIN, log_sk, fz_note, sizeof fz_note,
	                           &fz_note_len) == SAKSI_OK);
	FUZZ_SETUP(saksi_ledger_ckpt_put(t, FZ_LEAVES, fz_note, fz_note_len) == SAKSI_OK);
	FUZZ_SETUP(saksi_ledger_commit(t) == SAKSI_OK);
	FUZZ_SETUP(saksi_ledger_begin(l, 0, &t) == SAKSI_OK);
	FUZZ_SETUP(saksi_ledger_leaf(t, FZ_VICTIM, &lf, &len) == SAKSI_OK);
	memcpy(fz_leaf, lf, len);
	fz_leaf_len = len;
	free(lf);
	FUZZ_SETUP(saksi_ledger_commit(t) == SAKSI_OK);
	saksi_ledger_close(l);
	saksi_seckey_free(prod);
	sodium_memzero(log_sk, sizeof log_sk);

	/* Keep leaf 16's stored record, to put it back under checkpoint inputs. */
	raw_open(&menv, &mtxn, MDB_RDONLY);
	FUZZ_SETUP(mdb_dbi_open(mtxn, "leaf", 0, &dbi) == 0);
	raw_key(k, FZ_VICTIM);
	FUZZ_SETUP(mdb_get(mtxn, dbi, &key, &val) == 0 && val.mv_size <= sizeof fz_rec);
	memcpy(fz_rec, val.mv_data, val.mv_size);
	fz_rec_len = val.mv_size;
	mdb_txn_abort(mtxn);
	mdb_env_close(menv);

	/* The pristine copy verifies: else every property below is moot. */
	o.lo_readonly = 1;
	FUZZ_SETUP(saksi_ledger_open(fz_dir, NULL, NULL, &o, &l) == SAKSI_OK);
	vo.vo_log = &fz_log;
	vo.vo_keyring = fz_kr;
	if (saksi_verify_ledger(l, &vo, &r) != SAKSI_OK)
		fprintf(stderr, "fuzz_ledger: the pristine ledger does not verify: %s\n",
		        r.vr_message);
	FUZZ_SETUP(r.vr_reason == SAKSI_V_OK && r.vr_refusals == 1);
	saksi_ledger_close(l);
	return 0;
}

/* A reference reading of FORMATS.md 4 kind 2 and verify.h's rules, to compare with. */
static int
refusals_ok(const uint8_t *b, size_t len)
{
	size_t n, i;

	if (len < 2 || (n = saksi_get_u16(b)) == 0 || len != 2 + n * 29)
		return 0;
	for (i = 0; i < n; i++) {
		const uint8_t *p = b + 2 + i * 29;

		if (p[8] < 2 || p[8] > 15 || saksi_get_u32(p + 9) == 0 ||
		    saksi_get_u64(p + 13) > saksi_get_u64(p + 21))
			return 0;
	}
	return 1;
}

static void
leaf(const uint8_t *data, size_t size)
{
	saksi_envelope ev;
	saksi_leaf lf;
	unsigned count = 0;
	int ok;

	ok = saksi_refusals_parse(data, size, &count) == SAKSI_OK;
	FUZZ_CHECK(ok == refusals_ok(data, size), "refusals_parse says %d, FORMATS.md %d", ok,
	           !ok);
	FUZZ_CHECK(!ok || count == saksi_get_u16(data), "refusal count");
	if (saksi_leaf_parse(data, size, &lf) != SAKSI_OK)
		return;
	FUZZ_CHECK(size >= SAKSI_LEAF_HDR && size <= SAKSI_LEAF_MAX && data[0] == 1 &&
	               (lf.lf_kind == SAKSI_LEAF_EVENT || lf.lf_kind == SAKSI_LEAF_REFUSALS ||
	                lf.lf_kind == SAKSI_LEAF_ALERT || lf.lf_kind == SAKSI_LEAF_KEYRING),
	           "accepted a leaf FORMATS.md 4 does not allow");
	FUZZ_CHECK(lf.lf_body == data + SAKSI_LEAF_HDR &&
	               lf.lf_body_len == size - SAKSI_LEAF_HDR &&
	               lf.lf_commit_ms == saksi_get_u64(data + 2) &&
	               memcmp(lf.lf_prev_root, data + 10, SAKSI_HASH_LEN) == 0,
	           "leaf fields are not the bytes");
	/* What a verifier does next with the body (alert and keyring bodies have their own
	 * targets: fuzz_alert, fuzz_keylog). */
	if (lf.lf_kind == SAKSI_LEAF_EVENT)
		(void)saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &ev);
	else if (lf.lf_kind == SAKSI_LEAF_REFUSALS)
		(void)saksi_refusals_parse(lf.lf_body, lf.lf_body_len, NULL);
}

/* Leaf 16's record and the checkpoint note: one from the input, the other as built. */
static void
put_store(const uint8_t *rec, size_t rec_len, const char *note, size_t note_len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi leaf_db, ckpt_db;
	uint8_t k[8];
	MDB_val key = { sizeof k, k }, val;

	raw_open(&env, &txn, 0);
	FUZZ_SETUP(mdb_dbi_open(txn, "leaf", 0, &leaf_db) == 0);
	FUZZ_SETUP(mdb_dbi_open(txn, "ckpt", 0, &ckpt_db) == 0);
	raw_key(k, FZ_VICTIM);
	/* LMDB stores no empty value; one zero byte is as bad a record or note. */
	val.mv_size = rec_len ? rec_len : 1;
	val.mv_data = rec_len ? (void *)rec : (void *)"";
	FUZZ_SETUP(mdb_put(txn, leaf_db, &key, &val, 0) == 0);
	raw_key(k, FZ_LEAVES);
	val.mv_size = note_len ? note_len : 1;
	val.mv_data = note_len ? (void *)note : (void *)"";
	FUZZ_SETUP(mdb_put(txn, ckpt_db, &key, &val, 0) == 0);
	FUZZ_SETUP(mdb_txn_commit(txn) == 0);
	mdb_env_close(env);
}

static void
stored(const uint8_t *data, size_t size)
{
	saksi_ledger_opts o = { .lo_readonly = 1 };
	saksi_verify_opts vo = { .vo_log = &fz_log, .vo_keyring = fz_kr };
	saksi_verify_report r;
	saksi_ledger *l;
	saksi_ledger_txn *t;
	saksi_hash root;
	uint8_t *lf = NULL;
	size_t len = 0, slen;
	int ckpt_mode, same;
	saksi_err e;

	if (size < 1 || size > 2 * SAKSI_LEAF_MAX)
		return;
	ckpt_mode = data[0] & 1;
	data++, size--;
	if (ckpt_mode)
		put_store(fz_rec, fz_rec_len, (const char *)data, size);
	else
		put_store(data, size, fz_note, fz_note_len);

	e = saksi_ledger_open(fz_dir, NULL, NULL, &o, &l);
	FUZZ_CHECK(e == SAKSI_OK, "one inner leaf record or a checkpoint broke open: %d", e);
	FUZZ_SETUP(saksi_ledger_begin(l, 0, &t) == SAKSI_OK);
	FUZZ_CHECK(saksi_ledger_size(t) == FZ_LEAVES, "size changed");
	e = saksi_ledger_leaf(t, FZ_VICTIM, &lf, &len);
	if (e == SAKSI_OK) {
		FUZZ_CHECK(lf != NULL && len >= SAKSI_LEAF_HDR && len <= SAKSI_LEAF_MAX,
		           "decoded %zu bytes", len);
		if (!ckpt_mode) {
			FUZZ_CHECK(size >= 9 && len == saksi_get_u32(data + 5),
			           "decoded %zu bytes, the record says otherwise", len);
			/* A raw record is the leaf itself. */
			if (data[0] == 0)
				FUZZ_CHECK(size == 9 + len && memcmp(lf, data + 9, len) == 0,
				           "raw record decoded to other bytes");
		}
		same = len == fz_leaf_len && memcmp(lf, fz_leaf, len) == 0;
		free(lf);
	} else {
		FUZZ_CHECK(e == SAKSI_ERR_CORRUPT && lf == NULL, "leaf read gave %d", e);
		same = 0;
	}
	FUZZ_CHECK(saksi_ledger_leaf_stored_len(t, FZ_VICTIM, &slen) == SAKSI_OK,
	           "stored length");
	FUZZ_CHECK(saksi_ledger_leaf(t, FZ_VICTIM + 1, &lf, &len) == SAKSI_OK, "leaf 4");
	free(lf);
	FUZZ_CHECK(saksi_ledger_root(t, FZ_LEAVES, root) == SAKSI_OK, "stored root");
	FUZZ_SETUP(saksi_ledger_commit(t) == SAKSI_OK);

	/* The differential check: the copy verifies iff it holds what was signed. */
	e = saksi_verify_ledger(l, &vo, &r);
	FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_CORRUPT, "verify gave %d: %s", e,
	           r.vr_message);
	FUZZ_CHECK((e == SAKSI_OK) == (r.vr_reason == SAKSI_V_OK), "reason %d with %d",
	           r.vr_reason, e);
	if (!ckpt_mode) {
		FUZZ_CHECK((e == SAKSI_OK) == same, "verify %d but leaf 16 %s: %s", e,
		           same ? "unchanged" : "changed", r.vr_message);
		if (e != SAKSI_OK)
			FUZZ_CHECK(r.vr_index == FZ_VICTIM &&
			               (r.vr_reason == SAKSI_V_LEAF_STORAGE ||
			                r.vr_reason == SAKSI_V_LEAF_FORMAT ||
			                r.vr_reason == SAKSI_V_ENVELOPE_FORMAT ||
			                r.vr_reason == SAKSI_V_UNKNOWN_KEY ||
			                r.vr_reason == SAKSI_V_SIGNATURE ||
			                r.vr_reason == SAKSI_V_REFUSALS_FORMAT ||
			                r.vr_reason == SAKSI_V_PREV_ROOT ||
			                r.vr_reason == SAKSI_V_NODE),
			           "a bad leaf 16 reported as %d at %llu: %s", r.vr_reason,
			           (unsigned long long)r.vr_index, r.vr_message);
	} else if (e == SAKSI_OK) {
		/* Nobody can sign for the log: only the checkpoint as signed (or libsodium's
		 * base64 alias of it, see fuzz.h) may verify. */
		FUZZ_CHECK(FUZZ_SAME_TEXT(data, size, fz_note, fz_note_len),
		           "a checkpoint the log never signed verified");
	} else
		FUZZ_CHECK(r.vr_reason >= SAKSI_V_CKPT_FORMAT && r.vr_reason <= SAKSI_V_UNSIGNED,
		           "a bad checkpoint reported as %d: %s", r.vr_reason, r.vr_message);
	saksi_ledger_close(l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	/* Byte 0 is stored()'s mode; every reader gets the rest. */
	if (size < 1 || (copy = (uint8_t *)fuzz_copy(data + 1, size - 1, 0)) == NULL)
		return 0;
	leaf(copy, size - 1);
	free(copy);
	stored(data, size);
	return 0;
}
