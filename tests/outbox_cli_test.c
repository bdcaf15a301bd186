/*
 * outbox_cli_test.c: saksi submit --outbox and saksi outbox, as a shell producer uses them,
 * on the built binaries: events queued while saksid is down (exit 0, "queued"), delivered
 * in order once it is up, a refusal kept in the dead letters (exit 1), the lists and the
 * status, and a ledger that verifies at the end.
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
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "envelope.h"
#include "ledger.h"
#include "note.h"
#include "testutil.h"
#include "events_gen.h"
#include "ledger_fixture.h"

#define ORIGIN "outbox-test.saksi.example/log"
#define TYPE "staff.login"
#define PAYLOAD "{\"branch\":\"KC-TEST\",\"officer_id\":\"off-1\"," \
	"\"role\":\"frontliner\",\"method\":\"sso\",\"result\":\"success\"," \
	"\"terminal_id\":\"counter-1\",\"ip\":\"10.1.2.3\"}"

#define KILL_ROUNDS 60

static int
setup(void **state)
{
	return scratch_setup(state, "outbox-cli");
}

static json_t *
parse_json(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

	if (j == NULL)
		fail_msg("not JSON (%s): %s", jerr.text, text);
	return j;
}

static void
test_usage(void **state)
{
	struct scratch *f = *state;
	struct run r;

	RUN(f, &r, 2, "outbox");
	run_free(&r);
	RUN(f, &r, 2, "outbox", "bogus", P(f, 0, "ob"));
	assert_non_null(strstr(r.err, "unknown subcommand"));
	run_free(&r);
	RUN(f, &r, 2, "outbox", "flush", P(f, 0, "ob"));
	assert_non_null(strstr(r.err, "--url"));
	run_free(&r);
	RUN(f, &r, 2, "outbox", "status");
	run_free(&r);
	RUN(f, &r, 2, "outbox", "dead", P(f, 0, "ob"), "extra");
	run_free(&r);
	RUN(f, &r, 2, "outbox", "status", P(f, 0, "no/such/dir"));
	run_free(&r);
	RUN(f, &r, 2, "outbox", "flush", P(f, 0, "ob"), "--url", "ipc:///nowhere", "--vkey",
	    "x", "--batch", "257");
	run_free(&r);
}

static void
submit(struct scratch *f, struct run *r, int want, const char *url, const char *vkey,
       const char *extra1, const char *extra2)
{
	RUN(f, r, want, "submit", "--url", url, "-k", P(f, 1, "p.key"), "--box-pub",
	    P(f, 6, "st/box.pub"), "--vkey", vkey, "--type", TYPE, "--payload",
	    P(f, 3, "ev.json"), "--timeout", "500", "--outbox", P(f, 9, "ob"),
	    extra1 != NULL ? extra1 : "--json", extra2 != NULL ? extra2 : "--json");
}

/* saksid (without -d) on the state of state_counter, once its socket is there. */
static pid_t
daemon_start(struct scratch *f, const char *sock)
{
	return saksid_start(SAKSID, f, NULL, P(f, 4, "st/saksid.conf"), sock,
	    P(f, 5, "saksid.log"), O_TRUNC);
}

