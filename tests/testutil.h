/*
 * testutil.h: the process and file helpers the test programs share: run a built binary
 * with arguments and capture its stdout, stderr and exit status; read and write whole
 * files; remove a mkdtemp() tree; open a ledger's LMDB directly, as a tamperer has it.
 * Header-only (static functions, cmocka asserts) because every *_test.c is its own
 * program. Include it after <cmocka.h>. Never used outside the tests.
 */
#ifndef SAKSI_TESTUTIL_H
#define SAKSI_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>

#include "tmpdir.h"

#define TU_UNUSED __attribute__((unused))

/* The programs as built (CMake gives every test SAKSI_BUILD_DIR), and the tests' way to
 * run saksi: RUN(f, &r, want, args...) fails the test unless it exits with want, the run
 * left in r; RUN_IN the same with stdin from the file `in`. */
#define SAKSI SAKSI_BUILD_DIR "/saksi"
#define SAKSID SAKSI_BUILD_DIR "/saksid"
#define RUN(f, r, want, ...) run_expect(SAKSI, (f)->dir, (r), (want), NULL, __VA_ARGS__, \
	(char *)NULL)
#define RUN_IN(f, r, want, in, ...) run_expect(SAKSI, (f)->dir, (r), (want), (in), \
	__VA_ARGS__, (char *)NULL)

extern char **environ;

/* ---- files ---- */

/* The whole file, NUL-terminated (so text can be searched), malloc'd; fails the test if
 * it cannot be read. len may be NULL. */
TU_UNUSED static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

/* The JSON file at path, duplicate members refused; fails the test, naming the file and
 * jansson's message, if it does not parse. */
TU_UNUSED static json_t *
tu_load_json(const char *path)
{
	json_error_t e;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);

	if (j == NULL)
		fail_msg("%s: %s", path, e.text);
	return j;
}

