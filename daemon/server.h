/*
 * server.h: saksid's nanomsg front: one raw REP socket bound to every listen URL, a
 * receiver thread, `workers` checking threads and the committer thread. Many requests
 * are in flight at once; each is answered when all of its items are decided.
 * Memory is bounded: when the queues are full a request is answered `unavailable`, and a
 * producer key with more than its share of items in flight is answered `busy` with a
 * retry hint, so one flooding producer cannot take the queue from the others.
 */
#ifndef SAKSID_SERVER_H
#define SAKSID_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "blind.h"
#include "commit.h"
#include "datakey.h"
#include "ingest.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "saksi_error.h"
#include "wire.h"

typedef struct saksid_server_opts {
	const char *const *so_listen;   /* nanomsg URLs */
	size_t so_nlisten;
	saksi_ledger *so_ledger;        /* borrowed: read ops open read txns on it */
	const saksid_ingest *so_ingest; /* borrowed, shared by the workers */
	int so_ingest_owned;            /* 1: once saksid_server_bind succeeds the server owns
	                                 * so_ingest and frees it (its disclosure keys wiped)
	                                 * when a keyring reload replaces it, or at stop */
	saksid_committer *so_committer; /* borrowed, used by the committer thread only */
	unsigned so_workers;            /* >= 1 */
	unsigned so_group_max;          /* 1..SAKSID_COMMIT_ITEMS_MAX */
	unsigned so_group_wait_us;
	size_t so_queue_bytes;          /* cap on queued request bytes; 0 = 256 MiB */
	unsigned so_queue_reqs;         /* cap on queued requests; 0 = 4096 */
	const saksid_log *so_log;       /* may be NULL */
	unsigned so_key_inflight;       /* items in flight per producer key; 0 = 1024 */
	const char *so_state_dir;       /* statvfs'd for the status op; NULL: not reported */
	const char *so_origin;          /* named in the status op; may be NULL */
	unsigned so_tick_ms;            /* 0: none; else the committer calls
	                                 * saksid_commit_reraise (and a retention pass
	                                 * when due) at least this often */
	/*
	 * Remote queries (op 0x07, FORMATS.md 3.4), all borrowed; so_access_key NULL: op 7
	 * is answered `unavailable`. The request's key must be in the keyring in force
	 * (so_keyring, the start's, until a reload replaces it: saksid_server_keyring_swap)
	 * with role supervisor (masked, reveal) or security (masked); the query runs on
	 * the indexes (so_blind, the index key) with the disclosures opened by so_store_key
	 * and so_query_dk (a reader's handle of its own: the server uses it under a lock);
	 * so_box_key opens the sealed filters; an access entry (supervisor.access.logged
	 * carrying the signed request) signed by so_access_key is committed before a
	 * personal look's rows leave; so_log_key signs the replies.
	 */
	const saksi_keyring *so_keyring;
	const saksi_blind *so_blind;
	const saksi_seckey *so_store_key;
	saksi_datakeys *so_query_dk;    /* may be NULL: a ledger without data keys */
	const saksi_seckey *so_box_key;
	const saksi_seckey *so_log_key;
	const saksi_seckey *so_access_key;
	uint64_t so_query_max_age_ms;   /* 0: SAKSI_RQ_MAX_AGE_MS_DEFAULT */
	unsigned so_trace;              /* 0: off; else the stage times of the last so_trace
	                                 * submissions are kept (saksid_server_trace) */
} saksid_server_opts;

typedef struct saksid_server saksid_server;

