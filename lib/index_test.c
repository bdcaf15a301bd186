/*
 * index_test.c: the secondary indexes over a real ledger in a mkdtemp() directory, with
 * real signed envelopes and disclosures: every field, ANDed terms, time ranges, paging,
 * order, the state mark, a changed index key, and hostile queries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>
#include <sodium.h>

#include "blind.h"
#include "envelope.h"
#include "index.h"
#include "keys.h"
#include "ledger.h"
#include "../tests/events_gen.h"
#include "../tests/testutil.h"

#define ORIGIN "bpjs.example/saksi/test"
#define VKEY "bpjs.example/saksi/test+0a1b2c3d+AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefgh="
#define T0 1767225600000ULL /* 2026-01-01T00:00:00Z */

static uint64_t g_seed;

struct fx {
	char dir[256];
	saksi_ledger *l;
	saksi_blind *b;
	saksi_seckey *sk;
	uint64_t seq;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t key[32];

	assert_non_null(f);
	assert_int_equal(tmpdir_make(f->dir, sizeof(f->dir), "saksi-index"), 0);
	assert_int_equal(saksi_ledger_open(f->dir, ORIGIN, VKEY, NULL, &f->l), SAKSI_OK);
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	assert_int_equal(saksi_blind_new(key, &f->b), SAKSI_OK);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &f->sk), SAKSI_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	saksi_ledger_close(f->l);
	saksi_blind_free(f->b);
	saksi_seckey_free(f->sk);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static MDB_dbi
