/*
 * daemon_run.h: what the tests that run the built saksid share: the daemon's key files,
 * keyring and config in the fixture's directory, saksid started with posix_spawn, the
 * saksi CLI run with its output in files, the wall clock. Header-only (static functions,
 * cmocka asserts) because every *_test.c is its own program: include it after <cmocka.h>
 * and daemon_fixture.h. Never used by the daemon or the CLI themselves.
 */
#ifndef SAKSI_DAEMON_RUN_H
#define SAKSI_DAEMON_RUN_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include <jansson.h>
#include <lmdb.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "bytes.h"
#include "keyring_fixture.h"
#include "ledger_fixture.h"
#include "client.h"
#include "ledger.h"
#include "outbox.h"
#include "rules.h"
#include "verify.h"
#include "wire.h"

#define DR_UNUSED __attribute__((unused))
#define DR_SAKSID SAKSI_BUILD_DIR "/saksid"
#define DR_SAKSI SAKSI_BUILD_DIR "/saksi"

extern char **environ;

/* How many times what stands in text (not overlapping). */
DR_UNUSED static size_t
dr_count(const char *text, const char *what)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
		n++;
	return n;
}

/* Wall-clock milliseconds: producer times must lie within the daemon's skew of its clock. */
DR_UNUSED static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define DR_NAME_LEN 256

/* The names that dr_write_conf's config gives in fx->dir, each into a DR_NAME_LEN buffer
 * (NULL: not wanted): the ingest URL, the alerts URL, the config, saksid's log (stderr)
 * and the ledger's directory. */
DR_UNUSED static void
dr_names(const struct fx *fx, char *url, char *alerts_url, char *conf, char *errlog,
         char *ledger_dir)
{
	if (url != NULL)
		snprintf(url, DR_NAME_LEN, "ipc://%s/ingest.sock", fx->dir);
	if (alerts_url != NULL)
		snprintf(alerts_url, DR_NAME_LEN, "ipc://%s/alerts.sock", fx->dir);
	if (conf != NULL)
		snprintf(conf, DR_NAME_LEN, "%s/saksid.conf", fx->dir);
	if (errlog != NULL)
		snprintf(errlog, DR_NAME_LEN, "%s/saksid.log", fx->dir);
	if (ledger_dir != NULL)
		snprintf(ledger_dir, DR_NAME_LEN, "%s/state/ledger", fx->dir);
}

/*
 * The fixture of a test that runs the built saksid: fx (keys, keyring, its directory),
 * the names dr_write_conf's config gives in it (dr_names), and the daemon's pid (-1:
 * none). dr_setup makes it, dr_start and dr_stop run the daemon, dr_teardown kills one
 * a failed assertion left running and frees the rest. The test writes its keys
 * (dr_save_keys) and config (dr_write_conf) in between.
 */
struct dr {
	struct fx fx;
	char url[DR_NAME_LEN], alerts_url[DR_NAME_LEN], conf[DR_NAME_LEN];
	char errlog[DR_NAME_LEN], ledger_dir[DR_NAME_LEN];
	pid_t pid;
};

/* fx_init (nextra more producer keys), the names, no daemon yet. */
DR_UNUSED static void
dr_setup(struct dr *d, size_t nextra)
{
	fx_init(&d->fx, nextra);
	dr_names(&d->fx, d->url, d->alerts_url, d->conf, d->errlog, d->ledger_dir);
	d->pid = -1;
}

/* Waits (bounded, 60 s) until the file at path holds `what` and returns its text
 * (malloc'd); the daemon pid, if above 0, must stay up meanwhile. */
DR_UNUSED static char *
dr_await_file(const char *path, const char *what, pid_t pid)
{
	for (int i = 0; i < 6000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		char *text = access(path, F_OK) == 0 ? fx_read(path, NULL) : NULL;

		if (text != NULL && strstr(text, what) != NULL)
			return text;
		free(text);
		if (pid > 0)
			assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
		nanosleep(&ts, NULL);
	}
	fail_msg("%s never held \"%s\"", path, what);
	return NULL;
}

/* The alert entries of the ledger in ledger_dir (opened read-only, saksid stopped), in
 * ledger order, into out and their leaf indexes into index (NULL: not wanted); fails the
 * test if there are more than max. Returns how many. */
