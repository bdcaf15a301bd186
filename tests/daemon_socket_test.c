/*
 * daemon_socket_test.c: the built saksid binary, started on a generated config with an
 * ipc:// URL in a temporary directory. Many producer threads at once, each with its own
 * key, through the client library; then every kind of hostile submission over raw
 * nanomsg, each refused with its reason while the ledger grows only by refusal
 * summaries; the read ops; a clean SIGTERM stop; and a full check of the ledger after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "bytes.h"
#include "client.h"
#include "ledger.h"
#include "merkle.h"
#include "wire.h"

#define NTHREADS 8
#define BATCHES 6
#define PER_BATCH 8
#define SAKSID SAKSI_BUILD_DIR "/saksid"

static struct dr sd;
static uint64_t indices[NTHREADS * BATCHES * PER_BATCH];
static int tcp_port;
static char *ck_after_producers;
static size_t ck_after_producers_len;

static void
path_in(char *out, size_t outlen, const char *name)
{
	snprintf(out, outlen, "%s/%s", sd.fx.dir, name);
}

static void
write_conf(const char *name, const char *extra)
{
	char path[256];

	path_in(path, sizeof(path), name);
	dr_write_conf(path,
	              "listen = tcp://127.0.0.1:%d\n"
	              "group_wait_us = 2000\n"
	              "workers = 2\n"
	              "map_size_mb = 64\n"
	              "%s",
	              tcp_port, extra);
}

/* Starts saksid -c conf -d with stderr to errlog; returns its pid. */
static pid_t
spawn(const char *confpath)
{
	return dr_saksid_start(confpath, sd.errlog, NULL);
}

