/*
 * datakey_test.c: the data-key store (create, wrap/unwrap, forget, rotation, a crash at
 * each step of a rotation, a reader across a rotation, hostile files) and disclosures at
 * rest v2 (round trip, compaction, forgotten, wrong index, v1 still read). Real files in
 * a mkdtemp() directory, real libsodium.
 */
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <sodium.h>
#include <zstd.h>

#include "../tests/testutil.h"
#include "bytes.h"
#include "datakey.h"
#include "envelope.h"

struct fx {
	char dir[64];
	char slots[256], master[256];
	saksi_seckey *store;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(tmpdir_make(f->dir, sizeof(f->dir), "saksi-datakey"), 0);
	path_in(f->dir, "datakeys", f->slots, sizeof(f->slots));
	path_in(f->dir, "datakeys.master", f->master, sizeof(f->master));
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SYM, &f->store), SAKSI_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	saksi_seckey_free(f->store);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static saksi_datakeys *
open_w(struct fx *f)
{
	saksi_datakeys *dk;

	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 1, 1, &dk), SAKSI_OK);
	return dk;
}

static void
test_create_get(void **state)
{
	struct fx *f = *state;
	uint8_t k0[32], k1[32], got[32];
	saksi_datakeys *dk, *rd;
	struct stat st;

	dk = open_w(f);
	assert_int_equal(saksi_dk_generation(dk), 1);
	assert_int_equal(saksi_dk_slots(dk), 0);
	assert_int_equal(saksi_dk_create(dk, 0, k0), SAKSI_OK);
	assert_int_equal(saksi_dk_create(dk, 5, k1), SAKSI_OK);
	assert_int_equal(saksi_dk_sync(dk), SAKSI_OK);
	assert_int_equal(saksi_dk_slots(dk), 6);
	assert_int_equal(saksi_dk_get(dk, 0, got), SAKSI_OK);
	assert_memory_equal(got, k0, 32);
	assert_int_equal(saksi_dk_get(dk, 5, got), SAKSI_OK);
	assert_memory_equal(got, k1, 32);
	/* Slots between, and past the end, were never written. */
	assert_int_equal(saksi_dk_get(dk, 3, got), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_dk_get(dk, 99, got), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_dk_create(dk, SAKSI_DK_SLOTS_MAX, got), SAKSI_ERR_RANGE);

	/* Both files are private, and neither holds a key in clear. */
	assert_int_equal(stat(f->slots, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(f->master, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	{
		size_t n;
		char *b = slurp(f->slots, &n);
		assert_int_equal(n, SAKSI_DK_HDR_SIZE + 6 * SAKSI_DK_SLOT_SIZE);
		assert_null(memmem(b, n, k0, 32));
		assert_null(memmem(b, n, k1, 32));
		free(b);
	}

	/* A second process reads the same keys; it may not write. */
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &rd), SAKSI_OK);
	assert_int_equal(saksi_dk_get(rd, 5, got), SAKSI_OK);
	assert_memory_equal(got, k1, 32);
	assert_int_equal(saksi_dk_create(rd, 7, got), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_dk_wipe(rd, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_dk_sync(rd), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_dk_rotate(rd, NULL), SAKSI_ERR_INVAL);
	saksi_dk_close(rd);
	saksi_dk_close(dk);

	/* Reopened by the writer: the same keys. */
	dk = open_w(f);
	assert_int_equal(saksi_dk_get(dk, 0, got), SAKSI_OK);
	assert_memory_equal(got, k0, 32);
	saksi_dk_close(dk);
}

/*
 * New slots made in order wait and go to the file together at the sync: the writer
 * reads them meanwhile, another handle only once written; a slot out of order, a wipe
 * of a waiting slot, a rotation and a close write them first. A write that fails at
 * the sync reports it and drops them (nothing may refer to them before that sync).
 */
static void
test_pending(void **state)
{
	struct fx *f = *state;
	uint8_t k[12][32], got[32];
	saksi_datakeys *dk, *rd;
	struct rlimit old, lim;
	struct stat st;

	dk = open_w(f);
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &rd), SAKSI_OK);
	for (int i = 0; i < 10; i++)
		assert_int_equal(saksi_dk_create(dk, (uint64_t)i, k[i]), SAKSI_OK);
	assert_int_equal(saksi_dk_slots(dk), 10);
	assert_int_equal(stat(f->slots, &st), 0);
	assert_int_equal(st.st_size, SAKSI_DK_HDR_SIZE);   /* nothing written yet */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(saksi_dk_get(dk, (uint64_t)i, got), SAKSI_OK);
		assert_memory_equal(got, k[i], 32);
	}
	assert_int_equal(saksi_dk_get(rd, 4, got), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_dk_sync(dk), SAKSI_OK);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(saksi_dk_get(rd, (uint64_t)i, got), SAKSI_OK);
		assert_memory_equal(got, k[i], 32);
	}

	/* Out of order: the run waiting is written first (not synced), then this one. */
	assert_int_equal(saksi_dk_create(dk, 10, k[10]), SAKSI_OK);
	assert_int_equal(saksi_dk_create(dk, 20, k[11]), SAKSI_OK);
	assert_int_equal(saksi_dk_get(rd, 10, got), SAKSI_OK);
	assert_memory_equal(got, k[10], 32);
	assert_int_equal(saksi_dk_get(rd, 20, got), SAKSI_ERR_NOT_FOUND);   /* waits */
	assert_int_equal(saksi_dk_get(dk, 20, got), SAKSI_OK);
	assert_memory_equal(got, k[11], 32);
	/* A waiting slot wiped: written, then zeroed; its neighbour stays. */
	assert_int_equal(saksi_dk_create(dk, 21, k[0]), SAKSI_OK);
	assert_int_equal(saksi_dk_wipe(dk, 21), SAKSI_OK);
	assert_int_equal(saksi_dk_get(dk, 21, got), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_dk_get(rd, 21, got), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_dk_get(rd, 20, got), SAKSI_OK);
	assert_memory_equal(got, k[11], 32);
	/* A rotation re-wraps the waiting ones too. */
	assert_int_equal(saksi_dk_create(dk, 22, k[1]), SAKSI_OK);
	assert_int_equal(saksi_dk_rotate(dk, NULL), SAKSI_OK);
	assert_int_equal(saksi_dk_get(dk, 22, got), SAKSI_OK);
	assert_memory_equal(got, k[1], 32);
	saksi_dk_close(rd);
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &rd), SAKSI_OK);
	assert_int_equal(saksi_dk_get(rd, 22, got), SAKSI_OK);
	assert_memory_equal(got, k[1], 32);
	/* Closed with one waiting: written, as it was when each went at once. */
	assert_int_equal(saksi_dk_create(dk, 23, k[2]), SAKSI_OK);
	saksi_dk_close(dk);
	assert_int_equal(saksi_dk_get(rd, 23, got), SAKSI_OK);
	assert_memory_equal(got, k[2], 32);

	/* The file may not grow: the sync fails and the waiting slots are gone. */
	dk = open_w(f);
	assert_int_equal(stat(f->slots, &st), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = (rlim_t)st.st_size;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(saksi_dk_create(dk, 24, k[3]), SAKSI_OK);
	assert_int_equal(saksi_dk_create(dk, 25, k[4]), SAKSI_OK);
	assert_int_equal(saksi_dk_sync(dk), SAKSI_ERR_IO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(saksi_dk_get(dk, 24, got), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_dk_sync(dk), SAKSI_OK);
	assert_int_equal(saksi_dk_get(rd, 25, got), SAKSI_ERR_NOT_FOUND);
	/* The same slots made again (the group that failed is retried): written. */
	assert_int_equal(saksi_dk_create(dk, 24, k[3]), SAKSI_OK);
	assert_int_equal(saksi_dk_sync(dk), SAKSI_OK);
	assert_int_equal(saksi_dk_get(rd, 24, got), SAKSI_OK);
	assert_memory_equal(got, k[3], 32);
	saksi_dk_close(rd);
	saksi_dk_close(dk);
	sodium_memzero(k, sizeof(k));
}

/*
 * A batch made ahead (saksid's pool of slots): one write, synced, every slot a fresh key
 * under the current master that a reader opens; made again, the same slots get new keys
 * (what saksid does at start for slots it made but never handed out); it writes what
 * waits first, may overwrite it, and fails whole when the file may not grow.
 */
static void
test_fill(void **state)
{
	struct fx *f = *state;
	uint8_t (*k)[32], got[32], k0[32];
	saksi_datakeys *dk, *rd;
	struct rlimit old, lim;
	struct stat st;
	const uint64_t n = 200;

	assert_non_null(k = sodium_malloc(n * 32));
	dk = open_w(f);
	assert_int_equal(saksi_dk_fill(dk, 0, 0, 1), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_dk_fill(NULL, 0, 1, 1), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_dk_fill(dk, SAKSI_DK_SLOTS_MAX, 1, 1), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_dk_fill(dk, SAKSI_DK_SLOTS_MAX - 1, 2, 1), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_dk_fill(dk, 0, SAKSI_DK_FILL_MAX + 1, 1), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_dk_slots(dk), 0);

	/* A slot waiting to be written, inside the batch: the batch wins. */
	assert_int_equal(saksi_dk_create(dk, 3, k0), SAKSI_OK);
	assert_int_equal(saksi_dk_fill(dk, 0, n, 1), SAKSI_OK);
	assert_int_equal(saksi_dk_slots(dk), n);
	assert_int_equal(stat(f->slots, &st), 0);
	assert_int_equal(st.st_size, SAKSI_DK_HDR_SIZE + n * SAKSI_DK_SLOT_SIZE);
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &rd), SAKSI_OK);
	assert_int_equal(saksi_dk_fill(rd, 0, 1, 1), SAKSI_ERR_INVAL);   /* read-only */
	for (uint64_t i = 0; i < n; i++) {
		assert_int_equal(saksi_dk_get(dk, i, k[i]), SAKSI_OK);
		assert_int_equal(saksi_dk_get(rd, i, got), SAKSI_OK);
		assert_memory_equal(got, k[i], 32);
		for (uint64_t j = 0; j < i; j++)
			assert_memory_not_equal(k[j], k[i], 32);
	}
	assert_memory_not_equal(k[3], k0, 32);
	{
		size_t len;
		char *b = slurp(f->slots, &len);

		for (uint64_t i = 0; i < n; i++)
			assert_null(memmem(b, len, k[i], 32));
		free(b);
	}
	/* Made again from 100: new keys there, the first 100 untouched. */
	assert_int_equal(saksi_dk_fill(dk, 100, 100, 1), SAKSI_OK);
	assert_int_equal(saksi_dk_slots(dk), n);
	for (uint64_t i = 0; i < n; i++) {
		assert_int_equal(saksi_dk_get(rd, i, got), SAKSI_OK);
		if (i < 100)
			assert_memory_equal(got, k[i], 32);
		else
			assert_memory_not_equal(got, k[i], 32);
	}
	/* A rotation re-wraps them like any live slot. */
	assert_int_equal(saksi_dk_rotate(dk, NULL), SAKSI_OK);
	assert_int_equal(saksi_dk_get(rd, 7, got), SAKSI_OK);
	assert_memory_equal(got, k[7], 32);

	/* The file may not grow: the batch fails, and the slots past the end stay unmade. */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = (rlim_t)(SAKSI_DK_HDR_SIZE + n * SAKSI_DK_SLOT_SIZE);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(saksi_dk_fill(dk, n, 64, 1), SAKSI_ERR_IO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(saksi_dk_slots(dk), n);
	assert_int_equal(saksi_dk_get(rd, n, got), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_dk_fill(dk, n, 64, 1), SAKSI_OK);
	assert_int_equal(saksi_dk_slots(dk), n + 64);
	assert_int_equal(saksi_dk_get(rd, n + 63, got), SAKSI_OK);
	/* Written now, synced by a later datasync (saksid's syncing thread). */
	assert_int_equal(saksi_dk_fill(dk, n + 64, 32, 0), SAKSI_OK);
	assert_int_equal(saksi_dk_slots(dk), n + 96);
	assert_int_equal(saksi_dk_get(rd, n + 95, got), SAKSI_OK);
	assert_int_equal(saksi_dk_datasync(dk), SAKSI_OK);
	assert_int_equal(saksi_dk_datasync(rd), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_dk_datasync(NULL), SAKSI_ERR_INVAL);
	saksi_dk_close(rd);
	saksi_dk_close(dk);
	sodium_memzero(got, sizeof(got));
	sodium_memzero(k0, sizeof(k0));
	sodium_free(k);
}

