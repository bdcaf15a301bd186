/*
 * refusals_test.c: refusal alerts (RULES.md 5.4) through the built saksid with the
 * default rules: forged events up to the threshold raise one alert `refusals:signature`
 * on the PUB socket and in the ledger; the status counts it as raised and open; after
 * kill -9 and a restart the window goes on (more forgeries in it raise nothing more),
 * `saksi alerts list` shows the alert, and the ledger verifies.
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
#include "client.h"
#include "ledger.h"
#include "verify.h"
#include "wire.h"

#define SAKSID SAKSI_BUILD_DIR "/saksid"
#define SAKSI SAKSI_BUILD_DIR "/saksi"
#define THRESHOLD 5
#define WINDOW_S 86400

static struct fx fx;
static char url[256], alerts_url[256], conf[256], errlog[256], ledger_dir[256];
static pid_t daemon_pid = -1;
static uint64_t seq;

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static pid_t
spawn(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *f = freopen(errlog, "a", stderr);
		(void)f;
		execl(SAKSID, "saksid", "-c", conf, "-d", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static saksi_client *
client(int timeout_ms)
{
	saksi_client_opts co;
	saksi_client *c = NULL;

	memset(&co, 0, sizeof(co));
	co.co_url = url;
	co.co_log = &fx.v;
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
		assert_int_equal(waitpid(daemon_pid, NULL, WNOHANG), 0);
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

		fx_booking(&fx, FX_QUEUE, ++seq, wall_ms(), &fi);
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

/* The refusal alert entries of the ledger (saksid stopped or running: a reader). */
static size_t
ledger_refusal_alerts(saksi_alert *out)
{
	saksi_ledger *l;
	saksi_ledger_txn *t;
	size_t n = 0;

	assert_int_equal(saksi_ledger_open(ledger_dir, NULL, NULL, NULL, &l), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	for (uint64_t i = 0; i < saksi_ledger_size(t); i++) {
		saksi_leaf lf;
		saksi_alert a;
		uint8_t *leaf;
		size_t len;

		assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &len), SAKSI_OK);
		assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
		if (lf.lf_kind == SAKSI_LEAF_ALERT) {
			assert_int_equal(saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &a),
			                 SAKSI_OK);
			if (a.al_kind == SAKSI_ALERT_REFUSALS)
				out[n++] = a;
		}
		free(leaf);
	}
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	return n;
}

static int
setup(void **state)
{
	char path[256], text[2048];
	saksi_seckey *index;
	size_t len;
	char *rules;
	(void)state;

	fx_init(&fx, 0);
	snprintf(url, sizeof(url), "ipc://%s/ingest.sock", fx.dir);
	snprintf(alerts_url, sizeof(alerts_url), "ipc://%s/alerts.sock", fx.dir);
	snprintf(conf, sizeof(conf), "%s/saksid.conf", fx.dir);
	snprintf(errlog, sizeof(errlog), "%s/saksid.log", fx.dir);
	snprintf(ledger_dir, sizeof(ledger_dir), "%s/state/ledger", fx.dir);
	snprintf(path, sizeof(path), "%s/log.key", fx.dir);
	assert_int_equal(saksi_seckey_save(fx.log, path, NULL, "test log key"), SAKSI_OK);
	snprintf(path, sizeof(path), "%s/box.key", fx.dir);
	assert_int_equal(saksi_seckey_save(fx.box, path, NULL, "test box key"), SAKSI_OK);
	snprintf(path, sizeof(path), "%s/store.key", fx.dir);
	assert_int_equal(saksi_seckey_save(fx.store, path, NULL, "test store key"), SAKSI_OK);
	index = fx_key(fx.seed, "index", SAKSI_KEY_SYM);
	snprintf(path, sizeof(path), "%s/index.key", fx.dir);
	assert_int_equal(saksi_seckey_save(index, path, NULL, "test index key"), SAKSI_OK);
	saksi_seckey_free(index);
	snprintf(path, sizeof(path), "%s/keyring.json", fx.dir);
	fx_write(path, fx.keyring_json, strlen(fx.keyring_json), 0644);
	snprintf(path, sizeof(path), "%s/schemas/rules/default.rules", SAKSI_SOURCE_DIR);
	rules = fx_read(path, &len);
	assert_non_null(rules);
	snprintf(path, sizeof(path), "%s/rules.conf", fx.dir);
	fx_write(path, rules, len, 0644);
	free(rules);
	snprintf(text, sizeof(text),
	         "origin = %s\n"
	         "state_dir = state\n"
	         "listen = ipc://ingest.sock\n"
	         "keyring = keyring.json\n"
	         "log_key = log.key\n"
	         "box_key = box.key\n"
	         "store_key = store.key\n"
	         "index_key = index.key\n"
	         "schemas_dir = %s/schemas/events\n"
	         "rules = rules.conf\n"
	         "alerts_listen = ipc://alerts.sock\n"
	         "group_wait_us = 0\n"
	         "workers = 2\n"
	         "map_size_mb = 64\n"
	         "refusal_alert_window_s = %d\n"
	         "refusal_alert_threshold = %d\n"
	         "allow_root = yes\n",
	         FX_ORIGIN, SAKSI_SOURCE_DIR, WINDOW_S, THRESHOLD);
	fx_write(conf, text, strlen(text), 0644);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
	}
	fx_free(&fx);
	return 0;
}