open_dbi(struct fx *f, int prepare)
{
	saksi_ledger_txn *t;
	MDB_dbi dbi;
	uint64_t upto;

	assert_int_equal(saksi_ledger_begin(f->l, 1, &t), SAKSI_OK);
	assert_int_equal(saksi_index_open(saksi_ledger_txn_mdb(t), 1, &dbi), SAKSI_OK);
	if (prepare)
		assert_int_equal(saksi_index_prepare(saksi_ledger_txn_mdb(t), dbi, f->b, &upto,
		    NULL), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	return dbi;
}

/*
 * Appends one event (clear payload, personal members listed) and, if dbi is given,
 * indexes it in the same transaction. Returns its leaf index.
 */
static uint64_t
add(struct fx *f, const MDB_dbi *dbi, const char *type, uint64_t tms, const char *clear,
    const char *const *personal, size_t np)
{
	uint8_t env[SAKSI_ENV_MAX];
	char *payload, *disc;
	size_t plen, dlen, elen;
	saksi_ledger_txn *t;
	uint64_t idx;

	assert_int_equal(saksi_disclose_payload(clear, strlen(clear), personal, np, &payload,
	    &plen, &disc, &dlen), SAKSI_OK);
	assert_int_equal(saksi_envelope_sign(f->sk, ++f->seq, tms, type,
	    (const uint8_t *)payload, plen, env, sizeof(env), &elen), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(f->l, 1, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(t, SAKSI_LEAF_EVENT, T0, env, elen, &idx, NULL),
	    SAKSI_OK);
	if (dbi != NULL)
		assert_int_equal(saksi_index_event(saksi_ledger_txn_mdb(t), *dbi, f->b, idx, env,
		    elen, np > 0 ? (const uint8_t *)disc : NULL, np > 0 ? dlen : 0), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	free(payload);
	if (disc != NULL) {
		sodium_memzero(disc, dlen);
		free(disc);
	}
	return idx;
}

static void
tok(struct fx *f, saksi_blind_kind k, const char *v, char out[SAKSI_BLIND_TOKEN_LEN + 1])
{
	assert_int_equal(saksi_blind_token(f->b, k, v, strlen(v), out), SAKSI_OK);
}

/* Runs a query of up to 3 terms, returns the hit count, leaf indices in idx. */
static size_t
q3(struct fx *f, MDB_dbi dbi, saksi_index_field f1, const char *v1, saksi_index_field f2,
   const char *v2, uint64_t since, uint64_t until, uint64_t *idx, size_t max, int *more)
{
	saksi_index_term terms[2];
	saksi_index_query q;
	saksi_index_hit hits[64];
	saksi_ledger_txn *t;
	size_t n = 0, nt = 0;
	int m = 0;

	if (v1 != NULL)
		terms[nt++] = (saksi_index_term){ f1, v1 };
	if (v2 != NULL)
		terms[nt++] = (saksi_index_term){ f2, v2 };
	memset(&q, 0, sizeof(q));
	q.iq_terms = terms;
	q.iq_nterms = nt;
	q.iq_since_ms = since;
	q.iq_until_ms = until;
	assert_true(max <= 64);
	assert_int_equal(saksi_ledger_begin(f->l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_index_query_run(saksi_ledger_txn_mdb(t), dbi, &q, hits, max, &n,
	    &m), SAKSI_OK);
	saksi_ledger_abort(t);
	for (size_t i = 0; i < n; i++)
		idx[i] = hits[i].ih_index;
	if (more != NULL)
		*more = m;
	return n;
}

#define ANY 0, UINT64_MAX

static const char *const booking_personal[] = { "nik", "kpj", "name", "phone", "email",
	"device_id", "ip" };

static const char *
booking(char *buf, size_t len, const char *nik, const char *device, const char *bk)
{
	snprintf(buf, len, "{\"branch\":\"KC-MAKASSAR\",\"channel\":\"mobile_app\","
	    "\"booking_id\":\"%s\",\"service\":\"jht_claim\",\"slot_date\":\"2026-01-05\","
	    "\"slot_hour\":9,\"nik\":\"%s\",\"kpj\":\"12345678901\",\"name\":\"Budi Santoso\","
	    "\"phone\":\"0812-3456-7890\",\"email\":\"Budi.Santoso@example.co.id\","
	    "\"region\":\"7371\",\"device_id\":\"%s\",\"ip\":\"203.0.113.7\"}", bk, nik,
	    device);
	return buf;
}

/* An event signed and appended like add()'s; its envelope and disclosures kept in ev. */
struct kept {
	uint8_t env[SAKSI_ENV_MAX];
	size_t elen;
	char *disc;
	size_t dlen;
	uint64_t idx;
};

static void
add_kept(struct fx *f, MDB_dbi dbi, const char *type, uint64_t tms, const char *clear,
         const char *const *personal, size_t np, struct kept *k)
{
	char *payload;
	size_t plen;
	saksi_ledger_txn *t;

	assert_int_equal(saksi_disclose_payload(clear, strlen(clear), personal, np, &payload,
	    &plen, &k->disc, &k->dlen), SAKSI_OK);
	assert_int_equal(saksi_envelope_sign(f->sk, ++f->seq, tms, type,
	    (const uint8_t *)payload, plen, k->env, sizeof(k->env), &k->elen), SAKSI_OK);
	free(payload);
	assert_int_equal(saksi_ledger_begin(f->l, 1, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(t, SAKSI_LEAF_EVENT, T0, k->env, k->elen, &k->idx,
	    NULL), SAKSI_OK);
	assert_int_equal(saksi_index_event(saksi_ledger_txn_mdb(t), dbi, f->b, k->idx, k->env,
	    k->elen, (const uint8_t *)k->disc, k->dlen), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
}

/*
 * Forgetting a participant: his leaves' personal postings go, the same tokens' postings of
 * another participant's leaf stay, and so do his leaves' non-personal postings.
 */
static void
test_unpost_personal(void **state)
{
	struct fx *f = *state;
	char buf[1024], t[SAKSI_BLIND_TOKEN_LEN + 1], tb[SAKSI_BLIND_TOKEN_LEN + 1];
	uint64_t idx[64], n = 0;
	struct kept a0, b1, a2;
	saksi_ledger_txn *w;
	MDB_txn *mt;
	MDB_dbi dbi = open_dbi(f, 1);

	/* A twice (one device shared with B, then another), B once; kpj, phone, e-mail and
	 * ip are the same in all three (booking()'s). */
	add_kept(f, dbi, "queue.booking.created", T0 + 10, booking(buf, sizeof(buf),
	    "7371014101900001", "shared-device-01", "BK-1"), booking_personal, 7, &a0);
	add_kept(f, dbi, "queue.booking.created", T0 + 20, booking(buf, sizeof(buf),
	    "7371014101900002", "shared-device-01", "BK-2"), booking_personal, 7, &b1);
	add_kept(f, dbi, "queue.booking.created", T0 + 30, booking(buf, sizeof(buf),
	    "7371014101900001", "own-device-0002", "BK-3"), booking_personal, 7, &a2);
	tok(f, SAKSI_BLIND_NIK, "7371014101900001", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_NIK, t, 0, NULL, ANY, idx, 64, NULL), 2);

	assert_int_equal(saksi_ledger_begin(f->l, 1, &w), SAKSI_OK);
	mt = saksi_ledger_txn_mdb(w);
	/* nik, kpj, phone, email, device, ip: six each (name has no index). */
	assert_int_equal(saksi_index_unpost_personal(mt, dbi, f->b, a0.idx, a0.env, a0.elen,
	    (const uint8_t *)a0.disc, a0.dlen, &n), SAKSI_OK);
	assert_int_equal(n, 6);
	assert_int_equal(saksi_index_unpost_personal(mt, dbi, f->b, a2.idx, a2.env, a2.elen,
	    (const uint8_t *)a2.disc, a2.dlen, &n), SAKSI_OK);
	assert_int_equal(n, 12);
	/* Again: nothing left to remove, no error. */
	assert_int_equal(saksi_index_unpost_personal(mt, dbi, f->b, a2.idx, a2.env, a2.elen,
	    (const uint8_t *)a2.disc, a2.dlen, &n), SAKSI_OK);
	assert_int_equal(n, 12);
	/* Without disclosures there is nothing personal to remove. */
	assert_int_equal(saksi_index_unpost_personal(mt, dbi, f->b, b1.idx, b1.env, b1.elen,
	    NULL, 0, NULL), SAKSI_OK);
	/* His NIK key is gone with its last posting: dropping it finds nothing. */
	assert_int_equal(saksi_index_drop(mt, dbi, SAKSI_IX_NIK, t, &n), SAKSI_OK);
	assert_int_equal(n, 12);
	/* Hostile and wrong calls. */
	assert_int_equal(saksi_index_unpost_personal(NULL, dbi, f->b, a0.idx, a0.env, a0.elen,
	    NULL, 0, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_unpost_personal(mt, dbi, NULL, a0.idx, a0.env, a0.elen,
	    NULL, 0, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_unpost_personal(mt, dbi, f->b, a0.idx, NULL, 0, NULL, 0,
	    NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_unpost_personal(mt, dbi, f->b, a0.idx, a0.env, 10,
	    (const uint8_t *)a0.disc, a0.dlen, NULL), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_index_drop(NULL, dbi, SAKSI_IX_NIK, t, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_drop(mt, dbi, SAKSI_IX_NIK, NULL, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_drop(mt, dbi, SAKSI_IX_NIK, "7371014101900001", NULL),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_drop(mt, dbi, SAKSI_IX_TIME, "1", NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_drop(mt, dbi, SAKSI_IX_STATE, "state", NULL),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_drop(mt, dbi, SAKSI_IX__COUNT, "x", NULL),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_drop(mt, dbi, SAKSI_IX_BRANCH, "", NULL),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_ledger_commit(w), SAKSI_OK);

	/* He is not found by any personal value; B still is, by every one of them. */
	assert_int_equal(q3(f, dbi, SAKSI_IX_NIK, t, 0, NULL, ANY, idx, 64, NULL), 0);
	tok(f, SAKSI_BLIND_DEVICE, "own-device-0002", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_DEVICE, t, 0, NULL, ANY, idx, 64, NULL), 0);
	tok(f, SAKSI_BLIND_NIK, "7371014101900002", tb);
	assert_int_equal(q3(f, dbi, SAKSI_IX_NIK, tb, 0, NULL, ANY, idx, 64, NULL), 1);
	assert_int_equal(idx[0], b1.idx);
	tok(f, SAKSI_BLIND_DEVICE, "shared-device-01", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_DEVICE, t, 0, NULL, ANY, idx, 64, NULL), 1);
	assert_int_equal(idx[0], b1.idx);
	tok(f, SAKSI_BLIND_KPJ, "12345678901", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_KPJ, t, 0, NULL, ANY, idx, 64, NULL), 1);
	tok(f, SAKSI_BLIND_PHONE, "+6281234567890", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_PHONE, t, 0, NULL, ANY, idx, 64, NULL), 1);
	tok(f, SAKSI_BLIND_EMAIL, "budi.santoso@example.co.id", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_EMAIL, t, 0, NULL, ANY, idx, 64, NULL), 1);
	tok(f, SAKSI_BLIND_IP, "203.0.113.7", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_IP, t, 0, NULL, ANY, idx, 64, NULL), 1);
	assert_int_equal(idx[0], b1.idx);
	/* His entries are still found by what is about the service, not him. */
	assert_int_equal(q3(f, dbi, SAKSI_IX_BOOKING, "BK-1", 0, NULL, ANY, idx, 64, NULL), 1);
	assert_int_equal(idx[0], a0.idx);
	assert_int_equal(q3(f, dbi, SAKSI_IX_BRANCH, "KC-MAKASSAR", 0, NULL, ANY, idx, 64,
	    NULL), 3);
	assert_int_equal(q3(f, dbi, SAKSI_IX_TYPE, "queue.booking.created", 0, NULL, ANY, idx,
	    64, NULL), 3);
	assert_int_equal(q3(f, dbi, 0, NULL, 0, NULL, T0, T0 + 30, idx, 64, NULL), 3);

	/* Dropping a key with postings removes them all, and counts them. */
	n = 0;
	assert_int_equal(saksi_ledger_begin(f->l, 1, &w), SAKSI_OK);
	assert_int_equal(saksi_index_drop(saksi_ledger_txn_mdb(w), dbi, SAKSI_IX_BRANCH,
	    "KC-MAKASSAR", &n), SAKSI_OK);
	assert_int_equal(n, 3);
	assert_int_equal(saksi_index_drop(saksi_ledger_txn_mdb(w), dbi, SAKSI_IX_NIK, tb, &n),
	    SAKSI_OK);
	assert_int_equal(n, 4);
	assert_int_equal(saksi_ledger_commit(w), SAKSI_OK);
	assert_int_equal(q3(f, dbi, SAKSI_IX_BRANCH, "KC-MAKASSAR", 0, NULL, ANY, idx, 64,
	    NULL), 0);
	assert_int_equal(q3(f, dbi, SAKSI_IX_NIK, tb, 0, NULL, ANY, idx, 64, NULL), 0);
	assert_int_equal(q3(f, dbi, SAKSI_IX_BOOKING, "BK-2", 0, NULL, ANY, idx, 64, NULL), 1);

	sodium_memzero(a0.disc, a0.dlen);
	sodium_memzero(b1.disc, b1.dlen);
	sodium_memzero(a2.disc, a2.dlen);
	free(a0.disc);
	free(b1.disc);
	free(a2.disc);
}

static void
test_every_field(void **state)
{
	struct fx *f = *state;
	static const char *const pay_personal[] = { "amount", "bank_account" };
	static const char *const login_personal[] = { "ip" };
	char buf[1024], t[SAKSI_BLIND_TOKEN_LEN + 1];
	uint64_t idx[64], b0, p0, l0;
	MDB_dbi dbi = open_dbi(f, 1);

	b0 = add(f, &dbi, "queue.booking.created", T0 + 10,
	    booking(buf, sizeof(buf), "7371014101900001", "app-install-7f3a9c2e", "BK-1"),
	    booking_personal, 7);
	p0 = add(f, &dbi, "claim.payment.sent", T0 + 20,
	    "{\"branch\":\"KC-MAKASSAR\",\"claim_id\":\"CL-9\",\"amount\":\"1500000\","
	    "\"bank_code\":\"014\",\"bank_account\":\"123-456-7890\",\"transfer_ref\":\"TR1\","
	    "\"attempt\":1}", pay_personal, 2);
	l0 = add(f, &dbi, "staff.login", T0 + 30,
	    "{\"branch\":\"KC-GOWA\",\"officer_id\":\"OF-7\",\"role\":\"frontliner\","
	    "\"method\":\"sso\",\"result\":\"success\",\"terminal_id\":\"PC-1\","
	    "\"ip\":\"2001:db8::1\"}", login_personal, 1);

	/* Personal fields by token, normalised the same way as at ingest. */
	tok(f, SAKSI_BLIND_NIK, "7371-0141-0190-0001", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_NIK, t, 0, NULL, ANY, idx, 64, NULL), 1);
	assert_int_equal(idx[0], b0);
	tok(f, SAKSI_BLIND_KPJ, "12345678901", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_KPJ, t, 0, NULL, ANY, idx, 64, NULL), 1);
	tok(f, SAKSI_BLIND_PHONE, "+6281234567890", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_PHONE, t, 0, NULL, ANY, idx, 64, NULL), 1);
	tok(f, SAKSI_BLIND_EMAIL, "budi.santoso@example.co.id", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_EMAIL, t, 0, NULL, ANY, idx, 64, NULL), 1);
	tok(f, SAKSI_BLIND_DEVICE, "app-install-7f3a9c2e", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_DEVICE, t, 0, NULL, ANY, idx, 64, NULL), 1);
	tok(f, SAKSI_BLIND_IP, "203.0.113.7", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_IP, t, 0, NULL, ANY, idx, 64, NULL), 1);
	assert_int_equal(idx[0], b0);
	tok(f, SAKSI_BLIND_IP, "2001:0db8:0:0::1", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_IP, t, 0, NULL, ANY, idx, 64, NULL), 1);
	assert_int_equal(idx[0], l0);
	assert_int_equal(saksi_blind_account(f->b, "014", "1234567890", t), SAKSI_OK);
	assert_int_equal(q3(f, dbi, SAKSI_IX_ACCOUNT, t, 0, NULL, ANY, idx, 64, NULL), 1);
	assert_int_equal(idx[0], p0);
	/* The same account number at another bank is another account. */
	assert_int_equal(saksi_blind_account(f->b, "002", "1234567890", t), SAKSI_OK);
	assert_int_equal(q3(f, dbi, SAKSI_IX_ACCOUNT, t, 0, NULL, ANY, idx, 64, NULL), 0);

	/* Plain fields as in the payload. */
	assert_int_equal(q3(f, dbi, SAKSI_IX_OFFICER, "OF-7", 0, NULL, ANY, idx, 64, NULL), 1);
	assert_int_equal(idx[0], l0);
	assert_int_equal(q3(f, dbi, SAKSI_IX_BRANCH, "KC-MAKASSAR", 0, NULL, ANY, idx, 64,
	    NULL), 2);
	assert_int_equal(idx[0], b0);
	assert_int_equal(idx[1], p0);
	assert_int_equal(q3(f, dbi, SAKSI_IX_TYPE, "claim.payment.sent", 0, NULL, ANY, idx, 64,
	    NULL), 1);
	assert_int_equal(q3(f, dbi, SAKSI_IX_CLAIM, "CL-9", 0, NULL, ANY, idx, 64, NULL), 1);
	assert_int_equal(q3(f, dbi, SAKSI_IX_BOOKING, "BK-1", 0, NULL, ANY, idx, 64, NULL), 1);
	/* A prefix of a value is not the value. */
	assert_int_equal(q3(f, dbi, SAKSI_IX_BOOKING, "BK-", 0, NULL, ANY, idx, 64, NULL), 0);
	assert_int_equal(q3(f, dbi, SAKSI_IX_CLAIM, "CL-90", 0, NULL, ANY, idx, 64, NULL), 0);
	/* Time alone. */
	assert_int_equal(q3(f, dbi, 0, NULL, 0, NULL, T0 + 15, T0 + 30, idx, 64, NULL), 2);
	assert_int_equal(idx[0], p0);
	assert_int_equal(idx[1], l0);
	assert_int_equal(q3(f, dbi, 0, NULL, 0, NULL, T0 + 31, UINT64_MAX, idx, 64, NULL), 0);
}

