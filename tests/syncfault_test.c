/*
 * syncfault_test.c: "an acknowledged event is never lost" (issue #3) when the disk's sync
 * fails, on the built saksid with the LD_PRELOAD shim tests/syncfault_shim.c, which makes
 * the fdatasync of data.mdb fail with EIO once a trigger file exists. It must never pass
 * without the fault injected: it checks the shim's own line in the daemon's log.
 *
 * The syncer's fdatasync (lib/ledger.c l_sfd, daemon/server.c sync_main) failing: the
 * group waiting is answered `unavailable`, every later write too (sticky), reads and the
 * status refuse what is not known durable, the log says it; restarted without the shim,
 * every receipted event is in the ledger at its index with its bytes under its receipt's
 * signed root, the outbox delivers the rest, `saksi verify` passes. A commit's own
 * fdatasync failing (inside mdb_txn_commit): that group is `unavailable`, the next ones
 * are accepted, their durability left to the syncer's descriptor (l_distrust).
 * The shim's calls are allowed by the seccomp filter (stat, fstat, fcntl, write), so
 * saksid runs sandboxed as in the other daemon tests. Nothing here is timed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "keys.h"
#include "client.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"
#include "outbox.h"
#include "wire.h"

#define SAKSI SAKSI_BUILD_DIR "/saksi"
#define NRECEIPTS 1000

struct sf {
	struct dr_ob o;
	char trigger[DR_NAME_LEN + 16], hold[DR_NAME_LEN + 16];
	char data_mdb[DR_NAME_LEN + 32];
	/* Every receipt handed back, with its envelope; extra: events sent without the
	 * outbox (their receipts are not kept). */
	size_t n, extra;
	uint64_t index[NRECEIPTS];
	uint8_t *env[NRECEIPTS];
	size_t env_len[NRECEIPTS];
	char *receipt[NRECEIPTS];
};

static void
write_conf(struct sf *d)
{
	/* One worker, a group closed at once: a sequential producer's request is a group
	 * of its own, so the sync that answers it is the one the shim fails. */
	dr_write_conf(d->o.d.conf, "group_wait_us = 0\nworkers = 1\nmap_size_mb = 64\n");
}

static void
assert_alive(struct sf *d)
{
	if (waitpid(d->o.d.pid, NULL, WNOHANG) == d->o.d.pid) {
		d->o.d.pid = -1;
		fail_msg("saksid died; see %s", d->o.d.errlog);
	}
}

/* saksid with the shim preloaded: syncs of data.mdb in mode fail after the trigger,
 * count of them (NULL: every one). */
static void
start_shim(struct sf *d, const char *mode, const char *count)
{
	assert_int_equal(setenv("SAKSI_SHIM_FILE", d->data_mdb, 1), 0);
	assert_int_equal(setenv("SAKSI_SHIM_TRIGGER", d->trigger, 1), 0);
	assert_int_equal(setenv("SAKSI_SHIM_MODE", mode, 1), 0);
	if (count != NULL)
		assert_int_equal(setenv("SAKSI_SHIM_COUNT", count, 1), 0);
	else
		unsetenv("SAKSI_SHIM_COUNT");
	assert_int_equal(setenv("SAKSI_SHIM_HOLD", d->hold, 1), 0);
	d->o.d.pid = dr_saksid_start(d->o.d.conf, d->o.d.errlog,
	                             "LD_PRELOAD=" SAKSI_SYNCFAULT_SHIM);
	dr_await_ready(d->o.d.url, &d->o.d.fx.v, &d->o.d.pid, d->o.d.errlog, 1);
}

static void
trigger(struct sf *d)
{
	fx_write(d->trigger, "", 0, 0600);
}

static void
on_receipt(void *arg, const saksi_outbox_receipt *r)
{
	struct sf *d = arg;

	assert_true(d->n < NRECEIPTS);
	d->index[d->n] = r->or_index;
	assert_non_null(d->env[d->n] = malloc(r->or_env_len));
	memcpy(d->env[d->n], r->or_env, r->or_env_len);
	d->env_len[d->n] = r->or_env_len;
	assert_non_null(d->receipt[d->n] = strndup(r->or_receipt, r->or_receipt_len));
	d->n++;
}

