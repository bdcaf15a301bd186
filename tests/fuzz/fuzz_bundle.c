/*
 * fuzz_bundle.c: libFuzzer target for lib/bundle.c: the strict reader of evidence bundles
 * (FORMATS.md 8), then the verifier on whatever it accepts, with a fixed log key, keyring
 * and recipient key. Besides "no crash, no leak, no UB": a bundle that parses writes back
 * to a text that parses to the same signed transcript (one reading), and the verifier
 * returns SAKSI_OK or SAKSI_ERR_CORRUPT with a reason, never anything else.
 */
#include <sodium.h>

#include "bundle.h"
#include "fuzz.h"
#include "keys.h"
#include "note.h"

/* Set once by LLVMFuzzerInitialize, read-only afterwards. */
static saksi_note_verifier fz_v;
static saksi_keyring *fz_kr;
static saksi_seckey *fz_box;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[32], pk[32], sk[64];
	char vkey[SAKSI_VKEY_MAX + 1];
	static const char keyring[] = "{\"saksi_keyring\":1,\"roles\":{\"q\":[\"queue.*\"]},"
	    "\"keys\":[]}";

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	/* Fixed keys: the run must be reproducible from the input alone. */
	memset(seed, 0x5b, sizeof seed);
	crypto_sign_seed_keypair(pk, sk, seed);
	FUZZ_SETUP(saksi_note_vkey_format("fuzz.example/log", pk, vkey, sizeof vkey) ==
	           SAKSI_OK);
	FUZZ_SETUP(saksi_note_vkey_parse(vkey, &fz_v) == SAKSI_OK);
	FUZZ_SETUP(saksi_keyring_parse(keyring, strlen(keyring), &fz_kr, NULL, 0) == SAKSI_OK);
	memset(seed, 0x5c, sizeof seed);
	FUZZ_SETUP(saksi_seckey_from_secret(SAKSI_KEY_BOX, seed, &fz_box) == SAKSI_OK);
	sodium_memzero(sk, sizeof sk);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_copy(data, size, 0), *out = NULL;
	saksi_bundle *b = NULL, *b2 = NULL;
	saksi_bundle_verify_opts o;
	saksi_bundle_report r;
	uint8_t d1[32], d2[32];
	size_t olen;
	saksi_err e;

	if (text == NULL)
		return 0;
	e = saksi_bundle_parse(text, size, &b, NULL, 0);
	FUZZ_CHECK((e == SAKSI_OK) == (b != NULL), "parse returned %d with b %p", e, (void *)b);
	if (e != SAKSI_OK) {
		free(text);
		return 0;
	}
	e = saksi_bundle_format(b, &out, &olen);
	FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_TOO_LARGE, "a parsed bundle does not format "
	           "(%d)", e);
	if (e == SAKSI_OK) {
		FUZZ_CHECK(saksi_bundle_parse(out, olen, &b2, NULL, 0) == SAKSI_OK,
		           "a written bundle does not parse back");
		saksi_bundle_digest(b, d1);
		saksi_bundle_digest(b2, d2);
		FUZZ_CHECK(memcmp(d1, d2, 32) == 0, "parse(format(b)) signs other bytes than b");
		saksi_bundle_free(b2);
		free(out);
	}
	memset(&o, 0, sizeof o);
	o.bo_log = &fz_v;
	o.bo_keyring = fz_kr;
	o.bo_box = fz_box;
	e = saksi_bundle_verify(b, &o, &r);
	FUZZ_CHECK((e == SAKSI_OK && r.br_reason == SAKSI_BV_OK) ||
	           (e == SAKSI_ERR_CORRUPT && r.br_reason != SAKSI_BV_OK) || e == SAKSI_ERR_NOMEM,
	           "verify returned %d with reason %d", e, r.br_reason);
	saksi_bundle_free(b);
	free(text);
	return 0;
}
