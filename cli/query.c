/*
 * query.c: saksi query and saksi timeline, the supervisory unit's look at the ledger
 * through its secondary indexes (FORMATS.md 7.4): on the appliance, with saksid's own keys
 * from its config and the engine of lib/query.h, or with --remote from a supervisor's own
 * machine, where saksid runs the query (wire op 7, FORMATS.md 3.4). Personal filters are
 * never sent, printed or logged in clear (blinded here, or sealed to the appliance);
 * personal values are shown masked unless revealed, and every reveal and every query by a
 * personal field is first written to the ledger as a signed access entry
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

#include "appliance.h"
#include "blind.h"
#include "cli.h"
#include "client.h"
#include "commit.h"
#include "config.h"
#include "datakey.h"
#include "envelope.h"
#include "index.h"
#include "merkle.h"
#include "query.h"
#include "remoteq.h"
#include "reveal.h"
#include "schema.h"
#include "wire.h"

#define LIMIT_DEFAULT SAKSI_QUERY_LIMIT_DEFAULT
#define LIMIT_MAX SAKSI_QUERY_LIMIT_MAX
#define FILTER_MAX SAKSI_QUERY_FILTER_MAX

static const char q_usage[] =
"saksi query [--config FILE] [FILTERS] [--since T] [--until T] [--limit N]\n"
"                   [--after INDEX] [--json | --csv] [-k supervisor.key [--reveal]]\n"
"                   [--case REF] [--passphrase-file F] [--url URL] [--timeout MS]\n"
"                   [--remote URL --box-pub box.pub (--vkey VKEY | --vkey-file F)]\n"
"  FILTERS: --nik --kpj --phone --email --account BANK:NUMBER --device --ip (personal:\n"
"  blinded with the index key, need -k) --officer --branch --type --claim --booking";
static const char t_usage[] =
"saksi timeline [--config FILE] (--claim ID | --booking ID | --nik NIK | --kpj KPJ\n"
"                      | --phone P | --email E | --account BANK:NUMBER | --device D)\n"
"                      [--since T] [--until T] [--limit N] [--json | --csv]\n"
"                      [-k supervisor.key [--reveal]] [--case REF] [--url URL]\n"
"                      [--remote URL --box-pub box.pub (--vkey VKEY | --vkey-file F)]";

enum { OUT_TABLE, OUT_JSON, OUT_CSV };

struct qopts {
	int timeline;
	const char *usage;
	const char *config;
	const char *given[SAKSI_IX__COUNT];   /* as typed: personal ones are secrets here */
	char *branch;   /* the key's keyring branch: what it may see (query.h qs_branch) */
	char tok[SAKSI_IX__COUNT][SAKSI_BLIND_TOKEN_LEN + 1];
	uint64_t since, until;
	int has_since, has_until;
	uint64_t after;
	int has_after;
	size_t limit;
	int out;
	int reveal;
	const char *key, *passfile, *case_ref, *url;
	const char *remote, *box_pub, *vkey, *vkey_file;   /* --remote and what it needs */
	int timeout;
	const char *tz_name;   /* table/CSV time zone (alerts show --tz); NULL: UTC */
	int tz_off_min;
};

/* ---- time ---- */

static void
iso(uint64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "%" PRIu64, ms);
}

/* The table's time in a named zone ("2026-11-07 09:22:59 WITA"), as alerts show --tz
 * prints the alert's own times: one screen, one clock. JSON never comes here. */
static void
zoned(uint64_t ms, const struct qopts *o, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000) + (time_t)o->tz_off_min * 60;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm) == 0) {
		snprintf(out, len, "%" PRIu64, ms);
		return;
	}
	snprintf(out + strlen(out), len - strlen(out), " %s", o->tz_name);
}

/* ---- setup ---- */

/* ---- running ---- */

