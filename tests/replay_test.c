/*
 * replay_test.c: `saksi replay` against a real saksid. A simulated branch day with every
 * broker scenario goes through the daemon with the default rules; replaying the deployed
 * rules reproduces its alert entries byte for byte (--check), while saksid still runs; a
 * lowered threshold reports other alerts; nothing is written to the ledger and no scratch
 * state is left behind; a bad rules file names its line. No personal value is printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "ledger.h"
#include "testutil.h"
#include "verify.h"

#define ORIGIN "replay-test.saksi.example/log"
#define SEED "7"

/* The day every test replays: made once, with saksid left running. */
struct day {
	struct scratch f;
	char conf[256], ledger[256], data[256], start[16], vkey[512];
	char **niks;          /* the simulated people's NIKs, to grep the outputs for */
	size_t nniks;
	uint64_t alerts;      /* alert entries saksid wrote */
	char *evaluation;     /* what simulate --evaluate printed after the run */
};

/* Alert entries (kinds 1-3) of the ledger, as `alerts list --json` prints them, without
 * the entry index: the replay's --json lines must be these, in this order. */
static char *
ledger_alert_lines(struct day *d, uint64_t *n)
{
	struct run r;
	size_t cap = 4096, len = 0;
	char *out = malloc(cap), *line;

	RUN(&d->f, &r, 0, "alerts", "list", "--ledger", d->ledger, "--json");
	*n = 0;
	out[0] = '\0';
	for (line = r.out; *line != '\0';) {
		char *nl = strchr(line, '\n'), *rest;
		size_t l;

		assert_non_null(nl);
		assert_true(strncmp(line, "{\"entry\":", 9) == 0);
		rest = strchr(line, ',');
		assert_non_null(rest);
		l = (size_t)(nl - rest) + 1;
		while (len + l + 2 > cap)
			out = realloc(out, cap *= 2);
		out[len++] = '{';
		memcpy(out + len, rest + 1, l - 1);
		len += l - 1;
		out[len] = '\0';
		(*n)++;
		line = nl + 1;
	}
	run_free(&r);
	return out;
}

static void
sha256_file(const char *path, uint8_t out[32])
{
	size_t len;
	char *b = slurp(path, &len);

	crypto_hash_sha256(out, (const uint8_t *)b, len);
	free(b);
}

/* 1 if any simulated NIK appears in text. */
static int
has_nik(const struct day *d, const char *text)
{
	for (size_t i = 0; i < d->nniks; i++)
		if (strstr(text, d->niks[i]) != NULL)
			return 1;
	return 0;
}

static size_t
count_lines(const char *s, const char *prefix)
{
	size_t n = 0;

	for (; *s != '\0'; s = strchr(s, '\n') + 1) {
		n += strncmp(s, prefix, strlen(prefix)) == 0;
		if (strchr(s, '\n') == NULL)
			break;
	}
	return n;
}

/* The last line of text, parsed: the summary of --json. */
static json_t *
summary_of(const char *text)
{
	const char *last = text, *p;
	json_error_t jerr;
	json_t *j, *s;

	for (p = text; *p != '\0'; p++)
		if (*p == '\n' && p[1] != '\0')
			last = p + 1;
	j = json_loads(last, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		fail_msg("not JSON: %s (%s)", last, jerr.text);
	s = json_incref(json_object_get(j, "summary"));
	json_decref(j);
	assert_non_null(s);
	return s;
}

static json_int_t
jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		fail_msg("summary has no %s", k);
	return json_integer_value(v);
}

