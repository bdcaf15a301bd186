/*
 * query.c: the query engine (query.h): index hits -> rows with their disclosures opened
 * and masked or revealed, timelines, paging. It only reads: it never prints, logs, exits
 * or writes, and a clear personal value only ever goes into a row the caller asked for.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "query.h"
#include "u64sort.h"

/* The filters in the order the access entry lists them. */
static const saksi_index_field filter_order[] = {
	SAKSI_IX_NIK, SAKSI_IX_KPJ, SAKSI_IX_PHONE, SAKSI_IX_EMAIL, SAKSI_IX_ACCOUNT,
	SAKSI_IX_DEVICE, SAKSI_IX_IP, SAKSI_IX_OFFICER, SAKSI_IX_BRANCH, SAKSI_IX_TYPE,
	SAKSI_IX_CLAIM, SAKSI_IX_BOOKING,
};
#define NORDER (sizeof(filter_order) / sizeof(filter_order[0]))

static saksi_err
fail(saksi_query_result *res, int what, uint64_t idx, saksi_err cause, saksi_err ret)
{
	res->qr_fail_what = what;
	res->qr_fail_index = idx;
	res->qr_fail_cause = cause;
	return ret;
}

/* ---- setup ---- */

saksi_err
saksi_query_index(saksi_ledger_txn *txn, const saksi_blind *b, MDB_dbi *dbi, uint64_t *upto)
{
	uint8_t have[8], want[8];
	uint64_t u;
	saksi_err e;

	if (txn == NULL || b == NULL || dbi == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = saksi_index_open(saksi_ledger_txn_mdb(txn), 0, dbi)) != SAKSI_OK)
		return e;
	if ((e = saksi_index_state(saksi_ledger_txn_mdb(txn), *dbi, &u, have)) != SAKSI_OK)
		return e;
	if ((e = saksi_index_keycheck(b, want)) != SAKSI_OK)
		return e;
	if (sodium_memcmp(have, want, 8) != 0)
		return SAKSI_ERR_KEY;
	if (upto != NULL)
		*upto = u;
	return SAKSI_OK;
}

saksi_err
saksi_query_blind(const saksi_blind *b, saksi_index_field f, const char *clear,
                  char token[SAKSI_BLIND_TOKEN_LEN + 1])
{
	saksi_blind_kind k;

	if (b == NULL || clear == NULL || token == NULL)
		return SAKSI_ERR_INVAL;
	token[0] = '\0';
	if (f <= SAKSI_IX_STATE || f >= SAKSI_IX__COUNT || !saksi_index_field_personal(f) ||
	    (k = saksi_index_field_kind(f)) == SAKSI_BLIND_NONE)
		return SAKSI_ERR_INVAL;
	return saksi_blind_token(b, k, clear, strlen(clear), token);
}

/* ---- the spec ---- */

static int
plain_ok(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > SAKSI_QUERY_VALUE_MAX)
		return 0;
	for (const char *s = v; *s != '\0'; s++)
		if (*s < '!' || *s > '~' || *s == ',' || *s == '=')
			return 0;
	return 1;
}

int
saksi_query_spec_personal(const saksi_query_spec *s)
{
	for (size_t i = 0; i < NORDER; i++)
		if (s->qs_value[filter_order[i]] != NULL &&
		    saksi_index_field_personal(filter_order[i]))
			return 1;
	return 0;
}

