/*
 * main.c: saksid's one audited start-up sequence: config, keys, keyring, schemas, ledger,
 * then the server; waits for SIGTERM/SIGINT and stops cleanly, and reloads the keyring and
 * the rules on SIGHUP (keeping the old ones if a new file does not load). Runs in the foreground
 * (systemd supervises it); -d logs to stderr instead of syslog, -v adds a line per commit
 * group. Exit codes: 0 clean stop, 1 usage, configuration or key error (fix the files),
 * 2 system error (retry may help). Never logs a payload or a disclosure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <sodium.h>

#include "blind.h"
#include "datakey.h"
#include "commit.h"
#include "config.h"
#include "ingest.h"
#include "keylog.h"
#include "keyreload.h"
#include "keys.h"
#include "ledger.h"
#include "log.h"
#include "note.h"
#include "rules.h"
#include "rulestail.h"
#include "sandbox.h"
#include "schema.h"
#include "server.h"

#define EXIT_CONFIG 1
#define EXIT_SYSTEM 2

static const char usage[] = "usage: saksid -c FILE [-d] [-v]\n";

/* Loads one of the daemon's secret keys; prints what to do on failure. */
static int
load_key(const saksid_log *lg, const char *what, const char *path, int kind,
         saksi_seckey **out)
{
	static const char *const kinds[] = { "?", "SIGN", "BOX", "SYM" };
	struct stat st;
	saksi_err e;
	int k;

	e = saksi_seckey_load(path, NULL, out);
	if (e == SAKSI_ERR_PERM) {
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			saksid_logf(lg, LOG_ERR, "%s %s is a symbolic link; name the key file "
			            "itself", what, path);
		else
			saksid_logf(lg, LOG_ERR, "%s %s is readable by others; run chmod 600 %s",
			            what, path, path);
		return EXIT_CONFIG;
	}
	if (e == SAKSI_ERR_PASSPHRASE) {
		saksid_logf(lg, LOG_ERR, "%s %s is passphrase-protected or damaged; saksid "
		            "needs an unprotected key file (mode 0600)", what, path);
		return EXIT_CONFIG;
	}
	if (e != SAKSI_OK) {
		saksid_logf(lg, LOG_ERR, "%s %s: %s", what, path, saksi_strerror(e));
		return e == SAKSI_ERR_NOMEM || e == SAKSI_ERR_IO ? EXIT_SYSTEM : EXIT_CONFIG;
	}
	if ((k = saksi_seckey_kind(*out)) != kind) {
		saksid_logf(lg, LOG_ERR, "%s %s is a %s key; it must be a %s key", what, path,
		            k >= 1 && k <= 3 ? kinds[k] : "?", kinds[kind]);
		saksi_seckey_free(*out);
		*out = NULL;
		return EXIT_CONFIG;
	}
	return 0;
}

/*
 * What the start's tail (RULES.md 4.4, rulestail.h) did, on one line: the events
 * evaluated again after the last snapshot and the alerts they found again in the log;
 * a mismatch is an error that names the leaf, and what to do.
 */
static void
log_tail(const saksid_log *lg, const saksid_config *cf, saksid_committer *cm, saksi_err e,
         const char *why, int start)
{
	saksid_rules_tail t;

	saksid_commit_rules_tail(cm, &t);
	if (!t.rt_memory)
		return;
	if (e == SAKSI_OK) {
		if (!start)
			return;   /* a reload: no tail (RULES.md 4.4) */
		saksid_logf(lg, LOG_INFO, "rules: %s%llu events evaluated again from entry %llu "
		            "up to %llu (after the last snapshot), %llu alerts found again in the "
		            "log, in %llu ms", why, (unsigned long long)t.rt_events,
		            (unsigned long long)t.rt_from, (unsigned long long)t.rt_to,
		            (unsigned long long)t.rt_refound, (unsigned long long)t.rt_ms);
		return;
	}
	if (t.rt_bad == UINT64_MAX)
		return;   /* not a mismatch: the caller logs the error */
	if (t.rt_bad < t.rt_to)
		saksid_logf(lg, LOG_ERR, "rules %s: evaluating the entries after the last "
		            "snapshot again (from %llu up to %llu), entry %llu raised an alert the "
		            "log does not hold (%llu events evaluated before it, %llu alerts found "
		            "again): the rule state does not belong to these rules or this "
		            "ledger", cf->cf_rules,
		            (unsigned long long)t.rt_from, (unsigned long long)t.rt_to,
		            (unsigned long long)t.rt_bad, (unsigned long long)t.rt_events,
		            (unsigned long long)t.rt_refound);
	else
		saksid_logf(lg, LOG_ERR, "rules %s: evaluating the entries after the last "
		            "snapshot again (from %llu up to %llu, %llu events) found %llu of the log's "
		            "alerts again, not up to its last, alert %llu: the rule state does "
		            "not belong to these rules or this ledger", cf->cf_rules,
		            (unsigned long long)t.rt_from, (unsigned long long)t.rt_to,
		            (unsigned long long)t.rt_events, (unsigned long long)t.rt_refound,
		            (unsigned long long)t.rt_log_last);
	saksid_logf(lg, LOG_ERR, "rules %s: the last saksid stopped without a snapshot "
	            "(kill -9, a crash) and ran other rules than these, or the state is "
	            "damaged; start it once with the rules file that ran then, and stop it with "
	            "SIGTERM, which writes a snapshot; then change the rules", cf->cf_rules);
}

/* Parses the rules file; *r in memory mode when events > 0. The bytes parsed in *text
 * (the caller frees them): what status says of the file is about these. */
static int
parse_rules(const saksid_log *lg, const saksid_config *cf, uint64_t events, uint64_t ms,
            saksi_rules **r, char **text, size_t *len)
{
	char err[512];
	saksi_err e;

	err[0] = '\0';
	e = saksi_rules_load_text(cf->cf_rules, cf->cf_schemas_dir, r, text, len, err,
	    sizeof(err));
	if (e != SAKSI_OK) {
		saksid_logf(lg, LOG_ERR, "rules %s", err[0] != '\0' ? err : saksi_strerror(e));
		return e == SAKSI_ERR_NOMEM || e == SAKSI_ERR_IO ? EXIT_SYSTEM : EXIT_CONFIG;
	}
	/* Windows in memory, snapshots in the ledger's transactions (RULES.md 4.4). */
	if (events > 0 && saksi_rules_memory(*r, events, ms) != SAKSI_OK) {
		saksi_rules_free(*r);
		*r = NULL;
		free(*text);
		*text = NULL;
		return EXIT_SYSTEM;
	}
	return 0;
}

