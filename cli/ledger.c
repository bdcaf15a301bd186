/*
 * ledger.c: saksi checkpoint, get and prove: reading a ledger copy (opened read-only) or
 * asking the daemon. These commands print what is stored; they prove nothing by
 * themselves: verification is saksi verify's job, and a proof is checked by its reader.
 */
#include <getopt.h>
#include <inttypes.h>
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
	    "saksi checkpoint (--ledger DIR | --url URL [-k producer.key]) "
	    "[--vkey VKEY | --vkey-file F] [--timeout MS] [--passphrase-file F]";
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
		saksi_client_close(cl);
		saksi_seckey_free(sk);
		if (e == SAKSI_ERR_REFUSED)
			xdie("the daemon at %s gave no checkpoint (it has none before its first "
			    "commit)", url);
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

int
cmd_get(int argc, char **argv)
{
	static const char usage[] = "saksi get --ledger DIR INDEX [--raw] [--json]";
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "raw", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	int c, raw = 0, json = 0;
	uint64_t index, size;
	saksi_ledger *l;
	saksi_ledger_txn *txn;
	uint8_t *leaf = NULL;
	size_t len = 0;
	saksi_leaf lf;
	saksi_hash lh;
	char prev[45], lhb[45], when[40];
	saksi_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': dir = optarg; break;
		case 'r': raw = 1; break;
		case 'j': json = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (dir == NULL || optind + 1 != argc)
		xusage(usage, "--ledger and one INDEX are required");
	if (raw && json)
		xusage(usage, "give --raw or --json, not both");
	index = xparse_u64(argv[optind], "INDEX");
	l = xledger_open_ro(dir);
	txn = xbegin(l);
	size = saksi_ledger_size(txn);
	if (index >= size)
		xdie("entry %" PRIu64 " does not exist: the ledger has %" PRIu64 " entries",
		    index, size);
	e = saksi_ledger_leaf(txn, index, &leaf, &len);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	if (e == SAKSI_ERR_NOT_FOUND)
		xfail("entry %" PRIu64 " is missing from the ledger (run saksi verify)", index);
	if (e == SAKSI_ERR_CORRUPT)
		xfail("entry %" PRIu64 " is stored damaged (run saksi verify)", index);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot read entry %" PRIu64, index);
	if (raw) {
		xwrite_all(STDOUT_FILENO, leaf, len);
		free(leaf);
		return SX_OK;
	}
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
		    "refusals", "commit_time_ms", (json_int_t)lf.lf_commit_ms, "prev_root",
		    prev, "leaf_hash", lhb, "leaf_len", (json_int_t)len);

		if (o == NULL)
			xdie("out of memory");
		if (lf.lf_kind == SAKSI_LEAF_EVENT)
			show_event(&lf, o);
		else
			show_refusals(&lf, o);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	} else {
		printf("index: %" PRIu64 "\n", index);
		printf("kind: %s\n", lf.lf_kind == SAKSI_LEAF_EVENT ? "event" : "refusals");
		printf("commit_time_ms: %" PRIu64 " (%s)\n", lf.lf_commit_ms, when);
		printf("prev_root: %s\n", prev);
		printf("leaf_hash: %s\n", lhb);
		if (lf.lf_kind == SAKSI_LEAF_EVENT)
			show_event(&lf, NULL);
		else
			show_refusals(&lf, NULL);
	}
	free(leaf);
	return SX_OK;
}

static int
prove_inclusion(int argc, char **argv)
{
	static const char usage[] =
	    "saksi prove inclusion --ledger DIR INDEX [--size N] [--tlog-proof]";
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "size", required_argument, NULL, 's' },
		{ "tlog-proof", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	int c, tlog = 0, have_size = 0;
	uint64_t index, size = 0, lsize;
	saksi_ledger *l;
	saksi_ledger_txn *txn;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
	size_t n = 0, i;
	char *note = NULL;
	size_t note_len = 0;
	saksi_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': dir = optarg; break;
		case 's': size = xparse_u64(optarg, "--size"); have_size = 1; break;
		case 't': tlog = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (dir == NULL || optind + 1 != argc)
		xusage(usage, "--ledger and one INDEX are required");
	index = xparse_u64(argv[optind], "INDEX");
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
	} else {
		for (i = 0; i < n; i++) {
			char b[45];

			hash_b64(proof[i], b);
			printf("%s\n", b);
		}
	}
	free(note);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	return SX_OK;
}

static int
prove_consistency(int argc, char **argv)
{
	static const char usage[] = "saksi prove consistency --ledger DIR M N";
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	uint64_t m, n, lsize;
	saksi_ledger *l;
	saksi_ledger_txn *txn;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
	size_t np = 0, i;
	saksi_err e;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': dir = optarg; break;
		default: xusage(usage, "bad option");
		}
	}
	if (dir == NULL || optind + 2 != argc)
		xusage(usage, "--ledger and the two sizes M N are required");
	m = xparse_u64(argv[optind], "M");
	n = xparse_u64(argv[optind + 1], "N");
	if (m == 0 || m > n)
		xusage(usage, "sizes must satisfy 0 < M <= N");
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
	for (i = 0; i < np; i++) {
		char b[45];

		hash_b64(proof[i], b);
		printf("%s\n", b);
	}
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
