/*
 * subject_report_test.c: saksi subject-report end to end. A simulated branch day goes
 * through a real saksid; supervisors look at one participant (by NIK, by a booking, by an
 * officer whose results hold them) and at nobody in particular; then the participant's
 * report must hold every entry of theirs (count, ledger indices and types), every look
 * and no other, none of the other participants' NIK, KPJ, phone or account numbers, and
 * be in the ledger as an access entry first, with `saksi verify` passing. Also: a
 * participant an alert's evidence names gets that alert in plain words, a participant
 * with no entry an honest "no data" report, a forgotten one an "erased" one, and no key,
 * a key of the wrong role or a daemon that is down leave no file.
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
#include <sodium.h>

#include "subject.h"
#include "testutil.h"
#include "sim_day.h"

#define ORIGIN "subject-test.saksi.example/log"
#define MAXEV 20000
#define SEED "11"

struct day {
	struct sim_ev ev[MAXEV];
	size_t n;
};

/* The simulated day and the daemon: stopped by the teardown if an assertion left it. */
static struct day g_day;

static void
load_day(struct day *d, const char *path)
{
	d->n = 0;
	sim_day_load(path, NULL, d->ev, MAXEV, &d->n);
}

static const char *
pv(const struct sim_ev *e, const char *m)
{
	return json_string_value(json_object_get(e->payload, m));
}

/* ---- the participant's story, from what was submitted ---- */

struct story {
	const char *nik;
	unsigned char *in;        /* in[i]: day event i is theirs */
	size_t n;
	size_t ntypes;
	char types[64][64];
	size_t counts[64];
};

/* Their NIK's events, then every event naming a claim or booking those name (one level,
 * as a timeline follows them). */
static void
story_of(const struct day *d, const char *nik, struct story *s)
{
	const char *ids[256];
	size_t nids = 0;

	memset(s, 0, sizeof(*s));
	s->nik = nik;
	s->in = calloc(d->n, 1);
	assert_non_null(s->in);
	for (size_t i = 0; i < d->n; i++) {
		const char *v = pv(&d->ev[i], "nik");

		if (v == NULL || strcmp(v, nik) != 0)
			continue;
		s->in[i] = 1;
		for (int k = 0; k < 2; k++) {
			const char *id = pv(&d->ev[i], k ? "booking_id" : "claim_id");

			if (id != NULL && nids < 256)
				ids[nids++] = id;
		}
	}
	for (size_t i = 0; i < d->n; i++)
		for (size_t j = 0; j < nids && !s->in[i]; j++) {
			const char *c = pv(&d->ev[i], "claim_id"), *b = pv(&d->ev[i], "booking_id");

			if ((c != NULL && strcmp(c, ids[j]) == 0) ||
			    (b != NULL && strcmp(b, ids[j]) == 0))
				s->in[i] = 1;
		}
	for (size_t i = 0; i < d->n; i++) {
		size_t k;

		if (!s->in[i])
			continue;
		s->n++;
		for (k = 0; k < s->ntypes && strcmp(s->types[k], d->ev[i].type) != 0; k++)
			;
		if (k == s->ntypes) {
			assert_true(s->ntypes < 64);
			snprintf(s->types[s->ntypes++], 64, "%s", d->ev[i].type);
		}
		s->counts[k]++;
	}
}

/* ---- the grep ---- */

/*
 * Every NIK, KPJ, phone and account number of the day that the subject's own entries do
 * not hold (the entries of theirs in which no other NIK appears): other people's data.
 */
