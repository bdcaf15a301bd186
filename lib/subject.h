/*
 * subject.h: the data subject's report (UU PDP No. 27/2022: a person's data and its
 * processing trail): one plain-language sentence per event type in Bahasa Indonesia and
 * English, and the report itself, rendered as one self-contained HTML file or plain text.
 * It renders only what the caller hands it: it reads no ledger, opens no disclosure, and
 * never prints or logs. The caller decides which personal values are the subject's own.
 *
 * The phrase table (sentences, enumerated values, field labels, rule names) is one C table
 * in subject.c; lib/subject_test.c fails if an event type in schemas/events, or a value of
 * one of its enumerations, has no phrase in both languages. Threads: no state, any thread.
 */
#ifndef SAKSI_SUBJECT_H
#define SAKSI_SUBJECT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "saksi_error.h"

typedef enum saksi_lang {
	SAKSI_LANG_ID = 0,   /* Bahasa Indonesia, the default */
	SAKSI_LANG_EN = 1,
	SAKSI_LANG__COUNT
} saksi_lang;

/* "id" or "en" into *out: SAKSI_OK, else SAKSI_ERR_INVAL. */
saksi_err saksi_subject_lang(const char *name, saksi_lang *out);

/*
 * The time zone the report shows times in: offset from UTC in minutes and its name.
 * Indonesia's three: WIB (+7 h), WITA (+8 h), WIT (+9 h); UTC. SAKSI_ERR_INVAL for any
 * other name.
 */
saksi_err saksi_subject_zone(const char *name, int *offset_min, const char **canonical);

/*
 * The zone of a place by its region code (a province's 2 digits or a regency's 4, as in
 * queue.booking.created's "region", or a NIK's first digits): WIB, WITA or WIT by the
 * province. SAKSI_ERR_NOT_FOUND for a code of no province listed (or not starting with
 * two digits), SAKSI_ERR_INVAL for NULL arguments.
 */
saksi_err saksi_subject_zone_of_region(const char *region, int *offset_min,
                                       const char **canonical);

/* The sentence template of an event type in lang, or NULL if the table has none. A
 * template is text with {field} placeholders and [optional segments], a segment being
 * left out whole when one of its fields is absent or withheld. */
const char *saksi_subject_template(saksi_lang lang, const char *type);
/* The type names the table has, in order; *n their number. */
const char *const *saksi_subject_types(size_t *n);
/* The phrase of an enumerated or boolean value ("true"/"false") of field, or NULL.
 * Fields that share a vocabulary share phrases (documents and document, channels and
 * channel, priority_before and priority). */
const char *saksi_subject_phrase(saksi_lang lang, const char *field, const char *value);
/* The label of a personal field ("Nomor telepon"), or NULL for a field that is none. */
const char *saksi_subject_label(saksi_lang lang, const char *field);
/* A detection rule's id (or "join:NAME", "late", ...) in plain words; never NULL (an
 * unknown rule gets a general phrase). *known = 0 then (known may be NULL). */
const char *saksi_subject_rule(saksi_lang lang, const char *rule, int *known);

/* "3 Maret 2026 pukul 09.14 WITA" / "3 March 2026 at 09:14 WITA". SAKSI_ERR_INVAL for a
 * len under 64; SAKSI_ERR_RANGE for a time gmtime cannot take. */
saksi_err saksi_subject_when(saksi_lang lang, uint64_t time_ms, int offset_min,
                             const char *zone, char *out, size_t len);

/*
 * The sentence for one event: "On <when>, at branch <branch>, <template filled in>."
 * payload holds the event's members: non-personal ones as signed; a personal member as a
 * JSON string is shown as it is (the caller puts there only the subject's own values);
 * any other form (the {"_sd": ...} digest, absent) counts as withheld. *out is malloc'd,
 * NUL-terminated plain text (no markup; escape it for HTML). SAKSI_ERR_NOT_FOUND for a
 * type without a sentence, SAKSI_ERR_INVAL for NULL arguments or a payload that is not an
 * object, SAKSI_ERR_NOMEM.
 */