DR_UNUSED static size_t
dr_ledger_alerts(const char *ledger_dir, saksi_alert *out, uint64_t *index, size_t max)
{
	saksi_ledger *l;
	saksi_ledger_txn *t;
	size_t n = 0;

	l = lf_open_ro(ledger_dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	for (uint64_t i = 0; i < saksi_ledger_size(t); i++) {
		saksi_leaf lf;
		uint8_t *leaf;
		size_t len;

		assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &len), SAKSI_OK);
		assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
		if (lf.lf_kind == SAKSI_LEAF_ALERT) {
			assert_true(n < max);
			assert_int_equal(saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len,
			                 &out[n]), SAKSI_OK);
			if (index != NULL)
				index[n] = i;
			n++;
		}
		free(leaf);
	}
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	return n;
}

/* Leaves in the ledger in ledger_dir now: read-only, beside a running saksid as LMDB
 * allows. */
DR_UNUSED static uint64_t
dr_ledger_size(const char *ledger_dir)
{
	saksi_ledger *l = lf_open_ro(ledger_dir);
	uint64_t n = lf_size(l);

	saksi_ledger_close(l);
	return n;
}

/* A loopback TCP port nobody listens on right now. */
DR_UNUSED static int
dr_free_port(void)
{
	struct sockaddr_in si;
	socklen_t sl = sizeof(si);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&si, 0, sizeof(si));
	si.sin_family = AF_INET;
	si.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&si, sizeof(si)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&si, &sl) != 0)
		abort();
	port = ntohs(si.sin_port);
	close(fd);
	return port;
}

/*
 * The op-1 submission of items[0..n) as it goes on the wire (FORMATS.md: version,
 * op, count, then each item's envelope and sealed disclosures, u32-length-prefixed),
 * built by hand and not by the client library, so that the tests fix the bytes.
 * malloc'd; its length in *len.
 */
DR_UNUSED static uint8_t *
dr_submit_req(const struct fx_item *items, size_t n, size_t *len)
{
	size_t off = 4;
	uint8_t *req;

	*len = 4;
	for (size_t i = 0; i < n; i++)
		*len += 8 + items[i].env_len + items[i].sealed_len;
	assert_non_null(req = malloc(*len));
	req[0] = 1;
	req[1] = SAKSI_OP_SUBMIT;
	saksi_put_u16(req + 2, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		saksi_put_u32(req + off, (uint32_t)items[i].env_len);
		memcpy(req + off + 4, items[i].env, items[i].env_len);
		off += 4 + items[i].env_len;
		saksi_put_u32(req + off, (uint32_t)items[i].sealed_len);
		if (items[i].sealed_len > 0)
			memcpy(req + off + 4, items[i].sealed, items[i].sealed_len);
		off += 4 + items[i].sealed_len;
	}
	return req;
}

/* One request to url over a fresh REQ socket, with a bounded wait (60 s) for the
 * answer: returns the reply (malloc'd, NUL-terminated), its length in *rlen. Fails the
 * test if none comes. */
DR_UNUSED static uint8_t *
dr_rpc(const char *url, const void *req, size_t len, size_t *rlen)
{
	int s = nn_socket(AF_SP, NN_REQ), to = 60000, max = -1, n;
	void *buf = NULL;
	uint8_t *reply;

	assert_true(s >= 0);
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max, sizeof(max));
	assert_true(nn_connect(s, url) >= 0);
	assert_int_equal(nn_send(s, req, len, 0), (int)len);
	n = nn_recv(s, &buf, NN_MSG, 0);
	if (n < 0)
		fail_msg("no reply from saksid: %s", nn_strerror(nn_errno()));
	assert_non_null(reply = malloc((size_t)n + 1));
	memcpy(reply, buf, (size_t)n);
	reply[n] = 0;
	nn_freemsg(buf);
	nn_close(s);
	*rlen = (size_t)n;
	return reply;
}

/* Submits the one item fi to url by hand (dr_submit_req, dr_rpc) and checks the
 * answer's framing; returns the item's result code, its text into text (NULL: not
 * wanted). */
DR_UNUSED static int
dr_submit1(const char *url, const struct fx_item *fi, char *text, size_t textlen)
{
	size_t len, rlen, tl;
	uint8_t *req = dr_submit_req(fi, 1, &len), *r;
	int code;

	r = dr_rpc(url, req, len, &rlen);
	free(req);
	assert_true(rlen >= 10);
	assert_int_equal(r[0], 1);
	assert_int_equal(r[1], SAKSI_OP_SUBMIT);
	assert_int_equal(r[2], 0);
	assert_int_equal(saksi_get_u16(r + 3), 1);
	code = r[5];
	tl = saksi_get_u32(r + 6);
	assert_int_equal(rlen, 10 + tl);
	if (text != NULL)
		snprintf(text, textlen, "%.*s", (int)tl, (const char *)r + 10);
	free(r);
	return code;
}

