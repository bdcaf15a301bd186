/*
 * ledger.h: the append-only LMDB ledger (FORMATS.md sections 4 and 7). There is no
 * function that updates or deletes a leaf, node or checkpoint: only appends.
 *
 * Threads: one write transaction at a time (LMDB's rule); any number of read
 * transactions from any thread (the environment is opened MDB_NOTLS). A transaction is
 * used by one thread at a time; a write transaction must end (commit or abort) in the
 * thread that began it (LMDB's rule for writers), and one thread must not begin a second
 * write transaction before ending its first. Durability: saksi_ledger_commit returns
 * SAKSI_OK only after LMDB has synced the commit to disk.
 *
 * Errors common to every function taking a txn: SAKSI_ERR_INVAL for a NULL argument or a
 * write operation in a read transaction; after any failed write (SAKSI_ERR_FULL, a failed
 * append) the write transaction is already rolled back and every later call on it returns
 * that same error until it is committed (which returns it) or aborted. Stored records that
 * contradict the format give SAKSI_ERR_CORRUPT; LMDB failures map to SAKSI_ERR_LEDGER,
 * SAKSI_ERR_IO or SAKSI_ERR_NOMEM.
 */
#ifndef SAKSI_LEDGER_H
#define SAKSI_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "merkle.h"
#include "saksi_error.h"

#define SAKSI_LEAF_VERSION 1
#define SAKSI_LEAF_HDR 42
#define SAKSI_LEAF_MAX 65535
/* Disclosures at rest (FORMATS.md 7.1): 34-byte header, then ciphertext with its tag. */
#define SAKSI_DISC_MIN (1 + 1 + 8 + 24 + 16)
#define SAKSI_DISC_MAX (SAKSI_DISC_MIN + 65536)

enum saksi_leaf_kind {
	SAKSI_LEAF_EVENT = 1,
	SAKSI_LEAF_REFUSALS = 2,
	SAKSI_LEAF_ALERT = 3,
	SAKSI_LEAF_KEYRING = 4,   /* the keyring saksid runs with (keylog.h) */
};

typedef struct saksi_ledger saksi_ledger;
typedef struct saksi_ledger_txn saksi_ledger_txn;

typedef struct saksi_ledger_opts {
	size_t lo_map_size;      /* bytes; 0 = default 64 GiB (sparse) */
	int lo_readonly;         /* open for reading only (a verifier's copy) */
	unsigned lo_dict_after;  /* train the zstd dictionary once this many leaves exist;
	                            0 = default 1024 */
	int lo_meta_async;       /* the writer opens LMDB with MDB_NOMETASYNC, so that
	                            saksi_ledger_commit_nosync can leave a commit's second
	                            sync (its meta page) to saksi_ledger_sync; every other
	                            commit still syncs both before it returns */
} saksi_ledger_opts;

/*
 * Opens (creating if absent and not read-only) the ledger in directory dir (LMDB's
 * data.mdb and lock.mdb in it; dir is created mode 0700 if absent).
 * A new ledger records origin and vkey in meta; an existing one must have the same origin
 * and, if vkey is given, the same vkey (SAKSI_ERR_KEY otherwise). origin/vkey may be NULL
 * when opening an existing ledger. Read-only works on a copy of data.mdb (cp or mdb_copy),
 * without a lock file on read-only media. opts may be NULL for the defaults.
 * Errors: SAKSI_ERR_NOT_FOUND no ledger there (or none can be created: origin or vkey
 * NULL); SAKSI_ERR_INVAL origin/vkey empty, too long or with control characters;
 * SAKSI_ERR_FORMAT not a saksi ledger; SAKSI_ERR_VERSION another format version;
 * SAKSI_ERR_CORRUPT the leaf table or dictionary contradicts itself; SAKSI_ERR_PERM.
 */
saksi_err saksi_ledger_open(const char *dir, const char *origin, const char *vkey,
                            const saksi_ledger_opts *opts, saksi_ledger **out);
