/*
 * datakey.c: the data-key store (fixed-slot file + master file, FORMATS.md 7.2, 7.3) and
 * disclosures at rest v2 (7.1). A key is in clear only in sodium_malloc'd memory or in
 * the caller's guarded buffer; this file never writes one unwrapped, never prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <zstd.h>

#include "bytes.h"
#include "datakey.h"
#include "envelope.h"

#define SLOT_AD "saksi/datakey/v1\n"
#define MASTER_AD "saksi/datakey-master/v1\n"
#define DISC2_AD "saksi/disc-at-rest/v2\n"
#define MASTER_FILE_SIZE (SAKSI_DK_HDR_SIZE + 2 * SAKSI_DK_SLOT_SIZE)
/* Within a slot or master entry: state (1) || zero (7) || gen (8) || nonce (24) ||
 * wrapped key (48) || zero (40). */
#define E_GEN 8
#define E_NONCE 16
#define E_CT 40
#define E_CT_LEN (SAKSI_DK_KEYLEN + crypto_aead_xchacha20poly1305_ietf_ABYTES)

#define CODEC_LIST 0
#define CODEC_LIST_ZSTD 1
#define CODEC_JSON 2
/* Largest decoded list: 1 + 32 x (2 + 49152), far under this cap. */
#define LIST_MAX (1 + SAKSI_DISCLOSURES_MAX * (2 + SAKSI_DISCLOSURE_MAX))

struct saksi_datakeys {
	int dk_fd;                 /* slot file */
	/* The slot file again, opened on its own (a writer only): saksi_dk_datasync's, so
	 * that a writeback error is reported to both this and dk_fd's syncs. Linux reports
	 * such an error once per open file description: with one description shared by two
	 * threads, the one that synced first would take the error and the other would see
	 * success for pages that never reached the disk. */
	int dk_sfd;
	int dk_mfd;                /* master file */
	int dk_write;
	const saksi_seckey *dk_store;
	uint8_t *dk_keys;          /* sodium_malloc: 2 x 32, the masters by entry */
	uint64_t dk_gen[2];        /* 0: entry empty */
	uint64_t dk_slots;
	/* New slots not yet written: a run of consecutive ones, written with one pwrite by
	 * saksi_dk_sync (or before anything else touches the file). */
	uint8_t *dk_pend;          /* dk_npend x SAKSI_DK_SLOT_SIZE, room for dk_pend_cap */
	uint64_t dk_pend_first;
	size_t dk_npend, dk_pend_cap;
};

static saksi_err
errno_err(void)
{
	if (errno == ENOSPC || errno == EDQUOT)
		return SAKSI_ERR_FULL;
	if (errno == EACCES || errno == EPERM)
		return SAKSI_ERR_PERM;
	if (errno == ENOENT)
		return SAKSI_ERR_NOT_FOUND;
	if (errno == EEXIST)
		return SAKSI_ERR_EXISTS;
	return SAKSI_ERR_IO;
}

static saksi_err
pwrite_all(int fd, const uint8_t *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? errno_err() : SAKSI_ERR_IO;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return SAKSI_OK;
}

/* Reads n bytes at off; *got = bytes read (short at the end of the file). */
static saksi_err
pread_all(int fd, uint8_t *p, size_t n, off_t off, size_t *got)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, p + done, n - done, off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return SAKSI_ERR_IO;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	*got = done;
	return SAKSI_OK;
}

static saksi_err
sync_fd(int fd)
{
	while (fdatasync(fd) != 0) {
		if (errno != EINTR)
			return SAKSI_ERR_IO;
	}
	return SAKSI_OK;
}

static void
slot_ad(uint8_t ad[sizeof(SLOT_AD) - 1 + 16], uint64_t slot, uint64_t gen)
{
	memcpy(ad, SLOT_AD, sizeof(SLOT_AD) - 1);
	saksi_put_u64(ad + sizeof(SLOT_AD) - 1, slot);
	saksi_put_u64(ad + sizeof(SLOT_AD) - 1 + 8, gen);
}

static void
master_ad(uint8_t ad[sizeof(MASTER_AD) - 1 + 16], const uint8_t store_id[8], uint64_t gen)
{
	memcpy(ad, MASTER_AD, sizeof(MASTER_AD) - 1);
	memcpy(ad + sizeof(MASTER_AD) - 1, store_id, 8);
	saksi_put_u64(ad + sizeof(MASTER_AD) - 1 + 8, gen);
}

/* Fills entry e (SAKSI_DK_SLOT_SIZE bytes): key wrapped by wk under ad, with nonce (24
 * random bytes), or a nonce drawn here if NULL. */
static void
wrap_n(uint8_t *e, uint64_t gen, const uint8_t *key, const uint8_t *ad, size_t adlen,
       const uint8_t *wk, const uint8_t *nonce)
{
	memset(e, 0, SAKSI_DK_SLOT_SIZE);
	e[0] = 1;
	saksi_put_u64(e + E_GEN, gen);
	if (nonce != NULL)
		memcpy(e + E_NONCE, nonce, 24);
	else
		randombytes_buf(e + E_NONCE, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(e + E_CT, NULL, key, SAKSI_DK_KEYLEN, ad,
	                                           adlen, NULL, e + E_NONCE, wk);
}

static void
wrap(uint8_t *e, uint64_t gen, const uint8_t *key, const uint8_t *ad, size_t adlen,
     const uint8_t *wk)
{
	wrap_n(e, gen, key, ad, adlen, wk, NULL);
}

static saksi_err
unwrap(const uint8_t *e, uint8_t *key, const uint8_t *ad, size_t adlen, const uint8_t *wk)
{
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key, NULL, NULL, e + E_CT, E_CT_LEN, ad,
	                                               adlen, e + E_NONCE, wk) != 0)
		return SAKSI_ERR_DECRYPT;
	return SAKSI_OK;
}

/* An entry is all zero (state 0) or state 1 with zero padding. */
static saksi_err
entry_check(const uint8_t *e)
{
	static const uint8_t zero[SAKSI_DK_SLOT_SIZE];

	if (e[0] == 0)
		return sodium_memcmp(e, zero, SAKSI_DK_SLOT_SIZE) == 0 ? SAKSI_OK :
		    SAKSI_ERR_FORMAT;
	if (e[0] != 1 || sodium_memcmp(e + 1, zero, 7) != 0 ||
	    sodium_memcmp(e + E_CT + E_CT_LEN, zero, SAKSI_DK_SLOT_SIZE - E_CT - E_CT_LEN) != 0 ||
	    saksi_get_u64(e + E_GEN) == 0)
		return SAKSI_ERR_FORMAT;
	return SAKSI_OK;
}

