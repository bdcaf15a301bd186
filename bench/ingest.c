/*
 * bench/ingest.c: end-to-end durable ingest of the real saksid (ipc socket, temp state
 * dir) fed by P producer threads through lib/client.h, beside this machine's own Ed25519
 * verification rate measured in the same run; receipt latency at half that load; stored
 * bytes per event against the event's raw JSON; detection's added cost (30 rules against
 * none, two fresh daemons each). A measurement, not a test: it asserts nothing about
 * time. Never run it against a production state directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <sodium.h>

#include "client.h"
#include "envelope.h"
#include "keys.h"
#include "rules.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"
#include "schema.h"
#include "wire.h"

#include "../tests/events_gen.h"
#include "bench_clock.h"

extern char **environ;

#define BRANCH "KC-MAKASSAR"
#define ORIGIN "bench.example/ingest"
#define WARMUP 2048          /* events before timing: the zstd dictionary is trained */
#define VERIFY_SEC 2.0       /* length of the Ed25519 measurement */
#define LAT_MAX_EVENTS 400000
#define DETECT_EVENTS 32768  /* events per timed run of (f), unless -n */
#define DETECT_ROUNDS 2      /* (f) alternates without/with rules this many times */
#define DETECT_TARGET 10.0   /* issue 4: detection adds at most 10 % at 30 rules */
/* The shipped rules and bench/rules_extra.rules, found from the schemas' directory. */
#define DEFAULT_RULES SAKSI_SOURCE_SCHEMA_DIR "/../rules/default.rules"
#define EXTRA_RULES SAKSI_SOURCE_SCHEMA_DIR "/../../bench/rules_extra.rules"

static const char usage[] =
    "usage: bench_ingest [-P producers] [-b batch] [-s seconds] [-n events]\n"
    "                    [-l latency_batch] [-L latency_seconds] [-w workers]\n"
    "                    [-g group_max] [-u group_wait_us] [-V] [-k] [-x saksid]\n"
    "                    [-f] [-i] [-d] [-r rate] [-R extra_rules] [-T]\n"
    "  -P  producer threads, each with its own key and client (default 8)\n"
    "  -b  events per submission in the throughput phase (default 64)\n"
    "  -s  throughput phase sized to last about this long at the warm-up's rate (default 5)\n"
    "  -n  events in the throughput phase (overrides -s)\n"
    "  -l  events per submission in the latency phase (default 8)\n"
    "  -L  latency phase seconds (default 4)\n"
    "  -w, -g, -u  saksid's workers, group_max, group_wait_us (default: saksid's)\n"
    "  -V  clients verify every receipt while timed (default: a sample, after)\n"
    "  -k  keep the temp directory\n"
    "  -x  the saksid binary (default: saksid next to this program)\n"
    "  -f  only (a) and the detection cost (f)\n"
    "  -i  only (a) and the query indexes' cost (g): without and with index_key, no rules\n"
    "  -d  (a) to (e) only: no detection cost (f)\n"
    "  -r  events/s offered in the latency phase (d) (default: half of (b))\n"
    "  -R  rules appended to the default rules for (f) (default bench/rules_extra.rules)\n"
    "  -T  saksid traces the stages of (d)'s submissions (trace_requests; SIGUSR1): its\n"
    "      summary is printed after (d); only for a saksid that has trace_requests\n";

struct opts {
	unsigned producers, batch, lat_batch, workers, group_max, group_wait_us;
	int group_wait_set, verify_all, keep, detect_only, index_only, no_detect, trace;
	unsigned lat_rate;
	char extra_rules[PATH_MAX];
	double seconds, lat_seconds;
	uint64_t events;
	char saksid[PATH_MAX];
};

/* One event as a producer sends it, built before the timing. */
struct item {
	uint8_t *it_env;
	size_t it_env_len;
	uint8_t *it_sealed;
	size_t it_sealed_len;
	size_t it_raw_len;   /* the clear JSON payload: what a plain log would store */
};

struct bench;

struct producer {
	struct bench *p_b;
	unsigned p_id;
	int p_role;
	saksi_seckey *p_key;
	saksi_client *p_cl;
	uint64_t p_seq;
	uint64_t p_rng;
	struct item *p_items;
	size_t p_nitems;
	/* results of the phase */
	uint64_t p_accepted;
	uint64_t p_refused;
	uint64_t p_busy;
	uint64_t p_verified, p_verify_failed;
	double p_end;
	double *p_lat;           /* per event, ms */
	size_t p_nlat;
	unsigned p_behind;       /* sends that started late (schedule not kept) */
	char p_first_refusal[200];
	saksi_err p_err;
};

struct bench {
	struct opts b_o;
	char b_dir[64];
	char b_url[160];
	uint8_t b_box_pk[32];
	saksi_note_verifier b_log;
	saksi_schemas *b_sc;
	struct producer *b_p;
	pthread_barrier_t b_bar;
	double b_t0;
	/* latency phase */
	double b_interval;       /* seconds between one producer's submissions */
	size_t b_batch;          /* current phase's submission size */
};

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "bench_ingest: %s: %s\n", what, why);
	exit(2);
}

static void
dies(const char *what, saksi_err e)
{
	die(what, saksi_strerror(e));
}

static void
sleep_until(double t)
{
	struct timespec ts;
	double d = t - bench_now();

	if (d <= 0)
		return;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n > 0 ? n : 1);

	if (p == NULL)
		die("malloc", strerror(errno));
	return p;
}

/* ---- (a) the machine's own Ed25519 rate ---- */

struct vctx {
	const uint8_t *msg;
	size_t len;
	const uint8_t *sig, *pk;
	pthread_barrier_t *bar;
	unsigned long n;
	double t;
	double cpu;    /* the thread's own CPU seconds: other load does not inflate it */
};

static double
thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
verify_thread(void *arg)
{
	struct vctx *v = arg;
	double t0;

	pthread_barrier_wait(v->bar);
	t0 = bench_now();
	v->cpu = thread_cpu();
	do {
		for (int i = 0; i < 64; i++, v->n++)
			if (crypto_sign_verify_detached(v->sig, v->msg, v->len, v->pk) != 0)
				die("verify", "a good signature does not verify");
	} while ((v->t = bench_now() - t0) < VERIFY_SEC);
	v->cpu = thread_cpu() - v->cpu;
	return NULL;
}

/* Verifications per second, one thread per online CPU, over a message the size of an
 * envelope's signed bytes (what saksid verifies per event). */
static double
verify_rate(unsigned ncpu, size_t msglen, unsigned *threads, double *cpu_each)
{
	pthread_t th[256];
	struct vctx v[256];
	pthread_barrier_t bar;
	uint8_t pk[32], sk[64], sig[64], *msg = xmalloc(msglen);
	double rate = 0, cpu = 0;
	unsigned long n = 0;

	if (ncpu > 256)
		ncpu = 256;
	randombytes_buf(msg, msglen);
	crypto_sign_keypair(pk, sk);
	crypto_sign_detached(sig, NULL, msg, msglen, sk);
	pthread_barrier_init(&bar, NULL, ncpu);
	for (unsigned i = 0; i < ncpu; i++) {
		v[i] = (struct vctx){ msg, msglen, sig, pk, &bar, 0, 0, 0 };
		if (pthread_create(&th[i], NULL, verify_thread, &v[i]) != 0)
			die("pthread_create", strerror(errno));
	}
	for (unsigned i = 0; i < ncpu; i++) {
		pthread_join(th[i], NULL);
		rate += (double)v[i].n / v[i].t;
		cpu += v[i].cpu;
		n += v[i].n;
	}
	*cpu_each = cpu / (double)n;
	pthread_barrier_destroy(&bar);
	sodium_memzero(sk, sizeof(sk));
	free(msg);
	*threads = ncpu;
	return rate;
}

