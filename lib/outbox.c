/*
 * outbox.c: the producer's durable outbox in its own LMDB environment. An entry is synced
 * before "queued" is answered, and leaves the queue only in the same transaction that keeps
 * its verified receipt or its dead letter: a kill at any point loses nothing, and what was
 * sent twice the daemon answers as a duplicate. It never drops an entry and never prints.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <sodium.h>

#include "bytes.h"
#include "envelope.h"
#include "merkle.h"
#include "outbox.h"
#include "wire.h"

#define FORMAT_VERSION 1
#define LEAF_EXTRA_LEN 42
#define BATCH_DEFAULT 64
/* Request framing: version, op, count, then per item two lengths. */
#define REQ_HDR 4
#define REQ_ITEM_HDR 8

enum { DB_META, DB_QUEUE, DB_PEND, DB_SEQ, DB_RCPT, DB_DEAD, NDB };
static const char *const db_names[NDB] = { "meta", "queue", "pend", "seq", "rcpt", "dead" };

struct saksi_outbox {
	MDB_env *o_env;
	MDB_dbi o_db[NDB];
	const saksi_note_verifier *o_log;
	const saksi_seckey *o_key;
	uint8_t o_box_pk[32];
	int o_has_box;
	const saksi_schemas *o_schemas;
};

/* One pending entry copied out of the queue for a request. */
struct entry {
	uint64_t e_id;
	uint8_t *e_env;
	size_t e_env_len;
	uint8_t *e_sealed;
	size_t e_sealed_len;
};

static saksi_err
map_mdb(int rc)
{
	/* An outbox file that is not an LMDB environment is a damaged outbox. */
	if (rc == MDB_INVALID)
		return SAKSI_ERR_CORRUPT;
	return saksi_error_of_mdb(rc);
}

static MDB_val
val(const void *p, size_t n)
{
	MDB_val v;

	v.mv_data = (void *)p;
	v.mv_size = n;
	return v;
}

static saksi_err
begin(saksi_outbox *ob, int write, MDB_txn **t)
{
	return map_mdb(mdb_txn_begin(ob->o_env, NULL, write ? 0 : MDB_RDONLY, t));
}

/* Commits (synced: the environment is opened without MDB_NOSYNC). */
static saksi_err
commit(MDB_txn *t)
{
	return map_mdb(mdb_txn_commit(t));
}

static saksi_err
get_u64(MDB_txn *t, MDB_dbi db, const void *key, size_t klen, uint64_t *out)
{
	MDB_val k = val(key, klen), v;
	int rc;

	*out = 0;
	if ((rc = mdb_get(t, db, &k, &v)) == MDB_NOTFOUND)
		return SAKSI_OK;
	if (rc != 0)
		return map_mdb(rc);
	if (v.mv_size != 8)
		return SAKSI_ERR_CORRUPT;
	*out = saksi_get_u64(v.mv_data);
	return SAKSI_OK;
}

static saksi_err
put_u64(MDB_txn *t, MDB_dbi db, const void *key, size_t klen, uint64_t x)
{
	uint8_t b[8];
	MDB_val k = val(key, klen), v = val(b, 8);

	saksi_put_u64(b, x);
	return map_mdb(mdb_put(t, db, &k, &v, 0));
}

static saksi_err
setup_dbs(saksi_outbox *ob)
{
	MDB_txn *t;
	MDB_val k, v;
	uint8_t fmt[4];
	saksi_err e;
	int rc;

	if ((e = begin(ob, 1, &t)) != SAKSI_OK)
		return e;
	for (int i = 0; i < NDB; i++)
		if ((rc = mdb_dbi_open(t, db_names[i], MDB_CREATE, &ob->o_db[i])) != 0) {
			mdb_txn_abort(t);
			return map_mdb(rc);
		}
	k = val("format", 6);
	rc = mdb_get(t, ob->o_db[DB_META], &k, &v);
	if (rc == MDB_NOTFOUND) {
		saksi_put_u32(fmt, FORMAT_VERSION);
		v = val(fmt, 4);
		rc = mdb_put(t, ob->o_db[DB_META], &k, &v, 0);
		if (rc == 0)
			e = put_u64(t, ob->o_db[DB_META], "next_id", 7, 1);
		else
			e = map_mdb(rc);
	} else if (rc != 0)
		e = map_mdb(rc);
	else if (v.mv_size != 4)
		e = SAKSI_ERR_CORRUPT;
	else if (saksi_get_u32(v.mv_data) != FORMAT_VERSION)
		e = SAKSI_ERR_VERSION;
	if (e != SAKSI_OK) {
		mdb_txn_abort(t);
		return e;
	}
	return commit(t);
}