static void
flush_all(struct sf *d)
{
	saksi_outbox_flush_result fr;

	assert_int_equal(saksi_outbox_flush(d->o.ob, d->o.cl, 64, 0, on_receipt, d, &fr), SAKSI_OK);
	assert_int_equal(fr.of_dead, 0);
	assert_int_equal(dr_ob_pending(&d->o), 0);
}

/* One flush refused `unavailable` as a whole: no receipt, nothing dropped from the
 * outbox, the daemon up. The refusal's message into msg. */
static void
flush_refused(struct sf *d, char *msg, size_t msglen)
{
	saksi_outbox_flush_result fr;
	uint64_t before = dr_ob_pending(&d->o);
	size_t n0 = d->n;
	saksi_err e;
	int st;

	assert_true(before > 0);
	e = saksi_outbox_flush(d->o.ob, d->o.cl, 64, 0, on_receipt, d, &fr);
	if (e != SAKSI_ERR_REFUSED) {
		char *text = fx_read(d->o.d.errlog, NULL);

		printf("# flush: %s, not refused; saksid's log:\n%s", saksi_strerror(e),
		       text != NULL ? text : "(none)\n");
		free(text);
		if (waitpid(d->o.d.pid, &st, WNOHANG) == d->o.d.pid) {
			d->o.d.pid = -1;
			fail_msg("saksid died (status 0x%x)", (unsigned)st);
		}
		fail_msg("a flush after the fault was not refused");
	}
	assert_int_equal(fr.of_status, SAKSI_R_UNAVAILABLE);
	assert_int_equal(d->n, n0);
	assert_int_equal(dr_ob_pending(&d->o), before);
	assert_alive(d);
	if (msg != NULL)
		snprintf(msg, msglen, "%s", fr.of_message);
}

/* A read of the live ledger: op is what the client says, refused `unavailable`. */
static void
assert_unavailable(struct sf *d, saksi_err e, const char *what)
{
	int st = -1;
	const char *m = saksi_client_refusal(d->o.cl, &st);

	printf("# %s: %s, status %d, \"%s\"\n", what, saksi_strerror(e), st,
	       m != NULL ? m : "");
	assert_int_equal(e, SAKSI_ERR_REFUSED);
	assert_int_equal(st, SAKSI_R_UNAVAILABLE);
}

