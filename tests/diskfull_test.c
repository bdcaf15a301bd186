/*
 * diskfull_test.c: "never lose an acknowledged event" when the disk or the map is full,
 * on the built saksid. Producers queue in the outbox (lib/outbox.h) and flush; saksid
 * must answer `unavailable` (14) while it cannot write, stay up, lose nothing receipted,
 * and take events again by itself once space is back (disk) or after a restart with a
 * bigger map_size_mb (map). At the end every receipted event is in the ledger exactly
 * once, at its index, and `saksi verify` passes.
 * The disk test mounts a size-limited tmpfs (root only; it is skipped, saying why, when
 * mount is not permitted) in a mount namespace of its own, and unmounts it on every exit
 * path. Nothing here is timed.
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

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "client.h"
#include "ledger.h"
#include "outbox.h"
#include "wire.h"

#define SAKSI SAKSI_BUILD_DIR "/saksi"
#define TMPFS_SIZE "8m"
#define NRECEIPTS 20000

struct df {
	struct dr_ob o;
	/* Every receipt handed back, with its envelope. */
	size_t n;
	uint64_t index[NRECEIPTS];
	uint8_t *env[NRECEIPTS];
	size_t env_len[NRECEIPTS];
};

static void
write_conf(struct df *d, unsigned map_mb)
{
	dr_write_conf(d->o.d.conf,
	              "group_wait_us = 1000\n"
	              "workers = 2\n"
	              "map_size_mb = %u\n",
	              map_mb);
}

static void
assert_alive(struct df *d)
{
	if (waitpid(d->o.d.pid, NULL, WNOHANG) == d->o.d.pid) {
		d->o.d.pid = -1;
		fail_msg("saksid died; see %s", d->o.d.errlog);
	}
}

static void
on_receipt(void *arg, const saksi_outbox_receipt *r)
{
	struct df *d = arg;

	assert_true(d->n < NRECEIPTS);
	d->index[d->n] = r->or_index;
	d->env[d->n] = malloc(r->or_env_len);
	memcpy(d->env[d->n], r->or_env, r->or_env_len);
	d->env_len[d->n] = r->or_env_len;
	d->n++;
}

/*
 * Flushes until the daemon refuses with `unavailable` (the ledger is full), queueing more
 * as the queue empties. Returns the message of the refusal.
 */
static void
fill_until_refused(struct df *d, char *msg, size_t msglen)
{
	saksi_outbox_flush_result fr;
	saksi_err e;

	for (int round = 0; round < 10000; round++) {
		if (dr_ob_pending(&d->o) == 0)
			dr_ob_bookings(&d->o, 64);
		e = saksi_outbox_flush(d->o.ob, d->o.cl, 64, 0, on_receipt, d, &fr);
		if (e == SAKSI_ERR_REFUSED) {
			assert_int_equal(fr.of_status, SAKSI_R_UNAVAILABLE);
			snprintf(msg, msglen, "%s", fr.of_message);
			return;
		}
		assert_int_equal(e, SAKSI_OK);
		assert_int_equal(fr.of_dead, 0);
	}
	fail_msg("the ledger never filled up");
}

/* The same refusal again: cleanly, with everything kept and the daemon up. */
static void
still_refused(struct df *d, int times)
{
	saksi_outbox_flush_result fr;
	uint64_t before = dr_ob_pending(&d->o), n0 = d->n;

	for (int i = 0; i < times; i++) {
		assert_int_equal(saksi_outbox_flush(d->o.ob, d->o.cl, 64, 0, on_receipt, d, &fr),
		                 SAKSI_ERR_REFUSED);
		assert_int_equal(fr.of_status, SAKSI_R_UNAVAILABLE);
		assert_alive(d);
	}
	/* A group squeezed in after a refusal is fine; losing one is not. */
	assert_int_equal(dr_ob_pending(&d->o) + (d->n - n0), before);
}

static void
flush_all(struct df *d)
{
	saksi_outbox_flush_result fr;

	assert_int_equal(saksi_outbox_flush(d->o.ob, d->o.cl, 64, 0, on_receipt, d, &fr), SAKSI_OK);
	assert_int_equal(fr.of_dead, 0);
	assert_int_equal(dr_ob_pending(&d->o), 0);
}

/*
 * Every receipted event at its index with its bytes, each exactly once (no two receipts
 * share an index, and the ledger holds as many event leaves as receipts); then
 * `saksi verify` on the whole ledger.
 */