static int
wait_exit(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* One request to the daemon (dr_rpc); *reply malloc'd. Returns the reply length. */
static size_t
rpc(const void *req, size_t len, uint8_t **reply)
{
	size_t rlen;

	*reply = dr_rpc(sd.url, req, len, &rlen);
	return rlen;
}

/* A request that is refused as a whole: returns its status. */
static int
status_of(const void *req, size_t len)
{
	uint8_t *r;
	size_t rlen = rpc(req, len, &r);
	int st;

	assert_true(rlen >= 3);
	assert_int_equal(r[0], 1);
	st = r[2];
	free(r);
	return st;
}

/* The latest checkpoint through op 2, opened with the log key. */
static saksi_checkpoint
checkpoint(char **note, size_t *note_len)
{
	static const uint8_t req[2] = { 1, SAKSI_OP_CHECKPOINT };
	saksi_checkpoint ck;
	uint8_t *r;
	size_t rlen = rpc(req, 2, &r);

	assert_true(rlen > 3);
	assert_int_equal(r[2], 0);
	assert_int_equal(saksi_checkpoint_open((char *)r + 3, rlen - 3, &sd.fx.v, &ck), SAKSI_OK);
	if (note != NULL) {
		*note = strndup((char *)r + 3, rlen - 3);
		*note_len = rlen - 3;
	}
	free(r);
	return ck;
}

/* Leaf `index` through op 5. */
static uint8_t *
get_leaf(uint64_t index, size_t *len)
{
	uint8_t req[10], *r, *leaf;
	size_t rlen;

	req[0] = 1;
	req[1] = SAKSI_OP_GET;
	saksi_put_u64(req + 2, index);
	rlen = rpc(req, sizeof(req), &r);
	assert_int_equal(r[2], 0);
	leaf = malloc(rlen - 3);
	memcpy(leaf, r + 3, rlen - 3);
	*len = rlen - 3;
	free(r);
	return leaf;
}

static int
setup(void **state)
{
	(void)state;

	dr_setup(&sd, NTHREADS);
	tcp_port = dr_free_port();
	dr_save_keys(&sd.fx, DR_KEYRING);
	write_conf("saksid.conf", "");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(ck_after_producers);
	dr_teardown(&sd);
	return 0;
}

static void
test_start_refusals(void **state)
{
	char path[256], *log;
	(void)state;

	/* A key file others may read: exit 1, and the message says what to do. */
	path_in(path, sizeof(path), "log.key");
	chmod(path, 0644);
	assert_int_equal(wait_exit(spawn(sd.conf)), 1);
	chmod(path, 0600);
	log = fx_read(sd.errlog, NULL);
	assert_non_null(log);
	assert_non_null(strstr(log, "is readable by others; run chmod 600"));
	free(log);

	/* A config error: exit 1 with file:line. */
	write_conf("bad.conf", "colour = blue\n");
	path_in(path, sizeof(path), "bad.conf");
	assert_int_equal(wait_exit(spawn(path)), 1);
	log = fx_read(sd.errlog, NULL);
	assert_non_null(strstr(log, "bad.conf:14: unknown key \"colour\""));
	free(log);

	/* The box key where the log key belongs. */
	path_in(path, sizeof(path), "swap.conf");
	{
		char text[2048];
		snprintf(text, sizeof(text), "origin = %s\nstate_dir = state\n"
		         "listen = ipc://ingest.sock\nkeyring = keyring.json\nlog_key = box.key\n"
		         "box_key = box.key\nstore_key = store.key\n"
		         "schemas_dir = %s/schemas/events\nallow_root = yes\n", FX_ORIGIN,
		         SAKSI_SOURCE_DIR);
		fx_write(path, text, strlen(text), 0644);
	}
	assert_int_equal(wait_exit(spawn(path)), 1);
	log = fx_read(sd.errlog, NULL);
	assert_non_null(strstr(log, "is a BOX key; it must be a SIGN key"));
	free(log);

	/* No usable arguments. */
	{
		pid_t pid = fork();
		if (pid == 0) {
			FILE *f = freopen("/dev/null", "w", stderr);
			(void)f;
			execl(SAKSID, "saksid", (char *)NULL);
			_exit(127);
		}
		assert_int_equal(wait_exit(pid), 1);
	}

	sd.pid = spawn(sd.conf);
	/* Ready once it answers; a new log has signed its empty tree at start. */
	{
		static const uint8_t req[2] = { 1, SAKSI_OP_CHECKPOINT };
		assert_int_equal(status_of(req, 2), SAKSI_R_ACCEPTED);
	}
}

struct prod_arg {
	size_t t;
	long bad;
};

static void *
producer(void *arg)
{
	struct prod_arg *pa = arg;
	saksi_client_opts co;
	saksi_client *c;
	saksi_event ev[PER_BATCH];
	saksi_result res[PER_BATCH];
	char *payload = fx_payload("queue.booking.created", NULL);

	memset(&co, 0, sizeof(co));
	co.co_url = sd.url;
	co.co_key = sd.fx.prod[FX_NFIXED + pa->t];
	co.co_box_pk = sd.fx.box_pub.pk_key;
	co.co_log = &sd.fx.v;
	co.co_schemas = sd.fx.sc;
	co.co_timeout_ms = 30000;
	if (saksi_client_open(&co, &c) != SAKSI_OK) {
		pa->bad = -1;
		free(payload);
		return NULL;
	}
	for (size_t b = 0; b < BATCHES; b++) {
		saksi_err e;
		for (size_t i = 0; i < PER_BATCH; i++) {
			ev[i].se_type = "queue.booking.created";
			ev[i].se_payload = payload;
			ev[i].se_seq = b * PER_BATCH + i + 1;
			ev[i].se_time_ms = wall_ms();
		}
		memset(res, 0, sizeof(res));
		e = saksi_client_submit(c, ev, PER_BATCH, res);
		if (e != SAKSI_OK) {
			fprintf(stderr, "producer %zu: %s\n", pa->t, saksi_strerror(e));
			pa->bad++;
			continue;
		}
		for (size_t i = 0; i < PER_BATCH; i++) {
			if (res[i].sr_code != SAKSI_R_ACCEPTED || res[i].sr_receipt == NULL) {
				fprintf(stderr, "producer %zu: code %d %s\n", pa->t, res[i].sr_code,
				        res[i].sr_message);
				pa->bad++;
			}
			indices[(pa->t * BATCHES + b) * PER_BATCH + i] = res[i].sr_index;
			saksi_result_clear(&res[i]);
		}
	}
	saksi_client_close(c);
	free(payload);
	return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void
test_producers(void **state)
{
	pthread_t th[NTHREADS];
	struct prod_arg pa[NTHREADS];
	saksi_checkpoint ck;
	size_t n = NTHREADS * BATCHES * PER_BATCH;
	(void)state;

	for (size_t t = 0; t < NTHREADS; t++) {
		pa[t].t = t;
		pa[t].bad = 0;
		assert_int_equal(pthread_create(&th[t], NULL, producer, &pa[t]), 0);
	}
	for (size_t t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(pa[t].bad, 0);
	}
	/* Every event has its own leaf; only events are in the ledger so far, after the
	 * keyring entry saksid writes at start (entry 0, FORMATS.md 4 kind 4). */
	qsort(indices, n, sizeof(indices[0]), cmp_u64);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(indices[i], i + 1);
	ck = checkpoint(&ck_after_producers, &ck_after_producers_len);
	assert_int_equal(ck.ck_size, n + 1);
}

static void
test_hostile(void **state)
{
	struct fx_item fi, ok5;
	saksi_seckey *stranger = fx_key(sd.fx.seed, "stranger", SAKSI_KEY_SIGN);
	saksi_checkpoint before, after;
	char text[1024], receipt[4096];
	uint64_t now = wall_ms(), events = 0;
	char *p;
	(void)state;

	before = checkpoint(NULL, NULL);

	fx_booking(&sd.fx, FX_QUEUE, 5, now, &ok5);
	assert_int_equal(dr_submit1(sd.url, &ok5, receipt, sizeof(receipt)), SAKSI_R_ACCEPTED);
	assert_non_null(strstr(receipt, "c2sp.org/tlog-proof@v1\n"));

	fx_booking(&sd.fx, FX_QUEUE, 6, now, &fi);
	fi.env[fi.env_len - 1] ^= 1;
	assert_int_equal(dr_submit1(sd.url, &fi, text, sizeof(text)), SAKSI_R_SIGNATURE);
	assert_non_null(strstr(text, "signature"));
	fx_item_free(&fi);

	p = fx_payload("queue.booking.created", NULL);
	fx_build(&sd.fx, stranger, "queue.booking.created", p, 1, now, &fi);
	assert_int_equal(dr_submit1(sd.url, &fi, text, sizeof(text)), SAKSI_R_UNKNOWN_KEY);
	fx_item_free(&fi);
	fx_build(&sd.fx, sd.fx.prod[FX_REVOKED], "queue.booking.created", p, 1, now, &fi);
	assert_int_equal(dr_submit1(sd.url, &fi, text, sizeof(text)), SAKSI_R_REVOKED_KEY);
	fx_item_free(&fi);
	fx_build(&sd.fx, sd.fx.prod[FX_STAFF], "queue.booking.created", p, 1, now, &fi);
	assert_int_equal(dr_submit1(sd.url, &fi, text, sizeof(text)), SAKSI_R_ROLE);
	fx_item_free(&fi);
	free(p);
	{
		const char *set[] = { "branch", "KC-JAKARTA-UTARA", NULL };
		p = fx_payload("queue.booking.created", set);
		fx_build(&sd.fx, sd.fx.prod[FX_QUEUE], "queue.booking.created", p, 7, now, &fi);
		assert_int_equal(dr_submit1(sd.url, &fi, text, sizeof(text)), SAKSI_R_BRANCH);
		fx_item_free(&fi);
		free(p);
	}
	{
		const char *set[] = { "slot_hour", "#25", NULL };
		p = fx_payload("queue.booking.created", set);
		fx_build(&sd.fx, sd.fx.prod[FX_QUEUE], "queue.booking.created", p, 7, now, &fi);
		assert_int_equal(dr_submit1(sd.url, &fi, text, sizeof(text)), SAKSI_R_SCHEMA);
		fx_item_free(&fi);
		free(p);
	}
	fx_booking(&sd.fx, FX_QUEUE, 7, now, &fi);
	fx_seal(sd.fx.prod[FX_QUEUE], sd.fx.other_box_pub.pk_key, &fi, fi.disc);
	assert_int_equal(dr_submit1(sd.url, &fi, text, sizeof(text)), SAKSI_R_DISCLOSURE);
	fx_item_free(&fi);

	/* Replay, equivocation, duplicate, clock skew. */
	fx_booking(&sd.fx, FX_QUEUE, 3, now, &fi);
	assert_int_equal(dr_submit1(sd.url, &fi, text, sizeof(text)), SAKSI_R_REPLAY);
	fx_item_free(&fi);
	fx_booking(&sd.fx, FX_QUEUE, 5, now + 1, &fi);
	assert_int_equal(dr_submit1(sd.url, &fi, text, sizeof(text)), SAKSI_R_EQUIVOCATION);
	fx_item_free(&fi);
	assert_int_equal(dr_submit1(sd.url, &ok5, text, sizeof(text)), SAKSI_R_DUPLICATE);
	assert_non_null(strstr(text, "\nindex "));
	{
		/* The same index as the first receipt. */
		const char *a = strstr(receipt, "\nindex "), *b = strstr(text, "\nindex ");
		assert_int_equal(strtoull(a + 7, NULL, 10), strtoull(b + 7, NULL, 10));
	}
	fx_booking(&sd.fx, FX_QUEUE, 8, now - 86400000, &fi);
	assert_int_equal(dr_submit1(sd.url, &fi, text, sizeof(text)), SAKSI_R_CLOCK_SKEW);
	fx_item_free(&fi);

	/* Malformed items and requests. */
	{
		uint8_t junk[64];
		memset(&fi, 0, sizeof(fi));
		memset(junk, 0xee, sizeof(junk));
		fi.env = junk;
		fi.env_len = sizeof(junk);
		assert_int_equal(dr_submit1(sd.url, &fi, text, sizeof(text)), SAKSI_R_PARSE);
	}
	{
		static const uint8_t empty[1] = { 0 };
		uint8_t bad[8] = { 9, SAKSI_OP_SUBMIT, 0, 1, 0, 0, 0, 0 };
		assert_int_equal(status_of(empty, 0), SAKSI_R_PARSE);
		assert_int_equal(status_of(empty, 1), SAKSI_R_PARSE);
		assert_int_equal(status_of(bad, sizeof(bad)), SAKSI_R_PARSE);   /* version 9 */
		bad[0] = 1;
		bad[1] = 77;
		assert_int_equal(status_of(bad, sizeof(bad)), SAKSI_R_PARSE);   /* op 77 */
		bad[1] = SAKSI_OP_SUBMIT;
		assert_int_equal(status_of(bad, sizeof(bad)), SAKSI_R_PARSE);   /* truncated */
		bad[2] = 0x01;
		bad[3] = 0x2c;
		assert_int_equal(status_of(bad, sizeof(bad)), SAKSI_R_SIZE);    /* count 300 */
		bad[1] = SAKSI_OP_GET;
		assert_int_equal(status_of(bad, sizeof(bad)), SAKSI_R_PARSE);   /* 6-byte body */
	}
	{
		size_t big = SAKSI_WIRE_MSG_MAX + 1;
		uint8_t *m = calloc(1, big);
		m[0] = 1;
		m[1] = SAKSI_OP_SUBMIT;
		saksi_put_u16(m + 2, 1);
		assert_int_equal(status_of(m, big), SAKSI_R_SIZE);
		free(m);
	}

	/* The daemon is still up, and the ledger grew by the one event and refusal
	 * summaries only. */
	after = checkpoint(NULL, NULL);
	assert_true(after.ck_size > before.ck_size + 1);
	for (uint64_t i = before.ck_size; i < after.ck_size; i++) {
		size_t len;
		uint8_t *leaf = get_leaf(i, &len);
		assert_true(len > SAKSI_LEAF_HDR);
		if (leaf[1] == SAKSI_LEAF_EVENT) {
			events++;
			assert_int_equal(len, SAKSI_LEAF_HDR + ok5.env_len);
			assert_memory_equal(leaf + SAKSI_LEAF_HDR, ok5.env, ok5.env_len);
		} else {
			assert_int_equal(leaf[1], SAKSI_LEAF_REFUSALS);
		}
		free(leaf);
	}
	assert_int_equal(events, 1);
	fx_item_free(&ok5);
	saksi_seckey_free(stranger);
}

/* Writes raw bytes to the ipc socket or the tcp port (below nanomsg's framing) and
 * hangs up. */
static void
raw_stream(int tcp, const void *bytes, size_t len)
{
	struct sockaddr_un su;
	struct sockaddr_in si;
	int fd = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM, 0);
	char buf[64];
	struct timeval tv = { 0, 200000 };

	assert_true(fd >= 0);
	if (tcp) {
		memset(&si, 0, sizeof(si));
		si.sin_family = AF_INET;
		si.sin_port = htons((uint16_t)tcp_port);
		si.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(connect(fd, (struct sockaddr *)&si, sizeof(si)), 0);
	} else {
		memset(&su, 0, sizeof(su));
		su.sun_family = AF_UNIX;
		snprintf(su.sun_path, sizeof(su.sun_path), "%s/ingest.sock", sd.fx.dir);
		assert_int_equal(connect(fd, (struct sockaddr *)&su, sizeof(su)), 0);
	}
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	/* Read what the daemon says (its own SP header, or nothing) until it hangs up or
	 * a moment passes: then the bytes have been seen. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

/*
 * Bytes that are not nanomsg at all, or broken nanomsg framing, on both transports: the
 * daemon must drop the connection and go on answering everyone else. (Not here: an ipc
 * message whose type byte is not 1, which makes nanomsg 1.1.5 itself abort the process;
 * see docs/saksid.conf.example.)
 */
static void
test_hostile_streams(void **state)
{
	static const uint8_t sp_req[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };
	uint8_t b[64];
	uint64_t size = checkpoint(NULL, NULL).ck_size;
	(void)state;

	for (int tcp = 0; tcp <= 1; tcp++) {
		size_t h = tcp ? 8 : 9;   /* ipc frames carry a type byte before the length */

		raw_stream(tcp, "GET / HTTP/1.0\r\n\r\n", 18);
		memcpy(b, sp_req, 8);
		b[5] = 0x10;                               /* a PAIR peer, not REQ */
		raw_stream(tcp, b, 8);
		memcpy(b, sp_req, 8);
		b[8] = 0x01;
		saksi_put_u64(b + h, 1ull << 40);          /* a terabyte-long message */
		raw_stream(tcp, b, 8 + h);
		saksi_put_u64(b + h, UINT64_MAX);
		raw_stream(tcp, b, 8 + h);
		saksi_put_u64(b + h, 30);                  /* cut short */
		raw_stream(tcp, b, 8 + h + 8);
		saksi_put_u64(b + h, 2);                   /* no REQ request id */
		b[h + 8] = 1;
		b[h + 9] = SAKSI_OP_CHECKPOINT;
		raw_stream(tcp, b, h + 10);
		saksi_put_u64(b + h, 6);                   /* a request id, then 2 bytes */
		saksi_put_u32(b + h + 8, 0x80000001);
		b[h + 12] = 1;
		b[h + 13] = SAKSI_OP_CHECKPOINT;
		raw_stream(tcp, b, h + 14);
		saksi_put_u32(b + h + 8, 0x00000001);      /* a request id without its end bit */
		raw_stream(tcp, b, h + 14);
		assert_int_equal(checkpoint(NULL, NULL).ck_size, size);
	}
}

static void
test_read_ops(void **state)
{
	saksi_checkpoint a, b;
	saksi_tlog_proof *tp = calloc(1, sizeof(*tp));
	uint8_t req[18], *r, *leaf;
	size_t rlen, llen;
	saksi_hash h, proof[SAKSI_MERKLE_MAX_PROOF];
	(void)state;

	assert_int_equal(saksi_checkpoint_open(ck_after_producers, ck_after_producers_len,
	                                       &sd.fx.v, &a), SAKSI_OK);
	b = checkpoint(NULL, NULL);

	/* Inclusion of leaf 7 in the latest checkpoint (size 0 = latest). */
	req[0] = 1;
	req[1] = SAKSI_OP_INCLUSION;
	saksi_put_u64(req + 2, 7);
	saksi_put_u64(req + 10, 0);
	rlen = rpc(req, 18, &r);
	assert_int_equal(r[2], 0);
	assert_int_equal(saksi_tlog_proof_parse((char *)r + 3, rlen - 3, tp), SAKSI_OK);
	free(r);
	leaf = get_leaf(7, &llen);
	assert_memory_equal(tp->tp_extra, leaf, SAKSI_LEAF_HDR);
	saksi_merkle_leaf_hash(h, leaf, llen);
	free(leaf);
	assert_int_equal(saksi_tlog_proof_verify(tp, &sd.fx.v, h, NULL), SAKSI_OK);
	/* ... and in the older checkpoint, by its size. */
	saksi_put_u64(req + 10, a.ck_size);
	rlen = rpc(req, 18, &r);
	assert_int_equal(r[2], 0);
	assert_int_equal(saksi_tlog_proof_parse((char *)r + 3, rlen - 3, tp), SAKSI_OK);
	free(r);
	assert_int_equal(saksi_tlog_proof_verify(tp, &sd.fx.v, h, NULL), SAKSI_OK);
	/* A size with no checkpoint, an index past it. */
	saksi_put_u64(req + 10, a.ck_size - 1);
	assert_int_equal(status_of(req, 18), SAKSI_R_PARSE);
	saksi_put_u64(req + 2, a.ck_size);
	saksi_put_u64(req + 10, a.ck_size);
	assert_int_equal(status_of(req, 18), SAKSI_R_PARSE);

	/* Consistency between the two checkpoints. */
	req[1] = SAKSI_OP_CONSISTENCY;
	saksi_put_u64(req + 2, a.ck_size);
	saksi_put_u64(req + 10, b.ck_size);
	rlen = rpc(req, 18, &r);
	assert_int_equal(r[2], 0);
	assert_int_equal(rlen, 4 + 32 * (size_t)r[3]);
	for (size_t i = 0; i < r[3]; i++)
		memcpy(proof[i], r + 4 + 32 * i, 32);
	assert_int_equal(saksi_merkle_verify_consistency(a.ck_size, b.ck_size, a.ck_root,
	                                                 b.ck_root, proof, r[3]), SAKSI_OK);
	free(r);
	saksi_put_u64(req + 2, 0);
	assert_int_equal(status_of(req, 18), SAKSI_R_PARSE);
	saksi_put_u64(req + 2, 1);
	saksi_put_u64(req + 10, b.ck_size + 1);
	assert_int_equal(status_of(req, 18), SAKSI_R_PARSE);

	/* get past the end. */
	req[1] = SAKSI_OP_GET;
	saksi_put_u64(req + 2, b.ck_size);
	assert_int_equal(status_of(req, 10), SAKSI_R_PARSE);
	free(tp);
}

static void
test_stop_and_verify(void **state)
{
	saksi_ledger *l;
	saksi_ledger_txn *t;
	saksi_merkle_range mr;
	saksi_checkpoint ck;
	saksi_hash root, h;
	uint64_t size, ck_size, events = 0;
	char *note, *log;
	size_t note_len;
	(void)state;

	assert_int_equal(kill(sd.pid, SIGTERM), 0);
	assert_int_equal(wait_exit(sd.pid), 0);
	sd.pid = -1;
	log = fx_read(sd.errlog, NULL);
	printf("# saksid's log:\n%s", log);
	assert_non_null(strstr(log, "started: origin " FX_ORIGIN));
	assert_non_null(strstr(log, "stopping on SIGTERM"));
	assert_non_null(strstr(log, "stopped:"));
	/* Personal data never reaches the log. */
	assert_null(strstr(log, "7371054507880003"));
	assert_null(strstr(log, "SITI RAHMAWATI"));
	free(log);

	/* The whole ledger: a hash chain and a tree that match the latest checkpoint. */
	l = lf_open_ro(sd.ledger_dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	size = saksi_ledger_size(t);
	assert_int_equal(saksi_ledger_ckpt_latest(t, &ck_size, &note, &note_len), SAKSI_OK);
	assert_int_equal(ck_size, size);
	assert_int_equal(saksi_checkpoint_open(note, note_len, &sd.fx.v, &ck), SAKSI_OK);
	free(note);
	saksi_merkle_range_init(&mr);
	for (uint64_t i = 0; i < size; i++) {
		saksi_leaf lf;
		uint8_t *leaf;
		size_t len;

		assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &len), SAKSI_OK);
		assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
		assert_int_equal(saksi_merkle_range_root(&mr, root), SAKSI_OK);
		assert_memory_equal(lf.lf_prev_root, root, 32);
		saksi_merkle_leaf_hash(h, leaf, len);
		assert_int_equal(saksi_merkle_range_push(&mr, h), SAKSI_OK);
		events += lf.lf_kind == SAKSI_LEAF_EVENT;
		free(leaf);
	}
	assert_int_equal(saksi_merkle_range_root(&mr, root), SAKSI_OK);
	assert_memory_equal(root, ck.ck_root, 32);
	assert_int_equal(events, NTHREADS * BATCHES * PER_BATCH + 1);
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_refusals),
		cmocka_unit_test(test_producers),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_hostile_streams),
		cmocka_unit_test(test_read_ops),
		cmocka_unit_test(test_stop_and_verify),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
