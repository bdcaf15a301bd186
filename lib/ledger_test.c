/*
 * ledger_test.c: the ledger against real LMDB in mkdtemp() dirs: roots and every proof
 * compared with an independent compact range, the prev_root chain, compression with a
 * trained dictionary, aborts, reopen, read-only copies, a full map, hostile stored bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <lmdb.h>
#include <sodium.h>

#include "bytes.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"
#include "../tests/events_gen.h"
#include "../tests/ledger_fixture.h"
#include "../tests/testutil.h"

#define ORIGIN "bpjs.example/saksi/test"
#define VKEY "bpjs.example/saksi/test+0a1b2c3d+AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefgh="
#define T0 1767225600000ULL /* 2026-01-01T00:00:00Z */

static uint64_t g_seed;

struct fx {
	char dir[256];
};

/* ---- fixtures and helpers ---- */

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(tmpdir_make(f->dir, sizeof(f->dir), "saksi-ledger"), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	rm_rf(f->dir);
	free(f);
	return 0;
}

static void
fill_random(uint64_t *s, uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)gen_rnd(s);
}

/*
 * A deterministic, envelope-shaped body for entry i: the header fields, an event type,
 * a JSON payload whose personal fields are _sd digests, and a 64-byte signature. The
 * digests, ids and signature are random, as in real traffic; the rest repeats.
 */
static size_t
make_event(uint64_t i, uint8_t *out)
{
	static const char *const types[] = {
		"queue.booking.created", "queue.ticket.called", "queue.ticket.served",
		"claim.jht.submitted", "claim.jht.verified", "claim.jkk.submitted",
		"claim.jht.paid", "staff.login",
	};
	static const char *const branches[] = {
		"KC-MAKASSAR", "KC-JAKARTA-SALEMBA", "KC-SURABAYA-RUNGKUT", "KC-MEDAN",
		"KC-BANDUNG-SUCI", "KC-DENPASAR",
	};
	static const char *const status[] = { "created", "waiting", "in_review", "approved",
		"rejected", "paid" };
	uint64_t s = g_seed ^ (i * 0x9e3779b97f4a7c15ULL), key = i % 16;
	uint8_t rnd[32], kid[8], ks = (uint8_t)key;
	char sd1[48], sd2[48], payload[1024];
	const char *type = types[gen_rnd(&s) % 8];
	size_t tl = strlen(type), pl, o = 0;
	uint64_t ks64 = g_seed ^ ks;

	fill_random(&ks64, kid, sizeof(kid));
	fill_random(&s, rnd, 32);
	sodium_bin2base64(sd1, sizeof(sd1), rnd, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	fill_random(&s, rnd, 32);
	sodium_bin2base64(sd2, sizeof(sd2), rnd, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	pl = (size_t)snprintf(payload, sizeof(payload),
	    "{\"branch\":\"%s\",\"claim_id\":\"JHT-2026-%06" PRIu64 "\",\"counter\":%u,"
	    "\"nik\":{\"_sd\":\"%s\"},\"name\":{\"_sd\":\"%s\"},\"queue\":\"%c\","
	    "\"service\":\"%s\",\"status\":\"%s\",\"ticket\":\"%c-%03u\","
	    "\"at\":\"2026-01-%02u T%02u:%02u:%02u+08:00\",\"amount_idr\":%u}",
	    branches[gen_rnd(&s) % 6], gen_rnd(&s) % 1000000, (unsigned)(gen_rnd(&s) % 12),
	    sd1, sd2, "ABCD"[gen_rnd(&s) % 4], type, status[gen_rnd(&s) % 6],
	    "ABCD"[gen_rnd(&s) % 4], (unsigned)(gen_rnd(&s) % 1000),
	    (unsigned)(1 + gen_rnd(&s) % 28), (unsigned)(gen_rnd(&s) % 24),
	    (unsigned)(gen_rnd(&s) % 60), (unsigned)(gen_rnd(&s) % 60),
	    (unsigned)(gen_rnd(&s) % 90000000));
	out[o++] = 1;
	out[o++] = 1;
	memcpy(out + o, kid, 8);
	o += 8;
	saksi_put_u64(out + o, i / 16 + 1);
	o += 8;
	saksi_put_u64(out + o, T0 + i * 1371);
	o += 8;
	out[o++] = (uint8_t)tl;
	memcpy(out + o, type, tl);
	o += tl;
	saksi_put_u32(out + o, (uint32_t)pl);
	o += 4;
	memcpy(out + o, payload, pl);
	o += pl;
	fill_random(&s, out + o, 64);
	return o + 64;
}

/* A refusal summary body with count entries. */
static size_t
make_refusals(uint64_t i, unsigned count, uint8_t *out)
{
	uint64_t s = g_seed ^ ~i;
	unsigned k;

	saksi_put_u16(out, (uint16_t)count);
	for (k = 0; k < count; k++) {
		uint8_t *e = out + 2 + 29 * k;

		fill_random(&s, e, 8);
		e[8] = (uint8_t)(2 + k % 13);
		saksi_put_u32(e + 9, 1 + k);
		saksi_put_u64(e + 13, T0 + i);
		saksi_put_u64(e + 21, T0 + i + 5);
	}
	return 2 + 29 * (size_t)count;
}

static int
kind_of(uint64_t i)
{
	return i % 53 == 52 ? SAKSI_LEAF_REFUSALS : SAKSI_LEAF_EVENT;
}

static size_t
make_body(uint64_t i, uint8_t *out)
{
	return kind_of(i) == SAKSI_LEAF_EVENT ? make_event(i, out) :
	    make_refusals(i, 1 + (unsigned)(i % 3), out);
}

static uint64_t
commit_ms(uint64_t i)
{
	return T0 + 1000 * (i / 7);
}

/* The leaf the ledger must have stored at i, given the root of the i entries before. */
static size_t
expected_leaf(uint64_t i, const saksi_hash prev, uint8_t *out)
{
	out[0] = 1;
	out[1] = (uint8_t)kind_of(i);
	saksi_put_u64(out + 2, commit_ms(i));
	memcpy(out + 10, prev, SAKSI_HASH_LEN);
	return SAKSI_LEAF_HDR + make_body(i, out + SAKSI_LEAF_HDR);
}

static saksi_ledger *
open_rw(const char *dir, const saksi_ledger_opts *o)
{
	saksi_ledger *l = NULL;

	assert_int_equal(saksi_ledger_open(dir, ORIGIN, VKEY, o, &l), SAKSI_OK);
	assert_non_null(l);
	return l;
}

/*
 * The independent model of a ledger: roots[n] for every size n reached and the leaf
 * hashes, from a compact range fed with the expected leaf bytes.
 */
struct model {
	uint64_t n, cap;
	saksi_hash *roots;
	saksi_hash *lh;
	saksi_merkle_range range;
};

static void
model_init(struct model *m, uint64_t cap)
{
	memset(m, 0, sizeof(*m));
	m->cap = cap;
	m->roots = calloc(cap + 1, sizeof(saksi_hash));
	m->lh = calloc(cap, sizeof(saksi_hash));
	assert_non_null(m->roots);
	assert_non_null(m->lh);
	saksi_merkle_range_init(&m->range);
	saksi_merkle_range_root(&m->range, m->roots[0]);
}

static void
model_free(struct model *m)
{
	free(m->roots);
	free(m->lh);
}

/* Appends entry m->n in txn and checks what the ledger says against the model. */
static void
append_one(saksi_ledger_txn *txn, struct model *m)
{
	static uint8_t leaf[SAKSI_LEAF_MAX];
	uint64_t i = m->n, idx = UINT64_MAX;
	saksi_hash h;
	size_t len;

	assert_true(i < m->cap);
	len = expected_leaf(i, m->roots[i], leaf);
	assert_int_equal(saksi_ledger_append(txn, kind_of(i), commit_ms(i), leaf + SAKSI_LEAF_HDR,
	    len - SAKSI_LEAF_HDR, &idx, h), SAKSI_OK);
	assert_int_equal(idx, i);
	saksi_merkle_leaf_hash(m->lh[i], leaf, len);
	assert_memory_equal(h, m->lh[i], SAKSI_HASH_LEN);
	saksi_merkle_range_push(&m->range, h);
	m->n = i + 1;
	saksi_merkle_range_root(&m->range, m->roots[m->n]);
	assert_int_equal(saksi_ledger_size(txn), m->n);
}

/* Advances the model by entry m->n without a ledger (the entry another writer appended). */
static void
append_one_model(struct model *m)
{
	static uint8_t leaf[SAKSI_LEAF_MAX];
	uint64_t i = m->n;
	size_t len;

	assert_true(i < m->cap);
	len = expected_leaf(i, m->roots[i], leaf);
	saksi_merkle_leaf_hash(m->lh[i], leaf, len);
	saksi_merkle_range_push(&m->range, m->lh[i]);
	m->n = i + 1;
	saksi_merkle_range_root(&m->range, m->roots[m->n]);
}

static void
append_group(saksi_ledger *l, struct model *m, uint64_t count)
{
	saksi_ledger_txn *txn = NULL;
	saksi_hash root;
	uint64_t k;

	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_size(txn), m->n);
	for (k = 0; k < count; k++)
		append_one(txn, m);
	assert_int_equal(saksi_ledger_root(txn, m->n, root), SAKSI_OK);
	assert_memory_equal(root, m->roots[m->n], SAKSI_HASH_LEN);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
}

/* Every leaf, root and a proof for every leaf and size, against the model. */
static void
check_all(saksi_ledger *l, const struct model *m, uint64_t *rng)
{
	static uint8_t want[SAKSI_LEAF_MAX];
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], root;
	saksi_ledger_txn *txn = NULL;
	uint64_t i, n = m->n, sz;
	uint8_t *leaf;
	size_t len, np, wl;
	saksi_leaf lf;

	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_size(txn), n);
	for (i = 0; i <= n; i++) {
		assert_int_equal(saksi_ledger_root(txn, i, root), SAKSI_OK);
		assert_memory_equal(root, m->roots[i], SAKSI_HASH_LEN);
	}
	for (i = 0; i < n; i++) {
		assert_int_equal(saksi_ledger_leaf(txn, i, &leaf, &len), SAKSI_OK);
		wl = expected_leaf(i, m->roots[i], want);
		assert_int_equal(len, wl);
		assert_memory_equal(leaf, want, wl);
		/* The chain: every entry carries the root of the entries before it. */
		assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
		assert_memory_equal(lf.lf_prev_root, m->roots[i], SAKSI_HASH_LEN);
		assert_int_equal(lf.lf_kind, kind_of(i));
		assert_int_equal(lf.lf_commit_ms, commit_ms(i));
		free(leaf);
		assert_int_equal(saksi_ledger_node(txn, 0, i, root), SAKSI_OK);
		assert_memory_equal(root, m->lh[i], SAKSI_HASH_LEN);

		assert_int_equal(saksi_ledger_prove_inclusion(txn, i, n, proof, &np), SAKSI_OK);
		assert_int_equal(saksi_merkle_verify_inclusion(i, n, m->lh[i],
		    (const saksi_hash *)proof, np, m->roots[n]), SAKSI_OK);
		sz = i + 1 + gen_rnd(rng) % (n - i);
		assert_int_equal(saksi_ledger_prove_inclusion(txn, i, sz, proof, &np), SAKSI_OK);
		assert_int_equal(saksi_merkle_verify_inclusion(i, sz, m->lh[i],
		    (const saksi_hash *)proof, np, m->roots[sz]), SAKSI_OK);
		/* A proof for one leaf does not prove another. */
		if (i + 1 < n)
			assert_int_equal(saksi_merkle_verify_inclusion(i, sz, m->lh[i + 1],
			    (const saksi_hash *)proof, np, m->roots[sz]), SAKSI_ERR_PROOF);

		assert_int_equal(saksi_ledger_prove_consistency(txn, i + 1, n, proof, &np),
		    SAKSI_OK);
		assert_int_equal(saksi_merkle_verify_consistency(i + 1, n, m->roots[i + 1],
		    m->roots[n], (const saksi_hash *)proof, np), SAKSI_OK);
		sz = i + 1 + gen_rnd(rng) % (n - i);
		assert_int_equal(saksi_ledger_prove_consistency(txn, i + 1, sz, proof, &np),
		    SAKSI_OK);
		assert_int_equal(saksi_merkle_verify_consistency(i + 1, sz, m->roots[i + 1],
		    m->roots[sz], (const saksi_hash *)proof, np), SAKSI_OK);
	}
	/* Nothing stored past the end. */
	assert_int_equal(saksi_ledger_leaf(txn, n, &leaf, &len), SAKSI_ERR_NOT_FOUND);
	assert_null(leaf);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
}

