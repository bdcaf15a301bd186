/*
 * query.c: saksi query and saksi timeline, the supervisory unit's local look at the
 * ledger through its secondary indexes (FORMATS.md 7.4), on the appliance, with saksid's
 * own keys from its config. Personal filters are blinded here and never sent, printed or
 * logged in clear; personal values are shown masked unless revealed, and every reveal and
 * every query by a personal field is first written to the ledger as a signed access entry
 * (supervisor.access.logged): no receipt, no results.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "blind.h"
#include "cli.h"
#include "client.h"
#include "commit.h"
#include "config.h"
#include "datakey.h"
#include "envelope.h"
#include "index.h"
#include "merkle.h"
#include "schema.h"
#include "wire.h"

#define ACCESS_TYPE "supervisor.access.logged"
#define LIMIT_DEFAULT 100
#define LIMIT_MAX 100000
#define TIMELINE_IDS_MAX 64          /* claims and bookings a timeline follows */
#define FILTER_MAX 2048

static const char q_usage[] =
"saksi query [--config FILE] [FILTERS] [--since T] [--until T] [--limit N]\n"
"                   [--after INDEX] [--json | --csv] [-k supervisor.key [--reveal]]\n"
"                   [--case REF] [--passphrase-file F] [--url URL] [--timeout MS]\n"
"  FILTERS: --nik --kpj --phone --email --account BANK:NUMBER --device --ip (personal:\n"
"  blinded with the index key, need -k) --officer --branch --type --claim --booking";
static const char t_usage[] =
"saksi timeline [--config FILE] (--claim ID | --booking ID | --nik NIK | --kpj KPJ\n"
"                      | --phone P | --email E | --account BANK:NUMBER | --device D)\n"
"                      [--since T] [--until T] [--limit N] [--json | --csv]\n"
"                      [-k supervisor.key [--reveal]] [--case REF] [--url URL]";

/* The filters in the order the access entry lists them. */
static const saksi_index_field filter_order[] = {
	SAKSI_IX_NIK, SAKSI_IX_KPJ, SAKSI_IX_PHONE, SAKSI_IX_EMAIL, SAKSI_IX_ACCOUNT,
	SAKSI_IX_DEVICE, SAKSI_IX_IP, SAKSI_IX_OFFICER, SAKSI_IX_BRANCH, SAKSI_IX_TYPE,
	SAKSI_IX_CLAIM, SAKSI_IX_BOOKING,
};

enum { OUT_TABLE, OUT_JSON, OUT_CSV };

struct qopts {
	int timeline;
	const char *usage;
	const char *config;
	const char *given[SAKSI_IX__COUNT];   /* as typed: personal ones are secrets here */
	char tok[SAKSI_IX__COUNT][SAKSI_BLIND_TOKEN_LEN + 1];
	uint64_t since, until;
	int has_since, has_until;
	uint64_t after;
	int has_after;
	size_t limit;
	int out;
	int reveal;
	const char *key, *passfile, *case_ref, *url;
	int timeout;
};

/* One entry to show. */
struct row {
	uint64_t index;
	uint64_t time_ms;
	char type[SAKSI_TYPE_MAX + 1];
	char key_id[2 * SAKSI_KEYID_LEN + 1];
	json_t *payload;         /* personal members replaced by masked or clear text */
	char *personal;          /* "field=value ..." as shown */
};

struct result {
	struct row *rows;
	size_t n, cap;
	int more;
	uint64_t ix_upto, ix_size;  /* the index covers entries below ix_upto of ix_size */
};

/* ---- time ---- */

/* T: milliseconds, YYYY-MM-DD (UTC; end of the day for --until), or
 * YYYY-MM-DDTHH:MM:SSZ. */
static uint64_t
parse_time(const char *s, int end_of_day, const char *what, const char *usage)
{
	struct tm tm;
	const char *rest;
	time_t t;

	if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s))
		return xparse_u64(s, what);
	memset(&tm, 0, sizeof(tm));
	rest = strptime(s, "%Y-%m-%d", &tm);
	if (rest == NULL)
		xusage(usage, "%s: give milliseconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", what);
	if (*rest == '\0') {
		if ((t = timegm(&tm)) < 0)
			xusage(usage, "%s: a date after 1970", what);
		return (uint64_t)t * 1000 + (end_of_day ? 86399999u : 0);
	}
	rest = strptime(rest, "T%H:%M:%SZ", &tm);
	if (rest == NULL || *rest != '\0' || (t = timegm(&tm)) < 0)
		xusage(usage, "%s: give milliseconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", what);
	return (uint64_t)t * 1000 + (end_of_day ? 999u : 0);
}

static void
iso(uint64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "%" PRIu64, ms);
}

/* ---- masks ---- */

/*
 * The masked form of a personal value (docs/saksi.md, "Masks"): enough to tell entries
 * apart on a screen and to match a document in hand, too little to identify anyone.
 */