static void
others_of(const struct day *d, const struct story *s, struct tu_secrets *out)
{
	static const char *const members[] = { "nik", "kpj", "phone", "bank_account" };
	char **own = NULL;
	size_t nown = 0;

	memset(out, 0, sizeof(*out));
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < d->n; i++) {
			const char *nk = pv(&d->ev[i], "nik");
			int mine = s->in[i] && (nk == NULL || strcmp(nk, s->nik) == 0);

			for (size_t m = 0; m < 4; m++) {
				const char *v = pv(&d->ev[i], members[m]);
				char dg[64];
				size_t k;

				if (v == NULL)
					continue;
				tu_digits(v, dg, sizeof(dg));
				if (strlen(dg) < 8)
					continue;
				if (pass == 0 && mine) {
					own = realloc(own, (nown + 1) * sizeof(*own));
					own[nown++] = strdup(dg);
				}
				if (pass == 1 && !mine) {
					for (k = 0; k < nown && strcmp(own[k], dg) != 0; k++)
						;
					if (k < nown)
						continue;
					tu_secret_add(out, v);
				}
			}
		}
	for (size_t k = 0; k < nown; k++)
		free(own[k]);
	free(own);
}

static const char *
find_any(const struct tu_secrets *s, const char *text)
{
	for (size_t i = 0; i < s->n; i++)
		if (strstr(text, s->v[i]) != NULL)
			return s->v[i];
	return NULL;
}

/* ---- running ---- */

static const char *
pth(struct scratch *f, const char *name, char *buf)
{
	path_in(f->dir, name, buf, 256);
	return buf;
}

/* The report of nik (written to file out, text, English unless lang is given). */
static char *
report(struct scratch *f, const char *nik, const char *conf, const char *key,
       const char *out, const char *lang, const char *format, int want)
{
	char nikfile[256];
	struct run r;
	char *text = NULL;

	spit(pth(f, "subject.nik", nikfile), nik, strlen(nik));
	RUN_IN(f, &r, want, nikfile, "subject-report", "--config", conf, "--nik", "-", "-k",
	    key, "-o", out, "--lang", lang, "--format", format, "--case", "PDP-2026-0007",
	    "--tz", "WITA", "--timeout", "20000");
	/* The values are never printed. */
	assert_null(strstr(r.err, nik));
	assert_null(strstr(r.out, nik));
	if (want == 0) {
		assert_non_null(strstr(r.err, "access logged as entry"));
		text = slurp(out, NULL);
	} else {
		assert_int_equal(access(out, F_OK), -1);   /* no report */
	}
	run_free(&r);
	unlink(nikfile);
	return text;
}

/* The "[entry I, TYPE]" marks of the records section, in order. */
static size_t
entries_in(const char *text, uint64_t *idx, char types[][64], size_t max)
{
	const char *sec = strstr(text, "1. Records about you"), *end;
	size_t n = 0;

	assert_non_null(sec);
	end = strstr(sec, "2. Who looked at your data");
	assert_non_null(end);
	for (const char *p = sec; (p = strstr(p, "[entry ")) != NULL && p < end; p++) {
		unsigned long long i;
		char t[64];

		assert_int_equal(sscanf(p, "[entry %llu, %63[a-z0-9_.]]", &i, t), 2);
		assert_true(n < max);
		idx[n] = i;
		snprintf(types[n++], 64, "%s", t);
	}
	return n;
}

/* The last access entry in the ledger. */
static json_t *
last_access(struct scratch *f, const char *conf)
{
	struct run r;
	json_t *root, *arr, *e;

	RUN(f, &r, 0, "query", "--config", conf, "--type", "supervisor.access.logged",
	    "--json", "--limit", "1000");
	root = json_loads(r.out, 0, NULL);
	assert_non_null(root);
	arr = json_object_get(root, "entries");
	assert_true(json_array_size(arr) > 0);
	e = json_incref(json_array_get(arr, json_array_size(arr) - 1));
	json_decref(root);
	run_free(&r);
	return e;
}

static size_t
count_of(const char *text, const char *what)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

/* The NIK of the participant whose booking the leaf at idx is (a booking.created). */
static const char *
nik_of_leaf(struct scratch *f, const char *ledger, uint64_t idx)
{
	char s[32];
	struct run r;
	json_t *root;
	const char *bk, *nik = NULL;

	snprintf(s, sizeof(s), "%llu", (unsigned long long)idx);
	RUN(f, &r, 0, "get", "--ledger", ledger, s, "--json");
	root = json_loads(r.out, 0, NULL);
	assert_non_null(root);
	bk = json_string_value(json_object_get(json_object_get(json_object_get(root,
	    "envelope"), "payload"), "booking_id"));
	for (size_t i = 0; bk != NULL && i < g_day.n && nik == NULL; i++)
		if (strcmp(g_day.ev[i].type, "queue.booking.created") == 0 &&
		    strcmp(pv(&g_day.ev[i], "booking_id"), bk) == 0)
			nik = pv(&g_day.ev[i], "nik");
	json_decref(root);
	run_free(&r);
	return nik;
}

