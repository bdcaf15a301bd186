/*
 * tiles.c: the C2SP tlog-tiles export of a ledger (write side) and the reader of such an
 * export (read side). The writer reads the ledger through one read transaction only and
 * never rewrites a full tile; the reader only splits files and decides nothing: verify.c
 * recomputes every hash from the entries.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bytes.h"
#include "note.h"
#include "tiles.h"

#define TILE_BYTES ((size_t)SAKSI_TILE_WIDTH * SAKSI_HASH_LEN)
#define LEVELS_MAX 8        /* tile levels: 8 of 8 tree levels cover 2^64 leaves */

saksi_err
saksi_tiles_path(char *out, size_t outlen, int level, uint64_t n, unsigned width)
{
	unsigned g[7];      /* 2^64 has 20 digits: 7 groups of 3 */
	size_t ng = 0, off;
	int w;

	if (out == NULL || level < SAKSI_TILE_ENTRIES || level > 63 ||
	    width > SAKSI_TILE_WIDTH)
		return SAKSI_ERR_INVAL;
	do {
		g[ng++] = (unsigned)(n % 1000);
		n /= 1000;
	} while (n != 0);
	if (level == SAKSI_TILE_ENTRIES)
		w = snprintf(out, outlen, "tile/entries/");
	else
		w = snprintf(out, outlen, "tile/%d/", level);
	if (w < 0 || (size_t)w >= outlen)
		return SAKSI_ERR_INVAL;
	off = (size_t)w;
	while (ng > 0) {
		ng--;
		w = snprintf(out + off, outlen - off, ng > 0 ? "x%03u/" : "%03u", g[ng]);
		if (w < 0 || (size_t)w >= outlen - off)
			return SAKSI_ERR_INVAL;
		off += (size_t)w;
	}
	if (width > 0 && width < SAKSI_TILE_WIDTH) {
		w = snprintf(out + off, outlen - off, ".p/%u", width);
		if (w < 0 || (size_t)w >= outlen - off)
			return SAKSI_ERR_INVAL;
	}
	return SAKSI_OK;
}

/* The paths of one level (SAKSI_TILE_ENTRIES: the bundles) new from `from` to `size`. */
static saksi_err
level_paths(int level, uint64_t from, uint64_t size, saksi_tiles_path_fn fn, void *ctx)
{
	unsigned shift = level == SAKSI_TILE_ENTRIES ? 0 : (unsigned)level * SAKSI_TILE_HEIGHT;
	uint64_t count = size >> shift, full = count / SAKSI_TILE_WIDTH, n;
	unsigned w = (unsigned)(count % SAKSI_TILE_WIDTH);
	char rel[SAKSI_TILES_PATH_MAX];
	saksi_err e;

	/* A tile partial at `from` (or absent) is new once full. */
	for (n = (from >> shift) / SAKSI_TILE_WIDTH; n < full; n++) {
		if ((e = saksi_tiles_path(rel, sizeof(rel), level, n, 0)) != SAKSI_OK)
			return e;
		if (fn(ctx, rel) != 0)
			return SAKSI_ERR_IO;
	}
	if (w == 0 || (from >> shift) == count)   /* none, or the one already held */
		return SAKSI_OK;
	if ((e = saksi_tiles_path(rel, sizeof(rel), level, full, w)) != SAKSI_OK)
		return e;
	return fn(ctx, rel) != 0 ? SAKSI_ERR_IO : SAKSI_OK;
}

saksi_err
saksi_tiles_paths(uint64_t from, uint64_t size, saksi_tiles_path_fn fn, void *ctx)
{
	saksi_err e;
	int level;

	if (fn == NULL)
		return SAKSI_ERR_INVAL;
	if (from > size)
		return SAKSI_ERR_RANGE;
	if ((e = level_paths(SAKSI_TILE_ENTRIES, from, size, fn, ctx)) != SAKSI_OK)
		return e;
	for (level = 0; level < LEVELS_MAX && (size >> (level * SAKSI_TILE_HEIGHT)) > 0;
	    level++)
		if ((e = level_paths(level, from, size, fn, ctx)) != SAKSI_OK)
			return e;
	return SAKSI_OK;
}

