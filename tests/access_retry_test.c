/*
 * access_retry_test.c: saksi bundle and saksi subject-report whose access entry's answer
 * is lost (--timeout 1) resend the same bytes, so one export or report is one access
 * entry, as saksi query does (cli/appliance.c). Real saksid, real ledger; the test never
 * times anything: a 1 ms first wait only makes a lost answer likely, either way the count
 * must be exactly one more.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "testutil.h"

#define ORIGIN "retry-test.saksi.example/log"
#define SEED "23"

/* The access entries written by command so far. */
static size_t
count_access(struct scratch *f, const char *conf, const char *command)
{
	struct run r;
	json_t *root, *e;
	size_t i, n = 0;

	RUN(f, &r, 0, "query", "--config", conf, "--type", "supervisor.access.logged",
	    "--json", "--limit", "1000");
	root = json_loads(r.out, 0, NULL);
	assert_non_null(root);
	json_array_foreach(json_object_get(root, "entries"), i, e) {
		const char *c = json_string_value(json_object_get(json_object_get(e, "payload"),
		    "command"));

		if (c != NULL && strcmp(c, command) == 0)
			n++;
	}
	json_decref(root);
	run_free(&r);
	return n;
}

/* The first NIK of the simulated day (its events carry it in clear). */
static char *
first_nik(const char *dayf)
{
	char *text = slurp(dayf, NULL), *line = text, *nik = NULL;

	while (nik == NULL && *line != '\0') {
		char *nl = strchr(line, '\n');
		json_t *o;
		const char *v;

		assert_non_null(nl);
		*nl = '\0';
		o = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
		assert_non_null(o);
		v = json_string_value(json_object_get(json_object_get(o, "payload"), "nik"));
		if (v != NULL)
			nik = strdup(v);
		json_decref(o);
		line = nl + 1;
	}
	free(text);
	assert_non_null(nik);
	return nik;
}

static void
test_retry(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char vkey[512], start_day[16], conf[256], sup[256], sup_pub[256], kr[256], dayf[256];
	char sock[300], nikfile[256], out[256], *nik;
	size_t before;

	need_built(SAKSI, SAKSID);
	sim_start_day(start_day, SEED);

	state_init(SAKSI, f, ORIGIN, vkey, sizeof(vkey));
	path_in(f->dir, "st/saksid.conf", conf, sizeof(conf));
	path_in(f->dir, "st/keyring.json", kr, sizeof(kr));
	path_in(f->dir, "sup.key", sup, sizeof(sup));
	path_in(f->dir, "sup.pub", sup_pub, sizeof(sup_pub));
	path_in(f->dir, "day.jsonl", dayf, sizeof(dayf));
	path_in(f->dir, "subject.nik", nikfile, sizeof(nikfile));
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only");
	run_free(&r);
	key_enrol(SAKSI, f, kr, sup, sup_pub, "spi-1", "supervisor", "*");
	RUN(f, &r, 0, "simulate", "--dry-run", "--out", dayf, "--seed", SEED, "--start",
	    start_day, "--branches", "1", "--days", "1");
	run_free(&r);
	nik = first_nik(dayf);

	conf_listen(conf, NULL, 0, sock, sizeof(sock));
	saksid_start(SAKSID, f, "-d", conf, sock, P(f, 5, "saksid.log"), O_APPEND);
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--seed", SEED, "--start", start_day,
	    "--branches", "1", "--days", "1", "--batch", "256", "--window", "3600000");
	run_free(&r);

	/* Twice each: a lost first answer is likely, not certain; the count is exact. */
	for (int i = 0; i < 2; i++) {
		before = count_access(f, conf, "bundle");
		path_in(f->dir, i ? "b1.bundle" : "b0.bundle", out, sizeof(out));
		RUN(f, &r, 0, "bundle", "--config", conf, "--case", "C-RETRY", "--leaf", "1",
		    "-k", sup, "-o", out, "--decrypted", "--timeout", "1");
		assert_non_null(strstr(r.err, "access logged as entry"));
		print_message("bundle with --timeout 1: %s", r.err);
		run_free(&r);
		assert_int_equal(access(out, F_OK), 0);
		assert_int_equal(count_access(f, conf, "bundle"), before + 1);

		before = count_access(f, conf, "subject-report");
		spit(nikfile, nik, strlen(nik));
		path_in(f->dir, i ? "r1.txt" : "r0.txt", out, sizeof(out));
		RUN_IN(f, &r, 0, nikfile, "subject-report", "--config", conf, "--nik", "-",
		    "-k", sup, "-o", out, "--format", "text", "--timeout", "1");
		assert_non_null(strstr(r.err, "access logged as entry"));
		assert_null(strstr(r.err, nik));
		print_message("subject-report with --timeout 1: %s", r.err);
		run_free(&r);
		unlink(nikfile);
		assert_int_equal(access(out, F_OK), 0);
		assert_int_equal(count_access(f, conf, "subject-report"), before + 1);
	}
	sodium_memzero(nik, strlen(nik));
	free(nik);
	saksid_stop(f);
}

static int
setup(void **state)
{
	return scratch_setup(state, "retry");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_retry, setup, scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
