/*
 * bundle.c: saksi bundle (on the appliance, with saksid's keys: one case's entries, their
 * proofs and only their disclosures, into a signed evidence file) and saksi verify-bundle
 * (offline, public keys only). Exporting personal data is a reveal: the access entry is
 * in the ledger, with its receipt verified, before a byte of the bundle is written.
 * Filters are run by saksi query's own engine (lib/query.h), so a case finds what a query
 * finds.
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
#include "b64.h"
#include "blind.h"
#include "bundle.h"
#include "cli.h"
#include "client.h"
#include "config.h"
#include "datakey.h"
#include "envelope.h"
#include "index.h"
#include "keylog.h"
#include "query.h"
#include "reveal.h"
#include "rules.h"
#include "verify.h"
#include "wire.h"
#include "u64sort.h"

#define ACCESS_TYPE "supervisor.access.logged"
#define LEAVES_MAX 1024       /* --leaf and --alert options */

static const char b_usage[] =
"saksi bundle --case REF (--leaf INDEX | --alert ID | FILTERS)... [--since T] [--until T]\n"
"                    (--recipient RECIPIENT.pub | --decrypted) -k supervisor.key -o FILE\n"
"                    [--keyrings] [--config FILE] [--passphrase-file F] [--url URL]\n"
"                    [--timeout MS]\n"
"  FILTERS: --nik --kpj --phone --email --account BANK:NUMBER --device --ip --officer\n"
"  --branch --type --claim --booking (ANDed, as saksi query's)";
static const char v_usage[] =
"saksi verify-bundle FILE (--vkey VKEY | --vkey-file F) --keyring FILE\n"
"                    [-k recipient.key [--passphrase-file F]]\n"
"                    [--checkpoint NEWER.note --consistency PROOF] [--json]";

/* The filters in the order the selection text lists them (as saksi query's). */
static const saksi_index_field filter_order[] = {
	SAKSI_IX_NIK, SAKSI_IX_KPJ, SAKSI_IX_PHONE, SAKSI_IX_EMAIL, SAKSI_IX_ACCOUNT,
	SAKSI_IX_DEVICE, SAKSI_IX_IP, SAKSI_IX_OFFICER, SAKSI_IX_BRANCH, SAKSI_IX_TYPE,
	SAKSI_IX_CLAIM, SAKSI_IX_BOOKING,
};

struct bopts {
	const char *config, *case_ref, *recipient, *key, *passfile, *out, *url;
	int decrypted, timeout, keyrings;
	uint64_t leaves[LEAVES_MAX], alerts[LEAVES_MAX];
	size_t nleaves, nalerts;
	const char *given[SAKSI_IX__COUNT];   /* as typed: personal ones are secrets here */
	char tok[SAKSI_IX__COUNT][SAKSI_BLIND_TOKEN_LEN + 1];
	uint64_t since, until;
	int has_since, has_until, nfilters, personal;
};

/* A set of leaf indices. */
struct set {
	uint64_t *v;
	size_t n, cap;
};

static void
set_add(struct set *s, uint64_t x)
{
	if (s->n == s->cap) {
		uint64_t *grown;

		s->cap = s->cap == 0 ? 64 : 2 * s->cap;
		if ((grown = realloc(s->v, s->cap * sizeof(*grown))) == NULL)
			xdie("out of memory");
		s->v = grown;
	}
	s->v[s->n++] = x;
}

static void
set_distinct(struct set *s)
{
	s->n = saksi_u64_distinct(s->v, s->n);
}

static int
set_has(const struct set *s, uint64_t x)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == x)
			return 1;
	return 0;
}

/*
 * --keyrings: for every entry of s, the keyring in force at it (the last kind 4 entry
 * before it, with every part of its set), so that verify-bundle checks the events with
 * the keyrings the bundle proves rather than a file alone. One pass over the ledger up
 * to the last entry of s (s sorted).
 */
