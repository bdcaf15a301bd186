/*
 * report.c: saksi report's numbers and its HTML (report.h): the period's events through
 * the time index (and the branch index), bookings and payments counted by blind token,
 * waits joined through the booking index, alert entries read from the ledger.
 * It must never write a personal value: what leaves here is counts, shortened tokens,
 * dates, branch codes, officer ids and rule names.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "chart.h"
#include "envelope.h"
#include "index.h"
#include "merkle.h"
#include "report.h"
#include "rules.h"
#include "verify.h"

#define DAY_MS 86400000u
#define PAGE 4096
#define TOP_N 10
#define QUEUE_KEY_MAX 128
#define OFFICER_MAX 64
#define WHO_MAX 65
/* An officer's call is out of order as the default rule queue_out_of_order judges one
 * (schemas/rules/default.rules): it skips more than OOO_PLACES people who checked in
 * before it, within OOO_SPAN_MS before it; a priority or urgent call is exempt. */
#define OOO_PLACES 3
#define OOO_SPAN_MS (2u * 3600 * 1000)
/* Where the long tail starts: the default rules' thresholds for one device, one phone,
 * one account (device_many_nik_fast, phone_many_nik, account_many_claimants). */
#define TAIL_DEVICE 6
#define TAIL_PHONE 4
#define TAIL_ACCOUNT 3

/* Channels: the schemas' channel values, then events without one. */
static const char *const chan_value[] = { "web", "app", "kiosk", "counter", "partner_hr" };
static const char *const chan_label[] = { "web portal", "mobile app", "kiosk", "counter",
	"partner HR portal", "no channel field" };
#define NCHAN 6

/* Personal counts: one row per booking or payment with its token and what makes it
 * distinct (the NIK's token, or the claim id). */
struct tokrow {
	char tr_tok[SAKSI_BLIND_TOKEN_LEN + 1];
	char tr_who[WHO_MAX];
};

struct toks {
	struct tokrow *v;
	size_t n, cap;
	uint64_t unattributed;   /* forgotten participants, or the field absent */
};

/* A check-in or a first call, for the out-of-order judgement. */
struct qev {
	char qe_queue[QUEUE_KEY_MAX];
	uint32_t qe_seq;
	int qe_call;              /* 0 check-in, 1 call */
	int qe_exempt;
	uint64_t qe_time, qe_leaf;
	char qe_officer[OFFICER_MAX];
};

struct officer {
	char of_id[OFFICER_MAX];
	uint64_t of_calls, of_ooo, of_exempt;
};

struct sample {
	uint32_t sa_day;
	double sa_v;
};

struct samples {
	struct sample *v;
	size_t n, cap;
	uint64_t unmatched;       /* services whose booking or check-in was not found */
};

struct alertrow {
	char ar_rule[SAKSI_RULES_ID_MAX + 6];
	uint32_t ar_day;
};

struct rep {
	const saksi_report_opts *o;
	saksi_ledger_txn *txn;
	MDB_txn *mt;
	MDB_dbi dbi;
	const saksi_blind *b;
	const saksi_seckey *store;
	saksi_datakeys *dk;
	int64_t day0;             /* days since the epoch (local) of the first day */
	size_t ndays;
	char (*dayname)[11];
	uint64_t *per_chan;       /* ndays x NCHAN */
	uint64_t events, lo, hi;  /* events read; their lowest and highest leaf */
	struct toks dev, phone, acct;
	struct samples wait_book, wait_in;
	struct qev *q;
	size_t nq, capq;
	struct officer *off;
	size_t noff;
	struct alertrow *al;
	size_t nal, capal;
};

/* ---- small things ---- */

static int
grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *g;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap == 0 ? 64 : *cap * 2;
	if ((g = realloc(*v, c * size)) == NULL)
		return -1;
	*v = g;
	*cap = c;
	return 0;
}

static int64_t
local_day(const struct rep *r, uint64_t ms)
{
	int64_t t = (int64_t)ms + (int64_t)r->o->ro_utc_offset_min * 60000;

	return t >= 0 ? t / DAY_MS : -((-t + DAY_MS - 1) / DAY_MS);
}

/* The day's index in the period; the period's own events always fall inside. */
static uint32_t
day_of(const struct rep *r, uint64_t ms)
{
	int64_t d = local_day(r, ms) - r->day0;

	if (d < 0)
		return 0;
	return (uint32_t)((size_t)d >= r->ndays ? r->ndays - 1 : (size_t)d);
}

static const char *
pstr(json_t *p, const char *m)
{
	return json_string_value(json_object_get(p, m));
}

/* ---- reading the period ---- */

/* The producer time of the first event of type that names booking (index lookup), or
 * SAKSI_ERR_NOT_FOUND. */
static saksi_err
booking_time(struct rep *r, const char *booking, const char *type, uint64_t *t)
{
	saksi_index_term terms[2] = { { SAKSI_IX_BOOKING, booking }, { SAKSI_IX_TYPE, type } };
	saksi_index_query q;
	saksi_index_hit hit;
	size_t n;
	int more;
	saksi_err e;

	memset(&q, 0, sizeof(q));
	q.iq_terms = terms;
	q.iq_nterms = 2;
	q.iq_until_ms = UINT64_MAX;
	if ((e = saksi_index_query_run(r->mt, r->dbi, &q, &hit, 1, &n, &more)) != SAKSI_OK)
		return e;
	if (n == 0)
		return SAKSI_ERR_NOT_FOUND;
	*t = hit.ih_time_ms;
	return SAKSI_OK;
}

static saksi_err
sample_add(struct samples *s, uint32_t day, double v)
{
	if (grow((void **)&s->v, &s->cap, s->n, sizeof(*s->v)) != 0)
		return SAKSI_ERR_NOMEM;
	s->v[s->n].sa_day = day;
	s->v[s->n].sa_v = v;
	s->n++;
	return SAKSI_OK;
}

static saksi_err
tok_add(struct toks *t, const char *tok, const char *who)
{
	if (grow((void **)&t->v, &t->cap, t->n, sizeof(*t->v)) != 0)
		return SAKSI_ERR_NOMEM;
	snprintf(t->v[t->n].tr_tok, sizeof(t->v[t->n].tr_tok), "%s", tok);
	snprintf(t->v[t->n].tr_who, sizeof(t->v[t->n].tr_who), "%s", who);
	t->n++;
	return SAKSI_OK;
}

/* The disclosed value of field among the pairs, or NULL. */
static const char *
disclosed(char **names, char **values, size_t n, const char *field)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], field) == 0)
			return values[i];
	return NULL;
}

/*
 * Opens the disclosures of leaf idx and checks them against the payload. *n = 0 and
 * *forgotten = 1 for a forgotten participant (the data key is gone: a state, counted).
 */