/* The bytes of s in base64url without padding (a disclosure's encoding), malloc'd. */
TU_UNUSED static char *
tu_b64url(const char *s)
{
	size_t n = sodium_base64_ENCODED_LEN(strlen(s), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *o = malloc(n);

	assert_non_null(o);
	sodium_bin2base64(o, n, (const uint8_t *)s, strlen(s),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return o;
}

/* Writes (creates or truncates) the file with exactly these bytes. */
TU_UNUSED static void
spit(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* dir/name into out; fails the test rather than truncate a path. */
TU_UNUSED static void
path_in(const char *dir, const char *name, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < len);
}

/* Removes dir and everything below it; symbolic links are removed, never followed.
 * Best effort: teardown must go on even if a test left the tree half-made. */
TU_UNUSED static void
rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_rf(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* ---- a scratch directory per test ---- */

/* The fixture of the tests that run binaries: a fresh mkdtemp() directory, removed with
 * everything in it afterwards, and path buffers for names in it. */
struct scratch {
	char dir[64];
	char path[16][256]; /* scratch path buffers, see P() */
	pid_t pid;          /* the saksid saksid_start started, killed by the teardown */
};

/* dir/name in path buffer `slot`, valid until that slot is used again. */
TU_UNUSED static const char *
P(struct scratch *f, int slot, const char *name)
{
	snprintf(f->path[slot], sizeof(f->path[slot]), "%s/%s", f->dir, name);
	return f->path[slot];
}

/* A cmocka setup: a struct scratch in *state, its dir $TMPDIR/saksi-NAME-XXXXXX. */
TU_UNUSED static int
scratch_setup(void **state, const char *name)
{
	struct scratch *f = calloc(1, sizeof(*f));
	char prefix[48];

	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	f->pid = -1;
	snprintf(prefix, sizeof(prefix), "saksi-%s", name);
	if (tmpdir_make(f->dir, sizeof(f->dir), prefix) != 0)
		fail_msg("cannot make a directory %s-XXXXXX in $TMPDIR or /tmp", prefix);
	*state = f;
	return 0;
}

/* The cmocka teardown of scratch_setup: a saksid a failed assertion left running is
 * killed first (a daemon holding ctest's output pipe would hang the run). */
TU_UNUSED static int
scratch_teardown(void **state)
{
	struct scratch *f = *state;

	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
		f->pid = -1;
	}
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* ---- processes ---- */

/* One finished run of a binary. */
struct run {
	int status;    /* exit code, or -1 if killed by a signal */
	char *out;     /* stdout, NUL-terminated */
	size_t out_len;
	char *err;     /* stderr, NUL-terminated */
};

TU_UNUSED static void
run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/*
 * Runs prog with the NULL-terminated arguments in ap, stdin from the file `in` (NULL:
 * /dev/null), stdout and stderr into dir/.stdout and dir/.stderr, and waits for it.
 * posix_spawn: nothing runs in a forked copy of this process. Returns the run in r.
 */
TU_UNUSED static void
run_v(const char *prog, const char *dir, struct run *r, const char *in, va_list ap)
{
	char *argv[64], outp[128], errp[128];
	posix_spawn_file_actions_t fa;
	const char *a;
	pid_t pid;
	int n = 0, st;

	argv[n++] = (char *)prog;
	while ((a = va_arg(ap, const char *)) != NULL) {
		assert_true(n < 63);
		argv[n++] = (char *)a;
	}
	argv[n] = NULL;
	snprintf(outp, sizeof(outp), "%s/.stdout", dir);
	snprintf(errp, sizeof(errp), "%s/.stderr", dir);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 0, in ? in : "/dev/null",
	    O_RDONLY, 0), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, outp,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, errp,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	assert_int_equal(posix_spawn(&pid, prog, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	r->out = slurp(outp, &r->out_len);
	r->err = slurp(errp, NULL);
}

/* run_v with the arguments after `in`, then fails the test, showing both outputs, unless
 * prog exited with `want`. The run is returned in r for further checks. */
TU_UNUSED static void
run_expect(const char *prog, const char *dir, struct run *r, int want, const char *in, ...)
{
	va_list ap;

	va_start(ap, in);
	run_v(prog, dir, r, in, ap);
	va_end(ap);
	if (r->status != want)
		fail_msg("exit %d, want %d\nstdout: %s\nstderr: %s", r->status, want, r->out,
		    r->err);
}

/*
 * Starts argv[0] (a daemon under test) with stderr into errlog, opened with
 * O_WRONLY | O_CREAT | oflags (O_TRUNC or O_APPEND), and waits until it has created
 * `sock`, which it does once it is ready. A bounded wait, not a timing assertion: fails
 * the test if the process exits first or never gets there.
 */
TU_UNUSED static pid_t
spawn_ready(char *const argv[], const char *errlog, int oflags, const char *sock)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, i;

	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, errlog,
	    O_WRONLY | O_CREAT | oflags, 0600), 0);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	for (i = 0; i < 1000 && access(sock, F_OK) != 0; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		assert_int_equal(waitpid(pid, &st, WNOHANG), 0);
		nanosleep(&ts, NULL);
	}
	assert_int_equal(access(sock, F_OK), 0);
	return pid;
}

/* Stops what spawn_ready started with SIGTERM; it must exit cleanly, with status 0. */
TU_UNUSED static void
stop_clean(pid_t pid)
{
	int st;

	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- a saksi state directory, as an operator makes one ---- */

/* `saksi init --dir DIR/st --origin origin` with the saksi at `saksi` (path slot 0 then
 * holds DIR/st); the verifier key it prints first into vkey. */
TU_UNUSED static void
state_init(const char *saksi, struct scratch *f, const char *origin, char *vkey,
           size_t vlen)
{
	struct run r;

	run_expect(saksi, f->dir, &r, 0, NULL, "init", "--dir", P(f, 0, "st"), "--origin",
	    origin, NULL);
	snprintf(vkey, vlen, "%.*s", (int)strcspn(r.out, "\n"), r.out);
	run_free(&r);
}

/* The ipc:// URL the saksid config at path listens on first (url NULL: not wanted), and
 * the socket file behind it, which spawn_ready waits for. */
TU_UNUSED static void
conf_listen(const char *path, char *url, size_t ulen, char *sock, size_t slen)
{
	char *conf = slurp(path, NULL), *line;

	line = strstr(conf, "listen = ipc://");
	assert_non_null(line);
	line += strlen("listen = ");
	if (url != NULL)
		snprintf(url, ulen, "%.*s", (int)strcspn(line, "\n"), line);
	line += strlen("ipc://");
	snprintf(sock, slen, "%.*s", (int)strcspn(line, "\n"), line);
	free(conf);
}

/* The URL the config saksi init wrote (DIR/st/saksid.conf, then in path slot 4) listens
 * on first, and the socket file behind that ipc:// URL, which spawn_ready waits for. */
TU_UNUSED static void
state_listen(struct scratch *f, char *url, size_t ulen, char *sock, size_t slen)
{
	conf_listen(P(f, 4, "st/saksid.conf"), url, ulen, sock, slen);
}

/* ---- a simulated day sent through a real saksid: the end-to-end tests' fixture ---- */

/* Skips the test (cmocka's skip()) unless saksi and saksid are built. */
TU_UNUSED static void
need_built(const char *saksi, const char *saksid)
{
	if (access(saksi, X_OK) != 0 || access(saksid, X_OK) != 0) {
		print_message("saksi or saksid is not built here; skipping\n");
		skip();
	}
}

/* The first day of the simulation, YYYY-MM-DD: ten days ago, so that every event lies
 * in the past of saksid's clock. Printed with the seed, to repeat a run. */
TU_UNUSED static void
sim_start_day(char day[16], const char *seed)
{
	time_t now = time(NULL) - 10 * 86400;
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(day, 16, "%Y-%m-%d", &tm);
	print_message("simulated day from %s, seed %s\n", day, seed);
}

/* `saksi keygen --kind sign` into key and pub, then the key's entry in the keyring kr:
 * name, role, branch. */
TU_UNUSED static void
key_enrol(const char *saksi, struct scratch *f, const char *kr, const char *key,
          const char *pub, const char *name, const char *role, const char *branch)
{
	struct run r;

	run_expect(saksi, f->dir, &r, 0, NULL, "keygen", "--kind", "sign", "-o", key, "--pub",
	    pub, "--no-passphrase", NULL);
	run_free(&r);
	run_expect(saksi, f->dir, &r, 0, NULL, "keyring", "add", "-r", kr, "--name", name,
	    "--pub", pub, "--role", role, "--branch", branch, NULL);
	run_free(&r);
}

/* A counter's state: saksi init's st (vkey, the verifier key; path slot 4 its config),
 * a staff producer key p.key ("counter", KC-TEST) in its keyring, the event payload in
 * ev.json; the URL and socket saksid will listen on into url and sock. */
TU_UNUSED static void
state_counter(const char *saksi, struct scratch *f, const char *origin, const char *payload,
              char *vkey, size_t vlen, char *url, size_t ulen, char *sock, size_t slen)
{
	state_init(saksi, f, origin, vkey, vlen);
	key_enrol(saksi, f, P(f, 2, "st/keyring.json"), P(f, 1, "p.key"), P(f, 3, "p.pub"),
	    "counter", "staff", "KC-TEST");
	spit(P(f, 3, "ev.json"), payload, strlen(payload));
	state_listen(f, url, ulen, sock, slen);
}

/* `saksid FLAGS -c conf` (flags: NULL, or e.g. "-d" to log to stderr, "-dv") with stderr
 * into errlog (oflags as for spawn_ready), ready once its socket sock is there. The pid
 * is kept in f->pid for saksid_stop and the teardown. */
TU_UNUSED static pid_t
saksid_start(const char *saksid, struct scratch *f, const char *flags, const char *conf,
             const char *sock, const char *errlog, int oflags)
{
	char *argv[5];
	int n = 0;

	argv[n++] = (char *)saksid;
	if (flags != NULL)
		argv[n++] = (char *)flags;
	argv[n++] = (char *)"-c";
	argv[n++] = (char *)conf;
	argv[n] = NULL;
	f->pid = spawn_ready(argv, errlog, oflags, sock);
	return f->pid;
}

/* Stops the saksid of saksid_start; it must exit cleanly (stop_clean). */
TU_UNUSED static void
saksid_stop(struct scratch *f)
{
	stop_clean(f->pid);
	f->pid = -1;
}

/* ---- a ledger's LMDB, written directly: the tamperer's (or auditor's) view ---- */

struct raw {
	MDB_env *env;
	MDB_txn *txn;
};

/* Opens the ledger in dir read-write: dir/ledger.mdb (MDB_NOSUBDIR) if it exists, else
 * an environment directory dir. */
TU_UNUSED static void
raw_open(const char *dir, struct raw *r)
{
	char path[256];
	unsigned flags = MDB_NOSUBDIR;
	struct stat st;

	snprintf(path, sizeof(path), "%s/ledger.mdb", dir);
	if (stat(path, &st) != 0) {
		snprintf(path, sizeof(path), "%s", dir);
		flags = 0;
	}
	assert_int_equal(mdb_env_create(&r->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(r->env, 32), 0);
	assert_int_equal(mdb_env_set_mapsize(r->env, 64u << 20), 0);
	assert_int_equal(mdb_env_open(r->env, path, flags, 0600), 0);
	assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
}

TU_UNUSED static MDB_dbi
raw_db(struct raw *r, const char *name)
{
	MDB_dbi dbi;

	assert_int_equal(mdb_dbi_open(r->txn, name, 0, &dbi), 0);
	return dbi;
}

/* Commits what was written and closes the environment. */
TU_UNUSED static void
raw_close(struct raw *r)
{
	assert_int_equal(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
}

/* Every key and value of the database dbi in LMDB's order, as klen (2) || key || vlen
 * (2) || value, malloc'd, its length in *len: two databases (two ledgers' indexes, say)
 * hold the same records exactly when their dumps are equal. */
TU_UNUSED static uint8_t *
tu_db_dump(MDB_txn *mt, MDB_dbi dbi, size_t *len)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t *out = NULL;
	size_t n = 0;
	int rc;

	assert_int_equal(mdb_cursor_open(mt, dbi, &cur), 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		out = realloc(out, n + 4 + k.mv_size + v.mv_size);
		assert_non_null(out);
		out[n++] = (uint8_t)(k.mv_size >> 8);
		out[n++] = (uint8_t)k.mv_size;
		memcpy(out + n, k.mv_data, k.mv_size);
		n += k.mv_size;
		out[n++] = (uint8_t)(v.mv_size >> 8);
		out[n++] = (uint8_t)v.mv_size;
		memcpy(out + n, v.mv_data, v.mv_size);
		n += v.mv_size;
	}
	assert_int_equal(rc, MDB_NOTFOUND);
	mdb_cursor_close(cur);
	*len = n;
	return out;
}

/* ---- the day's personal numbers, for the greps ---- */

/* Personal numbers, digits only (a NIK, a KPJ, a phone's national number, an account),
 * and the lengths among them: what the personal-data tests grep their outputs for. */
struct tu_secrets {
	char **v;
	size_t n;
	size_t lens[8];
	size_t nlens;
};

/* The digits of v into out; a phone's +62 is dropped, as its national number stands for
 * the phone everywhere. */
TU_UNUSED static void
tu_digits(const char *v, char *out, size_t len)
{
	size_t o = 0;

	if (strncmp(v, "+62", 3) == 0)
		v += 3;
	for (; *v != '\0' && o + 1 < len; v++)
		if (*v >= '0' && *v <= '9')
			out[o++] = *v;
	out[o] = '\0';
}

/* Adds v's digits to s, unless v is NULL or has fewer than 8 (too short for a grep that
 * must not hit by chance). */
TU_UNUSED static void
tu_secret_add(struct tu_secrets *s, const char *v)
{
	char d[64];
	size_t o;

	if (v == NULL)
		return;
	tu_digits(v, d, sizeof(d));
	if ((o = strlen(d)) < 8)
		return;
	s->v = realloc(s->v, (s->n + 1) * sizeof(char *));
	assert_non_null(s->v);
	assert_non_null(s->v[s->n++] = strdup(d));
	for (size_t i = 0; i < s->nlens; i++)
		if (s->lens[i] == o)
			return;
	assert_true(s->nlens < 8);
	s->lens[s->nlens++] = o;
}

TU_UNUSED static void
tu_secrets_free(struct tu_secrets *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* strcmp for qsort/bsearch over an array of char *. */
TU_UNUSED static int
tu_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The grep of the personal-data tests: the first of the sorted secrets v[0..n) (digit
 * strings, of the nlens lengths in lens) found in buf[0..len), or NULL. Every window of
 * a secret's length in every run of digits is looked up, so a secret inside a longer
 * number is found too.
 */
TU_UNUSED static const char *
tu_find_secret(char *const *v, size_t n, const size_t *lens, size_t nlens, const char *buf,
               size_t len)
{
	char win[64];
	const char *key = win;

	for (size_t i = 0; i < len;) {
		size_t j = i;

		while (j < len && buf[j] >= '0' && buf[j] <= '9')
			j++;
		for (size_t k = 0; k < nlens; k++) {
			size_t l = lens[k];

			for (size_t st = i; l < sizeof(win) && st + l <= j; st++) {
				char **hit;

				memcpy(win, buf + st, l);
				win[l] = '\0';
				hit = bsearch(&key, v, n, sizeof(char *), tu_str_cmp);
				if (hit != NULL)
					return *hit;
			}
		}
		i = j > i ? j : i + 1;
	}
	return NULL;
}

#endif
