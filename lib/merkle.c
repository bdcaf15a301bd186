/*
 * merkle.c: RFC 9162 section 2.1 Merkle tree hashing, proofs generated from stored
 * complete-subtree hashes, and proof verification. Pure functions over caller memory:
 * never allocates, never does I/O itself, never asks the reader for a node that is not
 * complete in the tree size it was given.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "merkle.h"

#define LEAF_PREFIX 0x00
#define NODE_PREFIX 0x01

void
saksi_merkle_leaf_hash(saksi_hash out, const uint8_t *leaf, size_t len)
{
	crypto_hash_sha256_state st;
	const uint8_t prefix = LEAF_PREFIX;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &prefix, 1);
	if (len > 0)
		crypto_hash_sha256_update(&st, leaf, len);
	crypto_hash_sha256_final(&st, out);
}

void
saksi_merkle_node_hash(saksi_hash out, const saksi_hash left, const saksi_hash right)
{
	uint8_t buf[1 + 2 * SAKSI_HASH_LEN];

	/* Copy first: out may alias left or right. */
	buf[0] = NODE_PREFIX;
	memcpy(buf + 1, left, SAKSI_HASH_LEN);
	memcpy(buf + 1 + SAKSI_HASH_LEN, right, SAKSI_HASH_LEN);
	crypto_hash_sha256(out, buf, sizeof(buf));
}

void
saksi_merkle_empty_root(saksi_hash out)
{
	crypto_hash_sha256(out, (const uint8_t *)"", 0);
}

/* Number of significant bits of x: 0 for 0, 64 for 2^63 and above. */
static unsigned
bitlen(uint64_t x)
{
	return x == 0 ? 0 : 64 - (unsigned)__builtin_clzll(x);
}

static unsigned
popcount(uint64_t x)
{
	return (unsigned)__builtin_popcountll(x);
}

/*
 * The RFC 9162 hash of the leaves [begin, begin + len), for len > 0 and begin a multiple of
 * the largest power of two <= len. Those leaves split into the complete subtrees of len's
 * binary decomposition, largest first, and MTH folds them right to left; reading the
 * smallest first lets us fold as we read. popcount(len) reads.
 */
static saksi_err
range_hash(saksi_merkle_reader rd, void *ctx, uint64_t begin, uint64_t len, saksi_hash out)
{
	saksi_hash h;
	saksi_err err;
	int have = 0;

	for (unsigned b = 0; b < 64; b++) {
		if ((len >> b & 1) == 0)
			continue;
		/* The subtree of bit b starts after the larger ones (the bits above b). */
		uint64_t start = begin + (len >> b >> 1 << 1 << b);
		if ((err = rd(ctx, b, start >> b, have ? h : out)) != SAKSI_OK)
			return err;
		if (have)
			saksi_merkle_node_hash(out, h, out);
		have = 1;
	}
	return SAKSI_OK;
}

/*
 * Number of hashes path() emits for the node (level, index), complete in a tree of size
 * `size`; *fork gets the level at which its path and the path to leaf `size` part.
 */
static size_t
path_len(unsigned level, uint64_t index, uint64_t size, unsigned *fork)
{
	unsigned inner = bitlen(index ^ (size >> level)) - 1;
	uint64_t end;

	*fork = level + inner;
	end = ((index >> inner) + 1) << *fork;
	return inner + (end < size) + popcount((index >> inner) << *fork);
}

/*
 * The audit path of the complete node (level, index) up to the root of the tree of size
 * `size`, in RFC 9162 order (bottom up), as transparency-dev/merkle computes it:
 * 1. the siblings below the fork (the highest ancestor that is still complete; every node
 *    under it is complete, so each sibling is one stored read);
 * 2. the fork's right sibling, the one subtree that is not complete ("ephemeral"): it is
 *    rebuilt from the complete subtrees covering [end, size), popcount(size - end) reads;
 *    absent when the fork ends exactly at size;
 * 3. above the fork the path runs along the right edge, so every remaining sibling is a
 *    left one: the compact range [0, begin), smallest first, one read each.
 * Reads: inner + popcount(size - end) + popcount(begin) <= 2 * bitlen(size) - 2 - level,
 * so O(log n) even on the right edge. The caller checked the length with path_len().
 */
static saksi_err
path(saksi_merkle_reader rd, void *ctx, unsigned level, uint64_t index, uint64_t size,
     saksi_hash *out)
{
	unsigned inner = bitlen(index ^ (size >> level)) - 1;
	unsigned fork = level + inner;
	uint64_t begin = (index >> inner) << fork;
	uint64_t end = ((index >> inner) + 1) << fork;
	saksi_err err;
	size_t n = 0;

	for (unsigned i = 0; i < inner; i++)
		if ((err = rd(ctx, level + i, (index >> i) ^ 1, out[n++])) != SAKSI_OK)
			return err;
	if (end < size)
		if ((err = range_hash(rd, ctx, end, size - end, out[n++])) != SAKSI_OK)
			return err;
	for (unsigned b = fork + 1; b < 64; b++)
		if (begin >> b & 1)
			if ((err = rd(ctx, b, (begin >> b) - 1, out[n++])) != SAKSI_OK)
				return err;
	return SAKSI_OK;
}

