/*
 * subject.c: saksi subject-report, a data subject's access request (UU PDP No. 27/2022):
 * every entry about one participant, every recorded look at their data and every alert
 * their entries fed, in plain words, as one file to hand to that person. It runs on the
 * appliance with saksid's keys, like saksi query. Writing the report reveals personal
 * data, so it is first written to the ledger as a signed access entry (command
 * subject-report): no receipt, no report. It must never show another person's personal
 * value, nor print or log the subject's.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "appliance.h"
#include "blind.h"
#include "cli.h"
#include "client.h"
#include "config.h"
#include "datakey.h"
#include "envelope.h"
#include "index.h"
#include "ledger.h"
#include "note.h"
#include "query.h"
#include "rules.h"
#include "schema.h"
#include "subject.h"
#include "verify.h"
#include "wire.h"
#include "u64sort.h"

#define ACCESS_TYPE "supervisor.access.logged"
#define FORGET_TYPE "supervisor.forget.requested"
#define IDS_MAX SAKSI_QUERY_TIMELINE_IDS_MAX

static const char usage[] =
"saksi subject-report --nik NIK|- [--kpj KPJ] -k supervisor.key -o FILE [--lang id|en]\n"
"                          [--format html|text] [--tz WIB|WITA|WIT|UTC] [--case REF]\n"
"                          [--config FILE] [--passphrase-file F] [--url URL] [--timeout MS]";

struct sopts {
	const char *config, *key, *passfile, *out, *case_ref, *url;
	char *nik, *kpj;          /* clear: wiped at the end */
	saksi_lang lang;
	int format;
	int offset_min;
	const char *zone;
	int tz_given;             /* --tz: every time in that zone */
	int timeout;
};

/* The zone each branch of the subject's entries keeps (branch_zones). */
#define ZONES_MAX 64
struct bzone {
	char branch[SAKSI_QUERY_VALUE_MAX + 1];
	const char *zone;         /* NULL: not known */
	int offset_min;
	size_t uses;              /* the subject's entries at this branch */
};

/* What is known of the subject: tokens, entries, claims and bookings. */
struct subject {
	char nik_tok[SAKSI_BLIND_TOKEN_LEN + 1];
	char kpj_tok[SAKSI_BLIND_TOKEN_LEN + 1];
	int has_kpj;
	saksi_query_result rows[2];   /* the timelines by NIK and by KPJ */
	const saksi_query_row **ev;   /* distinct, in time order */
	size_t nev;
	uint64_t *idx;                /* their leaf indices, ascending (for lookups) */
	char *ids[2][2 * IDS_MAX];    /* claim and booking ids named by their entries */
	size_t nids[2];
};

/* ---- setup ---- */

static MDB_dbi
index_dbi(struct appliance *x, saksi_ledger_txn *txn)
{
	uint64_t upto;
	MDB_dbi dbi;
	saksi_err e;

	appliance_index(x, txn, &dbi, &upto);
	/*
	 * A report must be whole: an index still catching up would leave entries out. upto
	 * is one past the last event indexed, so alerts and refusal summaries after it are
	 * normal; an event there is not (a bounded look: a real catch-up is long).
	 */
	for (uint64_t i = upto, size = saksi_ledger_size(txn); i < size; i++) {
		uint8_t *leaf;
		size_t len;
		saksi_leaf lf;
		int event;

		if (i - upto >= 10000)
			event = 1;
		else if ((e = saksi_ledger_leaf(txn, i, &leaf, &len)) != SAKSI_OK)
			xdie_err(e, "cannot read entry %" PRIu64, i);
		else {
			event = saksi_leaf_parse(leaf, len, &lf) != SAKSI_OK ||
			    lf.lf_kind == SAKSI_LEAF_EVENT;
			free(leaf);
		}
		if (event)
			xdie("the indexes cover entries below %" PRIu64 " of %" PRIu64 " (saksid "
			    "is catching up): try again when it has", upto, size);
	}
	return dbi;
}

static void
query_or_die(const saksi_query_ctx *qc, const saksi_query_spec *spec,
             saksi_query_result *res)
{
	saksi_err e = saksi_query_run(qc, spec, res);

	if (e == SAKSI_OK)
		return;
	switch (res->qr_fail_what) {
	case SAKSI_QF_TOO_LARGE:
		xdie("the participant has more than %u entries: a report this large is not "
		    "supported", SAKSI_QUERY_TIMELINE_MAX);
	case SAKSI_QF_NOT_EVENT:
	case SAKSI_QF_PAYLOAD:
	case SAKSI_QF_DISC_MATCH:
		xfail("entry %" PRIu64 " does not read as an event should (%s): run saksi "
		    "verify", res->qr_fail_index, saksi_strerror(res->qr_fail_cause));
	case SAKSI_QF_DISC_OPEN:
		xfail("entry %" PRIu64 ": its disclosures do not open with store_key (%s)",
		    res->qr_fail_index, saksi_strerror(res->qr_fail_cause));
	default:
		xdie_err(e, "reading the ledger failed");
	}
}

