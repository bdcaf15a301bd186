/*
 * security_day_test.c: the security team's day with saksi, end to end on the real saksid
 * over simulated branch days with brokers: alerts followed live (human and JSON), listed,
 * acknowledged with a security officer's key, one left open until it is raised again, an
 * alert's evidence read masked, a rule tuned and tried with replay before it is reloaded
 * (SIGHUP), and a remote look with the officer's key. Asserts on what a person reads.
 * Never mocks a part; never leaves a personal number in what the team reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "testutil.h"

#define SAKSI SAKSI_BUILD_DIR "/saksi"
#define ORIGIN "security-day.saksi.example/log"
#define SEED "31"

#define RUN(f, r, want, ...) run_expect(SAKSI, (f)->dir, (r), (want), NULL, __VA_ARGS__, \
	(char *)NULL)

/* The followers, killed by the teardown (saksid by scratch_teardown) if a check fails
 * meanwhile: left alive they would hold ctest's output pipe open. */
static pid_t g_follow[2] = { -1, -1 };

/* The day's NIKs and KPJs (sorted, s->lens: 16 and 11 digits) must not be in buf. */
static void
assert_no_secret(const struct tu_secrets *s, const char *what, const char *buf)
{
	if (tu_find_secret(s->v, s->n, s->lens, s->nlens, buf, strlen(buf)) != NULL)
		fail_msg("%s shows a participant's NIK or KPJ in clear", what);
}

static int
setup(void **state)
{
	return scratch_setup(state, "secday");
}

static int
teardown(void **state)
{
	dr_kill(&g_follow[0]);
	dr_kill(&g_follow[1]);
	return scratch_teardown(state);
}

/* saksid.conf with its rules line pointing at rules, and the lines in extra added. */
static void
conf_edit(const char *conf, const char *rules, const char *extra)
{
	char *text = slurp(conf, NULL), *line = strstr(text, "\nrules = "), *out;
	size_t n;

	assert_non_null(line);
	line++;
	n = strlen(text) + strlen(rules) + strlen(extra) + 64;
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%.*srules = %s%s\n%s", (int)(line - text), text, rules,
	    line + strcspn(line, "\n"), extra);
	spit(conf, out, strlen(out));
	free(out);
	free(text);
}

