/*
 * merkle_test.c: RFC 9162 hashing, proofs from stored subtrees and their verification,
 * checked against the transparency-dev/merkle vectors and against a recursive reference
 * written straight from the RFC's MTH/PATH/SUBPROOF definitions. Never trusts merkle.c to
 * check itself: the reference hashes with crypto_hash_sha256 directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "merkle.h"
#include "../tests/events_gen.h"

#define BIG_TREE 4097
#define REF_MAX 80 /* reference proofs may be longer than SAKSI_MERKLE_MAX_PROOF */

/* ---------------------------------------------------------------------------------------
 * Seeded randomness (events_gen.h's splitmix64): the seed is printed so a failure can be
 * replayed with SAKSI_TEST_SEED=<seed>.
 */
static uint64_t
rnd_below(uint64_t *s, uint64_t n)
{
	return gen_rnd(s) % n;
}

static uint64_t
test_seed(const char *what)
{
	const char *env = getenv("SAKSI_TEST_SEED");
	uint64_t seed;

	if (env != NULL && *env != '\0')
		seed = strtoull(env, NULL, 0);
	else
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	print_message("%s: seed %" PRIu64 " (replay with SAKSI_TEST_SEED=%" PRIu64 ")\n", what,
	              seed, seed);
	return seed;
}

static unsigned
bitlen(uint64_t x)
{
	return x == 0 ? 0 : 64 - (unsigned)__builtin_clzll(x);
}

/* ---------------------------------------------------------------------------------------
 * The reference: RFC 9162 2.1.1 (MTH), 2.1.3.1 (PATH) and 2.1.4.1 (PROOF, SUBPROOF),
 * recursively as written. A tree is either an array of leaf hashes or "uniform" (every
 * leaf the same), whose perfect subtree hashes are known per level, so that trees of
 * nearly 2^64 leaves can be checked too.
 */
struct ref_tree {
	const saksi_hash *rt_leaves; /* NULL: uniform */
	saksi_hash rt_uniform[64];   /* hash of a perfect uniform subtree of 2^L leaves */
};

static void
ref_node(saksi_hash out, const saksi_hash l, const saksi_hash r)
{
	uint8_t buf[65];

	buf[0] = 0x01;
	memcpy(buf + 1, l, 32);
	memcpy(buf + 33, r, 32);
	crypto_hash_sha256(out, buf, sizeof(buf));
}

static void
ref_leaf(saksi_hash out, const uint8_t *data, size_t len)
{
	uint8_t buf[256];

	assert_true(len < sizeof(buf));
	buf[0] = 0x00;
	if (len > 0)
		memcpy(buf + 1, data, len);
	crypto_hash_sha256(out, buf, len + 1);
}

/* The largest power of two smaller than n, n > 1. */
static uint64_t
ref_split(uint64_t n)
{
	uint64_t k = 1;

	while (k < n - k) /* 2k < n, without overflowing past 2^63 */
		k <<= 1;
	return k;
}

/* MTH(D[start:start+n]). */
static void
ref_mth(const struct ref_tree *t, uint64_t start, uint64_t n, saksi_hash out)
{
	saksi_hash l, r;
	uint64_t k;

	if (n == 0) {
		crypto_hash_sha256(out, (const uint8_t *)"", 0);
		return;
	}
	if (t->rt_leaves == NULL && (n & (n - 1)) == 0) {
		memcpy(out, t->rt_uniform[bitlen(n) - 1], 32);
		return;
	}
	if (n == 1) {
		memcpy(out, t->rt_leaves[start], 32);
		return;
	}
	k = ref_split(n);
	ref_mth(t, start, k, l);
	ref_mth(t, start + k, n - k, r);
	ref_node(out, l, r);
}

/* PATH(m, D[start:start+n]), appended to out. */
static void
ref_path(const struct ref_tree *t, uint64_t start, uint64_t m, uint64_t n,
         saksi_hash out[REF_MAX], size_t *len)
{
	uint64_t k;

	if (n == 1)
		return;
	k = ref_split(n);
	if (m < k) {
		ref_path(t, start, m, k, out, len);
		assert_true(*len < REF_MAX);
		ref_mth(t, start + k, n - k, out[(*len)++]);
	} else {
		ref_path(t, start + k, m - k, n - k, out, len);
		assert_true(*len < REF_MAX);
		ref_mth(t, start, k, out[(*len)++]);
	}
}

/* SUBPROOF(m, D[start:start+n], b), appended to out. */
static void
ref_subproof(const struct ref_tree *t, uint64_t start, uint64_t m, uint64_t n, int b,
             saksi_hash out[REF_MAX], size_t *len)
{
	uint64_t k;

	if (m == n) {
		if (!b) {
			assert_true(*len < REF_MAX);
			ref_mth(t, start, m, out[(*len)++]);
		}
		return;
	}
	k = ref_split(n);
	if (m <= k) {
		ref_subproof(t, start, m, k, b, out, len);
		assert_true(*len < REF_MAX);
		ref_mth(t, start + k, n - k, out[(*len)++]);
	} else {
		ref_subproof(t, start + k, m - k, n - k, 0, out, len);
		assert_true(*len < REF_MAX);
		ref_mth(t, start, k, out[(*len)++]);
	}
}

/* PROOF(m, D[n]). */
static void
ref_proof(const struct ref_tree *t, uint64_t m, uint64_t n, saksi_hash out[REF_MAX],
          size_t *len)
{
	*len = 0;
	ref_subproof(t, 0, m, n, 1, out, len);
}

/* ---------------------------------------------------------------------------------------
 * An in-memory node store, read through the saksi_merkle_reader callback. It refuses (and
 * fails the test on) any read of a node that is not complete in st_limit, the tree size
 * the code under test was given, and can inject a reader error at the k-th read.
 */
struct store {
	saksi_hash *st_lv[64];
	uint64_t st_cnt[64];
	uint64_t st_cap[64];
	uint64_t st_limit;
	uint64_t st_reads;
	int64_t st_fail_at; /* -1: never */
	saksi_err st_fail_err;
};

static void
store_init(struct store *st)
{
	memset(st, 0, sizeof(*st));
	st->st_fail_at = -1;
}

static void
store_free(struct store *st)
{
	for (int i = 0; i < 64; i++)
		free(st->st_lv[i]);
	memset(st, 0, sizeof(*st));
}

