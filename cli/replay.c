/*
 * replay.c: saksi replay: runs a rule set (the deployed one, or a candidate) over the
 * ledger's history and prints what it would have raised; --check compares with the alert
 * entries saksid wrote. It never writes to the ledger: read transactions only, and the
 * rules' state lives in a throwaway LMDB file that is unlinked as soon as it is open, so
 * that from then on no exit, not even kill -9, leaves it behind. It never prints a
 * personal value.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>

#include "blind.h"
#include "cli.h"
#include "datakey.h"
#include "commit.h"
#include "config.h"
#include "detect.h"
#include "envelope.h"
#include "merkle.h"
#include "rules.h"
#include "verify.h"

/* Leaves per read transaction: a running saksid can reuse pages between chunks. */
#define CHUNK 1024
#define STATE_MAP_SIZE (64ull << 30)   /* sparse; the rules' state of a whole ledger */

static const char usage[] =
"saksi replay (--config saksid.conf | --ledger DIR --index-key F --store-key F)\n"
"             [--rules FILE] [--schemas DIR] [--passphrase-file F]\n"
"             [--from TIME] [--to TIME] [--from-index N] [--to-index N]\n"
"             [--check] [--json] [--quiet] [--tmpdir DIR]";

/* Alert leaf bodies waiting for --check, the ledger's and the replay's, each side in
 * ledger order, which is also the order of their triggers. */
struct body {
	uint8_t *b;
	size_t len;
	uint64_t entry;     /* ledger index, or UINT64_MAX for a replayed alert */
	uint64_t trigger;
	int done;           /* matched */
};
struct pending {
	struct body *v;
	size_t n, cap;
};

struct rule_count {
	char id[SAKSI_RULES_ID_MAX + 16];   /* "cap:" and an alert's rule */
	uint64_t n;
	uint64_t n_ledger;                  /* --check: the ledger's alerts of it */
};

/* The kinds of difference --check reports (report_difference), counted apart. */
static const char *const diff_kinds[] = { "ledger_only", "replay_only", "changed",
	"renumbered" };
#define NDIFF (sizeof(diff_kinds) / sizeof(diff_kinds[0]))

struct replay {
	const saksi_rules *r;
	const saksi_seckey *store;
	saksi_datakeys *dk;        /* participants' data keys (datakey.h); NULL: none */
	saksi_detect *det;
	int json, quiet, check;
	uint64_t from_ms, to_ms, from_idx, to_idx;
	/* counters */
	uint64_t size, events, out_of_range, not_evaluated, alerts, ledger_alerts,
	    ledger_skipped, differences, no_disc, diff_n[NDIFF];
	struct rule_count *rc;
	size_t nrc;
	struct pending mine, theirs;
	int after_alerts;   /* the last leaf read was not an event */
};

static void
pending_push(struct pending *p, const uint8_t *b, size_t len, uint64_t entry,
             uint64_t trigger)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		if ((p->v = realloc(p->v, p->cap * sizeof(*p->v))) == NULL)
			xdie("out of memory");
	}
	p->v[p->n].b = xmalloc(len);
	memcpy(p->v[p->n].b, b, len);
	p->v[p->n].len = len;
	p->v[p->n].entry = entry;
	p->v[p->n].trigger = trigger;
	p->v[p->n].done = 0;
	p->n++;
}

/* Drops the first k entries. */
static void
pending_drop(struct pending *p, size_t k)
{
	if (k == 0)
		return;
	for (size_t i = 0; i < k; i++)
		free(p->v[i].b);
	memmove(p->v, p->v + k, (p->n - k) * sizeof(*p->v));
	p->n -= k;
}

