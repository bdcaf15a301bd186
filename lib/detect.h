/*
 * detect.h: the one place where a committed event becomes what the rules engine sees
 * (rules.h saksi_rule_event): payload members as text, personal fields as blind tokens
 * made from the event's opened disclosures. saksid's committer and `saksi replay` both
 * feed the detectors through here, so that a replay cannot drift from what the daemon did.
 *
 * Nothing here prints, logs or keeps a personal value: the clear disclosures are read,
 * blinded and wiped within one call. Threads: one saksi_detect per thread (it holds the
 * scratch of the event being evaluated); the saksi_blind it borrows may be shared.
 */
#ifndef SAKSI_DETECT_H
#define SAKSI_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

#include "blind.h"
#include "envelope.h"
#include "rules.h"
#include "saksi_error.h"

typedef struct saksi_detect saksi_detect;

/* Makes the scratch for one evaluating thread; b is borrowed and must outlive d.
 * SAKSI_ERR_INVAL for a NULL b or out, SAKSI_ERR_NOMEM. */
saksi_err saksi_detect_new(const saksi_blind *b, saksi_detect **out);
/* Wipes the tokens and frees. NULL is fine. */
void saksi_detect_free(saksi_detect *d);

/*
 * Evaluates the event committed at leaf index `index` with rules r in wtxn, the write
 * transaction of the rules' state (rules.h saksi_rules_eval), exactly as saksid does at
 * commit time. env[0..env_len) is the envelope (the body of the kind-1 leaf); disc is the
 * clear disclosures JSON array the event came with (NULL, disc_len 0, when it had none:
 * for a committed event, the opened disclosures at rest of FORMATS.md 7.1).
 *
 * Payload members that are strings (printable ASCII, 1..SAKSI_RULES_VALUE_MAX bytes: free
 * text beyond that is left out), integers or booleans are
 * given as text, at most SAKSI_RULES_EVENT_FIELDS of them in payload order, personal
 * fields left out; then each disclosed field that has a blind kind, as its token (an
 * account's token covers the payload's bank_code), in disclosure order. A value that
 * does not normalise gets no token and is left out.
 *
 * An event the detectors cannot take (an envelope or payload that does not parse,
 * disclosures that do not match the payload, an event the engine refuses as malformed) is
 * not evaluated, and SAKSI_OK is returned with *evaluated = 0: saksid commits it all the
 * same, undetected, rather than failing every retry of its group. *evaluated = 1 when the
 * engine ran (res, which may be NULL, then holds its result). evaluated may be NULL.
 * Other errors are the engine's (SAKSI_ERR_FULL, SAKSI_ERR_CORRUPT, SAKSI_ERR_LEDGER:
 * the caller must abort wtxn) or SAKSI_ERR_NOMEM. The tokens are wiped before returning.
 */
saksi_err saksi_detect_eval(saksi_detect *d, const saksi_rules *r, MDB_txn *wtxn,
                            uint64_t index, const uint8_t *env, size_t env_len,
                            const uint8_t *disc, size_t disc_len, int *evaluated,
                            saksi_rules_result *res);

/*
 * The same work in two steps, so that saksid's ingest workers do the costly part (the
 * payload as text, the blinding) in parallel and its committer only evaluates.
 * saksi_detect_eval is exactly saksi_detect_prepare then saksi_detect_eval_prepared: the
 * daemon and `saksi replay` run the same code on the same input.
 *
 * saksi_detect_prepare makes the event as the engine will see it, from env (parsed; its
 * type and time are taken), its payload already parsed (JSON_REJECT_DUPLICATES, a JSON
 * object) and the disclosure pairs names/values[0..nd) as saksi_disclosures_check gave
 * them for this payload (NULL, 0 when there are none). Pure: no LMDB, no state, safe on
 * any number of threads at once (b may be shared). *out owns copies of every string it
 * needs (nothing points into env, payload or the pairs) and holds blind tokens: free it
 * with saksi_detect_event_free, which wipes it. No clear personal value is kept.
 * SAKSI_ERR_INVAL for a NULL argument or a payload that is not an object (the event is
 * then not evaluated), SAKSI_ERR_NOMEM.
 */
typedef struct saksi_detect_event saksi_detect_event;
saksi_err saksi_detect_prepare(const saksi_blind *b, const saksi_envelope *env,
                               const json_t *payload, char *const *names,
                               char *const *values, size_t nd, saksi_detect_event **out);
/* Wipes the tokens and frees. NULL is fine. */
void saksi_detect_event_free(saksi_detect_event *p);
/*
 * Evaluates a prepared event committed at leaf `index` with rules r in wtxn; *evaluated
 * and res, and the errors, as saksi_detect_eval's (an event the engine refuses as
 * malformed: SAKSI_OK with *evaluated = 0). p is only read. SAKSI_ERR_INVAL for a NULL p,
 * r or wtxn.
 */
saksi_err saksi_detect_eval_prepared(const saksi_detect_event *p, const saksi_rules *r,
                                     MDB_txn *wtxn, uint64_t index, int *evaluated,
                                     saksi_rules_result *res);

#endif
