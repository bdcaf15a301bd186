/*
 * server_fixture.h: saksid's committer and server run in-process on a real ledger, as
 * the daemon's tests and lib/outbox_test run them: the options they share, in one
 * place. Header-only (static functions); never used by the daemon itself.
 */
#ifndef SAKSID_SERVER_FIXTURE_H
#define SAKSID_SERVER_FIXTURE_H

#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "daemon_fixture.h"

#include "commit.h"
#include "keyreload.h"
#include "ledger.h"
#include "server.h"

/* The committer's options every test starts from: fx's log on the ledger l (the
 * origin, its log and store keys), producer times within skew_ms of the daemon's clock;
 * a test sets what it needs besides (blind, shredder, alerts) on top. */
FX_UNUSED static void
fx_commit_opts(saksid_commit_opts *co, const struct fx *fx, saksi_ledger *l,
               uint64_t skew_ms)
{
	memset(co, 0, sizeof(*co));
	co->co_ledger = l;
	co->co_origin = FX_ORIGIN;
	co->co_log_key = fx->log;
	co->co_store_key = fx->store;
	co->co_max_clock_skew_ms = skew_ms;
}

/* A committer of fx's log on the ledger l; its skew is a century because the tests'
 * clock is FX_NOW, fixed, while their items are signed at any time around it. */
FX_UNUSED static saksi_err
fx_committer_new(const struct fx *fx, saksi_ledger *l, saksid_committer **cm)
{
	saksid_commit_opts co;

	fx_commit_opts(&co, fx, l, 100ull * 365 * 86400000);   /* FX_NOW is fixed */
	return saksid_commit_new(&co, cm);
}

/* Reads the keyring file at path into kf and records it in cm's ledger as saksid does
 * at start (one set of parts, at FX_NOW), its entry into *entry. */
FX_UNUSED static saksi_err
fx_keyring_record(saksid_committer *cm, const char *path, saksid_keyfile *kf,
                  uint64_t *entry)
{
	saksi_err e;

	if ((e = saksid_keyfile_load(path, kf, NULL, 0)) != SAKSI_OK)
		return e;
	return saksid_commit_keyring_parts(cm, (const uint8_t *const *)kf->kf_parts.kp_body,
	    kf->kf_parts.kp_len, 1, FX_NOW, entry);
}

/* The server's options as the tests run it: on listen[0] only, with fx's ingest checks,
 * two workers (so that a batch can be shared out) and groups of 64 closed after 100 us. */
FX_UNUSED static void
fx_server_opts(saksid_server_opts *o, const char *const *listen, const struct fx *fx,
               saksi_ledger *l, saksid_committer *cm)
{
	memset(o, 0, sizeof(*o));
	o->so_listen = listen;
	o->so_nlisten = 1;
	o->so_ledger = l;
	o->so_ingest = fx->ig;
	o->so_committer = cm;
	o->so_workers = 2;
	o->so_group_max = 64;
	o->so_group_wait_us = 100;
}

/* A cmocka setup's work: fx_init, a new ledger in fx->dir/ledger, a committer on it,
 * and url (len bytes) set to an ipc:// socket in fx->dir. 0, or -1 if any fails. */
FX_UNUSED static int
fx_server_setup(struct fx *fx, saksi_ledger **l, saksid_committer **cm, char *url,
                size_t len)
{
	char dir[200];

	fx_init(fx, 0);
	snprintf(dir, sizeof(dir), "%s/ledger", fx->dir);
	mkdir(dir, 0700);
	if (saksi_ledger_open(dir, FX_ORIGIN, fx->vkey, NULL, l) != SAKSI_OK)
		return -1;
	if (fx_committer_new(fx, *l, cm) != SAKSI_OK)
		return -1;
	snprintf(url, len, "ipc://%s/s.sock", fx->dir);
	return 0;
}

/* The teardown's end of fx_server_setup. */
FX_UNUSED static void
fx_server_teardown(struct fx *fx, saksi_ledger *l, saksid_committer *cm)
{
	saksid_commit_free(cm);
	saksi_ledger_close(l);
	fx_free(fx);
}

/*
 * Polls the server's counter at `off` in saksid_server_stats (offsetof of a uint64_t
 * member, FX_STAT) until it reaches want, with a generous bound (tests wait on
 * conditions, never on time): the last value read, for the caller to assert.
 */
#define FX_STAT(field) offsetof(saksid_server_stats, field)
FX_UNUSED static uint64_t
fx_server_await(saksid_server *srv, size_t off, uint64_t want)
{
	saksid_server_stats st;
	uint64_t v = 0;

	for (int i = 0; i < 60000; i++) {
		struct timespec ts = { 0, 1000 * 1000 };

		saksid_server_stats_get(srv, &st);
		memcpy(&v, (const char *)&st + off, sizeof(v));
		if (v >= want)
			break;
		nanosleep(&ts, NULL);
	}
	return v;
}

/* A keyring reload run on a thread of its own (saksid_keyreload_run at fr_now), so that
 * a test can hold the committer while the reload waits for it: fx_reload_start, then
 * fx_reload_join for its result. */
struct fx_reload {
	saksid_keyreload *fr_kl;
	saksid_server *fr_srv;
	uint64_t fr_now;
	saksi_err fr_e;
	pthread_t fr_t;
};

FX_UNUSED static void *
fx_reload_main(void *arg)
{
	struct fx_reload *fr = arg;

	fr->fr_e = saksid_keyreload_run(fr->fr_kl, fr->fr_srv, fr->fr_now);
	return NULL;
}

FX_UNUSED static int
fx_reload_start(struct fx_reload *fr, saksid_keyreload *kl, saksid_server *srv,
                uint64_t now)
{
	fr->fr_kl = kl;
	fr->fr_srv = srv;
	fr->fr_now = now;
	fr->fr_e = SAKSI_ERR_INVAL;
	return pthread_create(&fr->fr_t, NULL, fx_reload_main, fr);
}

/* Its result, SAKSI_ERR_INVAL if the thread could not be joined. */
FX_UNUSED static saksi_err
fx_reload_join(struct fx_reload *fr)
{
	if (pthread_join(fr->fr_t, NULL) != 0)
		return SAKSI_ERR_INVAL;
	return fr->fr_e;
}

#endif