static int
group_setup(void **state)
{
	struct day *d = calloc(1, sizeof(*d));
	struct scratch *f = &d->f;
	struct run r;
	char sock[256], *conf, *line, *stream;
	time_t t = time(NULL) - 6 * 86400;
	struct tm tm;

	assert_non_null(d);
	assert_true(sodium_init() >= 0);
	if (access(SAKSI, X_OK) != 0 || access(SAKSID, X_OK) != 0) {
		fprintf(stderr, "saksi or saksid is not built here\n");
		return -1;
	}
	assert_int_equal(tmpdir_make(f->dir, sizeof(f->dir), "saksi-replay-test"), 0);
	/* A fixed day six days back: inside saksid's 31-day clock tolerance, and the same
	 * for the dry run that tells us the people's NIKs. */
	gmtime_r(&t, &tm);
	strftime(d->start, sizeof(d->start), "%Y-%m-%d", &tm);
	printf("# seed %s, start %s\n", SEED, d->start);

	state_init(SAKSI, f, ORIGIN, d->vkey, sizeof(d->vkey));
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only");
	run_free(&r);
	snprintf(d->conf, sizeof(d->conf), "%s/st/saksid.conf", f->dir);
	snprintf(d->ledger, sizeof(d->ledger), "%s/st/ledger", f->dir);
	snprintf(d->data, sizeof(d->data), "%s/st/ledger/data.mdb", f->dir);
	conf_listen(d->conf, NULL, 0, sock, sizeof(sock));
	conf = slurp(d->conf, NULL);
	assert_non_null(strstr(conf, "\nrules = "));
	assert_non_null(strstr(conf, "\nindex_key = "));
	free(conf);
	saksid_start(SAKSID, f, NULL, d->conf, sock, P(f, 9, "saksid.log"), O_TRUNC);

	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--seed", SEED, "--brokers", "high",
	    "--start", d->start, "--truth", P(f, 2, "truth.json"), "--batch", "256",
	    "--window", "3600000", "--evaluate");
	assert_non_null(strstr(r.out, " 0 refused"));
	/* The evaluation after the run; the same from the truth file alone. */
	assert_non_null(strstr(r.out, "\nevaluation: "));
	assert_non_null(strstr(r.out, "\n  device_many_nik "));
	d->evaluation = strdup(strstr(r.out, "\nevaluation: ") + 1);
	printf("# %s", d->evaluation);
	run_free(&r);

	/* The same stream in clear: the NIKs that must never be printed. */
	RUN(f, &r, 0, "simulate", "--dry-run", "--out", P(f, 3, "stream.jsonl"), "--seed",
	    SEED, "--brokers", "high", "--start", d->start);
	run_free(&r);
	stream = slurp(f->path[3], NULL);
	for (line = stream; *line != '\0';) {
		char *nl = strchr(line, '\n');
		json_error_t jerr;
		json_t *ev;
		const char *nik;

		*nl = '\0';
		ev = json_loads(line, 0, &jerr);
		assert_non_null(ev);
		nik = json_string_value(json_object_get(json_object_get(ev, "payload"), "nik"));
		if (nik != NULL) {
			d->niks = realloc(d->niks, (d->nniks + 1) * sizeof(*d->niks));
			d->niks[d->nniks++] = strdup(nik);
		}
		json_decref(ev);
		line = nl + 1;
	}
	free(stream);
	printf("# %zu NIKs in the simulated day\n", d->nniks);
	assert_true(d->nniks > 100);
	*state = d;
	return 0;
}

static int
group_teardown(void **state)
{
	struct day *d = *state;

	if (d == NULL)
		return 0;
	if (d->f.pid > 0)
		saksid_stop(&d->f);
	for (size_t i = 0; i < d->nniks; i++)
		free(d->niks[i]);
	free(d->niks);
	free(d->evaluation);
	rm_rf(d->f.dir);
	free(d);
	return 0;
}

/* The deployed rules over the whole ledger, while saksid runs: the same alerts, byte for
 * byte, as saksid wrote; nothing written; nothing left in the scratch directory. */
