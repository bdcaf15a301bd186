/* config_test.c: saksid.conf parsing, every error with its file:line message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "../tests/tmpdir.h"

#define BASE \
	"# saksid test config\n" \
	"origin = saksi.example/kc-makassar\n" \
	"state_dir = state\n" \
	"listen = ipc://run/ingest.sock\n" \
	"keyring = /etc/saksi/keyring.json\n" \
	"log_key = keys/log.key\n" \
	"box_key = keys/box.key\n" \
	"store_key = keys/store.key\n" \
	"schemas_dir = /usr/share/saksi/schemas/events\n"

static char errbuf[512];

static saksi_err
parse(const char *text, saksid_config *cf)
{
	return saksid_config_parse("/etc/saksi/saksid.conf", text, strlen(text), cf, errbuf,
	                           sizeof(errbuf));
}

/* Parses BASE plus `extra`, expects SAKSI_ERR_FORMAT and a message starting with want. */
static void
expect_error(const char *extra, const char *want)
{
	saksid_config cf;
	char *text = malloc(strlen(BASE) + strlen(extra) + 1);

	assert_non_null(text);
	sprintf(text, "%s%s", BASE, extra);
	memset(&cf, 0xaa, sizeof(cf));
	assert_int_equal(parse(text, &cf), SAKSI_ERR_FORMAT);
	if (strncmp(errbuf, want, strlen(want)) != 0)
		fail_msg("for %s: got \"%s\", want prefix \"%s\"", extra, errbuf, want);
	free(text);
}

static void
test_valid(void **state)
{
	saksid_config cf;
	(void)state;

	assert_int_equal(parse(BASE "\n   # indented comment\n\t\nworkers = 3\n"
	                       "listen = tcp://127.0.0.1:7400\nlisten=tcp://*:7401\n"
	                       "group_max=64\ngroup_wait_us = 0\nmax_clock_skew_ms = 1000\n"
	                       "map_size_mb = 16\ndict_after = 10\ntrace_requests = 5000\n", &cf),
	                 SAKSI_OK);
	assert_string_equal(cf.cf_origin, "saksi.example/kc-makassar");
	assert_string_equal(cf.cf_state_dir, "/etc/saksi/state");
	assert_string_equal(cf.cf_keyring, "/etc/saksi/keyring.json");
	assert_string_equal(cf.cf_log_key, "/etc/saksi/keys/log.key");
	assert_string_equal(cf.cf_box_key, "/etc/saksi/keys/box.key");
	assert_string_equal(cf.cf_store_key, "/etc/saksi/keys/store.key");
	assert_string_equal(cf.cf_schemas_dir, "/usr/share/saksi/schemas/events");
	assert_int_equal(cf.cf_nlisten, 3);
	assert_string_equal(cf.cf_listen[0], "ipc:///etc/saksi/run/ingest.sock");
	assert_string_equal(cf.cf_listen[1], "tcp://127.0.0.1:7400");
	assert_string_equal(cf.cf_listen[2], "tcp://*:7401");
	assert_int_equal(cf.cf_workers, 3);
	assert_int_equal(cf.cf_group_max, 64);
	assert_int_equal(cf.cf_group_wait_us, 0);
	assert_int_equal(cf.cf_max_clock_skew_ms, 1000);
	assert_int_equal(cf.cf_map_size_mb, 16);
	assert_int_equal(cf.cf_dict_after, 10);
	assert_int_equal(cf.cf_trace_requests, 5000);
	saksid_config_free(&cf);
	saksid_config_free(NULL);
}

