/*
 * client.c: the producer side of FORMATS.md section 3. Builds, signs and seals events,
 * sends them over a nanomsg REQ socket and reports success only for receipts it has
 * verified itself. Never trusts a reply's lengths, counts or texts: a reply is hostile input.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <sodium.h>

#include "bytes.h"
#include "client.h"
#include "envelope.h"
#include "keylog.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"
#include "verify.h"
#include "wire.h"

#define DEFAULT_TIMEOUT_MS 10000
#define LEAF_EXTRA_LEN 42 /* version, kind, commit_time_ms, prev_root: FORMATS.md 4 */
#define LEAF_VERSION 1
#define LEAF_KIND_EVENT 1

struct saksi_client {
	int c_sock;               /* -1 after a failed exchange: reopened on next use */
	char *c_url;
	int c_timeout_ms;
	const saksi_seckey *c_key;
	uint8_t c_box_pk[32];
	int c_has_box;
	const saksi_note_verifier *c_log;
	const saksi_schemas *c_schemas;
	int c_status;             /* the last whole-request refusal: reason code, or 0 */
	char c_msg[256];          /* and its message, defused */
};

/* One item as sent: an envelope and its sealed disclosures (maybe empty). */
struct item {
	const uint8_t *it_env;
	size_t it_env_len;
	const uint8_t *it_sealed;
	size_t it_sealed_len;
};

/*
 * Opens and connects the REQ socket. REQ would resend an unanswered request after
 * NN_REQ_RESEND_IVL; we give up at the timeout instead, and then close the socket so that
 * the abandoned request is never sent again behind the caller's back: the caller decides
 * about retrying (the daemon answers an identical resubmission with the first receipt).
 */
static saksi_err
sock_open(saksi_client *c)
{
	int s, maxsize = (int)SAKSI_WIRE_MSG_MAX, t = c->c_timeout_ms;
	int resend = t > INT_MAX / 2 ? INT_MAX : 2 * t;
	saksi_err err;

	if ((s = nn_socket(AF_SP, NN_REQ)) < 0)
		return SAKSI_ERR_NET;
	if (nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &t, sizeof(t)) < 0 ||
	    nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &t, sizeof(t)) < 0 ||
	    nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsize, sizeof(maxsize)) < 0 ||
	    nn_setsockopt(s, NN_REQ, NN_REQ_RESEND_IVL, &resend, sizeof(resend)) < 0) {
		nn_close(s);
		return SAKSI_ERR_NET;
	}
	if (nn_connect(s, c->c_url) < 0) {
		err = (errno == EINVAL || errno == EPROTONOSUPPORT || errno == ENAMETOOLONG)
		          ? SAKSI_ERR_INVAL : SAKSI_ERR_NET;
		nn_close(s);
		return err;
	}
	c->c_sock = s;
	return SAKSI_OK;
}

static void
sock_reset(saksi_client *c)
{
	if (c->c_sock >= 0)
		nn_close(c->c_sock);
	c->c_sock = -1;
}

saksi_err
saksi_client_open(const saksi_client_opts *opts, saksi_client **out)
{
	saksi_client *c;
	saksi_err err;

	if (opts == NULL || out == NULL || opts->co_url == NULL || opts->co_timeout_ms < 0)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if (opts->co_key != NULL && saksi_seckey_kind(opts->co_key) != SAKSI_KEY_SIGN)
		return SAKSI_ERR_KEY;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SAKSI_ERR_NOMEM;
	if ((c->c_url = strdup(opts->co_url)) == NULL) {
		free(c);
		return SAKSI_ERR_NOMEM;
	}
	c->c_key = opts->co_key;
	c->c_log = opts->co_log;
	c->c_schemas = opts->co_schemas;
	if (opts->co_box_pk != NULL) {
		memcpy(c->c_box_pk, opts->co_box_pk, 32);
		c->c_has_box = 1;
	}
	c->c_timeout_ms = opts->co_timeout_ms > 0 ? opts->co_timeout_ms : DEFAULT_TIMEOUT_MS;
	c->c_sock = -1;
	if ((err = sock_open(c)) != SAKSI_OK) {
		free(c->c_url);
		free(c);
		return err;
	}
	*out = c;
	return SAKSI_OK;
}

