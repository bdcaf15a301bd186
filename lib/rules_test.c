/*
 * rules_test.c: the rules file (the default set loads against the real schemas; bad
 * files are refused naming the line) and the engine on a real LMDB environment in a
 * mkdtemp() directory: every rule type's windows at their edges, out-of-order and late
 * events, expiry, suppression and re-raise, caps, joins, closing and reopening the
 * environment, aborted transactions, and replay of a seeded random stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <lmdb.h>
#include <sodium.h>

#include "blind.h"
#include "bytes.h"
#include "rules.h"
#ifdef RULES_TEST_MEMORY
#include "rules_impl.h"       /* the memory map itself (rules_mem.c) */
#endif
#include "../tests/testutil.h"

#define HDR "saksi-rules 1\nlateness 1m\n"
#define MIN 60000ull
#define HOUR 3600000ull
#define DAY 86400000ull
#define T0 1700000000000ull      /* a producer time in 2023 */

/* An event as committed, kept so that a restart in memory mode can evaluate the tail
 * again (RULES.md 4.4), as saksid does from the ledger. */
struct logged {
	char *l_type;
	uint64_t l_time;
	char *l_branch;
	saksi_rule_field *l_f;
	size_t l_n;
};

struct fx {
	char dir[64];
	MDB_env *env;
	saksi_rules *r;
	uint64_t next_index;
	struct logged *log;       /* by leaf index */
	size_t nlog;
	int lmdb_only;            /* memory build: this use_rules in LMDB mode */
	uint64_t tail_max;        /* longest tail evaluated again */
};

static void
log_clear(struct fx *fx)
{
	size_t i, j;

	for (i = 0; i < fx->nlog; i++) {
		free(fx->log[i].l_type);
		free(fx->log[i].l_branch);
		for (j = 0; j < fx->log[i].l_n; j++) {
			free((char *)fx->log[i].l_f[j].rf_name);
			free((char *)fx->log[i].l_f[j].rf_value);
		}
		free(fx->log[i].l_f);
	}
	free(fx->log);
	fx->log = NULL;
	fx->nlog = 0;
}

static void
log_event(struct fx *fx, const saksi_rule_event *ev)
{
	struct logged *l;
	size_t j;

	assert_int_equal(ev->re_index, fx->nlog);
	assert_non_null(fx->log = realloc(fx->log, (fx->nlog + 1) * sizeof(*fx->log)));
	l = &fx->log[fx->nlog++];
	assert_non_null(l->l_type = strdup(ev->re_type));
	assert_non_null(l->l_branch = strdup(ev->re_branch));
	l->l_time = ev->re_time_ms;
	l->l_n = ev->re_nfields;
	assert_non_null(l->l_f = calloc(ev->re_nfields + 1, sizeof(*l->l_f)));
	for (j = 0; j < ev->re_nfields; j++) {
		assert_non_null(l->l_f[j].rf_name = strdup(ev->re_fields[j].rf_name));
		assert_non_null(l->l_f[j].rf_value = strdup(ev->re_fields[j].rf_value));
		l->l_f[j].rf_personal = ev->re_fields[j].rf_personal;
	}
}

static void
env_open(struct fx *fx)
{
	assert_int_equal(mdb_env_create(&fx->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(fx->env, 4), 0);
	assert_int_equal(mdb_env_set_mapsize(fx->env, 256u << 20), 0);
	/* NOSYNC: durability across power loss is LMDB's business, not this test's. */
	assert_int_equal(mdb_env_open(fx->env, fx->dir, MDB_NOTLS | MDB_NOSYNC, 0600), 0);
}

static void
env_close(struct fx *fx)
{
	mdb_env_close(fx->env);
	fx->env = NULL;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(tmpdir_make(fx->dir, sizeof(fx->dir), "saksi-rules"), 0);
	env_open(fx);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	saksi_rules_free(fx->r);
	if (fx->env != NULL)
		env_close(fx);
	rm_rf(fx->dir);
	log_clear(fx);
	free(fx);
	return 0;
}

static saksi_rules *
parse_ok(const char *text)
{
	saksi_rules *r = NULL;
	char err[512];
	saksi_err e = saksi_rules_parse(text, strlen(text), "t.rules", SAKSI_SOURCE_SCHEMA_DIR,
	    &r, err, sizeof(err));

	if (e != SAKSI_OK)
		fail_msg("parse: %s (%s)", err, saksi_strerror(e));
	return r;
}

/*
 * Memory mode (RULES.md 4.4), in the build of rules_mem_test.c: the events committed
 * after the snapshot are evaluated again, in order, from the fixture's log, as saksid
 * does from the ledger; the alerts they raise must be those of the log.
 */
static void
resume(struct fx *fx, saksi_rules *r)
{
#ifdef RULES_TEST_MEMORY
	uint64_t from = 0, to = 0, i;
	MDB_txn *txn;

	if (fx->lmdb_only)
		return;
	assert_int_equal(saksi_rules_resume_range(r, &from, &to), SAKSI_OK);
	assert_true(from <= to && to <= fx->nlog);
	/* Bounded: never more than the snapshot interval. */
	assert_true(to - from <= RULES_TEST_MEMORY);
	if (to - from > fx->tail_max)
		fx->tail_max = to - from;
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	for (i = from; i < to; i++) {
		const struct logged *l = &fx->log[i];
		saksi_rule_event ev = { i, l->l_type, l->l_time, l->l_branch, l->l_f, l->l_n };
		saksi_rules_result res;

		assert_int_equal(saksi_rules_eval(r, txn, &ev, &res), SAKSI_OK);
		assert_int_equal(res.rr_nalerts, 0);
	}
	assert_int_equal(saksi_rules_resume_check(r, txn), SAKSI_OK);
	assert_int_equal(mdb_txn_commit(txn), 0);
#else
	(void)fx;
	(void)r;
#endif
}

static void
attach(struct fx *fx, saksi_rules *r)
{
	MDB_txn *txn;

#ifdef RULES_TEST_MEMORY
	if (!fx->lmdb_only)
		assert_int_equal(saksi_rules_memory(r, RULES_TEST_MEMORY, 0), SAKSI_OK);
#endif
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(saksi_rules_attach(r, txn), SAKSI_OK);
	assert_int_equal(mdb_txn_commit(txn), 0);
	resume(fx, r);
}

/* Memory mode: the rules in use write all they hold before they are replaced, as
 * saksid does at a reload (RULES.md 4.4). */
static void
drop_rules(struct fx *fx)
{
#ifdef RULES_TEST_MEMORY
	MDB_txn *txn;

	saksi_rules_mem_stats ms;

	if (fx->r != NULL && saksi_rules_memory_stats(fx->r, &ms) == SAKSI_OK) {
		int written = 0;

		assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
		assert_int_equal(saksi_rules_snapshot(fx->r, txn, 0, 1, &written), SAKSI_OK);
		assert_int_equal(written, 1);
		assert_int_equal(mdb_txn_commit(txn), 0);
	}
#endif
	saksi_rules_free(fx->r);
	fx->r = NULL;
}

/* Loads text as the fixture's rule set (replacing any) and attaches it. */
static void
use_rules(struct fx *fx, const char *text)
{
	drop_rules(fx);
	fx->r = parse_ok(text);
	attach(fx, fx->r);
}

/* A stand-in for a blind token: any 43-character base64url digest will do here, as
 * the engine only compares them; blind_test.c tests the real ones. */
static const char *
tok(const char *clear, char buf[SAKSI_BLIND_TOKEN_LEN + 1])
{
	uint8_t h[32];

	crypto_generichash(h, sizeof(h), (const uint8_t *)clear, strlen(clear), NULL, 0);
	sodium_bin2base64(buf, SAKSI_BLIND_TOKEN_LEN + 1, h, sizeof(h),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return buf;
}

/*
 * Evaluates one event in its own committed write transaction. Varargs: name, value
 * pairs, NULL-terminated; a personal field's value is turned into a token. The leaf
 * index is the next one of the fixture.
 */
static saksi_err
vfeed(struct fx *fx, const char *type, uint64_t t, saksi_rules_result *res, va_list ap)
{
	saksi_rule_field f[24];
	char toks[24][SAKSI_BLIND_TOKEN_LEN + 1];
	saksi_rule_event ev;
	const char *name, *branch = "KC-MAKASSAR";
	size_t n = 0;
	MDB_txn *txn;
	saksi_err e;

	while ((name = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);

		assert_true(n < 24);
		f[n].rf_name = name;
		f[n].rf_personal = saksi_blind_field_personal(name);
		f[n].rf_value = f[n].rf_personal ? tok(v, toks[n]) : v;
		if (strcmp(name, "branch") == 0)
			branch = v;
		n++;
	}
	memset(&ev, 0, sizeof(ev));
	ev.re_index = fx->next_index;
	ev.re_type = type;
	ev.re_time_ms = t;
	ev.re_branch = branch;
	ev.re_fields = f;
	ev.re_nfields = n;
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	/* Every other event as saksid gives it: checked apart, then evaluated unchecked;
	 * the tests' alerts and the seeded replay's must not tell the two apart. */
	if (ev.re_index % 2 == 1 && saksi_rules_event_check(&ev) == SAKSI_OK)
		e = saksi_rules_eval_checked(fx->r, txn, &ev, res);
	else
		e = saksi_rules_eval(fx->r, txn, &ev, res);
	if (e == SAKSI_OK) {
		assert_int_equal(mdb_txn_commit(txn), 0);
		log_event(fx, &ev);
		fx->next_index++;
	} else
		mdb_txn_abort(txn);
	return e;
}

/* Feeds an event that must evaluate; returns the number of alerts it raised. */
static uint64_t
feed(struct fx *fx, const char *type, uint64_t t, ...)
{
	saksi_rules_result res;
	va_list ap;

	va_start(ap, t);
	assert_int_equal(vfeed(fx, type, t, &res, ap), SAKSI_OK);
	va_end(ap);
	return res.rr_nalerts;
}

static saksi_rules_result
feed_res(struct fx *fx, const char *type, uint64_t t, ...)
{
	saksi_rules_result res;
	va_list ap;

	va_start(ap, t);
	assert_int_equal(vfeed(fx, type, t, &res, ap), SAKSI_OK);
	va_end(ap);
	return res;
}

static saksi_err
feed_res_err(struct fx *fx, const char *type, uint64_t t, ...)
{
	saksi_rules_result res;
	va_list ap;
	saksi_err e;

	va_start(ap, t);
	e = vfeed(fx, type, t, &res, ap);
	va_end(ap);
	return e;
}

static void
get_alert(struct fx *fx, uint64_t id, saksi_alert *a)
{
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(saksi_rules_alert_get(fx->r, txn, id, a), SAKSI_OK);
	mdb_txn_abort(txn);
}

static uint64_t
last_alert(struct fx *fx)
{
	MDB_txn *txn;
	uint64_t id;

	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(saksi_rules_alert_last(fx->r, txn, &id), SAKSI_OK);
	mdb_txn_abort(txn);
	return id;
}

static saksi_rule_stats
stats(struct fx *fx, const char *id)
{
	saksi_rule_stats s;
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(saksi_rules_stats(fx->r, txn, id, &s), SAKSI_OK);
	mdb_txn_abort(txn);
	return s;
}

/* ---- the rules file ---- */

static void
test_default_rules_load(void **state)
{
	saksi_rules *r = NULL;
	char err[512];
	size_t i;
	static const char *const want[] = { "device_many_nik_fast", "phone_many_nik",
	    "email_many_nik", "account_many_claimants", "slot_rebooked_other_nik",
	    "opening_bookings_one_device", "queue_out_of_order", "counter_claims_without_booking",
	    "jht_daily_cap", "quota_raised_without_approver", "officer_shared_device",
	    "officer_shared_account", "nik_fails_then_matches", "noshow_one_device",
	    "eligibility_probe_device", "eligibility_refused_one_ip" };

	(void)state;
	assert_int_equal(saksi_rules_load(SAKSI_SOURCE_DIR "/schemas/rules/default.rules",
	    SAKSI_SOURCE_SCHEMA_DIR, &r, err, sizeof(err)), SAKSI_OK);
	assert_int_equal(saksi_rules_lateness_ms(r), 5 * MIN);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t j;

		for (j = 0; j < saksi_rules_count(r); j++)
			if (strcmp(saksi_rules_id_at(r, j), want[i]) == 0)
				break;
		if (j == saksi_rules_count(r))
			fail_msg("default rules lack %s", want[i]);
	}
	assert_null(saksi_rules_id_at(r, saksi_rules_count(r)));
	saksi_rules_free(r);
	/* Without schemas too (no type checks, same rules). */
	assert_int_equal(saksi_rules_load(SAKSI_SOURCE_DIR "/schemas/rules/default.rules",
	    NULL, &r, err, sizeof(err)), SAKSI_OK);
	saksi_rules_free(r);
	/* With the bytes parsed handed back (saksid hashes those for its status). */
	{
		char *text = (char *)1, *file;
		size_t len = 1, flen;

		assert_int_equal(saksi_rules_load_text(SAKSI_SOURCE_DIR
		    "/schemas/rules/default.rules", NULL, &r, &text, &len, err, sizeof(err)),
		    SAKSI_OK);
		{
			FILE *f = fopen(SAKSI_SOURCE_DIR "/schemas/rules/default.rules", "rb");

			assert_non_null(f);
			assert_non_null(file = malloc(SAKSI_RULES_FILE_MAX + 1));
			flen = fread(file, 1, SAKSI_RULES_FILE_MAX + 1, f);
			fclose(f);
		}
		assert_int_equal(len, flen);
		assert_memory_equal(text, file, len);
		assert_int_equal(text[len], '\0');
		free(file);
		free(text);
		saksi_rules_free(r);
		/* Errors hand back no text; text and len come together or not at all. */
		text = (char *)1;
		assert_int_equal(saksi_rules_load_text("/nonexistent/x.rules", NULL, &r, &text,
		    &len, err, sizeof(err)), SAKSI_ERR_NOT_FOUND);
		assert_null(text);
		assert_int_equal(len, 0);
		assert_null(r);
		assert_int_equal(saksi_rules_load_text(SAKSI_SOURCE_DIR
		    "/schemas/rules/default.rules", NULL, &r, &text, NULL, err, sizeof(err)),
		    SAKSI_ERR_INVAL);
		assert_null(r);
	}
}

#define SEL_BOOK "select book\n  match queue.booking.created\n"
#define R_EC "rule r1\n  type event_count\n  severity high\n  events book\n" \
    "  group-by device_id\n  timespan 10s\n  condition gte 3\n  suppress 1h\n  reraise 2\n"

static const struct {
	const char *text;
	saksi_err code;
	const char *msg;          /* must appear in the message */
} bad_files[] = {
	{ "", SAKSI_ERR_FORMAT, "t.rules:1: empty" },
	{ "lateness 1m\n", SAKSI_ERR_FORMAT, "t.rules:1: a rules file starts with" },
	{ "saksi-rules 2\n", SAKSI_ERR_VERSION, "t.rules:1: rules format version 2" },
	{ "saksi-rules 1\r\nlateness 1m\n", SAKSI_ERR_FORMAT, "t.rules:1: carriage return" },
	{ HDR "# caf\xc3\xa9\n", SAKSI_ERR_FORMAT, "t.rules:3: byte 0xc3 at column 6" },
	{ HDR, SAKSI_ERR_FORMAT, "t.rules:3: no rule" },
	{ "saksi-rules 1\n" SEL_BOOK, SAKSI_ERR_FORMAT, "t.rules:2: lateness must be set" },
	{ HDR "lateness 2m\n", SAKSI_ERR_FORMAT, "t.rules:3: lateness given twice" },
	{ HDR "latenes 2m\n", SAKSI_ERR_FORMAT, "t.rules:3: unknown setting 'latenes'" },
	{ "saksi-rules 1\nlateness 2\n", SAKSI_ERR_FORMAT, "t.rules:2: lateness takes one" },
	{ "saksi-rules 1\nlateness 02m\n", SAKSI_ERR_FORMAT, "t.rules:2: lateness takes one" },
	{ "saksi-rules 1\nlateness 367d\n", SAKSI_ERR_FORMAT, "t.rules:2: lateness takes one" },
	{ HDR "max_values 0\n", SAKSI_ERR_FORMAT, "t.rules:3: max_values takes an integer" },
	{ HDR "select Book\n", SAKSI_ERR_FORMAT, "t.rules:3: select takes one name" },
	{ HDR "select book\n  where channel is web\n", SAKSI_ERR_FORMAT,
	  "t.rules:4: where before match" },
	{ HDR "select book\n", SAKSI_ERR_FORMAT, "t.rules:3: select book: missing match" },
	{ HDR "select book\n  match queue.booking.made\n", SAKSI_ERR_FORMAT,
	  "t.rules:4: unknown event type queue.booking.made" },
	{ HDR SEL_BOOK "  where chanel is web\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: field chanel is not a field of queue.booking.created" },
	{ HDR SEL_BOOK "  where channel is webb\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: 'webb' is not a value channel can take" },
	{ HDR SEL_BOOK "  where nik is 3171014101900001\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: nik is personal" },
	{ HDR SEL_BOOK "  where phone gt 5\n", SAKSI_ERR_FORMAT, "t.rules:5: phone is personal" },
	{ HDR SEL_BOOK "  where nik same phone\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: nik and phone are blinded as different kinds" },
	{ HDR SEL_BOOK "  where nik same channel\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: same compares a personal field with a non-personal one" },
	{ HDR SEL_BOOK "  where slot_hour within 1s\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: field slot_hour of queue.booking.created is not a date-time" },
	{ HDR SEL_BOOK "  where channel gt 3\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: field channel of queue.booking.created is not an integer" },
	{ HDR SEL_BOOK "  where slot_hour between 3\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: unknown operator 'between'" },
	{ HDR SEL_BOOK "  where slot_hour gt -3\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: '-3' is neither an integer" },
	{ HDR SEL_BOOK "  where balance present\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: field balance is personal and has no blind token" },
	{ HDR SEL_BOOK "rule r1\n  severity high\n", SAKSI_ERR_FORMAT,
	  "t.rules:6: a rule starts with its type" },
	{ HDR SEL_BOOK "rule r1\n  type event_counter\n", SAKSI_ERR_FORMAT,
	  "t.rules:6: type takes one of" },
	{ HDR SEL_BOOK "rule r1\n  type value_sum\n  field nik\n", SAKSI_ERR_FORMAT,
	  "t.rules:7: a value_sum cannot sum personal field nik" },
	{ HDR SEL_BOOK "rule r1\n  type value_sum\n  field channel\n  severity low\n"
	  "  events book\n  timespan 1h\n  condition gte 3\n  suppress 1h\n  reraise 1\n",
	  SAKSI_ERR_FORMAT, "t.rules:7: a value_sum sums integers: field channel of "
	  "queue.booking.created is not one" },
	{ HDR SEL_BOOK "rule r1\n  type value_sum\n  severity low\n  events book\n"
	  "  timespan 1h\n  condition gte 3\n  suppress 1h\n  reraise 1\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: rule r1: missing field" },
	{ HDR SEL_BOOK "rule r1\n  type value_sum\n  severity low\n  events book\n"
	  "  field slot_hour\n  timespan 1h\n  suppress 1h\n  reraise 1\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: rule r1: missing condition" },
	{ HDR SEL_BOOK "rule r1\n  type value_sum\n  differ nik\n", SAKSI_ERR_FORMAT,
	  "t.rules:7: differ has no meaning in a value_sum rule" },
	{ HDR SEL_BOOK "rule r1\n  type event_count\n  field nik\n", SAKSI_ERR_FORMAT,
	  "t.rules:7: field has no meaning in a event_count rule" },
	{ HDR SEL_BOOK "rule r1\n  type event_count\n  severity high\n  severity low\n",
	  SAKSI_ERR_FORMAT, "t.rules:8: severity given twice" },
	{ HDR SEL_BOOK "rule r1\n  type event_count\n  events booking\n", SAKSI_ERR_FORMAT,
	  "t.rules:7: no select named booking above this line" },
	{ HDR SEL_BOOK "rule r1\n  type event_count\n  events book\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: rule r1: missing severity" },
	{ HDR SEL_BOOK "rule r1\n  type event_count\n  severity high\n  events book\n"
	  "  timespan 1h\n  condition gte 3\n  suppress 1h\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: rule r1: missing reraise" },
	{ HDR SEL_BOOK "rule r1\n  type event_count\n  condition lt 3\n", SAKSI_ERR_FORMAT,
	  "t.rules:7: condition takes gte N or gt N" },
	{ HDR SEL_BOOK "rule r1\n  type event_count\n  condition gte 0\n", SAKSI_ERR_FORMAT,
	  "t.rules:7: condition gte 0 always holds" },
	{ HDR SEL_BOOK "rule r1\n  type event_count\n  timespan 0s\n", SAKSI_ERR_FORMAT,
	  "t.rules:7: timespan takes one duration above zero" },
	{ HDR SEL_BOOK "rule r1\n  type event_count\n  timespan 1h # an hour\n",
	  SAKSI_ERR_FORMAT, "t.rules:7: timespan takes one duration" },
	{ HDR SEL_BOOK "rule r1\n  type event_count\n  reraise 0\n", SAKSI_ERR_FORMAT,
	  "t.rules:7: reraise takes never" },
	{ HDR SEL_BOOK "rule r1\n  type event_count\n  group-by device_id device_id\n",
	  SAKSI_ERR_FORMAT, "t.rules:7: device_id given twice in group-by" },
	{ HDR SEL_BOOK R_EC "  group-by branch\n", SAKSI_ERR_FORMAT,
	  "t.rules:14: group-by given twice" },
	{ HDR SEL_BOOK R_EC R_EC, SAKSI_ERR_FORMAT, "t.rules:14: a rule named r1 exists" },
	{ HDR SEL_BOOK "rule r1\n  type event_count\n  severity high\n  events book\n"
	  "  group-by officer_id\n  timespan 1h\n  condition gte 3\n  suppress 1h\n"
	  "  reraise never\n", SAKSI_ERR_FORMAT,
	  "t.rules:9: group-by field officer_id is not a field of queue.booking.created" },
	{ HDR SEL_BOOK "rule r1\n  type value_count\n  severity high\n  events book\n"
	  "  group-by nik\n  field nik\n  timespan 1h\n  condition gte 3\n  suppress 1h\n"
	  "  reraise never\n", SAKSI_ERR_FORMAT, "t.rules:10: rule r1: counting distinct nik" },
	{ HDR SEL_BOOK "rule r1\n  type temporal\n  events book\n", SAKSI_ERR_FORMAT,
	  "t.rules:7: events takes 2 to 4 select names in a temporal rule" },
	{ HDR SEL_BOOK "rule r1\n  type temporal\n  severity high\n  events book book\n"
	  "  timespan 1h\n  suppress 1h\n  reraise never\n  max_values 1000\n",
	  SAKSI_ERR_FORMAT, "t.rules:12: rule r1: a temporal rule keeps at most 256" },
	{ HDR SEL_BOOK "rule r1\n  type daily_cap\n  severity high\n  events book\n"
	  "  day slot_date\n  quota KC-X 3\n  timespan 2d\n  suppress 1d\n  reraise never\n",
	  SAKSI_ERR_FORMAT, "t.rules:10: rule r1: missing quota default" },
	{ HDR SEL_BOOK "rule r1\n  type daily_cap\n  severity high\n  events book\n"
	  "  day slot_date\n  quota default 3\n  timespan 23h\n  suppress 1d\n"
	  "  reraise never\n", SAKSI_ERR_FORMAT,
	  "t.rules:11: rule r1: a daily_cap keeps each day at least 1d" },
	{ HDR SEL_BOOK "rule r1\n  type daily_cap\n  quota kc-x 3\n", SAKSI_ERR_FORMAT,
	  "t.rules:7: 'kc-x' is not a branch code" },
	{ HDR SEL_BOOK "rule r1\n  type queue_order\n  severity high\n  checkin book\n"
	  "  call book\n  seq slot_hour\n  actor channel\n  places 3\n  timespan 1h\n"
	  "  condition gte 1\n  suppress 1h\n  reraise never\n", SAKSI_ERR_FORMAT,
	  "t.rules:5: rule r1: missing group-by" },
	{ HDR "join j\n  key nik\n", SAKSI_ERR_FORMAT,
	  "t.rules:4: a join key must be an opaque id, not personal field nik" },
	{ HDR "join j\n  key booking_id\n  from queue.booking.created\n  copy nik\n",
	  SAKSI_ERR_FORMAT, "t.rules:3: join j: missing keep" },
	{ HDR "join j\n  key booking_id\n  from queue.noshow\n  copy nik\n  keep 1d\n",
	  SAKSI_ERR_FORMAT, "t.rules:3: copied field nik is not a field of queue.noshow" },
	{ HDR "join j\n  key booking_id\n  from queue.booking.created\n  copy booking_id\n"
	  "  keep 1d\n", SAKSI_ERR_FORMAT, "t.rules:3: join j copies its own key" },
	{ HDR SEL_BOOK "  match queue.checkin\n", SAKSI_ERR_FORMAT, "t.rules:5: match given twice" },
	{ HDR SEL_BOOK "lateness 2m\n", SAKSI_ERR_FORMAT, "t.rules:5: unknown directive 'lateness'" },
};

static void
test_bad_files(void **state)
{
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		saksi_rules *r = (saksi_rules *)1;
		saksi_err e = saksi_rules_parse(bad_files[i].text, strlen(bad_files[i].text),
		    "t.rules", SAKSI_SOURCE_SCHEMA_DIR, &r, err, sizeof(err));

		if (e != bad_files[i].code || strstr(err, bad_files[i].msg) == NULL)
			fail_msg("case %zu: got %d '%s', want %d '%s'", i, e, err,
			    bad_files[i].code, bad_files[i].msg);
		assert_null(r);
	}
}