saksi_err
saksi_outbox_open(const char *dir, const saksi_outbox_opts *opts, saksi_outbox **out)
{
	saksi_outbox *ob;
	saksi_err e;
	int rc;

	if (out == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if (dir == NULL || *dir == '\0' || opts == NULL)
		return SAKSI_ERR_INVAL;
	if (opts->ob_key != NULL && saksi_seckey_kind(opts->ob_key) != SAKSI_KEY_SIGN)
		return SAKSI_ERR_KEY;
	/* The queue holds sealed disclosures and signed events: the producer's alone. */
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errno == ENOENT || errno == ENOTDIR ? SAKSI_ERR_NOT_FOUND :
		       errno == ENOSPC ? SAKSI_ERR_FULL : SAKSI_ERR_PERM;
	if ((ob = calloc(1, sizeof(*ob))) == NULL)
		return SAKSI_ERR_NOMEM;
	ob->o_log = opts->ob_log;
	ob->o_key = opts->ob_key;
	ob->o_schemas = opts->ob_schemas;
	if (opts->ob_box_pk != NULL) {
		memcpy(ob->o_box_pk, opts->ob_box_pk, 32);
		ob->o_has_box = 1;
	}
	if ((rc = mdb_env_create(&ob->o_env)) != 0) {
		free(ob);
		return map_mdb(rc);
	}
	if ((rc = mdb_env_set_maxdbs(ob->o_env, NDB)) != 0 ||
	    (rc = mdb_env_set_mapsize(ob->o_env, opts->ob_map_size ? opts->ob_map_size :
	                              SAKSI_OUTBOX_MAP_DEFAULT)) != 0 ||
	    (rc = mdb_env_open(ob->o_env, dir, MDB_NOTLS, 0600)) != 0) {
		e = rc == ENOTDIR ? SAKSI_ERR_NOT_FOUND : map_mdb(rc);
		goto fail;
	}
	/* A producer killed inside a read transaction leaves its reader slot behind, and
	 * pages it pinned would never be reused: the file would only grow. */
	(void)mdb_reader_check(ob->o_env, NULL);
	if ((e = setup_dbs(ob)) != SAKSI_OK)
		goto fail;
	*out = ob;
	return SAKSI_OK;
fail:
	mdb_env_close(ob->o_env);
	free(ob);
	return e;
}

void
saksi_outbox_close(saksi_outbox *ob)
{
	if (ob == NULL)
		return;
	mdb_env_close(ob->o_env);
	sodium_memzero(ob, sizeof(*ob));
	free(ob);
}

/* Queues env/sealed in t: the checks of saksi_outbox_enqueue, then the records. */
static saksi_err
enqueue_txn(saksi_outbox *ob, MDB_txn *t, const saksi_envelope *ev, const uint8_t *sealed,
            size_t sealed_len, uint64_t *id, int *already)
{
	uint8_t pk[16], pv[40], idb[8], h[32], *p;
	MDB_val k, v;
	uint64_t last, next;
	size_t rlen;
	saksi_err e;
	int rc;

	*already = 0;
	crypto_hash_sha256(h, ev->ev_bytes, ev->ev_len);
	memcpy(pk, ev->ev_key_id, 8);
	saksi_put_u64(pk + 8, ev->ev_seq);
	k = val(pk, 16);
	rc = mdb_get(t, ob->o_db[DB_PEND], &k, &v);
	if (rc == 0) {
		if (v.mv_size != 40)
			return SAKSI_ERR_CORRUPT;
		if (sodium_memcmp((const uint8_t *)v.mv_data + 8, h, 32) != 0)
			return SAKSI_ERR_EXISTS;
		*id = saksi_get_u64(v.mv_data);
		*already = 1;
		return SAKSI_OK;
	}
	if (rc != MDB_NOTFOUND)
		return map_mdb(rc);
	if ((e = get_u64(t, ob->o_db[DB_SEQ], ev->ev_key_id, 8, &last)) != SAKSI_OK)
		return e;
	if (ev->ev_seq <= last)
		return SAKSI_ERR_RANGE;
	if ((e = get_u64(t, ob->o_db[DB_META], "next_id", 7, &next)) != SAKSI_OK)
		return e;
	if (next == 0)
		return SAKSI_ERR_CORRUPT;

	/* Reserve the record in place: no copy of up to 125 KiB through the heap. */
	rlen = 4 + ev->ev_len + 4 + sealed_len;
	saksi_put_u64(idb, next);
	k = val(idb, 8);
	v = val(NULL, rlen);
	if ((rc = mdb_put(t, ob->o_db[DB_QUEUE], &k, &v, MDB_NOOVERWRITE | MDB_RESERVE)) != 0)
		return rc == MDB_KEYEXIST ? SAKSI_ERR_CORRUPT : map_mdb(rc);
	p = v.mv_data;
	saksi_put_u32(p, (uint32_t)ev->ev_len);
	memcpy(p + 4, ev->ev_bytes, ev->ev_len);
	saksi_put_u32(p + 4 + ev->ev_len, (uint32_t)sealed_len);
	if (sealed_len > 0)
		memcpy(p + 8 + ev->ev_len, sealed, sealed_len);

	saksi_put_u64(pv, next);
	memcpy(pv + 8, h, 32);
	k = val(pk, 16);
	v = val(pv, 40);
	if ((rc = mdb_put(t, ob->o_db[DB_PEND], &k, &v, 0)) != 0)
		return map_mdb(rc);
	if ((e = put_u64(t, ob->o_db[DB_SEQ], ev->ev_key_id, 8, ev->ev_seq)) != SAKSI_OK ||
	    (e = put_u64(t, ob->o_db[DB_META], "next_id", 7, next + 1)) != SAKSI_OK)
		return e;
	*id = next;
	return SAKSI_OK;
}

saksi_err
saksi_outbox_enqueue(saksi_outbox *ob, const uint8_t *env, size_t env_len,
                     const uint8_t *sealed, size_t sealed_len, uint64_t *id)
{
	saksi_envelope ev;
	MDB_txn *t;
	uint64_t got = 0;
	saksi_err e;
	int already;

	if (ob == NULL || env == NULL || id == NULL || (sealed == NULL && sealed_len > 0))
		return SAKSI_ERR_INVAL;
	*id = 0;
	if ((e = saksi_envelope_parse(env, env_len, &ev)) != SAKSI_OK)
		return e;
	if (sealed_len > SAKSI_SEALED_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if ((e = begin(ob, 1, &t)) != SAKSI_OK)
		return e;
	e = enqueue_txn(ob, t, &ev, sealed, sealed_len, &got, &already);
	if (e == SAKSI_OK && already) {
		/* The very same bytes are pending: queued already, nothing to write. */
		mdb_txn_abort(t);
		*id = got;
		return SAKSI_OK;
	}
	if (e != SAKSI_OK) {
		mdb_txn_abort(t);
		return e;
	}
	if ((e = commit(t)) != SAKSI_OK)
		return e;
	*id = got;
	return SAKSI_OK;
}

/* Digests for the personal fields, the signature and the seal, as the client does. */
static saksi_err
build(saksi_outbox *ob, const char *type, const char *payload, uint64_t seq,
      uint64_t time_ms, uint8_t *env, size_t *env_len, uint8_t **sealed, size_t *sealed_len)
{
	const char *const *personal;
	char *clean = NULL, *discs = NULL;
	size_t plen = 0, dlen = 0, np = 0;
	saksi_err e;

	*sealed = NULL;
	*sealed_len = 0;
	if ((personal = saksi_schemas_personal(ob->o_schemas, type)) == NULL)
		return SAKSI_ERR_SCHEMA;
	e = saksi_schemas_validate_clear(ob->o_schemas, type, payload, strlen(payload), NULL, 0);
	if (e == SAKSI_ERR_NOT_FOUND || e == SAKSI_ERR_FORMAT)
		return SAKSI_ERR_SCHEMA;
	if (e != SAKSI_OK)
		return e;
	while (personal[np] != NULL)
		np++;
	e = saksi_disclose_payload(payload, strlen(payload), personal, np, &clean, &plen, &discs,
	                           &dlen);
	if (e == SAKSI_ERR_FORMAT)
		e = SAKSI_ERR_SCHEMA;
	if (e != SAKSI_OK)
		goto out;
	e = saksi_envelope_sign(ob->o_key, seq, time_ms, type, (const uint8_t *)clean, plen, env,
	                        SAKSI_ENV_MAX, env_len);
	if (e != SAKSI_OK)
		goto out;
	/* No personal field present: nothing to seal (FORMATS.md 3). */
	if (strcmp(discs, "[]") != 0) {
		if ((*sealed = malloc(dlen + 64)) == NULL) {
			e = SAKSI_ERR_NOMEM;
			goto out;
		}
		e = saksi_disclosures_seal(ob->o_key, ob->o_box_pk, env, *env_len,
		                           (const uint8_t *)discs, dlen, *sealed, dlen + 64,
		                           sealed_len);
		if (e != SAKSI_OK) {
			free(*sealed);
			*sealed = NULL;
			*sealed_len = 0;
		}
	}
out:
	free(clean);
	if (discs != NULL) {
		sodium_memzero(discs, dlen); /* personal data in clear */
		free(discs);
	}
	return e;
}

saksi_err
saksi_outbox_enqueue_event(saksi_outbox *ob, const char *type, const char *payload,
                           uint64_t time_ms, uint64_t want, uint64_t *seq, uint64_t *id)
{
	saksi_envelope ev;
	uint8_t *env = NULL, *sealed = NULL;
	size_t env_len = 0, sealed_len = 0;
	uint64_t last, got = 0;
	MDB_txn *t = NULL;
	saksi_err e;
	int already;

	if (seq != NULL)
		*seq = 0;
	if (ob == NULL || type == NULL || payload == NULL || id == NULL)
		return SAKSI_ERR_INVAL;
	*id = 0;
	if (ob->o_key == NULL || !ob->o_has_box || ob->o_schemas == NULL)
		return SAKSI_ERR_INVAL;
	if ((env = malloc(SAKSI_ENV_MAX)) == NULL)
		return SAKSI_ERR_NOMEM;
	/* The counter is read and moved in the transaction that queues the event: two
	 * processes sharing the outbox still never sign one seq twice. */
	if ((e = begin(ob, 1, &t)) != SAKSI_OK)
		goto out;
	if ((e = get_u64(t, ob->o_db[DB_SEQ], saksi_seckey_id(ob->o_key), 8, &last)) !=
	    SAKSI_OK)
		goto out;
	if (want == 0 && last == UINT64_MAX) {
		e = SAKSI_ERR_RANGE;
		goto out;
	}
	if (want == 0)
		want = last + 1;
	else if (want <= last) {
		e = SAKSI_ERR_RANGE;
		goto out;
	}
	e = build(ob, type, payload, want, time_ms, env, &env_len, &sealed, &sealed_len);
	if (e != SAKSI_OK)
		goto out;
	if ((e = saksi_envelope_parse(env, env_len, &ev)) != SAKSI_OK)
		goto out;
	if ((e = enqueue_txn(ob, t, &ev, sealed, sealed_len, &got, &already)) != SAKSI_OK)
		goto out;
	if (already) {
		/* A fresh seq cannot be pending: the counter and the index disagree. */
		e = SAKSI_ERR_CORRUPT;
		goto out;
	}
	e = commit(t);
	t = NULL;
	if (e == SAKSI_OK) {
		*id = got;
		if (seq != NULL)
			*seq = want;
	}
out:
	if (t != NULL)
		mdb_txn_abort(t);
	free(env);
	free(sealed);
	return e;
}

saksi_err
saksi_outbox_seq_last(saksi_outbox *ob, const uint8_t key_id[SAKSI_KEYID_LEN], uint64_t *seq)
{
	MDB_txn *t;
	saksi_err e;

	if (seq != NULL)
		*seq = 0;
	if (ob == NULL || key_id == NULL || seq == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = begin(ob, 0, &t)) != SAKSI_OK)
		return e;
	e = get_u64(t, ob->o_db[DB_SEQ], key_id, 8, seq);
	mdb_txn_abort(t);
	return e;
}

saksi_err
saksi_outbox_seq_floor(saksi_outbox *ob, const uint8_t key_id[SAKSI_KEYID_LEN], uint64_t seq)
{
	MDB_txn *t;
	uint64_t last;
	saksi_err e;

	if (ob == NULL || key_id == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = begin(ob, 1, &t)) != SAKSI_OK)
		return e;
	if ((e = get_u64(t, ob->o_db[DB_SEQ], key_id, 8, &last)) != SAKSI_OK ||
	    (seq > last && (e = put_u64(t, ob->o_db[DB_SEQ], key_id, 8, seq)) != SAKSI_OK)) {
		mdb_txn_abort(t);
		return e;
	}
	return commit(t);
}

