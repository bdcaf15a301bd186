/*
 * keys_test.c: key ids, key files (built here independently from FORMATS.md 1.2/1.3 and
 * checked against what keys.c reads and writes), file safety, and keyring validation.
 * Real files in a mkdtemp() directory, real Argon2id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "bytes.h"
#include "keys.h"
#include "../tests/tmpdir.h"

struct fx {
	char dir[64];
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(sodium_init() < 0, 0);
	assert_int_equal(tmpdir_make(fx->dir, sizeof(fx->dir), "saksi-keys"), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	DIR *d = opendir(fx->dir);
	struct dirent *de;
	char p[512];

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", fx->dir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void
path_in(const struct fx *fx, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", fx->dir, name);
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static size_t
read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

static size_t
count_files(const struct fx *fx)
{
	DIR *d = opendir(fx->dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Builds a secret key blob exactly as FORMATS.md 1.3 says, kdf = none. */
static void
make_secret_blob(uint8_t blob[138], int kind, const uint8_t id[8], const uint8_t secret[32])
{
	uint8_t zero[32] = { 0 };
	unsigned long long clen;

	memset(blob, 0, 138);
	memcpy(blob, "SS\x01", 3);
	blob[3] = (uint8_t)kind;
	memcpy(blob + 4, id, 8);
	memset(blob + 45, 0x5a, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(blob + 69, &clen, secret, 32, blob, 45, NULL,
	                                           blob + 45, zero);
	assert_int_equal(clen, 48);
}

static void
write_secret_blob(const char *path, const uint8_t *blob, size_t len, const char *tail)
{
	char text[512], b64[256];

	sodium_bin2base64(b64, sizeof(b64), blob, len, sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, sizeof(text), "untrusted comment: test\n%s%s", b64, tail);
	write_file(path, text, strlen(text), 0600);
}

static void
test_key_id_known_answer(void **state)
{
	uint8_t pk[32], id[8], seed[32], sk[64];
	char hex[17];

	(void)state;
	for (int i = 0; i < 32; i++)
		pk[i] = (uint8_t)i;
	saksi_key_id(pk, id);
	sodium_bin2hex(hex, sizeof(hex), id, 8);
	/* python3: hashlib.sha256(b"saksi/keyid/v1\n" + bytes(range(32))).hexdigest()[:16] */
	assert_string_equal(hex, "d5792c255d4b4697");

	memset(seed, 0x42, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_bin2hex(hex, sizeof(hex), pk, 8);
	assert_string_equal(hex, "2152f8d19b791d24");
	saksi_key_id(pk, id);
	sodium_bin2hex(hex, sizeof(hex), id, 8);
	assert_string_equal(hex, "5b3b6176ae335b87");
}

static void
test_generate_kinds(void **state)
{
	saksi_seckey *k;
	saksi_pubkey pub;
	uint8_t id[8], pk[32];

	(void)state;
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &k), SAKSI_OK);
	assert_int_equal(saksi_seckey_kind(k), SAKSI_KEY_SIGN);
	assert_non_null(saksi_seckey_ed25519(k));
	assert_null(saksi_seckey_x25519(k));
	assert_null(saksi_seckey_sym(k));
	assert_int_equal(saksi_seckey_public(k, &pub), SAKSI_OK);
	assert_int_equal(pub.pk_kind, SAKSI_KEY_SIGN);
	/* libsodium's 64-byte secret ends with the public key. */
	assert_memory_equal(saksi_seckey_ed25519(k) + 32, pub.pk_key, 32);
	saksi_key_id(pub.pk_key, id);
	assert_memory_equal(id, saksi_seckey_id(k), 8);
	assert_memory_equal(pub.pk_id, id, 8);
	saksi_seckey_free(k);

	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_BOX, &k), SAKSI_OK);
	assert_non_null(saksi_seckey_x25519(k));
	assert_null(saksi_seckey_ed25519(k));
	assert_int_equal(saksi_seckey_public(k, &pub), SAKSI_OK);
	assert_int_equal(pub.pk_kind, SAKSI_KEY_BOX);
	crypto_scalarmult_base(pk, saksi_seckey_x25519(k));
	assert_memory_equal(pk, pub.pk_key, 32);
	saksi_seckey_free(k);

	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SYM, &k), SAKSI_OK);
	assert_non_null(saksi_seckey_sym(k));
	assert_null(saksi_seckey_x25519(k));
	assert_int_equal(saksi_seckey_public(k, &pub), SAKSI_ERR_KEY);
	saksi_seckey_free(k);

	assert_int_equal(saksi_seckey_generate(0, &k), SAKSI_ERR_INVAL);
	assert_null(k);
	assert_int_equal(saksi_seckey_generate(4, &k), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, NULL), SAKSI_ERR_INVAL);
	saksi_seckey_free(NULL);
}

