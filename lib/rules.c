/*
 * rules.c: the rules file (RULES.md 2): a line-based format whose every error names the
 * line, checked against the event schemas when they are given. Parsing only: the engine
 * is rules_eval.c. A rule must never be able to test a personal field against a clear
 * value: the parser refuses that, because at run time the field holds a blind token.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "blind.h"
#include "bytes.h"
#include "rules_impl.h"

#define LINE_MAX_LEN 1024
#define TOK_MAX 64
#define TITLE_MAX 200
#define MAX_SELS 256
#define MAX_JOINS 32
#define MAX_RULES 256
#define MAX_QUOTAS 512
#define DUR_MAX (366ull * 86400000ull)
#define INT_LIMIT 1000000000ull
#define SCHEMA_FILE_MAX (1u << 20)

#define DEF_MAX_GROUPS 100000
#define DEF_MAX_VALUES 256
#define DEF_MAX_JOINS 1000000

/* ---- arena: everything of a parsed rule set lives here and goes with one free ---- */

struct arena_blk {
	struct arena_blk *ab_next;
	size_t ab_used;
	size_t ab_cap;
	_Alignas(16) unsigned char ab_data[];
};

static void *
arena_alloc(saksi_rules *r, size_t n)
{
	struct arena_blk *b = r->rs_arena;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (b == NULL || b->ab_cap - b->ab_used < n) {
		size_t cap = n > 16384 ? n : 16384;

		if ((b = malloc(sizeof(*b) + cap)) == NULL)
			return NULL;
		b->ab_next = r->rs_arena;
		b->ab_used = 0;
		b->ab_cap = cap;
		r->rs_arena = b;
	}
	p = b->ab_data + b->ab_used;
	b->ab_used += n;
	memset(p, 0, n);
	return p;
}

static char *
arena_strdup(saksi_rules *r, const char *s)
{
	size_t n = strlen(s);
	char *p = arena_alloc(r, n + 1);

	if (p != NULL)
		memcpy(p, s, n + 1);
	return p;
}

/* ---- schemas: just enough of them to catch a misspelt type, field or enum value ---- */

struct sprop {
	char *sp_name;
	char sp_type;             /* s i b n a o; p personal */
	int sp_datetime;
	char **sp_enum;
	size_t sp_nenum;
};

struct stype {
	char *st_name;
	struct sprop *st_props;
	size_t st_nprops;
};

struct schema_info {
	struct stype *si_types;
	size_t si_ntypes;
};

static void
schema_free(struct schema_info *si)
{
	size_t i, j, k;

	if (si == NULL)
		return;
	for (i = 0; i < si->si_ntypes; i++) {
		struct stype *t = &si->si_types[i];

		for (j = 0; j < t->st_nprops; j++) {
			for (k = 0; k < t->st_props[j].sp_nenum; k++)
				free(t->st_props[j].sp_enum[k]);
			free(t->st_props[j].sp_enum);
			free(t->st_props[j].sp_name);
		}
		free(t->st_props);
		free(t->st_name);
	}
	free(si->si_types);
	free(si);
}

static char
json_type_code(json_t *ty)
{
	const char *s = NULL;
	size_t i;

	if (json_is_string(ty))
		s = json_string_value(ty);
	else if (json_is_array(ty)) {
		for (i = 0; i < json_array_size(ty); i++) {
			const char *e = json_string_value(json_array_get(ty, i));

			if (e != NULL && strcmp(e, "null") != 0) {
				s = e;
				break;
			}
		}
	}
	if (s == NULL)
		return '?';
	if (strcmp(s, "string") == 0)
		return 's';
	if (strcmp(s, "integer") == 0)
		return 'i';
	if (strcmp(s, "boolean") == 0)
		return 'b';
	if (strcmp(s, "number") == 0)
		return 'n';
	if (strcmp(s, "array") == 0)
		return 'a';
	if (strcmp(s, "object") == 0)
		return 'o';
	return '?';
}

static saksi_err
schema_type_load(json_t *root, const char *tname, struct stype *t)
{
	json_t *props = json_object_get(root, "properties"), *v, *en;
	const char *name;
	size_t i;

	if (!json_is_object(props))
		return SAKSI_ERR_FORMAT;
	if ((t->st_name = strdup(tname)) == NULL)
		return SAKSI_ERR_NOMEM;
	t->st_props = calloc(json_object_size(props) + 1, sizeof(*t->st_props));
	if (t->st_props == NULL)
		return SAKSI_ERR_NOMEM;
	json_object_foreach(props, name, v) {
		struct sprop *p = &t->st_props[t->st_nprops++];
		const char *fmt;

		if ((p->sp_name = strdup(name)) == NULL)
			return SAKSI_ERR_NOMEM;
		if (json_is_true(json_object_get(v, "x-personal"))) {
			p->sp_type = 'p';
			continue;
		}
		p->sp_type = json_type_code(json_object_get(v, "type"));
		fmt = json_string_value(json_object_get(v, "format"));
		p->sp_datetime = fmt != NULL && strcmp(fmt, "date-time") == 0;
		en = json_object_get(v, "enum");
		if (json_is_array(en) && p->sp_type == 's') {
			p->sp_enum = calloc(json_array_size(en) + 1, sizeof(char *));
			if (p->sp_enum == NULL)
				return SAKSI_ERR_NOMEM;
			for (i = 0; i < json_array_size(en); i++) {
				const char *e = json_string_value(json_array_get(en, i));

				if (e == NULL)
					continue;
				if ((p->sp_enum[p->sp_nenum++] = strdup(e)) == NULL)
					return SAKSI_ERR_NOMEM;
			}
		}
	}
	return SAKSI_OK;
}

static saksi_err
schema_load(const char *dir, struct schema_info **out, char *err, size_t errlen)
{
	struct schema_info *si;
	DIR *d;
	struct dirent *de;
	saksi_err e = SAKSI_OK;

	*out = NULL;
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%s: cannot open the schema directory", dir);
		return errno == ENOENT || errno == ENOTDIR ? SAKSI_ERR_NOT_FOUND : SAKSI_ERR_IO;
	}
	if ((si = calloc(1, sizeof(*si))) == NULL) {
		closedir(d);
		return SAKSI_ERR_NOMEM;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char path[4096], tname[128];
		json_error_t je;
		json_t *root;
		struct stype *nt;

		if (de->d_name[0] == '.' || n < 6 || n - 5 >= sizeof(tname) ||
		    strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		memcpy(tname, de->d_name, n - 5);
		tname[n - 5] = '\0';
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
		if (root == NULL) {
			snprintf(err, errlen, "%s: not a readable JSON schema", path);
			e = SAKSI_ERR_FORMAT;
			break;
		}
		nt = realloc(si->si_types, (si->si_ntypes + 1) * sizeof(*nt));
		if (nt == NULL) {
			json_decref(root);
			e = SAKSI_ERR_NOMEM;
			break;
		}
		si->si_types = nt;
		memset(&nt[si->si_ntypes], 0, sizeof(*nt));
		e = schema_type_load(root, tname, &nt[si->si_ntypes++]);
		json_decref(root);
		if (e != SAKSI_OK) {
			if (e == SAKSI_ERR_FORMAT)
				snprintf(err, errlen, "%s: schema without properties", path);
			break;
		}
	}
	closedir(d);
	if (e == SAKSI_OK && si->si_ntypes == 0) {
		snprintf(err, errlen, "%s: no *.json schema in the directory", dir);
		e = SAKSI_ERR_NOT_FOUND;
	}
	if (e != SAKSI_OK) {
		schema_free(si);
		return e;
	}
	*out = si;
	return SAKSI_OK;
}

static const struct stype *
schema_type(const struct schema_info *si, const char *t)
{
	size_t i;

	for (i = 0; i < si->si_ntypes; i++)
		if (strcmp(si->si_types[i].st_name, t) == 0)
			return &si->si_types[i];
	return NULL;
}

static const struct sprop *
schema_prop(const struct stype *t, const char *f)
{
	size_t i;

	for (i = 0; i < t->st_nprops; i++)
		if (strcmp(t->st_props[i].sp_name, f) == 0)
			return &t->st_props[i];
	return NULL;
}

/* ---- the parser ---- */

