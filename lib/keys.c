/*
 * keys.c: key ids, public and secret key files (FORMATS.md 1.1-1.3) and the producer
 * keyring (1.5). Secret bytes never leave sodium_malloc'd memory; a key file is never
 * overwritten and never created through check-then-create.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "b64.h"
#include "bytes.h"
#include "keys.h"

#define KEYID_DOMAIN "saksi/keyid/v1\n"
#define COMMENT_PREFIX "untrusted comment: "
#define KEYFILE_MAX 4096            /* a key file is two short lines */
#define KEYRING_MAX (16u << 20)     /* far above any national deployment */
#define NAME_MAX_LEN 64

/* Secret key blob, FORMATS.md 1.3. */
#define SB_LEN 138
#define SB_OFF_KIND 3
#define SB_OFF_ID 4
#define SB_OFF_KDF 12
#define SB_OFF_OPS 13
#define SB_OFF_MEM 21
#define SB_OFF_SALT 29
#define SB_OFF_NONCE 45
#define SB_OFF_CT 69
#define SB_OFF_RSV 117
#define SB_AD_LEN 45
#define SB_CT_LEN (32 + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define SB_B64_LEN 184

/* Public key blob, FORMATS.md 1.2. */
#define PB_LEN 44

#define KDF_NONE 0
#define KDF_ARGON2ID 1

struct saksi_seckey {
	int sk_kind;
	uint8_t sk_id[SAKSI_KEYID_LEN];
	uint8_t sk_pk[32];        /* public half (SIGN, BOX); zero for SYM */
	uint8_t *sk_secret;       /* sodium_malloc'd: 64 bytes for SIGN, 32 otherwise */
};

struct kr_role {
	char *kro_name;
	char **kro_pats;
	size_t kro_npats;
};

struct saksi_keyring {
	saksi_keyring_entry *kr_entries;     /* file order */
	size_t kr_n;
	const saksi_keyring_entry **kr_by_id; /* sorted by key id, for bsearch */
	struct kr_role *kr_roles;
	size_t kr_nroles;
};

void
saksi_key_id(const uint8_t pk[32], uint8_t id[SAKSI_KEYID_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)KEYID_DOMAIN, strlen(KEYID_DOMAIN));
	crypto_hash_sha256_update(&st, pk, 32);
	crypto_hash_sha256_final(&st, h);
	memcpy(id, h, SAKSI_KEYID_LEN);
}

static saksi_err
seckey_alloc(int kind, saksi_seckey **out)
{
	saksi_seckey *k;

	if (kind != SAKSI_KEY_SIGN && kind != SAKSI_KEY_BOX && kind != SAKSI_KEY_SYM)
		return SAKSI_ERR_INVAL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return SAKSI_ERR_NOMEM;
	if ((k->sk_secret = sodium_malloc(64)) == NULL) {
		free(k);
		return SAKSI_ERR_NOMEM;
	}
	sodium_memzero(k->sk_secret, 64);
	k->sk_kind = kind;
	*out = k;
	return SAKSI_OK;
}

/* Fills k from its 32-byte file secret; the secret is then made read-only. */
static saksi_err
seckey_fill(saksi_seckey *k, const uint8_t secret[32])
{
	switch (k->sk_kind) {
	case SAKSI_KEY_SIGN:
		if (crypto_sign_seed_keypair(k->sk_pk, k->sk_secret, secret) != 0)
			return SAKSI_ERR_KEY;
		saksi_key_id(k->sk_pk, k->sk_id);
		break;
	case SAKSI_KEY_BOX:
		memcpy(k->sk_secret, secret, 32);
		if (crypto_scalarmult_base(k->sk_pk, k->sk_secret) != 0)
			return SAKSI_ERR_KEY;
		saksi_key_id(k->sk_pk, k->sk_id);
		break;
	case SAKSI_KEY_SYM:
		memcpy(k->sk_secret, secret, 32);
		break;
	default:
		return SAKSI_ERR_INVAL;
	}
	sodium_mprotect_readonly(k->sk_secret);
	return SAKSI_OK;
}

