/*
 * sim_test.c: the traffic simulator against the real event schemas: determinism, volumes,
 * identifier structure, time order, scenario presence and shape, and the ground truth.
 * The seed is random per run and printed; SAKSI_TEST_SEED=<decimal> replays a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "schema.h"
#include "sim.h"

#define EVENTS_DIR SAKSI_SOURCE_DIR "/schemas/events"
#define START_DAY 20157 /* 2025-03-10, a Monday */

struct fixture {
	uint64_t seed;
	saksi_schemas *schemas;
};

/* One event as read from the stream, payload parsed. */
struct rec {
	size_t prod;
	const char *type;
	char *payload;
	json_t *j;
	uint64_t t;
	int scen;
	uint32_t inst;
	int sig;
};

struct run {
	saksi_sim *s;
	struct rec *r;
	size_t n, cap;
	char *truth;
};

static void
run_read(struct run *run, const saksi_sim_opts *o)
{
	saksi_sim_event ev;
	saksi_err e;

	memset(run, 0, sizeof(*run));
	assert_int_equal(saksi_sim_open(o, &run->s), SAKSI_OK);
	while ((e = saksi_sim_next(run->s, &ev)) == SAKSI_OK) {
		struct rec *r;
		json_error_t jerr;

		if (run->n == run->cap) {
			run->cap = run->cap ? 2 * run->cap : 8192;
			run->r = realloc(run->r, run->cap * sizeof(*run->r));
			assert_non_null(run->r);
		}
		assert_int_equal(ev.se_index, run->n);
		assert_int_equal(strlen(ev.se_payload), ev.se_payload_len);
		r = &run->r[run->n++];
		r->prod = ev.se_producer;
		r->type = ev.se_type;
		r->payload = ev.se_payload;
		r->t = ev.se_time_ms;
		r->scen = ev.se_scenario;
		r->inst = ev.se_instance;
		r->sig = ev.se_signal;
		r->j = json_loads(ev.se_payload, JSON_REJECT_DUPLICATES, &jerr);
		assert_non_null(r->j);
		assert_string_equal(ev.se_producer_name,
		    saksi_sim_producer_at(run->s, ev.se_producer)->sp_name);
		ev.se_payload = NULL; /* kept in the record */
		saksi_sim_event_clear(&ev);
	}
	assert_int_equal(e, SAKSI_ERR_NOT_FOUND);
	/* The end stays the end. */
	assert_int_equal(saksi_sim_next(run->s, &ev), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_sim_truth_json(run->s, &run->truth, NULL), SAKSI_OK);
}

static void
run_free(struct run *run)
{
	size_t i;

	for (i = 0; i < run->n; i++) {
		free(run->r[i].payload);
		json_decref(run->r[i].j);
	}
	free(run->r);
	free(run->truth);
	saksi_sim_close(run->s);
}

static saksi_sim_opts
opts(void **state, unsigned branches, unsigned days, int level)
{
	saksi_sim_opts o;

	memset(&o, 0, sizeof(o));
	o.so_seed = ((struct fixture *)*state)->seed;
	o.so_branches = branches;
	o.so_days = days;
	o.so_level = level;
	o.so_start_day = START_DAY;
	return o;
}

static const char *
str(const json_t *j, const char *k)
{
	return json_string_value(json_object_get(j, k));
}

static int
is_type(const struct rec *r, const char *t)
{
	return strcmp(r->type, t) == 0;
}