/* SIGTERM; returns the exit status (the caller says what it must be). */
static int
stop_status(struct sf *d)
{
	int st;

	assert_int_equal(kill(d->o.d.pid, SIGTERM), 0);
	assert_int_equal(waitpid(d->o.d.pid, &st, 0), d->o.d.pid);
	d->o.d.pid = -1;
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/*
 * Every receipted event at its index with its bytes, each exactly once; every receipt
 * verifies against the log key and its signed root is the ledger's root at that size
 * (the checkpoints after the restart extend it); then `saksi verify` on the ledger.
 */
static void
check_ledger(struct sf *d)
{
	saksi_ledger *l;
	saksi_ledger_txn *t;
	saksi_tlog_proof *tp;
	uint64_t size, events = 0;
	uint8_t *seen;
	char cmd[2048], kr[300], vk[300];
	int rc;

	assert_non_null(tp = malloc(sizeof(*tp)));
	l = lf_open_ro(d->o.d.ledger_dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	size = saksi_ledger_size(t);
	assert_non_null(seen = calloc(size, 1));
	for (size_t i = 0; i < d->n; i++) {
		saksi_checkpoint ck;
		saksi_hash h, root;
		uint8_t *leaf;
		size_t len;

		assert_true(d->index[i] < size);
		assert_int_equal(seen[d->index[i]], 0);
		seen[d->index[i]] = 1;
		assert_int_equal(saksi_ledger_leaf(t, d->index[i], &leaf, &len), SAKSI_OK);
		assert_int_equal(len, SAKSI_LEAF_HDR + d->env_len[i]);
		assert_memory_equal(leaf + SAKSI_LEAF_HDR, d->env[i], d->env_len[i]);
		assert_int_equal(saksi_tlog_proof_parse(d->receipt[i], strlen(d->receipt[i]), tp),
		                 SAKSI_OK);
		assert_int_equal(tp->tp_index, d->index[i]);
		saksi_merkle_leaf_hash(h, leaf, len);
		assert_int_equal(saksi_tlog_proof_verify(tp, &d->o.d.fx.v, h, &ck), SAKSI_OK);
		assert_true(ck.ck_size <= size);
		assert_int_equal(saksi_ledger_root(t, ck.ck_size, root), SAKSI_OK);
		assert_memory_equal(root, ck.ck_root, 32);
		free(leaf);
	}
	for (uint64_t i = 0; i < size; i++) {
		uint8_t *leaf;
		size_t len;

		assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &len), SAKSI_OK);
		events += leaf[1] == SAKSI_LEAF_EVENT;
		free(leaf);
	}
	assert_int_equal(events, d->n + d->extra);
	free(seen);
	free(tp);
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	printf("# %zu receipted events in a ledger of %llu entries, none lost, none twice, "
	       "every receipt under the ledger's root\n", d->n, (unsigned long long)size);

	snprintf(kr, sizeof(kr), "%s/keyring.json", d->o.d.fx.dir);
	snprintf(vk, sizeof(vk), "%s/log.vkey", d->o.d.fx.dir);
	fx_write(vk, d->o.d.fx.vkey, strlen(d->o.d.fx.vkey), 0644);
	snprintf(cmd, sizeof(cmd), "'%s' verify --ledger '%s' --vkey-file '%s' --keyring '%s' "
	         ">/dev/null", SAKSI, d->o.d.ledger_dir, vk, kr);
	rc = system(cmd);
	assert_true(WIFEXITED(rc));
	assert_int_equal(WEXITSTATUS(rc), 0);
}

/* The shim's lines in the log: how many syncs it failed. */
static size_t
shim_failures(struct sf *d)
{
	char *text = fx_read(d->o.d.errlog, NULL);
	size_t n;

	assert_non_null(text);
	n = dr_count(text, ") fails with EIO");
	free(text);
	return n;
}

static void
test_syncer_sync_fails(void **state)
{
	struct sf *d = *state;
	char msg[256], *json = NULL, *note = NULL;
	size_t len;

	write_conf(d);
	/* One failure only: what stays refused after it is the daemon's own doing. */
	start_shim(d, "syncer", "1");
	dr_ob_open(&d->o);
	dr_ob_bookings(&d->o, 10);
	flush_all(d);
	assert_int_equal(d->n, 10);
	assert_int_equal(shim_failures(d), 0);

	/* The disk fails under the syncer: the group waiting on it gets no receipt. */
	trigger(d);
	dr_ob_bookings(&d->o, 10);
	flush_refused(d, msg, sizeof(msg));
	printf("# the group waiting on the failed sync: \"%s\"\n", msg);
	assert_non_null(strstr(msg, "could not be synced"));
	assert_int_equal(shim_failures(d), 1);
	assert_int_equal(fx_file_contains(d->o.d.errlog, "the ledger's sync failed"), 1);

	/* Sticky: every later write is refused, though a sync would now be clean (Linux
	 * may well report the next fdatasync clean after dropping the dirty pages). */
	dr_ob_bookings(&d->o, 5);
	for (int i = 0; i < 3; i++) {
		flush_refused(d, msg, sizeof(msg));
		if (i == 0)
			printf("# a later submission: \"%s\"\n", msg);
		/* The reason is saksid's state, not the disk's: say what to do. */
		assert_non_null(strstr(msg, "until it is restarted"));
	}
	/* Reads never hand out the group that is not known durable. */
	assert_unavailable(d, saksi_client_checkpoint(d->o.cl, &note, &len), "checkpoint");
	free(note);
	assert_unavailable(d, saksi_client_status(d->o.cl, &json, &len), "status");
	assert_non_null(strstr(saksi_client_refusal(d->o.cl, NULL), "sync failed"));
	free(json);
	assert_alive(d);

	/* A failed sync is no reason to stop uncleanly: SIGTERM still exits 0. */
	assert_int_equal(stop_status(d), 0);

	/* Restarted on a healthy disk: the outbox delivers the rest (the group that was
	 * refused may be on disk after all: then its events come back as duplicates). */
	dr_start(&d->o.d);
	flush_all(d);
	dr_ob_bookings(&d->o, 10);
	flush_all(d);
	assert_int_equal(d->n, 35);
	dr_stop(&d->o.d, SIGTERM);
	check_ledger(d);
}