static void
test_from_secret(void **state)
{
	uint8_t seed[32], pk[32], sk[64];
	saksi_seckey *k;

	(void)state;
	memset(seed, 0x42, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	assert_int_equal(saksi_seckey_from_secret(SAKSI_KEY_SIGN, seed, &k), SAKSI_OK);
	assert_memory_equal(saksi_seckey_ed25519(k), sk, 64);
	saksi_seckey_free(k);
	assert_int_equal(saksi_seckey_from_secret(7, seed, &k), SAKSI_ERR_INVAL);
	assert_null(k);
	assert_int_equal(saksi_seckey_from_secret(SAKSI_KEY_SIGN, NULL, &k), SAKSI_ERR_INVAL);
}

static void
test_secret_file_roundtrip(void **state)
{
	struct fx *fx = *state;
	char path[256], text[1024];
	saksi_seckey *k, *l;
	struct stat st;
	uint8_t sig[64], msg[3] = { 1, 2, 3 };
	saksi_pubkey pub;

	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &k), SAKSI_OK);
	path_in(fx, "a.key", path, sizeof(path));
	assert_int_equal(saksi_seckey_save(k, path, NULL, "kiosk 1"), SAKSI_OK);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(count_files(fx), 1); /* no temporary file left behind */
	read_file(path, text, sizeof(text));
	assert_memory_equal(text, "untrusted comment: kiosk 1\n", 27);
	assert_int_equal(strlen(text), 27 + 184 + 1);
	assert_int_equal(text[strlen(text) - 1], '\n');
	assert_int_equal(saksi_seckey_file_is_protected(path), 0);

	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_OK);
	assert_int_equal(saksi_seckey_kind(l), SAKSI_KEY_SIGN);
	assert_memory_equal(saksi_seckey_ed25519(l), saksi_seckey_ed25519(k), 64);
	assert_memory_equal(saksi_seckey_id(l), saksi_seckey_id(k), 8);
	/* A passphrase given for an unprotected file is not needed and does no harm. */
	saksi_seckey_free(l);
	assert_int_equal(saksi_seckey_load(path, "unused", &l), SAKSI_OK);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), saksi_seckey_ed25519(l));
	assert_int_equal(saksi_seckey_public(k, &pub), SAKSI_OK);
	assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), pub.pk_key), 0);
	saksi_seckey_free(l);

	/* Never overwritten, and the old file is left as it was. */
	assert_int_equal(saksi_seckey_save(k, path, NULL, "other"), SAKSI_ERR_EXISTS);
	read_file(path, text, sizeof(text));
	assert_memory_equal(text, "untrusted comment: kiosk 1\n", 27);
	assert_int_equal(count_files(fx), 1);
	saksi_seckey_free(k);

	/* Box and symmetric keys keep their kind and id. */
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_BOX, &k), SAKSI_OK);
	path_in(fx, "box.key", path, sizeof(path));
	assert_int_equal(saksi_seckey_save(k, path, "", NULL), SAKSI_OK);
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_OK);
	assert_memory_equal(saksi_seckey_x25519(l), saksi_seckey_x25519(k), 32);
	assert_memory_equal(saksi_seckey_id(l), saksi_seckey_id(k), 8);
	read_file(path, text, sizeof(text));
	assert_memory_equal(text, "untrusted comment: saksi secret key ", 36);
	saksi_seckey_free(l);
	saksi_seckey_free(k);

	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SYM, &k), SAKSI_OK);
	path_in(fx, "sym.key", path, sizeof(path));
	assert_int_equal(saksi_seckey_save(k, path, NULL, NULL), SAKSI_OK);
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_OK);
	assert_int_equal(saksi_seckey_kind(l), SAKSI_KEY_SYM);
	assert_memory_equal(saksi_seckey_sym(l), saksi_seckey_sym(k), 32);
	assert_memory_equal(saksi_seckey_id(l), saksi_seckey_id(k), 8);
	saksi_seckey_free(l);
	saksi_seckey_free(k);
}

static void
test_secret_file_never_follows(void **state)
{
	struct fx *fx = *state;
	char path[256], target[256];
	saksi_seckey *k, *l;

	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &k), SAKSI_OK);
	/* A dangling symlink where the key goes: writing must not create its target. */
	path_in(fx, "link.key", path, sizeof(path));
	path_in(fx, "target.key", target, sizeof(target));
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(saksi_seckey_save(k, path, NULL, NULL), SAKSI_ERR_EXISTS);
	assert_int_equal(access(target, F_OK), -1);
	assert_int_equal(count_files(fx), 1);

	/* A symlink to a real key is refused on load. */
	assert_int_equal(saksi_seckey_save(k, target, NULL, NULL), SAKSI_OK);
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_PERM);
	assert_null(l);
	/* A missing directory is an I/O error, a missing file NOT_FOUND. */
	path_in(fx, "nodir/x.key", path, sizeof(path));
	assert_int_equal(saksi_seckey_save(k, path, NULL, NULL), SAKSI_ERR_IO);
	path_in(fx, "none.key", path, sizeof(path));
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_seckey_file_is_protected(path), -(int)SAKSI_ERR_NOT_FOUND);
	/* A directory is not a key file. */
	assert_int_equal(saksi_seckey_load(fx->dir, NULL, &l), SAKSI_ERR_FORMAT);
	saksi_seckey_free(k);
}

