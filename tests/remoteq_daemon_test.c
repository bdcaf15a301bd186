/*
 * remoteq_daemon_test.c: remote supervisors' queries (wire op 7, FORMATS.md 3.4) against
 * the real saksid over real sockets (tcp:// and ipc://): masked and revealed queries and
 * timelines, the access entry in the ledger before the reply, the roles (supervisor,
 * security, ombudsman), unknown, revoked, forged, replayed, stale and malformed
 * requests (each refused with its reason, nothing appended), the supervisor rules on
 * remote reveals, `saksi query/timeline --remote`, and the bytes on the wire (captured by
 * a relay) holding none of the personal values the test wrote.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "ingest.h"
#include "bytes.h"
#include "daemon_fixture.h"
#include "daemon_run.h"
#include "envelope.h"
#include "query.h"
#include "remoteq.h"
#include "wire.h"

#define NPART 3
#define NEVENTS 210

enum { K_ACCESS, K_SP, K_SP2, K_SEC, K_OMB, K_REV, K_CLAIM, K_MKS, K_JKT, K_UNK, K_N };
static const char *const key_names[K_N] = { "access", "sp", "sp2", "sec", "omb", "rev",
	"claim", "sp-makassar", "sp-jakarta", "unk" };

static struct dr sd;
static saksi_seckey *keys[K_N];
static char tcp_url[64];
static char keypath[K_N][DR_NAME_LEN], boxpub[300];
static int tcp_port;
/* The participants' personal values: none may cross the wire in clear. */
static char nik[NPART][17], phone[NPART][16], kpj[NPART][12], email[NPART][40];
static char account[NPART][24], holder[NPART][40];
/* Per participant: bookings (with e-mail) and all his events (a claim too). */
static size_t nbook[NPART], nevents[NPART];

static void
hex_of(const saksi_seckey *k, char hex[17])
{
	sodium_bin2hex(hex, 17, saksi_seckey_id(k), 8);
}

/* fx's keyring with the supervisors', security's and the ombudsman's keys; fx.kr parsed
 * again from it (the access checks and the verifier read it). */
static void
keyring(void)
{
	static const char *const role[K_N] = { "supervisor", "supervisor", "supervisor",
		"security", "ombudsman", "supervisor", "claim", "supervisor", "supervisor", NULL };

	for (int i = 0; i < K_N; i++)
		if (role[i] != NULL)   /* the unknown key is in none */
			dr_keyring_add(&sd.fx, keys[i], key_names[i], role[i],
			    i == K_MKS ? FX_BRANCH : i == K_JKT ? "KC-JAKARTA" : "*",
			    i == K_REV ? 1000 : 0);
	saksi_keyring_free(sd.fx.kr);
	assert_int_equal(saksi_keyring_parse(sd.fx.keyring_json, strlen(sd.fx.keyring_json),
	    &sd.fx.kr, NULL, 0), SAKSI_OK);
}

static uint64_t
ledger_size(void)
{
	return dr_ledger_size(sd.ledger_dir);
}

/* The payload of the event at index (read-only open while saksid runs); *signer its key. */
static json_t *
event_at(uint64_t index, uint8_t signer[8], char type[SAKSI_TYPE_MAX + 1])
{
	saksi_ledger *l;
	saksi_ledger_txn *t;
	uint8_t *leaf;
	size_t len;
	saksi_leaf lf;
	saksi_envelope ev;
	json_t *p;

	l = lf_open_ro(sd.ledger_dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(t, index, &leaf, &len), SAKSI_OK);
	assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
	assert_int_equal(lf.lf_kind, SAKSI_LEAF_EVENT);
	assert_int_equal(saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &ev), SAKSI_OK);
	memcpy(signer, ev.ev_key_id, 8);
	snprintf(type, SAKSI_TYPE_MAX + 1, "%s", ev.ev_type);
	p = json_loadb((const char *)ev.ev_payload, ev.ev_payload_len, 0, NULL);
	assert_non_null(p);
	free(leaf);
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	return p;
}

