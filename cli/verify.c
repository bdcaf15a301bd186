/*
 * verify.c: saksi verify (the ombudsman's whole-ledger check, lib/verify.c) and
 * saksi verify-receipt (one producer receipt, offline). Exit 0 only when everything
 * verified; 1 for any failure of the evidence; 2 when the evidence could not be read.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"
#include "envelope.h"
#include "keylog.h"
#include "tiles.h"
#include "verify.h"

struct bar {
	int on;
	int last_pct;
	int lines;      /* stderr is no terminal (--progress into a log): whole lines */
};

static void
progress(void *ctx, uint64_t done, uint64_t total)
{
	struct bar *b = ctx;
	int pct = total ? (int)(done * 100 / total) : 100, fill = pct / 4, i;
	char line[64];

	if (!b->on || pct == b->last_pct)
		return;
	/* A log file or a pipe gets a line every 10 %, not carriage returns. */
	if (b->lines) {
		if (pct / 10 == b->last_pct / 10 && done != total)
			return;
		b->last_pct = pct;
		fprintf(stderr, "saksi: verifying: %d%%, %" PRIu64 " of %" PRIu64 " entries\n",
		    pct, done, total);
		return;
	}
	b->last_pct = pct;
	for (i = 0; i < 25; i++)
		line[i] = i < fill ? '#' : '.';
	line[25] = '\0';
	fprintf(stderr, "\rverifying [%s] %3d%% %" PRIu64 "/%" PRIu64, line, pct, done,
	    total);
	if (done == total)
		fputc('\n', stderr);
	fflush(stderr);
}

/*
 * The keyring recorded at entry index of a tile export of `size` entries (already
 * verified): its canonical JSON, joined from its parts as saksi_keylog_read does.
 */
static saksi_err
tiles_keyring(const char *dir, uint64_t size, uint64_t index, char **canon, size_t *len)
{
	uint8_t **leaves;
	const uint8_t **bodies;
	size_t *lens, ll, k, n = 0;
	unsigned ix, cnt = 1;
	saksi_tiles *t;
	saksi_leaf lf;
	saksi_err e;

	if ((e = saksi_tiles_open(dir, &t)) != SAKSI_OK)
		return e;
	leaves = xmalloc(SAKSI_KEYLOG_PARTS_MAX * sizeof(*leaves));
	bodies = xmalloc(SAKSI_KEYLOG_PARTS_MAX * sizeof(*bodies));
	lens = xmalloc(SAKSI_KEYLOG_PARTS_MAX * sizeof(*lens));
	for (k = 0; k < cnt; k++) {
		if (index + k >= size) {
			e = SAKSI_ERR_FORMAT;
			break;
		}
		if ((e = saksi_tiles_leaf(t, size, index + k, &leaves[n], &ll)) != SAKSI_OK)
			break;
		n++;
		if ((e = saksi_leaf_parse(leaves[n - 1], ll, &lf)) != SAKSI_OK)
			break;
		if (lf.lf_kind != SAKSI_LEAF_KEYRING) {
			e = SAKSI_ERR_FORMAT;
			break;
		}
		bodies[k] = lf.lf_body;
		lens[k] = lf.lf_body_len;
		if (k == 0 && (e = saksi_keylog_part_hdr(lf.lf_body, lf.lf_body_len, &ix, &cnt,
		    NULL, 0)) != SAKSI_OK)
			break;
	}
	if (e == SAKSI_OK)
		e = saksi_keylog_join(bodies, lens, cnt, NULL, canon, len, NULL, NULL, 0);
	for (k = 0; k < n; k++)
		free(leaves[k]);
	free(leaves);
	free(bodies);
	free(lens);
	saksi_tiles_close(t);
	return e;
}

/*
 * The reviewer's keyring file against the ledger's latest keyring entry (FORMATS.md 4,
 * kind 4): the lines that differ into *diff (malloc'd, "" when none); returns their
 * count, 0 when the ledger records no keyring. A file the ledger contradicts is not
 * evidence: the ledger's keyring is, and `saksi get` prints it.
 */
