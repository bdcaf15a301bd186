/*
 * outbox_test.c: the producer's outbox against a real saksid server in-process (real
 * ledger in LMDB, real committer and nanomsg ipc socket in a mkdtemp dir): durable
 * enqueue and its refusals, the persistent seq counter, in-order delivery with verified
 * receipts, duplicates counted as delivered, dead letters, a daemon that is down, a full
 * map answered `unavailable` (everything kept, delivered after a restart with a bigger
 * map), a receipt that does not verify, and a full outbox.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>

#include "../tests/server_fixture.h"
#include "../tests/ledger_fixture.h"
#include "bytes.h"
#include "client.h"
#include "commit.h"
#include "ledger.h"
#include "outbox.h"
#include "server.h"
#include "wire.h"

struct env {
	struct fx fx;
	char ledger_dir[200], ob_dir[200], url[256];
	saksi_ledger *ledger;
	saksid_committer *cm;
	saksid_server *srv;
	saksi_client *cl;
	saksi_outbox *ob;
};

/* (Re)starts ledger, committer and server on the same ledger directory. */
static void
server_up(struct env *v, size_t map_size)
{
	saksi_ledger_opts lo;
	saksid_server_opts so;
	const char *listen[1] = { v->url };
	char err[256];

	memset(&lo, 0, sizeof(lo));
	lo.lo_map_size = map_size;
	assert_int_equal(saksi_ledger_open(v->ledger_dir, FX_ORIGIN, v->fx.vkey, &lo, &v->ledger),
	                 SAKSI_OK);
	assert_int_equal(fx_committer_new(&v->fx, v->ledger, &v->cm), SAKSI_OK);
	fx_server_opts(&so, listen, &v->fx, v->ledger, v->cm);
	assert_int_equal(saksid_server_start(&so, &v->srv, err, sizeof(err)), SAKSI_OK);
}

static void
server_down(struct env *v)
{
	saksid_server_stop(v->srv, NULL);
	v->srv = NULL;
	saksid_commit_free(v->cm);
	v->cm = NULL;
	saksi_ledger_close(v->ledger);
	v->ledger = NULL;
}

static void
client_open(struct env *v, const saksi_note_verifier *log, int timeout_ms)
{
	saksi_client_opts co;

	memset(&co, 0, sizeof(co));
	co.co_url = v->url;
	co.co_log = log;
	co.co_timeout_ms = timeout_ms;
	assert_int_equal(saksi_client_open(&co, &v->cl), SAKSI_OK);
}

static void
outbox_open(struct env *v, const saksi_seckey *key, const saksi_note_verifier *log,
            size_t map_size)
{
	saksi_outbox_opts oo;

	memset(&oo, 0, sizeof(oo));
	oo.ob_map_size = map_size;
	oo.ob_log = log;
	oo.ob_key = key;
	oo.ob_box_pk = v->fx.box_pub.pk_key;
	oo.ob_schemas = v->fx.sc;
	assert_int_equal(saksi_outbox_open(v->ob_dir, &oo, &v->ob), SAKSI_OK);
}

static int
setup(void **state)
{
	struct env *v = calloc(1, sizeof(*v));

	fx_init(&v->fx, 0);
	snprintf(v->ledger_dir, sizeof(v->ledger_dir), "%s/ledger", v->fx.dir);
	snprintf(v->ob_dir, sizeof(v->ob_dir), "%s/outbox", v->fx.dir);
	snprintf(v->url, sizeof(v->url), "ipc://%s/s.sock", v->fx.dir);
	*state = v;
	return 0;
}

static int
teardown(void **state)
{
	struct env *v = *state;

	saksi_outbox_close(v->ob);
	saksi_client_close(v->cl);
	if (v->srv != NULL)
		server_down(v);
	fx_free(&v->fx);
	free(v);
	return 0;
}