static void
submit_events(void)
{
	saksi_client *c;
	saksi_event ev[NEVENTS];
	saksi_result res[NEVENTS];
	char *payload[NEVENTS], bk[NEVENTS][32], dev[NPART][32];
	uint64_t now = wall_ms();

	for (int p = 0; p < NPART; p++) {
		/* Valid shapes (RULES.md 1.1), different per seed. */
		snprintf(nik[p], sizeof(nik[p]), "73710%06u%05u", (unsigned)(sd.fx.seed % 1000000),
		    (unsigned)(10001 + p));
		snprintf(phone[p], sizeof(phone[p]), "+62812%08u",
		    (unsigned)((sd.fx.seed + (uint64_t)p * 7919) % 100000000));
		snprintf(kpj[p], sizeof(kpj[p]), "18%09u", (unsigned)((sd.fx.seed + (uint64_t)p) %
		    1000000000));
		snprintf(email[p], sizeof(email[p]), "peserta%u.%u@example.id", (unsigned)p,
		    (unsigned)(sd.fx.seed % 100000));
		snprintf(dev[p], sizeof(dev[p]), "web-%016llx",
		    (unsigned long long)(sd.fx.seed + p));
		snprintf(account[p], sizeof(account[p]), "0234%011u",
		    (unsigned)((sd.fx.seed * 31 + (uint64_t)p) % 100000000000ULL % 4000000000u));
		snprintf(holder[p], sizeof(holder[p]), "PESERTA %c%c UJI", 'A' + p,
		    'A' + (int)(sd.fx.seed % 26));
	}
	dr_client_open(&sd, sd.fx.prod[FX_QUEUE], &c);
	for (size_t i = 0; i < NEVENTS; i++) {
		/* Participant 0 has most of the day; 1 and 2 a few each. */
		size_t p = i % 10 == 1 ? 1 : i % 10 == 2 ? 2 : 0;
		const char *set[] = { "nik", nik[p], "phone", phone[p], "kpj", kpj[p], "email",
			email[p], "device_id", dev[p], "booking_id", bk[i], "name", holder[p],
			NULL };

		snprintf(bk[i], sizeof(bk[i]), "BK-RQ-%05zu", i);
		payload[i] = fx_payload("queue.booking.created", set);
		ev[i].se_type = "queue.booking.created";
		ev[i].se_payload = payload[i];
		ev[i].se_seq = i + 1;
		ev[i].se_time_ms = now - NEVENTS + i;
		nevents[p]++;
		nbook[p]++;
	}
	memset(res, 0, sizeof(res));
	assert_int_equal(saksi_client_submit(c, ev, NEVENTS, res), SAKSI_OK);
	for (size_t i = 0; i < NEVENTS; i++) {
		assert_int_equal(res[i].sr_code, SAKSI_R_ACCEPTED);
		saksi_result_clear(&res[i]);
		free(payload[i]);
	}
	saksi_client_close(c);

	/* One claim each, paid into an account, on one of the participant's bookings. */
	dr_client_open(&sd, keys[K_CLAIM], &c);
	for (size_t p = 0; p < NPART; p++) {
		char claim[32];
		const char *set[] = { "nik", nik[p], "phone", phone[p], "kpj", kpj[p], "name",
			holder[p], "account_holder", holder[p], "bank_account", account[p], "npwp",
			"012345678901234", "claim_id", claim, "booking_id", bk[p == 0 ? 0 : p],
			NULL };

		snprintf(claim, sizeof(claim), "CL-RQ-%zu", p);
		payload[p] = fx_payload("claim.submitted", set);
		ev[p].se_type = "claim.submitted";
		ev[p].se_payload = payload[p];
		ev[p].se_seq = p + 1;
		ev[p].se_time_ms = now + p;
		nevents[p]++;
	}
	memset(res, 0, sizeof(res));
	assert_int_equal(saksi_client_submit(c, ev, NPART, res), SAKSI_OK);
	for (size_t p = 0; p < NPART; p++) {
		assert_int_equal(res[p].sr_code, SAKSI_R_ACCEPTED);
		saksi_result_clear(&res[p]);
		free(payload[p]);
	}
	saksi_client_close(c);
}

static int
group_setup(void **state)
{
	char path[300];

	(void)state;
	dr_setup(&sd, 0);
	for (int i = 0; i < K_N; i++) {
		char label[32], file[32];

		snprintf(label, sizeof(label), "remoteq-%s", key_names[i]);
		snprintf(file, sizeof(file), "%s.key", key_names[i]);
		keys[i] = dr_new_key(&sd.fx, label, file, keypath[i]);
	}
	keyring();
	dr_save_keys(&sd.fx, DR_INDEX_KEY | DR_KEYRING | DR_BOX_PUB);
	snprintf(boxpub, sizeof(boxpub), "%s/box.pub", sd.fx.dir);
	tcp_port = dr_free_port();
	snprintf(tcp_url, sizeof(tcp_url), "tcp://127.0.0.1:%d", tcp_port);
	snprintf(path, sizeof(path), "%s/access.key", sd.fx.dir);
	dr_write_conf(sd.conf, "listen = %s\nindex_key = index.key\naccess_key = access.key\n"
	    "rules = %s/schemas/rules/default.rules\nworkers = 2\nmap_size_mb = 256\n",
	    tcp_url, SAKSI_SOURCE_DIR);
	dr_start(&sd);
	submit_events();
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < K_N; i++)
		saksi_seckey_free(keys[i]);
	dr_teardown(&sd);
	return 0;
}

/* ---- one request, by the library ---- */

struct ask {
	int status;
	char msg[256];
	uint64_t access, size;
	saksi_query_result res;
};

static void
params(saksi_rq_params *p, int command, uint32_t limit, int reveal)
{
	memset(p, 0, sizeof(*p));
	p->rp_command = command;
	p->rp_limit = limit;
	p->rp_reveal = reveal;
	p->rp_time_ms = wall_ms();
}

static void
send_raw(const char *url, const uint8_t *req, size_t len, const saksi_seckey *k,
         struct ask *a)
{
	uint8_t *body = NULL, hash[32];
	size_t blen, jlen;
	char *json = NULL;

	memset(a, 0, sizeof(*a));
	saksi_rq_request_hash(req, len, hash);
	assert_int_equal(saksi_rq_exchange(url, 60000, req, len, &a->status, &body, &blen),
	    SAKSI_OK);
	if (a->status != 0) {
		snprintf(a->msg, sizeof(a->msg), "%s", (char *)body);
		free(body);
		return;
	}
	assert_int_equal(saksi_rq_reply_open(body, blen, sd.fx.v.nv_pk, hash, k, &a->access,
	    &a->size, &json, &jlen), SAKSI_OK);
	free(body);
	assert_int_equal(saksi_rq_result_parse(json, jlen, &a->res), SAKSI_OK);
	sodium_memzero(json, jlen);
	free(json);
}

static void
ask(const char *url, int who, const saksi_rq_params *p, struct ask *a)
{
	uint8_t *req;
	size_t len;

	assert_int_equal(saksi_rq_request_make(keys[who], sd.fx.box_pub.pk_key, p, &req, &len),
	    SAKSI_OK);
	send_raw(url, req, len, keys[who], a);
	free(req);
}