static void
test_forget(void **state)
{
	struct fx *f = *state;
	uint8_t k[32], got[32];
	saksi_datakeys *dk = open_w(f);
	char *before, *after;
	size_t n;

	assert_int_equal(saksi_dk_create(dk, 0, k), SAKSI_OK);
	assert_int_equal(saksi_dk_create(dk, 1, k), SAKSI_OK);
	assert_int_equal(saksi_dk_sync(dk), SAKSI_OK);
	before = slurp(f->slots, &n);
	assert_int_equal(saksi_dk_wipe(dk, 0), SAKSI_OK);
	assert_int_equal(saksi_dk_sync(dk), SAKSI_OK);
	assert_int_equal(saksi_dk_get(dk, 0, got), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_dk_get(dk, 1, got), SAKSI_OK);
	assert_memory_equal(got, k, 32);
	/* In place: the file did not grow, the slot's bytes are zero. */
	after = slurp(f->slots, NULL);
	for (size_t i = 0; i < SAKSI_DK_SLOT_SIZE; i++)
		assert_int_equal(after[SAKSI_DK_HDR_SIZE + i], 0);
	assert_memory_equal(after + SAKSI_DK_HDR_SIZE + SAKSI_DK_SLOT_SIZE,
	                    before + SAKSI_DK_HDR_SIZE + SAKSI_DK_SLOT_SIZE, SAKSI_DK_SLOT_SIZE);
	/* Wiping a slot never written is a no-op. */
	assert_int_equal(saksi_dk_wipe(dk, 50), SAKSI_OK);
	assert_int_equal(saksi_dk_slots(dk), 2);
	free(before);
	free(after);
	saksi_dk_close(dk);
}