static void
add_keyrings(saksi_ledger_txn *t, struct set *s)
{
	struct set kr = { NULL, 0, 0 };
	size_t n = s->n;

	if (n == 0)
		return;
	for (uint64_t i = 0; i < s->v[n - 1]; i++) {
		saksi_leaf lf;
		uint8_t *leaf;
		size_t len;
		saksi_err e;

		if ((e = saksi_ledger_leaf(t, i, &leaf, &len)) != SAKSI_OK)
			xdie_err(e, "cannot read entry %" PRIu64, i);
		if (saksi_leaf_parse(leaf, len, &lf) == SAKSI_OK && lf.lf_kind == SAKSI_LEAF_KEYRING)
			set_add(&kr, i);
		free(leaf);
	}
	for (size_t j = 0, k = 0; j < n; j++) {
		uint64_t last, first;
		unsigned idx, cnt;
		saksi_leaf lf;
		uint8_t *leaf;
		size_t len;

		while (k < kr.n && kr.v[k] < s->v[j])
			k++;
		if (k == 0)
			continue;   /* no keyring before it (a ledger older than kind 4) */
		last = kr.v[k - 1];
		if (saksi_ledger_leaf(t, last, &leaf, &len) != SAKSI_OK ||
		    saksi_leaf_parse(leaf, len, &lf) != SAKSI_OK ||
		    saksi_keylog_part_hdr(lf.lf_body, lf.lf_body_len, &idx, &cnt, NULL, 0) !=
		    SAKSI_OK || idx > last + 1)
			xfail("entry %" PRIu64 ": the keyring entry does not parse: run saksi verify",
			    last);
		free(leaf);
		first = last - (idx - 1);
		for (unsigned p = 0; p < cnt; p++)
			set_add(s, first + p);
	}
	free(kr.v);
	set_distinct(s);
}

/* ---- the appliance's keys and ledger, as saksid keeps them ---- */

static saksi_ledger_txn *
xbegin(struct appliance *x)
{
	saksi_ledger_txn *t;
	saksi_err e;

	if ((e = saksi_ledger_begin(x->l, 0, &t)) != SAKSI_OK)
		xdie_err(e, "cannot read ledger %s", x->ledger_dir);
	return t;
}

/* ---- selection ---- */

/*
 * The entry of alert id (kinds 1-3: the rules' numbering), scanning from the end: recent
 * alerts are the ones investigated. Their ids rise in ledger order (FORMATS.md 4), so the
 * scan stops at the first one below id.
 */
static uint64_t
find_alert(saksi_ledger_txn *t, uint64_t id)
{
	saksi_alert *al = xmalloc(sizeof(*al));

	for (uint64_t i = saksi_ledger_size(t); i-- > 0;) {
		saksi_leaf lf;
		uint8_t *leaf;
		size_t len;
		int rules;
		saksi_err e;

		if ((e = saksi_ledger_leaf(t, i, &leaf, &len)) != SAKSI_OK)
			xdie_err(e, "cannot read entry %" PRIu64, i);
		rules = saksi_leaf_parse(leaf, len, &lf) == SAKSI_OK &&
		    lf.lf_kind == SAKSI_LEAF_ALERT &&
		    saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, al) == SAKSI_OK &&
		    al->al_kind >= 1 && al->al_kind <= 3;
		free(leaf);
		if (rules && al->al_id == id) {
			free(al);
			return i;
		}
		if (rules && al->al_id < id)
			break;
	}
	free(al);
	xfail("no alert %" PRIu64 " in the ledger (saksi alerts list shows them)", id);
}

/* Every entry an alert names (trigger and evidence), and theirs, until none is new. */
static void
close_alerts(saksi_ledger_txn *t, struct set *s)
{
	saksi_alert *al = xmalloc(sizeof(*al));

	for (size_t i = 0; i < s->n; i++) {
		saksi_leaf lf;
		uint8_t *leaf;
		size_t len;
		saksi_err e;

		if ((e = saksi_ledger_leaf(t, s->v[i], &leaf, &len)) != SAKSI_OK)
			xdie_err(e, "cannot read entry %" PRIu64, s->v[i]);
		if (saksi_leaf_parse(leaf, len, &lf) == SAKSI_OK && lf.lf_kind == SAKSI_LEAF_ALERT &&
		    saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, al) == SAKSI_OK) {
			if (!set_has(s, al->al_trigger))
				set_add(s, al->al_trigger);
			for (uint32_t k = 0; k < al->al_nevidence; k++)
				if (!set_has(s, al->al_evidence[k]))
					set_add(s, al->al_evidence[k]);
		}
		free(leaf);
		if (s->n >= SAKSI_BUNDLE_ENTRIES_MAX)
			xdie("the case has more than %d entries: narrow it", SAKSI_BUNDLE_ENTRIES_MAX - 1);
	}
	free(al);
}

/* The filters as the query engine takes them (lib/query.h): tokens for personal ones. */
static void
spec_of(const struct bopts *o, saksi_query_spec *q)
{
	memset(q, 0, sizeof(*q));
	for (int f = 1; f < SAKSI_IX__COUNT; f++)
		if (o->given[f] != NULL)
			q->qs_value[f] = saksi_index_field_personal((saksi_index_field)f) ?
			    o->tok[f] : o->given[f];
	q->qs_since_ms = o->since;
	q->qs_has_since = o->has_since;
	q->qs_until_ms = o->until;
	q->qs_has_until = o->has_until;
	q->qs_limit = SAKSI_QUERY_LIMIT_MAX;
}