/* No clear value of the test is anywhere in the LMDB file. */
static void
test_no_clear_values(void **state)
{
	struct fx *f = *state;
	char buf[1024], path[300], *data;
	size_t len;
	MDB_dbi dbi = open_dbi(f, 1);

	add(f, &dbi, "queue.booking.created", T0,
	    booking(buf, sizeof(buf), "7371014101900001", "app-install-7f3a9c2e", "BK-1"),
	    booking_personal, 7);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	data = slurp(path, &len);
	assert_null(memmem(data, len, "7371014101900001", 16));
	assert_null(memmem(data, len, "12345678901", 11));
	assert_null(memmem(data, len, "81234567890", 11));
	assert_null(memmem(data, len, "0812-3456-7890", 14));
	assert_null(memmem(data, len, "example.co.id", 13));
	assert_null(memmem(data, len, "app-install-7f3a9c2e", 20));
	assert_null(memmem(data, len, "203.0.113.7", 11));
	free(data);
}

/* Two terms AND, time range on top, paging, ascending order, against a model. */
static void
test_and_paging_model(void **state)
{
	struct fx *f = *state;
	static const char *const devs[] = { "device-aaaa-0001", "device-bbbb-0002",
		"device-cccc-0003" };
	static const char *const niks[] = { "7371014101900001", "7371014101900002" };
	char buf[1024], t1[SAKSI_BLIND_TOKEN_LEN + 1], t2[SAKSI_BLIND_TOKEN_LEN + 1];
	uint64_t idx[64], want[200], tms[200], rng = g_seed, after;
	int dv[200], nk[200], more;
	size_t nw, n, got, total;
	MDB_dbi dbi = open_dbi(f, 1);

	for (int i = 0; i < 200; i++) {
		char bk[16];

		dv[i] = (int)(gen_rnd(&rng) % 3);
		nk[i] = (int)(gen_rnd(&rng) % 2);
		/* Producer clocks are not in ledger order. */
		tms[i] = T0 + 1000 * (uint64_t)i - (gen_rnd(&rng) % 5000);
		snprintf(bk, sizeof(bk), "BK-%d", i);
		assert_int_equal(add(f, &dbi, "queue.booking.created", tms[i],
		    booking(buf, sizeof(buf), niks[nk[i]], devs[dv[i]], bk), booking_personal, 7),
		    (uint64_t)i);
	}
	tok(f, SAKSI_BLIND_DEVICE, devs[1], t1);
	tok(f, SAKSI_BLIND_NIK, niks[0], t2);
	nw = 0;
	for (int i = 0; i < 200; i++)
		if (dv[i] == 1 && nk[i] == 0 && tms[i] >= T0 + 50000 && tms[i] <= T0 + 150000)
			want[nw++] = (uint64_t)i;
	assert_true(nw > 5);
	n = q3(f, dbi, SAKSI_IX_DEVICE, t1, SAKSI_IX_NIK, t2, T0 + 50000, T0 + 150000, idx, 64,
	    &more);
	assert_int_equal(n, nw);
	assert_false(more);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(idx[i], want[i]);

	/* Paging by 3 gives the same list. */
	total = 0;
	after = 0;
	for (int page = 0;; page++) {
		saksi_index_term terms[2] = { { SAKSI_IX_DEVICE, t1 }, { SAKSI_IX_NIK, t2 } };
		saksi_index_query q = { terms, 2, T0 + 50000, T0 + 150000, after, page > 0 };
		saksi_index_hit hits[3];
		saksi_ledger_txn *t;

		assert_int_equal(saksi_ledger_begin(f->l, 0, &t), SAKSI_OK);
		assert_int_equal(saksi_index_query_run(saksi_ledger_txn_mdb(t), dbi, &q, hits, 3,
		    &got, &more), SAKSI_OK);
		saksi_ledger_abort(t);
		for (size_t i = 0; i < got; i++) {
			assert_int_equal(hits[i].ih_index, want[total]);
			assert_int_equal(hits[i].ih_time_ms, tms[want[total]]);
			total++;
		}
		if (!more)
			break;
		assert_int_equal(got, 3);
		after = hits[2].ih_index;
	}
	assert_int_equal(total, nw);

	/* Time alone, sorted by leaf index though the times are not. */
	nw = 0;
	for (int i = 0; i < 200; i++)
		if (tms[i] >= T0 + 20000 && tms[i] <= T0 + 40000)
			want[nw++] = (uint64_t)i;
	n = q3(f, dbi, 0, NULL, 0, NULL, T0 + 20000, T0 + 40000, idx, 64, &more);
	assert_int_equal(n, nw);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(idx[i], want[i]);
	/* Limit 2 of them: more. */
	n = q3(f, dbi, 0, NULL, 0, NULL, T0 + 20000, T0 + 40000, idx, 2, &more);
	assert_int_equal(n, 2);
	assert_true(more);
	/* A limit exactly reached: more only if there is more. */
	nw = q3(f, dbi, SAKSI_IX_DEVICE, t1, SAKSI_IX_NIK, t2, T0 + 50000, T0 + 150000, idx, 64,
	    &more);
	n = q3(f, dbi, SAKSI_IX_DEVICE, t1, SAKSI_IX_NIK, t2, T0 + 50000, T0 + 150000, idx, nw,
	    &more);
	assert_int_equal(n, nw);
	assert_false(more);
}

