/*
 * rules_eval.c: the rule engine (RULES.md 3-5): sliding windows over producer time, kept
 * in LMDB in the caller's transaction so that they commit or vanish with the ledger append
 * that fed them. It must never see a personal value in clear, and must depend on nothing
 * but the events and their order (no clock, no hash-table order): a replay of the ledger
 * raises the same alerts with the same ids.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "blind.h"
#include "bytes.h"
#include "rules_impl.h"

/* Key prefixes of the one state database (RULES.md 4.1). */
#define K_META 'M'
#define K_REG 'R'
#define K_STAT 'S'
#define K_GROUP 'G'
#define K_EXP 'X'
#define K_PEND 'P'
#define K_JOIN 'J'
#define K_JEXP 'K'
#define K_ALERT 'A'
#define K_NMETA 'N'
#define K_CMETA 'C'
#define FOLD_MIN_MAX ((size_t)1 << 18)  /* delta records: rmem_fold_min's ceiling */
#define NEXT_UNSET UINT64_MAX      /* 'N': no event evaluated since the first snapshot */

#define STATE_VERSION 1
/* 'N' 0x02: the snapshot is the base with the deltas 'Z' applied (RULES.md 4.4); a build
 * that knows only 0x01 would read the base alone, so it refuses the state instead. */
#define NMETA_VERSION 2
#define HASH_LEN 32
#define META_LEN 34
#define STAT_LEN 40
#define SWEEP_MAX 64              /* expired groups dropped per rule per event */
#define JB_MAX 64                 /* fields a join may add to one event */
#define WF_MAX (SAKSI_RULES_EVENT_FIELDS + 1 + JB_MAX)
#define KEY_MAX 64
#define GM_MAX 8                  /* groups and value hashes one event remembers */

/* Queue ticket flags. */
#define TF_CHECKIN 0x01
#define TF_CALLED 0x02
#define TF_EVAL 0x04
#define TF_OFFEND 0x08
#define TF_EXEMPT 0x10

struct meta {
	int m_seen;
	uint64_t m_max_seen;
	uint64_t m_late;
	uint64_t m_last_alert;
	uint64_t m_published;
};

struct wfield {
	const char *wf_name;
	const char *wf_value;
	int wf_personal;
};

/* The event as the rules see it: the caller's fields, branch, and fields joins added. */
struct wev {
	uint64_t we_index;
	uint64_t we_time;
	const char *we_type;
	const char *we_branch;
	struct wfield we_f[WF_MAX];
	size_t we_n;
	char we_jname[JB_MAX][SAKSI_RULES_FIELD_MAX + 1];
	char we_jval[JB_MAX][SAKSI_RULES_VALUE_MAX + 1];
	size_t we_nj;
	/* Groups and value hashes made for this event, for the next rule that asks for the
	 * same: six of the 32 rules bench_ingest runs group by device_id alone, and each
	 * made the same BLAKE2b. Tokens: wiped with the rest. */
	struct {
		const struct rule *gm_rule;   /* whose group-by list (compared by name) */
		size_t gm_len;
		char gm_text[SAKSI_RULES_GROUP_MAX + 1];
		uint8_t gm_hash[HASH_LEN];
	} we_gm[GM_MAX];
	size_t we_ngm;
	struct {
		const char *vm_v;             /* a value of this event, by address */
		uint8_t vm_hash[HASH_LEN];
	} we_vm[GM_MAX];
	size_t we_nvm;
};

struct stcache {
	int sc_loaded;
	int sc_dirty;
	saksi_rule_stats sc_s;
};

struct ectx {
	const saksi_rules *c_r;
	MDB_txn *c_txn;
	MDB_dbi c_dbi;
	struct meta c_m;
	uint64_t c_w;             /* watermark: events before it are late */
	struct wev *c_ev;
	struct stcache *c_st;     /* rules, then joins */
	saksi_rules_result c_res;
	MDB_cursor *c_cur;        /* for cx_first: one cursor for the whole evaluation */
	struct rmem *c_mem;       /* memory mode: the state, else NULL (LMDB) */
	uint64_t c_db_last;       /* memory mode: the log's last alert id in LMDB */
	uint64_t c_db_published;
	uint64_t c_next_leaf;     /* memory mode: leaf after the last event evaluated */
};

struct sup {
	char s_actor[SAKSI_RULES_VALUE_MAX + 1];
	uint8_t s_ahash[HASH_LEN];   /* H(actor), made by sup_find when first asked */
	int s_hashed;
	int s_alerted;
	uint64_t s_at;            /* window end of the last alert */
	uint64_t s_value;         /* value of the last alert */
	uint64_t s_count;         /* queue_order: offending calls */
};

struct ent {
	uint64_t e_time;          /* event; queue: check-in */
	uint64_t e_index;
	uint64_t e_time2;         /* queue: first call */
	uint64_t e_index2;
	uint8_t e_hash[HASH_LEN]; /* value, differ value, or actor */
	uint32_t e_seq;           /* queue: ticket */
	uint32_t e_num;           /* daily: quota */
	uint64_t e_val;           /* value_sum: the field's value, 1..RULES_SUM_VALUE_MAX */
	uint8_t e_flags;          /* temporal: selections; queue: TF_*; daily: 1 override */
	uint8_t e_has;            /* temporal: e_hash holds the differ value */
};

#define GROUP_ENT_IN 8

struct group {
	uint8_t g_hash[HASH_LEN];
	int g_exists;
	uint64_t g_keep;          /* as stored: where its X key is, at most group_keep() */
	char g_text[SAKSI_RULES_GROUP_MAX + 1];
	struct sup *g_sup;
	size_t g_nsup;
	size_t g_capsup;
	struct ent *g_e;
	size_t g_n;
	size_t g_cap;
	/* Where a group's first suppression record and entries go: most groups have one
	 * and few entries, and two mallocs and frees per group and event were a fifth of
	 * decoding one (perf, saksid under bench_ingest -f). Never copied by value. */
	struct sup g_sup_in[1];
	struct ent g_e_in[GROUP_ENT_IN];
};

/* ---- small things ---- */

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t
max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static int
is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* The first key starting with prefix, copied to kout (KEY_MAX); NOT_FOUND if none. A
 * fresh cursor each time: callers delete between calls. */
static saksi_err
db_first(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t plen, uint8_t *kout,
         size_t *klen)
{
	MDB_cursor *cur;
	MDB_val k = { plen, (void *)prefix }, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return mdb_err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && (k.mv_size < plen || k.mv_size > KEY_MAX ||
	    memcmp(k.mv_data, prefix, plen) != 0))
		rc = MDB_NOTFOUND;
	if (rc == 0) {
		memcpy(kout, k.mv_data, k.mv_size);
		*klen = k.mv_size;
	}
	mdb_cursor_close(cur);
	return mdb_err(rc);
}

/*
 * db_first through the evaluation's own cursor, opened once: every evaluation seeks the
 * expiry index of every rule, and a cursor opened and closed for each seek cost as much
 * as a tenth of the engine. LMDB keeps a write transaction's cursors valid across puts
 * and deletes, and MDB_SET_RANGE positions from the key alone.
 */
static saksi_err
cx_first(struct ectx *c, const uint8_t *prefix, size_t plen, uint8_t *kout, size_t *klen)
{
	MDB_val k = { plen, (void *)prefix }, v;
	int rc;

	*klen = 0;
	if (c->c_mem != NULL)
		return rmem_first(c->c_mem, prefix, plen, kout, klen);
	if (c->c_cur == NULL && (rc = mdb_cursor_open(c->c_txn, c->c_dbi, &c->c_cur)) != 0) {
		c->c_cur = NULL;
		return mdb_err(rc);
	}
	rc = mdb_cursor_get(c->c_cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && (k.mv_size < plen || k.mv_size > KEY_MAX ||
	    memcmp(k.mv_data, prefix, plen) != 0))
		rc = MDB_NOTFOUND;
	if (rc == 0) {
		memcpy(kout, k.mv_data, k.mv_size);
		*klen = k.mv_size;
	}
	return mdb_err(rc);
}

/*
 * The engine's state, wherever it lives: LMDB in the caller's transaction, or memory
 * (RULES.md 4.4), under the same keys and in the same key order, so that the two give
 * the same alerts.
 */
static saksi_err
st_get(struct ectx *c, const uint8_t *k, size_t kl, MDB_val *v)
{
	if (c->c_mem != NULL)
		return rmem_get(c->c_mem, k, kl, v);
	return db_get(c->c_txn, c->c_dbi, k, kl, v);
}

static saksi_err
st_put(struct ectx *c, const uint8_t *k, size_t kl, const void *v, size_t vl)
{
	if (c->c_mem != NULL)
		return rmem_put(c->c_mem, k, kl, v, vl);
	return db_put(c->c_txn, c->c_dbi, k, kl, v, vl);
}

/* Room for a value of vl (> 0) bytes under k, filled by the caller through *dst before
 * the next change: a group record is encoded where it is kept, not in a buffer of its
 * own that is copied and freed (MDB_RESERVE in LMDB mode). */
static saksi_err
st_put_reserve(struct ectx *c, const uint8_t *k, size_t kl, size_t vl, uint8_t **dst)
{
	MDB_val key = { kl, (void *)k }, val = { vl, NULL };
	saksi_err e;

	if (c->c_mem != NULL)
		return rmem_put_reserve(c->c_mem, k, kl, vl, dst);
	*dst = NULL;
	if ((e = mdb_err(mdb_put(c->c_txn, c->c_dbi, &key, &val, MDB_RESERVE))) != SAKSI_OK)
		return e;
	*dst = val.mv_data;
	return SAKSI_OK;
}

static saksi_err
st_del(struct ectx *c, const uint8_t *k, size_t kl)
{
	if (c->c_mem != NULL)
		return rmem_del(c->c_mem, k, kl);
	return db_del(c->c_txn, c->c_dbi, k, kl);
}

static size_t
key_fp(uint8_t *k, char pfx, const uint8_t fp[RULES_FP_LEN])
{
	k[0] = (uint8_t)pfx;
	memcpy(k + 1, fp, RULES_FP_LEN);
	return 1 + RULES_FP_LEN;
}

static void
hash_domain(uint8_t out[HASH_LEN], const char *domain, const void *a, size_t al)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)domain, strlen(domain));
	crypto_generichash_update(&st, a, al);
	crypto_generichash_final(&st, out, HASH_LEN);
}

static void
hash_value(uint8_t out[HASH_LEN], const char *v)
{
	hash_domain(out, "saksi/rules/value/v1\n", v, strlen(v));
}

/* ---- meta and stats ---- */

static saksi_err
meta_load(MDB_txn *txn, MDB_dbi dbi, struct meta *m)
{
	uint8_t k = K_META;
	const uint8_t *p;
	MDB_val v;
	saksi_err e;

	memset(m, 0, sizeof(*m));
	if ((e = db_get(txn, dbi, &k, 1, &v)) != SAKSI_OK)
		return e;
	p = v.mv_data;
	if (v.mv_size < 1)
		return SAKSI_ERR_CORRUPT;
	if (p[0] != STATE_VERSION)
		return SAKSI_ERR_VERSION;
	if (v.mv_size != META_LEN || p[1] > 1)
		return SAKSI_ERR_CORRUPT;
	m->m_seen = p[1];
	m->m_max_seen = saksi_get_u64(p + 2);
	m->m_late = saksi_get_u64(p + 10);
	m->m_last_alert = saksi_get_u64(p + 18);
	m->m_published = saksi_get_u64(p + 26);
	if (m->m_published > m->m_last_alert)
		return SAKSI_ERR_CORRUPT;
	return SAKSI_OK;
}

static saksi_err
meta_save(MDB_txn *txn, MDB_dbi dbi, const struct meta *m)
{
	uint8_t k = K_META, b[META_LEN];

	b[0] = STATE_VERSION;
	b[1] = (uint8_t)(m->m_seen != 0);
	saksi_put_u64(b + 2, m->m_max_seen);
	saksi_put_u64(b + 10, m->m_late);
	saksi_put_u64(b + 18, m->m_last_alert);
	saksi_put_u64(b + 26, m->m_published);
	return db_put(txn, dbi, &k, 1, b, sizeof(b));
}

/*
 * Memory mode: the engine's meta lives with the windows, as 'N' (RULES.md 4.4): version ·
 * seen · max producer time · late count · last alert id · next leaf (8 each but seen), so
 * that a snapshot holds it and a lost transaction's change of it is undone. The log's
 * own 'M' stays in LMDB, written per event: its alerts are durable with their leaf.
 */
static saksi_err
nmeta_decode(const MDB_val *v, struct meta *m, uint64_t *next)
{
	const uint8_t *p = v->mv_data;

	memset(m, 0, sizeof(*m));
	if (v->mv_size < 1)
		return SAKSI_ERR_CORRUPT;
	if (p[0] != STATE_VERSION && p[0] != NMETA_VERSION)
		return SAKSI_ERR_VERSION;
	if (v->mv_size != META_LEN || p[1] > 1)
		return SAKSI_ERR_CORRUPT;
	m->m_seen = p[1];
	m->m_max_seen = saksi_get_u64(p + 2);
	m->m_late = saksi_get_u64(p + 10);
	m->m_last_alert = saksi_get_u64(p + 18);
	*next = saksi_get_u64(p + 26);
	return SAKSI_OK;
}

static void
nmeta_encode(uint8_t b[META_LEN], const struct meta *m, uint64_t next)
{
	b[0] = NMETA_VERSION;
	b[1] = (uint8_t)(m->m_seen != 0);
	saksi_put_u64(b + 2, m->m_max_seen);
	saksi_put_u64(b + 10, m->m_late);
	saksi_put_u64(b + 18, m->m_last_alert);
	saksi_put_u64(b + 26, next);
}

static saksi_err
nmeta_get(struct rmem *mem, struct meta *m, uint64_t *next)
{
	uint8_t k = K_NMETA;
	MDB_val v;
	saksi_err e;

	if ((e = rmem_get(mem, &k, 1, &v)) != SAKSI_OK)
		return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
	return nmeta_decode(&v, m, next);
}

#define RO_STAT_LEN (1 + STAT_LEN)  /* rs_ro_stats: state (0, 1 put, 2 deleted), value */

/* The slot (rules, then joins) whose fingerprint is fp; SIZE_MAX if none. */
static size_t
fp_slot(const saksi_rules *r, const uint8_t *fp)
{
	size_t i;

	for (i = 0; i < r->rs_nrules + r->rs_njoins; i++)
		if (memcmp(i < r->rs_nrules ? r->rs_rules[i]->r_fp :
		    r->rs_joins[i - r->rs_nrules]->j_fp, fp, RULES_FP_LEN) == 0)
			return i;
	return SIZE_MAX;
}

static saksi_err
stats_read(struct ectx *c, const uint8_t fp[RULES_FP_LEN], saksi_rule_stats *s)
{
	uint8_t k[KEY_MAX];
	const uint8_t *p;
	MDB_val v;
	size_t slot;
	saksi_err e;

	memset(s, 0, sizeof(*s));
	/* A reader (saksi_rules_attach_readonly) sees the counters as the deltas left
	 * them, where the deltas hold them. */
	if (c->c_mem == NULL && c->c_r->rs_ro_stats != NULL &&
	    (slot = fp_slot(c->c_r, fp)) != SIZE_MAX &&
	    c->c_r->rs_ro_stats[slot * RO_STAT_LEN] != 0) {
		if (c->c_r->rs_ro_stats[slot * RO_STAT_LEN] == 2)
			return SAKSI_OK;
		v.mv_data = c->c_r->rs_ro_stats + slot * RO_STAT_LEN + 1;
		v.mv_size = STAT_LEN;
		e = SAKSI_OK;
	} else
		e = st_get(c, k, key_fp(k, K_STAT, fp), &v);
	if (e == SAKSI_ERR_NOT_FOUND)
		return SAKSI_OK;
	if (e != SAKSI_OK)
		return e;
	if (v.mv_size != STAT_LEN)
		return SAKSI_ERR_CORRUPT;
	p = v.mv_data;
	s->rs_matched = saksi_get_u64(p);
	s->rs_alerts = saksi_get_u64(p + 8);
	s->rs_groups = saksi_get_u64(p + 16);
	s->rs_groups_evicted = saksi_get_u64(p + 24);
	s->rs_values_evicted = saksi_get_u64(p + 32);
	return SAKSI_OK;
}

static const uint8_t *
slot_fp(const struct ectx *c, size_t slot)
{
	if (slot < c->c_r->rs_nrules)
		return c->c_r->rs_rules[slot]->r_fp;
	return c->c_r->rs_joins[slot - c->c_r->rs_nrules]->j_fp;
}

static saksi_err
stats_of(struct ectx *c, size_t slot, saksi_rule_stats **s)
{
	struct stcache *sc = &c->c_st[slot];
	saksi_err e;

	if (!sc->sc_loaded) {
		if ((e = stats_read(c, slot_fp(c, slot), &sc->sc_s)) != SAKSI_OK)
			return e;
		sc->sc_loaded = 1;
	}
	sc->sc_dirty = 1;
	*s = &sc->sc_s;
	return SAKSI_OK;
}