static void
test_open_inval(void **state)
{
	saksi_sim_opts o = opts(state, 1, 1, SAKSI_SIM_LOW), bad;
	saksi_sim *s = (saksi_sim *)&o;
	saksi_sim_event ev;

	assert_int_equal(saksi_sim_open(NULL, &s), SAKSI_ERR_INVAL);
	assert_null(s);
	assert_int_equal(saksi_sim_open(&o, NULL), SAKSI_ERR_INVAL);
	bad = o, bad.so_branches = 0;
	assert_int_equal(saksi_sim_open(&bad, &s), SAKSI_ERR_INVAL);
	bad = o, bad.so_branches = SAKSI_SIM_BRANCHES_MAX + 1;
	assert_int_equal(saksi_sim_open(&bad, &s), SAKSI_ERR_INVAL);
	bad = o, bad.so_days = 0;
	assert_int_equal(saksi_sim_open(&bad, &s), SAKSI_ERR_INVAL);
	bad = o, bad.so_days = SAKSI_SIM_DAYS_MAX + 1;
	assert_int_equal(saksi_sim_open(&bad, &s), SAKSI_ERR_INVAL);
	bad = o, bad.so_level = SAKSI_SIM_HIGH + 1;
	assert_int_equal(saksi_sim_open(&bad, &s), SAKSI_ERR_INVAL);
	bad = o, bad.so_level = -1;
	assert_int_equal(saksi_sim_open(&bad, &s), SAKSI_ERR_INVAL);
	bad = o, bad.so_start_day = 9;
	assert_int_equal(saksi_sim_open(&bad, &s), SAKSI_ERR_INVAL);
	bad = o, bad.so_start_day = 3000000;
	assert_int_equal(saksi_sim_open(&bad, &s), SAKSI_ERR_INVAL);
	assert_null(s);
	assert_int_equal(saksi_sim_next(NULL, &ev), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_sim_truth_json(NULL, NULL, NULL), SAKSI_ERR_INVAL);
	saksi_sim_close(NULL);
	saksi_sim_event_clear(NULL);
	/* The largest run is accepted (and costs nothing until it is read). */
	bad = o, bad.so_branches = SAKSI_SIM_BRANCHES_MAX, bad.so_days = SAKSI_SIM_DAYS_MAX;
	assert_int_equal(saksi_sim_open(&bad, &s), SAKSI_OK);
	assert_int_equal(saksi_sim_producer_count(s), 7 + 4 * SAKSI_SIM_BRANCHES_MAX);
	saksi_sim_close(s);
}

static void
test_names(void **state)
{
	int i, level;

	(void)state;
	for (i = 0; i < SAKSI_SIM__COUNT; i++) {
		const char *n = saksi_sim_scenario_name(i);

		assert_non_null(n);
		assert_int_equal(strncmp(n, i < SAKSI_SIM_HONEST_FIRST ? "broker." : "honest.", 7), 0);
		assert_int_equal(saksi_sim_scenario_is_broker(i), i < SAKSI_SIM_HONEST_FIRST);
	}
	assert_null(saksi_sim_scenario_name(-1));
	assert_null(saksi_sim_scenario_name(SAKSI_SIM__COUNT));
	assert_int_equal(saksi_sim_scenario_is_broker(-1), 0);
	for (i = SAKSI_SIM_NONE; i <= SAKSI_SIM_HIGH; i++) {
		assert_int_equal(saksi_sim_level_parse(saksi_sim_level_name(i), &level), SAKSI_OK);
		assert_int_equal(level, i);
	}
	assert_null(saksi_sim_level_name(4));
	assert_int_equal(saksi_sim_level_parse("extreme", &level), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_sim_level_parse("", &level), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_sim_level_parse(NULL, &level), SAKSI_ERR_INVAL);
}

static void
test_producers(void **state)
{
	saksi_sim_opts o = opts(state, 20, 1, SAKSI_SIM_NONE);
	saksi_sim *s;
	size_t i, j, n;

	assert_int_equal(saksi_sim_open(&o, &s), SAKSI_OK);
	n = saksi_sim_producer_count(s);
	assert_int_equal(n, 7 + 4 * 20);
	for (i = 0; i < n; i++) {
		const saksi_sim_producer *p = saksi_sim_producer_at(s, i);
		const char *c;

		assert_true(strcmp(p->sp_role, "queue") == 0 || strcmp(p->sp_role, "claim") == 0 ||
		    strcmp(p->sp_role, "staff") == 0);
		for (c = p->sp_name; *c != '\0'; c++)
			assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-');
		assert_true(strcmp(p->sp_branch, "*") == 0 || strncmp(p->sp_branch, "KC-", 3) == 0);
		for (j = 0; j < i; j++)
			assert_string_not_equal(p->sp_name, saksi_sim_producer_at(s, j)->sp_name);
	}
	assert_null(saksi_sim_producer_at(s, n));
	assert_string_equal(saksi_sim_branch_at(s, 0), "KC-MAKASSAR");
	/* Past the table of sites, codes repeat with a number and stay unique. */
	assert_string_equal(saksi_sim_branch_at(s, 16), "KC-MAKASSAR-2");
	assert_null(saksi_sim_branch_at(s, 20));
	saksi_sim_close(s);
}

static int
rec_equal(const struct rec *a, const struct rec *b)
{
	return a->prod == b->prod && a->t == b->t && a->scen == b->scen && a->inst == b->inst &&
	    a->sig == b->sig && strcmp(a->type, b->type) == 0 &&
	    strcmp(a->payload, b->payload) == 0;
}

