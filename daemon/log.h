/*
 * log.h: saksid's log lines, to stderr (-d) or syslog. Callers log key ids, event types,
 * reasons and counts only: never a payload, a disclosure or a refusal message (which may
 * quote submitted bytes).
 */
#ifndef SAKSID_LOG_H
#define SAKSID_LOG_H

#include <syslog.h>

typedef struct saksid_log {
	int lg_stderr;   /* 1: stderr, 0: syslog (LOG_DAEMON) */
	int lg_debug;    /* 1: also LOG_DEBUG lines */
} saksid_log;

/* Opens syslog when to_stderr is 0. */
void saksid_log_init(saksid_log *lg, int to_stderr, int debug);
/* lg may be NULL: then nothing is logged (tests). */
void saksid_logf(const saksid_log *lg, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
