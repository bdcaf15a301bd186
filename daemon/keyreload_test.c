/*
 * keyreload_test.c: the keyring file read once (hash, canonical JSON, entry bodies from
 * the same bytes), its errors, and a reload handed to a real in-process server: refused
 * while the server does not run (the old keyring stays, the status says why), recorded
 * once while it does, nothing written for the same keyring.
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
#include "bytes.h"
#include "commit.h"
#include "keyreload.h"
#include "ledger.h"
#include "server.h"
#include "wire.h"

static struct fx fx;
static saksi_ledger *ledger;
static saksid_committer *cm;
static char url[256], kr_path[128];

static int
setup(void **state)
{
	(void)state;
	if (fx_server_setup(&fx, &ledger, &cm, url, sizeof(url)) != 0)
		return -1;
	snprintf(kr_path, sizeof(kr_path), "%s/keyring.json", fx.dir);
	fx_write(kr_path, fx.keyring_json, strlen(fx.keyring_json), 0644);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	fx_server_teardown(&fx, ledger, cm);
	return 0;
}

static uint64_t
ledger_size(void)
{
	return lf_size(ledger);
}

static void
test_keyfile(void **state)
{
	saksid_keyfile kf;
	char err[256], path[200], *canon;
	uint8_t h[32], *body;
	size_t len, blen;
	saksi_keyring *kr;
	FILE *f;
	(void)state;

	assert_int_equal(saksid_keyfile_load(NULL, &kf, err, sizeof(err)), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_keyfile_load(kr_path, NULL, err, sizeof(err)), SAKSI_ERR_INVAL);
	snprintf(path, sizeof(path), "%s/none.json", fx.dir);
	assert_int_equal(saksid_keyfile_load(path, &kf, err, sizeof(err)), SAKSI_ERR_NOT_FOUND);
	assert_non_null(strstr(err, "none.json: No such file or directory"));
	assert_null(kf.kf_kr);
	/* A directory opens, and does not read. */
	assert_int_equal(saksid_keyfile_load(fx.dir, &kf, err, sizeof(err)), SAKSI_ERR_IO);
	snprintf(path, sizeof(path), "%s/bad.json", fx.dir);
	fx_write(path, "{\"saksi_keyring\": 1,", 20, 0644);
	assert_int_equal(saksid_keyfile_load(path, &kf, err, sizeof(err)), SAKSI_ERR_FORMAT);
	assert_null(kf.kf_kr);
	assert_null(kf.kf_canon);
	{
		/* fx's keyring, said to be of version 2. */
		char *v2 = strdup(fx.keyring_json), *p;

		assert_non_null(v2);
		assert_non_null(p = strstr(v2, "\"saksi_keyring\": 1"));
		p[strlen("\"saksi_keyring\": ")] = '2';
		fx_write(path, v2, strlen(v2), 0644);
		free(v2);
	}
	assert_int_equal(saksid_keyfile_load(path, &kf, err, sizeof(err)), SAKSI_ERR_VERSION);
	/* Over the cap: refused before any parse. */
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(ftruncate(fileno(f), SAKSI_KEYLOG_FILE_MAX + 1), 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(saksid_keyfile_load(path, &kf, err, sizeof(err)),
	                 SAKSI_ERR_TOO_LARGE);
	assert_non_null(strstr(err, "over 16777216 bytes"));

	/* One read: the hash of the bytes, the keyring, its canonical JSON and its entry. */
	assert_int_equal(saksid_keyfile_load(kr_path, &kf, err, sizeof(err)), SAKSI_OK);
	crypto_hash_sha256(h, (const uint8_t *)fx.keyring_json, strlen(fx.keyring_json));
	assert_memory_equal(kf.kf_sha256, h, 32);
	assert_int_equal(saksi_keyring_count(kf.kf_kr), fx.nprod);
	assert_int_equal(saksi_keylog_canon(fx.keyring_json, strlen(fx.keyring_json), &canon,
	                                    &len, NULL, 0), SAKSI_OK);
	assert_int_equal(kf.kf_canonlen, len);
	assert_string_equal(kf.kf_canon, canon);
	assert_int_equal(saksi_keylog_load(kr_path, &kr, &body, &blen, NULL, 0), SAKSI_OK);
	assert_int_equal(kf.kf_parts.kp_n, 1);
	assert_int_equal(kf.kf_parts.kp_len[0], blen);
	assert_memory_equal(kf.kf_parts.kp_body[0], body, blen);
	saksi_keyring_free(kr);
	free(body);
	free(canon);
	saksid_keyfile_clear(&kf);
	assert_null(kf.kf_kr);
	saksid_keyfile_clear(NULL);
}