static void
test_state_and_key_change(void **state)
{
	struct fx *f = *state;
	char buf[1024], t[SAKSI_BLIND_TOKEN_LEN + 1];
	uint8_t check[8], want[8], key2[32];
	uint64_t upto, idx[8];
	saksi_ledger_txn *tx;
	saksi_blind *b1;
	MDB_dbi dbi;
	int reset;

	/* No index yet. */
	assert_int_equal(saksi_ledger_begin(f->l, 0, &tx), SAKSI_OK);
	assert_int_equal(saksi_index_open(saksi_ledger_txn_mdb(tx), 0, &dbi),
	    SAKSI_ERR_NOT_FOUND);
	saksi_ledger_abort(tx);
	dbi = open_dbi(f, 0);
	assert_int_equal(saksi_ledger_begin(f->l, 0, &tx), SAKSI_OK);
	assert_int_equal(saksi_index_state(saksi_ledger_txn_mdb(tx), dbi, &upto, check),
	    SAKSI_ERR_NOT_FOUND);
	saksi_ledger_abort(tx);
	/* A leaf written while nothing indexes. */
	add(f, NULL, "queue.booking.created", T0,
	    booking(buf, sizeof(buf), "7371014101900001", "app-install-7f3a9c2e", "BK-1"),
	    booking_personal, 7);

	dbi = open_dbi(f, 1);
	assert_int_equal(saksi_ledger_begin(f->l, 1, &tx), SAKSI_OK);
	assert_int_equal(saksi_index_state(saksi_ledger_txn_mdb(tx), dbi, &upto, check),
	    SAKSI_OK);
	assert_int_equal(upto, 0);
	assert_int_equal(saksi_index_keycheck(f->b, want), SAKSI_OK);
	assert_memory_equal(check, want, 8);
	assert_int_equal(saksi_index_skip(saksi_ledger_txn_mdb(tx), dbi, 1), SAKSI_OK);
	assert_int_equal(saksi_index_skip(saksi_ledger_txn_mdb(tx), dbi, 0), SAKSI_OK);
	assert_int_equal(saksi_index_state(saksi_ledger_txn_mdb(tx), dbi, &upto, check),
	    SAKSI_OK);
	assert_int_equal(upto, 1);
	assert_int_equal(saksi_ledger_commit(tx), SAKSI_OK);

	/* An event indexed moves the mark past it; indexing it again changes nothing. */
	add(f, &dbi, "queue.booking.created", T0 + 1,
	    booking(buf, sizeof(buf), "7371014101900001", "app-install-7f3a9c2e", "BK-2"),
	    booking_personal, 7);
	assert_int_equal(saksi_ledger_begin(f->l, 0, &tx), SAKSI_OK);
	assert_int_equal(saksi_index_state(saksi_ledger_txn_mdb(tx), dbi, &upto, check),
	    SAKSI_OK);
	assert_int_equal(upto, 2);
	saksi_ledger_abort(tx);
	tok(f, SAKSI_BLIND_NIK, "7371014101900001", t);
	assert_int_equal(q3(f, dbi, SAKSI_IX_NIK, t, 0, NULL, ANY, idx, 8, NULL), 1);
	assert_int_equal(idx[0], 1);

	/* Another index key: prepare empties the index and starts from 0. */
	memset(key2, 7, sizeof(key2));
	assert_int_equal(saksi_blind_new(key2, &b1), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(f->l, 1, &tx), SAKSI_OK);
	assert_int_equal(saksi_index_prepare(saksi_ledger_txn_mdb(tx), dbi, b1, &upto, &reset),
	    SAKSI_OK);
	assert_int_equal(reset, 1);
	assert_int_equal(upto, 0);
	assert_int_equal(saksi_ledger_commit(tx), SAKSI_OK);
	assert_int_equal(q3(f, dbi, SAKSI_IX_NIK, t, 0, NULL, ANY, idx, 8, NULL), 0);
	assert_int_equal(q3(f, dbi, SAKSI_IX_BOOKING, "BK-2", 0, NULL, ANY, idx, 8, NULL), 0);
	/* The same key again: kept. */
	assert_int_equal(saksi_ledger_begin(f->l, 1, &tx), SAKSI_OK);
	assert_int_equal(saksi_index_prepare(saksi_ledger_txn_mdb(tx), dbi, b1, &upto, &reset),
	    SAKSI_OK);
	assert_int_equal(reset, 0);
	saksi_ledger_abort(tx);
	saksi_blind_free(b1);
}

