/*
 * supervisor_day_test.c: issue #5 walked end to end by the people who use it, on the real
 * saksid over a simulated branch day: one supervisor's key looks at a participant, exports
 * the case, and (same key, no --seq) forgets him; an ombudsman checks the bundle and the
 * ledger with public keys only. Never mocks a part; never leaves personal numbers about.
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "testutil.h"

#define ORIGIN "supervisor-day.saksi.example/log"
#define SEED "29"

/* The daemon, killed by the teardown if a check fails while it runs: left alive it would
 * hold ctest's output pipe open and the run would never end. */

/* The personal numbers of the day (NIK, KPJ, phone, account), digits only. */
/* Fails naming the file (never the number) if buf holds one of s's numbers. */
static void
assert_none_in(const struct tu_secrets *s, const char *what, const void *buf, size_t len)
{
	for (size_t i = 0; i < s->n; i++)
		if (memmem(buf, len, s->v[i], strlen(s->v[i])) != NULL)
			fail_msg("%s holds a personal number of the day (number %zu)", what, i);
}

static void
assert_file_clean(const struct tu_secrets *s, const char *path)
{
	size_t len;
	char *b = slurp(path, &len);

	assert_none_in(s, path, b, len);
	free(b);
}

static int
setup(void **state)
{
	return scratch_setup(state, "supday");
}

