/*
 * bundle.c: evidence bundles (FORMATS.md 8): building, the strict JSON reader and the
 * offline verifier. The reader takes hostile files; the verifier recomputes every leaf
 * hash, proof and digest and never trusts a value the bundle states about itself.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "b64.h"
#include "branch_rule.h"
#include "bundle.h"
#include "bytes.h"
#include "envelope.h"
#include "keylog.h"
#include "ledger.h"
#include "rules.h"
#include "verify.h"

#define TRANSCRIPT_TAG "saksi/bundle/v1\n"
#define SIG_TAG "saksi/bundle-sig/v1\n"
#define SEALED_VERSION 0x01
#define ACCESS_TYPE "supervisor.access.logged"

/* ---- building ---- */

static int
case_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= SAKSI_BUNDLE_CASE_MAX && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_./-") == n;
}

static int
selection_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SAKSI_BUNDLE_SELECTION_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

/* A checkpoint note that parses (the signature is the verifier's business). */
static int
checkpoint_ok(const char *note, size_t len)
{
	saksi_tlog_proof *p;
	char *text;
	size_t tl = 0;
	int ok;

	/* saksi_tlog_proof_parse checks a note's shape without its signature: wrap it. */
	if (note == NULL || len == 0 || len > SAKSI_NOTE_MAX || memchr(note, '\0', len) != NULL)
		return 0;
	if ((p = malloc(sizeof(*p))) == NULL)
		return 0;
	if ((text = malloc(len + 64)) == NULL) {
		free(p);
		return 0;
	}
	tl = (size_t)snprintf(text, 64, "c2sp.org/tlog-proof@v1\nindex 0\n\n");
	memcpy(text + tl, note, len);
	ok = saksi_tlog_proof_parse(text, tl + len, p) == SAKSI_OK;
	free(text);
	free(p);
	return ok;
}

saksi_err
saksi_bundle_new(int mode, const char *case_ref, uint64_t created_ms, const char *selection,
                 const char *log, const char *checkpoint, size_t checkpoint_len,
                 const uint8_t recipient[SAKSI_KEYID_LEN], uint64_t access_index,
                 saksi_bundle **out)
{
	saksi_bundle *b;
	uint8_t kid[4], zero[32] = { 0 };

	if (out == NULL || case_ref == NULL || selection == NULL || log == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if ((mode != SAKSI_BUNDLE_PLAIN && mode != SAKSI_BUNDLE_SEALED) || !case_ok(case_ref) ||
	    !selection_ok(selection) || saksi_note_keyid(log, zero, kid) != SAKSI_OK ||
	    !checkpoint_ok(checkpoint, checkpoint_len) ||
	    (mode == SAKSI_BUNDLE_SEALED && recipient == NULL))
		return SAKSI_ERR_INVAL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return SAKSI_ERR_NOMEM;
	if ((b->b_checkpoint = malloc(checkpoint_len + 1)) == NULL) {
		free(b);
		return SAKSI_ERR_NOMEM;
	}
	memcpy(b->b_checkpoint, checkpoint, checkpoint_len);
	b->b_checkpoint[checkpoint_len] = '\0';
	b->b_checkpoint_len = checkpoint_len;
	b->b_mode = mode;
	snprintf(b->b_case, sizeof(b->b_case), "%s", case_ref);
	snprintf(b->b_selection, sizeof(b->b_selection), "%s", selection);
	snprintf(b->b_log, sizeof(b->b_log), "%s", log);
	b->b_created_ms = created_ms;
	if (mode == SAKSI_BUNDLE_SEALED)
		memcpy(b->b_recipient, recipient, SAKSI_KEYID_LEN);
	b->b_access = access_index;
	*out = b;
	return SAKSI_OK;
}

static void
entry_clear(saksi_bundle_entry *e)
{
	if (e->be_disc != NULL) {
		sodium_memzero(e->be_disc, e->be_disc_len);
		free(e->be_disc);
	}
	free(e->be_leaf);
	free(e->be_proof);
	memset(e, 0, sizeof(*e));
}

void
saksi_bundle_free(saksi_bundle *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->b_n; i++)
		entry_clear(&b->b_entries[i]);
	free(b->b_entries);
	free(b->b_checkpoint);
	free(b);
}

