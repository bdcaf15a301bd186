/*
 * ack_test.c: acknowledgement and re-raise (RULES.md 5.3) through the built saksid and
 * saksi, real sockets and a real ledger. An officer's `saksi alerts ack` closes an alert
 * (a second ack and an unknown id are refused); an alert left open with a 1 s timeout is
 * raised again one severity higher each period, up to critical and then no more; kill -9
 * in the middle of a chain neither loses nor repeats a re-raise or an ack; `alerts list`
 * shows the state and `saksi verify` accepts the ledger. Waits on conditions, never on
 * time: the ledger's own commit times show the periods.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "bytes.h"
#include "ledger.h"
#include "verify.h"
#include "wire.h"

#define OFFICER "officer-sec"

/* Every booking from a new device raises one medium alert. */
static const char rules_text[] =
    "saksi-rules 1\nlateness 1m\nselect book\n  match queue.booking.created\n"
    "rule one_booking\n  type event_count\n  severity medium\n  events book\n"
    "  group-by device_id\n  timespan 10s\n  condition gte 1\n  suppress 1h\n"
    "  reraise never\n";

static struct dr sd;
static char officer_key[256], box_pub[256], keyring[256];
static uint64_t seq, t0;

static void
spawn(void)
{
	sd.pid = dr_saksid_start(sd.conf, sd.errlog, NULL);
}

/* One booking from `device` over a fresh REQ socket; must be accepted. */
static void
booking(const char *device, int person)
{
	char nik[20], bk[32], *p;
	struct fx_item it;
	const char *const set[] = { "nik", nik, "device_id", device, "booking_id", bk, NULL };

	snprintf(nik, sizeof(nik), "737105450788%04d", person);
	snprintf(bk, sizeof(bk), "BK-ACK-%d", person);
	p = fx_payload("queue.booking.created", set);
	seq++;
	fx_build(&sd.fx, sd.fx.prod[FX_QUEUE], "queue.booking.created", p, seq, t0 + seq * 1000,
	         &it);
	free(p);
	assert_int_equal(dr_submit1(sd.url, &it, NULL, 0), SAKSI_R_ACCEPTED);
	fx_item_free(&it);
}

static int
subscribe(void)
{
	int sub, to = 60000;

	assert_true((sub = nn_socket(AF_SP, NN_SUB)) >= 0);
	assert_true(nn_setsockopt(sub, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) >= 0);
	nn_setsockopt(sub, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	assert_true(nn_connect(sub, sd.alerts_url) >= 0);
	/* PUB sends nothing to a subscriber before it is connected. */
	for (int i = 0; i < 6000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (nn_get_statistic(sub, NN_STAT_CURRENT_CONNECTIONS) > 0)
			return sub;
		nanosleep(&ts, NULL);
	}
	fail_msg("the alerts subscriber never connected");
	return -1;
}

/* Reads published alerts until one has the given id and kind (and, for a re-raise, the
 * given number in its chain); returns its JSON (malloc'd). */
static char *
await_alert(int sub, uint64_t id, const char *kind, uint64_t extra)
{
	char want_id[32], want_kind[32], want_extra[32];

	snprintf(want_id, sizeof(want_id), "\"id\":%llu,", (unsigned long long)id);
	snprintf(want_kind, sizeof(want_kind), "\"kind\":\"%s\"", kind);
	snprintf(want_extra, sizeof(want_extra), "\"extra\":%llu,", (unsigned long long)extra);
	for (;;) {
		void *buf = NULL;
		char *s;
		int n = nn_recv(sub, &buf, NN_MSG, 0);

		if (n < 0)
			fail_msg("alert %llu (%s %llu) never published: %s", (unsigned long long)id,
			         kind, (unsigned long long)extra, nn_strerror(nn_errno()));
		s = malloc((size_t)n + 1);
		memcpy(s, buf, (size_t)n);
		s[n] = '\0';
		nn_freemsg(buf);
		printf("# published %s\n", s);
		if (strstr(s, want_id) != NULL && strstr(s, want_kind) != NULL &&
		    (strcmp(kind, "reraise") != 0 || strstr(s, want_extra) != NULL))
			return s;
		free(s);
	}
}

/*
 * Waits (bounded) until the ledger holds re-raise `extra` of alert id, reading it while
 * saksid runs: after a restart the daemon may publish before a subscriber is connected,
 * so the ledger is what to wait on. Returns its severity.
 */
static int
await_reraise_entry(uint64_t id, uint64_t extra)
{
	saksi_ledger *l;
	uint64_t next = 0;

	l = lf_open_ro(sd.ledger_dir);
	for (int i = 0; i < 6000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		saksi_ledger_txn *t;

		assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
		for (; next < saksi_ledger_size(t); next++) {
			saksi_leaf lf;
			saksi_alert a;
			uint8_t *leaf;
			size_t len;

			assert_int_equal(saksi_ledger_leaf(t, next, &leaf, &len), SAKSI_OK);
			assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
			if (lf.lf_kind == SAKSI_LEAF_ALERT &&
			    saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &a) == SAKSI_OK &&
			    a.al_kind == SAKSI_ALERT_RERAISE && a.al_id == id && a.al_extra == extra) {
				free(leaf);
				saksi_ledger_abort(t);
				saksi_ledger_close(l);
				return a.al_severity;
			}
			free(leaf);
		}
		saksi_ledger_abort(t);
		assert_int_equal(waitpid(sd.pid, NULL, WNOHANG), 0);
		nanosleep(&ts, NULL);
	}
	fail_msg("re-raise %llu of alert %llu never reached the ledger",
	         (unsigned long long)extra, (unsigned long long)id);
	return 0;
}

