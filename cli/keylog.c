/*
 * keylog.c: saksi keyring-history, the keyring entries of a ledger copy (FORMATS.md 4,
 * kind 4) and what each changed, so that a reviewer sees a revocation lifted or a role
 * widened where it happened. Reads only; it proves nothing by itself: saksi verify does.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "keylog.h"
#include "ledger.h"

#define DIFF_MAX 65536

static void
iso(uint64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "?");
}

static json_t *
lines_json(const char *text)
{
	json_t *a = json_array();
	const char *p = text, *nl;

	while (a != NULL && (nl = strchr(p, '\n')) != NULL) {
		json_array_append_new(a, json_stringn(p, (size_t)(nl - p)));
		p = nl + 1;
	}
	if (a == NULL)
		xdie("out of memory");
	return a;
}

int
cmd_keyring_history(int argc, char **argv)
{
	static const char usage[] = "saksi keyring-history --ledger DIR [--json]";
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	int c, json = 0, n;
	saksi_ledger *l;
	saksi_ledger_txn *txn;
	uint64_t i, size, count = 0;
	char *prev = NULL, *diff, when[32], why[256];
	size_t prev_len = 0;
	json_t *arr = NULL;
	saksi_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': dir = optarg; break;
		case 'j': json = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (dir == NULL)
		xusage(usage, "--ledger is required");
	l = xledger_open_ro(dir);
	if ((e = saksi_ledger_begin(l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read the ledger");
	if (json && (arr = json_array()) == NULL)
		xdie("out of memory");
	diff = xmalloc(DIFF_MAX);
	size = saksi_ledger_size(txn);
	for (i = 0; i < size; i++) {
		uint8_t *leaf;
		size_t len, cur_len, np;
		saksi_leaf lf;
		char *cur;

		if ((e = saksi_ledger_leaf(txn, i, &leaf, &len)) != SAKSI_OK)
			xdie_err(e, "entry %" PRIu64 " cannot be read; run saksi verify", i);
		if (saksi_leaf_parse(leaf, len, &lf) != SAKSI_OK)
			xfail("entry %" PRIu64 " is not a valid leaf; run saksi verify", i);
		if (lf.lf_kind != SAKSI_LEAF_KEYRING) {
			free(leaf);
			continue;
		}
		why[0] = '\0';
		/* One entry, or a set of parts from here (FORMATS.md 4, kind 4). */
		if ((e = saksi_keylog_read(txn, i, &cur, &cur_len, &np, why, sizeof(why))) !=
		    SAKSI_OK)
			xfail("entry %" PRIu64 ": the keyring entry does not parse (%s); run saksi "
			    "verify", i, why[0] != '\0' ? why : saksi_strerror(e));
		n = prev == NULL ? 0 : saksi_keylog_diff(prev, prev_len, cur, cur_len, diff,
		    DIFF_MAX);
		if (n < 0)
			xfail("entry %" PRIu64 ": the keyring does not compare", i);
		if (prev == NULL)
			diff[0] = '\0';
		iso(lf.lf_commit_ms, when, sizeof(when));
		if (json) {
			json_t *k = json_loadb(cur, cur_len, JSON_REJECT_DUPLICATES, NULL);
			json_t *o = json_pack("{s:I, s:I, s:o, s:o}", "index", (json_int_t)i,
			    "commit_time_ms", (json_int_t)lf.lf_commit_ms, "changes",
			    lines_json(diff), "keyring", k);

			if (o != NULL && np > 1 &&
			    json_object_set_new(o, "entries", json_integer((json_int_t)np)) != 0)
				xdie("out of memory");

			if (k == NULL || o == NULL || json_array_append_new(arr, o) != 0)
				xdie("out of memory");
		} else if (prev == NULL) {
			json_t *k = json_loadb(cur, cur_len, 0, NULL);

			printf("entry %" PRIu64 " (%s): keyring recorded, %zu keys", i, when,
			    json_array_size(json_object_get(k, "keys")));
			if (np > 1)
				printf(" in %zu entries", np);
			putchar('\n');
			json_decref(k);
		} else {
			printf("entry %" PRIu64 " (%s): %d change%s\n", i, when, n, n == 1 ? "" : "s");
			for (const char *p = diff; *p != '\0';) {
				const char *nl = strchr(p, '\n');
				int w = nl != NULL ? (int)(nl - p) : (int)strlen(p);
				printf("  %.*s\n", w, p);
				p += w + (nl != NULL);
			}
		}
		free(prev);
		prev = cur;
		prev_len = cur_len;
		free(leaf);
		count++;
		i += np - 1;   /* the set's other parts */
	}
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	if (json) {
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(arr);
	} else if (count == 0)
		printf("no keyring entry in %" PRIu64 " entries (a ledger written before saksid "
		    "recorded its keyring)\n", size);
	free(prev);
	free(diff);
	return SX_OK;
}