saksi_err
saksi_query_spec_check(const saksi_query_spec *s, const char **why)
{
	const char *w = NULL;
	int nfilters = 0, id_filters = 0;

	if (s == NULL) {
		w = "no spec";
		goto bad;
	}
	if (s->qs_value[SAKSI_IX_STATE] != NULL || s->qs_value[SAKSI_IX_TIME] != NULL) {
		w = "state and time are not filters (use since and until)";
		goto bad;
	}
	for (size_t i = 0; i < NORDER; i++) {
		saksi_index_field f = filter_order[i];
		const char *v = s->qs_value[f];

		if (v == NULL)
			continue;
		nfilters++;
		if (saksi_index_field_personal(f)) {
			if (!saksi_blind_is_token(v)) {
				w = "a personal filter must be a blind token";
				goto bad;
			}
			if (f != SAKSI_IX_IP)
				id_filters++;
		} else {
			if (!plain_ok(v)) {
				w = "a filter value is 1 to 128 printable ASCII characters without "
				    "spaces, ',' or '='";
				goto bad;
			}
			if (f == SAKSI_IX_CLAIM || f == SAKSI_IX_BOOKING)
				id_filters++;
		}
	}
	if (s->qs_branch != NULL && strcmp(s->qs_branch, "*") != 0) {
		if (!plain_ok(s->qs_branch)) {
			w = "the branch scope is \"*\" or a branch code";
			goto bad;
		}
		if (s->qs_value[SAKSI_IX_BRANCH] != NULL &&
		    strcmp(s->qs_value[SAKSI_IX_BRANCH], s->qs_branch) != 0) {
			w = "the branch filter names another branch than the key's: a branch's "
			    "key sees its own branch only";
			goto bad;
		}
	}
	if (s->qs_limit == 0 || s->qs_limit > SAKSI_QUERY_LIMIT_MAX) {
		w = "the limit is 1 to 100000";
		goto bad;
	}
	if (s->qs_has_since && s->qs_has_until && s->qs_since_ms > s->qs_until_ms) {
		w = "since is after until";
		goto bad;
	}
	if (s->qs_timeline && (nfilters != 1 || id_filters != 1)) {
		w = "a timeline follows exactly one of claim, booking, nik, kpj, phone, email, "
		    "account or device";
		goto bad;
	}
	if (s->qs_timeline && s->qs_has_after) {
		w = "a timeline is one story: use limit, since and until";
		goto bad;
	}
	if (!s->qs_timeline && nfilters == 0 && !s->qs_has_since && !s->qs_has_until) {
		w = "give at least one filter, since or until";
		goto bad;
	}
	if (why != NULL)
		*why = NULL;
	return SAKSI_OK;
bad:
	if (why != NULL)
		*why = w;
	return SAKSI_ERR_INVAL;
}

/* 1 if the spec is restricted to one branch (qs_branch, query.h). */
static int
scoped(const saksi_query_spec *s)
{
	return s->qs_branch != NULL && strcmp(s->qs_branch, "*") != 0;
}

/* The spec with its branch scope as a branch filter: what the index is asked. */
static void
with_scope(const saksi_query_spec *s, saksi_query_spec *out)
{
	*out = *s;
	if (scoped(s) && out->qs_value[SAKSI_IX_BRANCH] == NULL)
		out->qs_value[SAKSI_IX_BRANCH] = s->qs_branch;
}

saksi_err
saksi_query_filter_text(const saksi_query_spec *spec, char *out, size_t len)
{
	saksi_query_spec sc;
	const saksi_query_spec *s = &sc;
	size_t p = 0;

	if (spec == NULL || out == NULL || len == 0)
		return SAKSI_ERR_INVAL;
	with_scope(spec, &sc);
	out[0] = '\0';
	for (size_t i = 0; i < NORDER; i++) {
		saksi_index_field f = filter_order[i];

		if (s->qs_value[f] == NULL)
			continue;
		p += (size_t)snprintf(out + p, p < len ? len - p : 0, "%s%s=%s", p ? "," : "",
		    saksi_index_field_name(f), s->qs_value[f]);
	}
	if (s->qs_has_since)
		p += (size_t)snprintf(out + p, p < len ? len - p : 0, "%ssince=%" PRIu64,
		    p ? "," : "", s->qs_since_ms);
	if (s->qs_has_until)
		p += (size_t)snprintf(out + p, p < len ? len - p : 0, "%suntil=%" PRIu64,
		    p ? "," : "", s->qs_until_ms);
	if (s->qs_has_after)
		p += (size_t)snprintf(out + p, p < len ? len - p : 0, "%safter=%" PRIu64,
		    p ? "," : "", s->qs_after);
	p += (size_t)snprintf(out + p, p < len ? len - p : 0, "%slimit=%zu", p ? "," : "",
	    s->qs_limit);
	if (p >= len || p > SAKSI_QUERY_FILTER_MAX) {
		sodium_memzero(out, len);
		return SAKSI_ERR_TOO_LARGE;
	}
	return SAKSI_OK;
}

