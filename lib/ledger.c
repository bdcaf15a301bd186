/*
 * ledger.c: the append-only LMDB ledger of FORMATS.md sections 4 and 7: leaves (zstd,
 * later with a dictionary trained on the ledger's own leaves), stored tree nodes, sequence
 * bookkeeping, disclosures, checkpoints. It must never update or delete a leaf, node or
 * checkpoint, and never trust stored bytes when decoding them: a copy may be hostile.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <lmdb.h>
#include <zdict.h>
#include <zstd.h>

#include "bytes.h"
#include "ledger.h"
#include "note.h"

#define DEFAULT_MAP_SIZE ((size_t)64 << 30) /* sparse: only written pages use disk */
#define DEFAULT_DICT_AFTER 1024
#define MAX_READERS 256
#define MAX_DBS 16

#define REC_HDR 9 /* codec (1) || dict_id (4) || raw_len (4) */
#define CODEC_RAW 0
#define CODEC_ZSTD 1
#define CODEC_ZSTD_DICT 2
#define DICT_ID 1 /* the one dictionary this version trains */
/*
 * Level 3 (zstd's default). With the dictionary, 803-byte booking leaves
 * (bench/daemon_ingest) come out at 385-386 bytes at levels 3, 9 and 19 alike, and the
 * mixed events of bench/ingest at 343 bytes against 339 at levels 6 to 9 (+1%, half a
 * percent of all that is stored per event); level 9 takes three to four times as long
 * (~15 us a leaf against ~4 us on the 2-core test machine), and saksid's CPU per event
 * was 9% higher with it in bench/ingest. The committer shares those cores with the ingest
 * workers.
 */
#define ZSTD_LEVEL 3
#define DICT_CAP (16 * 1024)
#define SAMPLE_CAP ((size_t)2 << 20) /* ~100x the dictionary, zstd's advice */
#define DDICT_SLOTS 4

#define FORMAT_VERSION 1

/* One named database per table of FORMATS.md 7, in this order. */
enum { DB_META, DB_LEAF, DB_NODE, DB_CKPT, DB_SEQ, DB_SEQMAX, DB_DISC, DB_DICT, DB_STAT,
	DB__COUNT };
static const char *const db_names[DB__COUNT] = {
	"meta", "leaf", "node", "ckpt", "seq", "seqmax", "disc", "dict", "stat",
};

struct ddict_slot {
	uint32_t ds_id;
	ZSTD_DDict *ds_dd;
};

struct saksi_ledger {
	MDB_env *l_env;
	MDB_dbi l_db[DB__COUNT];
	int l_readonly;

	/*
	 * Writer state: used only between saksi_ledger_begin(write) and its commit or abort,
	 * which l_wmu serialises, so a commit's hand-over of a new dictionary cannot race
	 * the next writer.
	 */
	pthread_mutex_t l_wmu;
	ZSTD_CCtx *l_cctx;
	ZSTD_CDict *l_cdict;    /* the committed dictionary, NULL until trained */
	uint64_t l_next_train;  /* ledger size at which to try training next */
	uint8_t *l_leafbuf;     /* SAKSI_LEAF_MAX */
	uint8_t *l_recbuf;      /* REC_HDR + ZSTD_COMPRESSBOUND(SAKSI_LEAF_MAX) */
	size_t l_reccap;

	/* Decompression dictionaries of committed data, shared by all readers. */
	pthread_mutex_t l_dmu;
	struct ddict_slot l_dd[DDICT_SLOTS];

	/*
	 * Durability, by LMDB transaction id (see sync_to): l_written is the last commit of
	 * this process whose meta page was written, l_synced the newest one known to be on
	 * disk; both only grow (raise_to). They differ only with lo_meta_async, between
	 * saksi_ledger_commit_nosync and saksi_ledger_sync or the next commit (whose
	 * fdatasync covers every earlier meta page). l_smu serialises the syncs, so that
	 * concurrent callers share one fdatasync. l_failed: a sync failed (sticky). l_sfd: with lo_meta_async, the syncs' own open file description
	 * of data.mdb (Linux reports a writeback error once to each description: sharing
	 * LMDB's, an error its commit took would leave the syncer a clean fdatasync over
	 * a meta page that never reached the disk); -1 otherwise.
	 */
	int l_meta_async;
	int l_sfd;
	_Atomic uint64_t l_nsync;   /* fdatasyncs sync_to issued (saksi_ledger_syncs) */
	atomic_int l_distrust;      /* a commit failed with a system error (commit) */
	_Atomic uint64_t l_written, l_synced;
	atomic_int l_failed;
	pthread_mutex_t l_smu;
};

struct saksi_ledger_txn {
	saksi_ledger *t_l;
	MDB_txn *t_mt;
	int t_write;
	saksi_err t_err;        /* sticky failure: the LMDB transaction is already aborted */
	uint64_t t_size;
	/* Frontier: hashes of the perfect subtrees of t_size, so appends read no nodes. */
	int t_fr_ok;
	saksi_hash t_fr[64];
	int t_root_ok;
	saksi_hash t_root;
	ZSTD_DCtx *t_dctx;
	/* A dictionary trained in this transaction: the ledger's only on commit. */
	ZSTD_CDict *t_cdict;
	ZSTD_DDict *t_ddict;
	uint64_t t_next_train;
};

static saksi_err
map_mdb(int rc)
{
	/* A file that is not an LMDB environment is no ledger: a format error. */
	if (rc == MDB_INVALID || rc == MDB_INCOMPATIBLE)
		return SAKSI_ERR_FORMAT;
	return saksi_error_of_mdb(rc);
}

static MDB_val
mval(void *p, size_t n)
{
	MDB_val v;

	v.mv_data = p;
	v.mv_size = n;
	return v;
}

/* Ends a failed write transaction now, so that nothing of it can be committed. */
static saksi_err
poison(saksi_ledger_txn *t, saksi_err e)
{
	if (t->t_mt != NULL) {
		mdb_txn_abort(t->t_mt);
		t->t_mt = NULL;
	}
	t->t_err = e;
	return e;
}

static saksi_err
get(saksi_ledger_txn *t, int db, void *key, size_t klen, MDB_val *val)
{
	MDB_val k = mval(key, klen);

	return map_mdb(mdb_get(t->t_mt, t->t_l->l_db[db], &k, val));
}

/* A put whose failure leaves the transaction unusable for anything but an abort. */
static saksi_err
put(saksi_ledger_txn *t, int db, void *key, size_t klen, const void *data, size_t dlen,
    unsigned flags)
{
	MDB_val k = mval(key, klen), v = mval((void *)(uintptr_t)data, dlen);
	int rc;

	rc = mdb_put(t->t_mt, t->t_l->l_db[db], &k, &v, flags);
	if (rc == MDB_KEYEXIST)
		return SAKSI_ERR_EXISTS; /* the transaction is still intact */
	if (rc != 0)
		return poison(t, map_mdb(rc));
	return SAKSI_OK;
}

static saksi_err
dup_out(const MDB_val *v, int nul, uint8_t **out, size_t *len)
{
	uint8_t *p;

	p = malloc(v->mv_size + (nul ? 1 : 0) + (v->mv_size == 0));
	if (p == NULL)
		return SAKSI_ERR_NOMEM;
	if (v->mv_size > 0)
		memcpy(p, v->mv_data, v->mv_size);
	if (nul)
		p[v->mv_size] = '\0';
	*out = p;
	if (len != NULL)
		*len = v->mv_size;
	return SAKSI_OK;
}

/* Checks a transaction is usable; write = 1 for operations only a writer may do. */
static saksi_err
usable(saksi_ledger_txn *t, int write)
{
	if (t == NULL)
		return SAKSI_ERR_INVAL;
	if (t->t_err != SAKSI_OK)
		return t->t_err;
	if (write && !t->t_write)
		return SAKSI_ERR_INVAL;
	return SAKSI_OK;
}

/* ---- nodes and the tree ---- */

/*
 * A node's key is its stored-hash index (the order of golang.org/x/mod/sumdb/tlog's
 * StoredHashIndex): hashes are numbered in the order appends create them, so every node
 * put is an MDB_APPEND and the node pages stay full. A key of level first would insert at
 * one point per level and leave pages half empty.
 */
saksi_err
saksi_ledger_node_key(uint8_t k[8], unsigned level, uint64_t index)
{
	uint64_t n = index, i = 0;
	unsigned l;

	if (level > 62 || index >= (UINT64_C(1) << (62 - level)))
		return SAKSI_ERR_RANGE;
	for (l = level; l > 0; l--)
		n = 2 * n + 1;
	for (; n > 0; n >>= 1)
		i += n;
	saksi_put_u64(k, i + level);
	return SAKSI_OK;
}