/* ---- raw LMDB access, as a tamperer (or an auditor) has it ---- */

/* Not testutil.h's raw_open: an environment directory, optionally read-only, and the map
 * size the file already has (no 64 MiB of its own), as these tests have always opened it. */
static void
raw_open_env(const char *dir, struct raw *r, int rdonly)
{
	assert_int_equal(mdb_env_create(&r->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(r->env, 16), 0);
	assert_int_equal(mdb_env_open(r->env, dir, rdonly ? MDB_RDONLY : 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(r->env, NULL, rdonly ? MDB_RDONLY : 0, &r->txn), 0);
}

static void
raw_put(struct raw *r, const char *db, const void *k, size_t kl, const void *v, size_t vl)
{
	MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };

	assert_int_equal(mdb_put(r->txn, raw_db(r, db), &key, &val, 0), 0);
}

/* A copy of the stored record of leaf i (malloc'd). */
static uint8_t *
raw_leaf(struct raw *r, uint64_t i, size_t *len)
{
	uint8_t k[8], *p;
	MDB_val key = { 8, k }, val;

	saksi_put_u64(k, i);
	assert_int_equal(mdb_get(r->txn, raw_db(r, "leaf"), &key, &val), 0);
	assert_non_null(p = malloc(val.mv_size + 64));
	memcpy(p, val.mv_data, val.mv_size);
	*len = val.mv_size;
	return p;
}

static void
raw_put_leaf(struct raw *r, uint64_t i, const uint8_t *rec, size_t len)
{
	uint8_t k[8];

	saksi_put_u64(k, i);
	raw_put(r, "leaf", k, 8, rec, len);
}

static size_t
raw_entries(struct raw *r, const char *db)
{
	MDB_stat st;

	assert_int_equal(mdb_stat(r->txn, raw_db(r, db), &st), 0);
	return st.ms_entries;
}

/* Nodes a tree of size n stores: floor(n / 2^L) at every level L. */
static size_t
nodes_for(uint64_t n)
{
	size_t c = 0;

	for (; n > 0; n >>= 1)
		c += n;
	return c;
}

static void
copy_file(const char *src, const char *dst)
{
	FILE *in, *out;
	char buf[65536];
	size_t n;

	assert_non_null(in = fopen(src, "rb"));
	assert_non_null(out = fopen(dst, "wb"));
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	assert_int_equal(fclose(out), 0);
	fclose(in);
}

/* ---- tests ---- */

/*
 * Thousands of leaves in groups of 1..64 over many transactions, with the default
 * dictionary threshold: every root, leaf, chain link and proof checked; the dictionary
 * takes over at 1024 entries and makes leaves smaller.
 */
static void
test_append_many(void **state)
{
	struct fx *f = *state;
	const uint64_t N = 3000;
	uint64_t rng = g_seed, i;
	struct model m;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	struct raw r;
	size_t len, c1 = 0, c2 = 0, n1 = 0, n2 = 0, raw1 = 0, raw2 = 0, total = 0;
	uint8_t *rec;
	char path[512];
	struct stat st;

	model_init(&m, N);
	l = open_rw(f->dir, NULL);
	while (m.n < N) {
		uint64_t g = 1 + gen_rnd(&rng) % 64;

		append_group(l, &m, g > N - m.n ? N - m.n : g);
		if (m.n % 5 == 0) { /* sometimes a read transaction between groups */
			saksi_hash root;

			assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
			assert_int_equal(saksi_ledger_size(txn), m.n);
			assert_int_equal(saksi_ledger_root(txn, m.n, root), SAKSI_OK);
			assert_memory_equal(root, m.roots[m.n], SAKSI_HASH_LEN);
			saksi_ledger_abort(txn);
		}
	}
	check_all(l, &m, &rng);

	/* Stored sizes through the API: the dictionary makes typical leaves smaller. */
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	for (i = 0; i < N; i++) {
		static uint8_t want[SAKSI_LEAF_MAX];
		size_t wl = expected_leaf(i, m.roots[i], want);

		assert_int_equal(saksi_ledger_leaf_stored_len(txn, i, &len), SAKSI_OK);
		total += len;
		if (kind_of(i) != SAKSI_LEAF_EVENT)
			continue;
		assert_true(len < wl);
		if (i < 1024) {
			c1 += len;
			raw1 += wl;
			n1++;
		} else {
			c2 += len;
			raw2 += wl;
			n2++;
		}
	}
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	print_message("leaf bytes, events: raw %.1f; stored zstd %.1f (first 1024); "
	    "stored zstd+dict %.1f (after); all leaves stored %.1f; record header 9\n",
	    (double)(raw1 + raw2) / (double)(n1 + n2), (double)c1 / (double)n1,
	    (double)c2 / (double)n2, (double)total / (double)N);
	assert_true(c2 * 10 / n2 < c1 * 10 / n1 * 8 / 10); /* the dictionary saves >= 20% */

	/* Codecs as stored: zstd before the threshold, zstd with dictionary 1 after. */
	raw_open_env(f->dir, &r, 1);
	assert_int_equal(raw_entries(&r, "leaf"), N);
	assert_int_equal(raw_entries(&r, "node"), nodes_for(N));
	assert_int_equal(raw_entries(&r, "dict"), 1);
	for (i = 0; i < N; i++) {
		rec = raw_leaf(&r, i, &len);
		if (kind_of(i) == SAKSI_LEAF_EVENT) {
			assert_int_equal(rec[0], i < 1024 ? 1 : 2);
			assert_int_equal(saksi_get_u32(rec + 1), i < 1024 ? 0 : 1);
		}
		free(rec);
	}
	raw_close(&r);
	path_in(f->dir, "data.mdb", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	print_message("data.mdb: %lld bytes for %" PRIu64 " leaves = %.1f bytes/leaf "
	    "(leaves, tree nodes, B-tree pages)\n", (long long)st.st_size, N,
	    (double)st.st_size / (double)N);

	/* Reopened: everything kept, the dictionary used for new leaves at once. */
	l = open_rw(f->dir, NULL);
	m.cap = N; /* no more room in the model: only re-check */
	check_all(l, &m, &rng);
	saksi_ledger_close(l);
	model_free(&m);
}

/* Bodies that do not compress are stored raw (codec 0), before and after training. */
/*
 * saksi_ledger_append_hdr hands out the header it wrote: the same bytes as the leaf read
 * back, across the dictionary's training (which reuses the leaf buffer), for each kind.
 */
static void
test_append_hdr(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	uint8_t body[300], hdr[SAKSI_LEAF_HDR], *leaf;
	saksi_hash lh, root;
	uint64_t s = g_seed ^ 11, i, idx;
	size_t len;

	memset(&o, 0, sizeof(o));
	o.lo_dict_after = 40;
	l = open_rw(f->dir, &o);
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	for (i = 0; i < 100; i++) {
		int kind = i % 3 == 0 ? SAKSI_LEAF_EVENT : i % 3 == 1 ? SAKSI_LEAF_REFUSALS :
		    SAKSI_LEAF_ALERT;

		fill_random(&s, body, sizeof(body));
		assert_int_equal(saksi_ledger_root(txn, i, root), SAKSI_OK);
		memset(hdr, 0xee, sizeof(hdr));
		assert_int_equal(saksi_ledger_append_hdr(txn, kind, T0 + i, body, sizeof(body),
		    &idx, lh, hdr), SAKSI_OK);
		assert_int_equal(idx, i);
		assert_int_equal(hdr[1], kind);
		assert_int_equal(saksi_get_u64(hdr + 2), T0 + i);
		assert_memory_equal(hdr + 10, root, SAKSI_HASH_LEN);
		assert_int_equal(saksi_ledger_leaf(txn, i, &leaf, &len), SAKSI_OK);
		assert_int_equal(len, SAKSI_LEAF_HDR + sizeof(body));
		assert_memory_equal(leaf, hdr, SAKSI_LEAF_HDR);
		free(leaf);
	}
	/* A refused append leaves hdr alone. */
	memset(hdr, 0xee, sizeof(hdr));
	assert_int_equal(saksi_ledger_append_hdr(txn, 9, T0, body, sizeof(body), NULL, NULL,
	    hdr), SAKSI_ERR_INVAL);
	assert_int_equal(hdr[0], 0xee);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	saksi_ledger_close(l);
}

static void
test_incompressible_raw(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	uint8_t body[700], *leaf;
	uint64_t s = g_seed ^ 7, i;
	size_t len;
	struct raw r;

	memset(&o, 0, sizeof(o));
	o.lo_dict_after = 40;
	l = open_rw(f->dir, &o);
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	for (i = 0; i < 100; i++) {
		fill_random(&s, body, sizeof(body));
		assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_EVENT, T0, body, sizeof(body),
		    NULL, NULL), SAKSI_OK);
		assert_int_equal(saksi_ledger_leaf_stored_len(txn, i, &len), SAKSI_OK);
		assert_int_equal(len, 9 + SAKSI_LEAF_HDR + sizeof(body));
		assert_int_equal(saksi_ledger_leaf(txn, i, &leaf, &len), SAKSI_OK);
		assert_int_equal(len, SAKSI_LEAF_HDR + sizeof(body));
		assert_memory_equal(leaf + SAKSI_LEAF_HDR, body, sizeof(body));
		free(leaf);
	}
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	saksi_ledger_close(l);
	raw_open_env(f->dir, &r, 1);
	for (i = 0; i < 100; i++) {
		uint8_t *rec = raw_leaf(&r, i, &len);

		assert_int_equal(rec[0], 0);
		assert_int_equal(saksi_get_u32(rec + 1), 0);
		assert_int_equal(saksi_get_u32(rec + 5), SAKSI_LEAF_HDR + sizeof(body));
		free(rec);
	}
	raw_close(&r);
}

/* Too few samples to train: appends go on with codec 1 and training retries at 2x. */
static void
test_dict_retry(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	struct model m;
	saksi_ledger *l;
	struct raw r;
	uint64_t rng = g_seed ^ 3, i, first2 = UINT64_MAX;
	uint8_t *rec;
	size_t len;

	memset(&o, 0, sizeof(o));
	o.lo_dict_after = 2;
	model_init(&m, 600);
	l = open_rw(f->dir, &o);
	while (m.n < 600) {
		uint64_t g = 1 + gen_rnd(&rng) % 9;

		append_group(l, &m, g > 600 - m.n ? 600 - m.n : g);
	}
	check_all(l, &m, &rng);
	saksi_ledger_close(l);
	raw_open_env(f->dir, &r, 1);
	for (i = 0; i < m.n; i++) {
		rec = raw_leaf(&r, i, &len);
		assert_true(rec[0] <= 2);
		if (rec[0] == 2 && first2 == UINT64_MAX)
			first2 = i;
		if (first2 != UINT64_MAX && kind_of(i) == SAKSI_LEAF_EVENT)
			assert_int_equal(rec[0], 2);
		free(rec);
	}
	raw_close(&r);
	print_message("dictionary trained at size %" PRIu64 "\n", first2);
	/* Two samples cannot train; a power of two can, within 600. */
	assert_true(first2 > 2 && first2 < 600);
	assert_int_equal(first2 & (first2 - 1), 0);
	model_free(&m);
}

