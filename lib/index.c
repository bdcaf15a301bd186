/*
 * index.c: the secondary indexes (FORMATS.md 7.4): one DUPSORT database whose keys are a
 * field tag and a value, and whose sorted duplicates are (leaf index, producer time).
 * A personal value enters only as its blind token; the clear values handed in for
 * tokenising are wiped here and never stored, printed or logged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "bytes.h"
#include "envelope.h"
#include "index.h"

#define POSTING 16          /* leaf index (8) || producer time (8) */
#define KEY_MAX (1 + 1 + 32) /* tag || 0xFF || SHA-256, the longest key */
#define KEYCHECK_TEXT "saksi-index-keycheck-v1"

static const char *const field_names[SAKSI_IX__COUNT] = {
	[SAKSI_IX_NIK] = "nik", [SAKSI_IX_KPJ] = "kpj", [SAKSI_IX_PHONE] = "phone",
	[SAKSI_IX_EMAIL] = "email", [SAKSI_IX_ACCOUNT] = "account",
	[SAKSI_IX_DEVICE] = "device", [SAKSI_IX_IP] = "ip", [SAKSI_IX_OFFICER] = "officer",
	[SAKSI_IX_BRANCH] = "branch", [SAKSI_IX_TYPE] = "type", [SAKSI_IX_CLAIM] = "claim",
	[SAKSI_IX_BOOKING] = "booking", [SAKSI_IX_TIME] = "time",
};

static const saksi_blind_kind field_kinds[SAKSI_IX__COUNT] = {
	[SAKSI_IX_NIK] = SAKSI_BLIND_NIK, [SAKSI_IX_KPJ] = SAKSI_BLIND_KPJ,
	[SAKSI_IX_PHONE] = SAKSI_BLIND_PHONE, [SAKSI_IX_EMAIL] = SAKSI_BLIND_EMAIL,
	[SAKSI_IX_ACCOUNT] = SAKSI_BLIND_ACCOUNT, [SAKSI_IX_DEVICE] = SAKSI_BLIND_DEVICE,
	[SAKSI_IX_IP] = SAKSI_BLIND_IP,
};

/* Payload members indexed as they stand, and their tags. */
static const struct {
	const char *member;
	saksi_index_field field;
} plain_members[] = {
	{ "officer_id", SAKSI_IX_OFFICER },
	{ "approver_id", SAKSI_IX_OFFICER },
	{ "branch", SAKSI_IX_BRANCH },
	{ "claim_id", SAKSI_IX_CLAIM },
	{ "booking_id", SAKSI_IX_BOOKING },
};

static const uint8_t state_key[] = { SAKSI_IX_STATE, 's', 't', 'a', 't', 'e' };
static const uint8_t version_key[] = { SAKSI_IX_STATE, 'v', 'e', 'r', 's', 'i', 'o', 'n' };

const char *
saksi_index_field_name(saksi_index_field f)
{
	if ((int)f <= 0 || f >= SAKSI_IX__COUNT)
		return NULL;
	return field_names[f];
}

saksi_index_field
saksi_index_field_by_name(const char *name)
{
	if (name == NULL)
		return SAKSI_IX_STATE;
	for (int f = 1; f < SAKSI_IX__COUNT; f++)
		if (strcmp(field_names[f], name) == 0)
			return (saksi_index_field)f;
	return SAKSI_IX_STATE;
}

saksi_blind_kind
saksi_index_field_kind(saksi_index_field f)
{
	if ((int)f <= 0 || f >= SAKSI_IX__COUNT)
		return SAKSI_BLIND_NONE;
	return field_kinds[f];
}

int
saksi_index_field_personal(saksi_index_field f)
{
	return saksi_index_field_kind(f) != SAKSI_BLIND_NONE;
}

static saksi_err
mdb_err(int rc)
{
	switch (rc) {
	case 0:
		return SAKSI_OK;
	case MDB_NOTFOUND:
		return SAKSI_ERR_NOT_FOUND;
	case MDB_MAP_FULL:
	case ENOSPC:
		return SAKSI_ERR_FULL;
	case ENOMEM:
		return SAKSI_ERR_NOMEM;
	case EIO:
		return SAKSI_ERR_IO;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
		return SAKSI_ERR_CORRUPT;
	default:
		return SAKSI_ERR_LEDGER;
	}
}