saksi_err
saksi_merkle_append(saksi_merkle_reader rd, void *ctx, uint64_t index,
                    const saksi_hash leaf_hash, unsigned out_level[64], uint64_t out_index[64],
                    saksi_hash out_hash[64], unsigned *n_out)
{
	saksi_hash left;
	saksi_err err;
	uint64_t size;
	unsigned k;

	if (rd == NULL || leaf_hash == NULL || out_level == NULL || out_index == NULL ||
	    out_hash == NULL || n_out == NULL)
		return SAKSI_ERR_INVAL;
	/* The tree size after the append, 2^64, would not fit a uint64_t. */
	if (index == UINT64_MAX)
		return SAKSI_ERR_RANGE;
	size = index + 1;

	out_level[0] = 0;
	out_index[0] = index;
	memmove(out_hash[0], leaf_hash, SAKSI_HASH_LEN);
	/*
	 * Level L completes when 2^L divides the new size; at most 63 levels do, since
	 * size < 2^64. Each new node's left child is stored already; its right child is the
	 * node we made one level down.
	 */
	for (k = 1; k < 64 && (size & ((UINT64_C(1) << k) - 1)) == 0; k++) {
		if ((err = rd(ctx, k - 1, (size >> (k - 1)) - 2, left)) != SAKSI_OK)
			return err;
		out_level[k] = k;
		out_index[k] = (size >> k) - 1;
		saksi_merkle_node_hash(out_hash[k], left, out_hash[k - 1]);
	}
	*n_out = k;
	return SAKSI_OK;
}

saksi_err
saksi_merkle_root(saksi_merkle_reader rd, void *ctx, uint64_t n, saksi_hash root)
{
	if (rd == NULL || root == NULL)
		return SAKSI_ERR_INVAL;
	if (n == 0) {
		saksi_merkle_empty_root(root);
		return SAKSI_OK;
	}
	return range_hash(rd, ctx, 0, n, root);
}

saksi_err
saksi_merkle_prove_inclusion(saksi_merkle_reader rd, void *ctx, uint64_t index, uint64_t n,
                             saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], size_t *n_proof)
{
	unsigned fork;
	size_t len;
	saksi_err err;

	if (rd == NULL || proof == NULL || n_proof == NULL)
		return SAKSI_ERR_INVAL;
	if (index >= n)
		return SAKSI_ERR_RANGE;
	/* At most bitlen(n) <= 64 hashes, so always fits; checked all the same. */
	if ((len = path_len(0, index, n, &fork)) > SAKSI_MERKLE_MAX_PROOF)
		return SAKSI_ERR_RANGE;
	if ((err = path(rd, ctx, 0, index, n, proof)) != SAKSI_OK)
		return err;
	*n_proof = len;
	return SAKSI_OK;
}

saksi_err
saksi_merkle_prove_consistency(saksi_merkle_reader rd, void *ctx, uint64_t m, uint64_t n,
                               saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], size_t *n_proof)
{
	unsigned level, fork;
	uint64_t index;
	size_t len, first;
	saksi_err err;

	if (rd == NULL || proof == NULL || n_proof == NULL)
		return SAKSI_ERR_INVAL;
	if (m == 0 || m > n)
		return SAKSI_ERR_RANGE;
	if (m == n) {
		*n_proof = 0;
		return SAKSI_OK;
	}
	/*
	 * The old tree's rightmost complete subtree (level, index) ends exactly at m. The
	 * proof is that node, then its audit path in the new tree; the node itself is left
	 * out when it is the whole old tree (m a power of two), because the verifier has it
	 * as the old root (RFC 9162 SUBPROOF with b = true).
	 */
	level = (unsigned)__builtin_ctzll(m);
	index = (m - 1) >> level;
	first = index != 0;
	len = first + path_len(level, index, n, &fork);
	/* Only reachable for n > 2^63: one hash more than the buffer holds. */
	if (len > SAKSI_MERKLE_MAX_PROOF)
		return SAKSI_ERR_RANGE;
	if (first && (err = rd(ctx, level, index, proof[0])) != SAKSI_OK)
		return err;
	if ((err = path(rd, ctx, level, index, n, proof + first)) != SAKSI_OK)
		return err;
	*n_proof = len;
	return SAKSI_OK;
}