static void
test_commit_sync_fails(void **state)
{
	struct sf *d = *state;
	char msg[256], *note = NULL;
	size_t len;

	write_conf(d);
	start_shim(d, "commit", "1");
	dr_ob_open(&d->o);
	dr_ob_bookings(&d->o, 10);
	flush_all(d);
	assert_int_equal(shim_failures(d), 0);

	/* LMDB's own fdatasync of the group's pages fails, once: that group is refused. */
	trigger(d);
	dr_ob_bookings(&d->o, 10);
	flush_refused(d, msg, sizeof(msg));
	printf("# the group whose commit failed: \"%s\"\n", msg);
	assert_int_equal(shim_failures(d), 1);
	assert_int_equal(fx_file_contains(d->o.d.errlog, "commit of 10 item(s) failed"), 1);

	/* Not sticky: the syncer's own descriptor decides from now on, and it is clean. */
	flush_all(d);
	dr_ob_bookings(&d->o, 10);
	flush_all(d);
	assert_int_equal(d->n, 30);
	assert_int_equal(saksi_client_checkpoint(d->o.cl, &note, &len), SAKSI_OK);
	free(note);
	assert_int_equal(shim_failures(d), 1);
	assert_int_equal(fx_file_contains(d->o.d.errlog, "the ledger's sync failed"), 0);
	assert_int_equal(stop_status(d), 0);

	dr_start(&d->o.d);
	dr_ob_bookings(&d->o, 5);
	flush_all(d);
	dr_stop(&d->o.d, SIGTERM);
	check_ledger(d);
}

/* One request of one item from its own thread: its result code, or -1 (no answer). */
struct waiter {
	const char *url;
	const struct fx_item *item;
	pthread_t th;
	int code;
	char msg[256];
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;
	int s = nn_socket(AF_SP, NN_REQ), to = 60000, n;
	size_t len;
	uint8_t *req = dr_submit_req(w->item, 1, &len);
	void *buf = NULL;

	w->code = -1;
	if (s < 0)
		goto out;
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	if (nn_connect(s, w->url) >= 0 && nn_send(s, req, len, 0) == (int)len &&
	    (n = nn_recv(s, &buf, NN_MSG, 0)) >= 10) {
		const uint8_t *r = buf;
		size_t tl = saksi_get_u32(r + 6);

		/* One item's answer: version, op, status 0, count 1, then its code. */
		if (r[2] == 0 && saksi_get_u16(r + 3) == 1 && 10 + tl == (size_t)n) {
			w->code = r[5];
			snprintf(w->msg, sizeof(w->msg), "%.*s", (int)tl, (const char *)r + 10);
		}
	}
	if (buf != NULL)
		nn_freemsg(buf);
	nn_close(s);
out:
	free(req);
	return NULL;
}

static void
waiter_start(struct waiter *w, const struct sf *d, const struct fx_item *it)
{
	w->url = d->o.d.url;
	w->item = it;
	assert_int_equal(pthread_create(&w->th, NULL, waiter_main, w), 0);
}

/* Waits (bounded by dr_await_file's polls) until the ledger holds size leaves,
 * unsynced ones included: the groups have been committed. */
