/*
 * bundle_keyring_test.c: saksi_bundle_verify checks a bundle's events with the keyrings
 * the bundle proves (kind 4 entries before them), as saksi verify does with a ledger's:
 * a key revoked before the keyring entry, a role that may not sign the type, another
 * branch, a key missing from it, each refused though the keyring file given allows it;
 * and a bundle without a keyring entry is checked with the file alone, as before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>

#include "../tests/keyring_fixture.h"
#include "../tests/ledger_fixture.h"
#include "../tests/tmpdir.h"
#include "bundle.h"
#include "envelope.h"
#include "keylog.h"
#include "ledger.h"
#include "note.h"

#define ORIGIN "bundle-kr-test.saksi.example/log"
#define CASE "SPI-2026-0077"
#define T0 1760000000000ull

static uint64_t g_seed;
static saksi_seckey *g_log, *g_prod, *g_sup;
static saksi_note_verifier g_v;
static char g_vkey[SAKSI_VKEY_MAX + 1];

/* A keyring entry; revoked < 0: never revoked. */
static json_t *
kr_key(const saksi_seckey *k, const char *name, const char *role, const char *branch,
       int64_t revoked)
{
	json_t *e = kf_entry(k, name, role, branch);

	if (revoked >= 0)
		json_object_set_new(e, "revoked_ms", json_integer(revoked));
	return e;
}

/* A keyring of the kiosk (role, branch, revocation as given; role NULL: absent) and
 * the supervisor, as JSON text (malloc'd). */
static char *
kr_json(const char *role, const char *branch, int64_t revoked)
{
	json_t *root = json_pack("{s:i, s:{s:[s], s:[s], s:[s]}, s:[]}", "saksi_keyring", 1,
	    "roles", "queue", "queue.*", "claim", "claim.*", "supervisor", "supervisor.*",
	    "keys");
	char *text;

	if (role != NULL)
		json_array_append_new(json_object_get(root, "keys"), kr_key(g_prod, "kiosk-1",
		    role, branch, revoked));
	json_array_append_new(json_object_get(root, "keys"), kr_key(g_sup, "spi-1",
	    "supervisor", "*", -1));
	assert_non_null(text = json_dumps(root, 0));
	json_decref(root);
	return text;
}

/*
 * A ledger of [keyring entry (with_kr: the JSON given)], the kiosk's booking, the
 * access entry; the bundle of all of it, verified with the file keyring file_kr.
 * Returns the reason; r gets the report.
 */
