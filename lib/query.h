/*
 * query.h: the supervisory unit's query engine (issue #5): filters -> rows of the ledger
 * through its secondary indexes (FORMATS.md 7.4), each row's disclosures opened with the
 * store key and the data keys and shown masked or revealed; a timeline follows claim and
 * booking ids. Shared by `saksi query`/`saksi timeline` on the appliance, saksid's op 0x07
 * (remote queries), subject reports and evidence bundles.
 *
 * What it must never do: print, log, exit, or write anything. It works on handles the
 * caller has opened (a ledger transaction, the index handle, the store key, the data
 * keys) and returns saksi_err. Writing the access entry (supervisor.access.logged) BEFORE
 * results leave is the caller's duty: this module only reads. Personal filter values are
 * taken as blind tokens only (saksi_query_blind makes them); a clear value never enters a
 * spec, a filter text or an error.
 *
 * Threads: the functions keep no state between calls. A saksi_query_ctx borrows a ledger
 * transaction (one thread at a time, ledger.h) and a saksi_datakeys (one thread at a time,
 * datakey.h); the store key and the blind context may be shared.
 */
#ifndef SAKSI_QUERY_H
#define SAKSI_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

#include "blind.h"
#include "datakey.h"
#include "envelope.h"
#include "index.h"
#include "keys.h"
#include "ledger.h"
#include "saksi_error.h"

/* Rows a query returns at most (its limit), and a timeline's default limit. */
#define SAKSI_QUERY_LIMIT_MAX 100000
#define SAKSI_QUERY_LIMIT_DEFAULT 100
#define SAKSI_QUERY_TIMELINE_LIMIT_DEFAULT 1000
/* A timeline collects at most this many entries before sorting (then SAKSI_ERR_TOO_LARGE). */
#define SAKSI_QUERY_TIMELINE_MAX (4u * SAKSI_QUERY_LIMIT_MAX)
/* Claims and bookings one timeline follows (one level deep). */
#define SAKSI_QUERY_TIMELINE_IDS_MAX 64
/* A plain (non-personal) filter value: 1..128 printable ASCII, no ',' '=' or space. */
#define SAKSI_QUERY_VALUE_MAX 128
/* The access entry's filter text (supervisor.access.logged "filter"). */
#define SAKSI_QUERY_FILTER_MAX 2048

/*
 * What to look for. Filters are ANDed. value[f] for f = SAKSI_IX_NIK..SAKSI_IX_BOOKING
 * (never SAKSI_IX_STATE or SAKSI_IX_TIME): NULL when absent; for a personal field
 * (saksi_index_field_personal) the blind token (43 characters), for the others the value
 * as in the payload. Borrowed: the spec owns nothing.
 */
typedef struct saksi_query_spec {
	int qs_timeline;          /* 0 query (one page), 1 timeline (one whole story) */
	const char *qs_value[SAKSI_IX__COUNT];
	uint64_t qs_since_ms;     /* producer time, inclusive, if qs_has_since */
	int qs_has_since;
	uint64_t qs_until_ms;     /* inclusive, if qs_has_until */
	int qs_has_until;
	uint64_t qs_after;        /* paging: only leaves above this index, if qs_has_after */
	int qs_has_after;         /* (a query only; a timeline is one story) */
	size_t qs_limit;          /* 1..SAKSI_QUERY_LIMIT_MAX */
	int qs_reveal;            /* 1: personal values in clear; 0: masked */
	/* Branch scope: the "branch" of the requester key's keyring entry. NULL or "*" (the
	 * national unit): every branch. Else only entries whose payload branch is this one
	 * are found (a query filters on it, a timeline drops and does not follow the
	 * others), a branch filter naming another branch is refused, and the filter text
	 * says branch=<it>. Callers pass it from the key's entry, never from the user. */
	const char *qs_branch;
} saksi_query_spec;

/* One entry found. Everything is owned by the result. */
typedef struct saksi_query_row {
	uint64_t qr_index;                       /* leaf index */
	uint64_t qr_time_ms;                     /* the producer's time */
	char qr_type[SAKSI_TYPE_MAX + 1];
	char qr_key_id[2 * SAKSI_KEYID_LEN + 1]; /* the producer key, hex */
	json_t *qr_payload;      /* the payload, personal members ({"_sd": ...}) replaced by
	                            their masked or clear value as a string */
	char *qr_personal;       /* "field=value field=value" as shown (masked or clear),
	                            "[forgotten]" for a forgotten participant, or "" */
	int qr_forgotten;        /* 1: its data key is destroyed (FORMATS.md 7.1) */
} saksi_query_row;