static void
test_supervisor_day(void **state)
{
	struct scratch *f = *state;
	struct run r;
	struct tu_secrets all = { 0 }, his = { 0 };
	char vkey[512], url[256], sock[256], start_day[16], conf[256], sup[256], police[256];
	char omb[256], ledger[256], nik[32] = "", claim[64] = "", *text;
	size_t len;
	json_t *o, *e;

	need_built(SAKSI, SAKSID);
	sim_start_day(start_day, SEED);

	/* The operator: saksi init, the simulator's producers, one supervisor, a recipient. */
	state_init(SAKSI, f, ORIGIN, vkey, sizeof(vkey));
	snprintf(conf, sizeof(conf), "%s", P(f, 1, "st/saksid.conf"));
	snprintf(ledger, sizeof(ledger), "%s", P(f, 1, "st/ledger"));
	snprintf(sup, sizeof(sup), "%s", P(f, 1, "sup.key"));
	snprintf(police, sizeof(police), "%s", P(f, 1, "police.key"));
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only");
	run_free(&r);
	key_enrol(SAKSI, f, P(f, 2, "st/keyring.json"), sup, P(f, 3, "sup.pub"), "spi-1",
	    "supervisor", "*");
	RUN(f, &r, 0, "keygen", "--kind", "box", "-o", police, "--no-passphrase");
	run_free(&r);

	/* What the simulator will write, in clear: its personal numbers, and one participant
	 * with a claim taken on a booking. */
	RUN(f, &r, 0, "simulate", "--dry-run", "--out", P(f, 4, "day.jsonl"), "--seed", SEED,
	    "--start", start_day, "--branches", "1", "--days", "1");
	run_free(&r);
	text = slurp(f->path[4], &len);
	for (char *line = text, *nl; *line != '\0'; line = nl + 1) {
		json_t *p;
		const char *n;

		assert_non_null(nl = strchr(line, '\n'));
		*nl = '\0';
		assert_non_null(o = json_loads(line, JSON_REJECT_DUPLICATES, NULL));
		p = json_object_get(o, "payload");
		n = json_string_value(json_object_get(p, "nik"));
		tu_secret_add(&all, n);
		tu_secret_add(&all, json_string_value(json_object_get(p, "kpj")));
		tu_secret_add(&all, json_string_value(json_object_get(p, "phone")));
		tu_secret_add(&all, json_string_value(json_object_get(p, "bank_account")));
		if (nik[0] == '\0' && n != NULL && strcmp(json_string_value(json_object_get(o,
		    "type")), "claim.submitted") == 0 && json_object_get(p, "booking_id") &&
		    json_object_get(p, "bank_account")) {
			snprintf(nik, sizeof(nik), "%s", n);
			snprintf(claim, sizeof(claim), "%s",
			    json_string_value(json_object_get(p, "claim_id")));
		}
		json_decref(o);
	}
	sodium_memzero(text, len);
	free(text);
	assert_true(all.n > 1000);
	assert_true(nik[0] != '\0');
	tu_secret_add(&his, nik);
	spit(P(f, 5, "his.nik"), nik, strlen(nik));

	state_listen(f, url, sizeof(url), sock, sizeof(sock));
	saksid_start(SAKSID, f, "-d", conf, sock, P(f, 6, "saksid.log"), O_APPEND);
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--seed", SEED, "--start", start_day,
	    "--branches", "1", "--days", "1", "--batch", "256", "--window", "3600000");
	run_free(&r);

	/* 1. The supervisor looks at him, revealed, for case C-1: on the record first. */
	/* --nik -: the NIK from stdin, never in the process list. */
	RUN_IN(f, &r, 0, f->path[5], "timeline", "--config", conf, "--nik", "-", "-k", sup,
	    "--reveal", "--case", "C-1");
	assert_non_null(strstr(r.out, nik));
	assert_non_null(strstr(r.out, claim));
	assert_non_null(strstr(r.err, "access logged as entry"));
	run_free(&r);
	/* His subject report without --tz: a Makassar branch's times in WITA, the zone its
	 * bookings' region (73, South Sulawesi) puts it in, never WIB. */
	RUN_IN(f, &r, 0, f->path[5], "subject-report", "--config", conf, "--nik", "-", "-k",
	    sup, "--lang", "en", "--format", "text", "-o", P(f, 13, "before.txt"));
	run_free(&r);
	text = slurp(f->path[13], &len);
	assert_non_null(strstr(text, "at branch KC-MAKASSAR"));
	assert_non_null(strstr(text, " WITA, at branch KC-MAKASSAR"));
	assert_null(strstr(text, " WIB"));
	assert_non_null(strstr(text, "Date of the report: "));
	sodium_memzero(text, len);
	free(text);
	unlink(f->path[13]);
	/* Masked, by his claim, for a tool: no number of his, and not forgotten (yet). */
	RUN(f, &r, 0, "query", "--config", conf, "--claim", claim, "--json");
	assert_none_in(&his, "query --json", r.out, r.out_len);
	assert_non_null(o = json_loads(r.out, 0, NULL));
	e = json_array_get(json_object_get(o, "entries"), 0);
	assert_non_null(e);
	assert_true(json_is_false(json_object_get(e, "forgotten")));
	json_decref(o);
	run_free(&r);

	/* 2. The case's bundle, sealed to the police. */
	RUN(f, &r, 0, "bundle", "--config", conf, "--case", "C-1", "--claim", claim,
	    "--recipient", P(f, 7, "police.pub"), "-k", sup, "-o", P(f, 8, "case.bundle"));
	run_free(&r);
	assert_file_clean(&all, f->path[8]);

	/* 3. The ombudsman: the log's verifier key and the keyring, nothing secret. */
	snprintf(omb, sizeof(omb), "%s", P(f, 9, "omb"));
	assert_int_equal(mkdir(omb, 0700), 0);
	text = slurp(P(f, 2, "st/keyring.json"), &len);
	spit(P(f, 10, "omb/keyring.json"), text, len);
	free(text);
	RUN(f, &r, 0, "verify-bundle", f->path[8], "--vkey", vkey, "--keyring", f->path[10]);
	assert_non_null(strstr(r.out, "bundle intact: case C-1"));
	assert_non_null(strstr(r.out, "sealed and not opened"));
	run_free(&r);
	/* The police open theirs: every disclosure matches its signed digest. */
	RUN(f, &r, 0, "verify-bundle", f->path[8], "--vkey", vkey, "--keyring", f->path[10],
	    "-k", police);
	assert_non_null(strstr(r.out, "entries checked against their digests"));
	run_free(&r);
	RUN(f, &r, 0, "checkpoint", "--url", url, "--vkey", vkey);
	spit(P(f, 11, "omb/seen.note"), r.out, r.out_len);
	run_free(&r);

	for (size_t i = 0; i < all.n; i++)
		assert_string_not_equal(all.v[i], "3171010101900099");
	spit(P(f, 15, "nobody.nik"), "3171010101900099", 16);
	/* 4. He asks to be erased. A seq the key has used is refused and changes nothing. */
	RUN_IN(f, &r, 1, f->path[5], "forget", "--nik", "-", "--url", url, "-k", sup,
	    "--box-pub", P(f, 12, "st/box.pub"), "--vkey", vkey, "--seq", "1", "--branch",
	    "KP-PUSAT", "--officer", "SPI-01", "--case", "C-1");
	assert_non_null(strstr(r.err, "replay"));
	assert_none_in(&his, "forget's refusal", r.err, strlen(r.err));
	run_free(&r);
	RUN(f, &r, 0, "query", "--config", conf, "--claim", claim, "--json");
	assert_non_null(strstr(r.out, "\"forgotten\": false"));
	assert_null(strstr(r.out, "\"forgotten\": true"));
	run_free(&r);
	/* A NIK the appliance never saw is accepted, and the output does not pretend. */
	RUN_IN(f, &r, 0, P(f, 15, "nobody.nik"), "forget", "--nik", "-", "--url", url, "-k",
	    sup, "--box-pub", f->path[12], "--vkey", vkey, "--branch", "KP-PUSAT", "--officer",
	    "SPI-01");
	assert_non_null(strstr(r.err, "if the appliance held one"));
	run_free(&r);
	/* The same supervisor's key, as the docs show it: no --seq. */
	RUN_IN(f, &r, 0, f->path[5], "forget", "--nik", "-", "--url", url, "-k", sup,
	    "--box-pub", f->path[12], "--vkey", vkey, "--branch", "KP-PUSAT", "--officer",
	    "SPI-01", "--reason", "subject_request", "--case", "C-1");
	assert_non_null(strstr(r.err, "data key is destroyed"));
	assert_none_in(&his, "forget", r.out, r.out_len);
	assert_none_in(&his, "forget", r.err, strlen(r.err));
	run_free(&r);

	/* 5. Afterwards: his NIK finds nothing; his claim shows him forgotten, in words. */
	RUN_IN(f, &r, 0, f->path[5], "query", "--config", conf, "--nik", "-", "-k", sup,
	    "--reveal");
	assert_non_null(strstr(r.err, "0 entries"));
	run_free(&r);
	/* Only a personal filter comes from stdin, and only one. */
	RUN_IN(f, &r, 2, f->path[5], "query", "--config", conf, "--officer", "-");
	run_free(&r);
	RUN_IN(f, &r, 2, f->path[5], "query", "--config", conf, "--nik", "-", "--kpj", "-",
	    "-k", sup);
	run_free(&r);
	RUN(f, &r, 0, "query", "--config", conf, "--claim", claim, "--json", "-k", sup,
	    "--reveal");
	assert_none_in(&his, "query --json --reveal after forget", r.out, r.out_len);
	assert_non_null(o = json_loads(r.out, 0, NULL));
	{
		json_t *arr = json_object_get(o, "entries");
		size_t i, nforgot = 0;

		json_array_foreach(arr, i, e) {
			json_t *p = json_object_get(e, "payload"), *n = json_object_get(p, "nik");

			if (!json_is_true(json_object_get(e, "forgotten")))
				continue;
			nforgot++;
			if (n != NULL)
				assert_string_equal(json_string_value(n), "[forgotten]");
		}
		assert_true(nforgot > 0);
	}
	json_decref(o);
	assert_null(strstr(r.out, "_sd"));
	run_free(&r);
	RUN(f, &r, 0, "query", "--config", conf, "--claim", claim, "--csv");
	assert_non_null(strstr(r.out, "[forgotten]"));
	run_free(&r);
	RUN_IN(f, &r, 0, f->path[5], "subject-report", "--config", conf, "--nik", "-", "-k", sup,
	    "--lang", "en", "--format", "text", "-o", P(f, 13, "subject.txt"));
	run_free(&r);
	text = slurp(f->path[13], &len);
	assert_non_null(strstr(text, "most likely erased"));
	assert_non_null(strstr(text, "can be linked to you any more"));
	assert_none_in(&all, "the subject report after the forget", text, len);
	free(text);

	/* The bundle made before still verifies: it is a signed snapshot of the log. */
	RUN(f, &r, 0, "verify-bundle", f->path[8], "--vkey", vkey, "--keyring", f->path[10],
	    "-k", police);
	run_free(&r);

	/* 6. The ombudsman's copy of the ledger verifies, and extends what they saw. */
	saksid_stop(f);
	RUN(f, &r, 0, "backup", "--ledger", ledger, "-o", P(f, 14, "omb/ledger"));
	run_free(&r);
	RUN(f, &r, 0, "verify", "--ledger", f->path[14], "--vkey", vkey, "--keyring",
	    f->path[10], "--checkpoint", f->path[11]);
	assert_non_null(strstr(r.out, "ledger intact"));
	run_free(&r);

	/* 7. Nothing personal at rest or in the log, before or after. */
	assert_file_clean(&all, P(f, 15, "st/ledger/data.mdb"));
	assert_file_clean(&all, P(f, 15, "st/ledger/datakeys"));
	assert_file_clean(&all, P(f, 15, "omb/ledger/data.mdb"));
	assert_file_clean(&all, P(f, 15, "saksid.log"));
	unlink(f->path[4]);   /* the dry run's clear stream */
	tu_secrets_free(&all);
	tu_secrets_free(&his);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_supervisor_day, setup, scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