/* ---- writing ---- */

static saksi_err
from_errno(int err)
{
	switch (err) {
	case ENOENT: case ENOTDIR:
		return SAKSI_ERR_NOT_FOUND;
	case EACCES: case EPERM: case EROFS:
		return SAKSI_ERR_PERM;
	case ENOSPC: case EDQUOT:
		return SAKSI_ERR_FULL;
	case ENOMEM:
		return SAKSI_ERR_NOMEM;
	default:
		return SAKSI_ERR_IO;
	}
}

/* Reads a regular file of at most max bytes (O_NOFOLLOW: an export is no place for links). */
static saksi_err
read_rel(int root, const char *rel, uint8_t *buf, size_t max, size_t *len)
{
	struct stat sb;
	size_t done = 0;
	saksi_err e = SAKSI_OK;
	int fd;

	fd = openat(root, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? SAKSI_ERR_NOT_FOUND : SAKSI_ERR_IO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		e = SAKSI_ERR_IO;
		goto out;
	}
	if ((uint64_t)sb.st_size > max) {
		e = SAKSI_ERR_TOO_LARGE;
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + done, max - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = SAKSI_ERR_IO;
			goto out;
		}
		if (r == 0)
			break;
		done += (size_t)r;
		if (done == max) {
			/* Grown since fstat: one more byte says it is too large. */
			uint8_t c;
			if (read(fd, &c, 1) > 0)
				e = SAKSI_ERR_TOO_LARGE;
			break;
		}
	}
	*len = done;
out:
	close(fd);
	return e;
}

/* One export run: the output directory, the read snapshot, and the directory whose
 * renames are not yet fsynced (at most one: files are written directory by directory). */
struct exp {
	int ex_root;            /* the output directory, open */
	saksi_ledger_txn *ex_txn;
	uint64_t ex_size;
	saksi_tiles_stats *ex_st;
	char ex_pending[SAKSI_TILES_PATH_MAX];  /* "" when none */
	uint8_t *ex_buf;        /* a whole bundle or tile being built */
};

static saksi_err
fsync_dir(int root, const char *rel)
{
	int fd = openat(root, rel[0] != '\0' ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	saksi_err e = SAKSI_OK;

	if (fd < 0)
		return from_errno(errno);
	if (fsync(fd) != 0)
		e = from_errno(errno);
	close(fd);
	return e;
}

static saksi_err
flush_pending(struct exp *x)
{
	saksi_err e;

	if (x->ex_pending[0] == '\0')
		return SAKSI_OK;
	e = fsync_dir(x->ex_root, x->ex_pending);
	x->ex_pending[0] = '\0';
	return e;
}

/* Creates the directories above rel (mode 0755), fsyncing the parent of each new one. */
static saksi_err
make_parents(int root, const char *rel)
{
	char p[SAKSI_TILES_PATH_MAX];
	char *s;
	saksi_err e;

	snprintf(p, sizeof(p), "%s", rel);
	for (s = strchr(p, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdirat(root, p, 0755) == 0) {
			char *up = strrchr(p, '/');

			if (up != NULL)
				*up = '\0';
			e = fsync_dir(root, up != NULL ? p : "");
			if (up != NULL)
				*up = '/';
			if (e != SAKSI_OK)
				return e;
		} else if (errno != EEXIST)
			return from_errno(errno);
		*s = '/';
	}
	return SAKSI_OK;
}

/* Writes rel (relative to the output directory) through a temporary name and rename. */
static saksi_err
write_file(struct exp *x, const char *rel, const uint8_t *data, size_t len)
{
	char dir[SAKSI_TILES_PATH_MAX], tmp[SAKSI_TILES_PATH_MAX + 16];
	const char *base = strrchr(rel, '/');
	size_t dl = base != NULL ? (size_t)(base - rel) : 0, done = 0;
	saksi_err e;
	int fd;

	memcpy(dir, rel, dl);
	dir[dl] = '\0';
	base = base != NULL ? base + 1 : rel;
	if (strcmp(dir, x->ex_pending) != 0) {
		if ((e = flush_pending(x)) != SAKSI_OK)
			return e;
		if (dl > 0 && (e = make_parents(x->ex_root, rel)) != SAKSI_OK)
			return e;
	}
	/* A leftover of a killed run has this name too: truncated and reused. */
	snprintf(tmp, sizeof(tmp), "%s%s.%s.tmp", dir, dl > 0 ? "/" : "", base);
	fd = openat(x->ex_root, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd < 0)
		return from_errno(errno);
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = from_errno(w < 0 ? errno : EIO);
			goto fail;
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0) {
		e = from_errno(errno);
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		e = from_errno(errno);
		goto fail;
	}
	fd = -1;
	if (renameat(x->ex_root, tmp, x->ex_root, rel) != 0) {
		e = from_errno(errno);
		goto fail;
	}
	snprintf(x->ex_pending, sizeof(x->ex_pending), "%s", dir);
	/* The root's own entries (the checkpoint) are fsynced by the caller. */
	if (dl == 0)
		x->ex_pending[0] = '\0';
	x->ex_st->ts_written++;
	x->ex_st->ts_bytes += len;
	return SAKSI_OK;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(x->ex_root, tmp, 0);
	return e;
}

