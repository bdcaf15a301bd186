/*
 * fuzz_client.c: libFuzzer target for lib/client.c's reading of the daemon's replies (a
 * reply is hostile input: a rogue daemon, or anyone on the tcp path). A REP socket on
 * inproc:// answers each request with the fuzz input; the client submits fixed items or
 * asks for the checkpoint. Checks: only the documented codes, no receipt left in a result
 * on an error other than SAKSI_ERR_REFUSED, a kept receipt is a tlog-proof for an event
 * leaf whose index is sr_index, messages are printable ASCII; what get, prove_inclusion
 * and prove_consistency return is what client.h says they check.
 * The status reply (op 6, FORMATS.md 3.3) is returned only as a JSON object with
 * "saksi_status": 1 and no duplicate member, NUL-terminated at its length; the busy hint
 * (saksi_client_retry_after) is 0 but after a busy refusal, and then the N of the
 * message's "retry after N ms" as a reference reading finds it (saksi_retry_after_ms is
 * also checked against that reference on the raw input).
 * Input: byte 0 = mode (bits 0-2: op: 0 submit, 1 checkpoint, 2 get, 3 inclusion,
 * 4 consistency, 5 status, 6-7 submit; bit 3: the input is the whole reply, else version and op are
 * put in front; bit 4: no log key; bits 5-6: items - 1 for submit, else the index (or m - 1);
 * bit 7: size 0 for inclusion, n = m + 3 for consistency), then the reply.
 */
#include <pthread.h>

#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <sodium.h>

#include "client.h"
#include "envelope.h"
#include "fuzz.h"
#include "keys.h"
#include "ledger.h"
#include "note.h"
#include "wire.h"

#define FZ_URL "inproc://saksi-fuzz-client"
#define FZ_ITEMS_MAX 4

/*
 * The reply for the request in flight: written by the fuzzing thread before it sends the
 * request, read by the responder after it has received it (nanomsg's queue orders them).
 */
static const uint8_t *fz_reply;
static size_t fz_reply_len;
static int fz_rep;

static saksi_seckey *fz_prod;
static saksi_note_verifier fz_log;
static uint8_t fz_env[FZ_ITEMS_MAX][512];
static size_t fz_env_len[FZ_ITEMS_MAX];
static saksi_client *fz_client, *fz_client_nolog;

