/*
 * daemon_ingest.c: how close saksid's ingest comes to the machine's Ed25519 verification
 * rate. Measures bare Ed25519 verification, the full ingest check (signature, schema,
 * disclosures), and the in-process server end to end (nanomsg, workers, committer, LMDB
 * with one synced commit and one checkpoint per group). Writes only to a temp dir.
 * Beside each rate, the CPU time the whole process spent per event (every thread, user and
 * system): on a shared machine other loads move the rates, much less the CPU time.
 * usage: bench_daemon_ingest [events] [client threads] [batch] [index]
 * ("index": the committer keeps the query indexes, with the keys made by the workers, as
 * saksid does with an index_key; for callgrind --toggle-collect=saksid_commit_group).
 */
#include <sys/resource.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "../tests/server_fixture.h"
#include "bytes.h"
#include "commit.h"
#include "ledger.h"
#include "server.h"
#include "wire.h"
#include "bench_clock.h"

static struct fx fx;
static struct fx_item *items;
static size_t nitems, nthreads_cpu;
static saksi_pubkey *pubs;
static size_t batch = 64, nclients = 4;   /* producer key of item i: pubs[i % nclients] */

/* CPU seconds of this process so far, every thread, user and system. */
static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- bare Ed25519 on the same bytes the daemon verifies ---- */

struct range {
	size_t lo, hi;
	int what;       /* 0: Ed25519 only, 1: full ingest check */
	long bad;
};

static void *
work(void *arg)
{
	struct range *r = arg;
	uint8_t *m = malloc(18 + SAKSI_ENV_MAX);

	for (size_t i = r->lo; i < r->hi; i++) {
		const struct fx_item *fi = &items[i];
		if (r->what == 0) {
			size_t body = fi->env_len - 64;
			memcpy(m, "saksi/envelope/v1\n", 18);
			memcpy(m + 18, fi->env, body);
			if (crypto_sign_verify_detached(fi->env + body, m, 18 + body,
			                                pubs[i % nclients].pk_key) != 0)
				r->bad++;
		} else {
			saksid_item it;
			fx_frame1(fi, &it);
			if (saksid_ingest_check(fx.ig, &it, bench_wall_ms()) != SAKSI_R_ACCEPTED)
				r->bad++;
			saksid_item_clear(&it);
		}
	}
	free(m);
	return NULL;
}

/* Events per second; *cpu_us gets the CPU microseconds per event. */
static double
rate(int what, size_t nthreads, double *cpu_us)
{
	pthread_t th[256];
	struct range r[256];
	double t0 = bench_now(), c0 = cpu_s(), t;
	long bad = 0;

	for (size_t i = 0; i < nthreads; i++) {
		r[i].lo = nitems * i / nthreads;
		r[i].hi = nitems * (i + 1) / nthreads;
		r[i].what = what;
		r[i].bad = 0;
		pthread_create(&th[i], NULL, work, &r[i]);
	}
	for (size_t i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		bad += r[i].bad;
	}
	t = bench_now() - t0;
	*cpu_us = (cpu_s() - c0) * 1e6 / (double)nitems;
	if (bad != 0)
		fprintf(stderr, "%ld items failed\n", bad);
	return (double)nitems / t;
}

/* ---- end to end through the server ---- */

static char url[256];

struct client {
	size_t c;
	long bad;
};