enum { BLK_NONE, BLK_SELECT, BLK_JOIN, BLK_RULE };

enum {
	D_TYPE, D_TITLE, D_SEVERITY, D_EVENTS, D_GROUPBY, D_FIELD, D_DIFFER, D_TIMESPAN,
	D_CONDITION, D_SUPPRESS, D_RERAISE, D_MAXG, D_MAXV, D_CHECKIN, D_CALL, D_SEQ,
	D_ACTOR, D_PLACES, D_EXEMPT, D_DAY, D_QUOTA, D_OVERRIDE, D__COUNT
};

static const char *const dnames[D__COUNT] = {
	"type", "title", "severity", "events", "group-by", "field", "differ", "timespan",
	"condition", "suppress", "reraise", "max_groups", "max_values", "checkin", "call",
	"seq", "actor", "places", "exempt", "day", "quota", "override",
};

#define B(d) (1u << (d))
#define D_COMMON (B(D_TYPE) | B(D_TITLE) | B(D_SEVERITY) | B(D_GROUPBY) | B(D_TIMESPAN) | \
    B(D_SUPPRESS) | B(D_RERAISE) | B(D_MAXG) | B(D_MAXV))
#define D_COMMON_REQ (B(D_SEVERITY) | B(D_TIMESPAN) | B(D_SUPPRESS) | B(D_RERAISE))

static const struct {
	const char *t_name;
	uint32_t t_allowed;       /* besides D_COMMON */
	uint32_t t_required;      /* besides D_COMMON_REQ */
} rtypes[] = {
	[RT_EVENT_COUNT] = { "event_count", B(D_EVENTS) | B(D_CONDITION),
	    B(D_EVENTS) | B(D_CONDITION) },
	[RT_VALUE_COUNT] = { "value_count", B(D_EVENTS) | B(D_FIELD) | B(D_CONDITION),
	    B(D_EVENTS) | B(D_FIELD) | B(D_CONDITION) },
	[RT_TEMPORAL] = { "temporal", B(D_EVENTS) | B(D_DIFFER), B(D_EVENTS) },
	[RT_TEMPORAL_ORDERED] = { "temporal_ordered", B(D_EVENTS) | B(D_DIFFER), B(D_EVENTS) },
	[RT_QUEUE_ORDER] = { "queue_order", B(D_CHECKIN) | B(D_CALL) | B(D_SEQ) | B(D_ACTOR) |
	    B(D_PLACES) | B(D_EXEMPT) | B(D_CONDITION), B(D_CHECKIN) | B(D_CALL) | B(D_SEQ) |
	    B(D_ACTOR) | B(D_PLACES) | B(D_CONDITION) | B(D_GROUPBY) },
	[RT_DAILY_CAP] = { "daily_cap", B(D_EVENTS) | B(D_DAY) | B(D_QUOTA) | B(D_OVERRIDE),
	    B(D_EVENTS) | B(D_DAY) | B(D_QUOTA) },
	[RT_VALUE_SUM] = { "value_sum", B(D_EVENTS) | B(D_FIELD) | B(D_CONDITION),
	    B(D_EVENTS) | B(D_FIELD) | B(D_CONDITION) },
};

static const char *const sev_names[] = { NULL, "low", "medium", "high", "critical" };

const char *
rules_type_name(int type)
{
	if (type < RT_EVENT_COUNT || type > RT_VALUE_SUM)
		return "?";
	return rtypes[type].t_name;
}

const char *
rules_sev_name(int sev)
{
	if (sev < SAKSI_SEV_LOW || sev > SAKSI_SEV_CRITICAL)
		return "?";
	return sev_names[sev];
}

struct pctx {
	saksi_rules *p_r;
	const char *p_name;
	unsigned p_line;
	char *p_err;
	size_t p_errlen;
	struct schema_info *p_sch;
	int p_header;
	int p_blk;
	unsigned p_blk_line;
	uint32_t p_settings;
	uint32_t p_seen;
	unsigned p_dline[D__COUNT];
	int p_quota_default;
	struct sel *p_cs;
	struct join *p_cj;
	struct rule *p_cr;
	size_t p_cap_sels, p_cap_joins, p_cap_rules;
	const char *p_rest;       /* the raw line after its first word (title) */
};

static saksi_err perr_at(struct pctx *p, unsigned line, saksi_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static saksi_err
perr_at(struct pctx *p, unsigned line, saksi_err code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->p_err == NULL || p->p_errlen == 0)
		return code;
	n = snprintf(p->p_err, p->p_errlen, "%s:%u: ", p->p_name, line);
	if (n >= 0 && (size_t)n < p->p_errlen) {
		va_start(ap, fmt);
		vsnprintf(p->p_err + n, p->p_errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return code;
}

#define PERR(p, ...) perr_at((p), (p)->p_line, SAKSI_ERR_FORMAT, __VA_ARGS__)

static int
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
valid_ident(const char *s, size_t max)
{
	size_t i;

	if (!is_lower(s[0]))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!(is_lower(s[i]) || is_digit(s[i]) || s[i] == '_'))
			return 0;
	return i <= max;
}

static int
valid_type(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!(is_lower(s[i]) || is_digit(s[i]) || s[i] == '_' || s[i] == '.'))
			return 0;
	return i >= 1 && i <= 64;
}

static int
valid_branch(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || is_digit(s[i]) || s[i] == '-'))
			return 0;
	return i >= 2 && i <= 24;
}

/* Decimal without sign or leading zeros, at most max. */
static int
parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t n = 0;
	size_t i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (!is_digit(s[i]) || i >= 10)
			return -1;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	if (n > max)
		return -1;
	*v = n;
	return 0;
}

/* N followed by ms, s, m, h or d. */
static int
parse_dur(const char *s, uint64_t *ms)
{
	char num[16];
	size_t i;
	uint64_t n, mult;

	for (i = 0; is_digit(s[i]) && i < sizeof(num) - 1; i++)
		num[i] = s[i];
	num[i] = '\0';
	if (parse_uint(num, INT_LIMIT * 10, &n) != 0)
		return -1;
	if (strcmp(s + i, "ms") == 0)
		mult = 1;
	else if (strcmp(s + i, "s") == 0)
		mult = 1000;
	else if (strcmp(s + i, "m") == 0)
		mult = 60000;
	else if (strcmp(s + i, "h") == 0)
		mult = 3600000;
	else if (strcmp(s + i, "d") == 0)
		mult = 86400000;
	else
		return -1;
	if (n > DUR_MAX / mult)
		return -1;
	*ms = n * mult;
	return 0;
}

static int
field_ok(struct pctx *p, const char *f)
{
	if (!valid_ident(f, SAKSI_RULES_FIELD_MAX)) {
		PERR(p, "'%s' is not a field name ([a-z][a-z0-9_], at most %d characters)", f,
		    SAKSI_RULES_FIELD_MAX);
		return 0;
	}
	if (saksi_blind_field_personal(f) && saksi_blind_field_kind(f) == SAKSI_BLIND_NONE) {
		PERR(p, "field %s is personal and has no blind token: no rule may use it", f);
		return 0;
	}
	return 1;
}

static const char **
dup_list(struct pctx *p, char **toks, size_t n)
{
	const char **l = arena_alloc(p->p_r, (n + 1) * sizeof(char *));
	size_t i;

	if (l == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if ((l[i] = arena_strdup(p->p_r, toks[i])) == NULL)
			return NULL;
	return l;
}

static struct sel *
find_sel(const saksi_rules *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->rs_nsels; i++)
		if (strcmp(r->rs_sels[i]->s_name, name) == 0)
			return r->rs_sels[i];
	return NULL;
}

/* arr with room for element n: arr itself, a larger copy, or NULL (arr still valid). */
static void *
grow(void *arr, size_t n, size_t *cap, size_t elsz)
{
	void *na;
	size_t nc;

	if (arr != NULL && n < *cap)
		return arr;
	nc = *cap == 0 ? 8 : *cap * 2;
	if ((na = realloc(arr, nc * elsz)) == NULL)
		return NULL;
	*cap = nc;
	return na;
}

/* ---- schema-aware checks ---- */