saksi_err
saksi_index_keycheck(const saksi_blind *b, uint8_t check[8])
{
	char tok[SAKSI_BLIND_TOKEN_LEN + 1];
	uint8_t raw[32];
	size_t len;
	saksi_err e;

	if (b == NULL || check == NULL)
		return SAKSI_ERR_INVAL;
	e = saksi_blind_token(b, SAKSI_BLIND_DEVICE, KEYCHECK_TEXT, strlen(KEYCHECK_TEXT), tok);
	if (e != SAKSI_OK)
		return e;
	if (sodium_base642bin(raw, sizeof(raw), tok, SAKSI_BLIND_TOKEN_LEN, NULL, &len, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || len != sizeof(raw))
		return SAKSI_ERR_FORMAT;
	memcpy(check, raw, 8);
	return SAKSI_OK;
}

saksi_err
saksi_index_open(MDB_txn *txn, int create, MDB_dbi *dbi)
{
	int rc;

	if (txn == NULL || dbi == NULL)
		return SAKSI_ERR_INVAL;
	rc = mdb_dbi_open(txn, SAKSI_INDEX_DB,
	    MDB_DUPSORT | MDB_DUPFIXED | (create ? MDB_CREATE : 0), dbi);
	if (rc == MDB_DBS_FULL)
		return SAKSI_ERR_LEDGER;
	if (rc == MDB_INCOMPATIBLE)
		return SAKSI_ERR_CORRUPT;
	return mdb_err(rc);
}

static saksi_err
get16(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t klen, uint8_t out[POSTING])
{
	MDB_val key = { klen, (void *)k }, val;
	int rc;

	if ((rc = mdb_get(txn, dbi, &key, &val)) != 0)
		return mdb_err(rc);
	if (val.mv_size != POSTING)
		return SAKSI_ERR_CORRUPT;
	memcpy(out, val.mv_data, POSTING);
	return SAKSI_OK;
}

/* Replaces the single value of a state key (a DUPSORT key would otherwise gain one). */
static saksi_err
put16(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t klen, const uint8_t v[POSTING])
{
	MDB_val key = { klen, (void *)k }, val = { POSTING, (void *)v };
	int rc;

	rc = mdb_del(txn, dbi, &key, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_err(rc);
	return mdb_err(mdb_put(txn, dbi, &key, &val, 0));
}

saksi_err
saksi_index_state(MDB_txn *txn, MDB_dbi dbi, uint64_t *upto, uint8_t check[8])
{
	uint8_t v[POSTING];
	saksi_err e;

	if (txn == NULL || upto == NULL || check == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = get16(txn, dbi, version_key, sizeof(version_key), v)) != SAKSI_OK)
		return e;
	if (saksi_get_u64(v) != SAKSI_INDEX_VERSION)
		return SAKSI_ERR_VERSION;
	if ((e = get16(txn, dbi, state_key, sizeof(state_key), v)) != SAKSI_OK)
		return e == SAKSI_ERR_NOT_FOUND ? SAKSI_ERR_CORRUPT : e;
	*upto = saksi_get_u64(v);
	memcpy(check, v + 8, 8);
	return SAKSI_OK;
}

static saksi_err
state_put(MDB_txn *txn, MDB_dbi dbi, uint64_t upto, const uint8_t check[8])
{
	uint8_t v[POSTING];

	saksi_put_u64(v, upto);
	memcpy(v + 8, check, 8);
	return put16(txn, dbi, state_key, sizeof(state_key), v);
}

saksi_err
saksi_index_prepare(MDB_txn *wtxn, MDB_dbi dbi, const saksi_blind *b, uint64_t *upto,
                    int *reset)
{
	uint8_t want[8], have[8], v[POSTING];
	saksi_err e;
	int rc;

	if (wtxn == NULL || b == NULL || upto == NULL)
		return SAKSI_ERR_INVAL;
	if (reset != NULL)
		*reset = 0;
	if ((e = saksi_index_keycheck(b, want)) != SAKSI_OK)
		return e;
	e = saksi_index_state(wtxn, dbi, upto, have);
	if (e == SAKSI_OK && sodium_memcmp(want, have, 8) == 0)
		return SAKSI_OK;
	if (e != SAKSI_OK && e != SAKSI_ERR_NOT_FOUND)
		return e;
	if (e == SAKSI_OK) {
		/* Another index key: every token is different, so start from scratch. */
		if ((rc = mdb_drop(wtxn, dbi, 0)) != 0)
			return mdb_err(rc);
		if (reset != NULL)
			*reset = 1;
	}
	memset(v, 0, sizeof(v));
	saksi_put_u64(v, SAKSI_INDEX_VERSION);
	if ((e = put16(wtxn, dbi, version_key, sizeof(version_key), v)) != SAKSI_OK ||
	    (e = state_put(wtxn, dbi, 0, want)) != SAKSI_OK)
		return e;
	*upto = 0;
	return SAKSI_OK;
}

saksi_err
saksi_index_skip(MDB_txn *wtxn, MDB_dbi dbi, uint64_t upto)
{
	uint8_t check[8];
	uint64_t cur;
	saksi_err e;

	if (wtxn == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = saksi_index_state(wtxn, dbi, &cur, check)) != SAKSI_OK)
		return e;
	if (upto <= cur)
		return SAKSI_OK;
	return state_put(wtxn, dbi, upto, check);
}

