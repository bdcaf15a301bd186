/*
 * query_test.c: saksi query and saksi timeline end to end: a simulated branch day sent
 * through a real saksid (the first half before the daemon had an index key, so the start
 * must index it), then queries by NIK, device, officer, claim and time checked against
 * what was submitted; masked output by default; --reveal and personal filters logged as
 * access entries that `saksi verify` accepts; no results without a receipt; and a grep of
 * the LMDB file, the outputs, the daemon's log and the CLI's stderr for every NIK, KPJ,
 * phone and account number the day held.
 */
#include <errno.h>
#include <fcntl.h>
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
#include <lmdb.h>
#include <sodium.h>

#include "index.h"
#include "ledger.h"
#include "testutil.h"
#include "sim_day.h"

#define ORIGIN "query-test.saksi.example/log"
#define MAXEV 20000

struct day {
	struct sim_ev ev[MAXEV];
	size_t n;
	/* Every personal number of the day (NIK, KPJ, phone NSN, account), sorted. */
	struct tu_secrets sec;
};

static struct day g_day;
/* saksid.conf with a small index_catchup_batch: a catch-up that lasts. */
static char g_slow_conf[400];
/* Everything the CLI wrote to stderr, and every unrevealed output, for the grep. */
static char *g_err_all, *g_out_masked;
static size_t g_err_len, g_out_len;

static void
append(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s);

	*buf = realloc(*buf, *len + n + 2);
	assert_non_null(*buf);
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[(*len)++] = '\n';
	(*buf)[*len] = '\0';
}

/* Runs saksi, keeping its stderr for the grep (and its stdout unless revealed). */
#define Q(f, r, want, masked, ...) do { \
	RUN(f, r, want, __VA_ARGS__); \
	append(&g_err_all, &g_err_len, (r)->err); \
	if (masked) \
		append(&g_out_masked, &g_out_len, (r)->out); \
} while (0)

static void
load_day(struct day *d, const char *path)
{
	static const char *const personal[] = { "nik", "kpj", "phone", "bank_account" };

	memset(d, 0, sizeof(*d));
	sim_day_load(path, NULL, d->ev, MAXEV, &d->n);
	for (size_t i = 0; i < d->n; i++)
		for (size_t k = 0; k < sizeof(personal) / sizeof(personal[0]); k++)
			tu_secret_add(&d->sec, json_string_value(json_object_get(d->ev[i].payload,
			    personal[k])));
	qsort(d->sec.v, d->sec.n, sizeof(char *), tu_str_cmp);
}

static void
free_day(struct day *d)
{
	sim_day_free(d->ev, d->n);
	tu_secrets_free(&d->sec);
}

/* The first secret found in buf[0..len), or NULL: every window of a secret's length in
 * every run of digits, looked up in the sorted list. */
static const char *
find_secret(const struct day *d, const char *buf, size_t len)
{
	return tu_find_secret(d->sec.v, d->sec.n, d->sec.lens, d->sec.nlens, buf, len);
}

static void
no_secret_in_file(const struct day *d, const char *path)
{
	size_t len;
	char *buf = slurp(path, &len);
	const char *s = find_secret(d, buf, len);

	if (s != NULL)
		fail_msg("%s holds a personal number of the day", path);
	free(buf);
}

/* The value of member m most frequent in the day (among events that have it). */
static const char *
most_common(const struct day *d, const char *m, const char *m2, size_t *count)
{
	const char *best = NULL;
	size_t bestn = 0;

	for (size_t i = 0; i < d->n; i++) {
		const char *v = json_string_value(json_object_get(d->ev[i].payload, m));
		size_t n = 0;

		if (v == NULL)
			continue;
		for (size_t j = 0; j < d->n; j++) {
			const char *w = json_string_value(json_object_get(d->ev[j].payload, m));
			const char *w2 = m2 != NULL ?
			    json_string_value(json_object_get(d->ev[j].payload, m2)) : NULL;

			n += (w != NULL && strcmp(w, v) == 0) || (w2 != NULL && strcmp(w2, v) == 0);
		}
		if (n > bestn) {
			bestn = n;
			best = v;
		}
		if (i > 600 && best != NULL)
			break;   /* enough to find a busy one; the whole day would be quadratic */
	}
	*count = bestn;
	return best;
}

