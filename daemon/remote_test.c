/*
 * remote_test.c: saksid_remote_recheck, the check a personal look's answer gets when a
 * keyring reload came between its answer and its access entry: the rows go only to a
 * key the keyring in force still allows them, each refusal with its own code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "../tests/daemon_fixture.h"
#include "../tests/keyring_fixture.h"
#include "remote.h"
#include "wire.h"

#define SEED 20261125ULL
#define NOW 1800000000000ULL

static saksi_seckey *sup, *other;
static char hex[17];

static int
setup(void **state)
{
	(void)state;
	printf("# seed %llu\n", (unsigned long long)SEED);
	sup = fx_key(SEED, "supervisor", SAKSI_KEY_SIGN);
	other = fx_key(SEED, "other", SAKSI_KEY_SIGN);
	sodium_bin2hex(hex, sizeof(hex), saksi_seckey_id(sup), SAKSI_KEYID_LEN);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	saksi_seckey_free(sup);
	saksi_seckey_free(other);
	return 0;
}

/* A keyring with `other` and, if role is not NULL, sup with that role, branch and
 * revocation (-1: none). */
static saksi_keyring *
keyring(const char *role, const char *branch, int64_t revoked_ms)
{
	json_t *root = json_object(), *roles = json_object(), *keys = json_array(), *e;
	const saksi_seckey *k[2] = { other, sup };
	saksi_keyring *kr = NULL;
	char *text, err[256];

	json_object_set_new(root, "saksi_keyring", json_integer(1));
	json_object_set_new(roles, "supervisor", json_pack("[s]", "supervisor.*"));
	json_object_set_new(roles, "security", json_pack("[s]", "security.*"));
	json_object_set_new(roles, "ombudsman", json_pack("[s]", "ombudsman.*"));
	json_object_set_new(roles, "queue", json_pack("[s]", "queue.*"));
	json_object_set_new(root, "roles", roles);
	for (int i = 0; i < (role != NULL ? 2 : 1); i++) {
		e = kf_entry(k[i], i == 0 ? "other" : "sup", i == 0 ? "queue" : role,
		    i == 0 ? "*" : branch);
		if (i == 1 && revoked_ms >= 0)
			json_object_set_new(e, "revoked_ms", json_integer(revoked_ms));
		json_array_append_new(keys, e);
	}
	json_object_set_new(root, "keys", keys);
	assert_non_null(text = json_dumps(root, JSON_INDENT(2)));
	json_decref(root);
	if (saksi_keyring_parse(text, strlen(text), &kr, err, sizeof(err)) != SAKSI_OK)
		fail_msg("keyring: %s", err);
	free(text);
	return kr;
}

/* A personal look's answer as saksid_remote_handle leaves it for sup, branch "*". */
static void
answer(saksid_remote_answer *a, int reveal)
{
	saksi_pubkey pub;

	memset(a, 0, sizeof(*a));
	assert_int_equal(saksi_seckey_public(sup, &pub), SAKSI_OK);
	assert_non_null(a->ra_access = strdup("{\"command\":\"query\"}"));
	assert_non_null(a->ra_branch = strdup("*"));
	memcpy(a->ra_key_id, pub.pk_id, SAKSI_KEYID_LEN);
	memcpy(a->ra_pub, pub.pk_key, sizeof(a->ra_pub));
	a->ra_reveal = reveal;
}

/* recheck under kr (freed) of a fresh answer: its result, code and message. */
static int
recheck(saksi_keyring *kr, int reveal, int *status, char *msg, size_t msglen)
{
	saksid_remote_answer a;
	int r;

	answer(&a, reveal);
	r = saksid_remote_recheck(kr, &a, NOW);
	*status = a.ra_status;
	snprintf(msg, msglen, "%s", a.ra_msg);
	saksid_remote_answer_clear(&a);
	saksi_keyring_free(kr);
	return r;
}