static void *
responder(void *arg)
{
	void *req;
	int n;

	(void)arg;
	for (;;) {
		if ((n = nn_recv(fz_rep, &req, NN_MSG, 0)) < 0) {
			if (nn_errno() == EBADF || nn_errno() == ETERM)
				return NULL;
			continue;
		}
		nn_freemsg(req);
		(void)nn_send(fz_rep, fz_reply_len ? fz_reply : (const uint8_t *)"", fz_reply_len, 0);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	saksi_client_opts o = { .co_url = FZ_URL, .co_timeout_ms = 10000 };
	uint8_t secret[32], pk[32], sk[64];
	char vkey[SAKSI_VKEY_MAX + 1], payload[64];
	pthread_t th;
	int i, n;

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	memset(secret, 0x61, sizeof secret);
	FUZZ_SETUP(saksi_seckey_from_secret(SAKSI_KEY_SIGN, secret, &fz_prod) == SAKSI_OK);
	for (i = 0; i < FZ_ITEMS_MAX; i++) {
		n = snprintf(payload, sizeof payload, "{\"branch\":\"KC-%d\"}", i);
		FUZZ_SETUP(saksi_envelope_sign(fz_prod, 1 + (uint64_t)i, 1741564800000,
		                               "queue.called", (const uint8_t *)payload, (size_t)n,
		                               fz_env[i], sizeof fz_env[i], &fz_env_len[i]) ==
		           SAKSI_OK);
	}
	memset(secret, 0x62, sizeof secret);
	crypto_sign_seed_keypair(pk, sk, secret);
	FUZZ_SETUP(saksi_note_vkey_format("fuzz.example/log", pk, vkey, sizeof vkey) == SAKSI_OK);
	FUZZ_SETUP(saksi_note_vkey_parse(vkey, &fz_log) == SAKSI_OK);

	FUZZ_SETUP((fz_rep = nn_socket(AF_SP, NN_REP)) >= 0);
	FUZZ_SETUP(nn_bind(fz_rep, FZ_URL) >= 0);
	FUZZ_SETUP(pthread_create(&th, NULL, responder, NULL) == 0);
	FUZZ_SETUP(pthread_detach(th) == 0);
	o.co_log = &fz_log;
	FUZZ_SETUP(saksi_client_open(&o, &fz_client) == SAKSI_OK);
	o.co_log = NULL;
	FUZZ_SETUP(saksi_client_open(&o, &fz_client_nolog) == SAKSI_OK);
	return 0;
}

static void
check_results(saksi_err e, const saksi_result *r, size_t n, int with_log)
{
	static saksi_tlog_proof tp;
	size_t i, j;

	FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_REFUSED ||
	               e == SAKSI_ERR_PROOF,
	           "submit gave %d", e);
	FUZZ_CHECK(!(e == SAKSI_ERR_PROOF && !with_log), "PROOF without a log key");
	for (i = 0; i < n; i++) {
		for (j = 0; r[i].sr_message[j] != '\0'; j++)
			FUZZ_CHECK(r[i].sr_message[j] >= 0x20 && r[i].sr_message[j] < 0x7f,
			           "unprintable byte in sr_message");
		FUZZ_CHECK(j < sizeof r[i].sr_message, "sr_message");
		if (e != SAKSI_OK) {
			/* client.h: on any error other than REFUSED no result holds a receipt. */
			FUZZ_CHECK(r[i].sr_receipt == NULL, "receipt kept on error %d", e);
			continue;
		}
		if (r[i].sr_code == SAKSI_R_ACCEPTED || r[i].sr_code == SAKSI_R_DUPLICATE) {
			FUZZ_CHECK(r[i].sr_receipt != NULL, "accepted without a receipt");
			FUZZ_CHECK(saksi_tlog_proof_parse(r[i].sr_receipt, strlen(r[i].sr_receipt),
			                                  &tp) == SAKSI_OK &&
			               tp.tp_has_extra && tp.tp_extra_len == 42 &&
			               tp.tp_extra[0] == 1 && tp.tp_extra[1] == 1 &&
			               tp.tp_index == r[i].sr_index,
			           "kept receipt is not a tlog-proof for an event leaf at sr_index");
		} else
			FUZZ_CHECK(r[i].sr_code >= SAKSI_R_PARSE && r[i].sr_code < SAKSI_R__COUNT &&
			               r[i].sr_receipt == NULL,
			           "result code %d", r[i].sr_code);
	}
}

/*
 * The reference reading of wire.h: the first "retry after " in the text, then 1..9
 * decimal digits (a tenth digit or none: 0), then " ms" (else 0). Written as a scan of
 * the text for the prefix, then sscanf-free counting, apart from lib/wire.c's loop.
 */
static uint64_t
ref_retry_after(const char *t, size_t len)
{
	static const char pre[] = "retry after ";
	const char *p = NULL, *q;
	uint64_t n = 0;
	size_t i, nd;

	for (i = 0; i + 12 <= len; i++)
		if (strncmp(t + i, pre, 12) == 0 && memchr(t + i, '\0', 12) == NULL) {
			p = t + i + 12;
			break;
		}
	if (p == NULL)
		return 0;
	for (q = p; q < t + len && *q >= '0' && *q <= '9'; q++)
		;
	nd = (size_t)(q - p);
	if (nd < 1 || nd > 9 || (size_t)(t + len - q) < 3 || memcmp(q, " ms", 3) != 0)
		return 0;
	for (i = 0; i < nd; i++)
		n = n * 10 + (uint64_t)(p[i] - '0');
	return n;
}

