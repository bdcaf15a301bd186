/*
 * bench/rules.c: events per second through the default rule set (schemas/rules) on a
 * real LMDB environment in a temporary directory, with synthetic national-scale traffic:
 * bookings, claims, eligibility checks, queue events. Commits every GROUP events, as the
 * daemon commits a group of appends. A measurement, not a test.
 * Usage: bench_rules [N [people [step_ms [extra.rules [alerts.out]]]]]: N events among
 * `people` persons (default 2,000,000), producer time advancing 0..step_ms-1 per event
 * (default 7), the rules of extra.rules appended to the default ones ("" for none), and
 * every alert raised written to alerts.out as one JSON line each: two builds of the engine
 * fed the same arguments must write the same file.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "blind.h"
#include "rules.h"
#include "bench_clock.h"

#define GROUP 256

static void
token(char out[SAKSI_BLIND_TOKEN_LEN + 1], const char *kind, uint32_t n)
{
	uint8_t h[32];
	char in[64];

	snprintf(in, sizeof(in), "%s/%" PRIu32, kind, n);
	crypto_generichash(h, sizeof(h), (const uint8_t *)in, strlen(in), NULL, 0);
	sodium_bin2base64(out, SAKSI_BLIND_TOKEN_LEN + 1, h, sizeof(h),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* The default rules, with those of the file extra (if not NULL) appended. */
static int
rules_read(const char *extra, saksi_rules **r, char *err, size_t errlen)
{
	static const char *const path[2] = { SAKSI_SOURCE_SCHEMA_DIR "/../rules/default.rules",
	    NULL };
	char *text = NULL, buf[4096];
	size_t len = 0, got;
	FILE *f;
	int rc;

	for (int i = 0; i < 2; i++) {
		const char *p = i == 0 ? path[0] : extra;

		if (p == NULL)
			continue;
		if ((f = fopen(p, "r")) == NULL) {
			snprintf(err, errlen, "%s: cannot open", p);
			free(text);
			return -1;
		}
		while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
			char *nt = realloc(text, len + got + 1);

			if (nt == NULL) {
				fclose(f);
				free(text);
				return -1;
			}
			text = nt;
			memcpy(text + len, buf, got);
			len += got;
		}
		fclose(f);
	}
	rc = saksi_rules_parse(text, len, "bench", NULL, r, err, errlen) == SAKSI_OK ? 0 : -1;
	free(text);
	return rc;
}

