/*
 * detect.c: a committed event, with its opened disclosures, fed to the rules engine the
 * way saksid does it (detect.h). Shared by the committer and `saksi replay` so that the
 * two cannot drift apart. Clear personal values live here only between the disclosure
 * check and their blinding, and are wiped at once; they are never kept or printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "detect.h"
#include "envelope.h"

/* One event as the detectors see it: non-personal values as text, tokens for the rest. */
struct saksi_detect {
	const saksi_blind *d_blind;
	saksi_rule_field d_f[SAKSI_RULES_EVENT_FIELDS];
	size_t d_n;
	char d_num[SAKSI_RULES_EVENT_FIELDS][24];
	char d_tok[SAKSI_RULES_EVENT_FIELDS][SAKSI_BLIND_TOKEN_LEN + 1];
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
	if (d == NULL)
		return;
	sodium_memzero(d->d_tok, sizeof(d->d_tok));
	free(d);
}

static void
field_add(saksi_detect *d, const char *name, const char *value, int personal)
{
	if (d->d_n == SAKSI_RULES_EVENT_FIELDS)
		return;
	d->d_f[d->d_n].rf_name = name;
	d->d_f[d->d_n].rf_value = value;
	d->d_f[d->d_n].rf_personal = personal;
	d->d_n++;
}

saksi_err
saksi_detect_eval(saksi_detect *d, const saksi_rules *r, MDB_txn *wtxn, uint64_t index,
                  const uint8_t *env_bytes, size_t env_len, const uint8_t *disc,
                  size_t disc_len, int *evaluated, saksi_rules_result *res)
{
	saksi_envelope env;
	saksi_rule_event ev;
	json_t *root, *v;
	const char *key, *branch = NULL, *bank_code = NULL;
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
	d->d_n = 0;
	json_object_foreach(root, key, v) {
		char *num;

		if (d->d_n == SAKSI_RULES_EVENT_FIELDS)
			break;   /* the engine takes no more; the schemas allow far fewer */
		num = d->d_num[d->d_n];

		/* A personal field in clear never reaches the engine (ingest refuses it). */
		if (saksi_blind_field_personal(key))
			continue;
		if (json_is_string(v)) {
			if (strlen(json_string_value(v)) != json_string_length(v))
				continue;
			if (strcmp(key, "branch") == 0)
				branch = json_string_value(v);
			if (strcmp(key, "bank_code") == 0)
				bank_code = json_string_value(v);
			field_add(d, key, json_string_value(v), 0);
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(d->d_num[0]), "%" JSON_INTEGER_FORMAT,
			         json_integer_value(v));
			field_add(d, key, num, 0);
		} else if (json_is_boolean(v))
			field_add(d, key, json_is_true(v) ? "true" : "false", 0);
	}
	if (disc != NULL) {
		e = saksi_disclosures_check(env.ev_payload, env.ev_payload_len, disc, disc_len,
		                            &names, &values, &nd);
		if (e != SAKSI_OK) {
			json_decref(root);
			return e == SAKSI_ERR_NOMEM ? e : SAKSI_OK;
		}
	}
	for (size_t i = 0; i < nd; i++) {
		saksi_blind_kind k = saksi_blind_field_kind(names[i]);
		char *tok = d->d_tok[d->d_n < SAKSI_RULES_EVENT_FIELDS ? d->d_n : 0];

		if (k == SAKSI_BLIND_NONE || d->d_n == SAKSI_RULES_EVENT_FIELDS)
			continue;
		if (k == SAKSI_BLIND_ACCOUNT)
			e = bank_code == NULL ? SAKSI_ERR_FORMAT :
			    saksi_blind_account(d->d_blind, bank_code, values[i], tok);
		else
			e = saksi_blind_token(d->d_blind, k, values[i], strlen(values[i]), tok);
		if (e == SAKSI_ERR_NOMEM)
			break;
		/* A value that does not normalise is left out: no token, no grouping. */
		if (e == SAKSI_OK)
			field_add(d, names[i], tok, 1);
		e = SAKSI_OK;
	}
	if (e == SAKSI_OK) {
		memset(&ev, 0, sizeof(ev));
		ev.re_index = index;
		ev.re_type = env.ev_type;
		ev.re_time_ms = env.ev_time_ms;
		ev.re_branch = branch != NULL ? branch : "";
		ev.re_fields = d->d_f;
		ev.re_nfields = d->d_n;
		e = saksi_rules_eval(r, wtxn, &ev, res);
		if (e == SAKSI_ERR_INVAL)
			e = SAKSI_OK;   /* malformed for the engine: committed, not evaluated */
		else if (e == SAKSI_OK && evaluated != NULL)
			*evaluated = 1;
	}
	sodium_memzero(d->d_tok, sizeof(d->d_tok));
	saksi_disclosures_free(names, values, nd);
	json_decref(root);
	return e;
}
