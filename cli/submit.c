/*
 * submit.c: saksi submit: signs one event with the producer's key, seals its personal
 * fields to the appliance, sends it through the client library (which checks the receipt
 * against the log key) and prints the receipt. A refusal is exit 1, never silence.
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
#include "schema.h"
#include "wire.h"

int
cmd_submit(int argc, char **argv)
{
	static const char usage[] =
	    "saksi submit --url URL -k producer.key --box-pub box.pub "
	    "(--vkey VKEY | --vkey-file F) --type T --seq N [--time MS] [--payload FILE|-] "
	    "[--schemas DIR] [--json] [--timeout MS] [--passphrase-file F] [--outbox DIR]";
	static const struct option opts[] = {
		SEND_OPTIONS,
		{ "type", required_argument, NULL, 't' },
		{ "seq", required_argument, NULL, 's' },
		{ "time", required_argument, NULL, 'T' },
		{ "payload", required_argument, NULL, 'p' },
		{ "outbox", required_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	struct send_opts so = { 0 };
	const char *type = NULL, *seq_s = NULL, *payf = "-", *outbox = NULL;
	uint64_t seq, tms;
	int c, have_time = 0, rc;
	saksi_note_verifier v;
	saksi_pubkey box;
	saksi_schemas *sch = NULL;
	saksi_seckey *sk;
	saksi_result res;
	struct send_req rq;
	char err[256] = "", *payload;
	size_t plen;
	saksi_err e;

	optind = 1;
	tms = 0;
	while ((c = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
		if (send_opt(&so, c, optarg))
			continue;
		switch (c) {
		case 't': type = optarg; break;
		case 's': seq_s = optarg; break;
		case 'T': tms = xparse_u64(optarg, "--time"); have_time = 1; break;
		case 'p': payf = optarg; break;
		case 'O': outbox = optarg; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	/* With an outbox, --seq may be left to its persistent counter. */
	if (!so.url || !so.key || !so.box || !type || (!seq_s && !outbox) ||
	    (!so.vkey && !so.vkey_file))
		xusage(usage, "--url, -k, --box-pub, --vkey, --type and --seq are required");
	seq = seq_s != NULL ? xparse_u64(seq_s, "--seq") : 0;
	if (seq_s != NULL && seq == 0)
		xusage(usage, "--seq starts at 1");
	send_setup(&so, usage, &v, &box, &sch);
	if (!have_time)
		tms = now_ms();
	if (!saksi_schemas_has(sch, type))
		xdie("unknown event type \"%s\" (no schema in %s)", type, so.schemas);
	payload = xread_file(payf, SAKSI_PAYLOAD_MAX * 4, &plen);
	while (plen > 0 && (payload[plen - 1] == '\n' || payload[plen - 1] == '\r' ||
	    payload[plen - 1] == ' '))
		payload[--plen] = '\0';
	err[0] = '\0';
	e = saksi_schemas_validate_clear(sch, type, payload, plen, err, sizeof(err));
	if (e != SAKSI_OK)
		xfail("the payload does not match the schema of %s: %s", type,
		    err[0] ? err : saksi_strerror(e));

	sk = xseckey_load(so.key, so.passfile);
	if (outbox != NULL) {
		rc = outbox_submit(outbox, so.url, sk, box.pk_key, &v, sch, type, payload, seq,
		                   tms, so.timeout, so.json);
		saksi_seckey_free(sk);
		saksi_schemas_free(sch);
		free(payload);
		return rc;
	}
	rq = (struct send_req){ .url = so.url, .v = &v, .box_pk = box.pk_key,
	    .timeout_ms = so.timeout, .type = type, .seq = seq, .time_ms = tms };
	xsend_one(&rq, sk, sch, payload, &res);

	rc = send_rc(&res);
	if (so.json)
		send_print_json(NULL, rc, &res);
	else if (rc == SX_OK) {
		if (res.sr_receipt != NULL)
			fputs(res.sr_receipt, stdout);
		fprintf(stderr, "saksi: %s as entry %" PRIu64 "\n",
		    res.sr_code == SAKSI_R_DUPLICATE ? "already in the ledger" : "accepted",
		    res.sr_index);
	}
	return send_finish(rc, &res);
}