/* An aborted transaction leaves nothing, including a dictionary it trained. */
static void
test_abort(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	struct model m, saved;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	saksi_hash root;
	struct raw r;
	uint8_t *leaf, *rec;
	size_t len;
	uint64_t rng = g_seed ^ 5, k;

	memset(&o, 0, sizeof(o));
	o.lo_dict_after = 100;
	model_init(&m, 400);
	l = open_rw(f->dir, &o);
	append_group(l, &m, 90);
	saved = m;

	/* Crosses the threshold, trains, reads a leaf written with the new dictionary. */
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	for (k = 0; k < 30; k++)
		append_one(txn, &m);
	assert_int_equal(saksi_ledger_leaf_stored_len(txn, 110, &len), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(txn, 110, &leaf, &len), SAKSI_OK);
	free(leaf);
	assert_int_equal(saksi_ledger_root(txn, 120, root), SAKSI_OK);
	assert_memory_equal(root, m.roots[120], SAKSI_HASH_LEN);
	saksi_ledger_abort(txn);

	m.n = saved.n;
	saksi_merkle_range_init(&m.range);
	for (k = 0; k < m.n; k++)
		saksi_merkle_range_push(&m.range, m.lh[k]);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_size(txn), 90);
	assert_int_equal(saksi_ledger_root(txn, 90, root), SAKSI_OK);
	assert_memory_equal(root, m.roots[90], SAKSI_HASH_LEN);
	assert_int_equal(saksi_ledger_leaf(txn, 90, &leaf, &len), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_ledger_node(txn, 0, 90, root), SAKSI_ERR_NOT_FOUND);
	saksi_ledger_abort(txn);

	/* The same entries again: the dictionary is trained anew and sticks this time. */
	append_group(l, &m, 40);
	append_group(l, &m, 20);
	check_all(l, &m, &rng);
	saksi_ledger_close(l);
	raw_open_env(f->dir, &r, 1);
	assert_int_equal(raw_entries(&r, "leaf"), 150);
	assert_int_equal(raw_entries(&r, "node"), nodes_for(150));
	assert_int_equal(raw_entries(&r, "dict"), 1);
	rec = raw_leaf(&r, 120, &len);
	assert_int_equal(rec[0], 2);
	free(rec);
	raw_close(&r);
	model_free(&m);
}

/* Close and reopen keeps leaves, tree, meta and the other tables. */
static void
test_reopen(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	struct model m;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	uint64_t rng = g_seed ^ 11, v, idx, sz;
	uint8_t kid[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, disc[80], *blob;
	saksi_hash eh, got;
	char *s;
	size_t len;

	memset(&o, 0, sizeof(o));
	o.lo_dict_after = 64;
	memset(disc, 0x5a, sizeof(disc));
	disc[0] = 1;
	memset(eh, 0xee, sizeof(eh));
	model_init(&m, 300);
	l = open_rw(f->dir, &o);
	append_group(l, &m, 100);
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_seq_put(txn, kid, 7, 42, eh), SAKSI_OK);
	assert_int_equal(saksi_ledger_disc_put(txn, 42, disc, sizeof(disc)), SAKSI_OK);
	assert_int_equal(saksi_ledger_ckpt_put(txn, 100, "note\n", 5), SAKSI_OK);
	assert_int_equal(saksi_ledger_stat_add(txn, 11, kid, 3), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	saksi_ledger_close(l);

	/* origin and vkey may be left out for an existing ledger. */
	assert_int_equal(saksi_ledger_open(f->dir, NULL, NULL, &o, &l), SAKSI_OK);
	check_all(l, &m, &rng);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_meta(txn, "origin", &s), SAKSI_OK);
	assert_string_equal(s, ORIGIN);
	free(s);
	assert_int_equal(saksi_ledger_meta(txn, "vkey", &s), SAKSI_OK);
	assert_string_equal(s, VKEY);
	free(s);
	assert_int_equal(saksi_ledger_meta(txn, "format", &s), SAKSI_OK);
	assert_memory_equal(s, "\0\0\0\1", 4);
	free(s);
	assert_int_equal(saksi_ledger_seq_last(txn, kid, &v), SAKSI_OK);
	assert_int_equal(v, 7);
	assert_int_equal(saksi_ledger_seq_get(txn, kid, 7, &idx, got), SAKSI_OK);
	assert_int_equal(idx, 42);
	assert_memory_equal(got, eh, SAKSI_HASH_LEN);
	assert_int_equal(saksi_ledger_disc_get(txn, 42, &blob, &len), SAKSI_OK);
	assert_int_equal(len, sizeof(disc));
	assert_memory_equal(blob, disc, sizeof(disc));
	free(blob);
	assert_int_equal(saksi_ledger_ckpt_latest(txn, &sz, &s, &len), SAKSI_OK);
	assert_int_equal(sz, 100);
	assert_int_equal(len, 5);
	assert_string_equal(s, "note\n");
	free(s);
	assert_int_equal(saksi_ledger_stat_get(txn, 11, kid, &v), SAKSI_OK);
	assert_int_equal(v, 3);
	saksi_ledger_abort(txn);
	/* The dictionary trained before the close compresses what comes after. */
	append_group(l, &m, 50);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf_stored_len(txn, 120, &len), SAKSI_OK);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	{
		struct raw r;
		uint8_t *rec;

		raw_open_env(f->dir, &r, 1);
		assert_int_equal(raw_entries(&r, "dict"), 1);
		rec = raw_leaf(&r, 120, &len);
		assert_int_equal(rec[0], 2);
		free(rec);
		raw_close(&r);
	}
	l = open_rw(f->dir, &o);
	check_all(l, &m, &rng);
	saksi_ledger_close(l);
	model_free(&m);
}

/* Appends count model entries in one write transaction left to saksi_ledger_sync. */
static uint64_t
append_group_nosync(saksi_ledger *l, struct model *m, uint64_t count)
{
	saksi_ledger_txn *txn = NULL;
	uint64_t k, ticket = 0;

	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	for (k = 0; k < count; k++)
		append_one(txn, m);
	assert_int_equal(saksi_ledger_commit_nosync(txn, &ticket), SAKSI_OK);
	assert_true(ticket != 0);
	return ticket;
}

/* saksi_ledger_commit_nosync, saksi_ledger_sync, saksi_ledger_begin_unsynced. */
static void
test_meta_async(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	struct model m;
	uint64_t rng = g_seed ^ 29, t1, t2, ticket, n0;
	pid_t pid;
	int status;

	memset(&o, 0, sizeof(o));
	model_init(&m, 100);
	/* Without lo_meta_async there is no second step: the txn is discarded. */
	l = open_rw(f->dir, &o);
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	append_one(txn, &m);
	ticket = 7;
	assert_int_equal(saksi_ledger_commit_nosync(txn, &ticket), SAKSI_ERR_INVAL);
	assert_int_equal(ticket, 0);
	m.n = 0;   /* nothing of it was committed */
	saksi_merkle_range_init(&m.range);
	assert_int_equal(saksi_ledger_sync(l, 1), SAKSI_OK);  /* opened durable */
	assert_int_equal(saksi_ledger_sync(NULL, 1), SAKSI_ERR_INVAL);
	saksi_ledger_close(l);

	o.lo_meta_async = 1;
	l = open_rw(f->dir, &o);
	assert_int_equal(saksi_ledger_commit_nosync(NULL, &ticket), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit_nosync(txn, NULL), SAKSI_ERR_INVAL);
	/* A transaction that wrote nothing has nothing to wait for. */
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	ticket = 7;
	assert_int_equal(saksi_ledger_commit_nosync(txn, &ticket), SAKSI_OK);
	assert_int_equal(ticket, 0);
	assert_int_equal(saksi_ledger_sync(l, 0), SAKSI_OK);

	t1 = append_group_nosync(l, &m, 5);
	/* The writer's own view has it; so has a durable reader, which syncs for it. */
	assert_int_equal(saksi_ledger_begin_unsynced(l, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_size(txn), 5);
	saksi_ledger_abort(txn);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_size(txn), 5);
	saksi_ledger_abort(txn);
	t2 = append_group_nosync(l, &m, 6);
	assert_true(t2 > t1);
	assert_int_equal(saksi_ledger_sync(l, t2), SAKSI_OK);
	assert_int_equal(saksi_ledger_sync(l, t1), SAKSI_OK);
	/* saksi_ledger_commit still returns durable. */
	append_group(l, &m, 4);
	check_all(l, &m, &rng);
	t1 = append_group_nosync(l, &m, 3);
	(void)t1;
	/* A reader in another process (read-only, its own fdatasync) sees all 18. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		saksi_ledger_opts ro;
		saksi_ledger *l2 = NULL;
		saksi_ledger_txn *t = NULL;
		int bad;

		memset(&ro, 0, sizeof(ro));
		ro.lo_readonly = 1;
		if (saksi_ledger_open(f->dir, NULL, NULL, &ro, &l2) != SAKSI_OK ||
		    saksi_ledger_begin(l2, 0, &t) != SAKSI_OK)
			_exit(2);
		bad = saksi_ledger_size(t) != 18;
		saksi_ledger_abort(t);
		/* Syncing is the writer's: a read-only ledger refuses. */
		bad |= saksi_ledger_sync(l2, 1) != SAKSI_ERR_INVAL;
		saksi_ledger_close(l2);
		_exit(bad ? 3 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	saksi_ledger_close(l);
	l = open_rw(f->dir, &o);
	check_all(l, &m, &rng);
	/* Reopened (an existing ledger: the open's transaction writes nothing, so LMDB
	 * publishes no id for it, and the next commit gets that id): the first commit's
	 * sync really syncs. */
	n0 = saksi_ledger_syncs(l);
	t1 = append_group_nosync(l, &m, 2);
	assert_int_equal(saksi_ledger_sync(l, t1), SAKSI_OK);
	assert_int_equal(saksi_ledger_syncs(l), n0 + 1);
	assert_int_equal(saksi_ledger_sync(l, t1), SAKSI_OK);   /* once */
	assert_int_equal(saksi_ledger_syncs(l), n0 + 1);
	saksi_ledger_close(l);
	model_free(&m);
}

/*
 * A crash of the machine after commits of saksi_ledger_commit_nosync whose meta pages
 * never reached the disk (their data pages synced), simulated by writing back both meta
 * pages as they were before those commits: the ledger reopens at the last durable
 * commit, every entry, root and proof intact, and goes on from there. Two such commits,
 * the second's pages written too (on disk the first's meta page would be durable by
 * then, so this is the harder case), after enough commits that LMDB reuses freed pages.
 */
static void
test_meta_lost(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	saksi_ledger *l;
	struct model m, m0;
	uint64_t rng = g_seed ^ 31, n0, i;
	size_t psz = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *meta;
	char path[300];
	int fd;

	memset(&o, 0, sizeof(o));
	o.lo_meta_async = 1;
	o.lo_dict_after = 64;
	model_init(&m, 400);
	model_init(&m0, 400);
	l = open_rw(f->dir, &o);
	for (i = 0; i < 40; i++)
		append_group(l, &m, 5);
	n0 = m.n;
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	assert_non_null(meta = malloc(2 * psz));
	assert_true((fd = open(path, O_RDWR)) >= 0);
	assert_int_equal(pread(fd, meta, 2 * psz, 0), (ssize_t)(2 * psz));
	(void)append_group_nosync(l, &m, 30);
	(void)append_group_nosync(l, &m, 30);
	saksi_ledger_close(l);
	/* The crash: neither meta write made it. */
	assert_int_equal(pwrite(fd, meta, 2 * psz, 0), (ssize_t)(2 * psz));
	assert_int_equal(close(fd), 0);
	free(meta);

	for (i = 0; i < n0; i++)
		append_one_model(&m0);
	l = open_rw(f->dir, &o);
	check_all(l, &m0, &rng);
	append_group(l, &m0, 25);
	(void)append_group_nosync(l, &m0, 5);
	saksi_ledger_close(l);
	l = open_rw(f->dir, &o);
	check_all(l, &m0, &rng);
	saksi_ledger_close(l);
	model_free(&m0);
	model_free(&m);
}

/* Read-only opens of copies made with cp and with mdb_copy's compacting copy. */
static void
test_readonly_copy(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	struct model m;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	uint64_t rng = g_seed ^ 13;
	char src[512], cpdir[512], mcdir[512], dst[512];
	MDB_env *env;
	uint8_t body[10] = { 0 };
	const char *dirs[2];
	int k;

	memset(&o, 0, sizeof(o));
	o.lo_dict_after = 100;
	model_init(&m, 250);
	l = open_rw(f->dir, &o);
	append_group(l, &m, 120);
	append_group(l, &m, 130);
	saksi_ledger_close(l);

	path_in(f->dir, "cp", cpdir, sizeof(cpdir));
	path_in(f->dir, "mdbcopy", mcdir, sizeof(mcdir));
	assert_int_equal(mkdir(cpdir, 0700), 0);
	assert_int_equal(mkdir(mcdir, 0700), 0);
	path_in(f->dir, "data.mdb", src, sizeof(src));
	path_in(cpdir, "data.mdb", dst, sizeof(dst));
	copy_file(src, dst);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, f->dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_env_copy2(env, mcdir, MDB_CP_COMPACT), 0);
	mdb_env_close(env);

	dirs[0] = cpdir;
	dirs[1] = mcdir;
	for (k = 0; k < 2; k++) {
		l = lf_open_ro(dirs[k]);
		check_all(l, &m, &rng);
		assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_ERR_INVAL);
		assert_null(txn);
		/* Write calls in a read transaction are refused. */
		assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
		assert_int_equal(saksi_ledger_append(txn, 1, T0, body, sizeof(body), NULL, NULL),
		    SAKSI_ERR_INVAL);
		saksi_ledger_abort(txn);
		saksi_ledger_close(l);
	}
	/* A read-only open names the ledger it wants, and never creates one. */
	l = NULL;
	memset(&o, 0, sizeof(o));
	o.lo_readonly = 1;
	assert_int_equal(saksi_ledger_open(f->dir, ORIGIN, VKEY, &o, &l), SAKSI_OK);
	saksi_ledger_close(l);
	assert_int_equal(saksi_ledger_open(f->dir, "other/origin", NULL, &o, &l), SAKSI_ERR_KEY);
	path_in(f->dir, "empty", dst, sizeof(dst));
	assert_int_equal(mkdir(dst, 0700), 0);
	assert_int_equal(saksi_ledger_open(dst, ORIGIN, VKEY, &o, &l), SAKSI_ERR_NOT_FOUND);
	path_in(f->dir, "absent", dst, sizeof(dst));
	assert_int_equal(saksi_ledger_open(dst, NULL, NULL, &o, &l), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(access(dst, F_OK), -1);
	assert_null(l);
	if (geteuid() == 0)
		print_message("running as root: the lock-free open of a read-only directory is "
		    "not exercised\n");
	else {
		char lock[512];

		path_in(cpdir, "lock.mdb", lock, sizeof(lock));
		unlink(lock);
		assert_int_equal(chmod(cpdir, 0500), 0);
		l = lf_open_ro(cpdir);
		check_all(l, &m, &rng);
		saksi_ledger_close(l);
		assert_int_equal(chmod(cpdir, 0700), 0);
	}
	model_free(&m);
}

