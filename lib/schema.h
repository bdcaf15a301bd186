/*
 * schema.h: event schemas (schemas/events/<type>.json), the one source of truth for the
 * daemon and producers. A strict subset of JSON Schema 2020-12 (see schemas/README.md):
 * unsupported keywords make the schema itself invalid, so nothing is silently ignored.
 * A loaded schema set is immutable: share it read-only between threads.
 */
#ifndef SAKSI_SCHEMA_H
#define SAKSI_SCHEMA_H

#include <stddef.h>

#include <jansson.h>

#include "saksi_error.h"

typedef struct saksi_schemas saksi_schemas;

/*
 * Loads every *.json in dir (names starting with "." are skipped; symlinks are refused).
 * The file name without .json must equal the schema's "x-event-type". On error, errbuf says
 * which file and which keyword, and *out is NULL: SAKSI_ERR_FORMAT for a schema that is not
 * valid JSON or breaks the subset, SAKSI_ERR_NOT_FOUND for a missing dir or one without
 * *.json, SAKSI_ERR_IO for an unreadable file, SAKSI_ERR_TOO_LARGE for a file over 1 MiB or
 * more than 1024 files, SAKSI_ERR_INVAL for a NULL dir or out.
 */
saksi_err saksi_schemas_load(const char *dir, saksi_schemas **out, char *errbuf, size_t errlen);
void saksi_schemas_free(saksi_schemas *s);

/* 1 if type is known. */
int saksi_schemas_has(const saksi_schemas *s, const char *type);
/* Number of types and the i-th type name (sorted). */
size_t saksi_schemas_count(const saksi_schemas *s);
const char *saksi_schemas_type_at(const saksi_schemas *s, size_t i);

/*
 * Names of the personal ("x-personal": true) top-level fields of type, NULL-terminated,
 * valid while s lives. NULL if type is unknown.
 */
const char *const *saksi_schemas_personal(const saksi_schemas *s, const char *type);

/*
 * Validates a payload (as signed: personal fields are {"_sd": "<43 base64url>"}) against
 * the schema of type. SAKSI_ERR_NOT_FOUND for an unknown type, SAKSI_ERR_SCHEMA with a
 * reason in errbuf (e.g. "/slot_hour: 25 is above the maximum 23") otherwise.
 * JSON that does not parse, has duplicate keys, nests deeper than 16, has an object of more
 * than 64 members or is longer than SAKSI_PAYLOAD_MAX (60000) is SAKSI_ERR_SCHEMA.
 * SAKSI_ERR_INVAL for a NULL s or type, or a NULL payload with len > 0. errbuf (may be NULL)
 * gets one line and never a string value of the payload (it may be personal data).
 * Reads only len bytes of payload (no NUL needed). May run in many threads on one set.
 */
saksi_err saksi_schemas_validate(const saksi_schemas *s, const char *type, const char *payload,
                                 size_t len, char *errbuf, size_t errlen);

/*
 * The same check in two steps, for a caller that reads the payload itself too (saksid
 * parses each payload once for its branch, schema and disclosure checks).
 * saksi_schemas_parse_payload parses exactly as saksi_schemas_validate does: *out gets a
 * new reference (json_decref it), NULL on error. An empty payload, one over
 * SAKSI_PAYLOAD_MAX bytes, one nesting deeper than 16 (found on the bytes, before anything
 * is built), JSON that does not parse or has a duplicate member name: SAKSI_ERR_SCHEMA
 * with the same one-line reason in errbuf; SAKSI_ERR_NOMEM; SAKSI_ERR_INVAL for a NULL
 * out, or a NULL payload with len > 0. Needs no schema: the type is checked by the next
 * step.
 * saksi_schemas_validate_json validates a parsed payload (signed form) against type: first
 * the caps on the tree itself, whoever built it (nesting deeper than 16 or an object of
 * more than 64 members: SAKSI_ERR_SCHEMA), then the schema. Same codes and messages as
 * saksi_schemas_validate; SAKSI_ERR_INVAL for a NULL s, type or root. Does not change
 * root.
 */
saksi_err saksi_schemas_parse_payload(const char *payload, size_t len, json_t **out,
                                      char *errbuf, size_t errlen);
saksi_err saksi_schemas_validate_json(const saksi_schemas *s, const char *type,
                                      const json_t *root, char *errbuf, size_t errlen);

/*
 * Producer side: validates a payload with personal values in clear (each personal field
 * must then be a string matching the schema's "x-clear" constraints). Same codes and limits
 * as saksi_schemas_validate; errbuf never quotes the clear value.
 */
saksi_err saksi_schemas_validate_clear(const saksi_schemas *s, const char *type,
                                       const char *payload, size_t len, char *errbuf,
                                       size_t errlen);

#endif
