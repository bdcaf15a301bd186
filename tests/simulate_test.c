/*
 * simulate_test.c: runs the built `saksi simulate` as a real process: the dry run and its
 * ground truth, usage errors, producer keys and their registration in a real state
 * directory, and a whole simulated branch day through a real saksid, verified afterwards.
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

#include "keys.h"
#include "testutil.h"

#define ORIGIN "simulate-test.saksi.example/log"

/* The command exists only once cli/main.c wires it in; until then there is nothing to run. */
static void
need_simulate(struct scratch *f)
{
	struct run r;

	if (access(SAKSI, X_OK) != 0) {
		print_message("saksi is not built here; skipping\n");
		skip();
	}
	RUN(f, &r, 2, "simulate", "--brokers", "nonsense");
	if (strstr(r.err, "unknown command") != NULL) {
		print_message("saksi has no simulate command yet (cli/main.c); skipping\n");
		run_free(&r);
		skip();
	}
	assert_non_null(strstr(r.err, "--brokers must be"));
	run_free(&r);
}

static int
setup(void **state)
{
	return scratch_setup(state, "sim");
}

static void
test_usage(void **state)
{
	struct scratch *f = *state;
	struct run r;

	need_simulate(f);
	RUN(f, &r, 2, "simulate", "--dry-run");
	assert_non_null(strstr(r.err, "--out"));
	run_free(&r);
	RUN(f, &r, 2, "simulate", "--branches", "0", "--dry-run", "--out", "-");
	run_free(&r);
	RUN(f, &r, 2, "simulate", "--branches", "301", "--dry-run", "--out", "-");
	run_free(&r);
	RUN(f, &r, 2, "simulate", "--days", "x", "--dry-run", "--out", "-");
	run_free(&r);
	RUN(f, &r, 2, "simulate", "--batch", "257", "--state", f->dir);
	run_free(&r);
	RUN(f, &r, 2, "simulate", "--start", "2025-13-01", "--dry-run", "--out", "-");
	run_free(&r);
	RUN(f, &r, 2, "simulate");
	assert_non_null(strstr(r.err, "--state"));
	run_free(&r);
	RUN(f, &r, 2, "simulate", "--state", f->dir, "--out", "x.jsonl");
	run_free(&r);
	/* A state directory that saksi init did not make. */
	RUN(f, &r, 2, "simulate", "--state", P(f, 0, "none"), "--register-only");
	run_free(&r);
}

