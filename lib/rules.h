/*
 * rules.h: the broker-pattern detectors (schemas/RULES.md). A rules file is parsed into an
 * immutable saksi_rules; saksi_rules_eval feeds it one committed event at a time and keeps
 * the window state in LMDB, in the caller's write transaction, so that state, alerts and
 * the ledger append that fed them commit or vanish together; or, in memory mode
 * (saksi_rules_memory, RULES.md 4.4), in memory that follows the caller's transactions,
 * with snapshots in them and the ledger's tail evaluated again after a crash.
 *
 * Nothing here ever sees a personal value: events carry blind tokens (blind.h) in place
 * of them, and saksi_rules_eval refuses an event that carries a personal field in clear.
 *
 * Threads: a loaded saksi_rules is read-only after saksi_rules_attach; any number of
 * threads may use it, each with its own transaction. All state changes go through the
 * MDB_txn passed in, so LMDB's single-writer rule orders them. In memory mode
 * (saksi_rules_memory) the windows are r's own: evaluate, snapshot and read counters
 * from one thread at a time (saksid's committer, under its lock). Same events in the same
 * order give the same alerts, with the same ids: replaying a ledger reproduces them.
 */
#ifndef SAKSI_RULES_H
#define SAKSI_RULES_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "saksi_error.h"

#define SAKSI_RULES_VERSION 1
#define SAKSI_RULES_FILE_MAX (1u << 20)   /* bytes of a rules file */
#define SAKSI_RULES_ID_MAX 48             /* rule, select and join names */
#define SAKSI_RULES_FIELD_MAX 32          /* field names */
#define SAKSI_RULES_VALUE_MAX 128         /* bytes of one field value */
#define SAKSI_RULES_EVENT_FIELDS 64       /* fields of one event */
#define SAKSI_RULES_GROUP_MAX 1536        /* bytes of an alert's group text */
#define SAKSI_ALERT_EVIDENCE_MAX 64       /* leaf indices carried by one alert */
/* The named LMDB database holding all rule state (RULES.md 4). */
#define SAKSI_RULES_DB "rules"

typedef struct saksi_rules saksi_rules;

/*
 * One field of an event as the daemon hands it over: the payload member's name, and its
 * value as text. Non-personal values are given as they stand in the payload (strings
 * without quotes, integers in decimal, booleans as "true"/"false"); arrays and objects are
 * left out. A personal field (blind.h saksi_blind_field_personal) must be given as its
 * blind token with rf_personal = 1; bank_account's token covers bank_code.
 */
typedef struct saksi_rule_field {
	const char *rf_name;
	const char *rf_value;
	int rf_personal;
} saksi_rule_field;

/* One committed event. The producer's time_ms is the time of the action, and it is the
 * only clock any rule uses. re_branch is the payload's branch (also a field "branch"). */
typedef struct saksi_rule_event {
	uint64_t re_index;          /* ledger leaf index */
	const char *re_type;        /* event type, e.g. "queue.booking.created" */
	uint64_t re_time_ms;        /* the envelope's time_ms */
	const char *re_branch;
	const saksi_rule_field *re_fields;
	size_t re_nfields;
} saksi_rule_event;

enum saksi_alert_kind {
	SAKSI_ALERT_RULE = 1,       /* a rule's condition held */
	SAKSI_ALERT_CAP = 2,        /* a state cap forced groups, values or join entries out */
	SAKSI_ALERT_LATE = 3,       /* events arrived later than the lateness bound */
	SAKSI_ALERT_RERAISE = 4,    /* not acknowledged in time: raised again (RULES.md 5.3) */
	SAKSI_ALERT_REFUSALS = 5,   /* refusals of one reason rose past a threshold (RULES.md 5.4) */
};

enum saksi_severity {
	SAKSI_SEV_LOW = 1,
	SAKSI_SEV_MEDIUM,
	SAKSI_SEV_HIGH,
	SAKSI_SEV_CRITICAL,
};

