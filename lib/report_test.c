/*
 * report_test.c: saksi_report_write over a small ledger made here, event by event, with
 * real keys, real LMDB and disclosures sealed at rest: the out-of-order judgement at its
 * edges (3 skipped is not an offence, 4 is; the 2 h window; a priority call; a repeated
 * call), bookings per device and phone with a forgotten participant, payments per account,
 * both waits, alerts (a re-raise and an alert outside the period left out), the branch
 * filter, the empty ledger, and every error code the function can return.
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
#include "bytes.h"
#include "datakey.h"
#include "envelope.h"
#include "index.h"
#include "keys.h"
#include "ledger.h"
#include "report.h"
#include "rules.h"
#include "verify.h"
#include "../tests/testutil.h"
#include "../tests/ixledger.h"

#define ORIGIN IXL_ORIGIN
#define D0 1741564800000ULL   /* 2025-03-10T00:00:00Z */
#define H (3600ULL * 1000)
#define M (60ULL * 1000)

static int
setup(void **state)
{
	return ixl_setup(state, "saksi-report-lib", NULL);
}

/*
 * One event as saksid appends it (ixl_add), committed at its producer time, its
 * disclosures sealed at rest with the store key (slot -1) or that participant's data
 * key. Returns its leaf index.
 */
static uint64_t
add(struct ixl *f, const char *type, uint64_t tms, const char *clear,
    const char *const *personal, size_t np, int64_t slot)
{
	return ixl_add(f, type, tms, tms, clear, personal, np, slot < 0 ? IXL_STORE : IXL_SLOT,
	    slot < 0 ? 0 : (uint64_t)slot);
}

