/*
 * bundle_cli_test.c: saksi bundle and saksi verify-bundle end to end, with the real saksid
 * over a simulated branch day: a case by alert (sealed to a recipient), by a NIK
 * (decrypted), by officer and time; every export logged as an access entry first; the
 * bundles verified offline, also against a newer checkpoint; tampered copies failing with
 * the entry named; a forgotten participant's entries exported without disclosures; and a
 * grep: the sealed bundle holds no personal number of the day in clear, the decrypted one
 * only the case's participant's.
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
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>

#include "ledger.h"
#include "rules.h"
#include "verify.h"
#include "testutil.h"
#include "sim_day.h"
#include "ledger_fixture.h"

#define ORIGIN "bundle-test.saksi.example/log"
#define MAXEV 20000

static struct sim_ev *g_ev;
static size_t g_nev;
/* The log's verifier key, for test_interop, once test_bundle has made the bundles. */
static char g_vkey[512];

static const char *const personal_members[] = { "nik", "kpj", "phone", "bank_account" };

/* The day's secrets; with `only` (a NIK) those of that participant's events, with `but`
 * those of everyone else's events minus the ones `but`'s events also hold. */
static void
secrets_of(struct tu_secrets *s, const char *only, const char *but)
{
	struct tu_secrets mine;

	memset(s, 0, sizeof(*s));
	memset(&mine, 0, sizeof(mine));
	for (size_t i = 0; i < g_nev; i++) {
		const char *nik = json_string_value(json_object_get(g_ev[i].payload, "nik"));
		int his = nik != NULL && ((only != NULL && strcmp(nik, only) == 0) ||
		    (but != NULL && strcmp(nik, but) == 0));

		if (only != NULL && !his)
			continue;
		for (size_t k = 0; k < 4; k++)
			tu_secret_add(his && but != NULL ? &mine : s, json_string_value(
			    json_object_get(g_ev[i].payload, personal_members[k])));
	}
	qsort(s->v, s->n, sizeof(char *), tu_str_cmp);
	if (but != NULL) {
		size_t o = 0;

		/* A shared phone or account is his too: not someone else's leak. */
		qsort(mine.v, mine.n, sizeof(char *), tu_str_cmp);
		for (size_t i = 0; i < s->n; i++) {
			if (bsearch(&s->v[i], mine.v, mine.n, sizeof(char *), tu_str_cmp) != NULL)
				free(s->v[i]);
			else
				s->v[o++] = s->v[i];
		}
		s->n = o;
		for (size_t i = 0; i < mine.n; i++)
			free(mine.v[i]);
		free(mine.v);
	}
}

/* The first secret in buf (every digit window of a secret's length), or NULL. The
 * disclosures in a bundle are base64url: decode them first (decoded_text). */
static const char *
find_secret(const struct tu_secrets *s, const char *buf, size_t len)
{
	return tu_find_secret(s->v, s->n, s->lens, s->nlens, buf, len);
}

/* The bundle's text with every disclosure decoded to its JSON [salt, name, value]
 * appended, so that a grep sees the values a reader of the bundle would. */
static char *
decoded_text(const char *text, size_t *len)
{
	json_t *root = json_loads(text, 0, NULL), *e, *d;
	size_t i, k, n = strlen(text), cap = 2 * n + 1;
	char *out = malloc(cap);

	assert_non_null(root);
	memcpy(out, text, n);
	json_array_foreach(json_object_get(root, "entries"), i, e)
		json_array_foreach(json_object_get(e, "disclosures"), k, d) {
			const char *s = json_string_value(d);
			unsigned char bin[1024];
			size_t bl;

			assert_int_equal(sodium_base642bin(bin, sizeof(bin), s, strlen(s), NULL, &bl,
			    NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
			assert_true(n + bl + 1 < cap);
			out[n++] = '\n';
			memcpy(out + n, bin, bl);
			n += bl;
		}
	out[n] = '\0';
	json_decref(root);
	*len = n;
	return out;
}

static void
load_day(const char *path)
{
	g_ev = calloc(MAXEV, sizeof(*g_ev));
	assert_non_null(g_ev);
	g_nev = 0;
	sim_day_load(path, NULL, g_ev, MAXEV, &g_nev);
}

static void
free_day(void)
{
	sim_day_free(g_ev, g_nev);
	free(g_ev);
	g_ev = NULL;
	g_nev = 0;
}

static size_t
count_nik(const char *nik)
{
	size_t n = 0;

	for (size_t i = 0; i < g_nev; i++) {
		const char *v = json_string_value(json_object_get(g_ev[i].payload, "nik"));

		n += v != NULL && strcmp(v, nik) == 0;
	}
	return n;
}

/* A NIK with at least min events (and a booking), not `not`. */
static const char *
pick_nik(size_t min, const char *not)
{
	for (size_t i = 0; i < g_nev; i++) {
		const char *v = json_string_value(json_object_get(g_ev[i].payload, "nik"));

		if (v != NULL && (not == NULL || strcmp(v, not) != 0) &&
		    strcmp(g_ev[i].type, "queue.booking.created") == 0 && count_nik(v) >= min)
			return v;
	}
	return NULL;
}

/* An alert of kind 1-3 with at least two evidence entries: its id. */
static uint64_t
pick_alert(const char *ledger_dir, uint64_t *entry, uint32_t *nevidence)
{
	saksi_ledger *l;
	saksi_ledger_txn *t;
	saksi_alert *a = malloc(sizeof(*a));
	uint64_t id = 0;

	l = lf_open_ro(ledger_dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	for (uint64_t i = 0; i < saksi_ledger_size(t) && id == 0; i++) {
		saksi_leaf lf;
		uint8_t *leaf;
		size_t len;

		assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &len), SAKSI_OK);
		assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
		if (lf.lf_kind == SAKSI_LEAF_ALERT &&
		    saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, a) == SAKSI_OK &&
		    a->al_kind >= 1 && a->al_kind <= 3 && a->al_nevidence >= 2) {
			id = a->al_id;
			*entry = i;
			*nevidence = a->al_nevidence;
		}
		free(leaf);
	}
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	free(a);
	return id;
}