/* The access entry at index: saksid's, for key who, as the reply said. */
static void
check_access(uint64_t index, int who, int revealed, size_t results, const char *command,
             json_int_t participants)
{
	uint8_t signer[8];
	char type[SAKSI_TYPE_MAX + 1], hex[17];
	json_t *p = event_at(index, signer, type);

	assert_string_equal(type, "supervisor.access.logged");
	assert_memory_equal(signer, saksi_seckey_id(keys[K_ACCESS]), 8);
	hex_of(keys[who], hex);
	assert_string_equal(json_string_value(json_object_get(p, "key_id")), hex);
	assert_string_equal(json_string_value(json_object_get(p, "command")), command);
	assert_int_equal(json_is_true(json_object_get(p, "revealed")), revealed);
	assert_int_equal(json_integer_value(json_object_get(p, "results")), (json_int_t)results);
	assert_true(json_is_integer(json_object_get(p, "participants")));
	assert_int_equal(json_integer_value(json_object_get(p, "participants")), participants);
	assert_non_null(json_object_get(p, "request"));
	assert_int_equal(saksi_rq_access_check(p, sd.fx.kr, NULL), SAKSI_OK);
	/* No clear personal value in the entry: tokens only. */
	{
		char *text = json_dumps(p, JSON_COMPACT);

		for (int i = 0; i < NPART; i++) {
			assert_null(strstr(text, nik[i]));
			assert_null(strstr(text, phone[i]));
		}
		free(text);
	}
	json_decref(p);
}

static void
expect_refused(const char *url, int who, const saksi_rq_params *p, int status,
               const char *part)
{
	struct ask a;
	uint64_t before = ledger_size();

	ask(url, who, p, &a);
	if (a.status != status || strstr(a.msg, part) == NULL)
		fail_msg("wanted status %d with \"%s\", got %d: %s", status, part, a.status, a.msg);
	assert_int_equal(ledger_size(), before);
}

static void
test_plain_masked(void **state)
{
	saksi_rq_params p;
	struct ask a;
	uint64_t before = ledger_size();

	(void)state;
	params(&p, SAKSI_RQ_QUERY, 5, 0);
	p.rp_value[SAKSI_IX_BRANCH] = FX_BRANCH;
	p.rp_value[SAKSI_IX_TYPE] = "queue.booking.created";
	ask(tcp_url, K_SP, &p, &a);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.access, UINT64_MAX);   /* no personal look: no access entry */
	assert_int_equal(a.res.qr_n, 5);
	assert_int_equal(a.res.qr_more, 1);
	assert_non_null(strstr(a.res.qr_rows[0].qr_personal, "nik=7371"));
	assert_non_null(strstr(a.res.qr_rows[0].qr_personal, "****"));
	for (size_t i = 0; i < a.res.qr_n; i++)
		for (int k = 0; k < NPART; k++)
			assert_null(strstr(a.res.qr_rows[i].qr_personal, nik[k]));
	/* The next page. */
	p.rp_after = a.res.qr_rows[4].qr_index;
	p.rp_has_after = 1;
	saksi_query_result_free(&a.res);
	ask(tcp_url, K_SP, &p, &a);
	assert_int_equal(a.status, 0);
	assert_true(a.res.qr_rows[0].qr_index > p.rp_after);
	saksi_query_result_free(&a.res);
	assert_int_equal(ledger_size(), before);
}

static void
test_personal_and_reveal(void **state)
{
	saksi_rq_params p;
	struct ask a;
	saksi_verify_opts vo;
	saksi_verify_report vr;
	saksi_ledger *l;

	(void)state;
	/* By NIK, masked: logged. */
	params(&p, SAKSI_RQ_QUERY, 1000, 0);
	p.rp_value[SAKSI_IX_NIK] = nik[1];
	ask(tcp_url, K_SP, &p, &a);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.res.qr_n, nevents[1]);
	assert_true(a.access != UINT64_MAX);
	/* The entry is in the ledger when the reply is here: it came first. */
	assert_true(a.access >= a.size);
	assert_true(ledger_size() > a.access);
	check_access(a.access, K_SP, 0, nevents[1], "query", 0);
	for (size_t i = 0; i < a.res.qr_n; i++)
		assert_null(strstr(a.res.qr_rows[i].qr_personal, nik[1]));
	saksi_query_result_free(&a.res);

	/* Revealed, with a case reference, over ipc://. */
	params(&p, SAKSI_RQ_QUERY, 1000, 1);
	p.rp_value[SAKSI_IX_PHONE] = phone[2];
	p.rp_case_ref = "CASE-2026/17";
	ask(sd.url, K_SP, &p, &a);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.res.qr_n, nevents[2]);
	assert_int_equal(a.res.qr_revealed, 1);
	assert_non_null(strstr(a.res.qr_rows[0].qr_personal, nik[2]));
	assert_string_equal(json_string_value(json_object_get(a.res.qr_rows[0].qr_payload,
	    "phone")), phone[2]);
	check_access(a.access, K_SP, 1, nevents[2], "query", 1);
	saksi_query_result_free(&a.res);

	/* A timeline by KPJ. */
	params(&p, SAKSI_RQ_TIMELINE, 1000, 0);
	p.rp_value[SAKSI_IX_KPJ] = kpj[1];
	ask(tcp_url, K_SP, &p, &a);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.res.qr_n, nevents[1]);
	for (size_t i = 1; i < a.res.qr_n; i++)
		assert_true(a.res.qr_rows[i - 1].qr_time_ms <= a.res.qr_rows[i].qr_time_ms);
	check_access(a.access, K_SP, 0, nevents[1], "timeline", 0);
	saksi_query_result_free(&a.res);

	/* The whole ledger verifies, access entries included. */
	l = lf_open_ro(sd.ledger_dir);
	memset(&vo, 0, sizeof(vo));
	vo.vo_log = &sd.fx.v;
	vo.vo_keyring = sd.fx.kr;
	assert_int_equal(saksi_verify_ledger(l, &vo, &vr), SAKSI_OK);
	assert_int_equal(vr.vr_reason, SAKSI_V_OK);
	saksi_ledger_close(l);
}

