/*
 * ledger.c: saksi checkpoint, get and prove: reading a ledger copy (opened read-only) or
 * asking a daemon. From a ledger copy they print what is stored (proving it is saksi
 * verify's job); from a daemon, given the log's key, they print nothing they have not
 * checked offline first: the daemon's answer is hostile input like any other.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "bytes.h"
#include "cli.h"
#include "client.h"
#include "envelope.h"
#include "keylog.h"
#include "verify.h"
#include "wire.h"

static void
hash_b64(const uint8_t *h, char out[45])
{
	sodium_bin2base64(out, 45, h, SAKSI_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
}

static void
iso_time(uint64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, len, "?");
		return;
	}
	snprintf(out + strlen(out), len - strlen(out), ".%03uZ", (unsigned)(ms % 1000));
}

static saksi_ledger_txn *
xbegin(saksi_ledger *l)
{
	saksi_ledger_txn *txn = NULL;
	saksi_err e;

	if ((e = saksi_ledger_begin(l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read the ledger");
	return txn;
}

/* Checks a checkpoint note with the verifier key; exits 1 if it does not verify. */
static void
check_note(const char *note, size_t len, const saksi_note_verifier *v)
{
	saksi_checkpoint c;
	saksi_err e;

	e = saksi_checkpoint_open(note, len, v, &c);
	if (e == SAKSI_ERR_SIGNATURE)
		xfail("the checkpoint is not signed by %s", v->nv_name);
	if (e == SAKSI_ERR_KEY)
		xfail("the checkpoint's origin is not %s", v->nv_name);
	if (e != SAKSI_OK)
		xfail("the checkpoint is malformed (%s)", saksi_strerror(e));
}

