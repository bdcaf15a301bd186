/*
 * cli_test.c: runs the built saksi binary as a real process on real files and checks
 * its output and exit codes (0 ok, 1 verification/policy failure, 2 usage/system error).
 * Ledgers are built with the library; tampering is done with LMDB directly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>

#include "bytes.h"
#include "envelope.h"
#include "keys.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"
#include "testutil.h"
#include "ledger_fixture.h"

#define ORIGIN "cli-test.saksi.example/log"
/* A valid event for schemas/events/staff.login.json. */
#define SUBMIT_TYPE "staff.login"
#define SUBMIT_PAYLOAD "{\"branch\":\"KC-TEST\",\"officer_id\":\"off-1\"," \
	"\"role\":\"frontliner\",\"method\":\"sso\",\"result\":\"success\"," \
	"\"terminal_id\":\"counter-1\",\"ip\":\"10.1.2.3\"}"

static int
setup(void **state)
{
	return scratch_setup(state, "cli");
}

/* ---- help and usage ---- */

static void
test_help_and_usage(void **state)
{
	struct scratch *f = *state;
	struct run r;

	RUN(f, &r, 0, "--help");
	assert_non_null(strstr(r.out, "Exit status"));
	assert_non_null(strstr(r.out, "1  verification or policy failure"));
	assert_non_null(strstr(r.out, "2  usage or system error"));
	assert_non_null(strstr(r.out, "prove consistency --url URL LOGKEY --old-checkpoint"));
	run_free(&r);
	RUN(f, &r, 0, "--version");
	assert_memory_equal(r.out, "saksi ", 6);
	run_free(&r);
	run_expect(SAKSI, f->dir, &r, 2, NULL, (char *)NULL);
	run_free(&r);
	RUN(f, &r, 2, "frobnicate");
	assert_non_null(strstr(r.err, "unknown command"));
	run_free(&r);
	RUN(f, &r, 2, "keygen", "--kind", "rsa", "-o", P(f, 0, "x.key"), "--no-passphrase");
	assert_non_null(strstr(r.err, "--kind must be sign, box or sym"));
	run_free(&r);
	RUN(f, &r, 2, "keygen", "--kind", "sign");
	run_free(&r);
	RUN(f, &r, 2, "keygen", "--bogus");
	run_free(&r);
	RUN(f, &r, 2, "get", "--ledger", f->dir, "notanumber");
	run_free(&r);
	RUN(f, &r, 2, "prove", "consistency", "--ledger", f->dir, "5", "3");
	run_free(&r);
	RUN(f, &r, 2, "get", "--ledger", f->dir, "--url", "ipc:///x", "1");
	assert_non_null(strstr(r.err, "exactly one of --ledger and --url"));
	run_free(&r);
	RUN(f, &r, 2, "get", "1");
	run_free(&r);
	RUN(f, &r, 2, "get", "--ledger", f->dir, "1", "--vkey", "x+00000000+AA");
	assert_non_null(strstr(r.err, "saksi verify"));
	run_free(&r);
	RUN(f, &r, 2, "prove", "inclusion", "--ledger", f->dir, "1", "--timeout", "100");
	run_free(&r);
	RUN(f, &r, 2, "prove", "inclusion", "--url", "ipc:///x", "1", "--vkey", "garbage");
	run_free(&r);
	RUN(f, &r, 2, "prove", "consistency", "--url", "ipc:///x", "0", "3");
	run_free(&r);
	RUN(f, &r, 2, "prove", "sideways");
	run_free(&r);
	RUN(f, &r, 2, "keyring");
	run_free(&r);
	RUN(f, &r, 2, "verify", "--ledger", f->dir);
	run_free(&r);
	RUN(f, &r, 2, "checkpoint");
	run_free(&r);
}

/* ---- keys ---- */

