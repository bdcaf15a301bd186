/*
 * schema.c: loads the event schemas (a strict subset of JSON Schema 2020-12, described in
 * schemas/README.md) and validates payloads against them. It must never load a schema with
 * a keyword it does not enforce, never copy a string value of a payload into an error
 * message (it may be personal data), and never crash or recurse unboundedly on hostile input.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "b64.h"
#include "envelope.h"
#include "errbuf.h"
#include "schema.h"

#define SCHEMA_DRAFT "https://json-schema.org/draft/2020-12/schema"
#define SCHEMA_ID_PREFIX "https://saksi.example/schemas/events/"
#define SCHEMA_FILE_MAX (1024 * 1024) /* a schema file is a few KiB; refuse anything silly */
#define SCHEMA_TYPES_MAX 1024
#define SCHEMA_LEN_MAX 1000000 /* bound on minLength and friends */
#define PAYLOAD_DEPTH_MAX 16
#define PAYLOAD_MEMBERS_MAX 64
#define PTR_MAX 200 /* JSON pointers in messages are cut here, with "..." */

/* Instance types, as a bit set. An integer instance is also a number. */
enum {
	T_STRING = 1 << 0,
	T_INTEGER = 1 << 1,
	T_NUMBER = 1 << 2,
	T_BOOLEAN = 1 << 3,
	T_OBJECT = 1 << 4,
	T_ARRAY = 1 << 5,
	T_NULL = 1 << 6,
	T_ANY = 0x7f,
};

static const struct {
	const char *name;
	unsigned bit;
} type_names[] = {
	{ "string", T_STRING }, { "integer", T_INTEGER }, { "number", T_NUMBER },
	{ "boolean", T_BOOLEAN }, { "object", T_OBJECT }, { "array", T_ARRAY },
	{ "null", T_NULL },
};

enum { FMT_NONE, FMT_DATE, FMT_DATETIME };

struct snode;

struct sprop {
	char *sp_name;
	int sp_required;
	struct snode *sp_schema;
};

/* One compiled (sub)schema. Unset numeric limits are -1, unset values NULL. */
struct snode {
	unsigned sn_types;
	int sn_personal;
	struct snode *sn_clear;       /* x-clear, for a personal field */
	struct sprop *sn_props;
	size_t sn_nprops;
	json_t *sn_enum;              /* a non-empty array */
	json_t *sn_const;
	long long sn_minlen, sn_maxlen;
	int sn_has_re;
	regex_t sn_re;
	char *sn_pattern;
	int sn_format;
	json_t *sn_min, *sn_max;      /* numbers */
	struct snode *sn_items;
	long long sn_minitems, sn_maxitems;
};

struct stype {
	char *st_name;
	struct snode *st_root;
	char **st_personal;           /* NULL-terminated */
};

struct saksi_schemas {
	struct stype *ss_types;       /* sorted by name */
	size_t ss_n;
	/*
	 * Patterns are compiled and run in the C locale whatever the program's locale is, so
	 * that [A-Z] means the 26 ASCII letters on every machine.
	 */
	locale_t ss_cloc;
};

struct lctx;
struct vctx;

/* A JSON pointer being built, for messages. */
struct ptr {
	char p_buf[PTR_MAX + 8];
	size_t p_len;
};

static size_t
ptr_push(struct ptr *p, const char *seg)
{
	size_t old = p->p_len;

	if (p->p_len >= PTR_MAX)
		return old;
	p->p_buf[p->p_len++] = '/';
	for (const unsigned char *c = (const unsigned char *)seg; *c; c++) {
		if (p->p_len + 2 >= PTR_MAX) {
			memcpy(p->p_buf + p->p_len, "...", 3);
			p->p_len += 3;
			break;
		}
		if (*c == '~' || *c == '/') {
			p->p_buf[p->p_len++] = '~';
			p->p_buf[p->p_len++] = *c == '~' ? '0' : '1';
		} else if (*c < 0x20 || *c == 0x7f) {
			/* A member name must not put a newline or escape into somebody's log. */
			p->p_buf[p->p_len++] = '?';
		} else
			p->p_buf[p->p_len++] = (char)*c;
	}
	p->p_buf[p->p_len] = '\0';
	return old;
}

static size_t
ptr_push_index(struct ptr *p, size_t i)
{
	char num[32];

	snprintf(num, sizeof(num), "%zu", i);
	return ptr_push(p, num);
}

static void
ptr_pop(struct ptr *p, size_t old)
{
	p->p_len = old;
	p->p_buf[old] = '\0';
}

static const char *
ptr_show(const struct ptr *p)
{
	return p->p_len ? p->p_buf : "(root)";
}

static saksi_err lerr(struct lctx *c, const struct ptr *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int verr(const struct vctx *v, const struct ptr *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats a JSON number for a message. Only numbers, never strings, go into messages. */
static void
fmt_num(const json_t *j, char *out, size_t len)
{
	if (json_is_integer(j))
		snprintf(out, len, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
	else {
		/* The shortest form that reads back exactly: 2.5000001, not 2.5000000999999998. */
		double d = json_real_value(j);
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(out, len, "%.*g", prec, d);
			if (strtod(out, NULL) == d)
				break;
		}
	}
}

static const char *
kind_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number with a fraction or exponent";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

static unsigned
instance_types(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return T_OBJECT;
	case JSON_ARRAY: return T_ARRAY;
	case JSON_STRING: return T_STRING;
	/*
	 * 2020-12 calls 1.0 an integer; we do not (stricter, so every payload we accept is
	 * still valid under a full validator).
	 */
	case JSON_INTEGER: return T_INTEGER | T_NUMBER;
	case JSON_REAL: return T_NUMBER;
	case JSON_TRUE:
	case JSON_FALSE: return T_BOOLEAN;
	case JSON_NULL: return T_NULL;
	}
	return 0;
}

/* Exact comparison of two JSON numbers; long double holds every int64 exactly. */
static int
num_cmp(const json_t *a, const json_t *b)
{
	long double x, y;

	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t i = json_integer_value(a), k = json_integer_value(b);
		return (i > k) - (i < k);
	}
	x = json_is_integer(a) ? (long double)json_integer_value(a) : (long double)json_real_value(a);
	y = json_is_integer(b) ? (long double)json_integer_value(b) : (long double)json_real_value(b);
	return (x > y) - (x < y);
}