/* Splits a queue record; SAKSI_ERR_CORRUPT if its lengths do not add up. */
static saksi_err
parse_rec(const MDB_val *v, const uint8_t **env, size_t *env_len, const uint8_t **sealed,
          size_t *sealed_len)
{
	const uint8_t *p = v->mv_data;
	size_t n = v->mv_size, el, sl;

	if (n < 8)
		return SAKSI_ERR_CORRUPT;
	el = saksi_get_u32(p);
	if (el > n - 8)
		return SAKSI_ERR_CORRUPT;
	sl = saksi_get_u32(p + 4 + el);
	if (sl != n - 8 - el)
		return SAKSI_ERR_CORRUPT;
	*env = p + 4;
	*env_len = el;
	*sealed = sl > 0 ? p + 8 + el : NULL;
	*sealed_len = sl;
	return SAKSI_OK;
}

static void
entries_free(struct entry *en, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(en[i].e_env);
		free(en[i].e_sealed);
	}
}

/* Copies the first entries of the queue (at most batch, and what fits one request). */
static saksi_err
take_batch(saksi_outbox *ob, size_t batch, struct entry *en, size_t *n)
{
	MDB_txn *t;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t bytes = REQ_HDR;
	saksi_err e;
	int rc, op = MDB_FIRST;

	*n = 0;
	if ((e = begin(ob, 0, &t)) != SAKSI_OK)
		return e;
	if ((rc = mdb_cursor_open(t, ob->o_db[DB_QUEUE], &cur)) != 0) {
		mdb_txn_abort(t);
		return map_mdb(rc);
	}
	while (*n < batch && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		const uint8_t *env, *sealed;
		size_t el, sl;
		struct entry *x = &en[*n];

		op = MDB_NEXT;
		if (k.mv_size != 8 || (e = parse_rec(&v, &env, &el, &sealed, &sl)) != SAKSI_OK) {
			e = SAKSI_ERR_CORRUPT;
			break;
		}
		if (bytes + REQ_ITEM_HDR + el + sl > SAKSI_WIRE_MSG_MAX && *n > 0)
			break;
		bytes += REQ_ITEM_HDR + el + sl;
		memset(x, 0, sizeof(*x));
		x->e_id = saksi_get_u64(k.mv_data);
		if ((x->e_env = malloc(el)) == NULL || (sl > 0 && (x->e_sealed = malloc(sl)) == NULL)) {
			free(x->e_env);
			e = SAKSI_ERR_NOMEM;
			break;
		}
		memcpy(x->e_env, env, el);
		x->e_env_len = el;
		if (sl > 0)
			memcpy(x->e_sealed, sealed, sl);
		x->e_sealed_len = sl;
		(*n)++;
	}
	if (e == SAKSI_OK && rc != 0 && rc != MDB_NOTFOUND)
		e = map_mdb(rc);
	mdb_cursor_close(cur);
	mdb_txn_abort(t);
	if (e != SAKSI_OK) {
		entries_free(en, *n);
		*n = 0;
	}
	return e;
}