static void
check_ledger(struct df *d)
{
	saksi_ledger *l;
	saksi_ledger_txn *t;
	uint64_t size, events = 0;
	uint8_t *seen;
	char cmd[2048], kr[300], vk[300];
	int rc;

	l = lf_open_ro(d->o.d.ledger_dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	size = saksi_ledger_size(t);
	seen = calloc(size, 1);
	for (size_t i = 0; i < d->n; i++) {
		uint8_t *leaf;
		size_t len;

		assert_true(d->index[i] < size);
		assert_int_equal(seen[d->index[i]], 0);
		seen[d->index[i]] = 1;
		assert_int_equal(saksi_ledger_leaf(t, d->index[i], &leaf, &len), SAKSI_OK);
		assert_int_equal(len, SAKSI_LEAF_HDR + d->env_len[i]);
		assert_memory_equal(leaf + SAKSI_LEAF_HDR, d->env[i], d->env_len[i]);
		free(leaf);
	}
	for (uint64_t i = 0; i < size; i++) {
		uint8_t *leaf;
		size_t len;

		assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &len), SAKSI_OK);
		events += leaf[1] == SAKSI_LEAF_EVENT;
		free(leaf);
	}
	assert_int_equal(events, d->n);
	free(seen);
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	printf("# %zu receipted events in a ledger of %llu entries, none lost, none twice\n",
	       d->n, (unsigned long long)size);

	snprintf(kr, sizeof(kr), "%s/keyring.json", d->o.d.fx.dir);
	snprintf(vk, sizeof(vk), "%s/log.vkey", d->o.d.fx.dir);
	fx_write(vk, d->o.d.fx.vkey, strlen(d->o.d.fx.vkey), 0644);
	snprintf(cmd, sizeof(cmd), "'%s' verify --ledger '%s' --vkey-file '%s' --keyring '%s' "
	         ">/dev/null", SAKSI, d->o.d.ledger_dir, vk, kr);
	rc = system(cmd);
	assert_true(WIFEXITED(rc));
	assert_int_equal(WEXITSTATUS(rc), 0);
}

static void
test_disk_full(void **state)
{
	struct df *d = *state;
	char msg[256], line[512];

	dr_ob_mount(&d->o, TMPFS_SIZE, "the disk-full test");
	write_conf(d, 1024);   /* the map is far bigger than the disk */
	dr_start(&d->o.d);
	dr_ob_open(&d->o);

	/* A few events go in, then the disk is nearly full and the ledger fills the rest. */
	dr_ob_bookings(&d->o, 10);
	flush_all(d);
	dr_fill_disk(d->o.filler, 256 * 1024, 64 * 1024);
	fill_until_refused(d, msg, sizeof(msg));
	printf("# disk full after %zu receipts: \"%s\"\n", d->n, msg);
	assert_non_null(strstr(msg, "full"));
	still_refused(d, 3);
	dr_ob_bookings(&d->o, 100);       /* producers go on queueing while the daemon refuses */
	still_refused(d, 2);

	/* Space back: the same daemon, not restarted, takes everything. */
	assert_int_equal(unlink(d->o.filler), 0);
	flush_all(d);
	dr_ob_bookings(&d->o, 50);
	flush_all(d);
	assert_alive(d);

	/* Full again, and saksid restarted while the disk is full: it comes up, refuses
	 * cleanly, and resumes once space is back. */
	dr_fill_disk(d->o.filler, 128 * 1024, 64 * 1024);
	fill_until_refused(d, msg, sizeof(msg));
	dr_stop_pid(&d->o.d.pid, SIGTERM, d->o.d.errlog);
	dr_start(&d->o.d);
	still_refused(d, 2);
	assert_int_equal(unlink(d->o.filler), 0);
	flush_all(d);
	dr_stop_pid(&d->o.d.pid, SIGTERM, d->o.d.errlog);
	/* What the operator saw in the log. */
	snprintf(line, sizeof(line), "failed");
	assert_int_equal(fx_file_contains(d->o.d.errlog, line), 1);
	check_ledger(d);
}

static void
test_map_full(void **state)
{
	struct df *d = *state;
	char msg[256];

	write_conf(d, 1);
	dr_start(&d->o.d);
	dr_ob_open(&d->o);
	fill_until_refused(d, msg, sizeof(msg));
	printf("# map full after %zu receipts: \"%s\"\n", d->n, msg);
	assert_non_null(strstr(msg, "full"));
	/* Without a restart it keeps refusing cleanly, and reads still work. */
	still_refused(d, 3);
	dr_ob_bookings(&d->o, 100);
	still_refused(d, 2);
	{
		char *note = NULL;
		size_t len;
		assert_int_equal(saksi_client_checkpoint(d->o.cl, &note, &len), SAKSI_OK);
		free(note);
	}
	/* The operator raises map_size_mb and restarts: the outbox delivers the rest. */
	dr_stop_pid(&d->o.d.pid, SIGTERM, d->o.d.errlog);
	write_conf(d, 16);
	dr_start(&d->o.d);
	flush_all(d);
	dr_ob_bookings(&d->o, 50);
	flush_all(d);
	dr_stop_pid(&d->o.d.pid, SIGTERM, d->o.d.errlog);
	check_ledger(d);
}

static int
setup(void **state)
{
	struct df *d = calloc(1, sizeof(*d));

	dr_ob_setup(&d->o, DR_KEYRING);
	*state = d;
	return 0;
}

static int
teardown(void **state)
{
	struct df *d = *state;

	dr_ob_teardown(&d->o);
	for (size_t i = 0; i < d->n; i++)
		free(d->env[i]);
	free(d);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* First: the mount namespace needs a process without threads yet. */
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
