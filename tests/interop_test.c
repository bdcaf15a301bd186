/*
 * interop_test.c: saksi's ledger artefacts checked by code we did not write, the Go
 * golang.org/x/mod/sumdb note and tlog packages (tests/interop/main.go), and a note
 * signed by Go checked by saksi. Real ledgers only: one built here with the library, one
 * written by the real saksid from events submitted through the client library. Never
 * weakens a check to make Go agree: a disagreement is a failure of ours or of the format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>

#include "bytes.h"
#include "client.h"
#include "envelope.h"
#include "keys.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"
#include "schema.h"
#include "tiles.h"
#include "wire.h"

#include "events_gen.h"
#include "testutil.h"

#define GO_GOPATH "/usr/share/gocode"
#define GO_PKG GO_GOPATH "/src/golang.org/x/mod/sumdb/tlog"
#define CHECKER_SRC SAKSI_SOURCE_DIR "/tests/interop/main.go"
#define SCHEMAS SAKSI_SOURCE_DIR "/schemas/events"
#define BRANCH "KC-MAKASSAR"

struct fx {
	char dir[64];
	char go[PATH_MAX];
	uint64_t seed;
	uint64_t rng;
	pid_t daemon;
	saksi_schemas *sc;
};

/* A receipt and the envelope it is for (NULL: take the leaf's body from the ledger). */
struct rcpt {
	char *text;
	uint8_t *env;
	size_t env_len;
	uint64_t index;
};

/* ---- files and processes ---- */

/* Searches PATH for an executable `go`; 0 if there is none (then the tests skip). */
static int
find_go(char *out, size_t len)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX];
	size_t n;

	if (path == NULL)
		path = "/usr/bin:/bin";
	while (*path != '\0') {
		n = strcspn(path, ":");
		if (n > 0 && n < sizeof(dir)) {
			memcpy(dir, path, n);
			dir[n] = '\0';
			if ((size_t)snprintf(out, len, "%s/go", dir) < len && access(out, X_OK) == 0)
				return 1;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	out[0] = '\0';
	return 0;
}

/*
 * Runs argv with envp (NULL: ours), stdout and stderr into the file `log`, and returns
 * the exit status (128 + signal if killed). posix_spawn: nothing runs in a forked copy of
 * this process, which may have nanomsg threads by then.
 */
static pid_t
spawn(char *const argv[], char *const envp[], const char *log)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, log,
	                 O_WRONLY | O_CREAT | O_APPEND, 0600), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, 1, 2), 0);
	assert_int_equal(posix_spawn_file_actions_addclose(&fa, 0), 0);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp != NULL ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		fail_msg("cannot run %s: %s", argv[0], strerror(rc));
	return pid;
}

static int
wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

static int
run(char *const argv[], char *const envp[], const char *log)
{
	unlink(log);
	return wait_status(spawn(argv, envp, log));
}

/* Builds tests/interop/main.go into dir/interop offline, as CI does (GO111MODULE=off). */
static void
build_checker(struct fx *fx, char *bin, size_t len)
{
	static const char *const drop[] = { "GO111MODULE=", "GOPATH=", "GOCACHE=", "GOFLAGS=",
		"GOENV=", "GOTOOLCHAIN=", "GOPROXY=" };
	char cache[128], log[128], gocache[160];
	char *env[512], *argv[6], *out;
	size_t n = 0, i, k;
	int st;

	path_in(fx->dir, "interop", bin, len);
	path_in(fx->dir, "gocache", cache, sizeof(cache));
	path_in(fx->dir, "go-build.log", log, sizeof(log));
	snprintf(gocache, sizeof(gocache), "GOCACHE=%s", cache);
	for (i = 0; environ[i] != NULL && n < 500; i++) {
		for (k = 0; k < sizeof(drop) / sizeof(drop[0]); k++)
			if (strncmp(environ[i], drop[k], strlen(drop[k])) == 0)
				break;
		if (k == sizeof(drop) / sizeof(drop[0]))
			env[n++] = environ[i];
	}
	env[n++] = "GO111MODULE=off";
	env[n++] = "GOPATH=" GO_GOPATH;
	env[n++] = gocache;
	env[n++] = "GOFLAGS=";
	env[n++] = "GOENV=off";
	env[n++] = "GOTOOLCHAIN=local";
	env[n++] = "GOPROXY=off";
	env[n] = NULL;
	argv[0] = fx->go;
	argv[1] = "build";
	argv[2] = "-o";
	argv[3] = bin;
	argv[4] = CHECKER_SRC;
	argv[5] = NULL;
	st = run(argv, env, log);
	if (st != 0) {
		out = slurp(log, NULL);
		print_error("go build exited %d:\n%s\n", st, out);
		free(out);
		fail_msg("the Go checker does not build");
	}
}

/* Runs the checker on art; returns its exit status, *out its output (malloc'd). */
static int
run_checker(const struct fx *fx, const char *bin, const char *art, char **out)
{
	char log[128];
	char *argv[3];
	int st;

	path_in(fx->dir, "checker.log", log, sizeof(log));
	argv[0] = (char *)bin;
	argv[1] = (char *)art;
	argv[2] = NULL;
	st = run(argv, NULL, log);
	*out = slurp(log, NULL);
	return st;
}

/* ---- fixture ---- */

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	const char *s = getenv("SAKSI_TEST_SEED");
	char err[256] = "";

	assert_non_null(fx);
	assert_true(sodium_init() >= 0);
	fx->seed = s != NULL ? strtoull(s, NULL, 0) :
	           ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	fx->rng = fx->seed;
	print_message("seed %" PRIu64 " (SAKSI_TEST_SEED=%" PRIu64 " repeats it)\n", fx->seed,
	              fx->seed);
	assert_int_equal(tmpdir_make(fx->dir, sizeof(fx->dir), "saksi-interop"), 0);
	if (saksi_schemas_load(SCHEMAS, &fx->sc, err, sizeof(err)) != SAKSI_OK)
		fail_msg("schemas %s: %s", SCHEMAS, err);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->daemon > 0) {
		kill(fx->daemon, SIGKILL);
		waitpid(fx->daemon, NULL, 0);
	}
	if (getenv("SAKSI_KEEP_TMP") != NULL)
		print_message("kept %s\n", fx->dir);
	else
		rm_rf(fx->dir);
	saksi_schemas_free(fx->sc);
	free(fx);
	return 0;
}