static char *
mask(const char *field, const char *v)
{
	size_t n = strlen(v), first = 0, last = 0;
	char *out;

	if (strcmp(field, "email") == 0) {
		const char *at = strchr(v, '@');

		if (at == NULL || at == v)
			return xstrdup("***");
		out = xmalloc(n + 8);
		snprintf(out, n + 8, "%c***%s", v[0], at);
		return out;
	}
	if (strcmp(field, "name") == 0 || strcmp(field, "account_holder") == 0) {
		size_t o = 0;
		int start = 1;

		out = xmalloc(2 * n + 2);
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
			out = xmalloc(n + 8);
			snprintf(out, n + 8, "%.*s.*.*", (int)(cut - v), v);
			return out;
		}
		if ((cut = strchr(v, ':')) != NULL) {
			out = xmalloc(n + 8);
			snprintf(out, n + 8, "%.*s:*", (int)(cut - v), v);
			return out;
		}
		return xstrdup("***");
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
		return xstrdup("***");   /* amount, balance and anything new */
	if (first + last + 4 > n)
		first = last = 0;
	out = xstrdup(v);
	for (size_t i = first; i + last < n; i++)
		out[i] = '*';
	return out;
}

/* ---- setup ---- */

struct ctx {
	saksid_config cf;
	char *ledger_dir;
	saksi_blind *blind;
	saksi_seckey *store;
	saksi_datakeys *dk;      /* participants' data keys; NULL: a ledger without them */
	saksi_ledger *l;
};

static void
ctx_open(struct ctx *x, const struct qopts *o)
{
	char err[512] = "";
	saksi_seckey *ik;
	saksi_err e;

	memset(x, 0, sizeof(*x));
	if ((e = saksid_config_load(o->config, &x->cf, err, sizeof(err))) != SAKSI_OK)
		xdie("%s", err[0] != '\0' ? err : saksi_strerror(e));
	if (x->cf.cf_index_key == NULL)
		xdie("%s has no index_key: saksid keeps no indexes without one (add it and "
		    "restart saksid; the ledger is indexed at start)", o->config);
	ik = xseckey_load(x->cf.cf_index_key, NULL);
	if (saksi_seckey_kind(ik) != SAKSI_KEY_SYM)
		xdie("index_key %s is not a symmetric key", x->cf.cf_index_key);
	e = saksi_blind_new(saksi_seckey_sym(ik), &x->blind);
	saksi_seckey_free(ik);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot use the index key");
	x->store = xseckey_load(x->cf.cf_store_key, NULL);
	if (saksi_seckey_kind(x->store) != SAKSI_KEY_SYM)
		xdie("store_key %s is not a symmetric key", x->cf.cf_store_key);
	x->ledger_dir = xmalloc(strlen(x->cf.cf_state_dir) + sizeof("/ledger"));
	sprintf(x->ledger_dir, "%s/ledger", x->cf.cf_state_dir);
	x->l = xledger_open_ro(x->ledger_dir);
	/* The data keys as saksid keeps them: slots beside data.mdb, the master in
	 * state_dir. Neither there: a ledger from before per-participant keys. */
	{
		char *slots = xmalloc(strlen(x->ledger_dir) + sizeof("/datakeys"));
		char *master = xmalloc(strlen(x->cf.cf_state_dir) + sizeof("/datakeys.master"));

		sprintf(slots, "%s/datakeys", x->ledger_dir);
		sprintf(master, "%s/datakeys.master", x->cf.cf_state_dir);
		e = saksi_dk_open(slots, master, x->store, 0, 0, &x->dk);
		if (e == SAKSI_ERR_KEY)
			xdie("the data keys %s do not open with store_key %s", master,
			    x->cf.cf_store_key);
		if (e != SAKSI_OK && e != SAKSI_ERR_NOT_FOUND)
			xdie_err(e, "cannot read the data keys %s, %s", slots, master);
		if (e == SAKSI_ERR_NOT_FOUND)
			x->dk = NULL;
		free(slots);
		free(master);
	}
}

static void
ctx_close(struct ctx *x)
{
	saksi_ledger_close(x->l);
	saksi_dk_close(x->dk);
	saksi_seckey_free(x->store);
	saksi_blind_free(x->blind);
	free(x->ledger_dir);
	saksid_config_free(&x->cf);
}

/* ---- reading entries ---- */

/* Opens the stored disclosures of leaf idx and checks them against the payload: names
 * and values, or none (n = 0) if the entry has none or its participant was forgotten
 * (*forgotten = 1). */
static void
disclosures(struct ctx *x, saksi_ledger_txn *txn, uint64_t idx, const uint8_t *leaf,
            size_t len, const saksi_envelope *env, char ***names, char ***values,
            size_t *n, int *forgotten)
{
	uint8_t *blob = NULL;
	char *plain = NULL;
	size_t blen, plen;
	saksi_hash h;
	saksi_err e;

	*names = *values = NULL;
	*n = 0;
	*forgotten = 0;
	e = saksi_ledger_disc_get(txn, idx, &blob, &blen);
	if (e == SAKSI_ERR_NOT_FOUND)
		return;
	if (e != SAKSI_OK)
		xdie_err(e, "entry %" PRIu64 ": cannot read its disclosures", idx);
	saksi_merkle_leaf_hash(h, leaf, len);
	e = saksi_disc_open_any(x->store, x->dk, idx, h, blob, blen, &plain, &plen);
	free(blob);
	if (e == SAKSI_ERR_NOT_FOUND) {
		*forgotten = 1;   /* the data key is destroyed: a state, not a failure */
		return;
	}
	if (e != SAKSI_OK)
		xfail("entry %" PRIu64 ": its disclosures do not open with store_key %s (%s)",
		    idx, x->cf.cf_store_key, saksi_strerror(e));
	e = saksi_disclosures_check(env->ev_payload, env->ev_payload_len,
	    (const uint8_t *)plain, plen, names, values, n);
	sodium_memzero(plain, plen);
	free(plain);
	if (e != SAKSI_OK)
		xfail("entry %" PRIu64 ": its stored disclosures do not match its digests (%s): "
		    "run saksi verify", idx, saksi_strerror(e));
}