static void
test_limits_and_args(void **state)
{
	char *big, err[512], line[1100];
	saksi_rules *r;
	FILE *f;
	char path[128], dir[64];

	(void)state;
	big = calloc(1, SAKSI_RULES_FILE_MAX + 2);
	assert_non_null(big);
	memset(big, '#', SAKSI_RULES_FILE_MAX + 1);
	assert_int_equal(saksi_rules_parse(big, SAKSI_RULES_FILE_MAX + 1, "t", NULL, &r, err,
	    sizeof(err)), SAKSI_ERR_TOO_LARGE);
	free(big);
	memset(line, 'x', sizeof(line));
	memcpy(line, "saksi-rules 1\n#", 15);
	assert_int_equal(saksi_rules_parse(line, sizeof(line), "t", NULL, &r, err, sizeof(err)),
	    SAKSI_ERR_TOO_LARGE);
	assert_non_null(strstr(err, "t:2: line longer than 1024"));
	assert_int_equal(saksi_rules_parse(NULL, 0, "t", NULL, &r, err, sizeof(err)),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_parse("", 0, "t", NULL, NULL, err, sizeof(err)),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_parse(HDR SEL_BOOK R_EC, strlen(HDR SEL_BOOK R_EC), "t",
	    "/nonexistent/schemas", &r, err, sizeof(err)), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_rules_load("/nonexistent/x.rules", NULL, &r, err, sizeof(err)),
	    SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_rules_load("/tmp", NULL, &r, err, sizeof(err)), SAKSI_ERR_IO);
	/* A file without a final newline, comments, blank lines, tabs and a title. */
	assert_int_equal(tmpdir_make(dir, sizeof(dir), "saksi-rules-load"), 0);
	path_in(dir, "load.rules", path, sizeof(path));
	assert_non_null(f = fopen(path, "w"));
	fputs("# leading comment\n\nsaksi-rules 1\n\tlateness\t30s\n" SEL_BOOK
	    "rule r1\n  type event_count\n  title  One device, many bookings  \n"
	    "  severity high\n  events book\n  timespan 10s\n  condition gt 2\n"
	    "  suppress 0s\n  reraise never", f);
	fclose(f);
	assert_int_equal(saksi_rules_load(path, SAKSI_SOURCE_SCHEMA_DIR, &r, err, sizeof(err)),
	    SAKSI_OK);
	assert_int_equal(saksi_rules_lateness_ms(r), 30000);
	assert_int_equal(saksi_rules_count(r), 1);
	saksi_rules_free(r);
	unlink(path);
	rmdir(dir);
	assert_int_equal(saksi_rules_count(NULL), 0);
	saksi_rules_free(NULL);
}

/* ---- event_count ---- */

#define EC_RULES HDR SEL_BOOK R_EC

static void
test_event_count_edges(void **state)
{
	struct fx *fx = *state;
	saksi_alert a;

	use_rules(fx, EC_RULES);
	/* Exactly the timespan apart: one window. */
	assert_int_equal(feed(fx, "queue.booking.created", T0, "device_id", "d1", NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 5000, "device_id", "d1", NULL),
	    0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 10000, "device_id", "d1",
	    NULL), 1);
	get_alert(fx, 1, &a);
	assert_int_equal(a.al_kind, SAKSI_ALERT_RULE);
	assert_string_equal(a.al_rule, "r1");
	assert_int_equal(a.al_severity, SAKSI_SEV_HIGH);
	assert_int_equal(a.al_value, 3);
	assert_int_equal(a.al_threshold, 3);
	assert_int_equal(a.al_first_ms, T0);
	assert_int_equal(a.al_last_ms, T0 + 10000);
	assert_int_equal(a.al_trigger, 2);
	assert_int_equal(a.al_nevidence, 3);
	assert_int_equal(a.al_evidence[0], 0);
	assert_int_equal(a.al_evidence[2], 2);
	assert_non_null(strstr(a.al_group, "device_id="));
	assert_null(strstr(a.al_group, "d1"));   /* a token, never the value */
	/* One millisecond over: two windows of two. */
	assert_int_equal(feed(fx, "queue.booking.created", T0, "device_id", "d2", NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 5000, "device_id", "d2", NULL),
	    0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 10001, "device_id", "d2",
	    NULL), 0);
	/* Missing group-by field: not in the rule at all. */
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 10001, NULL), 0);
	assert_int_equal(stats(fx, "r1").rs_matched, 6);
	assert_int_equal(stats(fx, "r1").rs_groups, 2);
	assert_int_equal(stats(fx, "r1").rs_alerts, 1);
}

/* Out of order within the lateness bound: the window is in producer time. */
static void
test_event_count_out_of_order(void **state)
{
	struct fx *fx = *state;
	saksi_alert a;

	use_rules(fx, EC_RULES);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 9000, "device_id", "d", NULL),
	    0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 30000, "device_id", "x", NULL),
	    0);
	assert_int_equal(feed(fx, "queue.booking.created", T0, "device_id", "d", NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 4000, "device_id", "d", NULL),
	    1);
	get_alert(fx, 1, &a);
	assert_int_equal(a.al_first_ms, T0);
	assert_int_equal(a.al_last_ms, T0 + 9000);
	assert_int_equal(a.al_nevidence, 3);
	assert_int_equal(a.al_evidence[0], 0);
	assert_int_equal(a.al_evidence[1], 2);
	assert_int_equal(a.al_evidence[2], 3);
	/* The window that maximises the count wins, not the one ending at the arrival. */
	assert_int_equal(a.al_total, 3);
}

static void
test_late_events(void **state)
{
	struct fx *fx = *state;
	saksi_rules_result res;
	saksi_alert a;
	MDB_txn *txn;
	uint64_t late;
	int i;

	use_rules(fx, EC_RULES);   /* lateness 1m */
	feed(fx, "queue.booking.created", T0 + 2 * MIN, "device_id", "d", NULL);
	/* Exactly at the bound: still in. */
	res = feed_res(fx, "queue.booking.created", T0 + MIN, "device_id", "d", NULL);
	assert_int_equal(res.rr_late, 0);
	res = feed_res(fx, "queue.booking.created", T0 + MIN - 1, "device_id", "d", NULL);
	assert_int_equal(res.rr_late, 1);
	assert_int_equal(res.rr_nalerts, 1);      /* the first late event is alerted */
	get_alert(fx, res.rr_first_alert, &a);
	assert_int_equal(a.al_kind, SAKSI_ALERT_LATE);
	assert_string_equal(a.al_rule, "late");
	assert_int_equal(a.al_value, 1);
	assert_int_equal(a.al_threshold, MIN);
	assert_int_equal(a.al_evidence[0], 2);
	/* Late events count, and the alert comes again at 2, 4, 8, ... */
	for (i = 2; i <= 8; i++) {
		res = feed_res(fx, "queue.booking.created", T0, "device_id", "d", NULL);
		assert_int_equal(res.rr_late, 1);
		assert_int_equal(res.rr_nalerts, (i & (i - 1)) == 0 ? 1 : 0);
	}
	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(saksi_rules_late(fx->r, txn, &late), SAKSI_OK);
	mdb_txn_abort(txn);
	assert_int_equal(late, 8);
	/* Late events never reached the window: two events in it. */
	assert_int_equal(stats(fx, "r1").rs_matched, 2);
}

/* Groups expire once the watermark passes them; a group re-formed later is new. */
static void
test_expiry(void **state)
{
	struct fx *fx = *state;
	int i;

	use_rules(fx, EC_RULES);
	feed(fx, "queue.booking.created", T0, "device_id", "a", NULL);
	feed(fx, "queue.booking.created", T0 + 1000, "device_id", "a", NULL);
	feed(fx, "queue.booking.created", T0, "device_id", "b", NULL);
	assert_int_equal(stats(fx, "r1").rs_groups, 2);
	/* Watermark = 10s + 1m + 1000 past T0 + 1000: both groups are past keeping. */
	feed(fx, "queue.booking.created", T0 + 1000 + 10000 + MIN + 1, "device_id", "c", NULL);
	assert_int_equal(stats(fx, "r1").rs_groups, 1);
	/* "a" again: its old entries are gone, so two more do not make three. */
	feed(fx, "queue.booking.created", T0 + 80000, "device_id", "a", NULL);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 80001, "device_id", "a", NULL),
	    0);
	assert_int_equal(stats(fx, "r1").rs_groups_evicted, 0);
	/* Many groups, all expiring: the sweep keeps the count bounded without evictions. */
	for (i = 0; i < 300; i++) {
		char d[16];

		snprintf(d, sizeof(d), "g%d", i);
		feed(fx, "queue.booking.created", T0 + 200000 + (uint64_t)i * 20000, "device_id",
		    d, NULL);
	}
	assert_true(stats(fx, "r1").rs_groups <= 6);
	assert_int_equal(stats(fx, "r1").rs_groups_evicted, 0);
}

/*
 * A rule is swept only by events it may take (3.8): other types leave its expired groups
 * alone. A group past keeping that the sweep (64 at a time) has not reached yet is
 * dropped when an event loads it, so the event starts it afresh.
 */
static void
test_expiry_lazy(void **state)
{
	struct fx *fx = *state;
	char d[16];
	int i;

	use_rules(fx, EC_RULES);
	for (i = 0; i < 70; i++) {
		snprintf(d, sizeof(d), "g%d", i);
		feed(fx, "queue.booking.created", T0 + (uint64_t)i, "device_id", d, NULL);
	}
	feed(fx, "queue.booking.created", T0 + 100, "device_id", "z", NULL);
	feed(fx, "queue.booking.created", T0 + 100, "device_id", "z", NULL);
	assert_int_equal(stats(fx, "r1").rs_groups, 71);
	/* The watermark passes every group's keep: an event r1 cannot take sweeps nothing. */
	assert_int_equal(feed(fx, "queue.checkin", T0 + 2 * MIN, "device_id", "z", NULL), 0);
	assert_int_equal(stats(fx, "r1").rs_groups, 71);
	/* One r1 takes: 64 swept (g0..g63), z dropped on load and started again. */
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 2 * MIN, "device_id", "z",
	    NULL), 0);
	assert_int_equal(stats(fx, "r1").rs_groups, 7);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 2 * MIN + 1, "device_id", "z",
	    NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 2 * MIN + 2, "device_id", "z",
	    NULL), 1);
	/* The next sweeps took the other six. */
	assert_int_equal(stats(fx, "r1").rs_groups, 1);
	assert_int_equal(stats(fx, "r1").rs_groups_evicted, 0);
	assert_int_equal(stats(fx, "r1").rs_matched, 75);
}