static void
test_defaults(void **state)
{
	saksid_config cf;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	(void)state;

	assert_int_equal(parse(BASE, &cf), SAKSI_OK);
	assert_int_equal(cf.cf_max_clock_skew_ms, 300000);
	assert_int_equal(cf.cf_max_event_age_ms, 86400000);
	assert_int_equal(cf.cf_group_max, 512);
	assert_int_equal(cf.cf_group_wait_us, 1000);
	assert_int_equal(cf.cf_workers, ncpu < 1 ? 1 : ncpu);
	assert_int_equal(cf.cf_map_size_mb, 0);
	assert_int_equal(cf.cf_dict_after, 0);
	assert_int_equal(cf.cf_alert_ack_timeout_s, 3600);
	assert_int_equal(cf.cf_trace_requests, 0);
	saksid_config_free(&cf);
	/* No final newline is fine. */
	assert_int_equal(parse("origin=a\nstate_dir=s\nlisten=ipc:///x\nkeyring=k\nlog_key=l\n"
	                       "box_key=b\nstore_key=s\nschemas_dir=d", &cf), SAKSI_OK);
	assert_string_equal(cf.cf_schemas_dir, "/etc/saksi/d");
	saksid_config_free(&cf);
}

static void
test_line_errors(void **state)
{
	(void)state;
	expect_error("nonsense\n", "/etc/saksi/saksid.conf:10: expected \"key = value\"");
	expect_error("colour = blue\n", "/etc/saksi/saksid.conf:10: unknown key \"colour\"");
	expect_error("Origin = x\n", "/etc/saksi/saksid.conf:10: unknown key \"Origin\"");
	expect_error("= x\n", "/etc/saksi/saksid.conf:10: unknown key \"\"");
	expect_error("workers =   \n", "/etc/saksi/saksid.conf:10: workers has no value");
	expect_error("workers = 2\r\n", "/etc/saksi/saksid.conf:10: carriage return");
	expect_error("workers = \0012\n", "/etc/saksi/saksid.conf:10: control character");
	expect_error("\n\norigin = other\n",
	             "/etc/saksi/saksid.conf:12: origin already set on line 2");
	expect_error("state_dir = /x\n",
	             "/etc/saksi/saksid.conf:10: state_dir already set on line 3");
	expect_error("workers = 1\nworkers = 1\n",
	             "/etc/saksi/saksid.conf:11: workers already set on line 10");
}

static void
test_nul_and_long_lines(void **state)
{
	saksid_config cf;
	char text[8192];
	size_t n = strlen(BASE);
	(void)state;

	memcpy(text, BASE "work\0ers = 1\n", n + 13);
	assert_int_equal(saksid_config_parse("c.conf", text, n + 13, &cf, errbuf,
	                                     sizeof(errbuf)), SAKSI_ERR_FORMAT);
	assert_string_equal(errbuf, "c.conf:10: NUL byte in line");

	memcpy(text, BASE, n);
	memset(text + n, '#', SAKSID_CONF_LINE_MAX + 1);
	assert_int_equal(saksid_config_parse("c.conf", text, n + SAKSID_CONF_LINE_MAX + 1, &cf,
	                                     errbuf, sizeof(errbuf)), SAKSI_ERR_FORMAT);
	assert_string_equal(errbuf, "c.conf:10: line longer than 4096 bytes");
	/* Exactly at the cap is fine. */
	assert_int_equal(saksid_config_parse("c.conf", text, n + SAKSID_CONF_LINE_MAX, &cf,
	                                     errbuf, sizeof(errbuf)), SAKSI_OK);
	saksid_config_free(&cf);

	assert_int_equal(saksid_config_parse("c.conf", text, SAKSID_CONF_FILE_MAX + 1, &cf,
	                                     errbuf, sizeof(errbuf)), SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksid_config_parse(NULL, text, 1, &cf, NULL, 0), SAKSI_ERR_INVAL);
}