/* Does r's receipt prove this entry's own envelope under the log key? */
static saksi_err
receipt_proves(const saksi_outbox *ob, const struct entry *x, const saksi_result *r)
{
	saksi_tlog_proof *tp;
	uint8_t *leaf;
	saksi_hash lh;
	saksi_err e = SAKSI_ERR_PROOF;

	if (r->sr_receipt == NULL)
		return SAKSI_ERR_FORMAT;
	if ((tp = malloc(sizeof(*tp))) == NULL)
		return SAKSI_ERR_NOMEM;
	if ((leaf = malloc(LEAF_EXTRA_LEN + x->e_env_len)) == NULL) {
		free(tp);
		return SAKSI_ERR_NOMEM;
	}
	if (saksi_tlog_proof_parse(r->sr_receipt, strlen(r->sr_receipt), tp) == SAKSI_OK &&
	    tp->tp_has_extra && tp->tp_extra_len == LEAF_EXTRA_LEN &&
	    tp->tp_index == r->sr_index) {
		memcpy(leaf, tp->tp_extra, LEAF_EXTRA_LEN);
		memcpy(leaf + LEAF_EXTRA_LEN, x->e_env, x->e_env_len);
		saksi_merkle_leaf_hash(lh, leaf, LEAF_EXTRA_LEN + x->e_env_len);
		if (saksi_tlog_proof_verify(tp, ob->o_log, lh, NULL) == SAKSI_OK)
			e = SAKSI_OK;
	}
	free(leaf);
	free(tp);
	return e;
}