static void
test_secret_file_permissions(void **state)
{
	struct fx *fx = *state;
	char path[256];
	saksi_seckey *k, *l;
	static const mode_t bad[] = { 0640, 0604, 0601, 0610, 0660, 0644 };

	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &k), SAKSI_OK);
	path_in(fx, "p.key", path, sizeof(path));
	assert_int_equal(saksi_seckey_save(k, path, NULL, NULL), SAKSI_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(path, bad[i]), 0);
		assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_PERM);
		assert_null(l);
	}
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_OK);
	saksi_seckey_free(l);
	saksi_seckey_free(k);
}

static void
test_passphrase(void **state)
{
	struct fx *fx = *state;
	char path[256], path2[256];
	saksi_seckey *k, *l;

	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &k), SAKSI_OK);
	path_in(fx, "fast.key", path, sizeof(path));
	/* The lowest limits keep this test fast; the file carries its own limits. */
	assert_int_equal(saksi_seckey_save_kdf(k, path, "correct horse", NULL,
	                                       crypto_pwhash_OPSLIMIT_MIN,
	                                       crypto_pwhash_MEMLIMIT_MIN), SAKSI_OK);
	assert_int_equal(saksi_seckey_file_is_protected(path), 1);
	assert_int_equal(saksi_seckey_load(path, "correct horse", &l), SAKSI_OK);
	assert_memory_equal(saksi_seckey_ed25519(l), saksi_seckey_ed25519(k), 64);
	saksi_seckey_free(l);
	assert_int_equal(saksi_seckey_load(path, "correct horsf", &l), SAKSI_ERR_PASSPHRASE);
	assert_null(l);
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_PASSPHRASE);
	assert_int_equal(saksi_seckey_load(path, "", &l), SAKSI_ERR_PASSPHRASE);

	/* The default: libsodium's interactive limits, as the file then says. */
	path_in(fx, "default.key", path2, sizeof(path2));
	assert_int_equal(saksi_seckey_save(k, path2, "pw", NULL), SAKSI_OK);
	assert_int_equal(saksi_seckey_file_is_protected(path2), 1);
	assert_int_equal(saksi_seckey_load(path2, "pw", &l), SAKSI_OK);
	assert_memory_equal(saksi_seckey_id(l), saksi_seckey_id(k), 8);
	saksi_seckey_free(l);

	/* Limits a caller may not ask for. */
	path_in(fx, "bad.key", path2, sizeof(path2));
	assert_int_equal(saksi_seckey_save_kdf(k, path2, "pw", NULL, 0,
	                                       crypto_pwhash_MEMLIMIT_MIN), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_seckey_save_kdf(k, path2, "pw", NULL, SAKSI_KDF_OPSLIMIT_MAX + 1,
	                                       crypto_pwhash_MEMLIMIT_MIN), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_seckey_save_kdf(k, path2, "pw", NULL, 1,
	                                       SAKSI_KDF_MEMLIMIT_MAX + 1), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_seckey_save_kdf(k, path2, "pw", NULL, 1, 1024), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_seckey_save(k, path2, NULL, "two\nlines"), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_seckey_save(k, path2, NULL, "cr\r"), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_seckey_save(NULL, path2, NULL, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(access(path2, F_OK), -1);
	saksi_seckey_free(k);
}

/* The kdf header fields of a saved file, rewritten and the file re-encoded. */
static void
patch_kdf(const char *src, const char *dst, uint8_t kdf, uint64_t ops, uint64_t mem)
{
	char text[1024];
	uint8_t blob[138];
	size_t n, binlen;
	const char *b64;

	n = read_file(src, text, sizeof(text));
	b64 = strchr(text, '\n') + 1;
	assert_int_equal(sodium_base642bin(blob, sizeof(blob), b64, (size_t)(text + n - b64) - 1,
	                                   NULL, &binlen, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(binlen, 138);
	blob[12] = kdf;
	saksi_put_u64(blob + 13, ops);
	saksi_put_u64(blob + 21, mem);
	write_secret_blob(dst, blob, sizeof(blob), "\n");
}

static void
test_secret_file_hostile(void **state)
{
	struct fx *fx = *state;
	char path[256], good[256];
	uint8_t blob[138], seed[32], pk[32], sk[64], id[8];
	saksi_seckey *k, *l;

	memset(seed, 7, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	saksi_key_id(pk, id);
	path_in(fx, "h.key", path, sizeof(path));

	/* Our own encoding of FORMATS.md 1.3 loads, and gives the libsodium key. */
	make_secret_blob(blob, 1, id, seed);
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_OK);
	assert_memory_equal(saksi_seckey_ed25519(l), sk, 64);
	saksi_seckey_free(l);

	/* Framing of the text. */
	write_secret_blob(path, blob, sizeof(blob), "");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_FORMAT);
	write_secret_blob(path, blob, sizeof(blob), "\n\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_FORMAT);
	write_secret_blob(path, blob, sizeof(blob), "\nextra\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_FORMAT);
	write_secret_blob(path, blob, sizeof(blob), "\r\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_FORMAT);
	write_secret_blob(path, blob, 137, "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_FORMAT);
	write_file(path, "comment: x\nAAAA\n", 16, 0600);
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_FORMAT);
	write_file(path, "untrusted comment: x\nA@AA\n", 26, 0600);
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_FORMAT);
	write_file(path, "", 0, 0600);
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_FORMAT);
	{
		char big[5000];
		memset(big, 'A', sizeof(big));
		write_file(path, big, sizeof(big), 0600);
		assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_TOO_LARGE);
	}

	/* Fixed fields. */
	make_secret_blob(blob, 1, id, seed);
	blob[0] = 'X';
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_FORMAT);
	make_secret_blob(blob, 1, id, seed);
	blob[2] = 2;
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_VERSION);
	make_secret_blob(blob, 4, id, seed);
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_VERSION);
	make_secret_blob(blob, 0, id, seed);
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_VERSION);
	make_secret_blob(blob, 1, id, seed);
	blob[12] = 2;
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_VERSION);
	make_secret_blob(blob, 1, id, seed);
	blob[137] = 1;
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_FORMAT);
	make_secret_blob(blob, 1, id, seed);
	blob[20] = 1; /* opslimit without a kdf */
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_FORMAT);
	make_secret_blob(blob, 1, id, seed);
	blob[40] = 1; /* salt without a kdf */
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_FORMAT);

	/* The ciphertext, its tag and the authenticated header are all covered. */
	make_secret_blob(blob, 1, id, seed);
	blob[80] ^= 1;
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_PASSPHRASE);
	make_secret_blob(blob, 1, id, seed);
	blob[116] ^= 1;
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_PASSPHRASE);
	make_secret_blob(blob, 1, id, seed);
	blob[5] ^= 1;
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_PASSPHRASE);
	make_secret_blob(blob, 1, id, seed);
	blob[50] ^= 1;
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_PASSPHRASE);

	/* Authentic, but the id is not this key's: refused rather than signing as another. */
	id[0] ^= 1;
	make_secret_blob(blob, 1, id, seed);
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_KEY);
	make_secret_blob(blob, 2, id, seed);
	write_secret_blob(path, blob, sizeof(blob), "\n");
	assert_int_equal(saksi_seckey_load(path, NULL, &l), SAKSI_ERR_KEY);
	assert_null(l);

	/* kdf limits: what the file says is used, within caps that bound our cost. */
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &k), SAKSI_OK);
	path_in(fx, "good.key", good, sizeof(good));
	assert_int_equal(saksi_seckey_save_kdf(k, good, "pw", NULL, crypto_pwhash_OPSLIMIT_MIN,
	                                       crypto_pwhash_MEMLIMIT_MIN), SAKSI_OK);
	patch_kdf(good, path, 1, SAKSI_KDF_OPSLIMIT_MAX + 1, crypto_pwhash_MEMLIMIT_MIN);
	assert_int_equal(saksi_seckey_load(path, "pw", &l), SAKSI_ERR_TOO_LARGE);
	patch_kdf(good, path, 1, 1, SAKSI_KDF_MEMLIMIT_MAX + 1);
	assert_int_equal(saksi_seckey_load(path, "pw", &l), SAKSI_ERR_TOO_LARGE);
	patch_kdf(good, path, 1, UINT64_MAX, UINT64_MAX);
	assert_int_equal(saksi_seckey_load(path, "pw", &l), SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_seckey_file_is_protected(path), -(int)SAKSI_ERR_TOO_LARGE);
	patch_kdf(good, path, 1, 0, crypto_pwhash_MEMLIMIT_MIN);
	assert_int_equal(saksi_seckey_load(path, "pw", &l), SAKSI_ERR_FORMAT);
	patch_kdf(good, path, 1, 1, 1024);
	assert_int_equal(saksi_seckey_load(path, "pw", &l), SAKSI_ERR_FORMAT);
	/* Different (valid) limits change the derived key: AD and KDF both refuse it. */
	patch_kdf(good, path, 1, 2, crypto_pwhash_MEMLIMIT_MIN);
	assert_int_equal(saksi_seckey_load(path, "pw", &l), SAKSI_ERR_PASSPHRASE);
	/* Claiming no kdf for a protected file. */
	patch_kdf(good, path, 0, 0, 0);
	assert_int_equal(saksi_seckey_load(path, "pw", &l), SAKSI_ERR_FORMAT);
	assert_null(l);
	saksi_seckey_free(k);
}