/* Counters since start (for tests and the final log line). */
typedef struct saksid_server_stats {
	uint64_t ss_requests;
	uint64_t ss_groups;
	uint64_t ss_items[SAKSI_R__COUNT]; /* by final code (enum saksi_reason) */
	uint64_t ss_busy;        /* requests answered `unavailable` because queues were full */
	uint64_t ss_bad;         /* requests refused as a whole (parse/size) */
	/* Whole requests refused, by status (parse, size, unavailable, busy), and the items
	 * they carried (when their count could be read): nothing is dropped uncounted. */
	uint64_t ss_req_refused[SAKSI_R__COUNT];
	uint64_t ss_req_refused_items[SAKSI_R__COUNT];
	uint64_t ss_status;      /* status requests answered */
	uint64_t ss_queries;     /* remote queries answered with rows (op 7) */
	uint64_t ss_query_refused; /* remote queries refused */
	uint64_t ss_rechecked;   /* items checked again by the committer: a keyring reload
	                            replaced the keyring they were first checked under */
	/* Alert acknowledgements (security.alert.acked) refused, by final code: ss_items
	 * counts them among the rest (an ack of an alert not open is `schema`). */
	uint64_t ss_ack_refused[SAKSI_R__COUNT];
	uint64_t ss_reloads;     /* keyring reloads handed to the committer */
	uint64_t ss_checked;     /* requests whose every item a worker has checked (queued
	                          * for the committer): what a test waits on */
	uint64_t ss_closed;      /* groups the committer has taken, before their commit */
} saksid_server_stats;

/*
 * Binds the socket to every URL and starts the threads. SAKSI_ERR_NET (errbuf names the
 * URL and the reason) if a bind fails, SAKSI_ERR_INVAL for bad options,
 * SAKSI_ERR_NOMEM / SAKSI_ERR_IO if a thread cannot start.
 */
saksi_err saksid_server_start(const saksid_server_opts *opts, saksid_server **out,
                              char *errbuf, size_t errlen);
/*
 * saksid_server_start in two steps, so that the daemon serves nothing before its
 * sandbox is up. bind: checks the options and binds the socket to every URL (the ipc
 * socket files exist when it returns, to be chowned), and starts no thread of the
 * server's; a request that arrives waits in nanomsg's queue, unanswered. Same errors as
 * saksid_server_start, less the thread ones. run: starts the committer, the workers
 * and last the receiver; a request waiting is answered from then on. SAKSI_ERR_INVAL if
 * s is NULL or already ran, SAKSI_ERR_IO if a thread cannot start (then only
 * saksid_server_stop, which joins what did start). A bound server that never ran is
 * stopped with saksid_server_stop too (its waiting requests are never answered).
 */
saksi_err saksid_server_bind(const saksid_server_opts *opts, saksid_server **out,
                             char *errbuf, size_t errlen);
saksi_err saksid_server_run(saksid_server *s, char *errbuf, size_t errlen);
/*
 * Stops: no new requests are taken, the group being committed is finished and answered,
 * requests not yet in a group are answered `unavailable`, the threads are joined and the
 * socket closed. The ledger, ingest context and committer stay the caller's. If final
 * is non-NULL it gets the counters as they stand at the end. s may be NULL. Call it
 * once, from a thread that is not one of the server's.
 */
void saksid_server_stop(saksid_server *s, saksid_server_stats *final);

void saksid_server_stats_get(saksid_server *s, saksid_server_stats *st);

/*
 * A keyring reload (SIGHUP, keyreload.h) without a restart. Every item is checked under
 * one keyring generation; the committer thread alone changes it, between two groups:
 * it records the new keyring's entries (saksid_commit_keyring_parts at now_ms: bodies,
 * lens, n, as at start) in a commit group of their own and only then makes ig the
 * context the workers check with. A request whose first items were checked under an
 * older generation has its passing items, and those refused for the keyring's own
 * reasons (unknown_key, revoked_key, role, branch), checked again under the new one before its
 * group commits (ss_rechecked), so that no event ever follows the entry of a keyring it
 * was not checked under, and none is refused under a keyring no longer in force. Remote
 * queries are checked under the generation in force when a worker takes them; a
 * personal look's access entry committed after a reload first has its requester checked
 * again under the new keyring (saksid_remote_recheck): refused, nothing is written and
 * the requester gets the refusal. ss_reloads counts the calls handed to the committer. ig: made on kr (saksid_ingest_new) and set up as the start's
 * (saksid_ingest_detect, _index, _shred). Waits until the committer has done it. On
 * SAKSI_OK the server owns ig and kr (freed once no worker checks with them, or at
 * stop) and *index (may be NULL) is the first entry's index (an existing one if the
 * ledger's last keyring is already this one); on failure they stay the caller's and the
 * old keyring stays in force. SAKSI_ERR_INVAL for a NULL argument, a server that does
 * not run or stops, or another swap under way; SAKSI_ERR_NOMEM; the ledger's errors.
 * Any thread but the server's own.
 */
