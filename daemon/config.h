/*
 * config.h: saksid's configuration file (`key = value` lines, `#` comment lines).
 * Parsing is strict: an unknown key, a bad value or a repeated single-valued key is an
 * error naming file:line, never a silent default. Holds paths only, never secrets.
 */
#ifndef SAKSID_CONFIG_H
#define SAKSID_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "saksi_error.h"

#define SAKSID_LISTEN_MAX 8
#define SAKSID_URL_MAX 128          /* nanomsg's NN_SOCKADDR_MAX, NUL included */
#define SAKSID_GROUP_MAX_CAP 2048   /* keeps a refusal summary leaf under 65535 bytes */
#define SAKSID_WORKERS_CAP 256
#define SAKSID_CONF_FILE_MAX (1u << 20)
#define SAKSID_CONF_LINE_MAX 4096

typedef struct saksid_config {
	char *cf_path;                      /* the file read */
	char *cf_origin;                    /* log name, also the checkpoint origin */
	char *cf_state_dir;                 /* the ledger lives in state_dir/ledger */
	char *cf_listen[SAKSID_LISTEN_MAX]; /* nanomsg URLs, ipc:// and tcp:// */
	size_t cf_nlisten;
	char *cf_keyring;
	char *cf_log_key;                   /* SIGN: signs checkpoints */
	char *cf_box_key;                   /* BOX: opens sealed disclosures */
	char *cf_store_key;                 /* SYM: seals disclosures at rest */
	char *cf_schemas_dir;
	uint64_t cf_max_clock_skew_ms;      /* default 300000 */
	uint64_t cf_max_event_age_ms;       /* default 86400000; the past bound is the larger */
	unsigned cf_group_max;              /* default 512, 1..SAKSID_GROUP_MAX_CAP */
	unsigned cf_group_wait_us;          /* default 1000, 0..1000000 */
	unsigned cf_workers;                /* default: online CPUs, 1..SAKSID_WORKERS_CAP */
	size_t cf_map_size_mb;              /* 0 (default): the ledger's default */
	unsigned cf_dict_after;             /* 0 (default): the ledger's default */
	char *cf_rules;                     /* rules file (RULES.md); NULL: no detection */
	char *cf_index_key;                 /* SYM: keys the blind tokens; needed by rules */
	unsigned cf_index_catchup_batch;    /* leaves per catch-up transaction; default 512,
	                                       1..1000000 */
	char *cf_alerts_listen;             /* nanomsg PUB URL for alerts; NULL: none */
	/* Bounds and back-pressure (docs/saksid.md "Bounds"). */
	unsigned cf_max_inflight_per_key;   /* default 1024 items, 1..1000000 */
	unsigned cf_queue_mb;               /* default 256, 1..65536 */
	unsigned cf_queue_requests;         /* default 4096, 1..1000000 */
	unsigned cf_max_connections;        /* default 1024, 16..65536 (RLIMIT_NOFILE) */
	/* Refusal alerts (RULES.md 5.4); need rules. threshold 0: none. */
	uint64_t cf_refusal_alert_window_s; /* default 600, 1..86400 */
	uint64_t cf_refusal_alert_threshold;/* default 100, 0..10^9 */
	uint64_t cf_alert_ack_timeout_s;    /* re-raise after this; default 3600, 0: never */
	uint64_t cf_rules_snapshot_events;  /* rule state in memory, a snapshot every this
	                                       many events (RULES.md 4.4); default 10000,
	                                       0: in LMDB, written per event */
	uint64_t cf_rules_snapshot_ms;      /* and after this much time; default 5000, 0 never */
	unsigned cf_retention_days;         /* 0 (default): keep; else forget participants
	                                       silent for longer (needs retention_key) */
	char *cf_retention_key;             /* SIGN: signs retention's forget entries */
	char *cf_access_key;                /* SIGN: signs the access entries of remote
	                                       queries (op 7); NULL: op 7 is refused */
	uint64_t cf_max_query_age_ms;       /* a remote query's age bound; default 300000 */
	char *cf_user;                      /* started as root: the account to drop to */
	char *cf_group;                     /* its group; NULL: the user's login group */
	int cf_allow_root;                  /* 1: started as root without user, stay root */
	int cf_seccomp;                     /* 1 (default): install the system call filter */
	unsigned cf_trace_requests;         /* 0 (default): off; else the stage times of the
	                                       last this many submissions, logged on SIGUSR1
	                                       and at stop (docs/performance.md (d)) */
} saksid_config;

/*
 * Reads and validates the file `path`. Relative paths in it (state_dir, keyring, the key
 * files, schemas_dir, rules, and the path of an ipc:// URL) are made relative to the directory
 * of `path`. On error (SAKSI_ERR_FORMAT for content, SAKSI_ERR_IO / SAKSI_ERR_NOT_FOUND /
 * SAKSI_ERR_TOO_LARGE for the file) errbuf says what, as "FILE:LINE: message" when a line
 * is at fault. cfg is filled only on SAKSI_OK; free it with saksid_config_free.
 */
saksi_err saksid_config_load(const char *path, saksid_config *cfg, char *errbuf,
                             size_t errlen);
/* The same from text already read; `path` names it in messages and anchors relative
 * paths. */
saksi_err saksid_config_parse(const char *path, const char *text, size_t len,
                              saksid_config *cfg, char *errbuf, size_t errlen);
void saksid_config_free(saksid_config *cfg);

#endif