/* A full map: SAKSI_ERR_FULL, nothing of the transaction kept, the ledger usable. */
static void
test_map_full(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	uint8_t body[3000], *leaf;
	uint64_t s = g_seed ^ 17, committed = 0, k, idx;
	saksi_hash root, want, h;
	saksi_merkle_range range;
	saksi_err e = SAKSI_OK;
	size_t len;
	int full_at_commit = 0;

	memset(&o, 0, sizeof(o));
	o.lo_map_size = 1u << 20;
	saksi_merkle_range_init(&range);
	l = open_rw(f->dir, &o);
	for (;;) {
		saksi_merkle_range r2 = range;

		assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
		for (k = 0; k < 20; k++) {
			fill_random(&s, body, sizeof(body));
			e = saksi_ledger_append(txn, SAKSI_LEAF_EVENT, T0, body, sizeof(body), &idx,
			    h);
			if (e != SAKSI_OK)
				break;
			saksi_merkle_range_push(&r2, h);
		}
		if (e == SAKSI_OK) {
			e = saksi_ledger_commit(txn);
			if (e == SAKSI_OK) {
				committed += 20;
				range = r2;
				continue;
			}
			full_at_commit = 1;
			break;
		}
		break;
	}
	assert_int_equal(e, SAKSI_ERR_FULL);
	print_message("map full after %" PRIu64 " committed leaves (%s)\n", committed,
	    full_at_commit ? "at commit" : "at append");
	assert_true(committed > 0);
	if (!full_at_commit) {
		/* The failed transaction is already rolled back: every call says so. */
		assert_int_equal(saksi_ledger_append(txn, 1, T0, body, 10, NULL, NULL),
		    SAKSI_ERR_FULL);
		assert_int_equal(saksi_ledger_root(txn, 0, root), SAKSI_ERR_FULL);
		assert_int_equal(saksi_ledger_leaf(txn, 0, &leaf, &len), SAKSI_ERR_FULL);
		assert_int_equal(saksi_ledger_ckpt_put(txn, 0, "x", 1), SAKSI_ERR_FULL);
		assert_int_equal(saksi_ledger_commit(txn), SAKSI_ERR_FULL);
	}

	/* Unchanged: the size and root of the last commit, every leaf readable. */
	saksi_merkle_range_root(&range, want);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_size(txn), committed);
	assert_int_equal(saksi_ledger_root(txn, committed, root), SAKSI_OK);
	assert_memory_equal(root, want, SAKSI_HASH_LEN);
	for (k = 0; k < committed; k++) {
		assert_int_equal(saksi_ledger_leaf(txn, k, &leaf, &len), SAKSI_OK);
		free(leaf);
	}
	assert_int_equal(saksi_ledger_leaf(txn, committed, &leaf, &len), SAKSI_ERR_NOT_FOUND);
	saksi_ledger_abort(txn);
	/* The writer is free again. */
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	saksi_ledger_close(l);

	/* Given a bigger map, the same ledger takes more. */
	o.lo_map_size = 4u << 20;
	l = open_rw(f->dir, &o);
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(txn, 1, T0 + 1, body, sizeof(body), &idx, h),
	    SAKSI_OK);
	assert_int_equal(idx, committed);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(txn, committed, &leaf, &len), SAKSI_OK);
	assert_memory_equal(leaf + 10, want, SAKSI_HASH_LEN); /* prev_root */
	free(leaf);
	saksi_merkle_range_push(&range, h);
	saksi_merkle_range_root(&range, want);
	assert_int_equal(saksi_ledger_root(txn, committed + 1, root), SAKSI_OK);
	assert_memory_equal(root, want, SAKSI_HASH_LEN);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
}

static void
test_origin_and_meta(void **state)
{
	struct fx *f = *state;
	saksi_ledger *l = NULL;
	char path[512], longname[300];
	struct raw r;
	uint8_t fmt[4];

	/* No ledger, and nothing to create one with: nothing is left behind. */
	path_in(f->dir, "new", path, sizeof(path));
	assert_int_equal(saksi_ledger_open(path, NULL, NULL, NULL, &l), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_ledger_open(path, ORIGIN, NULL, NULL, &l), SAKSI_ERR_NOT_FOUND);
	assert_null(l);
	path_in(f->dir, "new/data.mdb", path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);

	assert_int_equal(saksi_ledger_open(NULL, ORIGIN, VKEY, NULL, &l), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_open("", ORIGIN, VKEY, NULL, &l), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_open(f->dir, ORIGIN, VKEY, NULL, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_open(f->dir, "two\nlines", VKEY, NULL, &l),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_open(f->dir, "", VKEY, NULL, &l), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_open(f->dir, ORIGIN, "v\tk", NULL, &l), SAKSI_ERR_INVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(saksi_ledger_open(f->dir, longname, VKEY, NULL, &l), SAKSI_ERR_INVAL);
	path_in(f->dir, "no/such/parent", path, sizeof(path));
	assert_int_equal(saksi_ledger_open(path, ORIGIN, VKEY, NULL, &l), SAKSI_ERR_NOT_FOUND);

	l = open_rw(f->dir, NULL);
	saksi_ledger_close(l);
	assert_int_equal(saksi_ledger_open(f->dir, "bpjs.example/other", VKEY, NULL, &l),
	    SAKSI_ERR_KEY);
	assert_null(l);
	assert_int_equal(saksi_ledger_open(f->dir, ORIGIN, "other+00000000+AAAA", NULL, &l),
	    SAKSI_ERR_KEY);
	assert_int_equal(saksi_ledger_open(f->dir, NULL, "other+00000000+AAAA", NULL, &l),
	    SAKSI_ERR_KEY);
	assert_int_equal(saksi_ledger_open(f->dir, ORIGIN, NULL, NULL, &l), SAKSI_OK);
	saksi_ledger_close(l);

	/* Another format version is refused, a malformed one too. */
	raw_open_env(f->dir, &r, 0);
	saksi_put_u32(fmt, 2);
	raw_put(&r, "meta", "format", 6, fmt, 4);
	raw_close(&r);
	assert_int_equal(saksi_ledger_open(f->dir, ORIGIN, VKEY, NULL, &l), SAKSI_ERR_VERSION);
	assert_int_equal(saksi_ledger_open(f->dir, NULL, NULL,
	    &(saksi_ledger_opts){ .lo_readonly = 1 }, &l), SAKSI_ERR_VERSION);
	raw_open_env(f->dir, &r, 0);
	raw_put(&r, "meta", "format", 6, fmt, 3);
	raw_close(&r);
	assert_int_equal(saksi_ledger_open(f->dir, ORIGIN, VKEY, NULL, &l), SAKSI_ERR_FORMAT);
	assert_null(l);
}

/* An LMDB environment that is not a ledger. */
static void
test_not_a_ledger(void **state)
{
	struct fx *f = *state;
	saksi_ledger *l = NULL;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 1, "k" }, v = { 1, "v" };

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	/* The main database holds a plain key where the ledger's tables would be named. */
	assert_int_equal(saksi_ledger_open(f->dir, NULL, NULL,
	    &(saksi_ledger_opts){ .lo_readonly = 1 }, &l), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_ledger_open(f->dir, ORIGIN, VKEY, NULL, &l), SAKSI_OK);
	saksi_ledger_close(l);
}

static void
test_too_large(void **state)
{
	struct fx *f = *state;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	uint8_t *body, *leaf;
	uint64_t s = g_seed ^ 19, idx;
	size_t max = SAKSI_LEAF_MAX - SAKSI_LEAF_HDR, len;
	saksi_leaf lf;

	assert_non_null(body = malloc(max + 1));
	fill_random(&s, body, max + 1);
	l = open_rw(f->dir, NULL);
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(txn, 1, T0, body, max + 1, &idx, NULL),
	    SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_ledger_append(txn, 1, T0, body, SIZE_MAX, &idx, NULL),
	    SAKSI_ERR_TOO_LARGE);
	/* A refused append leaves the transaction usable. */
	assert_int_equal(saksi_ledger_append(txn, 1, T0, body, max, &idx, NULL), SAKSI_OK);
	assert_int_equal(idx, 0);
	memset(body, 'a', max);
	assert_int_equal(saksi_ledger_append(txn, 2, T0, body, max, &idx, NULL), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(txn, 1, T0, NULL, 0, &idx, NULL), SAKSI_OK);
	assert_int_equal(idx, 2);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(txn, 1, &leaf, &len), SAKSI_OK);
	assert_int_equal(len, SAKSI_LEAF_MAX);
	assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
	assert_int_equal(lf.lf_kind, SAKSI_LEAF_REFUSALS);
	assert_int_equal(lf.lf_body_len, max);
	assert_memory_equal(lf.lf_body, body, max);
	free(leaf);
	assert_int_equal(saksi_ledger_leaf_stored_len(txn, 1, &len), SAKSI_OK);
	assert_true(len < 1000);
	assert_int_equal(saksi_ledger_leaf(txn, 2, &leaf, &len), SAKSI_OK);
	assert_int_equal(len, SAKSI_LEAF_HDR);
	free(leaf);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	free(body);
}

