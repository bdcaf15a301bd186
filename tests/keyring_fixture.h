/*
 * keyring_fixture.h: keys derived from a test's printed seed and their keyring entries
 * (FORMATS.md keyring JSON), for the library tests and the daemon tests alike.
 * Header-only (static functions, cmocka asserts): include it after <cmocka.h>. Never used
 * outside the tests; a key it makes is a test's, never one to keep.
 */
#ifndef SAKSI_KEYRING_FIXTURE_H
#define SAKSI_KEYRING_FIXTURE_H

#include <stdint.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "keys.h"

#define KF_UNUSED __attribute__((unused))

/* The key of kind whose secret is SHA-256(seed, big-endian || label): the same label
 * and seed give the same key, so a failure repeats with the seed the test printed. */
KF_UNUSED static saksi_seckey *
kf_seed_key(uint64_t seed, const char *label, int kind)
{
	crypto_hash_sha256_state st;
	uint8_t secret[32], sb[8];
	saksi_seckey *k;

	for (int i = 0; i < 8; i++)
		sb[i] = (uint8_t)(seed >> (56 - 8 * i));
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, sb, 8);
	crypto_hash_sha256_update(&st, (const uint8_t *)label, strlen(label));
	crypto_hash_sha256_final(&st, secret);
	assert_int_equal(saksi_seckey_from_secret(kind, secret, &k), SAKSI_OK);
	sodium_memzero(secret, sizeof(secret));
	return k;
}

/* The key of kind whose secret is the bytes first, first + 1, ... first + 31: fixed
 * keys that known-answer tests can name. */
KF_UNUSED static saksi_seckey *
kf_pattern_key(int kind, uint8_t first)
{
	uint8_t secret[32];
	saksi_seckey *k;

	for (int i = 0; i < 32; i++)
		secret[i] = (uint8_t)(first + i);
	assert_int_equal(saksi_seckey_from_secret(kind, secret, &k), SAKSI_OK);
	return k;
}

/* The keyring entry of k's public key (JSON, the caller's): name, role, branch, never
 * revoked ("revoked_ms": null; set the member for a revoked key). */
KF_UNUSED static json_t *
kf_entry(const saksi_seckey *k, const char *name, const char *role, const char *branch)
{
	char b64[SAKSI_PUBKEY_B64_LEN + 1], hex[17];
	saksi_pubkey pub;
	json_t *e;

	assert_int_equal(saksi_seckey_public(k, &pub), SAKSI_OK);
	assert_int_equal(saksi_pubkey_encode(&pub, b64, sizeof(b64)), SAKSI_OK);
	sodium_bin2hex(hex, sizeof(hex), pub.pk_id, 8);
	e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:n}", "name", name, "key_id", hex,
	              "public_key", b64, "role", role, "branch", branch, "revoked_ms");
	assert_non_null(e);
	return e;
}

#endif