/* Skips unless go and golang.org/x/mod are installed (scripts/deps.sh installs both). */
static void
need_go(struct fx *fx)
{
	if (!find_go(fx->go, sizeof(fx->go))) {
		print_message("go is not installed (scripts/deps.sh installs golang-go): "
		              "skipping\n");
		skip();
	}
	if (access(GO_PKG, R_OK) != 0) {
		print_message("%s is missing (scripts/deps.sh installs golang-golang-x-mod-dev): "
		              "skipping\n", GO_PKG);
		skip();
	}
}

/* ---- events ---- */

static saksi_seckey *
seeded_key(struct fx *fx, int kind)
{
	uint8_t secret[32];
	saksi_seckey *k;

	for (size_t i = 0; i < sizeof(secret); i += 8) {
		uint64_t r = gen_rnd(&fx->rng);
		memcpy(secret + i, &r, 8);
	}
	assert_int_equal(saksi_seckey_from_secret(kind, secret, &k), SAKSI_OK);
	sodium_memzero(secret, sizeof(secret));
	return k;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * One realistic event as a producer builds it: a payload with personal values in clear,
 * disclosed (digests in the payload, checked against the schema as signed), signed.
 * *env malloc'd; *disc (malloc'd JSON array) if disc is non-NULL.
 */
static const char *
make_event(struct fx *fx, const saksi_seckey *k, int role, uint64_t seq, uint64_t time_ms,
           uint8_t **env, size_t *env_len, char **disc, size_t *disc_len)
{
	char clear[2048], err[256] = "", *payload, *d;
	const char *const *personal;
	const char *type;
	size_t plen, dlen, np = 0;

	type = gen_event(&fx->rng, role, BRANCH, seq, clear, sizeof(clear));
	if (saksi_schemas_validate_clear(fx->sc, type, clear, strlen(clear), err,
	                                 sizeof(err)) != SAKSI_OK)
		fail_msg("generated %s does not validate: %s: %s", type, err, clear);
	personal = saksi_schemas_personal(fx->sc, type);
	assert_non_null(personal);
	while (personal[np] != NULL)
		np++;
	assert_int_equal(saksi_disclose_payload(clear, strlen(clear), personal, np, &payload,
	                 &plen, &d, &dlen), SAKSI_OK);
	if (saksi_schemas_validate(fx->sc, type, payload, plen, err, sizeof(err)) != SAKSI_OK)
		fail_msg("disclosed %s does not validate: %s", type, err);
	*env = malloc(SAKSI_ENV_MAX);
	assert_non_null(*env);
	assert_int_equal(saksi_envelope_sign(k, seq, time_ms, type, (const uint8_t *)payload,
	                 plen, *env, SAKSI_ENV_MAX, env_len), SAKSI_OK);
	*env = realloc(*env, *env_len);
	assert_non_null(*env);
	free(payload);
	if (disc != NULL) {
		*disc = d;
		*disc_len = dlen;
	} else {
		sodium_memzero(d, dlen);
		free(d);
	}
	return type;
}

/* ---- the artefacts ---- */

static void
b64(const uint8_t *bin, size_t len, char *out, size_t outlen)
{
	assert_true(outlen >= sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL));
	sodium_bin2base64(out, outlen, bin, len, sodium_base64_VARIANT_ORIGINAL);
}

static json_t *
hash_list(const saksi_hash *h, size_t n)
{
	json_t *a = json_array();
	char s[64];

	for (size_t i = 0; i < n; i++) {
		b64(h[i], SAKSI_HASH_LEN, s, sizeof(s));
		assert_int_equal(json_array_append_new(a, json_string(s)), 0);
	}
	return a;
}

static void
add_inclusion(saksi_ledger_txn *txn, json_t *arr, uint64_t index, uint64_t size)
{
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
	size_t n;
	json_t *o;

	assert_int_equal(saksi_ledger_prove_inclusion(txn, index, size, proof, &n), SAKSI_OK);
	o = json_pack("{s:I,s:I,s:o}", "index", (json_int_t)index, "size", (json_int_t)size,
	              "proof", hash_list(proof, n));
	assert_non_null(o);
	assert_int_equal(json_array_append_new(arr, o), 0);
}

static void
add_consistency(saksi_ledger_txn *txn, json_t *arr, uint64_t m, uint64_t n)
{
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
	size_t np;
	json_t *o;

	assert_int_equal(saksi_ledger_prove_consistency(txn, m, n, proof, &np), SAKSI_OK);
	o = json_pack("{s:I,s:I,s:o}", "m", (json_int_t)m, "n", (json_int_t)n, "proof",
	              hash_list(proof, np));
	assert_non_null(o);
	assert_int_equal(json_array_append_new(arr, o), 0);
}

static void
put_json(const char *art, const char *name, const json_t *j)
{
	char p[160];

	path_in(art, name, p, sizeof(p));
	assert_int_equal(json_dump_file(j, p, JSON_COMPACT), 0);
}

/* What dump_ledger learnt, for the checks after it. */
struct dump {
	uint64_t dm_size;
	saksi_hash dm_root;
	uint64_t dm_ckpts;          /* checkpoints stored in the ledger */
	uint64_t dm_refusal_leaves;
	json_t *dm_proofs;          /* proofs.json as written */
	json_t *dm_receipts;        /* receipts.json as written */
	saksi_note_verifier dm_log; /* the log's verifier key as the ledger records it */
};

/*
 * Writes the checker's input directory (see tests/interop/main.go) from the ledger in
 * ledger_dir, opened read-only like a verifier's copy. Every proof comes from
 * saksi_ledger_prove_*; receipts are the ones given.
 */