/* The alerts res says were raised, one JSON line each. */
static int
alerts_write(FILE *out, const saksi_rules *r, MDB_txn *txn, const saksi_rules_result *res)
{
	saksi_alert a;
	char *json;

	for (uint64_t id = res->rr_first_alert; id < res->rr_first_alert + res->rr_nalerts;
	    id++) {
		if (saksi_rules_alert_get(r, txn, id, &a) != SAKSI_OK ||
		    saksi_alert_json(&a, &json) != SAKSI_OK)
			return -1;
		fprintf(out, "%s\n", json);
		free(json);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/saksi-bench-rules-XXXXXX", err[512], p[600];
	char nik[44], phone[44], dev[44], ip[44], acct[44], id[32], seq[16], date[16];
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 50000, i, alerts = 0;
	uint32_t people = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 2000000;
	int step = argc > 3 ? atoi(argv[3]) : 7;
	const char *extra = argc > 4 && argv[4][0] != '\0' ? argv[4] : NULL;
	FILE *out = NULL;
	uint64_t t = 1700000000000ull;
	saksi_rules *r;
	MDB_env *env;
	MDB_txn *txn = NULL;
	double t0, t1;

	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 2;
	if (people == 0 || step <= 0)
		return 2;
	if (rules_read(extra, &r, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (argc > 5 && (out = fopen(argv[5], "w")) == NULL)
		return 2;
	/* SAKSI_BENCH_RULES_MEMORY=N: the windows in memory, a snapshot every N events
	 * (RULES.md 4.4); the alerts written must not change. */
	if (getenv("SAKSI_BENCH_RULES_MEMORY") != NULL &&
	    saksi_rules_memory(r, strtoull(getenv("SAKSI_BENCH_RULES_MEMORY"), NULL, 10), 0) !=
	    SAKSI_OK)
		return 2;
	if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 4) ||
	    mdb_env_set_mapsize(env, (size_t)8 << 30) ||
	    mdb_env_open(env, dir, MDB_NOTLS, 0600) || mdb_txn_begin(env, NULL, 0, &txn) ||
	    saksi_rules_attach(r, txn) != SAKSI_OK || mdb_txn_commit(txn))
		return 2;
	srand(1);
	t0 = bench_now();
	for (i = 0; i < n; i++) {
		saksi_rule_field f[8];
		saksi_rule_event ev = { i, NULL, t, "KC-MAKASSAR", f, 0 };
		saksi_rules_result res;
		uint32_t person = (uint32_t)rand() % people;
		int k = rand() % 10;

		/* About 300 events a second of producer time: a national peak hour. */
		t += (uint64_t)(rand() % step);
		token(nik, "nik", person);
		/* Families share a phone and a device: the value_count rules have work. */
		token(phone, "phone", person / 3);
		token(dev, "dev", person / 4);
		token(ip, "ip", person % 5000);
		token(acct, "acct", person / 2);
		snprintf(id, sizeof(id), "B%" PRIu32, person);
		snprintf(seq, sizeof(seq), "%d", 1 + rand() % 150);
		snprintf(date, sizeof(date), "2025-03-%02d", 1 + (int)((t / 86400000) % 28));
		if (i % GROUP == 0 && mdb_txn_begin(env, NULL, 0, &txn) != 0)
			return 2;
		if (k < 3) {
			ev.re_type = "queue.booking.created";
			f[0] = (saksi_rule_field){ "channel", "web", 0 };
			f[1] = (saksi_rule_field){ "booking_id", id, 0 };
			f[2] = (saksi_rule_field){ "nik", nik, 1 };
			f[3] = (saksi_rule_field){ "phone", phone, 1 };
			f[4] = (saksi_rule_field){ "device_id", dev, 1 };
			f[5] = (saksi_rule_field){ "ip", ip, 1 };
			f[6] = (saksi_rule_field){ "slot_date", date, 0 };
			ev.re_nfields = 7;
		} else if (k < 5) {
			ev.re_type = "claim.submitted";
			f[0] = (saksi_rule_field){ "channel", "app", 0 };
			f[1] = (saksi_rule_field){ "claim_id", id, 0 };
			f[2] = (saksi_rule_field){ "nik", nik, 1 };
			f[3] = (saksi_rule_field){ "phone", phone, 1 };
			f[4] = (saksi_rule_field){ "device_id", dev, 1 };
			f[5] = (saksi_rule_field){ "bank_account", acct, 1 };
			ev.re_nfields = 6;
		} else if (k < 7) {
			ev.re_type = "claim.eligibility.checked";
			f[0] = (saksi_rule_field){ "channel", "web", 0 };
			f[1] = (saksi_rule_field){ "result", "eligible", 0 };
			f[2] = (saksi_rule_field){ "nik", nik, 1 };
			f[3] = (saksi_rule_field){ "device_id", dev, 1 };
			f[4] = (saksi_rule_field){ "ip", ip, 1 };
			ev.re_nfields = 5;
		} else {
			ev.re_type = k == 7 ? "queue.checkin" : "queue.called";
			f[0] = (saksi_rule_field){ "service", "jht_claim", 0 };
			f[1] = (saksi_rule_field){ "queue_date", date, 0 };
			f[2] = (saksi_rule_field){ "ticket_seq", seq, 0 };
			f[3] = (saksi_rule_field){ "officer_id", "OF-1", 0 };
			ev.re_nfields = 4;
		}
		if (saksi_rules_eval(r, txn, &ev, &res) != SAKSI_OK)
			return 1;
		alerts += res.rr_nalerts;
		if (out != NULL && res.rr_nalerts > 0 && alerts_write(out, r, txn, &res) != 0)
			return 1;
		if ((i + 1) % GROUP == 0 || i + 1 == n) {
			if (mdb_txn_commit(txn) != 0)
				return 1;
		}
	}
	t1 = bench_now();
	printf("%" PRIu64 " events through %zu rules in %.2f s: %.0f events/s, %" PRIu64
	    " alerts\n", n, saksi_rules_count(r), t1 - t0, (double)n / (t1 - t0), alerts);
	mdb_env_close(env);
	saksi_rules_free(r);
	if (out != NULL && fclose(out) != 0)
		return 1;
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}