void saksi_ledger_close(saksi_ledger *l);

/*
 * Writes a consistent, compacted copy of the ledger (LMDB's copy of one read snapshot,
 * free pages left out) to a new directory dir, mode 0700, holding only data.mdb: safe
 * while another thread or process appends, on a read-only ledger too. The copy is made
 * in a temporary sibling directory, synced, and renamed to dir, so dir never holds half
 * a copy. dir may exist if it is an empty directory. Errors: SAKSI_ERR_EXISTS dir exists
 * and is not an empty directory; SAKSI_ERR_NOT_FOUND its parent does not exist;
 * SAKSI_ERR_PERM the parent is not writable, or the ledger was opened without its lock
 * file (read-only media), so a running writer could recycle pages under the copy;
 * SAKSI_ERR_FULL the disk is full; SAKSI_ERR_IO. Nothing is left behind on error.
 */
saksi_err saksi_ledger_backup(saksi_ledger *l, const char *dir);

/* Begins a transaction: write = 1 for the (single) writer; it waits for a running writer.
 * SAKSI_ERR_INVAL for a write transaction on a read-only ledger. */
saksi_err saksi_ledger_begin(saksi_ledger *l, int write, saksi_ledger_txn **out);
/* Commits and syncs a write transaction (SAKSI_ERR_FULL if the map or disk is full: then
 * nothing of it is written) or ends a read one. Frees txn either way. */
saksi_err saksi_ledger_commit(saksi_ledger_txn *txn);
/* Discards txn and everything it wrote. */
void saksi_ledger_abort(saksi_ledger_txn *txn);

/*
 * Durability in two steps (a ledger opened with lo_meta_async; SAKSI_ERR_INVAL and txn
 * discarded otherwise). saksi_ledger_commit_nosync commits like saksi_ledger_commit but
 * returns once LMDB has synced the transaction's pages and written its meta page, not
 * synced it; *ticket gets what makes it durable: saksi_ledger_sync(l, *ticket), one
 * fdatasync of data.mdb, from any thread, also while another thread holds the next
 * write transaction (0 if the transaction wrote nothing). Until that returns SAKSI_OK a
 * crash of the machine may undo this commit, never one before it, so nothing it holds
 * may be told to anyone. Read transactions of saksi_ledger_begin, in this process or
 * another, never see a commit that is not yet durable: one that finds its snapshot newer
 * than the newest known durable syncs first (also in a read-only process: after a
 * writer's crash its last commit may be in the page cache only). A failed sync is
 * SAKSI_ERR_IO and sticky: the writer takes no more write transactions and readers no
 * snapshot not known durable; reopening the ledger resumes from what is on disk.
 * saksi_ledger_begin_unsynced is a read transaction that may see a commit not yet
 * durable: only for the writer preparing what it sends once saksi_ledger_sync returned.
 */
saksi_err saksi_ledger_commit_nosync(saksi_ledger_txn *txn, uint64_t *ticket);
saksi_err saksi_ledger_sync(saksi_ledger *l, uint64_t ticket);
/* How many fdatasyncs the durability steps above have issued since open (tests). */
uint64_t saksi_ledger_syncs(const saksi_ledger *l);
/* 1 once a sync has failed (nothing more is written until the process starts again). */
int saksi_ledger_failed(const saksi_ledger *l);
saksi_err saksi_ledger_begin_unsynced(saksi_ledger *l, saksi_ledger_txn **out);

/*
 * The LMDB transaction under txn, for a module that keeps its own named database in the
 * ledger's environment in the same atomic commit (the rules engine, rules.h). The caller
 * must not commit, abort or reset it, and must not touch the ledger's own databases; after
 * a failed write the ledger has already aborted it (see above), and it must not be used.
 * The environment has room for SAKSI_LEDGER_FREE_DBS more named databases.
 */
#define SAKSI_LEDGER_FREE_DBS 7
struct MDB_txn *saksi_ledger_txn_mdb(saksi_ledger_txn *txn);