static void
opts(saksid_keyreload_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ko_path = kr_path;
	o->ko_sc = fx.sc;
	o->ko_box = fx.box;
}

static void
test_init_errors(void **state)
{
	saksid_keyreload kl, kl2;
	saksid_keyreload_opts o;
	saksid_keyfile kf;
	(void)state;

	assert_int_equal(saksid_keyfile_load(kr_path, &kf, NULL, 0), SAKSI_OK);
	opts(&o);
	assert_int_equal(saksid_keyreload_init(NULL, &o, &kf, 0, 1), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_keyreload_init(&kl, NULL, &kf, 0, 1), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_keyreload_init(&kl, &o, NULL, 0, 1), SAKSI_ERR_INVAL);
	o.ko_path = NULL;
	assert_int_equal(saksid_keyreload_init(&kl, &o, &kf, 0, 1), SAKSI_ERR_INVAL);
	opts(&o);
	o.ko_sc = NULL;
	assert_int_equal(saksid_keyreload_init(&kl, &o, &kf, 0, 1), SAKSI_ERR_INVAL);
	opts(&o);
	o.ko_box = NULL;
	assert_int_equal(saksid_keyreload_init(&kl, &o, &kf, 0, 1), SAKSI_ERR_INVAL);
	opts(&o);
	assert_int_equal(saksid_keyreload_init(&kl, &o, &kf, 7, 1), SAKSI_OK);
	assert_null(kf.kf_canon);   /* taken */
	/* Taken once: a second init has no canonical JSON to take. */
	assert_int_equal(saksid_keyreload_init(&kl2, &o, &kf, 7, 1), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_keyreload_run(NULL, NULL, 1), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_keyreload_publish(NULL, NULL), SAKSI_ERR_INVAL);
	saksid_keyreload_clear(&kl);
	saksid_keyreload_clear(NULL);
	saksid_keyfile_clear(&kf);
}

/* The status op's keyring member of srv. */
static json_t *
status_keyring(saksid_server *srv)
{
	char *text;
	json_t *j, *k;

	assert_int_equal(saksid_server_status_json(srv, &text), SAKSI_OK);
	assert_non_null(j = json_loads(text, JSON_REJECT_DUPLICATES, NULL));
	free(text);
	k = json_incref(json_object_get(j, "keyring"));
	json_decref(j);
	return k;
}

/* fx's keyring with the queue key k (name) more, and the key named `moved` (unless NULL)
 * given branch `to`, written to kr_path. */
static void
keyring_with(const saksi_seckey *k, const char *name, const char *moved, const char *to)
{
	json_t *root = json_loads(fx.keyring_json, 0, NULL), *e;
	size_t i;
	char *text;

	assert_non_null(root);
	assert_int_equal(json_array_append_new(json_object_get(root, "keys"),
	    kf_entry(k, name, "queue", FX_BRANCH)), 0);
	json_array_foreach(json_object_get(root, "keys"), i, e)
		if (moved != NULL &&
		    strcmp(json_string_value(json_object_get(e, "name")), moved) == 0)
			json_object_set_new(e, "branch", json_string(to));
	assert_non_null(text = json_dumps(root, JSON_INDENT(2)));
	fx_write(kr_path, text, strlen(text), 0644);
	free(text);
	json_decref(root);
}

/* fx's keyring with one more key, written to kr_path; the key returned. */
static saksi_seckey *
add_key(const char *name)
{
	saksi_seckey *k = fx_key(fx.seed, name, SAKSI_KEY_SIGN);

	keyring_with(k, name, NULL, NULL);
	return k;
}