static void
test_bad_values(void **state)
{
	static const char *const keys[] = { "max_clock_skew_ms", "group_max", "group_wait_us",
		"workers", "map_size_mb", "dict_after", "alert_ack_timeout_s", "trace_requests" };
	char line[128];
	(void)state;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *bad[] = { "x", "-1", "+1", "1.5", "1 000", "0x10",
			"99999999999999999999999" };
		for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			char want[128];
			snprintf(line, sizeof(line), "%s = %s\n", keys[i], bad[j]);
			snprintf(want, sizeof(want), "/etc/saksi/saksid.conf:10: %s: \"%s\" is not "
			         "an integer in", keys[i], bad[j]);
			expect_error(line, want);
		}
	}
	/* Range ends. */
	expect_error("workers = 0\n", "/etc/saksi/saksid.conf:10: workers: \"0\" is not an "
	             "integer in 1..256");
	expect_error("workers = 257\n", "/etc/saksi/saksid.conf:10: workers: \"257\"");
	expect_error("group_max = 0\n", "/etc/saksi/saksid.conf:10: group_max: \"0\"");
	expect_error("group_max = 2049\n", "/etc/saksi/saksid.conf:10: group_max: \"2049\"");
	expect_error("group_wait_us = 1000001\n",
	             "/etc/saksi/saksid.conf:10: group_wait_us: \"1000001\"");
	expect_error("max_clock_skew_ms = 0\n",
	             "/etc/saksi/saksid.conf:10: max_clock_skew_ms: \"0\"");
	expect_error("map_size_mb = 0\n", "/etc/saksi/saksid.conf:10: map_size_mb: \"0\"");
	expect_error("dict_after = 0\n", "/etc/saksi/saksid.conf:10: dict_after: \"0\"");
	expect_error("trace_requests = 1000001\n", "/etc/saksi/saksid.conf:10: "
	             "trace_requests: \"1000001\" is not an integer in 0..1000000");
	expect_error("alert_ack_timeout_s = 2678401\n", "/etc/saksi/saksid.conf:10: "
	             "alert_ack_timeout_s: \"2678401\" is not an integer in 0..2678400");
	expect_error("alert_ack_timeout_s = 1\nalert_ack_timeout_s = 2\n",
	             "/etc/saksi/saksid.conf:11: alert_ack_timeout_s already set on line 10");
}

static void
test_bad_origin(void **state)
{
	saksid_config cf;
	char text[1024];
	static const char *const bad[] = { "a+b", "a b", "caf\xc3\xa9", "a\x7f" };
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "origin = %s\n", bad[i]);
		assert_int_equal(parse(text, &cf), SAKSI_ERR_FORMAT);
		assert_non_null(strstr(errbuf, "saksid.conf:1: origin:"));
	}
	memset(text, 'a', 300);
	memcpy(text, "origin = ", 9);
	text[299] = '\n';
	text[300] = '\0';
	assert_int_equal(parse(text, &cf), SAKSI_ERR_FORMAT);
	assert_non_null(strstr(errbuf, "saksid.conf:1: origin:"));
}

static void
test_retention(void **state)
{
	saksid_config cf;
	(void)state;

	assert_int_equal(parse(BASE, &cf), SAKSI_OK);
	assert_int_equal(cf.cf_retention_days, 0);
	assert_null(cf.cf_retention_key);
	saksid_config_free(&cf);
	assert_int_equal(parse(BASE "retention_days = 3650\nretention_key = keys/ret.key\n", &cf),
	                 SAKSI_OK);
	assert_int_equal(cf.cf_retention_days, 3650);
	assert_string_equal(cf.cf_retention_key, "/etc/saksi/keys/ret.key");
	saksid_config_free(&cf);
	/* 0 keeps, with or without a key. */
	assert_int_equal(parse(BASE "retention_days = 0\n", &cf), SAKSI_OK);
	saksid_config_free(&cf);
	expect_error("retention_days = 30\n",
	             "/etc/saksi/saksid.conf:10: retention_days needs retention_key");
	expect_error("retention_days = 36501\nretention_key = k\n",
	             "/etc/saksi/saksid.conf:10: retention_days: \"36501\" is not an integer");
}