/* ---- time zones ---- */

/*
 * The zone of each branch the subject's entries name, found in the ledger itself: the
 * region code of a booking made for that branch (queue.booking.created "region", the
 * region the booking form offers the branch under) gives its province, and the province
 * its zone (saksi_subject_zone_of_region). Asked once per branch through the type and
 * branch indexes. A branch with no such booking stays unknown (the report's zone).
 */
static size_t
branch_zones(const saksi_query_ctx *qc, const struct subject *s, struct bzone *bz)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nev; i++) {
		const char *b = json_string_value(json_object_get(s->ev[i]->qr_payload, "branch"));
		saksi_query_spec spec;
		saksi_query_result res;
		const char *region;
		size_t k;

		if (b == NULL || strlen(b) > SAKSI_QUERY_VALUE_MAX)
			continue;
		for (k = 0; k < n && strcmp(bz[k].branch, b) != 0; k++)
			;
		if (k < n) {
			bz[k].uses++;
			continue;
		}
		if (n == ZONES_MAX)
			continue;
		memset(&bz[n], 0, sizeof(bz[n]));
		snprintf(bz[n].branch, sizeof(bz[n].branch), "%s", b);
		bz[n].uses = 1;
		memset(&spec, 0, sizeof(spec));
		spec.qs_value[SAKSI_IX_TYPE] = "queue.booking.created";
		spec.qs_value[SAKSI_IX_BRANCH] = b;
		spec.qs_limit = 1;
		memset(&res, 0, sizeof(res));
		if (saksi_query_spec_check(&spec, NULL) == SAKSI_OK) {
			query_or_die(qc, &spec, &res);
			region = res.qr_n > 0 ? json_string_value(json_object_get(
			    res.qr_rows[0].qr_payload, "region")) : NULL;
			if (region != NULL && saksi_subject_zone_of_region(region,
			    &bz[n].offset_min, &bz[n].zone) != SAKSI_OK)
				bz[n].zone = NULL;
		}
		saksi_query_result_free(&res);
		n++;
	}
	return n;
}

/* The zone of entry r's branch, or NULL. */
static const struct bzone *
zone_of(const struct bzone *bz, size_t n, const saksi_query_row *r)
{
	const char *b = json_string_value(json_object_get(r->qr_payload, "branch"));

	for (size_t k = 0; b != NULL && k < n; k++)
		if (strcmp(bz[k].branch, b) == 0)
			return bz[k].zone != NULL ? &bz[k] : NULL;
	return NULL;
}

/* ---- the subject's entries ---- */

static int
row_time_cmp(const void *a, const void *b)
{
	const saksi_query_row *x = *(const saksi_query_row *const *)a;
	const saksi_query_row *y = *(const saksi_query_row *const *)b;

	if (x->qr_time_ms != y->qr_time_ms)
		return x->qr_time_ms < y->qr_time_ms ? -1 : 1;
	return x->qr_index < y->qr_index ? -1 : x->qr_index > y->qr_index;
}

static int
is_theirs(const struct subject *s, uint64_t idx)
{
	return s->nev > 0 &&
	    bsearch(&idx, s->idx, s->nev, sizeof(uint64_t), saksi_u64_cmp) != NULL;
}

static void
add_id(struct subject *s, int k, const char *v)
{
	if (v == NULL || v[0] == '\0')
		return;
	for (size_t j = 0; j < s->nids[k]; j++)
		if (strcmp(s->ids[k][j], v) == 0)
			return;
	if (s->nids[k] < 2 * IDS_MAX)
		s->ids[k][s->nids[k]++] = xstrdup(v);
}

/*
 * The subject's story: the timeline of their NIK (and of their KPJ if given), each
 * following the claims and bookings it names, revealed, merged by leaf index and put in
 * the order things happened.
 */
