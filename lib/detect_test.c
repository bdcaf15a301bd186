/*
 * detect_test.c: the committed event's view for the rules (detect.h), with real
 * envelopes, real disclosures, real blind tokens and a real LMDB state in a mkdtemp()
 * directory: personal fields reach the rules as tokens only; events the rules cannot take
 * are left undetected and write nothing; bad arguments are refused.
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
#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>

#include "blind.h"
#include "detect.h"
#include "envelope.h"
#include "keys.h"
#include "rules.h"
#include "../tests/tmpdir.h"

#define T0 1750000000000ULL

static const char rules_text[] =
    "saksi-rules 1\n"
    "lateness 5m\n"
    "select book\n"
    "  match queue.booking.created\n"
    "rule per_nik\n"
    "  type event_count\n"
    "  severity high\n"
    "  events book\n"
    "  group-by nik\n"
    "  timespan 1h\n"
    "  condition gte 2\n"
    "  suppress 0s\n"
    "  reraise 1\n";

static const char *const personal[] = { "nik", "kpj", "name", "phone", "email", "device_id",
    "ip" };

struct fx {
	char dir[64];
	MDB_env *env;
	saksi_rules *r;
	saksi_blind *b;
	saksi_detect *d;
	saksi_seckey *k;
	uint64_t seq;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t key[32], secret[32];
	char err[256];
	MDB_txn *t;

	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	assert_int_equal(tmpdir_make(f->dir, sizeof(f->dir), "saksi-detect"), 0);
	assert_int_equal(mdb_env_create(&f->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(f->env, 2), 0);
	assert_int_equal(mdb_env_set_mapsize(f->env, 16u << 20), 0);
	assert_int_equal(mdb_env_open(f->env, f->dir, 0, 0600), 0);
	assert_int_equal(saksi_rules_parse(rules_text, strlen(rules_text), "t.rules", NULL,
	    &f->r, err, sizeof(err)), SAKSI_OK);
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &t), 0);
	assert_int_equal(saksi_rules_attach(f->r, t), SAKSI_OK);
	assert_int_equal(mdb_txn_commit(t), 0);
	for (int i = 0; i < 32; i++) {
		key[i] = (uint8_t)i;
		secret[i] = (uint8_t)(0xa0 + i);
	}
	assert_int_equal(saksi_blind_new(key, &f->b), SAKSI_OK);
	assert_int_equal(saksi_detect_new(f->b, &f->d), SAKSI_OK);
	assert_int_equal(saksi_seckey_from_secret(SAKSI_KEY_SIGN, secret, &f->k), SAKSI_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	saksi_detect_free(f->d);
	saksi_blind_free(f->b);
	saksi_rules_free(f->r);
	saksi_seckey_free(f->k);
	mdb_env_close(f->env);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* A signed booking of `nik` (spelled as given) with its disclosures; `extra` is more
 * payload members ("" for none, else starting with a comma). */
static void
booking_extra(struct fx *f, const char *nik, const char *extra, uint64_t t, uint8_t **env,
              size_t *env_len, char **disc, size_t *disc_len)
{
	char clear[2048], *payload;
	size_t plen;

	snprintf(clear, sizeof(clear), "{\"branch\":\"KC-MAKASSAR\",\"channel\":\"web\","
	    "\"booking_id\":\"BK-1\",\"service\":\"jht_claim\",\"slot_hour\":9,"
	    "\"nik\":\"%s\",\"phone\":\"0812-4231-7765\",\"device_id\":\"web-5b1e0c9d77a24f31\","
	    "\"urgent\":false%s}", nik, extra);
	assert_int_equal(saksi_disclose_payload(clear, strlen(clear), personal,
	    sizeof(personal) / sizeof(personal[0]), &payload, &plen, disc, disc_len), SAKSI_OK);
	*env = malloc(SAKSI_ENV_MAX);
	assert_int_equal(saksi_envelope_sign(f->k, ++f->seq, t, "queue.booking.created",
	    (const uint8_t *)payload, plen, *env, SAKSI_ENV_MAX, env_len), SAKSI_OK);
	free(payload);
}

static void
booking(struct fx *f, const char *nik, uint64_t t, uint8_t **env, size_t *env_len,
        char **disc, size_t *disc_len)
{
	booking_extra(f, nik, "", t, env, env_len, disc, disc_len);
}