static saksi_err
stats_flush(struct ectx *c)
{
	size_t i, n = c->c_r->rs_nrules + c->c_r->rs_njoins;
	uint8_t k[KEY_MAX], b[STAT_LEN];
	saksi_err e;

	for (i = 0; i < n; i++) {
		const saksi_rule_stats *s = &c->c_st[i].sc_s;

		if (!c->c_st[i].sc_dirty)
			continue;
		saksi_put_u64(b, s->rs_matched);
		saksi_put_u64(b + 8, s->rs_alerts);
		saksi_put_u64(b + 16, s->rs_groups);
		saksi_put_u64(b + 24, s->rs_groups_evicted);
		saksi_put_u64(b + 32, s->rs_values_evicted);
		if ((e = st_put(c, k, key_fp(k, K_STAT, slot_fp(c, i)), b,
		    sizeof(b))) != SAKSI_OK)
			return e;
	}
	return SAKSI_OK;
}

/* ---- alerts ---- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define ALERT_REC_MAX (16 + SAKSI_RULES_ID_MAX + 6 + SAKSI_RULES_GROUP_MAX + 64 + \
	8 * SAKSI_ALERT_EVIDENCE_MAX)

static size_t
alert_encode(const saksi_alert *a, uint8_t k[9], uint8_t *b)
{
	size_t rl = strlen(a->al_rule), gl = strlen(a->al_group), o = 0, i;

	k[0] = K_ALERT;
	saksi_put_u64(k + 1, a->al_id);
	b[o++] = 1;
	b[o++] = (uint8_t)a->al_kind;
	b[o++] = (uint8_t)a->al_severity;
	b[o++] = (uint8_t)rl;
	memcpy(b + o, a->al_rule, rl);
	o += rl;
	saksi_put_u16(b + o, (uint16_t)gl);
	o += 2;
	memcpy(b + o, a->al_group, gl);
	o += gl;
	saksi_put_u64(b + o, a->al_first_ms);
	saksi_put_u64(b + o + 8, a->al_last_ms);
	saksi_put_u64(b + o + 16, a->al_value);
	saksi_put_u64(b + o + 24, a->al_threshold);
	saksi_put_u64(b + o + 32, a->al_extra);
	saksi_put_u64(b + o + 40, a->al_trigger);
	saksi_put_u32(b + o + 48, a->al_total);
	o += 52;
	b[o++] = (uint8_t)a->al_nevidence;
	for (i = 0; i < a->al_nevidence; i++, o += 8)
		saksi_put_u64(b + o, a->al_evidence[i]);
	return o;
}

static saksi_err
alert_encode_put(MDB_txn *txn, MDB_dbi dbi, const saksi_alert *a)
{
	uint8_t k[9], b[ALERT_REC_MAX];
	size_t o = alert_encode(a, k, b);

	return db_put(txn, dbi, k, sizeof(k), b, o);
}

static saksi_err
alert_decode(const uint8_t *p, size_t n, uint64_t id, saksi_alert *a)
{
	size_t o = 0, rl, gl, i;

	memset(a, 0, sizeof(*a));
	a->al_id = id;
	if (n < 4 || p[0] != 1)
		return SAKSI_ERR_CORRUPT;
	a->al_kind = p[1];
	a->al_severity = p[2];
	rl = p[3];
	o = 4;
	if (a->al_kind < SAKSI_ALERT_RULE || a->al_kind > SAKSI_ALERT_LATE ||
	    a->al_severity < SAKSI_SEV_LOW || a->al_severity > SAKSI_SEV_CRITICAL ||
	    rl >= sizeof(a->al_rule) || n < o + rl + 2)
		return SAKSI_ERR_CORRUPT;
	memcpy(a->al_rule, p + o, rl);
	o += rl;
	gl = saksi_get_u16(p + o);
	o += 2;
	if (gl > SAKSI_RULES_GROUP_MAX || n < o + gl + 53)
		return SAKSI_ERR_CORRUPT;
	memcpy(a->al_group, p + o, gl);
	o += gl;
	a->al_first_ms = saksi_get_u64(p + o);
	a->al_last_ms = saksi_get_u64(p + o + 8);
	a->al_value = saksi_get_u64(p + o + 16);
	a->al_threshold = saksi_get_u64(p + o + 24);
	a->al_extra = saksi_get_u64(p + o + 32);
	a->al_trigger = saksi_get_u64(p + o + 40);
	a->al_total = saksi_get_u32(p + o + 48);
	o += 52;
	a->al_nevidence = p[o++];
	if (a->al_nevidence > SAKSI_ALERT_EVIDENCE_MAX || n != o + 8 * a->al_nevidence)
		return SAKSI_ERR_CORRUPT;
	for (i = 0; i < a->al_nevidence; i++, o += 8)
		a->al_evidence[i] = saksi_get_u64(p + o);
	return SAKSI_OK;
}

/* Evidence: at most SAKSI_ALERT_EVIDENCE_MAX leaf indices, ascending, each once. */
static void
alert_evidence(saksi_alert *a, const uint64_t *idx, size_t n)
{
	size_t i, m = 0;

	if (n > SAKSI_ALERT_EVIDENCE_MAX)
		n = SAKSI_ALERT_EVIDENCE_MAX;
	if (n > 0)
		memcpy(a->al_evidence, idx, n * sizeof(*idx));
	qsort(a->al_evidence, n, sizeof(*idx), cmp_u64);
	for (i = 0; i < n; i++)
		if (m == 0 || a->al_evidence[m - 1] != a->al_evidence[i])
			a->al_evidence[m++] = a->al_evidence[i];
	a->al_nevidence = (uint32_t)m;
}

static saksi_err
alert_raise(struct ectx *c, saksi_alert *a)
{
	saksi_err e;

	a->al_id = ++c->c_m.m_last_alert;
	a->al_trigger = c->c_ev->we_index;
	if (c->c_mem != NULL && a->al_id <= c->c_db_last) {
		uint8_t k[9], b[ALERT_REC_MAX];
		size_t n = alert_encode(a, k, b);
		MDB_val v;

		/*
		 * The tail after a restart raises again what it raised before the crash: the
		 * same alert, byte for byte, or the state is not what raised the log, and
		 * going on would number new alerts wrongly. Found: not written twice.
		 */
		if ((e = db_get(c->c_txn, c->c_dbi, k, sizeof(k), &v)) != SAKSI_OK)
			return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
		if (v.mv_size != n || memcmp(v.mv_data, b, n) != 0)
			return SAKSI_ERR_CORRUPT;
		c->c_res.rr_refound++;
		rmem_info(c->c_mem)->ms_refound++;
		return SAKSI_OK;
	}
	/* An event of the tail raising an alert the log lacks: not the state that ran. */
	if (c->c_mem != NULL && c->c_ev->we_index < rmem_info(c->c_mem)->ms_resume_to)
		return SAKSI_ERR_CORRUPT;
	if ((e = alert_encode_put(c->c_txn, c->c_dbi, a)) != SAKSI_OK)
		return e;
	if (c->c_res.rr_nalerts++ == 0)
		c->c_res.rr_first_alert = a->al_id;
	return SAKSI_OK;
}

static void
set_str(char *dst, size_t dsz, const char *a, const char *b)
{
	snprintf(dst, dsz, "%s%s", a, b != NULL ? b : "");
}

/* src into dst (dsz > 0), cut to fit: a new group's text and actor are copied for
 * every group an event makes, where snprintf's format machinery was most of the cost
 * of setting them up (perf, saksid under bench_ingest -f). */
static void
str_copy(char *dst, size_t dsz, const char *src)
{
	size_t l = strlen(src);

	if (l >= dsz)
		l = dsz - 1;
	memcpy(dst, src, l);
	dst[l] = '\0';
}

/*
 * A cap forced something out: count it; alert on the 1st, 2nd, 4th, 8th, ... eviction
 * of that rule, so that an attacker flooding a cap is seen at once and cannot bury the
 * alert log under cap alerts.
 */
static saksi_err
cap_evicted(struct ectx *c, size_t slot, int groups, const char *group, uint64_t cap,
            const uint64_t *idx, size_t nidx, uint64_t first, uint64_t last)
{
	saksi_rule_stats *s;
	saksi_alert a;
	uint64_t total;
	saksi_err e;

	if ((e = stats_of(c, slot, &s)) != SAKSI_OK)
		return e;
	if (groups)
		s->rs_groups_evicted++;
	else
		s->rs_values_evicted++;
	c->c_res.rr_evicted++;
	total = s->rs_groups_evicted + s->rs_values_evicted;
	if (!is_pow2(total))
		return SAKSI_OK;
	memset(&a, 0, sizeof(a));
	a.al_kind = SAKSI_ALERT_CAP;
	a.al_severity = SAKSI_SEV_HIGH;
	if (slot < c->c_r->rs_nrules)
		set_str(a.al_rule, sizeof(a.al_rule), c->c_r->rs_rules[slot]->r_id, NULL);
	else
		set_str(a.al_rule, sizeof(a.al_rule), "join:",
		    c->c_r->rs_joins[slot - c->c_r->rs_nrules]->j_name);
	set_str(a.al_group, sizeof(a.al_group), group, NULL);
	a.al_value = total;
	a.al_threshold = cap;
	a.al_first_ms = first;
	a.al_last_ms = last;
	a.al_total = (uint32_t)(nidx > UINT32_MAX ? UINT32_MAX : nidx);
	alert_evidence(&a, idx, nidx);
	return alert_raise(c, &a);
}

/* ---- the event ---- */

/* The first byte first: the rules ask for fields a dozen times an event, and a strcmp
 * per field passed was most of what finding one cost (perf, saksid's committer). */
static const char *
ev_get(const struct wev *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->we_n; i++)
		if (w->we_f[i].wf_name[0] == name[0] && strcmp(w->we_f[i].wf_name, name) == 0)
			return w->we_f[i].wf_value;
	return NULL;
}

static int
valid_name(const char *s, size_t max)
{
	size_t i;

	if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_'))
			return 0;
	return i <= max;
}

static int
valid_text(const char *s, size_t max)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || i >= max)
			return 0;
	return i >= 1;
}

/* The event's checks (saksi_rules_event_check); nothing is built. blinded: the personal
 * flags and tokens taken as given (saksi_rules_event_check_blinded). */
static saksi_err
ev_check_as(const saksi_rule_event *ev, int blinded)
{
	size_t i, j;

	if (ev->re_type == NULL || strlen(ev->re_type) > 64 || ev->re_type[0] == '\0')
		return SAKSI_ERR_INVAL;
	for (i = 0; ev->re_type[i] != '\0'; i++) {
		char ch = ev->re_type[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		    ch == '.'))
			return SAKSI_ERR_INVAL;
	}
	if (!valid_text(ev->re_branch, 64) || ev->re_nfields > SAKSI_RULES_EVENT_FIELDS ||
	    (ev->re_nfields > 0 && ev->re_fields == NULL))
		return SAKSI_ERR_INVAL;
	for (i = 0; i < ev->re_nfields; i++) {
		const saksi_rule_field *f = &ev->re_fields[i];
		int personal;

		if (!valid_name(f->rf_name, SAKSI_RULES_FIELD_MAX) ||
		    !valid_text(f->rf_value, SAKSI_RULES_VALUE_MAX))
			return SAKSI_ERR_INVAL;
		/* The one place a clear personal value could slip in: refuse it. */
		if (!blinded && ((personal = saksi_blind_field_personal(f->rf_name)) !=
		    (f->rf_personal != 0) || (personal && !saksi_blind_is_token(f->rf_value))))
			return SAKSI_ERR_INVAL;
		for (j = 0; j < i; j++)
			if (strcmp(ev->re_fields[j].rf_name, f->rf_name) == 0)
				return SAKSI_ERR_INVAL;
		if (strcmp(f->rf_name, "branch") == 0 && strcmp(f->rf_value, ev->re_branch) != 0)
			return SAKSI_ERR_INVAL;
	}
	return SAKSI_OK;
}

static saksi_err
ev_check(const saksi_rule_event *ev)
{
	return ev_check_as(ev, 0);
}

/* The working event of a checked event. */
static void
ev_fill(const saksi_rule_event *ev, struct wev *w)
{
	size_t i;
	int has_branch = 0;

	w->we_index = ev->re_index;
	w->we_time = ev->re_time_ms;
	w->we_type = ev->re_type;
	w->we_branch = ev->re_branch;
	for (i = 0; i < ev->re_nfields; i++) {
		const saksi_rule_field *f = &ev->re_fields[i];

		if (f->rf_name[0] == 'b' && strcmp(f->rf_name, "branch") == 0)
			has_branch = 1;
		w->we_f[w->we_n].wf_name = f->rf_name;
		w->we_f[w->we_n].wf_value = f->rf_value;
		/* The check made it equal to the field's kind. */
		w->we_f[w->we_n++].wf_personal = f->rf_personal != 0;
	}
	if (!has_branch) {
		w->we_f[w->we_n].wf_name = "branch";
		w->we_f[w->we_n].wf_value = ev->re_branch;
		w->we_f[w->we_n++].wf_personal = 0;
	}
}

saksi_err
saksi_rules_event_check(const saksi_rule_event *ev)
{
	return ev == NULL ? SAKSI_ERR_INVAL : ev_check(ev);
}

saksi_err
saksi_rules_event_check_blinded(const saksi_rule_event *ev)
{
	return ev == NULL ? SAKSI_ERR_INVAL : ev_check_as(ev, 1);
}

/* Unsigned decimal of at most 19 digits; the schemas have no negative numbers. */
static int
parse_num(const char *s, uint64_t *v)
{
	uint64_t n = 0;
	size_t i;

	if (s == NULL || s[0] == '\0')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 19)
			return -1;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	*v = n;
	return 0;
}

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int
dig(const char *s, size_t n, unsigned *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 0;
}

/* RFC 3339 date-time as the schemas allow it (T, Z or +-HH:MM, 1-9 fraction digits)
 * to ms since the epoch; -1 for anything else or a time before 1970. */