/* Removes a pending entry from the queue and from the pending index. */
static saksi_err
unqueue(saksi_outbox *ob, MDB_txn *t, const struct entry *x)
{
	saksi_envelope ev;
	uint8_t idb[8], pk[16];
	MDB_val k;
	int rc;

	saksi_put_u64(idb, x->e_id);
	k = val(idb, 8);
	rc = mdb_del(t, ob->o_db[DB_QUEUE], &k, NULL);
	if (rc == MDB_NOTFOUND)
		return SAKSI_ERR_NOT_FOUND; /* another process delivered it meanwhile */
	if (rc != 0)
		return map_mdb(rc);
	if (saksi_envelope_parse(x->e_env, x->e_env_len, &ev) != SAKSI_OK)
		return SAKSI_ERR_CORRUPT;
	memcpy(pk, ev.ev_key_id, 8);
	saksi_put_u64(pk + 8, ev.ev_seq);
	k = val(pk, 16);
	rc = mdb_del(t, ob->o_db[DB_PEND], &k, NULL);
	return rc == 0 || rc == MDB_NOTFOUND ? SAKSI_OK : map_mdb(rc);
}

/* rcpt record: duplicate (1) || index (8) || env_len (4) || env || receipt text. */
static saksi_err
keep_receipt(saksi_outbox *ob, MDB_txn *t, const struct entry *x, const saksi_result *r)
{
	uint8_t idb[8], *p;
	size_t rl = strlen(r->sr_receipt);
	MDB_val k, v;
	int rc;

	saksi_put_u64(idb, x->e_id);
	k = val(idb, 8);
	v = val(NULL, 13 + x->e_env_len + rl);
	if ((rc = mdb_put(t, ob->o_db[DB_RCPT], &k, &v, MDB_RESERVE)) != 0)
		return map_mdb(rc);
	p = v.mv_data;
	p[0] = r->sr_code == SAKSI_R_DUPLICATE;
	saksi_put_u64(p + 1, r->sr_index);
	saksi_put_u32(p + 9, (uint32_t)x->e_env_len);
	memcpy(p + 13, x->e_env, x->e_env_len);
	memcpy(p + 13 + x->e_env_len, r->sr_receipt, rl);
	return SAKSI_OK;
}