/* ---- the disk under the ledger ---- */

static int cmp_double(const void *a, const void *b);

/*
 * 4 KiB write + fdatasync latency in dir, up to 300 times or 1.5 s: every LMDB commit
 * (one per group) pays at least this, so it bounds both (b) and (d).
 */
static void
sync_latency(const char *dir, double *p50, double *p99, size_t *n)
{
	char path[160], buf[4096];
	double lat[300], t0, t1, start = bench_now();
	size_t k = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/sync-probe", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		die(path, strerror(errno));
	memset(buf, 0x5a, sizeof(buf));
	while (k < 300 && bench_now() - start < 1.5) {
		t0 = bench_now();
		if (pwrite(fd, buf, sizeof(buf), (off_t)(k * sizeof(buf))) != (ssize_t)sizeof(buf) ||
		    fdatasync(fd) != 0)
			die(path, strerror(errno));
		t1 = bench_now();
		lat[k++] = (t1 - t0) * 1e3;
	}
	close(fd);
	unlink(path);
	qsort(lat, k, sizeof(double), cmp_double);
	*p50 = lat[k / 2];
	*p99 = lat[(size_t)((double)k * 0.99)];
	*n = k;
}

/* ---- producers ---- */

/* Builds n events the way saksi_client_submit does: disclose, sign, seal. */
static void
build_items(struct producer *p, size_t n)
{
	struct bench *b = p->p_b;
	char clear[2048], *payload, *disc;
	const char *const *personal;
	const char *type;
	size_t plen, dlen, np, i;
	uint64_t t = bench_wall_ms();
	saksi_err e;

	p->p_items = xmalloc(n * sizeof(*p->p_items));
	p->p_nitems = n;
	for (i = 0; i < n; i++) {
		struct item *it = &p->p_items[i];

		p->p_seq++;
		type = gen_event(&p->p_rng, p->p_role, BRANCH, p->p_seq, clear, sizeof(clear));
		personal = saksi_schemas_personal(b->b_sc, type);
		for (np = 0; personal[np] != NULL; np++)
			;
		if ((e = saksi_disclose_payload(clear, strlen(clear), personal, np, &payload, &plen,
		                                &disc, &dlen)) != SAKSI_OK)
			dies("disclose", e);
		it->it_raw_len = strlen(clear);
		it->it_env = xmalloc(SAKSI_ENV_HDR + strlen(type) + 4 + plen + SAKSI_SIG_LEN);
		if ((e = saksi_envelope_sign(p->p_key, p->p_seq, t, type, (uint8_t *)payload, plen,
		                             it->it_env, SAKSI_ENV_HDR + strlen(type) + 4 + plen +
		                             SAKSI_SIG_LEN, &it->it_env_len)) != SAKSI_OK)
			dies("sign", e);
		it->it_sealed = NULL;
		it->it_sealed_len = 0;
		if (strcmp(disc, "[]") != 0) {
			it->it_sealed = xmalloc(dlen + 64);
			if ((e = saksi_disclosures_seal(p->p_key, b->b_box_pk, it->it_env,
			                                it->it_env_len, (uint8_t *)disc, dlen,
			                                it->it_sealed, dlen + 64,
			                                &it->it_sealed_len)) != SAKSI_OK)
				dies("seal", e);
		}
		sodium_memzero(disc, dlen);
		free(disc);
		free(payload);
	}
}

static void
free_items(struct producer *p)
{
	for (size_t i = 0; i < p->p_nitems; i++) {
		free(p->p_items[i].it_env);
		free(p->p_items[i].it_sealed);
	}
	free(p->p_items);
	p->p_items = NULL;
	p->p_nitems = 0;
}

/* Checks one receipt as an offline producer would: leaf = extra || envelope. */
static int
receipt_ok(const struct bench *b, const char *text, const struct item *it)
{
	saksi_tlog_proof *tp = xmalloc(sizeof(*tp));
	uint8_t *leaf;
	saksi_hash lh;
	int ok = 0;

	if (saksi_tlog_proof_parse(text, strlen(text), tp) == SAKSI_OK && tp->tp_has_extra &&
	    tp->tp_extra_len == SAKSI_LEAF_HDR) {
		leaf = xmalloc(SAKSI_LEAF_HDR + it->it_env_len);
		memcpy(leaf, tp->tp_extra, SAKSI_LEAF_HDR);
		memcpy(leaf + SAKSI_LEAF_HDR, it->it_env, it->it_env_len);
		saksi_merkle_leaf_hash(lh, leaf, SAKSI_LEAF_HDR + it->it_env_len);
		ok = saksi_tlog_proof_verify(tp, &b->b_log, lh, NULL) == SAKSI_OK;
		free(leaf);
	}
	free(tp);
	return ok;
}

/*
 * Submits items [from, from+n) and waits for the receipts; retries a submission the
 * daemon answered `unavailable` (its queues full). verify: check every receipt here.
 */
static void
submit(struct producer *p, size_t from, size_t n, saksi_result *res, int verify)
{
	const uint8_t *env[SAKSI_WIRE_BATCH_MAX], *sealed[SAKSI_WIRE_BATCH_MAX];
	size_t elen[SAKSI_WIRE_BATCH_MAX], slen[SAKSI_WIRE_BATCH_MAX];
	struct timespec pause = { 0, 200 * 1000 };
	saksi_err e;

	for (size_t i = 0; i < n; i++) {
		env[i] = p->p_items[from + i].it_env;
		elen[i] = p->p_items[from + i].it_env_len;
		sealed[i] = p->p_items[from + i].it_sealed;
		slen[i] = p->p_items[from + i].it_sealed_len;
	}
	for (;;) {
		e = saksi_client_submit_raw(p->p_cl, env, elen, sealed, slen, n, res);
		if (e == SAKSI_ERR_REFUSED && res[0].sr_code == SAKSI_R_UNAVAILABLE) {
			p->p_busy++;
			for (size_t i = 0; i < n; i++)
				saksi_result_clear(&res[i]);
			nanosleep(&pause, NULL);
			continue;
		}
		break;
	}
	if (e != SAKSI_OK && e != SAKSI_ERR_REFUSED) {
		p->p_err = e;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (res[i].sr_code == SAKSI_R_ACCEPTED) {
			p->p_accepted++;
			if (verify || from + n == p->p_nitems) {
				if (receipt_ok(p->p_b, res[i].sr_receipt, &p->p_items[from + i]))
					p->p_verified++;
				else
					p->p_verify_failed++;
			}
		} else {
			if (p->p_refused++ == 0)
				snprintf(p->p_first_refusal, sizeof(p->p_first_refusal), "%.30s: %.160s",
				         saksi_reason_name(res[i].sr_code), res[i].sr_message);
		}
		saksi_result_clear(&res[i]);
	}
}

/*
 * One producer's items, batch by batch. Throughput (paced 0): back to back. Latency
 * (paced 1): one submission each b_interval seconds on a fixed schedule (offset per
 * producer); a receipt's latency runs from the scheduled send time, so a producer that
 * falls behind counts its waiting too (no coordinated omission).
 */
