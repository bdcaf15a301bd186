/*
 * rules_switch_test.c: the built saksid killed with SIGKILL with its rules' windows in
 * one mode (RULES.md 4.4: in memory, or in LMDB) and started in the other, and a start
 * whose tail does not raise the log's alerts again. After a switch the windows must hold
 * every event (no alert lost, none raised twice: `saksi replay --check` reproduces the
 * ledger's alerts, numbered 1..n); a mismatch must stop the start (exit 1) with a line
 * naming the entry and what to do. Waits on conditions only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/wait.h>
#include <cmocka.h>


#include "daemon_fixture.h"
#include "daemon_run.h"
#include "bytes.h"
#include "client.h"
#include "ledger.h"
#include "wire.h"

#define ALERTS_MAX 256

/* A device with two bookings in an hour, and with three distinct NIKs: every booking
 * after the first alerts, so a window that lost events shows at once. */
static const char rules_text[] = DR_RULES_BOOKINGS;
/* The same without two_bookings: a state it did not make. */
static const char rules_other[] = DR_RULES_HEAD DR_RULE_THREE_NIKS;

static struct dr sd;
static char rules_path[DR_NAME_LEN + 16];
static uint64_t seq, t0;
static unsigned person;

/* Windows in memory with no snapshot before a stop (events > 0), or in LMDB (0). */
static void
write_conf(unsigned events)
{
	dr_write_conf(sd.conf, "index_key = index.key\nrules = rules\n"
	              "rules_snapshot_events = %u\nrules_snapshot_ms = 0\n"
	              "group_max = 8\ngroup_wait_us = 2000\n", events);
}

/* n bookings from one device, a new NIK each, one request each (committed in order). */
static void
bookings(size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char nik[20], bk[32], *p;
		const char *const set[] = { "nik", nik, "device_id", "app-install-switch",
		                            "booking_id", bk, NULL };
		struct fx_item it;

		person++;
		snprintf(nik, sizeof(nik), "737105450788%04u", person);
		snprintf(bk, sizeof(bk), "BK-SW-%u", person);
		p = fx_payload("queue.booking.created", set);
		seq++;
		fx_build(&sd.fx, sd.fx.prod[FX_QUEUE], "queue.booking.created", p, seq, t0 + seq,
		         &it);
		free(p);
		dr_submit_items(&sd, sd.fx.prod[FX_QUEUE], &it, 1, 0);
		fx_item_free(&it);
	}
}

/*
 * The rule state of the stopped daemon: 1 if it has an 'N' record (memory mode, RULES.md
 * 4.4), and then the tail a start in memory mode would evaluate again, in events.
 */
static int
state_tail(uint64_t *events)
{
	return dr_rules_tail(sd.ledger_dir, NULL, NULL, events);
}

/* The log from byte off on (malloc'd), and its length now into *len (may be NULL). */
static char *
log_from(size_t off, size_t *len)
{
	size_t n;
	char *text = fx_read(sd.errlog, &n), *rest;

	assert_non_null(text);
	assert_true(off <= n);
	assert_non_null(rest = strndup(text + off, n - off));
	free(text);
	if (len != NULL)
		*len = n;
	return rest;
}

static size_t
log_len(void)
{
	size_t n = 0;
	char *text = access(sd.errlog, F_OK) == 0 ? fx_read(sd.errlog, &n) : NULL;

	free(text);
	return n;
}

/* Prints (and returns) the line of text that has what; fails if none. */
static const char *
log_line(const char *text, const char *what)
{
	const char *p = strstr(text, what), *b, *e;

	if (p == NULL)
		fail_msg("no \"%s\" in saksid's log", what);
	for (b = p; b > text && b[-1] != '\n'; b--)
		;
	e = strchr(p, '\n');
	printf("# %.*s\n", (int)(e != NULL ? e - b : (ptrdiff_t)strlen(b)), b);
	return p;
}

/* Windows in memory, n bookings, killed: the tail a start evaluates again is those n. */
static void
memory_killed(size_t n)
{
	uint64_t ev;

	write_conf(1000);
	dr_start(&sd);
	bookings(n);
	dr_stop(&sd, SIGKILL);
	assert_int_equal(state_tail(&ev), 1);
	assert_int_equal(ev, n);
}

/* Starts saksid with rules_other in the rules file: it must refuse to start, exit 1 (its
 * log says why from the offset returned). */
