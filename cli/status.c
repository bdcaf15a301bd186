/*
 * status.c: saksi status, the operator's glance at a running saksid (FORMATS.md 3.3): as
 * aligned lines, the daemon's JSON, or the Prometheus text format for node_exporter's
 * textfile collector. The status carries counters only, never a personal value.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "client.h"
#include "wire.h"

enum { OUT_HUMAN, OUT_JSON, OUT_PROM };

/* The member at a dotted path ("ledger.entries"), or NULL. */
static const json_t *
member(const json_t *o, const char *path)
{
	char name[64];
	const char *dot;
	const json_t *v = o;

	while (v != NULL && (dot = strchr(path, '.')) != NULL) {
		snprintf(name, sizeof(name), "%.*s", (int)(dot - path), path);
		v = json_object_get(v, name);
		path = dot + 1;
	}
	return json_object_get(v, path);
}

/* A member as an unsigned integer; a missing or negative one is 0 (the daemon may be
 * older or newer than this CLI: show what is there). */
static uint64_t
ju(const json_t *o, const char *path)
{
	const json_t *v = member(o, path);

	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v)
	                                                      : 0;
}

static void
when(uint64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "-");
}

static void
bytes(uint64_t n, char *out, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%" PRIu64 " B", n);
	else
		snprintf(out, len, "%.1f %s", v, unit[u]);
}