saksi_err
saksi_bundle_add(saksi_bundle *b, uint64_t index, const uint8_t *leaf, size_t len,
                 const saksi_hash *proof, size_t proof_len, saksi_bundle_entry **out)
{
	saksi_bundle_entry *e;

	if (b == NULL || leaf == NULL || len == 0 || len > SAKSI_LEAF_MAX ||
	    proof_len > SAKSI_MERKLE_MAX_PROOF || (proof_len > 0 && proof == NULL) ||
	    (b->b_n > 0 && index <= b->b_entries[b->b_n - 1].be_index))
		return SAKSI_ERR_INVAL;
	if (b->b_n == SAKSI_BUNDLE_ENTRIES_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (b->b_n == b->b_cap) {
		size_t cap = b->b_cap == 0 ? 16 : 2 * b->b_cap;
		saksi_bundle_entry *grown;

		if (cap > SAKSI_BUNDLE_ENTRIES_MAX)
			cap = SAKSI_BUNDLE_ENTRIES_MAX;
		if ((grown = realloc(b->b_entries, cap * sizeof(*grown))) == NULL)
			return SAKSI_ERR_NOMEM;
		b->b_entries = grown;
		b->b_cap = cap;
	}
	e = &b->b_entries[b->b_n];
	memset(e, 0, sizeof(*e));
	if ((e->be_leaf = malloc(len)) == NULL)
		return SAKSI_ERR_NOMEM;
	if (proof_len > 0 && (e->be_proof = malloc(proof_len * sizeof(saksi_hash))) == NULL) {
		free(e->be_leaf);
		e->be_leaf = NULL;
		return SAKSI_ERR_NOMEM;
	}
	memcpy(e->be_leaf, leaf, len);
	e->be_leaf_len = len;
	if (proof_len > 0)
		memcpy(e->be_proof, proof, proof_len * sizeof(saksi_hash));
	e->be_proof_len = proof_len;
	e->be_index = index;
	b->b_n++;
	b->b_signed = 0;
	if (out != NULL)
		*out = e;
	return SAKSI_OK;
}

/* A disclosures array in its one canonical spelling: ["d1","d2"], 1..32 base64url strings. */
static saksi_err
disc_canonical(const uint8_t *json, size_t len, char **out, size_t *outlen)
{
	json_t *a = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, NULL);
	size_t i, n, need = 2, o = 0;
	json_t *v;
	char *s;

	if (!json_is_array(a) || (n = json_array_size(a)) == 0 || n > SAKSI_DISCLOSURES_MAX) {
		json_decref(a);
		return SAKSI_ERR_FORMAT;
	}
	json_array_foreach(a, i, v) {
		const char *d = json_string_value(v);
		size_t dl = json_string_length(v);

		if (d == NULL || dl == 0 || strlen(d) != dl || strspn(d, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_-") != dl) {
			json_decref(a);
			return SAKSI_ERR_FORMAT;
		}
		need += dl + 3;
	}
	if (need > SAKSI_BUNDLE_DISC_MAX + 1 || (s = malloc(need + 1)) == NULL) {
		json_decref(a);
		return need > SAKSI_BUNDLE_DISC_MAX + 1 ? SAKSI_ERR_TOO_LARGE : SAKSI_ERR_NOMEM;
	}
	s[o++] = '[';
	json_array_foreach(a, i, v) {
		size_t dl = json_string_length(v);

		if (i > 0)
			s[o++] = ',';
		s[o++] = '"';
		memcpy(s + o, json_string_value(v), dl);
		o += dl;
		s[o++] = '"';
	}
	s[o++] = ']';
	s[o] = '\0';
	json_decref(a);   /* the strings are personal data; jansson frees them unwiped, as
	                     every jansson user of disclosures here does */
	*out = s;
	*outlen = o;
	return SAKSI_OK;
}

saksi_err
saksi_bundle_set_disclosures(saksi_bundle *b, saksi_bundle_entry *e, const uint8_t *json,
                             size_t len, const uint8_t recipient_pk[32])
{
	char *canon;
	size_t clen;
	saksi_err err;

	if (b == NULL || e == NULL || json == NULL || len == 0 || len > SAKSI_BUNDLE_DISC_MAX ||
	    (b->b_mode == SAKSI_BUNDLE_SEALED && recipient_pk == NULL))
		return SAKSI_ERR_INVAL;
	if ((err = disc_canonical(json, len, &canon, &clen)) != SAKSI_OK)
		return err == SAKSI_ERR_NOMEM ? err : SAKSI_ERR_INVAL;
	if (e->be_disc != NULL) {
		sodium_memzero(e->be_disc, e->be_disc_len);
		free(e->be_disc);
		e->be_disc = NULL;
	}
	b->b_signed = 0;
	if (b->b_mode == SAKSI_BUNDLE_PLAIN) {
		e->be_disc = (uint8_t *)canon;
		e->be_disc_len = clen;
		e->be_disc_kind = SAKSI_BD_PLAIN;
		return SAKSI_OK;
	}
	{
		size_t plen = SAKSI_HASH_LEN + clen, slen = 1 + crypto_box_SEALBYTES + plen;
		uint8_t *plain = malloc(plen), *sealed = malloc(slen);

		if (plain == NULL || sealed == NULL) {
			free(plain);
			free(sealed);
			sodium_memzero(canon, clen);
			free(canon);
			return SAKSI_ERR_NOMEM;
		}
		/* The leaf hash inside the box binds it to this entry. */
		saksi_merkle_leaf_hash(plain, e->be_leaf, e->be_leaf_len);
		memcpy(plain + SAKSI_HASH_LEN, canon, clen);
		sodium_memzero(canon, clen);
		free(canon);
		sealed[0] = SEALED_VERSION;
		err = crypto_box_seal(sealed + 1, plain, plen, recipient_pk) == 0 ? SAKSI_OK :
		    SAKSI_ERR_KEY;
		sodium_memzero(plain, plen);
		free(plain);
		if (err != SAKSI_OK) {
			free(sealed);
			return err;
		}
		e->be_disc = sealed;
		e->be_disc_len = slen;
		e->be_disc_kind = SAKSI_BD_SEALED;
	}
	return SAKSI_OK;
}

void
saksi_bundle_set_forgotten(saksi_bundle *b, saksi_bundle_entry *e)
{
	if (b == NULL || e == NULL)
		return;
	if (e->be_disc != NULL) {
		sodium_memzero(e->be_disc, e->be_disc_len);
		free(e->be_disc);
	}
	e->be_disc = NULL;
	e->be_disc_len = 0;
	e->be_disc_kind = SAKSI_BD_FORGOTTEN;
	b->b_signed = 0;
}

saksi_err
saksi_bundle_open(const saksi_bundle_entry *e, const saksi_seckey *box, char **json,
                  size_t *json_len)
{
	const uint8_t *sk;
	saksi_pubkey pub;
	saksi_hash h;
	uint8_t *plain;
	size_t plen;
	char *out;

	if (e == NULL || box == NULL || json == NULL || json_len == NULL ||
	    e->be_disc_kind != SAKSI_BD_SEALED)
		return SAKSI_ERR_INVAL;
	if ((sk = saksi_seckey_x25519(box)) == NULL || saksi_seckey_public(box, &pub) != SAKSI_OK)
		return SAKSI_ERR_KEY;
	if (e->be_disc_len < SAKSI_BUNDLE_SEALED_OVERHEAD + 2 ||
	    e->be_disc_len > SAKSI_BUNDLE_SEALED_MAX || e->be_disc[0] != SEALED_VERSION)
		return SAKSI_ERR_FORMAT;
	plen = e->be_disc_len - 1 - crypto_box_SEALBYTES;
	if ((plain = malloc(plen)) == NULL)
		return SAKSI_ERR_NOMEM;
	if (crypto_box_seal_open(plain, e->be_disc + 1, e->be_disc_len - 1, pub.pk_key, sk) != 0) {
		free(plain);
		return SAKSI_ERR_DECRYPT;
	}
	saksi_merkle_leaf_hash(h, e->be_leaf, e->be_leaf_len);
	if (sodium_memcmp(plain, h, SAKSI_HASH_LEN) != 0) {
		sodium_memzero(plain, plen);
		free(plain);
		return SAKSI_ERR_DECRYPT;
	}
	if ((out = malloc(plen - SAKSI_HASH_LEN + 1)) == NULL) {
		sodium_memzero(plain, plen);
		free(plain);
		return SAKSI_ERR_NOMEM;
	}
	memcpy(out, plain + SAKSI_HASH_LEN, plen - SAKSI_HASH_LEN);
	out[plen - SAKSI_HASH_LEN] = '\0';
	sodium_memzero(plain, plen);
	free(plain);
	*json = out;
	*json_len = plen - SAKSI_HASH_LEN;
	return SAKSI_OK;
}

/* ---- the transcript and the signature ---- */

static void
h_u8(crypto_hash_sha256_state *st, uint8_t v)
{
	crypto_hash_sha256_update(st, &v, 1);
}

static void
h_u16(crypto_hash_sha256_state *st, uint16_t v)
{
	uint8_t p[2];

	saksi_put_u16(p, v);
	crypto_hash_sha256_update(st, p, 2);
}

static void
h_u32(crypto_hash_sha256_state *st, uint32_t v)
{
	uint8_t p[4];

	saksi_put_u32(p, v);
	crypto_hash_sha256_update(st, p, 4);
}

static void
h_u64(crypto_hash_sha256_state *st, uint64_t v)
{
	uint8_t p[8];

	saksi_put_u64(p, v);
	crypto_hash_sha256_update(st, p, 8);
}

void
saksi_bundle_digest(const saksi_bundle *b, uint8_t out[32])
{
	crypto_hash_sha256_state st;
	size_t n;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)TRANSCRIPT_TAG, strlen(TRANSCRIPT_TAG));
	h_u8(&st, (uint8_t)b->b_mode);
	n = strlen(b->b_case);
	h_u8(&st, (uint8_t)n);
	crypto_hash_sha256_update(&st, (const uint8_t *)b->b_case, n);
	h_u64(&st, b->b_created_ms);
	crypto_hash_sha256_update(&st, b->b_exporter, SAKSI_KEYID_LEN);
	crypto_hash_sha256_update(&st, b->b_recipient, SAKSI_KEYID_LEN);
	h_u64(&st, b->b_access);
	n = strlen(b->b_selection);
	h_u16(&st, (uint16_t)n);
	crypto_hash_sha256_update(&st, (const uint8_t *)b->b_selection, n);
	n = strlen(b->b_log);
	h_u8(&st, (uint8_t)n);
	crypto_hash_sha256_update(&st, (const uint8_t *)b->b_log, n);
	h_u16(&st, (uint16_t)b->b_checkpoint_len);
	crypto_hash_sha256_update(&st, (const uint8_t *)b->b_checkpoint, b->b_checkpoint_len);
	h_u32(&st, (uint32_t)b->b_n);
	for (size_t i = 0; i < b->b_n; i++) {
		const saksi_bundle_entry *e = &b->b_entries[i];

		h_u64(&st, e->be_index);
		h_u16(&st, (uint16_t)e->be_leaf_len);
		crypto_hash_sha256_update(&st, e->be_leaf, e->be_leaf_len);
		h_u8(&st, (uint8_t)e->be_proof_len);
		for (size_t k = 0; k < e->be_proof_len; k++)
			crypto_hash_sha256_update(&st, e->be_proof[k], SAKSI_HASH_LEN);
		h_u8(&st, (uint8_t)e->be_disc_kind);
		h_u32(&st, (uint32_t)e->be_disc_len);
		if (e->be_disc_len > 0)
			crypto_hash_sha256_update(&st, e->be_disc, e->be_disc_len);
	}
	crypto_hash_sha256_final(&st, out);
}

