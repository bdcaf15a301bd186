/*
 * rules_restart_test.c: the rules' windows in memory (RULES.md 4.4) through the built
 * saksid, killed with SIGKILL before a snapshot, just after one, mid-stream with a
 * snapshot inside a commit group, and just after a forget (whose group writes one), then
 * stopped cleanly. After each kill the tail the restart evaluates again is read from the
 * state (never longer than the snapshot interval), and at the end the ledger's alert
 * entries are numbered 1..n, each once, and `saksi replay --check` reproduces them byte
 * for byte. Waits on conditions only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "bytes.h"
#include "client.h"
#include "ledger.h"
#include "wire.h"

#define INTERVAL 10          /* rules_snapshot_events */
#define NREQ 16              /* requests in flight at the kill mid-stream */
#define PER_REQ 16           /* items each */
#define ALERTS_MAX 4096

/* Alerts on nearly every booking, so that every tail has alerts to find again. */
static const char rules_text[] = DR_RULES_BOOKINGS;

static struct dr sd;
static char rules_path[DR_NAME_LEN + 16];
static uint64_t seq, t0;
static unsigned person;

/* The next booking, signed by producer key `prod`: five devices in turn, a new NIK each
 * time. */
static void
next_booking(size_t prod, struct fx_item *it)
{
	char nik[20], bk[32], dev[32], *p;
	const char *const set[] = { "nik", nik, "device_id", dev, "booking_id", bk, NULL };

	person++;
	snprintf(nik, sizeof(nik), "737105450789%04u", person);
	snprintf(bk, sizeof(bk), "BK-MEM-%u", person);
	snprintf(dev, sizeof(dev), "app-install-memwin-%u", person % 5);
	p = fx_payload("queue.booking.created", set);
	seq++;
	fx_build(&sd.fx, sd.fx.prod[prod], "queue.booking.created", p, seq, t0 + seq, it);
	free(p);
}

/* n bookings, one request each, so that each is committed (and evaluated) in order. */
static void
bookings(size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct fx_item it;

		next_booking(FX_QUEUE, &it);
		dr_submit_items(&sd, sd.fx.prod[FX_QUEUE], &it, 1, 0);
		fx_item_free(&it);
	}
}

/*
 * The tail a start would evaluate again, read from the stopped daemon's state (memory
 * mode: there is always one, maybe empty): the leaves [N's next leaf, C's next leaf) of
 * RULES.md 4.4; returns the events among them.
 */
static uint64_t
tail_events(uint64_t *from_out, uint64_t *to_out)
{
	uint64_t events;

	assert_int_equal(dr_rules_tail(sd.ledger_dir, from_out, to_out, &events), 1);
	return events;
}

/* Leaves in the ledger now; read-only, beside the running daemon as LMDB allows. */
static uint64_t
ledger_size(void)
{
	return dr_ledger_size(sd.ledger_dir);
}

/* A supervisor's forget request (RULES.md 3.9: its group writes a snapshot at once,
 * as the forgotten participant's disclosures will not open for a tail). */
static void
forget(unsigned who)
{
	static uint64_t fseq;
	char nik[20], *p;
	const char *const set[] = { "nik", nik, "branch", FX_BRANCH, NULL };
	struct fx_item it;

	snprintf(nik, sizeof(nik), "737105450789%04u", who);
	p = fx_payload("supervisor.forget.requested", set);
	fx_build(&sd.fx, sd.fx.prod[FX_NATIONAL], "supervisor.forget.requested", p, ++fseq,
	         t0 + seq, &it);
	free(p);
	dr_submit_items(&sd, sd.fx.prod[FX_NATIONAL], &it, 1, 0);
	fx_item_free(&it);
}

/* The fixture's keyring, with a supervisor (the national key) who may forget. */
static void
supervisor_keyring(void)
{
	json_error_t jerr;
	json_t *root = json_loads(sd.fx.keyring_json, 0, &jerr), *keys;

	assert_non_null(root);
	assert_int_equal(json_object_set_new(json_object_get(root, "roles"), "supervisor",
	                 json_pack("[s]", "supervisor.*")), 0);
	keys = json_object_get(root, "keys");
	assert_int_equal(json_object_set_new(json_array_get(keys, FX_NATIONAL), "role",
	                 json_string("supervisor")), 0);
	free(sd.fx.keyring_json);
	assert_non_null(sd.fx.keyring_json = json_dumps(root, JSON_INDENT(2)));
	json_decref(root);
}

static int
setup(void **state)
{
	*state = &sd;
	dr_setup(&sd, NREQ);   /* a producer key per mid-stream request */
	supervisor_keyring();
	dr_save_keys(&sd.fx, DR_INDEX_KEY | DR_KEYRING);
	snprintf(rules_path, sizeof(rules_path), "%s/mem.rules", sd.fx.dir);
	fx_write(rules_path, rules_text, strlen(rules_text), 0644);
	dr_write_conf(sd.conf, "index_key = index.key\nrules = mem.rules\n"
	              "rules_snapshot_events = %d\nrules_snapshot_ms = 0\n"
	              "group_max = 8\ngroup_wait_us = 2000\n", INTERVAL);
	t0 = wall_ms();
	return 0;
}