/* dead record: code (1) || msg_len (2) || msg || the queue record. */
static saksi_err
keep_dead(saksi_outbox *ob, MDB_txn *t, const struct entry *x, const saksi_result *r)
{
	uint8_t idb[8], *p;
	size_t ml = strnlen(r->sr_message, sizeof(r->sr_message) - 1);
	MDB_val k, v;
	int rc;

	saksi_put_u64(idb, x->e_id);
	k = val(idb, 8);
	v = val(NULL, 3 + ml + 8 + x->e_env_len + x->e_sealed_len);
	if ((rc = mdb_put(t, ob->o_db[DB_DEAD], &k, &v, MDB_RESERVE)) != 0)
		return map_mdb(rc);
	p = v.mv_data;
	p[0] = (uint8_t)r->sr_code;
	saksi_put_u16(p + 1, (uint16_t)ml);
	memcpy(p + 3, r->sr_message, ml);
	p += 3 + ml;
	saksi_put_u32(p, (uint32_t)x->e_env_len);
	memcpy(p + 4, x->e_env, x->e_env_len);
	saksi_put_u32(p + 4 + x->e_env_len, (uint32_t)x->e_sealed_len);
	if (x->e_sealed_len > 0)
		memcpy(p + 8 + x->e_env_len, x->e_sealed, x->e_sealed_len);
	return SAKSI_OK;
}

static void
set_stop(saksi_outbox_flush_result *fr, int status, const char *msg)
{
	fr->of_status = status;
	snprintf(fr->of_message, sizeof(fr->of_message), "%s", msg);
}

/*
 * One request: sends en[n], then applies the answers in one synced transaction.
 * *stop is set when the flush must not go on (an unavailable answer).
 */
static saksi_err
flush_batch(saksi_outbox *ob, saksi_client *c, struct entry *en, size_t n,
            saksi_outbox_receipt_fn on_receipt, void *arg, saksi_outbox_flush_result *fr,
            size_t *left, int *stop)
{
	const uint8_t **envs = NULL, **seals = NULL;
	size_t *elen = NULL, *slen = NULL, gone = 0;
	saksi_result *res = NULL;
	uint8_t *done = NULL;
	MDB_txn *t = NULL;
	saksi_err e;
	size_t i;

	envs = calloc(n, sizeof(*envs));
	seals = calloc(n, sizeof(*seals));
	elen = calloc(n, sizeof(*elen));
	slen = calloc(n, sizeof(*slen));
	res = calloc(n, sizeof(*res));
	done = calloc(n, 1);
	if (envs == NULL || seals == NULL || elen == NULL || slen == NULL || res == NULL ||
	    done == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		envs[i] = en[i].e_env;
		elen[i] = en[i].e_env_len;
		seals[i] = en[i].e_sealed;
		slen[i] = en[i].e_sealed_len;
	}
	fr->of_sent += n;
	e = saksi_client_submit_raw(c, envs, elen, seals, slen, n, res);
	if (e == SAKSI_ERR_REFUSED) {
		int status = 0;
		const char *msg = saksi_client_refusal(c, &status);
		set_stop(fr, status, msg);
		*stop = 1;
		goto out;
	}
	if (e != SAKSI_OK)
		goto out;
	/* Every receipt must prove its own entry before anything leaves the queue. */
	for (i = 0; i < n; i++)
		if ((res[i].sr_code == SAKSI_R_ACCEPTED || res[i].sr_code == SAKSI_R_DUPLICATE) &&
		    (e = receipt_proves(ob, &en[i], &res[i])) != SAKSI_OK)
			goto out;
	if ((e = begin(ob, 1, &t)) != SAKSI_OK)
		goto out;
	for (i = 0; i < n; i++) {
		int code = res[i].sr_code;

		if (code == SAKSI_R_UNAVAILABLE || code == SAKSI_R_BUSY) {
			/* Retry later, in order: this one and everything after it stays. (busy is
			 * a whole request's status today; an item's would mean the same.) */
			if (!*stop)
				set_stop(fr, code, res[i].sr_message);
			*stop = 1;
			continue;
		}
		/* Before the stop point only: later entries would overtake the one kept. */
		if (*stop && code != SAKSI_R_ACCEPTED && code != SAKSI_R_DUPLICATE)
			continue;
		if (gone >= *left)
			break;
		e = unqueue(ob, t, &en[i]);
		if (e == SAKSI_ERR_NOT_FOUND)
			continue;
		if (e != SAKSI_OK)
			goto out;
		if (code == SAKSI_R_ACCEPTED || code == SAKSI_R_DUPLICATE)
			e = keep_receipt(ob, t, &en[i], &res[i]);
		else
			e = keep_dead(ob, t, &en[i], &res[i]);
		if (e != SAKSI_OK)
			goto out;
		done[i] = 1;
		gone++;
	}
	e = commit(t);
	t = NULL;
	if (e != SAKSI_OK)
		goto out;
	*left -= gone;
	/* Durable: now the counts and the producer's callback. */
	for (i = 0; i < n; i++) {
		if (!done[i])
			continue;
		if (res[i].sr_code == SAKSI_R_ACCEPTED || res[i].sr_code == SAKSI_R_DUPLICATE) {
			fr->of_delivered++;
			if (res[i].sr_code == SAKSI_R_DUPLICATE)
				fr->of_duplicate++;
			if (on_receipt != NULL) {
				saksi_outbox_receipt r;

				r.or_id = en[i].e_id;
				r.or_index = res[i].sr_index;
				r.or_duplicate = res[i].sr_code == SAKSI_R_DUPLICATE;
				r.or_env = en[i].e_env;
				r.or_env_len = en[i].e_env_len;
				r.or_receipt = res[i].sr_receipt;
				r.or_receipt_len = strlen(res[i].sr_receipt);
				on_receipt(arg, &r);
			}
		} else
			fr->of_dead++;
	}
out:
	if (t != NULL)
		mdb_txn_abort(t);
	if (res != NULL)
		for (i = 0; i < n; i++)
			saksi_result_clear(&res[i]);
	free(envs);
	free(seals);
	free(elen);
	free(slen);
	free(res);
	free(done);
	return e;
}

