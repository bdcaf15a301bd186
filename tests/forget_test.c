/*
 * forget_test.c: crypto-shredding through the real programs. Three participants book
 * and claim through a real saksid; a supervisor forgets one with `saksi forget`. Then his
 * disclosures no longer open while the other two's do, `saksi verify` passes, a backup
 * taken before the forget is no use for him, and the bytes of every NIK, KPJ, phone and
 * bank account the test wrote appear in no ledger file, key file, backup, log line or
 * CLI output (issue #5's grep test).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "bytes.h"
#include "commit.h"
#include "datakey.h"
#include "envelope.h"
#include "keys.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"
#include "testutil.h"

#define ORIGIN "forget-test.saksi.example/log"
#define BRANCH "KC-TEST"

static const char *const NIK[3] = { "7371054507880003", "7371010101900011",
	                            "3171014101900022" };
static const char *const KPJ[3] = { "18045213577", "18045299901", "18045277702" };
static const char *const PHONE[3] = { "+6281242317765", "+6281399887766", "+6285711223344" };
static const char *const ACCOUNT[3] = { "023401012345509", "880012349876", "5550001112223" };

static int
setup(void **state)
{
	return scratch_setup(state, "forget");
}

/* What each test starts from: saksi init (the verifier key into vkey, of
 * SAKSI_VKEY_MAX + 1 bytes), and a kiosk's (q.key), a claim officer's (c.key) and a
 * supervisor's key (spv.key) of BRANCH in the keyring (the default roles of a new
 * keyring include supervisor); saksid's URL and socket (256 bytes each), path slot 4
 * its config. saksid is not started. */
static void
branch_init(struct scratch *f, char *vkey, char *url, char *sock)
{
	need_built(SAKSI, SAKSID);
	state_init(SAKSI, f, ORIGIN, vkey, SAKSI_VKEY_MAX + 1);
	key_enrol(SAKSI, f, P(f, 2, "st/keyring.json"), P(f, 1, "q.key"), P(f, 3, "q.pub"),
	    "kiosk", "queue", BRANCH);
	key_enrol(SAKSI, f, f->path[2], P(f, 1, "c.key"), P(f, 3, "c.pub"), "claims", "claim",
	    BRANCH);
	key_enrol(SAKSI, f, f->path[2], P(f, 1, "spv.key"), P(f, 3, "spv.pub"), "spv",
	    "supervisor", BRANCH);
	state_listen(f, url, 256, sock, 256);
}

/* saksid on branch_init's config: -d, its log to stderr (the file the grep reads), -v,
 * every line it has. */
static void
start(struct scratch *f, const char *sock, int oflags)
{
	saksid_start(SAKSID, f, "-dv", P(f, 4, "st/saksid.conf"), sock,
	    P(f, 5, "saksid.log"), oflags);
}

/* The clear example of type with this participant's values, written to path. */
static void
payload(const char *type, int who, const char *path)
{
	char ex[512], *s;
	json_t *o;

	snprintf(ex, sizeof(ex), "%s/schemas/examples/clear/%s.json", SAKSI_SOURCE_DIR, type);
	o = json_load_file(ex, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(o);
	json_object_set_new(o, "branch", json_string(BRANCH));
	json_object_set_new(o, "nik", json_string(NIK[who]));
	json_object_set_new(o, "kpj", json_string(KPJ[who]));
	json_object_set_new(o, "phone", json_string(PHONE[who]));
	if (json_object_get(o, "bank_account") != NULL) {
		json_object_set_new(o, "bank_account", json_string(ACCOUNT[who]));
		json_object_set_new(o, "npwp", json_string("012345678901234"));
	}
	s = json_dumps(o, JSON_COMPACT);
	spit(path, s, strlen(s));
	free(s);
	json_decref(o);
}

/* 1 if any value of any participant is in buf. */
static int
leaks(const char *buf, size_t len, char *which, size_t wl)
{
	for (int i = 0; i < 3; i++) {
		const char *v[5] = { NIK[i], KPJ[i], PHONE[i], PHONE[i] + 1, ACCOUNT[i] };
		for (int k = 0; k < 5; k++)
			if (memmem(buf, len, v[k], strlen(v[k])) != NULL) {
				snprintf(which, wl, "participant %d value %d", i, k);
				return 1;
			}
	}
	return 0;
}

static void
assert_no_leak_file(const char *path)
{
	char which[64];
	size_t n;
	char *b = slurp(path, &n);

	if (leaks(b, n, which, sizeof(which)))
		fail_msg("%s holds %s in clear", path, which);
	free(b);
}

/* Every regular file below dir. */
static void
assert_no_leak_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[600];
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		assert_int_equal(lstat(p, &st), 0);
		if (S_ISDIR(st.st_mode))
			assert_no_leak_tree(p);
		else if (S_ISREG(st.st_mode)) {
			assert_no_leak_file(p);
			n++;
		}
	}
	closedir(d);
}

static void
assert_no_leak_run(const struct run *r)
{
	char which[64];

	if (leaks(r->out, r->out_len, which, sizeof(which)) ||
	    leaks(r->err, strlen(r->err), which, sizeof(which)))
		fail_msg("saksi's output holds %s:\n%s\n%s", which, r->out, r->err);
}

/* `saksi submit` of the payload in ev.json (path slot 3) as type with seq, signed with
 * the key file named key (path slot 1): accepted, and saksi says nothing personal. */
static void
submit(struct scratch *f, const char *url, const char *vkey, const char *key,
       const char *type, const char *seq)
{
	struct run r;

	RUN(f, &r, 0, "submit", "--url", url, "-k", P(f, 1, key), "--box-pub",
	    P(f, 6, "st/box.pub"), "--vkey", vkey, "--type", type, "--seq", seq, "--payload",
	    P(f, 3, "ev.json"));
	assert_no_leak_run(&r);
	run_free(&r);
}

/* The supervisor forgets participant 0, his NIK on stdin (seq 1, subject_request):
 * saksi says his data key is destroyed. */