static saksi_err
store_read(void *ctx, unsigned level, uint64_t index, saksi_hash out)
{
	struct store *st = ctx;
	uint64_t n = st->st_reads++;

	if (st->st_fail_at >= 0 && n == (uint64_t)st->st_fail_at)
		return st->st_fail_err;
	if (level >= 64 || index >= (st->st_limit >> level))
		fail_msg("read of (%u, %" PRIu64 "), not complete in a tree of size %" PRIu64,
		         level, index, st->st_limit);
	if (index >= st->st_cnt[level])
		fail_msg("read of (%u, %" PRIu64 "), never stored", level, index);
	memcpy(out, st->st_lv[level][index], SAKSI_HASH_LEN);
	return SAKSI_OK;
}

static void
store_put(struct store *st, unsigned level, uint64_t index, const saksi_hash h)
{
	assert_true(level < 64);
	/* The header promises nodes in append order: each level grows by one at its end. */
	assert_int_equal(index, st->st_cnt[level]);
	if (st->st_cnt[level] == st->st_cap[level]) {
		uint64_t cap = st->st_cap[level] ? 2 * st->st_cap[level] : 16;
		saksi_hash *p = realloc(st->st_lv[level], cap * sizeof(saksi_hash));

		assert_non_null(p);
		st->st_lv[level] = p;
		st->st_cap[level] = cap;
	}
	memcpy(st->st_lv[level][st->st_cnt[level]++], h, SAKSI_HASH_LEN);
}

/* Appends leaf hash h as leaf number `index`, checking what saksi_merkle_append returns. */
static void
store_append(struct store *st, uint64_t index, const saksi_hash h)
{
	unsigned lv[64], n = 999;
	uint64_t ix[64];
	saksi_hash hs[64];

	st->st_limit = index; /* append may read only the tree before the new leaf */
	st->st_reads = 0;
	assert_int_equal(saksi_merkle_append(store_read, st, index, h, lv, ix, hs, &n),
	                 SAKSI_OK);
	assert_int_equal(n, (unsigned)__builtin_ctzll(index + 1) + 1);
	assert_int_equal(st->st_reads, n - 1);
	for (unsigned j = 0; j < n; j++) {
		assert_int_equal(lv[j], j);
		assert_int_equal(ix[j], ((index + 1) >> j) - 1);
		store_put(st, lv[j], ix[j], hs[j]);
	}
	assert_memory_equal(hs[0], h, SAKSI_HASH_LEN);
}

/* Deterministic leaves: leaf i is "saksi merkle test leaf " || i (8, big-endian). */
static void
make_leaves(saksi_hash *lh, uint64_t n)
{
	uint8_t data[32] = "saksi merkle test leaf ";

	for (uint64_t i = 0; i < n; i++) {
		for (int b = 0; b < 8; b++)
			data[23 + b] = (uint8_t)(i >> (56 - 8 * b));
		saksi_merkle_leaf_hash(lh[i], data, 31);
	}
}

struct fixture {
	saksi_hash *fx_leaves;
	struct store fx_st;
	struct ref_tree fx_ref;
	uint64_t fx_n;
};

static struct fixture *
fixture_new(uint64_t n)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->fx_leaves = calloc(n, sizeof(saksi_hash));
	assert_non_null(fx->fx_leaves);
	make_leaves(fx->fx_leaves, n);
	store_init(&fx->fx_st);
	for (uint64_t i = 0; i < n; i++)
		store_append(&fx->fx_st, i, fx->fx_leaves[i]);
	fx->fx_ref.rt_leaves = fx->fx_leaves;
	fx->fx_n = n;
	return fx;
}

static void
fixture_free(struct fixture *fx)
{
	store_free(&fx->fx_st);
	free(fx->fx_leaves);
	free(fx);
}

static int
setup_big(void **state)
{
	*state = fixture_new(BIG_TREE);
	return 0;
}

static int
teardown_big(void **state)
{
	fixture_free(*state);
	return 0;
}

static void
root_of(struct store *st, uint64_t n, saksi_hash root)
{
	st->st_limit = n;
	st->st_reads = 0;
	assert_int_equal(saksi_merkle_root(store_read, st, n, root), SAKSI_OK);
	assert_int_equal(st->st_reads, (uint64_t)__builtin_popcountll(n));
}

/* Proves and verifies leaf index in tree size n; compares with the reference. */
static void
check_inclusion(struct fixture *fx, uint64_t index, uint64_t n, const saksi_hash root)
{
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], want[REF_MAX];
	size_t np = 999, nw = 0;

	fx->fx_st.st_limit = n;
	fx->fx_st.st_reads = 0;
	assert_int_equal(saksi_merkle_prove_inclusion(store_read, &fx->fx_st, index, n, proof,
	                                              &np), SAKSI_OK);
	assert_true(fx->fx_st.st_reads <= 2 * bitlen(n) - 2);
	ref_path(&fx->fx_ref, 0, index, n, want, &nw);
	assert_int_equal(np, nw);
	if (np > 0)
		assert_memory_equal(proof, want, np * SAKSI_HASH_LEN);
	assert_int_equal(saksi_merkle_verify_inclusion(index, n, fx->fx_leaves[index], proof,
	                                               np, root), SAKSI_OK);
}

static void
check_consistency(struct fixture *fx, uint64_t m, uint64_t n, const saksi_hash root1,
                  const saksi_hash root2)
{
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], want[REF_MAX];
	size_t np = 999, nw = 0;

	fx->fx_st.st_limit = n;
	fx->fx_st.st_reads = 0;
	assert_int_equal(saksi_merkle_prove_consistency(store_read, &fx->fx_st, m, n, proof,
	                                                &np), SAKSI_OK);
	assert_true(fx->fx_st.st_reads <= 2 * bitlen(n) - 1);
	ref_proof(&fx->fx_ref, m, n, want, &nw);
	assert_int_equal(np, nw);
	if (np > 0)
		assert_memory_equal(proof, want, np * SAKSI_HASH_LEN);
	assert_int_equal(saksi_merkle_verify_consistency(m, n, root1, root2, proof, np),
	                 SAKSI_OK);
}

/* ---------------------------------------------------------------------------------------
 * Known answers.
 */
static const char *const readme_leaves[8] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};
static const char *const readme_roots[9] = {
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void
hex32(const char *hex, saksi_hash out)
{
	size_t len = 0;

	assert_int_equal(sodium_hex2bin(out, 32, hex, strlen(hex), NULL, &len, NULL), 0);
	assert_int_equal(len, 32);
}

/* The README's eight leaves, appended into st (also returns their hashes). */
static void
readme_tree(struct store *st, saksi_hash lh[8])
{
	uint8_t data[16];
	size_t len;

	store_init(st);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(sodium_hex2bin(data, sizeof(data), readme_leaves[i],
		                                strlen(readme_leaves[i]), NULL, &len, NULL), 0);
		saksi_merkle_leaf_hash(lh[i], data, len);
		store_append(st, (uint64_t)i, lh[i]);
	}
}

