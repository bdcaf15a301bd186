/*
 * rules_daemon_test.c: every rule of schemas/rules/default.rules through the built saksid
 * (real keys, real sockets, real LMDB, the default rules file): a minimal positive case
 * raises exactly its alert (rule id, group with its blind tokens, evidence leaves), and an
 * honest look-alike (RULES.md 6: family, internet cafe, carrier NAT, partner HR, ...)
 * raises nothing. The table must name every rule of the file. Never prints a personal value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "testutil.h"
#include "blind.h"
#include "bytes.h"
#include "ledger.h"
#include "rules.h"
#include "verify.h"
#include "wire.h"

#define MIN_MS 60000ULL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
#define MAX_SENT 4096
#define MAX_PENDING 256
#define EV_MAX 64

enum { P_QUEUE = FX_QUEUE, P_STAFF = FX_STAFF, P_CLAIM = FX_NFIXED, P_SPV, P_SPV2 };

/* What a case expects: at most one alert, its rule, group and evidence (case ordinals). */
struct expect {
	const char *rule;
	char group[512];
	int ev[EV_MAX];
	int nev;
};

struct sent {
	uint8_t h[32];
	int c_case;
	int c_ord;
};

struct cx {
	int c_case;             /* index in the table */
	int c_pos;              /* 1: positive case, 0: look-alike */
	int ord;                /* next ordinal in the case */
	uint64_t t;             /* producer time cursor */
	struct expect ex;
	int has_ex;
};

static struct dr sd;
static saksi_blind *blind;
static uint64_t seq;
static unsigned next_person, next_id;
static struct sent *sent;
static size_t nsent;
static struct fx_item pending[MAX_PENDING];
static size_t npending;

struct rcase {
	const char *rule;
	void (*fn)(struct cx *);
};

/* ---- the daemon ---- */

/* Sends the pending items in one submission; every one must get the answer want. */
static void
flush_want(uint8_t want)
{
	size_t len, rlen, pos;
	uint8_t *req, *r;

	if (npending == 0)
		return;
	req = dr_submit_req(pending, npending, &len);
	r = dr_rpc(sd.url, req, len, &rlen);
	assert_true(rlen >= 5);
	assert_int_equal(r[2], 0);
	assert_int_equal(saksi_get_u16(r + 3), npending);
	pos = 5;
	for (size_t i = 0; i < npending; i++) {
		uint32_t tl;

		assert_true(pos + 5 <= rlen);
		tl = saksi_get_u32(r + pos + 1);
		if (r[pos] != want)
			fail_msg("item %zu: answer %u, want %u: %.*s", i, r[pos], want, (int)tl,
			    r + pos + 5);
		pos += 5 + tl;
	}
	free(r);
	free(req);
	for (size_t i = 0; i < npending; i++)
		fx_item_free(&pending[i]);
	npending = 0;
}

static void
flush(void)
{
	flush_want(SAKSI_R_ACCEPTED);
}

/* Builds one event of `type` (the clear example with `set` applied) at the case's time
 * cursor, signed by producer prod; returns its ordinal in the case. */
static int
ev(struct cx *cx, int prod, const char *type, const char *const *set)
{
	char *p = fx_payload(type, set);
	struct fx_item *it;

	if (npending == MAX_PENDING)
		flush();
	it = &pending[npending++];
	fx_build(&sd.fx, sd.fx.prod[prod], type, p, ++seq, cx->t, it);
	free(p);
	assert_true(nsent < MAX_SENT);
	crypto_hash_sha256(sent[nsent].h, it->env, it->env_len);
	sent[nsent].c_case = cx->c_case;
	sent[nsent].c_ord = cx->ord;
	nsent++;
	return cx->ord++;
}

/* ---- identities: every case has its own people, devices, officers, dates ---- */

struct person {
	char nik[17], kpj[12], name[32], phone[20], email[40], device[24], ip[20], account[16];
};

static void
person(struct person *p)
{
	unsigned n = ++next_person;

	snprintf(p->nik, sizeof(p->nik), "7371%012u", n);
	snprintf(p->kpj, sizeof(p->kpj), "1%010u", n);
	snprintf(p->name, sizeof(p->name), "PESERTA UJI");
	snprintf(p->phone, sizeof(p->phone), "+62812%07u", n);
	snprintf(p->email, sizeof(p->email), "p%u@example.co.id", n);
	snprintf(p->device, sizeof(p->device), "dev-%08u", n);
	snprintf(p->ip, sizeof(p->ip), "10.%u.%u.%u", (n >> 16) & 255, (n >> 8) & 255, n & 255);
	snprintf(p->account, sizeof(p->account), "55%08u", n);
}

/* A fresh id with a prefix: booking ids, claim ids, officers, devices. */
static const char *
fresh(char *buf, size_t len, const char *prefix)
{
	snprintf(buf, len, "%s%06u", prefix, ++next_id);
	return buf;
}

/* A ticket of its own: letters, a dash, at most four digits. */
static const char *
fresh_ticket(char buf[16], const char *letters)
{
	snprintf(buf, 16, "%s-%04u", letters, ++next_id % 10000);
	return buf;
}

/* A date of its own (queue_date, slot_date) for the case. */
static const char *
fresh_date(char buf[11])
{
	unsigned n = ++next_id;

	snprintf(buf, 11, "2025-%02u-%02u", 1 + (n / 28) % 12, 1 + n % 28);
	return buf;
}

static void
token(char *out, size_t len, saksi_blind_kind k, const char *v)
{
	char tok[SAKSI_BLIND_TOKEN_LEN + 1];

	assert_int_equal(saksi_blind_token(blind, k, v, strlen(v), tok), SAKSI_OK);
	snprintf(out, len, "%s", tok);
}

