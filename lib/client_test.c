/*
 * client_test.c: the client against a real peer over a real socket: a small nanomsg REP
 * responder thread on an ipc:// socket in a mkdtemp() directory that speaks FORMATS.md 3
 * (verifies, opens the seals, appends to an in-memory RFC 9162 tree, signs checkpoints,
 * returns tlog-proof receipts), and that can be told to answer wrongly in every way the
 * client must refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <sodium.h>

#include "bytes.h"
#include "client.h"
#include "envelope.h"
#include "keys.h"
#include "merkle.h"
#include "note.h"
#include "schema.h"
#include "wire.h"
#include "../tests/tmpdir.h"
#include "../tests/keyring_fixture.h"

#define ORIGIN "saksi.test/log"
#define COMMIT_TIME 1718000005000ULL
#define OP_STOP 0xff
#define MAX_LEAVES 1024
#define RECEIPT_MAX (SAKSI_NOTE_MAX + 8192)

enum mode {
	M_NORMAL,
	M_SILENT,        /* never answers */
	M_TRUNCATE,      /* last byte missing */
	M_TRAILING,      /* one byte too many */
	M_SHORT,         /* two bytes */
	M_VERSION,       /* reply version 2 */
	M_OP,            /* reply for another op */
	M_COUNT_PLUS,    /* count one too high */
	M_COUNT_MINUS,   /* count one too low */
	M_TEXTLEN,       /* first text_len 0xffffffff */
	M_CODE,          /* first result code SAKSI_R__COUNT (unknown) */
	M_EXTRA,         /* receipt's extra is not the stored leaf's */
	M_WRONG_LOG,     /* checkpoint signed by another key of the same name */
	M_GARBAGE,       /* receipt text is not a tlog-proof */
	M_KIND2,         /* receipt's extra says kind 2 (refusal summary) */
	M_UNAVAILABLE,   /* status 14 for the whole request */
	M_STATUS_BAD,    /* status 200 */
	M_ESCAPE,        /* every item refused with control characters in the text */
	/* read requests (ops 3-5) */
	M_STATUS_DUP,    /* status 1 (duplicate) for the whole request */
	M_LEAF_VERSION,  /* get: leaf version 2 */
	M_LEAF_KIND,     /* get: leaf kind 3 */
	M_LEAF_SHORT,    /* get: 41 bytes of leaf */
	M_INDEX,         /* inclusion: a proof for a neighbouring index */
	M_SIZE,          /* inclusion: a checkpoint one larger than asked */
	M_KIND3,         /* inclusion: extra says kind 3 */
	M_NUL,           /* inclusion: a NUL byte inside the text */
	M_PROOF_SHORT,   /* inclusion, consistency: the last hash left out */
	M_PROOF_LONG,    /* inclusion, consistency: one hash too many */
	M_COUNT_LIE,     /* consistency: the count byte one higher than the hashes sent */
	M_BUSY,          /* status 15 for the whole request, "retry after 25 ms" */
	/* status (op 6), besides the common ones */
	M_JSON_ARRAY,    /* a JSON array */
	M_JSON_VERSION,  /* "saksi_status": 2 */
	M_JSON_DUP,      /* a duplicate member */
	M_JSON_BAD,      /* not JSON */
	M_JSON_NUL,      /* a NUL byte between members (jansson reads past it) */
};

struct fx {
	char dir[64];
	char url[128];
	int rep;
	pthread_t thread;
	_Atomic int mode;
	/* keys and schemas */
	saksi_seckey *prod, *app, *log, *log2;
	saksi_pubkey prod_pub, app_pub;
	saksi_note_verifier logv;
	saksi_schemas *schemas;
	/* the responder's ledger (only the responder thread touches it while it runs) */
	uint8_t *leaf[MAX_LEAVES];
	size_t leaf_len[MAX_LEAVES];
	saksi_hash lh[MAX_LEAVES];
	size_t n;
	uint64_t last_seq;
	size_t requests;         /* submit requests seen */
	size_t reads;            /* read requests (ops 3-5) seen */
	size_t items_seen;       /* items in them */
	char last_nik[64];       /* a personal value the responder decrypted */
};

/*
 * The responder runs in its own thread, where cmocka's asserts cannot be used: anything it
 * does not expect (a malformed request from the client) aborts the test loudly.
 */
