/*
 * detect.c: a committed event, with its opened disclosures, fed to the rules engine the
 * way saksid does it (detect.h). Shared by the committer and `saksi replay` so that the
 * two cannot drift apart. Clear personal values live here only between the disclosure
 * check and their blinding, and are wiped at once; they are never kept or printed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "detect.h"
#include "envelope.h"

/*
 * The evaluating thread's handle. The event's view lives in a saksi_detect_event now (made
 * on any thread); this only keeps the blinding context for saksi_detect_eval.
 */
struct saksi_detect {
	const saksi_blind *d_blind;
};

/*
 * One event as the detectors see it: non-personal values as text, tokens for the rest,
 * in one allocation (de_len bytes, wiped on free): the header, de_n fields, then the
 * strings they point to.
 */
struct saksi_detect_event {
	size_t de_len;
	int de_ok;                /* saksi_rules_event_check passed, on the preparing thread */
	uint64_t de_time_ms;
	const char *de_type;
	const char *de_branch;
	size_t de_n;
	saksi_rule_field de_f[];
};

/* The fields being gathered by saksi_detect_prepare, before they are copied out. */
struct gather {
	saksi_rule_field g_f[SAKSI_RULES_EVENT_FIELDS];
	size_t g_n;
	char g_num[SAKSI_RULES_EVENT_FIELDS][24];
	char g_tok[SAKSI_RULES_EVENT_FIELDS][SAKSI_BLIND_TOKEN_LEN + 1];
};

saksi_err
saksi_detect_new(const saksi_blind *b, saksi_detect **out)
{
	saksi_detect *d;

	if (out == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if (b == NULL)
		return SAKSI_ERR_INVAL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return SAKSI_ERR_NOMEM;
	d->d_blind = b;
	*out = d;
	return SAKSI_OK;
}

void
saksi_detect_free(saksi_detect *d)
{
	free(d);
}

void
saksi_detect_event_free(saksi_detect_event *p)
{
	if (p == NULL)
		return;
	sodium_memzero(p, p->de_len);
	free(p);
}

static void
field_add(struct gather *g, const char *name, const char *value, int personal)
{
	if (g->g_n == SAKSI_RULES_EVENT_FIELDS)
		return;
	g->g_f[g->g_n].rf_name = name;
	g->g_f[g->g_n].rf_value = value;
	g->g_f[g->g_n].rf_personal = personal;
	g->g_n++;
}

/* Copies s (with its NUL) to *at and moves *at past it. */
static const char *
put(char **at, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = *at;

	memcpy(d, s, n);
	*at += n;
	return d;
}

/* Makes the one allocation that holds g's fields and everything they point to. */
/* Printable ASCII, 1..SAKSI_RULES_VALUE_MAX bytes: what the engine takes as a value. */
static int
engine_text(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e ||
		    i >= SAKSI_RULES_VALUE_MAX)
			return 0;
	return i >= 1;
}

static saksi_err
event_make(const struct gather *g, const char *type, uint64_t time_ms, size_t branch_at,
           saksi_detect_event **out)
{
	saksi_detect_event *p;
	size_t len;
	char *at;

	len = sizeof(*p) + g->g_n * sizeof(p->de_f[0]) + strlen(type) + 2;
	for (size_t i = 0; i < g->g_n; i++)
		len += strlen(g->g_f[i].rf_name) + strlen(g->g_f[i].rf_value) + 2;
	if ((p = malloc(len)) == NULL)
		return SAKSI_ERR_NOMEM;
	p->de_len = len;
	p->de_time_ms = time_ms;
	p->de_n = g->g_n;
	at = (char *)&p->de_f[g->g_n];
	p->de_type = put(&at, type);
	p->de_branch = put(&at, "");
	for (size_t i = 0; i < g->g_n; i++) {
		p->de_f[i].rf_name = put(&at, g->g_f[i].rf_name);
		p->de_f[i].rf_value = put(&at, g->g_f[i].rf_value);
		p->de_f[i].rf_personal = g->g_f[i].rf_personal;
		if (i == branch_at)
			p->de_branch = p->de_f[i].rf_value;
	}
	*out = p;
	return SAKSI_OK;
}