static int
parse_rfc3339(const char *s, uint64_t *ms)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, se, oh = 0, om = 0, frac = 0, scale = 1000;
	size_t i = 19;
	int64_t t;
	int sign = 0;

	if (strlen(s) < 20 || dig(s, 4, &y) || s[4] != '-' || dig(s + 5, 2, &mo) ||
	    s[7] != '-' || dig(s + 8, 2, &d) || s[10] != 'T' || dig(s + 11, 2, &h) ||
	    s[13] != ':' || dig(s + 14, 2, &mi) || s[16] != ':' || dig(s + 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59 ||
	    (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return -1;
	if (s[i] == '.') {
		size_t nd = 0;

		for (i++; s[i] >= '0' && s[i] <= '9'; i++, nd++) {
			if (nd < 3) {
				scale /= 10;
				frac += (unsigned)(s[i] - '0') * scale;
			}
		}
		if (nd < 1 || nd > 9)
			return -1;
	}
	if (strcmp(s + i, "Z") == 0)
		;
	else if ((s[i] == '+' || s[i] == '-') && strlen(s + i) == 6 &&
	    !dig(s + i + 1, 2, &oh) && s[i + 3] == ':' && !dig(s + i + 4, 2, &om) &&
	    oh <= 23 && om <= 59)
		sign = s[i] == '+' ? 1 : -1;
	else
		return -1;
	t = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + mi * 60 + se;
	t -= sign * ((int64_t)oh * 3600 + om * 60);
	if (t < 0)
		return -1;
	*ms = (uint64_t)t * 1000 + frac;
	return 0;
}

static int
cond_holds(const struct wev *w, const struct cond *c)
{
	const char *v = ev_get(w, c->c_field), *o;
	uint64_t a, b;
	size_t i;

	switch (c->c_op) {
	case OP_PRESENT:
		return v != NULL;
	case OP_ABSENT:
		return v == NULL;
	case OP_IS:
	case OP_NOT:
		for (i = 0; v != NULL && i < c->c_nvals; i++)
			if (strcmp(v, c->c_vals[i]) == 0)
				return c->c_op == OP_IS;
		return c->c_op == OP_NOT;
	case OP_SAME:
	case OP_DIFFERS:
		o = ev_get(w, c->c_other);
		if (v == NULL || o == NULL)
			return 0;
		return (strcmp(v, o) == 0) == (c->c_op == OP_SAME);
	case OP_GT:
	case OP_GE:
	case OP_LT:
	case OP_LE:
		if (parse_num(v, &a) != 0)
			return 0;
		if (c->c_other != NULL) {
			if (parse_num(ev_get(w, c->c_other), &b) != 0)
				return 0;
		} else
			b = c->c_num;
		return c->c_op == OP_GT ? a > b : c->c_op == OP_GE ? a >= b :
		    c->c_op == OP_LT ? a < b : a <= b;
	case OP_WITHIN:
		if (v == NULL || parse_rfc3339(v, &a) != 0)
			return 0;
		return a <= w->we_time && w->we_time - a <= c->c_num;
	default:
		return 0;
	}
}

/* Whether s names the type: what can be known of a selector before any field. */
static int
sel_type(const struct sel *s, const char *type)
{
	size_t i;

	for (i = 0; s != NULL && i < s->s_ntypes; i++)
		if (strcmp(s->s_types[i], type) == 0)
			return 1;
	return 0;
}

/*
 * Whether the rule may take an event of this type. A window rule (event_count,
 * value_count, temporal) that selects none is neither swept nor evaluated for it: its
 * windows, and so its alerts, cannot change (3.8). queue_order and daily_cap keep their
 * per-event work (pending judgements).
 */
static int
rule_swept_lazily(const struct rule *ru)
{
	return ru->r_type != RT_QUEUE_ORDER && ru->r_type != RT_DAILY_CAP;
}

static int
rule_takes(const struct rule *ru, const char *type)
{
	size_t i;

	if (!rule_swept_lazily(ru))
		return 1;
	for (i = 0; i < ru->r_nevents; i++)
		if (sel_type(ru->r_events[i], type))
			return 1;
	return 0;
}

static int
sel_match(const struct wev *w, const struct sel *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < s->s_ntypes; i++)
		if (strcmp(s->s_types[i], w->we_type) == 0)
			break;
	if (i == s->s_ntypes)
		return 0;
	for (i = 0; i < s->s_nconds; i++)
		if (!cond_holds(w, &s->s_conds[i]))
			return 0;
	return 1;
}

/*
 * The group of w in rule ru: "f=v,f=v" (with day as its last member for daily_cap, the
 * value taken from dayfield) and its hash over an unambiguous encoding. 0 if a field is
 * missing: the event is then not in the rule.
 */
static int
group_of(struct wev *w, const struct rule *ru, const char *dayfield, char *text,
         uint8_t hash[HASH_LEN])
{
	crypto_generichash_state st;
	const char *names[RULES_MAX_GROUPBY + 1], *vals[RULES_MAX_GROUPBY + 1];
	size_t n = 0, i, o = 0, m;

	/* The same group-by list as a rule before it: the same fields of the same event. */
	for (m = 0; dayfield == NULL && m < w->we_ngm; m++) {
		const struct rule *o2 = w->we_gm[m].gm_rule;

		if (o2->r_ngroupby != ru->r_ngroupby)
			continue;
		for (i = 0; i < ru->r_ngroupby; i++)
			if (strcmp(o2->r_groupby[i], ru->r_groupby[i]) != 0)
				break;
		if (i < ru->r_ngroupby)
			continue;
		memcpy(text, w->we_gm[m].gm_text, w->we_gm[m].gm_len + 1);
		memcpy(hash, w->we_gm[m].gm_hash, HASH_LEN);
		return 1;
	}
	for (i = 0; i < ru->r_ngroupby; i++, n++) {
		names[n] = ru->r_groupby[i];
		if ((vals[n] = ev_get(w, names[n])) == NULL)
			return 0;
	}
	if (dayfield != NULL) {
		names[n] = ru->r_day;
		if ((vals[n++] = ev_get(w, dayfield)) == NULL)
			return 0;
	}
	crypto_generichash_init(&st, NULL, 0, HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)"saksi/rules/group/v1\n", 21);
	/*
	 * "f=v,f=v" by hand: this runs for every rule an event enters, and snprintf was a
	 * tenth of the engine. It fits: at most 9 members of a 32-byte name and a 128-byte
	 * value, 1458 bytes, under SAKSI_RULES_GROUP_MAX.
	 */
	for (i = 0; i < n; i++) {
		size_t nl = strlen(names[i]), vl = strlen(vals[i]);

		crypto_generichash_update(&st, (const uint8_t *)names[i], nl + 1);
		crypto_generichash_update(&st, (const uint8_t *)vals[i], vl + 1);
		if (o + (i > 0) + nl + 1 + vl > SAKSI_RULES_GROUP_MAX)
			return 0;
		if (i > 0)
			text[o++] = ',';
		memcpy(text + o, names[i], nl);
		o += nl;
		text[o++] = '=';
		memcpy(text + o, vals[i], vl);
		o += vl;
	}
	text[o] = '\0';
	if (n == 0)
		strcpy(text, "*");
	crypto_generichash_final(&st, hash, HASH_LEN);
	if (dayfield == NULL && w->we_ngm < GM_MAX) {
		m = w->we_ngm++;
		w->we_gm[m].gm_rule = ru;
		w->we_gm[m].gm_len = strlen(text);
		memcpy(w->we_gm[m].gm_text, text, w->we_gm[m].gm_len + 1);
		memcpy(w->we_gm[m].gm_hash, hash, HASH_LEN);
	}
	return 1;
}

/* hash_value of v, a value of w, made once per event. */
static void
ev_hash_value(struct wev *w, const char *v, uint8_t out[HASH_LEN])
{
	size_t m;

	for (m = 0; m < w->we_nvm; m++)
		if (w->we_vm[m].vm_v == v) {
			memcpy(out, w->we_vm[m].vm_hash, HASH_LEN);
			return;
		}
	hash_value(out, v);
	if (w->we_nvm < GM_MAX) {
		w->we_vm[w->we_nvm].vm_v = v;
		memcpy(w->we_vm[w->we_nvm++].vm_hash, out, HASH_LEN);
	}
}

/* ---- groups: encoding (RULES.md 4.3) ---- */

static size_t
ent_size(int type)
{
	switch (type) {
	case RT_EVENT_COUNT:
		return 16;
	case RT_VALUE_COUNT:
		return 16 + HASH_LEN;
	case RT_VALUE_SUM:
		return 24;
	case RT_TEMPORAL:
	case RT_TEMPORAL_ORDERED:
		return 18 + HASH_LEN;
	case RT_QUEUE_ORDER:
		return 37 + HASH_LEN;
	default:
		return 21;
	}
}

/* Everything but the inline arrays, which are written before they are read. */
static void
group_zero(struct group *g)
{
	memset(g, 0, offsetof(struct group, g_sup_in));
}

static void
group_free(struct group *g)
{
	if (g->g_sup != g->g_sup_in)
		free(g->g_sup);
	if (g->g_e != g->g_e_in)
		free(g->g_e);
	group_zero(g);
}

static saksi_err
group_reserve(struct group *g, size_t n)
{
	struct ent *ne;
	size_t cap;

	if (n <= g->g_cap)
		return SAKSI_OK;
	if (g->g_e == NULL && n <= GROUP_ENT_IN) {
		g->g_e = g->g_e_in;
		g->g_cap = GROUP_ENT_IN;
		return SAKSI_OK;
	}
	cap = g->g_cap < 16 ? 16 : g->g_cap;
	while (cap < n)
		cap *= 2;
	if (g->g_e == g->g_e_in) {
		if ((ne = malloc(cap * sizeof(*ne))) == NULL)
			return SAKSI_ERR_NOMEM;
		memcpy(ne, g->g_e_in, g->g_n * sizeof(*ne));
	} else if ((ne = realloc(g->g_e, cap * sizeof(*ne))) == NULL)
		return SAKSI_ERR_NOMEM;
	g->g_e = ne;
	g->g_cap = cap;
	return SAKSI_OK;
}

static saksi_err
sup_add(struct group *g, const char *actor, struct sup **out)
{
	struct sup *ns = g->g_sup;

	if (g->g_sup == NULL) {
		ns = g->g_sup_in;
		g->g_capsup = 1;
	} else if (g->g_nsup == g->g_capsup) {
		/* Doubling: a queue's actors, one realloc each, were quadratic. */
		size_t cap = g->g_capsup * 2;

		if (g->g_sup == g->g_sup_in) {
			if ((ns = malloc(cap * sizeof(*ns))) != NULL)
				memcpy(ns, g->g_sup_in, sizeof(g->g_sup_in));
		} else
			ns = realloc(g->g_sup, cap * sizeof(*ns));
		if (ns == NULL)
			return SAKSI_ERR_NOMEM;
		g->g_capsup = cap;
	}
	g->g_sup = ns;
	memset(&ns[g->g_nsup], 0, sizeof(*ns));
	str_copy(ns[g->g_nsup].s_actor, sizeof(ns->s_actor), actor);
	*out = &ns[g->g_nsup++];
	return SAKSI_OK;
}

static saksi_err
group_decode(const struct rule *ru, const uint8_t *p, size_t n, struct group *g)
{
	size_t o, i, es = ent_size(ru->r_type), tl, ns, ne;
	saksi_err e;

	if (n < 14 || p[0] != 1 || p[1] != ru->r_type)
		return SAKSI_ERR_CORRUPT;
	g->g_keep = saksi_get_u64(p + 2);
	tl = saksi_get_u16(p + 10);
	o = 12;
	/* Text: no NUL, which would cut it short and make one record mean two things. */
	if (tl == 0 || tl > SAKSI_RULES_GROUP_MAX || n < o + tl + 2 ||
	    memchr(p + o, 0, tl) != NULL)
		return SAKSI_ERR_CORRUPT;
	memcpy(g->g_text, p + o, tl);
	g->g_text[tl] = '\0';
	o += tl;
	ns = saksi_get_u16(p + o);
	o += 2;
	/* One suppression record per group, or one per actor for queue_order. */
	if (ru->r_type != RT_QUEUE_ORDER && ns != 1)
		return SAKSI_ERR_CORRUPT;
	for (i = 0; i < ns; i++) {
		struct sup *s;
		size_t al;

		if (n < o + 1 || n < o + 1 + (al = p[o]) + 25 || al > SAKSI_RULES_VALUE_MAX ||
		    memchr(p + o + 1, 0, al) != NULL)
			return SAKSI_ERR_CORRUPT;
		if ((e = sup_add(g, "", &s)) != SAKSI_OK)
			return e;
		memcpy(s->s_actor, p + o + 1, al);
		s->s_actor[al] = '\0';
		o += 1 + al;
		if (p[o] > 1)
			return SAKSI_ERR_CORRUPT;
		s->s_alerted = p[o];
		s->s_at = saksi_get_u64(p + o + 1);
		s->s_value = saksi_get_u64(p + o + 9);
		s->s_count = saksi_get_u64(p + o + 17);
		o += 25;
	}
	if (n < o + 4)
		return SAKSI_ERR_CORRUPT;
	ne = saksi_get_u32(p + o);
	o += 4;
	if (ne > RULES_MAX_VALUES_LIMIT + 1 || n != o + ne * es)
		return SAKSI_ERR_CORRUPT;
	if ((e = group_reserve(g, ne + 1)) != SAKSI_OK)
		return e;
	for (i = 0; i < ne; i++, o += es) {
		struct ent *en = &g->g_e[i];
		const uint8_t *q = p + o;

		memset(en, 0, sizeof(*en));
		switch (ru->r_type) {
		case RT_EVENT_COUNT:
		case RT_VALUE_COUNT:
			en->e_time = saksi_get_u64(q);
			en->e_index = saksi_get_u64(q + 8);
			if (ru->r_type == RT_VALUE_COUNT)
				memcpy(en->e_hash, q + 16, HASH_LEN);
			break;
		case RT_VALUE_SUM:
			en->e_time = saksi_get_u64(q);
			en->e_index = saksi_get_u64(q + 8);
			en->e_val = saksi_get_u64(q + 16);
			if (en->e_val == 0 || en->e_val > RULES_SUM_VALUE_MAX)
				return SAKSI_ERR_CORRUPT;
			break;
		case RT_TEMPORAL:
		case RT_TEMPORAL_ORDERED:
			en->e_time = saksi_get_u64(q);
			en->e_index = saksi_get_u64(q + 8);
			en->e_flags = q[16];
			en->e_has = q[17];
			memcpy(en->e_hash, q + 18, HASH_LEN);
			if (en->e_has > 1 || en->e_flags == 0 || en->e_flags >> ru->r_nevents)
				return SAKSI_ERR_CORRUPT;
			break;
		case RT_QUEUE_ORDER:
			en->e_seq = saksi_get_u32(q);
			en->e_flags = q[4];
			en->e_time = saksi_get_u64(q + 5);
			en->e_index = saksi_get_u64(q + 13);
			en->e_time2 = saksi_get_u64(q + 21);
			en->e_index2 = saksi_get_u64(q + 29);
			memcpy(en->e_hash, q + 37, HASH_LEN);
			if (en->e_flags & ~0x1f)
				return SAKSI_ERR_CORRUPT;
			break;
		default:
			en->e_flags = q[0];
			en->e_time = saksi_get_u64(q + 1);
			en->e_index = saksi_get_u64(q + 9);
			en->e_num = saksi_get_u32(q + 17);
			if (en->e_flags > 1)
				return SAKSI_ERR_CORRUPT;
			break;
		}
	}
	g->g_n = ne;
	return SAKSI_OK;
}

/* The length of g's record (4.3). */
static size_t
group_size(const struct rule *ru, const struct group *g)
{
	size_t n = 12 + strlen(g->g_text) + 2 + 4 + g->g_n * ent_size(ru->r_type), i;

	for (i = 0; i < g->g_nsup; i++)
		n += 1 + strlen(g->g_sup[i].s_actor) + 25;
	return n;
}

/* g's record into p, exactly group_size() bytes. */
static void
group_write(const struct rule *ru, const struct group *g, uint8_t *p)
{
	size_t es = ent_size(ru->r_type), tl = strlen(g->g_text), o, i;

	p[0] = 1;
	p[1] = (uint8_t)ru->r_type;
	saksi_put_u64(p + 2, g->g_keep);
	saksi_put_u16(p + 10, (uint16_t)tl);
	memcpy(p + 12, g->g_text, tl);
	o = 12 + tl;
	saksi_put_u16(p + o, (uint16_t)g->g_nsup);
	o += 2;
	for (i = 0; i < g->g_nsup; i++) {
		const struct sup *s = &g->g_sup[i];
		size_t al = strlen(s->s_actor);

		p[o] = (uint8_t)al;
		memcpy(p + o + 1, s->s_actor, al);
		o += 1 + al;
		p[o] = (uint8_t)s->s_alerted;
		saksi_put_u64(p + o + 1, s->s_at);
		saksi_put_u64(p + o + 9, s->s_value);
		saksi_put_u64(p + o + 17, s->s_count);
		o += 25;
	}
	saksi_put_u32(p + o, (uint32_t)g->g_n);
	o += 4;
	for (i = 0; i < g->g_n; i++, o += es) {
		const struct ent *en = &g->g_e[i];
		uint8_t *q = p + o;

		switch (ru->r_type) {
		case RT_EVENT_COUNT:
		case RT_VALUE_COUNT:
			saksi_put_u64(q, en->e_time);
			saksi_put_u64(q + 8, en->e_index);
			if (ru->r_type == RT_VALUE_COUNT)
				memcpy(q + 16, en->e_hash, HASH_LEN);
			break;
		case RT_VALUE_SUM:
			saksi_put_u64(q, en->e_time);
			saksi_put_u64(q + 8, en->e_index);
			saksi_put_u64(q + 16, en->e_val);
			break;
		case RT_TEMPORAL:
		case RT_TEMPORAL_ORDERED:
			saksi_put_u64(q, en->e_time);
			saksi_put_u64(q + 8, en->e_index);
			q[16] = en->e_flags;
			q[17] = en->e_has;
			memcpy(q + 18, en->e_hash, HASH_LEN);
			break;
		case RT_QUEUE_ORDER:
			saksi_put_u32(q, en->e_seq);
			q[4] = en->e_flags;
			saksi_put_u64(q + 5, en->e_time);
			saksi_put_u64(q + 13, en->e_index);
			saksi_put_u64(q + 21, en->e_time2);
			saksi_put_u64(q + 29, en->e_index2);
			memcpy(q + 37, en->e_hash, HASH_LEN);
			break;
		default:
			q[0] = en->e_flags;
			saksi_put_u64(q + 1, en->e_time);
			saksi_put_u64(q + 9, en->e_index);
			saksi_put_u32(q + 17, en->e_num);
			break;
		}
	}
}

static saksi_err
group_encode(const struct rule *ru, const struct group *g, uint8_t **out, size_t *outlen)
{
	size_t n = group_size(ru, g);
	uint8_t *p;

	if ((p = malloc(n)) == NULL)
		return SAKSI_ERR_NOMEM;
	group_write(ru, g, p);
	*out = p;
	*outlen = n;
	return SAKSI_OK;
}

static size_t
gkey(uint8_t *k, const struct rule *ru, const uint8_t ghash[HASH_LEN])
{
	size_t o = key_fp(k, K_GROUP, ru->r_fp);

	memcpy(k + o, ghash, HASH_LEN);
	return o + HASH_LEN;
}

/* Writes g's record under its G key, encoded in place. */
static saksi_err
group_put(struct ectx *c, const struct rule *ru, const struct group *g)
{
	uint8_t k[KEY_MAX], *p;
	saksi_err e;

	if ((e = st_put_reserve(c, k, gkey(k, ru, g->g_hash), group_size(ru, g), &p)) !=
	    SAKSI_OK)
		return e;
	group_write(ru, g, p);
	return SAKSI_OK;
}

static size_t
xkey(uint8_t *k, const uint8_t fp[RULES_FP_LEN], uint64_t keep, const uint8_t h[HASH_LEN])
{
	size_t o = key_fp(k, K_EXP, fp);

	saksi_put_u64(k + o, keep);
	memcpy(k + o + 8, h, HASH_LEN);
	return o + 8 + HASH_LEN;
}