static uint64_t
add_alert(struct ixl *f, int kind, uint64_t id, const char *rule, uint64_t last_ms,
          uint64_t trigger)
{
	saksi_alert a;
	uint8_t body[SAKSI_ALERT_LEAF_MAX];
	size_t len;
	saksi_ledger_txn *t;
	uint64_t idx;

	memset(&a, 0, sizeof(a));
	a.al_id = id;
	a.al_kind = kind;
	a.al_severity = kind == SAKSI_ALERT_RERAISE ? 4 : 3;
	snprintf(a.al_rule, sizeof(a.al_rule), "%s", rule);
	snprintf(a.al_group, sizeof(a.al_group), "*");
	a.al_first_ms = last_ms;
	a.al_last_ms = last_ms;
	a.al_value = a.al_threshold = 3;
	a.al_extra = kind == SAKSI_ALERT_RERAISE ? 1 : 0;
	a.al_trigger = trigger;
	a.al_total = 1;
	a.al_nevidence = 1;
	a.al_evidence[0] = trigger;
	assert_int_equal(saksi_alert_leaf_encode(&a, body, sizeof(body), &len), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(f->l, 1, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(t, SAKSI_LEAF_ALERT, last_ms, body, len, &idx,
	    NULL), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	return idx;
}

/* The report of [since, until] into a string; its code in *e. */
static char *
report(struct ixl *f, uint64_t since, uint64_t until, const char *branch, saksi_err *e)
{
	saksi_report_opts o;
	saksi_ledger_txn *t;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	memset(&o, 0, sizeof(o));
	o.ro_since_ms = since;
	o.ro_until_ms = until;
	o.ro_branch = branch;
	o.ro_origin = ORIGIN;
	o.ro_now_ms = D0;
	assert_int_equal(saksi_ledger_begin(f->l, 0, &t), SAKSI_OK);
	*e = saksi_report_write(out, t, f->dbi, f->b, f->store, f->dk, &o);
	saksi_ledger_abort(t);
	assert_int_equal(fclose(out), 0);
	return buf;
}

/* The text of the table of class cls for chart, from <tbody> to </tbody>. */
static char *
table(const char *html, const char *cls, const char *chart)
{
	char head[128];
	const char *p, *q;

	snprintf(head, sizeof(head), "<table class=\"%s\" data-chart=\"%s\">", cls, chart);
	p = strstr(html, head);
	if (p == NULL)
		fail_msg("no table %s %s", cls, chart);
	p = strstr(p, "<tbody>");
	q = strstr(p, "</tbody>");
	assert_non_null(q);
	return strndup(p, (size_t)(q - p));
}

static void
has(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("not found: %s\nin: %s", needle, hay);
}

static const char *const booking_personal[] = { "nik", "kpj", "name", "phone", "device_id" };
static const char *const payment_personal[] = { "amount", "bank_account" };

static void
booking(struct ixl *f, uint64_t t, const char *id, const char *nik, const char *phone,
        const char *device, int64_t slot)
{
	char p[512];

	snprintf(p, sizeof(p), "{\"branch\":\"KC-TEST\",\"channel\":\"web\",\"booking_id\":\"%s\","
	    "\"service\":\"jht_claim\",\"slot_date\":\"2025-03-10\",\"slot_hour\":9,"
	    "\"nik\":\"%s\",\"kpj\":\"12345678901\",\"name\":\"BUDI\",\"phone\":\"%s\"%s%s%s}",
	    id, nik, phone, device ? ",\"device_id\":\"" : "", device ? device : "",
	    device ? "\"" : "");
	add(f, "queue.booking.created", t, p, booking_personal, 5, slot);
}

static void
queue_ev(struct ixl *f, uint64_t t, int call, int seq, const char *officer, int count,
         const char *prio)
{
	char p[512];

	if (!call)
		snprintf(p, sizeof(p), "{\"branch\":\"KC-TEST\",\"channel\":\"kiosk\","
		    "\"queue_date\":\"2025-03-10\",\"service\":\"jht_claim\",\"ticket\":\"A-%03d\","
		    "\"ticket_seq\":%d,\"walk_in\":true,\"id_method\":\"none\","
		    "\"id_result\":\"not_checked\"}", seq, seq);
	else
		snprintf(p, sizeof(p), "{\"branch\":\"KC-TEST\",\"queue_date\":\"2025-03-10\","
		    "\"service\":\"jht_claim\",\"ticket\":\"A-%03d\",\"ticket_seq\":%d,"
		    "\"officer_id\":\"%s\",\"counter_no\":1,\"call_count\":%d,\"priority\":\"%s\"}",
		    seq, seq, officer, count, prio);
	add(f, call ? "queue.called" : "queue.checkin", t, p, NULL, 0, -1);
}

static void
payment(struct ixl *f, uint64_t t, const char *claim, const char *account)
{
	char p[512];

	snprintf(p, sizeof(p), "{\"branch\":\"KC-TEST\",\"claim_id\":\"%s\",\"amount\":\"1000000\","
	    "\"bank_code\":\"008\",\"bank_account\":\"%s\",\"transfer_ref\":\"TR-%s\","
	    "\"attempt\":1}", claim, account, claim);
	add(f, "claim.payment.sent", t, p, payment_personal, 2, -1);
}

static void
test_day(void **state)
{
	struct ixl *f = *state;
	saksi_err e;
	char *h, *t;
	uint64_t trig;

	/* A queue, line A: six check-ins from 08:00, two old ones, one late one. */
	for (int s = 1; s <= 6; s++)
		queue_ev(f, D0 + 8 * H + (uint64_t)s * 1000, 0, s, NULL, 0, NULL);
	queue_ev(f, D0 + 6 * H, 0, 9, NULL, 0, NULL);
	queue_ev(f, D0 + 6 * H + M, 0, 10, NULL, 0, NULL);
	queue_ev(f, D0 + 8 * H + 15 * M, 0, 11, NULL, 0, NULL);
	/* O-1 calls 5 past 1-4: 4 skipped, an offence. */
	queue_ev(f, D0 + 8 * H + 10 * M, 1, 5, "O-1", 1, "normal");
	/* O-2 calls 1: none skipped. */
	queue_ev(f, D0 + 8 * H + 11 * M, 1, 1, "O-2", 1, "normal");
	/* O-1 calls 6 past 2, 3, 4: 3 skipped, within what the rule lets pass. */
	queue_ev(f, D0 + 8 * H + 12 * M, 1, 6, "O-1", 1, "normal");
	/* O-2 calls 4 with priority (exempt), then again (a repeat is no new choice). */
	queue_ev(f, D0 + 8 * H + 13 * M, 1, 4, "O-2", 1, "priority");
	queue_ev(f, D0 + 8 * H + 14 * M, 1, 4, "O-2", 2, "priority");
	/* O-1 calls 11 past 2, 3 and past 9, 10, who checked in over 2 h before: 2. */
	queue_ev(f, D0 + 8 * H + 20 * M, 1, 11, "O-1", 1, "normal");

	/* Bookings: DEV-A for three NIKs, and a fourth whose participant is forgotten;
	 * DEV-B once; one without a device. */
	booking(f, D0 - 15 * H, "BK-000001", "7371010101900001", "+6281234567001",
	    "web-aaaaaaaaaaaaaaaa", -1);
	booking(f, D0 + 1 * H, "BK-000002", "7371010101900002", "+6281234567001",
	    "web-aaaaaaaaaaaaaaaa", -1);
	booking(f, D0 + 1 * H + M, "BK-000003", "7371010101900003", "+6281234567001",
	    "web-aaaaaaaaaaaaaaaa", -1);
	booking(f, D0 + 1 * H + 2 * M, "BK-000004", "7371010101900004", "+6281234567009",
	    "web-aaaaaaaaaaaaaaaa", 0);
	booking(f, D0 + 2 * H, "BK-000005", "7371010101900005", "+6281234567002",
	    "web-bbbbbbbbbbbbbbbb", -1);
	booking(f, D0 + 3 * H, "BK-000006", "7371010101900006", "+6281234567003", NULL, -1);
	assert_int_equal(saksi_dk_wipe(f->dk, 0), SAKSI_OK);
	/* BK-000001, booked the day before at 09:00, checked in 08:30, served 09:00. */
	add(f, "queue.checkin", D0 + 8 * H + 30 * M, "{\"branch\":\"KC-TEST\",\"channel\":"
	    "\"app\",\"queue_date\":\"2025-03-10\",\"service\":\"jht_claim\",\"ticket\":"
	    "\"V-001\",\"ticket_seq\":1,\"walk_in\":false,\"id_method\":\"qr_only\","
	    "\"id_result\":\"not_checked\",\"booking_id\":\"BK-000001\"}", NULL, 0, -1);
	trig = add(f, "queue.service.started", D0 + 9 * H, "{\"branch\":\"KC-TEST\","
	    "\"queue_date\":\"2025-03-10\",\"service\":\"jht_claim\",\"ticket\":\"V-001\","
	    "\"officer_id\":\"O-3\",\"mode\":\"video\",\"booking_id\":\"BK-000001\"}", NULL, 0,
	    -1);
	/* A walk-in without a booking. */
	add(f, "queue.service.started", D0 + 10 * H, "{\"branch\":\"KC-TEST\","
	    "\"queue_date\":\"2025-03-10\",\"service\":\"membership\",\"ticket\":\"C-001\","
	    "\"officer_id\":\"O-3\",\"mode\":\"in_person\"}", NULL, 0, -1);
	/* Payments: two claims into one account, one into another. */
	payment(f, D0 + 20 * H, "CL-000001", "1234567890");
	payment(f, D0 + 20 * H + M, "CL-000002", "1234567890");
	payment(f, D0 + 20 * H + 2 * M, "CL-000003", "9876543210");
	/* Alerts: one in the period, its re-raise, one about another day. */
	add_alert(f, SAKSI_ALERT_RULE, 1, "device_many_nik_fast", D0 + 2 * H, trig);
	add_alert(f, SAKSI_ALERT_RERAISE, 1, "device_many_nik_fast", D0 + 2 * H, trig + 1);
	add_alert(f, SAKSI_ALERT_RULE, 2, "phone_many_nik", D0 - 5 * 86400000ULL, trig);

	h = report(f, D0, D0 + 86400000 - 1, NULL, &e);
	assert_int_equal(e, SAKSI_OK);
	has(h, "id=\"total-events\">26<");

	t = table(h, "numbers", "chart-officers");
	assert_string_equal(t, "<tbody>\n"
	    "<tr><td>O-1</td><td>3</td><td>1</td><td>0</td><td>33.3</td></tr>\n"
	    "<tr><td>O-2</td><td>2</td><td>0</td><td>1</td><td>0.0</td></tr>\n");
	free(t);

	/* The booking of the day before is outside the period: 4 bookings, of which DEV-A
	 * made 3 (one of them forgotten: not attributable), DEV-B 1, one has no device. */
	t = table(h, "numbers", "chart-devices");
	assert_string_equal(t, "<tbody>\n"
	    "<tr><td>1</td><td>1</td><td>1</td></tr>\n"
	    "<tr><td>2</td><td>1</td><td>2</td></tr>\n");
	free(t);
	has(strstr(h, "id=\"devices\""), "2 devices, 3 bookings; in the long tail (6 or more): "
	    "0 devices with 0 bookings. Not attributable (a forgotten participant, or no value "
	    "given): 2.");
	t = table(h, "top", "chart-devices");
	has(t, "<td>2</td><td>2</td></tr>");   /* 2 bookings, 2 distinct NIKs */
	free(t);
	t = table(h, "numbers", "chart-phones");
	assert_string_equal(t, "<tbody>\n"
	    "<tr><td>1</td><td>2</td><td>2</td></tr>\n"
	    "<tr><td>2</td><td>1</td><td>2</td></tr>\n");
	free(t);
	t = table(h, "numbers", "chart-accounts");
	assert_string_equal(t, "<tbody>\n"
	    "<tr><td>1</td><td>1</td><td>1</td></tr>\n"
	    "<tr><td>2</td><td>1</td><td>2</td></tr>\n");
	free(t);

	t = table(h, "numbers", "chart-wait-booking");
	assert_string_equal(t, "<tbody>\n<tr><td>2025-03-10</td><td>1</td><td>24.0</td>"
	    "<td>24.0</td><td>24.0</td></tr>\n");
	free(t);
	t = table(h, "numbers", "chart-wait-checkin");
	assert_string_equal(t, "<tbody>\n<tr><td>2025-03-10</td><td>1</td><td>30.0</td>"
	    "<td>30.0</td><td>30.0</td></tr>\n");
	free(t);
	has(strstr(h, "id=\"wait-booking\""), "(walk-ins without one, or one outside the "
	    "ledger): 1.");

	t = table(h, "numbers", "chart-alerts");
	assert_string_equal(t, "<tbody>\n<tr><td>device_many_nik_fast</td><td>2025-03-10</td>"
	    "<td>1</td></tr>\n");
	free(t);

	/* Channels: 5 web bookings (the one of the day before is not in it), 9 kiosk
	 * check-ins, 1 app check-in; calls, service starts and payments have none. */
	t = table(h, "numbers", "chart-channels");
	assert_string_equal(t, "<tbody>\n<tr><td>2025-03-10</td><td>5</td><td>1</td><td>9</td>"
	    "<td>0</td><td>0</td><td>11</td><td>26</td></tr>\n");
	free(t);
	/* No personal value: not the NIKs, phones, devices, accounts. */
	assert_null(strstr(h, "737101"));
	assert_null(strstr(h, "81234567"));
	assert_null(strstr(h, "web-aaaa"));
	assert_null(strstr(h, "1234567890"));
	free(h);

	/* Two days from the evening before: the booking of the day before is in. */
	h = report(f, D0 - 86400000, D0 + 86400000 - 1, NULL, &e);
	assert_int_equal(e, SAKSI_OK);
	has(h, "id=\"total-events\">27<");
	t = table(h, "numbers", "chart-devices");
	assert_string_equal(t, "<tbody>\n"
	    "<tr><td>1</td><td>1</td><td>1</td></tr>\n"
	    "<tr><td>2</td><td>0</td><td>0</td></tr>\n"
	    "<tr><td>3</td><td>1</td><td>3</td></tr>\n");
	free(t);
	free(h);

	/* Another branch: nothing. A branch that is there: everything. */
	h = report(f, D0, D0 + 86400000 - 1, "KC-OTHER", &e);
	assert_int_equal(e, SAKSI_OK);
	has(h, "id=\"total-events\">0<");
	has(h, "<td>KC-OTHER</td>");
	assert_null(strstr(h, "<svg"));
	free(h);
	h = report(f, D0, D0 + 86400000 - 1, "KC-TEST", &e);
	assert_int_equal(e, SAKSI_OK);
	has(h, "id=\"total-events\">26<");
	/* The alert's trigger is a KC-TEST event. */
	has(h, "<td>device_many_nik_fast</td><td>2025-03-10</td><td>1</td>");
	free(h);
}

static void
test_empty(void **state)
{
	struct ixl *f = *state;
	saksi_err e;
	char *h = report(f, D0, D0 + 3 * 86400000 - 1, NULL, &e);

	assert_int_equal(e, SAKSI_OK);
	has(h, "<!DOCTYPE html>");
	has(h, "id=\"no-events\"");
	has(h, "<tr><th>days</th><td>3</td></tr>");
	assert_null(strstr(h, "<svg"));
	assert_int_equal(strstr(h, "</html>\n")[8], '\0');
	free(h);
}

static void
test_errors(void **state)
{
	struct ixl *f = *state;
	saksi_report_opts o;
	saksi_ledger_txn *t;
	FILE *out = fopen("/dev/null", "w"), *ro = fopen("/dev/null", "r");
	char long_branch[80];

	assert_non_null(out);
	assert_non_null(ro);
	memset(&o, 0, sizeof(o));
	o.ro_since_ms = D0;
	o.ro_until_ms = D0 + 1000;
	assert_int_equal(saksi_ledger_begin(f->l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_report_write(NULL, t, f->dbi, f->b, f->store, f->dk, &o),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_report_write(out, NULL, f->dbi, f->b, f->store, f->dk, &o),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_report_write(out, t, f->dbi, NULL, f->store, f->dk, &o),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_report_write(out, t, f->dbi, f->b, NULL, f->dk, &o),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_report_write(out, t, f->dbi, f->b, f->store, f->dk, NULL),
	    SAKSI_ERR_INVAL);
	o.ro_since_ms = D0 + 1001;
	assert_int_equal(saksi_report_write(out, t, f->dbi, f->b, f->store, f->dk, &o),
	    SAKSI_ERR_INVAL);
	o.ro_since_ms = D0;
	o.ro_utc_offset_min = -721;
	assert_int_equal(saksi_report_write(out, t, f->dbi, f->b, f->store, f->dk, &o),
	    SAKSI_ERR_INVAL);
	o.ro_utc_offset_min = 841;
	assert_int_equal(saksi_report_write(out, t, f->dbi, f->b, f->store, f->dk, &o),
	    SAKSI_ERR_INVAL);
	o.ro_utc_offset_min = 840;
	assert_int_equal(saksi_report_write(out, t, f->dbi, f->b, f->store, f->dk, &o),
	    SAKSI_OK);
	o.ro_utc_offset_min = 0;
	o.ro_branch = "";
	assert_int_equal(saksi_report_write(out, t, f->dbi, f->b, f->store, f->dk, &o),
	    SAKSI_ERR_INVAL);
	o.ro_branch = "KC MAKASSAR";
	assert_int_equal(saksi_report_write(out, t, f->dbi, f->b, f->store, f->dk, &o),
	    SAKSI_ERR_INVAL);
	memset(long_branch, 'A', sizeof(long_branch) - 1);
	long_branch[SAKSI_REPORT_BRANCH_MAX + 1] = '\0';
	o.ro_branch = long_branch;
	assert_int_equal(saksi_report_write(out, t, f->dbi, f->b, f->store, f->dk, &o),
	    SAKSI_ERR_INVAL);
	o.ro_branch = NULL;
	/* 366 days are fine, 367 are not. */
	o.ro_until_ms = D0 + 366ULL * 86400000 - 1;
	assert_int_equal(saksi_report_write(out, t, f->dbi, f->b, f->store, f->dk, &o),
	    SAKSI_OK);
	o.ro_until_ms = D0 + 366ULL * 86400000;
	assert_int_equal(saksi_report_write(out, t, f->dbi, f->b, f->store, f->dk, &o),
	    SAKSI_ERR_RANGE);
	/* A stream that cannot be written. */
	o.ro_until_ms = D0 + 1000;
	assert_int_equal(saksi_report_write(ro, t, f->dbi, f->b, f->store, f->dk, &o),
	    SAKSI_ERR_IO);
	saksi_ledger_abort(t);
	fclose(out);
	fclose(ro);
}

/* An index that names, as an event of the period, an entry that is no event. */
static void
test_corrupt(void **state)
{
	struct ixl *f = *state;
	saksi_ledger_txn *t;
	uint8_t key[9], val[16];
	MDB_val k = { sizeof(key), key }, v = { sizeof(val), val };
	uint64_t idx;
	saksi_err e;
	char *h;

	queue_ev(f, D0 + 8 * H, 0, 1, NULL, 0, NULL);
	idx = add_alert(f, SAKSI_ALERT_RULE, 1, "r", D0 + 8 * H, 0);
	assert_int_equal(saksi_ledger_begin(f->l, 1, &t), SAKSI_OK);
	key[0] = SAKSI_IX_TIME;
	saksi_put_u64(key + 1, D0 + 9 * H);
	saksi_put_u64(val, idx);
	saksi_put_u64(val + 8, D0 + 9 * H);
	assert_int_equal(mdb_put(saksi_ledger_txn_mdb(t), f->dbi, &k, &v, 0), 0);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	h = report(f, D0, D0 + 86400000 - 1, NULL, &e);
	assert_int_equal(e, SAKSI_ERR_CORRUPT);
	free(h);
	/* A posting past the leaves: corrupt too, not a crash. */
	assert_int_equal(saksi_ledger_begin(f->l, 1, &t), SAKSI_OK);
	saksi_put_u64(key + 1, D0 + 10 * H);
	saksi_put_u64(val, idx + 100);
	saksi_put_u64(val + 8, D0 + 10 * H);
	assert_int_equal(mdb_put(saksi_ledger_txn_mdb(t), f->dbi, &k, &v, 0), 0);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	h = report(f, D0 + 9 * H + 1, D0 + 86400000 - 1, NULL, &e);
	assert_int_equal(e, SAKSI_ERR_CORRUPT);
	free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_day, setup, ixl_teardown),
		cmocka_unit_test_setup_teardown(test_empty, setup, ixl_teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, ixl_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, ixl_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
