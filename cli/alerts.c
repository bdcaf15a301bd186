/*
 * alerts.c: saksi alerts follow (the daemon's PUB socket, live), saksi alerts list
 * (the alert entries of a ledger copy, with their ack state), saksi alerts show (one
 * alert and its evidence, masked, on the appliance) and saksi alerts ack (a signed
 * acknowledgement, RULES.md 5.3). An alert carries blind tokens and leaf indices,
 * never a personal value; a published message or a ledger copy is hostile input, parsed
 * strictly, and a note is printed only as printable ASCII.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>

#include "appliance.h"
#include "blind.h"
#include "cli.h"
#include "client.h"
#include "config.h"
#include "envelope.h"
#include "query.h"
#include "rules.h"
#include "schema.h"
#include "subject.h"
#include "verify.h"
#include "wire.h"

#define ACK_TYPE "security.alert.acked"
#define ACK_NOTE_MAX 500
#define ACK_KIND_REFUSALS "refusals"

static const char *const sev_names[] = { "?", "low", "medium", "high", "critical" };
static const char *const kind_names[] = { "?", "rule", "cap", "late", "reraise", "refusals" };

/* The zone times are printed in (--tz): NULL is UTC in ISO 8601 with Z, the default
 * and what scripts parse; a named zone prints "2026-11-07 01:22:59.773 WITA". */
struct tz {
	int off_min;
	const char *name;
};

static void
iso_time_tz(uint64_t ms, const struct tz *z, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000) + (z != NULL ? (time_t)z->off_min * 60 : 0);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, len, z != NULL ? "%Y-%m-%d %H:%M:%S" :
	    "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, len, "?");
		return;
	}
	if (z != NULL)
		snprintf(out + strlen(out), len - strlen(out), ".%03u %s",
		    (unsigned)(ms % 1000), z->name);
	else
		snprintf(out + strlen(out), len - strlen(out), ".%03uZ", (unsigned)(ms % 1000));
}

/* --tz NAME into *z (UTC: none, the default form); dies on another name. */
static const struct tz *
parse_tz(const char *name, struct tz *z, const char *usage)
{
	if (saksi_subject_zone(name, &z->off_min, &z->name) != SAKSI_OK)
		xusage(usage, "--tz is WIB, WITA, WIT or UTC");
	return strcmp(z->name, "UTC") == 0 ? NULL : z;
}

/* The group with every blind token cut to its first 10 characters: enough to tell
 * groups apart on a screen, and the full token is in --json. */
static void
short_group(const char *g, char *out, size_t len)
{
	size_t o = 0;

	while (*g != '\0' && o + 1 < len) {
		size_t n = strcspn(g, ","), eq = strcspn(g, "=");
		char tok[SAKSI_BLIND_TOKEN_LEN + 1];

		if (eq < n && n - eq - 1 == SAKSI_BLIND_TOKEN_LEN) {
			memcpy(tok, g + eq + 1, SAKSI_BLIND_TOKEN_LEN);
			tok[SAKSI_BLIND_TOKEN_LEN] = '\0';
			if (saksi_blind_is_token(tok)) {
				o += (size_t)snprintf(out + o, len - o, "%.*s=%.10s...", (int)eq, g,
				    tok);
				goto next;
			}
		}
		o += (size_t)snprintf(out + o, len - o, "%.*s", (int)n, g);
next:
		if (o >= len)
			break;
		g += n;
		if (*g == ',') {
			o += (size_t)snprintf(out + o, len - o, ",");
			g++;
		}
	}
	out[o < len ? o : len - 1] = '\0';
}

/* A rule's and a refusal alert's rule names say what they are without a kind prefix. */
static int
plain_kind(int kind)
{
	return kind == SAKSI_ALERT_RULE || kind == SAKSI_ALERT_REFUSALS;
}

/* One human line: time, severity, rule, group, evidence. entry: the ledger index, or
 * UINT64_MAX when not known (a published alert); raised_ms: when a re-raise was
 * committed (its entry's commit time), 0 when not known. */
static void
print_human(const saksi_alert *a, uint64_t entry, uint64_t raised_ms, const struct tz *z)
{
	char when[40], group[SAKSI_RULES_GROUP_MAX + 1];

	iso_time_tz(a->al_last_ms, z, when, sizeof(when));
	short_group(a->al_group, group, sizeof(group));
	printf("%s  alert %" PRIu64, when, a->al_id);
	if (entry != UINT64_MAX)
		printf(" (entry %" PRIu64 ")", entry);
	printf("  %s  %s%s%s  %s  value %" PRIu64 "/%" PRIu64, sev_names[a->al_severity],
	    plain_kind(a->al_kind) ? "" : kind_names[a->al_kind],
	    plain_kind(a->al_kind) ? "" : ":", a->al_rule, group, a->al_value,
	    a->al_threshold);
	/* A re-raise: its number in the chain (RULES.md 5.3). Its one evidence entry is the
	 * original alert's, which holds the evidence: say so rather than "1 of N". */
	if (a->al_kind == SAKSI_ALERT_RERAISE && a->al_nevidence == 1) {
		printf("  original entry %" PRIu64 "  raised again (%" PRIu64 ")",
		    a->al_evidence[0], a->al_extra);
		if (raised_ms != 0) {
			iso_time_tz(raised_ms, z, when, sizeof(when));
			printf(" at %s", when);
		}
	} else {
		printf("  evidence %" PRIu32, a->al_nevidence);
		if (a->al_total > a->al_nevidence)
			printf(" of %" PRIu32, a->al_total);
		printf(":");
		for (uint32_t i = 0; i < a->al_nevidence; i++)
			printf("%s%" PRIu64, i == 0 ? " " : ",", a->al_evidence[i]);
		if (a->al_kind == SAKSI_ALERT_RERAISE)
			printf("  raised again (%" PRIu64 ")", a->al_extra);
	}
	if (entry != UINT64_MAX)
		return;   /* list adds the state and ends the line */
	putchar('\n');
}