static saksi_err
open_disc(struct rep *r, uint64_t idx, const uint8_t *leaf, size_t len,
          const saksi_envelope *env, char ***names, char ***values, size_t *n,
          int *forgotten)
{
	uint8_t *blob = NULL;
	char *plain = NULL;
	size_t blen, plen;
	saksi_hash h;
	saksi_err e;

	*names = *values = NULL;
	*n = 0;
	*forgotten = 0;
	e = saksi_ledger_disc_get(r->txn, idx, &blob, &blen);
	if (e == SAKSI_ERR_NOT_FOUND)
		return SAKSI_OK;
	if (e != SAKSI_OK)
		return e;
	saksi_merkle_leaf_hash(h, leaf, len);
	e = saksi_disc_open_any(r->store, r->dk, idx, h, blob, blen, &plain, &plen);
	free(blob);
	if (e == SAKSI_ERR_NOT_FOUND) {
		*forgotten = 1;
		return SAKSI_OK;
	}
	if (e != SAKSI_OK)
		return e;
	e = saksi_disclosures_check(env->ev_payload, env->ev_payload_len,
	    (const uint8_t *)plain, plen, names, values, n);
	sodium_memzero(plain, plen);
	free(plain);
	if (e == SAKSI_ERR_NOMEM)
		return e;
	return e == SAKSI_OK ? SAKSI_OK : SAKSI_ERR_CORRUPT;
}

/* A booking: its device and phone tokens, each with the NIK's token as who. */
static saksi_err
on_booking(struct rep *r, uint64_t idx, const uint8_t *leaf, size_t len,
           const saksi_envelope *env)
{
	char **names, **values, nik[SAKSI_BLIND_TOKEN_LEN + 1] = "",
	    tok[SAKSI_BLIND_TOKEN_LEN + 1];
	const char *v;
	size_t n;
	int forgotten;
	saksi_err e;

	if ((e = open_disc(r, idx, leaf, len, env, &names, &values, &n, &forgotten)) !=
	    SAKSI_OK)
		return e;
	if ((v = disclosed(names, values, n, "nik")) != NULL &&
	    saksi_blind_token(r->b, SAKSI_BLIND_NIK, v, strlen(v), nik) != SAKSI_OK)
		nik[0] = '\0';
	if ((v = disclosed(names, values, n, "device_id")) != NULL &&
	    saksi_blind_token(r->b, SAKSI_BLIND_DEVICE, v, strlen(v), tok) == SAKSI_OK)
		e = tok_add(&r->dev, tok, nik);
	else
		r->dev.unattributed++;
	if (e == SAKSI_OK) {
		if ((v = disclosed(names, values, n, "phone")) != NULL &&
		    saksi_blind_token(r->b, SAKSI_BLIND_PHONE, v, strlen(v), tok) == SAKSI_OK)
			e = tok_add(&r->phone, tok, nik);
		else
			r->phone.unattributed++;
	}
	saksi_disclosures_free(names, values, n);
	sodium_memzero(nik, sizeof(nik));
	return e;
}

/* A payment: the account token (bank code in clear, number disclosed), who = claim. */
static saksi_err
on_payment(struct rep *r, uint64_t idx, const uint8_t *leaf, size_t len,
           const saksi_envelope *env, json_t *p)
{
	char **names, **values, tok[SAKSI_BLIND_TOKEN_LEN + 1];
	const char *v, *bank = pstr(p, "bank_code"), *claim = pstr(p, "claim_id");
	size_t n;
	int forgotten;
	saksi_err e;

	if ((e = open_disc(r, idx, leaf, len, env, &names, &values, &n, &forgotten)) !=
	    SAKSI_OK)
		return e;
	if (bank != NULL && claim != NULL &&
	    (v = disclosed(names, values, n, "bank_account")) != NULL &&
	    saksi_blind_account(r->b, bank, v, tok) == SAKSI_OK)
		e = tok_add(&r->acct, tok, claim);
	else
		r->acct.unattributed++;
	saksi_disclosures_free(names, values, n);
	return e;
}

/* The queue of a ticket: branch, date, service and the ticket's letters (A-, V-: each
 * line numbers its tickets from 1). */