/* The entries of a --json output, checked against the submitted events that match. */
static size_t
check_json(const struct day *d, const char *out, const char *m, const char *m2,
           const char *v, uint64_t since, uint64_t until, int *more)
{
	json_error_t jerr;
	json_t *root = json_loads(out, 0, &jerr), *arr, *e;
	size_t i, want = 0, n;
	uint64_t last = 0;

	if (root == NULL)
		fail_msg("not JSON (%s): %.300s", jerr.text, out);
	arr = json_object_get(root, "entries");
	n = json_array_size(arr);
	for (size_t j = 0; j < d->n; j++) {
		const char *w = m ? json_string_value(json_object_get(d->ev[j].payload, m)) : "";
		const char *w2 = m2 ? json_string_value(json_object_get(d->ev[j].payload, m2)) :
		    NULL;

		if (((w != NULL && (m == NULL || strcmp(w, v) == 0)) ||
		    (w2 != NULL && strcmp(w2, v) == 0)) && d->ev[j].time_ms >= since &&
		    d->ev[j].time_ms <= until)
			want++;
	}
	json_array_foreach(arr, i, e) {
		uint64_t idx = (uint64_t)json_integer_value(json_object_get(e, "index"));
		uint64_t t = (uint64_t)json_integer_value(json_object_get(e, "time_ms"));
		const char *type = json_string_value(json_object_get(e, "type"));
		size_t j;

		if (i > 0)
			assert_true(idx > last);   /* ascending ledger order */
		last = idx;
		/* It is one of the submitted events, of this type and time. */
		for (j = 0; j < d->n; j++)
			if (d->ev[j].time_ms == t && strcmp(d->ev[j].type, type) == 0)
				break;
		if (j == d->n)
			fail_msg("entry %llu (%s at %llu) was never submitted",
			    (unsigned long long)idx, type, (unsigned long long)t);
	}
	if (more != NULL)
		*more = json_is_true(json_object_get(root, "more"));
	json_decref(root);
	if (more == NULL && n != want)
		fail_msg("%zu entries for %s, the day had %zu", n, m ? m : "time", want);
	return n;
}

static pid_t
start(struct scratch *f, const char *conf, const char *sock)
{
	return saksid_start(SAKSID, f, "-d", conf, sock, P(f, 15, "saksid.log"), O_APPEND);
}

/* The participants the last access entry says it revealed (-1: no member). */
static json_int_t g_participants;

static size_t
count_access(struct scratch *f, int *revealed_last)
{
	struct run r;
	json_t *root, *arr;
	size_t n;

	Q(f, &r, 0, 1, "query", "--config", P(f, 1, "st/saksid.conf"), "--type",
	    "supervisor.access.logged", "--json", "--limit", "1000");
	root = json_loads(r.out, 0, NULL);
	assert_non_null(root);
	arr = json_object_get(root, "entries");
	n = json_array_size(arr);
	if (revealed_last != NULL && n > 0) {
		json_t *pl = json_object_get(json_array_get(arr, n - 1), "payload"), *np;

		*revealed_last = json_is_true(json_object_get(pl, "revealed"));
		np = json_object_get(pl, "participants");
		g_participants = json_is_integer(np) ? json_integer_value(np) : -1;
	}
	/* Who looked, as the rules count it: the signing key's own id. */
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);

		assert_string_equal(json_string_value(json_object_get(json_object_get(e,
		    "payload"), "key_id")), json_string_value(json_object_get(e, "key_id")));
	}
	/* The filter names tokens, never values. */
	assert_null(find_secret(&g_day, r.out, r.out_len));
	json_decref(root);
	run_free(&r);
	return n;
}

/* The last line of s (without its newline), in buf. */
static void
last_line(const char *s, char *buf, size_t len)
{
	size_t n = strlen(s);
	const char *p;

	while (n > 0 && s[n - 1] == '\n')
		n--;
	for (p = s + n; p > s && p[-1] != '\n'; p--)
		;
	assert_true((size_t)(s + n - p) < len);
	memcpy(buf, p, (size_t)(s + n - p));
	buf[s + n - p] = '\0';
}

/*
 * The listing of access entries names who looked and how (not only --json): the table
 * and the CSV have the access columns, their last row the last (revealed, --case) look,
 * key id and keyring name, command, the filter as stored, the counts, revealed.
 */