static void
dump_ledger(struct fx *fx, const char *ledger_dir, const char *art, struct rcpt *r,
            size_t nr, struct dump *dm)
{
	saksi_ledger_opts lo = { .lo_readonly = 1 };
	saksi_ledger *l;
	saksi_ledger_txn *txn;
	saksi_checkpoint ck;
	json_t *roots, *inc, *con;
	uint64_t n, i, m, after, csize, sizes[4096];
	size_t nsizes = 0, len, clen;
	char p[160], s[64], key[24], *vkey, *note;
	uint8_t *leaf, u32[4];
	FILE *f;

	memset(dm, 0, sizeof(*dm));
	assert_int_equal(mkdir(art, 0700), 0);
	assert_int_equal(saksi_ledger_open(ledger_dir, NULL, NULL, &lo, &l), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	n = saksi_ledger_size(txn);
	assert_true(n >= 2);
	dm->dm_size = n;

	assert_int_equal(saksi_ledger_meta(txn, "vkey", &vkey), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_parse(vkey, &dm->dm_log), SAKSI_OK);
	path_in(art, "vkey.txt", p, sizeof(p));
	f = fopen(p, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", vkey);
	assert_int_equal(fclose(f), 0);
	free(vkey);

	/* Every checkpoint must open and name a root we compute; the latest is the one. */
	for (after = 0; saksi_ledger_ckpt_next(txn, after, &csize, &note, &clen) == SAKSI_OK;
	     after = csize) {
		saksi_hash root;

		assert_int_equal(saksi_checkpoint_open(note, clen, &dm->dm_log, &ck), SAKSI_OK);
		assert_int_equal(ck.ck_size, csize);
		assert_int_equal(saksi_ledger_root(txn, csize, root), SAKSI_OK);
		assert_memory_equal(ck.ck_root, root, SAKSI_HASH_LEN);
		if (nsizes < sizeof(sizes) / sizeof(sizes[0]))
			sizes[nsizes++] = csize;
		dm->dm_ckpts++;
		free(note);
	}
	assert_true(dm->dm_ckpts >= 2);
	assert_int_equal(saksi_ledger_ckpt_latest(txn, &csize, &note, &clen), SAKSI_OK);
	assert_int_equal(csize, n);
	path_in(art, "checkpoint.txt", p, sizeof(p));
	spit(p, note, clen);
	free(note);
	assert_int_equal(saksi_ledger_root(txn, n, dm->dm_root), SAKSI_OK);

	path_in(art, "leaves.bin", p, sizeof(p));
	f = fopen(p, "wb");
	assert_non_null(f);
	for (i = 0; i < n; i++) {
		saksi_leaf lf;

		assert_int_equal(saksi_ledger_leaf(txn, i, &leaf, &len), SAKSI_OK);
		assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
		if (lf.lf_kind == SAKSI_LEAF_REFUSALS)
			dm->dm_refusal_leaves++;
		saksi_put_u32(u32, (uint32_t)len);
		assert_int_equal(fwrite(u32, 1, 4, f), 4);
		assert_int_equal(fwrite(leaf, 1, len, f), len);
		free(leaf);
	}
	assert_int_equal(fclose(f), 0);

	/* Roots of every size; proofs for all small pairs, the checkpoints, random pairs. */
	roots = json_object();
	inc = json_array();
	con = json_array();
	for (m = 1; m <= n; m++) {
		saksi_hash root;

		assert_int_equal(saksi_ledger_root(txn, m, root), SAKSI_OK);
		b64(root, SAKSI_HASH_LEN, s, sizeof(s));
		snprintf(key, sizeof(key), "%" PRIu64, m);
		assert_int_equal(json_object_set_new(roots, key, json_string(s)), 0);
	}
	for (m = 1; m <= 33 && m <= n; m++)
		for (i = 0; i < m; i++) {
			add_inclusion(txn, inc, i, m);
			add_consistency(txn, con, i + 1, m);
		}
	for (size_t a = 0; a < nsizes; a++) {
		for (i = 0; i < sizes[a]; i += 1 + gen_below(&fx->rng, 5))
			add_inclusion(txn, inc, i, sizes[a]);
		for (size_t b = a; b < nsizes; b++)
			add_consistency(txn, con, sizes[a], sizes[b]);
	}
	for (int k = 0; k < 1500; k++) {
		uint64_t sz = 1 + gen_rnd(&fx->rng) % n;

		add_inclusion(txn, inc, gen_rnd(&fx->rng) % sz, sz);
		m = 1 + gen_rnd(&fx->rng) % sz;
		add_consistency(txn, con, m, sz);
	}
	add_inclusion(txn, inc, n - 1, n);
	add_inclusion(txn, inc, 0, n);
	add_consistency(txn, con, 1, n);
	add_consistency(txn, con, n - 1, n);
	add_consistency(txn, con, n, n);
	dm->dm_proofs = json_pack("{s:o,s:o,s:o}", "roots", roots, "inclusion", inc,
	                          "consistency", con);
	assert_non_null(dm->dm_proofs);
	put_json(art, "proofs.json", dm->dm_proofs);

	dm->dm_receipts = json_array();
	for (size_t k = 0; k < nr; k++) {
		char *eb64;
		const uint8_t *env = r[k].env;
		size_t elen = r[k].env_len;

		leaf = NULL;
		if (env == NULL) {
			saksi_leaf lf;

			assert_int_equal(saksi_ledger_leaf(txn, r[k].index, &leaf, &len), SAKSI_OK);
			assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
			env = lf.lf_body;
			elen = lf.lf_body_len;
		}
		len = sodium_base64_ENCODED_LEN(elen, sodium_base64_VARIANT_ORIGINAL);
		eb64 = malloc(len);
		assert_non_null(eb64);
		b64(env, elen, eb64, len);
		assert_int_equal(json_array_append_new(dm->dm_receipts, json_pack("{s:s,s:s}",
		                 "receipt", r[k].text, "envelope", eb64)), 0);
		free(eb64);
		free(leaf);
	}
	put_json(art, "receipts.json", dm->dm_receipts);
	print_message("ledger %s: %" PRIu64 " leaves (%" PRIu64 " refusal summaries), %" PRIu64
	              " checkpoints, %zu inclusion and %zu consistency proofs, %zu receipts\n",
	              ledger_dir, n, dm->dm_refusal_leaves, dm->dm_ckpts, json_array_size(inc),
	              json_array_size(con), nr);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
}

static void
dump_free(struct dump *dm)
{
	json_decref(dm->dm_proofs);
	json_decref(dm->dm_receipts);
}

/* ---- the checks ---- */

static void
expect_ok(const struct fx *fx, const char *bin, const char *art)
{
	char *out;
	int st = run_checker(fx, bin, art, &out);

	print_message("%s", out);
	if (st != 0 || strncmp(out, "interop: ok", 11) != 0)
		fail_msg("the Go checker exited %d", st);
	free(out);
}

/* The checker must reject art with exit 1, naming the failure. */
static void
expect_fail(const struct fx *fx, const char *bin, const char *art, const char *what)
{
	char *out;
	int st = run_checker(fx, bin, art, &out);

	print_message("%s: %s", what, out);
	if (st != 1 || strstr(out, "interop: FAIL") == NULL)
		fail_msg("%s: the Go checker exited %d, not 1", what, st);
	free(out);
}

/* Flips one bit of the base64 hash in the JSON string j. */
static void
flip_hash(json_t *j, uint64_t *rng)
{
	uint8_t h[SAKSI_HASH_LEN];
	char s[64];
	size_t hl;

	assert_int_equal(sodium_base642bin(h, sizeof(h), json_string_value(j),
	                 json_string_length(j), NULL, &hl, NULL,
	                 sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(hl, SAKSI_HASH_LEN);
	h[gen_below(rng, SAKSI_HASH_LEN)] ^= (uint8_t)(1u << gen_below(rng, 8));
	b64(h, sizeof(h), s, sizeof(s));
	assert_int_equal(json_string_set(j, s), 0);
}

/* A random proof of arr that has at least one hash. */
static json_t *
pick_proof(json_t *arr, uint64_t *rng)
{
	json_t *p;

	do
		p = json_object_get(json_array_get(arr, gen_below(rng, (unsigned)json_array_size(arr))),
		                    "proof");
	while (json_array_size(p) == 0);
	return p;
}

/*
 * The checker must accept art, then reject it after each single change: one bit of one
 * leaf, one hash of a root, of an inclusion and of a consistency proof, one bit of an
 * envelope behind a receipt, one character of the checkpoint's signature.
 */
static void
check_with_go(struct fx *fx, const char *bin, const char *art, struct dump *dm)
{
	char p[160], *orig, *buf;
	size_t len, off, at;
	uint32_t k, nl;
	json_t *copy, *j;

	expect_ok(fx, bin, art);

	/* One bit of one leaf: its hash, the next leaf's prev_root or the root must differ. */
	path_in(art, "leaves.bin", p, sizeof(p));
	orig = slurp(p, &len);
	buf = malloc(len);
	assert_non_null(buf);
	memcpy(buf, orig, len);
	k = gen_below(&fx->rng, (unsigned)dm->dm_size);
	for (off = 0, nl = 0; nl < k; nl++)
		off += 4 + saksi_get_u32((uint8_t *)buf + off);
	at = off + 4 + gen_below(&fx->rng, saksi_get_u32((uint8_t *)buf + off));
	buf[at] ^= (char)(1u << gen_below(&fx->rng, 8));
	spit(p, buf, len);
	print_message("flipped a bit of leaf %" PRIu32 " at byte %zu\n", k, at - off - 4);
	expect_fail(fx, bin, art, "leaf bit flipped");
	spit(p, orig, len);
	free(buf);
	free(orig);

	/* One hash in proofs.json, each kind separately. */
	for (int kind = 0; kind < 3; kind++) {
		copy = json_deep_copy(dm->dm_proofs);
		assert_non_null(copy);
		if (kind == 0) {
			uint64_t sz = 1 + gen_rnd(&fx->rng) % dm->dm_size;
			char name[24];

			snprintf(name, sizeof(name), "%" PRIu64, sz);
			j = json_object_get(json_object_get(copy, "roots"), name);
			assert_non_null(j);
			flip_hash(j, &fx->rng);
			print_message("flipped the root of size %" PRIu64 "\n", sz);
		} else {
			j = pick_proof(json_object_get(copy, kind == 1 ? "inclusion" : "consistency"),
			               &fx->rng);
			flip_hash(json_array_get(j, gen_below(&fx->rng, (unsigned)json_array_size(j))),
			          &fx->rng);
		}
		put_json(art, "proofs.json", copy);
		expect_fail(fx, bin, art, kind == 0 ? "root flipped" : kind == 1 ?
		            "inclusion proof hash flipped" : "consistency proof hash flipped");
		json_decref(copy);
	}
	put_json(art, "proofs.json", dm->dm_proofs);

	/* One bit of one envelope behind a receipt: the producer's leaf is not the logged one. */
	if (json_array_size(dm->dm_receipts) > 0) {
		uint8_t *env;
		size_t elen, blen;
		const char *s;
		char *enc;

		copy = json_deep_copy(dm->dm_receipts);
		j = json_object_get(json_array_get(copy, gen_below(&fx->rng,
		                    (unsigned)json_array_size(copy))), "envelope");
		s = json_string_value(j);
		env = malloc(strlen(s));
		assert_non_null(env);
		assert_int_equal(sodium_base642bin(env, strlen(s), s, strlen(s), NULL, &elen, NULL,
		                 sodium_base64_VARIANT_ORIGINAL), 0);
		env[gen_below(&fx->rng, (unsigned)elen)] ^= 0x20;
		blen = sodium_base64_ENCODED_LEN(elen, sodium_base64_VARIANT_ORIGINAL);
		enc = malloc(blen);
		assert_non_null(enc);
		b64(env, elen, enc, blen);
		assert_int_equal(json_string_set(j, enc), 0);
		put_json(art, "receipts.json", copy);
		expect_fail(fx, bin, art, "receipt envelope bit flipped");
		put_json(art, "receipts.json", dm->dm_receipts);
		json_decref(copy);
		free(env);
		free(enc);
	}

	/* One character of the checkpoint's signature. */
	path_in(art, "checkpoint.txt", p, sizeof(p));
	orig = slurp(p, &len);
	buf = malloc(len);
	assert_non_null(buf);
	memcpy(buf, orig, len);
	at = len - 10;
	buf[at] = buf[at] == 'A' ? 'B' : 'A';
	spit(p, buf, len);
	expect_fail(fx, bin, art, "checkpoint signature changed");
	spit(p, orig, len);
	free(buf);
	free(orig);

	/* Restored: accepted again (so every failure above was the change's doing). */
	expect_ok(fx, bin, art);
}

/* The reverse direction: a note Go signed must open with saksi, and only with its key. */
static void
check_go_note(const char *art, const struct dump *dm)
{
	saksi_note_verifier v;
	saksi_checkpoint ck;
	char p[160], *vkey, *note;
	size_t vlen, nlen;

	path_in(art, "go-vkey.txt", p, sizeof(p));
	vkey = slurp(p, &vlen);
	assert_true(vlen > 1 && vkey[vlen - 1] == '\n');
	vkey[vlen - 1] = '\0';
	assert_int_equal(saksi_note_vkey_parse(vkey, &v), SAKSI_OK);
	assert_string_equal(v.nv_name, "interop.example/go-signer");
	path_in(art, "go-note.txt", p, sizeof(p));
	note = slurp(p, &nlen);
	assert_int_equal(saksi_checkpoint_open(note, nlen, &v, &ck), SAKSI_OK);
	assert_string_equal(ck.ck_origin, "interop.example/go-signer");
	assert_int_equal(ck.ck_size, dm->dm_size);
	assert_memory_equal(ck.ck_root, dm->dm_root, SAKSI_HASH_LEN);
	print_message("saksi opened Go's note: %s, size %" PRIu64 "\n", ck.ck_origin, ck.ck_size);

	/* Not with our log key (no signature line of that name), nor once altered. */
	assert_int_equal(saksi_checkpoint_open(note, nlen, &dm->dm_log, &ck),
	                 SAKSI_ERR_SIGNATURE);
	note[nlen - 10] = note[nlen - 10] == 'A' ? 'B' : 'A';
	assert_int_equal(saksi_checkpoint_open(note, nlen, &v, &ck), SAKSI_ERR_SIGNATURE);
	free(vkey);
	free(note);
}

static void
check_all(struct fx *fx, const char *art, struct dump *dm)
{
	char bin[128];

	build_checker(fx, bin, sizeof(bin));
	check_with_go(fx, bin, art, dm);
	check_go_note(art, dm);
}

/* Flips one bit of the file at path (at offset off), or flips it back. */
static void
flip_file(const char *path, size_t off)
{
	size_t len;
	char *b = slurp(path, &len);

	assert_true(off < len);
	b[off] ^= 0x04;
	spit(path, b, len);
	free(b);
}

/* Runs the built checker with -tiles; returns its exit status, its output in *out. */
static int
run_tiles_checker(const struct fx *fx, const char *tiles, const char *vkf, char **out)
{
	char bin[128], log[128];
	char *argv[5];
	int st;

	path_in(fx->dir, "interop", bin, sizeof(bin));
	path_in(fx->dir, "checker-tiles.log", log, sizeof(log));
	argv[0] = bin;
	argv[1] = "-tiles";
	argv[2] = (char *)tiles;
	argv[3] = (char *)vkf;
	argv[4] = NULL;
	st = run(argv, NULL, log);
	*out = slurp(log, NULL);
	return st;
}

/*
 * The ledger in ldir published with `saksi export-tiles` (into an export that may hold
 * an earlier one: incremental) and read by Go's tlog.TileHashReader (interop -tiles,
 * after check_all built the checker); a bit changed in an entry bundle, in a level 0
 * tile and in a level 1 tile must each be refused.
 */
static void
check_tiles(struct fx *fx, const char *ldir, const char *vkey, const char *tiles)
{
	char vkf[128], log[128], p[256], rel[SAKSI_TILES_PATH_MAX], *out;
	char *argv[7];
	int st;

	path_in(fx->dir, "tiles-vkey.txt", vkf, sizeof(vkf));
	spit(vkf, vkey, strlen(vkey));
	path_in(fx->dir, "export-tiles.log", log, sizeof(log));
	argv[0] = SAKSI;
	argv[1] = "export-tiles";
	argv[2] = "--ledger";
	argv[3] = (char *)ldir;
	argv[4] = "--out";
	argv[5] = (char *)tiles;
	argv[6] = NULL;
	st = run(argv, NULL, log);
	out = slurp(log, NULL);
	print_message("%s", out);
	free(out);
	assert_int_equal(st, 0);
	st = run_tiles_checker(fx, tiles, vkf, &out);
	print_message("%s", out);
	if (st != 0 || strstr(out, "interop: ok tiles") == NULL)
		fail_msg("the Go checker exited %d on the tile export", st);
	free(out);
	for (int k = 0; k < 3; k++) {
		static const char *const what[] = { "a bit of entry bundle 0",
			"a bit of hash tile 0/000", "a bit of the level 1 hash tile" };
		int level = k == 0 ? SAKSI_TILE_ENTRIES : k == 1 ? 0 : 1;

		/* The trees here have 257 to 511 entries: tile 1/000 is partial, width 1. */
		assert_int_equal(saksi_tiles_path(rel, sizeof(rel), level, 0, k == 2 ? 1 : 0),
		    SAKSI_OK);
		snprintf(p, sizeof(p), "%s/%s", tiles, rel);
		flip_file(p, k == 2 ? 5 : 100);
		st = run_tiles_checker(fx, tiles, vkf, &out);
		print_message("%s: %s", what[k], out);
		if (st != 1 || strstr(out, "interop: FAIL") == NULL)
			fail_msg("%s: the Go checker exited %d, not 1", what[k], st);
		free(out);
		flip_file(p, k == 2 ? 5 : 100);
	}
	st = run_tiles_checker(fx, tiles, vkf, &out);
	assert_int_equal(st, 0);
	free(out);
}

/* ---- a ledger built with the library ---- */

#define LIB_PRODUCERS 3

/*
 * A ledger as saksid would write it, built with the library directly: several commits of
 * signed envelopes from three producers, a refusal summary, a checkpoint per commit, the
 * zstd dictionary trained part-way. Receipts are made here with saksi_tlog_proof_format.
 */
static void
test_library_ledger(void **state)
{
	static const unsigned commits[] = { 1, 2, 37, 64, 90, 3, 128, 77, 1, 31 };
	static const char origin[] = "interop.example/library-ledger";
	struct fx *fx = *state;
	saksi_seckey *log, *prod[LIB_PRODUCERS];
	saksi_ledger_opts lo = { .lo_dict_after = 150 };
	saksi_ledger *l;
	saksi_ledger_txn *txn;
	saksi_pubkey pub;
	saksi_checkpoint ck;
	struct rcpt rc[64];
	struct dump dm;
	size_t nr = 0, len, written;
	uint64_t seq[LIB_PRODUCERS] = { 0 }, t = now_ms(), idx, size;
	char vkey[SAKSI_VKEY_MAX + 1], ldir[128], art[128], body[512], note[SAKSI_NOTE_MAX];
	char tiles[128];
	uint8_t *env;
	saksi_hash eh;

	need_go(fx);
	log = seeded_key(fx, SAKSI_KEY_SIGN);
	for (int p = 0; p < LIB_PRODUCERS; p++)
		prod[p] = seeded_key(fx, SAKSI_KEY_SIGN);
	assert_int_equal(saksi_seckey_public(log, &pub), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format(origin, pub.pk_key, vkey, sizeof(vkey)),
	                 SAKSI_OK);
	path_in(fx->dir, "ledger", ldir, sizeof(ldir));
	assert_int_equal(mkdir(ldir, 0700), 0);
	assert_int_equal(saksi_ledger_open(ldir, origin, vkey, &lo, &l), SAKSI_OK);

	for (size_t c = 0; c < sizeof(commits) / sizeof(commits[0]); c++) {
		t += 1000 + gen_below(&fx->rng, 60000);
		assert_int_equal(saksi_ledger_begin(l, 1, &txn), SAKSI_OK);
		for (unsigned e = 0; e < commits[c]; e++) {
			int p = (int)gen_below(&fx->rng, LIB_PRODUCERS);

			make_event(fx, prod[p], p == 2 ? GEN_CLAIM : GEN_QUEUE, ++seq[p],
			           t - gen_below(&fx->rng, 900), &env, &len, NULL, NULL);
			assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_EVENT, t, env, len,
			                 &idx, NULL), SAKSI_OK);
			crypto_hash_sha256(eh, env, len);
			assert_int_equal(saksi_ledger_seq_put(txn, saksi_seckey_id(prod[p]),
			                 seq[p], idx, eh), SAKSI_OK);
			free(env);
		}
		if (c == 4) {
			/* Refusal summary: two keys, signature and replay refusals. */
			uint8_t *b = (uint8_t *)body;

			saksi_put_u16(b, 2);
			memcpy(b + 2, saksi_seckey_id(prod[0]), 8);
			b[10] = SAKSI_R_SIGNATURE;
			saksi_put_u32(b + 11, 3);
			saksi_put_u64(b + 15, t - 700);
			saksi_put_u64(b + 23, t - 20);
			memset(b + 31, 0, 8);
			b[39] = SAKSI_R_PARSE;
			saksi_put_u32(b + 40, 1);
			saksi_put_u64(b + 44, t - 5);
			saksi_put_u64(b + 52, t - 5);
			assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_REFUSALS, t, b, 60,
			                 NULL, NULL), SAKSI_OK);
		}
		size = saksi_ledger_size(txn);
		memset(&ck, 0, sizeof(ck));
		strcpy(ck.ck_origin, origin);
		ck.ck_size = size;
		assert_int_equal(saksi_ledger_root(txn, size, ck.ck_root), SAKSI_OK);
		assert_int_equal(saksi_checkpoint_format(&ck, body, sizeof(body), &len), SAKSI_OK);
		assert_int_equal(saksi_note_sign(body, len, origin, saksi_seckey_ed25519(log), note,
		                 sizeof(note), &written), SAKSI_OK);
		assert_int_equal(saksi_ledger_ckpt_put(txn, size, note, written), SAKSI_OK);
		assert_int_equal(saksi_ledger_commit(txn), SAKSI_OK);
		if (c == 5) {
			/* Published part-way: check_tiles's export is then incremental. */
			path_in(fx->dir, "tiles", tiles, sizeof(tiles));
			assert_int_equal(saksi_tiles_export(l, tiles, NULL), SAKSI_OK);
		}
	}

	/* Receipts for some leaves, each against the checkpoint of the commit that added it. */
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	size = saksi_ledger_size(txn);
	for (idx = 0; idx < size && nr < sizeof(rc) / sizeof(rc[0]);
	     idx += 1 + gen_below(&fx->rng, 13)) {
		saksi_tlog_proof *tp = calloc(1, sizeof(*tp));
		uint8_t *leaf;
		saksi_leaf lf;
		char *n;
		size_t nl;
		uint64_t cs;

		assert_non_null(tp);
		assert_int_equal(saksi_ledger_leaf(txn, idx, &leaf, &len), SAKSI_OK);
		assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
		if (lf.lf_kind != SAKSI_LEAF_EVENT) {
			free(leaf);
			free(tp);
			continue;
		}
		assert_int_equal(saksi_ledger_ckpt_next(txn, idx, &cs, &n, &nl), SAKSI_OK);
		assert_true(cs > idx);
		memcpy(tp->tp_extra, leaf, SAKSI_LEAF_HDR);
		tp->tp_extra_len = SAKSI_LEAF_HDR;
		tp->tp_has_extra = 1;
		tp->tp_index = idx;
		assert_int_equal(saksi_ledger_prove_inclusion(txn, idx, cs, tp->tp_proof,
		                 &tp->tp_proof_len), SAKSI_OK);
		assert_true(nl <= SAKSI_NOTE_MAX);
		memcpy(tp->tp_note, n, nl);
		tp->tp_note_len = nl;
		rc[nr].text = malloc(SAKSI_NOTE_MAX + 4096);
		assert_non_null(rc[nr].text);
		assert_int_equal(saksi_tlog_proof_format(tp, rc[nr].text, SAKSI_NOTE_MAX + 4096,
		                 &written), SAKSI_OK);
		rc[nr].env = malloc(lf.lf_body_len);
		assert_non_null(rc[nr].env);
		memcpy(rc[nr].env, lf.lf_body, lf.lf_body_len);
		rc[nr].env_len = lf.lf_body_len;
		rc[nr].index = idx;
		nr++;
		free(n);
		free(leaf);
		free(tp);
	}
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);

	path_in(fx->dir, "art", art, sizeof(art));
	dump_ledger(fx, ldir, art, rc, nr, &dm);
	assert_int_equal(dm.dm_ckpts, sizeof(commits) / sizeof(commits[0]));
	assert_int_equal(dm.dm_refusal_leaves, 1);
	check_all(fx, art, &dm);
	assert_true(dm.dm_size > 256 && dm.dm_size < 512);
	check_tiles(fx, ldir, vkey, tiles);

	dump_free(&dm);
	for (size_t i = 0; i < nr; i++) {
		free(rc[i].text);
		free(rc[i].env);
	}
	saksi_seckey_free(log);
	for (int p = 0; p < LIB_PRODUCERS; p++)
		saksi_seckey_free(prod[p]);
}