static void
collect(struct appliance *x, saksi_ledger_txn *txn, MDB_dbi dbi, struct subject *s)
{
	saksi_query_ctx qc = { txn, dbi, x->store, x->dk };
	size_t cap = 0;

	for (int k = 0; k < 1 + s->has_kpj; k++) {
		saksi_query_spec spec;

		memset(&spec, 0, sizeof(spec));
		spec.qs_timeline = 1;
		if (k == 0)
			spec.qs_value[SAKSI_IX_NIK] = s->nik_tok;
		else
			spec.qs_value[SAKSI_IX_KPJ] = s->kpj_tok;
		spec.qs_limit = SAKSI_QUERY_LIMIT_MAX;
		spec.qs_reveal = 1;
		query_or_die(&qc, &spec, &s->rows[k]);
		if (s->rows[k].qr_more)
			xdie("the participant has more than %u entries: a report this large is not "
			    "supported", SAKSI_QUERY_LIMIT_MAX);
		cap += s->rows[k].qr_n;
	}
	s->ev = xmalloc((cap + 1) * sizeof(*s->ev));
	s->idx = xmalloc((cap + 1) * sizeof(*s->idx));
	for (int k = 0; k < 1 + s->has_kpj; k++) {
		for (size_t i = 0; i < s->rows[k].qr_n; i++) {
			const saksi_query_row *r = &s->rows[k].qr_rows[i];

			if (k == 1 && is_theirs(s, r->qr_index))
				continue;
			s->ev[s->nev] = r;
			s->idx[s->nev++] = r->qr_index;
		}
		/* Sorted before the KPJ's rows are looked up in it. */
		qsort(s->idx, s->nev, sizeof(*s->idx), saksi_u64_cmp);
	}
	qsort(s->idx, s->nev, sizeof(*s->idx), saksi_u64_cmp);
	if (s->nev > 1)
		qsort(s->ev, s->nev, sizeof(*s->ev), row_time_cmp);
	for (size_t i = 0; i < s->nev; i++) {
		add_id(s, 0, json_string_value(json_object_get(s->ev[i]->qr_payload,
		    "claim_id")));
		add_id(s, 1, json_string_value(json_object_get(s->ev[i]->qr_payload,
		    "booking_id")));
	}
}

/* The token of a shown personal value, "" if it does not normalise. */
static void
token_of(struct appliance *x, saksi_index_field f, const char *v,
         char tok[SAKSI_BLIND_TOKEN_LEN + 1])
{
	tok[0] = '\0';
	if (v != NULL && saksi_query_blind(x->blind, f, v, tok) != SAKSI_OK)
		tok[0] = '\0';
}

/*
 * How much of one entry the subject may see. Another participant's NIK or KPJ in it
 * (a proxy checked in on their booking, someone else's booking with their KPJ) means
 * every personal value of it is withheld; otherwise its values are the subject's record.
 */
static int
state_of(struct appliance *x, const struct subject *s, const saksi_query_row *r)
{
	char tok[SAKSI_BLIND_TOKEN_LEN + 1];
	const char *v;

	if (r->qr_forgotten)
		return SAKSI_SUBJ_FORGOTTEN;
	if (r->qr_personal == NULL || r->qr_personal[0] == '\0')
		return SAKSI_SUBJ_NONE;
	if ((v = json_string_value(json_object_get(r->qr_payload, "nik"))) != NULL) {
		token_of(x, SAKSI_IX_NIK, v, tok);
		if (sodium_memcmp(tok, s->nik_tok, sizeof(tok)) != 0)
			return SAKSI_SUBJ_WITHHELD;
	}
	if ((v = json_string_value(json_object_get(r->qr_payload, "kpj"))) != NULL &&
	    s->has_kpj) {
		token_of(x, SAKSI_IX_KPJ, v, tok);
		if (sodium_memcmp(tok, s->kpj_tok, sizeof(tok)) != 0)
			return SAKSI_SUBJ_WITHHELD;
	}
	return SAKSI_SUBJ_SHOWN;
}

/* A copy of the payload without any personal member (for a withheld entry). */
static json_t *
strip_personal(const json_t *payload)
{
	json_t *out = json_object(), *v;
	const char *k;

	if (out == NULL)
		xdie("out of memory");
	json_object_foreach((json_t *)payload, k, v)
		if (saksi_subject_label(SAKSI_LANG_EN, k) == NULL)
			json_object_set(out, k, v);
	return out;
}

/* ---- the processing trail ---- */

struct trail {
	saksi_subject_access *ac;
	size_t nac, cap;
	char **strs;              /* names and case refs the entries point to */
	size_t nstrs;
	int hint;                 /* a look by their id once found entries */
};