static void
test_readme_roots(void **state)
{
	saksi_merkle_range r;
	saksi_hash lh[8], want, got, ref;
	struct store st;
	struct ref_tree rt = { .rt_leaves = lh };

	(void)state;
	readme_tree(&st, lh);
	saksi_merkle_range_init(&r);
	for (uint64_t n = 0; n <= 8; n++) {
		if (n > 0)
			assert_int_equal(saksi_merkle_range_push(&r, lh[n - 1]), SAKSI_OK);
		hex32(readme_roots[n], want);
		assert_int_equal(r.mr_size, n);
		assert_int_equal(saksi_merkle_range_root(&r, got), SAKSI_OK);
		assert_memory_equal(got, want, 32);
		root_of(&st, n, got);
		assert_memory_equal(got, want, 32);
		ref_mth(&rt, 0, n, ref);
		assert_memory_equal(ref, want, 32);
	}
	store_free(&st);
}

static void
test_hash_primitives(void **state)
{
	uint8_t data[200];
	saksi_hash a, b, c, d;

	(void)state;
	saksi_merkle_empty_root(a);
	hex32(readme_roots[0], b);
	assert_memory_equal(a, b, 32);
	/* Leaf "" is the root of the one-leaf tree. */
	saksi_merkle_leaf_hash(a, NULL, 0);
	hex32(readme_roots[1], b);
	assert_memory_equal(a, b, 32);
	for (size_t len = 0; len < sizeof(data); len++) {
		data[len] = (uint8_t)(len * 7 + 1);
		saksi_merkle_leaf_hash(a, data, len);
		ref_leaf(b, data, len);
		assert_memory_equal(a, b, 32);
	}
	/* node hash, also with out aliasing either input */
	saksi_merkle_leaf_hash(a, data, 10);
	saksi_merkle_leaf_hash(b, data, 20);
	ref_node(c, a, b);
	saksi_merkle_node_hash(d, a, b);
	assert_memory_equal(d, c, 32);
	memcpy(d, a, 32);
	saksi_merkle_node_hash(d, d, b);
	assert_memory_equal(d, c, 32);
	memcpy(d, b, 32);
	saksi_merkle_node_hash(d, a, d);
	assert_memory_equal(d, c, 32);
	memcpy(d, a, 32);
	saksi_merkle_node_hash(d, d, d);
	ref_node(c, a, a);
	assert_memory_equal(d, c, 32);
}

/* ---------------------------------------------------------------------------------------
 * Generated proofs against the reference.
 */
static void
test_every_pair_small(void **state)
{
	struct fixture *fx = *state;
	saksi_hash roots[131], ref, rr;
	saksi_merkle_range r;
	unsigned long pairs = 0;

	saksi_merkle_range_init(&r);
	for (uint64_t n = 1; n <= 130; n++) {
		assert_int_equal(saksi_merkle_range_push(&r, fx->fx_leaves[n - 1]), SAKSI_OK);
		root_of(&fx->fx_st, n, roots[n]);
		ref_mth(&fx->fx_ref, 0, n, ref);
		assert_memory_equal(roots[n], ref, 32);
		assert_int_equal(saksi_merkle_range_root(&r, rr), SAKSI_OK);
		assert_memory_equal(rr, ref, 32);
		for (uint64_t i = 0; i < n; i++, pairs++)
			check_inclusion(fx, i, n, roots[n]);
		for (uint64_t m = 1; m <= n; m++, pairs++)
			check_consistency(fx, m, n, roots[m], roots[n]);
	}
	print_message("every (index, size) and (m, n) for sizes 1..130: %lu proofs\n", pairs);
}

static void
test_sampled_large(void **state)
{
	static const uint64_t sizes[] = { 255, 256, 257, 511, 1000, 1023, 1024, 1025, 2048,
	                                  3000, 4095, 4096, 4097 };
	struct fixture *fx = *state;
	uint64_t seed = test_seed("sampled large trees"), s = seed;
	saksi_hash root, root_m, ref;
	unsigned long pairs = 0;

	for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
		uint64_t n = sizes[z];
		uint64_t fixed[] = { 0, 1, 2, n / 2, n - 2, n - 1, n & ~(n - 1),
		                     (UINT64_C(1) << (bitlen(n) - 1)) - 1,
		                     (UINT64_C(1) << (bitlen(n) - 1)) };

		root_of(&fx->fx_st, n, root);
		ref_mth(&fx->fx_ref, 0, n, ref);
		assert_memory_equal(root, ref, 32);
		for (size_t j = 0; j < sizeof(fixed) / sizeof(fixed[0]) + 48; j++, pairs += 2) {
			uint64_t i = j < sizeof(fixed) / sizeof(fixed[0]) ? fixed[j]
			                                                   : rnd_below(&s, n);
			uint64_t m;

			if (i >= n)
				i = n - 1;
			check_inclusion(fx, i, n, root);
			m = i + 1;
			root_of(&fx->fx_st, m, root_m);
			check_consistency(fx, m, n, root_m, root);
		}
	}
	print_message("sampled sizes up to %d (seed %" PRIu64 "): %lu proofs\n", BIG_TREE, seed,
	              pairs);
}

/*
 * Every size 1..4097: stored root against the compact range, and the right edge (last
 * leaf, previous size) plus one random pair each, verified (the reference is too slow to
 * run for all of these; the sampled test covers it).
 */
static void
test_every_size_right_edge(void **state)
{
	struct fixture *fx = *state;
	uint64_t seed = test_seed("right edges"), s = seed;
	saksi_hash *roots = calloc(BIG_TREE + 1, sizeof(saksi_hash));
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], rr;
	saksi_merkle_range r;
	size_t np;

	assert_non_null(roots);
	saksi_merkle_range_init(&r);
	for (uint64_t n = 1; n <= BIG_TREE; n++) {
		uint64_t idx[2] = { n - 1, rnd_below(&s, n) };

		assert_int_equal(saksi_merkle_range_push(&r, fx->fx_leaves[n - 1]), SAKSI_OK);
		assert_int_equal(saksi_merkle_range_root(&r, rr), SAKSI_OK);
		root_of(&fx->fx_st, n, roots[n]);
		assert_memory_equal(roots[n], rr, 32);
		for (int k = 0; k < 2; k++) {
			uint64_t m = idx[k] + 1;

			fx->fx_st.st_limit = n;
			fx->fx_st.st_reads = 0;
			assert_int_equal(saksi_merkle_prove_inclusion(store_read, &fx->fx_st,
			                                              idx[k], n, proof, &np),
			                 SAKSI_OK);
			assert_true(fx->fx_st.st_reads <= 2 * bitlen(n) - 2);
			assert_true(np <= bitlen(n));
			assert_int_equal(saksi_merkle_verify_inclusion(idx[k], n,
			                                               fx->fx_leaves[idx[k]],
			                                               proof, np, roots[n]),
			                 SAKSI_OK);
			fx->fx_st.st_reads = 0;
			assert_int_equal(saksi_merkle_prove_consistency(store_read, &fx->fx_st, m,
			                                                n, proof, &np),
			                 SAKSI_OK);
			assert_true(fx->fx_st.st_reads <= 2 * bitlen(n) - 1);
			assert_int_equal(saksi_merkle_verify_consistency(m, n, roots[m], roots[n],
			                                                 proof, np),
			                 SAKSI_OK);
		}
	}
	free(roots);
}

