/*
 * appliance.c: the local supervisory commands' one way to open saksid's keys and ledger
 * and to write an access entry (supervisor.access.logged). It must never let a command
 * go on to reveal without a verified receipt, nor write two entries for one look.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "appliance.h"
#include "cli.h"
#include "client.h"
#include "query.h"
#include "schema.h"
#include "wire.h"

#define ACCESS_TYPE "supervisor.access.logged"
#define ACCESS_RETRY_MS 10000   /* the wait for a resent access entry's answer */
#define ACCESS_PROBE_MS 2000    /* the wait for saksid's status before a resend */
#define ACCESS_ATTEMPTS 5

void
appliance_open(struct appliance *x, const char *config, const char *no_index)
{
	char err[512] = "", *slots, *master;
	saksi_err e;

	memset(x, 0, sizeof(*x));
	x->config = config;
	if ((e = saksid_config_load(config, &x->cf, err, sizeof(err))) != SAKSI_OK)
		xdie("%s", err[0] != '\0' ? err : saksi_strerror(e));
	if (no_index != NULL) {
		saksi_seckey *ik;

		if (x->cf.cf_index_key == NULL)
			xdie("%s has no index_key: %s", config, no_index);
		ik = xseckey_load(x->cf.cf_index_key, NULL);
		if (saksi_seckey_kind(ik) != SAKSI_KEY_SYM)
			xdie("index_key %s is not a symmetric key", x->cf.cf_index_key);
		e = saksi_blind_new(saksi_seckey_sym(ik), &x->blind);
		saksi_seckey_free(ik);
		if (e != SAKSI_OK)
			xdie_err(e, "cannot use the index key");
	}
	x->store = xseckey_load(x->cf.cf_store_key, NULL);
	if (saksi_seckey_kind(x->store) != SAKSI_KEY_SYM)
		xdie("store_key %s is not a symmetric key", x->cf.cf_store_key);
	x->ledger_dir = xmalloc(strlen(x->cf.cf_state_dir) + sizeof("/ledger"));
	sprintf(x->ledger_dir, "%s/ledger", x->cf.cf_state_dir);
	x->l = xledger_open_ro(x->ledger_dir);
	/* The data keys as saksid keeps them: slots beside data.mdb, the master in
	 * state_dir. Neither there: a ledger from before per-participant keys. */
	slots = xmalloc(strlen(x->ledger_dir) + sizeof("/datakeys"));
	master = xmalloc(strlen(x->cf.cf_state_dir) + sizeof("/datakeys.master"));
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

void
appliance_close(struct appliance *x)
{
	saksi_keyring_free(x->kr);
	saksi_ledger_close(x->l);
	saksi_dk_close(x->dk);
	saksi_seckey_free(x->store);
	saksi_blind_free(x->blind);
	free(x->ledger_dir);
	saksid_config_free(&x->cf);
	memset(x, 0, sizeof(*x));
}

void
appliance_index(struct appliance *x, saksi_ledger_txn *txn, MDB_dbi *dbi, uint64_t *upto)
{
	saksi_err e;

	e = saksi_query_index(txn, x->blind, dbi, upto);
	if (e == SAKSI_ERR_NOT_FOUND)
		xdie("ledger %s has no indexes yet: saksid makes them when it starts with an "
		    "index_key", x->ledger_dir);
	if (e == SAKSI_ERR_KEY)
		xdie("the indexes of %s were made with another index key than %s: restart "
		    "saksid with this key to rebuild them", x->ledger_dir, x->cf.cf_index_key);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot read the indexes of %s", x->ledger_dir);
}

saksi_keyring *
appliance_keyring(struct appliance *x)
{
	if (x->kr == NULL)
		x->kr = xkeyring_load(x->cf.cf_keyring);
	return x->kr;
}

/* The entry's payload, signed as it is: the branch is the key's (KP-PUSAT for "*"). */
static char *
access_payload(const struct access_entry *a, const saksi_keyring_entry *ke,
               const char *hex)
{
	char *payload;
	json_t *p;

	p = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:b}", "branch",
	    strcmp(ke->ke_branch, "*") == 0 ? "KP-PUSAT" : ke->ke_branch, "key_id", hex,
	    "command", a->command, "filter", a->filter, "personal_filter",
	    a->personal_filter, "results", (json_int_t)a->results, "revealed", a->revealed);
	if (p == NULL || json_object_set_new(p, "participants",
	    json_integer((json_int_t)a->participants)) != 0)
		xdie("out of memory");
	if (a->case_ref != NULL &&
	    json_object_set_new(p, "case_ref", json_string(a->case_ref)) != 0)
		xdie("out of memory");
	payload = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(p);
	if (payload == NULL)
		xdie("out of memory");
	return payload;
}

