/*
 * rulestail.h: brings the rules' in-memory state (RULES.md 4.4) up to the ledger at a
 * start: after the snapshot is loaded, the events evaluated after it are evaluated again
 * from the ledger, in ledger order, through the committer's own code (detect.h). It must
 * never write an alert twice, nor start with a state that did not raise the log's.
 */
#ifndef SAKSID_RULESTAIL_H
#define SAKSID_RULESTAIL_H

#include <stdint.h>

#include "blind.h"
#include "datakey.h"
#include "keys.h"
#include "ledger.h"
#include "rules.h"
#include "saksi_error.h"

/* Leaves evaluated again per write transaction. */
#define SAKSID_RULES_TAIL_BATCH 4096

typedef struct saksid_rules_tail {
	uint64_t rt_from, rt_to;   /* the leaves [from, to) evaluated again */
	uint64_t rt_events;        /* events among them that the engine evaluated */
	uint64_t rt_refound;       /* alerts raised again and found in the log */
	uint64_t rt_ms;            /* how long it took (monotonic clock) */
	uint64_t rt_bad;           /* SAKSI_ERR_CORRUPT: the leaf whose evaluation raised an
	                              alert other than the log's, or rt_to when the tail
	                              ended without raising the log's last ones; else
	                              UINT64_MAX */
	uint64_t rt_log_last;      /* the log's last alert id (0: none) */
	int rt_memory;             /* 1: memory mode (0: LMDB mode, nothing evaluated) */
} saksid_rules_tail;

/*
 * r attached (saksi_rules_attach committed) in memory mode: evaluates the leaves of
 * saksi_rules_resume_range again, each event with its disclosures at rest opened (store,
 * dk as for the indexer), in write transactions of at most SAKSID_RULES_TAIL_BATCH
 * leaves, then checks that every alert of the log was raised again. A rule set in LMDB
 * mode: nothing to do. st may be NULL. SAKSI_ERR_CORRUPT when the tail raises other
 * alerts than the log holds (the state does not belong to this ledger, or an event's
 * disclosures no longer open as they did), the ledger's and the engine's errors.
 */
saksi_err saksid_rules_resume(saksi_ledger *l, const saksi_rules *r, const saksi_blind *b,
                              const saksi_seckey *store, saksi_datakeys *dk,
                              saksid_rules_tail *st);

/*
 * Before the rules are attached: the tail that a start in memory mode would evaluate
 * again, read from the state database as it is (RULES.md 4.4: [N's next leaf, C's next
 * leaf)). *from == *to when there is none: no state, a state last written in LMDB mode
 * (no N or C), or a clean stop. Attaching in LMDB mode drops N and C, so a caller about
 * to do that with a tail pending must first evaluate it in memory mode (saksid does:
 * main.c), or the windows would lack those events. SAKSI_ERR_CORRUPT for records of the
 * wrong size or a tail past the ledger's end, SAKSI_ERR_INVAL, the ledger's errors.
 */
saksi_err saksid_rules_pending_tail(saksi_ledger *l, uint64_t *from, uint64_t *to);

#endif