/*
 * Trees of up to 2^64-1 identical leaves: stored node (L, k) is the same hash for every k,
 * so a reader can serve any size, and the reference can compute it in O(log^2 n).
 */
struct uniform {
	saksi_hash un_h[64];
	uint64_t un_limit;
	uint64_t un_reads;
};

static saksi_err
uniform_read(void *ctx, unsigned level, uint64_t index, saksi_hash out)
{
	struct uniform *u = ctx;

	u->un_reads++;
	if (level >= 64 || index >= (u->un_limit >> level))
		fail_msg("read of (%u, %" PRIu64 "), not complete in a tree of size %" PRIu64,
		         level, index, u->un_limit);
	memcpy(out, u->un_h[level], 32);
	return SAKSI_OK;
}

static void
test_huge_uniform(void **state)
{
	static const uint64_t sizes[] = {
		UINT64_MAX, UINT64_MAX - 1, (UINT64_C(1) << 63) + 1, UINT64_C(1) << 63,
		(UINT64_C(1) << 63) - 1, (UINT64_C(1) << 62) + 12345, UINT64_C(0xdeadbeefcafe),
		UINT64_C(1) << 40, 3,
	};
	uint64_t seed = test_seed("huge uniform trees"), s = seed;
	struct uniform u;
	struct ref_tree rt;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], want[REF_MAX], root, root_m, ref;
	size_t np, nw;
	unsigned long refused = 0, checked = 0;

	(void)state;
	memset(&u, 0, sizeof(u));
	memset(&rt, 0, sizeof(rt));
	ref_leaf(u.un_h[0], (const uint8_t *)"x", 1);
	for (int l = 1; l < 64; l++)
		ref_node(u.un_h[l], u.un_h[l - 1], u.un_h[l - 1]);
	memcpy(rt.rt_uniform, u.un_h, sizeof(u.un_h));

	for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
		uint64_t n = sizes[z];
		uint64_t pick[] = { 0, 1, 2, n / 2, n - 2, n - 1, rnd_below(&s, n),
		                    rnd_below(&s, n), n >> 1 >> rnd_below(&s, 63) };

		u.un_limit = n;
		u.un_reads = 0;
		assert_int_equal(saksi_merkle_root(uniform_read, &u, n, root), SAKSI_OK);
		assert_int_equal(u.un_reads, (uint64_t)__builtin_popcountll(n));
		ref_mth(&rt, 0, n, ref);
		assert_memory_equal(root, ref, 32);
		for (size_t j = 0; j < sizeof(pick) / sizeof(pick[0]); j++) {
			uint64_t i = pick[j] < n ? pick[j] : n - 1, m = i + 1;

			u.un_limit = n;
			u.un_reads = 0;
			assert_int_equal(saksi_merkle_prove_inclusion(uniform_read, &u, i, n,
			                                              proof, &np), SAKSI_OK);
			assert_true(u.un_reads <= 2 * bitlen(n) - 2);
			nw = 0;
			ref_path(&rt, 0, i, n, want, &nw);
			assert_int_equal(np, nw);
			if (np > 0)
				assert_memory_equal(proof, want, np * 32);
			assert_int_equal(saksi_merkle_verify_inclusion(i, n, u.un_h[0], proof, np,
			                                               root), SAKSI_OK);

			u.un_limit = m;
			assert_int_equal(saksi_merkle_root(uniform_read, &u, m, root_m), SAKSI_OK);
			u.un_limit = n;
			u.un_reads = 0;
			ref_proof(&rt, m, n, want, &nw);
			if (nw > SAKSI_MERKLE_MAX_PROOF) {
				/* Only past 2^63 leaves; the verifier still takes the long proof. */
				assert_true(n > (UINT64_C(1) << 63));
				np = 999;
				assert_int_equal(saksi_merkle_prove_consistency(uniform_read, &u, m,
				                                                n, proof, &np),
				                 SAKSI_ERR_RANGE);
				assert_int_equal(np, 999);
				assert_int_equal(u.un_reads, 0);
				assert_int_equal(saksi_merkle_verify_consistency(m, n, root_m, root,
				                                                 (const saksi_hash *)want,
				                                                 nw), SAKSI_OK);
				refused++;
				continue;
			}
			assert_int_equal(saksi_merkle_prove_consistency(uniform_read, &u, m, n,
			                                                proof, &np), SAKSI_OK);
			assert_true(u.un_reads <= 2 * bitlen(n) - 1);
			assert_int_equal(np, nw);
			if (np > 0)
				assert_memory_equal(proof, want, np * 32);
			assert_int_equal(saksi_merkle_verify_consistency(m, n, root_m, root, proof,
			                                                 np), SAKSI_OK);
			checked++;
		}
	}
	/* Appends that complete every level up to 63, or none. */
	{
		static const uint64_t at[] = { (UINT64_C(1) << 63) - 1, UINT64_MAX - 1,
			                       (UINT64_C(1) << 62) - 1, UINT64_C(1) << 62 };
		unsigned lv[64], nout;
		uint64_t ix[64];
		saksi_hash hs[64];

		for (size_t z = 0; z < sizeof(at) / sizeof(at[0]); z++) {
			u.un_limit = at[z];
			u.un_reads = 0;
			assert_int_equal(saksi_merkle_append(uniform_read, &u, at[z], u.un_h[0], lv,
			                                     ix, hs, &nout), SAKSI_OK);
			assert_int_equal(nout, (unsigned)__builtin_ctzll(at[z] + 1) + 1);
			assert_int_equal(u.un_reads, nout - 1);
			for (unsigned j = 0; j < nout; j++) {
				assert_int_equal(lv[j], j);
				assert_int_equal(ix[j], ((at[z] + 1) >> j) - 1);
				assert_memory_equal(hs[j], u.un_h[j], 32);
			}
		}
	}

	/* (3, 2^64-1) is one of the picks, so the 65-hash case is exercised. */
	assert_true(refused > 0);
	print_message("huge trees (seed %" PRIu64 "): %lu consistency proofs checked, %lu "
	              "refused as longer than %d hashes\n", seed, checked, refused,
	              SAKSI_MERKLE_MAX_PROOF);
}