static void
await_size(struct sf *d, uint64_t size)
{
	for (int i = 0; i < 6000 && dr_ledger_size(d->o.d.ledger_dir) < size; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		assert_alive(d);
		nanosleep(&ts, NULL);
	}
	assert_int_equal(dr_ledger_size(d->o.d.ledger_dir), size);
}

/*
 * Several groups waiting on the syncer when its fdatasync fails: the shim holds the
 * sync of the first group (N) while two more requests are committed behind it (N+1,
 * N+2: their own commits' fdatasyncs are clean), then fails it. Every one of them is
 * answered `unavailable`, none gets a receipt, and a later one is refused too. After a
 * restart without the shim, every event that got a receipt before is a duplicate with
 * its receipt (never lost), and the ones refused are taken (on this disk they are in
 * the ledger after all: duplicates too).
 */
static void
test_groups_waiting(void **state)
{
	struct sf *d = *state;
	struct fx_item it[7];
	struct waiter w[3];
	char text[256];
	int code;

	for (size_t i = 0; i < 7; i++)
		fx_booking(&d->o.d.fx, i % 2 ? FX_NATIONAL : FX_QUEUE, 1 + i, wall_ms(), &it[i]);
	write_conf(d);
	start_shim(d, "syncer", "1");
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(dr_submit1(d->o.d.url, &it[i], NULL, 0), SAKSI_R_ACCEPTED);
	assert_int_equal(dr_ledger_size(d->o.d.ledger_dir), 1 + 3);

	fx_write(d->hold, "", 0, 0600);
	trigger(d);
	memset(w, 0, sizeof(w));
	waiter_start(&w[0], d, &it[3]);
	free(dr_await_file(d->o.d.errlog, "syncfault shim: holding", d->o.d.pid));
	waiter_start(&w[1], d, &it[4]);
	waiter_start(&w[2], d, &it[5]);
	await_size(d, 1 + 6);
	assert_int_equal(unlink(d->hold), 0);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(w[i].th, NULL), 0);
		printf("# waiting request %zu: code %d, \"%s\"\n", i, w[i].code, w[i].msg);
		assert_int_equal(w[i].code, SAKSI_R_UNAVAILABLE);
	}
	assert_int_equal(shim_failures(d), 1);
	code = dr_submit1(d->o.d.url, &it[6], text, sizeof(text));
	printf("# a later request: code %d, \"%s\"\n", code, text);
	assert_int_equal(code, SAKSI_R_UNAVAILABLE);
	assert_int_equal(stop_status(d), 0);

	dr_start(&d->o.d);
	for (size_t i = 0; i < 7; i++) {
		code = dr_submit1(d->o.d.url, &it[i], NULL, 0);
		if (i < 3)
			assert_int_equal(code, SAKSI_R_DUPLICATE);
		else
			assert_true(code == SAKSI_R_DUPLICATE || code == SAKSI_R_ACCEPTED);
	}
	dr_stop(&d->o.d, SIGTERM);
	d->extra = 7;
	check_ledger(d);
	for (size_t i = 0; i < 7; i++)
		fx_item_free(&it[i]);
}

/*
 * A writeback error as Linux reports it ("errseq": once to each open descriptor of
 * data.mdb), taken first by LMDB's own descriptor inside a group's commit. That group is
 * refused; the next group commits cleanly (LMDB's descriptor has reported), but its
 * sync through the syncer's own descriptor reports the error too: refused, and sticky.
 * Nothing that got a receipt is lost.
 */
