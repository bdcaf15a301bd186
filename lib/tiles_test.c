/*
 * tiles_test.c: C2SP tlog-tiles exports of real ledgers (real LMDB in a mkdtemp dir, real
 * keys and signatures): tile paths, the files each tree size needs, incremental exports
 * equal to one export byte for byte, and saksi_verify_tiles failing at the right entry
 * for every kind of tampering with the files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "../tests/tmpdir.h"
#include "bytes.h"
#include "envelope.h"
#include "keys.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"
#include "tiles.h"
#include "verify.h"
#include "../tests/ledger_fixture.h"
#include "../tests/testutil.h"

#define ORIGIN "test.saksi.example/tiles"
#define BRANCH "KC-TEST"
#define T0 1718000000000ull

struct keys {
	saksi_seckey *log;
	saksi_seckey *other_log;
	saksi_seckey *prod;
	saksi_note_verifier v;
	char vkey[SAKSI_VKEY_MAX + 1];
	saksi_keyring *kr;
};

struct fx {
	struct keys *k;
	char dir[64];
	char ledger[96];
	char out[96];
	char fresh[96];
	saksi_ledger *l;
	uint64_t seq;
};

static int
group_setup(void **state)
{
	struct keys *k = calloc(1, sizeof(*k));
	saksi_pubkey pub;
	char json[1024], b64[128], id[17], err[256] = "";

	assert_non_null(k);
	lf_log_keys(ORIGIN, &k->log, &k->other_log, k->vkey, &k->v);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &k->prod), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(k->prod, &pub), SAKSI_OK);
	assert_int_equal(saksi_pubkey_encode(&pub, b64, sizeof(b64)), SAKSI_OK);
	sodium_bin2hex(id, sizeof(id), pub.pk_id, SAKSI_KEYID_LEN);
	snprintf(json, sizeof(json),
	    "{\"saksi_keyring\": 1, \"roles\": {\"queue\": [\"queue.*\"]}, \"keys\": ["
	    "{\"name\": \"kiosk-1\", \"key_id\": \"%s\", \"public_key\": \"%s\", "
	    "\"role\": \"queue\", \"branch\": \"%s\", \"revoked_ms\": null}]}", id, b64,
	    BRANCH);
	if (saksi_keyring_parse(json, strlen(json), &k->kr, err, sizeof(err)) != SAKSI_OK)
		fail_msg("keyring: %s", err);
	*state = k;
	return 0;
}

static int
group_teardown(void **state)
{
	struct keys *k = *state;

	saksi_seckey_free(k->log);
	saksi_seckey_free(k->other_log);
	saksi_seckey_free(k->prod);
	saksi_keyring_free(k->kr);
	free(k);
	return 0;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->k = *state;
	assert_int_equal(tmpdir_make(f->dir, sizeof(f->dir), "saksi-tiles"), 0);
	snprintf(f->ledger, sizeof(f->ledger), "%s/ledger", f->dir);
	snprintf(f->out, sizeof(f->out), "%s/out", f->dir);
	snprintf(f->fresh, sizeof(f->fresh), "%s/fresh", f->dir);
	assert_int_equal(saksi_ledger_open(f->ledger, ORIGIN, f->k->vkey, NULL, &f->l),
	    SAKSI_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (f->l != NULL)
		saksi_ledger_close(f->l);
	rm_rf(f->dir);
	*state = f->k;
	free(f);
	return 0;
}

/*
 * Grows the ledger to `to` entries in one transaction: refusal summaries (cheap, and
 * checked strictly by the verifier), an event signed by the producer at every index
 * that is 7 mod 100, and a checkpoint every `every` entries (0: none) and at `to`.
 * variant changes the summaries' bytes, for another tree under the same keys.
 */
static void
grow(struct fx *f, uint64_t to, uint64_t every, int variant)
{
	saksi_ledger_txn *txn;
	uint64_t i;

	assert_int_equal(saksi_ledger_begin(f->l, 1, &txn), SAKSI_OK);
	for (i = saksi_ledger_size(txn); i < to; i++) {
		uint64_t ms = T0 + i;

		if (i % 100 == 7) {
			uint8_t env[1024];
			char payload[128];
			size_t el;
			int pl = snprintf(payload, sizeof(payload),
			    "{\"branch\":\"%s\",\"entry\":%" PRIu64 "}", BRANCH, i);

			assert_int_equal(saksi_envelope_sign(f->k->prod, ++f->seq, ms,
			    "queue.booking.created", (const uint8_t *)payload, (size_t)pl, env,
			    sizeof(env), &el), SAKSI_OK);
			assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_EVENT, ms, env, el,
			    NULL, NULL), SAKSI_OK);
		} else {
			uint8_t body[2 + 29];

			saksi_put_u16(body, 1);
			saksi_put_u64(body + 2, i);         /* key_id: the index, so leaves differ */
			body[10] = (uint8_t)(2 + variant);
			saksi_put_u32(body + 11, 1);
			saksi_put_u64(body + 15, ms - 5);
			saksi_put_u64(body + 23, ms - 1);
			assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_REFUSALS, ms, body,
			    sizeof(body), NULL, NULL), SAKSI_OK);
		}
		if ((every != 0 && (i + 1) % every == 0) || i + 1 == to)
			lf_put_ckpt(txn, f->k->log, ORIGIN, i + 1);
	}
	if (to == 0)
		lf_put_ckpt(txn, f->k->log, ORIGIN, 0);
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
}

