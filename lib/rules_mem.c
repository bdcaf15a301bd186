/*
 * rules_mem.c: the rule state held in memory (RULES.md 4.4): an ordered map with LMDB's
 * own key order, an undo log that follows the caller's write transactions, and the
 * incremental snapshot written into them as deltas and folded into the base. It must never let an aborted transaction's
 * changes survive, nor order anything by address or hash: iteration is by key alone.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "rules_impl.h"

#define RMEM_KEY_MAX 64
#define RMEM_PREFETCH 8            /* keys ahead whose slot a snapshot asks for */
#define C_LEN 17                  /* 'C': version · generation (8) · next leaf (8) */
#define RMEM_RECENT 16            /* keys remembered by rmem_get and changes */
#define Z_KEY_LEN 13              /* 'Z' · snapshot (8) · sequence (4): a delta record */
#define D_LEN 17                  /* 'D': version · last snapshot (8) · delta records (8) */
#define D2_LEN 26                 /* 'D' 0x02: ... · fold snapshot (8) · cursor_len (1) · cursor */

/*
 * A key, in one allocation aligned to a cache line: what a hash probe or a heap's tie
 * reads of a node (the hash, the key's first 55 bytes) shares its first line.
 */
struct rnode {
	uint64_t n_hash;          /* its slot in the hash table */
	uint8_t n_kl;
	uint8_t n_k[RMEM_KEY_MAX];
	struct rheap *n_heap;     /* X, P, K keys: the heap of their prefix, else NULL */
	size_t n_hpos;            /* and the place in it */
	uint64_t n_epoch;         /* snapshot epoch in which it was last listed as touched */
	uint8_t *n_v;
	size_t n_vl;
};


/*
 * The time-ordered keys (X, P, K) of one prefix (the letter and a rule's or join's
 * fingerprint), in a binary min-heap in LMDB's key order. The engine asks only for the
 * first key of a prefix; new keys come near the end of their prefix's order (a time a
 * timespan ahead), so a push seldom climbs, where a tree walked from its root missed
 * the cache at every level (perf: the treap's insertions were the engine's first cost
 * in saksid). Each entry keeps its key's time inline, so a climb or a sift compares
 * in the heap's own lines and loads a node only on a tie.
 */
#define HEAP_PFX 9

struct hent {
	uint64_t h_t;             /* the key's bytes 9..16, big-endian: its time */
	struct rnode *h_n;
};

struct rheap {
	uint8_t p_pfx[HEAP_PFX];
	struct hent *p_a;
	size_t p_n, p_cap;
};

struct rkey {
	uint64_t k_hash;          /* khash of the key: the snapshot finds it without SipHash */
	size_t k_len;
	uint8_t k_b[RMEM_KEY_MAX];
};

/* A slot of the hash table keeps its key's hash beside the node: a probe that passes
 * other keys compares hashes in the table's own cache line instead of loading each
 * node it passes (perf: most of the lookups' time was those loads). */
struct rslot {
	uint64_t s_hash;
	struct rnode *s_n;        /* NULL: free */
};

/* The value a key had before a change of generation u_gen (u_had 0: it was absent). */
struct rundo {
	uint64_t u_gen;
	struct rkey u_key;
	uint8_t *u_v;
	size_t u_vl;
	int u_had;
};


/*
 * The nodes and values of the state come from the map's own pool, by size class, not
 * from malloc: a state of a million small records, freed and made again in every
 * order, left the committer's malloc arena so cut up that every other allocation on
 * that thread walked its bins (perf, saksid under bench_ingest -f: unlink_chunk and
 * _int_malloc in the disclosures' sealing, a fifth of what the rules added). A chunk
 * returns to its class's free list (not wiped: see vfree); the blocks go back only
 * with the map, wiped whole.
 * Sizes are known when freed (a node's, a value's length), so a chunk has no header.
 */
#define POOL_SMALL 256            /* 16-byte classes up to here */
#define POOL_MAX 65536            /* then four classes per power of two; above: malloc */
#define POOL_NCLASS (POOL_SMALL / 16 + 4 * 8)
#define POOL_BLOCK (256 * 1024)

struct pool {
	void *p_free[POOL_NCLASS];
	uint8_t *p_at;            /* the unused rest of the newest block */
	size_t p_left;
	void **p_blocks;
	size_t p_nblocks, p_capblocks;
	size_t p_big;             /* chunks above POOL_MAX, from malloc, held now */
};

/* The class of a chunk of n bytes (1..POOL_MAX) and its size. */
static size_t
pool_class(size_t n, size_t *size)
{
	size_t p, step, k;

	if (n <= POOL_SMALL) {
		k = (n + 15) / 16;
		*size = k * 16;
		return k - 1;
	}
	for (p = 8; ((size_t)1 << (p + 1)) < n; p++)
		;
	step = ((size_t)1 << p) / 4;
	k = (n - ((size_t)1 << p) + step - 1) / step;      /* 1..4 */
	*size = ((size_t)1 << p) + k * step;
	return POOL_SMALL / 16 + (p - 8) * 4 + k - 1;
}

static void *
pool_get(struct pool *pl, size_t n)
{
	size_t c, size, skip;
	void *v;

	if (n == 0)
		n = 1;
	if (n > POOL_MAX) {
		if ((v = malloc(n)) != NULL)
			pl->p_big++;
		return v;
	}
	c = pool_class(n, &size);
	if ((v = pl->p_free[c]) != NULL) {
		memcpy(&pl->p_free[c], v, sizeof(void *));
		return v;
	}
	/* A node (or any multiple of a cache line) starts on a line: the bytes skipped go
	 * to their small class. */
	skip = size % 64 == 0 ? (64 - ((uintptr_t)pl->p_at & 63)) & 63 : 0;
	if (pl->p_left >= size + skip && skip > 0) {
		size_t sc = pool_class(skip, &size);

		memcpy(pl->p_at, &pl->p_free[sc], sizeof(void *));
		pl->p_free[sc] = pl->p_at;
		pl->p_at += skip;
		pl->p_left -= skip;
		c = pool_class(n, &size);
	}
	if (pl->p_left < size) {
		uint8_t *b;

		/* The rest of the old block goes to the small classes, in pieces of at
		 * most POOL_SMALL (every class size is a multiple of 16, so is the rest). */
		while (pl->p_left >= 16) {
			size_t rs = pl->p_left < POOL_SMALL ? pl->p_left : POOL_SMALL;
			size_t rc = pool_class(rs, &size);

			memcpy(pl->p_at, &pl->p_free[rc], sizeof(void *));
			pl->p_free[rc] = pl->p_at;
			pl->p_at += rs;
			pl->p_left -= rs;
		}
		if (pl->p_nblocks == pl->p_capblocks) {
			size_t nc = pl->p_capblocks == 0 ? 64 : pl->p_capblocks * 2;
			void **nb = realloc(pl->p_blocks, nc * sizeof(*nb));

			if (nb == NULL)
				return NULL;
			pl->p_blocks = nb;
			pl->p_capblocks = nc;
		}
		/* Aligned to a cache line: a node is one, its first line its hash and key. */
		if ((b = aligned_alloc(64, POOL_BLOCK)) == NULL)
			return NULL;
		pl->p_blocks[pl->p_nblocks++] = b;
		pl->p_at = b;
		pl->p_left = POOL_BLOCK;
		c = pool_class(n, &size);
	}
	v = pl->p_at;
	pl->p_at += size;
	pl->p_left -= size;
	return v;
}

/* v (n bytes, as asked of pool_get) back to its class; the caller wiped it. */
static void
pool_put(struct pool *pl, void *v, size_t n)
{
	size_t c, size;

	if (v == NULL)
		return;
	if (n == 0)
		n = 1;
	if (n > POOL_MAX) {
		free(v);
		pl->p_big--;
		return;
	}
	c = pool_class(n, &size);
	memcpy(v, &pl->p_free[c], sizeof(void *));
	pl->p_free[c] = v;
}

/* Every block wiped and freed: the nodes and values in them with it (the chunks above
 * POOL_MAX, the caller's). */
static void
pool_free(struct pool *pl)
{
	for (size_t i = 0; i < pl->p_nblocks; i++) {
		sodium_memzero(pl->p_blocks[i], POOL_BLOCK);
		free(pl->p_blocks[i]);
	}
	free(pl->p_blocks);
	memset(pl, 0, sizeof(*pl));
}