static void
test_pubkey(void **state)
{
	struct fx *fx = *state;
	saksi_seckey *k;
	saksi_pubkey pub, back;
	char b64[61], small[60], path[256], text[512];
	uint8_t blob[44];

	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &k), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(k, &pub), SAKSI_OK);
	assert_int_equal(saksi_pubkey_encode(&pub, b64, sizeof(b64)), SAKSI_OK);
	assert_int_equal(strlen(b64), SAKSI_PUBKEY_B64_LEN);
	assert_int_equal(saksi_pubkey_encode(&pub, small, sizeof(small)), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_pubkey_decode(b64, &back), SAKSI_OK);
	assert_memory_equal(&back, &pub, sizeof(pub));

	/* The blob is "SP" 0x01 kind id pk. */
	memcpy(blob, "SP\x01\x01", 4);
	memcpy(blob + 4, pub.pk_id, 8);
	memcpy(blob + 12, pub.pk_key, 32);
	{
		char mine[61];
		sodium_bin2base64(mine, sizeof(mine), blob, sizeof(blob),
		                  sodium_base64_VARIANT_ORIGINAL);
		assert_string_equal(mine, b64);
		blob[0] = 'X';
		sodium_bin2base64(mine, sizeof(mine), blob, sizeof(blob),
		                  sodium_base64_VARIANT_ORIGINAL);
		assert_int_equal(saksi_pubkey_decode(mine, &back), SAKSI_ERR_FORMAT);
		blob[0] = 'S';
		blob[2] = 2;
		sodium_bin2base64(mine, sizeof(mine), blob, sizeof(blob),
		                  sodium_base64_VARIANT_ORIGINAL);
		assert_int_equal(saksi_pubkey_decode(mine, &back), SAKSI_ERR_VERSION);
		blob[2] = 1;
		blob[3] = 3;
		sodium_bin2base64(mine, sizeof(mine), blob, sizeof(blob),
		                  sodium_base64_VARIANT_ORIGINAL);
		assert_int_equal(saksi_pubkey_decode(mine, &back), SAKSI_ERR_VERSION);
		blob[3] = 1;
		blob[40] ^= 1;
		sodium_bin2base64(mine, sizeof(mine), blob, sizeof(blob),
		                  sodium_base64_VARIANT_ORIGINAL);
		assert_int_equal(saksi_pubkey_decode(mine, &back), SAKSI_ERR_KEY);
	}
	assert_int_equal(saksi_pubkey_decode("", &back), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_pubkey_decode("AAAA", &back), SAKSI_ERR_FORMAT);
	{
		char longer[70];
		snprintf(longer, sizeof(longer), "%s=", b64);
		assert_int_equal(saksi_pubkey_decode(longer, &back), SAKSI_ERR_FORMAT);
		snprintf(longer, sizeof(longer), "%s", b64);
		longer[10] = '*';
		assert_int_equal(saksi_pubkey_decode(longer, &back), SAKSI_ERR_FORMAT);
	}

	/* The file. */
	path_in(fx, "a.pub", path, sizeof(path));
	assert_int_equal(saksi_pubkey_save(&pub, path, NULL), SAKSI_OK);
	read_file(path, text, sizeof(text));
	assert_memory_equal(text, "untrusted comment: saksi public key ", 36);
	assert_non_null(strstr(text, b64));
	assert_int_equal(saksi_pubkey_load(path, &back), SAKSI_OK);
	assert_memory_equal(&back, &pub, sizeof(pub));
	assert_int_equal(saksi_pubkey_save(&pub, path, "x"), SAKSI_ERR_EXISTS);
	assert_int_equal(saksi_pubkey_save(&pub, path, "x\ny"), SAKSI_ERR_INVAL);
	snprintf(text, sizeof(text), "untrusted comment: x\n%s\ntrailing\n", b64);
	write_file(path, text, strlen(text), 0644);
	assert_int_equal(saksi_pubkey_load(path, &back), SAKSI_ERR_FORMAT);
	snprintf(text, sizeof(text), "untrusted comment: x\n%s\n", b64);
	write_file(path, text, strlen(text), 0644);
	assert_int_equal(saksi_pubkey_load(path, &back), SAKSI_OK);
	path_in(fx, "none.pub", path, sizeof(path));
	assert_int_equal(saksi_pubkey_load(path, &back), SAKSI_ERR_NOT_FOUND);

	/* A symmetric key has no public half to encode. */
	pub.pk_kind = SAKSI_KEY_SYM;
	assert_int_equal(saksi_pubkey_encode(&pub, b64, sizeof(b64)), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_pubkey_save(&pub, path, NULL), SAKSI_ERR_INVAL);
	saksi_seckey_free(k);
}

