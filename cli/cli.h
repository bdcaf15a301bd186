/*
 * cli.h: what the saksi command files share: exit codes, the x-prefixed helpers that print
 * and exit on failure (minisign's habit; only the CLI may exit), and the command entries.
 * The library below never exits or prints; every exit of saksi goes through here.
 */
#ifndef SAKSI_CLI_H
#define SAKSI_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keys.h"
#include "ledger.h"
#include "note.h"
#include "saksi_error.h"
#include "schema.h"

/* Exit codes, documented in `saksi --help` and docs/saksi.md. */
#define SX_OK 0    /* success */
#define SX_FAIL 1  /* verification or policy failure: bad signature, tampered ledger, refusal */
#define SX_USAGE 2 /* usage or system error: bad arguments, missing file, daemon unreachable */

#define CLI_FILE_MAX (64u * 1024 * 1024)

/* Print "saksi: <message>" to stderr and exit with SX_USAGE (xdie) or SX_FAIL (xfail). */
__attribute__((noreturn, format(printf, 1, 2))) void xdie(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void xfail(const char *fmt, ...);
/* Like xdie, after the usage line of the current command. */
__attribute__((noreturn, format(printf, 2, 3))) void xusage(const char *usage,
                                                            const char *fmt, ...);
/* xdie with " (<saksi_strerror(e)>)" appended, unless e is SAKSI_OK. */
__attribute__((noreturn, format(printf, 2, 3))) void xdie_err(saksi_err e,
                                                              const char *fmt, ...);

void *xmalloc(size_t n);
char *xstrdup(const char *s);

/* Reads a whole file ("-" = stdin), at most max bytes; NUL-terminates (not counted). */
char *xread_file(const char *path, size_t max, size_t *len);
/* Writes buf to path through a temporary file in the same directory and rename(). */
void xwrite_file_atomic(const char *path, const void *buf, size_t len, mode_t mode);
/* Writes all of buf to fd, or dies. */
void xwrite_all(int fd, const void *buf, size_t len);

/* Parses a decimal u64 (no sign, no leading junk); dies naming `what` on error. */
uint64_t xparse_u64(const char *s, const char *what);
/* Milliseconds since the Unix epoch. */
uint64_t now_ms(void);
const char *default_schemas_dir(void);

/* Passphrase in sodium_malloc memory (free with xpass_free), from a file or the tty. */
char *xpass_from_file(const char *path);
char *xpass_prompt(const char *prompt, int confirm);
void xpass_free(char *p);

/* Loads a secret key, asking for a passphrase (file, or tty prompt) only if needed. */
saksi_seckey *xseckey_load(const char *path, const char *passfile);
/* Loads a public key file, or the public half of a secret key file. */
void xpubkey_any(const char *path, const char *passfile, saksi_pubkey *pub);
/* A verifier key from --vkey (text) or --vkey-file (its first line). */
void xvkey(const char *vkey, const char *vkey_file, saksi_note_verifier *v);
saksi_keyring *xkeyring_load(const char *path);
/* The keyring branch of sk's key, malloc'd (the query scope); fails if it is not there. */
char *xkey_branch(const char *keyring, const saksi_seckey *sk);
/* Opens an existing ledger read-only. */
saksi_ledger *xledger_open_ro(const char *dir);
/* A client of saksid at url with no key of its own (it signs nothing): reads, proofs,
 * status, an outbox's items signed before. With v, every checkpoint it receives must be
 * signed by the log. Exits if it cannot connect. */
struct saksi_client *xreader(const char *url, uint64_t timeout, const saksi_note_verifier *v);
/* A personal filter given as "-" (--nik -): one line of stdin into buf, so that the value
 * never shows in the process list; at most one filter may be "-". given[] is indexed by
 * saksi_index_field; the caller wipes buf. */
void xfilter_stdin(const char **given, size_t n, char *buf, size_t len,
    const char *usage);
/* The filter options of query, timeline and bundle, rows of a struct option table (with
 * <getopt.h> and index.h): --nik ... --booking, each answering base + its
 * saksi_index_field. */
#define XFILTER_OPTIONS(base) \
	{ "nik", required_argument, NULL, (base) + SAKSI_IX_NIK }, \
	{ "kpj", required_argument, NULL, (base) + SAKSI_IX_KPJ }, \
	{ "phone", required_argument, NULL, (base) + SAKSI_IX_PHONE }, \
	{ "email", required_argument, NULL, (base) + SAKSI_IX_EMAIL }, \
	{ "account", required_argument, NULL, (base) + SAKSI_IX_ACCOUNT }, \
	{ "device", required_argument, NULL, (base) + SAKSI_IX_DEVICE }, \
	{ "ip", required_argument, NULL, (base) + SAKSI_IX_IP }, \
	{ "officer", required_argument, NULL, (base) + SAKSI_IX_OFFICER }, \
	{ "branch", required_argument, NULL, (base) + SAKSI_IX_BRANCH }, \
	{ "type", required_argument, NULL, (base) + SAKSI_IX_TYPE }, \
	{ "claim", required_argument, NULL, (base) + SAKSI_IX_CLAIM }, \
	{ "booking", required_argument, NULL, (base) + SAKSI_IX_BOOKING }
/* 1 if getopt's c is one of XFILTER_OPTIONS(base): its value arg is then in given[]
 * (indexed by saksi_index_field; a filter given twice is a usage error); else 0. */
int xfilter_opt(int c, const char *arg, int base, const char **given, const char *usage);
/* --since/--until: milliseconds, YYYY-MM-DD (UTC; its last millisecond if end_of_day)
 * or YYYY-MM-DDTHH:MM:SSZ; anything else is a usage error naming `what`. */
uint64_t xparse_time(const char *s, int end_of_day, const char *what, const char *usage);
/* --case: 1 to 64 of A-Z a-z 0-9 _ . / - (it goes into access entries and bundles). */
void xcase_ref(const char *s, const char *usage);

/* "0123abcd..." of a key id. */
void keyid_to_hex(const uint8_t id[SAKSI_KEYID_LEN], char out[2 * SAKSI_KEYID_LEN + 1]);
/* The public key file text ("untrusted comment: ...\n<b64>\n"), malloc'd. */
char *pubkey_text(const saksi_pubkey *pub, const char *comment);

/* Commands: argv[0] is the command name. Each returns an exit code. */
int cmd_keygen(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_vkey(int argc, char **argv);
int cmd_keyring(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_export_tiles(int argc, char **argv);
int cmd_tile_paths(int argc, char **argv);
int cmd_backfill_links(int argc, char **argv);
int cmd_forget(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_prove(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_keyring_history(int argc, char **argv);
int cmd_verify_receipt(int argc, char **argv);
/* cli/bundle.c: evidence bundles. */
int cmd_bundle(int argc, char **argv);
int cmd_verify_bundle(int argc, char **argv);
int cmd_alerts(int argc, char **argv);
int cmd_query(int argc, char **argv);
/* cli/query.c: rows printed as saksi query's table (or CSV), masked. */
struct saksi_query_result;
void query_print_rows(const struct saksi_query_result *res, int csv);
void query_print_rows_tz(const struct saksi_query_result *res, int csv,
    const char *tz_name, int off_min);
int cmd_timeline(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_subject_report(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_outbox(int argc, char **argv);
/* saksi submit --outbox: queue (seq 0: the outbox's next), flush, report; an exit code. */
int outbox_submit(const char *dir, const char *url, const saksi_seckey *sk,
                  const uint8_t *box_pk, const saksi_note_verifier *v,
                  const saksi_schemas *sch, const char *type, const char *payload,
                  uint64_t seq, uint64_t tms, uint64_t timeout, int json);
/* saksi get's view of an alert leaf body: into o (JSON) or printed when o is NULL. */
struct json_t;
void show_alert_leaf(const uint8_t *body, size_t len, struct json_t *o);

/* saksi replay (cli/replay.c). */
int cmd_replay(int argc, char **argv);
/* The human line of `saksi alerts` for an alert with no ledger entry yet (replay). */
struct saksi_alert;
void alerts_print_line(const struct saksi_alert *a);


/* cli/send.c: one signed event submitted and its receipt verified (submit, alerts ack,
 * forget). The box key must be an X25519 key; the schemas come from dir, or the default
 * dir when NULL. */
void xbox_pub(const char *path, saksi_pubkey *box);
saksi_schemas *xschemas_load(const char *dir);
struct send_req {
	const char *url;
	const saksi_note_verifier *v;  /* the receipt must verify against it */
	const uint8_t *box_pk;
	uint64_t timeout_ms;
	const char *type;
	uint64_t seq, time_ms;
};
/* Signs payload with sk and submits it over a fresh connection. Consumes sk, sch and
 * payload (wiped: a forget request holds a NIK). Dies if the daemon cannot be reached or
 * refuses the request as a whole, fails if the receipt does not verify; else the daemon's
 * answer is in *res. */
struct saksi_result;
void xsend_one(const struct send_req *rq, saksi_seckey *sk, saksi_schemas *sch,
               char *payload, struct saksi_result *res);
/* The parts of xsend_one, for a command that sends several events in turn over one
 * connection (alerts ack of several ids). send_open: a connection signing with sk,
 * sealing to rq's box key and checking receipts against rq's log key (sk and sch must
 * outlive it); NULL and the error in *e if it cannot be opened. send_event: payload
 * signed (rq's type, seq and time) and submitted, then wiped and freed; the client
 * library's error, the answer in *res when SAKSI_OK. xsend_check: dies (or fails, for a
 * receipt that does not verify) on any error of send_event but SAKSI_OK. */
struct saksi_client;
struct saksi_client *send_open(const struct send_req *rq, saksi_seckey *sk,
                               saksi_schemas *sch, saksi_err *e);
saksi_err send_event(struct saksi_client *cl, const struct send_req *rq, char *payload,
                     struct saksi_result *res);
void xsend_check(const struct send_req *rq, saksi_err e);
/* SX_OK if the event was accepted or already in the ledger, else SX_FAIL. */
int send_rc(const struct saksi_result *res);
/* --json: adds index and receipt (SX_OK) or message to o, prints it, frees it. o: the
 * command's own first fields, or NULL for ok, code and status. */
void send_print_json(struct json_t *o, int rc, const struct saksi_result *res);
/* Prints the refusal line unless rc is SX_OK, clears *res, returns rc. */
int send_finish(int rc, struct saksi_result *res);
/* The options of every command that signs and sends one event (submit, forget, alerts
 * ack): --url, -k, --box-pub, --vkey, --vkey-file, --schemas, --json, --timeout and
 * --passphrase-file, rows of its struct option table (with <getopt.h>). */
struct send_opts {
	const char *url, *key, *box, *vkey, *vkey_file, *schemas, *passfile;
	uint64_t timeout;
	int json;
};
#define SEND_OPTIONS \
	{ "url", required_argument, NULL, 'u' }, \
	{ "key", required_argument, NULL, 'k' }, \
	{ "box-pub", required_argument, NULL, 'b' }, \
	{ "vkey", required_argument, NULL, 'v' }, \
	{ "vkey-file", required_argument, NULL, 'V' }, \
	{ "schemas", required_argument, NULL, 'S' }, \
	{ "json", no_argument, NULL, 'j' }, \
	{ "passphrase-file", required_argument, NULL, 'P' }, \
	{ "timeout", required_argument, NULL, 'o' }
/* 1 if getopt's c is one of SEND_OPTIONS (its value arg is then in so); else 0. */
int send_opt(struct send_opts *so, int c, const char *arg);
/* Once the options are read: --timeout's bound (a usage error), then the verifier key
 * into v, the appliance's box key into box and the schemas into *sch; so->schemas then
 * names their directory. */
void send_setup(struct send_opts *so, const char *usage, saksi_note_verifier *v,
                saksi_pubkey *box, saksi_schemas **sch);

/*
 * cli/pending.c: an event sent whose receipt has not come (reply lost, daemon gone,
 * receipt not verified), kept until it is answered so that a retry sends the same bytes
 * (seq and time) and gets DUPLICATE with its receipt, not a second event. Files live in
 * $SAKSI_STATE_DIR/pending, else $XDG_STATE_HOME/saksi/pending, else
 * $HOME/.local/state/saksi/pending (made 0700). Only for events without personal data.
 * pending_path: the file for (what, key id, name), malloc'd; pending_load: 1 and its
 * fields (payload malloc'd) if it exists, 0 if not, dies if it is not one;
 * pending_save: written durably (0600) before the send; pending_done: removed.
 */
char *pending_path(const char *what, const uint8_t key_id[SAKSI_KEYID_LEN],
                   const char *name);
int pending_load(const char *path, uint64_t *seq, uint64_t *time_ms, char **payload);
void pending_save(const char *path, uint64_t seq, uint64_t time_ms, const char *payload);
void pending_done(const char *path);

#endif