typedef struct saksi_query_result {
	saksi_query_row *qr_rows;
	size_t qr_n;
	size_t qr_cap;
	int qr_more;             /* a query: more hits after the last row (next page with
	                            qs_after = its index); a timeline: cut at qs_limit */
	int qr_revealed;         /* the spec's qs_reveal */
	/* On failure: what failed, the leaf it is about (UINT64_MAX if none) and the error
	 * of the part that failed (the ledger read, the data keys, ...), so that a caller
	 * can say which entry to look at and what to do. */
	int qr_fail_what;        /* enum saksi_query_fail */
	uint64_t qr_fail_index;
	saksi_err qr_fail_cause;
} saksi_query_result;

/* Where a run failed (qr_fail_what). */
enum saksi_query_fail {
	SAKSI_QF_NONE = 0,
	SAKSI_QF_INDEX,       /* the index lookup itself (saksi_index_query_run) */
	SAKSI_QF_LEAF,        /* reading the entry's leaf */
	SAKSI_QF_NOT_EVENT,   /* indexed as an event but is not one (run saksi verify) */
	SAKSI_QF_PAYLOAD,     /* its payload is not a JSON object */
	SAKSI_QF_DISC_READ,   /* reading its disclosures at rest */
	SAKSI_QF_DISC_OPEN,   /* they do not open with the store key / data keys */
	SAKSI_QF_DISC_MATCH,  /* they do not match the payload's digests (run saksi verify) */
	SAKSI_QF_TOO_LARGE,   /* time range or timeline over its cap */
	SAKSI_QF_NOMEM,
};

/* The open handles a query reads through. All borrowed. */
typedef struct saksi_query_ctx {
	saksi_ledger_txn *qc_txn;     /* any transaction: the snapshot read */
	MDB_dbi qc_dbi;               /* the index (saksi_query_index, or the daemon's own) */
	const saksi_seckey *qc_store; /* the store key (kind SYM): disclosures of kind 1 */
	saksi_datakeys *qc_dk;        /* participants' data keys; NULL: a ledger without them */
} saksi_query_ctx;

/*
 * Opens the index in txn for reading and checks it was made with blind's key: *dbi the
 * handle, *upto (may be NULL) every event leaf below it is indexed (a caller may say the
 * index is catching up when upto < saksi_ledger_size). LMDB's rule: no other transaction
 * of this process may open a database at the same time (saksid keeps its handle instead).
 * SAKSI_ERR_NOT_FOUND: no index yet; SAKSI_ERR_KEY: made with another index key;
 * SAKSI_ERR_INVAL for NULL arguments; errors of saksi_index_state.
 */
saksi_err saksi_query_index(saksi_ledger_txn *txn, const saksi_blind *b, MDB_dbi *dbi,
                            uint64_t *upto);

/*
 * The blind token of a clear personal filter value for field f (nik, kpj, phone, email,
 * account as "BBB:NUMBER", device, ip), into token. The clear value is never copied
 * anywhere else. SAKSI_ERR_INVAL for a field that is not personal or NULL arguments;
 * SAKSI_ERR_FORMAT / SAKSI_ERR_TOO_LARGE as saksi_blind_token (token is then "").
 */
saksi_err saksi_query_blind(const saksi_blind *b, saksi_index_field f, const char *clear,
                            char token[SAKSI_BLIND_TOKEN_LEN + 1]);

/*
 * Checks a spec as the engine and the access entry need it, for specs that come from a
 * hostile wire as much as from the command line: at least one filter or time bound (a
 * query); a timeline follows exactly one of claim, booking, nik, kpj, phone, email,
 * account, device and has no qs_after; tokens shaped as tokens; plain values 1..128 of
 * '!'..'~' except ',' and '='; since <= until; limit 1..SAKSI_QUERY_LIMIT_MAX; a branch
 * scope that is "*" or a plain value, and no branch filter naming another branch.
 * SAKSI_OK or SAKSI_ERR_INVAL with *why (may be NULL) a static English reason that names
 * no value.
 */
saksi_err saksi_query_spec_check(const saksi_query_spec *s, const char **why);

/* 1 if the spec filters by a personal field. */
int saksi_query_spec_personal(const saksi_query_spec *s);