static void
test_day(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char vkey[512], start_day[16], url[300], sock[300];
	char conf[256], sup[256], sup_pub[256], kiosk[256], kiosk_pub[256], stray[256],
	    stray_pub[256], spv2[256], spv2_pub[256], kr[256], dayf[256], log[256],
	    ledger[256], out[256], box[256], tmp[256];
	const char *nik = NULL, *booking = NULL, *officer = NULL, *nik_b = NULL,
	    *forget_nik = NULL;
	char *text;
	struct story st;
	struct tu_secrets others;
	uint64_t idx[2048];
	char types[2048][64];
	size_t n, best = 0;
	json_t *acc;

	need_built(SAKSI, SAKSID);
	sim_start_day(start_day, SEED);

	state_init(SAKSI, f, ORIGIN, vkey, sizeof(vkey));
	pth(f, "st/saksid.conf", conf);
	pth(f, "st/keyring.json", kr);
	pth(f, "saksid.log", log);
	pth(f, "st/ledger", ledger);
	pth(f, "st/box.pub", box);
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only");
	run_free(&r);
	key_enrol(SAKSI, f, kr, pth(f, "sup.key", sup), pth(f, "sup.pub", sup_pub), "spi-1",
	    "supervisor", "*");
	key_enrol(SAKSI, f, kr, pth(f, "spv2.key", spv2), pth(f, "spv2.pub", spv2_pub), "spi-2",
	    "supervisor", "*");
	key_enrol(SAKSI, f, kr, pth(f, "kiosk.key", kiosk), pth(f, "kiosk.pub", kiosk_pub),
	    "kiosk-x", "queue", "KC-MAKASSAR");
	/* A key in no keyring. */
	RUN(f, &r, 0, "keygen", "--kind", "sign", "-o", pth(f, "stray.key", stray), "--pub",
	    pth(f, "stray.pub", stray_pub), "--no-passphrase");
	run_free(&r);

	RUN(f, &r, 0, "simulate", "--dry-run", "--out", pth(f, "day.jsonl", dayf), "--seed",
	    SEED, "--start", start_day, "--branches", "1", "--days", "1");
	run_free(&r);
	load_day(&g_day, dayf);
	assert_true(g_day.n > 1000);

	/* saksid's own key for remote looks' access entries (FORMATS.md 3.4). */
	key_enrol(SAKSI, f, kr, pth(f, "access.key", tmp), pth(f, "access.pub", out),
	    "saksid-access", "supervisor", "*");
	{
		FILE *c = fopen(conf, "a");

		assert_non_null(c);
		fprintf(c, "access_key = %s\n", tmp);
		assert_int_equal(fclose(c), 0);
	}
	state_listen(f, url, sizeof(url), sock, sizeof(sock));
	saksid_start(SAKSID, f, "-d", conf, sock, log, O_APPEND);
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--seed", SEED, "--start", start_day,
	    "--branches", "1", "--days", "1", "--batch", "256", "--window", "3600000");
	run_free(&r);

	/* The subject: the participant with the longest story who claimed and was called. */
	for (size_t i = 0; i < g_day.n; i++) {
		struct story s;
		const char *v = pv(&g_day.ev[i], "nik"), *bk = pv(&g_day.ev[i], "booking_id");

		if (strcmp(g_day.ev[i].type, "claim.submitted") != 0 || v == NULL || bk == NULL)
			continue;
		story_of(&g_day, v, &s);
		for (size_t j = 0; j < g_day.n; j++)
			if (s.in[j] && strcmp(g_day.ev[j].type, "queue.called") == 0 &&
			    s.n > best) {
				best = s.n;
				nik = v;
				booking = bk;
				officer = pv(&g_day.ev[j], "officer_id");
			}
		free(s.in);
	}
	assert_non_null(nik);
	assert_non_null(officer);
	story_of(&g_day, nik, &st);
	print_message("the subject has %zu entries of %zu types\n", st.n, st.ntypes);

	/* Looks at them: by NIK, by their booking, by an officer who served them; and a
	 * look at nobody in particular. */
	RUN(f, &r, 0, "query", "--config", conf, "--nik", nik, "-k", sup, "--json");
	run_free(&r);
	RUN(f, &r, 0, "query", "--config", conf, "--booking", booking, "-k", sup, "--reveal",
	    "--json");
	run_free(&r);
	RUN(f, &r, 0, "query", "--config", conf, "--officer", officer, "-k", sup, "--reveal",
	    "--limit", "100000", "--json");
	run_free(&r);
	RUN(f, &r, 0, "query", "--config", conf, "--type", "staff.login", "-k", sup,
	    "--reveal", "--json");
	run_free(&r);
	/* From a supervisor's own machine (wire op 7): saksid writes the access entry. */
	RUN(f, &r, 0, "query", "--remote", url, "-k", sup, "--box-pub", box, "--vkey", vkey,
	    "--nik", nik, "--json");
	run_free(&r);
	/* The engine's own list of their entries (one more look by NIK). */
	RUN(f, &r, 0, "timeline", "--config", conf, "--nik", nik, "-k", sup, "--json",
	    "--limit", "100000");
	{
		json_t *root = json_loads(r.out, 0, NULL), *arr;

		assert_non_null(root);
		arr = json_object_get(root, "entries");
		assert_int_equal(json_array_size(arr), st.n);
		for (size_t i = 0; i < json_array_size(arr); i++)
			idx[i] = (uint64_t)json_integer_value(json_object_get(json_array_get(arr,
			    i), "index"));
		json_decref(root);
	}
	run_free(&r);

	/* The report. */
	text = report(f, nik, conf, sup, pth(f, "report.txt", out), "en", "text", 0);
	{
		uint64_t got[2048];
		char want_n[64];

		snprintf(want_n, sizeof(want_n), "Number of records: %zu\n", st.n);
		assert_non_null(strstr(text, want_n));
		n = entries_in(text, got, types, 2048);
		assert_int_equal(n, st.n);
		/* The same leaves as the timeline, each once. */
		for (size_t i = 0; i < n; i++) {
			size_t j;

			for (j = 0; j < st.n && idx[j] != got[i]; j++)
				;
			if (j == st.n)
				fail_msg("entry %llu is in the report but not the timeline",
				    (unsigned long long)got[i]);
			for (j = i + 1; j < n; j++)
				assert_true(got[j] != got[i]);
		}
		/* As many of each type as were submitted. */
		for (size_t k = 0; k < st.ntypes; k++) {
			size_t c = 0;

			for (size_t i = 0; i < n; i++)
				c += strcmp(types[i], st.types[k]) == 0;
			if (c != st.counts[k])
				fail_msg("%zu %s in the report, %zu submitted", c, st.types[k],
				    st.counts[k]);
		}
	}
	/* Their own values are there (so the grep below can see), and nobody else's. */
	assert_non_null(strstr(text, nik));
	others_of(&g_day, &st, &others);
	assert_true(others.n > 100);
	if (find_any(&others, text) != NULL)
		fail_msg("the report holds another participant's number");
	/* The looks: by NIK three times, by booking, by the officer; not staff.login. */
	assert_non_null(strstr(text, "Number of looks: 5\n"));
	assert_int_equal(count_of(text, "a search by your data"), 3);
	/* Who looked, the remote one too: the supervisor, not saksid's access key. */
	assert_int_equal(count_of(text, " by spi-1 ("), 5);
	assert_int_equal(count_of(text, "a search by your claim or booking number"), 1);
	assert_int_equal(count_of(text, "its results held your records"), 1);
	assert_non_null(strstr(text, "Article 32"));
	assert_non_null(strstr(text, "How to ask for a correction"));
	assert_non_null(strstr(text, "No erasure of your data is recorded."));
	assert_non_null(strstr(text, " WITA"));
	free(text);

	/* The access entry came first: the supervisor's, naming a token, revealed. */
	acc = last_access(f, conf);
	{
		json_t *p = json_object_get(acc, "payload");

		assert_string_equal(json_string_value(json_object_get(p, "command")),
		    "subject-report");
		assert_true(json_is_true(json_object_get(p, "revealed")));
		assert_true(json_is_true(json_object_get(p, "personal_filter")));
		assert_int_equal(json_integer_value(json_object_get(p, "results")), st.n);
		assert_int_equal(json_integer_value(json_object_get(p, "participants")),
		    st.n > 0 ? 1 : 0);
		assert_string_equal(json_string_value(json_object_get(p, "case_ref")),
		    "PDP-2026-0007");
		assert_true(strncmp(json_string_value(json_object_get(p, "filter")), "nik=",
		    4) == 0);
		assert_null(strstr(json_string_value(json_object_get(p, "filter")), nik));
	}
	json_decref(acc);

	/* With their KPJ as well: the same entries (each once), both tokens in the filter;
	 * a KPJ that is not one is refused without being echoed. */
	{
		const char *kpj = NULL;
		char nikfile[256], want_n[64];

		for (size_t i = 0; i < g_day.n && kpj == NULL; i++)
			if (pv(&g_day.ev[i], "nik") != NULL &&
			    strcmp(pv(&g_day.ev[i], "nik"), nik) == 0)
				kpj = pv(&g_day.ev[i], "kpj");
		assert_non_null(kpj);
		spit(pth(f, "k.nik", nikfile), nik, strlen(nik));
		RUN_IN(f, &r, 0, nikfile, "subject-report", "--config", conf, "--nik", "-",
		    "--kpj", kpj, "-k", sup, "-o", pth(f, "kpj.txt", tmp), "--lang", "en",
		    "--format", "text");
		run_free(&r);
		text = slurp(tmp, NULL);
		snprintf(want_n, sizeof(want_n), "Number of records: %zu\n", st.n);
		assert_non_null(strstr(text, want_n));
		free(text);
		acc = last_access(f, conf);
		assert_non_null(strstr(json_string_value(json_object_get(json_object_get(acc,
		    "payload"), "filter")), ",kpj="));
		json_decref(acc);
		RUN_IN(f, &r, 2, nikfile, "subject-report", "--config", conf, "--nik", "-",
		    "--kpj", "1234", "-k", sup, "-o", pth(f, "badkpj.txt", tmp));
		assert_non_null(strstr(r.err, "not a valid KPJ"));
		assert_null(strstr(r.err, "1234"));
		assert_int_equal(access(tmp, F_OK), -1);
		run_free(&r);
		RUN(f, &r, 2, "subject-report", "--config", conf, "--nik", "737105", "-k", sup,
		    "-o", tmp);
		assert_non_null(strstr(r.err, "not a valid NIK"));
		assert_null(strstr(r.err, "737105"));
		run_free(&r);
		unlink(nikfile);
	}

	/* In Bahasa Indonesia, as HTML: the same entries, self-contained, nobody else. */
	text = report(f, nik, conf, sup, pth(f, "laporan.html", tmp), "id", "html", 0);
	assert_true(strncmp(text, "<!DOCTYPE html>", 15) == 0);
	assert_non_null(strstr(text, "1. Catatan tentang Anda"));
	{
		char *sec = strstr(text, "1. Catatan tentang Anda"), *end;

		end = strstr(sec, "2. Siapa yang melihat data Anda");
		assert_non_null(end);
		*end = '\0';
		assert_int_equal(count_of(sec, "[entri "), st.n);
		*end = '2';
	}
	assert_null(strstr(text, "http:"));
	assert_null(strstr(text, "https:"));
	assert_null(strstr(text, "src="));
	if (find_any(&others, text) != NULL)
		fail_msg("the HTML report holds another participant's number");
	/* The earlier report is one more look. */
	assert_non_null(strstr(text, "laporan subjek data seperti ini"));
	free(text);
	tu_secrets_free(&others);
	free(st.in);

	/* A participant an alert's evidence names: the alert in plain words. */
	{
		json_t *first = NULL;
		char *list;
		char want[300];

		RUN(f, &r, 0, "alerts", "list", "--ledger", ledger, "--json");
		list = r.out;
		for (char *l = list; *l != '\0' && nik_b == NULL; l = strchr(l, '\n') + 1) {
			json_t *a = json_loads(l, JSON_DISABLE_EOF_CHECK, NULL), *evd;

			if (a == NULL)
				break;
			evd = json_object_get(a, "evidence");
			if (strcmp(json_string_value(json_object_get(a, "kind")), "rule") == 0 &&
			    json_array_size(evd) > 0)
				nik_b = nik_of_leaf(f, ledger,
				    (uint64_t)json_integer_value(json_array_get(evd, 0)));
			if (nik_b != NULL)
				first = json_incref(a);
			json_decref(a);
			if (strchr(l, '\n') == NULL)
				break;
		}
		run_free(&r);
		assert_non_null(nik_b);
		text = report(f, nik_b, conf, sup, pth(f, "b.txt", tmp), "en", "text", 0);
		snprintf(want, sizeof(want), "%s (severity ", saksi_subject_rule(SAKSI_LANG_EN,
		    json_string_value(json_object_get(first, "rule")), NULL));
		if (strstr(text, want) == NULL)
			fail_msg("no \"%s\" in:\n%s", want, strstr(text, "3. Anti-fraud"));
		snprintf(want, sizeof(want), "[alert %lld, entry %lld]",
		    (long long)json_integer_value(json_object_get(first, "id")),
		    (long long)json_integer_value(json_object_get(first, "entry")));
		assert_non_null(strstr(text, want));
		/* Rule ids and blind tokens stay out. */
		assert_null(strstr(text, json_string_value(json_object_get(first, "group"))));
		json_decref(first);
		free(text);
	}

	/* Nobody: an honest "no data" report, logged with 0 results. */
	{
		const char *nobody = "3171010101900099";

		for (size_t i = 0; i < g_day.n; i++) {
			const char *v = pv(&g_day.ev[i], "nik");

			assert_true(v == NULL || strcmp(v, nobody) != 0);
		}
		text = report(f, nobody, conf, sup, pth(f, "nobody.txt", tmp), "en", "text", 0);
		assert_non_null(strstr(text, "There is no record about you in this ledger"));
		assert_null(strstr(text, "Number of records"));
		assert_non_null(strstr(text, "There is no record of anyone searching"));
		assert_non_null(strstr(text, "No anti-fraud alert involved your records."));
		free(text);
		acc = last_access(f, conf);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(acc,
		    "payload"), "results")), 0);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(acc,
		    "payload"), "participants")), 0);
		json_decref(acc);
	}

	/* Refused: a key of the wrong role, a key in no keyring. No file either time. */
	text = report(f, nik, conf, kiosk, pth(f, "kiosk.txt", tmp), "en", "text", 1);
	text = report(f, nik, conf, stray, pth(f, "stray.txt", tmp), "en", "text", 1);

	/* Forgotten: a look found them once; now nothing links, and the report says why. */
	for (size_t i = 0; i < g_day.n && forget_nik == NULL; i++) {
		const char *v = pv(&g_day.ev[i], "nik");

		if (v != NULL && strcmp(v, nik) != 0 && (nik_b == NULL || strcmp(v, nik_b) != 0) &&
		    strcmp(g_day.ev[i].type, "queue.booking.created") == 0)
			forget_nik = v;
	}
	assert_non_null(forget_nik);
	RUN(f, &r, 0, "query", "--config", conf, "--nik", forget_nik, "-k", sup, "--json");
	run_free(&r);
	spit(pth(f, "forget.nik", tmp), forget_nik, strlen(forget_nik));
	RUN_IN(f, &r, 0, tmp, "forget", "--nik", "-", "--url", url, "-k", spv2, "--box-pub",
	    box, "--vkey", vkey, "--seq", "1", "--branch", "KP-PUSAT", "--officer", "SPI-02",
	    "--reason", "subject_request");
	run_free(&r);
	unlink(tmp);
	text = report(f, forget_nik, conf, sup, pth(f, "forgotten.txt", tmp), "en", "text", 0);
	assert_non_null(strstr(text, "No record in this ledger can be linked to you any more"));
	assert_null(strstr(text, "There is no record about you in this ledger"));
	assert_non_null(strstr(text, "most likely erased"));
	assert_non_null(strstr(text, "a search by your data"));
	free(text);

	/* The ledger with its access entries verifies. */
	RUN(f, &r, 0, "verify", "--ledger", ledger, "--vkey", vkey, "--keyring", kr);
	assert_non_null(strstr(r.out, "ledger intact"));
	run_free(&r);

	/* saksid down: no receipt, no report. */
	saksid_stop(f);
	{
		char nikfile[256];

		spit(pth(f, "down.nik", nikfile), nik, strlen(nik));
		RUN_IN(f, &r, 2, nikfile, "subject-report", "--config", conf, "--nik", "-", "-k",
		    sup, "-o", pth(f, "down.html", tmp), "--timeout", "2000");
		assert_non_null(strstr(r.err, "no report written"));
		assert_int_equal(access(tmp, F_OK), -1);
		run_free(&r);
	}
	sim_day_free(g_day.ev, g_day.n);
}