static void
forget0(struct scratch *f, const char *url, const char *vkey)
{
	struct run r;

	spit(P(f, 7, "nik0"), NIK[0], strlen(NIK[0]));
	RUN_IN(f, &r, 0, P(f, 7, "nik0"), "forget", "--nik", "-", "--url", url, "-k",
	    P(f, 1, "spv.key"), "--box-pub", P(f, 6, "st/box.pub"), "--vkey", vkey, "--seq",
	    "1", "--branch", BRANCH, "--officer", "SPV-01", "--reason", "subject_request");
	assert_non_null(strstr(r.err, "; the participant's data key is destroyed"));
	run_free(&r);
	unlink(P(f, 7, "nik0"));
}

/* `saksi verify` of the ledger (or a copy of it) in ldir, with the keyring: intact. */
static void
verify_intact(struct scratch *f, const char *ldir, const char *vkey)
{
	struct run r;

	RUN(f, &r, 0, "verify", "--ledger", ldir, "--vkey", vkey, "--keyring",
	    P(f, 2, "st/keyring.json"));
	assert_non_null(strstr(r.out, "ledger intact"));
	run_free(&r);
}

/* The ledger in ldir (saksid stopped) with its key store (ldir/datakeys, the state's
 * master and store key), in a transaction (a write one if write). */
struct dko {
	saksi_seckey *store;
	saksi_ledger *l;
	saksi_datakeys *dk;
	saksi_ledger_txn *t;
};

static void
dko_open(struct scratch *f, const char *ldir, int write, struct dko *o)
{
	char slots[300];

	snprintf(slots, sizeof(slots), "%s/datakeys", ldir);
	assert_int_equal(saksi_seckey_load(P(f, 12, "st/store.key"), NULL, &o->store),
	                 SAKSI_OK);
	assert_int_equal(saksi_ledger_open(ldir, NULL, NULL, NULL, &o->l), SAKSI_OK);
	assert_int_equal(saksi_dk_open(slots, P(f, 11, "st/datakeys.master"), o->store, 0, 0,
	                 &o->dk), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(o->l, write, &o->t), SAKSI_OK);
}

/* Entry idx's disclosures, which must open: their JSON (malloc'd: the caller wipes and
 * frees it, its length in *jl), the entry's leaf hash into h. */
static char *
dko_reveal(struct dko *o, uint64_t idx, saksi_hash h, size_t *jl)
{
	uint8_t *blob, *leaf;
	size_t bl, ll;
	char *json;

	assert_int_equal(saksi_ledger_disc_get(o->t, idx, &blob, &bl), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(o->t, idx, &leaf, &ll), SAKSI_OK);
	saksi_merkle_leaf_hash(h, leaf, ll);
	assert_int_equal(saksi_disc_open_any(o->store, o->dk, idx, h, blob, bl, &json, jl),
	                 SAKSI_OK);
	free(blob);
	free(leaf);
	return json;
}

/* The end of dko_open: the transaction committed (commit) or aborted, all closed. */
static void
dko_close(struct dko *o, int commit)
{
	if (commit)
		assert_int_equal(saksi_ledger_commit(o->t), SAKSI_OK);
	else
		saksi_ledger_abort(o->t);
	saksi_dk_close(o->dk);
	saksi_ledger_close(o->l);
	saksi_seckey_free(o->store);
}

/* The key kind and key id of entry idx's blob, and its last 24 bytes (ciphertext and
 * tag, for the grep) into tail (NULL: not wanted). */
static void
blob_key(struct scratch *f, uint64_t idx, int *kind, uint64_t *id, uint8_t *tail)
{
	saksi_ledger *l;
	saksi_ledger_txn *t;
	uint8_t *blob;
	size_t bl;

	assert_int_equal(saksi_ledger_open(P(f, 8, "st/ledger"), NULL, NULL, NULL, &l),
	                 SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_disc_get(t, idx, &blob, &bl), SAKSI_OK);
	assert_int_equal(saksi_disc2_key(blob, bl, kind, id), SAKSI_OK);
	if (tail != NULL)
		memcpy(tail, blob + bl - 24, 24);
	free(blob);
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
}

/*
 * Opens the disclosures of every event entry of the ledger in ldir with the store key
 * and its key store (dko_open); per entry: 1 opened, 0 forgotten, -1 no
 * disclosures. Checks that an opened one holds exactly participant owner[i]'s NIK.
 */
static void
reveal_all(struct scratch *f, const char *ldir, int *state, uint64_t *n)
{
	struct dko o;
	saksi_ledger_txn *t;

	dko_open(f, ldir, 0, &o);
	t = o.t;
	*n = saksi_ledger_size(t);
	assert_true(*n <= 16);
	for (uint64_t i = 0; i < *n; i++) {
		uint8_t *blob, *leaf;
		size_t bl, ll, jl;
		saksi_hash h;
		char *json;
		saksi_err e;

		if (saksi_ledger_disc_get(t, i, &blob, &bl) == SAKSI_ERR_NOT_FOUND) {
			state[i] = -1;
			continue;
		}
		assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &ll), SAKSI_OK);
		saksi_merkle_leaf_hash(h, leaf, ll);
		e = saksi_disc_open_any(o.store, o.dk, i, h, blob, bl, &json, &jl);
		assert_true(e == SAKSI_OK || e == SAKSI_ERR_NOT_FOUND);
		state[i] = e == SAKSI_OK;
		if (e == SAKSI_OK) {
			json_t *a = json_loads(json, 0, NULL), *d;
			size_t k;
			int found = 0;
			assert_true(json_is_array(a));
			json_array_foreach(a, k, d) {
				char *name, *value;
				assert_int_equal(saksi_disclosure_decode(json_string_value(d),
				    json_string_length(d), &name, &value), SAKSI_OK);
				if (strcmp(name, "nik") == 0) {
					/* Report whose it is through state: 10 + participant. */
					for (int w = 0; w < 3; w++)
						if (strcmp(value, NIK[w]) == 0)
							state[i] = 10 + w;
					found = 1;
				}
				free(name);
				free(value);
			}
			assert_true(found);
			json_decref(a);
			free(json);
		}
		free(blob);
		free(leaf);
	}
	dko_close(&o, 0);
}