/* Unicode code points in a string jansson has already checked to be UTF-8. */
static size_t
utf8_len(const char *s, size_t n)
{
	size_t cp = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			cp++;
	return cp;
}

static int
digits(const char *s, size_t n, int *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (s[i] - '0');
	}
	return 1;
}

/* RFC 3339 full-date: YYYY-MM-DD, a real calendar day, year 0001 to 9999. */
static int
is_date(const char *s, size_t n)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d;

	if (n != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
		return 0;
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 0;
	return 1;
}

/*
 * RFC 3339 date-time: full-date "T" HH:MM:SS[.1-9 digits] ("Z" / +HH:MM / -HH:MM),
 * upper-case T and Z only, no leap second (stricter than RFC 3339, never looser).
 */
static int
is_datetime(const char *s, size_t n)
{
	int h, mi, se;
	size_t i;

	if (n < 20 || !is_date(s, 10) || s[10] != 'T')
		return 0;
	if (s[13] != ':' || s[16] != ':' || !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) ||
	    !digits(s + 17, 2, &se) || h > 23 || mi > 59 || se > 59)
		return 0;
	i = 19;
	if (s[i] == '.') {
		size_t f = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f || i - f > 9)
			return 0;
	}
	if (i < n && s[i] == 'Z')
		return i + 1 == n;
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		if (n - i != 6 || s[i + 3] != ':' || !digits(s + i + 1, 2, &h) ||
		    !digits(s + i + 4, 2, &mi) || h > 23 || mi > 59)
			return 0;
		return 1;
	}
	return 0;
}

/* ---- loading ---------------------------------------------------------------------- */

struct lctx {
	const char *lc_file;
	const char *lc_type;
	locale_t lc_cloc;
	char *lc_err;
	size_t lc_errlen;
};

static saksi_err
lerr(struct lctx *c, const struct ptr *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	saksi_errbuf(c->lc_err, c->lc_errlen, "%s: %s: %s", c->lc_file, ptr_show(p), msg);
	return SAKSI_ERR_FORMAT;
}

static void
node_free(struct snode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->sn_nprops; i++) {
		free(n->sn_props[i].sp_name);
		node_free(n->sn_props[i].sp_schema);
	}
	free(n->sn_props);
	node_free(n->sn_clear);
	node_free(n->sn_items);
	json_decref(n->sn_enum);
	json_decref(n->sn_const);
	json_decref(n->sn_min);
	json_decref(n->sn_max);
	if (n->sn_has_re)
		regfree(&n->sn_re);
	free(n->sn_pattern);
	free(n);
}

/* Where a keyword may appear. */
enum {
	W_ROOT = 1 << 0,     /* only the top-level schema */
	W_TOPPROP = 1 << 1,  /* only a property of the top-level schema (personal fields) */
	W_CLEAR = 1 << 2,    /* allowed inside x-clear */
	W_ANY = 1 << 3,      /* any non-personal schema */
	W_PERSONAL = 1 << 4, /* allowed beside x-personal */
};

static const struct kw {
	const char *k_name;
	unsigned k_where;
	unsigned k_types; /* instance types the keyword acts on; T_ANY if all */
} keywords[] = {
	{ "$schema", W_ROOT, T_ANY },
	{ "$id", W_ROOT, T_ANY },
	{ "x-event-type", W_ROOT, T_ANY },
	{ "title", W_ANY | W_CLEAR | W_PERSONAL, T_ANY },
	{ "description", W_ANY | W_CLEAR | W_PERSONAL, T_ANY },
	{ "x-personal", W_TOPPROP | W_PERSONAL, T_ANY },
	{ "x-clear", W_PERSONAL, T_ANY },
	{ "type", W_ANY | W_CLEAR, T_ANY },
	{ "enum", W_ANY | W_CLEAR, T_ANY },
	{ "const", W_ANY | W_CLEAR, T_ANY },
	{ "properties", W_ANY, T_OBJECT },
	{ "required", W_ANY, T_OBJECT },
	{ "additionalProperties", W_ANY, T_OBJECT },
	{ "minLength", W_ANY | W_CLEAR, T_STRING },
	{ "maxLength", W_ANY | W_CLEAR, T_STRING },
	{ "pattern", W_ANY | W_CLEAR, T_STRING },
	{ "format", W_ANY | W_CLEAR, T_STRING },
	{ "minimum", W_ANY, T_NUMBER | T_INTEGER },
	{ "maximum", W_ANY, T_NUMBER | T_INTEGER },
	{ "items", W_ANY, T_ARRAY },
	{ "minItems", W_ANY, T_ARRAY },
	{ "maxItems", W_ANY, T_ARRAY },
};

static const struct kw *
kw_find(const char *name)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcmp(keywords[i].k_name, name) == 0)
			return &keywords[i];
	return NULL;
}

/*
 * Patterns must mean the same as POSIX EREs (how we run them) and as ECMA-262 regular
 * expressions (how every other JSON Schema validator runs them), so only the common part
 * is allowed: printable ASCII, no unescaped "." (a byte here, a character there), bracket
 * expressions without negation, backslash or nested "[", and a backslash only before a
 * punctuation character.
 */
static const char *
pattern_unportable(const char *re)
{
	int in_br = 0;

	for (const char *c = re; *c; c++) {
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			return "has a character outside printable ASCII";
		if (in_br) {
			if (*c == '\\' || *c == '[')
				return "has \"\\\" or \"[\" inside a bracket expression";
			if (*c == ']')
				in_br = 0;
			continue;
		}
		switch (*c) {
		case '[':
			if (c[1] == '^')
				return "has a negated bracket expression";
			if (c[1] == ']')
				return "has \"]\" first in a bracket expression";
			in_br = 1;
			break;
		case '.':
			return "has an unescaped \".\"";
		case '\\':
			if (c[1] == '\0' || strchr(".^$|?*+()[]{}\\/-", c[1]) == NULL)
				return "has a backslash that is not before a punctuation character";
			c++;
			break;
		default:
			break;
		}
	}
	return in_br ? "has an unterminated bracket expression" : NULL;
}

static saksi_err parse_node(struct lctx *c, json_t *js, struct ptr *p, unsigned where,
                            struct snode **out);

