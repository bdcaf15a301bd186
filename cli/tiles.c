/*
 * tiles.c: saksi export-tiles, the ledger published as a static C2SP tlog-tiles
 * directory (lib/tiles.c) that any web server or object store can serve and that
 * `saksi verify --tiles` checks; and saksi tile-paths, the list of files a reviewer
 * fetches. It reads the ledger only, through one read snapshot, and fetches nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "note.h"
#include "tiles.h"

int
cmd_export_tiles(int argc, char **argv)
{
	static const char usage[] = "saksi export-tiles --ledger DIR --out OUTDIR [--quiet]";
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *out = NULL;
	char parent[PATH_MAX], *slash;
	saksi_tiles_stats st;
	struct stat sb;
	saksi_ledger *l;
	saksi_err e;
	int c, quiet = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:q", opts, NULL)) != -1) {
		switch (c) {
		case 'l': dir = optarg; break;
		case 'o': out = optarg; break;
		case 'q': quiet = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (dir == NULL || out == NULL)
		xusage(usage, "give both --ledger and --out");
	/* The library says "not found" for both a missing parent and no checkpoint. */
	if (strlen(out) >= sizeof(parent))
		xusage(usage, "--out is too long");
	snprintf(parent, sizeof(parent), "%s", out);
	while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' && slash != parent)
		*slash = '\0';
	slash = strrchr(parent, '/');
	if (slash == parent)
		parent[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		snprintf(parent, sizeof(parent), ".");
	if (stat(parent, &sb) != 0 || !S_ISDIR(sb.st_mode))
		xdie("cannot export to %s: its parent %s is not a directory", out, parent);
	if (stat(out, &sb) == 0 && !S_ISDIR(sb.st_mode))
		xdie("cannot export to %s: it is not a directory", out);

	l = xledger_open_ro(dir);
	e = saksi_tiles_export(l, out, &st);
	saksi_ledger_close(l);
	if (e == SAKSI_ERR_NOT_FOUND)
		xdie("the ledger %s has no signed checkpoint yet: nothing to publish", dir);
	if (e == SAKSI_ERR_CORRUPT)
		xfail("the ledger %s does not match its own latest checkpoint: nothing was "
		    "published; run saksi verify --ledger %s", dir, dir);
	if (e == SAKSI_ERR_EXISTS)
		xdie("%s holds the export of another tree (another log, or a ledger that does "
		    "not extend the one published there): its full tiles would stay and be "
		    "mixed with this ledger's; give an empty directory", out);
	if (e == SAKSI_ERR_PERM)
		xdie("cannot write the export into %s: permission denied", out);
	if (e == SAKSI_ERR_FULL)
		xdie("cannot write the export into %s: the disk is full; the previous "
		    "checkpoint is still the one published", out);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot export %s to %s", dir, out);
	if (!quiet) {
		printf("exported: %s\n", out);
		printf("tree size: %" PRIu64 " (its signed checkpoint is %s/checkpoint)\n",
		    st.ts_size, out);
		printf("files written: %" PRIu64 " (%" PRIu64 " bytes), already there: %"
		    PRIu64 ", partial tiles removed: %" PRIu64 "\n", st.ts_written, st.ts_bytes,
		    st.ts_present, st.ts_removed);
	}
	return SX_OK;
}

/* The tree size a checkpoint file claims (not verified: saksi verify --tiles does that;
 * here it only names files). */
static uint64_t
ckpt_size(const char *path, const char *usage)
{
	saksi_checkpoint c;
	size_t len;
	char *text = xread_file(path, SAKSI_NOTE_MAX, &len), *sep;

	if ((sep = strstr(text, "\n\n")) == NULL ||
	    saksi_checkpoint_parse(text, (size_t)(sep - text) + 1, &c) != SAKSI_OK)
		xusage(usage, "%s is not a checkpoint note", path);
	free(text);
	return c.ck_size;
}

static int
print_path(void *ctx, const char *path)
{
	(void)ctx;
	return puts(path) < 0;
}

int
cmd_tile_paths(int argc, char **argv)
{
	static const char usage[] = "saksi tile-paths (--size N | --checkpoint FILE) "
	    "[--from M | --from-checkpoint FILE]";
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "from", required_argument, NULL, 'f' },
		{ "from-checkpoint", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ck = NULL, *fck = NULL, *sz = NULL, *fsz = NULL;
	uint64_t size, from = 0;
	saksi_err e;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': sz = optarg; break;
		case 'c': ck = optarg; break;
		case 'f': fsz = optarg; break;
		case 'F': fck = optarg; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if ((sz == NULL) == (ck == NULL))
		xusage(usage, "give one of --size and --checkpoint");
	if (fsz != NULL && fck != NULL)
		xusage(usage, "give at most one of --from and --from-checkpoint");
	size = sz != NULL ? xparse_u64(sz, "--size") : ckpt_size(ck, usage);
	if (fsz != NULL)
		from = xparse_u64(fsz, "--from");
	else if (fck != NULL)
		from = ckpt_size(fck, usage);
	if (from > size)
		xusage(usage, "the tree you hold (%" PRIu64 " entries) is larger than the one "
		    "to fetch (%" PRIu64 "): the log was rolled back, or the files are of "
		    "another log", from, size);
	e = saksi_tiles_paths(from, size, print_path, NULL);
	if (e != SAKSI_OK || fflush(stdout) != 0)
		xdie("cannot write the list");
	return SX_OK;
}