static void
test_forget_end_to_end(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char vkey[SAKSI_VKEY_MAX + 1], url[256], sock[256], seq[8];
	int st[16];
	uint64_t n;

	branch_init(f, vkey, url, sock);
	start(f, sock, O_TRUNC);

	/* Entries 0..5: booking then claim, for each of the three. */
	for (int i = 0; i < 3; i++) {
		payload("queue.booking.created", i, P(f, 3, "ev.json"));
		snprintf(seq, sizeof(seq), "%d", i + 1);
		submit(f, url, vkey, "q.key", "queue.booking.created", seq);
		payload("claim.submitted", i, P(f, 3, "ev.json"));
		submit(f, url, vkey, "c.key", "claim.submitted", seq);
	}
	/* A backup before the forget. */
	RUN(f, &r, 0, "backup", "--ledger", P(f, 8, "st/ledger"), "-o", P(f, 9, "before"));
	assert_non_null(strstr(r.out, "data keys: copied"));
	run_free(&r);

	/* Refused: a queue key may not forget; a NIK that is not one. Nothing leaks. */
	spit(P(f, 7, "nik0"), NIK[0], strlen(NIK[0]));
	RUN_IN(f, &r, 1, P(f, 7, "nik0"), "forget", "--nik", NIK[0], "--url", url, "-k",
	    P(f, 1, "q.key"), "--box-pub", P(f, 6, "st/box.pub"), "--vkey", vkey, "--seq", "9",
	    "--branch", BRANCH, "--officer", "SPV-01");
	assert_non_null(strstr(r.err, "refused (role)"));
	assert_no_leak_run(&r);
	run_free(&r);
	RUN(f, &r, 1, "forget", "--nik", "737105450788", "--url", url, "-k",
	    P(f, 1, "spv.key"), "--box-pub", P(f, 6, "st/box.pub"), "--vkey", vkey, "--seq",
	    "1", "--branch", BRANCH, "--officer", "SPV-01");
	assert_non_null(strstr(r.err, "does not match the schema"));
	assert_null(strstr(r.err, "737105450788"));
	run_free(&r);

	/* The supervisor forgets participant 0, the NIK on stdin (not in the process list). */
	RUN_IN(f, &r, 0, P(f, 7, "nik0"), "forget", "--nik", "-", "--url", url, "-k",
	    P(f, 1, "spv.key"), "--box-pub", P(f, 6, "st/box.pub"), "--vkey", vkey, "--seq",
	    "1", "--branch", BRANCH, "--officer", "SPV-01", "--reason", "subject_request",
	    "--case", "PDP-2026-0042");
	assert_memory_equal(r.out, "c2sp.org/tlog-proof@v1\n", 23);
	assert_non_null(strstr(r.err, "as entry 8; the participant's data key is destroyed"));
	assert_no_leak_run(&r);
	run_free(&r);
	unlink(P(f, 7, "nik0"));
	/* He comes back later: a new key of his own, entry 9 (7 is the summary of the
	 * role refusal, 0 the keyring entry saksid wrote at start). */
	payload("queue.booking.created", 0, P(f, 3, "ev.json"));
	submit(f, url, vkey, "q.key", "queue.booking.created", "4");
	unlink(P(f, 3, "ev.json"));
	RUN(f, &r, 0, "backup", "--ledger", P(f, 8, "st/ledger"), "-o", P(f, 9, "after"));
	run_free(&r);
	saksid_stop(f);

	/* His entries 1, 2 and the request 8 no longer open; 3..6 and 9 do, each with its
	 * own participant's NIK. */
	reveal_all(f, P(f, 8, "st/ledger"), st, &n);
	assert_int_equal(n, 10);
	{
		static const int want[10] = { -1, 0, 0, 11, 11, 12, 12, -1, 0, 10 };
		for (int i = 0; i < 10; i++)
			if (st[i] != want[i])
				fail_msg("entry %d: %d, want %d", i, st[i], want[i]);
	}
	/* The backup taken before the forget, with the appliance's master now: nothing of
	 * his opens (nor of the others': the master rotated; take a new backup after each
	 * forget, FORMATS.md 7.2). */
	reveal_all(f, P(f, 9, "before"), st, &n);
	assert_int_equal(n, 7);
	assert_int_equal(st[0], -1);
	for (int i = 1; i < 7; i++)
		assert_int_equal(st[i], 0);
	/* The backup after: like the ledger. */
	reveal_all(f, P(f, 9, "after"), st, &n);
	assert_int_equal(n, 10);
	assert_int_equal(st[1], 0);
	assert_int_equal(st[3], 11);
	assert_int_equal(st[8], 0);
	assert_int_equal(st[9], 10);

	verify_intact(f, P(f, 8, "st/ledger"), vkey);
	verify_intact(f, P(f, 9, "after"), vkey);

	/* Retention configured: the retention key must be in the keyring; with it, saksid
	 * starts, and nobody is silent for a day yet. */
	RUN(f, &r, 0, "keygen", "--kind", "sign", "-o", P(f, 1, "ret.key"), "--no-passphrase");
	run_free(&r);
	{
		size_t cl;
		char *c0 = slurp(P(f, 4, "st/saksid.conf"), &cl), *c1 = malloc(cl + 600);
		char *argv[] = { (char *)SAKSID, (char *)"-d", (char *)"-v", (char *)"-c",
		    f->path[4], NULL };
		int st2;
		pid_t p2;

		snprintf(c1, cl + 600, "%sretention_days = 1\nretention_key = %s\n", c0,
		         P(f, 1, "ret.key"));
		spit(P(f, 4, "st/saksid.conf"), c1, strlen(c1));
		free(c0);
		free(c1);
		/* Not in the keyring: refused, exit 1 (configuration). */
		assert_int_equal(posix_spawn(&p2, SAKSID, NULL, NULL, argv, environ), 0);
		assert_int_equal(waitpid(p2, &st2, 0), p2);
		assert_true(WIFEXITED(st2) && WEXITSTATUS(st2) == 1);
		RUN(f, &r, 0, "keyring", "add", "-r", P(f, 2, "st/keyring.json"), "--name",
		    "retention", "--pub", P(f, 1, "ret.pub"), "--role", "supervisor", "--branch",
		    "*");
		run_free(&r);
		start(f, sock, O_APPEND);
		saksid_stop(f);
	}

	/* The grep test: the whole state directory (LMDB files, key files, config), both
	 * backups and the daemon's log hold none of the values the test wrote. */
	assert_no_leak_tree(P(f, 0, "st"));
	assert_no_leak_tree(P(f, 9, "before"));
	assert_no_leak_tree(P(f, 9, "after"));
	assert_no_leak_file(P(f, 5, "saksid.log"));
	{
		size_t ln;
		char *log = slurp(P(f, 5, "saksid.log"), &ln);
		assert_non_null(strstr(log, "data keys: 0 slots, master generation 1"));
		assert_non_null(strstr(log, "data keys: 4 slots, master generation 2"));
		assert_non_null(strstr(log, "retention: 1 days, 0 participants forgotten at "
		                       "start"));
		free(log);
	}
}