void
saksi_client_close(saksi_client *c)
{
	if (c == NULL)
		return;
	sock_reset(c);
	free(c->c_url);
	free(c);
}

void
saksi_result_clear(saksi_result *r)
{
	if (r == NULL)
		return;
	free(r->sr_receipt);
	memset(r, 0, sizeof(*r));
}

static void
results_clear(saksi_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		saksi_result_clear(&r[i]);
}

/*
 * Sends req and waits for one reply, which must be version 1 and the same op. On SAKSI_OK
 * *reply is an nn_allocmsg buffer (nn_freemsg) and *status the reply's status byte, with
 * body and body_len the rest.
 */
static saksi_err
transact(saksi_client *c, const uint8_t *req, size_t reqlen, void **reply, int *status,
         const uint8_t **body, size_t *body_len)
{
	void *buf = NULL;
	int n;
	const uint8_t *p;

	*reply = NULL;
	if (c->c_sock < 0 && sock_open(c) != SAKSI_OK)
		return SAKSI_ERR_NET;
	if (nn_send(c->c_sock, req, reqlen, 0) != (int)reqlen)
		goto fail;
	do
		n = nn_recv(c->c_sock, &buf, NN_MSG, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		goto fail;
	p = buf;
	if (n < 3 || p[0] != SAKSI_WIRE_VERSION || p[1] != req[1]) {
		nn_freemsg(buf);
		return SAKSI_ERR_FORMAT;
	}
	*reply = buf;
	*status = p[2];
	*body = p + 3;
	*body_len = (size_t)n - 3;
	return SAKSI_OK;

fail:
	n = errno;
	sock_reset(c);
	return n == ETIMEDOUT || n == EAGAIN ? SAKSI_ERR_TIMEOUT : SAKSI_ERR_NET;
}

/* A one-line reason from the daemon, with anything that is not printable ASCII defused. */
static void
copy_message(char *dst, size_t dstlen, const char *prefix, const uint8_t *text, size_t len)
{
	size_t i, o;

	o = (size_t)snprintf(dst, dstlen, "%s", prefix);
	if (o >= dstlen)
		return;
	for (i = 0; i < len && o + 1 < dstlen; i++)
		dst[o++] = text[i] >= 0x20 && text[i] < 0x7f ? (char)text[i] : '?';
	dst[o] = '\0';
}

static void
refusal_reset(saksi_client *c)
{
	c->c_status = 0;
	c->c_msg[0] = '\0';
}

/*
 * Checks a receipt for the item it answers: well-formed, for an event leaf, and (with a
 * log key) proving extra || envelope in a checkpoint signed by the log.
 */
static saksi_err
check_receipt(const saksi_client *c, const struct item *it, const uint8_t *text, size_t len,
              saksi_result *r)
{
	saksi_tlog_proof *tp;
	uint8_t *leaf = NULL;
	saksi_hash lh;
	saksi_err err;

	if (memchr(text, '\0', len) != NULL)
		return SAKSI_ERR_FORMAT;
	if ((tp = malloc(sizeof(*tp))) == NULL)
		return SAKSI_ERR_NOMEM;
	err = SAKSI_ERR_FORMAT;
	if (saksi_tlog_proof_parse((const char *)text, len, tp) != SAKSI_OK)
		goto out;
	if (!tp->tp_has_extra || tp->tp_extra_len != LEAF_EXTRA_LEN ||
	    tp->tp_extra[0] != LEAF_VERSION || tp->tp_extra[1] != LEAF_KIND_EVENT)
		goto out;
	if (c->c_log != NULL) {
		err = SAKSI_ERR_NOMEM;
		if ((leaf = malloc(LEAF_EXTRA_LEN + it->it_env_len)) == NULL)
			goto out;
		memcpy(leaf, tp->tp_extra, LEAF_EXTRA_LEN);
		memcpy(leaf + LEAF_EXTRA_LEN, it->it_env, it->it_env_len);
		saksi_merkle_leaf_hash(lh, leaf, LEAF_EXTRA_LEN + it->it_env_len);
		/* Whatever the reason (signature, root, range), the receipt does not prove it. */
		err = SAKSI_ERR_PROOF;
		if (saksi_tlog_proof_verify(tp, c->c_log, lh, NULL) != SAKSI_OK)
			goto out;
	}
	err = SAKSI_ERR_NOMEM;
	if ((r->sr_receipt = malloc(len + 1)) == NULL)
		goto out;
	memcpy(r->sr_receipt, text, len);
	r->sr_receipt[len] = '\0';
	r->sr_index = tp->tp_index;
	err = SAKSI_OK;
out:
	free(leaf);
	free(tp);
	return err;
}

/* Parses a submit reply body for the n items sent, strictly, into results[n]. */
static saksi_err
parse_submit_reply(const saksi_client *c, const struct item *items, size_t n,
                   const uint8_t *body, size_t len, saksi_result *results)
{
	size_t off = 2, i, tlen;
	int code;
	saksi_err err;

	if (len < 2 || saksi_get_u16(body) != n)
		return SAKSI_ERR_FORMAT;
	for (i = 0; i < n; i++) {
		if (len - off < 5)
			return SAKSI_ERR_FORMAT;
		code = body[off];
		tlen = saksi_get_u32(body + off + 1);
		off += 5;
		if (len - off < tlen)
			return SAKSI_ERR_FORMAT;
		results[i].sr_code = code;
		if (code == SAKSI_R_ACCEPTED || code == SAKSI_R_DUPLICATE) {
			if ((err = check_receipt(c, &items[i], body + off, tlen, &results[i])) !=
			    SAKSI_OK)
				return err;
		} else if (code >= SAKSI_R_PARSE && code < SAKSI_R__COUNT)
			copy_message(results[i].sr_message, sizeof(results[i].sr_message), "",
			             body + off, tlen);
		else
			return SAKSI_ERR_FORMAT;
		off += tlen;
	}
	return off == len ? SAKSI_OK : SAKSI_ERR_FORMAT;
}

static saksi_err
submit_items(saksi_client *c, const struct item *items, size_t n, saksi_result *results)
{
	uint8_t *req, *p;
	size_t reqlen = 4, i, body_len;
	const uint8_t *body;
	void *reply = NULL;
	int status;
	saksi_err err;

	for (i = 0; i < n; i++) {
		if (items[i].it_env_len > UINT32_MAX || items[i].it_sealed_len > UINT32_MAX)
			return SAKSI_ERR_TOO_LARGE;
		if (items[i].it_env_len > SAKSI_WIRE_MSG_MAX ||
		    items[i].it_sealed_len > SAKSI_WIRE_MSG_MAX)
			return SAKSI_ERR_TOO_LARGE;
		reqlen += 8 + items[i].it_env_len + items[i].it_sealed_len;
		if (reqlen > SAKSI_WIRE_MSG_MAX)
			return SAKSI_ERR_TOO_LARGE;
	}
	if ((req = malloc(reqlen)) == NULL)
		return SAKSI_ERR_NOMEM;
	p = req;
	*p++ = SAKSI_WIRE_VERSION;
	*p++ = SAKSI_OP_SUBMIT;
	saksi_put_u16(p, (uint16_t)n);
	p += 2;
	for (i = 0; i < n; i++) {
		saksi_put_u32(p, (uint32_t)items[i].it_env_len);
		memcpy(p + 4, items[i].it_env, items[i].it_env_len);
		p += 4 + items[i].it_env_len;
		saksi_put_u32(p, (uint32_t)items[i].it_sealed_len);
		if (items[i].it_sealed_len > 0)
			memcpy(p + 4, items[i].it_sealed, items[i].it_sealed_len);
		p += 4 + items[i].it_sealed_len;
	}
	err = transact(c, req, reqlen, &reply, &status, &body, &body_len);
	free(req);
	if (err != SAKSI_OK)
		return err;
	if (status == 0) {
		err = parse_submit_reply(c, items, n, body, body_len, results);
		if (err != SAKSI_OK)
			results_clear(results, n);
	} else if (status >= SAKSI_R_PARSE && status < SAKSI_R__COUNT) {
		/* The whole request was refused (unparseable, or the ledger is unavailable). */
		c->c_status = status;
		copy_message(c->c_msg, sizeof(c->c_msg), "", body, body_len);
		for (i = 0; i < n; i++) {
			results[i].sr_code = status;
			copy_message(results[i].sr_message, sizeof(results[i].sr_message), "",
			             body, body_len);
		}
		err = SAKSI_ERR_REFUSED;
	} else
		err = SAKSI_ERR_FORMAT;
	nn_freemsg(reply);
	return err;
}

saksi_err
saksi_client_submit_raw(saksi_client *c, const uint8_t *const *env, const size_t *env_len,
                        const uint8_t *const *sealed, const size_t *sealed_len, size_t n,
                        saksi_result *results)
{
	struct item *items;
	saksi_err err;
	size_t i;

	if (c == NULL || env == NULL || env_len == NULL || results == NULL || n == 0 ||
	    n > SAKSI_WIRE_BATCH_MAX)
		return SAKSI_ERR_INVAL;
	refusal_reset(c);
	memset(results, 0, n * sizeof(*results));
	if ((items = calloc(n, sizeof(*items))) == NULL)
		return SAKSI_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		if (env[i] == NULL) {
			free(items);
			return SAKSI_ERR_INVAL;
		}
		items[i].it_env = env[i];
		items[i].it_env_len = env_len[i];
		if (sealed != NULL && sealed_len != NULL && sealed_len[i] > 0) {
			if (sealed[i] == NULL) {
				free(items);
				return SAKSI_ERR_INVAL;
			}
			items[i].it_sealed = sealed[i];
			items[i].it_sealed_len = sealed_len[i];
		}
	}
	err = submit_items(c, items, n, results);
	free(items);
	return err;
}