static void
test_suppress_and_reraise(void **state)
{
	struct fx *fx = *state;
	saksi_alert a;
	uint64_t t = T0;

	use_rules(fx, EC_RULES);  /* gte 3 in 10s, suppress 1h, reraise 2 */
	feed(fx, "queue.booking.created", t, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", t + 1, "device_id", "d", NULL);
	assert_int_equal(feed(fx, "queue.booking.created", t + 2, "device_id", "d", NULL), 1);
	/* 4: suppressed; 5 = 3 + 2: raised again. */
	assert_int_equal(feed(fx, "queue.booking.created", t + 3, "device_id", "d", NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", t + 4, "device_id", "d", NULL), 1);
	get_alert(fx, 2, &a);
	assert_int_equal(a.al_value, 5);
	assert_int_equal(feed(fx, "queue.booking.created", t + 5, "device_id", "d", NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", t + 6, "device_id", "d", NULL), 1);
	/* A new burst within the hour: suppressed unless it grows past 7 + 2. */
	t += 30 * MIN;
	feed(fx, "queue.booking.created", t, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", t + 1, "device_id", "d", NULL);
	assert_int_equal(feed(fx, "queue.booking.created", t + 2, "device_id", "d", NULL), 0);
	/* Exactly an hour after the last alert's window end: a new episode. */
	t = T0 + 6 + HOUR;
	feed(fx, "queue.booking.created", t, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", t + 1, "device_id", "d", NULL);
	assert_int_equal(feed(fx, "queue.booking.created", t + 2, "device_id", "d", NULL), 1);
	get_alert(fx, 4, &a);
	assert_int_equal(a.al_value, 3);
	assert_int_equal(last_alert(fx), 4);
}

static void
test_reraise_never_and_gt(void **state)
{
	struct fx *fx = *state;
	int i;

	use_rules(fx, HDR SEL_BOOK "rule r1\n  type event_count\n  severity low\n"
	    "  events book\n  timespan 1h\n  condition gt 2\n  suppress 1d\n  reraise never\n");
	assert_int_equal(feed(fx, "queue.booking.created", T0, NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 1, NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 2, NULL), 1);
	for (i = 0; i < 50; i++)
		assert_int_equal(feed(fx, "queue.booking.created", T0 + 3 + (uint64_t)i, NULL), 0);
	{
		saksi_alert a;

		get_alert(fx, 1, &a);
		assert_string_equal(a.al_group, "*");
		assert_int_equal(a.al_severity, SAKSI_SEV_LOW);
	}
}

/* ---- value_count ---- */

#define VC_RULES HDR SEL_BOOK "rule v1\n  type value_count\n  severity high\n" \
    "  events book\n  group-by phone\n  field nik\n  timespan 1h\n  condition gte 4\n" \
    "  suppress 1d\n  reraise 3\n  max_values 5000\n"

static void
test_value_count_distinct(void **state)
{
	struct fx *fx = *state;
	saksi_alert a;
	char nik[32];
	int i;

	use_rules(fx, VC_RULES);
	/* One person booking again and again is one value. */
	for (i = 0; i < 20; i++)
		assert_int_equal(feed(fx, "queue.booking.created", T0 + (uint64_t)i, "phone", "p1",
		    "nik", "n1", NULL), 0);
	/* A family of three: three values. */
	feed(fx, "queue.booking.created", T0 + 100, "phone", "p1", "nik", "n2", NULL);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 101, "phone", "p1", "nik", "n3",
	    NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 102, "phone", "p1", "nik", "n4",
	    NULL), 1);
	get_alert(fx, 1, &a);
	assert_int_equal(a.al_value, 4);
	assert_int_equal(a.al_total, 23);
	/* Evidence: one event per distinct value (the first of each). */
	assert_int_equal(a.al_nevidence, 4);
	assert_int_equal(a.al_evidence[0], 0);
	assert_int_equal(a.al_evidence[1], 20);
	assert_int_equal(a.al_evidence[3], 22);
	/* Many values: the count is exact, growth raises at 4 + 3k. */
	for (i = 5; i <= 1000; i++) {
		uint64_t n;

		snprintf(nik, sizeof(nik), "n%d", i);
		n = feed(fx, "queue.booking.created", T0 + 1000 + (uint64_t)i, "phone", "p1",
		    "nik", nik, NULL);
		assert_int_equal(n, (i - 4) % 3 == 0 ? 1 : 0);
	}
	get_alert(fx, last_alert(fx), &a);
	assert_int_equal(a.al_value, 1000);
	assert_int_equal(a.al_nevidence, SAKSI_ALERT_EVIDENCE_MAX);
	/* An event without the counted field is not in the rule. */
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 5000, "phone", "p1", NULL), 0);
}

static void
test_value_count_edges(void **state)
{
	struct fx *fx = *state;
	uint64_t t;

	use_rules(fx, VC_RULES);
	feed(fx, "queue.booking.created", T0, "phone", "p", "nik", "a", NULL);
	feed(fx, "queue.booking.created", T0 + HOUR / 2, "phone", "p", "nik", "b", NULL);
	feed(fx, "queue.booking.created", T0 + HOUR / 2, "phone", "p", "nik", "a", NULL);
	/* d at T0 + 1h + 1: a is still in (at 30 min), b too: a, b, c, d. */
	feed(fx, "queue.booking.created", T0 + HOUR, "phone", "p", "nik", "c", NULL);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + HOUR + 1, "phone", "p", "nik",
	    "d", NULL), 1);
	/* A second phone: e, then f g h one hour and 1 ms later: three in any window. */
	t = T0 + 10 * HOUR;
	feed(fx, "queue.booking.created", t, "phone", "q", "nik", "e", NULL);
	feed(fx, "queue.booking.created", t + HOUR + 1, "phone", "q", "nik", "f", NULL);
	feed(fx, "queue.booking.created", t + HOUR + 1, "phone", "q", "nik", "g", NULL);
	assert_int_equal(feed(fx, "queue.booking.created", t + HOUR + 1, "phone", "q", "nik",
	    "h", NULL), 0);
	/* A third: e twice, the second exactly one hour before f g h: four. */
	t = T0 + 20 * HOUR;
	feed(fx, "queue.booking.created", t, "phone", "r", "nik", "e", NULL);
	feed(fx, "queue.booking.created", t + 1, "phone", "r", "nik", "e", NULL);
	feed(fx, "queue.booking.created", t + HOUR + 1, "phone", "r", "nik", "f", NULL);
	feed(fx, "queue.booking.created", t + HOUR + 1, "phone", "r", "nik", "g", NULL);
	assert_int_equal(feed(fx, "queue.booking.created", t + HOUR + 1, "phone", "r", "nik",
	    "h", NULL), 1);
}

/* ---- value_sum ---- */

#define SEL_LOOK "select look\n  match supervisor.access.logged\n  where revealed is true\n"
#define VS_RULES HDR SEL_LOOK "rule s1\n  type value_sum\n  severity high\n" \
    "  events look\n  group-by key_id\n  field participants\n  timespan 1h\n" \
    "  condition gte 100\n  suppress 1h\n  reraise 50\n"

static uint64_t
look(struct fx *fx, uint64_t t, const char *key, const char *participants)
{
	return feed(fx, "supervisor.access.logged", t, "key_id", key, "revealed", "true",
	    "participants", participants, NULL);
}

static void
test_value_sum(void **state)
{
	struct fx *fx = *state;
	saksi_alert a;
	int i;

	use_rules(fx, VS_RULES);
	/* Ten looks at one person each: 10, silent. */
	for (i = 0; i < 10; i++)
		assert_int_equal(look(fx, T0 + (uint64_t)i * MIN, "k1", "1"), 0);
	/* Nothing revealed, no number, or 0: not in the rule. */
	assert_int_equal(look(fx, T0 + 11 * MIN, "k1", "0"), 0);
	assert_int_equal(look(fx, T0 + 11 * MIN, "k1", "many"), 0);
	assert_int_equal(look(fx, T0 + 11 * MIN, "k1", "-5"), 0);
	assert_int_equal(feed(fx, "supervisor.access.logged", T0 + 11 * MIN, "key_id", "k1",
	    "revealed", "true", NULL), 0);
	assert_int_equal(feed(fx, "supervisor.access.logged", T0 + 11 * MIN, "key_id", "k1",
	    "revealed", "false", "participants", "500", NULL), 0);
	assert_int_equal(stats(fx, "s1").rs_matched, 10);
	/* One more look revealing 90: 100 in the hour. */
	assert_int_equal(look(fx, T0 + 12 * MIN, "k1", "90"), 1);
	get_alert(fx, 1, &a);
	assert_string_equal(a.al_rule, "s1");
	assert_int_equal(a.al_value, 100);
	assert_int_equal(a.al_threshold, 100);
	assert_int_equal(a.al_first_ms, T0);
	assert_int_equal(a.al_last_ms, T0 + 12 * MIN);
	assert_int_equal(a.al_total, 11);
	assert_int_equal(a.al_nevidence, 11);
	assert_int_equal(a.al_evidence[0], 0);
	assert_int_equal(a.al_evidence[10], 15);
	assert_int_equal(a.al_trigger, 15);
	/* Another key's one look at 400: at once, its own group. */
	assert_int_equal(look(fx, T0 + 13 * MIN, "k2", "400"), 1);
	get_alert(fx, 2, &a);
	assert_int_equal(a.al_value, 400);
	assert_int_equal(a.al_nevidence, 1);
	assert_int_equal(a.al_evidence[0], 16);
	assert_string_equal(a.al_group, "key_id=k2");
	/* Suppressed: k1 grows by 49 (149), silent; by one more (150) raised again. */
	assert_int_equal(look(fx, T0 + 14 * MIN, "k1", "49"), 0);
	assert_int_equal(look(fx, T0 + 15 * MIN, "k1", "1"), 1);
	get_alert(fx, 3, &a);
	assert_int_equal(a.al_value, 150);
	/* A huge number counts as RULES_SUM_VALUE_MAX, no overflow. */
	assert_int_equal(look(fx, T0 + 16 * MIN, "k3", "99999999999999999"), 1);
	get_alert(fx, 4, &a);
	assert_int_equal(a.al_value, 1000000000);
	assert_int_equal(look(fx, T0 + 16 * MIN, "k3", "99999999999999999"), 1);
	get_alert(fx, 5, &a);
	assert_int_equal(a.al_value, 2000000000);
	assert_int_equal(stats(fx, "s1").rs_alerts, 5);
}

/* The sum of one window: both ends included, out of order, late events left out. */
static void
test_value_sum_windows(void **state)
{
	struct fx *fx = *state;
	saksi_rules_result res;
	saksi_alert a;

	use_rules(fx, VS_RULES);
	/* 60 at T0, 39 at T0 + 1h + 1: never in one window (99 at most). */
	assert_int_equal(look(fx, T0, "k", "60"), 0);
	assert_int_equal(look(fx, T0 + HOUR + 1, "k", "39"), 0);
	/* 1 at T0 + 1h: in both windows; [T0, T0 + 1h] holds 61, [1h, 2h+1] 40. */
	assert_int_equal(look(fx, T0 + HOUR, "k", "1"), 0);
	/* 40 arriving late (within the 1 min lateness) at T0 + 30 min: 60 + 40 + 1 = 101 in
	 * [T0, T0 + 1h], the earliest best window. */
	assert_int_equal(look(fx, T0 + HOUR - 10000, "k", "40"), 1);
	get_alert(fx, 1, &a);
	assert_int_equal(a.al_value, 101);
	assert_int_equal(a.al_first_ms, T0);
	assert_int_equal(a.al_last_ms, T0 + HOUR);
	assert_int_equal(a.al_nevidence, 3);
	assert_int_equal(a.al_evidence[0], 0);
	assert_int_equal(a.al_evidence[1], 2);   /* ascending leaf indices */
	assert_int_equal(a.al_evidence[2], 3);
	/* An event beyond the lateness is counted as late and enters no window. */
	res = feed_res(fx, "supervisor.access.logged", T0 + 10 * MIN, "key_id", "k",
	    "revealed", "true", "participants", "1000", NULL);
	assert_int_equal(res.rr_late, 1);
	get_alert(fx, last_alert(fx), &a);
	assert_int_equal(a.al_kind, SAKSI_ALERT_LATE);
	assert_int_equal(stats(fx, "s1").rs_alerts, 1);
	/* Straddling: 30 at 3h, 3h30 and 4h (90 in [3h, 4h]); 10 at 4h + 1 ms: its windows
	 * start after 3h, 70 at most. */
	assert_int_equal(look(fx, T0 + 3 * HOUR, "j", "30"), 0);
	assert_int_equal(look(fx, T0 + 3 * HOUR + 30 * MIN, "j", "30"), 0);
	assert_int_equal(look(fx, T0 + 4 * HOUR, "j", "30"), 0);
	assert_int_equal(look(fx, T0 + 4 * HOUR + 1, "j", "10"), 0);
	/* 10 more at 4h, a millisecond late: [3h, 4h] holds 30 + 30 + 30 + 10. */
	assert_int_equal(look(fx, T0 + 4 * HOUR, "j", "10"), 1);
	get_alert(fx, last_alert(fx), &a);
	assert_int_equal(a.al_value, 100);
	assert_int_equal(a.al_first_ms, T0 + 3 * HOUR);
	assert_int_equal(a.al_last_ms, T0 + 4 * HOUR);
}

/* max_values: the oldest entry goes, counted and alerted; the sum forgets it. */
static void
test_value_sum_cap(void **state)
{
	struct fx *fx = *state;
	saksi_rules_result res;
	saksi_alert a;

	use_rules(fx, HDR SEL_LOOK "rule s1\n  type value_sum\n  severity high\n"
	    "  events look\n  group-by key_id\n  field participants\n  timespan 1h\n"
	    "  condition gte 100\n  suppress 1h\n  reraise 50\n  max_values 3\n");
	assert_int_equal(look(fx, T0, "k", "50"), 0);
	assert_int_equal(look(fx, T0 + 1, "k", "10"), 0);
	assert_int_equal(look(fx, T0 + 2, "k", "10"), 0);
	/* 50 + 10 + 10 + 29 = 99, then 50 is evicted. */
	res = feed_res(fx, "supervisor.access.logged", T0 + 3, "key_id", "k", "revealed",
	    "true", "participants", "29", NULL);
	assert_int_equal(res.rr_evicted, 1);
	assert_int_equal(res.rr_nalerts, 1);
	get_alert(fx, 1, &a);
	assert_int_equal(a.al_kind, SAKSI_ALERT_CAP);
	assert_int_equal(a.al_evidence[0], 0);
	assert_int_equal(stats(fx, "s1").rs_values_evicted, 1);
	/* 10 + 10 + 29 + 50: 99 without the evicted 50. */
	res = feed_res(fx, "supervisor.access.logged", T0 + 4, "key_id", "k", "revealed",
	    "true", "participants", "50", NULL);
	assert_int_equal(res.rr_evicted, 1);
	get_alert(fx, last_alert(fx), &a);
	assert_int_equal(a.al_kind, SAKSI_ALERT_CAP);
	assert_int_equal(last_alert(fx), 2);      /* two cap alerts, no rule alert */
}

/* ---- temporal ---- */

#define TEMP_SELS_ "select cancel\n  match queue.booking.cancelled\n" \
    "  where slot_released is true\n" SEL_BOOK
#define TEMP_SELS HDR TEMP_SELS_
#define TEMP_RULE(type, extra) "rule t1\n  type " type "\n  severity medium\n" \
    "  events cancel book\n  group-by slot_date slot_hour\n  timespan 10s\n" \
    "  suppress 1h\n  reraise 1\n  max_values 64\n" extra

static uint64_t
cancel(struct fx *fx, uint64_t t, const char *booking)
{
	return feed(fx, "queue.booking.cancelled", t, "slot_date", "2025-03-03", "slot_hour",
	    "9", "slot_released", "true", "booking_id", booking, NULL);
}

static uint64_t
book(struct fx *fx, uint64_t t, const char *booking, const char *nik)
{
	return feed(fx, "queue.booking.created", t, "slot_date", "2025-03-03", "slot_hour", "9",
	    "booking_id", booking, "nik", nik, NULL);
}

static void
test_temporal_unordered(void **state)
{
	struct fx *fx = *state;

	use_rules(fx, TEMP_SELS TEMP_RULE("temporal", ""));
	/* Booking first, then the cancel: unordered still matches. */
	assert_int_equal(book(fx, T0, "B1", "n1"), 0);
	assert_int_equal(cancel(fx, T0 + 10000, "B0"), 1);
	/* A cancel not releasing the slot is in no selection. */
	assert_int_equal(feed(fx, "queue.booking.cancelled", T0 + 10001, "slot_date",
	    "2025-03-03", "slot_hour", "10", "slot_released", "false", NULL), 0);
	assert_int_equal(stats(fx, "t1").rs_matched, 2);
}

static void
test_temporal_ordered_edges(void **state)
{
	struct fx *fx = *state;
	saksi_alert a;

	use_rules(fx, TEMP_SELS TEMP_RULE("temporal_ordered", ""));
	/* Wrong order: nothing. */
	assert_int_equal(book(fx, T0, "B1", "n1"), 0);
	assert_int_equal(cancel(fx, T0 + 1000, "B0"), 0);
	/* Right order, exactly 10 s apart. */
	assert_int_equal(book(fx, T0 + 11000, "B2", "n2"), 1);
	get_alert(fx, 1, &a);
	assert_int_equal(a.al_first_ms, T0 + 1000);
	assert_int_equal(a.al_last_ms, T0 + 11000);
	assert_int_equal(a.al_threshold, 2);
	assert_int_equal(a.al_nevidence, 2);
	assert_int_equal(a.al_evidence[0], 1);
	assert_int_equal(a.al_evidence[1], 2);
	/* Another slot: 10 s and 1 ms apart is too far. */
	assert_int_equal(feed(fx, "queue.booking.cancelled", T0, "slot_date", "2025-03-04",
	    "slot_hour", "9", "slot_released", "true", NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 10001, "slot_date", "2025-03-04",
	    "slot_hour", "9", "nik", "n", NULL), 0);
}

static void
test_temporal_out_of_order_arrival(void **state)
{
	struct fx *fx = *state;

	use_rules(fx, TEMP_SELS TEMP_RULE("temporal_ordered", ""));
	/* The rebooking's event arrives first; the cancel (earlier in producer time)
	 * arrives 20 s later but within the lateness bound, and completes the order. */
	assert_int_equal(book(fx, T0 + 5000, "B2", "n2"), 0);
	assert_int_equal(cancel(fx, T0 + 3000, "B1"), 1);
}

/* differ, with the cancelled booking's NIK coming from a join on booking_id. */
static void
test_temporal_differ_with_join(void **state)
{
	struct fx *fx = *state;
	saksi_rules_result res;

	use_rules(fx, HDR "join booking\n  key booking_id\n  from queue.booking.created\n"
	    "  copy nik device_id\n  keep 30d\n" TEMP_SELS_ TEMP_RULE("temporal_ordered",
	    "  differ nik\n"));
	assert_int_equal(book(fx, T0, "B1", "n1"), 0);
	/* n1 cancels and books the same slot again for herself: no alert. */
	assert_int_equal(cancel(fx, T0 + 60000, "B1"), 0);
	assert_int_equal(book(fx, T0 + 61000, "B2", "n1"), 0);
	/* B2 cancelled, slot taken at once by n2: alert. */
	assert_int_equal(cancel(fx, T0 + 62000, "B2"), 0);
	res = feed_res(fx, "queue.booking.created", T0 + 63000, "slot_date", "2025-03-03",
	    "slot_hour", "9", "booking_id", "B3", "nik", "n2", NULL);
	assert_int_equal(res.rr_nalerts, 1);
	/* A cancel whose booking was never seen has no NIK: it cannot prove a difference. */
	assert_int_equal(cancel(fx, T0 + 64000, "B-unknown"), 0);
	assert_int_equal(stats(fx, "join:booking").rs_matched, 3);
	assert_int_equal(stats(fx, "join:booking").rs_groups, 3);
}

static void
test_temporal_three_in_order(void **state)
{
	struct fx *fx = *state;

	use_rules(fx, HDR "select fail\n  match claim.nik.checked\n  where result is mismatch\n"
	    "select ok\n  match claim.nik.checked\n  where result is match\n"
	    "rule t3\n  type temporal_ordered\n  severity high\n  events fail fail ok\n"
	    "  group-by nik\n  timespan 1h\n  suppress 1d\n  reraise never\n"
	    "  max_values 16\n");
	/* fail, ok, fail: not two failures before the match. */
	feed(fx, "claim.nik.checked", T0, "nik", "n", "result", "mismatch", NULL);
	assert_int_equal(feed(fx, "claim.nik.checked", T0 + 1, "nik", "n", "result", "match",
	    NULL), 0);
	assert_int_equal(feed(fx, "claim.nik.checked", T0 + 2, "nik", "n", "result", "mismatch",
	    NULL), 0);
	/* The earlier failure arrives late: fail, fail, ok now holds. */
	assert_int_equal(feed(fx, "claim.nik.checked", T0 - 5, "nik", "n", "result", "mismatch",
	    NULL), 1);
	/* Another NIK: fail then ok only. */
	feed(fx, "claim.nik.checked", T0, "nik", "m", "result", "mismatch", NULL);
	assert_int_equal(feed(fx, "claim.nik.checked", T0 + 1, "nik", "m", "result", "match",
	    NULL), 0);
}

/* ---- queue_order ---- */

#define Q_RULES HDR "select checkin\n  match queue.checkin\nselect called\n" \
    "  match queue.called\nrule q1\n  type queue_order\n  severity high\n" \
    "  checkin checkin\n  call called\n  group-by branch service queue_date\n" \
    "  seq ticket_seq\n  actor officer_id\n  exempt priority urgent priority\n" \
    "  places 2\n  timespan 2h\n  condition gte 2\n  suppress 1d\n  reraise 1\n"

/* The queue day of checkin() and call(); each scenario uses its own. */
static const char *qdate = "2025-03-03";

static uint64_t
checkin(struct fx *fx, uint64_t t, const char *seq)
{
	return feed(fx, "queue.checkin", t, "queue_date", qdate, "service", "jht_claim",
	    "ticket_seq", seq, NULL);
}

static uint64_t
call(struct fx *fx, uint64_t t, const char *seq, const char *officer, const char *prio)
{
	if (prio != NULL)
		return feed(fx, "queue.called", t, "queue_date", qdate, "service", "jht_claim",
		    "ticket_seq", seq, "officer_id", officer, "priority", prio, NULL);
	return feed(fx, "queue.called", t, "queue_date", qdate, "service", "jht_claim",
	    "ticket_seq", seq, "officer_id", officer, NULL);
}

/* Moves the watermark past t: an unrelated event 1 min + 1 ms later. */
static uint64_t
tick(struct fx *fx, uint64_t t)
{
	return feed(fx, "staff.login", t + MIN + 1, "officer_id", "nobody", NULL);
}

static void
test_queue_order(void **state)
{
	struct fx *fx = *state;
	saksi_alert a;
	char s[8];
	int i;

	use_rules(fx, Q_RULES);
	qdate = "2025-03-03";
	for (i = 1; i <= 8; i++) {
		snprintf(s, sizeof(s), "%d", i);
		checkin(fx, T0 + (uint64_t)i * 1000, s);
	}
	call(fx, T0 + 20000, "1", "OF-1", NULL);
	/* 5 jumps 2, 3, 4: three places, more than 2. */
	call(fx, T0 + 21000, "5", "OF-1", NULL);
	/* 8 jumps 2, 3, 4, 6, 7 but is urgent: exempt. */
	call(fx, T0 + 22000, "8", "OF-1", "urgent");
	/* 4 jumps 2, 3: two places: allowed. */
	call(fx, T0 + 23000, "4", "OF-2", NULL);
	/* Nothing is judged before the watermark passes the calls. */
	assert_int_equal(last_alert(fx), 0);
	assert_int_equal(tick(fx, T0 + 23000), 0);
	assert_int_equal(stats(fx, "q1").rs_alerts, 0);
	/* A second jump by OF-1: 7 goes ahead of 2, 3, 6. */
	call(fx, T0 + 30000, "7", "OF-1", NULL);
	assert_int_equal(tick(fx, T0 + 30000), 1);
	get_alert(fx, 1, &a);
	assert_string_equal(a.al_rule, "q1");
	assert_int_equal(a.al_value, 2);
	assert_int_equal(a.al_extra, 3);
	assert_int_equal(a.al_first_ms, T0 + 2000);
	assert_int_equal(a.al_last_ms, T0 + 30000);
	assert_non_null(strstr(a.al_group, "officer_id=OF-1"));
	assert_non_null(strstr(a.al_group, "queue_date=2025-03-03"));
	/* Evidence: the call and the check-ins of 2, 3 and 6. */
	assert_int_equal(a.al_nevidence, 4);
}

/* A check-in that arrives after the call but happened before it still counts; one that
 * happened after the call does not; one older than the timespan does not. */
static void
test_queue_order_late_checkin(void **state)
{
	struct fx *fx = *state;

	use_rules(fx, HDR "select checkin\n  match queue.checkin\nselect called\n"
	    "  match queue.called\nrule q1\n  type queue_order\n  severity high\n"
	    "  checkin checkin\n  call called\n  group-by branch service queue_date\n"
	    "  seq ticket_seq\n  actor officer_id\n  places 1\n  timespan 2h\n"
	    "  condition gte 1\n  suppress 0s\n  reraise never\n");
	qdate = "2025-03-03";
	checkin(fx, T0 - 2 * HOUR - 1, "1");       /* checked in too long ago */
	checkin(fx, T0 + 5000, "9");
	call(fx, T0 + 10000, "9", "OF-1", NULL);
	checkin(fx, T0 + 2000, "2");              /* arrives late, happened before */
	checkin(fx, T0 + 11000, "3");             /* happened after the call */
	assert_int_equal(tick(fx, T0 + 11000), 0);   /* only 2 skipped: not more than 1 */
	qdate = "2025-03-04";
	checkin(fx, T0 + 100000, "20");
	checkin(fx, T0 + 100001, "21");
	call(fx, T0 + 100002, "22", "OF-1", NULL);
	checkin(fx, T0 + 100000, "19");           /* arrives after the call, before it in time */
	assert_int_equal(tick(fx, T0 + 100002), 1);
	/* A ticket called before the call is no longer waiting. */
	qdate = "2025-03-05";
	checkin(fx, T0 + 200000, "30");
	checkin(fx, T0 + 200001, "31");
	call(fx, T0 + 200002, "30", "OF-2", NULL);
	call(fx, T0 + 200003, "32", "OF-2", NULL);
	assert_int_equal(tick(fx, T0 + 200003), 0);
}

/* ---- daily_cap ---- */

#define D_RULES HDR "select served\n  match queue.service.ended\n" \
    "  where outcome is completed\nselect ovr\n  match staff.quota.override\n" \
    "  where slot_hour absent\nrule d1\n  type daily_cap\n  severity high\n" \
    "  events served\n  group-by branch service\n  day queue_date\n" \
    "  quota default 3\n  quota KC-BIG 5\n  override ovr slot_date quota_after\n" \
    "  timespan 48h\n  suppress 1d\n  reraise 2\n"

static uint64_t
served(struct fx *fx, uint64_t t, const char *branch, const char *day)
{
	return feed(fx, "queue.service.ended", t, "branch", branch, "queue_date", day,
	    "service", "jht_claim", "outcome", "completed", NULL);
}

static void
test_daily_cap(void **state)
{
	struct fx *fx = *state;
	saksi_alert a;
	int i;

	use_rules(fx, D_RULES);
	for (i = 0; i < 3; i++)
		served(fx, T0 + (uint64_t)i, "KC-A", "2025-03-03");
	served(fx, T0 + 10, "KC-A", "2025-03-04");   /* another day */
	served(fx, T0 + 11, "KC-A", "2025-03-03");   /* the 4th */
	assert_int_equal(tick(fx, T0 + 11), 1);
	get_alert(fx, 1, &a);
	assert_int_equal(a.al_value, 4);
	assert_int_equal(a.al_threshold, 3);
	assert_int_equal(a.al_nevidence, 1);
	assert_int_equal(a.al_evidence[0], 4);
	assert_string_equal(a.al_group, "branch=KC-A,service=jht_claim,queue_date=2025-03-03");
	/* 5th suppressed, 6th = 4 + 2 raised again. */
	served(fx, T0 + 20, "KC-A", "2025-03-03");
	served(fx, T0 + 21, "KC-A", "2025-03-03");
	assert_int_equal(tick(fx, T0 + 21), 1);
	/* A branch with its own quota of 5, raised to 6 by an override for the day. */
	for (i = 0; i < 5; i++)
		served(fx, T0 + 100 + (uint64_t)i, "KC-BIG", "2025-03-03");
	feed(fx, "staff.quota.override", T0 + 200, "branch", "KC-BIG", "service", "jht_claim",
	    "slot_date", "2025-03-03", "officer_id", "OF-9", "quota_before", "5",
	    "quota_after", "6", "reason", "rush", NULL);
	served(fx, T0 + 300, "KC-BIG", "2025-03-03");
	assert_int_equal(tick(fx, T0 + 300), 0);
	served(fx, T0 + 400, "KC-BIG", "2025-03-03");
	assert_int_equal(tick(fx, T0 + 400), 1);
	get_alert(fx, last_alert(fx), &a);
	assert_int_equal(a.al_value, 7);
	assert_int_equal(a.al_threshold, 6);
	assert_int_equal(a.al_nevidence, 2);   /* the override and the 7th */
	/* An override for one hour only is not in the selection. */
	feed(fx, "staff.quota.override", T0 + 500, "branch", "KC-A", "service", "jht_claim",
	    "slot_date", "2025-03-05", "slot_hour", "9", "officer_id", "OF-9",
	    "quota_before", "3", "quota_after", "30", "reason", "rush", NULL);
	for (i = 0; i < 4; i++)
		served(fx, T0 + 600 + (uint64_t)i, "KC-A", "2025-03-05");
	assert_int_equal(tick(fx, T0 + 603), 1);
}

/* ---- caps ---- */

static void
test_cap_groups(void **state)
{
	struct fx *fx = *state;
	saksi_rules_result res;
	saksi_alert a;
	int i;

	use_rules(fx, HDR SEL_BOOK "rule r1\n  type event_count\n  severity high\n"
	    "  events book\n  group-by device_id\n  timespan 1h\n  condition gte 3\n"
	    "  suppress 1h\n  reraise 2\n  max_groups 2\n");
	feed(fx, "queue.booking.created", T0, "device_id", "a", NULL);
	feed(fx, "queue.booking.created", T0 + 1, "device_id", "b", NULL);
	res = feed_res(fx, "queue.booking.created", T0 + 2, "device_id", "c", NULL);
	assert_int_equal(res.rr_evicted, 1);
	assert_int_equal(res.rr_nalerts, 1);
	get_alert(fx, res.rr_first_alert, &a);
	assert_int_equal(a.al_kind, SAKSI_ALERT_CAP);
	assert_string_equal(a.al_rule, "r1");
	assert_int_equal(a.al_value, 1);
	assert_int_equal(a.al_threshold, 2);
	assert_int_equal(a.al_nevidence, 1);
	assert_int_equal(a.al_evidence[0], 0);     /* group a, the soonest to expire */
	assert_int_equal(stats(fx, "r1").rs_groups, 2);
	assert_int_equal(stats(fx, "r1").rs_groups_evicted, 1);
	/* Every eviction counts; alerts at the 1st, 2nd, 4th, ... */
	for (i = 0; i < 7; i++) {
		char d[8];

		snprintf(d, sizeof(d), "x%d", i);
		res = feed_res(fx, "queue.booking.created", T0 + 10 + (uint64_t)i, "device_id", d,
		    NULL);
		assert_int_equal(res.rr_evicted, 1);
		assert_int_equal(res.rr_nalerts, (i + 2) == 2 || (i + 2) == 4 || (i + 2) == 8);
	}
	assert_int_equal(stats(fx, "r1").rs_groups_evicted, 8);
}

/*
 * A group that an event makes last longer keeps its expiry key where it was (RULES.md
 * 4.1): the sweep that reaches the key first moves it instead of dropping a group still
 * in its window, and the cap still pushes out the group whose own time is soonest.
 */
static void
test_expiry_key_lags(void **state)
{
	struct fx *fx = *state;
	saksi_rules_result res;
	saksi_alert a;

	use_rules(fx, HDR SEL_BOOK "rule r1\n  type event_count\n  severity high\n"
	    "  events book\n  group-by device_id\n  timespan 1h\n  condition gte 3\n"
	    "  suppress 1h\n  reraise 2\n  max_groups 3\n");
	feed(fx, "queue.booking.created", T0, "device_id", "a", NULL);                 /* 0 */
	feed(fx, "queue.booking.created", T0 + 1000, "device_id", "b", NULL);          /* 1 */
	feed(fx, "queue.booking.created", T0 + 50 * MIN, "device_id", "a", NULL);      /* 2 */
	/* Watermark T0 + 1h + 1m: a's key (T0 + 1h) and b's are behind it; only b goes. */
	feed(fx, "queue.booking.created", T0 + HOUR + 2 * MIN, "device_id", "d", NULL); /* 3 */
	assert_int_equal(stats(fx, "r1").rs_groups, 2);
	assert_int_equal(stats(fx, "r1").rs_groups_evicted, 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + HOUR + 3 * MIN, "device_id",
	    "a", NULL), 0);                                                            /* 4 */
	res = feed_res(fx, "queue.booking.created", T0 + HOUR + 4 * MIN, "device_id", "a",
	    NULL);                                                                     /* 5 */
	assert_int_equal(res.rr_nalerts, 1);
	get_alert(fx, res.rr_first_alert, &a);
	assert_int_equal(a.al_nevidence, 3);
	assert_int_equal(a.al_evidence[0], 2);
	assert_int_equal(a.al_evidence[2], 5);
	feed(fx, "queue.booking.created", T0 + HOUR + 5 * MIN, "device_id", "e", NULL); /* 6 */
	/* Full: a's key (T0 + 1h50m) is first, but a lasts till T0 + 2h4m; d goes. */
	res = feed_res(fx, "queue.booking.created", T0 + HOUR + 6 * MIN, "device_id", "f",
	    NULL);                                                                     /* 7 */
	assert_int_equal(res.rr_evicted, 1);
	assert_int_equal(res.rr_nalerts, 1);
	get_alert(fx, res.rr_first_alert, &a);
	assert_int_equal(a.al_kind, SAKSI_ALERT_CAP);
	assert_int_equal(a.al_nevidence, 1);
	assert_int_equal(a.al_evidence[0], 3);
	assert_int_equal(stats(fx, "r1").rs_groups, 3);
}