struct rmem {
	/* Every key in a hash table (open addressing, SipHash under a key of this map:
	 * exact lookups cost a cache miss or two, and crafted group texts cannot pile up in
	 * one slot); the keys that are searched by prefix (X, P, K: expiry and deferred
	 * checks, in time order) also in their prefix's heap. Neither order is ever an
	 * output: the engine reads keys by name, or the first of a prefix in LMDB's order,
	 * which is one key whatever the heap's shape. */
	struct rslot *m_tab;
	size_t m_tabcap;
	uint8_t m_hkey[crypto_shorthash_KEYBYTES];
	struct rheap **m_heaps;   /* open addressing by prefix; NULL: free */
	size_t m_nheaps, m_capheaps;
	size_t m_n;
	size_t m_nindex;          /* X and K keys: entries of their record's node (index_set) */
	/* Transactions: m_gen is the generation of the latest change, stored as 'C' by the
	 * transaction that made it; the undo log holds every change since m_base. */
	uint64_t m_gen, m_base;
	size_t m_txnid;
	struct rundo *m_undo;
	size_t m_nundo, m_capundo;
	/* Snapshot: keys changed since the last one, and those of a snapshot written in a
	 * transaction not yet known to have committed (m_fly_gen, 0: none). */
	struct rkey *m_touch;
	size_t m_ntouch, m_captouch;
	uint64_t m_epoch;
	struct rkey *m_fly;
	size_t m_nfly, m_capfly;
	uint64_t m_fly_gen;
	uint64_t m_fly_since;
	size_t m_fold_min;        /* delta records below which no fold is due (rmem_fold_min) */
	size_t m_nbase;           /* keys held when the base last took them all (attach, fold) */
	/* A fold under way ('D' 0x02): the keys of the deltas of snapshots up to
	 * m_fold_snap, in key order and each once, written into the base a slice per
	 * snapshot (fold_step). */
	struct rkey *m_fold;
	size_t m_nfold, m_capfold;
	uint64_t m_fold_snap;
	saksi_rules_mem_stats m_info;
	struct pool m_pool;       /* every node and value */
	/* The keys looked up last, by a cheap slot of their own bytes: an evaluation reads
	 * a group, a join record or a rule's counters and writes it back soon after, and
	 * the write then finds it here without SipHash and a probe of the table. */
	struct rnode *m_recent[RMEM_RECENT];
};

static int
kcmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int r = memcmp(a, b, al < bl ? al : bl);

	/* LMDB's default order: bytes, then the shorter key first. */
	if (r != 0)
		return r;
	return al < bl ? -1 : al > bl;
}

saksi_err
rmem_new(struct rmem **out)
{
	struct rmem *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return SAKSI_ERR_NOMEM;
	m->m_epoch = 1;
	crypto_shorthash_keygen(m->m_hkey);
	*out = m;
	return SAKSI_OK;
}

/*
 * Values hold blind tokens (group texts, join records). A chunk of the pool stays in
 * the map's own blocks, which rmem_free wipes whole, and is overwritten when it is
 * handed out again: wiping each value as the undo log let go of it was a third of what
 * dropping the log cost at commit (perf, saksid under bench_ingest -f: memset under
 * rmem_sync, 11 of 333 samples that detection added), for bytes the state database
 * holds as they are. Only a value too large for the pool goes back to malloc: wiped.
 */
static void
vfree(struct rmem *m, uint8_t *v, size_t len)
{
	if (v == NULL)
		return;
	if (len > POOL_MAX)
		sodium_memzero(v, len);
	pool_put(&m->m_pool, v, len);
}

#define NODE_SIZE ((sizeof(struct rnode) + 63) / 64 * 64)

static void
undo_clear(struct rmem *m)
{
	size_t i;

	for (i = 0; i < m->m_nundo; i++)
		vfree(m, m->m_undo[i].u_v, m->m_undo[i].u_vl);
	m->m_nundo = 0;
}

void
rmem_free(struct rmem *m)
{
	if (m == NULL)
		return;
	/*
	 * The blocks are wiped whole, in address order (pool_free): wiping and freeing
	 * each node in the table's order read the whole state at random, a cache miss or
	 * two per key (perf: a saksid stopping with a million keys spent longer on it than
	 * on its last snapshot). Only values too large for the pool are found one by one,
	 * and only while there are any.
	 */
	undo_clear(m);
	for (size_t i = 0; i < m->m_tabcap && m->m_pool.p_big > 0; i++) {
		struct rnode *n = m->m_tab[i].s_n;

		if (n != NULL && n->n_vl > POOL_MAX) {
			vfree(m, n->n_v, n->n_vl);
			n->n_v = NULL;
		}
	}
	free(m->m_tab);
	for (size_t i = 0; i < m->m_capheaps; i++)
		if (m->m_heaps[i] != NULL) {
			free(m->m_heaps[i]->p_a);
			free(m->m_heaps[i]);
		}
	free(m->m_heaps);
	free(m->m_undo);
	free(m->m_touch);
	free(m->m_fly);
	free(m->m_fold);
	pool_free(&m->m_pool);
	free(m);
}

/* Keys of their own in a prefix's heap: the deferred checks. */
static int
ordered(const uint8_t *k)
{
	return k[0] == 'P';
}

/*
 * The expiry indexes (X fp keep gh, K fp time kh) are not keys of their own in memory:
 * each is its record's (G fp gh, J fp kh) entry in the prefix's heap, its time in the
 * entry. A new group made two nodes, two SipHashes and two table inserts, one of them
 * only to be found again by its record's hash (perf, saksid under bench_ingest -f: half
 * of group_save). The engine writes a record before its index key and deletes the index
 * key first; a record has at most one (RULES.md 4.1).
 */
#define INDEX_KEY_LEN (HEAP_PFX + 8 + 32)
#define INDEX_REC_LEN (HEAP_PFX + 32)

static int
index_letter(const uint8_t *k)
{
	return k[0] == 'X' || k[0] == 'K';
}

/* The record a heap entry of an index points to (not a P key of its own). */
static int
index_entry(const struct rnode *n)
{
	return n->n_k[0] == 'G' || n->n_k[0] == 'J';
}

static size_t
pfx_hash(const uint8_t *k)
{
	size_t h = 14695981039346656037u, i;

	for (i = 0; i < HEAP_PFX; i++)
		h = (h ^ k[i]) * 1099511628211u;
	return h;
}

/* The heap of prefix k[0..HEAP_PFX); NULL if none. */
static struct rheap *
heap_find(const struct rmem *m, const uint8_t *k)
{
	size_t i, mask = m->m_capheaps - 1;

	if (m->m_capheaps == 0)
		return NULL;
	for (i = pfx_hash(k) & mask; m->m_heaps[i] != NULL; i = (i + 1) & mask)
		if (memcmp(m->m_heaps[i]->p_pfx, k, HEAP_PFX) == 0)
			return m->m_heaps[i];
	return NULL;
}

/* The heap of prefix k, made if absent, with room for one more entry. */
static saksi_err
heap_reserve(struct rmem *m, const uint8_t *k, struct rheap **out)
{
	struct rheap *h = heap_find(m, k);
	size_t i;

	if (h == NULL) {
		if ((m->m_nheaps + 1) * 2 > m->m_capheaps) {
			size_t nc = m->m_capheaps == 0 ? 64 : m->m_capheaps * 2;
			struct rheap **nt = calloc(nc, sizeof(*nt));

			if (nt == NULL)
				return SAKSI_ERR_NOMEM;
			for (i = 0; i < m->m_capheaps; i++) {
				size_t j;

				if (m->m_heaps[i] == NULL)
					continue;
				for (j = pfx_hash(m->m_heaps[i]->p_pfx) & (nc - 1); nt[j] != NULL;
				    j = (j + 1) & (nc - 1))
					;
				nt[j] = m->m_heaps[i];
			}
			free(m->m_heaps);
			m->m_heaps = nt;
			m->m_capheaps = nc;
		}
		if ((h = calloc(1, sizeof(*h))) == NULL)
			return SAKSI_ERR_NOMEM;
		memcpy(h->p_pfx, k, HEAP_PFX);
		for (i = pfx_hash(k) & (m->m_capheaps - 1); m->m_heaps[i] != NULL;
		    i = (i + 1) & (m->m_capheaps - 1))
			;
		m->m_heaps[i] = h;
		m->m_nheaps++;
	}
	if (h->p_n == h->p_cap) {
		size_t nc = h->p_cap == 0 ? 64 : h->p_cap * 2;
		struct hent *na = realloc(h->p_a, nc * sizeof(*na));

		if (na == NULL)
			return SAKSI_ERR_NOMEM;
		h->p_a = na;
		h->p_cap = nc;
	}
	*out = h;
	return SAKSI_OK;
}

