/*
 * fuzz_datakey.c: libFuzzer target for lib/datakey.c's readers: the slot file and the
 * master file (FORMATS.md 7.2) as saksi_dk_open and saksi_dk_get read them, and the
 * disclosures at rest (7.1 v1 and v2) as saksi_disc_open_any reads them. The files are a
 * state directory's, so hostile means tampered or torn; the harness never writes with
 * the library (write = 0), and it builds its reference files itself from FORMATS.md with
 * fixed keys and nonces, so a saved input reproduces.
 * Byte 0 of the input picks what the rest is (mode % 4):
 *   0 the slot file (the master file is the reference one);
 *   1 the master file (the slot file is the reference one);
 *   2 a stored disclosures blob, opened with the reference keys;
 *   3 a plaintext (codec || data) that the harness seals as a v2 blob under the key
 *     byte 1 picks, so that the fuzzer reaches what lies behind the AEAD.
 * Checks: only the documented codes; a file that opens is as strict as 7.2 says (magic,
 * version, zero fields, the master file 384 bytes); a slot opens only to the key the
 * reference wrapped in it, a wiped or missing slot is NOT_FOUND; an opened blob is a
 * NUL-terminated JSON array, for codecs 0 and 1 of 1..32 canonical base64url strings that
 * saksi_disc2_seal stores again and that opens back the same; a zstd list is one frame.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <zstd.h>

#include "datakey.h"
#include "envelope.h"
#include "fuzz.h"
#include "keys.h"

#define FZ_SLOTS 4          /* reference slots: 0 live, 1 wiped, 2 live, 3 an old copy */
#define FZ_INDEX 41
#define SLOT_AD "saksi/datakey/v1\n"
#define MASTER_AD "saksi/datakey-master/v1\n"
#define DISC2_AD "saksi/disc-at-rest/v2\n"
#define ENTRY 128

static char fz_dir[64];
static char fz_key[96], fz_slots[96], fz_master[96], fz_rslots[96], fz_rmaster[96];
static saksi_seckey *fz_store;
static saksi_datakeys *fz_dk;             /* opened on the reference files */
static uint8_t fz_sym[32], fz_master_key[32], fz_data[FZ_SLOTS][32];
static uint8_t fz_mfile[3 * ENTRY], fz_sfile[ENTRY + FZ_SLOTS * ENTRY];
static const uint8_t fz_store_id[8] = { 0x5a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 };
static saksi_hash fz_leaf;

static void
cleanup(void)
{
	saksi_dk_close(fz_dk);
	saksi_seckey_free(fz_store);
	unlink(fz_key);
	unlink(fz_slots);
	unlink(fz_master);
	unlink(fz_rslots);
	unlink(fz_rmaster);
	rmdir(fz_dir);
}

static void
put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void
write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd;

	unlink(path);
	FUZZ_SETUP((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600)) >= 0);
	FUZZ_SETUP(n == 0 || write(fd, p, n) == (ssize_t)n);
	FUZZ_SETUP(close(fd) == 0);
}