/* ---------------------------------------------------------------------------------------
 * Error paths.
 */
static void
test_range_errors(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->fx_st;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], root5, root6, h;
	size_t np = 999;

	root_of(st, 5, root5);
	root_of(st, 6, root6);
	st->st_limit = 5;
	st->st_reads = 0;
	/* index >= n */
	assert_int_equal(saksi_merkle_prove_inclusion(store_read, st, 5, 5, proof, &np),
	                 SAKSI_ERR_RANGE);
	assert_int_equal(saksi_merkle_prove_inclusion(store_read, st, 0, 0, proof, &np),
	                 SAKSI_ERR_RANGE);
	assert_int_equal(saksi_merkle_prove_inclusion(store_read, st, UINT64_MAX, 5, proof,
	                                              &np), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_merkle_verify_inclusion(5, 5, fx->fx_leaves[4], NULL, 0, root5),
	                 SAKSI_ERR_RANGE);
	assert_int_equal(saksi_merkle_verify_inclusion(0, 0, fx->fx_leaves[0], NULL, 0, root5),
	                 SAKSI_ERR_RANGE);
	assert_int_equal(saksi_merkle_verify_inclusion(UINT64_MAX, UINT64_MAX, fx->fx_leaves[0],
	                                               NULL, 0, root5), SAKSI_ERR_RANGE);
	/* m = 0, m > n */
	assert_int_equal(saksi_merkle_prove_consistency(store_read, st, 0, 5, proof, &np),
	                 SAKSI_ERR_RANGE);
	assert_int_equal(saksi_merkle_prove_consistency(store_read, st, 0, 0, proof, &np),
	                 SAKSI_ERR_RANGE);
	assert_int_equal(saksi_merkle_prove_consistency(store_read, st, 6, 5, proof, &np),
	                 SAKSI_ERR_RANGE);
	assert_int_equal(saksi_merkle_verify_consistency(0, 5, root5, root5, NULL, 0),
	                 SAKSI_ERR_RANGE);
	assert_int_equal(saksi_merkle_verify_consistency(0, 0, root5, root5, NULL, 0),
	                 SAKSI_ERR_RANGE);
	assert_int_equal(saksi_merkle_verify_consistency(6, 5, root6, root5, NULL, 0),
	                 SAKSI_ERR_RANGE);
	assert_int_equal(np, 999);
	assert_int_equal(st->st_reads, 0);

	/* m == n: empty proof, no reads; a non-empty proof or different roots fail */
	assert_int_equal(saksi_merkle_prove_consistency(store_read, st, 5, 5, proof, &np),
	                 SAKSI_OK);
	assert_int_equal(np, 0);
	assert_int_equal(st->st_reads, 0);
	assert_int_equal(saksi_merkle_verify_consistency(5, 5, root5, root5, NULL, 0), SAKSI_OK);
	memcpy(proof[0], root5, 32);
	assert_int_equal(saksi_merkle_verify_consistency(5, 5, root5, root5,
	                                                 (const saksi_hash *)proof, 1),
	                 SAKSI_ERR_PROOF);
	assert_int_equal(saksi_merkle_verify_consistency(5, 5, root5, root6, NULL, 0),
	                 SAKSI_ERR_PROOF);
	/* m < n needs a proof */
	assert_int_equal(saksi_merkle_verify_consistency(5, 6, root5, root6, NULL, 0),
	                 SAKSI_ERR_PROOF);
	/* size 1: the leaf is the root and the proof is empty; anything else fails */
	root_of(st, 1, h);
	assert_int_equal(saksi_merkle_verify_inclusion(0, 1, fx->fx_leaves[0], NULL, 0, h),
	                 SAKSI_OK);
	assert_int_equal(saksi_merkle_verify_inclusion(0, 1, fx->fx_leaves[0],
	                                               (const saksi_hash *)proof, 1, h),
	                 SAKSI_ERR_PROOF);

	/* append past 2^64-1 leaves */
	{
		unsigned lv[64], n = 999;
		uint64_t ix[64];
		saksi_hash hs[64];

		assert_int_equal(saksi_merkle_append(store_read, st, UINT64_MAX, h, lv, ix, hs,
		                                     &n), SAKSI_ERR_RANGE);
		assert_int_equal(n, 999);
	}
}