static void
account_token(char *out, size_t len, const char *account)
{
	char tok[SAKSI_BLIND_TOKEN_LEN + 1];

	assert_int_equal(saksi_blind_account(blind, "002", account, tok), SAKSI_OK);
	snprintf(out, len, "%s", tok);
}

static void
expect(struct cx *cx, const char *rule, const int *ords, int n)
{
	cx->has_ex = 1;
	cx->ex.rule = rule;
	cx->ex.nev = n;
	memcpy(cx->ex.ev, ords, (size_t)n * sizeof(int));
}

/* An event no rule selects, past the lateness bound: deferred checks become final. */
static void
tick(struct cx *cx)
{
	char tk[16];
	const char *const set[] = { "ticket", fresh_ticket(tk, "T"), "booking_id", NULL,
	    "claim_id", NULL, NULL };

	cx->t += 6 * MIN_MS;
	ev(cx, P_QUEUE, "queue.service.started", set);
}

/* ---- events ---- */

static int
booking(struct cx *cx, const struct person *p, const char *channel, const char *device,
        const char *ip, const char *bk, const char *slot_date, const char *hour,
        const char *opened)
{
	const char *const set[] = { "channel", channel, "booking_id", bk, "nik", p->nik,
	    "kpj", p->kpj, "name", p->name, "phone", p->phone, "email", p->email,
	    "device_id", device, "ip", ip, "slot_date", slot_date, "slot_hour", hour,
	    "slot_opened_at", opened, NULL };
	return ev(cx, P_QUEUE, "queue.booking.created", set);
}

/* A booking of p from p's own device, with a fresh id and its own slot date. */
static int
booking_own(struct cx *cx, const struct person *p, const char *device, char bk[16])
{
	char d[11];
	return booking(cx, p, "web", device != NULL ? device : p->device, p->ip,
	    fresh(bk, 16, "BK-"), fresh_date(d), "#9", "2025-01-01T00:00:00+08:00");
}

static int
claim(struct cx *cx, const struct person *p, const char *channel, const char *account,
      const char *device, const char *booking_id, const char *officer, char cl[16])
{
	const char *const set[] = { "channel", channel, "claim_id", fresh(cl, 16, "CL-"),
	    "nik", p->nik, "kpj", p->kpj, "name", p->name, "account_holder", p->name,
	    "phone", p->phone, "bank_code", "002", "bank_account", account,
	    "npwp", p->nik, "booking_id", booking_id, "officer_id", officer,
	    "device_id", device, "ip", device != NULL ? p->ip : NULL, NULL };
	return ev(cx, P_CLAIM, "claim.submitted", set);
}

static int
approved(struct cx *cx, const char *cl, const char *officer)
{
	const char *const set[] = { "claim_id", cl, "officer_id", officer, "approver_id", NULL,
	    NULL };
	return ev(cx, P_CLAIM, "claim.approved", set);
}

static int
eligibility(struct cx *cx, const struct person *p, const char *device, const char *ip,
            const char *result)
{
	const char *const set[] = { "branch", FX_BRANCH, "channel", "web", "result", result,
	    "nik", p->nik, "kpj", p->kpj, "name", p->name, "device_id", device, "ip", ip,
	    "claim_kind", "resignation", NULL };
	return ev(cx, P_CLAIM, "claim.eligibility.checked", set);
}

/* ---- the cases: one function per rule, positive or look-alike by cx->c_pos ---- */

/* "FIELD=<token of value>" into the case's expected group. */
static void
group1(struct cx *cx, const char *field, saksi_blind_kind k, const char *value)
{
	char tok[64];

	token(tok, sizeof(tok), k, value);
	snprintf(cx->ex.group, sizeof(cx->ex.group), "%s=%s", field, tok);
}


/* n people booked from one device (a fresh id of prefix), step apart; a positive case
 * expects `rule` on all n, grouped by the device. */
static void
device_many_nik(struct cx *cx, const char *prefix, const char *rule, int n, uint64_t step)
{
	struct person p;
	char dev[24], bk[16];
	int o[20];

	assert_true(n <= 20);
	fresh(dev, sizeof(dev), prefix);
	for (int i = 0; i < n; i++) {
		person(&p);
		o[i] = booking_own(cx, &p, dev, bk);
		cx->t += step;
	}
	if (cx->c_pos) {
		group1(cx, "device_id", SAKSI_BLIND_DEVICE, dev);
		expect(cx, rule, o, n);
	}
}

/* Six people booked from one phone within minutes; a cafe helping one resident every
 * 15 minutes makes at most 5 in any closed hour. */
static void
c_device_many_nik_fast(struct cx *cx)
{
	device_many_nik(cx, "dev-fast-", "device_many_nik_fast", 6,
	    cx->c_pos ? 3 * MIN_MS : 15 * MIN_MS);
}

/* Twenty people in a day, at most two an hour; a village office helping 16 residents at
 * 30 minutes each in its eight-hour day. */
static void
c_device_many_nik_day(struct cx *cx)
{
	device_many_nik(cx, "dev-day-", "device_many_nik_day", cx->c_pos ? 20 : 16,
	    cx->c_pos ? 70 * MIN_MS : 30 * MIN_MS);
}

/* Four people on one phone number; a family of three sharing one. */
static void
c_phone_many_nik(struct cx *cx)
{
	struct person p, shared;
	char bk[16];
	int o[4], n = cx->c_pos ? 4 : 3;

	person(&shared);
	for (int i = 0; i < n; i++) {
		person(&p);
		memcpy(p.phone, shared.phone, sizeof(p.phone));
		o[i] = booking_own(cx, &p, cx->c_pos ? NULL : shared.device, bk);
		cx->t += 10 * MIN_MS;
	}
	if (cx->c_pos) {
		group1(cx, "phone", SAKSI_BLIND_PHONE, shared.phone);
		expect(cx, "phone_many_nik", o, 4);
	}
}

