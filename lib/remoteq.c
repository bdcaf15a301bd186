/*
 * remoteq.c: op 0x07 requests and replies (remoteq.h, FORMATS.md 3.4), byte by byte.
 * Every parser here reads hostile bytes from the network or the ledger: lengths are
 * checked before use, nothing may trail, and a clear personal value exists only inside
 * a sealed box or guarded memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <sodium.h>

#include "b64.h"
#include "bytes.h"
#include "remoteq.h"
#include "wire.h"

#define REQ_DOMAIN "saksi/query-request/v1\n"
#define REPLY_DOMAIN "saksi/query-reply/v1\n"
#define CORE_FIXED 64      /* version .. case_len */
#define F_REVEAL 0x01
#define F_SINCE 0x02
#define F_UNTIL 0x04
#define F_AFTER 0x08
#define REPLY_HDR (1 + 32 + 8 + 8 + 4)

static int
plain_ok(const char *v, size_t n)
{
	if (n == 0 || n > SAKSI_QUERY_VALUE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] < '!' || v[i] > '~' || v[i] == ',' || v[i] == '=')
			return 0;
	return 1;
}

static int
case_ok(const char *v, size_t n)
{
	return n >= 1 && n <= SAKSI_RQ_CASE_MAX && strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_./-") >= n;
}

static int
field_plain(int f)
{
	return f >= SAKSI_IX_OFFICER && f <= SAKSI_IX_BOOKING;
}

static int
field_personal(int f)
{
	return f >= SAKSI_IX_NIK && f <= SAKSI_IX_IP;
}

/* ---- requests ---- */

/* Signs "domain" || core || sealed_hash with the Ed25519 secret sk64. */
static saksi_err
req_message(const uint8_t *core, size_t core_len, const uint8_t hash[32], uint8_t **m,
            size_t *mlen)
{
	size_t dl = sizeof(REQ_DOMAIN) - 1;

	*mlen = dl + core_len + 32;
	if ((*m = malloc(*mlen)) == NULL)
		return SAKSI_ERR_NOMEM;
	memcpy(*m, REQ_DOMAIN, dl);
	memcpy(*m + dl, core, core_len);
	memcpy(*m + dl + core_len, hash, 32);
	return SAKSI_OK;
}