/* Hands r to the committer; what the start's tail did is logged. */
static int
attach_rules(const saksid_log *lg, const saksid_config *cf, saksid_committer *cm,
             saksi_rules *r, const char *why, int start)
{
	saksi_err e;

	e = saksid_commit_rules_set(cm, r);
	log_tail(lg, cf, cm, e, why, start);
	if (e != SAKSI_OK) {
		saksid_logf(lg, LOG_ERR, "rules %s: the rule state cannot be attached: %s",
		            cf->cf_rules, saksi_strerror(e));
		return e == SAKSI_ERR_VERSION || e == SAKSI_ERR_CORRUPT ? EXIT_CONFIG : EXIT_SYSTEM;
	}
	return 0;
}

/*
 * Loads the rules file named by the config and hands it to the committer. In LMDB mode
 * (rules_snapshot_events = 0), a state last written in memory mode by a saksid that did
 * not stop cleanly has a tail (RULES.md 4.4) that only memory mode can evaluate again,
 * and attaching in LMDB mode would drop it: the windows would lack those events (an
 * alert lost, or raised twice). So the same rules are attached in memory mode first,
 * the tail evaluated again and checked against the log, and the LMDB-mode attach then
 * writes their snapshot in its own transaction: the state it starts from is complete.
 */
/* The detour's snapshot interval: above any tail (rules_snapshot_events is at most
 * 100000000), so that the tail is evaluated again as one run, as at a memory-mode start. */
#define SWITCH_SNAPSHOT_EVENTS 100000000ull

static int
load_rules(const saksid_log *lg, const saksid_config *cf, saksid_committer *cm,
           saksi_ledger *ledger, char **text, size_t *len)
{
	saksi_rules *r = NULL;
	uint64_t from = 0, to = 0;
	saksi_err e;
	int rc;

	*text = NULL;
	*len = 0;

	if (cf->cf_rules_snapshot_events == 0 && ledger != NULL) {
		if ((e = saksid_rules_pending_tail(ledger, &from, &to)) != SAKSI_OK) {
			saksid_logf(lg, LOG_ERR, "rules %s: the rule state cannot be read: %s",
			            cf->cf_rules, saksi_strerror(e));
			return e == SAKSI_ERR_CORRUPT ? EXIT_CONFIG : EXIT_SYSTEM;
		}
		if (from < to) {
			saksid_logf(lg, LOG_NOTICE, "rules: the windows were kept in memory by a "
			            "saksid that did not stop cleanly; entries from %llu up to %llu "
			            "are evaluated again in memory before rules_snapshot_events = 0 "
			            "keeps them in the ledger", (unsigned long long)from,
			            (unsigned long long)to);
			rc = parse_rules(lg, cf, SWITCH_SNAPSHOT_EVENTS, 0, &r, text, len);
			if (rc == 0)
				rc = attach_rules(lg, cf, cm, r, "switching to LMDB mode: ", 1);
			free(*text);
			*text = NULL;
			if (rc != 0)
				return rc;
		}
	}
	if ((rc = parse_rules(lg, cf, cf->cf_rules_snapshot_events, cf->cf_rules_snapshot_ms,
	                      &r, text, len)) != 0)
		return rc;
	if ((rc = attach_rules(lg, cf, cm, r, "", ledger != NULL)) != 0) {
		free(*text);
		*text = NULL;
	}
	return rc;
}

/* Gives dir (+ name) to the drop account, if any; logs why it cannot. */
static int
sandbox_own(const saksid_sandbox *sb, const saksid_log *lg, const char *dir,
            const char *name)
{
	char path[4200], err[512];

	snprintf(path, sizeof(path), "%s%s", dir, name != NULL ? name : "");
	if (saksid_sandbox_chown(sb, path, err, sizeof(err)) != SAKSI_OK) {
		saksid_logf(lg, LOG_ERR, "%s", err);
		return -1;
	}
	return 0;
}

/* 1 if the (real, dropped) user may create and remove names in the directory of path. */
static int
sandbox_dir_writable(const char *path)
{
	char dir[4200];
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return access(".", W_OK | X_OK) == 0;
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	return access(dir, W_OK | X_OK) == 0;
}

/* The directory of an ipc:// URL's socket, opened O_PATH so that the socket file can be
 * removed at stop under the filter (sandbox.h); *base points into url. -1 on failure. */