/* Sends one booking signed by k with seq, at branch (NULL: the example's); the socket to
 * read its answer from. */
static int
submit_send_at(const saksi_seckey *k, uint64_t seq, const char *branch)
{
	const char *set[] = { "branch", branch, NULL };
	struct fx_item fi;
	char *p = fx_payload("queue.booking.created", branch != NULL ? set : NULL);
	uint8_t *req;
	size_t len;
	int s = nn_socket(AF_SP, NN_REQ), to = 60000;

	fx_build(&fx, k, "queue.booking.created", p, seq, FX_NOW, &fi);
	free(p);
	len = 4 + 8 + fi.env_len + fi.sealed_len;
	assert_non_null(req = malloc(len));
	req[0] = 1;
	req[1] = SAKSI_OP_SUBMIT;
	saksi_put_u16(req + 2, 1);
	saksi_put_u32(req + 4, (uint32_t)fi.env_len);
	memcpy(req + 8, fi.env, fi.env_len);
	saksi_put_u32(req + 8 + fi.env_len, (uint32_t)fi.sealed_len);
	memcpy(req + 12 + fi.env_len, fi.sealed, fi.sealed_len);
	assert_true(s >= 0);
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to));
	assert_true(nn_connect(s, url) >= 0);
	assert_int_equal(nn_send(s, req, len, 0), (int)len);
	free(req);
	fx_item_free(&fi);
	return s;
}

static int
submit_send(const saksi_seckey *k, uint64_t seq)
{
	return submit_send_at(k, seq, NULL);
}

/* The answer's code on s (closed). */
static int
submit_recv(int s)
{
	void *buf = NULL;
	uint8_t *r;
	int n, code;

	n = nn_recv(s, &buf, NN_MSG, 0);
	assert_true(n >= 6);
	r = buf;
	assert_int_equal(r[2], 0);
	code = r[5];
	nn_freemsg(buf);
	nn_close(s);
	return code;
}

static int
submit(const saksi_seckey *k, uint64_t seq)
{
	return submit_recv(submit_send(k, seq));
}