static void
test_hostile(void **state)
{
	struct fx *f = *state;
	saksi_index_term bad[SAKSI_INDEX_TERMS_MAX + 1];
	saksi_index_query q;
	saksi_index_hit h[4];
	saksi_ledger_txn *tx;
	uint8_t env[16] = { 0 };
	size_t n;
	int more;
	MDB_txn *mt;
	MDB_dbi dbi = open_dbi(f, 1);

	assert_int_equal(saksi_ledger_begin(f->l, 1, &tx), SAKSI_OK);
	mt = saksi_ledger_txn_mdb(tx);
	memset(&q, 0, sizeof(q));
	q.iq_until_ms = UINT64_MAX;
	/* No term, no time bound. */
	assert_int_equal(saksi_index_query_run(mt, dbi, &q, h, 4, &n, &more), SAKSI_ERR_INVAL);
	/* A personal term that is not a token. */
	bad[0] = (saksi_index_term){ SAKSI_IX_NIK, "7371014101900001" };
	q.iq_terms = bad;
	q.iq_nterms = 1;
	assert_int_equal(saksi_index_query_run(mt, dbi, &q, h, 4, &n, &more), SAKSI_ERR_INVAL);
	bad[0] = (saksi_index_term){ SAKSI_IX_BRANCH, "" };
	assert_int_equal(saksi_index_query_run(mt, dbi, &q, h, 4, &n, &more), SAKSI_ERR_INVAL);
	bad[0] = (saksi_index_term){ SAKSI_IX__COUNT, "x" };
	assert_int_equal(saksi_index_query_run(mt, dbi, &q, h, 4, &n, &more), SAKSI_ERR_INVAL);
	bad[0] = (saksi_index_term){ SAKSI_IX_TIME, "x" };
	assert_int_equal(saksi_index_query_run(mt, dbi, &q, h, 4, &n, &more), SAKSI_ERR_INVAL);
	bad[0] = (saksi_index_term){ SAKSI_IX_BRANCH, NULL };
	assert_int_equal(saksi_index_query_run(mt, dbi, &q, h, 4, &n, &more), SAKSI_ERR_INVAL);
	for (int i = 0; i <= SAKSI_INDEX_TERMS_MAX; i++)
		bad[i] = (saksi_index_term){ SAKSI_IX_BRANCH, "KC-X" };
	q.iq_nterms = SAKSI_INDEX_TERMS_MAX + 1;
	assert_int_equal(saksi_index_query_run(mt, dbi, &q, h, 4, &n, &more), SAKSI_ERR_INVAL);
	q.iq_nterms = SAKSI_INDEX_TERMS_MAX;
	assert_int_equal(saksi_index_query_run(mt, dbi, &q, h, 4, &n, &more), SAKSI_OK);
	assert_int_equal(n, 0);
	assert_int_equal(saksi_index_query_run(mt, dbi, &q, h, 0, &n, &more), SAKSI_ERR_INVAL);
	q.iq_since_ms = 5;
	q.iq_until_ms = 4;
	assert_int_equal(saksi_index_query_run(mt, dbi, &q, h, 4, &n, &more), SAKSI_ERR_INVAL);
	/* A long plain value is found by its hash, and a long query value is fine. */
	{
		char longv[300];

		memset(longv, 'A', sizeof(longv) - 1);
		longv[sizeof(longv) - 1] = '\0';
		bad[0] = (saksi_index_term){ SAKSI_IX_CLAIM, longv };
		q.iq_nterms = 1;
		q.iq_since_ms = 0;
		q.iq_until_ms = UINT64_MAX;
		assert_int_equal(saksi_index_query_run(mt, dbi, &q, h, 4, &n, &more), SAKSI_OK);
		assert_int_equal(n, 0);
	}
	/* Not an envelope. */
	assert_int_equal(saksi_index_event(mt, dbi, f->b, 0, env, sizeof(env), NULL, 0),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_index_event(mt, dbi, NULL, 0, env, sizeof(env), NULL, 0),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_query_run(NULL, dbi, &q, h, 4, &n, &more),
	    SAKSI_ERR_INVAL);
	saksi_ledger_abort(tx);

	assert_string_equal(saksi_index_field_name(SAKSI_IX_OFFICER), "officer");
	assert_null(saksi_index_field_name(SAKSI_IX_STATE));
	assert_null(saksi_index_field_name(SAKSI_IX__COUNT));
	assert_int_equal(saksi_index_field_by_name("device"), SAKSI_IX_DEVICE);
	assert_int_equal(saksi_index_field_by_name("nope"), SAKSI_IX_STATE);
	assert_int_equal(saksi_index_field_by_name(NULL), SAKSI_IX_STATE);
	assert_true(saksi_index_field_personal(SAKSI_IX_ACCOUNT));
	assert_false(saksi_index_field_personal(SAKSI_IX_CLAIM));
}