/* ---- keyring ---- */

struct krfx {
	char b64[3][61];
	char hex[3][17];
	char box_b64[61];
	char box_hex[17];
};

static void
make_keys(struct krfx *kf)
{
	uint8_t seed[32];
	saksi_seckey *k;
	saksi_pubkey pub;

	for (int i = 0; i < 4; i++) {
		memset(seed, 0x10 + i, sizeof(seed));
		assert_int_equal(saksi_seckey_from_secret(i < 3 ? SAKSI_KEY_SIGN : SAKSI_KEY_BOX,
		                                          seed, &k), SAKSI_OK);
		assert_int_equal(saksi_seckey_public(k, &pub), SAKSI_OK);
		if (i < 3) {
			saksi_pubkey_encode(&pub, kf->b64[i], sizeof(kf->b64[i]));
			sodium_bin2hex(kf->hex[i], sizeof(kf->hex[i]), pub.pk_id, 8);
		} else {
			saksi_pubkey_encode(&pub, kf->box_b64, sizeof(kf->box_b64));
			sodium_bin2hex(kf->box_hex, sizeof(kf->box_hex), pub.pk_id, 8);
		}
		saksi_seckey_free(k);
	}
}

/* A keyring of the three signing keys; `k2` replaces the third key's object when given. */
static char *
keyring_json(const struct krfx *kf, const char *top_extra, const char *roles, const char *k2)
{
	char *s, third[1024];

	snprintf(third, sizeof(third),
	         "{\"name\":\"staff-app\",\"key_id\":\"%s\",\"public_key\":\"%s\","
	         "\"role\":\"staff\",\"branch\":\"*\",\"revoked_ms\":1700000000000}",
	         kf->hex[2], kf->b64[2]);
	assert_true(asprintf(&s,
	    "{\n \"saksi_keyring\": 1,%s\n"
	    " \"roles\": %s,\n"
	    " \"keys\": [\n"
	    "  {\"name\":\"kiosk-makassar-1\",\"key_id\":\"%s\",\"public_key\":\"%s\","
	    "\"role\":\"queue\",\"branch\":\"KC-MAKASSAR\",\"revoked_ms\":null},\n"
	    "  {\"name\":\"portal\",\"key_id\":\"%s\",\"public_key\":\"%s\","
	    "\"role\":\"claim\",\"branch\":\"*\",\"revoked_ms\":null},\n"
	    "  %s\n ]\n}\n",
	    top_extra != NULL ? top_extra : "",
	    roles != NULL ? roles :
	        "{\"queue\":[\"queue.*\"],\"claim\":[\"claim.*\",\"queue.booking.created\"],"
	        "\"staff\":[\"staff.*\"]}",
	    kf->hex[0], kf->b64[0], kf->hex[1], kf->b64[1], k2 != NULL ? k2 : third) > 0);
	return s;
}