static void
test_determinism(void **state)
{
	saksi_sim_opts o = opts(state, 2, 2, SAKSI_SIM_MEDIUM);
	struct run a, b;
	size_t i, same = 0;

	run_read(&a, &o);
	run_read(&b, &o);
	assert_int_equal(a.n, b.n);
	for (i = 0; i < a.n; i++)
		assert_true(rec_equal(&a.r[i], &b.r[i]));
	assert_string_equal(a.truth, b.truth);
	run_free(&b);
	o.so_seed ^= 1;
	run_read(&b, &o);
	for (i = 0; i < a.n && i < b.n; i++)
		same += rec_equal(&a.r[i], &b.r[i]);
	assert_true(same < a.n / 10);
	run_free(&a);
	run_free(&b);
}

/*
 * Every payload valid against the real schemas, signed by a producer whose role allows it
 * and, for a branch's own producer, for that branch. Returns how many events of each type
 * (in the schema set's order) were seen.
 */
static void
check_schemas(void **state, const saksi_sim_opts *o, size_t *seen, size_t nt)
{
	struct fixture *fx = *state;
	struct run run;
	size_t i;
	char err[256];

	run_read(&run, o);
	for (i = 0; i < run.n; i++) {
		const struct rec *r = &run.r[i];
		const saksi_sim_producer *p = saksi_sim_producer_at(run.s, r->prod);
		size_t k, rl = strlen(p->sp_role);
		saksi_err e;

		err[0] = '\0';
		e = saksi_schemas_validate_clear(fx->schemas, r->type, r->payload,
		    strlen(r->payload), err, sizeof(err));
		if (e != SAKSI_OK)
			fail_msg("event %zu %s: %s: %s", i, r->type, saksi_strerror(e), err);
		assert_int_equal(strncmp(r->type, p->sp_role, rl), 0);
		assert_int_equal(r->type[rl], '.');
		if (strcmp(p->sp_branch, "*") != 0)
			assert_string_equal(str(r->j, "branch"), p->sp_branch);
		for (k = 0; k < nt; k++)
			if (strcmp(saksi_schemas_type_at(fx->schemas, k), r->type) == 0)
				seen[k]++;
	}
	run_free(&run);
}

static void
test_schemas(void **state)
{
	struct fixture *fx = *state;
	saksi_sim_opts o = opts(state, 3, 2, SAKSI_SIM_MEDIUM);
	size_t seen[64] = { 0 }, nt = saksi_schemas_count(fx->schemas), i;

	assert_true(nt > 0 && nt <= 64);
	check_schemas(state, &o, seen, nt);
	/* The simulator exercises every event type there is, but the security officers'
	 * acks (security.*): they answer the daemon's own alerts, by ids no stream knows;
	 * and the supervisory unit's own (supervisor.*: forgetting a participant, and the
	 * access entries saksi query writes, are not branch traffic). */
	for (i = 0; i < nt; i++)
		if (seen[i] == 0 &&
		    strncmp(saksi_schemas_type_at(fx->schemas, i), "security.", 9) != 0 &&
		    strncmp(saksi_schemas_type_at(fx->schemas, i), "supervisor.", 11) != 0)
			fail_msg("no %s event in the stream", saksi_schemas_type_at(fx->schemas, i));
	/* At the highest level, brokers crowd people out, and it is all still valid. */
	o = opts(state, 1, 2, SAKSI_SIM_HIGH);
	check_schemas(state, &o, seen, nt);
	o = opts(state, 1, 1, SAKSI_SIM_NONE);
	check_schemas(state, &o, seen, nt);
}

static void
test_time_order(void **state)
{
	saksi_sim_opts o = opts(state, 3, 4, SAKSI_SIM_LOW);
	struct run run;
	size_t i;
	uint64_t first = UINT64_MAX, last = 0;

	run_read(&run, &o);
	for (i = 1; i < run.n; i++)
		assert_true(run.r[i - 1].t <= run.r[i].t);
	for (i = 0; i < run.n; i++) {
		if (run.r[i].t < first)
			first = run.r[i].t;
		if (run.r[i].t > last)
			last = run.r[i].t;
	}
	/* Bookings start three days before the first day; payments end by two days after
	 * the last (four working days from Monday 2025-03-10 end on Thursday 2025-03-13). */
	assert_true(first >= (START_DAY - 4) * 86400000ULL);
	assert_true(last < (START_DAY + 3 + 3) * 86400000ULL);
	run_free(&run);
}

struct daykey {
	char branch[32], date[16];
	int booked, cancelled, walkin, quota, override;
};

static struct daykey *
day_of(struct daykey *d, size_t *n, const char *branch, const char *date)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(d[i].branch, branch) == 0 && strcmp(d[i].date, date) == 0)
			return &d[i];
	assert_true(*n < 64);
	memset(&d[*n], 0, sizeof(d[*n]));
	snprintf(d[*n].branch, sizeof(d[*n].branch), "%s", branch);
	snprintf(d[*n].date, sizeof(d[*n].date), "%s", date);
	return &d[(*n)++];
}