static void
duration(uint64_t s, char *out, size_t len)
{
	if (s >= 86400)
		snprintf(out, len, "%" PRIu64 "d %" PRIu64 "h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, len, "%" PRIu64 "h %" PRIu64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(out, len, "%" PRIu64 "m %" PRIu64 "s", s / 60, s % 60);
}

static double
pct(uint64_t part, uint64_t whole)
{
	return whole == 0 ? 0.0 : 100.0 * (double)part / (double)whole;
}

/*
 * The indexes' line: how far they cover the ledger and, when the catch-up failed, since
 * when it is behind, how often and why it failed and when it tries again (saksid retries
 * by itself: docs/saksid.md, Secondary indexes).
 */
static void
index_line(const json_t *o, const json_t *v)
{
	const char *err = json_string_value(json_object_get(v, "error"));
	const char *last = json_string_value(json_object_get(v, "last_error"));
	uint64_t upto = ju(o, "index.upto"), size = ju(o, "ledger.entries");
	uint64_t fails = ju(o, "index.failures");
	char since[64], fail[64], at[64], retry[64];

	when(ju(o, "index.behind_since_ms"), since, sizeof(since));
	when(ju(o, "index.failing_since_ms"), fail, sizeof(fail));
	when(ju(o, "index.last_error_ms"), at, sizeof(at));
	when(ju(o, "index.retry_at_ms"), retry, sizeof(retry));
	if (err != NULL) {
		printf("%-18scover entries below %" PRIu64 " of %" PRIu64 " (%.1f %%): behind "
		    "since %s; the catch-up is failing since %s (%" PRIu64 " failure(s)), last "
		    "error: %s; next try at %s\n", "indexes", upto, size, pct(upto, size), since,
		    fail, fails, err, retry);
		return;
	}
	if (json_is_true(json_object_get(v, "catching_up")))
		printf("%-18scover entries below %" PRIu64 " of %" PRIu64 " (%.1f %%): catching "
		    "up in the background, behind since %s", "indexes", upto, size,
		    pct(upto, size), since);
	else
		printf("%-18scover the whole ledger", "indexes");
	if (fails > 0 && last != NULL)
		printf(" (the catch-up failed %" PRIu64 " time(s) and went on; last error at "
		    "%s: %s)", fails, at, last);
	printf("\n");
}

/*
 * The rules' line: which file, which content (its SHA-256, to compare with the file an
 * operator deployed), how many rules, since when, and how the last SIGHUP went: a
 * failed reload leaves the old rules in force, which the line must not hide.
 */
static void
rules_line(const json_t *o)
{
	const json_t *v = json_object_get(o, "rules"), *rl;
	const char *file = json_string_value(json_object_get(v, "file"));
	const char *sha = json_string_value(json_object_get(v, "sha256"));
	char a[64], b[64];

	if (!json_is_object(v)) {
		/* An older saksid says nothing; a newer one null: no rules file. */
		if (json_is_null(v))
			printf("%-18s%s\n", "rules", "none (no rules file)");
		return;
	}
	when(ju(o, "rules.loaded_ms"), a, sizeof(a));
	printf("%-18s%s: %" PRIu64 " rules, sha256 %s, loaded %s", "rules",
	    file != NULL ? file : "?", ju(o, "rules.count"), sha != NULL ? sha : "?", a);
	rl = json_object_get(v, "last_reload");
	if (json_is_object(rl)) {
		when(ju(o, "rules.last_reload.time_ms"), b, sizeof(b));
		if (json_is_true(json_object_get(rl, "ok")))
			printf("; last reload %s: ok", b);
		else
			printf("; last reload %s: FAILED, the rules above stay (saksid's log "
			    "says why)", b);
	} else
		printf("; not reloaded since start");
	putchar('\n');
}

/*
 * The keyring's line, as the rules': the file and content in force, its key count, the
 * ledger entry that recorded it, and how the last SIGHUP went: a failed reload leaves
 * the old keyring in force (a revocation not yet in effect), which must show.
 */
static void
keyring_line(const json_t *o)
{
	const json_t *v = json_object_get(o, "keyring"), *rl;
	const char *file = json_string_value(json_object_get(v, "file"));
	const char *sha = json_string_value(json_object_get(v, "sha256"));
	char a[64], b[64];

	if (!json_is_object(v))
		return;   /* an older saksid */
	when(ju(o, "keyring.loaded_ms"), a, sizeof(a));
	printf("%-18s%s: %" PRIu64 " keys, sha256 %s, recorded at entry %" PRIu64 ", in force "
	    "since %s", "keyring", file != NULL ? file : "?", ju(o, "keyring.count"),
	    sha != NULL ? sha : "?", ju(o, "keyring.entry"), a);
	rl = json_object_get(v, "last_reload");
	if (json_is_object(rl)) {
		when(ju(o, "keyring.last_reload.time_ms"), b, sizeof(b));
		if (!json_is_true(json_object_get(rl, "ok")))
			printf("; last reload %s: FAILED, the keyring above stays (%s)", b,
			    json_is_string(json_object_get(rl, "error")) ?
			    json_string_value(json_object_get(rl, "error")) : "saksid's log says why");
		else
			printf("; last reload %s: ok, %s", b,
			    json_is_true(json_object_get(rl, "changed")) ? "recorded" : "unchanged");
	} else
		printf("; not reloaded since start");
	putchar('\n');
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void
label(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			putchar('\\');
		if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

/* The refused alert acknowledgements by reason (a saksid older than them: nothing). */
static void
acks_line(const json_t *o)
{
	const json_t *ar = member(o, "alerts.acks_refused");
	char c[256];
	uint64_t total = 0;

	if (!json_is_object(ar))
		return;
	c[0] = '\0';
	for (int i = SAKSI_R_PARSE; i < SAKSI_R__COUNT; i++) {
		const char *name = saksi_reason_name(i);
		uint64_t x = ju(ar, name);
		size_t n = strlen(c);

		if (x == 0)
			continue;
		total += x;
		snprintf(c + n, sizeof(c) - n, "%s%s %" PRIu64 "%s", n > 0 ? ", " : ": ", name, x,
		    i == SAKSI_R_SCHEMA ? " (no open alert of that number, or bad payload)" : "");
	}
	printf("%-18s%" PRIu64 " refused since start%s\n", "alert acks", total, c);
}

static void
human(const json_t *o, const char *url)
{
	const json_t *ref = json_object_get(o, "refused");
	const json_t *tot = json_object_get(o, "refused_total");
	const json_t *rr = json_object_get(json_object_get(o, "requests"), "refused");
	const json_t *v;
	const char *origin = json_string_value(json_object_get(o, "origin"));
	const char *version = json_string_value(json_object_get(o, "version"));
	char a[64], b[64], c[64];
	uint64_t now = ju(o, "now_ms"), up = ju(o, "up_since_ms"), raised, refused = 0;
	const char *key;

	printf("saksid at %s (origin %s, version %s)\n", url, origin != NULL ? origin : "?",
	    version != NULL ? version : "?");
	when(up, a, sizeof(a));
	duration(now > up ? (now - up) / 1000 : 0, b, sizeof(b));
	printf("%-18s%s (%s)\n", "up since", a, b);
	bytes(ju(o, "ledger.used_bytes"), a, sizeof(a));
	bytes(ju(o, "ledger.map_bytes"), b, sizeof(b));
	printf("%-18s%" PRIu64 " entries (%" PRIu64 " events), %s used of a %s map "
	    "(%.1f %% used)\n", "ledger", ju(o, "ledger.entries"), ju(o, "ledger.events"), a, b,
	    pct(ju(o, "ledger.used_bytes"), ju(o, "ledger.map_bytes")));
	when(ju(o, "checkpoint.time_ms"), a, sizeof(a));
	v = json_object_get(json_object_get(o, "checkpoint"), "witnesses");
	printf("%-18ssize %" PRIu64 ", committed %s, witnesses: %s\n", "last checkpoint",
	    ju(o, "checkpoint.size"), a,
	    json_array_size(v) == 0 ? "none (no witness cosigns this log yet)" : "see --json");
	if (json_is_object(json_object_get(o, "disk"))) {
		bytes(ju(o, "disk.avail_bytes"), a, sizeof(a));
		bytes(ju(o, "disk.total_bytes"), b, sizeof(b));
		printf("%-18s%s available of %s (%.1f %% free)\n", "disk", a, b,
		    pct(ju(o, "disk.avail_bytes"), ju(o, "disk.total_bytes")));
	} else
		printf("%-18s%s\n", "disk", "unknown");
	printf("%-18s%" PRIu64 " since start, %" PRIu64 " duplicates answered with their "
	    "receipt\n", "accepted", ju(o, "accepted"), ju(o, "duplicates"));
	json_object_foreach((json_t *)ref, key, v)
		refused += json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
	printf("%-18s%" PRIu64 " since start; by reason (since start / in the ledger's "
	    "counters):\n", "refused", refused);
	for (int i = SAKSI_R_PARSE; i < SAKSI_R__COUNT; i++) {
		const char *name = saksi_reason_name(i);
		uint64_t x = ju(ref, name), y = ju(tot, name);

		printf("  %-16s%" PRIu64 " / %" PRIu64 "\n", name, x, y);
	}
	printf("%-18s%" PRIu64 "\n", "producers seen", ju(o, "producers_seen"));
	raised = ju(o, "alerts.raised");
	v = json_object_get(json_object_get(o, "alerts"), "acknowledged");
	printf("%-18s%" PRIu64 " open, %" PRIu64 " raised%s%s\n", "alerts",
	    ju(o, "alerts.open"), raised,
	    json_is_null(v) ? " (acknowledgements unknown: all counted open)" : "",
	    json_is_true(json_object_get(json_object_get(o, "alerts"), "detection")) ? ""
	                                                         : "; detection is off");
	acks_line(o);
	v = json_object_get(o, "index");
	if (!json_is_object(v))
		printf("%-18s%s\n", "indexes", "none (no index_key)");
	else
		index_line(o, v);
	rules_line(o);
	keyring_line(o);
	bytes(ju(o, "queue.bytes"), a, sizeof(a));
	bytes(ju(o, "queue.max_bytes"), b, sizeof(b));
	printf("%-18s%" PRIu64 " of %" PRIu64 " requests, %s of %s, %" PRIu64 " producer "
	    "keys in flight (share %" PRIu64 " items each)\n", "queue", ju(o, "queue.requests"),
	    ju(o, "queue.max_requests"), a, b, ju(o, "queue.producer_keys"),
	    ju(o, "queue.max_per_key"));
	c[0] = '\0';
	json_object_foreach((json_t *)rr, key, v) {
		size_t n = strlen(c);
		snprintf(c + n, sizeof(c) - n, "%s%s %" PRIu64, n > 0 ? ", " : "", key,
		    json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0);
	}
	printf("%-18s%" PRIu64 " since start, in %" PRIu64 " commit groups; refused whole: "
	    "%s\n", "requests", ju(o, "requests.total"), ju(o, "requests.groups"),
	    c[0] != '\0' ? c : "none");
}

static void
metric(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
sample(const char *name, uint64_t v)
{
	printf("%s %" PRIu64 "\n", name, v);
}

/* One counter per reason code, every code present, so a rate over it never has holes. */
static void
by_reason(const char *name, const char *help, const json_t *o)
{
	metric(name, "counter", help);
	for (int i = SAKSI_R_PARSE; i < SAKSI_R__COUNT; i++)
		printf("%s{reason=\"%s\"} %" PRIu64 "\n", name, saksi_reason_name(i),
		    ju(o, saksi_reason_name(i)));
}

/* How a metric's value is read from the status member at its path. */
enum { PM_INT, PM_SECONDS, PM_BOOL, PM_IS_STRING, PM_COUNT, PM_REASONS };

/*
 * The Prometheus metrics, in the order they are written: name, type, help, the status
 * member they are read from, how, and the object they need (NULL: always written; else
 * only when the daemon sent that object, as an older one may not).
 */
static const struct prom {
	const char *name, *type, *help, *path;
	int how;
	const char *needs;
} prom[] = {
	{ "saksi_up_since_seconds", "gauge", "Unix time saksid started.", "up_since_ms",
	  PM_SECONDS, NULL },
	{ "saksi_ledger_entries", "gauge", "Entries (leaves) in the ledger.", "ledger.entries",
	  PM_INT, NULL },
	{ "saksi_ledger_events", "gauge", "Producer events in the ledger.", "ledger.events",
	  PM_INT, NULL },
	{ "saksi_ledger_used_bytes", "gauge", "Bytes of the LMDB map in use.",
	  "ledger.used_bytes", PM_INT, NULL },
	{ "saksi_ledger_map_bytes", "gauge", "Size of the LMDB map (map_size_mb).",
	  "ledger.map_bytes", PM_INT, NULL },
	{ "saksi_checkpoint_size", "gauge", "Tree size of the latest signed checkpoint.",
	  "checkpoint.size", PM_INT, NULL },
	{ "saksi_checkpoint_timestamp_seconds", "gauge", "Commit time of the last entry under "
	  "the latest checkpoint (0: empty log).", "checkpoint.time_ms", PM_SECONDS, NULL },
	{ "saksi_checkpoint_witnesses", "gauge", "Witnesses cosigning the checkpoint.",
	  "checkpoint.witnesses", PM_COUNT, NULL },
	{ "saksi_disk_total_bytes", "gauge", "Size of the state directory's file system.",
	  "disk.total_bytes", PM_INT, "disk" },
	{ "saksi_disk_avail_bytes", "gauge", "Bytes available to saksid there.",
	  "disk.avail_bytes", PM_INT, "disk" },
	{ "saksi_events_accepted_total", "counter", "Events accepted since start.", "accepted",
	  PM_INT, NULL },
	{ "saksi_events_duplicate_total", "counter", "Resubmissions answered with their first "
	  "receipt since start.", "duplicates", PM_INT, NULL },
	{ "saksi_events_refused_total", "counter", "Events refused or not taken since start, "
	  "by reason.", "refused", PM_REASONS, NULL },
	{ "saksi_ledger_refused_total", "counter", "Refusals in the ledger's counters (all "
	  "time), by reason.", "refused_total", PM_REASONS, NULL },
	{ "saksi_requests_total", "counter", "Requests received since start.",
	  "requests.total", PM_INT, NULL },
	{ "saksi_requests_refused_total", "counter", "Whole requests refused since start, by "
	  "reason.", "requests.refused", PM_REASONS, NULL },
	{ "saksi_commit_groups_total", "counter", "Commit groups since start.",
	  "requests.groups", PM_INT, NULL },
	{ "saksi_producers_seen", "gauge", "Producer keys with an event in the ledger.",
	  "producers_seen", PM_INT, NULL },
	{ "saksi_alerts_raised_total", "counter", "Alerts raised (all time).", "alerts.raised",
	  PM_INT, NULL },
	{ "saksi_alerts_open", "gauge", "Alerts raised and not acknowledged.", "alerts.open",
	  PM_INT, NULL },
	{ "saksi_alert_acks_refused_total", "counter", "Alert acknowledgements refused since "
	  "start, by reason (schema: no open alert of that number).", "alerts.acks_refused",
	  PM_REASONS, "alerts.acks_refused" },
	{ "saksi_detection_enabled", "gauge", "1 when saksid runs with rules.",
	  "alerts.detection", PM_BOOL, NULL },
	{ "saksi_index_upto", "gauge", "Entries below this are indexed for queries.",
	  "index.upto", PM_INT, "index" },
	{ "saksi_index_catching_up", "gauge", "1 while the index catch-up runs.",
	  "index.catching_up", PM_BOOL, "index" },
	{ "saksi_index_behind_since_seconds", "gauge", "Unix time the index catch-up began; 0 "
	  "once the index covers the ledger.", "index.behind_since_ms", PM_SECONDS, "index" },
	{ "saksi_index_catchup_failing", "gauge", "1 while the index catch-up's last step "
	  "failed (saksid tries again by itself).", "index.error", PM_IS_STRING, "index" },
	{ "saksi_index_catchup_failures_total", "counter", "Failed index catch-up steps since "
	  "start.", "index.failures", PM_INT, "index" },
	{ "saksi_index_catchup_last_error_timestamp_seconds", "gauge", "Unix time of the index "
	  "catch-up's latest failure (0: none since start).", "index.last_error_ms", PM_SECONDS,
	  "index" },
	{ "saksi_rules_count", "gauge", "Rules loaded.", "rules.count", PM_INT, "rules" },
	{ "saksi_rules_loaded_timestamp_seconds", "gauge", "Unix time the rules in force were "
	  "loaded.", "rules.loaded_ms", PM_SECONDS, "rules" },
	{ "saksi_rules_last_reload_timestamp_seconds", "gauge", "Unix time of the last SIGHUP "
	  "reload (0: none since start).", "rules.last_reload.time_ms", PM_SECONDS, "rules" },
	{ "saksi_rules_last_reload_ok", "gauge", "1 when the last reload loaded (0: it failed "
	  "and the old rules stay, or none since start).", "rules.last_reload.ok", PM_BOOL,
	  "rules" },
	{ "saksi_keyring_keys", "gauge", "Keys in the keyring in force.", "keyring.count",
	  PM_INT, "keyring" },
	{ "saksi_keyring_entry", "gauge", "Ledger entry that recorded the keyring in force.",
	  "keyring.entry", PM_INT, "keyring" },
	{ "saksi_keyring_loaded_timestamp_seconds", "gauge", "Unix time the keyring in force "
	  "came into force.", "keyring.loaded_ms", PM_SECONDS, "keyring" },
	{ "saksi_keyring_last_reload_timestamp_seconds", "gauge", "Unix time of the last "
	  "SIGHUP reload of the keyring (0: none since start).", "keyring.last_reload.time_ms",
	  PM_SECONDS, "keyring" },
	{ "saksi_keyring_last_reload_ok", "gauge", "1 when the last keyring reload loaded (0: "
	  "it failed and the old keyring stays, or none since start).",
	  "keyring.last_reload.ok", PM_BOOL, "keyring" },
	{ "saksi_keyring_rechecked_total", "counter", "Items checked again because a reload "
	  "replaced the keyring they were checked under.", "keyring.rechecked", PM_INT,
	  "keyring" },
	{ "saksi_queue_requests", "gauge", "Requests queued now.", "queue.requests", PM_INT,
	  NULL },
	{ "saksi_queue_bytes", "gauge", "Bytes queued now.", "queue.bytes", PM_INT, NULL },
	{ "saksi_queue_max_bytes", "gauge", "Cap on queued bytes (queue_mb).",
	  "queue.max_bytes", PM_INT, NULL },
	{ "saksi_queue_producer_keys", "gauge", "Producer keys with items in flight.",
	  "queue.producer_keys", PM_INT, NULL },
};

static void
prometheus(const json_t *o)
{
	for (size_t i = 0; i < sizeof(prom) / sizeof(prom[0]); i++) {
		const struct prom *m = &prom[i];

		if (m->needs != NULL && !json_is_object(member(o, m->needs)))
			continue;
		if (m->how == PM_REASONS) {
			by_reason(m->name, m->help, member(o, m->path));
			continue;
		}
		metric(m->name, m->type, m->help);
		if (m->how == PM_SECONDS)
			sample(m->name, ju(o, m->path) / 1000);
		else if (m->how == PM_BOOL)
			sample(m->name, json_is_true(member(o, m->path)));
		else if (m->how == PM_IS_STRING)
			sample(m->name, json_is_string(member(o, m->path)));
		else if (m->how == PM_COUNT)
			sample(m->name, json_array_size(member(o, m->path)));
		else
			sample(m->name, ju(o, m->path));
	}
	/* The rules file and its content as labels: a change of hash is a deployment. */
	if (json_is_object(json_object_get(o, "rules"))) {
		const char *file = json_string_value(member(o, "rules.file"));
		const char *sha = json_string_value(member(o, "rules.sha256"));

		metric("saksi_rules_info", "gauge", "The rules file in force and its SHA-256.");
		fputs("saksi_rules_info{file=\"", stdout);
		label(file != NULL ? file : "");
		fputs("\",sha256=\"", stdout);
		label(sha != NULL ? sha : "");
		fputs("\"} 1\n", stdout);
	}
	if (json_is_object(json_object_get(o, "keyring"))) {
		const char *file = json_string_value(member(o, "keyring.file"));
		const char *sha = json_string_value(member(o, "keyring.sha256"));

		metric("saksi_keyring_info", "gauge", "The keyring file in force and its SHA-256.");
		fputs("saksi_keyring_info{file=\"", stdout);
		label(file != NULL ? file : "");
		fputs("\",sha256=\"", stdout);
		label(sha != NULL ? sha : "");
		fputs("\"} 1\n", stdout);
	}
}

int
cmd_status(int argc, char **argv)
{
	static const char usage[] = "saksi status --url URL [--json | --prometheus] "
	    "[--timeout MS]";
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL;
	saksi_client *cl = NULL;
	json_t *o;
	char *text = NULL;
	size_t len;
	uint64_t timeout = 10000;
	saksi_err e;
	int c, out = OUT_HUMAN;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 'j':
			if (out != OUT_HUMAN)
				xusage(usage, "give one of --json and --prometheus");
			out = OUT_JSON;
			break;
		case 'p':
			if (out != OUT_HUMAN)
				xusage(usage, "give one of --json and --prometheus");
			out = OUT_PROM;
			break;
		case 't':
			timeout = xparse_u64(optarg, "--timeout");
			if (timeout == 0 || timeout > 3600000)
				xusage(usage, "--timeout must be 1..3600000 ms");
			break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (url == NULL)
		xusage(usage, "give --url");

	cl = xreader(url, timeout, NULL);
	e = saksi_client_status(cl, &text, &len);
	if (e == SAKSI_ERR_REFUSED || e == SAKSI_ERR_NOT_FOUND) {
		/* The message is copied before the client goes. */
		char msg[300];
		snprintf(msg, sizeof(msg), "%s", saksi_client_refusal(cl, NULL));
		saksi_client_close(cl);
		xdie("the daemon at %s refused the status request: %s", url, msg);
	}
	saksi_client_close(cl);
	if (e == SAKSI_ERR_NET || e == SAKSI_ERR_TIMEOUT)
		xdie_err(e, "the daemon at %s did not answer (is saksid running?)", url);
	if (e == SAKSI_ERR_FORMAT)
		xdie("the daemon at %s sent a malformed status", url);
	if (e != SAKSI_OK)
		xdie_err(e, "status from %s", url);
	if (out == OUT_JSON) {
		printf("%s\n", text);
		free(text);
		return SX_OK;
	}
	if ((o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		xdie("the daemon at %s sent a status that does not parse", url);
	free(text);
	if (out == OUT_PROM)
		prometheus(o);
	else
		human(o, url);
	json_decref(o);
	return SX_OK;
}