/* The engine's spec of the options: personal filters as their tokens. */
static void
spec_of(const struct qopts *o, saksi_query_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->qs_timeline = o->timeline;
	for (int f = 1; f < SAKSI_IX__COUNT; f++)
		if (o->given[f] != NULL)
			s->qs_value[f] = saksi_index_field_personal((saksi_index_field)f) ?
			    o->tok[f] : o->given[f];
	s->qs_since_ms = o->since;
	s->qs_has_since = o->has_since;
	s->qs_until_ms = o->until;
	s->qs_has_until = o->has_until;
	s->qs_after = o->after;
	s->qs_has_after = o->has_after;
	s->qs_limit = o->limit;
	s->qs_reveal = o->reveal;
	s->qs_branch = o->branch;
}

static MDB_dbi
index_dbi(struct appliance *x, saksi_ledger_txn *txn, uint64_t cover[2])
{
	uint64_t upto, size = saksi_ledger_size(txn);
	MDB_dbi dbi;

	appliance_index(x, txn, &dbi, &upto);
	/* Said with the results (print_result), in --json too. */
	cover[0] = upto < size ? upto : size;
	cover[1] = size;
	return dbi;
}

/* Runs the query or timeline; on failure says what and where, and exits. */
static void
run(struct appliance *x, saksi_ledger_txn *txn, MDB_dbi dbi, const struct qopts *o,
    saksi_query_result *res)
{
	saksi_query_ctx qc = { txn, dbi, x->store, x->dk };
	saksi_query_spec spec;
	uint64_t idx;
	saksi_err e, cause;

	spec_of(o, &spec);
	if ((e = saksi_query_run(&qc, &spec, res)) == SAKSI_OK)
		return;
	idx = res->qr_fail_index;
	cause = res->qr_fail_cause;
	switch (res->qr_fail_what) {
	case SAKSI_QF_TOO_LARGE:
		if (o->timeline)
			xdie("the timeline has more than %u entries: narrow it with "
			    "--since/--until", SAKSI_QUERY_TIMELINE_MAX);
		xdie("more than %u entries in that time range: add a filter or narrow it",
		    SAKSI_INDEX_TIME_ONLY_MAX);
	case SAKSI_QF_INDEX:
		xdie_err(cause, o->timeline ? "timeline query failed" : "query failed");
	case SAKSI_QF_LEAF:
		xdie_err(cause, "cannot read entry %" PRIu64, idx);
	case SAKSI_QF_NOT_EVENT:
		xfail("entry %" PRIu64 " is indexed as an event but is not one: run saksi verify",
		    idx);
	case SAKSI_QF_PAYLOAD:
		xfail("entry %" PRIu64 ": payload is not a JSON object", idx);
	case SAKSI_QF_DISC_READ:
		xdie_err(cause, "entry %" PRIu64 ": cannot read its disclosures", idx);
	case SAKSI_QF_DISC_OPEN:
		xfail("entry %" PRIu64 ": its disclosures do not open with store_key %s (%s)",
		    idx, x->cf.cf_store_key, saksi_strerror(cause));
	case SAKSI_QF_DISC_MATCH:
		xfail("entry %" PRIu64 ": its stored disclosures do not match its digests (%s): "
		    "run saksi verify", idx, saksi_strerror(cause));
	case SAKSI_QF_NOMEM:
		xdie("out of memory");
	default:
		xdie_err(e, "query failed");
	}
}

/* ---- the access entry ---- */

static void
filter_text(const struct qopts *o, char *out, size_t len)
{
	saksi_query_spec spec;

	spec_of(o, &spec);
	if (saksi_query_filter_text(&spec, out, len) != SAKSI_OK)
		xdie("the filters are too long for an access entry");
}

/* The access entry, before anything of the results is printed. */
static void
log_access(struct appliance *x, const struct qopts *o, const saksi_seckey *sk,
           size_t results, int personal, uint64_t participants)
{
	char filter[FILTER_MAX + 1];
	struct access_entry a;

	filter_text(o, filter, sizeof(filter));
	memset(&a, 0, sizeof(a));
	a.command = o->timeline ? "timeline" : "query";
	a.filter = filter;
	a.personal_filter = personal;
	a.results = results;
	a.revealed = o->reveal;
	a.participants = participants;
	a.case_ref = o->case_ref;
	a.key_path = o->key;
	a.url = o->url;
	a.timeout_ms = o->timeout;
	a.withheld = "results withheld";
	(void)appliance_log_access(x, &a, sk, NULL);
}