static void
test_cap_values(void **state)
{
	struct fx *fx = *state;
	saksi_rules_result res;
	saksi_alert a;

	use_rules(fx, HDR SEL_BOOK "rule r1\n  type event_count\n  severity high\n"
	    "  events book\n  timespan 1h\n  condition gte 10\n  suppress 1h\n  reraise 2\n"
	    "  max_values 3\n");
	feed(fx, "queue.booking.created", T0, NULL);
	feed(fx, "queue.booking.created", T0 + 1, NULL);
	feed(fx, "queue.booking.created", T0 + 2, NULL);
	res = feed_res(fx, "queue.booking.created", T0 + 3, NULL);
	assert_int_equal(res.rr_evicted, 1);
	assert_int_equal(res.rr_nalerts, 1);
	get_alert(fx, 1, &a);
	assert_int_equal(a.al_kind, SAKSI_ALERT_CAP);
	assert_int_equal(a.al_evidence[0], 0);
	assert_int_equal(a.al_threshold, 3);
	assert_int_equal(stats(fx, "r1").rs_values_evicted, 1);
}

static void
test_cap_joins(void **state)
{
	struct fx *fx = *state;
	saksi_rules_result res;
	saksi_alert a;

	use_rules(fx, HDR "max_joins 2\njoin booking\n  key booking_id\n"
	    "  from queue.booking.created\n  copy nik\n  keep 30d\n" SEL_BOOK R_EC);
	feed(fx, "queue.booking.created", T0, "booking_id", "B1", "nik", "a", NULL);
	feed(fx, "queue.booking.created", T0 + 1, "booking_id", "B2", "nik", "b", NULL);
	/* The same key again replaces, it does not add. */
	feed(fx, "queue.booking.created", T0 + 2, "booking_id", "B2", "nik", "b", NULL);
	assert_int_equal(stats(fx, "join:booking").rs_groups, 2);
	res = feed_res(fx, "queue.booking.created", T0 + 3, "booking_id", "B3", "nik", "c",
	    NULL);
	assert_int_equal(res.rr_evicted, 1);
	get_alert(fx, res.rr_first_alert, &a);
	assert_int_equal(a.al_kind, SAKSI_ALERT_CAP);
	assert_string_equal(a.al_rule, "join:booking");
	assert_int_equal(stats(fx, "join:booking").rs_groups_evicted, 1);
	assert_int_equal(stats(fx, "join:booking").rs_groups, 2);
}

/* ---- conditions ---- */

static void
test_conditions(void **state)
{
	struct fx *fx = *state;

	use_rules(fx, HDR "select fast\n  match queue.booking.created\n"
	    "  where slot_opened_at within 1s\n  where slot_remaining ge 1\n"
	    "  where channel not counter kiosk\n  where email present\n"
	    "rule f1\n  type event_count\n  severity high\n  events fast\n  timespan 1h\n"
	    "  condition gte 1\n  suppress 0s\n  reraise never\n"
	    "select raised\n  match staff.quota.override\n  where quota_after gt quota_before\n"
	    "  where approver_id absent\nrule f2\n  type event_count\n  severity high\n"
	    "  events raised\n  timespan 1h\n  condition gte 1\n  suppress 0s\n"
	    "  reraise never\n"
	    "select other\n  match claim.submitted\n  where account_holder differs name\n"
	    "rule f3\n  type event_count\n  severity high\n  events other\n  timespan 1h\n"
	    "  condition gte 1\n  suppress 0s\n  reraise never\n");
	/* 2023-11-14T22:13:20Z is T0. */
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 1000, "slot_opened_at",
	    "2023-11-14T22:13:20Z", "slot_remaining", "4", "channel", "web", "email", "e",
	    NULL), 1);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 1001, "slot_opened_at",
	    "2023-11-14T22:13:20Z", "slot_remaining", "4", "channel", "web", "email", "e",
	    NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 1001, "slot_opened_at",
	    "2023-11-15T06:13:20.001+08:00", "slot_remaining", "4", "channel", "app", "email",
	    "e", NULL), 1);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 1001, "slot_opened_at",
	    "2023-11-14T22:13:21Z", "slot_remaining", "0", "channel", "web", "email", "e",
	    NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 1001, "slot_opened_at",
	    "2023-11-14T22:13:21Z", "slot_remaining", "1", "channel", "kiosk", "email", "e",
	    NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 1001, "slot_opened_at",
	    "2023-11-14T22:13:21Z", "slot_remaining", "1", "channel", "web", NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 1001, "slot_opened_at",
	    "2023-11-14T22:13:22Z", "slot_remaining", "1", "channel", "web", "email", "e",
	    NULL), 0);    /* opened after the booking */
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 1001, "slot_opened_at",
	    "2023-02-30T22:13:21Z", "slot_remaining", "1", "channel", "web", "email", "e",
	    NULL), 0);    /* no such day */
	assert_int_equal(feed(fx, "staff.quota.override", T0 + 2000, "quota_before", "10",
	    "quota_after", "11", NULL), 1);
	assert_int_equal(feed(fx, "staff.quota.override", T0 + 2000, "quota_before", "10",
	    "quota_after", "10", NULL), 0);
	assert_int_equal(feed(fx, "staff.quota.override", T0 + 2000, "quota_before", "10",
	    "quota_after", "11", "approver_id", "SUP-1", NULL), 0);
	assert_int_equal(feed(fx, "claim.submitted", T0 + 3000, "name", "SITI",
	    "account_holder", "SITI", NULL), 0);
	assert_int_equal(feed(fx, "claim.submitted", T0 + 3000, "name", "SITI",
	    "account_holder", "BUDI", NULL), 1);
	assert_int_equal(feed(fx, "claim.submitted", T0 + 3000, "name", "SITI", NULL), 0);
}

/* ---- the event contract ---- */

/* saksi_rules_eval, and the same verdict from saksi_rules_event_check alone (what
 * saksid's workers ask before the committer calls saksi_rules_eval_checked). */
static saksi_err
eval_check_too(const saksi_rules *r, MDB_txn *txn, const saksi_rule_event *ev,
               saksi_rules_result *res)
{
	saksi_err e = saksi_rules_eval(r, txn, ev, res);
	int blinded = ev != NULL && ev->re_nfields <= SAKSI_RULES_EVENT_FIELDS &&
	    (ev->re_nfields == 0 || ev->re_fields != NULL);

	assert_int_equal(saksi_rules_event_check(ev),
	    e == SAKSI_ERR_INVAL ? SAKSI_ERR_INVAL : SAKSI_OK);
	/* And from the check lib/detect.c makes of what it built itself, for an event it
	 * could build: personal flags as the names say, tokens where they say so. */
	for (size_t i = 0; blinded && i < ev->re_nfields; i++) {
		const saksi_rule_field *f = &ev->re_fields[i];
		int personal = saksi_blind_field_personal(f->rf_name);

		if (personal != (f->rf_personal != 0) ||
		    (personal && !saksi_blind_is_token(f->rf_value)))
			blinded = 0;
	}
	if (blinded)
		assert_int_equal(saksi_rules_event_check_blinded(ev),
		    e == SAKSI_ERR_INVAL ? SAKSI_ERR_INVAL : SAKSI_OK);
	return e;
}