saksi_err
saksi_seckey_from_secret(int kind, const uint8_t secret[32], saksi_seckey **out)
{
	saksi_seckey *k;
	saksi_err err;

	if (secret == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if ((err = seckey_alloc(kind, &k)) != SAKSI_OK)
		return err;
	if (kind == SAKSI_KEY_SYM)
		randombytes_buf(k->sk_id, sizeof(k->sk_id));
	if ((err = seckey_fill(k, secret)) != SAKSI_OK) {
		saksi_seckey_free(k);
		return err;
	}
	*out = k;
	return SAKSI_OK;
}

saksi_err
saksi_seckey_generate(int kind, saksi_seckey **out)
{
	uint8_t *secret;
	saksi_err err;

	if (out == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if (kind != SAKSI_KEY_SIGN && kind != SAKSI_KEY_BOX && kind != SAKSI_KEY_SYM)
		return SAKSI_ERR_INVAL;
	if ((secret = sodium_malloc(32)) == NULL)
		return SAKSI_ERR_NOMEM;
	randombytes_buf(secret, 32);
	err = saksi_seckey_from_secret(kind, secret, out);
	sodium_free(secret);
	return err;
}

void
saksi_seckey_free(saksi_seckey *k)
{
	if (k == NULL)
		return;
	sodium_free(k->sk_secret);
	free(k);
}

int
saksi_seckey_kind(const saksi_seckey *k)
{
	return k->sk_kind;
}

const uint8_t *
saksi_seckey_id(const saksi_seckey *k)
{
	return k->sk_id;
}

saksi_err
saksi_seckey_public(const saksi_seckey *k, saksi_pubkey *pub)
{
	if (k == NULL || pub == NULL)
		return SAKSI_ERR_INVAL;
	if (k->sk_kind == SAKSI_KEY_SYM)
		return SAKSI_ERR_KEY;
	pub->pk_kind = (uint8_t)k->sk_kind;
	memcpy(pub->pk_id, k->sk_id, SAKSI_KEYID_LEN);
	memcpy(pub->pk_key, k->sk_pk, 32);
	return SAKSI_OK;
}

const uint8_t *
saksi_seckey_ed25519(const saksi_seckey *k)
{
	return k != NULL && k->sk_kind == SAKSI_KEY_SIGN ? k->sk_secret : NULL;
}

const uint8_t *
saksi_seckey_x25519(const saksi_seckey *k)
{
	return k != NULL && k->sk_kind == SAKSI_KEY_BOX ? k->sk_secret : NULL;
}

const uint8_t *
saksi_seckey_sym(const saksi_seckey *k)
{
	return k != NULL && k->sk_kind == SAKSI_KEY_SYM ? k->sk_secret : NULL;
}

/* ---- files ---- */

static int
comment_ok(const char *c)
{
	return c == NULL || (strchr(c, '\n') == NULL && strchr(c, '\r') == NULL &&
	                     strlen(c) < 1024);
}

static saksi_err
write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return SAKSI_ERR_IO;
		}
		p += w;
		len -= (size_t)w;
	}
	return SAKSI_OK;
}

/* The directory part of path ("." if none), so that it can be fsync'd. */
static int
open_parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (slash == NULL)
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (slash == path)
		return open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if ((dir = strndup(path, (size_t)(slash - path))) == NULL)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	return fd;
}

/*
 * Creates path with exactly data, never replacing anything there (signify's way): a
 * fresh temporary file beside it, O_EXCL|O_NOFOLLOW, synced, then moved into place with
 * a no-replace rename (or link+unlink where the file system lacks it), then the directory
 * is synced. A crash leaves either nothing or the whole file, plus maybe a stray tmp.
 */
static saksi_err
write_new_file(const char *path, const uint8_t *data, size_t len, mode_t mode)
{
	uint8_t rnd[8];
	char hex[sizeof(rnd) * 2 + 1];
	char *tmp = NULL;
	size_t tlen;
	int fd = -1, dfd, tries;
	saksi_err err = SAKSI_ERR_IO;

	tlen = strlen(path) + 6 + sizeof(hex);
	if ((tmp = malloc(tlen)) == NULL)
		return SAKSI_ERR_NOMEM;
	for (tries = 0; tries < 8; tries++) {
		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
		snprintf(tmp, tlen, "%s.tmp-%s", path, hex);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		free(tmp);
		return SAKSI_ERR_IO;
	}
	/* umask may only have narrowed the mode; make it exactly what was asked. */
	if (fchmod(fd, mode) != 0)
		goto fail;
	if ((err = write_all(fd, data, len)) != SAKSI_OK)
		goto fail;
	err = SAKSI_ERR_IO;
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) != 0) {
		if (errno == EEXIST) {
			err = SAKSI_ERR_EXISTS;
			goto fail;
		}
		if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
			goto fail;
		if (link(tmp, path) != 0) {
			if (errno == EEXIST)
				err = SAKSI_ERR_EXISTS;
			goto fail;
		}
		unlink(tmp);
	}
	free(tmp);
	if ((dfd = open_parent_dir(path)) < 0)
		return SAKSI_ERR_IO;
	err = fsync(dfd) == 0 ? SAKSI_OK : SAKSI_ERR_IO;
	close(dfd);
	return err;

fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return err;
}

/*
 * Reads a small key file into buf (NUL-terminated). For secret files (secret != 0) the
 * path must not be a symlink and group/other must have no access at all.
 */
