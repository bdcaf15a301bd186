/*
 * report_cli_test.c: saksi report end to end: a simulated branch day (brokers at high) sent
 * through a real saksid, then the report of the days around it, its numbers recomputed
 * from what was submitted (events per day and channel, bookings per device and phone,
 * payments per account, first calls per officer, median waits, alerts), a grep of the
 * file for every personal value the day held, the empty period and the branch filter, the
 * usage errors, and the file rendered by headless Chromium: every chart's <svg> and its
 * bars in the DOM, and a screenshot. Without Chromium that last test skips, or fails when
 * SAKSI_REQUIRE_CHROMIUM=1 (CI).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "ledger.h"
#include "rules.h"
#include "testutil.h"
#include "sim_day.h"
#include "verify.h"
#include "ledger_fixture.h"

#define ORIGIN "report-test.saksi.example/log"
#define SEED "5"
#define OFFSET_MS (8 * 3600 * 1000LL)   /* WITA, KC-MAKASSAR's time */
#define DAY_MS 86400000LL
#define MAXEV 20000
#define CHANNELS 6

static const char *const chan_value[] = { "web", "app", "kiosk", "counter", "partner_hr" };

/* Everything the tests share: the ledger is made once, in the group setup. */
static struct g {
	struct scratch f;
	struct sim_ev *ev;
	size_t n;
	char since[16], until[16];  /* the report's period, local dates */
	int64_t day0;               /* its first local day */
	size_t ndays;
	char *html;                 /* the report of the whole period */
	size_t html_len;
} g;

static int64_t
local_day(uint64_t ms)
{
	return ((int64_t)ms + OFFSET_MS) / DAY_MS;
}