/* ---- masks ---- */

char *
saksi_query_mask(const char *field, const char *v)
{
	size_t n = strlen(v), first = 0, last = 0;
	char *out;

	if (strcmp(field, "email") == 0) {
		const char *at = strchr(v, '@');

		if (at == NULL || at == v)
			return strdup("***");
		if ((out = malloc(n + 8)) != NULL)
			snprintf(out, n + 8, "%c***%s", v[0], at);
		return out;
	}
	if (strcmp(field, "name") == 0 || strcmp(field, "account_holder") == 0) {
		size_t o = 0;
		int start = 1;

		if ((out = malloc(2 * n + 2)) == NULL)
			return NULL;
		for (size_t i = 0; i < n; i++) {
			if (v[i] == ' ') {
				start = 1;
				continue;
			}
			if (start) {
				if (o > 0)
					out[o++] = ' ';
				out[o++] = v[i] >= 'a' && v[i] <= 'z' ? (char)(v[i] - 32) : v[i];
				out[o++] = '.';
				start = 0;
			}
		}
		out[o] = '\0';
		return out;
	}
	if (strcmp(field, "ip") == 0) {
		const char *cut = strchr(v, '.');

		if (cut != NULL && (cut = strchr(cut + 1, '.')) != NULL) {
			if ((out = malloc(n + 8)) != NULL)
				snprintf(out, n + 8, "%.*s.*.*", (int)(cut - v), v);
			return out;
		}
		if ((cut = strchr(v, ':')) != NULL) {
			if ((out = malloc(n + 8)) != NULL)
				snprintf(out, n + 8, "%.*s:*", (int)(cut - v), v);
			return out;
		}
		return strdup("***");
	}
	if (strcmp(field, "nik") == 0)
		first = 4, last = 4;
	else if (strcmp(field, "kpj") == 0 || strcmp(field, "bank_account") == 0)
		last = 4;
	else if (strcmp(field, "phone") == 0)
		first = 5, last = 3;
	else if (strcmp(field, "npwp") == 0)
		last = 3;
	else if (strcmp(field, "device_id") == 0)
		first = 4, last = 4;
	else if (strcmp(field, "scan_sha256") == 0)
		first = 8;
	else
		return strdup("***");   /* amount, balance and anything new */
	if (first + last + 4 > n)
		first = last = 0;
	if ((out = strdup(v)) == NULL)
		return NULL;
	for (size_t i = first; i + last < n; i++)
		out[i] = '*';
	return out;
}

/* ---- rows ---- */

static void
row_free(saksi_query_row *r)
{
	json_decref(r->qr_payload);
	if (r->qr_personal != NULL) {
		sodium_memzero(r->qr_personal, strlen(r->qr_personal));
		free(r->qr_personal);
	}
	memset(r, 0, sizeof(*r));
}

void
saksi_query_result_free(saksi_query_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->qr_n; i++)
		row_free(&res->qr_rows[i]);
	free(res->qr_rows);
	res->qr_rows = NULL;
	res->qr_n = res->qr_cap = 0;
	res->qr_more = 0;
}

static void
result_clear(saksi_query_result *res)
{
	memset(res, 0, sizeof(*res));
	res->qr_fail_index = UINT64_MAX;
}

/* Appends s to the growing string *buf (length *len, capacity *cap). */
static int
grow_append(char **buf, size_t *len, size_t *cap, const char *a, const char *b,
            const char *c)
{
	size_t need = strlen(a) + strlen(b) + strlen(c) + 1;

	if (*len + need >= *cap) {
		size_t ncap = 2 * (*len + need);
		char *grown = malloc(ncap);

		if (grown == NULL)
			return -1;
		memcpy(grown, *buf, *len + 1);
		/* The old buffer may hold clear values: wipe it before it goes. */
		sodium_memzero(*buf, *cap);
		free(*buf);
		*buf = grown;
		*cap = ncap;
	}
	*len += (size_t)snprintf(*buf + *len, *cap - *len, "%s%s%s", a, b, c);
	return 0;
}