/*
 * The access entry's filter text (schemas/events/supervisor.access.logged.json "filter"):
 * name=value comma-separated, in the order nik, kpj, phone, email, account, device, ip,
 * officer, branch, type, claim, booking (personal ones as tokens), then since, until,
 * after (ms, leaf index) and limit. A branch scope (not "*") without a branch filter
 * shows as branch=<scope>: the entry says what the requester could see. out gets at most len - 1 characters and a NUL.
 * SAKSI_ERR_TOO_LARGE if the text does not fit in len or is over SAKSI_QUERY_FILTER_MAX;
 * SAKSI_ERR_INVAL for NULL arguments.
 */
saksi_err saksi_query_filter_text(const saksi_query_spec *s, char *out, size_t len);

/*
 * Runs the spec (a query or a timeline) in ctx's snapshot into *res (cleared first; free
 * it with saksi_query_result_free, on failure too).
 *
 * A query: the hits of the ANDed filters within the time range, in ascending leaf index,
 * at most qs_limit; qr_more if there are more (next page: qs_after = the last index).
 * A timeline: the entries of the one identifier given, then those of every claim and
 * booking they name (at most SAKSI_QUERY_TIMELINE_IDS_MAX of each, one level deep), within
 * the time range, ordered by producer time then leaf index, cut at qs_limit (qr_more).
 *
 * Errors (qr_fail_what, qr_fail_index and qr_fail_cause say where):
 * SAKSI_ERR_INVAL a spec that saksi_query_spec_check refuses, or NULL arguments;
 * SAKSI_ERR_TOO_LARGE (SAKSI_QF_TOO_LARGE) a query by time alone over
 * SAKSI_INDEX_TIME_ONLY_MAX hits, or a timeline over SAKSI_QUERY_TIMELINE_MAX entries;
 * SAKSI_ERR_CORRUPT an indexed entry that is not an event (SAKSI_QF_NOT_EVENT), whose
 * payload is not an object (SAKSI_QF_PAYLOAD), or whose stored disclosures do not match
 * its digests (SAKSI_QF_DISC_MATCH; cause SAKSI_ERR_FORMAT, SAKSI_ERR_PROOF, ...);
 * SAKSI_ERR_DECRYPT its disclosures do not open with the keys given (SAKSI_QF_DISC_OPEN,
 * cause the datakey.h error); the ledger's or the index's own error reading
 * (SAKSI_QF_LEAF, SAKSI_QF_DISC_READ, SAKSI_QF_INDEX); SAKSI_ERR_NOMEM. A forgotten
 * participant's entry is no error: its row has qr_forgotten set and no personal values.
 */
saksi_err saksi_query_run(const saksi_query_ctx *ctx, const saksi_query_spec *spec,
                          saksi_query_result *res);

/*
 * Appends the entry at leaf index idx to *res as a row (masked, or revealed if reveal),
 * for callers that already know which entries they want (evidence bundles, subject
 * reports). res must be zeroed, or a result of saksi_query_run or of earlier calls; on
 * failure it keeps the rows it had and says where it failed (qr_fail_*).
 * SAKSI_ERR_NOT_FOUND no leaf at idx (SAKSI_QF_LEAF); otherwise the errors of
 * saksi_query_run for one entry (an index that is not an event is SAKSI_ERR_CORRUPT,
 * SAKSI_QF_NOT_EVENT); SAKSI_ERR_INVAL for NULL arguments or no store key.
 */
saksi_err saksi_query_add(const saksi_query_ctx *ctx, uint64_t idx, int reveal,
                          saksi_query_result *res);

/* Wipes the shown personal strings and frees every row; res itself is kept (zeroed). */
void saksi_query_result_free(saksi_query_result *res);

/*
 * The masked form of a personal value of field (a disclosure's name: nik, kpj, phone,
 * email, name, account_holder, bank_account, ip, npwp, device_id, scan_sha256; anything
 * else "***"): enough to tell entries apart and to match a document in hand, too little to
 * identify anyone (docs/saksi.md, "Masks"). malloc'd, or NULL (out of memory).
 */
char *saksi_query_mask(const char *field, const char *value);

/*
 * Rows as JSON and back, for the wire (FORMATS.md 3.4): an array of objects
 * {"index", "time_ms", "type", "key_id", "payload", "personal", "forgotten"}.
 * to_json: a new array (NULL: out of memory). from_json: appends to *res (cleared
 * first); strict: every member present with its type, nothing else, index and time_ms
 * integers >= 0, type and key_id well-formed, payload an object, at most
 * SAKSI_QUERY_LIMIT_MAX rows; SAKSI_ERR_FORMAT otherwise (res freed), SAKSI_ERR_NOMEM.
 */
json_t *saksi_query_rows_json(const saksi_query_result *res);
saksi_err saksi_query_rows_from_json(const json_t *rows, saksi_query_result *res);

#endif