/* Runs saksi with stdout to dir/NAME.out and stderr to NAME.err; returns the exit status,
 * or the pid when background is set. */
static int
cli(int background, const char *name, const char *const *args)
{
	char out[300], err[300];

	snprintf(out, sizeof(out), "%s/%s.out", sd.fx.dir, name);
	snprintf(err, sizeof(err), "%s/%s.err", sd.fx.dir, name);
	return dr_saksi(background, out, err, args);
}

static char *
cli_text(const char *name, const char *ext)
{
	char path[300];
	char *t;

	snprintf(path, sizeof(path), "%s/%s.%s", sd.fx.dir, name, ext);
	t = fx_read(path, NULL);
	assert_non_null(t);
	printf("# saksi %s (%s):\n%s", name, ext, t);
	return t;
}

/* saksi alerts ack ID --note NOTE ...; returns the exit status. */
static int
ack(const char *name, const char *id, const char *note)
{
	const char *const args[] = { "alerts", "ack", id, "--note", note, "--officer",
	    "SEC-0007", "-k", officer_key, "--url", sd.url, "--box-pub", box_pub, "--vkey",
	    sd.fx.vkey, "--timeout", "60000", NULL };

	return cli(0, name, args);
}

static int
setup(void **state)
{
	char path[256];
	saksi_seckey *officer;
	*state = &sd;

	dr_setup(&sd, 0);
	snprintf(box_pub, sizeof(box_pub), "%s/box.pub", sd.fx.dir);
	snprintf(keyring, sizeof(keyring), "%s/keyring.json", sd.fx.dir);
	/* The fixture's keyring plus the role security and a national officer's key. */
	officer = dr_new_key(&sd.fx, "officer", "officer.key", officer_key);
	dr_keyring_add(&sd.fx, officer, OFFICER, "security", "*", 0);
	saksi_seckey_free(officer);
	dr_save_keys(&sd.fx, DR_INDEX_KEY | DR_KEYRING | DR_BOX_PUB);

	snprintf(path, sizeof(path), "%s/rules.conf", sd.fx.dir);
	fx_write(path, rules_text, strlen(rules_text), 0644);
	/* saksi's pending acks (cli/pending.c) in the fixture, not in $HOME. */
	snprintf(path, sizeof(path), "%s/cli-state", sd.fx.dir);
	assert_int_equal(setenv("SAKSI_STATE_DIR", path, 1), 0);
	dr_write_conf(sd.conf,
	              "index_key = index.key\n"
	              "rules = rules.conf\n"
	              "alerts_listen = ipc://alerts.sock\n"
	              "alert_ack_timeout_s = 1\n"
	              "group_wait_us = 0\n"
	              "workers = 2\n"
	              "map_size_mb = 64\n");
	return 0;
}