/*
 * Opens the stored disclosures of leaf idx and checks them against the payload: names
 * and values, or none (n = 0) if the entry has none or its participant was forgotten
 * (*forgotten = 1).
 */
static saksi_err
disclosures(const saksi_query_ctx *x, uint64_t idx, const uint8_t *leaf, size_t len,
            const saksi_envelope *env, char ***names, char ***values, size_t *n,
            int *forgotten, saksi_query_result *res)
{
	uint8_t *blob = NULL;
	char *plain = NULL;
	size_t blen, plen;
	saksi_hash h;
	saksi_err e;

	*names = *values = NULL;
	*n = 0;
	*forgotten = 0;
	e = saksi_ledger_disc_get(x->qc_txn, idx, &blob, &blen);
	if (e == SAKSI_ERR_NOT_FOUND)
		return SAKSI_OK;
	if (e != SAKSI_OK)
		return fail(res, SAKSI_QF_DISC_READ, idx, e, e);
	saksi_merkle_leaf_hash(h, leaf, len);
	e = saksi_disc_open_any(x->qc_store, x->qc_dk, idx, h, blob, blen, &plain, &plen);
	free(blob);
	if (e == SAKSI_ERR_NOT_FOUND) {
		*forgotten = 1;   /* the data key is destroyed: a state, not a failure */
		return SAKSI_OK;
	}
	if (e == SAKSI_ERR_NOMEM)
		return fail(res, SAKSI_QF_NOMEM, idx, e, e);
	if (e != SAKSI_OK)
		return fail(res, SAKSI_QF_DISC_OPEN, idx, e, SAKSI_ERR_DECRYPT);
	e = saksi_disclosures_check(env->ev_payload, env->ev_payload_len,
	    (const uint8_t *)plain, plen, names, values, n);
	sodium_memzero(plain, plen);
	free(plain);
	if (e == SAKSI_ERR_NOMEM)
		return fail(res, SAKSI_QF_NOMEM, idx, e, e);
	if (e != SAKSI_OK)
		return fail(res, SAKSI_QF_DISC_MATCH, idx, e, SAKSI_ERR_CORRUPT);
	return SAKSI_OK;
}

static saksi_err
row_load(const saksi_query_ctx *x, uint64_t idx, int reveal, saksi_query_row *r,
         saksi_query_result *res)
{
	uint8_t *leaf;
	size_t len, nd = 0, plen = 0, pcap = 256;
	int forgotten = 0;
	saksi_leaf lf;
	saksi_envelope env;
	char **names = NULL, **values = NULL;
	saksi_err e;

	memset(r, 0, sizeof(*r));
	r->qr_index = idx;
	if ((e = saksi_ledger_leaf(x->qc_txn, idx, &leaf, &len)) != SAKSI_OK)
		return fail(res, SAKSI_QF_LEAF, idx, e, e);
	if (saksi_leaf_parse(leaf, len, &lf) != SAKSI_OK || lf.lf_kind != SAKSI_LEAF_EVENT ||
	    saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &env) != SAKSI_OK) {
		free(leaf);
		return fail(res, SAKSI_QF_NOT_EVENT, idx, SAKSI_ERR_FORMAT, SAKSI_ERR_CORRUPT);
	}
	r->qr_time_ms = env.ev_time_ms;
	snprintf(r->qr_type, sizeof(r->qr_type), "%s", env.ev_type);
	sodium_bin2hex(r->qr_key_id, sizeof(r->qr_key_id), env.ev_key_id, SAKSI_KEYID_LEN);
	r->qr_payload = json_loadb((const char *)env.ev_payload, env.ev_payload_len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(r->qr_payload)) {
		free(leaf);
		return fail(res, SAKSI_QF_PAYLOAD, idx, SAKSI_ERR_FORMAT, SAKSI_ERR_CORRUPT);
	}
	e = disclosures(x, idx, leaf, len, &env, &names, &values, &nd, &forgotten, res);
	free(leaf);
	if (e != SAKSI_OK)
		return e;
	r->qr_forgotten = forgotten;
	if ((r->qr_personal = malloc(pcap)) == NULL) {
		saksi_disclosures_free(names, values, nd);
		return fail(res, SAKSI_QF_NOMEM, idx, SAKSI_ERR_NOMEM, SAKSI_ERR_NOMEM);
	}
	snprintf(r->qr_personal, pcap, "%s", forgotten ? "[forgotten]" : "");
	plen = strlen(r->qr_personal);
	for (size_t i = 0; i < nd; i++) {
		char *shown = reveal ? strdup(values[i]) : saksi_query_mask(names[i], values[i]);
		int bad;

		if (shown == NULL) {
			saksi_disclosures_free(names, values, nd);
			return fail(res, SAKSI_QF_NOMEM, idx, SAKSI_ERR_NOMEM, SAKSI_ERR_NOMEM);
		}
		bad = json_object_set_new(r->qr_payload, names[i], json_string(shown)) != 0 ||
		    grow_append(&r->qr_personal, &plen, &pcap, plen > 0 ? " " : "", names[i],
		    "") != 0 || grow_append(&r->qr_personal, &plen, &pcap, "=", shown, "") != 0;
		sodium_memzero(shown, strlen(shown));
		free(shown);
		if (bad) {
			saksi_disclosures_free(names, values, nd);
			return fail(res, SAKSI_QF_NOMEM, idx, SAKSI_ERR_NOMEM, SAKSI_ERR_NOMEM);
		}
	}
	saksi_disclosures_free(names, values, nd);
	return SAKSI_OK;
}