static void
test_security(void **state)
{
	saksi_rq_params p;
	struct ask a;

	(void)state;
	params(&p, SAKSI_RQ_QUERY, 1000, 0);
	p.rp_value[SAKSI_IX_EMAIL] = email[2];
	ask(tcp_url, K_SEC, &p, &a);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.res.qr_n, nbook[2]);
	assert_null(strstr(a.res.qr_rows[0].qr_personal, nik[2]));
	check_access(a.access, K_SEC, 0, nbook[2], "query", 0);
	saksi_query_result_free(&a.res);
	p.rp_reveal = 1;
	expect_refused(tcp_url, K_SEC, &p, SAKSI_R_ROLE, "never reveal");
}

/*
 * Branch scope (FORMATS.md 3.4): a branch's supervisor sees that branch's entries only.
 * Every participant event is FX_BRANCH's; saksid's access entries are KP-PUSAT's.
 */
static void
test_branch_scope(void **state)
{
	saksi_rq_params p;
	struct ask a;
	json_t *pl;
	uint8_t signer[8];
	char type[SAKSI_TYPE_MAX + 1];

	(void)state;
	/* A Makassar key revealing a participant: all of his (Makassar) events, and the
	 * access entry says the scope, in the request-checked filter. */
	params(&p, SAKSI_RQ_QUERY, 1000, 1);
	p.rp_value[SAKSI_IX_NIK] = nik[0];
	ask(tcp_url, K_MKS, &p, &a);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.res.qr_n, nevents[0]);
	for (size_t i = 0; i < a.res.qr_n; i++)
		assert_string_equal(json_string_value(json_object_get(
		    a.res.qr_rows[i].qr_payload, "branch")), FX_BRANCH);
	check_access(a.access, K_MKS, 1, nevents[0], "query", 1);
	pl = event_at(a.access, signer, type);
	assert_non_null(strstr(json_string_value(json_object_get(pl, "filter")),
	    ",branch=" FX_BRANCH ","));
	assert_string_equal(json_string_value(json_object_get(pl, "branch")), FX_BRANCH);
	json_decref(pl);
	saksi_query_result_free(&a.res);

	/* A Jakarta key: nothing of Makassar's, though the same participant. */
	ask(tcp_url, K_JKT, &p, &a);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.res.qr_n, 0);
	check_access(a.access, K_JKT, 1, 0, "query", 0);
	saksi_query_result_free(&a.res);
	/* Nor by a timeline. */
	params(&p, SAKSI_RQ_TIMELINE, 1000, 0);
	p.rp_value[SAKSI_IX_KPJ] = kpj[0];
	ask(tcp_url, K_JKT, &p, &a);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.res.qr_n, 0);
	saksi_query_result_free(&a.res);

	/* The national access entries (KP-PUSAT): the national unit sees them, a branch's
	 * key does not; it sees the one of its own look above (its branch's). */
	params(&p, SAKSI_RQ_QUERY, 1000, 0);
	p.rp_value[SAKSI_IX_TYPE] = "supervisor.access.logged";
	ask(tcp_url, K_SP, &p, &a);
	assert_int_equal(a.status, 0);
	assert_true(a.res.qr_n > 0);
	saksi_query_result_free(&a.res);
	ask(tcp_url, K_MKS, &p, &a);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.res.qr_n, 1);
	{
		char hex[17];

		hex_of(keys[K_MKS], hex);
		assert_string_equal(json_string_value(json_object_get(
		    a.res.qr_rows[0].qr_payload, "key_id")), hex);
	}
	saksi_query_result_free(&a.res);

	/* Asking for another branch by filter: refused (9), nothing written. */
	p.rp_value[SAKSI_IX_TYPE] = NULL;
	p.rp_value[SAKSI_IX_BRANCH] = FX_BRANCH;
	expect_refused(tcp_url, K_JKT, &p, SAKSI_R_SCHEMA, "another branch");
}