static size_t
refused_start(void)
{
	size_t off;
	pid_t pid;
	int st;

	fx_write(rules_path, rules_other, strlen(rules_other), 0644);
	off = log_len();
	pid = dr_saksid_start(sd.conf, sd.errlog, NULL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	return off;
}

/* Memory mode killed with a tail, then a start in LMDB mode: the tail is evaluated
 * again first, and the LMDB state holds it. */
static void
test_memory_killed_then_lmdb(void **state)
{
	uint64_t ev;
	size_t off;
	char *text;

	(void)state;
	memory_killed(2);     /* two_bookings alerts at the second */
	write_conf(0);
	off = log_len();
	dr_start(&sd);
	free(dr_await_file(sd.errlog, "rules: switching to LMDB mode:", sd.pid));
	text = log_from(off, NULL);
	log_line(text, "the windows were kept in memory by a saksid that did not stop "
	         "cleanly");
	assert_non_null(strstr(log_line(text, "rules: switching to LMDB mode:"),
	                       "2 events evaluated again from entry 1 up to 3 (after the last "
	                       "snapshot), 1 alerts found again in the log, in "));
	/* The start in LMDB mode itself has no tail to log. */
	assert_null(strstr(text, "rules: 0 events evaluated again"));
	free(text);
	/* The LMDB state now holds the first two: the next bookings alert on both rules
	 * (without them, neither would: the windows would hold one booking). */
	bookings(2);
	dr_stop(&sd, SIGKILL);
	assert_int_equal(state_tail(&ev), 0);   /* no N: LMDB mode, current */
	dr_start(&sd);
	bookings(1);
	dr_stop(&sd, SIGTERM);
	dr_check_alerts(&sd, 5, ALERTS_MAX);
}

/* LMDB mode killed, then memory mode (its state is current: no tail); then memory mode
 * killed with a tail and started in memory mode again. */
static void
test_lmdb_killed_then_memory(void **state)
{
	uint64_t ev;
	size_t off;
	char *text;

	(void)state;
	write_conf(0);
	dr_start(&sd);
	bookings(2);
	dr_stop(&sd, SIGKILL);
	assert_int_equal(state_tail(&ev), 0);
	write_conf(1000);
	off = log_len();
	dr_start(&sd);
	free(dr_await_file(sd.errlog, "serving", sd.pid));
	text = log_from(off, &off);
	assert_non_null(strstr(log_line(text, "rules: 0 events evaluated again"),
	                       "0 alerts found again"));
	free(text);
	bookings(2);
	dr_stop(&sd, SIGKILL);
	assert_int_equal(state_tail(&ev), 1);
	assert_int_equal(ev, 2);
	dr_start(&sd);
	free(dr_await_file(sd.errlog, "rules: 2 events evaluated again", sd.pid));
	text = log_from(off, NULL);
	assert_null(strstr(log_line(text, "rules: 2 events evaluated again"),
	                   " 0 alerts found again"));
	free(text);
	bookings(1);
	dr_stop(&sd, SIGTERM);
	assert_int_equal(state_tail(&ev), 1);
	assert_int_equal(ev, 0);                /* a clean stop: no tail */
	dr_check_alerts(&sd, 5, ALERTS_MAX);
}

/* A tail that does not raise the log's alerts (the rules changed between a kill and
 * the start): saksid refuses to start, naming the entry; with the rules that ran it
 * starts, and a clean stop lets the rules change. */
static void
test_tail_mismatch_refused(void **state)
{
	uint64_t ev;
	size_t off;
	char *text;

	(void)state;
	memory_killed(3);
	off = refused_start();
	text = log_from(off, &off);
	/* Leaves: the keyring entry 0, bookings 1 and 2, the alert, booking 4. Without
	 * two_bookings the first alert raised again is three_niks' at 4, where the log holds
	 * two_bookings' first. */
	log_line(text, "entry 4 raised an alert the log does not hold");
	log_line(text, "start it once with the rules file that ran then, and stop it with "
	         "SIGTERM");
	log_line(text, "the rule state cannot be attached");
	assert_null(strstr(text, "serving"));
	free(text);
	/* Nothing was changed by the refused start: the same tail, the rules that ran. */
	assert_int_equal(state_tail(&ev), 1);
	assert_int_equal(ev, 3);
	fx_write(rules_path, rules_text, strlen(rules_text), 0644);
	dr_start(&sd);
	free(dr_await_file(sd.errlog, "rules: 3 events evaluated again", sd.pid));
	text = log_from(off, NULL);
	log_line(text, "rules: 3 events evaluated again");
	free(text);
	dr_stop(&sd, SIGTERM);
	/* Stopped cleanly: the other rules start (their state is kept by fingerprint). */
	fx_write(rules_path, rules_other, strlen(rules_other), 0644);
	dr_start(&sd);
	bookings(1);
	dr_stop(&sd, SIGTERM);
	fx_write(rules_path, rules_text, strlen(rules_text), 0644);
}

/* A tail that raises none of the log's alerts (the rule that raised them is gone): the
 * same refusal, saying how far the tail got. */
static void
test_tail_missing_refused(void **state)
{
	size_t off;
	char *text;

	(void)state;
	memory_killed(2);   /* two_bookings' alert 1; three_niks needs a third NIK */
	off = refused_start();
	text = log_from(off, NULL);
	log_line(text, "(from 1 up to 3, 2 events) found 0 of the log's alerts again, not up "
	         "to its last, alert 1");
	log_line(text, "start it once with the rules file that ran then");
	assert_null(strstr(text, "serving"));
	free(text);
	fx_write(rules_path, rules_text, strlen(rules_text), 0644);
	dr_start(&sd);
	bookings(1);
	dr_stop(&sd, SIGTERM);
	dr_check_alerts(&sd, 3, ALERTS_MAX);
}

static int
setup(void **state)
{
	*state = &sd;
	dr_setup(&sd, 0);
	dr_save_keys(&sd.fx, DR_INDEX_KEY | DR_KEYRING);
	snprintf(rules_path, sizeof(rules_path), "%s/rules", sd.fx.dir);
	fx_write(rules_path, rules_text, strlen(rules_text), 0644);
	t0 = wall_ms();
	seq = 0;
	person = 0;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_memory_killed_then_lmdb, setup,
		                                dr_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_lmdb_killed_then_memory, setup,
		                                dr_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_tail_mismatch_refused, setup,
		                                dr_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_tail_missing_refused, setup,
		                                dr_cmocka_teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