static void
c_email_many_nik(struct cx *cx)
{
	struct person p, shared;
	char bk[16];
	int o[4], n = cx->c_pos ? 4 : 3;

	person(&shared);
	for (int i = 0; i < n; i++) {
		person(&p);
		memcpy(p.email, shared.email, sizeof(p.email));
		o[i] = booking_own(cx, &p, NULL, bk);
		cx->t += 10 * MIN_MS;
	}
	if (cx->c_pos) {
		group1(cx, "email", SAKSI_BLIND_EMAIL, shared.email);
		expect(cx, "email_many_nik", o, 4);
	}
}

/* Three claimants paid into one account; a widow receiving two heirs' claims. */
static void
c_account_many_claimants(struct cx *cx)
{
	struct person p, owner;
	char cl[16], tok[64];
	int o[3], n = cx->c_pos ? 3 : 2;

	person(&owner);
	for (int i = 0; i < n; i++) {
		person(&p);
		o[i] = claim(cx, &p, "app", owner.account, p.device, NULL, NULL, cl);
		cx->t += DAY_MS;
	}
	if (cx->c_pos) {
		account_token(tok, sizeof(tok), owner.account);
		snprintf(cx->ex.group, sizeof(cx->ex.group), "bank_account=%s", tok);
		expect(cx, "account_many_claimants", o, 3);
	}
}

static int
cancel(struct cx *cx, const char *bk, const char *device, const char *slot_date,
       const char *hour)
{
	const char *const set[] = { "booking_id", bk, "device_id", device, "slot_date",
	    slot_date, "slot_hour", hour, "ip", NULL, NULL };
	return ev(cx, P_QUEUE, "queue.booking.cancelled", set);
}

/* A slot released and taken by someone else 2 s later; a person moving their own
 * booking within the second, and a stranger who takes the freed slot 6 s later. */
static void
c_slot_rebooked_other_nik(struct cx *cx)
{
	struct person a, b;
	char bk[16], bk2[16], d[11];
	int o[2];

	person(&a);
	person(&b);
	fresh_date(d);
	booking(cx, &a, "web", a.device, a.ip, fresh(bk, sizeof(bk), "BK-"), d, "#10",
	    "2025-01-01T00:00:00+08:00");
	cx->t += HOUR_MS;
	o[0] = cancel(cx, bk, a.device, d, "#10");
	cx->t += cx->c_pos ? 2000 : 500;
	/* Look-alike: the same person takes the slot again (as after a mistaken cancel). */
	o[1] = booking(cx, cx->c_pos ? &b : &a, "web", cx->c_pos ? b.device : a.device,
	    a.ip, fresh(bk2, sizeof(bk2), "BK-"), d, "#10", "2025-01-01T00:00:00+08:00");
	if (cx->c_pos) {
		snprintf(cx->ex.group, sizeof(cx->ex.group),
		    "branch=%s,service=jht_claim,slot_date=%s,slot_hour=10", FX_BRANCH, d);
		expect(cx, "slot_rebooked_other_nik", o, 2);
		return;
	}
	cx->t += HOUR_MS;
	cancel(cx, bk2, a.device, d, "#10");
	cx->t += 6000;
	booking(cx, &b, "web", b.device, b.ip, fresh(bk, sizeof(bk), "BK-"), d, "#10",
	    "2025-01-01T00:00:00+08:00");
}

/* The canceller's device rebooks the slot for someone else a minute later; the same
 * device moving its own person's booking. */
static void
c_slot_rebooked_same_device(struct cx *cx)
{
	struct person a, b;
	char bk[16], bk2[16], d[11], tok[64];
	int o[2];

	person(&a);
	person(&b);
	fresh_date(d);
	booking(cx, &a, "web", a.device, a.ip, fresh(bk, sizeof(bk), "BK-"), d, "#11",
	    "2025-01-01T00:00:00+08:00");
	cx->t += HOUR_MS;
	o[0] = cancel(cx, bk, a.device, d, "#11");
	cx->t += MIN_MS;
	o[1] = booking(cx, cx->c_pos ? &b : &a, "web", a.device, a.ip,
	    fresh(bk2, sizeof(bk2), "BK-"), d, "#11", "2025-01-01T00:00:00+08:00");
	if (cx->c_pos) {
		token(tok, sizeof(tok), SAKSI_BLIND_DEVICE, a.device);
		snprintf(cx->ex.group, sizeof(cx->ex.group),
		    "branch=%s,service=jht_claim,slot_date=%s,slot_hour=11,device_id=%s",
		    FX_BRANCH, d, tok);
		expect(cx, "slot_rebooked_same_device", o, 2);
	}
}