static uint64_t
key_time(const uint8_t *k, size_t kl)
{
	uint8_t b[8] = { 0 };

	/* A shorter key (never written by the engine) is padded with zeros: on a tie kcmp
	 * puts it first, as LMDB does. */
	memcpy(b, k + HEAP_PFX, kl - HEAP_PFX < 8 ? kl - HEAP_PFX : 8);
	return saksi_get_u64(b);
}

static int
hless(const struct hent *a, const struct hent *b)
{
	const struct rnode *x = a->h_n, *y = b->h_n;

	if (a->h_t != b->h_t)
		return a->h_t < b->h_t;
	/* The same prefix and time: an index key's order is its record's hash's, which
	 * follows the record key's prefix. A heap holds index entries or P keys, never
	 * both (by letter). */
	if (index_entry(x))
		return kcmp(x->n_k + HEAP_PFX, x->n_kl - HEAP_PFX, y->n_k + HEAP_PFX,
		    y->n_kl - HEAP_PFX) < 0;
	return kcmp(x->n_k, x->n_kl, y->n_k, y->n_kl) < 0;
}

static void
hset(struct rheap *h, size_t i, struct hent e)
{
	h->p_a[i] = e;
	e.h_n->n_hpos = i;
}

static void
sift_up(struct rheap *h, size_t i)
{
	struct hent e = h->p_a[i];

	while (i > 0 && hless(&e, &h->p_a[(i - 1) / 2])) {
		hset(h, i, h->p_a[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	hset(h, i, e);
}

static void
sift_down(struct rheap *h, size_t i)
{
	struct hent e = h->p_a[i];
	size_t c;

	while ((c = 2 * i + 1) < h->p_n) {
		if (c + 1 < h->p_n && hless(&h->p_a[c + 1], &h->p_a[c]))
			c++;
		if (!hless(&h->p_a[c], &e))
			break;
		hset(h, i, h->p_a[c]);
		i = c;
	}
	hset(h, i, e);
}

/* Room reserved (heap_reserve); t: the time of n's entry. */
static void
heap_push(struct rheap *h, struct rnode *n, uint64_t t)
{
	struct hent e = { t, n };

	n->n_heap = h;
	hset(h, h->p_n++, e);
	sift_up(h, h->p_n - 1);
}

static void
heap_remove(struct rnode *n)
{
	struct rheap *h = n->n_heap;
	size_t i = n->n_hpos;

	n->n_heap = NULL;
	if (i != --h->p_n) {
		hset(h, i, h->p_a[h->p_n]);
		if (i > 0 && hless(&h->p_a[i], &h->p_a[(i - 1) / 2]))
			sift_up(h, i);
		else
			sift_down(h, i);
	}
}

static uint64_t
khash(const struct rmem *m, const uint8_t *k, size_t kl)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, k, kl, m->m_hkey);
	memcpy(&v, h, sizeof(v));
	return v;
}

static struct rnode *
find_h(const struct rmem *m, const uint8_t *k, size_t kl, uint64_t h)
{
	size_t i, mask = m->m_tabcap - 1;
	const struct rslot *sl;

	if (m->m_tabcap == 0)
		return NULL;
	for (i = h & mask; (sl = &m->m_tab[i])->s_n != NULL; i = (i + 1) & mask)
		if (sl->s_hash == h && sl->s_n->n_kl == kl &&
		    memcmp(sl->s_n->n_k, k, kl) == 0)
			return sl->s_n;
	return NULL;
}

static struct rnode *
find(const struct rmem *m, const uint8_t *k, size_t kl)
{
	return find_h(m, k, kl, khash(m, k, kl));
}

/* Not a hash of any strength: the engine's keys end in one (a group's, a join key's) or
 * in a fingerprint, and a miss only costs the lookup it would have cost anyway. */
static size_t
recent_slot(const uint8_t *k, size_t kl)
{
	uint64_t x = k[0];

	if (kl >= 9)
		memcpy(&x, k + kl - 8, sizeof(x));
	return (size_t)((x ^ (x >> 29) ^ k[0]) & (RMEM_RECENT - 1));
}

static struct rnode *
recent_find(const struct rmem *m, const uint8_t *k, size_t kl)
{
	struct rnode *n = m->m_recent[recent_slot(k, kl)];

	if (n != NULL && n->n_kl == kl && memcmp(n->n_k, k, kl) == 0)
		return n;
	return NULL;
}

static void
recent_forget(struct rmem *m, const struct rnode *n)
{
	size_t i = recent_slot(n->n_k, n->n_kl);

	if (m->m_recent[i] == n)
		m->m_recent[i] = NULL;
}

/* h: n's hash, passed in so that growing the table reads the old slots alone, not each
 * node they point to (perf: a cache miss per key, most of the table's growth). */
static void
tab_place(struct rslot *tab, size_t cap, struct rnode *n, uint64_t h)
{
	size_t i;

	for (i = h & (cap - 1); tab[i].s_n != NULL; i = (i + 1) & (cap - 1))
		;
	tab[i].s_hash = h;
	tab[i].s_n = n;
}

/* Room for one more key: the table at most half full. */
static saksi_err
tab_reserve(struct rmem *m)
{
	struct rslot *nt;
	size_t nc, i;

	if ((m->m_n + 1) * 2 <= m->m_tabcap)
		return SAKSI_OK;
	nc = m->m_tabcap == 0 ? 1024 : m->m_tabcap * 2;
	if ((nt = calloc(nc, sizeof(*nt))) == NULL)
		return SAKSI_ERR_NOMEM;
	for (i = 0; i < m->m_tabcap; i++)
		if (m->m_tab[i].s_n != NULL)
			tab_place(nt, nc, m->m_tab[i].s_n, m->m_tab[i].s_hash);
	free(m->m_tab);
	m->m_tab = nt;
	m->m_tabcap = nc;
	return SAKSI_OK;
}

/* Takes n out of the table, moving back the keys after it (linear probing). */
static void
tab_remove(struct rmem *m, const struct rnode *n)
{
	size_t mask = m->m_tabcap - 1, i, j, home;

	for (i = n->n_hash & mask; m->m_tab[i].s_n != n; i = (i + 1) & mask)
		;
	m->m_tab[i].s_n = NULL;
	for (j = (i + 1) & mask; m->m_tab[j].s_n != NULL; j = (j + 1) & mask) {
		home = m->m_tab[j].s_hash & mask;
		/* Moves back if its home is not cyclically within (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			m->m_tab[i] = m->m_tab[j];
			m->m_tab[j].s_n = NULL;
			i = j;
		}
	}
}

static saksi_err
key_list_reserve(struct rkey **v, size_t n, size_t *cap)
{
	if (n == *cap) {
		size_t nc = *cap == 0 ? 256 : *cap * 2;
		struct rkey *nv = realloc(*v, nc * sizeof(*nv));

		if (nv == NULL)
			return SAKSI_ERR_NOMEM;
		*v = nv;
		*cap = nc;
	}
	return SAKSI_OK;
}

static saksi_err
key_list_add(struct rkey **v, size_t *n, size_t *cap, const struct rkey *k)
{
	saksi_err e;

	if ((e = key_list_reserve(v, *n, cap)) != SAKSI_OK)
		return e;
	(*v)[*n].k_hash = k->k_hash;
	(*v)[*n].k_len = k->k_len;
	memcpy((*v)[*n].k_b, k->k_b, k->k_len);
	(*n)++;
	return SAKSI_OK;
}

/* Room for one more undo entry and one more listed key: taken before a change, so
 * that a change is never made without its undo entry and its place in the snapshot. */
static saksi_err
reserve(struct rmem *m)
{
	if (m->m_nundo == m->m_capundo) {
		size_t nc = m->m_capundo == 0 ? 1024 : m->m_capundo * 2;
		struct rundo *nu = realloc(m->m_undo, nc * sizeof(*nu));

		if (nu == NULL)
			return SAKSI_ERR_NOMEM;
		m->m_undo = nu;
		m->m_capundo = nc;
	}
	return key_list_reserve(&m->m_touch, m->m_ntouch, &m->m_captouch);
}

/*
 * Lists k for the next snapshot (once per epoch for a live key); room reserved. The
 * expiry indexes (X, K) never come here: they follow from the records they index (a
 * group's keep, a join record's time), are made again from them at load, and a
 * snapshot leaves them out (RULES.md 4.4).
 */
static void
touch(struct rmem *m, struct rnode *n, const uint8_t *k, size_t kl, uint64_t h)
{
	if (n != NULL) {
		if (n->n_epoch == m->m_epoch)
			return;
		n->n_epoch = m->m_epoch;
	}
	m->m_touch[m->m_ntouch].k_hash = h;
	m->m_touch[m->m_ntouch].k_len = kl;
	memcpy(m->m_touch[m->m_ntouch].k_b, k, kl);
	m->m_ntouch++;
}

/* The value of rmem_put_reserve: room made, filled by the caller, not copied. */
static const uint8_t reserve_tag[1];

/* The change itself, without undo: v NULL deletes. *oldv: the value it replaced. */
static saksi_err
set_raw(struct rmem *m, const uint8_t *k, size_t kl, uint64_t h, const void *v, size_t vl,
        uint8_t **oldv, size_t *oldvl, struct rnode **nout)
{
	struct rnode *n = recent_find(m, k, kl);

	if (n == NULL)
		n = find_h(m, k, kl, h);
	struct rheap *hp = NULL;
	uint8_t *nv = NULL;
	saksi_err e;

	*oldv = NULL;
	*oldvl = n != NULL ? n->n_vl : 0;
	*nout = n;
	if (n == NULL && v == NULL)
		return SAKSI_ERR_NOT_FOUND;
	if (n == NULL && (e = tab_reserve(m)) != SAKSI_OK)
		return e;
	/* Every allocation before the first change: a failure leaves memory as it was. */
	if (n == NULL && ordered(k) && kl >= HEAP_PFX && (e = heap_reserve(m, k, &hp)) !=
	    SAKSI_OK)
		return e;
	if (v != NULL) {
		if ((nv = pool_get(&m->m_pool, vl)) == NULL)
			return SAKSI_ERR_NOMEM;
		if (vl > 0 && v != reserve_tag)
			memcpy(nv, v, vl);
	}
	if (n != NULL && v != NULL) {
		*oldv = n->n_v;
		n->n_v = nv;
		n->n_vl = vl;
		return SAKSI_OK;
	}
	if (n != NULL) {
		if (n->n_heap != NULL) {
			/* A record's index entry goes with it (the engine deletes it first). */
			if (index_entry(n))
				m->m_nindex--;
			heap_remove(n);
		}
		recent_forget(m, n);
		tab_remove(m, n);
		*oldv = n->n_v;
		sodium_memzero(n, sizeof(*n));
		pool_put(&m->m_pool, n, NODE_SIZE);
		m->m_n--;
		*nout = NULL;
		return SAKSI_OK;
	}
	if ((n = pool_get(&m->m_pool, NODE_SIZE)) == NULL) {
		pool_put(&m->m_pool, nv, vl);
		return SAKSI_ERR_NOMEM;
	}
	memset(n, 0, sizeof(*n));
	memcpy(n->n_k, k, kl);
	n->n_kl = (uint8_t)kl;
	n->n_v = nv;
	n->n_vl = vl;
	n->n_hash = h;
	tab_place(m->m_tab, m->m_tabcap, n, h);
	if (hp != NULL)
		heap_push(hp, n, key_time(k, kl));
	m->m_recent[recent_slot(k, kl)] = n;
	m->m_n++;
	*nout = n;
	return SAKSI_OK;
}

/* The record node of index key k (INDEX_KEY_LEN bytes), NULL if none. */
static struct rnode *
index_record(struct rmem *m, const uint8_t *k)
{
	uint8_t rk[INDEX_REC_LEN];
	struct rnode *n;

	rk[0] = k[0] == 'X' ? 'G' : 'J';
	memcpy(rk + 1, k + 1, HEAP_PFX - 1);
	memcpy(rk + HEAP_PFX, k + HEAP_PFX + 8, INDEX_REC_LEN - HEAP_PFX);
	/* A record written just before its index key: found without SipHash. */
	if ((n = recent_find(m, rk, sizeof(rk))) == NULL &&
	    (n = find(m, rk, sizeof(rk))) != NULL)
		m->m_recent[recent_slot(rk, sizeof(rk))] = n;
	return n;
}

/* Whether index key k is held: its record has an entry of k's time. */
static int
index_has(struct rmem *m, const uint8_t *k, struct rnode **rec)
{
	struct rnode *n = index_record(m, k);

	*rec = n;
	return n != NULL && n->n_heap != NULL &&
	    n->n_heap->p_a[n->n_hpos].h_t == saksi_get_u64(k + HEAP_PFX);
}

/*
 * Puts (present 1) or deletes index key k; *had: whether it was held. An index key
 * whose record is absent, or a second one for a record, is SAKSI_ERR_CORRUPT: the
 * engine never writes one, and memory cannot hold it.
 */
static saksi_err
index_set(struct rmem *m, const uint8_t *k, int present, int *had)
{
	struct rnode *n;
	struct rheap *hp;
	saksi_err e;

	*had = index_has(m, k, &n);
	if (!present) {
		if (!*had)
			return SAKSI_ERR_NOT_FOUND;
		heap_remove(n);
		m->m_nindex--;
		return SAKSI_OK;
	}
	if (*had)
		return SAKSI_OK;
	if (n == NULL || n->n_heap != NULL)
		return SAKSI_ERR_CORRUPT;
	if ((e = heap_reserve(m, k, &hp)) != SAKSI_OK)
		return e;
	heap_push(hp, n, saksi_get_u64(k + HEAP_PFX));
	m->m_nindex++;
	return SAKSI_OK;
}

/* An index key changed, with its undo entry (no value: an index key's is empty). */
static saksi_err
index_change(struct rmem *m, const uint8_t *k, size_t kl, int present, size_t vl)
{
	struct rundo *u;
	int had;
	saksi_err e;

	if (kl != INDEX_KEY_LEN || vl != 0)
		return SAKSI_ERR_INVAL;
	if ((e = reserve(m)) != SAKSI_OK || (e = index_set(m, k, present, &had)) != SAKSI_OK)
		return e;
	u = &m->m_undo[m->m_nundo++];
	u->u_gen = m->m_gen;
	u->u_key.k_hash = 0;
	u->u_key.k_len = kl;
	memcpy(u->u_key.k_b, k, kl);
	u->u_had = had;
	u->u_v = NULL;
	u->u_vl = 0;
	return SAKSI_OK;
}

static saksi_err
change(struct rmem *m, const uint8_t *k, size_t kl, const void *v, size_t vl,
       uint8_t **dst)
{
	struct rnode *after;
	struct rundo *u;
	uint8_t *oldv;
	size_t oldvl;
	uint64_t h;
	saksi_err e;

	if (kl == 0 || kl > RMEM_KEY_MAX)
		return SAKSI_ERR_INVAL;
	if (index_letter(k))
		return dst != NULL ? SAKSI_ERR_INVAL : index_change(m, k, kl, v != NULL, vl);
	if ((e = reserve(m)) != SAKSI_OK)
		return e;
	/* A key read just before (a group read, then written back) keeps its hash. */
	h = (after = recent_find(m, k, kl)) != NULL ? after->n_hash : khash(m, k, kl);
	if ((e = set_raw(m, k, kl, h, v, vl, &oldv, &oldvl, &after)) != SAKSI_OK)
		return e;
	/* A value is never NULL (malloc'd, at least one byte): none, the key was absent. */
	u = &m->m_undo[m->m_nundo++];
	u->u_gen = m->m_gen;
	u->u_key.k_hash = h;
	u->u_key.k_len = kl;
	memcpy(u->u_key.k_b, k, kl);
	u->u_had = oldv != NULL;
	u->u_v = oldv;
	u->u_vl = oldvl;
	touch(m, after, k, kl, h);
	if (dst != NULL)
		*dst = after->n_v;
	return SAKSI_OK;
}

saksi_err
rmem_put(struct rmem *m, const uint8_t *k, size_t kl, const void *v, size_t vl)
{
	return change(m, k, kl, v != NULL ? v : "", vl, NULL);
}

saksi_err
rmem_put_reserve(struct rmem *m, const uint8_t *k, size_t kl, size_t vl, uint8_t **dst)
{
	*dst = NULL;
	if (vl == 0)
		return SAKSI_ERR_INVAL;
	return change(m, k, kl, reserve_tag, vl, dst);
}

saksi_err
rmem_del(struct rmem *m, const uint8_t *k, size_t kl)
{
	return change(m, k, kl, NULL, 0, NULL);
}

saksi_err
rmem_get(struct rmem *m, const uint8_t *k, size_t kl, MDB_val *v)
{
	struct rnode *n;

	if (kl == 0 || kl > RMEM_KEY_MAX)
		return SAKSI_ERR_NOT_FOUND;
	if (index_letter(k)) {
		if (kl != INDEX_KEY_LEN || !index_has(m, k, &n))
			return SAKSI_ERR_NOT_FOUND;
		v->mv_data = (void *)"";
		v->mv_size = 0;
		return SAKSI_OK;
	}
	if ((n = recent_find(m, k, kl)) == NULL && (n = find(m, k, kl)) != NULL)
		m->m_recent[recent_slot(k, kl)] = n;
	if (n == NULL)
		return SAKSI_ERR_NOT_FOUND;
	v->mv_data = n->n_v;
	v->mv_size = n->n_vl;
	return SAKSI_OK;
}

/* The first key >= prefix that starts with it (LMDB's MDB_SET_RANGE, then a check). */
saksi_err
rmem_first(struct rmem *m, const uint8_t *pfx, size_t pl, uint8_t *kout, size_t *kl)
{
	const struct rheap *h;
	const struct rnode *best;

	*kl = 0;
	/* Only the time-ordered indexes are searched, by a rule's or join's prefix. */
	if (pl != HEAP_PFX || (!ordered(pfx) && !index_letter(pfx)))
		return SAKSI_ERR_INVAL;
	if ((h = heap_find(m, pfx)) == NULL || h->p_n == 0)
		return SAKSI_ERR_NOT_FOUND;
	best = h->p_a[0].h_n;
	if (index_entry(best)) {
		/* The index key, made from its record's key and the entry's time. */
		memcpy(kout, pfx, HEAP_PFX);
		saksi_put_u64(kout + HEAP_PFX, h->p_a[0].h_t);
		memcpy(kout + HEAP_PFX + 8, best->n_k + HEAP_PFX, best->n_kl - HEAP_PFX);
		*kl = HEAP_PFX + 8 + (best->n_kl - HEAP_PFX);
		return SAKSI_OK;
	}
	memcpy(kout, best->n_k, best->n_kl);
	*kl = best->n_kl;
	return SAKSI_OK;
}

/* ---- transactions ---- */

saksi_err
rmem_cmeta_get(MDB_txn *txn, MDB_dbi dbi, uint64_t *gen, uint64_t *next)
{
	uint8_t k = 'C';
	const uint8_t *p;
	MDB_val v;
	saksi_err e;

	*gen = *next = 0;
	e = db_get(txn, dbi, &k, 1, &v);
	if (e == SAKSI_ERR_NOT_FOUND)
		return SAKSI_OK;
	if (e != SAKSI_OK)
		return e;
	p = v.mv_data;
	if (v.mv_size < 1)
		return SAKSI_ERR_CORRUPT;
	if (p[0] != 1)
		return SAKSI_ERR_VERSION;
	if (v.mv_size != C_LEN)
		return SAKSI_ERR_CORRUPT;
	*gen = saksi_get_u64(p + 1);
	*next = saksi_get_u64(p + 9);
	return SAKSI_OK;
}

saksi_err
rmem_cmeta_put(MDB_txn *txn, MDB_dbi dbi, uint64_t gen, uint64_t next)
{
	uint8_t k = 'C', b[C_LEN];

	b[0] = 1;
	saksi_put_u64(b + 1, gen);
	saksi_put_u64(b + 9, next);
	return db_put(txn, dbi, &k, 1, b, sizeof(b));
}

static void
committed(struct rmem *m)
{
	undo_clear(m);
	m->m_base = m->m_gen;
	if (m->m_fly_gen != 0 && m->m_fly_gen <= m->m_gen) {
		m->m_nfly = 0;
		m->m_fly_gen = 0;
	}
}

/* Puts the keys of a snapshot whose transaction was lost back on the list. */
static saksi_err
fly_back(struct rmem *m)
{
	size_t i;
	saksi_err e;

	for (i = 0; i < m->m_nfly; i++)
		if ((e = key_list_add(&m->m_touch, &m->m_ntouch, &m->m_captouch,
		    &m->m_fly[i])) != SAKSI_OK)
			return e;
	m->m_nfly = 0;
	m->m_fly_gen = 0;
	m->m_info.ms_since += m->m_fly_since;
	return SAKSI_OK;
}

/* Undoes every change of a generation after g, newest first. */
static saksi_err
rollback(struct rmem *m, uint64_t g)
{
	saksi_err e;

	while (m->m_nundo > 0 && m->m_undo[m->m_nundo - 1].u_gen > g) {
		struct rundo *u = &m->m_undo[m->m_nundo - 1];
		struct rnode *n;
		uint8_t *oldv;
		size_t oldvl;
		int had;

		if (index_letter(u->u_key.k_b)) {
			/* Newest first: its record is as it was when the key changed. */
			e = index_set(m, u->u_key.k_b, u->u_had, &had);
			if (e != SAKSI_OK && e != SAKSI_ERR_NOT_FOUND)
				return e;
			m->m_nundo--;
			continue;
		}

		if ((e = key_list_reserve(&m->m_touch, m->m_ntouch, &m->m_captouch)) !=
		    SAKSI_OK)
			return e;
		e = set_raw(m, u->u_key.k_b, u->u_key.k_len, u->u_key.k_hash,
		    u->u_had ? u->u_v : NULL, u->u_vl, &oldv, &oldvl, &n);
		if (e == SAKSI_ERR_NOT_FOUND)
			e = SAKSI_OK;
		if (e != SAKSI_OK)
			return e;
		vfree(m, oldv, oldvl);
		vfree(m, u->u_v, u->u_vl);
		m->m_nundo--;
		/* Listed again: a snapshot writes what is here, whatever was written. */
		if (n != NULL)
			n->n_epoch = 0;
		touch(m, n, u->u_key.k_b, u->u_key.k_len, u->u_key.k_hash);
	}
	m->m_gen = g;
	m->m_info.ms_rollbacks++;
	if (m->m_fly_gen > g && (e = fly_back(m)) != SAKSI_OK)
		return e;
	return SAKSI_OK;
}

saksi_err
rmem_undo_to(struct rmem *m, uint64_t g)
{
	return rollback(m, g);
}

/*
 * Brings memory in line with txn: the changes of a transaction that was aborted are
 * undone, those of one that committed are kept for good. LMDB gives a new write
 * transaction the id of the last committed one plus one, so an aborted one's id comes
 * again; 'C', written with every change, tells how far the changes txn sees reach.
 */
saksi_err
rmem_sync(struct rmem *m, MDB_txn *txn, MDB_dbi dbi, uint64_t *cgen, uint64_t *cnext)
{
	size_t tid = mdb_txn_id(txn);
	uint64_t gen, next;
	saksi_err e;

	if ((e = rmem_cmeta_get(txn, dbi, &gen, &next)) != SAKSI_OK)
		return e;
	/* 'C' as read here, for an evaluation that would otherwise read it again. */
	if (cgen != NULL)
		*cgen = gen;
	if (cnext != NULL)
		*cnext = next;
	if (gen != m->m_gen) {
		if (gen > m->m_gen || gen < m->m_base)
			return SAKSI_ERR_CORRUPT;   /* state moved under us: not ours */
		if ((e = rollback(m, gen)) != SAKSI_OK)
			return e;
	}
	if (tid != m->m_txnid)
		committed(m);
	m->m_txnid = tid;
	return SAKSI_OK;
}

/* A new generation for the changes about to be made in the synced transaction. */
uint64_t
rmem_next_gen(struct rmem *m)
{
	return ++m->m_gen;
}

uint64_t
rmem_gen(const struct rmem *m)
{
	return m->m_gen;
}

/* ---- snapshot and load ---- */

static int
rkey_cmp(const void *a, const void *b)
{
	const struct rkey *x = a, *y = b;

	return kcmp(x->k_b, x->k_len, y->k_b, y->k_len);
}

/*
 * The delta records (RULES.md 4.4): 'Z' · snapshot (8) · sequence (4), in the order
 * written, each flag (1: 1 the key's value, 0 deleted) · key_len (1) · key · value; 'D'
 * says which snapshot is the last one complete and how many records there are. A
 * snapshot appends where the base's keys are spread over the whole B-tree, so that its
 * cost follows what changed, not the size of the state.
 */
struct dmeta {
	uint64_t d_last;          /* the last snapshot whose deltas are complete */
	uint64_t d_nrec;          /* 'Z' records */
	uint64_t d_fsnap;         /* a fold under way of the deltas up to it; 0: none */
	size_t d_cl;              /* and how far: every key <= d_cur of them is in the base */
	uint8_t d_cur[RMEM_KEY_MAX];
};

static saksi_err
dmeta_get(MDB_txn *txn, MDB_dbi dbi, struct dmeta *d)
{
	uint8_t k = 'D';
	const uint8_t *p;
	MDB_val v;
	saksi_err e;

	memset(d, 0, sizeof(*d));
	if ((e = db_get(txn, dbi, &k, 1, &v)) == SAKSI_ERR_NOT_FOUND)
		return SAKSI_OK;
	if (e != SAKSI_OK)
		return e;
	p = v.mv_data;
	if (v.mv_size < 1)
		return SAKSI_ERR_CORRUPT;
	if (p[0] != 1 && p[0] != 2)
		return SAKSI_ERR_VERSION;
	if (p[0] == 1 ? v.mv_size != D_LEN :
	    v.mv_size < D2_LEN || v.mv_size != D2_LEN + (size_t)p[D2_LEN - 1])
		return SAKSI_ERR_CORRUPT;
	d->d_last = saksi_get_u64(p + 1);
	d->d_nrec = saksi_get_u64(p + 9);
	if (p[0] == 1)
		return SAKSI_OK;
	d->d_fsnap = saksi_get_u64(p + 17);
	d->d_cl = p[D2_LEN - 1];
	/* A fold of no snapshot, or of one not complete, or with no cursor, is not one. */
	if (d->d_fsnap == 0 || d->d_fsnap > d->d_last || d->d_cl == 0 ||
	    d->d_cl > RMEM_KEY_MAX)
		return SAKSI_ERR_CORRUPT;
	memcpy(d->d_cur, p + D2_LEN, d->d_cl);
	return SAKSI_OK;
}

/* Version 0x01 while no fold is under way: main's build reads it. With a fold under
 * way, 0x02, which a build without fold cursors refuses (SAKSI_ERR_VERSION) rather than
 * apply deltas the base already holds over newer values. */
static saksi_err
dmeta_put(MDB_txn *txn, MDB_dbi dbi, const struct dmeta *d)
{
	uint8_t k = 'D', b[D2_LEN + RMEM_KEY_MAX];

	b[0] = d->d_fsnap != 0 ? 2 : 1;
	saksi_put_u64(b + 1, d->d_last);
	saksi_put_u64(b + 9, d->d_nrec);
	if (d->d_fsnap == 0)
		return db_put(txn, dbi, &k, 1, b, D_LEN);
	saksi_put_u64(b + 17, d->d_fsnap);
	b[D2_LEN - 1] = (uint8_t)d->d_cl;
	memcpy(b + D2_LEN, d->d_cur, d->d_cl);
	return db_put(txn, dbi, &k, 1, b, D2_LEN + d->d_cl);
}

/* Whether the record of snapshot snap for key k is in the base already: a fold under
 * way has written k, at its value as of a later snapshot, into the base. */
static int
delta_folded(const struct dmeta *d, uint64_t snap, const uint8_t *k, size_t kl)
{
	return d->d_fsnap != 0 && snap <= d->d_fsnap && kcmp(k, kl, d->d_cur, d->d_cl) <= 0;
}

/* A delta record's parts; anything else is SAKSI_ERR_CORRUPT. */
static saksi_err
delta_parse(const MDB_val *v, const uint8_t **k, size_t *kl, const uint8_t **val,
            size_t *vl, int *put)
{
	const uint8_t *p = v->mv_data;

	if (v->mv_size < 2 || p[0] > 1 || p[1] == 0 || p[1] > RMEM_KEY_MAX ||
	    v->mv_size < 2 + (size_t)p[1] || (p[0] == 0 && v->mv_size != 2 + (size_t)p[1]))
		return SAKSI_ERR_CORRUPT;
	*put = p[0];
	*kl = p[1];
	*k = p + 2;
	*val = p + 2 + p[1];
	*vl = v->mv_size - 2 - p[1];
	return SAKSI_OK;
}

/* A key's value as memory has it now into the base (or deleted from it). */
static saksi_err
base_write(struct rmem *m, MDB_txn *txn, MDB_dbi dbi, const struct rkey *k)
{
	const struct rnode *n = find_h(m, k->k_b, k->k_len, k->k_hash);
	saksi_err e;

	if (n != NULL)
		return db_put(txn, dbi, k->k_b, k->k_len, n->n_v, n->n_vl);
	if ((e = db_del(txn, dbi, k->k_b, k->k_len)) == SAKSI_ERR_NOT_FOUND)
		e = SAKSI_OK;
	return e;
}

/*
 * The snapshot as deltas: each listed key appended, as memory has it now, under this
 * snapshot's number (MDB_APPEND: 'Z' is the last letter of the database, so LMDB fills
 * pages at its end densely instead of copying a page of the B-tree per key). 'N' goes
 * into the base: readers of the resume range (daemon/rulestail.c) find it there.
 */
static saksi_err
delta_write(struct rmem *m, MDB_txn *txn, MDB_dbi dbi, uint64_t snap, uint64_t *nout)
{
	MDB_cursor *cur;
	uint8_t zk[Z_KEY_LEN];
	uint32_t seq = 0;
	size_t i;
	saksi_err e = SAKSI_OK;
	int rc;

	*nout = 0;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return mdb_err(rc);
	zk[0] = 'Z';
	saksi_put_u64(zk + 1, snap);
	for (i = 0; i < m->m_ntouch && e == SAKSI_OK; i++) {
		const struct rkey *k = &m->m_touch[i];
		const struct rnode *n;
		MDB_val kv = { sizeof(zk), zk }, vv;
		uint8_t *p;

		/* The keys are in the order they changed, their slots at random: ask for
		 * the slot of a key a few places on while this one is looked up. */
		if (i + RMEM_PREFETCH < m->m_ntouch && m->m_tabcap > 0)
			__builtin_prefetch(&m->m_tab[m->m_touch[i + RMEM_PREFETCH].k_hash &
			    (m->m_tabcap - 1)]);
		if (k->k_len == 1) {
			e = base_write(m, txn, dbi, k);
			continue;
		}
		if (seq == UINT32_MAX) {
			e = SAKSI_ERR_RANGE;
			break;
		}
		n = find_h(m, k->k_b, k->k_len, k->k_hash);
		saksi_put_u32(zk + 9, seq++);
		vv.mv_size = 2 + k->k_len + (n != NULL ? n->n_vl : 0);
		vv.mv_data = NULL;
		if ((rc = mdb_cursor_put(cur, &kv, &vv, MDB_APPEND | MDB_RESERVE)) != 0) {
			/* MDB_KEYEXIST: a 'Z' key at or past ours, which 'D' did not own. */
			e = rc == MDB_KEYEXIST ? SAKSI_ERR_CORRUPT : mdb_err(rc);
			break;
		}
		p = vv.mv_data;
		p[0] = n != NULL;
		p[1] = (uint8_t)k->k_len;
		memcpy(p + 2, k->k_b, k->k_len);
		if (n != NULL && n->n_vl > 0)
			memcpy(p + 2 + k->k_len, n->n_v, n->n_vl);
	}
	mdb_cursor_close(cur);
	*nout = seq;
	return e;
}

/* Every delta record deleted, and 'D' with them. */
static saksi_err
delta_drop(MDB_txn *txn, MDB_dbi dbi)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t z = 'Z', d = 'D';
	saksi_err e;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return mdb_err(rc);
	for (;;) {
		k.mv_size = 1;
		k.mv_data = &z;
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
			break;
		if (((const uint8_t *)k.mv_data)[0] != 'Z') {
			rc = MDB_NOTFOUND;
			break;
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return mdb_err(rc);
	if ((e = db_del(txn, dbi, &d, 1)) == SAKSI_ERR_NOT_FOUND)
		e = SAKSI_OK;
	return e;
}

/*
 * The fold: every key of the deltas and of this snapshot written into the base as
 * memory has it now, in key order and each once (LMDB then walks its pages in order
 * and copies each once), and the deltas deleted. Memory holds the state the snapshot
 * stands for, so a key is written at its latest value whatever delta held it.
 */
static saksi_err
fold_write(struct rmem *m, MDB_txn *txn, MDB_dbi dbi, uint64_t *nout)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t z = 'Z';
	size_t i, n = 0;
	saksi_err e = SAKSI_OK;
	int rc;

	*nout = 0;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return mdb_err(rc);
	k.mv_size = 1;
	k.mv_data = &z;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *dk, *dv;
		size_t dkl, dvl;
		struct rkey r;
		int put;

		if (((const uint8_t *)k.mv_data)[0] != 'Z')
			break;
		if (k.mv_size != Z_KEY_LEN ||
		    (e = delta_parse(&v, &dk, &dkl, &dv, &dvl, &put)) != SAKSI_OK) {
			e = SAKSI_ERR_CORRUPT;
			break;
		}
		r.k_len = dkl;
		memcpy(r.k_b, dk, dkl);
		r.k_hash = khash(m, dk, dkl);
		/* Listed with this snapshot's: put back on the list if it is lost. */
		if ((e = key_list_add(&m->m_touch, &m->m_ntouch, &m->m_captouch, &r)) !=
		    SAKSI_OK)
			break;
	}
	mdb_cursor_close(cur);
	if (e != SAKSI_OK)
		return e;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_err(rc);
	if (m->m_ntouch > 1)
		qsort(m->m_touch, m->m_ntouch, sizeof(*m->m_touch), rkey_cmp);
	for (i = 0; i < m->m_ntouch; i++) {
		const struct rkey *r = &m->m_touch[i];

		if (i + RMEM_PREFETCH < m->m_ntouch && m->m_tabcap > 0)
			__builtin_prefetch(&m->m_tab[m->m_touch[i + RMEM_PREFETCH].k_hash &
			    (m->m_tabcap - 1)]);
		if (i > 0 && rkey_cmp(r, r - 1) == 0)
			continue;
		if ((e = base_write(m, txn, dbi, r)) != SAKSI_OK)
			return e;
		n++;
	}
	*nout = n;
	return delta_drop(txn, dbi);
}

/*
 * The keys of the deltas of snapshots up to fsnap, in key order and each once, with
 * their hashes: what a fold under way writes into the base, a slice per snapshot.
 */
static saksi_err
fold_list(struct rmem *m, MDB_txn *txn, MDB_dbi dbi, uint64_t fsnap)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t z = 'Z';
	size_t i, n;
	saksi_err e = SAKSI_OK;
	int rc;

	m->m_nfold = 0;
	m->m_fold_snap = 0;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return mdb_err(rc);
	k.mv_size = 1;
	k.mv_data = &z;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *dk, *dv;
		size_t dkl, dvl;
		struct rkey r;
		int put;

		if (((const uint8_t *)k.mv_data)[0] != 'Z')
			break;
		if (k.mv_size != Z_KEY_LEN ||
		    (e = delta_parse(&v, &dk, &dkl, &dv, &dvl, &put)) != SAKSI_OK) {
			e = SAKSI_ERR_CORRUPT;
			break;
		}
		/* The records follow in snapshot order: the rest are later ones. */
		if (saksi_get_u64((const uint8_t *)k.mv_data + 1) > fsnap)
			break;
		r.k_len = dkl;
		memcpy(r.k_b, dk, dkl);
		r.k_hash = khash(m, dk, dkl);
		if ((e = key_list_add(&m->m_fold, &m->m_nfold, &m->m_capfold, &r)) != SAKSI_OK)
			break;
	}
	mdb_cursor_close(cur);
	if (e != SAKSI_OK)
		return e;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_err(rc);
	if (m->m_nfold > 1)
		qsort(m->m_fold, m->m_nfold, sizeof(*m->m_fold), rkey_cmp);
	for (i = n = 0; i < m->m_nfold; i++)
		if (n == 0 || rkey_cmp(&m->m_fold[i], &m->m_fold[n - 1]) != 0)
			m->m_fold[n++] = m->m_fold[i];
	m->m_nfold = n;
	m->m_fold_snap = fsnap;
	return SAKSI_OK;
}