static void
produce(struct producer *p, int paced)
{
	struct bench *b = p->p_b;
	saksi_result *res = xmalloc(SAKSI_WIRE_BATCH_MAX * sizeof(*res));
	double start, due = 0, lat;
	size_t k, sent = 0;

	if (paced)
		p->p_lat = xmalloc((p->p_nitems + 1) * sizeof(double));
	pthread_barrier_wait(&b->b_bar);
	start = b->b_t0 + b->b_interval * p->p_id / b->b_o.producers;
	for (size_t i = 0; i < p->p_nitems && p->p_err == SAKSI_OK; i += k, sent++) {
		k = p->p_nitems - i < b->b_batch ? p->p_nitems - i : b->b_batch;
		if (paced) {
			due = start + b->b_interval * (double)sent;
			if (bench_now() > due + 0.0005)
				p->p_behind++;
			sleep_until(due);
		}
		submit(p, i, k, res, b->b_o.verify_all);
		if (paced) {
			lat = (bench_now() - due) * 1e3;
			for (size_t j = 0; j < k; j++)
				p->p_lat[p->p_nlat++] = lat;
		}
	}
	p->p_end = bench_now();
	free(res);
}

static void *
producer_flat(void *arg)
{
	produce(arg, 0);
	return NULL;
}

static void *
producer_paced(void *arg)
{
	produce(arg, 1);
	return NULL;
}

static void *
builder(void *arg)
{
	struct producer *p = arg;

	build_items(p, p->p_nitems);
	return NULL;
}

/* Builds n events per producer, in parallel (not timed: producers are other machines). */
static void
build_all(struct bench *b, size_t per)
{
	pthread_t th[256];

	for (unsigned i = 0; i < b->b_o.producers; i++) {
		b->b_p[i].p_nitems = per;
		if (pthread_create(&th[i], NULL, builder, &b->b_p[i]) != 0)
			die("pthread_create", strerror(errno));
	}
	for (unsigned i = 0; i < b->b_o.producers; i++)
		pthread_join(th[i], NULL);
}

/* Runs one phase; returns the seconds from the common start to the last producer's end. */
static double
run_phase(struct bench *b, void *(*fn)(void *), size_t batch)
{
	pthread_t th[256];
	double end = 0;

	b->b_batch = batch;
	pthread_barrier_init(&b->b_bar, NULL, b->b_o.producers + 1);
	for (unsigned i = 0; i < b->b_o.producers; i++) {
		struct producer *p = &b->b_p[i];

		p->p_accepted = p->p_refused = p->p_busy = 0;
		p->p_verified = p->p_verify_failed = 0;
		p->p_nlat = 0;
		p->p_behind = 0;
		p->p_first_refusal[0] = '\0';
		if (pthread_create(&th[i], NULL, fn, p) != 0)
			die("pthread_create", strerror(errno));
	}
	b->b_t0 = bench_now() + 0.01;   /* the paced producers start together from here */
	pthread_barrier_wait(&b->b_bar);
	for (unsigned i = 0; i < b->b_o.producers; i++) {
		pthread_join(th[i], NULL);
		if (b->b_p[i].p_err != SAKSI_OK)
			dies("submit", b->b_p[i].p_err);
		if (b->b_p[i].p_end > end)
			end = b->b_p[i].p_end;
	}
	pthread_barrier_destroy(&b->b_bar);
	return end - b->b_t0;
}

struct tally {
	uint64_t accepted, refused, busy, verified, failed;
	const char *refusal;
};

static struct tally
tally(const struct bench *b)
{
	struct tally t = { 0, 0, 0, 0, 0, NULL };

	for (unsigned i = 0; i < b->b_o.producers; i++) {
		const struct producer *p = &b->b_p[i];

		t.accepted += p->p_accepted;
		t.refused += p->p_refused;
		t.busy += p->p_busy;
		t.verified += p->p_verified;
		t.failed += p->p_verify_failed;
		if (t.refusal == NULL && p->p_first_refusal[0] != '\0')
			t.refusal = p->p_first_refusal;
	}
	return t;
}

static void
check_tally(const char *phase, const struct tally *t)
{
	if (t->refused > 0)
		fprintf(stderr, "bench_ingest: %s: %" PRIu64 " events refused, first: %s\n", phase,
		        t->refused, t->refusal);
	if (t->failed > 0)
		fprintf(stderr, "bench_ingest: %s: %" PRIu64 " receipts did not verify\n", phase,
		        t->failed);
	if (t->refused > 0 || t->failed > 0)
		exit(1);
}

/* ---- the transport alone: nanomsg REQ/REP over ipc, for reference beside (d) ---- */

#define RTT_BYTES 8192   /* about one latency-phase submission of 8 events */
#define RTT_N 2000

static void *
echo_main(void *arg)
{
	int s = *(int *)arg;

	for (;;) {
		void *m = NULL;
		int n = nn_recv(s, &m, NN_MSG, 0);

		if (n < 0)
			break;
		if (nn_send(s, &m, NN_MSG, 0) < 0)
			nn_freemsg(m);
		if (n == 1)   /* the last one */
			break;
	}
	return NULL;
}

/* Round trips of RTT_BYTES each way between two threads of this process, back to back,
 * as saksid's socket and a producer's client exchange them (both sides' nanomsg worker
 * threads included). */
static void
nn_rtt(const struct bench *b, double *p50, double *p99)
{
	static char buf[RTT_BYTES];
	double lat[RTT_N], t0;
	char url[160];
	pthread_t th;
	int rep, req, to = 10000;
	void *m;

	snprintf(url, sizeof(url), "ipc://%s/rtt.sock", b->b_dir);
	if ((rep = nn_socket(AF_SP, NN_REP)) < 0 || nn_bind(rep, url) < 0 ||
	    (req = nn_socket(AF_SP, NN_REQ)) < 0 || nn_connect(req, url) < 0)
		die("nanomsg", nn_strerror(nn_errno()));
	nn_setsockopt(req, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	if (pthread_create(&th, NULL, echo_main, &rep) != 0)
		die("pthread_create", strerror(errno));
	for (int i = -200; i < RTT_N; i++) {
		t0 = bench_now();
		if (nn_send(req, buf, sizeof(buf), 0) < 0 || nn_recv(req, &m, NN_MSG, 0) < 0)
			die("nanomsg round trip", nn_strerror(nn_errno()));
		if (i >= 0)
			lat[i] = (bench_now() - t0) * 1e3;
		nn_freemsg(m);
	}
	if (nn_send(req, buf, 1, 0) < 0 || nn_recv(req, &m, NN_MSG, 0) < 0)
		die("nanomsg round trip", nn_strerror(nn_errno()));
	nn_freemsg(m);
	pthread_join(th, NULL);
	nn_close(req);
	nn_close(rep);
	qsort(lat, RTT_N, sizeof(double), cmp_double);
	*p50 = lat[RTT_N / 2];
	*p99 = lat[(size_t)(RTT_N * 0.99)];
}

/* ---- saksid ---- */

/* How many lines of the file hold what; the last `show` of them are printed, indented. */
static size_t
log_grep(const char *path, const char *what, size_t show)
{
	char line[1200], last[8][1200];
	size_t n = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, what) != NULL)
			snprintf(last[n++ % 8], sizeof(last[0]), "%s", line);
	fclose(f);
	if (show > 8)
		show = 8;
	for (size_t i = n > show ? n - show : 0; i < n; i++)
		printf("    %s", last[i % 8]);
	return n;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void
path_in(const struct bench *b, const char *name, char *out, size_t len)
{
	if ((size_t)snprintf(out, len, "%s/%s", b->b_dir, name) >= len)
		die(name, "path too long");
}

static void
save_key(const struct bench *b, const saksi_seckey *k, const char *name)
{
	char p[128];
	saksi_err e;

	path_in(b, name, p, sizeof(p));
	if ((e = saksi_seckey_save(k, p, NULL, "bench_ingest key")) != SAKSI_OK)
		dies(p, e);
}

static saksi_seckey *
new_key(int kind)
{
	saksi_seckey *k;
	saksi_err e;

	if ((e = saksi_seckey_generate(kind, &k)) != SAKSI_OK)
		dies("key", e);
	return k;
}

