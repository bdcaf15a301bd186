/*
 * remote.c: op 0x07 in saksid (remote.h): a supervisor's signed query, checked in the
 * order of FORMATS.md 3.4, run on the indexes and sealed to him. It never logs or
 * returns a personal value, and a refused request leaves nothing behind but its nonce.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "envelope.h"
#include "query.h"
#include "remote.h"
#include "remoteq.h"
#include "reveal.h"
#include "wire.h"

#define ACCESS_TYPE "supervisor.access.logged"

struct nonce {
	uint8_t n_key[SAKSI_KEYID_LEN];
	uint8_t n_nonce[SAKSI_RQ_NONCE_LEN];
	uint64_t n_time_ms;
};

struct saksid_remote {
	saksid_remote_opts q_o;
	MDB_dbi q_dbi;
	uint8_t q_box_pk[32];
	pthread_mutex_t q_mu;        /* q_o.ro_dk and the nonces */
	struct nonce *q_nonces;
	size_t q_n;
};

saksi_err
saksid_remote_new(const saksid_remote_opts *o, saksid_remote **out, uint64_t *last_seq)
{
	saksid_remote *q;
	saksi_ledger_txn *txn;
	saksi_pubkey pub;
	saksi_err e;

	*out = NULL;
	if (o == NULL || o->ro_ledger == NULL || o->ro_keyring == NULL || o->ro_blind == NULL ||
	    o->ro_store_key == NULL || o->ro_box_key == NULL || o->ro_log_key == NULL ||
	    o->ro_access_key == NULL || saksi_seckey_kind(o->ro_box_key) != SAKSI_KEY_BOX ||
	    saksi_seckey_kind(o->ro_log_key) != SAKSI_KEY_SIGN ||
	    saksi_seckey_kind(o->ro_access_key) != SAKSI_KEY_SIGN ||
	    saksi_seckey_kind(o->ro_store_key) != SAKSI_KEY_SYM)
		return SAKSI_ERR_INVAL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return SAKSI_ERR_NOMEM;
	q->q_o = *o;
	if (q->q_o.ro_max_age_ms == 0)
		q->q_o.ro_max_age_ms = SAKSI_RQ_MAX_AGE_MS_DEFAULT;
	if ((e = saksi_seckey_public(o->ro_box_key, &pub)) != SAKSI_OK) {
		free(q);
		return e;
	}
	memcpy(q->q_box_pk, pub.pk_key, 32);
	if ((q->q_nonces = calloc(SAKSID_REMOTE_NONCES_MAX, sizeof(*q->q_nonces))) == NULL) {
		free(q);
		return SAKSI_ERR_NOMEM;
	}
	if ((e = saksi_ledger_begin(o->ro_ledger, 0, &txn)) != SAKSI_OK)
		goto fail;
	e = saksi_query_index(txn, o->ro_blind, &q->q_dbi, NULL);
	if (e == SAKSI_OK && last_seq != NULL)
		e = saksi_ledger_seq_last(txn, saksi_seckey_id(o->ro_access_key), last_seq);
	/* Committed, not aborted: the database handle stays open for the environment. */
	if (e == SAKSI_OK)
		e = saksi_ledger_commit(txn);
	else
		saksi_ledger_abort(txn);
	if (e != SAKSI_OK)
		goto fail;
	pthread_mutex_init(&q->q_mu, NULL);
	*out = q;
	return SAKSI_OK;
fail:
	free(q->q_nonces);
	free(q);
	return e;
}

void
saksid_remote_free(saksid_remote *q)
{
	if (q == NULL)
		return;
	pthread_mutex_destroy(&q->q_mu);
	free(q->q_nonces);
	free(q);
}

void
saksid_remote_answer_clear(saksid_remote_answer *a)
{
	free(a->ra_reply);
	free(a->ra_access);
	free(a->ra_sealed);
	free(a->ra_branch);
	memset(a, 0, sizeof(*a));
}

__attribute__((format(printf, 3, 4))) static void
refuse(saksid_remote_answer *a, int status, const char *fmt, ...)
{
	va_list ap;

	a->ra_status = status;
	va_start(ap, fmt);
	vsnprintf(a->ra_msg, sizeof(a->ra_msg), fmt, ap);
	va_end(ap);
}

/*
 * The replay memory: (key, nonce) seen within the age bound. Requests older than the
 * bound are refused before they get here, so an entry older than it can go. Returns 0
 * (remembered now), 1 (seen: a replay), -1 (full).
 */