/* Evaluates in a transaction of its own; returns what saksi_detect_eval did. */
static saksi_err
eval(struct fx *f, uint64_t idx, const uint8_t *env, size_t env_len, const char *disc,
     size_t disc_len, int *evaluated, saksi_rules_result *res)
{
	MDB_txn *t;
	saksi_err e;

	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &t), 0);
	e = saksi_detect_eval(f->d, f->r, t, idx, env, env_len, (const uint8_t *)disc,
	    disc_len, evaluated, res);
	assert_int_equal(mdb_txn_commit(t), 0);
	return e;
}

static uint64_t
last_alert(struct fx *f)
{
	MDB_txn *t;
	uint64_t id;

	assert_int_equal(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &t), 0);
	assert_int_equal(saksi_rules_alert_last(f->r, t, &id), SAKSI_OK);
	mdb_txn_abort(t);
	return id;
}

/* Two bookings of one NIK, spelled differently: one group, keyed by the NIK's token. */
static void
test_tokens(void **state)
{
	struct fx *f = *state;
	saksi_rules_result res;
	saksi_alert a;
	uint8_t *env;
	size_t env_len, disc_len;
	char *disc, tok[SAKSI_BLIND_TOKEN_LEN + 1], want[64];
	int evaluated;
	MDB_txn *t;

	booking(f, "7371054507880003", T0, &env, &env_len, &disc, &disc_len);
	assert_int_equal(eval(f, 0, env, env_len, disc, disc_len, &evaluated, &res), SAKSI_OK);
	assert_int_equal(evaluated, 1);
	assert_int_equal(res.rr_nalerts, 0);
	free(env);
	free(disc);
	booking(f, "7371 0545 0788 0003", T0 + 1000, &env, &env_len, &disc, &disc_len);
	assert_int_equal(eval(f, 1, env, env_len, disc, disc_len, &evaluated, &res), SAKSI_OK);
	assert_int_equal(evaluated, 1);
	assert_int_equal(res.rr_nalerts, 1);
	assert_int_equal(res.rr_first_alert, 1);
	free(env);
	free(disc);

	assert_int_equal(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &t), 0);
	assert_int_equal(saksi_rules_alert_get(f->r, t, 1, &a), SAKSI_OK);
	mdb_txn_abort(t);
	assert_int_equal(saksi_blind_token(f->b, SAKSI_BLIND_NIK, "7371054507880003", 16, tok),
	    SAKSI_OK);
	snprintf(want, sizeof(want), "nik=%s", tok);
	assert_string_equal(a.al_group, want);
	assert_null(strstr(a.al_group, "7371"));
	assert_string_equal(a.al_rule, "per_nik");
	assert_int_equal(a.al_nevidence, 2);
	assert_int_equal(a.al_evidence[0], 0);
	assert_int_equal(a.al_evidence[1], 1);
	assert_int_equal(a.al_trigger, 1);
}

/* What the rules cannot take is left undetected, and nothing is written. */
static void
test_undetected(void **state)
{
	struct fx *f = *state;
	saksi_rules_result res;
	uint8_t *env, junk[40];
	size_t env_len, disc_len;
	char *disc;
	int evaluated = -1;

	booking(f, "7371054507880003", T0, &env, &env_len, &disc, &disc_len);
	/* Not an envelope. */
	memset(junk, 0x41, sizeof(junk));
	assert_int_equal(eval(f, 0, junk, sizeof(junk), NULL, 0, &evaluated, NULL), SAKSI_OK);
	assert_int_equal(evaluated, 0);
	/* Disclosures that do not match the payload's digests, or are no list at all. */
	assert_int_equal(eval(f, 0, env, env_len, "[]", 2, &evaluated, &res), SAKSI_OK);
	assert_int_equal(evaluated, 0);
	assert_int_equal(eval(f, 0, env, env_len, "{", 1, &evaluated, &res), SAKSI_OK);
	assert_int_equal(evaluated, 0);
	assert_int_equal(last_alert(f), 0);
	/* Without disclosures the event is evaluated, its personal fields absent: no
	 * group-by nik, no alert, however often. */
	for (uint64_t i = 0; i < 3; i++) {
		assert_int_equal(eval(f, i, env, env_len, NULL, 0, &evaluated, &res), SAKSI_OK);
		assert_int_equal(evaluated, 1);
		assert_int_equal(res.rr_nalerts, 0);
	}
	assert_int_equal(last_alert(f), 0);
	free(env);
	free(disc);
}