static void
test_usage(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char out[256];

	if (access(SAKSI, X_OK) != 0) {
		print_message("saksi is not built here; skipping\n");
		skip();
	}
	pth(f, "r.html", out);
	/* No key: no report, said before anything is opened. */
	RUN(f, &r, 2, "subject-report", "--nik", "7371014101900001", "-o", out);
	assert_non_null(strstr(r.err, "supervisor's key"));
	assert_null(strstr(r.err, "7371014101900001"));
	run_free(&r);
	RUN(f, &r, 2, "subject-report", "-k", "x.key", "-o", out);
	assert_non_null(strstr(r.err, "--nik"));
	run_free(&r);
	RUN(f, &r, 2, "subject-report", "--nik", "7371014101900001", "-k", "x.key");
	assert_non_null(strstr(r.err, "-o FILE"));
	run_free(&r);
	RUN(f, &r, 2, "subject-report", "--nik", "7371014101900001", "-k", "x.key", "-o",
	    out, "--lang", "fr");
	run_free(&r);
	RUN(f, &r, 2, "subject-report", "--nik", "7371014101900001", "-k", "x.key", "-o",
	    out, "--tz", "CET");
	run_free(&r);
	RUN(f, &r, 2, "subject-report", "--nik", "7371014101900001", "-k", "x.key", "-o",
	    out, "--format", "pdf");
	run_free(&r);
	RUN(f, &r, 2, "subject-report", "--nik", "7371014101900001", "-k", "x.key", "-o",
	    out, "--case", "bad case");
	run_free(&r);
	RUN(f, &r, 2, "subject-report", "--nik", "-", "--kpj", "-", "-k", "x.key", "-o", out);
	run_free(&r);
	RUN(f, &r, 2, "subject-report", "--nik", "7371014101900001", "-k", "x.key", "-o",
	    out, "extra");
	run_free(&r);
	/* Never over an existing file. */
	spit(out, "keep", 4);
	RUN(f, &r, 2, "subject-report", "--nik", "7371014101900001", "-k", "x.key", "-o", out);
	assert_non_null(strstr(r.err, "exists"));
	run_free(&r);
	{
		char *kept = slurp(out, NULL);

		assert_string_equal(kept, "keep");
		free(kept);
	}
	unlink(out);
	RUN(f, &r, 2, "subject-report", "--config", "/nonexistent/saksid.conf", "--nik",
	    "7371014101900001", "-k", "x.key", "-o", out);
	assert_int_equal(access(out, F_OK), -1);
	run_free(&r);
}

static int
setup(void **state)
{
	return scratch_setup(state, "subject");
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
