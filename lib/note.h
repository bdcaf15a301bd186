/*
 * note.h: C2SP signed-note v1.0.0 (Ed25519 only), tlog-checkpoint v1.0.0 bodies, and
 * tlog-proof@v1 texts. Strict parsers: every line must end in LF, no trailing bytes, no
 * unknown first line. Pinned to these versions: newer drafts move to ML-DSA.
 * Thread-safe; no global state.
 */
#ifndef SAKSI_NOTE_H
#define SAKSI_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "merkle.h"
#include "saksi_error.h"

#define SAKSI_NOTE_MAX 16384     /* bytes of a whole note, text and signatures */
#define SAKSI_ORIGIN_MAX 255     /* bytes of a key name / checkpoint origin */
#define SAKSI_VKEY_MAX (SAKSI_ORIGIN_MAX + 64)
#define SAKSI_NOTE_MAX_SIGS 100  /* signature lines in a note (x/mod/sumdb/note's limit) */
/* bytes of a whole tlog-proof text: its header lines fit in 4 KiB, then one note */
#define SAKSI_TLOG_PROOF_MAX (SAKSI_NOTE_MAX + 4096)

/*
 * Error codes common to every function below: SAKSI_ERR_INVAL for a NULL pointer or an
 * invalid caller-built value (name, text, struct field), SAKSI_ERR_TOO_LARGE for input over
 * a cap above or an output that does not fit in outlen, SAKSI_ERR_FORMAT for malformed
 * input. Key names follow x/mod/sumdb/note: non-empty, valid UTF-8, no Unicode space, no
 * '+', and (ours) no ASCII control character, at most SAKSI_ORIGIN_MAX bytes.
 */

/* A note verifier: the name, 4-byte key id and Ed25519 public key of a signer. */
typedef struct saksi_note_verifier {
	char nv_name[SAKSI_ORIGIN_MAX + 1];
	uint8_t nv_keyid[4];
	uint8_t nv_pk[32];
} saksi_note_verifier;

/* key id = SHA-256(name || 0x0A || 0x01 || pk)[:4]. name must be a valid key name. */
saksi_err saksi_note_keyid(const char *name, const uint8_t pk[32], uint8_t keyid[4]);

/*
 * Formats "<name>+<8 hex>+<base64(0x01||pk)>" into out (NUL-terminated).
 * SAKSI_ERR_INVAL for an invalid name (empty, contains space, '+' or a control char).
 */
saksi_err saksi_note_vkey_format(const char *name, const uint8_t pk[32], char *out,
                                 size_t outlen);
/*
 * Parses a verifier key string (NUL-terminated); checks that the key id matches name and
 * key. SAKSI_ERR_FORMAT if not "<name>+<8 hex>+<base64>", SAKSI_ERR_KEY if the key id does
 * not match or the key is not Ed25519 (type byte 0x01, 32 bytes), SAKSI_ERR_TOO_LARGE over
 * SAKSI_VKEY_MAX bytes or a name over SAKSI_ORIGIN_MAX. v is written only on success.
 */
saksi_err saksi_note_vkey_parse(const char *vkey, saksi_note_verifier *v);

/*
 * Signs `text` (must be non-empty, end in LF, contain no blank line) with the Ed25519
 * secret key sk (libsodium 64-byte form) under `name`. Writes text || LF || signature line
 * to out as a NUL-terminated string; *outlen_written excludes the NUL. The result is at
 * most SAKSI_NOTE_MAX bytes. SAKSI_ERR_KEY if sk's public half does not match its seed
 * (the signature is checked before it is returned).
 */
saksi_err saksi_note_sign(const char *text, size_t textlen, const char *name,
                          const uint8_t sk[64], char *out, size_t outlen,
                          size_t *outlen_written);

/*
 * Verifies a signed note against one verifier. On SAKSI_OK, *text_len is the length of the
 * text part (from the start of note, including its final LF). Signature lines of other
 * key names or ids are ignored (witness cosignatures); SAKSI_ERR_SIGNATURE if no line of
 * v's name and key id verifies, SAKSI_ERR_FORMAT for a malformed note.
 * Stricter than x/mod/sumdb/note: the text may not contain a blank line (so the separator
 * is its only blank line), every line of v's name and key id must verify (not only the
 * first), more than SAKSI_NOTE_MAX_SIGS signature lines is SAKSI_ERR_TOO_LARGE, and base64
 * must be canonical (zero padding bits). The whole note is checked before any signature.
 */
saksi_err saksi_note_open(const char *note, size_t len, const saksi_note_verifier *v,
                          size_t *text_len);