static void
sig_message(const saksi_bundle *b, uint8_t msg[sizeof(SIG_TAG) - 1 + 32])
{
	memcpy(msg, SIG_TAG, sizeof(SIG_TAG) - 1);
	saksi_bundle_digest(b, msg + sizeof(SIG_TAG) - 1);
}

saksi_err
saksi_bundle_sign(saksi_bundle *b, const saksi_seckey *sk)
{
	uint8_t msg[sizeof(SIG_TAG) - 1 + 32];
	const uint8_t *ed;

	if (b == NULL || sk == NULL)
		return SAKSI_ERR_INVAL;
	if ((ed = saksi_seckey_ed25519(sk)) == NULL)
		return SAKSI_ERR_KEY;
	memcpy(b->b_exporter, saksi_seckey_id(sk), SAKSI_KEYID_LEN);
	sig_message(b, msg);
	crypto_sign_detached(b->b_sig, NULL, msg, sizeof(msg), ed);
	b->b_signed = 1;
	return SAKSI_OK;
}

/* ---- the file ---- */

static json_t *
b64_json(const uint8_t *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(cap);
	json_t *j;

	if (s == NULL)
		return NULL;
	sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	j = json_string(s);
	free(s);
	return j;
}

static json_t *
hex_json(const uint8_t id[SAKSI_KEYID_LEN])
{
	char hex[2 * SAKSI_KEYID_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), id, SAKSI_KEYID_LEN);
	return json_string(hex);
}

/* json_object_set_new that remembers a failure (a NULL value: out of memory). */
static void
set(json_t *o, const char *k, json_t *v, int *bad)
{
	if (v == NULL || json_object_set_new(o, k, v) != 0)
		*bad = 1;
}

saksi_err
saksi_bundle_format(const saksi_bundle *b, char **out, size_t *len)
{
	json_t *root, *arr;
	int bad = 0;
	char *s;

	if (b == NULL || out == NULL || len == NULL || !b->b_signed || b->b_n == 0)
		return SAKSI_ERR_INVAL;
	if ((root = json_object()) == NULL || (arr = json_array()) == NULL) {
		json_decref(root);
		return SAKSI_ERR_NOMEM;
	}
	set(root, "saksi_bundle", json_integer(SAKSI_BUNDLE_VERSION), &bad);
	set(root, "mode", json_string(b->b_mode == SAKSI_BUNDLE_PLAIN ? "plain" : "sealed"),
	    &bad);
	set(root, "case_ref", json_string(b->b_case), &bad);
	set(root, "created_ms", json_integer((json_int_t)b->b_created_ms), &bad);
	set(root, "exporter", hex_json(b->b_exporter), &bad);
	set(root, "recipient", b->b_mode == SAKSI_BUNDLE_SEALED ? hex_json(b->b_recipient) :
	    json_null(), &bad);
	set(root, "access_index", json_integer((json_int_t)b->b_access), &bad);
	set(root, "selection", json_string(b->b_selection), &bad);
	set(root, "log", json_string(b->b_log), &bad);
	set(root, "checkpoint", json_stringn(b->b_checkpoint, b->b_checkpoint_len), &bad);
	for (size_t i = 0; i < b->b_n && !bad; i++) {
		const saksi_bundle_entry *e = &b->b_entries[i];
		json_t *o = json_object(), *p = json_array();

		if (o == NULL || p == NULL) {
			json_decref(o);
			json_decref(p);
			bad = 1;
			break;
		}
		set(o, "index", json_integer((json_int_t)e->be_index), &bad);
		set(o, "leaf", b64_json(e->be_leaf, e->be_leaf_len), &bad);
		for (size_t k = 0; k < e->be_proof_len; k++)
			if (json_array_append_new(p, b64_json(e->be_proof[k], SAKSI_HASH_LEN)) != 0)
				bad = 1;
		set(o, "proof", p, &bad);
		if (e->be_disc_kind == SAKSI_BD_PLAIN)
			set(o, "disclosures", json_loadb((const char *)e->be_disc, e->be_disc_len, 0,
			    NULL), &bad);
		else if (e->be_disc_kind == SAKSI_BD_SEALED)
			set(o, "sealed", b64_json(e->be_disc, e->be_disc_len), &bad);
		else if (e->be_disc_kind == SAKSI_BD_FORGOTTEN)
			set(o, "forgotten", json_true(), &bad);
		if (json_array_append_new(arr, o) != 0)
			bad = 1;
	}
	set(root, "entries", arr, &bad);
	set(root, "signature", b64_json(b->b_sig, sizeof(b->b_sig)), &bad);
	s = bad ? NULL : json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (s == NULL)
		return SAKSI_ERR_NOMEM;
	*len = strlen(s);
	if (*len + 1 > SAKSI_BUNDLE_MAX) {
		sodium_memzero(s, *len);
		free(s);
		return SAKSI_ERR_TOO_LARGE;
	}
	/* A text file ends in a newline. */
	{
		char *grown = realloc(s, *len + 2);

		if (grown == NULL) {
			sodium_memzero(s, *len);
			free(s);
			return SAKSI_ERR_NOMEM;
		}
		s = grown;
		s[(*len)++] = '\n';
		s[*len] = '\0';
	}
	*out = s;
	return SAKSI_OK;
}

/* ---- the reader ---- */

struct perr {
	char *buf;
	size_t len;
};

__attribute__((format(printf, 3, 4))) static saksi_err
perr(struct perr *p, saksi_err e, const char *fmt, ...)
{
	va_list ap;

	if (p->buf != NULL && p->len > 0) {
		va_start(ap, fmt);
		vsnprintf(p->buf, p->len, fmt, ap);
		va_end(ap);
	}
	return e;
}

/* Only the members named in allowed (NULL-terminated). */
static const char *
unknown_member(json_t *o, const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		size_t i;

		for (i = 0; allowed[i] != NULL && strcmp(allowed[i], k) != 0; i++)
			;
		if (allowed[i] == NULL)
			return k;
	}
	return NULL;
}