/* A branch day: 150-300 queue entries, a JHT quota of about 100 that bookings respect. */
static void
test_volumes(void **state)
{
	saksi_sim_opts o = opts(state, 3, 3, SAKSI_SIM_MEDIUM);
	struct run run;
	struct daykey d[64];
	size_t i, nd = 0, apps = 0, claims = 0;

	run_read(&run, &o);
	for (i = 0; i < run.n; i++) {
		const struct rec *r = &run.r[i];
		json_t *j = r->j;

		/* A JHT walk-in is registered at the kiosk as a booking: count it once. */
		if (is_type(r, "queue.booking.created") && strcmp(str(j, "channel"), "kiosk") != 0)
			day_of(d, &nd, str(j, "branch"), str(j, "slot_date"))->booked++;
		else if (is_type(r, "queue.booking.cancelled"))
			day_of(d, &nd, str(j, "branch"), str(j, "slot_date"))->cancelled++;
		else if (is_type(r, "queue.checkin") &&
		    json_is_true(json_object_get(j, "walk_in")))
			day_of(d, &nd, str(j, "branch"), str(j, "queue_date"))->walkin++;
		else if (is_type(r, "queue.slot.opened"))
			day_of(d, &nd, str(j, "branch"), str(j, "slot_date"))->quota =
			    (int)(json_integer_value(json_object_get(j, "capacity_per_hour")) *
			    (json_int_t)json_array_size(json_object_get(j, "hours")));
		else if (is_type(r, "staff.quota.override"))
			day_of(d, &nd, str(j, "branch"), str(j, "slot_date"))->override +=
			    (int)(json_integer_value(json_object_get(j, "quota_after")) -
			    json_integer_value(json_object_get(j, "quota_before")));
		else if (is_type(r, "claim.submitted")) {
			claims++;
			apps += strcmp(str(j, "channel"), "app") == 0;
		}
	}
	assert_int_equal(nd, 9);
	for (i = 0; i < nd; i++) {
		int entries = d[i].booked + d[i].walkin, live = d[i].booked - d[i].cancelled;

		print_message("%s %s: %d queue entries, %d booked (%d live, quota %d+%d), "
		    "%d walk-in\n", d[i].branch, d[i].date, entries, d[i].booked, live,
		    d[i].quota, d[i].override, d[i].walkin);
		assert_in_range(entries, 150, 300);
		assert_in_range(d[i].quota, 95, 115);
		/* No slot sold twice: live bookings never exceed the quota (plus overrides). */
		assert_in_range(live, 80, d[i].quota + d[i].override);
	}
	/* Claims: 100 or so at the counter or by video each day, plus the app's. */
	assert_in_range(claims, 9 * 100, 9 * 250);
	assert_in_range(apps, 9 * 10, 9 * 60);
	run_free(&run);
}

static int
province_ok(const char *nik)
{
	static const char *const prov[] = { "73", "31", "32", "33", "35", "51", "36", "12",
		"16", "64" };
	size_t i;

	for (i = 0; i < sizeof(prov) / sizeof(prov[0]); i++)
		if (strncmp(nik, prov[i], 2) == 0)
			return 1;
	return 0;
}