static int
field_avail(const struct pctx *p, const struct stype *t, const char *f, size_t depth)
{
	size_t i, j;

	if (strcmp(f, "branch") == 0 || schema_prop(t, f) != NULL)
		return 1;
	if (depth > p->p_r->rs_njoins)
		return 0;
	for (i = 0; i < p->p_r->rs_njoins; i++) {
		const struct join *jn = p->p_r->rs_joins[i];

		for (j = 0; j < jn->j_ncopy; j++)
			if (strcmp(jn->j_copy[j], f) == 0 &&
			    field_avail(p, t, jn->j_key, depth + 1))
				return 1;
	}
	return 0;
}

/* Every type of s (or of types[]) must exist and carry field f (directly or by a join). */
static saksi_err
check_field_in(struct pctx *p, unsigned line, const char **types, size_t ntypes,
               const char *f, const char *what)
{
	size_t i;

	if (p->p_sch == NULL)
		return SAKSI_OK;
	for (i = 0; i < ntypes; i++) {
		const struct stype *t = schema_type(p->p_sch, types[i]);

		if (t == NULL)
			return perr_at(p, line, SAKSI_ERR_FORMAT, "unknown event type %s", types[i]);
		if (!field_avail(p, t, f, 0))
			return perr_at(p, line, SAKSI_ERR_FORMAT,
			    "%s %s is not a field of %s (nor brought by a join)", what, f, types[i]);
	}
	return SAKSI_OK;
}

static saksi_err
check_field_sel(struct pctx *p, unsigned line, const struct sel *s, const char *f,
                const char *what)
{
	return check_field_in(p, line, s->s_types, s->s_ntypes, f, what);
}

static int
value_fits(const struct sprop *sp, const char *v)
{
	uint64_t n;
	size_t k;

	if (sp->sp_type == 'b')
		return strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
	if (sp->sp_type == 'i')
		return parse_uint(v, UINT64_MAX, &n) == 0;
	if (sp->sp_nenum == 0)
		return 1;
	for (k = 0; k < sp->sp_nenum; k++)
		if (strcmp(sp->sp_enum[k], v) == 0)
			return 1;
	return 0;
}

/*
 * The schema's own type of a tested field: an integer for gt..le, a date-time for
 * within, in every type of s that carries it directly. A value of is/not must be one the
 * field can take (its enumeration, true/false, an integer) in at least one of them: a
 * select over several types may name a channel only some of them have.
 */
static saksi_err
check_cond_types(struct pctx *p, const struct sel *s, const struct cond *c)
{
	size_t i, j;

	if (p->p_sch == NULL)
		return SAKSI_OK;
	for (j = 0; j < (c->c_op == OP_IS || c->c_op == OP_NOT ? c->c_nvals : 1); j++) {
		int checked = 0, fits = 0;

		for (i = 0; i < s->s_ntypes; i++) {
			const struct stype *t = schema_type(p->p_sch, s->s_types[i]);
			const struct sprop *sp = t != NULL ? schema_prop(t, c->c_field) : NULL;
			const struct sprop *so;

			if (sp == NULL)
				continue;
			switch (c->c_op) {
			case OP_GT: case OP_GE: case OP_LT: case OP_LE:
				if (sp->sp_type != 'i')
					return PERR(p, "field %s of %s is not an integer",
					    c->c_field, t->st_name);
				if (c->c_other != NULL &&
				    (so = schema_prop(t, c->c_other)) != NULL && so->sp_type != 'i')
					return PERR(p, "field %s of %s is not an integer",
					    c->c_other, t->st_name);
				break;
			case OP_WITHIN:
				if (sp->sp_type != 's' || !sp->sp_datetime)
					return PERR(p, "field %s of %s is not a date-time",
					    c->c_field, t->st_name);
				break;
			case OP_IS: case OP_NOT:
				checked = 1;
				fits |= value_fits(sp, c->c_vals[j]);
				break;
			default:
				break;
			}
		}
		if (checked && !fits)
			return PERR(p, "'%s' is not a value %s can take in %s%s", c->c_vals[j],
			    c->c_field, s->s_types[0], s->s_ntypes > 1 ? " (nor the other types)" :
			    "");
	}
	return SAKSI_OK;
}

/* ---- blocks ---- */

static saksi_err
parse_where(struct pctx *p, struct sel *s, char **tok, size_t n)
{
	struct cond *c, *nc;
	const char *op;
	int pf;
	saksi_err e;

	if (n < 3)
		return PERR(p, "where takes a field, an operator and its arguments");
	if (!field_ok(p, tok[1]))
		return SAKSI_ERR_FORMAT;
	if ((e = check_field_sel(p, p->p_line, s, tok[1], "field")) != SAKSI_OK)
		return e;
	nc = arena_alloc(p->p_r, (s->s_nconds + 1) * sizeof(*nc));
	if (nc == NULL)
		return SAKSI_ERR_NOMEM;
	if (s->s_nconds > 0)
		memcpy(nc, s->s_conds, s->s_nconds * sizeof(*nc));
	s->s_conds = nc;
	c = &nc[s->s_nconds];
	c->c_field = arena_strdup(p->p_r, tok[1]);
	op = tok[2];
	pf = saksi_blind_field_personal(tok[1]);
	if (strcmp(op, "is") == 0 || strcmp(op, "not") == 0) {
		size_t i;

		c->c_op = op[0] == 'i' ? OP_IS : OP_NOT;
		if (pf)
			return PERR(p, "%s is personal (a blind token at run time): only present, "
			    "absent, same and differs can test it", tok[1]);
		if (n < 4 || n - 3 > 32)
			return PERR(p, "%s takes 1 to 32 values", op);
		for (i = 3; i < n; i++)
			if (strlen(tok[i]) > SAKSI_RULES_VALUE_MAX)
				return PERR(p, "a value is longer than %d bytes",
				    SAKSI_RULES_VALUE_MAX);
		c->c_vals = dup_list(p, tok + 3, n - 3);
		c->c_nvals = n - 3;
	} else if (strcmp(op, "present") == 0 || strcmp(op, "absent") == 0) {
		c->c_op = op[0] == 'p' ? OP_PRESENT : OP_ABSENT;
		if (n != 3)
			return PERR(p, "%s takes no argument", op);
	} else if (strcmp(op, "same") == 0 || strcmp(op, "differs") == 0) {
		c->c_op = op[0] == 's' ? OP_SAME : OP_DIFFERS;
		if (n != 4)
			return PERR(p, "%s takes one other field", op);
		if (!field_ok(p, tok[3]))
			return SAKSI_ERR_FORMAT;
		if (saksi_blind_field_personal(tok[3]) != pf)
			return PERR(p, "%s compares a personal field with a non-personal one", op);
		if (pf && saksi_blind_field_kind(tok[3]) != saksi_blind_field_kind(tok[1]))
			return PERR(p, "%s and %s are blinded as different kinds: their tokens "
			    "never compare equal", tok[1], tok[3]);
		if ((e = check_field_sel(p, p->p_line, s, tok[3], "field")) != SAKSI_OK)
			return e;
		c->c_other = arena_strdup(p->p_r, tok[3]);
	} else if (strcmp(op, "gt") == 0 || strcmp(op, "ge") == 0 || strcmp(op, "lt") == 0 ||
	    strcmp(op, "le") == 0) {
		c->c_op = op[0] == 'g' ? (op[1] == 't' ? OP_GT : OP_GE) :
		    (op[1] == 't' ? OP_LT : OP_LE);
		if (n != 4)
			return PERR(p, "%s takes one integer or one other field", op);
		if (pf)
			return PERR(p, "%s is personal (a blind token at run time): only present, "
			    "absent, same and differs can test it", tok[1]);
		if (is_lower(tok[3][0])) {
			if (!field_ok(p, tok[3]))
				return SAKSI_ERR_FORMAT;
			if (saksi_blind_field_personal(tok[3]))
				return PERR(p, "%s is personal: it cannot be compared as a number",
				    tok[3]);
			if ((e = check_field_sel(p, p->p_line, s, tok[3], "field")) != SAKSI_OK)
				return e;
			c->c_other = arena_strdup(p->p_r, tok[3]);
		} else if (parse_uint(tok[3], INT_LIMIT, &c->c_num) != 0)
			return PERR(p, "'%s' is neither an integer (0 to 1000000000) nor a field",
			    tok[3]);
	} else if (strcmp(op, "within") == 0) {
		c->c_op = OP_WITHIN;
		if (pf)
			return PERR(p, "%s is personal (a blind token at run time): only present, "
			    "absent, same and differs can test it", tok[1]);
		if (n != 4 || parse_dur(tok[3], &c->c_num) != 0)
			return PERR(p, "within takes one duration (e.g. 1500ms, 2s, 5m)");
	} else
		return PERR(p, "unknown operator '%s' (is, not, present, absent, same, differs, "
		    "gt, ge, lt, le, within)", op);
	if ((e = check_cond_types(p, s, c)) != SAKSI_OK)
		return e;
	s->s_nconds++;
	return SAKSI_OK;
}