static void
test_refusal_alert(void **state)
{
	const uint64_t w = (uint64_t)WINDOW_S * 1000;
	saksi_alert a[4];
	saksi_ledger *l;
	saksi_ledger_opts lo;
	saksi_verify_opts vo;
	saksi_verify_report vr;
	json_t *o, *pub;
	char *msg = NULL, out[300], *text;
	int sub, to = 30000, n, st;
	pid_t pid;
	(void)state;

	/* Windows are aligned on the daemon's clock: not within a minute of the next one,
	 * so that all of this test's refusals fall in one window. */
	while (wall_ms() % w > w - 60000)
		sleep(1);
	daemon_pid = spawn();
	o = status();
	assert_true(json_is_true(json_object_get(json_object_get(o, "alerts"), "detection")));
	assert_int_equal(jalert(o, "raised"), 0);
	assert_int_equal(jalert(o, "acknowledged"), 0);
	json_decref(o);
	assert_true((sub = nn_socket(AF_SP, NN_SUB)) >= 0);
	assert_true(nn_setsockopt(sub, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) >= 0);
	nn_setsockopt(sub, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	assert_true(nn_connect(sub, alerts_url) >= 0);
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

	/* kill -9 and a restart: the window goes on; more in it raise nothing more. */
	assert_int_equal(kill(daemon_pid, SIGKILL), 0);
	assert_int_equal(waitpid(daemon_pid, NULL, 0), daemon_pid);
	daemon_pid = spawn();
	o = status();
	assert_int_equal(jalert(o, "raised"), 1);
	json_decref(o);
	forge(THRESHOLD);
	o = status();
	assert_int_equal(jalert(o, "raised"), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o,
	    "refused_total"), "signature")), 2 * THRESHOLD);
	json_decref(o);
	kill(daemon_pid, SIGTERM);
	assert_int_equal(waitpid(daemon_pid, &st, 0), daemon_pid);
	daemon_pid = -1;
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	nn_close(sub);

	/* Exactly one refusal alert entry; saksi alerts list shows it; the ledger verifies. */
	assert_int_equal(ledger_refusal_alerts(a), 1);
	assert_int_equal(a[0].al_id, 1);
	assert_int_equal(a[0].al_value, THRESHOLD);
	assert_int_equal(a[0].al_threshold, THRESHOLD);
	assert_int_equal(a[0].al_extra, w);
	assert_int_equal(a[0].al_nevidence, THRESHOLD);   /* one summary per group */
	snprintf(out, sizeof(out), "%s/list.out", fx.dir);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		FILE *f = freopen(out, "w", stdout);
		(void)f;
		execl(SAKSI, "saksi", "alerts", "list", "--ledger", ledger_dir, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	text = fx_read(out, NULL);
	printf("%s", text);
	assert_non_null(strstr(text, "refusals:signature"));
	free(text);
	memset(&lo, 0, sizeof(lo));
	lo.lo_readonly = 1;
	assert_int_equal(saksi_ledger_open(ledger_dir, NULL, NULL, &lo, &l), SAKSI_OK);
	memset(&vo, 0, sizeof(vo));
	vo.vo_log = &fx.v;
	vo.vo_keyring = fx.kr;
	assert_int_equal(saksi_verify_ledger(l, &vo, &vr), SAKSI_OK);
	assert_int_equal(vr.vr_alerts, 1);
	saksi_ledger_close(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusal_alert),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