/* What an event became: an item to send, or a result already decided here. */
struct built {
	uint8_t *b_env;
	size_t b_env_len;
	uint8_t *b_sealed;
	size_t b_sealed_len;
	int b_local;              /* refused here; b_code/b_msg say why */
	int b_code;
	char b_msg[200];
};

static void
local_refusal(struct built *b, int code, const char *why)
{
	b->b_local = 1;
	b->b_code = code;
	snprintf(b->b_msg, sizeof(b->b_msg), "%s", why);
}

/*
 * Builds one event: clear-value schema check, disclosures, signature, seal. Refusals the
 * daemon would certainly make are decided here (the event is not sent); other failures
 * fail the whole call.
 */
static saksi_err
build_event(saksi_client *c, const saksi_event *ev, struct built *b)
{
	const char *const *personal;
	char *payload = NULL, *discs = NULL, errbuf[160];
	size_t plen = 0, dlen = 0, np = 0;
	saksi_err err;

	if (ev->se_type == NULL || ev->se_payload == NULL)
		return SAKSI_ERR_INVAL;
	if ((personal = saksi_schemas_personal(c->c_schemas, ev->se_type)) == NULL) {
		local_refusal(b, SAKSI_R_SCHEMA, "unknown event type");
		return SAKSI_OK;
	}
	errbuf[0] = '\0';
	err = saksi_schemas_validate_clear(c->c_schemas, ev->se_type, ev->se_payload,
	                                   strlen(ev->se_payload), errbuf, sizeof(errbuf));
	if (err == SAKSI_ERR_SCHEMA || err == SAKSI_ERR_NOT_FOUND) {
		local_refusal(b, SAKSI_R_SCHEMA, errbuf[0] ? errbuf : "payload does not match "
		              "the event schema");
		return SAKSI_OK;
	}
	if (err != SAKSI_OK)
		return err;
	while (personal[np] != NULL)
		np++;
	err = saksi_disclose_payload(ev->se_payload, strlen(ev->se_payload), personal, np,
	                             &payload, &plen, &discs, &dlen);
	if (err == SAKSI_ERR_FORMAT || err == SAKSI_ERR_TOO_LARGE) {
		local_refusal(b, err == SAKSI_ERR_FORMAT ? SAKSI_R_SCHEMA : SAKSI_R_SIZE,
		              "personal fields could not be disclosed");
		return SAKSI_OK;
	}
	if (err != SAKSI_OK)
		return err;

	if ((b->b_env = malloc(SAKSI_ENV_MAX)) == NULL) {
		err = SAKSI_ERR_NOMEM;
		goto out;
	}
	err = saksi_envelope_sign(c->c_key, ev->se_seq, ev->se_time_ms, ev->se_type,
	                          (const uint8_t *)payload, plen, b->b_env, SAKSI_ENV_MAX,
	                          &b->b_env_len);
	if (err == SAKSI_ERR_TOO_LARGE || err == SAKSI_ERR_FORMAT) {
		local_refusal(b, err == SAKSI_ERR_TOO_LARGE ? SAKSI_R_SIZE : SAKSI_R_PARSE,
		              err == SAKSI_ERR_TOO_LARGE ? "envelope over the size cap"
		                                         : "bad type or sequence number 0");
		err = SAKSI_OK;
		goto out;
	}
	if (err != SAKSI_OK)
		goto out;
	/* No personal field present: nothing to seal, sealed_len 0 (FORMATS.md 3). */
	if (strcmp(discs, "[]") != 0) {
		if ((b->b_sealed = malloc(dlen + 64)) == NULL) {
			err = SAKSI_ERR_NOMEM;
			goto out;
		}
		err = saksi_disclosures_seal(c->c_key, c->c_box_pk, b->b_env, b->b_env_len,
		                             (const uint8_t *)discs, dlen, b->b_sealed, dlen + 64,
		                             &b->b_sealed_len);
		if (err == SAKSI_ERR_TOO_LARGE) {
			local_refusal(b, SAKSI_R_SIZE, "disclosures over the size cap");
			err = SAKSI_OK;
		}
	}
out:
	free(payload);
	if (discs != NULL) {
		sodium_memzero(discs, dlen); /* personal data in clear */
		free(discs);
	}
	return err;
}