saksi_err
saksi_outbox_flush(saksi_outbox *ob, saksi_client *c, size_t batch, size_t max,
                   saksi_outbox_receipt_fn on_receipt, void *arg,
                   saksi_outbox_flush_result *fr)
{
	saksi_outbox_flush_result local;
	struct entry *en;
	size_t n, left = max == 0 ? SIZE_MAX : max;
	saksi_err e = SAKSI_OK;
	int stop = 0;

	if (fr == NULL)
		fr = &local;
	memset(fr, 0, sizeof(*fr));
	if (ob == NULL || c == NULL || ob->o_log == NULL || batch > SAKSI_WIRE_BATCH_MAX)
		return SAKSI_ERR_INVAL;
	if (batch == 0)
		batch = BATCH_DEFAULT;
	if ((en = calloc(batch, sizeof(*en))) == NULL)
		return SAKSI_ERR_NOMEM;
	while (!stop && left > 0) {
		if ((e = take_batch(ob, batch < left ? batch : left, en, &n)) != SAKSI_OK)
			break;
		if (n == 0)
			break;
		e = flush_batch(ob, c, en, n, on_receipt, arg, fr, &left, &stop);
		entries_free(en, n);
		if (e != SAKSI_OK)
			break;
	}
	free(en);
	if (e == SAKSI_OK && stop)
		e = SAKSI_ERR_REFUSED;
	return e;
}

static saksi_err
count(MDB_txn *t, MDB_dbi db, uint64_t *n)
{
	MDB_stat st;
	int rc;

	if ((rc = mdb_stat(t, db, &st)) != 0)
		return map_mdb(rc);
	*n = st.ms_entries;
	return SAKSI_OK;
}

saksi_err
saksi_outbox_stat(saksi_outbox *ob, saksi_outbox_status *st)
{
	MDB_txn *t;
	MDB_cursor *cur;
	MDB_val k, v;
	saksi_err e;
	int rc;

	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if (ob == NULL || st == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = begin(ob, 0, &t)) != SAKSI_OK)
		return e;
	if ((e = count(t, ob->o_db[DB_QUEUE], &st->os_pending)) != SAKSI_OK ||
	    (e = count(t, ob->o_db[DB_DEAD], &st->os_dead)) != SAKSI_OK ||
	    (e = count(t, ob->o_db[DB_RCPT], &st->os_receipts)) != SAKSI_OK ||
	    (e = get_u64(t, ob->o_db[DB_META], "next_id", 7, &st->os_next_id)) != SAKSI_OK)
		goto out;
	if ((rc = mdb_cursor_open(t, ob->o_db[DB_QUEUE], &cur)) != 0) {
		e = map_mdb(rc);
		goto out;
	}
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	if (rc == 0) {
		const uint8_t *env, *sealed;
		size_t el, sl;
		saksi_envelope ev;

		if (parse_rec(&v, &env, &el, &sealed, &sl) != SAKSI_OK ||
		    saksi_envelope_parse(env, el, &ev) != SAKSI_OK)
			e = SAKSI_ERR_CORRUPT;
		else
			st->os_oldest_ms = ev.ev_time_ms;
	} else if (rc != MDB_NOTFOUND)
		e = map_mdb(rc);
	mdb_cursor_close(cur);
out:
	mdb_txn_abort(t);
	return e;
}

