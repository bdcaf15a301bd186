/*
 * fuzz_ledger.c: libFuzzer target for lib/ledger.c's readers of hostile bytes: the leaf
 * format (saksi_leaf_parse) and, because a verifier opens a copy of somebody else's
 * ledger.mdb, the stored leaf record (FORMATS.md 7: codec || dict_id || raw_len || data).
 * Each input is parsed as a leaf, then written over leaf 3's record of a real ledger
 * (built once, with a trained zstd dictionary) and read back read-only.
 */
#include <ftw.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "bytes.h"
#include "envelope.h"
#include "fuzz.h"
#include "ledger.h"

#define FZ_LEAVES 24   /* enough to train the dictionary (lo_dict_after below) */
#define FZ_VICTIM 3    /* the leaf whose stored record each input replaces */
#define FZ_MAP (64u << 20)

static char fz_dir[64];

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
cleanup(void)
{
	nftw(fz_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	saksi_ledger_opts o = { .lo_map_size = FZ_MAP, .lo_dict_after = 16 };
	saksi_ledger *l;
	saksi_ledger_txn *t;
	uint8_t body[600];
	uint64_t i;

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	snprintf(fz_dir, sizeof fz_dir, "%s/saksi-fuzz-ledger-XXXXXX",
	         tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	FUZZ_SETUP(mkdtemp(fz_dir) != NULL);
	atexit(cleanup);
	FUZZ_SETUP(saksi_ledger_open(fz_dir, "fuzz.example/log",
	                             "fuzz.example/log+00000000+AQ==", &o, &l) == SAKSI_OK);
	FUZZ_SETUP(saksi_ledger_begin(l, 1, &t) == SAKSI_OK);
	/* Envelope-like bodies that differ a little: what the dictionary is trained on. */
	for (i = 0; i < FZ_LEAVES; i++) {
		int n = snprintf((char *)body, sizeof body,
		                 "{\"branch\":\"KC-MAKASSAR\",\"booking_id\":\"BK-2025-%05llu\","
		                 "\"service\":\"jht_claim\",\"slot_hour\":%llu}",
		                 (unsigned long long)i * 7919, (unsigned long long)i % 24);
		memset(body + n, (int)i, sizeof body - (size_t)n);
		FUZZ_SETUP(saksi_ledger_append(t, SAKSI_LEAF_EVENT, 1741564800000 + i, body,
		                               sizeof body - i * 13, NULL, NULL) == SAKSI_OK);
	}
	FUZZ_SETUP(saksi_ledger_commit(t) == SAKSI_OK);
	saksi_ledger_close(l);
	return 0;
}

static void
leaf(const uint8_t *data, size_t size)
{
	saksi_envelope ev;
	saksi_leaf lf;

	if (saksi_leaf_parse(data, size, &lf) != SAKSI_OK)
		return;
	FUZZ_CHECK(size >= SAKSI_LEAF_HDR && size <= SAKSI_LEAF_MAX && data[0] == 1 &&
	               (lf.lf_kind == SAKSI_LEAF_EVENT || lf.lf_kind == SAKSI_LEAF_REFUSALS),
	           "accepted a leaf FORMATS.md 4 does not allow");
	FUZZ_CHECK(lf.lf_body == data + SAKSI_LEAF_HDR &&
	               lf.lf_body_len == size - SAKSI_LEAF_HDR &&
	               lf.lf_commit_ms == saksi_get_u64(data + 2) &&
	               memcmp(lf.lf_prev_root, data + 10, SAKSI_HASH_LEN) == 0,
	           "leaf fields are not the bytes");
	/* What a verifier does next with an event leaf. */
	if (lf.lf_kind == SAKSI_LEAF_EVENT)
		(void)saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &ev);
}

/* Writes rec as leaf FZ_VICTIM's stored record, directly with LMDB. */
static void
put_record(const uint8_t *rec, size_t len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t k[8];
	MDB_val key = { sizeof k, k }, val = { len, (void *)rec };

	saksi_put_u64(k, FZ_VICTIM);
	FUZZ_SETUP(mdb_env_create(&env) == 0);
	FUZZ_SETUP(mdb_env_set_maxdbs(env, 32) == 0 && mdb_env_set_mapsize(env, FZ_MAP) == 0);
	/* No sync: the file is thrown away, and a sync per input would be the whole cost. */
	FUZZ_SETUP(mdb_env_open(env, fz_dir, MDB_NOTLS | MDB_NOSYNC, 0600) == 0);
	FUZZ_SETUP(mdb_txn_begin(env, NULL, 0, &txn) == 0);
	FUZZ_SETUP(mdb_dbi_open(txn, "leaf", 0, &dbi) == 0);
	/* LMDB refuses empty values; an empty record is as good as a 1-byte one here. */
	if (len == 0)
		val.mv_size = 1, val.mv_data = (void *)"";
	FUZZ_SETUP(mdb_put(txn, dbi, &key, &val, 0) == 0);
	FUZZ_SETUP(mdb_txn_commit(txn) == 0);
	mdb_env_close(env);
}

static void
stored(const uint8_t *data, size_t size)
{
	saksi_ledger_opts o = { .lo_readonly = 1 };
	saksi_ledger *l;
	saksi_ledger_txn *t;
	saksi_hash root;
	uint8_t *lf = NULL;
	size_t len = 0, slen;
	saksi_err e;

	if (size > 2 * SAKSI_LEAF_MAX)
		return;
	put_record(data, size);
	e = saksi_ledger_open(fz_dir, NULL, NULL, &o, &l);
	FUZZ_CHECK(e == SAKSI_OK, "the record of one inner leaf broke open: %d", e);
	FUZZ_SETUP(saksi_ledger_begin(l, 0, &t) == SAKSI_OK);
	FUZZ_CHECK(saksi_ledger_size(t) == FZ_LEAVES, "size changed");
	e = saksi_ledger_leaf(t, FZ_VICTIM, &lf, &len);
	if (e == SAKSI_OK) {
		FUZZ_CHECK(lf != NULL && len >= SAKSI_LEAF_HDR && len <= SAKSI_LEAF_MAX &&
		               size >= 9 && len == saksi_get_u32(data + 5),
		           "decoded %zu bytes, record says %u", len,
		           size >= 9 ? saksi_get_u32(data + 5) : 0);
		/* Raw records are the leaf itself. */
		if (data[0] == 0)
			FUZZ_CHECK(size == 9 + len && memcmp(lf, data + 9, len) == 0,
			           "raw record decoded to other bytes");
		free(lf);
	} else
		FUZZ_CHECK(e == SAKSI_ERR_CORRUPT && lf == NULL, "leaf read gave %d", e);
	FUZZ_CHECK(saksi_ledger_leaf_stored_len(t, FZ_VICTIM, &slen) == SAKSI_OK &&
	               slen == (size ? size : 1),
	           "stored length");
	/* The neighbours and the tree do not depend on leaf 3's record. */
	FUZZ_CHECK(saksi_ledger_leaf(t, FZ_VICTIM + 1, &lf, &len) == SAKSI_OK, "leaf 4");
	free(lf);
	FUZZ_CHECK(saksi_ledger_root(t, FZ_LEAVES, root) == SAKSI_OK, "root");
	FUZZ_SETUP(saksi_ledger_commit(t) == SAKSI_OK);
	saksi_ledger_close(l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if ((copy = (uint8_t *)fuzz_copy(data, size, 0)) == NULL)
		return 0;
	leaf(copy, size);
	free(copy);
	stored(data, size);
	return 0;
}
