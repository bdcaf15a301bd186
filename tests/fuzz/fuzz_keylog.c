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
	/* As one entry alone (a version 2 part too), and as sets of one and two parts. */
	{
		const uint8_t *bv[2] = { body, body };
		size_t lv[2] = { size, size }, off = 0, bad = 0;
		char *jc = NULL;
		size_t jl;

		e = saksi_keylog_entry_parse(body, size, &off, err, sizeof err);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_VERSION ||
		           e == SAKSI_ERR_TOO_LARGE || e == SAKSI_ERR_NOMEM, "entry error %d", e);
		FUZZ_CHECK(e != SAKSI_OK || off == 1 || off == SAKSI_KEYLOG_PART_HDR,
		           "json offset %zu", off);
		for (size_t n = 1; n <= 2; n++) {
			kr = (saksi_keyring *)&kr;
			e = saksi_keylog_join(bv, lv, n, &kr, &jc, &jl, &bad, err, sizeof err);
			if (e == SAKSI_OK) {
				saksi_keyring_free(kr);
				free(jc);
				/* The same part twice is never a set. */
				FUZZ_CHECK(n == 1, "a part twice joined");
			} else {
				FUZZ_CHECK(kr == NULL && jc == NULL && bad < n, "join error state");
				FUZZ_CHECK(e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_VERSION ||
				           e == SAKSI_ERR_TOO_LARGE || e == SAKSI_ERR_NOMEM,
				           "join error %d", e);
			}
			jc = NULL;
		}
	}
	/* As a keyring file. */
	if (saksi_keylog_canon((const char *)body, size, &c, &cl, err, sizeof err) == SAKSI_OK) {
		saksi_keylog_parts p;
		char *jc = NULL;
		size_t jl;

		/* Split and joined again: the canonical form, whatever the size. */
		if (saksi_keylog_split((const char *)body, size, &p, NULL, 0) == SAKSI_OK) {
			FUZZ_CHECK(saksi_keylog_join((const uint8_t *const *)p.kp_body, p.kp_len,
			           p.kp_n, NULL, &jc, &jl, NULL, NULL, 0) == SAKSI_OK &&
			           jl == cl && memcmp(jc, c, cl) == 0, "split does not join back");
			free(jc);
			saksi_keylog_parts_free(&p);
		}
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