static void
test_bad_events(void **state)
{
	struct fx *fx = *state;
	saksi_rule_field f[2];
	saksi_rule_event ev;
	saksi_rules_result res;
	MDB_txn *txn;
	char t[SAKSI_BLIND_TOKEN_LEN + 1], big[200];

	use_rules(fx, EC_RULES);
	memset(&ev, 0, sizeof(ev));
	ev.re_type = "queue.booking.created";
	ev.re_time_ms = T0;
	ev.re_branch = "KC-A";
	ev.re_fields = f;
	ev.re_nfields = 1;
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	/* A NIK in clear, whatever the flag says. */
	f[0] = (saksi_rule_field){ "nik", "3171014101900001", 1 };
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	f[0] = (saksi_rule_field){ "nik", "3171014101900001", 0 };
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	/* A token flagged non-personal, a non-personal field flagged personal. */
	f[0] = (saksi_rule_field){ "nik", tok("x", t), 0 };
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	f[0] = (saksi_rule_field){ "channel", tok("x", t), 1 };
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	/* The blinded check takes the flags as given: only lib/detect.c, which made the
	 * tokens itself, may ask it (rules.h). */
	f[0] = (saksi_rule_field){ "nik", "3171014101900001", 1 };
	assert_int_equal(saksi_rules_event_check_blinded(&ev), SAKSI_OK);
	f[0] = (saksi_rule_field){ "nik", tok("x", t), 1 };
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_OK);
	/* Names, values, duplicates, branch. */
	f[0] = (saksi_rule_field){ "Channel", "web", 0 };
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	f[0] = (saksi_rule_field){ "channel", "", 0 };
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	f[0] = (saksi_rule_field){ "channel", "w\neb", 0 };
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[SAKSI_RULES_VALUE_MAX + 1] = '\0';
	f[0] = (saksi_rule_field){ "channel", big, 0 };
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	big[SAKSI_RULES_VALUE_MAX] = '\0';
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_OK);
	f[0] = (saksi_rule_field){ "channel", "web", 0 };
	f[1] = (saksi_rule_field){ "channel", "app", 0 };
	ev.re_nfields = 2;
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	f[1] = (saksi_rule_field){ "branch", "KC-B", 0 };
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	f[1] = (saksi_rule_field){ "branch", "KC-A", 0 };
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_OK);
	ev.re_type = "Queue";
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	ev.re_type = "queue.booking.created";
	ev.re_branch = NULL;
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	ev.re_branch = "KC-A";
	ev.re_nfields = SAKSI_RULES_EVENT_FIELDS + 1;
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	ev.re_nfields = 1;
	ev.re_fields = NULL;
	assert_int_equal(eval_check_too(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_eval(NULL, txn, &ev, &res), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_eval(fx->r, NULL, &ev, &res), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_eval(fx->r, txn, NULL, &res), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_event_check(NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_event_check_blinded(NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_eval_checked(NULL, txn, &ev, &res), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_eval_checked(fx->r, NULL, &ev, &res), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_eval_checked(fx->r, txn, NULL, &res), SAKSI_ERR_INVAL);
	mdb_txn_abort(txn);
	/* Not attached. */
	{
		saksi_rules *r2 = parse_ok(EC_RULES);
		uint64_t id;

		assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
		ev.re_fields = f;
		assert_int_equal(saksi_rules_eval(r2, txn, &ev, &res), SAKSI_ERR_INVAL);
		assert_int_equal(saksi_rules_alert_last(r2, txn, &id), SAKSI_ERR_INVAL);
		mdb_txn_abort(txn);
		saksi_rules_free(r2);
	}
	/* A read-only transaction cannot take state. */
	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(saksi_rules_eval(fx->r, txn, &ev, &res), SAKSI_ERR_INVAL);
	mdb_txn_abort(txn);
}

/* ---- alerts: the log, the publisher's mark, JSON ---- */

static void
test_alert_log_and_json(void **state)
{
	struct fx *fx = *state;
	saksi_alert a;
	MDB_txn *txn;
	uint64_t id;
	char *json;
	char want[512], t[SAKSI_BLIND_TOKEN_LEN + 1];

	use_rules(fx, EC_RULES);
	feed(fx, "queue.booking.created", T0, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", T0 + 1, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", T0 + 2, "device_id", "d", NULL);
	get_alert(fx, 1, &a);
	assert_int_equal(saksi_alert_json(&a, &json), SAKSI_OK);
	snprintf(want, sizeof(want), "{\"evidence\":[0,1,2],\"extra\":0,\"first_ms\":%llu,"
	    "\"group\":\"device_id=%s\",\"id\":1,\"kind\":\"rule\",\"last_ms\":%llu,"
	    "\"rule\":\"r1\",\"severity\":\"high\",\"threshold\":3,\"total\":3,"
	    "\"trigger\":2,\"value\":3}", (unsigned long long)T0, tok("d", t),
	    (unsigned long long)T0 + 2);
	assert_string_equal(json, want);
	free(json);
	a.al_kind = 9;
	assert_int_equal(saksi_alert_json(&a, &json), SAKSI_ERR_INVAL);
	assert_null(json);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(saksi_rules_alert_get(fx->r, txn, 2, &a), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_rules_published_get(fx->r, txn, &id), SAKSI_OK);
	assert_int_equal(id, 0);
	assert_int_equal(saksi_rules_published_set(fx->r, txn, 2), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_rules_published_set(fx->r, txn, 1), SAKSI_OK);
	assert_int_equal(saksi_rules_published_set(fx->r, txn, 0), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_rules_published_get(fx->r, txn, &id), SAKSI_OK);
	assert_int_equal(id, 1);
	assert_int_equal(saksi_rules_stats(fx->r, txn, "nope", &(saksi_rule_stats){ 0 }),
	    SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_rules_stats(fx->r, txn, "join:nope",
	    &(saksi_rule_stats){ 0 }), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

/* ---- durability and replay ---- */

/* A seeded stream exercising every rule type, with out-of-order and late events. */
struct sev {
	const char *s_type;
	uint64_t s_time;
	const char *s_kv[12];
};

#define ALL_RULES HDR "join booking\n  key booking_id\n  from queue.booking.created\n" \
    "  copy nik device_id\n  keep 30d\n" \
    "select book\n  match queue.booking.created\nselect cancel\n" \
    "  match queue.booking.cancelled\nselect checkin\n  match queue.checkin\n" \
    "select called\n  match queue.called\nselect served\n  match queue.service.ended\n" \
    "rule ec\n  type event_count\n  severity high\n  events book\n  group-by device_id\n" \
    "  timespan 30s\n  condition gte 3\n  suppress 1m\n  reraise 2\n  max_groups 3\n" \
    "  max_values 8\n" \
    "rule vc\n  type value_count\n  severity high\n  events book cancel\n" \
    "  group-by device_id\n  field nik\n  timespan 1m\n  condition gte 3\n  suppress 2m\n" \
    "  reraise 1\n  max_groups 5\n" \
    "rule tp\n  type temporal_ordered\n  severity medium\n  events cancel book\n" \
    "  group-by slot_hour\n  differ nik\n  timespan 20s\n  suppress 30s\n  reraise 1\n" \
    "  max_values 32\n" \
    "rule qo\n  type queue_order\n  severity high\n  checkin checkin\n  call called\n" \
    "  group-by branch service queue_date\n  seq ticket_seq\n  actor officer_id\n" \
    "  places 1\n  timespan 10m\n  condition gte 1\n  suppress 1m\n  reraise 1\n" \
    "rule dc\n  type daily_cap\n  severity high\n  events served\n  group-by branch\n" \
    "  day queue_date\n  quota default 4\n  timespan 2d\n  suppress 1h\n  reraise 2\n" \
    "rule vs\n  type value_sum\n  severity low\n  events called\n  group-by officer_id\n" \
    "  field ticket_seq\n  timespan 30s\n  condition gte 40\n  suppress 20s\n" \
    "  reraise 20\n  max_values 6\n"

static size_t
make_stream(unsigned seed, struct sev *s, size_t n, char (*pool)[16])
{
	static const char *const devs[] = { "d0", "d1", "d2", "d3" };
	static const char *const hours[] = { "8", "9", "10" };
	uint64_t t = T0;
	size_t i;

	srand(seed);
	for (i = 0; i < n; i++) {
		int k = rand() % 6;
		/* Mostly forward; sometimes back within, or beyond, the 1 min lateness. */
		int r = rand() % 20;

		t += (uint64_t)(rand() % 2000);
		s[i].s_time = r == 0 ? t - (uint64_t)(rand() % 90000) : t;
		snprintf(pool[i * 3], 16, "B%d", rand() % 40);
		snprintf(pool[i * 3 + 1], 16, "n%d", rand() % 12);
		snprintf(pool[i * 3 + 2], 16, "%d", 1 + rand() % 30);
		memset(s[i].s_kv, 0, sizeof(s[i].s_kv));
		switch (k) {
		case 0:
		case 1:
			s[i].s_type = "queue.booking.created";
			s[i].s_kv[0] = "booking_id"; s[i].s_kv[1] = pool[i * 3];
			s[i].s_kv[2] = "nik"; s[i].s_kv[3] = pool[i * 3 + 1];
			s[i].s_kv[4] = "device_id"; s[i].s_kv[5] = devs[rand() % 4];
			s[i].s_kv[6] = "slot_hour"; s[i].s_kv[7] = hours[rand() % 3];
			break;
		case 2:
			s[i].s_type = "queue.booking.cancelled";
			s[i].s_kv[0] = "booking_id"; s[i].s_kv[1] = pool[i * 3];
			s[i].s_kv[2] = "slot_hour"; s[i].s_kv[3] = hours[rand() % 3];
			break;
		case 3:
			s[i].s_type = "queue.checkin";
			s[i].s_kv[0] = "queue_date"; s[i].s_kv[1] = "2025-03-03";
			s[i].s_kv[2] = "service"; s[i].s_kv[3] = "jht_claim";
			s[i].s_kv[4] = "ticket_seq"; s[i].s_kv[5] = pool[i * 3 + 2];
			break;
		case 4:
			s[i].s_type = "queue.called";
			s[i].s_kv[0] = "queue_date"; s[i].s_kv[1] = "2025-03-03";
			s[i].s_kv[2] = "service"; s[i].s_kv[3] = "jht_claim";
			s[i].s_kv[4] = "ticket_seq"; s[i].s_kv[5] = pool[i * 3 + 2];
			s[i].s_kv[6] = "officer_id"; s[i].s_kv[7] = rand() % 2 ? "OF-1" : "OF-2";
			break;
		default:
			s[i].s_type = "queue.service.ended";
			s[i].s_kv[0] = "queue_date"; s[i].s_kv[1] = rand() % 3 ? "2025-03-03" :
			    "2025-03-04";
			break;
		}
	}
	return n;
}

static void
feed_sev(struct fx *fx, const struct sev *s)
{
	saksi_rules_result res;

	switch (s->s_kv[0] == NULL ? 0 : s->s_kv[2] == NULL ? 1 : s->s_kv[4] == NULL ? 2 :
	    s->s_kv[6] == NULL ? 3 : 4) {
	case 1:
		res = feed_res(fx, s->s_type, s->s_time, s->s_kv[0], s->s_kv[1], NULL);
		break;
	case 2:
		res = feed_res(fx, s->s_type, s->s_time, s->s_kv[0], s->s_kv[1], s->s_kv[2],
		    s->s_kv[3], NULL);
		break;
	case 3:
		res = feed_res(fx, s->s_type, s->s_time, s->s_kv[0], s->s_kv[1], s->s_kv[2],
		    s->s_kv[3], s->s_kv[4], s->s_kv[5], NULL);
		break;
	default:
		res = feed_res(fx, s->s_type, s->s_time, s->s_kv[0], s->s_kv[1], s->s_kv[2],
		    s->s_kv[3], s->s_kv[4], s->s_kv[5], s->s_kv[6], s->s_kv[7], NULL);
		break;
	}
	(void)res;
}

/* Every alert as JSON, one string. */
static char *
dump_alerts(struct fx *fx)
{
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap), *j;
	uint64_t id, last = last_alert(fx);
	saksi_alert a;

	assert_non_null(out);
	out[0] = '\0';
	for (id = 1; id <= last; id++) {
		get_alert(fx, id, &a);
		assert_int_equal(saksi_alert_json(&a, &j), SAKSI_OK);
		while (len + strlen(j) + 2 > cap) {
			cap *= 2;
			assert_non_null(out = realloc(out, cap));
		}
		len += (size_t)sprintf(out + len, "%s\n", j);
		free(j);
	}
	return out;
}

static void
fresh_env(struct fx *fx)
{
	saksi_rules_free(fx->r);
	fx->r = NULL;
	env_close(fx);
	rm_rf(fx->dir);
	assert_int_equal(tmpdir_make(fx->dir, sizeof(fx->dir), "saksi-rules"), 0);
	env_open(fx);
	fx->next_index = 0;
	log_clear(fx);
}

#define NSTREAM 1500

static void
test_replay_and_restart(void **state)
{
	struct fx *fx = *state;
	static struct sev s[NSTREAM];
	static char pool[NSTREAM * 3][16];
	char *once, *again, *restarted;
	unsigned seed = (unsigned)time(NULL);
	const char *env = getenv("SAKSI_TEST_SEED");
	size_t i, kinds[4] = { 0 };

	if (env != NULL)
		seed = (unsigned)strtoul(env, NULL, 10);
	print_message("rules_test replay seed %u (SAKSI_TEST_SEED=%u to repeat)\n", seed, seed);
	make_stream(seed, s, NSTREAM, pool);
	use_rules(fx, ALL_RULES);
	for (i = 0; i < NSTREAM; i++)
		feed_sev(fx, &s[i]);
	once = dump_alerts(fx);
	/* The stream must actually exercise the rules. */
	for (i = 0; i < 6; i++) {
		static const char *const ids[] = { "ec", "vc", "tp", "qo", "dc", "vs" };
		saksi_rule_stats st = stats(fx, ids[i]);

		if (st.rs_alerts > 0)
			kinds[0]++;
	}
	assert_int_equal(kinds[0], 6);
	/* value_sum's own alerts among them, not only its cap's: one JSON line each. */
	{
		const char *l, *nl;
		int vs = 0;

		for (l = once; (nl = strchr(l, '\n')) != NULL; l = nl + 1) {
			const char *k = strstr(l, "\"kind\":\"rule\""), *rn = strstr(l,
			    "\"rule\":\"vs\"");

			vs |= k != NULL && rn != NULL && k < nl && rn < nl;
		}
		assert_true(vs);
	}
	assert_non_null(strstr(once, "\"kind\":\"late\""));
	assert_non_null(strstr(once, "\"kind\":\"cap\""));

	/* Replay from the start into fresh state: the same alerts, byte for byte. */
	fresh_env(fx);
	use_rules(fx, ALL_RULES);
	for (i = 0; i < NSTREAM; i++)
		feed_sev(fx, &s[i]);
	again = dump_alerts(fx);
	assert_string_equal(once, again);

	/* Again, closing and reopening the environment (and reloading the rules) at
	 * seeded points, and aborting a transaction before it commits (kill -9 before
	 * the commit): nothing lost, nothing twice. */
	fresh_env(fx);
	use_rules(fx, ALL_RULES);
	for (i = 0; i < NSTREAM; i++) {
		if (rand() % 97 == 0) {
			saksi_rules_free(fx->r);
			fx->r = NULL;
			env_close(fx);
			env_open(fx);
			use_rules(fx, ALL_RULES);
		}
		if (rand() % 13 == 0) {
			/* Evaluate, then lose the transaction: state must not move. */
			uint64_t before = last_alert(fx);
			saksi_rule_field f = { "device_id", "x", 1 };
			char t[SAKSI_BLIND_TOKEN_LEN + 1];
			saksi_rule_event ev = { fx->next_index, "queue.booking.created",
			    s[i].s_time, "KC-MAKASSAR", &f, 1 };
			MDB_txn *txn;

			f.rf_value = tok("zz", t);
			assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
			assert_int_equal(saksi_rules_eval(fx->r, txn, &ev, NULL), SAKSI_OK);
			mdb_txn_abort(txn);
			assert_int_equal(last_alert(fx), before);
		}
		feed_sev(fx, &s[i]);
	}
	restarted = dump_alerts(fx);
	assert_string_equal(once, restarted);
	free(once);
	free(again);
	free(restarted);
}

/* Reattaching: an unchanged rule keeps its state; a changed one starts afresh; a
 * changed threshold keeps the windows. */
static void
test_reattach(void **state)
{
	struct fx *fx = *state;

	use_rules(fx, EC_RULES);
	feed(fx, "queue.booking.created", T0, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", T0 + 1, "device_id", "d", NULL);
	/* Same file: the third event completes the window of the first two. */
	use_rules(fx, EC_RULES);
	assert_int_equal(stats(fx, "r1").rs_groups, 1);
	/* Threshold 2 now (not part of the state): the window is kept. */
	use_rules(fx, HDR SEL_BOOK "rule r1\n  type event_count\n  severity high\n"
	    "  events book\n  group-by device_id\n  timespan 10s\n  condition gte 2\n"
	    "  suppress 1h\n  reraise 2\n");
	assert_int_equal(stats(fx, "r1").rs_matched, 2);
	/* Timespan changed: the state of r1 is dropped. */
	use_rules(fx, HDR SEL_BOOK "rule r1\n  type event_count\n  severity high\n"
	    "  events book\n  group-by device_id\n  timespan 20s\n  condition gte 3\n"
	    "  suppress 1h\n  reraise 2\n");
	assert_int_equal(stats(fx, "r1").rs_matched, 0);
	assert_int_equal(stats(fx, "r1").rs_groups, 0);
	feed(fx, "queue.booking.created", T0 + 2, "device_id", "d", NULL);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 3, "device_id", "d", NULL), 0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 4, "device_id", "d", NULL), 1);
}

static void
test_state_version(void **state)
{
	struct fx *fx = *state;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 1, "M" }, v;
	uint8_t meta[34];

	use_rules(fx, EC_RULES);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, SAKSI_RULES_DB, 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, sizeof(meta));
	memcpy(meta, v.mv_data, sizeof(meta));
	meta[0] = 2;
	v.mv_data = meta;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(saksi_rules_attach(fx->r, txn), SAKSI_ERR_VERSION);
	meta[0] = 1;
	v.mv_size = 33;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(saksi_rules_attach(fx->r, txn), SAKSI_ERR_CORRUPT);
	mdb_txn_abort(txn);
	assert_int_equal(saksi_rules_attach(NULL, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_attach_readonly(NULL, NULL), SAKSI_ERR_INVAL);
}

/* A reader opens the state of a copy without writing; an empty environment has none. */
static void
test_attach_readonly(void **state)
{
	struct fx *fx = *state;
	saksi_rules *ro = parse_ok(EC_RULES);
	saksi_rules_result res;
	saksi_rule_event ev = { 0, "queue.booking.created", T0, "KC-A", NULL, 0 };
	saksi_alert a;
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(saksi_rules_attach_readonly(ro, txn), SAKSI_ERR_NOT_FOUND);
	mdb_txn_abort(txn);
	use_rules(fx, EC_RULES);
	feed(fx, "queue.booking.created", T0, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", T0 + 1, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", T0 + 2, "device_id", "d", NULL);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(saksi_rules_attach_readonly(ro, txn), SAKSI_OK);
	assert_int_equal(saksi_rules_alert_get(ro, txn, 1, &a), SAKSI_OK);
	assert_string_equal(a.al_rule, "r1");
	assert_int_equal(saksi_rules_eval(ro, txn, &ev, &res), SAKSI_ERR_INVAL);
	mdb_txn_abort(txn);
	saksi_rules_free(ro);
}

/* Alerts and suppression survive closing the environment; so does a deferred check. */
static void
test_persist_reopen(void **state)
{
	struct fx *fx = *state;

	use_rules(fx, EC_RULES);
	feed(fx, "queue.booking.created", T0, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", T0 + 1, "device_id", "d", NULL);
	saksi_rules_free(fx->r);
	fx->r = NULL;
	env_close(fx);
	env_open(fx);
	use_rules(fx, EC_RULES);
	/* Not lost: the window of the first two is still there. */
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 2, "device_id", "d", NULL), 1);
	saksi_rules_free(fx->r);
	fx->r = NULL;
	env_close(fx);
	env_open(fx);
	use_rules(fx, EC_RULES);
	/* Not twice: still suppressed, the alert log goes on from 1. */
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 3, "device_id", "d", NULL), 0);
	assert_int_equal(last_alert(fx), 1);

	use_rules(fx, Q_RULES);
	qdate = "2025-04-01";
	checkin(fx, T0 + 10, "1");
	checkin(fx, T0 + 11, "2");
	checkin(fx, T0 + 12, "3");
	call(fx, T0 + 13, "4", "OF-3", NULL);
	call(fx, T0 + 14, "8", "OF-3", NULL);
	saksi_rules_free(fx->r);
	fx->r = NULL;
	env_close(fx);
	env_open(fx);
	use_rules(fx, Q_RULES);
	assert_int_equal(tick(fx, T0 + 14), 1);
	assert_int_equal(last_alert(fx), 2);
}

/* queue_order at its edges: exactly places skipped is allowed; a check-in exactly
 * timespan before the call still waits, one millisecond earlier it has left. */
static void
test_queue_order_edges(void **state)
{
	struct fx *fx = *state;

	use_rules(fx, HDR "select checkin\n  match queue.checkin\nselect called\n"
	    "  match queue.called\nrule q1\n  type queue_order\n  severity high\n"
	    "  checkin checkin\n  call called\n  group-by branch service queue_date\n"
	    "  seq ticket_seq\n  actor officer_id\n  places 1\n  timespan 10s\n"
	    "  condition gte 1\n  suppress 0s\n  reraise never\n");
	qdate = "2025-05-01";
	checkin(fx, T0, "1");
	checkin(fx, T0 + 1, "2");
	call(fx, T0 + 10000, "3", "OF-1", NULL);    /* 1 (at the edge) and 2: two */
	assert_int_equal(tick(fx, T0 + 10000), 1);
	qdate = "2025-05-02";
	checkin(fx, T0 + MIN * 2, "1");
	checkin(fx, T0 + MIN * 2 + 1, "2");
	call(fx, T0 + MIN * 2 + 10001, "3", "OF-1", NULL);   /* 1 has left: only 2 */
	assert_int_equal(tick(fx, T0 + MIN * 2 + 10001), 0);
	/* A repeat call of a ticket does not count again; the first call is the one. */
	call(fx, T0 + MIN * 4, "3", "OF-1", NULL);
	assert_int_equal(tick(fx, T0 + MIN * 4), 0);
	assert_int_equal(stats(fx, "q1").rs_alerts, 1);
}

/* The map fills up: the error says so and the caller aborts; nothing half-written
 * survives. */