static void
pending_free(struct pending *p)
{
	pending_drop(p, p->n);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

/* The JSON of an alert leaf body, or null for none. */
static json_t *
body_json(const struct body *b)
{
	saksi_alert a;
	char *js;
	json_t *j;

	if (b == NULL)
		return json_null();
	if (saksi_alert_leaf_parse(b->b, b->len, &a) != SAKSI_OK)
		return json_string("malformed");
	if (saksi_alert_json(&a, &js) != SAKSI_OK)
		xdie("out of memory");
	j = json_loads(js, 0, NULL);
	free(js);
	return j != NULL ? j : json_string("?");
}

/*
 * One difference. what: "ledger_only" (saksid wrote it, the replay did not raise it),
 * "replay_only", "changed" (same trigger, rule and group, other values) or "renumbered"
 * (the same alert under another id).
 */
static void
report_difference(struct replay *rp, const char *what, const struct body *theirs,
                  const struct body *mine)
{
	json_t *o, *w;
	char *s;

	rp->differences++;
	for (size_t k = 0; k < NDIFF; k++)
		if (strcmp(what, diff_kinds[k]) == 0)
			rp->diff_n[k]++;
	/* --quiet: a renumbered alert is the same alert shifted by an earlier difference;
	 * counted in the summary, not printed (a candidate's real changes stand out). */
	if (rp->quiet && strcmp(what, "renumbered") == 0)
		return;
	if (!rp->json) {
		saksi_alert a;

		printf("difference (%s):\n", what);
		if (theirs != NULL) {
			printf("  ledger entry %" PRIu64 ": ", theirs->entry);
			if (saksi_alert_leaf_parse(theirs->b, theirs->len, &a) == SAKSI_OK)
				alerts_print_line(&a);
			else
				printf("malformed; run saksi verify\n");
		}
		if (mine != NULL && saksi_alert_leaf_parse(mine->b, mine->len, &a) == SAKSI_OK) {
			printf("  replay: ");
			alerts_print_line(&a);
		}
		return;
	}
	o = json_object();
	json_object_set_new(o, "type", json_string(what));
	if (theirs != NULL)
		json_object_set_new(o, "ledger_entry", json_integer((json_int_t)theirs->entry));
	json_object_set_new(o, "ledger", body_json(theirs));
	json_object_set_new(o, "replay", body_json(mine));
	w = json_pack("{s:o}", "difference", o);
	s = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(w);
	if (s == NULL)
		xdie("out of memory");
	printf("%s\n", s);
	free(s);
}

/* The same alert but for its id (the first 8 bytes of the body). */
static int
same_but_id(const struct body *x, const struct body *y)
{
	return x->len == y->len && x->len > 8 && memcmp(x->b + 8, y->b + 8, x->len - 8) == 0;
}

/* The same rule and group: one side's version of the other's alert. */
static int
same_subject(const struct body *x, const struct body *y)
{
	saksi_alert a, b;

	return saksi_alert_leaf_parse(x->b, x->len, &a) == SAKSI_OK &&
	    saksi_alert_leaf_parse(y->b, y->len, &b) == SAKSI_OK && a.al_kind == b.al_kind &&
	    strcmp(a.al_rule, b.al_rule) == 0 && strcmp(a.al_group, b.al_group) == 0;
}

/*
 * Compares the alerts of both sides whose trigger is below `bound`: each side has them
 * all by then. Alerts are matched per trigger, so that one alert more or less on one
 * side is one difference, not a shift of every later one.
 */
static void
compare(struct replay *rp, uint64_t bound)
{
	struct pending *L = &rp->theirs, *R = &rp->mine;
	size_t nl = 0, nr = 0;

	while (nl < L->n && L->v[nl].trigger < bound)
		nl++;
	while (nr < R->n && R->v[nr].trigger < bound)
		nr++;
	/* Identical, then renumbered, then changed; each pairs one alert of each side
	 * with the same trigger. */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < nl; i++) {
			struct body *l = &L->v[i];

			for (size_t j = 0; j < nr && !l->done; j++) {
				struct body *r = &R->v[j];

				if (r->done || r->trigger != l->trigger)
					continue;
				if (pass == 0 && l->len == r->len &&
				    memcmp(l->b, r->b, l->len) == 0)
					l->done = r->done = 1;
				else if (pass == 1 && same_but_id(l, r)) {
					l->done = r->done = 1;
					report_difference(rp, "renumbered", l, r);
				} else if (pass == 2 && same_subject(l, r)) {
					l->done = r->done = 1;
					report_difference(rp, "changed", l, r);
				}
			}
		}
	}
	for (size_t i = 0; i < nl; i++)
		if (!L->v[i].done)
			report_difference(rp, "ledger_only", &L->v[i], NULL);
	for (size_t j = 0; j < nr; j++)
		if (!R->v[j].done)
			report_difference(rp, "replay_only", NULL, &R->v[j]);
	pending_drop(L, nl);
	pending_drop(R, nr);
}

