/*
 * queryreload_test.c: a remote query (op 7) answered under one keyring whose access
 * entry reaches the committer after a reload, in a real in-process server with real
 * indexes: its rows leave only if the keyring in force then still allows its key (a
 * reload adding another key: answered, the access entry after the keyring entry); a
 * reload revoking it: refused as revoked, no access entry written.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include <jansson.h>

#include "../tests/server_fixture.h"
#include "../tests/daemon_run.h"
#include "blind.h"
#include "commit.h"
#include "keyreload.h"
#include "ledger.h"
#include "remoteq.h"
#include "server.h"
#include "wire.h"

static const char nik[] = "7371012345600001";

static struct fx fx;
static saksi_ledger *ledger;
static saksid_committer *cm;
static saksi_blind *blind;
static saksi_seckey *acc, *sup;
static saksi_keyring *kr;
static saksid_ingest *ig;
static char url[256], kr_path[128], *kr_json;

/* kr_json with one more key (role, branch "*"), written to kr_path. */
static void
add_key(const saksi_seckey *k, const char *name, const char *role)
{
	json_t *root = json_loads(kr_json, 0, NULL);
	char events[64];

	assert_non_null(root);
	snprintf(events, sizeof(events), "%s.*", role);
	json_object_set_new(json_object_get(root, "roles"), role, json_pack("[s]", events));
	assert_int_equal(json_array_append_new(json_object_get(root, "keys"),
	    kf_entry(k, name, role, "*")), 0);
	free(kr_json);
	assert_non_null(kr_json = json_dumps(root, JSON_INDENT(2)));
	json_decref(root);
	fx_write(kr_path, kr_json, strlen(kr_json), 0644);
}

/* kr_json with the key named name revoked at ms, written to kr_path. */
static void
revoke_key(const char *name, uint64_t ms)
{
	json_t *root = json_loads(kr_json, 0, NULL), *k;
	size_t i;

	assert_non_null(root);
	json_array_foreach(json_object_get(root, "keys"), i, k)
		if (strcmp(json_string_value(json_object_get(k, "name")), name) == 0)
			json_object_set_new(k, "revoked_ms", json_integer((json_int_t)ms));
	free(kr_json);
	assert_non_null(kr_json = json_dumps(root, JSON_INDENT(2)));
	json_decref(root);
	fx_write(kr_path, kr_json, strlen(kr_json), 0644);
}

static int
setup(void **state)
{
	char dir[200];
	saksi_seckey *ixk;
	saksid_commit_opts co;
	(void)state;

	fx_init(&fx, 0);
	acc = fx_key(fx.seed, "access", SAKSI_KEY_SIGN);
	sup = fx_key(fx.seed, "supervisor", SAKSI_KEY_SIGN);
	ixk = fx_key(fx.seed, "index", SAKSI_KEY_SYM);
	if (saksi_blind_new(saksi_seckey_sym(ixk), &blind) != SAKSI_OK)
		return -1;
	saksi_seckey_free(ixk);
	snprintf(kr_path, sizeof(kr_path), "%s/keyring.json", fx.dir);
	if ((kr_json = strdup(fx.keyring_json)) == NULL)
		return -1;
	add_key(acc, "access", "supervisor");
	add_key(sup, "sup-1", "supervisor");
	if (saksi_keyring_parse(kr_json, strlen(kr_json), &kr, NULL, 0) != SAKSI_OK ||
	    saksid_ingest_new(kr, fx.sc, fx.box, &ig) != SAKSI_OK)
		return -1;
	saksid_ingest_index(ig, blind);
	snprintf(dir, sizeof(dir), "%s/ledger", fx.dir);
	mkdir(dir, 0700);
	if (saksi_ledger_open(dir, FX_ORIGIN, fx.vkey, NULL, &ledger) != SAKSI_OK)
		return -1;
	fx_commit_opts(&co, &fx, ledger, 100ull * 365 * 86400000);
	co.co_blind = blind;
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
	saksid_ingest_free(ig);
	saksi_keyring_free(kr);
	saksi_blind_free(blind);
	saksi_seckey_free(acc);
	saksi_seckey_free(sup);
	free(kr_json);
	fx_free(&fx);
	return 0;
}

static uint64_t
ledger_size(void)
{
	return lf_size(ledger);
}