/* RFC 3339 of a whole second at or before ms. */
static void
rfc3339(uint64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Three people booked from one device within a second of the slots opening; a family
 * booking three relatives from one laptop, the first at the opening, the others as fast
 * as a human types. */
static void
c_opening_bookings_one_device(struct cx *cx)
{
	struct person p;
	char dev[24], bk[16], d[11], opened[32];
	int o[3];

	cx->t -= cx->t % 1000;
	rfc3339(cx->t, opened);
	fresh(dev, sizeof(dev), "dev-bot-");
	fresh_date(d);
	for (int i = 0; i < 3; i++) {
		cx->t += cx->c_pos || i == 0 ? 200 : 40000;
		person(&p);
		o[i] = booking(cx, &p, "app", dev, p.ip, fresh(bk, sizeof(bk), "BK-"), d, "#8",
		    opened);
	}
	if (cx->c_pos) {
		group1(cx, "device_id", SAKSI_BLIND_DEVICE, dev);
		expect(cx, "opening_bookings_one_device", o, 3);
	}
}

/* Twenty bookings from one address within a second of the opening, each from another
 * device; a carrier NAT address with 19 people quick at the opening and more later. */
static void
c_opening_bookings_one_ip(struct cx *cx)
{
	struct person p;
	char bk[16], d[11], opened[32], ip[20], tok[64];
	int o[20];

	cx->t -= cx->t % 1000;
	rfc3339(cx->t, opened);
	next_id++;
	snprintf(ip, sizeof(ip), "100.64.%u.%u", (next_id >> 8) & 255, next_id & 255);
	fresh_date(d);
	for (int i = 0; i < (cx->c_pos ? 20 : 30); i++) {
		int x;

		/* Positive: all 20 in the first second. Look-alike: 19, then one every 5 s. */
		cx->t += i < 19 || cx->c_pos ? 40 : 5000;
		person(&p);
		x = booking(cx, &p, "app", p.device, ip, fresh(bk, sizeof(bk), "BK-"), d, "#8",
		    opened);
		if (i < 20)
			o[i] = x;
	}
	if (cx->c_pos) {
		token(tok, sizeof(tok), SAKSI_BLIND_IP, ip);
		snprintf(cx->ex.group, sizeof(cx->ex.group), "branch=%s,ip=%s", FX_BRANCH, tok);
		expect(cx, "opening_bookings_one_ip", o, 20);
	}
}

static int
checkin(struct cx *cx, const char *qd, int ticket)
{
	char tk[16], sq[16];
	const char *const set[] = { "queue_date", qd, "ticket", tk, "ticket_seq", sq,
	    "booking_id", NULL, "nik", NULL, "walk_in", "#true", NULL };

	snprintf(tk, sizeof(tk), "A-%03d", ticket);
	snprintf(sq, sizeof(sq), "#%d", ticket);
	return ev(cx, P_QUEUE, "queue.checkin", set);
}

static int
call(struct cx *cx, const char *qd, int ticket, const char *officer, const char *prio)
{
	char tk[16], sq[16];
	const char *const set[] = { "queue_date", qd, "ticket", tk, "ticket_seq", sq,
	    "officer_id", officer, "priority", prio, "booking_id", NULL, NULL };

	snprintf(tk, sizeof(tk), "A-%03d", ticket);
	snprintf(sq, sizeof(sq), "#%d", ticket);
	return ev(cx, P_QUEUE, "queue.called", set);
}

/* Seven people check in; the officer calls 5, 6 and 7 first, each ahead of four people:
 * three offences. The look-alike calls priority tickets ahead (exempt), and one ticket
 * ahead of three people (early arrivals for a later hour: within the places allowed). */
static void
c_queue_out_of_order(struct cx *cx)
{
	char qd[11], off[16];
	int ci[8], o[5];

	fresh_date(qd);
	fresh(off, sizeof(off), "OFF-");
	for (int i = 1; i <= 7; i++) {
		ci[i] = checkin(cx, qd, i);
		cx->t += 10000;
	}
	for (int i = 5; i <= 7; i++) {
		int c = call(cx, qd, cx->c_pos || i > 5 ? i : 4,
		    off, cx->c_pos || i == 5 ? "normal" : "priority");
		if (i == 7)
			o[4] = c;
		cx->t += 60000;
	}
	tick(cx);
	if (cx->c_pos) {
		for (int i = 0; i < 4; i++)
			o[i] = ci[i + 1];
		snprintf(cx->ex.group, sizeof(cx->ex.group),
		    "branch=%s,service=jht_claim,queue_date=%s,officer_id=%s", FX_BRANCH, qd, off);
		expect(cx, "queue_out_of_order", o, 5);
	}
}

static int
noshow(struct cx *cx, const char *bk)
{
	const char *const set[] = { "booking_id", bk, NULL };
	return ev(cx, P_QUEUE, "queue.noshow", set);
}

/* Four people booked from one device never come; a family of three missing its slots. */
static void
c_noshow_one_device(struct cx *cx)
{
	struct person p;
	char dev[24], bk[4][16];
	int o[4], n = cx->c_pos ? 4 : 3;

	fresh(dev, sizeof(dev), "dev-noshow-");
	for (int i = 0; i < n; i++) {
		person(&p);
		booking_own(cx, &p, dev, bk[i]);
		cx->t += 20 * MIN_MS;
	}
	cx->t += DAY_MS;
	for (int i = 0; i < n; i++) {
		o[i] = noshow(cx, bk[i]);
		cx->t += MIN_MS;
	}
	if (cx->c_pos) {
		group1(cx, "device_id", SAKSI_BLIND_DEVICE, dev);
		expect(cx, "noshow_one_device", o, 4);
	}
}

/* An officer files two counter claims without any booking; the look-alike is a day of
 * walk-ins, every one registered at the kiosk with a booking of its own. */
static void
c_counter_claims_without_booking(struct cx *cx)
{
	struct person p;
	char off[16], cl[16], bk[16];
	int o[2];

	fresh(off, sizeof(off), "OFF-");
	for (int i = 0; i < (cx->c_pos ? 2 : 6); i++) {
		person(&p);
		if (!cx->c_pos) {
			char d[11];
			booking(cx, &p, "kiosk", "kiosk-mks-0001", "10.73.4.2",
			    fresh(bk, sizeof(bk), "BK-"), fresh_date(d), "#9",
			    "2025-01-01T00:00:00+08:00");
			cx->t += 5 * MIN_MS;
		}
		o[i % 2] = claim(cx, &p, "counter", p.account, NULL, cx->c_pos ? NULL : bk, off,
		    cl);
		cx->t += 30 * MIN_MS;
	}
	if (cx->c_pos) {
		snprintf(cx->ex.group, sizeof(cx->ex.group), "branch=%s,officer_id=%s",
		    FX_BRANCH, off);
		expect(cx, "counter_claims_without_booking", o, 2);
	}
}

static int
served(struct cx *cx, const char *qd, int n, const char *bk)
{
	char tk[16];
	const char *const set[] = { "queue_date", qd, "ticket", tk, "booking_id", bk,
	    "claim_id", NULL, NULL };

	snprintf(tk, sizeof(tk), "A-%03d", n);
	return ev(cx, P_QUEUE, "queue.service.ended", set);
}

/* 121 JHT claims served in a day, over the default quota of 120; the look-alike serves
 * 115 booked ahead and 10 walk-ins registered at the kiosk, which are not counted. */
static void
c_jht_daily_cap(struct cx *cx)
{
	char qd[11], bk[16];
	int last = 0;

	fresh_date(qd);
	for (int i = 1; i <= (cx->c_pos ? 121 : 115); i++) {
		last = served(cx, qd, i, NULL);
		cx->t += 1000;
	}
	for (int i = 0; !cx->c_pos && i < 10; i++) {
		struct person p;
		char d[11];

		person(&p);
		booking(cx, &p, "kiosk", "kiosk-mks-0001", "10.73.4.2",
		    fresh(bk, sizeof(bk), "BK-"), fresh_date(d), "#9", "2025-01-01T00:00:00+08:00");
		cx->t += 1000;
		served(cx, qd, 200 + i, bk);
		cx->t += 1000;
	}
	tick(cx);
	if (cx->c_pos) {
		snprintf(cx->ex.group, sizeof(cx->ex.group),
		    "branch=%s,service=jht_claim,queue_date=%s", FX_BRANCH, qd);
		expect(cx, "jht_daily_cap", &last, 1);
	}
}

static int
override(struct cx *cx, const char *off, const char *approver, const char *date)
{
	const char *const set[] = { "officer_id", off, "approver_id", approver, "slot_date",
	    date, NULL };
	return ev(cx, P_STAFF, "staff.quota.override", set);
}

/* A quota raised with no approver; the same raise approved by the supervisor. */
static void
c_quota_raised_without_approver(struct cx *cx)
{
	char off[16], d[11];
	int o;

	fresh(off, sizeof(off), "OFF-");
	o = override(cx, off, cx->c_pos ? NULL : "MKS-0002", fresh_date(d));
	if (cx->c_pos) {
		snprintf(cx->ex.group, sizeof(cx->ex.group), "branch=%s,officer_id=%s",
		    FX_BRANCH, off);
		expect(cx, "quota_raised_without_approver", &o, 1);
	}
}

/* Four approved overrides by one officer in a week; a rush brings three. */
static void
c_quota_overrides_frequent(struct cx *cx)
{
	char off[16], d[11];
	int o[4];

	fresh(off, sizeof(off), "OFF-");
	for (int i = 0; i < (cx->c_pos ? 4 : 3); i++) {
		o[i] = override(cx, off, "MKS-0002", fresh_date(d));
		cx->t += HOUR_MS;
	}
	if (cx->c_pos) {
		snprintf(cx->ex.group, sizeof(cx->ex.group), "branch=%s,officer_id=%s",
		    FX_BRANCH, off);
		expect(cx, "quota_overrides_frequent", o, 4);
	}
}

/* Five priority raises "on the supervisor's request" in a day; eight for the elderly,
 * the disabled and the pregnant. */
static void
c_priority_changes_frequent(struct cx *cx)
{
	static const char *const honest[] = { "elderly", "disability", "pregnant" };
	char off[16], qd[11], tk[16];
	int o[5];

	fresh(off, sizeof(off), "OFF-");
	fresh_date(qd);
	for (int i = 0; i < (cx->c_pos ? 5 : 8); i++) {
		const char *const set[] = { "officer_id", off, "queue_date", qd, "ticket",
		    fresh_ticket(tk, "P"), "reason",
		    cx->c_pos ? "supervisor_request" : honest[i % 3], NULL };

		o[i % 5] = ev(cx, P_STAFF, "staff.priority.changed", set);
		cx->t += 20 * MIN_MS;
	}
	if (cx->c_pos) {
		snprintf(cx->ex.group, sizeof(cx->ex.group),
		    "branch=%s,officer_id=%s,queue_date=%s", FX_BRANCH, off, qd);
		expect(cx, "priority_changes_frequent", o, 5);
	}
}

/* One officer approves four web claims filed from one device; the look-alike is an
 * internet cafe's residents (booked from the cafe's computer, 15 minutes apart) whose
 * claims one officer takes at the counter. */
static void
c_officer_shared_device(struct cx *cx)
{
	struct person p;
	char off[16], dev[24], cl[5][16], bk[16], tok[64];
	int o[5], n = cx->c_pos ? 4 : 5;

	fresh(off, sizeof(off), "OFF-");
	fresh(dev, sizeof(dev), "dev-shared-");
	for (int i = 0; i < n; i++) {
		person(&p);
		if (cx->c_pos) {
			claim(cx, &p, "web", p.account, dev, NULL, NULL, cl[i]);
		} else {
			booking_own(cx, &p, dev, bk);
			cx->t += MIN_MS;
			claim(cx, &p, "counter", p.account, NULL, bk, off, cl[i]);
		}
		cx->t += 15 * MIN_MS;
	}
	for (int i = 0; i < n; i++) {
		o[i] = approved(cx, cl[i], off);
		cx->t += MIN_MS;
	}
	if (cx->c_pos) {
		token(tok, sizeof(tok), SAKSI_BLIND_DEVICE, dev);
		snprintf(cx->ex.group, sizeof(cx->ex.group), "officer_id=%s,device_id=%s", off,
		    tok);
		expect(cx, "officer_shared_device", o, 4);
	}
}

/* One officer approves two people's claims paid into one account; the look-alike is the
 * app's automatic approver, SYS-APP, passing two heirs' claims into a widow's account. */
static void
c_officer_shared_account(struct cx *cx)
{
	struct person p, owner;
	char off[16], cl[2][16], tok[64];
	int o[2];

	if (cx->c_pos)
		fresh(off, sizeof(off), "OFF-");
	else
		snprintf(off, sizeof(off), "SYS-APP");
	person(&owner);
	for (int i = 0; i < 2; i++) {
		person(&p);
		claim(cx, &p, cx->c_pos ? "web" : "app", owner.account, p.device, NULL, NULL,
		    cl[i]);
		cx->t += 10 * MIN_MS;
		o[i] = approved(cx, cl[i], off);
		cx->t += 10 * MIN_MS;
	}
	if (cx->c_pos) {
		account_token(tok, sizeof(tok), owner.account);
		snprintf(cx->ex.group, sizeof(cx->ex.group), "officer_id=%s,bank_account=%s",
		    off, tok);
		expect(cx, "officer_shared_account", o, 2);
	}
}

static int
nik_check(struct cx *cx, const struct person *p, const char *result)
{
	char cl[16];
	const char *const set[] = { "claim_id", fresh(cl, sizeof(cl), "CL-"), "nik", p->nik,
	    "result", result, NULL };
	return ev(cx, P_CLAIM, "claim.nik.checked", set);
}

/* Three registry failures for one NIK, then a match; a typo then a match, and the
 * registry unavailable three times then a match. */
static void
c_nik_fails_then_matches(struct cx *cx)
{
	static const char *const pos[] = { "mismatch", "not_found", "mismatch", "match" };
	static const char *const la[] = { "mismatch", "match", "unavailable", "unavailable",
	    "unavailable", "match" };
	struct person p;
	int o[4];

	person(&p);
	for (int i = 0; i < (cx->c_pos ? 4 : 6); i++) {
		o[i % 4] = nik_check(cx, &p, cx->c_pos ? pos[i] : la[i]);
		cx->t += 2 * MIN_MS;
	}
	if (cx->c_pos) {
		group1(cx, "nik", SAKSI_BLIND_NIK, p.nik);
		expect(cx, "nik_fails_then_matches", o, 4);
	}
}

/* One device checks eight people in an hour; a helper checks seven. */
static void
c_eligibility_probe_device(struct cx *cx)
{
	struct person p;
	char dev[24];
	int o[8];

	fresh(dev, sizeof(dev), "dev-probe-");
	for (int i = 0; i < (cx->c_pos ? 8 : 7); i++) {
		person(&p);
		o[i] = eligibility(cx, &p, dev, p.ip, "eligible");
		cx->t += 5 * MIN_MS;
	}
	if (cx->c_pos) {
		group1(cx, "device_id", SAKSI_BLIND_DEVICE, dev);
		expect(cx, "eligibility_probe_device", o, 8);
	}
}

/* Ten refused checks from one address in ten minutes, rotating devices; a carrier NAT
 * address with nine refusals among 26 honest checks. */
static void
c_eligibility_refused_one_ip(struct cx *cx)
{
	struct person p;
	char ip[20], tok[64];
	int o[10], k = 0;

	next_id++;
	snprintf(ip, sizeof(ip), "100.65.%u.%u", (next_id >> 8) & 255, next_id & 255);
	for (int i = 0; i < (cx->c_pos ? 10 : 35); i++) {
		int refused = cx->c_pos || i % 4 == 0;

		person(&p);
		if (refused)
			o[k++ % 10] = eligibility(cx, &p, p.device, ip,
			    i % 2 ? "captcha_failed" : "rate_limited");
		else
			eligibility(cx, &p, p.device, ip, "eligible");
		cx->t += cx->c_pos ? 30000 : 15000;
	}
	if (cx->c_pos) {
		token(tok, sizeof(tok), SAKSI_BLIND_IP, ip);
		snprintf(cx->ex.group, sizeof(cx->ex.group), "ip=%s", tok);
		expect(cx, "eligibility_refused_one_ip", o, 10);
	}
}

/* ---- the auditors ---- */

/* The hex key id of producer key prod. */
static const char *
key_hex(int prod, char hex[17])
{
	sodium_bin2hex(hex, 17, saksi_seckey_id(sd.fx.prod[prod]), 8);
	return hex;
}

/* An access entry of supervisor key prod: a look at `results` entries of `participants`
 * people, revealed or not. */
static int
access_entry(struct cx *cx, int prod, const char *results, int revealed,
             const char *participants)
{
	char hex[17];
	const char *const set[] = { "key_id", key_hex(prod, hex), "results", results,
	    "revealed", revealed ? "#true" : "#false", "participants", participants, NULL };
	return ev(cx, prod, "supervisor.access.logged", set);
}

/*
 * People, not looks. Positive: a look at a story (one person), then one look revealing
 * the 120 people of a device's 150 bookings: 121 in the hour. Look-alike: an auditor
 * following one participant, 30 revealing looks at him in the hour (paging his story),
 * with masked looks at many (0 revealed) and reveals that found nothing between them:
 * 30, where the former rule (10 looks) alerted.
 */
static void
c_supervisor_reveals_many(struct cx *cx)
{
	int o[2], key = cx->c_pos ? P_SPV : P_SPV2;
	char hex[17];

	cx->t += 2 * HOUR_MS;   /* clear of the other supervisor cases' windows */
	if (cx->c_pos) {
		o[0] = access_entry(cx, key, "#14", 1, "#1");
		cx->t += 20 * MIN_MS;
		o[1] = access_entry(cx, key, "#150", 1, "#120");
		snprintf(cx->ex.group, sizeof(cx->ex.group), "key_id=%s", key_hex(key, hex));
		expect(cx, "supervisor_reveals_many", o, 2);
		return;
	}
	for (int i = 0; i < 30; i++) {
		access_entry(cx, key, "#14", 1, "#1");
		cx->t += MIN_MS;
		access_entry(cx, key, "#400", 0, "#0");
		access_entry(cx, key, "#0", 1, "#0");
		cx->t += MIN_MS;
	}
}

/* One look revealing 250 entries; a participant's long story (150) revealed, and a
 * masked look at 5000. */
static void
c_supervisor_reveals_bulk(struct cx *cx)
{
	int o[1], key = cx->c_pos ? P_SPV : P_SPV2;
	char hex[17];

	cx->t += 2 * HOUR_MS;
	if (cx->c_pos) {
		o[0] = access_entry(cx, key, "#250", 1, "#3");
		snprintf(cx->ex.group, sizeof(cx->ex.group), "key_id=%s", key_hex(key, hex));
		expect(cx, "supervisor_reveals_bulk", o, 1);
	} else {
		access_entry(cx, key, "#150", 1, "#1");
		cx->t += MIN_MS;
		access_entry(cx, key, "#5000", 0, "#0");
	}
}

static const struct rcase cases[] = {
	{ "device_many_nik_fast", c_device_many_nik_fast },
	{ "device_many_nik_day", c_device_many_nik_day },
	{ "phone_many_nik", c_phone_many_nik },
	{ "email_many_nik", c_email_many_nik },
	{ "account_many_claimants", c_account_many_claimants },
	{ "slot_rebooked_other_nik", c_slot_rebooked_other_nik },
	{ "slot_rebooked_same_device", c_slot_rebooked_same_device },
	{ "opening_bookings_one_device", c_opening_bookings_one_device },
	{ "opening_bookings_one_ip", c_opening_bookings_one_ip },
	{ "queue_out_of_order", c_queue_out_of_order },
	{ "noshow_one_device", c_noshow_one_device },
	{ "counter_claims_without_booking", c_counter_claims_without_booking },
	{ "jht_daily_cap", c_jht_daily_cap },
	{ "quota_raised_without_approver", c_quota_raised_without_approver },
	{ "quota_overrides_frequent", c_quota_overrides_frequent },
	{ "priority_changes_frequent", c_priority_changes_frequent },
	{ "officer_shared_device", c_officer_shared_device },
	{ "officer_shared_account", c_officer_shared_account },
	{ "nik_fails_then_matches", c_nik_fails_then_matches },
	{ "eligibility_probe_device", c_eligibility_probe_device },
	{ "eligibility_refused_one_ip", c_eligibility_refused_one_ip },
	{ "supervisor_reveals_many", c_supervisor_reveals_many },
	{ "supervisor_reveals_bulk", c_supervisor_reveals_bulk },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ---- set-up ---- */

static int
setup(void **state)
{
	uint8_t ikey[SAKSI_BLIND_KEYLEN];
	json_t *kr;
	json_error_t jerr;
	(void)state;

	dr_setup(&sd, 3);
	/* The extra producers: the claim system's key, and two supervisors'. */
	assert_non_null(kr = json_loads(sd.fx.keyring_json, JSON_REJECT_DUPLICATES, &jerr));
	json_object_set_new(json_array_get(json_object_get(kr, "keys"), P_CLAIM), "role",
	    json_string("claim"));
	json_object_set_new(json_object_get(kr, "roles"), "supervisor",
	    json_pack("[s]", "supervisor.*"));
	for (int k = P_SPV; k <= P_SPV2; k++) {
		json_t *e = json_array_get(json_object_get(kr, "keys"), (size_t)k);

		json_object_set_new(e, "role", json_string("supervisor"));
		json_object_set_new(e, "branch", json_string("*"));
	}
	free(sd.fx.keyring_json);
	sd.fx.keyring_json = json_dumps(kr, JSON_INDENT(2));
	json_decref(kr);
	dr_save_keys(&sd.fx, DR_INDEX_KEY | DR_KEYRING);
	/* The same key for the expected tokens. */
	fx_secret(sd.fx.seed, "index", ikey);
	assert_int_equal(saksi_blind_new(ikey, &blind), SAKSI_OK);
	sodium_memzero(ikey, sizeof(ikey));
	dr_write_conf(sd.conf,
	              "index_key = index.key\n"
	              "rules = %s/schemas/rules/default.rules\n"
	              "max_clock_skew_ms = 2678400000\n"
	              "group_wait_us = 0\n"
	              "workers = 2\n"
	              "map_size_mb = 64\n",
	              SAKSI_SOURCE_DIR);
	sent = calloc(MAX_SENT, sizeof(*sent));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < npending; i++)
		fx_item_free(&pending[i]);
	saksi_blind_free(blind);
	free(sent);
	dr_teardown(&sd);
	return 0;
}

/* The table names every rule of the shipped file, and nothing else. */
static void
test_table_covers_rules(void **state)
{
	char path[1200], sdir[1200], err[512];
	saksi_rules *r;
	(void)state;

	snprintf(path, sizeof(path), "%s/schemas/rules/default.rules", SAKSI_SOURCE_DIR);
	snprintf(sdir, sizeof(sdir), "%s/schemas/events", SAKSI_SOURCE_DIR);
	if (saksi_rules_load(path, sdir, &r, err, sizeof(err)) != SAKSI_OK)
		fail_msg("%s", err);
	for (size_t i = 0; i < saksi_rules_count(r); i++) {
		size_t k = 0;

		while (k < NCASES && strcmp(cases[k].rule, saksi_rules_id_at(r, i)) != 0)
			k++;
		if (k == NCASES)
			fail_msg("rule %s has no case in rules_daemon_test.c",
			    saksi_rules_id_at(r, i));
	}
	assert_int_equal(saksi_rules_count(r), NCASES);
	saksi_rules_free(r);
}

static const struct sent *
find_sent(const uint8_t *env, size_t len)
{
	uint8_t h[32];

	crypto_hash_sha256(h, env, len);
	for (size_t i = 0; i < nsent; i++)
		if (memcmp(sent[i].h, h, 32) == 0)
			return &sent[i];
	return NULL;
}

static void
test_rules_through_daemon(void **state)
{
	struct cx cx[2 * NCASES];
	saksi_ledger *l;
	saksi_ledger_txn *t;
	uint64_t tcur, size;
	const struct sent **byleaf;
	int nalerts[2 * NCASES] = { 0 }, bad = 0;
	(void)state;

	sd.pid = dr_saksid_start(sd.conf, sd.errlog, NULL);
	/* A month back: every case has its own stretch of producer time, in order. */
	tcur = wall_ms() - 30 * DAY_MS;
	for (size_t i = 0; i < 2 * NCASES; i++) {
		memset(&cx[i], 0, sizeof(cx[i]));
		cx[i].c_case = (int)i;
		cx[i].c_pos = (int)(i % 2 == 0);
		cx[i].t = tcur;
		cases[i / 2].fn(&cx[i]);
		flush();
		tcur = cx[i].t + 10 * MIN_MS;
		assert_true(tcur < wall_ms());
	}
	/* An access entry naming another key than its signer: refused, so that no one
	 * spreads his looks over other names. */
	{
		struct cx x;
		char hex[17];
		const char *const set[] = { "key_id", key_hex(P_SPV2, hex), NULL };

		memset(&x, 0, sizeof(x));
		x.t = tcur;
		ev(&x, P_SPV, "supervisor.access.logged", set);
		flush_want(SAKSI_R_SCHEMA);
	}
	/* Nor one saying it revealed more people than entries, or people while masked:
	 * supervisor_reveals_many sums what it says. */
	{
		struct cx x;
		char hex[17];
		const char *const more[] = { "key_id", key_hex(P_SPV, hex), "results", "#3",
		    "revealed", "#true", "participants", "#4", NULL };
		const char *const masked[] = { "key_id", key_hex(P_SPV, hex), "results", "#3",
		    "revealed", "#false", "participants", "#1", NULL };

		memset(&x, 0, sizeof(x));
		x.t = tcur;
		ev(&x, P_SPV, "supervisor.access.logged", more);
		flush_want(SAKSI_R_SCHEMA);
		ev(&x, P_SPV, "supervisor.access.logged", masked);
		flush_want(SAKSI_R_SCHEMA);
	}
	dr_stop(&sd, SIGTERM);

	/* Map the ledger back to the cases, then check every alert against them. */
	l = lf_open_ro(sd.ledger_dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	size = saksi_ledger_size(t);
	byleaf = calloc(size, sizeof(*byleaf));
	for (uint64_t i = 0; i < size; i++) {
		saksi_leaf lf;
		uint8_t *leaf;
		size_t len;

		assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &len), SAKSI_OK);
		assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
		if (lf.lf_kind == SAKSI_LEAF_EVENT)
			assert_non_null(byleaf[i] = find_sent(lf.lf_body, lf.lf_body_len));
		else if (lf.lf_kind == SAKSI_LEAF_ALERT) {
			saksi_alert a;
			const struct sent *tr;
			struct cx *c;
			char *js;
			int ok = 1;

			assert_int_equal(saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &a),
			    SAKSI_OK);
			assert_int_equal(saksi_alert_json(&a, &js), SAKSI_OK);
			assert_true(a.al_trigger < i);
			assert_non_null(tr = byleaf[a.al_trigger]);
			c = &cx[tr->c_case];
			nalerts[tr->c_case]++;
			printf("# %s %s: %s\n", cases[tr->c_case / 2].rule,
			    c->c_pos ? "positive" : "look-alike", js);
			if (!c->has_ex || nalerts[tr->c_case] > 1 ||
			    strcmp(a.al_rule, c->ex.rule) != 0 ||
			    strcmp(a.al_group, c->ex.group) != 0 ||
			    a.al_kind != SAKSI_ALERT_RULE || (int)a.al_nevidence != c->ex.nev)
				ok = 0;
			for (uint32_t k = 0; ok && k < a.al_nevidence; k++) {
				const struct sent *s = byleaf[a.al_evidence[k]];

				ok = s != NULL && s->c_case == tr->c_case && s->c_ord == c->ex.ev[k];
			}
			if (!ok) {
				printf("#   NOT EXPECTED (expected %s group %s, %d evidence:",
				    c->has_ex ? c->ex.rule : "nothing", c->ex.group, c->ex.nev);
				for (int k = 0; k < c->ex.nev; k++)
					printf(" %d", c->ex.ev[k]);
				printf("; got ordinals");
				for (uint32_t k = 0; k < a.al_nevidence; k++) {
					const struct sent *s = byleaf[a.al_evidence[k]];
					printf(" %d", s != NULL ? s->c_ord : -1);
				}
				printf(")\n");
				bad++;
			}
			free(js);
		}
		free(leaf);
	}
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	free(byleaf);
	for (size_t i = 0; i < 2 * NCASES; i++)
		if (cx[i].has_ex && nalerts[i] == 0) {
			printf("# %s positive: no alert raised\n", cases[i / 2].rule);
			bad++;
		}
	assert_int_equal(bad, 0);

	/* The ledger's alerts, every rule type among them (value_sum too), come again byte
	 * for byte from the committed events (RULES.md 3.9). */
	{
		char tmp[64], out[80], *text;
		const char *const args[] = { "replay", "--config", sd.conf, "--check", "--tmpdir",
		    tmp, NULL };

		assert_int_equal(tmpdir_make(tmp, sizeof(tmp), "saksi-rdt"), 0);
		snprintf(out, sizeof(out), "%s.out", tmp);
		assert_int_equal(dr_saksi(0, out, NULL, args), 0);
		text = slurp(out, NULL);
		printf("# %s", text);
		assert_non_null(strstr(text, ", 0 difference(s): the replay reproduces"));
		free(text);
		assert_int_equal(unlink(out), 0);
		assert_int_equal(rmdir(tmp), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_covers_rules),
		cmocka_unit_test_setup_teardown(test_rules_through_daemon, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