static void
test_keygen(void **state)
{
	struct scratch *f = *state;
	const char *key = P(f, 0, "p.key"), *pub = P(f, 1, "p.pub");
	struct run r;
	struct stat st;
	saksi_seckey *sk = NULL;
	saksi_pubkey pk, pk2;
	char *before, *after;

	RUN(f, &r, 0, "keygen", "--kind", "sign", "-o", key, "--no-passphrase", "--comment",
	    "kiosk one");
	run_free(&r);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(pub, &st), 0);
	assert_int_equal(saksi_seckey_file_is_protected(key), 0);
	assert_int_equal(saksi_seckey_load(key, NULL, &sk), SAKSI_OK);
	assert_int_equal(saksi_seckey_kind(sk), SAKSI_KEY_SIGN);
	assert_int_equal(saksi_seckey_public(sk, &pk), SAKSI_OK);
	saksi_seckey_free(sk);
	assert_int_equal(saksi_pubkey_load(pub, &pk2), SAKSI_OK);
	assert_memory_equal(pk.pk_key, pk2.pk_key, 32);
	before = slurp(key, NULL);
	assert_memory_equal(before, "untrusted comment: kiosk one\n", 29);

	/* Never overwrites: neither the secret file nor, with --pub, a public one. */
	RUN(f, &r, 2, "keygen", "--kind", "sign", "-o", key, "--no-passphrase");
	assert_non_null(strstr(r.err, "refusing to overwrite"));
	run_free(&r);
	after = slurp(key, NULL);
	assert_string_equal(before, after);
	free(after);
	free(before);
	RUN(f, &r, 2, "keygen", "--kind", "sign", "-o", P(f, 2, "q.key"), "--pub", pub,
	    "--no-passphrase");
	run_free(&r);
	assert_int_not_equal(access(P(f, 2, "q.key"), F_OK), 0);

	/* No terminal, no passphrase option: refuse rather than write an open key. */
	RUN(f, &r, 2, "keygen", "--kind", "sign", "-o", P(f, 2, "r.key"));
	assert_non_null(strstr(r.err, "--passphrase-file"));
	run_free(&r);
	assert_int_not_equal(access(P(f, 2, "r.key"), F_OK), 0);

	/* box and sym. */
	RUN(f, &r, 0, "keygen", "--kind", "box", "-o", P(f, 2, "box.key"), "--no-passphrase");
	run_free(&r);
	assert_int_equal(saksi_pubkey_load(P(f, 3, "box.pub"), &pk2), SAKSI_OK);
	assert_int_equal(pk2.pk_kind, SAKSI_KEY_BOX);
	RUN(f, &r, 0, "keygen", "--kind", "sym", "-o", P(f, 2, "store.key"), "--no-passphrase");
	run_free(&r);
	assert_int_not_equal(access(P(f, 3, "store.pub"), F_OK), 0);
	assert_int_equal(stat(P(f, 2, "store.key"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	RUN(f, &r, 2, "keygen", "--kind", "sym", "-o", P(f, 2, "s2.key"), "--pub",
	    P(f, 3, "s2.pub"), "--no-passphrase");
	run_free(&r);
}

static void
test_keygen_passphrase(void **state)
{
	struct scratch *f = *state;
	const char *key = P(f, 0, "p.key"), *pass = P(f, 1, "pass"), *wrong = P(f, 2, "wrong");
	struct run r;
	saksi_seckey *sk = NULL;
	saksi_pubkey pk, pk2;
	char *text;

	spit(pass, "correct horse\n", 14);
	spit(wrong, "battery staple\n", 15);
	RUN(f, &r, 0, "keygen", "--kind", "sign", "-o", key, "--passphrase-file", pass);
	run_free(&r);
	assert_int_equal(saksi_seckey_file_is_protected(key), 1);
	/* The newline ending the file is not part of the passphrase. */
	assert_int_equal(saksi_seckey_load(key, "correct horse", &sk), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(sk, &pk), SAKSI_OK);
	saksi_seckey_free(sk);

	RUN(f, &r, 0, "pubkey", "-k", key, "--passphrase-file", pass);
	spit(P(f, 3, "out.pub"), r.out, r.out_len);
	run_free(&r);
	assert_int_equal(saksi_pubkey_load(P(f, 3, "out.pub"), &pk2), SAKSI_OK);
	assert_memory_equal(pk.pk_key, pk2.pk_key, 32);
	RUN(f, &r, 2, "pubkey", "-k", key, "--passphrase-file", wrong);
	assert_non_null(strstr(r.err, "wrong passphrase"));
	run_free(&r);
	/* A protected key and no terminal to ask on. */
	RUN(f, &r, 2, "pubkey", "-k", key);
	run_free(&r);
	/* pubkey -o writes the file once. */
	RUN(f, &r, 0, "pubkey", "-k", P(f, 4, "p.pub"), "-o", P(f, 5, "copy.pub"));
	run_free(&r);
	text = slurp(P(f, 5, "copy.pub"), NULL);
	assert_non_null(strstr(text, "untrusted comment: "));
	free(text);
	RUN(f, &r, 2, "pubkey", "-k", P(f, 4, "p.pub"), "-o", P(f, 5, "copy.pub"));
	run_free(&r);
	RUN(f, &r, 2, "pubkey", "-k", P(f, 6, "missing.key"));
	run_free(&r);
}

static void
test_vkey(void **state)
{
	struct scratch *f = *state;
	const char *key = P(f, 0, "log.key"), *pub = P(f, 1, "log.pub");
	struct run r;
	saksi_pubkey pk;
	char want[SAKSI_VKEY_MAX + 2];

	RUN(f, &r, 0, "keygen", "--kind", "sign", "-o", key, "--no-passphrase");
	run_free(&r);
	assert_int_equal(saksi_pubkey_load(pub, &pk), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format(ORIGIN, pk.pk_key, want, sizeof(want) - 1),
	    SAKSI_OK);
	strcat(want, "\n");
	RUN(f, &r, 0, "vkey", "--origin", ORIGIN, "-k", pub);
	assert_string_equal(r.out, want);
	run_free(&r);
	RUN(f, &r, 0, "vkey", "--origin", ORIGIN, "-k", key);
	assert_string_equal(r.out, want);
	run_free(&r);
	RUN(f, &r, 2, "vkey", "--origin", "has space", "-k", pub);
	run_free(&r);
	RUN(f, &r, 2, "vkey", "--origin", "a+b", "-k", pub);
	run_free(&r);
	RUN(f, &r, 0, "keygen", "--kind", "box", "-o", P(f, 2, "box.key"), "--no-passphrase");
	run_free(&r);
	RUN(f, &r, 2, "vkey", "--origin", ORIGIN, "-k", P(f, 3, "box.pub"));
	assert_non_null(strstr(r.err, "signing key"));
	run_free(&r);
	RUN(f, &r, 2, "vkey", "--origin", ORIGIN, "-k", P(f, 3, "nope.pub"));
	run_free(&r);
}

static void
test_keyring(void **state)
{
	struct scratch *f = *state;
	const char *kr = P(f, 0, "keyring.json");
	struct run r;
	saksi_keyring *k = NULL;
	saksi_pubkey a, b;
	const saksi_keyring_entry *e;
	char err[256];
	json_t *j;
	json_error_t jerr;

	RUN(f, &r, 0, "keygen", "--kind", "sign", "-o", P(f, 1, "a.key"), "--no-passphrase");
	run_free(&r);
	RUN(f, &r, 0, "keygen", "--kind", "sign", "-o", P(f, 1, "b.key"), "--no-passphrase");
	run_free(&r);
	assert_int_equal(saksi_pubkey_load(P(f, 2, "a.pub"), &a), SAKSI_OK);
	assert_int_equal(saksi_pubkey_load(P(f, 2, "b.pub"), &b), SAKSI_OK);

	/* Created on first add, with the default roles. */
	RUN(f, &r, 0, "keyring", "add", "-r", kr, "--name", "kiosk-1", "--pub",
	    P(f, 2, "a.pub"), "--role", "queue", "--branch", "KC-MAKASSAR");
	run_free(&r);
	RUN(f, &r, 0, "keyring", "add", "-r", kr, "--name", "portal", "--pub",
	    P(f, 2, "b.pub"), "--role", "claim", "--branch", "*");
	run_free(&r);
	assert_int_equal(saksi_keyring_load(kr, &k, err, sizeof(err)), SAKSI_OK);
	assert_int_equal(saksi_keyring_count(k), 2);
	assert_non_null(e = saksi_keyring_find(k, a.pk_id));
	assert_string_equal(e->ke_name, "kiosk-1");
	assert_string_equal(e->ke_role, "queue");
	assert_string_equal(e->ke_branch, "KC-MAKASSAR");
	assert_int_equal(e->ke_revoked_ms, -1);
	assert_true(saksi_keyring_role_allows(k, "staff", "staff.login"));
	saksi_keyring_free(k);

	/* Refusals leave the file as it was. */
	RUN(f, &r, 2, "keyring", "add", "-r", kr, "--name", "kiosk-1", "--pub",
	    P(f, 2, "b.pub"), "--role", "queue", "--branch", "KC-MAKASSAR");
	assert_non_null(strstr(r.err, "already has a key named"));
	run_free(&r);
	RUN(f, &r, 2, "keyring", "add", "-r", kr, "--name", "kiosk-9", "--pub",
	    P(f, 2, "a.pub"), "--role", "queue", "--branch", "KC-MAKASSAR");
	assert_non_null(strstr(r.err, "already in"));
	run_free(&r);
	RUN(f, &r, 2, "keyring", "add", "-r", kr, "--name", "x", "--pub", P(f, 2, "a.pub"),
	    "--role", "janitor", "--branch", "KC-MAKASSAR");
	assert_non_null(strstr(r.err, "not defined"));
	run_free(&r);
	RUN(f, &r, 2, "keyring", "add", "-r", kr, "--name", "x", "--pub",
	    P(f, 2, "missing.pub"), "--role", "queue", "--branch", "KC-MAKASSAR");
	run_free(&r);

	/* The ombudsman is a default role that may sign no event (FORMATS.md 3.4). */
	RUN(f, &r, 0, "keygen", "--kind", "sign", "-o", P(f, 1, "c.key"), "--no-passphrase");
	run_free(&r);
	{
		const char *old = P(f, 4, "old.json");
		FILE *o = fopen(old, "w");

		/* A keyring made before the role existed: refused, saying how to add it. */
		assert_non_null(o);
		fputs("{\"saksi_keyring\":1,\"roles\":{\"queue\":[\"queue.*\"]},"
		    "\"keys\":[]}\n", o);
		assert_int_equal(fclose(o), 0);
		RUN(f, &r, 2, "keyring", "add", "-r", old, "--name", "ombuds", "--pub",
		    P(f, 2, "c.pub"), "--role", "ombudsman", "--branch", "*");
		assert_non_null(strstr(r.err, "add \"ombudsman\": [] to its \"roles\""));
		run_free(&r);
	}
	RUN(f, &r, 0, "keyring", "add", "-r", kr, "--name", "ombuds", "--pub",
	    P(f, 2, "c.pub"), "--role", "ombudsman", "--branch", "*");
	run_free(&r);
	assert_int_equal(saksi_keyring_load(kr, &k, err, sizeof(err)), SAKSI_OK);
	assert_int_equal(saksi_keyring_count(k), 3);
	assert_false(saksi_keyring_role_allows(k, "ombudsman", "supervisor.access.logged"));
	assert_false(saksi_keyring_role_allows(k, "ombudsman", "queue.ticket.issued"));
	saksi_keyring_free(k);

	RUN(f, &r, 0, "keyring", "revoke", "-r", kr, "--name", "kiosk-1", "--at",
	    "1718000000123");
	run_free(&r);
	assert_int_equal(saksi_keyring_load(kr, &k, err, sizeof(err)), SAKSI_OK);
	assert_int_equal(saksi_keyring_find(k, a.pk_id)->ke_revoked_ms, 1718000000123LL);
	assert_int_equal(saksi_keyring_find(k, b.pk_id)->ke_revoked_ms, -1);
	saksi_keyring_free(k);
	RUN(f, &r, 2, "keyring", "revoke", "-r", kr, "--name", "kiosk-1");
	assert_non_null(strstr(r.err, "already revoked"));
	run_free(&r);
	RUN(f, &r, 2, "keyring", "revoke", "-r", kr, "--name", "nobody");
	run_free(&r);
	RUN(f, &r, 2, "keyring", "revoke", "-r", P(f, 3, "none.json"), "--name", "kiosk-1");
	run_free(&r);
	RUN(f, &r, 2, "keyring", "revoke", "-r", kr, "--name", "portal", "--at", "-5");
	run_free(&r);

	RUN(f, &r, 0, "keyring", "list", "-r", kr);
	assert_non_null(strstr(r.out, "kiosk-1"));
	assert_non_null(strstr(r.out, "1718000000123"));
	assert_non_null(strstr(r.out, "portal"));
	run_free(&r);
	RUN(f, &r, 0, "keyring", "list", "-r", kr, "--json");
	j = json_loads(r.out, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	assert_int_equal(json_array_size(j), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0),
	    "revoked_ms")), 1718000000123LL);
	assert_true(json_is_null(json_object_get(json_array_get(j, 1), "revoked_ms")));
	json_decref(j);
	run_free(&r);
	/* No temporary files left behind. */
	{
		DIR *d = opendir(f->dir);
		struct dirent *de;

		assert_non_null(d);
		while ((de = readdir(d)) != NULL)
			assert_null(strstr(de->d_name, ".tmp"));
		closedir(d);
	}
}