/*
 * The key of (field, value): a personal field's value is a token (decoded to its 32
 * bytes); a long plain value is hashed, marked by 0xFF, a byte UTF-8 never holds.
 */
static saksi_err
make_key(saksi_index_field f, const char *value, size_t len, uint8_t key[KEY_MAX],
         size_t *klen)
{
	size_t bin;

	if ((int)f <= 0 || f >= SAKSI_IX__COUNT || f == SAKSI_IX_TIME || len == 0)
		return SAKSI_ERR_INVAL;
	key[0] = (uint8_t)f;
	if (saksi_index_field_personal(f)) {
		if (len != SAKSI_BLIND_TOKEN_LEN ||
		    sodium_base642bin(key + 1, 32, value, len, NULL, &bin, NULL,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || bin != 32)
			return SAKSI_ERR_INVAL;
		*klen = 33;
		return SAKSI_OK;
	}
	if (len <= SAKSI_INDEX_RAW_MAX) {
		memcpy(key + 1, value, len);
		*klen = 1 + len;
		return SAKSI_OK;
	}
	key[1] = 0xFF;
	crypto_hash_sha256(key + 2, (const unsigned char *)value, len);
	*klen = 2 + 32;
	return SAKSI_OK;
}

static saksi_err
post(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, const uint8_t p[POSTING])
{
	MDB_val k = { klen, (void *)key }, v = { POSTING, (void *)p };
	int rc;

	rc = mdb_put(txn, dbi, &k, &v, MDB_NODUPDATA);
	/* Indexing an event again (a catch-up cut short) finds its postings there. */
	if (rc == MDB_KEYEXIST)
		return SAKSI_OK;
	return mdb_err(rc);
}

/* Removes one posting; one already gone (removed before, never made) is no error. */
static saksi_err
unpost(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, const uint8_t p[POSTING],
       uint64_t *n)
{
	MDB_val k = { klen, (void *)key }, v = { POSTING, (void *)p };
	int rc;

	rc = mdb_del(txn, dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return SAKSI_OK;
	if (rc == 0 && n != NULL)
		(*n)++;
	return mdb_err(rc);
}

/* Posts p under (f, value), or with del set removes it (counted in *n). */
static saksi_err
post_value(MDB_txn *txn, MDB_dbi dbi, saksi_index_field f, const char *value, size_t len,
           const uint8_t p[POSTING], int del, uint64_t *n)
{
	uint8_t key[KEY_MAX];
	size_t klen;

	if (make_key(f, value, len, key, &klen) != SAKSI_OK)
		return SAKSI_OK;   /* empty: nothing to find it by */
	return del ? unpost(txn, dbi, key, klen, p, n) : post(txn, dbi, key, klen, p);
}

static saksi_index_field
personal_field(const char *name)
{
	saksi_blind_kind k = saksi_blind_field_kind(name);

	for (int f = 1; f < SAKSI_IX__COUNT; f++)
		if (k != SAKSI_BLIND_NONE && field_kinds[f] == k)
			return (saksi_index_field)f;
	return SAKSI_IX_STATE;
}

/*
 * The token of one disclosed personal field, if it has an index: *f its tag, or
 * SAKSI_IX_STATE when the field has none or its value does not normalise.
 * bank_code: the payload's (an account's token covers it). Only SAKSI_ERR_NOMEM fails.
 */
static saksi_err
personal_token(const saksi_blind *b, const char *name, const char *value,
               const char *bank_code, saksi_index_field *f,
               char tok[SAKSI_BLIND_TOKEN_LEN + 1])
{
	saksi_err te;

	*f = personal_field(name);
	if (*f == SAKSI_IX_STATE)
		return SAKSI_OK;
	if (*f == SAKSI_IX_ACCOUNT)
		te = bank_code == NULL ? SAKSI_ERR_FORMAT :
		    saksi_blind_account(b, bank_code, value, tok);
	else
		te = saksi_blind_token(b, saksi_index_field_kind(*f), value, strlen(value), tok);
	if (te == SAKSI_ERR_NOMEM)
		return te;
	if (te != SAKSI_OK)
		*f = SAKSI_IX_STATE;
	return SAKSI_OK;
}

/* Removes the postings of the disclosed personal fields that have an index. */
static saksi_err
unpost_personal(MDB_txn *txn, MDB_dbi dbi, const saksi_blind *b, const json_t *root,
                const uint8_t *disc, size_t disc_len, const uint8_t p[POSTING], uint64_t *n)
{
	char **names = NULL, **values = NULL, tok[SAKSI_BLIND_TOKEN_LEN + 1];
	const char *bank_code;
	size_t nd = 0;
	saksi_err e;

	e = saksi_disclosures_check_json(root, disc, disc_len, &names, &values, &nd);
	if (e == SAKSI_ERR_NOMEM)
		return e;
	if (e != SAKSI_OK)
		return SAKSI_OK;   /* the daemon checked them at ingest; a stray one is skipped */
	bank_code = json_string_value(json_object_get(root, "bank_code"));
	for (size_t i = 0; i < nd && e == SAKSI_OK; i++) {
		saksi_index_field f;

		e = personal_token(b, names[i], values[i], bank_code, &f, tok);
		if (e == SAKSI_OK && f != SAKSI_IX_STATE)
			e = post_value(txn, dbi, f, tok, SAKSI_BLIND_TOKEN_LEN, p, 1, n);
	}
	sodium_memzero(tok, sizeof(tok));
	saksi_disclosures_free(names, values, nd);
	return e;
}

/* ---- the keys of one event, made off the write transaction ---- */

struct ixkey {
	uint8_t k_len;
	uint8_t k_key[KEY_MAX];
};

struct saksi_index_keys {
	uint64_t ik_time_ms;
	size_t ik_n;
	struct ixkey ik_keys[];
};

/* Time, type, the plain members: as many keys at most, before the personal ones. */
#define PLAIN_KEYS_MAX (2 + sizeof(plain_members) / sizeof(plain_members[0]))

void
saksi_index_keys_free(saksi_index_keys *k)
{
	if (k == NULL)
		return;
	sodium_memzero(k->ik_keys, k->ik_n * sizeof(k->ik_keys[0]));
	free(k);
}

static void
keys_add(saksi_index_keys *k, saksi_index_field f, const char *value, size_t len)
{
	size_t klen;

	/* A value that makes no key (empty) has nothing to find it by. */
	if (make_key(f, value, len, k->ik_keys[k->ik_n].k_key, &klen) == SAKSI_OK)
		k->ik_keys[k->ik_n++].k_len = (uint8_t)klen;
}

saksi_err
saksi_index_keys_make(const saksi_blind *b, const saksi_envelope *env, const json_t *payload,
                      char *const *names, char *const *values, size_t nd,
                      saksi_index_keys **out)
{
	char tok[SAKSI_BLIND_TOKEN_LEN + 1];
	const char *bank_code;
	saksi_index_keys *k;
	struct ixkey *tk;
	saksi_err e = SAKSI_OK;

	if (out != NULL)
		*out = NULL;
	if (b == NULL || env == NULL || out == NULL || !json_is_object(payload) ||
	    (nd > 0 && (names == NULL || values == NULL)))
		return SAKSI_ERR_INVAL;
	if (nd > SIZE_MAX / sizeof(struct ixkey) - PLAIN_KEYS_MAX - 1 ||
	    (k = malloc(sizeof(*k) + (PLAIN_KEYS_MAX + nd) * sizeof(struct ixkey))) == NULL)
		return SAKSI_ERR_NOMEM;
	k->ik_time_ms = env->ev_time_ms;
	k->ik_n = 1;
	tk = &k->ik_keys[0];
	tk->k_key[0] = SAKSI_IX_TIME;
	saksi_put_u64(tk->k_key + 1, env->ev_time_ms);
	tk->k_len = 9;
	keys_add(k, SAKSI_IX_TYPE, env->ev_type, strlen(env->ev_type));
	for (size_t i = 0; i < sizeof(plain_members) / sizeof(plain_members[0]); i++) {
		const json_t *v = json_object_get(payload, plain_members[i].member);

		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			continue;
		keys_add(k, plain_members[i].field, json_string_value(v), json_string_length(v));
	}
	bank_code = json_string_value(json_object_get(payload, "bank_code"));
	for (size_t i = 0; i < nd && e == SAKSI_OK; i++) {
		saksi_index_field f;

		e = personal_token(b, names[i], values[i], bank_code, &f, tok);
		if (e == SAKSI_OK && f != SAKSI_IX_STATE)
			keys_add(k, f, tok, SAKSI_BLIND_TOKEN_LEN);
	}
	sodium_memzero(tok, sizeof(tok));
	if (e != SAKSI_OK) {
		saksi_index_keys_free(k);
		return e;
	}
	*out = k;
	return SAKSI_OK;
}

saksi_err
saksi_index_keys_of(const saksi_blind *b, const uint8_t *envb, size_t env_len,
                    const uint8_t *disc, size_t disc_len, saksi_index_keys **out)
{
	saksi_envelope env;
	char **names = NULL, **values = NULL;
	size_t nd = 0;
	json_t *root;
	saksi_err e;

	if (out != NULL)
		*out = NULL;
	if (b == NULL || envb == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	if (saksi_envelope_parse(envb, env_len, &env) != SAKSI_OK)
		return SAKSI_ERR_FORMAT;
	root = json_loadb((const char *)env.ev_payload, env.ev_payload_len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return SAKSI_ERR_FORMAT;
	}
	if (disc != NULL && disc_len > 0) {
		e = saksi_disclosures_check_json(root, disc, disc_len, &names, &values, &nd);
		if (e == SAKSI_ERR_NOMEM) {
			json_decref(root);
			return e;
		}
		/* The daemon checked them at ingest; ones that do not match give no tokens. */
		if (e != SAKSI_OK)
			nd = 0;
	}
	e = saksi_index_keys_make(b, &env, root, names, values, nd, out);
	saksi_disclosures_free(names, values, nd);
	json_decref(root);
	return e;
}

/* Posts every key of k with leaf idx's posting through cur. */
static saksi_err
keys_post(MDB_cursor *cur, const saksi_index_keys *k, uint64_t idx)
{
	uint8_t p[POSTING];
	saksi_err e = SAKSI_OK;

	saksi_put_u64(p, idx);
	saksi_put_u64(p + 8, k->ik_time_ms);
	for (size_t i = 0; i < k->ik_n && e == SAKSI_OK; i++) {
		MDB_val kv = { k->ik_keys[i].k_len, (void *)k->ik_keys[i].k_key };
		MDB_val v = { POSTING, p };
		int rc = mdb_cursor_put(cur, &kv, &v, MDB_NODUPDATA);

		/* Indexing an event again (a catch-up cut short) finds its postings there. */
		e = rc == MDB_KEYEXIST ? SAKSI_OK : mdb_err(rc);
	}
	return e;
}

saksi_err
saksi_index_event(MDB_txn *wtxn, MDB_dbi dbi, const saksi_blind *b, uint64_t idx,
                  const uint8_t *envb, size_t env_len, const uint8_t *disc, size_t disc_len)
{
	saksi_index_keys *k = NULL;
	MDB_cursor *cur;
	uint8_t check[8];
	uint64_t upto;
	saksi_err e;
	int rc;

	if (wtxn == NULL || b == NULL || envb == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = saksi_index_keys_of(b, envb, env_len, disc, disc_len, &k)) != SAKSI_OK)
		return e;
	if ((e = saksi_index_state(wtxn, dbi, &upto, check)) != SAKSI_OK)
		goto out;
	if ((rc = mdb_cursor_open(wtxn, dbi, &cur)) != 0) {
		e = mdb_err(rc);
		goto out;
	}
	e = keys_post(cur, k, idx);
	mdb_cursor_close(cur);
	if (e == SAKSI_OK && idx + 1 > upto)
		e = state_put(wtxn, dbi, idx + 1, check);
out:
	saksi_index_keys_free(k);
	return e;
}

/* ---- a group's postings, written sorted ---- */

struct bentry {
	uint8_t be_key[KEY_MAX];
	uint8_t be_klen;
	uint8_t be_post[POSTING];
};

struct saksi_index_batch {
	struct bentry *bt_e;
	size_t bt_n, bt_cap;
	uint64_t bt_upto;     /* the last leaf added + 1 */
};

saksi_err
saksi_index_batch_new(saksi_index_batch **out)
{
	if (out == NULL)
		return SAKSI_ERR_INVAL;
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return SAKSI_ERR_NOMEM;
	return SAKSI_OK;
}

void
saksi_index_batch_clear(saksi_index_batch *bt)
{
	if (bt == NULL)
		return;
	if (bt->bt_n > 0)
		sodium_memzero(bt->bt_e, bt->bt_n * sizeof(*bt->bt_e));
	bt->bt_n = 0;
	bt->bt_upto = 0;
}

void
saksi_index_batch_free(saksi_index_batch *bt)
{
	if (bt == NULL)
		return;
	saksi_index_batch_clear(bt);
	free(bt->bt_e);
	free(bt);
}

size_t
saksi_index_batch_count(const saksi_index_batch *bt)
{
	return bt != NULL ? bt->bt_n : 0;
}

saksi_err
saksi_index_batch_add(saksi_index_batch *bt, const saksi_index_keys *k, uint64_t idx)
{
	struct bentry *grown;
	size_t cap;

	if (bt == NULL || k == NULL)
		return SAKSI_ERR_INVAL;
	if (bt->bt_n + k->ik_n > bt->bt_cap) {
		cap = bt->bt_cap == 0 ? 1024 : bt->bt_cap;
		while (cap < bt->bt_n + k->ik_n)
			cap *= 2;
		/* Not realloc: the old block holds tokens and is wiped before it goes. */
		if ((grown = malloc(cap * sizeof(*grown))) == NULL)
			return SAKSI_ERR_NOMEM;
		if (bt->bt_n > 0)
			memcpy(grown, bt->bt_e, bt->bt_n * sizeof(*grown));
		if (bt->bt_e != NULL) {
			sodium_memzero(bt->bt_e, bt->bt_n * sizeof(*bt->bt_e));
			free(bt->bt_e);
		}
		bt->bt_e = grown;
		bt->bt_cap = cap;
	}
	for (size_t i = 0; i < k->ik_n; i++) {
		struct bentry *be = &bt->bt_e[bt->bt_n++];

		memcpy(be->be_key, k->ik_keys[i].k_key, k->ik_keys[i].k_len);
		be->be_klen = k->ik_keys[i].k_len;
		saksi_put_u64(be->be_post, idx);
		saksi_put_u64(be->be_post + 8, k->ik_time_ms);
	}
	if (idx + 1 > bt->bt_upto)
		bt->bt_upto = idx + 1;
	return SAKSI_OK;
}

/* LMDB's own order: keys bytewise, a prefix first; then the postings bytewise. */
static int
bentry_cmp(const void *a, const void *b)
{
	const struct bentry *x = a, *y = b;
	size_t n = x->be_klen < y->be_klen ? x->be_klen : y->be_klen;
	int c = memcmp(x->be_key, y->be_key, n);

	if (c != 0)
		return c;
	if (x->be_klen != y->be_klen)
		return x->be_klen < y->be_klen ? -1 : 1;
	return memcmp(x->be_post, y->be_post, POSTING);
}

saksi_err
saksi_index_batch_write(saksi_index_batch *bt, MDB_txn *wtxn, MDB_dbi dbi)
{
	MDB_cursor *cur;
	uint8_t check[8];
	uint64_t upto;
	saksi_err e;
	int rc;

	if (bt == NULL || wtxn == NULL)
		return SAKSI_ERR_INVAL;
	if (bt->bt_n == 0)
		return SAKSI_OK;
	if ((e = saksi_index_state(wtxn, dbi, &upto, check)) != SAKSI_OK)
		goto out;
	qsort(bt->bt_e, bt->bt_n, sizeof(*bt->bt_e), bentry_cmp);
	if ((rc = mdb_cursor_open(wtxn, dbi, &cur)) != 0) {
		e = mdb_err(rc);
		goto out;
	}
	/* In key order, one cursor: LMDB finds the next key on the page it is at. */
	for (size_t i = 0; i < bt->bt_n && e == SAKSI_OK; i++) {
		MDB_val k = { bt->bt_e[i].be_klen, bt->bt_e[i].be_key };
		MDB_val v = { POSTING, bt->bt_e[i].be_post };

		rc = mdb_cursor_put(cur, &k, &v, MDB_NODUPDATA);
		e = rc == MDB_KEYEXIST ? SAKSI_OK : mdb_err(rc);
	}
	mdb_cursor_close(cur);
	if (e == SAKSI_OK && bt->bt_upto > upto)
		e = state_put(wtxn, dbi, bt->bt_upto, check);
out:
	saksi_index_batch_clear(bt);
	return e;
}

saksi_err
saksi_index_unpost_personal(MDB_txn *wtxn, MDB_dbi dbi, const saksi_blind *b, uint64_t idx,
                            const uint8_t *envb, size_t env_len, const uint8_t *disc,
                            size_t disc_len, uint64_t *n)
{
	saksi_envelope env;
	uint8_t p[POSTING];
	json_t *root;
	saksi_err e;

	if (wtxn == NULL || b == NULL || envb == NULL)
		return SAKSI_ERR_INVAL;
	if (saksi_envelope_parse(envb, env_len, &env) != SAKSI_OK)
		return SAKSI_ERR_FORMAT;
	if (disc == NULL || disc_len == 0)
		return SAKSI_OK;
	root = json_loadb((const char *)env.ev_payload, env.ev_payload_len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return SAKSI_ERR_FORMAT;
	}
	/* The posting saksi_index_event made: the same leaf and producer time. */
	saksi_put_u64(p, idx);
	saksi_put_u64(p + 8, env.ev_time_ms);
	e = unpost_personal(wtxn, dbi, b, root, disc, disc_len, p, n);
	json_decref(root);
	return e;
}

saksi_err
saksi_index_drop(MDB_txn *wtxn, MDB_dbi dbi, saksi_index_field f, const char *value,
                 uint64_t *n)
{
	uint8_t key[KEY_MAX];
	MDB_val k, v;
	MDB_cursor *cur;
	size_t klen, count = 0;
	int rc;

	if (wtxn == NULL || value == NULL ||
	    make_key(f, value, strlen(value), key, &klen) != SAKSI_OK)
		return SAKSI_ERR_INVAL;
	k.mv_size = klen;
	k.mv_data = key;
	if ((rc = mdb_cursor_open(wtxn, dbi, &cur)) != 0)
		return mdb_err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
	if (rc == 0)
		rc = mdb_cursor_count(cur, &count);
	if (rc == 0)
		rc = mdb_cursor_del(cur, MDB_NODUPDATA);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return SAKSI_OK;
	if (rc == 0 && n != NULL)
		*n += count;
	return mdb_err(rc);
}

/* Seeks cur (on key k) to its first posting with leaf index >= target. 1: found. */
static int
seek(MDB_cursor *cur, MDB_val *k, uint64_t target, uint64_t *idx, uint64_t *tms,
     saksi_err *e)
{
	uint8_t want[POSTING];
	MDB_val v = { POSTING, want };
	int rc;

	memset(want, 0, sizeof(want));
	saksi_put_u64(want, target);
	rc = mdb_cursor_get(cur, k, &v, MDB_GET_BOTH_RANGE);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		*e = mdb_err(rc);
		return 0;
	}
	if (v.mv_size != POSTING) {
		*e = SAKSI_ERR_CORRUPT;
		return 0;
	}
	*idx = saksi_get_u64(v.mv_data);
	*tms = saksi_get_u64((const uint8_t *)v.mv_data + 8);
	return 1;
}

static int
hit_cmp(const void *a, const void *b)
{
	const saksi_index_hit *x = a, *y = b;

	return x->ih_index < y->ih_index ? -1 : x->ih_index > y->ih_index;
}

/* A query by time alone: every posting in the range, sorted by leaf index. */
static saksi_err
time_only(MDB_txn *txn, MDB_dbi dbi, const saksi_index_query *q, saksi_index_hit *out,
          size_t max, size_t *n, int *more)
{
	uint8_t from[9];
	MDB_val k = { sizeof(from), from }, v;
	MDB_cursor *cur;
	saksi_index_hit *all = NULL, *grown;
	size_t nall = 0, cap = 0, i;
	saksi_err e = SAKSI_OK;
	int rc;

	from[0] = SAKSI_IX_TIME;
	saksi_put_u64(from + 1, q->iq_since_ms);
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *kb = k.mv_data;
		uint64_t t, idx;

		if (k.mv_size != 9 || kb[0] != SAKSI_IX_TIME)
			break;
		if ((t = saksi_get_u64(kb + 1)) > q->iq_until_ms)
			break;
		if (v.mv_size != POSTING) {
			e = SAKSI_ERR_CORRUPT;
			break;
		}
		idx = saksi_get_u64(v.mv_data);
		if (q->iq_has_after && idx <= q->iq_after)
			continue;
		if (nall == cap) {
			if (cap >= SAKSI_INDEX_TIME_ONLY_MAX) {
				e = SAKSI_ERR_TOO_LARGE;
				break;
			}
			cap = cap == 0 ? 1024 : cap * 2;
			if ((grown = realloc(all, cap * sizeof(*all))) == NULL) {
				e = SAKSI_ERR_NOMEM;
				break;
			}
			all = grown;
		}
		all[nall].ih_index = idx;
		all[nall].ih_time_ms = t;
		nall++;
	}
	if (e == SAKSI_OK && rc != 0 && rc != MDB_NOTFOUND)
		e = mdb_err(rc);
	mdb_cursor_close(cur);
	if (e == SAKSI_OK) {
		if (nall > 1)
			qsort(all, nall, sizeof(*all), hit_cmp);
		for (i = 0; i < nall && i < max; i++)
			out[i] = all[i];
		*n = i;
		*more = nall > max;
	}
	free(all);
	return e;
}

