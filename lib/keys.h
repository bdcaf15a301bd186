/*
 * keys.h: saksi key files (FORMATS.md section 1) and the producer keyring.
 * Secret key material lives only in sodium_malloc'd memory owned by a saksi_seckey and is
 * wiped by saksi_seckey_free. Secret files are created O_CREAT|O_EXCL|O_NOFOLLOW, mode
 * 0600, through a temporary file and rename(); a secret file readable by group or others
 * is refused with SAKSI_ERR_PERM. Thread-safe except where a handle is shared.
 */
#ifndef SAKSI_KEYS_H
#define SAKSI_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "saksi_error.h"

#define SAKSI_KEYID_LEN 8

enum saksi_key_kind {
	SAKSI_KEY_SIGN = 1, /* Ed25519 */
	SAKSI_KEY_BOX = 2,  /* X25519 */
	SAKSI_KEY_SYM = 3,  /* 32-byte symmetric key */
};

typedef struct saksi_pubkey {
	uint8_t pk_kind;
	uint8_t pk_id[SAKSI_KEYID_LEN];
	uint8_t pk_key[32];
} saksi_pubkey;

/* Opaque: the secret half lives in guarded memory. */
typedef struct saksi_seckey saksi_seckey;

/* key_id = SHA-256("saksi/keyid/v1\n" || pk)[:8]. */
void saksi_key_id(const uint8_t pk[32], uint8_t id[SAKSI_KEYID_LEN]);

/* Generates a new key of `kind`. *out is owned by the caller (saksi_seckey_free). */
saksi_err saksi_seckey_generate(int kind, saksi_seckey **out);
/*
 * Builds a key from its 32-byte secret as stored in a key file: the Ed25519 seed (SIGN),
 * the X25519 scalar (BOX) or the symmetric key (SYM, which gets a random key id). For
 * deterministic test keys and test vectors; the caller wipes `secret`.
 * SAKSI_ERR_INVAL for an unknown kind.
 */
saksi_err saksi_seckey_from_secret(int kind, const uint8_t secret[32], saksi_seckey **out);
void saksi_seckey_free(saksi_seckey *k);
int saksi_seckey_kind(const saksi_seckey *k);
const uint8_t *saksi_seckey_id(const saksi_seckey *k);
/* The public half; SAKSI_ERR_KEY for a symmetric key. */
saksi_err saksi_seckey_public(const saksi_seckey *k, saksi_pubkey *pub);
/*
 * Pointers into guarded memory, valid until saksi_seckey_free: the 64-byte libsodium
 * Ed25519 secret key (kind SIGN), the 32-byte X25519 secret (kind BOX), the 32-byte
 * symmetric key (kind SYM). NULL for the wrong kind.
 */
const uint8_t *saksi_seckey_ed25519(const saksi_seckey *k);
const uint8_t *saksi_seckey_x25519(const saksi_seckey *k);
const uint8_t *saksi_seckey_sym(const saksi_seckey *k);

/*
 * Writes the secret key file `path` (mode 0600, must not exist: SAKSI_ERR_EXISTS).
 * passphrase NULL or "" means no kdf. comment: one line, may be NULL.
 */
saksi_err saksi_seckey_save(const saksi_seckey *k, const char *path, const char *passphrase,
                            const char *comment);
/*
 * As saksi_seckey_save, with explicit Argon2id limits (saksi_seckey_save uses libsodium's
 * OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE). Limits outside
 * [crypto_pwhash_OPSLIMIT_MIN, SAKSI_KDF_OPSLIMIT_MAX] x
 * [crypto_pwhash_MEMLIMIT_MIN, SAKSI_KDF_MEMLIMIT_MAX] are SAKSI_ERR_INVAL. Ignored
 * without a passphrase. Other errors: SAKSI_ERR_EXISTS, SAKSI_ERR_IO, SAKSI_ERR_NOMEM,
 * SAKSI_ERR_INVAL (comment with a line break).
 */