static void
test_rotation(void **state)
{
	struct fx *f = *state;
	uint8_t k0[32], k1[32], got[32];
	saksi_datakeys *dk = open_w(f), *rd;
	char *old_slots, *old_master, *m;
	size_t n, mn;
	uint64_t live = 0;

	assert_int_equal(saksi_dk_create(dk, 0, k0), SAKSI_OK);
	assert_int_equal(saksi_dk_create(dk, 1, k1), SAKSI_OK);
	assert_int_equal(saksi_dk_create(dk, 2, got), SAKSI_OK);
	assert_int_equal(saksi_dk_sync(dk), SAKSI_OK);
	/* A backup of the key file taken now, and then participant 0 is forgotten. */
	old_slots = slurp(f->slots, &n);
	old_master = slurp(f->master, &mn);
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &rd), SAKSI_OK);
	assert_int_equal(saksi_dk_wipe(dk, 0), SAKSI_OK);
	assert_int_equal(saksi_dk_wipe(dk, 2), SAKSI_OK);
	assert_int_equal(saksi_dk_sync(dk), SAKSI_OK);

	assert_int_equal(saksi_dk_rotate(dk, &live), SAKSI_OK);
	assert_int_equal(live, 1);
	assert_int_equal(saksi_dk_generation(dk), 2);
	assert_int_equal(saksi_dk_get(dk, 1, got), SAKSI_OK);
	assert_memory_equal(got, k1, 32);
	assert_int_equal(saksi_dk_get(dk, 0, got), SAKSI_ERR_NOT_FOUND);
	/* A reader that loaded the masters before the rotation reloads them. */
	assert_int_equal(saksi_dk_get(rd, 1, got), SAKSI_OK);
	assert_memory_equal(got, k1, 32);
	saksi_dk_close(rd);
	/* The old master entry is zero in place. */
	m = slurp(f->master, NULL);
	for (size_t i = 0; i < SAKSI_DK_SLOT_SIZE; i++)
		assert_int_equal(m[SAKSI_DK_HDR_SIZE + i], 0);
	assert_memory_not_equal(m + SAKSI_DK_HDR_SIZE + SAKSI_DK_SLOT_SIZE,
	                        old_master + SAKSI_DK_HDR_SIZE + SAKSI_DK_SLOT_SIZE, 16);
	free(m);
	saksi_dk_close(dk);

	/* The old key file restored from the backup: with the current master file, the
	 * forgotten participant's slot no longer opens: nothing the appliance holds opens it. */
	spit(f->slots, old_slots, n);
	chmod(f->slots, 0600);
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &rd), SAKSI_OK);
	assert_int_equal(saksi_dk_get(rd, 0, got), SAKSI_ERR_DECRYPT);
	assert_int_equal(saksi_dk_get(rd, 1, got), SAKSI_ERR_DECRYPT);
	saksi_dk_close(rd);
	/* The writer, opening it, makes the dead slots plain zeros at its next rotation. */
	free(old_slots);
	free(old_master);
}

/*
 * A crash after the new master was written, before (or while) the slots were
 * re-wrapped: the master file holds both entries, the slot file a mix. The writer's next
 * open finishes the rotation; every key is the same.
 */