/* The clear example of type for participant who's booking and claim; the personal
 * fields the type has get who's values (a type without `nik` gets none). */
static void
payload_of(const char *type, int who, const char *path)
{
	char ex[512], id[32], *s;
	json_t *o;

	snprintf(ex, sizeof(ex), "%s/schemas/examples/clear/%s.json", SAKSI_SOURCE_DIR, type);
	assert_non_null(o = json_load_file(ex, JSON_REJECT_DUPLICATES, NULL));
	json_object_set_new(o, "branch", json_string(BRANCH));
	if (json_object_get(o, "nik") != NULL) {
		json_object_set_new(o, "nik", json_string(NIK[who]));
		json_object_set_new(o, "kpj", json_string(KPJ[who]));
		json_object_set_new(o, "phone", json_string(PHONE[who]));
	}
	if (json_object_get(o, "bank_account") != NULL)
		json_object_set_new(o, "bank_account", json_string(ACCOUNT[who]));
	if (json_object_get(o, "npwp") != NULL)
		json_object_set_new(o, "npwp", json_string("012345678901234"));
	snprintf(id, sizeof(id), "BK-FORGET-%d", who);
	if (json_object_get(o, "booking_id") != NULL)
		json_object_set_new(o, "booking_id", json_string(id));
	snprintf(id, sizeof(id), "CL-FORGET-%d", who);
	if (json_object_get(o, "claim_id") != NULL)
		json_object_set_new(o, "claim_id", json_string(id));
	s = json_dumps(o, JSON_COMPACT);
	spit(path, s, strlen(s));
	free(s);
	json_decref(o);
}

/*
 * The stored blobs of entries idx[0..n) rewritten as disclosures at rest v1 (FORMATS.md
 * 7.1) under the store key, as an older saksid wrote them; saksid stopped. Each new
 * blob's last 24 bytes (ciphertext and tag) into tail[i], for the grep.
 */
static void
make_v1(struct scratch *f, const uint64_t *idx, size_t n, uint8_t tail[][24])
{
	struct dko o;
	saksi_ledger_txn *t;

	dko_open(f, P(f, 8, "st/ledger"), 1, &o);
	t = o.t;
	for (size_t i = 0; i < n; i++) {
		uint8_t out[4096];
		size_t jl, w;
		saksi_hash h;
		char *json = dko_reveal(&o, idx[i], h, &jl);

		assert_true(jl + SAKSID_DISC_OVERHEAD <= sizeof(out));
		assert_int_equal(saksid_disc_seal(o.store, idx[i], h, (const uint8_t *)json, jl, out,
		                                  sizeof(out), &w), SAKSI_OK);
		assert_int_equal(out[0], 1);
		{
			/* Over the v2 blob: saksi_ledger_disc_put never overwrites. */
			uint8_t k[8];
			MDB_val key = { 8, k }, val = { w, out };
			MDB_dbi dbi;

			saksi_put_u64(k, idx[i]);
			assert_int_equal(mdb_dbi_open(saksi_ledger_txn_mdb(t), "disc", 0, &dbi), 0);
			assert_int_equal(mdb_put(saksi_ledger_txn_mdb(t), dbi, &key, &val, 0), 0);
		}
		memcpy(tail[i], out + w - 24, 24);
		sodium_memzero(json, jl);
		free(json);
	}
	dko_close(&o, 1);
}

/* Per event entry, in ledger order (the rules' alert entries fall between them): its
 * index in idx, 1 its disclosures open, 0 forgotten, -1 none; its blob's version. */
static void
open_all(struct scratch *f, const char *ldir, int *state, int *ver, uint64_t *idx,
         uint64_t *n)
{
	uint64_t size, k = 0;
	struct dko o;
	saksi_ledger_txn *t;

	dko_open(f, ldir, 0, &o);
	t = o.t;
	size = saksi_ledger_size(t);
	for (uint64_t i = 0; i < size; i++) {
		uint8_t *blob, *leaf;
		size_t bl, ll, jl;
		saksi_hash h;
		saksi_leaf lf;
		char *json;
		saksi_err e;

		assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &ll), SAKSI_OK);
		assert_int_equal(saksi_leaf_parse(leaf, ll, &lf), SAKSI_OK);
		if (lf.lf_kind != SAKSI_LEAF_EVENT) {
			free(leaf);
			continue;
		}
		assert_true(k < 16);
		idx[k] = i;
		ver[k] = 0;
		if (saksi_ledger_disc_get(t, i, &blob, &bl) == SAKSI_ERR_NOT_FOUND) {
			free(leaf);
			state[k++] = -1;
			continue;
		}
		ver[k] = blob[0];
		saksi_merkle_leaf_hash(h, leaf, ll);
		e = saksi_disc_open_any(o.store, o.dk, i, h, blob, bl, &json, &jl);
		if (e != SAKSI_OK && e != SAKSI_ERR_NOT_FOUND)
			fail_msg("entry %llu: %s", (unsigned long long)i, saksi_strerror(e));
		state[k++] = e == SAKSI_OK;
		if (e == SAKSI_OK) {
			sodium_memzero(json, jl);
			free(json);
		}
		free(blob);
		free(leaf);
	}
	*n = k;
	dko_close(&o, 0);
}