static void
header(uint8_t h[SAKSI_DK_HDR_SIZE], char magic, const uint8_t *store_id)
{
	memset(h, 0, SAKSI_DK_HDR_SIZE);
	h[0] = 'S';
	h[1] = (uint8_t)magic;
	h[2] = 1;
	if (store_id != NULL)
		memcpy(h + 8, store_id, 8);
}

static saksi_err
header_check(const uint8_t h[SAKSI_DK_HDR_SIZE], char magic)
{
	static const uint8_t zero[SAKSI_DK_HDR_SIZE];

	if (h[0] != 'S' || h[1] != (uint8_t)magic)
		return SAKSI_ERR_FORMAT;
	if (h[2] != 1)
		return SAKSI_ERR_VERSION;
	if (sodium_memcmp(h + 3, zero, 5) != 0 || sodium_memcmp(h + 16, zero, 112) != 0)
		return SAKSI_ERR_FORMAT;
	/* Bytes 8..15 hold the store key id in the master file only: zero in the slot file. */
	if (magic == 'K' && sodium_memcmp(h + 8, zero, 8) != 0)
		return SAKSI_ERR_FORMAT;
	return SAKSI_OK;
}

/* Opens path; a new file gets init (n bytes), synced. */
static saksi_err
open_file(const char *path, int create, int write, const uint8_t *init, size_t n, int *fdp)
{
	struct stat st;
	int fd;
	saksi_err e;

	*fdp = -1;
	fd = open(path, (write ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create && write) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return errno_err();
		if ((e = pwrite_all(fd, init, n, 0)) != SAKSI_OK || (e = sync_fd(fd)) != SAKSI_OK) {
			close(fd);
			unlink(path);
			return e;
		}
	}
	if (fd < 0)
		return errno_err();
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return SAKSI_ERR_FORMAT;
	}
	if ((st.st_mode & 077) != 0) {
		close(fd);
		return SAKSI_ERR_PERM;
	}
	*fdp = fd;
	return SAKSI_OK;
}

/* Reads the master file into dk_keys / dk_gen. */
static saksi_err
load_masters(saksi_datakeys *dk)
{
	/* One byte more than the file's size, so that a longer file is seen (7.2: 384). */
	uint8_t buf[MASTER_FILE_SIZE + 1], ad[sizeof(MASTER_AD) - 1 + 16];
	const uint8_t *sid = saksi_seckey_id(dk->dk_store);
	size_t got;
	saksi_err e;

	dk->dk_gen[0] = dk->dk_gen[1] = 0;
	sodium_memzero(dk->dk_keys, 2 * SAKSI_DK_KEYLEN);
	if ((e = pread_all(dk->dk_mfd, buf, sizeof(buf), 0, &got)) != SAKSI_OK)
		return e;
	if (got != MASTER_FILE_SIZE)
		return SAKSI_ERR_FORMAT;
	if ((e = header_check(buf, 'M')) != SAKSI_OK)
		return e;
	if (sodium_memcmp(buf + 8, sid, 8) != 0)
		return SAKSI_ERR_KEY;
	for (int i = 0; i < 2; i++) {
		const uint8_t *en = buf + SAKSI_DK_HDR_SIZE + i * SAKSI_DK_SLOT_SIZE;
		uint64_t gen;

		if ((e = entry_check(en)) != SAKSI_OK)
			return e;
		if (en[0] == 0)
			continue;
		gen = saksi_get_u64(en + E_GEN);
		master_ad(ad, sid, gen);
		if ((e = unwrap(en, dk->dk_keys + i * SAKSI_DK_KEYLEN, ad, sizeof(ad),
		                saksi_seckey_sym(dk->dk_store))) != SAKSI_OK) {
			sodium_memzero(dk->dk_keys, 2 * SAKSI_DK_KEYLEN);
			return e;
		}
		dk->dk_gen[i] = gen;
	}
	if ((dk->dk_gen[0] == 0 && dk->dk_gen[1] == 0) || dk->dk_gen[0] == dk->dk_gen[1])
		return SAKSI_ERR_FORMAT;
	return SAKSI_OK;
}

/* The entry of the current (newest) master. */
static int
cur(const saksi_datakeys *dk)
{
	return dk->dk_gen[1] > dk->dk_gen[0] ? 1 : 0;
}

static const uint8_t *
master_of(const saksi_datakeys *dk, uint64_t gen)
{
	for (int i = 0; i < 2; i++)
		if (dk->dk_gen[i] == gen)
			return dk->dk_keys + i * SAKSI_DK_KEYLEN;
	return NULL;
}

static saksi_err finish_rotation(saksi_datakeys *dk, uint64_t *rewrapped);