static saksi_err
select_directive(struct pctx *p, char **tok, size_t n)
{
	struct sel *s = p->p_cs;
	size_t i;

	if (strcmp(tok[0], "match") == 0) {
		if (s->s_ntypes > 0)
			return PERR(p, "match given twice");
		if (n < 2 || n - 1 > 32)
			return PERR(p, "match takes 1 to 32 event types");
		for (i = 1; i < n; i++) {
			if (!valid_type(tok[i]))
				return PERR(p, "'%s' is not an event type name", tok[i]);
			if (p->p_sch != NULL && schema_type(p->p_sch, tok[i]) == NULL)
				return PERR(p, "unknown event type %s", tok[i]);
		}
		s->s_types = dup_list(p, tok + 1, n - 1);
		s->s_ntypes = n - 1;
		return s->s_types == NULL ? SAKSI_ERR_NOMEM : SAKSI_OK;
	}
	if (strcmp(tok[0], "where") == 0) {
		if (s->s_ntypes == 0)
			return PERR(p, "where before match: a select starts with match");
		if (s->s_nconds == 32)
			return PERR(p, "more than 32 where lines");
		return parse_where(p, s, tok, n);
	}
	return PERR(p, "unknown directive '%s' in select %s (match, where)", tok[0], s->s_name);
}

static saksi_err
join_directive(struct pctx *p, char **tok, size_t n)
{
	struct join *j = p->p_cj;
	static const char *const jd[] = { "key", "from", "copy", "keep", "max_entries" };
	size_t d, i, k;

	for (d = 0; d < 5; d++)
		if (strcmp(tok[0], jd[d]) == 0)
			break;
	if (d == 5)
		return PERR(p, "unknown directive '%s' in join %s (key, from, copy, keep, "
		    "max_entries)", tok[0], j->j_name);
	if (p->p_seen & B(d))
		return PERR(p, "%s given twice", jd[d]);
	p->p_seen |= B(d);
	switch (d) {
	case 0:
		if (n != 2)
			return PERR(p, "key takes one field");
		if (!field_ok(p, tok[1]))
			return SAKSI_ERR_FORMAT;
		if (saksi_blind_field_personal(tok[1]))
			return PERR(p, "a join key must be an opaque id, not personal field %s",
			    tok[1]);
		j->j_key = arena_strdup(p->p_r, tok[1]);
		break;
	case 1:
		if (n < 2 || n - 1 > 32)
			return PERR(p, "from takes 1 to 32 event types");
		for (i = 1; i < n; i++) {
			if (!valid_type(tok[i]))
				return PERR(p, "'%s' is not an event type name", tok[i]);
			if (p->p_sch != NULL && schema_type(p->p_sch, tok[i]) == NULL)
				return PERR(p, "unknown event type %s", tok[i]);
		}
		j->j_types = dup_list(p, tok + 1, n - 1);
		j->j_ntypes = n - 1;
		break;
	case 2:
		if (n < 2 || n - 1 > 16)
			return PERR(p, "copy takes 1 to 16 fields");
		for (i = 1; i < n; i++) {
			if (!field_ok(p, tok[i]))
				return SAKSI_ERR_FORMAT;
			if (strcmp(tok[i], "branch") == 0)
				return PERR(p, "branch is never copied: every event has its own");
			for (k = 1; k < i; k++)
				if (strcmp(tok[k], tok[i]) == 0)
					return PERR(p, "%s copied twice", tok[i]);
		}
		j->j_copy = dup_list(p, tok + 1, n - 1);
		j->j_ncopy = n - 1;
		break;
	case 3:
		if (n != 2 || parse_dur(tok[1], &j->j_keep) != 0 || j->j_keep == 0)
			return PERR(p, "keep takes one duration above zero (e.g. 30d)");
		break;
	case 4:
		if (n != 2 || parse_uint(tok[1], RULES_MAX_CAP, &j->j_max) != 0 || j->j_max == 0)
			return PERR(p, "max_entries takes an integer from 1 to %d", RULES_MAX_CAP);
		break;
	}
	return SAKSI_OK;
}

static const struct sel *
rule_sel(struct pctx *p, const char *name)
{
	const struct sel *s = find_sel(p->p_r, name);

	if (s == NULL)
		PERR(p, "no select named %s above this line", name);
	return s;
}