static int
keyring_vs_ledger(saksi_ledger *l, const char *tiles, const saksi_verify_report *r,
                  const char *krf, char **diff)
{
	saksi_ledger_txn *txn;
	char *file, *canon = NULL, *kcanon = NULL;
	size_t flen, clen, kclen;
	saksi_err e;
	int n;

	*diff = xmalloc(8192);
	(*diff)[0] = '\0';
	if (r->vr_keyring_last == SAKSI_VERIFY_NO_INDEX)
		return 0;
	if (l == NULL) {
		e = tiles_keyring(tiles, r->vr_size, r->vr_keyring_last, &kcanon, &kclen);
	} else {
		if ((e = saksi_ledger_begin(l, 0, &txn)) != SAKSI_OK)
			xdie_err(e, "cannot read the ledger");
		/* One entry, or the set of parts that begins there (FORMATS.md 4, kind 4). */
		e = saksi_keylog_read(txn, r->vr_keyring_last, &kcanon, &kclen, NULL, NULL, 0);
		saksi_ledger_abort(txn);
	}
	if (e != SAKSI_OK)
		xdie_err(e, "cannot read the keyring entry %" PRIu64, r->vr_keyring_last);
	file = xread_file(krf, SAKSI_KEYLOG_FILE_MAX, &flen);
	if ((e = saksi_keylog_canon(file, flen, &canon, &clen, NULL, 0)) != SAKSI_OK)
		xdie_err(e, "keyring %s", krf);
	n = saksi_keylog_diff(kcanon, kclen, canon, clen, *diff, 8192);
	if (n < 0)
		xdie("keyring entry %" PRIu64 " does not parse", r->vr_keyring_last);
	free(kcanon);
	free(canon);
	free(file);
	return n;
}

static json_t *
diff_lines(const char *diff)
{
	json_t *a = json_array();
	const char *p = diff, *nl;

	while (a != NULL && *p != '\0' && (nl = strchr(p, '\n')) != NULL) {
		json_array_append_new(a, json_stringn(p, (size_t)(nl - p)));
		p = nl + 1;
	}
	if (a != NULL && *p != '\0')
		json_array_append_new(a, json_string(p));
	return a;
}

static void
print_json(const saksi_verify_report *r, saksi_err e, int had_reviewer, const char *diff)
{
	/* A keyring file the ledger contradicts fails the check, as reason keyring_file. */
	int file_differs = diff != NULL && diff[0] != '\0';
	char root[45];
	json_t *o;

	sodium_bin2base64(root, sizeof(root), r->vr_root, SAKSI_HASH_LEN,
	    sodium_base64_VARIANT_ORIGINAL);

	o = json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
	    "ok", e == SAKSI_OK && !file_differs,
	    "reason", e == SAKSI_OK && file_differs ? "keyring_file" :
	    saksi_verify_reason_name(r->vr_reason),
	    "size", (json_int_t)r->vr_size,
	    "checked", (json_int_t)r->vr_checked,
	    "events", (json_int_t)r->vr_events,
	    "refusals", (json_int_t)r->vr_refusals,
	    "revoked_key_events", (json_int_t)r->vr_revoked,
	    "nodes", (json_int_t)r->vr_nodes,
	    "checkpoints", (json_int_t)r->vr_checkpoints,
	    "latest_checkpoint", (json_int_t)r->vr_latest,
	    "root", root);
	if (o == NULL)
		xdie("out of memory");
	json_object_set_new(o, "alerts", json_integer((json_int_t)r->vr_alerts));
	json_object_set_new(o, "index", r->vr_index == SAKSI_VERIFY_NO_INDEX ? json_null() :
	    json_integer((json_int_t)r->vr_index));
	json_object_set_new(o, "message", json_string(r->vr_message));
	json_object_set_new(o, "keyring", json_pack("{s:I, s:o, s:o, s:o}",
	    "entries", (json_int_t)r->vr_keyrings,
	    "first", r->vr_keyring_first == SAKSI_VERIFY_NO_INDEX ? json_null() :
	    json_integer((json_int_t)r->vr_keyring_first),
	    "last", r->vr_keyring_last == SAKSI_VERIFY_NO_INDEX ? json_null() :
	    json_integer((json_int_t)r->vr_keyring_last),
	    "file_differs", diff_lines(diff != NULL ? diff : "")));
	if (had_reviewer)
		json_object_set_new(o, "reviewer_checkpoint",
		    json_pack("{s:I, s:b}", "size", (json_int_t)r->vr_reviewer_size,
		    "matched", r->vr_reviewer));
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(o);
}