static void
test_rotation_crash(void **state)
{
	struct fx *f = *state;
	uint8_t k0[32], k1[32], got[32];
	saksi_datakeys *dk = open_w(f);
	char *s1, *m1, *s2, *m2, *crash;
	size_t sn, mn;

	assert_int_equal(saksi_dk_create(dk, 0, k0), SAKSI_OK);
	assert_int_equal(saksi_dk_create(dk, 1, k1), SAKSI_OK);
	assert_int_equal(saksi_dk_sync(dk), SAKSI_OK);
	s1 = slurp(f->slots, &sn);
	m1 = slurp(f->master, &mn);
	assert_int_equal(saksi_dk_rotate(dk, NULL), SAKSI_OK);
	saksi_dk_close(dk);
	s2 = slurp(f->slots, NULL);
	m2 = slurp(f->master, NULL);

	/* Master file of the crash: entry 0 (generation 1) from before, entry 1
	 * (generation 2) from after. Slot 0 re-wrapped already, slot 1 not yet. */
	crash = malloc(mn);
	memcpy(crash, m1, mn);
	memcpy(crash + SAKSI_DK_HDR_SIZE + SAKSI_DK_SLOT_SIZE,
	       m2 + SAKSI_DK_HDR_SIZE + SAKSI_DK_SLOT_SIZE, SAKSI_DK_SLOT_SIZE);
	spit(f->master, crash, mn);
	memcpy(s1 + SAKSI_DK_HDR_SIZE, s2 + SAKSI_DK_HDR_SIZE, SAKSI_DK_SLOT_SIZE);
	spit(f->slots, s1, sn);
	chmod(f->master, 0600);
	chmod(f->slots, 0600);

	/* A reader copes with both masters present. */
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &dk), SAKSI_OK);
	assert_int_equal(saksi_dk_get(dk, 1, got), SAKSI_OK);
	assert_memory_equal(got, k1, 32);
	saksi_dk_close(dk);

	dk = open_w(f);
	assert_int_equal(saksi_dk_generation(dk), 2);
	assert_int_equal(saksi_dk_get(dk, 0, got), SAKSI_OK);
	assert_memory_equal(got, k0, 32);
	assert_int_equal(saksi_dk_get(dk, 1, got), SAKSI_OK);
	assert_memory_equal(got, k1, 32);
	saksi_dk_close(dk);
	/* Finished: generation 1 is gone from the master file, every slot is generation 2. */
	free(m2);
	m2 = slurp(f->master, NULL);
	for (size_t i = 0; i < SAKSI_DK_SLOT_SIZE; i++)
		assert_int_equal(m2[SAKSI_DK_HDR_SIZE + i], 0);
	free(s2);
	s2 = slurp(f->slots, NULL);
	for (int s = 0; s < 2; s++)
		assert_int_equal(saksi_get_u64((uint8_t *)s2 + SAKSI_DK_HDR_SIZE +
		                               s * SAKSI_DK_SLOT_SIZE + 8), 2);
	free(s1);
	free(m1);
	free(s2);
	free(m2);
	free(crash);
}

static void
flip(const char *path, size_t off)
{
	size_t n;
	char *b = slurp(path, &n);

	assert_true(off < n);
	b[off] ^= 1;
	spit(path, b, n);
	chmod(path, 0600);
	free(b);
}

static void
test_hostile(void **state)
{
	struct fx *f = *state;
	uint8_t k[32], got[32];
	saksi_datakeys *dk = open_w(f);
	saksi_seckey *other, *sign;

	assert_int_equal(saksi_dk_create(dk, 0, k), SAKSI_OK);
	assert_int_equal(saksi_dk_create(dk, 1, k), SAKSI_OK);
	assert_int_equal(saksi_dk_sync(dk), SAKSI_OK);
	saksi_dk_close(dk);

	/* Missing files without create; a store key of another kind or another id. */
	assert_int_equal(saksi_dk_open("/nonexistent/x", f->master, f->store, 0, 0, &dk),
	                 SAKSI_ERR_NOT_FOUND);
	assert_null(dk);
	assert_int_equal(saksi_dk_open(f->slots, f->master, NULL, 0, 0, &dk), SAKSI_ERR_KEY);
	assert_int_equal(saksi_dk_open(NULL, f->master, f->store, 0, 0, &dk), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &sign), SAKSI_OK);
	assert_int_equal(saksi_dk_open(f->slots, f->master, sign, 0, 0, &dk), SAKSI_ERR_KEY);
	saksi_seckey_free(sign);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SYM, &other), SAKSI_OK);
	assert_int_equal(saksi_dk_open(f->slots, f->master, other, 0, 0, &dk), SAKSI_ERR_KEY);
	saksi_seckey_free(other);

	/* Readable by others. */
	chmod(f->slots, 0640);
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &dk), SAKSI_ERR_PERM);
	chmod(f->slots, 0600);

	/* A tampered slot does not open; the others do. */
	flip(f->slots, SAKSI_DK_HDR_SIZE + 50);
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &dk), SAKSI_OK);
	assert_int_equal(saksi_dk_get(dk, 0, got), SAKSI_ERR_DECRYPT);
	assert_int_equal(saksi_dk_get(dk, 1, got), SAKSI_OK);
	saksi_dk_close(dk);
	/* Padding that is not zero is malformed. */
	flip(f->slots, SAKSI_DK_HDR_SIZE + SAKSI_DK_SLOT_SIZE + 100);
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &dk), SAKSI_OK);
	assert_int_equal(saksi_dk_get(dk, 1, got), SAKSI_ERR_FORMAT);
	saksi_dk_close(dk);

	/* A tampered master, a bad magic, an unknown version. */
	flip(f->master, SAKSI_DK_HDR_SIZE + 60);
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &dk),
	                 SAKSI_ERR_DECRYPT);
	flip(f->master, SAKSI_DK_HDR_SIZE + 60);
	flip(f->slots, 0);
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &dk),
	                 SAKSI_ERR_FORMAT);
	flip(f->slots, 0);
	flip(f->slots, 2);
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &dk),
	                 SAKSI_ERR_VERSION);
	flip(f->slots, 2);
	/* A truncated master file. */
	{
		size_t n;
		char *b = slurp(f->master, &n);
		spit(f->master, b, n - 1);
		chmod(f->master, 0600);
		assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &dk),
		                 SAKSI_ERR_FORMAT);
		/* One byte too many (found by fuzz_datakey): 7.2 says 384 bytes. */
		b = realloc(b, n + 1);
		assert_non_null(b);
		b[n] = 0;
		spit(f->master, b, n + 1);
		chmod(f->master, 0600);
		assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &dk),
		                 SAKSI_ERR_FORMAT);
		spit(f->master, b, n);
		chmod(f->master, 0600);
		assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &dk),
		                 SAKSI_OK);
		saksi_dk_close(dk);
		free(b);
	}
	/* The slot file's header is zero past its version, bytes 8..15 too (found by
	 * fuzz_datakey: only the master file's header has a key id there). */
	flip(f->slots, 9);
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &dk),
	                 SAKSI_ERR_FORMAT);
	assert_null(dk);
	flip(f->slots, 9);
	assert_int_equal(saksi_dk_open(f->slots, f->master, f->store, 0, 0, &dk), SAKSI_OK);
	saksi_dk_close(dk);
}

#define DISC_JSON "[\"WyJabzVRNGxScmlfRG9GVGlYbkVlM2hnIiwibmlrIiwiMzE3MTAxNDEwMTkwMDAwMSJd\"," \
	"\"WyJ1ZHNrSkY5d3RoT3hIS2t6dG9sUkFRIiwicGhvbmUiLCIrNjI4MTIzNDU2Nzg5MCJd\"]"