static void
test_kill_points(void **state)
{
	struct fx_item mid[NREQ * PER_REQ];
	uint64_t from, to, before;

	(void)state;
	dr_start(&sd);
	/* Before the first snapshot: the whole tail is evaluated again. */
	bookings(INTERVAL - 1);
	dr_stop(&sd, SIGKILL);
	assert_int_equal(tail_events(NULL, NULL), INTERVAL - 1);
	dr_start(&sd);
	/* The tail counts towards the interval: one more event writes the snapshot. Killed
	 * just after it: nothing to evaluate again. */
	bookings(1);
	dr_stop(&sd, SIGKILL);
	assert_int_equal(tail_events(NULL, NULL), 0);
	dr_start(&sd);
	/* Some way past a snapshot. */
	bookings(INTERVAL + 3);
	dr_stop(&sd, SIGKILL);
	assert_int_equal(tail_events(NULL, NULL), 3);
	dr_start(&sd);
	/* Mid-stream: NREQ requests in flight on their own sockets, killed once the first
	 * group is in, the others committed or not by then; the producers send the same
	 * bytes again (accepted, or duplicates of what was committed). A request is one
	 * commit group; a snapshot falls inside a group every INTERVAL events. Each request
	 * is its own producer's: the sockets' requests arrive in any order, and a key's
	 * lower seqs after a higher one committed would be refused as replay. */
	for (size_t i = 0; i < NREQ * PER_REQ; i++)
		next_booking(FX_NFIXED + i / PER_REQ, &mid[i]);
	{
		int s[NREQ];

		before = ledger_size();
		for (size_t r = 0; r < NREQ; r++) {
			size_t len;
			uint8_t *req = dr_submit_req(&mid[r * PER_REQ], PER_REQ, &len);

			assert_true((s[r] = nn_socket(AF_SP, NN_REQ)) >= 0);
			assert_true(nn_connect(s[r], sd.url) >= 0);
			assert_int_equal(nn_send(s[r], req, len, 0), (int)len);
			free(req);
		}
		for (int i = 0; i < 60000 && ledger_size() == before; i++) {
			struct timespec ts = { 0, 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
		dr_stop(&sd, SIGKILL);
		for (size_t r = 0; r < NREQ; r++)
			nn_close(s[r]);
	}
	printf("# killed with %llu leaves of the %d requests' (%d events) committed\n",
	       (unsigned long long)(ledger_size() - before), NREQ, NREQ * PER_REQ);
	assert_true(tail_events(NULL, NULL) <= INTERVAL);
	dr_start(&sd);
	for (size_t r = 0; r < NREQ; r++)
		dr_submit_items(&sd, sd.fx.prod[FX_NFIXED + r], &mid[r * PER_REQ], PER_REQ, 1);
	for (size_t i = 0; i < NREQ * PER_REQ; i++)
		fx_item_free(&mid[i]);
	bookings(4);
	/* A forget: its group writes a snapshot at once, killed right after it. (Of a NIK
	 * that booked nothing: a forgotten participant's alerts are not what a replay can
	 * reproduce, and the check below compares them all.) */
	forget(9999);
	dr_stop(&sd, SIGKILL);
	assert_int_equal(tail_events(NULL, NULL), 0);
	dr_start(&sd);
	bookings(4);
	/* A clean stop writes the rules' memory: no tail. */
	dr_stop(&sd, SIGTERM);
	assert_int_equal(tail_events(&from, &to), 0);
	before = to;
	dr_start(&sd);
	bookings(2);
	dr_stop(&sd, SIGTERM);
	assert_int_equal(tail_events(&from, &to), 0);
	assert_true(to > before);

	/* Every alert once, numbered without a gap, and the same as a replay's. */
	dr_check_alerts(&sd, 21, ALERTS_MAX);
}

/* A fresh appliance started and stopped before any event, twice, then fed: every start
 * serves (the stop's snapshot once said it held "all leaves" and the next start refused
 * the state as inconsistent). */
static void
test_restart_before_any_event(void **state)
{
	(void)state;
	dr_start(&sd);
	dr_stop(&sd, SIGTERM);
	dr_start(&sd);
	dr_stop(&sd, SIGTERM);
	dr_start(&sd);
	bookings(3);
	dr_stop(&sd, SIGTERM);
	assert_int_equal(tail_events(NULL, NULL), 0);   /* a clean stop leaves no tail */
	dr_start(&sd);
	dr_stop(&sd, SIGTERM);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kill_points, setup,
		                                dr_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_restart_before_any_event, setup,
		                                dr_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