/* Canonical standard base64 of 1..max bytes: *out malloc'd. */
static saksi_err
b64_dec(json_t *v, size_t max, uint8_t **out, size_t *n)
{
	const char *s = json_string_value(v);
	size_t sl, cap;
	uint8_t *buf;
	char *again;

	if (s == NULL || (sl = json_string_length(v)) == 0 || strlen(s) != sl)
		return SAKSI_ERR_FORMAT;
	if (sl > sodium_base64_ENCODED_LEN(max, sodium_base64_VARIANT_ORIGINAL))
		return SAKSI_ERR_TOO_LARGE;
	cap = sl / 4 * 3 + 3;
	if ((buf = malloc(cap)) == NULL)
		return SAKSI_ERR_NOMEM;
	if (saksi_base642bin(buf, cap, s, sl, NULL, n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    *n == 0) {
		free(buf);
		return SAKSI_ERR_FORMAT;
	}
	if (*n > max) {
		free(buf);
		return SAKSI_ERR_TOO_LARGE;
	}
	/* One spelling per value: re-encode and compare (no stray padding bits). */
	cap = sodium_base64_ENCODED_LEN(*n, sodium_base64_VARIANT_ORIGINAL);
	if ((again = malloc(cap)) == NULL) {
		free(buf);
		return SAKSI_ERR_NOMEM;
	}
	sodium_bin2base64(again, cap, buf, *n, sodium_base64_VARIANT_ORIGINAL);
	if (strcmp(again, s) != 0) {
		free(again);
		free(buf);
		return SAKSI_ERR_FORMAT;
	}
	free(again);
	*out = buf;
	return SAKSI_OK;
}

static int
hex_dec(json_t *v, uint8_t id[SAKSI_KEYID_LEN])
{
	const char *s = json_string_value(v);
	size_t n;

	if (s == NULL || json_string_length(v) != 2 * SAKSI_KEYID_LEN ||
	    strspn(s, "0123456789abcdef") != 2 * SAKSI_KEYID_LEN)
		return 0;
	return sodium_hex2bin(id, SAKSI_KEYID_LEN, s, 2 * SAKSI_KEYID_LEN, NULL, &n, NULL) == 0 &&
	    n == SAKSI_KEYID_LEN;
}

static int
u64_of(json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return 0;
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

/* A string member without NUL bytes, 1..max bytes. */
static const char *
str_of(json_t *v, size_t max)
{
	const char *s = json_string_value(v);

	if (s == NULL || json_string_length(v) == 0 || json_string_length(v) > max ||
	    strlen(s) != json_string_length(v))
		return NULL;
	return s;
}

static saksi_err
parse_entry(saksi_bundle *b, json_t *o, size_t i, struct perr *pe)
{
	static const char *const allowed[] = { "index", "leaf", "proof", "disclosures", "sealed",
		"forgotten", NULL };
	const char *k;
	json_t *proof, *d, *s, *f, *h;
	saksi_hash hashes[SAKSI_MERKLE_MAX_PROOF];
	saksi_bundle_entry *e;
	uint64_t index;
	uint8_t *leaf = NULL, *raw;
	size_t leaf_len, n, j;
	saksi_err err;

	if (!json_is_object(o))
		return perr(pe, SAKSI_ERR_FORMAT, "entries[%zu]: not an object", i);
	if ((k = unknown_member(o, allowed)) != NULL)
		return perr(pe, SAKSI_ERR_FORMAT, "entries[%zu]: unknown member \"%s\"", i, k);
	if (!u64_of(json_object_get(o, "index"), &index))
		return perr(pe, SAKSI_ERR_FORMAT, "entries[%zu]: index is not an integer >= 0", i);
	if (b->b_n > 0 && index <= b->b_entries[b->b_n - 1].be_index)
		return perr(pe, SAKSI_ERR_FORMAT, "entry %" PRIu64 ": duplicated or out of order "
		    "(entries[%zu] is not above the entry before it, %" PRIu64 ")", index, i,
		    b->b_entries[b->b_n - 1].be_index);
	if ((err = b64_dec(json_object_get(o, "leaf"), SAKSI_LEAF_MAX, &leaf, &leaf_len)) !=
	    SAKSI_OK)
		return perr(pe, err, "entry %" PRIu64 ": leaf is not canonical base64 of 1..%u bytes",
		    index, SAKSI_LEAF_MAX);
	proof = json_object_get(o, "proof");
	if (!json_is_array(proof) || json_array_size(proof) > SAKSI_MERKLE_MAX_PROOF) {
		free(leaf);
		return perr(pe, json_is_array(proof) ? SAKSI_ERR_TOO_LARGE : SAKSI_ERR_FORMAT,
		    "entry %" PRIu64 ": proof is not an array of at most %d hashes", index,
		    SAKSI_MERKLE_MAX_PROOF);
	}
	json_array_foreach(proof, j, h) {
		if ((err = b64_dec(h, SAKSI_HASH_LEN, &raw, &n)) != SAKSI_OK || n != SAKSI_HASH_LEN) {
			if (err == SAKSI_OK)
				free(raw);
			free(leaf);
			return perr(pe, err == SAKSI_ERR_NOMEM ? err : SAKSI_ERR_FORMAT,
			    "entry %" PRIu64 ": proof[%zu] is not a base64 hash", index, j);
		}
		memcpy(hashes[j], raw, SAKSI_HASH_LEN);
		free(raw);
	}
	err = saksi_bundle_add(b, index, leaf, leaf_len, hashes, json_array_size(proof), &e);
	free(leaf);
	if (err == SAKSI_ERR_TOO_LARGE)
		return perr(pe, err, "more than %d entries", SAKSI_BUNDLE_ENTRIES_MAX);
	if (err != SAKSI_OK)
		return perr(pe, err == SAKSI_ERR_NOMEM ? err : SAKSI_ERR_FORMAT, "entry %" PRIu64
		    ": cannot be added", index);
	d = json_object_get(o, "disclosures");
	s = json_object_get(o, "sealed");
	f = json_object_get(o, "forgotten");
	if ((d != NULL) + (s != NULL) + (f != NULL) > 1)
		return perr(pe, SAKSI_ERR_FORMAT, "entry %" PRIu64 ": more than one of disclosures, "
		    "sealed and forgotten", index);
	if (f != NULL && !json_is_true(f))
		return perr(pe, SAKSI_ERR_FORMAT, "entry %" PRIu64 ": forgotten is only ever true",
		    index);
	if (f != NULL)
		e->be_disc_kind = SAKSI_BD_FORGOTTEN;
	if (d != NULL) {
		char *text, *canon;
		size_t clen;

		if (b->b_mode != SAKSI_BUNDLE_PLAIN)
			return perr(pe, SAKSI_ERR_FORMAT, "entry %" PRIu64 ": disclosures in clear in "
			    "a sealed bundle", index);
		if (!json_is_array(d) || json_array_size(d) == 0 ||
		    json_array_size(d) > SAKSI_DISCLOSURES_MAX)
			return perr(pe, SAKSI_ERR_FORMAT, "entry %" PRIu64 ": disclosures is not an "
			    "array of 1..%d strings", index, SAKSI_DISCLOSURES_MAX);
		if ((text = json_dumps(d, JSON_COMPACT)) == NULL)
			return perr(pe, SAKSI_ERR_NOMEM, "out of memory");
		err = disc_canonical((const uint8_t *)text, strlen(text), &canon, &clen);
		sodium_memzero(text, strlen(text));
		free(text);
		if (err != SAKSI_OK)
			return perr(pe, err, "entry %" PRIu64 ": disclosures is not an array of "
			    "base64url strings (at most %d bytes in all)", index, SAKSI_BUNDLE_DISC_MAX);
		e->be_disc = (uint8_t *)canon;
		e->be_disc_len = clen;
		e->be_disc_kind = SAKSI_BD_PLAIN;
	}
	if (s != NULL) {
		if (b->b_mode != SAKSI_BUNDLE_SEALED)
			return perr(pe, SAKSI_ERR_FORMAT, "entry %" PRIu64 ": a sealed box in a plain "
			    "bundle", index);
		if ((err = b64_dec(s, SAKSI_BUNDLE_SEALED_MAX, &e->be_disc, &e->be_disc_len)) !=
		    SAKSI_OK)
			return perr(pe, err, "entry %" PRIu64 ": sealed is not canonical base64 of at "
			    "most %d bytes", index, SAKSI_BUNDLE_SEALED_MAX);
		if (e->be_disc_len < SAKSI_BUNDLE_SEALED_OVERHEAD + 2 || e->be_disc[0] !=
		    SEALED_VERSION)
			return perr(pe, e->be_disc[0] != SEALED_VERSION ? SAKSI_ERR_VERSION :
			    SAKSI_ERR_FORMAT, "entry %" PRIu64 ": sealed is not a version 1 box", index);
		e->be_disc_kind = SAKSI_BD_SEALED;
	}
	return SAKSI_OK;
}

static saksi_err
parse_root(saksi_bundle *b, json_t *root, struct perr *pe)
{
	static const char *const allowed[] = { "saksi_bundle", "mode", "case_ref", "created_ms",
		"exporter", "recipient", "access_index", "selection", "log", "checkpoint",
		"entries", "signature", NULL };
	const char *k, *s;
	json_t *v, *arr;
	uint8_t *raw, kid[4], zero[32] = { 0 };
	size_t n, i;
	int found = 0;
	saksi_err err;

	if (!json_is_object(root))
		return perr(pe, SAKSI_ERR_FORMAT, "not a JSON object");
	v = json_object_get(root, "saksi_bundle");
	if (!json_is_integer(v))
		return perr(pe, SAKSI_ERR_FORMAT, "saksi_bundle: missing or not an integer");
	if (json_integer_value(v) != SAKSI_BUNDLE_VERSION)
		return perr(pe, SAKSI_ERR_VERSION, "saksi_bundle %" JSON_INTEGER_FORMAT ": this "
		    "saksi reads version 1", json_integer_value(v));
	if ((k = unknown_member(root, allowed)) != NULL)
		return perr(pe, SAKSI_ERR_FORMAT, "unknown member \"%s\"", k);
	s = json_string_value(json_object_get(root, "mode"));
	if (s != NULL && strcmp(s, "plain") == 0)
		b->b_mode = SAKSI_BUNDLE_PLAIN;
	else if (s != NULL && strcmp(s, "sealed") == 0)
		b->b_mode = SAKSI_BUNDLE_SEALED;
	else
		return perr(pe, SAKSI_ERR_FORMAT, "mode: \"plain\" or \"sealed\"");
	if ((s = str_of(json_object_get(root, "case_ref"), SAKSI_BUNDLE_CASE_MAX)) == NULL ||
	    !case_ok(s))
		return perr(pe, SAKSI_ERR_FORMAT, "case_ref: 1 to 64 of A-Z a-z 0-9 _ . / -");
	snprintf(b->b_case, sizeof(b->b_case), "%s", s);
	if (!u64_of(json_object_get(root, "created_ms"), &b->b_created_ms))
		return perr(pe, SAKSI_ERR_FORMAT, "created_ms: an integer >= 0");
	if (!hex_dec(json_object_get(root, "exporter"), b->b_exporter))
		return perr(pe, SAKSI_ERR_FORMAT, "exporter: 16 lowercase hex digits");
	v = json_object_get(root, "recipient");
	if (b->b_mode == SAKSI_BUNDLE_SEALED ? !hex_dec(v, b->b_recipient) : !json_is_null(v))
		return perr(pe, SAKSI_ERR_FORMAT, "recipient: 16 lowercase hex digits when sealed, "
		    "null when plain");
	if (!u64_of(json_object_get(root, "access_index"), &b->b_access))
		return perr(pe, SAKSI_ERR_FORMAT, "access_index: an integer >= 0");
	if ((s = str_of(json_object_get(root, "selection"), SAKSI_BUNDLE_SELECTION_MAX)) == NULL ||
	    !selection_ok(s))
		return perr(pe, SAKSI_ERR_FORMAT, "selection: 1 to %d printable ASCII characters",
		    SAKSI_BUNDLE_SELECTION_MAX);
	snprintf(b->b_selection, sizeof(b->b_selection), "%s", s);
	if ((s = str_of(json_object_get(root, "log"), SAKSI_ORIGIN_MAX)) == NULL ||
	    saksi_note_keyid(s, zero, kid) != SAKSI_OK)
		return perr(pe, SAKSI_ERR_FORMAT, "log: not a key name");
	snprintf(b->b_log, sizeof(b->b_log), "%s", s);
	if ((s = str_of(json_object_get(root, "checkpoint"), SAKSI_NOTE_MAX)) == NULL ||
	    !checkpoint_ok(s, strlen(s)))
		return perr(pe, SAKSI_ERR_FORMAT, "checkpoint: not a signed checkpoint note");
	if ((b->b_checkpoint = strdup(s)) == NULL)
		return perr(pe, SAKSI_ERR_NOMEM, "out of memory");
	b->b_checkpoint_len = strlen(s);
	if ((err = b64_dec(json_object_get(root, "signature"), 64, &raw, &n)) != SAKSI_OK ||
	    n != 64) {
		if (err == SAKSI_OK)
			free(raw);
		return perr(pe, err == SAKSI_ERR_NOMEM ? err : SAKSI_ERR_FORMAT,
		    "signature: not base64 of 64 bytes");
	}
	memcpy(b->b_sig, raw, 64);
	free(raw);
	arr = json_object_get(root, "entries");
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return perr(pe, SAKSI_ERR_FORMAT, "entries: a non-empty array");
	if (json_array_size(arr) > SAKSI_BUNDLE_ENTRIES_MAX)
		return perr(pe, SAKSI_ERR_TOO_LARGE, "more than %d entries",
		    SAKSI_BUNDLE_ENTRIES_MAX);
	json_array_foreach(arr, i, v) {
		if ((err = parse_entry(b, v, i, pe)) != SAKSI_OK)
			return err;
		found |= b->b_entries[b->b_n - 1].be_index == b->b_access;
	}
	if (!found)
		return perr(pe, SAKSI_ERR_FORMAT, "access_index %" PRIu64 ": the access entry is "
		    "not in the bundle", b->b_access);
	b->b_signed = 1;
	return SAKSI_OK;
}

saksi_err
saksi_bundle_parse(const char *text, size_t len, saksi_bundle **out, char *errbuf,
                   size_t errlen)
{
	struct perr pe = { errbuf, errlen };
	json_error_t jerr;
	saksi_bundle *b;
	json_t *root;
	saksi_err err;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (text == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if (len > SAKSI_BUNDLE_MAX)
		return perr(&pe, SAKSI_ERR_TOO_LARGE, "over %u bytes", SAKSI_BUNDLE_MAX);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return perr(&pe, SAKSI_ERR_FORMAT, "not JSON: line %d: %s", jerr.line, jerr.text);
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		json_decref(root);
		return SAKSI_ERR_NOMEM;
	}
	err = parse_root(b, root, &pe);
	json_decref(root);
	if (err != SAKSI_OK) {
		saksi_bundle_free(b);
		return err;
	}
	*out = b;
	return SAKSI_OK;
}

/* ---- verification ---- */

static const char *const reason_names[SAKSI_BV__COUNT] = {
	"ok", "checkpoint", "origin", "range", "leaf", "proof", "unknown_key", "signature",
	"evidence", "sealed", "disclosure", "access", "exporter", "consistency", "keyring",
};

const char *
saksi_bundle_reason_name(int reason)
{
	if (reason < 0 || reason >= SAKSI_BV__COUNT)
		return "unknown";
	return reason_names[reason];
}

__attribute__((format(printf, 4, 5))) static saksi_err
vfail(saksi_bundle_report *r, int reason, uint64_t entry, const char *fmt, ...)
{
	va_list ap;

	r->br_reason = reason;
	r->br_entry = entry;
	va_start(ap, fmt);
	vsnprintf(r->br_message, sizeof(r->br_message), fmt, ap);
	va_end(ap);
	return SAKSI_ERR_CORRUPT;
}

static int
has_entry(const saksi_bundle *b, uint64_t index)
{
	size_t lo = 0, hi = b->b_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->b_entries[mid].be_index == index)
			return 1;
		if (b->b_entries[mid].be_index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* The disclosures of one event entry against the digests of its signed payload. */
static saksi_err
check_disclosures(const saksi_bundle_entry *e, const saksi_envelope *ev, const saksi_bundle_verify_opts *o,
                  saksi_bundle_report *r)
{
	char *json = NULL;
	size_t jlen = 0;
	saksi_err err;

	switch (e->be_disc_kind) {
	case SAKSI_BD_FORGOTTEN:
		r->br_forgotten++;
		return SAKSI_OK;
	case SAKSI_BD_NONE:
		/* No disclosures: then no personal field either, or they were withheld. */
		err = saksi_disclosures_check(ev->ev_payload, ev->ev_payload_len,
		    (const uint8_t *)"[]", 2, NULL, NULL, NULL);
		if (err != SAKSI_OK)
			return vfail(r, SAKSI_BV_DISCLOSURE, e->be_index, "entry %" PRIu64 ": its "
			    "payload has personal fields but the bundle carries no disclosures for "
			    "it and does not mark it forgotten", e->be_index);
		return SAKSI_OK;
	case SAKSI_BD_SEALED:
		if (o->bo_box == NULL) {
			r->br_unopened++;
			return SAKSI_OK;
		}
		err = saksi_bundle_open(e, o->bo_box, &json, &jlen);
		if (err == SAKSI_ERR_NOMEM)
			return err;
		if (err != SAKSI_OK)
			return vfail(r, SAKSI_BV_SEALED, e->be_index, "entry %" PRIu64 ": its sealed "
			    "disclosures do not open with the recipient key as this entry's (%s)",
			    e->be_index, saksi_strerror(err));
		break;
	default:
		json = (char *)e->be_disc;
		jlen = e->be_disc_len;
		break;
	}
	err = saksi_disclosures_check(ev->ev_payload, ev->ev_payload_len, (const uint8_t *)json,
	    jlen, NULL, NULL, NULL);
	if (e->be_disc_kind == SAKSI_BD_SEALED) {
		sodium_memzero(json, jlen);
		free(json);
	}
	if (err == SAKSI_ERR_NOMEM)
		return err;
	if (err != SAKSI_OK)
		return vfail(r, SAKSI_BV_DISCLOSURE, e->be_index, "entry %" PRIu64 ": its "
		    "disclosures do not match the digests in its signed payload (%s)", e->be_index,
		    err == SAKSI_ERR_PROOF ? "a digest without its disclosure, or a disclosure "
		    "that is not the entry's" : saksi_strerror(err));
	r->br_disclosed++;
	return SAKSI_OK;
}

/*
 * The keyring in force as the bundle proves it: the last kind 4 entry, or whole set of
 * parts, before the entry being checked. kr NULL: none yet, or a set the bundle holds
 * only part of (then bo_keyring, as before any).
 */
struct proved_kr {
	saksi_keyring *pk_kr;
	uint64_t pk_at;           /* its (first) entry */
	uint64_t pk_ms;           /* its commit time */
};

/*
 * Entry i is a keyring entry (parsed strictly by check_entry): a version 1 body, or the
 * first part of a set whose other parts follow it in the bundle, becomes the keyring in
 * force; a set held in part ends what was proved before it. Parts after the first were
 * taken with it.
 */
static saksi_err
keyring_step(const saksi_bundle *b, size_t i, struct proved_kr *pk, saksi_bundle_report *r)
{
	const saksi_bundle_entry *e = &b->b_entries[i];
	const uint8_t **bodies = NULL;
	size_t *lens = NULL;
	saksi_keyring *kr = NULL;
	saksi_leaf lf;
	unsigned idx, n;
	saksi_err err;

	if (saksi_leaf_parse(e->be_leaf, e->be_leaf_len, &lf) != SAKSI_OK ||
	    saksi_keylog_part_hdr(lf.lf_body, lf.lf_body_len, &idx, &n, NULL, 0) != SAKSI_OK)
		return SAKSI_OK;   /* check_entry refused it already */
	if (idx > 1)
		return SAKSI_OK;
	if (i + n > b->b_n)
		goto partial;
	bodies = malloc(n * sizeof(*bodies));
	lens = malloc(n * sizeof(*lens));
	if (bodies == NULL || lens == NULL) {
		free(bodies);
		free(lens);
		return SAKSI_ERR_NOMEM;
	}
	for (unsigned k = 0; k < n; k++) {
		const saksi_bundle_entry *p = &b->b_entries[i + k];
		saksi_leaf pl;

		if (p->be_index != e->be_index + k ||
		    saksi_leaf_parse(p->be_leaf, p->be_leaf_len, &pl) != SAKSI_OK ||
		    pl.lf_kind != SAKSI_LEAF_KEYRING)
			goto partial;
		bodies[k] = pl.lf_body;
		lens[k] = pl.lf_body_len;
	}
	err = saksi_keylog_join(bodies, lens, n, &kr, NULL, NULL, NULL, NULL, 0);
	free(bodies);
	free(lens);
	if (err == SAKSI_ERR_NOMEM)
		return err;
	if (err != SAKSI_OK)
		return vfail(r, SAKSI_BV_LEAF, e->be_index, "entry %" PRIu64 ": the keyring set "
		    "of %u parts from it does not join", e->be_index, n);
	saksi_keyring_free(pk->pk_kr);
	pk->pk_kr = kr;
	pk->pk_at = e->be_index;
	pk->pk_ms = lf.lf_commit_ms;
	r->br_keyrings++;
	r->br_keyring_last = e->be_index;
	return SAKSI_OK;
partial:
	free(bodies);
	free(lens);
	saksi_keyring_free(pk->pk_kr);
	pk->pk_kr = NULL;
	return SAKSI_OK;
}

static int
is_keyring(const saksi_bundle_entry *e)
{
	saksi_leaf lf;

	return saksi_leaf_parse(e->be_leaf, e->be_leaf_len, &lf) == SAKSI_OK &&
	    lf.lf_kind == SAKSI_LEAF_KEYRING;
}

/* With a keyring the bundle proves: what saksid checked at ingest, as saksi verify. */
static saksi_err
check_granted(const saksi_envelope *ev, const saksi_keyring_entry *ke,
              const struct proved_kr *pk, uint64_t index, saksi_bundle_report *r)
{
	char hex[2 * SAKSI_KEYID_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), ev->ev_key_id, SAKSI_KEYID_LEN);
	if (ke->ke_revoked_ms >= 0 && (uint64_t)ke->ke_revoked_ms <= pk->pk_ms)
		return vfail(r, SAKSI_BV_KEYRING, index, "entry %" PRIu64 ": producer key %s (%s) "
		    "was revoked at %lld in the keyring recorded at entry %" PRIu64 ", before that "
		    "entry", index, hex, ke->ke_name, (long long)ke->ke_revoked_ms, pk->pk_at);
	if (!saksi_keyring_role_allows(pk->pk_kr, ke->ke_role, ev->ev_type))
		return vfail(r, SAKSI_BV_KEYRING, index, "entry %" PRIu64 ": producer key %s (%s) "
		    "has role %s, which may not sign %s, in the keyring recorded at entry %" PRIu64,
		    index, hex, ke->ke_name, ke->ke_role, ev->ev_type, pk->pk_at);
	if (strcmp(ke->ke_branch, "*") != 0 && !saksi_payload_branch_is(ev, ke->ke_branch))
		return vfail(r, SAKSI_BV_KEYRING, index, "entry %" PRIu64 ": producer key %s (%s) "
		    "is for branch %s in the keyring recorded at entry %" PRIu64 ", and the payload "
		    "names another or none", index, hex, ke->ke_name, ke->ke_branch, pk->pk_at);
	return SAKSI_OK;
}

static saksi_err
check_entry(const saksi_bundle *b, const saksi_bundle_entry *e, const saksi_checkpoint *ck,
            const saksi_bundle_verify_opts *o, const struct proved_kr *pk,
            saksi_bundle_report *r)
{
	saksi_leaf lf;
	saksi_hash lh;
	saksi_envelope ev;
	const saksi_keyring_entry *ke;
	saksi_alert *al;
	saksi_err err;
	char hex[2 * SAKSI_KEYID_LEN + 1];

	if (e->be_index >= ck->ck_size)
		return vfail(r, SAKSI_BV_RANGE, e->be_index, "entry %" PRIu64 ": not below the "
		    "checkpoint's size %" PRIu64, e->be_index, ck->ck_size);
	if ((err = saksi_leaf_parse(e->be_leaf, e->be_leaf_len, &lf)) != SAKSI_OK)
		return vfail(r, SAKSI_BV_LEAF, e->be_index, "entry %" PRIu64 ": the leaf does not "
		    "parse (%s)", e->be_index, saksi_strerror(err));
	/* Recomputed here, from the bytes: the bundle states no hash. */
	saksi_merkle_leaf_hash(lh, e->be_leaf, e->be_leaf_len);
	if (saksi_merkle_verify_inclusion(e->be_index, ck->ck_size, lh,
	    (const saksi_hash *)e->be_proof, e->be_proof_len, ck->ck_root) != SAKSI_OK)
		return vfail(r, SAKSI_BV_PROOF, e->be_index, "entry %" PRIu64 ": its inclusion "
		    "proof does not lead to the checkpoint's root (the leaf or the proof was "
		    "altered)", e->be_index);
	if (e->be_disc_kind != SAKSI_BD_NONE && lf.lf_kind != SAKSI_LEAF_EVENT)
		return vfail(r, SAKSI_BV_DISCLOSURE, e->be_index, "entry %" PRIu64 ": only events "
		    "have disclosures", e->be_index);
	switch (lf.lf_kind) {
	case SAKSI_LEAF_EVENT:
		if ((err = saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &ev)) != SAKSI_OK)
			return vfail(r, SAKSI_BV_LEAF, e->be_index, "entry %" PRIu64 ": the envelope "
			    "does not parse (%s)", e->be_index, saksi_strerror(err));
		sodium_bin2hex(hex, sizeof(hex), ev.ev_key_id, SAKSI_KEYID_LEN);
		if (pk->pk_kr != NULL &&
		    (ke = saksi_keyring_find(pk->pk_kr, ev.ev_key_id)) == NULL)
			return vfail(r, SAKSI_BV_UNKNOWN_KEY, e->be_index, "entry %" PRIu64 ": producer "
			    "key %s is not in the keyring recorded at entry %" PRIu64 ", in force then",
			    e->be_index, hex, pk->pk_at);
		if (pk->pk_kr == NULL &&
		    (ke = saksi_keyring_find(o->bo_keyring, ev.ev_key_id)) == NULL)
			return vfail(r, SAKSI_BV_UNKNOWN_KEY, e->be_index, "entry %" PRIu64 ": producer "
			    "key %s is not in the keyring (a keyring copy older than the key? ask the "
			    "operator for the current keyring.json)", e->be_index, hex);
		if (saksi_envelope_verify(&ev, ke->ke_pub.pk_key) != SAKSI_OK)
			return vfail(r, SAKSI_BV_SIGNATURE, e->be_index, "entry %" PRIu64 ": the "
			    "producer signature of %s does not verify", e->be_index, ke->ke_name);
		if (pk->pk_kr != NULL) {
			if ((err = check_granted(&ev, ke, pk, e->be_index, r)) != SAKSI_OK)
				return err;
			r->br_kr_events++;
		}
		r->br_events++;
		return check_disclosures(e, &ev, o, r);
	case SAKSI_LEAF_ALERT:
		if ((al = malloc(sizeof(*al))) == NULL)
			return SAKSI_ERR_NOMEM;
		if (saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, al) != SAKSI_OK ||
		    al->al_trigger >= e->be_index) {
			free(al);
			return vfail(r, SAKSI_BV_LEAF, e->be_index, "entry %" PRIu64 ": the alert body "
			    "does not parse strictly", e->be_index);
		}
		for (uint32_t k = 0; k < al->al_nevidence; k++) {
			uint64_t ix = al->al_evidence[k], id = al->al_id;

			if (ix >= e->be_index) {
				free(al);
				return vfail(r, SAKSI_BV_LEAF, e->be_index, "entry %" PRIu64 ": the alert "
				    "names a later entry", e->be_index);
			}
			if (!has_entry(b, ix)) {
				free(al);
				return vfail(r, SAKSI_BV_EVIDENCE, e->be_index, "entry %" PRIu64 ": alert "
				    "%" PRIu64 " names evidence entry %" PRIu64 ", which the bundle "
				    "lacks", e->be_index, id, ix);
			}
		}
		free(al);
		r->br_alerts++;
		return SAKSI_OK;
	case SAKSI_LEAF_REFUSALS:
		if (saksi_refusals_parse(lf.lf_body, lf.lf_body_len, NULL) != SAKSI_OK)
			return vfail(r, SAKSI_BV_LEAF, e->be_index, "entry %" PRIu64 ": the refusal "
			    "summary does not parse strictly", e->be_index);
		r->br_refusals++;
		return SAKSI_OK;
	case SAKSI_LEAF_KEYRING:
		/* Proved like any entry and parsed strictly (a part of a keyring set alone:
		 * a bundle holds only the entries it proves); the events after it are checked
		 * with it (keyring_step), or with bo_keyring after a set held in part. */
		if (saksi_keylog_entry_parse(lf.lf_body, lf.lf_body_len, NULL, NULL, 0) !=
		    SAKSI_OK)
			return vfail(r, SAKSI_BV_LEAF, e->be_index, "entry %" PRIu64 ": the keyring "
			    "entry does not parse strictly", e->be_index);
		return SAKSI_OK;
	default:
		return vfail(r, SAKSI_BV_LEAF, e->be_index, "entry %" PRIu64 ": unknown kind",
		    e->be_index);
	}
}

