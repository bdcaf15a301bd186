/*
 * report.h: the supervisory unit's period report (saksi report): one self-contained HTML
 * file of charts (inline SVG, chart.h) and the tables behind them, computed from the
 * ledger through its indexes (index.h). It opens disclosures only to blind them into
 * tokens for counting; no personal value is ever written to the report (tokens are cut
 * to their first 10 characters), and nothing here prints or logs.
 *
 * Threads: the caller's read transaction, used by one thread; no state between calls.
 */
#ifndef SAKSI_REPORT_H
#define SAKSI_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <lmdb.h>

#include "blind.h"
#include "datakey.h"
#include "keys.h"
#include "ledger.h"
#include "saksi_error.h"

#define SAKSI_REPORT_DAYS_MAX 366
#define SAKSI_REPORT_BRANCH_MAX 64
/* How far past the period alert entries are looked for: a rule may judge an event of the
 * period once later events have come (a queue call once the lateness has passed). */
#define SAKSI_REPORT_ALERT_MARGIN_MS (2u * 3600 * 1000)
/* Tokens shown in the tables: the first characters only, enough to tell them apart and to
 * find the full token with saksi query on the appliance, nothing to go back from. */
#define SAKSI_REPORT_TOKEN_SHOWN 10

typedef struct saksi_report_opts {
	uint64_t ro_since_ms;       /* producer time, inclusive */
	uint64_t ro_until_ms;       /* inclusive, >= since */
	const char *ro_branch;      /* one branch code, or NULL for all */
	int ro_utc_offset_min;      /* where a day starts: -720..840 minutes from UTC */
	const char *ro_origin;      /* the log's origin, for the heading; NULL: left out */
	uint64_t ro_now_ms;         /* "generated at" */
} saksi_report_opts;

/*
 * Writes the report of the period o to out. txn: a read transaction of the ledger; dbi:
 * its index (saksi_index_open), whose tokens were made with b (the caller checks the key
 * check, saksi_index_keycheck); store and dk (dk may be NULL) open the disclosures at rest
 * (saksi_disc_open_any) of bookings and payments, to count them by device, phone and
 * account token; a forgotten participant's bookings (their disclosures no longer open)
 * are counted as not attributable. A payment is sealed with the store key (it names no
 * NIK, FORMATS.md 7.1) and stays counted.
 *
 * Errors: SAKSI_ERR_INVAL for a NULL argument, since > until, an offset out of range, a
 * branch that is empty, longer than SAKSI_REPORT_BRANCH_MAX or not printable ASCII;
 * SAKSI_ERR_RANGE for a period of more than SAKSI_REPORT_DAYS_MAX days;
 * SAKSI_ERR_TOO_LARGE for a period of more than SAKSI_INDEX_TIME_ONLY_MAX events without a
 * branch; SAKSI_ERR_CORRUPT for an indexed leaf that is not a well-formed event, or
 * disclosures that do not match their digests; errors of saksi_disc_open_any other than
 * SAKSI_ERR_NOT_FOUND; SAKSI_ERR_NOMEM, SAKSI_ERR_LEDGER; SAKSI_ERR_IO if out fails.
 * On error out may hold part of a report: write it to a temporary file.
 */
saksi_err saksi_report_write(FILE *out, saksi_ledger_txn *txn, MDB_dbi dbi,
                             const saksi_blind *b, const saksi_seckey *store,
                             saksi_datakeys *dk, const saksi_report_opts *o);

#endif