/* Loads the group into g (g_exists = 0 and empty if absent). */
static saksi_err
group_load(struct ectx *c, const struct rule *ru, const uint8_t ghash[HASH_LEN],
           struct group *g)
{
	uint8_t k[KEY_MAX];
	MDB_val v;
	saksi_err e;

	group_zero(g);
	memcpy(g->g_hash, ghash, HASH_LEN);
	e = st_get(c, k, gkey(k, ru, ghash), &v);
	if (e == SAKSI_ERR_NOT_FOUND)
		return SAKSI_OK;
	if (e != SAKSI_OK)
		return e;
	g->g_exists = 1;
	if ((e = group_decode(ru, v.mv_data, v.mv_size, g)) != SAKSI_OK)
		group_free(g);
	return e;
}

/* When the group can go: its last useful entry, or the end of its suppression. */
static uint64_t
group_keep(const struct rule *ru, const struct group *g)
{
	uint64_t keep = 0, t;
	size_t i;

	for (i = 0; i < g->g_n; i++) {
		t = g->g_e[i].e_time;
		if (ru->r_type == RT_QUEUE_ORDER) {
			if (!(g->g_e[i].e_flags & TF_CHECKIN))
				t = 0;
			if (g->g_e[i].e_flags & TF_CALLED)
				t = max_u64(t, g->g_e[i].e_time2);
		}
		keep = max_u64(keep, sat_add(t, ru->r_timespan));
	}
	for (i = 0; i < g->g_nsup; i++)
		if (g->g_sup[i].s_alerted)
			keep = max_u64(keep, sat_add(g->g_sup[i].s_at, ru->r_suppress));
	return keep;
}

static saksi_err
group_delete(struct ectx *c, size_t slot, const struct rule *ru, const uint8_t ghash[HASH_LEN],
             uint64_t keep)
{
	uint8_t k[KEY_MAX];
	saksi_rule_stats *s;
	saksi_err e;

	/* The index key first: in memory it is an entry of its record (rules_mem.c). */
	if ((e = st_del(c, k, xkey(k, ru->r_fp, keep, ghash))) != SAKSI_OK ||
	    (e = st_del(c, k, gkey(k, ru, ghash))) != SAKSI_OK)
		return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
	if ((e = stats_of(c, slot, &s)) != SAKSI_OK)
		return e;
	if (s->rs_groups == 0)
		return SAKSI_ERR_CORRUPT;
	s->rs_groups--;
	return SAKSI_OK;
}

/* Writes g back (or deletes it when nothing in it can matter any more). */
static saksi_err
group_save(struct ectx *c, size_t slot, const struct rule *ru, struct group *g)
{
	uint8_t k[KEY_MAX];
	uint64_t keep = group_keep(ru, g);
	int move;
	saksi_err e;

	if (keep < c->c_w || (g->g_n == 0 && keep <= c->c_w)) {
		saksi_rule_stats *s;

		if (g->g_exists)
			return group_delete(c, slot, ru, g->g_hash, g->g_keep);
		/* Never stored, but group_open counted it. */
		if ((e = stats_of(c, slot, &s)) != SAKSI_OK)
			return e;
		if (s->rs_groups == 0)
			return SAKSI_ERR_CORRUPT;
		s->rs_groups--;
		return SAKSI_OK;
	}
	/*
	 * The X key stays where it is while the group only lasts longer (RULES.md 4.1):
	 * moving it with every event was the engine's costliest write (a delete and an
	 * insert in the time order, two more keys for the snapshot). A sweep or a cap that
	 * reaches a key before its group's time moves it then (xkey_fix). A key that would
	 * come after the group's time moves now, so that no key is ever late.
	 */
	move = !g->g_exists || keep < g->g_keep;
	if (g->g_exists && move &&
	    (e = st_del(c, k, xkey(k, ru->r_fp, g->g_keep, g->g_hash))) != SAKSI_OK)
		return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
	if (move)
		g->g_keep = keep;
	e = group_put(c, ru, g);
	if (e == SAKSI_OK && move)
		e = st_put(c, k, xkey(k, ru->r_fp, keep, g->g_hash), "", 0);
	g->g_exists = 1;
	return e;
}

/*
 * The group of the first X key of a rule, loaded; *stale set (and nothing else done)
 * when its key lies before the group's time, which is then keep. Its key is moved there
 * and the record's keep with it: a sweep and a cap see keys in the order of the groups'
 * own times, as if every key had moved with every event.
 */
static saksi_err
xkey_first(struct ectx *c, const struct rule *ru, struct group *g, int *stale, uint64_t *keep)
{
	uint8_t pfx[KEY_MAX], k[KEY_MAX];
	size_t pl = key_fp(pfx, K_EXP, ru->r_fp), kl;
	saksi_err e;

	*stale = 0;
	if ((e = cx_first(c, pfx, pl, k, &kl)) != SAKSI_OK)
		return e;
	if (kl != pl + 8 + HASH_LEN)
		return SAKSI_ERR_CORRUPT;
	if ((e = group_load(c, ru, k + pl + 8, g)) != SAKSI_OK)
		return e;
	if (!g->g_exists || g->g_keep != saksi_get_u64(k + pl)) {
		group_free(g);
		return SAKSI_ERR_CORRUPT;
	}
	*keep = group_keep(ru, g);
	if (*keep <= g->g_keep)
		return SAKSI_OK;
	*stale = 1;
	if ((e = st_del(c, k, kl)) != SAKSI_OK)
		goto out;
	g->g_keep = *keep;
	e = group_put(c, ru, g);
	if (e == SAKSI_OK)
		e = st_put(c, k, xkey(k, ru->r_fp, *keep, g->g_hash), "", 0);
out:
	group_free(g);
	return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
}

static void
ent_indices(const struct rule *ru, const struct group *g, uint64_t *idx, size_t *n)
{
	size_t i;

	*n = 0;
	for (i = 0; i < g->g_n && *n < SAKSI_ALERT_EVIDENCE_MAX; i++) {
		const struct ent *en = &g->g_e[i];

		if (ru->r_type != RT_QUEUE_ORDER || (en->e_flags & TF_CHECKIN))
			idx[(*n)++] = en->e_index;
		if (ru->r_type == RT_QUEUE_ORDER && (en->e_flags & TF_CALLED) &&
		    *n < SAKSI_ALERT_EVIDENCE_MAX)
			idx[(*n)++] = en->e_index2;
	}
}

/* Drops expired groups of a rule (keep < watermark), at most max of them. */
static saksi_err
sweep_rule(struct ectx *c, size_t slot, const struct rule *ru, size_t max)
{
	uint8_t pfx[KEY_MAX], k[KEY_MAX];
	size_t pl = key_fp(pfx, K_EXP, ru->r_fp), kl, i;
	uint64_t keep;
	struct group g;
	int stale;
	saksi_err e;

	/* Only drops count towards max: a key moved to its group's time is not a drop. */
	for (i = 0; i < max; ) {
		e = cx_first(c, pfx, pl, k, &kl);
		if (e == SAKSI_ERR_NOT_FOUND)
			return SAKSI_OK;
		if (e != SAKSI_OK)
			return e;
		if (kl != pl + 8 + HASH_LEN)
			return SAKSI_ERR_CORRUPT;
		if (saksi_get_u64(k + pl) >= c->c_w)
			return SAKSI_OK;
		if ((e = xkey_first(c, ru, &g, &stale, &keep)) != SAKSI_OK)
			return e;
		if (stale)
			continue;
		group_free(&g);
		if ((e = group_delete(c, slot, ru, k + pl + 8, saksi_get_u64(k + pl))) !=
		    SAKSI_OK)
			return e;
		i++;
	}
	return SAKSI_OK;
}

/* Room for one more group: expired ones go first (not an eviction); then the one that
 * would expire soonest, counted and alerted. */
static saksi_err
make_room(struct ectx *c, size_t slot, const struct rule *ru)
{
	size_t n;
	saksi_rule_stats *s;
	uint64_t idx[SAKSI_ALERT_EVIDENCE_MAX], keep;
	struct group g;
	int stale;
	saksi_err e;

	if ((e = stats_of(c, slot, &s)) != SAKSI_OK)
		return e;
	if (s->rs_groups < ru->r_max_groups)
		return SAKSI_OK;
	if ((e = sweep_rule(c, slot, ru, SIZE_MAX)) != SAKSI_OK)
		return e;
	while (c->c_st[slot].sc_s.rs_groups >= ru->r_max_groups) {
		if ((e = xkey_first(c, ru, &g, &stale, &keep)) != SAKSI_OK)
			return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
		if (stale)
			continue;
		ent_indices(ru, &g, idx, &n);
		e = group_delete(c, slot, ru, g.g_hash, g.g_keep);
		if (e == SAKSI_OK)
			e = cap_evicted(c, slot, 1, g.g_text, ru->r_max_groups, idx, n,
			    g.g_n > 0 ? g.g_e[0].e_time : 0,
			    g.g_n > 0 ? g.g_e[g.g_n - 1].e_time : 0);
		group_free(&g);
		if (e != SAKSI_OK)
			return e;
	}
	return SAKSI_OK;
}

/* Loads the group of ghash, creating it (text given) within the rule's group cap. */
static saksi_err
group_open(struct ectx *c, size_t slot, const struct rule *ru, const uint8_t ghash[HASH_LEN],
           const char *text, struct group *g)
{
	saksi_rule_stats *s;
	struct sup *sp;
	saksi_err e;

	if ((e = group_load(c, ru, ghash, g)) != SAKSI_OK)
		return e;
	/*
	 * A group past keeping that no sweep has dropped yet (sweeps run only for events the
	 * rule takes, 64 at a time) is dropped now, as the sweep would have: nothing in it
	 * could matter any more, and so the group the event opens does not depend on when the
	 * sweeps ran.
	 */
	if (g->g_exists && group_keep(ru, g) < c->c_w && rule_swept_lazily(ru)) {
		e = group_delete(c, slot, ru, g->g_hash, g->g_keep);
		group_free(g);
		if (e != SAKSI_OK)
			return e;
		memcpy(g->g_hash, ghash, HASH_LEN);
	}
	if (g->g_exists)
		return SAKSI_OK;
	if ((e = make_room(c, slot, ru)) != SAKSI_OK || (e = stats_of(c, slot, &s)) != SAKSI_OK)
		return e;
	s->rs_groups++;
	str_copy(g->g_text, sizeof(g->g_text), text);
	if (ru->r_type != RT_QUEUE_ORDER && (e = sup_add(g, "", &sp)) != SAKSI_OK)
		return e;
	return SAKSI_OK;
}

static int
ent_before(const struct ent *a, uint64_t time, uint64_t index)
{
	return a->e_time < time || (a->e_time == time && a->e_index < index);
}

/* Inserts en in (time, index) order; returns its position. */
static saksi_err
ent_insert(struct group *g, const struct ent *en, size_t *pos)
{
	size_t lo = 0, hi = g->g_n, mid;
	saksi_err e;

	if ((e = group_reserve(g, g->g_n + 1)) != SAKSI_OK)
		return e;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ent_before(&g->g_e[mid], en->e_time, en->e_index))
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&g->g_e[lo + 1], &g->g_e[lo], (g->g_n - lo) * sizeof(*en));
	g->g_e[lo] = *en;
	g->g_n++;
	*pos = lo;
	return SAKSI_OK;
}

static void
ent_remove(struct group *g, size_t i)
{
	memmove(&g->g_e[i], &g->g_e[i + 1], (g->g_n - i - 1) * sizeof(*g->g_e));
	g->g_n--;
}

/* Entries no future event can share a window with: time + timespan < watermark. */
static void
prune_dead(struct ectx *c, const struct rule *ru, struct group *g)
{
	size_t i = 0, o = 0;

	for (i = 0; i < g->g_n; i++)
		if (sat_add(g->g_e[i].e_time, ru->r_timespan) >= c->c_w)
			g->g_e[o++] = g->g_e[i];
	g->g_n = o;
}

/* max_values: the oldest entry goes (after the evaluation that included it). */
static saksi_err
cap_values(struct ectx *c, size_t slot, const struct rule *ru, struct group *g)
{
	saksi_err e;

	while (g->g_n > ru->r_max_values) {
		struct ent old = g->g_e[0];
		uint64_t idx[2] = { old.e_index, old.e_index2 };

		ent_remove(g, 0);
		if ((e = cap_evicted(c, slot, 0, g->g_text, ru->r_max_values, idx,
		    (old.e_flags & TF_CALLED) && ru->r_type == RT_QUEUE_ORDER ? 2 : 1,
		    old.e_time, old.e_time)) != SAKSI_OK)
			return e;
	}
	return SAKSI_OK;
}

/*
 * Suppression (RULES.md 3.2): the first alert of a group starts a period of suppress ms
 * (producer time, from the end of the alert's window); within it the group alerts again
 * only once its value has grown by reraise since its last alert.
 */
static int
suppress_pass(const struct rule *ru, struct sup *s, uint64_t t_w, uint64_t m)
{
	if (!s->s_alerted || t_w >= sat_add(s->s_at, ru->r_suppress)) {
		s->s_at = t_w;
	} else if (ru->r_reraise > 0 && m >= sat_add(s->s_value, ru->r_reraise)) {
		s->s_at = max_u64(s->s_at, t_w);
	} else
		return 0;
	s->s_alerted = 1;
	s->s_value = m;
	return 1;
}

static int
cond_pass(const struct rule *ru, uint64_t m)
{
	return ru->r_cond_gt ? m > ru->r_cond_n : m >= ru->r_cond_n;
}

static saksi_err
rule_alert(struct ectx *c, size_t slot, const struct rule *ru, const char *group,
           uint64_t value, uint64_t threshold, uint64_t extra, uint64_t first, uint64_t last,
           uint64_t total, const uint64_t *idx, size_t nidx)
{
	saksi_rule_stats *s;
	saksi_alert a;
	saksi_err e;

	if ((e = stats_of(c, slot, &s)) != SAKSI_OK)
		return e;
	s->rs_alerts++;
	memset(&a, 0, sizeof(a));
	a.al_kind = SAKSI_ALERT_RULE;
	a.al_severity = ru->r_sev;
	set_str(a.al_rule, sizeof(a.al_rule), ru->r_id, NULL);
	set_str(a.al_group, sizeof(a.al_group), group, NULL);
	a.al_value = value;
	a.al_threshold = threshold;
	a.al_extra = extra;
	a.al_first_ms = first;
	a.al_last_ms = last;
	a.al_total = (uint32_t)(total > UINT32_MAX ? UINT32_MAX : total);
	alert_evidence(&a, idx, nidx);
	return alert_raise(c, &a);
}

/* ---- event_count, value_count and value_sum ---- */

struct vid {
	const uint8_t *v_hash;
	size_t v_pos;
};

#define BW_STACK 64               /* entries best_window sorts on the stack */

static int
cmp_vid(const void *a, const void *b)
{
	const struct vid *x = a, *y = b;
	int r = memcmp(x->v_hash, y->v_hash, HASH_LEN);

	if (r != 0)
		return r;
	return x->v_pos < y->v_pos ? -1 : x->v_pos > y->v_pos;
}

/*
 * The best window containing entry p: over every start s among the entry times in
 * [t - T, t], the window [s, s + T] (both ends included). Best = most events
 * (event_count), most distinct values (value_count) or the largest sum of the values
 * (value_sum); the earliest on a tie.
 */
static saksi_err
best_window(const struct rule *ru, const struct group *g, size_t p, size_t *blo, size_t *bhi,
            uint64_t *bm)
{
	uint64_t t = g->g_e[p].e_time, T = ru->r_timespan, sum = 0;
	size_t i, lo = 0, hi = 0, distinct = 0;
	uint32_t *id = NULL, *cnt = NULL, sid[BW_STACK], scnt[BW_STACK];
	struct vid sv[BW_STACK];
	int vc = ru->r_type == RT_VALUE_COUNT, vs = ru->r_type == RT_VALUE_SUM;
	int heap = g->g_n > BW_STACK;

	*bm = 0;
	if (vc) {
		struct vid *v = sv;
		uint32_t next = 0;

		/* Most groups hold a few values: the stack, not three mallocs per event
		 * (perf: malloc's bin walks were a tenth of bench_rules). */
		if (heap) {
			v = malloc(g->g_n * sizeof(*v));
			id = malloc(g->g_n * sizeof(*id));
			cnt = calloc(g->g_n, sizeof(*cnt));
		} else {
			id = sid;
			cnt = scnt;
			memset(scnt, 0, g->g_n * sizeof(*scnt));
		}
		if (v == NULL || id == NULL || cnt == NULL) {
			free(v);
			free(id);
			free(cnt);
			return SAKSI_ERR_NOMEM;
		}
		for (i = 0; i < g->g_n; i++) {
			v[i].v_hash = g->g_e[i].e_hash;
			v[i].v_pos = i;
		}
		qsort(v, g->g_n, sizeof(*v), cmp_vid);
		for (i = 0; i < g->g_n; i++) {
			if (i > 0 && memcmp(v[i].v_hash, v[i - 1].v_hash, HASH_LEN) != 0)
				next++;
			id[v[i].v_pos] = next;
		}
		if (heap)
			free(v);
	}
	for (i = 0; i <= p; i++) {
		uint64_t s = g->g_e[i].e_time, m;

		if (sat_add(s, T) < t || (i > 0 && g->g_e[i - 1].e_time == s))
			continue;
		/* Starts only move right, so both ends advance monotonically. */
		/* No overflow: at most 65537 entries of at most RULES_SUM_VALUE_MAX. */
		for (; lo < i; lo++) {
			if (vc && lo < hi && --cnt[id[lo]] == 0)
				distinct--;
			if (vs && lo < hi)
				sum -= g->g_e[lo].e_val;
		}
		if (hi < lo)
			hi = lo;
		for (; hi < g->g_n && g->g_e[hi].e_time <= sat_add(s, T); hi++) {
			if (vc && cnt[id[hi]]++ == 0)
				distinct++;
			sum += g->g_e[hi].e_val;
		}
		m = vc ? distinct : vs ? sum : hi - lo;
		if (m > *bm) {
			*bm = m;
			*blo = lo;
			*bhi = hi;
		}
	}
	if (heap) {
		free(id);
		free(cnt);
	}
	return SAKSI_OK;
}