/* ---- output ---- */

static const char *
pstr(const saksi_query_row *r, const char *member)
{
	const char *str = json_string_value(json_object_get(r->qr_payload, member));

	return str != NULL ? str : "";
}

static const char *const columns[] = { "index", "time", "type", "branch", "officer",
	"claim", "booking", "personal" };
#define NCOL (sizeof(columns) / sizeof(columns[0]))

static void
cells(const saksi_query_row *r, char idx[24], char when[32], const char *c[NCOL])
{
	const char *officer = pstr(r, "officer_id");

	snprintf(idx, 24, "%" PRIu64, r->qr_index);
	iso(r->qr_time_ms, when, 32);
	if (officer[0] == '\0')
		officer = pstr(r, "approver_id");
	c[0] = idx;
	c[1] = when;
	c[2] = r->qr_type;
	c[3] = pstr(r, "branch");
	c[4] = officer;
	c[5] = pstr(r, "claim_id");
	c[6] = pstr(r, "booking_id");
	c[7] = r->qr_personal;
}

/*
 * The columns of a listing of access entries (every row a supervisor.access.logged):
 * who looked (the payload's key_id, which names the requester of a remote query too, and
 * the key's keyring name when this side has the keyring), with what and how much. The
 * filter is as stored: tokens, never personal values.
 */
static const char *const acolumns[] = { "index", "time", "key_id", "name", "branch",
	"command", "filter", "results", "participants", "revealed", "case" };
#define ACOL (sizeof(acolumns) / sizeof(acolumns[0]))
#define MAXCOL (ACOL > NCOL ? ACOL : NCOL)

struct cellbuf {
	char idx[24], when[32], results[24], participants[24];
};