static void
test_init(void **state)
{
	struct scratch *f = *state;
	const char *st = P(f, 0, "state");
	struct run r;
	struct stat sb;
	saksi_seckey *k = NULL;
	saksi_pubkey pk;
	saksi_keyring *kr = NULL;
	char want[SAKSI_VKEY_MAX + 2], err[256], *conf, *vk;
	static const char *const secrets[] = { "state/log.key", "state/box.key",
		"state/store.key" };
	size_t i;

	RUN(f, &r, 0, "init", "--dir", st, "--origin", ORIGIN);
	for (i = 0; i < 3; i++) {
		const char *p = P(f, 2, secrets[i]);

		assert_int_equal(stat(p, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
		assert_int_equal(saksi_seckey_file_is_protected(p), 0);
	}
	P(f, 1, "state/log.key");
	assert_int_equal(saksi_seckey_load(f->path[1], NULL, &k), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(k, &pk), SAKSI_OK);
	saksi_seckey_free(k);
	assert_int_equal(saksi_note_vkey_format(ORIGIN, pk.pk_key, want, sizeof(want) - 1),
	    SAKSI_OK);
	strcat(want, "\n");
	assert_string_equal(r.out, want);
	run_free(&r);
	P(f, 1, "state/log.vkey");
	vk = slurp(f->path[1], NULL);
	assert_string_equal(vk, want);
	free(vk);
	P(f, 1, "state/box.pub");
	assert_int_equal(saksi_pubkey_load(f->path[1], &pk), SAKSI_OK);
	assert_int_equal(pk.pk_kind, SAKSI_KEY_BOX);
	P(f, 1, "state/keyring.json");
	assert_int_equal(saksi_keyring_load(f->path[1], &kr, err, sizeof(err)), SAKSI_OK);
	assert_int_equal(saksi_keyring_count(kr), 0);
	assert_true(saksi_keyring_role_allows(kr, "queue", "queue.booking.created"));
	saksi_keyring_free(kr);
	P(f, 1, "state/saksid.conf");
	conf = slurp(f->path[1], NULL);
	assert_non_null(strstr(conf, "origin = " ORIGIN "\n"));
	assert_non_null(strstr(conf, "listen = ipc:///"));
	assert_non_null(strstr(conf, "log_key = log.key\n"));
	free(conf);

	/* A second init into the same directory changes nothing. */
	RUN(f, &r, 2, "init", "--dir", st, "--origin", ORIGIN);
	assert_non_null(strstr(r.err, "refusing to overwrite"));
	run_free(&r);
	RUN(f, &r, 2, "init", "--dir", P(f, 2, "other"), "--origin", "bad origin");
	run_free(&r);
	assert_int_not_equal(access(P(f, 2, "other"), F_OK), 0);

	/* A schemas directory without event schemas (the parent of events/): refused,
	 * saying which directory to give, and nothing written. */
	RUN(f, &r, 2, "init", "--dir", P(f, 2, "other"), "--origin", ORIGIN, "--schemas",
	    SAKSI_SOURCE_SCHEMA_DIR "/..");
	assert_non_null(strstr(r.err, "holds no event schemas"));
	assert_non_null(strstr(r.err, "/events)"));
	run_free(&r);
	assert_int_not_equal(access(P(f, 2, "other"), F_OK), 0);
	/* One whose schema is broken: refused with the loader's reason. */
	assert_int_equal(mkdir(P(f, 3, "bad-schemas"), 0700), 0);
	{
		FILE *o = fopen(P(f, 4, "bad-schemas/x.y.json"), "w");

		assert_non_null(o);
		fputs("{\"not\": \"a schema\"\n", o);
		assert_int_equal(fclose(o), 0);
	}
	RUN(f, &r, 2, "init", "--dir", P(f, 2, "other"), "--origin", ORIGIN, "--schemas",
	    P(f, 3, "bad-schemas"));
	assert_non_null(strstr(r.err, "schemas directory"));
	run_free(&r);
	assert_int_not_equal(access(P(f, 2, "other"), F_OK), 0);
}

/* ---- a ledger built with the library ---- */

struct ledger_fx {
	char dir[256];
	char vkey[SAKSI_VKEY_MAX + 1];
	uint64_t n;
	uint8_t env3[1024]; /* the envelope of entry 3, for verify-receipt */
	size_t env3_len;
};

/* Keys made by the CLI; 24 entries by two producers in groups of 4, one checkpoint per
 * group, a refusal summary at entry 10. */
static void
make_ledger(struct scratch *f, struct ledger_fx *L)
{
	struct run r;
	saksi_seckey *logk = NULL, *prod[2] = { NULL, NULL };
	saksi_ledger_opts o;
	saksi_ledger *l = NULL;
	saksi_ledger_txn *txn = NULL;
	uint64_t i, seq[2] = { 0, 0 };
	char *vk;

	RUN(f, &r, 0, "keygen", "--kind", "sign", "-o", P(f, 10, "log.key"), "--no-passphrase");
	run_free(&r);
	RUN(f, &r, 0, "keygen", "--kind", "sign", "-o", P(f, 10, "p0.key"), "--no-passphrase");
	run_free(&r);
	RUN(f, &r, 0, "keygen", "--kind", "sign", "-o", P(f, 10, "p1.key"), "--no-passphrase");
	run_free(&r);
	RUN(f, &r, 0, "keyring", "add", "-r", P(f, 10, "keyring.json"), "--name", "kiosk",
	    "--pub", P(f, 11, "p0.pub"), "--role", "queue", "--branch", "KC-TEST");
	run_free(&r);
	RUN(f, &r, 0, "keyring", "add", "-r", P(f, 10, "keyring.json"), "--name", "counter",
	    "--pub", P(f, 11, "p1.pub"), "--role", "queue", "--branch", "KC-TEST");
	run_free(&r);
	RUN(f, &r, 0, "vkey", "--origin", ORIGIN, "-k", P(f, 10, "log.pub"));
	vk = r.out;
	r.out = NULL;
	run_free(&r);
	vk[strcspn(vk, "\n")] = '\0';
	snprintf(L->vkey, sizeof(L->vkey), "%s", vk);
	spit(P(f, 10, "log.vkey"), vk, strlen(vk));
	free(vk);

	assert_int_equal(saksi_seckey_load(P(f, 10, "log.key"), NULL, &logk), SAKSI_OK);
	assert_int_equal(saksi_seckey_load(P(f, 10, "p0.key"), NULL, &prod[0]), SAKSI_OK);
	assert_int_equal(saksi_seckey_load(P(f, 10, "p1.key"), NULL, &prod[1]), SAKSI_OK);
	snprintf(L->dir, sizeof(L->dir), "%s/ledger", f->dir);
	assert_int_equal(mkdir(L->dir, 0700), 0);
	memset(&o, 0, sizeof(o));
	o.lo_map_size = 64u << 20;
	assert_int_equal(saksi_ledger_open(L->dir, ORIGIN, L->vkey, &o, &l), SAKSI_OK);
	L->n = 24;
	for (i = 0; i < L->n; i += 4) {
		uint64_t j, cms = 1718000000000ull + i * 100;
		saksi_checkpoint c;
		char body[512], note[1024];
		size_t bl, nl;

		assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
		for (j = i; j < i + 4; j++) {
			uint8_t env[1024];
			char payload[128];
			size_t el;
			int pl;

			if (j == 10) {
				uint8_t body10[31];

				saksi_put_u16(body10, 1);
				memcpy(body10 + 2, saksi_seckey_id(prod[0]), 8);
				body10[10] = 11;
				saksi_put_u32(body10 + 11, 2);
				saksi_put_u64(body10 + 15, cms - 10);
				saksi_put_u64(body10 + 23, cms - 2);
				assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_REFUSALS, cms,
				    body10, sizeof(body10), NULL, NULL), SAKSI_OK);
				continue;
			}
			pl = snprintf(payload, sizeof(payload),
			    "{\"branch\":\"KC-TEST\",\"entry\":%" PRIu64 "}", j);
			assert_int_equal(saksi_envelope_sign(prod[j % 2], ++seq[j % 2],
			    1718000000000ull + j, "queue.booking.created", (uint8_t *)payload,
			    (size_t)pl, env, sizeof(env), &el), SAKSI_OK);
			if (j == 3) {
				memcpy(L->env3, env, el);
				L->env3_len = el;
			}
			assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_EVENT, cms, env, el,
			    NULL, NULL), SAKSI_OK);
		}
		memset(&c, 0, sizeof(c));
		snprintf(c.ck_origin, sizeof(c.ck_origin), "%s", ORIGIN);
		c.ck_size = i + 4;
		assert_int_equal(saksi_ledger_root(txn, c.ck_size, c.ck_root), SAKSI_OK);
		assert_int_equal(saksi_checkpoint_format(&c, body, sizeof(body), &bl), SAKSI_OK);
		assert_int_equal(saksi_note_sign(body, bl, ORIGIN, saksi_seckey_ed25519(logk),
		    note, sizeof(note), &nl), SAKSI_OK);
		assert_int_equal(saksi_ledger_ckpt_put(txn, c.ck_size, note, nl), SAKSI_OK);
		assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	}
	saksi_ledger_close(l);
	saksi_seckey_free(logk);
	saksi_seckey_free(prod[0]);
	saksi_seckey_free(prod[1]);
}