/* Every entry the filters find (all pages), through saksi query's own engine. */
static void
select_by_filters(struct appliance *x, saksi_ledger_txn *t, const struct bopts *o, struct set *s)
{
	saksi_query_spec q;
	saksi_query_result res;
	saksi_query_ctx qc;
	uint64_t upto;
	saksi_err e;

	memset(&qc, 0, sizeof(qc));
	qc.qc_txn = t;
	qc.qc_store = x->store;
	qc.qc_dk = x->dk;
	e = saksi_query_index(t, x->blind, &qc.qc_dbi, &upto);
	if (e == SAKSI_ERR_NOT_FOUND)
		xdie("ledger %s has no indexes yet: saksid makes them when it starts with an "
		    "index_key", x->ledger_dir);
	if (e == SAKSI_ERR_KEY)
		xdie("the indexes of %s were made with another index key than %s",
		    x->ledger_dir, x->cf.cf_index_key);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot read the indexes of %s", x->ledger_dir);
	/* A case's evidence must be whole: entries the catch-up has not reached are not found. */
	if (upto < saksi_ledger_size(t))
		xdie("the index covers entries below %" PRIu64 " of %" PRIu64 ": saksid is still "
		    "indexing the rest (saksi status shows how far); export the bundle when it "
		    "has caught up", upto, saksi_ledger_size(t));
	spec_of(o, &q);
	memset(&res, 0, sizeof(res));
	do {
		if ((e = saksi_query_run(&qc, &q, &res)) != SAKSI_OK) {
			uint64_t at = res.qr_fail_index;

			saksi_query_result_free(&res);
			if (e == SAKSI_ERR_TOO_LARGE)
				xdie("more than %u entries in that time range: add a filter or narrow it",
				    SAKSI_INDEX_TIME_ONLY_MAX);
			if (at != UINT64_MAX)
				xfail("entry %" PRIu64 " could not be read for the case (%s): run saksi "
				    "verify", at, saksi_strerror(e));
			xdie_err(e, "query failed");
		}
		for (size_t i = 0; i < res.qr_n; i++)
			set_add(s, res.qr_rows[i].qr_index);
		if (res.qr_n > 0) {
			q.qs_after = res.qr_rows[res.qr_n - 1].qr_index;
			q.qs_has_after = 1;
		}
		saksi_query_result_free(&res);
		if (s->n >= SAKSI_BUNDLE_ENTRIES_MAX)
			xdie("the case has more than %d entries: narrow it", SAKSI_BUNDLE_ENTRIES_MAX - 1);
	} while (res.qr_more);
}

/* "leaf=1,alert=3,nik=<token>,...,since=..,until=..": the selection as the bundle and
 * the access entry record it; personal values only as blind tokens. */
static void
selection_text(const struct bopts *o, char *out, size_t len)
{
	size_t p = 0;

#define ADD(...) (p += (size_t)snprintf(out + p, p < len ? len - p : 0, __VA_ARGS__))
	out[0] = '\0';
	for (size_t i = 0; i < o->nleaves; i++)
		ADD("%sleaf=%" PRIu64, p ? "," : "", o->leaves[i]);
	for (size_t i = 0; i < o->nalerts; i++)
		ADD("%salert=%" PRIu64, p ? "," : "", o->alerts[i]);
	for (size_t i = 0; i < sizeof(filter_order) / sizeof(filter_order[0]); i++) {
		saksi_index_field f = filter_order[i];

		if (o->given[f] != NULL)
			ADD("%s%s=%s", p ? "," : "", saksi_index_field_name(f),
			    saksi_index_field_personal(f) ? o->tok[f] : o->given[f]);
	}
	if (o->has_since)
		ADD("%ssince=%" PRIu64, p ? "," : "", o->since);
	if (o->has_until)
		ADD("%suntil=%" PRIu64, p ? "," : "", o->until);
#undef ADD
	if (p >= len)
		xdie("the selection is too long for an access entry (%zu characters at most): "
		    "select by a filter instead of many --leaf", len - 1);
}

/* ---- what is exported ---- */

struct item {
	uint64_t index;
	uint8_t *leaf;
	size_t len;
	char *disc;              /* the disclosures JSON array, or NULL */
	size_t disc_len;
	int forgotten;
};