static void
test_writeback_error(void **state)
{
	struct sf *d = *state;
	char msg[256];

	write_conf(d);
	start_shim(d, "errseq", NULL);
	dr_ob_open(&d->o);
	dr_ob_bookings(&d->o, 10);
	flush_all(d);
	assert_int_equal(shim_failures(d), 0);

	trigger(d);
	dr_ob_bookings(&d->o, 10);
	flush_refused(d, msg, sizeof(msg));
	printf("# the group whose commit took the error: \"%s\"\n", msg);
	assert_int_equal(shim_failures(d), 1);
	assert_int_equal(fx_file_contains(d->o.d.errlog, "read-write) fails"), 1);
	/* The next group: its own commit is clean, the syncer's descriptor is not. */
	flush_refused(d, msg, sizeof(msg));
	printf("# the next group: \"%s\"\n", msg);
	assert_non_null(strstr(msg, "could not be synced"));
	assert_int_equal(shim_failures(d), 2);
	assert_int_equal(fx_file_contains(d->o.d.errlog, "read-only) fails"), 1);
	assert_int_equal(fx_file_contains(d->o.d.errlog, "the ledger's sync failed"), 1);
	/* Every description has reported: a sync would be clean now, writes stay refused. */
	flush_refused(d, NULL, 0);
	assert_int_equal(shim_failures(d), 2);
	assert_int_equal(stop_status(d), 0);

	dr_start(&d->o.d);
	flush_all(d);
	assert_int_equal(d->n, 20);
	dr_stop(&d->o.d, SIGTERM);
	check_ledger(d);
}

/*
 * The ledger alone, in a child of this program with the shim preloaded ("errseq"):
 * commit N leaves its meta page to a later sync; the writeback error is reported to the
 * next commit's own fdatasync (inside mdb_txn_commit), which fails; the commit after it
 * is clean. That clean commit must not make N durable (review bug 2, l_distrust): N's
 * sync goes through the ledger's own descriptor, which reports the error. Exit codes:
 * 0 as it must be, else the step that went wrong.
 */