#define R_CHECK(x)                                                                     \
	do {                                                                           \
		if (!(x)) {                                                            \
			fprintf(stderr, "responder: %s failed (line %d)\n", #x, __LINE__); \
			abort();                                                       \
		}                                                                      \
	} while (0)

/* ---- the responder's tree ---- */

static saksi_err
subtree(void *ctx, unsigned level, uint64_t index, saksi_hash out)
{
	struct fx *fx = ctx;
	saksi_hash l, r;

	if (level == 0) {
		if (index >= fx->n)
			return SAKSI_ERR_RANGE;
		memcpy(out, fx->lh[index], SAKSI_HASH_LEN);
		return SAKSI_OK;
	}
	if (subtree(ctx, level - 1, 2 * index, l) != SAKSI_OK ||
	    subtree(ctx, level - 1, 2 * index + 1, r) != SAKSI_OK)
		return SAKSI_ERR_RANGE;
	saksi_merkle_node_hash(out, l, r);
	return SAKSI_OK;
}

/* The responder signs a checkpoint of any size it is asked for (saksid keeps one per
 * commit group; the client cannot tell the difference). */
static void
signed_checkpoint(struct fx *fx, const saksi_seckey *key, uint64_t size, char *note,
                  size_t notelen, size_t *w)
{
	saksi_checkpoint ck;
	char body[512];
	size_t bl;

	memset(&ck, 0, sizeof(ck));
	strcpy(ck.ck_origin, ORIGIN);
	ck.ck_size = size;
	R_CHECK((saksi_merkle_root(subtree, fx, size, ck.ck_root)) == SAKSI_OK);
	R_CHECK((saksi_checkpoint_format(&ck, body, sizeof(body), &bl)) == SAKSI_OK);
	R_CHECK((saksi_note_sign(body, bl, ORIGIN, saksi_seckey_ed25519(key), note,
	                                 notelen, w)) == SAKSI_OK);
}

static size_t
make_receipt(struct fx *fx, uint64_t index, uint64_t size, int mode, char *out, size_t outlen)
{
	saksi_tlog_proof *tp = calloc(1, sizeof(*tp));
	size_t w;

	R_CHECK(tp != NULL);
	if (mode == M_GARBAGE) {
		free(tp);
		return (size_t)snprintf(out, outlen, "this is not a receipt\n");
	}
	tp->tp_has_extra = 1;
	tp->tp_extra_len = 42;
	memcpy(tp->tp_extra, fx->leaf[index], 42);
	if (mode == M_EXTRA)
		tp->tp_extra[9] ^= 1;
	if (mode == M_KIND2)
		tp->tp_extra[1] = 2;
	if (mode == M_KIND3)
		tp->tp_extra[1] = 3;
	tp->tp_index = index;
	R_CHECK((saksi_merkle_prove_inclusion(subtree, fx, index, size, tp->tp_proof,
	                                              &tp->tp_proof_len)) == SAKSI_OK);
	if (mode == M_INDEX)
		tp->tp_index = index + 1 < size ? index + 1 : index - 1;
	if (mode == M_SIZE)
		size = size < fx->n ? size + 1 : size - 1;
	if (mode == M_PROOF_SHORT && tp->tp_proof_len > 0)
		tp->tp_proof_len--;
	if (mode == M_PROOF_LONG)
		memcpy(tp->tp_proof[tp->tp_proof_len++], fx->lh[0], SAKSI_HASH_LEN);
	signed_checkpoint(fx, mode == M_WRONG_LOG ? fx->log2 : fx->log, size, tp->tp_note,
	                  sizeof(tp->tp_note), &tp->tp_note_len);
	R_CHECK((saksi_tlog_proof_format(tp, out, outlen, &w)) == SAKSI_OK);
	free(tp);
	return w;
}

/* Checks one item as the daemon would (in short); appends it or says why not. */
static int
judge(struct fx *fx, const uint8_t *env, size_t el, const uint8_t *sealed, size_t sl,
      uint64_t *index, const char **why)
{
	saksi_envelope ev;
	uint8_t k[32], *plain = NULL, *leaf;
	size_t plen = 0, i, n;
	char **names, **values, errbuf[128];
	saksi_hash root;
	int ok;

	if (saksi_envelope_parse(env, el, &ev) != SAKSI_OK)
		return *why = "not a well-formed envelope", SAKSI_R_PARSE;
	if (memcmp(ev.ev_key_id, fx->prod_pub.pk_id, 8) != 0)
		return *why = "key_id not in the keyring", SAKSI_R_UNKNOWN_KEY;
	if (saksi_envelope_verify(&ev, fx->prod_pub.pk_key) != SAKSI_OK)
		return *why = "signature does not verify", SAKSI_R_SIGNATURE;
	if (saksi_schemas_validate(fx->schemas, ev.ev_type, (const char *)ev.ev_payload,
	                           ev.ev_payload_len, errbuf, sizeof(errbuf)) != SAKSI_OK)
		return *why = "payload does not match its schema", SAKSI_R_SCHEMA;
	if (sl > 0) {
		R_CHECK((saksi_disclosures_key(fx->app, fx->prod_pub.pk_key, k)) == SAKSI_OK);
		if (saksi_disclosures_open(k, env, el, sealed, sl, &plain, &plen) != SAKSI_OK)
			return *why = "sealed box does not open", SAKSI_R_DISCLOSURE;
	}
	ok = saksi_disclosures_check(ev.ev_payload, ev.ev_payload_len,
	                             plain != NULL ? plain : (const uint8_t *)"[]",
	                             plain != NULL ? plen : 2, &names, &values, &n) == SAKSI_OK;
	free(plain);
	if (!ok)
		return *why = "a disclosure does not match", SAKSI_R_DISCLOSURE;
	for (i = 0; i < n; i++)
		if (strcmp(names[i], "nik") == 0)
			snprintf(fx->last_nik, sizeof(fx->last_nik), "%s", values[i]);
	saksi_disclosures_free(names, values, n);

	for (i = 0; i < fx->n; i++)
		if (fx->leaf_len[i] == 42 + el && memcmp(fx->leaf[i] + 42, env, el) == 0) {
			*index = i;
			return SAKSI_R_DUPLICATE;
		}
	if (ev.ev_seq <= fx->last_seq) {
		for (i = 0; i < fx->n; i++)
			if (saksi_get_u64(fx->leaf[i] + 42 + 10) == ev.ev_seq)
				return *why = "same key and seq as a committed entry", SAKSI_R_EQUIVOCATION;
		return *why = "seq not above the key's last committed seq", SAKSI_R_REPLAY;
	}
	R_CHECK(fx->n < MAX_LEAVES);
	R_CHECK((saksi_merkle_root(subtree, fx, fx->n, root)) == SAKSI_OK);
	leaf = malloc(42 + el);
	leaf[0] = 1;
	leaf[1] = 1;
	saksi_put_u64(leaf + 2, COMMIT_TIME);
	memcpy(leaf + 10, root, 32);
	memcpy(leaf + 42, env, el);
	fx->leaf[fx->n] = leaf;
	fx->leaf_len[fx->n] = 42 + el;
	saksi_merkle_leaf_hash(fx->lh[fx->n], leaf, 42 + el);
	*index = fx->n++;
	fx->last_seq = ev.ev_seq;
	return SAKSI_R_ACCEPTED;
}

/* A submit reply for the request body; NULL-free: asserts on what it cannot parse. */
static uint8_t *
answer_submit(struct fx *fx, const uint8_t *b, size_t len, int mode, size_t *outlen)
{
	size_t count, off = 2, i, o, el, sl;
	int code[SAKSI_WIRE_BATCH_MAX];
	uint64_t idx[SAKSI_WIRE_BATCH_MAX];
	const char *why[SAKSI_WIRE_BATCH_MAX];
	uint8_t *out;
	char *text = malloc(RECEIPT_MAX);

	R_CHECK(len >= 2);
	count = saksi_get_u16(b);
	R_CHECK(count >= 1 && count <= SAKSI_WIRE_BATCH_MAX);
	fx->requests++;
	fx->items_seen += count;
	for (i = 0; i < count; i++) {
		R_CHECK(len - off >= 4);
		el = saksi_get_u32(b + off);
		R_CHECK(len - off - 4 >= el + 4);
		sl = saksi_get_u32(b + off + 4 + el);
		R_CHECK(len - off - 8 - el >= sl);
		code[i] = judge(fx, b + off + 4, el, b + off + 8 + el, sl, &idx[i], &why[i]);
		if (mode == M_ESCAPE) {
			code[i] = SAKSI_R_REPLAY;
			why[i] = "seq 5 is not above 7\x1b[31m\n\x7f\xc3\xa9";
		}
		off += 8 + el + sl;
	}
	R_CHECK((off) == len);

	out = malloc(5 + count * (5 + RECEIPT_MAX));
	out[0] = 1;
	out[1] = SAKSI_OP_SUBMIT;
	out[2] = 0;
	saksi_put_u16(out + 3, (uint16_t)count);
	o = 5;
	for (i = 0; i < count; i++) {
		size_t tl;
		if (code[i] == SAKSI_R_ACCEPTED || code[i] == SAKSI_R_DUPLICATE)
			tl = make_receipt(fx, idx[i], fx->n, mode, text, RECEIPT_MAX);
		else
			tl = (size_t)snprintf(text, RECEIPT_MAX, "%s", why[i]);
		out[o] = (uint8_t)code[i];
		saksi_put_u32(out + o + 1, (uint32_t)tl);
		memcpy(out + o + 5, text, tl);
		o += 5 + tl;
	}
	free(text);
	switch (mode) {
	case M_COUNT_PLUS:
		saksi_put_u16(out + 3, (uint16_t)(count + 1));
		break;
	case M_COUNT_MINUS:
		saksi_put_u16(out + 3, (uint16_t)(count - 1));
		break;
	case M_TEXTLEN:
		saksi_put_u32(out + 6, UINT32_MAX);
		break;
	case M_CODE:
		out[5] = SAKSI_R__COUNT;
		break;
	default:
		break;
	}
	*outlen = o;
	return out;
}

/* A whole-request refusal: status and a one-line message, as saksid's reply_text. */
static size_t __attribute__((format(printf, 3, 4)))
refuse(uint8_t *out, int status, const char *fmt, ...)
{
	va_list ap;
	int n;

	out[2] = (uint8_t)status;
	va_start(ap, fmt);
	n = vsnprintf((char *)out + 3, 256, fmt, ap);
	va_end(ap);
	return 3 + (size_t)n;
}

/* Answers ops 3-5 as saksid's read_op does, or wrongly in the ways `mode` says. */
static size_t
answer_read(struct fx *fx, const uint8_t *r, size_t n, int mode, uint8_t *out)
{
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF + 1];
	uint64_t a, z;
	size_t np, len;

	fx->reads++;
	out[0] = 1;
	out[1] = r[1];
	out[2] = 0;
	switch (r[1]) {
	case SAKSI_OP_GET:
		R_CHECK(n == 10);
		a = saksi_get_u64(r + 2);
		if (a >= fx->n)
			return refuse(out, SAKSI_R_PARSE, "index %llu is not below size %zu",
			              (unsigned long long)a, fx->n);
		len = fx->leaf_len[a];
		memcpy(out + 3, fx->leaf[a], len);
		if (mode == M_LEAF_VERSION)
			out[3] = 2;
		if (mode == M_LEAF_KIND)
			out[4] = 3;
		if (mode == M_LEAF_SHORT)
			len = 41;
		return 3 + len;
	case SAKSI_OP_INCLUSION:
		R_CHECK(n == 18);
		a = saksi_get_u64(r + 2);
		z = saksi_get_u64(r + 10);
		if (z > fx->n)
			return refuse(out, SAKSI_R_PARSE, "no signed checkpoint of size %llu",
			              (unsigned long long)z);
		if (z == 0)
			z = fx->n;
		if (a >= z)
			return refuse(out, SAKSI_R_PARSE, "index %llu is not below size %llu",
			              (unsigned long long)a, (unsigned long long)z);
		len = make_receipt(fx, a, z, mode, (char *)out + 3, RECEIPT_MAX);
		if (mode == M_NUL)
			out[3 + len / 2] = '\0';
		return 3 + len;
	case SAKSI_OP_CONSISTENCY:
		R_CHECK(n == 18);
		a = saksi_get_u64(r + 2);
		z = saksi_get_u64(r + 10);
		if (a == 0 || a > z || z > fx->n)
			return refuse(out, SAKSI_R_PARSE, "sizes %llu and %llu are not 0 < m <= n",
			              (unsigned long long)a, (unsigned long long)z);
		R_CHECK(saksi_merkle_prove_consistency(subtree, fx, a, z, proof, &np) ==
		        SAKSI_OK);
		if (mode == M_PROOF_SHORT && np > 0)
			np--;
		if (mode == M_PROOF_LONG)
			memcpy(proof[np++], fx->lh[0], SAKSI_HASH_LEN);
		out[3] = (uint8_t)(np + (mode == M_COUNT_LIE));
		for (size_t i = 0; i < np; i++)
			memcpy(out + 4 + i * SAKSI_HASH_LEN, proof[i], SAKSI_HASH_LEN);
		return 4 + np * SAKSI_HASH_LEN;
	default:
		abort();
	}
}