static const char *
pstr(const saksi_query_row *r, const char *member)
{
	const char *s = json_string_value(json_object_get(r->qr_payload, member));

	return s != NULL ? s : "";
}

/* 1 if the row is within the branch scope (NULL or "*": every row is). */
static int
in_scope(const saksi_query_row *r, const char *branch)
{
	return branch == NULL || strcmp(branch, "*") == 0 ||
	    strcmp(pstr(r, "branch"), branch) == 0;
}

/* Appends the entry at idx, unless it is outside the branch scope (then nothing). */
static saksi_err
result_add(saksi_query_result *res, const saksi_query_ctx *x, uint64_t idx, int reveal,
           const char *branch)
{
	saksi_err e;

	if (res->qr_n == res->qr_cap) {
		saksi_query_row *grown;
		size_t ncap = res->qr_cap == 0 ? 64 : res->qr_cap * 2;

		if ((grown = realloc(res->qr_rows, ncap * sizeof(*grown))) == NULL)
			return fail(res, SAKSI_QF_NOMEM, idx, SAKSI_ERR_NOMEM, SAKSI_ERR_NOMEM);
		res->qr_rows = grown;
		res->qr_cap = ncap;
	}
	e = row_load(x, idx, reveal, &res->qr_rows[res->qr_n], res);
	if (e != SAKSI_OK || !in_scope(&res->qr_rows[res->qr_n], branch)) {
		row_free(&res->qr_rows[res->qr_n]);
		return e;
	}
	res->qr_n++;
	return SAKSI_OK;
}

/* ---- running ---- */

static size_t
terms_of(const saksi_query_spec *s, saksi_index_term *terms)
{
	size_t nt = 0;

	for (size_t i = 0; i < NORDER; i++) {
		saksi_index_field f = filter_order[i];

		if (s->qs_value[f] == NULL)
			continue;
		terms[nt].it_field = f;
		terms[nt].it_value = s->qs_value[f];
		nt++;
	}
	return nt;
}

