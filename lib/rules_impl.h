/*
 * rules_impl.h: the parsed form of a rules file, shared by the parser (rules.c), the
 * engine (rules_eval.c) and the ack state (rules_ack.c), with their common LMDB glue. Not
 * a public header: nothing outside these three files includes it.
 * Everything here is immutable once saksi_rules_parse returns (the dbi excepted).
 */
#ifndef SAKSI_RULES_IMPL_H
#define SAKSI_RULES_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <errno.h>

#include <lmdb.h>

#include "rules.h"

#define RULES_FP_LEN 8            /* bytes of a rule's or join's state fingerprint */
#define RULES_MAX_GROUPBY 8
#define RULES_MAX_EVENTS 8
#define RULES_MAX_TEMPORAL 4      /* selections of a temporal rule: the search is n^(k-1) */
#define RULES_MAX_TEMPORAL_VALUES 256
#define RULES_MAX_VALUES_LIMIT 65536
#define RULES_MAX_CAP 100000000   /* largest max_groups / max_joins */
#define RULES_FOLD_INTERVALS 16   /* memory mode: intervals' events of deltas before a fold */
#define RULES_FOLD_STEPS 8        /* memory mode: snapshots a fold is spread over */

enum cond_op {
	OP_IS = 1, OP_NOT, OP_PRESENT, OP_ABSENT, OP_SAME, OP_DIFFERS,
	OP_GT, OP_GE, OP_LT, OP_LE, OP_WITHIN,
};

struct cond {
	int c_op;
	const char *c_field;
	const char **c_vals;      /* is, not */
	size_t c_nvals;
	const char *c_other;      /* same, differs; gt..le against another field */
	uint64_t c_num;           /* gt..le against a literal; within: the duration in ms */
};

struct sel {
	const char *s_name;
	const char **s_types;
	size_t s_ntypes;
	struct cond *s_conds;
	size_t s_nconds;
	unsigned s_line;
};

struct join {
	const char *j_name;
	const char *j_key;
	const char **j_types;
	size_t j_ntypes;
	const char **j_copy;
	size_t j_ncopy;
	uint64_t j_keep;
	uint64_t j_max;
	uint8_t j_fp[RULES_FP_LEN];
	unsigned j_line;
};

enum rule_type {
	RT_EVENT_COUNT = 1,
	RT_VALUE_COUNT,
	RT_TEMPORAL,
	RT_TEMPORAL_ORDERED,
	RT_QUEUE_ORDER,
	RT_DAILY_CAP,
	RT_VALUE_SUM,             /* the last: the parser's list of names ends here */
};

/* A value_sum counts a field's value at most this much: 65537 entries of it cannot
 * overflow a 64-bit sum, and no schema's integer a rule could sum comes near it. */
#define RULES_SUM_VALUE_MAX 1000000000u

struct quota {
	const char *q_branch;
	uint64_t q_n;
};

struct rule {
	const char *r_id;
	int r_type;
	const char *r_title;
	int r_sev;
	const struct sel *r_events[RULES_MAX_EVENTS];
	size_t r_nevents;
	const char *r_groupby[RULES_MAX_GROUPBY];
	size_t r_ngroupby;
	const char *r_field;          /* value_count, value_sum */
	const char *r_differ;         /* temporal, optional */
	uint64_t r_timespan;
	int r_cond_gt;                /* condition: 1 gt, 0 gte */
	uint64_t r_cond_n;
	uint64_t r_suppress;
	uint64_t r_reraise;           /* 0: never while suppressed */
	uint64_t r_max_groups;
	uint64_t r_max_values;
	/* queue_order */
	const struct sel *r_checkin;
	const struct sel *r_call;
	const char *r_seq;
	const char *r_actor;
	const char *r_exempt_field;
	const char **r_exempt;
	size_t r_nexempt;
	uint64_t r_places;
	/* daily_cap */
	const char *r_day;
	uint64_t r_quota_default;
	struct quota *r_quotas;
	size_t r_nquotas;
	const struct sel *r_override;
	const char *r_ovr_day;
	const char *r_ovr_quota;

	uint8_t r_fp[RULES_FP_LEN];
	unsigned r_line;
};

struct arena_blk;

struct saksi_rules {
	struct arena_blk *rs_arena;
	uint64_t rs_lateness;
	uint64_t rs_max_groups;
	uint64_t rs_max_values;
	uint64_t rs_max_joins;
	struct sel **rs_sels;
	size_t rs_nsels;
	struct join **rs_joins;
	size_t rs_njoins;
	struct rule **rs_rules;
	size_t rs_nrules;
	MDB_dbi rs_dbi;
	int rs_attached;
	/* Window state in memory (RULES.md 4.4): set by saksi_rules_memory, made at attach. */
	uint64_t rs_snap_events;      /* 0: the state lives in LMDB, written per event */
	uint64_t rs_snap_ms;
	struct rmem *rs_mem;
	/* saksi_rules_attach_readonly: the rules' counters ('S') as the deltas have them
	 * (RULES.md 4.4), per rule then join: 0 not in the deltas, 1 put, 2 deleted, then
	 * the value; NULL when attached otherwise. */
	uint8_t *rs_ro_stats;
};

const char *rules_type_name(int type);