/* The deltas of snapshots up to fsnap deleted; *n: how many. */
static saksi_err
delta_drop_upto(MDB_txn *txn, MDB_dbi dbi, uint64_t fsnap, uint64_t *n)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t z = 'Z';
	int rc;

	*n = 0;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return mdb_err(rc);
	for (;;) {
		k.mv_size = 1;
		k.mv_data = &z;
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
			break;
		if (((const uint8_t *)k.mv_data)[0] != 'Z' || k.mv_size != Z_KEY_LEN ||
		    saksi_get_u64((const uint8_t *)k.mv_data + 1) > fsnap) {
			rc = MDB_NOTFOUND;
			break;
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		(*n)++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? SAKSI_OK : mdb_err(rc);
}

/*
 * One step of a fold under way (RULES.md 4.4): the next slice of its keys, at most an
 * RULES_FOLD_STEPS-th of them, written into the base as memory has them now (a value
 * as of this snapshot, which is at least as new as any delta of the fold's), and the
 * cursor moved past them; with the last slice, the fold's deltas deleted. A commit
 * group pays a slice, not the whole fold: at a state of millions of keys that was one
 * commit group writing half of them.
 */
static saksi_err
fold_step(struct rmem *m, MDB_txn *txn, MDB_dbi dbi, struct dmeta *d)
{
	size_t lo, hi, mid, end, step;
	uint64_t dropped;
	saksi_err e;

	/* Made again if this memory did not make it (never, but cheap to be sure of). */
	if (m->m_fold_snap != d->d_fsnap && (e = fold_list(m, txn, dbi, d->d_fsnap)) !=
	    SAKSI_OK)
		return e;
	/* The first key past the cursor, as 'D' in this transaction has it: an aborted
	 * step is made again. */
	lo = 0;
	hi = m->m_nfold;
	while (d->d_cl > 0 && lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (kcmp(m->m_fold[mid].k_b, m->m_fold[mid].k_len, d->d_cur, d->d_cl) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	step = (m->m_nfold + RULES_FOLD_STEPS - 1) / RULES_FOLD_STEPS;
	end = m->m_nfold - lo < step ? m->m_nfold : lo + step;
	for (; lo < end; lo++) {
		const struct rkey *r = &m->m_fold[lo];

		if (lo + RMEM_PREFETCH < end && m->m_tabcap > 0)
			__builtin_prefetch(&m->m_tab[m->m_fold[lo + RMEM_PREFETCH].k_hash &
			    (m->m_tabcap - 1)]);
		if ((e = base_write(m, txn, dbi, r)) != SAKSI_OK)
			return e;
	}
	m->m_info.ms_fold_steps++;
	if (end < m->m_nfold) {
		d->d_cl = m->m_fold[end - 1].k_len;
		memcpy(d->d_cur, m->m_fold[end - 1].k_b, d->d_cl);
		return SAKSI_OK;
	}
	if ((e = delta_drop_upto(txn, dbi, d->d_fsnap, &dropped)) != SAKSI_OK)
		return e;
	if (dropped > d->d_nrec)
		return SAKSI_ERR_CORRUPT;
	d->d_nrec -= dropped;
	d->d_fsnap = 0;
	d->d_cl = 0;
	m->m_nfold = 0;
	m->m_fold_snap = 0;
	m->m_nbase = m->m_n;
	return SAKSI_OK;
}

/*
 * Writes every key changed since the last committed snapshot, as it is now, into txn,
 * and 'C' with next_leaf, appended as deltas. With fold, every delta and the
 * snapshot's keys are folded into the base at once (a stop, a reload); once the deltas
 * pass half the keys held (and at least rmem_fold_min records), a fold of them starts
 * and goes on a slice per snapshot (fold_step). The state database always holds one
 * consistent picture, that of the last snapshot committed: its base with its deltas
 * applied in order, less those a fold under way has written already.
 */
saksi_err
rmem_flush(struct rmem *m, MDB_txn *txn, MDB_dbi dbi, uint64_t next_leaf, int fold)
{
	struct dmeta d;
	struct rkey *t;
	uint64_t room, nw;
	size_t cap;
	saksi_err e;

	/* A snapshot of this very transaction before: its keys are written again. */
	if (m->m_fly_gen != 0 && (e = fly_back(m)) != SAKSI_OK)
		return e;
	if ((e = dmeta_get(txn, dbi, &d)) != SAKSI_OK)
		return e;
	/*
	 * The fold's own cost: it writes the keys of the deltas, each once in key order,
	 * so it copies each page of the base at most once; it starts only after deltas of
	 * half the keys the base held at the last fold (or attach), so that per record
	 * appended it costs at most two pages' worth over the keys a page holds, whatever
	 * the size of the state. Half the keys held now, counting the new ones the deltas
	 * alone hold, was passed at nearly every snapshot of a state growing from empty,
	 * and each fold rewrote most of the base's pages.
	 */
	room = m->m_nbase / 2;
	if (room < m->m_fold_min)
		room = m->m_fold_min;
	if (fold) {
		if ((e = fold_write(m, txn, dbi, &nw)) != SAKSI_OK)
			return e;
		m->m_info.ms_folds++;
		m->m_nfold = 0;
		m->m_fold_snap = 0;
		m->m_nbase = m->m_n;
	} else {
		if ((e = delta_write(m, txn, dbi, d.d_last + 1, &nw)) != SAKSI_OK)
			return e;
		d.d_last++;
		d.d_nrec += nw;
		if (d.d_fsnap == 0 && d.d_nrec > room) {
			/* Every delta so far, this snapshot's with them. */
			if ((e = fold_list(m, txn, dbi, d.d_last)) != SAKSI_OK)
				return e;
			d.d_fsnap = d.d_last;
			d.d_cl = 0;
			m->m_info.ms_folds++;
		}
		if (d.d_fsnap != 0 && (e = fold_step(m, txn, dbi, &d)) != SAKSI_OK)
			return e;
		if ((e = dmeta_put(txn, dbi, &d)) != SAKSI_OK)
			return e;
	}
	if ((e = rmem_cmeta_put(txn, dbi, rmem_next_gen(m), next_leaf)) != SAKSI_OK)
		return e;
	m->m_info.ms_snapshots++;
	m->m_info.ms_last_keys = nw;
	/* The list written waits for its transaction's fate (rmem_sync). */
	t = m->m_fly;
	cap = m->m_capfly;
	m->m_fly = m->m_touch;
	m->m_capfly = m->m_captouch;
	m->m_nfly = m->m_ntouch;
	m->m_touch = t;
	m->m_captouch = cap;
	m->m_ntouch = 0;
	m->m_fly_gen = m->m_gen;
	m->m_fly_since = m->m_info.ms_since;
	m->m_info.ms_since = 0;
	m->m_epoch++;
	return SAKSI_OK;
}

void
rmem_fold_min(struct rmem *m, size_t n)
{
	m->m_fold_min = n;
}

/*
 * At attach, before anything reads the base: the deltas applied to it in order and
 * deleted, in the attach's transaction, so that the engine in either mode, the purge
 * of stale rules and the readers all see the base as the last snapshot left it. A
 * record of a snapshot past the one 'D' calls complete, or that contradicts the
 * format, is SAKSI_ERR_CORRUPT.
 */
saksi_err
rmem_delta_fold(MDB_txn *txn, MDB_dbi dbi, uint64_t *folded)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t z = 'Z', *buf = NULL;
	struct dmeta d;
	uint64_t n = 0;
	size_t cap = 0;
	saksi_err e;
	int rc;

	if (folded != NULL)
		*folded = 0;
	if ((e = dmeta_get(txn, dbi, &d)) != SAKSI_OK)
		return e;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return mdb_err(rc);
	for (;;) {
		const uint8_t *dk, *dv;
		size_t dkl, dvl;
		uint64_t snap;
		int put;

		k.mv_size = 1;
		k.mv_data = &z;
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
			break;
		if (((const uint8_t *)k.mv_data)[0] != 'Z') {
			rc = MDB_NOTFOUND;
			break;
		}
		if (k.mv_size != Z_KEY_LEN || (snap = saksi_get_u64(
		    (const uint8_t *)k.mv_data + 1)) == 0 || snap > d.d_last ||
		    delta_parse(&v, &dk, &dkl, &dv, &dvl, &put) != SAKSI_OK) {
			e = SAKSI_ERR_CORRUPT;
			break;
		}
		/* Written into the base by a fold under way, at a newer value. */
		if (delta_folded(&d, snap, dk, dkl)) {
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			continue;
		}
		/* A copy: the record goes before its key is written. */
		if (v.mv_size > cap) {
			uint8_t *nb = realloc(buf, v.mv_size);

			if (nb == NULL) {
				e = SAKSI_ERR_NOMEM;
				break;
			}
			buf = nb;
			cap = v.mv_size;
		}
		memcpy(buf, v.mv_data, v.mv_size);
		dk = buf + 2;
		dv = buf + 2 + dkl;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		if (put)
			e = db_put(txn, dbi, dk, dkl, dv, dvl);
		else if ((e = db_del(txn, dbi, dk, dkl)) == SAKSI_ERR_NOT_FOUND)
			e = SAKSI_OK;
		if (e != SAKSI_OK)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	if (buf != NULL) {
		/* Group texts and join records hold blind tokens. */
		sodium_memzero(buf, cap);
		free(buf);
	}
	if (e != SAKSI_OK)
		return e;
	if (rc != MDB_NOTFOUND)
		return mdb_err(rc);
	if (folded != NULL)
		*folded = n;
	return delta_drop(txn, dbi);
}

/*
 * For a reader, which writes nothing: fn called with each delta record, in the order
 * rmem_delta_fold would apply it (a key's last record is its value). The same checks
 * as the fold's; fn's error stops the walk and is returned.
 */
saksi_err
rmem_delta_each(MDB_txn *txn, MDB_dbi dbi, rmem_delta_fn fn, void *arg)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t z = 'Z';
	struct dmeta d;
	saksi_err e = SAKSI_OK;
	int rc;

	if ((e = dmeta_get(txn, dbi, &d)) != SAKSI_OK)
		return e;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return mdb_err(rc);
	k.mv_size = 1;
	k.mv_data = &z;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *dk, *dv;
		size_t dkl, dvl;
		uint64_t snap;
		int put;

		if (((const uint8_t *)k.mv_data)[0] != 'Z')
			break;
		if (k.mv_size != Z_KEY_LEN || (snap = saksi_get_u64(
		    (const uint8_t *)k.mv_data + 1)) == 0 || snap > d.d_last ||
		    delta_parse(&v, &dk, &dkl, &dv, &dvl, &put) != SAKSI_OK) {
			e = SAKSI_ERR_CORRUPT;
			break;
		}
		if (delta_folded(&d, snap, dk, dkl))
			continue;
		if ((e = fn(arg, dk, dkl, put ? dv : NULL, dvl)) != SAKSI_OK)
			break;
	}
	mdb_cursor_close(cur);
	if (e != SAKSI_OK)
		return e;
	return rc == 0 || rc == MDB_NOTFOUND ? SAKSI_OK : mdb_err(rc);
}

/* A key as read from the state database at attach: no undo, nothing to write back. */
saksi_err
rmem_load(struct rmem *m, const uint8_t *k, size_t kl, const void *v, size_t vl)
{
	struct rnode *n;
	uint8_t *oldv;
	size_t oldvl;
	saksi_err e;

	if (kl == 0 || kl > RMEM_KEY_MAX)
		return SAKSI_ERR_CORRUPT;
	if (index_letter(k)) {
		int had;

		/* Made at attach from the record loaded just before. */
		if (kl != INDEX_KEY_LEN || vl != 0)
			return SAKSI_ERR_CORRUPT;
		return index_set(m, k, 1, &had);
	}
	if ((e = set_raw(m, k, kl, khash(m, k, kl), v != NULL ? v : "", vl, &oldv, &oldvl,
	    &n)) != SAKSI_OK)
		return e;
	vfree(m, oldv, oldvl);
	return SAKSI_OK;
}

/* After the load, in the attach's transaction: memory is that of txn. */
void
rmem_loaded(struct rmem *m, MDB_txn *txn, uint64_t gen)
{
	m->m_gen = m->m_base = gen;
	m->m_txnid = mdb_txn_id(txn);
	m->m_nbase = m->m_n;
}

size_t
rmem_count(const struct rmem *m)
{
	return m->m_n + m->m_nindex;
}

saksi_rules_mem_stats *
rmem_info(struct rmem *m)
{
	return &m->m_info;
}

size_t
rmem_pending(const struct rmem *m)
{
	return m->m_ntouch;
}
