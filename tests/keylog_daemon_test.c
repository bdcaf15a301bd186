/*
 * keylog_daemon_test.c: the keyring entry (FORMATS.md 4, kind 4) through the built
 * saksid: the first start records the keyring as entry 0, a restart with the same
 * keyring writes nothing, a restart with a changed one exactly one new entry before any
 * event; saksi verify then checks with the ledger's keyring and reports a keyring file
 * that differs from it, key by key; saksi keyring-history shows each change (a
 * revocation lifted among them) where it happened; saksi get prints a recorded keyring.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <jansson.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "keylog.h"
#include "ledger.h"
#include "wire.h"

static struct dr sd;
static uint64_t seq;

static void
submit_ok(uint64_t *index)
{
	struct fx_item fi;
	char text[4096];
	const char *p;

	fx_booking(&sd.fx, FX_QUEUE, ++seq, wall_ms(), &fi);
	assert_int_equal(dr_submit1(sd.url, &fi, text, sizeof(text)), SAKSI_R_ACCEPTED);
	fx_item_free(&fi);
	assert_non_null(p = strstr(text, "\nindex "));
	*index = strtoull(p + 7, NULL, 10);
}

/* The leaf's kind, and for a keyring entry its body (malloc'd) into body. */
static int
leaf_kind(uint64_t index, uint8_t **body, size_t *blen)
{
	saksi_ledger *l = NULL;
	saksi_ledger_txn *t;
	saksi_leaf lf;
	uint8_t *leaf;
	size_t len;
	int kind;

	l = lf_open_ro(sd.ledger_dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(t, index, &leaf, &len), SAKSI_OK);
	assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
	kind = lf.lf_kind;
	if (body != NULL) {
		assert_non_null(*body = malloc(lf.lf_body_len));
		memcpy(*body, lf.lf_body, lf.lf_body_len);
		*blen = lf.lf_body_len;
	}
	free(leaf);
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	return kind;
}

/* The keyring entry at index is the keyring file's, byte for byte as encoded. */
static void
assert_keyring_entry(uint64_t index, const char *keyring_path)
{
	uint8_t *body = NULL, *want = NULL;
	size_t blen, wlen;
	saksi_keyring *kr = NULL;

	assert_int_equal(leaf_kind(index, &body, &blen), SAKSI_LEAF_KEYRING);
	assert_int_equal(saksi_keylog_load(keyring_path, &kr, &want, &wlen, NULL, 0), SAKSI_OK);
	assert_int_equal(blen, wlen);
	assert_memory_equal(body, want, wlen);
	saksi_keyring_free(kr);
	free(want);
	free(body);
}

