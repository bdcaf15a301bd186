/*
 * fuzz_schema.c: libFuzzer target for lib/schema.c over the real schemas/events. The first
 * input byte picks the event type (index into the sorted types; 0xff: a type that does
 * not exist), the rest is the payload, validated both as signed and in clear. Checks:
 * only the documented codes, errbuf one terminated line that never quotes a string value
 * of the payload, and the two modes agree when no personal field is present.
 */
#include <jansson.h>

#include "fuzz.h"
#include "schema.h"

/* Loaded once by LLVMFuzzerInitialize, immutable afterwards. */
static saksi_schemas *fz_schemas;
static size_t fz_ntypes;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("SAKSI_FUZZ_SCHEMA_DIR");
	char err[512];
	saksi_err e;

	(void)argc;
	(void)argv;
	if (dir == NULL)
		dir = SAKSI_SOURCE_SCHEMA_DIR;
	e = saksi_schemas_load(dir, &fz_schemas, err, sizeof err);
	if (e != SAKSI_OK)
		fprintf(stderr, "fuzz_schema: %s: %s (%d)\n", dir, err, e);
	FUZZ_SETUP(e == SAKSI_OK);
	fz_ntypes = saksi_schemas_count(fz_schemas);
	FUZZ_SETUP(fz_ntypes > 0 && fz_ntypes < 255);
	return 0;
}

/* Appends every member name in j to names (separated by 0x01): paths may quote them. */
static void
member_names(const json_t *j, char *names, size_t cap)
{
	const char *k;
	json_t *m;
	size_t i, n;

	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, m) {
			n = strlen(names);
			snprintf(names + n, cap - n, "%s\x01", k);
			member_names(m, names, cap);
		}
	} else if (json_is_array(j))
		json_array_foreach(j, i, m)
			member_names(m, names, cap);
}

/*
 * Every string value in j of 12+ bytes must be absent from err, unless it is also part
 * of a member name (a path in a message may show those).
 */
static void
no_value_quoted(const json_t *j, const char *err, const char *names)
{
	const char *k;
	json_t *m;
	size_t i;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		json_object_foreach((json_t *)j, k, m)
			no_value_quoted(m, err, names);
		break;
	case JSON_ARRAY:
		json_array_foreach(j, i, m)
			no_value_quoted(m, err, names);
		break;
	case JSON_STRING:
		if (json_string_length(j) >= 12 && strstr(names, json_string_value(j)) == NULL)
			FUZZ_CHECK(strstr(err, json_string_value(j)) == NULL,
			           "errbuf quotes a string value of the payload: %s", err);
		break;
	default:
		break;
	}
}

/* Is a member named like one of type's personal fields present at the top level? */
static int
has_personal(const json_t *j, const char *type)
{
	const char *const *p = saksi_schemas_personal(fz_schemas, type);

	FUZZ_CHECK(p != NULL, "no personal list for a known type %s", type);
	for (; *p != NULL; p++)
		if (json_object_get(j, *p) != NULL)
			return 1;
	return 0;
}

static void
check_err(saksi_err e, const char *err, size_t errlen, const json_t *j)
{
	size_t i, n;

	FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_SCHEMA, "unexpected code %d", e);
	n = strnlen(err, errlen);
	FUZZ_CHECK(n < errlen, "errbuf not terminated");
	FUZZ_CHECK(e == SAKSI_OK || n > 0, "no reason given for code %d", e);
	for (i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f,
		           "control byte 0x%02x in errbuf", (unsigned char)err[i]);
	if (j != NULL) {
		static char names[1 << 17];

		names[0] = '\0';
		member_names(j, names, sizeof names);
		no_value_quoted(j, err, names);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], err2[256], *payload;
	const char *type;
	json_t *j;
	saksi_err e, e2;

	if (size < 1)
		return 0;
	if ((payload = fuzz_copy(data + 1, size - 1, 0)) == NULL)
		return 0;
	if (data[0] == 0xff) {
		e = saksi_schemas_validate(fz_schemas, "no.such.type", payload, size - 1, err,
		                           sizeof err);
		FUZZ_CHECK(e == SAKSI_ERR_NOT_FOUND, "unknown type gave %d", e);
		free(payload);
		return 0;
	}
	type = saksi_schemas_type_at(fz_schemas, data[0] % fz_ntypes);
	FUZZ_CHECK(type != NULL && saksi_schemas_has(fz_schemas, type), "type_at/has");

	/* For the checks only: the schema module does its own parsing. */
	j = json_loadb(payload, size - 1, JSON_REJECT_DUPLICATES, NULL);
	memset(err, 'x', sizeof err);
	e = saksi_schemas_validate(fz_schemas, type, payload, size - 1, err, sizeof err);
	check_err(e, err, sizeof err, j);
	if (e == SAKSI_OK)
		FUZZ_CHECK(json_is_object(j), "a payload that is not a JSON object passed");
	memset(err2, 'x', sizeof err2);
	e2 = saksi_schemas_validate_clear(fz_schemas, type, payload, size - 1, err2, sizeof err2);
	check_err(e2, err2, sizeof err2, j);
	if (e2 == SAKSI_OK)
		FUZZ_CHECK(json_is_object(j), "a payload that is not a JSON object passed (clear)");
	/* Without a personal member the signed and the clear form are the same document. */
	if (json_is_object(j) && !has_personal(j, type))
		FUZZ_CHECK(e == e2, "%s: signed %d (%s) but clear %d (%s)", type, e, err, e2, err2);
	/* errbuf may be NULL. */
	FUZZ_CHECK(saksi_schemas_validate(fz_schemas, type, payload, size - 1, NULL, 0) == e,
	           "result depends on errbuf");
	json_decref(j);
	free(payload);
	return 0;
}