static void
test_refusals(void **state)
{
	saksi_rq_params p;
	struct ask a;
	uint8_t *req;
	size_t len;
	uint64_t before;

	(void)state;
	params(&p, SAKSI_RQ_QUERY, 10, 0);
	p.rp_value[SAKSI_IX_NIK] = nik[0];
	expect_refused(tcp_url, K_OMB, &p, SAKSI_R_ROLE, "ombudsman");
	expect_refused(tcp_url, K_UNK, &p, SAKSI_R_UNKNOWN_KEY, "not in the keyring");
	expect_refused(sd.url, K_REV, &p, SAKSI_R_REVOKED_KEY, "revoked");
	p.rp_time_ms = wall_ms() - 600000;
	expect_refused(tcp_url, K_SP, &p, SAKSI_R_CLOCK_SKEW, "behind");
	p.rp_time_ms = wall_ms() + 600000;
	expect_refused(tcp_url, K_SP, &p, SAKSI_R_CLOCK_SKEW, "ahead");
	/* A spec the engine refuses, and a NIK that is no NIK: nothing is run. */
	params(&p, SAKSI_RQ_TIMELINE, 10, 0);
	p.rp_value[SAKSI_IX_BRANCH] = FX_BRANCH;
	expect_refused(tcp_url, K_SP, &p, SAKSI_R_SCHEMA, "exactly one");
	params(&p, SAKSI_RQ_QUERY, 10, 0);
	p.rp_value[SAKSI_IX_NIK] = "12345";
	expect_refused(tcp_url, K_SP, &p, SAKSI_R_SCHEMA, "nik: not a valid nik");

	params(&p, SAKSI_RQ_QUERY, 10, 1);
	p.rp_value[SAKSI_IX_NIK] = nik[0];
	/* Forged: one bit of the signature. */
	assert_int_equal(saksi_rq_request_make(keys[K_SP], sd.fx.box_pub.pk_key, &p, &req, &len),
	    SAKSI_OK);
	before = ledger_size();
	req[len - 1] ^= 1;
	send_raw(tcp_url, req, len, keys[K_SP], &a);
	assert_int_equal(a.status, SAKSI_R_SIGNATURE);
	req[len - 1] ^= 1;
	/* Malformed: cut short, and a byte too many. */
	send_raw(tcp_url, req, len - 1, keys[K_SP], &a);
	assert_int_equal(a.status, SAKSI_R_PARSE);
	{
		uint8_t *longer = malloc(len + 1);

		memcpy(longer, req, len);
		longer[len] = 0;
		send_raw(tcp_url, longer, len + 1, keys[K_SP], &a);
		assert_int_equal(a.status, SAKSI_R_PARSE);
		longer[0] = 9;
		send_raw(tcp_url, longer, len, keys[K_SP], &a);
		assert_int_equal(a.status, SAKSI_R_PARSE);
		assert_non_null(strstr(a.msg, "version"));
		free(longer);
	}
	assert_int_equal(ledger_size(), before);
	/* Replayed: the first is answered (and logged), the same bytes again are not. */
	send_raw(tcp_url, req, len, keys[K_SP], &a);
	assert_int_equal(a.status, 0);
	saksi_query_result_free(&a.res);
	before = ledger_size();
	send_raw(sd.url, req, len, keys[K_SP], &a);
	assert_int_equal(a.status, SAKSI_R_REPLAY);
	assert_non_null(strstr(a.msg, "already answered"));
	assert_int_equal(ledger_size(), before);
	free(req);
	/* Sealed to another appliance's box key. */
	assert_int_equal(saksi_rq_request_make(keys[K_SP], sd.fx.other_box_pub.pk_key, &p, &req,
	    &len), SAKSI_OK);
	send_raw(tcp_url, req, len, keys[K_SP], &a);
	assert_int_equal(a.status, SAKSI_R_PARSE);
	assert_non_null(strstr(a.msg, "do not open"));
	free(req);
	assert_int_equal(ledger_size(), before);
}

/* A supervisor's own access entry that carries another key's request: ingest refuses it
 * (the entry must say what the carried request asked, key_id included). */
static void
test_forged_entry(void **state)
{
	saksi_rq_params p;
	saksi_rq_request rq;
	saksi_client *c;
	saksi_event ev;
	saksi_result res;
	uint8_t *req;
	size_t len;
	char *stored, hex[17], payload[2048];
	uint64_t before = ledger_size();

	(void)state;
	params(&p, SAKSI_RQ_QUERY, 10, 0);
	p.rp_value[SAKSI_IX_BRANCH] = FX_BRANCH;
	assert_int_equal(saksi_rq_request_make(keys[K_SP2], sd.fx.box_pub.pk_key, &p, &req, &len),
	    SAKSI_OK);
	assert_int_equal(saksi_rq_request_parse(req, len, &rq), SAKSI_OK);
	assert_int_equal(saksi_rq_request_stored(&rq, &stored), SAKSI_OK);
	hex_of(keys[K_SP], hex);
	snprintf(payload, sizeof(payload), "{\"branch\":\"KP-PUSAT\",\"key_id\":\"%s\","
	    "\"command\":\"query\",\"filter\":\"branch=%s,limit=10\",\"personal_filter\":"
	    "false,\"results\":0,\"revealed\":false,\"request\":\"%s\"}", hex, FX_BRANCH,
	    stored);
	free(stored);
	free(req);
	dr_client_open(&sd, keys[K_SP], &c);
	memset(&ev, 0, sizeof(ev));
	ev.se_type = "supervisor.access.logged";
	ev.se_payload = payload;
	ev.se_seq = 1;
	ev.se_time_ms = wall_ms();
	memset(&res, 0, sizeof(res));
	assert_int_equal(saksi_client_submit(c, &ev, 1, &res), SAKSI_OK);
	assert_int_equal(res.sr_code, SAKSI_R_SCHEMA);
	assert_non_null(strstr(res.sr_message, "does not match its request"));
	saksi_result_clear(&res);
	saksi_client_close(c);
	/* A refusal summary is written for it, nothing else. */
	assert_true(ledger_size() <= before + 1);
}

static void
test_rules(void **state)
{
	saksi_rq_params p;
	struct ask a;
	saksi_alert al[64];
	size_t n;
	char hex[17], group[64];
	int many = 0, bulk = 0;

	(void)state;
	/*
	 * supervisor_reveals_many sums people (RULES.md 6: 100 an hour): ten reveals of one
	 * participant each count 10; then looks at the branch's bookings, each revealing
	 * its NPART people in more than 200 entries (the bulk rule), until 100.
	 */
	for (int i = 0; i < 10; i++) {
		params(&p, SAKSI_RQ_QUERY, 1000, 1);
		p.rp_value[SAKSI_IX_NIK] = nik[i % NPART];
		ask(i % 2 ? tcp_url : sd.url, K_SP2, &p, &a);
		assert_int_equal(a.status, 0);
		assert_true(a.res.qr_n > 0);
		saksi_query_result_free(&a.res);
		check_access(a.access, K_SP2, 1, nevents[i % NPART], "query", 1);
	}
	for (int i = 0; i < (100 - 10 + NPART - 1) / NPART; i++) {
		params(&p, SAKSI_RQ_QUERY, 1000, 1);
		p.rp_value[SAKSI_IX_BRANCH] = FX_BRANCH;
		p.rp_value[SAKSI_IX_TYPE] = "queue.booking.created";
		ask(tcp_url, K_SP2, &p, &a);
		assert_int_equal(a.status, 0);
		assert_int_equal(a.res.qr_n, NEVENTS);
		saksi_query_result_free(&a.res);
		if (i == 0)
			check_access(a.access, K_SP2, 1, NEVENTS, "query", NPART);
	}
	/* The alerts are committed with the access entry that raised them. */
	n = dr_ledger_alerts(sd.ledger_dir, al, NULL, 64);
	hex_of(keys[K_SP2], hex);
	snprintf(group, sizeof(group), "key_id=%s", hex);
	for (size_t i = 0; i < n; i++) {
		if (strstr(al[i].al_group, group) == NULL)
			continue;
		many |= strcmp(al[i].al_rule, "supervisor_reveals_many") == 0;
		bulk |= strcmp(al[i].al_rule, "supervisor_reveals_bulk") == 0;
	}
	assert_true(many);
	assert_true(bulk);
}

