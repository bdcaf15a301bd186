/*
 * send.c: the tail that saksi submit, saksi alerts ack and saksi forget share: load the
 * appliance's box key and the schemas, sign one event, submit it, have the client library
 * verify the receipt, report the answer. It must never print a payload (a forget request
 * holds a NIK) nor trust a receipt that did not verify.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"
#include "client.h"
#include "wire.h"

void
xbox_pub(const char *path, saksi_pubkey *box)
{
	saksi_err e;

	if ((e = saksi_pubkey_load(path, box)) != SAKSI_OK)
		xdie_err(e, "cannot load the appliance's box key %s", path);
	if (box->pk_kind != SAKSI_KEY_BOX)
		xdie("%s is not an X25519 box key (the appliance's box.pub)", path);
}

saksi_schemas *
xschemas_load(const char *dir)
{
	saksi_schemas *sch = NULL;
	char err[256] = "";
	saksi_err e;

	if (dir == NULL)
		dir = default_schemas_dir();
	if ((e = saksi_schemas_load(dir, &sch, err, sizeof(err))) != SAKSI_OK) {
		if (err[0] != '\0')
			xdie("schemas %s: %s", dir, err);
		xdie_err(e, "cannot load the schemas in %s", dir);
	}
	return sch;
}

saksi_client *
send_open(const struct send_req *rq, saksi_seckey *sk, saksi_schemas *sch, saksi_err *e)
{
	saksi_client_opts co;
	saksi_client *cl = NULL;

	memset(&co, 0, sizeof(co));
	co.co_url = rq->url;
	co.co_key = sk;
	co.co_box_pk = rq->box_pk;
	co.co_log = rq->v;
	co.co_schemas = sch;
	co.co_timeout_ms = (int)rq->timeout_ms;
	if ((*e = saksi_client_open(&co, &cl)) != SAKSI_OK)
		return NULL;
	return cl;
}

saksi_err
send_event(saksi_client *cl, const struct send_req *rq, char *payload, saksi_result *res)
{
	size_t plen = strlen(payload);
	saksi_event ev;
	saksi_err e;

	memset(&ev, 0, sizeof(ev));
	ev.se_type = rq->type;
	ev.se_payload = payload;
	ev.se_seq = rq->seq;
	ev.se_time_ms = rq->time_ms;
	memset(res, 0, sizeof(*res));
	e = saksi_client_submit(cl, &ev, 1, res);
	/* Wiped because a forget request's payload holds a NIK; jansson does not wipe. */
	sodium_memzero(payload, plen);
	free(payload);
	return e;
}

void
xsend_check(const struct send_req *rq, saksi_err e)
{
	if (e == SAKSI_ERR_PROOF)
		xfail("the daemon's receipt does not verify against %s: do not trust it",
		    rq->v->nv_name);
	if (e == SAKSI_ERR_NET || e == SAKSI_ERR_TIMEOUT)
		xdie_err(e, "daemon at %s did not answer", rq->url);
	if (e != SAKSI_OK)
		xdie_err(e, "submission failed");
}

void
xsend_one(const struct send_req *rq, saksi_seckey *sk, saksi_schemas *sch, char *payload,
          saksi_result *res)
{
	saksi_client *cl;
	saksi_err e;

	if ((cl = send_open(rq, sk, sch, &e)) == NULL) {
		sodium_memzero(payload, strlen(payload));
		free(payload);
		saksi_seckey_free(sk);
		xdie_err(e, "cannot open a connection to %s", rq->url);
	}
	e = send_event(cl, rq, payload, res);
	saksi_client_close(cl);
	saksi_seckey_free(sk);
	saksi_schemas_free(sch);
	xsend_check(rq, e);
}

int
send_rc(const saksi_result *res)
{
	return res->sr_code == SAKSI_R_ACCEPTED || res->sr_code == SAKSI_R_DUPLICATE ? SX_OK :
	    SX_FAIL;
}

void
send_print_json(json_t *o, int rc, const saksi_result *res)
{
	if (o == NULL)
		o = json_pack("{s:b, s:i, s:s}", "ok", rc == SX_OK, "code", res->sr_code,
		    "status", saksi_reason_name(res->sr_code));
	if (o == NULL)
		xdie("out of memory");
	if (rc == SX_OK) {
		json_object_set_new(o, "index", json_integer((json_int_t)res->sr_index));
		json_object_set_new(o, "receipt", json_string(res->sr_receipt ?
		    res->sr_receipt : ""));
	} else
		json_object_set_new(o, "message", json_string(res->sr_message));
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(o);
}

int
send_finish(int rc, saksi_result *res)
{
	if (rc != SX_OK)
		fprintf(stderr, "saksi: refused (%s): %s\n", saksi_reason_name(res->sr_code),
		    res->sr_message);
	saksi_result_clear(res);
	return rc;
}

int
send_opt(struct send_opts *so, int c, const char *arg)
{
	switch (c) {
	case 'u': so->url = arg; break;
	case 'k': so->key = arg; break;
	case 'b': so->box = arg; break;
	case 'v': so->vkey = arg; break;
	case 'V': so->vkey_file = arg; break;
	case 'S': so->schemas = arg; break;
	case 'j': so->json = 1; break;
	case 'P': so->passfile = arg; break;
	case 'o': so->timeout = xparse_u64(arg, "--timeout"); break;
	default: return 0;
	}
	return 1;
}

void
send_setup(struct send_opts *so, const char *usage, saksi_note_verifier *v,
           saksi_pubkey *box, saksi_schemas **sch)
{
	if (so->timeout > 3600000)
		xusage(usage, "--timeout is in milliseconds, at most 3600000");
	xvkey(so->vkey, so->vkey_file, v);
	xbox_pub(so->box, box);
	if (so->schemas == NULL)
		so->schemas = default_schemas_dir();
	*sch = xschemas_load(so->schemas);
}