static void
test_reload_server(void **state)
{
	const char *listen[1] = { url };
	saksid_server_opts so;
	saksid_server *srv;
	saksid_keyreload kl;
	saksid_keyreload_opts o;
	saksid_keyfile kf;
	saksid_ingest *ig;
	saksi_keyring *kr;
	saksi_seckey *k;
	const uint8_t *b[1];
	size_t l[1];
	uint64_t entry, size, idx;
	json_t *j;
	(void)state;

	assert_int_equal(fx_keyring_record(cm, kr_path, &kf, &entry), SAKSI_OK);
	fx_server_opts(&so, listen, &fx, ledger, cm);
	assert_int_equal(saksid_server_bind(&so, &srv, NULL, 0), SAKSI_OK);
	opts(&o);
	assert_int_equal(saksid_keyreload_init(&kl, &o, &kf, entry, FX_NOW), SAKSI_OK);
	assert_int_equal(saksid_server_keyring_info_set(NULL, "{}"), SAKSI_ERR_INVAL);
	assert_int_equal(saksid_keyreload_publish(&kl, srv), SAKSI_OK);
	j = status_keyring(srv);
	assert_int_equal(json_integer_value(json_object_get(j, "entry")), entry);
	assert_int_equal(json_integer_value(json_object_get(j, "count")), fx.nprod);
	assert_int_equal(json_integer_value(json_object_get(j, "rechecked")), 0);
	assert_true(json_is_null(json_object_get(j, "last_reload")));
	json_decref(j);

	/* Bound, not running: no committer thread to swap; the caller keeps what it gave. */
	assert_int_equal(saksid_ingest_new(fx.kr, fx.sc, fx.box, &ig), SAKSI_OK);
	assert_int_equal(saksi_keyring_parse(fx.keyring_json, strlen(fx.keyring_json), &kr,
	                                     NULL, 0), SAKSI_OK);
	b[0] = kf.kf_parts.kp_body[0];
	l[0] = kf.kf_parts.kp_len[0];
	assert_int_equal(saksid_server_keyring_swap(srv, ig, kr, b, l, 1, FX_NOW, &idx),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(idx, UINT64_MAX);
	assert_int_equal(saksid_server_keyring_swap(NULL, ig, kr, b, l, 1, FX_NOW, NULL),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksid_server_keyring_swap(srv, NULL, kr, b, l, 1, FX_NOW, NULL),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksid_server_keyring_swap(srv, ig, NULL, b, l, 1, FX_NOW, NULL),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksid_server_keyring_swap(srv, ig, kr, NULL, l, 1, FX_NOW, NULL),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksid_server_keyring_swap(srv, ig, kr, b, l, 0, FX_NOW, NULL),
	                 SAKSI_ERR_INVAL);
	saksid_ingest_free(ig);
	saksi_keyring_free(kr);
	/* A reload then: the changed file is not in force, and the status says why. */
	k = add_key("kiosk-new");
	size = ledger_size();
	assert_int_equal(saksid_keyreload_run(&kl, srv, FX_NOW), SAKSI_ERR_INVAL);
	assert_int_equal(ledger_size(), size);
	assert_int_equal(kl.kl_entry, entry);
	assert_int_equal(kl.kl_count, fx.nprod);
	j = status_keyring(srv);
	assert_true(json_is_false(json_object_get(json_object_get(j, "last_reload"), "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(j,
	    "last_reload"), "error")), "the keyring entry was not written: "));
	json_decref(j);

	/* Running: recorded once, checked with from then on. */
	assert_int_equal(saksid_server_run(srv, NULL, 0), SAKSI_OK);
	assert_int_equal(submit(k, 1), SAKSI_R_UNKNOWN_KEY);
	size = ledger_size();
	assert_int_equal(saksid_keyreload_run(&kl, srv, FX_NOW), SAKSI_OK);
	assert_int_equal(kl.kl_entry, size);
	assert_int_equal(ledger_size(), size + 1);
	assert_int_equal(kl.kl_count, fx.nprod + 1);
	assert_int_equal(submit(k, 2), SAKSI_R_ACCEPTED);
	j = status_keyring(srv);
	assert_int_equal(json_integer_value(json_object_get(j, "entry")), size);
	assert_true(json_is_true(json_object_get(json_object_get(j, "last_reload"), "ok")));
	assert_true(json_is_true(json_object_get(json_object_get(j, "last_reload"),
	    "changed")));
	json_decref(j);
	/* The same again: nothing written. */
	size = ledger_size();
	assert_int_equal(saksid_keyreload_run(&kl, srv, FX_NOW), SAKSI_OK);
	assert_int_equal(ledger_size(), size);
	/* saksid's own keys must stay, unrevoked: their entries must verify. */
	{
		char *rev = strdup(fx.keyring_json), *p;

		assert_non_null(rev);
		assert_non_null(p = strstr(rev, "\"name\": \"producer-0\""));
		assert_non_null(p = strstr(p, "\"revoked_ms\": null"));
		memcpy(p, "\"revoked_ms\": 1000", 18);
		p[18] = ' ';
		p[19] = ' ';
		fx_write(kr_path, rev, strlen(rev), 0644);
		free(rev);
	}
	kl.kl_o.ko_retention_id = saksi_seckey_id(fx.prod[FX_QUEUE]);
	assert_int_equal(saksid_keyreload_run(&kl, srv, FX_NOW), SAKSI_ERR_KEY);
	assert_int_equal(ledger_size(), size);
	assert_non_null(strstr(kl.kl_reload_err, "the retention_key "));
	assert_non_null(strstr(kl.kl_reload_err, " must stay in it, not revoked"));
	kl.kl_o.ko_retention_id = NULL;
	/* The access key: in it, branch "*", a role that may sign access entries. */
	kl.kl_o.ko_access_id = saksi_seckey_id(fx.prod[FX_NATIONAL]);
	assert_int_equal(saksid_keyreload_run(&kl, srv, FX_NOW), SAKSI_ERR_KEY);
	assert_non_null(strstr(kl.kl_reload_err, "with role supervisor and branch \"*\""));
	kl.kl_o.ko_access_id = NULL;
	assert_int_equal(ledger_size(), size);
	assert_int_equal(submit(k, 3), SAKSI_R_ACCEPTED);
	size = ledger_size();
	/* Back to the start's keyring: the new key unknown again. */
	fx_write(kr_path, fx.keyring_json, strlen(fx.keyring_json), 0644);
	assert_int_equal(saksid_keyreload_run(&kl, srv, FX_NOW), SAKSI_OK);
	assert_int_equal(kl.kl_entry, size);
	assert_int_equal(submit(k, 4), SAKSI_R_UNKNOWN_KEY);
	saksid_server_stop(srv, NULL);
	saksid_keyreload_clear(&kl);
	saksid_keyfile_clear(&kf);
	saksi_seckey_free(k);
}