#define SAKSI_KDF_OPSLIMIT_MAX 16ULL
#define SAKSI_KDF_MEMLIMIT_MAX (1ULL << 30)
saksi_err saksi_seckey_save_kdf(const saksi_seckey *k, const char *path, const char *passphrase,
                                const char *comment, uint64_t opslimit, uint64_t memlimit);
/*
 * Reads a secret key file. SAKSI_ERR_PERM if group/other may read it, SAKSI_ERR_PASSPHRASE
 * if it does not decrypt, SAKSI_ERR_FORMAT/VERSION for a bad file. A protected file
 * without a passphrase given gives SAKSI_ERR_PASSPHRASE.
 * Also: SAKSI_ERR_NOT_FOUND (no file), SAKSI_ERR_PERM (path is a symlink), SAKSI_ERR_IO,
 * SAKSI_ERR_TOO_LARGE (kdf limits above the SAKSI_KDF_*_MAX caps: a file must not make
 * us spend unbounded memory or time), SAKSI_ERR_KEY (key id does not match the key).
 * The secret is kept read-only (sodium_mprotect_readonly) once loaded.
 */
saksi_err saksi_seckey_load(const char *path, const char *passphrase, saksi_seckey **out);
/* 1 if the file at path is passphrase-protected, 0 if not; <0 on error. */
int saksi_seckey_file_is_protected(const char *path);

/*
 * Public key blob (44 bytes) and file (FORMATS.md 1.2). encode: b64len >= 61
 * (SAKSI_PUBKEY_B64_LEN + 1), else SAKSI_ERR_INVAL. decode: SAKSI_ERR_FORMAT, _VERSION
 * (unknown version or kind), _KEY (key id does not match the key). save: mode 0644,
 * SAKSI_ERR_EXISTS if path exists. load: the file must be exactly the two lines.
 */
#define SAKSI_PUBKEY_B64_LEN 60
saksi_err saksi_pubkey_encode(const saksi_pubkey *pub, char *b64, size_t b64len);
saksi_err saksi_pubkey_decode(const char *b64, saksi_pubkey *pub);
saksi_err saksi_pubkey_save(const saksi_pubkey *pub, const char *path, const char *comment);
saksi_err saksi_pubkey_load(const char *path, saksi_pubkey *pub);

/* The producer keyring (FORMATS.md 1.5). Immutable once loaded: safe to share read-only. */
typedef struct saksi_keyring saksi_keyring;

typedef struct saksi_keyring_entry {
	const char *ke_name;
	saksi_pubkey ke_pub;
	const char *ke_role;
	const char *ke_branch;  /* "*" for any */
	int64_t ke_revoked_ms;  /* -1: not revoked */
} saksi_keyring_entry;

/*
 * Loads and validates a keyring file. On SAKSI_ERR_FORMAT, errbuf (if non-NULL) says what
 * and where, e.g. "keys[3].role: role \"x\" is not defined".
 * Every member shown in FORMATS.md 1.5 is required ("revoked_ms" may be null), unknown
 * members are refused, key_id must be the id derived from public_key (an Ed25519 key),
 * key ids and names are unique, roles referenced must exist, patterns are an exact type
 * or "prefix.*". SAKSI_ERR_VERSION for a saksi_keyring other than 1.
 */
saksi_err saksi_keyring_load(const char *path, saksi_keyring **out, char *errbuf,
                             size_t errlen);
saksi_err saksi_keyring_parse(const char *json, size_t len, saksi_keyring **out,
                              char *errbuf, size_t errlen);
void saksi_keyring_free(saksi_keyring *kr);
/* The entry for key id, or NULL. Pointer valid while kr lives. */
const saksi_keyring_entry *saksi_keyring_find(const saksi_keyring *kr,
                                              const uint8_t id[SAKSI_KEYID_LEN]);
/* 1 if role `role` may sign events of `type`, else 0. */
int saksi_keyring_role_allows(const saksi_keyring *kr, const char *role, const char *type);
size_t saksi_keyring_count(const saksi_keyring *kr);
const saksi_keyring_entry *saksi_keyring_at(const saksi_keyring *kr, size_t i);

#endif