static int
remember(saksid_remote *q, const saksi_rq_request *rq, uint64_t now)
{
	size_t o = 0;
	int seen = 0;

	pthread_mutex_lock(&q->q_mu);
	for (size_t i = 0; i < q->q_n; i++) {
		struct nonce *n = &q->q_nonces[i];

		if (n->n_time_ms + q->q_o.ro_max_age_ms < now)
			continue;   /* out of the window: forgotten */
		if (memcmp(n->n_key, rq->rq_key_id, SAKSI_KEYID_LEN) == 0 &&
		    memcmp(n->n_nonce, rq->rq_nonce, SAKSI_RQ_NONCE_LEN) == 0)
			seen = 1;
		q->q_nonces[o++] = *n;
	}
	q->q_n = o;
	if (!seen && q->q_n == SAKSID_REMOTE_NONCES_MAX)
		seen = -1;
	if (seen == 0) {
		struct nonce *n = &q->q_nonces[q->q_n++];

		memcpy(n->n_key, rq->rq_key_id, SAKSI_KEYID_LEN);
		memcpy(n->n_nonce, rq->rq_nonce, SAKSI_RQ_NONCE_LEN);
		/* Kept until the request's own time leaves the window on either side. */
		n->n_time_ms = rq->rq_time_ms > now ? rq->rq_time_ms : now;
	}
	pthread_mutex_unlock(&q->q_mu);
	return seen;
}

/* Runs the spec and seals its rows for the requester into a. */
static void
run(saksid_remote *q, const saksi_query_spec *spec, const uint8_t requester_pk[32],
    saksid_remote_answer *a)
{
	saksi_query_ctx qc;
	saksi_query_result res;
	saksi_ledger_txn *txn;
	char *json = NULL;
	size_t jlen = 0;
	saksi_err e;

	memset(&res, 0, sizeof(res));
	if ((e = saksi_ledger_begin(q->q_o.ro_ledger, 0, &txn)) != SAKSI_OK) {
		refuse(a, SAKSI_R_UNAVAILABLE, "ledger error (%s); retry later", saksi_strerror(e));
		return;
	}
	/* Never silently partial: while the index catches up (FORMATS.md 7.4), no rows. */
	{
		uint64_t upto, size = saksi_ledger_size(txn);
		uint8_t check[8];

		e = saksi_index_state(saksi_ledger_txn_mdb(txn), q->q_dbi, &upto, check);
		if (e == SAKSI_OK && upto < size) {
			saksi_ledger_abort(txn);
			refuse(a, SAKSI_R_UNAVAILABLE, "the index covers entries below %" PRIu64
			    " of %" PRIu64 ": saksid is still indexing the rest (saksi status shows "
			    "how far); results withheld, retry when it has caught up", upto, size);
			return;
		}
		if (e != SAKSI_OK) {
			saksi_ledger_abort(txn);
			refuse(a, SAKSI_R_UNAVAILABLE, "the index cannot be read (%s); retry later",
			    saksi_strerror(e));
			return;
		}
	}
	qc.qc_txn = txn;
	qc.qc_dbi = q->q_dbi;
	qc.qc_store = q->q_o.ro_store_key;
	qc.qc_dk = q->q_o.ro_dk;
	pthread_mutex_lock(&q->q_mu);
	e = saksi_query_run(&qc, spec, &res);
	pthread_mutex_unlock(&q->q_mu);
	a->ra_size = saksi_ledger_size(txn);
	saksi_ledger_abort(txn);
	if (e == SAKSI_ERR_TOO_LARGE) {
		refuse(a, SAKSI_R_SIZE, spec->qs_timeline ? "the timeline has more than %u "
		    "entries: narrow it with since/until" : "more than %u entries in that time "
		    "range: add a filter or narrow it", spec->qs_timeline ?
		    SAKSI_QUERY_TIMELINE_MAX : SAKSI_INDEX_TIME_ONLY_MAX);
		goto out;
	}
	if (e != SAKSI_OK) {
		/* The entry and the error, never a value: run saksi verify on a copy. */
		refuse(a, SAKSI_R_UNAVAILABLE, "the query failed at entry %" PRIu64 " (%s); "
		    "results withheld", res.qr_fail_index, saksi_strerror(e));
		goto out;
	}
	a->ra_rows = res.qr_n;
	if (saksi_reveal_result(&res, &a->ra_participants) != SAKSI_OK) {
		refuse(a, SAKSI_R_UNAVAILABLE, "saksid is out of memory; retry later");
		goto out;
	}
	if ((e = saksi_rq_result_json(&res, &json, &jlen)) != SAKSI_OK) {
		refuse(a, SAKSI_R_UNAVAILABLE, "saksid is out of memory; retry later");
		goto out;
	}
	e = saksi_rq_reply_seal(requester_pk, json, jlen, &a->ra_sealed, &a->ra_sealed_len);
	if (e == SAKSI_ERR_TOO_LARGE)
		refuse(a, SAKSI_R_SIZE, "%zu entries do not fit in one reply: lower the limit",
		    res.qr_n);
	else if (e != SAKSI_OK)
		refuse(a, SAKSI_R_UNAVAILABLE, "cannot seal the reply (%s)", saksi_strerror(e));
out:
	if (json != NULL) {
		sodium_memzero(json, jlen);
		free(json);
	}
	saksi_query_result_free(&res);
}