static int
queue_key(json_t *p, char out[QUEUE_KEY_MAX])
{
	const char *br = pstr(p, "branch"), *d = pstr(p, "queue_date"), *sv = pstr(p, "service"),
	    *tk = pstr(p, "ticket");
	int n;

	if (br == NULL || d == NULL || sv == NULL || tk == NULL)
		return -1;
	n = snprintf(out, QUEUE_KEY_MAX, "%s|%s|%s|%.*s", br, d, sv,
	    (int)strspn(tk, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"), tk);
	return n > 0 && n < QUEUE_KEY_MAX ? 0 : -1;
}

static saksi_err
on_queue(struct rep *r, json_t *p, int call, uint64_t t, uint64_t idx)
{
	json_t *seq = json_object_get(p, "ticket_seq");
	struct qev *q;
	const char *prio = pstr(p, "priority"), *off = pstr(p, "officer_id");

	if (!json_is_integer(seq) || json_integer_value(seq) < 1 ||
	    json_integer_value(seq) > 9999)
		return SAKSI_OK;
	if (call && (off == NULL || strlen(off) >= OFFICER_MAX ||
	    json_integer_value(json_object_get(p, "call_count")) != 1))
		return SAKSI_OK;   /* a repeated call is not a new choice of whom to serve */
	if (grow((void **)&r->q, &r->capq, r->nq, sizeof(*r->q)) != 0)
		return SAKSI_ERR_NOMEM;
	q = &r->q[r->nq];
	memset(q, 0, sizeof(*q));
	if (queue_key(p, q->qe_queue) != 0)
		return SAKSI_OK;
	q->qe_seq = (uint32_t)json_integer_value(seq);
	q->qe_call = call;
	q->qe_exempt = call && prio != NULL && (strcmp(prio, "priority") == 0 ||
	    strcmp(prio, "urgent") == 0);
	q->qe_time = t;
	q->qe_leaf = idx;
	if (call)
		snprintf(q->qe_officer, sizeof(q->qe_officer), "%s", off);
	r->nq++;
	return SAKSI_OK;
}

/* A service start: the waits since its booking and since its check-in. */
static saksi_err
on_service(struct rep *r, json_t *p, uint64_t t)
{
	const char *bk = pstr(p, "booking_id");
	uint32_t day = day_of(r, t);
	uint64_t tb;
	saksi_err e;

	if (bk == NULL) {
		r->wait_book.unmatched++;
		r->wait_in.unmatched++;
		return SAKSI_OK;
	}
	e = booking_time(r, bk, "queue.booking.created", &tb);
	if (e == SAKSI_OK && tb <= t)
		e = sample_add(&r->wait_book, day, (double)(t - tb) / 3600000.0);
	else if (e == SAKSI_OK || e == SAKSI_ERR_NOT_FOUND)
		r->wait_book.unmatched++, e = SAKSI_OK;
	if (e != SAKSI_OK)
		return e;
	e = booking_time(r, bk, "queue.checkin", &tb);
	if (e == SAKSI_OK && tb <= t)
		e = sample_add(&r->wait_in, day, (double)(t - tb) / 60000.0);
	else if (e == SAKSI_OK || e == SAKSI_ERR_NOT_FOUND)
		r->wait_in.unmatched++, e = SAKSI_OK;
	return e;
}

static saksi_err
on_event(struct rep *r, uint64_t idx)
{
	uint8_t *leaf = NULL;
	size_t len, c;
	saksi_leaf lf;
	saksi_envelope env;
	json_t *p = NULL;
	const char *ch;
	saksi_err e;

	if ((e = saksi_ledger_leaf(r->txn, idx, &leaf, &len)) != SAKSI_OK)
		return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
	if (saksi_leaf_parse(leaf, len, &lf) != SAKSI_OK || lf.lf_kind != SAKSI_LEAF_EVENT ||
	    saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &env) != SAKSI_OK ||
	    (p = json_loadb((const char *)env.ev_payload, env.ev_payload_len,
	    JSON_REJECT_DUPLICATES, NULL)) == NULL || !json_is_object(p)) {
		e = SAKSI_ERR_CORRUPT;
		goto out;
	}
	if (r->o->ro_branch != NULL &&
	    (pstr(p, "branch") == NULL || strcmp(pstr(p, "branch"), r->o->ro_branch) != 0))
		goto out;   /* a time-only scan meets every branch; the index gave this one */
	if (env.ev_time_ms < r->o->ro_since_ms || env.ev_time_ms > r->o->ro_until_ms) {
		e = SAKSI_ERR_CORRUPT;   /* the time index says otherwise */
		goto out;
	}
	r->events++;
	if (r->events == 1 || idx < r->lo)
		r->lo = idx;
	if (idx > r->hi)
		r->hi = idx;
	ch = pstr(p, "channel");
	for (c = 0; ch != NULL && c < NCHAN - 1 && strcmp(ch, chan_value[c]) != 0; c++)
		;
	if (ch == NULL)
		c = NCHAN - 1;
	if (c < NCHAN)
		r->per_chan[(size_t)day_of(r, env.ev_time_ms) * NCHAN + c]++;
	if (strcmp(env.ev_type, "queue.booking.created") == 0)
		e = on_booking(r, idx, leaf, len, &env);
	else if (strcmp(env.ev_type, "claim.payment.sent") == 0)
		e = on_payment(r, idx, leaf, len, &env, p);
	else if (strcmp(env.ev_type, "queue.checkin") == 0)
		e = on_queue(r, p, 0, env.ev_time_ms, idx);
	else if (strcmp(env.ev_type, "queue.called") == 0)
		e = on_queue(r, p, 1, env.ev_time_ms, idx);
	else if (strcmp(env.ev_type, "queue.service.started") == 0)
		e = on_service(r, p, env.ev_time_ms);
out:
	json_decref(p);
	free(leaf);
	return e;
}

/* Every event of the period: by branch through the branch index, else by time alone. */
static saksi_err
read_period(struct rep *r)
{
	saksi_index_term term = { SAKSI_IX_BRANCH, r->o->ro_branch };
	saksi_index_query q;
	saksi_index_hit *hits;
	size_t n, max = r->o->ro_branch != NULL ? PAGE : 65536;
	int more;
	saksi_err e;

	memset(&q, 0, sizeof(q));
	q.iq_since_ms = r->o->ro_since_ms;
	q.iq_until_ms = r->o->ro_until_ms;
	if (r->o->ro_branch != NULL) {
		q.iq_terms = &term;
		q.iq_nterms = 1;
	}
	if ((hits = malloc(max * sizeof(*hits))) == NULL)
		return SAKSI_ERR_NOMEM;
	for (;;) {
		e = saksi_index_query_run(r->mt, r->dbi, &q, hits, max, &n, &more);
		if (e != SAKSI_OK)
			break;
		if (more && r->o->ro_branch == NULL && max < SAKSI_INDEX_TIME_ONLY_MAX) {
			/* A time-only query reads the whole range each time: ask once more for
			 * all of it rather than page through it. */
			saksi_index_hit *g = realloc(hits, SAKSI_INDEX_TIME_ONLY_MAX * sizeof(*g));

			if (g == NULL) {
				e = SAKSI_ERR_NOMEM;
				break;
			}
			hits = g;
			max = SAKSI_INDEX_TIME_ONLY_MAX;
			continue;
		}
		for (size_t i = 0; i < n && e == SAKSI_OK; i++)
			e = on_event(r, hits[i].ih_index);
		if (e != SAKSI_OK || !more || n == 0)
			break;
		q.iq_after = hits[n - 1].ih_index;
		q.iq_has_after = 1;
	}
	free(hits);
	return e;
}

/*
 * The alert entries raised about the period: read from the ledger from the period's
 * first event on (alerts are written after the events that raise them) until the events
 * are past the period by SAKSI_REPORT_ALERT_MARGIN_MS. Re-raises repeat an alert and are
 * left out; refusal alerts belong to no branch and count only without --branch.
 */
static saksi_err
read_alerts(struct rep *r)
{
	uint64_t size = saksi_ledger_size(r->txn), stop = r->o->ro_until_ms;
	saksi_err e = SAKSI_OK;

	if (r->events == 0)
		return SAKSI_OK;
	stop = stop > UINT64_MAX - SAKSI_REPORT_ALERT_MARGIN_MS ? UINT64_MAX :
	    stop + SAKSI_REPORT_ALERT_MARGIN_MS;
	for (uint64_t i = r->lo; i < size && e == SAKSI_OK; i++) {
		uint8_t *leaf = NULL;
		size_t len;
		saksi_leaf lf;
		saksi_envelope env;
		saksi_alert a;
		int done = 0;

		if ((e = saksi_ledger_leaf(r->txn, i, &leaf, &len)) != SAKSI_OK)
			break;
		if (saksi_leaf_parse(leaf, len, &lf) != SAKSI_OK) {
			e = SAKSI_ERR_CORRUPT;
		} else if (lf.lf_kind == SAKSI_LEAF_EVENT) {
			done = i > r->hi && saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &env) ==
			    SAKSI_OK && env.ev_time_ms > stop;
		} else if (lf.lf_kind == SAKSI_LEAF_ALERT) {
			if (saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &a) != SAKSI_OK)
				e = SAKSI_ERR_CORRUPT;
			else if (a.al_kind != SAKSI_ALERT_RERAISE &&
			    a.al_last_ms >= r->o->ro_since_ms && a.al_last_ms <= r->o->ro_until_ms &&
			    !(a.al_kind == SAKSI_ALERT_REFUSALS && r->o->ro_branch != NULL)) {
				int keep = 1;

				if (r->o->ro_branch != NULL) {
					/* The branch of the event that raised it. */
					uint8_t *tl = NULL;
					size_t tlen;
					saksi_leaf tf;
					json_t *p = NULL;

					keep = 0;
					if (a.al_trigger < i && saksi_ledger_leaf(r->txn, a.al_trigger,
					    &tl, &tlen) == SAKSI_OK && saksi_leaf_parse(tl, tlen, &tf) ==
					    SAKSI_OK && tf.lf_kind == SAKSI_LEAF_EVENT &&
					    saksi_envelope_parse(tf.lf_body, tf.lf_body_len, &env) ==
					    SAKSI_OK && (p = json_loadb((const char *)env.ev_payload,
					    env.ev_payload_len, 0, NULL)) != NULL)
						keep = pstr(p, "branch") != NULL &&
						    strcmp(pstr(p, "branch"), r->o->ro_branch) == 0;
					json_decref(p);
					free(tl);
				}
				if (keep && grow((void **)&r->al, &r->capal, r->nal,
				    sizeof(*r->al)) != 0)
					e = SAKSI_ERR_NOMEM;
				else if (keep) {
					snprintf(r->al[r->nal].ar_rule, sizeof(r->al[r->nal].ar_rule),
					    "%s", a.al_rule);
					r->al[r->nal].ar_day = day_of(r, a.al_last_ms);
					r->nal++;
				}
			}
		}
		free(leaf);
		if (done)
			break;
	}
	return e;
}