saksi_err
saksi_client_submit(saksi_client *c, const saksi_event *ev, size_t n, saksi_result *results)
{
	struct built *b;
	struct item *items = NULL;
	saksi_result *sub = NULL;
	size_t i, k = 0;
	saksi_err err = SAKSI_OK;

	if (c == NULL || ev == NULL || results == NULL || n == 0 || n > SAKSI_WIRE_BATCH_MAX)
		return SAKSI_ERR_INVAL;
	refusal_reset(c);
	memset(results, 0, n * sizeof(*results));
	if (c->c_key == NULL || !c->c_has_box || c->c_schemas == NULL)
		return SAKSI_ERR_INVAL;
	if ((b = calloc(n, sizeof(*b))) == NULL)
		return SAKSI_ERR_NOMEM;
	for (i = 0; i < n && err == SAKSI_OK; i++)
		err = build_event(c, &ev[i], &b[i]);
	if (err != SAKSI_OK)
		goto out;

	items = calloc(n, sizeof(*items));
	sub = calloc(n, sizeof(*sub));
	if (items == NULL || sub == NULL) {
		err = SAKSI_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (b[i].b_local)
			continue;
		items[k].it_env = b[i].b_env;
		items[k].it_env_len = b[i].b_env_len;
		items[k].it_sealed = b[i].b_sealed;
		items[k].it_sealed_len = b[i].b_sealed_len;
		k++;
	}
	if (k > 0 && (err = submit_items(c, items, k, sub)) != SAKSI_OK &&
	    err != SAKSI_ERR_REFUSED) {
		results_clear(sub, k);
		goto out;
	}
	for (i = 0, k = 0; i < n; i++) {
		if (b[i].b_local) {
			results[i].sr_code = b[i].b_code;
			snprintf(results[i].sr_message, sizeof(results[i].sr_message),
			         "not sent: %s", b[i].b_msg);
		} else
			results[i] = sub[k++];
	}
out:
	for (i = 0; i < n; i++) {
		free(b[i].b_env);
		free(b[i].b_sealed);
	}
	free(b);
	free(items);
	free(sub);
	return err;
}