static void
test_outbox_cli(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char vkey[SAKSI_VKEY_MAX + 1], url[256], sock[256];
	json_t *j;

	need_built(SAKSI, SAKSID);
	state_counter(SAKSI, f, ORIGIN, PAYLOAD, vkey, sizeof(vkey), url, sizeof(url), sock,
	    sizeof(sock));

	/* saksid is down: queued, exit 0, seqs from the outbox's counter. */
	submit(f, &r, 0, url, vkey, NULL, NULL);
	j = parse_json(r.out);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "queued");
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "outbox_id")), 1);
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	run_free(&r);
	submit(f, &r, 0, url, vkey, "--seq", "2");
	assert_non_null(strstr(r.err, "queued in"));
	run_free(&r);
	RUN(f, &r, 0, "submit", "--url", url, "-k", P(f, 1, "p.key"), "--box-pub",
	    P(f, 6, "st/box.pub"), "--vkey", vkey, "--type", TYPE, "--payload",
	    P(f, 3, "ev.json"), "--timeout", "500", "--outbox", P(f, 9, "ob"));
	assert_non_null(strstr(r.err, "queued in"));
	assert_non_null(strstr(r.err, "(seq 3)"));
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	/* A seq already queued is refused before anything is sent. */
	submit(f, &r, 1, url, vkey, "--seq", "3");
	assert_non_null(strstr(r.err, "not above 3"));
	run_free(&r);
	RUN(f, &r, 0, "outbox", "status", P(f, 9, "ob"));
	assert_non_null(strstr(r.out, "pending 3\n"));
	run_free(&r);
	RUN(f, &r, 2, "outbox", "flush", P(f, 9, "ob"), "--url", url, "--vkey", vkey,
	    "--timeout", "300");
	assert_non_null(strstr(r.err, "stopped"));
	run_free(&r);

	/* Up: the next submit sends the older ones first, then its own. */
	daemon_start(f, sock);
	submit(f, &r, 0, url, vkey, NULL, NULL);
	j = parse_json(r.out);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "accepted");
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 4);
	assert_int_equal(json_integer_value(json_object_get(j, "index")), 4); /* 0: keyring */
	json_decref(j);
	run_free(&r);
	/* A refusal lands in the dead letters: exit 1, with the daemon's reason. */
	submit(f, &r, 1, url, vkey, "--time", "1000");
	assert_non_null(strstr(r.err, "refused (clock_skew)"));
	assert_non_null(strstr(r.err, "dead letters"));
	run_free(&r);
	/* The queue goes on after it (entry 4 is the refusal summary). */
	submit(f, &r, 0, url, vkey, NULL, NULL);
	assert_non_null(strstr(r.out, "\"index\": 6"));
	assert_non_null(strstr(r.out, "\"seq\": 6"));
	run_free(&r);
	RUN(f, &r, 0, "outbox", "dead", P(f, 9, "ob"));
	j = parse_json(r.out);
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "status")),
	                    "clock_skew");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "seq")), 5);
	json_decref(j);
	run_free(&r);
	RUN(f, &r, 0, "outbox", "receipts", P(f, 9, "ob"));
	j = parse_json(r.out);
	assert_int_equal(json_array_size(j), 5);
	for (size_t i = 0; i < 5; i++) {
		json_t *e = json_array_get(j, i);
		assert_int_equal(json_integer_value(json_object_get(e, "index")), i < 4 ? i + 1 : 6);
		assert_int_equal(json_integer_value(json_object_get(e, "seq")), i < 4 ? i + 1 : 6);
		assert_non_null(strstr(json_string_value(json_object_get(e, "receipt")),
		                       "c2sp.org/tlog-proof@v1\n"));
	}
	json_decref(j);
	run_free(&r);
	RUN(f, &r, 0, "outbox", "flush", P(f, 9, "ob"), "--url", url, "--vkey", vkey, "--json");
	j = parse_json(r.out);
	assert_int_equal(json_integer_value(json_object_get(j, "pending")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "dead_total")), 1);
	json_decref(j);
	run_free(&r);
	RUN(f, &r, 0, "outbox", "status", P(f, 9, "ob"), "--json");
	j = parse_json(r.out);
	assert_int_equal(json_integer_value(json_object_get(j, "pending")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "receipts")), 5);
	json_decref(j);
	run_free(&r);
	saksid_stop(f);

	RUN(f, &r, 0, "verify", "--ledger", P(f, 8, "st/ledger"), "--vkey", vkey, "--keyring",
	    P(f, 2, "st/keyring.json"));
	run_free(&r);
}

/* A fresh state with one staff producer key; saksid started on it. */
static pid_t
daemon_up(struct scratch *f, char *vkey, size_t vlen, char *url, size_t ulen)
{
	char sock[256];

	state_counter(SAKSI, f, ORIGIN, PAYLOAD, vkey, vlen, url, ulen, sock, sizeof(sock));
	return daemon_start(f, sock);
}

/*
 * saksi submit --outbox killed with SIGKILL at seeded random moments (while it queues,
 * sends, or records receipts), many times; then one flush. Every event that was queued
 * (its id given out) must be in the ledger exactly once, with a receipt kept, and the
 * seqs must have no gap and no repeat.
 */
