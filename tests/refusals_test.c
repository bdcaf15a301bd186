/*
 * refusals_test.c: refusal alerts (RULES.md 5.4) through the built saksid with the
 * default rules: forged events up to the threshold raise one alert `refusals:signature`
 * on the PUB socket and in the ledger; the status counts it as raised and open; after
 * kill -9 and a restart the window goes on (more forgeries in it raise nothing more),
 * `saksi alerts list` shows the alert, and the ledger verifies. A security officer
 * acknowledges it (`saksi alerts ack --refusals`, RULES.md 5.4): once, by its own number,
 * counted in the status across a restart and shown acked by the list.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "client.h"
#include "ledger.h"
#include "verify.h"
#include "wire.h"

#define THRESHOLD 5
#define WINDOW_S 86400
#define OFFICER "officer-sec"

static struct dr sd;
static char officer_key[256], box_pub[256];
static uint64_t seq;

static saksi_client *
client(int timeout_ms)
{
	saksi_client_opts co;
	saksi_client *c = NULL;

	memset(&co, 0, sizeof(co));
	co.co_url = sd.url;
	co.co_log = &sd.fx.v;
	co.co_timeout_ms = timeout_ms;
	assert_int_equal(saksi_client_open(&co, &c), SAKSI_OK);
	return c;
}

/* The status object, waiting (bounded) until saksid answers. */
static json_t *
status(void)
{
	for (int i = 0; i < 6000; i++) {
		saksi_client *c = client(2000);
		char *text = NULL;
		size_t len;
		saksi_err e = saksi_client_status(c, &text, &len);
		json_t *o;

		saksi_client_close(c);
		if (e == SAKSI_OK) {
			assert_non_null(o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL));
			free(text);
			return o;
		}
		assert_int_equal(waitpid(sd.pid, NULL, WNOHANG), 0);
		usleep(10000);
	}
	fail_msg("saksid never answered its status");
	return NULL;
}

static uint64_t
jalert(const json_t *o, const char *name)
{
	const json_t *v = json_object_get(json_object_get(o, "alerts"), name);

	assert_true(json_is_integer(v));
	return (uint64_t)json_integer_value(v);
}

/* n forged bookings (a flipped signature byte): each refused as signature. */
static void
forge(size_t n)
{
	saksi_client *c = client(60000);

	for (size_t i = 0; i < n; i++) {
		struct fx_item fi;
		const uint8_t *env, *sealed;
		size_t env_len, sealed_len;
		saksi_result res;

		fx_booking(&sd.fx, FX_QUEUE, ++seq, wall_ms(), &fi);
		fi.env[fi.env_len - 1] ^= 1;
		env = fi.env;
		sealed = fi.sealed;
		env_len = fi.env_len;
		sealed_len = fi.sealed_len;
		memset(&res, 0, sizeof(res));
		assert_int_equal(saksi_client_submit_raw(c, &env, &env_len, &sealed, &sealed_len,
		                                         1, &res), SAKSI_OK);
		assert_int_equal(res.sr_code, SAKSI_R_SIGNATURE);
		saksi_result_clear(&res);
		fx_item_free(&fi);
	}
	saksi_client_close(c);
}

/* The refusal alert entries of the ledger (saksid stopped), at most 4. */
static size_t
ledger_refusal_alerts(saksi_alert *out)
{
	saksi_alert a[64];
	size_t n = dr_ledger_alerts(sd.ledger_dir, a, NULL, 64), k = 0;

	for (size_t i = 0; i < n; i++)
		if (a[i].al_kind == SAKSI_ALERT_REFUSALS) {
			assert_true(k < 4);
			out[k++] = a[i];
		}
	return k;
}

/* saksi alerts ack ID [--refusals] --note NOTE as the security officer; the exit status,
 * with stderr in dir/NAME.err. */
static int
ack(const char *name, const char *id, int refusals)
{
	const char *const args[] = { "alerts", "ack", id, "--note", "Producer key rotated; "
	    "keyring fixed.", "--officer", "SEC-0007", "-k", officer_key, "--url", sd.url,
	    "--box-pub", box_pub, "--vkey", sd.fx.vkey, "--timeout", "60000",
	    refusals ? "--refusals" : NULL, NULL };
	char out[300], err[300];

	snprintf(out, sizeof(out), "%s/%s.out", sd.fx.dir, name);
	snprintf(err, sizeof(err), "%s/%s.err", sd.fx.dir, name);
	return dr_saksi(0, out, err, args);
}

