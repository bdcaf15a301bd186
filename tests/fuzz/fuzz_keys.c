/*
 * fuzz_keys.c: libFuzzer target for lib/keys.c: the producer keyring (JSON), the public key
 * blob, and public and secret key files (written to a private temp dir, mode 0600). A
 * keyring that loads must answer every lookup for its own entries; a public key blob that
 * decodes must encode back to the same text.
 */
#include <fcntl.h>
#include <unistd.h>

#include <sodium.h>

#include "fuzz.h"
#include "keys.h"

/* Set once by LLVMFuzzerInitialize. */
static char fz_dir[64];
static char fz_file[96];
static char fz_saved[96];
static char fz_saved_pub[96];

static void
cleanup(void)
{
	unlink(fz_file);
	unlink(fz_saved);
	unlink(fz_saved_pub);
	rmdir(fz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	FUZZ_SCRATCH(fz_dir, sizeof fz_dir, "saksi-fuzz-keys");
	snprintf(fz_file, sizeof fz_file, "%s/key", fz_dir);
	snprintf(fz_saved, sizeof fz_saved, "%s/saved.key", fz_dir);
	snprintf(fz_saved_pub, sizeof fz_saved_pub, "%s/saved.pub", fz_dir);
	atexit(cleanup);
	return 0;
}

static void
keyring(const uint8_t *data, size_t size)
{
	saksi_keyring *kr = NULL;
	char err[256];
	size_t n, i, j;
	saksi_err e;

	memset(err, 'x', sizeof err);
	e = saksi_keyring_parse((const char *)data, size, &kr, err, sizeof err);
	if (e != SAKSI_OK) {
		FUZZ_CHECK(kr == NULL, "keyring set on error %d", e);
		FUZZ_CHECK(e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_VERSION ||
		               e == SAKSI_ERR_TOO_LARGE,
		           "unexpected keyring error %d", e);
		/*
		 * Not checked: that it is one line. keys.c quotes member names as they are,
		 * so a name with "\n" in it reaches errbuf (corpus/keys/keyring-newline-member).
		 */
		FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0',
		           "errbuf is not a terminated message");
		return;
	}
	n = saksi_keyring_count(kr);
	for (i = 0; i < n; i++) {
		const saksi_keyring_entry *ke = saksi_keyring_at(kr, i);

		FUZZ_CHECK(ke != NULL && saksi_keyring_find(kr, ke->ke_pub.pk_id) == ke,
		           "entry %zu is not found by its own id", i);
		FUZZ_CHECK(ke->ke_pub.pk_kind == SAKSI_KEY_SIGN && ke->ke_name[0] != '\0' &&
		               ke->ke_role[0] != '\0' && ke->ke_branch[0] != '\0' &&
		               ke->ke_revoked_ms >= -1,
		           "entry %zu is not what FORMATS.md 1.5 allows", i);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(saksi_keyring_at(kr, j)->ke_name, ke->ke_name) != 0,
			           "duplicate name %s", ke->ke_name);
		(void)saksi_keyring_role_allows(kr, ke->ke_role, "queue.booking.created");
		(void)saksi_keyring_role_allows(kr, ke->ke_role, ke->ke_name);
	}
	FUZZ_CHECK(saksi_keyring_at(kr, n) == NULL, "entry past the end");
	saksi_keyring_free(kr);
}

static void
pubkey(const uint8_t *data, size_t size)
{
	char *s, out[SAKSI_PUBKEY_B64_LEN + 1];
	saksi_pubkey pub;

	if ((s = fuzz_copy(data, size, 1)) == NULL)
		return;
	if (saksi_pubkey_decode(s, &pub) == SAKSI_OK) {
		FUZZ_CHECK(saksi_pubkey_encode(&pub, out, sizeof out) == SAKSI_OK,
		           "a decoded key does not encode");
		FUZZ_CHECK(FUZZ_SAME_TEXT(s, strlen(s), out, strlen(out)),
		           "encode(decode(x)) != x: %s vs %s", out, s);
	}
	free(s);
}

/* The input as a key file: public, then secret (no passphrase: no Argon2 run). */
static void
key_files(const uint8_t *data, size_t size)
{
	saksi_seckey *sk = NULL;
	saksi_pubkey pub;
	saksi_err e;
	int fd;

	fd = open(fz_file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	FUZZ_SETUP(fd >= 0);
	FUZZ_SETUP(size == 0 || write(fd, data, size) == (ssize_t)size);
	close(fd);
	(void)saksi_pubkey_load(fz_file, &pub);
	(void)saksi_seckey_file_is_protected(fz_file);
	e = saksi_seckey_load(fz_file, NULL, &sk);
	if (e == SAKSI_OK) {
		/* Only a file with the right tag loads: then its id must be its key's. */
		FUZZ_CHECK(sk != NULL, "OK without a key");
		saksi_seckey_free(sk);
	} else
		FUZZ_CHECK(sk == NULL, "key set on error %d", e);
}

/*
 * Save then load: a key made from the input's first 33 bytes (kind, secret), with the
 * rest of the input as comment, is read back with the same kind, id and public half.
 */
static void
save_load(const uint8_t *data, size_t size)
{
	saksi_seckey *k = NULL, *k2 = NULL;
	saksi_pubkey pub, pub2, pub3;
	char *comment;
	saksi_err e;

	/* Saving syncs to disk: only inputs starting with 0x00-0x05 go this way. */
	if (size < 33 || size > 33 + 1100 || data[0] > 5)
		return;
	if (saksi_seckey_from_secret(1 + data[0] % 3, data + 1, &k) != SAKSI_OK)
		return;
	if ((comment = fuzz_copy(data + 33, size - 33, 1)) == NULL)
		goto out;
	unlink(fz_saved);
	unlink(fz_saved_pub);
	e = saksi_seckey_save(k, fz_saved, NULL, comment[0] == '\0' ? NULL : comment);
	if (e == SAKSI_OK) {
		FUZZ_CHECK(saksi_seckey_load(fz_saved, NULL, &k2) == SAKSI_OK,
		           "a saved key does not load");
		FUZZ_CHECK(saksi_seckey_kind(k2) == saksi_seckey_kind(k) &&
		               memcmp(saksi_seckey_id(k2), saksi_seckey_id(k), SAKSI_KEYID_LEN) ==
		                   0,
		           "load(save(k)) != k");
		if (saksi_seckey_public(k, &pub) == SAKSI_OK) {
			FUZZ_CHECK(saksi_seckey_public(k2, &pub2) == SAKSI_OK &&
			               memcmp(&pub, &pub2, sizeof pub) == 0,
			           "public half changed");
			FUZZ_CHECK(saksi_pubkey_save(&pub, fz_saved_pub, comment) == SAKSI_OK &&
			               saksi_pubkey_load(fz_saved_pub, &pub3) == SAKSI_OK &&
			               memcmp(&pub, &pub3, sizeof pub) == 0,
			           "public key file round trip");
		}
	} else
		FUZZ_CHECK(e == SAKSI_ERR_INVAL && (strchr(comment, '\n') != NULL ||
		                                    strchr(comment, '\r') != NULL ||
		                                    strlen(comment) >= 1024),
		           "save failed (%d) for a valid comment", e);
	free(comment);
out:
	saksi_seckey_free(k2);
	saksi_seckey_free(k);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy;

	if ((copy = fuzz_copy(data, size, 0)) == NULL)
		return 0;
	keyring((const uint8_t *)copy, size);
	free(copy);
	pubkey(data, size);
	if (size <= 8192)
		key_files(data, size);
	save_load(data, size);
	return 0;
}
