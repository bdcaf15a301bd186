/*
 * flood_test.c: the built saksid under a flood, with its bounds set small. A producer key
 * sending from several connections at once is answered busy past its share while
 * another producer's events all get receipts at the first try; then many connections
 * (more than max_connections) send maximum-size requests of junk, oversize requests and
 * garbage, and saksid's peak RSS (VmHWM) stays under a bound derived from the config;
 * every refused item is counted in the status, and saksid still answers afterwards.
 * saksi status prints it as lines, JSON and Prometheus text (parsed strictly here, and
 * by promtool when Debian's prometheus package is installed).
 * No timing assertion anywhere: every wait is on a condition, with a generous bound.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <jansson.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "bytes.h"
#include "client.h"
#include "wire.h"

#define PROMTOOL "/usr/bin/promtool"

/* The bounds under test (saksid.conf below). */
#define QUEUE_MB 16
#define QUEUE_REQS 64
#define SHARE 64                 /* max_inflight_per_key */
#define MAX_CONNS 16
#define MSG_CAP (2 * SAKSI_WIRE_MSG_MAX) /* what nanomsg may hold per connection */

#define FLOOD_THREADS 4          /* connections of the flooding producer */
#define FLOOD_BATCH 64
#define FLOOD_ROUNDS 6
#define NORMAL_EVENTS 40
#define JUNK_CONNS 24            /* more than MAX_CONNS */
#define JUNK_ROUNDS 3
#define RAW_CONNS 8              /* plain sockets that claim a large message, then wait:
                                    they keep their fds, so fewer than MAX_CONNS */

static struct dr sd;
static char sockpath[100];

#ifdef __SANITIZE_ADDRESS__
/* ASan keeps freed memory in quarantine (256 MiB by default): bounded, but it would be
 * measured as ours. */
#define DAEMON_ENV "ASAN_OPTIONS=quarantine_size_mb=8:detect_leaks=1"
#else
#define DAEMON_ENV NULL
#endif

/* One value of /proc/PID/status in kB. */
static uint64_t
proc_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	uint64_t v = 0;
	size_t n = strlen(field);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtoull(line + n + 1, NULL, 10);
	fclose(f);
	assert_true(v > 0);
	return v;
}

/* A client of the daemon that checks its checkpoints, patient under the flood. */
static saksi_err
client_open(saksi_client **c)
{
	saksi_client_opts co;

	memset(&co, 0, sizeof(co));
	co.co_url = sd.url;
	co.co_log = &sd.fx.v;
	co.co_timeout_ms = 120000;
	return saksi_client_open(&co, c);
}

static saksi_client *
client(void)
{
	saksi_client *c = NULL;

	assert_int_equal(client_open(&c), SAKSI_OK);
	return c;
}

static json_t *
status(void)
{
	saksi_client *c = client();
	json_t *o;
	char *text;
	size_t len;

	assert_int_equal(saksi_client_status(c, &text, &len), SAKSI_OK);
	assert_non_null(o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL));
	free(text);
	saksi_client_close(c);
	return o;
}