static void
test_access_key(void **state)
{
	saksid_config cf;
	(void)state;

	assert_int_equal(parse(BASE, &cf), SAKSI_OK);
	assert_null(cf.cf_access_key);
	assert_int_equal(cf.cf_max_query_age_ms, 300000);
	saksid_config_free(&cf);
	assert_int_equal(parse(BASE "index_key = keys/index.key\naccess_key = keys/access.key\n"
	                       "max_query_age_ms = 60000\n", &cf), SAKSI_OK);
	assert_string_equal(cf.cf_access_key, "/etc/saksi/keys/access.key");
	assert_int_equal(cf.cf_max_query_age_ms, 60000);
	saksid_config_free(&cf);
	/* Remote queries run on the indexes. */
	expect_error("access_key = k\n",
	             "/etc/saksi/saksid.conf:10: access_key needs index_key");
	expect_error("max_query_age_ms = 999\n",
	             "/etc/saksi/saksid.conf:10: max_query_age_ms: \"999\" is not an integer");
	expect_error("max_query_age_ms = 3600001\n",
	             "/etc/saksi/saksid.conf:10: max_query_age_ms: \"3600001\" is not an integer");
}

static void
test_alerts(void **state)
{
	saksid_config cf;
	(void)state;

	assert_int_equal(parse(BASE "rules = rules/default.rules\nindex_key = keys/index.key\n"
	                       "alerts_listen = ipc://run/alerts.sock\n", &cf), SAKSI_OK);
	assert_string_equal(cf.cf_rules, "/etc/saksi/rules/default.rules");
	assert_string_equal(cf.cf_index_key, "/etc/saksi/keys/index.key");
	assert_string_equal(cf.cf_alerts_listen, "ipc:///etc/saksi/run/alerts.sock");
	saksid_config_free(&cf);
	/* Re-raise: 0 is never, up to 31 days. */
	assert_int_equal(parse(BASE "alert_ack_timeout_s = 0\n", &cf), SAKSI_OK);
	assert_int_equal(cf.cf_alert_ack_timeout_s, 0);
	saksid_config_free(&cf);
	assert_int_equal(parse(BASE "alert_ack_timeout_s = 2678400\n", &cf), SAKSI_OK);
	assert_int_equal(cf.cf_alert_ack_timeout_s, 2678400);
	saksid_config_free(&cf);
	/* All optional: none means no detection. */
	assert_int_equal(parse(BASE, &cf), SAKSI_OK);
	assert_null(cf.cf_rules);
	assert_null(cf.cf_index_key);
	assert_null(cf.cf_alerts_listen);
	saksid_config_free(&cf);
	/* An index key alone is fine (kept ready for rules). */
	assert_int_equal(parse(BASE "index_key = k\n", &cf), SAKSI_OK);
	saksid_config_free(&cf);

	expect_error("rules = r\n",
	             "/etc/saksi/saksid.conf:10: rules needs index_key");
	expect_error("alerts_listen = tcp://127.0.0.1:7500\n",
	             "/etc/saksi/saksid.conf:10: alerts_listen without rules");
	expect_error("rules = r\nindex_key = k\nalerts_listen = ipc://run/ingest.sock\n",
	             "/etc/saksi/saksid.conf:12: alerts_listen is also a listen URL");
	expect_error("rules = r\nindex_key = k\nalerts_listen = udp://x:1\n",
	             "/etc/saksi/saksid.conf:12: alerts_listen: \"udp://x:1\" is not an ipc://");
	expect_error("rules = r\nindex_key = k\nalerts_listen = tcp://h:1\n"
	             "alerts_listen = tcp://h:2\n",
	             "/etc/saksi/saksid.conf:13: alerts_listen already set on line 12");
	expect_error("rules = r\nrules = s\n",
	             "/etc/saksi/saksid.conf:11: rules already set on line 10");
}