/* Number of leaves as seen by txn. */
uint64_t saksi_ledger_size(saksi_ledger_txn *txn);
/* meta value by name ("origin", "vkey"): *val malloc'd and NUL-terminated.
 * SAKSI_ERR_NOT_FOUND if absent. */
saksi_err saksi_ledger_meta(saksi_ledger_txn *txn, const char *name, char **val);

/*
 * Appends one leaf: writes the header (kind, commit_time_ms, the current root as
 * prev_root), stores it compressed, updates the stored tree nodes. body_len must keep the
 * leaf <= SAKSI_LEAF_MAX (SAKSI_ERR_TOO_LARGE). *index and leaf_hash (either may be NULL)
 * get the new leaf's index and hash. Write txn only. SAKSI_ERR_INVAL for an unknown kind.
 * The body is not parsed here. Compression never makes an append fail.
 */
saksi_err saksi_ledger_append(saksi_ledger_txn *txn, int kind, uint64_t commit_time_ms,
                              const uint8_t *body, size_t body_len, uint64_t *index,
                              saksi_hash leaf_hash);
/*
 * The same, and hdr (if not NULL) gets the leaf's SAKSI_LEAF_HDR header bytes as written,
 * so a caller that needs them (the committer's receipts) does not read the leaf back.
 */
saksi_err saksi_ledger_append_hdr(saksi_ledger_txn *txn, int kind, uint64_t commit_time_ms,
                                  const uint8_t *body, size_t body_len, uint64_t *index,
                                  saksi_hash leaf_hash, uint8_t *hdr);

/*
 * Producer sequence bookkeeping (write txn for put). get: SAKSI_ERR_NOT_FOUND if absent;
 * index/env_hash may be NULL. put: seq >= 1 (SAKSI_ERR_INVAL), index < size
 * (SAKSI_ERR_RANGE), SAKSI_ERR_EXISTS if key_id/seq is already recorded (the txn stays
 * usable); raises seqmax, never lowers it.
 */
saksi_err saksi_ledger_seq_get(saksi_ledger_txn *txn, const uint8_t key_id[SAKSI_KEYID_LEN],
                               uint64_t seq, uint64_t *index, saksi_hash env_hash);
saksi_err saksi_ledger_seq_last(saksi_ledger_txn *txn, const uint8_t key_id[SAKSI_KEYID_LEN],
                                uint64_t *last); /* 0 if none */
saksi_err saksi_ledger_seq_put(saksi_ledger_txn *txn, const uint8_t key_id[SAKSI_KEYID_LEN],
                               uint64_t seq, uint64_t index, const saksi_hash env_hash);

/* Disclosures at rest, already sealed by the caller (FORMATS.md 7.1). put: index < size
 * (SAKSI_ERR_RANGE), len SAKSI_DISC_MIN..SAKSI_DISC_MAX and version byte 1 or 2
 * (SAKSI_ERR_FORMAT / SAKSI_ERR_TOO_LARGE), SAKSI_ERR_EXISTS if already stored.
 * get: *blob malloc'd; SAKSI_ERR_NOT_FOUND if absent. */
saksi_err saksi_ledger_disc_put(saksi_ledger_txn *txn, uint64_t index, const uint8_t *blob,
                                size_t len);
saksi_err saksi_ledger_disc_get(saksi_ledger_txn *txn, uint64_t index, uint8_t **blob,
                                size_t *len);

/* Signed checkpoints, keyed by tree size. put: size <= tree size (SAKSI_ERR_RANGE), len
 * 1..SAKSI_NOTE_MAX (SAKSI_ERR_TOO_LARGE); a second checkpoint for the same size is
 * SAKSI_ERR_CORRUPT and nothing is replaced (the txn stays usable). *note is malloc'd and
 * NUL-terminated (len excludes the NUL); SAKSI_ERR_NOT_FOUND if absent. */
saksi_err saksi_ledger_ckpt_put(saksi_ledger_txn *txn, uint64_t size, const char *note,
                                size_t len);