static void
assert_err_has(const char *name, const char *what)
{
	char path[300], *t;

	snprintf(path, sizeof(path), "%s/%s.err", sd.fx.dir, name);
	assert_non_null(t = fx_read(path, NULL));
	if (strstr(t, what) == NULL)
		fail_msg("saksi %s said \"%s\", not \"%s\"", name, t, what);
	free(t);
}

static int
setup(void **state)
{
	saksi_seckey *officer;
	*state = &sd;

	dr_setup(&sd, 0);
	snprintf(box_pub, sizeof(box_pub), "%s/box.pub", sd.fx.dir);
	/* The fixture's keyring plus a security officer's key (the role that may ack). */
	officer = dr_new_key(&sd.fx, "officer", "officer.key", officer_key);
	dr_keyring_add(&sd.fx, officer, OFFICER, "security", "*", 0);
	saksi_seckey_free(officer);
	dr_save_keys(&sd.fx, DR_INDEX_KEY | DR_KEYRING | DR_BOX_PUB);
	dr_default_rules(&sd.fx, "rules.conf");
	dr_write_conf(sd.conf,
	              "index_key = index.key\n"
	              "rules = rules.conf\n"
	              "alerts_listen = ipc://alerts.sock\n"
	              "group_wait_us = 0\n"
	              "workers = 2\n"
	              "map_size_mb = 64\n"
	              "refusal_alert_window_s = %d\n"
	              "refusal_alert_threshold = %d\n",
	              WINDOW_S, THRESHOLD);
	return 0;
}