/* The access entry: this export's own record in the ledger, signed by the exporter. */
static saksi_err
check_access(const saksi_bundle *b, saksi_bundle_report *r)
{
	const saksi_bundle_entry *e = NULL;
	saksi_envelope ev;
	saksi_leaf lf;
	json_t *p;
	const char *cmd, *cr;
	json_int_t results;
	int ok;

	for (size_t i = 0; i < b->b_n; i++)
		if (b->b_entries[i].be_index == b->b_access)
			e = &b->b_entries[i];
	if (e == NULL)
		return vfail(r, SAKSI_BV_ACCESS, b->b_access, "entry %" PRIu64 ": the access entry "
		    "is not in the bundle", b->b_access);
	/* check_entry has parsed and verified it already. */
	if (saksi_leaf_parse(e->be_leaf, e->be_leaf_len, &lf) != SAKSI_OK ||
	    lf.lf_kind != SAKSI_LEAF_EVENT ||
	    saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &ev) != SAKSI_OK ||
	    strcmp(ev.ev_type, ACCESS_TYPE) != 0)
		return vfail(r, SAKSI_BV_ACCESS, e->be_index, "entry %" PRIu64 ": the access entry "
		    "is not a %s event", e->be_index, ACCESS_TYPE);
	if (sodium_memcmp(ev.ev_key_id, b->b_exporter, SAKSI_KEYID_LEN) != 0)
		return vfail(r, SAKSI_BV_ACCESS, e->be_index, "entry %" PRIu64 ": the access entry "
		    "is signed by another key than the exporter's", e->be_index);
	p = json_loadb((const char *)ev.ev_payload, ev.ev_payload_len, JSON_REJECT_DUPLICATES,
	    NULL);
	cmd = json_string_value(json_object_get(p, "command"));
	cr = json_string_value(json_object_get(p, "case_ref"));
	results = json_integer_value(json_object_get(p, "results"));
	ok = cmd != NULL && strcmp(cmd, "bundle") == 0 && cr != NULL && strcmp(cr, b->b_case) == 0;
	json_decref(p);
	if (!ok)
		return vfail(r, SAKSI_BV_ACCESS, e->be_index, "entry %" PRIu64 ": the access entry "
		    "is not the record of a bundle of case %s", e->be_index, b->b_case);
	if (results < 0 || (uint64_t)results != b->b_n - 1)
		return vfail(r, SAKSI_BV_ACCESS, e->be_index, "entry %" PRIu64 ": the access entry "
		    "records %" JSON_INTEGER_FORMAT " entries exported, the bundle holds %zu "
		    "besides it (entries dropped or added)", e->be_index, results, b->b_n - 1);
	return SAKSI_OK;
}

