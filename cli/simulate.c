/*
 * simulate.c: saksi simulate: runs the traffic simulator (lib/sim.h) and either writes the
 * events as JSON lines (--dry-run) or signs each with its own producer's key and submits
 * it through the client library, which checks every receipt. It creates and registers only
 * the simulator's producer keys (STATE/producers); it never touches any other key.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"
#include "client.h"
#include "config.h"
#include "keys.h"
#include "rules.h"
#include "schema.h"
#include "sim.h"
#include "simulate.h"
#include "wire.h"

static const char usage[] =
    "saksi simulate --state DIR [--url URL] [--branches N] [--days N] [--seed S]\n"
    "       [--brokers none|low|medium|high] [--start YYYY-MM-DD] [--truth FILE]\n"
    "       [--batch N] [--window MS] [--timeout MS] [--vkey VKEY | --vkey-file F]\n"
    "       [--schemas DIR] [--register-only] [--dry-run --out FILE.jsonl|-] [--quiet]\n"
    "       [--evaluate [--ledger DIR] [--json]]\n"
    "   or: saksi simulate --evaluate-only --truth FILE (--state DIR | --ledger DIR) [--json]";

#define MAX_OPEN_CLIENTS 64    /* nanomsg has 512 sockets in all; stay well below */
#define SEQ_BLOCK 4096         /* sequence numbers reserved on disk at a time */
#define RETRIES 6              /* for "unavailable": the daemon asks us to come back */

struct producer {
	const saksi_sim_producer *sp;
	saksi_seckey *key;
	saksi_client *cl;
	uint64_t used;             /* tick of the last use, to close the least recent client */
	uint64_t seq, reserved;    /* last sequence given, highest one recorded on disk */
	saksi_event *ev;
	int *scen;
	uint64_t *sidx;            /* stream index of each buffered event */
	size_t n;
	uint64_t first_t;          /* producer time of the oldest buffered event */
};

struct tally {
	uint64_t generated, sent, accepted, duplicate, receipts, retries;
	uint64_t refused[SAKSI_R__COUNT];
	uint64_t sc_events[SAKSI_SIM__COUNT], sc_signal[SAKSI_SIM__COUNT];
	uint64_t sc_accepted[SAKSI_SIM__COUNT];
	uint64_t first_t, last_t;
};

struct run {
	const char *state, *url, *pdir;
	struct producer *p;
	size_t np;
	size_t batch;
	uint64_t window, tick;
	int timeout, open_clients;
	saksi_schemas *schemas;
	saksi_note_verifier log;
	saksi_pubkey box;
	json_t *seqs;              /* producers/seq.json: name -> highest reserved seq */
	char *seqpath;
	struct tally t;
	uint64_t *leaves;          /* ledger index of each stream event, UINT64_MAX if none */
	size_t nleaves, capleaves;
	json_t *truth;             /* for --evaluate */
};

static char *
path_join(const char *dir, const char *name, const char *ext)
{
	size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
	char *p = xmalloc(n);

	snprintf(p, n, "%s/%s%s", dir, name, ext);
	return p;
}

/* A "key = value" line of saksid.conf, or NULL. */
static char *
conf_value(const char *conf, const char *key)
{
	const char *line = conf;
	size_t kl = strlen(key);

	while (line != NULL && *line != '\0') {
		const char *eol = strchr(line, '\n'), *v;
		size_t n = eol != NULL ? (size_t)(eol - line) : strlen(line);

		if (n > kl && strncmp(line, key, kl) == 0 && (line[kl] == ' ' || line[kl] == '=')) {
			v = line + kl;
			while (v < line + n && (*v == ' ' || *v == '='))
				v++;
			while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\r'))
				n--;
			if (v < line + n) {
				char *out = xmalloc((size_t)(line + n - v) + 1);

				memcpy(out, v, (size_t)(line + n - v));
				out[line + n - v] = '\0';
				return out;
			}
		}
		line = eol != NULL ? eol + 1 : NULL;
	}
	return NULL;
}

static int64_t
parse_date(const char *s)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0')
		xusage(usage, "--start: expected YYYY-MM-DD, got \"%s\"", s);
	return (int64_t)(timegm(&tm) / 86400);
}