static saksi_err
rule_directive(struct pctx *p, char **tok, size_t n)
{
	struct rule *r = p->p_cr;
	size_t d, i, k;
	uint32_t allowed;

	for (d = 0; d < D__COUNT; d++)
		if (strcmp(tok[0], dnames[d]) == 0)
			break;
	if (d == D__COUNT)
		return PERR(p, "unknown directive '%s' in rule %s", tok[0], r->r_id);
	if (r->r_type == 0 && d != D_TYPE)
		return PERR(p, "a rule starts with its type (event_count, value_count, temporal, "
		    "temporal_ordered, queue_order, daily_cap, value_sum)");
	if ((p->p_seen & B(d)) && d != D_QUOTA)
		return PERR(p, "%s given twice", dnames[d]);
	if (r->r_type != 0) {
		allowed = D_COMMON | rtypes[r->r_type].t_allowed;
		if (!(allowed & B(d)))
			return PERR(p, "%s has no meaning in a %s rule", dnames[d],
			    rtypes[r->r_type].t_name);
	}
	p->p_seen |= B(d);
	p->p_dline[d] = p->p_line;
	switch (d) {
	case D_TYPE:
		if (n == 2)
			for (k = RT_EVENT_COUNT; k <= RT_VALUE_SUM; k++)
				if (strcmp(tok[1], rtypes[k].t_name) == 0)
					r->r_type = (int)k;
		if (r->r_type == 0)
			return PERR(p, "type takes one of event_count, value_count, temporal, "
			    "temporal_ordered, queue_order, daily_cap, value_sum");
		break;
	case D_TITLE: {
		const char *t = p->p_rest;
		size_t tl;
		char *c;

		while (*t == ' ' || *t == '\t')
			t++;
		tl = strlen(t);
		while (tl > 0 && (t[tl - 1] == ' ' || t[tl - 1] == '\t'))
			tl--;
		if (n < 2 || tl > TITLE_MAX)
			return PERR(p, "title takes 1 to %d characters of text", TITLE_MAX);
		if ((c = arena_alloc(p->p_r, tl + 1)) == NULL)
			return SAKSI_ERR_NOMEM;
		memcpy(c, t, tl);
		r->r_title = c;
		break;
	}
	case D_SEVERITY:
		if (n == 2)
			for (k = SAKSI_SEV_LOW; k <= SAKSI_SEV_CRITICAL; k++)
				if (strcmp(tok[1], sev_names[k]) == 0)
					r->r_sev = (int)k;
		if (r->r_sev == 0)
			return PERR(p, "severity takes one of low, medium, high, critical");
		break;
	case D_EVENTS: {
		size_t lo = 1, hi = RULES_MAX_EVENTS;

		if (r->r_type == RT_TEMPORAL || r->r_type == RT_TEMPORAL_ORDERED) {
			lo = 2;
			hi = RULES_MAX_TEMPORAL;
		} else if (r->r_type == RT_DAILY_CAP)
			hi = 1;
		if (n - 1 < lo || n - 1 > hi)
			return PERR(p, "events takes %zu to %zu select names in a %s rule", lo, hi,
			    rtypes[r->r_type].t_name);
		for (i = 1; i < n; i++)
			if ((r->r_events[i - 1] = rule_sel(p, tok[i])) == NULL)
				return SAKSI_ERR_FORMAT;
		r->r_nevents = n - 1;
		break;
	}
	case D_GROUPBY:
		if (n < 2 || n - 1 > RULES_MAX_GROUPBY)
			return PERR(p, "group-by takes 1 to %d fields", RULES_MAX_GROUPBY);
		for (i = 1; i < n; i++) {
			if (!field_ok(p, tok[i]))
				return SAKSI_ERR_FORMAT;
			for (k = 1; k < i; k++)
				if (strcmp(tok[k], tok[i]) == 0)
					return PERR(p, "%s given twice in group-by", tok[i]);
			r->r_groupby[i - 1] = arena_strdup(p->p_r, tok[i]);
		}
		r->r_ngroupby = n - 1;
		break;
	case D_FIELD:
	case D_DIFFER:
	case D_SEQ:
	case D_ACTOR:
	case D_DAY:
		if (n != 2)
			return PERR(p, "%s takes one field", dnames[d]);
		if (!field_ok(p, tok[1]))
			return SAKSI_ERR_FORMAT;
		if ((d == D_SEQ || d == D_DAY) && saksi_blind_field_personal(tok[1]))
			return PERR(p, "%s cannot be personal field %s", dnames[d], tok[1]);
		/* A token is no number: summing one would mean nothing. */
		if (d == D_FIELD && r->r_type == RT_VALUE_SUM &&
		    saksi_blind_field_personal(tok[1]))
			return PERR(p, "a value_sum cannot sum personal field %s (a blind token "
			    "at run time)", tok[1]);
		*(d == D_FIELD ? &r->r_field : d == D_DIFFER ? &r->r_differ : d == D_SEQ ?
		    &r->r_seq : d == D_ACTOR ? &r->r_actor : &r->r_day) =
		    arena_strdup(p->p_r, tok[1]);
		break;
	case D_TIMESPAN:
		if (n != 2 || parse_dur(tok[1], &r->r_timespan) != 0 || r->r_timespan == 0)
			return PERR(p, "timespan takes one duration above zero (e.g. 90s, 1h, 7d)");
		break;
	case D_CONDITION:
		if (n != 3 || (strcmp(tok[1], "gte") != 0 && strcmp(tok[1], "gt") != 0))
			return PERR(p, "condition takes gte N or gt N (only lower bounds make an "
			    "alert that can be raised the moment it holds)");
		r->r_cond_gt = tok[1][2] == '\0';
		if (parse_uint(tok[2], INT_LIMIT, &r->r_cond_n) != 0)
			return PERR(p, "'%s' is not an integer from 0 to 1000000000", tok[2]);
		if (!r->r_cond_gt && r->r_cond_n == 0)
			return PERR(p, "condition gte 0 always holds");
		break;
	case D_SUPPRESS:
		if (n != 2 || parse_dur(tok[1], &r->r_suppress) != 0)
			return PERR(p, "suppress takes one duration (0s: never suppressed)");
		break;
	case D_RERAISE:
		if (n == 2 && strcmp(tok[1], "never") == 0)
			r->r_reraise = 0;
		else if (n != 2 || parse_uint(tok[1], INT_LIMIT, &r->r_reraise) != 0 ||
		    r->r_reraise == 0)
			return PERR(p, "reraise takes never, or by how much the value must grow "
			    "(1 to 1000000000) to raise again while suppressed");
		break;
	case D_MAXG:
		if (n != 2 || parse_uint(tok[1], RULES_MAX_CAP, &r->r_max_groups) != 0 ||
		    r->r_max_groups == 0)
			return PERR(p, "max_groups takes an integer from 1 to %d", RULES_MAX_CAP);
		break;
	case D_MAXV:
		if (n != 2 || parse_uint(tok[1], RULES_MAX_VALUES_LIMIT, &r->r_max_values) != 0 ||
		    r->r_max_values == 0)
			return PERR(p, "max_values takes an integer from 1 to %d",
			    RULES_MAX_VALUES_LIMIT);
		break;
	case D_CHECKIN:
	case D_CALL:
		if (n != 2)
			return PERR(p, "%s takes one select name", dnames[d]);
		if ((*(d == D_CHECKIN ? &r->r_checkin : &r->r_call) = rule_sel(p, tok[1])) ==
		    NULL)
			return SAKSI_ERR_FORMAT;
		break;
	case D_PLACES:
		if (n != 2 || parse_uint(tok[1], 10000, &r->r_places) != 0)
			return PERR(p, "places takes an integer from 0 to 10000");
		break;
	case D_EXEMPT:
		if (n < 3 || n - 2 > 32)
			return PERR(p, "exempt takes a field and 1 to 32 values");
		if (!field_ok(p, tok[1]))
			return SAKSI_ERR_FORMAT;
		if (saksi_blind_field_personal(tok[1]))
			return PERR(p, "exempt cannot test personal field %s", tok[1]);
		r->r_exempt_field = arena_strdup(p->p_r, tok[1]);
		r->r_exempt = dup_list(p, tok + 2, n - 2);
		r->r_nexempt = n - 2;
		break;
	case D_QUOTA: {
		struct quota *nq;
		uint64_t q;

		if (n != 3 || parse_uint(tok[2], INT_LIMIT, &q) != 0)
			return PERR(p, "quota takes default or a branch code, then an integer");
		if (strcmp(tok[1], "default") == 0) {
			if (p->p_quota_default)
				return PERR(p, "quota default given twice");
			p->p_quota_default = 1;
			r->r_quota_default = q;
			break;
		}
		if (!valid_branch(tok[1]))
			return PERR(p, "'%s' is not a branch code ([A-Z0-9-], 2 to 24)", tok[1]);
		for (i = 0; i < r->r_nquotas; i++)
			if (strcmp(r->r_quotas[i].q_branch, tok[1]) == 0)
				return PERR(p, "quota for %s given twice", tok[1]);
		if (r->r_nquotas == MAX_QUOTAS)
			return PERR(p, "more than %d quota lines", MAX_QUOTAS);
		nq = arena_alloc(p->p_r, (r->r_nquotas + 1) * sizeof(*nq));
		if (nq == NULL)
			return SAKSI_ERR_NOMEM;
		if (r->r_nquotas > 0)
			memcpy(nq, r->r_quotas, r->r_nquotas * sizeof(*nq));
		nq[r->r_nquotas].q_branch = arena_strdup(p->p_r, tok[1]);
		nq[r->r_nquotas++].q_n = q;
		r->r_quotas = nq;
		break;
	}
	case D_OVERRIDE:
		if (n != 4)
			return PERR(p, "override takes a select, its day field and its quota field");
		if ((r->r_override = rule_sel(p, tok[1])) == NULL)
			return SAKSI_ERR_FORMAT;
		if (!field_ok(p, tok[2]) || !field_ok(p, tok[3]))
			return SAKSI_ERR_FORMAT;
		if (saksi_blind_field_personal(tok[2]) || saksi_blind_field_personal(tok[3]))
			return PERR(p, "override fields cannot be personal");
		r->r_ovr_day = arena_strdup(p->p_r, tok[2]);
		r->r_ovr_quota = arena_strdup(p->p_r, tok[3]);
		break;
	}
	return SAKSI_OK;
}

static void
fp_str(crypto_generichash_state *st, const char *s)
{
	uint8_t l[4];

	saksi_put_u32(l, s == NULL ? 0xffffffffu : (uint32_t)strlen(s));
	crypto_generichash_update(st, l, 4);
	if (s != NULL)
		crypto_generichash_update(st, (const uint8_t *)s, strlen(s));
}

static void
fp_u64(crypto_generichash_state *st, uint64_t v)
{
	uint8_t b[8];

	saksi_put_u64(b, v);
	crypto_generichash_update(st, b, 8);
}

