/*
 * keylog.h: the keyring as a ledger entry (FORMATS.md 4, kind 4): its canonical
 * encoding, the strict parser and the differences between two keyrings, so that a
 * reviewer checks events with the keyring the ledger recorded, not a file he is handed.
 * Never holds a secret: a keyring is public keys, names, roles, branches, revocations.
 */
#ifndef SAKSI_KEYLOG_H
#define SAKSI_KEYLOG_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "ledger.h"
#include "saksi_error.h"

#define SAKSI_KEYLOG_VERSION 1
/* Longest body: the leaf's room. */
#define SAKSI_KEYLOG_MAX (SAKSI_LEAF_MAX - SAKSI_LEAF_HDR)

/*
 * The canonical form of a keyring file's JSON (FORMATS.md 4, kind 4): checked first
 * with saksi_keyring_parse (its errors and errbuf), then written compact, members in
 * byte order, keys sorted by key_id, each role's patterns sorted and without repeats.
 * *out is malloc'd and NUL-terminated (*outlen excludes the NUL). SAKSI_ERR_NOMEM.
 */
saksi_err saksi_keylog_canon(const char *json, size_t len, char **out, size_t *outlen,
                             char *errbuf, size_t errlen);

/*
 * The leaf body: version 0x01 || canonical JSON. *body malloc'd. SAKSI_ERR_TOO_LARGE if
 * it does not fit in a leaf (SAKSI_KEYLOG_MAX); the errors of saksi_keylog_canon.
 */
saksi_err saksi_keylog_encode(const char *json, size_t len, uint8_t **body, size_t *bodylen,
                              char *errbuf, size_t errlen);

/*
 * Strict parse of a body: version 1 (SAKSI_ERR_VERSION), a keyring that loads, written
 * exactly in its canonical form (one spelling): SAKSI_ERR_FORMAT otherwise (errbuf says
 * why), SAKSI_ERR_TOO_LARGE over SAKSI_KEYLOG_MAX. *kr (may be NULL) gets the keyring.
 */
saksi_err saksi_keylog_parse(const uint8_t *body, size_t len, saksi_keyring **kr,
                             char *errbuf, size_t errlen);

/*
 * What differs from keyring a (the older, or the ledger's) to b (the newer, or a file),
 * both given in canonical JSON: one line per key added, removed or changed (name,
 * public key, role, branch, revocation) and per role added, removed or changed,
 * written into out (truncated with "..." when full; may be NULL). Returns the number of
 * differences (0: the same keyring), or -1 if either does not parse.
 */
int saksi_keylog_diff(const char *a, size_t alen, const char *b, size_t blen, char *out,
                      size_t outlen);

/*
 * Reads a keyring file once (at most SAKSI_KEYLOG_FILE_MAX bytes) and gives both the
 * keyring (*kr) and its entry body (*body, malloc'd) from the same bytes, so that what
 * saksid runs with is what it records. The errors of saksi_keyring_load and
 * saksi_keylog_encode.
 */
#define SAKSI_KEYLOG_FILE_MAX (16u << 20) /* as keys.c's keyring cap */
saksi_err saksi_keylog_load(const char *path, saksi_keyring **kr, uint8_t **body,
                            size_t *bodylen, char *errbuf, size_t errlen);

#endif