/* What the ledger holds, checked entry by entry. */
struct raise {
	uint64_t r_entry, r_ms;
	int r_sev;
};

struct chain {
	struct raise c_raise[1 + SAKSI_RERAISE_MAX];   /* [0] the alert, then re-raises */
	size_t c_n;
	uint64_t c_ack_entry;                          /* 0: not acked */
	uint64_t c_ack_seq;                            /* the ack event's seq */
};

static void
read_chains(struct chain *ch, size_t nch)
{
	saksi_ledger *l;
	saksi_ledger_txn *t;

	memset(ch, 0, nch * sizeof(*ch));
	l = lf_open_ro(sd.ledger_dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	for (uint64_t i = 0; i < saksi_ledger_size(t); i++) {
		saksi_leaf lf;
		saksi_alert a;
		saksi_envelope env;
		uint8_t *leaf;
		size_t len;

		assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &len), SAKSI_OK);
		assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
		if (lf.lf_kind == SAKSI_LEAF_ALERT) {
			struct chain *c;

			assert_int_equal(saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &a),
			                 SAKSI_OK);
			assert_true(a.al_id >= 1 && a.al_id < nch);
			c = &ch[a.al_id];
			if (a.al_kind == SAKSI_ALERT_RERAISE) {
				/* Once each, in order, never after the ack, naming the original. */
				assert_int_equal(c->c_n, a.al_extra);
				assert_int_equal(c->c_ack_entry, 0);
				assert_int_equal(a.al_evidence[0], c->c_raise[0].r_entry);
			} else
				assert_int_equal(c->c_n, 0);
			assert_true(c->c_n <= SAKSI_RERAISE_MAX);
			c->c_raise[c->c_n].r_entry = i;
			c->c_raise[c->c_n].r_ms = lf.lf_commit_ms;
			c->c_raise[c->c_n].r_sev = a.al_severity;
			c->c_n++;
		} else if (lf.lf_kind == SAKSI_LEAF_EVENT &&
		    saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &env) == SAKSI_OK &&
		    strcmp(env.ev_type, "security.alert.acked") == 0) {
			json_t *p = json_loadb((const char *)env.ev_payload, env.ev_payload_len, 0,
			                       NULL);
			uint64_t id = (uint64_t)json_integer_value(json_object_get(p, "alert_id"));

			json_decref(p);
			/* Only acks of open alerts are committed: one per alert. */
			assert_true(id >= 1 && id < nch);
			assert_true(ch[id].c_n > 0);
			assert_int_equal(ch[id].c_ack_entry, 0);
			ch[id].c_ack_entry = i;
			ch[id].c_ack_seq = env.ev_seq;
		}
		free(leaf);
	}
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	/* Each re-raise one period (1 s of the daemon's clock) or more after the raise
	 * before it, one severity higher. */
	for (size_t k = 1; k < nch; k++)
		for (size_t j = 1; j < ch[k].c_n; j++) {
			assert_true(ch[k].c_raise[j].r_ms >= ch[k].c_raise[j - 1].r_ms + 1000);
			assert_int_equal(ch[k].c_raise[j].r_sev, ch[k].c_raise[j - 1].r_sev + 1);
		}
}