/* Bounds and refusal alerts: defaults, values, ranges, and refusal alerts need rules. */
static void
test_bounds(void **state)
{
	static const char *const keys[] = { "max_inflight_per_key", "queue_mb",
		"queue_requests", "max_connections", "refusal_alert_window_s",
		"refusal_alert_threshold" };
	saksid_config cf;
	char line[128], want[160];
	(void)state;

	assert_int_equal(parse(BASE, &cf), SAKSI_OK);
	assert_int_equal(cf.cf_max_inflight_per_key, 1024);
	assert_int_equal(cf.cf_queue_mb, 256);
	assert_int_equal(cf.cf_queue_requests, 4096);
	assert_int_equal(cf.cf_max_connections, 1024);
	assert_int_equal(cf.cf_refusal_alert_window_s, 600);
	assert_int_equal(cf.cf_refusal_alert_threshold, 100);
	saksid_config_free(&cf);
	assert_int_equal(parse(BASE "max_inflight_per_key = 7\nqueue_mb = 16\n"
	                       "queue_requests = 9\nmax_connections = 16\nrules = r\n"
	                       "index_key = k\nrefusal_alert_window_s = 60\n"
	                       "refusal_alert_threshold = 0\n", &cf), SAKSI_OK);
	assert_int_equal(cf.cf_max_inflight_per_key, 7);
	assert_int_equal(cf.cf_queue_mb, 16);
	assert_int_equal(cf.cf_queue_requests, 9);
	assert_int_equal(cf.cf_max_connections, 16);
	assert_int_equal(cf.cf_refusal_alert_window_s, 60);
	assert_int_equal(cf.cf_refusal_alert_threshold, 0);
	saksid_config_free(&cf);

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(line, sizeof(line), "%s = x\n", keys[i]);
		snprintf(want, sizeof(want), "/etc/saksi/saksid.conf:10: %s: \"x\" is not an "
		         "integer in", keys[i]);
		expect_error(line, want);
		snprintf(line, sizeof(line), "%s = 20\n%s = 21\n", keys[i], keys[i]);
		snprintf(want, sizeof(want), "/etc/saksi/saksid.conf:11: %s already set on line "
		         "10", keys[i]);
		expect_error(line, want);
	}
	expect_error("max_inflight_per_key = 0\n",
	             "/etc/saksi/saksid.conf:10: max_inflight_per_key: \"0\" is not an integer "
	             "in 1..1000000");
	expect_error("queue_mb = 65537\n", "/etc/saksi/saksid.conf:10: queue_mb: \"65537\"");
	expect_error("queue_requests = 0\n", "/etc/saksi/saksid.conf:10: queue_requests: \"0\"");
	expect_error("max_connections = 15\n",
	             "/etc/saksi/saksid.conf:10: max_connections: \"15\" is not an integer in "
	             "16..65536");
	expect_error("refusal_alert_window_s = 86401\n",
	             "/etc/saksi/saksid.conf:10: refusal_alert_window_s: \"86401\"");
	expect_error("refusal_alert_threshold = 1000000001\n",
	             "/etc/saksi/saksid.conf:10: refusal_alert_threshold: \"1000000001\"");
	expect_error("refusal_alert_threshold = 5\n",
	             "/etc/saksi/saksid.conf:10: refusal_alert_threshold without rules");
	expect_error("refusal_alert_window_s = 5\n",
	             "/etc/saksi/saksid.conf:10: refusal_alert_window_s without rules");
}