/* ---- the CLI ---- */

static void
test_cli(void **state)
{
	char out[300], err[300];
	char *o, *e;
	json_t *root;

	(void)state;
	snprintf(out, sizeof(out), "%s/cli.out", sd.fx.dir);
	snprintf(err, sizeof(err), "%s/cli.err", sd.fx.dir);
	{
		const char *args[] = { "query", "--remote", tcp_url, "-k", keypath[K_SP],
			"--box-pub", boxpub, "--vkey", sd.fx.vkey, "--nik", nik[1], "--json",
			NULL };

		assert_int_equal(dr_saksi(0, out, err, args), 0);
	}
	o = fx_read(out, NULL);
	e = fx_read(err, NULL);
	root = json_loads(o, 0, NULL);
	assert_non_null(root);
	assert_int_equal(json_array_size(json_object_get(root, "entries")), nevents[1]);
	assert_null(strstr(o, nik[1]));
	assert_non_null(strstr(e, "access logged as entry"));
	json_decref(root);
	free(o);
	free(e);
	{
		const char *args[] = { "timeline", "--remote", sd.url, "-k", keypath[K_SP],
			"--box-pub", boxpub, "--vkey", sd.fx.vkey, "--phone", phone[2], "--reveal",
			NULL };

		assert_int_equal(dr_saksi(0, out, err, args), 0);
	}
	o = fx_read(out, NULL);
	assert_non_null(strstr(o, "index  time"));
	assert_non_null(strstr(o, nik[2]));
	free(o);
	{
		const char *args[] = { "query", "--remote", tcp_url, "-k", keypath[K_OMB],
			"--box-pub", boxpub, "--vkey", sd.fx.vkey, "--nik", nik[1], NULL };

		assert_int_equal(dr_saksi(0, out, err, args), 1);
	}
	e = fx_read(err, NULL);
	assert_non_null(strstr(e, "refused the query (role)"));
	assert_null(strstr(e, nik[1]));
	free(e);
	{
		const char *args[] = { "query", "--remote", tcp_url, "-k", keypath[K_SP],
			"--vkey", sd.fx.vkey, "--nik", nik[1], NULL };

		assert_int_equal(dr_saksi(0, out, err, args), 2);
	}
	e = fx_read(err, NULL);
	assert_non_null(strstr(e, "--box-pub"));
	free(e);
	/* On the appliance too (saksi query --config): the -k key's branch scopes it. */
	for (int k = 0; k < 2; k++) {
		const char *args[] = { "query", "--config", sd.conf, "-k",
			keypath[k == 0 ? K_MKS : K_JKT], "--nik", nik[0], "--json", "--limit",
			"1000", NULL };

		assert_int_equal(dr_saksi(0, out, err, args), 0);
		o = fx_read(out, NULL);
		root = json_loads(o, 0, NULL);
		assert_non_null(root);
		assert_int_equal(json_array_size(json_object_get(root, "entries")),
		    k == 0 ? nevents[0] : 0);
		json_decref(root);
		free(o);
	}
	/* Bundles and subject reports are the national unit's: refused, nothing written. */
	{
		char bout[300];
		const char *bargs[] = { "bundle", "--config", sd.conf, "--case", "SPI-IX-2",
			"--branch", FX_BRANCH, "--decrypted", "-k", keypath[K_MKS], "-o", bout,
			NULL };
		const char *sargs[] = { "subject-report", "--config", sd.conf, "--nik", nik[0],
			"-k", keypath[K_MKS], "-o", bout, NULL };
		uint64_t before = ledger_size();

		snprintf(bout, sizeof(bout), "%s/scoped.out", sd.fx.dir);
		assert_int_equal(dr_saksi(0, out, err, bargs), 1);
		e = fx_read(err, NULL);
		assert_non_null(strstr(e, "national unit"));
		free(e);
		assert_int_equal(dr_saksi(0, out, err, sargs), 1);
		e = fx_read(err, NULL);
		assert_non_null(strstr(e, "national unit"));
		free(e);
		assert_int_not_equal(access(bout, F_OK), 0);
		assert_int_equal(ledger_size(), before);
	}
}

/* ---- what crosses the wire ---- */

struct relay {
	int listen_fd;
	int to_port;
	volatile int stop;
	uint8_t *cap;
	size_t cap_len, cap_max;
	pthread_mutex_t mu;
};

static void
relay_keep(struct relay *r, const uint8_t *b, size_t n)
{
	pthread_mutex_lock(&r->mu);
	if (r->cap_len + n > r->cap_max) {
		r->cap_max = 2 * (r->cap_len + n);
		r->cap = realloc(r->cap, r->cap_max);
	}
	memcpy(r->cap + r->cap_len, b, n);
	r->cap_len += n;
	pthread_mutex_unlock(&r->mu);
}

