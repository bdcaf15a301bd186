/*
 * bench/merkle.c: how fast lib/merkle.c hashes leaves, appends and proves over a tree of
 * 2^20 leaves held in memory, next to this machine's raw SHA-256 rate in the same run.
 * A measurement, not a test: it checks nothing beyond proofs verifying. Runs ~10 s.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "merkle.h"
#include "bench_clock.h"
#include "../tests/events_gen.h"

#define LEVELS 21
#define NLEAVES (UINT64_C(1) << (LEVELS - 1))
#define LEAF_LEN 256   /* about one ledger leaf: 42-byte header and a small envelope */
#define PHASE_SEC 1.5  /* each timed phase runs about this long */

struct store {
	saksi_hash *lv[LEVELS];
	uint64_t reads;
};

static saksi_err
store_read(void *ctx, unsigned level, uint64_t index, saksi_hash out)
{
	struct store *st = ctx;

	if (level >= LEVELS || index >= (NLEAVES >> level))
		return SAKSI_ERR_NOT_FOUND;
	st->reads++;
	memcpy(out, st->lv[level][index], SAKSI_HASH_LEN);
	return SAKSI_OK;
}

/* Raw SHA-256 over len-byte inputs; each output feeds the next input, so none is skipped. */
static double
raw_rate(size_t len)
{
	uint8_t buf[LEAF_LEN + 1];
	unsigned long n = 0;
	double t0 = bench_now(), t;

	memset(buf, 0xa5, sizeof(buf));
	do {
		for (int i = 0; i < 4096; i++, n++)
			crypto_hash_sha256(buf, buf, len);
		t = bench_now() - t0;
	} while (t < PHASE_SEC);
	return (double)n / t;
}

static void
die(const char *what, saksi_err err)
{
	fprintf(stderr, "bench_merkle: %s: %s\n", what, saksi_strerror(err));
	exit(2);
}

