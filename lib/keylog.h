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
/*
 * Reads a keyring file once, at most SAKSI_KEYLOG_FILE_MAX bytes; *buf malloc'd (NULL on
 * an error). errbuf (may be NULL) gets "PATH: reason". SAKSI_ERR_NOT_FOUND (no such
 * file), SAKSI_ERR_IO, SAKSI_ERR_TOO_LARGE, SAKSI_ERR_NOMEM.
 */
saksi_err saksi_keylog_read_file(const char *path, char **buf, size_t *len, char *errbuf,
                                 size_t errlen);

/*
 * A keyring over several entries (FORMATS.md 4, kind 4, version 2). A keyring whose
 * version 1 body fits in one leaf is one version 1 body, byte-identical to before;
 * a larger one is n >= 2 parts, each version 0x02 || part index (2, 1..n) || part
 * count (2, n) || the canonical JSON of a keyring holding all the roles and a run of
 * the keys in ascending key_id, packed greedily (each part as full as a leaf allows, a
 * key never split), so that a keyring has exactly one split.
 */
#define SAKSI_KEYLOG_VERSION_PART 2
#define SAKSI_KEYLOG_PART_HDR 5
#define SAKSI_KEYLOG_PARTS_MAX 65535

/* A split keyring: n bodies, each malloc'd; saksi_keylog_parts_free frees it all. */
typedef struct {
	uint8_t **kp_body;
	size_t *kp_len;
	size_t kp_n;
} saksi_keylog_parts;

void saksi_keylog_parts_free(saksi_keylog_parts *p);

/*
 * The entry bodies of a keyring file's JSON: one version 1 body if it fits, else its
 * canonical split. The errors of saksi_keylog_canon; SAKSI_ERR_TOO_LARGE if one key
 * (or the roles alone) do not fit in a part. *p is zeroed first.
 */
saksi_err saksi_keylog_split(const char *json, size_t len, saksi_keylog_parts *p,
                             char *errbuf, size_t errlen);

/*
 * The header of one body: version 1 gives part 1 of 1; version 2 its index and count
 * (1 <= index <= count, count >= 2). Reads only the header: SAKSI_ERR_VERSION for
 * another version, SAKSI_ERR_FORMAT for a short or impossible header.
 */
saksi_err saksi_keylog_part_hdr(const uint8_t *body, size_t len, unsigned *index,
                                unsigned *count, char *errbuf, size_t errlen);

/*
 * Joins the n bodies of one set (n == 1: saksi_keylog_parse of a version 1 body):
 * part i+1 at bodies[i], every count n, each part's JSON canonical and loading, the
 * roles the same in every part, and the whole exactly the canonical split of the
 * joined keyring (one spelling). On failure *bad (may be NULL) is the 0-based position
 * of the part at fault and errbuf says why: SAKSI_ERR_FORMAT, SAKSI_ERR_VERSION,
 * SAKSI_ERR_TOO_LARGE, SAKSI_ERR_NOMEM. *kr (may be NULL) gets the keyring; *canon
 * (may be NULL, malloc'd, NUL-terminated) its canonical JSON.
 */
saksi_err saksi_keylog_join(const uint8_t *const *bodies, const size_t *lens, size_t n,
                            saksi_keyring **kr, char **canon, size_t *canonlen,
                            size_t *bad, char *errbuf, size_t errlen);

/*
 * saksi_keylog_load for a keyring of any size: the keyring (*kr) and its entry bodies
 * (*p, saksi_keylog_split) from the same bytes. The errors of saksi_keyring_load and
 * saksi_keylog_split.
 */
saksi_err saksi_keylog_load_parts(const char *path, saksi_keyring **kr, saksi_keylog_parts *p,
                                  char *errbuf, size_t errlen);

/*
 * The keyring recorded at entry index of a ledger (a version 1 body, or the first part
 * of a set and the parts after it, all of one commit time): its canonical JSON (*canon
 * malloc'd, NUL-terminated) and how many entries it spans (*nparts, may be NULL).
 * SAKSI_ERR_FORMAT (errbuf says why) for another kind, a part other than the first, a
 * set that is cut short or does not join; the ledger's errors.
 */
saksi_err saksi_keylog_read(saksi_ledger_txn *txn, uint64_t index, char **canon,
                            size_t *canonlen, size_t *nparts, char *errbuf, size_t errlen);

/*
 * Strict parse of one kind 4 body alone, whichever version: a version 1 body as
 * saksi_keylog_parse; a version 2 part with a valid header (saksi_keylog_part_hdr) and
 * the canonical JSON of a keyring with at least one key (*json_off, may be NULL: where
 * that JSON starts in body). Whether the parts make a set is saksi_keylog_join's check.
 */
saksi_err saksi_keylog_entry_parse(const uint8_t *body, size_t len, size_t *json_off,
                                   char *errbuf, size_t errlen);

#endif