/* Library-side reads of the built ledger, to compare the CLI with. */
static void
lib_read(struct ledger_fx *L, uint64_t index, uint8_t **leaf, size_t *len, uint64_t root_size,
         saksi_hash root, char **note, size_t *note_len)
{
	saksi_ledger *l = NULL;
	saksi_ledger_txn *txn = NULL;

	l = lf_open_ro(L->dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	if (leaf != NULL)
		assert_int_equal(saksi_ledger_leaf(txn, index, leaf, len), SAKSI_OK);
	if (root != NULL)
		assert_int_equal(saksi_ledger_root(txn, root_size, root), SAKSI_OK);
	if (note != NULL)
		assert_int_equal(saksi_ledger_ckpt_get(txn, root_size, note, note_len), SAKSI_OK);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
}

static void
test_get(void **state)
{
	struct scratch *f = *state;
	struct ledger_fx L;
	struct run r;
	uint8_t *leaf;
	size_t len;
	json_t *j, *env;
	json_error_t jerr;

	make_ledger(f, &L);
	RUN(f, &r, 0, "get", "--ledger", L.dir, "5");
	assert_non_null(strstr(r.out, "index: 5\n"));
	assert_non_null(strstr(r.out, "kind: event\n"));
	assert_non_null(strstr(r.out, "type: queue.booking.created\n"));
	assert_non_null(strstr(r.out, "seq: 3\n"));
	assert_non_null(strstr(r.out, "\"entry\": 5"));
	run_free(&r);

	RUN(f, &r, 0, "get", "--ledger", L.dir, "5", "--raw");
	lib_read(&L, 5, &leaf, &len, 0, NULL, NULL, NULL);
	assert_int_equal(r.out_len, len);
	assert_memory_equal(r.out, leaf, len);
	free(leaf);
	run_free(&r);

	RUN(f, &r, 0, "get", "--ledger", L.dir, "7", "--json");
	j = json_loads(r.out, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "index")), 7);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "event");
	assert_int_equal(json_integer_value(json_object_get(j, "commit_time_ms")),
	    1718000000400LL);
	env = json_object_get(j, "envelope");
	assert_int_equal(json_integer_value(json_object_get(env, "seq")), 4);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(env, "payload"),
	    "entry")), 7);
	json_decref(j);
	run_free(&r);

	RUN(f, &r, 0, "get", "--ledger", L.dir, "10", "--json");
	j = json_loads(r.out, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "refusals");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "refusals"), 0), "reason")), "replay");
	json_decref(j);
	run_free(&r);

	RUN(f, &r, 2, "get", "--ledger", L.dir, "24");
	assert_non_null(strstr(r.err, "does not exist"));
	run_free(&r);
	RUN(f, &r, 2, "get", "--ledger", P(f, 0, "nowhere"), "1");
	run_free(&r);
	RUN(f, &r, 2, "get", "--ledger", L.dir, "1", "--raw", "--json");
	run_free(&r);
}

static size_t
parse_hashes(const char *text, saksi_hash *out, size_t max)
{
	size_t n = 0;
	const char *p = text;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t bin_len;

		assert_non_null(nl);
		assert_true(n < max);
		assert_int_equal(sodium_base642bin(out[n], SAKSI_HASH_LEN, p, (size_t)(nl - p),
		    NULL, &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
		assert_int_equal(bin_len, SAKSI_HASH_LEN);
		n++;
		p = nl + 1;
	}
	return n;
}

static void
test_prove(void **state)
{
	struct scratch *f = *state;
	struct ledger_fx L;
	struct run r;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], root, root2, lh;
	saksi_note_verifier v;
	saksi_tlog_proof *tp;
	saksi_checkpoint c;
	uint8_t *leaf;
	size_t len, n;

	make_ledger(f, &L);
	assert_int_equal(saksi_note_vkey_parse(L.vkey, &v), SAKSI_OK);
	lib_read(&L, 5, &leaf, &len, 13, root, NULL, NULL);
	saksi_merkle_leaf_hash(lh, leaf, len);
	free(leaf);

	RUN(f, &r, 0, "prove", "inclusion", "--ledger", L.dir, "5", "--size", "13");
	n = parse_hashes(r.out, proof, SAKSI_MERKLE_MAX_PROOF);
	assert_true(n > 0);
	assert_int_equal(saksi_merkle_verify_inclusion(5, 13, lh, (const saksi_hash *)proof, n,
	    root), SAKSI_OK);
	run_free(&r);

	/* Default size: the latest checkpoint; --tlog-proof is a receipt for that tree. */
	RUN(f, &r, 0, "prove", "inclusion", "--ledger", L.dir, "5", "--tlog-proof");
	tp = malloc(sizeof(*tp));
	assert_non_null(tp);
	assert_int_equal(saksi_tlog_proof_parse(r.out, r.out_len, tp), SAKSI_OK);
	assert_int_equal(tp->tp_index, 5);
	assert_int_equal(saksi_tlog_proof_verify(tp, &v, lh, &c), SAKSI_OK);
	assert_int_equal(c.ck_size, 24);
	run_free(&r);
	RUN(f, &r, 0, "prove", "inclusion", "--ledger", L.dir, "3", "--size", "8",
	    "--tlog-proof");
	spit(P(f, 0, "receipt3"), r.out, r.out_len);
	run_free(&r);
	RUN(f, &r, 2, "prove", "inclusion", "--ledger", L.dir, "3", "--size", "9",
	    "--tlog-proof");
	assert_non_null(strstr(r.err, "no signed checkpoint of size 9"));
	run_free(&r);
	RUN(f, &r, 2, "prove", "inclusion", "--ledger", L.dir, "13", "--size", "13");
	run_free(&r);
	RUN(f, &r, 2, "prove", "inclusion", "--ledger", L.dir, "3", "--size", "99");
	run_free(&r);

	/* verify-receipt on the receipt for entry 3, with the producer's own envelope. */
	spit(P(f, 1, "env3"), L.env3, L.env3_len);
	RUN(f, &r, 0, "verify-receipt", "--vkey", L.vkey, "--receipt", P(f, 0, "receipt3"),
	    "--envelope", P(f, 1, "env3"), "--keyring", P(f, 2, "keyring.json"));
	assert_non_null(strstr(r.out, "entry 3"));
	run_free(&r);
	L.env3[L.env3_len - 70] ^= 1; /* inside the payload: another envelope */
	spit(P(f, 1, "env3"), L.env3, L.env3_len);
	RUN(f, &r, 1, "verify-receipt", "--vkey", L.vkey, "--receipt", P(f, 0, "receipt3"),
	    "--envelope", P(f, 1, "env3"));
	assert_non_null(strstr(r.err, "is not entry 3, the entry this receipt names: its "
	    "leaf hash differs\n"));
	run_free(&r);
	RUN(f, &r, 2, "verify-receipt", "--vkey", L.vkey, "--receipt", P(f, 0, "missing"),
	    "--envelope", P(f, 1, "env3"));
	run_free(&r);

	/* Consistency, one base64 hash a line. */
	lib_read(&L, 0, NULL, NULL, 24, root2, NULL, NULL);
	RUN(f, &r, 0, "prove", "consistency", "--ledger", L.dir, "13", "24");
	n = parse_hashes(r.out, proof, SAKSI_MERKLE_MAX_PROOF);
	assert_int_equal(saksi_merkle_verify_consistency(13, 24, root, root2,
	    (const saksi_hash *)proof, n), SAKSI_OK);
	run_free(&r);
	RUN(f, &r, 0, "prove", "consistency", "--ledger", L.dir, "24", "24");
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	RUN(f, &r, 2, "prove", "consistency", "--ledger", L.dir, "0", "24");
	run_free(&r);
	RUN(f, &r, 2, "prove", "consistency", "--ledger", L.dir, "3", "25");
	run_free(&r);
	free(tp);
}