static void
access_table(struct scratch *f, size_t n)
{
	struct run r;
	json_t *root, *pl;
	char want[4096], line[4096];
	const char *kid, *filter;
	json_int_t results, parts;

	Q(f, &r, 0, 1, "query", "--config", P(f, 1, "st/saksid.conf"), "--type",
	    "supervisor.access.logged", "--json", "--limit", "1000");
	root = json_loads(r.out, 0, NULL);
	assert_non_null(root);
	assert_int_equal(json_array_size(json_object_get(root, "entries")), n);
	pl = json_object_get(json_array_get(json_object_get(root, "entries"), n - 1),
	    "payload");
	kid = json_string_value(json_object_get(pl, "key_id"));
	filter = json_string_value(json_object_get(pl, "filter"));
	results = json_integer_value(json_object_get(pl, "results"));
	parts = json_integer_value(json_object_get(pl, "participants"));
	assert_non_null(kid);
	assert_non_null(filter);
	assert_true(results > 0);
	assert_int_equal(parts, 1);
	assert_non_null(strstr(filter, "nik="));
	run_free(&r);

	/* CSV: the access header, and the row in full (the filter, a comma list, quoted). */
	Q(f, &r, 0, 1, "query", "--config", P(f, 1, "st/saksid.conf"), "--type",
	    "supervisor.access.logged", "--csv", "--limit", "1000");
	assert_true(strncmp(r.out, "index,time,key_id,name,branch,command,filter,results,"
	    "participants,revealed,case\n", 80) == 0);
	last_line(r.out, line, sizeof(line));
	assert_non_null(strchr(filter, ','));
	snprintf(want, sizeof(want), ",%s,spi-1,KP-PUSAT,query,\"%s\",%" JSON_INTEGER_FORMAT
	    ",%" JSON_INTEGER_FORMAT ",yes,SPI-2026-0001", kid, filter, results, parts);
	print_message("access row: %s\n", line);
	assert_non_null(strstr(line, want));
	run_free(&r);

	/* The table: the same columns, the same row, nothing shown as "-" but none. */
	Q(f, &r, 0, 1, "query", "--config", P(f, 1, "st/saksid.conf"), "--type",
	    "supervisor.access.logged", "--limit", "1000");
	assert_true(strncmp(r.out, "index ", 6) == 0);
	assert_non_null(strstr(r.out, "  key_id"));
	assert_non_null(strstr(r.out, "  revealed"));
	last_line(r.out, line, sizeof(line));
	assert_non_null(strstr(line, kid));
	assert_non_null(strstr(line, " spi-1 "));
	assert_non_null(strstr(line, " query "));
	assert_non_null(strstr(line, filter));
	assert_non_null(strstr(line, " yes "));
	assert_non_null(strstr(line, " SPI-2026-0001"));
	run_free(&r);
	json_decref(root);
}

/* The entries of a --json output (the query's or the timeline's). */
static size_t
entries_of(const char *out, json_t **arr_out)
{
	json_t *root = json_loads(out, 0, NULL);
	size_t n;

	if (root == NULL)
		fail_msg("not JSON: %.300s", out);
	n = json_array_size(json_object_get(root, "entries"));
	if (arr_out != NULL)
		*arr_out = json_incref(json_object_get(root, "entries"));
	json_decref(root);
	return n;
}

/* The events of the day whose member m is v, and whose nik is not but (if given). */
static size_t
count_day_but(const struct day *d, const char *m, const char *v, const char *but)
{
	size_t n = 0;

	for (size_t j = 0; j < d->n; j++) {
		const char *w = json_string_value(json_object_get(d->ev[j].payload, m));
		const char *nk = json_string_value(json_object_get(d->ev[j].payload, "nik"));

		n += w != NULL && strcmp(w, v) == 0 &&
		    (but == NULL || nk == NULL || strcmp(nk, but) != 0);
	}
	return n;
}
#define count_day(d, m, v) count_day_but((d), (m), (v), NULL)

/*
 * A supervisor forgets another participant (one with a booking and several events, not
 * keep): afterwards no query or timeline by his NIK, KPJ or phone finds anything, his
 * booking is still found by its id (it is about the service), keep's entries are all
 * there, and an index rebuilt from scratch at the next start (the catch-up over the whole
 * ledger) does not bring his postings back: his disclosures no longer open. Returns the
 * running daemon.
 */
/* The status's member at path ("a.b"), or NULL. */
static json_t *
status_get(json_t *root, const char *a, const char *b)
{
	return json_object_get(json_object_get(root, a), b);
}

/* Waits (bounded: 120 s on a loaded machine) until saksid's status says the index
 * catch-up is done; fails if it stopped on an error or saksid exited. */
static void
await_index(struct scratch *f, const char *sock)
{
	char url[300];
	struct run r;

	snprintf(url, sizeof(url), "ipc://%s", sock);
	for (int i = 0; i < 12000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		json_t *st;
		int behind;

		RUN(f, &r, 0, "status", "--url", url, "--json");
		st = json_loads(r.out, 0, NULL);
		run_free(&r);
		assert_non_null(st);
		assert_true(json_is_null(status_get(st, "index", "error")));
		behind = json_is_true(status_get(st, "index", "catching_up"));
		json_decref(st);
		if (!behind)
			return;
		assert_int_equal(waitpid(f->pid, NULL, WNOHANG), 0);
		nanosleep(&ts, NULL);
	}
	fail_msg("the index catch-up did not end within 120 s");
}

/* Deletes the index whole (saksid stopped): its next start rebuilds it from leaf 0. */
static void
drop_index(struct scratch *f)
{
	saksi_ledger *l;
	saksi_ledger_txn *t;
	MDB_dbi dbi;

	assert_int_equal(saksi_ledger_open(P(f, 9, "st/ledger"), NULL, NULL, NULL, &l),
	    SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 1, &t), SAKSI_OK);
	assert_int_equal(saksi_index_open(saksi_ledger_txn_mdb(t), 0, &dbi), SAKSI_OK);
	assert_int_equal(mdb_drop(saksi_ledger_txn_mdb(t), dbi, 1), 0);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	saksi_ledger_close(l);
}