/* The dry run: JSON lines that agree with the truth file, the same for the same seed. */
static void
test_dry_run(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char *a, *b, *line, *t;
	json_t *truth, *ev;
	json_error_t jerr;
	size_t n = 0, la, lb, scen = 0;

	need_simulate(f);
	RUN(f, &r, 0, "simulate", "--dry-run", "--out", P(f, 0, "a.jsonl"), "--seed", "42",
	    "--start", "2025-03-10", "--brokers", "low", "--truth", P(f, 1, "truth.json"));
	assert_non_null(strstr(r.out, "seed 42"));
	assert_non_null(strstr(r.out, "2025-03-10"));
	assert_non_null(strstr(r.out, "broker.bot_opening"));
	run_free(&r);
	RUN(f, &r, 0, "simulate", "--dry-run", "--out", P(f, 2, "b.jsonl"), "--seed", "42",
	    "--start", "2025-03-10", "--brokers", "low");
	run_free(&r);
	a = slurp(f->path[0], &la);
	b = slurp(f->path[2], &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(b);
	t = slurp(f->path[1], NULL);
	truth = json_loads(t, 0, &jerr);
	assert_non_null(truth);
	free(t);
	assert_string_equal(json_string_value(json_object_get(truth, "seed")), "42");
	for (line = a; *line != '\0'; n++) {
		char *nl = strchr(line, '\n');

		assert_non_null(nl);
		*nl = '\0';
		ev = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
		if (ev == NULL)
			fail_msg("line %zu: %s", n + 1, jerr.text);
		assert_int_equal(json_integer_value(json_object_get(ev, "index")), n);
		assert_true(json_is_object(json_object_get(ev, "payload")));
		assert_non_null(json_string_value(json_object_get(ev, "producer")));
		scen += json_is_string(json_object_get(ev, "scenario"));
		json_decref(ev);
		line = nl + 1;
	}
	assert_int_equal(json_integer_value(json_object_get(truth, "events")), n);
	assert_true(scen > 0);
	json_decref(truth);
	free(a);
	/* Standard output takes the events; the summary goes to standard error. */
	RUN(f, &r, 0, "simulate", "--dry-run", "--out", "-", "--seed", "42", "--start",
	    "2025-03-10", "--brokers", "low");
	assert_int_equal(r.out_len, la);
	assert_non_null(strstr(r.err, "seed 42"));
	run_free(&r);
}

static size_t
keyring_count(struct scratch *f, const char *path, const char *role)
{
	char *t = slurp(path, NULL);
	json_error_t jerr;
	json_t *kr = json_loads(t, JSON_REJECT_DUPLICATES, &jerr), *k;
	size_t i, n = 0;

	(void)f;
	assert_non_null(kr);
	json_array_foreach(json_object_get(kr, "keys"), i, k)
		n += role == NULL ||
		    strcmp(json_string_value(json_object_get(k, "role")), role) == 0;
	json_decref(kr);
	free(t);
	return n;
}

/* Producer keys: created once (0600), registered once, never replaced. */
static void
test_register(void **state)
{
	struct scratch *f = *state;
	struct run r;
	struct stat st;
	char *before, *after, *conf;
	saksi_seckey *k;

	need_simulate(f);
	RUN(f, &r, 0, "init", "--dir", P(f, 0, "st"), "--origin", ORIGIN);
	run_free(&r);
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only", "--branches", "2");
	assert_non_null(strstr(r.out, "15 newly registered"));
	run_free(&r);
	assert_int_equal(keyring_count(f, P(f, 1, "st/keyring.json"), NULL), 15);
	assert_int_equal(keyring_count(f, f->path[1], "staff"), 2);
	assert_int_equal(keyring_count(f, f->path[1], "queue"), 2 + 2 * 2);
	assert_int_equal(stat(P(f, 2, "st/producers/kiosk-kc-makassar.key"), &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	assert_int_equal(saksi_seckey_load(f->path[2], NULL, &k), SAKSI_OK);
	saksi_seckey_free(k);
	conf = slurp(P(f, 3, "st/saksid.conf"), NULL);
	assert_non_null(strstr(conf, "\nmax_clock_skew_ms = 2678400000\n"));
	free(conf);
	/* Again: nothing new, nothing rewritten. */
	before = slurp(f->path[1], NULL);
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only", "--branches", "2");
	run_free(&r);
	after = slurp(f->path[1], NULL);
	assert_string_equal(before, after);
	free(after);
	conf = slurp(f->path[3], NULL);
	assert_null(strstr(strstr(conf, "max_clock_skew_ms") + 1, "max_clock_skew_ms"));
	free(conf);
	/* A run that needs new keys registers them, then stops: saksid must reload. */
	RUN(f, &r, 2, "simulate", "--state", f->path[0], "--branches", "3", "--timeout", "300");
	assert_non_null(strstr(r.err, "reload saksid"));
	run_free(&r);
	assert_int_equal(keyring_count(f, f->path[1], NULL), 19);
	free(before);
	before = slurp(f->path[1], NULL);
	/* A producer registered with another role than the one it signs with. */
	{
		json_error_t jerr;
		json_t *kr = json_loads(before, 0, &jerr), *ent;
		size_t i;
		char *text;

		assert_non_null(kr);
		json_array_foreach(json_object_get(kr, "keys"), i, ent)
			if (strcmp(json_string_value(json_object_get(ent, "name")),
			    "staff-kc-makassar") == 0)
				json_object_set_new(ent, "role", json_string("queue"));
		text = json_dumps(kr, JSON_INDENT(2));
		assert_non_null(text);
		spit(f->path[1], text, strlen(text));
		free(text);
		json_decref(kr);
		RUN(f, &r, 2, "simulate", "--state", f->path[0], "--register-only");
		assert_non_null(strstr(r.err, "staff-kc-makassar with role queue"));
		run_free(&r);
		spit(f->path[1], before, strlen(before));
	}
	/* A name in the keyring that holds another key is never overwritten. */
	assert_int_equal(unlink(f->path[2]), 0);
	assert_int_equal(unlink(P(f, 4, "st/producers/kiosk-kc-makassar.pub")), 0);
	RUN(f, &r, 2, "simulate", "--state", f->path[0], "--register-only");
	assert_non_null(strstr(r.err, "kiosk-kc-makassar"));
	run_free(&r);
	after = slurp(f->path[1], NULL);
	assert_string_equal(before, after);
	free(after);
	free(before);
}

/* Nobody listening: a clear system error, not a hang and not a success. */
static void
test_unreachable(void **state)
{
	struct scratch *f = *state;
	struct run r;

	need_simulate(f);
	RUN(f, &r, 0, "init", "--dir", P(f, 0, "st"), "--origin", ORIGIN);
	run_free(&r);
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only");
	run_free(&r);
	RUN(f, &r, 2, "simulate", "--state", f->path[0], "--timeout", "300", "--seed", "1");
	assert_non_null(strstr(r.err, "did not answer"));
	run_free(&r);
}

/* A simulated branch day through a real saksid: all accepted, receipts verified, twice. */
static void
test_daemon(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char sock[256], *truth, vkey[512];
	json_t *t;
	json_error_t jerr;
	long long events;

	need_simulate(f);
	need_built(SAKSI, SAKSID);
	state_init(SAKSI, f, ORIGIN, vkey, sizeof(vkey));
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only");
	run_free(&r);
	conf_listen(P(f, 1, "st/saksid.conf"), NULL, 0, sock, sizeof(sock));
	saksid_start(SAKSID, f, NULL, f->path[1], sock, P(f, 9, "saksid.log"), O_APPEND);

	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--seed", "7", "--brokers", "high",
	    "--truth", P(f, 2, "truth.json"), "--batch", "256", "--window", "3600000");
	truth = slurp(f->path[2], NULL);
	t = json_loads(truth, 0, &jerr);
	assert_non_null(t);
	free(truth);
	events = (long long)json_integer_value(json_object_get(t, "events"));
	json_decref(t);
	{
		char want[128];

		snprintf(want, sizeof(want), "events: %lld generated, %lld sent, %lld accepted, 0 "
		    "already in the ledger, 0 refused", events, events, events);
		if (strstr(r.out, want) == NULL)
			fail_msg("want \"%s\" in:\n%s", want, r.out);
		snprintf(want, sizeof(want), "receipts: %lld verified against %s", events, ORIGIN);
		assert_non_null(strstr(r.out, want));
	}
	run_free(&r);
	/* A second run continues every producer's sequence: no replay refusals. */
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--seed", "8", "--brokers", "none",
	    "--batch", "7", "--window", "3600000");
	assert_non_null(strstr(r.out, " 0 refused"));
	run_free(&r);
	saksid_stop(f);

	RUN(f, &r, 0, "verify", "--ledger", P(f, 3, "st/ledger"), "--vkey", vkey, "--keyring",
	    P(f, 4, "st/keyring.json"));
	assert_non_null(strstr(r.out, "ledger intact"));
	run_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_usage, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_dry_run, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_register, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_unreachable, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_daemon, setup, scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