static void
test_disc2(void **state)
{
	struct fx *f = *state;
	saksi_datakeys *dk = open_w(f);
	uint8_t key[32], kid[8], hash[32], out[1024];
	char *json;
	size_t w, jl;
	uint64_t id;
	int kind;

	memset(hash, 7, sizeof(hash));
	assert_int_equal(saksi_dk_create(dk, 3, key), SAKSI_OK);
	saksi_put_u64(kid, 3);
	assert_int_equal(saksi_disc2_seal(SAKSI_DK_DATA, kid, key, 42, hash,
	                                  (const uint8_t *)DISC_JSON, strlen(DISC_JSON), out,
	                                  sizeof(out), &w), SAKSI_OK);
	print_message("disclosures at rest: %zu bytes as v1, %zu as v2\n",
	              strlen(DISC_JSON) + SAKSI_DISC2_OVERHEAD, w);
	assert_true(w < strlen(DISC_JSON) + SAKSI_DISC2_OVERHEAD);
	assert_int_equal(saksi_disc2_key(out, w, &kind, &id), SAKSI_OK);
	assert_int_equal(kind, SAKSI_DK_DATA);
	assert_int_equal(id, 3);
	assert_int_equal(saksi_disc_open_any(NULL, dk, 42, hash, out, w, &json, &jl), SAKSI_OK);
	assert_string_equal(json, DISC_JSON);
	assert_int_equal(jl, strlen(DISC_JSON));
	free(json);
	/* Another index or leaf hash does not open; no key store is KEY. */
	assert_int_equal(saksi_disc_open_any(NULL, dk, 43, hash, out, w, &json, &jl),
	                 SAKSI_ERR_DECRYPT);
	assert_null(json);
	hash[0] ^= 1;
	assert_int_equal(saksi_disc_open_any(NULL, dk, 42, hash, out, w, &json, &jl),
	                 SAKSI_ERR_DECRYPT);
	hash[0] ^= 1;
	assert_int_equal(saksi_disc_open_any(f->store, NULL, 42, hash, out, w, &json, &jl),
	                 SAKSI_ERR_KEY);
	/* Malformed. */
	assert_int_equal(saksi_disc_open_any(NULL, dk, 42, hash, out, 20, &json, &jl),
	                 SAKSI_ERR_FORMAT);
	out[0] = 3;
	assert_int_equal(saksi_disc_open_any(NULL, dk, 42, hash, out, w, &json, &jl),
	                 SAKSI_ERR_VERSION);
	out[0] = 2;
	out[1] = 9;
	assert_int_equal(saksi_disc_open_any(NULL, dk, 42, hash, out, w, &json, &jl),
	                 SAKSI_ERR_FORMAT);
	out[1] = SAKSI_DK_DATA;

	/* Forgotten: a state, never garbage. */
	assert_int_equal(saksi_dk_wipe(dk, 3), SAKSI_OK);
	assert_int_equal(saksi_disc_open_any(NULL, dk, 42, hash, out, w, &json, &jl),
	                 SAKSI_ERR_NOT_FOUND);
	assert_null(json);

	/* With a kept compression context: the same. */
	{
		saksi_disc2_ctx *zc;
		assert_int_equal(saksi_disc2_ctx_new(&zc), SAKSI_OK);
		assert_int_equal(saksi_dk_create(dk, 4, key), SAKSI_OK);
		saksi_put_u64(kid, 4);
		for (int round = 0; round < 2; round++) {
			assert_int_equal(saksi_disc2_seal_ctx(zc, SAKSI_DK_DATA, kid, key, 42, hash,
			                                      (const uint8_t *)DISC_JSON,
			                                      strlen(DISC_JSON), out, sizeof(out),
			                                      &w), SAKSI_OK);
			assert_int_equal(saksi_disc_open_any(NULL, dk, 42, hash, out, w, &json,
			                                     &jl), SAKSI_OK);
			assert_string_equal(json, DISC_JSON);
			free(json);
		}
		saksi_disc2_ctx_free(zc);
		saksi_disc2_ctx_free(NULL);
	}

	/* Store-key kind, and a list that is not canonical base64url (kept as text). */
	assert_int_equal(saksi_disc2_seal(SAKSI_DK_STORE, saksi_seckey_id(f->store),
	                                  saksi_seckey_sym(f->store), 1, hash,
	                                  (const uint8_t *)"[\"a b\"]", 7, out, sizeof(out),
	                                  &w), SAKSI_OK);
	assert_int_equal(saksi_disc_open_any(f->store, NULL, 1, hash, out, w, &json, &jl),
	                 SAKSI_OK);
	assert_string_equal(json, "[\"a b\"]");
	free(json);
	/* Spaces in the producer's list: the same disclosures, written compactly. */
	assert_int_equal(saksi_disc2_seal(SAKSI_DK_STORE, saksi_seckey_id(f->store),
	                                  saksi_seckey_sym(f->store), 1, hash,
	                                  (const uint8_t *)"[ \"YWJj\" , \"ZA\" ]", 17, out,
	                                  sizeof(out), &w), SAKSI_OK);
	assert_int_equal(saksi_disc_open_any(f->store, NULL, 1, hash, out, w, &json, &jl),
	                 SAKSI_OK);
	assert_string_equal(json, "[\"YWJj\",\"ZA\"]");
	free(json);
	assert_int_equal(saksi_disc2_seal(SAKSI_DK_STORE, kid, key, 1, hash,
	                                  (const uint8_t *)"[]", 2, out, 10, &w), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disc2_seal(7, kid, key, 1, hash, (const uint8_t *)"[]", 2, out,
	                                  sizeof(out), &w), SAKSI_ERR_INVAL);

	/* Version 1 (written by older saksid): still read with the store key. */
	{
		static const char pfx[] = "saksi/disc-at-rest/v1\n";
		uint8_t ad[sizeof(pfx) - 1 + 40], b[256];
		unsigned long long cl;

		memcpy(ad, pfx, sizeof(pfx) - 1);
		saksi_put_u64(ad + sizeof(pfx) - 1, 9);
		memcpy(ad + sizeof(pfx) - 1 + 8, hash, 32);
		b[0] = 1;
		b[1] = 1;
		memcpy(b + 2, saksi_seckey_id(f->store), 8);
		randombytes_buf(b + 10, 24);
		crypto_aead_xchacha20poly1305_ietf_encrypt(b + 34, &cl, (const uint8_t *)"[\"x\"]",
		                                           5, ad, sizeof(ad), NULL, b + 10,
		                                           saksi_seckey_sym(f->store));
		assert_int_equal(saksi_disc_open_any(f->store, dk, 9, hash, b, 34 + cl, &json,
		                                     &jl), SAKSI_OK);
		assert_string_equal(json, "[\"x\"]");
		free(json);
		assert_int_equal(saksi_disc_open_any(f->store, dk, 8, hash, b, 34 + cl, &json,
		                                     &jl), SAKSI_ERR_DECRYPT);
		b[1] = 2;
		assert_int_equal(saksi_disc_open_any(f->store, dk, 9, hash, b, 34 + cl, &json,
		                                     &jl), SAKSI_ERR_VERSION);
	}
	sodium_memzero(key, sizeof(key));
	saksi_dk_close(dk);
}