/* An alert as stored (RULES.md 5). Carries tokens and non-personal values only. */
typedef struct saksi_alert {
	uint64_t al_id;             /* 1, 2, ... in the order raised */
	int al_kind;                /* enum saksi_alert_kind */
	int al_severity;            /* enum saksi_severity */
	char al_rule[SAKSI_RULES_ID_MAX + 6];   /* rule id; "join:NAME"; "late" */
	char al_group[SAKSI_RULES_GROUP_MAX + 1]; /* "field=value,..." or "*" */
	uint64_t al_first_ms;       /* producer-time window of the evidence */
	uint64_t al_last_ms;
	uint64_t al_value;          /* count, distinct count, ... (RULES.md 3 per type) */
	uint64_t al_threshold;      /* what al_value was compared with */
	uint64_t al_extra;          /* per type: places skipped (queue_order), else 0 */
	uint64_t al_trigger;        /* leaf index of the event whose evaluation raised it */
	uint32_t al_total;          /* events in the window (may exceed al_nevidence) */
	uint32_t al_nevidence;
	uint64_t al_evidence[SAKSI_ALERT_EVIDENCE_MAX]; /* leaf indices, ascending */
} saksi_alert;

typedef struct saksi_rules_result {
	int rr_late;                /* 1: older than the lateness bound; counted, not evaluated */
	uint64_t rr_evicted;        /* groups, values and join entries a cap forced out now */
	uint64_t rr_first_alert;    /* id of the first alert raised by this call, 0 if none */
	uint64_t rr_nalerts;        /* alerts raised: ids rr_first_alert .. + rr_nalerts - 1 */
	uint64_t rr_refound;        /* memory mode, re-evaluating the tail after a restart:
	                               alerts raised again and found in the log, byte for
	                               byte (not counted in rr_nalerts) */
} saksi_rules_result;

typedef struct saksi_rule_stats {
	uint64_t rs_matched;        /* events that fed the rule (join: entries stored) */
	uint64_t rs_alerts;         /* alerts of kind RULE raised */
	uint64_t rs_groups;         /* groups (join: entries) held now */
	uint64_t rs_groups_evicted; /* groups (join entries) forced out by max_groups */
	uint64_t rs_values_evicted; /* values forced out of a group by max_values */
} saksi_rule_stats;

/*
 * Parses a rules file held in memory (text[0..len), no NUL needed; name is used in
 * messages only). schema_dir, if not NULL, is a directory of event schemas
 * (schemas/events): every event type and field a rule names is then checked against them.
 * On error *out is NULL and errbuf holds one line naming the place,
 * "NAME:LINE: what is wrong" (errbuf may be NULL):
 * SAKSI_ERR_FORMAT for anything the grammar or the semantics of RULES.md 2-3 refuse,
 * SAKSI_ERR_VERSION for a header other than "saksi-rules 1", SAKSI_ERR_TOO_LARGE for a
 * file over SAKSI_RULES_FILE_MAX or a line over 1024 bytes, SAKSI_ERR_NOT_FOUND or
 * SAKSI_ERR_IO for a schema_dir that cannot be read, SAKSI_ERR_INVAL for NULL text/out,
 * SAKSI_ERR_NOMEM.
 */
saksi_err saksi_rules_parse(const char *text, size_t len, const char *name,
                            const char *schema_dir, saksi_rules **out, char *errbuf,
                            size_t errlen);
/* Reads path (a regular file, no symlink) and parses it. Messages name the file.
 * SAKSI_ERR_NOT_FOUND, SAKSI_ERR_IO besides saksi_rules_parse's codes. */
saksi_err saksi_rules_load(const char *path, const char *schema_dir, saksi_rules **out,
                           char *errbuf, size_t errlen);
/* saksi_rules_load that also hands back the bytes it parsed (*text, NUL-terminated,
 * *len bytes; the caller frees it), so that what is said about the file (its hash, say)
 * is about the rules in force, not about a later read. On error *text is NULL. */
saksi_err saksi_rules_load_text(const char *path, const char *schema_dir, saksi_rules **out,
                                char **text, size_t *len, char *errbuf, size_t errlen);
void saksi_rules_free(saksi_rules *r);

/* Rules in file order. */
size_t saksi_rules_count(const saksi_rules *r);
const char *saksi_rules_id_at(const saksi_rules *r, size_t i);
uint64_t saksi_rules_lateness_ms(const saksi_rules *r);

/*
 * Binds r to the state database in the environment of wtxn (a write transaction):
 * opens or creates the named database SAKSI_RULES_DB (the environment needs room for
 * one more named database), checks its format, and drops the state of every rule or
 * join that is no longer in r, or whose definition changed (RULES.md 4.2). The caller
 * must commit wtxn before using r in another transaction (LMDB's rule for a new dbi).
 * Call it again, on the new saksi_rules, after a reload.
 * SAKSI_ERR_VERSION for state of another format version, SAKSI_ERR_CORRUPT for a state
 * record that contradicts the format, SAKSI_ERR_FULL, SAKSI_ERR_LEDGER, SAKSI_ERR_INVAL.
 */