/* The usual booking, built and signed by the fixture (FX_QUEUE's key). */
static void
booking(struct env *v, size_t prod, uint64_t seq, struct fx_item *it)
{
	fx_booking(&v->fx, prod, seq, FX_NOW + seq, it);
}

static uint64_t
enqueue(struct env *v, size_t prod, uint64_t seq)
{
	struct fx_item it;
	uint64_t id;

	booking(v, prod, seq, &it);
	assert_int_equal(saksi_outbox_enqueue(v->ob, it.env, it.env_len, it.sealed,
	                                      it.sealed_len, &id), SAKSI_OK);
	fx_item_free(&it);
	return id;
}

static void
status(struct env *v, uint64_t pending, uint64_t dead, uint64_t receipts)
{
	saksi_outbox_status st;

	assert_int_equal(saksi_outbox_stat(v->ob, &st), SAKSI_OK);
	assert_int_equal(st.os_pending, pending);
	assert_int_equal(st.os_dead, dead);
	assert_int_equal(st.os_receipts, receipts);
}

/* Collects receipts handed back, checking they come in id and ledger order. */
struct got {
	size_t n;
	uint64_t ids[512], index[512];
	int dup[512];
	char *receipt[512];
};

static void
on_receipt(void *arg, const saksi_outbox_receipt *r)
{
	struct got *g = arg;

	assert_true(g->n < 512);
	assert_int_equal(strlen(r->or_receipt), r->or_receipt_len);
	g->ids[g->n] = r->or_id;
	g->index[g->n] = r->or_index;
	g->dup[g->n] = r->or_duplicate;
	g->receipt[g->n] = strdup(r->or_receipt);
	g->n++;
}

static void
got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->receipt[i]);
	g->n = 0;
}