int
cmd_verify(int argc, char **argv)
{
	static const char usage[] =
	    "saksi verify (--ledger DIR | --tiles DIR) (--vkey VKEY | --vkey-file F) "
	    "--keyring FILE [--checkpoint FILE] [--json] [--progress] [--threads N]";
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "tiles", required_argument, NULL, 'T' },
		{ "vkey", required_argument, NULL, 'v' },
		{ "vkey-file", required_argument, NULL, 'V' },
		{ "keyring", required_argument, NULL, 'r' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "progress", no_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *vk = NULL, *vkf = NULL, *krf = NULL, *ckf = NULL;
	const char *tiles = NULL;
	int c, json = 0, force_progress = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t threads = ncpu > 0 ? (uint64_t)ncpu : 1;
	saksi_note_verifier v;
	saksi_keyring *kr;
	saksi_ledger *l = NULL;
	saksi_verify_opts o;
	saksi_verify_report *r;
	struct bar b = { 0, -1, 0 };
	char *ck = NULL, root[45], *diff = NULL;
	int ndiff = 0;
	size_t ck_len = 0;
	saksi_err e;
	int rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "r:", opts, NULL)) != -1) {
		switch (c) {
		case 'l': dir = optarg; break;
		case 'T': tiles = optarg; break;
		case 'v': vk = optarg; break;
		case 'V': vkf = optarg; break;
		case 'r': krf = optarg; break;
		case 'c': ckf = optarg; break;
		case 'j': json = 1; break;
		case 'p': force_progress = 1; break;
		case 't': threads = xparse_u64(optarg, "--threads"); break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if ((dir == NULL) == (tiles == NULL))
		xusage(usage, "give one of --ledger (a copy of the ledger) and --tiles (a tile "
		    "export)");
	if (krf == NULL || (vk == NULL && vkf == NULL))
		xusage(usage, "--vkey (or --vkey-file) and --keyring are required");
	if (threads < 1 || threads > 64)
		xusage(usage, "--threads must be 1..64");
	xvkey(vk, vkf, &v);
	kr = xkeyring_load(krf);
	if (ckf != NULL)
		ck = xread_file(ckf, SAKSI_NOTE_MAX, &ck_len);
	if (dir != NULL)
		l = xledger_open_ro(dir);

	b.on = force_progress || isatty(STDERR_FILENO);
	b.lines = !isatty(STDERR_FILENO);
	memset(&o, 0, sizeof(o));
	o.vo_log = &v;
	o.vo_keyring = kr;
	o.vo_reviewer_ckpt = ck;
	o.vo_reviewer_ckpt_len = ck_len;
	o.vo_progress = progress;
	o.vo_progress_ctx = &b;
	o.vo_threads = (unsigned)threads;
	r = xmalloc(sizeof(*r));
	e = l != NULL ? saksi_verify_ledger(l, &o, r) : saksi_verify_tiles(tiles, &o, r);
	if (b.on && !b.lines && b.last_pct >= 0 && b.last_pct < 100)
		fputc('\n', stderr);
	if (e == SAKSI_OK)
		ndiff = keyring_vs_ledger(l, tiles, r, krf, &diff);
	if (l != NULL)
		saksi_ledger_close(l);
	saksi_keyring_free(kr);
	free(ck);

	if (json)
		print_json(r, e, ckf != NULL, diff);
	if (e == SAKSI_OK && ndiff > 0) {
		rc = SX_FAIL;
		fprintf(stderr, "saksi: VERIFICATION FAILED: the keyring file %s differs from the "
		    "keyring the ledger recorded at entry %" PRIu64 ", in force at its end "
		    "(%d difference%s, ledger -> file):\n%s", krf, r->vr_keyring_last, ndiff,
		    ndiff == 1 ? "" : "s", diff);
		if (dir != NULL)
			fprintf(stderr, "saksi: the ledger's keyring is the evidence: saksi get %"
			    PRIu64 " --ledger DIR --json prints it; a file changed since saksid "
			    "last started is recorded at its next start\n", r->vr_keyring_last);
		else
			fprintf(stderr, "saksi: the ledger's keyring is the evidence: it is entry %"
			    PRIu64 " of the export (ask the operator for that keyring.json, or "
			    "for saksi get %" PRIu64 " --json on the appliance)\n",
			    r->vr_keyring_last, r->vr_keyring_last);
	} else if (e == SAKSI_OK) {
		rc = SX_OK;
		if (!json) {
			sodium_bin2base64(root, sizeof(root), r->vr_root, SAKSI_HASH_LEN,
			    sodium_base64_VARIANT_ORIGINAL);
			printf("%s intact: %" PRIu64 " entries (events %" PRIu64
			    ", refusal summaries %" PRIu64 ", alerts %" PRIu64 ", keyrings %"
			    PRIu64 "), checkpoints %" PRIu64 ", %s %" PRIu64 "\n",
			    dir != NULL ? "ledger" : "tile export", r->vr_size, r->vr_events,
			    r->vr_refusals, r->vr_alerts, r->vr_keyrings, r->vr_checkpoints,
			    dir != NULL ? "tree nodes" : "tile hashes", r->vr_nodes);
			printf("root %s\n", root);
			if (r->vr_revoked > 0)
				printf("note: %" PRIu64 " events are signed by keys revoked since; "
				    "they were valid when committed\n", r->vr_revoked);
			if (r->vr_reviewer)
				printf("your checkpoint of size %" PRIu64 " is a prefix of this "
				    "ledger: it extends what you saw\n", r->vr_reviewer_size);
			if (r->vr_keyrings == 0)
				printf("note: the ledger records no keyring (written before keyring "
				    "entries): every event was checked with %s\n", krf);
			else {
				printf("keyring: %" PRIu64 " keyring entr%s, the latest at entry %"
				    PRIu64 " is the same as %s; events after entry %" PRIu64
				    " were checked with the ledger's keyring in force (saksi "
				    "keyring-history shows what each entry changed)\n",
				    r->vr_keyrings, r->vr_keyrings == 1 ? "y" : "ies",
				    r->vr_keyring_last, krf, r->vr_keyring_first);
				if (r->vr_keyring_first > 0)
					printf("note: the keyring history starts at entry %" PRIu64
					    ": the %" PRIu64 " entries before it were checked with %s\n",
					    r->vr_keyring_first, r->vr_keyring_first, krf);
			}
		}
	} else if (e == SAKSI_ERR_CORRUPT) {
		rc = SX_FAIL;
		fprintf(stderr, "saksi: VERIFICATION FAILED: %s\n", r->vr_message);
	} else {
		rc = SX_USAGE;
		fprintf(stderr, "saksi: cannot verify: %s\n", r->vr_message);
	}
	free(diff);
	free(r);
	return rc;
}

int
cmd_verify_receipt(int argc, char **argv)
{
	static const char usage[] =
	    "saksi verify-receipt (--vkey VKEY | --vkey-file F) --receipt FILE "
	    "--envelope FILE [--keyring FILE]";
	static const struct option opts[] = {
		{ "vkey", required_argument, NULL, 'v' },
		{ "vkey-file", required_argument, NULL, 'V' },
		{ "receipt", required_argument, NULL, 'R' },
		{ "envelope", required_argument, NULL, 'e' },
		{ "keyring", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *vk = NULL, *vkf = NULL, *rf = NULL, *ef = NULL, *krf = NULL;
	saksi_note_verifier v;
	saksi_tlog_proof *tp;
	saksi_checkpoint ck;
	saksi_envelope ev;
	saksi_leaf lf;
	saksi_hash lh;
	uint8_t *leaf;
	char *rtext, *env;
	const char *body;
	size_t rlen, elen;
	saksi_err e;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "r:", opts, NULL)) != -1) {
		switch (c) {
		case 'v': vk = optarg; break;
		case 'V': vkf = optarg; break;
		case 'R': rf = optarg; break;
		case 'e': ef = optarg; break;
		case 'r': krf = optarg; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (rf == NULL || ef == NULL || (vk == NULL && vkf == NULL))
		xusage(usage, "--vkey (or --vkey-file), --receipt and --envelope are required");
	xvkey(vk, vkf, &v);
	rtext = xread_file(rf, SAKSI_NOTE_MAX + 8192, &rlen);
	env = xread_file(ef, SAKSI_ENV_MAX, &elen);
	tp = xmalloc(sizeof(*tp));
	if ((e = saksi_tlog_proof_parse(rtext, rlen, tp)) != SAKSI_OK)
		xfail("%s is not a tlog-proof receipt (%s)", rf, saksi_strerror(e));
	if (!tp->tp_has_extra || tp->tp_extra_len != SAKSI_LEAF_HDR)
		xfail("the receipt's extra line is not the 42-byte leaf header");
	/* The whole entry as `saksi get --raw` writes it (the receipt's header, then the
	 * envelope) is taken too: a reviewer holding a ledger copy and a producer's receipt
	 * has the entry, not the producer's envelope file. The hash below decides either way. */
	body = env;
	if (elen > SAKSI_LEAF_HDR && saksi_envelope_parse((const uint8_t *)env +
	    SAKSI_LEAF_HDR, elen - SAKSI_LEAF_HDR, &ev) == SAKSI_OK) {
		/* A whole entry with another header is another entry: saying so beats the
		 * envelope parser's size complaint about the header in front. */
		if (memcmp(env, tp->tp_extra, SAKSI_LEAF_HDR) != 0)
			xfail("%s is not entry %" PRIu64 ", the entry this receipt names: its "
			    "leaf hash differs", ef, tp->tp_index);
		body = env + SAKSI_LEAF_HDR;
		elen -= SAKSI_LEAF_HDR;
	}
	if ((e = saksi_envelope_parse((const uint8_t *)body, elen, &ev)) != SAKSI_OK)
		xfail("%s is neither a saksi envelope nor the entry of this receipt (%s)", ef,
		    saksi_strerror(e));
	/* The leaf is the header the log committed to, then the producer's own bytes. */
	leaf = xmalloc(SAKSI_LEAF_HDR + elen);
	memcpy(leaf, tp->tp_extra, SAKSI_LEAF_HDR);
	memcpy(leaf + SAKSI_LEAF_HDR, body, elen);
	if ((e = saksi_leaf_parse(leaf, SAKSI_LEAF_HDR + elen, &lf)) != SAKSI_OK ||
	    lf.lf_kind != SAKSI_LEAF_EVENT)
		xfail("the receipt's header does not make an event leaf");
	saksi_merkle_leaf_hash(lh, leaf, SAKSI_LEAF_HDR + elen);
	e = saksi_tlog_proof_verify(tp, &v, lh, &ck);
	if (e == SAKSI_ERR_SIGNATURE)
		xfail("the receipt's checkpoint is not signed by %s", v.nv_name);
	if (e == SAKSI_ERR_PROOF || e == SAKSI_ERR_RANGE)
		xfail("%s is not entry %" PRIu64 ", the entry this receipt names: its leaf "
		    "hash differs", ef, tp->tp_index);
	if (e != SAKSI_OK)
		xfail("the receipt does not verify (%s)", saksi_strerror(e));
	if (krf != NULL) {
		saksi_keyring *kr = xkeyring_load(krf);
		const saksi_keyring_entry *ke = saksi_keyring_find(kr, ev.ev_key_id);

		if (ke == NULL)
			xfail("the envelope's producer key is not in %s", krf);
		if (saksi_envelope_verify(&ev, ke->ke_pub.pk_key) != SAKSI_OK)
			xfail("the envelope's producer signature does not verify");
		saksi_keyring_free(kr);
	}
	printf("receipt valid: entry %" PRIu64 " of %s at tree size %" PRIu64 "\n",
	    tp->tp_index, ck.ck_origin, ck.ck_size);
	free(leaf);
	free(tp);
	free(rtext);
	free(env);
	return SX_OK;
}