/* Walks db in key order, calling each(arg, key id, value) until it fails. */
static saksi_err
walk(saksi_outbox *ob, MDB_dbi db, saksi_err (*each)(void *, uint64_t, const MDB_val *),
     void *arg)
{
	MDB_txn *t;
	MDB_cursor *cur;
	MDB_val k, v;
	saksi_err e = SAKSI_OK;
	int rc, op = MDB_FIRST;

	if ((e = begin(ob, 0, &t)) != SAKSI_OK)
		return e;
	if ((rc = mdb_cursor_open(t, db, &cur)) != 0) {
		mdb_txn_abort(t);
		return map_mdb(rc);
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != 8) {
			e = SAKSI_ERR_CORRUPT;
			break;
		}
		if ((e = each(arg, saksi_get_u64(k.mv_data), &v)) != SAKSI_OK)
			break;
	}
	if (e == SAKSI_OK && rc != MDB_NOTFOUND)
		e = map_mdb(rc);
	mdb_cursor_close(cur);
	mdb_txn_abort(t);
	return e;
}

struct cb {
	saksi_outbox_receipt_fn rfn;
	saksi_outbox_dead_fn dfn;
	void *arg;
};

static saksi_err
each_receipt(void *arg, uint64_t id, const MDB_val *v)
{
	struct cb *cb = arg;
	const uint8_t *p = v->mv_data;
	saksi_outbox_receipt r;
	size_t el;
	char *text;

	if (v->mv_size < 13 || p[0] > 1)
		return SAKSI_ERR_CORRUPT;
	el = saksi_get_u32(p + 9);
	if (el > v->mv_size - 13)
		return SAKSI_ERR_CORRUPT;
	r.or_id = id;
	r.or_duplicate = p[0];
	r.or_index = saksi_get_u64(p + 1);
	r.or_env = p + 13;
	r.or_env_len = el;
	r.or_receipt_len = v->mv_size - 13 - el;
	/* The stored text has no NUL: hand out a terminated copy. */
	if ((text = malloc(r.or_receipt_len + 1)) == NULL)
		return SAKSI_ERR_NOMEM;
	memcpy(text, p + 13 + el, r.or_receipt_len);
	text[r.or_receipt_len] = '\0';
	r.or_receipt = text;
	cb->rfn(cb->arg, &r);
	free(text);
	return SAKSI_OK;
}

static saksi_err
each_dead(void *arg, uint64_t id, const MDB_val *v)
{
	struct cb *cb = arg;
	const uint8_t *p = v->mv_data;
	saksi_outbox_dead d;
	MDB_val rec;
	size_t ml;
	char msg[256];

	if (v->mv_size < 3)
		return SAKSI_ERR_CORRUPT;
	ml = saksi_get_u16(p + 1);
	if (ml >= sizeof(msg) || ml > v->mv_size - 3)
		return SAKSI_ERR_CORRUPT;
	memcpy(msg, p + 3, ml);
	msg[ml] = '\0';
	rec = val(p + 3 + ml, v->mv_size - 3 - ml);
	if (parse_rec(&rec, &d.od_env, &d.od_env_len, &d.od_sealed, &d.od_sealed_len) !=
	    SAKSI_OK)
		return SAKSI_ERR_CORRUPT;
	d.od_id = id;
	d.od_code = p[0];
	d.od_message = msg;
	cb->dfn(cb->arg, &d);
	return SAKSI_OK;
}

saksi_err
saksi_outbox_receipts(saksi_outbox *ob, saksi_outbox_receipt_fn fn, void *arg)
{
	struct cb cb = { fn, NULL, arg };

	if (ob == NULL || fn == NULL)
		return SAKSI_ERR_INVAL;
	return walk(ob, ob->o_db[DB_RCPT], each_receipt, &cb);
}

saksi_err
saksi_outbox_dead_list(saksi_outbox *ob, saksi_outbox_dead_fn fn, void *arg)
{
	struct cb cb = { NULL, fn, arg };

	if (ob == NULL || fn == NULL)
		return SAKSI_ERR_INVAL;
	return walk(ob, ob->o_db[DB_DEAD], each_dead, &cb);
}

static saksi_err
remove_id(saksi_outbox *ob, int db, uint64_t id)
{
	uint8_t idb[8];
	MDB_txn *t;
	MDB_val k;
	saksi_err e;
	int rc;

	if (ob == NULL)
		return SAKSI_ERR_INVAL;
	saksi_put_u64(idb, id);
	k = val(idb, 8);
	if ((e = begin(ob, 1, &t)) != SAKSI_OK)
		return e;
	if ((rc = mdb_del(t, ob->o_db[db], &k, NULL)) != 0) {
		mdb_txn_abort(t);
		return map_mdb(rc);
	}
	return commit(t);
}

saksi_err
saksi_outbox_receipt_remove(saksi_outbox *ob, uint64_t id)
{
	return remove_id(ob, DB_RCPT, id);
}

saksi_err
saksi_outbox_dead_remove(saksi_outbox *ob, uint64_t id)
{
	return remove_id(ob, DB_DEAD, id);
}