/* ---- out of order ---- */

static int
qev_cmp(const void *a, const void *b)
{
	const struct qev *x = a, *y = b;
	int c = strcmp(x->qe_queue, y->qe_queue);

	if (c != 0)
		return c;
	if (x->qe_time != y->qe_time)
		return x->qe_time < y->qe_time ? -1 : 1;
	return x->qe_leaf < y->qe_leaf ? -1 : x->qe_leaf > y->qe_leaf;
}

static struct officer *
officer_get(struct rep *r, const char *id, size_t *cap)
{
	for (size_t i = 0; i < r->noff; i++)
		if (strcmp(r->off[i].of_id, id) == 0)
			return &r->off[i];
	if (grow((void **)&r->off, cap, r->noff, sizeof(*r->off)) != 0)
		return NULL;
	memset(&r->off[r->noff], 0, sizeof(r->off[0]));
	snprintf(r->off[r->noff].of_id, sizeof(r->off[0].of_id), "%s", id);
	return &r->off[r->noff++];
}

static int
officer_cmp(const void *a, const void *b)
{
	return strcmp(((const struct officer *)a)->of_id, ((const struct officer *)b)->of_id);
}

/*
 * Each queue in time order: a first call skips the tickets with a lower number that
 * checked in at or before it (and within OOO_SPAN_MS) and were not called yet. Tickets
 * are numbered 1..9999 in a queue, so per queue two arrays by number do: a call costs a
 * pass over the numbers below its own.
 */
static saksi_err
judge_calls(struct rep *r)
{
	uint64_t *in = NULL;      /* first check-in time + 1; 0: not checked in */
	unsigned char *called = NULL;
	size_t cap = 0;
	saksi_err e = SAKSI_OK;

	if (r->nq > 1)
		qsort(r->q, r->nq, sizeof(*r->q), qev_cmp);
	if (r->nq > 0 && ((in = calloc(10000, sizeof(*in))) == NULL ||
	    (called = calloc(10000, 1)) == NULL)) {
		free(in);
		return SAKSI_ERR_NOMEM;
	}
	for (size_t i = 0; i < r->nq && e == SAKSI_OK;) {
		size_t j = i;
		uint32_t top = 0;

		while (j < r->nq && strcmp(r->q[j].qe_queue, r->q[i].qe_queue) == 0)
			j++;
		for (size_t k = i; k < j && e == SAKSI_OK; k++) {
			const struct qev *c = &r->q[k];
			struct officer *of;
			size_t skipped = 0;

			if (c->qe_seq > top)
				top = c->qe_seq;
			if (!c->qe_call) {
				if (in[c->qe_seq] == 0)
					in[c->qe_seq] = c->qe_time + 1;
				continue;
			}
			if (called[c->qe_seq])
				continue;   /* only a ticket's first call chooses whom to serve */
			called[c->qe_seq] = 1;
			for (uint32_t u = 1; u < c->qe_seq; u++)
				skipped += in[u] != 0 && !called[u] && in[u] - 1 <= c->qe_time &&
				    c->qe_time - (in[u] - 1) <= OOO_SPAN_MS;
			if ((of = officer_get(r, c->qe_officer, &cap)) == NULL) {
				e = SAKSI_ERR_NOMEM;
				break;
			}
			of->of_calls++;
			if (c->qe_exempt)
				of->of_exempt++;
			else if (skipped > OOO_PLACES)
				of->of_ooo++;
		}
		memset(in, 0, (top + 1) * sizeof(*in));
		memset(called, 0, top + 1);
		i = j;
	}
	free(in);
	free(called);
	if (e == SAKSI_OK && r->noff > 1)
		qsort(r->off, r->noff, sizeof(*r->off), officer_cmp);
	return e;
}

/* ---- writing ---- */

static void
esc(FILE *out, const char *s)
{
	saksi_html_escape(out, s);
}

static void
section(FILE *out, const char *id, const char *title, const char *what)
{
	fprintf(out, "<section id=\"%s\">\n<h2>", id);
	esc(out, title);
	fputs("</h2>\n<p class=\"what\">", out);
	esc(out, what);
	fputs("</p>\n", out);
}

static void
nodata(FILE *out, const char *why)
{
	fputs("<p class=\"nodata\">No data: ", out);
	esc(out, why);
	fputs("</p>\n</section>\n", out);
}