static saksi_err
count_eval(struct ectx *c, size_t slot, const struct rule *ru, struct group *g, size_t p)
{
	uint64_t idx[SAKSI_ALERT_EVIDENCE_MAX], m;
	size_t lo = 0, hi = 0, i, j, n = 0;
	saksi_err e;

	if ((e = best_window(ru, g, p, &lo, &hi, &m)) != SAKSI_OK)
		return e;
	if (!cond_pass(ru, m) || !suppress_pass(ru, &g->g_sup[0], g->g_e[hi - 1].e_time, m))
		return SAKSI_OK;
	/* Evidence: every event, or for value_count one event per distinct value. */
	for (i = lo; i < hi && n < SAKSI_ALERT_EVIDENCE_MAX; i++) {
		if (ru->r_type == RT_VALUE_COUNT) {
			for (j = lo; j < i; j++)
				if (memcmp(g->g_e[j].e_hash, g->g_e[i].e_hash, HASH_LEN) == 0)
					break;
			if (j < i)
				continue;
		}
		idx[n++] = g->g_e[i].e_index;
	}
	return rule_alert(c, slot, ru, g->g_text, m, ru->r_cond_n, 0, g->g_e[lo].e_time,
	    g->g_e[hi - 1].e_time, hi - lo, idx, n);
}

/* ---- temporal ---- */

struct tsearch {
	const struct rule *ts_ru;
	const struct group *ts_g;
	size_t ts_k;
	size_t ts_fixed;          /* slot holding the new entry */
	size_t ts_pos[RULES_MAX_TEMPORAL];
	size_t ts_lo, ts_hi;      /* candidate range: times within T of the new entry */
};

static int
ts_ok(const struct tsearch *ts, size_t slot, size_t i)
{
	const struct ent *en = &ts->ts_g->g_e[i], *o;
	size_t s;

	for (s = 0; s < ts->ts_k; s++) {
		if (s >= slot && s != ts->ts_fixed)
			continue;         /* not assigned yet */
		if (s == slot)
			continue;
		if (ts->ts_pos[s] == i)
			return 0;
		o = &ts->ts_g->g_e[ts->ts_pos[s]];
		if (ts->ts_ru->r_type == RT_TEMPORAL_ORDERED &&
		    (s < slot ? ts->ts_pos[s] >= i : ts->ts_pos[s] <= i))
			return 0;
		if ((en->e_time > o->e_time ? en->e_time - o->e_time : o->e_time - en->e_time) >
		    ts->ts_ru->r_timespan)
			return 0;
		if (ts->ts_ru->r_differ != NULL &&
		    memcmp(en->e_hash, o->e_hash, HASH_LEN) == 0)
			return 0;
	}
	return 1;
}

/* Fills slots from slot on; every pair within T means the whole match spans <= T. */
static int
ts_fill(struct tsearch *ts, size_t slot)
{
	size_t i;

	if (slot == ts->ts_k)
		return 1;
	if (slot == ts->ts_fixed)
		return ts_fill(ts, slot + 1);
	for (i = ts->ts_lo; i < ts->ts_hi; i++) {
		if (!(ts->ts_g->g_e[i].e_flags & (1u << slot)) || !ts_ok(ts, slot, i))
			continue;
		ts->ts_pos[slot] = i;
		if (ts_fill(ts, slot + 1))
			return 1;
	}
	return 0;
}

static saksi_err
temporal_eval(struct ectx *c, size_t slot, const struct rule *ru, struct group *g, size_t p)
{
	struct tsearch ts;
	uint64_t t = g->g_e[p].e_time, T = ru->r_timespan, tmin, tmax, m = 0;
	uint64_t idx[RULES_MAX_TEMPORAL];
	size_t s, i;

	memset(&ts, 0, sizeof(ts));
	ts.ts_ru = ru;
	ts.ts_g = g;
	ts.ts_k = ru->r_nevents;
	for (ts.ts_lo = p; ts.ts_lo > 0 && sat_add(g->g_e[ts.ts_lo - 1].e_time, T) >= t;
	    ts.ts_lo--)
		;
	for (ts.ts_hi = p + 1; ts.ts_hi < g->g_n && g->g_e[ts.ts_hi].e_time <= sat_add(t, T);
	    ts.ts_hi++)
		;
	for (s = 0; s < ts.ts_k; s++) {
		if (!(g->g_e[p].e_flags & (1u << s)))
			continue;
		ts.ts_fixed = s;
		ts.ts_pos[s] = p;
		if (ts_fill(&ts, 0))
			break;
	}
	if (s == ts.ts_k)
		return SAKSI_OK;
	tmin = tmax = g->g_e[ts.ts_pos[0]].e_time;
	for (s = 0; s < ts.ts_k; s++) {
		tmin = g->g_e[ts.ts_pos[s]].e_time < tmin ? g->g_e[ts.ts_pos[s]].e_time : tmin;
		tmax = max_u64(tmax, g->g_e[ts.ts_pos[s]].e_time);
		idx[s] = g->g_e[ts.ts_pos[s]].e_index;
	}
	for (i = 0; i < g->g_n; i++)
		if (g->g_e[i].e_time <= tmax && sat_add(g->g_e[i].e_time, T) >= tmax)
			m++;
	if (!suppress_pass(ru, &g->g_sup[0], tmax, m))
		return SAKSI_OK;
	return rule_alert(c, slot, ru, g->g_text, m, ts.ts_k, 0, tmin, tmax, m, idx, ts.ts_k);
}

/* ---- pending (deferred) evaluations ---- */

static size_t
pkey(uint8_t *k, const struct rule *ru, uint64_t time, const uint8_t ghash[HASH_LEN],
     uint64_t tag)
{
	size_t o = key_fp(k, K_PEND, ru->r_fp);

	saksi_put_u64(k + o, time);
	memcpy(k + o + 8, ghash, HASH_LEN);
	saksi_put_u64(k + o + 8 + HASH_LEN, tag);
	return o + 16 + HASH_LEN;
}

/* ---- queue_order ---- */