/* After a call: saksi_client_refusal says a status exactly after REFUSED / NOT_FOUND. */
static void
check_refusal(saksi_client *c, saksi_err e)
{
	const char *m;
	int status = -1;
	size_t i;

	m = saksi_client_refusal(c, &status);
	FUZZ_CHECK(m != NULL, "refusal message NULL");
	if (e == SAKSI_ERR_REFUSED || e == SAKSI_ERR_NOT_FOUND)
		FUZZ_CHECK(status >= SAKSI_R_PARSE && status < SAKSI_R__COUNT,
		           "status %d after %d", status, e);
	else
		FUZZ_CHECK(status == 0 && m[0] == '\0', "a refusal recorded after %d", e);
	for (i = 0; m[i] != '\0'; i++)
		FUZZ_CHECK(m[i] >= 0x20 && m[i] < 0x7f, "unprintable byte in the refusal message");
	/* The busy hint: only after a busy refusal, and then what the message says. */
	FUZZ_CHECK(saksi_client_retry_after(c) ==
	               (e == SAKSI_ERR_REFUSED && status == SAKSI_R_BUSY ?
	                    ref_retry_after(m, strlen(m)) : 0),
	           "retry_after %llu after %d status %d",
	           (unsigned long long)saksi_client_retry_after(c), e, status);
}