static void
test_null_args(void **state)
{
	struct fixture *fx = *state;
	struct store *st = &fx->fx_st;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], h;
	unsigned lv[64], n;
	uint64_t ix[64];
	saksi_hash hs[64];
	size_t np;

	st->st_limit = 10;
	memset(h, 0, sizeof(h));
	assert_int_equal(saksi_merkle_root(NULL, st, 10, h), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_root(store_read, st, 10, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_prove_inclusion(NULL, st, 1, 10, proof, &np),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_prove_inclusion(store_read, st, 1, 10, NULL, &np),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_prove_inclusion(store_read, st, 1, 10, proof, NULL),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_prove_consistency(NULL, st, 1, 10, proof, &np),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_prove_consistency(store_read, st, 1, 10, NULL, &np),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_prove_consistency(store_read, st, 1, 10, proof, NULL),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_verify_inclusion(0, 2, NULL, NULL, 0, h), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_verify_inclusion(0, 2, h, NULL, 0, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_verify_inclusion(0, 2, h, NULL, 1, h), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_verify_consistency(1, 2, NULL, h, NULL, 0),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_verify_consistency(1, 2, h, NULL, NULL, 0),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_verify_consistency(1, 2, h, h, NULL, 1), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_append(NULL, st, 10, h, lv, ix, hs, &n), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_append(store_read, st, 10, NULL, lv, ix, hs, &n),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_append(store_read, st, 10, h, NULL, ix, hs, &n),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_append(store_read, st, 10, h, lv, NULL, hs, &n),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_append(store_read, st, 10, h, lv, ix, NULL, &n),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_append(store_read, st, 10, h, lv, ix, hs, NULL),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_range_push(NULL, h), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_range_root(NULL, h), SAKSI_ERR_INVAL);
}

static void
test_range_limits(void **state)
{
	saksi_merkle_range r, before;
	saksi_hash h, root;

	(void)state;
	memset(h, 0x5a, sizeof(h));
	saksi_merkle_range_init(&r);
	assert_int_equal(saksi_merkle_range_push(&r, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_merkle_range_root(&r, NULL), SAKSI_ERR_INVAL);
	/* full: 2^64-1 leaves, 64 subtrees */
	r.mr_size = UINT64_MAX;
	r.mr_count = 64;
	for (int i = 0; i < 64; i++)
		memset(r.mr_hash[i], i, 32);
	before = r;
	assert_int_equal(saksi_merkle_range_push(&r, h), SAKSI_ERR_RANGE);
	assert_memory_equal(&r, &before, sizeof(r));
	assert_int_equal(saksi_merkle_range_root(&r, root), SAKSI_OK);
	/* damaged: count does not match size */
	r.mr_size = 5;
	r.mr_count = 3;
	before = r;
	assert_int_equal(saksi_merkle_range_push(&r, h), SAKSI_ERR_INVAL);
	assert_memory_equal(&r, &before, sizeof(r));
	assert_int_equal(saksi_merkle_range_root(&r, root), SAKSI_ERR_INVAL);
	r.mr_count = 65;
	assert_int_equal(saksi_merkle_range_root(&r, root), SAKSI_ERR_INVAL);
}

/* Every read of every operation fails once, in turn: the error comes back unchanged. */
static void
test_reader_errors(void **state)
{
	static const saksi_err errs[] = { SAKSI_ERR_LEDGER, SAKSI_ERR_CORRUPT,
		                          SAKSI_ERR_NOT_FOUND, SAKSI_ERR_IO, SAKSI_ERR_NOMEM };
	struct fixture *fx = *state;
	struct store *st = &fx->fx_st;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], h;
	unsigned lv[64], nout;
	uint64_t ix[64];
	saksi_hash hs[64];
	unsigned long injected = 0;
	size_t np;

	for (int op = 0; op < 4; op++) {
		/* sizes with a long right edge, and enough reads for each operation */
		uint64_t cases[][2] = { { 77, 1023 }, { 5, 4097 }, { 1000, 2047 }, { 3, 6 } };
		/* appends that complete many levels at once */
		static const uint64_t appends[] = { 1023, 4095, 2047, 7 };

		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			uint64_t a = cases[c][0], n = cases[c][1], total = 0;
			saksi_err rc;

			/* First count the reads, then fail each one. */
			st->st_limit = n;
			st->st_fail_at = -1;
			for (int64_t k = -1;; k++) {
				saksi_err want = k < 0 ? SAKSI_OK : errs[k % 5];

				st->st_fail_at = k;
				st->st_fail_err = want;
				st->st_reads = 0;
				np = 999;
				nout = 999;
				switch (op) {
				case 0:
					rc = saksi_merkle_root(store_read, st, n, h);
					break;
				case 1:
					rc = saksi_merkle_prove_inclusion(store_read, st, a, n, proof,
					                                  &np);
					break;
				case 2:
					rc = saksi_merkle_prove_consistency(store_read, st, a, n, proof,
					                                    &np);
					break;
				default:
					st->st_limit = appends[c];
					rc = saksi_merkle_append(store_read, st, appends[c], h, lv, ix,
					                         hs, &nout);
					break;
				}
				assert_int_equal(rc, want);
				if (k < 0) {
					total = st->st_reads;
					assert_true(total > 0);
					continue;
				}
				/* nothing reported on failure */
				assert_int_equal(np, 999);
				assert_int_equal(nout, 999);
				assert_int_equal(st->st_reads, (uint64_t)k + 1);
				injected++;
				if ((uint64_t)k + 1 == total)
					break;
			}
		}
	}
	st->st_fail_at = -1;
	print_message("reader errors passed through: %lu\n", injected);
}

/* Flipped bits anywhere, truncated or extended proofs, other indices: all must fail. */
static void
test_tampering(void **state)
{
	struct fixture *fx = *state;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF + 1], roots[70], leaf;
	unsigned long tried = 0;
	size_t np;

	for (uint64_t n = 1; n < 70; n++)
		root_of(&fx->fx_st, n, roots[n]);
	for (uint64_t n = 1; n < 70; n += (n < 20 ? 1 : 7)) {
		for (uint64_t i = 0; i < n; i++) {
			fx->fx_st.st_limit = n;
			assert_int_equal(saksi_merkle_prove_inclusion(store_read, &fx->fx_st, i, n,
			                                              proof, &np), SAKSI_OK);
			for (size_t j = 0; j < np; j++)
				for (int bit = 0; bit < 256; bit += (n < 10 ? 1 : 37), tried++) {
					proof[j][bit / 8] ^= (uint8_t)(1u << (bit % 8));
					assert_int_equal(saksi_merkle_verify_inclusion(
					                     i, n, fx->fx_leaves[i], proof, np, roots[n]),
					                 SAKSI_ERR_PROOF);
					proof[j][bit / 8] ^= (uint8_t)(1u << (bit % 8));
				}
			for (int bit = 0; bit < 256; bit += 13, tried += 2) {
				memcpy(leaf, fx->fx_leaves[i], 32);
				leaf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				assert_int_equal(saksi_merkle_verify_inclusion(i, n, leaf, proof, np,
				                                               roots[n]),
				                 SAKSI_ERR_PROOF);
				memcpy(leaf, roots[n], 32);
				leaf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				assert_int_equal(saksi_merkle_verify_inclusion(i, n, fx->fx_leaves[i],
				                                               proof, np, leaf),
				                 SAKSI_ERR_PROOF);
			}
			if (np > 0)
				assert_int_equal(saksi_merkle_verify_inclusion(i, n, fx->fx_leaves[i],
				                                               proof, np - 1,
				                                               roots[n]),
				                 SAKSI_ERR_PROOF);
			memcpy(proof[np], roots[n], 32);
			assert_int_equal(saksi_merkle_verify_inclusion(i, n, fx->fx_leaves[i], proof,
			                                               np + 1, roots[n]),
			                 SAKSI_ERR_PROOF);
			/* the same proof and leaf claimed at any other index of the same tree */
			for (uint64_t o = 0; o < n; o++, tried++)
				if (o != i)
					assert_int_equal(saksi_merkle_verify_inclusion(
					                     o, n, fx->fx_leaves[i], proof, np, roots[n]),
					                 SAKSI_ERR_PROOF);
		}
		for (uint64_t m = 1; m < n; m++) {
			fx->fx_st.st_limit = n;
			assert_int_equal(saksi_merkle_prove_consistency(store_read, &fx->fx_st, m, n,
			                                                proof, &np), SAKSI_OK);
			assert_true(np > 0);
			for (size_t j = 0; j < np; j++)
				for (int bit = 0; bit < 256; bit += (n < 10 ? 1 : 37), tried++) {
					proof[j][bit / 8] ^= (uint8_t)(1u << (bit % 8));
					assert_int_equal(saksi_merkle_verify_consistency(
					                     m, n, roots[m], roots[n], proof, np),
					                 SAKSI_ERR_PROOF);
					proof[j][bit / 8] ^= (uint8_t)(1u << (bit % 8));
				}
			for (int bit = 0; bit < 256; bit += 13, tried += 2) {
				memcpy(leaf, roots[m], 32);
				leaf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				assert_int_equal(saksi_merkle_verify_consistency(m, n, leaf, roots[n],
				                                                 proof, np),
				                 SAKSI_ERR_PROOF);
				memcpy(leaf, roots[n], 32);
				leaf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				assert_int_equal(saksi_merkle_verify_consistency(m, n, roots[m], leaf,
				                                                 proof, np),
				                 SAKSI_ERR_PROOF);
			}
			assert_int_equal(saksi_merkle_verify_consistency(m, n, roots[m], roots[n],
			                                                 proof, np - 1),
			                 SAKSI_ERR_PROOF);
			memcpy(proof[np], roots[n], 32);
			assert_int_equal(saksi_merkle_verify_consistency(m, n, roots[m], roots[n],
			                                                 proof, np + 1),
			                 SAKSI_ERR_PROOF);
			/* swapped roots */
			assert_int_equal(saksi_merkle_verify_consistency(m, n, roots[n], roots[m],
			                                                 proof, np),
			                 SAKSI_ERR_PROOF);
			tried += 3;
		}
	}
	print_message("tampered proofs rejected: %lu\n", tried);
}