/* 1 if rel exists (any type), 0 if not; -1 with *e for another failure. */
static int
exists(struct exp *x, const char *rel, saksi_err *e)
{
	struct stat sb;

	if (fstatat(x->ex_root, rel, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	*e = from_errno(errno);
	return -1;
}

/*
 * Fills x->ex_buf with `count` items of tile (level, n): hashes of tree level 8*level,
 * or for SAKSI_TILE_ENTRIES the bundle's length-prefixed entries. *len gets the bytes.
 */
static saksi_err
build(struct exp *x, int level, uint64_t n, unsigned count, size_t *len)
{
	uint64_t first = n * SAKSI_TILE_WIDTH;
	size_t off = 0;
	unsigned i;
	saksi_err e;

	for (i = 0; i < count; i++) {
		if (level != SAKSI_TILE_ENTRIES) {
			e = saksi_ledger_node(x->ex_txn, (unsigned)level * SAKSI_TILE_HEIGHT,
			    first + i, x->ex_buf + off);
			if (e == SAKSI_ERR_NOT_FOUND)
				e = SAKSI_ERR_CORRUPT;
			if (e != SAKSI_OK)
				return e;
			off += SAKSI_HASH_LEN;
		} else {
			uint8_t *leaf;
			size_t ll;

			e = saksi_ledger_leaf(x->ex_txn, first + i, &leaf, &ll);
			if (e == SAKSI_ERR_NOT_FOUND)
				e = SAKSI_ERR_CORRUPT;
			if (e != SAKSI_OK)
				return e;
			if (ll > SAKSI_LEAF_MAX) {
				free(leaf);
				return SAKSI_ERR_CORRUPT;
			}
			saksi_put_u16(x->ex_buf + off, (uint16_t)ll);
			memcpy(x->ex_buf + off + 2, leaf, ll);
			off += 2 + ll;
			free(leaf);
		}
	}
	*len = off;
	return SAKSI_OK;
}

/*
 * The widths of the partial tile `n` at `level` that signed checkpoints need, below
 * `top` (the current width, always needed): a checkpoint of size s needs width
 * (s >> shift) mod 256 of tile s >> (shift + 8). One lookup per width present.
 */
static saksi_err
partial_widths(struct exp *x, unsigned shift, uint64_t n, unsigned top, uint8_t need[256])
{
	uint64_t base = shift + 8 < 64 ? n << (shift + 8) : 0, s;
	unsigned w = 1;
	char *note;
	size_t len;
	saksi_err e;

	memset(need, 0, 256);
	need[top] = 1;
	while (w < top) {
		uint64_t lo = base + ((uint64_t)w << shift);

		e = saksi_ledger_ckpt_next(x->ex_txn, lo - 1, &s, &note, &len);
		if (e == SAKSI_ERR_NOT_FOUND)
			break;
		if (e != SAKSI_OK)
			return e;
		free(note);
		if (s < lo)     /* the ledger broke its contract: no loop on it */
			return SAKSI_ERR_LEDGER;
		if (((s - base) >> shift) >= top)
			break;
		w = (unsigned)((s - base) >> shift);
		need[w++] = 1;
	}
	return SAKSI_OK;
}

/* Writes the tiles of one level (or the bundles) the tree of ex_size needs. */
static saksi_err
export_level(struct exp *x, int level)
{
	unsigned shift = level == SAKSI_TILE_ENTRIES ? 0 : (unsigned)level * SAKSI_TILE_HEIGHT;
	uint64_t count = x->ex_size >> shift, full = count / SAKSI_TILE_WIDTH, n;
	unsigned top = (unsigned)(count % SAKSI_TILE_WIDTH), w;
	char rel[SAKSI_TILES_PATH_MAX];
	uint8_t need[256];
	size_t len;
	saksi_err e = SAKSI_OK;
	int have;

	for (n = 0; n < full; n++) {
		if ((e = saksi_tiles_path(rel, sizeof(rel), level, n, 0)) != SAKSI_OK)
			return e;
		if ((have = exists(x, rel, &e)) < 0)
			return e;
		if (have) {
			x->ex_st->ts_present++;
			continue;
		}
		if ((e = build(x, level, n, SAKSI_TILE_WIDTH, &len)) != SAKSI_OK ||
		    (e = write_file(x, rel, x->ex_buf, len)) != SAKSI_OK)
			return e;
	}
	if (top == 0)
		return SAKSI_OK;
	if ((e = partial_widths(x, shift, full, top, need)) != SAKSI_OK)
		return e;
	/* Every width is a prefix of the widest: built once. */
	if ((e = build(x, level, full, top, &len)) != SAKSI_OK)
		return e;
	for (w = 1; w <= top; w++) {
		size_t wl = 0, k;

		if (!need[w])
			continue;
		if ((e = saksi_tiles_path(rel, sizeof(rel), level, full, w)) != SAKSI_OK)
			return e;
		if ((have = exists(x, rel, &e)) < 0)
			return e;
		if (have) {
			x->ex_st->ts_present++;
			continue;
		}
		if (level != SAKSI_TILE_ENTRIES)
			wl = (size_t)w * SAKSI_HASH_LEN;
		else
			for (k = 0; k < w; k++)
				wl += 2 + saksi_get_u16(x->ex_buf + wl);
		if ((e = write_file(x, rel, x->ex_buf, wl)) != SAKSI_OK)
			return e;
	}
	return SAKSI_OK;
}

/* Removes rel/ * and rel (a partial tile's ".p" directory); absent is fine. */
static saksi_err
remove_partials(struct exp *x, const char *rel)
{
	struct dirent *d;
	saksi_err e = SAKSI_OK;
	DIR *dp;
	int fd;

	fd = openat(x->ex_root, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? SAKSI_OK : from_errno(errno);
	if ((dp = fdopendir(fd)) == NULL) {
		e = from_errno(errno);
		close(fd);
		return e;
	}
	while ((d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, d->d_name, 0) != 0) {
			e = from_errno(errno);
			break;
		}
		x->ex_st->ts_removed++;
	}
	closedir(dp);
	if (e == SAKSI_OK && unlinkat(x->ex_root, rel, AT_REMOVEDIR) != 0 && errno != ENOENT)
		e = from_errno(errno);
	return e;
}

/* C2SP lets a log delete a partial tile once its full tile exists: done after the
 * checkpoint, so a reader of the previous checkpoint was never left without them. */
static saksi_err
prune_level(struct exp *x, int level)
{
	unsigned shift = level == SAKSI_TILE_ENTRIES ? 0 : (unsigned)level * SAKSI_TILE_HEIGHT;
	uint64_t full = (x->ex_size >> shift) / SAKSI_TILE_WIDTH, n;
	char rel[SAKSI_TILES_PATH_MAX + 2];
	saksi_err e;

	for (n = 0; n < full; n++) {
		if ((e = saksi_tiles_path(rel, sizeof(rel), level, n, 0)) != SAKSI_OK)
			return e;
		strcat(rel, ".p");
		if ((e = remove_partials(x, rel)) != SAKSI_OK)
			return e;
	}
	return SAKSI_OK;
}

/* The checkpoint must be the log's (the ledger's own vkey) and name the stored tree's root:
 * a damaged ledger is not published. */
static saksi_err
check_latest(saksi_ledger_txn *txn, uint64_t size, const char *note, size_t len)
{
	saksi_note_verifier v;
	saksi_checkpoint c;
	saksi_hash root;
	char *vkey = NULL;
	saksi_err e;

	if ((e = saksi_ledger_meta(txn, "vkey", &vkey)) != SAKSI_OK)
		return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
	e = saksi_note_vkey_parse(vkey, &v);
	free(vkey);
	if (e != SAKSI_OK)
		return SAKSI_ERR_CORRUPT;
	if (saksi_checkpoint_open(note, len, &v, &c) != SAKSI_OK || c.ck_size != size)
		return SAKSI_ERR_CORRUPT;
	if ((e = saksi_ledger_root(txn, size, root)) != SAKSI_OK)
		return e == SAKSI_ERR_RANGE ? SAKSI_ERR_CORRUPT : e;
	if (sodium_memcmp(root, c.ck_root, SAKSI_HASH_LEN) != 0)
		return SAKSI_ERR_CORRUPT;
	return SAKSI_OK;
}

/*
 * The checkpoint an earlier export left in the directory must be of a prefix of this
 * tree: full tiles are never rewritten, so tiles of another tree (another log, a ledger
 * restored from an older backup and grown apart) would stay and be mixed with these.
 */
static saksi_err
check_previous(struct exp *x, const char *origin)
{
	saksi_checkpoint c;
	saksi_hash root;
	char *old, *sep;
	size_t len = 0;
	saksi_err e;

	if ((old = malloc(SAKSI_NOTE_MAX + 1)) == NULL)
		return SAKSI_ERR_NOMEM;
	e = read_rel(x->ex_root, "checkpoint", (uint8_t *)old, SAKSI_NOTE_MAX, &len);
	if (e == SAKSI_ERR_NOT_FOUND) {
		free(old);
		return SAKSI_OK;
	}
	if (e != SAKSI_OK) {
		free(old);
		return e == SAKSI_ERR_TOO_LARGE ? SAKSI_ERR_EXISTS : e;
	}
	old[len] = '\0';
	e = SAKSI_ERR_EXISTS;
	if ((sep = strstr(old, "\n\n")) != NULL &&
	    saksi_checkpoint_parse(old, (size_t)(sep - old) + 1, &c) == SAKSI_OK &&
	    strcmp(c.ck_origin, origin) == 0 && c.ck_size <= x->ex_size) {
		e = saksi_ledger_root(x->ex_txn, c.ck_size, root);
		if (e == SAKSI_OK && sodium_memcmp(root, c.ck_root, SAKSI_HASH_LEN) != 0)
			e = SAKSI_ERR_EXISTS;
	}
	free(old);
	return e;
}

saksi_err
saksi_tiles_export(saksi_ledger *l, const char *outdir, saksi_tiles_stats *st)
{
	saksi_tiles_stats dummy;
	struct exp x;
	char *note = NULL;
	size_t len;
	int lock = -1, level;
	saksi_err e;

	if (l == NULL || outdir == NULL)
		return SAKSI_ERR_INVAL;
	if (st == NULL)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	memset(&x, 0, sizeof(x));
	x.ex_root = -1;
	x.ex_st = st;
	if (mkdir(outdir, 0755) != 0 && errno != EEXIST)
		return from_errno(errno);
	x.ex_root = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x.ex_root < 0)
		return from_errno(errno);
	/* Two exports into one directory would race on the temporary names. */
	lock = openat(x.ex_root, ".lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (lock < 0) {
		e = from_errno(errno);
		goto out;
	}
	while (flock(lock, LOCK_EX) != 0) {
		if (errno != EINTR) {
			e = from_errno(errno);
			goto out;
		}
	}
	if ((x.ex_buf = malloc(SAKSI_TILES_BUNDLE_MAX)) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	if ((e = saksi_ledger_begin(l, 0, &x.ex_txn)) != SAKSI_OK)
		goto out;
	e = saksi_ledger_ckpt_latest(x.ex_txn, &x.ex_size, &note, &len);
	if (e != SAKSI_OK)
		goto out;
	st->ts_size = x.ex_size;
	if ((e = check_latest(x.ex_txn, x.ex_size, note, len)) != SAKSI_OK)
		goto out;
	{
		char *origin = NULL;

		if ((e = saksi_ledger_meta(x.ex_txn, "origin", &origin)) != SAKSI_OK) {
			e = e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
			goto out;
		}
		e = check_previous(&x, origin);
		free(origin);
		if (e != SAKSI_OK)
			goto out;
	}
	if ((e = export_level(&x, SAKSI_TILE_ENTRIES)) != SAKSI_OK)
		goto out;
	for (level = 0; level < LEVELS_MAX && (x.ex_size >> (level * SAKSI_TILE_HEIGHT)) > 0;
	    level++)
		if ((e = export_level(&x, level)) != SAKSI_OK)
			goto out;
	if ((e = flush_pending(&x)) != SAKSI_OK)
		goto out;
	/* Last, and only once every tile it needs is durable. */
	if ((e = write_file(&x, "checkpoint", (const uint8_t *)note, len)) != SAKSI_OK ||
	    (e = fsync_dir(x.ex_root, "")) != SAKSI_OK)
		goto out;
	if ((e = prune_level(&x, SAKSI_TILE_ENTRIES)) != SAKSI_OK)
		goto out;
	for (level = 0; level < LEVELS_MAX && (x.ex_size >> (level * SAKSI_TILE_HEIGHT)) > 0;
	    level++)
		if ((e = prune_level(&x, level)) != SAKSI_OK)
			goto out;
out:
	if (x.ex_txn != NULL)
		saksi_ledger_abort(x.ex_txn);
	free(note);
	free(x.ex_buf);
	if (lock >= 0)
		close(lock);    /* releases the flock */
	if (x.ex_root >= 0)
		close(x.ex_root);
	return e;
}

/* ---- reading ---- */

struct rtile {
	int rt_loaded;
	uint64_t rt_n;
	unsigned rt_w;
	saksi_err rt_err;       /* the load's result, kept so a bad tile is read once */
	size_t rt_len;
	uint8_t rt_buf[TILE_BYTES];
};

struct saksi_tiles {
	int t_root;
	char *t_ckpt;
	size_t t_ckpt_len;
	/* The last bundle read: its entries' offsets and lengths, as far as they parse. */
	int b_loaded;
	uint64_t b_n;
	unsigned b_w;
	saksi_err b_err;
	uint8_t *b_buf;
	size_t b_len;
	unsigned b_count;       /* whole entries parsed (at most 256) */
	int b_cut;              /* an entry after them runs past the end */
	int b_trailing;         /* bytes after 256 entries */
	uint32_t b_off[SAKSI_TILE_WIDTH];
	struct rtile t_tiles[LEVELS_MAX];
};

saksi_err
saksi_tiles_open(const char *dir, saksi_tiles **out)
{
	saksi_tiles *t;
	saksi_err e;
	size_t len = 0;

	if (dir == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return SAKSI_ERR_NOMEM;
	t->t_root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->t_root < 0) {
		e = errno == ENOENT || errno == ENOTDIR ? SAKSI_ERR_NOT_FOUND : SAKSI_ERR_IO;
		free(t);
		return e;
	}
	if ((t->t_ckpt = malloc(SAKSI_NOTE_MAX + 1)) == NULL ||
	    (t->b_buf = malloc(SAKSI_TILES_BUNDLE_MAX)) == NULL) {
		saksi_tiles_close(t);
		return SAKSI_ERR_NOMEM;
	}
	e = read_rel(t->t_root, "checkpoint", (uint8_t *)t->t_ckpt, SAKSI_NOTE_MAX, &len);
	if (e != SAKSI_OK) {
		saksi_tiles_close(t);
		return e;
	}
	t->t_ckpt[len] = '\0';
	t->t_ckpt_len = len;
	*out = t;
	return SAKSI_OK;
}

void
saksi_tiles_close(saksi_tiles *t)
{
	if (t == NULL)
		return;
	if (t->t_root >= 0)
		close(t->t_root);
	free(t->t_ckpt);
	free(t->b_buf);
	free(t);
}

const char *
saksi_tiles_checkpoint(const saksi_tiles *t, size_t *len)
{
	if (t == NULL)
		return NULL;
	if (len != NULL)
		*len = t->t_ckpt_len;
	return t->t_ckpt;
}

/* The width the tree of `count` items at a level gives tile n: 0 when full. */
static unsigned
width_of(uint64_t count, uint64_t n)
{
	return n < count / SAKSI_TILE_WIDTH ? 0 : (unsigned)(count % SAKSI_TILE_WIDTH);
}

static saksi_err
load_bundle(saksi_tiles *t, uint64_t n, unsigned w)
{
	char rel[SAKSI_TILES_PATH_MAX];
	unsigned limit = SAKSI_TILE_WIDTH;
	size_t off = 0;
	saksi_err e;

	if (t->b_loaded && t->b_n == n && t->b_w == w)
		return t->b_err;
	t->b_loaded = 1;
	t->b_n = n;
	t->b_w = w;
	t->b_count = 0;
	t->b_cut = 0;
	t->b_trailing = 0;
	t->b_len = 0;
	if ((e = saksi_tiles_path(rel, sizeof(rel), SAKSI_TILE_ENTRIES, n, w)) != SAKSI_OK)
		return t->b_err = e;
	e = read_rel(t->t_root, rel, t->b_buf, SAKSI_TILES_BUNDLE_MAX, &t->b_len);
	/* C2SP: a partial bundle may be gone once its full bundle exists; a client then
	 * reads the full one, whose first w entries are the partial's. */
	if (e == SAKSI_ERR_NOT_FOUND && w != 0) {
		if ((e = saksi_tiles_path(rel, sizeof(rel), SAKSI_TILE_ENTRIES, n, 0)) !=
		    SAKSI_OK)
			return t->b_err = e;
		e = read_rel(t->t_root, rel, t->b_buf, SAKSI_TILES_BUNDLE_MAX, &t->b_len);
		if (e == SAKSI_OK)
			limit = w;
	}
	if (e != SAKSI_OK)
		return t->b_err = e;
	while (off < t->b_len && t->b_count < limit) {
		size_t el;

		if (t->b_len - off < 2 ||
		    t->b_len - off - 2 < (el = saksi_get_u16(t->b_buf + off))) {
			t->b_cut = 1;
			break;
		}
		t->b_off[t->b_count++] = (uint32_t)off;
		off += 2 + el;
	}
	if (!t->b_cut && off < t->b_len && limit == SAKSI_TILE_WIDTH)
		t->b_trailing = 1;
	return t->b_err = SAKSI_OK;
}

saksi_err
saksi_tiles_leaf(saksi_tiles *t, uint64_t size, uint64_t index, uint8_t **leaf,
                 size_t *len)
{
	uint64_t n = index / SAKSI_TILE_WIDTH;
	unsigned pos = (unsigned)(index % SAKSI_TILE_WIDTH), w = width_of(size, n), want;
	size_t el;
	saksi_err e;

	if (t == NULL || leaf == NULL || len == NULL)
		return SAKSI_ERR_INVAL;
	/* Past the end: only a partial bundle of this tree can hold such an entry. */
	if (index >= size && (w == 0 || n != size / SAKSI_TILE_WIDTH))
		return SAKSI_ERR_NOT_FOUND;
	if ((e = load_bundle(t, n, w)) != SAKSI_OK)
		return e;
	want = w == 0 ? SAKSI_TILE_WIDTH : w;
	if (pos >= t->b_count)
		return t->b_cut && pos == t->b_count ? SAKSI_ERR_CORRUPT : SAKSI_ERR_NOT_FOUND;
	if (t->b_trailing && pos == want - 1 && index < size)
		return SAKSI_ERR_CORRUPT;
	el = saksi_get_u16(t->b_buf + t->b_off[pos]);
	if ((*leaf = malloc(el > 0 ? el : 1)) == NULL)
		return SAKSI_ERR_NOMEM;
	memcpy(*leaf, t->b_buf + t->b_off[pos] + 2, el);
	*len = el;
	return SAKSI_OK;
}

saksi_err
saksi_tiles_hash(saksi_tiles *t, uint64_t size, unsigned level, uint64_t index,
                 saksi_hash out)
{
	char rel[SAKSI_TILES_PATH_MAX];
	unsigned tl = level / SAKSI_TILE_HEIGHT, w;
	uint64_t count, n = index / SAKSI_TILE_WIDTH;
	struct rtile *rt;
	size_t want;
	saksi_err e;

	if (t == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	if (level % SAKSI_TILE_HEIGHT != 0 || tl >= LEVELS_MAX)
		return SAKSI_ERR_RANGE;
	count = size >> level;
	if (index >= count)
		return SAKSI_ERR_RANGE;
	w = width_of(count, n);
	rt = &t->t_tiles[tl];
	if (!rt->rt_loaded || rt->rt_n != n || rt->rt_w != w) {
		rt->rt_loaded = 1;
		rt->rt_n = n;
		rt->rt_w = w;
		rt->rt_len = 0;
		want = (w == 0 ? SAKSI_TILE_WIDTH : w) * (size_t)SAKSI_HASH_LEN;
		if ((e = saksi_tiles_path(rel, sizeof(rel), (int)tl, n, w)) == SAKSI_OK)
			e = read_rel(t->t_root, rel, rt->rt_buf, TILE_BYTES, &rt->rt_len);
		/* As for bundles: a partial tile gone, its full tile begins with its hashes. */
		if (e == SAKSI_ERR_NOT_FOUND && w != 0 &&
		    (e = saksi_tiles_path(rel, sizeof(rel), (int)tl, n, 0)) == SAKSI_OK) {
			e = read_rel(t->t_root, rel, rt->rt_buf, TILE_BYTES, &rt->rt_len);
			if (e == SAKSI_OK && rt->rt_len == TILE_BYTES)
				rt->rt_len = want;
		}
		if (e == SAKSI_ERR_TOO_LARGE || (e == SAKSI_OK && rt->rt_len != want))
			e = SAKSI_ERR_CORRUPT;
		rt->rt_err = e;
	}
	if (rt->rt_err != SAKSI_OK)
		return rt->rt_err;
	memcpy(out, rt->rt_buf + (index % SAKSI_TILE_WIDTH) * SAKSI_HASH_LEN, SAKSI_HASH_LEN);
	return SAKSI_OK;
}