saksi_err
saksi_bundle_verify(const saksi_bundle *b, const saksi_bundle_verify_opts *o,
                    saksi_bundle_report *r)
{
	uint8_t msg[sizeof(SIG_TAG) - 1 + 32];
	const saksi_keyring_entry *ke;
	struct proved_kr pk = { NULL, 0, 0 };
	saksi_checkpoint ck, nk;
	char hex[2 * SAKSI_KEYID_LEN + 1];
	saksi_err err;

	if (r == NULL)
		return SAKSI_ERR_INVAL;
	memset(r, 0, sizeof(*r));
	r->br_entry = SAKSI_BUNDLE_NO_ENTRY;
	if (b == NULL || o == NULL || o->bo_log == NULL || o->bo_keyring == NULL ||
	    (o->bo_newer != NULL && o->bo_consistency_len > 0 && o->bo_consistency == NULL))
		return SAKSI_ERR_INVAL;
	if (strcmp(b->b_log, o->bo_log->nv_name) != 0)
		return vfail(r, SAKSI_BV_ORIGIN, SAKSI_BUNDLE_NO_ENTRY, "the bundle is of log %s, "
		    "the verifier key is %s's", b->b_log, o->bo_log->nv_name);
	err = saksi_checkpoint_open(b->b_checkpoint, b->b_checkpoint_len, o->bo_log, &ck);
	if (err != SAKSI_OK)
		return vfail(r, SAKSI_BV_CKPT, SAKSI_BUNDLE_NO_ENTRY, "the checkpoint does not "
		    "verify with the log key %s (%s)", o->bo_log->nv_name, saksi_strerror(err));
	r->br_size = ck.ck_size;
	memcpy(r->br_root, ck.ck_root, SAKSI_HASH_LEN);
	r->br_keyring_last = SAKSI_BUNDLE_NO_ENTRY;
	for (size_t i = 0; i < b->b_n; i++) {
		if ((err = check_entry(b, &b->b_entries[i], &ck, o, &pk, r)) == SAKSI_OK &&
		    is_keyring(&b->b_entries[i]))
			err = keyring_step(b, i, &pk, r);
		if (err != SAKSI_OK) {
			saksi_keyring_free(pk.pk_kr);
			return err;
		}
		r->br_entries++;
	}
	saksi_keyring_free(pk.pk_kr);
	if ((err = check_access(b, r)) != SAKSI_OK)
		return err;
	sodium_bin2hex(hex, sizeof(hex), b->b_exporter, SAKSI_KEYID_LEN);
	if ((ke = saksi_keyring_find(o->bo_keyring, b->b_exporter)) == NULL)
		return vfail(r, SAKSI_BV_EXPORTER, SAKSI_BUNDLE_NO_ENTRY, "the exporter key %s is "
		    "not in the keyring", hex);
	/* Only a key that may write access entries exports: saksid checked that role when it
	 * took the access entry; a keyring read offline must agree. */
	if (!saksi_keyring_role_allows(o->bo_keyring, ke->ke_role, ACCESS_TYPE))
		return vfail(r, SAKSI_BV_EXPORTER, SAKSI_BUNDLE_NO_ENTRY, "the exporter key %s has "
		    "role %s, which may not sign %s: not a supervisor's export", ke->ke_name,
		    ke->ke_role, ACCESS_TYPE);
	sig_message(b, msg);
	if (crypto_sign_verify_detached(b->b_sig, msg, sizeof(msg), ke->ke_pub.pk_key) != 0)
		return vfail(r, SAKSI_BV_EXPORTER, SAKSI_BUNDLE_NO_ENTRY, "the exporter's signature "
		    "(%s) does not verify: the bundle was altered after export", ke->ke_name);
	r->br_exporter = ke->ke_name;
	if (o->bo_newer != NULL) {
		err = saksi_checkpoint_open(o->bo_newer, o->bo_newer_len, o->bo_log, &nk);
		if (err != SAKSI_OK)
			return vfail(r, SAKSI_BV_CONSISTENCY, SAKSI_BUNDLE_NO_ENTRY, "the newer "
			    "checkpoint does not verify with the log key (%s)", saksi_strerror(err));
		r->br_newer_size = nk.ck_size;
		if (nk.ck_size < ck.ck_size ||
		    saksi_merkle_verify_consistency(ck.ck_size, nk.ck_size, ck.ck_root, nk.ck_root,
		    o->bo_consistency, o->bo_consistency_len) != SAKSI_OK)
			return vfail(r, SAKSI_BV_CONSISTENCY, SAKSI_BUNDLE_NO_ENTRY, "the checkpoint "
			    "of size %" PRIu64 " is not consistent with the newer one of size %"
			    PRIu64 " by the proof given", ck.ck_size, nk.ck_size);
		r->br_consistent = 1;
	}
	return SAKSI_OK;
}