/* A counter that may be absent (requests.refused lists only reasons seen): 0 then. */
static uint64_t
jnum0(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(json_object_get(o, a), b);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static uint64_t
jnum(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	if (b != NULL)
		v = json_object_get(v, b);
	assert_true(json_is_integer(v));
	return (uint64_t)json_integer_value(v);
}

/* Sum of a status object's refusal counters. */
static uint64_t
refused_sum(const json_t *o)
{
	const json_t *ref = json_object_get(o, "refused");
	uint64_t n = 0;

	for (int i = SAKSI_R_PARSE; i < SAKSI_R__COUNT; i++)
		n += jnum(ref, saksi_reason_name(i), NULL);
	return n;
}

static void
await_up(void)
{
	for (int i = 0; i < 6000; i++) {
		saksi_client_opts co;
		saksi_client *c = NULL;
		char *text = NULL;
		size_t len;
		saksi_err e;

		assert_int_equal(waitpid(sd.pid, NULL, WNOHANG), 0);
		memset(&co, 0, sizeof(co));
		co.co_url = sd.url;
		co.co_timeout_ms = 1000;
		assert_int_equal(saksi_client_open(&co, &c), SAKSI_OK);
		e = saksi_client_status(c, &text, &len);
		saksi_client_close(c);
		free(text);
		if (e == SAKSI_OK)
			return;
		usleep(10000);
	}
	fail_msg("saksid never answered its status");
}

static int
setup(void **state)
{
	(void)state;

	dr_setup(&sd, 0);
	snprintf(sockpath, sizeof(sockpath), "%s/ingest.sock", sd.fx.dir);
	dr_save_keys(&sd.fx, DR_KEYRING);
	dr_write_conf(sd.conf,
	              "group_wait_us = 0\n"
	              "workers = 2\n"
	              "map_size_mb = 256\n"
	              "queue_mb = %d\n"
	              "queue_requests = %d\n"
	              "max_inflight_per_key = %d\n"
	              "max_connections = %d\n",
	              QUEUE_MB, QUEUE_REQS, SHARE, MAX_CONNS);
	sd.pid = dr_saksid_start(sd.conf, sd.errlog, DAEMON_ENV);
	await_up();
	return 0;
}

static int
teardown(void **state)
{
	int st;
	(void)state;

	if (sd.pid > 0) {
		kill(sd.pid, SIGTERM);
		assert_int_equal(waitpid(sd.pid, &st, 0), sd.pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			char *log = fx_read(sd.errlog, NULL);
			printf("# saksid's log:\n%s", log != NULL ? log : "");
			free(log);
			fail_msg("saksid did not stop cleanly (status %d)", st);
		}
	}
	fx_free(&sd.fx);
	return 0;
}

/* ---- a flooding producer and a normal one ---- */

struct flooder {
	pthread_t t;
	size_t no;
	atomic_long *busy, *accepted, *replay;
	int err;
};

/* Builds n bookings of producer prod, seq from seq0 on, as raw item arrays. */
static struct fx_item *
bookings(size_t prod, uint64_t seq0, size_t n)
{
	struct fx_item *fi = calloc(n, sizeof(*fi));

	if (fi == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		fx_booking(&sd.fx, prod, seq0 + i, wall_ms(), &fi[i]);
	return fi;
}

/*
 * Submits the items until each is decided, resubmitting on busy after the hint. One key
 * sending from several connections at once sees some of its own events overtaken by
 * later ones: those are refused as replays (its doing), and counted.
 */
static int
submit_all(saksi_client *c, struct fx_item *fi, size_t n, atomic_long *busy,
           atomic_long *accepted, atomic_long *replay)
{
	const uint8_t *env[SAKSI_WIRE_BATCH_MAX], *sealed[SAKSI_WIRE_BATCH_MAX];
	size_t env_len[SAKSI_WIRE_BATCH_MAX], sealed_len[SAKSI_WIRE_BATCH_MAX];
	saksi_result res[SAKSI_WIRE_BATCH_MAX];
	saksi_err e;

	for (size_t i = 0; i < n; i++) {
		env[i] = fi[i].env;
		env_len[i] = fi[i].env_len;
		sealed[i] = fi[i].sealed;
		sealed_len[i] = fi[i].sealed_len;
	}
	for (int tries = 0; tries < 10000; tries++) {
		memset(res, 0, sizeof(res));
		e = saksi_client_submit_raw(c, env, env_len, sealed, sealed_len, n, res);
		for (size_t i = 0; i < n; i++) {
			/* Only the receipt is freed: the codes are read below. */
			free(res[i].sr_receipt);
			res[i].sr_receipt = NULL;
		}
		if (e == SAKSI_OK) {
			for (size_t i = 0; i < n; i++) {
				if (res[i].sr_code == SAKSI_R_ACCEPTED)
					atomic_fetch_add(accepted, 1);
				else if (res[i].sr_code == SAKSI_R_REPLAY)
					atomic_fetch_add(replay, 1);
				else {
					printf("# flooder: item refused: %d %s\n", res[i].sr_code,
					       res[i].sr_message);
					return -1;
				}
			}
			return 0;
		}
		if (e != SAKSI_ERR_REFUSED || res[0].sr_code != SAKSI_R_BUSY) {
			printf("# flooder: %s, code %d: %s\n", saksi_strerror(e), res[0].sr_code,
			       res[0].sr_message);
			return -1;
		}
		atomic_fetch_add(busy, 1);
		usleep((useconds_t)saksi_client_retry_after(c) * 1000);
	}
	return -1;
}

static void *
flood_main(void *arg)
{
	struct flooder *f = arg;
	saksi_client *c = NULL;

	/* No cmocka assertion in a thread: it would jump across threads. */
	if (client_open(&c) != SAKSI_OK) {
		f->err = 1;
		return NULL;
	}
	uint64_t seq0 = 1 + f->no * FLOOD_ROUNDS * FLOOD_BATCH;

	for (int r = 0; r < FLOOD_ROUNDS && f->err == 0; r++) {
		struct fx_item *fi = bookings(FX_QUEUE, seq0 + (uint64_t)r * FLOOD_BATCH,
		                              FLOOD_BATCH);

		if (submit_all(c, fi, FLOOD_BATCH, f->busy, f->accepted, f->replay) != 0)
			f->err = 1;
		for (size_t i = 0; i < FLOOD_BATCH; i++)
			fx_item_free(&fi[i]);
		free(fi);
	}
	saksi_client_close(c);
	return NULL;
}

static void
test_fair_share(void **state)
{
	struct flooder fl[FLOOD_THREADS];
	atomic_long busy = 0, accepted = 0, replay = 0;
	struct fx_item *normal;
	saksi_client *c;
	json_t *o;
	(void)state;

	normal = bookings(FX_NATIONAL, 1, NORMAL_EVENTS);
	for (size_t i = 0; i < FLOOD_THREADS; i++) {
		fl[i].no = i;
		fl[i].busy = &busy;
		fl[i].accepted = &accepted;
		fl[i].replay = &replay;
		fl[i].err = 0;
		assert_int_equal(pthread_create(&fl[i].t, NULL, flood_main, &fl[i]), 0);
	}
	/* The normal producer, one event at a time while the flood runs: every one is
	 * accepted at the first try, with a receipt the client verified. */
	c = client();
	for (size_t i = 0; i < NORMAL_EVENTS; i++) {
		const uint8_t *env = normal[i].env, *sealed = normal[i].sealed;
		size_t env_len = normal[i].env_len, sealed_len = normal[i].sealed_len;
		saksi_result res;

		memset(&res, 0, sizeof(res));
		assert_int_equal(saksi_client_submit_raw(c, &env, &env_len, &sealed, &sealed_len,
		                                         1, &res), SAKSI_OK);
		assert_int_equal(res.sr_code, SAKSI_R_ACCEPTED);
		assert_non_null(res.sr_receipt);
		saksi_result_clear(&res);
	}
	saksi_client_close(c);
	for (size_t i = 0; i < FLOOD_THREADS; i++) {
		assert_int_equal(pthread_join(fl[i].t, NULL), 0);
		assert_int_equal(fl[i].err, 0);
	}
	printf("# flooding producer: %ld events accepted, %ld overtaken by its own (replay), "
	       "%ld busy answers (share %d items); normal producer: %d of %d accepted at the "
	       "first try\n", (long)accepted, (long)replay, (long)busy, SHARE, NORMAL_EVENTS,
	       NORMAL_EVENTS);
	assert_int_equal(accepted + replay, FLOOD_THREADS * FLOOD_ROUNDS * FLOOD_BATCH);
	o = status();
	assert_int_equal(jnum(o, "accepted", NULL), (uint64_t)accepted + NORMAL_EVENTS);
	assert_int_equal(jnum(o, "refused", "replay"), (uint64_t)replay);
	/* Every busy answer is counted, in the status and in the ledger's counters. */
	assert_int_equal(jnum0(json_object_get(o, "requests"), "refused", "busy"),
	                 (uint64_t)busy);
	assert_int_equal(jnum(o, "refused", "busy"), (uint64_t)busy * FLOOD_BATCH);
	json_decref(o);
	for (size_t i = 0; i < NORMAL_EVENTS; i++)
		fx_item_free(&normal[i]);
	free(normal);
}

/* ---- junk from many connections ---- */

struct junk {
	pthread_t t;
	size_t no;
	uint64_t seed;
	uint64_t items_refused;  /* what the replies say was refused or not taken */
	int err;
};

static void *
junk_main(void *arg)
{
	struct junk *j = arg;
	size_t len = 4 + 256 * (8 + 16000);
	uint8_t *req = malloc(SAKSI_WIRE_MSG_MAX + 1024);
	int s = nn_socket(AF_SP, NN_REQ), to = 120000;

	if (req == NULL || s < 0) {
		j->err = 1;
		return NULL;
	}
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &to, sizeof(to));
	to = 300000;   /* no resend behind our back */
	nn_setsockopt(s, NN_REQ, NN_REQ_RESEND_IVL, &to, sizeof(to));
	if (nn_connect(s, sd.url) < 0) {
		j->err = 1;
		free(req);
		return NULL;
	}
	for (int r = 0; r < JUNK_ROUNDS && j->err == 0; r++) {
		int kind = (int)((j->no + (size_t)r) % 3), n;
		size_t sent;
		void *buf = NULL;
		uint8_t *p;

		randombytes_buf(req, SAKSI_WIRE_MSG_MAX + 1024);
		req[0] = 1;
		req[1] = SAKSI_OP_SUBMIT;
		if (kind == 0) {
			/* Well framed, maximum size: 256 items of 16000 random bytes. */
			saksi_put_u16(req + 2, 256);
			sent = len;
			/* Each: envelope length, random envelope, sealed length 0. */
			p = req + 4;
			for (int i = 0; i < 256; i++) {
				saksi_put_u32(p, 16000);
				p += 4 + 16000;
				saksi_put_u32(p, 0);
				p += 4;
			}
		} else if (kind == 1) {
			sent = SAKSI_WIRE_MSG_MAX + 1000;   /* over the cap */
		} else {
			sent = 1 + (size_t)(j->seed % 4000);  /* garbage */
			req[1] = (uint8_t)(0x40 + j->no);
		}
		if (nn_send(s, req, sent, 0) != (int)sent) {
			j->err = 2;
			break;
		}
		n = nn_recv(s, &buf, NN_MSG, 0);
		if (n < 3) {
			j->err = 3;
			break;
		}
		p = buf;
		if (kind == 0 && p[2] == 0) {
			/* Per item: every one refused (parse or unknown key). */
			size_t off = 5;
			for (int i = 0; i < 256 && off + 5 <= (size_t)n; i++) {
				if (p[off] < SAKSI_R_PARSE)
					j->err = 4;
				j->items_refused++;
				off += 5 + saksi_get_u32(p + off + 1);
			}
		} else if (kind == 0) {
			if (p[2] != SAKSI_R_UNAVAILABLE && p[2] != SAKSI_R_BUSY)
				j->err = 5;
			j->items_refused += 256;
		} else if (kind == 1 && p[2] != SAKSI_R_SIZE)
			j->err = 6;
		else if (kind == 2 && p[2] != SAKSI_R_PARSE)
			j->err = 7;
		nn_freemsg(buf);
	}
	nn_close(s);
	free(req);
	return NULL;
}

/* A plain socket that connects, says it is a REQ peer, announces a message of
 * SAKSI_WIRE_MSG_MAX bytes and sends half of it: nanomsg holds what came. */
static int
raw_conn(void)
{
	static const uint8_t hello[8] = { 0, 'S', 'P', 0, 0, 48, 0, 0 };  /* NN_REQ = 48 */
	struct sockaddr_un sa;
	uint8_t hdr[9], *half;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	/* Non-blocking: a full backlog refuses at once instead of hanging the test. */
	fcntl(fd, F_SETFL, O_NONBLOCK);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sockpath);
	/* Past max_connections the kernel's backlog takes it (or refuses it): both fine. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	if (write(fd, hello, sizeof(hello)) != (ssize_t)sizeof(hello)) {
		close(fd);
		return -1;
	}
	hdr[0] = 1;   /* ipc message type: a message */
	saksi_put_u64(hdr + 1, SAKSI_WIRE_MSG_MAX);
	if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr)) {
		close(fd);
		return -1;
	}
	half = calloc(1, SAKSI_WIRE_MSG_MAX / 2);
	/* Non-blocking: what the socket takes now; the rest of the flood goes on. */
	(void)!write(fd, half, SAKSI_WIRE_MSG_MAX / 2);
	free(half);
	return fd;
}