static void
reads(saksi_client *c, int op, int mode)
{
	static saksi_tlog_proof tp;
	static saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
	uint64_t index = ((unsigned)mode >> 5) & 3, size, m, n;
	saksi_checkpoint ck;
	saksi_envelope ev;
	saksi_leaf lf;
	uint8_t *leaf = NULL;
	char *text = NULL;
	const char *body_end;
	size_t len = 0, nproof = 0;
	saksi_err e;

	switch (op) {
	case 2:
		e = saksi_client_get(c, index, &leaf, &len);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_NOT_FOUND ||
		               e == SAKSI_ERR_REFUSED,
		           "get gave %d", e);
		if (e == SAKSI_OK) {
			FUZZ_CHECK(saksi_leaf_parse(leaf, len, &lf) == SAKSI_OK,
			           "get returned a leaf that does not parse");
			if (lf.lf_kind == SAKSI_LEAF_EVENT)
				FUZZ_CHECK(saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &ev) ==
				               SAKSI_OK,
				           "get returned an event leaf whose envelope does not parse");
			free(leaf);
		} else
			FUZZ_CHECK(leaf == NULL, "leaf set on error %d", e);
		break;
	case 3:
		size = mode & 0x80 ? 0 : 4;
		e = saksi_client_prove_inclusion(c, index, size, &text, &len);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_NOT_FOUND ||
		               e == SAKSI_ERR_REFUSED || e == SAKSI_ERR_SIGNATURE ||
		               e == SAKSI_ERR_KEY,
		           "prove_inclusion gave %d", e);
		if (e == SAKSI_OK) {
			FUZZ_CHECK(text != NULL && strlen(text) == len &&
			               saksi_tlog_proof_parse(text, len, &tp) == SAKSI_OK &&
			               tp.tp_index == index && tp.tp_has_extra &&
			               tp.tp_extra_len == SAKSI_LEAF_HDR && tp.tp_extra[0] == 1 &&
			               (tp.tp_extra[1] == 1 || tp.tp_extra[1] == 2),
			           "returned proof is not the tlog-proof client.h promises");
			/* The checkpoint is of the size asked (any size above index for 0). */
			body_end = strstr(tp.tp_note, "\n\n");
			FUZZ_CHECK(body_end != NULL &&
			               saksi_checkpoint_parse(tp.tp_note,
			                                      (size_t)(body_end - tp.tp_note) + 1,
			                                      &ck) == SAKSI_OK &&
			               (size != 0 ? ck.ck_size == size : ck.ck_size > index),
			           "proof for a checkpoint of size %llu, asked %llu",
			           (unsigned long long)ck.ck_size, (unsigned long long)size);
			free(text);
		} else
			FUZZ_CHECK(text == NULL, "proof set on error %d", e);
		break;
	case 5:
		e = saksi_client_status(c, &text, &len);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_NOT_FOUND ||
		               e == SAKSI_ERR_REFUSED,
		           "status gave %d", e);
		if (e == SAKSI_OK) {
			json_t *root;

			/* FORMATS.md 3.3: an object, no duplicate, "saksi_status": 1; and
			 * client.h: NUL-terminated at *len (no NUL inside). */
			FUZZ_CHECK(text != NULL && strlen(text) == len, "status text length");
			root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
			FUZZ_CHECK(json_is_object(root) &&
			               json_is_integer(json_object_get(root, "saksi_status")) &&
			               json_integer_value(json_object_get(root, "saksi_status")) == 1,
			           "status accepted without \"saksi_status\": 1");
			json_decref(root);
			free(text);
		} else
			FUZZ_CHECK(text == NULL && len == 0, "status text set on error %d", e);
		break;
	default:
		m = 1 + index;
		n = m + (mode & 0x80 ? 3 : 0);
		e = saksi_client_prove_consistency(c, m, n, proof, &nproof);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_NOT_FOUND ||
		               e == SAKSI_ERR_REFUSED,
		           "prove_consistency gave %d", e);
		if (e == SAKSI_OK)
			FUZZ_CHECK(nproof <= SAKSI_MERKLE_MAX_PROOF && (m != n || nproof == 0),
			           "%zu hashes for %llu..%llu", nproof, (unsigned long long)m,
			           (unsigned long long)n);
		break;
	}
	check_refusal(c, e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t reply[SAKSI_WIRE_MSG_MAX];
	const uint8_t *env[FZ_ITEMS_MAX];
	saksi_result results[FZ_ITEMS_MAX];
	saksi_client *c;
	saksi_checkpoint ck;
	char *note = NULL;
	size_t n, i, len;
	int mode, op;
	saksi_err e;

	if (size < 1 || size > sizeof reply - 2)
		return 0;
	mode = data[0];
	op = mode & 7;
	if (op > 5)
		op = 0;
	/* wire.h's parser on the raw bytes as well, against the reference. */
	FUZZ_CHECK(saksi_retry_after_ms((const char *)data + 1, size - 1) ==
	               ref_retry_after((const char *)data + 1, size - 1),
	           "saksi_retry_after_ms disagrees with the reference");
	c = mode & 0x10 ? fz_client_nolog : fz_client;
	n = 1 + ((size_t)mode >> 5) % FZ_ITEMS_MAX;
	if (mode & 8) {
		memcpy(reply, data + 1, size - 1);
		fz_reply_len = size - 1;
	} else {
		static const uint8_t ops[6] = { SAKSI_OP_SUBMIT, SAKSI_OP_CHECKPOINT, SAKSI_OP_GET,
		                                SAKSI_OP_INCLUSION, SAKSI_OP_CONSISTENCY,
		                                SAKSI_OP_STATUS };

		reply[0] = SAKSI_WIRE_VERSION;
		reply[1] = ops[op];
		memcpy(reply + 2, data + 1, size - 1);
		fz_reply_len = size + 1;
	}
	fz_reply = reply;

	if (op >= 2) {
		reads(c, op, mode);
		return 0;
	}
	if (op == 1) {
		e = saksi_client_checkpoint(c, &note, &len);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_REFUSED ||
		               e == SAKSI_ERR_SIGNATURE || e == SAKSI_ERR_KEY ||
		               e == SAKSI_ERR_TOO_LARGE,
		           "checkpoint gave %d", e);
		if (e == SAKSI_OK) {
			FUZZ_CHECK(note != NULL && strlen(note) == len, "note length");
			/* Without a log key it is not opened: only with one must it parse. */
			if (c == fz_client)
				FUZZ_CHECK(saksi_checkpoint_open(note, len, &fz_log, &ck) == SAKSI_OK,
				           "checkpoint accepted that does not open");
		} else
			FUZZ_CHECK(note == NULL, "note set on error %d", e);
		free(note);
		return 0;
	}
	for (i = 0; i < n; i++)
		env[i] = fz_env[i];
	e = saksi_client_submit_raw(c, env, fz_env_len, NULL, NULL, n, results);
	check_results(e, results, n, c == fz_client);
	check_refusal(c, e);
	for (i = 0; i < n; i++)
		saksi_result_clear(&results[i]);
	return 0;
}