saksi_err saksi_rules_attach(saksi_rules *r, MDB_txn *wtxn);
/*
 * For readers (a verifier's or auditor's copy): binds r to existing state through any
 * transaction, checking only the format; nothing is written or dropped, and
 * saksi_rules_eval will fail. saksi_rules_stats then reads the counters through memory
 * mode's deltas (RULES.md 4.4), as the last committed snapshot has them.
 * SAKSI_ERR_NOT_FOUND if the environment has no rule state, SAKSI_ERR_VERSION,
 * SAKSI_ERR_CORRUPT, SAKSI_ERR_LEDGER, SAKSI_ERR_NOMEM, SAKSI_ERR_INVAL.
 */
saksi_err saksi_rules_attach_readonly(saksi_rules *r, MDB_txn *txn);

/*
 * Evaluates one committed event in wtxn, the transaction that appends it: updates every
 * rule's windows, raises alerts into the state's alert log (ids in *res) and evaluates
 * deferred checks that the event's time has made final (RULES.md 3.1). An event older
 * than the lateness bound is counted and reported (res->rr_late), not evaluated.
 * SAKSI_ERR_INVAL for a malformed event (bad names, a value over SAKSI_RULES_VALUE_MAX
 * bytes or not printable ASCII, a duplicate field, a personal field not given as a blind
 * token, a branch field differing from re_branch): nothing is written then.
 * SAKSI_ERR_FULL (map full), SAKSI_ERR_CORRUPT, SAKSI_ERR_LEDGER, SAKSI_ERR_NOMEM: the
 * state written so far in wtxn is incomplete, and the caller must abort wtxn.
 * res may be NULL.
 */
saksi_err saksi_rules_eval(const saksi_rules *r, MDB_txn *wtxn, const saksi_rule_event *ev,
                           saksi_rules_result *res);

/*
 * The checks saksi_rules_eval makes of an event before it touches any state, alone:
 * SAKSI_ERR_INVAL exactly when saksi_rules_eval would refuse ev as malformed (ev NULL
 * too), else SAKSI_OK. Pure: no rules, no state, any thread (saksid's ingest workers).
 * re_index and re_time_ms are not checked.
 */
saksi_err saksi_rules_event_check(const saksi_rule_event *ev);
/*
 * saksi_rules_event_check with the personal flags taken as given: for an event built
 * so that every field flagged personal holds a token saksi_blind_token or
 * saksi_blind_account made, and no other field has a personal field's name
 * (lib/detect.c: it drops personal names from the payload and blinds the disclosures
 * itself). A base64 decode per token and a name lookup per field were a third of the
 * ingest workers' detection cost. Any other caller: saksi_rules_event_check.
 */
saksi_err saksi_rules_event_check_blinded(const saksi_rule_event *ev);
/*
 * saksi_rules_eval for an event that saksi_rules_event_check passed, without checking
 * it again (the personal flags are taken as given): saksid's workers check on every
 * core and the committer only evaluates. The same state, alerts and errors as
 * saksi_rules_eval for such an event; for one not checked, anything may happen: only
 * code that checked the very same fields may call it (lib/detect.c).
 */
saksi_err saksi_rules_eval_checked(const saksi_rules *r, MDB_txn *wtxn,
                                   const saksi_rule_event *ev, saksi_rules_result *res);

/*
 * Window state in memory (RULES.md 4.4). Call before saksi_rules_attach: from then on
 * windows, joins, expiry, deferred checks and counters live in memory, with the same
 * semantics and the same alerts; the alert log, its marks and the ack state stay in
 * LMDB, written per event as before. A snapshot of the changed state goes into the
 * caller's transaction after every `events` (> 0) evaluated events, and through
 * saksi_rules_snapshot when `ms` (0: never) of daemon time have passed. attach loads the
 * last snapshot; the events evaluated after it (saksi_rules_resume_range) must then be
 * evaluated again, in ledger order, before any new one: the alerts they raise again are
 * compared with the log byte for byte and not written twice (rr_refound), a difference
 * is SAKSI_ERR_CORRUPT. Memory follows the caller's transactions: an aborted one's
 * changes are undone when the next evaluation or snapshot sees that it was lost.
 * SAKSI_ERR_INVAL for events 0 or a rule set attached already.
 */