static pid_t
forget_one(struct scratch *f, pid_t pid, const char *sock, const char *vkey,
           const char *keep, size_t keep_cnt)
{
	char url[300], bk[80] = "";
	const char *who = NULL, *kpj = NULL, *phone = NULL;
	struct run r;
	size_t cnt = 0, bk_cnt = 0;
	json_t *arr, *e;
	size_t i;

	for (size_t j = 0; j < g_day.n && who == NULL; j++) {
		json_t *p = g_day.ev[j].payload;
		const char *v = json_string_value(json_object_get(p, "nik"));

		if (v == NULL || strcmp(v, keep) == 0 ||
		    strcmp(g_day.ev[j].type, "queue.booking.created") != 0 ||
		    json_string_value(json_object_get(p, "kpj")) == NULL ||
		    json_string_value(json_object_get(p, "phone")) == NULL ||
		    (cnt = count_day(&g_day, "nik", v)) < 3)
			continue;
		who = v;
		kpj = json_string_value(json_object_get(p, "kpj"));
		phone = json_string_value(json_object_get(p, "phone"));
		snprintf(bk, sizeof(bk), "%s", json_string_value(json_object_get(p,
		    "booking_id")));
	}
	assert_non_null(who);
	assert_true(bk[0] != '\0');
	bk_cnt = count_day(&g_day, "booking_id", bk);
	print_message("forgetting a participant with %zu events\n", cnt);
	Q(f, &r, 0, 1, "query", "--config", f->path[1], "--nik", who, "-k", f->path[2],
	    "--json", "--limit", "1000");
	assert_int_equal(entries_of(r.out, NULL), cnt);
	run_free(&r);

	/* The request lands while the index is rebuilt behind the groups (one entry a
	 * transaction): what is indexed goes with it, the rest is indexed without him. */
	saksid_stop(f);
	drop_index(f);
	pid = start(f, g_slow_conf, sock);
	snprintf(url, sizeof(url), "ipc://%s", sock);
	RUN(f, &r, 0, "status", "--url", url);
	print_message("before the forget: %s", strstr(r.out, "indexes"));
	run_free(&r);

	/* The supervisor's request, the NIK on stdin. */
	spit(P(f, 12, "who.nik"), who, strlen(who));
	RUN_IN(f, &r, 0, f->path[12], "forget", "--nik", "-", "--url", url, "-k",
	    P(f, 13, "spv2.key"), "--box-pub", P(f, 14, "st/box.pub"), "--vkey", vkey, "--seq",
	    "1", "--branch", "KP-PUSAT", "--officer", "SPI-01", "--reason", "subject_request");
	append(&g_err_all, &g_err_len, r.err);
	assert_non_null(strstr(r.err, "the participant's data key is destroyed"));
	run_free(&r);
	unlink(f->path[12]);
	await_index(f, sock);

	for (int pass = 0; pass < 2; pass++) {
		/* Nothing by any of his personal values, in a query or a timeline. */
		Q(f, &r, 0, 1, "query", "--config", f->path[1], "--nik", who, "-k", f->path[2],
		    "--json");
		assert_int_equal(entries_of(r.out, NULL), 0);
		run_free(&r);
		Q(f, &r, 0, 1, "timeline", "--config", f->path[1], "--nik", who, "-k",
		    f->path[2], "--json");
		assert_int_equal(entries_of(r.out, NULL), 0);
		run_free(&r);
		Q(f, &r, 0, 1, "query", "--config", f->path[1], "--kpj", kpj, "-k", f->path[2],
		    "--json", "--limit", "1000");
		assert_int_equal(entries_of(r.out, NULL), count_day_but(&g_day, "kpj", kpj, who));
		run_free(&r);
		Q(f, &r, 0, 1, "query", "--config", f->path[1], "--phone", phone, "-k",
		    f->path[2], "--json", "--limit", "1000");
		assert_int_equal(entries_of(r.out, NULL), count_day_but(&g_day, "phone", phone,
		    who));
		run_free(&r);
		/* His booking by its id: there, shown as forgotten. */
		Q(f, &r, 0, 1, "query", "--config", f->path[1], "--booking", bk, "--json");
		assert_int_equal(entries_of(r.out, &arr), bk_cnt);
		json_array_foreach(arr, i, e) {
			json_t *v = json_object_get(json_object_get(e, "payload"), "nik");

			/* Nothing opens: said in words, the salted digest not shown. */
			assert_true(v == NULL || (json_is_string(v) &&
			    strcmp(json_string_value(v), "[forgotten]") == 0));
			assert_true(v == NULL || json_is_true(json_object_get(e, "forgotten")));
		}
		json_decref(arr);
		run_free(&r);
		/* The other participant untouched. */
		Q(f, &r, 0, 1, "query", "--config", f->path[1], "--nik", keep, "-k", f->path[2],
		    "--json", "--limit", "1000");
		assert_int_equal(entries_of(r.out, NULL), keep_cnt);
		run_free(&r);
		if (pass == 1)
			break;
		/* The index dropped whole: the next start indexes the ledger from leaf 0. */
		saksid_stop(f);
		drop_index(f);
		pid = start(f, P(f, 1, "st/saksid.conf"), sock);
		await_index(f, sock);
	}
	return pid;
}