static void
expect_bad(const char *json, saksi_err want, const char *msg)
{
	saksi_keyring *kr = (saksi_keyring *)1;
	char err[256];

	assert_int_equal(saksi_keyring_parse(json, strlen(json), &kr, err, sizeof(err)), want);
	assert_null(kr);
	if (strncmp(err, msg, strlen(msg)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, msg);
}

static void
test_keyring_valid(void **state)
{
	struct fx *fx = *state;
	struct krfx kf;
	saksi_keyring *kr;
	const saksi_keyring_entry *e;
	uint8_t id[8];
	char *json, err[256], path[256];
	size_t binlen;

	make_keys(&kf);
	json = keyring_json(&kf, NULL, NULL, NULL);
	assert_int_equal(saksi_keyring_parse(json, strlen(json), &kr, err, sizeof(err)),
	                 SAKSI_OK);
	assert_int_equal(saksi_keyring_count(kr), 3);
	e = saksi_keyring_at(kr, 0);
	assert_string_equal(e->ke_name, "kiosk-makassar-1");
	assert_string_equal(e->ke_role, "queue");
	assert_string_equal(e->ke_branch, "KC-MAKASSAR");
	assert_int_equal(e->ke_revoked_ms, -1);
	assert_int_equal(e->ke_pub.pk_kind, SAKSI_KEY_SIGN);
	e = saksi_keyring_at(kr, 2);
	assert_int_equal(e->ke_revoked_ms, 1700000000000LL);
	assert_null(saksi_keyring_at(kr, 3));

	for (int i = 0; i < 3; i++) {
		sodium_hex2bin(id, 8, kf.hex[i], 16, NULL, &binlen, NULL);
		e = saksi_keyring_find(kr, id);
		assert_non_null(e);
		assert_ptr_equal(e, saksi_keyring_at(kr, (size_t)i));
	}
	id[0] ^= 0xff;
	assert_null(saksi_keyring_find(kr, id));

	assert_true(saksi_keyring_role_allows(kr, "queue", "queue.booking.created"));
	assert_true(saksi_keyring_role_allows(kr, "queue", "queue.x"));
	assert_false(saksi_keyring_role_allows(kr, "queue", "queue"));
	assert_false(saksi_keyring_role_allows(kr, "queue", "queue."));
	assert_false(saksi_keyring_role_allows(kr, "queue", "queuex.a"));
	assert_false(saksi_keyring_role_allows(kr, "queue", "claim.submitted"));
	assert_true(saksi_keyring_role_allows(kr, "claim", "queue.booking.created"));
	assert_false(saksi_keyring_role_allows(kr, "claim", "queue.booking.cancelled"));
	assert_false(saksi_keyring_role_allows(kr, "claim", "queue.booking.created.x"));
	assert_false(saksi_keyring_role_allows(kr, "nosuch", "queue.x"));
	saksi_keyring_free(kr);

	/* From a file, and an empty keyring is valid. */
	path_in(fx, "keyring.json", path, sizeof(path));
	write_file(path, json, strlen(json), 0644);
	assert_int_equal(saksi_keyring_load(path, &kr, err, sizeof(err)), SAKSI_OK);
	assert_int_equal(saksi_keyring_count(kr), 3);
	saksi_keyring_free(kr);
	free(json);
	json = "{\"saksi_keyring\":1,\"roles\":{},\"keys\":[]}";
	assert_int_equal(saksi_keyring_parse(json, strlen(json), &kr, NULL, 0), SAKSI_OK);
	assert_int_equal(saksi_keyring_count(kr), 0);
	assert_null(saksi_keyring_find(kr, id));
	saksi_keyring_free(kr);
	path_in(fx, "none.json", path, sizeof(path));
	assert_int_equal(saksi_keyring_load(path, &kr, err, sizeof(err)), SAKSI_ERR_NOT_FOUND);
}

static void
test_keyring_invalid(void **state)
{
	struct krfx kf;
	char *json, k2[1024];

	(void)state;
	make_keys(&kf);

	expect_bad("", SAKSI_ERR_FORMAT, "line ");
	expect_bad("[]", SAKSI_ERR_FORMAT, "(top): must be an object");
	expect_bad("{\"saksi_keyring\":1,\"roles\":{},\"keys\":[]} x", SAKSI_ERR_FORMAT, "line ");
	expect_bad("{\"saksi_keyring\":1,\"saksi_keyring\":1,\"roles\":{},\"keys\":[]}",
	           SAKSI_ERR_FORMAT, "line ");
	expect_bad("{\"saksi_keyring\":2,\"roles\":{},\"keys\":[]}", SAKSI_ERR_VERSION,
	           "saksi_keyring: version 2 is not supported");
	expect_bad("{\"saksi_keyring\":\"1\",\"roles\":{},\"keys\":[]}", SAKSI_ERR_FORMAT,
	           "saksi_keyring: missing");
	expect_bad("{\"roles\":{},\"keys\":[]}", SAKSI_ERR_FORMAT, "saksi_keyring: missing");
	expect_bad("{\"saksi_keyring\":1,\"keys\":[]}", SAKSI_ERR_FORMAT, "roles: missing");
	expect_bad("{\"saksi_keyring\":1,\"roles\":{}}", SAKSI_ERR_FORMAT, "keys: missing");
	expect_bad("{\"saksi_keyring\":1,\"roles\":{},\"keys\":{}}", SAKSI_ERR_FORMAT,
	           "keys: missing or not an array");
	expect_bad("{\"saksi_keyring\":1,\"roles\":{},\"keys\":[],\"extra\":0}", SAKSI_ERR_FORMAT,
	           "extra: unknown member");
	expect_bad("{\"saksi_keyring\":1,\"roles\":{\"q\":\"queue.*\"},\"keys\":[]}",
	           SAKSI_ERR_FORMAT, "roles.q: must be an array");
	expect_bad("{\"saksi_keyring\":1,\"roles\":{\"q\":[\"queue.*\",\"*\"]},\"keys\":[]}",
	           SAKSI_ERR_FORMAT, "roles.q[1]: must be an event type");
	expect_bad("{\"saksi_keyring\":1,\"roles\":{\"q\":[\"Queue.x\"]},\"keys\":[]}",
	           SAKSI_ERR_FORMAT, "roles.q[0]:");
	expect_bad("{\"saksi_keyring\":1,\"roles\":{\"q\":[\"queue*\"]},\"keys\":[]}",
	           SAKSI_ERR_FORMAT, "roles.q[0]:");
	expect_bad("{\"saksi_keyring\":1,\"roles\":{\"q\":[\".*\"]},\"keys\":[]}",
	           SAKSI_ERR_FORMAT, "roles.q[0]:");
	expect_bad("{\"saksi_keyring\":1,\"roles\":{\"q\":[7]},\"keys\":[]}",
	           SAKSI_ERR_FORMAT, "roles.q[0]:");
	expect_bad("{\"saksi_keyring\":1,\"roles\":{\"a b\":[]},\"keys\":[]}",
	           SAKSI_ERR_FORMAT, "roles: role name");
	expect_bad("{\"saksi_keyring\":1,\"roles\":{},\"keys\":[1]}",
	           SAKSI_ERR_FORMAT, "keys[0]: must be an object");

#define BAD_KEY2(fmt, want, msg, ...)                                              \
	do {                                                                       \
		snprintf(k2, sizeof(k2), fmt, __VA_ARGS__);                        \
		json = keyring_json(&kf, NULL, NULL, k2);                          \
		expect_bad(json, want, msg);                                       \
		free(json);                                                        \
	} while (0)
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":\"*\",\"revoked_ms\":null,\"note\":1}", SAKSI_ERR_FORMAT,
	         "keys[2].note: unknown member", kf.hex[2], kf.b64[2]);
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":\"*\"}", SAKSI_ERR_FORMAT, "keys[2].revoked_ms: missing",
	         kf.hex[2], kf.b64[2]);
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"revoked_ms\":null}", SAKSI_ERR_FORMAT, "keys[2].branch: missing",
	         kf.hex[2], kf.b64[2]);
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":7,\"revoked_ms\":null}", SAKSI_ERR_FORMAT,
	         "keys[2].branch: must be a string", kf.hex[2], kf.b64[2]);
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":\"KC MAKASSAR\",\"revoked_ms\":null}", SAKSI_ERR_FORMAT,
	         "keys[2].branch: must be", kf.hex[2], kf.b64[2]);
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":\"\",\"revoked_ms\":null}", SAKSI_ERR_FORMAT,
	         "keys[2].branch: must be", kf.hex[2], kf.b64[2]);
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"auditor\","
	         "\"branch\":\"*\",\"revoked_ms\":null}", SAKSI_ERR_FORMAT,
	         "keys[2].role: role \"auditor\" is not defined", kf.hex[2], kf.b64[2]);
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":\"*\",\"revoked_ms\":-1}", SAKSI_ERR_FORMAT,
	         "keys[2].revoked_ms: must be", kf.hex[2], kf.b64[2]);
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":\"*\",\"revoked_ms\":\"2024\"}", SAKSI_ERR_FORMAT,
	         "keys[2].revoked_ms: must be", kf.hex[2], kf.b64[2]);
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":\"*\",\"revoked_ms\":1.5}", SAKSI_ERR_FORMAT,
	         "keys[2].revoked_ms: must be", kf.hex[2], kf.b64[2]);
	/* key_id must be the id of the key, in lowercase hex. */
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":\"*\",\"revoked_ms\":null}", SAKSI_ERR_FORMAT,
	         "keys[2].key_id: ", kf.hex[1], kf.b64[2]);
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%.15s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":\"*\",\"revoked_ms\":null}", SAKSI_ERR_FORMAT,
	         "keys[2].key_id: must be 16 lowercase hex", kf.hex[2], kf.b64[2]);
	{
		char upper[17];
		for (int i = 0; i < 17; i++)
			upper[i] = (char)(kf.hex[2][i] >= 'a' ? kf.hex[2][i] - 32 : kf.hex[2][i]);
		if (strcmp(upper, kf.hex[2]) != 0)
			BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\","
			         "\"role\":\"staff\",\"branch\":\"*\",\"revoked_ms\":null}",
			         SAKSI_ERR_FORMAT, "keys[2].key_id: must be 16 lowercase hex",
			         upper, kf.b64[2]);
	}
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%.59s\",\"role\":\"staff\","
	         "\"branch\":\"*\",\"revoked_ms\":null}", SAKSI_ERR_FORMAT,
	         "keys[2].public_key: not a saksi public key", kf.hex[2], kf.b64[2]);
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":\"*\",\"revoked_ms\":null}", SAKSI_ERR_FORMAT,
	         "keys[2].public_key: not an Ed25519 signing key", kf.box_hex, kf.box_b64);
	/* Uniqueness. */
	BAD_KEY2("{\"name\":\"s\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":\"*\",\"revoked_ms\":null}", SAKSI_ERR_FORMAT,
	         "keys[2].key_id: duplicate of keys[0]", kf.hex[0], kf.b64[0]);
	BAD_KEY2("{\"name\":\"portal\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":\"*\",\"revoked_ms\":null}", SAKSI_ERR_FORMAT,
	         "keys[2].name: \"portal\" is already the name of keys[1]", kf.hex[2],
	         kf.b64[2]);
	BAD_KEY2("{\"name\":\"\",\"key_id\":\"%s\",\"public_key\":\"%s\",\"role\":\"staff\","
	         "\"branch\":\"*\",\"revoked_ms\":null}", SAKSI_ERR_FORMAT,
	         "keys[2].name: must be", kf.hex[2], kf.b64[2]);