/* Seals pt (codec || data) as a v2 blob under the store key, as FORMATS.md 7.1 says. */
static size_t
seal_raw(struct fx *f, const saksi_hash hash, const uint8_t *pt, size_t n, uint8_t *b)
{
	static const char pfx[] = "saksi/disc-at-rest/v2\n";
	uint8_t ad[sizeof(pfx) - 1 + 8 + 32 + 10];
	unsigned long long cl;

	b[0] = 2;
	b[1] = SAKSI_DK_STORE;
	memcpy(b + 2, saksi_seckey_id(f->store), 8);
	randombytes_buf(b + 10, 24);
	memcpy(ad, pfx, sizeof(pfx) - 1);
	saksi_put_u64(ad + sizeof(pfx) - 1, 5);
	memcpy(ad + sizeof(pfx) - 1 + 8, hash, 32);
	memcpy(ad + sizeof(pfx) - 1 + 40, b, 10);
	crypto_aead_xchacha20poly1305_ietf_encrypt(b + 34, &cl, pt, n, ad, sizeof(ad), NULL,
	                                           b + 10, saksi_seckey_sym(f->store));
	return 34 + (size_t)cl;
}

/*
 * A zstd list is one frame with nothing after it (FORMATS.md 7.1). Found by fuzz_datakey:
 * a skippable frame (or an empty frame) after the list's frame was taken, since
 * ZSTD_decompress reads every frame of its input.
 */
static void
test_disc2_zstd_one_frame(void **state)
{
	struct fx *f = *state;
	/* codec 1, one frame of the list 01 0001 'x' (4 bytes, content size in the header) */
	uint8_t pt[64], b[256];
	uint8_t list[4] = { 1, 0, 1, 'x' };
	saksi_hash hash;
	char *json;
	size_t zl, n, jl;

	memset(hash, 5, sizeof(hash));
	pt[0] = 1;
	zl = ZSTD_compress(pt + 1, sizeof(pt) - 1 - 8, list, sizeof(list), 1);
	assert_false(ZSTD_isError(zl));
	n = seal_raw(f, hash, pt, 1 + zl, b);
	assert_int_equal(saksi_disc_open_any(f->store, NULL, 5, hash, b, n, &json, &jl),
	                 SAKSI_OK);
	assert_string_equal(json, "[\"eA\"]");
	free(json);
	/* The same frame followed by an empty skippable frame: refused. */
	memcpy(pt + 1 + zl, "\x50\x2a\x4d\x18\0\0\0\0", 8);
	n = seal_raw(f, hash, pt, 1 + zl + 8, b);
	assert_int_equal(saksi_disc_open_any(f->store, NULL, 5, hash, b, n, &json, &jl),
	                 SAKSI_ERR_FORMAT);
	assert_null(json);
	/* A stray byte after the frame: refused too. */
	pt[1 + zl] = 0;
	n = seal_raw(f, hash, pt, 1 + zl + 1, b);
	assert_int_equal(saksi_disc_open_any(f->store, NULL, 5, hash, b, n, &json, &jl),
	                 SAKSI_ERR_FORMAT);
}

/* Opens a v2 blob of the store key by hand: the plaintext as sealed (codec || list). */
static size_t
open_raw(struct fx *f, uint64_t index, const saksi_hash hash, const uint8_t *b, size_t n,
         uint8_t *pt)
{
	static const char pfx[] = "saksi/disc-at-rest/v2\n";
	uint8_t ad[sizeof(pfx) - 1 + 8 + 32 + 10];
	unsigned long long ml;

	memcpy(ad, pfx, sizeof(pfx) - 1);
	saksi_put_u64(ad + sizeof(pfx) - 1, index);
	memcpy(ad + sizeof(pfx) - 1 + 8, hash, 32);
	memcpy(ad + sizeof(pfx) - 1 + 40, b, 10);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &ml, NULL, b + 34,
	                 n - 34, ad, sizeof(ad), b + 10, saksi_seckey_sym(f->store)), 0);
	return (size_t)ml;
}

/*
 * Sealing in two halves (the pack on an ingest worker, the seal on the committer) stores
 * what the one-call seal stores, byte for byte but for the nonce, with or without a
 * compression context, for a compressed list and for a list kept as text.
 */