static size_t
ticket_find(const struct group *g, uint32_t seq, int *found)
{
	size_t lo = 0, hi = g->g_n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (g->g_e[mid].e_seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < g->g_n && g->g_e[lo].e_seq == seq;
	return lo;
}

static struct sup *
sup_find(struct group *g, const uint8_t ahash[HASH_LEN])
{
	size_t i;

	/* Only queue_order looks actors up: hashing each when loaded cost every other
	 * rule two BLAKE2b per group and event (perf, saksid under bench_ingest -f). */
	for (i = 0; i < g->g_nsup; i++) {
		struct sup *s = &g->g_sup[i];

		if (!s->s_hashed) {
			hash_value(s->s_ahash, s->s_actor);
			s->s_hashed = 1;
		}
		if (memcmp(s->s_ahash, ahash, HASH_LEN) == 0)
			return s;
	}
	return NULL;
}

static int
called_after(const struct ent *u, const struct ent *c)
{
	return u->e_time2 > c->e_time2 || (u->e_time2 == c->e_time2 && u->e_index2 > c->e_index2);
}

/*
 * A call has become final (no event before it can still arrive): count the checked-in
 * tickets it went ahead of. Ticket u was waiting when c was called if u has a lower
 * sequence number, checked in at or before the call and no more than timespan before
 * it, and was not called before c.
 */
static saksi_err
queue_judge(struct ectx *c, size_t slot, const struct rule *ru, struct group *g, size_t ci)
{
	struct ent *ct = &g->g_e[ci];
	uint64_t idx[SAKSI_ALERT_EVIDENCE_MAX], first = ct->e_time2, skipped = 0;
	size_t i, n = 0;
	struct sup *s;
	char text[SAKSI_RULES_GROUP_MAX + 1];

	ct->e_flags |= TF_EVAL;
	if (ct->e_flags & TF_EXEMPT)
		return SAKSI_OK;
	idx[n++] = ct->e_index2;
	for (i = 0; i < ci; i++) {
		const struct ent *u = &g->g_e[i];

		if (!(u->e_flags & TF_CHECKIN) || u->e_time > ct->e_time2 ||
		    sat_add(u->e_time, ru->r_timespan) < ct->e_time2)
			continue;
		if ((u->e_flags & TF_CALLED) && !called_after(u, ct))
			continue;
		skipped++;
		first = u->e_time < first ? u->e_time : first;
		if (n < SAKSI_ALERT_EVIDENCE_MAX)
			idx[n++] = u->e_index;
	}
	if (skipped <= ru->r_places)
		return SAKSI_OK;
	ct->e_flags |= TF_OFFEND;
	if ((s = sup_find(g, ct->e_hash)) == NULL)
		return SAKSI_OK;          /* its actor was not kept (a counted eviction) */
	s->s_count++;
	if (!cond_pass(ru, s->s_count) || !suppress_pass(ru, s, ct->e_time2, s->s_count))
		return SAKSI_OK;
	/* Cannot be cut short: 8 group-by members and the actor fit in the buffer. */
	if ((size_t)snprintf(text, sizeof(text), "%s,%s=%s", g->g_text, ru->r_actor,
	    s->s_actor) >= sizeof(text))
		return SAKSI_ERR_CORRUPT;
	return rule_alert(c, slot, ru, text, s->s_count, ru->r_cond_n, skipped, first,
	    ct->e_time2, skipped + 1, idx, n);
}

/* Tickets no call can still be judged against, and no call of which is pending. */
static void
queue_prune(struct ectx *c, const struct rule *ru, struct group *g)
{
	size_t i, o = 0;

	for (i = 0; i < g->g_n; i++) {
		const struct ent *t = &g->g_e[i];
		uint64_t last = (t->e_flags & TF_CHECKIN) ? t->e_time : 0;

		if (t->e_flags & TF_CALLED)
			last = max_u64(last, t->e_time2);
		if (sat_add(last, ru->r_timespan) >= c->c_w)
			g->g_e[o++] = *t;
	}
	g->g_n = o;
}

static saksi_err
queue_event(struct ectx *c, size_t slot, const struct rule *ru, int is_checkin, int is_call)
{
	struct wev *w = c->c_ev;
	const char *seqs = ev_get(w, ru->r_seq), *actor = NULL, *ex;
	uint8_t ghash[HASH_LEN], ahash[HASH_LEN], k[KEY_MAX];
	char text[SAKSI_RULES_GROUP_MAX + 1];
	uint64_t seq;
	struct group g;
	saksi_rule_stats *s;
	size_t pos, i;
	int found;
	saksi_err e;

	if (parse_num(seqs, &seq) != 0 || seq == 0 || seq > UINT32_MAX)
		return SAKSI_OK;
	if (is_call && (actor = ev_get(w, ru->r_actor)) == NULL)
		is_call = 0;
	if ((!is_checkin && !is_call) || !group_of(w, ru, NULL, text, ghash))
		return SAKSI_OK;
	if ((e = stats_of(c, slot, &s)) != SAKSI_OK)
		return e;
	s->rs_matched++;
	if ((e = group_open(c, slot, ru, ghash, text, &g)) != SAKSI_OK)
		goto out;
	queue_prune(c, ru, &g);
	pos = ticket_find(&g, (uint32_t)seq, &found);
	if (!found) {
		if ((e = group_reserve(&g, g.g_n + 1)) != SAKSI_OK)
			goto out;
		memmove(&g.g_e[pos + 1], &g.g_e[pos], (g.g_n - pos) * sizeof(*g.g_e));
		memset(&g.g_e[pos], 0, sizeof(*g.g_e));
		g.g_e[pos].e_seq = (uint32_t)seq;
		g.g_n++;
	}
	if (is_checkin && (!(g.g_e[pos].e_flags & TF_CHECKIN) ||
	    ent_before(&(struct ent){ .e_time = w->we_time, .e_index = w->we_index },
	    g.g_e[pos].e_time, g.g_e[pos].e_index))) {
		g.g_e[pos].e_flags |= TF_CHECKIN;
		g.g_e[pos].e_time = w->we_time;
		g.g_e[pos].e_index = w->we_index;
	}
	if (is_call && (!(g.g_e[pos].e_flags & TF_CALLED) ||
	    w->we_time < g.g_e[pos].e_time2 ||
	    (w->we_time == g.g_e[pos].e_time2 && w->we_index < g.g_e[pos].e_index2))) {
		struct ent *t = &g.g_e[pos];

		hash_value(ahash, actor);
		/* By text: the actor is at hand, and hashing every actor of the queue to
		 * compare hashes cost queue_order two BLAKE2b per officer and call. */
		for (i = 0; i < g.g_nsup; i++)
			if (strcmp(g.g_sup[i].s_actor, actor) == 0)
				break;
		if (i == g.g_nsup) {
			struct sup *sp;

			if (g.g_nsup >= ru->r_max_values) {
				uint64_t one = w->we_index;

				/* No room to judge this actor: counted, alerted, call still
				 * marks the ticket as no longer waiting. */
				if ((e = cap_evicted(c, slot, 0, text, ru->r_max_values, &one, 1,
				    w->we_time, w->we_time)) != SAKSI_OK)
					goto out;
			} else if ((e = sup_add(&g, actor, &sp)) != SAKSI_OK)
				goto out;
		}
		t->e_flags |= TF_CALLED;
		t->e_flags &= (uint8_t)~(TF_EXEMPT | TF_EVAL | TF_OFFEND);
		t->e_time2 = w->we_time;
		t->e_index2 = w->we_index;
		memcpy(t->e_hash, ahash, HASH_LEN);
		if (ru->r_exempt_field != NULL && (ex = ev_get(w, ru->r_exempt_field)) != NULL)
			for (i = 0; i < ru->r_nexempt; i++)
				if (strcmp(ex, ru->r_exempt[i]) == 0)
					t->e_flags |= TF_EXEMPT;
		if ((e = st_put(c, k, pkey(k, ru, w->we_time, ghash, seq), "",
		    0)) != SAKSI_OK)
			goto out;
	}
	/* The ticket with the lowest number goes first when the cap is hit. */
	while (g.g_n > ru->r_max_values) {
		struct ent old = g.g_e[0];
		uint64_t idx[2] = { old.e_index, old.e_index2 };

		ent_remove(&g, 0);
		if ((e = cap_evicted(c, slot, 0, text, ru->r_max_values, idx,
		    (old.e_flags & TF_CALLED) ? 2 : 1, old.e_time, old.e_time)) != SAKSI_OK)
			goto out;
	}
	e = group_save(c, slot, ru, &g);
out:
	group_free(&g);
	return e;
}

/* ---- daily_cap ---- */

static uint64_t
quota_for(const struct rule *ru, const char *branch)
{
	size_t i;

	for (i = 0; i < ru->r_nquotas; i++)
		if (strcmp(ru->r_quotas[i].q_branch, branch) == 0)
			return ru->r_quotas[i].q_n;
	return ru->r_quota_default;
}

static saksi_err
daily_event(struct ectx *c, size_t slot, const struct rule *ru, int served, int override)
{
	struct wev *w = c->c_ev;
	uint8_t ghash[HASH_LEN], k[KEY_MAX];
	char text[SAKSI_RULES_GROUP_MAX + 1];
	saksi_rule_stats *s;
	struct group g;
	struct ent en;
	uint64_t q;
	size_t pos;
	saksi_err e;

	if (served) {
		if (!group_of(w, ru, ru->r_day, text, ghash))
			return SAKSI_OK;
	} else if (!override || parse_num(ev_get(w, ru->r_ovr_quota), &q) != 0 ||
	    q > UINT32_MAX || !group_of(w, ru, ru->r_ovr_day, text, ghash))
		return SAKSI_OK;
	if ((e = stats_of(c, slot, &s)) != SAKSI_OK)
		return e;
	s->rs_matched++;
	if ((e = group_open(c, slot, ru, ghash, text, &g)) != SAKSI_OK)
		goto out;
	memset(&en, 0, sizeof(en));
	en.e_time = w->we_time;
	en.e_index = w->we_index;
	if (served) {
		q = quota_for(ru, w->we_branch);
		en.e_num = (uint32_t)(q > UINT32_MAX ? UINT32_MAX : q);
	} else {
		en.e_flags = 1;
		en.e_num = (uint32_t)q;
	}
	if ((e = ent_insert(&g, &en, &pos)) != SAKSI_OK)
		goto out;
	if (served && (e = st_put(c, k, pkey(k, ru, w->we_time, ghash,
	    w->we_index), "", 0)) != SAKSI_OK)
		goto out;
	if ((e = cap_values(c, slot, ru, &g)) != SAKSI_OK)
		goto out;
	e = group_save(c, slot, ru, &g);
out:
	group_free(&g);
	return e;
}

/*
 * A served event has become final: count the day's served events up to it, against the
 * quota then in force (the last override before it, else the configured quota).
 */
static saksi_err
daily_judge(struct ectx *c, size_t slot, const struct rule *ru, struct group *g, size_t si)
{
	const struct ent *sv = &g->g_e[si];
	uint64_t count = 0, q = sv->e_num, idx[SAKSI_ALERT_EVIDENCE_MAX], ovr = 0;
	size_t i, n = 0;
	int has_ovr = 0;

	for (i = 0; i <= si; i++) {
		if (g->g_e[i].e_flags == 1) {
			q = g->g_e[i].e_num;
			ovr = g->g_e[i].e_index;
			has_ovr = 1;
			continue;
		}
		count++;
	}
	if (count <= q)
		return SAKSI_OK;
	if (!suppress_pass(ru, &g->g_sup[0], sv->e_time, count))
		return SAKSI_OK;
	/* Evidence: the served events beyond the quota, and the override in force. */
	if (has_ovr)
		idx[n++] = ovr;
	for (i = 0, count = 0; i <= si; i++) {
		if (g->g_e[i].e_flags == 1)
			continue;
		if (++count > q && n < SAKSI_ALERT_EVIDENCE_MAX)
			idx[n++] = g->g_e[i].e_index;
	}
	return rule_alert(c, slot, ru, g->g_text, count, q, 0, g->g_e[0].e_time, sv->e_time,
	    count, idx, n);
}

/* Runs the deferred checks of ru whose time is now before the watermark, in key order
 * (time, group, tag): the same order on every replay. */
static saksi_err
pending_run(struct ectx *c, size_t slot, const struct rule *ru)
{
	uint8_t pfx[KEY_MAX], k[KEY_MAX];
	size_t pl = key_fp(pfx, K_PEND, ru->r_fp), kl, i;
	saksi_err e;

	for (;;) {
		struct group g;
		uint64_t t, tag;
		int found;

		e = cx_first(c, pfx, pl, k, &kl);
		if (e == SAKSI_ERR_NOT_FOUND)
			return SAKSI_OK;
		if (e != SAKSI_OK)
			return e;
		if (kl != pl + 16 + HASH_LEN)
			return SAKSI_ERR_CORRUPT;
		t = saksi_get_u64(k + pl);
		if (t >= c->c_w)
			return SAKSI_OK;
		tag = saksi_get_u64(k + pl + 8 + HASH_LEN);
		if ((e = st_del(c, k, kl)) != SAKSI_OK)
			return e;
		if ((e = group_load(c, ru, k + pl + 8, &g)) != SAKSI_OK)
			return e;
		if (!g.g_exists) {        /* evicted: counted when it was */
			group_free(&g);
			continue;
		}
		if (ru->r_type == RT_QUEUE_ORDER) {
			i = ticket_find(&g, (uint32_t)tag, &found);
			if (found && (g.g_e[i].e_flags & TF_CALLED) &&
			    !(g.g_e[i].e_flags & TF_EVAL) && g.g_e[i].e_time2 == t)
				e = queue_judge(c, slot, ru, &g, i);
			else
				found = 0;
		} else {
			for (found = 0, i = 0; i < g.g_n; i++)
				if (g.g_e[i].e_flags == 0 && g.g_e[i].e_index == tag &&
				    g.g_e[i].e_time == t) {
					found = 1;
					break;
				}
			if (found)
				e = daily_judge(c, slot, ru, &g, i);
		}
		if (e == SAKSI_OK && found)
			e = group_save(c, slot, ru, &g);
		group_free(&g);
		if (e != SAKSI_OK)
			return e;
	}
}

/* ---- one rule, one event ---- */

static saksi_err
rule_event(struct ectx *c, size_t slot, const struct rule *ru)
{
	struct wev *w = c->c_ev;
	uint8_t ghash[HASH_LEN];
	char text[SAKSI_RULES_GROUP_MAX + 1];
	const char *v = NULL;
	saksi_rule_stats *s;
	struct group g;
	struct ent en;
	unsigned mask = 0;
	size_t i, pos;
	saksi_err e;

	if (ru->r_type == RT_QUEUE_ORDER)
		return queue_event(c, slot, ru, sel_match(w, ru->r_checkin),
		    sel_match(w, ru->r_call));
	if (ru->r_type == RT_DAILY_CAP)
		return daily_event(c, slot, ru, sel_match(w, ru->r_events[0]),
		    sel_match(w, ru->r_override));
	for (i = 0; i < ru->r_nevents; i++)
		if (sel_match(w, ru->r_events[i]))
			mask |= 1u << i;
	if (mask == 0)
		return SAKSI_OK;
	memset(&en, 0, sizeof(en));
	en.e_time = w->we_time;
	en.e_index = w->we_index;
	if (ru->r_type == RT_VALUE_SUM) {
		/* Only a positive integer can change a sum: anything else is not in the rule,
		 * like an event lacking the field. */
		if (parse_num(ev_get(w, ru->r_field), &en.e_val) != 0 || en.e_val == 0)
			return SAKSI_OK;
		if (en.e_val > RULES_SUM_VALUE_MAX)
			en.e_val = RULES_SUM_VALUE_MAX;
	}
	if (ru->r_type == RT_VALUE_COUNT || ru->r_differ != NULL) {
		if ((v = ev_get(w, ru->r_type == RT_VALUE_COUNT ? ru->r_field : ru->r_differ)) ==
		    NULL)
			return SAKSI_OK;
		ev_hash_value(c->c_ev, v, en.e_hash);
		en.e_has = ru->r_type != RT_VALUE_COUNT;
	}
	if (ru->r_type == RT_TEMPORAL || ru->r_type == RT_TEMPORAL_ORDERED)
		en.e_flags = (uint8_t)mask;
	if (!group_of(w, ru, NULL, text, ghash))
		return SAKSI_OK;
	if ((e = stats_of(c, slot, &s)) != SAKSI_OK)
		return e;
	s->rs_matched++;
	if ((e = group_open(c, slot, ru, ghash, text, &g)) != SAKSI_OK)
		goto out;
	prune_dead(c, ru, &g);
	if ((e = ent_insert(&g, &en, &pos)) != SAKSI_OK)
		goto out;
	if (ru->r_type == RT_EVENT_COUNT || ru->r_type == RT_VALUE_COUNT ||
	    ru->r_type == RT_VALUE_SUM)
		e = count_eval(c, slot, ru, &g, pos);
	else
		e = temporal_eval(c, slot, ru, &g, pos);
	if (e == SAKSI_OK)
		e = cap_values(c, slot, ru, &g);
	if (e == SAKSI_OK)
		e = group_save(c, slot, ru, &g);
out:
	group_free(&g);
	return e;
}

/* ---- joins ---- */

static size_t
jkey(uint8_t *k, char pfx, const struct join *j, const char *keyval)
{
	size_t o = key_fp(k, pfx, j->j_fp);

	hash_domain(k + o, "saksi/rules/join/v1\n", keyval, strlen(keyval));
	return o + HASH_LEN;
}

static size_t
jxkey(uint8_t *k, const struct join *j, uint64_t time, const uint8_t khash[HASH_LEN])
{
	size_t o = key_fp(k, K_JEXP, j->j_fp);

	saksi_put_u64(k + o, time);
	memcpy(k + o + 8, khash, HASH_LEN);
	return o + 8 + HASH_LEN;
}

/* Adds to w the fields a join record holds that w lacks. Returns 1 if any was added. */
static int
join_fill(struct wev *w, const struct join *j, const uint8_t *p, size_t n)
{
	size_t o = 17, i, f, nf;
	int added = 0;

	if (n < 18 || p[0] != 1)
		return -1;
	nf = p[o++];
	for (i = 0; i < nf; i++) {
		size_t nl, vl;
		char name[SAKSI_RULES_FIELD_MAX + 1];

		if (o + 1 > n || (nl = p[o]) > SAKSI_RULES_FIELD_MAX || o + 1 + nl + 2 > n)
			return -1;
		memcpy(name, p + o + 1, nl);
		name[nl] = '\0';
		o += 1 + nl;
		vl = p[o];
		if (vl > SAKSI_RULES_VALUE_MAX || o + 1 + vl + 1 > n || p[o + 1 + vl] > 1)
			return -1;
		for (f = 0; f < j->j_ncopy; f++)
			if (strcmp(j->j_copy[f], name) == 0)
				break;
		if (f < j->j_ncopy && ev_get(w, name) == NULL && w->we_nj < JB_MAX &&
		    w->we_n < WF_MAX) {
			memcpy(w->we_jname[w->we_nj], name, nl + 1);
			memcpy(w->we_jval[w->we_nj], p + o + 1, vl);
			w->we_jval[w->we_nj][vl] = '\0';
			w->we_f[w->we_n].wf_name = w->we_jname[w->we_nj];
			w->we_f[w->we_n].wf_value = w->we_jval[w->we_nj];
			w->we_f[w->we_n++].wf_personal = p[o + 1 + vl];
			w->we_nj++;
			added = 1;
		}
		o += 1 + vl + 1;
	}
	return o == n ? added : -1;
}

/* Fills missing fields from the joins, as many rounds as there are joins, so that one
 * join's copy can key the next (claim_id -> booking_id -> device_id). */
static saksi_err
joins_apply(struct ectx *c)
{
	const saksi_rules *r = c->c_r;
	uint32_t done = 0;
	size_t round, i, f;
	uint8_t k[KEY_MAX];
	MDB_val v;
	saksi_err e;
	int added, any;

	for (round = 0; round < r->rs_njoins; round++) {
		any = 0;
		for (i = 0; i < r->rs_njoins; i++) {
			const struct join *j = r->rs_joins[i];
			const char *kv = ev_get(c->c_ev, j->j_key);

			if ((done & (1u << i)) || kv == NULL)
				continue;
			for (f = 0; f < j->j_ncopy; f++)
				if (ev_get(c->c_ev, j->j_copy[f]) == NULL)
					break;
			done |= 1u << i;
			if (f == j->j_ncopy)
				continue;
			e = st_get(c, k, jkey(k, K_JOIN, j, kv), &v);
			if (e == SAKSI_ERR_NOT_FOUND)
				continue;
			if (e != SAKSI_OK)
				return e;
			if ((added = join_fill(c->c_ev, j, v.mv_data, v.mv_size)) < 0)
				return SAKSI_ERR_CORRUPT;
			any |= added;
		}
		if (!any)
			break;
	}
	return SAKSI_OK;
}

static saksi_err
join_delete(struct ectx *c, size_t slot, const struct join *j, uint64_t time,
            const uint8_t khash[HASH_LEN])
{
	uint8_t k[KEY_MAX], xk[KEY_MAX];
	saksi_rule_stats *s;
	size_t o = key_fp(k, K_JOIN, j->j_fp);
	saksi_err e;

	/* The index key first, as group_delete. */
	if ((e = st_del(c, xk, jxkey(xk, j, time, khash))) != SAKSI_OK)
		return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
	memcpy(k + o, khash, HASH_LEN);
	if ((e = st_del(c, k, o + HASH_LEN)) != SAKSI_OK)
		return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
	if ((e = stats_of(c, slot, &s)) != SAKSI_OK)
		return e;
	if (s->rs_groups == 0)
		return SAKSI_ERR_CORRUPT;
	s->rs_groups--;
	return SAKSI_OK;
}

/* Drops join entries older than keep before the watermark; with evict, also the oldest
 * live one (counted, alerted) until there is room for one more. */
static saksi_err
join_sweep(struct ectx *c, size_t slot, const struct join *j, size_t max, int evict)
{
	uint8_t pfx[KEY_MAX], k[KEY_MAX];
	size_t pl = key_fp(pfx, K_JEXP, j->j_fp), kl, i;
	saksi_err e;

	for (i = 0; i < max; i++) {
		uint64_t t;
		int expired;

		if (evict && c->c_st[slot].sc_s.rs_groups < j->j_max)
			return SAKSI_OK;
		e = cx_first(c, pfx, pl, k, &kl);
		if (e == SAKSI_ERR_NOT_FOUND)
			return evict ? SAKSI_ERR_CORRUPT : SAKSI_OK;
		if (e != SAKSI_OK)
			return e;
		if (kl != pl + 8 + HASH_LEN)
			return SAKSI_ERR_CORRUPT;
		t = saksi_get_u64(k + pl);
		expired = sat_add(t, j->j_keep) < c->c_w;
		if (!expired && !evict)
			return SAKSI_OK;
		if ((e = join_delete(c, slot, j, t, k + pl + 8)) != SAKSI_OK)
			return e;
		if (!expired && (e = cap_evicted(c, slot, 1, "*", j->j_max, NULL, 0, t, t)) !=
		    SAKSI_OK)
			return e;
	}
	return SAKSI_OK;
}

static saksi_err
joins_store(struct ectx *c)
{
	const saksi_rules *r = c->c_r;
	const struct wev *w = c->c_ev;
	size_t i, f, t, o, slot;
	uint8_t k[KEY_MAX], xk[KEY_MAX], buf[18 + 16 * (2 + SAKSI_RULES_FIELD_MAX +
	    SAKSI_RULES_VALUE_MAX + 1)];
	saksi_rule_stats *s;
	MDB_val v;
	saksi_err e;

	for (i = 0; i < r->rs_njoins; i++) {
		const struct join *j = r->rs_joins[i];
		const char *kv = ev_get(w, j->j_key);
		size_t kl, nf = 0;
		int exists;

		for (t = 0; t < j->j_ntypes; t++)
			if (strcmp(j->j_types[t], w->we_type) == 0)
				break;
		if (t == j->j_ntypes || kv == NULL ||
		    sat_add(w->we_time, j->j_keep) < c->c_w)
			continue;
		slot = r->rs_nrules + i;
		kl = jkey(k, K_JOIN, j, kv);
		e = st_get(c, k, kl, &v);
		if (e != SAKSI_OK && e != SAKSI_ERR_NOT_FOUND)
			return e;
		exists = e == SAKSI_OK;
		if (exists) {
			const uint8_t *p = v.mv_data;
			uint64_t ot, oi;

			if (v.mv_size < 18 || p[0] != 1)
				return SAKSI_ERR_CORRUPT;
			ot = saksi_get_u64(p + 1);
			oi = saksi_get_u64(p + 9);
			/* The latest record (producer time, then leaf index) wins. */
			if (ot > w->we_time || (ot == w->we_time && oi > w->we_index))
				continue;
			if ((e = st_del(c, xk, jxkey(xk, j, ot, k + 1 +
			    RULES_FP_LEN))) != SAKSI_OK)
				return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
		} else {
			if ((e = stats_of(c, slot, &s)) != SAKSI_OK)
				return e;
			if (s->rs_groups >= j->j_max &&
			    ((e = join_sweep(c, slot, j, SIZE_MAX, 0)) != SAKSI_OK ||
			    (e = join_sweep(c, slot, j, SIZE_MAX, 1)) != SAKSI_OK))
				return e;
			s->rs_groups++;
		}
		buf[0] = 1;
		saksi_put_u64(buf + 1, w->we_time);
		saksi_put_u64(buf + 9, w->we_index);
		o = 18;
		for (f = 0; f < j->j_ncopy; f++) {
			size_t x;

			for (x = 0; x < w->we_n; x++)
				if (strcmp(w->we_f[x].wf_name, j->j_copy[f]) == 0)
					break;
			if (x == w->we_n)
				continue;
			buf[o] = (uint8_t)strlen(j->j_copy[f]);
			memcpy(buf + o + 1, j->j_copy[f], buf[o]);
			o += 1 + buf[o];
			buf[o] = (uint8_t)strlen(w->we_f[x].wf_value);
			memcpy(buf + o + 1, w->we_f[x].wf_value, buf[o]);
			o += 1 + buf[o];
			buf[o++] = (uint8_t)(w->we_f[x].wf_personal != 0);
			nf++;
		}
		buf[17] = (uint8_t)nf;
		if ((e = stats_of(c, slot, &s)) != SAKSI_OK)
			return e;
		s->rs_matched++;
		if ((e = st_put(c, k, kl, buf, o)) != SAKSI_OK ||
		    (e = st_put(c, xk, jxkey(xk, j, w->we_time,
		    k + 1 + RULES_FP_LEN), "", 0)) != SAKSI_OK)
			return e;
	}
	return SAKSI_OK;
}

/* ---- the entry points ---- */

static saksi_err
late_event(struct ectx *c)
{
	saksi_alert a;

	c->c_m.m_late++;
	c->c_res.rr_late = 1;
	if (!is_pow2(c->c_m.m_late))
		return SAKSI_OK;
	memset(&a, 0, sizeof(a));
	a.al_kind = SAKSI_ALERT_LATE;
	a.al_severity = SAKSI_SEV_MEDIUM;
	strcpy(a.al_rule, "late");
	strcpy(a.al_group, "*");
	a.al_value = c->c_m.m_late;
	a.al_threshold = c->c_r->rs_lateness;
	a.al_first_ms = a.al_last_ms = c->c_ev->we_time;
	a.al_total = 1;
	alert_evidence(&a, &c->c_ev->we_index, 1);
	return alert_raise(c, &a);
}

/*
 * Memory mode, after an evaluation: its meta into memory ('N'); the log's meta ('M',
 * whose last id never goes back while the tail is evaluated again) into LMDB; and a
 * snapshot when the events since the last one reach the interval.
 */
static saksi_err
mem_finish(struct ectx *c)
{
	saksi_rules_mem_stats *info = rmem_info(c->c_mem);
	uint8_t k = K_NMETA, b[META_LEN];
	struct meta dbm = c->c_m;
	saksi_err e;

	nmeta_encode(b, &c->c_m, c->c_next_leaf);
	if ((e = rmem_put(c->c_mem, &k, 1, b, sizeof(b))) != SAKSI_OK)
		return e;
	dbm.m_last_alert = max_u64(c->c_m.m_last_alert, c->c_db_last);
	dbm.m_published = c->c_db_published;
	if ((e = meta_save(c->c_txn, c->c_dbi, &dbm)) != SAKSI_OK)
		return e;
	if (++info->ms_since < c->c_r->rs_snap_events)
		return SAKSI_OK;
	return rmem_flush(c->c_mem, c->c_txn, c->c_dbi, c->c_next_leaf, 0);
}

static saksi_err
rules_eval(const saksi_rules *r, MDB_txn *wtxn, const saksi_rule_event *ev,
           saksi_rules_result *res, int checked)
{
	struct ectx c;
	uint64_t gen0 = 0, next0 = 0;
	size_t i;
	int moved = 0;
	saksi_err e;

	if (res != NULL)
		memset(res, 0, sizeof(*res));
	if (r == NULL || wtxn == NULL || ev == NULL || !r->rs_attached)
		return SAKSI_ERR_INVAL;
	memset(&c, 0, sizeof(c));
	c.c_r = r;
	c.c_txn = wtxn;
	c.c_dbi = r->rs_dbi;
	/* Not calloc: the working event is large (the joins' value buffers) and every use
	 * stays below we_n and we_nj, so only the used part is wiped at the end. */
	if ((c.c_ev = malloc(sizeof(*c.c_ev))) == NULL)
		return SAKSI_ERR_NOMEM;
	c.c_ev->we_n = 0;
	c.c_ev->we_nj = 0;
	c.c_ev->we_ngm = 0;
	c.c_ev->we_nvm = 0;
	if (!checked && (e = ev_check(ev)) != SAKSI_OK)
		goto out;
	ev_fill(ev, c.c_ev);
	c.c_st = calloc(r->rs_nrules + r->rs_njoins + 1, sizeof(*c.c_st));
	if (c.c_st == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	if ((e = meta_load(wtxn, c.c_dbi, &c.c_m)) != SAKSI_OK) {
		if (e == SAKSI_ERR_NOT_FOUND)
			e = SAKSI_ERR_CORRUPT;    /* attach wrote it */
		goto out;
	}
	if (r->rs_mem != NULL) {
		/* Memory first brought in line with wtxn (a lost transaction undone), then
		 * every change of this evaluation under a new generation. */
		c.c_mem = r->rs_mem;
		c.c_db_last = c.c_m.m_last_alert;
		c.c_db_published = c.c_m.m_published;
		if ((e = rmem_sync(c.c_mem, wtxn, c.c_dbi, &gen0, &next0)) != SAKSI_OK ||
		    (e = nmeta_get(c.c_mem, &c.c_m, &c.c_next_leaf)) != SAKSI_OK)
			goto out;
		if (c.c_next_leaf == NEXT_UNSET) {
			/* The first event since the first snapshot: that snapshot holds the
			 * leaves before it. */
			uint8_t nk = K_NMETA, b[META_LEN];

			nmeta_encode(b, &c.c_m, ev->re_index);
			if ((e = db_put(wtxn, c.c_dbi, &nk, 1, b, sizeof(b))) != SAKSI_OK)
				goto out;
			c.c_next_leaf = ev->re_index;
		}
		if (ev->re_index >= c.c_next_leaf)
			c.c_next_leaf = ev->re_index + 1;
		/* 'C' first: a transaction that cannot be written to fails before memory
		 * moves (a read-only one is SAKSI_ERR_INVAL, as in LMDB mode). */
		if ((e = rmem_cmeta_put(wtxn, c.c_dbi, gen0 + 1, c.c_next_leaf)) != SAKSI_OK)
			goto out;
		rmem_next_gen(c.c_mem);
		moved = 1;
	}
	c.c_w = c.c_m.m_seen && c.c_m.m_max_seen > r->rs_lateness ?
	    c.c_m.m_max_seen - r->rs_lateness : 0;
	if ((e = joins_apply(&c)) != SAKSI_OK)
		goto out;
	if (c.c_m.m_seen && ev->re_time_ms < c.c_w) {
		/* Too late for the windows; its ids still serve later joins. */
		if ((e = joins_store(&c)) != SAKSI_OK || (e = late_event(&c)) != SAKSI_OK)
			goto out;
	} else {
		if (!c.c_m.m_seen || ev->re_time_ms > c.c_m.m_max_seen)
			c.c_m.m_max_seen = ev->re_time_ms;
		c.c_m.m_seen = 1;
		c.c_w = c.c_m.m_max_seen > r->rs_lateness ? c.c_m.m_max_seen - r->rs_lateness : 0;
		if ((e = joins_store(&c)) != SAKSI_OK)
			goto out;
		for (i = 0; i < r->rs_njoins; i++)
			if ((e = join_sweep(&c, r->rs_nrules + i, r->rs_joins[i], SWEEP_MAX, 0)) !=
			    SAKSI_OK)
				goto out;
		for (i = 0; i < r->rs_nrules; i++) {
			const struct rule *ru = r->rs_rules[i];

			if ((ru->r_type == RT_QUEUE_ORDER || ru->r_type == RT_DAILY_CAP) &&
			    (e = pending_run(&c, i, ru)) != SAKSI_OK)
				goto out;
			if (!rule_takes(ru, c.c_ev->we_type))
				continue;   /* no seek into its state at all */
			if ((e = sweep_rule(&c, i, ru, SWEEP_MAX)) != SAKSI_OK ||
			    (e = rule_event(&c, i, ru)) != SAKSI_OK)
				goto out;
		}
	}
	if ((e = stats_flush(&c)) == SAKSI_OK && c.c_mem != NULL)
		e = mem_finish(&c);
	else if (e == SAKSI_OK)
		e = meta_save(wtxn, c.c_dbi, &c.c_m);
out:
	if (e != SAKSI_OK && moved) {
		/* Undone now, so that a caller going on in wtxn (it must not: it aborts) or
		 * the next evaluation sees memory as wtxn has it. */
		if (rmem_undo_to(c.c_mem, gen0) != SAKSI_OK ||
		    rmem_cmeta_put(wtxn, c.c_dbi, gen0, next0) != SAKSI_OK)
			e = SAKSI_ERR_CORRUPT;
	}
	if (e == SAKSI_OK && res != NULL)
		*res = c.c_res;
	if (c.c_cur != NULL)
		mdb_cursor_close(c.c_cur);
	free(c.c_st);
	if (c.c_ev != NULL) {
		/* Join values are tokens: wiped, like everything that held one. */
		sodium_memzero(c.c_ev->we_jval, c.c_ev->we_nj * sizeof(c.c_ev->we_jval[0]));
		sodium_memzero(c.c_ev->we_jname, c.c_ev->we_nj * sizeof(c.c_ev->we_jname[0]));
		sodium_memzero(c.c_ev->we_f, c.c_ev->we_n * sizeof(c.c_ev->we_f[0]));
		sodium_memzero(c.c_ev->we_gm, c.c_ev->we_ngm * sizeof(c.c_ev->we_gm[0]));
		sodium_memzero(c.c_ev->we_vm, c.c_ev->we_nvm * sizeof(c.c_ev->we_vm[0]));
		free(c.c_ev);
	}
	return e;
}

saksi_err
saksi_rules_eval(const saksi_rules *r, MDB_txn *wtxn, const saksi_rule_event *ev,
                 saksi_rules_result *res)
{
	return rules_eval(r, wtxn, ev, res, 0);
}

saksi_err
saksi_rules_eval_checked(const saksi_rules *r, MDB_txn *wtxn, const saksi_rule_event *ev,
                         saksi_rules_result *res)
{
	return rules_eval(r, wtxn, ev, res, 1);
}

/* Deletes every key starting with pfx || fp. */
static saksi_err
purge_prefix(MDB_txn *txn, MDB_dbi dbi, char pfx, const uint8_t fp[RULES_FP_LEN])
{
	uint8_t p[KEY_MAX], k[KEY_MAX];
	size_t pl = key_fp(p, pfx, fp), kl = 0;
	saksi_err e;

	for (;;) {
		e = db_first(txn, dbi, p, pl, k, &kl);
		if (e == SAKSI_ERR_NOT_FOUND)
			return SAKSI_OK;
		if (e == SAKSI_OK)
			e = db_del(txn, dbi, k, kl);
		if (e != SAKSI_OK)
			return e;
	}
}

static int
fp_current(const saksi_rules *r, const uint8_t *fp)
{
	size_t i;

	for (i = 0; i < r->rs_nrules; i++)
		if (memcmp(r->rs_rules[i]->r_fp, fp, RULES_FP_LEN) == 0)
			return 1;
	for (i = 0; i < r->rs_njoins; i++)
		if (memcmp(r->rs_joins[i]->j_fp, fp, RULES_FP_LEN) == 0)
			return 1;
	return 0;
}

/*
 * The expiry key that a group record (X) or a join record (K) implies: the group's keep
 * (RULES.md 4.3, where its X key is) or the record's time. SAKSI_ERR_NOT_FOUND for any
 * other key, and for a record too short to say: that one is refused as corrupt where the
 * engine reads it, as before, not at attach.
 */
static saksi_err
derived_key(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, uint8_t *xk,
            size_t *xl)
{
	if (kl != 1 + RULES_FP_LEN + HASH_LEN || (k[0] != K_GROUP && k[0] != K_JOIN))
		return SAKSI_ERR_NOT_FOUND;
	if (vl < 10)
		return SAKSI_ERR_NOT_FOUND;
	xk[0] = k[0] == K_GROUP ? K_EXP : K_JEXP;
	memcpy(xk + 1, k + 1, RULES_FP_LEN);
	memcpy(xk + 1 + RULES_FP_LEN, v + (k[0] == K_GROUP ? 2 : 1), 8);
	memcpy(xk + 1 + RULES_FP_LEN + 8, k + 1 + RULES_FP_LEN, HASH_LEN);
	*xl = 1 + RULES_FP_LEN + 8 + HASH_LEN;
	return SAKSI_OK;
}

/* Deletes every key of the letter pfx. */
static saksi_err
purge_letter(MDB_txn *txn, MDB_dbi dbi, uint8_t pfx)
{
	uint8_t k[KEY_MAX];
	size_t kl;
	saksi_err e;

	for (;;) {
		e = db_first(txn, dbi, &pfx, 1, k, &kl);
		if (e == SAKSI_ERR_NOT_FOUND)
			return SAKSI_OK;
		if (e == SAKSI_OK)
			e = db_del(txn, dbi, k, kl);
		if (e != SAKSI_OK)
			return e;
	}
}

/*
 * LMDB mode after memory mode: the expiry indexes the snapshots left out, written from
 * the group and join records (the same keys memory made of them at load).
 */
static saksi_err
derived_write(MDB_txn *txn, MDB_dbi dbi)
{
	static const uint8_t from[] = { K_GROUP, K_JOIN };
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t xk[KEY_MAX];
	size_t xl, i;
	saksi_err e = SAKSI_OK;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return mdb_err(rc);
	for (i = 0; i < sizeof(from) && e == SAKSI_OK; i++) {
		/* Puts into another letter's range: the cursor stays on this one's keys. */
		k.mv_size = 1;
		k.mv_data = (void *)&from[i];
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 &&
		    ((uint8_t *)k.mv_data)[0] == from[i];
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			e = derived_key(k.mv_data, k.mv_size, v.mv_data, v.mv_size, xk, &xl);
			if (e == SAKSI_OK)
				e = db_put(txn, dbi, xk, xl, "", 0);
			else if (e == SAKSI_ERR_NOT_FOUND)
				e = SAKSI_OK;
			if (e != SAKSI_OK)
				break;
		}
		if (e == SAKSI_OK && rc != 0 && rc != MDB_NOTFOUND)
			e = mdb_err(rc);
	}
	mdb_cursor_close(cur);
	return e;
}

/*
 * Memory mode at attach: the state database holds the last snapshot (the window keys
 * and 'N'); load it, and note the leaves evaluated after it ('C': up to where the
 * transactions that committed got) for the caller to evaluate again. State written
 * per event before memory mode has no 'N': it is current, its meta is 'M'.
 */
static saksi_err
mem_load(saksi_rules *r, MDB_txn *wtxn, MDB_dbi dbi, const struct meta *dbm,
         uint64_t folded)
{
	static const char loaded[] = { K_GROUP, K_PEND, K_STAT, K_JOIN, K_NMETA };
	saksi_rules_mem_stats *info;
	struct rmem *mem = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	struct meta nm;
	uint64_t gen, to, from;
	uint8_t nk = K_NMETA, b[META_LEN];
	saksi_err e;
	int rc;

	rmem_free(r->rs_mem);
	r->rs_mem = NULL;
	if ((e = rmem_cmeta_get(wtxn, dbi, &gen, &to)) != SAKSI_OK || (e = rmem_new(&mem)) !=
	    SAKSI_OK)
		return e;
	if ((rc = mdb_cursor_open(wtxn, dbi, &cur)) != 0) {
		e = mdb_err(rc);
		goto fail;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint8_t xk[KEY_MAX];
		size_t xl;

		if (k.mv_size < 1 || memchr(loaded, ((uint8_t *)k.mv_data)[0],
		    sizeof(loaded)) == NULL)
			continue;
		if ((e = rmem_load(mem, k.mv_data, k.mv_size, v.mv_data, v.mv_size)) != SAKSI_OK)
			goto fail;
		/* The expiry indexes are made from their records: no snapshot holds them. */
		if ((e = derived_key(k.mv_data, k.mv_size, v.mv_data, v.mv_size, xk, &xl)) ==
		    SAKSI_OK)
			e = rmem_load(mem, xk, xl, "", 0);
		if (e != SAKSI_OK && e != SAKSI_ERR_NOT_FOUND)
			goto fail;
	}
	mdb_cursor_close(cur);
	cur = NULL;
	if (rc != MDB_NOTFOUND) {
		e = mdb_err(rc);
		goto fail;
	}
	/* Those of LMDB mode (or of an older snapshot) go: memory made its own. */
	if ((e = purge_letter(wtxn, dbi, K_EXP)) != SAKSI_OK ||
	    (e = purge_letter(wtxn, dbi, K_JEXP)) != SAKSI_OK)
		goto fail;
	if ((e = nmeta_get(mem, &nm, &from)) == SAKSI_ERR_CORRUPT &&
	    rmem_get(mem, &nk, 1, &v) == SAKSI_ERR_NOT_FOUND) {
		/* The state as it stands is the first snapshot; the first event evaluated
		 * will say which leaf it holds up to. */
		nmeta_encode(b, dbm, NEXT_UNSET);
		if ((e = rmem_load(mem, &nk, 1, b, sizeof(b))) != SAKSI_OK ||
		    (e = db_put(wtxn, dbi, &nk, 1, b, sizeof(b))) != SAKSI_OK)
			goto fail;
		from = NEXT_UNSET;
	} else if (e != SAKSI_OK)
		goto fail;
	if (from == NEXT_UNSET) {
		/* No evaluation committed since the first snapshot: nothing to evaluate
		 * again. A saksid before 2026-11-25 wrote 'C' = NEXT_UNSET when it stopped
		 * before any event: such a state holds no leaf either. */
		if (to == NEXT_UNSET)
			to = 0;
		from = to;
	}
	if (from > to) {
		e = SAKSI_ERR_CORRUPT;
		goto fail;
	}
	info = rmem_info(mem);
	info->ms_resume_from = from;
	info->ms_resume_to = to;
	info->ms_attach_folded = folded;
	/*
	 * No fold before deltas of RULES_FOLD_INTERVALS intervals' events, however small
	 * the state. A state that grows from empty, where most keys a snapshot lists are
	 * new, passed half the keys held at nearly every snapshot and folded each time,
	 * rewriting most of the base's pages: with four intervals, saksid under
	 * bench_ingest -f spent about 5 us an event on its committer folding.
	 */
	rmem_fold_min(mem, r->rs_snap_events < FOLD_MIN_MAX / RULES_FOLD_INTERVALS ?
	    (size_t)r->rs_snap_events * RULES_FOLD_INTERVALS : FOLD_MIN_MAX);
	rmem_loaded(mem, wtxn, gen);
	r->rs_mem = mem;
	return SAKSI_OK;
fail:
	if (cur != NULL)
		mdb_cursor_close(cur);
	rmem_free(mem);
	return e;
}

saksi_err
saksi_rules_attach(saksi_rules *r, MDB_txn *wtxn)
{
	static const char pfxs[] = { K_GROUP, K_EXP, K_PEND, K_STAT, K_JOIN, K_JEXP, K_REG };
	uint8_t reg = K_REG, k[KEY_MAX], stale[64][RULES_FP_LEN];
	uint64_t folded;
	struct meta m;
	MDB_dbi dbi;
	size_t i, nstale, kl;
	saksi_err e;
	int rc;

	if (r == NULL || wtxn == NULL)
		return SAKSI_ERR_INVAL;
	free(r->rs_ro_stats);     /* a reader's view of the deltas, folded below */
	r->rs_ro_stats = NULL;
	if ((rc = mdb_dbi_open(wtxn, SAKSI_RULES_DB, MDB_CREATE, &dbi)) != 0)
		return rc == MDB_DBS_FULL ? SAKSI_ERR_LEDGER : mdb_err(rc);
	e = meta_load(wtxn, dbi, &m);
	if (e == SAKSI_ERR_NOT_FOUND)
		e = meta_save(wtxn, dbi, &m);
	/* Memory mode's deltas into the base first: all below reads the base. */
	if (e != SAKSI_OK || (e = rmem_delta_fold(wtxn, dbi, &folded)) != SAKSI_OK)
		return e;
	/* Stale registrations: rules gone or redefined. Collected in batches, since
	 * purging moves the cursor's ground. */
	do {
		MDB_cursor *cur;
		MDB_val kv = { 1, &reg }, vv;

		nstale = 0;
		if ((rc = mdb_cursor_open(wtxn, dbi, &cur)) != 0)
			return mdb_err(rc);
		rc = mdb_cursor_get(cur, &kv, &vv, MDB_SET_RANGE);
		while (rc == 0 && kv.mv_size >= 1 && ((uint8_t *)kv.mv_data)[0] == K_REG &&
		    nstale < 64) {
			if (kv.mv_size != 1 + RULES_FP_LEN) {
				mdb_cursor_close(cur);
				return SAKSI_ERR_CORRUPT;
			}
			if (!fp_current(r, (uint8_t *)kv.mv_data + 1))
				memcpy(stale[nstale++], (uint8_t *)kv.mv_data + 1, RULES_FP_LEN);
			rc = mdb_cursor_get(cur, &kv, &vv, MDB_NEXT);
		}
		mdb_cursor_close(cur);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return mdb_err(rc);
		for (i = 0; i < nstale; i++) {
			size_t p;

			for (p = 0; p < sizeof(pfxs); p++)
				if ((e = purge_prefix(wtxn, dbi, pfxs[p], stale[i])) != SAKSI_OK)
					return e;
		}
	} while (nstale == 64);
	for (i = 0; i < r->rs_nrules + r->rs_njoins; i++) {
		char name[SAKSI_RULES_ID_MAX + 8];
		const uint8_t *fp;

		if (i < r->rs_nrules) {
			fp = r->rs_rules[i]->r_fp;
			snprintf(name, sizeof(name), "rule:%s", r->rs_rules[i]->r_id);
		} else {
			fp = r->rs_joins[i - r->rs_nrules]->j_fp;
			snprintf(name, sizeof(name), "join:%s",
			    r->rs_joins[i - r->rs_nrules]->j_name);
		}
		kl = key_fp(k, K_REG, fp);
		if ((e = db_put(wtxn, dbi, k, kl, name, strlen(name))) != SAKSI_OK)
			return e;
	}
	if (r->rs_snap_events > 0)
		e = mem_load(r, wtxn, dbi, &m, folded);
	else {
		/* State written per event from now on: no snapshot to resume from. */
		uint8_t nk = K_NMETA, ck = K_CMETA;

		/* A snapshot (its 'N') left the expiry indexes out: written now. */
		if ((e = db_del(wtxn, dbi, &nk, 1)) == SAKSI_OK)
			e = derived_write(wtxn, dbi);
		else if (e == SAKSI_ERR_NOT_FOUND)
			e = SAKSI_OK;
		if (e == SAKSI_OK && (e = db_del(wtxn, dbi, &ck, 1)) == SAKSI_ERR_NOT_FOUND)
			e = SAKSI_OK;
	}
	if (e != SAKSI_OK)
		return e;
	r->rs_dbi = dbi;
	r->rs_attached = 1;
	return SAKSI_OK;
}

saksi_err
saksi_rules_memory(saksi_rules *r, uint64_t events, uint64_t ms)
{
	if (r == NULL || events == 0 || r->rs_attached)
		return SAKSI_ERR_INVAL;
	r->rs_snap_events = events;
	r->rs_snap_ms = ms;
	return SAKSI_OK;
}

saksi_err
saksi_rules_snapshot(const saksi_rules *r, MDB_txn *wtxn, uint64_t now_ms, int force,
                     int *written)
{
	saksi_rules_mem_stats *info;
	struct meta nm;
	uint64_t next;
	saksi_err e;
	int due;

	if (written != NULL)
		*written = 0;
	if (r == NULL || wtxn == NULL || !r->rs_attached || r->rs_mem == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = rmem_sync(r->rs_mem, wtxn, r->rs_dbi, NULL, NULL)) != SAKSI_OK)
		return e;
	info = rmem_info(r->rs_mem);
	if (info->ms_snap_ms == 0 || now_ms < info->ms_snap_ms)
		info->ms_snap_ms = now_ms;    /* the clock starts at the first call */
	due = force || info->ms_since >= r->rs_snap_events ||
	    (r->rs_snap_ms > 0 && info->ms_since > 0 &&
	    now_ms - info->ms_snap_ms >= r->rs_snap_ms);
	if (!due)
		return SAKSI_OK;
	if ((e = nmeta_get(r->rs_mem, &nm, &next)) != SAKSI_OK)
		return e;
	/* No event evaluated since the first snapshot (a start and a stop with none): the
	 * state holds the leaves it was loaded with, not NEXT_UNSET's "all of them". */
	if (next == NEXT_UNSET)
		next = info->ms_resume_to;
	/* A forced snapshot (a reload, a stop) folds: the base is then current. */
	if ((e = rmem_flush(r->rs_mem, wtxn, r->rs_dbi, next, force)) != SAKSI_OK)
		return e;
	info->ms_snap_ms = now_ms;
	if (written != NULL)
		*written = 1;
	return SAKSI_OK;
}