static void
test_check(void **state)
{
	struct day *d = *state;
	struct scratch *f = &d->f;
	struct run r;
	uint8_t before[32], after[32];
	uint64_t n;
	char *want;
	json_t *s;

	want = ledger_alert_lines(d, &n);
	printf("# saksid wrote %llu alert entries\n", (unsigned long long)n);
	/* Brokers at `high` set off several rules: a replay with nothing to reproduce
	 * would prove nothing. */
	assert_true(n >= 5);
	d->alerts = n;
	assert_int_equal(mkdir(P(f, 4, "tmp"), 0700), 0);
	sha256_file(d->data, before);

	RUN(f, &r, 0, "replay", "--config", d->conf, "--check", "--tmpdir", f->path[4]);
	printf("# %s", r.out);
	assert_non_null(strstr(r.out, ", 0 difference(s): the replay reproduces"));
	assert_int_equal(count_lines(r.out, "difference"), 0);
	assert_false(has_nik(d, r.out));
	assert_false(has_nik(d, r.err));
	run_free(&r);

	/* The --json lines are the ledger's alert entries, one for one. */
	RUN(f, &r, 0, "replay", "--config", d->conf, "--check", "--json", "--tmpdir",
	    f->path[4]);
	s = summary_of(r.out);
	assert_int_equal(jint(s, "differences"), 0);
	assert_int_equal(jint(s, "alerts"), (json_int_t)n);
	assert_int_equal(jint(s, "ledger_alerts"), (json_int_t)n);
	assert_int_equal(jint(s, "out_of_range"), 0);
	assert_true(jint(s, "events") > 2000);
	json_decref(s);
	assert_non_null(strstr(r.out, "\n{\"summary\":"));
	strstr(r.out, "\n{\"summary\":")[1] = '\0';   /* the summary line */
	assert_string_equal(r.out, want);
	run_free(&r);
	free(want);

	/* Nothing written, nothing left behind. */
	sha256_file(d->data, after);
	assert_memory_equal(before, after, 32);
	assert_int_equal(rmdir(f->path[4]), 0);
}

/* A candidate with a lower threshold: other alerts, a failed check, still nothing
 * written, nothing left in TMPDIR. */
static void
test_candidate(void **state)
{
	struct day *d = *state;
	struct scratch *f = &d->f;
	struct run r;
	uint8_t before[32], after[32];
	char path[512], *rules, *at;
	size_t len;
	json_t *s;

	snprintf(path, sizeof(path), "%s/schemas/rules/default.rules", SAKSI_SOURCE_DIR);
	rules = slurp(path, &len);
	/* device_many_nik_fast: 6 distinct NIKs from one device in an hour, lowered to 3. */
	at = strstr(rules, "rule device_many_nik_fast\n");
	assert_non_null(at);
	at = strstr(at, "condition gte 6\n");
	assert_non_null(at);
	at[strlen("condition gte ")] = '3';
	spit(P(f, 5, "candidate.rules"), rules, len);
	free(rules);
	assert_int_equal(mkdir(P(f, 4, "tmp2"), 0700), 0);
	assert_int_equal(setenv("TMPDIR", f->path[4], 1), 0);
	sha256_file(d->data, before);

	RUN(f, &r, 0, "replay", "--config", d->conf, "--rules", f->path[5], "--json");
	s = summary_of(r.out);
	printf("# candidate: %lld alerts (deployed: %llu)\n", (long long)jint(s, "alerts"),
	    (unsigned long long)d->alerts);
	assert_true(jint(s, "alerts") > (json_int_t)d->alerts);
	assert_true(jint(json_object_get(s, "per_rule"), "device_many_nik_fast") > 0);
	assert_null(json_object_get(s, "differences"));
	json_decref(s);
	/* Every alert line carries the lowered threshold for that rule. */
	assert_non_null(strstr(r.out, "\"rule\":\"device_many_nik_fast\",\"severity\":\"high\","
	    "\"threshold\":3,"));
	assert_null(strstr(r.out, "\"rule\":\"device_many_nik_fast\",\"severity\":\"high\","
	    "\"threshold\":6,"));
	assert_false(has_nik(d, r.out));
	run_free(&r);

	RUN(f, &r, 1, "replay", "--config", d->conf, "--rules", f->path[5], "--check");
	assert_non_null(strstr(r.out, "difference (replay_only):\n  replay: "));
	assert_null(strstr(r.out, ", 0 difference(s)"));
	assert_false(has_nik(d, r.out));
	/* What the candidate changes, rule by rule, beside the ledger; and the differences
	 * by kind, so that a tuner reads the change, not the renumbering it causes. */
	assert_non_null(strstr(r.out, "\n  rule                                       replay   "
	    "ledger\n"));
	{
		const char *line = strstr(r.out, "\n  device_many_nik_fast ");
		unsigned long long mine, theirs;

		assert_non_null(line);
		assert_int_equal(sscanf(line + 23, "%llu %llu", &mine, &theirs), 2);
		assert_true(mine > theirs);
		assert_non_null(strstr(line, "  *\n"));
	}
	assert_non_null(strstr(r.out, " replay_only, 0 changed, "));
	assert_non_null(strstr(r.out, " renumbered\n"));
	run_free(&r);
	/* --quiet leaves the renumbered ones out of the lines and says so. */
	RUN(f, &r, 1, "replay", "--config", d->conf, "--rules", f->path[5], "--check",
	    "--quiet");
	assert_null(strstr(r.out, "difference (renumbered)"));
	assert_non_null(strstr(r.out, "difference (replay_only)"));
	run_free(&r);
	RUN(f, &r, 1, "replay", "--config", d->conf, "--rules", f->path[5], "--check",
	    "--json", "--quiet");
	s = summary_of(r.out);
	assert_true(jint(s, "differences") > 0);
	assert_true(jint(json_object_get(s, "differences_by_kind"), "replay_only") > 0);
	assert_true(json_is_object(json_object_get(s, "ledger_per_rule")));
	assert_true(jint(json_object_get(s, "per_rule"), "device_many_nik_fast") >
	    json_integer_value(json_object_get(json_object_get(s, "ledger_per_rule"),
	    "device_many_nik_fast")));
	json_decref(s);
	assert_non_null(strstr(r.out, "{\"difference\":{\"ledger\":null,\"replay\":{"));
	run_free(&r);

	unsetenv("TMPDIR");
	sha256_file(d->data, after);
	assert_memory_equal(before, after, 32);
	assert_int_equal(rmdir(f->path[4]), 0);
}