static void
test_killed_anywhere(void **state)
{
	struct scratch *f = *state;
	char vkey[SAKSI_VKEY_MAX + 1], url[256];
	const char *env = getenv("SAKSI_TEST_SEED");
	uint64_t seed = env != NULL ? strtoull(env, NULL, 10) : (uint64_t)time(NULL), rng;
	uint64_t n, killed = 0, size, events = 0;
	saksi_ledger *l;
	saksi_ledger_txn *t;
	uint8_t *seen;
	struct run r;
	json_t *j;

	need_built(SAKSI, SAKSID);
	printf("# seed %llu (set SAKSI_TEST_SEED to repeat)\n", (unsigned long long)seed);
	rng = seed;
	daemon_up(f, vkey, sizeof(vkey), url, sizeof(url));
	for (int round = 0; round < KILL_ROUNDS; round++) {
		char *argv[] = { (char *)SAKSI, (char *)"submit", (char *)"--url", url,
		                 (char *)"-k", f->path[1], (char *)"--box-pub", f->path[6],
		                 (char *)"--vkey", vkey, (char *)"--type", (char *)TYPE,
		                 (char *)"--payload", f->path[3], (char *)"--outbox", f->path[9],
		                 NULL };
		posix_spawn_file_actions_t fa;
		struct timespec ts;
		pid_t c;
		int st;

		P(f, 1, "p.key");
		P(f, 6, "st/box.pub");
		P(f, 3, "ev.json");
		P(f, 9, "ob");
		assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
		assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY,
		                                                  0), 0);
		assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY,
		                                                  0), 0);
		assert_int_equal(posix_spawn(&c, SAKSI, &fa, NULL, argv, environ), 0);
		posix_spawn_file_actions_destroy(&fa);
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(gen_rnd(&rng) % 15000) * 1000;
		nanosleep(&ts, NULL);
		kill(c, SIGKILL);
		assert_int_equal(waitpid(c, &st, 0), c);
		if (WIFSIGNALED(st))
			killed++;
		else
			assert_int_equal(WEXITSTATUS(st), 0);
	}
	RUN(f, &r, 0, "outbox", "flush", P(f, 9, "ob"), "--url", url, "--vkey", vkey, "--json");
	run_free(&r);
	RUN(f, &r, 0, "outbox", "status", P(f, 9, "ob"), "--json");
	j = parse_json(r.out);
	assert_int_equal(json_integer_value(json_object_get(j, "pending")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "dead")), 0);
	n = (uint64_t)json_integer_value(json_object_get(j, "next_id")) - 1;
	assert_int_equal(json_integer_value(json_object_get(j, "receipts")), n);
	json_decref(j);
	run_free(&r);
	saksid_stop(f);
	printf("# %d runs, %llu killed, %llu events queued\n", KILL_ROUNDS,
	       (unsigned long long)killed, (unsigned long long)n);

	/* Each queued event once in the ledger: seqs 1..n, each exactly once. */
	l = lf_open_ro(P(f, 8, "st/ledger"));
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	size = saksi_ledger_size(t);
	seen = calloc(n + 1, 1);
	for (uint64_t i = 0; i < size; i++) {
		saksi_envelope ev;
		uint8_t *leaf;
		size_t len;

		assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &len), SAKSI_OK);
		if (leaf[1] == SAKSI_LEAF_EVENT) {
			assert_int_equal(saksi_envelope_parse(leaf + SAKSI_LEAF_HDR,
			                                      len - SAKSI_LEAF_HDR, &ev), SAKSI_OK);
			assert_true(ev.ev_seq >= 1 && ev.ev_seq <= n);
			assert_int_equal(seen[ev.ev_seq], 0);
			seen[ev.ev_seq] = 1;
			events++;
		}
		free(leaf);
	}
	assert_int_equal(events, n);
	free(seen);
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	RUN(f, &r, 0, "verify", "--ledger", P(f, 8, "st/ledger"), "--vkey", vkey, "--keyring",
	    P(f, 2, "st/keyring.json"));
	run_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_usage, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_outbox_cli, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_killed_anywhere, setup, scratch_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
