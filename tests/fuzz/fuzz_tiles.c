/*
 * fuzz_tiles.c: libFuzzer target for the tile export reader (lib/tiles.h), which
 * saksi verify --tiles runs on files fetched from anywhere. The input is split into a
 * tree size (first 2 bytes, 1..300), a partial entry bundle and a level 0 tile, written
 * as the files of an export in a scratch directory. Checks: every entry read lies within
 * the bundle's bytes, in order, each once; no read past the tree's end but the one entry
 * C2SP's partial bundle could hold; errors are only the documented ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "tiles.h"

static char root[64];

static void
cleanup(void)
{
	fuzz_rmtree(root);
}

static void
put(const char *rel, const uint8_t *data, size_t len)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	FUZZ_SETUP((f = fopen(p, "wb")) != NULL);
	FUZZ_SETUP(fwrite(data, 1, len, f) == len || len == 0);
	FUZZ_SETUP(fclose(f) == 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char p[128];

	(void)argc;
	(void)argv;
	FUZZ_SCRATCH(root, sizeof(root), "saksi-fuzz-tiles");
	atexit(cleanup);
	snprintf(p, sizeof(p), "%s/tile", root);
	FUZZ_SETUP(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/tile/entries", root);
	FUZZ_SETUP(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/tile/0", root);
	FUZZ_SETUP(mkdir(p, 0700) == 0);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char rel[SAKSI_TILES_PATH_MAX], p[256];
	uint64_t n, i;
	size_t split, total = 0;
	saksi_tiles *t;
	saksi_hash h;
	saksi_err e;

	if (size < 4)
		return 0;
	n = 1 + ((uint64_t)data[0] << 8 | data[1]) % 300;
	split = 2 + ((size_t)data[2] << 8 | data[3]) % (size - 1);
	if (split > size)
		split = size;
	put("checkpoint", (const uint8_t *)"x\n", 2);
	/* The bundles and the level 0 tiles a tree of n entries reads: the input for the
	 * last (partial or full) one, copies of it for the full ones before. */
	for (uint64_t b = 0; b * 256 < n; b++) {
		unsigned w = (n - b * 256) >= 256 ? 0 : (unsigned)(n % 256);

		FUZZ_SETUP(saksi_tiles_path(rel, sizeof(rel), SAKSI_TILE_ENTRIES, b, w) ==
		    SAKSI_OK);
		if (w != 0) {
			snprintf(p, sizeof(p), "%s/tile/entries/%03u.p", root, (unsigned)b);
			(void)mkdir(p, 0700);
			snprintf(p, sizeof(p), "%s/tile/0/%03u.p", root, (unsigned)b);
			(void)mkdir(p, 0700);
		}
		put(rel, data + 4, split > 4 ? split - 4 : 0);
		FUZZ_SETUP(saksi_tiles_path(rel, sizeof(rel), 0, b, w) == SAKSI_OK);
		put(rel, data + split, size - split);
	}
	FUZZ_SETUP(saksi_tiles_open(root, &t) == SAKSI_OK);
	for (i = 0; i <= n; i++) {
		uint8_t *leaf = NULL;
		size_t len = 0;

		e = saksi_tiles_leaf(t, n, i, &leaf, &len);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_NOT_FOUND || e == SAKSI_ERR_CORRUPT ||
		           e == SAKSI_ERR_TOO_LARGE, "leaf error %d", e);
		if (e == SAKSI_OK) {
			FUZZ_CHECK(len <= 65535, "entry of %zu bytes", len);
			total += 2 + len;
			free(leaf);
		}
		e = saksi_tiles_hash(t, n, 0, i, h);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_NOT_FOUND || e == SAKSI_ERR_CORRUPT ||
		           e == SAKSI_ERR_RANGE, "hash error %d", e);
		FUZZ_CHECK(i < n || e == SAKSI_ERR_RANGE, "a hash past the tree's end");
	}
	/* Every bundle holds the same bytes: at most their count times their length. */
	FUZZ_CHECK(total <= (split > 4 ? split - 4 : 0) * ((n + 255) / 256),
	           "%zu entry bytes from bundles of %zu", total, split - 4);
	saksi_tiles_close(t);
	return 0;
}
