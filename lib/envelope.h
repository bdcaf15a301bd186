/*
 * envelope.h: the signed event envelope (FORMATS.md section 2), SD-JWT-style disclosures
 * of personal fields (2.1) and their sealing to the appliance (2.2).
 * Parsers are strict and never read past the given length. Thread-safe.
 */
#ifndef SAKSI_ENVELOPE_H
#define SAKSI_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "keys.h"
#include "saksi_error.h"

#define SAKSI_ENV_VERSION 1
#define SAKSI_TYPE_MAX 64
#define SAKSI_PAYLOAD_MAX 60000
#define SAKSI_ENV_HDR 27 /* bytes before the type */
#define SAKSI_ENV_MAX (SAKSI_ENV_HDR + SAKSI_TYPE_MAX + 4 + SAKSI_PAYLOAD_MAX + 64)
#define SAKSI_SIG_LEN 64
#define SAKSI_DISCLOSURES_MAX 32
#define SAKSI_DIGEST_B64_LEN 43
#define SAKSI_SEALED_MAX (1 + 24 + 16 + 65536)

/* A parsed envelope. Pointers point into the buffer given to saksi_envelope_parse. */
typedef struct saksi_envelope {
	uint8_t ev_key_id[SAKSI_KEYID_LEN];
	uint64_t ev_seq;
	uint64_t ev_time_ms;
	char ev_type[SAKSI_TYPE_MAX + 1];
	const uint8_t *ev_payload;
	size_t ev_payload_len;
	const uint8_t *ev_sig;     /* 64 bytes */
	const uint8_t *ev_bytes;   /* the whole envelope */
	size_t ev_len;
} saksi_envelope;

/*
 * Builds and signs an envelope with sk (kind SIGN). Writes it to out (at most outlen bytes),
 * *written = its length. SAKSI_ERR_TOO_LARGE over caps, SAKSI_ERR_FORMAT for a bad type.
 * The payload is taken as given (the caller has replaced personal values by digests).
 * Also: SAKSI_ERR_FORMAT for seq 0 or a payload under 2 bytes, SAKSI_ERR_KEY if sk is not
 * a signing key, SAKSI_ERR_INVAL if outlen is too small (SAKSI_ENV_MAX always suffices).
 */
saksi_err saksi_envelope_sign(const saksi_seckey *sk, uint64_t seq, uint64_t time_ms,
                              const char *type, const uint8_t *payload, size_t payload_len,
                              uint8_t *out, size_t outlen, size_t *written);
/*
 * Parses strictly (no trailing bytes, type charset, caps). Does not check the signature.
 * SAKSI_ERR_VERSION for a version or alg other than 1, SAKSI_ERR_TOO_LARGE for len over
 * SAKSI_ENV_MAX, a type_len over 64 or a payload_len over 60000, SAKSI_ERR_FORMAT for
 * anything else malformed (lengths that do not add up, seq 0, type charset).
 */
saksi_err saksi_envelope_parse(const uint8_t *buf, size_t len, saksi_envelope *ev);
/* Checks ev's signature with the Ed25519 public key pk: SAKSI_OK or SAKSI_ERR_SIGNATURE. */
saksi_err saksi_envelope_verify(const saksi_envelope *ev, const uint8_t pk[32]);

/*
 * Disclosures. A disclosure string is base64url(JSON [salt, name, value]); its digest is
 * base64url(SHA-256(disclosure)), SAKSI_DIGEST_B64_LEN chars.
 */
/*
 * Makes a disclosure for (name, value) with a fresh 128-bit salt; *out malloc'd.
 * The JSON array is compact (["salt","name","value"]). SAKSI_ERR_FORMAT if name or value
 * is not UTF-8, or name is empty, "_sd" or "..." (reserved by SD-JWT).
 */
saksi_err saksi_disclosure_make(const char *name, const char *value, char **out);
/* The same with a given salt: for test vectors only, a salt must never be reused. */
saksi_err saksi_disclosure_make_salted(const char *name, const char *value,
                                       const uint8_t salt[16], char **out);
/* digest_out: SAKSI_DIGEST_B64_LEN+1 bytes, NUL-terminated. */
void saksi_disclosure_digest(const char *disclosure, size_t len, char *digest_out);
/* Decodes a disclosure: *name and *value malloc'd. SAKSI_ERR_FORMAT if not [salt,name,value]
 * with a salt of at least 128 bits and string name and value. The salt is base64url
 * without padding; name as for saksi_disclosure_make. SAKSI_ERR_TOO_LARGE if len exceeds
 * SAKSI_DISCLOSURE_MAX. */
#define SAKSI_DISCLOSURE_MAX 65536
saksi_err saksi_disclosure_decode(const char *disclosure, size_t len, char **name,
                                  char **value);

/*
 * Producer side in one step: takes a JSON object payload with personal values in clear,
 * and the names of the personal fields (top-level members; absent ones are skipped),
 * replaces each by {"_sd": digest} and returns the new payload (*payload_out, malloc'd,
 * compact JSON) and the JSON array of disclosures (*disclosures_out, malloc'd; "[]" when
 * none).
 * The payload is re-encoded by jansson (member order kept). SAKSI_ERR_FORMAT if the
 * payload is not a JSON object (duplicate members refused) or a personal member present
 * is not a string; SAKSI_ERR_TOO_LARGE for more than SAKSI_DISCLOSURES_MAX names;
 * SAKSI_ERR_INVAL for a name listed twice. Both outputs are NUL-terminated.
 */