/*
 * The background catch-up (issue 5, FORMATS.md 7.4): an event submitted while it runs
 * is accepted at once; a query then says how far the index covers; once the log says it
 * is caught up, the status and the query say complete and the new event is found.
 */
static void
catchup(struct scratch *f, const char *sock, const char *vkey)
{
	static const char payload[] = "{\"branch\":\"KC-MAKASSAR\",\"booking_id\":"
	    "\"BK-IXFAST-1\",\"service\":\"information\",\"slot_date\":\"2026-11-20\","
	    "\"slot_hour\":9,\"stage\":\"not_checked_in\"}";
	char url[300], *log;
	struct run r;
	json_t *st, *q;
	uint64_t upto, entries;
	int behind;

	snprintf(url, sizeof(url), "ipc://%s", sock);
	spit(P(f, 12, "noshow.json"), payload, strlen(payload));
	RUN(f, &r, 0, "submit", "--url", url, "-k", P(f, 5, "kiosk.key"), "--box-pub",
	    P(f, 14, "st/box.pub"), "--vkey", vkey, "--type", "queue.noshow", "--seq", "1",
	    "--payload", f->path[12]);
	assert_memory_equal(r.out, "c2sp.org/tlog-proof@v1\n", 23);
	run_free(&r);
	RUN(f, &r, 0, "status", "--url", url, "--json");
	st = json_loads(r.out, 0, NULL);
	assert_non_null(st);
	run_free(&r);
	assert_true(json_is_object(json_object_get(st, "index")));
	assert_true(json_is_null(status_get(st, "index", "error")));
	upto = (uint64_t)json_integer_value(status_get(st, "index", "upto"));
	entries = (uint64_t)json_integer_value(status_get(st, "ledger", "entries"));
	behind = json_is_true(status_get(st, "index", "catching_up"));
	assert_true(upto <= entries);
	assert_int_equal(json_integer_value(json_object_get(st, "accepted")), 1);
	json_decref(st);
	print_message("first status: index covers %llu of %llu entries%s\n",
	    (unsigned long long)upto, (unsigned long long)entries,
	    behind ? ", catching up" : "");
	if (behind) {
		/* The receipt came back before the catch-up was done: the ledger served at once.
		 * A query says the index is partial, never silently. */
		assert_true(upto < entries);
		Q(f, &r, 0, 1, "query", "--config", f->path[1], "--booking", "BK-IXFAST-1",
		    "--json");
		q = json_loads(r.out, 0, NULL);
		assert_non_null(q);
		/* The catch-up may end between the status and the query (a loaded
		 * machine): then the query says complete, and no note is due. A partial
		 * answer always carries the note. */
		if (json_is_false(status_get(q, "index", "complete")))
			assert_non_null(strstr(r.err, "index covers entries below"));
		else {
			assert_true(json_is_true(status_get(q, "index", "complete")));
			assert_null(strstr(r.err, "index covers entries below"));
			print_message("the catch-up ended between the status and the query\n");
		}
		json_decref(q);
		run_free(&r);
	} else
		/* Thousands of synced one-entry transactions outran one CLI round trip: what
		 * follows still holds, the mid-way view was not seen this run. */
		print_message("the catch-up ended before the first status\n");
	await_index(f, sock);
	/* Logged by the catch-up's thread as it ends, before the status can say so. */
	log = slurp(f->path[15], NULL);
	assert_non_null(strstr(log, "indexes: caught up"));
	free(log);
	RUN(f, &r, 0, "status", "--url", url, "--json");
	st = json_loads(r.out, 0, NULL);
	assert_non_null(st);
	run_free(&r);
	assert_true(json_is_false(status_get(st, "index", "catching_up")));
	assert_int_equal(json_integer_value(status_get(st, "index", "upto")),
	    json_integer_value(status_get(st, "ledger", "entries")));
	json_decref(st);
	RUN(f, &r, 0, "status", "--url", url);
	assert_non_null(strstr(r.out, "cover the whole ledger"));
	run_free(&r);
	/* Complete: the event committed while the catch-up ran is found. */
	Q(f, &r, 0, 1, "query", "--config", f->path[1], "--booking", "BK-IXFAST-1", "--json");
	assert_null(strstr(r.err, "index covers"));
	q = json_loads(r.out, 0, NULL);
	assert_non_null(q);
	assert_true(json_is_true(status_get(q, "index", "complete")));
	assert_int_equal(json_array_size(json_object_get(q, "entries")), 1);
	json_decref(q);
	run_free(&r);
}