static saksi_err
node_read(saksi_ledger_txn *t, unsigned level, uint64_t index, saksi_hash out)
{
	uint8_t k[8];
	MDB_val v;
	saksi_err e;

	if ((e = saksi_ledger_node_key(k, level, index)) != SAKSI_OK)
		return e;
	if ((e = get(t, DB_NODE, k, sizeof(k), &v)) != SAKSI_OK)
		return e;
	if (v.mv_size != SAKSI_HASH_LEN)
		return SAKSI_ERR_CORRUPT;
	memcpy(out, v.mv_data, SAKSI_HASH_LEN);
	return SAKSI_OK;
}

static int
in_frontier(const saksi_ledger_txn *t, unsigned level, uint64_t index)
{
	return t->t_fr_ok && level < 64 && ((t->t_size >> level) & 1) != 0 &&
	    index == (t->t_size >> level) - 1;
}

/*
 * The merkle reader. Every node asked for lies inside the tree (callers check sizes
 * first), so a missing one means the store contradicts itself.
 */
static saksi_err
node_reader(void *ctx, unsigned level, uint64_t index, saksi_hash out)
{
	saksi_ledger_txn *t = ctx;
	saksi_err e;

	if (in_frontier(t, level, index)) {
		memcpy(out, t->t_fr[level], SAKSI_HASH_LEN);
		return SAKSI_OK;
	}
	e = node_read(t, level, index, out);
	return e == SAKSI_ERR_NOT_FOUND || e == SAKSI_ERR_RANGE ? SAKSI_ERR_CORRUPT : e;
}

static saksi_err
load_frontier(saksi_ledger_txn *t)
{
	saksi_err e;
	unsigned L;

	if (t->t_fr_ok)
		return SAKSI_OK;
	for (L = 0; L < 64; L++) {
		if (((t->t_size >> L) & 1) == 0)
			continue;
		if ((e = node_reader(t, L, (t->t_size >> L) - 1, t->t_fr[L])) != SAKSI_OK)
			return e;
	}
	t->t_fr_ok = 1;
	return SAKSI_OK;
}

static saksi_err
current_root(saksi_ledger_txn *t)
{
	saksi_err e;

	if (t->t_root_ok)
		return SAKSI_OK;
	if ((e = load_frontier(t)) != SAKSI_OK)
		return e;
	if ((e = saksi_merkle_root(node_reader, t, t->t_size, t->t_root)) != SAKSI_OK)
		return e;
	t->t_root_ok = 1;
	return SAKSI_OK;
}

/* ---- compression ---- */

static ZSTD_DCtx *
txn_dctx(saksi_ledger_txn *t)
{
	if (t->t_dctx == NULL)
		t->t_dctx = ZSTD_createDCtx();
	return t->t_dctx;
}

/*
 * The decompression dictionary dict_id as committed (or as trained by this very
 * transaction). Cached DDicts are freed only at close: readers use them unlocked.
 * *tmp is set when the cache is full and the caller must free the DDict.
 */
static saksi_err
ddict_get(saksi_ledger_txn *t, uint32_t dict_id, ZSTD_DDict **out, ZSTD_DDict **tmp)
{
	saksi_ledger *l = t->t_l;
	ZSTD_DDict *dd = NULL;
	uint8_t k[4];
	MDB_val v;
	saksi_err e = SAKSI_OK;
	int i, free_slot = -1;

	*tmp = NULL;
	if (dict_id == DICT_ID && t->t_ddict != NULL) {
		*out = t->t_ddict;
		return SAKSI_OK;
	}
	pthread_mutex_lock(&l->l_dmu);
	for (i = 0; i < DDICT_SLOTS; i++) {
		if (l->l_dd[i].ds_dd != NULL && l->l_dd[i].ds_id == dict_id) {
			*out = l->l_dd[i].ds_dd;
			goto out;
		}
		if (l->l_dd[i].ds_dd == NULL && free_slot < 0)
			free_slot = i;
	}
	saksi_put_u32(k, dict_id);
	e = get(t, DB_DICT, k, sizeof(k), &v);
	if (e == SAKSI_ERR_NOT_FOUND)
		e = SAKSI_ERR_CORRUPT; /* a leaf names a dictionary the ledger lacks */
	if (e != SAKSI_OK)
		goto out;
	if (v.mv_size == 0 || (dd = ZSTD_createDDict(v.mv_data, v.mv_size)) == NULL) {
		e = SAKSI_ERR_CORRUPT;
		goto out;
	}
	if (free_slot >= 0) {
		l->l_dd[free_slot].ds_id = dict_id;
		l->l_dd[free_slot].ds_dd = dd;
	} else
		*tmp = dd;
	*out = dd;
out:
	pthread_mutex_unlock(&l->l_dmu);
	return e;
}

/*
 * Decodes a stored leaf record into a fresh buffer. The record may be hostile: every
 * length is checked, zstd bounds its own reads and writes, and the result must be
 * exactly raw_len bytes from exactly one frame.
 */
static saksi_err
decode_record(saksi_ledger_txn *t, const uint8_t *rec, size_t len, uint8_t **leaf,
              size_t *leaf_len)
{
	ZSTD_DDict *dd = NULL, *tmp = NULL;
	ZSTD_DCtx *dc;
	const uint8_t *src;
	unsigned long long csize;
	uint32_t dict_id, raw_len;
	size_t srclen, n;
	uint8_t codec, *out;
	saksi_err e;

	if (len < REC_HDR)
		return SAKSI_ERR_CORRUPT;
	codec = rec[0];
	dict_id = saksi_get_u32(rec + 1);
	raw_len = saksi_get_u32(rec + 5);
	src = rec + REC_HDR;
	srclen = len - REC_HDR;
	if (raw_len < SAKSI_LEAF_HDR || raw_len > SAKSI_LEAF_MAX)
		return SAKSI_ERR_CORRUPT;
	switch (codec) {
	case CODEC_RAW:
		if (dict_id != 0 || srclen != raw_len)
			return SAKSI_ERR_CORRUPT;
		break;
	case CODEC_ZSTD:
		if (dict_id != 0)
			return SAKSI_ERR_CORRUPT;
		break;
	case CODEC_ZSTD_DICT:
		if (dict_id == 0)
			return SAKSI_ERR_CORRUPT;
		break;
	default:
		return SAKSI_ERR_CORRUPT;
	}
	if ((out = malloc(raw_len)) == NULL)
		return SAKSI_ERR_NOMEM;
	if (codec == CODEC_RAW) {
		memcpy(out, src, raw_len);
		goto done;
	}
	/* One frame, no trailing bytes, and if it states its size, the right one. */
	if (ZSTD_findFrameCompressedSize(src, srclen) != srclen) {
		e = SAKSI_ERR_CORRUPT;
		goto fail;
	}
	csize = ZSTD_getFrameContentSize(src, srclen);
	if (csize == ZSTD_CONTENTSIZE_ERROR ||
	    (csize != ZSTD_CONTENTSIZE_UNKNOWN && csize != raw_len)) {
		e = SAKSI_ERR_CORRUPT;
		goto fail;
	}
	if ((dc = txn_dctx(t)) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto fail;
	}
	if (codec == CODEC_ZSTD_DICT) {
		if ((e = ddict_get(t, dict_id, &dd, &tmp)) != SAKSI_OK)
			goto fail;
		n = ZSTD_decompress_usingDDict(dc, out, raw_len, src, srclen, dd);
		ZSTD_freeDDict(tmp);
	} else
		n = ZSTD_decompressDCtx(dc, out, raw_len, src, srclen);
	if (ZSTD_isError(n) || n != raw_len) {
		e = SAKSI_ERR_CORRUPT;
		goto fail;
	}
done:
	*leaf = out;
	*leaf_len = raw_len;
	return SAKSI_OK;
fail:
	free(out);
	return e;
}

/*
 * Encodes leaf into l_recbuf. Compression failing, or not paying, stores the leaf raw:
 * an append never fails because of compression.
 */
static size_t
encode_record(saksi_ledger_txn *t, const uint8_t *leaf, size_t len)
{
	saksi_ledger *l = t->t_l;
	ZSTD_CDict *cd = t->t_cdict != NULL ? t->t_cdict : l->l_cdict;
	uint8_t *rec = l->l_recbuf;
	size_t n = 0;

	if (ZSTD_CCtx_refCDict(l->l_cctx, cd) == 0)
		n = ZSTD_compress2(l->l_cctx, rec + REC_HDR, l->l_reccap - REC_HDR, leaf, len);
	saksi_put_u32(rec + 5, (uint32_t)len);
	if (n == 0 || ZSTD_isError(n) || n >= len) {
		rec[0] = CODEC_RAW;
		saksi_put_u32(rec + 1, 0);
		memcpy(rec + REC_HDR, leaf, len);
		return REC_HDR + len;
	}
	rec[0] = cd != NULL ? CODEC_ZSTD_DICT : CODEC_ZSTD;
	saksi_put_u32(rec + 1, cd != NULL ? DICT_ID : 0);
	return REC_HDR + n;
}