/*
 * Adds the key k to fx->keyring_json (fx->kr, which the in-process ingest holds, is
 * left as it was): name, role, branch, revoked at revoked_ms (0: never), after the
 * role itself (its events role.*) if the keyring has none yet. dr_save_keys with
 * DR_KEYRING then writes it.
 */
DR_UNUSED static void
dr_keyring_add(struct fx *fx, const saksi_seckey *k, const char *name, const char *role,
               const char *branch, uint64_t revoked_ms)
{
	json_t *root = json_loads(fx->keyring_json, JSON_REJECT_DUPLICATES, NULL), *roles, *e;
	char events[64];

	assert_non_null(root);
	roles = json_object_get(root, "roles");
	if (json_object_get(roles, role) == NULL) {
		snprintf(events, sizeof(events), "%s.*", role);
		assert_int_equal(json_object_set_new(roles, role, json_pack("[s]", events)), 0);
	}
	e = kf_entry(k, name, role, branch);
	if (revoked_ms != 0)
		json_object_set_new(e, "revoked_ms", json_integer((json_int_t)revoked_ms));
	assert_int_equal(json_array_append_new(json_object_get(root, "keys"), e), 0);
	free(fx->keyring_json);
	assert_non_null(fx->keyring_json = json_dumps(root, JSON_INDENT(2)));
	json_decref(root);
}

/*
 * fx's keyring JSON (malloc'd) with n more keys of role, derived from fx's seed (label
 * and name "prefix-i"), never revoked: all in branch, or, branch NULL, spread over the
 * 300 branches KC-B000 to KC-B299 as a national keyring is. Large enough, it is recorded
 * as a set of keyring parts.
 */
DR_UNUSED static char *
dr_keyring_more(const struct fx *fx, size_t n, const char *prefix, const char *role,
                const char *branch)
{
	json_t *root = json_loads(fx->keyring_json, JSON_REJECT_DUPLICATES, NULL), *keys;
	char label[32], spread[16], *out;
	saksi_seckey *k;

	assert_non_null(root);
	keys = json_object_get(root, "keys");
	for (size_t i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "%s-%zu", prefix, i);
		snprintf(spread, sizeof(spread), "KC-B%03zu", i % 300);
		k = fx_key(fx->seed, label, SAKSI_KEY_SIGN);
		assert_int_equal(json_array_append_new(keys, kf_entry(k, label, role,
		    branch != NULL ? branch : spread)), 0);
		saksi_seckey_free(k);
	}
	assert_non_null(out = json_dumps(root, JSON_INDENT(2)));
	json_decref(root);
	return out;
}

/* A signing key of fx's seed (fx_key with label), saved at fx->dir/file, that path
 * into path (DR_NAME_LEN bytes; NULL: not wanted). The caller frees the key. */
DR_UNUSED static saksi_seckey *
dr_new_key(const struct fx *fx, const char *label, const char *file, char *path)
{
	saksi_seckey *k = fx_key(fx->seed, label, SAKSI_KEY_SIGN);
	char p[DR_NAME_LEN];

	snprintf(p, sizeof(p), "%s/%s", fx->dir, file);
	assert_int_equal(saksi_seckey_save(k, p, NULL, label), SAKSI_OK);
	if (path != NULL)
		memcpy(path, p, sizeof(p));
	return k;
}

/* What dr_save_keys writes besides log.key, box.key and store.key. */
#define DR_INDEX_KEY 0x01  /* index.key: fx_key(seed, "index"), detection on */
#define DR_KEYRING 0x02    /* keyring.json: fx->keyring_json as it is now */
#define DR_BOX_PUB 0x04    /* box.pub: the box key's public half, for producers */

/* The daemon's key files in fx->dir, under the names dr_write_conf's config gives. */
DR_UNUSED static void
dr_save_keys(const struct fx *fx, int what)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/log.key", fx->dir);
	assert_int_equal(saksi_seckey_save(fx->log, path, NULL, "test log key"), SAKSI_OK);
	snprintf(path, sizeof(path), "%s/box.key", fx->dir);
	assert_int_equal(saksi_seckey_save(fx->box, path, NULL, "test box key"), SAKSI_OK);
	snprintf(path, sizeof(path), "%s/store.key", fx->dir);
	assert_int_equal(saksi_seckey_save(fx->store, path, NULL, "test store key"), SAKSI_OK);
	if (what & DR_INDEX_KEY) {
		saksi_seckey *index = fx_key(fx->seed, "index", SAKSI_KEY_SYM);

		snprintf(path, sizeof(path), "%s/index.key", fx->dir);
		assert_int_equal(saksi_seckey_save(index, path, NULL, "test index key"),
		                 SAKSI_OK);
		saksi_seckey_free(index);
	}
	if (what & DR_KEYRING) {
		snprintf(path, sizeof(path), "%s/keyring.json", fx->dir);
		fx_write(path, fx->keyring_json, strlen(fx->keyring_json), 0644);
	}
	if (what & DR_BOX_PUB) {
		snprintf(path, sizeof(path), "%s/box.pub", fx->dir);
		assert_int_equal(saksi_pubkey_save(&fx->box_pub, path, "test box key"), SAKSI_OK);
	}
}