/* The ledger's leaf at index must hold exactly env. */
static void
assert_in_ledger(struct env *v, uint64_t index, const uint8_t *env, size_t env_len)
{
	saksi_ledger_txn *t;
	uint8_t *leaf;
	size_t len;

	assert_int_equal(saksi_ledger_begin(v->ledger, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(t, index, &leaf, &len), SAKSI_OK);
	assert_int_equal(len, SAKSI_LEAF_HDR + env_len);
	assert_memory_equal(leaf + SAKSI_LEAF_HDR, env, env_len);
	free(leaf);
	saksi_ledger_abort(t);
}

static uint64_t
ledger_size(struct env *v)
{
	return lf_size(v->ledger);
}

static void
test_open_errors(void **state)
{
	struct env *v = *state;
	saksi_outbox_opts oo;
	saksi_outbox *ob = (saksi_outbox *)1;
	char path[300];

	memset(&oo, 0, sizeof(oo));
	assert_int_equal(saksi_outbox_open(v->ob_dir, &oo, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_outbox_open(NULL, &oo, &ob), SAKSI_ERR_INVAL);
	assert_null(ob);
	assert_int_equal(saksi_outbox_open("", &oo, &ob), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_outbox_open(v->ob_dir, NULL, &ob), SAKSI_ERR_INVAL);
	snprintf(path, sizeof(path), "%s/no/such/dir", v->fx.dir);
	assert_int_equal(saksi_outbox_open(path, &oo, &ob), SAKSI_ERR_NOT_FOUND);
	oo.ob_key = v->fx.box;
	assert_int_equal(saksi_outbox_open(v->ob_dir, &oo, &ob), SAKSI_ERR_KEY);
	assert_null(ob);

	/* An outbox of another format version is refused, not reused. */
	{
		MDB_env *e;
		MDB_txn *t;
		MDB_dbi db;
		MDB_val k = { 6, "format" }, val;
		uint8_t two[4] = { 0, 0, 0, 2 };
		char d[300];

		snprintf(d, sizeof(d), "%s/v2", v->fx.dir);
		assert_int_equal(mkdir(d, 0700), 0);
		assert_int_equal(mdb_env_create(&e), 0);
		assert_int_equal(mdb_env_set_maxdbs(e, 8), 0);
		assert_int_equal(mdb_env_open(e, d, 0, 0600), 0);
		assert_int_equal(mdb_txn_begin(e, NULL, 0, &t), 0);
		assert_int_equal(mdb_dbi_open(t, "meta", MDB_CREATE, &db), 0);
		val.mv_size = 4;
		val.mv_data = two;
		assert_int_equal(mdb_put(t, db, &k, &val, 0), 0);
		assert_int_equal(mdb_txn_commit(t), 0);
		mdb_env_close(e);
		memset(&oo, 0, sizeof(oo));
		assert_int_equal(saksi_outbox_open(d, &oo, &ob), SAKSI_ERR_VERSION);
		/* A file where the directory should be. */
		snprintf(d, sizeof(d), "%s/afile", v->fx.dir);
		fx_write(d, "x", 1, 0600);
		assert_int_equal(saksi_outbox_open(d, &oo, &ob), SAKSI_ERR_NOT_FOUND);
	}
}

static void
test_enqueue(void **state)
{
	struct env *v = *state;
	struct fx_item a, b, c;
	uint64_t id, id2, seq;
	struct stat st;

	outbox_open(v, NULL, &v->fx.v, 0);
	assert_int_equal(stat(v->ob_dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	status(v, 0, 0, 0);
	booking(v, FX_QUEUE, 5, &a);
	booking(v, FX_QUEUE, 5, &b);   /* same key and seq, other salts: other bytes */
	booking(v, FX_QUEUE, 4, &c);

	assert_int_equal(saksi_outbox_enqueue(NULL, a.env, a.env_len, NULL, 0, &id),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_outbox_enqueue(v->ob, NULL, 0, NULL, 0, &id), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_outbox_enqueue(v->ob, a.env, a.env_len, NULL, 5, &id),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_outbox_enqueue(v->ob, a.env, a.env_len - 1, NULL, 0, &id),
	                 SAKSI_ERR_FORMAT);
	assert_int_equal(id, 0);
	assert_int_equal(saksi_outbox_enqueue(v->ob, a.env, a.env_len, a.sealed,
	                                      SAKSI_SEALED_MAX + 1, &id), SAKSI_ERR_TOO_LARGE);
	status(v, 0, 0, 0);

	assert_int_equal(saksi_outbox_enqueue(v->ob, a.env, a.env_len, a.sealed, a.sealed_len,
	                                      &id), SAKSI_OK);
	assert_int_equal(id, 1);
	/* The very same bytes again (a producer that crashed before noting the id). */
	assert_int_equal(saksi_outbox_enqueue(v->ob, a.env, a.env_len, a.sealed, a.sealed_len,
	                                      &id2), SAKSI_OK);
	assert_int_equal(id2, 1);
	assert_int_equal(saksi_outbox_enqueue(v->ob, b.env, b.env_len, b.sealed, b.sealed_len,
	                                      &id2), SAKSI_ERR_EXISTS);
	assert_int_equal(saksi_outbox_enqueue(v->ob, c.env, c.env_len, c.sealed, c.sealed_len,
	                                      &id2), SAKSI_ERR_RANGE);
	status(v, 1, 0, 0);
	assert_int_equal(saksi_outbox_seq_last(v->ob, saksi_seckey_id(v->fx.prod[FX_QUEUE]),
	                                       &seq), SAKSI_OK);
	assert_int_equal(seq, 5);
	assert_int_equal(saksi_outbox_seq_last(v->ob, NULL, &seq), SAKSI_ERR_INVAL);

	/* Durable: a reopened outbox has it, with the next id after it. */
	saksi_outbox_close(v->ob);
	v->ob = NULL;
	outbox_open(v, NULL, &v->fx.v, 0);
	status(v, 1, 0, 0);
	{
		saksi_outbox_status s;
		assert_int_equal(saksi_outbox_stat(v->ob, &s), SAKSI_OK);
		assert_int_equal(s.os_next_id, 2);
		assert_int_equal(s.os_oldest_ms, FX_NOW + 5);
		assert_int_equal(saksi_outbox_stat(v->ob, NULL), SAKSI_ERR_INVAL);
	}
	/* Events need ob_key, ob_box_pk and ob_schemas. */
	assert_int_equal(saksi_outbox_enqueue_event(v->ob, "queue.booking.created", "{}", FX_NOW,
	                                            0, &seq, &id), SAKSI_ERR_INVAL);
	fx_item_free(&a);
	fx_item_free(&b);
	fx_item_free(&c);
}

static void
test_enqueue_event_seq(void **state)
{
	struct env *v = *state;
	const uint8_t *kid = saksi_seckey_id(v->fx.prod[FX_QUEUE]);
	char *p = fx_payload("queue.booking.created", NULL);
	char *bad = fx_payload("queue.booking.created", (const char *[]){ "branch", "#17",
	                                                                   NULL });
	uint64_t seq, id, last;

	outbox_open(v, v->fx.prod[FX_QUEUE], &v->fx.v, 0);
	assert_int_equal(saksi_outbox_enqueue_event(v->ob, "queue.booking.created", p, FX_NOW,
	                                            0, &seq, &id), SAKSI_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(id, 1);
	assert_int_equal(saksi_outbox_enqueue_event(v->ob, "queue.booking.created", p, FX_NOW,
	                                            0, &seq, &id), SAKSI_OK);
	assert_int_equal(seq, 2);
	assert_int_equal(saksi_outbox_enqueue_event(v->ob, "no.such.type", p, FX_NOW, 0, &seq,
	                                            &id), SAKSI_ERR_SCHEMA);
	assert_int_equal(seq, 0);
	assert_int_equal(saksi_outbox_enqueue_event(v->ob, "queue.booking.created", bad, FX_NOW,
	                                            0, &seq, &id), SAKSI_ERR_SCHEMA);
	assert_int_equal(saksi_outbox_enqueue_event(v->ob, "queue.booking.created", "[1]",
	                                            FX_NOW, 0, &seq, &id), SAKSI_ERR_SCHEMA);
	assert_int_equal(saksi_outbox_enqueue_event(v->ob, NULL, p, FX_NOW, 0, &seq, &id),
	                 SAKSI_ERR_INVAL);
	/* A refused event takes no seq. */
	assert_int_equal(saksi_outbox_seq_last(v->ob, kid, &last), SAKSI_OK);
	assert_int_equal(last, 2);

	/* The counter survives a restart and only ever goes up. */
	saksi_outbox_close(v->ob);
	v->ob = NULL;
	outbox_open(v, v->fx.prod[FX_QUEUE], &v->fx.v, 0);
	assert_int_equal(saksi_outbox_seq_floor(v->ob, kid, 1), SAKSI_OK);
	assert_int_equal(saksi_outbox_enqueue_event(v->ob, "queue.booking.created", p, FX_NOW,
	                                            0, &seq, &id), SAKSI_OK);
	assert_int_equal(seq, 3);
	assert_int_equal(id, 3);
	assert_int_equal(saksi_outbox_seq_floor(v->ob, kid, 100), SAKSI_OK);
	assert_int_equal(saksi_outbox_enqueue_event(v->ob, "queue.booking.created", p, FX_NOW,
	                                            0, &seq, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_outbox_enqueue_event(v->ob, "queue.booking.created", p, FX_NOW,
	                                            0, &seq, &id), SAKSI_OK);
	assert_int_equal(seq, 101);
	/* A seq of the producer's own choosing: above the counter only, and it moves it. */
	assert_int_equal(saksi_outbox_enqueue_event(v->ob, "queue.booking.created", p, FX_NOW,
	                                            101, &seq, &id), SAKSI_ERR_RANGE);
	assert_int_equal(saksi_outbox_enqueue_event(v->ob, "queue.booking.created", p, FX_NOW,
	                                            200, &seq, &id), SAKSI_OK);
	assert_int_equal(seq, 200);
	assert_int_equal(saksi_outbox_seq_last(v->ob, kid, &last), SAKSI_OK);
	assert_int_equal(last, 200);
	assert_int_equal(saksi_outbox_seq_floor(NULL, kid, 1), SAKSI_ERR_INVAL);
	status(v, 5, 0, 0);

	/* And they go out, in order, and are in the ledger. */
	server_up(v, 0);
	client_open(v, &v->fx.v, 30000);
	{
		saksi_outbox_flush_result fr;
		struct got g = { 0 };

		assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 0, 0, on_receipt, &g, &fr),
		                 SAKSI_OK);
		assert_int_equal(fr.of_delivered, 5);
		assert_int_equal(g.n, 5);
		for (size_t i = 0; i < 5; i++) {
			assert_int_equal(g.index[i], i);
			assert_int_equal(g.ids[i], i + 1);
		}
		got_free(&g);
	}
	status(v, 0, 0, 5);
	free(p);
	free(bad);
}

static void
test_flush_in_order(void **state)
{
	struct env *v = *state;
	struct fx_item it[40];
	saksi_outbox_flush_result fr;
	struct got g = { 0 };

	outbox_open(v, NULL, &v->fx.v, 0);
	for (size_t i = 0; i < 40; i++) {
		uint64_t id;

		booking(v, FX_QUEUE, i + 1, &it[i]);
		assert_int_equal(saksi_outbox_enqueue(v->ob, it[i].env, it[i].env_len,
		                                      it[i].sealed, it[i].sealed_len, &id),
		                 SAKSI_OK);
		assert_int_equal(id, i + 1);
	}
	server_up(v, 0);
	client_open(v, &v->fx.v, 30000);
	assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 257, 0, NULL, NULL, &fr),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_outbox_flush(NULL, v->cl, 0, 0, NULL, NULL, &fr),
	                 SAKSI_ERR_INVAL);
	assert_int_equal(saksi_outbox_flush(v->ob, NULL, 0, 0, NULL, NULL, NULL),
	                 SAKSI_ERR_INVAL);

	/* A limit: exactly 5 leave the queue. */
	assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 3, 5, on_receipt, &g, &fr), SAKSI_OK);
	assert_int_equal(fr.of_delivered, 5);
	assert_int_equal(fr.of_sent, 5);
	status(v, 35, 0, 5);

	/* The rest, in batches of 7. */
	assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 7, 0, on_receipt, &g, &fr), SAKSI_OK);
	assert_int_equal(fr.of_delivered, 35);
	assert_int_equal(fr.of_duplicate, 0);
	assert_int_equal(fr.of_dead, 0);
	assert_int_equal(fr.of_status, 0);
	assert_int_equal(g.n, 40);
	for (size_t i = 0; i < 40; i++) {
		assert_int_equal(g.ids[i], i + 1);
		assert_int_equal(g.index[i], i);
		assert_int_equal(g.dup[i], 0);
		assert_in_ledger(v, i, it[i].env, it[i].env_len);
	}
	assert_int_equal(ledger_size(v), 40);
	status(v, 0, 0, 40);
	/* An empty queue: nothing to do. */
	assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 0, 0, NULL, NULL, &fr), SAKSI_OK);
	assert_int_equal(fr.of_sent, 0);

	/* The kept receipts are the ones handed back, with their envelopes. */
	{
		struct got k = { 0 };
		assert_int_equal(saksi_outbox_receipts(v->ob, on_receipt, &k), SAKSI_OK);
		assert_int_equal(k.n, 40);
		for (size_t i = 0; i < 40; i++) {
			assert_int_equal(k.ids[i], g.ids[i]);
			assert_string_equal(k.receipt[i], g.receipt[i]);
		}
		got_free(&k);
	}
	assert_int_equal(saksi_outbox_receipt_remove(v->ob, 1), SAKSI_OK);
	assert_int_equal(saksi_outbox_receipt_remove(v->ob, 1), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_outbox_receipts(v->ob, NULL, NULL), SAKSI_ERR_INVAL);
	status(v, 0, 0, 39);
	got_free(&g);
	for (size_t i = 0; i < 40; i++)
		fx_item_free(&it[i]);
}

