/*
 * outbox.c: saksi submit --outbox and saksi outbox: a shell producer's durable outbox
 * (lib/outbox.h). An event is synced into the outbox before anything is sent, so "queued"
 * is a promise; the queue goes out in order. Never prints a receipt it has not checked.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "client.h"
#include "envelope.h"
#include "outbox.h"
#include "wire.h"

/* The receipt of one entry, caught as the flush hands receipts back. */
struct catch {
	uint64_t id;
	int found, duplicate;
	uint64_t index;
	char *receipt;
};

static void
catch_receipt(void *arg, const saksi_outbox_receipt *r)
{
	struct catch *c = arg;

	if (r->or_id != c->id)
		return;
	c->found = 1;
	c->duplicate = r->or_duplicate;
	c->index = r->or_index;
	c->receipt = xstrdup(r->or_receipt);
}

struct dead_catch {
	uint64_t id;
	int found, code;
	char msg[256];
};

static void
catch_dead(void *arg, const saksi_outbox_dead *d)
{
	struct dead_catch *c = arg;

	if (d->od_id != c->id)
		return;
	c->found = 1;
	c->code = d->od_code;
	snprintf(c->msg, sizeof(c->msg), "%s", d->od_message);
}

static void
xoutbox_err(saksi_err e, const char *dir)
{
	if (e == SAKSI_ERR_FULL)
		xdie("the outbox %s is full (its disk, or its map): free space there; nothing "
		    "was queued", dir);
	xdie_err(e, "cannot use the outbox %s", dir);
}

/* Why a flush stopped, in one line. */
static const char *
stop_reason(saksi_err e, const saksi_outbox_flush_result *fr, char *buf, size_t len)
{
	if (e == SAKSI_ERR_NET || e == SAKSI_ERR_TIMEOUT)
		snprintf(buf, len, "the daemon did not answer (%s)", saksi_strerror(e));
	else if (e == SAKSI_ERR_REFUSED)
		snprintf(buf, len, "the daemon refused (%s): %s", saksi_reason_name(fr->of_status),
		    fr->of_message);
	else
		snprintf(buf, len, "%s", saksi_strerror(e));
	return buf;
}

int
outbox_submit(const char *dir, const char *url, const saksi_seckey *sk, const uint8_t *box_pk,
              const saksi_note_verifier *v, const saksi_schemas *sch, const char *type,
              const char *payload, uint64_t seq, uint64_t tms, uint64_t timeout, int json)
{
	saksi_outbox_opts oo;
	saksi_outbox_flush_result fr;
	saksi_outbox *ob;
	saksi_client *cl;
	struct catch got;
	struct dead_catch dead;
	uint64_t last;
	char why[512];
	saksi_err e, fe;
	const char *status;
	int rc;

	memset(&oo, 0, sizeof(oo));
	oo.ob_log = v;
	oo.ob_key = sk;
	oo.ob_box_pk = box_pk;
	oo.ob_schemas = sch;
	if ((e = saksi_outbox_open(dir, &oo, &ob)) != SAKSI_OK)
		xoutbox_err(e, dir);
	memset(&got, 0, sizeof(got));
	e = saksi_outbox_enqueue_event(ob, type, payload, tms, seq, &seq, &got.id);
	if (e == SAKSI_ERR_RANGE) {
		if (saksi_outbox_seq_last(ob, saksi_seckey_id(sk), &last) != SAKSI_OK)
			last = 0;
		saksi_outbox_close(ob);
		xfail("--seq is not above %" PRIu64 ", the last seq this key queued in %s; leave "
		    "--seq out to take the next one", last, dir);
	}
	if (e == SAKSI_ERR_SCHEMA)
		xfail("the payload does not match the schema of %s", type);
	if (e != SAKSI_OK)
		xoutbox_err(e, dir);

	/* Durable now. Send the whole queue in order: ours goes after the older ones. */
	cl = xreader(url, timeout, v);
	fe = saksi_outbox_flush(ob, cl, 0, 0, catch_receipt, &got, &fr);
	saksi_client_close(cl);
	if (fe == SAKSI_ERR_PROOF) {
		saksi_outbox_close(ob);
		xfail("the daemon's receipt does not verify against %s: do not trust it; the "
		    "outbox %s keeps the events", v->nv_name, dir);
	}
	memset(&dead, 0, sizeof(dead));
	dead.id = got.id;
	if (!got.found && (e = saksi_outbox_dead_list(ob, catch_dead, &dead)) != SAKSI_OK)
		xoutbox_err(e, dir);
	saksi_outbox_close(ob);

	if (got.found) {
		rc = SX_OK;
		status = got.duplicate ? "duplicate" : "accepted";
	} else if (dead.found) {
		rc = SX_FAIL;
		status = saksi_reason_name(dead.code);
	} else {
		/* Queued: delivered by a later submit or saksi outbox flush. */
		rc = SX_OK;
		status = "queued";
		stop_reason(fe, &fr, why, sizeof(why));
	}
	if (json) {
		json_t *o = json_pack("{s:b, s:s, s:I, s:I}", "ok", rc == SX_OK, "status", status,
		    "seq", (json_int_t)seq, "outbox_id", (json_int_t)got.id);

		if (o == NULL)
			xdie("out of memory");
		if (got.found) {
			json_object_set_new(o, "code", json_integer(got.duplicate ?
			    SAKSI_R_DUPLICATE : SAKSI_R_ACCEPTED));
			json_object_set_new(o, "index", json_integer((json_int_t)got.index));
			json_object_set_new(o, "receipt", json_string(got.receipt));
		} else if (dead.found) {
			json_object_set_new(o, "code", json_integer(dead.code));
			json_object_set_new(o, "message", json_string(dead.msg));
		} else
			json_object_set_new(o, "message", json_string(why));
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	} else if (got.found) {
		fputs(got.receipt, stdout);
		fprintf(stderr, "saksi: %s as entry %" PRIu64 " (seq %" PRIu64 ")\n",
		    got.duplicate ? "already in the ledger" : "accepted", got.index, seq);
	} else if (dead.found)
		fprintf(stderr, "saksi: refused (%s): %s; kept in the dead letters of %s\n",
		    status, dead.msg, dir);
	else
		fprintf(stderr, "saksi: queued in %s as outbox entry %" PRIu64 " (seq %" PRIu64
		    "), not delivered yet: %s\n", dir, got.id, seq, why);
	free(got.receipt);
	return rc;
}