#undef BAD_KEY2

	/* A key whose role the roles object does not define. */
	json = keyring_json(&kf, NULL, "{\"queue\":[\"queue.*\"],\"staff\":[]}", NULL);
	expect_bad(json, SAKSI_ERR_FORMAT, "keys[1].role: role \"claim\" is not defined");
	free(json);
}

/* A keyring cannot inject lines into the daemon's log through its error messages (fuzz_keys). */
static void
test_keyring_error_one_line(void **state)
{
	static const char kr[] = "{\"saksi_keyring\": 1, \"roles\": {}, \"keys\": [], \"bra\\nch\": 1}";
	saksi_keyring *k = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(saksi_keyring_parse(kr, strlen(kr), &k, err, sizeof(err)), SAKSI_ERR_FORMAT);
	assert_null(k);
	assert_true(err[0] != '\0');
	assert_null(strchr(err, '\n'));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyring_error_one_line),
		cmocka_unit_test(test_key_id_known_answer),
		cmocka_unit_test(test_generate_kinds),
		cmocka_unit_test(test_from_secret),
		cmocka_unit_test_setup_teardown(test_secret_file_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_file_never_follows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_file_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_passphrase, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_file_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pubkey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyring_valid, setup, teardown),
		cmocka_unit_test(test_keyring_invalid),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