static void
row_load(struct ctx *x, saksi_ledger_txn *txn, uint64_t idx, int reveal, struct row *r)
{
	uint8_t *leaf;
	size_t len, nd, plen = 0, pcap = 256;
	int forgotten;
	saksi_leaf lf;
	saksi_envelope env;
	char **names, **values;
	saksi_err e;

	memset(r, 0, sizeof(*r));
	r->index = idx;
	if ((e = saksi_ledger_leaf(txn, idx, &leaf, &len)) != SAKSI_OK)
		xdie_err(e, "cannot read entry %" PRIu64, idx);
	if (saksi_leaf_parse(leaf, len, &lf) != SAKSI_OK || lf.lf_kind != SAKSI_LEAF_EVENT ||
	    saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &env) != SAKSI_OK)
		xfail("entry %" PRIu64 " is indexed as an event but is not one: run saksi verify",
		    idx);
	r->time_ms = env.ev_time_ms;
	snprintf(r->type, sizeof(r->type), "%s", env.ev_type);
	keyid_to_hex(env.ev_key_id, r->key_id);
	r->payload = json_loadb((const char *)env.ev_payload, env.ev_payload_len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(r->payload))
		xfail("entry %" PRIu64 ": payload is not a JSON object", idx);
	disclosures(x, txn, idx, leaf, len, &env, &names, &values, &nd, &forgotten);
	r->personal = xmalloc(pcap);
	snprintf(r->personal, pcap, "%s", forgotten ? "[forgotten]" : "");
	plen = strlen(r->personal);
	for (size_t i = 0; i < nd; i++) {
		char *shown = reveal ? xstrdup(values[i]) : mask(names[i], values[i]);
		size_t need = strlen(names[i]) + strlen(shown) + 3;

		json_object_set_new(r->payload, names[i], json_string(shown));
		if (plen + need >= pcap) {
			char *grown;

			pcap = 2 * (plen + need);
			if ((grown = realloc(r->personal, pcap)) == NULL)
				xdie("out of memory");
			r->personal = grown;
		}
		plen += (size_t)snprintf(r->personal + plen, pcap - plen, "%s%s=%s",
		    plen > 0 ? " " : "", names[i], shown);
		sodium_memzero(shown, strlen(shown));
		free(shown);
	}
	saksi_disclosures_free(names, values, nd);
	free(leaf);
}

static void
row_free(struct row *r)
{
	json_decref(r->payload);
	if (r->personal != NULL) {
		sodium_memzero(r->personal, strlen(r->personal));
		free(r->personal);
	}
}

static const char *
pstr(const struct row *r, const char *member)
{
	const char *s = json_string_value(json_object_get(r->payload, member));

	return s != NULL ? s : "";
}

/* ---- running ---- */

static MDB_dbi
index_dbi(struct ctx *x, saksi_ledger_txn *txn, struct result *res)
{
	uint8_t have[8], want[8];
	uint64_t upto, size = saksi_ledger_size(txn);
	MDB_dbi dbi;
	saksi_err e;

	e = saksi_index_open(saksi_ledger_txn_mdb(txn), 0, &dbi);
	if (e == SAKSI_ERR_NOT_FOUND)
		xdie("ledger %s has no indexes yet: saksid makes them when it starts with an "
		    "index_key", x->ledger_dir);
	if (e == SAKSI_OK)
		e = saksi_index_state(saksi_ledger_txn_mdb(txn), dbi, &upto, have);
	if (e == SAKSI_ERR_NOT_FOUND)
		xdie("ledger %s has no indexes yet: saksid makes them when it starts with an "
		    "index_key", x->ledger_dir);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot read the indexes of %s", x->ledger_dir);
	if ((e = saksi_index_keycheck(x->blind, want)) != SAKSI_OK)
		xdie_err(e, "cannot use the index key");
	if (sodium_memcmp(have, want, 8) != 0)
		xdie("the indexes of %s were made with another index key than %s: restart "
		    "saksid with this key to rebuild them", x->ledger_dir, x->cf.cf_index_key);
	/* Said with the results (print_result), in --json too. */
	res->ix_upto = upto < size ? upto : size;
	res->ix_size = size;
	return dbi;
}

static void
terms_of(const struct qopts *o, saksi_index_term *terms, size_t *nt)
{
	*nt = 0;
	for (size_t i = 0; i < sizeof(filter_order) / sizeof(filter_order[0]); i++) {
		saksi_index_field f = filter_order[i];

		if (o->given[f] == NULL)
			continue;
		terms[*nt].it_field = f;
		terms[*nt].it_value = saksi_index_field_personal(f) ? o->tok[f] : o->given[f];
		(*nt)++;
	}
}