/*
 * A producer killed after the daemon committed but before the outbox removed the entries:
 * they are sent again and come back as duplicates, with the first receipts.
 */
static void
test_duplicates_are_delivered(void **state)
{
	struct env *v = *state;
	struct fx_item it[6];
	const uint8_t *envs[3], *seals[3];
	size_t elen[3], slen[3];
	saksi_result res[3];
	saksi_outbox_flush_result fr;
	struct got g = { 0 };

	outbox_open(v, NULL, &v->fx.v, 0);
	for (size_t i = 0; i < 6; i++)
		booking(v, FX_QUEUE, i + 1, &it[i]), (void)0;
	for (size_t i = 0; i < 6; i++) {
		uint64_t id;
		assert_int_equal(saksi_outbox_enqueue(v->ob, it[i].env, it[i].env_len,
		                                      it[i].sealed, it[i].sealed_len, &id),
		                 SAKSI_OK);
	}
	server_up(v, 0);
	client_open(v, &v->fx.v, 30000);
	for (size_t i = 0; i < 3; i++) {
		envs[i] = it[i].env;
		elen[i] = it[i].env_len;
		seals[i] = it[i].sealed;
		slen[i] = it[i].sealed_len;
	}
	assert_int_equal(saksi_client_submit_raw(v->cl, envs, elen, seals, slen, 3, res),
	                 SAKSI_OK);
	assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 4, 0, on_receipt, &g, &fr), SAKSI_OK);
	assert_int_equal(fr.of_delivered, 6);
	assert_int_equal(fr.of_duplicate, 3);
	assert_int_equal(g.n, 6);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(g.index[i], i);
		assert_int_equal(g.dup[i], i < 3);
		if (i < 3) {
			assert_int_equal(res[i].sr_code, SAKSI_R_ACCEPTED);
			assert_string_equal(g.receipt[i], res[i].sr_receipt);
			saksi_result_clear(&res[i]);
		}
	}
	assert_int_equal(ledger_size(v), 6);
	got_free(&g);
	for (size_t i = 0; i < 6; i++)
		fx_item_free(&it[i]);
}

