/*
 * report.c: saksi report, the supervisory unit's period report as one self-contained
 * HTML file (lib/report.h), made on the appliance with saksid's own keys from its config,
 * like saksi query. It writes counts and shortened blind tokens, never a personal value,
 * and writes the file whole (temporary file, rename) or not at all.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "appliance.h"
#include "blind.h"
#include "cli.h"
#include "config.h"
#include "datakey.h"
#include "index.h"
#include "report.h"

static const char usage[] =
"saksi report --since T --until T [--branch B] [--utc-offset +HH:MM]\n"
"                    [--config FILE] -o report.html\n"
"  T: YYYY-MM-DD (a whole day where --utc-offset puts it), YYYY-MM-DDTHH:MM:SSZ or\n"
"  milliseconds since the epoch";

/* --utc-offset: [+-]HH:MM, -12:00..+14:00, in minutes. */
static int
parse_offset(const char *s)
{
	int sign, h, m;
	char tail;

	if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':' ||
	    sscanf(s + 1, "%2d:%2d%c", &h, &m, &tail) != 2 || m < 0 || m > 59 || h < 0)
		xusage(usage, "--utc-offset: +HH:MM or -HH:MM");
	sign = s[0] == '-' ? -1 : 1;
	if (sign * (h * 60 + m) < -720 || sign * (h * 60 + m) > 840)
		xusage(usage, "--utc-offset: -12:00 to +14:00");
	return sign * (h * 60 + m);
}

/* T as in saksi query; a date is a whole day at the offset (its end for --until). */
static uint64_t
parse_time(const char *s, int end_of_day, int offset_min, const char *what)
{
	struct tm tm;
	const char *rest;
	time_t t;
	int64_t ms;

	if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s))
		return xparse_u64(s, what);
	memset(&tm, 0, sizeof(tm));
	rest = strptime(s, "%Y-%m-%d", &tm);
	if (rest == NULL)
		xusage(usage, "%s: give YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or milliseconds", what);
	if (*rest == '\0') {
		if ((t = timegm(&tm)) < 0)
			xusage(usage, "%s: a date after 1970", what);
		ms = (int64_t)t * 1000 - (int64_t)offset_min * 60000 +
		    (end_of_day ? 86399999 : 0);
		if (ms < 0)
			xusage(usage, "%s: a date after 1970", what);
		return (uint64_t)ms;
	}
	rest = strptime(rest, "T%H:%M:%SZ", &tm);
	if (rest == NULL || *rest != '\0' || (t = timegm(&tm)) < 0)
		xusage(usage, "%s: give YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or milliseconds", what);
	return (uint64_t)t * 1000 + (end_of_day ? 999u : 0);
}

int
cmd_report(int argc, char **argv)
{
	enum { O_CONFIG = 256, O_SINCE, O_UNTIL, O_BRANCH, O_OFFSET };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, O_CONFIG },
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "branch", required_argument, NULL, O_BRANCH },
		{ "utc-offset", required_argument, NULL, O_OFFSET },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = "/etc/saksi/saksid.conf", *since_s = NULL, *until_s = NULL,
	    *outpath = NULL;
	char *html = NULL;
	uint8_t have[8], want[8];
	uint64_t upto;
	size_t html_len = 0;
	saksi_report_opts ro;
	struct appliance x;
	saksi_ledger_txn *txn;
	MDB_dbi dbi;
	FILE *mem;
	int c, offset = 0;
	saksi_err e;

	memset(&ro, 0, sizeof(ro));
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case O_CONFIG: config = optarg; break;
		case O_SINCE: since_s = optarg; break;
		case O_UNTIL: until_s = optarg; break;
		case O_BRANCH: ro.ro_branch = optarg; break;
		case O_OFFSET: offset = parse_offset(optarg); break;
		case 'o': outpath = optarg; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (since_s == NULL || until_s == NULL)
		xusage(usage, "--since and --until are required");
	if (outpath == NULL)
		xusage(usage, "-o FILE is required (the report is one HTML file)");
	ro.ro_since_ms = parse_time(since_s, 0, offset, "--since");
	ro.ro_until_ms = parse_time(until_s, 1, offset, "--until");
	ro.ro_utc_offset_min = offset;
	if (ro.ro_since_ms > ro.ro_until_ms)
		xusage(usage, "--since is after --until");
	if (ro.ro_branch != NULL && (ro.ro_branch[0] == '\0' ||
	    strlen(ro.ro_branch) > SAKSI_REPORT_BRANCH_MAX ||
	    strspn(ro.ro_branch, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
	    strlen(ro.ro_branch)))
		xusage(usage, "--branch: a branch code, A-Z 0-9 and -");

	appliance_open(&x, config, APPLIANCE_NEED_INDEX);

	if ((e = saksi_ledger_begin(x.l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read ledger %s", x.ledger_dir);
	e = saksi_index_open(saksi_ledger_txn_mdb(txn), 0, &dbi);
	if (e == SAKSI_OK)
		e = saksi_index_state(saksi_ledger_txn_mdb(txn), dbi, &upto, have);
	if (e == SAKSI_ERR_NOT_FOUND)
		xdie("ledger %s has no indexes yet: saksid makes them when it starts with an "
		    "index_key", x.ledger_dir);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot read the indexes of %s", x.ledger_dir);
	if ((e = saksi_index_keycheck(x.blind, want)) != SAKSI_OK)
		xdie_err(e, "cannot use the index key");
	if (sodium_memcmp(have, want, 8) != 0)
		xdie("the indexes of %s were made with another index key than %s: restart "
		    "saksid with this key to rebuild them", x.ledger_dir, x.cf.cf_index_key);
	if (upto < saksi_ledger_size(txn))
		fprintf(stderr, "saksi: note: the indexes cover entries below %" PRIu64 " of %"
		    PRIu64 " (saksid is catching up): the report counts those\n", upto,
		    saksi_ledger_size(txn));

	ro.ro_origin = x.cf.cf_origin;
	ro.ro_now_ms = now_ms();
	if ((mem = open_memstream(&html, &html_len)) == NULL)
		xdie("out of memory");
	e = saksi_report_write(mem, txn, dbi, x.blind, x.store, x.dk, &ro);
	saksi_ledger_abort(txn);
	if (fclose(mem) != 0 && e == SAKSI_OK)
		e = SAKSI_ERR_NOMEM;
	if (e == SAKSI_ERR_RANGE)
		xdie("the period has more than %d days: report a year at most",
		    SAKSI_REPORT_DAYS_MAX);
	if (e == SAKSI_ERR_TOO_LARGE)
		xdie("more than %u events in the period: give --branch or a shorter period",
		    SAKSI_INDEX_TIME_ONLY_MAX);
	if (e == SAKSI_ERR_CORRUPT)
		xfail("the ledger's entries contradict its indexes or their digests: run "
		    "saksi verify");
	if (e != SAKSI_OK)
		xdie_err(e, "cannot make the report");
	/* Readable by the group (the supervisory unit), not by everyone: it holds tokens and
	 * officers' ids. */
	xwrite_file_atomic(outpath, html, html_len, 0640);
	fprintf(stderr, "saksi: report written to %s (%zu bytes)\n", outpath, html_len);
	free(html);
	appliance_close(&x);
	return SX_OK;
}