static void
test_flood_memory(void **state)
{
	struct junk jk[JUNK_CONNS];
	int raw[RAW_CONNS], nraw = 0;
	uint64_t base_kb, hwm_kb, bound_kb, items = 0, refused0;
	json_t *before, *after;
	struct fx_item fi;
	saksi_client *c;
	saksi_result res;
	const uint8_t *env, *sealed;
	size_t env_len, sealed_len;
	(void)state;

	base_kb = proc_kb(sd.pid, "VmHWM");
	/*
	 * What saksid may hold at once, from its config: the queue (queue_mb, request bytes
	 * and their item records), one message in flight per connection it accepts
	 * (nanomsg's cap, twice the wire cap), and 48 MiB for the allocator, threads and
	 * the ledger's pages. The peak so far (startup, the first test) is the base.
	 */
	bound_kb = base_kb + QUEUE_MB * 1024 + (uint64_t)MAX_CONNS * (MSG_CAP / 1024) +
	           48 * 1024;
#ifdef __SANITIZE_ADDRESS__
	bound_kb += 256 * 1024;   /* ASan's shadow and allocator metadata */
#endif
	printf("# peak RSS bound: base %llu kB + queue %d MiB + %d connections x %u MiB + "
	       "48 MiB = %llu kB\n", (unsigned long long)base_kb, QUEUE_MB, MAX_CONNS,
	       (unsigned)(MSG_CAP >> 20), (unsigned long long)bound_kb);
	before = status();
	refused0 = refused_sum(before);

	for (int i = 0; i < RAW_CONNS; i++)
		if ((raw[nraw] = raw_conn()) >= 0)
			nraw++;
	for (size_t i = 0; i < JUNK_CONNS; i++) {
		jk[i].no = i;
		jk[i].seed = sd.fx.seed + i;
		jk[i].items_refused = 0;
		jk[i].err = 0;
		assert_int_equal(pthread_create(&jk[i].t, NULL, junk_main, &jk[i]), 0);
	}
	for (size_t i = 0; i < JUNK_CONNS; i++) {
		assert_int_equal(pthread_join(jk[i].t, NULL), 0);
		if (jk[i].err != 0)
			fail_msg("junk connection %zu: error %d", i, jk[i].err);
		items += jk[i].items_refused;
	}
	/* The raw connections go last: until then they held their fds and buffers. */
	for (int i = 0; i < nraw; i++)
		close(raw[i]);

	hwm_kb = proc_kb(sd.pid, "VmHWM");
	printf("# %d raw connections held, %d junk connections x %d requests; peak RSS "
	       "%llu kB (bound %llu kB)\n", nraw, JUNK_CONNS, JUNK_ROUNDS,
	       (unsigned long long)hwm_kb, (unsigned long long)bound_kb);
	assert_true(hwm_kb <= bound_kb);

	/* Still serving: a real event gets its receipt. */
	fx_booking(&sd.fx, FX_NATIONAL, 1000, wall_ms(), &fi);
	env = fi.env;
	sealed = fi.sealed;
	env_len = fi.env_len;
	sealed_len = fi.sealed_len;
	c = client();
	memset(&res, 0, sizeof(res));
	assert_int_equal(saksi_client_submit_raw(c, &env, &env_len, &sealed, &sealed_len, 1,
	                                         &res), SAKSI_OK);
	assert_int_equal(res.sr_code, SAKSI_R_ACCEPTED);
	saksi_result_clear(&res);
	saksi_client_close(c);
	fx_item_free(&fi);

	/* Nothing dropped uncounted: every item the replies refused is in the status. */
	after = status();
	printf("# items refused or not taken: %llu by the replies, %llu by the status\n",
	       (unsigned long long)items, (unsigned long long)(refused_sum(after) - refused0));
	assert_int_equal(refused_sum(after) - refused0, items);
	assert_true(jnum0(json_object_get(after, "requests"), "refused", "size") >= 1);
	assert_true(jnum0(json_object_get(after, "requests"), "refused", "parse") >= 1);
	json_decref(before);
	json_decref(after);
}