static void
result_add(struct result *res, struct ctx *x, saksi_ledger_txn *txn, uint64_t idx,
           int reveal)
{
	if (res->n == res->cap) {
		struct row *grown;

		res->cap = res->cap == 0 ? 64 : res->cap * 2;
		if ((grown = realloc(res->rows, res->cap * sizeof(*grown))) == NULL)
			xdie("out of memory");
		res->rows = grown;
	}
	row_load(x, txn, idx, reveal, &res->rows[res->n++]);
}

static void
run_query(struct ctx *x, saksi_ledger_txn *txn, MDB_dbi dbi, const struct qopts *o,
          struct result *res)
{
	saksi_index_term terms[SAKSI_INDEX_TERMS_MAX];
	saksi_index_query q;
	saksi_index_hit *hits = xmalloc(o->limit * sizeof(*hits));
	size_t n;
	saksi_err e;

	memset(&q, 0, sizeof(q));
	terms_of(o, terms, &q.iq_nterms);
	q.iq_terms = terms;
	q.iq_since_ms = o->has_since ? o->since : 0;
	q.iq_until_ms = o->has_until ? o->until : UINT64_MAX;
	q.iq_after = o->after;
	q.iq_has_after = o->has_after;
	e = saksi_index_query_run(saksi_ledger_txn_mdb(txn), dbi, &q, hits, o->limit, &n,
	    &res->more);
	if (e == SAKSI_ERR_TOO_LARGE)
		xdie("more than %u entries in that time range: add a filter or narrow it",
		    SAKSI_INDEX_TIME_ONLY_MAX);
	if (e != SAKSI_OK)
		xdie_err(e, "query failed");
	for (size_t i = 0; i < n; i++)
		result_add(res, x, txn, hits[i].ih_index, o->reveal);
	free(hits);
}

static int
row_cmp_time(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->time_ms != y->time_ms)
		return x->time_ms < y->time_ms ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every hit of one term (within the time range) appended to set (sorted and made
 * distinct by the caller). */
static void
collect(MDB_txn *mt, MDB_dbi dbi, saksi_index_field f, const char *value,
        const struct qopts *o, uint64_t **set, size_t *n, size_t *cap)
{
	saksi_index_term t = { f, value };
	saksi_index_query q = { &t, 1, o->has_since ? o->since : 0,
		o->has_until ? o->until : UINT64_MAX, 0, 0 };
	saksi_index_hit hits[256];
	size_t got;
	int more;
	saksi_err e;

	do {
		if ((e = saksi_index_query_run(mt, dbi, &q, hits, 256, &got, &more)) != SAKSI_OK)
			xdie_err(e, "timeline query failed");
		for (size_t i = 0; i < got; i++) {
			if (*n == *cap) {
				uint64_t *grown;

				*cap = *cap == 0 ? 256 : *cap * 2;
				if (*cap > 4 * (size_t)LIMIT_MAX)
					xdie("the timeline has more than %d entries: narrow it with "
					    "--since/--until", 4 * LIMIT_MAX);
				if ((grown = realloc(*set, *cap * sizeof(*grown))) == NULL)
					xdie("out of memory");
				*set = grown;
			}
			(*set)[(*n)++] = hits[i].ih_index;
		}
		if (got > 0) {
			q.iq_after = hits[got - 1].ih_index;
			q.iq_has_after = 1;
		}
	} while (more);
}

static void
distinct(uint64_t *set, size_t *n)
{
	size_t o = 0;

	if (*n == 0)
		return;   /* set may be NULL: an empty timeline (a forgotten participant's) */
	qsort(set, *n, sizeof(*set), u64_cmp);
	for (size_t i = 0; i < *n; i++)
		if (o == 0 || set[o - 1] != set[i])
			set[o++] = set[i];
	*n = o;
}

/*
 * A timeline: the entries of the one identifier given, then those of every claim and
 * booking they name (a participant's bookings and claims, a claim's booking), in the
 * order things happened (producer time, then ledger order).
 */
static void
run_timeline(struct ctx *x, saksi_ledger_txn *txn, MDB_dbi dbi, const struct qopts *o,
             struct result *res)
{
	MDB_txn *mt = saksi_ledger_txn_mdb(txn);
	saksi_index_term terms[SAKSI_INDEX_TERMS_MAX];
	uint64_t *set = NULL;
	size_t n = 0, n0, cap = 0, nt, shown;
	char *ids[2][TIMELINE_IDS_MAX];
	size_t nids[2] = { 0, 0 };
	static const char *const members[2] = { "claim_id", "booking_id" };
	static const saksi_index_field fields[2] = { SAKSI_IX_CLAIM, SAKSI_IX_BOOKING };