static const char *
pint(const saksi_query_row *r, const char *member, char buf[24])
{
	json_t *v = json_object_get(r->qr_payload, member);

	if (!json_is_integer(v))
		return "";
	snprintf(buf, 24, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return buf;
}

static void
access_cells(const saksi_query_row *r, const saksi_keyring *kr, struct cellbuf *b,
    const char *c[MAXCOL])
{
	const saksi_keyring_entry *ke = NULL;
	const char *kid = pstr(r, "key_id");
	json_t *rv = json_object_get(r->qr_payload, "revealed");
	uint8_t id[SAKSI_KEYID_LEN];
	size_t idlen;

	if (kr != NULL && strlen(kid) == 2 * SAKSI_KEYID_LEN &&
	    sodium_hex2bin(id, sizeof(id), kid, strlen(kid), NULL, &idlen, NULL) == 0 &&
	    idlen == sizeof(id))
		ke = saksi_keyring_find(kr, id);
	snprintf(b->idx, sizeof(b->idx), "%" PRIu64, r->qr_index);
	iso(r->qr_time_ms, b->when, sizeof(b->when));
	c[0] = b->idx;
	c[1] = b->when;
	c[2] = kid;
	c[3] = ke != NULL ? ke->ke_name : "";
	c[4] = pstr(r, "branch");
	c[5] = pstr(r, "command");
	c[6] = pstr(r, "filter");
	c[7] = pint(r, "results", b->results);
	c[8] = pint(r, "participants", b->participants);
	c[9] = json_is_boolean(rv) ? (json_is_true(rv) ? "yes" : "no") : "";
	c[10] = pstr(r, "case_ref");
}

/* The cells of row r in the listing's columns (acc: the access columns). */
static void
row_cells(int acc, const saksi_query_row *r, const saksi_keyring *kr, struct cellbuf *b,
    const char *c[MAXCOL])
{
	if (acc)
		access_cells(r, kr, b, c);
	else
		cells(r, b->idx, b->when, c);
}

/* 1 if every row is an access entry (and there is one): the access columns say more. */
static int
all_access(const saksi_query_result *res)
{
	for (size_t i = 0; i < res->qr_n; i++)
		if (strcmp(res->qr_rows[i].qr_type, "supervisor.access.logged") != 0)
			return 0;
	return res->qr_n > 0;
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

/*
 * The payload a row shows in --json. A forgotten participant's personal members are
 * still their salted digests ({"_sd": ...}, what the leaf signs): shown as the string
 * "[forgotten]", as in the table, so that a tool sees one shape per member and the
 * state in words, never an object it might take for a value.
 */
static json_t *
json_payload(const saksi_query_row *r)
{
	const char *name;
	json_t *p, *v;

	if (!r->qr_forgotten)
		return json_incref(r->qr_payload);
	if ((p = json_deep_copy(r->qr_payload)) == NULL)
		xdie("out of memory");
	json_object_foreach(p, name, v) {
		if (json_is_object(v) && json_object_size(v) == 1 &&
		    json_object_get(v, "_sd") != NULL)
			json_object_set_new(p, name, json_string("[forgotten]"));
	}
	return p;
}

/*
 * cover: the index covers entries below cover[0] of cover[1] (NULL: not known here, a
 * remote answer, which saksid gives only from a complete index). kr: the keyring, to
 * name who looked in a listing of access entries (NULL: key ids only).
 */
static void
print_result(const struct qopts *o, const saksi_query_result *res, const uint64_t *cover,
    const saksi_keyring *kr)
{
	char when[32];
	struct cellbuf b;
	const char *c[MAXCOL];
	size_t w[MAXCOL];
	int acc = all_access(res);
	const char *const *cols = acc ? acolumns : columns;
	size_t ncol = acc ? ACOL : NCOL;

	/* Never silently partial: entries the catch-up has not reached yet are not found. */
	if (cover != NULL && cover[0] < cover[1])
		fprintf(stderr, "saksi: warning: index covers entries below %" PRIu64 " of %"
		    PRIu64 ": saksid is still indexing the rest (saksi status shows how far), so "
		    "entries from %" PRIu64 " on are missing from these results\n", cover[0],
		    cover[1], cover[0]);
	if (o->out == OUT_JSON) {
		json_t *root = json_object(), *arr = json_array();

		for (size_t i = 0; i < res->qr_n; i++) {
			const saksi_query_row *r = &res->qr_rows[i];

			iso(r->qr_time_ms, when, sizeof(when));
			json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:s, s:s, s:o, s:b}",
			    "index", (json_int_t)r->qr_index, "time_ms", (json_int_t)r->qr_time_ms,
			    "time", when, "type", r->qr_type, "key_id", r->qr_key_id, "payload",
			    json_payload(r), "forgotten", r->qr_forgotten));
		}
		json_object_set_new(root, "entries", arr);
		json_object_set_new(root, "more", json_boolean(res->qr_more));
		if (res->qr_more && !o->timeline && res->qr_n > 0)
			json_object_set_new(root, "next_after",
			    json_integer((json_int_t)res->qr_rows[res->qr_n - 1].qr_index));
		json_object_set_new(root, "revealed", json_boolean(o->reveal));
		if (cover != NULL)
			json_object_set_new(root, "index", json_pack("{s:I, s:I, s:b}", "upto",
			    (json_int_t)cover[0], "entries", (json_int_t)cover[1], "complete",
			    cover[0] >= cover[1]));
		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(root);
		return;
	}
	if (o->out == OUT_CSV) {
		for (size_t k = 0; k < ncol; k++)
			printf("%s%s", k ? "," : "", cols[k]);
		putchar('\n');
		for (size_t i = 0; i < res->qr_n; i++) {
			row_cells(acc, &res->qr_rows[i], kr, &b, c);
			if (o->tz_name != NULL)
				zoned(res->qr_rows[i].qr_time_ms, o, b.when, sizeof(b.when));
			for (size_t k = 0; k < ncol; k++) {
				if (k)
					putchar(',');
				csv_field(c[k]);
			}
			putchar('\n');
		}
	} else {
		for (size_t k = 0; k < ncol; k++)
			w[k] = strlen(cols[k]);
		for (size_t i = 0; i < res->qr_n; i++) {
			row_cells(acc, &res->qr_rows[i], kr, &b, c);
			if (o->tz_name != NULL)
				zoned(res->qr_rows[i].qr_time_ms, o, b.when, sizeof(b.when));
			for (size_t k = 0; k < ncol; k++)
				if (strlen(c[k]) > w[k])
					w[k] = strlen(c[k]);
		}
		for (size_t k = 0; k < ncol; k++)
			printf("%-*s%s", k + 1 < ncol ? (int)w[k] : 0, cols[k],
			    k + 1 < ncol ? "  " : "\n");
		for (size_t i = 0; i < res->qr_n; i++) {
			row_cells(acc, &res->qr_rows[i], kr, &b, c);
			if (o->tz_name != NULL)
				zoned(res->qr_rows[i].qr_time_ms, o, b.when, sizeof(b.when));
			for (size_t k = 0; k < ncol; k++)
				printf("%-*s%s", k + 1 < ncol ? (int)w[k] : 0, c[k][0] ? c[k] : "-",
				    k + 1 < ncol ? "  " : "\n");
		}
		fprintf(stderr, "saksi: %zu entr%s%s\n", res->qr_n, res->qr_n == 1 ? "y" : "ies",
		    o->reveal ? ", personal values revealed" : "");
	}
	if (res->qr_more && res->qr_n > 0 && !o->timeline)
		fprintf(stderr, "saksi: more: --after %" PRIu64 "\n",
		    res->qr_rows[res->qr_n - 1].qr_index);
	else if (res->qr_more)
		fprintf(stderr, "saksi: more: raise --limit or narrow --since/--until\n");
}