struct deadlist {
	size_t n;
	uint64_t id[8];
	int code[8];
	char msg[8][256];
};

static void
on_dead(void *arg, const saksi_outbox_dead *d)
{
	struct deadlist *dl = arg;

	assert_true(dl->n < 8);
	assert_non_null(d->od_env);
	dl->id[dl->n] = d->od_id;
	dl->code[dl->n] = d->od_code;
	snprintf(dl->msg[dl->n], sizeof(dl->msg[0]), "%s", d->od_message);
	dl->n++;
}

/* A refusal other than `unavailable` moves the entry aside with its reason; the rest goes. */
static void
test_dead_letters(void **state)
{
	struct env *v = *state;
	saksi_outbox_flush_result fr;
	struct deadlist dl = { 0 };

	outbox_open(v, NULL, &v->fx.v, 0);
	enqueue(v, FX_QUEUE, 1);
	enqueue(v, FX_REVOKED, 1);     /* revoked: code 5 */
	enqueue(v, FX_QUEUE, 2);
	enqueue(v, FX_STAFF, 1);       /* role staff may not sign queue.*: code 7 */
	enqueue(v, FX_QUEUE, 3);
	server_up(v, 0);
	client_open(v, &v->fx.v, 30000);
	assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 0, 0, NULL, NULL, &fr), SAKSI_OK);
	assert_int_equal(fr.of_delivered, 3);
	assert_int_equal(fr.of_dead, 2);
	status(v, 0, 2, 3);
	assert_int_equal(saksi_outbox_dead_list(v->ob, on_dead, &dl), SAKSI_OK);
	assert_int_equal(dl.n, 2);
	assert_int_equal(dl.id[0], 2);
	assert_int_equal(dl.code[0], SAKSI_R_REVOKED_KEY);
	assert_int_equal(dl.id[1], 4);
	assert_int_equal(dl.code[1], SAKSI_R_ROLE);
	assert_true(dl.msg[0][0] != '\0');
	assert_int_equal(saksi_outbox_dead_list(v->ob, NULL, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_outbox_dead_remove(v->ob, 2), SAKSI_OK);
	assert_int_equal(saksi_outbox_dead_remove(v->ob, 2), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_outbox_dead_remove(NULL, 4), SAKSI_ERR_INVAL);
	status(v, 0, 1, 3);
	/* 3 events and one refusal summary. */
	assert_int_equal(ledger_size(v), 4);
}