/* Prepares as saksid's ingest workers do: from the parsed envelope, payload and pairs. */
static saksi_detect_event *
prepared(struct fx *f, const uint8_t *envb, size_t env_len, const char *disc,
         size_t disc_len)
{
	saksi_envelope env;
	saksi_detect_event *p = NULL;
	json_t *root;
	char **names = NULL, **values = NULL;
	size_t nd = 0;

	assert_int_equal(saksi_envelope_parse(envb, env_len, &env), SAKSI_OK);
	root = json_loadb((const char *)env.ev_payload, env.ev_payload_len,
	    JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(root);
	if (disc != NULL)
		assert_int_equal(saksi_disclosures_check_json(root, (const uint8_t *)disc,
		    disc_len, &names, &values, &nd), SAKSI_OK);
	assert_int_equal(saksi_detect_prepare(f->b, &env, root, names, values, nd, &p),
	    SAKSI_OK);
	saksi_disclosures_free(names, values, nd);
	json_decref(root);
	assert_non_null(p);
	return p;
}

/*
 * The two steps give what saksi_detect_eval gives, and the prepared event owns what it
 * points to: its inputs are freed (and their buffers scribbled on) before it is evaluated.
 */
static void
test_prepared(void **state)
{
	struct fx *f = *state;
	saksi_detect_event *p[2];
	saksi_rules_result res;
	saksi_alert a;
	uint8_t *env;
	size_t env_len, disc_len;
	char *disc, tok[SAKSI_BLIND_TOKEN_LEN + 1], want[64];
	int evaluated;
	MDB_txn *t;

	booking(f, "7371054507880003", T0, &env, &env_len, &disc, &disc_len);
	p[0] = prepared(f, env, env_len, disc, disc_len);
	memset(env, 0, env_len);
	memset(disc, 0, disc_len);
	free(env);
	free(disc);
	booking(f, "7371 0545 0788 0003", T0 + 1000, &env, &env_len, &disc, &disc_len);
	p[1] = prepared(f, env, env_len, disc, disc_len);
	free(env);
	free(disc);

	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &t), 0);
	evaluated = -1;
	assert_int_equal(saksi_detect_eval_prepared(p[0], f->r, t, 0, &evaluated, &res),
	    SAKSI_OK);
	assert_int_equal(evaluated, 1);
	assert_int_equal(res.rr_nalerts, 0);
	assert_int_equal(saksi_detect_eval_prepared(p[1], f->r, t, 1, NULL, &res), SAKSI_OK);
	assert_int_equal(res.rr_nalerts, 1);
	assert_int_equal(saksi_rules_alert_get(f->r, t, 1, &a), SAKSI_OK);
	assert_int_equal(mdb_txn_commit(t), 0);
	saksi_detect_event_free(p[0]);
	saksi_detect_event_free(p[1]);

	assert_int_equal(saksi_blind_token(f->b, SAKSI_BLIND_NIK, "7371054507880003", 16, tok),
	    SAKSI_OK);
	snprintf(want, sizeof(want), "nik=%s", tok);
	assert_string_equal(a.al_group, want);
	assert_int_equal(a.al_nevidence, 2);
	assert_int_equal(a.al_evidence[0], 0);
	assert_int_equal(a.al_evidence[1], 1);
}