/* Ranges: a prefix of the ledger reproduces its alerts too; a producer-time range
 * replays only its events. */
static void
test_ranges(void **state)
{
	struct day *d = *state;
	struct scratch *f = &d->f;
	struct run r;
	json_t *s;
	json_int_t events, ledger_alerts;

	RUN(f, &r, 0, "replay", "--config", d->conf, "--check", "--to-index", "999",
	    "--json", "--quiet");
	s = summary_of(r.out);
	events = jint(s, "events");
	ledger_alerts = jint(s, "ledger_alerts");
	printf("# entries 0..999: %lld events, %lld alert entries\n", (long long)events,
	    (long long)ledger_alerts);
	assert_true(events > 900 && events < 1000);
	assert_true(ledger_alerts > 0 && ledger_alerts < (json_int_t)d->alerts);
	assert_int_equal(jint(s, "differences"), 0);
	json_decref(s);
	run_free(&r);

	/* The simulated service day only (bookings started three days before). */
	{
		char to[32];

		snprintf(to, sizeof(to), "%sT23:59:59Z", d->start);
		RUN(f, &r, 0, "replay", "--config", d->conf, "--from", d->start, "--to", to,
		    "--json", "--quiet");
	}
	s = summary_of(r.out);
	assert_true(jint(s, "out_of_range") > 0);
	assert_true(jint(s, "events") > 0);
	json_decref(s);
	run_free(&r);
	RUN(f, &r, 0, "replay", "--config", d->conf, "--from-index", "1000", "--to-index",
	    "1999", "--json", "--quiet");
	s = summary_of(r.out);
	assert_true(jint(s, "events") > 900 && jint(s, "events") <= 1000);
	json_decref(s);
	run_free(&r);
}