static void
fp_sel(crypto_generichash_state *st, const struct sel *s)
{
	size_t i, j;

	if (s == NULL) {
		fp_str(st, NULL);
		return;
	}
	fp_u64(st, s->s_ntypes);
	for (i = 0; i < s->s_ntypes; i++)
		fp_str(st, s->s_types[i]);
	fp_u64(st, s->s_nconds);
	for (i = 0; i < s->s_nconds; i++) {
		const struct cond *c = &s->s_conds[i];

		fp_u64(st, (uint64_t)c->c_op);
		fp_str(st, c->c_field);
		fp_str(st, c->c_other);
		fp_u64(st, c->c_num);
		fp_u64(st, c->c_nvals);
		for (j = 0; j < c->c_nvals; j++)
			fp_str(st, c->c_vals[j]);
	}
}

static void
fp_final(crypto_generichash_state *st, uint8_t fp[RULES_FP_LEN])
{
	uint8_t h[crypto_generichash_BYTES_MIN];

	crypto_generichash_final(st, h, sizeof(h));
	memcpy(fp, h, RULES_FP_LEN);
}

/*
 * What a rule's stored state means: everything that decides which events enter which
 * group and what an entry records. Thresholds, suppression and caps are left out, so
 * that tuning them keeps the windows (RULES.md 4.2).
 */
static void
rule_fp(const struct rule *r, uint8_t fp[RULES_FP_LEN])
{
	crypto_generichash_state st;
	size_t i;

	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES_MIN);
	fp_str(&st, "saksi/rules/rule/v1");
	fp_str(&st, r->r_id);
	fp_u64(&st, (uint64_t)r->r_type);
	fp_u64(&st, r->r_timespan);
	fp_u64(&st, r->r_nevents);
	for (i = 0; i < r->r_nevents; i++)
		fp_sel(&st, r->r_events[i]);
	fp_u64(&st, r->r_ngroupby);
	for (i = 0; i < r->r_ngroupby; i++)
		fp_str(&st, r->r_groupby[i]);
	fp_str(&st, r->r_field);
	fp_str(&st, r->r_differ);
	fp_sel(&st, r->r_checkin);
	fp_sel(&st, r->r_call);
	fp_str(&st, r->r_seq);
	fp_str(&st, r->r_actor);
	fp_str(&st, r->r_exempt_field);
	fp_u64(&st, r->r_nexempt);
	for (i = 0; i < r->r_nexempt; i++)
		fp_str(&st, r->r_exempt[i]);
	fp_u64(&st, r->r_places);
	fp_str(&st, r->r_day);
	fp_sel(&st, r->r_override);
	fp_str(&st, r->r_ovr_day);
	fp_str(&st, r->r_ovr_quota);
	fp_final(&st, fp);
}

static void
join_fp(const struct join *j, uint8_t fp[RULES_FP_LEN])
{
	crypto_generichash_state st;
	size_t i;

	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES_MIN);
	fp_str(&st, "saksi/rules/join/v1");
	fp_str(&st, j->j_name);
	fp_str(&st, j->j_key);
	fp_u64(&st, j->j_ntypes);
	for (i = 0; i < j->j_ntypes; i++)
		fp_str(&st, j->j_types[i]);
	fp_u64(&st, j->j_ncopy);
	for (i = 0; i < j->j_ncopy; i++)
		fp_str(&st, j->j_copy[i]);
	fp_u64(&st, j->j_keep);
	fp_final(&st, fp);
}

/*
 * A value_sum's field must be an integer in every type of s that carries it itself (one
 * brought by a join is checked in its own type).
 */
static saksi_err
check_sum_field(struct pctx *p, const struct sel *s, const char *f)
{
	const struct stype *t;
	const struct sprop *sp;
	size_t i;

	if (p->p_sch == NULL)
		return SAKSI_OK;
	for (i = 0; i < s->s_ntypes; i++)
		if ((t = schema_type(p->p_sch, s->s_types[i])) != NULL &&
		    (sp = schema_prop(t, f)) != NULL && sp->sp_type != 'i')
			return perr_at(p, p->p_dline[D_FIELD], SAKSI_ERR_FORMAT,
			    "a value_sum sums integers: field %s of %s is not one", f, t->st_name);
	return SAKSI_OK;
}

/* Every field a rule uses must be in the events it reads (with a schema). */
static saksi_err
rule_check_fields(struct pctx *p, struct rule *r)
{
	const struct sel *sels[RULES_MAX_EVENTS + 3];
	size_t ns = 0, i, g;
	saksi_err e;

	for (i = 0; i < r->r_nevents; i++)
		sels[ns++] = r->r_events[i];
	if (r->r_checkin != NULL)
		sels[ns++] = r->r_checkin;
	if (r->r_call != NULL)
		sels[ns++] = r->r_call;
	if (r->r_override != NULL)
		sels[ns++] = r->r_override;
	for (i = 0; i < ns; i++)
		for (g = 0; g < r->r_ngroupby; g++)
			if ((e = check_field_sel(p, p->p_dline[D_GROUPBY], sels[i], r->r_groupby[g],
			    "group-by field")) != SAKSI_OK)
				return e;
	for (i = 0; i < r->r_nevents; i++) {
		if (r->r_field != NULL && (e = check_field_sel(p, p->p_dline[D_FIELD],
		    r->r_events[i], r->r_field, "field")) != SAKSI_OK)
			return e;
		if (r->r_type == RT_VALUE_SUM &&
		    (e = check_sum_field(p, r->r_events[i], r->r_field)) != SAKSI_OK)
			return e;
		if (r->r_differ != NULL && (e = check_field_sel(p, p->p_dline[D_DIFFER],
		    r->r_events[i], r->r_differ, "field")) != SAKSI_OK)
			return e;
		if (r->r_day != NULL && (e = check_field_sel(p, p->p_dline[D_DAY],
		    r->r_events[i], r->r_day, "field")) != SAKSI_OK)
			return e;
	}
	if (r->r_type == RT_QUEUE_ORDER) {
		if ((e = check_field_sel(p, p->p_dline[D_SEQ], r->r_checkin, r->r_seq,
		    "field")) != SAKSI_OK ||
		    (e = check_field_sel(p, p->p_dline[D_SEQ], r->r_call, r->r_seq,
		    "field")) != SAKSI_OK ||
		    (e = check_field_sel(p, p->p_dline[D_ACTOR], r->r_call, r->r_actor,
		    "field")) != SAKSI_OK)
			return e;
		if (r->r_exempt_field != NULL && (e = check_field_sel(p, p->p_dline[D_EXEMPT],
		    r->r_call, r->r_exempt_field, "field")) != SAKSI_OK)
			return e;
	}
	if (r->r_override != NULL &&
	    ((e = check_field_sel(p, p->p_dline[D_OVERRIDE], r->r_override, r->r_ovr_day,
	    "field")) != SAKSI_OK ||
	    (e = check_field_sel(p, p->p_dline[D_OVERRIDE], r->r_override, r->r_ovr_quota,
	    "field")) != SAKSI_OK))
		return e;
	return SAKSI_OK;
}