static saksi_err
write_channels(FILE *out, struct rep *r)
{
	double *v = calloc(r->ndays * NCHAN, sizeof(*v));
	const char *cats[SAKSI_REPORT_DAYS_MAX];
	saksi_chart c;
	saksi_err e = SAKSI_OK;

	if (v == NULL)
		return SAKSI_ERR_NOMEM;
	section(out, "channels", "Events per day by channel", "Every event of the period, "
	    "by the channel field it carries (claims: web portal, mobile app, counter, partner "
	    "HR portal; queue events: their channel where the schema has one); events "
	    "without one (document checks, calls, payments...) are counted apart.");
	for (size_t d = 0; d < r->ndays; d++) {
		cats[d] = r->dayname[d];
		for (size_t k = 0; k < NCHAN; k++)
			v[d * NCHAN + k] = (double)r->per_chan[d * NCHAN + k];
	}
	if (r->events == 0) {
		free(v);
		nodata(out, "no event in this period.");
		return SAKSI_OK;
	}
	memset(&c, 0, sizeof(c));
	c.ch_id = "chart-channels";
	c.ch_title = "Events per day by channel";
	c.ch_desc = "Stacked bars, one per day: the number of events of each channel.";
	c.ch_xlabel = "day";
	c.ch_ylabel = "events (count)";
	c.ch_cats = cats;
	c.ch_ncats = r->ndays;
	c.ch_series = chan_label;
	c.ch_nseries = NCHAN;
	c.ch_values = v;
	c.ch_stacked = 1;
	if ((e = saksi_chart_bars(out, &c)) == SAKSI_OK) {
		fputs("<table class=\"numbers\" data-chart=\"chart-channels\"><thead><tr><th>day</th>",
		    out);
		for (size_t k = 0; k < NCHAN; k++) {
			fputs("<th>", out);
			esc(out, chan_label[k]);
			fputs("</th>", out);
		}
		fputs("<th>total</th></tr></thead><tbody>\n", out);
		for (size_t d = 0; d < r->ndays; d++) {
			uint64_t tot = 0;

			fprintf(out, "<tr><td>%s</td>", r->dayname[d]);
			for (size_t k = 0; k < NCHAN; k++) {
				fprintf(out, "<td>%" PRIu64 "</td>", r->per_chan[d * NCHAN + k]);
				tot += r->per_chan[d * NCHAN + k];
			}
			fprintf(out, "<td>%" PRIu64 "</td></tr>\n", tot);
		}
		fputs("</tbody></table>\n</section>\n", out);
	}
	free(v);
	return e;
}

static int
sample_cmp(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;

	if (x->sa_day != y->sa_day)
		return x->sa_day < y->sa_day ? -1 : 1;
	return x->sa_v < y->sa_v ? -1 : x->sa_v > y->sa_v;
}

/* Nearest rank: the smallest value with at least q of the values at or below it. */
static double
pct(const struct sample *v, size_t n, double q)
{
	size_t k = (size_t)ceil(q * (double)n);

	return v[k == 0 ? 0 : k - 1].sa_v;
}

static saksi_err
write_waits(FILE *out, struct rep *r, struct samples *s, const char *id, const char *title,
            const char *what, const char *unit)
{
	static const char *const series[] = { "median (p50)", "p90" };
	const char *cats[SAKSI_REPORT_DAYS_MAX];
	double *v = calloc(r->ndays * 2, sizeof(*v));
	size_t *first = calloc(r->ndays + 1, sizeof(*first));
	char chart_id[SAKSI_CHART_ID_MAX + 1], ylabel[64], desc[256];
	saksi_chart c;
	saksi_err e = SAKSI_OK;

	if (v == NULL || first == NULL) {
		free(v);
		free(first);
		return SAKSI_ERR_NOMEM;
	}
	section(out, id, title, what);
	if (s->n == 0) {
		nodata(out, "no service start in this period could be joined to its booking.");
		goto done;
	}
	qsort(s->v, s->n, sizeof(*s->v), sample_cmp);
	/* first[d]: where day d's samples start. */
	for (size_t i = 0, d = 0; d <= r->ndays; d++) {
		while (i < s->n && s->v[i].sa_day < d)
			i++;
		first[d] = i;
	}
	for (size_t d = 0; d < r->ndays; d++) {
		size_t n = (d + 1 < r->ndays ? first[d + 1] : s->n) - first[d];

		cats[d] = r->dayname[d];
		if (n > 0) {
			v[d * 2] = pct(s->v + first[d], n, 0.5);
			v[d * 2 + 1] = pct(s->v + first[d], n, 0.9);
		}
	}
	snprintf(chart_id, sizeof(chart_id), "chart-%s", id);
	snprintf(ylabel, sizeof(ylabel), "wait (%s)", unit);
	snprintf(desc, sizeof(desc), "Bars side by side, one pair per day: the median and the "
	    "90th percentile of the wait, in %s.", unit);
	memset(&c, 0, sizeof(c));
	c.ch_id = chart_id;
	c.ch_title = title;
	c.ch_desc = desc;
	c.ch_xlabel = "day of service";
	c.ch_ylabel = ylabel;
	c.ch_cats = cats;
	c.ch_ncats = r->ndays;
	c.ch_series = series;
	c.ch_nseries = 2;
	c.ch_values = v;
	if ((e = saksi_chart_bars(out, &c)) != SAKSI_OK)
		goto done;
	fprintf(out, "<table class=\"numbers\" data-chart=\"%s\"><thead><tr><th>day</th>"
	    "<th>services</th><th>median (%s)</th><th>p90 (%s)</th><th>max (%s)</th></tr>"
	    "</thead><tbody>\n", chart_id, unit, unit, unit);
	for (size_t d = 0; d < r->ndays; d++) {
		size_t n = (d + 1 < r->ndays ? first[d + 1] : s->n) - first[d];

		fprintf(out, "<tr><td>%s</td><td>%zu</td>", r->dayname[d], n);
		if (n == 0)
			fputs("<td>-</td><td>-</td><td>-</td></tr>\n", out);
		else
			fprintf(out, "<td>%.1f</td><td>%.1f</td><td>%.1f</td></tr>\n", v[d * 2],
			    v[d * 2 + 1], s->v[first[d] + n - 1].sa_v);
	}
	fprintf(out, "</tbody></table>\n<p class=\"note\">Service starts without a booking or "
	    "check-in to join (walk-ins without one, or one outside the ledger): %" PRIu64
	    ". Percentiles are nearest-rank.</p>\n</section>\n", s->unmatched);
done:
	free(v);
	free(first);
	return e;
}

static int
tokrow_cmp(const void *a, const void *b)
{
	const struct tokrow *x = a, *y = b;
	int c = strcmp(x->tr_tok, y->tr_tok);

	return c != 0 ? c : strcmp(x->tr_who, y->tr_who);
}

struct tokcount {
	const char *tc_tok;
	uint64_t tc_n, tc_distinct;
};

static int
tokcount_cmp(const void *a, const void *b)
{
	const struct tokcount *x = a, *y = b;

	if (x->tc_n != y->tc_n)
		return x->tc_n > y->tc_n ? -1 : 1;
	return strcmp(x->tc_tok, y->tc_tok);
}

/* The bins of a distribution: 1..9 each, then 10-19, 20-49, 50 and more. */
#define NBINS 12
static const uint64_t bin_lo[NBINS] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 50 };
static const char *const bin_name[NBINS] = { "1", "2", "3", "4", "5", "6", "7", "8", "9",
	"10-19", "20-49", "50+" };

static size_t
bin_of(uint64_t k)
{
	size_t b = NBINS - 1;

	while (b > 0 && k < bin_lo[b])
		b--;
	return b;
}

/*
 * A distribution over tokens: how many tokens had k rows, bars highlighted from tail on;
 * then the numbers, and the tokens with the most rows (shortened).
 */