static void
test_day(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char sock[256], vkey[512], start_day[16], conf2[300], since_s[24], until_s[24];
	char *conf, mask[32];
	const char *nik, *device, *officer, *claim;
	size_t n, cnt, cnt_nik, acc;
	uint64_t tmin = UINT64_MAX, tmax = 0, since, until, after;
	int more, revealed;
	pid_t pid;

	need_built(SAKSI, SAKSID);
	sim_start_day(start_day, "11");

	state_init(SAKSI, f, ORIGIN, vkey, sizeof(vkey));
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only");
	run_free(&r);
	key_enrol(SAKSI, f, P(f, 4, "st/keyring.json"), P(f, 2, "sup.key"), P(f, 3, "sup.pub"),
	    "spi-1", "supervisor", "*");
	/* A second supervisor, who forgets someone (forget_one). */
	key_enrol(SAKSI, f, f->path[4], P(f, 13, "spv2.key"), P(f, 12, "spv2.pub"), "spi-2",
	    "supervisor", "*");
	/* A producer's key is no supervisor's. */
	key_enrol(SAKSI, f, f->path[4], P(f, 5, "kiosk.key"), P(f, 6, "kiosk.pub"), "kiosk-x",
	    "queue", "KC-MAKASSAR");

	RUN(f, &r, 0, "simulate", "--dry-run", "--out", P(f, 7, "day.jsonl"), "--seed", "11",
	    "--start", start_day, "--branches", "1", "--days", "1");
	run_free(&r);
	load_day(&g_day, f->path[7]);
	assert_true(g_day.n > 1000);
	assert_true(g_day.sec.n > 100);
	for (size_t i = 0; i < g_day.n; i++) {
		if (g_day.ev[i].time_ms < tmin)
			tmin = g_day.ev[i].time_ms;
		if (g_day.ev[i].time_ms > tmax)
			tmax = g_day.ev[i].time_ms;
	}

	/* The first run: a config without index_key (and so without rules). */
	conf_listen(P(f, 1, "st/saksid.conf"), NULL, 0, sock, sizeof(sock));
	conf = slurp(f->path[1], NULL);
	{
		FILE *o = fopen(P(f, 8, "st/noindex.conf"), "w");

		assert_non_null(o);
		for (char *l = conf; *l != '\0';) {
			size_t len = strcspn(l, "\n");

			if (strncmp(l, "index_key", 9) != 0 && strncmp(l, "rules", 5) != 0 &&
			    strncmp(l, "alerts_listen", 13) != 0)
				fprintf(o, "%.*s\n", (int)len, l);
			l += len + (l[len] == '\n');
		}
		fclose(o);
	}
	free(conf);
	snprintf(conf2, sizeof(conf2), "%s", f->path[8]);
	pid = start(f, conf2, sock);
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--seed", "11", "--start", start_day,
	    "--branches", "1", "--days", "1", "--batch", "256", "--window", "3600000");
	run_free(&r);
	saksid_stop(f);
	/* Without indexes there is nothing to ask. */
	Q(f, &r, 2, 1, "query", "--config", conf2, "--type", "claim.submitted");
	assert_non_null(strstr(r.err, "index_key"));
	run_free(&r);

	/* With the index key: saksid serves at once and indexes what the first run wrote
	 * behind its groups, here 64 entries a transaction, so the catch-up lasts. */
	{
		char *text = slurp(P(f, 1, "st/saksid.conf"), NULL);
		FILE *o;

		snprintf(g_slow_conf, sizeof(g_slow_conf), "%s/st/slow.conf", f->dir);
		assert_non_null(o = fopen(g_slow_conf, "w"));
		fprintf(o, "%sindex_catchup_batch = 64\n", text);
		fclose(o);
		free(text);
	}
	pid = start(f, g_slow_conf, sock);
	catchup(f, sock, vkey);

	/* By NIK: needs a key, blinded, masked, and logged. */
	nik = most_common(&g_day, "nik", NULL, &cnt);
	assert_non_null(nik);
	cnt_nik = cnt;
	print_message("NIK with %zu events\n", cnt);
	Q(f, &r, 2, 1, "query", "--config", f->path[1], "--nik", nik);
	assert_int_equal(r.out_len, 0);
	assert_non_null(strstr(r.err, "supervisor's key"));
	run_free(&r);
	acc = count_access(f, NULL);
	assert_int_equal(acc, 0);
	Q(f, &r, 0, 1, "query", "--config", f->path[1], "--nik", nik, "-k", f->path[2],
	    "--json");
	n = check_json(&g_day, r.out, "nik", NULL, nik, 0, UINT64_MAX, NULL);
	assert_int_equal(n, cnt);
	snprintf(mask, sizeof(mask), "%.4s********%.4s", nik, nik + 12);
	assert_non_null(strstr(r.out, mask));
	assert_null(strstr(r.out, nik));
	run_free(&r);
	assert_int_equal(count_access(f, &revealed), 1);
	assert_false(revealed);
	assert_int_equal(g_participants, 0);   /* masked: no one revealed */
	/* The table too. */
	Q(f, &r, 0, 1, "query", "--config", f->path[1], "--nik", nik, "-k", f->path[2]);
	assert_non_null(strstr(r.out, "index  time"));
	assert_non_null(strstr(r.out, mask));
	run_free(&r);

	/* By device. */
	device = most_common(&g_day, "device_id", NULL, &cnt);
	assert_non_null(device);
	Q(f, &r, 0, 1, "query", "--config", f->path[1], "--device", device, "-k", f->path[2],
	    "--json", "--limit", "1000");
	assert_int_equal(check_json(&g_day, r.out, "device_id", NULL, device, 0, UINT64_MAX,
	    NULL), cnt);
	assert_null(strstr(r.out, device));
	run_free(&r);

	/* By officer: not personal, no key, no access entry. */
	acc = count_access(f, NULL);
	officer = most_common(&g_day, "officer_id", "approver_id", &cnt);
	assert_non_null(officer);
	print_message("officer %s with %zu events\n", officer, cnt);
	Q(f, &r, 0, 1, "query", "--config", f->path[1], "--officer", officer, "--json",
	    "--limit", "1000");
	assert_int_equal(check_json(&g_day, r.out, "officer_id", "approver_id", officer, 0,
	    UINT64_MAX, NULL), cnt);
	run_free(&r);
	assert_int_equal(count_access(f, NULL), acc);
	/* Paged by 3: the pages add up, each continuing after the last. */
	{
		size_t total = 0;
		char after_s[24] = "";

		for (int page = 0; page < 1000; page++) {
			json_t *root;

			if (page == 0)
				Q(f, &r, 0, 1, "query", "--config", f->path[1], "--officer", officer,
				    "--json", "--limit", "3");
			else
				Q(f, &r, 0, 1, "query", "--config", f->path[1], "--officer", officer,
				    "--json", "--limit", "3", "--after", after_s);
			total += check_json(&g_day, r.out, "officer_id", "approver_id", officer, 0,
			    UINT64_MAX, &more);
			root = json_loads(r.out, 0, NULL);
			if (more) {
				after = (uint64_t)json_integer_value(json_object_get(root,
				    "next_after"));
				snprintf(after_s, sizeof(after_s), "%llu", (unsigned long long)after);
			}
			json_decref(root);
			run_free(&r);
			if (!more)
				break;
		}
		assert_int_equal(total, cnt);
	}

	/* By claim, and its timeline in time order. */
	claim = most_common(&g_day, "claim_id", NULL, &cnt);
	assert_non_null(claim);
	Q(f, &r, 0, 1, "query", "--config", f->path[1], "--claim", claim, "--json");
	assert_int_equal(check_json(&g_day, r.out, "claim_id", NULL, claim, 0, UINT64_MAX,
	    NULL), cnt);
	run_free(&r);
	Q(f, &r, 0, 1, "timeline", "--config", f->path[1], "--claim", claim, "--csv");
	assert_true(strncmp(r.out, "index,time,type,branch,officer,claim,booking,personal\n",
	    54) == 0);
	{
		size_t lines = 0;
		char prev[32] = "";

		for (char *l = strchr(r.out, '\n') + 1; *l != '\0'; l = strchr(l, '\n') + 1) {
			char t[32];
			char *c1 = strchr(l, ',');

			snprintf(t, sizeof(t), "%.20s", c1 + 1);
			assert_true(strcmp(prev, t) <= 0);   /* time order */
			strcpy(prev, t);
			lines++;
		}
		assert_true(lines >= cnt);
	}
	run_free(&r);

	/* By time range (and type), no key needed. */
	since = tmin + (tmax - tmin) / 3;
	until = tmin + 2 * (tmax - tmin) / 3;
	snprintf(since_s, sizeof(since_s), "%llu", (unsigned long long)since);
	snprintf(until_s, sizeof(until_s), "%llu", (unsigned long long)until);
	Q(f, &r, 0, 1, "query", "--config", f->path[1], "--since", since_s, "--until",
	    until_s, "--json", "--limit", "100000");
	n = check_json(&g_day, r.out, NULL, NULL, NULL, since, until, NULL);
	assert_true(n > 100);
	run_free(&r);
	Q(f, &r, 0, 1, "query", "--config", f->path[1], "--type", "queue.booking.created",
	    "--since", since_s, "--until", until_s, "--json", "--limit", "100000");
	{
		json_t *root = json_loads(r.out, 0, NULL);
		size_t want = 0;

		for (size_t j = 0; j < g_day.n; j++)
			want += strcmp(g_day.ev[j].type, "queue.booking.created") == 0 &&
			    g_day.ev[j].time_ms >= since && g_day.ev[j].time_ms <= until;
		assert_int_equal(json_array_size(json_object_get(root, "entries")), want);
		json_decref(root);
	}
	run_free(&r);

	/* A key that is no supervisor's: refused, nothing shown. */
	acc = count_access(f, NULL);
	Q(f, &r, 1, 1, "query", "--config", f->path[1], "--nik", nik, "-k", f->path[5],
	    "--reveal");
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	assert_int_equal(count_access(f, NULL), acc);

	/* --reveal: the values in clear, after the access entry is in the ledger. */
	RUN(f, &r, 0, "query", "--config", f->path[1], "--nik", nik, "-k", f->path[2],
	    "--reveal", "--case", "SPI-2026-0001", "--json");
	append(&g_err_all, &g_err_len, r.err);
	assert_non_null(strstr(r.out, nik));
	assert_non_null(find_secret(&g_day, r.out, r.out_len));   /* the grep works */
	assert_non_null(strstr(r.err, "access logged as entry"));
	run_free(&r);
	assert_int_equal(count_access(f, &revealed), acc + 1);
	assert_true(revealed);
	assert_int_equal(g_participants, 1);   /* one NIK's entries: one person */
	access_table(f, acc + 1);

	/* A 1 ms timeout: the access entry's answer is likely lost; the CLI sends the same
	 * bytes again (DUPLICATE if they were committed), so one look is one entry. */
	RUN(f, &r, 0, "query", "--config", f->path[1], "--nik", nik, "-k", f->path[2],
	    "--timeout", "1", "--json");
	assert_non_null(strstr(r.err, "access logged as entry"));
	print_message("with --timeout 1: %s", r.err);
	run_free(&r);
	assert_int_equal(count_access(f, NULL), acc + 2);

	/* Forgetting reaches the indexes (FORMATS.md 7.4). */
	pid = forget_one(f, pid, sock, vkey, nik, cnt_nik);

	/* No daemon, no receipt, no reveal (and no personal query). */
	saksid_stop(f);
	Q(f, &r, 2, 1, "query", "--config", f->path[1], "--nik", nik, "-k", f->path[2],
	    "--reveal", "--timeout", "2000");
	assert_int_equal(r.out_len, 0);
	assert_non_null(strstr(r.err, "results withheld"));
	run_free(&r);
	Q(f, &r, 2, 1, "timeline", "--config", f->path[1], "--nik", nik, "-k", f->path[2],
	    "--timeout", "2000");
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	/* Non-personal queries need no daemon. */
	Q(f, &r, 0, 1, "query", "--config", f->path[1], "--claim", claim);
	run_free(&r);

	/* The ledger with its access entries verifies. */
	RUN(f, &r, 0, "verify", "--ledger", P(f, 9, "st/ledger"), "--vkey", vkey, "--keyring",
	    P(f, 10, "st/keyring.json"));
	assert_non_null(strstr(r.out, "ledger intact"));
	run_free(&r);

	/* Nowhere a personal number of the day. */
	no_secret_in_file(&g_day, P(f, 11, "st/ledger/data.mdb"));
	no_secret_in_file(&g_day, f->path[15]);
	assert_null(find_secret(&g_day, g_err_all, g_err_len));
	assert_null(find_secret(&g_day, g_out_masked, g_out_len));
	free_day(&g_day);
	free(g_err_all);
	free(g_out_masked);
}