static void
test_map_full(void **state)
{
	struct fx *fx = *state;
#ifdef RULES_TEST_MEMORY
	/* The window state does not fill the map per event in memory mode. */
	fx->lmdb_only = 1;
#endif
	saksi_rules_result res;
	saksi_err e = SAKSI_OK;
	char d[32];
	uint64_t before, committed = 0;
	int i, rc;

	saksi_rules_free(fx->r);
	fx->r = NULL;
	env_close(fx);
	assert_int_equal(mdb_env_create(&fx->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(fx->env, 4), 0);
	assert_int_equal(mdb_env_set_mapsize(fx->env, 64 * 4096), 0);
	assert_int_equal(mdb_env_open(fx->env, fx->dir, MDB_NOTLS | MDB_NOSYNC, 0600), 0);
	use_rules(fx, HDR SEL_BOOK "rule r1\n  type event_count\n  severity high\n"
	    "  events book\n  group-by device_id\n  timespan 30d\n  condition gte 1000\n"
	    "  suppress 1h\n  reraise 2\n");
	for (i = 0; i < 100000 && e == SAKSI_OK; i++) {
		MDB_txn *txn;
		saksi_rule_field f = { "device_id", NULL, 1 };
		saksi_rule_event ev = { (uint64_t)i, "queue.booking.created", T0 + (uint64_t)i,
		    "KC-A", &f, 1 };
		char t[SAKSI_BLIND_TOKEN_LEN + 1];

		snprintf(d, sizeof(d), "dev%d", i);
		f.rf_value = tok(d, t);
		assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
		e = saksi_rules_eval(fx->r, txn, &ev, &res);
		if (e != SAKSI_OK) {
			mdb_txn_abort(txn);
			break;
		}
		/* LMDB may find the map full only at commit; the event is then lost with
		 * its state, as the ledger append would be. */
		rc = mdb_txn_commit(txn);
		assert_true(rc == 0 || rc == MDB_MAP_FULL);
		committed += rc == 0;
	}
	assert_int_equal(e, SAKSI_ERR_FULL);
	before = stats(fx, "r1").rs_groups;
	assert_int_equal(before, committed);
}

/* Stored records that contradict the format are refused, not trusted. */
static void
test_corrupt_state(void **state)
{
	struct fx *fx = *state;
#ifdef RULES_TEST_MEMORY
	/* Memory mode reads the state database at attach: test_mem_corrupt. */
	fx->lmdb_only = 1;
#endif
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v, junk = { 5, "junk!" };
	uint8_t key[64];
	size_t kl = 0;
	saksi_alert a;
	int rc;

	use_rules(fx, EC_RULES);
	feed(fx, "queue.booking.created", T0, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", T0 + 1, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", T0 + 2, "device_id", "d", NULL);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, SAKSI_RULES_DB, 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (((uint8_t *)k.mv_data)[0] == 'G') {
			kl = k.mv_size;
			memcpy(key, k.mv_data, kl);
		}
	mdb_cursor_close(cur);
	assert_true(kl > 0);
	k.mv_data = key;
	k.mv_size = kl;
	assert_int_equal(mdb_put(txn, dbi, &k, &junk, 0), 0);
	k.mv_data = "A\0\0\0\0\0\0\0\1";
	k.mv_size = 9;
	assert_int_equal(mdb_put(txn, dbi, &k, &junk, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(feed_res_err(fx, "queue.booking.created", T0 + 3, "device_id", "d",
	    NULL), SAKSI_ERR_CORRUPT);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(saksi_rules_alert_get(fx->r, txn, 1, &a), SAKSI_ERR_CORRUPT);
	mdb_txn_abort(txn);
}

/* A value_sum entry whose value is 0 or over RULES_SUM_VALUE_MAX was not written by the
 * engine: the group is corrupt, not summed. */
static void
test_value_sum_corrupt(void **state)
{
	struct fx *fx = *state;
#ifdef RULES_TEST_MEMORY
	fx->lmdb_only = 1;
#endif
	static const uint64_t bad[] = { 0, 1000000001 };
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t key[64], val[512];
	size_t kl = 0, vl = 0;
	int rc;

	use_rules(fx, VS_RULES);
	assert_int_equal(look(fx, T0, "k", "5"), 0);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, SAKSI_RULES_DB, 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (((uint8_t *)k.mv_data)[0] == 'G') {
			kl = k.mv_size;
			memcpy(key, k.mv_data, kl);
			assert_true(v.mv_size <= sizeof(val));
			vl = v.mv_size;
			memcpy(val, v.mv_data, vl);
		}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	assert_true(kl > 0);
	/* Type 7, one entry of 24 bytes whose value, 5, ends the record. */
	assert_int_equal(val[1], 7);
	assert_int_equal(saksi_get_u64(val + vl - 8), 5);
	for (size_t i = 0; i < 2; i++) {
		saksi_put_u64(val + vl - 8, bad[i]);
		assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
		k.mv_data = key;
		k.mv_size = kl;
		v.mv_data = val;
		v.mv_size = vl;
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
		assert_int_equal(mdb_txn_commit(txn), 0);
		assert_int_equal(feed_res_err(fx, "supervisor.access.logged", T0 + 1, "key_id",
		    "k", "revealed", "true", "participants", "1", NULL), SAKSI_ERR_CORRUPT);
	}
}

/* ---- the default rules against honest look-alikes and broker patterns ---- */

static void
use_default(struct fx *fx)
{
	char err[512];

	drop_rules(fx);
	assert_int_equal(saksi_rules_load(SAKSI_SOURCE_DIR "/schemas/rules/default.rules",
	    SAKSI_SOURCE_SCHEMA_DIR, &fx->r, err, sizeof(err)), SAKSI_OK);
	attach(fx, fx->r);
}

static uint64_t
claim(struct fx *fx, uint64_t t, const char *channel, const char *nik, const char *phone,
      const char *device, const char *account)
{
	return feed(fx, "claim.submitted", t, "channel", channel, "claim_id", nik, "nik", nik,
	    "phone", phone, "device_id", device, "bank_account", account, NULL);
}

static void
test_default_lookalikes(void **state)
{
	struct fx *fx = *state;
	char nik[16], acct[16];
	int i;

	use_default(fx);
	/* A family of three on one phone and one laptop, over a month. */
	for (i = 0; i < 3; i++) {
		snprintf(nik, sizeof(nik), "fam%d", i);
		snprintf(acct, sizeof(acct), "acct-fam%d", i);
		feed(fx, "queue.booking.created", T0 + (uint64_t)i * DAY, "channel", "web",
		    "nik", nik, "phone", "fam-phone", "device_id", "fam-laptop", NULL);
		claim(fx, T0 + (uint64_t)i * DAY + HOUR, "web", nik, "fam-phone", "fam-laptop",
		    acct);
	}
	/* A partner HR office filing 60 claims from one PC. */
	for (i = 0; i < 60; i++) {
		snprintf(nik, sizeof(nik), "hr%d", i);
		snprintf(acct, sizeof(acct), "acct-hr%d", i);
		claim(fx, T0 + 10 * DAY + (uint64_t)i * MIN, "partner_hr", nik, nik, "hr-pc",
		    acct);
	}
	/* A village office helping residents from 8:00 to 16:00, 30 minutes each (17
	 * bookings counting both ends of the day). */
	for (i = 0; i <= 16; i++) {
		snprintf(nik, sizeof(nik), "vil%d", i);
		feed(fx, "queue.booking.created", T0 + 20 * DAY + (uint64_t)i * 30 * MIN,
		    "channel", "web", "nik", nik, "phone", nik, "device_id", "village-pc", NULL);
	}
	/* An internet cafe helper at the fastest honest pace, 15 minutes a person, for
	 * four hours: 5 in any closed hour. */
	for (i = 0; i <= 16; i++) {
		snprintf(nik, sizeof(nik), "cafe%d", i);
		feed(fx, "queue.booking.created", T0 + 22 * DAY + (uint64_t)i * 15 * MIN,
		    "channel", "web", "nik", nik, "phone", nik, "device_id", "cafe-pc", NULL);
	}
	/* Carrier NAT: 300 people booking through one address within a minute, none of
	 * them at the opening second. */
	for (i = 0; i < 300; i++) {
		snprintf(nik, sizeof(nik), "nat%d", i);
		feed(fx, "queue.booking.created", T0 + 30 * DAY + (uint64_t)i * 100, "channel",
		    "app", "nik", nik, "phone", nik, "device_id", nik, "ip", "nat-ip", NULL);
	}
	assert_int_equal(last_alert(fx), 0);
}

static void
test_default_brokers(void **state)
{
	struct fx *fx = *state;
	saksi_alert a;
	char nik[16];
	uint64_t n;
	int i;

	use_default(fx);
	/* One account receiving three people's claims. */
	claim(fx, T0, "web", "v1", "p1", "dv1", "mule");
	claim(fx, T0 + DAY, "app", "v2", "p2", "dv2", "mule");
	assert_int_equal(claim(fx, T0 + 2 * DAY, "web", "v3", "p3", "dv3", "mule"), 1);
	get_alert(fx, last_alert(fx), &a);
	assert_string_equal(a.al_rule, "account_many_claimants");
	assert_int_equal(a.al_severity, SAKSI_SEV_CRITICAL);
	/* One phone for four people. */
	n = 0;
	for (i = 0; i < 4; i++) {
		snprintf(nik, sizeof(nik), "w%d", i);
		n += feed(fx, "claim.eligibility.checked", T0 + 3 * DAY + (uint64_t)i * HOUR,
		    "channel", "web", "result", "eligible", "nik", nik, "phone", "calo-phone",
		    NULL);
	}
	assert_int_equal(n, 1);
	get_alert(fx, last_alert(fx), &a);
	assert_string_equal(a.al_rule, "phone_many_nik");
	/* A slot released and rebooked for another NIK two seconds later. */
	feed(fx, "queue.booking.created", T0 + 4 * DAY, "channel", "web", "booking_id",
	    "BK-1", "service", "jht_claim", "slot_date", "2025-03-03", "slot_hour", "9",
	    "nik", "holder", "phone", "holder", "device_id", "calo-dev", NULL);
	feed(fx, "queue.booking.cancelled", T0 + 4 * DAY + HOUR, "booking_id", "BK-1",
	    "service", "jht_claim", "slot_date", "2025-03-03", "slot_hour", "9",
	    "slot_released", "true", "device_id", "calo-dev", NULL);
	n = feed(fx, "queue.booking.created", T0 + 4 * DAY + HOUR + 2000, "channel", "web",
	    "booking_id", "BK-2", "service", "jht_claim", "slot_date", "2025-03-03",
	    "slot_hour", "9", "nik", "client", "phone", "client", "device_id", "calo-dev", NULL);
	assert_int_equal(n, 2);   /* within seconds, and from the same device */
	assert_int_equal(stats(fx, "slot_rebooked_other_nik").rs_alerts, 1);
	assert_int_equal(stats(fx, "slot_rebooked_same_device").rs_alerts, 1);
	/* A broker booking from a stack of ID cards, one every 5 minutes. */
	n = 0;
	for (i = 0; i < 6; i++) {
		snprintf(nik, sizeof(nik), "stack%d", i);
		n += feed(fx, "queue.booking.created", T0 + 4 * DAY + 2 * HOUR +
		    (uint64_t)i * 5 * MIN, "channel", "app", "nik", nik, "phone", nik,
		    "device_id", "broker-phone", NULL);
	}
	assert_int_equal(n, 1);
	get_alert(fx, last_alert(fx), &a);
	assert_string_equal(a.al_rule, "device_many_nik_fast");
	/* An officer approving the claims of two people paid into one account. */
	claim(fx, T0 + 5 * DAY, "counter", "x1", "px1", "dx1", "acct-x");
	claim(fx, T0 + 5 * DAY + 1, "counter", "x2", "px2", "dx2", "acct-x");
	feed(fx, "claim.approved", T0 + 5 * DAY + HOUR, "claim_id", "x1", "officer_id",
	    "OF-7", NULL);
	assert_int_equal(feed(fx, "claim.approved", T0 + 5 * DAY + HOUR + 1, "claim_id", "x2",
	    "officer_id", "OF-7", NULL), 1);
	get_alert(fx, last_alert(fx), &a);
	assert_string_equal(a.al_rule, "officer_shared_account");
}

#ifdef RULES_TEST_MEMORY
/* ---- memory mode's own (RULES.md 4.4) ---- */

static uint64_t
count_keys(struct fx *fx, char pfx)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t n = 0;
	int rc;

	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, SAKSI_RULES_DB, 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		n += ((uint8_t *)k.mv_data)[0] == (uint8_t)pfx;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

static size_t raw_get1(struct fx *fx, char key, uint8_t *b, size_t cap);

/*
 * The window state memory holds now, as text: a forced snapshot (which writes every
 * key into the base) in a transaction that is then lost, the base's G, J, P and S keys
 * read in it. Comparing it before a crash and after the restart's tail compares memory.
 */
static char *
mem_state_dump(struct fx *fx)
{
	static const char hex[] = "0123456789abcdef";
	size_t cap = 1 << 16, len = 0, i;
	char *out = malloc(cap);
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	int written = 0, rc;

	assert_non_null(out);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(saksi_rules_snapshot(fx->r, txn, 0, 1, &written), SAKSI_OK);
	assert_int_equal(written, 1);
	assert_int_equal(mdb_dbi_open(txn, SAKSI_RULES_DB, 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *kb = k.mv_data, *vb = v.mv_data;

		if (kb[0] != 'G' && kb[0] != 'J' && kb[0] != 'P' && kb[0] != 'S')
			continue;
		while (len + 2 * (k.mv_size + v.mv_size) + 3 > cap)
			assert_non_null(out = realloc(out, cap *= 2));
		for (i = 0; i < k.mv_size; i++) {
			out[len++] = hex[kb[i] >> 4];
			out[len++] = hex[kb[i] & 15];
		}
		out[len++] = '=';
		for (i = 0; i < v.mv_size; i++) {
			out[len++] = hex[vb[i] >> 4];
			out[len++] = hex[vb[i] & 15];
		}
		out[len++] = '\n';
	}
	out[len] = '\0';
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return out;
}

/* Drops memory without a snapshot (kill -9), reopens, attaches, evaluates the tail. */
static void
crash_restart(struct fx *fx, const char *rules)
{
	saksi_rules_free(fx->r);
	fx->r = NULL;
	env_close(fx);
	env_open(fx);
	fx->r = parse_ok(rules);
	attach(fx, fx->r);
}

/* The seeded stream gives the same alerts, byte for byte, in LMDB mode and in memory
 * mode, with crashes at seeded points; the tail is never longer than the interval. */
static void
test_mem_same_as_lmdb(void **state)
{
	struct fx *fx = *state;
	static struct sev s[NSTREAM];
	static char pool[NSTREAM * 3][16];
	char *lmdb, *mem;
	unsigned seed = (unsigned)time(NULL) ^ 0x5a5a;
	const char *env = getenv("SAKSI_TEST_SEED");
	size_t i, with_deltas = 0, mid_fold = 0;
	uint64_t applied = 0, folds = 0, steps = 0;

	if (env != NULL)
		seed = (unsigned)strtoul(env, NULL, 10);
	print_message("rules_mem_test seed %u (SAKSI_TEST_SEED=%u to repeat)\n", seed, seed);
	srand(seed);
	make_stream(seed, s, NSTREAM, pool);
	fx->lmdb_only = 1;
	use_rules(fx, ALL_RULES);
	for (i = 0; i < NSTREAM; i++)
		feed_sev(fx, &s[i]);
	lmdb = dump_alerts(fx);
	fresh_env(fx);
	fx->lmdb_only = 0;
	use_rules(fx, ALL_RULES);
	for (i = 0; i < NSTREAM; i++) {
		if (rand() % 50 == 0) {
			saksi_rules_mem_stats ms;

			/* Some crashes fall between deltas and their fold: the attach
			 * applies them. */
			uint8_t d[128];
			char *before = NULL, *after;

			assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
			folds += ms.ms_folds;
			steps += ms.ms_fold_steps;
			if (count_keys(fx, 'Z') > 0)
				with_deltas++;
			/* Some fall between two steps of a fold ('D' 0x02): the attach
			 * skips what the base has already, and memory comes back the same. */
			if (count_keys(fx, 'D') > 0 && raw_get1(fx, 'D', d, sizeof(d)) > 17) {
				assert_int_equal(d[0], 2);
				mid_fold++;
				before = mem_state_dump(fx);
			}
			crash_restart(fx, ALL_RULES);
			assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
			applied += ms.ms_attach_folded;
			assert_int_equal(count_keys(fx, 'Z'), 0);
			if (before != NULL) {
				after = mem_state_dump(fx);
				assert_string_equal(before, after);
				free(before);
				free(after);
			}
		}
		feed_sev(fx, &s[i]);
	}
	mem = dump_alerts(fx);
	assert_string_equal(lmdb, mem);
	print_message("crashes with deltas %zu (%zu mid-fold), delta records applied at "
	    "attach %llu, folds %llu in %llu steps\n", with_deltas, mid_fold,
	    (unsigned long long)applied, (unsigned long long)folds,
	    (unsigned long long)steps);
	assert_true(with_deltas > 0);
	assert_true(steps > folds);
	assert_true(mid_fold > 0);
	assert_true(applied > 0);
	assert_true(folds > 0);
	assert_true(fx->tail_max > 0);
	assert_true(fx->tail_max <= RULES_TEST_MEMORY);
	free(lmdb);
	free(mem);
}

/* A snapshot in a transaction that is lost: its keys are written by the next one, and a
 * crash after that loses nothing. Memory follows aborted transactions. */
static void
test_mem_lost_snapshot(void **state)
{
	struct fx *fx = *state;
	saksi_rules_mem_stats ms;
	MDB_txn *txn;
	int written;

	use_rules(fx, EC_RULES);
	feed(fx, "queue.booking.created", T0, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", T0 + 1, "device_id", "d", NULL);
	assert_int_equal(count_keys(fx, 'G'), 0);
	/* Written, then aborted. */
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(saksi_rules_snapshot(fx->r, txn, 1000, 1, &written), SAKSI_OK);
	assert_int_equal(written, 1);
	mdb_txn_abort(txn);
	assert_int_equal(count_keys(fx, 'G'), 0);
	/* Not due (the clock starts now, no event since): nothing written. */
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(saksi_rules_snapshot(fx->r, txn, 2000, 0, &written), SAKSI_OK);
	assert_int_equal(written, 0);
	assert_int_equal(saksi_rules_snapshot(fx->r, txn, 3000, 1, &written), SAKSI_OK);
	assert_int_equal(written, 1);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(count_keys(fx, 'G'), 1);
	assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
	assert_true(ms.ms_rollbacks >= 1);
	assert_int_equal(ms.ms_pending, 0);
	/* The window of the first two survives a crash without a tail. */
	crash_restart(fx, EC_RULES);
	assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
	assert_int_equal(ms.ms_resume_from, ms.ms_resume_to);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 2, "device_id", "d", NULL), 1);
	/* An evaluation in a transaction that is lost moves nothing. */
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	{
		saksi_rule_field f = { "device_id", NULL, 1 };
		char t[SAKSI_BLIND_TOKEN_LEN + 1];
		saksi_rule_event ev = { fx->next_index, "queue.booking.created", T0 + 3,
		    "KC-MAKASSAR", &f, 1 };

		f.rf_value = tok("e", t);
		assert_int_equal(saksi_rules_eval(fx->r, txn, &ev, NULL), SAKSI_OK);
		assert_int_equal(saksi_rules_eval(fx->r, txn, &ev, NULL), SAKSI_OK);
	}
	mdb_txn_abort(txn);
	/* Counters are memory's: the lost ones go at the next evaluation's check. */
	feed(fx, "queue.booking.created", T0 + 3, "device_id", "e", NULL);
	assert_int_equal(stats(fx, "r1").rs_matched, 4);
	assert_int_equal(stats(fx, "r1").rs_groups, 2);
	/* Timed: due once ms have passed with an event since the last. */
	drop_rules(fx);
	fx->r = parse_ok(EC_RULES);
	assert_int_equal(saksi_rules_memory(fx->r, 1000, 500), SAKSI_OK);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(saksi_rules_attach(fx->r, txn), SAKSI_OK);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(saksi_rules_snapshot(fx->r, txn, 10000, 0, &written), SAKSI_OK);
	assert_int_equal(written, 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	feed(fx, "queue.booking.created", T0 + 4, "device_id", "e", NULL);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(saksi_rules_snapshot(fx->r, txn, 10499, 0, &written), SAKSI_OK);
	assert_int_equal(written, 0);
	assert_int_equal(saksi_rules_snapshot(fx->r, txn, 10500, 0, &written), SAKSI_OK);
	assert_int_equal(written, 1);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

/* The tail must raise again exactly the log's alerts: a log that differs is loud. */
static void
test_mem_tail_mismatch(void **state)
{
	struct fx *fx = *state;
	saksi_rules *r2;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 9, "A\0\0\0\0\0\0\0\1" }, v;
	uint8_t rec[1024];
	uint64_t from, to, i;

	use_rules(fx, EC_RULES);
	feed(fx, "queue.booking.created", T0, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", T0 + 1, "device_id", "d", NULL);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 2, "device_id", "d", NULL), 1);
	/* Alter alert 1's value in the log: the tail's alert no longer matches. */
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, SAKSI_RULES_DB, 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_true(v.mv_size <= sizeof(rec));
	memcpy(rec, v.mv_data, v.mv_size);
	rec[v.mv_size - 9]++;     /* the last byte before the evidence count and index */
	v.mv_data = rec;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	saksi_rules_free(fx->r);
	fx->r = NULL;
	assert_non_null(r2 = parse_ok(EC_RULES));
	assert_int_equal(saksi_rules_memory(r2, RULES_TEST_MEMORY, 0), SAKSI_OK);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(saksi_rules_attach(r2, txn), SAKSI_OK);
	assert_int_equal(saksi_rules_resume_range(r2, &from, &to), SAKSI_OK);
	assert_int_equal(from, 0);
	assert_int_equal(to, 3);
	for (i = from; i < to; i++) {
		const struct logged *l = &fx->log[i];
		saksi_rule_event ev = { i, l->l_type, l->l_time, l->l_branch, l->l_f, l->l_n };

		assert_int_equal(saksi_rules_eval(r2, txn, &ev, NULL),
		    i < 2 ? SAKSI_OK : SAKSI_ERR_CORRUPT);
	}
	mdb_txn_abort(txn);
	saksi_rules_free(r2);
	/* A tail that stops short has not raised the log's alert: the check says so. */
	assert_non_null(r2 = parse_ok(EC_RULES));
	assert_int_equal(saksi_rules_memory(r2, RULES_TEST_MEMORY, 0), SAKSI_OK);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(saksi_rules_attach(r2, txn), SAKSI_OK);
	assert_int_equal(saksi_rules_resume_check(r2, txn), SAKSI_ERR_CORRUPT);
	/* A tail event that raises an alert the log lacks. */
	{
		const struct logged *l = &fx->log[0];
		saksi_rule_event ev = { 0, l->l_type, l->l_time, l->l_branch, l->l_f, l->l_n };
		saksi_rule_event ev1 = ev;
		saksi_rule_event ev2 = ev;

		ev1.re_index = 1;
		ev2.re_index = 2;
		assert_int_equal(saksi_rules_eval(r2, txn, &ev, NULL), SAKSI_OK);
		assert_int_equal(saksi_rules_eval(r2, txn, &ev1, NULL), SAKSI_OK);
		ev2.re_time_ms = T0 + 2;
		/* Alert 1 again, but as the altered log does not have it. */
		assert_int_equal(saksi_rules_eval(r2, txn, &ev2, NULL), SAKSI_ERR_CORRUPT);
	}
	mdb_txn_abort(txn);
	saksi_rules_free(r2);
}

/* Arguments, and the switch between the two modes. */
static void
test_mem_args_and_switch(void **state)
{
	struct fx *fx = *state;
	saksi_rules *r2 = parse_ok(EC_RULES);
	saksi_rules_mem_stats ms;
	uint64_t from, to;
	MDB_txn *txn;

	assert_int_equal(saksi_rules_memory(NULL, 1, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_memory(r2, 0, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_snapshot(r2, NULL, 0, 1, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_resume_range(r2, &from, &to), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_resume_range(NULL, NULL, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_resume_check(NULL, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_memory_stats(r2, &ms), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_memory_stats(NULL, NULL), SAKSI_ERR_INVAL);
	/* LMDB mode has no snapshot. */
	fx->lmdb_only = 1;
	use_rules(fx, EC_RULES);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(saksi_rules_snapshot(fx->r, txn, 0, 1, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rules_resume_check(fx->r, txn), SAKSI_ERR_INVAL);
	mdb_txn_abort(txn);
	assert_int_equal(saksi_rules_memory(fx->r, 5, 0), SAKSI_ERR_INVAL);   /* attached */
	feed(fx, "queue.booking.created", T0, "device_id", "d", NULL);
	feed(fx, "queue.booking.created", T0 + 1, "device_id", "d", NULL);
	/* LMDB mode's state is current: memory mode starts from it with no tail. */
	fx->lmdb_only = 0;
	use_rules(fx, EC_RULES);
	assert_int_equal(saksi_rules_resume_range(fx->r, &from, &to), SAKSI_OK);
	assert_int_equal(from, to);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 2, "device_id", "d", NULL), 1);
	feed(fx, "queue.booking.created", T0 + 3, "device_id", "e", NULL);
	/* Back to LMDB mode after a clean stop (drop_rules writes a snapshot). */
	drop_rules(fx);
	/* The snapshot holds the groups, not their expiry index (made from them). */
	assert_int_equal(count_keys(fx, 'G'), 2);
	assert_int_equal(count_keys(fx, 'X'), 0);
	fx->lmdb_only = 1;
	use_rules(fx, EC_RULES);
	assert_int_equal(count_keys(fx, 'N'), 0);
	assert_int_equal(count_keys(fx, 'C'), 0);
	/* LMDB mode wrote the index at attach, and expiry goes by it. */
	assert_int_equal(count_keys(fx, 'X'), 2);
	assert_int_equal(stats(fx, "r1").rs_groups, 2);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 4, "device_id", "d", NULL), 0);
	assert_int_equal(last_alert(fx), 1);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 3 * HOUR, "device_id", "f",
	    NULL), 0);
	assert_int_equal(stats(fx, "r1").rs_groups, 1);
	assert_int_equal(count_keys(fx, 'X'), 1);
	/* Memory mode again: the index LMDB mode wrote leaves the database. */
	fx->lmdb_only = 0;
	use_rules(fx, EC_RULES);
	assert_int_equal(count_keys(fx, 'X'), 0);
	assert_int_equal(count_keys(fx, 'G'), 1);
	/* A state written by another: memory refuses to go on with it. */
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	{
		MDB_dbi dbi;
		MDB_val k = { 1, "C" }, v;
		uint8_t c[17] = { 1 };

		c[8] = 99;        /* generation 99: not ours */
		v.mv_size = sizeof(c);
		v.mv_data = c;
		assert_int_equal(mdb_dbi_open(txn, SAKSI_RULES_DB, 0, &dbi), 0);
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	}
	assert_int_equal(saksi_rules_snapshot(fx->r, txn, 0, 1, NULL), SAKSI_ERR_CORRUPT);
	mdb_txn_abort(txn);
	saksi_rules_free(r2);
}

/* A snapshot holding a group that contradicts the format is refused at use. */
static void
test_mem_corrupt(void **state)
{
	struct fx *fx = *state;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v, junk = { 5, "junk!" };
	uint8_t key[64];
	size_t kl = 0;
	int rc;

	use_rules(fx, EC_RULES);
	feed(fx, "queue.booking.created", T0, "device_id", "d", NULL);
	drop_rules(fx);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, SAKSI_RULES_DB, 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (((uint8_t *)k.mv_data)[0] == 'G') {
			kl = k.mv_size;
			memcpy(key, k.mv_data, kl);
		}
	mdb_cursor_close(cur);
	assert_true(kl > 0);
	k.mv_data = key;
	k.mv_size = kl;
	assert_int_equal(mdb_put(txn, dbi, &k, &junk, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	fx->r = parse_ok(EC_RULES);
	attach(fx, fx->r);
	assert_int_equal(feed_res_err(fx, "queue.booking.created", T0 + 3, "device_id", "d",
	    NULL), SAKSI_ERR_CORRUPT);
	/* Nothing of the failed evaluation stays in memory: another group still works. */
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 3, "device_id", "x", NULL), 0);
	assert_int_equal(stats(fx, "r1").rs_matched, 2);
}
/*
 * A start and a stop before any event (a fresh appliance restarted): the stop's snapshot
 * says the state holds no leaf, and the next start resumes from leaf 0 (saksid before
 * 2026-11-25 wrote 'C' = "all of them" and refused its next start as inconsistent). A
 * state written so by that code loads too, and evaluates on.
 */
static void
test_mem_stop_before_any_event(void **state)
{
	struct fx *fx = *state;
	saksi_rules_mem_stats ms;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	uint8_t ck = 'C', cv[17];

	use_rules(fx, EC_RULES);
	for (int i = 0; i < 3; i++) {
		use_rules(fx, EC_RULES);        /* the stop's forced snapshot, a start */
		assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
		assert_int_equal(ms.ms_resume_from, 0);
		assert_int_equal(ms.ms_resume_to, 0);
	}
	drop_rules(fx);
	/* 'C' as the old code left it: next leaf all ones. */
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, SAKSI_RULES_DB, 0, &dbi), 0);
	k.mv_size = 1;
	k.mv_data = &ck;
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, sizeof(cv));
	memcpy(cv, v.mv_data, sizeof(cv));
	memset(cv + 9, 0xff, 8);
	v.mv_data = cv;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	fx->r = parse_ok(EC_RULES);
	attach(fx, fx->r);
	assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
	assert_int_equal(ms.ms_resume_from, 0);
	assert_int_equal(ms.ms_resume_to, 0);
	feed(fx, "queue.booking.created", T0, "device_id", "d", NULL);
	assert_int_equal(stats(fx, "r1").rs_matched, 1);
	/* And after a crash the state resumes from what it holds, as always. */
	crash_restart(fx, EC_RULES);
	assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
	assert_true(ms.ms_resume_to <= 1);
}
/* An index key of the map (X fp time hash, K likewise) for record letter rec. */
static void
map_keys(uint8_t *rk, uint8_t *xk, char rec, uint8_t fill, uint64_t t)
{
	rk[0] = (uint8_t)rec;
	memset(rk + 1, 7, 8);
	memset(rk + 9, fill, 32);
	xk[0] = rec == 'G' ? 'X' : 'K';
	memset(xk + 1, 7, 8);
	saksi_put_u64(xk + 9, t);
	memset(xk + 17, fill, 32);
}

/*
 * The expiry index keys in memory are entries of the records they index (rules_mem.c):
 * held, read, found first and undone as keys of their own would be, and what memory
 * cannot hold (an index key without its record, two for one record) refused.
 */
static void
test_mem_index_keys(void **state)
{
	struct rmem *m;
	uint8_t g[41], x[49], x2[49], g2[41], x3[49], j[41], k[49], out[64], *dst;
	MDB_val v;
	size_t kl;
	uint64_t gen;

	(void)state;
	assert_int_equal(rmem_new(&m), SAKSI_OK);
	map_keys(g, x, 'G', 0xaa, 1000);
	map_keys(g2, x3, 'G', 0x55, 1000);
	map_keys(j, k, 'J', 0x11, 500);
	memcpy(x2, x, sizeof(x));
	saksi_put_u64(x2 + 9, 2000);
	assert_int_equal(rmem_put(m, x, sizeof(x), "", 0), SAKSI_ERR_CORRUPT);
	assert_int_equal(rmem_put(m, g, sizeof(g), "rec", 3), SAKSI_OK);
	assert_int_equal(rmem_put(m, x, sizeof(x), "", 0), SAKSI_OK);
	assert_int_equal(rmem_put(m, x, sizeof(x), "", 0), SAKSI_OK);   /* again: the same */
	assert_int_equal(rmem_count(m), 2);
	assert_int_equal(rmem_put(m, x2, sizeof(x2), "", 0), SAKSI_ERR_CORRUPT);
	assert_int_equal(rmem_put(m, x, sizeof(x), "v", 1), SAKSI_ERR_INVAL);
	assert_int_equal(rmem_put(m, x, sizeof(x) - 1, "", 0), SAKSI_ERR_INVAL);
	assert_int_equal(rmem_put_reserve(m, x, sizeof(x), 1, &dst), SAKSI_ERR_INVAL);
	assert_int_equal(rmem_get(m, x, sizeof(x), &v), SAKSI_OK);
	assert_int_equal(v.mv_size, 0);
	assert_int_equal(rmem_get(m, x2, sizeof(x2), &v), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(rmem_first(m, x, 9, out, &kl), SAKSI_OK);
	assert_int_equal(kl, sizeof(x));
	assert_memory_equal(out, x, sizeof(x));
	/* The same time, a lower hash: first, as in LMDB's order. A K key of a join. */
	assert_int_equal(rmem_put(m, g2, sizeof(g2), "r2", 2), SAKSI_OK);
	assert_int_equal(rmem_put(m, x3, sizeof(x3), "", 0), SAKSI_OK);
	assert_int_equal(rmem_put(m, j, sizeof(j), "j", 1), SAKSI_OK);
	assert_int_equal(rmem_put(m, k, sizeof(k), "", 0), SAKSI_OK);
	assert_int_equal(rmem_first(m, x, 9, out, &kl), SAKSI_OK);
	assert_memory_equal(out, x3, sizeof(x3));
	assert_int_equal(rmem_first(m, k, 9, out, &kl), SAKSI_OK);
	assert_memory_equal(out, k, sizeof(k));
	assert_int_equal(rmem_count(m), 6);
	/* A generation that drops a record (its index key first), then is undone. */
	gen = rmem_gen(m);
	rmem_next_gen(m);
	assert_int_equal(rmem_del(m, x2, sizeof(x2)), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(rmem_del(m, x3, sizeof(x3)), SAKSI_OK);
	assert_int_equal(rmem_del(m, g2, sizeof(g2)), SAKSI_OK);
	assert_int_equal(rmem_del(m, k, sizeof(k)), SAKSI_OK);
	assert_int_equal(rmem_first(m, x, 9, out, &kl), SAKSI_OK);
	assert_memory_equal(out, x, sizeof(x));
	assert_int_equal(rmem_first(m, k, 9, out, &kl), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(rmem_count(m), 3);
	assert_int_equal(rmem_undo_to(m, gen), SAKSI_OK);
	assert_int_equal(rmem_count(m), 6);
	assert_int_equal(rmem_first(m, x, 9, out, &kl), SAKSI_OK);
	assert_memory_equal(out, x3, sizeof(x3));
	assert_int_equal(rmem_get(m, k, sizeof(k), &v), SAKSI_OK);
	/* A record dropped with its index key still there takes the key with it. */
	assert_int_equal(rmem_del(m, g, sizeof(g)), SAKSI_OK);
	assert_int_equal(rmem_count(m), 4);
	assert_int_equal(rmem_get(m, x, sizeof(x), &v), SAKSI_ERR_NOT_FOUND);
	rmem_free(m);
}

/* A raw write into the state database, as damage or another program would make it. */
static void
raw_put(struct fx *fx, const void *k, size_t kl, const void *v, size_t vl)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val kv = { kl, (void *)k }, vv = { vl, (void *)v };

	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, SAKSI_RULES_DB, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &kv, &vv, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

/* The value of a 1-byte key in the state database, copied into b; its length. */
static size_t
raw_get1(struct fx *fx, char key, uint8_t *b, size_t cap)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val kv = { 1, &key }, vv;
	size_t n;

	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, SAKSI_RULES_DB, 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &kv, &vv), 0);
	n = vv.mv_size;
	assert_true(n <= cap);
	memcpy(b, vv.mv_data, n);
	mdb_txn_abort(txn);
	return n;
}

/* Attaches text in memory mode after a crash; the attach's code. */
static saksi_err
crash_attach_err(struct fx *fx, const char *text)
{
	MDB_txn *txn;
	saksi_err e;

	saksi_rules_free(fx->r);
	fx->r = NULL;
	env_close(fx);
	env_open(fx);
	fx->r = parse_ok(text);
	assert_int_equal(saksi_rules_memory(fx->r, RULES_TEST_MEMORY, 0), SAKSI_OK);
	assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
	e = saksi_rules_attach(fx->r, txn);
	mdb_txn_abort(txn);
	saksi_rules_free(fx->r);
	fx->r = NULL;
	return e;
}

/*
 * Snapshots append deltas ('Z', 'D'); an attach applies them to the base in order,
 * tombstones included; a fold (the deltas past their bound, or a forced snapshot)
 * writes them into the base; deltas that contradict the format or 'D' are refused.
 */
static void
test_mem_deltas(void **state)
{
	struct fx *fx = *state;
	saksi_rules_mem_stats ms;
	uint8_t b[64], zk[13] = { 'Z' }, zv[16] = { 1, 2, 'G', 'x' };
	uint64_t nz, groups;
	saksi_err e = SAKSI_OK;
	char dev[16];
	int i;

	use_rules(fx, EC_RULES);
	/* Seven events, seven groups: the snapshot is deltas; the base holds no group,
	 * and 'N' (version 2: deltas may follow) is in the base. */
	for (i = 0; i < RULES_TEST_MEMORY; i++) {
		snprintf(dev, sizeof(dev), "d%d", i);
		assert_int_equal(feed(fx, "queue.booking.created", T0 + (uint64_t)i,
		    "device_id", dev, NULL), 0);
	}
	assert_int_equal(count_keys(fx, 'G'), 0);
	nz = count_keys(fx, 'Z');
	assert_int_equal(nz, RULES_TEST_MEMORY + 1);     /* the groups and 'S' */
	assert_int_equal(count_keys(fx, 'D'), 1);
	assert_int_equal(raw_get1(fx, 'D', b, sizeof(b)), 17);
	assert_int_equal(b[0], 1);
	assert_int_equal(saksi_get_u64(b + 1), 1);
	assert_int_equal(saksi_get_u64(b + 9), nz);
	assert_int_equal(raw_get1(fx, 'N', b, sizeof(b)), 34);
	assert_int_equal(b[0], 2);
	assert_int_equal(saksi_get_u64(b + 26), RULES_TEST_MEMORY);
	/* kill -9: the attach applies them and deletes them. */
	crash_restart(fx, EC_RULES);
	assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
	assert_int_equal(ms.ms_attach_folded, nz);
	assert_int_equal(count_keys(fx, 'Z'), 0);
	assert_int_equal(count_keys(fx, 'D'), 0);
	assert_int_equal(count_keys(fx, 'G'), RULES_TEST_MEMORY);
	assert_int_equal(stats(fx, "r1").rs_groups, RULES_TEST_MEMORY);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 10, "device_id", "d0", NULL),
	    0);
	assert_int_equal(feed(fx, "queue.booking.created", T0 + 11, "device_id", "d0", NULL),
	    1);
	/* Three hours on, the groups go: their deltas are tombstones, which the
	 * attach applies as deletions. */
	for (i = 0; i < RULES_TEST_MEMORY; i++)
		feed(fx, "queue.booking.created", T0 + 3 * HOUR + (uint64_t)i, "device_id",
		    "late", NULL);
	assert_true(count_keys(fx, 'Z') > 0);
	assert_int_equal(count_keys(fx, 'G'), RULES_TEST_MEMORY);
	crash_restart(fx, EC_RULES);
	assert_int_equal(count_keys(fx, 'G'), 1);
	assert_int_equal(stats(fx, "r1").rs_groups, 1);
	/* Past the bound (RULES_FOLD_INTERVALS intervals' events here), a snapshot folds. */
	for (i = 0; i < 2 * RULES_FOLD_INTERVALS * RULES_TEST_MEMORY; i++) {
		snprintf(dev, sizeof(dev), "f%d", i);
		feed(fx, "queue.booking.created", T0 + 4 * HOUR + (uint64_t)i, "device_id",
		    dev, NULL);
	}
	assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
	assert_true(ms.ms_folds >= 1);
	assert_true(count_keys(fx, 'Z') <= (RULES_FOLD_INTERVALS + 2) * (RULES_TEST_MEMORY + 1));
	groups = stats(fx, "r1").rs_groups;
	assert_true(groups >= 2 * RULES_FOLD_INTERVALS * RULES_TEST_MEMORY);
	crash_restart(fx, EC_RULES);
	assert_int_equal(stats(fx, "r1").rs_groups, groups);
	/* A forced snapshot (a stop) folds: no deltas left, every group in the base. */
	feed(fx, "queue.booking.created", T0 + 4 * HOUR + 100, "device_id", "g", NULL);
	groups = stats(fx, "r1").rs_groups;
	drop_rules(fx);
	assert_int_equal(count_keys(fx, 'Z'), 0);
	assert_int_equal(count_keys(fx, 'D'), 0);
	assert_int_equal(count_keys(fx, 'G'), groups);
	/* The state of main's build (no deltas, 'N' version 1) attaches and goes on. */
	assert_int_equal(raw_get1(fx, 'N', b, sizeof(b)), 34);
	b[0] = 1;
	raw_put(fx, "N", 1, b, 34);
	crash_restart(fx, EC_RULES);
	assert_int_equal(stats(fx, "r1").rs_groups, groups);
	feed(fx, "queue.booking.created", T0 + 4 * HOUR + 101, "device_id", "g2", NULL);
	b[0] = 3;                                    /* an 'N' from a later build */
	raw_put(fx, "N", 1, b, 34);
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_VERSION);
	b[0] = 2;
	raw_put(fx, "N", 1, b, 34);

	/* Hostile deltas. A record of a snapshot 'D' does not call complete: */
	saksi_put_u64(zk + 1, 1);
	raw_put(fx, zk, sizeof(zk), zv, 4);           /* no 'D' at all */
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	memset(b, 0, 17);
	b[0] = 1;
	saksi_put_u64(b + 1, 1);
	raw_put(fx, "D", 1, b, 17);
	saksi_put_u64(zk + 1, 2);
	raw_put(fx, zk, sizeof(zk), zv, 4);           /* snapshot 2 past 'D''s 1 */
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	saksi_put_u64(b + 1, 2);
	raw_put(fx, "D", 1, b, 17);
	zv[0] = 2;                                    /* neither a value nor deleted */
	raw_put(fx, zk, sizeof(zk), zv, 4);
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	zv[0] = 0;                                    /* a tombstone with a value */
	zv[1] = 1;
	raw_put(fx, zk, sizeof(zk), zv, 4);
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	zv[1] = 3;                                    /* a key longer than the record */
	raw_put(fx, zk, sizeof(zk), zv, 4);
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	zv[1] = 0;                                    /* an empty key */
	raw_put(fx, zk, sizeof(zk), zv, 2);
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	raw_put(fx, zk, 9, zv, 2);                    /* a short delta key */
	zv[0] = 0;
	zv[1] = 2;
	raw_put(fx, zk, sizeof(zk), zv, 4);           /* a good tombstone of "Gx" */
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	b[0] = 7;                                     /* 'D' of a later build */
	raw_put(fx, "D", 1, b, 17);
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_VERSION);
	b[0] = 1;
	raw_put(fx, "D", 1, b, 16);
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	{
		MDB_txn *txn;
		MDB_dbi dbi;
		MDB_val kv = { 9, zk };

		assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
		assert_int_equal(mdb_dbi_open(txn, SAKSI_RULES_DB, 0, &dbi), 0);
		assert_int_equal(mdb_del(txn, dbi, &kv, NULL), 0);
		assert_int_equal(mdb_txn_commit(txn), 0);
	}
	raw_put(fx, "D", 1, b, 17);
	/* Now sound: snapshot 1 puts "Gx", snapshot 2 deletes it again, in order. */
	crash_restart(fx, EC_RULES);
	assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
	assert_int_equal(ms.ms_attach_folded, 2);
	assert_int_equal(count_keys(fx, 'Z'), 0);
	/* A 'Z' key past where the next snapshot appends: refused, not overwritten (after
	 * a first snapshot, which folds the groups gone meanwhile). */
	for (i = 0; i < RULES_TEST_MEMORY; i++)
		feed(fx, "queue.booking.created", T0 + 6 * HOUR + (uint64_t)i, "device_id",
		    "h", NULL);
	memset(zk + 1, 0xff, 12);
	zv[0] = 1;
	raw_put(fx, zk, sizeof(zk), zv, 4);
	for (i = 0; i < 2 * RULES_TEST_MEMORY && e == SAKSI_OK; i++)
		e = feed_res_err(fx, "queue.booking.created", T0 + 7 * HOUR + (uint64_t)i,
		    "device_id", "h", NULL);
	assert_int_equal(e, SAKSI_ERR_CORRUPT);
}