static void
day_name(int64_t day, char out[11])
{
	time_t t = (time_t)(day * 86400);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* The submitted events: the dry run of the same seed, less what saksid refused (the
 * truth file's leaves, null for a refusal). */
static void
load_events(const char *jsonl, const char *truth_path)
{
	char *tt = slurp(truth_path, NULL);
	json_t *truth = json_loads(tt, 0, NULL), *leaves;
	size_t i;

	assert_non_null(truth);
	leaves = json_object_get(truth, "leaves");
	assert_true(json_is_array(leaves));
	g.ev = calloc(MAXEV, sizeof(*g.ev));
	assert_non_null(g.ev);
	i = sim_day_load(jsonl, leaves, g.ev, MAXEV, &g.n);
	assert_int_equal(i, json_array_size(leaves));
	print_message("%zu events submitted, %zu in the ledger\n", i, g.n);
	json_decref(truth);
	free(tt);
}

static int
strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *
pstr(const struct sim_ev *e, const char *m)
{
	return json_string_value(json_object_get(e->payload, m));
}

static int
group_setup(void **state)
{
	struct scratch *f = &g.f;
	struct run r;
	char vkey[512], url[256], sock[256], start[16];
	time_t now = time(NULL) - 10 * 86400;
	struct tm tm;
	int64_t d;

	(void)state;
	memset(&g, 0, sizeof(g));
	f->pid = -1;
	assert_true(sodium_init() >= 0);
	if (access(SAKSI, X_OK) != 0 || access(SAKSID, X_OK) != 0)
		return 0;   /* each test skips */
	assert_int_equal(tmpdir_make(f->dir, sizeof(f->dir), "saksi-report"), 0);
	gmtime_r(&now, &tm);
	strftime(start, sizeof(start), "%Y-%m-%d", &tm);
	print_message("simulated day from %s, seed %s, brokers high\n", start, SEED);

	state_init(SAKSI, f, ORIGIN, vkey, sizeof(vkey));
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only");
	run_free(&r);
	state_listen(f, url, sizeof(url), sock, sizeof(sock));
	saksid_start(SAKSID, f, "-d", P(f, 1, "st/saksid.conf"), sock, P(f, 2, "saksid.log"),
	    O_APPEND);
	RUN(f, &r, 0, "simulate", "--state", P(f, 0, "st"), "--url", url, "--seed", SEED,
	    "--start", start, "--branches", "1", "--days", "1", "--brokers", "high",
	    "--batch", "256", "--window", "3600000", "--truth", P(f, 3, "truth.json"),
	    "--quiet");
	run_free(&r);
	saksid_stop(f);
	RUN(f, &r, 0, "simulate", "--dry-run", "--out", P(f, 4, "day.jsonl"), "--seed", SEED,
	    "--start", start, "--branches", "1", "--days", "1", "--brokers", "high");
	run_free(&r);
	load_events(f->path[4], f->path[3]);

	/* The period: from the bookings' opening days to the payments after. */
	d = local_day((uint64_t)now * 1000);
	g.day0 = d - 5;
	g.ndays = 13;
	day_name(g.day0, g.since);
	day_name(g.day0 + (int64_t)g.ndays - 1, g.until);
	for (size_t i = 0; i < g.n; i++) {
		assert_true(local_day(g.ev[i].time_ms) >= g.day0);
		assert_true(local_day(g.ev[i].time_ms) < g.day0 + (int64_t)g.ndays);
	}
	RUN(f, &r, 0, "report", "--config", P(f, 1, "st/saksid.conf"), "--since", g.since,
	    "--until", g.until, "--utc-offset", "+08:00", "-o", P(f, 5, "report.html"));
	assert_non_null(strstr(r.err, "report written to"));
	run_free(&r);
	g.html = slurp(P(f, 5, "report.html"), &g.html_len);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (g.f.pid > 0) {
		kill(g.f.pid, SIGKILL);
		waitpid(g.f.pid, NULL, 0);
	}
	sim_day_free(g.ev, g.n);
	free(g.ev);
	free(g.html);
	if (g.f.dir[0] != '\0')
		rm_rf(g.f.dir);
	return 0;
}

static void
need_ledger(void)
{
	if (g.html == NULL) {
		print_message("saksi or saksid is not built here; skipping\n");
		skip();
	}
}

/* ---- reading the report's tables ---- */

struct table {
	char *cell[2000][8];
	size_t rows, cols[2000];
};

/* The rows of the table of class cls whose data-chart is chart (the first one). */
static void
table_of(const char *html, const char *cls, const char *chart, struct table *t)
{
	char head[128];
	const char *p, *end;

	memset(t, 0, sizeof(*t));
	snprintf(head, sizeof(head), "<table class=\"%s\" data-chart=\"%s\">", cls, chart);
	p = strstr(html, head);
	if (p == NULL)
		fail_msg("no table %s for %s", cls, chart);
	p = strstr(p, "<tbody>");
	end = strstr(p, "</tbody>");
	assert_non_null(p);
	assert_non_null(end);
	while ((p = strstr(p, "<tr")) != NULL && p < end) {
		const char *rend = strstr(p, "</tr>"), *c = p;

		assert_true(t->rows < 2000);
		while ((c = strstr(c, "<td>")) != NULL && c < rend) {
			const char *ce = strstr(c, "</td>");

			assert_true(t->cols[t->rows] < 8);
			t->cell[t->rows][t->cols[t->rows]++] = strndup(c + 4, (size_t)(ce - c - 4));
			c = ce;
		}
		t->rows++;
		p = rend;
	}
}

static void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->rows; i++)
		for (size_t j = 0; j < t->cols[i]; j++)
			free(t->cell[i][j]);
}

static uint64_t
u(const char *s)
{
	return strtoull(s, NULL, 10);
}

/* ---- the numbers ---- */

