/*
 * alerts.c: saksi alerts follow (the daemon's PUB socket, live) and saksi alerts list
 * (the alert entries of a ledger copy). An alert carries blind tokens and leaf indices,
 * never a personal value; a published message is hostile input and is parsed strictly.
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

#include "blind.h"
#include "cli.h"
#include "rules.h"
#include "verify.h"

static const char *const sev_names[] = { "?", "low", "medium", "high", "critical" };
static const char *const kind_names[] = { "?", "rule", "cap", "late", "?", "refusals" };

static void
iso_time(uint64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, len, "?");
		return;
	}
	snprintf(out + strlen(out), len - strlen(out), ".%03uZ", (unsigned)(ms % 1000));
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
 * UINT64_MAX when not known (a published alert). */
static void
print_human(const saksi_alert *a, uint64_t entry)
{
	char when[40], group[SAKSI_RULES_GROUP_MAX + 1];

	iso_time(a->al_last_ms, when, sizeof(when));
	short_group(a->al_group, group, sizeof(group));
	printf("%s  alert %" PRIu64, when, a->al_id);
	if (entry != UINT64_MAX)
		printf(" (entry %" PRIu64 ")", entry);
	printf("  %s  %s%s%s  %s  value %" PRIu64 "/%" PRIu64 "  evidence %" PRIu32,
	    sev_names[a->al_severity], plain_kind(a->al_kind) ? "" :
	    kind_names[a->al_kind], plain_kind(a->al_kind) ? "" : ":", a->al_rule,
	    group, a->al_value, a->al_threshold, a->al_nevidence);
	if (a->al_total > a->al_nevidence)
		printf(" of %" PRIu32, a->al_total);
	printf(":");
	for (uint32_t i = 0; i < a->al_nevidence; i++)
		printf("%s%" PRIu64, i == 0 ? " " : ",", a->al_evidence[i]);
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

static int
alerts_follow(int argc, char **argv)
{
	static const char usage[] = "saksi alerts follow --url URL [--json] [--count N]";
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL;
	uint64_t count = 0, seen = 0;
	int c, json = 0, sock;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 'j': json = 1; break;
		case 'n': count = xparse_u64(optarg, "--count"); break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (url == NULL)
		xusage(usage, "--url is required (saksid.conf's alerts_listen)");
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
			print_human(&a, UINT64_MAX);
		nn_freemsg(buf);
		seen++;
	}
	nn_close(sock);
	return SX_OK;
}

static int
alerts_list(int argc, char **argv)
{
	static const char usage[] = "saksi alerts list --ledger DIR [--json]";
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	saksi_ledger *l;
	saksi_ledger_txn *txn = NULL;
	uint64_t size, n = 0;
	int c, json = 0, bad = 0;
	saksi_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': dir = optarg; break;
		case 'j': json = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (dir == NULL)
		xusage(usage, "--ledger is required");
	l = xledger_open_ro(dir);
	if ((e = saksi_ledger_begin(l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read the ledger");
	size = saksi_ledger_size(txn);
	for (uint64_t i = 0; i < size; i++) {
		saksi_leaf lf;
		saksi_alert a;
		uint8_t *leaf = NULL;
		size_t len;
		char *js;

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
		n++;
		if (!json) {
			print_human(&a, i);
			continue;
		}
		if ((e = saksi_alert_json(&a, &js)) != SAKSI_OK)
			xdie_err(e, "entry %" PRIu64, i);
		/* The published line, with the entry index in front. */
		printf("{\"entry\":%" PRIu64 ",%s\n", i, js + 1);
		free(js);
	}
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	if (!json)
		fprintf(stderr, "saksi: %" PRIu64 " alert(s) in %" PRIu64 " entries\n", n, size);
	return bad ? SX_FAIL : SX_OK;
}

int
cmd_alerts(int argc, char **argv)
{
	static const char usage[] =
	    "saksi alerts follow --url URL [--json] [--count N] | "
	    "saksi alerts list --ledger DIR [--json]";

	if (argc < 2)
		xusage(usage, "follow or list?");
	if (strcmp(argv[1], "follow") == 0)
		return alerts_follow(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return alerts_list(argc - 1, argv + 1);
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