/*
 * Trains the dictionary on the newest stored leaves (up to SAMPLE_CAP bytes). Any
 * failure, including a leaf that does not decode, just means "not now".
 */
static int
train_dict(saksi_ledger_txn *t, uint8_t **dict, size_t *dict_len)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	uint8_t *samples = NULL, *leaf, *d = NULL;
	size_t *sizes = NULL, used = 0, leaf_len, n;
	unsigned count = 0, cap;
	int rc, ok = 0;

	cap = t->t_size > 1u << 20 ? 1u << 20 : (unsigned)t->t_size;
	samples = malloc(SAMPLE_CAP);
	sizes = calloc(cap ? cap : 1, sizeof(*sizes));
	d = malloc(DICT_CAP);
	if (samples == NULL || sizes == NULL || d == NULL)
		goto out;
	if (mdb_cursor_open(t->t_mt, t->t_l->l_db[DB_LEAF], &c) != 0)
		goto out;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_LAST); rc == 0 && count < cap;
	     rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
		if (decode_record(t, v.mv_data, v.mv_size, &leaf, &leaf_len) != SAKSI_OK)
			goto out;
		if (leaf_len > SAMPLE_CAP - used) {
			free(leaf);
			break;
		}
		memcpy(samples + used, leaf, leaf_len);
		free(leaf);
		used += leaf_len;
		sizes[count++] = leaf_len;
	}
	n = ZDICT_trainFromBuffer(d, DICT_CAP, samples, sizes, count);
	if (ZDICT_isError(n) || n == 0)
		goto out;
	*dict = d;
	*dict_len = n;
	d = NULL;
	ok = 1;
out:
	if (c != NULL)
		mdb_cursor_close(c);
	free(d);
	free(sizes);
	free(samples);
	return ok;
}

/*
 * After an append: once the ledger is big enough, trains and stores the dictionary. One
 * that another writer stored since this handle opened is taken up instead.
 */
static saksi_err
maybe_train(saksi_ledger_txn *t)
{
	saksi_ledger *l = t->t_l;
	ZSTD_CDict *cd = NULL;
	ZSTD_DDict *dd = NULL;
	uint8_t *dict = NULL, k[4];
	size_t dict_len = 0;
	MDB_val v;
	saksi_err e;

	if (l->l_cdict != NULL || t->t_cdict != NULL || t->t_size < t->t_next_train)
		return SAKSI_OK;
	saksi_put_u32(k, DICT_ID);
	e = get(t, DB_DICT, k, sizeof(k), &v);
	if (e == SAKSI_OK) {
		if (v.mv_size == 0 ||
		    (cd = ZSTD_createCDict(v.mv_data, v.mv_size, ZSTD_LEVEL)) == NULL ||
		    (dd = ZSTD_createDDict(v.mv_data, v.mv_size)) == NULL) {
			ZSTD_freeCDict(cd);
			return poison(t, SAKSI_ERR_CORRUPT);
		}
		t->t_cdict = cd;
		t->t_ddict = dd;
		return SAKSI_OK;
	}
	if (e != SAKSI_ERR_NOT_FOUND)
		return poison(t, e);
	if (!train_dict(t, &dict, &dict_len) ||
	    (cd = ZSTD_createCDict(dict, dict_len, ZSTD_LEVEL)) == NULL ||
	    (dd = ZSTD_createDDict(dict, dict_len)) == NULL) {
		ZSTD_freeCDict(cd);
		free(dict);
		t->t_next_train = t->t_size > UINT64_MAX / 2 ? UINT64_MAX : 2 * t->t_size;
		return SAKSI_OK;
	}
	e = put(t, DB_DICT, k, sizeof(k), dict, dict_len, MDB_NOOVERWRITE);
	free(dict);
	if (e != SAKSI_OK) {
		ZSTD_freeCDict(cd);
		ZSTD_freeDDict(dd);
		/* The put ended the transaction, or found what the lookup did not. */
		return e == SAKSI_ERR_EXISTS ? poison(t, SAKSI_ERR_CORRUPT) : e;
	}
	t->t_cdict = cd;
	t->t_ddict = dd;
	return SAKSI_OK;
}

/* ---- open and close ---- */

static int
text_ok(const char *s, size_t max)
{
	size_t n, i;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int
meta_equals(saksi_ledger_txn *t, const char *name, const char *want, saksi_err *e)
{
	MDB_val v;

	*e = get(t, DB_META, (void *)(uintptr_t)name, strlen(name), &v);
	if (*e == SAKSI_ERR_NOT_FOUND)
		*e = SAKSI_ERR_FORMAT;
	if (*e != SAKSI_OK)
		return 0;
	return v.mv_size == strlen(want) && memcmp(v.mv_data, want, v.mv_size) == 0;
}

/* Checks (or, for a new ledger, writes) meta, the leaf table's shape and the dictionary. */
static saksi_err
open_check(saksi_ledger *l, saksi_ledger_txn *t, const char *origin, const char *vkey)
{
	uint8_t fmt[4];
	MDB_cursor *c;
	MDB_stat st;
	MDB_val k, v;
	saksi_err e;
	int rc;

	if ((rc = mdb_stat(t->t_mt, l->l_db[DB_LEAF], &st)) != 0)
		return map_mdb(rc);
	e = get(t, DB_META, "format", 6, &v);
	if (e == SAKSI_ERR_NOT_FOUND) {
		if (l->l_readonly || st.ms_entries != 0)
			return SAKSI_ERR_FORMAT; /* some LMDB environment, not a ledger */
		if (origin == NULL || vkey == NULL)
			return SAKSI_ERR_NOT_FOUND;
		saksi_put_u32(fmt, FORMAT_VERSION);
		if ((e = put(t, DB_META, "format", 6, fmt, 4, MDB_NOOVERWRITE)) != SAKSI_OK ||
		    (e = put(t, DB_META, "origin", 6, origin, strlen(origin),
		        MDB_NOOVERWRITE)) != SAKSI_OK ||
		    (e = put(t, DB_META, "vkey", 4, vkey, strlen(vkey), MDB_NOOVERWRITE)) !=
		        SAKSI_OK)
			return e;
		return SAKSI_OK;
	}
	if (e != SAKSI_OK)
		return e;
	if (v.mv_size != 4)
		return SAKSI_ERR_FORMAT;
	if (saksi_get_u32(v.mv_data) != FORMAT_VERSION)
		return SAKSI_ERR_VERSION;
	if (origin != NULL && !meta_equals(t, "origin", origin, &e))
		return e != SAKSI_OK ? e : SAKSI_ERR_KEY;
	if (vkey != NULL && !meta_equals(t, "vkey", vkey, &e))
		return e != SAKSI_OK ? e : SAKSI_ERR_KEY;

	/*
	 * Tree size is the entry count: the last key must be size - 1, or appends would
	 * extend a broken table. A reader opens anyway, so that a verifier can say what
	 * is missing.
	 */
	if (!l->l_readonly && st.ms_entries > 0) {
		if ((rc = mdb_cursor_open(t->t_mt, l->l_db[DB_LEAF], &c)) != 0)
			return map_mdb(rc);
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
		mdb_cursor_close(c);
		if (rc != 0)
			return map_mdb(rc);
		if (k.mv_size != 8 || saksi_get_u64(k.mv_data) != st.ms_entries - 1)
			return SAKSI_ERR_CORRUPT;
	}
	if (!l->l_readonly) {
		saksi_put_u32(fmt, DICT_ID);
		e = get(t, DB_DICT, fmt, 4, &v);
		if (e == SAKSI_OK) {
			if (v.mv_size == 0 ||
			    (l->l_cdict = ZSTD_createCDict(v.mv_data, v.mv_size, ZSTD_LEVEL)) ==
			        NULL)
				return SAKSI_ERR_CORRUPT;
		} else if (e != SAKSI_ERR_NOT_FOUND)
			return e;
	}
	return SAKSI_OK;
}

/* *a = max(*a, v): the writer's commits and the syncs move l_synced from two threads. */
static void
raise_to(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t cur = atomic_load(a);

	while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

/*
 * Makes the commit with LMDB transaction id `id` durable, and every commit before it.
 *
 * Why this is enough (LMDB 0.9, mdb.c): mdb_txn_commit writes a transaction's pages,
 * fdatasyncs them, and only then writes its meta page, with MDB_NOMETASYNC through the
 * plain descriptor (no O_DSYNC), and then publishes the transaction id to readers
 * (mti_txnid). So a reader that sees id was handed it after that meta write returned,
 * and an fdatasync of data.mdb begun now covers it; l_written, read before the
 * fdatasync, names only commits whose meta write has returned. The writer's sync is
 * mdb_env_sync(env, 1), nothing but that fdatasync (no lock, no transaction state), so
 * it may run in one thread while another holds the write transaction; a reader's
 * environment is MDB_RDONLY, where mdb_env_sync refuses, so it calls fdatasync itself.
 */
static saksi_err
sync_to(saksi_ledger *l, uint64_t id)
{
	saksi_err e = SAKSI_OK;
	uint64_t upto;
	int fd, rc = 0;

	if (atomic_load(&l->l_synced) >= id)
		return SAKSI_OK;
	pthread_mutex_lock(&l->l_smu);
	if (atomic_load(&l->l_failed))
		e = SAKSI_ERR_IO;
	else if (atomic_load(&l->l_synced) < id) {
		upto = atomic_load(&l->l_written);
		if (upto < id)
			upto = id;
		atomic_fetch_add(&l->l_nsync, 1);
		if (l->l_sfd >= 0)
			rc = fdatasync(l->l_sfd) != 0 ? errno : 0;
		else if (!l->l_readonly)
			rc = mdb_env_sync(l->l_env, 1);
		else if (mdb_env_get_fd(l->l_env, &fd) != 0)
			rc = EBADF;
		else if (fdatasync(fd) != 0)
			rc = errno;
		/*
		 * A copy on read-only media or a file system that cannot sync: nobody writes
		 * there, so nothing is waiting to be synced.
		 */
		if (rc == 0 || (l->l_readonly && (rc == EROFS || rc == EINVAL)))
			raise_to(&l->l_synced, upto);
		else {
			/*
			 * After a failed fdatasync the kernel may have dropped the dirty pages
			 * and report the next one clean (Linux): a later commit would then
			 * claim a history that is not on disk. The writer stops here.
			 */
			if (!l->l_readonly)
				atomic_store(&l->l_failed, 1);
			e = SAKSI_ERR_IO;
		}
	}
	pthread_mutex_unlock(&l->l_smu);
	return e;
}

static saksi_err
env_open(saksi_ledger *l, const char *dir, const saksi_ledger_opts *o)
{
	unsigned flags = MDB_NOTLS | (o->lo_readonly ? MDB_RDONLY : 0) |
	                 (!o->lo_readonly && o->lo_meta_async ? MDB_NOMETASYNC : 0);
	int rc, attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = mdb_env_create(&l->l_env)) != 0)
			return map_mdb(rc);
		if ((rc = mdb_env_set_maxdbs(l->l_env, MAX_DBS)) != 0 ||
		    (rc = mdb_env_set_maxreaders(l->l_env, MAX_READERS)) != 0)
			goto fail;
		/* A reader takes the map size the writer recorded unless told otherwise. */
		if (o->lo_map_size != 0 || !o->lo_readonly) {
			rc = mdb_env_set_mapsize(l->l_env,
			    o->lo_map_size ? o->lo_map_size : DEFAULT_MAP_SIZE);
			if (rc != 0)
				goto fail;
		}
		rc = mdb_env_open(l->l_env, dir, flags, 0600);
		if (rc == 0) {
			/*
			 * A reader killed mid-transaction (kill -9 of a `saksi verify`) leaves
			 * its slot in the lock file, and while any other process keeps the
			 * ledger open (the daemon, for years) LMDB keeps every page that slot
			 * could see: the map only grows. Clear the slots of processes that no
			 * longer exist; a failure here is harmless.
			 */
			if (!(flags & MDB_NOLOCK)) {
				int dead = 0;

				(void)mdb_reader_check(l->l_env, &dead);
			}
			return SAKSI_OK;
		}
		/*
		 * A verifier's copy on read-only media has no lock file and cannot create
		 * one; nobody writes such a copy, so reading it without locks is safe.
		 */
		if (o->lo_readonly && attempt == 0 && (rc == EACCES || rc == EROFS)) {
			mdb_env_close(l->l_env);
			l->l_env = NULL;
			flags |= MDB_NOLOCK;
			continue;
		}
fail:
		mdb_env_close(l->l_env);
		l->l_env = NULL;
		return map_mdb(rc);
	}
	return SAKSI_ERR_LEDGER;
}