/* Whether the file holds the 24 bytes. */
static int
file_has(const char *path, const uint8_t b[24])
{
	size_t n;
	char *buf = slurp(path, &n);
	int r = memmem(buf, n, b, 24) != NULL;

	free(buf);
	return r;
}

/*
 * A forget reaches what his data key does not cover (FORMATS.md 7.4 "Forget"): his
 * entries stored as v1 by an older saksid (under the store key), and the entries of his
 * booking and claim that name no NIK (a cancellation, a payment: store key). All are
 * re-sealed under his data key in the forget's transaction, so they go with it; the other
 * participant's stay as they are; the ledger verifies; a backup holds none of his old
 * blobs; queries by his account or device find nothing.
 */
static void
test_forget_reaches_v1_and_related(void **state)
{
	static const char *const types[4] = { "queue.booking.created", "claim.submitted",
	    "queue.booking.cancelled", "claim.payment.sent" };
	static const int v1ev[3] = { 0, 3, 4 };   /* his booking, his payment, other's */
	uint64_t v1[3], idx[16];
	struct scratch *f = *state;
	struct run r;
	char vkey[SAKSI_VKEY_MAX + 1], url[256], sock[256], seq[8];
	uint8_t tail[3][24], old2[24];
	char acct[64];
	int st[16], ver[16];
	uint64_t n;

	branch_init(f, vkey, url, sock);
	start(f, sock, O_TRUNC);

	/* Entries 0-3 participant 0's, 4-7 participant 1's: booking, claim, cancellation
	 * and payment (the last two name the booking or claim, no NIK). */
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 4; k++) {
			payload_of(types[k], i, P(f, 3, "ev.json"));
			snprintf(seq, sizeof(seq), "%d", 4 * i + k + 1);
			submit(f, url, vkey, k == 0 || k == 2 ? "q.key" : "c.key", types[k], seq);
		}
	saksid_stop(f);
	open_all(f, P(f, 8, "st/ledger"), st, ver, idx, &n);
	assert_int_equal(n, 8);
	for (int i = 0; i < 8; i++)
		assert_true(st[i] == 1 && ver[i] == 2);
	for (int i = 0; i < 3; i++)
		v1[i] = idx[v1ev[i]];
	{
		/* The cancellation's v2 blob, for the grep. Linked to his booking: his data key
		 * from the start (7.3). */
		int kind;
		uint64_t slot;

		blob_key(f, idx[2], &kind, &slot, old2);
		assert_int_equal(kind, SAKSI_DK_DATA);
	}
	make_v1(f, v1, 3, tail);

	/* saksid again; the supervisor forgets participant 0. */
	start(f, sock, O_APPEND);
	forget0(f, url, vkey);
	/* His account (the payment) and device (the cancellation) find nothing now; the
	 * other's account still finds his payment. */
	snprintf(acct, sizeof(acct), "002:%s", ACCOUNT[0]);
	RUN(f, &r, 0, "query", "--config", P(f, 4, "st/saksid.conf"), "--account", acct,
	    "-k", P(f, 1, "spv.key"), "--json");
	print_message("query --account (forgotten): %s", r.out);
	assert_null(strstr(r.out, "claim.payment.sent"));
	run_free(&r);
	snprintf(acct, sizeof(acct), "002:%s", ACCOUNT[1]);
	RUN(f, &r, 0, "query", "--config", P(f, 4, "st/saksid.conf"), "--account", acct,
	    "-k", P(f, 1, "spv.key"), "--json");
	assert_non_null(strstr(r.out, "claim.payment.sent"));
	run_free(&r);
	RUN(f, &r, 0, "backup", "--ledger", P(f, 8, "st/ledger"), "-o", P(f, 9, "after"));
	run_free(&r);
	saksid_stop(f);

	/* His four entries and the request are forgotten, re-sealed as v2; the other's
	 * open, his booking still v1. */
	open_all(f, P(f, 8, "st/ledger"), st, ver, idx, &n);
	assert_int_equal(n, 11);   /* and the two queries' access entries */
	assert_true(st[9] == -1 && st[10] == -1);
	{
		static const int want[9] = { 0, 0, 0, 0, 1, 1, 1, 1, 0 };
		static const int wver[9] = { 2, 2, 2, 2, 1, 2, 2, 2, 2 };

		for (int i = 0; i < 9; i++)
			if (st[i] != want[i] || ver[i] != wver[i])
				fail_msg("entry %d: state %d v%d, want %d v%d", i, st[i], ver[i],
				         want[i], wver[i]);
	}
	verify_intact(f, P(f, 8, "st/ledger"), vkey);
	/* The grep: the backup (LMDB's compacting copy: live pages only) holds none of his
	 * old blobs (which the store key would still open), and the other's v1 blob. The
	 * live file may keep them in free pages until LMDB reuses them (FORMATS.md 7.4). */
	assert_false(file_has(P(f, 9, "after/data.mdb"), tail[0]));
	assert_false(file_has(P(f, 9, "after/data.mdb"), tail[1]));
	/* The cancellation was sealed under his data key when written: left as it is, it
	 * went with his slot. */
	assert_true(file_has(P(f, 9, "after/data.mdb"), old2));
	assert_true(file_has(P(f, 9, "after/data.mdb"), tail[2]));
	print_message("live data.mdb still holds his old blobs in free pages: %d %d %d\n",
	              file_has(P(f, 8, "st/ledger/data.mdb"), tail[0]),
	              file_has(P(f, 8, "st/ledger/data.mdb"), tail[1]),
	              file_has(P(f, 8, "st/ledger/data.mdb"), old2));
	assert_no_leak_tree(P(f, 0, "st"));
	assert_no_leak_tree(P(f, 9, "after"));
}