/*
 * A fold is spread over snapshots ('D' 0x02 with the fold's last snapshot and a cursor):
 * each takes a slice of its keys in key order, the last deletes its deltas. A crash
 * between two slices attaches to the state memory had; a 'D' 0x02 that contradicts
 * itself is refused.
 */
static void
test_mem_fold_cursor(void **state)
{
	struct fx *fx = *state;
	saksi_rules_mem_stats ms;
	uint8_t d[128], bad[128];
	size_t dl = 0, z0;
	char dev[16], *before, *after;
	int i, steps0;

	use_rules(fx, EC_RULES);
	for (i = 0; i < 64 * RULES_TEST_MEMORY && dl <= 17; i++) {
		snprintf(dev, sizeof(dev), "d%d", i);
		feed(fx, "queue.booking.created", T0 + (uint64_t)i, "device_id", dev, NULL);
		dl = count_keys(fx, 'D') > 0 ? raw_get1(fx, 'D', d, sizeof(d)) : 0;
	}
	/* A fold under way: version 2, its snapshot at most the last, a cursor. */
	assert_true(dl > 26);
	assert_int_equal(d[0], 2);
	assert_true(saksi_get_u64(d + 17) >= 1);
	assert_true(saksi_get_u64(d + 17) <= saksi_get_u64(d + 1));
	assert_int_equal(dl, 26 + (size_t)d[25]);
	assert_int_equal(d[26], 'G');                 /* the first slice's keys: groups */
	assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
	assert_int_equal(ms.ms_folds, 1);
	assert_int_equal(ms.ms_fold_steps, 1);
	z0 = count_keys(fx, 'Z');
	/* kill -9 between two slices: memory comes back as it was. */
	before = mem_state_dump(fx);
	crash_restart(fx, EC_RULES);
	after = mem_state_dump(fx);
	assert_string_equal(before, after);
	free(before);
	free(after);
	assert_int_equal(count_keys(fx, 'D'), 0);
	assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
	assert_true(ms.ms_attach_folded < z0);        /* the base had the first slice */
	/* Again, and this time the fold runs to its end: every slice, then its deltas
	 * deleted and 'D' back to version 1. */
	for (dl = 0; i < 128 * RULES_TEST_MEMORY && dl <= 17; i++) {
		snprintf(dev, sizeof(dev), "e%d", i);
		feed(fx, "queue.booking.created", T0 + (uint64_t)i, "device_id", dev, NULL);
		dl = count_keys(fx, 'D') > 0 ? raw_get1(fx, 'D', d, sizeof(d)) : 0;
	}
	assert_int_equal(d[0], 2);
	memcpy(bad, d, dl);
	assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
	steps0 = (int)ms.ms_fold_steps;
	for (; i < 256 * RULES_TEST_MEMORY && dl > 17; i++) {
		snprintf(dev, sizeof(dev), "f%d", i);
		feed(fx, "queue.booking.created", T0 + (uint64_t)i, "device_id", dev, NULL);
		dl = count_keys(fx, 'D') > 0 ? raw_get1(fx, 'D', d, sizeof(d)) : 0;
	}
	assert_int_equal(dl, 17);
	assert_int_equal(d[0], 1);
	assert_int_equal(saksi_rules_memory_stats(fx->r, &ms), SAKSI_OK);
	assert_int_equal((int)ms.ms_fold_steps - steps0, RULES_FOLD_STEPS - 1);
	assert_int_equal(saksi_get_u64(d + 9), count_keys(fx, 'Z'));
	before = mem_state_dump(fx);
	crash_restart(fx, EC_RULES);
	after = mem_state_dump(fx);
	assert_string_equal(before, after);
	free(before);
	free(after);

	/* Hostile fold cursors. */
	raw_put(fx, "D", 1, bad, 26 + bad[25]);
	saksi_put_u64(bad + 1, 1);                    /* the fold's snapshot past the last */
	raw_put(fx, "D", 1, bad, 26 + bad[25]);
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	saksi_put_u64(bad + 1, saksi_get_u64(bad + 17));
	saksi_put_u64(bad + 17, 0);                   /* a fold of no snapshot */
	raw_put(fx, "D", 1, bad, 26 + bad[25]);
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	saksi_put_u64(bad + 17, 1);
	raw_put(fx, "D", 1, bad, 26 + bad[25] - 1);   /* shorter than its cursor */
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	raw_put(fx, "D", 1, bad, 25);                 /* no cursor length */
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	bad[25] = 0;                                  /* an empty cursor */
	raw_put(fx, "D", 1, bad, 26);
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	bad[25] = 65;                                 /* a cursor longer than a key */
	memset(bad + 26, 'G', 65);
	raw_put(fx, "D", 1, bad, 26 + 65);
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_CORRUPT);
	bad[0] = 3;                                   /* a later build's */
	raw_put(fx, "D", 1, bad, 26 + 65);
	assert_int_equal(crash_attach_err(fx, EC_RULES), SAKSI_ERR_VERSION);
	/* A sound one over deltas of snapshot 1 only: they are in the base already. */
	bad[0] = 2;
	bad[25] = 1;
	raw_put(fx, "D", 1, bad, 27);
	crash_restart(fx, EC_RULES);
	assert_int_equal(count_keys(fx, 'D'), 0);
}