static int
name_ok(const char *s, size_t n, int colon)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || (colon && s[i] == ':')))
			return 0;
	return 1;
}

/*
 * A strict reading of the Prometheus text format 0.0.4 as saksi writes it: HELP then
 * TYPE (counter or gauge) once per metric, before its samples; names saksi_*, counters
 * ending in _total; labels name="value" with no escapes needed; a decimal value; no
 * blank line, no timestamp, no series twice. Returns the number of samples.
 */
static size_t
prom_parse(char *text)
{
	char seen[128][96], series[256][160], cur[96] = "", *line, *save = NULL;
	size_t nseen = 0, nseries = 0, samples = 0;
	int have_help = 0, have_type = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			char *sp = strchr(line + 7, ' ');
			assert_non_null(sp);
			assert_true(name_ok(line + 7, (size_t)(sp - line - 7), 1));
			assert_true(sp[1] != '\0');
			snprintf(cur, sizeof(cur), "%.*s", (int)(sp - line - 7), line + 7);
			for (size_t i = 0; i < nseen; i++)
				if (strcmp(seen[i], cur) == 0)
					fail_msg("metric %s described twice", cur);
			assert_true(nseen < 128);
			strcpy(seen[nseen++], cur);
			assert_memory_equal(cur, "saksi_", 6);
			have_help = 1;
			have_type = 0;
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			size_t n = strlen(cur);
			assert_true(have_help && !have_type);
			assert_memory_equal(line + 7, cur, n);
			assert_true(strcmp(line + 7 + n, " counter") == 0 ||
			            strcmp(line + 7 + n, " gauge") == 0);
			if (strcmp(line + 7 + n, " counter") == 0)
				assert_string_equal(cur + n - 6, "_total");
			have_type = 1;
		} else {
			char *v, *end, *lb = strchr(line, '{'), *sp = strrchr(line, ' ');
			size_t n = strlen(cur);

			assert_true(line[0] != '#');
			assert_non_null(sp);
			assert_true(have_type);
			/* The sample belongs to the metric just described. */
			assert_memory_equal(line, cur, n);
			assert_true(line[n] == ' ' || line[n] == '{');
			if (lb != NULL && lb < sp) {
				char *p = lb + 1, *rb = strchr(lb, '}');
				assert_non_null(rb);
				assert_true(rb + 1 == sp);
				while (p < rb) {
					char *eq = strchr(p, '='), *q;
					assert_non_null(eq);
					assert_true(name_ok(p, (size_t)(eq - p), 0));
					assert_true(eq[1] == '"');
					q = strchr(eq + 2, '"');
					assert_non_null(q);
					for (char *c = eq + 2; c < q; c++)
						assert_true(*c != '\\' && *c >= 0x20);
					p = q + 1;
					if (*p == ',')
						p++;
					else
						assert_true(p == rb);
				}
			}
			v = sp + 1;
			(void)strtod(v, &end);
			assert_true(end != v && *end == '\0');
			assert_true(nseries < 256);
			snprintf(series[nseries], sizeof(series[0]), "%.*s", (int)(sp - line), line);
			for (size_t i = 0; i < nseries; i++)
				if (strcmp(series[i], series[nseries]) == 0)
					fail_msg("series %s twice", series[i]);
			nseries++;
			samples++;
		}
	}
	return samples;
}