/* The access entry's payload (schemas/events/supervisor.access.logged.json). */
static char *
access_payload(const saksi_rq_request *rq, const saksi_keyring_entry *ke,
               const saksi_query_spec *spec, size_t rows, uint64_t participants)
{
	char filter[SAKSI_QUERY_FILTER_MAX + 1], hex[2 * SAKSI_KEYID_LEN + 1], *stored = NULL;
	char *text = NULL;
	json_t *p;

	if (saksi_query_filter_text(spec, filter, sizeof(filter)) != SAKSI_OK ||
	    saksi_rq_request_stored(rq, &stored) != SAKSI_OK)
		goto out;
	sodium_bin2hex(hex, sizeof(hex), rq->rq_key_id, SAKSI_KEYID_LEN);
	p = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:b, s:s}", "branch",
	    strcmp(ke->ke_branch, "*") == 0 ? "KP-PUSAT" : ke->ke_branch, "key_id", hex,
	    "command", spec->qs_timeline ? "timeline" : "query", "filter", filter,
	    "personal_filter", saksi_query_spec_personal(spec), "results", (json_int_t)rows,
	    "revealed", spec->qs_reveal, "request", stored);
	if (p != NULL)
		json_object_set_new(p, "participants", json_integer((json_int_t)participants));
	if (p == NULL)
		goto out;
	if (rq->rq_case_ref[0] != '\0')
		json_object_set_new(p, "case_ref", json_string(rq->rq_case_ref));
	text = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(p);
out:
	free(stored);
	return text;
}

/* The requester's key in kr: in it and not revoked at now, else NULL and a refused. */
static const saksi_keyring_entry *
key_find(const saksi_keyring *kr, const uint8_t id[SAKSI_KEYID_LEN], uint64_t now,
         saksid_remote_answer *a)
{
	const saksi_keyring_entry *ke;
	char hex[2 * SAKSI_KEYID_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), id, SAKSI_KEYID_LEN);
	if ((ke = saksi_keyring_find(kr, id)) == NULL) {
		refuse(a, SAKSI_R_UNKNOWN_KEY, "key %s is not in the keyring", hex);
		return NULL;
	}
	if (ke->ke_revoked_ms >= 0 && (uint64_t)ke->ke_revoked_ms <= now) {
		refuse(a, SAKSI_R_REVOKED_KEY, "key %s is revoked", hex);
		return NULL;
	}
	return ke;
}

/* What each role may see (FORMATS.md 3.4): 0, or -1 and a refused. */
static int
role_check(const saksi_keyring_entry *ke, const uint8_t id[SAKSI_KEYID_LEN], int reveal,
           saksid_remote_answer *a)
{
	char hex[2 * SAKSI_KEYID_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), id, SAKSI_KEYID_LEN);
	if (strcmp(ke->ke_role, "ombudsman") == 0) {
		refuse(a, SAKSI_R_ROLE, "key %s has role ombudsman: ombudsman keys get "
		    "checkpoints, proofs and entries (ops 2-5), never query rows", hex);
		return -1;
	}
	if (strcmp(ke->ke_role, "security") == 0 && reveal) {
		refuse(a, SAKSI_R_ROLE, "key %s has role security: it may query masked, never "
		    "reveal", hex);
		return -1;
	}
	if (strcmp(ke->ke_role, "supervisor") != 0 && strcmp(ke->ke_role, "security") != 0) {
		refuse(a, SAKSI_R_ROLE, "key %s has role %s: only supervisor and security keys "
		    "may query", hex, ke->ke_role);
		return -1;
	}
	return 0;
}

void
saksid_remote_handle(saksid_remote *q, const uint8_t *body, size_t len, uint64_t now,
                     saksid_remote_answer *a)
{
	saksid_remote_handle_kr(q, q->q_o.ro_keyring, body, len, now, a);
}