saksi_err
saksi_dk_open(const char *slots_path, const char *master_path, const saksi_seckey *store,
              int create, int write, saksi_datakeys **out)
{
	uint8_t sh[SAKSI_DK_HDR_SIZE], mf[MASTER_FILE_SIZE], ad[sizeof(MASTER_AD) - 1 + 16];
	uint8_t *mk = NULL;
	saksi_datakeys *dk;
	struct stat st;
	size_t got;
	saksi_err e;

	*out = NULL;
	if (slots_path == NULL || master_path == NULL)
		return SAKSI_ERR_INVAL;
	if (store == NULL || saksi_seckey_kind(store) != SAKSI_KEY_SYM)
		return SAKSI_ERR_KEY;
	if ((dk = calloc(1, sizeof(*dk))) == NULL)
		return SAKSI_ERR_NOMEM;
	dk->dk_fd = dk->dk_mfd = dk->dk_sfd = -1;
	dk->dk_write = write;
	dk->dk_store = store;
	if ((dk->dk_keys = sodium_malloc(2 * SAKSI_DK_KEYLEN)) == NULL ||
	    (mk = sodium_malloc(SAKSI_DK_KEYLEN)) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto fail;
	}
	/* A new master file: generation 1, wrapped by the store key. Made only if absent. */
	header(mf, 'M', saksi_seckey_id(store));
	memset(mf + SAKSI_DK_HDR_SIZE, 0, 2 * SAKSI_DK_SLOT_SIZE);
	randombytes_buf(mk, SAKSI_DK_KEYLEN);
	master_ad(ad, saksi_seckey_id(store), 1);
	wrap(mf + SAKSI_DK_HDR_SIZE, 1, mk, ad, sizeof(ad), saksi_seckey_sym(store));
	sodium_memzero(mk, SAKSI_DK_KEYLEN);
	if ((e = open_file(master_path, create, write, mf, sizeof(mf), &dk->dk_mfd)) != SAKSI_OK)
		goto fail;
	header(sh, 'K', NULL);
	if ((e = open_file(slots_path, create, write, sh, sizeof(sh), &dk->dk_fd)) != SAKSI_OK)
		goto fail;
	if ((e = pread_all(dk->dk_fd, sh, sizeof(sh), 0, &got)) != SAKSI_OK)
		goto fail;
	if (got != sizeof(sh)) {
		e = SAKSI_ERR_FORMAT;
		goto fail;
	}
	if ((e = header_check(sh, 'K')) != SAKSI_OK)
		goto fail;
	if (fstat(dk->dk_fd, &st) != 0) {
		e = SAKSI_ERR_IO;
		goto fail;
	}
	if (write) {
		struct stat st2;

		if ((dk->dk_sfd = open(slots_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			e = errno_err();
			goto fail;
		}
		/* The same file, not one put in its place since dk_fd was opened. */
		if (fstat(dk->dk_sfd, &st2) != 0 || st2.st_dev != st.st_dev ||
		    st2.st_ino != st.st_ino) {
			e = SAKSI_ERR_IO;
			goto fail;
		}
	}
	/* A torn last slot (a crash while the file grew) counts as a slot never written. */
	dk->dk_slots = ((uint64_t)st.st_size - SAKSI_DK_HDR_SIZE) / SAKSI_DK_SLOT_SIZE;
	if ((e = load_masters(dk)) != SAKSI_OK)
		goto fail;
	/* Two masters: a rotation was interrupted; the writer finishes it now. */
	if (write && dk->dk_gen[0] != 0 && dk->dk_gen[1] != 0 &&
	    (e = finish_rotation(dk, NULL)) != SAKSI_OK)
		goto fail;
	sodium_free(mk);
	*out = dk;
	return SAKSI_OK;

fail:
	sodium_free(mk);
	saksi_dk_close(dk);
	return e;
}

static saksi_err pend_flush(saksi_datakeys *dk);

void
saksi_dk_close(saksi_datakeys *dk)
{
	if (dk == NULL)
		return;
	/* Written as before, when each was written at once; synced by no one. */
	(void)pend_flush(dk);
	if (dk->dk_pend != NULL) {
		sodium_memzero(dk->dk_pend, dk->dk_pend_cap * SAKSI_DK_SLOT_SIZE);
		free(dk->dk_pend);
	}
	if (dk->dk_fd >= 0)
		close(dk->dk_fd);
	if (dk->dk_sfd >= 0)
		close(dk->dk_sfd);
	if (dk->dk_mfd >= 0)
		close(dk->dk_mfd);
	sodium_free(dk->dk_keys);
	free(dk);
}

uint64_t
saksi_dk_generation(const saksi_datakeys *dk)
{
	return dk->dk_gen[cur(dk)];
}

uint64_t
saksi_dk_slots(const saksi_datakeys *dk)
{
	return dk->dk_slots;
}

static off_t
slot_off(uint64_t slot)
{
	return (off_t)(SAKSI_DK_HDR_SIZE + slot * SAKSI_DK_SLOT_SIZE);
}

/*
 * Writes the pending run of new slots, one pwrite for all. On failure they are dropped:
 * nothing refers to a slot before the sync that follows its write (saksi_dk_create), and
 * that sync is the one that reports the failure.
 */
static saksi_err
pend_flush(saksi_datakeys *dk)
{
	saksi_err e;

	if (dk->dk_npend == 0)
		return SAKSI_OK;
	e = pwrite_all(dk->dk_fd, dk->dk_pend, dk->dk_npend * SAKSI_DK_SLOT_SIZE,
	               slot_off(dk->dk_pend_first));
	sodium_memzero(dk->dk_pend, dk->dk_npend * SAKSI_DK_SLOT_SIZE);
	dk->dk_npend = 0;
	return e;
}

static int
pend_has(const saksi_datakeys *dk, uint64_t slot)
{
	return dk->dk_npend > 0 && slot >= dk->dk_pend_first &&
	    slot - dk->dk_pend_first < dk->dk_npend;
}

/* Room for one more pending slot at the end of the run; 0 if none could be made. */
static int
pend_room(saksi_datakeys *dk)
{
	uint8_t *p;
	size_t cap;

	if (dk->dk_npend < dk->dk_pend_cap)
		return 1;
	cap = dk->dk_pend_cap ? 2 * dk->dk_pend_cap : 64;
	if ((p = malloc(cap * SAKSI_DK_SLOT_SIZE)) == NULL)
		return 0;
	if (dk->dk_npend > 0)
		memcpy(p, dk->dk_pend, dk->dk_npend * SAKSI_DK_SLOT_SIZE);
	if (dk->dk_pend != NULL) {
		sodium_memzero(dk->dk_pend, dk->dk_pend_cap * SAKSI_DK_SLOT_SIZE);
		free(dk->dk_pend);
	}
	dk->dk_pend = p;
	dk->dk_pend_cap = cap;
	return 1;
}

saksi_err
saksi_dk_create(saksi_datakeys *dk, uint64_t slot, uint8_t key[SAKSI_DK_KEYLEN])
{
	uint8_t en[SAKSI_DK_SLOT_SIZE], ad[sizeof(SLOT_AD) - 1 + 16];
	uint8_t rnd[SAKSI_DK_KEYLEN + 24];
	uint64_t gen;
	saksi_err e;

	if (dk == NULL || key == NULL || !dk->dk_write)
		return SAKSI_ERR_INVAL;
	if (slot >= SAKSI_DK_SLOTS_MAX)
		return SAKSI_ERR_RANGE;
	gen = dk->dk_gen[cur(dk)];
	/* The key and its wrapping nonce in one draw: one system call, not two. */
	randombytes_buf(rnd, sizeof(rnd));
	memcpy(key, rnd, SAKSI_DK_KEYLEN);
	slot_ad(ad, slot, gen);
	wrap_n(en, gen, key, ad, sizeof(ad), master_of(dk, gen), rnd + SAKSI_DK_KEYLEN);
	sodium_memzero(rnd, sizeof(rnd));
	/*
	 * The committer makes slots in order, one per new participant: they wait and go to
	 * the file together, at the group's sync. A slot out of that order (or no memory
	 * for the run) writes what waits, then itself, at once.
	 */
	e = SAKSI_OK;
	if (dk->dk_npend > 0 && slot != dk->dk_pend_first + dk->dk_npend)
		e = pend_flush(dk);
	if (e == SAKSI_OK && pend_room(dk)) {
		if (dk->dk_npend == 0)
			dk->dk_pend_first = slot;
		memcpy(dk->dk_pend + dk->dk_npend * SAKSI_DK_SLOT_SIZE, en, sizeof(en));
		dk->dk_npend++;
	} else if (e == SAKSI_OK && (e = pend_flush(dk)) == SAKSI_OK)
		e = pwrite_all(dk->dk_fd, en, sizeof(en), slot_off(slot));
	if (e != SAKSI_OK) {
		sodium_memzero(key, SAKSI_DK_KEYLEN);
		return e;
	}
	if (slot >= dk->dk_slots)
		dk->dk_slots = slot + 1;
	return SAKSI_OK;
}

/* Slots whose keys and nonces one keystream block of saksi_dk_fill makes. */
#define FILL_CHUNK 64
#define FILL_RND (SAKSI_DK_KEYLEN + 24)

saksi_err
saksi_dk_datasync(const saksi_datakeys *dk)
{
	if (dk == NULL || !dk->dk_write)
		return SAKSI_ERR_INVAL;
	return sync_fd(dk->dk_sfd);
}

saksi_err
saksi_dk_fill(saksi_datakeys *dk, uint64_t first, uint64_t n, int sync)
{
	uint8_t ad[sizeof(SLOT_AD) - 1 + 16], nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
	uint8_t *seed = NULL, *rnd = NULL, *out = NULL;
	const uint8_t *mk;
	uint64_t gen;
	saksi_err e;

	if (dk == NULL || !dk->dk_write || n == 0)
		return SAKSI_ERR_INVAL;
	if (first >= SAKSI_DK_SLOTS_MAX || n > SAKSI_DK_FILL_MAX ||
	    n > SAKSI_DK_SLOTS_MAX - first)
		return SAKSI_ERR_RANGE;
	/* Whatever waits goes first: these slots may overwrite some of them. */
	if ((e = pend_flush(dk)) != SAKSI_OK)
		return e;
	seed = sodium_malloc(crypto_stream_chacha20_ietf_KEYBYTES);
	rnd = sodium_malloc(FILL_CHUNK * FILL_RND);
	out = malloc((size_t)n * SAKSI_DK_SLOT_SIZE);
	if (seed == NULL || rnd == NULL || out == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	gen = dk->dk_gen[cur(dk)];
	mk = master_of(dk, gen);
	/*
	 * The keys and wrapping nonces of the whole batch from one random seed's keystream
	 * (what randombytes_buf_deterministic does), one system call for all of them rather
	 * than one per slot; the seed is wiped below, so it outlives none of them.
	 */
	randombytes_buf(seed, crypto_stream_chacha20_ietf_KEYBYTES);
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *r = rnd + (i % FILL_CHUNK) * FILL_RND;

		if (i % FILL_CHUNK == 0) {
			memset(nonce, 0, sizeof(nonce));
			saksi_put_u64(nonce, i / FILL_CHUNK);
			crypto_stream_chacha20_ietf(rnd, FILL_CHUNK * FILL_RND, nonce, seed);
		}
		slot_ad(ad, first + i, gen);
		wrap_n(out + i * SAKSI_DK_SLOT_SIZE, gen, r, ad, sizeof(ad), mk,
		       r + SAKSI_DK_KEYLEN);
	}
	/* One write, one sync: no slot of the batch is handed out before both. */
	if ((e = pwrite_all(dk->dk_fd, out, (size_t)n * SAKSI_DK_SLOT_SIZE, slot_off(first))) ==
	    SAKSI_OK && (!sync || (e = sync_fd(dk->dk_fd)) == SAKSI_OK) &&
	    first + n > dk->dk_slots)
		dk->dk_slots = first + n;
out:
	sodium_free(seed);
	sodium_free(rnd);
	free(out);
	return e;
}

static saksi_err get_once(saksi_datakeys *dk, uint64_t slot, uint8_t key[SAKSI_DK_KEYLEN]);

saksi_err
saksi_dk_get(saksi_datakeys *dk, uint64_t slot, uint8_t key[SAKSI_DK_KEYLEN])
{
	saksi_err e;

	if (dk == NULL || key == NULL)
		return SAKSI_ERR_INVAL;
	if (slot >= SAKSI_DK_SLOTS_MAX)
		return SAKSI_ERR_NOT_FOUND;
	e = get_once(dk, slot, key);
	/*
	 * A reader may have read a slot while the writer re-wrote it (128 bytes are not
	 * written atomically for every reader), or the masters while they rotated: once
	 * more, with the masters reloaded, before a slot is called dead.
	 */
	if ((e == SAKSI_ERR_DECRYPT || e == SAKSI_ERR_FORMAT) && !dk->dk_write &&
	    load_masters(dk) == SAKSI_OK)
		e = get_once(dk, slot, key);
	return e;
}

static saksi_err
get_once(saksi_datakeys *dk, uint64_t slot, uint8_t key[SAKSI_DK_KEYLEN])
{
	uint8_t en[SAKSI_DK_SLOT_SIZE], ad[sizeof(SLOT_AD) - 1 + 16];
	const uint8_t *mk;
	uint64_t gen;
	size_t got;
	saksi_err e;

	if (pend_has(dk, slot)) {
		memcpy(en, dk->dk_pend + (slot - dk->dk_pend_first) * SAKSI_DK_SLOT_SIZE,
		       sizeof(en));
		got = sizeof(en);
	} else if ((e = pread_all(dk->dk_fd, en, sizeof(en), slot_off(slot), &got)) !=
	           SAKSI_OK)
		return e;
	if (got < sizeof(en))
		return SAKSI_ERR_NOT_FOUND;
	if ((e = entry_check(en)) != SAKSI_OK)
		return e;
	if (en[0] == 0)
		return SAKSI_ERR_NOT_FOUND;
	gen = saksi_get_u64(en + E_GEN);
	if ((mk = master_of(dk, gen)) == NULL && !dk->dk_write) {
		/* The writer rotated since we loaded the masters: load them again. */
		if ((e = load_masters(dk)) != SAKSI_OK)
			return e;
		mk = master_of(dk, gen);
	}
	if (mk == NULL)
		return SAKSI_ERR_DECRYPT;   /* its master is destroyed: an old copy */
	slot_ad(ad, slot, gen);
	return unwrap(en, key, ad, sizeof(ad), mk);
}

saksi_err
saksi_dk_wipe(saksi_datakeys *dk, uint64_t slot)
{
	static const uint8_t zero[SAKSI_DK_SLOT_SIZE];

	if (dk == NULL || !dk->dk_write)
		return SAKSI_ERR_INVAL;
	if (slot >= dk->dk_slots)
		return SAKSI_OK;   /* never written: nothing to destroy */
	if (pend_has(dk, slot)) {
		saksi_err e = pend_flush(dk);
		if (e != SAKSI_OK)
			return e;
	}
	return pwrite_all(dk->dk_fd, zero, sizeof(zero), slot_off(slot));
}

saksi_err
saksi_dk_sync(saksi_datakeys *dk)
{
	saksi_err e;

	if (dk == NULL || !dk->dk_write)
		return SAKSI_ERR_INVAL;
	if ((e = pend_flush(dk)) != SAKSI_OK)
		return e;
	return sync_fd(dk->dk_fd);
}

/*
 * Re-wraps every live slot not under the newest master, syncs, then destroys every
 * older master entry. Both masters are loaded.
 */
static saksi_err
finish_rotation(saksi_datakeys *dk, uint64_t *rewrapped)
{
	static const uint8_t zero[SAKSI_DK_SLOT_SIZE];
	uint8_t en[SAKSI_DK_SLOT_SIZE], ad[sizeof(SLOT_AD) - 1 + 16];
	uint8_t *key;
	int c = cur(dk), old = 1 - c;
	uint64_t live = 0, newgen = dk->dk_gen[c];
	size_t got;
	saksi_err e = SAKSI_OK;

	if ((e = pend_flush(dk)) != SAKSI_OK)
		return e;   /* every slot is re-wrapped from the file */
	if ((key = sodium_malloc(SAKSI_DK_KEYLEN)) == NULL)
		return SAKSI_ERR_NOMEM;
	for (uint64_t s = 0; s < dk->dk_slots; s++) {
		const uint8_t *mk;
		uint64_t gen;

		if ((e = pread_all(dk->dk_fd, en, sizeof(en), slot_off(s), &got)) != SAKSI_OK)
			goto out;
		if (got < sizeof(en))
			break;
		if (entry_check(en) != SAKSI_OK || en[0] == 0)
			continue;   /* wiped, or garbage nobody can open anyway */
		live++;
		gen = saksi_get_u64(en + E_GEN);
		if (gen == newgen)
			continue;
		slot_ad(ad, s, gen);
		if ((mk = master_of(dk, gen)) == NULL ||
		    unwrap(en, key, ad, sizeof(ad), mk) != SAKSI_OK) {
			/* Under a master already gone: it opens for no one; make that plain. */
			live--;
			e = pwrite_all(dk->dk_fd, zero, sizeof(zero), slot_off(s));
			if (e != SAKSI_OK)
				goto out;
			continue;
		}
		slot_ad(ad, s, newgen);
		wrap(en, newgen, key, ad, sizeof(ad), dk->dk_keys + c * SAKSI_DK_KEYLEN);
		if ((e = pwrite_all(dk->dk_fd, en, sizeof(en), slot_off(s))) != SAKSI_OK)
			goto out;
	}
	if ((e = sync_fd(dk->dk_fd)) != SAKSI_OK)
		goto out;
	/* Every slot is under the new master: the old one may go, in place. */
	if (dk->dk_gen[old] != 0) {
		if ((e = pwrite_all(dk->dk_mfd, zero, sizeof(zero),
		                    SAKSI_DK_HDR_SIZE + old * SAKSI_DK_SLOT_SIZE)) != SAKSI_OK ||
		    (e = sync_fd(dk->dk_mfd)) != SAKSI_OK)
			goto out;
		sodium_memzero(dk->dk_keys + old * SAKSI_DK_KEYLEN, SAKSI_DK_KEYLEN);
		dk->dk_gen[old] = 0;
	}
	if (rewrapped != NULL)
		*rewrapped = live;
out:
	sodium_memzero(en, sizeof(en));
	sodium_free(key);
	return e;
}

saksi_err
saksi_dk_rotate(saksi_datakeys *dk, uint64_t *rewrapped)
{
	uint8_t en[SAKSI_DK_SLOT_SIZE], ad[sizeof(MASTER_AD) - 1 + 16];
	int c, spare;
	uint64_t gen;
	saksi_err e;

	if (dk == NULL || !dk->dk_write)
		return SAKSI_ERR_INVAL;
	c = cur(dk);
	spare = 1 - c;
	if (dk->dk_gen[spare] != 0) {
		/* Cannot happen after open; finish the old rotation first all the same. */
		if ((e = finish_rotation(dk, NULL)) != SAKSI_OK)
			return e;
	}
	gen = dk->dk_gen[c] + 1;
	randombytes_buf(dk->dk_keys + spare * SAKSI_DK_KEYLEN, SAKSI_DK_KEYLEN);
	master_ad(ad, saksi_seckey_id(dk->dk_store), gen);
	wrap(en, gen, dk->dk_keys + spare * SAKSI_DK_KEYLEN, ad, sizeof(ad),
	     saksi_seckey_sym(dk->dk_store));
	if ((e = pwrite_all(dk->dk_mfd, en, sizeof(en),
	                    SAKSI_DK_HDR_SIZE + spare * SAKSI_DK_SLOT_SIZE)) != SAKSI_OK ||
	    (e = sync_fd(dk->dk_mfd)) != SAKSI_OK) {
		sodium_memzero(dk->dk_keys + spare * SAKSI_DK_KEYLEN, SAKSI_DK_KEYLEN);
		return e;
	}
	dk->dk_gen[spare] = gen;
	return finish_rotation(dk, rewrapped);
}

/* ---- disclosures at rest v2 ---- */

size_t
saksi_disc2_bound(size_t json_len)
{
	return SAKSI_DISC2_OVERHEAD + 1 + json_len + 1 + 2 * SAKSI_DISCLOSURES_MAX;
}

static void
disc2_ad(uint8_t ad[sizeof(DISC2_AD) - 1 + 8 + 32 + 10], uint64_t index,
         const saksi_hash leaf_hash, const uint8_t *hdr)
{
	memcpy(ad, DISC2_AD, sizeof(DISC2_AD) - 1);
	saksi_put_u64(ad + sizeof(DISC2_AD) - 1, index);
	memcpy(ad + sizeof(DISC2_AD) - 1 + 8, leaf_hash, 32);
	memcpy(ad + sizeof(DISC2_AD) - 1 + 40, hdr, 10);
}

/*
 * The compact list: count (1) || count x (len (2) || decoded disclosure). Written into
 * p (room: len + 1 + 2 x 32 bytes). SAKSI_ERR_FORMAT if json is not a list of canonical
 * base64url strings (then the caller stores the JSON text as it is).
 */
static saksi_err
compact(const uint8_t *json, size_t len, uint8_t *p, size_t room, size_t *plen)
{
	json_t *a, *v;
	size_t i, off = 1;
	char *re = NULL;
	saksi_err e = SAKSI_ERR_FORMAT;

	a = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > SAKSI_DISCLOSURES_MAX)
		goto out;
	if ((re = malloc(len + 1)) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		size_t sl = json_string_length(v), bl;

		if (s == NULL || sl == 0 || off + 2 + sl > room)
			goto out;
		if (sodium_base642bin(p + off + 2, room - off - 2, s, sl, NULL, &bl, NULL,
		                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
		    bl > 0xffff)
			goto out;
		/* Only a spelling that encodes back to itself: the digest covers the text. */
		sodium_bin2base64(re, len + 1, p + off + 2, bl,
		                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		if (strlen(re) != sl || memcmp(re, s, sl) != 0)
			goto out;
		saksi_put_u16(p + off, (uint16_t)bl);
		off += 2 + bl;
	}
	p[0] = (uint8_t)json_array_size(a);
	*plen = off;
	e = SAKSI_OK;
out:
	if (re != NULL) {
		sodium_memzero(re, len + 1);
		free(re);
	}
	json_decref(a);
	return e;
}

struct saksi_disc2_ctx {
	ZSTD_CCtx *dc_cctx;
};

saksi_err
saksi_disc2_ctx_new(saksi_disc2_ctx **out)
{
	saksi_disc2_ctx *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SAKSI_ERR_NOMEM;
	if ((c->dc_cctx = ZSTD_createCCtx()) == NULL) {
		free(c);
		return SAKSI_ERR_NOMEM;
	}
	*out = c;
	return SAKSI_OK;
}

void
saksi_disc2_ctx_free(saksi_disc2_ctx *c)
{
	if (c == NULL)
		return;
	ZSTD_freeCCtx(c->dc_cctx);
	free(c);
}

saksi_err
saksi_disc2_seal(int key_kind, const uint8_t key_id[8], const uint8_t key[SAKSI_DK_KEYLEN],
                 uint64_t index, const saksi_hash leaf_hash, const uint8_t *json, size_t len,
                 uint8_t *out, size_t outlen, size_t *written)
{
	return saksi_disc2_seal_ctx(NULL, key_kind, key_id, key, index, leaf_hash, json, len,
	                            out, outlen, written);
}

size_t
saksi_disc2_pack_bound(size_t json_len)
{
	return 1 + json_len + 1 + 2 * SAKSI_DISCLOSURES_MAX;
}

saksi_err
saksi_disc2_pack(saksi_disc2_ctx *ctx, const uint8_t *json, size_t len, uint8_t *pt,
                 size_t ptcap, size_t *ptlen)
{
	uint8_t *z;
	size_t room, plen = 0, zcap, zl;
	saksi_err e;

	if (json == NULL || pt == NULL || ptlen == NULL)
		return SAKSI_ERR_INVAL;
	*ptlen = 0;
	if (len == 0 || len > SAKSI_DISCLOSURE_MAX * 2)
		return SAKSI_ERR_FORMAT;
	if (ptcap < saksi_disc2_pack_bound(len))
		return SAKSI_ERR_INVAL;
	room = len + 1 + 2 * SAKSI_DISCLOSURES_MAX;
	zcap = ZSTD_compressBound(room);
	if ((z = malloc(zcap)) == NULL)
		return SAKSI_ERR_NOMEM;
	e = compact(json, len, pt + 1, room, &plen);
	if (e == SAKSI_ERR_FORMAT) {
		/* Not canonical base64url: keep the text, still sealed. */
		pt[0] = CODEC_JSON;
		memcpy(pt + 1, json, len);
		plen = len;
		e = SAKSI_OK;
	} else if (e == SAKSI_OK) {
		pt[0] = CODEC_LIST;
		zl = ctx != NULL ? ZSTD_compressCCtx(ctx->dc_cctx, z, zcap, pt + 1, plen, 3) :
		    ZSTD_compress(z, zcap, pt + 1, plen, 3);
		if (!ZSTD_isError(zl) && zl < plen) {
			pt[0] = CODEC_LIST_ZSTD;
			memcpy(pt + 1, z, zl);
			plen = zl;
		}
	}
	if (e == SAKSI_OK)
		*ptlen = 1 + plen;
	else
		sodium_memzero(pt, ptcap);
	sodium_memzero(z, zcap);
	free(z);
	return e;
}

saksi_err
saksi_disc2_pack_list(saksi_disc2_ctx *ctx, const uint8_t *list, size_t len, uint8_t *pt,
                      size_t ptcap, size_t *ptlen)
{
	uint8_t *z;
	size_t zcap, zl, off = 1;

	if (list == NULL || pt == NULL || ptlen == NULL)
		return SAKSI_ERR_INVAL;
	*ptlen = 0;
	if (len < 1 || list[0] == 0 || list[0] > SAKSI_DISCLOSURES_MAX)
		return SAKSI_ERR_FORMAT;
	/* The list as compact writes it: count entries, each non-empty, filling it. */
	for (unsigned i = 0; i < list[0]; i++) {
		size_t el;

		if (len - off < 2 || (el = saksi_get_u16(list + off)) == 0 || len - off - 2 < el)
			return SAKSI_ERR_FORMAT;
		off += 2 + el;
	}
	if (off != len)
		return SAKSI_ERR_FORMAT;
	if (ptcap < 1 + len)
		return SAKSI_ERR_INVAL;
	zcap = ZSTD_compressBound(len);
	if ((z = malloc(zcap)) == NULL)
		return SAKSI_ERR_NOMEM;
	pt[0] = CODEC_LIST;
	memcpy(pt + 1, list, len);
	*ptlen = 1 + len;
	zl = ctx != NULL ? ZSTD_compressCCtx(ctx->dc_cctx, z, zcap, list, len, 3) :
	    ZSTD_compress(z, zcap, list, len, 3);
	if (!ZSTD_isError(zl) && zl < len) {
		pt[0] = CODEC_LIST_ZSTD;
		memcpy(pt + 1, z, zl);
		*ptlen = 1 + zl;
	}
	sodium_memzero(z, zcap);
	free(z);
	return SAKSI_OK;
}

saksi_err
saksi_disc2_seal_packed(int key_kind, const uint8_t key_id[8],
                        const uint8_t key[SAKSI_DK_KEYLEN], uint64_t index,
                        const saksi_hash leaf_hash, const uint8_t *pt, size_t ptlen,
                        uint8_t *out, size_t outlen, size_t *written)
{
	uint8_t ad[sizeof(DISC2_AD) - 1 + 8 + 32 + 10];

	if ((key_kind != SAKSI_DK_STORE && key_kind != SAKSI_DK_DATA) || key_id == NULL ||
	    key == NULL || pt == NULL || out == NULL || written == NULL)
		return SAKSI_ERR_INVAL;
	/* A codec byte and a list of 1..32 entries: no pack is shorter or longer. */
	if (ptlen < 2 || ptlen > saksi_disc2_pack_bound(SAKSI_DISCLOSURE_MAX * 2) ||
	    pt[0] > CODEC_JSON)
		return SAKSI_ERR_FORMAT;
	if (outlen < SAKSI_DISC2_OVERHEAD + ptlen)
		return SAKSI_ERR_INVAL;
	out[0] = 2;
	out[1] = (uint8_t)key_kind;
	memcpy(out + 2, key_id, 8);
	randombytes_buf(out + 10, 24);
	disc2_ad(ad, index, leaf_hash, out);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 34, NULL, pt, ptlen, ad, sizeof(ad),
	                                           NULL, out + 10, key);
	*written = SAKSI_DISC2_OVERHEAD + ptlen;
	return SAKSI_OK;
}

saksi_err
saksi_disc2_seal_ctx(saksi_disc2_ctx *ctx, int key_kind, const uint8_t key_id[8],
                     const uint8_t key[SAKSI_DK_KEYLEN], uint64_t index,
                     const saksi_hash leaf_hash, const uint8_t *json, size_t len,
                     uint8_t *out, size_t outlen, size_t *written)
{
	uint8_t *pt;
	size_t cap, ptlen = 0;
	saksi_err e;

	if ((key_kind != SAKSI_DK_STORE && key_kind != SAKSI_DK_DATA) || key_id == NULL ||
	    key == NULL || json == NULL || out == NULL || written == NULL)
		return SAKSI_ERR_INVAL;
	if (len == 0 || len > SAKSI_DISCLOSURE_MAX * 2)
		return SAKSI_ERR_FORMAT;
	if (outlen < saksi_disc2_bound(len))
		return SAKSI_ERR_INVAL;
	cap = saksi_disc2_pack_bound(len);
	if ((pt = malloc(cap)) == NULL)
		return SAKSI_ERR_NOMEM;
	e = saksi_disc2_pack(ctx, json, len, pt, cap, &ptlen);
	if (e == SAKSI_OK)
		e = saksi_disc2_seal_packed(key_kind, key_id, key, index, leaf_hash, pt, ptlen,
		                            out, outlen, written);
	sodium_memzero(pt, cap);
	free(pt);
	return e;
}

saksi_err
saksi_disc2_key(const uint8_t *blob, size_t len, int *key_kind, uint64_t *key_id)
{
	if (blob == NULL || key_kind == NULL || key_id == NULL)
		return SAKSI_ERR_INVAL;
	if (len < 1)
		return SAKSI_ERR_FORMAT;
	if (blob[0] != 2)
		return SAKSI_ERR_VERSION;
	if (len < SAKSI_DISC2_OVERHEAD + 1)
		return SAKSI_ERR_FORMAT;
	if (blob[1] != SAKSI_DK_STORE && blob[1] != SAKSI_DK_DATA)
		return SAKSI_ERR_FORMAT;
	*key_kind = blob[1];
	*key_id = saksi_get_u64(blob + 2);
	return SAKSI_OK;
}

/* Rebuilds ["d1","d2",...] from the compact list. */
static saksi_err
expand(const uint8_t *p, size_t n, char **json, size_t *json_len)
{
	size_t cnt, off = 1, need = 3, i;
	char *s, *w;

	if (n < 1 || (cnt = p[0]) == 0 || cnt > SAKSI_DISCLOSURES_MAX)
		return SAKSI_ERR_FORMAT;
	for (i = 0; i < cnt; i++) {
		size_t bl;
		if (n - off < 2)
			return SAKSI_ERR_FORMAT;
		bl = saksi_get_u16(p + off);
		if (bl == 0 || n - off - 2 < bl)
			return SAKSI_ERR_FORMAT;
		need += sodium_base64_ENCODED_LEN(bl, sodium_base64_VARIANT_URLSAFE_NO_PADDING) + 3;
		off += 2 + bl;
	}
	if (off != n)
		return SAKSI_ERR_FORMAT;
	if ((s = malloc(need)) == NULL)
		return SAKSI_ERR_NOMEM;
	w = s;
	*w++ = '[';
	off = 1;
	for (i = 0; i < cnt; i++) {
		size_t bl = saksi_get_u16(p + off);
		if (i > 0)
			*w++ = ',';
		*w++ = '"';
		sodium_bin2base64(w, need - (size_t)(w - s), p + off + 2, bl,
		                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		w += strlen(w);
		*w++ = '"';
		off += 2 + bl;
	}
	*w++ = ']';
	*w = '\0';
	*json = s;
	*json_len = (size_t)(w - s);
	return SAKSI_OK;
}

static saksi_err
open_v2(const saksi_seckey *store, saksi_datakeys *dk, uint64_t index,
        const saksi_hash leaf_hash, const uint8_t *blob, size_t len, char **json,
        size_t *json_len)
{
	uint8_t ad[sizeof(DISC2_AD) - 1 + 8 + 32 + 10];
	uint8_t *key = NULL, *pt = NULL, *list = NULL;
	const uint8_t *k;
	size_t plen = len - SAKSI_DISC2_OVERHEAD, llen = 0;
	unsigned long long ptl;
	uint64_t kid;
	int kind;
	saksi_err e;

	if ((e = saksi_disc2_key(blob, len, &kind, &kid)) != SAKSI_OK)
		return e;
	if (kind == SAKSI_DK_STORE) {
		if (store == NULL || saksi_seckey_kind(store) != SAKSI_KEY_SYM)
			return SAKSI_ERR_KEY;
		if (sodium_memcmp(blob + 2, saksi_seckey_id(store), 8) != 0)
			return SAKSI_ERR_KEY;
		k = saksi_seckey_sym(store);
	} else {
		if (dk == NULL)
			return SAKSI_ERR_KEY;
		if ((key = sodium_malloc(SAKSI_DK_KEYLEN)) == NULL)
			return SAKSI_ERR_NOMEM;
		if ((e = saksi_dk_get(dk, kid, key)) != SAKSI_OK) {
			/* An old copy of a slot whose master is gone is as forgotten. */
			sodium_free(key);
			return e == SAKSI_ERR_DECRYPT ? SAKSI_ERR_NOT_FOUND : e;
		}
		k = key;
	}
	disc2_ad(ad, index, leaf_hash, blob);
	if ((pt = malloc(plen)) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &ptl, NULL, blob + 34, len - 34, ad,
	                                               sizeof(ad), blob + 10, k) != 0) {
		e = SAKSI_ERR_DECRYPT;
		goto out;
	}
	plen = (size_t)ptl;
	switch (pt[0]) {
	case CODEC_JSON:
		if ((*json = malloc(plen)) == NULL) {
			e = SAKSI_ERR_NOMEM;
			break;
		}
		memcpy(*json, pt + 1, plen - 1);
		(*json)[plen - 1] = '\0';
		*json_len = plen - 1;
		e = SAKSI_OK;
		break;
	case CODEC_LIST:
		e = expand(pt + 1, plen - 1, json, json_len);
		break;
	case CODEC_LIST_ZSTD: {
		unsigned long long fl = ZSTD_getFrameContentSize(pt + 1, plen - 1);
		size_t got;
		/* One frame and nothing after it (FORMATS.md 7.1): ZSTD_decompress would
		 * also take frames that follow, such as an empty or a skippable one. */
		if (fl == ZSTD_CONTENTSIZE_UNKNOWN || fl == ZSTD_CONTENTSIZE_ERROR ||
		    fl == 0 || fl > LIST_MAX ||
		    ZSTD_findFrameCompressedSize(pt + 1, plen - 1) != plen - 1) {
			e = SAKSI_ERR_FORMAT;
			break;
		}
		if ((list = malloc((size_t)fl)) == NULL) {
			e = SAKSI_ERR_NOMEM;
			break;
		}
		llen = (size_t)fl;
		got = ZSTD_decompress(list, llen, pt + 1, plen - 1);
		if (ZSTD_isError(got) || got != llen) {
			e = SAKSI_ERR_FORMAT;
			break;
		}
		e = expand(list, llen, json, json_len);
		break;
	}
	default:
		e = SAKSI_ERR_FORMAT;
	}
out:
	if (pt != NULL) {
		sodium_memzero(pt, len - SAKSI_DISC2_OVERHEAD);
		free(pt);
	}
	if (list != NULL) {
		sodium_memzero(list, llen);
		free(list);
	}
	sodium_free(key);
	return e;
}

/* Version 1 (FORMATS.md 7.1 v1): the store key only. */
static saksi_err
open_v1(const saksi_seckey *store, uint64_t index, const saksi_hash leaf_hash,
        const uint8_t *blob, size_t len, char **json, size_t *json_len)
{
	static const char prefix[] = "saksi/disc-at-rest/v1\n";
	uint8_t ad[sizeof(prefix) - 1 + 8 + 32];
	unsigned long long ml;
	uint8_t *m;

	if (len < SAKSI_DISC2_OVERHEAD)
		return SAKSI_ERR_FORMAT;
	if (blob[1] != 1)
		return SAKSI_ERR_VERSION;
	if (store == NULL || saksi_seckey_kind(store) != SAKSI_KEY_SYM ||
	    sodium_memcmp(blob + 2, saksi_seckey_id(store), 8) != 0)
		return SAKSI_ERR_KEY;
	memcpy(ad, prefix, sizeof(prefix) - 1);
	saksi_put_u64(ad + sizeof(prefix) - 1, index);
	memcpy(ad + sizeof(prefix) - 1 + 8, leaf_hash, 32);
	if ((m = malloc(len - SAKSI_DISC2_OVERHEAD + 1)) == NULL)
		return SAKSI_ERR_NOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(m, &ml, NULL, blob + 34, len - 34, ad,
	                                               sizeof(ad), blob + 10,
	                                               saksi_seckey_sym(store)) != 0) {
		free(m);
		return SAKSI_ERR_DECRYPT;
	}
	m[ml] = '\0';
	*json = (char *)m;
	*json_len = (size_t)ml;
	return SAKSI_OK;
}

saksi_err
saksi_disc_open_any(const saksi_seckey *store, saksi_datakeys *dk, uint64_t index,
                    const saksi_hash leaf_hash, const uint8_t *blob, size_t len, char **json,
                    size_t *json_len)
{
	if (json != NULL)
		*json = NULL;
	if (json_len != NULL)
		*json_len = 0;
	if (blob == NULL || json == NULL || json_len == NULL || leaf_hash == NULL)
		return SAKSI_ERR_INVAL;
	if (len < 1)
		return SAKSI_ERR_FORMAT;
	if (blob[0] == 1)
		return open_v1(store, index, leaf_hash, blob, len, json, json_len);
	if (blob[0] == 2)
		return open_v2(store, dk, index, leaf_hash, blob, len, json, json_len);
	return SAKSI_ERR_VERSION;
}

/* 1 if every live slot of the file image buf (n bytes) has the same generation. */
static int
one_generation(const uint8_t *buf, size_t n)
{
	uint64_t gen = 0;

	for (size_t off = SAKSI_DK_HDR_SIZE; off + SAKSI_DK_SLOT_SIZE <= n;
	     off += SAKSI_DK_SLOT_SIZE) {
		uint64_t g;
		if (buf[off] != 1)
			continue;
		g = saksi_get_u64(buf + off + E_GEN);
		if (gen != 0 && g != gen)
			return 0;
		gen = g;
	}
	return 1;
}

saksi_err
saksi_dk_copy(const char *src, const char *dst)
{
	uint8_t *buf = NULL;
	struct stat st;
	size_t n = 0, got;
	int fd, out, tries;
	saksi_err e = SAKSI_ERR_IO;

	if (src == NULL || dst == NULL)
		return SAKSI_ERR_INVAL;
	if ((fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno_err();
	for (tries = 0; tries < 100; tries++) {
		free(buf);
		buf = NULL;
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			e = SAKSI_ERR_IO;
			goto out;
		}
		n = (size_t)st.st_size;
		if (n < SAKSI_DK_HDR_SIZE) {
			e = SAKSI_ERR_FORMAT;
			goto out;
		}
		if ((buf = malloc(n)) == NULL) {
			e = SAKSI_ERR_NOMEM;
			goto out;
		}
		if ((e = pread_all(fd, buf, n, 0, &got)) != SAKSI_OK)
			goto out;
		n = got - (got - SAKSI_DK_HDR_SIZE) % SAKSI_DK_SLOT_SIZE;
		if ((e = header_check(buf, 'K')) != SAKSI_OK)
			goto out;
		if (one_generation(buf, n))
			break;
		/* A rotation is re-wrapping: wait for it to finish rather than copy a mix. */
		usleep(10000);
	}
	if (tries == 100) {
		e = SAKSI_ERR_IO;
		goto out;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		e = errno_err();
		goto out;
	}
	if ((e = pwrite_all(out, buf, n, 0)) == SAKSI_OK)
		e = sync_fd(out);
	close(out);
	if (e != SAKSI_OK)
		unlink(dst);
out:
	free(buf);
	close(fd);
	return e;
}