static saksi_ledger_txn *
begin_or_die(struct appliance *x)
{
	saksi_ledger_txn *txn;
	saksi_err e;

	if ((e = saksi_ledger_begin(x->l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read the ledger");
	return txn;
}

static void
connect_or_die(const struct access_entry *a, const saksi_client_opts *co,
               saksi_client **cl)
{
	saksi_err e;

	if ((e = saksi_client_open(co, cl)) == SAKSI_OK)
		return;
	if (a->say_on_connect)
		xdie_err(e, "cannot connect to saksid at %s: %s", co->co_url, a->withheld);
	xdie_err(e, "cannot connect to saksid at %s", co->co_url);
}

/*
 * Before a resend: is saksid there at all? A lost answer from a busy saksid is worth
 * resending (the same bytes), a saksid that is down is not: its status (op 6) within
 * ACCESS_PROBE_MS, or the caller's timeout if longer, tells them apart, so that a
 * command against a stopped saksid fails in seconds rather than after every resend.
 */
static void
probe_or_die(const struct access_entry *a, const saksi_client_opts *co, const char *url)
{
	saksi_client_opts po = *co;
	saksi_client *pc;
	char *json = NULL;
	size_t len = 0;
	saksi_err e;

	if (po.co_timeout_ms < ACCESS_PROBE_MS)
		po.co_timeout_ms = ACCESS_PROBE_MS;
	connect_or_die(a, &po, &pc);
	e = saksi_client_status(pc, &json, &len);
	saksi_client_close(pc);
	free(json);
	if (e != SAKSI_OK)
		xdie_err(e, "saksid at %s does not answer: %s", url, a->withheld);
}

uint64_t
appliance_log_access(struct appliance *x, const struct access_entry *a,
                     const saksi_seckey *sk, saksi_note_verifier *vout)
{
	char err[512] = "", *payload, *vkey = NULL, hex[2 * SAKSI_KEYID_LEN + 1];
	const saksi_keyring_entry *ke;
	saksi_keyring *kr = appliance_keyring(x);
	saksi_schemas *sc;
	saksi_note_verifier v;
	saksi_pubkey box;
	saksi_client_opts co;
	saksi_client *cl;
	saksi_event ev;
	saksi_result res;
	saksi_ledger_txn *txn;
	uint64_t last = 0, seq = 0, index;
	saksi_err e;
	const char *url = a->url;

	ke = saksi_keyring_find(kr, saksi_seckey_id(sk));
	keyid_to_hex(saksi_seckey_id(sk), hex);
	if (ke == NULL)
		xfail("key %s (-k %s) is not in the keyring %s: a supervisor's key must be "
		    "(saksi keyring add --role supervisor)", hex, a->key_path, x->cf.cf_keyring);
	if (!saksi_keyring_role_allows(kr, ke->ke_role, ACCESS_TYPE))
		xfail("key %s has role %s, which may not sign %s: use a supervisor's key",
		    ke->ke_name, ke->ke_role, ACCESS_TYPE);
	payload = access_payload(a, ke, hex);

	if ((e = saksi_schemas_load(x->cf.cf_schemas_dir, &sc, err, sizeof(err))) != SAKSI_OK)
		xdie("schemas %s: %s", x->cf.cf_schemas_dir, err[0] ? err : saksi_strerror(e));
	if (!saksi_schemas_has(sc, ACCESS_TYPE))
		xdie("the schemas in %s lack %s: install this version's schemas",
		    x->cf.cf_schemas_dir, ACCESS_TYPE);
	xpubkey_any(x->cf.cf_box_key, NULL, &box);
	txn = begin_or_die(x);
	e = saksi_ledger_meta(txn, "vkey", &vkey);
	saksi_ledger_abort(txn);
	if (e != SAKSI_OK || saksi_note_vkey_parse(vkey, &v) != SAKSI_OK)
		xdie("ledger %s has no usable verifier key", x->ledger_dir);
	free(vkey);
	if (url == NULL) {
		if (x->cf.cf_nlisten == 0)
			xdie("%s listens nowhere: give --url", x->config);
		url = x->cf.cf_listen[0];
	}
	memset(&co, 0, sizeof(co));
	co.co_url = url;
	co.co_key = sk;
	co.co_box_pk = box.pk_key;
	co.co_log = &v;
	co.co_schemas = sc;
	co.co_timeout_ms = a->timeout_ms;
	connect_or_die(a, &co, &cl);
	memset(&ev, 0, sizeof(ev));
	for (int attempt = 0, resend = 0;; attempt++) {
		if (resend) {
			/* The answer was lost, perhaps not the entry: the same seq and time give
			 * the same bytes, which saksid answers DUPLICATE if it committed them,
			 * rather than a second access entry. Waits longer than the first try. */
			saksi_client_close(cl);
			probe_or_die(a, &co, url);
			if (co.co_timeout_ms > 0 && co.co_timeout_ms < ACCESS_RETRY_MS)
				co.co_timeout_ms = ACCESS_RETRY_MS;
			connect_or_die(a, &co, &cl);
			fprintf(stderr, "saksi: no answer for the access entry; sending it again "
			    "(seq %" PRIu64 ")\n", seq);
			resend = 0;
		} else {
			/* A new entry (first try, or after REPLAY/EQUIVOCATION): a sequence above
			 * the key's last, and above any earlier run's (time-based). */
			txn = begin_or_die(x);
			e = saksi_ledger_seq_last(txn, saksi_seckey_id(sk), &last);
			saksi_ledger_abort(txn);
			if (e != SAKSI_OK)
				xdie_err(e, "cannot read the ledger");
			seq = now_ms() * 1000;
			if (seq <= last)
				seq = last + 1;
			ev.se_type = ACCESS_TYPE;
			ev.se_payload = payload;
			ev.se_seq = seq;
			ev.se_time_ms = now_ms();
		}
		memset(&res, 0, sizeof(res));
		e = saksi_client_submit(cl, &ev, 1, &res);
		if (e == SAKSI_ERR_PROOF)
			xfail("saksid's receipt for the access entry does not verify: %s",
			    a->withheld);
		if ((e == SAKSI_ERR_TIMEOUT || e == SAKSI_ERR_NET) &&
		    attempt < ACCESS_ATTEMPTS - 1) {
			saksi_result_clear(&res);
			resend = 1;
			continue;
		}
		if (e != SAKSI_OK)
			xdie_err(e, "the access entry could not be written to saksid at %s: %s",
			    url, a->withheld);
		if (res.sr_code == SAKSI_R_ACCEPTED || res.sr_code == SAKSI_R_DUPLICATE)
			break;
		if ((res.sr_code != SAKSI_R_REPLAY && res.sr_code != SAKSI_R_EQUIVOCATION) ||
		    attempt == ACCESS_ATTEMPTS - 1)
			xfail("saksid refused the access entry (%s): %s; %s",
			    saksi_reason_name(res.sr_code), res.sr_message, a->withheld);
		saksi_result_clear(&res);
	}
	index = res.sr_index;
	fprintf(stderr, "saksi: access logged as entry %" PRIu64 "\n", index);
	saksi_result_clear(&res);
	saksi_client_close(cl);
	saksi_schemas_free(sc);
	free(payload);
	if (vout != NULL)
		*vout = v;
	return index;
}