void
saksid_remote_handle_kr(saksid_remote *q, const saksi_keyring *kr, const uint8_t *body,
                        size_t len, uint64_t now, saksid_remote_answer *a)
{
	char tok[SAKSI_IX__COUNT][SAKSI_BLIND_TOKEN_LEN + 1], hex[2 * SAKSI_KEYID_LEN + 1];
	const saksi_keyring_entry *ke;
	saksi_rq_personal pp;
	saksi_rq_request rq;
	saksi_query_spec spec;
	const char *why;
	uint64_t age;
	int r;
	saksi_err e;

	memset(a, 0, sizeof(*a));
	memset(&pp, 0, sizeof(pp));
	memset(tok, 0, sizeof(tok));
	e = saksi_rq_request_parse(body, len, &rq);
	if (e == SAKSI_ERR_TOO_LARGE) {
		refuse(a, SAKSI_R_SIZE, "a query request is at most %u bytes",
		    SAKSI_RQ_REQUEST_MAX);
		return;
	}
	if (e != SAKSI_OK) {
		refuse(a, SAKSI_R_PARSE, e == SAKSI_ERR_VERSION ? "unknown query request "
		    "version" : "malformed query request");
		return;
	}
	if ((ke = key_find(kr, rq.rq_key_id, now, a)) == NULL)
		return;
	sodium_bin2hex(hex, sizeof(hex), rq.rq_key_id, SAKSI_KEYID_LEN);
	if (saksi_rq_request_verify(&rq, ke->ke_pub.pk_key) != SAKSI_OK) {
		refuse(a, SAKSI_R_SIGNATURE, "the request's signature does not verify with key %s",
		    hex);
		return;
	}
	if (role_check(ke, rq.rq_key_id, rq.rq_reveal, a) != 0)
		return;
	age = rq.rq_time_ms > now ? rq.rq_time_ms - now : now - rq.rq_time_ms;
	if (age > q->q_o.ro_max_age_ms) {
		refuse(a, SAKSI_R_CLOCK_SKEW, "the request's time is %" PRIu64 " ms %s saksid's "
		    "clock (at most %" PRIu64 "): sign a new one", age, rq.rq_time_ms > now ?
		    "ahead of" : "behind", q->q_o.ro_max_age_ms);
		return;
	}
	/* saksid's memory of requests starts when it starts. */
	if (rq.rq_time_ms < q->q_o.ro_started_ms) {
		refuse(a, SAKSI_R_REPLAY, "the request was signed before saksid started: sign a "
		    "new one");
		return;
	}
	if ((r = remember(q, &rq, now)) != 0) {
		if (r > 0)
			refuse(a, SAKSI_R_REPLAY, "this request was already answered: sign a new "
			    "one");
		else
			refuse(a, SAKSI_R_BUSY, "too many queries in the last %" PRIu64 " ms; retry "
			    "after 1000 ms", q->q_o.ro_max_age_ms);
		return;
	}
	e = saksi_rq_personal_open(&rq, q->q_box_pk, saksi_seckey_x25519(q->q_o.ro_box_key),
	    &pp);
	if (e != SAKSI_OK) {
		refuse(a, SAKSI_R_PARSE, e == SAKSI_ERR_DECRYPT ? "the sealed filters do not open "
		    "with this appliance's box key" : "the sealed filters are malformed");
		return;
	}
	for (int f = SAKSI_IX_NIK; f <= SAKSI_IX_IP; f++) {
		if (pp.pp_value[f] == NULL)
			continue;
		e = saksi_query_blind(q->q_o.ro_blind, (saksi_index_field)f, pp.pp_value[f],
		    tok[f]);
		if (e != SAKSI_OK) {
			/* The value is never echoed: it is what is being protected. */
			refuse(a, SAKSI_R_SCHEMA, "%s: not a valid %s (see RULES.md 1.1)",
			    saksi_index_field_name((saksi_index_field)f),
			    saksi_blind_kind_name(saksi_index_field_kind((saksi_index_field)f)));
			saksi_rq_personal_free(&pp);
			sodium_memzero(tok, sizeof(tok));
			return;
		}
	}
	saksi_rq_personal_free(&pp);
	saksi_rq_spec(&rq, (const char (*)[SAKSI_BLIND_TOKEN_LEN + 1])tok, &spec);
	spec.qs_branch = ke->ke_branch;   /* a branch's key sees its branch (FORMATS.md 3.4) */
	if (saksi_query_spec_check(&spec, &why) != SAKSI_OK) {
		refuse(a, SAKSI_R_SCHEMA, "%s", why);
		goto out;
	}
	saksi_rq_request_hash(body, len, a->ra_hash);
	run(q, &spec, ke->ke_pub.pk_key, a);
	if (a->ra_status != 0)
		goto out;
	if (saksi_query_spec_personal(&spec) || spec.qs_reveal) {
		/* Fail closed: these rows leave only after this entry is committed, and
		 * only to a key the keyring in force then still allows them (a reload may
		 * come in between: saksid_remote_recheck). */
		memcpy(a->ra_key_id, rq.rq_key_id, SAKSI_KEYID_LEN);
		memcpy(a->ra_pub, ke->ke_pub.pk_key, sizeof(a->ra_pub));
		a->ra_reveal = spec.qs_reveal;
		if ((a->ra_branch = strdup(ke->ke_branch)) == NULL ||
		    (a->ra_access = access_payload(&rq, ke, &spec, a->ra_rows,
		    a->ra_participants)) == NULL) {
			saksid_remote_answer_clear(a);
			refuse(a, SAKSI_R_UNAVAILABLE, "cannot make the access entry; results "
			    "withheld");
		}
		goto out;
	}
	e = saksi_rq_reply_make(q->q_o.ro_log_key, a->ra_hash, UINT64_MAX, a->ra_size,
	    a->ra_sealed, a->ra_sealed_len, &a->ra_reply, &a->ra_reply_len);
	if (e != SAKSI_OK) {
		saksid_remote_answer_clear(a);
		refuse(a, SAKSI_R_UNAVAILABLE, "cannot sign the reply (%s)", saksi_strerror(e));
	}
out:
	sodium_memzero(tok, sizeof(tok));
}