/* ---- a ledger written by the real saksid ---- */

#define D_PRODUCERS 3
#define D_RECEIPTS_MAX 512

static void
save_key(const struct fx *fx, const saksi_seckey *k, const char *name)
{
	char p[128];

	path_in(fx->dir, name, p, sizeof(p));
	assert_int_equal(saksi_seckey_save(k, p, NULL, "interop test key"), SAKSI_OK);
}

/* Waits until saksid listens (its ipc socket exists), or fails if it has exited. */
static void
wait_listening(struct fx *fx, const char *sock, const char *log)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct stat st;
	char *out;
	int status;

	for (int i = 0; i < 500; i++) {
		if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
			return;
		if (waitpid(fx->daemon, &status, WNOHANG) == fx->daemon) {
			fx->daemon = 0;
			out = slurp(log, NULL);
			print_error("saksid exited (status %d):\n%s\n", status, out);
			free(out);
			fail_msg("saksid did not start");
		}
		nanosleep(&ts, NULL);
	}
	fail_msg("saksid does not listen on %s after 10 s", sock);
}

/*
 * Builds n events (sealing their disclosures) and sends them with saksi_client_submit_raw,
 * keeping the exact envelopes for receipts.json. dup: send the first item again after,
 * which must come back a duplicate with the same receipt. forge_last: the last envelope
 * gets one signature bit flipped and must be refused (signature), with no receipt.
 */