static saksi_err
length_kw(struct lctx *c, struct ptr *p, const char *k, json_t *v, long long *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > SCHEMA_LEN_MAX)
		return lerr(c, p, "keyword \"%s\" must be an integer from 0 to %d", k,
		            SCHEMA_LEN_MAX);
	*out = json_integer_value(v);
	return SAKSI_OK;
}

static saksi_err
parse_type(struct lctx *c, struct ptr *p, json_t *v, unsigned *out)
{
	size_t i, n;
	json_t *e;

	*out = 0;
	if (json_is_string(v)) {
		for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
			if (strcmp(json_string_value(v), type_names[i].name) == 0)
				*out = type_names[i].bit;
		if (*out == 0)
			return lerr(c, p, "keyword \"type\" names an unknown type");
		return SAKSI_OK;
	}
	if (!json_is_array(v) || json_array_size(v) == 0)
		return lerr(c, p, "keyword \"type\" must be a type name or a non-empty array of them");
	json_array_foreach(v, n, e) {
		unsigned bit = 0;
		if (!json_is_string(e))
			return lerr(c, p, "keyword \"type\" must be a type name or a non-empty array of them");
		for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
			if (strcmp(json_string_value(e), type_names[i].name) == 0)
				bit = type_names[i].bit;
		if (bit == 0)
			return lerr(c, p, "keyword \"type\" names an unknown type");
		if (*out & bit)
			return lerr(c, p, "keyword \"type\" names a type twice");
		*out |= bit;
	}
	return SAKSI_OK;
}

static saksi_err
parse_properties(struct lctx *c, struct ptr *p, json_t *v, unsigned where, struct snode *n)
{
	const char *k;
	json_t *sub;
	size_t old, at;
	saksi_err e;

	if (!json_is_object(v))
		return lerr(c, p, "keyword \"properties\" must be an object");
	n->sn_props = calloc(json_object_size(v) ? json_object_size(v) : 1, sizeof(*n->sn_props));
	if (n->sn_props == NULL)
		return SAKSI_ERR_NOMEM;
	old = ptr_push(p, "properties");
	json_object_foreach(v, k, sub) {
		at = ptr_push(p, k);
		if (!json_is_object(sub)) {
			e = lerr(c, p, "a property's schema must be an object");
			goto out;
		}
		if ((n->sn_props[n->sn_nprops].sp_name = strdup(k)) == NULL) {
			e = SAKSI_ERR_NOMEM;
			goto out;
		}
		n->sn_nprops++;
		e = parse_node(c, sub, p, (where & W_ROOT) ? W_TOPPROP : W_ANY,
		               &n->sn_props[n->sn_nprops - 1].sp_schema);
		if (e != SAKSI_OK)
			goto out;
		ptr_pop(p, at);
	}
	e = SAKSI_OK;
out:
	if (e == SAKSI_OK)
		ptr_pop(p, old);
	return e;
}

static saksi_err
parse_required(struct lctx *c, struct ptr *p, json_t *v, struct snode *n)
{
	size_t i, k;
	json_t *e;

	if (!json_is_array(v))
		return lerr(c, p, "keyword \"required\" must be an array of property names");
	json_array_foreach(v, i, e) {
		struct sprop *sp = NULL;
		if (!json_is_string(e))
			return lerr(c, p, "keyword \"required\" must be an array of property names");
		for (k = 0; k < n->sn_nprops; k++)
			if (strcmp(n->sn_props[k].sp_name, json_string_value(e)) == 0)
				sp = &n->sn_props[k];
		/* With additionalProperties false, a required name not in properties can never be met. */
		if (sp == NULL)
			return lerr(c, p, "keyword \"required\" names \"%.64s\", which is not in properties",
			            json_string_value(e));
		if (sp->sp_required)
			return lerr(c, p, "keyword \"required\" names \"%.64s\" twice",
			            json_string_value(e));
		sp->sp_required = 1;
	}
	return SAKSI_OK;
}

/* Checks the keywords that may stand beside x-personal, and parses x-clear. */
static saksi_err
parse_personal(struct lctx *c, json_t *js, struct ptr *p, struct snode *n)
{
	const char *k;
	json_t *v;
	size_t at;
	saksi_err e;

	json_object_foreach(js, k, v) {
		const struct kw *kw = kw_find(k);
		if (kw == NULL || !(kw->k_where & W_PERSONAL))
			return lerr(c, p, "keyword \"%.64s\" is not allowed beside \"x-personal\" (the signed form of a personal field is fixed)", k);
	}
	v = json_object_get(js, "x-personal");
	if (!json_is_true(v))
		return lerr(c, p, "keyword \"x-personal\" must be true");
	v = json_object_get(js, "x-clear");
	if (v == NULL)
		return lerr(c, p, "missing keyword \"x-clear\" on a personal field");
	if (!json_is_object(v))
		return lerr(c, p, "keyword \"x-clear\" must be a schema object");
	at = ptr_push(p, "x-clear");
	e = parse_node(c, v, p, W_CLEAR, &n->sn_clear);
	if (e != SAKSI_OK)
		return e;
	if (n->sn_clear->sn_types != T_STRING)
		return lerr(c, p, "keyword \"type\" must be \"string\": a disclosed value is a string");
	ptr_pop(p, at);
	n->sn_personal = 1;
	return SAKSI_OK;
}