static void
test_channels(void **state)
{
	uint64_t want[32][CHANNELS + 1];
	struct table t;
	char day[11];
	uint64_t total = 0;
	char tot[64];

	(void)state;
	need_ledger();
	memset(want, 0, sizeof(want));
	for (size_t i = 0; i < g.n; i++) {
		const char *ch = pstr(&g.ev[i], "channel");
		size_t d = (size_t)(local_day(g.ev[i].time_ms) - g.day0), c;

		for (c = 0; ch != NULL && c < CHANNELS - 1 && strcmp(ch, chan_value[c]) != 0; c++)
			;
		assert_true(ch == NULL || c < CHANNELS - 1);
		want[d][ch == NULL ? CHANNELS - 1 : c]++;
		want[d][CHANNELS]++;
		total++;
	}
	snprintf(tot, sizeof(tot), "id=\"total-events\">%llu<", (unsigned long long)total);
	assert_non_null(strstr(g.html, tot));
	table_of(g.html, "numbers", "chart-channels", &t);
	assert_int_equal(t.rows, g.ndays);
	for (size_t d = 0; d < g.ndays; d++) {
		day_name(g.day0 + (int64_t)d, day);
		assert_int_equal(t.cols[d], CHANNELS + 2);
		assert_string_equal(t.cell[d][0], day);
		for (size_t c = 0; c <= CHANNELS; c++)
			if (u(t.cell[d][c + 1]) != want[d][c])
				fail_msg("%s channel %zu: report %s, submitted %llu", day, c,
				    t.cell[d][c + 1], (unsigned long long)want[d][c]);
	}
	table_free(&t);
}

/* The distribution table of chart over the values of member (and member2 joined with
 * ':' for an account) of events of type: per bin, tokens and rows. */
static void
check_dist(const char *chart, const char *type, const char *member, const char *member2,
           uint64_t *unattributed)
{
	static const char *const bins[] = { "1", "2", "3", "4", "5", "6", "7", "8", "9",
		"10-19", "20-49", "50+" };
	static const uint64_t lo[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 50 };
	char **vals = calloc(g.n, sizeof(*vals));
	size_t nv = 0;
	uint64_t ntok[12] = { 0 }, rows[12] = { 0 }, none = 0;
	struct table t;

	assert_non_null(vals);
	for (size_t i = 0; i < g.n; i++) {
		const char *v = pstr(&g.ev[i], member), *v2 = member2 ? pstr(&g.ev[i], member2) :
		    NULL;
		char buf[200];

		if (strcmp(g.ev[i].type, type) != 0)
			continue;
		if (v == NULL) {
			none++;
			continue;
		}
		snprintf(buf, sizeof(buf), "%s%s%s", v2 ? v2 : "", v2 ? ":" : "", v);
		vals[nv++] = strdup(buf);
	}
	qsort(vals, nv, sizeof(*vals), strcmp_p);
	for (size_t i = 0; i < nv;) {
		size_t j = i, b = 11;

		while (j < nv && strcmp(vals[j], vals[i]) == 0)
			j++;
		while (b > 0 && (uint64_t)(j - i) < lo[b])
			b--;
		ntok[b]++;
		rows[b] += j - i;
		i = j;
	}
	table_of(g.html, "numbers", chart, &t);
	assert_true(t.rows >= 1);
	for (size_t b = 0; b < 12; b++) {
		if (b >= t.rows) {
			assert_int_equal(ntok[b], 0);
			continue;
		}
		assert_string_equal(t.cell[b][0], bins[b]);
		if (u(t.cell[b][1]) != ntok[b] || u(t.cell[b][2]) != rows[b])
			fail_msg("%s bin %s: report %s/%s, submitted %llu/%llu", chart, bins[b],
			    t.cell[b][1], t.cell[b][2], (unsigned long long)ntok[b],
			    (unsigned long long)rows[b]);
	}
	print_message("%s: %zu values, %llu without one\n", chart, nv,
	    (unsigned long long)none);
	*unattributed = none;
	table_free(&t);
	for (size_t i = 0; i < nv; i++)
		free(vals[i]);
	free(vals);
}