static void
count_rule_side(struct replay *rp, const saksi_alert *a, int ledger)
{
	char id[sizeof(rp->rc[0].id)];
	size_t i;

	snprintf(id, sizeof(id), "%s%s", a->al_kind == SAKSI_ALERT_CAP ? "cap:" : "",
	    a->al_rule);
	for (i = 0; i < rp->nrc; i++)
		if (strcmp(rp->rc[i].id, id) == 0)
			break;
	if (i == rp->nrc) {
		if ((rp->rc = realloc(rp->rc, (rp->nrc + 1) * sizeof(*rp->rc))) == NULL)
			xdie("out of memory");
		memcpy(rp->rc[i].id, id, sizeof(id));
		rp->rc[i].n = 0;
		rp->rc[i].n_ledger = 0;
		rp->nrc++;
	}
	if (ledger)
		rp->rc[i].n_ledger++;
	else
		rp->rc[i].n++;
}

static void
count_rule(struct replay *rp, const saksi_alert *a)
{
	count_rule_side(rp, a, 0);
}

/* The alerts one evaluation raised: printed, counted, queued for --check. */
static saksi_err
raised(struct replay *rp, MDB_txn *st, const saksi_rules_result *res)
{
	uint8_t body[SAKSI_ALERT_LEAF_MAX];
	saksi_alert a;
	size_t len;
	char *js;
	saksi_err e;

	for (uint64_t id = res->rr_first_alert; id < res->rr_first_alert + res->rr_nalerts;
	    id++) {
		if ((e = saksi_rules_alert_get(rp->r, st, id, &a)) != SAKSI_OK)
			return e;
		rp->alerts++;
		count_rule(rp, &a);
		if (rp->check) {
			if ((e = saksi_alert_leaf_encode(&a, body, sizeof(body), &len)) !=
			    SAKSI_OK)
				return e;
			pending_push(&rp->mine, body, len, UINT64_MAX, a.al_trigger);
		}
		if (rp->quiet)
			continue;
		if (rp->json) {
			if ((e = saksi_alert_json(&a, &js)) != SAKSI_OK)
				return e;
			printf("%s\n", js);
			free(js);
		} else
			alerts_print_line(&a);
	}
	return SAKSI_OK;
}