saksi_err
saksi_client_checkpoint(saksi_client *c, char **note, size_t *len)
{
	static const uint8_t req[2] = { SAKSI_WIRE_VERSION, SAKSI_OP_CHECKPOINT };
	const uint8_t *body;
	size_t body_len;
	void *reply;
	int status;
	saksi_checkpoint ck;
	saksi_err err;

	if (c == NULL || note == NULL || len == NULL)
		return SAKSI_ERR_INVAL;
	*note = NULL;
	refusal_reset(c);
	if ((err = transact(c, req, sizeof(req), &reply, &status, &body, &body_len)) != SAKSI_OK)
		return err;
	if (status != 0) {
		err = SAKSI_ERR_FORMAT;
		if (status >= SAKSI_R_PARSE && status < SAKSI_R__COUNT) {
			c->c_status = status;
			copy_message(c->c_msg, sizeof(c->c_msg), "", body, body_len);
			err = SAKSI_ERR_REFUSED;
		}
		goto out;
	}
	err = SAKSI_ERR_FORMAT;
	if (body_len == 0 || body_len > SAKSI_NOTE_MAX || memchr(body, '\0', body_len) != NULL)
		goto out;
	if (c->c_log != NULL &&
	    (err = saksi_checkpoint_open((const char *)body, body_len, c->c_log, &ck)) !=
	    SAKSI_OK)
		goto out;
	err = SAKSI_ERR_NOMEM;
	if ((*note = malloc(body_len + 1)) == NULL)
		goto out;
	memcpy(*note, body, body_len);
	(*note)[body_len] = '\0';
	*len = body_len;
	err = SAKSI_OK;
out:
	nn_freemsg(reply);
	return err;
}

