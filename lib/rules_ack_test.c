/*
 * rules_ack_test.c: acknowledgement and re-raise state (RULES.md 5.3) on a real LMDB
 * environment in a mkdtemp() directory, with alerts raised by the real engine: tracking,
 * acks (double, unknown, in the group that raised it), re-raise selection at the timeout's
 * edge, escalation up to critical and the end of a chain, aborted transactions standing
 * for a crash, a reopened environment, the strict kind 4 leaf, and that kinds 1-3 and
 * their ids do not move when acks and re-raises happen in between.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "rules.h"
#include "verify.h"
#include "../tests/testutil.h"

#define T0 1700000000000ull      /* producer time of the events */
#define D0 1800000000000ull      /* daemon time of the first commit */
#define TMO 60000ull             /* the ack timeout used here */

/* r_low: every booking alerts (low); r_crit: every cancellation alerts (critical). */
#define RULES "saksi-rules 1\nlateness 1m\n" \
    "select book\n  match queue.booking.created\n" \
    "select cancel\n  match queue.booking.cancelled\n" \
    "rule r_low\n  type event_count\n  severity low\n  events book\n  group-by branch\n" \
    "  timespan 10s\n  condition gte 1\n  suppress 0s\n  reraise 1\n" \
    "rule r_crit\n  type event_count\n  severity critical\n  events cancel\n" \
    "  group-by branch\n  timespan 10s\n  condition gte 1\n  suppress 0s\n  reraise 1\n"

struct fx {
	char dir[64];
	MDB_env *env;
	saksi_rules *r;
	uint64_t next_index;
};

static void
env_open(struct fx *fx)
{
	MDB_txn *txn;

	assert_int_equal(mdb_env_create(&fx->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(fx->env, 4), 0);
	assert_int_equal(mdb_env_set_mapsize(fx->env, 64u << 20), 0);
	assert_int_equal(mdb_env_open(fx->env, fx->dir, MDB_NOTLS | MDB_NOSYNC, 0600), 0);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(saksi_rules_attach(fx->r, txn), SAKSI_OK);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[256];

	assert_non_null(fx);
	assert_int_equal(tmpdir_make(fx->dir, sizeof(fx->dir), "saksi-ack"), 0);
	assert_int_equal(saksi_rules_parse(RULES, strlen(RULES), "t.rules",
	    SAKSI_SOURCE_SCHEMA_DIR, &fx->r, err, sizeof(err)), SAKSI_OK);
	env_open(fx);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->env != NULL)
		mdb_env_close(fx->env);
	saksi_rules_free(fx->r);
	rm_rf(fx->dir);
	free(fx);
	return 0;
}

/* One event (a booking or a cancellation) in its own transaction; returns the alert it
 * raised. */
static uint64_t
feed(struct fx *fx, MDB_env *env, int cancel, uint64_t t)
{
	saksi_rule_field f[1] = { { "branch", "KC-MAKASSAR", 0 } };
	saksi_rule_event ev;
	saksi_rules_result res;
	MDB_txn *txn;

	memset(&ev, 0, sizeof(ev));
	ev.re_index = fx->next_index++;
	ev.re_type = cancel ? "queue.booking.cancelled" : "queue.booking.created";
	ev.re_time_ms = t;
	ev.re_branch = "KC-MAKASSAR";
	ev.re_fields = f;
	ev.re_nfields = 1;
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(saksi_rules_eval(fx->r, txn, &ev, &res), SAKSI_OK);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(res.rr_nalerts, 1);
	return res.rr_first_alert;
}

static MDB_txn *
wtxn(struct fx *fx)
{
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	return txn;
}