static saksi_err
parse_node(struct lctx *c, json_t *js, struct ptr *p, unsigned where, struct snode **out)
{
	struct snode *n;
	const char *k;
	json_t *v, *prop = NULL, *req = NULL;
	int has_type = 0, closed = 0;
	unsigned allowed;
	saksi_err e;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return SAKSI_ERR_NOMEM;
	*out = n;
	n->sn_minlen = n->sn_maxlen = n->sn_minitems = n->sn_maxitems = -1;

	if ((where & W_TOPPROP) && json_object_get(js, "x-personal") != NULL)
		return parse_personal(c, js, p, n);

	/* First pass: every keyword must be known, allowed here, and act on a declared type. */
	allowed = where & W_CLEAR ? W_CLEAR : where & W_ROOT ? W_ROOT | W_ANY : W_ANY;
	json_object_foreach(js, k, v) {
		const struct kw *kw = kw_find(k);
		if (kw == NULL)
			return lerr(c, p, "unsupported keyword \"%.64s\"", k);
		if (!(kw->k_where & allowed))
			return lerr(c, p, "keyword \"%s\" is not allowed here", k);
		if (strcmp(k, "type") == 0) {
			if ((e = parse_type(c, p, v, &n->sn_types)) != SAKSI_OK)
				return e;
			has_type = 1;
		}
	}
	if (!has_type)
		return lerr(c, p, "missing keyword \"type\"");
	json_object_foreach(js, k, v) {
		const struct kw *kw = kw_find(k);
		if (!(kw->k_types & n->sn_types))
			return lerr(c, p, "keyword \"%s\" does nothing for the type declared", k);
	}

	json_object_foreach(js, k, v) {
		if (strcmp(k, "$schema") == 0) {
			if (!json_is_string(v) || strcmp(json_string_value(v), SCHEMA_DRAFT) != 0)
				return lerr(c, p, "keyword \"$schema\" must be \"%s\"", SCHEMA_DRAFT);
		} else if (strcmp(k, "$id") == 0) {
			const char *s = json_string_value(v);
			size_t pl = strlen(SCHEMA_ID_PREFIX), tl = strlen(c->lc_type);
			if (s == NULL || strlen(s) != pl + tl + 5 || strncmp(s, SCHEMA_ID_PREFIX, pl) != 0 ||
			    strncmp(s + pl, c->lc_type, tl) != 0 || strcmp(s + pl + tl, ".json") != 0)
				return lerr(c, p, "keyword \"$id\" must be \"%s%s.json\"", SCHEMA_ID_PREFIX,
				            c->lc_type);
		} else if (strcmp(k, "x-event-type") == 0) {
			if (!json_is_string(v) || strcmp(json_string_value(v), c->lc_type) != 0)
				return lerr(c, p, "keyword \"x-event-type\" must be \"%s\", the file name", c->lc_type);
		} else if (strcmp(k, "title") == 0 || strcmp(k, "description") == 0) {
			if (!json_is_string(v))
				return lerr(c, p, "keyword \"%s\" must be a string", k);
		} else if (strcmp(k, "type") == 0) {
			/* done */
		} else if (strcmp(k, "enum") == 0) {
			size_t i, j;
			if (!json_is_array(v) || json_array_size(v) == 0)
				return lerr(c, p, "keyword \"enum\" must be a non-empty array");
			for (i = 0; i < json_array_size(v); i++) {
				if (!(instance_types(json_array_get(v, i)) & n->sn_types))
					return lerr(c, p, "keyword \"enum\": value %zu does not have the type declared", i);
				for (j = 0; j < i; j++)
					if (json_equal(json_array_get(v, i), json_array_get(v, j)))
						return lerr(c, p, "keyword \"enum\": value %zu repeats value %zu", i, j);
			}
			n->sn_enum = json_incref(v);
		} else if (strcmp(k, "const") == 0) {
			if (!(instance_types(v) & n->sn_types))
				return lerr(c, p, "keyword \"const\" does not have the type declared");
			n->sn_const = json_incref(v);
		} else if (strcmp(k, "properties") == 0) {
			prop = v;
		} else if (strcmp(k, "required") == 0) {
			req = v;
		} else if (strcmp(k, "additionalProperties") == 0) {
			if (!json_is_false(v))
				return lerr(c, p, "keyword \"additionalProperties\" must be false (the only form supported)");
			closed = 1;
		} else if (strcmp(k, "minLength") == 0) {
			if ((e = length_kw(c, p, k, v, &n->sn_minlen)) != SAKSI_OK)
				return e;
		} else if (strcmp(k, "maxLength") == 0) {
			if ((e = length_kw(c, p, k, v, &n->sn_maxlen)) != SAKSI_OK)
				return e;
		} else if (strcmp(k, "minItems") == 0) {
			if ((e = length_kw(c, p, k, v, &n->sn_minitems)) != SAKSI_OK)
				return e;
		} else if (strcmp(k, "maxItems") == 0) {
			if ((e = length_kw(c, p, k, v, &n->sn_maxitems)) != SAKSI_OK)
				return e;
		} else if (strcmp(k, "pattern") == 0) {
			const char *why;
			locale_t old;
			int rc;
			if (!json_is_string(v))
				return lerr(c, p, "keyword \"pattern\" must be a string");
			if ((why = pattern_unportable(json_string_value(v))) != NULL)
				return lerr(c, p, "keyword \"pattern\" %s", why);
			if ((n->sn_pattern = strdup(json_string_value(v))) == NULL)
				return SAKSI_ERR_NOMEM;
			old = uselocale(c->lc_cloc);
			rc = regcomp(&n->sn_re, n->sn_pattern, REG_EXTENDED | REG_NOSUB);
			uselocale(old);
			if (rc != 0) {
				char why2[128];
				regerror(rc, &n->sn_re, why2, sizeof(why2));
				return lerr(c, p, "keyword \"pattern\" does not compile: %s", why2);
			}
			n->sn_has_re = 1;
		} else if (strcmp(k, "format") == 0) {
			if (json_is_string(v) && strcmp(json_string_value(v), "date") == 0)
				n->sn_format = FMT_DATE;
			else if (json_is_string(v) && strcmp(json_string_value(v), "date-time") == 0)
				n->sn_format = FMT_DATETIME;
			else
				return lerr(c, p, "keyword \"format\" must be \"date\" or \"date-time\"");
		} else if (strcmp(k, "minimum") == 0 || strcmp(k, "maximum") == 0) {
			if (!json_is_number(v))
				return lerr(c, p, "keyword \"%s\" must be a number", k);
			if (strcmp(k, "minimum") == 0)
				n->sn_min = json_incref(v);
			else
				n->sn_max = json_incref(v);
		} else if (strcmp(k, "items") == 0) {
			size_t at;
			if (!json_is_object(v))
				return lerr(c, p, "keyword \"items\" must be a schema object");
			at = ptr_push(p, "items");
			if ((e = parse_node(c, v, p, W_ANY, &n->sn_items)) != SAKSI_OK)
				return e;
			ptr_pop(p, at);
		} else if (strcmp(k, "x-personal") == 0 || strcmp(k, "x-clear") == 0) {
			/* x-personal is handled above; x-clear alone is refused by the first pass. */
			return lerr(c, p, "keyword \"%s\" is not allowed here", k);
		}
	}
	if (n->sn_minlen >= 0 && n->sn_maxlen >= 0 && n->sn_minlen > n->sn_maxlen)
		return lerr(c, p, "keyword \"minLength\" is above \"maxLength\"");
	if (n->sn_minitems >= 0 && n->sn_maxitems >= 0 && n->sn_minitems > n->sn_maxitems)
		return lerr(c, p, "keyword \"minItems\" is above \"maxItems\"");
	if (n->sn_min != NULL && n->sn_max != NULL && num_cmp(n->sn_min, n->sn_max) > 0)
		return lerr(c, p, "keyword \"minimum\" is above \"maximum\"");
	if ((n->sn_types & T_ARRAY) && n->sn_items == NULL)
		return lerr(c, p, "missing keyword \"items\" on an array schema");
	if (n->sn_types & T_OBJECT) {
		/* Nothing is silently accepted: every object lists its members. */
		if (!closed)
			return lerr(c, p, "missing \"additionalProperties\": false on an object schema");
		if (prop != NULL && (e = parse_properties(c, p, prop, where, n)) != SAKSI_OK)
			return e;
		if (req != NULL && (e = parse_required(c, p, req, n)) != SAKSI_OK)
			return e;
		if (n->sn_nprops > PAYLOAD_MEMBERS_MAX)
			return lerr(c, p, "more than %d properties", PAYLOAD_MEMBERS_MAX);
	}
	return SAKSI_OK;
}

