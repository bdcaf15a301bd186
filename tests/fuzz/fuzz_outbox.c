/*
 * fuzz_outbox.c: libFuzzer target for the records of a producer's outbox (lib/outbox.c,
 * docs/outbox.md): its LMDB is the producer's own, but a disk error, a half-restored
 * backup or a hand edit makes it hostile, and the readers must refuse what contradicts
 * the format (SAKSI_ERR_CORRUPT, SAKSI_ERR_VERSION), never read past a record's end.
 * The first byte picks the record (a queue entry, a dead letter, a kept receipt, a
 * sequence floor, the format or the next id), the rest is its value, written with LMDB
 * directly into a real outbox; then the outbox is opened and read through its public
 * functions (status, receipts, dead letters, seq), and the record is removed again.
 */
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "bytes.h"
#include "fuzz.h"
#include "outbox.h"

#define FZ_MAP (16u << 20)

/* Set once by LLVMFuzzerInitialize, read-only afterwards. */
static char fz_dir[64];

static const struct {
	const char *db;
	const char *key;   /* NULL: the 8-byte id 1 */
	size_t klen;
} fz_rec[] = {
	{ "queue", NULL, 8 },
	{ "dead", NULL, 8 },
	{ "rcpt", NULL, 8 },
	{ "seq", "\x01\x02\x03\x04\x05\x06\x07\x08", 8 },
	{ "meta", "format", 6 },
	{ "meta", "next_id", 7 },
};
#define FZ_NREC (sizeof(fz_rec) / sizeof(fz_rec[0]))

static void
cleanup(void)
{
	fuzz_rmtree(fz_dir);
}

/* Puts (val non-NULL) or deletes record r, with LMDB directly. */
static void
raw(size_t r, const uint8_t *v, size_t vlen)
{
	uint8_t id[8];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, val = { vlen, (void *)v };
	int rc;

	saksi_put_u64(id, 1);
	k.mv_data = fz_rec[r].key != NULL ? (void *)fz_rec[r].key : id;
	k.mv_size = fz_rec[r].klen;
	FUZZ_SETUP(mdb_env_create(&env) == 0);
	FUZZ_SETUP(mdb_env_set_maxdbs(env, 8) == 0 && mdb_env_set_mapsize(env, FZ_MAP) == 0);
	FUZZ_SETUP(mdb_env_open(env, fz_dir, MDB_NOTLS | MDB_NOSYNC, 0600) == 0);
	FUZZ_SETUP(mdb_txn_begin(env, NULL, 0, &txn) == 0);
	FUZZ_SETUP(mdb_dbi_open(txn, fz_rec[r].db, MDB_CREATE, &dbi) == 0);
	if (v != NULL)
		rc = mdb_put(txn, dbi, &k, &val, 0);
	else if ((rc = mdb_del(txn, dbi, &k, NULL)) == MDB_NOTFOUND)
		rc = 0;
	FUZZ_SETUP(rc == 0 || rc == MDB_BAD_VALSIZE);
	FUZZ_SETUP(mdb_txn_commit(txn) == 0);
	mdb_env_close(env);
}

static void
on_receipt(void *arg, const saksi_outbox_receipt *r)
{
	volatile uint8_t x = 0;

	(void)arg;
	/* Touch every byte handed out: ASan sees any that is not the record's. */
	for (size_t i = 0; i < r->or_env_len; i++)
		x ^= r->or_env[i];
	FUZZ_CHECK(strlen(r->or_receipt) <= r->or_receipt_len, "receipt text runs past");
	(void)x;
}

static void
on_dead(void *arg, const saksi_outbox_dead *d)
{
	volatile uint8_t x = 0;

	(void)arg;
	for (size_t i = 0; i < d->od_env_len; i++)
		x ^= d->od_env[i];
	for (size_t i = 0; i < d->od_sealed_len; i++)
		x ^= d->od_sealed[i];
	FUZZ_CHECK(strlen(d->od_message) < 256, "dead letter message unterminated");
	(void)x;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	saksi_outbox_opts o = { .ob_map_size = FZ_MAP };
	saksi_outbox *ob;

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	FUZZ_SCRATCH(fz_dir, sizeof fz_dir, "fzoutbox");
	atexit(cleanup);
	FUZZ_SETUP(saksi_outbox_open(fz_dir, &o, &ob) == SAKSI_OK);
	saksi_outbox_close(ob);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	saksi_outbox_opts o = { .ob_map_size = FZ_MAP };
	static const uint8_t kid[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	saksi_outbox_status st;
	saksi_outbox *ob;
	uint64_t seq;
	uint8_t *v;
	size_t r;
	saksi_err e;

	if (size < 1 || size > 16384)
		return 0;
	r = data[0] % FZ_NREC;
	/* An exact-size copy, so that ASan sees a read past the record's end even though
	 * LMDB hands out pointers into its map. The map itself is what the readers get. */
	if ((v = (uint8_t *)fuzz_copy(data + 1, size - 1, 0)) == NULL)
		return 0;
	raw(r, v, size - 1);
	free(v);

	e = saksi_outbox_open(fz_dir, &o, &ob);
	FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_CORRUPT || e == SAKSI_ERR_VERSION,
	           "open: %s", saksi_strerror(e));
	if (e == SAKSI_OK) {
		e = saksi_outbox_stat(ob, &st);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_CORRUPT, "stat: %s", saksi_strerror(e));
		e = saksi_outbox_receipts(ob, on_receipt, NULL);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_CORRUPT, "receipts: %s",
		           saksi_strerror(e));
		e = saksi_outbox_dead_list(ob, on_dead, NULL);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_CORRUPT, "dead: %s", saksi_strerror(e));
		e = saksi_outbox_seq_last(ob, kid, &seq);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_CORRUPT, "seq: %s", saksi_strerror(e));
		FUZZ_CHECK(e != SAKSI_OK || r != 3 || size - 1 == 8, "seq of %zu bytes read",
		           size - 1);
		saksi_outbox_close(ob);
	}
	raw(r, NULL, 0);
	return 0;
}