/* The table (csv: the CSV) of rows other commands gathered (saksi alerts show): masked,
 * as a query prints them, with the count on stderr. */
void
query_print_rows(const saksi_query_result *res, int csv)
{
	query_print_rows_tz(res, csv, NULL, 0);
}

/* The same with the time column in zone tz_name (offset off_min); NULL: UTC. */
void
query_print_rows_tz(const saksi_query_result *res, int csv, const char *tz_name,
    int off_min)
{
	struct qopts o;

	memset(&o, 0, sizeof(o));
	o.timeline = 1;   /* one story: no paging hint */
	o.out = csv ? OUT_CSV : OUT_TABLE;
	o.tz_name = tz_name;
	o.tz_off_min = off_min;
	print_result(&o, res, NULL, NULL);
}

/* ---- remote (wire op 7, FORMATS.md 3.4) ---- */

static int
personal_given(const struct qopts *o)
{
	for (int f = 1; f < SAKSI_IX__COUNT; f++)
		if (o->given[f] != NULL && saksi_index_field_personal((saksi_index_field)f))
			return 1;
	return 0;
}

/* Prints the daemon's one-line reason with anything unprintable replaced. */
static void
clean_text(char *t)
{
	for (; *t != '\0'; t++)
		if (*t < ' ' || *t > '~')
			*t = '?';
}

/*
 * saksi query/timeline --remote: the same filters and output, from a supervisor's own
 * machine. Personal filter values are sealed to the appliance's box key; the request is
 * signed with -k; the rows come back sealed to -k and signed with the log key. saksid
 * runs the query and writes the access entry itself before it answers.
 */