static void
test_disc2_packed(void **state)
{
	/* A list zstd makes shorter (the same disclosure four times), one kept as text, one
	 * too short to compress. */
#define D1 "\"WyJabzVRNGxScmlfRG9GVGlYbkVlM2hnIiwibmlrIiwiMzE3MTAxNDEwMTkwMDAwMSJd\""
	static const char *const lists[] = { "[" D1 "," D1 "," D1 "," D1 "]", "[\"a b\"]",
	                                     "[ \"YWJj\" , \"ZA\" ]" };
#undef D1
	struct fx *f = *state;
	const uint8_t *sid = saksi_seckey_id(f->store), *sk = saksi_seckey_sym(f->store);
	uint8_t pt[1024], pt2[1024], one[1024], two[1024], got[1024];
	size_t ptl, ptl2, w1, w2, gl;
	saksi_disc2_ctx *zc;
	saksi_hash hash;
	char *json, *json2;
	size_t jl;

	memset(hash, 9, sizeof(hash));
	assert_int_equal(saksi_disc2_ctx_new(&zc), SAKSI_OK);
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		const uint8_t *js = (const uint8_t *)lists[i];
		size_t n = strlen(lists[i]);

		assert_true(saksi_disc2_pack_bound(n) <= sizeof(pt));
		assert_int_equal(saksi_disc2_bound(n), SAKSI_DISC2_OVERHEAD +
		                 saksi_disc2_pack_bound(n));
		assert_int_equal(saksi_disc2_pack(zc, js, n, pt, sizeof(pt), &ptl), SAKSI_OK);
		assert_int_equal(saksi_disc2_pack(NULL, js, n, pt2, sizeof(pt2), &ptl2), SAKSI_OK);
		assert_int_equal(ptl, ptl2);
		assert_memory_equal(pt, pt2, ptl);
		/* Codec: the booking's list compressed (1), the text (2), the short list (0). */
		assert_int_equal(pt[0], i == 0 ? 1 : i == 1 ? 2 : 0);
		assert_int_equal(saksi_disc2_seal_ctx(zc, SAKSI_DK_STORE, sid, sk, 11, hash, js, n,
		                                      one, sizeof(one), &w1), SAKSI_OK);
		assert_int_equal(saksi_disc2_seal_packed(SAKSI_DK_STORE, sid, sk, 11, hash, pt, ptl,
		                                         two, sizeof(two), &w2), SAKSI_OK);
		assert_int_equal(w1, w2);
		assert_int_equal(w2, SAKSI_DISC2_OVERHEAD + ptl);
		assert_memory_equal(one, two, 10);          /* version, kind, key id */
		assert_memory_not_equal(one + 10, two + 10, 24);   /* each its own nonce */
		gl = open_raw(f, 11, hash, one, w1, got);
		assert_int_equal(gl, ptl);
		assert_memory_equal(got, pt, ptl);
		gl = open_raw(f, 11, hash, two, w2, got);
		assert_int_equal(gl, ptl);
		assert_memory_equal(got, pt, ptl);
		assert_int_equal(saksi_disc_open_any(f->store, NULL, 11, hash, one, w1, &json, &jl),
		                 SAKSI_OK);
		assert_int_equal(saksi_disc_open_any(f->store, NULL, 11, hash, two, w2, &json2,
		                                     &jl), SAKSI_OK);
		assert_string_equal(json, json2);
		free(json);
		free(json2);
	}
	saksi_disc2_ctx_free(zc);

	/* From the list the ingest check hands out: the same plaintext as from the JSON. */
	for (int k = 1; k <= 7; k += 6) {
		static const char *const pers[] = { "nik", "name", "phone", "kpj", "email",
		                                    "device_id", "ip" };
		char *pl, *dj, **nm, **vl;
		size_t pll, djl, nd, ll;
		uint8_t *l;
		json_t *root;

		assert_int_equal(saksi_disclose_payload("{\"nik\":\"3171014101900001\","
		                 "\"name\":\"SITI AMINAH\",\"phone\":\"+6281234567890\","
		                 "\"kpj\":\"18045213577\",\"email\":\"siti@example.id\","
		                 "\"device_id\":\"android-5f2b9c1d\",\"ip\":\"10.20.30.40\"}",
		                 strlen("{\"nik\":\"3171014101900001\","
		                 "\"name\":\"SITI AMINAH\",\"phone\":\"+6281234567890\","
		                 "\"kpj\":\"18045213577\",\"email\":\"siti@example.id\","
		                 "\"device_id\":\"android-5f2b9c1d\",\"ip\":\"10.20.30.40\"}"),
		                 pers, (size_t)k, &pl, &pll, &dj, &djl), SAKSI_OK);
		root = json_loadb(pl, pll, 0, NULL);
		assert_non_null(root);
		assert_int_equal(saksi_disclosures_check_list(root, (const uint8_t *)dj, djl, &nm, &vl,
		                                              &nd, &l, &ll), SAKSI_OK);
		assert_int_equal(nd, (size_t)k);
		assert_true(ll <= djl);
		assert_int_equal(saksi_disc2_pack(NULL, (const uint8_t *)dj, djl, pt, sizeof(pt),
		                                  &ptl), SAKSI_OK);
		assert_int_equal(saksi_disc2_pack_list(NULL, l, ll, pt2, sizeof(pt2), &ptl2),
		                 SAKSI_OK);
		assert_int_equal(ptl, ptl2);
		assert_memory_equal(pt, pt2, ptl);
		assert_int_equal(pt[0], k == 1 ? 0 : 1);   /* one short entry; seven compress */
		assert_int_equal(saksi_disc2_pack_list(NULL, l, ll, pt2, ll, &ptl2),
		                 SAKSI_ERR_INVAL);
		assert_int_equal(saksi_disc2_pack_list(NULL, l, ll - 1, pt2, sizeof(pt2), &ptl2),
		                 SAKSI_ERR_FORMAT);
		saksi_disclosures_free(nm, vl, nd);
		sodium_memzero(l, ll);
		free(l);
		free(pl);
		free(dj);
		json_decref(root);
	}
	{
		/* Lists no check makes: no entry, an empty entry, a count over 32, bytes after. */
		static const uint8_t none[] = { 0 }, empty[] = { 1, 0, 0 },
		                     many[] = { 33, 0, 1, 'x' }, after[] = { 1, 0, 1, 'x', 'y' },
		                     single[] = { 1, 0, 1, 'x' };

		assert_int_equal(saksi_disc2_pack_list(NULL, none, sizeof(none), pt, sizeof(pt),
		                                       &ptl), SAKSI_ERR_FORMAT);
		assert_int_equal(saksi_disc2_pack_list(NULL, empty, sizeof(empty), pt, sizeof(pt),
		                                       &ptl), SAKSI_ERR_FORMAT);
		assert_int_equal(saksi_disc2_pack_list(NULL, many, sizeof(many), pt, sizeof(pt),
		                                       &ptl), SAKSI_ERR_FORMAT);
		assert_int_equal(saksi_disc2_pack_list(NULL, after, sizeof(after), pt, sizeof(pt),
		                                       &ptl), SAKSI_ERR_FORMAT);
		assert_int_equal(saksi_disc2_pack_list(NULL, single, 0, pt, sizeof(pt), &ptl),
		                 SAKSI_ERR_FORMAT);
		assert_int_equal(saksi_disc2_pack_list(NULL, NULL, 4, pt, sizeof(pt), &ptl),
		                 SAKSI_ERR_INVAL);
		assert_int_equal(saksi_disc2_pack_list(NULL, single, 4, NULL, sizeof(pt), &ptl),
		                 SAKSI_ERR_INVAL);
		assert_int_equal(saksi_disc2_pack_list(NULL, single, 4, pt, sizeof(pt), NULL),
		                 SAKSI_ERR_INVAL);
		assert_int_equal(saksi_disc2_pack_list(NULL, single, 4, pt, sizeof(pt), &ptl),
		                 SAKSI_OK);
		assert_int_equal(ptl, 5);
		assert_int_equal(pt[0], 0);
		assert_memory_equal(pt + 1, single, 4);
	}

	/* Errors: those of the one-call seal, each half for its own arguments. */
	assert_int_equal(saksi_disc2_pack(NULL, NULL, 2, pt, sizeof(pt), &ptl), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disc2_pack(NULL, (const uint8_t *)"[]", 2, NULL, sizeof(pt),
	                                  &ptl), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disc2_pack(NULL, (const uint8_t *)"[]", 2, pt, sizeof(pt), NULL),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disc2_pack(NULL, (const uint8_t *)"[]", 0, pt, sizeof(pt), &ptl),
	                 SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disc2_pack(NULL, (const uint8_t *)"[]",
	                                  SAKSI_DISCLOSURE_MAX * 2 + 1, pt, sizeof(pt), &ptl),
	                 SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disc2_pack(NULL, (const uint8_t *)DISC_JSON, strlen(DISC_JSON),
	                                  pt, saksi_disc2_pack_bound(strlen(DISC_JSON)) - 1,
	                                  &ptl), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disc2_pack(NULL, (const uint8_t *)DISC_JSON, strlen(DISC_JSON),
	                                  pt, sizeof(pt), &ptl), SAKSI_OK);
	assert_int_equal(saksi_disc2_seal_packed(7, sid, sk, 1, hash, pt, ptl, two, sizeof(two),
	                                         &w2), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disc2_seal_packed(SAKSI_DK_STORE, NULL, sk, 1, hash, pt, ptl, two,
	                                         sizeof(two), &w2), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disc2_seal_packed(SAKSI_DK_STORE, sid, NULL, 1, hash, pt, ptl,
	                                         two, sizeof(two), &w2), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disc2_seal_packed(SAKSI_DK_STORE, sid, sk, 1, hash, NULL, ptl,
	                                         two, sizeof(two), &w2), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disc2_seal_packed(SAKSI_DK_STORE, sid, sk, 1, hash, pt, ptl,
	                                         NULL, sizeof(two), &w2), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disc2_seal_packed(SAKSI_DK_STORE, sid, sk, 1, hash, pt, ptl, two,
	                                         sizeof(two), NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disc2_seal_packed(SAKSI_DK_STORE, sid, sk, 1, hash, pt, 1, two,
	                                         sizeof(two), &w2), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_disc2_seal_packed(SAKSI_DK_STORE, sid, sk, 1, hash, pt,
	                                         saksi_disc2_pack_bound(SAKSI_DISCLOSURE_MAX *
	                                         2) + 1, two, sizeof(two), &w2),
	                 SAKSI_ERR_FORMAT);
	pt[0] = 3;
	assert_int_equal(saksi_disc2_seal_packed(SAKSI_DK_STORE, sid, sk, 1, hash, pt, ptl, two,
	                                         sizeof(two), &w2), SAKSI_ERR_FORMAT);
	pt[0] = 1;
	assert_int_equal(saksi_disc2_seal_packed(SAKSI_DK_STORE, sid, sk, 1, hash, pt, ptl, two,
	                                         SAKSI_DISC2_OVERHEAD + ptl - 1, &w2),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_disc2_seal_packed(SAKSI_DK_STORE, sid, sk, 1, hash, pt, ptl, two,
	                                         SAKSI_DISC2_OVERHEAD + ptl, &w2), SAKSI_OK);
	sodium_memzero(pt, sizeof(pt));
	sodium_memzero(pt2, sizeof(pt2));
	sodium_memzero(got, sizeof(got));
}