static void
test_refusal_alert(void **state)
{
	const uint64_t w = (uint64_t)WINDOW_S * 1000;
	saksi_alert a[4];
	saksi_ledger *l;
	saksi_verify_opts vo;
	saksi_verify_report vr;
	saksi_keyring *kr = NULL;
	json_t *o, *pub;
	char *msg = NULL, out[300], *text;
	const char *const list_args[] = { "alerts", "list", "--ledger", sd.ledger_dir, NULL };
	int sub, to = 30000, n, st;
	(void)state;

	/* Windows are aligned on the daemon's clock: not within a minute of the next one,
	 * so that all of this test's refusals fall in one window. */
	while (wall_ms() % w > w - 60000)
		sleep(1);
	sd.pid = dr_saksid_start(sd.conf, sd.errlog, NULL);
	o = status();
	assert_true(json_is_true(json_object_get(json_object_get(o, "alerts"), "detection")));
	assert_int_equal(jalert(o, "raised"), 0);
	assert_int_equal(jalert(o, "acknowledged"), 0);
	json_decref(o);
	assert_true((sub = nn_socket(AF_SP, NN_SUB)) >= 0);
	assert_true(nn_setsockopt(sub, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) >= 0);
	nn_setsockopt(sub, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	assert_true(nn_connect(sub, sd.alerts_url) >= 0);
	for (int i = 0; i < 3000 && nn_get_statistic(sub, NN_STAT_CURRENT_CONNECTIONS) == 0;
	     i++)
		usleep(10000);
	assert_true(nn_get_statistic(sub, NN_STAT_CURRENT_CONNECTIONS) > 0);

	/* One below the threshold: nothing; the threshold: one alert, published. */
	forge(THRESHOLD - 1);
	o = status();
	assert_int_equal(jalert(o, "raised"), 0);
	json_decref(o);
	forge(1);
	n = nn_recv(sub, &msg, NN_MSG, 0);
	if (n < 0)
		fail_msg("no alert published: %s", nn_strerror(nn_errno()));
	assert_non_null(pub = json_loadb(msg, (size_t)n, JSON_REJECT_DUPLICATES, NULL));
	nn_freemsg(msg);
	assert_string_equal(json_string_value(json_object_get(pub, "kind")), "refusals");
	assert_string_equal(json_string_value(json_object_get(pub, "rule")),
	                    "refusals:signature");
	assert_string_equal(json_string_value(json_object_get(pub, "severity")), "high");
	assert_int_equal(json_integer_value(json_object_get(pub, "value")), THRESHOLD);
	assert_int_equal(json_integer_value(json_object_get(pub, "id")), 1);
	json_decref(pub);
	o = status();
	assert_int_equal(jalert(o, "raised"), 1);
	assert_int_equal(jalert(o, "open"), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o,
	    "refused_total"), "signature")), THRESHOLD);
	json_decref(o);

	/* The ack names a refusal alert by its own number (RULES.md 5.4): without
	 * --refusals, id 1 is the rules' alert 1, which does not exist. */
	assert_int_equal(ack("ack-rule1", "1", 0), 1);
	assert_err_has("ack-rule1", "saksi: not acknowledged: no open alert 1: there is no "
	    "such alert");
	assert_int_equal(ack("ack-ref2", "2", 1), 1);
	assert_err_has("ack-ref2", "saksi: not acknowledged: no open refusal alert 2: there "
	               "is no such alert");
	assert_int_equal(ack("ack-ref1", "1", 1), 0);
	assert_err_has("ack-ref1", "saksi: refusal alert 1 acknowledged, entry ");
	o = status();
	assert_int_equal(jalert(o, "raised"), 1);
	assert_int_equal(jalert(o, "acknowledged"), 1);
	assert_int_equal(jalert(o, "open"), 0);
	json_decref(o);

	/* kill -9 and a restart: the window goes on; more in it raise nothing more. */
	dr_stop(&sd, SIGKILL);
	sd.pid = dr_saksid_start(sd.conf, sd.errlog, NULL);
	o = status();
	assert_int_equal(jalert(o, "raised"), 1);
	assert_int_equal(jalert(o, "acknowledged"), 1);   /* read back from refwin */
	json_decref(o);
	assert_int_equal(ack("ack-ref1b", "1", 1), 1);
	assert_err_has("ack-ref1b", "saksi: not acknowledged: no open refusal alert 1: it was "
	               "acknowledged at index ");
	forge(THRESHOLD);
	o = status();
	assert_int_equal(jalert(o, "raised"), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o,
	    "refused_total"), "signature")), 2 * THRESHOLD);
	json_decref(o);
	kill(sd.pid, SIGTERM);
	assert_int_equal(waitpid(sd.pid, &st, 0), sd.pid);
	sd.pid = -1;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	nn_close(sub);

	/* Exactly one refusal alert entry; saksi alerts list shows it; the ledger verifies. */
	assert_int_equal(ledger_refusal_alerts(a), 1);
	assert_int_equal(a[0].al_id, 1);
	assert_int_equal(a[0].al_value, THRESHOLD);
	assert_int_equal(a[0].al_threshold, THRESHOLD);
	assert_int_equal(a[0].al_extra, w);
	assert_int_equal(a[0].al_nevidence, THRESHOLD);   /* one summary per group */
	snprintf(out, sizeof(out), "%s/list.out", sd.fx.dir);
	assert_int_equal(dr_saksi(0, out, NULL, list_args), 0);
	text = fx_read(out, NULL);
	printf("%s", text);
	assert_non_null(strstr(text, "refusals:signature"));
	assert_non_null(strstr(text, "  acked by "));
	assert_null(strstr(text, "  open\n"));
	free(text);
	l = lf_open_ro(sd.ledger_dir);
	memset(&vo, 0, sizeof(vo));
	vo.vo_log = &sd.fx.v;
	snprintf(out, sizeof(out), "%s/keyring.json", sd.fx.dir);
	assert_int_equal(saksi_keyring_load(out, &kr, NULL, 0), SAKSI_OK);
	vo.vo_keyring = kr;   /* with the officer's key */
	assert_int_equal(saksi_verify_ledger(l, &vo, &vr), SAKSI_OK);
	assert_int_equal(vr.vr_alerts, 1);
	assert_int_equal(vr.vr_events, 1);   /* the ack */
	saksi_ledger_close(l);
	saksi_keyring_free(kr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusal_alert),
	};

	return cmocka_run_group_tests(tests, setup, dr_cmocka_teardown);
}
