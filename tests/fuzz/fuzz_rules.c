/*
 * fuzz_rules.c: libFuzzer target for lib/rules.c: the rules file parser, then, for a file
 * that parses, the evaluation of a fixed stream of events (the schema examples, blinded,
 * a minute apart, three rounds) against it in an LMDB transaction that is thrown away.
 * Checks: only the documented codes; errbuf is one line "NAME:LINE: ..."; a file that
 * parses without the schemas and is refused with them is refused for its meaning
 * (FORMAT); evaluation of well-formed events never fails but for the map being full.
 */
#include <dirent.h>
#include <unistd.h>

#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>

#include "blind.h"
#include "fuzz.h"
#include "rules.h"

#define FZ_EVENTS_MAX 64
#define FZ_FIELDS_MAX SAKSI_RULES_EVENT_FIELDS
#define FZ_ROUNDS 3

struct fz_event {
	char fe_type[64];
	char fe_branch[64];
	saksi_rule_field fe_fields[FZ_FIELDS_MAX];
	size_t fe_nfields;
};

/* Set once by LLVMFuzzerInitialize, read-only afterwards. */
static char fz_dir[64];
static MDB_env *fz_env;
static struct fz_event fz_ev[FZ_EVENTS_MAX];
static size_t fz_nev;
static const char *fz_schema_dir;

static void
cleanup(void)
{
	if (fz_env != NULL)
		mdb_env_close(fz_env);
	fuzz_rmtree(fz_dir);
}

/* One example payload (clear values) as the daemon would hand it over: tokens for the
 * personal fields that have a kind, other personal fields left out. */
static void
add_event(const saksi_blind *b, const char *type, json_t *o)
{
	struct fz_event *e = &fz_ev[fz_nev];
	char tok[SAKSI_BLIND_TOKEN_LEN + 1], num[32];
	const char *k, *val;
	json_t *v;
	saksi_blind_kind kind;

	snprintf(e->fe_type, sizeof e->fe_type, "%s", type);
	json_object_foreach(o, k, v) {
		saksi_rule_field *f = &e->fe_fields[e->fe_nfields];

		if (e->fe_nfields == FZ_FIELDS_MAX)
			break;
		if (json_is_string(v)) {
			val = json_string_value(v);
			/* As lib/detect.c: free text the engine cannot take is left out. */
			if (strlen(val) == 0 || strlen(val) > SAKSI_RULES_VALUE_MAX ||
			    strspn(val, " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") != strlen(val))
				continue;
		}
		else if (json_is_integer(v)) {
			snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			val = num;
		} else if (json_is_boolean(v))
			val = json_is_true(v) ? "true" : "false";
		else
			continue;
		if (saksi_blind_field_personal(k)) {
			kind = saksi_blind_field_kind(k);
			if (kind == SAKSI_BLIND_NONE || strcmp(k, "bank_code") == 0)
				continue;
			if (kind == SAKSI_BLIND_ACCOUNT) {
				json_t *bc = json_object_get(o, "bank_code");

				if (!json_is_string(bc) ||
				    saksi_blind_account(b, json_string_value(bc), val, tok) != SAKSI_OK)
					continue;
			} else if (saksi_blind_token(b, kind, val, strlen(val), tok) != SAKSI_OK)
				continue;
			val = tok;
			f->rf_personal = 1;
		}
		if (strcmp(k, "branch") == 0)
			snprintf(e->fe_branch, sizeof e->fe_branch, "%s", val);
		f->rf_name = strdup(k);
		f->rf_value = strdup(val);
		FUZZ_SETUP(f->rf_name != NULL && f->rf_value != NULL);
		e->fe_nfields++;
	}
	fz_nev++;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[512], path[768];
	uint8_t key[SAKSI_BLIND_KEYLEN];
	saksi_blind *b;
	struct dirent **names;
	json_t *o;
	int n, i;

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	fz_schema_dir = getenv("SAKSI_FUZZ_SCHEMA_DIR") ? getenv("SAKSI_FUZZ_SCHEMA_DIR")
	                                                : SAKSI_SOURCE_SCHEMA_DIR;
	memset(key, 0x3c, sizeof key);
	FUZZ_SETUP(saksi_blind_new(key, &b) == SAKSI_OK);
	snprintf(dir, sizeof dir, "%s/../examples/clear", fz_schema_dir);
	FUZZ_SETUP((n = scandir(dir, &names, NULL, alphasort)) >= 0);
	for (i = 0; i < n; i++) {
		size_t l = strlen(names[i]->d_name);

		if (l > 5 && strcmp(names[i]->d_name + l - 5, ".json") == 0 && fz_nev < FZ_EVENTS_MAX) {
			snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
			names[i]->d_name[l - 5] = '\0';
			FUZZ_SETUP((o = json_load_file(path, 0, NULL)) != NULL);
			add_event(b, names[i]->d_name, o);
			json_decref(o);
		}
		free(names[i]);
	}
	free(names);
	saksi_blind_free(b);
	FUZZ_SETUP(fz_nev > 0);

	FUZZ_SCRATCH(fz_dir, sizeof fz_dir, "saksi-fuzz-rules");
	atexit(cleanup);
	FUZZ_SETUP(mdb_env_create(&fz_env) == 0);
	FUZZ_SETUP(mdb_env_set_maxdbs(fz_env, 8) == 0);
	FUZZ_SETUP(mdb_env_set_mapsize(fz_env, 256u << 20) == 0);
	FUZZ_SETUP(mdb_env_open(fz_env, fz_dir, MDB_NOTLS | MDB_NOSYNC, 0600) == 0);
	return 0;
}