static int
all_digits(const char *s, size_t n)
{
	size_t i;

	if (s == NULL || strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* NIK PP KK CC DD MM YY SSSS, women's day +40; KPJ 11 digits; phones +62 8xx. */
static void
test_identifiers(void **state)
{
	saksi_sim_opts o = opts(state, 16, 1, SAKSI_SIM_LOW);
	struct run run;
	size_t i, niks = 0, women = 0, local = 0, phones = 0;

	run_read(&run, &o);
	for (i = 0; i < run.n; i++) {
		json_t *j = run.r[i].j;
		const char *nik = str(j, "nik"), *kpj = str(j, "kpj"), *ph = str(j, "phone");

		if (nik != NULL) {
			int dd, mm, serial;
			const char *br = str(j, "branch");

			assert_true(all_digits(nik, 16));
			assert_true(province_ok(nik));
			assert_true(nik[2] != '0' || nik[3] != '0');       /* regency */
			assert_true(nik[4] != '0' || nik[5] != '0');       /* district */
			dd = (nik[6] - '0') * 10 + nik[7] - '0';
			mm = (nik[8] - '0') * 10 + nik[9] - '0';
			serial = atoi(nik + 12);
			assert_true((dd >= 1 && dd <= 31) || (dd >= 41 && dd <= 71));
			assert_in_range(mm, 1, 12);
			assert_in_range(serial, 1, 9999);
			niks++;
			women += dd > 40;
			/* Most people live in the branch's own city (Makassar is 7371). */
			if (strcmp(br, "KC-MAKASSAR") == 0 && strncmp(nik, "7371", 4) == 0)
				local++;
			else if (strcmp(br, "KC-MAKASSAR") != 0)
				local++;
		}
		if (kpj != NULL)
			assert_true(all_digits(kpj, 11));
		if (ph != NULL) {
			size_t l = strlen(ph);

			assert_memory_equal(ph, "+628", 4);
			/* 10 to 13 digits in national form (0 8xx ...). */
			assert_in_range(l - 3 + 1, 10, 13);
			assert_true(all_digits(ph + 1, l - 1));
			phones++;
		}
	}
	assert_true(niks > 1000);
	assert_in_range(women * 100 / niks, 30, 60);
	assert_true(local * 100 / niks >= 75);
	assert_true(phones > 1000);
	run_free(&run);
}

/* The ground truth agrees with the stream, instance by instance and event by event. */
static void
check_truth(const struct run *run)
{
	json_error_t jerr;
	json_t *t = json_loads(run->truth, JSON_REJECT_DUPLICATES, &jerr), *in, *v;
	size_t i, k, *count;
	int sc;

	assert_non_null(t);
	assert_int_equal(json_integer_value(json_object_get(t, "saksi_sim_truth")), 1);
	assert_int_equal(json_integer_value(json_object_get(t, "events")), run->n);
	count = calloc(run->n + 1, sizeof(*count));
	assert_non_null(count);
	for (sc = 0; sc < SAKSI_SIM__COUNT; sc++)
		assert_int_equal(json_integer_value(json_object_get(json_object_get(t, "counts"),
		    saksi_sim_scenario_name(sc))), saksi_sim_instances(run->s, sc));
	json_array_foreach(json_object_get(t, "instances"), i, in) {
		uint32_t id = (uint32_t)json_integer_value(json_object_get(in, "id"));
		const char *label = str(in, "scenario");
		json_t *ev = json_object_get(in, "events"), *sg = json_object_get(in, "signal");
		size_t prev = 0, si = 0;

		assert_int_equal(id, i + 1);
		assert_int_equal(json_is_true(json_object_get(in, "broker")),
		    strncmp(label, "broker.", 7) == 0);
		assert_true(json_object_size(json_object_get(in, "key")) > 0);
		json_array_foreach(ev, k, v) {
			size_t x = (size_t)json_integer_value(v);

			assert_true(x < run->n);
			assert_true(k == 0 || x > prev);
			prev = x;
			assert_int_equal(run->r[x].inst, id);
			assert_string_equal(saksi_sim_scenario_name(run->r[x].scen), label);
			count[x]++;
			if (run->r[x].sig) {
				assert_int_equal(json_integer_value(json_array_get(sg, si)), x);
				si++;
			}
		}
		assert_int_equal(si, json_array_size(sg));
	}
	/* Exactly the events with an instance are in the truth, each once. */
	for (i = 0; i < run->n; i++)
		assert_int_equal(count[i], run->r[i].inst != 0);
	free(count);
	json_decref(t);
}

static void
test_scenarios_present(void **state)
{
	int level, sc;

	for (level = SAKSI_SIM_NONE; level <= SAKSI_SIM_HIGH; level++) {
		saksi_sim_opts o = opts(state, 1, 1, level);
		struct run run;
		size_t i, sig[SAKSI_SIM__COUNT] = { 0 }, ev[SAKSI_SIM__COUNT] = { 0 };

		run_read(&run, &o);
		for (i = 0; i < run.n; i++) {
			if (run.r[i].scen < 0) {
				assert_int_equal(run.r[i].inst, 0);
				assert_int_equal(run.r[i].sig, 0);
				continue;
			}
			assert_in_range(run.r[i].scen, 0, SAKSI_SIM__COUNT - 1);
			ev[run.r[i].scen]++;
			sig[run.r[i].scen] += run.r[i].sig != 0;
		}
		for (sc = 0; sc < SAKSI_SIM__COUNT; sc++) {
			int want = level != SAKSI_SIM_NONE || !saksi_sim_scenario_is_broker(sc);

			if (want) {
				if (saksi_sim_instances(run.s, sc) < 1 || sig[sc] < 1)
					fail_msg("level %s: %s has %zu instances, %zu signal events",
					    saksi_sim_level_name(level), saksi_sim_scenario_name(sc),
					    saksi_sim_instances(run.s, sc), sig[sc]);
			} else {
				assert_int_equal(saksi_sim_instances(run.s, sc), 0);
				assert_int_equal(ev[sc], 0);
			}
		}
		check_truth(&run);
		run_free(&run);
	}
}

/* More branch days at a high level: rates add up, and the truth still agrees. */
static void
test_scenarios_rates(void **state)
{
	saksi_sim_opts o = opts(state, 4, 3, SAKSI_SIM_HIGH);
	struct run run;
	size_t brokers = 0;
	int sc;

	run_read(&run, &o);
	for (sc = 0; sc < SAKSI_SIM_HONEST_FIRST; sc++) {
		/* One per branch day over 12 branch days: 12 expected. */
		assert_in_range(saksi_sim_instances(run.s, sc), 4, 24);
		brokers += saksi_sim_instances(run.s, sc);
	}
	assert_in_range(saksi_sim_instances(run.s, SAKSI_SIM_FAMILY_PHONE), 24, 36);
	check_truth(&run);
	run_free(&run);
	o.so_level = SAKSI_SIM_LOW;
	run_read(&run, &o);
	for (sc = 0; sc < SAKSI_SIM_HONEST_FIRST; sc++)
		assert_in_range(saksi_sim_instances(run.s, sc), 1, 7);
	run_free(&run);
}

static const json_t *
signal_payload(const struct run *run, size_t i, uint32_t inst, const char *type)
{
	const struct rec *r = &run->r[i];

	if (r->inst != inst || !r->sig || !is_type(r, type))
		return NULL;
	return r->j;
}

/* What each broker scenario and look-alike looks like in the events themselves. */
static void
test_scenario_shapes(void **state)
{
	saksi_sim_opts o = opts(state, 2, 2, SAKSI_SIM_MEDIUM);
	struct run run;
	json_error_t jerr;
	json_t *t, *in;
	size_t i, k;

	run_read(&run, &o);
	t = json_loads(run.truth, 0, &jerr);
	assert_non_null(t);
	json_array_foreach(json_object_get(t, "instances"), k, in) {
		uint32_t id = (uint32_t)json_integer_value(json_object_get(in, "id"));
		const char *label = str(in, "scenario");
		json_t *key = json_object_get(in, "key");
		const json_t *j;
		char niks[64][17];
		size_t nn = 0, n = 0, m = 0;
		uint64_t opened = 0, tcancel = 0;

		for (i = 0; i < run.n; i++) {
			const struct rec *r = &run.r[i];

			if (is_type(r, "queue.slot.opened") &&
			    strcmp(str(r->j, "branch"), str(in, "branch")) == 0 &&
			    strcmp(str(r->j, "slot_date"), str(in, "date")) == 0)
				opened = r->t;
			if (strcmp(label, "broker.device_many_nik") == 0 &&
			    (j = signal_payload(&run, i, id, "queue.booking.created")) != NULL) {
				assert_string_equal(str(j, "device_id"), str(key, "device_id"));
				if (nn < 64)
					memcpy(niks[nn++], str(j, "nik"), 17);
			}
			if ((strcmp(label, "broker.phone_many_nik") == 0 ||
			    strcmp(label, "honest.family_phone") == 0) &&
			    (j = signal_payload(&run, i, id, "queue.booking.created")) != NULL) {
				assert_string_equal(str(j, "phone"), str(key, "phone"));
				if (nn < 64)
					memcpy(niks[nn++], str(j, "nik"), 17);
			}
			if (strcmp(label, "broker.account_many_claimants") == 0 &&
			    (j = signal_payload(&run, i, id, "claim.submitted")) != NULL) {
				assert_string_equal(str(j, "bank_account"), str(key, "bank_account"));
				if (nn < 64)
					memcpy(niks[nn++], str(j, "nik"), 17);
			}
			if (strcmp(label, "broker.bot_opening") == 0 &&
			    signal_payload(&run, i, id, "queue.booking.created") != NULL) {
				/* Within a second of the opening, which came first. */
				assert_true(opened != 0 && r->t > opened && r->t < opened + 1000);
				n++;
			}
			if (strcmp(label, "broker.cancel_rebook") == 0) {
				if (signal_payload(&run, i, id, "queue.booking.cancelled") != NULL)
					tcancel = r->t;
				if (signal_payload(&run, i, id, "queue.booking.created") != NULL) {
					assert_true(tcancel != 0 && r->t - tcancel <= 5000);
					n++;
				}
			}
			if (strcmp(label, "broker.out_of_order") == 0 &&
			    (j = signal_payload(&run, i, id, "queue.called")) != NULL) {
				assert_string_equal(str(j, "officer_id"), str(key, "officer_id"));
				assert_true(json_integer_value(json_object_get(j, "waiting_before")) > 0);
				n++;
			}
			if (strcmp(label, "broker.served_without_booking") == 0 &&
			    (j = signal_payload(&run, i, id, "claim.submitted")) != NULL) {
				assert_null(json_object_get(j, "booking_id"));
				assert_string_equal(str(j, "channel"), "counter");
				assert_string_equal(str(j, "officer_id"), str(key, "officer_id"));
				n++;
			}
			if (strcmp(label, "broker.quota_override") == 0 &&
			    (j = signal_payload(&run, i, id, "staff.quota.override")) != NULL) {
				assert_null(json_object_get(j, "approver_id"));
				n++;
			}
			if (strcmp(label, "broker.nik_check_retry") == 0 &&
			    (j = signal_payload(&run, i, id, "claim.nik.checked")) != NULL) {
				assert_string_equal(str(j, "nik"), str(key, "nik"));
				if (strcmp(str(j, "result"), "mismatch") == 0)
					n++;
				else
					m++;
			}
			if (strcmp(label, "broker.noshow_source") == 0 &&
			    signal_payload(&run, i, id, "queue.noshow") != NULL)
				n++;
			if (strcmp(label, "broker.bulk_probe") == 0 &&
			    (j = signal_payload(&run, i, id, "claim.eligibility.checked")) != NULL) {
				assert_string_equal(str(j, "ip"), str(key, "ip"));
				n++;
			}
			if ((strcmp(label, "honest.internet_cafe") == 0 ||
			    strcmp(label, "honest.carrier_nat") == 0) && r->inst == id && r->sig) {
				assert_string_equal(str(r->j, "ip"), str(key, "ip"));
				if (str(r->j, "nik") != NULL && nn < 64)
					memcpy(niks[nn++], str(r->j, "nik"), 17);
			}
			if (strcmp(label, "honest.hr_collective") == 0 &&
			    (j = signal_payload(&run, i, id, "claim.submitted")) != NULL) {
				assert_string_equal(str(j, "channel"), "partner_hr");
				assert_string_equal(str(j, "partner_id"), str(key, "partner_id"));
				assert_string_equal(str(j, "account_holder"), str(j, "name"));
				n++;
			}
		}
		print_message("%s #%u: %zu identities, %zu, %zu\n", label, id, nn, n, m);
		/* Many identities behind one device, phone, account or address... */
		if (strcmp(label, "broker.device_many_nik") == 0)
			assert_true(nn >= 6);
		if (strcmp(label, "broker.phone_many_nik") == 0)
			assert_true(nn >= 5);
		if (strcmp(label, "broker.account_many_claimants") == 0)
			assert_true(nn >= 4);
		if (strcmp(label, "honest.family_phone") == 0)
			assert_in_range(nn, 2, 3);
		/* Late customers of a cafe may find the day's quota gone, as in life. */
		if (strcmp(label, "honest.internet_cafe") == 0)
			assert_true(nn >= 4);
		if (strcmp(label, "honest.carrier_nat") == 0)
			assert_true(nn >= 10);
		{
			size_t a, b;

			for (a = 0; a < nn; a++)
				for (b = 0; b < a; b++)
					assert_string_not_equal(niks[a], niks[b]);
		}
		if (strcmp(label, "broker.bot_opening") == 0)
			assert_true(n >= 8); /* a few may find their hour already taken */
		if (strcmp(label, "broker.cancel_rebook") == 0 ||
		    strcmp(label, "broker.out_of_order") == 0 ||
		    strcmp(label, "broker.served_without_booking") == 0 ||
		    strcmp(label, "broker.quota_override") == 0 ||
		    strcmp(label, "broker.noshow_source") == 0)
			assert_true(n >= 1);
		if (strcmp(label, "broker.nik_check_retry") == 0) {
			assert_in_range(n, 3, 6);
			assert_int_equal(m, 1);
		}
		if (strcmp(label, "broker.bulk_probe") == 0)
			assert_in_range(n, 40, 150);
		if (strcmp(label, "honest.hr_collective") == 0)
			assert_in_range(n, 10, 40);
	}
	json_decref(t);
	run_free(&run);
}

struct owner {
	char value[96];
	char nik[4][17];
	int n;
};

/* Records that nik used value; returns how many different NIKs used it (at most 4). */
static int
owned(struct owner *o, size_t *n, size_t cap, const char *value, const char *nik)
{
	size_t i;
	int k;

	for (i = 0; i < *n; i++)
		if (strcmp(o[i].value, value) == 0)
			break;
	if (i == *n) {
		assert_true(*n < cap);
		memset(&o[i], 0, sizeof(o[i]));
		snprintf(o[i].value, sizeof(o[i].value), "%s", value);
		(*n)++;
	}
	for (k = 0; k < o[i].n; k++)
		if (strcmp(o[i].nik[k], nik) == 0)
			return o[i].n;
	if (o[i].n < 4)
		memcpy(o[i].nik[o[i].n++], nik, 17);
	return o[i].n;
}

/*
 * Honest traffic alone does not look like a broker to the simplest rules: counter claims
 * always have a booking, and phones, e-mails and accounts are each one person's, or a
 * family's of at most three.
 */
static void
test_honest_baseline(void **state)
{
	saksi_sim_opts o = opts(state, 2, 3, SAKSI_SIM_MEDIUM);
	struct run run;
	struct owner *phones, *mails, *accounts;
	size_t i, np = 0, nm = 0, na = 0, cap = 100000;

	phones = calloc(cap, sizeof(*phones));
	mails = calloc(cap, sizeof(*mails));
	accounts = calloc(cap, sizeof(*accounts));
	assert_true(phones != NULL && mails != NULL && accounts != NULL);
	run_read(&run, &o);
	for (i = 0; i < run.n; i++) {
		const struct rec *r = &run.r[i];
		const char *nik = str(r->j, "nik"), *v;

		if (r->scen >= 0 && saksi_sim_scenario_is_broker(r->scen))
			continue;
		if (is_type(r, "claim.submitted") && strcmp(str(r->j, "channel"), "counter") == 0)
			assert_non_null(json_object_get(r->j, "booking_id"));
		if (nik == NULL || is_type(r, "claim.eligibility.checked"))
			continue;
		if ((v = str(r->j, "phone")) != NULL)
			assert_in_range(owned(phones, &np, cap, v, nik), 1, 3);
		if ((v = str(r->j, "email")) != NULL)
			assert_int_equal(owned(mails, &nm, cap, v, nik), 1);
		if ((v = str(r->j, "bank_account")) != NULL)
			assert_int_equal(owned(accounts, &na, cap, v, nik), 1);
	}
	print_message("%zu phones, %zu e-mails, %zu accounts\n", np, nm, na);
	assert_true(np > 500 && nm > 200 && na > 500);
	run_free(&run);
	free(phones);
	free(mails);
	free(accounts);
}

/* A run over a weekend skips it: the branches are closed on Saturday and Sunday. */
static void
test_working_days(void **state)
{
	saksi_sim_opts o = opts(state, 1, 2, SAKSI_SIM_NONE);
	struct run run;
	json_error_t jerr;
	json_t *t;

	o.so_start_day = START_DAY + 4; /* Friday 2025-03-14 */
	run_read(&run, &o);
	assert_int_equal(saksi_sim_day(run.s, 0), START_DAY + 4);
	assert_int_equal(saksi_sim_day(run.s, 1), START_DAY + 7);
	assert_int_equal(saksi_sim_day(run.s, 2), -1);
	assert_int_equal(saksi_sim_day(NULL, 0), -1);
	t = json_loads(run.truth, 0, &jerr);
	assert_non_null(t);
	assert_string_equal(json_string_value(json_array_get(json_object_get(t, "days"), 0)),
	    "2025-03-14");
	assert_string_equal(json_string_value(json_array_get(json_object_get(t, "days"), 1)),
	    "2025-03-17");
	json_decref(t);
	run_free(&run);
}

static int
group_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *env = getenv("SAKSI_TEST_SEED");
	char err[256] = "";

	if (fx == NULL || sodium_init() < 0)
		return -1;
	if (env != NULL)
		fx->seed = strtoull(env, NULL, 10);
	else
		randombytes_buf(&fx->seed, sizeof(fx->seed));
	print_message("sim_test seed: SAKSI_TEST_SEED=%llu\n", (unsigned long long)fx->seed);
	if (saksi_schemas_load(EVENTS_DIR, &fx->schemas, err, sizeof(err)) != SAKSI_OK) {
		print_error("cannot load %s: %s\n", EVENTS_DIR, err);
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
group_teardown(void **state)
{
	struct fixture *fx = *state;

	saksi_schemas_free(fx->schemas);
	free(fx);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_inval),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_producers),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_schemas),
		cmocka_unit_test(test_time_order),
		cmocka_unit_test(test_volumes),
		cmocka_unit_test(test_identifiers),
		cmocka_unit_test(test_scenarios_present),
		cmocka_unit_test(test_scenarios_rates),
		cmocka_unit_test(test_scenario_shapes),
		cmocka_unit_test(test_honest_baseline),
		cmocka_unit_test(test_working_days),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