saksi_err
saksi_rq_request_make(const saksi_seckey *sk, const uint8_t box_pk[32],
                      const saksi_rq_params *p, uint8_t **out, size_t *outlen)
{
	uint8_t core[CORE_FIXED + SAKSI_RQ_CASE_MAX + 1 + SAKSI_RQ_PLAIN_MAX *
	    (2 + SAKSI_QUERY_VALUE_MAX)];
	uint8_t *plain = NULL, *sealed = NULL, *buf = NULL, *m = NULL, hash[32];
	size_t off, plen = 1, slen = 0, mlen, case_len = 0, np = 0, count = 0;
	saksi_pubkey pub;
	saksi_err e;

	if (sk == NULL || box_pk == NULL || p == NULL || out == NULL || outlen == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	*outlen = 0;
	if (saksi_seckey_kind(sk) != SAKSI_KEY_SIGN)
		return SAKSI_ERR_KEY;
	if ((p->rp_command != SAKSI_RQ_QUERY && p->rp_command != SAKSI_RQ_TIMELINE) ||
	    p->rp_limit == 0 || p->rp_limit > SAKSI_QUERY_LIMIT_MAX ||
	    p->rp_value[SAKSI_IX_STATE] != NULL || p->rp_value[SAKSI_IX_TIME] != NULL)
		return SAKSI_ERR_INVAL;
	if (p->rp_case_ref != NULL &&
	    !case_ok(p->rp_case_ref, case_len = strlen(p->rp_case_ref)))
		return SAKSI_ERR_INVAL;
	if ((e = saksi_seckey_public(sk, &pub)) != SAKSI_OK)
		return e;

	core[0] = SAKSI_RQ_VERSION;
	memcpy(core + 1, pub.pk_id, SAKSI_KEYID_LEN);
	randombytes_buf(core + 9, SAKSI_RQ_NONCE_LEN);
	saksi_put_u64(core + 25, p->rp_time_ms);
	core[33] = (uint8_t)p->rp_command;
	core[34] = (uint8_t)((p->rp_reveal ? F_REVEAL : 0) | (p->rp_has_since ? F_SINCE : 0) |
	    (p->rp_has_until ? F_UNTIL : 0) | (p->rp_has_after ? F_AFTER : 0));
	saksi_put_u64(core + 35, p->rp_has_since ? p->rp_since_ms : 0);
	saksi_put_u64(core + 43, p->rp_has_until ? p->rp_until_ms : 0);
	saksi_put_u64(core + 51, p->rp_has_after ? p->rp_after : 0);
	saksi_put_u32(core + 59, p->rp_limit);
	core[63] = (uint8_t)case_len;
	memcpy(core + 64, p->rp_case_ref != NULL ? p->rp_case_ref : "", case_len);
	off = 64 + case_len + 1;
	for (int f = SAKSI_IX_OFFICER; f <= SAKSI_IX_BOOKING; f++) {
		const char *v = p->rp_value[f];
		size_t n;

		if (v == NULL)
			continue;
		if (!plain_ok(v, n = strlen(v)))
			return SAKSI_ERR_INVAL;
		core[off++] = (uint8_t)f;
		core[off++] = (uint8_t)n;
		memcpy(core + off, v, n);
		off += n;
		np++;
	}
	core[64 + case_len] = (uint8_t)np;

	/* The personal filters, sealed: count || (tag || len (2) || value)*. */
	for (int f = SAKSI_IX_NIK; f <= SAKSI_IX_IP; f++) {
		size_t n;

		if (p->rp_value[f] == NULL)
			continue;
		n = strlen(p->rp_value[f]);
		if (n == 0 || n > SAKSI_BLIND_INPUT_MAX)
			return SAKSI_ERR_INVAL;
		plen += 3 + n;
		count++;
	}
	if (count > 0) {
		size_t o = 1;

		if ((plain = sodium_malloc(plen)) == NULL)
			return SAKSI_ERR_NOMEM;
		plain[0] = (uint8_t)count;
		for (int f = SAKSI_IX_NIK; f <= SAKSI_IX_IP; f++) {
			size_t n;

			if (p->rp_value[f] == NULL)
				continue;
			n = strlen(p->rp_value[f]);
			plain[o] = (uint8_t)f;
			saksi_put_u16(plain + o + 1, (uint16_t)n);
			memcpy(plain + o + 3, p->rp_value[f], n);
			o += 3 + n;
		}
		slen = crypto_box_SEALBYTES + plen;
		if ((sealed = malloc(slen)) == NULL) {
			e = SAKSI_ERR_NOMEM;
			goto out;
		}
		if (crypto_box_seal(sealed, plain, plen, box_pk) != 0) {
			e = SAKSI_ERR_KEY;
			goto out;
		}
	}
	crypto_hash_sha256(hash, sealed, slen);
	if ((e = req_message(core, off, hash, &m, &mlen)) != SAKSI_OK)
		goto out;
	if ((buf = malloc(off + 2 + slen + 64)) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	memcpy(buf, core, off);
	saksi_put_u16(buf + off, (uint16_t)slen);
	if (slen > 0)
		memcpy(buf + off + 2, sealed, slen);
	crypto_sign_detached(buf + off + 2 + slen, NULL, m, mlen, saksi_seckey_ed25519(sk));
	*out = buf;
	*outlen = off + 2 + slen + 64;
	buf = NULL;
	e = SAKSI_OK;
out:
	if (plain != NULL)
		sodium_free(plain);   /* sodium_free wipes */
	free(sealed);
	free(m);
	free(buf);
	return e;
}

/* Parses the core (from version to the plain list) at the start of buf; *core_len its
 * length. */
static saksi_err
core_parse(const uint8_t *b, size_t len, saksi_rq_request *rq, size_t *core_len)
{
	size_t off, case_len, np;
	int last = 0, flags;

	memset(rq, 0, sizeof(*rq));
	if (len < 1)
		return SAKSI_ERR_FORMAT;
	if (b[0] != SAKSI_RQ_VERSION)
		return SAKSI_ERR_VERSION;
	if (len < CORE_FIXED + 1)
		return SAKSI_ERR_FORMAT;
	memcpy(rq->rq_key_id, b + 1, SAKSI_KEYID_LEN);
	memcpy(rq->rq_nonce, b + 9, SAKSI_RQ_NONCE_LEN);
	rq->rq_time_ms = saksi_get_u64(b + 25);
	rq->rq_command = b[33];
	flags = b[34];
	if ((rq->rq_command != SAKSI_RQ_QUERY && rq->rq_command != SAKSI_RQ_TIMELINE) ||
	    (flags & ~(F_REVEAL | F_SINCE | F_UNTIL | F_AFTER)) != 0)
		return SAKSI_ERR_FORMAT;
	rq->rq_reveal = (flags & F_REVEAL) != 0;
	rq->rq_has_since = (flags & F_SINCE) != 0;
	rq->rq_has_until = (flags & F_UNTIL) != 0;
	rq->rq_has_after = (flags & F_AFTER) != 0;
	rq->rq_since_ms = saksi_get_u64(b + 35);
	rq->rq_until_ms = saksi_get_u64(b + 43);
	rq->rq_after = saksi_get_u64(b + 51);
	/* An unset bound is zero: one request has one spelling. */
	if ((!rq->rq_has_since && rq->rq_since_ms != 0) ||
	    (!rq->rq_has_until && rq->rq_until_ms != 0) ||
	    (!rq->rq_has_after && rq->rq_after != 0))
		return SAKSI_ERR_FORMAT;
	rq->rq_limit = saksi_get_u32(b + 59);
	if (rq->rq_limit == 0 || rq->rq_limit > SAKSI_QUERY_LIMIT_MAX)
		return SAKSI_ERR_FORMAT;
	case_len = b[63];
	if (case_len > SAKSI_RQ_CASE_MAX || len < CORE_FIXED + case_len + 1)
		return SAKSI_ERR_FORMAT;
	memcpy(rq->rq_case_ref, b + 64, case_len);
	rq->rq_case_ref[case_len] = '\0';
	if (case_len > 0 && !case_ok(rq->rq_case_ref, case_len))
		return SAKSI_ERR_FORMAT;
	np = b[64 + case_len];
	off = 64 + case_len + 1;
	if (np > SAKSI_RQ_PLAIN_MAX)
		return SAKSI_ERR_FORMAT;
	for (size_t i = 0; i < np; i++) {
		int f;
		size_t n;

		if (len - off < 2)
			return SAKSI_ERR_FORMAT;
		f = b[off];
		n = b[off + 1];
		if (!field_plain(f) || f <= last || len - off - 2 < n ||
		    !plain_ok((const char *)b + off + 2, n))
			return SAKSI_ERR_FORMAT;
		memcpy(rq->rq_plain[f], b + off + 2, n);
		rq->rq_plain[f][n] = '\0';
		last = f;
		off += 2 + n;
	}
	rq->rq_core = b;
	rq->rq_core_len = off;
	*core_len = off;
	return SAKSI_OK;
}

saksi_err
saksi_rq_request_parse(const uint8_t *buf, size_t len, saksi_rq_request *rq)
{
	size_t off, slen;
	saksi_err e;

	if (buf == NULL || rq == NULL)
		return SAKSI_ERR_FORMAT;
	if (len > SAKSI_RQ_REQUEST_MAX) {
		memset(rq, 0, sizeof(*rq));
		return SAKSI_ERR_TOO_LARGE;
	}
	if ((e = core_parse(buf, len, rq, &off)) != SAKSI_OK)
		return e;
	if (len - off < 2)
		return SAKSI_ERR_FORMAT;
	slen = saksi_get_u16(buf + off);
	off += 2;
	/* A box holds at least count, one tag, one length and one byte. */
	if ((slen != 0 && slen < crypto_box_SEALBYTES + 5) || len - off < slen ||
	    len - off - slen != 64)
		return SAKSI_ERR_FORMAT;
	rq->rq_sealed = slen > 0 ? buf + off : NULL;
	rq->rq_sealed_len = slen;
	rq->rq_personal = slen > 0;
	crypto_hash_sha256(rq->rq_sealed_hash, buf + off, slen);
	rq->rq_sig = buf + off + slen;
	return SAKSI_OK;
}

saksi_err
saksi_rq_request_verify(const saksi_rq_request *rq, const uint8_t pk[32])
{
	uint8_t *m;
	size_t mlen;
	int bad;

	if (rq == NULL || pk == NULL || rq->rq_core == NULL || rq->rq_sig == NULL)
		return SAKSI_ERR_INVAL;
	if (req_message(rq->rq_core, rq->rq_core_len, rq->rq_sealed_hash, &m, &mlen) !=
	    SAKSI_OK)
		return SAKSI_ERR_NOMEM;
	bad = crypto_sign_verify_detached(rq->rq_sig, m, mlen, pk) != 0;
	free(m);
	return bad ? SAKSI_ERR_SIGNATURE : SAKSI_OK;
}

void
saksi_rq_request_hash(const uint8_t *buf, size_t len, uint8_t hash[32])
{
	crypto_hash_sha256(hash, buf, len);
}

void
saksi_rq_personal_free(saksi_rq_personal *pp)
{
	if (pp == NULL)
		return;
	if (pp->pp_mem != NULL)
		sodium_free(pp->pp_mem);
	memset(pp, 0, sizeof(*pp));
}

saksi_err
saksi_rq_personal_open(const saksi_rq_request *rq, const uint8_t box_pk[32],
                       const uint8_t box_sk[32], saksi_rq_personal *pp)
{
	uint8_t *plain;
	char *vals;
	size_t plen, off = 1, count, vo = 0;
	int last = 0;

	if (rq == NULL || box_pk == NULL || box_sk == NULL || pp == NULL)
		return SAKSI_ERR_INVAL;
	memset(pp, 0, sizeof(*pp));
	if (rq->rq_sealed_len == 0)
		return SAKSI_OK;
	if (rq->rq_sealed == NULL || rq->rq_sealed_len < crypto_box_SEALBYTES + 1)
		return SAKSI_ERR_FORMAT;
	plen = rq->rq_sealed_len - crypto_box_SEALBYTES;
	/* One guarded block: the plaintext, then the NUL-terminated values. */
	pp->pp_mem_len = 2 * plen + SAKSI_IX__COUNT;
	if ((pp->pp_mem = sodium_malloc(pp->pp_mem_len)) == NULL)
		return SAKSI_ERR_NOMEM;
	plain = pp->pp_mem;
	vals = (char *)pp->pp_mem + plen;
	if (crypto_box_seal_open(plain, rq->rq_sealed, rq->rq_sealed_len, box_pk, box_sk) !=
	    0) {
		saksi_rq_personal_free(pp);
		return SAKSI_ERR_DECRYPT;
	}
	count = plain[0];
	if (count == 0 || count > SAKSI_RQ_PERSONAL_MAX)
		goto bad;
	for (size_t i = 0; i < count; i++) {
		int f;
		size_t n;

		if (plen - off < 3)
			goto bad;
		f = plain[off];
		n = saksi_get_u16(plain + off + 1);
		if (!field_personal(f) || f <= last || n == 0 || n > SAKSI_BLIND_INPUT_MAX ||
		    plen - off - 3 < n || memchr(plain + off + 3, 0, n) != NULL)
			goto bad;
		memcpy(vals + vo, plain + off + 3, n);
		vals[vo + n] = '\0';
		pp->pp_value[f] = vals + vo;
		vo += n + 1;
		last = f;
		off += 3 + n;
	}
	if (off != plen)
		goto bad;
	sodium_memzero(plain, plen);
	return SAKSI_OK;
bad:
	saksi_rq_personal_free(pp);
	return SAKSI_ERR_FORMAT;
}

saksi_err
saksi_rq_request_stored(const saksi_rq_request *rq, char **b64)
{
	uint8_t buf[SAKSI_RQ_STORED_MAX];
	size_t n, blen;

	if (rq == NULL || b64 == NULL || rq->rq_core == NULL ||
	    rq->rq_core_len + 96 > sizeof(buf))
		return SAKSI_ERR_INVAL;
	memcpy(buf, rq->rq_core, rq->rq_core_len);
	memcpy(buf + rq->rq_core_len, rq->rq_sealed_hash, 32);
	memcpy(buf + rq->rq_core_len + 32, rq->rq_sig, 64);
	n = rq->rq_core_len + 96;
	blen = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	if ((*b64 = malloc(blen)) == NULL)
		return SAKSI_ERR_NOMEM;
	sodium_bin2base64(*b64, blen, buf, n, sodium_base64_VARIANT_ORIGINAL);
	return SAKSI_OK;
}

saksi_err
saksi_rq_stored_parse(const char *b64, size_t len, uint8_t *buf, saksi_rq_request *rq)
{
	size_t n, off;
	saksi_err e;

	if (b64 == NULL || buf == NULL || rq == NULL)
		return SAKSI_ERR_FORMAT;
	memset(rq, 0, sizeof(*rq));
	if (len > sodium_base64_ENCODED_LEN(SAKSI_RQ_STORED_MAX,
	    sodium_base64_VARIANT_ORIGINAL) ||
	    saksi_base642bin(buf, SAKSI_RQ_STORED_MAX, b64, len, NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		return SAKSI_ERR_FORMAT;
	if ((e = core_parse(buf, n, rq, &off)) != SAKSI_OK)
		return e;
	if (n - off != 96)
		return SAKSI_ERR_FORMAT;
	memcpy(rq->rq_sealed_hash, buf + off, 32);
	{
		uint8_t empty[32];

		crypto_hash_sha256(empty, NULL, 0);
		rq->rq_personal = sodium_memcmp(empty, rq->rq_sealed_hash, 32) != 0;
	}
	rq->rq_sig = buf + off + 32;
	return SAKSI_OK;
}

void
saksi_rq_spec(const saksi_rq_request *rq,
              const char tok[SAKSI_IX__COUNT][SAKSI_BLIND_TOKEN_LEN + 1], saksi_query_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->qs_timeline = rq->rq_command == SAKSI_RQ_TIMELINE;
	for (int f = SAKSI_IX_NIK; f <= SAKSI_IX_BOOKING; f++) {
		if (field_personal(f) && tok != NULL && tok[f][0] != '\0')
			s->qs_value[f] = tok[f];
		else if (field_plain(f) && rq->rq_plain[f][0] != '\0')
			s->qs_value[f] = rq->rq_plain[f];
	}
	s->qs_since_ms = rq->rq_since_ms;
	s->qs_has_since = rq->rq_has_since;
	s->qs_until_ms = rq->rq_until_ms;
	s->qs_has_until = rq->rq_has_until;
	s->qs_after = rq->rq_after;
	s->qs_has_after = rq->rq_has_after;
	s->qs_limit = rq->rq_limit;
	s->qs_reveal = rq->rq_reveal;
}

/* The personal tokens an access entry's filter text names, into tok. -1 if malformed. */
static int
filter_tokens(const char *filter, char tok[SAKSI_IX__COUNT][SAKSI_BLIND_TOKEN_LEN + 1])
{
	const char *p = filter;

	memset(tok, 0, SAKSI_IX__COUNT * (SAKSI_BLIND_TOKEN_LEN + 1));
	while (*p != '\0') {
		const char *eq = strchr(p, '='), *end = strchr(p, ',');
		char name[16];
		saksi_index_field f;
		size_t vl;

		if (end == NULL)
			end = p + strlen(p);
		if (eq == NULL || eq > end || (size_t)(eq - p) >= sizeof(name))
			return -1;
		memcpy(name, p, (size_t)(eq - p));
		name[eq - p] = '\0';
		f = saksi_index_field_by_name(name);
		vl = (size_t)(end - eq - 1);
		if (f != SAKSI_IX_STATE && saksi_index_field_personal(f)) {
			if (vl != SAKSI_BLIND_TOKEN_LEN || tok[f][0] != '\0')
				return -1;
			memcpy(tok[f], eq + 1, vl);
			tok[f][vl] = '\0';
		}
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

saksi_err
saksi_rq_access_check(const json_t *payload, const saksi_keyring *kr, const char **why)
{
	uint8_t buf[SAKSI_RQ_STORED_MAX];
	char tok[SAKSI_IX__COUNT][SAKSI_BLIND_TOKEN_LEN + 1], hex[17], text[SAKSI_QUERY_FILTER_MAX + 1];
	const json_t *req = json_object_get(payload, "request");
	const char *filter, *kid, *cmd, *cref, *w = "the access entry does not match its request";
	const saksi_keyring_entry *ke;
	saksi_rq_request rq;
	saksi_query_spec s;
	int personal = 0;
	saksi_err e;

	if (why != NULL)
		*why = NULL;
	/*
	 * Whoever wrote it, an entry cannot say it revealed more people than entries, or
	 * anyone when nothing was revealed: supervisor_reveals_many sums this member.
	 */
	{
		const json_t *np = json_object_get(payload, "participants");
		const json_t *nr = json_object_get(payload, "results");

		if (np != NULL && (!json_is_integer(np) || !json_is_integer(nr) ||
		    json_integer_value(np) < 0 ||
		    json_integer_value(np) > json_integer_value(nr) ||
		    (json_integer_value(np) > 0 &&
		    !json_is_true(json_object_get(payload, "revealed"))))) {
			if (why != NULL)
				*why = "its participants exceed its results, or it revealed nothing";
			return SAKSI_ERR_FORMAT;
		}
	}
	if (req == NULL)
		return SAKSI_ERR_NOT_FOUND;
	if (!json_is_string(req) ||
	    saksi_rq_stored_parse(json_string_value(req), json_string_length(req), buf, &rq) !=
	    SAKSI_OK) {
		w = "its request does not parse";
		e = SAKSI_ERR_FORMAT;
		goto bad;
	}
	if ((ke = saksi_keyring_find(kr, rq.rq_key_id)) == NULL) {
		w = "its requester's key is not in the keyring";
		e = SAKSI_ERR_KEY;
		goto bad;
	}
	if (saksi_rq_request_verify(&rq, ke->ke_pub.pk_key) != SAKSI_OK) {
		w = "its request's signature does not verify";
		e = SAKSI_ERR_SIGNATURE;
		goto bad;
	}
	e = SAKSI_ERR_FORMAT;
	sodium_bin2hex(hex, sizeof(hex), rq.rq_key_id, SAKSI_KEYID_LEN);
	kid = json_string_value(json_object_get(payload, "key_id"));
	cmd = json_string_value(json_object_get(payload, "command"));
	filter = json_string_value(json_object_get(payload, "filter"));
	cref = json_string_value(json_object_get(payload, "case_ref"));
	if (kid == NULL || strcmp(kid, hex) != 0 || cmd == NULL ||
	    strcmp(cmd, rq.rq_command == SAKSI_RQ_TIMELINE ? "timeline" : "query") != 0 ||
	    !json_is_boolean(json_object_get(payload, "revealed")) ||
	    json_is_true(json_object_get(payload, "revealed")) != rq.rq_reveal ||
	    !json_is_boolean(json_object_get(payload, "personal_filter")) ||
	    filter == NULL || filter_tokens(filter, tok) != 0)
		goto bad;
	for (int f = SAKSI_IX_NIK; f <= SAKSI_IX_IP; f++)
		personal |= tok[f][0] != '\0';
	if (personal != rq.rq_personal ||
	    json_is_true(json_object_get(payload, "personal_filter")) != personal)
		goto bad;
	if ((cref == NULL) != (rq.rq_case_ref[0] == '\0') ||
	    (cref != NULL && strcmp(cref, rq.rq_case_ref) != 0))
		goto bad;
	saksi_rq_spec(&rq, (const char (*)[SAKSI_BLIND_TOKEN_LEN + 1])tok, &s);
	/* saksid scopes a branch's key to its branch (the filter says branch=it); entries
	 * written before it did carry the request's own filters. */
	if (saksi_query_filter_text(&s, text, sizeof(text)) != SAKSI_OK)
		goto bad;
	if (strcmp(text, filter) != 0) {
		s.qs_branch = ke->ke_branch;
		if (saksi_query_filter_text(&s, text, sizeof(text)) != SAKSI_OK ||
		    strcmp(text, filter) != 0)
			goto bad;
	}
	return SAKSI_OK;
bad:
	if (why != NULL)
		*why = w;
	return e;
}

/* ---- replies ---- */

saksi_err
saksi_rq_reply_seal(const uint8_t requester_pk[32], const char *json, size_t len,
                    uint8_t **sealed, size_t *sealed_len)
{
	uint8_t xpk[32];

	if (requester_pk == NULL || json == NULL || sealed == NULL || sealed_len == NULL)
		return SAKSI_ERR_INVAL;
	*sealed = NULL;
	*sealed_len = 0;
	if (len > SAKSI_WIRE_MSG_MAX - REPLY_HDR - 64 - 3 - crypto_box_SEALBYTES)
		return SAKSI_ERR_TOO_LARGE;
	if (crypto_sign_ed25519_pk_to_curve25519(xpk, requester_pk) != 0)
		return SAKSI_ERR_KEY;
	if ((*sealed = malloc(len + crypto_box_SEALBYTES)) == NULL)
		return SAKSI_ERR_NOMEM;
	if (crypto_box_seal(*sealed, (const uint8_t *)json, len, xpk) != 0) {
		free(*sealed);
		*sealed = NULL;
		return SAKSI_ERR_KEY;
	}
	*sealed_len = len + crypto_box_SEALBYTES;
	return SAKSI_OK;
}

static saksi_err
reply_message(const uint8_t *body, size_t len, uint8_t **m, size_t *mlen)
{
	size_t dl = sizeof(REPLY_DOMAIN) - 1;

	*mlen = dl + len;
	if ((*m = malloc(*mlen)) == NULL)
		return SAKSI_ERR_NOMEM;
	memcpy(*m, REPLY_DOMAIN, dl);
	memcpy(*m + dl, body, len);
	return SAKSI_OK;
}

saksi_err
saksi_rq_reply_make(const saksi_seckey *log_key, const uint8_t req_hash[32],
                    uint64_t access_index, uint64_t tree_size, const uint8_t *sealed,
                    size_t sealed_len, uint8_t **out, size_t *outlen)
{
	uint8_t *b, *m;
	size_t n, mlen;

	if (log_key == NULL || req_hash == NULL || sealed == NULL || out == NULL ||
	    outlen == NULL)
		return SAKSI_ERR_INVAL;
	if (saksi_seckey_kind(log_key) != SAKSI_KEY_SIGN)
		return SAKSI_ERR_KEY;
	if (sealed_len > SAKSI_WIRE_MSG_MAX - REPLY_HDR - 64 - 3)
		return SAKSI_ERR_TOO_LARGE;
	n = REPLY_HDR + sealed_len + 64;
	if ((b = malloc(n)) == NULL)
		return SAKSI_ERR_NOMEM;
	b[0] = SAKSI_RQ_VERSION;
	memcpy(b + 1, req_hash, 32);
	saksi_put_u64(b + 33, access_index);
	saksi_put_u64(b + 41, tree_size);
	saksi_put_u32(b + 49, (uint32_t)sealed_len);
	memcpy(b + REPLY_HDR, sealed, sealed_len);
	if (reply_message(b, n - 64, &m, &mlen) != SAKSI_OK) {
		free(b);
		return SAKSI_ERR_NOMEM;
	}
	crypto_sign_detached(b + n - 64, NULL, m, mlen, saksi_seckey_ed25519(log_key));
	free(m);
	*out = b;
	*outlen = n;
	return SAKSI_OK;
}

saksi_err
saksi_rq_reply_open(const uint8_t *buf, size_t len, const uint8_t log_pk[32],
                    const uint8_t req_hash[32], const saksi_seckey *sk,
                    uint64_t *access_index, uint64_t *tree_size, char **json,
                    size_t *json_len)
{
	uint8_t xpk[32], *xsk = NULL, *m = NULL;
	saksi_pubkey pub;
	size_t slen, mlen, plen;
	char *plain = NULL;
	saksi_err e;
	int bad;

	if (buf == NULL || log_pk == NULL || req_hash == NULL || sk == NULL || json == NULL ||
	    json_len == NULL || access_index == NULL || tree_size == NULL)
		return SAKSI_ERR_INVAL;
	*json = NULL;
	*json_len = 0;
	if (len < 1)
		return SAKSI_ERR_FORMAT;
	if (buf[0] != SAKSI_RQ_VERSION)
		return SAKSI_ERR_VERSION;
	if (len < REPLY_HDR + 64)
		return SAKSI_ERR_FORMAT;
	slen = saksi_get_u32(buf + 49);
	if (slen < crypto_box_SEALBYTES || len - REPLY_HDR - 64 != slen)
		return SAKSI_ERR_FORMAT;
	if (sodium_memcmp(buf + 1, req_hash, 32) != 0)
		return SAKSI_ERR_PROOF;
	if (reply_message(buf, len - 64, &m, &mlen) != SAKSI_OK)
		return SAKSI_ERR_NOMEM;
	bad = crypto_sign_verify_detached(buf + len - 64, m, mlen, log_pk) != 0;
	free(m);
	if (bad)
		return SAKSI_ERR_SIGNATURE;
	if (saksi_seckey_kind(sk) != SAKSI_KEY_SIGN ||
	    (e = saksi_seckey_public(sk, &pub)) != SAKSI_OK)
		return SAKSI_ERR_KEY;
	plen = slen - crypto_box_SEALBYTES;
	if ((xsk = sodium_malloc(32)) == NULL || (plain = malloc(plen + 1)) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	if (crypto_sign_ed25519_pk_to_curve25519(xpk, pub.pk_key) != 0 ||
	    crypto_sign_ed25519_sk_to_curve25519(xsk, saksi_seckey_ed25519(sk)) != 0) {
		e = SAKSI_ERR_KEY;
		goto out;
	}
	if (crypto_box_seal_open((uint8_t *)plain, buf + REPLY_HDR, slen, xpk, xsk) != 0) {
		e = SAKSI_ERR_DECRYPT;
		goto out;
	}
	plain[plen] = '\0';
	*json = plain;
	*json_len = plen;
	plain = NULL;
	*access_index = saksi_get_u64(buf + 33);
	*tree_size = saksi_get_u64(buf + 41);
	e = SAKSI_OK;
out:
	if (xsk != NULL)
		sodium_free(xsk);
	free(plain);
	return e;
}

/* ---- the sealed JSON ---- */

saksi_err
saksi_rq_result_json(const saksi_query_result *res, char **json, size_t *len)
{
	json_t *root, *rows;

	if (res == NULL || json == NULL || len == NULL)
		return SAKSI_ERR_INVAL;
	if ((rows = saksi_query_rows_json(res)) == NULL)
		return SAKSI_ERR_NOMEM;
	root = json_pack("{s:o, s:b, s:b, s:i}", "entries", rows, "more", res->qr_more,
	    "revealed", res->qr_revealed, "saksi_query_reply", 1);
	if (root == NULL)
		return SAKSI_ERR_NOMEM;
	/* Members in the order they were built: each payload as its producer signed it, so
	 * that a remote --json reads like a local one (FORMATS.md 3.4). */
	*json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (*json == NULL)
		return SAKSI_ERR_NOMEM;
	*len = strlen(*json);
	return SAKSI_OK;
}

saksi_err
saksi_rq_result_parse(const char *json, size_t len, saksi_query_result *res)
{
	json_t *root, *v, *more, *rev;
	saksi_err e;

	if (json == NULL || res == NULL)
		return SAKSI_ERR_INVAL;
	memset(res, 0, sizeof(*res));
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	v = json_object_get(root, "saksi_query_reply");
	more = json_object_get(root, "more");
	rev = json_object_get(root, "revealed");
	if (!json_is_object(root) || json_object_size(root) != 4 || !json_is_integer(v) ||
	    json_integer_value(v) != 1 || !json_is_boolean(more) || !json_is_boolean(rev)) {
		json_decref(root);
		return SAKSI_ERR_FORMAT;
	}
	e = saksi_query_rows_from_json(json_object_get(root, "entries"), res);
	if (e == SAKSI_OK) {
		res->qr_more = json_is_true(more);
		res->qr_revealed = json_is_true(rev);
	}
	json_decref(root);
	return e;
}

/* ---- transport ---- */

saksi_err
saksi_rq_exchange(const char *url, int timeout_ms, const uint8_t *req, size_t len,
                  int *status, uint8_t **body, size_t *blen)
{
	uint8_t *msg = NULL, *got = NULL;
	int sock, rc, to = timeout_ms > 0 ? timeout_ms : 10000, max = SAKSI_WIRE_MSG_MAX + 64;
	saksi_err e = SAKSI_ERR_NET;

	if (url == NULL || req == NULL || status == NULL || body == NULL || blen == NULL ||
	    timeout_ms < 0 || len > SAKSI_WIRE_MSG_MAX - 2)
		return SAKSI_ERR_INVAL;
	*body = NULL;
	*blen = 0;
	if ((sock = nn_socket(AF_SP, NN_REQ)) < 0)
		return SAKSI_ERR_NET;
	/* One try: a request resent by nanomsg would be refused as a replay anyway. */
	rc = 3600000;
	if (nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDTIMEO, &to, sizeof(to)) < 0 ||
	    nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to)) < 0 ||
	    nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max, sizeof(max)) < 0 ||
	    nn_setsockopt(sock, NN_REQ, NN_REQ_RESEND_IVL, &rc, sizeof(rc)) < 0 ||
	    nn_connect(sock, url) < 0) {
		e = nn_errno() == EINVAL ? SAKSI_ERR_INVAL : SAKSI_ERR_NET;
		goto out;
	}
	if ((msg = malloc(len + 2)) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	msg[0] = SAKSI_WIRE_VERSION;
	msg[1] = SAKSI_OP_QUERY;
	memcpy(msg + 2, req, len);
	if (nn_send(sock, msg, len + 2, 0) < 0) {
		e = nn_errno() == ETIMEDOUT ? SAKSI_ERR_TIMEOUT : SAKSI_ERR_NET;
		goto out;
	}
	if ((rc = nn_recv(sock, &got, NN_MSG, 0)) < 0) {
		e = nn_errno() == ETIMEDOUT ? SAKSI_ERR_TIMEOUT : SAKSI_ERR_NET;
		goto out;
	}
	if (rc < 3 || got[0] != SAKSI_WIRE_VERSION || got[1] != SAKSI_OP_QUERY ||
	    got[2] == 1 || got[2] >= SAKSI_R__COUNT) {
		e = SAKSI_ERR_FORMAT;
		goto out;
	}
	if ((*body = malloc((size_t)rc - 3 + 1)) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	memcpy(*body, got + 3, (size_t)rc - 3);
	(*body)[rc - 3] = 0;
	*blen = (size_t)rc - 3;
	*status = got[2];
	e = SAKSI_OK;
out:
	if (got != NULL)
		nn_freemsg(got);
	free(msg);
	nn_close(sock);
	return e;
}