static void
test_checkpoint(void **state)
{
	struct scratch *f = *state;
	struct ledger_fx L;
	struct run r;
	char *note, other[SAKSI_VKEY_MAX + 1];
	size_t nl;
	saksi_seckey *k = NULL;
	saksi_pubkey pk;

	make_ledger(f, &L);
	lib_read(&L, 0, NULL, NULL, 24, NULL, &note, &nl);
	RUN(f, &r, 0, "checkpoint", "--ledger", L.dir);
	assert_int_equal(r.out_len, nl);
	assert_memory_equal(r.out, note, nl);
	run_free(&r);
	RUN(f, &r, 0, "checkpoint", "--ledger", L.dir, "--vkey-file", P(f, 0, "log.vkey"));
	run_free(&r);
	/* Checked against another log's key: a verification failure. */
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &k), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(k, &pk), SAKSI_OK);
	saksi_seckey_free(k);
	assert_int_equal(saksi_note_vkey_format(ORIGIN, pk.pk_key, other, sizeof(other)),
	    SAKSI_OK);
	RUN(f, &r, 1, "checkpoint", "--ledger", L.dir, "--vkey", other);
	run_free(&r);
	RUN(f, &r, 2, "checkpoint", "--ledger", L.dir, "--vkey", "not-a-vkey");
	run_free(&r);
	RUN(f, &r, 2, "checkpoint", "--ledger", L.dir, "--url", "ipc:///nonexistent");
	run_free(&r);
	RUN(f, &r, 2, "checkpoint", "--url", "ipc:///nonexistent/saksi.sock", "--timeout",
	    "200");
	run_free(&r);
	/* Nobody answers: a system error (2), never a verdict. */
	RUN(f, &r, 2, "get", "--url", "ipc:///nonexistent/saksi.sock", "--timeout", "200", "0");
	assert_non_null(strstr(r.err, "did not answer"));
	run_free(&r);
	RUN(f, &r, 2, "prove", "inclusion", "--url", "ipc:///nonexistent/saksi.sock",
	    "--timeout", "200", "0", "--vkey", L.vkey);
	run_free(&r);
	RUN(f, &r, 2, "prove", "consistency", "--url", "ipc:///nonexistent/saksi.sock",
	    "--timeout", "200", "1", "2");
	run_free(&r);
	spit(P(f, 1, "seen.ckpt"), note, nl);
	RUN(f, &r, 2, "prove", "consistency", "--url", "ipc:///nonexistent/saksi.sock",
	    "--timeout", "200", "--old-checkpoint", P(f, 1, "seen.ckpt"), "--vkey", L.vkey);
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	free(note);
}

/* Stores a raw `leaf` record (FORMATS.md 7: codec || dict_id || raw_len || data). */
static void
raw_put_record(const char *dir, uint64_t index, const uint8_t *v, size_t vlen)
{
	struct raw raw;
	uint8_t k[8];
	MDB_val key = { 8, k }, val = { vlen, (void *)v };

	saksi_put_u64(k, index);
	raw_open(dir, &raw);
	assert_int_equal(mdb_put(raw.txn, raw_db(&raw, "leaf"), &key, &val, 0), 0);
	raw_close(&raw);
}

/* Stores leaf bytes at index as a raw (codec 0) record. */
static void
raw_put_leaf(const char *dir, uint64_t index, const uint8_t *leaf, size_t len)
{
	uint8_t *v = malloc(9 + len);

	assert_non_null(v);
	v[0] = 0;
	saksi_put_u32(v + 1, 0);
	saksi_put_u32(v + 5, (uint32_t)len);
	memcpy(v + 9, leaf, len);
	raw_put_record(dir, index, v, 9 + len);
	free(v);
}

static void
test_verify(void **state)
{
	struct scratch *f = *state;
	struct ledger_fx L;
	struct run r;
	json_t *j;
	json_error_t jerr;
	uint8_t *leaf;
	size_t len;
	const char *kr;

	make_ledger(f, &L);
	kr = P(f, 0, "keyring.json");
	RUN(f, &r, 0, "verify", "--ledger", L.dir, "--vkey", L.vkey, "--keyring", kr);
	assert_non_null(strstr(r.out, "ledger intact: 24 entries"));
	assert_null(strstr(r.err, "verifying [")); /* stderr is a file: no bar */
	run_free(&r);
	RUN(f, &r, 0, "verify", "--ledger", L.dir, "--vkey-file", P(f, 1, "log.vkey"),
	    "--keyring", kr, "--progress", "--json");
	assert_non_null(strstr(r.err, "100%"));
	j = json_loads(r.out, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(json_integer_value(json_object_get(j, "size")), 24);
	assert_int_equal(json_integer_value(json_object_get(j, "refusals")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "checkpoints")), 6);
	assert_true(json_is_null(json_object_get(j, "index")));
	json_decref(j);
	run_free(&r);

	/* The reviewer's own checkpoint, kept from earlier. */
	RUN(f, &r, 0, "checkpoint", "--ledger", L.dir);
	spit(P(f, 2, "seen.ckpt"), r.out, r.out_len);
	run_free(&r);
	RUN(f, &r, 0, "verify", "--ledger", L.dir, "--vkey", L.vkey, "--keyring", kr,
	    "--checkpoint", P(f, 2, "seen.ckpt"));
	assert_non_null(strstr(r.out, "your checkpoint of size 24"));
	run_free(&r);
	RUN(f, &r, 0, "verify", "--ledger", L.dir, "--vkey", L.vkey, "--keyring", kr,
	    "--checkpoint", P(f, 2, "seen.ckpt"), "--json");
	j = json_loads(r.out, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(json_object_get(j, "reviewer_checkpoint"),
	    "matched")));
	json_decref(j);
	run_free(&r);
	spit(P(f, 3, "junk.ckpt"), "junk\n", 5);
	RUN(f, &r, 1, "verify", "--ledger", L.dir, "--vkey", L.vkey, "--keyring", kr,
	    "--checkpoint", P(f, 3, "junk.ckpt"));
	run_free(&r);

	/* Usage and system errors. */
	RUN(f, &r, 2, "verify", "--ledger", P(f, 4, "nowhere"), "--vkey", L.vkey, "--keyring",
	    kr);
	run_free(&r);
	RUN(f, &r, 2, "verify", "--ledger", L.dir, "--vkey", L.vkey, "--keyring",
	    P(f, 4, "none.json"));
	run_free(&r);
	RUN(f, &r, 2, "verify", "--ledger", L.dir, "--vkey", "garbage", "--keyring", kr);
	run_free(&r);
	RUN(f, &r, 2, "verify", "--ledger", L.dir, "--vkey", L.vkey, "--keyring", kr,
	    "--checkpoint", P(f, 4, "none.ckpt"));
	run_free(&r);

	/* Tampered: entry 9's payload changed in place. */
	lib_read(&L, 9, &leaf, &len, 0, NULL, NULL, NULL);
	leaf[len - 64 - 2] ^= 0x01;
	raw_put_leaf(L.dir, 9, leaf, len);
	free(leaf);
	RUN(f, &r, 1, "verify", "--ledger", L.dir, "--vkey", L.vkey, "--keyring", kr);
	assert_non_null(strstr(r.err, "VERIFICATION FAILED: entry 9: producer signature"));
	run_free(&r);
	RUN(f, &r, 1, "verify", "--ledger", L.dir, "--vkey", L.vkey, "--keyring", kr,
	    "--json");
	j = json_loads(r.out, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_int_equal(json_integer_value(json_object_get(j, "index")), 9);
	assert_string_equal(json_string_value(json_object_get(j, "reason")), "signature");
	json_decref(j);
	run_free(&r);

	/* A record that does not decode: get says so with exit 1, verify names it. */
	{
		static const uint8_t bad[] = { 7, 0, 0, 0, 0, 0, 0, 0, 50, 1, 2, 3 };

		raw_put_record(L.dir, 4, bad, sizeof(bad));
	}
	RUN(f, &r, 1, "get", "--ledger", L.dir, "4");
	assert_non_null(strstr(r.err, "entry 4 is stored damaged"));
	run_free(&r);
	RUN(f, &r, 1, "verify", "--ledger", L.dir, "--vkey", L.vkey, "--keyring", kr);
	assert_non_null(strstr(r.err, "VERIFICATION FAILED: entry 4: stored bytes cannot be "
	    "decoded"));
	run_free(&r);
}