static void
test_usage(void **state)
{
	struct scratch *f = *state;
	struct run r;

	if (access(SAKSI, X_OK) != 0) {
		print_message("saksi is not built here; skipping\n");
		skip();
	}
	RUN(f, &r, 2, "query", "--config", "/nonexistent/saksid.conf", "--claim", "X");
	run_free(&r);
	RUN(f, &r, 2, "query");
	assert_non_null(strstr(r.err, "at least one filter"));
	run_free(&r);
	RUN(f, &r, 2, "query", "--claim", "a,b");
	run_free(&r);
	RUN(f, &r, 2, "query", "--claim", "X", "--limit", "0");
	run_free(&r);
	RUN(f, &r, 2, "query", "--since", "yesterday");
	run_free(&r);
	RUN(f, &r, 2, "query", "--since", "2026-02-02", "--until", "2026-02-01");
	run_free(&r);
	RUN(f, &r, 2, "query", "--claim", "X", "--case", "bad case");
	run_free(&r);
	RUN(f, &r, 2, "query", "--reveal", "--claim", "X");
	assert_non_null(strstr(r.err, "-k"));
	run_free(&r);
	RUN(f, &r, 2, "timeline", "--claim", "X", "--booking", "Y");
	run_free(&r);
	RUN(f, &r, 2, "timeline", "--type", "claim.submitted");
	run_free(&r);
	RUN(f, &r, 2, "query", "--nik", "7371014101900001", "--nik", "7371014101900002");
	/* A personal value is never echoed, even in a usage error. */
	assert_null(strstr(r.err, "7371014101900001"));
	run_free(&r);
}

static int
setup(void **state)
{
	return scratch_setup(state, "query");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_usage, setup, scratch_teardown),
		cmocka_unit_test_setup_teardown(test_day, setup, scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
