/*
 * log.c: one line per event worth an operator's attention. Never given personal data:
 * see log.h for what callers may pass.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

void
saksid_log_init(saksid_log *lg, int to_stderr, int debug)
{
	lg->lg_stderr = to_stderr;
	lg->lg_debug = debug;
	if (!to_stderr)
		openlog("saksid", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
saksid_logf(const saksid_log *lg, int prio, const char *fmt, ...)
{
	static const char *const level[8] = { "emerg", "alert", "crit", "error", "warning",
		"notice", "info", "debug" };
	char line[1024];
	va_list ap;

	if (lg == NULL || (prio == LOG_DEBUG && !lg->lg_debug))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (lg->lg_stderr)
		fprintf(stderr, "saksid: %s: %s\n", level[prio & 7], line);
	else
		syslog(prio, "%s", line);
}