static saksi_err
verify(struct fx *f, const char *dir, saksi_verify_report *r, const char *reviewer)
{
	saksi_verify_opts o;

	memset(&o, 0, sizeof(o));
	o.vo_log = &f->k->v;
	o.vo_keyring = f->k->kr;
	o.vo_threads = 2;
	if (reviewer != NULL) {
		o.vo_reviewer_ckpt = reviewer;
		o.vo_reviewer_ckpt_len = strlen(reviewer);
	}
	return saksi_verify_tiles(dir, &o, r);
}

/* Asserts that dir verifies as the tree of size n. */
static void
verify_ok(struct fx *f, const char *dir, uint64_t n)
{
	saksi_verify_report r;
	saksi_err e = verify(f, dir, &r, NULL);
	uint64_t nodes = 0;
	unsigned s;

	if (e != SAKSI_OK)
		fail_msg("%s: %s (%s)", dir, r.vr_message, saksi_strerror(e));
	assert_int_equal(r.vr_reason, SAKSI_V_OK);
	assert_int_equal(r.vr_size, n);
	assert_int_equal(r.vr_checked, n);
	assert_int_equal(r.vr_latest, n);
	assert_int_equal(r.vr_checkpoints, 1);
	/* Every hash of every tile: the tree's complete subtrees at levels 0, 8, 16, ... */
	for (s = 0; s < 64; s += 8)
		nodes += n >> s;
	assert_int_equal(r.vr_nodes, nodes);
	assert_int_equal(r.vr_events, n / 100 + (n % 100 > 7));
}

static void
export(struct fx *f, const char *dir, saksi_tiles_stats *st)
{
	saksi_err e = saksi_tiles_export(f->l, dir, st);

	if (e != SAKSI_OK)
		fail_msg("export to %s: %s", dir, saksi_strerror(e));
}

/* Asserts the failure reason and index of a verification of f->out. */
static void
verify_fails(struct fx *f, int reason, uint64_t index)
{
	saksi_verify_report r;
	saksi_err e = verify(f, f->out, &r, NULL);

	print_message("  -> %s at %" PRIu64 ": %s\n", saksi_verify_reason_name(r.vr_reason),
	    r.vr_index, r.vr_message);
	assert_int_equal(e, SAKSI_ERR_CORRUPT);
	assert_string_equal(saksi_verify_reason_name(r.vr_reason),
	    saksi_verify_reason_name(reason));
	assert_int_equal(r.vr_index, index);
}

static void
path_of(struct fx *f, int level, uint64_t n, unsigned w, char *out, size_t len)
{
	char rel[SAKSI_TILES_PATH_MAX];

	assert_int_equal(saksi_tiles_path(rel, sizeof(rel), level, n, w), SAKSI_OK);
	snprintf(out, len, "%s/%s", f->out, rel);
}

static int
file_exists(const char *p)
{
	struct stat sb;

	return lstat(p, &sb) == 0;
}

/* ---- paths ---- */

