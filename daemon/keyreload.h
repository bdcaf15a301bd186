/*
 * keyreload.h: the producer keyring saksid runs with, read at start and again on each
 * SIGHUP, so that a stolen key is revoked (or a new one added) without a restart. A
 * keyring file that does not load never replaces the one in force; one that differs is
 * recorded in the ledger (kind 4) before any event is checked under it (server.h).
 * Never holds a secret of its own: the box key is borrowed.
 */
#ifndef SAKSID_KEYRELOAD_H
#define SAKSID_KEYRELOAD_H

#include <stddef.h>
#include <stdint.h>

#include "blind.h"
#include "keylog.h"
#include "keys.h"
#include "log.h"
#include "saksi_error.h"
#include "schema.h"
#include "server.h"
#include "shred.h"

/* A keyring file read once: the keyring, its entry bodies, its canonical JSON and the
 * SHA-256 of the file's bytes, all from the same bytes. */
typedef struct saksid_keyfile {
	saksi_keyring *kf_kr;
	saksi_keylog_parts kf_parts;
	char *kf_canon;               /* NUL-terminated */
	size_t kf_canonlen;
	uint8_t kf_sha256[32];
} saksid_keyfile;

/*
 * Reads path (at most SAKSI_KEYLOG_FILE_MAX bytes) into *kf (zeroed first). errbuf says
 * why it failed. The errors of saksi_keylog_load_parts: SAKSI_ERR_NOT_FOUND, _IO,
 * _TOO_LARGE, _FORMAT, _VERSION, _NOMEM.
 */
saksi_err saksid_keyfile_load(const char *path, saksid_keyfile *kf, char *errbuf,
                              size_t errlen);
/* Frees what kf holds (kf_kr too, unless the caller took it and set it NULL). */
void saksid_keyfile_clear(saksid_keyfile *kf);

typedef struct saksid_keyreload_opts {
	const char *ko_path;            /* the keyring file (config "keyring") */
	const saksi_schemas *ko_sc;     /* borrowed, as the start's ingest context's */
	const saksi_seckey *ko_box;     /* BOX, borrowed: the new keys' disclosure keys */
	const saksi_blind *ko_detect;   /* saksid_ingest_detect's blind, or NULL */
	const saksi_blind *ko_index;    /* saksid_ingest_index's blind, or NULL */
	saksid_shred *ko_shred;         /* saksid_ingest_shred's, or NULL */
	const saksid_log *ko_log;       /* may be NULL */
	/* Keys saksid signs entries with itself (NULL: none): a keyring without them, or
	 * revoking them, is refused, since their entries would then fail saksi verify.
	 * The access key must keep branch "*" and a role that may sign
	 * supervisor.access.logged, as at start. */
	const uint8_t *ko_access_id;    /* access_key's id */
	const uint8_t *ko_retention_id; /* retention_key's id, when retention is on */
} saksid_keyreload_opts;

/* What is in force and how the last reload went (the status op's "keyring"). */
typedef struct saksid_keyreload {
	saksid_keyreload_opts kl_o;
	char *kl_canon;               /* the keyring in force, canonical JSON */
	size_t kl_canonlen;
	uint8_t kl_sha256[32];        /* of the file's bytes it was loaded from */
	size_t kl_count;              /* keys */
	uint64_t kl_entry;            /* its (first) ledger entry */
	size_t kl_nparts;             /* entries it spans */
	uint64_t kl_loaded_ms;        /* wall clock it came into force */
	int kl_reloaded;              /* a SIGHUP was handled: the three below say how */
	uint64_t kl_reload_ms;
	int kl_reload_ok;             /* 1: loaded (changed or not); 0: failed, old in force */
	int kl_reload_changed;        /* 1: the last reload recorded a new keyring */
	char kl_reload_err[256];      /* why it failed */
} saksid_keyreload;

/*
 * The keyring of the start: kf as loaded and recorded at ledger entry `entry`. Takes
 * kf's canonical JSON (kf_canon set NULL). SAKSI_ERR_INVAL for missing options.
 */
saksi_err saksid_keyreload_init(saksid_keyreload *kl, const saksid_keyreload_opts *o,
                                saksid_keyfile *kf, uint64_t entry, uint64_t now_ms);
void saksid_keyreload_clear(saksid_keyreload *kl);

/*
 * A SIGHUP: reads the file again. If it does not load, or drops or revokes one of
 * saksid's own keys (ko_access_id, ko_retention_id), logs (file and reason) and keeps
 * the keyring in force; if it holds the same keyring (canonical JSON), writes nothing;
 * else makes the checking context on it and hands it to the server
 * (saksid_server_keyring_swap), which records it and checks every later event under it,
 * and logs the keys added, revoked, changed and removed. Then publishes the status
 * (saksid_keyreload_publish). Returns SAKSI_OK if the file's keyring is in force.
 */
saksi_err saksid_keyreload_run(saksid_keyreload *kl, saksid_server *srv, uint64_t now_ms);

/* The status op's "keyring" member to srv (saksid_server_keyring_info_set). */
saksi_err saksid_keyreload_publish(const saksid_keyreload *kl, saksid_server *srv);

#endif