static void
test_ack_reraise(void **state)
{
	struct chain ch[8];
	char *s, *text;
	int sub;
	pid_t follower;
	(void)state;

	t0 = wall_ms() - 60000;
	spawn();
	sub = subscribe();

	/* Alert 1, acknowledged by the officer with the CLI. */
	booking("ack-dev-00000001", 1);
	free(await_alert(sub, 1, "rule", 0));
	assert_int_equal(ack("ack1", "1", "Family booking, checked at KC-MAKASSAR: no broker."),
	                 0);
	text = cli_text("ack1", "out");
	assert_non_null(strstr(text, "c2sp.org/tlog-proof@v1\n"));
	free(text);
	text = cli_text("ack1", "err");
	assert_non_null(strstr(text, "saksi: alert 1 acknowledged, entry "));
	free(text);
	/* Once only; an alert that does not exist; a note that is not allowed. */
	assert_int_equal(ack("ack1b", "1", "again"), 1);
	text = cli_text("ack1b", "err");
	assert_non_null(strstr(text, "saksi: not acknowledged: no open alert 1: it was "
	                             "acknowledged at index "));
	free(text);
	assert_int_equal(ack("ack99", "99", "no such"), 1);
	text = cli_text("ack99", "err");
	assert_non_null(strstr(text, "saksi: not acknowledged: no open alert 99: there is "
	                             "no such alert"));
	free(text);
	assert_int_equal(ack("ackbad", "1", "<script>"), 2);
	assert_int_equal(ack("ack0", "0", "zero"), 2);

	/* Alert 2, left open: high after a period, critical after another, then no more. */
	booking("ack-dev-00000002", 2);
	free(await_alert(sub, 2, "rule", 0));
	s = await_alert(sub, 2, "reraise", 1);
	assert_non_null(strstr(s, "\"severity\":\"high\""));
	assert_non_null(strstr(s, "\"rule\":\"one_booking\""));
	free(s);
	s = await_alert(sub, 2, "reraise", 2);
	assert_non_null(strstr(s, "\"severity\":\"critical\""));
	free(s);

	/* Alert 3, followed by saksi alerts follow; kill -9 once its first re-raise is out. */
	{
		const char *const args[] = { "alerts", "follow", "--url", sd.alerts_url, "--count",
		    "2", NULL };
		char errf[300];

		follower = cli(1, "follow", args);
		snprintf(errf, sizeof(errf), "%s/follow.err", sd.fx.dir);
		free(dr_await_file(errf, "saksi: following alerts on ", sd.pid));
	}
	booking("ack-dev-00000003", 3);
	free(await_alert(sub, 3, "rule", 0));
	free(await_alert(sub, 3, "reraise", 1));
	dr_await_exit0(follower);
	text = cli_text("follow", "out");
	assert_non_null(strstr(text, "  alert 3  medium  one_booking  device_id="));
	assert_non_null(strstr(text, "  alert 3  high  reraise:one_booking  device_id="));
	assert_non_null(strstr(text, "  raised again (1)\n"));
	free(text);
	dr_stop(&sd, SIGKILL);
	nn_close(sub);

	/* After the restart: the chain goes on where it was, the ack still holds. */
	spawn();
	assert_int_equal(await_reraise_entry(3, 2), SAKSI_SEV_CRITICAL);
	assert_int_equal(ack("ack1c", "1", "after the restart"), 1);
	assert_int_equal(ack("ack3", "3", "Checked; a broker. Case SEC-2026-7 opened."), 0);
	dr_stop(&sd, SIGTERM);

	read_chains(ch, 8);
	assert_int_equal(ch[1].c_n >= 1 && ch[1].c_n <= 3, 1);   /* acked within 0-2 periods */
	assert_int_not_equal(ch[1].c_ack_entry, 0);
	assert_int_equal(ch[2].c_n, 3);   /* medium, high, critical: then the chain ended */
	assert_int_equal(ch[2].c_raise[2].r_sev, SAKSI_SEV_CRITICAL);
	assert_int_equal(ch[2].c_ack_entry, 0);
	assert_int_equal(ch[3].c_n, 3);
	assert_int_not_equal(ch[3].c_ack_entry, 0);
	assert_int_equal(ch[4].c_n, 0);

	/* The list shows who acknowledged what; --open leaves it out. */
	{
		const char *const args[] = { "alerts", "list", "--ledger", sd.ledger_dir,
		    "--keyring", keyring, NULL };
		assert_int_equal(cli(0, "list", args), 0);
		text = cli_text("list", "out");
		assert_non_null(strstr(text, "  alert 1 (entry "));
		assert_non_null(strstr(text, "  acked by " OFFICER " at "));
		assert_non_null(strstr(text, "): Family booking, checked at KC-MAKASSAR: no "
		                             "broker.\n"));
		assert_non_null(strstr(text, "critical  reraise:one_booking"));
		free(text);
		text = cli_text("list", "err");
		assert_non_null(strstr(text, "1 alert(s) open"));
		free(text);
	}
	{
		const char *const args[] = { "alerts", "list", "--ledger", sd.ledger_dir, "--open",
		    NULL };
		assert_int_equal(cli(0, "open", args), 0);
		text = cli_text("open", "out");
		assert_null(strstr(text, "  alert 1 "));
		assert_null(strstr(text, "  alert 3 "));
		assert_non_null(strstr(text, "  alert 2 (entry "));
		assert_non_null(strstr(text, "  open\n"));
		free(text);
	}
	{
		const char *const args[] = { "alerts", "list", "--ledger", sd.ledger_dir, "--json",
		    NULL };
		/* Without --state, the published line with the entry in front, as before. */
		assert_int_equal(cli(0, "json0", args), 0);
		text = cli_text("json0", "out");
		assert_null(strstr(text, "\"state\""));
		assert_non_null(strstr(text, "\"trigger\":1,\"value\":1}\n"));   /* entry 0: the keyring */
		free(text);
	}
	{
		const char *const args[] = { "alerts", "list", "--ledger", sd.ledger_dir, "--json",
		    "--state", NULL };
		assert_int_equal(cli(0, "json", args), 0);
		text = cli_text("json", "out");
		assert_non_null(strstr(text, "\"id\":1,"));
		assert_non_null(strstr(text, "\"state\":\"acked\",\"ack\":{\"by\":\""));
		assert_non_null(strstr(text, "\"state\":\"open\",\"reraises\":2}"));
		free(text);
	}
	{
		const char *const args[] = { "verify", "--ledger", sd.ledger_dir, "--vkey",
		    sd.fx.vkey, "--keyring", keyring, NULL };
		assert_int_equal(cli(0, "verify", args), 0);
		text = cli_text("verify", "out");
		assert_non_null(strstr(text, "ledger intact"));
		free(text);
	}
	text = fx_read(sd.errlog, NULL);
	printf("# saksid's log:\n%s", text);
	assert_non_null(strstr(text, "unacknowledged alert(s) again"));
	free(text);
}

