/*
 * reveal.h: how many distinct participants a look revealed, for the access entry's
 * "participants" member (schemas/events/supervisor.access.logged.json), which the rule
 * supervisor_reveals_many sums (RULES.md 6). Shared by every writer of access entries:
 * saksi query/timeline, saksid's remote queries, saksi bundle and saksi subject-report.
 *
 * What it must never do: keep, print or return a personal value. A participant is
 * remembered only as a keyed hash under a random key of this counter alone, wiped with
 * it; only the count leaves. Threads: a counter is used by one thread at a time.
 */
#ifndef SAKSI_REVEAL_H
#define SAKSI_REVEAL_H

#include <stddef.h>
#include <stdint.h>

#include "query.h"
#include "saksi_error.h"

/*
 * Who an entry is about: its NIK, else its KPJ (an entry with neither, a staff action or
 * a forgotten participant's, is about no participant). Values are normalised as for blind
 * tokens (RULES.md 1.1), so two spellings of one NIK are one participant; a value that
 * does not normalise counts by its text. A person met once by NIK and once by KPJ alone
 * counts twice: nothing in an entry ties the two.
 */
typedef struct saksi_reveal saksi_reveal;

/* A new, empty counter. SAKSI_ERR_INVAL for NULL, SAKSI_ERR_NOMEM. */
saksi_err saksi_reveal_new(saksi_reveal **out);

/* Wipes and frees; NULL is fine. */
void saksi_reveal_free(saksi_reveal *r);

/*
 * One revealed entry, its nik and kpj in clear (either or both may be NULL): counted by
 * nik if given, else by kpj, else not at all. SAKSI_ERR_INVAL for a NULL counter,
 * SAKSI_ERR_NOMEM.
 */
saksi_err saksi_reveal_add(saksi_reveal *r, const char *nik, const char *kpj);

/*
 * One row of a revealed query (its payload's nik and kpj members, when they are strings:
 * a forgotten participant's row has none). The caller decides that the row was revealed.
 */
saksi_err saksi_reveal_add_row(saksi_reveal *r, const saksi_query_row *row);

/*
 * One entry's opened disclosures (the JSON array of base64url [salt, name, value] the
 * ledger stores, FORMATS.md 2.1). SAKSI_ERR_FORMAT for a list that does not parse (the
 * counter is then unchanged), SAKSI_ERR_INVAL, SAKSI_ERR_NOMEM.
 */
saksi_err saksi_reveal_add_disclosures(saksi_reveal *r, const char *json, size_t len);

/* Distinct participants added so far. 0 for NULL. */
uint64_t saksi_reveal_count(saksi_reveal *r);

/*
 * The participants of a query result: 0 when it was not revealed (qr_revealed 0),
 * else the distinct participants of its rows. SAKSI_ERR_INVAL for NULL arguments,
 * SAKSI_ERR_NOMEM (*n is then 0).
 */
saksi_err saksi_reveal_result(const saksi_query_result *res, uint64_t *n);

#endif