	terms_of(o, terms, &nt);
	collect(mt, dbi, terms[0].it_field, terms[0].it_value, o, &set, &n, &cap);
	n0 = n;
	/* The claims and bookings named by what was found, one level deep. */
	for (size_t k = 0; k < 2; k++)
		if (terms[0].it_field == fields[k])
			ids[k][nids[k]++] = xstrdup(terms[0].it_value);
	for (size_t i = 0; i < n0; i++) {
		struct row r;

		row_load(x, txn, set[i], 0, &r);
		for (size_t k = 0; k < 2; k++) {
			const char *v = pstr(&r, members[k]);
			size_t j;

			if (v[0] == '\0')
				continue;
			for (j = 0; j < nids[k] && strcmp(ids[k][j], v) != 0; j++)
				;
			if (j == nids[k] && nids[k] < TIMELINE_IDS_MAX)
				ids[k][nids[k]++] = xstrdup(v);
		}
		row_free(&r);
	}
	for (size_t k = 0; k < 2; k++)
		for (size_t j = 0; j < nids[k]; j++)
			collect(mt, dbi, fields[k], ids[k][j], o, &set, &n, &cap);
	distinct(set, &n);
	for (size_t i = 0; i < n; i++)
		result_add(res, x, txn, set[i], o->reveal);
	if (res->n > 1)
		qsort(res->rows, res->n, sizeof(*res->rows), row_cmp_time);
	shown = res->n > o->limit ? o->limit : res->n;
	for (size_t i = shown; i < res->n; i++)
		row_free(&res->rows[i]);
	res->more = res->n > shown;
	res->n = shown;
	for (size_t k = 0; k < 2; k++)
		for (size_t j = 0; j < nids[k]; j++)
			free(ids[k][j]);
	free(set);
}

/* ---- the access entry ---- */

static void
filter_text(const struct qopts *o, char *out, size_t len)
{
	size_t p = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(filter_order) / sizeof(filter_order[0]); i++) {
		saksi_index_field f = filter_order[i];

		if (o->given[f] == NULL)
			continue;
		p += (size_t)snprintf(out + p, p < len ? len - p : 0, "%s%s=%s", p ? "," : "",
		    saksi_index_field_name(f),
		    saksi_index_field_personal(f) ? o->tok[f] : o->given[f]);
	}
	if (o->has_since)
		p += (size_t)snprintf(out + p, p < len ? len - p : 0, "%ssince=%" PRIu64,
		    p ? "," : "", o->since);
	if (o->has_until)
		p += (size_t)snprintf(out + p, p < len ? len - p : 0, "%suntil=%" PRIu64,
		    p ? "," : "", o->until);
	if (o->has_after)
		p += (size_t)snprintf(out + p, p < len ? len - p : 0, "%safter=%" PRIu64,
		    p ? "," : "", o->after);
	p += (size_t)snprintf(out + p, p < len ? len - p : 0, "%slimit=%zu", p ? "," : "",
	    o->limit);
	if (p >= len)
		xdie("the filters are too long for an access entry");
}

/*
 * Signs the access entry with the supervisor's key and submits it to saksid; returns
 * only once its receipt has verified against the log's key. Otherwise exits: nothing of
 * the results has been printed yet.
 */