static int
name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 1; i < n; i++)
		if (s != NULL && strcmp(names[i], s) == 0)
			return (int)i;
	return 0;
}

/* A published alert (RULES.md 5.2) back into a struct; 0 if it is not one. */
static int
parse_published(const char *msg, size_t len, saksi_alert *a)
{
	json_t *root, *ev, *x;
	json_int_t id, first, last, value, thr, extra, trig, total;
	const char *kind, *sev, *rule, *group;
	json_error_t jerr;
	size_t i;
	int ok = 0;

	memset(a, 0, sizeof(*a));
	if ((root = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return 0;
	if (json_unpack(root, "{s:o, s:I, s:I, s:s, s:I, s:s, s:I, s:s, s:s, s:I, s:I, "
	    "s:I, s:I}", "evidence", &ev, "extra", &extra, "first_ms", &first, "group", &group,
	    "id", &id, "kind", &kind, "last_ms", &last, "rule", &rule, "severity", &sev,
	    "threshold", &thr, "total", &total, "trigger", &trig, "value", &value) != 0 ||
	    !json_is_array(ev) || json_array_size(ev) > SAKSI_ALERT_EVIDENCE_MAX ||
	    id < 1 || first < 0 || last < first || value < 0 || thr < 0 || extra < 0 ||
	    trig < 0 || total < 0 || total > UINT32_MAX ||
	    strlen(rule) >= sizeof(a->al_rule) || strlen(group) >= sizeof(a->al_group))
		goto out;
	a->al_id = (uint64_t)id;
	a->al_kind = name_index(kind_names, 6, kind);
	a->al_severity = name_index(sev_names, 5, sev);
	if (a->al_kind == 0 || a->al_severity == 0)
		goto out;
	snprintf(a->al_rule, sizeof(a->al_rule), "%s", rule);
	snprintf(a->al_group, sizeof(a->al_group), "%s", group);
	a->al_first_ms = (uint64_t)first;
	a->al_last_ms = (uint64_t)last;
	a->al_value = (uint64_t)value;
	a->al_threshold = (uint64_t)thr;
	a->al_extra = (uint64_t)extra;
	a->al_trigger = (uint64_t)trig;
	a->al_total = (uint32_t)total;
	json_array_foreach(ev, i, x) {
		if (!json_is_integer(x) || json_integer_value(x) < 0)
			goto out;
		a->al_evidence[a->al_nevidence++] = (uint64_t)json_integer_value(x);
	}
	ok = 1;
out:
	json_decref(root);
	return ok;
}

/* saksid's own config, read with its own parser (the appliance's paths). */
static void
xconfig_load(const char *path, saksid_config *cf)
{
	char err[512] = "";
	saksi_err e;

	if ((e = saksid_config_load(path, cf, err, sizeof(err))) != SAKSI_OK)
		xdie("%s", err[0] != '\0' ? err : saksi_strerror(e));
}

static int
alerts_follow(int argc, char **argv)
{
	static const char usage[] =
	    "saksi alerts follow (--url URL | --config FILE) [--json] [--count N] "
	    "[--tz WIB|WITA|WIT|UTC]";
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'n' },
		{ "config", required_argument, NULL, 'c' },
		{ "tz", required_argument, NULL, 'z' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL, *config = NULL;
	saksid_config cf;
	int have_cf = 0;
	struct tz zbuf;
	const struct tz *z = NULL;
	uint64_t count = 0, seen = 0;
	int c, json = 0, sock;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 'j': json = 1; break;
		case 'n': count = xparse_u64(optarg, "--count"); break;
		case 'c': config = optarg; break;
		case 'z': z = parse_tz(optarg, &zbuf, usage); break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (url != NULL && config != NULL)
		xusage(usage, "--url or --config, not both");
	/* On the appliance: the alerts_listen of saksid's own config. */
	if (config != NULL) {
		xconfig_load(config, &cf);
		have_cf = 1;
		if ((url = cf.cf_alerts_listen) == NULL)
			xdie("%s has no alerts_listen: saksid publishes no alerts (add one and "
			    "restart saksid)", config);
	}
	if (url == NULL)
		xusage(usage, "--url is required (saksid.conf's alerts_listen), or --config");
	if ((sock = nn_socket(AF_SP, NN_SUB)) < 0 ||
	    nn_setsockopt(sock, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) < 0)
		xdie("nn_socket: %s", nn_strerror(nn_errno()));
	if (nn_connect(sock, url) < 0)
		xdie("cannot connect to %s: %s", url, nn_strerror(nn_errno()));
	/* A line as soon as an alert comes, also into a file or a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* PUB keeps nothing for a subscriber not yet connected: say when alerts can reach
	 * us (scripts wait for this line before they raise any). */
	{
		int to = 100;
		nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
		while (nn_get_statistic(sock, NN_STAT_CURRENT_CONNECTIONS) == 0) {
			void *buf = NULL;
			if (nn_recv(sock, &buf, NN_MSG, 0) >= 0)
				nn_freemsg(buf);   /* cannot happen before a connection */
		}
		to = -1;
		nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
		fprintf(stderr, "saksi: following alerts on %s\n", url);
	}
	while (count == 0 || seen < count) {
		saksi_alert a;
		void *buf = NULL;
		int n = nn_recv(sock, &buf, NN_MSG, 0);

		if (n < 0) {
			if (nn_errno() == EINTR)
				continue;
			xdie("receiving from %s: %s", url, nn_strerror(nn_errno()));
		}
		if (!parse_published(buf, (size_t)n, &a)) {
			fprintf(stderr, "saksi: ignoring a message that is not an alert (%d "
			    "bytes)\n", n);
			nn_freemsg(buf);
			continue;
		}
		if (json)
			printf("%.*s\n", n, (const char *)buf);
		else
			print_human(&a, UINT64_MAX, 0, z);
		nn_freemsg(buf);
		seen++;
	}
	nn_close(sock);
	if (have_cf)
		saksid_config_free(&cf);
	return SX_OK;
}

/* What the ledger says of one alert id: its acknowledgement and re-raises. */
struct astate {
	uint64_t as_id;
	int as_acked;
	uint64_t as_ack_entry;
	uint64_t as_ack_ms;          /* commit time of the ack's entry */
	uint8_t as_key_id[SAKSI_KEYID_LEN];
	char as_note[ACK_NOTE_MAX + 1];
	uint64_t as_reraises;
	int as_severity;             /* of the latest raise, 0 if none seen */
};

struct astates {
	struct astate *v;
	size_t n, cap;
};

static int
cmp_astate(const void *a, const void *b)
{
	uint64_t x = ((const struct astate *)a)->as_id, y = ((const struct astate *)b)->as_id;

	return x < y ? -1 : x > y;
}

/* The state of id, added if new (the array is sorted again before any lookup). */
static struct astate *
astate_add(struct astates *st, uint64_t id)
{
	for (size_t i = st->n; i > 0 && st->v[i - 1].as_id >= id; i--)
		if (st->v[i - 1].as_id == id)
			return &st->v[i - 1];
	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 64;
		if ((st->v = realloc(st->v, st->cap * sizeof(*st->v))) == NULL)
			xdie("out of memory");
	}
	memset(&st->v[st->n], 0, sizeof(st->v[0]));
	st->v[st->n].as_id = id;
	return &st->v[st->n++];
}

static struct astate *
astate_find(const struct astates *st, uint64_t id)
{
	struct astate k;

	k.as_id = id;
	return st->n == 0 ? NULL : bsearch(&k, st->v, st->n, sizeof(k), cmp_astate);
}

/* Printable ASCII only: a ledger copy may hold anything, a terminal must not see it. */
static void
clean_note(const char *in, size_t len, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; i < len && i + 1 < outlen; i++)
		out[i] = in[i] >= 0x20 && in[i] <= 0x7e ? in[i] : '?';
	out[i] = '\0';
}