/* Keys, keyring, saksid.conf; returns the config path in conf. */
static void
setup_files(struct bench *b, char *conf, size_t conflen)
{
	saksi_seckey *log = new_key(SAKSI_KEY_SIGN), *box = new_key(SAKSI_KEY_BOX);
	saksi_seckey *store = new_key(SAKSI_KEY_SYM);
	char vkey[SAKSI_VKEY_MAX + 1], p[128], pk64[SAKSI_PUBKEY_B64_LEN + 1], id[17];
	saksi_pubkey pub;
	FILE *f;

	save_key(b, log, "log.key");
	save_key(b, box, "box.key");
	save_key(b, store, "store.key");
	if (saksi_seckey_public(log, &pub) != SAKSI_OK ||
	    saksi_note_vkey_format(ORIGIN, pub.pk_key, vkey, sizeof(vkey)) != SAKSI_OK ||
	    saksi_note_vkey_parse(vkey, &b->b_log) != SAKSI_OK ||
	    saksi_seckey_public(box, &pub) != SAKSI_OK)
		die("keys", "cannot derive the public keys");
	memcpy(b->b_box_pk, pub.pk_key, 32);
	saksi_seckey_free(log);
	saksi_seckey_free(box);
	saksi_seckey_free(store);

	path_in(b, "keyring.json", p, sizeof(p));
	if ((f = fopen(p, "w")) == NULL)
		die(p, strerror(errno));
	fprintf(f, "{\"saksi_keyring\":1,\"roles\":{\"queue\":[\"queue.*\"],"
	        "\"claim\":[\"claim.*\"]},\"keys\":[");
	for (unsigned i = 0; i < b->b_o.producers; i++) {
		struct producer *pr = &b->b_p[i];

		pr->p_key = new_key(SAKSI_KEY_SIGN);
		if (saksi_seckey_public(pr->p_key, &pub) != SAKSI_OK ||
		    saksi_pubkey_encode(&pub, pk64, sizeof(pk64)) != SAKSI_OK)
			die("keys", "cannot encode a producer key");
		sodium_bin2hex(id, sizeof(id), pub.pk_id, SAKSI_KEYID_LEN);
		fprintf(f, "%s{\"name\":\"producer-%u\",\"key_id\":\"%s\",\"public_key\":\"%s\","
		        "\"role\":\"%s\",\"branch\":\"%s\",\"revoked_ms\":null}", i ? "," : "", i,
		        id, pk64, pr->p_role == GEN_CLAIM ? "claim" : "queue", BRANCH);
	}
	fprintf(f, "]}\n");
	if (fclose(f) != 0)
		die(p, strerror(errno));

	path_in(b, "ingest.sock", p, sizeof(p));
	snprintf(b->b_url, sizeof(b->b_url), "ipc://%s", p);
	path_in(b, "saksid.conf", conf, conflen);
	if ((f = fopen(conf, "w")) == NULL)
		die(conf, strerror(errno));
	fprintf(f, "origin = %s\nstate_dir = state\nlisten = %s\nkeyring = keyring.json\n"
	        "log_key = log.key\nbox_key = box.key\nstore_key = store.key\n"
	        "schemas_dir = %s\nallow_root = yes\n", ORIGIN, b->b_url,
	        SAKSI_SOURCE_SCHEMA_DIR);
	if (b->b_o.workers)
		fprintf(f, "workers = %u\n", b->b_o.workers);
	if (b->b_o.group_max)
		fprintf(f, "group_max = %u\n", b->b_o.group_max);
	if (b->b_o.group_wait_set)
		fprintf(f, "group_wait_us = %u\n", b->b_o.group_wait_us);
	if (b->b_o.trace)
		fprintf(f, "trace_requests = %u\n", LAT_MAX_EVENTS);
	if (fclose(f) != 0)
		die(conf, strerror(errno));
}

#define SCHED_MAX 128

/* Each thread's time on a CPU and waiting for one (/proc/pid/task/tid/schedstat, ns),
 * and its slices: whether a stage was slow in saksid's code or queued for a core. */
struct sched {
	size_t n;
	long s_id[SCHED_MAX];
	unsigned long long s_run[SCHED_MAX], s_wait[SCHED_MAX], s_slices[SCHED_MAX];
};

static void
sched_read(pid_t pid, struct sched *t)
{
	char path[96];
	struct dirent *d;
	DIR *dir;
	FILE *f;

	t->n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return;
	while ((d = readdir(dir)) != NULL && t->n < SCHED_MAX) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", (int)pid, d->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fscanf(f, "%llu %llu %llu", &t->s_run[t->n], &t->s_wait[t->n],
		           &t->s_slices[t->n]) == 3)
			t->s_id[t->n++] = atol(d->d_name);
		fclose(f);
	}
	closedir(dir);
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

/* Per thread, in the order they were made (saksid's server makes its committer, then
 * the workers, then the receiver, last), what it did between a and b. */
static void
sched_print(const struct sched *a, const struct sched *b)
{
	long ids[SCHED_MAX];

	for (size_t i = 0; i < b->n; i++)
		ids[i] = b->s_id[i];
	qsort(ids, b->n, sizeof(long), cmp_long);
	for (size_t k = 0; k < b->n; k++) {
		size_t i, j;

		for (i = 0; b->s_id[i] != ids[k]; i++)
			;
		for (j = 0; j < a->n && a->s_id[j] != ids[k]; j++)
			;
		if (j == a->n || b->s_slices[i] == a->s_slices[j])
			continue;
		printf("      thread %ld: on a CPU %.1f ms, waiting for one %.1f ms, %llu slices\n",
		       ids[k], (double)(b->s_run[i] - a->s_run[j]) / 1e6,
		       (double)(b->s_wait[i] - a->s_wait[j]) / 1e6, b->s_slices[i] - a->s_slices[j]);
	}
}

static pid_t
start_saksid(struct bench *b, const char *conf, const char *sockname, const char *logname,
             char *log, size_t loglen)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { b->b_o.saksid, "-d", "-c", (char *)conf, NULL };
	char sock[128];
	struct stat st;
	pid_t pid;
	int rc, status;

	path_in(b, logname, log, loglen);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if ((rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ)) != 0)
		die(argv[0], strerror(rc));
	posix_spawn_file_actions_destroy(&fa);
	path_in(b, sockname, sock, sizeof(sock));
	for (int i = 0; i < 1000; i++) {
		if (stat(sock, &st) == 0)
			return pid;
		if (waitpid(pid, &status, WNOHANG) == pid)
			die("saksid", "exited at start; see its log with -k");
		sleep_until(bench_now() + 0.01);
	}
	die("saksid", "does not listen after 10 s");
	return -1;
}

static uint64_t
tree_size(struct bench *b)
{
	saksi_checkpoint ck;
	char *note;
	size_t len;
	saksi_err e;

	if ((e = saksi_client_checkpoint(b->b_p[0].p_cl, &note, &len)) != SAKSI_OK)
		dies("checkpoint", e);
	if ((e = saksi_checkpoint_open(note, len, &b->b_log, &ck)) != SAKSI_OK)
		dies("checkpoint", e);
	free(note);
	return ck.ck_size;
}

static off_t
file_size(const struct bench *b, const char *name)
{
	struct stat st;
	char p[160];

	path_in(b, name, p, sizeof(p));
	if (stat(p, &st) != 0)
		die(p, strerror(errno));
	return st.st_size;
}

/* CPU seconds (user + system) used so far by process pid, from /proc/pid/stat. */
static double
proc_cpu_split(pid_t pid, double *sys)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which is in parentheses and may hold spaces. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	if (sys != NULL)
		*sys = (double)st / (double)sysconf(_SC_CLK_TCK);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double