static const char *
keep(struct trail *t, const char *s)
{
	char **grown;

	if (s == NULL)
		return NULL;
	if ((grown = realloc(t->strs, (t->nstrs + 1) * sizeof(*grown))) == NULL)
		xdie("out of memory");
	t->strs = grown;
	t->strs[t->nstrs] = xstrdup(s);
	return t->strs[t->nstrs++];
}

/*
 * Runs the look an access entry records again, over the leaves below that entry, and
 * says whether its results held one of the subject's entries. A query returned the first
 * `results` hits after `after`, in leaf order, of a ledger that has only grown since; a
 * timeline, its term's own hits (a claim or booking of the subject is named only by the
 * subject's entries, so following ids adds none of theirs that its hits do not hold).
 * What cannot be rerun: entries of a forgotten participant left the indexes.
 */
static int
rerun_holds(MDB_txn *mt, MDB_dbi dbi, const char *filter, uint64_t below, uint64_t results,
            const struct subject *s)
{
	saksi_index_term terms[SAKSI_INDEX_TERMS_MAX];
	saksi_index_query q;
	saksi_index_hit hits[256];
	char *copy = xstrdup(filter), *save = NULL;
	uint64_t seen = 0;
	int more, holds = 0;
	size_t got;

	memset(&q, 0, sizeof(q));
	q.iq_terms = terms;
	q.iq_until_ms = UINT64_MAX;
	for (char *kv = strtok_r(copy, ",", &save); kv != NULL; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		saksi_index_field f;

		if (eq == NULL)
			continue;
		*eq++ = '\0';
		if (strcmp(kv, "since") == 0)
			q.iq_since_ms = strtoull(eq, NULL, 10);
		else if (strcmp(kv, "until") == 0)
			q.iq_until_ms = strtoull(eq, NULL, 10);
		else if (strcmp(kv, "after") == 0) {
			q.iq_after = strtoull(eq, NULL, 10);
			q.iq_has_after = 1;
		} else if ((f = saksi_index_field_by_name(kv)) != SAKSI_IX_STATE &&
		    f != SAKSI_IX_TIME && q.iq_nterms < SAKSI_INDEX_TERMS_MAX) {
			terms[q.iq_nterms].it_field = f;
			terms[q.iq_nterms++].it_value = eq;
		}
	}
	do {
		if (saksi_index_query_run(mt, dbi, &q, hits, 256, &got, &more) != SAKSI_OK)
			break;   /* not rerunnable (a huge time range): said in the report */
		for (size_t i = 0; i < got && seen < results; i++) {
			if (hits[i].ih_index >= below) {
				more = 0;
				break;
			}
			seen++;
			if (is_theirs(s, hits[i].ih_index)) {
				holds = 1;
				more = 0;
				break;
			}
		}
		if (got > 0) {
			q.iq_after = hits[got - 1].ih_index;
			q.iq_has_after = 1;
		}
	} while (more && seen < results);
	free(copy);
	return holds;
}

/* How an access entry's filter touches the subject, or 0. */
static int
access_how(const char *filter, const struct subject *s)
{
	char *copy = xstrdup(filter), *save = NULL;
	int how = 0;

	for (char *kv = strtok_r(copy, ",", &save); kv != NULL && how != SAKSI_SUBJ_BY_ID;
	    kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (eq == NULL)
			continue;
		*eq++ = '\0';
		if ((strcmp(kv, "nik") == 0 && strcmp(eq, s->nik_tok) == 0) ||
		    (strcmp(kv, "kpj") == 0 && s->has_kpj && strcmp(eq, s->kpj_tok) == 0))
			how = SAKSI_SUBJ_BY_ID;
		for (int k = 0; k < 2 && how == 0; k++)
			if (strcmp(kv, k == 0 ? "claim" : "booking") == 0)
				for (size_t j = 0; j < s->nids[k]; j++)
					if (strcmp(eq, s->ids[k][j]) == 0)
						how = SAKSI_SUBJ_BY_RECORD;
	}
	free(copy);
	return how;
}

static void
trail(struct appliance *x, saksi_ledger_txn *txn, MDB_dbi dbi, const struct subject *s,
      struct trail *t)
{
	saksi_query_ctx qc = { txn, dbi, x->store, x->dk };
	saksi_query_spec spec;
	saksi_query_result res;
	int more = 1;