static void *
client(void *arg)
{
	struct client *cl = arg;
	int s = nn_socket(AF_SP, NN_REQ), to = 60000, max = -1;
	uint8_t *req = malloc(SAKSI_WIRE_MSG_MAX);

	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max, sizeof(max));
	nn_connect(s, url);
	/* Client c sends items c, c + nclients, ...: one producer key per client. */
	for (size_t i = cl->c; i < nitems;) {
		size_t n = 0, off = 4;
		void *rep;
		int rl;

		req[0] = 1;
		req[1] = SAKSI_OP_SUBMIT;
		for (; i < nitems && n < batch; i += nclients, n++) {
			const struct fx_item *fi = &items[i];
			saksi_put_u32(req + off, (uint32_t)fi->env_len);
			memcpy(req + off + 4, fi->env, fi->env_len);
			off += 4 + fi->env_len;
			saksi_put_u32(req + off, (uint32_t)fi->sealed_len);
			memcpy(req + off + 4, fi->sealed, fi->sealed_len);
			off += 4 + fi->sealed_len;
		}
		saksi_put_u16(req + 2, (uint16_t)n);
		if (nn_send(s, req, off, 0) < 0 || (rl = nn_recv(s, &rep, NN_MSG, 0)) < 5) {
			cl->bad += (long)n;
			continue;
		}
		{
			const uint8_t *p = rep;
			size_t o = 5;
			if (p[2] != 0)
				cl->bad += (long)n;
			else
				for (size_t k = 0; k < n && o + 5 <= (size_t)rl; k++) {
					if (p[o] != SAKSI_R_ACCEPTED)
						cl->bad++;
					o += 5 + saksi_get_u32(p + o + 1);
				}
		}
		nn_freemsg(rep);
	}
	free(req);
	nn_close(s);
	return NULL;
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 4000;
	saksi_ledger *ledger;
	saksid_committer *cm;
	saksid_commit_opts co;
	saksid_server_opts so;
	saksid_server *srv;
	saksid_server_stats st;
	pthread_t th[64];
	struct client cl[64];
	char dir[200];
	const char *listen[1];
	double t0, t, c0, ed1, edn, ig1, ign, e2e;
	double ced1, cedn, cig1, cign, ce2e;
	long bad = 0;
	int index = argc > 4 && strcmp(argv[4], "index") == 0;
	saksi_blind *blind = NULL;

	if (argc > 2)
		nclients = strtoul(argv[2], NULL, 10);
	if (argc > 3)
		batch = strtoul(argv[3], NULL, 10);
	if (nclients < 1 || nclients > 64 || batch < 1 || batch > 256) {
		fprintf(stderr, "usage: bench_daemon_ingest [events] [clients 1..64] "
		        "[batch 1..256]\n");
		return 2;
	}
	nthreads_cpu = (size_t)sysconf(_SC_NPROCESSORS_ONLN);
	if (nthreads_cpu > 256)
		nthreads_cpu = 256;
	fx_init(&fx, nclients);
	nitems = n;
	items = calloc(n, sizeof(*items));
	pubs = calloc(nclients, sizeof(*pubs));
	for (size_t c = 0; c < nclients; c++)
		saksi_seckey_public(fx.prod[FX_NFIXED + c], &pubs[c]);
	printf("building %zu signed, sealed queue.booking.created events...\n", n);
	{
		uint64_t now = bench_wall_ms();
		for (size_t i = 0; i < n; i++)
			fx_booking(&fx, FX_NFIXED + i % nclients, i / nclients + 1, now, &items[i]);
	}
	printf("envelope %zu bytes, sealed disclosures %zu bytes\n", items[0].env_len,
	       items[0].sealed_len);

	ed1 = rate(0, 1, &ced1);
	edn = rate(0, nthreads_cpu, &cedn);
	ig1 = rate(1, 1, &cig1);
	ign = rate(1, nthreads_cpu, &cign);

	snprintf(dir, sizeof(dir), "%s/ledger", fx.dir);
	mkdir(dir, 0700);
	{
		/* 1 GiB, not the default 64: valgrind cannot map that much. */
		saksi_ledger_opts lo;

		memset(&lo, 0, sizeof(lo));
		lo.lo_map_size = (size_t)1 << 30;
		if (saksi_ledger_open(dir, FX_ORIGIN, fx.vkey, &lo, &ledger) != SAKSI_OK) {
			fprintf(stderr, "bench_daemon_ingest: cannot open the ledger in %s\n", dir);
			return 1;
		}
	}
	fx_commit_opts(&co, &fx, ledger, 3600000);
	if (index) {
		uint8_t ik[32];

		memset(ik, 7, sizeof(ik));
		if (saksi_blind_new(ik, &blind) != SAKSI_OK)
			return 1;
		co.co_blind = blind;
		saksid_ingest_index(fx.ig, blind);
		printf("with the query indexes (index keys made by the workers)\n");
	}
	if (saksid_commit_new(&co, &cm) != SAKSI_OK)
		return 1;
	snprintf(url, sizeof(url), "ipc://%s/bench.sock", fx.dir);
	listen[0] = url;
	fx_server_opts(&so, listen, &fx, ledger, cm);
	so.so_workers = (unsigned)nthreads_cpu;
	so.so_group_max = 512;
	so.so_group_wait_us = 1000;
	if (saksid_server_start(&so, &srv, NULL, 0) != SAKSI_OK)
		return 1;
	t0 = bench_now();
	c0 = cpu_s();
	for (size_t c = 0; c < nclients; c++) {
		cl[c].c = c;
		cl[c].bad = 0;
		pthread_create(&th[c], NULL, client, &cl[c]);
	}
	for (size_t c = 0; c < nclients; c++) {
		pthread_join(th[c], NULL);
		bad += cl[c].bad;
	}
	t = bench_now() - t0;
	ce2e = (cpu_s() - c0) * 1e6 / (double)n;
	e2e = (double)n / t;
	saksid_server_stop(srv, &st);

	printf("\n%-52s %12s %14s\n", "", "events/s", "CPU us/event");
	printf("%-52s %12.0f %14.1f\n", "Ed25519 verify, 1 thread", ed1, ced1);
	printf("%-52s %12.0f %14.1f\n", "Ed25519 verify, all CPUs", edn, cedn);
	printf("%-52s %12.0f %14.1f\n", "ingest check (sig+schema+disclosures), 1 thread", ig1,
	       cig1);
	printf("%-52s %12.0f %14.1f\n", "ingest check, all CPUs", ign, cign);
	printf("%-52s %12.0f %14.1f  (%.0f%% of Ed25519 on all CPUs)\n",
	       "saksid end to end (synced, receipts)", e2e, ce2e, 100.0 * e2e / edn);
	/* What the rates would say if every CPU were ours and e2e were bound by CPU alone. */
	printf("%-52s %12s %14.0f%%\n", "end to end CPU cost against Ed25519's", "",
	       100.0 * cedn / ce2e);
	printf("\n%zu CPUs, %zu clients x batches of %zu, %llu groups (%.1f events/group), "
	       "%ld not accepted\n", nthreads_cpu, nclients, batch,
	       (unsigned long long)st.ss_groups,
	       st.ss_groups ? (double)n / (double)st.ss_groups : 0.0, bad);

	saksid_commit_free(cm);
	saksi_blind_free(blind);
	saksi_ledger_close(ledger);
	for (size_t i = 0; i < n; i++)
		fx_item_free(&items[i]);
	free(items);
	free(pubs);
	fx_free(&fx);
	return bad != 0;
}