static void
test_prepare_inval(void **state)
{
	struct fx *f = *state;
	saksi_detect_event *p = (saksi_detect_event *)1, *ok;
	saksi_envelope env;
	uint8_t *envb;
	size_t env_len, disc_len;
	char *disc, *name = (char *)"nik";
	json_t *root, *arr;
	int evaluated = -1;
	MDB_txn *t;

	booking(f, "7371054507880003", T0, &envb, &env_len, &disc, &disc_len);
	assert_int_equal(saksi_envelope_parse(envb, env_len, &env), SAKSI_OK);
	root = json_loadb((const char *)env.ev_payload, env.ev_payload_len, 0, NULL);
	arr = json_array();
	assert_non_null(root);
	assert_non_null(arr);

	assert_int_equal(saksi_detect_prepare(f->b, &env, root, NULL, NULL, 0, NULL),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_detect_prepare(NULL, &env, root, NULL, NULL, 0, &p),
	    SAKSI_ERR_INVAL);
	assert_null(p);
	p = (saksi_detect_event *)1;
	assert_int_equal(saksi_detect_prepare(f->b, NULL, root, NULL, NULL, 0, &p),
	    SAKSI_ERR_INVAL);
	assert_null(p);
	assert_int_equal(saksi_detect_prepare(f->b, &env, NULL, NULL, NULL, 0, &p),
	    SAKSI_ERR_INVAL);
	/* A payload that is not an object is not evaluated. */
	assert_int_equal(saksi_detect_prepare(f->b, &env, arr, NULL, NULL, 0, &p),
	    SAKSI_ERR_INVAL);
	/* Pairs counted but not given. */
	assert_int_equal(saksi_detect_prepare(f->b, &env, root, &name, NULL, 1, &p),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_detect_prepare(f->b, &env, root, NULL, &name, 1, &p),
	    SAKSI_ERR_INVAL);
	assert_null(p);

	/* Without its pairs, an event prepares and evaluates, personal fields absent. */
	assert_int_equal(saksi_detect_prepare(f->b, &env, root, NULL, NULL, 0, &ok), SAKSI_OK);
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &t), 0);
	assert_int_equal(saksi_detect_eval_prepared(NULL, f->r, t, 0, &evaluated, NULL),
	    SAKSI_ERR_INVAL);
	assert_int_equal(evaluated, 0);
	assert_int_equal(saksi_detect_eval_prepared(ok, NULL, t, 0, NULL, NULL),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_detect_eval_prepared(ok, f->r, NULL, 0, NULL, NULL),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_detect_eval_prepared(ok, f->r, t, 0, &evaluated, NULL),
	    SAKSI_OK);
	assert_int_equal(evaluated, 1);
	mdb_txn_abort(t);
	saksi_detect_event_free(ok);
	saksi_detect_event_free(NULL);
	json_decref(root);
	json_decref(arr);
	free(envb);
	free(disc);
}

static void
test_inval(void **state)
{
	struct fx *f = *state;
	saksi_detect *d = (saksi_detect *)1;
	uint8_t *env;
	size_t env_len, disc_len;
	char *disc;
	int evaluated = -1;
	MDB_txn *t;

	assert_int_equal(saksi_detect_new(NULL, &d), SAKSI_ERR_INVAL);
	assert_null(d);
	assert_int_equal(saksi_detect_new(f->b, NULL), SAKSI_ERR_INVAL);
	saksi_detect_free(NULL);
	booking(f, "7371054507880003", T0, &env, &env_len, &disc, &disc_len);
	assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &t), 0);
	assert_int_equal(saksi_detect_eval(NULL, f->r, t, 0, env, env_len, NULL, 0, &evaluated,
	    NULL), SAKSI_ERR_INVAL);
	assert_int_equal(evaluated, 0);
	assert_int_equal(saksi_detect_eval(f->d, NULL, t, 0, env, env_len, NULL, 0, NULL,
	    NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_detect_eval(f->d, f->r, NULL, 0, env, env_len, NULL, 0, NULL,
	    NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_detect_eval(f->d, f->r, t, 0, NULL, 0, NULL, 0, NULL, NULL),
	    SAKSI_ERR_INVAL);
	mdb_txn_abort(t);
	free(env);
	free(disc);
}

/* Free text the engine cannot take (too long, not ASCII, empty) is left out; the event
 * is still evaluated, and its rule still fires. */
static void
test_free_text_left_out(void **state)
{
	struct fx *f = *state;
	static const char *const extras[] = {
		",\"note\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
		",\"note\":\"Jalan Sudirman \\u00e9\",\"memo\":\"\"",
	};
	saksi_rules_result res;
	uint8_t *env;
	size_t env_len, disc_len;
	char *disc;
	int evaluated;

	assert_true(strlen(extras[0]) > SAKSI_RULES_VALUE_MAX + 10);
	for (size_t i = 0; i < 2; i++) {
		booking_extra(f, "7371014508900003", extras[i], T0 + i * 1000, &env, &env_len,
		    &disc, &disc_len);
		evaluated = 0;
		memset(&res, 0, sizeof(res));
		assert_int_equal(eval(f, i, env, env_len, disc, disc_len, &evaluated, &res),
		    SAKSI_OK);
		assert_int_equal(evaluated, 1);
		assert_int_equal(res.rr_nalerts, i == 1 ? 1 : 0);
		free(env);
		sodium_memzero(disc, disc_len);
		free(disc);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undetected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_inval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_text_left_out, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