static void
test_leaf_parse(void **state)
{
	uint8_t leaf[SAKSI_LEAF_MAX + 1];
	saksi_leaf lf;

	(void)state;
	memset(leaf, 0, sizeof(leaf));
	leaf[0] = 1;
	leaf[1] = 1;
	saksi_put_u64(leaf + 2, 0x0102030405060708ULL);
	memset(leaf + 10, 0xab, 32);
	leaf[42] = 'x';
	assert_int_equal(saksi_leaf_parse(leaf, 43, &lf), SAKSI_OK);
	assert_int_equal(lf.lf_kind, 1);
	assert_int_equal(lf.lf_commit_ms, 0x0102030405060708ULL);
	assert_int_equal(lf.lf_prev_root[31], 0xab);
	assert_ptr_equal(lf.lf_body, leaf + 42);
	assert_int_equal(lf.lf_body_len, 1);
	assert_int_equal(saksi_leaf_parse(leaf, 42, &lf), SAKSI_OK);
	assert_int_equal(lf.lf_body_len, 0);
	assert_int_equal(saksi_leaf_parse(leaf, SAKSI_LEAF_MAX, &lf), SAKSI_OK);
	assert_int_equal(saksi_leaf_parse(leaf, SAKSI_LEAF_MAX + 1, &lf), SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_leaf_parse(leaf, 41, &lf), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_leaf_parse(leaf, 0, &lf), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_leaf_parse(NULL, 43, &lf), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_leaf_parse(leaf, 43, NULL), SAKSI_ERR_INVAL);
	leaf[1] = 2;
	assert_int_equal(saksi_leaf_parse(leaf, 43, &lf), SAKSI_OK);
	assert_int_equal(lf.lf_kind, SAKSI_LEAF_REFUSALS);
	leaf[1] = 0;
	assert_int_equal(saksi_leaf_parse(leaf, 43, &lf), SAKSI_ERR_FORMAT);
	leaf[1] = 3;
	assert_int_equal(saksi_leaf_parse(leaf, 43, &lf), SAKSI_OK);
	assert_int_equal(lf.lf_kind, SAKSI_LEAF_ALERT);
	leaf[1] = 4;
	assert_int_equal(saksi_leaf_parse(leaf, 43, &lf), SAKSI_OK);
	assert_int_equal(lf.lf_kind, SAKSI_LEAF_KEYRING);
	leaf[1] = 5;
	assert_int_equal(saksi_leaf_parse(leaf, 43, &lf), SAKSI_ERR_FORMAT);
	leaf[1] = 1;
	leaf[0] = 2;
	assert_int_equal(saksi_leaf_parse(leaf, 43, &lf), SAKSI_ERR_VERSION);
	leaf[0] = 0;
	assert_int_equal(saksi_leaf_parse(leaf, 43, &lf), SAKSI_ERR_VERSION);
}

