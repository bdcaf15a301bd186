/*
 * index_retry_test.c: the background index catch-up of the built saksid, when it fails
 * for real (a full disk: a size-limited tmpfs under state_dir) and then can go on (the
 * disk freed, saksid not restarted): it must try again by itself, keep serving, log each
 * failure and the recovery, and show it in saksi status (text, --json, --prometheus).
 * Root only (the tmpfs), skipped saying why otherwise. Nothing here is timed: every wait
 * is on a condition, with a generous bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <jansson.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "client.h"
#include "outbox.h"

#define TMPFS_SIZE "8m"
#define NEVENTS 600

struct ir {
	struct dr_ob o;
	char out[300], err[300];
};

/* n bookings, each of another participant, with their personal fields, flushed. */
static void
submit(struct ir *d, size_t n)
{
	saksi_outbox_flush_result fr;

	dr_ob_bookings(&d->o, n);
	assert_int_equal(saksi_outbox_flush(d->o.ob, d->o.cl, 64, 0, NULL, NULL, &fr), SAKSI_OK);
	assert_int_equal(fr.of_dead, 0);
}

/* saksi status --url URL [flag]: its stdout (malloc'd); exit 0 required. */
static char *
status(struct ir *d, const char *flag)
{
	const char *args[] = { "status", "--url", d->o.d.url, flag, NULL };

	assert_int_equal(dr_saksi(0, d->out, d->err, args), 0);
	return fx_read(d->out, NULL);
}

static json_t *
status_json(struct ir *d)
{
	char *text = status(d, "--json");
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, NULL);

	assert_non_null(o);
	free(text);
	return o;
}

static const json_t *
ix(const json_t *o, const char *name)
{
	const json_t *v = json_object_get(json_object_get(o, "index"), name);

	assert_non_null(v);
	return v;
}

/* Polls the status (bounded: 60 s of 20 ms naps) until the index member satisfies want;
 * the daemon must stay up meanwhile. Returns the status that did. */
static json_t *
await_status(struct ir *d, int (*want)(const json_t *))
{
	for (int i = 0; i < 3000; i++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		json_t *o = status_json(d);

		if (want(o))
			return o;
		json_decref(o);
		assert_int_equal(waitpid(d->o.d.pid, NULL, WNOHANG), 0);
		nanosleep(&ts, NULL);
	}
	fail_msg("the status never showed what was awaited; see %s", d->o.d.errlog);
	return NULL;
}

static int
failing(const json_t *o)
{
	return json_is_string(ix(o, "error"));
}

static int
caught_up(const json_t *o)
{
	return json_is_false(ix(o, "catching_up"));
}