static int
run_case_skip(const char *entry_kr, const char *file_kr, uint64_t skip,
              saksi_bundle_report *r)
{
	char dir[64], access[512], hex[17], cmd[128];
	char *disc = NULL, *note, *text;
	saksi_keylog_parts kp = { NULL, NULL, 0 };
	saksi_ledger *l;
	saksi_ledger_txn *t;
	saksi_bundle *b, *pb;
	saksi_bundle_verify_opts o;
	saksi_keyring *kr;
	saksi_pubkey bp;
	uint64_t size, acc;
	size_t nl, len;

	assert_int_equal(tmpdir_make(dir, sizeof(dir), "bundle_kr_test"), 0);
	assert_int_equal(saksi_ledger_open(dir, ORIGIN, g_vkey, NULL, &l), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 1, &t), SAKSI_OK);
	/* One entry, or a set of parts (consecutive, one commit time) if it is large. */
	if (entry_kr != NULL) {
		assert_int_equal(saksi_keylog_split(entry_kr, strlen(entry_kr), &kp, NULL, 0),
		    SAKSI_OK);
		for (size_t k = 0; k < kp.kp_n; k++)
			assert_int_equal(saksi_ledger_append(t, SAKSI_LEAF_KEYRING, T0, kp.kp_body[k],
			    kp.kp_len[k], NULL, NULL), SAKSI_OK);
	}
	lf_append_event(t, g_prod, 1, T0,
	    "queue.booking.created", "{\"branch\":\"KC-MAKASSAR\","
	    "\"booking_id\":\"BK-1\",\"nik\":\"7371014101900001\",\"phone\":\"+6281234500001\"}",
	    &disc);
	sodium_bin2hex(hex, sizeof(hex), saksi_seckey_id(g_sup), 8);
	snprintf(access, sizeof(access), "{\"branch\":\"KP-PUSAT\",\"key_id\":\"%s\","
	    "\"command\":\"bundle\",\"filter\":\"leaf=1\",\"personal_filter\":false,"
	    "\"results\":%zu,\"revealed\":true,\"case_ref\":\"%s\"}", hex,
	    kp.kp_n + 1 - (skip != UINT64_MAX), CASE);
	saksi_keylog_parts_free(&kp);
	lf_append_event(t, g_sup, 1, T0, "supervisor.access.logged", access, NULL);
	size = saksi_ledger_size(t);
	acc = size - 1;
	assert_non_null(note = malloc(SAKSI_NOTE_MAX + 1));
	lf_tree_ckpt(t, g_log, ORIGIN, size, note, SAKSI_NOTE_MAX + 1, &nl);

	memset(&bp, 0, sizeof(bp));
	assert_int_equal(saksi_bundle_new(SAKSI_BUNDLE_PLAIN, CASE, T0 + 9999, "leaf=1", ORIGIN,
	    note, nl, bp.pk_id, acc, &b), SAKSI_OK);
	for (uint64_t i = 0; i < size; i++) {
		saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
		saksi_bundle_entry *e;
		uint8_t *leaf;
		size_t ll, np;

		if (i == skip)
			continue;
		assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &ll), SAKSI_OK);
		assert_int_equal(saksi_ledger_prove_inclusion(t, i, size, proof, &np), SAKSI_OK);
		assert_int_equal(saksi_bundle_add(b, i, leaf, ll, proof, np, &e), SAKSI_OK);
		free(leaf);
		if (i == acc - 1)
			assert_int_equal(saksi_bundle_set_disclosures(b, e, (const uint8_t *)disc,
			    strlen(disc), NULL), SAKSI_OK);
	}
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	saksi_ledger_close(l);
	assert_int_equal(saksi_bundle_sign(b, g_sup), SAKSI_OK);
	/* Through the file form, as a verifier gets it. */
	assert_int_equal(saksi_bundle_format(b, &text, &len), SAKSI_OK);
	saksi_bundle_free(b);
	assert_int_equal(saksi_bundle_parse(text, len, &pb, NULL, 0), SAKSI_OK);
	free(text);
	assert_int_equal(saksi_keyring_parse(file_kr, strlen(file_kr), &kr, NULL, 0), SAKSI_OK);
	memset(&o, 0, sizeof(o));
	o.bo_log = &g_v;
	o.bo_keyring = kr;
	(void)saksi_bundle_verify(pb, &o, r);
	if (r->br_reason != SAKSI_BV_OK)
		print_message("%s: %s\n", saksi_bundle_reason_name(r->br_reason), r->br_message);
	saksi_bundle_free(pb);
	saksi_keyring_free(kr);
	free(note);
	free(disc);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return r->br_reason;
}

static int
run_case(const char *entry_kr, const char *file_kr, saksi_bundle_report *r)
{
	return run_case_skip(entry_kr, file_kr, UINT64_MAX, r);
}

/* kr_json's keyring with n more keys (their own branch), too large for one entry. */
static char *
kr_json_big(const char *role, const char *branch, int64_t revoked, size_t n)
{
	char *small = kr_json(role, branch, revoked), *text, label[32];
	json_t *root = json_loads(small, 0, NULL);

	assert_non_null(root);
	free(small);
	for (size_t i = 0; i < n; i++) {
		saksi_seckey *k;

		snprintf(label, sizeof(label), "big-%zu", i);
		k = kf_seed_key(g_seed, label, SAKSI_KEY_SIGN);
		json_array_append_new(json_object_get(root, "keys"), kr_key(k, label, "queue",
		    "KC-OTHER", -1));
		saksi_seckey_free(k);
	}
	assert_non_null(text = json_dumps(root, 0));
	json_decref(root);
	return text;
}

/* A keyring of several parts: proved whole, it decides; held in part, the file does. */
static void
test_proved_set(void **state)
{
	saksi_bundle_report r;
	char *file = kr_json("queue", "KC-MAKASSAR", -1);
	char *big = kr_json_big("queue", "KC-MAKASSAR", (int64_t)T0 - 1, 700);
	(void)state;

	/* Whole: the kiosk revoked in it is caught. */
	assert_int_equal(run_case(big, file, &r), SAKSI_BV_KEYRING);
	assert_non_null(strstr(r.br_message, "in the keyring recorded at entry 0, before"));
	/* The second part left out: the set is not proved, the file decides. */
	assert_int_equal(run_case_skip(big, file, 1, &r), SAKSI_BV_OK);
	assert_int_equal(r.br_keyrings, 0);
	assert_int_equal(r.br_kr_events, 0);
	free(big);
	big = kr_json_big("queue", "KC-MAKASSAR", -1, 700);
	assert_int_equal(run_case(big, file, &r), SAKSI_BV_OK);
	assert_int_equal(r.br_keyrings, 1);
	assert_int_equal(r.br_kr_events, 2);
	free(big);
	free(file);
}

