/*
 * rules_ack.c: acknowledgement and re-raise state of alerts (RULES.md 5.3), kept in the
 * rules database and written in the caller's transaction, so that an ack or a re-raise
 * commits with its ledger entry or not at all. It must never feed back into
 * saksi_rules_eval: kinds 1-3 and their ids depend on the events alone.
 */
#include <errno.h>
#include <string.h>

#include "bytes.h"
#include "rules_impl.h"
#include "verify.h"

/* Key prefixes (RULES.md 4.1), apart from the engine's. */
#define K_QMETA 'Q'               /* re-raise log meta */
#define K_STATE 'T'               /* T id (8): an alert's ack/re-raise state */
#define K_OPEN 'O'                /* O raised_ms (8) id (8): open tracked alerts */
#define K_RERAISE 'E'             /* E n (8): a re-raise, as its leaf body */
#define K_ALOG 'A'                /* the engine's alert log, read only here */

#define ACK_VERSION 1
#define QMETA_LEN 17
#define STATE_LEN 36
#define ST_TRACKED 0x01
#define ST_ACKED 0x02

struct qmeta {
	uint64_t q_last;
	uint64_t q_published;
};

static void
key_id(uint8_t k[9], char pfx, uint64_t id)
{
	k[0] = (uint8_t)pfx;
	saksi_put_u64(k + 1, id);
}

static void
key_open(uint8_t k[17], uint64_t ms, uint64_t id)
{
	k[0] = K_OPEN;
	saksi_put_u64(k + 1, ms);
	saksi_put_u64(k + 9, id);
}

static saksi_err
qmeta_load(MDB_txn *txn, MDB_dbi dbi, struct qmeta *q)
{
	uint8_t k = K_QMETA;
	const uint8_t *p;
	MDB_val v;
	saksi_err e;

	memset(q, 0, sizeof(*q));
	if ((e = db_get(txn, dbi, &k, 1, &v)) != SAKSI_OK)
		return e == SAKSI_ERR_NOT_FOUND ? SAKSI_OK : e;   /* nothing re-raised yet */
	p = v.mv_data;
	if (v.mv_size < 1)
		return SAKSI_ERR_CORRUPT;
	if (p[0] != ACK_VERSION)
		return SAKSI_ERR_VERSION;
	if (v.mv_size != QMETA_LEN)
		return SAKSI_ERR_CORRUPT;
	q->q_last = saksi_get_u64(p + 1);
	q->q_published = saksi_get_u64(p + 9);
	if (q->q_published > q->q_last)
		return SAKSI_ERR_CORRUPT;
	return SAKSI_OK;
}

static saksi_err
qmeta_save(MDB_txn *txn, MDB_dbi dbi, const struct qmeta *q)
{
	uint8_t k = K_QMETA, b[QMETA_LEN];

	b[0] = ACK_VERSION;
	saksi_put_u64(b + 1, q->q_last);
	saksi_put_u64(b + 9, q->q_published);
	return db_put(txn, dbi, &k, 1, b, sizeof(b));
}

/* The T record of id; SAKSI_ERR_NOT_FOUND if there is none. */
static saksi_err
state_load(MDB_txn *txn, MDB_dbi dbi, uint64_t id, saksi_alert_state *s)
{
	uint8_t k[9];
	const uint8_t *p;
	MDB_val v;
	saksi_err e;

	memset(s, 0, sizeof(*s));
	key_id(k, K_STATE, id);
	if ((e = db_get(txn, dbi, k, sizeof(k), &v)) != SAKSI_OK)
		return e;
	p = v.mv_data;
	if (v.mv_size < 1)
		return SAKSI_ERR_CORRUPT;
	if (p[0] != ACK_VERSION)
		return SAKSI_ERR_VERSION;
	if (v.mv_size != STATE_LEN || (p[1] & ~(ST_TRACKED | ST_ACKED)) != 0 ||
	    p[2] > SAKSI_RERAISE_MAX ||
	    ((p[1] & ST_TRACKED) && (p[3] < SAKSI_SEV_LOW || p[3] > SAKSI_SEV_CRITICAL)))
		return SAKSI_ERR_CORRUPT;
	s->as_tracked = (p[1] & ST_TRACKED) != 0;
	s->as_acked = (p[1] & ST_ACKED) != 0;
	s->as_raises = p[2];
	s->as_severity = p[3];
	s->as_leaf = saksi_get_u64(p + 4);
	s->as_raised_ms = saksi_get_u64(p + 12);
	s->as_ack_leaf = saksi_get_u64(p + 20);
	s->as_ack_ms = saksi_get_u64(p + 28);
	return SAKSI_OK;
}

