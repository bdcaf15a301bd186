/*
 * forget.c: saksi forget, a supervisor's signed request that saksid destroy one
 * participant's data key (supervisor.forget.requested, FORMATS.md 7.2). The NIK goes out
 * only as a digest and a sealed disclosure; it is never printed, and `--nik -` reads it
 * from stdin so that it does not show in the process list.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"
#include "client.h"
#include "schema.h"
#include "wire.h"

#define FORGET_TYPE "supervisor.forget.requested"

/* The NIK from --nik, or one line of stdin for "-". */
static char *
read_nik(const char *arg)
{
	char buf[64], *nl;

	if (strcmp(arg, "-") != 0)
		return xstrdup(arg);
	if (fgets(buf, sizeof(buf), stdin) == NULL)
		xdie("--nik -: no NIK on stdin");
	if ((nl = strpbrk(buf, "\r\n")) != NULL)
		*nl = '\0';
	nl = xstrdup(buf);
	sodium_memzero(buf, sizeof(buf));
	return nl;
}

int
cmd_forget(int argc, char **argv)
{
	static const char usage[] =
	    "saksi forget --nik NIK|- --url URL -k supervisor.key --box-pub box.pub "
	    "(--vkey VKEY | --vkey-file F) --branch B --officer ID [--seq N] "
	    "[--reason subject_request|retention_ended|court_order|other] [--case ID] "
	    "[--time MS] [--schemas DIR] [--json] [--timeout MS] [--passphrase-file F]";
	static const struct option opts[] = {
		SEND_OPTIONS,
		{ "nik", required_argument, NULL, 'n' },
		{ "seq", required_argument, NULL, 's' },
		{ "branch", required_argument, NULL, 'B' },
		{ "officer", required_argument, NULL, 'O' },
		{ "reason", required_argument, NULL, 'r' },
		{ "case", required_argument, NULL, 'C' },
		{ "time", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct send_opts so = { 0 };
	const char *nik_arg = NULL, *seq_s = NULL, *branch = NULL, *officer = NULL,
	    *reason = "subject_request", *case_id = NULL;
	uint64_t seq, tms = 0;
	int c, have_time = 0, rc;
	saksi_note_verifier v;
	saksi_pubkey box;
	saksi_schemas *sch = NULL;
	saksi_seckey *sk;
	saksi_result res;
	struct send_req rq;
	json_t *p;
	char err[256] = "", *nik, *payload;
	size_t plen;
	saksi_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
		if (send_opt(&so, c, optarg))
			continue;
		switch (c) {
		case 'n': nik_arg = optarg; break;
		case 's': seq_s = optarg; break;
		case 'B': branch = optarg; break;
		case 'O': officer = optarg; break;
		case 'r': reason = optarg; break;
		case 'C': case_id = optarg; break;
		case 'T': tms = xparse_u64(optarg, "--time"); have_time = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (!nik_arg || !so.url || !so.key || !so.box || !branch || !officer ||
	    (!so.vkey && !so.vkey_file))
		xusage(usage, "--nik, --url, -k, --box-pub, --vkey, --branch and --officer "
		    "are required");
	/*
	 * A supervisor's key also signs the access entries of query, bundle and
	 * subject-report, whose seq is the time in microseconds (milliseconds x 1000): a
	 * forget's seq must be above them, so by default it is taken the same way.
	 */
	if (seq_s != NULL) {
		seq = xparse_u64(seq_s, "--seq");
		if (seq == 0)
			xusage(usage, "--seq starts at 1");
	} else
		seq = now_ms() * 1000;
	send_setup(&so, usage, &v, &box, &sch);
	if (!have_time)
		tms = now_ms();
	if (!saksi_schemas_has(sch, FORGET_TYPE))
		xdie("no schema for %s in %s: this saksi is newer than its schemas",
		    FORGET_TYPE, so.schemas);

	nik = read_nik(nik_arg);
	p = json_pack("{s:s, s:s, s:s, s:s}", "branch", branch, "officer_id", officer,
	    "nik", nik, "reason", reason);
	sodium_memzero(nik, strlen(nik));
	free(nik);
	if (p == NULL)
		xdie("--branch, --officer and --reason must be UTF-8");
	if (case_id != NULL)
		json_object_set_new(p, "case_id", json_string(case_id));
	payload = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(p);   /* jansson does not wipe: the copy in payload is wiped below */
	if (payload == NULL)
		xdie("out of memory");
	plen = strlen(payload);
	/* The schema's messages name members and patterns, never the value. */
	e = saksi_schemas_validate_clear(sch, FORGET_TYPE, payload, plen, err, sizeof(err));
	if (e != SAKSI_OK) {
		sodium_memzero(payload, plen);
		free(payload);
		xfail("the request does not match the schema of %s (is the NIK 16 digits?): %s",
		    FORGET_TYPE, err[0] ? err : saksi_strerror(e));
	}

	sk = xseckey_load(so.key, so.passfile);
	rq = (struct send_req){ .url = so.url, .v = &v, .box_pk = box.pk_key,
	    .timeout_ms = so.timeout, .type = FORGET_TYPE, .seq = seq, .time_ms = tms };
	xsend_one(&rq, sk, sch, payload, &res);

	rc = send_rc(&res);
	if (so.json)
		send_print_json(NULL, rc, &res);
	else if (rc == SX_OK) {
		if (res.sr_receipt != NULL)
			fputs(res.sr_receipt, stdout);
		/* saksid does not say whether it held a key for this NIK (a digest is all it
		 * may keep of it): a typo in the NIK is accepted too, so say what is known. */
		fprintf(stderr, "saksi: forget request %s as entry %" PRIu64 "; the "
		    "participant's data key is destroyed, if the appliance held one (check "
		    "that the NIK was right: an unknown one is accepted as well)\n",
		    res.sr_code == SAKSI_R_DUPLICATE ? "already in the ledger" : "accepted",
		    res.sr_index);
	}
	return send_finish(rc, &res);
}
