/*
 * sim_progress_test.c: saksi simulate's progress lines on stderr, through a real saksid:
 * the last one says the true totals, never the stale count from before the last batch.
 * Its own file: 20000 events are too many to add to simulate_test's time.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define ORIGIN "sim-progress-test.saksi.example/log"

static int
setup(void **state)
{
	return scratch_setup(state, "simprog");
}

/*
 * Progress on stderr every 20000 events, and a last line with the true totals: events
 * wait in batches, so a progress line taken mid-run lags, and the last one must not.
 */
static void
test_progress(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char sock[256], vkey[512], want[160];
	const char *last;
	unsigned long long gen;

	if (access(SAKSI, X_OK) != 0) {
		print_message("saksi is not built here; skipping\n");
		skip();
	}
	need_built(SAKSI, SAKSID);
	state_init(SAKSI, f, ORIGIN, vkey, sizeof(vkey));
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only", "--branches", "4");
	run_free(&r);
	conf_listen(P(f, 1, "st/saksid.conf"), NULL, 0, sock, sizeof(sock));
	saksid_start(SAKSID, f, NULL, f->path[1], sock, P(f, 9, "saksid.log"), O_APPEND);

	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--seed", "6", "--branches", "4",
	    "--days", "2", "--batch", "256");
	assert_non_null(last = strstr(r.out, "events: "));
	assert_int_equal(sscanf(last, "events: %llu generated", &gen), 1);
	assert_true(gen >= 20000);
	if (strstr(r.err, "saksi: 20000 events generated, ") == NULL)
		fail_msg("no progress line in:\n%s", r.err);
	snprintf(want, sizeof(want), "saksi: %llu events generated, %llu sent: done\n", gen,
	    gen);
	assert_true(strlen(r.err) >= strlen(want));
	last = r.err + strlen(r.err) - strlen(want);
	if (strcmp(last, want) != 0)
		fail_msg("want the last line \"%s\" in:\n%s", want, r.err);
	run_free(&r);
	/* --quiet: no progress at all. */
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--seed", "6", "--branches", "1",
	    "--quiet");
	assert_null(strstr(r.err, "events generated"));
	run_free(&r);
	saksid_stop(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_progress, setup, scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
