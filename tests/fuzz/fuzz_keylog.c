/*
 * fuzz_keylog.c: libFuzzer target for the keyring ledger entry (FORMATS.md 4, kind 4),
 * which saksi verify reads from a ledger that may have been tampered with. Checks: a
 * body that parses is canonical (its JSON is its own canonical form, and encoding it
 * gives the body back byte for byte) and differs from itself in nothing; any JSON whose
 * canonical form can be made gives a form that is a fixed point and parses as a body.
 */
#include <sodium.h>

#include "fuzz.h"
#include "keylog.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *body, *b2 = NULL, *b3 = NULL;
	saksi_keyring *kr = (saksi_keyring *)&kr;
	char *c = NULL, *c2 = NULL, err[256];
	size_t cl, cl2, bl;
	saksi_err e;

	if ((body = (uint8_t *)fuzz_copy(data, size, 0)) == NULL)
		return 0;
	/* As a body. */
	e = saksi_keylog_parse(body, size, &kr, err, sizeof err);
	if (e != SAKSI_OK) {
		FUZZ_CHECK(kr == NULL, "keyring set on error %d", e);
		FUZZ_CHECK(e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_VERSION ||
		           e == SAKSI_ERR_TOO_LARGE || e == SAKSI_ERR_NOMEM, "error %d", e);
	} else {
		saksi_keyring_free(kr);
		FUZZ_CHECK(saksi_keylog_encode((const char *)body + 1, size - 1, &b2, &bl, NULL,
		           0) == SAKSI_OK, "a parsed body does not encode");
		FUZZ_CHECK(bl == size && memcmp(b2, body, size) == 0,
		           "a parsed body is not its own encoding");
		FUZZ_CHECK(saksi_keylog_diff((const char *)body + 1, size - 1,
		           (const char *)body + 1, size - 1, NULL, 0) == 0, "differs from itself");
		free(b2);
	}
	/* As a keyring file. */
	if (saksi_keylog_canon((const char *)body, size, &c, &cl, err, sizeof err) == SAKSI_OK) {
		FUZZ_CHECK(saksi_keylog_canon(c, cl, &c2, &cl2, NULL, 0) == SAKSI_OK &&
		           cl2 == cl && memcmp(c, c2, cl) == 0, "canonical form not a fixed point");
		if (saksi_keylog_encode(c, cl, &b3, &bl, NULL, 0) == SAKSI_OK)
			FUZZ_CHECK(saksi_keylog_parse(b3, bl, NULL, NULL, 0) == SAKSI_OK,
			           "an encoded keyring does not parse");
		free(b3);
		free(c2);
		free(c);
	}
	free(body);
	return 0;
}