/* The participants the last bundle access entry says it revealed (-1: no member). */
static json_int_t g_bundle_participants;

/* The number of access entries by saksi bundle so far. */
static size_t
count_bundle_access(struct scratch *f)
{
	struct run r;
	json_t *root, *e;
	size_t i, n = 0;

	RUN(f, &r, 0, "query", "--config", P(f, 1, "st/saksid.conf"), "--type",
	    "supervisor.access.logged", "--json", "--limit", "1000");
	root = json_loads(r.out, 0, NULL);
	assert_non_null(root);
	json_array_foreach(json_object_get(root, "entries"), i, e) {
		const char *c = json_string_value(json_object_get(json_object_get(e, "payload"),
		    "command"));

		if (c != NULL && strcmp(c, "bundle") == 0) {
			json_t *np = json_object_get(json_object_get(e, "payload"),
			    "participants");

			g_bundle_participants = json_is_integer(np) ? json_integer_value(np) : -1;
			n++;
		}
	}
	json_decref(root);
	run_free(&r);
	return n;
}

/* ---- tampering with a bundle file ---- */

static json_t *
entry_at(json_t *root, size_t pos)
{
	return json_array_get(json_object_get(root, "entries"), pos);
}

static uint64_t
index_at(json_t *root, size_t pos)
{
	return (uint64_t)json_integer_value(json_object_get(entry_at(root, pos), "index"));
}

/* The first entry position with plain disclosures, from `from` on. */
static size_t
disc_pos(json_t *root, size_t from)
{
	for (size_t i = from; i < json_array_size(json_object_get(root, "entries")); i++)
		if (json_object_get(entry_at(root, i), "disclosures") != NULL)
			return i;
	fail_msg("no entry with disclosures after %zu", from);
	return 0;
}

/* Flips one bit of base64 text s (a standard base64 string), keeping it canonical. */
static json_t *
flip_b64(const char *s, size_t byte)
{
	size_t n = strlen(s), bl;
	unsigned char *bin = malloc(n);
	char *out = malloc(n + 4);
	json_t *j;

	assert_int_equal(sodium_base642bin(bin, n, s, n, NULL, &bl, NULL,
	    sodium_base64_VARIANT_ORIGINAL), 0);
	bin[byte % bl] ^= 0x01;
	sodium_bin2base64(out, n + 4, bin, bl, sodium_base64_VARIANT_ORIGINAL);
	j = json_string(out);
	free(bin);
	free(out);
	return j;
}

/* Writes root to path, runs verify-bundle on it: exit 1 and "entry N:" (N = want, or
 * none when want is UINT64_MAX) in its message. */
static void
verify_fails(struct scratch *f, json_t *root, const char *vkey, uint64_t want,
             const char *what)
{
	char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER), needle[48];
	struct run r;

	spit(P(f, 12, "tampered.bundle"), text, strlen(text));
	free(text);
	RUN(f, &r, 1, "verify-bundle", f->path[12], "--vkey", vkey, "--keyring",
	    P(f, 10, "st/keyring.json"));
	if (want != UINT64_MAX) {
		snprintf(needle, sizeof(needle), "entry %llu", (unsigned long long)want);
		if (strstr(r.err, needle) == NULL)
			fail_msg("%s: the failure does not name %s: %s", what, needle, r.err);
	}
	print_message("%s: %s", what, r.err);
	run_free(&r);
	json_decref(root);
}