static void
check_err(saksi_err e, const char *err, size_t errlen, int with_schemas)
{
	size_t n = strnlen(err, errlen), i;

	FUZZ_CHECK(e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_VERSION || e == SAKSI_ERR_TOO_LARGE,
	           "parse gave %d%s", e, with_schemas ? " (with schemas)" : "");
	FUZZ_CHECK(n < errlen && strncmp(err, "fuzz.rules:", 11) == 0,
	           "errbuf does not name the place: %s", err);
	for (i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f,
		           "control byte 0x%02x in errbuf", (unsigned char)err[i]);
}

/* Feeds the fixed events to r in a throw-away write transaction. */
static void
evaluate(saksi_rules *r)
{
	saksi_rules_result res;
	saksi_rule_event ev;
	saksi_alert a;
	MDB_txn *txn;
	uint64_t last = 0, id, idx = 0;
	size_t i, round;
	saksi_err e;
	char *json;

	FUZZ_SETUP(mdb_txn_begin(fz_env, NULL, 0, &txn) == 0);
	e = saksi_rules_attach(r, txn);
	FUZZ_CHECK(e == SAKSI_OK, "attach gave %d on empty state", e);
	for (round = 0; round < FZ_ROUNDS; round++) {
		for (i = 0; i < fz_nev; i++, idx++) {
			memset(&ev, 0, sizeof ev);
			ev.re_index = idx;
			ev.re_type = fz_ev[i].fe_type;
			ev.re_time_ms = 1741564800000ull + idx * 60000;
			ev.re_branch = fz_ev[i].fe_branch;
			ev.re_fields = fz_ev[i].fe_fields;
			ev.re_nfields = fz_ev[i].fe_nfields;
			e = saksi_rules_eval(r, txn, &ev, &res);
			if (e == SAKSI_ERR_FULL)
				goto out;
			FUZZ_CHECK(e == SAKSI_OK, "eval of %s gave %d", ev.re_type, e);
			FUZZ_CHECK(res.rr_nalerts == 0 || res.rr_first_alert == last + 1,
			           "alert ids do not follow on");
			last += res.rr_nalerts;
		}
	}
	FUZZ_CHECK(saksi_rules_alert_last(r, txn, &id) == SAKSI_OK && id == last,
	           "last alert id %llu, raised %llu", (unsigned long long)id,
	           (unsigned long long)last);
	for (id = 1; id <= last && id <= 16; id++) {
		FUZZ_CHECK(saksi_rules_alert_get(r, txn, id, &a) == SAKSI_OK && a.al_id == id &&
		               a.al_nevidence <= SAKSI_ALERT_EVIDENCE_MAX,
		           "alert %llu", (unsigned long long)id);
		FUZZ_CHECK(saksi_alert_json(&a, &json) == SAKSI_OK && strchr(json, '\n') == NULL,
		           "alert JSON");
		free(json);
	}
out:
	mdb_txn_abort(txn);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	saksi_rules *r = NULL, *r2 = NULL;
	char err[512], err2[512];
	char *text;
	size_t i, n;
	saksi_err e;

	if ((text = fuzz_copy(data, size, 0)) == NULL)
		return 0;
	memset(err, 'x', sizeof err);
	e = saksi_rules_parse(text, size, "fuzz.rules", NULL, &r, err, sizeof err);
	if (e != SAKSI_OK) {
		FUZZ_CHECK(r == NULL, "rules set on error %d", e);
		check_err(e, err, sizeof err, 0);
		goto out;
	}
	n = saksi_rules_count(r);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(saksi_rules_id_at(r, i) != NULL &&
		               strlen(saksi_rules_id_at(r, i)) <= SAKSI_RULES_ID_MAX,
		           "rule id %zu", i);
	/* With the schemas only meaning can be refused. */
	memset(err2, 'x', sizeof err2);
	e = saksi_rules_parse(text, size, "fuzz.rules", fz_schema_dir, &r2, err2, sizeof err2);
	if (e != SAKSI_OK) {
		FUZZ_CHECK(e == SAKSI_ERR_FORMAT && r2 == NULL, "with schemas %d", e);
		check_err(e, err2, sizeof err2, 1);
	} else {
		FUZZ_CHECK(saksi_rules_count(r2) == n, "count differs with schemas");
		/* Events of the schemas exist only for rules the schemas accept. */
		evaluate(r2);
		saksi_rules_free(r2);
	}
	saksi_rules_free(r);
out:
	free(text);
	return 0;
}