int
main(void)
{
	static const uint64_t seed = 20240601; /* fixed: every run proves the same pairs */
	struct store st;
	saksi_hash *leaves, root, proof[SAKSI_MERKLE_MAX_PROOF], *roots_m;
	saksi_hash hs[64];
	unsigned lv[64], nout;
	uint64_t ix[64], s = seed, nodes = 0, sizes[1024];
	uint8_t leaf[LEAF_LEN];
	double raw65, rawleaf, t0, t;
	unsigned long n, plen;
	saksi_err err;
	size_t np;

	if (sodium_init() < 0)
		die("sodium_init", SAKSI_ERR_INVAL);
	memset(&st, 0, sizeof(st));
	for (int l = 0; l < LEVELS; l++)
		if ((st.lv[l] = malloc((NLEAVES >> l) * sizeof(saksi_hash))) == NULL)
			die("malloc", SAKSI_ERR_NOMEM);
	if ((leaves = malloc(NLEAVES * sizeof(saksi_hash))) == NULL ||
	    (roots_m = malloc(1024 * sizeof(saksi_hash))) == NULL)
		die("malloc", SAKSI_ERR_NOMEM);

	raw65 = raw_rate(1 + 2 * SAKSI_HASH_LEN);
	rawleaf = raw_rate(1 + LEAF_LEN);
	printf("raw SHA-256, 65-byte input:           %10.0f hashes/s\n", raw65);
	printf("raw SHA-256, %d-byte input:          %10.0f hashes/s\n", 1 + LEAF_LEN, rawleaf);

	/* Leaf hashing: 2^20 leaves of LEAF_LEN bytes, each differing in its first 8. */
	memset(leaf, 0x3c, sizeof(leaf));
	t0 = bench_now();
	for (uint64_t i = 0; i < NLEAVES; i++) {
		memcpy(leaf, &i, sizeof(i));
		saksi_merkle_leaf_hash(leaves[i], leaf, sizeof(leaf));
	}
	t = bench_now() - t0;
	printf("leaf hash, %d-byte leaves:           %10.0f hashes/s  (%3.0f%% of raw %d-byte)\n",
	       LEAF_LEN, NLEAVES / t, 100 * NLEAVES / t / rawleaf, 1 + LEAF_LEN);

	/* Appends: every stored node of the tree, one node hash each above level 0. */
	t0 = bench_now();
	for (uint64_t i = 0; i < NLEAVES; i++) {
		if ((err = saksi_merkle_append(store_read, &st, i, leaves[i], lv, ix, hs,
		                               &nout)) != SAKSI_OK)
			die("append", err);
		for (unsigned j = 0; j < nout; j++)
			memcpy(st.lv[lv[j]][ix[j]], hs[j], SAKSI_HASH_LEN);
		nodes += nout - 1;
	}
	t = bench_now() - t0;
	printf("append, %" PRIu64 " leaves:               %10.0f appends/s, %.0f node "
	       "hashes/s  (%3.0f%% of raw 65-byte)\n", NLEAVES, NLEAVES / t, nodes / t,
	       100 * nodes / t / raw65);
	if ((err = saksi_merkle_root(store_read, &st, NLEAVES, root)) != SAKSI_OK)
		die("root", err);

	/*
	 * 1024 random sizes and their roots, prepared outside the timing: a verifier has
	 * them from checkpoints. Smaller sizes have a right edge that is not complete, which
	 * proof generation rebuilds from stored subtrees.
	 */
	for (int k = 0; k < 1024; k++) {
		sizes[k] = 1 + gen_rnd(&s) % NLEAVES;
		if ((err = saksi_merkle_root(store_read, &st, sizes[k], roots_m[k])) != SAKSI_OK)
			die("root", err);
	}

	/* Inclusion proofs of random leaves, in the whole tree and in the random sizes. */
	for (int edge = 0; edge < 2; edge++) {
		n = plen = 0;
		st.reads = 0;
		t0 = bench_now();
		do {
			for (int k = 0; k < 1024; k++, n++) {
				uint64_t size = edge ? sizes[k] : NLEAVES;
				uint64_t i = gen_rnd(&s) % size;

				if ((err = saksi_merkle_prove_inclusion(store_read, &st, i, size,
				                                        proof, &np)) != SAKSI_OK)
					die("prove inclusion", err);
				if ((err = saksi_merkle_verify_inclusion(i, size, leaves[i], proof, np,
				                                         edge ? roots_m[k] : root)) !=
				    SAKSI_OK)
					die("verify inclusion", err);
				plen += np;
			}
			t = bench_now() - t0;
		} while (t < PHASE_SEC);
		printf("inclusion prove+verify, %s:  %10.0f proofs/s, %.0f proof hashes/s  "
		       "(%3.0f%% of raw 65-byte; %.1f hashes, %.1f reads per proof)\n",
		       edge ? "random size" : "size 2^20  ", n / t, plen / t,
		       100 * plen / t / raw65, (double)plen / n, (double)st.reads / n);
	}

	/* Consistency proofs from the random sizes to 2^20. */
	n = plen = 0;
	st.reads = 0;
	t0 = bench_now();
	do {
		for (int k = 0; k < 1024; k++, n++) {
			if ((err = saksi_merkle_prove_consistency(store_read, &st, sizes[k], NLEAVES,
			                                          proof, &np)) != SAKSI_OK)
				die("prove consistency", err);
			if ((err = saksi_merkle_verify_consistency(sizes[k], NLEAVES, roots_m[k],
			                                           root, proof, np)) != SAKSI_OK)
				die("verify consistency", err);
			plen += np;
		}
		t = bench_now() - t0;
	} while (t < PHASE_SEC);
	printf("consistency prove+verify, m random: %10.0f proofs/s, %.0f proof hashes/s  "
	       "(%3.0f%% of raw 65-byte; %.1f hashes, %.1f reads per proof)\n", n / t, plen / t,
	       100 * plen / t / raw65, (double)plen / n, (double)st.reads / n);

	for (int l = 0; l < LEVELS; l++)
		free(st.lv[l]);
	free(leaves);
	free(roots_m);
	return 0;
}
