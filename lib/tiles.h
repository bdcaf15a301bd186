/*
 * tiles.h: the ledger published as a static C2SP tlog-tiles export (FORMATS.md 9): the
 * signed checkpoint, the hash tiles and the entry bundles as plain files any web server
 * or object store can serve, written from one read snapshot; and the reader a verifier
 * uses on such a directory. It never writes into a ledger and never trusts a tile: the
 * verifier (verify.h, saksi_verify_tiles) recomputes everything from the entries.
 * Thread-safe in the LMDB sense: no shared state; a saksi_tiles handle is one thread's.
 */
#ifndef SAKSI_TILES_H
#define SAKSI_TILES_H

#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "merkle.h"
#include "saksi_error.h"

#define SAKSI_TILE_HEIGHT 8      /* tree levels per tile: 256 hashes wide */
#define SAKSI_TILE_WIDTH 256
#define SAKSI_TILE_ENTRIES (-1)  /* the `level` of the entry bundles */
/* Longest path saksi_tiles_path writes: "tile/entries/" + 7 groups "x000/" + ".p/255". */
#define SAKSI_TILES_PATH_MAX 64
/* Largest entry bundle: 256 entries of a 2-byte length and a leaf of at most 65,535. */
#define SAKSI_TILES_BUNDLE_MAX ((size_t)SAKSI_TILE_WIDTH * (2 + SAKSI_LEAF_MAX))

/*
 * The C2SP path of a tile, relative to the export's root: "tile/<L>/<N>" or, for level
 * SAKSI_TILE_ENTRIES, "tile/entries/<N>", with N in zero-padded 3-digit groups, all but
 * the last prefixed by x (1234067 is x001/x234/067), and ".p/<W>" for a partial tile of
 * width 1..255 (width 0 or 256: a full tile). SAKSI_ERR_INVAL for a level outside
 * -1..63, a width above 256 or outlen too small (SAKSI_TILES_PATH_MAX is enough).
 */
saksi_err saksi_tiles_path(char *out, size_t outlen, int level, uint64_t n, unsigned width);

/*
 * The paths (saksi_tiles_path) a reader needs to fetch the tree of size `size` when it
 * already holds the files of the tree of size `from` (0: none), in the order a writer
 * creates them: the entry bundles, then the hash tiles level by level; each full tile
 * that was not yet full at `from`, then the partial tile of `size`, if any. The
 * checkpoint is not among them. fn is called once per path (a NUL-terminated string,
 * valid during the call); a non-zero return stops the walk with SAKSI_ERR_IO.
 * SAKSI_ERR_RANGE if from > size; SAKSI_ERR_INVAL for a NULL fn.
 */
typedef int (*saksi_tiles_path_fn)(void *ctx, const char *path);
saksi_err saksi_tiles_paths(uint64_t from, uint64_t size, saksi_tiles_path_fn fn,
                            void *ctx);

typedef struct saksi_tiles_stats {
	uint64_t ts_size;       /* tree size exported: the latest signed checkpoint's */
	uint64_t ts_written;    /* files written by this run, the checkpoint included */
	uint64_t ts_present;    /* files the tree needs that were there already, untouched */
	uint64_t ts_removed;    /* partial tiles removed because their full tile exists */
	uint64_t ts_bytes;      /* bytes written, the checkpoint included */
} saksi_tiles_stats;