static void
test_submit_unreachable(void **state)
{
	struct scratch *f = *state;
	struct run r;
	const char *payload = P(f, 5, "payload.json");
	char vkey[SAKSI_VKEY_MAX + 1], url[128];
	saksi_pubkey pk;

	state_init(SAKSI, f, ORIGIN, vkey, sizeof(vkey));
	RUN(f, &r, 0, "keygen", "--kind", "sign", "-o", P(f, 1, "p.key"), "--no-passphrase");
	run_free(&r);
	assert_int_equal(saksi_pubkey_load(P(f, 2, "st/box.pub"), &pk), SAKSI_OK);
	spit(payload, SUBMIT_PAYLOAD, strlen(SUBMIT_PAYLOAD));
	snprintf(url, sizeof(url), "ipc://%s/nobody-listens.sock", f->dir);
	/* No daemon: a system error (2), after the short timeout. */
	RUN(f, &r, 2, "submit", "--url", url, "-k", P(f, 1, "p.key"), "--box-pub",
	    P(f, 2, "st/box.pub"), "--vkey", vkey, "--type", SUBMIT_TYPE, "--seq", "1",
	    "--payload", payload, "--timeout", "200");
	run_free(&r);
	RUN(f, &r, 2, "submit", "--url", url, "-k", P(f, 1, "p.key"), "--box-pub",
	    P(f, 2, "st/box.pub"), "--vkey", vkey, "--type", "queue.x", "--seq", "0",
	    "--payload", payload);
	assert_non_null(strstr(r.err, "--seq starts at 1"));
	run_free(&r);
	RUN(f, &r, 2, "submit", "--url", url, "-k", P(f, 1, "p.key"), "--box-pub",
	    P(f, 1, "p.pub"), "--vkey", vkey, "--type", "queue.x", "--seq", "1",
	    "--payload", payload);
	assert_non_null(strstr(r.err, "box key"));
	run_free(&r);
}

/* Writes a checkpoint of (size, root) for ORIGIN signed with key: forged or forked. */
static void
sign_ckpt(const saksi_seckey *key, uint64_t size, const saksi_hash root, const char *path)
{
	saksi_checkpoint c;
	char body[512], note[1024];
	size_t bl, nl;

	memset(&c, 0, sizeof(c));
	snprintf(c.ck_origin, sizeof(c.ck_origin), "%s", ORIGIN);
	c.ck_size = size;
	memcpy(c.ck_root, root, SAKSI_HASH_LEN);
	assert_int_equal(saksi_checkpoint_format(&c, body, sizeof(body), &bl), SAKSI_OK);
	assert_int_equal(saksi_note_sign(body, bl, ORIGIN, saksi_seckey_ed25519(key), note,
	    sizeof(note), &nl), SAKSI_OK);
	spit(path, note, nl);
}

/*
 * Reading a live saksid with nothing but its URL and the log's verifier key: entries,
 * inclusion and consistency proofs, each checked before it is printed, and the check of
 * a checkpoint kept from an earlier visit. The log holds 3 entries (0 event, 1 refusal
 * summary, 2 event) with checkpoints of sizes 0..3; kept1 is the one of size 1, empty
 * the one of size 0.
 */