static saksi_err
parse_root(struct lctx *c, json_t *js, struct stype *st)
{
	static const char *const must[] = { "$schema", "$id", "x-event-type", "title",
	                                    "description", "type", "additionalProperties",
	                                    "required", "properties" };
	struct ptr p = { .p_len = 0 };
	struct sprop *branch = NULL;
	size_t i, np = 0;
	saksi_err e;

	if (!json_is_object(js))
		return lerr(c, &p, "a schema must be a JSON object");
	for (i = 0; i < sizeof(must) / sizeof(must[0]); i++)
		if (json_object_get(js, must[i]) == NULL)
			return lerr(c, &p, "missing keyword \"%s\"", must[i]);
	if ((e = parse_node(c, js, &p, W_ROOT, &st->st_root)) != SAKSI_OK)
		return e;
	if (st->st_root->sn_types != T_OBJECT)
		return lerr(c, &p, "keyword \"type\" must be \"object\" for an event");
	/* The daemon compares "branch" with the signing key's branch (FORMATS.md 3.2). */
	for (i = 0; i < st->st_root->sn_nprops; i++)
		if (strcmp(st->st_root->sn_props[i].sp_name, "branch") == 0)
			branch = &st->st_root->sn_props[i];
	if (branch == NULL || !branch->sp_required || branch->sp_schema->sn_personal ||
	    branch->sp_schema->sn_types != T_STRING)
		return lerr(c, &p, "keyword \"required\": every event needs a required, non-personal string \"branch\"");

	for (i = 0; i < st->st_root->sn_nprops; i++)
		np += st->st_root->sn_props[i].sp_schema->sn_personal != 0;
	if (np > SAKSI_DISCLOSURES_MAX)
		return lerr(c, &p, "keyword \"x-personal\": more than %d personal fields", SAKSI_DISCLOSURES_MAX);
	if ((st->st_personal = calloc(np + 1, sizeof(char *))) == NULL)
		return SAKSI_ERR_NOMEM;
	np = 0;
	for (i = 0; i < st->st_root->sn_nprops; i++)
		if (st->st_root->sn_props[i].sp_schema->sn_personal)
			st->st_personal[np++] = st->st_root->sn_props[i].sp_name;
	return SAKSI_OK;
}

static int
type_name_ok(const char *t, size_t n)
{
	if (n == 0 || n > SAKSI_TYPE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '_' ||
		      t[i] == '.'))
			return 0;
	return 1;
}

/* Reads dir/name whole, refusing what is not a regular file or is too large. */
static saksi_err
read_file(int dfd, const char *name, char **buf, size_t *len, char *errbuf, size_t errlen)
{
	struct stat st;
	ssize_t r;
	size_t got = 0;
	int fd;

	*buf = NULL;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		saksi_errbuf(errbuf, errlen, "%s: cannot open: %s", name, strerror(errno));
		return SAKSI_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		saksi_errbuf(errbuf, errlen, "%s: not a regular file", name);
		close(fd);
		return SAKSI_ERR_IO;
	}
	if (st.st_size > SCHEMA_FILE_MAX) {
		saksi_errbuf(errbuf, errlen, "%s: larger than %d bytes", name, SCHEMA_FILE_MAX);
		close(fd);
		return SAKSI_ERR_TOO_LARGE;
	}
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return SAKSI_ERR_NOMEM;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, *buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			saksi_errbuf(errbuf, errlen, "%s: read failed", name);
			close(fd);
			free(*buf);
			*buf = NULL;
			return SAKSI_ERR_IO;
		}
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return SAKSI_OK;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
type_cmp(const void *a, const void *b)
{
	return strcmp(((const struct stype *)a)->st_name, ((const struct stype *)b)->st_name);
}

static saksi_err
load_one(saksi_schemas *s, int dfd, const char *fname, char *errbuf, size_t errlen)
{
	struct stype *st = &s->ss_types[s->ss_n];
	struct lctx c;
	json_error_t jerr;
	json_t *js;
	char *buf;
	size_t len, tl = strlen(fname) - 5;
	saksi_err e;

	if (!type_name_ok(fname, tl)) {
		saksi_errbuf(errbuf, errlen, "%s: the file name must be the event type: 1 to %d of [a-z0-9_.], then .json",
		    fname, SAKSI_TYPE_MAX);
		return SAKSI_ERR_FORMAT;
	}
	if ((e = read_file(dfd, fname, &buf, &len, errbuf, errlen)) != SAKSI_OK)
		return e;
	js = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (js == NULL) {
		saksi_errbuf(errbuf, errlen, "%s: not valid JSON (line %d, column %d): %s", fname, jerr.line,
		    jerr.column, jerr.text);
		return SAKSI_ERR_FORMAT;
	}
	if ((st->st_name = strndup(fname, tl)) == NULL) {
		json_decref(js);
		return SAKSI_ERR_NOMEM;
	}
	s->ss_n++; /* so that saksi_schemas_free frees what was built, even on error */
	c = (struct lctx){ .lc_file = fname, .lc_type = st->st_name, .lc_cloc = s->ss_cloc,
	                   .lc_err = errbuf, .lc_errlen = errlen };
	e = parse_root(&c, js, st);
	json_decref(js);
	return e;
}