/* ---------------------------------------------------------------------------------------
 * The transparency-dev/merkle vectors (FORMATS: see ${SAKSI_VECTORS_DIR}/rfc9162/README.md).
 */
#define VEC_INCLUSION 98
#define VEC_CONSISTENCY 98

struct vec_tally {
	unsigned vt_inclusion, vt_consistency;
	unsigned vt_pass, vt_bad_len, vt_range, vt_proof;
	unsigned vt_stand_ins; /* roots that are not 32 bytes (see vec_root) */
	unsigned vt_compared; /* happy paths whose proof we regenerated byte for byte */
	struct store vt_st;   /* the README's eight leaves */
	saksi_hash vt_roots[9];
};

/*
 * jansson holds integers as long long, and leafIdx goes up to 2^64-1; so every number
 * outside a string is quoted before parsing and read back with strtoull. The vectors hold
 * only non-negative integers, strings, booleans, null, arrays and objects.
 */
static char *
quote_numbers(const char *in, size_t len, size_t *outlen)
{
	char *out = malloc(2 * len + 1);
	size_t o = 0;
	int instr = 0, esc = 0;

	assert_non_null(out);
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (instr) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				instr = 0;
			out[o++] = c;
		} else if (c == '"') {
			instr = 1;
			out[o++] = c;
		} else if ((c >= '0' && c <= '9') || c == '-') {
			out[o++] = '"';
			while (i < len && ((in[i] >= '0' && in[i] <= '9') || in[i] == '-' ||
			                   in[i] == '+' || in[i] == '.' || in[i] == 'e' ||
			                   in[i] == 'E'))
				out[o++] = in[i++];
			out[o++] = '"';
			i--;
		} else
			out[o++] = c;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

static uint64_t
vec_u64(json_t *obj, const char *key, const char *path)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	char *end;
	unsigned long long x;

	if (!json_is_string(v))
		fail_msg("%s: %s missing or not a number", path, key);
	s = json_string_value(v);
	if (*s < '0' || *s > '9')
		fail_msg("%s: %s is not a non-negative integer", path, key);
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		fail_msg("%s: %s out of range", path, key);
	return (uint64_t)x;
}