/* ---- read-only requests (ops 3-5) ---- */

static unsigned
bitlen64(uint64_t x)
{
	return x == 0 ? 0 : 64 - (unsigned)__builtin_clzll(x);
}

static unsigned
ones_above(uint64_t x, unsigned shift)
{
	return shift >= 64 ? 0 : (unsigned)__builtin_popcountll(x >> shift);
}

/*
 * The number of hashes in an RFC 9162 inclusion proof for index < size, and in a
 * consistency proof for 0 < m < n: the counts transparency-dev/merkle's verifiers demand.
 * Knowing them lets a reply of the wrong length be malformed here, not a proof failure later.
 */
static size_t
inclusion_len(uint64_t index, uint64_t size)
{
	unsigned inner = bitlen64(index ^ (size - 1));

	return inner + ones_above(index, inner);
}

static size_t
consistency_len(uint64_t m, uint64_t n)
{
	unsigned inner = bitlen64((m - 1) ^ (n - 1)), shift = (unsigned)__builtin_ctzll(m);

	/* The proof starts with the root of the 2^shift subtree m ends in, unless that
	 * subtree is the whole old tree (m a power of two). shift < inner as m < n. */
	return ((m & (m - 1)) != 0) + (inner - shift) + ones_above(m - 1, inner);
}

/*
 * Sends a read request (op and its body) and maps the reply's status. On SAKSI_OK *reply
 * holds the message (nn_freemsg) and body/body_len the status-0 body; on any other result
 * nothing is held. A refusal is recorded for saksi_client_refusal.
 */
static saksi_err
read_request(saksi_client *c, int op, const uint8_t *args, size_t nargs, void **reply,
             const uint8_t **body, size_t *body_len)
{
	uint8_t req[2 + 16];
	int status;
	saksi_err err;

	req[0] = SAKSI_WIRE_VERSION;
	req[1] = (uint8_t)op;
	if (nargs > 0)
		memcpy(req + 2, args, nargs);
	if ((err = transact(c, req, 2 + nargs, reply, &status, body, body_len)) != SAKSI_OK)
		return err;
	if (status == SAKSI_R_ACCEPTED)
		return SAKSI_OK;
	err = SAKSI_ERR_FORMAT;
	if (status >= SAKSI_R_PARSE && status < SAKSI_R__COUNT) {
		c->c_status = status;
		copy_message(c->c_msg, sizeof(c->c_msg), "", *body, *body_len);
		/* Our request is well-formed, so "parse" can only mean "not in the log". */
		err = status == SAKSI_R_PARSE ? SAKSI_ERR_NOT_FOUND : SAKSI_ERR_REFUSED;
	}
	nn_freemsg(*reply);
	*reply = NULL;
	return err;
}

