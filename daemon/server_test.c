/*
 * server_test.c: the server in-process on an ipc:// URL in a temporary directory: start
 * errors, full queues answered `unavailable` instead of growing, and one submission
 * through all the threads with the counters it leaves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "../tests/daemon_fixture.h"
#include "bytes.h"
#include "commit.h"
#include "ledger.h"
#include "server.h"
#include "wire.h"

static struct fx fx;
static saksi_ledger *ledger;
static saksid_committer *cm;
static char url[256], busy_url[64];

static int
setup(void **state)
{
	char dir[200];
	saksid_commit_opts co;
	(void)state;

	fx_init(&fx, 0);
	snprintf(dir, sizeof(dir), "%s/ledger", fx.dir);
	mkdir(dir, 0700);
	if (saksi_ledger_open(dir, FX_ORIGIN, fx.vkey, NULL, &ledger) != SAKSI_OK)
		return -1;
	memset(&co, 0, sizeof(co));
	co.co_ledger = ledger;
	co.co_origin = FX_ORIGIN;
	co.co_log_key = fx.log;
	co.co_store_key = fx.store;
	co.co_max_clock_skew_ms = 100ull * 365 * 86400000;   /* FX_NOW is fixed */
	if (saksid_commit_new(&co, &cm) != SAKSI_OK)
		return -1;
	snprintf(url, sizeof(url), "ipc://%s/s.sock", fx.dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	saksid_commit_free(cm);
	saksi_ledger_close(ledger);
	fx_free(&fx);
	return 0;
}

static void
opts(saksid_server_opts *o, const char *const *listen)
{
	memset(o, 0, sizeof(*o));
	o->so_listen = listen;
	o->so_nlisten = 1;
	o->so_ledger = ledger;
	o->so_ingest = fx.ig;
	o->so_committer = cm;
	o->so_workers = 2;
	o->so_group_max = 64;
	o->so_group_wait_us = 100;
}

static size_t
rpc(const void *req, size_t len, uint8_t **reply)
{
	int s = nn_socket(AF_SP, NN_REQ), to = 30000, n;
	void *buf = NULL;

	assert_true(s >= 0);
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	assert_true(nn_connect(s, url) >= 0);
	assert_int_equal(nn_send(s, req, len, 0), (int)len);
	n = nn_recv(s, &buf, NN_MSG, 0);
	assert_true(n >= 3);
	*reply = malloc((size_t)n + 1);
	memcpy(*reply, buf, (size_t)n);
	(*reply)[n] = 0;
	nn_freemsg(buf);
	nn_close(s);
	return (size_t)n;
}

static uint8_t *
submit_req(const struct fx_item *fi, size_t *len)
{
	uint8_t *req;

	*len = 4 + 8 + fi->env_len + fi->sealed_len;
	req = malloc(*len);
	req[0] = 1;
	req[1] = SAKSI_OP_SUBMIT;
	saksi_put_u16(req + 2, 1);
	saksi_put_u32(req + 4, (uint32_t)fi->env_len);
	memcpy(req + 8, fi->env, fi->env_len);
	saksi_put_u32(req + 8 + fi->env_len, (uint32_t)fi->sealed_len);
	memcpy(req + 12 + fi->env_len, fi->sealed, fi->sealed_len);
	return req;
}

static void
test_start_errors(void **state)
{
	const char *bad[] = { busy_url };
	const char *good[] = { url };
	saksid_server_opts o;
	saksid_server *s;
	char err[256], want[128];
	struct sockaddr_in si;
	socklen_t sl = sizeof(si);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	(void)state;

	/* A port someone else holds. (Not a missing ipc directory: nanomsg 1.1.5 leaks
	 * its endpoint when an ipc bind fails, which LeakSanitizer would report.) */
	memset(&si, 0, sizeof(si));
	si.sin_family = AF_INET;
	si.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&si, sizeof(si)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&si, &sl), 0);
	snprintf(busy_url, sizeof(busy_url), "tcp://127.0.0.1:%d", ntohs(si.sin_port));
	opts(&o, bad);
	assert_int_equal(saksid_server_start(&o, &s, err, sizeof(err)), SAKSI_ERR_NET);
	assert_null(s);
	snprintf(want, sizeof(want), "cannot listen on %s: ", busy_url);
	assert_non_null(strstr(err, want));
	close(fd);
	opts(&o, good);
	o.so_workers = 0;
	assert_int_equal(saksid_server_start(&o, &s, err, sizeof(err)), SAKSI_ERR_INVAL);
	opts(&o, good);
	o.so_group_max = SAKSID_COMMIT_ITEMS_MAX + 1;
	assert_int_equal(saksid_server_start(&o, &s, err, sizeof(err)), SAKSI_ERR_INVAL);
	opts(&o, good);
	o.so_nlisten = 0;
	assert_int_equal(saksid_server_start(&o, &s, err, sizeof(err)), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_server_start(NULL, &s, err, sizeof(err)), SAKSI_ERR_INVAL);
	saksid_server_stop(NULL, NULL);
}

static void
test_busy(void **state)
{
	const char *listen[] = { url };
	static const uint8_t ck[2] = { 1, SAKSI_OP_CHECKPOINT };
	saksid_server_opts o;
	saksid_server *s;
	saksid_server_stats st;
	struct fx_item fi;
	uint8_t *req, *r;
	size_t len, rlen;
	(void)state;

	/* A byte cap no request fits under: every request is answered at once. */
	opts(&o, listen);
	o.so_queue_bytes = 1;
	assert_int_equal(saksid_server_start(&o, &s, NULL, 0), SAKSI_OK);
	fx_booking(&fx, FX_QUEUE, 1, FX_NOW, &fi);
	req = submit_req(&fi, &len);
	rlen = rpc(req, len, &r);
	assert_int_equal(r[2], SAKSI_R_UNAVAILABLE);
	assert_non_null(strstr((char *)r + 3, "busy"));
	(void)rlen;
	free(r);
	rpc(ck, 2, &r);
	assert_int_equal(r[1], SAKSI_OP_CHECKPOINT);
	assert_int_equal(r[2], SAKSI_R_UNAVAILABLE);
	free(r);
	saksid_server_stop(s, &st);
	assert_int_equal(st.ss_requests, 2);
	assert_int_equal(st.ss_busy, 2);
	assert_int_equal(st.ss_groups, 0);

	/* The same with room: accepted, then the checkpoint. */
	opts(&o, listen);
	assert_int_equal(saksid_server_start(&o, &s, NULL, 0), SAKSI_OK);
	rlen = rpc(req, len, &r);
	assert_int_equal(r[2], 0);
	assert_int_equal(saksi_get_u16(r + 3), 1);
	assert_int_equal(r[5], SAKSI_R_ACCEPTED);
	assert_int_equal(rlen, 10 + saksi_get_u32(r + 6));
	free(r);
	rlen = rpc(ck, 2, &r);
	assert_int_equal(r[2], 0);
	{
		saksi_checkpoint c;
		assert_int_equal(saksi_checkpoint_open((char *)r + 3, rlen - 3, &fx.v, &c),
		                 SAKSI_OK);
		assert_int_equal(c.ck_size, 1);
	}
	free(r);
	saksid_server_stop(s, &st);
	assert_int_equal(st.ss_requests, 2);
	assert_int_equal(st.ss_busy, 0);
	assert_int_equal(st.ss_groups, 1);
	assert_int_equal(st.ss_items[SAKSI_R_ACCEPTED], 1);
	free(req);
	fx_item_free(&fi);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_errors),
		cmocka_unit_test(test_busy),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