static saksi_outbox *
xoutbox_open(const char *dir, const saksi_note_verifier *v)
{
	saksi_outbox_opts oo;
	saksi_outbox *ob;
	saksi_err e;

	memset(&oo, 0, sizeof(oo));
	oo.ob_log = v;
	if ((e = saksi_outbox_open(dir, &oo, &ob)) != SAKSI_OK)
		xoutbox_err(e, dir);
	return ob;
}

static int
outbox_status(int argc, char **argv)
{
	static const char usage[] = "saksi outbox status DIR [--json]";
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	saksi_outbox_status st;
	saksi_outbox *ob;
	saksi_err e;
	int c, json = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind + 1 != argc)
		xusage(usage, "give one outbox directory");
	ob = xoutbox_open(argv[optind], NULL);
	e = saksi_outbox_stat(ob, &st);
	saksi_outbox_close(ob);
	if (e != SAKSI_OK)
		xoutbox_err(e, argv[optind]);
	if (json) {
		json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I}", "pending",
		    (json_int_t)st.os_pending, "dead", (json_int_t)st.os_dead, "receipts",
		    (json_int_t)st.os_receipts, "oldest_pending_ms", (json_int_t)st.os_oldest_ms,
		    "next_id", (json_int_t)st.os_next_id);

		if (o == NULL)
			xdie("out of memory");
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	} else {
		printf("pending %" PRIu64 "\n", st.os_pending);
		printf("dead %" PRIu64 "\n", st.os_dead);
		printf("receipts %" PRIu64 "\n", st.os_receipts);
		if (st.os_pending > 0)
			printf("oldest_pending_ms %" PRIu64 "\n", st.os_oldest_ms);
	}
	return SX_OK;
}

static int
outbox_flush(int argc, char **argv)
{
	static const char usage[] = "saksi outbox flush DIR --url URL (--vkey VKEY | "
	    "--vkey-file F) [--batch N] [--timeout MS] [--json]";
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "vkey", required_argument, NULL, 'v' },
		{ "vkey-file", required_argument, NULL, 'V' },
		{ "batch", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL, *vk = NULL, *vkf = NULL, *dir;
	uint64_t batch = 0, timeout = 0;
	saksi_note_verifier v;
	saksi_outbox_flush_result fr;
	saksi_outbox_status st;
	saksi_outbox *ob;
	saksi_client *cl;
	char why[512];
	saksi_err e;
	int c, json = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 'v': vk = optarg; break;
		case 'V': vkf = optarg; break;
		case 'b': batch = xparse_u64(optarg, "--batch"); break;
		case 'o': timeout = xparse_u64(optarg, "--timeout"); break;
		case 'j': json = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind + 1 != argc)
		xusage(usage, "give one outbox directory");
	dir = argv[optind];
	if (url == NULL || (vk == NULL && vkf == NULL))
		xusage(usage, "--url and --vkey or --vkey-file are required");
	if (batch > SAKSI_WIRE_BATCH_MAX)
		xusage(usage, "--batch is 1..%d", SAKSI_WIRE_BATCH_MAX);
	if (timeout > 3600000)
		xusage(usage, "--timeout is in milliseconds, at most 3600000");
	xvkey(vk, vkf, &v);
	ob = xoutbox_open(dir, &v);
	cl = xreader(url, timeout, &v);
	e = saksi_outbox_flush(ob, cl, (size_t)batch, 0, NULL, NULL, &fr);
	saksi_client_close(cl);
	if (saksi_outbox_stat(ob, &st) != SAKSI_OK)
		memset(&st, 0, sizeof(st));
	saksi_outbox_close(ob);

	if (e == SAKSI_OK)
		rc = fr.of_dead > 0 ? SX_FAIL : SX_OK;
	else if (e == SAKSI_ERR_PROOF)
		rc = SX_FAIL;
	else
		rc = SX_USAGE;
	if (json) {
		json_t *o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I}", "ok", e == SAKSI_OK,
		    "delivered", (json_int_t)fr.of_delivered, "duplicate",
		    (json_int_t)fr.of_duplicate, "dead", (json_int_t)fr.of_dead, "pending",
		    (json_int_t)st.os_pending, "dead_total", (json_int_t)st.os_dead);

		if (o == NULL)
			xdie("out of memory");
		if (e != SAKSI_OK)
			json_object_set_new(o, "message", json_string(stop_reason(e, &fr, why,
			    sizeof(why))));
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	}
	fprintf(stderr, "saksi: %" PRIu64 " delivered (%" PRIu64 " already in the ledger), %"
	    PRIu64 " refused into the dead letters, %" PRIu64 " pending\n", fr.of_delivered,
	    fr.of_duplicate, fr.of_dead, st.os_pending);
	if (e == SAKSI_ERR_PROOF)
		fprintf(stderr, "saksi: a receipt does not verify against %s: do not trust this "
		    "daemon; nothing of that request left the outbox\n", v.nv_name);
	else if (e != SAKSI_OK)
		fprintf(stderr, "saksi: stopped, the rest stays queued: %s\n",
		    stop_reason(e, &fr, why, sizeof(why)));
	return rc;
}