/* Nobody listening: the flush fails as transport, and everything stays. */
static void
test_daemon_down(void **state)
{
	struct env *v = *state;
	saksi_outbox_flush_result fr;
	saksi_err e;

	outbox_open(v, NULL, &v->fx.v, 0);
	enqueue(v, FX_QUEUE, 1);
	enqueue(v, FX_QUEUE, 2);
	client_open(v, &v->fx.v, 200);
	e = saksi_outbox_flush(v->ob, v->cl, 0, 0, NULL, NULL, &fr);
	assert_true(e == SAKSI_ERR_TIMEOUT || e == SAKSI_ERR_NET);
	assert_int_equal(fr.of_delivered, 0);
	status(v, 2, 0, 0);

	/* Up again: delivered. A fresh client (the REQ socket may hold the lost request). */
	server_up(v, 0);
	saksi_client_close(v->cl);
	client_open(v, &v->fx.v, 30000);
	assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 0, 0, NULL, NULL, &fr), SAKSI_OK);
	assert_int_equal(fr.of_delivered, 2);
	status(v, 0, 0, 2);
}

/*
 * A full map: the daemon answers `unavailable` and keeps answering it cleanly; the outbox
 * keeps every entry not receipted; a restart with a bigger map delivers them all, in
 * order, each exactly once.
 */