static void
log_access(struct ctx *x, const struct qopts *o, const saksi_seckey *sk, size_t results,
           int personal)
{
	char filter[FILTER_MAX + 1], err[512] = "", *payload, *vkey = NULL, hex[17];
	const saksi_keyring_entry *ke;
	saksi_keyring *kr;
	saksi_schemas *sc;
	saksi_note_verifier v;
	saksi_pubkey box;
	saksi_client_opts co;
	saksi_client *cl;
	saksi_event ev;
	saksi_result res;
	saksi_ledger_txn *txn;
	uint64_t last = 0, seq;
	json_t *p;
	saksi_err e;
	const char *url = o->url;

	filter_text(o, filter, sizeof(filter));
	kr = xkeyring_load(x->cf.cf_keyring);
	ke = saksi_keyring_find(kr, saksi_seckey_id(sk));
	keyid_to_hex(saksi_seckey_id(sk), hex);
	if (ke == NULL)
		xfail("key %s (-k %s) is not in the keyring %s: a supervisor's key must be "
		    "(saksi keyring add --role supervisor)", hex, o->key, x->cf.cf_keyring);
	if (!saksi_keyring_role_allows(kr, ke->ke_role, ACCESS_TYPE))
		xfail("key %s has role %s, which may not sign %s: use a supervisor's key",
		    ke->ke_name, ke->ke_role, ACCESS_TYPE);
	p = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:b}", "branch",
	    strcmp(ke->ke_branch, "*") == 0 ? "KP-PUSAT" : ke->ke_branch, "key_id", hex,
	    "command", o->timeline ? "timeline" : "query", "filter", filter,
	    "personal_filter", personal, "results", (json_int_t)results,
	    "revealed", o->reveal);
	if (p == NULL)
		xdie("out of memory");
	if (o->case_ref != NULL)
		json_object_set_new(p, "case_ref", json_string(o->case_ref));
	payload = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(p);
	if (payload == NULL)
		xdie("out of memory");

	if ((e = saksi_schemas_load(x->cf.cf_schemas_dir, &sc, err, sizeof(err))) != SAKSI_OK)
		xdie("schemas %s: %s", x->cf.cf_schemas_dir, err[0] ? err : saksi_strerror(e));
	if (!saksi_schemas_has(sc, ACCESS_TYPE))
		xdie("the schemas in %s lack %s: install this version's schemas",
		    x->cf.cf_schemas_dir, ACCESS_TYPE);
	xpubkey_any(x->cf.cf_box_key, NULL, &box);
	if ((e = saksi_ledger_begin(x->l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read the ledger");
	e = saksi_ledger_meta(txn, "vkey", &vkey);
	saksi_ledger_abort(txn);
	if (e != SAKSI_OK || saksi_note_vkey_parse(vkey, &v) != SAKSI_OK)
		xdie("ledger %s has no usable verifier key", x->ledger_dir);
	free(vkey);
	if (url == NULL) {
		if (x->cf.cf_nlisten == 0)
			xdie("%s listens nowhere: give --url", o->config);
		url = x->cf.cf_listen[0];
	}
	memset(&co, 0, sizeof(co));
	co.co_url = url;
	co.co_key = sk;
	co.co_box_pk = box.pk_key;
	co.co_log = &v;
	co.co_schemas = sc;
	co.co_timeout_ms = o->timeout;
	if ((e = saksi_client_open(&co, &cl)) != SAKSI_OK)
		xdie_err(e, "cannot connect to saksid at %s", url);
	/* A sequence above the key's last, and above any earlier run's (time-based). */
	for (int attempt = 0;; attempt++) {
		if ((e = saksi_ledger_begin(x->l, 0, &txn)) != SAKSI_OK)
			xdie_err(e, "cannot read the ledger");
		e = saksi_ledger_seq_last(txn, saksi_seckey_id(sk), &last);
		saksi_ledger_abort(txn);
		if (e != SAKSI_OK)
			xdie_err(e, "cannot read the ledger");
		seq = now_ms() * 1000;
		if (seq <= last)
			seq = last + 1;
		memset(&ev, 0, sizeof(ev));
		ev.se_type = ACCESS_TYPE;
		ev.se_payload = payload;
		ev.se_seq = seq;
		ev.se_time_ms = now_ms();
		memset(&res, 0, sizeof(res));
		e = saksi_client_submit(cl, &ev, 1, &res);
		if (e == SAKSI_ERR_PROOF)
			xfail("saksid's receipt for the access entry does not verify: results "
			    "withheld");
		if (e != SAKSI_OK)
			xdie_err(e, "the access entry could not be written to saksid at %s: results "
			    "withheld", url);
		if (res.sr_code == SAKSI_R_ACCEPTED || res.sr_code == SAKSI_R_DUPLICATE)
			break;
		if ((res.sr_code != SAKSI_R_REPLAY && res.sr_code != SAKSI_R_EQUIVOCATION) ||
		    attempt == 4)
			xfail("saksid refused the access entry (%s): %s; results withheld",
			    saksi_reason_name(res.sr_code), res.sr_message);
		saksi_result_clear(&res);
	}
	fprintf(stderr, "saksi: access logged as entry %" PRIu64 "\n", res.sr_index);
	saksi_result_clear(&res);
	saksi_client_close(cl);
	saksi_schemas_free(sc);
	saksi_keyring_free(kr);
	free(payload);
}

/* ---- output ---- */

static const char *const columns[] = { "index", "time", "type", "branch", "officer",
	"claim", "booking", "personal" };
#define NCOL (sizeof(columns) / sizeof(columns[0]))

static void
cells(const struct row *r, char idx[24], char when[32], const char *c[NCOL])
{
	const char *officer = pstr(r, "officer_id");

	snprintf(idx, 24, "%" PRIu64, r->index);
	iso(r->time_ms, when, 32);
	if (officer[0] == '\0')
		officer = pstr(r, "approver_id");
	c[0] = idx;
	c[1] = when;
	c[2] = r->type;
	c[3] = pstr(r, "branch");
	c[4] = officer;
	c[5] = pstr(r, "claim_id");
	c[6] = pstr(r, "booking_id");
	c[7] = r->personal;
}

static void
csv_field(const char *s)
{
	if (strpbrk(s, ",\"\n\r") == NULL) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void
print_result(const struct qopts *o, const struct result *res)
{
	char idx[24], when[32];
	const char *c[NCOL];
	size_t w[NCOL];

	/* Never silently partial: entries the catch-up has not reached yet are not found. */
	if (res->ix_upto < res->ix_size)
		fprintf(stderr, "saksi: warning: index covers entries below %" PRIu64 " of %"
		    PRIu64 ": saksid is still indexing the rest (saksi status shows how far), so "
		    "entries from %" PRIu64 " on are missing from these results\n", res->ix_upto,
		    res->ix_size, res->ix_upto);
	if (o->out == OUT_JSON) {
		json_t *root = json_object(), *arr = json_array();

		for (size_t i = 0; i < res->n; i++) {
			const struct row *r = &res->rows[i];

			iso(r->time_ms, when, sizeof(when));
			json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:s, s:s, s:O}",
			    "index", (json_int_t)r->index, "time_ms", (json_int_t)r->time_ms,
			    "time", when, "type", r->type, "key_id", r->key_id, "payload",
			    r->payload));
		}
		json_object_set_new(root, "entries", arr);
		json_object_set_new(root, "more", json_boolean(res->more));
		if (res->more && !o->timeline && res->n > 0)
			json_object_set_new(root, "next_after",
			    json_integer((json_int_t)res->rows[res->n - 1].index));
		json_object_set_new(root, "revealed", json_boolean(o->reveal));
		json_object_set_new(root, "index", json_pack("{s:I, s:I, s:b}", "upto",
		    (json_int_t)res->ix_upto, "entries", (json_int_t)res->ix_size, "complete",
		    res->ix_upto >= res->ix_size));
		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(root);
		return;
	}
	if (o->out == OUT_CSV) {
		for (size_t k = 0; k < NCOL; k++)
			printf("%s%s", k ? "," : "", columns[k]);
		putchar('\n');
		for (size_t i = 0; i < res->n; i++) {
			cells(&res->rows[i], idx, when, c);
			for (size_t k = 0; k < NCOL; k++) {
				if (k)
					putchar(',');
				csv_field(c[k]);
			}
			putchar('\n');
		}
	} else {
		for (size_t k = 0; k < NCOL; k++)
			w[k] = strlen(columns[k]);
		for (size_t i = 0; i < res->n; i++) {
			cells(&res->rows[i], idx, when, c);
			for (size_t k = 0; k < NCOL; k++)
				if (strlen(c[k]) > w[k])
					w[k] = strlen(c[k]);
		}
		for (size_t k = 0; k < NCOL; k++)
			printf("%-*s%s", k + 1 < NCOL ? (int)w[k] : 0, columns[k],
			    k + 1 < NCOL ? "  " : "\n");
		for (size_t i = 0; i < res->n; i++) {
			cells(&res->rows[i], idx, when, c);
			for (size_t k = 0; k < NCOL; k++)
				printf("%-*s%s", k + 1 < NCOL ? (int)w[k] : 0, c[k][0] ? c[k] : "-",
				    k + 1 < NCOL ? "  " : "\n");
		}
		fprintf(stderr, "saksi: %zu entr%s%s\n", res->n, res->n == 1 ? "y" : "ies",
		    o->reveal ? ", personal values revealed" : "");
	}
	if (res->more && res->n > 0 && !o->timeline)
		fprintf(stderr, "saksi: more: --after %" PRIu64 "\n",
		    res->rows[res->n - 1].index);
	else if (res->more)
		fprintf(stderr, "saksi: more: raise --limit or narrow --since/--until\n");
}