static void
test_listen(void **state)
{
	saksid_config cf;
	char text[4096];
	size_t n;
	(void)state;

	expect_error("listen = http://x:1\n",
	             "/etc/saksi/saksid.conf:10: listen: \"http://x:1\" is not an ipc:// or tcp://");
	expect_error("listen = ipc://\n", "/etc/saksi/saksid.conf:10: listen: ipc:// URL has no path");
	expect_error("listen = tcp://host\n", "/etc/saksi/saksid.conf:10: listen: tcp:// URL needs host:port");
	expect_error("listen = tcp://:7400\n", "/etc/saksi/saksid.conf:10: listen: tcp:// URL needs host:port");
	expect_error("listen = tcp://h:0\n", "/etc/saksi/saksid.conf:10: listen: bad port \"0\"");
	expect_error("listen = tcp://h:65536\n", "/etc/saksi/saksid.conf:10: listen: bad port \"65536\"");
	expect_error("listen = tcp://h:\n", "/etc/saksi/saksid.conf:10: listen: bad port \"\"");
	expect_error("listen = ipc://run/ingest.sock\n",
	             "/etc/saksi/saksid.conf:10: listen URL already given on line 4");
	/* The same socket written absolute is the same URL. */
	expect_error("listen = ipc:///etc/saksi/run/ingest.sock\n",
	             "/etc/saksi/saksid.conf:10: listen URL already given on line 4");

	memset(text, 0, sizeof(text));
	strcpy(text, "listen = tcp://");
	memset(text + strlen(text), 'h', 120);
	strcat(text, ":1\n");
	expect_error(text, "/etc/saksi/saksid.conf:10: listen: URL longer than 127 bytes");
	strcpy(text, "listen = ipc://");
	memset(text + strlen(text), 'p', 115);
	strcat(text, "\n");
	expect_error(text, "/etc/saksi/saksid.conf:10: listen: URL longer than 127 bytes");

	/* Eight URLs are fine, nine are not. */
	n = 0;
	for (int i = 1; i < 8; i++)
		n += (size_t)sprintf(text + n, "listen = tcp://127.0.0.1:%d\n", 7400 + i);
	{
		char *t = malloc(strlen(BASE) + n + 64);
		assert_non_null(t);
		sprintf(t, "%s%s", BASE, text);
		assert_int_equal(parse(t, &cf), SAKSI_OK);
		assert_int_equal(cf.cf_nlisten, 8);
		saksid_config_free(&cf);
		free(t);
	}
	sprintf(text + n, "listen = tcp://127.0.0.1:7000\n");
	expect_error(text, "/etc/saksi/saksid.conf:17: more than 8 listen URLs");
}

static void
test_missing(void **state)
{
	static const char *const keys[] = { "origin", "state_dir", "listen", "keyring",
		"log_key", "box_key", "store_key", "schemas_dir" };
	saksid_config cf;
	char text[2048], want[128];
	(void)state;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char *line, *end;
		char key[64];

		strcpy(text, BASE);
		snprintf(key, sizeof(key), "\n%s = ", keys[i]);
		line = strstr(text, key);
		assert_non_null(line);
		end = strchr(line + 1, '\n');
		memmove(line, end, strlen(end) + 1);
		assert_int_equal(parse(text, &cf), SAKSI_ERR_FORMAT);
		snprintf(want, sizeof(want), "/etc/saksi/saksid.conf: missing required key \"%s\"",
		         keys[i]);
		assert_string_equal(errbuf, want);
	}
	assert_int_equal(parse("", &cf), SAKSI_ERR_FORMAT);
	assert_string_equal(errbuf, "/etc/saksi/saksid.conf: missing required key \"origin\"");
}

static void
test_load(void **state)
{
	char dir[128];
	char path[256], cwd[4096];
	saksid_config cf;
	FILE *f;
	(void)state;

	assert_int_equal(tmpdir_make(dir, sizeof(dir), "saksid-config"), 0);
	snprintf(path, sizeof(path), "%s/saksid.conf", dir);
	assert_int_equal(saksid_config_load(path, &cf, errbuf, sizeof(errbuf)),
	                 SAKSI_ERR_NOT_FOUND);
	assert_non_null(strstr(errbuf, "saksid.conf"));
	assert_int_equal(saksid_config_load(dir, &cf, errbuf, sizeof(errbuf)), SAKSI_ERR_IO);
	assert_int_equal(saksid_config_load(NULL, &cf, errbuf, sizeof(errbuf)), SAKSI_ERR_INVAL);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs(BASE, f);
	fclose(f);
	assert_int_equal(saksid_config_load(path, &cf, errbuf, sizeof(errbuf)), SAKSI_OK);
	{
		char want[300];
		snprintf(want, sizeof(want), "%s/state", dir);
		assert_string_equal(cf.cf_state_dir, want);
		snprintf(want, sizeof(want), "ipc://%s/run/ingest.sock", dir);
		assert_string_equal(cf.cf_listen[0], want);
	}
	saksid_config_free(&cf);

	/* A relative config path resolves against the cwd. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(saksid_config_load("saksid.conf", &cf, errbuf, sizeof(errbuf)),
	                 SAKSI_OK);
	{
		char want[300];
		snprintf(want, sizeof(want), "%s/keys/log.key", dir);
		assert_string_equal(cf.cf_log_key, want);
	}
	saksid_config_free(&cf);
	assert_int_equal(chdir(cwd), 0);

	/* A file over the cap. */
	f = fopen(path, "w");
	assert_non_null(f);
	for (unsigned i = 0; i <= SAKSID_CONF_FILE_MAX / 8; i++)
		fputs("#######\n", f);
	fclose(f);
	assert_int_equal(saksid_config_load(path, &cf, errbuf, sizeof(errbuf)),
	                 SAKSI_ERR_TOO_LARGE);
	unlink(path);
	rmdir(dir);
}