static void
test_map_full(void **state)
{
	struct env *v = *state;
	saksi_outbox_flush_result fr;
	struct got g = { 0 };
	struct fx_item *it;
	uint64_t n = 400, delivered, size;
	saksi_err e;

	it = calloc(n, sizeof(*it));
	outbox_open(v, NULL, &v->fx.v, 0);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t id;
		booking(v, FX_QUEUE, i + 1, &it[i]);
		assert_int_equal(saksi_outbox_enqueue(v->ob, it[i].env, it[i].env_len,
		                                      it[i].sealed, it[i].sealed_len, &id),
		                 SAKSI_OK);
	}
	server_up(v, 256 * 1024);
	client_open(v, &v->fx.v, 30000);
	e = saksi_outbox_flush(v->ob, v->cl, 16, 0, on_receipt, &g, &fr);
	assert_int_equal(e, SAKSI_ERR_REFUSED);
	assert_int_equal(fr.of_status, SAKSI_R_UNAVAILABLE);
	assert_true(strstr(fr.of_message, "full") != NULL);
	delivered = fr.of_delivered;
	printf("# map full after %llu events\n", (unsigned long long)delivered);
	assert_true(delivered > 0 && delivered < n);
	status(v, n - delivered, 0, delivered);
	/* Again and again: the same clean answer, nothing lost, nothing half-written. */
	for (int r = 0; r < 3; r++) {
		assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 16, 0, on_receipt, &g, &fr),
		                 SAKSI_ERR_REFUSED);
		assert_int_equal(fr.of_status, SAKSI_R_UNAVAILABLE);
	}
	/* Reads still work on a full map. */
	{
		char *note = NULL;
		size_t len;
		assert_int_equal(saksi_client_checkpoint(v->cl, &note, &len), SAKSI_OK);
		free(note);
	}
	delivered = g.n;
	assert_int_equal(ledger_size(v), delivered);

	/* The operator raises map_size_mb and restarts. */
	server_down(v);
	server_up(v, 64u << 20);
	assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 16, 0, on_receipt, &g, &fr), SAKSI_OK);
	assert_int_equal(g.n, n);
	status(v, 0, 0, n);
	size = ledger_size(v);
	assert_int_equal(size, n);
	for (uint64_t i = 0; i < n; i++) {
		assert_int_equal(g.ids[i], i + 1);
		assert_int_equal(g.index[i], i);
		assert_int_equal(g.dup[i], 0);
		assert_in_ledger(v, i, it[i].env, it[i].env_len);
		fx_item_free(&it[i]);
	}
	free(it);
	got_free(&g);
}

