/*
 * merkle.h: RFC 9162 section 2.1 Merkle tree hashing, proof generation over stored
 * subtree hashes, and proof verification. Pure functions: no I/O, no allocation
 * except where stated, thread-safe.
 *
 * Stored hashes: the hash of the complete subtree at (level L, index k) covers leaves
 * [k*2^L, (k+1)*2^L). Level 0 holds the leaf hashes. A tree of size n has such a subtree
 * stored for every (L, k) with (k+1)*2^L <= n. Proof generation reads only those.
 */
#ifndef SAKSI_MERKLE_H
#define SAKSI_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "saksi_error.h"

#define SAKSI_HASH_LEN 32
/*
 * Hashes in a proof. Enough for every inclusion proof and for every consistency proof
 * with n <= 2^63; a consistency proof into a larger tree can need 65, and
 * saksi_merkle_prove_consistency refuses it with SAKSI_ERR_RANGE.
 */
#define SAKSI_MERKLE_MAX_PROOF 64

typedef uint8_t saksi_hash[SAKSI_HASH_LEN];

/* out = SHA-256(0x00 || leaf). */
void saksi_merkle_leaf_hash(saksi_hash out, const uint8_t *leaf, size_t len);
/* out = SHA-256(0x01 || left || right). out may alias left or right. */
void saksi_merkle_node_hash(saksi_hash out, const saksi_hash left, const saksi_hash right);
/* out = SHA-256("") (the root of the empty tree). */
void saksi_merkle_empty_root(saksi_hash out);

/*
 * Reads the stored hash of the complete subtree (level, index) into out.
 * Returns SAKSI_OK, or an error which the caller passes through unchanged.
 */
typedef saksi_err (*saksi_merkle_reader)(void *ctx, unsigned level, uint64_t index,
                                         saksi_hash out);

/*
 * The new stored hashes that appending one leaf creates. After leaf number `index`
 * (0-based) with hash `leaf_hash` is appended, the tree stores (0, index) = leaf_hash and,
 * for every level L >= 1 where index+1 is a multiple of 2^L, (L, (index+1)/2^L - 1).
 * saksi_merkle_append computes them: it reads the left siblings through `rd`, writes up to
 * 64 (level, index, hash) triples into out_* and returns how many in *n_out: entry 0 is
 * the leaf, then one per level upwards. ctz(index+1) reads. SAKSI_ERR_RANGE if
 * index == UINT64_MAX (the size would overflow). On error *n_out is untouched and out_*
 * are unspecified.
 */
saksi_err saksi_merkle_append(saksi_merkle_reader rd, void *ctx, uint64_t index,
                              const saksi_hash leaf_hash, unsigned out_level[64],
                              uint64_t out_index[64], saksi_hash out_hash[64],
                              unsigned *n_out);

/*
 * Root of the tree of size n from stored hashes: popcount(n) reads. n = 0 gives the empty
 * root.
 */
saksi_err saksi_merkle_root(saksi_merkle_reader rd, void *ctx, uint64_t n, saksi_hash root);

/*
 * Inclusion proof (RFC 9162 2.1.3.1) for leaf `index` in the tree of size n, from stored
 * hashes. Writes up to SAKSI_MERKLE_MAX_PROOF hashes; *n_proof gets the count. Same
 * hashes in the same order as RFC 9162 PATH and transparency-dev/merkle. The subtree on
 * the right edge that is not complete is rebuilt from the complete ones it splits into:
 * at most 2*bitlen(n) - 2 reads in all, O(log n). SAKSI_ERR_RANGE if index >= n.
 */
saksi_err saksi_merkle_prove_inclusion(saksi_merkle_reader rd, void *ctx, uint64_t index,
                                       uint64_t n, saksi_hash proof[SAKSI_MERKLE_MAX_PROOF],
                                       size_t *n_proof);

/*
 * Consistency proof (RFC 9162 2.1.4.1) between sizes m and n, 0 < m <= n (m == n gives an
 * empty proof). SAKSI_ERR_RANGE otherwise, and if the proof would exceed
 * SAKSI_MERKLE_MAX_PROOF (only possible for n > 2^63). At most 2*bitlen(n) - 1 reads.
 */
saksi_err saksi_merkle_prove_consistency(saksi_merkle_reader rd, void *ctx, uint64_t m,
                                         uint64_t n, saksi_hash proof[SAKSI_MERKLE_MAX_PROOF],
                                         size_t *n_proof);

/*
 * RFC 9162 2.1.3.2: SAKSI_OK if `proof` proves leaf_hash at index in a tree of size n with
 * root `root`; SAKSI_ERR_PROOF if not; SAKSI_ERR_RANGE if index >= n.
 */
saksi_err saksi_merkle_verify_inclusion(uint64_t index, uint64_t n, const saksi_hash leaf_hash,
                                        const saksi_hash *proof, size_t n_proof,
                                        const saksi_hash root);

/*
 * RFC 9162 2.1.4.2: SAKSI_OK if `proof` proves that the tree of size m with root1 is a
 * prefix of the tree of size n with root2. m == n requires an empty proof and equal roots.
 * SAKSI_ERR_RANGE if m == 0 or m > n; SAKSI_ERR_PROOF for any other failure. Takes a
 * proof of any length (also the 65-hash ones that generation refuses).
 */
saksi_err saksi_merkle_verify_consistency(uint64_t m, uint64_t n, const saksi_hash root1,
                                          const saksi_hash root2, const saksi_hash *proof,
                                          size_t n_proof);

/*
 * A compact range [0, n): the roots of the perfect subtrees of n's binary decomposition,
 * largest first. Lets a verifier rebuild a whole tree from its leaves in O(log n) memory.
 */
typedef struct saksi_merkle_range {
	uint64_t mr_size;
	unsigned mr_count;
	saksi_hash mr_hash[64];
} saksi_merkle_range;

void saksi_merkle_range_init(saksi_merkle_range *r);
/*
 * Appends one leaf hash. SAKSI_ERR_RANGE if the range already holds 2^64-1 leaves,
 * SAKSI_ERR_INVAL if mr_count does not match mr_size (a damaged range); r is unchanged then.
 */
saksi_err saksi_merkle_range_push(saksi_merkle_range *r, const saksi_hash leaf_hash);
/* The RFC 9162 root of the leaves pushed so far; SAKSI_ERR_INVAL for a damaged range. */
saksi_err saksi_merkle_range_root(const saksi_merkle_range *r, saksi_hash root);

#endif