/* A personal look by k sent over a socket of its own; *hash its request's. */
static int
query_send_by(const saksi_seckey *k, uint8_t hash[32])
{
	saksi_rq_params p;
	uint8_t *req, *msg;
	size_t len;
	int s = nn_socket(AF_SP, NN_REQ), to = 60000, max = -1;

	memset(&p, 0, sizeof(p));
	p.rp_command = SAKSI_RQ_QUERY;
	p.rp_limit = 5;
	p.rp_time_ms = wall_ms();
	p.rp_value[SAKSI_IX_NIK] = nik;
	assert_int_equal(saksi_rq_request_make(k, fx.box_pub.pk_key, &p, &req, &len),
	    SAKSI_OK);
	saksi_rq_request_hash(req, len, hash);
	assert_non_null(msg = malloc(len + 2));
	msg[0] = SAKSI_WIRE_VERSION;
	msg[1] = SAKSI_OP_QUERY;
	memcpy(msg + 2, req, len);
	assert_true(s >= 0);
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max, sizeof(max));
	assert_true(nn_connect(s, url) >= 0);
	assert_int_equal(nn_send(s, msg, len + 2, 0), (int)(len + 2));
	free(msg);
	free(req);
	return s;
}

/* Until the server's counter `field` reaches want (and not beyond). */
#define AWAIT(srv, field, want) \
	assert_int_equal(fx_server_await((srv), FX_STAT(field), (want)), (want))

static int
query_send(uint8_t hash[32])
{
	return query_send_by(sup, hash);
}

/* Its reply's status (s closed); answered, the access index, its reason otherwise. */
static int
query_recv_by(const saksi_seckey *k, int s, const uint8_t hash[32], uint64_t *access,
              char *why, size_t whylen)
{
	void *buf = NULL;
	uint8_t *r;
	uint64_t size;
	char *json = NULL;
	size_t jlen;
	int n, status;

	n = nn_recv(s, &buf, NN_MSG, 0);
	assert_true(n >= 3);
	r = buf;
	assert_int_equal(r[0], SAKSI_WIRE_VERSION);
	assert_int_equal(r[1], SAKSI_OP_QUERY);
	status = r[2];
	*access = UINT64_MAX;
	why[0] = '\0';
	if (status == 0) {
		assert_int_equal(saksi_rq_reply_open(r + 3, (size_t)n - 3, fx.v.nv_pk, hash, k,
		    access, &size, &json, &jlen), SAKSI_OK);
		sodium_memzero(json, jlen);
		free(json);
	} else
		snprintf(why, whylen, "%.*s", n - 3, (const char *)r + 3);
	nn_freemsg(buf);
	nn_close(s);
	return status;
}

static int
query_recv(int s, const uint8_t hash[32], uint64_t *access, char *why, size_t whylen)
{
	return query_recv_by(sup, s, hash, access, why, whylen);
}


/*
 * The reload in kr_path run while the committer is held by a write transaction; once
 * it has reached the committer, the query is sent (so it is answered under the old
 * keyring, its access entry committed under the new one), then the committer let go.
 * The reload's entry into *entry; the query's reply as query_recv.
 */
static int
reload_during_query(saksid_keyreload *kl, saksid_server *srv, uint64_t reloads,
                    uint64_t *entry, uint64_t *access, char *why, size_t whylen)
{
	saksid_server_stats st;
	saksi_ledger_txn *hold;
	struct fx_reload fr;
	uint8_t hash[32];
	int s;

	assert_int_equal(saksi_ledger_begin(ledger, 1, &hold), SAKSI_OK);
	saksid_server_stats_get(srv, &st);
	assert_int_equal(fx_reload_start(&fr, kl, srv, wall_ms()), 0);
	assert_int_equal(fx_server_await(srv, FX_STAT(ss_reloads), reloads), reloads);
	s = query_send(hash);
	/* The query answered by a worker under the old keyring (the swap waits for the
	 * committer, held) and its access entry checked, before the committer goes on. */
	AWAIT(srv, ss_checked, st.ss_checked + 1);
	saksi_ledger_abort(hold);
	assert_int_equal(fx_reload_join(&fr), SAKSI_OK);
	*entry = kl->kl_entry;
	return query_recv(s, hash, access, why, whylen);
}