/*
 * Every store-key blob (v1, or v2 kind 1) anywhere in the file at path, free pages
 * included: found by its header (version, kind 1, the store key's id) inside an LMDB
 * node of `disc` (size (4, as two u16 LE), flags (2), key size 8 (2 LE), leaf index
 * (8 BE)), opened with the store key. *opened gets how many opened; returns 1 if one of
 * them holds value (a disclosure's value, decoded).
 */
static int
store_blobs_hold(struct scratch *f, const char *path, const char *value, int *opened)
{
	saksi_ledger *l;
	saksi_ledger_txn *t;
	saksi_seckey *store;
	uint64_t size;
	size_t n;
	uint8_t *buf = (uint8_t *)slurp(path, &n);
	int hit = 0;

	assert_int_equal(saksi_seckey_load(P(f, 12, "st/store.key"), NULL, &store), SAKSI_OK);
	assert_int_equal(saksi_ledger_open(P(f, 8, "st/ledger"), NULL, NULL, NULL, &l),
	                 SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	size = saksi_ledger_size(t);
	*opened = 0;
	for (size_t p = 16; p + 10 <= n; p++) {
		uint8_t *leaf;
		size_t ll, bl, jl, k;
		uint64_t idx;
		saksi_hash h;
		char *json;
		json_t *a, *d;

		if ((buf[p] != 1 && buf[p] != 2) || buf[p + 1] != 1 ||
		    memcmp(buf + p + 2, saksi_seckey_id(store), 8) != 0 ||
		    buf[p - 10] != 8 || buf[p - 9] != 0)
			continue;
		idx = saksi_get_u64(buf + p - 8);
		bl = (size_t)buf[p - 16] | (size_t)buf[p - 15] << 8 |
		    (size_t)buf[p - 14] << 16 | (size_t)buf[p - 13] << 24;
		if (idx >= size || bl > n - p)
			continue;
		assert_int_equal(saksi_ledger_leaf(t, idx, &leaf, &ll), SAKSI_OK);
		saksi_merkle_leaf_hash(h, leaf, ll);
		free(leaf);
		if (saksi_disc_open_any(store, NULL, idx, h, buf + p, bl, &json, &jl) != SAKSI_OK)
			continue;
		(*opened)++;
		assert_non_null(a = json_loads(json, 0, NULL));
		json_array_foreach(a, k, d) {
			char *name, *v;

			assert_int_equal(saksi_disclosure_decode(json_string_value(d),
			    json_string_length(d), &name, &v), SAKSI_OK);
			hit |= strcmp(v, value) == 0;
			free(name);
			free(v);
		}
		json_decref(a);
		sodium_memzero(json, jl);
		free(json);
	}
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	saksi_seckey_free(store);
	free(buf);
	return hit;
}

/*
 * Issue #5, at the source (FORMATS.md 7.3 links): a payment that names only his claim is
 * sealed under his data key when it is written, so no store-key copy of his account ever
 * exists, not even in data.mdb's free pages after the forget. A payment of a claim that
 * is nobody's stays under the store key (and is what shows the scan works).
 */
static void
test_forget_linked_at_source(void **state)
{
	static const char *const types[4] = { "queue.booking.created", "claim.submitted",
	    "claim.payment.sent", "claim.payment.sent" };
	struct scratch *f = *state;
	struct run r;
	char vkey[SAKSI_VKEY_MAX + 1], url[256], sock[256], seq[8];
	int st[16], ver[16], kind, opened;
	uint64_t idx[16], n, slot0, slot;

	branch_init(f, vkey, url, sock);
	/* The queries' access entries take time-based seqs: a key of their own. */
	key_enrol(SAKSI, f, P(f, 2, "st/keyring.json"), P(f, 1, "spq.key"), P(f, 3, "spq.pub"),
	    "spq", "supervisor", BRANCH);
	start(f, sock, O_TRUNC);

	/* His booking and claim, his payment (claim_id only), then a payment of claim
	 * CL-FORGET-2, which no participant's event named: the store key. */
	for (int k = 0; k < 4; k++) {
		payload_of(types[k], k < 3 ? 0 : 2, P(f, 3, "ev.json"));
		snprintf(seq, sizeof(seq), "%d", k + 1);
		submit(f, url, vkey, k == 0 ? "q.key" : "c.key", types[k], seq);
	}
	open_all(f, P(f, 8, "st/ledger"), st, ver, idx, &n);
	assert_int_equal(n, 4);
	blob_key(f, idx[0], &kind, &slot0, NULL);
	assert_int_equal(kind, SAKSI_DK_DATA);
	blob_key(f, idx[2], &kind, &slot, NULL);
	assert_int_equal(kind, SAKSI_DK_DATA);   /* main: SAKSI_DK_STORE */
	assert_int_equal(slot, slot0);
	blob_key(f, idx[3], &kind, &slot, NULL);
	assert_int_equal(kind, SAKSI_DK_STORE);
	/* Before the forget a supervisor sees his account by his claim. */
	RUN(f, &r, 0, "query", "--config", P(f, 4, "st/saksid.conf"), "--claim", "CL-FORGET-0",
	    "-k", P(f, 1, "spq.key"), "--reveal", "--case", "SPI-2026-0005", "--json");
	assert_non_null(strstr(r.out, ACCOUNT[0]));
	run_free(&r);

	forget0(f, url, vkey);
	RUN(f, &r, 0, "query", "--config", P(f, 4, "st/saksid.conf"), "--claim", "CL-FORGET-0",
	    "-k", P(f, 1, "spq.key"), "--reveal", "--case", "SPI-2026-0005", "--json");
	assert_null(strstr(r.out, ACCOUNT[0]));
	assert_non_null(strstr(r.out, "claim.payment.sent"));
	run_free(&r);
	/* A later payment of his claim: his links went with his slot, the store key. */
	payload_of("claim.payment.sent", 1, P(f, 3, "ev.json"));
	{
		json_t *o = json_load_file(P(f, 3, "ev.json"), 0, NULL);
		char *s;

		json_object_set_new(o, "claim_id", json_string("CL-FORGET-0"));
		s = json_dumps(o, JSON_COMPACT);
		spit(P(f, 3, "ev.json"), s, strlen(s));
		free(s);
		json_decref(o);
	}
	submit(f, url, vkey, "c.key", "claim.payment.sent", "5");
	saksid_stop(f);

	open_all(f, P(f, 8, "st/ledger"), st, ver, idx, &n);
	assert_true(n >= 6);
	assert_int_equal(st[0], 0);
	assert_int_equal(st[1], 0);
	assert_int_equal(st[2], 0);   /* his payment: forgotten */
	assert_int_equal(st[3], 1);
	assert_int_equal(st[n - 1], 1);
	blob_key(f, idx[n - 1], &kind, &slot, NULL);
	assert_int_equal(kind, SAKSI_DK_STORE);
	verify_intact(f, P(f, 8, "st/ledger"), vkey);
	/* The grep over the whole live file, free pages included. */
	assert_false(store_blobs_hold(f, P(f, 8, "st/ledger/data.mdb"), ACCOUNT[0], &opened));
	print_message("store-key blobs in data.mdb that opened: %d\n", opened);
	assert_true(store_blobs_hold(f, P(f, 8, "st/ledger/data.mdb"), ACCOUNT[2], &opened));
	assert_true(store_blobs_hold(f, P(f, 8, "st/ledger/data.mdb"), ACCOUNT[1], &opened));
}

/*
 * The ledger as a saksid before links (FORMATS.md 7.3) left it, saksid stopped: no "l"
 * or "r" record in the dkey database, the entries idx[0..n) (events without a nik)
 * sealed as v2 under the store key (kind 1), as that saksid sealed them.
 */
static void
make_unlinked(struct scratch *f, const uint64_t *idx, size_t n)
{
	struct dko o;
	saksi_ledger_txn *t;
	MDB_txn *mt;
	MDB_cursor *cur;
	MDB_val key, val;
	MDB_dbi dbi;
	uint8_t kid[8];
	int rc, links = 0;

	dko_open(f, P(f, 8, "st/ledger"), 1, &o);
	t = o.t;
	mt = saksi_ledger_txn_mdb(t);
	memcpy(kid, saksi_seckey_id(o.store), 8);
	for (size_t i = 0; i < n; i++) {
		uint8_t out[4096], k[8];
		size_t jl, w;
		saksi_hash h;
		char *json = dko_reveal(&o, idx[i], h, &jl);

		assert_int_equal(saksi_disc2_seal(SAKSI_DK_STORE, kid, saksi_seckey_sym(o.store),
		                 idx[i], h, (const uint8_t *)json, jl, out, sizeof(out), &w),
		                 SAKSI_OK);
		saksi_put_u64(k, idx[i]);
		key.mv_size = 8;
		key.mv_data = k;
		val.mv_size = w;
		val.mv_data = out;
		assert_int_equal(mdb_dbi_open(mt, "disc", 0, &dbi), 0);
		assert_int_equal(mdb_put(mt, dbi, &key, &val, 0), 0);
		sodium_memzero(json, jl);
		free(json);
	}
	assert_int_equal(mdb_dbi_open(mt, "dkey", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(mt, dbi, &cur), 0);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		uint8_t c = ((const uint8_t *)key.mv_data)[0];

		if (c == 'l' || c == 'r') {
			assert_int_equal(mdb_cursor_del(cur, 0), 0);
			links++;
		}
	}
	assert_int_equal(rc, MDB_NOTFOUND);
	mdb_cursor_close(cur);
	assert_true(links > 0);   /* this saksid made them: gone now */
	dko_close(&o, 1);
}

/* Records of the dkey database that start with c. */
static int
dkey_count(struct scratch *f, uint8_t c)
{
	saksi_ledger *l;
	saksi_ledger_txn *t;
	MDB_txn *mt;
	MDB_cursor *cur;
	MDB_val key, val;
	MDB_dbi dbi;
	int rc, n = 0;

	assert_int_equal(saksi_ledger_open(P(f, 8, "st/ledger"), NULL, NULL, NULL, &l),
	                 SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	mt = saksi_ledger_txn_mdb(t);
	assert_int_equal(mdb_dbi_open(mt, "dkey", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(mt, dbi, &cur), 0);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
		n += ((const uint8_t *)key.mv_data)[0] == c;
	mdb_cursor_close(cur);
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	return n;
}

/*
 * Links back-filled over a ledger written before them (FORMATS.md 7.3, `saksi
 * backfill-links`): his v1 booking, and the cancellation and payment that name only his
 * booking or claim (under the store key), are re-sealed under his data key, in steps
 * that resume, and the file compacted; run again it changes nothing; it refuses while
 * saksid runs. Then a forget leaves no store-key copy of his account anywhere in
 * data.mdb, free pages included, while the payment of a claim that is nobody's stays
 * under the store key (and shows that the scan works).
 */
static void
test_backfill_links(void **state)
{
	static const char *const types[5] = { "queue.booking.created", "claim.submitted",
	    "queue.booking.cancelled", "claim.payment.sent", "claim.payment.sent" };
	struct scratch *f = *state;
	struct run r;
	char vkey[SAKSI_VKEY_MAX + 1], url[256], sock[256], seq[8];
	uint8_t tail[1][24];
	int st[16], ver[16], kind, opened;
	uint64_t idx[16], n, slot0, slot, nolink[3];

	branch_init(f, vkey, url, sock);
	start(f, sock, O_TRUNC);
	/* His booking, claim, cancellation (booking_id only) and payment (claim_id only);
	 * then a payment of claim CL-FORGET-2, which no participant's event names. */
	for (int k = 0; k < 5; k++) {
		payload_of(types[k], k < 4 ? 0 : 2, P(f, 3, "ev.json"));
		snprintf(seq, sizeof(seq), "%d", k + 1);
		RUN(f, &r, 0, "submit", "--url", url, "-k", P(f, 1, k == 0 || k == 2 ? "q.key" :
		    "c.key"), "--box-pub", P(f, 6, "st/box.pub"), "--vkey", vkey, "--type",
		    types[k], "--seq", seq, "--payload", P(f, 3, "ev.json"));
		run_free(&r);
	}
	saksid_stop(f);
	open_all(f, P(f, 8, "st/ledger"), st, ver, idx, &n);
	assert_int_equal(n, 5);
	/* As an older saksid left it: no links, those three under the store key, his
	 * booking v1. */
	nolink[0] = idx[2];
	nolink[1] = idx[3];
	nolink[2] = idx[4];
	make_unlinked(f, nolink, 3);
	make_v1(f, idx, 1, tail);
	assert_int_equal(dkey_count(f, 'l'), 0);
	blob_key(f, idx[3], &kind, &slot, NULL);
	assert_int_equal(kind, SAKSI_DK_STORE);

	/* One step of three entries (the keyring entry, his booking and claim), as if
	 * killed after it. */
	RUN(f, &r, 0, "backfill-links", "--config", P(f, 4, "st/saksid.conf"), "--batch", "3",
	    "--steps", "1");
	print_message("%s", r.out);
	assert_non_null(strstr(r.out, "from entry 0 to 3 of 6: 2 events, 3 ids linked, 1 "
	                       "disclosures re-sealed"));
	assert_non_null(strstr(r.out, "stopped after 1 step(s): run this again to go on"));
	run_free(&r);
	blob_key(f, idx[0], &kind, &slot0, NULL);   /* his v1 booking: under his key now */
	assert_int_equal(kind, SAKSI_DK_DATA);
	blob_key(f, idx[3], &kind, &slot, NULL);
	assert_int_equal(kind, SAKSI_DK_STORE);
	assert_int_equal(dkey_count(f, 'l'), 2);   /* his booking and claim ids */
	/* The rest, from the mark; then the file compacted. */
	RUN(f, &r, 0, "backfill-links", "--config", P(f, 4, "st/saksid.conf"), "--batch", "2");
	print_message("%s", r.out);
	assert_non_null(strstr(r.out, "from entry 3 to 6 of 6: 3 events, 0 ids linked, 2 "
	                       "disclosures re-sealed from the store key under their "
	                       "participant's data key, 1 left under the store key"));
	assert_non_null(strstr(r.out, "compacted"));
	run_free(&r);
	blob_key(f, idx[2], &kind, &slot, NULL);
	assert_int_equal(kind, SAKSI_DK_DATA);
	assert_int_equal(slot, slot0);
	blob_key(f, idx[3], &kind, &slot, NULL);
	assert_int_equal(kind, SAKSI_DK_DATA);
	assert_int_equal(slot, slot0);
	blob_key(f, idx[4], &kind, &slot, NULL);
	assert_int_equal(kind, SAKSI_DK_STORE);
	/* Before the forget: no store-key copy of his account left, even in free pages. */
	assert_false(store_blobs_hold(f, P(f, 8, "st/ledger/data.mdb"), ACCOUNT[0], &opened));
	/* Again: nothing to do, nothing changed. */
	RUN(f, &r, 0, "backfill-links", "--config", P(f, 4, "st/saksid.conf"));
	assert_non_null(strstr(r.out, "from entry 6 to 6 of 6: 0 events"));
	run_free(&r);
	open_all(f, P(f, 8, "st/ledger"), st, ver, idx, &n);
	for (int i = 0; i < 5; i++)
		assert_true(st[i] == 1 && ver[i] == 2);
	verify_intact(f, P(f, 8, "st/ledger"), vkey);

	/* Not while saksid runs. */
	start(f, sock, O_APPEND);
	RUN(f, &r, 2, "backfill-links", "--config", P(f, 4, "st/saksid.conf"));
	assert_non_null(strstr(r.err, "is open in another process (saksid?): stop saksid"));
	run_free(&r);
	/* The forget: his data key goes, and with it everything of his. */
	forget0(f, url, vkey);
	saksid_stop(f);
	open_all(f, P(f, 8, "st/ledger"), st, ver, idx, &n);
	for (int i = 0; i < 4; i++)
		assert_int_equal(st[i], 0);
	assert_int_equal(st[4], 1);
	/* The grep over the whole live file, free pages included. */
	assert_false(store_blobs_hold(f, P(f, 8, "st/ledger/data.mdb"), ACCOUNT[0], &opened));
	print_message("store-key blobs in data.mdb that opened: %d\n", opened);
	assert_true(store_blobs_hold(f, P(f, 8, "st/ledger/data.mdb"), ACCOUNT[2], &opened));
	assert_false(file_has(P(f, 8, "st/ledger/data.mdb"), tail[0]));
	verify_intact(f, P(f, 8, "st/ledger"), vkey);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forget_end_to_end, setup,
		                                scratch_teardown),
		cmocka_unit_test_setup_teardown(test_forget_reaches_v1_and_related, setup,
		                                scratch_teardown),
		cmocka_unit_test_setup_teardown(test_forget_linked_at_source, setup,
		                                scratch_teardown),
		cmocka_unit_test_setup_teardown(test_backfill_links, setup, scratch_teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