/*
 * Exports the tree of the ledger's latest signed checkpoint into the directory outdir
 * (created mode 0755 if absent; its parent must exist), from one read transaction, so
 * it may run while saksid appends:
 *   - every full hash tile and entry bundle that is not there yet (one that is there is
 *     never rewritten: a full tile never changes);
 *   - the partial tiles and bundles of every signed checkpoint size whose full tile does
 *     not exist yet (C2SP: a log serves the partial tiles of every tree size it signed);
 *     the partials of a tile that is now full are removed, after the checkpoint;
 *   - `checkpoint`, the latest signed checkpoint exactly as the ledger holds it, last.
 * Each file is written to a temporary name in its directory, fsynced, renamed, and its
 * directory fsynced before the checkpoint is replaced: a reader never sees a
 * checkpoint whose tiles are missing or half written. The result depends only on the
 * ledger's content: an export repeated in steps equals one export, byte for byte.
 * Another export into the same outdir is waited for (a lock file, outdir/.lock).
 * st may be NULL. Errors: SAKSI_ERR_NOT_FOUND the ledger has no signed checkpoint, or
 * outdir's parent does not exist; SAKSI_ERR_EXISTS outdir holds the export of another
 * tree (its checkpoint names another origin, a larger size, or a root this ledger does
 * not have at that size; also a checkpoint file that does not parse): nothing written; SAKSI_ERR_CORRUPT the stored tree does not give the
 * checkpoint's root or a leaf is unreadable (export nothing from a damaged ledger: run
 * saksi verify); SAKSI_ERR_PERM outdir is not writable; SAKSI_ERR_FULL the disk is full;
 * SAKSI_ERR_IO; the ledger's errors. On error the files already renamed stay (they are
 * correct and the next run keeps them) and `checkpoint` is the previous one.
 */
saksi_err saksi_tiles_export(saksi_ledger *l, const char *outdir, saksi_tiles_stats *st);

/*
 * A tile export being read (by the verifier). Nothing in it is trusted: it only finds
 * and splits files. Opened on a directory holding `checkpoint`.
 */
typedef struct saksi_tiles saksi_tiles;

/*
 * Opens the export in dir and reads its `checkpoint` (at most SAKSI_NOTE_MAX bytes, not
 * verified here). SAKSI_ERR_NOT_FOUND dir or its checkpoint is absent; SAKSI_ERR_TOO_LARGE
 * the checkpoint is too long; SAKSI_ERR_IO; SAKSI_ERR_NOMEM.
 */
saksi_err saksi_tiles_open(const char *dir, saksi_tiles **out);
void saksi_tiles_close(saksi_tiles *t);
/* The checkpoint file's bytes (NUL-terminated, *len without the NUL); valid until close. */
const char *saksi_tiles_checkpoint(const saksi_tiles *t, size_t *len);

/*
 * Entry `index` of the tree of size `size` (the size of a checkpoint the caller verified),
 * from its entry bundle: *leaf malloc'd, the exact bytes. A bundle must hold exactly the
 * entries the tree gives it. A partial bundle that is absent is read from its full
 * bundle's first entries, as C2SP tells clients (an export removes partials once the
 * full tile exists; a reader of an older checkpoint still finds its tree). SAKSI_ERR_NOT_FOUND the bundle is absent or ends before the
 * entry, or index >= size and the partial bundle holds no entry there (an entry there is
 * returned: it should not exist, and the verifier says so); SAKSI_ERR_CORRUPT an entry's
 * length runs past the bundle's end, or bytes follow the bundle's last entry (reported
 * at its last entry); SAKSI_ERR_TOO_LARGE a bundle file over SAKSI_TILES_BUNDLE_MAX;
 * SAKSI_ERR_IO; SAKSI_ERR_NOMEM.
 */
saksi_err saksi_tiles_leaf(saksi_tiles *t, uint64_t size, uint64_t index, uint8_t **leaf,
                           size_t *len);

/*
 * The hash tiles' hash of the complete subtree (level, index) of the tree of size
 * `size` (merkle.h's stored hashes; level a multiple of 8: the others are not in tiles,
 * SAKSI_ERR_RANGE), from the tile that holds it: full, or partial at the width `size`
 * gives it. SAKSI_ERR_RANGE also if the subtree is not complete within size;
 * an absent partial tile is read from its full tile's first hashes; SAKSI_ERR_NOT_FOUND
 * neither is there; SAKSI_ERR_CORRUPT its length is not 32 times
 * its width; SAKSI_ERR_IO.
 */
saksi_err saksi_tiles_hash(saksi_tiles *t, uint64_t size, unsigned level, uint64_t index,
                           saksi_hash out);

#endif