proc_cpu(pid_t pid)
{
	return proc_cpu_split(pid, NULL);
}

/* CPU seconds of each thread of pid (/proc/pid/task), to find the busiest one. */
#define TASKS_MAX 128
struct tasks {
	size_t n;
	long t_id[TASKS_MAX];
	double t_cpu[TASKS_MAX];
	double t_sys[TASKS_MAX];
};

static void
tasks_read(pid_t pid, struct tasks *t)
{
	char path[96], buf[1024], *p;
	struct dirent *d;
	unsigned long ut, st;
	size_t n;
	DIR *dir;
	FILE *f;

	t->n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return;
	while ((d = readdir(dir)) != NULL && t->n < TASKS_MAX) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/stat", (int)pid, d->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
		    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
			continue;
		t->t_id[t->n] = atol(d->d_name);
		t->t_sys[t->n] = (double)st / (double)sysconf(_SC_CLK_TCK);
		t->t_cpu[t->n++] = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	}
	closedir(dir);
}

/* The most CPU one thread used between two readings: saksid's committer, which does
 * most of the per-event work on one thread (the workers share theirs). */
static double
tasks_busiest(const struct tasks *a, const struct tasks *b)
{
	double best = 0;

	for (size_t i = 0; i < b->n; i++) {
		double before = 0;

		for (size_t j = 0; j < a->n; j++)
			if (a->t_id[j] == b->t_id[i])
				before = a->t_cpu[j];
		if (b->t_cpu[i] - before > best)
			best = b->t_cpu[i] - before;
	}
	return best;
}

/* Each thread's CPU between two readings, per event, busiest first (the committer, then
 * the workers, the receiver, nanomsg's own thread), with its kernel part: where a
 * saksid's time goes, thread by thread. Threads that used none are left out. */
static void
tasks_print(const struct tasks *a, const struct tasks *b, uint64_t events)
{
	double cpu[TASKS_MAX], sys[TASKS_MAX];
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++) {
		double c0 = 0, s0 = 0;

		for (size_t j = 0; j < a->n; j++)
			if (a->t_id[j] == b->t_id[i]) {
				c0 = a->t_cpu[j];
				s0 = a->t_sys[j];
			}
		if (b->t_cpu[i] - c0 <= 0)
			continue;
		cpu[n] = b->t_cpu[i] - c0;
		sys[n++] = b->t_sys[i] - s0;
	}
	for (size_t i = 1; i < n; i++)   /* insertion sort, a handful of threads */
		for (size_t j = i; j > 0 && cpu[j] > cpu[j - 1]; j--) {
			double t = cpu[j];
			cpu[j] = cpu[j - 1];
			cpu[j - 1] = t;
			t = sys[j];
			sys[j] = sys[j - 1];
			sys[j - 1] = t;
		}
	printf("    saksid per thread, us CPU/event (of which kernel), busiest first:");
	for (size_t i = 0; i < n; i++)
		printf(" %.1f (%.1f)", cpu[i] / (double)events * 1e6, sys[i] / (double)events * 1e6);
	printf("\n");
}

/* ---- (f) detection cost ---- */

static void
open_clients(struct bench *b, const char *url)
{
	for (unsigned i = 0; i < b->b_o.producers; i++) {
		saksi_client_opts co = { 0 };
		saksi_err e;

		co.co_url = url;
		co.co_key = b->b_p[i].p_key;
		co.co_box_pk = b->b_box_pk;
		co.co_log = b->b_o.verify_all ? &b->b_log : NULL;
		co.co_schemas = b->b_sc;
		co.co_timeout_ms = 30000;
		if ((e = saksi_client_open(&co, &b->b_p[i].p_cl)) != SAKSI_OK)
			dies("client", e);
	}
}

static void
close_clients(struct bench *b)
{
	for (unsigned i = 0; i < b->b_o.producers; i++) {
		saksi_client_close(b->b_p[i].p_cl);
		b->b_p[i].p_cl = NULL;
	}
}

/* default.rules followed by the extra rules, as one file in the bench directory; returns
 * its path in out and the number of rules it holds (checked against the schemas). */
static size_t
detect_rules_file(const struct bench *b, char *out, size_t len)
{
	const char *parts[] = { DEFAULT_RULES, b->b_o.extra_rules };
	char err[512] = "";
	saksi_rules *r;
	saksi_err e;
	size_t n;
	FILE *f;

	path_in(b, "rules30.rules", out, len);
	if ((f = fopen(out, "w")) == NULL)
		die(out, strerror(errno));
	for (size_t i = 0; i < 2; i++) {
		size_t tl;
		char *text;
		FILE *in = fopen(parts[i], "r");

		if (in == NULL)
			die(parts[i], strerror(errno));
		text = xmalloc(SAKSI_RULES_FILE_MAX);
		tl = fread(text, 1, SAKSI_RULES_FILE_MAX, in);
		fclose(in);
		if (fwrite(text, 1, tl, f) != tl || fputc('\n', f) == EOF)
			die(out, strerror(errno));
		free(text);
	}
	if (fclose(f) != 0)
		die(out, strerror(errno));
	if ((e = saksi_rules_load(out, SAKSI_SOURCE_SCHEMA_DIR, &r, err, sizeof(err))) !=
	    SAKSI_OK)
		die(out, err[0] ? err : saksi_strerror(e));
	n = saksi_rules_count(r);
	saksi_rules_free(r);
	return n;
}

/*
 * One fresh saksid (its own state, socket and log, tag in their names), with rules or
 * without; a warm-up, then per events per producer timed. Returns receipts/s and saksid's
 * CPU microseconds per event.
 */
static void
detect_run(struct bench *b, const char *tag, const char *rules, int index, size_t per,
           double *rate, double *us)
{
	char conf[160], log[160], name[64], sock[160], url[200];
	double t, cpu, sys, sys0;
	struct tasks tk0, tk1;
	struct tally w;
	pid_t pid;
	int status;
	FILE *f;

	snprintf(name, sizeof(name), "%s.sock", tag);
	path_in(b, name, sock, sizeof(sock));
	snprintf(url, sizeof(url), "ipc://%s", sock);
	snprintf(name, sizeof(name), "saksid-%s.conf", tag);
	path_in(b, name, conf, sizeof(conf));
	if ((f = fopen(conf, "w")) == NULL)
		die(conf, strerror(errno));
	fprintf(f, "origin = %s\nstate_dir = state-%s\nlisten = %s\nkeyring = keyring.json\n"
	        "log_key = log.key\nbox_key = box.key\nstore_key = store.key\n"
	        "schemas_dir = %s\nallow_root = yes\n", ORIGIN, tag, url, SAKSI_SOURCE_SCHEMA_DIR);
	/* Both runs of (f) index (index_key), so that the difference is the detectors alone. */
	if (index)
		fprintf(f, "index_key = index.key\n");
	if (rules != NULL)
		fprintf(f, "rules = %s\n", rules);
	if (b->b_o.workers)
		fprintf(f, "workers = %u\n", b->b_o.workers);
	if (b->b_o.group_max)
		fprintf(f, "group_max = %u\n", b->b_o.group_max);
	if (b->b_o.group_wait_set)
		fprintf(f, "group_wait_us = %u\n", b->b_o.group_wait_us);
	if (fclose(f) != 0)
		die(conf, strerror(errno));
	snprintf(name, sizeof(name), "saksid-%s.log", tag);
	pid = start_saksid(b, conf, strrchr(sock, '/') + 1, name, log, sizeof(log));
	open_clients(b, url);
	build_all(b, (WARMUP + b->b_o.producers - 1) / b->b_o.producers);
	run_phase(b, producer_flat, b->b_o.batch);
	w = tally(b);
	check_tally("detection warm-up", &w);
	for (unsigned i = 0; i < b->b_o.producers; i++)
		free_items(&b->b_p[i]);
	build_all(b, per);
	tasks_read(pid, &tk0);
	cpu = proc_cpu_split(pid, &sys0);
	t = run_phase(b, producer_flat, b->b_o.batch);
	cpu = proc_cpu_split(pid, &sys) - cpu;
	tasks_read(pid, &tk1);
	sys -= sys0;
	w = tally(b);
	check_tally(tag, &w);
	for (unsigned i = 0; i < b->b_o.producers; i++)
		free_items(&b->b_p[i]);
	close_clients(b);
	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "bench_ingest: saksid (%s) did not stop cleanly (status %d)\n", tag,
		        status);
	*rate = (double)w.accepted / (t > 0 ? t : 1e-9);
	*us = cpu / (double)w.accepted * 1e6;
	printf("    %-22s %9.0f receipts/s, saksid %.1f us CPU/event, of which %.1f in the "
	       "kernel, %.1f on its busiest thread (%" PRIu64 " events)\n", tag, *rate, *us,
	       sys / (double)w.accepted * 1e6,
	       tasks_busiest(&tk0, &tk1) / (double)w.accepted * 1e6, w.accepted);
	fflush(stdout);
}