saksi_err
saksi_index_query_run(MDB_txn *txn, MDB_dbi dbi, const saksi_index_query *q,
                      saksi_index_hit *out, size_t max, size_t *n, int *more)
{
	uint8_t keys[SAKSI_INDEX_TERMS_MAX][KEY_MAX];
	MDB_val kv[SAKSI_INDEX_TERMS_MAX];
	MDB_cursor *cur[SAKSI_INDEX_TERMS_MAX];
	size_t nt, i, klen, agreed;
	uint64_t target, idx = 0, tms = 0;
	saksi_err e = SAKSI_OK;
	int rc;

	if (txn == NULL || q == NULL || out == NULL || n == NULL || more == NULL || max == 0)
		return SAKSI_ERR_INVAL;
	*n = 0;
	*more = 0;
	nt = q->iq_nterms;
	if (nt > SAKSI_INDEX_TERMS_MAX || (nt > 0 && q->iq_terms == NULL) ||
	    q->iq_since_ms > q->iq_until_ms)
		return SAKSI_ERR_INVAL;
	if (nt == 0 && q->iq_since_ms == 0 && q->iq_until_ms == UINT64_MAX)
		return SAKSI_ERR_INVAL;
	for (i = 0; i < nt; i++) {
		const char *val = q->iq_terms[i].it_value;

		if (val == NULL ||
		    make_key(q->iq_terms[i].it_field, val, strlen(val), keys[i], &klen) !=
		    SAKSI_OK)
			return SAKSI_ERR_INVAL;
		kv[i].mv_size = klen;
		kv[i].mv_data = keys[i];
	}
	if (nt == 0)
		return time_only(txn, dbi, q, out, max, n, more);
	if (q->iq_has_after && q->iq_after == UINT64_MAX)
		return SAKSI_OK;

	for (i = 0; i < nt; i++)
		cur[i] = NULL;
	for (i = 0; i < nt; i++)
		if ((rc = mdb_cursor_open(txn, dbi, &cur[i])) != 0) {
			e = mdb_err(rc);
			goto out;
		}
	/*
	 * Leapfrog: every list seeks to the highest leaf any of them is at, until all agree
	 * on one; each seek is a B-tree descent within one key's duplicates.
	 */
	target = q->iq_has_after ? q->iq_after + 1 : 0;
	agreed = 0;
	i = 0;
	for (;;) {
		uint64_t got, t;

		if (!seek(cur[i], &kv[i], target, &got, &t, &e))
			break;   /* a list ran out (or an error, in e) */
		if (got != target) {
			target = got;
			agreed = 1;
		} else
			agreed++;
		idx = got;
		tms = t;
		i = (i + 1) % nt;
		if (agreed < nt)
			continue;
		if (tms >= q->iq_since_ms && tms <= q->iq_until_ms) {
			if (*n == max) {
				*more = 1;
				break;
			}
			out[*n].ih_index = idx;
			out[*n].ih_time_ms = tms;
			(*n)++;
		}
		if (idx == UINT64_MAX)
			break;
		target = idx + 1;
		agreed = 0;
	}
out:
	for (i = 0; i < nt; i++)
		if (cur[i] != NULL)
			mdb_cursor_close(cur[i]);
	if (e != SAKSI_OK)
		*n = 0;
	return e;
}

int
saksi_index_nik_token(const saksi_blind *b, const uint8_t *disc, size_t len,
                      char tok[SAKSI_BLIND_TOKEN_LEN + 1])
{
	json_t *a, *v;
	size_t i;
	int found = 0;

	if (b == NULL || disc == NULL || tok == NULL)
		return 0;
	a = json_loadb((const char *)disc, len, 0, NULL);
	if (!json_is_array(a)) {
		json_decref(a);
		return 0;
	}
	json_array_foreach(a, i, v) {
		char *name = NULL, *value = NULL;

		if (!json_is_string(v) ||
		    saksi_disclosure_decode(json_string_value(v), json_string_length(v), &name,
		                            &value) != SAKSI_OK)
			continue;
		if (strcmp(name, "nik") == 0 &&
		    saksi_blind_token(b, SAKSI_BLIND_NIK, value, strlen(value), tok) == SAKSI_OK)
			found = 1;
		sodium_memzero(value, strlen(value));
		free(value);
		free(name);
		if (found)
			break;
	}
	json_decref(a);
	return found;
}