/* An ack event: id and note, or 0 when the payload is not one; *refusals: 1 if it
 * names a refusal alert (alert_kind "refusals", RULES.md 5.4). */
static uint64_t
ack_parse(const saksi_envelope *env, char *note, size_t notelen, int *refusals)
{
	json_t *root, *id, *nt, *kind;
	uint64_t r = 0;

	*refusals = 0;
	root = json_loadb((const char *)env->ev_payload, env->ev_payload_len,
	    JSON_REJECT_DUPLICATES, NULL);
	id = json_object_get(root, "alert_id");
	nt = json_object_get(root, "note");
	kind = json_object_get(root, "alert_kind");
	if (json_is_integer(id) && json_integer_value(id) > 0 && json_is_string(nt) &&
	    (kind == NULL || (json_is_string(kind) &&
	     strcmp(json_string_value(kind), ACK_KIND_REFUSALS) == 0))) {
		r = (uint64_t)json_integer_value(id);
		*refusals = kind != NULL;
		clean_note(json_string_value(nt), json_string_length(nt), note, notelen);
	}
	json_decref(root);
	return r;
}

/*
 * First pass: the acks (events of ACK_TYPE; saksid commits only the first ack of an open
 * alert, and a later one for the same id in a copy is ignored here) and the re-raises.
 * Acks of refusal alerts go to rst: those are numbered apart (RULES.md 5.4).
 */
static int
scan_states(saksi_ledger_txn *txn, uint64_t size, struct astates *st, struct astates *rst)
{
	int bad = 0;

	for (uint64_t i = 0; i < size; i++) {
		saksi_leaf lf;
		saksi_envelope env;
		saksi_alert a;
		uint8_t *leaf = NULL;
		size_t len;
		saksi_err e;

		if ((e = saksi_ledger_leaf(txn, i, &leaf, &len)) != SAKSI_OK)
			xdie_err(e, "entry %" PRIu64 " cannot be read; run saksi verify", i);
		if (saksi_leaf_parse(leaf, len, &lf) != SAKSI_OK) {
			bad = 1;
		} else if (lf.lf_kind == SAKSI_LEAF_EVENT &&
		    saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &env) == SAKSI_OK &&
		    strcmp(env.ev_type, ACK_TYPE) == 0) {
			char note[ACK_NOTE_MAX + 1];
			int refusals;
			uint64_t id = ack_parse(&env, note, sizeof(note), &refusals);
			struct astate *s;

			if (id != 0 && !(s = astate_add(refusals ? rst : st, id))->as_acked) {
				s->as_acked = 1;
				s->as_ack_entry = i;
				s->as_ack_ms = lf.lf_commit_ms;
				memcpy(s->as_key_id, env.ev_key_id, SAKSI_KEYID_LEN);
				memcpy(s->as_note, note, sizeof(note));
			}
		} else if (lf.lf_kind == SAKSI_LEAF_ALERT &&
		    saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &a) == SAKSI_OK &&
		    a.al_kind == SAKSI_ALERT_RERAISE) {
			struct astate *s = astate_add(st, a.al_id);

			s->as_reraises++;
			s->as_severity = a.al_severity;
		}
		free(leaf);
	}
	if (st->n > 0)
		qsort(st->v, st->n, sizeof(st->v[0]), cmp_astate);
	if (rst->n > 0)
		qsort(rst->v, rst->n, sizeof(rst->v[0]), cmp_astate);
	return bad;
}

static void
ack_who(const struct astate *s, const saksi_keyring *kr, char *out, size_t len)
{
	const saksi_keyring_entry *ke = kr != NULL ? saksi_keyring_find(kr, s->as_key_id) :
	    NULL;
	char hex[2 * SAKSI_KEYID_LEN + 1];

	keyid_to_hex(s->as_key_id, hex);
	if (ke != NULL)
		snprintf(out, len, "%s", ke->ke_name);
	else
		snprintf(out, len, "%s", hex);
}

/*
 * Ends a list line with the alert's state: "acked by ..." or "open"; an original alert
 * still open says how often it was raised again and how high it stands now, so that the
 * line an officer reads first is the one that says it is escalating.
 */