saksi_err saksi_disclose_payload(const char *payload_json, size_t len,
                                 const char *const *personal, size_t n_personal,
                                 char **payload_out, size_t *payload_len,
                                 char **disclosures_out, size_t *disclosures_len);

/*
 * Seals a disclosures JSON array for the appliance (FORMATS.md 2.2).
 * producer: kind SIGN; appliance_box_pk: the appliance's X25519 public key.
 * plain must be a JSON array of at most SAKSI_DISCLOSURES_MAX strings (SAKSI_ERR_FORMAT,
 * SAKSI_ERR_TOO_LARGE; also for plain over 65536 bytes). SAKSI_ERR_KEY for a producer
 * that is not a signing key or a low-order appliance key; SAKSI_ERR_INVAL if outlen is
 * under 41 + plain_len.
 */
saksi_err saksi_disclosures_seal(const saksi_seckey *producer, const uint8_t appliance_box_pk[32],
                                 const uint8_t *envelope, size_t env_len,
                                 const uint8_t *plain, size_t plain_len, uint8_t *out,
                                 size_t outlen, size_t *written);
/*
 * The per-producer key K of FORMATS.md 2.2, appliance side (cache it per producer).
 * SAKSI_ERR_KEY if appliance_box is not a BOX key or the producer key is not a valid
 * Ed25519 point. key is secret: keep it in sodium_malloc'd memory.
 */
saksi_err saksi_disclosures_key(const saksi_seckey *appliance_box, const uint8_t producer_ed25519_pk[32],
                                uint8_t key[32]);
/*
 * Opens a sealed box with K; *plain malloc'd (caller frees with sodium_memzero + free),
 * with a NUL after the plain_len bytes. SAKSI_ERR_FORMAT under 41 bytes,
 * SAKSI_ERR_TOO_LARGE over SAKSI_SEALED_MAX, SAKSI_ERR_VERSION, SAKSI_ERR_DECRYPT when
 * it does not open (wrong key, other envelope, tampered).
 */
saksi_err saksi_disclosures_open(const uint8_t key[32], const uint8_t *envelope, size_t env_len,
                                 const uint8_t *sealed, size_t sealed_len, uint8_t **plain,
                                 size_t *plain_len);

/*
 * The same with SHA-256(envelope) given instead of the envelope, for a caller that has
 * hashed it already (saksid keeps the hash for its sequence table). SAKSI_ERR_INVAL for
 * a NULL pointer; otherwise the codes of saksi_disclosures_open.
 */
saksi_err saksi_disclosures_open_hashed(const uint8_t key[32], const uint8_t env_hash[32],
                                        const uint8_t *sealed, size_t sealed_len,
                                        uint8_t **plain, size_t *plain_len);

/*
 * Checks a payload against its disclosures: every top-level member whose value is
 * {"_sd": d} must have exactly one disclosure with digest d and the same name, and every
 * disclosure must be used. On success, if names/values are non-NULL, they get the decoded
 * pairs (malloc'd arrays of malloc'd strings, count *n); free with saksi_disclosures_free.
 * SAKSI_ERR_FORMAT for a malformed list, SAKSI_ERR_PROOF for a mismatch.
 * Pairs come in the order of the disclosure list; with n == 0 the arrays are NULL.
 * A payload that is not a JSON object, or an "_sd" object that is not exactly
 * {"_sd": <43 chars>}, is SAKSI_ERR_FORMAT; over SAKSI_DISCLOSURES_MAX entries is
 * SAKSI_ERR_TOO_LARGE. A disclosure listed twice is SAKSI_ERR_PROOF.
 */
saksi_err saksi_disclosures_check(const uint8_t *payload, size_t payload_len,
                                  const uint8_t *disclosures_json, size_t disclosures_len,
                                  char ***names, char ***values, size_t *n);
/*
 * saksi_disclosures_check on a payload already parsed (saksid parses each payload once,
 * strictly, for all its checks); payload is only read. The same checks, codes and
 * outputs; a NULL payload or disclosures_json is SAKSI_ERR_INVAL (with the outputs
 * cleared). Pass NULL names and values when the pairs are not wanted: nothing personal is
 * then copied.
 */
saksi_err saksi_disclosures_check_json(const json_t *payload, const uint8_t *disclosures_json,
                                       size_t disclosures_len, char ***names, char ***values,
                                       size_t *n);
/*
 * saksi_disclosures_check_json that also hands back the disclosures decoded, as the
 * compact list of FORMATS.md 7.1 (count (1) || count x (len (2) || the disclosure's
 * base64url decoded)), in the list's order: what saksi_disc2_pack makes of the same
 * JSON, without parsing and decoding it a second time (a disclosure that passes this
 * check is canonical base64url: libsodium refuses other spellings). *list is malloc'd
 * personal data (the caller wipes and frees it), NULL when the list is empty or the
 * check fails. SAKSI_ERR_INVAL for NULL list or list_len; otherwise the same checks and
 * codes.
 */
saksi_err saksi_disclosures_check_list(const json_t *payload, const uint8_t *disclosures_json,
                                       size_t disclosures_len, char ***names, char ***values,
                                       size_t *n, uint8_t **list, size_t *list_len);
/* Wipes the values (personal data) and frees everything; NULL arrays are fine. */
void saksi_disclosures_free(char **names, char **values, size_t n);

#endif