/* One event leaf: its disclosures opened at rest, then evaluated as saksid did. */
static saksi_err
replay_event(struct replay *rp, saksi_ledger_txn *lt, MDB_txn *st, uint64_t idx,
             const uint8_t *leaf, size_t leaf_len, const saksi_leaf *lf)
{
	saksi_envelope env;
	saksi_rules_result res;
	saksi_hash lh;
	uint8_t *blob = NULL;
	char *disc = NULL;
	size_t blob_len, disc_len = 0;
	int evaluated;
	saksi_err e;

	if (saksi_envelope_parse(lf->lf_body, lf->lf_body_len, &env) == SAKSI_OK &&
	    (env.ev_time_ms < rp->from_ms || env.ev_time_ms > rp->to_ms)) {
		rp->out_of_range++;
		return SAKSI_OK;
	}
	e = saksi_ledger_disc_get(lt, idx, &blob, &blob_len);
	if (e == SAKSI_OK) {
		saksi_merkle_leaf_hash(lh, leaf, leaf_len);
		e = saksi_disc_open_any(rp->store, rp->dk, idx, lh, blob, blob_len, &disc,
		    &disc_len);
		free(blob);
		/* A forgotten participant (FORMATS.md 7.2): evaluated without personal data,
		 * so what saksid raised from it may not come out again. */
		if (e == SAKSI_ERR_NOT_FOUND) {
			rp->no_disc++;
			e = SAKSI_OK;
		}
		if (e == SAKSI_ERR_DECRYPT || e == SAKSI_ERR_KEY)
			xdie("the disclosures of entry %" PRIu64 " do not open with the store "
			    "key: give saksid's store_key", idx);
		if (e != SAKSI_OK)
			xdie_err(e, "the disclosures of entry %" PRIu64 " cannot be read; run "
			    "saksi verify", idx);
	} else if (e == SAKSI_ERR_NOT_FOUND)
		rp->no_disc++;
	else
		return e;
	memset(&res, 0, sizeof(res));
	e = saksi_detect_eval(rp->det, rp->r, st, idx, lf->lf_body, lf->lf_body_len,
	    (const uint8_t *)disc, disc_len, &evaluated, &res);
	if (disc != NULL) {
		sodium_memzero(disc, disc_len);
		free(disc);
	}
	if (e != SAKSI_OK)
		return e;
	rp->events++;
	if (!evaluated) {
		rp->not_evaluated++;
		return SAKSI_OK;
	}
	return raised(rp, st, &res);
}

/* An alert entry of the ledger, for --check: kinds 1-3 only. Later kinds (4, the
 * re-raise of an unacknowledged alert, and after) come from the daemon's clock or its
 * refusal counters, not from the rules over the events, and are not replayed. */
static void
ledger_alert(struct replay *rp, uint64_t idx, const saksi_leaf *lf)
{
	saksi_alert a;

	if (!rp->check)
		return;
	if (lf->lf_body_len > 8 && (lf->lf_body[8] < SAKSI_ALERT_RULE ||
	    lf->lf_body[8] > SAKSI_ALERT_LATE)) {
		rp->ledger_skipped++;
		return;
	}
	/* A malformed entry is a difference of its own (trigger: its own index). */
	if (saksi_alert_leaf_parse(lf->lf_body, lf->lf_body_len, &a) != SAKSI_OK) {
		a.al_trigger = idx;
		a.al_kind = 0;
	}
	/* With --to-index, only what the replayed events raised. */
	if (a.al_trigger > rp->to_idx)
		return;
	if (a.al_kind != 0)
		count_rule_side(rp, &a, 1);
	rp->ledger_alerts++;
	pending_push(&rp->theirs, lf->lf_body, lf->lf_body_len, idx, a.al_trigger);
}

/*
 * The rules' state: a fresh LMDB file in a private directory, unlinked (and the
 * directory removed) as soon as it is open. The mapping keeps it alive until exit.
 */
static MDB_env *
state_open(const char *tmpdir)
{
	char dir[PATH_MAX], file[PATH_MAX + 16];
	MDB_env *env;
	int rc;

	if (snprintf(dir, sizeof(dir), "%s/saksi-replay-XXXXXX", tmpdir) >= (int)sizeof(dir))
		xdie("--tmpdir %s: path too long", tmpdir);
	if (mkdtemp(dir) == NULL)
		xdie("cannot make a private directory in %s: %s", tmpdir, strerror(errno));
	snprintf(file, sizeof(file), "%s/state.mdb", dir);
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 2)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, STATE_MAP_SIZE)) != 0 ||
	    (rc = mdb_env_open(env, file, MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC |
	    MDB_NOMETASYNC, 0600)) != 0) {
		unlink(file);
		rmdir(dir);
		xdie("cannot make the rules' scratch state in %s: %s", tmpdir,
		    mdb_strerror(rc));
	}
	if (unlink(file) != 0 || rmdir(dir) != 0) {
		int err = errno;
		mdb_env_close(env);
		unlink(file);
		rmdir(dir);
		xdie("cannot remove the scratch state %s: %s", dir, strerror(err));
	}
	return env;
}