/* 1 if the base64 string decodes to exactly 32 bytes. */
static int
vec_hash(json_t *v, saksi_hash out, const char *path)
{
	uint8_t buf[256];
	const char *s;
	size_t len = 0;

	if (!json_is_string(v))
		fail_msg("%s: hash is not a string", path);
	s = json_string_value(v);
	if (sodium_base642bin(buf, sizeof(buf), s, strlen(s), NULL, &len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 || len != SAKSI_HASH_LEN)
		return 0;
	memcpy(out, buf, SAKSI_HASH_LEN);
	return 1;
}

/*
 * A root of another length than 32 bytes. transparency-dev compares roots as byte
 * strings: a root of the wrong length never matches a computed one, and two given roots
 * (m == n) match when their bytes do. A stand-in that is 32 bytes, equal exactly when the
 * bytes are, and never a real root gives our fixed-size API the same answers. Leaf hashes
 * and proof hashes of the wrong length stay errors, as they are in transparency-dev (which
 * checks the leaf hash length) and in our own parsers.
 */
static int
vec_root(json_t *v, saksi_hash out, unsigned *stand_ins, const char *path)
{
	static const char tag[] = "saksi test stand-in for a root that is not 32 bytes";
	uint8_t buf[256 + sizeof(tag)];
	const char *s;
	size_t len = 0;

	if (vec_hash(v, out, path))
		return 1;
	s = json_string_value(v);
	memcpy(buf, tag, sizeof(tag));
	if (sodium_base642bin(buf + sizeof(tag), 256, s, strlen(s), NULL, &len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0)
		return 0;
	crypto_hash_sha256(out, buf, sizeof(tag) + len);
	(*stand_ins)++;
	return 1;
}

/* The proof array (null is empty); 1 if every element is 32 bytes. */
static int
vec_proof(json_t *obj, saksi_hash **proof, size_t *n, const char *path)
{
	json_t *v = json_object_get(obj, "proof");
	int ok = 1;

	*proof = NULL;
	*n = 0;
	if (json_is_null(v))
		return 1;
	if (!json_is_array(v))
		fail_msg("%s: proof is neither null nor an array", path);
	*n = json_array_size(v);
	*proof = calloc(*n + 1, sizeof(saksi_hash));
	assert_non_null(*proof);
	for (size_t i = 0; i < *n; i++)
		ok &= vec_hash(json_array_get(v, i), (*proof)[i], path);
	return ok;
}

static void
vec_case(struct vec_tally *t, const char *path, int inclusion)
{
	FILE *f = fopen(path, "rb");
	char buf[65536], *q;
	size_t len, qlen, np;
	json_t *obj, *want;
	json_error_t jerr;
	saksi_hash a, b, c, *proof, gen[SAKSI_MERKLE_MAX_PROOF];
	uint64_t x, y;
	int decoded, failed, want_err;
	saksi_err rc = SAKSI_OK;

	assert_non_null(f);
	len = fread(buf, 1, sizeof(buf), f);
	assert_true(len < sizeof(buf));
	fclose(f);
	q = quote_numbers(buf, len, &qlen);
	obj = json_loadb(q, qlen, JSON_REJECT_DUPLICATES, &jerr);
	free(q);
	if (obj == NULL)
		fail_msg("%s: %s", path, jerr.text);
	want = json_object_get(obj, "wantErr");
	if (!json_is_boolean(want))
		fail_msg("%s: wantErr missing", path);
	want_err = json_is_true(want);

	if (inclusion) {
		x = vec_u64(obj, "leafIdx", path);
		y = vec_u64(obj, "treeSize", path);
		decoded = vec_root(json_object_get(obj, "root"), a, &t->vt_stand_ins, path);
		decoded &= vec_hash(json_object_get(obj, "leafHash"), b, path);
		decoded &= vec_proof(obj, &proof, &np, path);
		if (decoded)
			rc = saksi_merkle_verify_inclusion(x, y, b, (const saksi_hash *)proof, np, a);
		t->vt_inclusion++;
	} else {
		x = vec_u64(obj, "size1", path);
		y = vec_u64(obj, "size2", path);
		decoded = vec_root(json_object_get(obj, "root1"), a, &t->vt_stand_ins, path);
		decoded &= vec_root(json_object_get(obj, "root2"), b, &t->vt_stand_ins, path);
		decoded &= vec_proof(obj, &proof, &np, path);
		if (decoded)
			rc = saksi_merkle_verify_consistency(x, y, a, b, (const saksi_hash *)proof,
			                                     np);
		t->vt_consistency++;
	}
	failed = !decoded || rc != SAKSI_OK;
	if (failed != want_err)
		fail_msg("%s (\"%s\"): verification %s (%s), want %s", path,
		         json_string_value(json_object_get(obj, "desc")),
		         failed ? "failed" : "passed",
		         decoded ? saksi_strerror(rc) : "a leaf or proof hash is not 32 bytes",
		         want_err ? "an error" : "success");
	if (!decoded)
		t->vt_bad_len++;
	else if (rc == SAKSI_ERR_RANGE)
		t->vt_range++;
	else if (rc == SAKSI_ERR_PROOF)
		t->vt_proof++;
	else {
		assert_int_equal(rc, SAKSI_OK);
		t->vt_pass++;
	}

	/*
	 * The happy paths are proofs over the README's eight leaves: when the roots say so,
	 * our generated proof must be the vector's, byte for byte.
	 */
	if (!want_err && y <= 8 && sodium_memcmp(inclusion ? a : b, t->vt_roots[y], 32) == 0 &&
	    (inclusion || sodium_memcmp(a, t->vt_roots[x], 32) == 0)) {
		t->vt_st.st_limit = y;
		if (inclusion) {
			assert_int_equal(saksi_merkle_prove_inclusion(store_read, &t->vt_st, x, y,
			                                              gen, &len), SAKSI_OK);
			/* the leaf hash is the stored one */
			t->vt_st.st_limit = 8;
			assert_int_equal(store_read(&t->vt_st, 0, x, c), SAKSI_OK);
			assert_memory_equal(c, b, 32);
		} else
			assert_int_equal(saksi_merkle_prove_consistency(store_read, &t->vt_st, x, y,
			                                                gen, &len), SAKSI_OK);
		assert_int_equal(len, np);
		if (np > 0)
			assert_memory_equal(gen, proof, np * 32);
		t->vt_compared++;
	}
	free(proof);
	json_decref(obj);
}

static void
vec_walk(struct vec_tally *t, const char *dir, int inclusion)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat sb;
	char path[4096];
	size_t l;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) <
		            sizeof(path));
		assert_int_equal(stat(path, &sb), 0);
		l = strlen(e->d_name);
		if (S_ISDIR(sb.st_mode))
			vec_walk(t, path, inclusion);
		else if (S_ISREG(sb.st_mode) && l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
			vec_case(t, path, inclusion);
	}
	closedir(d);
}

static void
test_vectors(void **state)
{
	const char *base = SAKSI_VECTORS_DIR "/rfc9162";
	struct vec_tally t;
	saksi_hash lh[8];
	struct stat sb;

	(void)state;
	if (stat(base, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		print_message("%s absent: skipping the RFC 9162 vectors\n", base);
		skip();
	}
	memset(&t, 0, sizeof(t));
	readme_tree(&t.vt_st, lh);
	for (int i = 0; i <= 8; i++)
		root_of(&t.vt_st, (uint64_t)i, t.vt_roots[i]);
	vec_walk(&t, SAKSI_VECTORS_DIR "/rfc9162/inclusion", 1);
	vec_walk(&t, SAKSI_VECTORS_DIR "/rfc9162/consistency", 0);
	store_free(&t.vt_st);
	print_message("rfc9162 vectors: %u inclusion + %u consistency = %u cases; %u verified, "
	              "failed as wanted: %u on a leaf or proof hash that is not 32 bytes, "
	              "%u out of range, %u bad proof; %u roots not 32 bytes given a stand-in; "
	              "%u happy-path proofs regenerated byte for byte\n",
	              t.vt_inclusion, t.vt_consistency, t.vt_inclusion + t.vt_consistency,
	              t.vt_pass, t.vt_bad_len, t.vt_range, t.vt_proof, t.vt_stand_ins,
	              t.vt_compared);
	assert_int_equal(t.vt_inclusion, VEC_INCLUSION);
	assert_int_equal(t.vt_consistency, VEC_CONSISTENCY);
	/* the tallies of commit 417fb0c's data, so that a change of verdict shows */
	assert_int_equal(t.vt_pass, 12);
	assert_int_equal(t.vt_bad_len, 29);
	assert_int_equal(t.vt_range, 27);
	assert_int_equal(t.vt_proof, 128);
	assert_int_equal(t.vt_stand_ins, 33);
	assert_int_equal(t.vt_compared, 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_primitives),
		cmocka_unit_test(test_readme_roots),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test_setup_teardown(test_every_pair_small, setup_big, teardown_big),
		cmocka_unit_test_setup_teardown(test_sampled_large, setup_big, teardown_big),
		cmocka_unit_test_setup_teardown(test_every_size_right_edge, setup_big,
		                                teardown_big),
		cmocka_unit_test(test_huge_uniform),
		cmocka_unit_test_setup_teardown(test_range_errors, setup_big, teardown_big),
		cmocka_unit_test_setup_teardown(test_null_args, setup_big, teardown_big),
		cmocka_unit_test(test_range_limits),
		cmocka_unit_test_setup_teardown(test_reader_errors, setup_big, teardown_big),
		cmocka_unit_test_setup_teardown(test_tampering, setup_big, teardown_big),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