/* Accepts connections one at a time and copies bytes both ways, keeping them all. */
static void *
relay_main(void *arg)
{
	struct relay *r = arg;

	while (!r->stop) {
		struct pollfd pl = { r->listen_fd, POLLIN, 0 };
		struct sockaddr_in si;
		int c, d;

		if (poll(&pl, 1, 100) <= 0)
			continue;
		if ((c = accept(r->listen_fd, NULL, NULL)) < 0)
			continue;
		memset(&si, 0, sizeof(si));
		si.sin_family = AF_INET;
		si.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		si.sin_port = htons((uint16_t)r->to_port);
		d = socket(AF_INET, SOCK_STREAM, 0);
		if (d < 0 || connect(d, (struct sockaddr *)&si, sizeof(si)) != 0) {
			close(c);
			if (d >= 0)
				close(d);
			continue;
		}
		for (int open = 1; open && !r->stop;) {
			struct pollfd fds[2] = { { c, POLLIN, 0 }, { d, POLLIN, 0 } };
			uint8_t buf[65536];

			if (poll(fds, 2, 100) <= 0)
				continue;
			for (int k = 0; k < 2 && open; k++) {
				ssize_t n;

				if ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
					continue;
				if ((n = read(k == 0 ? c : d, buf, sizeof(buf))) <= 0) {
					open = 0;
					break;
				}
				relay_keep(r, buf, (size_t)n);
				if (write(k == 0 ? d : c, buf, (size_t)n) != n)
					open = 0;
			}
		}
		close(c);
		close(d);
	}
	return NULL;
}

static int
has(const uint8_t *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

static void
test_wire(void **state)
{
	struct relay r;
	struct sockaddr_in si;
	socklen_t sl = sizeof(si);
	pthread_t t;
	char url[64], out[300], err[300], *o, acct[96];
	saksi_rq_params p;
	struct ask a;

	(void)state;
	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.mu, NULL);
	r.to_port = tcp_port;
	memset(&si, 0, sizeof(si));
	si.sin_family = AF_INET;
	si.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(r.listen_fd >= 0);
	assert_int_equal(bind(r.listen_fd, (struct sockaddr *)&si, sizeof(si)), 0);
	assert_int_equal(listen(r.listen_fd, 4), 0);
	assert_int_equal(getsockname(r.listen_fd, (struct sockaddr *)&si, &sl), 0);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", ntohs(si.sin_port));
	assert_int_equal(pthread_create(&t, NULL, relay_main, &r), 0);

	/* Revealed looks by every personal field, through the relay. */
	snprintf(out, sizeof(out), "%s/wire.out", sd.fx.dir);
	snprintf(err, sizeof(err), "%s/wire.err", sd.fx.dir);
	{
		const char *args[] = { "query", "--remote", url, "-k", keypath[K_SP], "--box-pub",
			boxpub, "--vkey", sd.fx.vkey, "--nik", nik[0], "--reveal", "--json",
			"--limit", "1000", NULL };

		assert_int_equal(dr_saksi(0, out, err, args), 0);
	}
	o = fx_read(out, NULL);
	assert_non_null(strstr(o, nik[0]));      /* revealed to him ... */
	assert_non_null(strstr(o, phone[0]));
	free(o);
	snprintf(acct, sizeof(acct), "002:%s", account[1]);
	{
		const char *args[] = { "timeline", "--remote", url, "-k", keypath[K_SP],
			"--box-pub", boxpub, "--vkey", sd.fx.vkey, "--account", acct, "--reveal",
			"--csv", NULL };

		assert_int_equal(dr_saksi(0, out, err, args), 0);
	}
	o = fx_read(out, NULL);
	assert_non_null(strstr(o, account[1]));
	assert_non_null(strstr(o, "CL-RQ-1"));
	free(o);
	for (int k = 0; k < NPART; k++) {
		params(&p, SAKSI_RQ_QUERY, 1000, 1);
		p.rp_value[SAKSI_IX_PHONE] = phone[k];
		p.rp_value[SAKSI_IX_KPJ] = kpj[k];
		p.rp_value[SAKSI_IX_EMAIL] = email[k];
		ask(url, K_SP, &p, &a);
		assert_int_equal(a.status, 0);
		assert_int_equal(a.res.qr_n, nbook[k]);
		saksi_query_result_free(&a.res);
		/* By the account the claim was paid into: the claim, revealed. */
		params(&p, SAKSI_RQ_QUERY, 1000, 1);
		snprintf(acct, sizeof(acct), "002:%s", account[k]);
		p.rp_value[SAKSI_IX_ACCOUNT] = acct;
		ask(url, K_SP, &p, &a);
		assert_int_equal(a.status, 0);
		assert_int_equal(a.res.qr_n, 1);
		assert_string_equal(json_string_value(json_object_get(a.res.qr_rows[0].qr_payload,
		    "bank_account")), account[k]);
		assert_string_equal(json_string_value(json_object_get(a.res.qr_rows[0].qr_payload,
		    "account_holder")), holder[k]);
		saksi_query_result_free(&a.res);
	}
	r.stop = 1;
	pthread_join(t, NULL);
	/* The daemon counts the remote queries it answered and refused. */
	{
		saksi_client_opts co;
		saksi_client *c;
		char *st;
		size_t stlen;
		json_t *root, *req;

		memset(&co, 0, sizeof(co));
		co.co_url = sd.url;
		co.co_timeout_ms = 60000;
		assert_int_equal(saksi_client_open(&co, &c), SAKSI_OK);
		assert_int_equal(saksi_client_status(c, &st, &stlen), SAKSI_OK);
		root = json_loads(st, 0, NULL);
		req = json_object_get(root, "requests");
		assert_true(json_integer_value(json_object_get(req, "queries")) >= 20);
		assert_true(json_integer_value(json_object_get(req, "queries_refused")) >= 10);
		json_decref(root);
		free(st);
		saksi_client_close(c);
	}
	close(r.listen_fd);
	/* ... and nothing of it in the bytes that went either way. */
	print_message("captured %zu bytes on the wire\n", r.cap_len);
	assert_true(r.cap_len > 1000);
	for (int k = 0; k < NPART; k++) {
		assert_false(has(r.cap, r.cap_len, nik[k]));
		assert_false(has(r.cap, r.cap_len, phone[k]));
		assert_false(has(r.cap, r.cap_len, phone[k] + 1));   /* without the + */
		assert_false(has(r.cap, r.cap_len, kpj[k]));
		assert_false(has(r.cap, r.cap_len, email[k]));
		assert_false(has(r.cap, r.cap_len, account[k]));
		assert_false(has(r.cap, r.cap_len, holder[k]));
	}
	free(r.cap);
	pthread_mutex_destroy(&r.mu);
}