/* --from/--to: milliseconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC). A date alone
 * is its first millisecond for --from and its last for --to. */
static uint64_t
parse_time(const char *s, int end, const char *what)
{
	struct tm tm;
	const char *rest;
	time_t t;

	if (strspn(s, "0123456789") == strlen(s))
		return xparse_u64(s, what);
	memset(&tm, 0, sizeof(tm));
	if ((rest = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		goto bad;
	if (*rest == '\0') {
		if ((t = timegm(&tm)) < 0)
			goto bad;
		return (uint64_t)t * 1000 + (end ? 86400000 - 1 : 0);
	}
	if ((rest = strptime(rest, "T%H:%M:%SZ", &tm)) == NULL || *rest != '\0' ||
	    (t = timegm(&tm)) < 0)
		goto bad;
	return (uint64_t)t * 1000 + (end ? 999 : 0);
bad:
	xusage(usage, "%s must be milliseconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", what);
}

static void
print_summary(const struct replay *rp, const char *rules_path)
{
	if (rp->json) {
		json_t *per = json_object(), *o;
		char *s;

		for (size_t i = 0; i < rp->nrc; i++)
			if (rp->rc[i].n > 0)
				json_object_set_new(per, rp->rc[i].id,
				    json_integer((json_int_t)rp->rc[i].n));
		o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "rules", rules_path,
		    "entries", (json_int_t)rp->size, "events", (json_int_t)rp->events,
		    "out_of_range", (json_int_t)rp->out_of_range,
		    "not_evaluated", (json_int_t)rp->not_evaluated,
		    "alerts", (json_int_t)rp->alerts, "per_rule", per);
		if (rp->check) {
			json_object_set_new(o, "ledger_alerts",
			    json_integer((json_int_t)rp->ledger_alerts));
			json_object_set_new(o, "ledger_skipped",
			    json_integer((json_int_t)rp->ledger_skipped));
			json_object_set_new(o, "differences",
			    json_integer((json_int_t)rp->differences));
			{
				json_t *kinds = json_object(), *pl = json_object();

				for (size_t k = 0; k < NDIFF; k++)
					json_object_set_new(kinds, diff_kinds[k],
					    json_integer((json_int_t)rp->diff_n[k]));
				for (size_t i = 0; i < rp->nrc; i++)
					if (rp->rc[i].n_ledger > 0)
						json_object_set_new(pl, rp->rc[i].id,
						    json_integer((json_int_t)rp->rc[i].n_ledger));
				json_object_set_new(o, "differences_by_kind", kinds);
				json_object_set_new(o, "ledger_per_rule", pl);
			}
		}
		o = json_pack("{s:o}", "summary", o);
		s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(o);
		printf("%s\n", s);
		free(s);
		return;
	}
	printf("replay of %s over %" PRIu64 " entries: %" PRIu64 " events replayed",
	    rules_path, rp->size, rp->events);
	if (rp->out_of_range > 0)
		printf(" (%" PRIu64 " outside --from/--to)", rp->out_of_range);
	if (rp->not_evaluated > 0)
		printf(", %" PRIu64 " not evaluated (malformed for the rules)", rp->not_evaluated);
	printf(", %" PRIu64 " alert(s) would be raised\n", rp->alerts);
	/* With --check, each rule's count beside the ledger's: what a candidate changes. */
	if (rp->check)
		printf("  %-40s %8s %8s\n", "rule", "replay", "ledger");
	for (size_t i = 0; i < rp->nrc; i++) {
		if (!rp->check) {
			printf("  %-40s %" PRIu64 "\n", rp->rc[i].id, rp->rc[i].n);
			continue;
		}
		printf("  %-40s %8" PRIu64 " %8" PRIu64 "%s\n", rp->rc[i].id, rp->rc[i].n,
		    rp->rc[i].n_ledger, rp->rc[i].n != rp->rc[i].n_ledger ? "  *" : "");
	}
	if (rp->check) {
		printf("check: %" PRIu64 " alert entries in the ledger (%" PRIu64 " of kind 4 "
		    "and later not compared), %" PRIu64 " difference(s)", rp->ledger_alerts,
		    rp->ledger_skipped, rp->differences);
		if (rp->differences == 0)
			printf(": the replay reproduces the ledger's alerts byte for byte\n");
		else {
			for (size_t k = 0; k < NDIFF; k++)
				printf("%s%" PRIu64 " %s", k == 0 ? ": " : ", ", rp->diff_n[k],
				    diff_kinds[k]);
			printf("%s\n", rp->quiet && rp->diff_n[NDIFF - 1] > 0 ? " (renumbered "
			    "ones not printed: the same alert under another id)" : "");
		}
	}
}

int
cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "ledger", required_argument, NULL, 'l' },
		{ "rules", required_argument, NULL, 'r' },
		{ "schemas", required_argument, NULL, 's' },
		{ "index-key", required_argument, NULL, 'i' },
		{ "store-key", required_argument, NULL, 'S' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "from-index", required_argument, NULL, 'F' },
		{ "to-index", required_argument, NULL, 'T' },
		{ "check", no_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "tmpdir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL, *ledger = NULL, *rules = NULL, *schemas = NULL,
	    *index_key = NULL, *store_key = NULL, *passfile = NULL, *tmpdir = NULL;
	char ldir[PATH_MAX], err[1024];
	saksid_config cf;
	int c, have_cf = 0, ranged = 0;
	struct replay rp;
	saksi_rules *r = NULL;
	saksi_seckey *ik, *sk;
	saksi_blind *blind;
	saksi_ledger *l;
	saksi_ledger_txn *lt;
	MDB_env *env;
	MDB_txn *st;
	uint64_t end;
	saksi_err e;

	memset(&rp, 0, sizeof(rp));
	rp.to_ms = rp.to_idx = UINT64_MAX;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'l': ledger = optarg; break;
		case 'r': rules = optarg; break;
		case 's': schemas = optarg; break;
		case 'i': index_key = optarg; break;
		case 'S': store_key = optarg; break;
		case 'p': passfile = optarg; break;
		case 'f': rp.from_ms = parse_time(optarg, 0, "--from"); ranged = 1; break;
		case 't': rp.to_ms = parse_time(optarg, 1, "--to"); ranged = 1; break;
		case 'F': rp.from_idx = xparse_u64(optarg, "--from-index"); ranged = 1; break;
		case 'T': rp.to_idx = xparse_u64(optarg, "--to-index"); break;
		case 'k': rp.check = 1; break;
		case 'j': rp.json = 1; break;
		case 'q': rp.quiet = 1; break;
		case 'd': tmpdir = optarg; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (conf == NULL && (ledger == NULL || index_key == NULL || store_key == NULL))
		xusage(usage, "give --config saksid.conf, or --ledger, --index-key and "
		    "--store-key");
	if (rp.from_ms > rp.to_ms || rp.from_idx > rp.to_idx)
		xusage(usage, "the range is empty: --from is after --to");
	/* The rules start empty at the first event replayed: only the whole ledger, or a
	 * prefix of it, can reproduce what saksid raised. */
	if (rp.check && ranged)
		xusage(usage, "--check replays from the first entry: of the ranges, only "
		    "--to-index goes with it");
	if (conf != NULL) {
		if ((e = saksid_config_load(conf, &cf, err, sizeof(err))) != SAKSI_OK)
			xdie("%s", err[0] != '\0' ? err : saksi_strerror(e));
		have_cf = 1;
		if (ledger == NULL) {
			if (snprintf(ldir, sizeof(ldir), "%s/ledger", cf.cf_state_dir) >=
			    (int)sizeof(ldir))
				xdie("state_dir %s: path too long", cf.cf_state_dir);
			ledger = ldir;
		}
		if (rules == NULL)
			rules = cf.cf_rules;
		if (schemas == NULL)
			schemas = cf.cf_schemas_dir;
		if (index_key == NULL)
			index_key = cf.cf_index_key;
		if (store_key == NULL)
			store_key = cf.cf_store_key;
	}
	if (rules == NULL)
		xusage(usage, "no rules: give --rules FILE (%s sets none)", conf);
	if (index_key == NULL)
		xusage(usage, "no index key: give --index-key FILE (%s sets no index_key)", conf);
	if (tmpdir == NULL && ((tmpdir = getenv("TMPDIR")) == NULL || *tmpdir == '\0'))
		tmpdir = "/tmp";

	/* A candidate that does not load says where, like saksid does: a policy failure. */
	if ((e = saksi_rules_load(rules, schemas, &r, err, sizeof(err))) != SAKSI_OK) {
		fprintf(stderr, "saksi: %s\n", err[0] != '\0' ? err : saksi_strerror(e));
		exit(e == SAKSI_ERR_NOT_FOUND || e == SAKSI_ERR_IO || e == SAKSI_ERR_NOMEM ?
		    SX_USAGE : SX_FAIL);
	}
	rp.r = r;
	ik = xseckey_load(index_key, passfile);
	if (saksi_seckey_kind(ik) != SAKSI_KEY_SYM)
		xdie("index key %s is not a symmetric key (saksi keygen --kind sym)", index_key);
	if (saksi_blind_new(saksi_seckey_sym(ik), &blind) != SAKSI_OK)
		xdie("out of memory");
	saksi_seckey_free(ik);   /* the blinding context keeps its own guarded copy */
	sk = xseckey_load(store_key, passfile);
	if (saksi_seckey_kind(sk) != SAKSI_KEY_SYM)
		xdie("store key %s is not a symmetric key", store_key);
	rp.store = sk;
	/* The data keys: the slot file beside data.mdb, the master where saksid keeps it
	 * (state_dir, the ledger directory's parent). Neither there: a ledger from before
	 * per-participant keys, or a copy without them. */
	{
		char slots[PATH_MAX + 16], master[PATH_MAX + 32];

		snprintf(slots, sizeof(slots), "%s/datakeys", ledger);
		if (have_cf)
			snprintf(master, sizeof(master), "%s/datakeys.master", cf.cf_state_dir);
		else
			snprintf(master, sizeof(master), "%s/../datakeys.master", ledger);
		e = saksi_dk_open(slots, master, sk, 0, 0, &rp.dk);
		if (e == SAKSI_ERR_KEY)
			xdie("the disclosures' data keys (%s) do not open with the store key: give "
			    "saksid's store_key", master);
		if (e != SAKSI_OK && e != SAKSI_ERR_NOT_FOUND)
			xdie_err(e, "cannot read the data keys %s, %s", slots, master);
	}
	if (saksi_detect_new(blind, &rp.det) != SAKSI_OK)
		xdie("out of memory");
	/* A reader that cannot take a slot in the lock file is invisible to a running
	 * saksid, which may then reuse the pages being read (saksi backup refuses it too). */
	{
		char lock[PATH_MAX + 16];

		if (snprintf(lock, sizeof(lock), "%s/lock.mdb", ledger) >= (int)sizeof(lock))
			xdie("ledger %s: path too long", ledger);
		if (access(lock, F_OK) == 0 && access(lock, R_OK | W_OK) != 0)
			xdie("%s is not writable by this user, so a running saksid would not see "
			    "this reader: run as the ledger's owner (runuser -u saksi -- saksi "
			    "replay ...), or replay a copy (saksi backup)", lock);
	}
	l = xledger_open_ro(ledger);

	env = state_open(tmpdir);
	if (mdb_txn_begin(env, NULL, 0, &st) != 0)
		xdie("cannot begin the scratch state");
	if ((e = saksi_rules_attach(r, st)) != SAKSI_OK || mdb_txn_commit(st) != 0)
		xdie_err(e, "cannot attach the rules to the scratch state");

	/* One snapshot size: a commit group is atomic, so every alert entry of an event
	 * below it is below it too. Events saksid appends meanwhile are not replayed. */
	if ((e = saksi_ledger_begin(l, 0, &lt)) != SAKSI_OK)
		xdie_err(e, "cannot read the ledger");
	rp.size = saksi_ledger_size(lt);
	saksi_ledger_abort(lt);
	/* With --check, read on past --to-index: the alert entries of the last events
	 * replayed follow them in their commit group. */
	end = rp.check || rp.to_idx >= rp.size ? rp.size : rp.to_idx + 1;
	for (uint64_t base = rp.from_idx; base < end; base += CHUNK) {
		if ((e = saksi_ledger_begin(l, 0, &lt)) != SAKSI_OK)
			xdie_err(e, "cannot read the ledger");
		if (mdb_txn_begin(env, NULL, 0, &st) != 0)
			xdie("cannot begin the scratch state");
		for (uint64_t i = base; i < base + CHUNK && i < end; i++) {
			uint8_t *leaf;
			size_t len;
			saksi_leaf lf;

			if ((e = saksi_ledger_leaf(lt, i, &leaf, &len)) != SAKSI_OK)
				xdie_err(e, "entry %" PRIu64 " cannot be read; run saksi verify", i);
			if ((e = saksi_leaf_parse(leaf, len, &lf)) != SAKSI_OK)
				xdie_err(e, "entry %" PRIu64 " is malformed; run saksi verify", i);
			if (lf.lf_kind == SAKSI_LEAF_EVENT) {
				/* An event after an alert or refusal entry starts a new commit
				 * group: every alert of an earlier event is in by now. */
				if (rp.check && rp.after_alerts)
					compare(&rp, i);
				rp.after_alerts = 0;
				if (i >= rp.from_idx && i <= rp.to_idx)
					e = replay_event(&rp, lt, st, i, leaf, len, &lf);
			} else {
				rp.after_alerts = 1;
				if (lf.lf_kind == SAKSI_LEAF_ALERT)
					ledger_alert(&rp, i, &lf);
			}
			free(leaf);
			if (e == SAKSI_ERR_FULL)
				xdie("the scratch state in %s is full: give --tmpdir on a larger "
				    "file system", tmpdir);
			if (e != SAKSI_OK)
				xdie_err(e, "replaying entry %" PRIu64, i);
		}
		if (mdb_txn_commit(st) != 0)
			xdie("the scratch state in %s cannot be written (disk full?)", tmpdir);
		saksi_ledger_abort(lt);
	}
	if (rp.check)
		compare(&rp, UINT64_MAX);
	print_summary(&rp, rules);
	fflush(stdout);

	pending_free(&rp.mine);
	pending_free(&rp.theirs);
	free(rp.rc);
	mdb_env_close(env);
	saksi_ledger_close(l);
	saksi_detect_free(rp.det);
	saksi_blind_free(blind);
	saksi_dk_close(rp.dk);
	saksi_seckey_free(sk);
	saksi_rules_free(r);
	if (have_cf)
		saksid_config_free(&cf);
	return rp.check && rp.differences > 0 ? SX_FAIL : SX_OK;
}