saksi_err
saksi_rules_resume_range(const saksi_rules *r, uint64_t *from, uint64_t *to)
{
	const saksi_rules_mem_stats *info;

	if (from != NULL)
		*from = 0;
	if (to != NULL)
		*to = 0;
	if (r == NULL || from == NULL || to == NULL || !r->rs_attached || r->rs_mem == NULL)
		return SAKSI_ERR_INVAL;
	info = rmem_info(r->rs_mem);
	*from = info->ms_resume_from;
	*to = info->ms_resume_to;
	return SAKSI_OK;
}

saksi_err
saksi_rules_resume_check(const saksi_rules *r, MDB_txn *txn)
{
	struct meta dbm, nm;
	uint64_t next;
	saksi_err e;

	if (r == NULL || txn == NULL || !r->rs_attached || r->rs_mem == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = meta_load(txn, r->rs_dbi, &dbm)) != SAKSI_OK)
		return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
	if ((e = rmem_sync(r->rs_mem, txn, r->rs_dbi, NULL, NULL)) != SAKSI_OK ||
	    (e = nmeta_get(r->rs_mem, &nm, &next)) != SAKSI_OK)
		return e;
	/* Every alert of the log raised again, and the tail evaluated to its end. */
	if (nm.m_last_alert != dbm.m_last_alert ||
	    next < rmem_info(r->rs_mem)->ms_resume_to)
		return SAKSI_ERR_CORRUPT;
	return SAKSI_OK;
}