static void
print_dead(void *arg, const saksi_outbox_dead *d)
{
	json_t *a = arg, *o;
	saksi_envelope ev;
	char hex[2 * SAKSI_KEYID_LEN + 1];

	o = json_pack("{s:I, s:i, s:s, s:s}", "id", (json_int_t)d->od_id, "code", d->od_code,
	    "status", saksi_reason_name(d->od_code), "message", d->od_message);
	if (o == NULL)
		xdie("out of memory");
	if (saksi_envelope_parse(d->od_env, d->od_env_len, &ev) == SAKSI_OK) {
		keyid_to_hex(ev.ev_key_id, hex);
		json_object_set_new(o, "key_id", json_string(hex));
		json_object_set_new(o, "seq", json_integer((json_int_t)ev.ev_seq));
		json_object_set_new(o, "type", json_string(ev.ev_type));
		json_object_set_new(o, "time_ms", json_integer((json_int_t)ev.ev_time_ms));
	}
	json_array_append_new(a, o);
}

static void
print_receipt(void *arg, const saksi_outbox_receipt *r)
{
	json_t *a = arg, *o;
	saksi_envelope ev;

	o = json_pack("{s:I, s:I, s:b, s:s}", "id", (json_int_t)r->or_id, "index",
	    (json_int_t)r->or_index, "duplicate", r->or_duplicate, "receipt", r->or_receipt);
	if (o == NULL)
		xdie("out of memory");
	if (saksi_envelope_parse(r->or_env, r->or_env_len, &ev) == SAKSI_OK) {
		json_object_set_new(o, "seq", json_integer((json_int_t)ev.ev_seq));
		json_object_set_new(o, "type", json_string(ev.ev_type));
	}
	json_array_append_new(a, o);
}

/* saksi outbox dead|receipts DIR: the list as JSON (ids, reasons, seqs, receipts). */
static int
outbox_list(int argc, char **argv, int receipts)
{
	const char *usage = receipts ? "saksi outbox receipts DIR" : "saksi outbox dead DIR";
	saksi_outbox *ob;
	json_t *a;
	saksi_err e;

	if (argc != 2 || argv[1][0] == '-')
		xusage(usage, "give one outbox directory");
	if ((a = json_array()) == NULL)
		xdie("out of memory");
	ob = xoutbox_open(argv[1], NULL);
	e = receipts ? saksi_outbox_receipts(ob, print_receipt, a) :
	    saksi_outbox_dead_list(ob, print_dead, a);
	saksi_outbox_close(ob);
	if (e != SAKSI_OK)
		xoutbox_err(e, argv[1]);
	json_dumpf(a, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(a);
	return SX_OK;
}

int
cmd_outbox(int argc, char **argv)
{
	static const char usage[] = "saksi outbox status|flush|dead|receipts DIR [OPTIONS]";

	if (argc < 2)
		xusage(usage, "give a subcommand");
	if (strcmp(argv[1], "status") == 0)
		return outbox_status(argc - 1, argv + 1);
	if (strcmp(argv[1], "flush") == 0)
		return outbox_flush(argc - 1, argv + 1);
	if (strcmp(argv[1], "dead") == 0)
		return outbox_list(argc - 1, argv + 1, 0);
	if (strcmp(argv[1], "receipts") == 0)
		return outbox_list(argc - 1, argv + 1, 1);
	xusage(usage, "unknown subcommand \"%s\"", argv[1]);
}