static void
test_copy(void **state)
{
	struct fx *f = *state;
	uint8_t k[32], got[32];
	saksi_datakeys *dk = open_w(f), *rd;
	char dst[300], *b;
	size_t n;

	assert_int_equal(saksi_dk_create(dk, 0, k), SAKSI_OK);
	assert_int_equal(saksi_dk_create(dk, 1, got), SAKSI_OK);
	assert_int_equal(saksi_dk_sync(dk), SAKSI_OK);
	path_in(f->dir, "copy", dst, sizeof(dst));
	assert_int_equal(saksi_dk_copy(f->slots, dst), SAKSI_OK);
	assert_int_equal(saksi_dk_copy(f->slots, dst), SAKSI_ERR_EXISTS);
	assert_int_equal(saksi_dk_copy("/nonexistent/datakeys", "/tmp/x"), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_dk_open(dst, f->master, f->store, 0, 0, &rd), SAKSI_OK);
	assert_int_equal(saksi_dk_get(rd, 0, got), SAKSI_OK);
	assert_memory_equal(got, k, 32);
	saksi_dk_close(rd);
	unlink(dst);

	/* A copy that would catch a rotation half done is refused, never written. */
	b = slurp(f->slots, &n);
	saksi_put_u64((uint8_t *)b + SAKSI_DK_HDR_SIZE + 8, 7);
	path_in(f->dir, "mixed", f->slots + 0, 0 + sizeof(f->slots));
	spit(f->slots, b, n);
	assert_int_equal(saksi_dk_copy(f->slots, dst), SAKSI_ERR_IO);
	assert_int_equal(access(dst, F_OK), -1);
	/* Not a slot file. */
	spit(f->slots, "SX", 2);
	assert_int_equal(saksi_dk_copy(f->slots, dst), SAKSI_ERR_FORMAT);
	free(b);
	saksi_dk_close(dk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disc2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disc2_zstd_one_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disc2_packed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