saksi_err
saksi_detect_prepare(const saksi_blind *b, const saksi_envelope *env, const json_t *payload,
                     char *const *names, char *const *values, size_t nd,
                     saksi_detect_event **out)
{
	struct gather *g;
	const char *key, *bank_code = NULL;
	size_t branch_at = SIZE_MAX;
	json_t *v;
	saksi_err e = SAKSI_OK;

	if (out == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if (b == NULL || env == NULL || !json_is_object(payload) ||
	    (nd > 0 && (names == NULL || values == NULL)))
		return SAKSI_ERR_INVAL;
	/* 4.4 KB: on the heap, not on a worker thread's stack. */
	if ((g = malloc(sizeof(*g))) == NULL)
		return SAKSI_ERR_NOMEM;
	g->g_n = 0;
	/* json_object_foreach does not write to the object; the cast only fits its macro. */
	json_object_foreach((json_t *)payload, key, v) {
		char *num;

		if (g->g_n == SAKSI_RULES_EVENT_FIELDS)
			break;   /* the engine takes no more; the schemas allow far fewer */
		num = g->g_num[g->g_n];

		/* A personal field in clear never reaches the engine (ingest refuses it). */
		if (saksi_blind_field_personal(key))
			continue;
		if (json_is_string(v)) {
			/*
			 * Free text the engine cannot take (a note over SAKSI_RULES_VALUE_MAX
			 * bytes, or beyond printable ASCII) is left out, as no rule could
			 * match it: the rest of the event is still evaluated, where handing it
			 * over would make the engine refuse the whole event.
			 */
			if (strlen(json_string_value(v)) != json_string_length(v) ||
			    !engine_text(json_string_value(v)))
				continue;
			if (strcmp(key, "branch") == 0)
				branch_at = g->g_n;
			if (strcmp(key, "bank_code") == 0)
				bank_code = json_string_value(v);
			field_add(g, key, json_string_value(v), 0);
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(g->g_num[0]), "%" JSON_INTEGER_FORMAT,
			         json_integer_value(v));
			field_add(g, key, num, 0);
		} else if (json_is_boolean(v))
			field_add(g, key, json_is_true(v) ? "true" : "false", 0);
	}
	for (size_t i = 0; i < nd; i++) {
		saksi_blind_kind k = saksi_blind_field_kind(names[i]);
		char *tok = g->g_tok[g->g_n < SAKSI_RULES_EVENT_FIELDS ? g->g_n : 0];

		if (k == SAKSI_BLIND_NONE || g->g_n == SAKSI_RULES_EVENT_FIELDS)
			continue;
		if (k == SAKSI_BLIND_ACCOUNT)
			e = bank_code == NULL ? SAKSI_ERR_FORMAT :
			    saksi_blind_account(b, bank_code, values[i], tok);
		else
			e = saksi_blind_token(b, k, values[i], strlen(values[i]), tok);
		if (e == SAKSI_ERR_NOMEM)
			break;
		/* A value that does not normalise is left out: no token, no grouping. */
		if (e == SAKSI_OK)
			field_add(g, names[i], tok, 1);
		e = SAKSI_OK;
	}
	if (e == SAKSI_OK)
		e = event_make(g, env->ev_type, env->ev_time_ms, branch_at, out);
	if (e == SAKSI_OK) {
		/* The engine's checks of the event here, on the worker's core, not again on
		 * the committer's; the personal flags and tokens are this function's own
		 * (personal names dropped from the payload, the disclosures blinded above). */
		saksi_rule_event ev = { 0, (*out)->de_type, (*out)->de_time_ms,
		    (*out)->de_branch, (*out)->de_f, (*out)->de_n };

		(*out)->de_ok = saksi_rules_event_check_blinded(&ev) == SAKSI_OK;
	}
	sodium_memzero(g->g_tok, sizeof(g->g_tok));
	free(g);
	return e;
}

saksi_err
saksi_detect_eval_prepared(const saksi_detect_event *p, const saksi_rules *r, MDB_txn *wtxn,
                           uint64_t index, int *evaluated, saksi_rules_result *res)
{
	saksi_rule_event ev;
	saksi_err e;

	if (evaluated != NULL)
		*evaluated = 0;
	if (p == NULL || r == NULL || wtxn == NULL)
		return SAKSI_ERR_INVAL;
	memset(&ev, 0, sizeof(ev));
	ev.re_index = index;
	ev.re_type = p->de_type;
	ev.re_time_ms = p->de_time_ms;
	ev.re_branch = p->de_branch;
	ev.re_fields = p->de_f;
	ev.re_nfields = p->de_n;
	/* Refused by the engine's checks when prepared: as saksi_rules_eval would. */
	if (p->de_ok)
		e = saksi_rules_eval_checked(r, wtxn, &ev, res);
	else {
		e = SAKSI_ERR_INVAL;
		if (res != NULL)
			memset(res, 0, sizeof(*res));
	}
	if (e == SAKSI_ERR_INVAL)
		e = SAKSI_OK;   /* malformed for the engine: committed, not evaluated */
	else if (e == SAKSI_OK && evaluated != NULL)
		*evaluated = 1;
	return e;
}

saksi_err
saksi_detect_eval(saksi_detect *d, const saksi_rules *r, MDB_txn *wtxn, uint64_t index,
                  const uint8_t *env_bytes, size_t env_len, const uint8_t *disc,
                  size_t disc_len, int *evaluated, saksi_rules_result *res)
{
	saksi_envelope env;
	saksi_detect_event *p = NULL;
	json_t *root;
	char **names = NULL, **values = NULL;
	size_t nd = 0;
	saksi_err e = SAKSI_OK;

	if (evaluated != NULL)
		*evaluated = 0;
	if (d == NULL || r == NULL || wtxn == NULL || env_bytes == NULL)
		return SAKSI_ERR_INVAL;
	if (saksi_envelope_parse(env_bytes, env_len, &env) != SAKSI_OK)
		return SAKSI_OK;   /* ingest parsed it: cannot happen for a committed event */
	root = json_loadb((const char *)env.ev_payload, env.ev_payload_len,
	                  JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root)) {
		/* Should it fail now, the event stays committed, undetected, rather than
		 * failing every retry of its group. */
		json_decref(root);
		return SAKSI_OK;
	}
	if (disc != NULL) {
		e = saksi_disclosures_check_json(root, disc, disc_len, &names, &values, &nd);
		if (e != SAKSI_OK) {
			json_decref(root);
			return e == SAKSI_ERR_NOMEM ? e : SAKSI_OK;
		}
	}
	e = saksi_detect_prepare(d->d_blind, &env, root, names, values, nd, &p);
	saksi_disclosures_free(names, values, nd);
	json_decref(root);
	if (e == SAKSI_OK)
		e = saksi_detect_eval_prepared(p, r, wtxn, index, evaluated, res);
	saksi_detect_event_free(p);
	return e;
}