static saksi_err
write_dist(FILE *out, struct toks *t, const char *id, const char *title, const char *what,
           const char *thing, const char *rows, const char *distinct, uint64_t tail)
{
	static const char *const series[] = { "count" };
	struct tokcount *tc = NULL;
	size_t ntc = 0, nbins;
	double v[NBINS];
	uint64_t ntok[NBINS];
	unsigned char mark[NBINS];
	char chart_id[SAKSI_CHART_ID_MAX + 1], xlabel[96], ylabel[96], desc[300], mlabel[96];
	uint64_t in_tail = 0, rows_tail = 0;
	saksi_chart c;
	saksi_err e = SAKSI_OK;

	section(out, id, title, what);
	if (t->n == 0) {
		fprintf(out, "<p class=\"nodata\">No data: nothing to count in this period "
		    "(not attributable: %" PRIu64 ").</p>\n</section>\n", t->unattributed);
		return SAKSI_OK;
	}
	qsort(t->v, t->n, sizeof(*t->v), tokrow_cmp);
	if ((tc = calloc(t->n, sizeof(*tc))) == NULL)
		return SAKSI_ERR_NOMEM;
	for (size_t i = 0; i < t->n; i++) {
		if (ntc == 0 || strcmp(tc[ntc - 1].tc_tok, t->v[i].tr_tok) != 0) {
			tc[ntc].tc_tok = t->v[i].tr_tok;
			ntc++;
		}
		tc[ntc - 1].tc_n++;
		if (i == 0 || strcmp(t->v[i - 1].tr_tok, t->v[i].tr_tok) != 0 ||
		    strcmp(t->v[i - 1].tr_who, t->v[i].tr_who) != 0)
			tc[ntc - 1].tc_distinct += t->v[i].tr_who[0] != '\0';
	}
	qsort(tc, ntc, sizeof(*tc), tokcount_cmp);
	/* The bars are rows, not tokens: one device with 17 bookings is one token but 17
	 * bookings, and it is the bookings whose origin the tail shows. */
	memset(v, 0, sizeof(v));
	memset(ntok, 0, sizeof(ntok));
	for (size_t i = 0; i < ntc; i++) {
		v[bin_of(tc[i].tc_n)] += (double)tc[i].tc_n;
		ntok[bin_of(tc[i].tc_n)]++;
		if (tc[i].tc_n >= tail) {
			in_tail++;
			rows_tail += tc[i].tc_n;
		}
	}
	/* Bins up to the highest one used, so the tail shows where it ends. */
	for (nbins = NBINS; nbins > 1 && v[nbins - 1] == 0; nbins--)
		;
	for (size_t b = 0; b < NBINS; b++)
		mark[b] = bin_lo[b] >= tail;
	snprintf(chart_id, sizeof(chart_id), "chart-%s", id);
	snprintf(xlabel, sizeof(xlabel), "%s per %s (count)", rows, thing);
	snprintf(ylabel, sizeof(ylabel), "%s (count)", rows);
	snprintf(mlabel, sizeof(mlabel), "long tail: %ss with %" PRIu64 " or more %s", thing,
	    tail, rows);
	snprintf(desc, sizeof(desc), "A histogram over %ss: for each number of %s one %s had, "
	    "the %s of all the %ss that had that many. Bars from %" PRIu64 " on, the long "
	    "tail, are highlighted.", thing, rows, thing, rows, thing, tail);
	memset(&c, 0, sizeof(c));
	c.ch_id = chart_id;
	c.ch_title = title;
	c.ch_desc = desc;
	c.ch_xlabel = xlabel;
	c.ch_ylabel = ylabel;
	c.ch_cats = bin_name;
	c.ch_ncats = nbins;
	c.ch_series = series;
	c.ch_nseries = 1;
	c.ch_values = v;
	c.ch_mark = mark;
	c.ch_mark_label = mlabel;
	if ((e = saksi_chart_bars(out, &c)) != SAKSI_OK)
		goto done;
	fprintf(out, "<table class=\"numbers\" data-chart=\"%s\"><thead><tr><th>%s per ",
	    chart_id, rows);
	esc(out, thing);
	fprintf(out, "</th><th>%ss</th><th>%s</th></tr></thead><tbody>\n", thing, rows);
	for (size_t b = 0; b < nbins; b++)
		fprintf(out, "<tr%s><td>%s</td><td>%" PRIu64 "</td><td>%.0f</td></tr>\n",
		    mark[b] ? " class=\"tail\"" : "", bin_name[b], ntok[b], v[b]);
	fprintf(out, "</tbody></table>\n<p class=\"note\">%zu %ss, %zu %s; in the long tail "
	    "(%" PRIu64 " or more): %" PRIu64 " %ss with %" PRIu64 " %s. Not attributable "
	    "(a forgotten participant, or no value given): %" PRIu64 ".</p>\n", ntc, thing,
	    t->n, rows, tail, in_tail, thing, rows_tail, rows, t->unattributed);
	fprintf(out, "<table class=\"top\" data-chart=\"%s\"><caption>The %ss with the most "
	    "%s (blind tokens, first %d characters)</caption><thead><tr><th>rank</th>"
	    "<th>token</th><th>%s</th><th>%s</th></tr></thead><tbody>\n", chart_id, thing,
	    rows, SAKSI_REPORT_TOKEN_SHOWN, rows, distinct);
	for (size_t i = 0; i < ntc && i < TOP_N; i++)
		fprintf(out, "<tr%s><td>%zu</td><td><code>%.*s&#8230;</code></td><td>%" PRIu64
		    "</td><td>%" PRIu64 "</td></tr>\n", tc[i].tc_n >= tail ? " class=\"tail\"" : "",
		    i + 1, SAKSI_REPORT_TOKEN_SHOWN, tc[i].tc_tok, tc[i].tc_n, tc[i].tc_distinct);
	fputs("</tbody></table>\n</section>\n", out);
done:
	free(tc);
	return e;
}