int
cmd_checkpoint(int argc, char **argv)
{
	static const char usage[] =
	    "saksi checkpoint (--ledger DIR | --url URL) [--vkey VKEY | --vkey-file F] "
	    "[--timeout MS]";
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "url", required_argument, NULL, 'u' },
		{ "key", required_argument, NULL, 'k' },
		{ "vkey", required_argument, NULL, 'v' },
		{ "vkey-file", required_argument, NULL, 'V' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "timeout", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *url = NULL, *key = NULL, *vk = NULL, *vkf = NULL,
	    *passfile = NULL;
	uint64_t timeout = 0;
	saksi_note_verifier v;
	char *note = NULL;
	size_t len = 0;
	uint64_t size;
	saksi_err e;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
		switch (c) {
		case 'l': dir = optarg; break;
		case 'u': url = optarg; break;
		/* -k and --passphrase-file: still taken, for old scripts; a checkpoint needs
		 * no key of one's own, so the help no longer offers them. */
		case 'k': key = optarg; break;
		case 'v': vk = optarg; break;
		case 'V': vkf = optarg; break;
		case 'P': passfile = optarg; break;
		case 'o': timeout = xparse_u64(optarg, "--timeout"); break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (timeout > 3600000)
		xusage(usage, "--timeout is in milliseconds, at most 3600000");
	if ((dir == NULL) == (url == NULL))
		xusage(usage, "give exactly one of --ledger and --url");
	if (vk != NULL || vkf != NULL)
		xvkey(vk, vkf, &v);
	if (dir != NULL) {
		saksi_ledger *l = xledger_open_ro(dir);
		saksi_ledger_txn *txn = xbegin(l);

		e = saksi_ledger_ckpt_latest(txn, &size, &note, &len);
		saksi_ledger_abort(txn);
		saksi_ledger_close(l);
		if (e == SAKSI_ERR_NOT_FOUND)
			xdie("ledger %s has no checkpoint yet", dir);
		if (e != SAKSI_OK)
			xdie_err(e, "cannot read the latest checkpoint of %s", dir);
	} else {
		saksi_client_opts co;
		saksi_client *cl = NULL;
		saksi_seckey *sk = NULL;

		memset(&co, 0, sizeof(co));
		co.co_url = url;
		co.co_timeout_ms = (int)timeout;
		if (key != NULL)
			sk = xseckey_load(key, passfile);
		co.co_key = sk;
		if ((e = saksi_client_open(&co, &cl)) != SAKSI_OK) {
			saksi_seckey_free(sk);
			xdie_err(e, "cannot connect to %s", url);
		}
		e = saksi_client_checkpoint(cl, &note, &len);
		saksi_seckey_free(sk);
		if (e == SAKSI_ERR_REFUSED)
			xdie("the daemon at %s gave no checkpoint: %s", url,
			    saksi_client_refusal(cl, NULL));
		saksi_client_close(cl);
		if (e != SAKSI_OK)
			xdie_err(e, "no checkpoint from %s", url);
	}
	if (vk != NULL || vkf != NULL)
		check_note(note, len, &v);
	xwrite_all(STDOUT_FILENO, note, len);
	free(note);
	return SX_OK;
}

/* Adds the decoded body of an event leaf to o (JSON) or prints it. */
static void
show_event(const saksi_leaf *lf, json_t *o)
{
	saksi_envelope ev;
	char idhex[2 * SAKSI_KEYID_LEN + 1], sig[89], when[40];
	json_error_t jerr;
	json_t *payload;
	saksi_err e;

	e = saksi_envelope_parse(lf->lf_body, lf->lf_body_len, &ev);
	if (e != SAKSI_OK) {
		if (o != NULL)
			json_object_set_new(o, "envelope_error",
			    json_string(saksi_strerror(e)));
		else
			printf("envelope: does not parse (%s)\n", saksi_strerror(e));
		return;
	}
	keyid_to_hex(ev.ev_key_id, idhex);
	sodium_bin2base64(sig, sizeof(sig), ev.ev_sig, SAKSI_SIG_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	iso_time(ev.ev_time_ms, when, sizeof(when));
	payload = json_loadb((const char *)ev.ev_payload, ev.ev_payload_len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (o != NULL) {
		json_t *env = json_pack("{s:s, s:I, s:I, s:s, s:s}", "key_id", idhex,
		    "seq", (json_int_t)ev.ev_seq, "time_ms", (json_int_t)ev.ev_time_ms,
		    "type", ev.ev_type, "signature", sig);

		if (env == NULL)
			xdie("out of memory");
		json_object_set_new(env, "payload", payload != NULL ? payload :
		    json_stringn((const char *)ev.ev_payload, ev.ev_payload_len));
		json_object_set_new(o, "envelope", env);
		return;
	}
	printf("key_id: %s\n", idhex);
	printf("seq: %" PRIu64 "\n", ev.ev_seq);
	printf("time_ms: %" PRIu64 " (%s)\n", ev.ev_time_ms, when);
	printf("type: %s\n", ev.ev_type);
	printf("signature: %s\n", sig);
	if (payload != NULL) {
		char *p = json_dumps(payload, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		printf("payload: %s\n", p != NULL ? p : "?");
		free(p);
		json_decref(payload);
	} else
		printf("payload (not JSON): %.*s\n", (int)ev.ev_payload_len,
		    (const char *)ev.ev_payload);
}

static void
show_refusals(const saksi_leaf *lf, json_t *o)
{
	json_t *arr = NULL;
	unsigned n, i;

	if (saksi_refusals_parse(lf->lf_body, lf->lf_body_len, &n) != SAKSI_OK) {
		if (o != NULL)
			json_object_set_new(o, "refusals_error", json_string("malformed"));
		else
			printf("refusals: malformed summary\n");
		return;
	}
	if (o != NULL && (arr = json_array()) == NULL)
		xdie("out of memory");
	for (i = 0; i < n; i++) {
		const uint8_t *p = lf->lf_body + 2 + (size_t)i * 29;
		char idhex[2 * SAKSI_KEYID_LEN + 1];

		keyid_to_hex(p, idhex);
		if (o != NULL)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:I, s:I, s:I}",
			    "key_id", idhex, "reason", saksi_reason_name(p[8]), "code", p[8],
			    "refused", (json_int_t)saksi_get_u32(p + 9),
			    "first_ms", (json_int_t)saksi_get_u64(p + 13),
			    "last_ms", (json_int_t)saksi_get_u64(p + 21)));
		else
			printf("refused: key %s reason %s count %" PRIu32 " first_ms %" PRIu64
			    " last_ms %" PRIu64 "\n", idhex, saksi_reason_name(p[8]),
			    saksi_get_u32(p + 9), saksi_get_u64(p + 13), saksi_get_u64(p + 21));
	}
	if (o != NULL)
		json_object_set_new(o, "refusals", arr);
}

/* ---- asking a daemon (--url): anyone may, with no key of their own ---- */

/*
 * Exits for a failed request: what the daemon said when it refused (exit 2: nothing was
 * proved wrong), exit 1 for an answer that is malformed or not signed by the log.
 */
static void
xremote_err(saksi_client *cl, saksi_err e, const char *url, const saksi_note_verifier *v,
    const char *what)
{
	const char *msg = saksi_client_refusal(cl, NULL);

	switch (e) {
	case SAKSI_OK:
		return;
	case SAKSI_ERR_NOT_FOUND:
		xdie("%s: not in the log at %s: %s", what, url, msg);
	case SAKSI_ERR_REFUSED:
		xdie("%s: refused by the daemon at %s: %s", what, url, msg);
	case SAKSI_ERR_NET:
	case SAKSI_ERR_TIMEOUT:
		xdie_err(e, "%s: the daemon at %s did not answer", what, url);
	case SAKSI_ERR_SIGNATURE:
		xfail("%s: the daemon's checkpoint is not signed by %s: do not trust it", what,
		    v != NULL ? v->nv_name : "the log");
	case SAKSI_ERR_KEY:
		xfail("%s: the daemon's checkpoint is for another origin than %s", what,
		    v != NULL ? v->nv_name : "the log");
	case SAKSI_ERR_FORMAT:
		xfail("%s: the daemon at %s sent a malformed answer: do not trust it", what, url);
	default:
		xdie_err(e, "%s: no answer from %s", what, url);
	}
}

/* Parses a tlog-proof the client has already checked for shape. */
static saksi_tlog_proof *
xtlog_parse(const char *text, size_t len)
{
	saksi_tlog_proof *tp = xmalloc(sizeof(*tp));
	saksi_err e;

	if ((e = saksi_tlog_proof_parse(text, len, tp)) != SAKSI_OK)
		xfail("the daemon's proof does not parse (%s)", saksi_strerror(e));
	return tp;
}

/*
 * The offline check of one entry: the proof is for these very leaf bytes (its extra is
 * their header, their hash is on the path) in a checkpoint signed by the log. Exits 1 if
 * not; returns the checkpoint's tree size.
 */
static uint64_t
xcheck_leaf(const saksi_tlog_proof *tp, const uint8_t *leaf, size_t len,
    const saksi_note_verifier *v)
{
	saksi_checkpoint ck;
	saksi_hash lh;
	saksi_err e;

	if (!tp->tp_has_extra || tp->tp_extra_len != SAKSI_LEAF_HDR || len < SAKSI_LEAF_HDR ||
	    sodium_memcmp(tp->tp_extra, leaf, SAKSI_LEAF_HDR) != 0)
		xfail("entry %" PRIu64 ": the proof is for another leaf header than the entry "
		    "the daemon sent", tp->tp_index);
	saksi_merkle_leaf_hash(lh, leaf, len);
	e = saksi_tlog_proof_verify(tp, v, lh, &ck);
	if (e == SAKSI_ERR_SIGNATURE)
		xfail("the checkpoint is not signed by %s", v->nv_name);
	if (e == SAKSI_ERR_KEY)
		xfail("the checkpoint's origin is not %s", v->nv_name);
	if (e != SAKSI_OK)
		xfail("entry %" PRIu64 " is not proved in the log's signed tree (%s)",
		    tp->tp_index, saksi_strerror(e));
	return ck.ck_size;
}

/* Fetches entry index and, with v, its inclusion in the latest checkpoint, and checks it. */
static uint8_t *
get_remote(const char *url, uint64_t timeout, const saksi_note_verifier *v, uint64_t index,
    size_t *len, uint64_t *ck_size)
{
	saksi_client *cl = xreader(url, timeout, v);
	uint8_t *leaf = NULL;
	char *text = NULL;
	size_t tlen = 0;
	saksi_tlog_proof *tp;
	saksi_err e;

	e = saksi_client_get(cl, index, &leaf, len);
	xremote_err(cl, e, url, v, "get");
	*ck_size = 0;
	if (v != NULL) {
		e = saksi_client_prove_inclusion(cl, index, 0, &text, &tlen);
		xremote_err(cl, e, url, v, "inclusion proof");
		tp = xtlog_parse(text, tlen);
		*ck_size = xcheck_leaf(tp, leaf, *len, v);
		free(tp);
		free(text);
	}
	saksi_client_close(cl);
	return leaf;
}

/* ---- get ---- */

/*
 * A keyring entry (FORMATS.md 4, kind 4): its keyring as a keyring.json (--json: the
 * member "keyring", for jq .keyring), checked strictly first.
 */
static void
show_keyring(const saksi_leaf *lf, json_t *o)
{
	char why[256] = "";
	json_t *k;
	saksi_err e;

	size_t off;
	unsigned ix = 1, n = 1;

	e = saksi_keylog_entry_parse(lf->lf_body, lf->lf_body_len, &off, why, sizeof(why));
	if (e != SAKSI_OK)
		xfail("the keyring entry does not parse (%s); run saksi verify",
		    why[0] != '\0' ? why : saksi_strerror(e));
	/* A part of a set (FORMATS.md 4, kind 4, version 2): its own keys, said so. */
	(void)saksi_keylog_part_hdr(lf->lf_body, lf->lf_body_len, &ix, &n, NULL, 0);
	if (o == NULL) {
		if (n > 1)
			printf("keyring_part: %u of %u (saksi keyring-history: the whole)\n", ix,
			    n);
		printf("keyring: %.*s\n", (int)(lf->lf_body_len - off),
		    (const char *)lf->lf_body + off);
		return;
	}
	if (n > 1 && (json_object_set_new(o, "keyring_part", json_integer(ix)) != 0 ||
	    json_object_set_new(o, "keyring_parts", json_integer(n)) != 0))
		xdie("out of memory");
	k = json_loadb((const char *)lf->lf_body + off, lf->lf_body_len - off,
	    JSON_REJECT_DUPLICATES, NULL);
	if (k == NULL || json_object_set_new(o, "keyring", k) != 0)
		xdie("out of memory");
}

static void
show_leaf(uint64_t index, const uint8_t *leaf, size_t len, int json, uint64_t ck_size)
{
	saksi_leaf lf;
	saksi_hash lh;
	char prev[45], lhb[45], when[40];
	saksi_err e;

	if ((e = saksi_leaf_parse(leaf, len, &lf)) != SAKSI_OK)
		xfail("entry %" PRIu64 " is not a valid leaf (%s); run saksi verify", index,
		    saksi_strerror(e));
	saksi_merkle_leaf_hash(lh, leaf, len);
	hash_b64(lf.lf_prev_root, prev);
	hash_b64(lh, lhb);
	iso_time(lf.lf_commit_ms, when, sizeof(when));
	if (json) {
		json_t *o = json_pack("{s:I, s:s, s:I, s:s, s:s, s:I}", "index",
		    (json_int_t)index, "kind", lf.lf_kind == SAKSI_LEAF_EVENT ? "event" :
		    lf.lf_kind == SAKSI_LEAF_ALERT ? "alert" :
		    lf.lf_kind == SAKSI_LEAF_KEYRING ? "keyring" : "refusals", "commit_time_ms", (json_int_t)lf.lf_commit_ms, "prev_root",
		    prev, "leaf_hash", lhb, "leaf_len", (json_int_t)len);

		if (o == NULL)
			xdie("out of memory");
		if (ck_size > 0)
			json_object_set_new(o, "verified_in_checkpoint",
			    json_integer((json_int_t)ck_size));
		if (lf.lf_kind == SAKSI_LEAF_EVENT)
			show_event(&lf, o);
		else if (lf.lf_kind == SAKSI_LEAF_ALERT)
			show_alert_leaf(lf.lf_body, lf.lf_body_len, o);
		else if (lf.lf_kind == SAKSI_LEAF_KEYRING)
			show_keyring(&lf, o);
		else
			show_refusals(&lf, o);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
		return;
	}
	printf("index: %" PRIu64 "\n", index);
	printf("kind: %s\n", lf.lf_kind == SAKSI_LEAF_EVENT ? "event" :
	    lf.lf_kind == SAKSI_LEAF_ALERT ? "alert" :
	    lf.lf_kind == SAKSI_LEAF_KEYRING ? "keyring" : "refusals");
	printf("commit_time_ms: %" PRIu64 " (%s)\n", lf.lf_commit_ms, when);
	printf("prev_root: %s\n", prev);
	printf("leaf_hash: %s\n", lhb);
	if (ck_size > 0)
		printf("verified: in the log's signed checkpoint of size %" PRIu64 "\n",
		    ck_size);
	if (lf.lf_kind == SAKSI_LEAF_EVENT)
		show_event(&lf, NULL);
	else if (lf.lf_kind == SAKSI_LEAF_ALERT)
		show_alert_leaf(lf.lf_body, lf.lf_body_len, NULL);
	else if (lf.lf_kind == SAKSI_LEAF_KEYRING)
		show_keyring(&lf, NULL);
	else
		show_refusals(&lf, NULL);
}

static uint8_t *
get_ledger(const char *dir, uint64_t index, size_t *len)
{
	saksi_ledger *l;
	saksi_ledger_txn *txn;
	uint8_t *leaf = NULL;
	uint64_t size;
	saksi_err e;

	l = xledger_open_ro(dir);
	txn = xbegin(l);
	size = saksi_ledger_size(txn);
	if (index >= size)
		xdie("entry %" PRIu64 " does not exist: the ledger has %" PRIu64 " entries",
		    index, size);
	e = saksi_ledger_leaf(txn, index, &leaf, len);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	if (e == SAKSI_ERR_NOT_FOUND)
		xfail("entry %" PRIu64 " is missing from the ledger (run saksi verify)", index);
	if (e == SAKSI_ERR_CORRUPT)
		xfail("entry %" PRIu64 " is stored damaged (run saksi verify)", index);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot read entry %" PRIu64, index);
	return leaf;
}

/* The options every command reading from a ledger copy or a daemon shares. */
struct src {
	const char *s_dir;
	const char *s_url;
	const char *s_vk;
	const char *s_vkf;
	uint64_t s_timeout;
	saksi_note_verifier s_v;
	int s_verify;
};

/* Checks the --ledger / --url / --vkey / --timeout combination; loads the verifier key. */
static void
src_check(struct src *s, const char *usage)
{
	if ((s->s_dir == NULL) == (s->s_url == NULL))
		xusage(usage, "give exactly one of --ledger and --url");
	if (s->s_timeout > 3600000)
		xusage(usage, "--timeout is in milliseconds, at most 3600000");
	s->s_verify = s->s_vk != NULL || s->s_vkf != NULL;
	if (s->s_dir != NULL && s->s_verify)
		xusage(usage, "--vkey checks a daemon's answers (--url); a ledger copy is "
		    "checked with saksi verify");
	if (s->s_dir != NULL && s->s_timeout != 0)
		xusage(usage, "--timeout is for --url");
	if (s->s_verify)
		xvkey(s->s_vk, s->s_vkf, &s->s_v);
}

#define SRC_OPTS \
	{ "ledger", required_argument, NULL, 'l' }, \
	{ "url", required_argument, NULL, 'u' }, \
	{ "vkey", required_argument, NULL, 'v' }, \
	{ "vkey-file", required_argument, NULL, 'V' }, \
	{ "timeout", required_argument, NULL, 'o' }

/* Takes one of the shared options; 0 if c is not one of them. */
static int
src_opt(struct src *s, int c)
{
	switch (c) {
	case 'l': s->s_dir = optarg; return 1;
	case 'u': s->s_url = optarg; return 1;
	case 'v': s->s_vk = optarg; return 1;
	case 'V': s->s_vkf = optarg; return 1;
	case 'o': s->s_timeout = xparse_u64(optarg, "--timeout"); return 1;
	default: return 0;
	}
}

int
cmd_get(int argc, char **argv)
{
	static const char usage[] =
	    "saksi get (--ledger DIR | --url URL [--vkey VKEY | --vkey-file F] [--timeout MS]) "
	    "INDEX [--raw | --json]";
	static const struct option opts[] = {
		SRC_OPTS,
		{ "raw", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct src s;
	int c, raw = 0, json = 0;
	uint64_t index, ck_size = 0;
	uint8_t *leaf;
	size_t len = 0;

	memset(&s, 0, sizeof(s));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (src_opt(&s, c))
			continue;
		switch (c) {
		case 'r': raw = 1; break;
		case 'j': json = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind + 1 != argc)
		xusage(usage, "one INDEX is required");
	if (raw && json)
		xusage(usage, "give --raw or --json, not both");
	src_check(&s, usage);
	index = xparse_u64(argv[optind], "INDEX");
	if (s.s_dir != NULL)
		leaf = get_ledger(s.s_dir, index, &len);
	else
		leaf = get_remote(s.s_url, s.s_timeout, s.s_verify ? &s.s_v : NULL, index, &len,
		    &ck_size);
	if (raw)
		xwrite_all(STDOUT_FILENO, leaf, len);
	else
		show_leaf(index, leaf, len, json, ck_size);
	free(leaf);
	return SX_OK;
}

/* ---- prove ---- */

static void
print_hashes(const saksi_hash *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char b[45];

		hash_b64(h[i], b);
		printf("%s\n", b);
	}
}

static void
prove_inclusion_ledger(const char *dir, uint64_t index, int have_size, uint64_t size,
    int tlog)
{
	saksi_ledger *l;
	saksi_ledger_txn *txn;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
	uint64_t lsize;
	size_t n = 0;
	char *note = NULL;
	size_t note_len = 0;
	saksi_err e;

	l = xledger_open_ro(dir);
	txn = xbegin(l);
	lsize = saksi_ledger_size(txn);
	if (!have_size) {
		/* Default: the latest signed tree, so the proof can be checked against it. */
		uint64_t ck;

		e = saksi_ledger_ckpt_latest(txn, &ck, &note, &note_len);
		if (e == SAKSI_OK)
			size = ck;
		else if (e == SAKSI_ERR_NOT_FOUND && !tlog)
			size = lsize;
		else if (e == SAKSI_ERR_NOT_FOUND)
			xdie("ledger %s has no signed checkpoint to prove against", dir);
		else
			xdie_err(e, "cannot read the latest checkpoint");
	} else if (tlog) {
		e = saksi_ledger_ckpt_get(txn, size, &note, &note_len);
		if (e == SAKSI_ERR_NOT_FOUND)
			xdie("no signed checkpoint of size %" PRIu64 " in %s; use the size of "
			    "one (saksi checkpoint) or drop --size", size, dir);
		if (e != SAKSI_OK)
			xdie_err(e, "cannot read the checkpoint of size %" PRIu64, size);
	}
	if (size > lsize)
		xdie("size %" PRIu64 " is beyond the ledger's %" PRIu64 " entries", size, lsize);
	if (index >= size)
		xdie("entry %" PRIu64 " is not in a tree of size %" PRIu64, index, size);
	e = saksi_ledger_prove_inclusion(txn, index, size, proof, &n);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot build the inclusion proof");
	if (tlog) {
		saksi_tlog_proof *tp = xmalloc(sizeof(*tp));
		uint8_t *leaf = NULL;
		size_t len = 0, out_len = 0;
		size_t cap = SAKSI_NOTE_MAX + 4096 + SAKSI_MERKLE_MAX_PROOF * 46;
		char *out = xmalloc(cap);

		if ((e = saksi_ledger_leaf(txn, index, &leaf, &len)) != SAKSI_OK)
			xdie_err(e, "cannot read entry %" PRIu64, index);
		if (len < SAKSI_LEAF_HDR || note_len > SAKSI_NOTE_MAX)
			xfail("entry %" PRIu64 " is malformed; run saksi verify", index);
		memset(tp, 0, sizeof(*tp));
		memcpy(tp->tp_extra, leaf, SAKSI_LEAF_HDR);
		tp->tp_extra_len = SAKSI_LEAF_HDR;
		tp->tp_has_extra = 1;
		tp->tp_index = index;
		memcpy(tp->tp_proof, proof, n * sizeof(proof[0]));
		tp->tp_proof_len = n;
		memcpy(tp->tp_note, note, note_len);
		tp->tp_note_len = note_len;
		e = saksi_tlog_proof_format(tp, out, cap, &out_len);
		if (e != SAKSI_OK)
			xdie_err(e, "cannot format the tlog-proof");
		xwrite_all(STDOUT_FILENO, out, out_len);
		free(out);
		free(tp);
		free(leaf);
	} else
		print_hashes((const saksi_hash *)proof, n);
	free(note);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
}

/*
 * The daemon's tlog-proof for index (size 0: its latest checkpoint). With a verifier key
 * the entry is fetched too and the proof checked for its bytes before anything is printed.
 */
static void
prove_inclusion_remote(const struct src *s, uint64_t index, uint64_t size, int tlog)
{
	const saksi_note_verifier *v = s->s_verify ? &s->s_v : NULL;
	saksi_client *cl = xreader(s->s_url, s->s_timeout, v);
	saksi_tlog_proof *tp;
	uint8_t *leaf = NULL;
	char *text = NULL;
	size_t tlen = 0, len = 0;
	saksi_err e;

	e = saksi_client_prove_inclusion(cl, index, size, &text, &tlen);
	xremote_err(cl, e, s->s_url, v, "inclusion proof");
	tp = xtlog_parse(text, tlen);
	if (v != NULL) {
		e = saksi_client_get(cl, index, &leaf, &len);
		xremote_err(cl, e, s->s_url, v, "get");
		(void)xcheck_leaf(tp, leaf, len, v);
		free(leaf);
	}
	saksi_client_close(cl);
	if (tlog)
		xwrite_all(STDOUT_FILENO, text, tlen);
	else
		print_hashes((const saksi_hash *)tp->tp_proof, tp->tp_proof_len);
	free(tp);
	free(text);
}

static int
prove_inclusion(int argc, char **argv)
{
	static const char usage[] =
	    "saksi prove inclusion (--ledger DIR | --url URL [--vkey VKEY | --vkey-file F] "
	    "[--timeout MS]) INDEX [--size N] [--tlog-proof]";
	static const struct option opts[] = {
		SRC_OPTS,
		{ "size", required_argument, NULL, 's' },
		{ "tlog-proof", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct src s;
	int c, tlog = 0, have_size = 0;
	uint64_t index, size = 0;

	memset(&s, 0, sizeof(s));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (src_opt(&s, c))
			continue;
		switch (c) {
		case 's': size = xparse_u64(optarg, "--size"); have_size = 1; break;
		case 't': tlog = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind + 1 != argc)
		xusage(usage, "one INDEX is required");
	src_check(&s, usage);
	index = xparse_u64(argv[optind], "INDEX");
	if (s.s_dir != NULL) {
		prove_inclusion_ledger(s.s_dir, index, have_size, size, tlog);
		return SX_OK;
	}
	/* The daemon reads size 0 as "the latest checkpoint"; a tree of size 0 has no
	 * entry to prove. */
	if (have_size && index >= size)
		xdie("entry %" PRIu64 " is not in a tree of size %" PRIu64, index, size);
	prove_inclusion_remote(&s, index, size, tlog);
	return SX_OK;
}

static void
prove_consistency_ledger(const char *dir, uint64_t m, uint64_t n)
{
	saksi_ledger *l;
	saksi_ledger_txn *txn;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
	uint64_t lsize;
	size_t np = 0;
	saksi_err e;

	l = xledger_open_ro(dir);
	txn = xbegin(l);
	lsize = saksi_ledger_size(txn);
	if (n > lsize)
		xdie("size %" PRIu64 " is beyond the ledger's %" PRIu64 " entries", n, lsize);
	e = saksi_ledger_prove_consistency(txn, m, n, proof, &np);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot build the consistency proof");
	print_hashes((const saksi_hash *)proof, np);
}

/*
 * The log's signed checkpoint of exactly `size`: the daemon keeps one per commit group
 * and hands it out inside an inclusion proof (of entry 0, the cheapest). The client has
 * checked its signature with v.
 */
static void
xremote_checkpoint_of(saksi_client *cl, const struct src *s, uint64_t size,
    saksi_checkpoint *ck)
{
	saksi_tlog_proof *tp;
	char *text = NULL;
	size_t tlen = 0;
	saksi_err e;

	e = saksi_client_prove_inclusion(cl, 0, size, &text, &tlen);
	if (e == SAKSI_ERR_NOT_FOUND)
		xdie("the log at %s has no signed checkpoint of size %" PRIu64 " to check the "
		    "proof against: use sizes of its checkpoints, or --old-checkpoint FILE",
		    s->s_url, size);
	xremote_err(cl, e, s->s_url, &s->s_v, "checkpoint");
	tp = xtlog_parse(text, tlen);
	if ((e = saksi_checkpoint_open(tp->tp_note, tp->tp_note_len, &s->s_v, ck)) != SAKSI_OK)
		xfail("the daemon's checkpoint of size %" PRIu64 " does not verify (%s)", size,
		    saksi_strerror(e));
	if (ck->ck_size != size)
		xfail("the daemon sent a checkpoint of size %" PRIu64 " for size %" PRIu64,
		    ck->ck_size, size);
	free(tp);
	free(text);
}

static void
prove_consistency_remote(const struct src *s, uint64_t m, uint64_t n)
{
	const saksi_note_verifier *v = s->s_verify ? &s->s_v : NULL;
	saksi_client *cl = xreader(s->s_url, s->s_timeout, v);
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
	saksi_checkpoint old, new;
	size_t np = 0;
	saksi_err e;

	e = saksi_client_prove_consistency(cl, m, n, proof, &np);
	xremote_err(cl, e, s->s_url, v, "consistency proof");
	if (v != NULL) {
		xremote_checkpoint_of(cl, s, m, &old);
		xremote_checkpoint_of(cl, s, n, &new);
		if (saksi_merkle_verify_consistency(m, n, old.ck_root, new.ck_root,
		    (const saksi_hash *)proof, np) != SAKSI_OK)
			xfail("the proof does not show the log's signed tree of size %" PRIu64
			    " extending its tree of size %" PRIu64 ": do not trust it", n, m);
	}
	saksi_client_close(cl);
	print_hashes((const saksi_hash *)proof, np);
}

/* Prints the verdict of --old-checkpoint and returns its exit code. */
static int __attribute__((format(printf, 2, 3)))
verdict(int ok, const char *fmt, ...)
{
	va_list ap;

	fputs(ok ? "OK: " : "FAIL: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return ok ? SX_OK : SX_FAIL;
}

/*
 * Does the log's latest signed tree extend the checkpoint the user kept? A log that
 * rolled back, forked or rewrote its history cannot prove that, whatever it signs now.
 */
static int
check_old_checkpoint(const struct src *s, const char *file)
{
	saksi_client *cl;
	saksi_checkpoint old, new;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], empty;
	char *text, *note = NULL;
	size_t len, note_len = 0, np = 0;
	saksi_err e;
	int rc;

	text = xread_file(file, SAKSI_NOTE_MAX, &len);
	e = saksi_checkpoint_open(text, len, &s->s_v, &old);
	free(text);
	if (e == SAKSI_ERR_SIGNATURE)
		return verdict(0, "your checkpoint %s is not signed by %s", file, s->s_v.nv_name);
	if (e == SAKSI_ERR_KEY)
		return verdict(0, "your checkpoint %s is for another origin than %s", file,
		    s->s_v.nv_name);
	if (e != SAKSI_OK)
		return verdict(0, "%s is not a signed checkpoint (%s)", file, saksi_strerror(e));

	cl = xreader(s->s_url, s->s_timeout, &s->s_v);
	e = saksi_client_checkpoint(cl, &note, &note_len);
	if (e == SAKSI_ERR_SIGNATURE || e == SAKSI_ERR_KEY || e == SAKSI_ERR_FORMAT) {
		saksi_client_close(cl);
		return verdict(0, "the log's latest checkpoint from %s %s", s->s_url,
		    e == SAKSI_ERR_FORMAT ? "is malformed" : e == SAKSI_ERR_KEY ?
		    "is for another origin" : "is not signed by the log's key");
	}
	xremote_err(cl, e, s->s_url, &s->s_v, "checkpoint");
	e = saksi_checkpoint_open(note, note_len, &s->s_v, &new);
	free(note);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot read back the checkpoint the client checked");

	if (old.ck_size > new.ck_size) {
		rc = verdict(0, "the log's latest checkpoint has size %" PRIu64 ", smaller than "
		    "your %" PRIu64 ": the log was rolled back", new.ck_size, old.ck_size);
	} else if (old.ck_size == 0) {
		/* Every tree extends the empty one, if that is what was signed. */
		saksi_merkle_empty_root(empty);
		rc = sodium_memcmp(old.ck_root, empty, SAKSI_HASH_LEN) == 0 ?
		    verdict(1, "the log's checkpoint of size %" PRIu64 " extends your empty "
		    "tree", new.ck_size) :
		    verdict(0, "your checkpoint of size 0 names a root that is not the empty "
		    "tree's");
	} else {
		e = saksi_client_prove_consistency(cl, old.ck_size, new.ck_size, proof, &np);
		xremote_err(cl, e, s->s_url, &s->s_v, "consistency proof");
		e = saksi_merkle_verify_consistency(old.ck_size, new.ck_size, old.ck_root,
		    new.ck_root, (const saksi_hash *)proof, np);
		rc = e == SAKSI_OK ?
		    verdict(1, "the log's checkpoint of size %" PRIu64 " extends your "
		    "checkpoint of size %" PRIu64, new.ck_size, old.ck_size) :
		    verdict(0, "the log's checkpoint of size %" PRIu64 " does not extend your "
		    "checkpoint of size %" PRIu64 ": its history differs from what you saw",
		    new.ck_size, old.ck_size);
	}
	saksi_client_close(cl);
	return rc;
}

static int
prove_consistency(int argc, char **argv)
{
	static const char usage[] =
	    "saksi prove consistency (--ledger DIR M N | --url URL [--timeout MS] "
	    "([--vkey VKEY | --vkey-file F] M N | (--vkey VKEY | --vkey-file F) "
	    "--old-checkpoint FILE))";
	static const struct option opts[] = {
		SRC_OPTS,
		{ "old-checkpoint", required_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	struct src s;
	const char *oldf = NULL;
	uint64_t m, n;
	int c;

	memset(&s, 0, sizeof(s));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (src_opt(&s, c))
			continue;
		switch (c) {
		case 'O': oldf = optarg; break;
		default: xusage(usage, "bad option");
		}
	}
	if (oldf != NULL) {
		if (s.s_url == NULL)
			xusage(usage, "--old-checkpoint asks a daemon (--url); a ledger copy is "
			    "checked against your checkpoint with saksi verify --checkpoint");
		if (optind != argc)
			xusage(usage, "--old-checkpoint takes no sizes: they are your "
			    "checkpoint's and the log's latest");
		src_check(&s, usage);
		if (!s.s_verify)
			xusage(usage, "--old-checkpoint needs the log's key: --vkey or "
			    "--vkey-file");
		return check_old_checkpoint(&s, oldf);
	}
	if (optind + 2 != argc)
		xusage(usage, "the two sizes M N are required");
	src_check(&s, usage);
	m = xparse_u64(argv[optind], "M");
	n = xparse_u64(argv[optind + 1], "N");
	if (m == 0 || m > n)
		xusage(usage, "sizes must satisfy 0 < M <= N");
	if (s.s_dir != NULL)
		prove_consistency_ledger(s.s_dir, m, n);
	else
		prove_consistency_remote(&s, m, n);
	return SX_OK;
}

int
cmd_prove(int argc, char **argv)
{
	static const char usage[] = "saksi prove inclusion|consistency ...";

	if (argc < 2)
		xusage(usage, "which proof?");
	if (strcmp(argv[1], "inclusion") == 0)
		return prove_inclusion(argc - 1, argv + 1);
	if (strcmp(argv[1], "consistency") == 0)
		return prove_consistency(argc - 1, argv + 1);
	xusage(usage, "unknown proof \"%s\"", argv[1]);
}
