/*
 * wire.h: request/reply framing between producers/CLI and saksid (FORMATS.md section 3).
 */
#ifndef SAKSI_WIRE_H
#define SAKSI_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define SAKSI_WIRE_VERSION 1
#define SAKSI_WIRE_MSG_MAX (4u * 1024 * 1024)
#define SAKSI_WIRE_BATCH_MAX 256

enum saksi_op {
	SAKSI_OP_SUBMIT = 1,
	SAKSI_OP_CHECKPOINT = 2,
	SAKSI_OP_INCLUSION = 3,
	SAKSI_OP_CONSISTENCY = 4,
	SAKSI_OP_GET = 5,
	SAKSI_OP_STATUS = 6,      /* the daemon's counters, a JSON object (FORMATS.md 3.3) */
	SAKSI_OP_QUERY = 7,       /* a supervisor's signed query (FORMATS.md 3.4, remoteq.h) */
};

/* Per-item results and refusal reasons, in the order the daemon checks them. */
enum saksi_reason {
	SAKSI_R_ACCEPTED = 0,
	SAKSI_R_DUPLICATE = 1,
	SAKSI_R_PARSE = 2,
	SAKSI_R_SIZE = 3,
	SAKSI_R_UNKNOWN_KEY = 4,
	SAKSI_R_REVOKED_KEY = 5,
	SAKSI_R_SIGNATURE = 6,
	SAKSI_R_ROLE = 7,
	SAKSI_R_BRANCH = 8,
	SAKSI_R_SCHEMA = 9,
	SAKSI_R_DISCLOSURE = 10,
	SAKSI_R_REPLAY = 11,
	SAKSI_R_EQUIVOCATION = 12,
	SAKSI_R_CLOCK_SKEW = 13,
	SAKSI_R_UNAVAILABLE = 14,
	SAKSI_R_BUSY = 15,        /* over the producer's share: "retry after N ms" */
	SAKSI_R__COUNT
};

/* "parse", "size", ... ; "unknown" for codes outside the enum. Static storage. */
const char *saksi_reason_name(int reason);

/*
 * The N of the first "retry after N ms" in a refusal text (the daemon's busy answer), or 0
 * when there is none or N is not a decimal number of at most 9 digits. text need not be
 * NUL-terminated.
 */
uint64_t saksi_retry_after_ms(const char *text, size_t len);

#endif
