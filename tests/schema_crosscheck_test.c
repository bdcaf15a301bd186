/*
 * schema_crosscheck_test.c: our validator and an independent one (python3-jsonschema) must
 * agree. Writes thousands of cases (every example, and every member of every example
 * deleted or replaced by values from a pool, in the signed and the clear form) with our
 * verdict, and has tests/schema_crosscheck.py compare. Skips when jsonschema is missing.
 */
#include <sys/wait.h>

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

#include "schema.h"
#include "testutil.h"

#define SCHEMAS_DIR SAKSI_SOURCE_DIR "/schemas"
#define SCRIPT SAKSI_SOURCE_DIR "/tests/schema_crosscheck.py"

/*
 * Values tried in every member: of every JSON type, on both sides of every limit our
 * schemas use, and the right and wrong shapes of identifiers, dates and digests.
 */
static const char pool_json[] =
	"[null, true, false, 0, 1, -1, 8, 9, 23, 24, 99, 100, 1000, 1001, 1200, 1201, 9999,"
	" 10000, 10001, 86400, 86401, 1.5, -0.5, 1e300,"
	" '', 'x', 'X', '~', 'a b', '\\u00c9\\u00c9', 'web', 'app', 'video', 'counter', 'kiosk',"
	" 'partner_hr', 'jht_claim', 'ktp', 'paklaring', 'A-042', 'A042', 'ABCD-1', 'a-042',"
	" 'KC-MAKASSAR', 'KP-PUSAT', 'kc-makassar', 'K', 'KC_MAKASSAR', 'KC-ABCDEFGHIJKLMNOPQRSTUVW',"
	" 'KC-ABCDEFGHIJKLMNOPQRSTU', '2025-03-10', '2025-02-29', '2024-02-29', '2025-3-10',"
	" '2025-13-01', '2025-03-10T00:00:00+08:00', '2025-03-10T23:59:59.5Z',"
	" '2025-03-10T00:00:00', '2025-03-10T24:00:00Z', '2025-02-30T00:00:00Z',"
	" 'BK-20250310-00417', 'BK 1', 'BK1', 'MKS-0193', 'M', '002', '02', '0020',"
	" '7371054507880003', '737105450788000', '73710545078800031', '7371O54507880003',"
	" '18045213577', '1804521357', '+6281242317765', '+62812423177', '+628124231776512',"
	" '081242317765', '+6221555123', 'SITI RAHMAWATI', 'ANDI MUH. IKHSAN', 'O\\u0027NEIL', 'siti',"
	" ' SITI', 'siti@example.co.id', 'Siti@example.co.id', 'siti@example', 'a@b.c',"
	" '114.125.34.17', '2001:db8::1', '2001:DB8::1', '1.2.3', '18450000', '0', '018450000',"
	" '1234567890123456', 'web-5b1e0c9d77a24f31', 'short', 'id with space',"
	" '3f9a1c0e5d2b7a4486c1f0e9d3b25a7c41e8f6d09b3a2c5e7f1d4b8a6c0e2f93',"
	" '3F9A1C0E5D2B7A4486C1F0E9D3B25A7C41E8F6D09B3A2C5E7F1D4B8A6C0E2F93',"
	" 'TRF20250314BRI0091772', 'TRF', 'PT-MKS-004411', '7371', '73', '737',"
	" [], ['ktp'], ['ktp', 'kk'], ['ktp', 'zzz'], ['web'], ['web', 'app', 'kiosk', 'partner_hr',"
	" 'web', 'app', 'kiosk'], [8, 9], [24], [-1], ['8'], ['name', 'address'], [null],"
	" {}, {'_sd': 'mH3901V89VrTvPULjO6rDHvv4pIlr1wgW72DKh05k-M'},"
	" {'_sd': 'mH3901V89VrTvPULjO6rDHvv4pIlr1wgW72DKh05k-N'},"
	" {'_sd': 'mH3901V89VrTvPULjO6rDHvv4pIlr1wgW72DKh05k+M'},"
	" {'_sd': 'mH3901V89VrTvPULjO6rDHvv4pIlr1wgW72DKh05k'},"
	" {'_sd': 'mH3901V89VrTvPULjO6rDHvv4pIlr1wgW72DKh05k-M', 'x': 1}, {'_sd': 1}, {'x': 1}]";

struct gen {
	const saksi_schemas *g_s;
	FILE *g_out;
	size_t g_n, g_valid;
};

static void
emit(struct gen *g, const char *type, const char *mode, json_t *payload)
{
	char *text = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
	char err[256];
	saksi_err e;
	json_t *line;

	assert_non_null(text);
	e = strcmp(mode, "clear") == 0
	        ? saksi_schemas_validate_clear(g->g_s, type, text, strlen(text), err, sizeof(err))
	        : saksi_schemas_validate(g->g_s, type, text, strlen(text), err, sizeof(err));
	if (e != SAKSI_OK && e != SAKSI_ERR_SCHEMA)
		fail_msg("%s: unexpected code %d (%s)", type, e, err);
	line = json_pack("{s:s, s:s, s:b, s:O}", "type", type, "mode", mode, "valid", e == SAKSI_OK,
	                 "payload", payload);
	assert_non_null(line);
	assert_int_equal(json_dumpf(line, g->g_out, JSON_COMPACT), 0);
	fputc('\n', g->g_out);
	json_decref(line);
	free(text);
	g->g_n++;
	g->g_valid += e == SAKSI_OK;
}