static saksi_err
write_alerts(FILE *out, struct rep *r)
{
	const char *names[SAKSI_CHART_SERIES_MAX];
	const char *cats[SAKSI_REPORT_DAYS_MAX];
	size_t nr = 0, other = SIZE_MAX;
	uint64_t *cnt;
	double *v;
	saksi_chart c;
	saksi_err e = SAKSI_OK;

	section(out, "alerts", "Alerts per rule over time", "The detectors' alert entries "
	    "about the period, by the day of their latest evidence and by rule (re-raises of "
	    "an open alert are not counted again).");
	if (r->nal == 0) {
		nodata(out, "no alert about this period.");
		return SAKSI_OK;
	}
	/* The series: each rule seen, past the chart's colours all in "other rules". */
	for (size_t i = 0; i < r->nal; i++) {
		size_t k;

		for (k = 0; k < nr && strcmp(names[k], r->al[i].ar_rule) != 0; k++)
			;
		if (k == nr && nr < SAKSI_CHART_SERIES_MAX - 1)
			names[nr++] = r->al[i].ar_rule;
	}
	for (size_t i = 0; i < r->nal && other == SIZE_MAX; i++) {
		size_t k;

		for (k = 0; k < nr && strcmp(names[k], r->al[i].ar_rule) != 0; k++)
			;
		if (k == nr) {
			other = nr;
			names[nr++] = "other rules";
		}
	}
	cnt = calloc(r->ndays * nr, sizeof(*cnt));
	v = calloc(r->ndays * nr, sizeof(*v));
	if (cnt == NULL || v == NULL) {
		free(cnt);
		free(v);
		return SAKSI_ERR_NOMEM;
	}
	for (size_t i = 0; i < r->nal; i++) {
		size_t k;

		for (k = 0; k < nr && (k == other || strcmp(names[k], r->al[i].ar_rule) != 0); k++)
			;
		if (k == nr)
			k = other;
		cnt[r->al[i].ar_day * nr + k]++;
	}
	for (size_t d = 0; d < r->ndays; d++) {
		cats[d] = r->dayname[d];
		for (size_t k = 0; k < nr; k++)
			v[d * nr + k] = (double)cnt[d * nr + k];
	}
	memset(&c, 0, sizeof(c));
	c.ch_id = "chart-alerts";
	c.ch_title = "Alerts per rule over time";
	c.ch_desc = "Stacked bars, one per day: the alerts raised, by rule.";
	c.ch_xlabel = "day (of the latest evidence)";
	c.ch_ylabel = "alerts (count)";
	c.ch_cats = cats;
	c.ch_ncats = r->ndays;
	c.ch_series = names;
	c.ch_nseries = nr;
	c.ch_values = v;
	c.ch_stacked = 1;
	if ((e = saksi_chart_bars(out, &c)) == SAKSI_OK) {
		fputs("<table class=\"numbers\" data-chart=\"chart-alerts\"><thead><tr>"
		    "<th>rule</th><th>day</th><th>alerts</th></tr></thead><tbody>\n", out);
		for (size_t k = 0; k < nr; k++)
			for (size_t d = 0; d < r->ndays; d++) {
				if (cnt[d * nr + k] == 0)
					continue;
				fputs("<tr><td>", out);
				esc(out, names[k]);
				fprintf(out, "</td><td>%s</td><td>%" PRIu64 "</td></tr>\n",
				    r->dayname[d], cnt[d * nr + k]);
			}
		fprintf(out, "</tbody></table>\n<p class=\"note\">%zu alerts.</p>\n</section>\n",
		    r->nal);
	}
	free(cnt);
	free(v);
	return e;
}

static saksi_err
write_officers(FILE *out, struct rep *r)
{
	static const char *const series[] = { "out-of-order rate" };
	const char **cats;
	double *v;
	saksi_chart c;
	saksi_err e;

	section(out, "officers", "Officers' out-of-order call rate", "Per officer: the first "
	    "calls of a ticket that skipped more than 3 people who had checked in before it "
	    "(within 2 hours before the call) and were not called yet, out of all the "
	    "officer's first calls, as the rule queue_out_of_order judges a call; priority and "
	    "urgent calls are exempt. Each ticket line (A-, B-, V-...) of a branch, service "
	    "and day is one queue.");
	if (r->noff == 0) {
		nodata(out, "no call in this period.");
		return SAKSI_OK;
	}
	if (r->noff > SAKSI_CHART_CATS_MAX) {
		fputs("<p class=\"note\">Too many officers for one chart: the table has them "
		    "all.</p>\n", out);
	}
	cats = calloc(r->noff, sizeof(*cats));
	v = calloc(r->noff, sizeof(*v));
	if (cats == NULL || v == NULL) {
		free(cats);
		free(v);
		return SAKSI_ERR_NOMEM;
	}
	for (size_t i = 0; i < r->noff; i++) {
		cats[i] = r->off[i].of_id;
		v[i] = 100.0 * (double)r->off[i].of_ooo / (double)r->off[i].of_calls;
	}
	memset(&c, 0, sizeof(c));
	c.ch_id = "chart-officers";
	c.ch_title = "Officers' out-of-order call rate";
	c.ch_desc = "One bar per officer: the share of the officer's calls that were out of "
	    "order, in per cent.";
	c.ch_xlabel = "officer";
	c.ch_ylabel = "calls out of order (%)";
	c.ch_cats = cats;
	c.ch_ncats = r->noff > SAKSI_CHART_CATS_MAX ? SAKSI_CHART_CATS_MAX : r->noff;
	c.ch_series = series;
	c.ch_nseries = 1;
	c.ch_values = v;
	if ((e = saksi_chart_bars(out, &c)) == SAKSI_OK) {
		fputs("<table class=\"numbers\" data-chart=\"chart-officers\"><thead><tr>"
		    "<th>officer</th><th>calls</th><th>out of order</th><th>priority (exempt)"
		    "</th><th>rate (%)</th></tr></thead><tbody>\n", out);
		for (size_t i = 0; i < r->noff; i++) {
			fputs("<tr><td>", out);
			esc(out, r->off[i].of_id);
			fprintf(out, "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
			    "</td><td>%.1f</td></tr>\n", r->off[i].of_calls, r->off[i].of_ooo,
			    r->off[i].of_exempt, v[i]);
		}
		fputs("</tbody></table>\n</section>\n", out);
	}
	free(cats);
	free(v);
	return e;
}

static const char style[] =
"body{font-family:sans-serif;max-width:960px;margin:1em auto;padding:0 1em;color:#222}"
"h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}"
"table{border-collapse:collapse;margin:.6em 0;font-size:.85em}"
"th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}"
"th:first-child,td:first-child{text-align:left}tr.tail td{background:#fbe3e0}"
"caption{text-align:left;font-weight:bold;padding:.3em 0}"
".nodata{font-style:italic;color:#555}.note,.what{font-size:.9em;color:#444}"
"svg.chart{max-width:100%;height:auto;display:block}";

static void
iso_day(int64_t day, char out[11])
{
	time_t t = (time_t)(day * 86400);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 11, "%Y-%m-%d", &tm) != 10)
		snprintf(out, 11, "?");
}

static void
iso_time(const struct rep *r, uint64_t ms, char *out, size_t len)
{
	time_t t = (time_t)((int64_t)(ms / 1000) + (int64_t)r->o->ro_utc_offset_min * 60);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, len, "?");
}