/* A disclosure in the bundle at `from` that the text `not` does not hold: someone
 * else's, outside the case of `not`. malloc'd. */
static char *
stranger_disclosure(const char *from, const char *not)
{
	char *text = slurp(from, NULL), *out = NULL;
	json_t *root = json_loads(text, 0, NULL), *e, *d;
	size_t i, k;

	assert_non_null(root);
	json_array_foreach(json_object_get(root, "entries"), i, e)
		json_array_foreach(json_object_get(e, "disclosures"), k, d)
			if (out == NULL && strstr(not, json_string_value(d)) == NULL)
				out = strdup(json_string_value(d));
	assert_non_null(out);
	json_decref(root);
	free(text);
	return out;
}

static void
tamper(struct scratch *f, const char *bundle, const char *vkey, const char *other_bundle)
{
	char *text = slurp(bundle, NULL);
	json_t *root, *e, *d;
	size_t p, q;

#define FRESH() do { root = json_loads(text, 0, NULL); assert_non_null(root); } while (0)
	/* A byte of a leaf. */
	FRESH();
	p = 1;
	e = entry_at(root, p);
	json_object_set_new(e, "leaf", flip_b64(json_string_value(json_object_get(e, "leaf")),
	    60));
	verify_fails(f, root, vkey, index_at(root, p), "leaf byte");
	/* A disclosure. */
	FRESH();
	p = disc_pos(root, 0);
	d = json_object_get(entry_at(root, p), "disclosures");
	{
		char *s = strdup(json_string_value(json_array_get(d, 0)));

		s[5] = s[5] == 'A' ? 'B' : 'A';
		json_array_set_new(d, 0, json_string(s));
		free(s);
	}
	verify_fails(f, root, vkey, index_at(root, p), "disclosure byte");
	/* A hash of a proof (an entry with one). */
	FRESH();
	for (p = 0; json_array_size(json_object_get(entry_at(root, p), "proof")) == 0; p++)
		;
	d = json_object_get(entry_at(root, p), "proof");
	json_array_set_new(d, 0, flip_b64(json_string_value(json_array_get(d, 0)), 7));
	verify_fails(f, root, vkey, index_at(root, p), "proof hash");
	/* The checkpoint's signature. */
	FRESH();
	{
		char *s = strdup(json_string_value(json_object_get(root, "checkpoint")));
		char *sig = strrchr(s, ' ') + 12;

		*sig = *sig == 'A' ? 'B' : 'A';
		json_object_set_new(root, "checkpoint", json_string(s));
		free(s);
	}
	verify_fails(f, root, vkey, UINT64_MAX, "checkpoint signature");
	/* An entry dropped (not the access entry, the last). */
	FRESH();
	json_array_remove(json_object_get(root, "entries"), 0);
	verify_fails(f, root, vkey, UINT64_MAX, "entry dropped");
	/* An entry duplicated. */
	FRESH();
	json_array_insert_new(json_object_get(root, "entries"), 1,
	    json_deep_copy(entry_at(root, 1)));
	verify_fails(f, root, vkey, index_at(root, 1), "entry duplicated");
	/* Disclosures swapped between two entries. */
	FRESH();
	p = disc_pos(root, 0);
	q = disc_pos(root, p + 1);
	d = json_incref(json_object_get(entry_at(root, p), "disclosures"));
	json_object_set(entry_at(root, p), "disclosures", json_object_get(entry_at(root, q),
	    "disclosures"));
	json_object_set_new(entry_at(root, q), "disclosures", d);
	verify_fails(f, root, vkey, index_at(root, p), "disclosures swapped");
	/* Another entry's disclosure added to this one. */
	FRESH();
	p = disc_pos(root, 0);
	q = disc_pos(root, p + 1);
	json_array_append(json_object_get(entry_at(root, p), "disclosures"),
	    json_array_get(json_object_get(entry_at(root, q), "disclosures"), 0));
	verify_fails(f, root, vkey, index_at(root, p), "disclosure of another entry added");
	/* A disclosure of someone outside the case (from another case's bundle) added. */
	FRESH();
	p = disc_pos(root, 0);
	{
		char *sd = stranger_disclosure(other_bundle, text);

		json_array_append_new(json_object_get(entry_at(root, p), "disclosures"),
		    json_string(sd));
		free(sd);
	}
	verify_fails(f, root, vkey, index_at(root, p), "disclosure of someone else added");
#undef FRESH
	free(text);
}