/* The sandbox keys (daemon/sandbox.h): names, yes/no, and the combinations refused. */
static void
test_sandbox_keys(void **state)
{
	saksid_config cf;
	(void)state;

	assert_int_equal(parse(BASE, &cf), SAKSI_OK);
	assert_null(cf.cf_user);
	assert_null(cf.cf_group);
	assert_int_equal(cf.cf_allow_root, 0);
	assert_int_equal(cf.cf_seccomp, 1);
	saksid_config_free(&cf);

	assert_int_equal(parse(BASE "user = saksi\ngroup = saksi-producers\nseccomp = no\n",
	                       &cf), SAKSI_OK);
	assert_string_equal(cf.cf_user, "saksi");
	assert_string_equal(cf.cf_group, "saksi-producers");
	assert_int_equal(cf.cf_seccomp, 0);
	saksid_config_free(&cf);

	assert_int_equal(parse(BASE "allow_root = yes\nseccomp = yes\n", &cf), SAKSI_OK);
	assert_int_equal(cf.cf_allow_root, 1);
	assert_int_equal(cf.cf_seccomp, 1);
	saksid_config_free(&cf);

	expect_error("user = 0\n", "/etc/saksi/saksid.conf:10: user: \"0\" is not an "
	             "account name");
	expect_error("user = ../root\n", "/etc/saksi/saksid.conf:10: user: \"../root\" is "
	             "not an account name");
	expect_error("user = -x\n", "/etc/saksi/saksid.conf:10: user: \"-x\" is not");
	expect_error("user = a$b\n", "/etc/saksi/saksid.conf:10: user: \"a$b\" is not");
	expect_error("user = abcdefghijklmnopqrstuvwxyz0123456\n",
	             "/etc/saksi/saksid.conf:10: user: \"abcdefghijklmnopqrstuvwxyz0123456\"");
	expect_error("user = saksi\ngroup = 12\n", "/etc/saksi/saksid.conf:11: group: \"12\"");
	expect_error("user = a\nuser = b\n", "/etc/saksi/saksid.conf:11: user already set "
	             "on line 10");
	expect_error("seccomp = on\n", "/etc/saksi/saksid.conf:10: seccomp: \"on\" is not "
	             "yes or no");
	expect_error("allow_root = 1\n", "/etc/saksi/saksid.conf:10: allow_root: \"1\" is "
	             "not yes or no");
	expect_error("group = saksi\n", "/etc/saksi/saksid.conf:10: group without user");
	expect_error("user = saksi\nallow_root = yes\n", "/etc/saksi/saksid.conf:11: "
	             "allow_root = yes with user: choose one");
	/* allow_root = no with user is consistent. */
	assert_int_equal(parse(BASE "user = nobody\nallow_root = no\n", &cf), SAKSI_OK);
	assert_string_equal(cf.cf_user, "nobody");
	saksid_config_free(&cf);
	assert_int_equal(parse(BASE "user = _saksi$\n", &cf), SAKSI_OK);
	saksid_config_free(&cf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_line_errors),
		cmocka_unit_test(test_nul_and_long_lines),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bad_origin),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_alerts),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_access_key),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_sandbox_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