static saksi_err
end_block(struct pctx *p)
{
	saksi_err e;
	size_t i;

	switch (p->p_blk) {
	case BLK_SELECT:
		if (p->p_cs->s_ntypes == 0)
			return perr_at(p, p->p_blk_line, SAKSI_ERR_FORMAT,
			    "select %s: missing match", p->p_cs->s_name);
		break;
	case BLK_JOIN: {
		struct join *j = p->p_cj;
		static const char *const req[] = { "key", "from", "copy", "keep" };

		for (i = 0; i < 4; i++)
			if (!(p->p_seen & B(i)))
				return perr_at(p, p->p_blk_line, SAKSI_ERR_FORMAT,
				    "join %s: missing %s", j->j_name, req[i]);
		for (i = 0; i < j->j_ncopy; i++)
			if (strcmp(j->j_copy[i], j->j_key) == 0)
				return perr_at(p, p->p_blk_line, SAKSI_ERR_FORMAT,
				    "join %s copies its own key", j->j_name);
		if (j->j_max == 0)
			j->j_max = p->p_r->rs_max_joins;
		if ((e = check_field_in(p, p->p_blk_line, j->j_types, j->j_ntypes, j->j_key,
		    "key")) != SAKSI_OK)
			return e;
		/* Registered before its copies are checked: a copy may come by an earlier
		 * join, never by this one. */
		for (i = 0; i < j->j_ncopy; i++)
			if ((e = check_field_in(p, p->p_blk_line, j->j_types, j->j_ntypes,
			    j->j_copy[i], "copied field")) != SAKSI_OK)
				return e;
		join_fp(j, j->j_fp);
		p->p_r->rs_joins[p->p_r->rs_njoins++] = j;
		break;
	}
	case BLK_RULE: {
		struct rule *r = p->p_cr;
		uint32_t req;

		if (r->r_type == 0)
			return perr_at(p, p->p_blk_line, SAKSI_ERR_FORMAT, "rule %s: missing type",
			    r->r_id);
		req = D_COMMON_REQ | rtypes[r->r_type].t_required;
		for (i = 0; i < D__COUNT; i++)
			if ((req & B(i)) && !(p->p_seen & B(i)))
				return perr_at(p, p->p_blk_line, SAKSI_ERR_FORMAT,
				    "rule %s: missing %s", r->r_id, dnames[i]);
		if (r->r_type == RT_DAILY_CAP && !p->p_quota_default)
			return perr_at(p, p->p_dline[D_QUOTA], SAKSI_ERR_FORMAT,
			    "rule %s: missing quota default", r->r_id);
		if (r->r_max_groups == 0)
			r->r_max_groups = p->p_r->rs_max_groups;
		if (r->r_max_values == 0)
			r->r_max_values = p->p_r->rs_max_values;
		if ((r->r_type == RT_TEMPORAL || r->r_type == RT_TEMPORAL_ORDERED) &&
		    r->r_max_values > RULES_MAX_TEMPORAL_VALUES)
			return perr_at(p, p->p_dline[D_MAXV] ? p->p_dline[D_MAXV] : p->p_blk_line,
			    SAKSI_ERR_FORMAT, "rule %s: a temporal rule keeps at most %d values "
			    "per group (set max_values)", r->r_id, RULES_MAX_TEMPORAL_VALUES);
		if (r->r_type == RT_DAILY_CAP && r->r_timespan < 86400000)
			return perr_at(p, p->p_dline[D_TIMESPAN], SAKSI_ERR_FORMAT,
			    "rule %s: a daily_cap keeps each day at least 1d", r->r_id);
		for (i = 0; r->r_type == RT_VALUE_COUNT && i < r->r_ngroupby; i++)
			if (strcmp(r->r_groupby[i], r->r_field) == 0)
				return perr_at(p, p->p_dline[D_FIELD], SAKSI_ERR_FORMAT,
				    "rule %s: counting distinct %s within groups of one %s is "
				    "always 1", r->r_id, r->r_field, r->r_field);
		for (i = 0; r->r_differ != NULL && i < r->r_ngroupby; i++)
			if (strcmp(r->r_groupby[i], r->r_differ) == 0)
				return perr_at(p, p->p_dline[D_DIFFER], SAKSI_ERR_FORMAT,
				    "rule %s: %s is a group-by field, so it never differs",
				    r->r_id, r->r_differ);
		if ((e = rule_check_fields(p, r)) != SAKSI_OK)
			return e;
		if (r->r_sev == 0)
			r->r_sev = SAKSI_SEV_MEDIUM;
		rule_fp(r, r->r_fp);
		p->p_r->rs_rules[p->p_r->rs_nrules++] = r;
		break;
	}
	default:
		break;
	}
	p->p_blk = BLK_NONE;
	return SAKSI_OK;
}

static saksi_err
begin_block(struct pctx *p, char **tok, size_t n)
{
	saksi_rules *r = p->p_r;
	void *na;
	saksi_err e;
	size_t i;

	if ((e = end_block(p)) != SAKSI_OK)
		return e;
	if (n != 2 || !valid_ident(tok[1], SAKSI_RULES_ID_MAX))
		return PERR(p, "%s takes one name ([a-z][a-z0-9_], at most %d characters)",
		    tok[0], SAKSI_RULES_ID_MAX);
	if (!(p->p_settings & 1))
		return PERR(p, "lateness must be set before the first block");
	p->p_blk_line = p->p_line;
	p->p_seen = 0;
	p->p_quota_default = 0;
	memset(p->p_dline, 0, sizeof(p->p_dline));
	if (strcmp(tok[0], "select") == 0) {
		if (find_sel(r, tok[1]) != NULL)
			return PERR(p, "a select named %s exists already", tok[1]);
		if (r->rs_nsels == MAX_SELS)
			return PERR(p, "more than %d selects", MAX_SELS);
		if ((na = grow(r->rs_sels, r->rs_nsels, &p->p_cap_sels,
		    sizeof(*r->rs_sels))) == NULL)
			return SAKSI_ERR_NOMEM;
		r->rs_sels = na;
		if ((p->p_cs = arena_alloc(r, sizeof(*p->p_cs))) == NULL)
			return SAKSI_ERR_NOMEM;
		p->p_cs->s_name = arena_strdup(r, tok[1]);
		p->p_cs->s_line = p->p_line;
		r->rs_sels[r->rs_nsels++] = p->p_cs;
		p->p_blk = BLK_SELECT;
	} else if (strcmp(tok[0], "join") == 0) {
		for (i = 0; i < r->rs_njoins; i++)
			if (strcmp(r->rs_joins[i]->j_name, tok[1]) == 0)
				return PERR(p, "a join named %s exists already", tok[1]);
		if (r->rs_njoins == MAX_JOINS)
			return PERR(p, "more than %d joins", MAX_JOINS);
		if ((na = grow(r->rs_joins, r->rs_njoins, &p->p_cap_joins,
		    sizeof(*r->rs_joins))) == NULL)
			return SAKSI_ERR_NOMEM;
		r->rs_joins = na;
		if ((p->p_cj = arena_alloc(r, sizeof(*p->p_cj))) == NULL)
			return SAKSI_ERR_NOMEM;
		p->p_cj->j_name = arena_strdup(r, tok[1]);
		p->p_cj->j_line = p->p_line;
		p->p_blk = BLK_JOIN;
	} else {
		for (i = 0; i < r->rs_nrules; i++)
			if (strcmp(r->rs_rules[i]->r_id, tok[1]) == 0)
				return PERR(p, "a rule named %s exists already", tok[1]);
		if (r->rs_nrules == MAX_RULES)
			return PERR(p, "more than %d rules", MAX_RULES);
		if ((na = grow(r->rs_rules, r->rs_nrules, &p->p_cap_rules,
		    sizeof(*r->rs_rules))) == NULL)
			return SAKSI_ERR_NOMEM;
		r->rs_rules = na;
		if ((p->p_cr = arena_alloc(r, sizeof(*p->p_cr))) == NULL)
			return SAKSI_ERR_NOMEM;
		p->p_cr->r_id = arena_strdup(r, tok[1]);
		p->p_cr->r_line = p->p_line;
		p->p_blk = BLK_RULE;
	}
	return SAKSI_OK;
}

static saksi_err
setting(struct pctx *p, char **tok, size_t n)
{
	static const char *const names[] = { "lateness", "max_groups", "max_values",
	    "max_joins" };
	saksi_rules *r = p->p_r;
	size_t i;
	uint64_t v;

	for (i = 0; i < 4; i++)
		if (strcmp(tok[0], names[i]) == 0)
			break;
	if (i == 4)
		return PERR(p, "unknown setting '%s' (lateness, max_groups, max_values, "
		    "max_joins; blocks start with select, join or rule)", tok[0]);
	if (p->p_settings & B(i))
		return PERR(p, "%s given twice", names[i]);
	p->p_settings |= B(i);
	if (i == 0) {
		if (n != 2 || parse_dur(tok[1], &r->rs_lateness) != 0)
			return PERR(p, "lateness takes one duration (e.g. 2m)");
		return SAKSI_OK;
	}
	if (n != 2 || parse_uint(tok[1], i == 2 ? RULES_MAX_VALUES_LIMIT : RULES_MAX_CAP,
	    &v) != 0 || v == 0)
		return PERR(p, "%s takes an integer from 1 to %d", names[i],
		    i == 2 ? RULES_MAX_VALUES_LIMIT : RULES_MAX_CAP);
	if (i == 1)
		r->rs_max_groups = v;
	else if (i == 2)
		r->rs_max_values = v;
	else
		r->rs_max_joins = v;
	return SAKSI_OK;
}