static void
test_catchup_retries(void **state)
{
	struct ir *d = *state;
	char *text;
	json_t *o;
	uint64_t entries, failures;

	dr_ob_mount(&d->o, TMPFS_SIZE, "this test");

	/* A ledger written without index_key: everything is left to a catch-up. */
	dr_write_conf(d->o.d.conf, "group_wait_us = 1000\nmap_size_mb = 64\n");
	dr_start(&d->o.d);
	dr_ob_open(&d->o);
	submit(d, NEVENTS);
	dr_stop_pid(&d->o.d.pid, SIGTERM, d->o.d.errlog);

	/* Now with index_key, on a disk with no room for the index: the catch-up fails. */
	dr_write_conf(d->o.d.conf, "group_wait_us = 1000\nmap_size_mb = 64\nindex_key = index.key\n"
	              "index_catchup_batch = 64\n");
	dr_fill_disk(d->o.filler, 0, 16 * 1024);
	dr_start(&d->o.d);
	o = await_status(d, failing);
	entries = json_integer_value(json_object_get(json_object_get(o, "ledger"), "entries"));
	assert_true(json_is_true(ix(o, "catching_up")));
	assert_true(json_integer_value(ix(o, "upto")) < (json_int_t)entries);
	assert_true(json_integer_value(ix(o, "failures")) >= 1);
	assert_true(json_is_integer(ix(o, "behind_since_ms")));
	assert_true(json_is_integer(ix(o, "failing_since_ms")));
	assert_true(json_is_integer(ix(o, "retry_at_ms")));
	assert_true(json_is_integer(ix(o, "last_error_ms")));
	assert_string_equal(json_string_value(ix(o, "last_error")),
	                    json_string_value(ix(o, "error")));
	printf("# catch-up failing at %lld of %llu: %s\n",
	       (long long)json_integer_value(ix(o, "upto")), (unsigned long long)entries,
	       json_string_value(ix(o, "error")));
	json_decref(o);
	/* What the operator sees. */
	text = status(d, NULL);
	assert_non_null(strstr(text, "the catch-up is failing since"));
	assert_non_null(strstr(text, "next try at"));
	free(text);
	text = status(d, "--prometheus");
	assert_non_null(strstr(text, "\nsaksi_index_catchup_failing 1\n"));
	assert_non_null(strstr(text, "\nsaksi_index_catching_up 1\n"));
	assert_null(strstr(text, "\nsaksi_index_behind_since_seconds 0\n"));
	free(text);
	text = dr_await_file(d->o.d.errlog, "indexes: the catch-up failed at entry", d->o.d.pid);
	assert_non_null(strstr(text, "trying again in"));
	free(text);
	/* Still serving: reads answer while the index is behind. */
	{
		char *note = NULL;
		size_t len;

		assert_int_equal(saksi_client_checkpoint(d->o.cl, &note, &len), SAKSI_OK);
		free(note);
	}

	/* Room again: the same saksid, not restarted, catches up by itself. */
	assert_int_equal(unlink(d->o.filler), 0);
	o = await_status(d, caught_up);
	failures = (uint64_t)json_integer_value(ix(o, "failures"));
	assert_true(failures >= 1);
	assert_true(json_is_null(ix(o, "error")));
	assert_true(json_is_null(ix(o, "behind_since_ms")));
	assert_true(json_is_null(ix(o, "failing_since_ms")));
	assert_true(json_is_null(ix(o, "retry_at_ms")));
	assert_true(json_is_string(ix(o, "last_error")));
	assert_int_equal(json_integer_value(ix(o, "upto")),
	                 json_integer_value(json_object_get(json_object_get(o, "ledger"),
	                                                    "entries")));
	json_decref(o);
	text = status(d, NULL);
	assert_non_null(strstr(text, "cover the whole ledger (the catch-up failed"));
	free(text);
	text = status(d, "--prometheus");
	assert_non_null(strstr(text, "\nsaksi_index_catchup_failing 0\n"));
	assert_non_null(strstr(text, "\nsaksi_index_behind_since_seconds 0\n"));
	free(text);
	text = dr_await_file(d->o.d.errlog, "indexes: caught up", d->o.d.pid);
	assert_non_null(strstr(text, "indexes: the catch-up goes on from entry"));
	free(text);
	printf("# caught up after %llu failed step(s)\n", (unsigned long long)failures);

	/* And groups index their own events again. */
	submit(d, 10);
	o = status_json(d);
	assert_true(json_is_false(ix(o, "catching_up")));
	json_decref(o);
	dr_stop_pid(&d->o.d.pid, SIGTERM, d->o.d.errlog);
}

static int
setup(void **state)
{
	struct ir *d = calloc(1, sizeof(*d));

	dr_ob_setup(&d->o, DR_KEYRING | DR_INDEX_KEY);
	snprintf(d->out, sizeof(d->out), "%s/status.out", d->o.d.fx.dir);
	snprintf(d->err, sizeof(d->err), "%s/status.err", d->o.d.fx.dir);
	*state = d;
	return 0;
}

static int
teardown(void **state)
{
	struct ir *d = *state;

	dr_ob_teardown(&d->o);
	free(d);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* The mount namespace needs a process without threads yet. */
		cmocka_unit_test_setup_teardown(test_catchup_retries, setup, teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