/* ---- the commands ---- */

/* A plain filter value goes into the access entry's filter text as it is. */
static void
check_plain(const struct qopts *o, const char *what, const char *v)
{
	if (v[0] == '\0' || strlen(v) > 128)
		xusage(o->usage, "--%s: 1 to 128 characters", what);
	for (const char *s = v; *s != '\0'; s++)
		if (*s < '!' || *s > '~' || *s == ',' || *s == '=')
			xusage(o->usage, "--%s: printable ASCII without spaces, ',' or '='", what);
}

static int
cmd_query_common(int argc, char **argv, int timeline)
{
	enum { O_CONFIG = 256, O_SINCE, O_UNTIL, O_LIMIT, O_AFTER, O_JSON, O_CSV, O_REVEAL,
		O_PASS, O_CASE, O_URL, O_TIMEOUT, O_FIELD };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, O_CONFIG },
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "after", required_argument, NULL, O_AFTER },
		{ "json", no_argument, NULL, O_JSON },
		{ "csv", no_argument, NULL, O_CSV },
		{ "reveal", no_argument, NULL, O_REVEAL },
		{ "key", required_argument, NULL, 'k' },
		{ "passphrase-file", required_argument, NULL, O_PASS },
		{ "case", required_argument, NULL, O_CASE },
		{ "url", required_argument, NULL, O_URL },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "nik", required_argument, NULL, O_FIELD + SAKSI_IX_NIK },
		{ "kpj", required_argument, NULL, O_FIELD + SAKSI_IX_KPJ },
		{ "phone", required_argument, NULL, O_FIELD + SAKSI_IX_PHONE },
		{ "email", required_argument, NULL, O_FIELD + SAKSI_IX_EMAIL },
		{ "account", required_argument, NULL, O_FIELD + SAKSI_IX_ACCOUNT },
		{ "device", required_argument, NULL, O_FIELD + SAKSI_IX_DEVICE },
		{ "ip", required_argument, NULL, O_FIELD + SAKSI_IX_IP },
		{ "officer", required_argument, NULL, O_FIELD + SAKSI_IX_OFFICER },
		{ "branch", required_argument, NULL, O_FIELD + SAKSI_IX_BRANCH },
		{ "type", required_argument, NULL, O_FIELD + SAKSI_IX_TYPE },
		{ "claim", required_argument, NULL, O_FIELD + SAKSI_IX_CLAIM },
		{ "booking", required_argument, NULL, O_FIELD + SAKSI_IX_BOOKING },
		{ NULL, 0, NULL, 0 },
	};
	struct qopts o;
	struct ctx x;
	struct result res;
	saksi_seckey *sk = NULL;
	saksi_ledger_txn *txn;
	MDB_dbi dbi;
	uint64_t timeout = 0;
	int c, personal = 0, nfilters = 0, id_filters = 0;
	saksi_err e;

	memset(&o, 0, sizeof(o));
	o.timeline = timeline;
	o.usage = timeline ? t_usage : q_usage;
	o.config = "/etc/saksi/saksid.conf";
	o.limit = timeline ? 1000 : LIMIT_DEFAULT;
	o.out = OUT_TABLE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
		if (c >= O_FIELD && c < O_FIELD + SAKSI_IX__COUNT) {
			saksi_index_field f = (saksi_index_field)(c - O_FIELD);

			if (o.given[f] != NULL)
				xusage(o.usage, "--%s given twice", saksi_index_field_name(f));
			o.given[f] = optarg;
			continue;
		}
		switch (c) {
		case O_CONFIG: o.config = optarg; break;
		case O_SINCE:
			o.since = parse_time(optarg, 0, "--since", o.usage);
			o.has_since = 1;
			break;
		case O_UNTIL:
			o.until = parse_time(optarg, 1, "--until", o.usage);
			o.has_until = 1;
			break;
		case O_LIMIT: o.limit = (size_t)xparse_u64(optarg, "--limit"); break;
		case O_AFTER:
			o.after = xparse_u64(optarg, "--after");
			o.has_after = 1;
			break;
		case O_JSON: o.out = OUT_JSON; break;
		case O_CSV: o.out = OUT_CSV; break;
		case O_REVEAL: o.reveal = 1; break;
		case 'k': o.key = optarg; break;
		case O_PASS: o.passfile = optarg; break;
		case O_CASE: o.case_ref = optarg; break;
		case O_URL: o.url = optarg; break;
		case O_TIMEOUT: timeout = xparse_u64(optarg, "--timeout"); break;
		default: xusage(o.usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(o.usage, "unexpected argument");
	if (o.limit == 0 || o.limit > LIMIT_MAX)
		xusage(o.usage, "--limit is 1 to %d", LIMIT_MAX);
	if (timeout > 3600000)
		xusage(o.usage, "--timeout is in milliseconds, at most 3600000");
	o.timeout = (int)timeout;
	if (o.has_since && o.has_until && o.since > o.until)
		xusage(o.usage, "--since is after --until");
	if (o.case_ref != NULL) {
		size_t n = strlen(o.case_ref);

		if (n == 0 || n > 64 || strspn(o.case_ref, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_./-") != n)
			xusage(o.usage, "--case: 1 to 64 of A-Z a-z 0-9 _ . / -");
	}
	for (int f = 1; f < SAKSI_IX__COUNT; f++) {
		if (o.given[f] == NULL)
			continue;
		nfilters++;
		if (saksi_index_field_personal((saksi_index_field)f))
			personal = 1;
		else
			check_plain(&o, saksi_index_field_name((saksi_index_field)f), o.given[f]);
		if (f == SAKSI_IX_CLAIM || f == SAKSI_IX_BOOKING ||
		    (saksi_index_field_personal((saksi_index_field)f) && f != SAKSI_IX_IP))
			id_filters++;
	}
	if (timeline && (nfilters != 1 || id_filters != 1))
		xusage(o.usage, "a timeline follows exactly one of --claim, --booking, --nik, "
		    "--kpj, --phone, --email, --account or --device");
	if (timeline && o.has_after)
		xusage(o.usage, "a timeline is one story: use --limit, --since and --until");
	if (!timeline && nfilters == 0 && !o.has_since && !o.has_until)
		xusage(o.usage, "give at least one filter, --since or --until");
	/* Fail closed, and early: no key, no look at personal data. */
	if ((personal || o.reveal) && o.key == NULL)
		xusage(o.usage, "%s needs a supervisor's key (-k supervisor.key): the access is "
		    "written to the ledger, signed by whoever looked", o.reveal ? "--reveal" :
		    "a query by a personal field");
	if (o.case_ref != NULL && o.key == NULL)
		xusage(o.usage, "--case goes into the access entry: give -k");

	ctx_open(&x, &o);
	for (int f = 1; f < SAKSI_IX__COUNT; f++) {
		saksi_blind_kind k = saksi_index_field_kind((saksi_index_field)f);

		if (o.given[f] == NULL || k == SAKSI_BLIND_NONE)
			continue;
		e = saksi_blind_token(x.blind, k, o.given[f], strlen(o.given[f]), o.tok[f]);
		/* The value is never echoed: it is the personal data being protected. */
		if (e != SAKSI_OK)
			xusage(o.usage, "--%s: not a valid %s (see RULES.md 1.1)",
			    saksi_index_field_name((saksi_index_field)f), saksi_blind_kind_name(k));
	}
	if (o.key != NULL)
		sk = xseckey_load(o.key, o.passfile);
	if (sk != NULL && saksi_seckey_kind(sk) != SAKSI_KEY_SIGN)
		xdie("%s is not a signing key", o.key);

	memset(&res, 0, sizeof(res));
	if ((e = saksi_ledger_begin(x.l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read ledger %s", x.ledger_dir);
	dbi = index_dbi(&x, txn, &res);
	if (timeline)
		run_timeline(&x, txn, dbi, &o, &res);
	else
		run_query(&x, txn, dbi, &o, &res);
	saksi_ledger_abort(txn);

	if (personal || o.reveal)
		log_access(&x, &o, sk, res.n, personal);
	print_result(&o, &res);
	for (size_t i = 0; i < res.n; i++)
		row_free(&res.rows[i]);
	free(res.rows);
	saksi_seckey_free(sk);
	for (int f = 1; f < SAKSI_IX__COUNT; f++)
		sodium_memzero(o.tok[f], sizeof(o.tok[f]));
	ctx_close(&x);
	return SX_OK;
}

int
cmd_query(int argc, char **argv)
{
	return cmd_query_common(argc, argv, 0);
}

int
cmd_timeline(int argc, char **argv)
{
	return cmd_query_common(argc, argv, 1);
}