saksi_err
saksi_client_get(saksi_client *c, uint64_t index, uint8_t **leaf, size_t *len)
{
	uint8_t args[8];
	const uint8_t *body;
	size_t body_len;
	void *reply;
	saksi_leaf lf;
	saksi_envelope ev;
	saksi_err err;

	if (c == NULL || leaf == NULL || len == NULL)
		return SAKSI_ERR_INVAL;
	*leaf = NULL;
	*len = 0;
	refusal_reset(c);
	saksi_put_u64(args, index);
	if ((err = read_request(c, SAKSI_OP_GET, args, sizeof(args), &reply, &body,
	                        &body_len)) != SAKSI_OK)
		return err;
	/* The body as strictly as the reviewer's verify reads it: the leaf has no length of
	 * its own, so only its body's lengths can show bytes missing or added. */
	err = SAKSI_ERR_FORMAT;
	if (saksi_leaf_parse(body, body_len, &lf) != SAKSI_OK)
		goto out;
	if (lf.lf_kind == SAKSI_LEAF_EVENT ?
	    saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &ev) != SAKSI_OK :
	    lf.lf_kind == SAKSI_LEAF_KEYRING ?
	    saksi_keylog_entry_parse(lf.lf_body, lf.lf_body_len, NULL, NULL, 0) != SAKSI_OK :
	    saksi_refusals_parse(lf.lf_body, lf.lf_body_len, NULL) != SAKSI_OK)
		goto out;
	err = SAKSI_ERR_NOMEM;
	if ((*leaf = malloc(body_len)) == NULL)
		goto out;
	memcpy(*leaf, body, body_len);
	*len = body_len;
	err = SAKSI_OK;
out:
	nn_freemsg(reply);
	return err;
}

/* The checkpoint in a parsed tlog-proof: opened with the log key, or (without one) only
 * parsed, its text ending at the note's one blank line. */
static saksi_err
proof_checkpoint(const saksi_client *c, const saksi_tlog_proof *tp, saksi_checkpoint *ck)
{
	const char *sep;

	if (c->c_log != NULL)
		return saksi_checkpoint_open(tp->tp_note, tp->tp_note_len, c->c_log, ck);
	if ((sep = memmem(tp->tp_note, tp->tp_note_len, "\n\n", 2)) == NULL ||
	    saksi_checkpoint_parse(tp->tp_note, (size_t)(sep - tp->tp_note) + 1, ck) !=
	    SAKSI_OK)
		return SAKSI_ERR_FORMAT;
	return SAKSI_OK;
}

saksi_err
saksi_client_prove_inclusion(saksi_client *c, uint64_t index, uint64_t size, char **tlog_proof,
                             size_t *len)
{
	uint8_t args[16];
	const uint8_t *body;
	size_t body_len;
	void *reply;
	saksi_tlog_proof *tp = NULL;
	saksi_checkpoint ck;
	saksi_err err;

	if (c == NULL || tlog_proof == NULL || len == NULL)
		return SAKSI_ERR_INVAL;
	*tlog_proof = NULL;
	*len = 0;
	refusal_reset(c);
	if (size != 0 && index >= size)
		return SAKSI_ERR_RANGE;
	saksi_put_u64(args, index);
	saksi_put_u64(args + 8, size);
	if ((err = read_request(c, SAKSI_OP_INCLUSION, args, sizeof(args), &reply, &body,
	                        &body_len)) != SAKSI_OK)
		return err;
	err = SAKSI_ERR_FORMAT;
	if (body_len == 0 || body_len > SAKSI_TLOG_PROOF_MAX ||
	    memchr(body, '\0', body_len) != NULL)
		goto out;
	err = SAKSI_ERR_NOMEM;
	if ((tp = malloc(sizeof(*tp))) == NULL)
		goto out;
	err = SAKSI_ERR_FORMAT;
	if (saksi_tlog_proof_parse((const char *)body, body_len, tp) != SAKSI_OK)
		goto out;
	if (!tp->tp_has_extra || tp->tp_extra_len != SAKSI_LEAF_HDR ||
	    tp->tp_extra[0] != SAKSI_LEAF_VERSION ||
	    (tp->tp_extra[1] != SAKSI_LEAF_EVENT && tp->tp_extra[1] != SAKSI_LEAF_REFUSALS &&
	     tp->tp_extra[1] != SAKSI_LEAF_KEYRING) ||
	    tp->tp_index != index)
		goto out;
	if ((err = proof_checkpoint(c, tp, &ck)) != SAKSI_OK)
		goto out;
	err = SAKSI_ERR_FORMAT;
	if ((size != 0 && ck.ck_size != size) || index >= ck.ck_size ||
	    tp->tp_proof_len != inclusion_len(index, ck.ck_size))
		goto out;
	err = SAKSI_ERR_NOMEM;
	if ((*tlog_proof = malloc(body_len + 1)) == NULL)
		goto out;
	memcpy(*tlog_proof, body, body_len);
	(*tlog_proof)[body_len] = '\0';
	*len = body_len;
	err = SAKSI_OK;
out:
	free(tp);
	nn_freemsg(reply);
	return err;
}