	memset(&spec, 0, sizeof(spec));
	spec.qs_value[SAKSI_IX_TYPE] = ACCESS_TYPE;
	spec.qs_limit = 1000;
	while (more) {
		memset(&res, 0, sizeof(res));
		query_or_die(&qc, &spec, &res);
		for (size_t i = 0; i < res.qr_n; i++) {
			const saksi_query_row *r = &res.qr_rows[i];
			const json_t *p = r->qr_payload;
			const char *filter = json_string_value(json_object_get(p, "filter"));
			const char *cmd = json_string_value(json_object_get(p, "command"));
			const char *who;
			uint64_t results = (uint64_t)json_integer_value(json_object_get(p,
			    "results"));
			const saksi_keyring_entry *ke;
			uint8_t kid[SAKSI_KEYID_LEN];
			int how;

			if (filter == NULL || cmd == NULL)
				continue;
			how = access_how(filter, s);
			if (how == SAKSI_SUBJ_BY_ID && results > 0 && s->nev == 0)
				t->hint = 1;
			if (how == 0 && results > 0 && s->nev > 0 &&
			    rerun_holds(saksi_ledger_txn_mdb(txn), dbi, filter, r->qr_index,
			    results, s))
				how = SAKSI_SUBJ_IN_RESULTS;
			if (how == 0)
				continue;
			if (t->nac == t->cap) {
				saksi_subject_access *grown;

				t->cap = t->cap == 0 ? 16 : 2 * t->cap;
				if ((grown = realloc(t->ac, t->cap * sizeof(*grown))) == NULL)
					xdie("out of memory");
				t->ac = grown;
			}
			memset(&t->ac[t->nac], 0, sizeof(t->ac[0]));
			t->ac[t->nac].sa_index = r->qr_index;
			t->ac[t->nac].sa_time_ms = r->qr_time_ms;
			/* Who looked is the payload's key_id: the signer for a local look, the
			 * requester for a remote one (saksid signs those, FORMATS.md 3.4). */
			who = json_string_value(json_object_get(p, "key_id"));
			if (who == NULL)
				who = r->qr_key_id;
			ke = NULL;
			if (sodium_hex2bin(kid, sizeof(kid), who, strlen(who), NULL, NULL, NULL) == 0)
				ke = saksi_keyring_find(x->kr, kid);
			t->ac[t->nac].sa_who = keep(t, ke != NULL ? ke->ke_name : who);
			t->ac[t->nac].sa_command = keep(t, cmd);
			t->ac[t->nac].sa_how = how;
			t->ac[t->nac].sa_revealed = json_is_true(json_object_get(p, "revealed"));
			t->ac[t->nac].sa_results = results;
			t->ac[t->nac].sa_case_ref = keep(t, json_string_value(json_object_get(p,
			    "case_ref")));
			t->nac++;
		}
		more = res.qr_more && res.qr_n > 0;
		if (more) {
			spec.qs_after = res.qr_rows[res.qr_n - 1].qr_index;
			spec.qs_has_after = 1;
		}
		saksi_query_result_free(&res);
	}
}

/*
 * Alerts whose evidence holds one of the subject's entries: the alert entries after their
 * first entry (evidence is always below the alert). Re-raises (kind 4) repeat an alert,
 * refusal alerts (kind 5) hold no event: both left out.
 */
static void
alerts(saksi_ledger_txn *txn, const struct subject *s, saksi_subject_alert **out,
       size_t *n, struct trail *t)
{
	uint64_t size = saksi_ledger_size(txn);
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (s->nev == 0)
		return;
	for (uint64_t i = s->idx[0] + 1; i < size; i++) {
		uint8_t *leaf;
		size_t len, yours = 0;
		saksi_leaf lf;
		saksi_alert a;
		saksi_err e;

		if ((e = saksi_ledger_leaf(txn, i, &leaf, &len)) != SAKSI_OK)
			xdie_err(e, "cannot read entry %" PRIu64, i);
		if (saksi_leaf_parse(leaf, len, &lf) != SAKSI_OK) {
			free(leaf);
			xfail("entry %" PRIu64 " is malformed: run saksi verify", i);
		}
		if (lf.lf_kind != SAKSI_LEAF_ALERT ||
		    saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &a) != SAKSI_OK ||
		    a.al_kind == SAKSI_ALERT_RERAISE || a.al_kind == SAKSI_ALERT_REFUSALS) {
			free(leaf);
			continue;
		}
		free(leaf);
		for (uint32_t k = 0; k < a.al_nevidence; k++)
			yours += is_theirs(s, a.al_evidence[k]);
		if (yours == 0 && is_theirs(s, a.al_trigger))
			yours = 1;
		if (yours == 0)
			continue;
		if (*n == cap) {
			saksi_subject_alert *grown;

			cap = cap == 0 ? 8 : 2 * cap;
			if ((grown = realloc(*out, cap * sizeof(*grown))) == NULL)
				xdie("out of memory");
			*out = grown;
		}
		memset(&(*out)[*n], 0, sizeof(**out));
		(*out)[*n].sl_index = i;
		(*out)[*n].sl_alert_id = a.al_id;
		(*out)[*n].sl_time_ms = a.al_last_ms;
		(*out)[*n].sl_rule = keep(t, a.al_rule);
		(*out)[*n].sl_severity = a.al_severity;
		(*out)[*n].sl_yours = yours;
		(*n)++;
	}
}