static void
test_security_day(void **state)
{
	struct scratch *f = *state;
	struct run r;
	struct tu_secrets sec = { 0 };
	char vkey[512], url[256], sock[256], alerts_url[300], start_day[16], conf[256];
	char ledger[256], seckey[256], rules[256], cand[256], saksidlog[256], nobody[300];
	char fout[2][300], ferr[2][300], extra[1024], *text, *line;
	size_t len, nopen;
	json_t *o;

	need_built(SAKSI, DR_SAKSID);
	sim_start_day(start_day, SEED);

	/* The operator: saksi init, the simulator's producers, the security officer's key
	 * (role security), saksid's access key for remote looks, the rules as a file of the
	 * appliance's own (the team tunes it), and a short ack timeout to see a re-raise. */
	state_init(SAKSI, f, ORIGIN, vkey, sizeof(vkey));
	/* What init tells a new operator to do next, in this directory's own names. */
	RUN(f, &r, 0, "init", "--dir", P(f, 5, "other"), "--origin", ORIGIN);
	assert_non_null(strstr(r.err, "saksi: next: add producer keys (saksi keyring add -r "));
	assert_non_null(strstr(r.err, "--role security"));
	assert_non_null(strstr(r.err, "then start saksid -c "));
	assert_non_null(strstr(r.err, "other/saksid.conf; follow its alerts with saksi alerts "
	    "follow --config"));
	run_free(&r);
	snprintf(conf, sizeof(conf), "%s", P(f, 1, "st/saksid.conf"));
	snprintf(ledger, sizeof(ledger), "%s", P(f, 1, "st/ledger"));
	snprintf(seckey, sizeof(seckey), "%s", P(f, 1, "sec.key"));
	snprintf(rules, sizeof(rules), "%s", P(f, 1, "st/active.rules"));
	snprintf(cand, sizeof(cand), "%s", P(f, 1, "candidate.rules"));
	snprintf(saksidlog, sizeof(saksidlog), "%s", P(f, 1, "saksid.log"));
	text = slurp(SAKSI_SOURCE_DIR "/schemas/rules/default.rules", &len);
	spit(rules, text, len);
	free(text);
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only");
	run_free(&r);
	key_enrol(SAKSI, f, P(f, 2, "st/keyring.json"), seckey, P(f, 3, "sec.pub"), "sec-andi",
	    "security", "*");
	key_enrol(SAKSI, f, f->path[2], P(f, 4, "st/access.key"), P(f, 3, "st/access.pub"),
	    "saksid-access", "supervisor", "*");
	snprintf(extra, sizeof(extra), "access_key = %s\nalert_ack_timeout_s = 1\n",
	    P(f, 3, "st/access.key"));
	conf_edit(conf, rules, extra);

	/* The personal numbers the simulator will send, to grep what the team reads. */
	RUN(f, &r, 0, "simulate", "--dry-run", "--out", P(f, 4, "days.jsonl"), "--seed", SEED,
	    "--start", start_day, "--branches", "1", "--days", "2", "--brokers", "high");
	run_free(&r);
	text = slurp(f->path[4], &len);
	for (char *l = text, *nl; *l != '\0'; l = nl + 1) {
		json_t *p;

		assert_non_null(nl = strchr(l, '\n'));
		*nl = '\0';
		assert_non_null(o = json_loads(l, JSON_REJECT_DUPLICATES, NULL));
		p = json_object_get(o, "payload");
		tu_secret_add(&sec, json_string_value(json_object_get(p, "nik")));
		tu_secret_add(&sec, json_string_value(json_object_get(p, "kpj")));
		json_decref(o);
	}
	sodium_memzero(text, len);
	free(text);
	unlink(f->path[4]);
	assert_true(sec.n > 200);
	qsort(sec.v, sec.n, sizeof(*sec.v), tu_str_cmp);

	state_listen(f, url, sizeof(url), sock, sizeof(sock));
	snprintf(alerts_url, sizeof(alerts_url), "ipc://%s/st/alerts.sock", f->dir);
	saksid_start(DR_SAKSID, f, "-d", conf, sock, saksidlog, O_APPEND);

	/* 1. Follow the alerts live, as a person reads them and as a tool does. Each
	 * follower says when it is connected: PUB keeps nothing for one not there yet. */
	for (int k = 0; k < 2; k++) {
		/* The officer on the appliance names saksid's config, a tool the URL. */
		const char *const human[] = { "alerts", "follow", "--config", conf, "--count",
		    "3", "--tz", "WITA", NULL };
		const char *const js[] = { "alerts", "follow", "--url", alerts_url, "--json",
		    "--count", "3", NULL };

		snprintf(fout[k], sizeof(fout[k]), "%s/follow%d.out", f->dir, k);
		snprintf(ferr[k], sizeof(ferr[k]), "%s/follow%d.err", f->dir, k);
		g_follow[k] = dr_saksi(1, fout[k], ferr[k], k == 0 ? human : js);
		free(dr_await_file(ferr[k], "saksi: following alerts on ", f->pid));
	}

	/* 2. A branch's two days with brokers, at the default window: no warning. */
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--seed", SEED, "--start", start_day,
	    "--branches", "1", "--days", "2", "--brokers", "high", "--batch", "256");
	assert_null(strstr(r.err, "warning"));
	assert_null(strstr(r.out, "warning"));
	assert_non_null(strstr(r.out, " 0 refused"));
	run_free(&r);
	for (int k = 0; k < 2; k++) {
		dr_await_exit0(g_follow[k]);
		g_follow[k] = -1;
	}
	text = slurp(fout[0], NULL);
	/* "2026-11-16 07:01:02.345 WITA  alert 1  high  RULE  GROUP  value V/T  evidence
	 * N: i,j,...", in the branch's own time as asked. */
	assert_int_equal(dr_count(text, "\n"), 3);
	assert_non_null(strstr(text, " WITA  alert 1  "));
	assert_null(strstr(text, "Z  alert "));
	assert_non_null(strstr(text, "  value "));
	assert_non_null(strstr(text, "  evidence "));
	assert_no_secret(&sec, "alerts follow", text);
	free(text);
	text = slurp(fout[1], NULL);
	line = text;
	for (int k = 0; k < 3; k++) {
		char *nl = strchr(line, '\n');

		assert_non_null(nl);
		*nl = '\0';
		assert_non_null(o = json_loads(line, JSON_REJECT_DUPLICATES, NULL));
		assert_string_equal(json_string_value(json_object_get(o, "kind")), "rule");
		assert_non_null(json_string_value(json_object_get(o, "rule")));
		assert_true(json_is_array(json_object_get(o, "evidence")));
		json_decref(o);
		line = nl + 1;
	}
	free(text);

	/* A window longer than the rules' lateness would make the simulator's own events
	 * late: it says so before it sends anything. */
	snprintf(nobody, sizeof(nobody), "ipc://%s/nobody.sock", f->dir);
	RUN(f, &r, 2, "simulate", "--state", f->path[0], "--days", "1", "--window", "600000",
	    "--url", nobody, "--timeout", "300");
	assert_non_null(strstr(r.err, "warning: --window 600000 ms is more than the rules' "
	    "lateness of 300000 ms"));
	assert_non_null(strstr(r.err, "raise `late` alerts"));
	run_free(&r);

	/* 3. The list: every alert, open, none late (the simulator kept within the
	 * lateness), names from the keyring. */
	RUN(f, &r, 0, "alerts", "list", "--config", conf);
	assert_null(strstr(r.out, "late:"));
	assert_non_null(strstr(r.out, "Z  alert 1 (entry "));
	assert_non_null(strstr(r.err, "alert(s) open"));
	assert_no_secret(&sec, "alerts list", r.out);
	nopen = dr_count(r.out, "  open");
	assert_true(nopen >= 3);
	run_free(&r);

	/* 4. The officer reads alert 2's evidence, masked: the rule in words, the entries
	 * as a query shows them, no key, no NIK. */
	RUN(f, &r, 0, "alerts", "show", "2", "--config", conf);
	assert_non_null(strstr(r.out, "  alert 2 (entry "));
	assert_non_null(strstr(r.out, "\nrule: "));
	assert_non_null(strstr(r.out, "\nevidence: "));
	assert_non_null(strstr(r.out, " entries, masked"));
	assert_non_null(strstr(r.out, "\nindex  time "));
	assert_non_null(strstr(r.out, "nik="));
	assert_non_null(strstr(r.out, "****"));
	assert_no_secret(&sec, "alerts show", r.out);
	run_free(&r);
	RUN(f, &r, 0, "alerts", "show", "2", "--config", conf, "--json");
	assert_non_null(o = json_loads(r.out, JSON_REJECT_DUPLICATES, NULL));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "alert"),
	    "id")), 2);
	assert_true(json_array_size(json_object_get(o, "entries")) >=
	    json_array_size(json_object_get(json_object_get(o, "alert"), "evidence")));
	assert_non_null(json_string_value(json_object_get(o, "rule_words")));
	json_decref(o);
	run_free(&r);
	/* In the branch's zone, the evidence table too: one screen, one clock. The CSV
	 * follows the table; JSON stays UTC for tools. */
	RUN(f, &r, 0, "alerts", "show", "2", "--config", conf, "--tz", "WITA");
	assert_non_null(strstr(r.out, " WITA  alert 2 (entry "));
	line = strstr(r.out, "\nindex  time ");
	assert_non_null(line);
	assert_non_null(strstr(line, " WITA  "));
	assert_null(strstr(line, "Z  "));
	run_free(&r);
	RUN(f, &r, 0, "alerts", "show", "2", "--config", conf, "--tz", "WITA", "--csv");
	assert_true(strncmp(r.out, "index,time,", 11) == 0);
	assert_non_null(strstr(r.out, " WITA,"));
	assert_null(strstr(r.out, "Z,"));
	run_free(&r);
	RUN(f, &r, 0, "alerts", "show", "2", "--config", conf, "--tz", "WITA", "--json");
	assert_null(strstr(r.out, "WITA"));
	assert_non_null(strstr(r.out, "\"time_ms\": "));
	run_free(&r);
	RUN(f, &r, 1, "alerts", "show", "999999", "--config", conf);
	assert_non_null(strstr(r.err, "no alert 999999 in the ledger"));
	run_free(&r);

	/* 5. Acknowledge alert 1 with the officer's key; a second ack is refused, a note
	 * the schema refuses is a usage error. */
	RUN(f, &r, 0, "alerts", "ack", "1", "--note", "Checked: one device booking for many; "
	    "case SEC-7 opened", "--officer", "SEC-7", "-k", seckey, "--url", url,
	    "--box-pub", P(f, 3, "st/box.pub"), "--vkey", vkey);
	assert_non_null(strstr(r.err, "alert 1 acknowledged, entry "));
	run_free(&r);
	RUN(f, &r, 1, "alerts", "ack", "1", "--note", "again", "--officer", "SEC-7", "-k",
	    seckey, "--url", url, "--box-pub", f->path[3], "--vkey", vkey);
	assert_non_null(strstr(r.err, "saksi: not acknowledged: no open alert 1: it was "
	    "acknowledged at index"));
	run_free(&r);
	RUN(f, &r, 2, "alerts", "ack", "2", "--note", "tab\there", "--officer", "SEC-7", "-k",
	    seckey, "--url", url, "--box-pub", f->path[3], "--vkey", vkey);
	run_free(&r);

	/* 6. Alert 2 left open: saksid raises it again (a bounded wait on the ledger, not a
	 * timing). The re-raise says which entry it repeats and when; the original's line
	 * says it is escalating. */
	for (int i = 0;; i++) {
		RUN(f, &r, 0, "alerts", "list", "--ledger", ledger, "--keyring", f->path[2]);
		if (strstr(r.out, "reraise:") != NULL &&
		    strstr(r.out, "  open, raised again ") != NULL)
			break;
		run_free(&r);
		if (i == 600)
			fail_msg("no alert was raised again");
		{
			struct timespec ts = { 0, 100 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	assert_non_null(strstr(r.out, "  original entry "));
	assert_non_null(strstr(r.out, "  raised again (1) at "));
	assert_non_null(strstr(r.out, "Z  alert 1 (entry "));
	assert_non_null(strstr(r.out, "  acked by sec-andi at "));
	assert_non_null(strstr(r.out, "): Checked: one device booking for many; case SEC-7 "
	    "opened\n"));
	assert_null(strstr(r.out, " 1 of "));   /* a re-raise is no "evidence 1 of N" */
	run_free(&r);
	RUN(f, &r, 0, "alerts", "list", "--config", conf, "--tz", "WITA");
	assert_non_null(strstr(r.out, " WITA  alert 1 (entry "));
	assert_non_null(strstr(r.out, " WITA (entry "));   /* the ack's time too */
	run_free(&r);
	RUN(f, &r, 2, "alerts", "list", "--config", conf, "--tz", "CET");
	assert_non_null(strstr(r.err, "--tz is WIB, WITA, WIT or UTC"));
	run_free(&r);

	/* 7. Tune a rule: device_many_nik_fast lowered from 6 to 3 NIKs an hour. Tried over
	 * the ledger first: per rule, the candidate beside what the ledger holds. */
	text = slurp(rules, &len);
	line = strstr(strstr(text, "rule device_many_nik_fast\n"), "condition gte 6\n");
	assert_non_null(line);
	line[strlen("condition gte ")] = '3';
	spit(cand, text, len);
	free(text);
	RUN(f, &r, 0, "replay", "--config", conf, "--check", "--quiet");
	assert_non_null(strstr(r.out, " 0 difference(s): the replay reproduces"));
	run_free(&r);
	RUN(f, &r, 1, "replay", "--config", conf, "--rules", cand, "--check", "--quiet");
	assert_non_null(strstr(r.out, "  rule                                       replay   "
	    "ledger\n"));
	line = strstr(r.out, "\n  device_many_nik_fast ");
	assert_non_null(line);
	assert_non_null(strstr(line, "  *\n"));
	assert_null(strstr(r.out, "difference (renumbered)"));
	assert_non_null(strstr(r.out, " replay_only, "));
	assert_no_secret(&sec, "replay", r.out);
	run_free(&r);

	/* 8. Deploy it: the file saksid's rules line names, then SIGHUP. A broken file is
	 * refused by name and line, and the old rules stay. */
	text = slurp(cand, &len);
	spit(rules, text, len);
	free(text);
	assert_int_equal(kill(f->pid, SIGHUP), 0);
	free(dr_await_file(saksidlog, ", sha256 ", f->pid));
	text = slurp(rules, &len);
	text = realloc(text, len + 64);
	assert_non_null(text);
	len += (size_t)snprintf(text + len, 64, "rule broken\n  type nope\n");
	spit(rules, text, len);
	free(text);
	assert_int_equal(kill(f->pid, SIGHUP), 0);
	free(dr_await_file(saksidlog, "not reloaded: the old rules stay", f->pid));
	free(dr_await_file(saksidlog, "active.rules:", f->pid));

	/* 9. From the officer's own machine: a remote look, masked (the security role),
	 * payloads in their signed order like a local query. */
	RUN(f, &r, 0, "query", "--remote", url, "-k", seckey, "--box-pub", f->path[3],
	    "--vkey", vkey, "--type", "queue.booking.created", "--limit", "1", "--json");
	line = strstr(r.out, "\"payload\": {");
	assert_non_null(line);
	assert_non_null(strstr(line, "\"branch\""));
	assert_non_null(strstr(line, "\"booking_id\""));
	assert_true(strstr(line, "\"branch\"") < strstr(line, "\"channel\""));
	assert_true(strstr(line, "\"channel\"") < strstr(line, "\"booking_id\""));
	assert_no_secret(&sec, "remote query", r.out);
	run_free(&r);
	RUN(f, &r, 1, "query", "--remote", url, "-k", seckey, "--box-pub", f->path[3],
	    "--vkey", vkey, "--type", "queue.booking.created", "--limit", "1", "--reveal");
	assert_non_null(strstr(r.err, "refused"));
	run_free(&r);

	/* 10. The status the team watches: alerts open and raised. */
	RUN(f, &r, 0, "status", "--url", url);
	assert_non_null(strstr(r.out, "\nalerts "));
	run_free(&r);

	saksid_stop(f);
	text = slurp(saksidlog, NULL);
	assert_no_secret(&sec, "saksid's log", text);
	free(text);
	tu_secrets_free(&sec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_security_day, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