/* Files in the CLI's pending directory. */
static int
pending_files(void)
{
	char path[300];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "%s/cli-state/pending", sd.fx.dir);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL)
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

/*
 * A retry of an ack whose answer was lost sends the same bytes: saksid answers
 * DUPLICATE with the one entry's receipt, and the ledger holds one ack. The reply path
 * is broken for sure by a receipt the CLI cannot trust (a log key of another), and
 * perhaps by a 1 ms timeout (either way: one ack entry).
 */
static void
test_ack_retry(void **state)
{
	static const char note[] = "Checked; an internet cafe. No broker.";
	struct chain ch[4];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], skb[crypto_sign_SECRETKEYBYTES];
	char wrong[SAKSI_VKEY_MAX + 1], *text;
	const char *const wrong_args[] = { "alerts", "ack", "1", "--note", note, "--officer",
	    "SEC-0007", "-k", officer_key, "--url", sd.url, "--box-pub", box_pub, "--vkey",
	    wrong, "--timeout", "60000", NULL };
	const char *const quick_args[] = { "alerts", "ack", "2", "--note", note, "--officer",
	    "SEC-0007", "-k", officer_key, "--url", sd.url, "--box-pub", box_pub, "--vkey",
	    sd.fx.vkey, "--timeout", "1", NULL };
	int sub, rc;
	(void)state;

	t0 = wall_ms() - 60000;
	spawn();
	sub = subscribe();
	booking("ack-dev-00000001", 1);
	free(await_alert(sub, 1, "rule", 0));

	/* Committed, but its receipt does not verify: the CLI fails and keeps it pending. */
	crypto_sign_keypair(pk, skb);
	sodium_memzero(skb, sizeof(skb));
	assert_int_equal(saksi_note_vkey_format(FX_ORIGIN, pk, wrong, sizeof(wrong)),
	                 SAKSI_OK);
	assert_int_equal(cli(0, "ackw", wrong_args), 1);
	text = cli_text("ackw", "err");
	assert_non_null(strstr(text, "does not verify"));
	free(text);
	assert_int_equal(pending_files(), 1);
	/* Another note for the same alert while it is pending: not sent. */
	assert_int_equal(ack("ackn", "1", "another note"), 2);
	text = cli_text("ackn", "err");
	assert_non_null(strstr(text, "never answered"));
	free(text);
	/* The same command: the same bytes, DUPLICATE, the one entry; nothing pending. */
	assert_int_equal(ack("ackr", "1", note), 0);
	text = cli_text("ackr", "err");
	assert_non_null(strstr(text, "sending again the ack of alert 1"));
	assert_non_null(strstr(text, "(already in the ledger)"));
	free(text);
	text = cli_text("ackr", "out");
	assert_non_null(strstr(text, "c2sp.org/tlog-proof@v1\n"));
	free(text);
	assert_int_equal(pending_files(), 0);

	/* A 1 ms timeout: answered or not, the same command again ends with one ack. */
	booking("ack-dev-00000002", 2);
	free(await_alert(sub, 2, "rule", 0));
	rc = cli(0, "ackq", quick_args);
	printf("# the 1 ms ack exited %d\n", rc);
	assert_true(rc == 0 || rc == 2);
	assert_int_equal(pending_files(), rc == 0 ? 0 : 1);
	if (rc == 2) {
		assert_int_equal(ack("ackq2", "2", note), 0);
		free(cli_text("ackq2", "err"));
	}
	assert_int_equal(pending_files(), 0);
	nn_close(sub);
	dr_stop(&sd, SIGTERM);
	read_chains(ch, 4);   /* one ack per alert, or it fails */
	assert_true(ch[1].c_ack_entry > 0);
	assert_true(ch[2].c_ack_entry > 0);
}