/*
 * The A/B comparison of (f) and (g): the same traffic into saksid as runs[0] and as
 * runs[1] describe it (an index key saved for those with index), alternating, DETECT_ROUNDS times each; the best run of each (the
 * one the machine's other load disturbed least) into best_r (receipts/s) and best_us
 * (saksid's CPU microseconds per event).
 */
struct ab_run {
	const char *tag;    /* "rules": runs "rules-1", "rules-2", ... */
	const char *rules;  /* rules file, or NULL */
	int index;          /* index_key set */
};

static void
ab_rounds(struct bench *b, size_t per, const struct ab_run runs[2], double best_r[2],
          double best_us[2])
{
	saksi_seckey *ik = new_key(SAKSI_KEY_SYM);

	save_key(b, ik, "index.key");
	saksi_seckey_free(ik);
	best_r[0] = best_r[1] = 0;
	best_us[0] = best_us[1] = 1e30;
	for (int round = 0; round < DETECT_ROUNDS; round++) {
		for (int k = 0; k < 2; k++) {
			char tag[32];
			double r, us;

			snprintf(tag, sizeof(tag), "%s-%d", runs[k].tag, round + 1);
			detect_run(b, tag, runs[k].rules, runs[k].index, per, &r, &us);
			if (us < best_us[k])
				best_us[k] = us;
			if (r > best_r[k])
				best_r[k] = r;
		}
	}
}

/*
 * (f): the same traffic into a saksid without rules and one with default.rules plus the
 * extra rules (ab_rounds), best run against best run. saksid's CPU per event is the
 * figure: on a shared machine it is steadier than the wall-clock rate, printed beside it.
 */
static void
detect_cost(struct bench *b)
{
	char rules[160];
	size_t nrules = detect_rules_file(b, rules, sizeof(rules));
	size_t per = (b->b_o.events ? b->b_o.events : DETECT_EVENTS) / b->b_o.producers;
	const struct ab_run runs[2] = { { "no-rules", NULL, 1 }, { "rules", rules, 1 } };
	double best_r[2], best_us[2], added, added_wall;

	printf("(f) detection cost: %zu rules (%s + %s), %zu events a run, %d runs each, "
	       "alternating; both saksids keep the query indexes (index_key), so the "
	       "difference is the detectors alone:\n", nrules, DEFAULT_RULES, b->b_o.extra_rules,
	       per * b->b_o.producers, DETECT_ROUNDS);
	fflush(stdout);
	ab_rounds(b, per, runs, best_r, best_us);
	added = 100 * (best_us[1] - best_us[0]) / best_us[0];
	added_wall = 100 * (best_r[0] / best_r[1] - 1);
	printf("    without rules: %.1f us CPU/event, %.0f receipts/s; with %zu rules: %.1f us "
	       "CPU/event, %.0f receipts/s (best runs)\n"
	       "    detection adds %+.1f %% saksid CPU per event (%+.1f %% wall time per event)"
	       "    target <= %.0f %%: %s\n", best_us[0], best_r[0], nrules, best_us[1],
	       best_r[1], added, added_wall, DETECT_TARGET,
	       added <= DETECT_TARGET ? "met" : "NOT met");
	fflush(stdout);
}

/*
 * (g): the query indexes' cost: the same traffic into a saksid without index_key and one
 * with it (no rules in either), alternating, DETECT_ROUNDS times each, best run of each,
 * as (f) does.
 */