/*
 * A commit group whose transaction fails (the map full, at an evaluation or, as it
 * happens here, at the commit itself), four times with more room each time: the event
 * is lost with its state, memory follows, and it equals what a restart (the last
 * snapshot and the tail) makes of the same ledger; the alert log has neither lost nor
 * doubled one, and the next alert comes once.
 */
static void
test_mem_failed_commit(void **state)
{
	struct fx *fx = *state;
	MDB_envinfo info;
	MDB_stat st;
	char dev[16], *before, *after, *abefore, *aafter;
	saksi_err e = SAKSI_OK;
	int i, k, rc = 0, lost = 0, round, at_eval = 0, at_commit = 0;

	use_rules(fx, EC_RULES);
	for (i = 0; i < 5 * RULES_TEST_MEMORY; i++) {
		snprintf(dev, sizeof(dev), "d%d", i % 9);
		feed(fx, "queue.booking.created", T0 + (uint64_t)i * 1000, "device_id", dev,
		    NULL);
	}
	for (round = 0; round < 4; round++) {
		lost = 0;
		e = SAKSI_OK;
		rc = 0;
		/* The map cut down to a few pages past what is used. */
		assert_int_equal(mdb_env_info(fx->env, &info), 0);
		assert_int_equal(mdb_env_stat(fx->env, &st), 0);
		assert_int_equal(mdb_env_set_mapsize(fx->env,
		    (info.me_last_pgno + 2 + round) * (size_t)st.ms_psize), 0);
		for (k = 0; k < 20000 && !lost; k++, i++) {
			saksi_rule_field f = { "device_id", NULL, 1 };
			char t[SAKSI_BLIND_TOKEN_LEN + 1];
			saksi_rule_event ev = { fx->next_index, "queue.booking.created",
			    T0 + (uint64_t)i * 1000, "KC-MAKASSAR", &f, 1 };
			MDB_txn *txn;

			snprintf(dev, sizeof(dev), "n%d", i);
			f.rf_value = tok(dev, t);
			assert_int_equal(mdb_txn_begin(fx->env, NULL, 0, &txn), 0);
			if ((e = saksi_rules_eval(fx->r, txn, &ev, NULL)) != SAKSI_OK) {
				mdb_txn_abort(txn);
				lost = 1;
				break;
			}
			if ((rc = mdb_txn_commit(txn)) != 0) {
				lost = 1;
				break;
			}
			log_event(fx, &ev);
			fx->next_index++;
		}
		assert_true(lost);
		assert_true(e == SAKSI_ERR_FULL || rc == MDB_MAP_FULL);
		at_eval += e != SAKSI_OK;
		at_commit += rc != 0;
		assert_int_equal(mdb_env_set_mapsize(fx->env, 256u << 20), 0);
		/* Memory, with the lost transaction undone, against a restart's. */
		abefore = dump_alerts(fx);
		before = mem_state_dump(fx);
		crash_restart(fx, EC_RULES);
		after = mem_state_dump(fx);
		aafter = dump_alerts(fx);
		assert_string_equal(before, after);
		assert_string_equal(abefore, aafter);
		free(before);
		free(after);
		free(abefore);
		free(aafter);
	}
	print_message("failed commit groups: %d at the evaluation, %d at the commit\n",
	    at_eval, at_commit);
	assert_true(at_eval + at_commit == 4);
	/* And it goes on: a device's third booking in 10 s raises the next alert, once. */
	{
		uint64_t a0 = last_alert(fx);

		for (i = 0; i < 3; i++)
			assert_int_equal(feed(fx, "queue.booking.created", T0 + 50000000 +
			    (uint64_t)i, "device_id", "z", NULL), i == 2);
		assert_int_equal(last_alert(fx), a0 + 1);
	}
}

/* A reader's counters through the rules attached read-only, with a committed txn. */
static saksi_err
ro_stats(struct fx *fx, const char *id, saksi_rule_stats *s)
{
	saksi_rules *ro = parse_ok(EC_RULES);
	MDB_txn *txn;
	saksi_err e;

	assert_int_equal(mdb_txn_begin(fx->env, NULL, MDB_RDONLY, &txn), 0);
	if ((e = saksi_rules_attach_readonly(ro, txn)) == SAKSI_OK)
		e = saksi_rules_stats(ro, txn, id, s);
	mdb_txn_abort(txn);
	saksi_rules_free(ro);
	return e;
}

/*
 * A reader (saksi_rules_attach_readonly) writes nothing, so it folds no deltas: it reads
 * the rules' counters through them, as the last committed snapshot has them, tombstones
 * included, and refuses deltas that contradict their format as an attach does.
 */
static void
test_mem_readonly_deltas(void **state)
{
	struct fx *fx = *state;
	saksi_rule_stats s;
	uint8_t b[64], zk[13] = { 'Z' }, zv[2 + 1 + RULES_FP_LEN + 40];
	char dev[16];
	int i;

	use_rules(fx, EC_RULES);
	assert_int_equal(ro_stats(fx, "r1", &s), SAKSI_OK);
	assert_int_equal(s.rs_groups, 0);
	/* A snapshot of seven new groups: deltas only, the base has no counters yet. */
	for (i = 0; i < RULES_TEST_MEMORY; i++) {
		snprintf(dev, sizeof(dev), "d%d", i);
		feed(fx, "queue.booking.created", T0 + (uint64_t)i, "device_id", dev, NULL);
	}
	assert_true(count_keys(fx, 'Z') > 0);
	assert_int_equal(count_keys(fx, 'S'), 0);
	assert_int_equal(ro_stats(fx, "r1", &s), SAKSI_OK);
	assert_int_equal(s.rs_groups, RULES_TEST_MEMORY);
	assert_int_equal(s.rs_matched, RULES_TEST_MEMORY);
	assert_int_equal(s.rs_groups, stats(fx, "r1").rs_groups);
	/* Events after the snapshot are not in it: the reader sees the snapshot. */
	feed(fx, "queue.booking.created", T0 + 100, "device_id", "e", NULL);
	assert_int_equal(ro_stats(fx, "r1", &s), SAKSI_OK);
	assert_int_equal(s.rs_matched, RULES_TEST_MEMORY);
	assert_int_equal(stats(fx, "r1").rs_matched, RULES_TEST_MEMORY + 1);
	/* A later delta's tombstone of the counters wins over the earlier value. */
	assert_int_equal(raw_get1(fx, 'D', b, sizeof(b)), 17);
	saksi_put_u64(zk + 1, saksi_get_u64(b + 1) + 1);
	saksi_put_u64(b + 1, saksi_get_u64(b + 1) + 1);
	zv[0] = 0;
	zv[1] = 1 + RULES_FP_LEN;
	zv[2] = 'S';
	memcpy(zv + 3, fx->r->rs_rules[0]->r_fp, RULES_FP_LEN);
	raw_put(fx, zk, sizeof(zk), zv, 2 + 1 + RULES_FP_LEN);
	raw_put(fx, "D", 1, b, 17);
	assert_int_equal(ro_stats(fx, "r1", &s), SAKSI_OK);
	assert_int_equal(s.rs_groups, 0);
	assert_int_equal(s.rs_matched, 0);
	/* Counters of the wrong length, and a record that is neither value nor tombstone. */
	zv[0] = 1;
	memset(zv + 3 + RULES_FP_LEN, 0, 40);
	raw_put(fx, zk, sizeof(zk), zv, 2 + 1 + RULES_FP_LEN + 39);
	assert_int_equal(ro_stats(fx, "r1", &s), SAKSI_ERR_CORRUPT);
	saksi_put_u64(zv + 3 + RULES_FP_LEN + 16, 5);            /* groups held: 5 */
	raw_put(fx, zk, sizeof(zk), zv, sizeof(zv));
	assert_int_equal(ro_stats(fx, "r1", &s), SAKSI_OK);
	assert_int_equal(s.rs_groups, 5);
	zv[0] = 2;
	raw_put(fx, zk, sizeof(zk), zv, sizeof(zv));
	assert_int_equal(ro_stats(fx, "r1", &s), SAKSI_ERR_CORRUPT);
	/* A delta of a snapshot past 'D''s last. */
	zv[0] = 1;
	raw_put(fx, zk, sizeof(zk), zv, sizeof(zv));
	saksi_put_u64(b + 1, saksi_get_u64(b + 1) - 1);
	raw_put(fx, "D", 1, b, 17);
	assert_int_equal(ro_stats(fx, "r1", &s), SAKSI_ERR_CORRUPT);
	saksi_put_u64(b + 1, saksi_get_u64(b + 1) + 1);
	raw_put(fx, "D", 1, b, 17);
	/* A stop's snapshot folds memory's counters into the base, deltas gone. */
	drop_rules(fx);
	assert_int_equal(count_keys(fx, 'Z'), 0);
	assert_int_equal(ro_stats(fx, "r1", &s), SAKSI_OK);
	assert_int_equal(s.rs_matched, RULES_TEST_MEMORY + 1);
	assert_int_equal(s.rs_groups, RULES_TEST_MEMORY + 1);
}

#define MEM_TESTS \
		cmocka_unit_test(test_mem_index_keys), \
		cmocka_unit_test_setup_teardown(test_mem_readonly_deltas, setup, teardown), \
		cmocka_unit_test_setup_teardown(test_mem_fold_cursor, setup, teardown), \
		cmocka_unit_test_setup_teardown(test_mem_failed_commit, setup, teardown), \
		cmocka_unit_test_setup_teardown(test_mem_deltas, setup, teardown), \
		cmocka_unit_test_setup_teardown(test_mem_same_as_lmdb, setup, teardown), \
		cmocka_unit_test_setup_teardown(test_mem_lost_snapshot, setup, teardown), \
		cmocka_unit_test_setup_teardown(test_mem_stop_before_any_event, setup, teardown), \
		cmocka_unit_test_setup_teardown(test_mem_tail_mismatch, setup, teardown), \
		cmocka_unit_test_setup_teardown(test_mem_args_and_switch, setup, teardown), \
		cmocka_unit_test_setup_teardown(test_mem_corrupt, setup, teardown),
#else
#define MEM_TESTS
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_rules_load),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_limits_and_args),
		cmocka_unit_test_setup_teardown(test_event_count_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_count_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_lazy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suppress_and_reraise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reraise_never_and_gt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_count_distinct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_count_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_sum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_sum_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_sum_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_sum_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temporal_unordered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temporal_ordered_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temporal_out_of_order_arrival, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_temporal_differ_with_join, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temporal_three_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_order_late_checkin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daily_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry_key_lags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_joins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conditions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_log_and_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reattach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_order_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_lookalikes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_brokers, setup, teardown),
		MEM_TESTS
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