static saksi_err
write_html(FILE *out, struct rep *r)
{
	const saksi_report_opts *o = r->o;
	char a[32], b[32], now[32], off[16];
	int m = o->ro_utc_offset_min < 0 ? -o->ro_utc_offset_min : o->ro_utc_offset_min;
	saksi_err e;

	iso_time(r, o->ro_since_ms, a, sizeof(a));
	iso_time(r, o->ro_until_ms, b, sizeof(b));
	iso_time(r, o->ro_now_ms, now, sizeof(now));
	snprintf(off, sizeof(off), "UTC%c%02d:%02d", o->ro_utc_offset_min < 0 ? '-' : '+',
	    m / 60, m % 60);
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<title>saksi report ", out);
	fprintf(out, "%.10s to %.10s", a, b);
	if (o->ro_branch != NULL) {
		fputs(", ", out);
		esc(out, o->ro_branch);
	}
	fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>saksi report</h1>\n"
	    "<table class=\"summary\"><tbody>\n", style);
	if (o->ro_origin != NULL) {
		fputs("<tr><th>ledger</th><td>", out);
		esc(out, o->ro_origin);
		fputs("</td></tr>\n", out);
	}
	fprintf(out, "<tr><th>period</th><td>%s to %s (%s)</td></tr>\n<tr><th>branch</th><td>",
	    a, b, off);
	esc(out, o->ro_branch != NULL ? o->ro_branch : "all branches");
	fprintf(out, "</td></tr>\n<tr><th>days</th><td>%zu</td></tr>\n<tr><th>events</th>"
	    "<td id=\"total-events\">%" PRIu64 "</td></tr>\n<tr><th>generated</th><td>%s (%s), "
	    "from the ledger's %" PRIu64 " entries</td></tr>\n</tbody></table>\n", r->ndays,
	    r->events, now, off, saksi_ledger_size(r->txn));
	fputs("<p class=\"note\">Producer times. No personal value appears in this report: "
	    "devices, phones and accounts are counted by their blind tokens (keyed hashes "
	    "made on the appliance), shown shortened.</p>\n", out);
	if (r->events == 0)
		fputs("<p class=\"nodata\" id=\"no-events\">No data: the ledger holds no event "
		    "in this period.</p>\n", out);
	if ((e = write_channels(out, r)) != SAKSI_OK ||
	    (e = write_waits(out, r, &r->wait_book, "wait-booking",
	    "Wait from booking to service", "From the booking (queue.booking.created) to the "
	    "start of the service (queue.service.started) of the same booking, per day of "
	    "service.", "hours")) != SAKSI_OK ||
	    (e = write_waits(out, r, &r->wait_in, "wait-checkin",
	    "Wait in the branch: check-in to service", "From the check-in at the branch "
	    "(queue.checkin) to the start of the service of the same booking, per day of "
	    "service.", "minutes")) != SAKSI_OK ||
	    (e = write_dist(out, &r->dev, "devices", "Bookings per device", "Queue bookings "
	    "counted by the device that made them. The few devices with many bookings are "
	    "where brokers are found (the default rules look from 6 on); an internet cafe "
	    "or a family can look alike.", "device", "bookings", "distinct NIKs",
	    TAIL_DEVICE)) != SAKSI_OK ||
	    (e = write_dist(out, &r->phone, "phones", "Bookings per phone", "Queue bookings "
	    "counted by the phone number given (the default rules look from 4 on).", "phone",
	    "bookings", "distinct NIKs", TAIL_PHONE)) != SAKSI_OK ||
	    (e = write_alerts(out, r)) != SAKSI_OK ||
	    (e = write_officers(out, r)) != SAKSI_OK ||
	    (e = write_dist(out, &r->acct, "accounts", "Claims paid per account", "Payments "
	    "sent (claim.payment.sent) counted by the receiving bank account (the default "
	    "rules look from 3 claimants on).", "account", "payments", "distinct claims",
	    TAIL_ACCOUNT)) != SAKSI_OK)
		return e;
	fputs("<footer><p class=\"note\">Made by saksi report. Every number can be checked "
	    "against the ledger with saksi query on the appliance.</p></footer>\n"
	    "</body>\n</html>\n", out);
	return ferror(out) ? SAKSI_ERR_IO : SAKSI_OK;
}

/* ---- the entry point ---- */

static int
valid_branch(const char *b)
{
	size_t n = strlen(b);

	if (n == 0 || n > SAKSI_REPORT_BRANCH_MAX)
		return 0;
	for (; *b != '\0'; b++)
		if (*b < '!' || *b > '~')
			return 0;
	return 1;
}

saksi_err
saksi_report_write(FILE *out, saksi_ledger_txn *txn, MDB_dbi dbi, const saksi_blind *b,
                   const saksi_seckey *store, saksi_datakeys *dk,
                   const saksi_report_opts *o)
{
	struct rep r;
	int64_t last;
	saksi_err e;

	if (out == NULL || txn == NULL || b == NULL || store == NULL || o == NULL ||
	    o->ro_since_ms > o->ro_until_ms || o->ro_utc_offset_min < -720 ||
	    o->ro_utc_offset_min > 840 || (o->ro_branch != NULL && !valid_branch(o->ro_branch)))
		return SAKSI_ERR_INVAL;
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.txn = txn;
	r.mt = saksi_ledger_txn_mdb(txn);
	r.dbi = dbi;
	r.b = b;
	r.store = store;
	r.dk = dk;
	r.day0 = local_day(&r, o->ro_since_ms);
	last = local_day(&r, o->ro_until_ms);
	if (last - r.day0 + 1 > SAKSI_REPORT_DAYS_MAX)
		return SAKSI_ERR_RANGE;
	r.ndays = (size_t)(last - r.day0 + 1);
	r.dayname = calloc(r.ndays, sizeof(*r.dayname));
	r.per_chan = calloc(r.ndays * NCHAN, sizeof(*r.per_chan));
	if (r.dayname == NULL || r.per_chan == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	for (size_t d = 0; d < r.ndays; d++)
		iso_day(r.day0 + (int64_t)d, r.dayname[d]);
	if ((e = read_period(&r)) == SAKSI_OK && (e = read_alerts(&r)) == SAKSI_OK &&
	    (e = judge_calls(&r)) == SAKSI_OK)
		e = write_html(out, &r);
out:
	/* Tokens are keyed hashes, not values; wiped anyway, as the index key's output. */
	if (r.dev.v != NULL)
		sodium_memzero(r.dev.v, r.dev.cap * sizeof(*r.dev.v));
	if (r.phone.v != NULL)
		sodium_memzero(r.phone.v, r.phone.cap * sizeof(*r.phone.v));
	if (r.acct.v != NULL)
		sodium_memzero(r.acct.v, r.acct.cap * sizeof(*r.acct.v));
	free(r.dev.v);
	free(r.phone.v);
	free(r.acct.v);
	free(r.wait_book.v);
	free(r.wait_in.v);
	free(r.q);
	free(r.off);
	free(r.al);
	free(r.dayname);
	free(r.per_chan);
	return e;
}
