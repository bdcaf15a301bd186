/*
 * fuzz_blind.c: libFuzzer target for lib/blind.c, which normalises disclosed personal
 * values (a producer's bytes) before they are blinded. Byte 0 picks the kind, the rest is
 * the value. Checks: normalising is idempotent (the canonical text is its own canonical
 * text), so a value and its canonical text give the same token; a token is shaped as
 * saksi_blind_is_token says; a failure leaves out wiped and the token empty.
 */
#include <sodium.h>

#include "blind.h"
#include "fuzz.h"

static saksi_blind *fz_blind;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t key[SAKSI_BLIND_KEYLEN];

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	memset(key, 0x5b, sizeof key);
	FUZZ_SETUP(saksi_blind_new(key, &fz_blind) == SAKSI_OK);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[SAKSI_BLIND_VALUE_MAX + 1], out2[SAKSI_BLIND_VALUE_MAX + 1];
	char tok[SAKSI_BLIND_TOKEN_LEN + 1], tok2[SAKSI_BLIND_TOKEN_LEN + 1];
	char *in, *bank, *colon;
	saksi_blind_kind kind;
	size_t olen = 0, olen2 = 0, i;
	saksi_err e, e2;

	if (size < 1)
		return 0;
	kind = (saksi_blind_kind)(1 + data[0] % (SAKSI_BLIND__COUNT - 1));
	if ((in = fuzz_copy(data + 1, size - 1, 0)) == NULL)
		return 0;
	memset(out, 'x', sizeof out);
	e = saksi_blind_normalise(kind, in, size - 1, out, sizeof out, &olen);
	if (e != SAKSI_OK) {
		FUZZ_CHECK(e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_TOO_LARGE,
		           "normalise %s gave %d", saksi_blind_kind_name(kind), e);
		/* Nothing of the value may stay in out: each byte is wiped or never written. */
		FUZZ_CHECK(out[0] == '\0', "out not emptied after %d", e);
		for (i = 0; i < sizeof out; i++)
			FUZZ_CHECK(out[i] == '\0' || out[i] == 'x', "out not wiped after %d", e);
		memset(tok, 'x', sizeof tok);
		e2 = saksi_blind_token(fz_blind, kind, in, size - 1, tok);
		FUZZ_CHECK(e2 == e && tok[0] == '\0', "token %d / normalise %d", e2, e);
		goto out;
	}
	FUZZ_CHECK(olen == strlen(out) && olen > 0 && olen <= SAKSI_BLIND_VALUE_MAX,
	           "normalised length %zu", olen);
	for (i = 0; i < olen; i++)
		FUZZ_CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f,
		           "control byte in normalised %s", saksi_blind_kind_name(kind));
	/* The differential check: the canonical text is already canonical. */
	e2 = saksi_blind_normalise(kind, out, olen, out2, sizeof out2, &olen2);
	FUZZ_CHECK(e2 == SAKSI_OK && olen2 == olen && memcmp(out, out2, olen) == 0,
	           "%s: normalise is not idempotent (%d): \"%s\" -> \"%s\"",
	           saksi_blind_kind_name(kind), e2, out, e2 == SAKSI_OK ? out2 : "");
	FUZZ_CHECK(saksi_blind_token(fz_blind, kind, in, size - 1, tok) == SAKSI_OK &&
	               saksi_blind_token(fz_blind, kind, out, olen, tok2) == SAKSI_OK &&
	               strcmp(tok, tok2) == 0,
	           "a value and its canonical text give different tokens");
	FUZZ_CHECK(strlen(tok) == SAKSI_BLIND_TOKEN_LEN && saksi_blind_is_token(tok),
	           "token is not token-shaped: %s", tok);
	/* An account, also through the two-field form: the same token. */
	if (kind == SAKSI_BLIND_ACCOUNT && (colon = strchr(out, ':')) != NULL) {
		bank = strndup(out, (size_t)(colon - out));
		FUZZ_SETUP(bank != NULL);
		FUZZ_CHECK(saksi_blind_account(fz_blind, bank, colon + 1, tok2) == SAKSI_OK &&
		               strcmp(tok, tok2) == 0,
		           "saksi_blind_account disagrees with the account token");
		free(bank);
	}
	sodium_memzero(out, sizeof out);
	sodium_memzero(out2, sizeof out2);
out:
	/* is_token on the raw input must not read past its NUL. */
	{
		char *s = fuzz_copy(data + 1, size - 1, 1);

		if (s != NULL) {
			if (saksi_blind_is_token(s)) {
				FUZZ_CHECK(strlen(s) == SAKSI_BLIND_TOKEN_LEN, "is_token length");
				/* One digest, one spelling: only base64url characters (but for
				 * libsodium 1.0.18's alias, fuzz.h). */
				for (i = 0; i < SAKSI_BLIND_TOKEN_LEN; i++)
					if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					           "0123456789-_", s[i]) == NULL || s[i] == '\0')
						FUZZ_CHECK(fuzz_b64_alias(s + i, "_", 1),
						           "is_token took byte 0x%02x",
						           (unsigned char)s[i]);
			}
			free(s);
		}
	}
	free(in);
	return 0;
}