/* ---- the access entry ---- */

/*
 * The subject-report access entry (as saksi query writes its own), before anything of
 * the report is written; *v: the log's key its receipt verified against.
 */
static uint64_t
log_access(struct appliance *x, const struct sopts *o, const struct subject *s,
           const saksi_seckey *sk, size_t results, saksi_note_verifier *v)
{
	char filter[2 * (SAKSI_BLIND_TOKEN_LEN + 8)];
	struct access_entry a;

	snprintf(filter, sizeof(filter), "nik=%s%s%s", s->nik_tok, s->has_kpj ? ",kpj=" : "",
	    s->has_kpj ? s->kpj_tok : "");
	memset(&a, 0, sizeof(a));
	a.command = "subject-report";
	a.filter = filter;
	a.personal_filter = 1;
	a.results = results;
	a.revealed = 1;
	/* A report is one data subject's: one participant revealed, if anything. */
	a.participants = results > 0 ? 1 : 0;
	a.case_ref = o->case_ref;
	a.key_path = o->key;
	a.url = o->url;
	a.timeout_ms = o->timeout;
	a.withheld = "no report written";
	a.say_on_connect = 1;
	return appliance_log_access(x, &a, sk, v);
}

/* ---- the command ---- */

/* The NIK or KPJ from its option, or one line of stdin for "-" (kept off the process
 * list), in memory the caller wipes. */