static void *
responder(void *arg)
{
	struct fx *fx = arg;

	for (;;) {
		void *req = NULL;
		uint8_t *out = NULL;
		size_t outlen = 0;
		int n, mode = atomic_load(&fx->mode);
		const uint8_t *r;

		n = nn_recv(fx->rep, &req, NN_MSG, 0);
		if (n < 0)
			return NULL;
		r = req;
		mode = atomic_load(&fx->mode);
		if (n >= 2 && r[1] == OP_STOP) {
			nn_send(fx->rep, "bye", 3, 0);
			nn_freemsg(req);
			return NULL;
		}
		if (mode == M_SILENT) {
			nn_freemsg(req);
			continue;
		}
		int whole = mode == M_UNAVAILABLE || mode == M_STATUS_BAD ||
		            mode == M_STATUS_DUP || mode == M_BUSY;
		int read = n >= 2 && r[0] == 1 && r[1] >= SAKSI_OP_INCLUSION &&
		           r[1] <= SAKSI_OP_GET;

		if (n >= 2 && r[0] == 1 && r[1] == SAKSI_OP_SUBMIT && !whole) {
			out = answer_submit(fx, r + 2, (size_t)n - 2, mode, &outlen);
		} else if (n == 2 && r[0] == 1 && r[1] == SAKSI_OP_CHECKPOINT && !whole) {
			out = malloc(3 + SAKSI_NOTE_MAX);
			out[0] = 1;
			out[1] = SAKSI_OP_CHECKPOINT;
			out[2] = 0;
			signed_checkpoint(fx, mode == M_WRONG_LOG ? fx->log2 : fx->log, fx->n,
			                  (char *)out + 3, SAKSI_NOTE_MAX, &outlen);
			outlen += 3;
		} else if (n == 2 && r[0] == 1 && r[1] == SAKSI_OP_STATUS && !whole) {
			const char *j = mode == M_JSON_ARRAY ? "[1]" :
			    mode == M_JSON_VERSION ? "{\"saksi_status\":2}" :
			    mode == M_JSON_DUP ? "{\"saksi_status\":1,\"a\":1,\"a\":2}" :
			    mode == M_JSON_BAD ? "{\"saksi_status\":1" :
			    "{\"accepted\":3,\"future_member\":[],\"saksi_status\":1}";
			size_t jl = strlen(j);
			static const char jnul[] = "{\"a\":0\0,\"saksi_status\":1}";

			if (mode == M_JSON_NUL) {
				j = jnul;
				jl = sizeof(jnul) - 1;
			}
			out = malloc(3 + jl);
			out[0] = 1;
			out[1] = SAKSI_OP_STATUS;
			out[2] = 0;
			memcpy(out + 3, j, jl);
			outlen = 3 + jl;
		} else if (read && mode == M_ESCAPE) {
			static const char esc[] = "index 9 is\x1b[2J not\n below\x7f";
			out = malloc(64);
			out[0] = 1;
			out[1] = r[1];
			out[2] = SAKSI_R_PARSE;
			memcpy(out + 3, esc, sizeof(esc) - 1);
			outlen = 3 + sizeof(esc) - 1;
		} else if (read && !whole) {
			out = malloc(4 + RECEIPT_MAX);
			outlen = answer_read(fx, r, (size_t)n, mode, out);
		} else {
			out = malloc(64);
			out[0] = 1;
			out[1] = n >= 2 ? r[1] : 0;
			out[2] = mode == M_STATUS_BAD ? 200 : mode == M_STATUS_DUP ? 1 :
			         mode == M_UNAVAILABLE ? SAKSI_R_UNAVAILABLE :
			         mode == M_BUSY ? SAKSI_R_BUSY : SAKSI_R_PARSE;
			if (mode == M_BUSY) {
				memcpy(out + 3, "busy; retry after 25 ms", 23);
				outlen = 26;
			} else {
				memcpy(out + 3, "shutting down", 13);
				outlen = 16;
			}
		}
		switch (mode) {
		case M_TRUNCATE:
			outlen--;
			break;
		case M_TRAILING:
			out = realloc(out, outlen + 1);
			out[outlen++] = 0;
			break;
		case M_SHORT:
			outlen = 2;
			break;
		case M_VERSION:
			out[0] = 2;
			break;
		case M_OP:
			out[1] ^= 0x40;
			break;
		default:
			break;
		}
		nn_send(fx->rep, out, outlen, 0);
		free(out);
		nn_freemsg(req);
	}
}