saksi_err saksi_subject_sentence(saksi_lang lang, const char *type, uint64_t time_ms,
                                 int offset_min, const char *zone, const json_t *payload,
                                 char **out);

/* ---- the report ---- */

enum saksi_subject_state {
	SAKSI_SUBJ_SHOWN = 0,      /* the subject's own values are shown */
	SAKSI_SUBJ_FORGOTTEN = 1,  /* the data key is destroyed: only salted digests remain */
	SAKSI_SUBJ_WITHHELD = 2,   /* the entry names someone else too: no personal value shown */
	SAKSI_SUBJ_NONE = 3,       /* the entry carries no personal value */
};

typedef struct saksi_subject_event {
	uint64_t se_index;         /* leaf index */
	uint64_t se_time_ms;       /* producer time */
	const char *se_type;
	const json_t *se_payload;  /* as for saksi_subject_sentence */
	int se_state;              /* enum saksi_subject_state */
	/* The zone its time is shown in (its branch's); NULL: the report's sr_zone. */
	const char *se_zone;
	int se_offset_min;
} saksi_subject_event;

enum saksi_subject_how {
	SAKSI_SUBJ_BY_ID = 1,      /* the look's filter named the subject (a token of theirs) */
	SAKSI_SUBJ_BY_RECORD = 2,  /* the filter named one of their claims or bookings */
	SAKSI_SUBJ_IN_RESULTS = 3, /* another filter, whose results held their entries */
};

typedef struct saksi_subject_access {
	uint64_t sa_index;         /* the access entry's leaf index */
	uint64_t sa_time_ms;
	const char *sa_who;        /* the key's name in the keyring, or its key id */
	const char *sa_command;    /* query, timeline, subject-report, ... */
	int sa_how;                /* enum saksi_subject_how */
	int sa_revealed;           /* personal values were shown in clear */
	uint64_t sa_results;
	const char *sa_case_ref;   /* may be NULL */
} saksi_subject_access;

typedef struct saksi_subject_alert {
	uint64_t sl_index;         /* the alert entry's leaf index */
	uint64_t sl_alert_id;
	uint64_t sl_time_ms;       /* producer time of the latest evidence */
	const char *sl_rule;
	int sl_severity;           /* 1 low .. 4 critical */
	size_t sl_yours;           /* how many of its evidence entries are the subject's */
} saksi_subject_alert;

typedef struct saksi_subject_report {
	saksi_lang sr_lang;
	int sr_offset_min;
	const char *sr_zone;
	uint64_t sr_now_ms;            /* when the report was made */
	const char *sr_subject;        /* how the subject is named in the header (masked NIK) */
	const char *sr_case_ref;       /* may be NULL */
	const char *sr_controller;     /* who answers: the log's origin */
	uint64_t sr_size;              /* the checkpoint the report rests on */
	const char *sr_root_b64;
	const char *sr_checkpoint;     /* its signed note text */
	uint64_t sr_access_index;      /* the report's own access entry */
	const saksi_subject_event *sr_events;
	size_t sr_nevents;
	const saksi_subject_access *sr_access;
	size_t sr_naccess;
	const saksi_subject_alert *sr_alerts;
	size_t sr_nalerts;
	int sr_erased;                 /* an erasure (forget) of the subject is recorded */
	uint64_t sr_erased_ms;         /* when, if known (0 if not) */
	int sr_erased_hint;            /* no event links now, but an earlier look found some */
} saksi_subject_report;

enum saksi_subject_format {
	SAKSI_SUBJ_HTML = 0,       /* one HTML file, inline CSS, no external resource */
	SAKSI_SUBJ_TEXT = 1,       /* plain UTF-8 text */
};

/*
 * The whole report as one document, malloc'd, NUL-terminated, *len without the NUL. All
 * text taken from the report is escaped for HTML. SAKSI_ERR_INVAL for NULL arguments, an
 * unknown format or language; SAKSI_ERR_NOT_FOUND for an event type without a sentence;
 * SAKSI_ERR_NOMEM. The document holds the subject's own personal values: the caller
 * wipes it (sodium_memzero) before freeing.
 */
saksi_err saksi_subject_render(const saksi_subject_report *r, int format, char **out,
                               size_t *len);

#endif
