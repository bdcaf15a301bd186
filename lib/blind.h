/*
 * blind.h: blind tokens for personal fields (schemas/RULES.md section 1). The daemon
 * normalises a disclosed value and hashes it with its own index key; the detectors then
 * count, group and compare tokens, never values. A token reveals nothing without the key,
 * and equal normalised values of one kind give equal tokens.
 *
 * Threads: a saksi_blind is immutable once made; any number of threads may use it at once.
 * Nothing here prints or logs: a value passed in is personal data.
 */
#ifndef SAKSI_BLIND_H
#define SAKSI_BLIND_H

#include <stddef.h>
#include <stdint.h>

#include "saksi_error.h"

#define SAKSI_BLIND_KEYLEN 32
/* A token is base64url (no padding) of 32 bytes: 43 characters, plus NUL in buffers. */
#define SAKSI_BLIND_TOKEN_LEN 43
/* Longest normalised value of any kind (an e-mail address), plus NUL in buffers. */
#define SAKSI_BLIND_VALUE_MAX 254
/* Longest raw input accepted (surrounding spaces and separators included). */
#define SAKSI_BLIND_INPUT_MAX 512

/* The kinds. The number is part of nothing stored; the name is the domain separator. */
typedef enum saksi_blind_kind {
	SAKSI_BLIND_NONE = 0,
	SAKSI_BLIND_NIK,      /* "nik": 16 digits */
	SAKSI_BLIND_KPJ,      /* "kpj": 11 digits */
	SAKSI_BLIND_PHONE,    /* "phone": E.164 +628 and 8 to 11 digits */
	SAKSI_BLIND_EMAIL,    /* "email": lower case, trimmed */
	SAKSI_BLIND_ACCOUNT,  /* "account": bank code (3 digits) ":" account digits (6-20) */
	SAKSI_BLIND_DEVICE,   /* "device": as given, trimmed, [A-Za-z0-9_:.-]{8,128} */
	SAKSI_BLIND_IP,       /* "ip": canonical text of inet_ntop; v4-mapped v6 as v4 */
	SAKSI_BLIND_NPWP,     /* "npwp": 15 or 16 digits */
	SAKSI_BLIND_NAME,     /* "name": capitals, single spaces (name and account holder) */
	SAKSI_BLIND_SCAN,     /* "scan": 64 lower-case hex digits */
	SAKSI_BLIND__COUNT
} saksi_blind_kind;

typedef struct saksi_blind saksi_blind;

/*
 * Makes a blinding context holding a copy of key (32 bytes) in guarded, read-only memory;
 * the caller may wipe its own copy at once. SAKSI_ERR_INVAL for NULL, SAKSI_ERR_NOMEM.
 */
saksi_err saksi_blind_new(const uint8_t key[SAKSI_BLIND_KEYLEN], saksi_blind **out);
/* Wipes and frees the key. NULL is fine. */
void saksi_blind_free(saksi_blind *b);

/* The kind's name ("nik", ...), or NULL for SAKSI_BLIND_NONE or an unknown number. */
const char *saksi_blind_kind_name(saksi_blind_kind kind);

/*
 * The kind of an event field by its schema name: nik, kpj, phone, email, bank_account
 * (kind account: its token covers bank_code too), device_id, ip, npwp, name and
 * account_holder (both kind name, so that they compare), scan_sha256.
 * SAKSI_BLIND_NONE for any other name, including personal fields that are never blinded
 * (amount, balance: see saksi_blind_field_personal).
 */
saksi_blind_kind saksi_blind_field_kind(const char *field);
/* 1 if field is a personal field of the schemas (README "Common fields"), blinded or not. */
int saksi_blind_field_personal(const char *field);

/*
 * Normalises in[0..len) (no NUL needed) to the canonical text of kind, written to out
 * NUL-terminated (*outlen without the NUL; outlen may be NULL). outsz must be at least
 * SAKSI_BLIND_VALUE_MAX + 1. The rules per kind are in RULES.md 1.1. For an account, in is
 * "BBB:ACCOUNT" (bank code, colon, account number); use saksi_blind_account otherwise.
 * SAKSI_ERR_FORMAT for a malformed value (out is then wiped), SAKSI_ERR_TOO_LARGE for
 * len > SAKSI_BLIND_INPUT_MAX, SAKSI_ERR_INVAL for NULL pointers, a small outsz or an
 * unknown kind.
 */
saksi_err saksi_blind_normalise(saksi_blind_kind kind, const char *in, size_t len, char *out,
                                size_t outsz, size_t *outlen);

/*
 * The token of in: normalise, then BLAKE2b-256 keyed with the index key over
 * "saksi/blind/v1\n" || kind name || "\n" || normalised value, printed base64url without
 * padding into token (SAKSI_BLIND_TOKEN_LEN + 1 bytes, NUL-terminated). The normalised
 * copy is wiped before returning. Errors as saksi_blind_normalise (token is then "").
 */
saksi_err saksi_blind_token(const saksi_blind *b, saksi_blind_kind kind, const char *in,
                            size_t len, char token[SAKSI_BLIND_TOKEN_LEN + 1]);

/*
 * The account token from the two fields of a payload: bank_code (3 digits) and
 * bank_account (digits, spaces, dots or hyphens). Same as saksi_blind_token of kind
 * SAKSI_BLIND_ACCOUNT over "bank_code:bank_account".
 */
saksi_err saksi_blind_account(const saksi_blind *b, const char *bank_code,
                              const char *bank_account, char token[SAKSI_BLIND_TOKEN_LEN + 1]);

/* 1 if s is shaped like a token: exactly 43 base64url characters, the last one carrying
 * no spare bits (so one digest has one spelling). */
int saksi_blind_is_token(const char *s);

#endif