/* raw: the line as read, NUL-terminated, kept for title; buf: a copy cut into words. */
static saksi_err
parse_line(struct pctx *p, const char *raw, char *buf, size_t len)
{
	char *tok[TOK_MAX + 1];
	size_t n = 0, i = 0;

	p->p_rest = raw + len;
	while (i < len) {
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (n == TOK_MAX)
			return PERR(p, "more than %d words on one line", TOK_MAX);
		tok[n++] = buf + i;
		while (i < len && buf[i] != ' ' && buf[i] != '\t')
			i++;
		if (n == 1)
			p->p_rest = raw + i;
		buf[i++] = '\0';
	}
	if (n == 0 || tok[0][0] == '#')
		return SAKSI_OK;
	if (!p->p_header) {
		if (n == 2 && strcmp(tok[0], "saksi-rules") == 0 && strcmp(tok[1], "1") == 0) {
			p->p_header = 1;
			return SAKSI_OK;
		}
		if (n == 2 && strcmp(tok[0], "saksi-rules") == 0)
			return perr_at(p, p->p_line, SAKSI_ERR_VERSION,
			    "rules format version %s is not known (this is version 1)", tok[1]);
		return PERR(p, "a rules file starts with the line 'saksi-rules 1'");
	}
	if (strcmp(tok[0], "select") == 0 || strcmp(tok[0], "join") == 0 ||
	    strcmp(tok[0], "rule") == 0)
		return begin_block(p, tok, n);
	switch (p->p_blk) {
	case BLK_SELECT:
		return select_directive(p, tok, n);
	case BLK_JOIN:
		return join_directive(p, tok, n);
	case BLK_RULE:
		return rule_directive(p, tok, n);
	default:
		if (p->p_r->rs_nsels + p->p_r->rs_njoins + p->p_r->rs_nrules > 0)
			return PERR(p, "%s outside a block", tok[0]);
		return setting(p, tok, n);
	}
}

saksi_err
saksi_rules_parse(const char *text, size_t len, const char *name, const char *schema_dir,
                  saksi_rules **out, char *errbuf, size_t errlen)
{
	struct pctx p;
	saksi_rules *r;
	char buf[LINE_MAX_LEN + 1], raw[LINE_MAX_LEN + 1];
	size_t pos = 0;
	saksi_err e = SAKSI_OK;

	if (out != NULL)
		*out = NULL;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (text == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	memset(&p, 0, sizeof(p));
	p.p_name = name != NULL ? name : "rules";
	p.p_err = errbuf;
	p.p_errlen = errlen;
	if (len > SAKSI_RULES_FILE_MAX)
		return perr_at(&p, 0, SAKSI_ERR_TOO_LARGE, "file is larger than %u bytes",
		    SAKSI_RULES_FILE_MAX);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return SAKSI_ERR_NOMEM;
	r->rs_max_groups = DEF_MAX_GROUPS;
	r->rs_max_values = DEF_MAX_VALUES;
	r->rs_max_joins = DEF_MAX_JOINS;
	p.p_r = r;
	if (schema_dir != NULL &&
	    (e = schema_load(schema_dir, &p.p_sch, errbuf, errlen)) != SAKSI_OK)
		goto out;
	while (pos < len && e == SAKSI_OK) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = (nl != NULL ? (size_t)(nl - text) : len) - pos, i;

		p.p_line++;
		if (ll > LINE_MAX_LEN) {
			e = perr_at(&p, p.p_line, SAKSI_ERR_TOO_LARGE, "line longer than %d bytes",
			    LINE_MAX_LEN);
			break;
		}
		for (i = 0; i < ll; i++) {
			unsigned char c = (unsigned char)text[pos + i];

			if (c == '\r') {
				e = PERR(&p, "carriage return: lines end with LF alone");
				break;
			}
			if ((c < 0x20 && c != '\t') || c > 0x7e) {
				e = PERR(&p, "byte 0x%02x at column %zu: only printable ASCII, space "
				    "and tab", c, i + 1);
				break;
			}
		}
		if (e != SAKSI_OK)
			break;
		memcpy(buf, text + pos, ll);
		buf[ll] = '\0';
		memcpy(raw, buf, ll + 1);
		e = parse_line(&p, raw, buf, ll);
		pos += ll + 1;
	}
	if (e == SAKSI_OK) {
		p.p_line++;
		if (!p.p_header)
			e = PERR(&p, "empty: a rules file starts with the line 'saksi-rules 1'");
		else if ((e = end_block(&p)) != SAKSI_OK)
			;
		else if (!(p.p_settings & 1))
			e = PERR(&p, "lateness is not set");
		else if (r->rs_nrules == 0)
			e = PERR(&p, "no rule");
	}
out:
	schema_free(p.p_sch);
	if (e != SAKSI_OK) {
		saksi_rules_free(r);
		return e;
	}
	*out = r;
	return SAKSI_OK;
}

saksi_err
saksi_rules_load(const char *path, const char *schema_dir, saksi_rules **out, char *errbuf,
                 size_t errlen)
{
	return saksi_rules_load_text(path, schema_dir, out, NULL, NULL, errbuf, errlen);
}

saksi_err
saksi_rules_load_text(const char *path, const char *schema_dir, saksi_rules **out,
                      char **textp, size_t *lenp, char *errbuf, size_t errlen)
{
	struct stat sb;
	char *text;
	ssize_t got;
	size_t len = 0;
	int fd;
	saksi_err e;

	if (out != NULL)
		*out = NULL;
	if (textp != NULL)
		*textp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (path == NULL || out == NULL || (textp == NULL) != (lenp == NULL))
		return SAKSI_ERR_INVAL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errbuf != NULL)
			snprintf(errbuf, errlen, "%s: cannot open (%s)", path,
			    errno == ELOOP ? "a symlink" : strerror(errno));
		return errno == ENOENT ? SAKSI_ERR_NOT_FOUND : SAKSI_ERR_IO;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		if (errbuf != NULL)
			snprintf(errbuf, errlen, "%s: not a regular file", path);
		close(fd);
		return SAKSI_ERR_IO;
	}
	if ((uint64_t)sb.st_size > SAKSI_RULES_FILE_MAX) {
		if (errbuf != NULL)
			snprintf(errbuf, errlen, "%s: larger than %u bytes", path,
			    SAKSI_RULES_FILE_MAX);
		close(fd);
		return SAKSI_ERR_TOO_LARGE;
	}
	if ((text = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		return SAKSI_ERR_NOMEM;
	}
	while (len < (size_t)sb.st_size + 1 &&
	    (got = read(fd, text + len, (size_t)sb.st_size + 1 - len)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errbuf != NULL)
				snprintf(errbuf, errlen, "%s: read error", path);
			free(text);
			close(fd);
			return SAKSI_ERR_IO;
		}
		len += (size_t)got;
	}
	close(fd);
	if (len > (size_t)sb.st_size) {
		if (errbuf != NULL)
			snprintf(errbuf, errlen, "%s: changed while being read", path);
		free(text);
		return SAKSI_ERR_IO;
	}
	e = saksi_rules_parse(text, len, path, schema_dir, out, errbuf, errlen);
	if (e == SAKSI_OK && textp != NULL) {
		text[len] = '\0';
		*textp = text;
		*lenp = len;
		return e;
	}
	free(text);
	return e;
}

void
saksi_rules_free(saksi_rules *r)
{
	struct arena_blk *b, *nb;

	if (r == NULL)
		return;
	for (b = r->rs_arena; b != NULL; b = nb) {
		nb = b->ab_next;
		free(b);
	}
	free(r->rs_sels);
	free(r->rs_joins);
	free(r->rs_rules);
	rmem_free(r->rs_mem);
	free(r->rs_ro_stats);
	free(r);
}

size_t
saksi_rules_count(const saksi_rules *r)
{
	return r == NULL ? 0 : r->rs_nrules;
}

const char *
saksi_rules_id_at(const saksi_rules *r, size_t i)
{
	if (r == NULL || i >= r->rs_nrules)
		return NULL;
	return r->rs_rules[i]->r_id;
}

uint64_t
saksi_rules_lateness_ms(const saksi_rules *r)
{
	return r == NULL ? 0 : r->rs_lateness;
}