/*
 * Writes a saksid config at path: a comment line (tests name config errors by line
 * number: the first line of fmt is line 10), the origin, state in ./state, ingest on
 * ipc://ingest.sock, the key files of dr_save_keys, the source tree's schemas; then the
 * lines of fmt (printf), which say what each test needs on top; last allow_root = yes.
 */
DR_UNUSED __attribute__((format(printf, 2, 3))) static void
dr_write_conf(const char *path, const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	int n;

	n = snprintf(text, sizeof(text),
	             "# generated for a saksi test\n"
	             "origin = %s\n"
	             "state_dir = state\n"
	             "listen = ipc://ingest.sock\n"
	             "keyring = keyring.json\n"
	             "log_key = log.key\n"
	             "box_key = box.key\n"
	             "store_key = store.key\n"
	             "schemas_dir = %s/schemas/events\n",
	             FX_ORIGIN, SAKSI_SOURCE_DIR);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	va_start(ap, fmt);
	n += vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	va_end(ap);
	assert_true((size_t)n < sizeof(text));
	/* The tests run as whoever runs them, root in CI: keep root, no sandbox user. */
	n += snprintf(text + n, sizeof(text) - (size_t)n, "allow_root = yes\n");
	assert_true((size_t)n < sizeof(text));
	fx_write(path, text, (size_t)n, 0644);
}

/* The source tree's schemas/rules/default.rules copied to fx->dir/name: a rules file of
 * the test's own, which it may rewrite (a reload) without touching the tree. */
DR_UNUSED static void
dr_default_rules(const struct fx *fx, const char *name)
{
	char path[DR_NAME_LEN + 64], *rules;
	size_t len;

	snprintf(path, sizeof(path), "%s/schemas/rules/default.rules", SAKSI_SOURCE_DIR);
	assert_non_null(rules = fx_read(path, &len));
	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	fx_write(path, rules, len, 0644);
	free(rules);
}

/* dr_setup (no extra producer key) for a test that runs one small saksid: the keys with
 * the keyring and box.pub saved, a config of one worker that closes a group at once,
 * in a 64 MiB map. */
DR_UNUSED static void
dr_setup_small(struct dr *d)
{
	dr_setup(d, 0);
	dr_save_keys(&d->fx, DR_KEYRING | DR_BOX_PUB);
	dr_write_conf(d->conf, "group_wait_us = 0\nworkers = 1\nmap_size_mb = 64\n");
}

/*
 * Starts saksid -c conf -d with stderr appended to errlog and returns its pid; does not
 * wait until it is ready. env: NULL, or one "NAME=value" for the daemon alone.
 * posix_spawn, not fork: some tests have threads running, and the child must take no lock.
 */