saksi_err saksid_server_keyring_swap(saksid_server *s, saksid_ingest *ig, saksi_keyring *kr,
                                     const uint8_t *const *bodies, const size_t *lens,
                                     size_t n, uint64_t now_ms, uint64_t *index);
/*
 * The status op's "keyring" member (FORMATS.md 3.3) as compact JSON object text, copied
 * (NULL: null); the server adds "rechecked" (ss_rechecked). Any thread. SAKSI_ERR_INVAL,
 * SAKSI_ERR_NOMEM.
 */
saksi_err saksid_server_keyring_info_set(saksid_server *s, const char *json);

/*
 * The status op's reply body (FORMATS.md 3.3): one line of compact JSON with sorted keys,
 * malloc'd and NUL-terminated, from the counters above, the ledger (a read transaction),
 * the committer and statvfs of so_state_dir. Any thread. SAKSI_ERR_NOMEM, or the ledger's
 * error.
 */
saksi_err saksid_server_status_json(saksid_server *s, char **json);

/*
 * The stage trace (so_trace > 0; issue 3 (d): where a receipt's time goes). Every
 * submission is stamped (CLOCK_MONOTONIC) as it passes each stage; the committer keeps
 * the last so_trace of them, and the groups since the last reset by why they closed.
 * The stages, each from the end of the one before:
 */
enum saksid_trace_stage {
	SAKSID_TS_QUEUE,     /* taken off the socket -> framed and queued */
	SAKSID_TS_CLAIM,     /* queued -> a worker took its first items */
	SAKSID_TS_CHECK,     /* taken -> its last item checked */
	SAKSID_TS_HANDOFF,   /* checked -> the committer took it into a group */
	SAKSID_TS_FILL,      /* taken into a group -> the group closed */
	SAKSID_TS_COMMIT,    /* group closed -> committed, synced, receipts built */
	SAKSID_TS_ANSWER,    /* receipts built -> its answer handed to nanomsg */
	SAKSID_TS_TOTAL,     /* taken off the socket -> answer handed to nanomsg */
	SAKSID_TS__COUNT
};

/* Why a group closed. */
enum saksid_trace_close {
	SAKSID_TC_FULL,      /* group_max items */
	SAKSID_TC_NOFIT,     /* the next checked request would not fit */
	SAKSID_TC_WAITED,    /* group_wait_us passed */
	SAKSID_TC_IDLE,      /* nothing else was checked and the committer had been idle */
	SAKSID_TC_STOP,      /* the server stops */
	SAKSID_TC__COUNT
};

typedef struct saksid_trace_summary {
	uint64_t ts_requests;    /* submissions summarized: the last ones, at most so_trace */
	uint64_t ts_items;       /* their items */
	uint64_t ts_unordered;   /* of them, stamped out of stage order (a bug if not 0) */
	uint64_t ts_groups;      /* groups committed since the last reset */
	uint64_t ts_closed[SAKSID_TC__COUNT];
	/* Per stage, microseconds over the submissions summarized: */
	uint64_t ts_p50_us[SAKSID_TS__COUNT];
	uint64_t ts_p99_us[SAKSID_TS__COUNT];
	uint64_t ts_max_us[SAKSID_TS__COUNT];
	uint64_t ts_tail_us[SAKSID_TS__COUNT];   /* mean over the slowest 1 % by total */
	uint64_t ts_group_p50, ts_group_p99;     /* items in a submission's group */
} saksid_trace_summary;

/*
 * Fills *out from the trace, and with reset starts it again (records and group counts).
 * SAKSI_ERR_INVAL if s is NULL or its trace is off, SAKSI_ERR_NOMEM. Any thread but the
 * server's own.
 */
saksi_err saksid_server_trace(saksid_server *s, saksid_trace_summary *out, int reset);
/* The same as log lines (LOG_NOTICE, "trace: ..."), then reset; nothing if the trace is
 * off. saksid calls it on SIGUSR1 and at stop. */
void saksid_server_trace_log(saksid_server *s);

#endif