static saksi_err
state_save(MDB_txn *txn, MDB_dbi dbi, uint64_t id, const saksi_alert_state *s)
{
	uint8_t k[9], b[STATE_LEN];

	key_id(k, K_STATE, id);
	b[0] = ACK_VERSION;
	b[1] = (uint8_t)((s->as_tracked ? ST_TRACKED : 0) | (s->as_acked ? ST_ACKED : 0));
	b[2] = (uint8_t)s->as_raises;
	b[3] = (uint8_t)s->as_severity;
	saksi_put_u64(b + 4, s->as_leaf);
	saksi_put_u64(b + 12, s->as_raised_ms);
	saksi_put_u64(b + 20, s->as_ack_leaf);
	saksi_put_u64(b + 28, s->as_ack_ms);
	return db_put(txn, dbi, k, sizeof(k), b, sizeof(b));
}

/* Whether the alert log holds id: SAKSI_OK or SAKSI_ERR_NOT_FOUND. */
static saksi_err
alert_exists(MDB_txn *txn, MDB_dbi dbi, uint64_t id)
{
	uint8_t k[9];
	MDB_val v;

	key_id(k, K_ALOG, id);
	return db_get(txn, dbi, k, sizeof(k), &v);
}

/* A tracked open alert is re-raised again after this one only below critical. */
static int
chain_goes_on(const saksi_alert_state *s)
{
	return s->as_tracked && !s->as_acked && s->as_raises < SAKSI_RERAISE_MAX &&
	    (s->as_raises == 0 || s->as_severity < SAKSI_SEV_CRITICAL);
}

saksi_err
saksi_rules_alert_track(const saksi_rules *r, MDB_txn *wtxn, uint64_t id, uint64_t leaf,
                        uint64_t now_ms)
{
	saksi_alert a;
	saksi_alert_state s;
	uint8_t k[17];
	saksi_err e;

	if (r == NULL || wtxn == NULL || !r->rs_attached)
		return SAKSI_ERR_INVAL;
	e = state_load(wtxn, r->rs_dbi, id, &s);
	if (e == SAKSI_OK && (s.as_tracked || !s.as_acked))
		return SAKSI_ERR_EXISTS;
	if (e != SAKSI_OK && e != SAKSI_ERR_NOT_FOUND)
		return e;
	if ((e = saksi_rules_alert_get(r, wtxn, id, &a)) != SAKSI_OK)
		return e;
	if (s.as_acked) {
		/* Acked in the very group that raised it, before its entry was appended: it
		 * is tracked, and closed. */
		s.as_tracked = 1;
		s.as_severity = a.al_severity;
		s.as_leaf = leaf;
		s.as_raised_ms = now_ms;
		return state_save(wtxn, r->rs_dbi, id, &s);
	}
	memset(&s, 0, sizeof(s));
	s.as_tracked = 1;
	s.as_severity = a.al_severity;
	s.as_leaf = leaf;
	s.as_raised_ms = now_ms;
	if ((e = state_save(wtxn, r->rs_dbi, id, &s)) != SAKSI_OK)
		return e;
	key_open(k, now_ms, id);
	return db_put(wtxn, r->rs_dbi, k, sizeof(k), "", 0);
}