/*
 * While the index does not cover the whole ledger (saksid's start-up catch-up still
 * running; here its mark moved back by hand, which is what the catch-up leaves behind
 * it), a remote query is refused, never answered from part of the ledger, and a local
 * `saksi query` warns and says "complete": false. The next commit group moves the mark
 * past the whole ledger again (as it does past its own refusal and alert entries).
 */
static void
test_index_behind(void **state)
{
	static const uint8_t state_key[] = { 0, 's', 't', 'a', 't', 'e' };
	saksi_ledger_opts lo;
	saksi_ledger *l;
	saksi_ledger_txn *t;
	MDB_txn *mt;
	MDB_dbi dbi;
	MDB_val k = { sizeof(state_key), (void *)state_key }, v;
	uint64_t upto, size;
	uint8_t check[8], nv[16];
	saksi_rq_params p;
	struct ask a;
	char want[96], out[300], err[300], *text;

	(void)state;
	memset(&lo, 0, sizeof(lo));
	lo.lo_map_size = (size_t)256 << 20;   /* saksid's map_size_mb: one shared map */
	assert_int_equal(saksi_ledger_open(sd.ledger_dir, NULL, NULL, &lo, &l), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 1, &t), SAKSI_OK);
	mt = saksi_ledger_txn_mdb(t);
	assert_int_equal(saksi_index_open(mt, 0, &dbi), SAKSI_OK);
	assert_int_equal(saksi_index_state(mt, dbi, &upto, check), SAKSI_OK);
	size = saksi_ledger_size(t);
	assert_int_equal(upto, size);   /* whole, alert and access entries included */
	saksi_put_u64(nv, 1);
	memcpy(nv + 8, check, 8);
	v.mv_size = sizeof(nv);
	v.mv_data = nv;
	assert_int_equal(mdb_del(mt, dbi, &k, NULL), 0);
	assert_int_equal(mdb_put(mt, dbi, &k, &v, 0), 0);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	saksi_ledger_close(l);

	params(&p, SAKSI_RQ_QUERY, 5, 0);
	p.rp_value[SAKSI_IX_BRANCH] = FX_BRANCH;
	snprintf(want, sizeof(want), "index covers entries below 1 of %llu",
	    (unsigned long long)size);
	expect_refused(tcp_url, K_SP, &p, SAKSI_R_UNAVAILABLE, want);
	snprintf(out, sizeof(out), "%s/behind.out", sd.fx.dir);
	snprintf(err, sizeof(err), "%s/behind.err", sd.fx.dir);
	{
		const char *args[] = { "query", "--config", sd.conf, "--branch", FX_BRANCH,
			"--json", "--limit", "1", NULL };

		assert_int_equal(dr_saksi(0, out, err, args), 0);
	}
	text = fx_read(err, NULL);
	assert_non_null(strstr(text, want));
	free(text);
	text = fx_read(out, NULL);
	assert_non_null(strstr(text, "\"complete\": false"));
	free(text);
	/* Nor is a case's evidence exported from part of the ledger (before its access
	 * entry: nothing written). */
	{
		char bout[300];
		const char *args[] = { "bundle", "--config", sd.conf, "--case", "SPI-IX-1",
			"--branch", FX_BRANCH, "--decrypted", "-k", keypath[K_SP], "-o", bout, NULL };
		uint64_t before = ledger_size();

		snprintf(bout, sizeof(bout), "%s/behind.bundle", sd.fx.dir);
		assert_int_equal(dr_saksi(0, out, err, args), 2);
		text = fx_read(err, NULL);
		assert_non_null(strstr(text, want));
		free(text);
		assert_int_equal(access(bout, F_OK), -1);
		assert_int_equal(ledger_size(), before);
	}

	/* One more event: its group's mark passes the whole ledger. */
	{
		saksi_client *c;
		saksi_event ev;
		saksi_result res;
		char *pl = fx_payload("queue.booking.created", NULL);

		dr_client_open(&sd, sd.fx.prod[FX_QUEUE], &c);
		ev.se_type = "queue.booking.created";
		ev.se_payload = pl;
		ev.se_seq = 1000000;
		ev.se_time_ms = wall_ms();
		memset(&res, 0, sizeof(res));
		assert_int_equal(saksi_client_submit(c, &ev, 1, &res), SAKSI_OK);
		assert_int_equal(res.sr_code, SAKSI_R_ACCEPTED);
		saksi_result_clear(&res);
		saksi_client_close(c);
		free(pl);
	}
	ask(tcp_url, K_SP, &p, &a);
	assert_int_equal(a.status, 0);
	assert_int_equal(a.res.qr_n, 5);
	saksi_query_result_free(&a.res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_masked),
		cmocka_unit_test(test_personal_and_reveal),
		cmocka_unit_test(test_security),
		cmocka_unit_test(test_branch_scope),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_forged_entry),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_cli),
		cmocka_unit_test(test_wire),
		cmocka_unit_test(test_index_behind),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