static void
test_paths(void **state)
{
	char p[SAKSI_TILES_PATH_MAX];

	(void)state;
	/* The spec's example, and its neighbours. */
	assert_int_equal(saksi_tiles_path(p, sizeof(p), 0, 1234067, 0), SAKSI_OK);
	assert_string_equal(p, "tile/0/x001/x234/067");
	assert_int_equal(saksi_tiles_path(p, sizeof(p), 0, 0, 0), SAKSI_OK);
	assert_string_equal(p, "tile/0/000");
	assert_int_equal(saksi_tiles_path(p, sizeof(p), 1, 999, 0), SAKSI_OK);
	assert_string_equal(p, "tile/1/999");
	assert_int_equal(saksi_tiles_path(p, sizeof(p), 2, 1000, 0), SAKSI_OK);
	assert_string_equal(p, "tile/2/x001/000");
	assert_int_equal(saksi_tiles_path(p, sizeof(p), 63, 5, 256), SAKSI_OK);
	assert_string_equal(p, "tile/63/005");
	/* Partial widths 1..255; entries. */
	assert_int_equal(saksi_tiles_path(p, sizeof(p), 0, 1234067, 1), SAKSI_OK);
	assert_string_equal(p, "tile/0/x001/x234/067.p/1");
	assert_int_equal(saksi_tiles_path(p, sizeof(p), SAKSI_TILE_ENTRIES, 1234067, 255),
	    SAKSI_OK);
	assert_string_equal(p, "tile/entries/x001/x234/067.p/255");
	assert_int_equal(saksi_tiles_path(p, sizeof(p), SAKSI_TILE_ENTRIES, 3, 112), SAKSI_OK);
	assert_string_equal(p, "tile/entries/003.p/112");
	/* The longest there is fits SAKSI_TILES_PATH_MAX. */
	assert_int_equal(saksi_tiles_path(p, sizeof(p), SAKSI_TILE_ENTRIES, UINT64_MAX, 255),
	    SAKSI_OK);
	assert_string_equal(p, "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255");
	/* Refusals. */
	assert_int_equal(saksi_tiles_path(p, sizeof(p), 64, 0, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_tiles_path(p, sizeof(p), -2, 0, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_tiles_path(p, sizeof(p), 0, 0, 257), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_tiles_path(p, 12, 0, 1234067, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_tiles_path(p, 20, 0, 1234067, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_tiles_path(p, 21, 0, 1234067, 0), SAKSI_OK);
	assert_int_equal(saksi_tiles_path(p, 21, 0, 1234067, 5), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_tiles_path(NULL, 64, 0, 0, 0), SAKSI_ERR_INVAL);
}

/* ---- sizes ---- */

/* Exports a ledger of n entries, checks the files C2SP says the tree has, verifies. */
static void
size_case(struct fx *f, uint64_t n, uint64_t every)
{
	saksi_tiles_stats st;
	char p[256];
	unsigned s;

	print_message("size %" PRIu64 "\n", n);
	grow(f, n, every, 0);
	export(f, f->out, &st);
	assert_int_equal(st.ts_size, n);
	for (s = 0; s < 64; s += 8) {
		uint64_t count = n >> s, full = count / 256;
		unsigned w = (unsigned)(count % 256);
		int level = (int)(s / 8);

		if (full > 0) {
			path_of(f, level, full - 1, 0, p, sizeof(p));
			assert_true(file_exists(p));
			if (level == 0) {
				path_of(f, SAKSI_TILE_ENTRIES, full - 1, 0, p, sizeof(p));
				assert_true(file_exists(p));
			}
		}
		path_of(f, level, full, 0, p, sizeof(p));
		assert_false(file_exists(p));
		if (w > 0) {
			path_of(f, level, full, w, p, sizeof(p));
			assert_true(file_exists(p));
		}
	}
	verify_ok(f, f->out, n);
}

static void
test_size_0(void **state)
{
	struct fx *f = *state;
	saksi_tiles_stats st;
	char p[256];

	size_case(f, 0, 0);
	export(f, f->out, &st);
	snprintf(p, sizeof(p), "%s/tile", f->out);
	assert_false(file_exists(p));
}

static void test_size_1(void **state) { size_case(*state, 1, 0); }
static void test_size_255(void **state) { size_case(*state, 255, 0); }
static void test_size_256(void **state) { size_case(*state, 256, 0); }
static void test_size_257(void **state) { size_case(*state, 257, 0); }

static void
test_size_65537(void **state)
{
	struct fx *f = *state;
	char p[256];
	uint8_t *t;
	size_t len;

	size_case(f, 65537, 0);
	/* One full level 1 tile, whose hash is the level 2 partial's only one. */
	path_of(f, 1, 0, 0, p, sizeof(p));
	t = (uint8_t *)slurp(p, &len);
	assert_int_equal(len, 8192);
	free(t);
	path_of(f, 2, 0, 1, p, sizeof(p));
	t = (uint8_t *)slurp(p, &len);
	assert_int_equal(len, 32);
	free(t);
}

static void
test_no_checkpoint(void **state)
{
	struct fx *f = *state;
	saksi_ledger_txn *txn;
	saksi_verify_report r;
	char p[256];

	assert_int_equal(saksi_tiles_export(f->l, f->out, NULL), SAKSI_ERR_NOT_FOUND);
	/* A checkpoint that is not of the stored tree is not published. */
	assert_int_equal(saksi_ledger_begin(f->l, 1, &txn), SAKSI_OK);
	{
		saksi_hash bad;
		char note[1024];
		size_t len;
		uint8_t body[2 + 29] = { 0 };

		saksi_put_u16(body, 1);
		body[10] = 2;
		saksi_put_u32(body + 11, 1);
		assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_REFUSALS, T0, body,
		    sizeof(body), NULL, NULL), SAKSI_OK);
		memset(bad, 7, sizeof(bad));
		lf_sign_ckpt(f->k->log, ORIGIN, ORIGIN, 1, bad, note, sizeof(note), &len);
		assert_int_equal(saksi_ledger_ckpt_put(txn, 1, note, len), SAKSI_OK);
	}
	assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
	assert_int_equal(saksi_tiles_export(f->l, f->out, NULL), SAKSI_ERR_CORRUPT);
	snprintf(p, sizeof(p), "%s/checkpoint", f->out);
	assert_false(file_exists(p));
	/* A parent that does not exist; a directory without a checkpoint. */
	snprintf(p, sizeof(p), "%s/none/out", f->dir);
	assert_int_equal(saksi_tiles_export(f->l, p, NULL), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(verify(f, f->out, &r, NULL), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(r.vr_reason, SAKSI_V_SYSTEM);
	assert_non_null(strstr(r.vr_message, "no file named checkpoint"));
	assert_int_equal(verify(f, p, &r, NULL), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_verify_tiles(f->out, NULL, &r), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_verify_tiles(f->out, NULL, NULL), SAKSI_ERR_INVAL);
	/* Good options, no directory: refused as the ledger entry point refuses no ledger. */
	assert_int_equal(verify(f, NULL, &r, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(r.vr_reason, SAKSI_V_SYSTEM);
	assert_int_equal(r.vr_err, SAKSI_ERR_INVAL);
}

/* ---- incremental ---- */

/* Lists every file below dir (relative names, sorted by the walk) into *names. */
static void
walk(const char *root, const char *rel, char ***names, size_t *n)
{
	char p[1024];
	struct dirent **de;
	int k, m;

	snprintf(p, sizeof(p), "%s%s%s", root, rel[0] ? "/" : "", rel);
	m = scandir(p, &de, NULL, alphasort);
	assert_true(m >= 0);
	for (k = 0; k < m; k++) {
		char sub[300];
		struct stat sb;

		if (strcmp(de[k]->d_name, ".") == 0 || strcmp(de[k]->d_name, "..") == 0 ||
		    strcmp(de[k]->d_name, ".lock") == 0) {
			free(de[k]);
			continue;
		}
		assert_true((size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "",
		    de[k]->d_name) < sizeof(sub));
		snprintf(p, sizeof(p), "%s/%s", root, sub);
		assert_int_equal(lstat(p, &sb), 0);
		if (S_ISDIR(sb.st_mode))
			walk(root, sub, names, n);
		else {
			assert_true(S_ISREG(sb.st_mode));
			*names = realloc(*names, (*n + 1) * sizeof(**names));
			assert_non_null(*names);
			(*names)[(*n)++] = strdup(sub);
		}
		free(de[k]);
	}
	free(de);
}

/* Asserts that two exports hold the same files with the same bytes. */
static void
same_tree(const char *a, const char *b)
{
	char **na = NULL, **nb = NULL, pa[512], pb[512];
	size_t ca = 0, cb = 0, k;

	walk(a, "", &na, &ca);
	walk(b, "", &nb, &cb);
	for (k = 0; k < ca && k < cb; k++)
		if (strcmp(na[k], nb[k]) != 0)
			fail_msg("%s has %s where %s has %s", a, na[k], b, nb[k]);
	assert_int_equal(ca, cb);
	for (k = 0; k < ca; k++) {
		size_t la, lb;
		char *x, *y;

		snprintf(pa, sizeof(pa), "%s/%s", a, na[k]);
		snprintf(pb, sizeof(pb), "%s/%s", b, nb[k]);
		x = slurp(pa, &la);
		y = slurp(pb, &lb);
		if (la != lb || memcmp(x, y, la) != 0)
			fail_msg("%s differs", na[k]);
		free(x);
		free(y);
		free(na[k]);
		free(nb[k]);
	}
	free(na);
	free(nb);
}

static void
test_incremental(void **state)
{
	struct fx *f = *state;
	static const uint64_t steps[] = { 1, 100, 255, 256, 300, 511, 600, 65536, 65600 };
	saksi_tiles_stats st;
	uint64_t seed;
	size_t k;
	char p[256];

	/* Checkpoints every 37 entries: the partial widths they need are in both. */
	randombytes_buf(&seed, sizeof(seed));
	for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		grow(f, steps[k], 37, 0);
		export(f, f->out, &st);
		assert_int_equal(st.ts_size, steps[k]);
	}
	/* A run with nothing new writes only the checkpoint. */
	export(f, f->out, &st);
	assert_int_equal(st.ts_written, 1);
	assert_int_equal(st.ts_removed, 0);
	assert_true(st.ts_present > 0);
	export(f, f->fresh, NULL);
	same_tree(f->out, f->fresh);
	/* 600 -> 65536 made tile 0/002 full: its partials are gone. */
	path_of(f, 0, 2, 0, p, sizeof(p));
	strcat(p, ".p");
	assert_false(file_exists(p));
	/* The partial of the checkpoint at 65564 (37 * 1772) is kept beside the latest. */
	path_of(f, SAKSI_TILE_ENTRIES, 256, 28, p, sizeof(p));
	assert_true(file_exists(p));
	path_of(f, SAKSI_TILE_ENTRIES, 256, 64, p, sizeof(p));
	assert_true(file_exists(p));
	path_of(f, SAKSI_TILE_ENTRIES, 256, 29, p, sizeof(p));
	assert_false(file_exists(p));
	verify_ok(f, f->out, 65600);
	(void)seed;
}

/* A full tile is never rewritten: one changed on disk stays changed (and fails). */
static void
test_full_tiles_immutable(void **state)
{
	struct fx *f = *state;
	char p[256];
	uint8_t *t;
	size_t len;

	grow(f, 300, 0, 0);
	export(f, f->out, NULL);
	path_of(f, 0, 0, 0, p, sizeof(p));
	t = (uint8_t *)slurp(p, &len);
	t[5 * 32] ^= 1;
	spit(p, t, len);
	free(t);
	grow(f, 600, 0, 0);
	export(f, f->out, NULL);
	verify_fails(f, SAKSI_V_NODE, 5);
	/* The remedy docs/saksi.md gives: remove the file, export again. */
	assert_int_equal(unlink(p), 0);
	export(f, f->out, NULL);
	verify_ok(f, f->out, 600);
}

/* A reviewer holding an older checkpoint reads its tree after the export moved on: the
 * partial tiles of that size are gone once full, and the full ones serve instead. */
static void
test_older_checkpoint(void **state)
{
	struct fx *f = *state;
	saksi_verify_report r;
	char p[256], *old;
	size_t len;

	grow(f, 600, 50, 0);
	export(f, f->out, NULL);
	snprintf(p, sizeof(p), "%s/checkpoint", f->out);
	old = slurp(p, &len);
	grow(f, 800, 50, 0);
	export(f, f->out, NULL);
	path_of(f, SAKSI_TILE_ENTRIES, 2, 88, p, sizeof(p));
	assert_false(file_exists(p));
	path_of(f, 0, 2, 88, p, sizeof(p));
	assert_false(file_exists(p));
	verify_ok(f, f->out, 800);
	snprintf(p, sizeof(p), "%s/checkpoint", f->out);
	spit(p, old, len);
	if (verify(f, f->out, &r, NULL) != SAKSI_OK)
		fail_msg("%s", r.vr_message);
	assert_int_equal(r.vr_size, 600);
	free(old);
}

/* ---- the paths a reader fetches ---- */

struct plist {
	char **p;
	size_t n;
	int stop_at;    /* return non-zero at this call (0: never) */
};

static int
collect(void *ctx, const char *path)
{
	struct plist *l = ctx;

	l->p = realloc(l->p, (l->n + 1) * sizeof(*l->p));
	assert_non_null(l->p);
	l->p[l->n++] = strdup(path);
	return l->stop_at != 0 && (int)l->n == l->stop_at;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
plist_free(struct plist *l)
{
	for (size_t k = 0; k < l->n; k++)
		free(l->p[k]);
	free(l->p);
	memset(l, 0, sizeof(*l));
}

static void
test_tile_paths(void **state)
{
	static const char *const since300[] = { "tile/entries/001", "tile/entries/002.p/88",
		"tile/0/001", "tile/0/002.p/88", "tile/1/000.p/2" };
	struct fx *f = *state;
	struct plist l = { 0 };
	char **files = NULL;
	size_t nf = 0, k;

	/* One checkpoint: the export holds exactly the paths of its size, and checkpoint. */
	grow(f, 600, 0, 0);
	export(f, f->out, NULL);
	walk(f->out, "", &files, &nf);
	assert_int_equal(saksi_tiles_paths(0, 600, collect, &l), SAKSI_OK);
	assert_int_equal(l.n + 1, nf);
	qsort(l.p, l.n, sizeof(*l.p), cmp_str);
	assert_string_equal(files[0], "checkpoint");
	for (k = 0; k < l.n; k++)
		assert_string_equal(l.p[k], files[k + 1]);
	assert_string_equal(files[nf - 1], "tile/entries/002.p/88");
	for (k = 0; k < nf; k++)
		free(files[k]);
	free(files);
	plist_free(&l);
	/* What is new since 300, in the writer's order; nothing since 600. */
	assert_int_equal(saksi_tiles_paths(300, 600, collect, &l), SAKSI_OK);
	assert_int_equal(l.n, sizeof(since300) / sizeof(since300[0]));
	for (k = 0; k < l.n; k++)
		assert_string_equal(l.p[k], since300[k]);
	plist_free(&l);
	assert_int_equal(saksi_tiles_paths(600, 600, collect, &l), SAKSI_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(saksi_tiles_paths(0, 0, collect, &l), SAKSI_OK);
	assert_int_equal(l.n, 0);
	/* 65,536: 256 bundles and level 0 tiles, 1/000, 2/000.p/1. */
	assert_int_equal(saksi_tiles_paths(0, 65536, collect, &l), SAKSI_OK);
	assert_int_equal(l.n, 256 + 256 + 1 + 1);
	assert_string_equal(l.p[l.n - 1], "tile/2/000.p/1");
	plist_free(&l);
	/* Refusals; a callback that stops. */
	assert_int_equal(saksi_tiles_paths(601, 600, collect, &l), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_tiles_paths(0, 600, NULL, NULL), SAKSI_ERR_INVAL);
	l.stop_at = 2;
	assert_int_equal(saksi_tiles_paths(0, 600, collect, &l), SAKSI_ERR_IO);
	assert_int_equal(l.n, 2);
	plist_free(&l);
}

/* ---- tampering ---- */

/* 600 entries: bundles 000, 001 full and 002.p/88; tiles 0/000, 0/001, 0/002.p/88 and
 * 1/000.p/2. Events at 7, 107, ... */
static void
tamper_setup(struct fx *f)
{
	grow(f, 600, 50, 0);
	export(f, f->out, NULL);
	verify_ok(f, f->out, 600);
}

/* The bundle's bytes and the offset of its entry k. */
static uint8_t *
bundle(struct fx *f, uint64_t n, unsigned w, size_t *len, char *p, size_t plen)
{
	path_of(f, SAKSI_TILE_ENTRIES, n, w, p, plen);
	return (uint8_t *)slurp(p, len);
}

static size_t
entry_off(const uint8_t *b, unsigned k)
{
	size_t off = 0;

	while (k-- > 0)
		off += 2 + saksi_get_u16(b + off);
	return off;
}

static void
test_tamper_entry(void **state)
{
	struct fx *f = *state;
	char p[256];
	size_t len, off;
	uint8_t *b;

	tamper_setup(f);
	/* A refusal summary's count of refusals (still parses): its tile hash differs. */
	b = bundle(f, 1, 0, &len, p, sizeof(p));
	off = entry_off(b, 44);
	b[off + 2 + 42 + 2 + 8 + 1 + 3] ^= 0x10;
	spit(p, b, len);
	verify_fails(f, SAKSI_V_NODE, 300);
	b[off + 2 + 42 + 2 + 8 + 1 + 3] ^= 0x10;
	/* The event at 307: its producer signature. */
	off = entry_off(b, 51);
	b[off + 2 + saksi_get_u16(b + off) - 3] ^= 1;
	spit(p, b, len);
	verify_fails(f, SAKSI_V_SIGNATURE, 307);
	b[off + 2 + saksi_get_u16(b + off) - 3] ^= 1;
	spit(p, b, len);
	verify_ok(f, f->out, 600);
	free(b);
}

static void
test_remove_reorder_entries(void **state)
{
	struct fx *f = *state;
	char p[256];
	size_t len, o9, o10, o11, o21, o22, o23;
	uint8_t *b, *c;

	tamper_setup(f);
	b = bundle(f, 0, 0, &len, p, sizeof(p));
	c = malloc(len);
	assert_non_null(c);
	/* Entry 9 removed: entry 10 is read as 9, and its prev_root says otherwise. */
	o9 = entry_off(b, 9);
	o10 = entry_off(b, 10);
	memcpy(c, b, o9);
	memcpy(c + o9, b + o10, len - o10);
	spit(p, c, len - (o10 - o9));
	verify_fails(f, SAKSI_V_PREV_ROOT, 9);
	/* Entries 21 and 22 swapped. */
	o21 = entry_off(b, 21);
	o22 = entry_off(b, 22);
	o23 = entry_off(b, 23);
	memcpy(c, b, len);
	memcpy(c + o21, b + o22, o23 - o22);
	memcpy(c + o21 + (o23 - o22), b + o21, o22 - o21);
	spit(p, c, len);
	verify_fails(f, SAKSI_V_PREV_ROOT, 21);
	/* Bytes after the 256th entry of a full bundle. */
	spit(p, b, len);
	{
		FILE *fp = fopen(p, "ab");
		assert_non_null(fp);
		fputc(0, fp);
		fclose(fp);
	}
	verify_fails(f, SAKSI_V_LEAF_STORAGE, 255);
	/* An entry's length running past the end. */
	o11 = entry_off(b, 11);
	spit(p, b, o11 + 10);
	verify_fails(f, SAKSI_V_LEAF_STORAGE, 11);
	/* The bundle gone. */
	assert_int_equal(unlink(p), 0);
	verify_fails(f, SAKSI_V_LEAF_MISSING, 0);
	spit(p, b, len);
	free(b);
	free(c);

	/* The partial bundle: its last entry gone; one entry more than the tree has. */
	b = bundle(f, 2, 88, &len, p, sizeof(p));
	o9 = entry_off(b, 87);
	spit(p, b, o9);
	verify_fails(f, SAKSI_V_LEAF_MISSING, 599);
	c = malloc(len + o9);
	assert_non_null(c);
	memcpy(c, b, len);
	memcpy(c + len, b + entry_off(b, 86), len - entry_off(b, 86));
	spit(p, c, len + (len - entry_off(b, 86)));
	verify_fails(f, SAKSI_V_EXTRA_LEAF, 600);
	spit(p, b, len);
	verify_ok(f, f->out, 600);
	free(b);
	free(c);
}

static void
test_tamper_tiles(void **state)
{
	struct fx *f = *state;
	char p[256];
	size_t len;
	uint8_t *t;

	tamper_setup(f);
	/* A leaf hash in a full level 0 tile. */
	path_of(f, 0, 1, 0, p, sizeof(p));
	t = (uint8_t *)slurp(p, &len);
	t[5 * 32 + 31] ^= 1;
	spit(p, t, len);
	verify_fails(f, SAKSI_V_NODE, 261);
	/* Cut short; one byte too many; gone. */
	spit(p, t, len - 32);
	verify_fails(f, SAKSI_V_NODE, 256);
	t[5 * 32 + 31] ^= 1;
	spit(p, t, len);
	{
		FILE *fp = fopen(p, "ab");
		assert_non_null(fp);
		fputc(0, fp);
		fclose(fp);
	}
	verify_fails(f, SAKSI_V_NODE, 256);
	assert_int_equal(unlink(p), 0);
	verify_fails(f, SAKSI_V_NODE, 256);
	spit(p, t, len);
	free(t);
	/* The level 1 partial's second hash: the subtree of entries 256..511. */
	path_of(f, 1, 0, 2, p, sizeof(p));
	t = (uint8_t *)slurp(p, &len);
	assert_int_equal(len, 64);
	t[32] ^= 0x80;
	spit(p, t, len);
	verify_fails(f, SAKSI_V_NODE, 511);
	t[32] ^= 0x80;
	spit(p, t, len);
	free(t);
	/* The level 0 partial. */
	path_of(f, 0, 2, 88, p, sizeof(p));
	t = (uint8_t *)slurp(p, &len);
	t[87 * 32] ^= 1;
	spit(p, t, len);
	verify_fails(f, SAKSI_V_NODE, 599);
	t[87 * 32] ^= 1;
	spit(p, t, len);
	free(t);
	verify_ok(f, f->out, 600);
}

static void
test_tamper_checkpoint(void **state)
{
	struct fx *f = *state;
	saksi_verify_report r;
	saksi_ledger *other;
	saksi_ledger_txn *txn;
	char p[256], op[256], note[1024], *ck, *old;
	saksi_hash root;
	size_t len, cl;

	tamper_setup(f);
	snprintf(p, sizeof(p), "%s/checkpoint", f->out);
	ck = slurp(p, &cl);
	/* The reviewer's older checkpoint (size 300) is a prefix of this tree. */
	assert_int_equal(saksi_ledger_begin(f->l, 0, &txn), SAKSI_OK);
	assert_int_equal(saksi_ledger_ckpt_get(txn, 300, &old, &len), SAKSI_OK);
	assert_int_equal(saksi_ledger_root(txn, 600, root), SAKSI_OK);
	saksi_ledger_abort(txn);
	assert_int_equal(verify(f, f->out, &r, old), SAKSI_OK);
	assert_int_equal(r.vr_reviewer, 1);
	assert_int_equal(r.vr_reviewer_size, 300);

	/* Another tree of the same size under the same log key. */
	snprintf(op, sizeof(op), "%s/other", f->dir);
	saksi_ledger *mine = f->l;
	assert_int_equal(saksi_ledger_open(op, ORIGIN, f->k->vkey, NULL, &other), SAKSI_OK);
	f->l = other;
	grow(f, 600, 0, 1);
	grow(f, 700, 0, 1);
	f->l = mine;
	assert_int_equal(saksi_ledger_begin(other, 0, &txn), SAKSI_OK);
	{
		char *n6, *n7;
		size_t l6, l7;

		assert_int_equal(saksi_ledger_ckpt_get(txn, 600, &n6, &l6), SAKSI_OK);
		assert_int_equal(saksi_ledger_ckpt_get(txn, 700, &n7, &l7), SAKSI_OK);
		saksi_ledger_abort(txn);
		spit(p, n6, l6);
		verify_fails(f, SAKSI_V_CKPT_ROOT, 599);
		/* A larger tree: its partial tiles are not in this export. */
		spit(p, n7, l7);
		verify_fails(f, SAKSI_V_LEAF_MISSING, 512);
		free(n6);
		free(n7);
	}
	saksi_ledger_close(other);

	/* This tree's checkpoint signed by another key: nothing is read. */
	lf_sign_ckpt(f->k->other_log, ORIGIN, ORIGIN, 600, root, note, sizeof(note), &len);
	spit(p, note, len);
	assert_int_equal(verify(f, f->out, &r, NULL), SAKSI_ERR_CORRUPT);
	assert_int_equal(r.vr_reason, SAKSI_V_CKPT_SIGNATURE);
	assert_int_equal(r.vr_checked, 0);
	/* Not a note at all; the empty tree's root at size 0; a wrong size claim. */
	spit(p, "hello\n", 6);
	assert_int_equal(verify(f, f->out, &r, NULL), SAKSI_ERR_CORRUPT);
	assert_int_equal(r.vr_reason, SAKSI_V_CKPT_FORMAT);
	lf_sign_ckpt(f->k->log, ORIGIN, ORIGIN, 0, root, note, sizeof(note), &len);
	spit(p, note, len);
	assert_int_equal(verify(f, f->out, &r, NULL), SAKSI_ERR_CORRUPT);
	assert_int_equal(r.vr_reason, SAKSI_V_CKPT_ROOT);
	assert_int_equal(r.vr_index, SAKSI_VERIFY_NO_INDEX);
	/* The reviewer's checkpoint is of a later tree than the export's. */
	spit(p, ck, cl);
	assert_int_equal(saksi_ledger_open(op, NULL, NULL, NULL, &other), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(other, 0, &txn), SAKSI_OK);
	{
		char *n7;
		size_t l7;

		assert_int_equal(saksi_ledger_ckpt_get(txn, 700, &n7, &l7), SAKSI_OK);
		saksi_ledger_abort(txn);
		assert_int_equal(verify(f, f->out, &r, n7), SAKSI_ERR_CORRUPT);
		assert_int_equal(r.vr_reason, SAKSI_V_TRUNCATED);
		assert_int_equal(r.vr_index, 600);
		free(n7);
	}
	/* Another tree is never exported into this one's directory (its full tiles would
	 * stay): a larger one, the same size with another root, and this one afterwards
	 * into the other's. */
	assert_int_equal(saksi_tiles_export(other, f->out, NULL), SAKSI_ERR_EXISTS);
	{
		char od[160];

		snprintf(od, sizeof(od), "%s/other-out", f->dir);
		assert_int_equal(saksi_tiles_export(other, od, NULL), SAKSI_OK);
		assert_int_equal(saksi_tiles_export(f->l, od, NULL), SAKSI_ERR_EXISTS);
		snprintf(p, sizeof(p), "%s/checkpoint", od);
		spit(p, "not a checkpoint\n", 17);
		assert_int_equal(saksi_tiles_export(f->l, od, NULL), SAKSI_ERR_EXISTS);
	}
	saksi_ledger_close(other);
	verify_ok(f, f->out, 600);
	export(f, f->out, NULL);
	verify_ok(f, f->out, 600);
	free(ck);
	free(old);
}

/* The reader alone: its refusals and its answers past the tree's end. */
static void
test_reader(void **state)
{
	struct fx *f = *state;
	saksi_tiles *t;
	saksi_hash h;
	uint8_t *leaf;
	size_t len;
	char p[256];

	tamper_setup(f);
	assert_int_equal(saksi_tiles_open(f->out, &t), SAKSI_OK);
	assert_non_null(saksi_tiles_checkpoint(t, &len));
	assert_true(len > 0);
	assert_int_equal(saksi_tiles_leaf(t, 600, 599, &leaf, &len), SAKSI_OK);
	free(leaf);
	assert_int_equal(saksi_tiles_leaf(t, 600, 600, &leaf, &len), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_tiles_leaf(t, 512, 512, &leaf, &len), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_tiles_hash(t, 600, 8, 1, h), SAKSI_OK);
	assert_int_equal(saksi_tiles_hash(t, 600, 8, 2, h), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_tiles_hash(t, 600, 4, 0, h), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_tiles_hash(t, 600, 64, 0, h), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_tiles_hash(t, 600, 0, 600, h), SAKSI_ERR_RANGE);
	/* A size this export has no partial for. */
	assert_int_equal(saksi_tiles_hash(t, 601, 0, 600, h), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_tiles_leaf(NULL, 1, 0, &leaf, &len), SAKSI_ERR_INVAL);
	saksi_tiles_close(t);
	saksi_tiles_close(NULL);
	/* A checkpoint too large to be one. */
	snprintf(p, sizeof(p), "%s/checkpoint", f->out);
	{
		char *big = calloc(1, SAKSI_NOTE_MAX + 1);
		assert_non_null(big);
		memset(big, 'a', SAKSI_NOTE_MAX + 1);
		spit(p, big, SAKSI_NOTE_MAX + 1);
		free(big);
	}
	assert_int_equal(saksi_tiles_open(f->out, &t), SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_tiles_open(f->dir, &t), SAKSI_ERR_NOT_FOUND);
	snprintf(p, sizeof(p), "%s/nothing", f->dir);
	assert_int_equal(saksi_tiles_open(p, &t), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_tiles_open(NULL, &t), SAKSI_ERR_INVAL);
}

/* An export taken while another process appends is a consistent tree every time. */
static void
test_export_while_appending(void **state)
{
	struct fx *f = *state;
	pid_t pid;
	int k, st;

	grow(f, 10, 0, 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The writer: its own environment handle, as saksid has. */
		saksi_ledger *l;
		if (saksi_ledger_open(f->ledger, NULL, NULL, NULL, &l) != SAKSI_OK)
			_exit(2);
		/* The parent's handle is never touched here (LMDB: not across fork). */
		f->l = l;
		/* Many commits, as saksid makes: each export sees one of them. */
		for (int g = 1; g <= 30; g++)
			grow(f, 10 + 100 * (uint64_t)g, 3, 0);
		saksi_ledger_close(l);
		_exit(0);
	}
	for (k = 0; k < 20; k++) {
		saksi_verify_report r;

		export(f, f->out, NULL);
		if (verify(f, f->out, &r, NULL) != SAKSI_OK)
			fail_msg("export %d: %s", k, r.vr_message);
		print_message("export %d: %" PRIu64 " entries, verified\n", k, r.vr_size);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	{
		saksi_verify_report r;
		if (verify(f, f->out, &r, NULL) != SAKSI_OK)
			fail_msg("%s", r.vr_message);
		print_message("verified an export of %" PRIu64 " entries taken while the "
		    "writer ran\n", r.vr_size);
	}
	export(f, f->out, NULL);
	verify_ok(f, f->out, 3010);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test_setup_teardown(test_size_0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_255, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_256, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_257, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_65537, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incremental, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_tiles_immutable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_older_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tile_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_reorder_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_tiles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_while_appending, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