saksi_err
saksi_rules_alert_state(const saksi_rules *r, MDB_txn *txn, uint64_t id,
                        saksi_alert_state *out)
{
	saksi_err e;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (r == NULL || txn == NULL || out == NULL || !r->rs_attached)
		return SAKSI_ERR_INVAL;
	if (id == 0)
		return SAKSI_ERR_NOT_FOUND;
	e = state_load(txn, r->rs_dbi, id, out);
	if (e == SAKSI_ERR_NOT_FOUND)
		e = alert_exists(txn, r->rs_dbi, id);   /* untracked: open */
	return e;
}

saksi_err
saksi_rules_alert_ack(const saksi_rules *r, MDB_txn *wtxn, uint64_t id, uint64_t ack_leaf,
                      uint64_t now_ms)
{
	saksi_alert_state s;
	uint8_t k[17];
	int was_open;
	saksi_err e;

	if ((e = saksi_rules_alert_state(r, wtxn, id, &s)) != SAKSI_OK)
		return e;
	if (s.as_acked)
		return SAKSI_ERR_EXISTS;
	was_open = chain_goes_on(&s);
	s.as_acked = 1;
	s.as_ack_leaf = ack_leaf;
	s.as_ack_ms = now_ms;
	if (was_open) {
		key_open(k, s.as_raised_ms, id);
		e = db_del(wtxn, r->rs_dbi, k, sizeof(k));
		if (e == SAKSI_ERR_NOT_FOUND)
			return SAKSI_ERR_CORRUPT;   /* an open chain always has its O key */
		if (e != SAKSI_OK)
			return e;
	}
	return state_save(wtxn, r->rs_dbi, id, &s);
}

saksi_err
saksi_rules_reraise_due(const saksi_rules *r, MDB_txn *txn, uint64_t now_ms,
                        uint64_t timeout_ms, uint64_t *id)
{
	MDB_cursor *cur;
	uint8_t pfx = K_OPEN;
	MDB_val k = { 1, &pfx }, v;
	const uint8_t *p;
	int rc;

	if (id != NULL)
		*id = 0;
	if (r == NULL || txn == NULL || id == NULL || timeout_ms == 0 || !r->rs_attached)
		return SAKSI_ERR_INVAL;
	if ((rc = mdb_cursor_open(txn, r->rs_dbi, &cur)) != 0)
		return mdb_err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0) {
		p = k.mv_data;
		if (k.mv_size < 1 || p[0] != K_OPEN)
			rc = MDB_NOTFOUND;
		else if (k.mv_size != 17) {
			mdb_cursor_close(cur);
			return SAKSI_ERR_CORRUPT;
		} else if (timeout_ms > now_ms ||
		    saksi_get_u64(p + 1) > now_ms - timeout_ms)
			rc = MDB_NOTFOUND;   /* the oldest is not due, so none is */
		else
			*id = saksi_get_u64(p + 9);
	}
	mdb_cursor_close(cur);
	return mdb_err(rc);
}

