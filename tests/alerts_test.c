/*
 * alerts_test.c: detection through the built saksid with the default rules. A broker
 * booking many people from one device and a released slot rebooked for someone else each
 * raise exactly one alert, as a ledger entry and on the PUB socket; a family sharing a
 * laptop raises none; after kill -9 and a restart no alert is raised twice; the ledger
 * with its alert entries verifies. Never prints a personal value.
 */
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


static struct dr sd;
static uint64_t seq, t0;
static struct fx_item last_item;

/* Builds and submits one event of `type` from the clear example with `set` applied, at
 * t0 + dt; keeps the item for a resubmission. */
static void
send_event(const char *type, const char *const *set, uint64_t dt)
{
	char *p = fx_payload(type, set);

	fx_item_free(&last_item);
	fx_build(&sd.fx, sd.fx.prod[FX_QUEUE], type, p, ++seq, t0 + dt, &last_item);
	free(p);
	assert_int_equal(dr_submit1(sd.url, &last_item, NULL, 0), SAKSI_R_ACCEPTED);
}

static void
booking(uint64_t dt, const char *channel, const char *booking_id, int person,
        const char *device, const char *slot_hour)
{
	char nik[20], kpj[16], phone[20], email[40];

	snprintf(nik, sizeof(nik), "737105450788%04d", person);
	snprintf(kpj, sizeof(kpj), "180452%05d", person);
	snprintf(phone, sizeof(phone), "+62812423%05d", person);
	snprintf(email, sizeof(email), "person%d@example.com", person);
	const char *const set[] = { "channel", channel, "booking_id", booking_id, "nik", nik,
	    "kpj", kpj, "phone", phone, "email", email, "device_id", device,
	    "slot_hour", slot_hour, NULL };
	send_event("queue.booking.created", set, dt);
}

/* Alert entries in the ledger (the daemon stopped), rules in ledger order. */
static size_t
ledger_alerts(char rules[8][64])
{
	saksi_alert a[8];
	uint64_t index[8];
	size_t n = dr_ledger_alerts(sd.ledger_dir, a, index, 8);

	for (size_t k = 0; k < n; k++) {
		assert_int_equal(a[k].al_id, k + 1);
		assert_true(a[k].al_trigger < index[k]);
		snprintf(rules[k], 64, "%s", a[k].al_rule);
	}
	return n;
}