saksi_err
saksi_schemas_load(const char *dir, saksi_schemas **out, char *errbuf, size_t errlen)
{
	saksi_schemas *s = NULL;
	char **names = NULL;
	size_t nn = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;
	saksi_err e;

	if (out != NULL)
		*out = NULL;
	if (dir == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	saksi_errbuf(errbuf, errlen, "%s", "");
	if ((d = opendir(dir)) == NULL) {
		saksi_errbuf(errbuf, errlen, "%s: cannot open the schema directory: %s", dir, strerror(errno));
		return errno == ENOENT ? SAKSI_ERR_NOT_FOUND : SAKSI_ERR_IO;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l <= 5 || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		if (nn == SCHEMA_TYPES_MAX) {
			saksi_errbuf(errbuf, errlen, "%s: more than %d schema files", dir, SCHEMA_TYPES_MAX);
			e = SAKSI_ERR_TOO_LARGE;
			goto fail;
		}
		if (nn == cap) {
			char **nw = realloc(names, (cap ? cap * 2 : 32) * sizeof(*names));
			if (nw == NULL) {
				e = SAKSI_ERR_NOMEM;
				goto fail;
			}
			names = nw;
			cap = cap ? cap * 2 : 32;
		}
		if ((names[nn] = strdup(de->d_name)) == NULL) {
			e = SAKSI_ERR_NOMEM;
			goto fail;
		}
		nn++;
	}
	if (nn == 0) {
		saksi_errbuf(errbuf, errlen, "%s: no *.json schema file", dir);
		e = SAKSI_ERR_NOT_FOUND;
		goto fail;
	}
	/* Loaded in file name order, so that the first bad file named is always the same. */
	qsort(names, nn, sizeof(*names), name_cmp);

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->ss_types = calloc(nn, sizeof(*s->ss_types))) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto fail;
	}
	if ((s->ss_cloc = newlocale(LC_ALL_MASK, "C", (locale_t)0)) == (locale_t)0) {
		e = SAKSI_ERR_NOMEM;
		goto fail;
	}
	for (i = 0; i < nn; i++)
		if ((e = load_one(s, dirfd(d), names[i], errbuf, errlen)) != SAKSI_OK)
			goto fail;
	/* "a.b.json" sorts before "a.json", but type "a" before "a.b": sort by type for bisection. */
	qsort(s->ss_types, s->ss_n, sizeof(*s->ss_types), type_cmp);
	e = SAKSI_OK;
	*out = s;
	s = NULL;
fail:
	closedir(d);
	for (i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	saksi_schemas_free(s);
	return e;
}

void
saksi_schemas_free(saksi_schemas *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->ss_n; i++) {
		free(s->ss_types[i].st_name);
		node_free(s->ss_types[i].st_root);
		free(s->ss_types[i].st_personal);
	}
	free(s->ss_types);
	if (s->ss_cloc != (locale_t)0)
		freelocale(s->ss_cloc);
	free(s);
}