static void
test_proved_keyring(void **state)
{
	saksi_bundle_report r;
	char *file = kr_json("queue", "KC-MAKASSAR", -1), *entry, want[256], hex[17];
	(void)state;

	sodium_bin2hex(hex, sizeof(hex), saksi_seckey_id(g_prod), 8);
	/* The same keyring in the bundle: intact, both events checked with it. */
	assert_int_equal(run_case(file, file, &r), SAKSI_BV_OK);
	assert_int_equal(r.br_keyrings, 1);
	assert_int_equal(r.br_kr_events, 2);
	assert_int_equal(r.br_keyring_last, 0);
	/* No keyring entry: the file alone, as before. */
	assert_int_equal(run_case(NULL, file, &r), SAKSI_BV_OK);
	assert_int_equal(r.br_keyrings, 0);
	assert_int_equal(r.br_kr_events, 0);
	assert_int_equal(r.br_keyring_last, SAKSI_BUNDLE_NO_ENTRY);

	/* Revoked before the keyring entry (the file says nothing of it). */
	entry = kr_json("queue", "KC-MAKASSAR", (int64_t)T0 - 1);
	assert_int_equal(run_case(entry, file, &r), SAKSI_BV_KEYRING);
	snprintf(want, sizeof(want), "entry 1: producer key %s (kiosk-1) was revoked at %llu "
	    "in the keyring recorded at entry 0, before that entry", hex,
	    (unsigned long long)T0 - 1);
	assert_string_equal(r.br_message, want);
	assert_int_equal(r.br_entry, 1);
	free(entry);
	/* Revoked after it: events already in the ledger stay good. */
	entry = kr_json("queue", "KC-MAKASSAR", (int64_t)T0 + 1);
	assert_int_equal(run_case(entry, file, &r), SAKSI_BV_OK);
	free(entry);
	/* A role that may not sign the type. */
	entry = kr_json("claim", "KC-MAKASSAR", -1);
	assert_int_equal(run_case(entry, file, &r), SAKSI_BV_KEYRING);
	assert_non_null(strstr(r.br_message, "has role claim, which may not sign "
	    "queue.booking.created, in the keyring recorded at entry 0"));
	free(entry);
	/* Another branch. */
	entry = kr_json("queue", "KC-JAKARTA", -1);
	assert_int_equal(run_case(entry, file, &r), SAKSI_BV_KEYRING);
	assert_non_null(strstr(r.br_message, "is for branch KC-JAKARTA in the keyring "
	    "recorded at entry 0"));
	free(entry);
	/* Not in it, though in the file. */
	entry = kr_json(NULL, NULL, -1);
	assert_int_equal(run_case(entry, file, &r), SAKSI_BV_UNKNOWN_KEY);
	snprintf(want, sizeof(want), "entry 1: producer key %s is not in the keyring recorded "
	    "at entry 0, in force then", hex);
	assert_string_equal(r.br_message, want);
	free(entry);
	/* In it, not in the file: the bundle's keyring decides. */
	entry = file;
	file = kr_json(NULL, NULL, -1);
	assert_int_equal(run_case(entry, file, &r), SAKSI_BV_OK);
	assert_string_equal(saksi_bundle_reason_name(SAKSI_BV_KEYRING), "keyring");
	free(entry);
	free(file);
}

static int
setup(void **state)
{
	saksi_pubkey pub;
	(void)state;

	assert_true(sodium_init() >= 0);
	g_seed = getenv("SAKSI_TEST_SEED") ? strtoull(getenv("SAKSI_TEST_SEED"), NULL, 10) :
	    (uint64_t)time(NULL);
	print_message("bundle_keyring_test seed %llu (SAKSI_TEST_SEED to repeat)\n",
	    (unsigned long long)g_seed);
	g_log = kf_seed_key(g_seed, "log", SAKSI_KEY_SIGN);
	g_prod = kf_seed_key(g_seed, "kiosk", SAKSI_KEY_SIGN);
	g_sup = kf_seed_key(g_seed, "supervisor", SAKSI_KEY_SIGN);
	assert_int_equal(saksi_seckey_public(g_log, &pub), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format(ORIGIN, pub.pk_key, g_vkey, sizeof(g_vkey)),
	    SAKSI_OK);
	assert_int_equal(saksi_note_vkey_parse(g_vkey, &g_v), SAKSI_OK);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	saksi_seckey_free(g_log);
	saksi_seckey_free(g_prod);
	saksi_seckey_free(g_sup);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proved_keyring),
		cmocka_unit_test(test_proved_set),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