static void
test_bundle(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char sock[256], vkey[512], start_day[16], id_s[24], idx_s[3][24], since_s[24];
	char until_s[24], *text;
	const char *nik, *officer = NULL, *other;
	struct tu_secrets all, others;
	uint64_t alert_entry = 0, alert_id, tmin = UINT64_MAX, tmax = 0;
	uint32_t nev = 0;
	size_t acc, len;

	need_built(SAKSI, SAKSID);
	sim_start_day(start_day, "17");

	state_init(SAKSI, f, ORIGIN, vkey, sizeof(vkey));
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--register-only");
	run_free(&r);
	key_enrol(SAKSI, f, P(f, 4, "st/keyring.json"), P(f, 2, "sup.key"), P(f, 3, "sup.pub"),
	    "spi-1", "supervisor", "*");
	/* The recipient (a court, the police) makes a box key and hands over its .pub. */
	RUN(f, &r, 0, "keygen", "--kind", "box", "-o", P(f, 5, "court.key"), "--pub",
	    P(f, 6, "court.pub"), "--no-passphrase");
	run_free(&r);
	RUN(f, &r, 0, "keygen", "--kind", "box", "-o", P(f, 13, "other.key"), "--pub",
	    P(f, 14, "other.pub"), "--no-passphrase");
	run_free(&r);
	/* A second supervisor, who forgets someone (step 5). */
	key_enrol(SAKSI, f, P(f, 4, "st/keyring.json"), P(f, 12, "spv2.key"),
	    P(f, 8, "spv2.pub"), "spi-2", "supervisor", "*");

	RUN(f, &r, 0, "simulate", "--dry-run", "--out", P(f, 7, "day.jsonl"), "--seed", "17",
	    "--start", start_day, "--branches", "1", "--days", "1");
	run_free(&r);
	load_day(f->path[7]);
	assert_true(g_nev > 1000);
	for (size_t i = 0; i < g_nev; i++) {
		if (g_ev[i].time_ms < tmin)
			tmin = g_ev[i].time_ms;
		if (g_ev[i].time_ms > tmax)
			tmax = g_ev[i].time_ms;
	}
	/* An officer, and his working day: step 3 takes its first half. */
	for (size_t i = 0; i < g_nev && officer == NULL; i++)
		officer = json_string_value(json_object_get(g_ev[i].payload, "officer_id"));
	assert_non_null(officer);
	tmin = UINT64_MAX;
	tmax = 0;
	for (size_t i = 0; i < g_nev; i++) {
		const char *o = json_string_value(json_object_get(g_ev[i].payload, "officer_id"));

		if (o == NULL || strcmp(o, officer) != 0)
			continue;
		tmin = g_ev[i].time_ms < tmin ? g_ev[i].time_ms : tmin;
		tmax = g_ev[i].time_ms > tmax ? g_ev[i].time_ms : tmax;
	}
	assert_non_null(officer);
	secrets_of(&all, NULL, NULL);
	assert_true(all.n > 100);

	conf_listen(P(f, 1, "st/saksid.conf"), NULL, 0, sock, sizeof(sock));
	saksid_start(SAKSID, f, "-d", f->path[1], sock, P(f, 15, "saksid.log"), O_APPEND);
	RUN(f, &r, 0, "simulate", "--state", f->path[0], "--seed", "17", "--start", start_day,
	    "--branches", "1", "--days", "1", "--batch", "256", "--window", "3600000");
	run_free(&r);

	/* Usage: no case, both or neither of --recipient/--decrypted, an empty selection. */
	RUN(f, &r, 2, "bundle", "--config", f->path[1], "--leaf", "1", "-k", f->path[2], "-o",
	    P(f, 8, "x.bundle"), "--decrypted");
	run_free(&r);
	RUN(f, &r, 2, "bundle", "--config", f->path[1], "--case", "C-1", "--leaf", "1", "-k",
	    f->path[2], "-o", f->path[8]);
	run_free(&r);
	RUN(f, &r, 2, "bundle", "--config", f->path[1], "--case", "C-1", "-k", f->path[2],
	    "-o", f->path[8], "--decrypted");
	assert_non_null(strstr(r.err, "empty case"));
	run_free(&r);
	RUN(f, &r, 2, "bundle", "--config", f->path[1], "--case", "C-1", "--leaf", "1", "-k",
	    f->path[2], "-o", f->path[8], "--recipient", f->path[3]);
	assert_non_null(strstr(r.err, "not a box key"));
	run_free(&r);
	/* A filter value the query engine refuses; a personal one never echoed. */
	RUN(f, &r, 2, "bundle", "--config", f->path[1], "--case", "C-1", "--officer", "a,b",
	    "-k", f->path[2], "-o", f->path[8], "--decrypted");
	run_free(&r);
	RUN(f, &r, 2, "bundle", "--config", f->path[1], "--case", "C-1", "--nik",
	    "73710141019000019", "-k", f->path[2], "-o", f->path[8], "--decrypted");
	assert_null(strstr(r.err, "73710141019000019"));
	run_free(&r);
	RUN(f, &r, 2, "bundle", "--config", f->path[1], "--case", "C-1", "--since", "1",
	    "-k", f->path[2], "-o", f->path[8], "--decrypted");
	run_free(&r);
	acc = count_bundle_access(f);
	assert_int_equal(acc, 0);
	/* Nothing matches: refused, nothing logged, nothing written. */
	RUN(f, &r, 1, "bundle", "--config", f->path[1], "--case", "C-1", "--claim",
	    "NO-SUCH-CLAIM", "-k", f->path[2], "-o", f->path[8], "--decrypted");
	run_free(&r);
	assert_int_equal(access(f->path[8], F_OK), -1);
	assert_int_equal(count_bundle_access(f), 0);

	/* An alert that does not exist: refused, nothing logged. */
	RUN(f, &r, 1, "bundle", "--config", f->path[1], "--case", "C-1", "--alert", "999999",
	    "-k", f->path[2], "-o", f->path[8], "--decrypted");
	assert_non_null(strstr(r.err, "no alert 999999"));
	run_free(&r);
	RUN(f, &r, 1, "bundle", "--config", f->path[1], "--case", "C-1", "--leaf", "99999999",
	    "-k", f->path[2], "-o", f->path[8], "--decrypted");
	run_free(&r);
	assert_int_equal(count_bundle_access(f), 0);

	/* 1. By alert, sealed to the court. */
	alert_id = pick_alert(P(f, 9, "st/ledger"), &alert_entry, &nev);
	assert_true(alert_id > 0);
	print_message("alert %llu at entry %llu with %u evidence entries\n",
	    (unsigned long long)alert_id, (unsigned long long)alert_entry, nev);
	snprintf(id_s, sizeof(id_s), "%llu", (unsigned long long)alert_id);
	RUN(f, &r, 0, "bundle", "--config", f->path[1], "--case", "SPI-2026-0007", "--alert",
	    id_s, "--recipient", f->path[6], "-k", f->path[2], "-o", P(f, 11, "alert.bundle"));
	assert_non_null(strstr(r.err, "access logged as entry"));
	run_free(&r);
	assert_int_equal(count_bundle_access(f), 1);
	/* The alert's people (its evidence has at least one), sealed but exported. */
	print_message("the alert's bundle reveals %lld participants\n",
	    (long long)g_bundle_participants);
	assert_true(g_bundle_participants >= 1 && g_bundle_participants <= (json_int_t)nev);
	{
		struct stat st;

		assert_int_equal(stat(f->path[11], &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	/* Offline: intact; sealed disclosures unopened without the court's key. */
	RUN(f, &r, 0, "verify-bundle", f->path[11], "--vkey", vkey, "--keyring",
	    P(f, 10, "st/keyring.json"));
	assert_non_null(strstr(r.out, "bundle intact: case SPI-2026-0007"));
	assert_non_null(strstr(r.out, "sealed and not opened"));
	assert_non_null(strstr(r.out, "exported by spi-1"));
	run_free(&r);
	RUN(f, &r, 0, "verify-bundle", f->path[11], "--vkey", vkey, "--keyring", f->path[10],
	    "-k", f->path[5], "--json");
	{
		json_t *o = json_loads(r.out, 0, NULL);

		assert_non_null(o);
		assert_true(json_is_true(json_object_get(o, "ok")));
		assert_true(json_integer_value(json_object_get(o, "alerts")) >= 1);
		assert_true(json_integer_value(json_object_get(o, "disclosed")) >= 1);
		assert_int_equal(json_integer_value(json_object_get(o, "unopened")), 0);
		/* The alert, its evidence, the access entry. */
		assert_true((uint32_t)json_integer_value(json_object_get(o, "entries")) >= nev + 2);
		json_decref(o);
	}
	run_free(&r);
	/* Another box key is not the recipient's. */
	RUN(f, &r, 2, "verify-bundle", f->path[11], "--vkey", vkey, "--keyring", f->path[10],
	    "-k", f->path[13]);
	run_free(&r);
	/* No personal number of the day in clear in a sealed bundle. */
	text = slurp(f->path[11], &len);
	assert_null(find_secret(&all, text, len));
	free(text);

	/* 2. By NIK, decrypted: that participant's values, no one else's. */
	nik = pick_nik(3, NULL);
	assert_non_null(nik);
	spit(P(f, 12, "nik.txt"), nik, strlen(nik));
	/* The NIK goes on the command line here (a test); it is never echoed. */
	RUN(f, &r, 0, "bundle", "--config", f->path[1], "--case", "SPI-2026-0008", "--nik",
	    nik, "--decrypted", "-k", f->path[2], "-o", P(f, 11, "nik.bundle"));
	assert_null(strstr(r.err, nik));
	run_free(&r);
	assert_int_equal(count_bundle_access(f), 2);
	assert_int_equal(g_bundle_participants, 1);    /* one NIK's entries: one person */
	RUN(f, &r, 0, "verify-bundle", f->path[11], "--vkey", vkey, "--keyring", f->path[10],
	    "--json");
	{
		json_t *o = json_loads(r.out, 0, NULL);

		assert_int_equal(json_integer_value(json_object_get(o, "entries")),
		    count_nik(nik) + 1);
		assert_int_equal(json_integer_value(json_object_get(o, "disclosed")),
		    count_nik(nik));
		json_decref(o);
	}
	run_free(&r);
	text = slurp(f->path[11], NULL);
	{
		char *dec = decoded_text(text, &len);

		assert_non_null(strstr(dec, nik));            /* the grep sees clear values */
		secrets_of(&others, NULL, nik);
		if (find_secret(&others, dec, len) != NULL)
			fail_msg("the decrypted bundle holds someone else's number");
		tu_secrets_free(&others);
		free(dec);
	}
	free(text);

	/* 3. By officer and time: every event of his (as officer or approver) in the first
	 * half of his day, and nothing else. */
	{
		uint64_t mid = tmin + (tmax - tmin) / 2;
		size_t want = 0;

		for (size_t i = 0; i < g_nev; i++) {
			const char *o = json_string_value(json_object_get(g_ev[i].payload,
			    "officer_id"));
			const char *a = json_string_value(json_object_get(g_ev[i].payload,
			    "approver_id"));

			want += ((o != NULL && strcmp(o, officer) == 0) ||
			    (a != NULL && strcmp(a, officer) == 0)) && g_ev[i].time_ms >= tmin &&
			    g_ev[i].time_ms <= mid;
		}
		print_message("officer %s: %zu events in the first half of his day\n", officer,
		    want);
		assert_true(want > 0);
		snprintf(since_s, sizeof(since_s), "%llu", (unsigned long long)tmin);
		snprintf(until_s, sizeof(until_s), "%llu", (unsigned long long)mid);
		RUN(f, &r, 0, "bundle", "--config", f->path[1], "--case", "SPI-2026-0009",
		    "--officer", officer, "--since", since_s, "--until", until_s, "--decrypted",
		    "-k", f->path[2], "-o", P(f, 11, "officer.bundle"));
		run_free(&r);
		RUN(f, &r, 0, "verify-bundle", f->path[11], "--vkey", vkey, "--keyring",
		    f->path[10], "--json");
		{
			json_t *o = json_loads(r.out, 0, NULL);

			assert_int_equal(json_integer_value(json_object_get(o, "entries")), want + 1);
			json_decref(o);
		}
		run_free(&r);
		RUN(f, &r, 0, "verify-bundle", f->path[11], "--vkey", vkey, "--keyring",
		    f->path[10]);
		assert_non_null(strstr(r.out, "selection officer="));
		run_free(&r);
	}
	/* Tampered copies of the NIK case's bundle (the officer's for a stranger). */
	{
		char nikb[256], offb[256];

		snprintf(nikb, sizeof(nikb), "%s", P(f, 11, "nik.bundle"));
		snprintf(offb, sizeof(offb), "%s", P(f, 11, "officer.bundle"));
		tamper(f, nikb, vkey, offb);
		P(f, 11, "officer.bundle");
	}

	/* 4. A newer checkpoint extends the bundle's. */
	RUN(f, &r, 0, "verify-bundle", f->path[11], "--vkey", vkey, "--keyring", f->path[10],
	    "--json");
	{
		json_t *o = json_loads(r.out, 0, NULL);
		unsigned long long m = (unsigned long long)json_integer_value(json_object_get(o,
		    "checkpoint_size"));

		json_decref(o);
		run_free(&r);
		/* One more export, so the log grows past the bundle's checkpoint. */
		RUN(f, &r, 0, "bundle", "--config", f->path[1], "--case", "SPI-2026-0010", "--leaf",
		    "2", "--decrypted", "-k", f->path[2], "-o", P(f, 8, "two.bundle"));
		run_free(&r);
		RUN(f, &r, 0, "checkpoint", "--ledger", f->path[9], "--vkey", vkey);
		spit(P(f, 12, "newer.note"), r.out, r.out_len);
		{
			unsigned long long n = strtoull(strchr(r.out, '\n') + 1, NULL, 10);

			run_free(&r);
			assert_true(n > m);
			snprintf(idx_s[1], sizeof(idx_s[1]), "%llu", m);
			snprintf(idx_s[2], sizeof(idx_s[2]), "%llu", n);
		}
		RUN(f, &r, 0, "prove", "consistency", "--ledger", f->path[9], idx_s[1], idx_s[2]);
		spit(P(f, 14, "cons.txt"), r.out, r.out_len);
		run_free(&r);
		RUN(f, &r, 0, "verify-bundle", f->path[11], "--vkey", vkey, "--keyring",
		    f->path[10], "--checkpoint", f->path[12], "--consistency", f->path[14]);
		assert_non_null(strstr(r.out, "extends the bundle's"));
		run_free(&r);
		/* A proof between other sizes does not do. */
		RUN(f, &r, 0, "prove", "consistency", "--ledger", f->path[9], "1", idx_s[2]);
		spit(f->path[14], r.out, r.out_len);
		run_free(&r);
		RUN(f, &r, 1, "verify-bundle", f->path[11], "--vkey", vkey, "--keyring",
		    f->path[10], "--checkpoint", f->path[12], "--consistency", f->path[14]);
		assert_non_null(strstr(r.err, "not consistent"));
		run_free(&r);
	}

	/* 5. A forgotten participant: his entries go out proved, without disclosures. */
	other = pick_nik(2, nik);
	assert_non_null(other);
	spit(P(f, 12, "other.nik"), other, strlen(other));
	{
		char url[300];

		snprintf(url, sizeof(url), "ipc://%s", sock);
		RUN_IN(f, &r, 0, f->path[12], "forget", "--nik", "-", "--url", url, "-k",
		    P(f, 13, "spv2.key"), "--box-pub", P(f, 14, "st/box.pub"), "--vkey", vkey,
		    "--seq", "1",
		    "--branch", "KP-PUSAT", "--officer", "SPI-01", "--reason", "subject_request");
		run_free(&r);
	}
	{
		/* His entries by their booking (his NIK finds nothing any more). */
		const char *bk = NULL;

		for (size_t i = 0; i < g_nev && bk == NULL; i++) {
			const char *v = json_string_value(json_object_get(g_ev[i].payload, "nik"));

			if (v != NULL && strcmp(v, other) == 0)
				bk = json_string_value(json_object_get(g_ev[i].payload, "booking_id"));
		}
		assert_non_null(bk);
		RUN(f, &r, 0, "bundle", "--config", f->path[1], "--case", "SPI-2026-0011",
		    "--booking", bk, "--decrypted", "-k", f->path[2], "-o", P(f, 11, "fg.bundle"));
		assert_non_null(strstr(r.err, "forgotten"));
		run_free(&r);
		RUN(f, &r, 0, "verify-bundle", f->path[11], "--vkey", vkey, "--keyring",
		    f->path[10]);
		assert_non_null(strstr(r.out, "of forgotten participants"));
		run_free(&r);
		text = slurp(f->path[11], &len);
		assert_non_null(strstr(text, "\"forgotten\": true"));
		{
			char *dec = decoded_text(text, &len);

			assert_null(strstr(dec, other));
			free(dec);
		}
		free(text);
	}

	/* No daemon, no access entry, no file. */
	saksid_stop(f);
	unlink(f->path[8]);
	RUN(f, &r, 2, "bundle", "--config", f->path[1], "--case", "C-2", "--leaf", "1",
	    "--decrypted", "-k", f->path[2], "-o", f->path[8], "--timeout", "2000");
	assert_non_null(strstr(r.err, "nothing exported"));
	run_free(&r);
	assert_int_equal(access(f->path[8], F_OK), -1);

	/* The ledger with its access entries verifies. */
	RUN(f, &r, 0, "verify", "--ledger", f->path[9], "--vkey", vkey, "--keyring",
	    f->path[10]);
	run_free(&r);
	tu_secrets_free(&all);
	free_day();
	snprintf(g_vkey, sizeof(g_vkey), "%s", vkey);
}

/* ---- the same bundles checked by code we did not write (tests/interop/main.go) ---- */

#define GO_GOPATH "/usr/share/gocode"
#define GO_PKG GO_GOPATH "/src/golang.org/x/mod/sumdb/tlog"
#define CHECKER_SRC SAKSI_SOURCE_DIR "/tests/interop/main.go"

static int
find_go(char *out, size_t len)
{
	const char *path = getenv("PATH");

	for (path = path != NULL ? path : "/usr/bin:/bin"; *path != '\0';) {
		size_t n = strcspn(path, ":");

		if (n > 0 && (size_t)snprintf(out, len, "%.*s/go", (int)n, path) < len &&
		    access(out, X_OK) == 0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

/* Builds the checker offline, as tests/interop_test.c and the CI do. */
static void
build_checker(struct scratch *f, const char *go, const char *bin)
{
	static const char *const drop[] = { "GO111MODULE=", "GOPATH=", "GOCACHE=", "GOFLAGS=",
		"GOENV=", "GOTOOLCHAIN=", "GOPROXY=" };
	char gocache[300], *env[512], *argv[] = { (char *)go, (char *)"build", (char *)"-o",
		(char *)bin, (char *)CHECKER_SRC, NULL };
	posix_spawn_file_actions_t fa;
	size_t n = 0, k;
	pid_t pid;
	int st;

	snprintf(gocache, sizeof(gocache), "GOCACHE=%s/gocache", f->dir);
	for (size_t i = 0; environ[i] != NULL && n < 500; i++) {
		for (k = 0; k < sizeof(drop) / sizeof(drop[0]); k++)
			if (strncmp(environ[i], drop[k], strlen(drop[k])) == 0)
				break;
		if (k == sizeof(drop) / sizeof(drop[0]))
			env[n++] = environ[i];
	}
	env[n++] = (char *)"GO111MODULE=off";
	env[n++] = (char *)"GOPATH=" GO_GOPATH;
	env[n++] = gocache;
	env[n++] = (char *)"GOFLAGS=";
	env[n++] = (char *)"GOENV=off";
	env[n++] = (char *)"GOTOOLCHAIN=local";
	env[n++] = (char *)"GOPROXY=off";
	env[n] = NULL;
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, P(f, 12, "go-build.log"),
	    O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, 1, 2), 0);
	assert_int_equal(posix_spawn(&pid, go, &fa, NULL, argv, env), 0);
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char *log = slurp(f->path[12], NULL);

		fail_msg("the Go checker does not build:\n%s", log);
	}
}

/* dir/check holds vkey.txt, keyring.json and bundle.json = the bundle given. */
static const char *
checker_dir(struct scratch *f, const char *bundle_path)
{
	char *text;
	size_t len;

	mkdir(P(f, 12, "check"), 0700);
	spit(P(f, 12, "check/vkey.txt"), g_vkey, strlen(g_vkey));
	text = slurp(P(f, 12, "st/keyring.json"), &len);
	spit(P(f, 12, "check/keyring.json"), text, len);
	free(text);
	text = slurp(bundle_path, &len);
	spit(P(f, 12, "check/bundle.json"), text, len);
	free(text);
	return P(f, 12, "check");
}

static void
test_interop(void **state)
{
	struct scratch *f = *state;
	static const char *const names[] = { "alert.bundle", "nik.bundle", "officer.bundle",
		"fg.bundle" };
	char go[4096], bin[300];
	struct run r;

	if (g_vkey[0] == '\0') {
		print_message("test_bundle made no bundles: skipping\n");
		skip();
	}
	if (!find_go(go, sizeof(go)) || access(GO_PKG, R_OK) != 0) {
		print_message("go or golang.org/x/mod is not installed (scripts/deps.sh installs "
		    "golang-go and golang-golang-x-mod-dev): skipping\n");
		skip();
	}
	snprintf(bin, sizeof(bin), "%s/interop", f->dir);
	build_checker(f, go, bin);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		run_expect(bin, f->dir, &r, 0, NULL, "-bundle", checker_dir(f, P(f, 11, names[i])),
		    (char *)NULL);
		print_message("%s: %s", names[i], r.out);
		assert_non_null(strstr(r.out, "interop: ok: bundle"));
		run_free(&r);
	}
	/* And it is not a rubber stamp: a flipped proof hash, a changed selection. */
	{
		char *text = slurp(P(f, 11, "nik.bundle"), NULL), *p;

		p = strstr(text, "\"proof\": [\n");
		assert_non_null(p);
		p += strlen("\"proof\": [\n");
		p += strspn(p, " \"");
		*p = *p == 'A' ? 'B' : 'A';
		spit(P(f, 11, "bad.bundle"), text, strlen(text));
		run_expect(bin, f->dir, &r, 1, NULL, "-bundle", checker_dir(f, P(f, 11,
		    "bad.bundle")), (char *)NULL);
		assert_non_null(strstr(r.err, "inclusion proof rejected by tlog"));
		run_free(&r);
		free(text);
		text = slurp(P(f, 11, "nik.bundle"), NULL);
		p = strstr(text, "\"selection\": \"");
		assert_non_null(p);
		p[strlen("\"selection\": \"")] = 'X';
		spit(P(f, 11, "bad.bundle"), text, strlen(text));
		run_expect(bin, f->dir, &r, 1, NULL, "-bundle", checker_dir(f, P(f, 11,
		    "bad.bundle")), (char *)NULL);
		assert_non_null(strstr(r.err, "exporter signature"));
		run_free(&r);
		free(text);
	}
}

static int
setup(void **state)
{
	return scratch_setup(state, "bundle");
}

int
main(void)
{
	/* One scratch directory for both: test_interop checks test_bundle's bundles. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle),
		cmocka_unit_test(test_interop),
	};

	return cmocka_run_group_tests(tests, setup, scratch_teardown);
}