static void
submit_built(struct fx *fx, saksi_client *cl, const saksi_seckey *k, const uint8_t box_pk[32],
             int role, uint64_t *seq, uint64_t t, unsigned n, int dup, int forge_last,
             struct rcpt *rc, size_t *nr, saksi_result *res)
{
	uint8_t *env[SAKSI_WIRE_BATCH_MAX] = { 0 }, *sealed[SAKSI_WIRE_BATCH_MAX] = { 0 };
	size_t elen[SAKSI_WIRE_BATCH_MAX] = { 0 }, slen[SAKSI_WIRE_BATCH_MAX] = { 0 }, dlen;
	size_t first = *nr;
	char *disc;

	assert_true(n >= 1 && n <= SAKSI_WIRE_BATCH_MAX);
	for (unsigned i = 0; i < n; i++) {
		make_event(fx, k, role, ++*seq, t, &env[i], &elen[i], &disc, &dlen);
		sealed[i] = NULL;
		slen[i] = 0;
		if (strcmp(disc, "[]") != 0) {
			sealed[i] = malloc(SAKSI_SEALED_MAX);
			assert_non_null(sealed[i]);
			assert_int_equal(saksi_disclosures_seal(k, box_pk, env[i], elen[i],
			                 (uint8_t *)disc, dlen, sealed[i], SAKSI_SEALED_MAX,
			                 &slen[i]), SAKSI_OK);
		}
		sodium_memzero(disc, dlen);
		free(disc);
	}
	if (forge_last)
		env[n - 1][elen[n - 1] - 1] ^= 1;
	memset(res, 0, n * sizeof(*res));
	assert_int_equal(saksi_client_submit_raw(cl, (const uint8_t *const *)env, elen,
	                 (const uint8_t *const *)sealed, slen, n, res), SAKSI_OK);
	for (unsigned i = 0; i < n; i++) {
		if (forge_last && i == n - 1) {
			assert_int_equal(res[i].sr_code, SAKSI_R_SIGNATURE);
			assert_null(res[i].sr_receipt);
			free(env[i]);
		} else {
			if (res[i].sr_code != SAKSI_R_ACCEPTED)
				fail_msg("item %u: %s: %s", i, saksi_reason_name(res[i].sr_code),
				         res[i].sr_message);
			assert_non_null(res[i].sr_receipt);
			assert_true(*nr < D_RECEIPTS_MAX);
			rc[*nr].text = res[i].sr_receipt;
			res[i].sr_receipt = NULL;
			rc[*nr].env = env[i];
			rc[*nr].env_len = elen[i];
			rc[*nr].index = res[i].sr_index;
			(*nr)++;
		}
		saksi_result_clear(&res[i]);
	}
	if (dup) {
		assert_int_equal(saksi_client_submit_raw(cl, (const uint8_t *const *)env, elen,
		                 (const uint8_t *const *)sealed, slen, 1, res), SAKSI_OK);
		assert_int_equal(res[0].sr_code, SAKSI_R_DUPLICATE);
		assert_int_equal(res[0].sr_index, rc[first].index);
		assert_non_null(res[0].sr_receipt);
		assert_string_equal(res[0].sr_receipt, rc[first].text);
		saksi_result_clear(&res[0]);
	}
	for (unsigned i = 0; i < n; i++)
		free(sealed[i]);
}