static void
mutate(struct gen *g, const char *type, const char *mode, const json_t *base, const char *k,
       const json_t *pool)
{
	size_t i;
	json_t *v, *m;

	m = json_deep_copy(base);
	json_object_del(m, k);
	emit(g, type, mode, m);
	json_decref(m);
	json_array_foreach(pool, i, v) {
		m = json_deep_copy(base);
		json_object_set(m, k, v);
		emit(g, type, mode, m);
		json_decref(m);
	}
}

/* The python3 that has jsonschema: Debian's own first, then whatever PATH gives. */
static const char *
find_python(void)
{
	static const char *const cands[] = { "/usr/bin/python3", "python3" };
	char cmd[256];

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		snprintf(cmd, sizeof(cmd),
		         "%s -c 'from jsonschema import Draft202012Validator' >/dev/null 2>&1", cands[i]);
		if (system(cmd) == 0)
			return cands[i];
	}
	return NULL;
}

static void
test_crosscheck(void **state)
{
	const char *py = find_python();
	saksi_schemas *s = NULL;
	struct gen g = { 0 };
	char err[512], path[1024], cases[512];
	json_t *pool, *enums;
	int fd, rc;

	(void)state;
	if (py == NULL) {
		print_message("python3 with jsonschema (python3-jsonschema) not found: skipped\n");
		skip();
	}
	if (saksi_schemas_load(SCHEMAS_DIR "/events", &s, err, sizeof(err)) != SAKSI_OK)
		fail_msg("%s", err);
	{
		char *pj = strdup(pool_json);
		json_error_t je;
		assert_non_null(pj);
		for (char *c = pj; *c; c++)
			if (*c == '\'')
				*c = '"';
		pool = json_loads(pj, 0, &je);
		if (pool == NULL)
			fail_msg("pool: %s", je.text);
		free(pj);
	}
	snprintf(cases, sizeof(cases), "%s/saksi-crosscheck-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(cases);
	assert_true(fd >= 0);
	g.g_s = s;
	g.g_out = fdopen(fd, "w");
	assert_non_null(g.g_out);

	for (size_t i = 0; i < saksi_schemas_count(s); i++) {
		const char *t = saksi_schemas_type_at(s, i);
		json_t *sch, *sig, *clr, *props, *v;
		const char *k;

		snprintf(path, sizeof(path), "%s/events/%s.json", SCHEMAS_DIR, t);
		sch = tu_load_json(path);
		snprintf(path, sizeof(path), "%s/examples/%s.json", SCHEMAS_DIR, t);
		sig = tu_load_json(path);
		snprintf(path, sizeof(path), "%s/examples/clear/%s.json", SCHEMAS_DIR, t);
		clr = tu_load_json(path);
		emit(&g, t, "signed", sig);
		emit(&g, t, "clear", clr);
		emit(&g, t, "signed", clr);
		emit(&g, t, "clear", sig);
		props = json_object_get(sch, "properties");
		json_object_foreach(props, k, v) {
			/* The schema's own enum values, and each item enum's values as one-item arrays. */
			json_t *items = json_object_get(json_object_get(v, "items"), "enum");
			size_t x;
			json_t *ev;
			enums = json_array();
			json_array_extend(enums, pool);
			if (json_object_get(v, "enum") != NULL)
				json_array_extend(enums, json_object_get(v, "enum"));
			json_array_foreach(items, x, ev)
				json_array_append_new(enums, json_pack("[O]", ev));
			mutate(&g, t, "signed", sig, k, enums);
			if (json_is_true(json_object_get(v, "x-personal")))
				mutate(&g, t, "clear", clr, k, enums);
			json_decref(enums);
		}
		v = json_deep_copy(sig);
		json_object_set_new(v, "zz_extra", json_true());
		emit(&g, t, "signed", v);
		json_decref(v);
		v = json_array();
		emit(&g, t, "signed", v);
		json_decref(v);
		json_decref(sch);
		json_decref(sig);
		json_decref(clr);
	}
	assert_int_equal(fclose(g.g_out), 0);
	print_message("%zu cases, %zu valid by saksi; asking %s jsonschema\n", g.g_n, g.g_valid, py);
	/* Both verdicts must be well represented, or the comparison proves little. */
	assert_true(g.g_valid > 1000);
	assert_true(g.g_n - g.g_valid > 1000);

	snprintf(path, sizeof(path), "%s '%s' '%s' '%s'", py, SCRIPT, SCHEMAS_DIR, cases);
	rc = system(path);
	unlink(cases);
	json_decref(pool);
	saksi_schemas_free(s);
	assert_true(WIFEXITED(rc));
	assert_int_equal(WEXITSTATUS(rc), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crosscheck),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