static saksi_err
read_key_file(const char *path, int secret, char *buf, size_t buflen, size_t *len)
{
	struct stat st;
	size_t off = 0;
	int fd, flags = O_RDONLY | O_CLOEXEC;
	saksi_err err = SAKSI_OK;

	if (secret)
		flags |= O_NOFOLLOW;
	if ((fd = open(path, flags)) < 0) {
		if (errno == ENOENT)
			return SAKSI_ERR_NOT_FOUND;
		if (errno == ELOOP)
			return SAKSI_ERR_PERM;
		return SAKSI_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		err = SAKSI_ERR_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = SAKSI_ERR_FORMAT;
		goto out;
	}
	if (secret && (st.st_mode & 077) != 0) {
		err = SAKSI_ERR_PERM;
		goto out;
	}
	for (;;) {
		ssize_t r;
		if (off == buflen - 1) {
			char c;
			r = read(fd, &c, 1);
			if (r == 0)
				break;
			err = r < 0 ? SAKSI_ERR_IO : SAKSI_ERR_TOO_LARGE;
			goto out;
		}
		r = read(fd, buf + off, buflen - 1 - off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = SAKSI_ERR_IO;
			goto out;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	buf[off] = '\0';
	*len = off;
out:
	close(fd);
	return err;
}

/*
 * Splits "untrusted comment: ...\n<base64>\n" and decodes the base64 line into exactly
 * bloblen bytes. Strict: the comment line, one base64 line, nothing after.
 */
static saksi_err
parse_key_text(const char *text, size_t len, uint8_t *blob, size_t bloblen)
{
	const char *nl, *b64, *end;
	size_t plen = strlen(COMMENT_PREFIX), binlen;
	const char *b64_end;

	if (len < plen || memcmp(text, COMMENT_PREFIX, plen) != 0)
		return SAKSI_ERR_FORMAT;
	if (memchr(text, '\0', len) != NULL)
		return SAKSI_ERR_FORMAT;
	if ((nl = memchr(text, '\n', len)) == NULL)
		return SAKSI_ERR_FORMAT;
	b64 = nl + 1;
	end = text + len;
	if ((nl = memchr(b64, '\n', (size_t)(end - b64))) == NULL || nl + 1 != end)
		return SAKSI_ERR_FORMAT;
	if (saksi_base642bin(blob, bloblen, b64, (size_t)(nl - b64), NULL, &binlen,
	                      &b64_end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    b64_end != nl || binlen != bloblen)
		return SAKSI_ERR_FORMAT;
	return SAKSI_OK;
}

/* "untrusted comment: <comment>\n<base64 blob>\n" into out. */
static saksi_err
format_key_text(const char *comment, const uint8_t *blob, size_t bloblen, char *out,
                size_t outlen, size_t *written)
{
	int n;
	size_t b64len = sodium_base64_ENCODED_LEN(bloblen, sodium_base64_VARIANT_ORIGINAL);

	n = snprintf(out, outlen, "%s%s\n", COMMENT_PREFIX, comment);
	if (n < 0 || (size_t)n + b64len + 1 > outlen)
		return SAKSI_ERR_INVAL;
	sodium_bin2base64(out + n, b64len, blob, bloblen, sodium_base64_VARIANT_ORIGINAL);
	strcat(out + n, "\n");
	*written = (size_t)n + b64len; /* b64len counts the NUL, which "\n" replaced */
	return SAKSI_OK;
}

saksi_err
saksi_seckey_save_kdf(const saksi_seckey *k, const char *path, const char *passphrase,
                      const char *comment, uint64_t opslimit, uint64_t memlimit)
{
	uint8_t blob[SB_LEN];
	uint8_t *aead_key = NULL, *secret;
	char *text = NULL;
	char defcomment[64], idhex[SAKSI_KEYID_LEN * 2 + 1];
	size_t textlen = 0, textcap = 1024 + 32 + SB_B64_LEN + 2;
	unsigned long long ctlen;
	int kdf = passphrase != NULL && passphrase[0] != '\0';
	saksi_err err;

	if (k == NULL || path == NULL || !comment_ok(comment))
		return SAKSI_ERR_INVAL;
	if (kdf && (opslimit < crypto_pwhash_OPSLIMIT_MIN || opslimit > SAKSI_KDF_OPSLIMIT_MAX ||
	            memlimit < crypto_pwhash_MEMLIMIT_MIN || memlimit > SAKSI_KDF_MEMLIMIT_MAX))
		return SAKSI_ERR_INVAL;
	if (comment == NULL) {
		sodium_bin2hex(idhex, sizeof(idhex), k->sk_id, SAKSI_KEYID_LEN);
		snprintf(defcomment, sizeof(defcomment), "saksi secret key %s", idhex);
		comment = defcomment;
	}

	memset(blob, 0, sizeof(blob));
	blob[0] = 'S';
	blob[1] = 'S';
	blob[2] = 1;
	blob[SB_OFF_KIND] = (uint8_t)k->sk_kind;
	memcpy(blob + SB_OFF_ID, k->sk_id, SAKSI_KEYID_LEN);
	randombytes_buf(blob + SB_OFF_NONCE, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);

	if ((aead_key = sodium_malloc(32)) == NULL)
		return SAKSI_ERR_NOMEM;
	sodium_memzero(aead_key, 32);
	if (kdf) {
		blob[SB_OFF_KDF] = KDF_ARGON2ID;
		saksi_put_u64(blob + SB_OFF_OPS, opslimit);
		saksi_put_u64(blob + SB_OFF_MEM, memlimit);
		randombytes_buf(blob + SB_OFF_SALT, crypto_pwhash_SALTBYTES);
		if (crypto_pwhash(aead_key, 32, passphrase, strlen(passphrase),
		                  blob + SB_OFF_SALT, opslimit, (size_t)memlimit,
		                  crypto_pwhash_ALG_ARGON2ID13) != 0) {
			err = SAKSI_ERR_NOMEM;
			goto out;
		}
	}
	/* The file keeps the 32-byte seed: the 64-byte libsodium form is seed || pk. */
	secret = k->sk_secret;
	crypto_aead_xchacha20poly1305_ietf_encrypt(blob + SB_OFF_CT, &ctlen, secret, 32, blob,
	                                           SB_AD_LEN, NULL, blob + SB_OFF_NONCE,
	                                           aead_key);
	if ((text = sodium_malloc(textcap)) == NULL) {
		err = SAKSI_ERR_NOMEM;
		goto out;
	}
	if ((err = format_key_text(comment, blob, sizeof(blob), text, textcap, &textlen)) !=
	    SAKSI_OK)
		goto out;
	err = write_new_file(path, (const uint8_t *)text, textlen, 0600);
out:
	sodium_free(text);
	sodium_free(aead_key);
	sodium_memzero(blob, sizeof(blob));
	return err;
}

saksi_err
saksi_seckey_save(const saksi_seckey *k, const char *path, const char *passphrase,
                  const char *comment)
{
	return saksi_seckey_save_kdf(k, path, passphrase, comment,
	                             crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

/* Reads and checks the fixed fields of a secret key file; no decryption. */
static saksi_err
read_secret_blob(const char *path, int check_perm, uint8_t blob[SB_LEN])
{
	char buf[KEYFILE_MAX];
	size_t len, i;
	saksi_err err;
	uint64_t ops, mem;

	if ((err = read_key_file(path, check_perm, buf, sizeof(buf), &len)) != SAKSI_OK)
		return err;
	err = parse_key_text(buf, len, blob, SB_LEN);
	sodium_memzero(buf, sizeof(buf));
	if (err != SAKSI_OK)
		return err;
	if (blob[0] != 'S' || blob[1] != 'S')
		return SAKSI_ERR_FORMAT;
	if (blob[2] != 1)
		return SAKSI_ERR_VERSION;
	if (blob[SB_OFF_KIND] < SAKSI_KEY_SIGN || blob[SB_OFF_KIND] > SAKSI_KEY_SYM)
		return SAKSI_ERR_VERSION;
	for (i = SB_OFF_RSV; i < SB_LEN; i++)
		if (blob[i] != 0)
			return SAKSI_ERR_FORMAT;
	ops = saksi_get_u64(blob + SB_OFF_OPS);
	mem = saksi_get_u64(blob + SB_OFF_MEM);
	switch (blob[SB_OFF_KDF]) {
	case KDF_NONE:
		if (ops != 0 || mem != 0 || !sodium_is_zero(blob + SB_OFF_SALT, 16))
			return SAKSI_ERR_FORMAT;
		break;
	case KDF_ARGON2ID:
		if (ops < crypto_pwhash_OPSLIMIT_MIN || mem < crypto_pwhash_MEMLIMIT_MIN)
			return SAKSI_ERR_FORMAT;
		if (ops > SAKSI_KDF_OPSLIMIT_MAX || mem > SAKSI_KDF_MEMLIMIT_MAX)
			return SAKSI_ERR_TOO_LARGE;
		break;
	default:
		return SAKSI_ERR_VERSION;
	}
	return SAKSI_OK;
}

saksi_err
saksi_seckey_load(const char *path, const char *passphrase, saksi_seckey **out)
{
	uint8_t blob[SB_LEN];
	uint8_t *aead_key = NULL, *secret = NULL;
	saksi_seckey *k = NULL;
	saksi_err err;

	if (path == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if ((err = read_secret_blob(path, 1, blob)) != SAKSI_OK)
		return err;
	if (blob[SB_OFF_KDF] == KDF_ARGON2ID && (passphrase == NULL || passphrase[0] == '\0'))
		return SAKSI_ERR_PASSPHRASE;
	aead_key = sodium_malloc(32);
	secret = sodium_malloc(32);
	if (aead_key == NULL || secret == NULL) {
		err = SAKSI_ERR_NOMEM;
		goto out;
	}
	sodium_memzero(aead_key, 32);
	if (blob[SB_OFF_KDF] == KDF_ARGON2ID &&
	    crypto_pwhash(aead_key, 32, passphrase, strlen(passphrase), blob + SB_OFF_SALT,
	                  saksi_get_u64(blob + SB_OFF_OPS),
	                  (size_t)saksi_get_u64(blob + SB_OFF_MEM),
	                  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		err = SAKSI_ERR_NOMEM;
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(secret, NULL, NULL, blob + SB_OFF_CT,
	                                               SB_CT_LEN, blob, SB_AD_LEN,
	                                               blob + SB_OFF_NONCE, aead_key) != 0) {
		err = SAKSI_ERR_PASSPHRASE;
		goto out;
	}
	if ((err = seckey_alloc(blob[SB_OFF_KIND], &k)) != SAKSI_OK)
		goto out;
	if (k->sk_kind == SAKSI_KEY_SYM)
		memcpy(k->sk_id, blob + SB_OFF_ID, SAKSI_KEYID_LEN);
	if ((err = seckey_fill(k, secret)) != SAKSI_OK)
		goto out;
	/* A file whose id does not name its key would make us sign as someone else. */
	if (memcmp(k->sk_id, blob + SB_OFF_ID, SAKSI_KEYID_LEN) != 0) {
		err = SAKSI_ERR_KEY;
		goto out;
	}
	*out = k;
	k = NULL;
out:
	saksi_seckey_free(k);
	sodium_free(secret);
	sodium_free(aead_key);
	return err;
}

int
saksi_seckey_file_is_protected(const char *path)
{
	uint8_t blob[SB_LEN];
	saksi_err err;

	if (path == NULL)
		return -(int)SAKSI_ERR_INVAL;
	if ((err = read_secret_blob(path, 0, blob)) != SAKSI_OK)
		return -(int)err;
	return blob[SB_OFF_KDF] == KDF_ARGON2ID;
}

saksi_err
saksi_pubkey_encode(const saksi_pubkey *pub, char *b64, size_t b64len)
{
	uint8_t blob[PB_LEN];

	if (pub == NULL || b64 == NULL || b64len < SAKSI_PUBKEY_B64_LEN + 1)
		return SAKSI_ERR_INVAL;
	if (pub->pk_kind != SAKSI_KEY_SIGN && pub->pk_kind != SAKSI_KEY_BOX)
		return SAKSI_ERR_INVAL;
	blob[0] = 'S';
	blob[1] = 'P';
	blob[2] = 1;
	blob[3] = pub->pk_kind;
	memcpy(blob + 4, pub->pk_id, SAKSI_KEYID_LEN);
	memcpy(blob + 12, pub->pk_key, 32);
	sodium_bin2base64(b64, b64len, blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
	return SAKSI_OK;
}

static saksi_err
pubkey_from_blob(const uint8_t blob[PB_LEN], saksi_pubkey *pub)
{
	uint8_t id[SAKSI_KEYID_LEN];

	if (blob[0] != 'S' || blob[1] != 'P')
		return SAKSI_ERR_FORMAT;
	if (blob[2] != 1)
		return SAKSI_ERR_VERSION;
	if (blob[3] != SAKSI_KEY_SIGN && blob[3] != SAKSI_KEY_BOX)
		return SAKSI_ERR_VERSION;
	saksi_key_id(blob + 12, id);
	if (memcmp(id, blob + 4, SAKSI_KEYID_LEN) != 0)
		return SAKSI_ERR_KEY;
	pub->pk_kind = blob[3];
	memcpy(pub->pk_id, blob + 4, SAKSI_KEYID_LEN);
	memcpy(pub->pk_key, blob + 12, 32);
	return SAKSI_OK;
}

saksi_err
saksi_pubkey_decode(const char *b64, saksi_pubkey *pub)
{
	uint8_t blob[PB_LEN];
	size_t binlen, len;
	const char *end;

	if (b64 == NULL || pub == NULL)
		return SAKSI_ERR_INVAL;
	len = strlen(b64);
	if (len != SAKSI_PUBKEY_B64_LEN ||
	    saksi_base642bin(blob, sizeof(blob), b64, len, NULL, &binlen, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != b64 + len || binlen != sizeof(blob))
		return SAKSI_ERR_FORMAT;
	return pubkey_from_blob(blob, pub);
}

saksi_err
saksi_pubkey_save(const saksi_pubkey *pub, const char *path, const char *comment)
{
	uint8_t blob[PB_LEN];
	char text[1024 + 32 + SAKSI_PUBKEY_B64_LEN + 2], defcomment[64];
	char idhex[SAKSI_KEYID_LEN * 2 + 1];
	size_t len;
	saksi_err err;

	if (pub == NULL || path == NULL || !comment_ok(comment))
		return SAKSI_ERR_INVAL;
	if (pub->pk_kind != SAKSI_KEY_SIGN && pub->pk_kind != SAKSI_KEY_BOX)
		return SAKSI_ERR_INVAL;
	if (comment == NULL) {
		sodium_bin2hex(idhex, sizeof(idhex), pub->pk_id, SAKSI_KEYID_LEN);
		snprintf(defcomment, sizeof(defcomment), "saksi public key %s", idhex);
		comment = defcomment;
	}
	blob[0] = 'S';
	blob[1] = 'P';
	blob[2] = 1;
	blob[3] = pub->pk_kind;
	memcpy(blob + 4, pub->pk_id, SAKSI_KEYID_LEN);
	memcpy(blob + 12, pub->pk_key, 32);
	if ((err = format_key_text(comment, blob, sizeof(blob), text, sizeof(text), &len)) !=
	    SAKSI_OK)
		return err;
	return write_new_file(path, (const uint8_t *)text, len, 0644);
}

saksi_err
saksi_pubkey_load(const char *path, saksi_pubkey *pub)
{
	char buf[KEYFILE_MAX];
	uint8_t blob[PB_LEN];
	size_t len;
	saksi_err err;

	if (path == NULL || pub == NULL)
		return SAKSI_ERR_INVAL;
	if ((err = read_key_file(path, 0, buf, sizeof(buf), &len)) != SAKSI_OK)
		return err;
	if ((err = parse_key_text(buf, len, blob, sizeof(blob))) != SAKSI_OK)
		return err;
	return pubkey_from_blob(blob, pub);
}

/* ---- keyring ---- */

__attribute__((format(printf, 3, 4))) static void
kr_error(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	/* Messages quote member names from the file: keep them to one printable line, so a
	 * keyring cannot write lines of its own into the daemon's log. */
	for (char *c = errbuf; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

/* Names of keys and roles, branch codes: [A-Za-z0-9._-]{1,64}. */
static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_LEN)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/* An event type pattern: an exact type, or "prefix.*" with prefix a type. */
static int
pattern_ok(const char *p)
{
	size_t n = strlen(p), i;

	if (n >= 2 && p[n - 2] == '.' && p[n - 1] == '*')
		n -= 2;
	if (n == 0 || n > 64 || p[0] == '.' || p[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') ||
		      p[i] == '_' || p[i] == '.'))
			return 0;
	return 1;
}

static int
pattern_match(const char *pat, const char *type)
{
	size_t n = strlen(pat);

	if (n >= 2 && pat[n - 1] == '*')
		return strncmp(pat, type, n - 1) == 0 && type[n - 1] != '\0';
	return strcmp(pat, type) == 0;
}

void
saksi_keyring_free(saksi_keyring *kr)
{
	size_t i, j;

	if (kr == NULL)
		return;
	for (i = 0; i < kr->kr_n; i++) {
		free((char *)kr->kr_entries[i].ke_name);
		free((char *)kr->kr_entries[i].ke_role);
		free((char *)kr->kr_entries[i].ke_branch);
	}
	free(kr->kr_entries);
	free(kr->kr_by_id);
	for (i = 0; i < kr->kr_nroles; i++) {
		for (j = 0; j < kr->kr_roles[i].kro_npats; j++)
			free(kr->kr_roles[i].kro_pats[j]);
		free(kr->kr_roles[i].kro_pats);
		free(kr->kr_roles[i].kro_name);
	}
	free(kr->kr_roles);
	free(kr);
}

static const struct kr_role *
find_role(const saksi_keyring *kr, const char *name)
{
	size_t i;

	for (i = 0; i < kr->kr_nroles; i++)
		if (strcmp(kr->kr_roles[i].kro_name, name) == 0)
			return &kr->kr_roles[i];
	return NULL;
}

static saksi_err
parse_roles(saksi_keyring *kr, json_t *roles, char *errbuf, size_t errlen)
{
	const char *name;
	json_t *pats, *p;
	size_t i, n = json_object_size(roles);

	if ((kr->kr_roles = calloc(n ? n : 1, sizeof(*kr->kr_roles))) == NULL)
		return SAKSI_ERR_NOMEM;
	json_object_foreach(roles, name, pats) {
		struct kr_role *r = &kr->kr_roles[kr->kr_nroles];

		if (!name_ok(name)) {
			kr_error(errbuf, errlen, "roles: role name \"%.64s\" must be 1-64 of "
			         "[A-Za-z0-9._-]", name);
			return SAKSI_ERR_FORMAT;
		}
		if (!json_is_array(pats)) {
			kr_error(errbuf, errlen, "roles.%s: must be an array of type patterns", name);
			return SAKSI_ERR_FORMAT;
		}
		if ((r->kro_name = strdup(name)) == NULL)
			return SAKSI_ERR_NOMEM;
		kr->kr_nroles++;
		if ((r->kro_pats = calloc(json_array_size(pats) + 1, sizeof(char *))) == NULL)
			return SAKSI_ERR_NOMEM;
		json_array_foreach(pats, i, p) {
			if (!json_is_string(p) || !pattern_ok(json_string_value(p))) {
				kr_error(errbuf, errlen, "roles.%s[%zu]: must be an event type or "
				         "\"prefix.*\" of [a-z0-9_.]", name, i);
				return SAKSI_ERR_FORMAT;
			}
			if ((r->kro_pats[i] = strdup(json_string_value(p))) == NULL)
				return SAKSI_ERR_NOMEM;
			r->kro_npats++;
		}
	}
	return SAKSI_OK;
}

static const char *const key_members[] = {
	"name", "key_id", "public_key", "role", "branch", "revoked_ms",
};

static saksi_err
parse_key(saksi_keyring *kr, size_t idx, json_t *o, char *errbuf, size_t errlen)
{
	saksi_keyring_entry *e = &kr->kr_entries[idx];
	const char *member, *s;
	json_t *v;
	uint8_t id[SAKSI_KEYID_LEN];
	size_t i, binlen;
	const char *hexend;
	saksi_err err;

	if (!json_is_object(o)) {
		kr_error(errbuf, errlen, "keys[%zu]: must be an object", idx);
		return SAKSI_ERR_FORMAT;
	}
	json_object_foreach(o, member, v) {
		for (i = 0; i < sizeof(key_members) / sizeof(key_members[0]); i++)
			if (strcmp(member, key_members[i]) == 0)
				break;
		if (i == sizeof(key_members) / sizeof(key_members[0])) {
			kr_error(errbuf, errlen, "keys[%zu].%.64s: unknown member", idx, member);
			return SAKSI_ERR_FORMAT;
		}
	}
	for (i = 0; i < sizeof(key_members) / sizeof(key_members[0]); i++) {
		if (json_object_get(o, key_members[i]) == NULL) {
			kr_error(errbuf, errlen, "keys[%zu].%s: missing", idx, key_members[i]);
			return SAKSI_ERR_FORMAT;
		}
		/* All but the last (revoked_ms) are strings. */
		if (i + 1 < sizeof(key_members) / sizeof(key_members[0]) &&
		    !json_is_string(json_object_get(o, key_members[i]))) {
			kr_error(errbuf, errlen, "keys[%zu].%s: must be a string", idx,
			         key_members[i]);
			return SAKSI_ERR_FORMAT;
		}
	}

	s = json_string_value(json_object_get(o, "name"));
	if (!name_ok(s)) {
		kr_error(errbuf, errlen, "keys[%zu].name: must be 1-64 of [A-Za-z0-9._-]", idx);
		return SAKSI_ERR_FORMAT;
	}
	if ((e->ke_name = strdup(s)) == NULL)
		return SAKSI_ERR_NOMEM;

	s = json_string_value(json_object_get(o, "public_key"));
	if ((err = saksi_pubkey_decode(s, &e->ke_pub)) != SAKSI_OK) {
		kr_error(errbuf, errlen, "keys[%zu].public_key: %s", idx,
		         err == SAKSI_ERR_KEY ? "the key id in the blob is not this key's id"
		                              : "not a saksi public key blob (base64, 44 bytes)");
		return SAKSI_ERR_FORMAT;
	}
	if (e->ke_pub.pk_kind != SAKSI_KEY_SIGN) {
		kr_error(errbuf, errlen, "keys[%zu].public_key: not an Ed25519 signing key", idx);
		return SAKSI_ERR_FORMAT;
	}

	s = json_string_value(json_object_get(o, "key_id"));
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			break;
	if (i != 16 || s[i] != '\0' ||
	    sodium_hex2bin(id, sizeof(id), s, 16, NULL, &binlen, &hexend) != 0 ||
	    binlen != sizeof(id)) {
		kr_error(errbuf, errlen, "keys[%zu].key_id: must be 16 lowercase hex digits", idx);
		return SAKSI_ERR_FORMAT;
	}
	if (memcmp(id, e->ke_pub.pk_id, sizeof(id)) != 0) {
		kr_error(errbuf, errlen, "keys[%zu].key_id: %s is not the id of public_key",
		         idx, s);
		return SAKSI_ERR_FORMAT;
	}

	s = json_string_value(json_object_get(o, "role"));
	if (find_role(kr, s) == NULL) {
		kr_error(errbuf, errlen, "keys[%zu].role: role \"%.64s\" is not defined", idx, s);
		return SAKSI_ERR_FORMAT;
	}
	if ((e->ke_role = strdup(s)) == NULL)
		return SAKSI_ERR_NOMEM;

	s = json_string_value(json_object_get(o, "branch"));
	if (strcmp(s, "*") != 0 && !name_ok(s)) {
		kr_error(errbuf, errlen, "keys[%zu].branch: must be \"*\" or a branch code of "
		         "1-64 [A-Za-z0-9._-]", idx);
		return SAKSI_ERR_FORMAT;
	}
	if ((e->ke_branch = strdup(s)) == NULL)
		return SAKSI_ERR_NOMEM;

	v = json_object_get(o, "revoked_ms");
	if (json_is_null(v))
		e->ke_revoked_ms = -1;
	else if (json_is_integer(v) && json_integer_value(v) >= 0)
		e->ke_revoked_ms = json_integer_value(v);
	else {
		kr_error(errbuf, errlen, "keys[%zu].revoked_ms: must be null or ms since the "
		         "epoch (an integer >= 0)", idx);
		return SAKSI_ERR_FORMAT;
	}
	return SAKSI_OK;
}

static int
cmp_entry_id(const void *a, const void *b)
{
	const saksi_keyring_entry *x = *(const saksi_keyring_entry *const *)a;
	const saksi_keyring_entry *y = *(const saksi_keyring_entry *const *)b;
	int c = memcmp(x->ke_pub.pk_id, y->ke_pub.pk_id, SAKSI_KEYID_LEN);

	/* Ties by position, so that a duplicate is reported against the first one. */
	if (c != 0)
		return c;
	return x < y ? -1 : x > y;
}

static int
cmp_entry_name(const void *a, const void *b)
{
	const saksi_keyring_entry *x = *(const saksi_keyring_entry *const *)a;
	const saksi_keyring_entry *y = *(const saksi_keyring_entry *const *)b;
	int c = strcmp(x->ke_name, y->ke_name);

	if (c != 0)
		return c;
	return x < y ? -1 : x > y;
}

static saksi_err
keyring_build(json_t *root, saksi_keyring *kr, char *errbuf, size_t errlen)
{
	const char *member;
	json_t *v, *keys, *roles;
	size_t i;
	saksi_err err;

	if (!json_is_object(root)) {
		kr_error(errbuf, errlen, "(top): must be an object");
		return SAKSI_ERR_FORMAT;
	}
	json_object_foreach(root, member, v) {
		if (strcmp(member, "saksi_keyring") != 0 && strcmp(member, "roles") != 0 &&
		    strcmp(member, "keys") != 0) {
			kr_error(errbuf, errlen, "%.64s: unknown member", member);
			return SAKSI_ERR_FORMAT;
		}
	}
	v = json_object_get(root, "saksi_keyring");
	if (!json_is_integer(v)) {
		kr_error(errbuf, errlen, "saksi_keyring: missing or not an integer (must be 1)");
		return SAKSI_ERR_FORMAT;
	}
	if (json_integer_value(v) != 1) {
		kr_error(errbuf, errlen, "saksi_keyring: version %" JSON_INTEGER_FORMAT
		         " is not supported (this saksi reads 1)", json_integer_value(v));
		return SAKSI_ERR_VERSION;
	}
	roles = json_object_get(root, "roles");
	if (!json_is_object(roles)) {
		kr_error(errbuf, errlen, "roles: missing or not an object");
		return SAKSI_ERR_FORMAT;
	}
	keys = json_object_get(root, "keys");
	if (!json_is_array(keys)) {
		kr_error(errbuf, errlen, "keys: missing or not an array");
		return SAKSI_ERR_FORMAT;
	}
	if ((err = parse_roles(kr, roles, errbuf, errlen)) != SAKSI_OK)
		return err;

	i = json_array_size(keys);
	kr->kr_entries = calloc(i ? i : 1, sizeof(*kr->kr_entries));
	kr->kr_by_id = calloc(i ? i : 1, sizeof(*kr->kr_by_id));
	if (kr->kr_entries == NULL || kr->kr_by_id == NULL)
		return SAKSI_ERR_NOMEM;
	json_array_foreach(keys, i, v) {
		kr->kr_n = i + 1; /* so that free releases what this entry got */
		if ((err = parse_key(kr, i, v, errbuf, errlen)) != SAKSI_OK)
			return err;
		kr->kr_by_id[i] = &kr->kr_entries[i];
	}
	/* Sorted checks, so that a national keyring of many thousand keys loads at once. */
	qsort(kr->kr_by_id, kr->kr_n, sizeof(*kr->kr_by_id), cmp_entry_name);
	for (i = 1; i < kr->kr_n; i++) {
		const saksi_keyring_entry *a = kr->kr_by_id[i - 1], *b = kr->kr_by_id[i];
		if (strcmp(a->ke_name, b->ke_name) == 0) {
			kr_error(errbuf, errlen, "keys[%zu].name: \"%s\" is already the name of "
			         "keys[%zu]", (size_t)(b - kr->kr_entries), b->ke_name,
			         (size_t)(a - kr->kr_entries));
			return SAKSI_ERR_FORMAT;
		}
	}
	qsort(kr->kr_by_id, kr->kr_n, sizeof(*kr->kr_by_id), cmp_entry_id);
	for (i = 1; i < kr->kr_n; i++) {
		const saksi_keyring_entry *a = kr->kr_by_id[i - 1], *b = kr->kr_by_id[i];
		if (memcmp(a->ke_pub.pk_id, b->ke_pub.pk_id, SAKSI_KEYID_LEN) == 0) {
			kr_error(errbuf, errlen, "keys[%zu].key_id: duplicate of keys[%zu]",
			         (size_t)(b - kr->kr_entries), (size_t)(a - kr->kr_entries));
			return SAKSI_ERR_FORMAT;
		}
	}
	return SAKSI_OK;
}

saksi_err
saksi_keyring_parse(const char *json, size_t len, saksi_keyring **out, char *errbuf,
                    size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	saksi_keyring *kr;
	saksi_err err;

	if (json == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (len > KEYRING_MAX) {
		kr_error(errbuf, errlen, "keyring is larger than %u bytes", KEYRING_MAX);
		return SAKSI_ERR_TOO_LARGE;
	}
	if ((root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		kr_error(errbuf, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return SAKSI_ERR_FORMAT;
	}
	if ((kr = calloc(1, sizeof(*kr))) == NULL) {
		json_decref(root);
		return SAKSI_ERR_NOMEM;
	}
	err = keyring_build(root, kr, errbuf, errlen);
	json_decref(root);
	if (err != SAKSI_OK) {
		saksi_keyring_free(kr);
		return err;
	}
	*out = kr;
	return SAKSI_OK;
}

saksi_err
saksi_keyring_load(const char *path, saksi_keyring **out, char *errbuf, size_t errlen)
{
	FILE *f;
	char *buf;
	size_t len = 0, r;
	saksi_err err;

	if (path == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if ((f = fopen(path, "rbe")) == NULL) {
		kr_error(errbuf, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? SAKSI_ERR_NOT_FOUND : SAKSI_ERR_IO;
	}
	if ((buf = malloc(KEYRING_MAX + 1)) == NULL) {
		fclose(f);
		return SAKSI_ERR_NOMEM;
	}
	while ((r = fread(buf + len, 1, KEYRING_MAX + 1 - len, f)) > 0)
		len += r;
	if (ferror(f)) {
		kr_error(errbuf, errlen, "%s: read error", path);
		err = SAKSI_ERR_IO;
	} else
		err = saksi_keyring_parse(buf, len, out, errbuf, errlen);
	fclose(f);
	free(buf);
	return err;
}

static int
bsearch_id(const void *key, const void *elem)
{
	const saksi_keyring_entry *e = *(const saksi_keyring_entry *const *)elem;

	return memcmp(key, e->ke_pub.pk_id, SAKSI_KEYID_LEN);
}

const saksi_keyring_entry *
saksi_keyring_find(const saksi_keyring *kr, const uint8_t id[SAKSI_KEYID_LEN])
{
	const saksi_keyring_entry *const *e;

	if (kr == NULL || id == NULL || kr->kr_n == 0)
		return NULL;
	e = bsearch(id, kr->kr_by_id, kr->kr_n, sizeof(*kr->kr_by_id), bsearch_id);
	return e != NULL ? *e : NULL;
}

int
saksi_keyring_role_allows(const saksi_keyring *kr, const char *role, const char *type)
{
	const struct kr_role *r;
	size_t i;

	if (kr == NULL || role == NULL || type == NULL)
		return 0;
	if ((r = find_role(kr, role)) == NULL)
		return 0;
	for (i = 0; i < r->kro_npats; i++)
		if (pattern_match(r->kro_pats[i], type))
			return 1;
	return 0;
}

size_t
saksi_keyring_count(const saksi_keyring *kr)
{
	return kr != NULL ? kr->kr_n : 0;
}

const saksi_keyring_entry *
saksi_keyring_at(const saksi_keyring *kr, size_t i)
{
	return kr != NULL && i < kr->kr_n ? &kr->kr_entries[i] : NULL;
}