/* A long claim id is indexed by its hash and found by its full value. */
static void
test_long_value(void **state)
{
	struct fx *f = *state;
	char pay[512], id[80];
	uint64_t idx[4];
	MDB_dbi dbi = open_dbi(f, 1);

	memset(id, 'C', 70);
	id[70] = '\0';
	snprintf(pay, sizeof(pay), "{\"branch\":\"KC-MAKASSAR\",\"claim_id\":\"%s\","
	    "\"by\":\"officer\",\"reason\":\"duplicate_claim\",\"officer_id\":\"OF-1\"}", id);
	if (add(f, &dbi, "claim.rejected", T0, pay, NULL, 0) != 0)
		fail();
	assert_int_equal(q3(f, dbi, SAKSI_IX_CLAIM, id, 0, NULL, ANY, idx, 4, NULL), 1);
	id[69] = 'D';
	assert_int_equal(q3(f, dbi, SAKSI_IX_CLAIM, id, 0, NULL, ANY, idx, 4, NULL), 0);
}

/* Every key and posting of the index, in LMDB's order (tu_db_dump). */
static uint8_t *
dump(struct fx *f, MDB_dbi dbi, size_t *len)
{
	saksi_ledger_txn *t;
	uint8_t *out;

	assert_int_equal(saksi_ledger_begin(f->l, 0, &t), SAKSI_OK);
	out = tu_db_dump(saksi_ledger_txn_mdb(t), dbi, len);
	saksi_ledger_abort(t);
	return out;
}

/* Empties the index and prepares it again (upto 0). */
static void
reset_index(struct fx *f, MDB_dbi dbi)
{
	saksi_ledger_txn *t;
	uint64_t upto;

	assert_int_equal(saksi_ledger_begin(f->l, 1, &t), SAKSI_OK);
	assert_int_equal(mdb_drop(saksi_ledger_txn_mdb(t), dbi, 0), 0);
	assert_int_equal(saksi_index_prepare(saksi_ledger_txn_mdb(t), dbi, f->b, &upto, NULL),
	    SAKSI_OK);
	assert_int_equal(upto, 0);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
}