/* A keyring too large for one entry: reloaded as one set of parts, as at start. */
static void
test_reload_parts(void **state)
{
	const char *listen[1] = { url };
	saksid_server_opts so;
	saksid_server *srv;
	saksid_keyreload kl;
	saksid_keyreload_opts o;
	saksid_keyfile kf;
	saksi_ledger_txn *t;
	char *json, *canon;
	size_t clen, nparts;
	uint64_t entry, size;
	(void)state;

	fx_write(kr_path, fx.keyring_json, strlen(fx.keyring_json), 0644);
	assert_int_equal(fx_keyring_record(cm, kr_path, &kf, &entry), SAKSI_OK);
	fx_server_opts(&so, listen, &fx, ledger, cm);
	assert_int_equal(saksid_server_start(&so, &srv, NULL, 0), SAKSI_OK);
	opts(&o);
	assert_int_equal(saksid_keyreload_init(&kl, &o, &kf, entry, FX_NOW), SAKSI_OK);
	saksid_keyfile_clear(&kf);

	json = dr_keyring_more(&fx, 700, "big", "queue", FX_BRANCH);
	fx_write(kr_path, json, strlen(json), 0644);
	free(json);
	size = ledger_size();
	assert_int_equal(saksid_keyreload_run(&kl, srv, FX_NOW), SAKSI_OK);
	printf("# 700 keys more: %zu parts from entry %llu\n", kl.kl_nparts,
	    (unsigned long long)kl.kl_entry);
	assert_true(kl.kl_nparts >= 2);
	assert_int_equal(kl.kl_entry, size);
	assert_int_equal(kl.kl_count, fx.nprod + 700);
	assert_int_equal(ledger_size(), size + kl.kl_nparts);
	/* The set joins to exactly the keyring in force. */
	assert_int_equal(saksi_ledger_begin(ledger, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_keylog_read(t, kl.kl_entry, &canon, &clen, &nparts, NULL, 0),
	                 SAKSI_OK);
	saksi_ledger_abort(t);
	assert_int_equal(nparts, kl.kl_nparts);
	assert_int_equal(clen, kl.kl_canonlen);
	assert_memory_equal(canon, kl.kl_canon, clen);
	free(canon);
	/* The same set again: nothing. */
	assert_int_equal(saksid_keyreload_run(&kl, srv, FX_NOW), SAKSI_OK);
	assert_int_equal(ledger_size(), size + kl.kl_nparts);
	/* Back to one entry. */
	size = ledger_size();
	fx_write(kr_path, fx.keyring_json, strlen(fx.keyring_json), 0644);
	assert_int_equal(saksid_keyreload_run(&kl, srv, FX_NOW), SAKSI_OK);
	assert_int_equal(kl.kl_nparts, 1);
	assert_int_equal(ledger_size(), size + 1);
	assert_int_equal(submit(fx.prod[FX_QUEUE], 100), SAKSI_R_ACCEPTED);
	saksid_server_stop(srv, NULL);
	saksid_keyreload_clear(&kl);
}


/*
 * An event of a key a reload adds, sent while the reload waits for the committer: it is
 * checked under the old keyring (unknown_key) and committed after the new one's entry,
 * so the committer decides it again under the new keyring and accepts it. (The commit
 * is held back by a write transaction of the test's, so that the reload cannot finish
 * before the event is checked.) An event of a key both keyrings revoke is decided
 * again too, and stays refused.
 */
static void
test_reload_unknown_recheck(void **state)
{
	const char *listen[1] = { url };
	saksid_server_opts so;
	saksid_server *srv;
	saksid_server_stats st;
	saksid_keyreload kl;
	saksid_keyreload_opts o;
	saksid_keyfile kf;
	saksi_ledger_txn *hold;
	saksi_seckey *k;
	struct fx_reload fr;
	uint64_t entry, checked;
	int sk, sr, sm;
	(void)state;

	fx_write(kr_path, fx.keyring_json, strlen(fx.keyring_json), 0644);
	assert_int_equal(fx_keyring_record(cm, kr_path, &kf, &entry), SAKSI_OK);
	fx_server_opts(&so, listen, &fx, ledger, cm);
	assert_int_equal(saksid_server_start(&so, &srv, NULL, 0), SAKSI_OK);
	opts(&o);
	assert_int_equal(saksid_keyreload_init(&kl, &o, &kf, entry, FX_NOW), SAKSI_OK);
	/* The reload adds kiosk-race and moves the queue key to another branch. */
	k = fx_key(fx.seed, "kiosk-race", SAKSI_KEY_SIGN);
	keyring_with(k, "kiosk-race", "producer-0", "KC-PAREPARE");   /* FX_QUEUE */
	assert_int_equal(submit(k, 1), SAKSI_R_UNKNOWN_KEY);
	assert_int_equal(submit_recv(submit_send_at(fx.prod[FX_QUEUE], 1000, "KC-PAREPARE")),
	    SAKSI_R_BRANCH);

	/* The committer held; the reload handed to it. */
	assert_int_equal(saksi_ledger_begin(ledger, 1, &hold), SAKSI_OK);
	assert_int_equal(fx_reload_start(&fr, &kl, srv, FX_NOW), 0);
	assert_int_equal(fx_server_await(srv, FX_STAT(ss_reloads), 1), 1);
	/* The new key's event and a revoked key's, checked while the old keyring is in
	 * force (the reload cannot finish: its entry waits for the write lock). */
	saksid_server_stats_get(srv, &st);
	checked = st.ss_checked;
	sk = submit_send(k, 2);
	sr = submit_send(fx.prod[FX_REVOKED], 1);
	sm = submit_send_at(fx.prod[FX_QUEUE], 1000, "KC-PAREPARE");
	/* All three checked by the workers (under the old keyring: the swap waits for the
	 * committer, held) before the committer may go on. */
	assert_int_equal(fx_server_await(srv, FX_STAT(ss_checked), checked + 3), checked + 3);
	saksi_ledger_abort(hold);
	assert_int_equal(fx_reload_join(&fr), SAKSI_OK);
	assert_int_equal(submit_recv(sk), SAKSI_R_ACCEPTED);
	assert_int_equal(submit_recv(sr), SAKSI_R_REVOKED_KEY);
	/* Refused `branch` under the old keyring, decided again under the new one. */
	assert_int_equal(submit_recv(sm), SAKSI_R_ACCEPTED);
	saksid_server_stats_get(srv, &st);
	/* All three were checked under the old keyring: all three checked again. */
	assert_int_equal(st.ss_rechecked, 3);
	assert_int_equal(st.ss_items[SAKSI_R_UNKNOWN_KEY], 1);
	assert_int_equal(st.ss_items[SAKSI_R_REVOKED_KEY], 1);
	assert_int_equal(st.ss_items[SAKSI_R_BRANCH], 1);
	assert_int_equal(submit(k, 3), SAKSI_R_ACCEPTED);
	saksid_server_stop(srv, NULL);
	saksid_keyreload_clear(&kl);
	saksid_keyfile_clear(&kf);
	saksi_seckey_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyfile),
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_reload_server),
		cmocka_unit_test(test_reload_parts),
		cmocka_unit_test(test_reload_unknown_recheck),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