static void
fmt_day(int64_t day, char out[16])
{
	time_t t = (time_t)(day * 86400);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

/*
 * The default period ends three days before today, so that every event (payments come up
 * to two days after a service day) lies in the past. saksid must accept that old a
 * producer time: see the hint printed on clock_skew refusals.
 */
static int64_t
default_start(unsigned days)
{
	int64_t d = (int64_t)(now_ms() / 86400000) - 3;
	unsigned left = days;

	for (;;) {
		int wd = (int)(((d % 7) + 11) % 7);

		if (wd != 0 && wd != 6 && --left == 0)
			return d;
		d--;
	}
}

/*
 * saksid refuses producer times further than max_clock_skew_ms (default 5 minutes) from
 * its clock, and a simulated period lies days in the past. --register-only, the step
 * before saksid starts, widens the tolerance of a state directory that does not set one.
 */
#define SKEW_FOR_SIMULATION 2678400000ULL /* 31 days, saksid's maximum */

static int
widen_skew(const char *state)
{
	char *cp = path_join(state, "saksid.conf", ""), *conf, *v, *text;
	static const char line[] = "# saksi simulate sends producer times up to a month old\n"
	    "max_clock_skew_ms = 2678400000\n";
	size_t n;

	if (access(cp, R_OK) != 0) {
		free(cp);
		return 0;
	}
	conf = xread_file(cp, CLI_FILE_MAX, &n);
	if ((v = conf_value(conf, "max_clock_skew_ms")) != NULL) {
		if (strtoull(v, NULL, 10) < SKEW_FOR_SIMULATION)
			fprintf(stderr, "saksi: %s sets max_clock_skew_ms = %s: saksid will refuse "
			    "simulated events older than that (see --start)\n", cp, v);
		free(v);
		free(conf);
		free(cp);
		return 0;
	}
	text = xmalloc(n + sizeof(line) + 1);
	memcpy(text, conf, n);
	if (n > 0 && conf[n - 1] != '\n')
		text[n++] = '\n';
	memcpy(text + n, line, sizeof(line));
	xwrite_file_atomic(cp, text, n + sizeof(line) - 1, 0600);
	free(text);
	free(conf);
	free(cp);
	return 1;
}

/*
 * A producer's batch waits up to --window ms of producer time, so its events can reach
 * saksid after events that much younger from other producers. The rules take an event
 * that far behind the newest only within their lateness bound (RULES.md 3.1): past it,
 * the event enters no window (a detection missed) and raises a `late` alert. That is
 * the rules doing their job on traffic the simulator made late, so say so before
 * sending rather than let a reader take the alerts for a fault.
 */
static void
warn_window(const char *state, const char *conf, const char *schemas_dir, uint64_t window)
{
	char *rp = conf != NULL ? conf_value(conf, "rules") : NULL, *path, err[256] = "";
	saksi_rules *rules = NULL;
	uint64_t late;

	if (rp == NULL)
		return;   /* no detection: nothing can be late */
	path = rp[0] == '/' ? xstrdup(rp) : path_join(state, rp, "");
	if (saksi_rules_load(path, schemas_dir, &rules, err, sizeof(err)) == SAKSI_OK &&
	    window > (late = saksi_rules_lateness_ms(rules)))
		fprintf(stderr, "saksi: warning: --window %" PRIu64 " ms is more than the "
		    "rules' lateness of %" PRIu64 " ms (%s): a batch held that long reaches "
		    "saksid after younger events, so its events arrive late for the rules: "
		    "they enter no window and raise `late` alerts (use --window %" PRIu64
		    " or less to evaluate detection)\n", window, late, path, late);
	saksi_rules_free(rules);
	free(path);
	free(rp);
}

/* ---- producer keys, their registration, their sequence numbers ---- */

static saksi_seckey *
producer_key(struct run *r, const char *name, int *created)
{
	char *kp = path_join(r->pdir, name, ".key"), *pp, comment[128];
	saksi_seckey *k = NULL;
	saksi_pubkey pub;
	saksi_err e;

	snprintf(comment, sizeof(comment), "saksi simulate producer %s", name);
	pp = path_join(r->pdir, name, ".pub");
	e = saksi_seckey_load(kp, NULL, &k);
	if (e == SAKSI_OK) {
		/* The public half is what `saksi keyring add` reads. */
		if (access(pp, F_OK) != 0 && ((e = saksi_seckey_public(k, &pub)) != SAKSI_OK ||
		    (e = saksi_pubkey_save(&pub, pp, comment)) != SAKSI_OK))
			xdie_err(e, "cannot write %s", pp);
		free(kp);
		free(pp);
		return k;
	}
	if (e != SAKSI_ERR_NOT_FOUND)
		xdie_err(e, "cannot load producer key %s", kp);
	if ((e = saksi_seckey_generate(SAKSI_KEY_SIGN, &k)) != SAKSI_OK)
		xdie_err(e, "cannot generate a key for %s", name);
	if ((e = saksi_seckey_save(k, kp, NULL, comment)) != SAKSI_OK)
		xdie_err(e, "cannot write %s", kp);
	if ((e = saksi_seckey_public(k, &pub)) != SAKSI_OK ||
	    (e = saksi_pubkey_save(&pub, pp, comment)) != SAKSI_OK)
		xdie_err(e, "cannot write %s", pp);
	*created = 1;
	free(kp);
	free(pp);
	return k;
}

/*
 * Adds the producers missing from the keyring, through `saksi keyring add` itself. A key
 * of the keyring under a producer's name must be that producer's: the simulator never
 * replaces a key. Returns how many were added.
 */
static size_t
register_keys(struct run *r)
{
	char *kpath = path_join(r->state, "keyring.json", ""), idhex[2 * SAKSI_KEYID_LEN + 1];
	saksi_keyring *kr = xkeyring_load(kpath);
	int *missing = xmalloc(r->np * sizeof(*missing));
	size_t i, j, added = 0;
	saksi_err e;

	for (i = 0; i < r->np; i++) {
		const saksi_sim_producer *sp = r->p[i].sp;
		const saksi_keyring_entry *ke;
		saksi_pubkey pub;

		if ((e = saksi_seckey_public(r->p[i].key, &pub)) != SAKSI_OK)
			xdie_err(e, "producer key %s", sp->sp_name);
		keyid_to_hex(pub.pk_id, idhex);
		ke = saksi_keyring_find(kr, pub.pk_id);
		if (ke != NULL && strcmp(ke->ke_name, sp->sp_name) != 0)
			xdie("key %s of producer %s is in %s under the name \"%s\"", idhex,
			    sp->sp_name, kpath, ke->ke_name);
		if (ke != NULL && (strcmp(ke->ke_role, sp->sp_role) != 0 ||
		    strcmp(ke->ke_branch, sp->sp_branch) != 0))
			xdie("%s registers producer %s with role %s, branch %s; the simulator "
			    "signs with it as role %s, branch %s", kpath, sp->sp_name, ke->ke_role,
			    ke->ke_branch, sp->sp_role, sp->sp_branch);
		if (ke != NULL && ke->ke_revoked_ms >= 0)
			fprintf(stderr, "saksi: the key of producer %s is revoked in %s: saksid will "
			    "refuse its events\n", sp->sp_name, kpath);
		missing[i] = ke == NULL;
		for (j = 0; missing[i] && j < saksi_keyring_count(kr); j++)
			if (strcmp(saksi_keyring_at(kr, j)->ke_name, sp->sp_name) == 0)
				xdie("%s has a key named \"%s\" that is not %s/%s.key; remove or "
				    "rename it, or use another state directory", kpath, sp->sp_name,
				    r->pdir, sp->sp_name);
	}
	saksi_keyring_free(kr);
	for (i = 0; i < r->np; i++) {
		const saksi_sim_producer *sp = r->p[i].sp;
		char *pub = path_join(r->pdir, sp->sp_name, ".pub");
		char *argv[] = { (char *)"keyring", (char *)"add", (char *)"-r", kpath,
			(char *)"--name", (char *)sp->sp_name, (char *)"--pub", pub, (char *)"--role",
			(char *)sp->sp_role, (char *)"--branch", (char *)sp->sp_branch, NULL };

		if (missing[i]) {
			if (cmd_keyring((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) != SX_OK)
				xdie("cannot add producer %s to %s", sp->sp_name, kpath);
			added++;
		}
		free(pub);
	}
	free(missing);
	free(kpath);
	return added;
}

static void
seqs_load(struct run *r)
{
	json_error_t jerr;
	char *text;
	size_t len;

	r->seqpath = path_join(r->pdir, "seq.json", "");
	if (access(r->seqpath, F_OK) != 0) {
		if (errno != ENOENT)
			xdie("cannot open %s: %s", r->seqpath, strerror(errno));
		r->seqs = json_object();
		if (r->seqs == NULL)
			xdie("out of memory");
		return;
	}
	text = xread_file(r->seqpath, CLI_FILE_MAX, &len);
	r->seqs = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (r->seqs == NULL || !json_is_object(r->seqs))
		xdie("%s is not a JSON object of producer sequence numbers (line %d: %s); "
		    "delete it only if the producer keys are new as well", r->seqpath, jerr.line,
		    jerr.text);
}

static void
seqs_save(struct run *r)
{
	char *text = json_dumps(r->seqs, JSON_INDENT(1) | JSON_SORT_KEYS);

	if (text == NULL)
		xdie("out of memory");
	xwrite_file_atomic(r->seqpath, text, strlen(text), 0600);
	free(text);
}

/*
 * The next sequence number of p. Numbers are recorded on disk a block ahead before they
 * are used, so that a run that is killed never makes the next one reuse a number (which
 * saksid would refuse as a replay); unused numbers are simply skipped.
 */
static uint64_t
next_seq(struct run *r, struct producer *p)
{
	if (p->seq >= p->reserved) {
		p->reserved = p->seq + SEQ_BLOCK;
		if (json_object_set_new(r->seqs, p->sp->sp_name,
		    json_integer((json_int_t)p->reserved)) != 0)
			xdie("out of memory");
		seqs_save(r);
	}
	return ++p->seq;
}

/* ---- submission ---- */

static saksi_client *
client_of(struct run *r, struct producer *p)
{
	saksi_client_opts co;
	saksi_err e;
	size_t i;

	p->used = ++r->tick;
	if (p->cl != NULL)
		return p->cl;
	if (r->open_clients >= MAX_OPEN_CLIENTS) {
		struct producer *old = NULL;

		for (i = 0; i < r->np; i++)
			if (r->p[i].cl != NULL && (old == NULL || r->p[i].used < old->used))
				old = &r->p[i];
		saksi_client_close(old->cl);
		old->cl = NULL;
		r->open_clients--;
	}
	memset(&co, 0, sizeof(co));
	co.co_url = r->url;
	co.co_key = p->key;
	co.co_box_pk = r->box.pk_key;
	co.co_log = &r->log;
	co.co_schemas = r->schemas;
	co.co_timeout_ms = r->timeout;
	if ((e = saksi_client_open(&co, &p->cl)) != SAKSI_OK)
		xdie_err(e, "cannot open a connection to %s", r->url);
	r->open_clients++;
	return p->cl;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Sends p's buffered events in one request; retries what the daemon could not take now. */
static void
flush(struct run *r, struct producer *p)
{
	saksi_result res[SAKSI_WIRE_BATCH_MAX];
	saksi_event ev[SAKSI_WIRE_BATCH_MAX];
	int scen[SAKSI_WIRE_BATCH_MAX], attempt;
	uint64_t sidx[SAKSI_WIRE_BATCH_MAX];
	size_t n = p->n, i, k;
	saksi_err e;

	/* A working copy: retries shrink it, while p->ev keeps every payload to free. */
	memcpy(ev, p->ev, n * sizeof(ev[0]));
	memcpy(scen, p->scen, n * sizeof(scen[0]));
	memcpy(sidx, p->sidx, n * sizeof(sidx[0]));
	for (attempt = 0; n > 0; attempt++) {
		memset(res, 0, n * sizeof(res[0]));
		e = saksi_client_submit(client_of(r, p), ev, n, res);
		if (e == SAKSI_ERR_PROOF)
			xfail("a receipt from %s does not verify against %s: do not trust this "
			    "daemon", r->url, r->log.nv_name);
		if (e == SAKSI_ERR_NET || e == SAKSI_ERR_TIMEOUT)
			xdie_err(e, "the daemon at %s did not answer (is saksid running?)", r->url);
		if (e != SAKSI_OK && e != SAKSI_ERR_REFUSED)
			xdie_err(e, "submission to %s failed", r->url);
		if (attempt == 0)
			r->t.sent += n;
		for (i = 0, k = 0; i < n; i++) {
			int code = res[i].sr_code, sc = scen[i];

			if ((code == SAKSI_R_UNAVAILABLE || code == SAKSI_R_BUSY) &&
			    attempt + 1 < RETRIES) {
				/* Keep it, in order, for the next attempt. */
				ev[k] = ev[i];
				scen[k] = scen[i];
				sidx[k] = sidx[i];
				k++;
			} else if (code == SAKSI_R_ACCEPTED || code == SAKSI_R_DUPLICATE) {
				if (code == SAKSI_R_ACCEPTED)
					r->t.accepted++;
				else
					r->t.duplicate++;
				/* The client library verified it against the log key before returning. */
				r->t.receipts += res[i].sr_receipt != NULL;
				if (sc >= 0)
					r->t.sc_accepted[sc]++;
				/* Where it is in the ledger: what --evaluate matches alerts with. */
				r->leaves[sidx[i]] = res[i].sr_index;
			} else if (code > 0 && code < SAKSI_R__COUNT) {
				r->t.refused[code]++;
			} else {
				r->t.refused[SAKSI_R_PARSE]++;
			}
			saksi_result_clear(&res[i]);
		}
		if (k > 0) {
			r->t.retries += k;
			sleep_ms(100L << attempt);
		}
		n = k;
	}
	for (i = 0; i < p->n; i++)
		free((char *)p->ev[i].se_payload);
	p->n = 0;
}

/* Flushes every producer whose oldest buffered event is older than `before`, oldest first. */
static void
flush_older(struct run *r, uint64_t before)
{
	for (;;) {
		struct producer *old = NULL;
		size_t i;

		for (i = 0; i < r->np; i++)
			if (r->p[i].n > 0 && r->p[i].first_t < before &&
			    (old == NULL || r->p[i].first_t < old->first_t))
				old = &r->p[i];
		if (old == NULL)
			return;
		flush(r, old);
	}
}

static void
print_scenarios(const struct run *r, const saksi_sim *s, FILE *f, int sent)
{
	int sc;

	fprintf(f, "scenarios (instances, events, signal events%s):\n",
	    sent ? ", accepted" : "");
	for (sc = 0; sc < SAKSI_SIM__COUNT; sc++) {
		fprintf(f, "  %-32s %6zu %8" PRIu64 " %8" PRIu64, saksi_sim_scenario_name(sc),
		    saksi_sim_instances(s, sc), r->t.sc_events[sc], r->t.sc_signal[sc]);
		if (sent)
			fprintf(f, " %8" PRIu64, r->t.sc_accepted[sc]);
		fputc('\n', f);
	}
}

/* Writes the events as JSON lines, one a line, payloads with personal values in clear. */
static FILE *
out_open(const char *path, char **tmp)
{
	size_t n;
	int fd;
	FILE *f;

	*tmp = NULL;
	if (strcmp(path, "-") == 0)
		return stdout;
	n = strlen(path) + 16;
	*tmp = xmalloc(n);
	snprintf(*tmp, n, "%s.tmpXXXXXX", path);
	if ((fd = mkostemp(*tmp, O_CLOEXEC)) < 0)
		xdie("cannot create a temporary file next to %s: %s", path, strerror(errno));
	/* Synthetic, but shaped like personal data: not for everyone's eyes. */
	if (fchmod(fd, 0600) != 0 || (f = fdopen(fd, "w")) == NULL)
		xdie("cannot write %s: %s", *tmp, strerror(errno));
	return f;
}

static void
out_close(FILE *f, const char *path, char *tmp)
{
	if (tmp == NULL) {
		if (fflush(f) != 0)
			xdie("cannot write the events: %s", strerror(errno));
		return;
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
		unlink(tmp);
		xdie("cannot write %s: %s", tmp, strerror(errno));
	}
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		xdie("cannot rename %s to %s: %s", tmp, path, strerror(errno));
	}
	free(tmp);
}

/* The ledger of a state directory: saksid.conf's state_dir/ledger, read with saksid's
 * own parser. */
static char *
state_ledger(const char *state)
{
	char *cp = path_join(state, "saksid.conf", ""), *dir, err[512] = "";
	saksid_config cf;
	saksi_err e;

	if ((e = saksid_config_load(cp, &cf, err, sizeof(err))) != SAKSI_OK)
		xdie("%s", err[0] != '\0' ? err : saksi_strerror(e));
	dir = path_join(cf.cf_state_dir, "ledger", "");
	saksid_config_free(&cf);
	free(cp);
	return dir;
}

/* The ground truth with the ledger index of every event ("leaves", null for an event
 * that is not in the ledger). */
static json_t *
truth_with_leaves(const saksi_sim *sim, const struct run *r, int with_leaves)
{
	json_error_t jerr;
	json_t *t, *lv;
	char *tj;
	size_t tl;
	saksi_err e;

	if ((e = saksi_sim_truth_json(sim, &tj, &tl)) != SAKSI_OK)
		xdie_err(e, "cannot build the ground truth");
	if ((t = json_loadb(tj, tl, 0, &jerr)) == NULL)
		xdie("the ground truth is not JSON: %s", jerr.text);
	free(tj);
	if (!with_leaves)
		return t;
	lv = json_array();
	for (size_t i = 0; i < r->nleaves; i++)
		json_array_append_new(lv, r->leaves[i] == UINT64_MAX ? json_null() :
		    json_integer((json_int_t)r->leaves[i]));
	if (json_object_set_new(t, "leaves", lv) != 0)
		xdie("out of memory");
	return t;
}

/* --evaluate-only: an earlier run's truth file against a ledger. */
static int
evaluate_only(const char *truth, const char *state, const char *ledger, int json)
{
	json_error_t jerr;
	json_t *t;
	char *dir = NULL;
	int rc;

	if (truth == NULL)
		xusage(usage, "--evaluate-only needs --truth FILE (written by a run)");
	if (ledger == NULL && state == NULL)
		xusage(usage, "--evaluate-only needs --ledger DIR or --state DIR");
	if ((t = json_load_file(truth, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		xdie("%s:%d: %s", truth, jerr.line, jerr.text);
	if (json_integer_value(json_object_get(t, "saksi_sim_truth")) != 1)
		xdie("%s is not a saksi simulate truth file (version 1)", truth);
	if (ledger == NULL)
		ledger = dir = state_ledger(state);
	rc = saksi_sim_evaluate(t, ledger, json, stdout);
	json_decref(t);
	free(dir);
	return rc;
}

int
saksi_cmd_simulate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 'd' },
		{ "url", required_argument, NULL, 'u' },
		{ "branches", required_argument, NULL, 'b' },
		{ "days", required_argument, NULL, 'D' },
		{ "seed", required_argument, NULL, 's' },
		{ "brokers", required_argument, NULL, 'B' },
		{ "start", required_argument, NULL, 'S' },
		{ "truth", required_argument, NULL, 't' },
		{ "batch", required_argument, NULL, 'n' },
		{ "window", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "vkey", required_argument, NULL, 'v' },
		{ "vkey-file", required_argument, NULL, 'V' },
		{ "schemas", required_argument, NULL, 'C' },
		{ "register-only", no_argument, NULL, 'R' },
		{ "dry-run", no_argument, NULL, 'N' },
		{ "out", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "evaluate", no_argument, NULL, 'E' },
		{ "evaluate-only", no_argument, NULL, 'O' },
		{ "ledger", required_argument, NULL, 'L' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL, *url = NULL, *truth = NULL, *vk = NULL, *vkf = NULL,
	    *schemas_dir = NULL, *out = NULL, *brokers = "medium", *ledger = NULL;
	char *conf = NULL, *conf_url = NULL, *conf_schemas = NULL, *vkf_default = NULL,
	    *pdir = NULL, *tmp = NULL, d0[16], d1[16], err[256] = "";
	uint64_t seed = 0, branches = 1, days = 1, batch = 64, window = 60000, timeout = 0;
	int c, have_seed = 0, register_only = 0, dry = 0, quiet = 0, level, created_any = 0;
	int evaluate = 0, evaluate_o = 0, json = 0, rc;
	int64_t start = -1;
	saksi_sim_opts so;
	saksi_sim *sim = NULL;
	saksi_sim_event ev;
	struct run r;
	FILE *f = NULL, *info;
	size_t i, added = 0;
	saksi_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': state = optarg; break;
		case 'u': url = optarg; break;
		case 'b': branches = xparse_u64(optarg, "--branches"); break;
		case 'D': days = xparse_u64(optarg, "--days"); break;
		case 's': seed = xparse_u64(optarg, "--seed"); have_seed = 1; break;
		case 'B': brokers = optarg; break;
		case 'S': start = parse_date(optarg); break;
		case 't': truth = optarg; break;
		case 'n': batch = xparse_u64(optarg, "--batch"); break;
		case 'w': window = xparse_u64(optarg, "--window"); break;
		case 'T': timeout = xparse_u64(optarg, "--timeout"); break;
		case 'v': vk = optarg; break;
		case 'V': vkf = optarg; break;
		case 'C': schemas_dir = optarg; break;
		case 'R': register_only = 1; break;
		case 'N': dry = 1; break;
		case 'o': out = optarg; break;
		case 'q': quiet = 1; break;
		case 'E': evaluate = 1; break;
		case 'O': evaluate_o = 1; break;
		case 'L': ledger = optarg; break;
		case 'j': json = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (evaluate_o)
		return evaluate_only(truth, state, ledger, json);
	if ((evaluate || json || ledger != NULL) && (dry || register_only))
		xusage(usage, "--evaluate needs a run: not with --dry-run or --register-only");
	if ((json || ledger != NULL) && !evaluate)
		xusage(usage, "--json and --ledger go with --evaluate or --evaluate-only");
	if (branches < 1 || branches > SAKSI_SIM_BRANCHES_MAX)
		xusage(usage, "--branches must be 1 to %d", SAKSI_SIM_BRANCHES_MAX);
	if (days < 1 || days > SAKSI_SIM_DAYS_MAX)
		xusage(usage, "--days must be 1 to %d", SAKSI_SIM_DAYS_MAX);
	if (batch < 1 || batch > SAKSI_WIRE_BATCH_MAX)
		xusage(usage, "--batch must be 1 to %d", SAKSI_WIRE_BATCH_MAX);
	if (timeout > 3600000)
		xusage(usage, "--timeout is in milliseconds, at most 3600000");
	if (saksi_sim_level_parse(brokers, &level) != SAKSI_OK)
		xusage(usage, "--brokers must be none, low, medium or high, not \"%s\"", brokers);
	if (dry && out == NULL)
		xusage(usage, "--dry-run needs --out FILE.jsonl (or - for standard output)");
	if (!dry && out != NULL)
		xusage(usage, "--out goes with --dry-run");
	if (dry && register_only)
		xusage(usage, "--dry-run and --register-only exclude each other");
	if (!dry && state == NULL)
		xusage(usage, "--state DIR is required (the directory made by saksi init)");
	if (start >= 0 && start < 10)
		xusage(usage, "--start must be after 1970-01-10");
	if (!have_seed)
		randombytes_buf(&seed, sizeof(seed));
	/* With the events on standard output, everything else goes to standard error. */
	info = dry && strcmp(out, "-") == 0 ? stderr : stdout;

	memset(&r, 0, sizeof(r));
	memset(&so, 0, sizeof(so));
	so.so_seed = seed;
	so.so_branches = (unsigned)branches;
	so.so_days = (unsigned)days;
	so.so_level = level;
	so.so_start_day = start >= 0 ? start : default_start((unsigned)days);
	if ((e = saksi_sim_open(&so, &sim)) != SAKSI_OK)
		xdie_err(e, "cannot set up the simulation");
	fmt_day(saksi_sim_day(sim, 0), d0);
	fmt_day(saksi_sim_day(sim, days - 1), d1);
	if (!register_only)
		fprintf(info, "saksi simulate: seed %" PRIu64 ", %u branch%s, %u day%s (%s to %s), "
		    "brokers %s\n", seed, (unsigned)branches, branches == 1 ? "" : "es",
		    (unsigned)days, days == 1 ? "" : "s", d0, d1, saksi_sim_level_name(level));

	r.np = saksi_sim_producer_count(sim);
	r.p = xmalloc(r.np * sizeof(*r.p));
	memset(r.p, 0, r.np * sizeof(*r.p));
	for (i = 0; i < r.np; i++)
		r.p[i].sp = saksi_sim_producer_at(sim, i);

	if (!dry) {
		r.state = state;
		{
			char *cp = path_join(state, "saksid.conf", "");

			if (access(cp, R_OK) == 0) {
				conf = xread_file(cp, CLI_FILE_MAX, NULL);
				conf_url = conf_value(conf, "listen");
				conf_schemas = conf_value(conf, "schemas_dir");
			}
			free(cp);
		}
		pdir = path_join(state, "producers", "");
		r.pdir = pdir;
		if (mkdir(pdir, 0700) != 0 && errno != EEXIST)
			xdie("cannot create %s: %s", pdir, strerror(errno));
		for (i = 0; i < r.np; i++) {
			int created = 0;

			r.p[i].key = producer_key(&r, r.p[i].sp->sp_name, &created);
			created_any |= created;
		}
		added = register_keys(&r);
		if (added > 0 || created_any)
			fprintf(info, "producers: %zu keys in %s, %zu newly registered in "
			    "%s/keyring.json\n", r.np, pdir, added, state);
		if (register_only) {
			if (widen_skew(state))
				fprintf(info, "saksid.conf: max_clock_skew_ms = %llu (31 days), so that "
				    "saksid takes the simulated, days-old producer times\n",
				    SKEW_FOR_SIMULATION);
			goto done;
		}
		if (added > 0)
			xdie("%zu producer keys were added to %s/keyring.json: reload saksid so "
			    "that it takes them (SIGHUP: `systemctl reload saksid`, or restart it), "
			    "then run saksi simulate again (--register-only does the first step "
			    "alone)", added, state);
		url = url != NULL ? url : conf_url;
		if (url == NULL)
			xusage(usage, "--url is required (no \"listen\" line in %s/saksid.conf)", state);
		r.url = url;
		if (vk == NULL && vkf == NULL)
			vkf = vkf_default = path_join(state, "log.vkey", "");
		xvkey(vk, vkf, &r.log);
		{
			char *bp = path_join(state, "box.pub", "");

			if ((e = saksi_pubkey_load(bp, &r.box)) != SAKSI_OK)
				xdie_err(e, "cannot load the appliance's box key %s", bp);
			if (r.box.pk_kind != SAKSI_KEY_BOX)
				xdie("%s is not an X25519 box key", bp);
			free(bp);
		}
		if (schemas_dir == NULL)
			schemas_dir = conf_schemas != NULL && conf_schemas[0] == '/' ? conf_schemas :
			    default_schemas_dir();
		if ((e = saksi_schemas_load(schemas_dir, &r.schemas, err, sizeof(err))) !=
		    SAKSI_OK)
			xdie("schemas %s: %s", schemas_dir, err[0] ? err : saksi_strerror(e));
		warn_window(state, conf, schemas_dir, window);
		seqs_load(&r);
		for (i = 0; i < r.np; i++) {
			json_t *v = json_object_get(r.seqs, r.p[i].sp->sp_name);

			if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0))
				xdie("%s: \"%s\" is not a sequence number", r.seqpath,
				    r.p[i].sp->sp_name);
			r.p[i].seq = v != NULL ? (uint64_t)json_integer_value(v) : 0;
			/* One write reserves the first block of every producer. */
			r.p[i].reserved = r.p[i].seq + SEQ_BLOCK;
			if (json_object_set_new(r.seqs, r.p[i].sp->sp_name,
			    json_integer((json_int_t)r.p[i].reserved)) != 0)
				xdie("out of memory");
			r.p[i].ev = xmalloc(batch * sizeof(*r.p[i].ev));
			r.p[i].scen = xmalloc(batch * sizeof(*r.p[i].scen));
			r.p[i].sidx = xmalloc(batch * sizeof(*r.p[i].sidx));
		}
		seqs_save(&r);
		r.batch = batch;
		r.window = window;
		r.timeout = (int)timeout;
	} else {
		f = out_open(out, &tmp);
	}

	r.t.first_t = UINT64_MAX;
	while ((e = saksi_sim_next(sim, &ev)) == SAKSI_OK) {
		r.t.generated++;
		if (ev.se_time_ms < r.t.first_t)
			r.t.first_t = ev.se_time_ms;
		r.t.last_t = ev.se_time_ms;
		if (ev.se_scenario >= 0) {
			r.t.sc_events[ev.se_scenario]++;
			r.t.sc_signal[ev.se_scenario] += ev.se_signal != 0;
		}
		if (dry) {
			const saksi_sim_producer *sp = r.p[ev.se_producer].sp;

			if (ev.se_scenario >= 0)
				fprintf(f, "{\"index\":%" PRIu64 ",\"producer\":\"%s\",\"role\":\"%s\","
				    "\"branch\":\"%s\",\"type\":\"%s\",\"time_ms\":%" PRIu64 ","
				    "\"scenario\":\"%s\",\"instance\":%u,\"signal\":%s,\"payload\":%s}\n",
				    ev.se_index, sp->sp_name, sp->sp_role, sp->sp_branch, ev.se_type,
				    ev.se_time_ms, saksi_sim_scenario_name(ev.se_scenario),
				    ev.se_instance, ev.se_signal ? "true" : "false", ev.se_payload);
			else
				fprintf(f, "{\"index\":%" PRIu64 ",\"producer\":\"%s\",\"role\":\"%s\","
				    "\"branch\":\"%s\",\"type\":\"%s\",\"time_ms\":%" PRIu64 ","
				    "\"scenario\":null,\"instance\":null,\"signal\":false,"
				    "\"payload\":%s}\n", ev.se_index, sp->sp_name, sp->sp_role,
				    sp->sp_branch, ev.se_type, ev.se_time_ms, ev.se_payload);
			if (ferror(f))
				xdie("cannot write %s: %s", out, strerror(errno));
			saksi_sim_event_clear(&ev);
		} else {
			struct producer *p = &r.p[ev.se_producer];

			/* Keep the ledger close to producer-time order across producers. */
			if (ev.se_time_ms > r.window)
				flush_older(&r, ev.se_time_ms - r.window);
			if (p->n == 0)
				p->first_t = ev.se_time_ms;
			p->ev[p->n].se_type = ev.se_type;
			p->ev[p->n].se_payload = ev.se_payload;  /* now owned by the buffer */
			p->ev[p->n].se_seq = next_seq(&r, p);
			p->ev[p->n].se_time_ms = ev.se_time_ms;
			p->scen[p->n] = ev.se_scenario;
			p->sidx[p->n] = ev.se_index;
			if (ev.se_index >= r.capleaves) {
				r.capleaves = r.capleaves ? 2 * r.capleaves : 4096;
				while (r.capleaves <= ev.se_index)
					r.capleaves *= 2;
				if ((r.leaves = realloc(r.leaves, r.capleaves * sizeof(*r.leaves))) ==
				    NULL)
					xdie("out of memory");
			}
			while (r.nleaves <= ev.se_index)
				r.leaves[r.nleaves++] = UINT64_MAX;
			p->n++;
			ev.se_payload = NULL;
			if (p->n == r.batch)
				flush(&r, p);
			/* Events wait in per-producer batches: sent lags generated, so say both. */
			if (!quiet && r.t.generated % 20000 == 0)
				fprintf(stderr, "saksi: %" PRIu64 " events generated, %" PRIu64
				    " sent\n", r.t.generated, r.t.sent);
		}
	}
	if (e != SAKSI_ERR_NOT_FOUND)
		xdie_err(e, "the simulation failed");
	if (dry)
		out_close(f, out, tmp);
	else {
		flush_older(&r, UINT64_MAX);
		/* The last progress line must not be the stale one from before the flush. */
		if (!quiet && r.t.generated >= 20000)
			fprintf(stderr, "saksi: %" PRIu64 " events generated, %" PRIu64 " sent: "
			    "done\n", r.t.generated, r.t.sent);
	}

	if (truth != NULL || evaluate) {
		json_t *tj = truth_with_leaves(sim, &r, !dry);
		char *text;

		if (truth != NULL) {
			if ((text = json_dumps(tj, JSON_COMPACT)) == NULL)
				xdie("out of memory");
			xwrite_file_atomic(truth, text, strlen(text), 0600);
			free(text);
		}
		if (evaluate)
			r.truth = tj;
		else
			json_decref(tj);
	}

	fprintf(info, "events: %" PRIu64 " generated", r.t.generated);
	if (!dry) {
		uint64_t refused = 0;
		int k;

		for (k = 0; k < SAKSI_R__COUNT; k++)
			refused += r.t.refused[k];
		fprintf(info, ", %" PRIu64 " sent, %" PRIu64 " accepted, %" PRIu64
		    " already in the ledger, %" PRIu64 " refused\n", r.t.sent, r.t.accepted,
		    r.t.duplicate, refused);
		for (k = 0; k < SAKSI_R__COUNT; k++)
			if (r.t.refused[k] > 0)
				fprintf(info, "  refused %-14s %" PRIu64 "\n", saksi_reason_name(k),
				    r.t.refused[k]);
		fprintf(info, "receipts: %" PRIu64 " verified against %s\n", r.t.receipts,
		    r.log.nv_name);
		if (r.t.retries > 0)
			fprintf(info, "retries: %" PRIu64 " (the daemon was busy)\n", r.t.retries);
		print_scenarios(&r, sim, info, 1);
		if (r.t.refused[SAKSI_R_CLOCK_SKEW] > 0) {
			uint64_t age = now_ms() > r.t.first_t ? now_ms() - r.t.first_t : 0;

			fprintf(stderr, "saksi: saksid refused events whose producer time is too far "
			    "from its clock. The simulated events lie between %" PRIu64 " and %"
			    PRIu64 " ms since the epoch; set \"max_clock_skew_ms = %" PRIu64 "\" in "
			    "%s/saksid.conf (at most 31 days) and restart saksid, or simulate a more "
			    "recent period with --start\n", r.t.first_t, r.t.last_t,
			    (age / 86400000 + 1) * 86400000, state);
		}
	} else {
		fputc('\n', info);
		print_scenarios(&r, sim, info, 0);
	}
	if (truth != NULL)
		fprintf(info, "truth: %s\n", truth);
	if (evaluate) {
		char *dir = ledger != NULL ? NULL : state_ledger(state);

		fflush(info);
		(void)saksi_sim_evaluate(r.truth, ledger != NULL ? ledger : dir, json, stdout);
		json_decref(r.truth);
		free(dir);
	}
done:
	for (i = 0; i < r.np; i++) {
		if (r.p[i].cl != NULL)
			saksi_client_close(r.p[i].cl);
		saksi_seckey_free(r.p[i].key);
		free(r.p[i].ev);
		free(r.p[i].scen);
		free(r.p[i].sidx);
	}
	free(r.leaves);
	free(r.p);
	json_decref(r.seqs);
	free(r.seqpath);
	saksi_schemas_free(r.schemas);
	saksi_sim_close(sim);
	free(conf);
	free(conf_url);
	free(conf_schemas);
	free(vkf_default);
	free(pdir);
	rc = SX_OK;
	if (!dry && !register_only) {
		int k;

		for (k = 0; k < SAKSI_R__COUNT; k++)
			if (r.t.refused[k] > 0)
				rc = SX_FAIL;
	}
	return rc;
}