static int
run_remote(const struct qopts *o)
{
	saksi_note_verifier v;
	saksi_pubkey box;
	saksi_rq_params p;
	saksi_query_result res;
	saksi_seckey *sk;
	uint8_t *req = NULL, *body = NULL, hash[32];
	char norm[SAKSI_BLIND_VALUE_MAX + 1], *json = NULL;
	size_t rlen, blen, jlen;
	uint64_t access, size;
	int status;
	saksi_err e;

	if (o->key == NULL)
		xusage(o->usage, "--remote needs -k (the supervisor's key signs the request)");
	if (o->box_pub == NULL)
		xusage(o->usage, "--remote needs --box-pub (the appliance's box key: personal "
		    "filters are sealed to it)");
	if ((o->vkey == NULL) == (o->vkey_file == NULL))
		xusage(o->usage, "--remote needs one of --vkey or --vkey-file (the log's key "
		    "signs the reply)");
	if (o->url != NULL)
		xusage(o->usage, "--url is for the local access entry; with --remote saksid "
		    "writes it");
	/* A value that does not normalise is refused here, before anything is sent. */
	for (int f = 1; f < SAKSI_IX__COUNT; f++) {
		saksi_blind_kind k = saksi_index_field_kind((saksi_index_field)f);

		if (o->given[f] == NULL || k == SAKSI_BLIND_NONE)
			continue;
		e = saksi_blind_normalise(k, o->given[f], strlen(o->given[f]), norm, sizeof(norm),
		    NULL);
		sodium_memzero(norm, sizeof(norm));
		if (e != SAKSI_OK)
			xusage(o->usage, "--%s: not a valid %s (see RULES.md 1.1)",
			    saksi_index_field_name((saksi_index_field)f), saksi_blind_kind_name(k));
	}
	xvkey(o->vkey, o->vkey_file, &v);
	xbox_pub(o->box_pub, &box);
	sk = xseckey_load(o->key, o->passfile);
	if (saksi_seckey_kind(sk) != SAKSI_KEY_SIGN)
		xdie("%s is not a signing key", o->key);

	memset(&p, 0, sizeof(p));
	p.rp_command = o->timeline ? SAKSI_RQ_TIMELINE : SAKSI_RQ_QUERY;
	p.rp_reveal = o->reveal;
	for (int f = 1; f < SAKSI_IX__COUNT; f++)
		p.rp_value[f] = o->given[f];
	p.rp_since_ms = o->since;
	p.rp_has_since = o->has_since;
	p.rp_until_ms = o->until;
	p.rp_has_until = o->has_until;
	p.rp_after = o->after;
	p.rp_has_after = o->has_after;
	p.rp_limit = (uint32_t)o->limit;
	p.rp_case_ref = o->case_ref;
	p.rp_time_ms = now_ms();
	if ((e = saksi_rq_request_make(sk, box.pk_key, &p, &req, &rlen)) != SAKSI_OK)
		xdie_err(e, "cannot make the request");
	saksi_rq_request_hash(req, rlen, hash);
	e = saksi_rq_exchange(o->remote, o->timeout, req, rlen, &status, &body, &blen);
	free(req);
	if (e == SAKSI_ERR_FORMAT)
		xfail("saksid at %s sent a malformed reply: results withheld", o->remote);
	if (e != SAKSI_OK)
		xdie_err(e, "no answer from saksid at %s", o->remote);
	if (status != SAKSI_R_ACCEPTED) {
		clean_text((char *)body);
		if (status == SAKSI_R_UNAVAILABLE || status == SAKSI_R_BUSY)
			xdie("saksid at %s cannot answer now (%s): %s", o->remote,
			    saksi_reason_name(status), (char *)body);
		xfail("saksid refused the query (%s): %s", saksi_reason_name(status),
		    (char *)body);
	}
	e = saksi_rq_reply_open(body, blen, v.nv_pk, hash, sk, &access, &size, &json, &jlen);
	free(body);
	if (e != SAKSI_OK)
		xfail("the reply does not check (%s): results withheld", saksi_strerror(e));
	e = saksi_rq_result_parse(json, jlen, &res);
	sodium_memzero(json, jlen);
	free(json);
	if (e != SAKSI_OK)
		xfail("the reply's rows do not parse (%s): results withheld", saksi_strerror(e));
	if ((personal_given(o) || o->reveal) && access == UINT64_MAX)
		xfail("saksid sent rows of a personal look without an access entry: results "
		    "withheld");
	if (access != UINT64_MAX)
		fprintf(stderr, "saksi: access logged as entry %" PRIu64 "\n", access);
	print_result(o, &res, NULL, NULL);
	saksi_query_result_free(&res);
	saksi_seckey_free(sk);
	return SX_OK;
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
		O_PASS, O_CASE, O_URL, O_TIMEOUT, O_REMOTE, O_BOXPUB, O_VKEY, O_VKEYFILE,
		O_FIELD };
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
		{ "remote", required_argument, NULL, O_REMOTE },
		{ "box-pub", required_argument, NULL, O_BOXPUB },
		{ "vkey", required_argument, NULL, O_VKEY },
		{ "vkey-file", required_argument, NULL, O_VKEYFILE },
		XFILTER_OPTIONS(O_FIELD),
		{ NULL, 0, NULL, 0 },
	};
	struct qopts o;
	struct appliance x;
	saksi_query_result res;
	saksi_seckey *sk = NULL;
	saksi_keyring *kr = NULL;
	saksi_ledger_txn *txn;
	MDB_dbi dbi;
	uint64_t timeout = 0, cover[2];
	int c, personal = 0, nfilters = 0, id_filters = 0, rc;
	char from_stdin[256];
	saksi_err e;

	memset(&o, 0, sizeof(o));
	o.timeline = timeline;
	o.usage = timeline ? t_usage : q_usage;
	o.config = "/etc/saksi/saksid.conf";
	o.limit = timeline ? 1000 : LIMIT_DEFAULT;
	o.out = OUT_TABLE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
		if (xfilter_opt(c, optarg, O_FIELD, o.given, o.usage))
			continue;
		switch (c) {
		case O_CONFIG: o.config = optarg; break;
		case O_SINCE:
			o.since = xparse_time(optarg, 0, "--since", o.usage);
			o.has_since = 1;
			break;
		case O_UNTIL:
			o.until = xparse_time(optarg, 1, "--until", o.usage);
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
		case O_REMOTE: o.remote = optarg; break;
		case O_BOXPUB: o.box_pub = optarg; break;
		case O_VKEY: o.vkey = optarg; break;
		case O_VKEYFILE: o.vkey_file = optarg; break;
		default: xusage(o.usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(o.usage, "unexpected argument");
	xfilter_stdin(o.given, SAKSI_IX__COUNT, from_stdin, sizeof(from_stdin), o.usage);
	if (o.limit == 0 || o.limit > LIMIT_MAX)
		xusage(o.usage, "--limit is 1 to %d", LIMIT_MAX);
	if (timeout > 3600000)
		xusage(o.usage, "--timeout is in milliseconds, at most 3600000");
	o.timeout = (int)timeout;
	if (o.has_since && o.has_until && o.since > o.until)
		xusage(o.usage, "--since is after --until");
	if (o.case_ref != NULL)
		xcase_ref(o.case_ref, o.usage);
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
	if (o.remote != NULL) {
		rc = run_remote(&o);
		sodium_memzero(from_stdin, sizeof(from_stdin));
		return rc;
	}
	if (o.box_pub != NULL || o.vkey != NULL || o.vkey_file != NULL)
		xusage(o.usage, "--box-pub, --vkey and --vkey-file go with --remote");

	appliance_open(&x, o.config, APPLIANCE_NEED_INDEX);
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
	if (sk != NULL)
		o.branch = xkey_branch(x.cf.cf_keyring, sk);

	memset(&res, 0, sizeof(res));
	if ((e = saksi_ledger_begin(x.l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read ledger %s", x.ledger_dir);
	dbi = index_dbi(&x, txn, cover);
	run(&x, txn, dbi, &o, &res);
	saksi_ledger_abort(txn);

	if (personal || o.reveal) {
		uint64_t np;

		if (saksi_reveal_result(&res, &np) != SAKSI_OK)
			xdie("out of memory");
		log_access(&x, &o, sk, res.qr_n, personal, np);
	}
	/* The names of who looked, when the keyring loads: a listing is no reason to fail. */
	if (all_access(&res) && x.cf.cf_keyring != NULL &&
	    saksi_keyring_load(x.cf.cf_keyring, &kr, NULL, 0) != SAKSI_OK)
		kr = NULL;
	print_result(&o, &res, cover, kr);
	saksi_keyring_free(kr);
	saksi_query_result_free(&res);
	saksi_seckey_free(sk);
	free(o.branch);
	for (int f = 1; f < SAKSI_IX__COUNT; f++)
		sodium_memzero(o.tok[f], sizeof(o.tok[f]));
	sodium_memzero(from_stdin, sizeof(from_stdin));
	appliance_close(&x);
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