/* ---- fixture ---- */

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	saksi_pubkey lp;
	char vkey[SAKSI_VKEY_MAX + 1], errbuf[256];

	assert_non_null(fx);
	assert_int_equal(tmpdir_make(fx->dir, sizeof(fx->dir), "saksi-client"), 0);
	snprintf(fx->url, sizeof(fx->url), "ipc://%s/ingest.sock", fx->dir);
	fx->prod = kf_pattern_key(SAKSI_KEY_SIGN, 0x00);
	fx->app = kf_pattern_key(SAKSI_KEY_BOX, 0x40);
	fx->log = kf_pattern_key(SAKSI_KEY_SIGN, 0x80);
	fx->log2 = kf_pattern_key(SAKSI_KEY_SIGN, 0x81);
	assert_int_equal(saksi_seckey_public(fx->prod, &fx->prod_pub), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(fx->app, &fx->app_pub), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(fx->log, &lp), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format(ORIGIN, lp.pk_key, vkey, sizeof(vkey)), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_parse(vkey, &fx->logv), SAKSI_OK);
	if (saksi_schemas_load(SAKSI_SOURCE_SCHEMA_DIR, &fx->schemas, errbuf, sizeof(errbuf)) !=
	    SAKSI_OK)
		fail_msg("schemas: %s", errbuf);

	fx->rep = nn_socket(AF_SP, NN_REP);
	assert_true(fx->rep >= 0);
	{
		int unlimited = -1; /* like the daemon: a request may be 4 MiB */
		assert_true(nn_setsockopt(fx->rep, NN_SOL_SOCKET, NN_RCVMAXSIZE, &unlimited,
		                          sizeof(unlimited)) >= 0);
	}
	assert_true(nn_bind(fx->rep, fx->url) >= 0);
	atomic_store(&fx->mode, M_NORMAL);
	assert_int_equal(pthread_create(&fx->thread, NULL, responder, fx), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	int s = nn_socket(AF_SP, NN_REQ), to = 5000;
	uint8_t stop[2] = { 1, OP_STOP };
	void *buf;
	char path[160];

	/* Ask the responder to stop through the socket itself: no polling, no signals. */
	assert_true(s >= 0);
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	assert_true(nn_connect(s, fx->url) >= 0);
	atomic_store(&fx->mode, M_NORMAL);
	assert_int_equal(nn_send(s, stop, 2, 0), 2);
	assert_true(nn_recv(s, &buf, NN_MSG, 0) >= 0);
	nn_freemsg(buf);
	nn_close(s);
	pthread_join(fx->thread, NULL);
	nn_close(fx->rep);
	for (size_t i = 0; i < fx->n; i++)
		free(fx->leaf[i]);
	saksi_schemas_free(fx->schemas);
	saksi_seckey_free(fx->prod);
	saksi_seckey_free(fx->app);
	saksi_seckey_free(fx->log);
	saksi_seckey_free(fx->log2);
	snprintf(path, sizeof(path), "%s/ingest.sock", fx->dir);
	unlink(path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static saksi_client *
client_for(struct fx *fx, int with_log, int timeout_ms)
{
	saksi_client_opts o;
	saksi_client *c;

	memset(&o, 0, sizeof(o));
	o.co_url = fx->url;
	o.co_key = fx->prod;
	o.co_box_pk = fx->app_pub.pk_key;
	o.co_log = with_log ? &fx->logv : NULL;
	o.co_schemas = fx->schemas;
	o.co_timeout_ms = timeout_ms;
	assert_int_equal(saksi_client_open(&o, &c), SAKSI_OK);
	return c;
}

static const char booking[] =
    "{\"branch\":\"KC-MAKASSAR\",\"channel\":\"web\",\"booking_id\":\"BK-20250310-00417\","
    "\"service\":\"jht_claim\",\"slot_date\":\"2025-03-12\",\"slot_hour\":9,"
    "\"nik\":\"7371010101900001\",\"kpj\":\"12345678901\",\"name\":\"SITI AMINAH\","
    "\"phone\":\"+6281234567890\",\"region\":\"7371\"}";
static const char called[] =
    "{\"branch\":\"KC-MAKASSAR\",\"queue_date\":\"2025-03-13\",\"service\":\"jht_claim\","
    "\"ticket\":\"A-042\",\"ticket_seq\":42,\"officer_id\":\"MKS-0193\",\"counter_no\":4,"
    "\"call_count\":1}";

static saksi_event
event(const char *type, const char *payload, uint64_t seq)
{
	saksi_event e;

	e.se_type = type;
	e.se_payload = payload;
	e.se_seq = seq;
	e.se_time_ms = 1718000000000ULL + seq;
	return e;
}

static void
clear_all(saksi_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		saksi_result_clear(&r[i]);
}

/* ---- tests ---- */

static void
test_submit_accepted(void **state)
{
	struct fx *fx = *state;
	saksi_client *c = client_for(fx, 1, 0);
	saksi_event ev[2] = { event("queue.booking.created", booking, 1),
	                      event("queue.called", called, 2) };
	saksi_result r[2];
	saksi_tlog_proof *tp = malloc(sizeof(*tp));
	char *note;
	size_t len;
	saksi_checkpoint ck;

	assert_int_equal(saksi_client_submit(c, ev, 2, r), SAKSI_OK);
	assert_int_equal(r[0].sr_code, SAKSI_R_ACCEPTED);
	assert_int_equal(r[1].sr_code, SAKSI_R_ACCEPTED);
	assert_int_equal(r[0].sr_index, 0);
	assert_int_equal(r[1].sr_index, 1);
	assert_string_equal(r[0].sr_message, "");
	assert_non_null(r[0].sr_receipt);
	assert_memory_equal(r[0].sr_receipt, "c2sp.org/tlog-proof@v1\nextra ", 29);
	/* The appliance, and only it, could open the seal: it saw the NIK. */
	assert_string_equal(fx->last_nik, "7371010101900001");
	/* Nothing personal travelled in clear in the stored envelope. */
	assert_null(memmem(fx->leaf[0], fx->leaf_len[0], "7371010101900001", 16));
	assert_null(memmem(fx->leaf[0], fx->leaf_len[0], "SITI", 4));
	/* The receipt is a tlog-proof that verifies offline for this leaf. */
	assert_int_equal(saksi_tlog_proof_parse(r[1].sr_receipt, strlen(r[1].sr_receipt), tp),
	                 SAKSI_OK);
	assert_int_equal(saksi_tlog_proof_verify(tp, &fx->logv, fx->lh[1], &ck), SAKSI_OK);
	assert_int_equal(ck.ck_size, 2);
	clear_all(r, 2);
	free(tp);

	/* The checkpoint, opened with the log key. */
	assert_int_equal(saksi_client_checkpoint(c, &note, &len), SAKSI_OK);
	assert_int_equal(strlen(note), len);
	assert_memory_equal(note, ORIGIN "\n2\n", strlen(ORIGIN) + 3);
	free(note);
	saksi_client_close(c);
}

static void
test_submit_raw_duplicate_and_refusals(void **state)
{
	struct fx *fx = *state;
	saksi_client *c = client_for(fx, 1, 0);
	uint8_t env[3][SAKSI_ENV_MAX];
	size_t el[3];
	const uint8_t *ep[3];
	saksi_result r[3];
	saksi_event ev;

	for (int i = 0; i < 3; i++) {
		assert_int_equal(saksi_envelope_sign(fx->prod, (uint64_t)(10 + i), 1718000000000ULL,
		                                     "queue.called", (const uint8_t *)called,
		                                     strlen(called), env[i], SAKSI_ENV_MAX, &el[i]),
		                 SAKSI_OK);
		ep[i] = env[i];
	}
	assert_int_equal(saksi_client_submit_raw(c, ep, el, NULL, NULL, 2, r), SAKSI_OK);
	assert_int_equal(r[0].sr_code, SAKSI_R_ACCEPTED);
	assert_int_equal(r[1].sr_code, SAKSI_R_ACCEPTED);
	clear_all(r, 2);

	/* The same bytes again: duplicate, with a receipt for the first index. */
	assert_int_equal(saksi_client_submit_raw(c, ep, el, NULL, NULL, 1, r), SAKSI_OK);
	assert_int_equal(r[0].sr_code, SAKSI_R_DUPLICATE);
	assert_int_equal(r[0].sr_index, 0);
	assert_non_null(r[0].sr_receipt);
	clear_all(r, 1);

	/* A forged signature and an older seq are refused with a reason. */
	env[2][el[2] - 1] ^= 1;
	ep[0] = env[2];
	el[0] = el[2];
	assert_int_equal(saksi_client_submit_raw(c, ep, el, NULL, NULL, 1, r), SAKSI_OK);
	assert_int_equal(r[0].sr_code, SAKSI_R_SIGNATURE);
	assert_string_equal(r[0].sr_message, "signature does not verify");
	assert_null(r[0].sr_receipt);
	clear_all(r, 1);
	ev = event("queue.called", called, 5);
	assert_int_equal(saksi_client_submit(c, &ev, 1, r), SAKSI_OK);
	assert_int_equal(r[0].sr_code, SAKSI_R_REPLAY);
	clear_all(r, 1);
	/* Same seq, different bytes. */
	ev = event("queue.booking.created", booking, 11);
	assert_int_equal(saksi_client_submit(c, &ev, 1, r), SAKSI_OK);
	assert_int_equal(r[0].sr_code, SAKSI_R_EQUIVOCATION);
	clear_all(r, 1);
	saksi_client_close(c);
}

static void
test_local_refusals(void **state)
{
	struct fx *fx = *state;
	saksi_client *c = client_for(fx, 1, 0);
	char bad[sizeof(booking)];
	saksi_event ev[4];
	saksi_result r[4];
	char *p;

	/* A 15-digit NIK fails the clear-value schema: not sent. */
	strcpy(bad, booking);
	p = strstr(bad, "7371010101900001");
	memmove(p, p + 1, strlen(p + 1) + 1);
	ev[0] = event("queue.booking.created", bad, 1);
	ev[1] = event("queue.called", called, 2);
	ev[2] = event("queue.nosuch", called, 3);
	ev[3] = event("queue.called", called, 0);
	assert_int_equal(saksi_client_submit(c, ev, 4, r), SAKSI_OK);
	assert_int_equal(r[0].sr_code, SAKSI_R_SCHEMA);
	assert_memory_equal(r[0].sr_message, "not sent: ", 10);
	assert_null(strstr(r[0].sr_message, "737101010190000")); /* never quotes the value */
	assert_null(r[0].sr_receipt);
	assert_int_equal(r[1].sr_code, SAKSI_R_ACCEPTED);
	assert_non_null(r[1].sr_receipt);
	assert_int_equal(r[2].sr_code, SAKSI_R_SCHEMA);
	assert_string_equal(r[2].sr_message, "not sent: unknown event type");
	assert_int_equal(r[3].sr_code, SAKSI_R_PARSE);
	assert_int_equal(fx->items_seen, 1);
	clear_all(r, 4);

	/* Nothing left to send: no request at all. */
	assert_int_equal(saksi_client_submit(c, ev, 1, r), SAKSI_OK);
	assert_int_equal(r[0].sr_code, SAKSI_R_SCHEMA);
	assert_int_equal(fx->requests, 1);
	saksi_client_close(c);
}

static void
test_full_batch(void **state)
{
	struct fx *fx = *state;
	saksi_client *c = client_for(fx, 1, 0);
	saksi_event *ev = calloc(SAKSI_WIRE_BATCH_MAX + 1, sizeof(*ev));
	saksi_result *r = calloc(SAKSI_WIRE_BATCH_MAX + 1, sizeof(*r));

	for (size_t i = 0; i <= SAKSI_WIRE_BATCH_MAX; i++)
		ev[i] = event("queue.called", called, i + 1);
	assert_int_equal(saksi_client_submit(c, ev, SAKSI_WIRE_BATCH_MAX + 1, r), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_client_submit(c, ev, 0, r), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_client_submit(c, ev, SAKSI_WIRE_BATCH_MAX, r), SAKSI_OK);
	for (size_t i = 0; i < SAKSI_WIRE_BATCH_MAX; i++) {
		assert_int_equal(r[i].sr_code, SAKSI_R_ACCEPTED);
		assert_int_equal(r[i].sr_index, i);
	}
	clear_all(r, SAKSI_WIRE_BATCH_MAX);
	free(ev);
	free(r);
	saksi_client_close(c);
}

/* Requests up to the 4 MiB message cap travel; a larger one is not sent. */
static void
test_large_request(void **state)
{
	struct fx *fx = *state;
	saksi_client *c = client_for(fx, 1, 0);
	enum { N = 70 };
	uint8_t *env = malloc((size_t)N * SAKSI_ENV_MAX), *payload = malloc(SAKSI_PAYLOAD_MAX);
	const uint8_t *ep[N];
	size_t el[N], fit, total = 4;
	saksi_result r[N];

	memset(payload, 'a', SAKSI_PAYLOAD_MAX);
	memcpy(payload, "{\"x\":\"", 6);
	memcpy(payload + SAKSI_PAYLOAD_MAX - 2, "\"}", 2);
	for (size_t i = 0; i < N; i++) {
		ep[i] = env + i * SAKSI_ENV_MAX;
		assert_int_equal(saksi_envelope_sign(fx->prod, i + 1, 0, "queue.called", payload,
		                                     SAKSI_PAYLOAD_MAX, env + i * SAKSI_ENV_MAX,
		                                     SAKSI_ENV_MAX, &el[i]), SAKSI_OK);
	}
	for (fit = 0; total + 8 + el[fit] <= SAKSI_WIRE_MSG_MAX; fit++)
		total += 8 + el[fit];
	assert_true(fit < N);
	assert_int_equal(saksi_client_submit_raw(c, ep, el, NULL, NULL, fit + 1, r),
	                 SAKSI_ERR_TOO_LARGE);
	assert_int_equal(fx->requests, 0);
	assert_int_equal(saksi_client_submit_raw(c, ep, el, NULL, NULL, fit, r), SAKSI_OK);
	assert_int_equal(fx->items_seen, fit);
	for (size_t i = 0; i < fit; i++)
		assert_int_equal(r[i].sr_code, SAKSI_R_SCHEMA); /* "x" is not a queue.called field */
	clear_all(r, fit);
	free(env);
	free(payload);
	saksi_client_close(c);
}

/* Every malformed reply is SAKSI_ERR_FORMAT and leaves no receipt behind. */
static void
test_malformed_replies(void **state)
{
	struct fx *fx = *state;
	saksi_client *c = client_for(fx, 1, 0);
	static const int modes[] = { M_TRUNCATE, M_TRAILING, M_SHORT, M_VERSION, M_OP,
	                             M_COUNT_PLUS, M_COUNT_MINUS, M_TEXTLEN, M_CODE,
	                             M_GARBAGE, M_KIND2, M_STATUS_BAD };
	saksi_event ev[2];
	saksi_result r[2];
	uint64_t seq = 1;
	char *note;
	size_t len;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		atomic_store(&fx->mode, modes[i]);
		ev[0] = event("queue.called", called, seq++);
		ev[1] = event("queue.booking.created", booking, seq++);
		memset(r, 0x5a, sizeof(r));
		if (saksi_client_submit(c, ev, 2, r) != SAKSI_ERR_FORMAT)
			fail_msg("mode %d: not refused as malformed", modes[i]);
		assert_null(r[0].sr_receipt);
		assert_null(r[1].sr_receipt);
	}
	/* Checkpoint replies too. */
	static const int cmodes[] = { M_TRUNCATE, M_TRAILING, M_SHORT, M_VERSION, M_OP,
	                              M_STATUS_BAD };
	for (size_t i = 0; i < sizeof(cmodes) / sizeof(cmodes[0]); i++) {
		atomic_store(&fx->mode, cmodes[i]);
		if (saksi_client_checkpoint(c, &note, &len) != SAKSI_ERR_FORMAT)
			fail_msg("checkpoint mode %d: not refused as malformed", cmodes[i]);
		assert_null(note);
	}
	/* And the connection still works afterwards. */
	atomic_store(&fx->mode, M_NORMAL);
	ev[0] = event("queue.called", called, seq++);
	assert_int_equal(saksi_client_submit(c, ev, 1, r), SAKSI_OK);
	assert_int_equal(r[0].sr_code, SAKSI_R_ACCEPTED);
	clear_all(r, 1);
	saksi_client_close(c);
}

static void
test_bad_receipts(void **state)
{
	struct fx *fx = *state;
	saksi_client *c = client_for(fx, 1, 0), *blind = client_for(fx, 0, 0);
	saksi_event ev;
	saksi_result r[1];
	char *note;
	size_t len;

	/* A receipt for other leaf bytes, or from another log key: not proof. */
	atomic_store(&fx->mode, M_EXTRA);
	ev = event("queue.called", called, 1);
	assert_int_equal(saksi_client_submit(c, &ev, 1, r), SAKSI_ERR_PROOF);
	assert_null(r[0].sr_receipt);
	atomic_store(&fx->mode, M_WRONG_LOG);
	ev = event("queue.called", called, 2);
	assert_int_equal(saksi_client_submit(c, &ev, 1, r), SAKSI_ERR_PROOF);
	assert_int_equal(saksi_client_checkpoint(c, &note, &len), SAKSI_ERR_SIGNATURE);
	assert_null(note);

	/* Without a log key the client cannot tell, and says so only by its options. */
	ev = event("queue.called", called, 3);
	assert_int_equal(saksi_client_submit(blind, &ev, 1, r), SAKSI_OK);
	assert_int_equal(r[0].sr_code, SAKSI_R_ACCEPTED);
	clear_all(r, 1);
	assert_int_equal(saksi_client_checkpoint(blind, &note, &len), SAKSI_OK);
	free(note);
	saksi_client_close(blind);
	saksi_client_close(c);
}

static void
test_refused_request_and_messages(void **state)
{
	struct fx *fx = *state;
	saksi_client *c = client_for(fx, 1, 0);
	saksi_event ev[2] = { event("queue.called", called, 1), event("queue.called", called, 2) };
	saksi_result r[2];
	char *note;
	size_t len;

	atomic_store(&fx->mode, M_UNAVAILABLE);
	assert_int_equal(saksi_client_submit(c, ev, 2, r), SAKSI_ERR_REFUSED);
	assert_int_equal(r[0].sr_code, SAKSI_R_UNAVAILABLE);
	assert_int_equal(r[1].sr_code, SAKSI_R_UNAVAILABLE);
	assert_string_equal(r[1].sr_message, "shutting down");
	clear_all(r, 2);
	assert_int_equal(saksi_client_checkpoint(c, &note, &len), SAKSI_ERR_REFUSED);

	/* A reason text cannot smuggle terminal control sequences to the caller. */
	atomic_store(&fx->mode, M_ESCAPE);
	assert_int_equal(saksi_client_submit(c, ev, 1, r), SAKSI_OK);
	assert_int_equal(r[0].sr_code, SAKSI_R_REPLAY);
	assert_string_equal(r[0].sr_message, "seq 5 is not above 7?[31m????");
	clear_all(r, 1);
	saksi_client_close(c);
}

static void
test_timeout_and_recovery(void **state)
{
	struct fx *fx = *state;
	saksi_client *c = client_for(fx, 1, 200);
	saksi_event ev = event("queue.called", called, 1);
	saksi_result r[1];
	char *note;
	size_t len;

	atomic_store(&fx->mode, M_SILENT);
	assert_int_equal(saksi_client_submit(c, &ev, 1, r), SAKSI_ERR_TIMEOUT);
	assert_null(r[0].sr_receipt);
	assert_int_equal(saksi_client_checkpoint(c, &note, &len), SAKSI_ERR_TIMEOUT);
	/* The next request on the same client gets its own answer. */
	atomic_store(&fx->mode, M_NORMAL);
	assert_int_equal(saksi_client_submit(c, &ev, 1, r), SAKSI_OK);
	assert_int_equal(r[0].sr_code, SAKSI_R_ACCEPTED);
	clear_all(r, 1);
	saksi_client_close(c);
}

static void
test_open_errors(void **state)
{
	struct fx *fx = *state;
	saksi_client_opts o;
	saksi_client *c;
	saksi_event ev = event("queue.called", called, 1);
	saksi_result r[1];
	uint8_t env[SAKSI_ENV_MAX];
	const uint8_t *ep = env;
	size_t el;

	memset(&o, 0, sizeof(o));
	assert_int_equal(saksi_client_open(&o, &c), SAKSI_ERR_INVAL);
	assert_null(c);
	o.co_url = "nosuch://x";
	assert_int_equal(saksi_client_open(&o, &c), SAKSI_ERR_INVAL);
	o.co_url = fx->url;
	o.co_timeout_ms = -1;
	assert_int_equal(saksi_client_open(&o, &c), SAKSI_ERR_INVAL);
	o.co_timeout_ms = 0;
	o.co_key = fx->app;
	assert_int_equal(saksi_client_open(&o, &c), SAKSI_ERR_KEY);

	/* A client without key, box key or schemas may read, and submit raw, not build. */
	o.co_key = NULL;
	o.co_log = &fx->logv;
	assert_int_equal(saksi_client_open(&o, &c), SAKSI_OK);
	assert_int_equal(saksi_client_submit(c, &ev, 1, r), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_envelope_sign(fx->prod, 1, 0, "queue.called",
	                                     (const uint8_t *)called, strlen(called), env,
	                                     sizeof(env), &el), SAKSI_OK);
	assert_int_equal(saksi_client_submit_raw(c, &ep, &el, NULL, NULL, 1, r), SAKSI_OK);
	assert_int_equal(r[0].sr_code, SAKSI_R_ACCEPTED);
	clear_all(r, 1);
	assert_int_equal(saksi_client_submit_raw(c, &ep, &el, NULL, NULL, 0, r), SAKSI_ERR_INVAL);
	saksi_client_close(c);
	saksi_client_close(NULL);
	saksi_result_clear(NULL);
}

/* ---- read-only requests: get, inclusion, consistency ---- */

/* A client for anyone: no producer key, box key or schemas; maybe the log's key. */
static saksi_client *
reader_for(struct fx *fx, const saksi_note_verifier *log, int timeout_ms)
{
	saksi_client_opts o;
	saksi_client *c;

	memset(&o, 0, sizeof(o));
	o.co_url = fx->url;
	o.co_log = log;
	o.co_timeout_ms = timeout_ms;
	assert_int_equal(saksi_client_open(&o, &c), SAKSI_OK);
	return c;
}

/* n events in the responder's log, through the client as a producer would put them. */
static void
fill(struct fx *fx, size_t n)
{
	saksi_client *c = client_for(fx, 1, 0);
	saksi_event *ev = calloc(n, sizeof(*ev));
	saksi_result *r = calloc(n, sizeof(*r));

	assert_non_null(ev);
	assert_non_null(r);
	for (size_t i = 0; i < n; i++)
		ev[i] = event("queue.called", called, fx->last_seq + 1 + i);
	assert_int_equal(saksi_client_submit(c, ev, n, r), SAKSI_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r[i].sr_code, SAKSI_R_ACCEPTED);
	clear_all(r, n);
	free(ev);
	free(r);
	saksi_client_close(c);
}

/* Root of the first `size` leaves, recomputed by the test from the leaves it got. */
static void
root_of(const saksi_hash *lh, uint64_t size, saksi_hash root)
{
	saksi_merkle_range mr;

	saksi_merkle_range_init(&mr);
	for (uint64_t i = 0; i < size; i++)
		assert_int_equal(saksi_merkle_range_push(&mr, lh[i]), SAKSI_OK);
	assert_int_equal(saksi_merkle_range_root(&mr, root), SAKSI_OK);
}

/*
 * Every leaf, every inclusion proof and every consistency proof of a 33-leaf log, asked
 * by a client with no producer key, checked offline with nothing but the log key: the
 * exact-length checks accept every honest answer.
 */
static void
test_read_every_proof(void **state)
{
	struct fx *fx = *state;
	enum { N = 33 };
	saksi_client *c, *blind;
	saksi_hash lh[N], root[N + 1], proof[SAKSI_MERKLE_MAX_PROOF];
	saksi_tlog_proof *tp = malloc(sizeof(*tp));
	saksi_checkpoint ck;
	uint8_t *leaf;
	size_t len, np;
	char *text;
	int status;

	assert_non_null(tp);
	fill(fx, N);
	c = reader_for(fx, &fx->logv, 0);
	blind = reader_for(fx, NULL, 0);
	for (uint64_t i = 0; i < N; i++) {
		assert_int_equal(saksi_client_get(c, i, &leaf, &len), SAKSI_OK);
		assert_int_equal(len, fx->leaf_len[i]);
		assert_memory_equal(leaf, fx->leaf[i], len);
		saksi_merkle_leaf_hash(lh[i], leaf, len);
		free(leaf);
	}
	for (uint64_t z = 1; z <= N; z++)
		root_of(lh, z, root[z]);
	for (uint64_t z = 1; z <= N; z++) {
		for (uint64_t i = 0; i < z; i++) {
			assert_int_equal(saksi_client_prove_inclusion(c, i, z, &text, &len),
			                 SAKSI_OK);
			assert_int_equal(strlen(text), len);
			assert_int_equal(saksi_tlog_proof_parse(text, len, tp), SAKSI_OK);
			assert_int_equal(saksi_tlog_proof_verify(tp, &fx->logv, lh[i], &ck),
			                 SAKSI_OK);
			assert_int_equal(ck.ck_size, z);
			assert_memory_equal(ck.ck_root, root[z], SAKSI_HASH_LEN);
			/* The header it proves is the stored leaf's. */
			assert_memory_equal(tp->tp_extra, fx->leaf[i], 42);
			free(text);
		}
		for (uint64_t m = 1; m <= z; m++) {
			assert_int_equal(saksi_client_prove_consistency(c, m, z, proof, &np),
			                 SAKSI_OK);
			assert_int_equal(saksi_merkle_verify_consistency(m, z, root[m], root[z],
			                 (const saksi_hash *)proof, np), SAKSI_OK);
		}
	}
	/* Size 0: the latest checkpoint; and without a log key the proof is only parsed. */
	assert_int_equal(saksi_client_prove_inclusion(c, 7, 0, &text, &len), SAKSI_OK);
	assert_int_equal(saksi_tlog_proof_parse(text, len, tp), SAKSI_OK);
	assert_int_equal(saksi_tlog_proof_verify(tp, &fx->logv, lh[7], &ck), SAKSI_OK);
	assert_int_equal(ck.ck_size, N);
	free(text);
	assert_int_equal(saksi_client_prove_inclusion(blind, N - 1, 0, &text, &len), SAKSI_OK);
	free(text);
	assert_string_equal(saksi_client_refusal(c, &status), "");
	assert_int_equal(status, 0);

	/* Another log key of the same name: the library refuses the signature itself. */
	atomic_store(&fx->mode, M_WRONG_LOG);
	assert_int_equal(saksi_client_prove_inclusion(c, 3, 9, &text, &len), SAKSI_ERR_SIGNATURE);
	assert_null(text);
	assert_int_equal(len, 0);
	assert_int_equal(saksi_client_prove_inclusion(blind, 3, 9, &text, &len), SAKSI_OK);
	assert_int_equal(saksi_tlog_proof_parse(text, len, tp), SAKSI_OK);
	assert_int_equal(saksi_tlog_proof_verify(tp, &fx->logv, lh[3], NULL),
	                 SAKSI_ERR_SIGNATURE);
	free(text);
	free(tp);
	saksi_client_close(blind);
	saksi_client_close(c);
}

/* Refusals: the daemon's status mapped, its message kept (defused); local range checks. */
static void
test_read_refusals(void **state)
{
	struct fx *fx = *state;
	saksi_client *c;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
	uint8_t *leaf;
	char *text;
	size_t len, np, reads;
	int status;

	fill(fx, 5);
	c = reader_for(fx, &fx->logv, 0);
	assert_int_equal(saksi_client_get(c, 5, &leaf, &len), SAKSI_ERR_NOT_FOUND);
	assert_null(leaf);
	assert_string_equal(saksi_client_refusal(c, &status), "index 5 is not below size 5");
	assert_int_equal(status, SAKSI_R_PARSE);
	assert_int_equal(saksi_client_get(c, UINT64_MAX, &leaf, &len), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_client_prove_inclusion(c, 1, 6, &text, &len),
	                 SAKSI_ERR_NOT_FOUND);
	assert_null(text);
	assert_string_equal(saksi_client_refusal(c, NULL), "no signed checkpoint of size 6");
	assert_int_equal(saksi_client_prove_consistency(c, 2, 6, proof, &np),
	                 SAKSI_ERR_NOT_FOUND);
	assert_int_equal(np, 0);
	assert_string_equal(saksi_client_refusal(c, &status),
	                    "sizes 2 and 6 are not 0 < m <= n");
	/* A success clears the last refusal. */
	assert_int_equal(saksi_client_get(c, 4, &leaf, &len), SAKSI_OK);
	free(leaf);
	assert_string_equal(saksi_client_refusal(c, &status), "");
	assert_int_equal(status, 0);

	/* Never valid: refused here, nothing sent. */
	reads = fx->reads;
	assert_int_equal(saksi_client_prove_inclusion(c, 5, 5, &text, &len), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_client_prove_consistency(c, 0, 5, proof, &np), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_client_prove_consistency(c, 4, 3, proof, &np), SAKSI_ERR_RANGE);
	assert_int_equal(fx->reads, reads);

	/* Unavailable: refused, retry later, with the daemon's reason. */
	atomic_store(&fx->mode, M_UNAVAILABLE);
	assert_int_equal(saksi_client_get(c, 0, &leaf, &len), SAKSI_ERR_REFUSED);
	assert_string_equal(saksi_client_refusal(c, &status), "shutting down");
	assert_int_equal(status, SAKSI_R_UNAVAILABLE);
	assert_int_equal(saksi_client_prove_inclusion(c, 0, 0, &text, &len), SAKSI_ERR_REFUSED);
	assert_int_equal(saksi_client_prove_consistency(c, 1, 5, proof, &np), SAKSI_ERR_REFUSED);
	assert_string_equal(saksi_client_refusal(c, &status), "shutting down");
	assert_int_equal(saksi_client_checkpoint(c, &text, &len), SAKSI_ERR_REFUSED);
	assert_string_equal(saksi_client_refusal(c, &status), "shutting down");
	assert_int_equal(status, SAKSI_R_UNAVAILABLE);

	/* A message cannot carry control sequences to a terminal. */
	atomic_store(&fx->mode, M_ESCAPE);
	assert_int_equal(saksi_client_get(c, 0, &leaf, &len), SAKSI_ERR_NOT_FOUND);
	assert_string_equal(saksi_client_refusal(c, NULL), "index 9 is?[2J not? below?");

	/* Argument errors. */
	atomic_store(&fx->mode, M_NORMAL);
	assert_int_equal(saksi_client_get(NULL, 0, &leaf, &len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_client_get(c, 0, NULL, &len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_client_get(c, 0, &leaf, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_client_prove_inclusion(NULL, 0, 0, &text, &len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_client_prove_inclusion(c, 0, 0, NULL, &len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_client_prove_inclusion(c, 0, 0, &text, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_client_prove_consistency(NULL, 1, 1, proof, &np), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_client_prove_consistency(c, 1, 1, NULL, &np), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_client_prove_consistency(c, 1, 1, proof, NULL), SAKSI_ERR_INVAL);
	assert_string_equal(saksi_client_refusal(NULL, &status), "");
	assert_int_equal(status, 0);
	saksi_client_close(c);
}

/* Every malformed read reply is SAKSI_ERR_FORMAT, returns nothing, and is forgotten. */
static void
test_read_malformed(void **state)
{
	struct fx *fx = *state;
	static const int common[] = { M_TRUNCATE, M_TRAILING, M_SHORT, M_VERSION, M_OP,
	                              M_STATUS_BAD, M_STATUS_DUP };
	static const int get_modes[] = { M_LEAF_VERSION, M_LEAF_KIND, M_LEAF_SHORT };
	static const int incl_modes[] = { M_GARBAGE, M_KIND3, M_INDEX, M_SIZE, M_NUL,
	                                  M_PROOF_SHORT, M_PROOF_LONG };
	static const int cons_modes[] = { M_PROOF_SHORT, M_PROOF_LONG, M_COUNT_LIE };
	saksi_client *c, *blind;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
	uint8_t *leaf;
	char *text;
	size_t len, np, i;

	fill(fx, 11);
	c = reader_for(fx, &fx->logv, 0);
	blind = reader_for(fx, NULL, 0);
	for (i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
		atomic_store(&fx->mode, common[i]);
		if (saksi_client_get(c, 3, &leaf, &len) != SAKSI_ERR_FORMAT)
			fail_msg("get, mode %d: not refused as malformed", common[i]);
		assert_null(leaf);
		assert_int_equal(len, 0);
		if (saksi_client_prove_inclusion(c, 3, 7, &text, &len) != SAKSI_ERR_FORMAT)
			fail_msg("inclusion, mode %d: not refused as malformed", common[i]);
		assert_null(text);
		if (saksi_client_prove_consistency(c, 3, 7, proof, &np) != SAKSI_ERR_FORMAT)
			fail_msg("consistency, mode %d: not refused as malformed", common[i]);
		assert_int_equal(np, 0);
		assert_string_equal(saksi_client_refusal(c, NULL), "");
	}
	for (i = 0; i < sizeof(get_modes) / sizeof(get_modes[0]); i++) {
		atomic_store(&fx->mode, get_modes[i]);
		if (saksi_client_get(c, 3, &leaf, &len) != SAKSI_ERR_FORMAT)
			fail_msg("get, mode %d: not refused as malformed", get_modes[i]);
		assert_null(leaf);
	}
	for (i = 0; i < sizeof(incl_modes) / sizeof(incl_modes[0]); i++) {
		atomic_store(&fx->mode, incl_modes[i]);
		/* Index 5 of 11: a proof of 4 hashes; with or without the log key. */
		if (saksi_client_prove_inclusion(c, 5, 11, &text, &len) != SAKSI_ERR_FORMAT ||
		    saksi_client_prove_inclusion(blind, 5, 11, &text, &len) != SAKSI_ERR_FORMAT)
			fail_msg("inclusion, mode %d: not refused as malformed", incl_modes[i]);
		assert_null(text);
		/* And against the latest checkpoint (size 0). */
		if (incl_modes[i] != M_SIZE &&
		    saksi_client_prove_inclusion(c, 5, 0, &text, &len) != SAKSI_ERR_FORMAT)
			fail_msg("inclusion size 0, mode %d: not refused", incl_modes[i]);
	}
	for (i = 0; i < sizeof(cons_modes) / sizeof(cons_modes[0]); i++) {
		atomic_store(&fx->mode, cons_modes[i]);
		if (saksi_client_prove_consistency(c, 3, 11, proof, &np) != SAKSI_ERR_FORMAT)
			fail_msg("consistency, mode %d: not refused as malformed", cons_modes[i]);
		assert_int_equal(np, 0);
	}
	/* Equal sizes take an empty proof: one hash is one too many. */
	atomic_store(&fx->mode, M_PROOF_LONG);
	assert_int_equal(saksi_client_prove_consistency(c, 11, 11, proof, &np), SAKSI_ERR_FORMAT);
	atomic_store(&fx->mode, M_NORMAL);
	assert_int_equal(saksi_client_prove_consistency(c, 11, 11, proof, &np), SAKSI_OK);
	assert_int_equal(np, 0);

	/* Unanswered: a timeout, and the next request gets its own answer. */
	saksi_client_close(c);
	c = reader_for(fx, &fx->logv, 200);
	atomic_store(&fx->mode, M_SILENT);
	assert_int_equal(saksi_client_get(c, 3, &leaf, &len), SAKSI_ERR_TIMEOUT);
	assert_int_equal(saksi_client_prove_consistency(c, 3, 7, proof, &np), SAKSI_ERR_TIMEOUT);
	atomic_store(&fx->mode, M_NORMAL);
	assert_int_equal(saksi_client_get(c, 3, &leaf, &len), SAKSI_OK);
	assert_int_equal(len, fx->leaf_len[3]);
	free(leaf);
	assert_int_equal(saksi_client_prove_inclusion(c, 5, 11, &text, &len), SAKSI_OK);
	free(text);
	saksi_client_close(blind);
	saksi_client_close(c);
}

/* The status op (FORMATS.md 3.3): an object with "saksi_status": 1, anything else
 * malformed; refusals as the reads'; and the busy hint of a refused submission. */
static void
test_status_and_busy(void **state)
{
	struct fx *fx = *state;
	static const int bad[] = { M_TRUNCATE, M_TRAILING, M_SHORT, M_VERSION, M_OP,
	                           M_STATUS_BAD, M_STATUS_DUP, M_JSON_ARRAY, M_JSON_VERSION,
	                           M_JSON_DUP, M_JSON_BAD, M_JSON_NUL };
	saksi_client *c;
	saksi_event ev;
	saksi_result r;
	char *json;
	size_t len;
	int status;

	c = reader_for(fx, NULL, 0);
	atomic_store(&fx->mode, M_NORMAL);
	assert_int_equal(saksi_client_status(c, &json, &len), SAKSI_OK);
	assert_int_equal(len, strlen(json));
	/* Members this client does not know are the daemon's business. */
	assert_non_null(strstr(json, "\"future_member\":[]"));
	free(json);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		atomic_store(&fx->mode, bad[i]);
		json = (char *)1;
		if (saksi_client_status(c, &json, &len) != SAKSI_ERR_FORMAT)
			fail_msg("status, mode %d: not refused as malformed", bad[i]);
		assert_null(json);
		assert_int_equal(len, 0);
	}
	atomic_store(&fx->mode, M_UNAVAILABLE);
	assert_int_equal(saksi_client_status(c, &json, &len), SAKSI_ERR_REFUSED);
	assert_string_equal(saksi_client_refusal(c, &status), "shutting down");
	assert_int_equal(status, SAKSI_R_UNAVAILABLE);
	assert_int_equal(saksi_client_retry_after(c), 0);   /* only busy carries a hint */
	assert_int_equal(saksi_client_status(NULL, &json, &len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_client_status(c, NULL, &len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_client_retry_after(NULL), 0);
	saksi_client_close(c);

	/* A submission refused busy: every item gets 15, and the hint is there. */
	c = client_for(fx, 1, 0);
	atomic_store(&fx->mode, M_BUSY);
	memset(&ev, 0, sizeof(ev));
	ev.se_type = "queue.booking.created";
	ev.se_payload = booking;
	ev.se_seq = 1;
	ev.se_time_ms = COMMIT_TIME;
	memset(&r, 0, sizeof(r));
	assert_int_equal(saksi_client_submit(c, &ev, 1, &r), SAKSI_ERR_REFUSED);
	assert_int_equal(r.sr_code, SAKSI_R_BUSY);
	assert_string_equal(r.sr_message, "busy; retry after 25 ms");
	assert_int_equal(saksi_client_retry_after(c), 25);
	saksi_result_clear(&r);
	atomic_store(&fx->mode, M_NORMAL);
	saksi_client_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_submit_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_raw_duplicate_and_refusals, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_local_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_receipts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_request_and_messages, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_timeout_and_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_every_proof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_and_busy, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