/* One entry of FORMATS.md 7.2: state 1, generation, nonce, the wrapped key, zeros. */
static void
entry(uint8_t *e, uint64_t gen, uint8_t nfill, const uint8_t key[32], const uint8_t *ad,
      size_t adlen, const uint8_t wk[32])
{
	memset(e, 0, ENTRY);
	e[0] = 1;
	put64(e + 8, gen);
	memset(e + 16, nfill, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(e + 40, NULL, key, 32, ad, adlen, NULL,
	                                           e + 16, wk);
}

static void
slot_entry(uint8_t *e, uint64_t slot, uint64_t gen, const uint8_t key[32])
{
	uint8_t ad[sizeof SLOT_AD - 1 + 16];

	memcpy(ad, SLOT_AD, sizeof SLOT_AD - 1);
	put64(ad + sizeof SLOT_AD - 1, slot);
	put64(ad + sizeof SLOT_AD - 1 + 8, gen);
	entry(e, gen, (uint8_t)(0x40 + slot), key, ad, sizeof ad, fz_master_key);
}

static void
write_seed(const char *dir, const char *name, uint8_t mode, const uint8_t *p, size_t n)
{
	char path[512];
	uint8_t *b;

	FUZZ_SETUP((b = malloc(n + 1)) != NULL);
	b[0] = mode;
	memcpy(b + 1, p, n);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	write_file(path, b, n + 1);
	free(b);
}

/*
 * SAKSI_FUZZ_DATAKEY_SEEDS=DIR: writes the reference files and blobs sealed under the
 * reference keys as seeds into DIR (they depend on the fixed keys and nonces above, so
 * they are made by the harness; tests/fuzz/corpus/datakey/ holds them), then exits.
 */
static void
write_seeds(const char *dir)
{
	static const char list[] = "[\"WyJzYWx0IiwibmlrIiwiNzM3MTA1NDUwNzg4MDAwMyJd\","
	                           "\"WyJzYWx0MiIsInBob25lIiwiMDgxMjM0NTY3ODkwIl0\"]";
	static uint8_t blob[1024];
	uint8_t slot0[8] = { 0 }, ad[sizeof "saksi/disc-at-rest/v1\n" - 1 + 40];
	size_t w;

	write_seed(dir, "ref-slots", 0, fz_sfile, sizeof fz_sfile);
	write_seed(dir, "ref-master", 1, fz_mfile, sizeof fz_mfile);
	FUZZ_SETUP(saksi_disc2_seal(SAKSI_DK_STORE, fz_store_id, fz_sym, FZ_INDEX, fz_leaf,
	                            (const uint8_t *)list, sizeof list - 1, blob, sizeof blob,
	                            &w) == SAKSI_OK);
	write_seed(dir, "blob-v2-store", 2, blob, w);
	FUZZ_SETUP(saksi_disc2_seal(SAKSI_DK_DATA, slot0, fz_data[0], FZ_INDEX, fz_leaf,
	                            (const uint8_t *)list, sizeof list - 1, blob, sizeof blob,
	                            &w) == SAKSI_OK);
	write_seed(dir, "blob-v2-data", 2, blob, w);
	/* v1: 01 01 key_id nonce ciphertext of the JSON text (FORMATS.md 7.1). */
	blob[0] = 1;
	blob[1] = 1;
	memcpy(blob + 2, fz_store_id, 8);
	memset(blob + 10, 0x76, 24);
	memcpy(ad, "saksi/disc-at-rest/v1\n", sizeof ad - 40);
	put64(ad + sizeof ad - 40, FZ_INDEX);
	memcpy(ad + sizeof ad - 32, fz_leaf, 32);
	crypto_aead_xchacha20poly1305_ietf_encrypt(blob + 34, NULL, (const uint8_t *)list,
	                                           sizeof list - 1, ad, sizeof ad, NULL,
	                                           blob + 10, fz_sym);
	write_seed(dir, "blob-v1", 2, blob, 34 + sizeof list - 1 + 16);
	exit(0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t blob[138], ad[sizeof MASTER_AD - 1 + 16], zero[32] = { 0 };
	char text[300];
	size_t n;
	int i;

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	FUZZ_SCRATCH(fz_dir, sizeof fz_dir, "saksi-fuzz-dk");
	snprintf(fz_key, sizeof fz_key, "%s/store.key", fz_dir);
	snprintf(fz_slots, sizeof fz_slots, "%s/datakeys", fz_dir);
	snprintf(fz_master, sizeof fz_master, "%s/datakeys.master", fz_dir);
	snprintf(fz_rslots, sizeof fz_rslots, "%s/ref-datakeys", fz_dir);
	snprintf(fz_rmaster, sizeof fz_rmaster, "%s/ref-datakeys.master", fz_dir);
	atexit(cleanup);

	/* The store key, a key file of FORMATS.md 1.3 (kind 3, kdf 0) with a fixed id, so
	 * that the master file's header is the same in every run. */
	memset(fz_sym, 0x73, sizeof fz_sym);
	memset(blob, 0, sizeof blob);
	memcpy(blob, "SS\x01\x03", 4);
	memcpy(blob + 4, fz_store_id, 8);
	memset(blob + 45, 0x4e, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(blob + 69, NULL, fz_sym, 32, blob, 45, NULL,
	                                           blob + 45, zero);
	n = (size_t)snprintf(text, sizeof text, "untrusted comment: fuzz store key\n");
	sodium_bin2base64(text + n, sizeof text - n, blob, sizeof blob,
	                  sodium_base64_VARIANT_ORIGINAL);
	n = strlen(text);
	text[n++] = '\n';
	write_file(fz_key, (const uint8_t *)text, n);
	FUZZ_SETUP(saksi_seckey_load(fz_key, NULL, &fz_store) == SAKSI_OK);
	FUZZ_SETUP(saksi_seckey_kind(fz_store) == SAKSI_KEY_SYM &&
	           memcmp(saksi_seckey_id(fz_store), fz_store_id, 8) == 0);

	/* The master file: generation 1 in entry 0, entry 1 empty. */
	memset(fz_master_key, 0x4d, sizeof fz_master_key);
	memcpy(fz_mfile, "SM\x01", 3);
	memcpy(fz_mfile + 8, fz_store_id, 8);
	memcpy(ad, MASTER_AD, sizeof MASTER_AD - 1);
	memcpy(ad + sizeof MASTER_AD - 1, fz_store_id, 8);
	put64(ad + sizeof MASTER_AD - 1 + 8, 1);
	entry(fz_mfile + ENTRY, 1, 0x4f, fz_master_key, ad, sizeof ad, fz_sym);

	/* The slot file: 0 and 2 live, 1 wiped (forgotten), 3 wrapped by a generation 2 that
	 * the master file does not hold (an old copy). */
	memcpy(fz_sfile, "SK\x01", 3);
	for (i = 0; i < FZ_SLOTS; i++) {
		memset(fz_data[i], 0x30 + i, 32);
		if (i != 1)
			slot_entry(fz_sfile + ENTRY + (size_t)i * ENTRY, (uint64_t)i,
			           i == 3 ? 2 : 1, fz_data[i]);
	}
	write_file(fz_rslots, fz_sfile, sizeof fz_sfile);
	write_file(fz_rmaster, fz_mfile, sizeof fz_mfile);
	FUZZ_SETUP(saksi_dk_open(fz_rslots, fz_rmaster, fz_store, 0, 0, &fz_dk) == SAKSI_OK);
	FUZZ_SETUP(saksi_dk_slots(fz_dk) == FZ_SLOTS && saksi_dk_generation(fz_dk) == 1);
	memset(fz_leaf, 0x1f, sizeof fz_leaf);
	if (getenv("SAKSI_FUZZ_DATAKEY_SEEDS") != NULL)
		write_seeds(getenv("SAKSI_FUZZ_DATAKEY_SEEDS"));
	return 0;
}

static int
all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Mode 0 and 1: one of the two files is the input. */
static void
check_files(const uint8_t *d, size_t n, int master)
{
	uint8_t key[32];
	saksi_datakeys *dk = NULL;
	uint64_t s, slots;
	saksi_err e;

	write_file(master ? fz_master : fz_slots, d, n);
	write_file(master ? fz_slots : fz_master, master ? fz_sfile : fz_mfile,
	           master ? sizeof fz_sfile : sizeof fz_mfile);
	e = saksi_dk_open(fz_slots, fz_master, fz_store, 0, 0, &dk);
	FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_VERSION ||
	               e == SAKSI_ERR_KEY || e == SAKSI_ERR_DECRYPT,
	           "dk_open gave %d", e);
	if (e != SAKSI_OK) {
		FUZZ_CHECK(dk == NULL, "handle set on error %d", e);
		return;
	}
	if (master) {
		/* 7.2: 384 bytes, "SM" 01, zeros, our key id, zeros; the entries are ours (only
		 * the store key wraps a master, and no input can know it). */
		FUZZ_CHECK(n == sizeof fz_mfile, "a master file of %zu bytes opened", n);
		FUZZ_CHECK(memcmp(d, fz_mfile, ENTRY) == 0, "a master header not as 7.2 opened");
		FUZZ_CHECK((memcmp(d + ENTRY, fz_mfile + ENTRY, ENTRY) == 0 &&
		            all_zero(d + 2 * ENTRY, ENTRY)) ||
		               (memcmp(d + 2 * ENTRY, fz_mfile + ENTRY, ENTRY) == 0 &&
		                all_zero(d + ENTRY, ENTRY)),
		           "a master file opened that the store key did not write");
		FUZZ_CHECK(saksi_dk_generation(dk) == 1, "generation");
		FUZZ_CHECK(saksi_dk_get(dk, 0, key) == SAKSI_OK &&
		               memcmp(key, fz_data[0], 32) == 0,
		           "the reference slot 0 does not open under the master read back");
		goto out;
	}
	/* 7.2: "SK" 01 and 125 zero bytes, then 128-byte slots (a short last one: never
	 * written). */
	FUZZ_CHECK(n >= ENTRY && memcmp(d, "SK\x01", 3) == 0 && all_zero(d + 3, ENTRY - 3),
	           "a slot file header not as 7.2 opened");
	slots = saksi_dk_slots(dk);
	FUZZ_CHECK(slots == (n - ENTRY) / ENTRY, "%llu slots in %zu bytes",
	           (unsigned long long)slots, n);
	for (s = 0; s < slots + 2 && s < 16; s++) {
		const uint8_t *en = d + ENTRY + s * ENTRY;

		memset(key, 0xee, sizeof key);
		e = saksi_dk_get(dk, s, key);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_NOT_FOUND || e == SAKSI_ERR_FORMAT ||
		               e == SAKSI_ERR_DECRYPT,
		           "dk_get %llu gave %d", (unsigned long long)s, e);
		if (s >= slots) {
			FUZZ_CHECK(e == SAKSI_ERR_NOT_FOUND, "slot %llu past the end gave %d",
			           (unsigned long long)s, e);
			continue;
		}
		if (e == SAKSI_OK)
			FUZZ_CHECK(s < FZ_SLOTS && s != 3 &&
			               memcmp(en, fz_sfile + ENTRY + s * ENTRY, ENTRY) == 0 &&
			               memcmp(key, fz_data[s], 32) == 0,
			           "slot %llu opened to a key the reference did not wrap there",
			           (unsigned long long)s);
		if (e == SAKSI_ERR_NOT_FOUND)
			FUZZ_CHECK(all_zero(en, ENTRY), "slot %llu with bytes is NOT_FOUND",
			           (unsigned long long)s);
		if (all_zero(en, ENTRY))
			FUZZ_CHECK(e == SAKSI_ERR_NOT_FOUND, "a zero slot gave %d", e);
	}
	FUZZ_CHECK(saksi_dk_get(dk, SAKSI_DK_SLOTS_MAX, key) == SAKSI_ERR_NOT_FOUND,
	           "slot past SAKSI_DK_SLOTS_MAX");
out:
	saksi_dk_close(dk);
}

/* An opened blob: the JSON array client code expects (datakey.h). For codecs 0 and 1 it
 * is a list of canonical disclosures, which saksi_disc2_seal stores again. */
static void
check_opened(const char *json, size_t len, int codec_json)
{
	static uint8_t blob[SAKSI_DISC2_OVERHEAD + 1 + 3 * 70000];
	uint8_t bin[SAKSI_DISCLOSURE_MAX];
	json_t *a, *v;
	char *json2 = NULL;
	size_t i, w = 0, len2 = 0, bl;
	const char *end;

	FUZZ_CHECK(json != NULL && (codec_json || strlen(json) == len),
	           "opened text is not NUL-terminated at its length");
	if (codec_json)
		return;     /* the JSON array as received: kept as it is, nothing more */
	FUZZ_CHECK(json[0] == '[' && json[len - 1] == ']' && strchr(json, ' ') == NULL,
	           "not a compact array: %s", json);
	a = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(json_is_array(a) && json_array_size(a) >= 1 &&
	               json_array_size(a) <= SAKSI_DISCLOSURES_MAX,
	           "opened list is not an array of 1..32");
	json_array_foreach(a, i, v) {
		const char *sv = json_string_value(v);

		FUZZ_CHECK(sv != NULL && *sv != '\0', "entry %zu not a string", i);
		FUZZ_CHECK(sodium_base642bin(bin, sizeof bin, sv, strlen(sv), NULL, &bl, &end,
		                             sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
		               *end == '\0' && bl >= 1,
		           "entry %zu not base64url", i);
	}
	json_decref(a);
	if (len > 70000)
		return;
	FUZZ_CHECK(saksi_disc2_seal(SAKSI_DK_STORE, fz_store_id, fz_sym, FZ_INDEX, fz_leaf,
	                            (const uint8_t *)json, len, blob, sizeof blob, &w) ==
	                   SAKSI_OK &&
	               w <= saksi_disc2_bound(len),
	           "an opened list does not seal again");
	FUZZ_CHECK(saksi_disc_open_any(fz_store, fz_dk, FZ_INDEX, fz_leaf, blob, w, &json2,
	                               &len2) == SAKSI_OK &&
	               len2 == len && memcmp(json2, json, len) == 0,
	           "sealed again, the list opens to other text");
	sodium_memzero(json2, len2);
	free(json2);
}

/* Mode 2 and 3. */
static void
check_blob(const uint8_t *b, size_t n, int opened_by_us, int codec)
{
	char *json = (char *)1;
	size_t len = 7;
	saksi_err e;

	e = saksi_disc_open_any(fz_store, fz_dk, FZ_INDEX, fz_leaf, b, n, &json, &len);
	FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_VERSION ||
	               e == SAKSI_ERR_KEY || e == SAKSI_ERR_DECRYPT || e == SAKSI_ERR_NOT_FOUND,
	           "open_any gave %d", e);
	if (e != SAKSI_OK) {
		FUZZ_CHECK(json == NULL && len == 0, "json set on error %d", e);
		FUZZ_CHECK(!opened_by_us || e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_NOT_FOUND,
		           "a blob the harness sealed gave %d", e);
		return;
	}
	FUZZ_CHECK(n > 0 && (b[0] == 1 || b[0] == 2), "version %d opened", n ? b[0] : -1);
	check_opened(json, len, !opened_by_us || codec == 2);
	sodium_memzero(json, len);
	free(json);
}

/* Mode 3: seal p (codec || data) as v2 under the key byte k picks. */
static void
seal_and_check(uint8_t k, const uint8_t *p, size_t n)
{
	uint8_t *blob, ad[sizeof DISC2_AD - 1 + 8 + 32 + 10];
	static const uint64_t slot_of[4] = { 0, 2, 1, 3 };
	uint64_t slot = slot_of[(k >> 1) & 3];
	int store = k & 1;

	if (n < 1 || (blob = malloc(SAKSI_DISC2_OVERHEAD + n)) == NULL)
		return;
	blob[0] = 2;
	blob[1] = store ? SAKSI_DK_STORE : SAKSI_DK_DATA;
	if (store)
		memcpy(blob + 2, fz_store_id, 8);
	else
		put64(blob + 2, slot);
	memset(blob + 10, 0x6e, 24);
	memcpy(ad, DISC2_AD, sizeof DISC2_AD - 1);
	put64(ad + sizeof DISC2_AD - 1, FZ_INDEX);
	memcpy(ad + sizeof DISC2_AD - 1 + 8, fz_leaf, 32);
	memcpy(ad + sizeof DISC2_AD - 1 + 40, blob, 10);
	crypto_aead_xchacha20poly1305_ietf_encrypt(blob + 34, NULL, p, n, ad, sizeof ad, NULL,
	                                           blob + 10,
	                                           store ? fz_sym : fz_data[slot]);
	if (!store && (slot == 1 || slot == 3)) {
		/* Forgotten (wiped) or an old copy: NOT_FOUND whatever the plaintext. */
		char *json = NULL;
		size_t len = 0;

		FUZZ_CHECK(saksi_disc_open_any(fz_store, fz_dk, FZ_INDEX, fz_leaf, blob,
		                               SAKSI_DISC2_OVERHEAD + n, &json, &len) ==
		               SAKSI_ERR_NOT_FOUND,
		           "a blob of a forgotten slot %llu did not give NOT_FOUND",
		           (unsigned long long)slot);
		free(blob);
		return;
	}
	check_blob(blob, SAKSI_DISC2_OVERHEAD + n, 1, p[0]);
	/* 7.1: a zstd list is one frame, and nothing may follow it. */
	if (p[0] == 1) {
		char *json = NULL;
		size_t len = 0, fl = ZSTD_findFrameCompressedSize(p + 1, n - 1);

		if (saksi_disc_open_any(fz_store, fz_dk, FZ_INDEX, fz_leaf, blob,
		                        SAKSI_DISC2_OVERHEAD + n, &json, &len) == SAKSI_OK) {
			FUZZ_CHECK(!ZSTD_isError(fl) && fl == n - 1,
			           "a zstd list with %zu bytes after its frame opened",
			           ZSTD_isError(fl) ? 0 : n - 1 - fl);
			sodium_memzero(json, len);
			free(json);
		}
	}
	free(blob);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size < 1)
		return 0;
	if ((copy = (uint8_t *)fuzz_copy(data + 1, size - 1, 0)) == NULL)
		return 0;
	switch (data[0] & 3) {
	case 0:
	case 1:
		check_files(copy, size - 1, data[0] & 1);
		break;
	case 2:
		check_blob(copy, size - 1, 0, -1);
		break;
	default:
		if (size >= 2)
			seal_and_check(copy[0], copy + 1, size - 2);
		break;
	}
	free(copy);
	return 0;
}