/* saksi status --json's refused.schema of the running saksid. */
static uint64_t
refused_schema(void)
{
	const char *const args[] = { "status", "--url", sd.url, "--json", NULL };
	json_t *o;
	char *text;
	uint64_t n;

	assert_int_equal(cli(0, "status", args), 0);
	text = cli_text("status", "out");
	assert_non_null(o = json_loads(text, JSON_REJECT_DUPLICATES, NULL));
	n = (uint64_t)json_integer_value(json_object_get(json_object_get(o, "refused"),
	    "schema"));
	json_decref(o);
	free(text);
	return n;
}

/*
 * Several ids in one `saksi alerts ack`: each its own signed event with its own seq
 * (--seq N: N, N+1, ...; else the clock's, one apart), sent in turn; the first refusal
 * stops the rest and saksi says which went in and which were not sent; --json gives an
 * array; an ack whose answer was lost goes first, resent from its pending file; a
 * refused ack is counted by saksid as schema.
 */
static void
test_ack_several(void **state)
{
	static const char note[] = "Burst of re-raises checked at KC-MAKASSAR.";
	struct chain ch[12];
	uint64_t schema0;
	char dev[32], wrong[SAKSI_VKEY_MAX + 1], *text, *e8, *e9;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], skb[crypto_sign_SECRETKEYBYTES];
	const char *const twice[] = { "alerts", "ack", "1", "1", "--note", note, "--officer",
	    "SEC-0007", "-k", officer_key, "--url", sd.url, "--box-pub", box_pub, "--vkey",
	    sd.fx.vkey, NULL };
	const char *const first[] = { "alerts", "ack", "1", "2", "--note", note, "--officer",
	    "SEC-0007", "-k", officer_key, "--url", sd.url, "--box-pub", box_pub, "--vkey",
	    sd.fx.vkey, "--seq", "100", "--timeout", "60000", NULL };
	const char *const stop[] = { "alerts", "ack", "3", "2", "4", "--note", note,
	    "--officer", "SEC-0007", "-k", officer_key, "--url", sd.url, "--box-pub", box_pub,
	    "--vkey", sd.fx.vkey, "--seq", "200", "--timeout", "60000", NULL };
	const char *const js[] = { "alerts", "ack", "4", "99", "5", "--note", note,
	    "--officer", "SEC-0007", "-k", officer_key, "--url", sd.url, "--box-pub", box_pub,
	    "--vkey", sd.fx.vkey, "--seq", "300", "--json", "--timeout", "60000", NULL };
	const char *const clock[] = { "alerts", "ack", "6", "7", "--note", note, "--officer",
	    "SEC-0007", "-k", officer_key, "--url", sd.url, "--box-pub", box_pub, "--vkey",
	    sd.fx.vkey, "--timeout", "60000", NULL };
	const char *const lost[] = { "alerts", "ack", "8", "--note", note, "--officer",
	    "SEC-0007", "-k", officer_key, "--url", sd.url, "--box-pub", box_pub, "--vkey",
	    wrong, "--timeout", "60000", NULL };
	const char *const retry[] = { "alerts", "ack", "9", "8", "--note", note, "--officer",
	    "SEC-0007", "-k", officer_key, "--url", sd.url, "--box-pub", box_pub, "--vkey",
	    sd.fx.vkey, "--timeout", "60000", NULL };
	json_t *o, *x;
	int sub;
	(void)state;

	t0 = wall_ms() - 60000;
	spawn();
	sub = subscribe();
	for (int i = 1; i <= 9; i++) {
		snprintf(dev, sizeof(dev), "ack-dev-%08d", i);
		booking(dev, i);
		free(await_alert(sub, (uint64_t)i, "rule", 0));
	}
	nn_close(sub);
	schema0 = refused_schema();

	/* The same id twice: a usage error, nothing sent. */
	assert_int_equal(cli(0, "twice", twice), 2);
	text = cli_text("twice", "err");
	assert_non_null(strstr(text, "alert 1 is named twice"));
	free(text);

	/* Two ids, --seq 100: seqs 100 and 101, two receipts. */
	assert_int_equal(cli(0, "first", first), 0);
	text = cli_text("first", "out");
	assert_int_equal(dr_count(text, "c2sp.org/tlog-proof@v1\n"), 2);
	free(text);
	text = cli_text("first", "err");
	assert_non_null(strstr(text, "saksi: alert 1 acknowledged, entry "));
	assert_non_null(strstr(text, "saksi: alert 2 acknowledged, entry "));
	assert_true(strstr(text, "alert 1 acknowledged") < strstr(text, "alert 2 acknowledged"));
	free(text);

	/* 3 goes in, 2 is refused (acked already): 4 is not sent. */
	assert_int_equal(cli(0, "stop", stop), 1);
	text = cli_text("stop", "err");
	assert_non_null(strstr(text, "saksi: alert 3 acknowledged, entry "));
	assert_non_null(strstr(text, "saksi: not acknowledged: no open alert 2: it was "
	                             "acknowledged at index "));
	assert_non_null(strstr(text, "; saksid counts the refusal as schema, the wire's reason "
	                             "for an ack of an alert that is not open\n"));
	assert_non_null(strstr(text, "saksi: acknowledged before alert 2: alert 3\n"));
	assert_non_null(strstr(text, "saksi: not sent after alert 2: alert 4\n"));
	assert_null(strstr(text, "alert 4 acknowledged"));
	free(text);
	text = cli_text("stop", "out");
	assert_int_equal(dr_count(text, "c2sp.org/tlog-proof@v1\n"), 1);
	free(text);

	/* --json: an array, one object per ack sent; 99 refused, 5 not sent. */
	assert_int_equal(cli(0, "js", js), 1);
	text = cli_text("js", "out");
	assert_non_null(o = json_loads(text, JSON_REJECT_DUPLICATES, NULL));
	free(text);
	assert_true(json_is_array(o));
	assert_int_equal(json_array_size(o), 2);
	x = json_array_get(o, 0);
	assert_true(json_is_true(json_object_get(x, "ok")));
	assert_int_equal(json_integer_value(json_object_get(x, "alert_id")), 4);
	assert_int_equal(json_integer_value(json_object_get(x, "seq")), 300);
	assert_non_null(strstr(json_string_value(json_object_get(x, "receipt")),
	                       "c2sp.org/tlog-proof@v1\n"));
	assert_null(json_object_get(x, "alert_open"));
	x = json_array_get(o, 1);
	assert_true(json_is_false(json_object_get(x, "ok")));
	assert_int_equal(json_integer_value(json_object_get(x, "alert_id")), 99);
	assert_int_equal(json_integer_value(json_object_get(x, "seq")), 301);
	assert_string_equal(json_string_value(json_object_get(x, "status")), "schema");
	assert_true(json_is_false(json_object_get(x, "alert_open")));
	assert_string_equal(json_string_value(json_object_get(x, "message")),
	                    "no open alert 99: there is no such alert");
	json_decref(o);
	text = cli_text("js", "err");
	assert_non_null(strstr(text, "saksi: acknowledged before alert 99: alert 4\n"));
	assert_non_null(strstr(text, "saksi: not sent after alert 99: alert 5\n"));
	free(text);
	/* saksid counted both refused acks under schema. */
	assert_int_equal(refused_schema(), schema0 + 2);

	/* Without --seq: the clock's, one apart. */
	assert_int_equal(cli(0, "clock", clock), 0);

	/* 8's answer lost (a receipt saksi cannot trust): pending. Then 9 and 8: 8 goes first,
	 * resent with its own bytes (already in the ledger), 9 after it. */
	crypto_sign_keypair(pk, skb);
	sodium_memzero(skb, sizeof(skb));
	assert_int_equal(saksi_note_vkey_format(FX_ORIGIN, pk, wrong, sizeof(wrong)),
	                 SAKSI_OK);
	assert_int_equal(cli(0, "lost", lost), 1);
	assert_int_equal(pending_files(), 1);
	assert_int_equal(cli(0, "retry", retry), 0);
	assert_int_equal(pending_files(), 0);
	text = cli_text("retry", "err");
	assert_non_null(strstr(text, "sending again the ack of alert 8"));
	assert_non_null(e8 = strstr(text, "saksi: alert 8 acknowledged, entry "));
	assert_non_null(strstr(e8, "(already in the ledger)"));
	assert_non_null(e9 = strstr(text, "saksi: alert 9 acknowledged, entry "));
	assert_true(e8 < e9);
	free(text);
	dr_stop(&sd, SIGTERM);

	read_chains(ch, 12);   /* one ack per alert, or it fails */
	assert_int_equal(ch[1].c_ack_seq, 100);
	assert_int_equal(ch[2].c_ack_seq, 101);
	assert_int_equal(ch[3].c_ack_seq, 200);
	assert_int_equal(ch[4].c_ack_seq, 300);
	assert_int_equal(ch[5].c_ack_entry, 0);    /* not sent */
	assert_true(ch[6].c_ack_seq > 300);
	assert_int_equal(ch[7].c_ack_seq, ch[6].c_ack_seq + 1);
	assert_true(ch[6].c_ack_entry < ch[7].c_ack_entry);
	assert_true(ch[8].c_ack_seq < ch[9].c_ack_seq);
	assert_true(ch[8].c_ack_entry < ch[9].c_ack_entry);
	{
		const char *const args[] = { "verify", "--ledger", sd.ledger_dir, "--vkey",
		    sd.fx.vkey, "--keyring", keyring, NULL };

		assert_int_equal(cli(0, "verify", args), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ack_reraise, setup,
		                                dr_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_ack_retry, setup,
		                                dr_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_ack_several, setup,
		                                dr_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