saksi_err
saksi_rules_memory_stats(const saksi_rules *r, saksi_rules_mem_stats *out)
{
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (r == NULL || out == NULL || r->rs_mem == NULL)
		return SAKSI_ERR_INVAL;
	*out = *rmem_info(r->rs_mem);
	out->ms_keys = rmem_count(r->rs_mem);
	out->ms_pending = rmem_pending(r->rs_mem);
	return SAKSI_OK;
}

/* A delta record of the rules' counters for a reader (rmem_delta_fn). */
static saksi_err
ro_stat_apply(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	saksi_rules *r = arg;
	uint8_t *p;
	size_t slot;

	if (kl != 1 + RULES_FP_LEN || k[0] != K_STAT ||
	    (slot = fp_slot(r, k + 1)) == SIZE_MAX)
		return SAKSI_OK;
	if (v != NULL && vl != STAT_LEN)
		return SAKSI_ERR_CORRUPT;
	p = r->rs_ro_stats + slot * RO_STAT_LEN;
	p[0] = v != NULL ? 1 : 2;
	if (v != NULL)
		memcpy(p + 1, v, STAT_LEN);
	return SAKSI_OK;
}

/*
 * A reader's attach: nothing written, so the deltas of memory mode (RULES.md 4.4) are
 * not folded into the base; of the window keys a reader asks only for the rules'
 * counters ('S', saksi_rules_stats), which are read through the deltas, as the last
 * committed snapshot has them.
 */
saksi_err
saksi_rules_attach_readonly(saksi_rules *r, MDB_txn *txn)
{
	struct meta m;
	MDB_dbi dbi;
	uint8_t *ro;
	saksi_err e;
	int rc;

	if (r == NULL || txn == NULL)
		return SAKSI_ERR_INVAL;
	if ((rc = mdb_dbi_open(txn, SAKSI_RULES_DB, 0, &dbi)) != 0)
		return rc == MDB_NOTFOUND ? SAKSI_ERR_NOT_FOUND : mdb_err(rc);
	if ((e = meta_load(txn, dbi, &m)) != SAKSI_OK)
		return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
	if ((ro = calloc(r->rs_nrules + r->rs_njoins + 1, RO_STAT_LEN)) == NULL)
		return SAKSI_ERR_NOMEM;
	free(r->rs_ro_stats);
	r->rs_ro_stats = ro;
	if ((e = rmem_delta_each(txn, dbi, ro_stat_apply, r)) != SAKSI_OK) {
		free(r->rs_ro_stats);
		r->rs_ro_stats = NULL;
		return e;
	}
	r->rs_dbi = dbi;
	r->rs_attached = 1;
	return SAKSI_OK;
}

saksi_err
saksi_rules_alert_get(const saksi_rules *r, MDB_txn *txn, uint64_t id, saksi_alert *out)
{
	uint8_t k[9];
	MDB_val v;
	saksi_err e;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (r == NULL || txn == NULL || out == NULL || !r->rs_attached)
		return SAKSI_ERR_INVAL;
	k[0] = K_ALERT;
	saksi_put_u64(k + 1, id);
	if ((e = db_get(txn, r->rs_dbi, k, sizeof(k), &v)) != SAKSI_OK)
		return e;
	return alert_decode(v.mv_data, v.mv_size, id, out);
}

/* The argument checks and the meta record of the getters below; *out is zeroed first. A
 * ledger whose rules were attached has a meta record: a missing one is damage. */
static saksi_err
meta_read(const saksi_rules *r, MDB_txn *txn, uint64_t *out, struct meta *m)
{
	saksi_err e;

	if (out != NULL)
		*out = 0;
	if (r == NULL || txn == NULL || out == NULL || !r->rs_attached)
		return SAKSI_ERR_INVAL;
	if ((e = meta_load(txn, r->rs_dbi, m)) != SAKSI_OK)
		return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
	return SAKSI_OK;
}

saksi_err
saksi_rules_alert_last(const saksi_rules *r, MDB_txn *txn, uint64_t *id)
{
	struct meta m;
	saksi_err e = meta_read(r, txn, id, &m);

	if (e == SAKSI_OK)
		*id = m.m_last_alert;
	return e;
}

saksi_err
saksi_rules_published_get(const saksi_rules *r, MDB_txn *txn, uint64_t *id)
{
	struct meta m;
	saksi_err e = meta_read(r, txn, id, &m);

	if (e == SAKSI_OK)
		*id = m.m_published;
	return e;
}

saksi_err
saksi_rules_published_set(const saksi_rules *r, MDB_txn *wtxn, uint64_t id)
{
	struct meta m;
	saksi_err e;

	if (r == NULL || wtxn == NULL || !r->rs_attached)
		return SAKSI_ERR_INVAL;
	if ((e = meta_load(wtxn, r->rs_dbi, &m)) != SAKSI_OK)
		return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
	if (id < m.m_published || id > m.m_last_alert)
		return SAKSI_ERR_RANGE;
	m.m_published = id;
	return meta_save(wtxn, r->rs_dbi, &m);
}

saksi_err
saksi_rules_stats(const saksi_rules *r, MDB_txn *txn, const char *id, saksi_rule_stats *out)
{
	struct ectx c;
	size_t i;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (r == NULL || txn == NULL || id == NULL || out == NULL || !r->rs_attached)
		return SAKSI_ERR_INVAL;
	memset(&c, 0, sizeof(c));
	c.c_r = r;
	c.c_txn = txn;
	c.c_dbi = r->rs_dbi;
	c.c_mem = r->rs_mem;
	for (i = 0; i < r->rs_nrules; i++)
		if (strcmp(r->rs_rules[i]->r_id, id) == 0)
			return stats_read(&c, r->rs_rules[i]->r_fp, out);
	if (strncmp(id, "join:", 5) == 0)
		for (i = 0; i < r->rs_njoins; i++)
			if (strcmp(r->rs_joins[i]->j_name, id + 5) == 0)
				return stats_read(&c, r->rs_joins[i]->j_fp, out);
	return SAKSI_ERR_NOT_FOUND;
}

saksi_err
saksi_rules_late(const saksi_rules *r, MDB_txn *txn, uint64_t *late)
{
	struct meta m;
	saksi_err e = meta_read(r, txn, late, &m);

	if (e == SAKSI_OK)
		*late = m.m_late;
	return e;
}

saksi_err
saksi_alert_json(const saksi_alert *a, char **json)
{
	static const char *const kinds[] = { NULL, "rule", "cap", "late", "reraise", "refusals" };
	json_t *o, *ev;
	uint32_t i;

	if (json != NULL)
		*json = NULL;
	if (a == NULL || json == NULL || a->al_kind < SAKSI_ALERT_RULE ||
	    a->al_kind > SAKSI_ALERT_REFUSALS || a->al_nevidence > SAKSI_ALERT_EVIDENCE_MAX)
		return SAKSI_ERR_INVAL;
	if ((ev = json_array()) == NULL)
		return SAKSI_ERR_NOMEM;
	for (i = 0; i < a->al_nevidence; i++)
		if (json_array_append_new(ev, json_integer((json_int_t)a->al_evidence[i])) != 0) {
			json_decref(ev);
			return SAKSI_ERR_NOMEM;
		}
	o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}",
	    "id", (json_int_t)a->al_id, "kind", kinds[a->al_kind],
	    "rule", a->al_rule, "severity", rules_sev_name(a->al_severity),
	    "group", a->al_group, "first_ms", (json_int_t)a->al_first_ms,
	    "last_ms", (json_int_t)a->al_last_ms, "value", (json_int_t)a->al_value,
	    "threshold", (json_int_t)a->al_threshold, "extra", (json_int_t)a->al_extra,
	    "trigger", (json_int_t)a->al_trigger, "total", (json_int_t)a->al_total,
	    "evidence", ev);
	if (o == NULL)
		return SAKSI_ERR_NOMEM;
	*json = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return *json == NULL ? SAKSI_ERR_NOMEM : SAKSI_OK;
}

saksi_err
saksi_rules_record_decode(const saksi_rules *r, char kind, size_t i, const uint8_t *p,
                          size_t n, int *canon)
{
	struct group g;
	struct wev *w;
	saksi_alert a;
	uint8_t *enc;
	size_t elen;
	saksi_err e;

	if (canon != NULL)
		*canon = 0;
	if (r == NULL || (p == NULL && n > 0))
		return SAKSI_ERR_INVAL;
	switch (kind) {
	case K_GROUP:
		if (i >= r->rs_nrules)
			return SAKSI_ERR_INVAL;
		memset(&g, 0, sizeof(g));
		e = group_decode(r->rs_rules[i], p, n, &g);
		if (e == SAKSI_OK && canon != NULL &&
		    group_encode(r->rs_rules[i], &g, &enc, &elen) == SAKSI_OK) {
			*canon = elen == n && memcmp(enc, p, n) == 0;
			free(enc);
		}
		group_free(&g);
		return e;
	case K_JOIN:
		if (i >= r->rs_njoins)
			return SAKSI_ERR_INVAL;
		if ((w = calloc(1, sizeof(*w))) == NULL)
			return SAKSI_ERR_NOMEM;
		e = join_fill(w, r->rs_joins[i], p, n) < 0 ? SAKSI_ERR_CORRUPT : SAKSI_OK;
		free(w);
		return e;
	case K_ALERT:
		return alert_decode(p, n, 1, &a);
	default:
		return SAKSI_ERR_INVAL;
	}
}