static const struct stype *
find_type(const saksi_schemas *s, const char *type)
{
	size_t lo = 0, hi = s->ss_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(type, s->ss_types[mid].st_name);
		if (c == 0)
			return &s->ss_types[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int
saksi_schemas_has(const saksi_schemas *s, const char *type)
{
	return s != NULL && type != NULL && find_type(s, type) != NULL;
}

size_t
saksi_schemas_count(const saksi_schemas *s)
{
	return s == NULL ? 0 : s->ss_n;
}

const char *
saksi_schemas_type_at(const saksi_schemas *s, size_t i)
{
	if (s == NULL || i >= s->ss_n)
		return NULL;
	return s->ss_types[i].st_name;
}

const char *const *
saksi_schemas_personal(const saksi_schemas *s, const char *type)
{
	const struct stype *st;

	if (s == NULL || type == NULL || (st = find_type(s, type)) == NULL)
		return NULL;
	return (const char *const *)st->st_personal;
}

/* ---- validating ------------------------------------------------------------------- */

struct vctx {
	const saksi_schemas *v_s;
	int v_clear;
	char *v_err;
	size_t v_errlen;
};

static int
verr(const struct vctx *v, const struct ptr *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	saksi_errbuf(v->v_err, v->v_errlen, "%s: %s", ptr_show(p), msg);
	return -1;
}

/* {"_sd": "<43 base64url chars encoding 32 bytes>"} and nothing else. */
static int
is_sd(const json_t *j)
{
	unsigned char bin[32];
	const char *end = NULL;
	size_t bl = 0;
	json_t *d;

	if (!json_is_object(j) || json_object_size(j) != 1)
		return 0;
	d = json_object_get(j, "_sd");
	if (!json_is_string(d) || json_string_length(d) != SAKSI_DIGEST_B64_LEN)
		return 0;
	/* libsodium refuses non-zero spare bits, so only the canonical encoding passes. */
	if (saksi_base642bin(bin, sizeof(bin), json_string_value(d), SAKSI_DIGEST_B64_LEN, NULL,
	                      &bl, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return 0;
	return bl == sizeof(bin) && end == json_string_value(d) + SAKSI_DIGEST_B64_LEN;
}

static int validate(const struct vctx *v, const struct snode *n, const json_t *j, struct ptr *p);

static int
validate_object(const struct vctx *v, const struct snode *n, const json_t *j, struct ptr *p)
{
	const char *k;
	json_t *m;
	size_t i, at;

	json_object_foreach((json_t *)j, k, m) {
		const struct sprop *sp = NULL;
		for (i = 0; i < n->sn_nprops && sp == NULL; i++)
			if (strcmp(n->sn_props[i].sp_name, k) == 0)
				sp = &n->sn_props[i];
		at = ptr_push(p, k);
		if (sp == NULL)
			return verr(v, p, "unknown member (additionalProperties is false)");
		ptr_pop(p, at);
	}
	for (i = 0; i < n->sn_nprops; i++) {
		if (!n->sn_props[i].sp_required || json_object_get(j, n->sn_props[i].sp_name) != NULL)
			continue;
		at = ptr_push(p, n->sn_props[i].sp_name);
		return verr(v, p, "required member is missing");
	}
	for (i = 0; i < n->sn_nprops; i++) {
		if ((m = json_object_get(j, n->sn_props[i].sp_name)) == NULL)
			continue;
		at = ptr_push(p, n->sn_props[i].sp_name);
		if (validate(v, n->sn_props[i].sp_schema, m, p) != 0)
			return -1;
		ptr_pop(p, at);
	}
	return 0;
}

static int
validate_string(const struct vctx *v, const struct snode *n, const json_t *j, const struct ptr *p)
{
	const char *s = json_string_value(j);
	size_t bl = json_string_length(j), cp;

	if (n->sn_minlen >= 0 || n->sn_maxlen >= 0) {
		cp = utf8_len(s, bl);
		if (n->sn_minlen >= 0 && cp < (size_t)n->sn_minlen)
			return verr(v, p, "%zu characters is below the minimum length %lld", cp, n->sn_minlen);
		if (n->sn_maxlen >= 0 && cp > (size_t)n->sn_maxlen)
			return verr(v, p, "%zu characters is above the maximum length %lld", cp, n->sn_maxlen);
	}
	if (n->sn_has_re) {
		locale_t old;
		int rc;
		/* regexec stops at a NUL; jansson refuses \u0000, but never trust that alone. */
		if (strlen(s) != bl)
			return verr(v, p, "contains a NUL character");
		old = uselocale(v->v_s->ss_cloc);
		rc = regexec(&n->sn_re, s, 0, NULL, 0);
		uselocale(old);
		if (rc != 0)
			return verr(v, p, "does not match the pattern %s", n->sn_pattern);
	}
	if (n->sn_format == FMT_DATE && !is_date(s, bl))
		return verr(v, p, "is not a date (YYYY-MM-DD)");
	if (n->sn_format == FMT_DATETIME && !is_datetime(s, bl))
		return verr(v, p, "is not an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM))");
	return 0;
}

static int
validate(const struct vctx *v, const struct snode *n, const json_t *j, struct ptr *p)
{
	char a[64], b[64];
	unsigned it = instance_types(j);

	if (n->sn_personal) {
		if (!v->v_clear) {
			if (!is_sd(j))
				return verr(v, p, "a personal field must be {\"_sd\": \"<43-char base64url digest>\"} in a signed payload");
			return 0;
		}
		if (!json_is_string(j))
			return verr(v, p, "a personal field must be a string in clear (found %s)", kind_name(j));
		return validate(v, n->sn_clear, j, p);
	}
	if (!(it & n->sn_types)) {
		char want[96] = "";
		for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
			if (n->sn_types & type_names[i].bit) {
				if (want[0])
					strcat(want, " or ");
				strcat(want, type_names[i].name);
			}
		return verr(v, p, "is %s, expected %s", kind_name(j), want);
	}
	if (n->sn_enum != NULL) {
		size_t i, hit = 0;
		for (i = 0; i < json_array_size(n->sn_enum) && !hit; i++)
			hit = json_equal((json_t *)j, json_array_get(n->sn_enum, i));
		if (!hit)
			return verr(v, p, "is not one of the %zu allowed values", json_array_size(n->sn_enum));
	}
	if (n->sn_const != NULL && !json_equal((json_t *)j, n->sn_const))
		return verr(v, p, "is not the constant value required");
	switch (json_typeof(j)) {
	case JSON_STRING:
		return validate_string(v, n, j, p);
	case JSON_INTEGER:
	case JSON_REAL:
		if (n->sn_min != NULL && num_cmp(j, n->sn_min) < 0) {
			fmt_num(j, a, sizeof(a));
			fmt_num(n->sn_min, b, sizeof(b));
			return verr(v, p, "%s is below the minimum %s", a, b);
		}
		if (n->sn_max != NULL && num_cmp(j, n->sn_max) > 0) {
			fmt_num(j, a, sizeof(a));
			fmt_num(n->sn_max, b, sizeof(b));
			return verr(v, p, "%s is above the maximum %s", a, b);
		}
		return 0;
	case JSON_OBJECT:
		return validate_object(v, n, j, p);
	case JSON_ARRAY: {
		size_t sz = json_array_size(j), i, at;
		if (n->sn_minitems >= 0 && sz < (size_t)n->sn_minitems)
			return verr(v, p, "%zu items is below the minimum %lld", sz, n->sn_minitems);
		if (n->sn_maxitems >= 0 && sz > (size_t)n->sn_maxitems)
			return verr(v, p, "%zu items is above the maximum %lld", sz, n->sn_maxitems);
		for (i = 0; i < sz; i++) {
			at = ptr_push_index(p, i);
			if (validate(v, n->sn_items, json_array_get(j, i), p) != 0)
				return -1;
			ptr_pop(p, at);
		}
		return 0;
	}
	default:
		return 0;
	}
}

/*
 * Nesting depth, counted on the bytes before parsing so that a bomb of brackets is refused
 * without building it. Only an upper bound on text that is not JSON, which the parser
 * then refuses anyway.
 */
static int
too_deep(const char *s, size_t n)
{
	int depth = 0, in_str = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '{' || c == '[') {
			if (++depth > PAYLOAD_DEPTH_MAX)
				return 1;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return 0;
}

/*
 * The caps on a tree, whoever built it: 1 if no container nests deeper than
 * PAYLOAD_DEPTH_MAX (the outermost is at depth 1, as too_deep counts) and no object has
 * more than PAYLOAD_MEMBERS_MAX members. Stops at the first breach, so its recursion is
 * bounded whatever the tree. Builds no message: this runs on every event.
 */
static int
caps_ok(const json_t *j, int depth, int *deep)
{
	const char *k;
	json_t *m;
	size_t i;

	if (!json_is_object(j) && !json_is_array(j))
		return 1;
	if (depth >= PAYLOAD_DEPTH_MAX) {
		*deep = 1;
		return 0;
	}
	if (json_is_object(j)) {
		if (json_object_size(j) > PAYLOAD_MEMBERS_MAX)
			return 0;
		json_object_foreach((json_t *)j, k, m)
			if (!caps_ok(m, depth + 1, deep))
				return 0;
	} else {
		json_array_foreach(j, i, m)
			if (!caps_ok(m, depth + 1, deep))
				return 0;
	}
	return 1;
}

/* Only deeper than the cap, so that too_wide's recursion is bounded too. */
static int
tree_too_deep(const json_t *j, int depth)
{
	const char *k;
	json_t *m;
	size_t i;

	if (!json_is_object(j) && !json_is_array(j))
		return 0;
	if (depth >= PAYLOAD_DEPTH_MAX)
		return 1;
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, m)
			if (tree_too_deep(m, depth + 1))
				return 1;
	} else {
		json_array_foreach(j, i, m)
			if (tree_too_deep(m, depth + 1))
				return 1;
	}
	return 0;
}

/*
 * Every object at most PAYLOAD_MEMBERS_MAX members, wherever it is, with the place in the
 * message. Runs only once caps_ok has failed and depth is known to be within the cap.
 */
static int
too_wide(const struct vctx *v, const json_t *j, struct ptr *p)
{
	const char *k;
	json_t *m;
	size_t i, at;

	if (json_is_object(j)) {
		if (json_object_size(j) > PAYLOAD_MEMBERS_MAX)
			return verr(v, p, "object has %zu members, above the cap of %d",
			            json_object_size(j), PAYLOAD_MEMBERS_MAX);
		json_object_foreach((json_t *)j, k, m) {
			at = ptr_push(p, k);
			if (too_wide(v, m, p) != 0)
				return -1;
			ptr_pop(p, at);
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, m) {
			at = ptr_push_index(p, i);
			if (too_wide(v, m, p) != 0)
				return -1;
			ptr_pop(p, at);
		}
	}
	return 0;
}

/* Fixed words for jansson's errors: its own text can quote the input (personal data). */
static const char *
json_err_word(const json_error_t *e)
{
	switch (json_error_code(e)) {
	case json_error_invalid_utf8: return "invalid UTF-8";
	case json_error_premature_end_of_input: return "premature end of input";
	case json_error_end_of_input_expected: return "trailing data after the object";
	case json_error_null_character:
	case json_error_null_byte_in_key: return "a \\u0000 character";
	case json_error_duplicate_key: return "a duplicate member name";
	case json_error_numeric_overflow: return "a number out of range";
	case json_error_stack_overflow: return "nesting too deep";
	case json_error_out_of_memory: return "out of memory";
	default: return "invalid syntax";
	}
}

/* Parses as strictly as a payload is ever parsed: caps, duplicates, depth before building. */
static saksi_err
parse_payload(const char *payload, size_t len, json_t **out, char *errbuf, size_t errlen)
{
	json_error_t jerr;

	if (len > SAKSI_PAYLOAD_MAX) {
		saksi_errbuf(errbuf, errlen, "payload is %zu bytes, above the cap of %d", len, SAKSI_PAYLOAD_MAX);
		return SAKSI_ERR_SCHEMA;
	}
	if (len == 0) {
		saksi_errbuf(errbuf, errlen, "payload is empty");
		return SAKSI_ERR_SCHEMA;
	}
	if (too_deep(payload, len)) {
		saksi_errbuf(errbuf, errlen, "payload nests deeper than %d", PAYLOAD_DEPTH_MAX);
		return SAKSI_ERR_SCHEMA;
	}
	if ((*out = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return SAKSI_ERR_NOMEM;
		saksi_errbuf(errbuf, errlen, "payload is not valid JSON: %s at byte %d", json_err_word(&jerr),
		    jerr.position);
		return SAKSI_ERR_SCHEMA;
	}
	return SAKSI_OK;
}

static saksi_err
validate_tree(const saksi_schemas *s, const struct stype *st, const json_t *j, int clear,
              char *errbuf, size_t errlen)
{
	struct vctx v = { .v_s = s, .v_clear = clear, .v_err = errbuf, .v_errlen = errlen };
	struct ptr p = { .p_len = 0 };
	int deep = 0;

	if (!caps_ok(j, 0, &deep)) {
		if (deep || tree_too_deep(j, 0))
			saksi_errbuf(errbuf, errlen, "payload nests deeper than %d", PAYLOAD_DEPTH_MAX);
		else
			too_wide(&v, j, &p);
		return SAKSI_ERR_SCHEMA;
	}
	return validate(&v, st->st_root, j, &p) != 0 ? SAKSI_ERR_SCHEMA : SAKSI_OK;
}

static saksi_err
validate_payload(const saksi_schemas *s, const char *type, const char *payload, size_t len,
                 int clear, char *errbuf, size_t errlen)
{
	const struct stype *st;
	json_t *j = NULL;
	saksi_err e;

	if (s == NULL || type == NULL || (payload == NULL && len != 0))
		return SAKSI_ERR_INVAL;
	saksi_errbuf(errbuf, errlen, "%s", "");
	if ((st = find_type(s, type)) == NULL) {
		saksi_errbuf(errbuf, errlen, "unknown event type (no schema)");
		return SAKSI_ERR_NOT_FOUND;
	}
	if ((e = parse_payload(payload, len, &j, errbuf, errlen)) != SAKSI_OK)
		return e;
	e = validate_tree(s, st, j, clear, errbuf, errlen);
	json_decref(j);
	return e;
}

saksi_err
saksi_schemas_validate(const saksi_schemas *s, const char *type, const char *payload,
                       size_t len, char *errbuf, size_t errlen)
{
	return validate_payload(s, type, payload, len, 0, errbuf, errlen);
}

saksi_err
saksi_schemas_validate_clear(const saksi_schemas *s, const char *type, const char *payload,
                             size_t len, char *errbuf, size_t errlen)
{
	return validate_payload(s, type, payload, len, 1, errbuf, errlen);
}

saksi_err
saksi_schemas_parse_payload(const char *payload, size_t len, json_t **out, char *errbuf,
                            size_t errlen)
{
	if (out != NULL)
		*out = NULL;
	if (out == NULL || (payload == NULL && len != 0))
		return SAKSI_ERR_INVAL;
	saksi_errbuf(errbuf, errlen, "%s", "");
	return parse_payload(payload, len, out, errbuf, errlen);
}

saksi_err
saksi_schemas_validate_json(const saksi_schemas *s, const char *type, const json_t *root,
                            char *errbuf, size_t errlen)
{
	const struct stype *st;

	if (s == NULL || type == NULL || root == NULL)
		return SAKSI_ERR_INVAL;
	saksi_errbuf(errbuf, errlen, "%s", "");
	if ((st = find_type(s, type)) == NULL) {
		saksi_errbuf(errbuf, errlen, "unknown event type (no schema)");
		return SAKSI_ERR_NOT_FOUND;
	}
	return validate_tree(s, st, root, 0, errbuf, errlen);
}