static void
test_distributions(void **state)
{
	uint64_t none;
	char note[128];

	(void)state;
	need_ledger();
	check_dist("chart-devices", "queue.booking.created", "device_id", NULL, &none);
	snprintf(note, sizeof(note), "no value given): %llu.", (unsigned long long)none);
	assert_non_null(strstr(strstr(g.html, "id=\"devices\""), note));
	check_dist("chart-phones", "queue.booking.created", "phone", NULL, &none);
	check_dist("chart-accounts", "claim.payment.sent", "bank_account", "bank_code", &none);
	assert_int_equal(none, 0);
	/* The brokers are in the tail: at high, a device with 6 or more bookings. */
	assert_non_null(strstr(strstr(g.html, "data-chart=\"chart-devices\""),
	    "<tr class=\"tail\">"));
	assert_non_null(strstr(g.html, "<g class=\"bar tail\""));
}

/* One check-in or first call, for recomputing the out-of-order calls. */
struct qe {
	char queue[128];
	uint64_t t;
	size_t i;            /* stream order: the ledger's, as sent in order */
	int call, exempt;
	long seq;
	const char *officer;
};

static int
qe_cmp(const void *a, const void *b)
{
	const struct qe *x = a, *y = b;
	int c = strcmp(x->queue, y->queue);

	if (c != 0)
		return c;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The out-of-order first calls of officer: skipping more than 3 people checked in at
 * or before the call, within 2 h, not called yet; priority calls exempt. Written from
 * docs/saksi.md, apart from lib/report.c. */
static uint64_t
ooo_of(const char *officer)
{
	struct qe *q = calloc(g.n, sizeof(*q));
	size_t n = 0;
	uint64_t bad = 0;

	assert_non_null(q);
	for (size_t i = 0; i < g.n; i++) {
		const struct sim_ev *e = &g.ev[i];
		int call = strcmp(e->type, "queue.called") == 0;
		const char *tk = pstr(e, "ticket"), *pr = pstr(e, "priority");

		if (!call && strcmp(e->type, "queue.checkin") != 0)
			continue;
		if (call && json_integer_value(json_object_get(e->payload, "call_count")) != 1)
			continue;
		snprintf(q[n].queue, sizeof(q[n].queue), "%s|%s|%s|%c", pstr(e, "branch"),
		    pstr(e, "queue_date"), pstr(e, "service"), tk[0]);
		assert_true(tk[1] == '-' || (tk[1] >= '0' && tk[1] <= '9'));
		q[n].t = e->time_ms;
		q[n].i = i;
		q[n].call = call;
		q[n].exempt = pr != NULL && strcmp(pr, "normal") != 0;
		q[n].seq = (long)json_integer_value(json_object_get(e->payload, "ticket_seq"));
		q[n].officer = pstr(e, "officer_id");
		n++;
	}
	qsort(q, n, sizeof(*q), qe_cmp);
	for (size_t k = 0; k < n; k++) {
		size_t skipped = 0, first = k;
		int again = 0;

		if (!q[k].call || strcmp(q[k].officer, officer) != 0 || q[k].exempt)
			continue;
		while (first > 0 && strcmp(q[first - 1].queue, q[k].queue) == 0)
			first--;
		for (size_t m = first; m < k; m++)
			again |= q[m].call && q[m].seq == q[k].seq;
		if (again)
			continue;
		for (size_t m = first; m < k; m++) {
			int called = 0, earlier = 0;

			if (q[m].call || q[m].seq >= q[k].seq || q[k].t - q[m].t > 2 * 3600000u)
				continue;
			for (size_t w = first; w < m; w++)
				earlier |= !q[w].call && q[w].seq == q[m].seq;
			for (size_t w = first; w < k; w++)
				called |= q[w].call && q[w].seq == q[m].seq;
			skipped += !earlier && !called;
		}
		bad += skipped > 3;
	}
	free(q);
	return bad;
}

static void
test_officers(void **state)
{
	struct table t;
	uint64_t ooo = 0;

	(void)state;
	need_ledger();
	table_of(g.html, "numbers", "chart-officers", &t);
	assert_true(t.rows >= 2);
	for (size_t i = 0; i < t.rows; i++) {
		uint64_t calls = 0, exempt = 0;

		for (size_t j = 0; j < g.n; j++) {
			const char *o = pstr(&g.ev[j], "officer_id"), *pr = pstr(&g.ev[j], "priority");

			if (strcmp(g.ev[j].type, "queue.called") != 0 || o == NULL ||
			    strcmp(o, t.cell[i][0]) != 0 ||
			    json_integer_value(json_object_get(g.ev[j].payload, "call_count")) != 1)
				continue;
			calls++;
			exempt += pr != NULL && strcmp(pr, "normal") != 0;
		}
		assert_int_equal(u(t.cell[i][1]), calls);
		assert_int_equal(u(t.cell[i][3]), exempt);
		assert_true(u(t.cell[i][2]) <= calls - exempt);
		assert_int_equal(u(t.cell[i][2]), ooo_of(t.cell[i][0]));
		ooo += u(t.cell[i][2]);
		if (i > 0)
			assert_true(strcmp(t.cell[i - 1][0], t.cell[i][0]) < 0);
	}
	/* At high an officer serves walk-ins ahead of everyone: it shows. */
	assert_true(ooo > 0);
	table_free(&t);
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median booking-to-service wait per day, from the submitted bookings and starts. */
static void
test_waits(void **state)
{
	struct table t;
	double *w = calloc(g.n, sizeof(*w));

	(void)state;
	need_ledger();
	assert_non_null(w);
	table_of(g.html, "numbers", "chart-wait-booking", &t);
	assert_int_equal(t.rows, g.ndays);
	for (size_t d = 0; d < g.ndays; d++) {
		size_t n = 0;
		char med[32];

		for (size_t i = 0; i < g.n; i++) {
			const char *bk = pstr(&g.ev[i], "booking_id");

			if (strcmp(g.ev[i].type, "queue.service.started") != 0 || bk == NULL ||
			    local_day(g.ev[i].time_ms) != g.day0 + (int64_t)d)
				continue;
			for (size_t j = 0; j < g.n; j++) {
				const char *b2 = pstr(&g.ev[j], "booking_id");

				if (strcmp(g.ev[j].type, "queue.booking.created") == 0 && b2 != NULL &&
				    strcmp(b2, bk) == 0 && g.ev[j].time_ms <= g.ev[i].time_ms) {
					w[n++] = (double)(g.ev[i].time_ms - g.ev[j].time_ms) / 3600000.0;
					break;
				}
			}
		}
		assert_int_equal(u(t.cell[d][1]), n);
		if (n == 0) {
			assert_string_equal(t.cell[d][2], "-");
			continue;
		}
		qsort(w, n, sizeof(*w), dbl_cmp);
		snprintf(med, sizeof(med), "%.1f", w[(size_t)ceil(0.5 * (double)n) - 1]);
		assert_string_equal(t.cell[d][2], med);
		snprintf(med, sizeof(med), "%.1f", w[n - 1]);
		assert_string_equal(t.cell[d][4], med);
	}
	table_free(&t);
	free(w);
}

/* The alert entries about the period, as saksi alerts list would read them. */
static void
test_alerts(void **state)
{
	struct table t;
	saksi_ledger *l;
	saksi_ledger_txn *txn;
	uint64_t want = 0, got = 0;
	uint64_t since = (uint64_t)(g.day0 * DAY_MS - OFFSET_MS);
	uint64_t until = since + g.ndays * DAY_MS - 1;

	(void)state;
	need_ledger();
	l = lf_open_ro(P(&g.f, 6, "st/ledger"));
	assert_int_equal(saksi_ledger_begin(l, 0, &txn), SAKSI_OK);
	for (uint64_t i = 0; i < saksi_ledger_size(txn); i++) {
		uint8_t *leaf;
		size_t len;
		saksi_leaf lf;
		saksi_alert a;

		assert_int_equal(saksi_ledger_leaf(txn, i, &leaf, &len), SAKSI_OK);
		assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
		if (lf.lf_kind == SAKSI_LEAF_ALERT) {
			assert_int_equal(saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &a),
			    SAKSI_OK);
			want += a.al_kind != SAKSI_ALERT_RERAISE && a.al_last_ms >= since &&
			    a.al_last_ms <= until;
		}
		free(leaf);
	}
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	print_message("%llu alerts in the period\n", (unsigned long long)want);
	assert_true(want > 0);
	table_of(g.html, "numbers", "chart-alerts", &t);
	for (size_t i = 0; i < t.rows; i++)
		got += u(t.cell[i][2]);
	assert_int_equal(got, want);
	table_free(&t);
}

/* ---- no personal value ---- */

static void
no_value(const char *html, size_t len, const char *v)
{
	if (v != NULL && memmem(html, len, v, strlen(v)) != NULL)
		fail_msg("the report holds a personal value of the day (%zu characters)",
		    strlen(v));
}

static void
test_no_personal_value(void **state)
{
	static const char *const members[] = { "nik", "kpj", "phone", "bank_account",
		"device_id", "email", "name", "account_holder", "npwp", "ip", "balance" };
	size_t checked = 0;

	(void)state;
	need_ledger();
	for (size_t i = 0; i < g.n; i++)
		for (size_t m = 0; m < sizeof(members) / sizeof(members[0]); m++) {
			const char *v = pstr(&g.ev[i], members[m]);

			if (v == NULL || (strcmp(members[m], "balance") == 0 && strlen(v) < 7))
				continue;
			no_value(g.html, g.html_len, v);
			if (strncmp(v, "+62", 3) == 0) {
				char national[32];

				no_value(g.html, g.html_len, v + 3);   /* 8xx... */
				snprintf(national, sizeof(national), "0%s", v + 3);
				no_value(g.html, g.html_len, national);
			}
			checked++;
		}
	/* The search finds what is there: the origin and an officer are. */
	assert_non_null(memmem(g.html, g.html_len, ORIGIN, strlen(ORIGIN)));
	assert_non_null(memmem(g.html, g.html_len, "<td>MKS-", 8));
	print_message("%zu personal values looked for\n", checked);
	assert_true(checked > 1000);
}

/* ---- the other periods, and the usage ---- */

static void
test_empty_and_branch(void **state)
{
	struct run r;
	char *h;
	const char *conf = P(&g.f, 1, "st/saksid.conf");
	char tot[64];

	(void)state;
	need_ledger();
	/* A month long before: every section says so, and no chart is drawn over nothing. */
	RUN(&g.f, &r, 0, "report", "--config", conf, "--since", "2020-01-01", "--until",
	    "2020-01-31", "-o", P(&g.f, 7, "empty.html"));
	run_free(&r);
	h = slurp(g.f.path[7], NULL);
	assert_non_null(strstr(h, "id=\"no-events\""));
	assert_non_null(strstr(h, "id=\"total-events\">0<"));
	assert_null(strstr(h, "<svg"));
	for (const char *p = h; (p = strstr(p, "<section")) != NULL; p++)
		assert_true(strstr(p, "class=\"nodata\"") < strstr(p, "</section>"));
	free(h);

	/* One branch: the day's only one, the same events; another: none. */
	RUN(&g.f, &r, 0, "report", "--config", conf, "--since", g.since, "--until", g.until,
	    "--utc-offset", "+08:00", "--branch", "KC-MAKASSAR", "-o", P(&g.f, 7, "b.html"));
	run_free(&r);
	h = slurp(g.f.path[7], NULL);
	snprintf(tot, sizeof(tot), "id=\"total-events\">%zu<", g.n);
	assert_non_null(strstr(h, tot));
	assert_non_null(strstr(h, "<td>KC-MAKASSAR</td>"));
	free(h);
	RUN(&g.f, &r, 0, "report", "--config", conf, "--since", g.since, "--until", g.until,
	    "--branch", "KC-NOWHERE", "-o", P(&g.f, 7, "none.html"));
	run_free(&r);
	h = slurp(g.f.path[7], NULL);
	assert_non_null(strstr(h, "id=\"total-events\">0<"));
	free(h);
}

static void
test_usage(void **state)
{
	struct run r;
	const char *conf;
	struct stat st;

	(void)state;
	need_ledger();
	conf = P(&g.f, 1, "st/saksid.conf");
	RUN(&g.f, &r, 2, "report", "--config", conf, "--until", "2025-01-01", "-o", "x.html");
	assert_non_null(strstr(r.err, "--since"));
	run_free(&r);
	RUN(&g.f, &r, 2, "report", "--config", conf, "--since", "2025-01-01", "--until",
	    "2025-01-02");
	assert_non_null(strstr(r.err, "-o FILE"));
	run_free(&r);
	RUN(&g.f, &r, 2, "report", "--config", conf, "--since", "2025-01-02", "--until",
	    "2025-01-01", "-o", P(&g.f, 8, "x.html"));
	assert_non_null(strstr(r.err, "after --until"));
	run_free(&r);
	RUN(&g.f, &r, 2, "report", "--config", conf, "--since", "2025-13-02", "--until",
	    "2025-01-01", "-o", g.f.path[8]);
	run_free(&r);
	RUN(&g.f, &r, 2, "report", "--config", conf, "--since", "2025-01-01", "--until",
	    "2025-01-02", "--utc-offset", "8", "-o", g.f.path[8]);
	assert_non_null(strstr(r.err, "--utc-offset"));
	run_free(&r);
	RUN(&g.f, &r, 2, "report", "--config", conf, "--since", "2025-01-01", "--until",
	    "2025-01-02", "--utc-offset", "+15:00", "-o", g.f.path[8]);
	run_free(&r);
	RUN(&g.f, &r, 2, "report", "--config", conf, "--since", "2025-01-01", "--until",
	    "2025-01-02", "--branch", "kc makassar", "-o", g.f.path[8]);
	assert_non_null(strstr(r.err, "--branch"));
	run_free(&r);
	RUN(&g.f, &r, 2, "report", "--config", conf, "--since", "2023-01-01", "--until",
	    "2025-01-02", "-o", g.f.path[8]);
	assert_non_null(strstr(r.err, "366 days"));
	run_free(&r);
	RUN(&g.f, &r, 2, "report", "--config", P(&g.f, 9, "none.conf"), "--since",
	    "2025-01-01", "--until", "2025-01-02", "-o", g.f.path[8]);
	run_free(&r);
	RUN(&g.f, &r, 2, "report", "--bogus");
	run_free(&r);
	/* Nothing was written by any of them. */
	assert_int_equal(stat(g.f.path[8], &st), -1);
	/* The report itself: the group may read it, nobody else. */
	assert_int_equal(stat(P(&g.f, 5, "report.html"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
}

/* ---- rendered by Chromium ---- */

static const char *
find_chromium(void)
{
	static const char *const where[] = { "/usr/bin/chromium", "/usr/lib/chromium/chromium",
		"/usr/bin/chromium-browser" };

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

static size_t
count_in(const char *from, const char *to, const char *needle)
{
	size_t n = 0;

	for (const char *p = from; (p = strstr(p, needle)) != NULL && (to == NULL || p < to);
	    p += strlen(needle))
		n++;
	return n;
}

/* The <svg> of chart id in the DOM, and its end. */
static const char *
svg_of(const char *dom, const char *id, const char **end)
{
	char head[96];
	const char *p;

	snprintf(head, sizeof(head), "id=\"%s\"", id);
	p = strstr(dom, head);
	if (p == NULL)
		fail_msg("chart %s is not in the rendered DOM", id);
	*end = strstr(p, "</svg>");
	assert_non_null(*end);
	return p;
}

static void
test_chromium(void **state)
{
	static const char *const charts[] = { "chart-channels", "chart-wait-booking",
		"chart-wait-checkin", "chart-devices", "chart-phones", "chart-alerts",
		"chart-officers", "chart-accounts" };
	const char *chromium = find_chromium(), *req = getenv("SAKSI_REQUIRE_CHROMIUM");
	char url[300], ud[300], shot[300], dom_path[300];
	struct run r;
	char *dom, *png;
	size_t png_len;
	struct table t;

	(void)state;
	need_ledger();
	if (chromium == NULL) {
		if (req != NULL && strcmp(req, "1") == 0)
			fail_msg("SAKSI_REQUIRE_CHROMIUM=1 and no chromium: install Debian's "
			    "chromium package (scripts/deps.sh)");
		print_message("chromium is not installed; skipping the rendering test\n");
		skip();
	}
	snprintf(url, sizeof(url), "file://%s/report.html", g.f.dir);
	snprintf(ud, sizeof(ud), "--user-data-dir=%s/chromium", g.f.dir);
	/* timeout(1) bounds a browser that hangs; as root Chromium needs --no-sandbox. */
	run_expect("/usr/bin/timeout", g.f.dir, &r, 0, NULL, "120", chromium, "--headless",
	    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", ud, "--dump-dom", url,
	    (char *)NULL);
	snprintf(dom_path, sizeof(dom_path), "%s/dom.html", g.f.dir);
	spit(dom_path, r.out, r.out_len);
	dom = strdup(r.out);
	run_free(&r);
	assert_non_null(strstr(dom, "<h1>saksi report</h1>"));
	assert_int_equal(count_in(dom, NULL, "<svg class=\"chart\""), 8);
	for (size_t i = 0; i < 8; i++) {
		const char *end, *s = svg_of(dom, charts[i], &end);
		char title[96], desc[96];

		snprintf(title, sizeof(title), "<title id=\"%s-title\">", charts[i]);
		snprintf(desc, sizeof(desc), "<desc id=\"%s-desc\">", charts[i]);
		assert_int_equal(count_in(s, end, title), 1);
		assert_int_equal(count_in(s, end, desc), 1);
		assert_true(count_in(s, end, "class=\"axis-label\"") == 2);
		assert_true(count_in(s, end, "<rect class=\"seg\"") > 0);
	}
	/* The day charts: one bar per day of the period. */
	for (size_t i = 0; i < 3; i++) {
		const char *end, *s = svg_of(dom, i == 0 ? "chart-channels" : i == 1 ?
		    "chart-wait-booking" : "chart-alerts", &end);

		assert_int_equal(count_in(s, end, "<g class=\"bar\""), g.ndays);
	}
	/* Officers: one bar per officer of the table. */
	{
		const char *end, *s = svg_of(dom, "chart-officers", &end);

		table_of(dom, "numbers", "chart-officers", &t);
		assert_int_equal(count_in(s, end, "<g class=\"bar\"") +
		    count_in(s, end, "<g class=\"bar tail\""), t.rows);
		table_free(&t);
	}
	/* The devices' tail is highlighted. */
	{
		const char *end, *s = svg_of(dom, "chart-devices", &end);

		assert_true(count_in(s, end, "<g class=\"bar tail\"") > 0);
	}
	free(dom);

	snprintf(shot, sizeof(shot), "--screenshot=%s/report.png", g.f.dir);
	run_expect("/usr/bin/timeout", g.f.dir, &r, 0, NULL, "120", chromium, "--headless",
	    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", ud, shot,
	    "--window-size=1280,4000", "--hide-scrollbars", url, (char *)NULL);
	run_free(&r);
	png = slurp(P(&g.f, 10, "report.png"), &png_len);
	assert_true(png_len > 20000);
	assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
	print_message("screenshot: %zu bytes\n", png_len);
	free(png);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_channels),
		cmocka_unit_test(test_distributions),
		cmocka_unit_test(test_officers),
		cmocka_unit_test(test_waits),
		cmocka_unit_test(test_alerts),
		cmocka_unit_test(test_no_personal_value),
		cmocka_unit_test(test_empty_and_branch),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_chromium),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