static void
test_query_across_reload(void **state)
{
	const char *listen[1] = { url };
	saksid_server_opts so;
	saksid_server *srv;
	saksid_server_stats st;
	saksid_keyreload kl;
	saksid_keyreload_opts o;
	saksid_keyfile kf;
	saksi_seckey *other, *sup2, *sup3;
	saksi_ledger_txn *hold;
	uint64_t entry, access, size, revoke_at;
	int s;
	uint8_t hash[32], hash3[32];
	char why[SAKSID_MSG_MAX], want[SAKSID_MSG_MAX], hex[17];
	int s3;
	(void)state;

	assert_int_equal(fx_keyring_record(cm, kr_path, &kf, &entry), SAKSI_OK);
	fx_server_opts(&so, listen, &fx, ledger, cm);
	so.so_ingest = ig;
	so.so_keyring = kr;
	so.so_blind = blind;
	so.so_store_key = fx.store;
	so.so_box_key = fx.box;
	so.so_log_key = fx.log;
	so.so_access_key = acc;
	assert_int_equal(saksid_server_start(&so, &srv, NULL, 0), SAKSI_OK);
	memset(&o, 0, sizeof(o));
	o.ko_path = kr_path;
	o.ko_sc = fx.sc;
	o.ko_box = fx.box;
	o.ko_index = blind;
	o.ko_access_id = saksi_seckey_id(acc);
	assert_int_equal(saksid_keyreload_init(&kl, &o, &kf, entry, FX_NOW), SAKSI_OK);

	/* Answered, its access entry committed first. */
	assert_int_equal(query_recv(query_send(hash), hash, &access, why, sizeof(why)), 0);
	assert_int_equal(access, entry + 1);

	/* A reload that leaves the requester as he was: answered under the old keyring,
	 * its access entry after the new keyring's. */
	other = fx_key(fx.seed, "other", SAKSI_KEY_SIGN);
	add_key(other, "other", "queue");
	assert_int_equal(reload_during_query(&kl, srv, 1, &entry, &access, why, sizeof(why)),
	    0);
	assert_true(access != UINT64_MAX && access > entry);

	/* A reload that revokes him: refused as revoked, no access entry. */
	revoke_key("sup-1", 1000);
	size = ledger_size();
	assert_int_equal(reload_during_query(&kl, srv, 2, &entry, &access, why, sizeof(why)),
	    SAKSI_R_REVOKED_KEY);
	sodium_bin2hex(hex, sizeof(hex), saksi_seckey_id(sup), SAKSI_KEYID_LEN);
	snprintf(want, sizeof(want), "key %s is revoked", hex);
	assert_string_equal(why, want);
	assert_int_equal(entry, size);
	assert_int_equal(ledger_size(), size + 1);   /* the keyring entry only */
	/* And from then on, at once. */
	assert_int_equal(query_recv(query_send(hash), hash, &access, why, sizeof(why)),
	    SAKSI_R_REVOKED_KEY);
	assert_int_equal(ledger_size(), size + 1);
	/* No reload between a query's check and its access entry, but a revocation dated
	 * in between: the rows go only to a key not revoked when the entry is written.
	 * sup-3's query holds the committer in a group of its own (blocked by `hold`, its
	 * time taken before T) while sup-2's is checked, before T, and queued behind it;
	 * the group that writes sup-2's access entry comes after T. */
	sup2 = fx_key(fx.seed, "supervisor-2", SAKSI_KEY_SIGN);
	sup3 = fx_key(fx.seed, "supervisor-3", SAKSI_KEY_SIGN);
	add_key(sup2, "sup-2", "supervisor");
	add_key(sup3, "sup-3", "supervisor");
	revoke_at = wall_ms() + 4000;
	revoke_key("sup-2", revoke_at);
	assert_int_equal(saksid_keyreload_run(&kl, srv, wall_ms()), SAKSI_OK);
	size = ledger_size();
	assert_int_equal(saksi_ledger_begin(ledger, 1, &hold), SAKSI_OK);
	saksid_server_stats_get(srv, &st);
	s3 = query_send_by(sup3, hash3);
	AWAIT(srv, ss_checked, st.ss_checked + 1);
	AWAIT(srv, ss_closed, st.ss_closed + 1);
	s = query_send_by(sup2, hash);
	AWAIT(srv, ss_checked, st.ss_checked + 2);   /* allowed at its check, queued */
	assert_true(wall_ms() < revoke_at);
	while (wall_ms() <= revoke_at) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	saksi_ledger_abort(hold);
	assert_int_equal(query_recv_by(sup3, s3, hash3, &access, why, sizeof(why)), 0);
	assert_int_equal(access, size);
	assert_int_equal(query_recv_by(sup2, s, hash, &access, why, sizeof(why)),
	    SAKSI_R_REVOKED_KEY);
	sodium_bin2hex(hex, sizeof(hex), saksi_seckey_id(sup2), SAKSI_KEYID_LEN);
	snprintf(want, sizeof(want), "key %s is revoked", hex);
	assert_string_equal(why, want);
	assert_int_equal(ledger_size(), size + 1);   /* sup-3's access entry only */
	/* Counted after the reply is sent: read once the server has stopped. */
	saksid_server_stop(srv, &st);
	assert_int_equal(st.ss_queries, 3);
	assert_int_equal(st.ss_query_refused, 3);
	/* The two queries answered under a keyring a reload then replaced: the first's
	 * access entry checked again and kept, the second refused. */
	assert_int_equal(st.ss_rechecked, 2);
	saksi_seckey_free(sup2);
	saksi_seckey_free(sup3);
	saksid_keyreload_clear(&kl);
	saksid_keyfile_clear(&kf);
	saksi_seckey_free(other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_across_reload),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
