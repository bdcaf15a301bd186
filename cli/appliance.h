/*
 * appliance.h: what the local supervisory commands (query, timeline, bundle,
 * subject-report, report) share: opening saksid's keys and ledger from its config, and
 * writing one signed access entry before anything is revealed. Never reveal first.
 */
#ifndef SAKSI_CLI_APPLIANCE_H
#define SAKSI_CLI_APPLIANCE_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "blind.h"
#include "config.h"
#include "datakey.h"
#include "keys.h"
#include "ledger.h"
#include "note.h"

/* saksid's handles, as it keeps them. */
struct appliance {
	saksid_config cf;
	const char *config;      /* the config file's path, for messages */
	char *ledger_dir;
	saksi_blind *blind;      /* NULL when opened without the index key */
	saksi_seckey *store;
	saksi_datakeys *dk;      /* NULL: a ledger without per-participant keys */
	saksi_ledger *l;
	saksi_keyring *kr;       /* NULL until appliance_keyring() */
};

/*
 * Loads config, the index key as a blind (unless no_index is NULL: then no blind; else
 * it ends the "has no index_key: " message), store_key, the ledger read-only and the data
 * keys. Dies on any failure.
 */
void appliance_open(struct appliance *x, const char *config, const char *no_index);
/* no_index for the commands that read the indexes. */
#define APPLIANCE_NEED_INDEX "saksid keeps no indexes without one (add it and restart " \
	"saksid; the ledger is indexed at start)"
void appliance_close(struct appliance *x);
/* The query indexes (lib/query.h) in txn and how far they reach (*upto); dies if there
 * are none or they were made with another index key. */
void appliance_index(struct appliance *x, saksi_ledger_txn *txn, MDB_dbi *dbi,
                     uint64_t *upto);
/* The keyring of the config, loaded on first use; dies if it does not load. */
saksi_keyring *appliance_keyring(struct appliance *x);

/* One supervisor.access.logged entry (FORMATS.md), as the command saw it. */
struct access_entry {
	const char *command;     /* "query", "timeline", "bundle", "subject-report" */
	const char *filter;      /* the filter text: tokens, never a personal value */
	int personal_filter;
	uint64_t results;
	int revealed;
	uint64_t participants;
	const char *case_ref;    /* NULL: none */
	const char *key_path;    /* -k as given, for messages */
	const char *url;         /* NULL: the config's first listen */
	int timeout_ms;          /* 0: the client library's default */
	const char *withheld;    /* ends the failure messages: "results withheld" ... */
	int say_on_connect;      /* add withheld to "cannot connect" too */
};

/*
 * Signs the entry with sk (checked against the keyring: a supervisor's key), submits it
 * to saksid, resends the same bytes after a lost answer, and returns the entry's leaf
 * index once its receipt has verified against the log's key (into *v when not NULL).
 * Otherwise exits: the caller has revealed nothing yet.
 */
uint64_t appliance_log_access(struct appliance *x, const struct access_entry *a,
                              const saksi_seckey *sk, saksi_note_verifier *v);

#endif