static void
test_status_cli(void **state)
{
	char out[300], *text, cmd[700];
	json_t *o;
	size_t n;
	(void)state;

	snprintf(out, sizeof(out), "%s/status.out", sd.fx.dir);
	{
		const char *const args[] = { "status", "--url", sd.url, NULL };
		assert_int_equal(dr_saksi(0, out, NULL, args), 0);
	}
	text = fx_read(out, NULL);
	printf("%s", text);
	assert_non_null(strstr(text, "up since"));
	assert_non_null(strstr(text, "witnesses: none"));
	assert_non_null(strstr(text, "  busy"));
	assert_non_null(strstr(text, "producers seen"));
	assert_non_null(strstr(text, "alerts            0 open, 0 raised"));
	free(text);
	{
		const char *const args[] = { "status", "--url", sd.url, "--json", NULL };
		assert_int_equal(dr_saksi(0, out, NULL, args), 0);
	}
	text = fx_read(out, NULL);
	assert_non_null(o = json_loads(text, JSON_REJECT_DUPLICATES, NULL));
	assert_int_equal(jnum(o, "saksi_status", NULL), 1);
	assert_true(jnum(o, "refused", "parse") > 0);
	json_decref(o);
	free(text);
	{
		const char *const args[] = { "status", "--url", sd.url, "--prometheus", NULL };
		assert_int_equal(dr_saksi(0, out, NULL, args), 0);
	}
	text = fx_read(out, NULL);
	assert_non_null(strstr(text, "saksi_events_refused_total{reason=\"busy\"} "));
	assert_non_null(strstr(text, "# TYPE saksi_ledger_entries gauge\n"));
	n = prom_parse(text);
	printf("# prometheus: %zu samples parse strictly\n", n);
	assert_true(n > 3 * (SAKSI_R__COUNT - SAKSI_R_PARSE));
	free(text);
	if (access(PROMTOOL, X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), PROMTOOL " check metrics < '%s'", out);
		assert_int_equal(system(cmd), 0);
		printf("# promtool check metrics: ok\n");
	} else
		printf("# %s absent (Debian package prometheus): the strict parse above only\n",
		       PROMTOOL);
	/* Usage errors and a daemon that is not there: exit 2. */
	{
		const char *const a1[] = { "status", NULL };
		const char *const a2[] = { "status", "--url", sd.url, "--json", "--prometheus", NULL };
		const char *const a3[] = { "status", "--url", "ipc:///nonexistent/saksi.sock",
		    "--timeout", "300", NULL };
		assert_int_equal(dr_saksi(0, out, NULL, a1), 2);
		assert_int_equal(dr_saksi(0, out, NULL, a2), 2);
		assert_int_equal(dr_saksi(0, out, NULL, a3), 2);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fair_share),
		cmocka_unit_test(test_flood_memory),
		cmocka_unit_test(test_status_cli),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