static void
index_cost(struct bench *b)
{
	size_t per = (b->b_o.events ? b->b_o.events : DETECT_EVENTS) / b->b_o.producers;
	static const struct ab_run runs[2] = { { "no-index", NULL, 0 }, { "index", NULL, 1 } };
	double best_r[2], best_us[2];

	printf("(g) query index cost: %zu events a run, %d runs each, alternating, no rules; "
	       "saksid %s\n", per * b->b_o.producers, DETECT_ROUNDS, b->b_o.saksid);
	fflush(stdout);
	ab_rounds(b, per, runs, best_r, best_us);
	printf("    without index_key: %.1f us CPU/event, %.0f receipts/s; with: %.1f us "
	       "CPU/event, %.0f receipts/s (best runs)\n"
	       "    the indexes add %+.1f us saksid CPU per event (%+.1f %%)\n", best_us[0],
	       best_r[0], best_us[1], best_r[1], best_us[1] - best_us[0],
	       100 * (best_us[1] - best_us[0]) / best_us[0]);
	fflush(stdout);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static unsigned
parse_uint(const char *s, unsigned lo, unsigned hi, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi) {
		fprintf(stderr, "bench_ingest: %s must be %u..%u\n%s", what, lo, hi, usage);
		exit(2);
	}
	return (unsigned)v;
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct opts *o = &b.b_o;
	char conf[128], log[128] = "", self[PATH_MAX], ldir[160];
	unsigned ncpu, vthreads;
	uint64_t size0, size1, per, lat_per, raw = 0, envb = 0, sealb = 0, nraw = 0;
	uint64_t leafb = 0, discb = 0, ndisc = 0;
	double load[3], vrate, vcpu, t, warm, cpu_d, cpu_p, sys_d, sys, ingest, half, p50, p99;
	double pmax, *all;
	struct tasks tk0, tk1;
	off_t mdb0, mdb1;
	size_t nall = 0;
	pid_t pid;
	int c, status;
	static struct sched sch0, sch1;   /* (d)'s thread times; large, so not on the stack */

	memset(&b, 0, sizeof(b));
	o->producers = 8;
	o->batch = 64;
	o->lat_batch = 8;
	o->seconds = 5;
	o->lat_seconds = 4;
	snprintf(o->extra_rules, sizeof(o->extra_rules), "%s", EXTRA_RULES);
	while ((c = getopt(argc, argv, "P:b:s:n:l:L:w:g:u:Vkx:fidr:R:T")) != -1) {
		switch (c) {
		case 'P': o->producers = parse_uint(optarg, 1, 256, "-P"); break;
		case 'b': o->batch = parse_uint(optarg, 1, SAKSI_WIRE_BATCH_MAX, "-b"); break;
		case 's': o->seconds = parse_uint(optarg, 1, 60, "-s"); break;
		case 'n': o->events = parse_uint(optarg, 1000, 2000000, "-n"); break;
		case 'l': o->lat_batch = parse_uint(optarg, 1, SAKSI_WIRE_BATCH_MAX, "-l"); break;
		case 'L': o->lat_seconds = parse_uint(optarg, 1, 60, "-L"); break;
		case 'w': o->workers = parse_uint(optarg, 1, 256, "-w"); break;
		case 'g': o->group_max = parse_uint(optarg, 1, 2048, "-g"); break;
		case 'u':
			o->group_wait_us = parse_uint(optarg, 0, 1000000, "-u");
			o->group_wait_set = 1;
			break;
		case 'V': o->verify_all = 1; break;
		case 'k': o->keep = 1; break;
		case 'T': o->trace = 1; break;
		case 'x': snprintf(o->saksid, sizeof(o->saksid), "%s", optarg); break;
		case 'f': o->detect_only = 1; break;
		case 'i': o->index_only = 1; break;
		case 'd': o->no_detect = 1; break;
		case 'r': o->lat_rate = parse_uint(optarg, 100, 1000000, "-r"); break;
		case 'R': snprintf(o->extra_rules, sizeof(o->extra_rules), "%s", optarg); break;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (o->saksid[0] == '\0') {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n < 0)
			die("/proc/self/exe", strerror(errno));
		self[n] = '\0';
		snprintf(o->saksid, sizeof(o->saksid), "%s/saksid", dirname(self));
	}
	if (access(o->saksid, X_OK) != 0)
		die(o->saksid, "not found; build saksid or name it with -x");
	if (sodium_init() < 0)
		die("sodium_init", "failed");
	ncpu = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (getloadavg(load, 3) != 3)
		load[0] = load[1] = load[2] = -1;

	printf("command:");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\nparameters: %u producers, batch %u (throughput), batch %u (latency, %.0f s), "
	       "receipts verified %s; saksid %s, workers %s%u, group_max %s%u, group_wait_us "
	       "%s%u; %u online CPUs\n", o->producers, o->batch, o->lat_batch, o->lat_seconds,
	       o->verify_all ? "by every client while timed" : "for each producer's last batch",
	       o->saksid, o->workers ? "" : "default ", o->workers ? o->workers : ncpu,
	       o->group_max ? "" : "default ", o->group_max ? o->group_max : 512,
	       o->group_wait_set ? "" : "default ", o->group_wait_set ? o->group_wait_us : 1000,
	       ncpu);
	printf("load average at start: %.2f %.2f %.2f%s\n", load[0], load[1], load[2],
	       load[0] > 0.5 ? "  (the machine is busy: figures are lower than on an idle "
	       "one, and (a) and (b) may see different loads)" : "");
	fflush(stdout);

	/* (a) Before saksid starts, on an idle machine: a realistic signed-bytes length. */
	vrate = verify_rate(ncpu, 18 + 560, &vthreads, &vcpu);
	printf("(a) Ed25519 verify, %u threads:  %9.0f verifications/s (crypto_sign_verify_detached,"
	       " %d-byte messages)\n    %.1f us of CPU each: %.0f/s on %u idle cores\n", vthreads,
	       vrate, 18 + 560, vcpu * 1e6, vthreads / vcpu, vthreads);
	fflush(stdout);

	{
		char err[256] = "";
		saksi_err e;

		if ((e = saksi_schemas_load(SAKSI_SOURCE_SCHEMA_DIR, &b.b_sc, err, sizeof(err))) !=
		    SAKSI_OK)
			die(SAKSI_SOURCE_SCHEMA_DIR, err[0] ? err : saksi_strerror(e));
	}
	strcpy(b.b_dir, "/tmp/saksi-bench-XXXXXX");
	if (mkdtemp(b.b_dir) == NULL)
		die("mkdtemp", strerror(errno));
	b.b_p = calloc(o->producers, sizeof(*b.b_p));
	if (b.b_p == NULL)
		die("calloc", strerror(errno));
	for (unsigned i = 0; i < o->producers; i++) {
		b.b_p[i].p_b = &b;
		b.b_p[i].p_id = i;
		/* Two queue systems for each claim system: queue events are the most frequent. */
		b.b_p[i].p_role = i % 3 == 2 ? GEN_CLAIM : GEN_QUEUE;
		b.b_p[i].p_rng = 0x5a6b5349ULL * (i + 1);
	}
	{
		double s50, s99;
		size_t ns;

		sync_latency(b.b_dir, &s50, &s99, &ns);
		printf("    disk: 4 KiB write + fdatasync in %s: p50 %.2f ms, p99 %.2f ms (%zu "
		       "samples); each commit group pays at least one\n", b.b_dir, s50, s99, ns);
		fflush(stdout);
	}
	setup_files(&b, conf, sizeof(conf));
	if (o->detect_only || o->index_only)
		goto detect;
	pid = start_saksid(&b, conf, "ingest.sock", "saksid.log", log, sizeof(log));
	for (unsigned i = 0; i < o->producers; i++) {
		saksi_client_opts co = { 0 };
		saksi_err e;

		co.co_url = b.b_url;
		co.co_key = b.b_p[i].p_key;
		co.co_box_pk = b.b_box_pk;
		co.co_log = o->verify_all ? &b.b_log : NULL;
		co.co_schemas = b.b_sc;
		co.co_timeout_ms = 30000;
		if ((e = saksi_client_open(&co, &b.b_p[i].p_cl)) != SAKSI_OK)
			dies("client", e);
	}

	/* Warm-up: past the dictionary training, so the timing sees the steady state. */
	per = (WARMUP + o->producers - 1) / o->producers;
	build_all(&b, per);
	t = run_phase(&b, producer_flat, o->batch);
	{
		struct tally w = tally(&b);

		check_tally("warm-up", &w);
		warm = (double)w.accepted / (t > 0 ? t : 1e-9);
	}
	for (unsigned i = 0; i < o->producers; i++)
		free_items(&b.b_p[i]);
	size0 = tree_size(&b);
	mdb0 = file_size(&b, "state/ledger/data.mdb");

	/* (b) Throughput. */
	/* Sized from the warm-up's rate (at most the verify rate) to last about -s seconds:
	 * building events is slower than ingesting them on the same cores. */
	per = o->events ? o->events / o->producers :
	      (uint64_t)((warm < vrate ? warm : vrate) * o->seconds) / o->producers;
	if (per < 256)
		per = 256;
	t = bench_now();
	build_all(&b, per);
	printf("    built %" PRIu64 " events in %.1f s (not timed: producers are other "
	       "machines)\n", per * o->producers, bench_now() - t);
	fflush(stdout);
	tasks_read(pid, &tk0);
	cpu_d = proc_cpu_split(pid, &sys_d);
	cpu_p = proc_cpu(getpid());
	t = run_phase(&b, producer_flat, o->batch);
	t = t > 0 ? t : 1e-9;
	cpu_d = proc_cpu_split(pid, &sys) - cpu_d;
	sys_d = sys - sys_d;
	cpu_p = proc_cpu(getpid()) - cpu_p;
	tasks_read(pid, &tk1);
	{
		struct tally w = tally(&b);

		check_tally("throughput", &w);
		ingest = (double)w.accepted / t;
		printf("(b) durable ingest:            %9.0f receipts/s (%" PRIu64 " events in "
		       "%.2f s, %u producers x batch %u; %" PRIu64 " resends after `unavailable`;"
		       " %" PRIu64 " receipts verified)\n", ingest, w.accepted, t, o->producers,
		       o->batch, w.busy, w.verified);
	}
	printf("(c) ratio (b)/(a):             %9.2f            target >= 0.85: %s\n",
	       ingest / vrate, ingest / vrate >= 0.85 ? "met" : "NOT met");
	/* The same ratio by CPU time, which other load on the machine does not skew. */
	{
		uint64_t n = tally(&b).accepted;
		double per_ev = cpu_d / (double)n * 1e6, per_v = vcpu * 1e6;

		printf("    CPU while timed: saksid %.2f s = %.1f us/event (%.1f in the kernel), "
		       "producers %.2f s = %.1f us/event; one verify %.1f us -> CPU ratio %.2f "
		       "(saksid alone), %.2f (with producers on the same cores)\n", cpu_d, per_ev,
		       sys_d / (double)n * 1e6, cpu_p, cpu_p / (double)n * 1e6, per_v,
		       per_v / per_ev, per_v / ((cpu_d + cpu_p) / (double)n * 1e6));
		tasks_print(&tk0, &tk1, n);
	}
	fflush(stdout);
	for (unsigned i = 0; i < o->producers; i++) {
		for (size_t k = 0; k < b.b_p[i].p_nitems; k++) {
			raw += b.b_p[i].p_items[k].it_raw_len;
			envb += b.b_p[i].p_items[k].it_env_len;
			sealb += b.b_p[i].p_items[k].it_sealed_len;
			nraw++;
		}
		free_items(&b.b_p[i]);
	}
	size1 = tree_size(&b);
	mdb1 = file_size(&b, "state/ledger/data.mdb");

	/* (d) Latency at half the measured rate, paced producers. */
	half = o->lat_rate ? (double)o->lat_rate : ingest / 2;
	b.b_interval = (double)o->lat_batch * o->producers / half;
	lat_per = (uint64_t)(half * o->lat_seconds) / o->producers;
	lat_per -= lat_per % o->lat_batch;
	if (lat_per < o->lat_batch)
		lat_per = o->lat_batch;
	if (lat_per * o->producers > LAT_MAX_EVENTS)
		lat_per = LAT_MAX_EVENTS / o->producers;
	build_all(&b, lat_per);
	sched_read(pid, &sch0);
	if (o->trace) {
		/* The trace so far (warm-up, (b)) is logged and dropped: what stop logs is (d). */
		size_t had = log_grep(log, "trace: the slowest", 0);

		kill(pid, SIGUSR1);
		for (int i = 0; i < 1000 && log_grep(log, "trace: the slowest", 0) == had; i++)
			sleep_until(bench_now() + 0.01);
	}
	t = run_phase(&b, producer_paced, o->lat_batch);
	sched_read(pid, &sch1);
	{
		struct tally w = tally(&b);
		unsigned behind = 0;

		check_tally("latency", &w);
		all = xmalloc(lat_per * o->producers * sizeof(double));
		for (unsigned i = 0; i < o->producers; i++) {
			memcpy(all + nall, b.b_p[i].p_lat, b.b_p[i].p_nlat * sizeof(double));
			nall += b.b_p[i].p_nlat;
			behind += b.b_p[i].p_behind;
			free(b.b_p[i].p_lat);
			b.b_p[i].p_lat = NULL;
			free_items(&b.b_p[i]);
		}
		qsort(all, nall, sizeof(double), cmp_double);
		p50 = all[nall / 2];
		p99 = all[(size_t)((double)nall * 0.99)];
		pmax = all[nall - 1];
		printf("(d) receipt latency at %.0f events/s offered (%.0f achieved, %zu events, "
		       "%u producers x batch %u every %.1f ms; %u sends late):\n"
		       "    p50 %.2f ms, p99 %.2f ms, max %.2f ms    target p99 <= 5 ms: %s\n",
		       half, (double)w.accepted / t, nall, o->producers, o->lat_batch,
		       b.b_interval * 1e3, behind, p50, p99, pmax, p99 <= 5 ? "met" : "NOT met");
		free(all);
	}
	{
		/* Again: other loads on the disk move it, and each group pays at least one. */
		double s50, s99;
		size_t ns;

		sync_latency(b.b_dir, &s50, &s99, &ns);
		printf("    disk right after (d): 4 KiB write + fdatasync p50 %.2f ms, p99 %.2f ms "
		       "(%zu samples)\n", s50, s99, ns);
		nn_rtt(&b, &s50, &s99);
		printf("    nanomsg alone: REQ/REP round trip over ipc, %d bytes each way, back to "
		       "back: p50 %.3f ms, p99 %.3f ms (%d samples)\n", RTT_BYTES, s50, s99, RTT_N);
	}
	fflush(stdout);

	for (unsigned i = 0; i < o->producers; i++)
		saksi_client_close(b.b_p[i].p_cl);
	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "bench_ingest: saksid did not stop cleanly (status %d)\n", status);
	if (o->trace) {
		printf("    saksid's stages in (d) (trace_requests; stage ms p50/p99/max, then what "
		       "holds the slowest 1 %%):\n");
		log_grep(log, "trace: ", 3);
		printf("    saksid's threads in (d), oldest first:\n");
		sched_print(&sch0, &sch1);
	}

	/* (e) Stored bytes of the throughput phase's events, from the ledger itself. */
	{
		saksi_ledger_opts lo = { .lo_readonly = 1 };
		saksi_ledger *l;
		saksi_ledger_txn *txn;
		uint8_t *blob;
		size_t len;
		saksi_err e;

		path_in(&b, "state/ledger", ldir, sizeof(ldir));
		if ((e = saksi_ledger_open(ldir, NULL, NULL, &lo, &l)) != SAKSI_OK ||
		    (e = saksi_ledger_begin(l, 0, &txn)) != SAKSI_OK)
			dies(ldir, e);
		for (uint64_t i = size0; i < size1; i++) {
			if ((e = saksi_ledger_leaf_stored_len(txn, i, &len)) != SAKSI_OK)
				dies("leaf_stored_len", e);
			leafb += len;
			e = saksi_ledger_disc_get(txn, i, &blob, &len);
			if (e == SAKSI_OK) {
				discb += len;
				ndisc++;
				free(blob);
			} else if (e != SAKSI_ERR_NOT_FOUND)
				dies("disc_get", e);
		}
		saksi_ledger_abort(txn);
		saksi_ledger_close(l);
	}
	{
		double n = (double)(size1 - size0), rawe = (double)raw / (double)nraw;
		double stored = (double)(leafb + discb) / n, mdb = (double)(mdb1 - mdb0) / n;

		printf("(e) stored per event over %" PRIu64 " events: leaf %.0f B + disclosures at "
		       "rest %.0f B (%" PRIu64 " of them) = %.0f B; data.mdb growth %.0f B\n"
		       "    raw JSON with personal values in clear %.0f B (signed envelope %.0f B, "
		       "sealed disclosures %.0f B as sent)\n"
		       "    stored/raw %.0f%% (leaf+disclosures), %.0f%% (data.mdb)    "
		       "target <= 30%%: %s\n",
		       size1 - size0, (double)leafb / n, (double)discb / n, ndisc, stored, mdb,
		       rawe, (double)envb / (double)nraw, (double)sealb / (double)nraw,
		       100 * stored / rawe, 100 * mdb / rawe, mdb / rawe <= 0.30 ? "met" : "NOT met");
	}

detect:
	if (o->index_only)
		index_cost(&b);
	else if (!o->no_detect)
		detect_cost(&b);
	if (getloadavg(load, 3) == 3)
		printf("load average at end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
	for (unsigned i = 0; i < o->producers; i++)
		saksi_seckey_free(b.b_p[i].p_key);
	free(b.b_p);
	saksi_schemas_free(b.b_sc);
	if (o->keep)
		printf("kept %s (saksid log: %s)\n", b.b_dir, log);
	else
		nftw(b.b_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