saksi_err
saksi_rules_reraise(const saksi_rules *r, MDB_txn *wtxn, uint64_t id, uint64_t now_ms,
                    saksi_alert *out)
{
	uint8_t k[17], body[1 + SAKSI_ALERT_LEAF_MAX];
	saksi_alert_state s;
	struct qmeta q;
	size_t blen;
	saksi_err e;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (out == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = saksi_rules_alert_state(r, wtxn, id, &s)) != SAKSI_OK)
		return e;
	if (!chain_goes_on(&s))
		return SAKSI_ERR_RANGE;
	if ((e = saksi_rules_alert_get(r, wtxn, id, out)) != SAKSI_OK ||
	    (e = qmeta_load(wtxn, r->rs_dbi, &q)) != SAKSI_OK)
		return e;
	key_open(k, s.as_raised_ms, id);
	e = db_del(wtxn, r->rs_dbi, k, sizeof(k));
	if (e == SAKSI_ERR_NOT_FOUND)
		return SAKSI_ERR_CORRUPT;
	if (e != SAKSI_OK)
		return e;
	s.as_raises++;
	if (s.as_severity < SAKSI_SEV_CRITICAL)
		s.as_severity++;
	s.as_raised_ms = now_ms;

	out->al_kind = SAKSI_ALERT_RERAISE;
	out->al_severity = s.as_severity;
	out->al_extra = s.as_raises;
	out->al_trigger = s.as_leaf;
	out->al_evidence[0] = s.as_leaf;
	out->al_nevidence = 1;

	body[0] = ACK_VERSION;
	if ((e = saksi_alert_leaf_encode(out, body + 1, sizeof(body) - 1, &blen)) != SAKSI_OK)
		return e == SAKSI_ERR_INVAL ? SAKSI_ERR_CORRUPT : e;
	q.q_last++;
	key_id(k, K_RERAISE, q.q_last);
	if ((e = db_put(wtxn, r->rs_dbi, k, 9, body, blen + 1)) != SAKSI_OK ||
	    (e = qmeta_save(wtxn, r->rs_dbi, &q)) != SAKSI_OK ||
	    (e = state_save(wtxn, r->rs_dbi, id, &s)) != SAKSI_OK)
		return e;
	if (chain_goes_on(&s)) {
		key_open(k, now_ms, id);
		return db_put(wtxn, r->rs_dbi, k, sizeof(k), "", 0);
	}
	return SAKSI_OK;
}

/* The argument checks and the queue's record of the getters below; *out is zeroed
 * first. */
static saksi_err
qmeta_read(const saksi_rules *r, MDB_txn *txn, uint64_t *out, struct qmeta *q)
{
	if (out != NULL)
		*out = 0;
	if (r == NULL || txn == NULL || out == NULL || !r->rs_attached)
		return SAKSI_ERR_INVAL;
	return qmeta_load(txn, r->rs_dbi, q);
}

saksi_err
saksi_rules_reraise_last(const saksi_rules *r, MDB_txn *txn, uint64_t *n)
{
	struct qmeta q;
	saksi_err e = qmeta_read(r, txn, n, &q);

	if (e == SAKSI_OK)
		*n = q.q_last;
	return e;
}

saksi_err
saksi_rules_reraise_get(const saksi_rules *r, MDB_txn *txn, uint64_t n, saksi_alert *out)
{
	uint8_t k[9];
	const uint8_t *p;
	MDB_val v;
	saksi_err e;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (r == NULL || txn == NULL || out == NULL || !r->rs_attached)
		return SAKSI_ERR_INVAL;
	key_id(k, K_RERAISE, n);
	if ((e = db_get(txn, r->rs_dbi, k, sizeof(k), &v)) != SAKSI_OK)
		return e;
	p = v.mv_data;
	if (v.mv_size < 1)
		return SAKSI_ERR_CORRUPT;
	if (p[0] != ACK_VERSION)
		return SAKSI_ERR_VERSION;
	if (saksi_alert_leaf_parse(p + 1, v.mv_size - 1, out) != SAKSI_OK ||
	    out->al_kind != SAKSI_ALERT_RERAISE)
		return SAKSI_ERR_CORRUPT;
	return SAKSI_OK;
}

saksi_err
saksi_rules_reraise_published_get(const saksi_rules *r, MDB_txn *txn, uint64_t *n)
{
	struct qmeta q;
	saksi_err e = qmeta_read(r, txn, n, &q);

	if (e == SAKSI_OK)
		*n = q.q_published;
	return e;
}

saksi_err
saksi_rules_reraise_published_set(const saksi_rules *r, MDB_txn *wtxn, uint64_t n)
{
	struct qmeta q;
	saksi_err e;

	if (r == NULL || wtxn == NULL || !r->rs_attached)
		return SAKSI_ERR_INVAL;
	if ((e = qmeta_load(wtxn, r->rs_dbi, &q)) != SAKSI_OK)
		return e;
	if (n < q.q_published || n > q.q_last)
		return SAKSI_ERR_RANGE;
	q.q_published = n;
	return qmeta_save(wtxn, r->rs_dbi, &q);
}