static saksi_err
data_file_exists(const char *dir, int *exists)
{
	struct stat st;
	char *path;
	size_t dl = strlen(dir);
	int rc, err;

	if ((path = malloc(dl + sizeof("/data.mdb"))) == NULL)
		return SAKSI_ERR_NOMEM;
	memcpy(path, dir, dl);
	memcpy(path + dl, "/data.mdb", sizeof("/data.mdb"));
	rc = stat(path, &st);
	err = errno;
	free(path);
	*exists = rc == 0;
	if (rc != 0 && err != ENOENT && err != ENOTDIR)
		return err == EACCES ? SAKSI_ERR_PERM : SAKSI_ERR_IO;
	return SAKSI_OK;
}

saksi_err
saksi_ledger_open(const char *dir, const char *origin, const char *vkey,
                  const saksi_ledger_opts *opts, saksi_ledger **out)
{
	saksi_ledger_opts o;
	saksi_ledger_txn t;
	saksi_ledger *l;
	saksi_err e;
	int exists, rc, i;

	if (out == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if (dir == NULL || *dir == '\0' || (origin != NULL && !text_ok(origin,
	    SAKSI_ORIGIN_MAX)) || (vkey != NULL && !text_ok(vkey, SAKSI_VKEY_MAX)))
		return SAKSI_ERR_INVAL;
	memset(&o, 0, sizeof(o));
	if (opts != NULL)
		o = *opts;
	if (o.lo_dict_after == 0)
		o.lo_dict_after = DEFAULT_DICT_AFTER;

	if (!o.lo_readonly && mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errno == EACCES ? SAKSI_ERR_PERM : errno == ENOENT ?
		    SAKSI_ERR_NOT_FOUND : SAKSI_ERR_IO;
	if ((e = data_file_exists(dir, &exists)) != SAKSI_OK)
		return e;
	/* Do not leave an empty environment behind for a ledger that cannot be created. */
	if (!exists && (o.lo_readonly || origin == NULL || vkey == NULL))
		return SAKSI_ERR_NOT_FOUND;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SAKSI_ERR_NOMEM;
	l->l_readonly = o.lo_readonly != 0;
	l->l_meta_async = !l->l_readonly && o.lo_meta_async;
	l->l_sfd = -1;
	l->l_next_train = o.lo_dict_after;
	if (pthread_mutex_init(&l->l_wmu, NULL) != 0) {
		free(l);
		return SAKSI_ERR_NOMEM;
	}
	if (pthread_mutex_init(&l->l_dmu, NULL) != 0) {
		pthread_mutex_destroy(&l->l_wmu);
		free(l);
		return SAKSI_ERR_NOMEM;
	}
	if (pthread_mutex_init(&l->l_smu, NULL) != 0) {
		pthread_mutex_destroy(&l->l_dmu);
		pthread_mutex_destroy(&l->l_wmu);
		free(l);
		return SAKSI_ERR_NOMEM;
	}
	if ((e = env_open(l, dir, &o)) != SAKSI_OK)
		goto fail;
	if (l->l_meta_async) {
		char path[PATH_MAX];

		if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >= sizeof(path)) {
			e = SAKSI_ERR_INVAL;
			goto fail;
		}
		if ((l->l_sfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			e = errno == ENOENT ? SAKSI_ERR_NOT_FOUND : SAKSI_ERR_IO;
			goto fail;
		}
	}
	if (!l->l_readonly) {
		l->l_reccap = REC_HDR + ZSTD_COMPRESSBOUND(SAKSI_LEAF_MAX);
		l->l_leafbuf = malloc(SAKSI_LEAF_MAX);
		l->l_recbuf = malloc(l->l_reccap);
		l->l_cctx = ZSTD_createCCtx();
		if (l->l_leafbuf == NULL || l->l_recbuf == NULL || l->l_cctx == NULL) {
			e = SAKSI_ERR_NOMEM;
			goto fail;
		}
		/* Hashes and raw_len already guard the bytes; drop what would repeat them. */
		if (ZSTD_isError(ZSTD_CCtx_setParameter(l->l_cctx, ZSTD_c_compressionLevel,
		        ZSTD_LEVEL)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(l->l_cctx, ZSTD_c_checksumFlag, 0)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(l->l_cctx, ZSTD_c_dictIDFlag, 0))) {
			e = SAKSI_ERR_LEDGER;
			goto fail;
		}
	}

	memset(&t, 0, sizeof(t));
	t.t_l = l;
	rc = mdb_txn_begin(l->l_env, NULL, l->l_readonly ? MDB_RDONLY : 0, &t.t_mt);
	if (rc != 0) {
		e = map_mdb(rc);
		goto fail;
	}
	for (i = 0; i < DB__COUNT; i++) {
		rc = mdb_dbi_open(t.t_mt, db_names[i], l->l_readonly ? 0 : MDB_CREATE,
		    &l->l_db[i]);
		if (rc != 0) {
			e = rc == MDB_NOTFOUND ? SAKSI_ERR_FORMAT : map_mdb(rc);
			goto fail_txn;
		}
	}
	if ((e = open_check(l, &t, origin, vkey)) != SAKSI_OK)
		goto fail_txn;
	/* Committing, even a read transaction, keeps the database handles for the env. */
	rc = mdb_txn_commit(t.t_mt);
	t.t_mt = NULL;
	if (rc != 0) {
		e = map_mdb(rc);
		goto fail;
	}
	/*
	 * The writer starts from a durable state: a predecessor killed between a commit's
	 * meta write and its sync left that commit in the page cache only. By the last id
	 * LMDB published, not the open's own: a transaction that wrote nothing (an existing
	 * ledger) publishes none, and the next commit gets its id, which must not count as
	 * synced already.
	 */
	if (!l->l_readonly) {
		MDB_envinfo info;

		if (mdb_env_info(l->l_env, &info) != 0) {
			e = SAKSI_ERR_IO;
			goto fail;
		}
		if ((e = sync_to(l, info.me_last_txnid)) != SAKSI_OK)
			goto fail;
	}
	*out = l;
	return SAKSI_OK;

fail_txn:
	if (t.t_mt != NULL)
		mdb_txn_abort(t.t_mt);
fail:
	saksi_ledger_close(l);
	return e;
}

void
saksi_ledger_close(saksi_ledger *l)
{
	int i;

	if (l == NULL)
		return;
	if (l->l_env != NULL)
		mdb_env_close(l->l_env);
	for (i = 0; i < DDICT_SLOTS; i++)
		ZSTD_freeDDict(l->l_dd[i].ds_dd);
	ZSTD_freeCDict(l->l_cdict);
	ZSTD_freeCCtx(l->l_cctx);
	free(l->l_leafbuf);
	free(l->l_recbuf);
	if (l->l_sfd >= 0)
		close(l->l_sfd);
	pthread_mutex_destroy(&l->l_smu);
	pthread_mutex_destroy(&l->l_dmu);
	pthread_mutex_destroy(&l->l_wmu);
	free(l);
}

/* ---- backup ---- */

/* errno of a file operation of the backup, as the header documents it. */
static saksi_err
map_errno(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return SAKSI_ERR_NOT_FOUND;
	case EACCES:
	case EPERM:
	case EROFS:
		return SAKSI_ERR_PERM;
	case ENOSPC:
	case EDQUOT:
		return SAKSI_ERR_FULL;
	case EEXIST:
	case ENOTEMPTY:
		return SAKSI_ERR_EXISTS;
	case ENOMEM:
		return SAKSI_ERR_NOMEM;
	default:
		return SAKSI_ERR_IO;
	}
}

/* SAKSI_OK if path is absent or an empty directory (a cheap check before copying; the
 * rename decides, since rename() refuses a non-empty directory). */
static saksi_err
backup_target_free(const char *path)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	saksi_err e = SAKSI_OK;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? SAKSI_OK : map_errno(errno);
	if (!S_ISDIR(st.st_mode))
		return SAKSI_ERR_EXISTS;
	if ((d = opendir(path)) == NULL)
		return map_errno(errno);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			e = SAKSI_ERR_EXISTS;
			break;
		}
	closedir(d);
	return e;
}