saksi_err saksi_rules_memory(saksi_rules *r, uint64_t events, uint64_t ms);
/*
 * Writes a snapshot into wtxn if one is due (the event count, or ms of daemon time since
 * the last one, now_ms the daemon's clock) or force is set; *written (may be NULL) says
 * whether it did. The committer calls it in each group's transaction; force before a
 * rules reload, before detection is turned off, and in a transaction that forgets a
 * participant (whose disclosures could not be opened again to re-evaluate the tail).
 * SAKSI_ERR_INVAL without memory mode; LMDB errors (the caller aborts wtxn).
 */
saksi_err saksi_rules_snapshot(const saksi_rules *r, MDB_txn *wtxn, uint64_t now_ms,
                               int force, int *written);
/* The ledger leaves [*from, *to) to evaluate again after attach (from == to: none). */
saksi_err saksi_rules_resume_range(const saksi_rules *r, uint64_t *from, uint64_t *to);
/* After the tail: SAKSI_ERR_CORRUPT if it did not raise again every alert of the log. */
saksi_err saksi_rules_resume_check(const saksi_rules *r, MDB_txn *txn);

typedef struct saksi_rules_mem_stats {
	uint64_t ms_snapshots;      /* snapshots written (committed or not) by this r */
	uint64_t ms_last_keys;      /* keys the last one wrote */
	uint64_t ms_rollbacks;      /* lost transactions whose changes were undone */
	uint64_t ms_keys;           /* keys held in memory */
	uint64_t ms_pending;        /* keys changed since the last snapshot */
	uint64_t ms_since;          /* events evaluated since the last snapshot */
	uint64_t ms_resume_from, ms_resume_to;  /* as saksi_rules_resume_range */
	uint64_t ms_refound;        /* alerts the tail raised again and found in the log */
	uint64_t ms_snap_ms;        /* daemon time of the last timed snapshot check */
	uint64_t ms_folds;          /* snapshots that folded the deltas (committed or not) */
	uint64_t ms_attach_folded;  /* delta records the attach applied to the base */
	uint64_t ms_fold_steps;     /* slices of folds written (committed or not) */
} saksi_rules_mem_stats;
/* SAKSI_ERR_INVAL without memory mode. */
saksi_err saksi_rules_memory_stats(const saksi_rules *r, saksi_rules_mem_stats *out);

/* Alert id (1..) as raised; SAKSI_ERR_NOT_FOUND if none such. Any transaction. */
saksi_err saksi_rules_alert_get(const saksi_rules *r, MDB_txn *txn, uint64_t id,
                                saksi_alert *out);
/* Id of the last alert raised (0 if none). */
saksi_err saksi_rules_alert_last(const saksi_rules *r, MDB_txn *txn, uint64_t *id);
/* The publisher's mark: alerts up to *id have been handed on (0 at first). set needs a
 * write transaction and never moves the mark back (SAKSI_ERR_RANGE) or past the last
 * alert (SAKSI_ERR_RANGE). */
saksi_err saksi_rules_published_get(const saksi_rules *r, MDB_txn *txn, uint64_t *id);
saksi_err saksi_rules_published_set(const saksi_rules *r, MDB_txn *wtxn, uint64_t id);

/* One line of compact JSON (RULES.md 5.2), malloc'd, NUL-terminated. */
saksi_err saksi_alert_json(const saksi_alert *a, char **json);

/*
 * Acknowledgement and re-raise (RULES.md 5.3). This state depends on the daemon's clock
 * and on ack events, never the other way round: nothing here changes what
 * saksi_rules_eval raises, nor the ids it gives (kinds 1-3 replay the same without it).
 * Re-raises are not in the alert log: they carry their original alert's id, and have a
 * log of their own, numbered 1, 2, ... (saksi_rules_reraise_get).
 */
#define SAKSI_RERAISE_MAX 3         /* re-raises of one alert at most: low -> critical */

typedef struct saksi_alert_state {
	int as_tracked;             /* 1: entered by saksi_rules_alert_track (re-raisable) */
	int as_acked;               /* 1: acknowledged; the chain is closed */
	uint32_t as_raises;         /* re-raises so far, 0..SAKSI_RERAISE_MAX */
	int as_severity;            /* severity of the latest raise (tracked only) */
	uint64_t as_leaf;           /* leaf index of the alert's own entry (tracked only) */
	uint64_t as_raised_ms;      /* daemon time of the latest raise (tracked only) */
	uint64_t as_ack_leaf;       /* leaf index of the acknowledging event (acked only) */
	uint64_t as_ack_ms;         /* daemon time its group committed (acked only) */
} saksi_alert_state;