static void
remote_reads(struct scratch *f, const char *url, const char *vkey, const char *kept1,
    const char *empty, const char *receipt0)
{
	struct run r;
	saksi_seckey *logk = NULL, *other = NULL;
	saksi_pubkey opk;
	saksi_note_verifier v;
	saksi_checkpoint c1;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], fork;
	char ovkey[SAKSI_VKEY_MAX + 1], *text;
	size_t len, n;
	json_t *j;
	json_error_t jerr;

	assert_int_equal(saksi_note_vkey_parse(vkey, &v), SAKSI_OK);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &other), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(other, &opk), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format(ORIGIN, opk.pk_key, ovkey, sizeof(ovkey)),
	    SAKSI_OK);

	/* get: the entry, and with the key, checked against the latest signed tree. Entry 0
	 * is the keyring entry saksid wrote at start (FORMATS.md 4, kind 4). */
	RUN(f, &r, 0, "get", "--url", url, "0", "--json");
	assert_non_null(strstr(r.out, "\"kind\": \"keyring\""));
	assert_non_null(strstr(r.out, "\"saksi_keyring\": 1"));
	run_free(&r);
	RUN(f, &r, 0, "get", "--url", url, "1");
	assert_non_null(strstr(r.out, "index: 1\n"));
	assert_non_null(strstr(r.out, "type: " SUBMIT_TYPE "\n"));
	assert_null(strstr(r.out, "verified"));
	run_free(&r);
	RUN(f, &r, 0, "get", "--url", url, "1", "--vkey", vkey);
	assert_non_null(strstr(r.out, "verified: in the log's signed checkpoint of size 4\n"));
	run_free(&r);
	RUN(f, &r, 0, "get", "--url", url, "2", "--json", "--vkey", vkey);
	j = json_loads(r.out, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "refusals");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "refusals"), 0), "reason")), "clock_skew");
	assert_int_equal(json_integer_value(json_object_get(j, "verified_in_checkpoint")), 4);
	json_decref(j);
	run_free(&r);
	RUN(f, &r, 0, "get", "--url", url, "3", "--raw", "--vkey-file", P(f, 0, "st/log.vkey"));
	spit(P(f, 0, "leaf2.url"), r.out, r.out_len);
	run_free(&r);
	RUN(f, &r, 1, "get", "--url", url, "3", "--vkey", ovkey);
	assert_non_null(strstr(r.err, "not signed by"));
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	RUN(f, &r, 2, "get", "--url", url, "4");
	assert_non_null(strstr(r.err, "index 4 is not below size 4"));
	run_free(&r);

	/* Inclusion: the receipt for entry 1 again, byte for byte, from its checkpoint. */
	RUN(f, &r, 0, "prove", "inclusion", "--url", url, "1", "--size", "2", "--tlog-proof",
	    "--vkey", vkey);
	text = slurp(receipt0, &len);
	assert_int_equal(r.out_len, len);
	assert_memory_equal(r.out, text, len);
	free(text);
	run_free(&r);
	RUN(f, &r, 0, "prove", "inclusion", "--url", url, "3", "--tlog-proof", "--vkey", vkey);
	assert_memory_equal(r.out, "c2sp.org/tlog-proof@v1\n", 23);
	spit(P(f, 0, "receipt2"), r.out, r.out_len);
	run_free(&r);
	RUN(f, &r, 0, "prove", "inclusion", "--url", url, "2", "--vkey", vkey);
	n = parse_hashes(r.out, proof, SAKSI_MERKLE_MAX_PROOF);
	assert_int_equal(n, 2); /* index 2 of 4 */
	run_free(&r);
	RUN(f, &r, 1, "prove", "inclusion", "--url", url, "2", "--vkey", ovkey);
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	RUN(f, &r, 2, "prove", "inclusion", "--url", url, "1", "--size", "9");
	assert_non_null(strstr(r.err, "no signed checkpoint of size 9"));
	run_free(&r);
	RUN(f, &r, 2, "prove", "inclusion", "--url", url, "3", "--size", "3");
	run_free(&r);

	/* Consistency between sizes: with the key, both signed trees are fetched to check it. */
	RUN(f, &r, 0, "prove", "consistency", "--url", url, "2", "4");
	n = parse_hashes(r.out, proof, SAKSI_MERKLE_MAX_PROOF);
	text = slurp(kept1, &len);
	assert_int_equal(saksi_checkpoint_open(text, len, &v, &c1), SAKSI_OK);
	free(text);
	assert_int_equal(c1.ck_size, 2);
	run_free(&r);
	RUN(f, &r, 0, "prove", "consistency", "--url", url, "2", "4", "--vkey", vkey);
	assert_int_equal(parse_hashes(r.out, proof, SAKSI_MERKLE_MAX_PROOF), n);
	run_free(&r);
	RUN(f, &r, 1, "prove", "consistency", "--url", url, "2", "4", "--vkey", ovkey);
	run_free(&r);
	RUN(f, &r, 2, "prove", "consistency", "--url", url, "2", "9");
	assert_non_null(strstr(r.err, "sizes 2 and 9"));
	run_free(&r);

	/* The checkpoint kept before more events came: the log still extends it. */
	RUN(f, &r, 0, "prove", "consistency", "--url", url, "--old-checkpoint", kept1,
	    "--vkey", vkey);
	assert_string_equal(r.out, "OK: the log's checkpoint of size 4 extends your "
	    "checkpoint of size 2\n");
	run_free(&r);
	RUN(f, &r, 0, "prove", "consistency", "--url", url, "--old-checkpoint", empty,
	    "--vkey-file", P(f, 0, "st/log.vkey"));
	assert_memory_equal(r.out, "OK: ", 4);
	run_free(&r);
	/* Signed by another key: forged, and so is every answer with that key. */
	sign_ckpt(other, 2, c1.ck_root, P(f, 0, "forged.ckpt"));
	RUN(f, &r, 1, "prove", "consistency", "--url", url, "--old-checkpoint",
	    P(f, 0, "forged.ckpt"), "--vkey", vkey);
	assert_non_null(strstr(r.out, "FAIL: your checkpoint"));
	assert_non_null(strstr(r.out, "is not signed by " ORIGIN));
	run_free(&r);
	RUN(f, &r, 1, "prove", "consistency", "--url", url, "--old-checkpoint",
	    P(f, 0, "forged.ckpt"), "--vkey", ovkey);
	assert_non_null(strstr(r.out, "FAIL: the log's latest checkpoint"));
	run_free(&r);
	/* Signed by the log key itself, but a history the log does not extend (a fork),
	 * or larger than the log is now (a rollback): what a consistency check is for. */
	assert_int_equal(saksi_seckey_load(P(f, 0, "st/log.key"), NULL, &logk), SAKSI_OK);
	memcpy(fork, c1.ck_root, SAKSI_HASH_LEN);
	fork[0] ^= 1;
	sign_ckpt(logk, 2, fork, P(f, 0, "fork.ckpt"));
	RUN(f, &r, 1, "prove", "consistency", "--url", url, "--old-checkpoint",
	    P(f, 0, "fork.ckpt"), "--vkey", vkey);
	assert_non_null(strstr(r.out, "FAIL: the log's checkpoint of size 4 does not extend "
	    "your checkpoint of size 2"));
	run_free(&r);
	sign_ckpt(logk, 1, fork, P(f, 0, "fork1.ckpt"));
	RUN(f, &r, 1, "prove", "consistency", "--url", url, "--old-checkpoint",
	    P(f, 0, "fork1.ckpt"), "--vkey", vkey);
	run_free(&r);
	sign_ckpt(logk, 7, fork, P(f, 0, "ahead.ckpt"));
	RUN(f, &r, 1, "prove", "consistency", "--url", url, "--old-checkpoint",
	    P(f, 0, "ahead.ckpt"), "--vkey", vkey);
	assert_non_null(strstr(r.out, "rolled back"));
	run_free(&r);
	sign_ckpt(logk, 0, fork, P(f, 0, "empty-fork.ckpt"));
	RUN(f, &r, 1, "prove", "consistency", "--url", url, "--old-checkpoint",
	    P(f, 0, "empty-fork.ckpt"), "--vkey", vkey);
	run_free(&r);
	spit(P(f, 0, "junk.ckpt"), "junk\n", 5);
	RUN(f, &r, 1, "prove", "consistency", "--url", url, "--old-checkpoint",
	    P(f, 0, "junk.ckpt"), "--vkey", vkey);
	run_free(&r);
	/* Usage: a key is needed, and no sizes; a ledger copy is verify's job. */
	RUN(f, &r, 2, "prove", "consistency", "--url", url, "--old-checkpoint", kept1);
	run_free(&r);
	RUN(f, &r, 2, "prove", "consistency", "--url", url, "--old-checkpoint", kept1,
	    "--vkey", vkey, "1", "3");
	run_free(&r);
	RUN(f, &r, 2, "prove", "consistency", "--ledger", P(f, 0, "st/ledger"),
	    "--old-checkpoint", kept1, "--vkey", vkey);
	run_free(&r);
	RUN(f, &r, 2, "prove", "consistency", "--url", url, "--old-checkpoint",
	    P(f, 0, "missing.ckpt"), "--vkey", vkey);
	run_free(&r);
	saksi_seckey_free(logk);
	saksi_seckey_free(other);
}

/*
 * The start of the tests with a saksid: state_counter with the staff.login payload (vkey
 * of SAKSI_VKEY_MAX + 1 bytes, url and sock of 256), and saksid running on it without
 * -d, as systemd runs it.
 */
static void
counter_start(struct scratch *f, char *vkey, char *url, char *sock)
{
	need_built(SAKSI, SAKSID);
	state_counter(SAKSI, f, ORIGIN, SUBMIT_PAYLOAD, vkey, SAKSI_VKEY_MAX + 1, url, 256,
	    sock, 256);
	saksid_start(SAKSID, f, NULL, f->path[4], sock, P(f, 5, "saksid.log"), O_TRUNC);
}

/*
 * The whole path through a real saksid, when the daemon is built: init, keyring, submit
 * (accepted, refused), checkpoint from the daemon, then verify the ledger it wrote.
 */