saksi_err saksi_ledger_ckpt_get(saksi_ledger_txn *txn, uint64_t size, char **note, size_t *len);
/* The latest checkpoint: SAKSI_ERR_NOT_FOUND if none. */
saksi_err saksi_ledger_ckpt_latest(saksi_ledger_txn *txn, uint64_t *size, char **note,
                                   size_t *len);
/* The first checkpoint with size > after: iterate with after = 0, then the returned size. */
saksi_err saksi_ledger_ckpt_next(saksi_ledger_txn *txn, uint64_t after, uint64_t *size,
                                 char **note, size_t *len);

/* Refusal counters (not part of the tree; the tree has the summaries). reason 0..255;
 * counters saturate. stat_get gives 0 for a counter never added to. */
saksi_err saksi_ledger_stat_add(saksi_ledger_txn *txn, int reason,
                                const uint8_t key_id[SAKSI_KEYID_LEN], uint64_t n);
saksi_err saksi_ledger_stat_get(saksi_ledger_txn *txn, int reason,
                                const uint8_t key_id[SAKSI_KEYID_LEN], uint64_t *n);

/* Reading. *leaf malloc'd: the exact, uncompressed leaf bytes. SAKSI_ERR_NOT_FOUND if no
 * leaf is stored at index (looked up, not compared with the size, so a verifier can find
 * a leaf stored past the end); SAKSI_ERR_CORRUPT if the stored record does not decode to
 * exactly its raw_len. The bytes are not compared with the stored leaf hash: that is the
 * verifier's job, from its own recomputation. */
saksi_err saksi_ledger_leaf(saksi_ledger_txn *txn, uint64_t index, uint8_t **leaf, size_t *len);
/* The stored hash of complete subtree (level, index) (see merkle.h): a plain lookup,
 * SAKSI_ERR_NOT_FOUND if absent, SAKSI_ERR_RANGE if level > 63. */
saksi_err saksi_ledger_node(saksi_ledger_txn *txn, unsigned level, uint64_t index,
                            saksi_hash out);
/* Root, inclusion and consistency proofs within the tree of txn: SAKSI_ERR_RANGE if
 * size (n) > the tree size, index >= size, or m == 0 or m > n; SAKSI_ERR_CORRUPT if a node
 * they need is missing. */
saksi_err saksi_ledger_root(saksi_ledger_txn *txn, uint64_t size, saksi_hash root);
saksi_err saksi_ledger_prove_inclusion(saksi_ledger_txn *txn, uint64_t index, uint64_t size,
                                       saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], size_t *n);
saksi_err saksi_ledger_prove_consistency(saksi_ledger_txn *txn, uint64_t m, uint64_t n,
                                         saksi_hash proof[SAKSI_MERKLE_MAX_PROOF],
                                         size_t *nproof);
/* Stored bytes of leaf index as kept on disk, record header included (for size
 * accounting). SAKSI_ERR_NOT_FOUND if absent. */
saksi_err saksi_ledger_leaf_stored_len(saksi_ledger_txn *txn, uint64_t index, size_t *len);

/*
 * The `node` database key of stored subtree (level, index): its stored-hash index, in the
 * order appends create hashes (FORMATS.md 7). SAKSI_ERR_RANGE beyond 2^62 leaves.
 */
saksi_err saksi_ledger_node_key(uint8_t key[8], unsigned level, uint64_t index);

/* Parsed leaf header. */
typedef struct saksi_leaf {
	int lf_kind;
	uint64_t lf_commit_ms;
	saksi_hash lf_prev_root;
	const uint8_t *lf_body;
	size_t lf_body_len;
} saksi_leaf;
/* Strict: version 1 (SAKSI_ERR_VERSION), known kind, length 42..65535 (SAKSI_ERR_FORMAT,
 * SAKSI_ERR_TOO_LARGE). The body is not parsed. out points into leaf. */
saksi_err saksi_leaf_parse(const uint8_t *leaf, size_t len, saksi_leaf *out);

#endif