/* Keys as saksid's ingest workers make them: the parsed payload and checked pairs. */
static saksi_index_keys *
keys_like_ingest(struct fx *f, const struct kept *k)
{
	saksi_envelope env;
	char **names = NULL, **values = NULL;
	size_t nd = 0;
	saksi_index_keys *out;
	json_t *root;

	assert_int_equal(saksi_envelope_parse(k->env, k->elen, &env), SAKSI_OK);
	root = json_loadb((const char *)env.ev_payload, env.ev_payload_len,
	    JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(root);
	assert_int_equal(saksi_disclosures_check_json(root, (const uint8_t *)k->disc, k->dlen,
	    &names, &values, &nd), SAKSI_OK);
	assert_int_equal(saksi_index_keys_make(f->b, &env, root, names, values, nd, &out),
	    SAKSI_OK);
	saksi_disclosures_free(names, values, nd);
	json_decref(root);
	return out;
}

/*
 * The keys made apart and written sorted, a group at a time (saksid's fast path), give
 * the index byte for byte as saksi_index_event one event at a time (the catch-up's path)
 * over the same random ledger; and the hostile and NULL cases of the keys and batches.
 */
static void
test_batch_same_bytes(void **state)
{
	struct fx *f = *state;
	static const char *const staff_personal[] = { "ip" };
	static const char *const pay_personal[] = { "bank_account" };
	struct kept ev[60];
	uint64_t rng = g_seed ^ 0x1d3f, upto;
	uint8_t *a, *b2, *c2, check[8];
	size_t alen, blen, clen;
	saksi_index_batch *bt;
	saksi_index_keys *k;
	saksi_ledger_txn *t;
	MDB_dbi dbi = open_dbi(f, 1), other;
	char buf[1024], nik[17], dev[24], bk[24];
	size_t n = sizeof(ev) / sizeof(ev[0]);

	for (size_t i = 0; i < n; i++) {
		struct kept *e = &ev[i];
		uint64_t r = gen_rnd(&rng);
		/* Few people, devices and milliseconds: keys shared by many events. */
		uint64_t tms = T0 + r % 7;

		snprintf(nik, sizeof(nik), "73710141019%05u", (unsigned)(r >> 8) % 5);
		snprintf(dev, sizeof(dev), "dev-%u", (unsigned)(r >> 16) % 3);
		snprintf(bk, sizeof(bk), "BK-%06u", (unsigned)i);
		switch (r >> 32 & 3) {
		case 0:
		case 1:
			add_kept(f, dbi, "queue.booking.created", tms, booking(buf, sizeof(buf),
			    nik, dev, bk), booking_personal, 7, e);
			break;
		case 2:
			snprintf(buf, sizeof(buf), "{\"branch\":\"KC-MAKASSAR\",\"officer_id\":"
			    "\"OF-%u\",\"role\":\"frontliner\",\"method\":\"sso\",\"result\":"
			    "\"success\",\"terminal_id\":\"counter-1\",\"ip\":\"10.1.2.%u\"}",
			    (unsigned)(r >> 20) % 3, (unsigned)(r >> 24) % 4);
			add_kept(f, dbi, "staff.login", tms, buf, staff_personal, 1, e);
			break;
		default:
			snprintf(buf, sizeof(buf), "{\"branch\":\"KC-MAKASSAR\",\"claim_id\":"
			    "\"CL-%u\",\"amount\":\"1000\",\"bank_code\":\"002\","
			    "\"bank_account\":\"02340101234550%u\",\"transfer_ref\":\"T%u\","
			    "\"attempt\":1}", (unsigned)(r >> 20) % 4, (unsigned)(r >> 24) % 3,
			    (unsigned)i);
			add_kept(f, dbi, "claim.payment.sent", tms, buf, pay_personal, 1, e);
			break;
		}
	}
	a = dump(f, dbi, &alen);
	assert_true(alen > 0);

	/* The fast path: keys from saksi_index_keys_of, groups of 1, 7, 13, ... events. */
	reset_index(f, dbi);
	assert_int_equal(saksi_index_batch_new(&bt), SAKSI_OK);
	for (size_t i = 0, g = 1; i < n; g += 6) {
		assert_int_equal(saksi_ledger_begin(f->l, 1, &t), SAKSI_OK);
		for (size_t j = 0; j < g && i < n; j++, i++) {
			assert_int_equal(saksi_index_keys_of(f->b, ev[i].env, ev[i].elen,
			    (const uint8_t *)ev[i].disc, ev[i].dlen, &k), SAKSI_OK);
			assert_int_equal(saksi_index_batch_add(bt, k, ev[i].idx), SAKSI_OK);
			saksi_index_keys_free(k);
		}
		assert_true(saksi_index_batch_count(bt) > 0);
		assert_int_equal(saksi_index_batch_write(bt, saksi_ledger_txn_mdb(t), dbi),
		    SAKSI_OK);
		assert_int_equal(saksi_index_batch_count(bt), 0);
		assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	}
	b2 = dump(f, dbi, &blen);
	assert_int_equal(blen, alen);
	assert_memory_equal(a, b2, alen);

	/* As the ingest workers make them (saksi_index_keys_make), all in one group. */
	reset_index(f, dbi);
	assert_int_equal(saksi_ledger_begin(f->l, 1, &t), SAKSI_OK);
	for (size_t i = 0; i < n; i++) {
		k = keys_like_ingest(f, &ev[i]);
		assert_int_equal(saksi_index_batch_add(bt, k, ev[i].idx), SAKSI_OK);
		saksi_index_keys_free(k);
	}
	assert_int_equal(saksi_index_batch_write(bt, saksi_ledger_txn_mdb(t), dbi), SAKSI_OK);
	assert_int_equal(saksi_index_state(saksi_ledger_txn_mdb(t), dbi, &upto, check),
	    SAKSI_OK);
	assert_int_equal(upto, ev[n - 1].idx + 1);
	/* An empty batch writes nothing, not even the mark. */
	assert_int_equal(saksi_index_batch_write(bt, saksi_ledger_txn_mdb(t), dbi), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	c2 = dump(f, dbi, &clen);
	assert_int_equal(clen, alen);
	assert_memory_equal(a, c2, alen);

	/* Hostile and NULL arguments. */
	{
		saksi_envelope env;
		json_t *arr = json_array(), *obj = json_object();
		char *nm[1] = { NULL };
		saksi_index_keys *x = (saksi_index_keys *)1;

		assert_int_equal(saksi_envelope_parse(ev[0].env, ev[0].elen, &env), SAKSI_OK);
		assert_int_equal(saksi_index_keys_make(NULL, &env, obj, NULL, NULL, 0, &x),
		    SAKSI_ERR_INVAL);
		assert_null(x);
		assert_int_equal(saksi_index_keys_make(f->b, NULL, obj, NULL, NULL, 0, &x),
		    SAKSI_ERR_INVAL);
		assert_int_equal(saksi_index_keys_make(f->b, &env, arr, NULL, NULL, 0, &x),
		    SAKSI_ERR_INVAL);
		assert_int_equal(saksi_index_keys_make(f->b, &env, NULL, NULL, NULL, 0, &x),
		    SAKSI_ERR_INVAL);
		assert_int_equal(saksi_index_keys_make(f->b, &env, obj, nm, NULL, 1, &x),
		    SAKSI_ERR_INVAL);
		assert_int_equal(saksi_index_keys_make(f->b, &env, obj, NULL, NULL, 0, NULL),
		    SAKSI_ERR_INVAL);
		/* An object with nothing indexed but the envelope's time and type. */
		assert_int_equal(saksi_index_keys_make(f->b, &env, obj, NULL, NULL, 0, &x),
		    SAKSI_OK);
		assert_int_equal(saksi_index_batch_add(bt, x, 0), SAKSI_OK);
		assert_int_equal(saksi_index_batch_count(bt), 2);
		saksi_index_batch_clear(bt);
		assert_int_equal(saksi_index_batch_count(bt), 0);
		saksi_index_keys_free(x);
		json_decref(arr);
		json_decref(obj);
	}
	assert_int_equal(saksi_index_keys_of(f->b, ev[0].env, 3, NULL, 0, &k), SAKSI_ERR_FORMAT);
	assert_null(k);
	assert_int_equal(saksi_index_keys_of(NULL, ev[0].env, ev[0].elen, NULL, 0, &k),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_keys_of(f->b, NULL, 0, NULL, 0, &k), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_keys_of(f->b, ev[0].env, ev[0].elen, NULL, 0, NULL),
	    SAKSI_ERR_INVAL);
	/* Disclosures that do not match: the event's keys without its personal ones. */
	assert_int_equal(saksi_index_keys_of(f->b, ev[0].env, ev[0].elen,
	    (const uint8_t *)"[]", 2, &k), SAKSI_OK);
	saksi_index_keys_free(k);
	assert_int_equal(saksi_index_keys_of(f->b, ev[0].env, ev[0].elen, NULL, 0, &k),
	    SAKSI_OK);
	assert_int_equal(saksi_index_batch_add(NULL, k, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_batch_add(bt, NULL, 0), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_batch_new(NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_batch_count(NULL), 0);
	/* A database without a state (not prepared): refused, the batch emptied. */
	assert_int_equal(saksi_ledger_begin(f->l, 1, &t), SAKSI_OK);
	assert_int_equal(mdb_dbi_open(saksi_ledger_txn_mdb(t), "index-bare",
	    MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &other), 0);
	assert_int_equal(saksi_index_batch_add(bt, k, 0), SAKSI_OK);
	assert_int_equal(saksi_index_batch_write(bt, NULL, other), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_batch_write(NULL, saksi_ledger_txn_mdb(t), other),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_index_batch_write(bt, saksi_ledger_txn_mdb(t), other),
	    SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_index_batch_count(bt), 0);
	saksi_ledger_abort(t);
	saksi_index_keys_free(k);
	saksi_index_keys_free(NULL);
	saksi_index_batch_free(bt);
	saksi_index_batch_free(NULL);
	for (size_t i = 0; i < n; i++) {
		sodium_memzero(ev[i].disc, ev[i].dlen);
		free(ev[i].disc);
	}
	free(a);
	free(b2);
	free(c2);
}

/* The nik's token among clear disclosures: found past others and undecodable ones, the
 * same token as the blind key makes; none in anything else. */
static void
test_nik_token(void **state)
{
	struct fx *f = *state;
	char tok[SAKSI_BLIND_TOKEN_LEN + 1], want[SAKSI_BLIND_TOKEN_LEN + 1], *nik, *phone;
	char *bad, list[2048];

	assert_int_equal(saksi_blind_token(f->b, SAKSI_BLIND_NIK, "7371014101900001", 16,
	                                   want), SAKSI_OK);
	assert_int_equal(saksi_disclosure_make("nik", "7371014101900001", &nik), SAKSI_OK);
	assert_int_equal(saksi_disclosure_make("phone", "+6281242317765", &phone), SAKSI_OK);
	assert_int_equal(saksi_disclosure_make("nik", "not a nik", &bad), SAKSI_OK);
	snprintf(list, sizeof(list), "[\"%s\", 7, \"!!\", \"%s\"]", phone, nik);
	memset(tok, 0, sizeof(tok));
	assert_int_equal(saksi_index_nik_token(f->b, (const uint8_t *)list, strlen(list), tok),
	                 1);
	assert_string_equal(tok, want);
	/* No nik; a nik that does not normalise; not an array; not JSON; nothing. */
	snprintf(list, sizeof(list), "[\"%s\"]", phone);
	assert_int_equal(saksi_index_nik_token(f->b, (const uint8_t *)list, strlen(list), tok),
	                 0);
	snprintf(list, sizeof(list), "[\"%s\"]", bad);
	assert_int_equal(saksi_index_nik_token(f->b, (const uint8_t *)list, strlen(list), tok),
	                 0);
	snprintf(list, sizeof(list), "{\"nik\": \"%s\"}", nik);
	assert_int_equal(saksi_index_nik_token(f->b, (const uint8_t *)list, strlen(list), tok),
	                 0);
	assert_int_equal(saksi_index_nik_token(f->b, (const uint8_t *)"[", 1, tok), 0);
	assert_int_equal(saksi_index_nik_token(f->b, (const uint8_t *)"[]", 2, tok), 0);
	assert_int_equal(saksi_index_nik_token(f->b, NULL, 0, tok), 0);
	assert_int_equal(saksi_index_nik_token(NULL, (const uint8_t *)"[]", 2, tok), 0);
	free(nik);
	free(phone);
	free(bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_field, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_clear_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_and_paging_model, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_and_key_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unpost_personal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nik_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_same_bytes, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	randombytes_buf(&g_seed, sizeof(g_seed));
	if (getenv("SAKSI_TEST_SEED") != NULL)
		g_seed = strtoull(getenv("SAKSI_TEST_SEED"), NULL, 10);
	printf("index_test seed %llu (SAKSI_TEST_SEED to repeat)\n", (unsigned long long)g_seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