/* Refusals: the line of a bad rules file, usage errors, the wrong store key. */
static void
test_errors(void **state)
{
	struct day *d = *state;
	struct scratch *f = &d->f;
	struct run r;
	const char *bad = "saksi-rules 1\nlateness 5m\nrule x\n  type nonsense\n";
	char idx[512], store[512];

	spit(P(f, 5, "bad.rules"), bad, strlen(bad));
	RUN(f, &r, 1, "replay", "--config", d->conf, "--rules", f->path[5]);
	assert_non_null(strstr(r.err, "bad.rules:4: type takes one of"));
	assert_string_equal(r.out, "");
	run_free(&r);
	RUN(f, &r, 2, "replay", "--config", d->conf, "--rules", P(f, 5, "none.rules"));
	assert_non_null(strstr(r.err, "none.rules"));
	run_free(&r);
	RUN(f, &r, 2, "replay");
	assert_non_null(strstr(r.err, "--config"));
	run_free(&r);
	RUN(f, &r, 2, "replay", "--config", d->conf, "--check", "--from", "2025-01-01");
	assert_non_null(strstr(r.err, "--check replays from the first entry"));
	run_free(&r);
	RUN(f, &r, 2, "replay", "--config", d->conf, "--from", "yesterday");
	assert_non_null(strstr(r.err, "--from must be"));
	run_free(&r);
	RUN(f, &r, 2, "replay", "--config", d->conf, "--from-index", "9", "--to-index", "3");
	run_free(&r);
	RUN(f, &r, 2, "replay", "--config", P(f, 5, "none.conf"));
	run_free(&r);
	RUN(f, &r, 2, "replay", "--config", d->conf, "--tmpdir", P(f, 5, "no/such/dir"));
	assert_non_null(strstr(r.err, "cannot make a private directory in"));
	run_free(&r);
	/* Without a config: the keys are named one by one; another store key does not
	 * open the disclosures at rest. */
	snprintf(idx, sizeof(idx), "%s/st/index.key", f->dir);
	snprintf(store, sizeof(store), "%s/st/store.key", f->dir);
	RUN(f, &r, 2, "replay", "--ledger", d->ledger, "--index-key", idx);
	assert_non_null(strstr(r.err, "--store-key"));
	run_free(&r);
	RUN(f, &r, 0, "keygen", "--kind", "sym", "-o", P(f, 6, "other.key"),
	    "--no-passphrase");
	run_free(&r);
	RUN(f, &r, 2, "replay", "--ledger", d->ledger, "--index-key", idx, "--store-key",
	    f->path[6], "--rules", P(f, 7, "../none"));
	run_free(&r);
	{
		char rules[512];

		snprintf(rules, sizeof(rules), "%s/schemas/rules/default.rules", SAKSI_SOURCE_DIR);
		RUN(f, &r, 2, "replay", "--ledger", d->ledger, "--index-key", idx,
		    "--store-key", f->path[6], "--rules", rules);
		assert_non_null(strstr(r.err, "do not open with the store key"));
		run_free(&r);
		/* The right keys, named one by one, reproduce the alerts too. */
		RUN(f, &r, 0, "replay", "--ledger", d->ledger, "--index-key", idx,
		    "--store-key", store, "--rules", rules, "--check", "--quiet");
		assert_non_null(strstr(r.out, " 0 difference(s)"));
		run_free(&r);
	}
}

/* A rule alert of the ledger: its rule and evidence. */
struct al {
	char rule[64];
	uint64_t ev[64];
	size_t n;
};

static size_t
rule_alerts(struct day *d, struct al **out)
{
	struct run r;
	struct al *v = NULL;
	size_t n = 0;
	char *line;

	RUN(&d->f, &r, 0, "alerts", "list", "--ledger", d->ledger, "--json");
	for (line = r.out; *line != '\0'; line = strchr(line, '\n') + 1) {
		json_error_t jerr;
		json_t *j = json_loadb(line, strcspn(line, "\n"), 0, &jerr), *x;
		size_t i;

		assert_non_null(j);
		if (strcmp(json_string_value(json_object_get(j, "kind")), "rule") == 0) {
			v = realloc(v, (n + 1) * sizeof(*v));
			snprintf(v[n].rule, sizeof(v[n].rule), "%s",
			    json_string_value(json_object_get(j, "rule")));
			v[n].n = 0;
			json_array_foreach(json_object_get(j, "evidence"), i, x)
				v[n].ev[v[n].n++] = (uint64_t)json_integer_value(x);
			n++;
		}
		json_decref(j);
	}
	run_free(&r);
	*out = v;
	return n;
}

static int
has_leaf(const struct al *a, uint64_t leaf)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->ev[i] == leaf)
			return 1;
	return 0;
}

static int
shares(const struct al *a, const struct al *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (has_leaf(a, b->ev[i]))
			return 1;
	return 0;
}