static void
commit(MDB_txn *txn)
{
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static saksi_err
track(struct fx *fx, uint64_t id, uint64_t leaf, uint64_t now)
{
	MDB_txn *txn = wtxn(fx);
	saksi_err e = saksi_rules_alert_track(fx->r, txn, id, leaf, now);

	if (e == SAKSI_OK)
		commit(txn);
	else
		mdb_txn_abort(txn);
	return e;
}

static saksi_err
ack(struct fx *fx, uint64_t id, uint64_t leaf, uint64_t now)
{
	MDB_txn *txn = wtxn(fx);
	saksi_err e = saksi_rules_alert_ack(fx->r, txn, id, leaf, now);

	if (e == SAKSI_OK)
		commit(txn);
	else
		mdb_txn_abort(txn);
	return e;
}

static saksi_alert_state
state_of(struct fx *fx, uint64_t id)
{
	saksi_alert_state s;
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(saksi_rules_alert_state(fx->r, txn, id, &s), SAKSI_OK);
	mdb_txn_abort(txn);
	return s;
}

/* The alert due at now, 0 if none. */
static uint64_t
due(struct fx *fx, uint64_t now)
{
	MDB_txn *txn;
	uint64_t id;
	saksi_err e;

	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	e = saksi_rules_reraise_due(fx->r, txn, now, TMO, &id);
	mdb_txn_abort(txn);
	if (e == SAKSI_ERR_NOT_FOUND) {
		assert_int_equal(id, 0);
		return 0;
	}
	assert_int_equal(e, SAKSI_OK);
	assert_int_not_equal(id, 0);
	return id;
}

static saksi_err
reraise(struct fx *fx, uint64_t id, uint64_t now, saksi_alert *out)
{
	MDB_txn *txn = wtxn(fx);
	saksi_err e = saksi_rules_reraise(fx->r, txn, id, now, out);

	if (e == SAKSI_OK)
		commit(txn);
	else
		mdb_txn_abort(txn);
	return e;
}

static uint64_t
reraise_last(struct fx *fx)
{
	MDB_txn *txn;
	uint64_t n;

	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(saksi_rules_reraise_last(fx->r, txn, &n), SAKSI_OK);
	mdb_txn_abort(txn);
	return n;
}

/* A re-raise is its original with kind, severity, extra, trigger and evidence changed;
 * its leaf body is strict and round-trips. */
static void
check_reraise(struct fx *fx, const saksi_alert *re, uint64_t id, uint64_t leaf, int sev,
              uint64_t nth)
{
	saksi_alert orig, back;
	uint8_t body[SAKSI_ALERT_LEAF_MAX];
	MDB_txn *txn;
	size_t len;
	char *js;

	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(saksi_rules_alert_get(fx->r, txn, id, &orig), SAKSI_OK);
	mdb_txn_abort(txn);
	assert_int_equal(re->al_id, id);
	assert_int_equal(re->al_kind, SAKSI_ALERT_RERAISE);
	assert_int_equal(re->al_severity, sev);
	assert_int_equal(re->al_extra, nth);
	assert_int_equal(re->al_trigger, leaf);
	assert_int_equal(re->al_nevidence, 1);
	assert_int_equal(re->al_evidence[0], leaf);
	assert_string_equal(re->al_rule, orig.al_rule);
	assert_string_equal(re->al_group, orig.al_group);
	assert_int_equal(re->al_first_ms, orig.al_first_ms);
	assert_int_equal(re->al_last_ms, orig.al_last_ms);
	assert_int_equal(re->al_value, orig.al_value);
	assert_int_equal(re->al_threshold, orig.al_threshold);
	assert_int_equal(re->al_total, orig.al_total);
	assert_int_equal(saksi_alert_leaf_encode(re, body, sizeof(body), &len), SAKSI_OK);
	assert_int_equal(saksi_alert_leaf_parse(body, len, &back), SAKSI_OK);
	assert_memory_equal(&back, re, sizeof(back));
	assert_int_equal(saksi_alert_json(re, &js), SAKSI_OK);
	assert_non_null(strstr(js, "\"kind\":\"reraise\""));
	free(js);
}

/* A low alert escalates each timeout: medium, high, critical, then its chain ends. */
static void
test_escalation(void **state)
{
	struct fx *fx = *state;
	saksi_alert re, got;
	saksi_alert_state s;
	MDB_txn *txn;
	uint64_t id, now = D0, mark;

	id = feed(fx, fx->env, 0, T0);
	assert_int_equal(id, 1);
	/* Raised, not yet in the ledger: open but untracked, never due. */
	s = state_of(fx, id);
	assert_false(s.as_tracked);
	assert_false(s.as_acked);
	assert_int_equal(due(fx, now + 10 * TMO), 0);
	assert_int_equal(reraise(fx, id, now + TMO, &re), SAKSI_ERR_RANGE);

	assert_int_equal(track(fx, id, 7, now), SAKSI_OK);
	assert_int_equal(track(fx, id, 7, now), SAKSI_ERR_EXISTS);
	s = state_of(fx, id);
	assert_true(s.as_tracked);
	assert_false(s.as_acked);
	assert_int_equal(s.as_raises, 0);
	assert_int_equal(s.as_severity, SAKSI_SEV_LOW);
	assert_int_equal(s.as_leaf, 7);
	assert_int_equal(s.as_raised_ms, now);

	/* Due at exactly the timeout, not a millisecond before. */
	assert_int_equal(due(fx, now + TMO - 1), 0);
	assert_int_equal(due(fx, now + TMO), id);
	assert_int_equal(due(fx, 5), 0);   /* a clock before the timeout itself */

	for (int n = 1; n <= 3; n++) {
		now += TMO + (uint64_t)n;   /* late ticks: the next timeout runs from here */
		assert_int_equal(due(fx, now), id);
		assert_int_equal(reraise(fx, id, now, &re), SAKSI_OK);
		check_reraise(fx, &re, id, 7, SAKSI_SEV_LOW + n, (uint64_t)n);
		assert_int_equal(reraise_last(fx), (uint64_t)n);
		s = state_of(fx, id);
		assert_int_equal(s.as_raises, n);
		assert_int_equal(s.as_raised_ms, now);
		assert_int_equal(due(fx, now + TMO - 1), 0);
	}
	/* Critical now: the chain has ended, nothing is due ever again. */
	assert_int_equal(due(fx, UINT64_MAX), 0);
	assert_int_equal(reraise(fx, id, now + 10 * TMO, &re), SAKSI_ERR_RANGE);
	assert_int_equal(reraise_last(fx), 3);
	/* It can still be acknowledged. */
	assert_int_equal(ack(fx, id, 40, now + 1), SAKSI_OK);
	assert_int_equal(ack(fx, id, 41, now + 2), SAKSI_ERR_EXISTS);

	/* The re-raise log, and its publisher's mark. */
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	for (uint64_t n = 1; n <= 3; n++) {
		assert_int_equal(saksi_rules_reraise_get(fx->r, txn, n, &got), SAKSI_OK);
		assert_int_equal(got.al_extra, n);
		assert_int_equal(got.al_severity, SAKSI_SEV_LOW + (int)n);
	}
	assert_int_equal(saksi_rules_reraise_get(fx->r, txn, 4, &got), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_rules_reraise_get(fx->r, txn, 0, &got), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_rules_reraise_published_get(fx->r, txn, &mark), SAKSI_OK);
	assert_int_equal(mark, 0);
	assert_int_equal(saksi_rules_reraise_published_set(fx->r, txn, 2), SAKSI_OK);
	assert_int_equal(saksi_rules_reraise_published_set(fx->r, txn, 1), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_rules_reraise_published_set(fx->r, txn, 4), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_rules_reraise_published_set(fx->r, txn, 3), SAKSI_OK);
	assert_int_equal(saksi_rules_reraise_published_get(fx->r, txn, &mark), SAKSI_OK);
	assert_int_equal(mark, 3);
	commit(txn);
}

/* A critical alert is raised again once, at critical. */
static void
test_critical_once(void **state)
{
	struct fx *fx = *state;
	saksi_alert re;
	uint64_t id;

	id = feed(fx, fx->env, 1, T0);
	assert_int_equal(track(fx, id, 3, D0), SAKSI_OK);
	assert_int_equal(reraise(fx, id, D0 + TMO, &re), SAKSI_OK);
	check_reraise(fx, &re, id, 3, SAKSI_SEV_CRITICAL, 1);
	assert_int_equal(due(fx, UINT64_MAX), 0);
	assert_int_equal(reraise(fx, id, D0 + 2 * TMO, &re), SAKSI_ERR_RANGE);
	assert_int_equal(state_of(fx, id).as_raises, 1);
}

/* Acks: open ones close, a second ack and an unknown id are refused and write nothing. */
static void
test_ack(void **state)
{
	struct fx *fx = *state;
	saksi_alert_state s, before;
	saksi_alert re;
	MDB_txn *txn;
	uint64_t a1, a2, a3;

	a1 = feed(fx, fx->env, 0, T0);
	a2 = feed(fx, fx->env, 0, T0 + 1);
	a3 = feed(fx, fx->env, 0, T0 + 2);
	assert_int_equal(track(fx, a1, 10, D0), SAKSI_OK);
	assert_int_equal(track(fx, a2, 11, D0 + 5), SAKSI_OK);
	assert_int_equal(track(fx, a3, 12, D0 + 5), SAKSI_OK);
	assert_int_equal(track(fx, 99, 13, D0), SAKSI_ERR_NOT_FOUND);

	/* The oldest raise first; ties by id. */
	assert_int_equal(due(fx, D0 + TMO), a1);
	assert_int_equal(ack(fx, a1, 20, D0 + 6), SAKSI_OK);
	s = state_of(fx, a1);
	assert_true(s.as_acked);
	assert_true(s.as_tracked);
	assert_int_equal(s.as_ack_leaf, 20);
	assert_int_equal(s.as_ack_ms, D0 + 6);
	assert_int_equal(due(fx, D0 + TMO), 0);
	assert_int_equal(due(fx, D0 + 5 + TMO), a2);
	assert_int_equal(reraise(fx, a1, D0 + 5 + TMO, &re), SAKSI_ERR_RANGE);

	/* Acknowledged once only; the refusal changes nothing. */
	assert_int_equal(ack(fx, a1, 21, D0 + 7), SAKSI_ERR_EXISTS);
	s = state_of(fx, a1);
	assert_int_equal(s.as_ack_leaf, 20);

	/* Unknown ids. */
	assert_int_equal(ack(fx, 0, 22, D0), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(ack(fx, a3 + 1, 22, D0), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(ack(fx, UINT64_MAX, 22, D0), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(saksi_rules_alert_state(fx->r, txn, a3 + 1, &s), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_rules_alert_state(fx->r, txn, 0, &s), SAKSI_ERR_NOT_FOUND);
	mdb_txn_abort(txn);

	/* An ack of a re-raised alert closes the chain too. */
	assert_int_equal(reraise(fx, a2, D0 + 5 + TMO, &re), SAKSI_OK);
	assert_int_equal(due(fx, UINT64_MAX), a3);
	before = state_of(fx, a2);
	assert_int_equal(ack(fx, a2, 30, D0 + 6 + TMO), SAKSI_OK);
	s = state_of(fx, a2);
	assert_true(s.as_acked);
	assert_int_equal(s.as_raises, before.as_raises);
	assert_int_equal(due(fx, UINT64_MAX), a3);
	assert_int_equal(ack(fx, a3, 31, D0 + 7 + TMO), SAKSI_OK);
	assert_int_equal(due(fx, UINT64_MAX), 0);
}

/* An alert acked in the very group that raised it (before its entry is appended) is
 * tracked closed: never due. */
static void
test_ack_before_track(void **state)
{
	struct fx *fx = *state;
	saksi_alert_state s;
	MDB_txn *txn;
	uint64_t id;

	id = feed(fx, fx->env, 0, T0);
	txn = wtxn(fx);
	assert_int_equal(saksi_rules_alert_ack(fx->r, txn, id, 5, D0), SAKSI_OK);
	assert_int_equal(saksi_rules_alert_ack(fx->r, txn, id, 5, D0), SAKSI_ERR_EXISTS);
	assert_int_equal(saksi_rules_alert_track(fx->r, txn, id, 6, D0), SAKSI_OK);
	assert_int_equal(saksi_rules_alert_track(fx->r, txn, id, 6, D0), SAKSI_ERR_EXISTS);
	commit(txn);
	s = state_of(fx, id);
	assert_true(s.as_tracked);
	assert_true(s.as_acked);
	assert_int_equal(s.as_leaf, 6);
	assert_int_equal(s.as_ack_leaf, 5);
	assert_int_equal(due(fx, UINT64_MAX), 0);
}

/* A crash is an aborted transaction: nothing of an ack or a re-raise stays, and the
 * alert is due again; committed state survives closing the environment. */
static void
test_crash(void **state)
{
	struct fx *fx = *state;
	saksi_alert re;
	saksi_alert_state s;
	MDB_txn *txn;
	uint64_t id, n;

	id = feed(fx, fx->env, 0, T0);
	assert_int_equal(track(fx, id, 2, D0), SAKSI_OK);

	txn = wtxn(fx);
	assert_int_equal(saksi_rules_reraise(fx->r, txn, id, D0 + TMO, &re), SAKSI_OK);
	mdb_txn_abort(txn);
	assert_int_equal(due(fx, D0 + TMO), id);
	assert_int_equal(reraise_last(fx), 0);
	assert_int_equal(state_of(fx, id).as_raises, 0);

	txn = wtxn(fx);
	assert_int_equal(saksi_rules_alert_ack(fx->r, txn, id, 9, D0 + 1), SAKSI_OK);
	mdb_txn_abort(txn);
	assert_false(state_of(fx, id).as_acked);
	assert_int_equal(due(fx, D0 + TMO), id);

	/* Committed, then the environment closes and opens again (a restart). */
	assert_int_equal(reraise(fx, id, D0 + TMO, &re), SAKSI_OK);
	mdb_env_close(fx->env);
	fx->env = NULL;
	env_open(fx);
	assert_int_equal(reraise_last(fx), 1);
	s = state_of(fx, id);
	assert_int_equal(s.as_raises, 1);
	assert_int_equal(s.as_severity, SAKSI_SEV_MEDIUM);
	assert_int_equal(due(fx, D0 + 2 * TMO - 1), 0);
	assert_int_equal(due(fx, D0 + 2 * TMO), id);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(saksi_rules_reraise_last(fx->r, txn, &n), SAKSI_OK);
	mdb_txn_abort(txn);
	assert_int_equal(n, 1);
}

/* Kinds 1-3 and their ids depend on the events alone: the same events into a second,
 * empty state, without acks or re-raises, raise byte-identical alerts. */
static void
test_independent(void **state)
{
	struct fx *fx = *state, *fx2;
	saksi_alert re, a, b;
	MDB_txn *t1, *t2;
	uint64_t now = D0, last1, last2;

	assert_int_equal(setup((void **)&fx2), 0);
	for (int i = 0; i < 12; i++) {
		uint64_t id = feed(fx, fx->env, i % 3 == 0, T0 + (uint64_t)i * 100);

		assert_int_equal(track(fx, id, (uint64_t)i, now), SAKSI_OK);
		if (i % 4 == 1)
			assert_int_equal(ack(fx, id, 1000 + (uint64_t)i, now), SAKSI_OK);
		now += TMO;
		for (uint64_t d; (d = due(fx, now)) != 0;)
			assert_int_equal(reraise(fx, d, now, &re), SAKSI_OK);
		feed(fx2, fx2->env, i % 3 == 0, T0 + (uint64_t)i * 100);
	}
	assert_true(reraise_last(fx) > 0);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &t1), 0);
	assert_int_equal(mdb_txn_begin(fx2->env, NULL, MDB_RDONLY, &t2), 0);
	assert_int_equal(saksi_rules_alert_last(fx->r, t1, &last1), SAKSI_OK);
	assert_int_equal(saksi_rules_alert_last(fx2->r, t2, &last2), SAKSI_OK);
	assert_int_equal(last1, 12);
	assert_int_equal(last2, 12);
	for (uint64_t id = 1; id <= 12; id++) {
		assert_int_equal(saksi_rules_alert_get(fx->r, t1, id, &a), SAKSI_OK);
		assert_int_equal(saksi_rules_alert_get(fx2->r, t2, id, &b), SAKSI_OK);
		assert_memory_equal(&a, &b, sizeof(a));
		assert_true(a.al_kind >= SAKSI_ALERT_RULE && a.al_kind <= SAKSI_ALERT_LATE);
	}
	mdb_txn_abort(t1);
	mdb_txn_abort(t2);
	teardown((void **)&fx2);
}

static void
test_leaf_strict(void **state)
{
	saksi_alert a, back;
	uint8_t body[SAKSI_ALERT_LEAF_MAX];
	size_t len;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.al_id = 4;
	a.al_kind = SAKSI_ALERT_RERAISE;
	a.al_severity = SAKSI_SEV_HIGH;
	strcpy(a.al_rule, "r_low");
	strcpy(a.al_group, "branch=KC-MAKASSAR");
	a.al_extra = 2;
	a.al_trigger = 17;
	a.al_evidence[0] = 17;
	a.al_nevidence = 1;
	assert_int_equal(saksi_alert_leaf_encode(&a, body, sizeof(body), &len), SAKSI_OK);
	assert_int_equal(saksi_alert_leaf_parse(body, len, &back), SAKSI_OK);
	assert_int_equal(back.al_kind, SAKSI_ALERT_RERAISE);

	/* Each broken in turn: the encoder refuses, and so does the parser on the bytes. */
	for (int k = 0; k < 7; k++) {
		saksi_alert b = a;
		uint8_t *p;

		switch (k) {
		case 0: b.al_nevidence = 0; break;
		case 1: b.al_evidence[1] = 18; b.al_nevidence = 2; break;
		case 2: b.al_trigger = 16; break;
		case 3: b.al_extra = 0; break;
		case 4: b.al_extra = SAKSI_RERAISE_MAX + 1; break;
		case 5: b.al_severity = SAKSI_SEV_LOW; break;
		case 6: b.al_kind = SAKSI_ALERT_REFUSALS + 1; break;
		}
		assert_int_equal(saksi_alert_leaf_encode(&b, body, sizeof(body), &len),
		    SAKSI_ERR_INVAL);
		/* The same defect in valid bytes: patch the encoded good one. */
		assert_int_equal(saksi_alert_leaf_encode(&a, body, sizeof(body), &len), SAKSI_OK);
		p = body + 8 + 3 + strlen(a.al_rule) + 2 + strlen(a.al_group);
		switch (k) {
		case 0: p[52] = 0; len -= 8; break;
		case 1: continue;   /* two leaf indices: only the encoder's case */
		case 2: p[47] = 16; break;
		case 3: p[39] = 0; break;
		case 4: p[39] = SAKSI_RERAISE_MAX + 1; break;
		case 5: body[9] = SAKSI_SEV_LOW; break;
		case 6: body[8] = SAKSI_ALERT_REFUSALS + 1; break;
		}
		assert_int_equal(saksi_alert_leaf_parse(body, len, &back), SAKSI_ERR_FORMAT);
	}
}

static void
test_inval(void **state)
{
	struct fx *fx = *state;
	saksi_alert_state s;
	saksi_alert a;
	saksi_rules *unbound = NULL;
	MDB_txn *txn;
	uint64_t n;
	char err[128];

	assert_int_equal(saksi_rules_parse(RULES, strlen(RULES), "t.rules", NULL, &unbound,
	    err, sizeof(err)), SAKSI_OK);
	txn = wtxn(fx);
	assert_int_equal(saksi_rules_alert_track(NULL, txn, 1, 0, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_alert_track(fx->r, NULL, 1, 0, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_alert_track(unbound, txn, 1, 0, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_alert_state(fx->r, txn, 1, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_alert_state(unbound, txn, 1, &s), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_alert_ack(NULL, txn, 1, 0, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_reraise_due(fx->r, txn, 1, 0, &n), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_reraise_due(fx->r, txn, 1, 1, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_reraise(fx->r, txn, 1, 0, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_reraise(unbound, txn, 1, 0, &a), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_reraise_last(fx->r, txn, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_reraise_get(fx->r, NULL, 1, &a), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_reraise_published_get(unbound, txn, &n), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_reraise_published_set(unbound, txn, 0), SAKSI_ERR_INVAL);
	/* Nothing re-raised yet: the mark stays at 0 and cannot pass it. */
	assert_int_equal(saksi_rules_reraise_published_set(fx->r, txn, 0), SAKSI_OK);
	assert_int_equal(saksi_rules_reraise_published_set(fx->r, txn, 1), SAKSI_ERR_RANGE);
	mdb_txn_abort(txn);
	saksi_rules_free(unbound);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_escalation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_critical_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_before_track, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_independent, setup, teardown),
		cmocka_unit_test(test_leaf_strict),
		cmocka_unit_test_setup_teardown(test_inval, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