static char *
read_secret(const char *arg, const char *what)
{
	char buf[128], *nl, *out;

	if (strcmp(arg, "-") != 0)
		return xstrdup(arg);
	if (fgets(buf, sizeof(buf), stdin) == NULL)
		xdie("--%s -: nothing on stdin", what);
	if ((nl = strpbrk(buf, "\r\n")) != NULL)
		*nl = '\0';
	out = xstrdup(buf);
	sodium_memzero(buf, sizeof(buf));
	return out;
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

int
cmd_subject_report(int argc, char **argv)
{
	enum { O_CONFIG = 256, O_NIK, O_KPJ, O_LANG, O_FORMAT, O_TZ, O_CASE, O_PASS, O_URL,
		O_TIMEOUT };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, O_CONFIG },
		{ "nik", required_argument, NULL, O_NIK },
		{ "kpj", required_argument, NULL, O_KPJ },
		{ "key", required_argument, NULL, 'k' },
		{ "out", required_argument, NULL, 'o' },
		{ "lang", required_argument, NULL, O_LANG },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "tz", required_argument, NULL, O_TZ },
		{ "case", required_argument, NULL, O_CASE },
		{ "passphrase-file", required_argument, NULL, O_PASS },
		{ "url", required_argument, NULL, O_URL },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	struct sopts o;
	struct appliance x;
	struct subject s;
	struct trail t;
	saksi_subject_event *evs;
	saksi_subject_alert *als;
	saksi_subject_report rep;
	saksi_note_verifier v;
	saksi_checkpoint ck;
	saksi_seckey *sk;
	char *scope;
	saksi_ledger_txn *txn;
	json_t **stripped;
	MDB_dbi dbi;
	char subject[64], *doc, *note = NULL, root[sodium_base64_ENCODED_LEN(32,
	    sodium_base64_VARIANT_ORIGINAL)], *masked;
	const char *nik_arg = NULL, *kpj_arg = NULL;
	size_t doclen, nals, notelen, textlen, nbz = 0;
	struct bzone bz[ZONES_MAX];
	uint64_t timeout = 0, access_idx, ck_size;
	int c;
	saksi_err e;

	memset(&o, 0, sizeof(o));
	o.config = "/etc/saksi/saksid.conf";
	o.lang = SAKSI_LANG_ID;
	o.format = SAKSI_SUBJ_HTML;
	o.zone = "WIB";
	o.offset_min = 7 * 60;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:o:", opts, NULL)) != -1) {
		switch (c) {
		case O_CONFIG: o.config = optarg; break;
		case O_NIK: nik_arg = optarg; break;
		case O_KPJ: kpj_arg = optarg; break;
		case 'k': o.key = optarg; break;
		case 'o': o.out = optarg; break;
		case O_LANG:
			if (saksi_subject_lang(optarg, &o.lang) != SAKSI_OK)
				xusage(usage, "--lang is id or en");
			break;
		case O_FORMAT:
			if (strcmp(optarg, "html") == 0)
				o.format = SAKSI_SUBJ_HTML;
			else if (strcmp(optarg, "text") == 0)
				o.format = SAKSI_SUBJ_TEXT;
			else
				xusage(usage, "--format is html or text");
			break;
		case O_TZ:
			if (saksi_subject_zone(optarg, &o.offset_min, &o.zone) != SAKSI_OK)
				xusage(usage, "--tz is WIB, WITA, WIT or UTC");
			o.tz_given = 1;
			break;
		case O_CASE: o.case_ref = optarg; break;
		case O_PASS: o.passfile = optarg; break;
		case O_URL: o.url = optarg; break;
		case O_TIMEOUT: timeout = xparse_u64(optarg, "--timeout"); break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument");
	if (nik_arg == NULL)
		xusage(usage, "give the participant's --nik (or --nik - to read it from stdin)");
	if (kpj_arg != NULL && strcmp(kpj_arg, "-") == 0 && strcmp(nik_arg, "-") == 0)
		xusage(usage, "only one of --nik and --kpj can be read from stdin");
	/* Fail closed, and early: no key, no report. */
	if (o.key == NULL)
		xusage(usage, "a report reveals personal data: it needs a supervisor's key "
		    "(-k supervisor.key), and is first written to the ledger, signed by it");
	if (o.out == NULL)
		xusage(usage, "give the report's file (-o FILE)");
	if (access(o.out, F_OK) == 0)
		xdie("%s exists: the report is never written over a file; remove it or choose "
		    "another name", o.out);
	if (timeout > 3600000)
		xusage(usage, "--timeout is in milliseconds, at most 3600000");
	o.timeout = (int)timeout;
	if (o.case_ref != NULL)
		xcase_ref(o.case_ref, usage);
	o.nik = read_secret(nik_arg, "nik");
	o.kpj = kpj_arg != NULL ? read_secret(kpj_arg, "kpj") : NULL;

	appliance_open(&x, o.config, APPLIANCE_NEED_INDEX);
	(void)appliance_keyring(&x);
	memset(&s, 0, sizeof(s));
	/* The values are never echoed: they are the personal data being protected. */
	if (saksi_query_blind(x.blind, SAKSI_IX_NIK, o.nik, s.nik_tok) != SAKSI_OK)
		xusage(usage, "--nik: not a valid NIK (16 digits)");
	if (o.kpj != NULL) {
		if (saksi_query_blind(x.blind, SAKSI_IX_KPJ, o.kpj, s.kpj_tok) != SAKSI_OK)
			xusage(usage, "--kpj: not a valid KPJ (11 digits)");
		s.has_kpj = 1;
	}
	sk = xseckey_load(o.key, o.passfile);
	if (saksi_seckey_kind(sk) != SAKSI_KEY_SIGN)
		xdie("%s is not a signing key", o.key);
	if (strcmp(scope = xkey_branch(x.cf.cf_keyring, sk), "*") != 0)
		xfail("key %s is of branch %s: a subject report holds all of a participant's "
		    "data, so it is the national unit's (branch *)", o.key, scope);
	free(scope);

	/* One snapshot for everything the report says. */
	if ((e = saksi_ledger_begin(x.l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read ledger %s", x.ledger_dir);
	dbi = index_dbi(&x, txn);
	collect(&x, txn, dbi, &s);
	if (!o.tz_given) {
		saksi_query_ctx qc = { txn, dbi, x.store, x.dk };
		size_t best = 0;

		nbz = branch_zones(&qc, &s, bz);
		/* The report's own zone (its date, looks, alerts): that of the branch most
		 * of their entries are at, when known; else WIB. */
		for (size_t k = 0; k < nbz; k++)
			if (bz[k].zone != NULL && bz[k].uses > best) {
				best = bz[k].uses;
				o.zone = bz[k].zone;
				o.offset_min = bz[k].offset_min;
			}
	}
	memset(&t, 0, sizeof(t));
	trail(&x, txn, dbi, &s, &t);
	alerts(txn, &s, &als, &nals, &t);
	saksi_ledger_abort(txn);

	/* No receipt, no report. */
	access_idx = log_access(&x, &o, &s, sk, s.nev, &v);

	/* The checkpoint that covers the access entry, checked against the log's key. */
	if ((e = saksi_ledger_begin(x.l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read ledger %s", x.ledger_dir);
	e = saksi_ledger_ckpt_latest(txn, &ck_size, &note, &notelen);
	saksi_ledger_abort(txn);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot read the latest checkpoint");
	if (ck_size <= access_idx)
		xdie("the latest checkpoint (%" PRIu64 ") does not cover the access entry %" PRIu64
		    ": try again", ck_size, access_idx);
	if (saksi_checkpoint_open(note, notelen, &v, &ck) != SAKSI_OK ||
	    saksi_note_open(note, notelen, &v, &textlen) != SAKSI_OK)
		xfail("the ledger's latest checkpoint does not verify with its own key: run "
		    "saksi verify");
	sodium_bin2base64(root, sizeof(root), ck.ck_root, sizeof(ck.ck_root),
	    sodium_base64_VARIANT_ORIGINAL);

	evs = xmalloc((s.nev + 1) * sizeof(*evs));
	stripped = xmalloc((s.nev + 1) * sizeof(*stripped));
	for (size_t i = 0; i < s.nev; i++) {
		evs[i].se_index = s.ev[i]->qr_index;
		evs[i].se_time_ms = s.ev[i]->qr_time_ms;
		evs[i].se_type = s.ev[i]->qr_type;
		evs[i].se_state = state_of(&x, &s, s.ev[i]);
		{
			const struct bzone *z = zone_of(bz, nbz, s.ev[i]);

			evs[i].se_zone = z != NULL ? z->zone : NULL;
			evs[i].se_offset_min = z != NULL ? z->offset_min : 0;
		}
		stripped[i] = NULL;
		if (evs[i].se_state == SAKSI_SUBJ_WITHHELD)
			stripped[i] = strip_personal(s.ev[i]->qr_payload);
		evs[i].se_payload = stripped[i] != NULL ? stripped[i] : s.ev[i]->qr_payload;
	}
	if ((masked = saksi_query_mask("nik", o.nik)) == NULL)
		xdie("out of memory");
	memset(&rep, 0, sizeof(rep));
	rep.sr_lang = o.lang;
	rep.sr_offset_min = o.offset_min;
	rep.sr_zone = o.zone;
	rep.sr_now_ms = now_ms();
	snprintf(subject, sizeof(subject), "NIK %s", masked);
	rep.sr_subject = subject;
	rep.sr_case_ref = o.case_ref;
	rep.sr_controller = ck.ck_origin;
	rep.sr_size = ck.ck_size;
	rep.sr_root_b64 = root;
	rep.sr_checkpoint = note;
	rep.sr_access_index = access_idx;
	rep.sr_events = evs;
	rep.sr_nevents = s.nev;
	rep.sr_access = t.ac;
	rep.sr_naccess = t.nac;
	rep.sr_alerts = als;
	rep.sr_nalerts = nals;
	for (size_t i = 0; i < s.nev; i++)
		if (strcmp(s.ev[i]->qr_type, FORGET_TYPE) == 0) {
			rep.sr_erased = 1;
			rep.sr_erased_ms = s.ev[i]->qr_time_ms;
		}
	rep.sr_erased_hint = !rep.sr_erased && t.hint;
	if ((e = saksi_subject_render(&rep, o.format, &doc, &doclen)) != SAKSI_OK)
		xdie_err(e, "cannot write the report");
	xwrite_file_atomic(o.out, doc, doclen, 0600);
	fprintf(stderr, "saksi: report written to %s: %zu entr%s, %zu look%s, %zu alert%s\n",
	    o.out, s.nev, s.nev == 1 ? "y" : "ies", t.nac, t.nac == 1 ? "" : "s", nals,
	    nals == 1 ? "" : "s");

	sodium_memzero(doc, doclen);
	free(doc);
	wipe_free(masked);
	for (size_t i = 0; i < s.nev; i++)
		json_decref(stripped[i]);
	free(stripped);
	free(evs);
	free(als);
	free(note);
	for (size_t i = 0; i < t.nstrs; i++)
		free(t.strs[i]);
	free(t.strs);
	free(t.ac);
	for (int k = 0; k < 2; k++) {
		saksi_query_result_free(&s.rows[k]);
		for (size_t j = 0; j < s.nids[k]; j++)
			free(s.ids[k][j]);
	}
	free(s.ev);
	free(s.idx);
	sodium_memzero(s.nik_tok, sizeof(s.nik_tok));
	sodium_memzero(s.kpj_tok, sizeof(s.kpj_tok));
	wipe_free(o.nik);
	wipe_free(o.kpj);
	saksi_seckey_free(sk);
	appliance_close(&x);
	return SX_OK;
}