static void
print_state(const saksi_alert *a, const struct astate *s, const char *who,
            const char *when)
{
	if (s != NULL && s->as_acked) {
		printf("  acked by %s at %s (entry %" PRIu64 "): %s\n", who, when,
		    s->as_ack_entry, s->as_note);
		return;
	}
	printf("  open");
	if (a->al_kind != SAKSI_ALERT_RERAISE && s != NULL && s->as_reraises > 0 &&
	    s->as_severity > 0 && s->as_severity <= 4)
		printf(", raised again %" PRIu64 " time%s, now %s", s->as_reraises,
		    s->as_reraises == 1 ? "" : "s", sev_names[s->as_severity]);
	putchar('\n');
}

static int
alerts_list(int argc, char **argv)
{
	static const char usage[] =
	    "saksi alerts list (--ledger DIR | --config FILE) [--open] [--keyring FILE] "
	    "[--json [--state]] [--tz WIB|WITA|WIT|UTC]";
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ "tz", required_argument, NULL, 'z' },
		{ "json", no_argument, NULL, 'j' },
		{ "open", no_argument, NULL, 'o' },
		{ "keyring", required_argument, NULL, 'K' },
		{ "state", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *krf = NULL, *config = NULL;
	char *cdir = NULL;
	struct tz zbuf;
	const struct tz *z = NULL;
	saksid_config cf;
	saksi_keyring *kr = NULL;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	struct astates st = { NULL, 0, 0 }, rst = { NULL, 0, 0 };
	uint64_t size, n = 0, nopen = 0;
	int c, json = 0, only_open = 0, with_state = 0, bad = 0;
	saksi_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': dir = optarg; break;
		case 'j': json = 1; break;
		case 'o': only_open = 1; break;
		case 's': with_state = 1; break;
		case 'K': krf = optarg; break;
		case 'c': config = optarg; break;
		case 'z': z = parse_tz(optarg, &zbuf, usage); break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (dir != NULL && config != NULL)
		xusage(usage, "--ledger (a copy) or --config (the appliance's), not both");
	/* On the appliance: saksid's ledger, named by its keyring. */
	if (config != NULL) {
		xconfig_load(config, &cf);
		cdir = xmalloc(strlen(cf.cf_state_dir) + sizeof("/ledger"));
		sprintf(cdir, "%s/ledger", cf.cf_state_dir);
		dir = cdir;
		if (krf == NULL && cf.cf_keyring != NULL)
			krf = cf.cf_keyring;
	}
	if (dir == NULL)
		xusage(usage, "--ledger DIR (a copy) or --config FILE (on the appliance) is "
		    "required");
	if (with_state && !json)
		xusage(usage, "--state is for --json (the lines show the state anyway)");
	if (json)
		z = NULL;   /* JSON keeps UTC milliseconds and ISO 8601 with Z */
	if (krf != NULL)
		kr = xkeyring_load(krf);
	l = xledger_open_ro(dir);
	if ((e = saksi_ledger_begin(l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read the ledger");
	size = saksi_ledger_size(txn);
	bad = scan_states(txn, size, &st, &rst);
	for (uint64_t i = 0; i < size; i++) {
		saksi_leaf lf;
		saksi_alert a;
		const struct astate *s;
		uint8_t *leaf = NULL;
		size_t len;
		char *js, who[128], when[40];

		if ((e = saksi_ledger_leaf(txn, i, &leaf, &len)) != SAKSI_OK)
			xdie_err(e, "entry %" PRIu64 " cannot be read; run saksi verify", i);
		if (saksi_leaf_parse(leaf, len, &lf) != SAKSI_OK ||
		    (lf.lf_kind == SAKSI_LEAF_ALERT &&
		     saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &a) != SAKSI_OK)) {
			fprintf(stderr, "saksi: entry %" PRIu64 " is malformed; run saksi "
			    "verify\n", i);
			bad = 1;
			free(leaf);
			continue;
		}
		free(leaf);
		if (lf.lf_kind != SAKSI_LEAF_ALERT)
			continue;
		/* A refusal alert's id numbers refusal alerts (RULES.md 5.4), acked apart. */
		s = astate_find(a.al_kind == SAKSI_ALERT_REFUSALS ? &rst : &st, a.al_id);
		if (s != NULL && s->as_acked && only_open)
			continue;
		n++;
		if (a.al_kind != SAKSI_ALERT_RERAISE && (s == NULL || !s->as_acked))
			nopen++;
		if (s != NULL && s->as_acked) {
			ack_who(s, kr, who, sizeof(who));
			iso_time_tz(s->as_ack_ms, z, when, sizeof(when));
		}
		if (!json) {
			print_human(&a, i, a.al_kind == SAKSI_ALERT_RERAISE ? lf.lf_commit_ms : 0, z);
			print_state(&a, s, who, when);
			continue;
		}
		if ((e = saksi_alert_json(&a, &js)) != SAKSI_OK)
			xdie_err(e, "entry %" PRIu64, i);
		/* The published line, with the entry index in front: replay --check compares
		 * it with its own. --state adds the state (RULES.md 5.3) at the end. */
		if (!with_state)
			printf("{\"entry\":%" PRIu64 ",%s\n", i, js + 1);
		else if (s != NULL && s->as_acked) {
			json_t *o = json_pack("{s:s,s:I,s:I,s:s,s:s}", "by", who, "entry",
			    (json_int_t)s->as_ack_entry, "time_ms", (json_int_t)s->as_ack_ms,
			    "time", when, "note", s->as_note);
			char *ack = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

			if (ack == NULL)
				xdie("out of memory");
			printf("{\"entry\":%" PRIu64 ",%.*s,\"state\":\"acked\",\"ack\":%s,"
			    "\"reraises\":%" PRIu64 "}\n", i, (int)(strlen(js) - 2), js + 1, ack,
			    s->as_reraises);
			free(ack);
			json_decref(o);
		} else
			printf("{\"entry\":%" PRIu64 ",%.*s,\"state\":\"open\",\"reraises\":%"
			    PRIu64 "}\n", i, (int)(strlen(js) - 2), js + 1,
			    s != NULL ? s->as_reraises : 0);
		free(js);
	}
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	saksi_keyring_free(kr);
	free(st.v);
	free(rst.v);
	if (config != NULL) {
		free(cdir);
		saksid_config_free(&cf);
	}
	if (!json)
		fprintf(stderr, "saksi: %" PRIu64 " alert entr%s listed, %" PRIu64 " alert(s) "
		    "open, in %" PRIu64 " entries\n", n, n == 1 ? "y" : "ies", nopen, size);
	return bad ? SX_FAIL : SX_OK;
}

/* The entry of the alert id of kinds 1-3 (refusals: of kind 5, numbered apart), scanning
 * from the end, where the alerts under investigation are; *a gets it. */
static uint64_t
find_alert_entry(saksi_ledger_txn *txn, uint64_t size, uint64_t id, int refusals,
                 saksi_alert *a)
{
	for (uint64_t i = size; i-- > 0;) {
		saksi_leaf lf;
		uint8_t *leaf = NULL;
		size_t len;
		int hit;
		saksi_err e;

		if ((e = saksi_ledger_leaf(txn, i, &leaf, &len)) != SAKSI_OK)
			xdie_err(e, "entry %" PRIu64 " cannot be read; run saksi verify", i);
		hit = saksi_leaf_parse(leaf, len, &lf) == SAKSI_OK &&
		    lf.lf_kind == SAKSI_LEAF_ALERT &&
		    saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, a) == SAKSI_OK &&
		    a->al_id == id && (refusals ? a->al_kind == SAKSI_ALERT_REFUSALS :
		    a->al_kind >= SAKSI_ALERT_RULE && a->al_kind <= SAKSI_ALERT_LATE);
		free(leaf);
		if (hit)
			return i;
	}
	xfail("no %salert %" PRIu64 " in the ledger (saksi alerts list shows them)",
	    refusals ? "refusal " : "", id);
}

/*
 * saksi alerts show: one alert as the security team reads it: the alert and its state,
 * the rule in plain words, then its evidence entries (and the trigger) as `saksi query`
 * shows entries, masked. On the appliance, with saksid's config: the store key and the
 * data keys open the disclosures only to mask them. Like a masked query by a field that
 * is not personal it needs no key and writes no access entry; `saksi bundle --alert` is
 * the reveal, on the record. A refusal alert's evidence is refusal summaries, which hold
 * counts, not entries of anyone: their indices are listed.
 */
static int
alerts_show(int argc, char **argv)
{
	static const char usage[] =
	    "saksi alerts show ID [--refusals] [--config FILE] [--json | --csv] "
	    "[--tz WIB|WITA|WIT|UTC]";
	enum { O_CONFIG = 256, O_JSON, O_CSV, O_REFUSALS, O_TZ };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, O_CONFIG },
		{ "json", no_argument, NULL, O_JSON },
		{ "csv", no_argument, NULL, O_CSV },
		{ "refusals", no_argument, NULL, O_REFUSALS },
		{ "tz", required_argument, NULL, O_TZ },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = "/etc/saksi/saksid.conf";
	struct tz zbuf;
	const struct tz *z = NULL;
	struct appliance x;
	struct astates st = { NULL, 0, 0 }, rst = { NULL, 0, 0 };
	const struct astate *as;
	saksi_query_result res;
	saksi_ledger_txn *txn;
	saksi_keyring *kr = NULL;
	saksi_alert *a = xmalloc(sizeof(*a));
	uint64_t id, size, entry, commit_ms = 0;
	int c, json = 0, csv = 0, refusals = 0, known;
	char who[128] = "", when[40] = "", *js;
	const char *words;
	saksi_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_CONFIG: config = optarg; break;
		case O_JSON: json = 1; break;
		case O_CSV: csv = 1; break;
		case O_REFUSALS: refusals = 1; break;
		case O_TZ: z = parse_tz(optarg, &zbuf, usage); break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind + 1 != argc)
		xusage(usage, "one alert ID is expected (saksi alerts list shows them)");
	if (json && csv)
		xusage(usage, "--json or --csv, not both");
	if (json)
		z = NULL;   /* JSON keeps UTC */
	id = xparse_u64(argv[optind], "alert ID");
	if (id == 0)
		xusage(usage, "alert ids start at 1");

	appliance_open(&x, config, NULL);
	if ((e = saksi_ledger_begin(x.l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read ledger %s", x.ledger_dir);
	size = saksi_ledger_size(txn);
	entry = find_alert_entry(txn, size, id, refusals, a);
	(void)scan_states(txn, size, &st, &rst);
	as = astate_find(refusals ? &rst : &st, id);
	{
		uint8_t *leaf = NULL;
		size_t len;
		saksi_leaf lf;

		if (saksi_ledger_leaf(txn, entry, &leaf, &len) == SAKSI_OK &&
		    saksi_leaf_parse(leaf, len, &lf) == SAKSI_OK)
			commit_ms = lf.lf_commit_ms;
		free(leaf);
	}
	memset(&res, 0, sizeof(res));
	if (!refusals) {
		saksi_query_ctx qc = { txn, 0, x.store, x.dk };
		int trig_in = 0;

		for (uint32_t i = 0; i < a->al_nevidence; i++) {
			trig_in |= a->al_evidence[i] == a->al_trigger;
			if ((e = saksi_query_add(&qc, a->al_evidence[i], 0, &res)) != SAKSI_OK)
				xfail("evidence entry %" PRIu64 " of alert %" PRIu64 " does not read as "
				    "an event (%s): run saksi verify", a->al_evidence[i], id,
				    saksi_strerror(e));
		}
		if (!trig_in && a->al_trigger < entry &&
		    (e = saksi_query_add(&qc, a->al_trigger, 0, &res)) != SAKSI_OK)
			xfail("the trigger entry %" PRIu64 " of alert %" PRIu64 " does not read as an "
			    "event (%s): run saksi verify", a->al_trigger, id, saksi_strerror(e));
	}
	saksi_ledger_abort(txn);
	if (as != NULL && as->as_acked) {
		if (x.cf.cf_keyring != NULL &&
		    saksi_keyring_load(x.cf.cf_keyring, &kr, NULL, 0) != SAKSI_OK)
			kr = NULL;
		ack_who(as, kr, who, sizeof(who));
		iso_time_tz(as->as_ack_ms, z, when, sizeof(when));
	}
	words = saksi_subject_rule(SAKSI_LANG_EN, a->al_rule, &known);

	if (json) {
		json_t *o, *pub, *rows;

		if ((e = saksi_alert_json(a, &js)) != SAKSI_OK ||
		    (pub = json_loads(js, 0, NULL)) == NULL)
			xdie("out of memory");
		free(js);
		rows = saksi_query_rows_json(&res);
		o = json_pack("{s:I, s:I, s:o, s:s, s:s, s:I}", "entry", (json_int_t)entry,
		    "commit_ms", (json_int_t)commit_ms, "alert", pub, "rule_words", words,
		    "state", as != NULL && as->as_acked ? "acked" : "open", "reraises",
		    (json_int_t)(as != NULL ? as->as_reraises : 0));
		if (o == NULL || rows == NULL)
			xdie("out of memory");
		if (as != NULL && as->as_acked)
			json_object_set_new(o, "ack", json_pack("{s:s, s:I, s:I, s:s, s:s}", "by",
			    who, "entry", (json_int_t)as->as_ack_entry, "time_ms",
			    (json_int_t)as->as_ack_ms, "time", when, "note", as->as_note));
		json_object_set_new(o, "entries", rows);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	} else {
		/* --csv: the table alone, for a spreadsheet. */
		if (!csv) {
			print_human(a, entry, 0, z);
			print_state(a, as, who, when);
			printf("rule: %s: %s\n", a->al_rule, words);
			if (refusals) {
				printf("evidence: %" PRIu32 " refusal summar%s", a->al_nevidence,
				    a->al_nevidence == 1 ? "y" : "ies");
				for (uint32_t i = 0; i < a->al_nevidence; i++)
					printf("%s%" PRIu64, i == 0 ? ": " : ",", a->al_evidence[i]);
				printf(" (saksi get shows their counts)\n");
			} else {
				printf("evidence: %zu entr%s, masked%s (saksi bundle --alert %" PRIu64
				    " exports them, on the record)\n", res.qr_n, res.qr_n == 1 ? "y" :
				    "ies", a->al_total > a->al_nevidence ? ", the first 64 the alert "
				    "carries" : "", id);
				putchar('\n');
			}
		}
		if (!refusals)
			query_print_rows_tz(&res, csv, z != NULL ? z->name : NULL,
			    z != NULL ? z->off_min : 0);
	}
	saksi_query_result_free(&res);
	saksi_keyring_free(kr);
	free(st.v);
	free(rst.v);
	free(a);
	appliance_close(&x);
	return SX_OK;
}

/* One acknowledgement of saksi alerts ack: its alert, its payload, the seq and time it is
 * sent with, and its pending file (resent: from that file, the bytes of a send whose
 * answer never came). */
struct ack_one {
	uint64_t id, seq, tms;
	char *payload, *ppath;
	int resent;
};

/* The ack of alert id, checked against its schema (a usage error if it does not match). */
static char *
ack_payload(const char *usage, saksi_schemas *sch, const char *branch, const char *officer,
            uint64_t id, const char *note, int refusals)
{
	char err[256] = "", *payload;
	json_t *pl;
	saksi_err e;

	pl = json_pack("{s:s,s:s,s:I,s:s}", "branch", branch, "officer_id", officer,
	    "alert_id", (json_int_t)id, "note", note);
	/* A refusal alert (kind 5) is named with its kind: its ids are its own. */
	if (pl != NULL && refusals &&
	    json_object_set_new(pl, "alert_kind", json_string(ACK_KIND_REFUSALS)) != 0)
		xdie("out of memory");
	if (pl == NULL || (payload = json_dumps(pl, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL)
		xdie("out of memory, or the note is not UTF-8");
	json_decref(pl);
	/* The schema's rules (note: printable ASCII, 1-500; ids' patterns) before signing. */
	e = saksi_schemas_validate_clear(sch, ACK_TYPE, payload, strlen(payload), err,
	    sizeof(err));
	if (e != SAKSI_OK)
		xusage(usage, "the acknowledgement does not match its schema: %s (the note is "
		    "printable ASCII, 1 to 500 characters)", err[0] ? err : saksi_strerror(e));
	return payload;
}

/* "saksi: WHAT alert K: alerts 3, 4" to stderr: the ids of a[from..to). */
static void
ack_ids(const char *what, const struct ack_one *a, size_t k, size_t from, size_t to,
        int refusals)
{
	const char *r = refusals ? "refusal " : "";

	fprintf(stderr, "saksi: %s %salert %" PRIu64 ": %s%s", what, r, a[k].id, r,
	    to - from == 1 ? "alert " : "alerts ");
	for (size_t i = from; i < to; i++)
		fprintf(stderr, "%s%" PRIu64, i > from ? ", " : "", a[i].id);
	fputc('\n', stderr);
}

/* Where several acks stopped at a[k] (refused, or unanswered and kept pending): which
 * went in before it and which were not sent. */
static void
ack_stopped(const struct ack_one *a, size_t n, size_t k, int refusals)
{
	if (n == 1)
		return;
	if (k > 0)
		ack_ids("acknowledged before", a, k, 0, k, refusals);
	else
		fprintf(stderr, "saksi: none acknowledged before %salert %" PRIu64 "\n",
		    refusals ? "refusal " : "", a[k].id);
	if (k + 1 < n)
		ack_ids("not sent after", a, k, k + 1, n, refusals);
}

/*
 * saksi alerts ack: an ordinary signed event (security.alert.acked) per alert, so that
 * verify checks the officer's signature like any producer's. The sequence number is the
 * time in milliseconds unless --seq says otherwise (several ids: that plus 0, 1, ...); it
 * grows across invocations, as long as one key acks at most once a millisecond and its
 * clock does not go back (saksid refuses a lower seq as replay; then pass --seq): with
 * several ids, saksi waits until its clock has passed the last seq it used. Until saksid
 * answers, an ack's seq, time and payload stay in a pending file (pending.c): the same
 * command run again after a lost reply sends the same bytes, and saksid answers DUPLICATE
 * with the receipt of the one entry, instead of refusing a second ack of a closed alert.
 * Several ids are sent one at a time, in seq order, each its own event and its own
 * answer, and the first refusal stops the rest: an officer sees at once which went in.
 */
static int
alerts_ack(int argc, char **argv)
{
	static const char usage[] =
	    "saksi alerts ack ID... --note TEXT --officer STAFF_ID -k officer.key --url URL "
	    "--box-pub box.pub (--vkey VKEY | --vkey-file F) [--refusals] [--branch CODE] "
	    "[--seq N] [--schemas DIR] [--json] [--timeout MS] [--passphrase-file F]";
	static const struct option opts[] = {
		SEND_OPTIONS,
		{ "note", required_argument, NULL, 'n' },
		{ "officer", required_argument, NULL, 'O' },
		{ "branch", required_argument, NULL, 'B' },
		{ "seq", required_argument, NULL, 's' },
		{ "refusals", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct send_opts so = { 0 };
	const char *note = NULL, *officer = NULL, *branch = "KP-PUSAT";
	uint64_t seq = 0, tms, pseq, ptms, last = 0;
	int c, rc = SX_OK, refusals = 0, seq_given;
	saksi_note_verifier v;
	saksi_pubkey box;
	saksi_schemas *sch = NULL;
	saksi_client *cl;
	saksi_seckey *sk;
	saksi_result res;
	struct send_req rq;
	struct ack_one *a;
	json_t *all = NULL;
	char *ppayload, pname[32];
	size_t n, k;
	saksi_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
		if (send_opt(&so, c, optarg))
			continue;
		switch (c) {
		case 'n': note = optarg; break;
		case 'O': officer = optarg; break;
		case 'B': branch = optarg; break;
		case 's': seq = xparse_u64(optarg, "--seq"); break;
		case 'r': refusals = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind >= argc)
		xusage(usage, "one or more alert IDs are expected (saksi alerts list shows them)");
	n = (size_t)(argc - optind);
	a = xmalloc(n * sizeof(*a));
	memset(a, 0, n * sizeof(*a));
	for (size_t i = 0; i < n; i++) {
		a[i].id = xparse_u64(argv[optind + (int)i], "alert ID");
		if (a[i].id == 0)
			xusage(usage, "alert ids start at 1");
		for (size_t j = 0; j < i; j++)
			if (a[j].id == a[i].id)
				xusage(usage, "alert %" PRIu64 " is named twice", a[i].id);
	}
	if (!note || !officer || !so.url || !so.key || !so.box || (!so.vkey && !so.vkey_file))
		xusage(usage, "--note, --officer, -k, --url, --box-pub and --vkey are required");
	send_setup(&so, usage, &v, &box, &sch);
	tms = now_ms();
	seq_given = seq != 0;
	if (seq == 0)
		seq = tms;
	if (seq > UINT64_MAX - n)
		xusage(usage, "--seq is too large for %zu acks", n);
	if (!saksi_schemas_has(sch, ACK_TYPE))
		xdie("no schema for %s in %s: these schemas predate acknowledgements",
		    ACK_TYPE, so.schemas);
	for (size_t i = 0; i < n; i++)
		a[i].payload = ack_payload(usage, sch, branch, officer, a[i].id, note, refusals);

	sk = xseckey_load(so.key, so.passfile);
	/* A retry of an ack whose answer never came sends the same bytes (pending.c); all
	 * are looked at before anything is sent. */
	for (size_t i = 0; i < n; i++) {
		snprintf(pname, sizeof(pname), "%s%" PRIu64, refusals ? "refusals-" : "", a[i].id);
		a[i].ppath = pending_path("ack", saksi_seckey_id(sk), pname);
		a[i].seq = seq + i;
		a[i].tms = tms;
		if (!pending_load(a[i].ppath, &pseq, &ptms, &ppayload))
			continue;
		if (strcmp(ppayload, a[i].payload) != 0 || (seq_given && a[i].seq != pseq)) {
			saksi_seckey_free(sk);
			xdie("an ack of %salert %" PRIu64 " with another note, officer, branch or "
			    "seq was sent with this key and never answered (%s): run that ack "
			    "again, or delete the file if saksi alerts list shows it was never "
			    "committed", refusals ? "refusal " : "", a[i].id, a[i].ppath);
		}
		free(ppayload);
		a[i].seq = pseq;
		a[i].tms = ptms;
		a[i].resent = 1;
	}
	/* In seq order: one resent from a pending file has an older, lower seq than the new
	 * ones (saksid refuses a seq below the key's last as replay). */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && a[j - 1].seq > a[j].seq; j--) {
			struct ack_one t = a[j - 1];

			a[j - 1] = a[j];
			a[j] = t;
		}
	rq = (struct send_req){ .url = so.url, .v = &v, .box_pk = box.pk_key,
	    .timeout_ms = so.timeout, .type = ACK_TYPE };
	if ((cl = send_open(&rq, sk, sch, &e)) == NULL) {
		saksi_seckey_free(sk);
		xdie_err(e, "cannot open a connection to %s", rq.url);
	}
	if (so.json && n > 1 && (all = json_array()) == NULL)
		xdie("out of memory");
	for (k = 0; k < n; k++) {
		if (a[k].resent)
			fprintf(stderr, "saksi: sending again the ack of %salert %" PRIu64 " whose "
			    "answer never came (seq %" PRIu64 ")\n", refusals ? "refusal " : "",
			    a[k].id, a[k].seq);
		else
			pending_save(a[k].ppath, a[k].seq, a[k].tms, a[k].payload);
		rq.seq = a[k].seq;
		rq.time_ms = a[k].tms;
		if (a[k].seq > last)
			last = a[k].seq;
		e = send_event(cl, &rq, a[k].payload, &res);
		a[k].payload = NULL;
		if (e != SAKSI_OK) {
			/* Unanswered, or a receipt that does not verify: its file stays. */
			if (all != NULL) {
				json_dumpf(all, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
				putchar('\n');
			}
			ack_stopped(a, n, k, refusals);
			saksi_client_close(cl);
			saksi_seckey_free(sk);
			saksi_schemas_free(sch);
			xsend_check(&rq, e);
		}
		rc = send_rc(&res);
		/* Answered: committed, a duplicate of it, or refused for good. Busy and
		 * unavailable are worth the same bytes again later. */
		if (res.sr_code != SAKSI_R_BUSY && res.sr_code != SAKSI_R_UNAVAILABLE)
			pending_done(a[k].ppath);
		if (so.json) {
			json_t *o = json_pack("{s:b, s:I, s:i, s:s, s:I}", "ok", rc == SX_OK,
			    "alert_id", (json_int_t)a[k].id, "code", res.sr_code, "status",
			    saksi_reason_name(res.sr_code), "seq", (json_int_t)a[k].seq);

			if (o == NULL)
				xdie("out of memory");
			/* schema is also the wire's reason for an alert that is not open. */
			if (res.sr_code == SAKSI_R_SCHEMA &&
			    strncmp(res.sr_message, "no open ", 8) == 0)
				json_object_set_new(o, "alert_open", json_false());
			if (all != NULL) {
				if (rc == SX_OK) {
					json_object_set_new(o, "index",
					    json_integer((json_int_t)res.sr_index));
					json_object_set_new(o, "receipt", json_string(res.sr_receipt ?
					    res.sr_receipt : ""));
				} else
					json_object_set_new(o, "message", json_string(res.sr_message));
				json_array_append_new(all, o);
			} else
				send_print_json(o, rc, &res);
		} else if (rc == SX_OK) {
			if (res.sr_receipt != NULL)
				fputs(res.sr_receipt, stdout);
			fprintf(stderr, "saksi: %salert %" PRIu64 " acknowledged, entry %" PRIu64
			    "%s\n", refusals ? "refusal " : "", a[k].id, res.sr_index,
			    res.sr_code == SAKSI_R_DUPLICATE ? " (already in the ledger)" : "");
		}
		if (rc != SX_OK)
			break;
		saksi_result_clear(&res);
	}
	saksi_client_close(cl);
	saksi_seckey_free(sk);
	saksi_schemas_free(sch);
	if (all != NULL) {
		json_dumpf(all, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(all);
	}
	/* The next ack of this key, in a moment, must have a higher seq. */
	while (!seq_given && now_ms() <= last) {
		struct timespec ts = { 0, 200 * 1000 };

		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		free(a[i].ppath);
		free(a[i].payload);
	}
	if (rc == SX_OK) {
		free(a);
		return SX_OK;
	}
	/* saksid refuses an ack of an alert that is not open with reason schema (the wire
	 * has no reason of its own for it: FORMATS.md 3.2): say what it means, not
	 * "schema", and how saksid counts it. */
	if (!so.json && res.sr_code == SAKSI_R_SCHEMA &&
	    strncmp(res.sr_message, "no open ", 8) == 0) {
		fprintf(stderr, "saksi: not acknowledged: %s%s; saksid counts the refusal as "
		    "schema, the wire's reason for an ack of an alert that is not open\n",
		    res.sr_message,
		    strstr(res.sr_message, "acknowledged at index") != NULL ? " (saksi alerts "
		    "list shows by whom)" : " (saksi alerts list shows the ids)");
		ack_stopped(a, n, k, refusals);
		saksi_result_clear(&res);
		free(a);
		return rc;
	}
	if (!so.json && n > 1)
		fprintf(stderr, "saksi: %salert %" PRIu64 " not acknowledged\n",
		    refusals ? "refusal " : "", a[k].id);
	rc = send_finish(rc, &res);
	ack_stopped(a, n, k, refusals);
	free(a);
	return rc;
}

int
cmd_alerts(int argc, char **argv)
{
	static const char usage[] =
	    "saksi alerts follow (--url URL | --config FILE) [--json] [--count N] | "
	    "saksi alerts list (--ledger DIR | --config FILE) [--open] [--keyring FILE] "
	    "[--json] | "
	    "saksi alerts ack ID... --note TEXT --officer STAFF_ID -k officer.key ... | "
	    "saksi alerts show ID [--refusals] [--config FILE] [--json | --csv]";

	if (argc < 2)
		xusage(usage, "follow, list, show or ack?");
	if (strcmp(argv[1], "follow") == 0)
		return alerts_follow(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return alerts_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "ack") == 0)
		return alerts_ack(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return alerts_show(argc - 1, argv + 1);
	xusage(usage, "unknown alerts command \"%s\"", argv[1]);
}

void
show_alert_leaf(const uint8_t *body, size_t len, json_t *o)
{
	saksi_alert a;
	json_t *j = NULL;
	char *js;

	if (saksi_alert_leaf_parse(body, len, &a) != SAKSI_OK) {
		if (o != NULL)
			json_object_set_new(o, "alert_error", json_string("malformed"));
		else
			printf("alert: malformed\n");
		return;
	}
	if (saksi_alert_json(&a, &js) != SAKSI_OK)
		xdie("out of memory");
	if (o != NULL) {
		if ((j = json_loads(js, 0, NULL)) == NULL)
			xdie("out of memory");
		json_object_set_new(o, "alert", j);
	} else
		printf("alert: %s\n", js);
	free(js);
}

void
alerts_print_line(const saksi_alert *a)
{
	print_human(a, UINT64_MAX, 0, NULL);
}