saksi_err
saksi_merkle_verify_inclusion(uint64_t index, uint64_t n, const saksi_hash leaf_hash,
                              const saksi_hash *proof, size_t n_proof, const saksi_hash root)
{
	saksi_hash r;
	uint64_t fn, sn;

	if (leaf_hash == NULL || root == NULL || (proof == NULL && n_proof > 0))
		return SAKSI_ERR_INVAL;
	/* RFC 9162 2.1.3.2, step by step. */
	if (index >= n)
		return SAKSI_ERR_RANGE;
	fn = index;
	sn = n - 1;
	memcpy(r, leaf_hash, SAKSI_HASH_LEN);
	for (size_t i = 0; i < n_proof; i++) {
		if (sn == 0)
			return SAKSI_ERR_PROOF;
		if ((fn & 1) || fn == sn) {
			saksi_merkle_node_hash(r, proof[i], r);
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else
			saksi_merkle_node_hash(r, r, proof[i]);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || sodium_memcmp(r, root, SAKSI_HASH_LEN) != 0)
		return SAKSI_ERR_PROOF;
	return SAKSI_OK;
}

saksi_err
saksi_merkle_verify_consistency(uint64_t m, uint64_t n, const saksi_hash root1,
                                const saksi_hash root2, const saksi_hash *proof,
                                size_t n_proof)
{
	saksi_hash fr, sr;
	uint64_t fn, sn;
	size_t i;

	if (root1 == NULL || root2 == NULL || (proof == NULL && n_proof > 0))
		return SAKSI_ERR_INVAL;
	if (m == 0 || m > n)
		return SAKSI_ERR_RANGE;
	if (m == n) {
		if (n_proof != 0 || sodium_memcmp(root1, root2, SAKSI_HASH_LEN) != 0)
			return SAKSI_ERR_PROOF;
		return SAKSI_OK;
	}
	/* RFC 9162 2.1.4.2, step by step. */
	if (n_proof == 0)
		return SAKSI_ERR_PROOF;
	/* Step 2 prepends first_hash when m is a power of two; we start from it instead. */
	if ((m & (m - 1)) == 0) {
		memcpy(fr, root1, SAKSI_HASH_LEN);
		i = 0;
	} else {
		memcpy(fr, proof[0], SAKSI_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, SAKSI_HASH_LEN);
	fn = m - 1;
	sn = n - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < n_proof; i++) {
		if (sn == 0)
			return SAKSI_ERR_PROOF;
		if ((fn & 1) || fn == sn) {
			saksi_merkle_node_hash(fr, proof[i], fr);
			saksi_merkle_node_hash(sr, proof[i], sr);
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else
			saksi_merkle_node_hash(sr, sr, proof[i]);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || sodium_memcmp(fr, root1, SAKSI_HASH_LEN) != 0 ||
	    sodium_memcmp(sr, root2, SAKSI_HASH_LEN) != 0)
		return SAKSI_ERR_PROOF;
	return SAKSI_OK;
}

void
saksi_merkle_range_init(saksi_merkle_range *r)
{
	memset(r, 0, sizeof(*r));
}

saksi_err
saksi_merkle_range_push(saksi_merkle_range *r, const saksi_hash leaf_hash)
{
	saksi_hash h;
	uint64_t s;

	if (r == NULL || leaf_hash == NULL)
		return SAKSI_ERR_INVAL;
	/* 2^64 leaves would not fit mr_size; refuse rather than wrap. */
	if (r->mr_size == UINT64_MAX)
		return SAKSI_ERR_RANGE;
	if (r->mr_count != popcount(r->mr_size))
		return SAKSI_ERR_INVAL;
	/* Like a binary counter: each trailing 1 bit of the size is a subtree that merges. */
	memcpy(h, leaf_hash, SAKSI_HASH_LEN);
	for (s = r->mr_size; s & 1; s >>= 1)
		saksi_merkle_node_hash(h, r->mr_hash[--r->mr_count], h);
	memcpy(r->mr_hash[r->mr_count++], h, SAKSI_HASH_LEN);
	r->mr_size++;
	return SAKSI_OK;
}

saksi_err
saksi_merkle_range_root(const saksi_merkle_range *r, saksi_hash root)
{
	unsigned i;

	if (r == NULL || root == NULL)
		return SAKSI_ERR_INVAL;
	/* A damaged range must give an error, not a wrong root or a read past mr_hash. */
	if (r->mr_count != popcount(r->mr_size))
		return SAKSI_ERR_INVAL;
	if (r->mr_count == 0) {
		saksi_merkle_empty_root(root);
		return SAKSI_OK;
	}
	i = r->mr_count - 1;
	memcpy(root, r->mr_hash[i], SAKSI_HASH_LEN);
	while (i-- > 0)
		saksi_merkle_node_hash(root, r->mr_hash[i], root);
	return SAKSI_OK;
}
