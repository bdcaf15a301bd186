/*
 * branch_rule.h: the rule saksi verify and saksi verify-bundle both apply to an event
 * signed by a key of one branch: its payload is a JSON object whose "branch" is that
 * branch. One copy, so that the two verifiers cannot come to disagree. Header-only,
 * internal: never installed, never part of a module's contract.
 */
#ifndef SAKSI_BRANCH_RULE_H
#define SAKSI_BRANCH_RULE_H

#include <string.h>

#include <jansson.h>

#include "envelope.h"

/* 1 if ev's payload is a JSON object whose "branch" is branch, else 0. */
static inline int
saksi_payload_branch_is(const saksi_envelope *ev, const char *branch)
{
	json_t *p, *b;
	int ok;

	p = json_loadb((const char *)ev->ev_payload, ev->ev_payload_len, JSON_REJECT_DUPLICATES,
	    NULL);
	b = json_object_get(p, "branch");
	ok = json_is_string(b) && strcmp(json_string_value(b), branch) == 0;
	json_decref(p);
	return ok;
}

#endif