static const json_t *
pattern_row(const json_t *ev, const char *name)
{
	const json_t *row;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(ev, "evaluation"), "patterns"), i,
	    row)
		if (strcmp(json_string_value(json_object_get(row, "pattern")), name) == 0)
			return row;
	fail_msg("no pattern %s in the evaluation", name);
	return NULL;
}

/*
 * --evaluate-only on a small truth of our own over the day's ledger: two broker
 * instances of device_many_nik, one caught (its one event is in an alert's evidence) and
 * one whose event never reached the ledger; one family sharing a phone whose events are
 * the evidence of another pattern's alert. Recall 1/2; the numbers of alerts, true ones
 * and false positives follow from the ledger's alerts by the definition in
 * docs/simulator.md, counted here independently.
 */
static void
test_evaluate(void **state)
{
	static const char *const others[][2] = {
		{ "phone_many_nik", "contact_many_nik" },
		{ "eligibility_probe_device", "bulk_probe" },
		{ "account_many_claimants", "account_many_claimants" },
		{ "opening_bookings_one_device", "opening_bots" },
		{ "officer_shared_account", "officer_shared_source" },
	};
	struct day *d = *state;
	struct scratch *f = &d->f;
	struct run r;
	struct al *al, *A = NULL, *B = NULL;
	const char *bpat = NULL;
	size_t n = rule_alerts(d, &al), dev = 0, dev_true = 0, dev_fp = 0, other = 0,
	    other_true = 0, other_fp = 0;
	json_t *truth, *leaves = json_array(), *ev, *row;
	json_error_t jerr;
	uint64_t a0, size = 0;
	char *text;

	/* The --evaluate-only table is the one printed after the run. */
	RUN(f, &r, 0, "simulate", "--evaluate-only", "--truth", P(f, 2, "truth.json"),
	    "--state", P(f, 0, "st"));
	assert_string_equal(r.out, d->evaluation);
	run_free(&r);

	for (size_t i = 0; i < n && A == NULL; i++)
		if (strcmp(al[i].rule, "device_many_nik_fast") == 0)
			A = &al[i];
	assert_non_null(A);
	a0 = A->ev[0];
	for (size_t k = 0; k < sizeof(others) / sizeof(others[0]) && B == NULL; k++)
		for (size_t i = 0; i < n && B == NULL; i++)
			if (strcmp(al[i].rule, others[k][0]) == 0 && !has_leaf(&al[i], a0)) {
				B = &al[i];
				bpat = others[k][1];
			}
	assert_non_null(B);
	printf("# caught: leaf %llu of %s; look-alike: the evidence of a %s alert\n",
	    (unsigned long long)a0, A->rule, B->rule);
	for (size_t i = 0; i < n; i++) {
		int dv = strncmp(al[i].rule, "device_many_nik_", 16) == 0;
		int same = 0;

		for (size_t k = 0; k < sizeof(others) / sizeof(others[0]); k++)
			same |= strcmp(others[k][1], bpat) == 0 &&
			    strcmp(others[k][0], al[i].rule) == 0;
		if (strcmp(bpat, "contact_many_nik") == 0)
			same |= strcmp(al[i].rule, "email_many_nik") == 0;
		if (strcmp(bpat, "bulk_probe") == 0)
			same |= strcmp(al[i].rule, "eligibility_refused_one_ip") == 0;
		if (strcmp(bpat, "opening_bots") == 0)
			same |= strcmp(al[i].rule, "opening_bookings_one_ip") == 0;
		if (strcmp(bpat, "officer_shared_source") == 0)
			same |= strcmp(al[i].rule, "officer_shared_device") == 0;
		if (dv) {
			dev++;
			dev_true += has_leaf(&al[i], a0);
			dev_fp += !has_leaf(&al[i], a0) && shares(&al[i], B);
		}
		if (same) {
			other++;
			other_true += has_leaf(&al[i], a0);
			other_fp += !has_leaf(&al[i], a0) && shares(&al[i], B);
		}
	}

	/* Leaf index = stream index, over the whole ledger. */
	{
		struct run rs;
		json_t *s;

		RUN(f, &rs, 0, "replay", "--config", d->conf, "--json", "--quiet");
		s = summary_of(rs.out);
		size = (uint64_t)jint(s, "entries");
		json_decref(s);
		run_free(&rs);
	}
	for (uint64_t i = 0; i < size; i++)
		json_array_append_new(leaves, json_integer((json_int_t)i));
	truth = json_pack("{s:i, s:s, s:o, s:[{s:i, s:s, s:b, s:[I]}, {s:i, s:s, s:b, s:[I]}, "
	    "{s:i, s:s, s:b, s:[]}]}", "saksi_sim_truth", 1, "seed", SEED, "leaves", leaves,
	    "instances", "id", 1, "scenario", "broker.device_many_nik", "broker", 1, "events",
	    (json_int_t)a0, "id", 2, "scenario", "broker.device_many_nik", "broker", 1,
	    "events", (json_int_t)(size + 5), "id", 3, "scenario", "honest.family_phone",
	    "broker", 0, "events");
	assert_non_null(truth);
	for (size_t i = 0; i < B->n; i++)
		json_array_append_new(json_object_get(json_array_get(json_object_get(truth,
		    "instances"), 2), "events"), json_integer((json_int_t)B->ev[i]));
	assert_int_equal(json_dump_file(truth, P(f, 7, "small-truth.json"), 0), 0);
	json_decref(truth);

	RUN(f, &r, 0, "simulate", "--evaluate-only", "--truth", f->path[7], "--ledger",
	    d->ledger, "--json");
	ev = json_loads(r.out, 0, &jerr);
	assert_non_null(ev);
	run_free(&r);
	row = (json_t *)pattern_row(ev, "device_many_nik");
	assert_int_equal(jint(row, "instances"), 2);
	assert_int_equal(jint(row, "detected"), 1);
	assert_true(json_real_value(json_object_get(row, "recall")) == 0.5);
	assert_int_equal(jint(row, "alerts"), dev);
	assert_int_equal(jint(row, "true_alerts"), dev_true);
	assert_int_equal(json_array_size(json_object_get(row, "false_positives")), dev_fp);
	assert_true(json_real_value(json_object_get(row, "precision")) ==
	    (double)dev_true / (double)dev);
	row = (json_t *)pattern_row(ev, bpat);
	printf("# %s: %zu alerts, %zu true, %zu false positives\n", bpat, other, other_true,
	    other_fp);
	assert_int_equal(jint(row, "instances"), 0);
	assert_true(json_is_null(json_object_get(row, "recall")));
	assert_int_equal(jint(row, "alerts"), other);
	assert_int_equal(jint(row, "true_alerts"), other_true);
	assert_true(other_fp >= 1);
	assert_int_equal(json_array_size(json_object_get(row, "false_positives")), other_fp);
	text = json_dumps(json_object_get(row, "false_positives"), JSON_COMPACT);
	assert_non_null(strstr(text, "{\"instance\":3,\"scenario\":\"honest.family_phone\","));
	free(text);
	json_decref(ev);

	/* The human table names the look-alike. */
	RUN(f, &r, 0, "simulate", "--evaluate-only", "--truth", f->path[7], "--ledger",
	    d->ledger);
	printf("%s", r.out);
	assert_non_null(strstr(r.out, "honest.family_phone #3 ("));
	assert_non_null(strstr(r.out, "\n  device_many_nik           0.50 1/2 "));
	run_free(&r);

	/* Refusals: a dry run's truth has no ledger indices; options that need a run. */
	RUN(f, &r, 0, "simulate", "--dry-run", "--out", P(f, 8, "dry.jsonl"), "--seed", "1",
	    "--truth", P(f, 7, "dry-truth.json"));
	run_free(&r);
	RUN(f, &r, 2, "simulate", "--evaluate-only", "--truth", f->path[7], "--ledger",
	    d->ledger);
	assert_non_null(strstr(r.err, "no \"leaves\""));
	run_free(&r);
	RUN(f, &r, 2, "simulate", "--evaluate-only", "--ledger", d->ledger);
	assert_non_null(strstr(r.err, "--truth"));
	run_free(&r);
	RUN(f, &r, 2, "simulate", "--evaluate", "--dry-run", "--out", f->path[8]);
	run_free(&r);
	RUN(f, &r, 2, "simulate", "--json", "--state", P(f, 0, "st"));
	run_free(&r);
	free(al);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_candidate),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_evaluate),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