/*
 * saksid on an ipc socket in the temp dir; three producers submit batches through the
 * client library, half built here (to hold the exact envelopes) and sent with
 * saksi_client_submit_raw, half with saksi_client_submit; one duplicate, one forged
 * envelope. Then SIGTERM, and saksid's own ledger goes to the Go checker.
 */
static void
test_daemon_ledger(void **state)
{
	static const unsigned batches[] = { 1, 5, 40, 17, 64, 2, 33, 9, 50, 1, 26, 12, 48, 3 };
	static const char origin[] = "interop.example/saksid";
	static const char *const roles[D_PRODUCERS] = { "queue", "queue", "claim" };
	static const char *const names[D_PRODUCERS] = { "kiosk-makassar-1", "web-queue",
		"claim-system" };
	struct fx *fx = *state;
	saksi_seckey *log, *box, *store, *prod[D_PRODUCERS];
	saksi_client *cl[D_PRODUCERS];
	saksi_client_opts co;
	saksi_note_verifier lv;
	saksi_pubkey pub, boxpub;
	struct rcpt *rc;
	struct dump dm;
	saksi_result *res;
	uint64_t seq[D_PRODUCERS] = { 0 };
	size_t nr = 0, len, dup_batch = 0;
	char vkey[SAKSI_VKEY_MAX + 1], p[160], sock[128], url[160], slog[128], art[128];
	char ldir[128], pk64[SAKSI_PUBKEY_B64_LEN + 1], id[17], *out, *argv[5];
	FILE *f;
	int st;

	need_go(fx);
	if (access(SAKSI_SOURCE_DIR "/daemon/main.c", R_OK) != 0) {
		print_message("daemon/main.c is not in this tree yet: skipping\n");
		skip();
	}
	if (access(SAKSID, X_OK) != 0)
		fail_msg("%s is not built", SAKSID);
	rc = calloc(D_RECEIPTS_MAX, sizeof(*rc));
	res = calloc(SAKSI_WIRE_BATCH_MAX, sizeof(*res));
	assert_non_null(rc);
	assert_non_null(res);

	/* Keys, keyring and configuration, as an operator would lay them out. */
	log = seeded_key(fx, SAKSI_KEY_SIGN);
	box = seeded_key(fx, SAKSI_KEY_BOX);
	store = seeded_key(fx, SAKSI_KEY_SYM);
	save_key(fx, log, "log.key");
	save_key(fx, box, "box.key");
	save_key(fx, store, "store.key");
	assert_int_equal(saksi_seckey_public(log, &pub), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format(origin, pub.pk_key, vkey, sizeof(vkey)),
	                 SAKSI_OK);
	assert_int_equal(saksi_note_vkey_parse(vkey, &lv), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(box, &boxpub), SAKSI_OK);

	path_in(fx->dir, "keyring.json", p, sizeof(p));
	f = fopen(p, "w");
	assert_non_null(f);
	fprintf(f, "{\"saksi_keyring\":1,\"roles\":{\"queue\":[\"queue.*\"],"
	        "\"claim\":[\"claim.*\"],\"staff\":[\"staff.*\"]},\"keys\":[");
	for (int i = 0; i < D_PRODUCERS; i++) {
		prod[i] = seeded_key(fx, SAKSI_KEY_SIGN);
		assert_int_equal(saksi_seckey_public(prod[i], &pub), SAKSI_OK);
		assert_int_equal(saksi_pubkey_encode(&pub, pk64, sizeof(pk64)), SAKSI_OK);
		sodium_bin2hex(id, sizeof(id), pub.pk_id, SAKSI_KEYID_LEN);
		fprintf(f, "%s{\"name\":\"%s\",\"key_id\":\"%s\",\"public_key\":\"%s\","
		        "\"role\":\"%s\",\"branch\":\"%s\",\"revoked_ms\":null}", i ? "," : "",
		        names[i], id, pk64, roles[i], BRANCH);
	}
	fprintf(f, "]}\n");
	assert_int_equal(fclose(f), 0);

	path_in(fx->dir, "ingest.sock", sock, sizeof(sock));
	snprintf(url, sizeof(url), "ipc://%s", sock);
	path_in(fx->dir, "saksid.conf", p, sizeof(p));
	f = fopen(p, "w");
	assert_non_null(f);
	fprintf(f, "# written by tests/interop_test.c\norigin = %s\nstate_dir = state\n"
	        "listen = %s\nkeyring = keyring.json\nlog_key = log.key\nbox_key = box.key\n"
	        "store_key = store.key\nschemas_dir = %s\ngroup_wait_us = 2000\n"
	        "workers = 2\ndict_after = 100\nallow_root = yes\n", origin, url, SCHEMAS);
	assert_int_equal(fclose(f), 0);

	path_in(fx->dir, "saksid.log", slog, sizeof(slog));
	argv[0] = SAKSID;
	argv[1] = "-d";
	argv[2] = "-c";
	argv[3] = p;
	argv[4] = NULL;
	unlink(slog);
	fx->daemon = spawn(argv, NULL, slog);
	wait_listening(fx, sock, slog);

	for (int i = 0; i < D_PRODUCERS; i++) {
		memset(&co, 0, sizeof(co));
		co.co_url = url;
		co.co_key = prod[i];
		co.co_box_pk = boxpub.pk_key;
		co.co_log = &lv;
		co.co_schemas = fx->sc;
		co.co_timeout_ms = 10000;
		assert_int_equal(saksi_client_open(&co, &cl[i]), SAKSI_OK);
	}

	for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
		int pi = (int)(b % D_PRODUCERS), role = pi == 2 ? GEN_CLAIM : GEN_QUEUE;
		unsigned n = batches[b];
		uint64_t t = now_ms();

		memset(res, 0, n * sizeof(*res));
		if (b % 2 == 0) {
			/* The first single-event batch is sent twice: a duplicate the second time. */
			int dup = n == 1 && dup_batch == 0;

			submit_built(fx, cl[pi], prod[pi], boxpub.pk_key, role, &seq[pi], t, n, dup, 0,
			             rc, &nr, res);
			if (dup)
				dup_batch = b + 1;
		} else {
			saksi_event ev[SAKSI_WIRE_BATCH_MAX];
			char *clear = malloc((size_t)n * 2048);

			assert_non_null(clear);
			for (unsigned k = 0; k < n; k++) {
				ev[k].se_type = gen_event(&fx->rng, role, BRANCH, seq[pi] + 1,
				                          clear + k * 2048, 2048);
				ev[k].se_payload = clear + k * 2048;
				ev[k].se_seq = ++seq[pi];
				ev[k].se_time_ms = t;
			}
			assert_int_equal(saksi_client_submit(cl[pi], ev, n, res), SAKSI_OK);
			for (unsigned k = 0; k < n; k++) {
				if (res[k].sr_code != SAKSI_R_ACCEPTED)
					fail_msg("batch %zu event %u (%s): %s: %s", b, k, ev[k].se_type,
					         saksi_reason_name(res[k].sr_code), res[k].sr_message);
				assert_non_null(res[k].sr_receipt);
				assert_true(nr < D_RECEIPTS_MAX);
				rc[nr].text = res[k].sr_receipt;
				res[k].sr_receipt = NULL;
				rc[nr].env = NULL;
				rc[nr].index = res[k].sr_index;
				nr++;
				saksi_result_clear(&res[k]);
			}
			sodium_memzero(clear, (size_t)n * 2048);
			free(clear);
		}
	}
	assert_true(dup_batch > 0);

	/* A valid event and a forged one (one signature bit): the forged one is refused and
	 * summarised in a refusal leaf at the end of the group. */
	submit_built(fx, cl[0], prod[0], boxpub.pk_key, GEN_QUEUE, &seq[0], now_ms(), 2, 0, 1,
	             rc, &nr, res);
	for (int i = 0; i < D_PRODUCERS; i++)
		saksi_client_close(cl[i]);

	assert_int_equal(kill(fx->daemon, SIGTERM), 0);
	st = wait_status(fx->daemon);
	fx->daemon = 0;
	out = slurp(slog, NULL);
	/* Not print_message: cmocka cuts its messages at 4 KiB. */
	printf("saksid log:\n%s", out);
	fflush(stdout);
	free(out);
	assert_int_equal(st, 0);

	path_in(fx->dir, "state/ledger", ldir, sizeof(ldir));
	path_in(fx->dir, "art", art, sizeof(art));
	dump_ledger(fx, ldir, art, rc, nr, &dm);
	assert_string_equal(dm.dm_log.nv_name, origin);
	assert_memory_equal(dm.dm_log.nv_pk, lv.nv_pk, 32);
	len = 0;
	for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++)
		len += batches[b];
	assert_int_equal(nr, len + 1);
	/* The keyring entry saksid writes at start (FORMATS.md 4, kind 4), every event, and
	 * a refusal summary after the forged one (it ends a group). */
	assert_int_equal(dm.dm_size, 1 + len + 1 + dm.dm_refusal_leaves);
	assert_true(dm.dm_refusal_leaves >= 1);
	check_all(fx, art, &dm);
	assert_true(dm.dm_size > 256 && dm.dm_size < 512);
	path_in(fx->dir, "tiles", p, sizeof(p));
	check_tiles(fx, ldir, vkey, p);

	dump_free(&dm);
	for (size_t i = 0; i < nr; i++) {
		free(rc[i].text);
		free(rc[i].env);
	}
	free(rc);
	free(res);
	saksi_seckey_free(log);
	saksi_seckey_free(box);
	saksi_seckey_free(store);
	for (int i = 0; i < D_PRODUCERS; i++)
		saksi_seckey_free(prod[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_library_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_ledger, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