static void
test_keyring_entries(void **state)
{
	char kr[256], old_kr[256], wide_kr[256], out[256], err[256], hex[17], *text;
	saksi_seckey *extra;
	saksi_pubkey pub;
	uint64_t idx;
	size_t len;
	(void)state;

	snprintf(kr, sizeof(kr), "%s/keyring.json", sd.fx.dir);
	snprintf(old_kr, sizeof(old_kr), "%s/keyring-old.json", sd.fx.dir);
	snprintf(wide_kr, sizeof(wide_kr), "%s/keyring-wide.json", sd.fx.dir);
	snprintf(out, sizeof(out), "%s/out", sd.fx.dir);
	snprintf(err, sizeof(err), "%s/err", sd.fx.dir);
	fx_write(old_kr, sd.fx.keyring_json, strlen(sd.fx.keyring_json), 0644);

	/* First start: entry 0 is the keyring, the events follow. */
	dr_start(&sd);
	submit_ok(&idx);
	assert_int_equal(idx, 1);
	submit_ok(&idx);
	assert_int_equal(idx, 2);
	dr_stop(&sd, SIGTERM);
	assert_int_equal(dr_ledger_size(sd.ledger_dir), 3);
	assert_keyring_entry(0, kr);
	text = fx_read(sd.errlog, NULL);
	assert_non_null(strstr(text, "keyring.json: recorded at entry 0\n"));
	free(text);

	/* The same keyring again: nothing written. */
	dr_start(&sd);
	dr_stop(&sd, SIGTERM);
	assert_int_equal(dr_ledger_size(sd.ledger_dir), 3);

	/* A key added: exactly one new entry, before the next event. */
	extra = dr_new_key(&sd.fx, "extra", "extra.key", NULL);
	assert_int_equal(saksi_seckey_public(extra, &pub), SAKSI_OK);
	sodium_bin2hex(hex, sizeof(hex), pub.pk_id, SAKSI_KEYID_LEN);
	dr_keyring_add(&sd.fx, extra, "kiosk-extra", "queue", "KC-MAKASSAR", 0);
	saksi_seckey_free(extra);
	fx_write(kr, sd.fx.keyring_json, strlen(sd.fx.keyring_json), 0644);
	dr_start(&sd);
	submit_ok(&idx);
	assert_int_equal(idx, 4);
	dr_stop(&sd, SIGTERM);
	assert_int_equal(dr_ledger_size(sd.ledger_dir), 5);
	assert_keyring_entry(3, kr);
	assert_int_equal(leaf_kind(4, NULL, NULL), SAKSI_LEAF_EVENT);
	/* And once more the same: still five. */
	dr_start(&sd);
	dr_stop(&sd, SIGTERM);
	assert_int_equal(dr_ledger_size(sd.ledger_dir), 5);

	{
		/* Verified with the keyring the ledger records. */
		const char *const args[] = { "verify", "--ledger", sd.ledger_dir, "--vkey",
		    sd.fx.vkey, "--keyring", kr, NULL };
		assert_int_equal(dr_saksi(0, out, err, args), 0);
		text = fx_read(out, NULL);
		printf("# %s", text);
		assert_non_null(strstr(text, "ledger intact: 5 entries (events 3, refusal summaries 0, alerts 0, keyrings 2)"));
		assert_non_null(strstr(text, "keyring: 2 keyring entries, the latest at entry 3 "
		    "is the same as "));
		assert_null(strstr(text, "history starts"));
		free(text);
	}
	{
		/* The old file (the key added since is missing from it): caught, named. */
		const char *const args[] = { "verify", "--ledger", sd.ledger_dir, "--vkey",
		    sd.fx.vkey, "--keyring", old_kr, NULL };
		char want[256];

		assert_int_equal(dr_saksi(0, out, err, args), 1);
		text = fx_read(err, NULL);
		printf("# %s", text);
		assert_non_null(strstr(text, "differs from the keyring the ledger recorded at "
		    "entry 3"));
		snprintf(want, sizeof(want), "key %s (kiosk-extra, role queue, branch "
		    "KC-MAKASSAR): removed\n", hex);
		assert_non_null(strstr(text, want));
		assert_non_null(strstr(text, "saksi get 3 --ledger DIR --json"));
		free(text);
	}
	{
		/* A doctored file: the extra key's role widened. */
		char *doctored = strdup(sd.fx.keyring_json), *p, want[256];
		const char *const args[] = { "verify", "--ledger", sd.ledger_dir, "--vkey",
		    sd.fx.vkey, "--keyring", wide_kr, "--json", NULL };
		json_t *j, *d;

		assert_non_null(doctored);
		assert_non_null(p = strstr(doctored, "kiosk-extra"));
		assert_non_null(p = strstr(p, "\"role\": \"queue\""));
		memcpy(p, "\"role\": \"claim\"", 15);
		fx_write(wide_kr, doctored, strlen(doctored), 0644);
		free(doctored);
		assert_int_equal(dr_saksi(0, out, err, args), 1);
		text = fx_read(out, &len);
		assert_non_null(j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL));
		free(text);
		assert_false(json_is_true(json_object_get(j, "ok")));
		assert_string_equal(json_string_value(json_object_get(j, "reason")), "keyring_file");
		d = json_object_get(json_object_get(j, "keyring"), "file_differs");
		assert_int_equal(json_array_size(d), 1);
		snprintf(want, sizeof(want), "key %s (kiosk-extra): role queue -> claim", hex);
		assert_string_equal(json_string_value(json_array_get(d, 0)), want);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "keyring"),
		    "last")), 3);
		json_decref(j);
	}
	{
		/* Revoked, then the revocation lifted: each restart one entry, and the
		 * history shows both where they happened. */
		const char *const args[] = { "keyring-history", "--ledger", sd.ledger_dir, NULL };
		const char *const jargs[] = { "keyring-history", "--ledger", sd.ledger_dir,
		    "--json", NULL };
		char *revoked = strdup(sd.fx.keyring_json), *p, want[256];
		json_t *j;

		assert_non_null(revoked);
		assert_non_null(p = strstr(revoked, "kiosk-extra"));
		assert_non_null(p = strstr(p, "\"revoked_ms\": null"));
		memcpy(p, "\"revoked_ms\": 1000", 18);
		memset(p + 18, ' ', 2);
		fx_write(kr, revoked, strlen(revoked), 0644);
		free(revoked);
		dr_start(&sd);
		dr_stop(&sd, SIGTERM);
		fx_write(kr, sd.fx.keyring_json, strlen(sd.fx.keyring_json), 0644);
		dr_start(&sd);
		dr_stop(&sd, SIGTERM);
		assert_int_equal(dr_ledger_size(sd.ledger_dir), 7);
		assert_int_equal(leaf_kind(5, NULL, NULL), SAKSI_LEAF_KEYRING);
		assert_keyring_entry(6, kr);

		assert_int_equal(dr_saksi(0, out, err, args), 0);
		text = fx_read(out, NULL);
		printf("# %s", text);
		assert_non_null(strstr(text, "entry 0 ("));
		assert_non_null(strstr(text, "): keyring recorded, "));
		snprintf(want, sizeof(want), "): 1 change\n  key %s (kiosk-extra, role queue, "
		    "branch KC-MAKASSAR): added\n", hex);
		assert_non_null(strstr(text, want));
		snprintf(want, sizeof(want), "  key %s (kiosk-extra): not revoked -> revoked at "
		    "1000\n", hex);
		assert_non_null(strstr(text, want));
		snprintf(want, sizeof(want), "  key %s (kiosk-extra): revoked at 1000 -> not "
		    "revoked (revocation removed)\n", hex);
		assert_non_null(strstr(text, want));
		free(text);
		assert_int_equal(dr_saksi(0, out, err, jargs), 0);
		text = fx_read(out, &len);
		assert_non_null(j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL));
		free(text);
		assert_int_equal(json_array_size(j), 4);
		assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 3), "index")),
		    6);
		assert_int_equal(json_array_size(json_object_get(json_array_get(j, 0), "changes")),
		    0);
		assert_int_equal(json_array_size(json_object_get(json_array_get(j, 3), "changes")),
		    1);
		json_decref(j);
	}
	{
		/* The ledger's keyring, extracted: usable as a keyring file. */
		const char *const args[] = { "get", "--ledger", sd.ledger_dir, "3", "--json",
		    NULL };
		json_t *j;
		char *s;
		saksi_keyring *k = NULL;

		assert_int_equal(dr_saksi(0, out, err, args), 0);
		text = fx_read(out, &len);
		assert_non_null(j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL));
		free(text);
		assert_string_equal(json_string_value(json_object_get(j, "kind")), "keyring");
		assert_non_null(s = json_dumps(json_object_get(j, "keyring"), JSON_COMPACT));
		assert_int_equal(saksi_keyring_parse(s, strlen(s), &k, NULL, 0), SAKSI_OK);
		assert_int_equal(saksi_keyring_count(k), saksi_keyring_count(sd.fx.kr) + 1);
		saksi_keyring_free(k);
		free(s);
		json_decref(j);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(test_keyring_entries,
		    dr_cmocka_setup_small, dr_cmocka_teardown, &sd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