static int
distrust_child(const char *dir, const char *trig)
{
	static const uint8_t body[] = "an event body the ledger does not parse";
	saksi_seckey *k = NULL;
	saksi_pubkey pub;
	saksi_ledger_opts o;
	saksi_ledger *l = NULL;
	saksi_ledger_txn *t;
	char vkey[SAKSI_VKEY_MAX + 1];
	uint64_t tn = 0, tg = 0;
	saksi_err e;
	int fd, rc = 0;

	if (sodium_init() < 0 || saksi_seckey_generate(SAKSI_KEY_SIGN, &k) != SAKSI_OK ||
	    saksi_seckey_public(k, &pub) != SAKSI_OK ||
	    saksi_note_vkey_format("saksi.test/syncfault", pub.pk_key, vkey,
	                           sizeof(vkey)) != SAKSI_OK)
		return 10;
	saksi_seckey_free(k);
	memset(&o, 0, sizeof(o));
	o.lo_meta_async = 1;
	o.lo_map_size = 16 << 20;
	if (saksi_ledger_open(dir, "saksi.test/syncfault", vkey, &o, &l) != SAKSI_OK)
		return 11;
	/* N: pages synced, meta page written, not synced. */
	if (saksi_ledger_begin(l, 1, &t) != SAKSI_OK ||
	    saksi_ledger_append(t, SAKSI_LEAF_EVENT, 1, body, sizeof(body), NULL,
	                        NULL) != SAKSI_OK ||
	    saksi_ledger_commit_nosync(t, &tn) != SAKSI_OK || tn == 0)
		return 12;
	if ((fd = open(trig, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return 13;
	close(fd);
	/* The next commit's own fdatasync takes the error. */
	if (saksi_ledger_begin(l, 1, &t) != SAKSI_OK ||
	    saksi_ledger_append(t, SAKSI_LEAF_EVENT, 2, body, sizeof(body), NULL,
	                        NULL) != SAKSI_OK)
		return 14;
	e = saksi_ledger_commit_nosync(t, &tg);
	printf("# child: the commit that took the error: %s\n", saksi_strerror(e));
	if (e == SAKSI_OK)
		return 15;
	/* The one after it: LMDB's descriptor has reported, its fdatasync is clean. */
	if (saksi_ledger_begin(l, 1, &t) != SAKSI_OK ||
	    saksi_ledger_append(t, SAKSI_LEAF_EVENT, 3, body, sizeof(body), NULL,
	                        NULL) != SAKSI_OK ||
	    saksi_ledger_commit_nosync(t, &tg) != SAKSI_OK || tg <= tn)
		return 16;
	/* N is not durable for that: its sync must fail, and stay failed. */
	e = saksi_ledger_sync(l, tn);
	printf("# child: the sync of the commit before the error: %s\n", saksi_strerror(e));
	if (e != SAKSI_ERR_IO)
		rc = 17;
	else if (saksi_ledger_sync(l, tg) != SAKSI_ERR_IO)
		rc = 18;
	else if (saksi_ledger_begin(l, 1, &t) != SAKSI_ERR_IO)
		rc = 19;
	else if (saksi_ledger_begin(l, 0, &t) != SAKSI_ERR_IO)
		rc = 20;   /* no snapshot that is not known durable */
	saksi_ledger_close(l);
	fflush(stdout);
	return rc;
}

static void
test_ledger_distrust(void **state)
{
	struct sf *d = *state;
	char dir[DR_NAME_LEN + 16], data[DR_NAME_LEN + 32], *env[8], file[DR_NAME_LEN + 64];
	char trig[DR_NAME_LEN + 64], asan[1100];
	char *argv[] = { (char *)"syncfault_test", (char *)"--distrust-child", dir, d->trigger,
	                 NULL };
	const char *a = getenv("ASAN_OPTIONS");
	saksi_ledger *l;
	pid_t pid;
	int st, n = 0;

	snprintf(dir, sizeof(dir), "%s/lib-ledger", d->o.d.fx.dir);
	snprintf(data, sizeof(data), "%s/data.mdb", dir);
	snprintf(file, sizeof(file), "SAKSI_SHIM_FILE=%s", data);
	snprintf(trig, sizeof(trig), "SAKSI_SHIM_TRIGGER=%s", d->trigger);
	snprintf(asan, sizeof(asan), "ASAN_OPTIONS=%s", a != NULL ? a : "");
	env[n++] = (char *)"LD_PRELOAD=" SAKSI_SYNCFAULT_SHIM;
	env[n++] = file;
	env[n++] = trig;
	env[n++] = (char *)"SAKSI_SHIM_MODE=errseq";
	env[n++] = asan;
	env[n] = NULL;
	assert_int_equal(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, env), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) != 0)
		fail_msg("the ledger child failed at step %d", WEXITSTATUS(st));
	/* Reopened: the commits that returned are there (nothing was really lost on this
	 * disk), and the ledger is whole. */
	l = lf_open_ro(dir);
	printf("# reopened: %llu leaves\n", (unsigned long long)lf_size(l));
	assert_true(lf_size(l) >= 1);
	saksi_ledger_close(l);
}

static int
setup(void **state)
{
	struct sf *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	dr_ob_setup(&d->o, DR_KEYRING);
	snprintf(d->trigger, sizeof(d->trigger), "%s/fail-syncs", d->o.d.fx.dir);
	snprintf(d->hold, sizeof(d->hold), "%s/hold-syncs", d->o.d.fx.dir);
	snprintf(d->data_mdb, sizeof(d->data_mdb), "%s/data.mdb", d->o.d.ledger_dir);
	*state = d;
	return 0;
}

static int
teardown(void **state)
{
	struct sf *d = *state;

	dr_ob_teardown(&d->o);
	for (size_t i = 0; i < d->n; i++) {
		free(d->env[i]);
		free(d->receipt[i]);
	}
	free(d);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_syncer_sync_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_sync_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writeback_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_groups_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger_distrust, setup, teardown),
	};
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[1024];

	if (argc == 4 && strcmp(argv[1], "--distrust-child") == 0)
		return distrust_child(argv[2], argv[3]);

	/* A sanitized saksid checks that its runtime comes first among the libraries; the
	 * shim, preloaded, comes before it. Harmless for a build without sanitizers. */
	snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0", asan != NULL ? asan : "",
	         asan != NULL && *asan != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
