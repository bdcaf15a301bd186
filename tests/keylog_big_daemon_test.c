/*
 * keylog_big_daemon_test.c: a national keyring (1,500 keys and more) through the built
 * saksid: recorded as one set of keyring parts (FORMATS.md 4, kind 4, version 2) before
 * the first event, serving, verified by saksi verify, and a restart unchanged writes
 * nothing. Never generates a key it does not derive from the fixture's printed seed.
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

#define BIG_KEYS 1500

static struct dr sd;

static void
test_keyring_large(void **state)
{
	char kr[256], out[256], err[256], reply[4096], want[128], *json, *text;
	saksi_keylog_parts p;
	struct fx_item fi;
	size_t nparts;
	uint64_t idx;
	const char *s;
	(void)state;

	snprintf(kr, sizeof(kr), "%s/keyring.json", sd.fx.dir);
	snprintf(out, sizeof(out), "%s/out", sd.fx.dir);
	snprintf(err, sizeof(err), "%s/err", sd.fx.dir);
	/* The fixture's keyring and BIG_KEYS more, kiosks of 300 branches. */
	json = dr_keyring_more(&sd.fx, BIG_KEYS, "big", "queue", NULL);
	fx_write(kr, json, strlen(json), 0644);
	assert_int_equal(saksi_keylog_split(json, strlen(json), &p, NULL, 0), SAKSI_OK);
	nparts = p.kp_n;
	printf("# %d keys more: %zu bytes, %zu parts\n", BIG_KEYS, strlen(json), nparts);
	assert_true(nparts >= 4);

	/* Starts, records the set as entries 0..n-1, and serves. */
	dr_start(&sd);
	fx_booking(&sd.fx, FX_QUEUE, 1, wall_ms(), &fi);
	assert_int_equal(dr_submit1(sd.url, &fi, reply, sizeof(reply)), SAKSI_R_ACCEPTED);
	fx_item_free(&fi);
	assert_non_null(s = strstr(reply, "\nindex "));
	idx = strtoull(s + 7, NULL, 10);
	assert_int_equal(idx, nparts);
	dr_stop(&sd, SIGTERM);
	assert_int_equal(dr_ledger_size(sd.ledger_dir), nparts + 1);
	text = fx_read(sd.errlog, NULL);
	snprintf(want, sizeof(want), "keyring.json: recorded at entries 0-%zu\n", nparts - 1);
	assert_non_null(strstr(text, want));
	free(text);
	{
		/* Each entry is the part split gives, byte for byte. */
		saksi_ledger *l = NULL;
		saksi_ledger_txn *t;
		saksi_leaf lf;
		uint8_t *leaf;
		size_t len, i;

		l = lf_open_ro(sd.ledger_dir);
		assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
		for (i = 0; i < nparts; i++) {
			assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &len), SAKSI_OK);
			assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
			assert_int_equal(lf.lf_kind, SAKSI_LEAF_KEYRING);
			assert_int_equal(lf.lf_body_len, p.kp_len[i]);
			assert_memory_equal(lf.lf_body, p.kp_body[i], p.kp_len[i]);
			free(leaf);
		}
		saksi_ledger_abort(t);
		saksi_ledger_close(l);
	}
	saksi_keylog_parts_free(&p);

	/* Restarted unchanged: nothing written. */
	dr_start(&sd);
	dr_stop(&sd, SIGTERM);
	assert_int_equal(dr_ledger_size(sd.ledger_dir), nparts + 1);
	{
		const char *const args[] = { "verify", "--ledger", sd.ledger_dir, "--vkey",
		    sd.fx.vkey, "--keyring", kr, NULL };
		assert_int_equal(dr_saksi(0, out, err, args), 0);
		text = fx_read(out, NULL);
		printf("# %s", text);
		assert_non_null(strstr(text, "ledger intact: "));
		assert_non_null(strstr(text, "keyrings 1)"));
		free(text);
	}
	{
		const char *const args[] = { "keyring-history", "--ledger", sd.ledger_dir, NULL };
		assert_int_equal(dr_saksi(0, out, err, args), 0);
		text = fx_read(out, NULL);
		printf("# %s", text);
		snprintf(want, sizeof(want), "keys in %zu entries\n", nparts);
		assert_non_null(strstr(text, "entry 0 ("));
		assert_non_null(strstr(text, want));
		free(text);
	}
	{
		/* One part: its keys, and which part it is. */
		const char *const args[] = { "get", "--ledger", sd.ledger_dir, "1", "--json",
		    NULL };
		json_t *j;
		size_t len;

		assert_int_equal(dr_saksi(0, out, err, args), 0);
		text = fx_read(out, &len);
		assert_non_null(j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL));
		free(text);
		assert_string_equal(json_string_value(json_object_get(j, "kind")), "keyring");
		assert_int_equal(json_integer_value(json_object_get(j, "keyring_part")), 2);
		assert_int_equal(json_integer_value(json_object_get(j, "keyring_parts")),
		    nparts);
		assert_true(json_array_size(json_object_get(json_object_get(j, "keyring"),
		    "keys")) > 100);
		json_decref(j);
	}
	free(json);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(test_keyring_large,
		    dr_cmocka_setup_small, dr_cmocka_teardown, &sd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