saksi_err
saksi_client_prove_consistency(saksi_client *c, uint64_t m, uint64_t n,
                               saksi_hash proof[SAKSI_MERKLE_MAX_PROOF], size_t *nproof)
{
	uint8_t args[16];
	const uint8_t *body;
	size_t body_len, k, want;
	void *reply;
	saksi_err err;

	if (c == NULL || proof == NULL || nproof == NULL)
		return SAKSI_ERR_INVAL;
	*nproof = 0;
	refusal_reset(c);
	if (m == 0 || m > n)
		return SAKSI_ERR_RANGE;
	want = m == n ? 0 : consistency_len(m, n);
	saksi_put_u64(args, m);
	saksi_put_u64(args + 8, n);
	if ((err = read_request(c, SAKSI_OP_CONSISTENCY, args, sizeof(args), &reply, &body,
	                        &body_len)) != SAKSI_OK)
		return err;
	err = SAKSI_ERR_FORMAT;
	if (body_len < 1)
		goto out;
	k = body[0];
	if (k != want || k > SAKSI_MERKLE_MAX_PROOF || body_len != 1 + k * SAKSI_HASH_LEN)
		goto out;
	for (size_t i = 0; i < k; i++)
		memcpy(proof[i], body + 1 + i * SAKSI_HASH_LEN, SAKSI_HASH_LEN);
	*nproof = k;
	err = SAKSI_OK;
out:
	nn_freemsg(reply);
	return err;
}

saksi_err
saksi_client_status(saksi_client *c, char **json, size_t *len)
{
	const uint8_t *body;
	size_t body_len;
	void *reply = NULL;
	json_t *root, *v;
	char *out;
	saksi_err err;

	if (c == NULL || json == NULL || len == NULL)
		return SAKSI_ERR_INVAL;
	*json = NULL;
	*len = 0;
	refusal_reset(c);
	if ((err = read_request(c, SAKSI_OP_STATUS, NULL, 0, &reply, &body, &body_len)) !=
	    SAKSI_OK)
		return err;
	/* A NUL byte anywhere is malformed (jansson would read past one between members),
	 * and the text handed back must be one C string. */
	root = memchr(body, '\0', body_len) != NULL ? NULL :
	    json_loadb((const char *)body, body_len, JSON_REJECT_DUPLICATES, NULL);
	v = json_object_get(root, "saksi_status");
	if (!json_is_object(root) || !json_is_integer(v) || json_integer_value(v) != 1) {
		json_decref(root);
		nn_freemsg(reply);
		return SAKSI_ERR_FORMAT;
	}
	json_decref(root);
	if ((out = malloc(body_len + 1)) == NULL) {
		nn_freemsg(reply);
		return SAKSI_ERR_NOMEM;
	}
	memcpy(out, body, body_len);
	out[body_len] = '\0';
	nn_freemsg(reply);
	*json = out;
	*len = body_len;
	return SAKSI_OK;
}

uint64_t
saksi_client_retry_after(const saksi_client *c)
{
	if (c == NULL || c->c_status != SAKSI_R_BUSY)
		return 0;
	return saksi_retry_after_ms(c->c_msg, strlen(c->c_msg));
}

const char *
saksi_client_refusal(const saksi_client *c, int *status)
{
	if (status != NULL)
		*status = c != NULL ? c->c_status : 0;
	return c != NULL ? c->c_msg : "";
}