DR_UNUSED static pid_t
dr_saksid_start(const char *conf, const char *errlog, const char *env)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { (char *)"saksid", (char *)"-c", (char *)conf, (char *)"-d", NULL };
	char **envp = environ, **own = NULL;
	pid_t pid;

	if (env != NULL) {
		size_t n = 0, k = 0, nl = strcspn(env, "=");

		while (environ[n] != NULL)
			n++;
		own = calloc(n + 2, sizeof(*own));
		assert_non_null(own);
		for (size_t i = 0; i < n; i++)
			if (strncmp(environ[i], env, nl + 1) != 0)
				own[k++] = environ[i];
		own[k++] = (char *)env;
		envp = own;
	}
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, errlog,
	                                                  O_WRONLY | O_CREAT | O_APPEND, 0600), 0);
	assert_int_equal(posix_spawn(&pid, DR_SAKSID, &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	free(own);
	return pid;
}

/* Waits (bounded, 60 s) for the child pid (a dr_saksi in the background) to exit 0;
 * kills it and fails the test otherwise. */
DR_UNUSED static void
dr_await_exit0(pid_t pid)
{
	int st;

	for (int i = 0; i < 6000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			return;
		}
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("child %d did not finish", (int)pid);
}

/* Teardown's end of a daemon: SIGKILL and reap *pid if it is above 0, then *pid = -1.
 * Best effort, no asserts: a teardown must go on whatever the test left. */
DR_UNUSED static void
dr_kill(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = -1;
}

/*
 * Runs the saksi CLI with args (NULL-terminated, after the program name), stdout to the
 * file out and stderr to the file err (NULL: this program's). Returns the pid when
 * background is set (the caller waits), else waits and returns the exit status, failing
 * the test if saksi did not exit.
 */
DR_UNUSED static int
dr_saksi(int background, const char *out, const char *err, const char *const *args)
{
	posix_spawn_file_actions_t fa;
	char *argv[40];
	pid_t pid;
	int st, n = 0;

	argv[n++] = (char *)"saksi";
	while (*args != NULL) {
		assert_true(n < 39);
		argv[n++] = (char *)*args++;
	}
	argv[n] = NULL;
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, out,
	                                                  O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	if (err != NULL)
		assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, err,
		                 O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	assert_int_equal(posix_spawn(&pid, DR_SAKSI, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	if (background)
		return pid;
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Every alert entry of d's ledger once, numbered 1..n without a gap, at least min and at
 * most max of them, and `saksi replay --check` reproduces them byte for byte (an alert
 * lost or raised twice after a crash would differ). */
DR_UNUSED static void
dr_check_alerts(const struct dr *d, size_t min, size_t max)
{
	const char *args[] = { "replay", "--config", d->conf, "--check", "--quiet", NULL };
	char out[DR_NAME_LEN + 16], err[DR_NAME_LEN + 16], *text;
	saksi_alert *al;
	size_t n;

	assert_non_null(al = calloc(max, sizeof(*al)));
	n = dr_ledger_alerts(d->ledger_dir, al, NULL, max);
	printf("# %zu alert entries\n", n);
	assert_true(n >= min);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(al[i].al_id, i + 1);
	free(al);
	snprintf(out, sizeof(out), "%s/replay.out", d->fx.dir);
	snprintf(err, sizeof(err), "%s/replay.err", d->fx.dir);
	assert_int_equal(dr_saksi(0, out, err, args), 0);
	text = fx_read(out, NULL);
	printf("# %s", text);
	assert_non_null(strstr(text, ", 0 difference(s): the replay reproduces"));
	free(text);
}


#define DR_READY_POLLS 600  /* x 100 ms: a daemon not up by then has hung */

/*
 * Waits until the saksid *pid answers a checkpoint request at url: with log set, with a
 * checkpoint that verifies against it (and any other answer than a refusal, a timeout or
 * no connection fails the test); with refused_ok, a refusal (an empty log) is an answer
 * too. A bounded wait, not a timing assertion: fails the test, naming errlog, if the
 * daemon exits first (*pid is then -1) or never answers.
 */
DR_UNUSED static void
dr_await_ready(const char *url, const saksi_note_verifier *log, pid_t *pid,
               const char *errlog, int refused_ok)
{
	saksi_client_opts co;
	saksi_client *c;
	int polls;

	memset(&co, 0, sizeof(co));
	co.co_url = url;
	co.co_log = log;
	co.co_timeout_ms = 100;
	assert_int_equal(saksi_client_open(&co, &c), SAKSI_OK);
	for (polls = 0; polls < DR_READY_POLLS; polls++) {
		char *note = NULL;
		size_t len;
		saksi_err e = saksi_client_checkpoint(c, &note, &len);

		free(note);
		if (e == SAKSI_OK || (refused_ok && e == SAKSI_ERR_REFUSED))
			break;
		if (log != NULL)
			assert_true(e == SAKSI_ERR_TIMEOUT || e == SAKSI_ERR_NET ||
			            e == SAKSI_ERR_REFUSED);
		if (waitpid(*pid, NULL, WNOHANG) == *pid) {
			*pid = -1;
			saksi_client_close(c);
			fail_msg("saksid exited before it answered; see %s", errlog);
		}
		if (e != SAKSI_ERR_TIMEOUT) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };

			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		}
	}
	saksi_client_close(c);
	if (polls == DR_READY_POLLS)
		fail_msg("saksid did not answer; see %s", errlog);
}

/* Starts saksid on d's config and waits until it answers at d->url (an empty log's
 * refusal is an answer). */
DR_UNUSED static void
dr_start(struct dr *d)
{
	d->pid = dr_saksid_start(d->conf, d->errlog, NULL);
	dr_await_ready(d->url, &d->fx.v, &d->pid, d->errlog, 1);
}

/* Sends the saksid *pid sig and reaps it (*pid is then -1); stopped with SIGTERM, it
 * must have exited 0 (its log is errlog). */
DR_UNUSED static void
dr_stop_pid(pid_t *pid, int sig, const char *errlog)
{
	int st;

	assert_true(*pid > 0);
	assert_int_equal(kill(*pid, sig), 0);
	assert_int_equal(waitpid(*pid, &st, 0), *pid);
	*pid = -1;
	if (sig == SIGTERM && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		fail_msg("saksid did not stop cleanly on SIGTERM (status %d); see %s", st,
		         errlog);
}

/* dr_stop_pid for d's daemon. */
DR_UNUSED static void
dr_stop(struct dr *d, int sig)
{
	dr_stop_pid(&d->pid, sig, d->errlog);
}

/* The teardown's end of dr_setup: kills a daemon left running, frees fx, removes its
 * directory. */
DR_UNUSED static void
dr_teardown(struct dr *d)
{
	dr_kill(&d->pid);
	fx_free(&d->fx);
}

/* dr_setup_small as a cmocka setup, for the struct dr given as the test's initial
 * state (cmocka_unit_test_prestate_setup_teardown). */
DR_UNUSED static int
dr_cmocka_setup_small(void **state)
{
	dr_setup_small(*state);
	return 0;
}

/* dr_teardown as a cmocka teardown, for the struct dr the setup left in *state. */
DR_UNUSED static int
dr_cmocka_teardown(void **state)
{
	dr_teardown(*state);
	return 0;
}

/* ---- a state directory on a small tmpfs: the disk-full tests ---- */

/*
 * Mounts a tmpfs of `size` ("8m") on dir, in a mount namespace of this process's own
 * when it may make one (before any thread exists: the tmpfs then goes with the process
 * even if it dies before its teardown unmounts it). Skips the test where no tmpfs can be
 * mounted: `who` (the test) needs root.
 */
DR_UNUSED static void
dr_tmpfs_mount(const char *dir, const char *size, const char *who)
{
	char opts[64];

	snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
	if (unshare(CLONE_NEWNS) == 0) {
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
			fail_msg("cannot make our mounts private: %s", strerror(errno));
		printf("# in a mount namespace of our own\n");
	} else
		printf("# no mount namespace of our own (%s): teardown unmounts\n",
		       strerror(errno));
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) {
		printf("# cannot mount a tmpfs on %s (%s): %s needs root\n", dir, strerror(errno),
		       who);
		skip();
	}
}

/* The teardown's end of dr_tmpfs_mount: unmounts dir, or detaches it if it is busy. */
DR_UNUSED static void
dr_tmpfs_umount(const char *dir)
{
	if (umount(dir) != 0) {
		fprintf(stderr, "umount %s: %s; detaching it\n", dir, strerror(errno));
		umount2(dir, MNT_DETACH);
	}
}

/* Fills the file system of path with the file path until ENOSPC, in writes of `block`
 * bytes (at most 64 KiB: how finely it fills), then frees `keep` bytes of it. */
DR_UNUSED static void
dr_fill_disk(const char *path, off_t keep, size_t block)
{
	static const char zeros[64 * 1024];
	off_t size = 0;
	ssize_t w;
	int fd;

	assert_true(block > 0 && block <= sizeof(zeros));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	while ((w = write(fd, zeros, block)) > 0)
		size += w;
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(ftruncate(fd, size > keep ? size - keep : 0), 0);
	close(fd);
}

/* A producer of fx's queue key: a client of url that checks receipts against the log's
 * key, and its outbox in ob_dir. */
DR_UNUSED static void
dr_producer_open(const struct fx *fx, const char *url, const char *ob_dir, saksi_client **cl,
                 saksi_outbox **ob)
{
	saksi_client_opts co;
	saksi_outbox_opts oo;

	memset(&co, 0, sizeof(co));
	co.co_url = url;
	co.co_log = &fx->v;
	co.co_timeout_ms = 60000;
	assert_int_equal(saksi_client_open(&co, cl), SAKSI_OK);
	memset(&oo, 0, sizeof(oo));
	oo.ob_log = &fx->v;
	oo.ob_key = fx->prod[FX_QUEUE];
	oo.ob_box_pk = fx->box_pub.pk_key;
	oo.ob_schemas = fx->sc;
	assert_int_equal(saksi_outbox_open(ob_dir, &oo, ob), SAKSI_OK);
}

/* A producer's client of d's saksid: signs with k, seals disclosures to d's box key,
 * checks receipts against the log's key, waits up to 60 s for an answer. */
DR_UNUSED static void
dr_client_open(const struct dr *d, const saksi_seckey *k, saksi_client **c)
{
	saksi_client_opts co;

	memset(&co, 0, sizeof(co));
	co.co_url = d->url;
	co.co_key = k;
	co.co_box_pk = d->fx.box_pub.pk_key;
	co.co_log = &d->fx.v;
	co.co_schemas = d->fx.sc;
	co.co_timeout_ms = 60000;
	assert_int_equal(saksi_client_open(&co, c), SAKSI_OK);
}

/* Submits items[0..n), signed by k, as they are (the same bytes again after a kill) in
 * one request through the client library: each must be accepted or, with dup_ok, a
 * duplicate of what a killed saksid had committed. */
DR_UNUSED static void
dr_submit_items(const struct dr *d, const saksi_seckey *k, const struct fx_item *items,
                size_t n, int dup_ok)
{
	const uint8_t *env[SAKSI_WIRE_BATCH_MAX], *sealed[SAKSI_WIRE_BATCH_MAX];
	size_t env_len[SAKSI_WIRE_BATCH_MAX], sealed_len[SAKSI_WIRE_BATCH_MAX];
	saksi_result *res;
	saksi_client *c;

	assert_true(n > 0 && n <= SAKSI_WIRE_BATCH_MAX);
	assert_non_null(res = calloc(n, sizeof(*res)));
	dr_client_open(d, k, &c);
	for (size_t i = 0; i < n; i++) {
		env[i] = items[i].env;
		env_len[i] = items[i].env_len;
		sealed[i] = items[i].sealed;
		sealed_len[i] = items[i].sealed_len;
	}
	assert_int_equal(saksi_client_submit_raw(c, env, env_len, sealed, sealed_len, n, res),
	                 SAKSI_OK);
	for (size_t i = 0; i < n; i++) {
		if (res[i].sr_code != SAKSI_R_ACCEPTED &&
		    !(dup_ok && res[i].sr_code == SAKSI_R_DUPLICATE))
			fail_msg("item %zu: code %d, %s", i, res[i].sr_code, res[i].sr_message);
		saksi_result_clear(&res[i]);
	}
	free(res);
	saksi_client_close(c);
}

/*
 * The rule state in ledger_dir of a stopped saksid (RULES.md 4.4): 0 if it has no 'N'
 * record (its windows are in LMDB); else 1, and the tail a start in memory mode would
 * evaluate again, the leaves [N's next leaf, C's next leaf): its bounds into from and to
 * (NULL: not wanted), the events among them into events.
 */
DR_UNUSED static int
dr_rules_tail(const char *ledger_dir, uint64_t *from_out, uint64_t *to_out,
              uint64_t *events)
{
	saksi_ledger *l;
	saksi_ledger_txn *t;
	MDB_txn *mt;
	MDB_dbi dbi;
	MDB_val k = { 1, "N" }, v;
	uint64_t from, to;
	int rc;

	*events = 0;
	l = lf_open_ro(ledger_dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	assert_non_null(mt = saksi_ledger_txn_mdb(t));
	assert_int_equal(mdb_dbi_open(mt, SAKSI_RULES_DB, 0, &dbi), 0);
	if ((rc = mdb_get(mt, dbi, &k, &v)) == MDB_NOTFOUND) {
		saksi_ledger_abort(t);
		saksi_ledger_close(l);
		printf("# rules: no tail (windows in LMDB)\n");
		return 0;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(v.mv_size, 34);
	from = saksi_get_u64((const uint8_t *)v.mv_data + 26);
	k.mv_data = "C";
	assert_int_equal(mdb_get(mt, dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, 17);
	to = saksi_get_u64((const uint8_t *)v.mv_data + 9);
	if (from == UINT64_MAX)
		from = to;        /* no event evaluated since the first snapshot */
	assert_true(from <= to && to <= saksi_ledger_size(t));
	for (uint64_t i = from; i < to; i++) {
		saksi_leaf lf;
		uint8_t *leaf;
		size_t len;

		assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &len), SAKSI_OK);
		assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
		*events += lf.lf_kind == SAKSI_LEAF_EVENT;
		free(leaf);
	}
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	printf("# rules: tail leaves %llu..%llu, %llu events\n", (unsigned long long)from,
	       (unsigned long long)to, (unsigned long long)*events);
	if (from_out != NULL)
		*from_out = from;
	if (to_out != NULL)
		*to_out = to;
	return 1;
}

/*
 * A saksid fixture (d) whose state_dir is a directory made apart (state: a tmpfs on it
 * for the disk-full tests, dr_ob_mount; filler: the file that fills it), with a producer
 * of the queue key sending through an outbox (cl, ob in ob_dir, dr_ob_open) and the
 * number of the next booking it queues (next_seq). dr_ob_setup makes it, dr_ob_teardown
 * undoes whatever of it a test left.
 */
struct dr_ob {
	struct dr d;
	char state[DR_NAME_LEN], filler[DR_NAME_LEN + 16], ob_dir[DR_NAME_LEN];
	int mounted;
	saksi_client *cl;
	saksi_outbox *ob;
	uint64_t next_seq;
};

/* dr_setup, the state directory, and dr_save_keys(what). */
DR_UNUSED static void
dr_ob_setup(struct dr_ob *o, int what)
{
	dr_setup(&o->d, 0);
	snprintf(o->state, sizeof(o->state), "%s/state", o->d.fx.dir);
	snprintf(o->filler, sizeof(o->filler), "%s/filler", o->state);
	snprintf(o->ob_dir, sizeof(o->ob_dir), "%s/outbox", o->d.fx.dir);
	o->mounted = 0;
	o->cl = NULL;
	o->ob = NULL;
	o->next_seq = 1;
	assert_int_equal(mkdir(o->state, 0700), 0);
	dr_save_keys(&o->d.fx, what);
}

/* A tmpfs of `size` on the state directory (dr_tmpfs_mount: skips without root). */
DR_UNUSED static void
dr_ob_mount(struct dr_ob *o, const char *size, const char *who)
{
	dr_tmpfs_mount(o->state, size, who);
	o->mounted = 1;
}

/* The producer (dr_producer_open) of the running saksid. */
DR_UNUSED static void
dr_ob_open(struct dr_ob *o)
{
	dr_producer_open(&o->d.fx, o->d.url, o->ob_dir, &o->cl, &o->ob);
}

/* Queues n bookings in the outbox, each of another participant (its NIK and booking id
 * from next_seq), with their personal fields; seq from the outbox. */
DR_UNUSED static void
dr_ob_bookings(struct dr_ob *o, size_t n)
{
	char nik[32], bk[32], *p;
	const char *set[] = { "nik", nik, "booking_id", bk, NULL };
	uint64_t seq, id;

	for (size_t i = 0; i < n; i++) {
		snprintf(nik, sizeof(nik), "737105450780%04u", (unsigned)(o->next_seq % 10000));
		snprintf(bk, sizeof(bk), "BK-%06llu", (unsigned long long)o->next_seq);
		o->next_seq++;
		p = fx_payload("queue.booking.created", set);
		assert_int_equal(saksi_outbox_enqueue_event(o->ob, "queue.booking.created", p,
		                 wall_ms(), 0, &seq, &id), SAKSI_OK);
		free(p);
	}
}

/* The events the outbox holds that no answer has settled yet. */
DR_UNUSED static uint64_t
dr_ob_pending(struct dr_ob *o)
{
	saksi_outbox_status st;

	assert_int_equal(saksi_outbox_stat(o->ob, &st), SAKSI_OK);
	return st.os_pending;
}

/* The teardown's end of dr_ob_setup: the producer closed, a daemon left running killed,
 * the tmpfs unmounted, fx freed. */
DR_UNUSED static void
dr_ob_teardown(struct dr_ob *o)
{
	saksi_outbox_close(o->ob);
	saksi_client_close(o->cl);
	dr_kill(&o->d.pid);
	if (o->mounted)
		dr_tmpfs_umount(o->state);
	fx_free(&o->d.fx);
}

/*
 * Rules that alert on nearly every booking, so that every tail a start evaluates again
 * has alerts to find: DR_RULES_BOOKINGS, a device with two bookings in an hour
 * (DR_RULE_TWO_BOOKINGS) and with three distinct NIKs (DR_RULE_THREE_NIKS), each rule
 * after DR_RULES_HEAD's selection.
 */
#define DR_RULES_HEAD \
    "saksi-rules 1\nlateness 1m\nselect book\n  match queue.booking.created\n"
#define DR_RULE_TWO_BOOKINGS \
    "rule two_bookings\n  type event_count\n  severity medium\n  events book\n" \
    "  group-by device_id\n  timespan 1h\n  condition gte 2\n  suppress 0s\n" \
    "  reraise never\n"
#define DR_RULE_THREE_NIKS \
    "rule three_niks\n  type value_count\n  severity high\n  events book\n" \
    "  group-by device_id\n  field nik\n  timespan 1h\n  condition gte 3\n" \
    "  suppress 1h\n  reraise 1\n"
#define DR_RULES_BOOKINGS DR_RULES_HEAD DR_RULE_TWO_BOOKINGS DR_RULE_THREE_NIKS

#endif
