/*
 * ombudsman_day_test.c: an ombudsman reviewer's day with saksi, on the real saksid over a
 * simulated branch day. The reviewer holds the log's verifier key and the keyring, nothing
 * secret: keeps a checkpoint, comes back and checks the log still extends it, checks a
 * proof, a copy of the ledger (with its progress, as a log file shows it), a receipt a
 * producer hands over, and an evidence bundle; and sees each forgery or stale copy fail
 * with exit 1 and a reason. Asserts on what a person reads. Never mocks a part.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "testutil.h"

#define SAKSI SAKSI_BUILD_DIR "/saksi"
#define ORIGIN "ombudsman-day.saksi.example/log"
#define SEED "37"

#define RUN(f, r, want, ...) run_expect(SAKSI, (f)->dir, (r), (want), NULL, __VA_ARGS__, \
	(char *)NULL)

static int
setup(void **state)
{
	return scratch_setup(state, "ombday");
}

/* The number after `key` in text (e.g. "entry " in "accepted as entry 12"). */
static unsigned long long
number_after(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	unsigned long long v;

	assert_non_null(p);
	assert_int_equal(sscanf(p + strlen(key), "%llu", &v), 1);
	return v;
}

static void
test_ombudsman_day(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char vkey[512], url[256], sock[256], start_day[16], conf[256], ledger[256];
	char sup[256], prod[256], receipt[256], seen[256], later[256], kr[256], copy[256];
	char stale[256], idx[32], other[32], bundle[256], *text, *p;
	unsigned long long entry, size_seen;
	size_t len;
	json_t *o;

	need_built(SAKSI, DR_SAKSID);
	sim_start_day(start_day, SEED);

	/* The appliance, as its operator sets it up: a producer of its own, a supervisor
	 * who exports a case, a court's box key as the case's recipient. */
	state_init(SAKSI, f, ORIGIN, vkey, sizeof(vkey));
	snprintf(conf, sizeof(conf), "%s", P(f, 1, "st/saksid.conf"));
	snprintf(ledger, sizeof(ledger), "%s", P(f, 1, "st/ledger"));
	snprintf(sup, sizeof(sup), "%s", P(f, 1, "sup.key"));
	snprintf(prod, sizeof(prod), "%s", P(f, 1, "kiosk.key"));
	snprintf(receipt, sizeof(receipt), "%s", P(f, 1, "omb/receipt.tlog-proof"));
	snprintf(seen, sizeof(seen), "%s", P(f, 1, "omb/seen.note"));
	snprintf(later, sizeof(later), "%s", P(f, 1, "omb/later.note"));
	snprintf(kr, sizeof(kr), "%s", P(f, 1, "omb/keyring.json"));
	snprintf(copy, sizeof(copy), "%s", P(f, 1, "omb/ledger"));
	snprintf(stale, sizeof(stale), "%s", P(f, 1, "omb/stale"));
	snprintf(bundle, sizeof(bundle), "%s", P(f, 1, "omb/case.bundle"));
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only");
	run_free(&r);
	/* A keyring copy handed out before the supervisor's key was added. */
	text = slurp(P(f, 2, "st/keyring.json"), &len);
	spit(P(f, 11, "old-keyring.json"), text, len);
	free(text);
	key_enrol(SAKSI, f, P(f, 2, "st/keyring.json"), sup, P(f, 3, "sup.pub"), "spi-1",
	    "supervisor", "*");
	key_enrol(SAKSI, f, f->path[2], prod, P(f, 3, "kiosk.pub"), "kiosk-omb", "queue",
	    "KC-MAKASSAR");
	RUN(f, &r, 0, "keygen", "--kind", "box", "-o", P(f, 3, "court.key"),
	    "--no-passphrase");
	run_free(&r);
	assert_int_equal(mkdir(P(f, 4, "omb"), 0700), 0);

	state_listen(f, url, sizeof(url), sock, sizeof(sock));
	saksid_start(DR_SAKSID, f, "-d", conf, sock, P(f, 4, "saksid.log"), O_APPEND);
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--seed", SEED, "--start", start_day,
	    "--branches", "1", "--days", "1", "--batch", "256");
	run_free(&r);

	/* The reviewer's kit: the log's verifier key (given by the operator) and the
	 * keyring, a public file. */
	text = slurp(f->path[2], &len);
	spit(kr, text, len);
	free(text);

	/* 0. What the commands take, asked the usual way. */
	RUN(f, &r, 0, "verify", "--help");
	assert_non_null(strstr(r.out, "usage:\n  verify (--ledger DIR | --tiles DIR) "));
	assert_non_null(strstr(r.out, "\nExit status:\n"));
	assert_null(strstr(r.out, "verify-receipt"));
	run_free(&r);
	RUN(f, &r, 0, "verify-receipt", "-h");
	assert_non_null(strstr(r.out, "  verify-receipt (--vkey VKEY"));
	run_free(&r);

	/* 1. First visit: the latest checkpoint, checked, kept. */
	RUN(f, &r, 0, "checkpoint", "--url", url, "--vkey", vkey);
	assert_true(strncmp(r.out, ORIGIN "\n", strlen(ORIGIN) + 1) == 0);
	spit(seen, r.out, r.out_len);
	size_seen = strtoull(r.out + strlen(ORIGIN) + 1, NULL, 10);
	assert_true(size_seen > 1000);
	run_free(&r);
	/* The operator's copy of the ledger as of now, for later. */
	RUN(f, &r, 0, "backup", "--ledger", ledger, "-o", stale);
	run_free(&r);

	/* 2. A producer's event, and the receipt the producer keeps. */
	RUN(f, &r, 0, "submit", "--url", url, "-k", prod, "--box-pub", P(f, 3, "st/box.pub"),
	    "--vkey", vkey, "--type", "queue.booking.created", "--seq", "1", "--payload",
	    SAKSI_SOURCE_DIR "/schemas/examples/clear/queue.booking.created.json");
	assert_true(strncmp(r.out, "c2sp.org/tlog-proof@v1\n", 23) == 0);
	spit(receipt, r.out, r.out_len);
	entry = number_after(r.err, "accepted as entry ");
	run_free(&r);

	/* 3. The return visit: the log still extends what the reviewer saw. A forged
	 * checkpoint (one byte of the root changed) is refused. */
	RUN(f, &r, 0, "prove", "consistency", "--url", url, "--vkey", vkey, "--old-checkpoint",
	    seen);
	assert_non_null(strstr(r.out, "OK: the log's checkpoint of size "));
	assert_non_null(strstr(r.out, " extends your checkpoint of size "));
	run_free(&r);
	text = slurp(seen, &len);
	p = strchr(strchr(text, '\n') + 1, '\n') + 1;   /* the root line */
	p[3] = p[3] == 'A' ? 'B' : 'A';
	spit(P(f, 5, "omb/forged.note"), text, len);
	free(text);
	RUN(f, &r, 1, "prove", "consistency", "--url", url, "--vkey", vkey, "--old-checkpoint",
	    f->path[5]);
	assert_non_null(strstr(r.out, "FAIL: "));
	run_free(&r);
	RUN(f, &r, 0, "checkpoint", "--url", url, "--vkey", vkey);
	spit(later, r.out, r.out_len);
	run_free(&r);

	/* 4. The producer's entry, proved from the daemon and checked before it is shown. */
	snprintf(idx, sizeof(idx), "%llu", entry);
	snprintf(other, sizeof(other), "%llu", entry - 1);
	RUN(f, &r, 0, "get", "--url", url, "--vkey", vkey, idx);
	assert_non_null(strstr(r.out, "verified: in the log's signed checkpoint of size "));
	assert_non_null(strstr(r.out, "type: queue.booking.created"));
	assert_null(strstr(r.out, "7371054507880003"));   /* the NIK is a digest */
	run_free(&r);
	RUN(f, &r, 0, "prove", "inclusion", "--url", url, "--vkey", vkey, idx);
	assert_true(r.out_len > 44);
	run_free(&r);

	/* 5. A copy of the ledger, verified from public keys only, with its progress into a
	 * log file (lines, no carriage returns), against the checkpoint kept. */
	RUN(f, &r, 0, "backup", "--ledger", ledger, "-o", copy);
	run_free(&r);
	RUN(f, &r, 0, "verify", "--ledger", copy, "--vkey", vkey, "--keyring", kr,
	    "--checkpoint", seen, "--progress", "--threads", "2");
	assert_non_null(strstr(r.out, "ledger intact: "));
	assert_non_null(strstr(r.out, " is a prefix of this ledger: it extends what you saw\n"));
	assert_non_null(strstr(r.err, "saksi: verifying: 100%, "));
	assert_null(strchr(r.err, '\r'));
	run_free(&r);
	RUN(f, &r, 0, "verify", "--ledger", copy, "--vkey", vkey, "--keyring", kr, "--json");
	assert_non_null(o = json_loads(r.out, JSON_REJECT_DUPLICATES, NULL));
	assert_true(json_is_true(json_object_get(o, "ok")));
	assert_string_equal(json_string_value(json_object_get(o, "reason")), "ok");
	assert_true(json_integer_value(json_object_get(o, "size")) > (json_int_t)entry);
	json_decref(o);
	run_free(&r);
	/* The stale copy does not extend the later checkpoint: exit 1, with the reason. */
	RUN(f, &r, 1, "verify", "--ledger", stale, "--vkey", vkey, "--keyring", kr,
	    "--checkpoint", later);
	assert_non_null(strstr(r.err, "saksi: VERIFICATION FAILED: "));
	/* It says what an honest reason would be too, and what to do. */
	assert_non_null(strstr(r.err, "or a copy taken before your checkpoint: verify one "
	    "taken after it)"));
	run_free(&r);
	/* Not a ledger at all is no verdict: exit 2. */
	RUN(f, &r, 2, "verify", "--ledger", P(f, 6, "omb/nothing"), "--vkey", vkey,
	    "--keyring", kr);
	run_free(&r);

	/* 6. The receipt the producer hands over, with nothing but the receipt: the entry of
	 * its index from the reviewer's copy (saksi get --raw). Another entry is refused. */
	RUN(f, &r, 0, "get", "--ledger", copy, idx, "--raw");
	spit(P(f, 7, "omb/entry.bin"), r.out, r.out_len);
	run_free(&r);
	RUN(f, &r, 0, "get", "--ledger", copy, other, "--raw");
	spit(P(f, 8, "omb/other.bin"), r.out, r.out_len);
	run_free(&r);
	RUN(f, &r, 0, "verify-receipt", "--vkey", vkey, "--receipt", receipt, "--envelope",
	    f->path[7], "--keyring", kr);
	snprintf(sock, sizeof(sock), "receipt valid: entry %llu of " ORIGIN " at tree size ",
	    entry);
	assert_non_null(strstr(r.out, sock));
	run_free(&r);
	RUN(f, &r, 1, "verify-receipt", "--vkey", vkey, "--receipt", receipt, "--envelope",
	    f->path[8]);
	snprintf(sock, sizeof(sock), " is not entry %llu, the entry this receipt names: its "
	    "leaf hash differs\n", entry);
	assert_true(strncmp(r.err, "saksi: ", 7) == 0);
	assert_true(strncmp(r.err + 7, f->path[8], strlen(f->path[8])) == 0);
	assert_string_equal(r.err + 7 + strlen(f->path[8]), sock);
	assert_null(strstr(r.err, "size limit"));
	run_free(&r);
	RUN(f, &r, 2, "verify-receipt", "--vkey", vkey, "--receipt", P(f, 9, "omb/none"),
	    "--envelope", f->path[7]);
	run_free(&r);

	/* 7. An evidence bundle: a supervisor exports alert 1's case to a court; the
	 * reviewer checks it without opening anything, and a changed byte fails it. */
	RUN(f, &r, 0, "bundle", "--config", conf, "--case", "C-OMB-1", "--alert", "1",
	    "--recipient", P(f, 3, "court.pub"), "-k", sup, "-o", bundle);
	run_free(&r);
	RUN(f, &r, 0, "verify-bundle", bundle, "--vkey", vkey, "--keyring", kr);
	assert_non_null(strstr(r.out, "bundle intact: case C-OMB-1"));
	assert_non_null(strstr(r.out, "sealed and not opened"));
	run_free(&r);
	/* With a keyring copy older than the exporter's key: a failure that says why. */
	RUN(f, &r, 1, "verify-bundle", bundle, "--vkey", vkey, "--keyring", f->path[11]);
	assert_non_null(strstr(r.err, "is not in the keyring (a keyring copy older than the "
	    "key? ask the operator for the current keyring.json)"));
	run_free(&r);
	text = slurp(bundle, &len);
	p = strstr(text, "C-OMB-1");
	assert_non_null(p);
	p[6] = '2';
	spit(P(f, 10, "omb/changed.bundle"), text, len);
	free(text);
	RUN(f, &r, 1, "verify-bundle", f->path[10], "--vkey", vkey, "--keyring", kr);
	assert_non_null(strstr(r.err, "VERIFICATION FAILED"));
	run_free(&r);

	saksid_stop(f);
	(void)size_seen;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ombudsman_day, setup, scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