/* Every argument and range check of the transaction API, on a small ledger. */
static void
test_api_errors(void **state)
{
	struct fx *f = *state;
	saksi_ledger *l, *ro;
	saksi_ledger_txn *txn = NULL, *rt = NULL;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], h, eh, empty;
	uint8_t kid[8] = { 9, 9, 9, 9, 9, 9, 9, 9 }, kid2[8] = { 0 }, disc[SAKSI_DISC_MAX + 1];
	uint8_t body[50], *blob, *leaf;
	uint64_t v, sz, idx;
	size_t n, len;
	char *s;
	struct model m;

	memset(body, 'b', sizeof(body));
	memset(eh, 0x11, sizeof(eh));
	memset(disc, 0x22, sizeof(disc));
	disc[0] = 1;
	l = open_rw(f->dir, NULL);

	/* Empty ledger. */
	assert_int_equal(saksi_ledger_begin(NULL, 0, &txn), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_begin(l, 0, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_size(txn), 0);
	saksi_merkle_empty_root(empty);
	assert_int_equal(saksi_ledger_root(txn, 0, h), SAKSI_OK);
	assert_memory_equal(h, empty, SAKSI_HASH_LEN);
	assert_int_equal(saksi_ledger_root(txn, 1, h), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_ckpt_latest(txn, &sz, &s, &len), SAKSI_ERR_NOT_FOUND);
	assert_null(s);
	assert_int_equal(saksi_ledger_ckpt_next(txn, 0, &sz, &s, &len), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_ledger_leaf(txn, 0, &leaf, &len), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(NULL), SAKSI_ERR_INVAL);
	saksi_ledger_abort(NULL);
	assert_int_equal(saksi_ledger_size(NULL), 0);

	model_init(&m, 20);
	append_group(l, &m, 10);

	/* Write operations in a read transaction. */
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(txn, 1, T0, body, 5, NULL, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_seq_put(txn, kid, 1, 0, eh), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_disc_put(txn, 0, disc, 100), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_ckpt_put(txn, 1, "n", 1), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_stat_add(txn, 2, kid, 1), SAKSI_ERR_INVAL);
	saksi_ledger_abort(txn);

	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	/* append */
	assert_int_equal(saksi_ledger_append(NULL, 1, T0, body, 5, NULL, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_append(txn, 0, T0, body, 5, NULL, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_append(txn, 5, T0, body, 5, NULL, NULL), SAKSI_ERR_INVAL);
	/* The LMDB transaction under a live one; none for no transaction. */
	assert_non_null(saksi_ledger_txn_mdb(txn));
	assert_null(saksi_ledger_txn_mdb(NULL));
	assert_int_equal(saksi_ledger_append(txn, 1, T0, NULL, 5, NULL, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_size(txn), 10);
	/* meta */
	assert_int_equal(saksi_ledger_meta(txn, "nope", &s), SAKSI_ERR_NOT_FOUND);
	assert_null(s);
	assert_int_equal(saksi_ledger_meta(txn, NULL, &s), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_meta(txn, "", &s), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_meta(txn, "origin", NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_meta(NULL, "origin", &s), SAKSI_ERR_INVAL);
	/* seq */
	assert_int_equal(saksi_ledger_seq_get(txn, kid, 1, &idx, h), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_ledger_seq_get(txn, NULL, 1, &idx, h), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_seq_last(txn, kid, &v), SAKSI_OK);
	assert_int_equal(v, 0);
	assert_int_equal(saksi_ledger_seq_last(txn, kid, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_seq_last(txn, NULL, &v), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_seq_put(txn, kid, 0, 1, eh), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_seq_put(txn, kid, 1, 1, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_seq_put(txn, NULL, 1, 1, eh), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_seq_put(txn, kid, 1, 10, eh), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_seq_put(txn, kid, 5, 3, eh), SAKSI_OK);
	assert_int_equal(saksi_ledger_seq_put(txn, kid, 5, 4, eh), SAKSI_ERR_EXISTS);
	assert_int_equal(saksi_ledger_seq_put(txn, kid, 2, 4, eh), SAKSI_OK);
	assert_int_equal(saksi_ledger_seq_last(txn, kid, &v), SAKSI_OK);
	assert_int_equal(v, 5); /* never lowered */
	assert_int_equal(saksi_ledger_seq_put(txn, kid, UINT64_MAX, 9, eh), SAKSI_OK);
	assert_int_equal(saksi_ledger_seq_last(txn, kid, &v), SAKSI_OK);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(saksi_ledger_seq_get(txn, kid, 2, NULL, NULL), SAKSI_OK);
	assert_int_equal(saksi_ledger_seq_get(txn, kid, 5, &idx, h), SAKSI_OK);
	assert_int_equal(idx, 3);
	assert_memory_equal(h, eh, SAKSI_HASH_LEN);
	assert_int_equal(saksi_ledger_seq_last(txn, kid2, &v), SAKSI_OK);
	assert_int_equal(v, 0);
	/* disc */
	assert_int_equal(saksi_ledger_disc_put(txn, 10, disc, 100), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_disc_put(txn, 0, NULL, 100), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_disc_put(txn, 0, disc, SAKSI_DISC_MIN - 1),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_ledger_disc_put(txn, 0, disc, SAKSI_DISC_MAX + 1),
	    SAKSI_ERR_TOO_LARGE);
	disc[0] = 3;   /* versions 1 and 2 (per-participant data keys) exist */
	assert_int_equal(saksi_ledger_disc_put(txn, 0, disc, 100), SAKSI_ERR_FORMAT);
	disc[0] = 0;
	assert_int_equal(saksi_ledger_disc_put(txn, 0, disc, 100), SAKSI_ERR_FORMAT);
	disc[0] = 1;
	assert_int_equal(saksi_ledger_disc_put(txn, 0, disc, SAKSI_DISC_MIN), SAKSI_OK);
	assert_int_equal(saksi_ledger_disc_put(txn, 9, disc, SAKSI_DISC_MAX), SAKSI_OK);
	assert_int_equal(saksi_ledger_disc_put(txn, 9, disc, 100), SAKSI_ERR_EXISTS);
	assert_int_equal(saksi_ledger_disc_get(txn, 9, &blob, &len), SAKSI_OK);
	assert_int_equal(len, SAKSI_DISC_MAX);
	assert_memory_equal(blob, disc, len);
	free(blob);
	assert_int_equal(saksi_ledger_disc_get(txn, 1, &blob, &len), SAKSI_ERR_NOT_FOUND);
	assert_null(blob);
	assert_int_equal(saksi_ledger_disc_get(txn, 1, NULL, &len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_disc_get(txn, 1, &blob, NULL), SAKSI_ERR_INVAL);
	/* ckpt */
	assert_int_equal(saksi_ledger_ckpt_put(txn, 11, "n", 1), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_ckpt_put(txn, 3, "n", 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_ckpt_put(txn, 3, NULL, 1), SAKSI_ERR_INVAL);
	{
		char *big = malloc(SAKSI_NOTE_MAX + 1);

		assert_non_null(big);
		memset(big, 'c', SAKSI_NOTE_MAX + 1);
		assert_int_equal(saksi_ledger_ckpt_put(txn, 3, big, SAKSI_NOTE_MAX + 1),
		    SAKSI_ERR_TOO_LARGE);
		assert_int_equal(saksi_ledger_ckpt_put(txn, 0, big, SAKSI_NOTE_MAX), SAKSI_OK);
		free(big);
	}
	assert_int_equal(saksi_ledger_ckpt_put(txn, 7, "seven\n", 6), SAKSI_OK);
	assert_int_equal(saksi_ledger_ckpt_put(txn, 3, "three\n", 6), SAKSI_OK);
	assert_int_equal(saksi_ledger_ckpt_put(txn, 10, "ten\n", 4), SAKSI_OK);
	/* A second checkpoint for a size is refused and changes nothing. */
	assert_int_equal(saksi_ledger_ckpt_put(txn, 7, "SEVEN\n", 6), SAKSI_ERR_CORRUPT);
	assert_int_equal(saksi_ledger_ckpt_get(txn, 7, &s, &len), SAKSI_OK);
	assert_string_equal(s, "seven\n");
	assert_int_equal(len, 6);
	free(s);
	assert_int_equal(saksi_ledger_ckpt_get(txn, 4, &s, &len), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_ledger_ckpt_get(txn, 4, NULL, &len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_ckpt_latest(txn, &sz, &s, &len), SAKSI_OK);
	assert_int_equal(sz, 10);
	assert_string_equal(s, "ten\n");
	free(s);
	assert_int_equal(saksi_ledger_ckpt_latest(txn, NULL, &s, &len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_ckpt_next(txn, 0, &sz, &s, &len), SAKSI_OK);
	assert_int_equal(sz, 3);
	free(s);
	assert_int_equal(saksi_ledger_ckpt_next(txn, 3, &sz, &s, &len), SAKSI_OK);
	assert_int_equal(sz, 7);
	free(s);
	assert_int_equal(saksi_ledger_ckpt_next(txn, 5, &sz, &s, &len), SAKSI_OK);
	assert_int_equal(sz, 7);
	free(s);
	assert_int_equal(saksi_ledger_ckpt_next(txn, 7, &sz, &s, &len), SAKSI_OK);
	assert_int_equal(sz, 10);
	assert_string_equal(s, "ten\n");
	free(s);
	assert_int_equal(saksi_ledger_ckpt_next(txn, 10, &sz, &s, &len), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_ledger_ckpt_next(txn, UINT64_MAX, &sz, &s, &len),
	    SAKSI_ERR_NOT_FOUND);
	/* stat */
	assert_int_equal(saksi_ledger_stat_get(txn, 4, kid, &v), SAKSI_OK);
	assert_int_equal(v, 0);
	assert_int_equal(saksi_ledger_stat_add(txn, 4, kid, 2), SAKSI_OK);
	assert_int_equal(saksi_ledger_stat_add(txn, 4, kid, 5), SAKSI_OK);
	assert_int_equal(saksi_ledger_stat_add(txn, 5, kid, 1), SAKSI_OK);
	assert_int_equal(saksi_ledger_stat_get(txn, 4, kid, &v), SAKSI_OK);
	assert_int_equal(v, 7);
	assert_int_equal(saksi_ledger_stat_add(txn, 4, kid, UINT64_MAX), SAKSI_OK);
	assert_int_equal(saksi_ledger_stat_get(txn, 4, kid, &v), SAKSI_OK);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(saksi_ledger_stat_add(txn, -1, kid, 1), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_stat_add(txn, 256, kid, 1), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_stat_add(txn, 4, NULL, 1), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_stat_get(txn, 4, kid, NULL), SAKSI_ERR_INVAL);
	/* reading */
	assert_int_equal(saksi_ledger_leaf(txn, 10, &leaf, &len), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_ledger_leaf(txn, 0, NULL, &len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_leaf(txn, 0, &leaf, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_leaf_stored_len(txn, 10, &len), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_ledger_leaf_stored_len(txn, 0, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_leaf_stored_len(NULL, 0, &len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_node(txn, 0, 9, h), SAKSI_OK);
	assert_int_equal(saksi_ledger_node(txn, 3, 0, h), SAKSI_OK);
	assert_int_equal(saksi_ledger_node(txn, 3, 1, h), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_ledger_node(txn, 0, 10, h), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_ledger_node(txn, 64, 0, h), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_node(txn, 0, 0, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_root(txn, 11, h), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_root(txn, 5, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_root(txn, 5, h), SAKSI_OK);
	assert_memory_equal(h, m.roots[5], SAKSI_HASH_LEN);
	assert_int_equal(saksi_ledger_prove_inclusion(txn, 10, 10, proof, &n), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_prove_inclusion(txn, 0, 11, proof, &n), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_prove_inclusion(txn, 5, 3, proof, &n), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_prove_inclusion(txn, 0, 1, NULL, &n), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_prove_inclusion(txn, 0, 1, proof, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_prove_inclusion(txn, 0, 1, proof, &n), SAKSI_OK);
	assert_int_equal(n, 0);
	assert_int_equal(saksi_ledger_prove_consistency(txn, 0, 5, proof, &n), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_prove_consistency(txn, 6, 5, proof, &n), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_prove_consistency(txn, 5, 11, proof, &n), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_prove_consistency(txn, 5, 5, NULL, &n), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_prove_consistency(txn, 5, 5, proof, NULL),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_prove_consistency(txn, 5, 5, proof, &n), SAKSI_OK);
	assert_int_equal(n, 0);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);

	/* The write transaction's data is what every later reader sees. */
	assert_int_equal(saksi_ledger_begin(l, 0, &rt), SAKSI_OK);
	assert_int_equal(saksi_ledger_ckpt_latest(rt, &sz, &s, &len), SAKSI_OK);
	assert_int_equal(sz, 10);
	free(s);
	saksi_ledger_abort(rt);
	saksi_ledger_close(l);

	/* A read-only ledger has no writer. */
	ro = lf_open_ro(f->dir);
	assert_int_equal(saksi_ledger_begin(ro, 1, &txn), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_begin(ro, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_seq_get(txn, kid, 5, &idx, h), SAKSI_OK);
	saksi_ledger_abort(txn);
	saksi_ledger_close(ro);
	saksi_ledger_close(NULL);
	model_free(&m);
}

/* A collision with a stored leaf or node makes the append fail as corrupt. */
static void
test_collisions(void **state)
{
	struct fx *f = *state;
	saksi_ledger *l = NULL;
	saksi_ledger_txn *txn = NULL;
	struct model m;
	struct raw r;
	uint8_t k[9], body[20] = { 0 }, *rec;
	saksi_hash h;
	size_t len;

	model_init(&m, 40);
	l = open_rw(f->dir, NULL);
	append_group(l, &m, 6);
	saksi_ledger_close(l);
	/* A stray node where the next append puts its own: the append must not replace it. */
	raw_open_env(f->dir, &r, 0);
	memset(h, 0x77, sizeof(h));
	assert_int_equal(saksi_ledger_node_key(k, 1, 3), SAKSI_OK);
	raw_put(&r, "node", k, 8, h, sizeof(h));
	raw_close(&r);
	l = open_rw(f->dir, NULL);
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	/* Node keys only grow, so leaf 6's own node (key 10) lands below the stray one (12). */
	assert_int_equal(saksi_ledger_append(txn, 1, T0, body, sizeof(body), NULL, NULL),
	    SAKSI_ERR_CORRUPT);
	/* Rolled back at once; everything after says so. */
	assert_int_equal(saksi_ledger_size(txn), 6);
	assert_int_equal(saksi_ledger_append(txn, 1, T0, body, sizeof(body), NULL, NULL),
	    SAKSI_ERR_CORRUPT);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_ERR_CORRUPT);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_size(txn), 6);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);

	/* A leaf stored past the end: a writer refuses the table, a reader still opens. */
	raw_open_env(f->dir, &r, 0);
	rec = raw_leaf(&r, 0, &len);
	raw_put_leaf(&r, 9, rec, len);
	free(rec);
	raw_close(&r);
	assert_int_equal(saksi_ledger_open(f->dir, ORIGIN, VKEY, NULL, &l), SAKSI_ERR_CORRUPT);
	assert_null(l);
	l = lf_open_ro(f->dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_size(txn), 7);
	assert_int_equal(saksi_ledger_leaf(txn, 9, &rec, &len), SAKSI_OK);
	free(rec);
	assert_int_equal(saksi_ledger_leaf(txn, 6, &rec, &len), SAKSI_ERR_NOT_FOUND);
	/* The tree of 7 lacks the node of leaf 6: proofs needing it cannot be made. */
	assert_int_equal(saksi_ledger_root(txn, 7, h), SAKSI_ERR_CORRUPT);
	assert_int_equal(saksi_ledger_root(txn, 6, h), SAKSI_OK);
	assert_memory_equal(h, m.roots[6], SAKSI_HASH_LEN);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	model_free(&m);
}

/*
 * Hostile stored bytes: records overwritten with every kind of malformation and then
 * with random damage. A read gives SAKSI_ERR_CORRUPT (or, for damage zstd cannot see,
 * other bytes), never a crash; ASan watches every one.
 */
static void
test_tampered(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	struct model m;
	struct raw r;
	uint64_t rng = g_seed ^ 23, i;
	uint8_t *rec, *leaf, k[9], junk[40];
	size_t len, ll;
	saksi_hash h, proof[SAKSI_MERKLE_MAX_PROOF];
	saksi_err e;
	unsigned ok = 0, corrupt = 0;

	memset(&o, 0, sizeof(o));
	o.lo_dict_after = 100;
	model_init(&m, 300);
	l = open_rw(f->dir, &o);
	while (m.n < 300)
		append_group(l, &m, 50);
	saksi_ledger_close(l);

	raw_open_env(f->dir, &r, 0);
	/* 5: shorter than the record header. */
	raw_put_leaf(&r, 5, (const uint8_t *)"\1\0\0", 3);
	/* 6: unknown codec. */
	rec = raw_leaf(&r, 6, &len);
	rec[0] = 9;
	raw_put_leaf(&r, 6, rec, len);
	free(rec);
	/* 7, 8: raw_len below the leaf header and above the cap. */
	rec = raw_leaf(&r, 7, &len);
	saksi_put_u32(rec + 5, 41);
	raw_put_leaf(&r, 7, rec, len);
	saksi_put_u32(rec + 5, 70000);
	raw_put_leaf(&r, 8, rec, len);
	free(rec);
	/* 9: codec 0 whose data is not raw_len long. */
	rec = raw_leaf(&r, 9, &len);
	rec[0] = 0;
	raw_put_leaf(&r, 9, rec, len);
	free(rec);
	/* 10: zstd naming a dictionary; 11: dictionary codec naming none. */
	rec = raw_leaf(&r, 10, &len);
	assert_int_equal(rec[0], 1);
	saksi_put_u32(rec + 1, 1);
	raw_put_leaf(&r, 10, rec, len);
	free(rec);
	rec = raw_leaf(&r, 150, &len);
	assert_int_equal(rec[0], 2);
	saksi_put_u32(rec + 1, 0);
	raw_put_leaf(&r, 11, rec, len);
	/* 12: a dictionary the ledger does not have. */
	saksi_put_u32(rec + 1, 7);
	raw_put_leaf(&r, 12, rec, len);
	free(rec);
	/* 13: raw_len one more than the frame holds; 14: trailing bytes after the frame. */
	rec = raw_leaf(&r, 13, &len);
	saksi_put_u32(rec + 5, saksi_get_u32(rec + 5) + 1);
	raw_put_leaf(&r, 13, rec, len);
	free(rec);
	rec = raw_leaf(&r, 14, &len);
	memcpy(rec + len, "\0\0\0\0", 4);
	raw_put_leaf(&r, 14, rec, len + 4);
	free(rec);
	/* 15, 16: garbage after a valid header; a skippable frame. */
	rec = raw_leaf(&r, 15, &len);
	fill_random(&rng, junk, sizeof(junk));
	memcpy(rec + 9, junk, sizeof(junk));
	raw_put_leaf(&r, 15, rec, 9 + sizeof(junk));
	rec[9] = 0x50; /* a skippable frame (magic 0x184D2A50, little-endian), size 0 */
	rec[10] = 0x2A;
	rec[11] = 0x4D;
	rec[12] = 0x18;
	memset(rec + 13, 0, 4);
	raw_put_leaf(&r, 16, rec, 9 + 8);
	free(rec);
	/* 17: a node of the wrong length. */
	assert_int_equal(saksi_ledger_node_key(k, 0, 17), SAKSI_OK);
	raw_put(&r, "node", k, 8, junk, 31);
	raw_close(&r);

	l = lf_open_ro(f->dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	for (i = 5; i <= 16; i++) {
		leaf = (uint8_t *)"sentinel";
		assert_int_equal(saksi_ledger_leaf(txn, i, &leaf, &ll), SAKSI_ERR_CORRUPT);
		assert_null(leaf);
	}
	assert_int_equal(saksi_ledger_leaf(txn, 4, &leaf, &ll), SAKSI_OK);
	free(leaf);
	assert_int_equal(saksi_ledger_leaf(txn, 150, &leaf, &ll), SAKSI_OK);
	free(leaf);
	assert_int_equal(saksi_ledger_node(txn, 0, 17, h), SAKSI_ERR_CORRUPT);
	assert_int_equal(saksi_ledger_prove_inclusion(txn, 16, 300, proof, &len),
	    SAKSI_ERR_CORRUPT);
	assert_int_equal(saksi_ledger_prove_inclusion(txn, 17, 300, proof, &len), SAKSI_OK);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);

	/* A damaged dictionary: leaves that use it decode wrongly or not at all. */
	{
		uint8_t dk[4], *d, *orig;
		size_t olen;
		MDB_val key = { 4, dk }, val;

		saksi_put_u32(dk, 1);
		raw_open_env(f->dir, &r, 0);
		assert_int_equal(mdb_get(r.txn, raw_db(&r, "dict"), &key, &val), 0);
		olen = val.mv_size;
		assert_non_null(orig = malloc(olen));
		memcpy(orig, val.mv_data, olen);
		assert_non_null(d = malloc(16384));
		fill_random(&rng, d, 16384);
		raw_put(&r, "dict", dk, 4, d, 16384);
		free(d);
		raw_close(&r);
		l = lf_open_ro(f->dir);
		assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
		for (i = 100; i < 300; i++) {
			e = saksi_ledger_leaf(txn, i, &leaf, &ll);
			assert_true(e == SAKSI_OK || e == SAKSI_ERR_CORRUPT);
			if (e == SAKSI_OK)
				free(leaf);
		}
		saksi_ledger_abort(txn);
		saksi_ledger_close(l);
		/* An empty dictionary: refused by a writer, and by a reader of its leaves. */
		raw_open_env(f->dir, &r, 0);
		raw_put(&r, "dict", dk, 4, "", 0);
		raw_close(&r);
		assert_int_equal(saksi_ledger_open(f->dir, ORIGIN, VKEY, &o, &l),
		    SAKSI_ERR_CORRUPT);
		l = lf_open_ro(f->dir);
		assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
		assert_int_equal(saksi_ledger_leaf(txn, 150, &leaf, &ll), SAKSI_ERR_CORRUPT);
		assert_int_equal(saksi_ledger_leaf(txn, 50, &leaf, &ll), SAKSI_OK);
		free(leaf);
		saksi_ledger_abort(txn);
		saksi_ledger_close(l);
		raw_open_env(f->dir, &r, 0);
		raw_put(&r, "dict", dk, 4, orig, olen);
		/* The same dictionary under ids 2..9, each named by a leaf: more than the
		 * reader's cache holds, so some are loaded for one read and dropped. */
		for (i = 2; i < 10; i++) {
			saksi_put_u32(dk, (uint32_t)i);
			raw_put(&r, "dict", dk, 4, orig, olen);
			rec = raw_leaf(&r, 200 + i, &len);
			assert_int_equal(rec[0], 2);
			saksi_put_u32(rec + 1, (uint32_t)i);
			raw_put_leaf(&r, 200 + i, rec, len);
			free(rec);
		}
		raw_close(&r);
		free(orig);
		l = lf_open_ro(f->dir);
		assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
		for (i = 150; i < 210; i++) {
			static uint8_t want[SAKSI_LEAF_MAX];

			assert_int_equal(saksi_ledger_leaf(txn, i, &leaf, &ll), SAKSI_OK);
			assert_int_equal(ll, expected_leaf(i, m.roots[i], want));
			assert_memory_equal(leaf, want, ll);
			free(leaf);
		}
		saksi_ledger_abort(txn);
		saksi_ledger_close(l);
	}

	/* Random damage to records of both codecs: flipped bytes, cuts, junk appended. */
	raw_open_env(f->dir, &r, 0);
	for (i = 20; i < 300; i++) {
		unsigned what = (unsigned)(gen_rnd(&rng) % 4), nflip, j;

		rec = raw_leaf(&r, i, &len);
		if (what == 0 || what == 3) {
			nflip = 1 + (unsigned)(gen_rnd(&rng) % 4);
			for (j = 0; j < nflip; j++)
				rec[9 + gen_rnd(&rng) % (len - 9)] ^=
				    (uint8_t)(1 + gen_rnd(&rng) % 255);
		}
		if (what == 1)
			len = 9 + gen_rnd(&rng) % (len - 9);
		if (what == 2 || what == 3) {
			fill_random(&rng, rec + len, 1 + gen_rnd(&rng) % 63);
			len += 1 + gen_rnd(&rng) % 63;
		}
		raw_put_leaf(&r, i, rec, len);
		free(rec);
	}
	raw_close(&r);
	l = lf_open_ro(f->dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	for (i = 20; i < 300; i++) {
		e = saksi_ledger_leaf(txn, i, &leaf, &ll);
		assert_true(e == SAKSI_OK || e == SAKSI_ERR_CORRUPT);
		if (e == SAKSI_OK) {
			ok++;
			free(leaf);
		} else
			corrupt++;
	}
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	print_message("random damage: %u undetected by the codec (left to the verifier), "
	    "%u refused as corrupt\n", ok, corrupt);
	assert_true(corrupt > 200);

	model_free(&m);
}

/* Meta records missing from an existing ledger, and an empty environment. */
static void
test_meta_missing(void **state)
{
	struct fx *f = *state;
	saksi_ledger *l = NULL;
	struct model m;
	struct raw r;
	MDB_env *env;
	MDB_val key = { 6, "origin" };
	char path[512];

	/* An LMDB environment with nothing in it is no ledger, unless we may create one. */
	path_in(f->dir, "empty", path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
	mdb_env_close(env);
	assert_int_equal(saksi_ledger_open(path, NULL, NULL, NULL, &l), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_ledger_open(path, NULL, NULL,
	    &(saksi_ledger_opts){ .lo_readonly = 1 }, &l), SAKSI_ERR_FORMAT);
	l = open_rw(path, NULL);
	saksi_ledger_close(l);

	model_init(&m, 10);
	l = open_rw(f->dir, NULL);
	append_group(l, &m, 3);
	saksi_ledger_close(l);
	raw_open_env(f->dir, &r, 0);
	assert_int_equal(mdb_del(r.txn, raw_db(&r, "meta"), &key, NULL), 0);
	raw_close(&r);
	assert_int_equal(saksi_ledger_open(f->dir, ORIGIN, NULL, NULL, &l), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_ledger_open(f->dir, NULL, NULL, NULL, &l), SAKSI_OK);
	saksi_ledger_close(l);
	key.mv_size = 6;
	key.mv_data = "format";
	raw_open_env(f->dir, &r, 0);
	assert_int_equal(mdb_del(r.txn, raw_db(&r, "meta"), &key, NULL), 0);
	raw_close(&r);
	/* Leaves without a format record: not created anew over them, nor read. */
	assert_int_equal(saksi_ledger_open(f->dir, ORIGIN, VKEY, NULL, &l), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_ledger_open(f->dir, NULL, NULL,
	    &(saksi_ledger_opts){ .lo_readonly = 1 }, &l), SAKSI_ERR_FORMAT);
	assert_null(l);
	model_free(&m);
}

/*
 * Another process trains and stores the dictionary while this one has the ledger open:
 * this writer takes that dictionary up instead of training (and colliding with) its own.
 */
struct reader_list {
	pid_t rl_pid;
	int rl_found;
};

static int
reader_line(const char *msg, void *ctx)
{
	struct reader_list *rl = ctx;
	long pid;

	if (sscanf(msg, "%ld", &pid) == 1 && pid == (long)rl->rl_pid)
		rl->rl_found = 1;
	return 0;
}

/* A reader killed inside its transaction leaves a slot in lock.mdb that pins old pages;
 * opening the ledger clears the slots of processes that are gone. */
static void
test_stale_reader_cleared(void **state)
{
	struct fx *f = *state;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	struct model m;
	struct reader_list rl = { 0, 0 };
	pid_t pid;
	int status;

	model_init(&m, 50);
	l = open_rw(f->dir, NULL);
	append_group(l, &m, 5);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		saksi_ledger *l2 = NULL;

		if (saksi_ledger_open(f->dir, NULL, NULL, NULL, &l2) != SAKSI_OK ||
		    saksi_ledger_begin(l2, 0, &txn) != SAKSI_OK)
			_exit(2);
		raise(SIGKILL);
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* The slot is still there: this process's open handle did not check. */
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	rl.rl_pid = pid;
	assert_true(mdb_reader_list(mdb_txn_env(saksi_ledger_txn_mdb(txn)), reader_line, &rl) >= 0);
	assert_int_equal(rl.rl_found, 1);
	saksi_ledger_abort(txn);
	/*
	 * Another process opens the ledger while this one keeps it open (as a verifier does
	 * while the daemon runs: LMDB resets the table only when nobody has it open). Its
	 * open clears the dead slot; it reports by its exit status.
	 */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		saksi_ledger *l3 = NULL;

		if (saksi_ledger_open(f->dir, NULL, NULL, NULL, &l3) != SAKSI_OK ||
		    saksi_ledger_begin(l3, 0, &txn) != SAKSI_OK)
			_exit(2);
		rl.rl_found = 0;
		if (mdb_reader_list(mdb_txn_env(saksi_ledger_txn_mdb(txn)), reader_line, &rl) < 0)
			_exit(3);
		_exit(rl.rl_found ? 4 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	saksi_ledger_close(l);
	model_free(&m);
}

static void
test_dict_from_other_process(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	struct model m;
	struct raw r;
	uint8_t *rec;
	size_t len;
	pid_t pid;
	int status;

	memset(&o, 0, sizeof(o));
	o.lo_dict_after = 50;
	model_init(&m, 200);
	l = open_rw(f->dir, &o);
	append_group(l, &m, 10);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* No cmocka here: a failed check is the exit status. */
		saksi_ledger *l2 = NULL;
		uint8_t body[300];
		int k, bad = 0;

		memset(body, 'q', sizeof(body));
		if (saksi_ledger_open(f->dir, ORIGIN, VKEY, &o, &l2) != SAKSI_OK ||
		    saksi_ledger_begin(l2, 1, &txn) != SAKSI_OK)
			_exit(2);
		for (k = 0; k < 60; k++)
			bad |= saksi_ledger_append(txn, 1, T0, body, sizeof(body), NULL, NULL) !=
			    SAKSI_OK;
		bad |= saksi_ledger_commit(txn) != SAKSI_OK;
		saksi_ledger_close(l2);
		_exit(bad ? 3 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_size(txn), 70);
	assert_int_equal(saksi_ledger_append(txn, 1, T0, (const uint8_t *)"{\"a\":1}", 7, NULL,
	    NULL), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(txn, 70, &rec, &len), SAKSI_OK);
	assert_int_equal(len, SAKSI_LEAF_HDR + 7);
	free(rec);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	raw_open_env(f->dir, &r, 1);
	assert_int_equal(raw_entries(&r, "dict"), 1);
	rec = raw_leaf(&r, 65, &len);
	assert_int_equal(rec[0], 2);
	free(rec);
	raw_close(&r);
	model_free(&m);
}

/* Readers in several threads share the ledger's dictionary cache. */
struct reader_arg {
	saksi_ledger *l;
	uint64_t n;
	int failures;
};

static void *
reader_main(void *p)
{
	struct reader_arg *a = p;
	saksi_ledger_txn *txn = NULL;
	uint8_t *leaf;
	size_t len;
	uint64_t i;
	int round;

	for (round = 0; round < 3; round++) {
		if (saksi_ledger_begin(a->l, 0, &txn) != SAKSI_OK) {
			a->failures++;
			continue;
		}
		for (i = 0; i < a->n; i++) {
			if (saksi_ledger_leaf(txn, i, &leaf, &len) != SAKSI_OK)
				a->failures++;
			else
				free(leaf);
		}
		saksi_ledger_abort(txn);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	struct model m;
	saksi_ledger *l;
	pthread_t th[6];
	struct reader_arg a[6];
	int k;

	memset(&o, 0, sizeof(o));
	o.lo_dict_after = 60;
	model_init(&m, 400);
	l = open_rw(f->dir, &o);
	append_group(l, &m, 200);
	saksi_ledger_close(l);
	l = lf_open_ro(f->dir);
	for (k = 0; k < 6; k++) {
		a[k].l = l;
		a[k].n = 200;
		a[k].failures = 0;
		assert_int_equal(pthread_create(&th[k], NULL, reader_main, &a[k]), 0);
	}
	for (k = 0; k < 6; k++) {
		assert_int_equal(pthread_join(th[k], NULL), 0);
		assert_int_equal(a[k].failures, 0);
	}
	saksi_ledger_close(l);
	model_free(&m);
}

/* ---- backup ---- */

#define BK_GROUP 7   /* leaves per commit: a copy's size is a multiple of it */
#define BK_FIRST 14  /* leaves before the writer starts */
#define BK_TOTAL 294 /* leaves when the writer stops (dictionary trained at 60) */
#define BK_MAX 40    /* copies at most */

/* The entries from..to-1 of the model's sequence, BK_GROUP to a commit, without cmocka
 * (it runs in a thread or a child process): returns the number of failed calls. */
static int
write_groups(saksi_ledger *l, uint64_t from, uint64_t to)
{
	static uint8_t body[SAKSI_LEAF_MAX];
	saksi_ledger_txn *txn;
	uint64_t i, k;
	size_t len;
	int bad = 0;

	for (i = from; i < to; ) {
		txn = NULL;
		if (saksi_ledger_begin(l, 1, &txn) != SAKSI_OK)
			return bad + 1;
		for (k = 0; k < BK_GROUP && i < to; k++, i++) {
			len = make_body(i, body);
			bad += saksi_ledger_append(txn, kind_of(i), commit_ms(i), body, len, NULL,
			    NULL) != SAKSI_OK;
		}
		bad += saksi_ledger_commit(txn) != SAKSI_OK;
	}
	return bad;
}

/* A copy holds data.mdb only, mode 0700, and one committed state of the model, whole. */
static uint64_t
check_copy(const char *dir, const struct model *m, uint64_t *rng)
{
	saksi_ledger_txn *txn = NULL;
	struct model view;
	struct stat st;
	saksi_ledger *c;
	uint64_t n;
	char p[512];

	assert_int_equal(lstat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	path_in(dir, "data.mdb", p, sizeof(p));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	path_in(dir, "lock.mdb", p, sizeof(p));
	assert_int_equal(stat(p, &st), -1);

	c = lf_open_ro(dir);
	assert_int_equal(saksi_ledger_begin(c, 0, &txn), SAKSI_OK);
	n = saksi_ledger_size(txn);
	saksi_ledger_abort(txn);
	assert_true(n >= BK_FIRST && n <= m->n);
	assert_int_equal(n % BK_GROUP, 0);
	view = *m;
	view.n = n;
	check_all(c, &view, rng);
	saksi_ledger_close(c);
	return n;
}

/* Copies from l until done() says the writer has finished (and at least three); checks
 * each. Returns how many copies caught the writer half-way. */
static int
backups_while(saksi_ledger *l, const char *root, int (*done)(void *), void *arg,
              struct model *m, uint64_t *rng)
{
	char dirs[BK_MAX][300];
	uint64_t sizes[BK_MAX];
	int k, n = 0, mid = 0, fin;

	do {
		fin = done(arg);
		snprintf(dirs[n], sizeof(dirs[n]), "%s/copy-%d", root, n);
		assert_int_equal(saksi_ledger_backup(l, dirs[n]), SAKSI_OK);
		n++;
	} while (n < BK_MAX && (!fin || n < 3));
	if (!fin)
		while (!done(arg))
			;
	while (m->n < BK_TOTAL)
		append_one_model(m);
	for (k = 0; k < n; k++) {
		sizes[k] = check_copy(dirs[k], m, rng);
		mid += sizes[k] > BK_FIRST && sizes[k] < BK_TOTAL;
		/* Snapshots in the order they were taken. */
		if (k > 0)
			assert_true(sizes[k] >= sizes[k - 1]);
	}
	print_message("backup: %d copies, %d of them mid-write, last size %" PRIu64 "\n",
	    n, mid, sizes[n - 1]);
	return mid;
}

struct bk_writer {
	saksi_ledger *l;
	int bad;
	int finished; /* under mu */
	pthread_mutex_t mu;
};

static void *
bk_writer_main(void *p)
{
	struct bk_writer *w = p;
	int bad = write_groups(w->l, BK_FIRST, BK_TOTAL);

	pthread_mutex_lock(&w->mu);
	w->bad = bad;
	w->finished = 1;
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static int
bk_thread_done(void *p)
{
	struct bk_writer *w = p;
	int fin;

	pthread_mutex_lock(&w->mu);
	fin = w->finished;
	pthread_mutex_unlock(&w->mu);
	return fin;
}

/* Copies taken from the writer's own handle while a thread appends. */
static void
test_backup_thread(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	struct bk_writer w;
	struct model m;
	pthread_t th;
	char led[300];
	uint64_t rng = g_seed;

	memset(&o, 0, sizeof(o));
	o.lo_dict_after = 60;
	model_init(&m, BK_TOTAL);
	path_in(f->dir, "ledger", led, sizeof(led));
	memset(&w, 0, sizeof(w));
	w.l = open_rw(led, &o);
	assert_int_equal(write_groups(w.l, 0, BK_FIRST), 0);
	assert_int_equal(pthread_mutex_init(&w.mu, NULL), 0);
	assert_int_equal(pthread_create(&th, NULL, bk_writer_main, &w), 0);
	backups_while(w.l, f->dir, bk_thread_done, &w, &m, &rng);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.bad, 0);
	pthread_mutex_destroy(&w.mu);
	saksi_ledger_close(w.l);
	model_free(&m);
}

struct bk_child {
	pid_t pid;
	int status;
	int finished;
};

static int
bk_child_done(void *p)
{
	struct bk_child *c = p;
	pid_t r;

	if (c->finished)
		return 1;
	r = waitpid(c->pid, &c->status, WNOHANG);
	assert_true(r == 0 || r == c->pid);
	c->finished = r == c->pid;
	return c->finished;
}

/* The CLI's case: a read-only handle in one process, the writer (saksid) in another. */
static void
test_backup_process(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	struct bk_child c;
	struct model m;
	saksi_ledger *l;
	char led[300];
	uint64_t rng = g_seed + 1;

	memset(&o, 0, sizeof(o));
	o.lo_dict_after = 60;
	model_init(&m, BK_TOTAL);
	path_in(f->dir, "ledger", led, sizeof(led));
	l = open_rw(led, &o);
	assert_int_equal(write_groups(l, 0, BK_FIRST), 0);
	saksi_ledger_close(l);
	/* Opened before the writer starts, so the first copies overlap its appends. */
	l = lf_open_ro(led);
	memset(&c, 0, sizeof(c));
	c.pid = fork();
	assert_true(c.pid >= 0);
	if (c.pid == 0) {
		/* No cmocka here: a failed check is the exit status. */
		saksi_ledger *w = NULL;

		if (saksi_ledger_open(led, ORIGIN, VKEY, &o, &w) != SAKSI_OK)
			_exit(2);
		_exit(write_groups(w, BK_FIRST, BK_TOTAL) != 0 ? 3 : 0);
	}
	backups_while(l, f->dir, bk_child_done, &c, &m, &rng);
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), 0);
	saksi_ledger_close(l);
	model_free(&m);
}

/* No entry of dir names a temporary copy left behind. */
static void
assert_no_leftovers(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".backup-") != NULL)
			fail_msg("left behind: %s/%s", dir, de->d_name);
	closedir(d);
}

static void
test_backup_errors(void **state)
{
	struct fx *f = *state;
	struct model m;
	saksi_ledger *l;
	char led[300], p[300], q[400];
	uint64_t rng = g_seed + 2;
	pid_t pid;
	int status;

	model_init(&m, BK_TOTAL);
	path_in(f->dir, "ledger", led, sizeof(led));
	l = open_rw(led, NULL);
	append_group(l, &m, BK_FIRST);

	assert_int_equal(saksi_ledger_backup(NULL, f->dir), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_backup(l, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_backup(l, ""), SAKSI_ERR_INVAL);
	/* Never over a ledger, a non-empty directory or a file. */
	assert_int_equal(saksi_ledger_backup(l, led), SAKSI_ERR_EXISTS);
	path_in(f->dir, "file", p, sizeof(p));
	spit(p, "x", 1);
	assert_int_equal(saksi_ledger_backup(l, p), SAKSI_ERR_EXISTS);
	path_in(f->dir, "full", p, sizeof(p));
	assert_int_equal(mkdir(p, 0755), 0);
	path_in(p, "a", q, sizeof(q));
	spit(q, "a", 1);
	assert_int_equal(saksi_ledger_backup(l, p), SAKSI_ERR_EXISTS);
	assert_int_equal(unlink(q), 0);
	/* An empty directory is taken, trailing slash and all, and made 0700. */
	snprintf(q, sizeof(q), "%s/", p);
	assert_int_equal(saksi_ledger_backup(l, q), SAKSI_OK);
	check_copy(p, &m, &rng);
	/* No parent. */
	path_in(f->dir, "none/copy", p, sizeof(p));
	assert_int_equal(saksi_ledger_backup(l, p), SAKSI_ERR_NOT_FOUND);
	path_in(f->dir, "file/copy", p, sizeof(p));
	assert_int_equal(saksi_ledger_backup(l, p), SAKSI_ERR_NOT_FOUND);
	assert_no_leftovers(f->dir);

	/* A parent we cannot write to: as a user without the right, even when run as root. */
	path_in(f->dir, "locked", p, sizeof(p));
	assert_int_equal(mkdir(p, 0755), 0);
	path_in(p, "copy", q, sizeof(q));
	saksi_ledger_close(l);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		saksi_ledger_opts ro;
		saksi_ledger *r = NULL;
		saksi_err e;

		memset(&ro, 0, sizeof(ro));
		ro.lo_readonly = 1;
		if (saksi_ledger_open(led, NULL, NULL, &ro, &r) != SAKSI_OK)
			_exit(10);
		if (geteuid() == 0 ? setuid(65534) != 0 : chmod(p, 0500) != 0)
			_exit(11);
		e = saksi_ledger_backup(r, q);
		saksi_ledger_close(r);
		_exit(e == SAKSI_ERR_PERM ? 0 : 20 + (int)e);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(chmod(p, 0755), 0);
	assert_int_equal(access(q, F_OK), -1);
	assert_no_leftovers(p);
	model_free(&m);
}

/* The node key is tlog's StoredHashIndex: known values from golang.org/x/mod/sumdb/tlog. */
/*
 * Disclosures stored in index order, as the committer stores them, fill their pages
 * (they are appended); one stored below the last still goes where it belongs, and one
 * stored twice is still refused.
 */
static void
test_disc_in_order(void **state)
{
	struct fx *f = *state;
	saksi_ledger_opts o;
	saksi_ledger *l;
	saksi_ledger_txn *txn;
	struct model m;
	uint8_t disc[266], *blob;
	MDB_stat st;
	MDB_dbi dbi;
	size_t len;
	uint64_t n = 3000;

	memset(&o, 0, sizeof(o));
	memset(disc, 0x5a, sizeof(disc));
	disc[0] = 2;
	model_init(&m, n);
	l = open_rw(f->dir, &o);
	append_group(l, &m, n);
	assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
	for (uint64_t i = 10; i < n; i += 2) {
		saksi_put_u64(disc + 1, i);
		assert_int_equal(saksi_ledger_disc_put(txn, i, disc, sizeof(disc)), SAKSI_OK);
	}
	/* Below the last: put in place; the same index again: refused, nothing changed. */
	saksi_put_u64(disc + 1, 3);
	assert_int_equal(saksi_ledger_disc_put(txn, 3, disc, sizeof(disc)), SAKSI_OK);
	assert_int_equal(saksi_ledger_disc_put(txn, 3, disc, sizeof(disc)), SAKSI_ERR_EXISTS);
	assert_int_equal(saksi_ledger_disc_put(txn, n - 2, disc, sizeof(disc)),
	                 SAKSI_ERR_EXISTS);
	assert_int_equal(saksi_ledger_disc_put(txn, 12, disc, sizeof(disc)), SAKSI_ERR_EXISTS);
	saksi_put_u64(disc + 1, n - 1);
	assert_int_equal(saksi_ledger_disc_put(txn, n - 1, disc, sizeof(disc)), SAKSI_OK);
	assert_int_equal(mdb_dbi_open(saksi_ledger_txn_mdb(txn), "disc", 0, &dbi), 0);
	assert_int_equal(mdb_stat(saksi_ledger_txn_mdb(txn), dbi, &st), 0);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	/* 1,497 blobs of 266 bytes with their 8-byte keys and 8-byte node headers: 14 a
	 * page when full, 107 pages; 115 when each was put without the append. */
	print_message("disc: %zu entries on %zu leaf pages\n", (size_t)st.ms_entries,
	              (size_t)st.ms_leaf_pages);
	assert_int_equal(st.ms_entries, (n - 10) / 2 + 2);
	assert_true(st.ms_leaf_pages <= 110);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	for (uint64_t i = 0; i < n; i++) {
		saksi_err e = saksi_ledger_disc_get(txn, i, &blob, &len);

		if (i == 3 || i == n - 1 || (i >= 10 && i % 2 == 0)) {
			assert_int_equal(e, SAKSI_OK);
			assert_int_equal(len, sizeof(disc));
			assert_int_equal(saksi_get_u64(blob + 1), i);
			free(blob);
		} else
			assert_int_equal(e, SAKSI_ERR_NOT_FOUND);
	}
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	model_free(&m);
}

static void
test_node_key_order(void **state)
{
	static const struct { unsigned level; uint64_t index, want; } kv[] = {
		{ 0, 0, 0 }, { 0, 1, 1 }, { 1, 0, 2 }, { 0, 2, 3 }, { 0, 3, 4 }, { 1, 1, 5 },
		{ 2, 0, 6 }, { 0, 4, 7 }, { 0, 5, 8 }, { 1, 2, 9 }, { 0, 6, 10 }, { 0, 7, 11 },
		{ 1, 3, 12 }, { 2, 1, 13 }, { 3, 0, 14 },
	};
	uint8_t k[8];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		assert_int_equal(saksi_ledger_node_key(k, kv[i].level, kv[i].index), SAKSI_OK);
		assert_true(saksi_get_u64(k) == kv[i].want);
	}
	assert_int_equal(saksi_ledger_node_key(k, 63, 0), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_node_key(k, 0, UINT64_C(1) << 62), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_node_key(k, 10, UINT64_C(1) << 52), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_ledger_node_key(k, 10, (UINT64_C(1) << 52) - 1), SAKSI_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_key_order),
		cmocka_unit_test(test_leaf_parse),
		cmocka_unit_test_setup_teardown(test_append_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disc_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_hdr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incompressible_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dict_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_async, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_origin_and_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collisions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dict_from_other_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_reader_cleared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_errors, setup, teardown),
	};
	const char *env = getenv("SAKSI_TEST_SEED");

	g_seed = env != NULL ? strtoull(env, NULL, 0) : 0x5a4b5349ULL;
	printf("ledger_test: seed %" PRIu64 " (set SAKSI_TEST_SEED to change)\n", g_seed);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