static saksi_err
run_query(const saksi_query_ctx *x, const saksi_query_spec *spec, saksi_query_result *res)
{
	saksi_query_spec sc;
	const saksi_query_spec *s = &sc;
	saksi_index_term terms[SAKSI_INDEX_TERMS_MAX];
	saksi_index_query q;
	saksi_index_hit *hits;
	size_t n;
	saksi_err e;

	/* The scope is one more filter: pages stay full and qr_more stays true. */
	with_scope(spec, &sc);
	if ((hits = malloc(s->qs_limit * sizeof(*hits))) == NULL)
		return fail(res, SAKSI_QF_NOMEM, UINT64_MAX, SAKSI_ERR_NOMEM, SAKSI_ERR_NOMEM);
	memset(&q, 0, sizeof(q));
	q.iq_nterms = terms_of(s, terms);
	q.iq_terms = terms;
	q.iq_since_ms = s->qs_has_since ? s->qs_since_ms : 0;
	q.iq_until_ms = s->qs_has_until ? s->qs_until_ms : UINT64_MAX;
	q.iq_after = s->qs_after;
	q.iq_has_after = s->qs_has_after;
	e = saksi_index_query_run(saksi_ledger_txn_mdb(x->qc_txn), x->qc_dbi, &q, hits,
	    s->qs_limit, &n, &res->qr_more);
	if (e == SAKSI_ERR_TOO_LARGE)
		e = fail(res, SAKSI_QF_TOO_LARGE, UINT64_MAX, e, e);
	else if (e != SAKSI_OK)
		e = fail(res, SAKSI_QF_INDEX, UINT64_MAX, e, e);
	for (size_t i = 0; e == SAKSI_OK && i < n; i++)
		e = result_add(res, x, hits[i].ih_index, s->qs_reveal, s->qs_branch);
	free(hits);
	return e;
}

static int
row_cmp_time(const void *a, const void *b)
{
	const saksi_query_row *x = a, *y = b;

	if (x->qr_time_ms != y->qr_time_ms)
		return x->qr_time_ms < y->qr_time_ms ? -1 : 1;
	return x->qr_index < y->qr_index ? -1 : x->qr_index > y->qr_index;
}

struct idset {
	uint64_t *set;
	size_t n, cap;
};

/* Every hit of one term (within the time range) appended to the set (sorted and made
 * distinct by the caller). */
static saksi_err
collect(const saksi_query_ctx *x, saksi_index_field f, const char *value,
        const saksi_query_spec *s, struct idset *ids, saksi_query_result *res)
{
	saksi_index_term t = { f, value };
	saksi_index_query q = { &t, 1, s->qs_has_since ? s->qs_since_ms : 0,
		s->qs_has_until ? s->qs_until_ms : UINT64_MAX, 0, 0 };
	saksi_index_hit hits[256];
	size_t got;
	int more;
	saksi_err e;

	do {
		e = saksi_index_query_run(saksi_ledger_txn_mdb(x->qc_txn), x->qc_dbi, &q, hits,
		    256, &got, &more);
		if (e != SAKSI_OK)
			return fail(res, SAKSI_QF_INDEX, UINT64_MAX, e, e);
		for (size_t i = 0; i < got; i++) {
			if (ids->n == ids->cap) {
				uint64_t *grown;
				size_t ncap = ids->cap == 0 ? 256 : ids->cap * 2;

				if (ncap > SAKSI_QUERY_TIMELINE_MAX)
					return fail(res, SAKSI_QF_TOO_LARGE, UINT64_MAX,
					    SAKSI_ERR_TOO_LARGE, SAKSI_ERR_TOO_LARGE);
				if ((grown = realloc(ids->set, ncap * sizeof(*grown))) == NULL)
					return fail(res, SAKSI_QF_NOMEM, UINT64_MAX,
					    SAKSI_ERR_NOMEM, SAKSI_ERR_NOMEM);
				ids->set = grown;
				ids->cap = ncap;
			}
			ids->set[ids->n++] = hits[i].ih_index;
		}
		if (got > 0) {
			q.iq_after = hits[got - 1].ih_index;
			q.iq_has_after = 1;
		}
	} while (more);
	return SAKSI_OK;
}

/*
 * A timeline: the entries of the one identifier given, then those of every claim and
 * booking they name (a participant's bookings and claims, a claim's booking), in the
 * order things happened (producer time, then ledger order).
 */