static int
ipc_dir_open(const char *url, const char **base)
{
	const char *path = url + 6, *slash = strrchr(path, '/');
	char dir[4200];

	if (slash == NULL) {
		*base = path;
		return open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	*base = slash + 1;
	return open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/*
 * Bounds the connections: every one is a file descriptor, so once everything else is
 * open (ledger, sockets, logs, nanomsg's own) the soft RLIMIT_NOFILE becomes the files
 * open now, a few spare (a rules reload opens one), and max_connections. A connection
 * past it waits in the kernel's backlog until one closes.
 */
#define FD_SPARE 8
static void
limit_connections(const saksid_log *lg, unsigned max)
{
	struct rlimit rl;
	struct dirent *de;
	DIR *d;
	rlim_t open_now = 0, want;

	if ((d = opendir("/proc/self/fd")) == NULL) {
		saksid_logf(lg, LOG_WARNING, "max_connections %u: /proc/self/fd: %s; "
		            "connections are bounded by the open files limit only", max,
		            strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL)
		open_now += de->d_name[0] != '.';
	closedir(d);
	want = open_now + FD_SPARE + (rlim_t)max;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max) {
		saksid_logf(lg, LOG_WARNING, "max_connections %u: the hard limit on open files "
		            "is %llu; at most %llu connections", max,
		            (unsigned long long)rl.rlim_max,
		            (unsigned long long)(rl.rlim_max > open_now + FD_SPARE ?
		                                 rl.rlim_max - open_now - FD_SPARE : 0));
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		saksid_logf(lg, LOG_WARNING, "max_connections %u: setrlimit: %s", max,
		            strerror(errno));
}

static int
mkdir_private(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

/* The end of the background index catch-up (commit.h), logged from its thread. */
static void
index_done(void *arg, const saksid_index_stats *ix, uint64_t upto, saksi_err e)
{
	const saksid_log *lg = arg;

	/* Only the end that caught up: failures are index_retry's, and retried. */
	(void)upto;
	(void)e;
	saksid_logf(lg, LOG_INFO, "indexes: %s, %llu events indexed from entry %llu "
	            "(%llu without their personal fields: disclosures did not open)",
	            ix->is_reset ? "rebuilt for another index_key" : "caught up",
	            (unsigned long long)ix->is_events, (unsigned long long)ix->is_from,
	            (unsigned long long)ix->is_undisclosed);
}

/* Each failure of the background index catch-up, and its recovery (commit.h): the
 * catch-up tries again by itself, so the log says when, and when it worked. */
static void
index_retry(void *arg, uint64_t upto, saksi_err e, uint64_t row, uint64_t wait_ms)
{
	const saksid_log *lg = arg;

	if (e != SAKSI_OK)
		saksid_logf(lg, LOG_ERR, "indexes: the catch-up failed at entry %llu: %s "
		            "(%llu in a row); trying again in %llu s, queries cover entries below "
		            "it meanwhile (saksi status shows it)", (unsigned long long)upto,
		            saksi_strerror(e), (unsigned long long)row,
		            (unsigned long long)((wait_ms + 999) / 1000));
	else
		saksid_logf(lg, LOG_NOTICE, "indexes: the catch-up goes on from entry %llu "
		            "after %llu failure(s)", (unsigned long long)upto,
		            (unsigned long long)row);
}

/*
 * What the status op and the reload log line say about the rules (FORMATS.md 3.3
 * "rules"): the file's SHA-256, and per rule its definition's hash, to name the rules a
 * SIGHUP added, removed or changed. A definition is its "rule ID" line and the indented
 * lines under it, comments and blank lines left out: a changed selection or join a rule
 * uses changes the file's hash, not the rule's.
 */
struct rule_sum {
	char id[128];
	uint8_t h[crypto_hash_sha256_BYTES];
};

struct rules_sum {
	struct rule_sum *r;
	size_t n;
	uint8_t file_h[crypto_hash_sha256_BYTES];
	uint64_t loaded_ms;
	int reloaded;            /* a SIGHUP was handled: reload_ms and reload_ok say how */
	uint64_t reload_ms;
	int reload_ok;
};

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sums up the rules file's bytes as parsed (text, len bytes, NUL-terminated; consumed:
 * freed here) into *out; 0 or -1. */
static int
rules_summarise(char *text, size_t len, struct rules_sum *out)
{
	crypto_hash_sha256_state hs;
	struct rule_sum *cur = NULL;
	char *line, *next;

	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return -1;
	crypto_hash_sha256((uint8_t *)out->file_h, (const uint8_t *)text, len);
	for (line = text; line < text + len; line = next) {
		char *p;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		else
			next = text + len;
		if (line[0] == ' ' || line[0] == '\t') {
			for (p = line; *p == ' ' || *p == '\t'; p++)
				;
			if (cur != NULL && *p != '\0' && *p != '#') {
				crypto_hash_sha256_update(&hs, (const uint8_t *)p, strlen(p));
				crypto_hash_sha256_update(&hs, (const uint8_t *)"\n", 1);
			}
			continue;
		}
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (cur != NULL)
			crypto_hash_sha256_final(&hs, cur->h);
		cur = NULL;
		if (strncmp(line, "rule ", 5) == 0) {
			struct rule_sum *r = realloc(out->r, (out->n + 1) * sizeof(*r));

			if (r == NULL) {
				free(out->r);
				free(text);
				memset(out, 0, sizeof(*out));
				return -1;
			}
			out->r = r;
			cur = &r[out->n++];
			snprintf(cur->id, sizeof(cur->id), "%.*s", (int)strcspn(line + 5, " \t#"),
			    line + 5);
			crypto_hash_sha256_init(&hs);
		}
	}
	if (cur != NULL)
		crypto_hash_sha256_final(&hs, cur->h);
	free(text);
	return 0;
}

static const struct rule_sum *
rule_find(const struct rules_sum *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->r[i].id, id) == 0)
			return &s->r[i];
	return NULL;
}

/* Appends ", id" (or "id") to buf, or "..." once it is full. */
static void
list_add(char *buf, size_t len, const char *id)
{
	size_t n = strlen(buf);

	if (n + strlen(id) + 6 >= len) {
		if (n < 3 || strcmp(buf + n - 3, "...") != 0)
			snprintf(buf + n, len - n, "%s...", n > 0 ? ", " : "");
		return;
	}
	snprintf(buf + n, len - n, "%s%s", n > 0 ? ", " : "", id);
}

/* The reload's one line: what the new rules added, removed and changed, by id. Each list
 * is cut ("...") at 256 bytes, so that the line fits saksid's log line. */
static void
log_rules_diff(const saksid_log *lg, const char *path, const struct rules_sum *old,
               const struct rules_sum *cur)
{
	char added[256] = "", removed[256] = "", changed[256] = "", hex[65];
	const struct rule_sum *o;

	for (size_t i = 0; i < cur->n; i++) {
		if ((o = rule_find(old, cur->r[i].id)) == NULL)
			list_add(added, sizeof(added), cur->r[i].id);
		else if (sodium_memcmp(o->h, cur->r[i].h, sizeof(o->h)) != 0)
			list_add(changed, sizeof(changed), cur->r[i].id);
	}
	for (size_t i = 0; i < old->n; i++)
		if (rule_find(cur, old->r[i].id) == NULL)
			list_add(removed, sizeof(removed), old->r[i].id);
	sodium_bin2hex(hex, sizeof(hex), cur->file_h, sizeof(cur->file_h));
	saksid_logf(lg, LOG_INFO, "rules %s reloaded: %zu rule%s, sha256 %s; added: %s; "
	            "removed: %s; changed: %s", path, cur->n, cur->n == 1 ? "" : "s", hex,
	            added[0] != '\0' ? added : "none", removed[0] != '\0' ? removed : "none",
	            changed[0] != '\0' ? changed : "none");
}

/* The status op's "rules" member, handed to the committer for the status thread. */
static void
rules_publish(const saksid_log *lg, const char *path, saksid_committer *cm,
              const struct rules_sum *s)
{
	char hex[65], *text;
	json_t *o, *rl;

	sodium_bin2hex(hex, sizeof(hex), s->file_h, sizeof(s->file_h));
	rl = s->reloaded ? json_pack("{s:I, s:b}", "time_ms", (json_int_t)s->reload_ms, "ok",
	    s->reload_ok) : json_null();
	o = json_pack("{s:s, s:s, s:I, s:I, s:o}", "file", path, "sha256", hex, "count",
	    (json_int_t)s->n, "loaded_ms", (json_int_t)s->loaded_ms, "last_reload", rl);
	text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (text == NULL || saksid_commit_rules_info_set(cm, text) != SAKSI_OK)
		saksid_logf(lg, LOG_ERR, "rules: out of memory for the status");
	free(text);
	json_decref(o);
}

int
main(int argc, char **argv)
{
	saksid_config cf;
	saksid_log lg;
	saksi_seckey *log_key = NULL, *box_key = NULL, *store_key = NULL, *index_key = NULL;
	saksi_seckey *ret_key = NULL, *access_key = NULL;
	saksi_datakeys *qdk = NULL;
	saksi_blind *blind = NULL;
	int alerts_sock = -1;
	saksi_keyring *kr = NULL;
	saksid_keyfile kf = { 0 };   /* kr's file: its ledger entries, hash (keyreload.h) */
	saksid_keyreload kl = { 0 }; /* the keyring in force, reloaded on SIGHUP */
	uint64_t kidx = UINT64_MAX;  /* its ledger entry */
	saksi_schemas *sc = NULL;
	saksid_ingest *ig = NULL;
	saksi_ledger *ledger = NULL;
	saksi_ledger_opts lo;
	saksi_ledger_txn *txn;
	saksid_committer *cm = NULL;
	saksi_datakeys *dk = NULL;
	saksid_shred *shred = NULL;
	char *dk_slots = NULL, *dk_master = NULL;
	saksid_commit_opts co;
	saksid_server *srv = NULL;
	saksid_server_opts so;
	saksid_server_stats st;
	struct rules_sum rsum = { .r = NULL };
	char *rtext = NULL;          /* the rules file as last parsed, until summarised */
	size_t rlen = 0;
	saksid_sandbox sb;
	int ipc_dir[SAKSID_LISTEN_MAX + 1];
	const char *ipc_base[SAKSID_LISTEN_MAX + 1];
	size_t nipc = 0;
	saksi_pubkey pub;
	sigset_t sigs;
	char err[512], vkey[SAKSI_VKEY_MAX + 1], *ledger_dir = NULL, *stored = NULL;
	char urls[SAKSID_LISTEN_MAX * (SAKSID_URL_MAX + 1)], uid_text[24];
	const char *conf = NULL;
	uint64_t size = 0;
	int c, to_stderr = 0, verbose = 0, rc = EXIT_SYSTEM, sig, state_new;
	saksi_err e;

	memset(&cf, 0, sizeof(cf));
	memset(&sb, 0, sizeof(sb));
	while ((c = getopt(argc, argv, "c:dv")) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'd': to_stderr = 1; break;
		case 'v': verbose = 1; break;
		default: fputs(usage, stderr); return EXIT_CONFIG;
		}
	}
	if (conf == NULL || optind != argc) {
		fputs(usage, stderr);
		return EXIT_CONFIG;
	}
	saksid_log_init(&lg, to_stderr, verbose);
	if (sodium_init() < 0) {
		saksid_logf(&lg, LOG_ERR, "libsodium failed to initialise");
		return EXIT_SYSTEM;
	}
	if ((e = saksid_config_load(conf, &cf, err, sizeof(err))) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "%s", err[0] != '\0' ? err : saksi_strerror(e));
		return e == SAKSI_ERR_NOMEM ? EXIT_SYSTEM : EXIT_CONFIG;
	}
	/* No core file and no ptrace before the first key is read (sandbox.h). */
	if (saksid_sandbox_nodump() != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "cannot disable core dumps: %s", strerror(errno));
		rc = EXIT_SYSTEM;
		goto out;
	}
	if ((e = saksid_sandbox_prepare(cf.cf_user, cf.cf_group, cf.cf_allow_root, &sb, err,
	                                sizeof(err))) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "%s: %s", cf.cf_path, err);
		rc = e == SAKSI_ERR_IO ? EXIT_SYSTEM : EXIT_CONFIG;
		goto out;
	}

	/* Signals: every thread inherits this mask; only sigwait below sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The ipc socket and the ledger files: owner and group only. */
	umask(007);

	if ((rc = load_key(&lg, "log_key", cf.cf_log_key, SAKSI_KEY_SIGN, &log_key)) != 0 ||
	    (rc = load_key(&lg, "box_key", cf.cf_box_key, SAKSI_KEY_BOX, &box_key)) != 0 ||
	    (rc = load_key(&lg, "store_key", cf.cf_store_key, SAKSI_KEY_SYM, &store_key)) != 0)
		goto out;
	if (cf.cf_retention_key != NULL &&
	    (rc = load_key(&lg, "retention_key", cf.cf_retention_key, SAKSI_KEY_SIGN,
	                   &ret_key)) != 0)
		goto out;
	if (cf.cf_access_key != NULL &&
	    (rc = load_key(&lg, "access_key", cf.cf_access_key, SAKSI_KEY_SIGN,
	                   &access_key)) != 0)
		goto out;
	if (cf.cf_index_key != NULL) {
		if ((rc = load_key(&lg, "index_key", cf.cf_index_key, SAKSI_KEY_SYM,
		                   &index_key)) != 0)
			goto out;
		rc = EXIT_SYSTEM;
		if (saksi_blind_new(saksi_seckey_sym(index_key), &blind) != SAKSI_OK)
			goto out;
		/* The blinding context keeps its own guarded copy. */
		saksi_seckey_free(index_key);
		index_key = NULL;
	}
	rc = EXIT_CONFIG;
	if ((e = saksid_keyfile_load(cf.cf_keyring, &kf, err, sizeof(err))) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "keyring %s: %s", cf.cf_keyring,
		            err[0] != '\0' ? err : saksi_strerror(e));
		goto out;
	}
	kr = kf.kf_kr;   /* kf's, freed with it */
	err[0] = '\0';
	if ((e = saksi_schemas_load(cf.cf_schemas_dir, &sc, err, sizeof(err))) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "schemas %s: %s", cf.cf_schemas_dir,
		            err[0] != '\0' ? err : saksi_strerror(e));
		goto out;
	}
	if ((e = saksid_ingest_new(kr, sc, box_key, &ig)) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "box_key %s: %s", cf.cf_box_key, saksi_strerror(e));
		goto out;
	}
	/* The workers blind each event for the rules, so that the committer only evaluates. */
	if (cf.cf_rules != NULL)
		saksid_ingest_detect(ig, blind);
	/* And make each event's index keys, so that the committer only writes them. */
	if (blind != NULL)
		saksid_ingest_index(ig, blind);
	/* The box key stays (in guarded memory): a keyring reload derives the disclosure
	 * keys of the keys it adds, and remote queries open their sealed filters with it. */

	if (saksi_seckey_public(log_key, &pub) != SAKSI_OK ||
	    saksi_note_vkey_format(cf.cf_origin, pub.pk_key, vkey, sizeof(vkey)) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "origin %s cannot name a note key", cf.cf_origin);
		goto out;
	}
	rc = EXIT_SYSTEM;
	if ((ledger_dir = malloc(strlen(cf.cf_state_dir) + sizeof("/ledger"))) == NULL)
		goto out;
	sprintf(ledger_dir, "%s/ledger", cf.cf_state_dir);
	/* A state dir made now is given to the drop account; an existing one may hold more
	 * than the ledger (saksi init puts the keys there) and stays as it is. */
	state_new = access(cf.cf_state_dir, F_OK) != 0;
	if (mkdir_private(cf.cf_state_dir) != 0 || mkdir_private(ledger_dir) != 0) {
		saksid_logf(&lg, LOG_ERR, "cannot create %s: %s", ledger_dir, strerror(errno));
		goto out;
	}
	memset(&lo, 0, sizeof(lo));
	lo.lo_map_size = cf.cf_map_size_mb << 20;
	lo.lo_dict_after = cf.cf_dict_after;
	/* A group's meta page is synced by the server's syncer while the committer takes
	 * the next group; every other commit syncs before it returns (ledger.h). */
	lo.lo_meta_async = 1;
	if ((e = saksi_ledger_open(ledger_dir, cf.cf_origin, vkey, &lo, &ledger)) != SAKSI_OK) {
		if (e == SAKSI_ERR_KEY)
			saksid_logf(&lg, LOG_ERR, "ledger %s belongs to another origin than %s",
			            ledger_dir, cf.cf_origin);
		else
			saksid_logf(&lg, LOG_ERR, "cannot open ledger %s: %s", ledger_dir,
			            saksi_strerror(e));
		rc = e == SAKSI_ERR_KEY || e == SAKSI_ERR_VERSION ? EXIT_CONFIG : EXIT_SYSTEM;
		goto out;
	}
	/* The ledger records the key its checkpoints are signed with: another log key
	 * would sign a history that verifiers of this log would reject. */
	if ((e = saksi_ledger_begin(ledger, 0, &txn)) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "ledger %s: %s", ledger_dir, saksi_strerror(e));
		goto out;
	}
	size = saksi_ledger_size(txn);
	e = saksi_ledger_meta(txn, "vkey", &stored);
	saksi_ledger_abort(txn);
	if (e != SAKSI_OK || strcmp(stored, vkey) != 0) {
		saksid_logf(&lg, LOG_ERR, "log_key %s is not the key of ledger %s (it was made "
		            "for %s)", cf.cf_log_key, ledger_dir, e == SAKSI_OK ? stored : "?");
		rc = EXIT_CONFIG;
		goto out;
	}
	if ((state_new && sandbox_own(&sb, &lg, cf.cf_state_dir, NULL) != 0) ||
	    sandbox_own(&sb, &lg, ledger_dir, NULL) != 0 ||
	    sandbox_own(&sb, &lg, ledger_dir, "/data.mdb") != 0 ||
	    sandbox_own(&sb, &lg, ledger_dir, "/lock.mdb") != 0)
		goto out;

	/*
	 * Per-participant data keys: the slot file beside data.mdb (so a backup carries it),
	 * the master file outside the ledger directory (so no backup does: FORMATS.md 7.2).
	 */
	if ((dk_slots = malloc(strlen(ledger_dir) + sizeof("/datakeys"))) == NULL ||
	    (dk_master = malloc(strlen(cf.cf_state_dir) + sizeof("/datakeys.master"))) == NULL)
		goto out;
	sprintf(dk_slots, "%s/datakeys", ledger_dir);
	sprintf(dk_master, "%s/datakeys.master", cf.cf_state_dir);
	if ((e = saksi_dk_open(dk_slots, dk_master, store_key, 1, 1, &dk)) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "data keys %s, %s: %s%s", dk_slots, dk_master,
		            saksi_strerror(e), e == SAKSI_ERR_KEY ? " (made under another "
		            "store_key)" : e == SAKSI_ERR_PERM ? "; run chmod 600 on them" : "");
		rc = e == SAKSI_ERR_KEY || e == SAKSI_ERR_PERM ? EXIT_CONFIG : EXIT_SYSTEM;
		goto out;
	}
	/* Written in place through the descriptors open now; the drop account must be able
	 * to open them at its next start (and saksi backup to read the slots). */
	if (sandbox_own(&sb, &lg, dk_slots, NULL) != 0 ||
	    sandbox_own(&sb, &lg, dk_master, NULL) != 0)
		goto out;
	if ((e = saksid_shred_new(dk, store_key, &shred)) != SAKSI_OK)
		goto out;
	/* The workers do the part of it that does not need the ledger's order. */
	saksid_ingest_shred(ig, shred);
	/* Remote queries read disclosures through a reader's handle of their own. */
	if (access_key != NULL &&
	    (e = saksi_dk_open(dk_slots, dk_master, store_key, 0, 0, &qdk)) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "data keys for queries: %s", saksi_strerror(e));
		goto out;
	}
	/* An access entry the verifier could not check would be a hole in the record. */
	if (access_key != NULL) {
		const saksi_keyring_entry *ake = saksi_keyring_find(kr, saksi_seckey_id(access_key));

		/* Two writers of one key's sequence numbers would refuse each other's entries. */
		if (ret_key != NULL && memcmp(saksi_seckey_id(ret_key),
		                              saksi_seckey_id(access_key), SAKSI_KEYID_LEN) == 0) {
			saksid_logf(&lg, LOG_ERR, "access_key %s is the retention_key: give each "
			            "its own key", cf.cf_access_key);
			rc = EXIT_CONFIG;
			goto out;
		}
		if (ake == NULL || strcmp(ake->ke_branch, "*") != 0 ||
		    !saksi_keyring_role_allows(kr, ake->ke_role, "supervisor.access.logged")) {
			saksid_logf(&lg, LOG_ERR, "access_key %s must be in the keyring %s with "
			            "role supervisor and branch \"*\" (it signs remote queries' "
			            "access entries)", cf.cf_access_key, cf.cf_keyring);
			rc = EXIT_CONFIG;
			goto out;
		}
	}
	/* A shred the verifier could not check would be a hole in the record. */
	if (cf.cf_retention_days != 0 &&
	    saksi_keyring_find(kr, saksi_seckey_id(ret_key)) == NULL) {
		saksid_logf(&lg, LOG_ERR, "retention_key %s is not in the keyring %s: add its "
		            "public key with role supervisor and branch \"*\"",
		            cf.cf_retention_key, cf.cf_keyring);
		rc = EXIT_CONFIG;
		goto out;
	}

	memset(&co, 0, sizeof(co));
	co.co_ledger = ledger;
	co.co_shred = shred;
	co.co_datakeys = dk;
	co.co_retention_ms = (uint64_t)cf.cf_retention_days * 86400000ull;
	co.co_retention_key = cf.cf_retention_days != 0 ? ret_key : NULL;
	co.co_origin = cf.cf_origin;
	co.co_log_key = log_key;
	co.co_store_key = store_key;
	co.co_max_clock_skew_ms = cf.cf_max_clock_skew_ms;
	co.co_max_event_age_ms = cf.cf_max_event_age_ms;
	co.co_blind = blind;
	/* Served at once: the indexes catch up behind the groups (saksid_commit_index_start). */
	co.co_index_background = 1;
	co.co_sync_later = 1;
	co.co_index_batch = cf.cf_index_catchup_batch;
	co.co_index_done = index_done;
	co.co_index_retry = index_retry;
	co.co_index_arg = &lg;
	co.co_refusal_window_ms = cf.cf_refusal_alert_window_s * 1000;
	co.co_refusal_threshold = cf.cf_refusal_alert_threshold;
	co.co_ack_timeout_ms = cf.cf_rules != NULL ? cf.cf_alert_ack_timeout_s * 1000 : 0;
	if (cf.cf_alerts_listen != NULL) {
		if ((alerts_sock = nn_socket(AF_SP, NN_PUB)) < 0 ||
		    nn_bind(alerts_sock, cf.cf_alerts_listen) < 0) {
			saksid_logf(&lg, LOG_ERR, "alerts_listen %s: %s", cf.cf_alerts_listen,
			            nn_strerror(nn_errno()));
			goto out;
		}
		co.co_alerts_on = 1;
		co.co_alerts_sock = alerts_sock;
	}
	if ((e = saksid_commit_new(&co, &cm)) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "committer: %s", saksi_strerror(e));
		goto out;
	}
	if (blind != NULL) {
		const saksid_index_stats *ix = saksid_commit_index_stats(cm);
		uint64_t ix_upto;
		int ix_behind;
		saksi_err ix_err;

		if (saksid_commit_index_progress(cm, &ix_upto, &ix_behind, &ix_err) && ix_behind)
			saksid_logf(&lg, LOG_INFO, "indexes: %scover entries below %llu of %llu; "
			            "the rest is indexed in the background, %u entries a "
			            "transaction (saksi status shows how far)", ix->is_reset ?
			            "rebuilt for another index_key: " : "",
			            (unsigned long long)ix_upto, (unsigned long long)size,
			            cf.cf_index_catchup_batch);
	}
	/* Before any event: the events are checked with this keyring, so the ledger says so
	 * first (FORMATS.md 4, kind 4), unless its last keyring entry is this one. */
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		e = saksid_commit_keyring_parts(cm, (const uint8_t *const *)kf.kf_parts.kp_body,
		                                kf.kf_parts.kp_len, kf.kf_parts.kp_n,
		                                (uint64_t)ts.tv_sec * 1000 +
		                                (uint64_t)ts.tv_nsec / 1000000, &kidx);
		if (e != SAKSI_OK) {
			saksid_logf(&lg, LOG_ERR, "keyring entry: %s", saksi_strerror(e));
			rc = EXIT_SYSTEM;
			goto out;
		}
		if (kf.kf_parts.kp_n == 1)
			saksid_logf(&lg, LOG_INFO, "keyring %s: recorded at entry %llu",
			            cf.cf_keyring, (unsigned long long)kidx);
		else
			saksid_logf(&lg, LOG_INFO, "keyring %s: recorded at entries %llu-%llu",
			            cf.cf_keyring, (unsigned long long)kidx,
			            (unsigned long long)(kidx + kf.kf_parts.kp_n - 1));
	}
	/* Before the server starts: the first event is already evaluated, and alerts left
	 * unpublished by a crash go out now. */
	if (cf.cf_rules != NULL && (rc = load_rules(&lg, &cf, cm, ledger, &rtext, &rlen)) != 0)
		goto out;
	if (cf.cf_rules != NULL) {
		(void)rules_summarise(rtext, rlen, &rsum);
		rtext = NULL;
		rsum.loaded_ms = wall_ms();
		rules_publish(&lg, cf.cf_rules, cm, &rsum);
	}
	if (cf.cf_retention_days != 0) {
		uint64_t forgotten = 0;
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		e = saksid_commit_retention(cm, (uint64_t)ts.tv_sec * 1000 +
		                            (uint64_t)ts.tv_nsec / 1000000, &forgotten);
		if (e != SAKSI_OK) {
			saksid_logf(&lg, LOG_ERR, "retention at start: %s", saksi_strerror(e));
			rc = EXIT_SYSTEM;
			goto out;
		}
		saksid_logf(&lg, LOG_INFO, "retention: %u days, %llu participants forgotten at "
		            "start; checked again with the first group of each hour",
		            cf.cf_retention_days, (unsigned long long)forgotten);
	}
	rc = EXIT_SYSTEM;

	memset(&so, 0, sizeof(so));
	so.so_listen = (const char *const *)cf.cf_listen;
	so.so_nlisten = cf.cf_nlisten;
	so.so_ledger = ledger;
	so.so_ingest = ig;
	/* The server's once bound: a keyring reload frees it (and wipes its disclosure
	 * keys) when no worker checks with it any more. */
	so.so_ingest_owned = 1;
	so.so_committer = cm;
	so.so_workers = cf.cf_workers;
	so.so_group_max = cf.cf_group_max;
	so.so_group_wait_us = cf.cf_group_wait_us;
	so.so_trace = cf.cf_trace_requests;
	so.so_log = &lg;
	so.so_key_inflight = cf.cf_max_inflight_per_key;
	so.so_queue_bytes = (size_t)cf.cf_queue_mb << 20;
	so.so_queue_reqs = cf.cf_queue_requests;
	so.so_state_dir = cf.cf_state_dir;
	so.so_origin = cf.cf_origin;
	if (access_key != NULL) {
		so.so_keyring = kr;
		so.so_blind = blind;
		so.so_store_key = store_key;
		so.so_query_dk = qdk;
		so.so_box_key = box_key;
		so.so_log_key = log_key;
		so.so_access_key = access_key;
		so.so_query_max_age_ms = cf.cf_max_query_age_ms;
	}
	/* Re-raises are due at most a quarter of the timeout late (and a second at most). */
	if (co.co_ack_timeout_ms > 0)
		so.so_tick_ms = co.co_ack_timeout_ms >= 4000 ? 1000 :
		    (unsigned)(co.co_ack_timeout_ms / 4);
	/* Retention is checked on the same tick (hourly in effect: it sets its own mark). */
	if (co.co_retention_ms > 0 && so.so_tick_ms == 0)
		so.so_tick_ms = 1000;
	/* Bound, not serving: its threads start after the sandbox, below. */
	if ((e = saksid_server_bind(&so, &srv, err, sizeof(err))) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "%s", err[0] != '\0' ? err : saksi_strerror(e));
		goto out;
	}
	ig = NULL;   /* the server's now */
	limit_connections(&lg, cf.cf_max_connections);
	{
		/* What a SIGHUP reloads the keyring with: the start's context, as set up. */
		saksid_keyreload_opts ko;

		memset(&ko, 0, sizeof(ko));
		ko.ko_path = cf.cf_keyring;
		ko.ko_sc = sc;
		ko.ko_box = box_key;
		ko.ko_detect = cf.cf_rules != NULL ? blind : NULL;
		ko.ko_index = blind;
		ko.ko_shred = shred;
		ko.ko_log = &lg;
		ko.ko_access_id = access_key != NULL ? saksi_seckey_id(access_key) : NULL;
		ko.ko_retention_id = cf.cf_retention_days != 0 ? saksi_seckey_id(ret_key) : NULL;
		if (saksid_keyreload_init(&kl, &ko, &kf, kidx, wall_ms()) != SAKSI_OK ||
		    saksid_keyreload_publish(&kl, srv) != SAKSI_OK) {
			saksid_logf(&lg, LOG_ERR, "keyring: out of memory");
			goto out;
		}
	}
	/* Everything is open (no request is served yet): the sandbox closes over it. */
	for (size_t i = 0; i < cf.cf_nlisten; i++)
		if (strncmp(cf.cf_listen[i], "ipc://", 6) == 0 &&
		    sandbox_own(&sb, &lg, cf.cf_listen[i] + 6, NULL) != 0)
			goto out;
	if (cf.cf_alerts_listen != NULL && strncmp(cf.cf_alerts_listen, "ipc://", 6) == 0 &&
	    sandbox_own(&sb, &lg, cf.cf_alerts_listen + 6, NULL) != 0)
		goto out;
	if ((e = saksid_sandbox_drop(&sb, err, sizeof(err))) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "cannot drop root for user %s: %s", sb.sb_user, err);
		goto out;
	}
	/* nanomsg 1.1.5 aborts if it cannot remove an ipc socket file when it closes it;
	 * the filter turns that removal into a harmless ENOENT, so only seccomp = no can
	 * hit it, after a drop to a user who may not write the socket's directory. */
	for (size_t i = 0; sb.sb_drop && !cf.cf_seccomp && i <= cf.cf_nlisten; i++) {
		const char *u = i < cf.cf_nlisten ? cf.cf_listen[i] : cf.cf_alerts_listen;

		if (u != NULL && strncmp(u, "ipc://", 6) == 0 && !sandbox_dir_writable(u + 6))
			saksid_logf(&lg, LOG_WARNING, "user %s may not write the directory of %s: "
			            "with seccomp = no, nanomsg aborts at stop when it cannot "
			            "remove the socket (nothing acknowledged is lost)", sb.sb_user,
			            u + 6);
	}
	if (saksid_sandbox_nnp() != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "cannot set no_new_privs: %s", strerror(errno));
		goto out;
	}
	/* The socket files are removed at stop through their directories' descriptors: the
	 * filter lets nothing be deleted by path. */
	for (size_t i = 0; i <= cf.cf_nlisten; i++) {
		const char *u = i < cf.cf_nlisten ? cf.cf_listen[i] : cf.cf_alerts_listen;

		if (u != NULL && strncmp(u, "ipc://", 6) == 0 &&
		    (ipc_dir[nipc] = ipc_dir_open(u, &ipc_base[nipc])) >= 0)
			nipc++;
	}
	if (cf.cf_seccomp && (e = saksid_sandbox_seccomp(ipc_dir, nipc, err,
	                                                 sizeof(err))) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "%s", err);
		goto out;
	}
	snprintf(uid_text, sizeof(uid_text), "%u", (unsigned)getuid());
	urls[0] = '\0';
	for (size_t i = 0; i < cf.cf_nlisten; i++) {
		if (i > 0)
			strcat(urls, " ");
		strcat(urls, cf.cf_listen[i]);
	}
	saksid_logf(&lg, LOG_INFO, "started: origin %s, ledger %s with %llu entries, "
	            "%zu keys, %zu event types, %u workers, listening on %s", cf.cf_origin,
	            ledger_dir, (unsigned long long)size, saksi_keyring_count(kr),
	            saksi_schemas_count(sc), cf.cf_workers, urls);
	{
		/* Slots given to participants (the counter), and the rest: made ahead. */
		saksi_ledger_txn *gt;
		uint64_t given = 0;

		if (saksi_ledger_begin(ledger, 0, &gt) == SAKSI_OK) {
			(void)saksid_shred_given(gt, &given);
			saksi_ledger_abort(gt);
		}
		saksid_logf(&lg, LOG_INFO, "data keys: %llu slots, master generation %llu, "
		            "%llu forgotten at start, %llu made ahead", (unsigned long long)given,
		            (unsigned long long)saksi_dk_generation(dk),
		            (unsigned long long)saksid_shred_wiped(shred),
		            (unsigned long long)(saksi_dk_slots(dk) > given ?
		            saksi_dk_slots(dk) - given : 0));
	}
	saksid_logf(&lg, LOG_INFO, "sandbox: %s%s%s, no_new_privs, no core dumps, seccomp %s",
	            sb.sb_drop ? "dropped root for user " : sb.sb_root ? "running as root" :
	            "running as uid ", sb.sb_drop ? sb.sb_user : "",
	            sb.sb_drop || sb.sb_root ? "" : uid_text, cf.cf_seccomp ? "on" : "OFF");
	if (cf.cf_rules != NULL)
		saksid_logf(&lg, LOG_INFO, "detection: rules %s, alerts on %s", cf.cf_rules,
		            cf.cf_alerts_listen != NULL ? cf.cf_alerts_listen :
		            "the ledger only");
	/* Under the filter too, beside the groups: its own thread, its own transactions. */
	if (blind != NULL && (e = saksid_commit_index_start(cm)) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "index catch-up: %s", saksi_strerror(e));
		goto out;
	}
	/* Only now, as the drop account and under the filter, are requests taken off the
	 * sockets: one sent while saksid started has waited in nanomsg's queue. */
	if ((e = saksid_server_run(srv, err, sizeof(err))) != SAKSI_OK) {
		saksid_logf(&lg, LOG_ERR, "%s", err[0] != '\0' ? err : saksi_strerror(e));
		goto out;
	}
	saksid_logf(&lg, LOG_INFO, "serving");

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGUSR1) {
			/* The stage trace so far, then a fresh one (trace_requests). */
			saksid_server_trace_log(srv);
			continue;
		}
		/* The keyring first: a revocation is what a reload is most often for. */
		if (sig == SIGHUP)
			(void)saksid_keyreload_run(&kl, srv, wall_ms());
		if (sig == SIGHUP && cf.cf_rules != NULL &&
		    load_rules(&lg, &cf, cm, NULL, &rtext, &rlen) == 0) {
			struct rules_sum now;

			(void)rules_summarise(rtext, rlen, &now);
			rtext = NULL;
			log_rules_diff(&lg, cf.cf_rules, &rsum, &now);
			free(rsum.r);
			rsum = now;
			rsum.loaded_ms = rsum.reload_ms = wall_ms();
			rsum.reloaded = rsum.reload_ok = 1;
			rules_publish(&lg, cf.cf_rules, cm, &rsum);
		} else if (sig == SIGHUP && cf.cf_rules != NULL) {
			saksid_logf(&lg, LOG_ERR, "rules %s not reloaded: the old rules stay",
			            cf.cf_rules);
			rsum.reload_ms = wall_ms();
			rsum.reloaded = 1;
			rsum.reload_ok = 0;
			rules_publish(&lg, cf.cf_rules, cm, &rsum);
		}
	}
	saksid_logf(&lg, LOG_INFO, "stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	saksid_server_stop(srv, &st);
	srv = NULL;
	/* The rules' memory written out: the next start has no tail to evaluate again. */
	if (cf.cf_rules != NULL && saksid_commit_rules_set(cm, NULL) != SAKSI_OK)
		saksid_logf(&lg, LOG_ERR, "rules: the last snapshot was not written; the next "
		            "start evaluates the tail again");
	saksid_logf(&lg, LOG_INFO, "stopped: %llu requests, %llu groups, %llu accepted, "
	            "%llu duplicate, %llu refused as busy, tree size %llu",
	            (unsigned long long)st.ss_requests, (unsigned long long)st.ss_groups,
	            (unsigned long long)st.ss_items[SAKSI_R_ACCEPTED],
	            (unsigned long long)st.ss_items[SAKSI_R_DUPLICATE],
	            (unsigned long long)st.ss_busy,
	            (unsigned long long)(saksid_commit_size(cm) > size ? saksid_commit_size(cm)
	                                                              : size));
	rc = 0;

out:
	free(rsum.r);
	saksid_server_stop(srv, NULL);
	saksid_commit_free(cm);
	saksid_shred_free(shred);
	saksi_dk_close(dk);
	saksi_dk_close(qdk);
	free(dk_slots);
	free(dk_master);
	if (alerts_sock >= 0)
		nn_close(alerts_sock);
	/* Every socket is closed: their files go (nanomsg's own unlink got ENOENT). */
	for (size_t i = 0; i < nipc; i++) {
		(void)unlinkat(ipc_dir[i], ipc_base[i], 0);
		close(ipc_dir[i]);
	}
	saksi_blind_free(blind);
	saksi_seckey_free(index_key);
	if (ledger != NULL)
		saksi_ledger_close(ledger);
	saksid_ingest_free(ig);
	saksi_schemas_free(sc);
	saksid_keyfile_clear(&kf);   /* and kr */
	saksid_keyreload_clear(&kl);
	saksi_seckey_free(log_key);
	saksi_seckey_free(box_key);
	saksi_seckey_free(store_key);
	saksi_seckey_free(ret_key);
	saksi_seckey_free(access_key);
	free(ledger_dir);
	free(stored);
	saksid_config_free(&cf);
	return rc;
}