/* Waits (bounded) until sub is connected: PUB sends nothing to a subscriber before. */
static void
await_connected(int sub)
{
	for (int i = 0; i < 3000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (nn_get_statistic(sub, NN_STAT_CURRENT_CONNECTIONS) > 0)
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("the alerts subscriber never connected");
}

/* Waits for one alert on sub; returns its JSON (malloc'd). */
static char *
recv_alert(int sub)
{
	void *buf = NULL;
	char *s;
	int n = nn_recv(sub, &buf, NN_MSG, 0);

	if (n < 0)
		fail_msg("no alert published: %s", nn_strerror(nn_errno()));
	s = malloc((size_t)n + 1);
	memcpy(s, buf, (size_t)n);
	s[n] = '\0';
	nn_freemsg(buf);
	return s;
}

/* Runs the saksi CLI with stdout to `out`; returns its exit status, or the pid when
 * background is set. */
static int
cli(int background, const char *out, const char *const *args)
{
	char err[300];

	snprintf(err, sizeof(err), "%s.err", out);
	return dr_saksi(background, out, err, args);
}

static int
setup(void **state)
{
	(void)state;

	dr_setup(&sd, 0);
	dr_save_keys(&sd.fx, DR_INDEX_KEY | DR_KEYRING);
	dr_write_conf(sd.conf,
	              "index_key = index.key\n"
	              "rules = rules.conf\n"
	              "alerts_listen = ipc://alerts.sock\n"
	              "group_wait_us = 0\n"
	              "workers = 2\n"
	              "map_size_mb = 64\n");
	/* The default rules, as a file of its own that test_reload rewrites. */
	dr_default_rules(&sd.fx, "rules.conf");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	fx_item_free(&last_item);
	dr_teardown(&sd);
	return 0;
}

static void
test_alerts(void **state)
{
	char rules[8][64], *a1, *a2, *log, dev[32], bk[32], out[256], *text, vkey[512];
	const char *const cancel[] = { "booking_id", "BK-SLOT-1", "slot_hour", "#14",
	    "device_id", "holder-dev-0001", NULL };
	saksi_ledger *l;
	saksi_verify_opts vo;
	saksi_verify_report vr;
	int sub, to = 20000;
	pid_t follower;
	(void)state;

	t0 = wall_ms() - 120000;
	sd.pid = dr_saksid_start(sd.conf, sd.errlog, NULL);
	assert_true((sub = nn_socket(AF_SP, NN_SUB)) >= 0);
	assert_true(nn_setsockopt(sub, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) >= 0);
	nn_setsockopt(sub, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	assert_true(nn_connect(sub, sd.alerts_url) >= 0);
	snprintf(out, sizeof(out), "%s/follow.out", sd.fx.dir);
	{
		const char *const args[] = { "alerts", "follow", "--url", sd.alerts_url, "--count",
		    "2", NULL };
		follower = cli(1, out, args);
	}
	await_connected(sub);
	{
		char errf[300];
		snprintf(errf, sizeof(errf), "%s.err", out);
		free(dr_await_file(errf, "saksi: following alerts on ", sd.pid));
	}

	/* A family of three booking from one laptop: silent. */
	for (int i = 0; i < 3; i++) {
		snprintf(bk, sizeof(bk), "BK-FAM-%d", i);
		booking((uint64_t)i * 60000, "web", bk, 100 + i, "fam-laptop-0001", "#9");
	}
	/* A broker's phone booking six people within minutes: one alert. */
	for (int i = 0; i < 6; i++) {
		snprintf(bk, sizeof(bk), "BK-BRK-%d", i);
		booking(200000 + (uint64_t)i * 1000, "app", bk, 200 + i, "broker-phone-0001",
		    "#10");
	}
	/* A slot released and taken two seconds later by another person on another
	 * device: one alert. */
	booking(210000, "web", "BK-SLOT-1", 300, "holder-dev-0001", "#14");
	send_event("queue.booking.cancelled", cancel, 215000);
	snprintf(dev, sizeof(dev), "client-dev-0001");
	booking(217000, "web", "BK-SLOT-2", 301, dev, "#14");

	a1 = recv_alert(sub);
	a2 = recv_alert(sub);
	printf("# published:\n# %s\n# %s\n", a1, a2);
	assert_non_null(strstr(a1, "\"rule\":\"device_many_nik_fast\""));
	assert_non_null(strstr(a1, "\"severity\":\"high\""));
	assert_non_null(strstr(a2, "\"rule\":\"slot_rebooked_other_nik\""));
	free(a1);
	free(a2);
	/* saksi alerts follow saw the same two, one line each. */
	dr_await_exit0(follower);
	text = fx_read(out, NULL);
	printf("# saksi alerts follow:\n%s", text);
	assert_non_null(strstr(text, "high  device_many_nik_fast  device_id="));
	assert_non_null(strstr(text, "evidence 6: 4,5,6,7,8,9\n"));
	assert_non_null(strstr(text, "medium  slot_rebooked_other_nik  branch=KC-MAKASSAR"));
	free(text);

	/* A crash after the commit, then a restart: nothing raised again, and the same
	 * bytes once more are a duplicate, not a new event to count. */
	dr_stop(&sd, SIGKILL);
	assert_int_equal(ledger_alerts(rules), 2);
	sd.pid = dr_saksid_start(sd.conf, sd.errlog, NULL);
	assert_int_equal(dr_submit1(sd.url, &last_item, NULL, 0), SAKSI_R_DUPLICATE);
	booking(230000, "web", "BK-FAM-3", 103, "fam-laptop-0001", "#11");
	dr_stop(&sd, SIGTERM);
	nn_close(sub);

	assert_int_equal(ledger_alerts(rules), 2);
	assert_string_equal(rules[0], "device_many_nik_fast");
	assert_string_equal(rules[1], "slot_rebooked_other_nik");

	/* The whole ledger, alert entries included, verifies. */
	l = lf_open_ro(sd.ledger_dir);
	memset(&vo, 0, sizeof(vo));
	vo.vo_log = &sd.fx.v;
	vo.vo_keyring = sd.fx.kr;
	assert_int_equal(saksi_verify_ledger(l, &vo, &vr), SAKSI_OK);
	assert_int_equal(vr.vr_alerts, 2);
	assert_int_equal(vr.vr_events, 3 + 6 + 3 + 1);
	saksi_ledger_close(l);

	/* The CLI: list, get and verify over the same ledger. */
	{
		const char *const args[] = { "alerts", "list", "--ledger", sd.ledger_dir, NULL };
		assert_int_equal(cli(0, out, args), 0);
		text = fx_read(out, NULL);
		printf("# saksi alerts list:\n%s", text);
		assert_non_null(strstr(text, "alert 1 (entry 10)  high  device_many_nik_fast"));
		assert_non_null(strstr(text, "alert 2 (entry 14)  medium  slot_rebooked_other"));
		free(text);
	}
	{
		const char *const args[] = { "alerts", "list", "--ledger", sd.ledger_dir, "--json",
		    NULL };
		assert_int_equal(cli(0, out, args), 0);
		text = fx_read(out, NULL);
		assert_non_null(strstr(text, "{\"entry\":10,\"evidence\":[4,5,6,7,8,9],"));
		free(text);
	}
	{
		const char *const args[] = { "get", "--ledger", sd.ledger_dir, "10", NULL };
		assert_int_equal(cli(0, out, args), 0);
		text = fx_read(out, NULL);
		assert_non_null(strstr(text, "kind: alert\n"));
		assert_non_null(strstr(text, "alert: {\"evidence\":[4,5,6,7,8,9],"));
		free(text);
	}
	{
		char kr[256];
		const char *const args[] = { "verify", "--ledger", sd.ledger_dir, "--vkey", vkey,
		    "--keyring", kr, NULL };
		snprintf(vkey, sizeof(vkey), "%s", sd.fx.vkey);
		snprintf(kr, sizeof(kr), "%s/keyring.json", sd.fx.dir);
		assert_int_equal(cli(0, out, args), 0);
		text = fx_read(out, NULL);
		assert_non_null(strstr(text, "ledger intact"));
		assert_non_null(strstr(text, ", alerts 2, keyrings 1)"));
		free(text);
	}

	/* Personal data never reaches the log. */
	log = fx_read(sd.errlog, NULL);
	printf("# saksid's log:\n%s", log);
	assert_non_null(strstr(log, "detection: rules"));
	assert_null(strstr(log, "7371054507880"));
	free(log);
}

/* Waits (bounded, for the daemon to act, not to time it) until the log holds `what`. */
static char *
await_log(const char *what)
{
	return dr_await_file(sd.errlog, what, sd.pid);
}

/* saksi status --url URL [how] as text. */
static char *
status_out(const char *how)
{
	char out[256];
	const char *const args[] = { "status", "--url", sd.url, how, NULL };
	size_t len;

	snprintf(out, sizeof(out), "%s/status.out", sd.fx.dir);
	assert_int_equal(cli(0, out, args), 0);
	return fx_read(out, &len);
}

/* The hex SHA-256 of a file's bytes, as status shows it. */
static void
file_sha(const char *path, char hex[65])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	size_t len;
	char *text = fx_read(path, &len);

	crypto_hash_sha256(h, (const uint8_t *)text, len);
	sodium_bin2hex(hex, 65, h, sizeof(h));
	free(text);
}

/* SIGHUP reloads the rules; a file that does not load leaves the old ones in force. */
static void
test_reload(void **state)
{
	char path[256], *log;
	const char *bad = "saksi-rules 1\nlateness 5m\nrule x\n  type nonsense\n";
	const char *good = "saksi-rules 1\nlateness 1m\nselect book\n"
	    "  match queue.booking.created\nrule r1\n  type event_count\n  severity high\n"
	    "  events book\n  group-by device_id\n  timespan 10s\n  condition gte 3\n"
	    "  suppress 1h\n  reraise 2\n";
	(void)state;

	char hex[65], want[512], *out, *text;
	json_t *st, *ru;
	size_t len, nrules = 0;

	t0 = wall_ms() - 60000;
	sd.pid = dr_saksid_start(sd.conf, sd.errlog, NULL);
	free(await_log("detection: rules"));
	snprintf(path, sizeof(path), "%s/rules.conf", sd.fx.dir);
	/* The status names the rules in force: file, content hash, count, no reload yet. */
	file_sha(path, hex);
	text = fx_read(path, &len);
	for (char *p = text; (p = strstr(p, "\nrule ")) != NULL; p++)
		nrules++;
	free(text);
	out = status_out("--json");
	assert_non_null(st = json_loads(out, JSON_REJECT_DUPLICATES, NULL));
	free(out);
	ru = json_object_get(st, "rules");
	assert_true(json_is_object(ru));
	text = (char *)json_string_value(json_object_get(ru, "file"));
	assert_non_null(text);
	assert_string_equal(text + strlen(text) - strlen("/rules.conf"), "/rules.conf");
	assert_string_equal(json_string_value(json_object_get(ru, "sha256")), hex);
	assert_true(nrules > 1);
	assert_int_equal(json_integer_value(json_object_get(ru, "count")), nrules);
	assert_true(json_integer_value(json_object_get(ru, "loaded_ms")) > 0);
	assert_true(json_is_null(json_object_get(ru, "last_reload")));
	json_decref(st);
	out = status_out(NULL);
	assert_non_null(strstr(out, "rules.conf: "));
	snprintf(want, sizeof(want), ": %zu rules, sha256 %s, loaded ", nrules, hex);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "; not reloaded since start\n"));
	free(out);

	fx_write(path, bad, strlen(bad), 0644);
	assert_int_equal(kill(sd.pid, SIGHUP), 0);
	log = await_log("not reloaded: the old rules stay");
	printf("# saksid's log:\n%s", log);
	assert_non_null(strstr(log, "rules.conf:4: type takes one of"));
	free(log);
	/* The failed reload is on the status, and the hash is still the old rules'. */
	out = status_out(NULL);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, ": FAILED, the rules above stay (saksid's log says "
	    "why)\n"));
	printf("# saksi status:\n%s", out);
	free(out);
	/* Still detecting with the old rules: a broker's six bookings raise one alert. */
	for (int i = 0; i < 6; i++) {
		char bk[32];

		snprintf(bk, sizeof(bk), "BK-R-%d", i);
		booking((uint64_t)i * 1000, "app", bk, 400 + i, "broker-phone-0002", "#10");
	}
	/* A file that loads replaces them. */
	fx_write(path, good, strlen(good), 0644);
	assert_int_equal(kill(sd.pid, SIGHUP), 0);
	log = await_log(", sha256 ");
	/* The reload's line names what changed, by rule id. */
	file_sha(path, hex);
	snprintf(want, sizeof(want), "rules.conf reloaded: 1 rule, sha256 %s; added: r1; "
	    "removed: ", hex);
	assert_non_null(strstr(log, want));
	assert_non_null(strstr(strstr(log, want), "device_many_nik_fast"));
	assert_non_null(strstr(strstr(log, want), "; changed: none\n"));
	free(log);
	/* The new rules are the ones in force: three bookings from one device in 10 s. */
	for (int i = 0; i < 3; i++) {
		char bk[32];

		snprintf(bk, sizeof(bk), "BK-N-%d", i);
		booking(10000 + (uint64_t)i * 1000, "web", bk, 500 + i, "new-rules-dev-01", "#11");
	}
	/* One rule's definition changed, nothing added or removed. */
	text = strdup(good);
	assert_non_null(text);
	strstr(text, "condition gte 3")[strlen("condition gte ")] = '4';
	fx_write(path, text, strlen(text), 0644);
	free(text);
	assert_int_equal(kill(sd.pid, SIGHUP), 0);
	log = await_log("changed: r1");
	assert_non_null(strstr(log, "; added: none; removed: none; changed: r1\n"));
	printf("# saksid's log:\n%s", log);
	free(log);
	file_sha(path, hex);
	out = status_out("--prometheus");
	assert_non_null(strstr(out, "\nsaksi_rules_count 1\n"));
	assert_non_null(strstr(out, "\nsaksi_rules_last_reload_ok 1\n"));
	snprintf(want, sizeof(want), "rules.conf\",sha256=\"%s\"} 1\n", hex);
	assert_non_null(strstr(out, want));
	free(out);
	out = status_out("--json");
	assert_non_null(st = json_loads(out, JSON_REJECT_DUPLICATES, NULL));
	free(out);
	assert_true(json_is_true(json_object_get(json_object_get(json_object_get(st,
	    "rules"), "last_reload"), "ok")));
	json_decref(st);
	dr_stop(&sd, SIGTERM);
	{
		char rules[8][64];
		assert_int_equal(ledger_alerts(rules), 2);
		assert_string_equal(rules[0], "device_many_nik_fast");
		assert_string_equal(rules[1], "r1");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alerts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