static void
test_daemon_end_to_end(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char vkey[SAKSI_VKEY_MAX + 1], url[256], sock[256], *conf;
	size_t i_len;

	counter_start(f, vkey, url, sock);

	/* A reviewer keeps the checkpoints they see: the keyring entry's (saksid writes it
	 * at start, FORMATS.md 4 kind 4), then size 2. */
	RUN(f, &r, 0, "checkpoint", "--url", url, "--vkey", vkey);
	assert_non_null(strstr(r.out, ORIGIN "\n1\n"));
	spit(P(f, 11, "empty.ckpt"), r.out, r.out_len);
	run_free(&r);
	RUN(f, &r, 0, "submit", "--url", url, "-k", P(f, 1, "p.key"), "--box-pub",
	    P(f, 6, "st/box.pub"), "--vkey", vkey, "--type", SUBMIT_TYPE, "--seq", "1",
	    "--payload", P(f, 3, "ev.json"));
	assert_memory_equal(r.out, "c2sp.org/tlog-proof@v1\n", 23);
	spit(P(f, 7, "receipt"), r.out, r.out_len);
	run_free(&r);
	RUN(f, &r, 0, "checkpoint", "--url", url, "--vkey", vkey);
	assert_non_null(strstr(r.out, ORIGIN "\n2\n"));
	spit(P(f, 10, "kept1.ckpt"), r.out, r.out_len);
	run_free(&r);
	/* A refusal is exit 1 with the daemon's reason. */
	RUN(f, &r, 1, "submit", "--url", url, "-k", P(f, 1, "p.key"), "--box-pub",
	    P(f, 6, "st/box.pub"), "--vkey", vkey, "--type", SUBMIT_TYPE, "--seq", "2",
	    "--time", "1000", "--payload", P(f, 3, "ev.json"));
	assert_non_null(strstr(r.err, "refused (clock_skew)"));
	run_free(&r);
	RUN_IN(f, &r, 0, P(f, 3, "ev.json"), "submit", "--url", url, "-k", P(f, 1, "p.key"),
	    "--box-pub", P(f, 6, "st/box.pub"), "--vkey", vkey, "--type", SUBMIT_TYPE,
	    "--seq", "3", "--json");
	assert_non_null(strstr(r.out, "\"status\": \"accepted\""));
	run_free(&r);
	RUN(f, &r, 0, "checkpoint", "--url", url, "--vkey", vkey);
	run_free(&r);
	remote_reads(f, url, vkey, f->path[10], f->path[11], f->path[7]);
	saksid_stop(f);

	RUN(f, &r, 0, "verify", "--ledger", P(f, 8, "st/ledger"), "--vkey", vkey, "--keyring",
	    P(f, 2, "st/keyring.json"));
	assert_non_null(strstr(r.out, "ledger intact"));
	run_free(&r);
	/* The first receipt is for entry 1: check it against the stored envelope. */
	RUN(f, &r, 0, "get", "--ledger", P(f, 8, "st/ledger"), "1", "--raw");
	assert_true(r.out_len > 42);
	spit(P(f, 9, "env0"), r.out + 42, r.out_len - 42);
	run_free(&r);
	RUN(f, &r, 0, "verify-receipt", "--vkey", vkey, "--receipt", P(f, 7, "receipt"),
	    "--envelope", P(f, 9, "env0"), "--keyring", P(f, 2, "st/keyring.json"));
	run_free(&r);
	/* What the daemon served is what it stored; its receipt for entry 3 checks out. */
	RUN(f, &r, 0, "get", "--ledger", P(f, 8, "st/ledger"), "3", "--raw");
	conf = slurp(P(f, 9, "leaf2.url"), &i_len);
	assert_int_equal(r.out_len, i_len);
	assert_memory_equal(r.out, conf, i_len);
	free(conf);
	spit(P(f, 9, "env2"), r.out + 42, r.out_len - 42);
	run_free(&r);
	RUN(f, &r, 0, "verify-receipt", "--vkey", vkey, "--receipt", P(f, 7, "receipt2"),
	    "--envelope", P(f, 9, "env2"), "--keyring", P(f, 2, "st/keyring.json"));
	assert_non_null(strstr(r.out, "entry 3"));
	run_free(&r);
}

/* One `saksi backup` run: the copy's entry count, which must equal its latest
 * checkpoint's size, since saksid signs each group in the commit that appends it. */
static uint64_t
backup_once(struct scratch *f, const char *ledger, const char *out)
{
	struct run r;
	uint64_t n, ck;
	char want[300];
	const char *p;

	RUN(f, &r, 0, "backup", "--ledger", ledger, "-o", out);
	snprintf(want, sizeof(want), "backup: %s\n", out);
	assert_non_null(strstr(r.out, want));
	assert_non_null(p = strstr(r.out, "entries: "));
	n = strtoull(p + 9, NULL, 10);
	assert_non_null(p = strstr(r.out, "latest checkpoint: size "));
	ck = strtoull(p + 24, NULL, 10);
	assert_int_equal(ck, n);
	run_free(&r);
	return n;
}

/*
 * saksi backup of the ledger of a running saksid while a producer keeps submitting
 * events: every copy is one committed state that saksi verify accepts.
 */
static void
test_daemon_backup(void **state)
{
	static const char loop[] =
	    "i=1; while [ $i -le 30 ]; do \"$0\" submit --url \"$1\" -k \"$2\" --box-pub \"$3\" "
	    "--vkey \"$4\" --type \"$5\" --seq $i --payload \"$6\" >/dev/null || exit 1; "
	    "i=$((i+1)); done";
	struct scratch *f = *state;
	struct run r;
	char vkey[SAKSI_VKEY_MAX + 1], url[256], sock[256], *conf;
	char copies[12][300];
	uint64_t sizes[12];
	pid_t sub, w;
	int n = 0, k, st, done = 0, mid = 0;

	counter_start(f, vkey, url, sock);
	P(f, 6, "st/box.pub");
	P(f, 11, "p.key");

	/* The producer, in the background: 30 events, each waiting for its receipt. */
	{
		char *sargv[] = { (char *)"/bin/sh", (char *)"-c", (char *)loop, (char *)SAKSI,
		    url, f->path[11], f->path[6], vkey, (char *)SUBMIT_TYPE,
		    f->path[3], NULL };
		posix_spawn_file_actions_t fa;

		assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
		assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, P(f, 7, "submit.err"),
		    O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
		assert_int_equal(posix_spawn(&sub, "/bin/sh", &fa, NULL, sargv, environ), 0);
		posix_spawn_file_actions_destroy(&fa);
	}
	/* Copies while it runs (at least three, whether or not it has finished by then). */
	do {
		if (!done) {
			w = waitpid(sub, &st, WNOHANG);
			assert_true(w == 0 || w == sub);
			done = w == sub;
		}
		snprintf(copies[n], sizeof(copies[n]), "%s/copy-%d", f->dir, n);
		sizes[n] = backup_once(f, P(f, 8, "st/ledger"), copies[n]);
		n++;
	} while (n < 10 && (!done || n < 3));
	if (!done)
		assert_int_equal(waitpid(sub, &st, 0), sub);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		conf = slurp(f->path[7], NULL);
		saksid_stop(f);
		fail_msg("the producer failed: %s", conf);
	}
	/* Taken with the daemon still running, after the last event: all of them. */
	snprintf(copies[n], sizeof(copies[n]), "%s/copy-%d", f->dir, n);
	sizes[n] = backup_once(f, f->path[8], copies[n]);
	assert_int_equal(sizes[n], 31);   /* the keyring entry and 30 events */
	n++;
	/* Never over an existing copy; usage errors. */
	RUN(f, &r, 2, "backup", "--ledger", f->path[8], "-o", copies[0]);
	assert_non_null(strstr(r.err, "not an empty directory"));
	run_free(&r);
	RUN(f, &r, 2, "backup", "--ledger", f->path[8]);
	run_free(&r);
	RUN(f, &r, 2, "backup", "--ledger", P(f, 9, "nope"), "-o", P(f, 10, "nope-copy"));
	run_free(&r);
	saksid_stop(f);

	for (k = 0; k < n; k++) {
		RUN(f, &r, 0, "verify", "--ledger", copies[k], "--vkey", vkey, "--keyring",
		    f->path[2]);
		assert_non_null(strstr(r.out, "ledger intact"));
		run_free(&r);
		if (k > 0)
			assert_true(sizes[k] >= sizes[k - 1]);
		mid += sizes[k] > 0 && sizes[k] < 30;
	}
	print_message("backup: %d copies, %d of them while events were committed\n", n, mid);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_help_and_usage, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_keygen, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_keygen_passphrase, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_vkey, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_keyring, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_init, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_get, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_prove, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_verify, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_submit_unreachable, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_end_to_end, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_backup, setup, scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