static saksi_err
run_timeline(const saksi_query_ctx *x, const saksi_query_spec *s, saksi_query_result *res)
{
	static const char *const members[2] = { "claim_id", "booking_id" };
	static const saksi_index_field fields[2] = { SAKSI_IX_CLAIM, SAKSI_IX_BOOKING };
	saksi_index_term terms[SAKSI_INDEX_TERMS_MAX];
	struct idset ids = { NULL, 0, 0 };
	char *named[2][SAKSI_QUERY_TIMELINE_IDS_MAX];
	size_t nnamed[2] = { 0, 0 }, n0, shown;
	saksi_err e;

	(void)terms_of(s, terms);
	if ((e = collect(x, terms[0].it_field, terms[0].it_value, s, &ids, res)) != SAKSI_OK)
		goto out;
	n0 = ids.n;
	/* The claims and bookings named by what was found, one level deep. */
	for (size_t k = 0; k < 2; k++)
		if (terms[0].it_field == fields[k]) {
			if ((named[k][0] = strdup(terms[0].it_value)) == NULL) {
				e = fail(res, SAKSI_QF_NOMEM, UINT64_MAX, SAKSI_ERR_NOMEM,
				    SAKSI_ERR_NOMEM);
				goto out;
			}
			nnamed[k] = 1;
		}
	for (size_t i = 0; i < n0; i++) {
		saksi_query_row r;

		if ((e = row_load(x, ids.set[i], 0, &r, res)) != SAKSI_OK) {
			row_free(&r);
			goto out;
		}
		/* Another branch's entry is not shown, nor are the ids it names followed. */
		for (size_t k = 0; k < 2 && in_scope(&r, s->qs_branch); k++) {
			const char *v = pstr(&r, members[k]);
			size_t j;

			if (v[0] == '\0')
				continue;
			for (j = 0; j < nnamed[k] && strcmp(named[k][j], v) != 0; j++)
				;
			if (j == nnamed[k] && nnamed[k] < SAKSI_QUERY_TIMELINE_IDS_MAX) {
				if ((named[k][nnamed[k]] = strdup(v)) == NULL) {
					row_free(&r);
					e = fail(res, SAKSI_QF_NOMEM, UINT64_MAX, SAKSI_ERR_NOMEM,
					    SAKSI_ERR_NOMEM);
					goto out;
				}
				nnamed[k]++;
			}
		}
		row_free(&r);
	}
	for (size_t k = 0; k < 2; k++)
		for (size_t j = 0; j < nnamed[k]; j++)
			if ((e = collect(x, fields[k], named[k][j], s, &ids, res)) != SAKSI_OK)
				goto out;
	ids.n = saksi_u64_distinct(ids.set, ids.n);   /* set may be NULL if empty */
	for (size_t i = 0; i < ids.n; i++)
		if ((e = result_add(res, x, ids.set[i], s->qs_reveal, s->qs_branch)) !=
		    SAKSI_OK)
			goto out;
	if (res->qr_n > 1)
		qsort(res->qr_rows, res->qr_n, sizeof(*res->qr_rows), row_cmp_time);
	shown = res->qr_n > s->qs_limit ? s->qs_limit : res->qr_n;
	for (size_t i = shown; i < res->qr_n; i++)
		row_free(&res->qr_rows[i]);
	res->qr_more = res->qr_n > shown;
	res->qr_n = shown;
	e = SAKSI_OK;
out:
	for (size_t k = 0; k < 2; k++)
		for (size_t j = 0; j < nnamed[k]; j++)
			free(named[k][j]);
	free(ids.set);
	return e;
}

saksi_err
saksi_query_run(const saksi_query_ctx *ctx, const saksi_query_spec *spec,
                saksi_query_result *res)
{
	saksi_err e;

	if (res == NULL)
		return SAKSI_ERR_INVAL;
	result_clear(res);
	if (ctx == NULL || ctx->qc_txn == NULL || ctx->qc_store == NULL ||
	    saksi_query_spec_check(spec, NULL) != SAKSI_OK)
		return SAKSI_ERR_INVAL;
	res->qr_revealed = spec->qs_reveal != 0;
	e = spec->qs_timeline ? run_timeline(ctx, spec, res) : run_query(ctx, spec, res);
	if (e == SAKSI_OK) {
		res->qr_fail_what = SAKSI_QF_NONE;
		res->qr_fail_index = UINT64_MAX;
		res->qr_fail_cause = SAKSI_OK;
	}
	return e;
}