saksi_err
saksid_remote_envelope(const saksid_remote *q, const saksid_remote_answer *a, uint64_t seq,
                       uint64_t time_ms, uint8_t *env, size_t cap, size_t *len)
{
	if (q == NULL || a == NULL || a->ra_access == NULL || env == NULL || len == NULL)
		return SAKSI_ERR_INVAL;
	return saksi_envelope_sign(q->q_o.ro_access_key, seq, time_ms, ACCESS_TYPE,
	    (const uint8_t *)a->ra_access, strlen(a->ra_access), env, cap, len);
}

saksi_err
saksid_remote_finish(const saksid_remote *q, const saksid_remote_answer *a,
                     uint64_t access_index, uint8_t **out, size_t *len)
{
	if (q == NULL || a == NULL || a->ra_sealed == NULL || out == NULL || len == NULL)
		return SAKSI_ERR_INVAL;
	return saksi_rq_reply_make(q->q_o.ro_log_key, a->ra_hash, access_index, a->ra_size,
	    a->ra_sealed, a->ra_sealed_len, out, len);
}

int
saksid_remote_recheck(const saksi_keyring *kr, saksid_remote_answer *a, uint64_t now)
{
	const saksi_keyring_entry *ke;
	char hex[2 * SAKSI_KEYID_LEN + 1];

	if (a == NULL)
		return -1;
	/* Not a personal look's answer, or no keyring: nothing may be released (fail
	 * closed: the caller writes no access entry for a refused answer). */
	if (kr == NULL || a->ra_access == NULL || a->ra_branch == NULL) {
		if (a->ra_status == 0)
			refuse(a, SAKSI_R_UNAVAILABLE, "cannot check the request again; results "
			    "withheld");
		return -1;
	}
	if ((ke = key_find(kr, a->ra_key_id, now, a)) == NULL ||
	    role_check(ke, a->ra_key_id, a->ra_reveal, a) != 0)
		return -1;
	sodium_bin2hex(hex, sizeof(hex), a->ra_key_id, SAKSI_KEYID_LEN);
	/* Cannot happen (a key id is derived from its public key), but the rows are sealed
	 * to the key the request was checked with. */
	if (sodium_memcmp(ke->ke_pub.pk_key, a->ra_pub, sizeof(a->ra_pub)) != 0) {
		refuse(a, SAKSI_R_SIGNATURE, "key %s changed while its query ran: sign a new "
		    "request", hex);
		return -1;
	}
	/* The rows were chosen by the old branch. */
	if (strcmp(ke->ke_branch, a->ra_branch) != 0) {
		refuse(a, SAKSI_R_BRANCH, "key %s now has branch %s (a keyring reload changed "
		    "it while its query ran): sign a new request", hex, ke->ke_branch);
		return -1;
	}
	return 0;
}