static void
test_recheck(void **state)
{
	char msg[SAKSID_MSG_MAX], want[SAKSID_MSG_MAX];
	int st;
	(void)state;

	/* Still a supervisor with branch "*": released. */
	assert_int_equal(recheck(keyring("supervisor", "*", -1), 1, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st, 0);
	assert_string_equal(msg, "");
	/* Revoked from a time still to come: released; from now or before: refused. */
	assert_int_equal(recheck(keyring("supervisor", "*", (int64_t)NOW + 1), 1, &st, msg,
	    sizeof(msg)), 0);
	assert_int_equal(recheck(keyring("supervisor", "*", (int64_t)NOW), 1, &st, msg,
	    sizeof(msg)), -1);
	assert_int_equal(st, SAKSI_R_REVOKED_KEY);
	snprintf(want, sizeof(want), "key %s is revoked", hex);
	assert_string_equal(msg, want);
	/* Removed. */
	assert_int_equal(recheck(keyring(NULL, NULL, -1), 0, &st, msg, sizeof(msg)), -1);
	assert_int_equal(st, SAKSI_R_UNKNOWN_KEY);
	snprintf(want, sizeof(want), "key %s is not in the keyring", hex);
	assert_string_equal(msg, want);
	/* Security: masked rows only. */
	assert_int_equal(recheck(keyring("security", "*", -1), 0, &st, msg, sizeof(msg)), 0);
	assert_int_equal(recheck(keyring("security", "*", -1), 1, &st, msg, sizeof(msg)), -1);
	assert_int_equal(st, SAKSI_R_ROLE);
	snprintf(want, sizeof(want), "key %s has role security: it may query masked, never "
	    "reveal", hex);
	assert_string_equal(msg, want);
	/* Ombudsman, and a producer role: none. */
	assert_int_equal(recheck(keyring("ombudsman", "*", -1), 0, &st, msg, sizeof(msg)), -1);
	assert_int_equal(st, SAKSI_R_ROLE);
	assert_non_null(strstr(msg, "has role ombudsman"));
	assert_int_equal(recheck(keyring("queue", "*", -1), 0, &st, msg, sizeof(msg)), -1);
	assert_int_equal(st, SAKSI_R_ROLE);
	snprintf(want, sizeof(want), "key %s has role queue: only supervisor and security keys "
	    "may query", hex);
	assert_string_equal(msg, want);
	/* Another branch: the rows were chosen by the old one. */
	assert_int_equal(recheck(keyring("supervisor", "KC-MAKASSAR", -1), 0, &st, msg,
	    sizeof(msg)), -1);
	assert_int_equal(st, SAKSI_R_BRANCH);
	snprintf(want, sizeof(want), "key %s now has branch KC-MAKASSAR (a keyring reload "
	    "changed it while its query ran): sign a new request", hex);
	assert_string_equal(msg, want);
}

static void
test_recheck_errors(void **state)
{
	saksid_remote_answer a;
	saksi_keyring *kr = keyring("supervisor", "*", -1);
	(void)state;

	answer(&a, 0);
	assert_int_equal(saksid_remote_recheck(NULL, &a, NOW), -1);
	assert_int_equal(a.ra_status, SAKSI_R_UNAVAILABLE);   /* fail closed */
	saksid_remote_answer_clear(&a);
	answer(&a, 0);
	assert_int_equal(saksid_remote_recheck(kr, NULL, NOW), -1);
	/* The same key id with another public key (cannot come from a parsed keyring, whose
	 * ids are derived from the keys): refused, the rows are sealed to the old one. */
	a.ra_pub[0] ^= 1;
	assert_int_equal(saksid_remote_recheck(kr, &a, NOW), -1);
	assert_int_equal(a.ra_status, SAKSI_R_SIGNATURE);
	saksid_remote_answer_clear(&a);
	/* An answer without an access entry: nothing to release, refused. */
	answer(&a, 0);
	free(a.ra_access);
	a.ra_access = NULL;
	assert_int_equal(saksid_remote_recheck(kr, &a, NOW), -1);
	assert_int_equal(a.ra_status, SAKSI_R_UNAVAILABLE);
	saksid_remote_answer_clear(&a);
	saksi_keyring_free(kr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recheck),
		cmocka_unit_test(test_recheck_errors),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