static void
load_item(struct appliance *x, saksi_ledger_txn *t, uint64_t idx, struct item *it)
{
	saksi_leaf lf;
	saksi_envelope env;
	uint8_t *blob;
	size_t blen;
	saksi_hash h;
	saksi_err e;

	memset(it, 0, sizeof(*it));
	it->index = idx;
	if ((e = saksi_ledger_leaf(t, idx, &it->leaf, &it->len)) != SAKSI_OK)
		xdie_err(e, "cannot read entry %" PRIu64, idx);
	if (saksi_leaf_parse(it->leaf, it->len, &lf) != SAKSI_OK)
		xfail("entry %" PRIu64 " does not parse: run saksi verify", idx);
	if (lf.lf_kind != SAKSI_LEAF_EVENT)
		return;
	if (saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &env) != SAKSI_OK)
		xfail("entry %" PRIu64 ": its envelope does not parse: run saksi verify", idx);
	e = saksi_ledger_disc_get(t, idx, &blob, &blen);
	if (e == SAKSI_ERR_NOT_FOUND)
		return;
	if (e != SAKSI_OK)
		xdie_err(e, "entry %" PRIu64 ": cannot read its disclosures", idx);
	saksi_merkle_leaf_hash(h, it->leaf, it->len);
	e = saksi_disc_open_any(x->store, x->dk, idx, h, blob, blen, &it->disc, &it->disc_len);
	free(blob);
	if (e == SAKSI_ERR_NOT_FOUND) {
		it->forgotten = 1;   /* the data key is destroyed: exported without disclosures */
		it->disc = NULL;
		return;
	}
	if (e != SAKSI_OK)
		xfail("entry %" PRIu64 ": its disclosures do not open with store_key %s (%s)", idx,
		    x->cf.cf_store_key, saksi_strerror(e));
	/* Never export what does not match the signed digests. */
	e = saksi_disclosures_check(env.ev_payload, env.ev_payload_len,
	    (const uint8_t *)it->disc, it->disc_len, NULL, NULL, NULL);
	if (e != SAKSI_OK)
		xfail("entry %" PRIu64 ": its stored disclosures do not match its digests (%s): "
		    "run saksi verify", idx, saksi_strerror(e));
}

static void
item_free(struct item *it)
{
	if (it->disc != NULL) {
		sodium_memzero(it->disc, it->disc_len);
		free(it->disc);
	}
	free(it->leaf);
}

/* ---- the access entry (as saksi query writes it) ---- */

/* The access entry (lib shared with saksi query), before anything is exported. */
static uint64_t
log_access(struct appliance *x, const struct bopts *o, const saksi_seckey *sk,
           const char *selection, size_t results, int revealed, uint64_t participants)
{
	struct access_entry a;

	memset(&a, 0, sizeof(a));
	a.command = "bundle";
	a.filter = selection;
	a.personal_filter = o->personal;
	a.results = results;
	a.revealed = revealed;
	a.participants = participants;
	a.case_ref = o->case_ref;
	a.key_path = o->key;
	a.url = o->url;
	a.timeout_ms = o->timeout;
	a.withheld = "nothing exported";
	return appliance_log_access(x, &a, sk, NULL);
}

/* ---- saksi bundle ---- */