saksi_err
saksi_query_add(const saksi_query_ctx *ctx, uint64_t idx, int reveal, saksi_query_result *res)
{
	if (ctx == NULL || ctx->qc_txn == NULL || ctx->qc_store == NULL || res == NULL)
		return SAKSI_ERR_INVAL;
	return result_add(res, ctx, idx, reveal, NULL);
}

/* ---- rows as JSON (FORMATS.md 3.4) ---- */

json_t *
saksi_query_rows_json(const saksi_query_result *res)
{
	json_t *arr = json_array();

	if (arr == NULL)
		return NULL;
	for (size_t i = 0; i < res->qr_n; i++) {
		const saksi_query_row *r = &res->qr_rows[i];
		json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:O, s:s, s:b}",
		    "index", (json_int_t)r->qr_index, "time_ms", (json_int_t)r->qr_time_ms,
		    "type", r->qr_type, "key_id", r->qr_key_id, "payload", r->qr_payload,
		    "personal", r->qr_personal != NULL ? r->qr_personal : "",
		    "forgotten", r->qr_forgotten);

		if (o == NULL || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static int
type_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= SAKSI_TYPE_MAX &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.") == n;
}

static int
hex16_ok(const char *s)
{
	return strlen(s) == 2 * SAKSI_KEYID_LEN && strspn(s, "0123456789abcdef") ==
	    2 * SAKSI_KEYID_LEN;
}

saksi_err
saksi_query_rows_from_json(const json_t *rows, saksi_query_result *res)
{
	size_t i, n;
	const json_t *o;

	if (res == NULL)
		return SAKSI_ERR_INVAL;
	result_clear(res);
	if (!json_is_array(rows) || (n = json_array_size(rows)) > SAKSI_QUERY_LIMIT_MAX)
		return SAKSI_ERR_FORMAT;
	if (n > 0 && (res->qr_rows = calloc(n, sizeof(*res->qr_rows))) == NULL)
		return SAKSI_ERR_NOMEM;
	res->qr_cap = n;
	json_array_foreach(rows, i, o) {
		saksi_query_row *r = &res->qr_rows[i];
		const json_t *ix = json_object_get(o, "index"), *tm = json_object_get(o, "time_ms"),
		    *ty = json_object_get(o, "type"), *ki = json_object_get(o, "key_id"),
		    *pl = json_object_get(o, "payload"), *pe = json_object_get(o, "personal"),
		    *fg = json_object_get(o, "forgotten");

		if (!json_is_object(o) || json_object_size(o) != 7 || !json_is_integer(ix) ||
		    json_integer_value(ix) < 0 || !json_is_integer(tm) ||
		    json_integer_value(tm) < 0 || !json_is_string(ty) ||
		    !type_ok(json_string_value(ty)) || !json_is_string(ki) ||
		    !hex16_ok(json_string_value(ki)) || !json_is_object(pl) ||
		    !json_is_string(pe) || !json_is_boolean(fg))
			goto bad;
		if (strlen(json_string_value(pe)) != json_string_length(pe))
			goto bad;   /* a NUL inside: the text would be cut short */
		r->qr_index = (uint64_t)json_integer_value(ix);
		r->qr_time_ms = (uint64_t)json_integer_value(tm);
		snprintf(r->qr_type, sizeof(r->qr_type), "%s", json_string_value(ty));
		snprintf(r->qr_key_id, sizeof(r->qr_key_id), "%s", json_string_value(ki));
		r->qr_forgotten = json_is_true(fg);
		res->qr_n = i + 1;
		if ((r->qr_payload = json_deep_copy(pl)) == NULL ||
		    (r->qr_personal = strdup(json_string_value(pe))) == NULL) {
			saksi_query_result_free(res);
			return SAKSI_ERR_NOMEM;
		}
	}
	return SAKSI_OK;
bad:
	saksi_query_result_free(res);
	return SAKSI_ERR_FORMAT;
}