/* A checkpoint body (tlog-checkpoint v1.0.0, no extension lines). */
typedef struct saksi_checkpoint {
	char ck_origin[SAKSI_ORIGIN_MAX + 1];
	uint64_t ck_size;
	saksi_hash ck_root;
} saksi_checkpoint;

/* Writes "<origin>\n<size>\n<base64 root>\n" (NUL-terminated); *written excludes the NUL. */
saksi_err saksi_checkpoint_format(const saksi_checkpoint *c, char *out, size_t outlen,
                                  size_t *written);
/*
 * Parses exactly such a body (no extension lines, no leading zeros, 44-char base64); the
 * origin must be a valid key name (SAKSI_ERR_TOO_LARGE over SAKSI_ORIGIN_MAX bytes).
 */
saksi_err saksi_checkpoint_parse(const char *text, size_t len, saksi_checkpoint *c);

/*
 * Opens a signed checkpoint note: signature with v, then body. SAKSI_ERR_SIGNATURE,
 * SAKSI_ERR_FORMAT; also SAKSI_ERR_KEY if the origin is not v's name.
 */
saksi_err saksi_checkpoint_open(const char *note, size_t len, const saksi_note_verifier *v,
                                saksi_checkpoint *c);

/*
 * A tlog-proof@v1. The checkpoint note is kept as text, verbatim. The "extra" line is present
 * iff tp_has_extra, and then carries 1..sizeof tp_extra bytes ("extra " with no data is
 * refused, so that a text has one reading).
 */
typedef struct saksi_tlog_proof {
	uint8_t tp_extra[256];
	size_t tp_extra_len;      /* 0: no extra line */
	int tp_has_extra;
	uint64_t tp_index;
	saksi_hash tp_proof[SAKSI_MERKLE_MAX_PROOF];
	size_t tp_proof_len;
	char tp_note[SAKSI_NOTE_MAX + 1];
	size_t tp_note_len;
} saksi_tlog_proof;

/*
 * Formats a tlog-proof text (NUL-terminated, at most SAKSI_TLOG_PROOF_MAX bytes); *written
 * excludes the NUL. SAKSI_ERR_INVAL if p is inconsistent or tp_note is not a well-formed
 * signed checkpoint note (its signature is not checked).
 */
saksi_err saksi_tlog_proof_format(const saksi_tlog_proof *p, char *out, size_t outlen,
                                  size_t *written);
/*
 * The base64 of the last proof's path hashes, kept by a caller that formats many proofs
 * into one tree (the committer's receipts): consecutive leaves share most of their
 * paths, and sodium's base64 cost more than the rest of the text. Zero it before the
 * first use; it holds no secret.
 */
typedef struct saksi_proof_b64 {
	saksi_hash pb_hash[SAKSI_MERKLE_MAX_PROOF];
	char pb_b64[SAKSI_MERKLE_MAX_PROOF][44];
	size_t pb_n;
} saksi_proof_b64;

/*
 * The same text as saksi_tlog_proof_format, except that tp_note is not checked again:
 * for a caller that formats many proofs to one note it has formatted (so checked) once
 * already, as the committer does for a group's receipts (the note's check cost as much
 * as the rest of the proof). pb (may be NULL): a path hash equal to the one at the same
 * distance from the path's end in pb is copied from there instead of encoded; on
 * SAKSI_OK pb then holds this proof's path.
 */
saksi_err saksi_tlog_proof_format_samenote(const saksi_tlog_proof *p, saksi_proof_b64 *pb,
                                           char *out, size_t outlen, size_t *written);
/*
 * Parses strictly; checks that the note is a well-formed signed checkpoint but not its
 * signature. SAKSI_ERR_VERSION for a first line "c2sp.org/tlog-proof@v<digits>" but v1,
 * SAKSI_ERR_TOO_LARGE for more than SAKSI_MERKLE_MAX_PROOF hashes or too much extra data.
 */
saksi_err saksi_tlog_proof_parse(const char *text, size_t len, saksi_tlog_proof *p);
/*
 * Verifies p fully: the checkpoint signature with v, then the inclusion of leaf_hash at
 * p->tp_index against the checkpoint root. On success *c (if non-NULL) gets the checkpoint.
 * Errors of saksi_checkpoint_open, then SAKSI_ERR_PROOF, or SAKSI_ERR_RANGE if the index is
 * not below the tree size.
 */
saksi_err saksi_tlog_proof_verify(const saksi_tlog_proof *p, const saksi_note_verifier *v,
                                  const saksi_hash leaf_hash, saksi_checkpoint *c);

#endif