int
cmd_bundle(int argc, char **argv)
{
	enum { O_CONFIG = 256, O_CASE, O_LEAF, O_ALERT, O_SINCE, O_UNTIL, O_RECIPIENT,
		O_DECRYPTED, O_PASS, O_URL, O_TIMEOUT, O_KEYRINGS, O_FIELD };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, O_CONFIG },
		{ "case", required_argument, NULL, O_CASE },
		{ "leaf", required_argument, NULL, O_LEAF },
		{ "alert", required_argument, NULL, O_ALERT },
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "recipient", required_argument, NULL, O_RECIPIENT },
		{ "decrypted", no_argument, NULL, O_DECRYPTED },
		{ "key", required_argument, NULL, 'k' },
		{ "passphrase-file", required_argument, NULL, O_PASS },
		{ "url", required_argument, NULL, O_URL },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "keyrings", no_argument, NULL, O_KEYRINGS },
		XFILTER_OPTIONS(O_FIELD),
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct bopts o;
	struct appliance x;
	struct set sel = { NULL, 0, 0 };
	struct item *items;
	saksi_seckey *sk;
	char *scope;
	saksi_pubkey rcpt;
	saksi_ledger_txn *t;
	saksi_bundle *b;
	char selection[SAKSI_BUNDLE_SELECTION_MAX + 1], *note, *file;
	size_t note_len, file_len, ndisc = 0, nforgot = 0;
	char from_stdin[256];
	uint64_t timeout = 0, access, size, ck_size;
	int c;
	saksi_err e;

	memset(&o, 0, sizeof(o));
	o.config = "/etc/saksi/saksid.conf";
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:o:", opts, NULL)) != -1) {
		if (xfilter_opt(c, optarg, O_FIELD, o.given, b_usage))
			continue;
		switch (c) {
		case O_CONFIG: o.config = optarg; break;
		case O_CASE: o.case_ref = optarg; break;
		case O_LEAF:
			if (o.nleaves == LEAVES_MAX)
				xusage(b_usage, "at most %d --leaf", LEAVES_MAX);
			o.leaves[o.nleaves++] = xparse_u64(optarg, "--leaf");
			break;
		case O_ALERT:
			if (o.nalerts == LEAVES_MAX)
				xusage(b_usage, "at most %d --alert", LEAVES_MAX);
			o.alerts[o.nalerts++] = xparse_u64(optarg, "--alert");
			break;
		case O_SINCE:
			o.since = xparse_time(optarg, 0, "--since", b_usage);
			o.has_since = 1;
			break;
		case O_UNTIL:
			o.until = xparse_time(optarg, 1, "--until", b_usage);
			o.has_until = 1;
			break;
		case O_RECIPIENT: o.recipient = optarg; break;
		case O_DECRYPTED: o.decrypted = 1; break;
		case 'k': o.key = optarg; break;
		case 'o': o.out = optarg; break;
		case O_PASS: o.passfile = optarg; break;
		case O_URL: o.url = optarg; break;
		case O_TIMEOUT: timeout = xparse_u64(optarg, "--timeout"); break;
		case O_KEYRINGS: o.keyrings = 1; break;
		default: xusage(b_usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(b_usage, "unexpected argument");
	xfilter_stdin(o.given, SAKSI_IX__COUNT, from_stdin, sizeof(from_stdin), b_usage);
	if (o.case_ref == NULL || o.key == NULL || o.out == NULL)
		xusage(b_usage, "--case, -k and -o are required");
	xcase_ref(o.case_ref, b_usage);
	if ((o.recipient != NULL) == o.decrypted)
		xusage(b_usage, "give exactly one of --recipient FILE.pub (disclosures sealed to "
		    "that key) and --decrypted (in clear)");
	if (timeout > 3600000)
		xusage(b_usage, "--timeout is in milliseconds, at most 3600000");
	o.timeout = (int)timeout;
	for (int f = 1; f < SAKSI_IX__COUNT; f++) {
		if (o.given[f] == NULL)
			continue;
		o.nfilters++;
		o.personal |= saksi_index_field_personal((saksi_index_field)f);
	}
	if ((o.has_since || o.has_until) && o.nfilters == 0)
		xusage(b_usage, "--since and --until narrow a filter: give one (--officer, "
		    "--device, ...)");
	if (o.has_since && o.has_until && o.since > o.until)
		xusage(b_usage, "--since is after --until");
	if (o.nleaves == 0 && o.nalerts == 0 && o.nfilters == 0)
		xusage(b_usage, "an empty case: give --leaf, --alert or a filter");
	if (o.recipient != NULL) {
		if ((e = saksi_pubkey_load(o.recipient, &rcpt)) != SAKSI_OK)
			xdie_err(e, "cannot read the recipient key %s", o.recipient);
		if (rcpt.pk_kind != SAKSI_KEY_BOX)
			xdie("%s is not a box key: the recipient makes one with saksi keygen --kind "
			    "box and hands over its .pub", o.recipient);
	}

	appliance_open(&x, o.config, o.nfilters > 0 ?
	    "selecting by filters needs saksid's indexes" : NULL);
	for (int f = 1; f < SAKSI_IX__COUNT; f++) {
		if (o.given[f] == NULL || !saksi_index_field_personal((saksi_index_field)f))
			continue;
		/* The value is never echoed: it is the personal data being protected. */
		if (saksi_query_blind(x.blind, (saksi_index_field)f, o.given[f], o.tok[f]) !=
		    SAKSI_OK)
			xusage(b_usage, "--%s: not a valid %s (see RULES.md 1.1)",
			    saksi_index_field_name((saksi_index_field)f), saksi_blind_kind_name(
			    saksi_index_field_kind((saksi_index_field)f)));
	}
	if (o.nfilters > 0) {
		saksi_query_spec q;
		const char *why = NULL;

		spec_of(&o, &q);
		if (saksi_query_spec_check(&q, &why) != SAKSI_OK)
			xusage(b_usage, "%s", why != NULL ? why : "bad filters");
	}
	sk = xseckey_load(o.key, o.passfile);
	if (saksi_seckey_kind(sk) != SAKSI_KEY_SIGN)
		xdie("%s is not a signing key", o.key);
	if (strcmp(scope = xkey_branch(x.cf.cf_keyring, sk), "*") != 0)
		xfail("key %s is of branch %s: bundles are the national unit's (branch *)",
		    o.key, scope);
	free(scope);
	selection_text(&o, selection, sizeof(selection));

	/* What belongs to the case, in one snapshot. */
	t = xbegin(&x);
	size = saksi_ledger_size(t);
	for (size_t i = 0; i < o.nleaves; i++) {
		if (o.leaves[i] >= size)
			xfail("--leaf %" PRIu64 ": the ledger has %" PRIu64 " entries", o.leaves[i],
			    size);
		set_add(&sel, o.leaves[i]);
	}
	for (size_t i = 0; i < o.nalerts; i++)
		set_add(&sel, find_alert(t, o.alerts[i]));
	if (o.nfilters > 0)
		select_by_filters(&x, t, &o, &sel);
	set_distinct(&sel);
	close_alerts(t, &sel);
	set_distinct(&sel);
	if (o.keyrings)
		add_keyrings(t, &sel);
	if (sel.n == 0)
		xfail("nothing in the ledger matches: an empty case is not exported");
	items = xmalloc(sel.n * sizeof(*items));
	for (size_t i = 0; i < sel.n; i++) {
		load_item(&x, t, sel.v[i], &items[i]);
		ndisc += items[i].disc != NULL;
		nforgot += items[i].forgotten;
	}
	saksi_ledger_abort(t);

	/* Fail closed: no receipt for the access entry, no file. */
	{
		/* The people whose disclosures the bundle carries, sealed or in clear. */
		saksi_reveal *rv;
		uint64_t np;

		if (saksi_reveal_new(&rv) != SAKSI_OK)
			xdie("out of memory");
		for (size_t i = 0; i < sel.n; i++)
			if (items[i].disc != NULL && saksi_reveal_add_disclosures(rv, items[i].disc,
			    items[i].disc_len) != SAKSI_OK)
				xfail("entry %" PRIu64 ": its disclosures do not parse: run saksi "
				    "verify", items[i].index);
		np = saksi_reveal_count(rv);
		saksi_reveal_free(rv);
		access = log_access(&x, &o, sk, selection, sel.n, ndisc > 0, np);
	}

	t = xbegin(&x);
	if ((e = saksi_ledger_ckpt_latest(t, &ck_size, &note, &note_len)) != SAKSI_OK)
		xdie_err(e, "ledger %s has no signed checkpoint", x.ledger_dir);
	if (ck_size <= access)
		xdie("the latest checkpoint (size %" PRIu64 ") does not cover the access entry %"
		    PRIu64 " yet", ck_size, access);
	e = saksi_bundle_new(o.decrypted ? SAKSI_BUNDLE_PLAIN : SAKSI_BUNDLE_SEALED, o.case_ref,
	    now_ms(), selection, x.cf.cf_origin, note, note_len, o.decrypted ? NULL : rcpt.pk_id,
	    access, &b);
	free(note);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot start the bundle");
	for (size_t i = 0; i <= sel.n; i++) {
		struct item acc, *it = i < sel.n ? &items[i] : &acc;
		saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
		saksi_bundle_entry *be;
		size_t np;

		if (i == sel.n)
			load_item(&x, t, access, &acc);
		if ((e = saksi_ledger_prove_inclusion(t, it->index, ck_size, proof, &np)) !=
		    SAKSI_OK)
			xdie_err(e, "cannot prove entry %" PRIu64, it->index);
		if ((e = saksi_bundle_add(b, it->index, it->leaf, it->len,
		    (const saksi_hash *)proof, np, &be)) != SAKSI_OK)
			xdie_err(e, "cannot add entry %" PRIu64, it->index);
		if (it->forgotten)
			saksi_bundle_set_forgotten(b, be);
		else if (it->disc != NULL && (e = saksi_bundle_set_disclosures(b, be,
		    (const uint8_t *)it->disc, it->disc_len, o.decrypted ? NULL : rcpt.pk_key)) !=
		    SAKSI_OK)
			xdie_err(e, "entry %" PRIu64 ": cannot export its disclosures", it->index);
		item_free(it);
	}
	saksi_ledger_abort(t);
	if ((e = saksi_bundle_sign(b, sk)) != SAKSI_OK ||
	    (e = saksi_bundle_format(b, &file, &file_len)) != SAKSI_OK)
		xdie_err(e, "cannot write the bundle");
	/* Mode 0600: a decrypted bundle is personal data. */
	xwrite_file_atomic(o.out, file, file_len, 0600);
	sodium_memzero(file, file_len);
	free(file);
	fprintf(stderr, "saksi: case %s: %zu entries (and the access entry %" PRIu64 ") at "
	    "checkpoint %" PRIu64 ", disclosures of %zu %s%s, written to %s\n", o.case_ref,
	    sel.n, access, ck_size, ndisc, o.decrypted ? "in clear" : "sealed to ",
	    o.decrypted ? "" : o.recipient, o.out);
	if (nforgot > 0)
		fprintf(stderr, "saksi: %zu entries of forgotten participants are exported "
		    "without disclosures (marked forgotten)\n", nforgot);
	saksi_bundle_free(b);
	free(items);
	free(sel.v);
	saksi_seckey_free(sk);
	for (int f = 1; f < SAKSI_IX__COUNT; f++)
		sodium_memzero(o.tok[f], sizeof(o.tok[f]));
	sodium_memzero(from_stdin, sizeof(from_stdin));
	appliance_close(&x);
	return SX_OK;
}

/* ---- saksi verify-bundle ---- */

/* One base64 hash a line (saksi prove consistency's output). */
static saksi_hash *
read_proof(const char *path, size_t *n)
{
	size_t len;
	char *text = xread_file(path, 64 * 46 + 64, &len), *line = text;
	saksi_hash *p = xmalloc(SAKSI_MERKLE_MAX_PROOF * sizeof(*p));

	*n = 0;
	while (*line != '\0') {
		size_t l = strcspn(line, "\n"), got;

		if (*n == SAKSI_MERKLE_MAX_PROOF || l != 44 ||
		    saksi_base642bin(p[*n], SAKSI_HASH_LEN, line, l, NULL, &got, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0 || got != SAKSI_HASH_LEN)
			xdie("%s: not a consistency proof (one base64 hash a line, as saksi prove "
			    "consistency prints)", path);
		(*n)++;
		line += l + (line[l] == '\n');
	}
	free(text);
	return p;
}

int
cmd_verify_bundle(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vkey", required_argument, NULL, 'v' },
		{ "vkey-file", required_argument, NULL, 'V' },
		{ "keyring", required_argument, NULL, 'r' },
		{ "key", required_argument, NULL, 'k' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "consistency", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *vk = NULL, *vkf = NULL, *krf = NULL, *kf = NULL, *pf = NULL, *ckf = NULL;
	const char *cpf = NULL, *path;
	saksi_note_verifier v;
	saksi_keyring *kr;
	saksi_seckey *box = NULL;
	saksi_bundle *b;
	saksi_bundle_verify_opts vo;
	saksi_bundle_report r;
	saksi_hash *cproof = NULL;
	char err[512], *text, *newer = NULL, root[45], exp[17];
	size_t len, nlen = 0, ncp = 0;
	int c, json = 0, rc;
	saksi_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:r:", opts, NULL)) != -1) {
		switch (c) {
		case 'v': vk = optarg; break;
		case 'V': vkf = optarg; break;
		case 'r': krf = optarg; break;
		case 'k': kf = optarg; break;
		case 'P': pf = optarg; break;
		case 'c': ckf = optarg; break;
		case 'C': cpf = optarg; break;
		case 'j': json = 1; break;
		default: xusage(v_usage, "bad option");
		}
	}
	if (optind + 1 != argc)
		xusage(v_usage, "give one bundle file");
	path = argv[optind];
	if (krf == NULL || (vk == NULL && vkf == NULL))
		xusage(v_usage, "--vkey (or --vkey-file) and --keyring are required");
	if ((ckf == NULL) != (cpf == NULL))
		xusage(v_usage, "--checkpoint and --consistency go together");
	xvkey(vk, vkf, &v);
	kr = xkeyring_load(krf);
	if (kf != NULL) {
		box = xseckey_load(kf, pf);
		if (saksi_seckey_kind(box) != SAKSI_KEY_BOX)
			xdie("%s is not a box key: sealed disclosures open with the recipient's "
			    "box key", kf);
	}
	if (ckf != NULL) {
		newer = xread_file(ckf, SAKSI_NOTE_MAX, &nlen);
		cproof = read_proof(cpf, &ncp);
	}
	text = xread_file(path, SAKSI_BUNDLE_MAX, &len);
	if ((e = saksi_bundle_parse(text, len, &b, err, sizeof(err))) != SAKSI_OK) {
		if (e == SAKSI_ERR_NOMEM)
			xdie("out of memory");
		if (json) {
			json_t *o = json_pack("{s:b, s:s, s:n, s:s}", "ok", 0, "reason", "format",
			    "entry", "message", err);

			json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			putchar('\n');
			json_decref(o);
		}
		xfail("VERIFICATION FAILED: %s is not a well-formed bundle: %s", path, err);
	}
	sodium_memzero(text, len);
	free(text);
	if (kf != NULL && b->b_mode == SAKSI_BUNDLE_SEALED &&
	    sodium_memcmp(saksi_seckey_id(box), b->b_recipient, SAKSI_KEYID_LEN) != 0) {
		keyid_to_hex(b->b_recipient, exp);
		xdie("the bundle is sealed to key %s, not to %s", exp, kf);
	}
	memset(&vo, 0, sizeof(vo));
	vo.bo_log = &v;
	vo.bo_keyring = kr;
	vo.bo_box = box;
	vo.bo_newer = newer;
	vo.bo_newer_len = nlen;
	vo.bo_consistency = cproof;
	vo.bo_consistency_len = ncp;
	e = saksi_bundle_verify(b, &vo, &r);
	if (e != SAKSI_OK && e != SAKSI_ERR_CORRUPT)
		xdie_err(e, "cannot verify %s", path);
	rc = e == SAKSI_OK ? SX_OK : SX_FAIL;
	keyid_to_hex(b->b_exporter, exp);
	sodium_bin2base64(root, sizeof(root), r.br_root, SAKSI_HASH_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	if (json) {
		json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I, "
		    "s:I, s:I, s:I, s:I}", "ok", rc == SX_OK, "reason",
		    saksi_bundle_reason_name(r.br_reason), "message", r.br_message, "case_ref",
		    b->b_case, "mode", b->b_mode == SAKSI_BUNDLE_PLAIN ? "plain" : "sealed",
		    "checkpoint_size", (json_int_t)r.br_size, "root", root,
		    "entries", (json_int_t)b->b_n, "events", (json_int_t)r.br_events,
		    "alerts", (json_int_t)r.br_alerts, "refusals", (json_int_t)r.br_refusals,
		    "disclosed", (json_int_t)r.br_disclosed, "unopened", (json_int_t)r.br_unopened,
		    "forgotten", (json_int_t)r.br_forgotten, "access_index", (json_int_t)b->b_access);
		if (o != NULL)
			json_object_set_new(o, "created_ms", json_integer((json_int_t)b->b_created_ms));

		if (o == NULL)
			xdie("out of memory");
		json_object_set_new(o, "entry", r.br_entry == SAKSI_BUNDLE_NO_ENTRY ? json_null() :
		    json_integer((json_int_t)r.br_entry));
		json_object_set_new(o, "exporter_key_id", json_string(exp));
		/* The keyrings the bundle proves, and the events checked with them. */
		json_object_set_new(o, "keyrings", json_pack("{s:I, s:I, s:o}", "proved",
		    (json_int_t)r.br_keyrings, "events", (json_int_t)r.br_kr_events, "last",
		    r.br_keyrings > 0 ? json_integer((json_int_t)r.br_keyring_last) :
		    json_null()));
		json_object_set_new(o, "exporter", r.br_exporter != NULL ?
		    json_string(r.br_exporter) : json_null());
		if (ckf != NULL)
			json_object_set_new(o, "newer_checkpoint", json_pack("{s:I, s:b}", "size",
			    (json_int_t)r.br_newer_size, "consistent", r.br_consistent));
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	}
	if (rc != SX_OK) {
		fprintf(stderr, "saksi: VERIFICATION FAILED: %s\n", r.br_message);
	} else if (!json) {
		printf("bundle intact: case %s, %zu entries (events %zu, alerts %zu, refusal "
		    "summaries %zu) in the log's tree of size %" PRIu64 "\n", b->b_case, b->b_n,
		    r.br_events, r.br_alerts, r.br_refusals, r.br_size);
		printf("root %s\n", root);
		{
			time_t ct = (time_t)(b->b_created_ms / 1000);
			struct tm tm;
			char when[32] = "?";

			if (gmtime_r(&ct, &tm) != NULL)
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("exported by %s (key %s) at %s (its own clock), access entry %" PRIu64
			    ", selection %s\n", r.br_exporter, exp, when, b->b_access, b->b_selection);
		}
		printf("disclosures: %zu entries checked against their digests", r.br_disclosed);
		if (r.br_unopened > 0)
			printf(", %zu sealed and not opened (give -k recipient.key)", r.br_unopened);
		if (r.br_forgotten > 0)
			printf(", %zu of forgotten participants (none exported)", r.br_forgotten);
		putchar('\n');
		if (r.br_keyrings > 0)
			printf("keyring: %zu of %zu events checked with the %zu keyring%s the bundle "
			    "proves (the last at entry %" PRIu64 "), the rest with %s\n",
			    r.br_kr_events, r.br_events, r.br_keyrings, r.br_keyrings == 1 ? "" : "s",
			    r.br_keyring_last, krf);
		else
			printf("keyring: every event checked with %s (the bundle proves no keyring "
			    "entry: saksi bundle --keyrings puts them in)\n", krf);
		if (r.br_consistent)
			printf("the log's checkpoint of size %" PRIu64 " extends the bundle's\n",
			    r.br_newer_size);
	}
	saksi_bundle_free(b);
	saksi_seckey_free(box);
	saksi_keyring_free(kr);
	free(newer);
	free(cproof);
	return rc;
}