/* A receipt that does not prove the entry under the outbox's log key: nothing leaves. */
static void
test_receipt_not_verified(void **state)
{
	struct env *v = *state;
	saksi_note_verifier other;
	saksi_outbox_flush_result fr;
	saksi_pubkey pub;
	char vkey[SAKSI_VKEY_MAX + 1];

	assert_int_equal(saksi_seckey_public(v->fx.prod[0],
	                                     &pub), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format(FX_ORIGIN, pub.pk_key, vkey, sizeof(vkey)),
	                 SAKSI_OK);
	assert_int_equal(saksi_note_vkey_parse(vkey, &other), SAKSI_OK);
	outbox_open(v, NULL, &other, 0);
	enqueue(v, FX_QUEUE, 1);
	enqueue(v, FX_QUEUE, 2);
	server_up(v, 0);
	client_open(v, NULL, 30000);   /* the client checks nothing: the outbox must */
	assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 0, 0, NULL, NULL, &fr),
	                 SAKSI_ERR_PROOF);
	assert_int_equal(fr.of_delivered, 0);
	status(v, 2, 0, 0);
	/* Without a log key there is no flush at all. */
	saksi_outbox_close(v->ob);
	v->ob = NULL;
	outbox_open(v, NULL, NULL, 0);
	assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 0, 0, NULL, NULL, &fr),
	                 SAKSI_ERR_INVAL);
	/* With the right key: delivered, as duplicates of the first sends. */
	saksi_outbox_close(v->ob);
	v->ob = NULL;
	outbox_open(v, NULL, &v->fx.v, 0);
	assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 0, 0, NULL, NULL, &fr), SAKSI_OK);
	assert_int_equal(fr.of_delivered, 2);
	assert_int_equal(fr.of_duplicate, 2);
}

/* The producer's own disk or map full: refused, nothing half-queued. */
static void
test_outbox_full(void **state)
{
	struct env *v = *state;
	uint64_t id, queued = 0;
	saksi_err e = SAKSI_OK;

	outbox_open(v, NULL, &v->fx.v, 64 * 1024);
	for (uint64_t s = 1; s < 1000; s++) {
		struct fx_item it;

		booking(v, FX_QUEUE, s, &it);
		e = saksi_outbox_enqueue(v->ob, it.env, it.env_len, it.sealed, it.sealed_len, &id);
		fx_item_free(&it);
		if (e != SAKSI_OK)
			break;
		queued++;
	}
	assert_int_equal(e, SAKSI_ERR_FULL);
	assert_true(queued > 0);
	status(v, queued, 0, 0);
	/* Still usable: a flush empties it and makes room. */
	server_up(v, 0);
	client_open(v, &v->fx.v, 30000);
	assert_int_equal(saksi_outbox_flush(v->ob, v->cl, 0, 0, NULL, NULL, NULL), SAKSI_OK);
	status(v, 0, 0, queued);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enqueue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enqueue_event_seq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_are_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_letters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receipt_not_verified, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_full, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