static saksi_err
fsync_dir(const char *path)
{
	int fd, rc, err;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return map_errno(errno);
	rc = fsync(fd);
	err = errno;
	close(fd);
	/* Some file systems cannot sync a directory; the data file itself is synced. */
	return rc == 0 || err == EINVAL ? SAKSI_OK : map_errno(err);
}

/* The copy into tmp/data.mdb, synced. */
static saksi_err
backup_copy(MDB_env *env, const char *file)
{
	saksi_err e = SAKSI_OK;
	int fd, rc;

	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return map_errno(errno);
	/* One read snapshot, walked tree by tree: free pages are not copied. */
	if ((rc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT)) != 0)
		e = rc == ENOSPC || rc == EDQUOT || rc == EIO ? map_errno(rc) : map_mdb(rc);
	else if (fsync(fd) != 0)
		e = map_errno(errno);
	if (close(fd) != 0 && e == SAKSI_OK)
		e = map_errno(errno);
	return e;
}

saksi_err
saksi_ledger_backup(saksi_ledger *l, const char *dir)
{
	char *target = NULL, *parent = NULL, *tmp = NULL, *file = NULL;
	const char *base;
	MDB_envinfo info;
	unsigned flags;
	size_t n, plen, blen;
	saksi_err e;
	char *slash;
	int made = 0, copied = 0;

	if (l == NULL || dir == NULL || *dir == '\0')
		return SAKSI_ERR_INVAL;
	/*
	 * Without the lock file our read snapshot is not registered, and a writer in
	 * another process could recycle the pages being copied.
	 */
	if (mdb_env_get_flags(l->l_env, &flags) != 0)
		return SAKSI_ERR_LEDGER;
	if (flags & MDB_NOLOCK)
		return SAKSI_ERR_PERM;

	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if ((target = strndup(dir, n)) == NULL)
		return SAKSI_ERR_NOMEM;
	if ((e = backup_target_free(target)) != SAKSI_OK)
		goto out;
	/* The temporary directory is a sibling, so rename() is atomic and never copies. */
	if ((slash = strrchr(target, '/')) == NULL) {
		parent = strdup(".");
		base = target;
	} else {
		parent = slash == target ? strdup("/") : strndup(target, (size_t)(slash - target));
		base = slash + 1;
	}
	if (parent == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	plen = strlen(parent);
	blen = strlen(base);
	if ((tmp = malloc(plen + blen + sizeof("/..backup-XXXXXX"))) == NULL ||
	    (file = malloc(plen + blen + sizeof("/..backup-XXXXXX/data.mdb"))) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	snprintf(tmp, plen + blen + sizeof("/..backup-XXXXXX"), "%s/.%s.backup-XXXXXX",
	    parent, base);
	if (mkdtemp(tmp) == NULL) { /* mode 0700 */
		e = map_errno(errno);
		goto out;
	}
	made = 1;
	snprintf(file, plen + blen + sizeof("/..backup-XXXXXX/data.mdb"), "%s/data.mdb", tmp);
	copied = 1;
	if ((e = backup_copy(l->l_env, file)) != SAKSI_OK ||
	    (e = fsync_dir(tmp)) != SAKSI_OK)
		goto out;
	/*
	 * The copy's snapshot may be a commit whose meta page is not yet synced (ledger.h,
	 * saksi_ledger_commit_nosync): a backup must not hold a history that a crash of
	 * the machine then undoes in the ledger. Every commit it could see is published
	 * by now, and a sync begun now covers it.
	 */
	if (mdb_env_info(l->l_env, &info) != 0) {
		e = SAKSI_ERR_LEDGER;
		goto out;
	}
	if ((e = sync_to(l, info.me_last_txnid)) != SAKSI_OK)
		goto out;
	if (rename(tmp, target) != 0) {
		e = errno == ENOTDIR || errno == EISDIR ? SAKSI_ERR_EXISTS : map_errno(errno);
		goto out;
	}
	made = copied = 0;
	/* The rename itself must survive a crash before we report success. */
	e = fsync_dir(parent);

out:
	if (copied)
		unlink(file);
	if (made)
		rmdir(tmp);
	free(file);
	free(tmp);
	free(parent);
	free(target);
	return e;
}

/* ---- transactions ---- */

static void
txn_free(saksi_ledger_txn *t)
{
	saksi_ledger *l = t->t_l;

	if (t->t_mt != NULL)
		mdb_txn_abort(t->t_mt);
	ZSTD_freeDCtx(t->t_dctx);
	ZSTD_freeCDict(t->t_cdict);
	ZSTD_freeDDict(t->t_ddict);
	if (t->t_write)
		pthread_mutex_unlock(&l->l_wmu);
	free(t);
}

/* durable: a read transaction sees only commits known to be on disk (sync_to). */
static saksi_err
begin(saksi_ledger *l, int write, int durable, saksi_ledger_txn **out)
{
	saksi_ledger_txn *t;
	MDB_stat st;
	saksi_err e;
	int rc;

	if (out == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if (l == NULL || (write && l->l_readonly))
		return SAKSI_ERR_INVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return SAKSI_ERR_NOMEM;
	t->t_l = l;
	if (write) {
		pthread_mutex_lock(&l->l_wmu);
		t->t_write = 1;
		t->t_next_train = l->l_next_train;
		/* After a failed sync nothing more is built on what may not be on disk. */
		if (atomic_load(&l->l_failed)) {
			txn_free(t);
			return SAKSI_ERR_IO;
		}
	}
	rc = mdb_txn_begin(l->l_env, NULL, write ? 0 : MDB_RDONLY, &t->t_mt);
	if (rc == 0)
		rc = mdb_stat(t->t_mt, l->l_db[DB_LEAF], &st);
	if (rc != 0) {
		txn_free(t);
		return map_mdb(rc);
	}
	/*
	 * A reader must not hand out (a checkpoint, a proof, a backup) what a crash of the
	 * machine could still undo: a commit of saksi_ledger_commit_nosync whose meta page
	 * is not yet synced, here or in the writer's process. This is one fdatasync only
	 * when the snapshot is newer than the last one known to be on disk.
	 */
	if (!write && durable && (e = sync_to(l, mdb_txn_id(t->t_mt))) != SAKSI_OK) {
		txn_free(t);
		return e;
	}
	t->t_size = st.ms_entries;
	*out = t;
	return SAKSI_OK;
}

saksi_err
saksi_ledger_begin(saksi_ledger *l, int write, saksi_ledger_txn **out)
{
	return begin(l, write, 1, out);
}

saksi_err
saksi_ledger_begin_unsynced(saksi_ledger *l, saksi_ledger_txn **out)
{
	return begin(l, 0, 0, out);
}

/*
 * Caches a committed dictionary's DDict, taking ownership of *dd (set to NULL) unless a
 * reader has loaded the same dictionary from the committed data already.
 */
static void
ddict_adopt(saksi_ledger *l, ZSTD_DDict **dd)
{
	int i, free_slot = -1;

	pthread_mutex_lock(&l->l_dmu);
	for (i = 0; i < DDICT_SLOTS; i++) {
		if (l->l_dd[i].ds_dd != NULL && l->l_dd[i].ds_id == DICT_ID) {
			free_slot = -1;
			break;
		}
		if (l->l_dd[i].ds_dd == NULL && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0) {
		l->l_dd[free_slot].ds_id = DICT_ID;
		l->l_dd[free_slot].ds_dd = *dd;
		*dd = NULL;
	}
	pthread_mutex_unlock(&l->l_dmu);
}

/* Commits a write transaction; *id gets its LMDB transaction id. */
static saksi_err
commit(saksi_ledger_txn *t, uint64_t *id)
{
	saksi_ledger *l = t->t_l;
	MDB_envinfo info;
	uint64_t before;
	saksi_err e;
	int rc;

	*id = 0;
	if ((e = t->t_err) != SAKSI_OK || !t->t_write) {
		txn_free(t);
		return e;
	}
	*id = mdb_txn_id(t->t_mt);
	before = atomic_load(&l->l_written);
	rc = mdb_txn_commit(t->t_mt);
	t->t_mt = NULL;
	if (rc != 0) {
		/*
		 * A system error in the commit's own writes or fdatasync (LMDB's own codes
		 * are negative): if it was a writeback error, LMDB's descriptor has taken
		 * it, perhaps for an earlier commit's meta page, and its next fdatasync may
		 * say clean; or it was a write that did not fit (a full disk: LMDB says EIO
		 * for a short write), which passes once space is back. Which, the code
		 * cannot tell, so from now on only the syncs through l_sfd, which see every
		 * writeback error themselves, count: a later commit's own fdatasync no
		 * longer marks earlier commits durable (l_distrust).
		 */
		if (l->l_meta_async && rc > 0)
			atomic_store(&l->l_distrust, 1);
		txn_free(t);
		return map_mdb(rc);
	}
	/* Committed: the writer state follows the data (l_wmu is still held). */
	l->l_next_train = t->t_next_train;
	if (t->t_cdict != NULL) {
		l->l_cdict = t->t_cdict;
		t->t_cdict = NULL;
		ddict_adopt(l, &t->t_ddict);
	}
	/*
	 * A transaction that wrote nothing commits nothing: LMDB publishes no id for it
	 * and the next one gets the same, so it must not count as written or synced.
	 */
	if (mdb_env_info(l->l_env, &info) == 0 && info.me_last_txnid < *id) {
		*id = 0;
		txn_free(t);
		return SAKSI_OK;
	}
	/*
	 * LMDB fdatasynced this commit's pages after every earlier meta write had returned:
	 * those commits are durable now, whatever the syncer is doing.
	 */
	if (!atomic_load(&l->l_failed) && !atomic_load(&l->l_distrust))
		raise_to(&l->l_synced, before);
	/* Its meta page is written: a sync from now on covers it. */
	raise_to(&l->l_written, *id);
	/* Without MDB_NOMETASYNC, LMDB wrote the meta page through its O_DSYNC descriptor. */
	if (!l->l_meta_async)
		raise_to(&l->l_synced, *id);
	txn_free(t);
	return SAKSI_OK;
}

saksi_err
saksi_ledger_commit(saksi_ledger_txn *t)
{
	saksi_ledger *l;
	uint64_t id;
	saksi_err e;

	if (t == NULL)
		return SAKSI_ERR_INVAL;
	l = t->t_l;
	if ((e = commit(t, &id)) != SAKSI_OK || id == 0)
		return e;
	return sync_to(l, id);
}

saksi_err
saksi_ledger_commit_nosync(saksi_ledger_txn *t, uint64_t *ticket)
{
	if (ticket != NULL)
		*ticket = 0;
	if (t == NULL || ticket == NULL) {
		saksi_ledger_abort(t);
		return SAKSI_ERR_INVAL;
	}
	if (!t->t_l->l_meta_async) {
		saksi_ledger_abort(t);
		return SAKSI_ERR_INVAL;
	}
	return commit(t, ticket);
}

int
saksi_ledger_failed(const saksi_ledger *l)
{
	return l != NULL && atomic_load(&l->l_failed) != 0;
}

uint64_t
saksi_ledger_syncs(const saksi_ledger *l)
{
	return l != NULL ? atomic_load(&l->l_nsync) : 0;
}

saksi_err
saksi_ledger_sync(saksi_ledger *l, uint64_t ticket)
{
	if (l == NULL || l->l_readonly)
		return SAKSI_ERR_INVAL;
	return sync_to(l, ticket);
}

void
saksi_ledger_abort(saksi_ledger_txn *t)
{
	if (t != NULL)
		txn_free(t);
}

struct MDB_txn *
saksi_ledger_txn_mdb(saksi_ledger_txn *t)
{
	/* After a failed write the LMDB transaction is gone: hand out nothing. */
	return t != NULL && t->t_err == SAKSI_OK ? t->t_mt : NULL;
}

uint64_t
saksi_ledger_size(saksi_ledger_txn *t)
{
	return t != NULL ? t->t_size : 0;
}

saksi_err
saksi_ledger_meta(saksi_ledger_txn *t, const char *name, char **val)
{
	MDB_val v;
	saksi_err e;

	if (val != NULL)
		*val = NULL;
	if ((e = usable(t, 0)) != SAKSI_OK)
		return e;
	if (name == NULL || val == NULL || *name == '\0' || strlen(name) > 255)
		return SAKSI_ERR_INVAL;
	if ((e = get(t, DB_META, (void *)(uintptr_t)name, strlen(name), &v)) != SAKSI_OK)
		return e;
	return dup_out(&v, 1, (uint8_t **)val, NULL);
}

/* ---- appending ---- */

saksi_err
saksi_ledger_append(saksi_ledger_txn *t, int kind, uint64_t commit_time_ms,
                    const uint8_t *body, size_t body_len, uint64_t *index,
                    saksi_hash leaf_hash)
{
	return saksi_ledger_append_hdr(t, kind, commit_time_ms, body, body_len, index,
	                               leaf_hash, NULL);
}

saksi_err
saksi_ledger_append_hdr(saksi_ledger_txn *t, int kind, uint64_t commit_time_ms,
                        const uint8_t *body, size_t body_len, uint64_t *index,
                        saksi_hash leaf_hash, uint8_t *hdr)
{
	saksi_ledger *l;
	unsigned lev[64], cnt = 0, i;
	uint64_t idx[64], n;
	saksi_hash hs[64], lh;
	uint8_t key[8];
	size_t len, rlen;
	saksi_err e;

	if ((e = usable(t, 1)) != SAKSI_OK)
		return e;
	if ((kind != SAKSI_LEAF_EVENT && kind != SAKSI_LEAF_REFUSALS &&
	    kind != SAKSI_LEAF_ALERT && kind != SAKSI_LEAF_KEYRING) ||
	    (body == NULL && body_len != 0))
		return SAKSI_ERR_INVAL;
	if (body_len > SAKSI_LEAF_MAX - SAKSI_LEAF_HDR)
		return SAKSI_ERR_TOO_LARGE;
	l = t->t_l;
	n = t->t_size;
	if (n == UINT64_MAX)
		return SAKSI_ERR_RANGE;
	if ((e = current_root(t)) != SAKSI_OK)
		return e;

	len = SAKSI_LEAF_HDR + body_len;
	l->l_leafbuf[0] = SAKSI_LEAF_VERSION;
	l->l_leafbuf[1] = (uint8_t)kind;
	saksi_put_u64(l->l_leafbuf + 2, commit_time_ms);
	memcpy(l->l_leafbuf + 10, t->t_root, SAKSI_HASH_LEN);
	if (body_len > 0)
		memcpy(l->l_leafbuf + SAKSI_LEAF_HDR, body, body_len);
	saksi_merkle_leaf_hash(lh, l->l_leafbuf, len);
	if (hdr != NULL)   /* now: training below may reuse the buffer */
		memcpy(hdr, l->l_leafbuf, SAKSI_LEAF_HDR);
	if ((e = saksi_merkle_append(node_reader, t, n, lh, lev, idx, hs, &cnt)) != SAKSI_OK)
		return e;
	if (cnt == 0 || cnt > 64)
		return SAKSI_ERR_LEDGER;
	for (i = 0; i < cnt; i++)
		if (lev[i] > 63)
			return SAKSI_ERR_LEDGER;

	/* From the first put on, any failure ends the transaction: no half-appended leaf. */
	rlen = encode_record(t, l->l_leafbuf, len);
	saksi_put_u64(key, n);
	e = put(t, DB_LEAF, key, 8, l->l_recbuf, rlen, MDB_APPEND);
	for (i = 0; e == SAKSI_OK && i < cnt; i++) {
		if ((e = saksi_ledger_node_key(key, lev[i], idx[i])) != SAKSI_OK)
			break;
		e = put(t, DB_NODE, key, 8, hs[i], SAKSI_HASH_LEN, MDB_APPEND);
	}
	if (e != SAKSI_OK)
		return poison(t, e == SAKSI_ERR_EXISTS ? SAKSI_ERR_CORRUPT : e);

	t->t_size = n + 1;
	for (i = 0; i < cnt; i++)
		memcpy(t->t_fr[lev[i]], hs[i], SAKSI_HASH_LEN);
	if ((e = saksi_merkle_root(node_reader, t, t->t_size, t->t_root)) != SAKSI_OK)
		return poison(t, e);
	if ((e = maybe_train(t)) != SAKSI_OK)
		return e;
	if (index != NULL)
		*index = n;
	if (leaf_hash != NULL)
		memcpy(leaf_hash, lh, SAKSI_HASH_LEN);
	return SAKSI_OK;
}

/* ---- producer sequences ---- */

saksi_err
saksi_ledger_seq_get(saksi_ledger_txn *t, const uint8_t key_id[SAKSI_KEYID_LEN],
                     uint64_t seq, uint64_t *index, saksi_hash env_hash)
{
	uint8_t k[16];
	MDB_val v;
	saksi_err e;

	if ((e = usable(t, 0)) != SAKSI_OK)
		return e;
	if (key_id == NULL)
		return SAKSI_ERR_INVAL;
	memcpy(k, key_id, 8);
	saksi_put_u64(k + 8, seq);
	if ((e = get(t, DB_SEQ, k, sizeof(k), &v)) != SAKSI_OK)
		return e;
	if (v.mv_size != 8 + SAKSI_HASH_LEN)
		return SAKSI_ERR_CORRUPT;
	if (index != NULL)
		*index = saksi_get_u64(v.mv_data);
	if (env_hash != NULL)
		memcpy(env_hash, (uint8_t *)v.mv_data + 8, SAKSI_HASH_LEN);
	return SAKSI_OK;
}

saksi_err
saksi_ledger_seq_last(saksi_ledger_txn *t, const uint8_t key_id[SAKSI_KEYID_LEN],
                      uint64_t *last)
{
	MDB_val v;
	saksi_err e;

	if ((e = usable(t, 0)) != SAKSI_OK)
		return e;
	if (key_id == NULL || last == NULL)
		return SAKSI_ERR_INVAL;
	*last = 0;
	e = get(t, DB_SEQMAX, (void *)(uintptr_t)key_id, SAKSI_KEYID_LEN, &v);
	if (e == SAKSI_ERR_NOT_FOUND)
		return SAKSI_OK;
	if (e != SAKSI_OK)
		return e;
	if (v.mv_size != 8)
		return SAKSI_ERR_CORRUPT;
	*last = saksi_get_u64(v.mv_data);
	return SAKSI_OK;
}

saksi_err
saksi_ledger_seq_put(saksi_ledger_txn *t, const uint8_t key_id[SAKSI_KEYID_LEN],
                     uint64_t seq, uint64_t index, const saksi_hash env_hash)
{
	uint8_t k[16], val[8 + SAKSI_HASH_LEN];
	uint64_t last;
	saksi_err e;

	if ((e = usable(t, 1)) != SAKSI_OK)
		return e;
	if (key_id == NULL || env_hash == NULL || seq == 0)
		return SAKSI_ERR_INVAL;
	if (index >= t->t_size)
		return SAKSI_ERR_RANGE;
	if ((e = saksi_ledger_seq_last(t, key_id, &last)) != SAKSI_OK)
		return e;
	memcpy(k, key_id, 8);
	saksi_put_u64(k + 8, seq);
	saksi_put_u64(val, index);
	memcpy(val + 8, env_hash, SAKSI_HASH_LEN);
	if ((e = put(t, DB_SEQ, k, sizeof(k), val, sizeof(val), MDB_NOOVERWRITE)) != SAKSI_OK)
		return e;
	if (seq <= last)
		return SAKSI_OK;
	saksi_put_u64(val, seq);
	/* seqmax is the one record that changes: it only ever grows. */
	return put(t, DB_SEQMAX, k, 8, val, 8, 0);
}

/* ---- disclosures ---- */

saksi_err
saksi_ledger_disc_put(saksi_ledger_txn *t, uint64_t index, const uint8_t *blob, size_t len)
{
	uint8_t k[8];
	saksi_err e;

	if ((e = usable(t, 1)) != SAKSI_OK)
		return e;
	if (blob == NULL)
		return SAKSI_ERR_INVAL;
	if (index >= t->t_size)
		return SAKSI_ERR_RANGE;
	if (len > SAKSI_DISC_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (len < SAKSI_DISC_MIN || (blob[0] != 0x01 && blob[0] != 0x02))
		return SAKSI_ERR_FORMAT;
	saksi_put_u64(k, index);
	/*
	 * The committer stores each entry's disclosures right after its leaf, so the keys
	 * come in order: appended, the pages stay full (a put in the middle splits a page
	 * in half, and a third of each page stayed empty). A key at or below the last one
	 * is refused by the append without a change, and then put where it belongs.
	 */
	e = put(t, DB_DISC, k, sizeof(k), blob, len, MDB_APPEND | MDB_NOOVERWRITE);
	if (e != SAKSI_ERR_EXISTS)
		return e;
	return put(t, DB_DISC, k, sizeof(k), blob, len, MDB_NOOVERWRITE);
}

saksi_err
saksi_ledger_disc_get(saksi_ledger_txn *t, uint64_t index, uint8_t **blob, size_t *len)
{
	uint8_t k[8];
	MDB_val v;
	saksi_err e;

	if (blob != NULL)
		*blob = NULL;
	if ((e = usable(t, 0)) != SAKSI_OK)
		return e;
	if (blob == NULL || len == NULL)
		return SAKSI_ERR_INVAL;
	saksi_put_u64(k, index);
	if ((e = get(t, DB_DISC, k, sizeof(k), &v)) != SAKSI_OK)
		return e;
	return dup_out(&v, 0, blob, len);
}

/* ---- checkpoints ---- */

saksi_err
saksi_ledger_ckpt_put(saksi_ledger_txn *t, uint64_t size, const char *note, size_t len)
{
	uint8_t k[8];
	saksi_err e;

	if ((e = usable(t, 1)) != SAKSI_OK)
		return e;
	if (note == NULL || len == 0)
		return SAKSI_ERR_INVAL;
	if (len > SAKSI_NOTE_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (size > t->t_size)
		return SAKSI_ERR_RANGE;
	saksi_put_u64(k, size);
	e = put(t, DB_CKPT, k, sizeof(k), note, len, MDB_NOOVERWRITE);
	/* Two signed checkpoints for one size: refuse, never replace (the txn stays usable). */
	return e == SAKSI_ERR_EXISTS ? SAKSI_ERR_CORRUPT : e;
}

static saksi_err
ckpt_out(const MDB_val *k, const MDB_val *v, uint64_t *size, char **note, size_t *len)
{
	saksi_err e;

	if (k->mv_size != 8)
		return SAKSI_ERR_CORRUPT;
	if ((e = dup_out(v, 1, (uint8_t **)note, len)) != SAKSI_OK)
		return e;
	if (size != NULL)
		*size = saksi_get_u64(k->mv_data);
	return SAKSI_OK;
}

saksi_err
saksi_ledger_ckpt_get(saksi_ledger_txn *t, uint64_t size, char **note, size_t *len)
{
	uint8_t k[8];
	MDB_val kv, v;
	saksi_err e;

	if (note != NULL)
		*note = NULL;
	if ((e = usable(t, 0)) != SAKSI_OK)
		return e;
	if (note == NULL || len == NULL)
		return SAKSI_ERR_INVAL;
	saksi_put_u64(k, size);
	if ((e = get(t, DB_CKPT, k, sizeof(k), &v)) != SAKSI_OK)
		return e;
	kv = mval(k, sizeof(k));
	return ckpt_out(&kv, &v, NULL, note, len);
}

/* Positions a cursor on the checkpoint table: op MDB_LAST, or MDB_SET_RANGE at key. */
static saksi_err
ckpt_seek(saksi_ledger_txn *t, MDB_cursor_op op, uint64_t after, uint64_t *size, char **note,
          size_t *len)
{
	MDB_cursor *c;
	uint8_t k[8];
	MDB_val kv, v;
	saksi_err e;
	int rc;

	if (note != NULL)
		*note = NULL;
	if ((e = usable(t, 0)) != SAKSI_OK)
		return e;
	if (size == NULL || note == NULL || len == NULL)
		return SAKSI_ERR_INVAL;
	if (op == MDB_SET_RANGE && after == UINT64_MAX)
		return SAKSI_ERR_NOT_FOUND;
	if ((rc = mdb_cursor_open(t->t_mt, t->t_l->l_db[DB_CKPT], &c)) != 0)
		return map_mdb(rc);
	saksi_put_u64(k, after + 1);
	kv = mval(k, sizeof(k));
	rc = mdb_cursor_get(c, &kv, &v, op);
	e = rc == 0 ? ckpt_out(&kv, &v, size, note, len) : map_mdb(rc);
	mdb_cursor_close(c);
	return e;
}

saksi_err
saksi_ledger_ckpt_latest(saksi_ledger_txn *t, uint64_t *size, char **note, size_t *len)
{
	return ckpt_seek(t, MDB_LAST, 0, size, note, len);
}

saksi_err
saksi_ledger_ckpt_next(saksi_ledger_txn *t, uint64_t after, uint64_t *size, char **note,
                       size_t *len)
{
	return ckpt_seek(t, MDB_SET_RANGE, after, size, note, len);
}

/* ---- refusal counters ---- */

static void
stat_key(uint8_t k[9], int reason, const uint8_t key_id[SAKSI_KEYID_LEN])
{
	k[0] = (uint8_t)reason;
	memcpy(k + 1, key_id, SAKSI_KEYID_LEN);
}

saksi_err
saksi_ledger_stat_get(saksi_ledger_txn *t, int reason, const uint8_t key_id[SAKSI_KEYID_LEN],
                      uint64_t *n)
{
	uint8_t k[9];
	MDB_val v;
	saksi_err e;

	if ((e = usable(t, 0)) != SAKSI_OK)
		return e;
	if (key_id == NULL || n == NULL || reason < 0 || reason > 255)
		return SAKSI_ERR_INVAL;
	*n = 0;
	stat_key(k, reason, key_id);
	e = get(t, DB_STAT, k, sizeof(k), &v);
	if (e == SAKSI_ERR_NOT_FOUND)
		return SAKSI_OK;
	if (e != SAKSI_OK)
		return e;
	if (v.mv_size != 8)
		return SAKSI_ERR_CORRUPT;
	*n = saksi_get_u64(v.mv_data);
	return SAKSI_OK;
}

saksi_err
saksi_ledger_stat_add(saksi_ledger_txn *t, int reason, const uint8_t key_id[SAKSI_KEYID_LEN],
                      uint64_t n)
{
	uint8_t k[9], val[8];
	uint64_t cur;
	saksi_err e;

	if ((e = usable(t, 1)) != SAKSI_OK)
		return e;
	if ((e = saksi_ledger_stat_get(t, reason, key_id, &cur)) != SAKSI_OK)
		return e;
	/* A counter saturates rather than wraps to a small, misleading number. */
	cur = n > UINT64_MAX - cur ? UINT64_MAX : cur + n;
	stat_key(k, reason, key_id);
	saksi_put_u64(val, cur);
	return put(t, DB_STAT, k, sizeof(k), val, sizeof(val), 0);
}

/* ---- reading ---- */

static saksi_err
leaf_record(saksi_ledger_txn *t, uint64_t index, MDB_val *v)
{
	uint8_t k[8];
	saksi_err e;

	if ((e = usable(t, 0)) != SAKSI_OK)
		return e;
	saksi_put_u64(k, index);
	return get(t, DB_LEAF, k, sizeof(k), v);
}

saksi_err
saksi_ledger_leaf(saksi_ledger_txn *t, uint64_t index, uint8_t **leaf, size_t *len)
{
	MDB_val v;
	saksi_err e;

	if (leaf != NULL)
		*leaf = NULL;
	if ((e = usable(t, 0)) != SAKSI_OK)
		return e;
	if (leaf == NULL || len == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = leaf_record(t, index, &v)) != SAKSI_OK)
		return e;
	return decode_record(t, v.mv_data, v.mv_size, leaf, len);
}

saksi_err
saksi_ledger_leaf_stored_len(saksi_ledger_txn *t, uint64_t index, size_t *len)
{
	MDB_val v;
	saksi_err e;

	if (len == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = leaf_record(t, index, &v)) != SAKSI_OK)
		return e;
	*len = v.mv_size;
	return SAKSI_OK;
}

saksi_err
saksi_ledger_node(saksi_ledger_txn *t, unsigned level, uint64_t index, saksi_hash out)
{
	saksi_err e;

	if ((e = usable(t, 0)) != SAKSI_OK)
		return e;
	if (out == NULL)
		return SAKSI_ERR_INVAL;
	return node_read(t, level, index, out);
}

saksi_err
saksi_ledger_root(saksi_ledger_txn *t, uint64_t size, saksi_hash root)
{
	saksi_err e;

	if ((e = usable(t, 0)) != SAKSI_OK)
		return e;
	if (root == NULL)
		return SAKSI_ERR_INVAL;
	if (size > t->t_size)
		return SAKSI_ERR_RANGE;
	if (size == t->t_size) {
		if ((e = current_root(t)) != SAKSI_OK)
			return e;
		memcpy(root, t->t_root, SAKSI_HASH_LEN);
		return SAKSI_OK;
	}
	return saksi_merkle_root(node_reader, t, size, root);
}

saksi_err
saksi_ledger_prove_inclusion(saksi_ledger_txn *t, uint64_t index, uint64_t size,
                             saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], size_t *n)
{
	saksi_err e;

	if ((e = usable(t, 0)) != SAKSI_OK)
		return e;
	if (proof == NULL || n == NULL)
		return SAKSI_ERR_INVAL;
	if (index >= size || size > t->t_size)
		return SAKSI_ERR_RANGE;
	return saksi_merkle_prove_inclusion(node_reader, t, index, size, proof, n);
}

saksi_err
saksi_ledger_prove_consistency(saksi_ledger_txn *t, uint64_t m, uint64_t n,
                               saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], size_t *nproof)
{
	saksi_err e;

	if ((e = usable(t, 0)) != SAKSI_OK)
		return e;
	if (proof == NULL || nproof == NULL)
		return SAKSI_ERR_INVAL;
	if (m == 0 || m > n || n > t->t_size)
		return SAKSI_ERR_RANGE;
	return saksi_merkle_prove_consistency(node_reader, t, m, n, proof, nproof);
}

/* ---- leaf format ---- */

saksi_err
saksi_leaf_parse(const uint8_t *leaf, size_t len, saksi_leaf *out)
{
	if (leaf == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	if (len > SAKSI_LEAF_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (len < SAKSI_LEAF_HDR)
		return SAKSI_ERR_FORMAT;
	if (leaf[0] != SAKSI_LEAF_VERSION)
		return SAKSI_ERR_VERSION;
	if (leaf[1] != SAKSI_LEAF_EVENT && leaf[1] != SAKSI_LEAF_REFUSALS &&
	    leaf[1] != SAKSI_LEAF_ALERT && leaf[1] != SAKSI_LEAF_KEYRING)
		return SAKSI_ERR_FORMAT;
	out->lf_kind = leaf[1];
	out->lf_commit_ms = saksi_get_u64(leaf + 2);
	memcpy(out->lf_prev_root, leaf + 10, SAKSI_HASH_LEN);
	out->lf_body = leaf + SAKSI_LEAF_HDR;
	out->lf_body_len = len - SAKSI_LEAF_HDR;
	return SAKSI_OK;
}