/*
 * The in-memory state (rules_mem.c): an ordered map in LMDB's key order holding the keys
 * G X P J K S N of RULES.md 4.1, an undo log following the caller's write transactions
 * (rmem_sync), and the incremental snapshot (rmem_flush, as deltas). Keys are at most 64 bytes.
 * rmem_first answers for a 9-byte prefix of X, P or K (the letter and a fingerprint).
 */
struct rmem;
saksi_err rmem_new(struct rmem **out);
void rmem_free(struct rmem *m);
saksi_err rmem_get(struct rmem *m, const uint8_t *k, size_t kl, MDB_val *v);
saksi_err rmem_put(struct rmem *m, const uint8_t *k, size_t kl, const void *v, size_t vl);
/* As rmem_put, but the value's vl (> 0) bytes are filled by the caller through *dst
 * before any other call on m (the engine encodes a group record in place). */
saksi_err rmem_put_reserve(struct rmem *m, const uint8_t *k, size_t kl, size_t vl,
                           uint8_t **dst);
saksi_err rmem_del(struct rmem *m, const uint8_t *k, size_t kl);
saksi_err rmem_first(struct rmem *m, const uint8_t *pfx, size_t pl, uint8_t *kout,
                     size_t *kl);
/* Memory brought in line with txn (4.4); *gen and *next (may be NULL): 'C' as txn has
 * it, which memory now follows. */
saksi_err rmem_sync(struct rmem *m, MDB_txn *txn, MDB_dbi dbi, uint64_t *gen,
                    uint64_t *next);
uint64_t rmem_next_gen(struct rmem *m);
uint64_t rmem_gen(const struct rmem *m);
saksi_err rmem_undo_to(struct rmem *m, uint64_t g);
/* fold: the deltas folded into the base now (4.4), whatever their size. */
saksi_err rmem_flush(struct rmem *m, MDB_txn *txn, MDB_dbi dbi, uint64_t next_leaf,
                     int fold);
/* Delta records below which rmem_flush folds none (beside half the keys held). */
void rmem_fold_min(struct rmem *m, size_t n);
/* At attach: the deltas ('Z', 'D') applied to the base and deleted; *folded (may be
 * NULL): how many records. Needs no memory mode. */
saksi_err rmem_delta_fold(MDB_txn *txn, MDB_dbi dbi, uint64_t *folded);
/* A reader's walk of the deltas, writing nothing: fn gets each record in the order the
 * fold applies them (v NULL: the key deleted). */
typedef saksi_err (*rmem_delta_fn)(void *arg, const uint8_t *k, size_t kl, const uint8_t *v,
                                   size_t vl);
saksi_err rmem_delta_each(MDB_txn *txn, MDB_dbi dbi, rmem_delta_fn fn, void *arg);
saksi_err rmem_load(struct rmem *m, const uint8_t *k, size_t kl, const void *v, size_t vl);
void rmem_loaded(struct rmem *m, MDB_txn *txn, uint64_t gen);
size_t rmem_count(const struct rmem *m);
size_t rmem_pending(const struct rmem *m);
saksi_rules_mem_stats *rmem_info(struct rmem *m);
saksi_err rmem_cmeta_get(MDB_txn *txn, MDB_dbi dbi, uint64_t *gen, uint64_t *next);
saksi_err rmem_cmeta_put(MDB_txn *txn, MDB_dbi dbi, uint64_t gen, uint64_t next);
const char *rules_sev_name(int sev);


/*
 * The LMDB glue of the engine (rules_eval.c) and the ack state (rules_ack.c): both write
 * in the caller's transaction and map LMDB's codes to the same saksi_err, so that a full
 * map is SAKSI_ERR_FULL whichever of them met it. Static inline: internal to libsaksi.
 */
static inline saksi_err
mdb_err(int rc)
{
	switch (rc) {
	case 0:
		return SAKSI_OK;
	case MDB_NOTFOUND:
		return SAKSI_ERR_NOT_FOUND;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
	case ENOSPC:
		return SAKSI_ERR_FULL;
	case ENOMEM:
		return SAKSI_ERR_NOMEM;
	case EACCES:
		return SAKSI_ERR_INVAL;   /* a write in a read-only transaction */
	case EIO:
		return SAKSI_ERR_IO;
	default:
		return SAKSI_ERR_LEDGER;
	}
}

static inline saksi_err
db_get(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t kl, MDB_val *v)
{
	MDB_val key = { kl, (void *)k };

	return mdb_err(mdb_get(txn, dbi, &key, v));
}

static inline saksi_err
db_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t kl, const void *v, size_t vl)
{
	MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };

	return mdb_err(mdb_put(txn, dbi, &key, &val, 0));
}

/*
 * The decoders of the engine's stored records on bytes (RULES.md 4.1): kind 'G' a group
 * record of rule i, 'J' a join record of join i, 'A' an alert. For the fuzz target
 * tests/fuzz/fuzz_rstate.c: what LMDB hands back is hostile if the file was altered, and
 * must be refused as SAKSI_ERR_CORRUPT, never read past its end. *canon (may be NULL) is
 * set to 1 when a decoded group encodes back to exactly the same bytes (one record, one
 * meaning). Writes nothing. SAKSI_ERR_INVAL for an unknown kind or i out of range.
 */
saksi_err saksi_rules_record_decode(const saksi_rules *r, char kind, size_t i,
                                    const uint8_t *p, size_t n, int *canon);

static inline saksi_err
db_del(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t kl)
{
	MDB_val key = { kl, (void *)k };

	return mdb_err(mdb_del(txn, dbi, &key, NULL));
}

#endif