/*
 * Records that alert id (in the alert log) is now in the ledger at leaf index leaf,
 * committed at daemon time now_ms, open: call it in the transaction that appends the
 * alert's entry. SAKSI_ERR_NOT_FOUND if the log has no such alert, SAKSI_ERR_EXISTS if
 * it is tracked already, SAKSI_ERR_FULL, SAKSI_ERR_CORRUPT, SAKSI_ERR_LEDGER,
 * SAKSI_ERR_INVAL (not attached for writing is the caller's error, as for eval).
 */
saksi_err saksi_rules_alert_track(const saksi_rules *r, MDB_txn *wtxn, uint64_t id,
                                  uint64_t leaf, uint64_t now_ms);
/* State of alert id, any transaction. An alert of the log never tracked (raised before
 * this state existed) reads as open and untracked. SAKSI_ERR_NOT_FOUND if the log has no
 * alert id, SAKSI_ERR_CORRUPT, SAKSI_ERR_LEDGER, SAKSI_ERR_INVAL. */
saksi_err saksi_rules_alert_state(const saksi_rules *r, MDB_txn *txn, uint64_t id,
                                  saksi_alert_state *out);
/*
 * Acknowledges alert id: the event at leaf ack_leaf, committed at now_ms, closes its
 * chain (no more re-raises). Call it in the transaction that appends the ack event, after
 * saksi_rules_alert_state said it is open. SAKSI_ERR_NOT_FOUND: no such alert;
 * SAKSI_ERR_EXISTS: acknowledged already; both write nothing. SAKSI_ERR_FULL,
 * SAKSI_ERR_CORRUPT, SAKSI_ERR_LEDGER, SAKSI_ERR_INVAL.
 */
saksi_err saksi_rules_alert_ack(const saksi_rules *r, MDB_txn *wtxn, uint64_t id,
                                uint64_t ack_leaf, uint64_t now_ms);
/*
 * The open tracked alert raised longest ago whose latest raise is at least timeout_ms
 * before now_ms (timeout_ms > 0): *id. SAKSI_ERR_NOT_FOUND if none is due.
 */
saksi_err saksi_rules_reraise_due(const saksi_rules *r, MDB_txn *txn, uint64_t now_ms,
                                  uint64_t timeout_ms, uint64_t *id);
/*
 * Raises open tracked alert id again at daemon time now_ms: *out is the re-raise (kind 4,
 * FORMATS.md 4: the original's fields, severity one higher up to critical, extra = its
 * number in the chain, trigger = evidence[0] = the original's leaf), appended to the
 * re-raise log; the alert's state moves on, and the chain stops after a re-raise at
 * critical. Call it in the transaction that appends out as a leaf.
 * SAKSI_ERR_NOT_FOUND (no such alert), SAKSI_ERR_RANGE (acked, untracked or its chain
 * has ended), SAKSI_ERR_FULL, SAKSI_ERR_CORRUPT, SAKSI_ERR_LEDGER, SAKSI_ERR_INVAL.
 */
saksi_err saksi_rules_reraise(const saksi_rules *r, MDB_txn *wtxn, uint64_t id,
                              uint64_t now_ms, saksi_alert *out);
/* The re-raise log: the last number (0 if none), one entry, and the publisher's mark,
 * as for the alert log (set never moves back nor past the last: SAKSI_ERR_RANGE). */
saksi_err saksi_rules_reraise_last(const saksi_rules *r, MDB_txn *txn, uint64_t *n);
saksi_err saksi_rules_reraise_get(const saksi_rules *r, MDB_txn *txn, uint64_t n,
                                  saksi_alert *out);
saksi_err saksi_rules_reraise_published_get(const saksi_rules *r, MDB_txn *txn,
                                            uint64_t *n);
saksi_err saksi_rules_reraise_published_set(const saksi_rules *r, MDB_txn *wtxn,
                                            uint64_t n);

/* Counters of a rule (its id) or a join ("join:NAME"); SAKSI_ERR_NOT_FOUND for an id
 * not in r. Counters start at zero when a rule's definition changes. */
saksi_err saksi_rules_stats(const saksi_rules *r, MDB_txn *txn, const char *id,
                            saksi_rule_stats *out);
/* Events counted as late since the state began. */
saksi_err saksi_rules_late(const saksi_rules *r, MDB_txn *txn, uint64_t *late);

#endif
