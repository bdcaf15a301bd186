/*
 * evaluate.c: saksi simulate --evaluate: precision and recall of the detectors per broker
 * pattern, from the simulator's ground truth (which names each scenario instance's events
 * by ledger index) and the alert entries of the ledger. Reads only; the truth file holds
 * no personal value and neither does anything printed here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "ledger.h"
#include "rules.h"
#include "sim.h"
#include "simulate.h"
#include "verify.h"
#include "u64sort.h"

/*
 * The twelve patterns of issue #4, the scenario the simulator injects for each (the
 * officer approving claims that share a device or account is a corrupt video officer,
 * broker.officer_shared_source), and the default rules that target each.
 * A rule not named here counts under "other".
 */
static const struct pattern {
	const char *name;
	int scenario;               /* enum saksi_sim_scenario, or -1 */
	const char *rules[4];
} patterns[] = {
	{ "device_many_nik", SAKSI_SIM_DEVICE_MANY_NIK,
	    { "device_many_nik_fast", "device_many_nik_day" } },
	{ "contact_many_nik", SAKSI_SIM_PHONE_MANY_NIK, { "phone_many_nik", "email_many_nik" } },
	{ "account_many_claimants", SAKSI_SIM_ACCOUNT_MANY_CLAIMANTS,
	    { "account_many_claimants" } },
	{ "slot_transfer", SAKSI_SIM_CANCEL_REBOOK,
	    { "slot_rebooked_other_nik", "slot_rebooked_same_device" } },
	{ "opening_bots", SAKSI_SIM_BOT_OPENING,
	    { "opening_bookings_one_device", "opening_bookings_one_ip" } },
	{ "queue_out_of_order", SAKSI_SIM_OUT_OF_ORDER,
	    { "queue_out_of_order", "priority_changes_frequent" } },
	{ "served_without_booking", SAKSI_SIM_SERVED_WITHOUT_BOOKING,
	    { "counter_claims_without_booking" } },
	{ "quota_override", SAKSI_SIM_QUOTA_OVERRIDE,
	    { "jht_daily_cap", "quota_raised_without_approver", "quota_overrides_frequent" } },
	{ "officer_shared_source", SAKSI_SIM_OFFICER_SHARED_SOURCE,
	    { "officer_shared_device", "officer_shared_account" } },
	{ "nik_check_retry", SAKSI_SIM_NIK_CHECK_RETRY, { "nik_fails_then_matches" } },
	{ "noshow_source", SAKSI_SIM_NOSHOW_SOURCE, { "noshow_one_device" } },
	{ "bulk_probe", SAKSI_SIM_BULK_PROBE,
	    { "eligibility_probe_device", "eligibility_refused_one_ip" } },
};
#define NPAT (sizeof(patterns) / sizeof(patterns[0]))
#define OTHER NPAT   /* rules no pattern names */

struct inst {
	uint64_t id;
	int scenario;
	int broker;
	uint64_t *leaves;   /* sorted */
	size_t n;
	int detected;
};

struct tally {
	uint64_t instances, detected, alerts, true_alerts, unattributed;
	json_t *fp;          /* look-alike instances an alert of the pattern touched */
};

static size_t
pattern_of_rule(const char *rule)
{
	for (size_t p = 0; p < NPAT; p++)
		for (size_t i = 0; i < 4 && patterns[p].rules[i] != NULL; i++)
			if (strcmp(patterns[p].rules[i], rule) == 0)
				return p;
	return OTHER;
}

static int
scenario_by_name(const char *name)
{
	for (int s = 0; s < SAKSI_SIM__COUNT; s++)
		if (strcmp(saksi_sim_scenario_name(s), name) == 0)
			return s;
	return -1;
}

static int
touches(const struct inst *in, const saksi_alert *a)
{
	for (uint32_t i = 0; i < a->al_nevidence; i++)
		if (bsearch(&a->al_evidence[i], in->leaves, in->n, sizeof(uint64_t),
		    saksi_u64_cmp) != NULL)
			return 1;
	return 0;
}

/* The instances of the truth, their events as ledger indices; *first: the run's lowest
 * ledger index. */
static struct inst *
load_instances(const json_t *truth, size_t *ninst, uint64_t *first)
{
	json_t *leaves = json_object_get(truth, "leaves"), *insts, *o, *x;
	struct inst *v;
	size_t i, j;

	if (!json_is_array(leaves))
		xdie("the truth file has no \"leaves\": it was written by --dry-run, or by a "
		    "saksi older than --evaluate; run the simulation again with --truth");
	insts = json_object_get(truth, "instances");
	if (!json_is_array(insts))
		xdie("the truth file has no \"instances\"");
	*first = UINT64_MAX;
	json_array_foreach(leaves, i, x)
		if (json_is_integer(x) && json_integer_value(x) >= 0 &&
		    (uint64_t)json_integer_value(x) < *first)
			*first = (uint64_t)json_integer_value(x);
	*ninst = json_array_size(insts);
	v = xmalloc((*ninst + 1) * sizeof(*v));
	json_array_foreach(insts, i, o) {
		json_t *ev = json_object_get(o, "events"), *id = json_object_get(o, "id");
		const char *sc = json_string_value(json_object_get(o, "scenario"));
		struct inst *in = &v[i];

		if (!json_is_array(ev) || !json_is_integer(id) || sc == NULL ||
		    (in->scenario = scenario_by_name(sc)) < 0)
			xdie("the truth file's instance %zu is malformed", i);
		in->id = (uint64_t)json_integer_value(id);
		in->broker = saksi_sim_scenario_is_broker(in->scenario);
		in->detected = 0;
		in->n = 0;
		in->leaves = xmalloc((json_array_size(ev) + 1) * sizeof(uint64_t));
		json_array_foreach(ev, j, x) {
			json_t *l;

			if (!json_is_integer(x) || json_integer_value(x) < 0)
				xdie("the truth file's instance %zu has a bad event index", i);
			l = json_array_get(leaves, (size_t)json_integer_value(x));
			/* An event that never reached the ledger (refused) has no index. */
			if (json_is_integer(l) && json_integer_value(l) >= 0)
				in->leaves[in->n++] = (uint64_t)json_integer_value(l);
		}
		qsort(in->leaves, in->n, sizeof(uint64_t), saksi_u64_cmp);
	}
	return v;
}

static json_t *
ratio(uint64_t num, uint64_t den)
{
	return den == 0 ? json_null() : json_real((double)num / (double)den);
}

/* "  0.50   1/2   ": 16 columns. */
static void
print_ratio(FILE *out, uint64_t num, uint64_t den)
{
	char frac[32];

	if (den == 0) {
		fprintf(out, "  %-14s", "-");
		return;
	}
	snprintf(frac, sizeof(frac), "%" PRIu64 "/%" PRIu64, num, den);
	fprintf(out, "  %4.2f %-9s", (double)num / (double)den, frac);
}

int
saksi_sim_evaluate(const json_t *truth, const char *ledger_dir, int json, FILE *out)
{
	struct tally t[NPAT + 1];
	struct inst *in;
	size_t ninst;
	uint64_t first, size, other_kinds = 0, considered = 0;
	saksi_ledger *l;
	saksi_ledger_txn *txn;
	saksi_err e;

	in = load_instances(truth, &ninst, &first);
	memset(t, 0, sizeof(t));
	for (size_t p = 0; p <= NPAT; p++)
		t[p].fp = json_array();
	for (size_t i = 0; i < ninst; i++)
		for (size_t p = 0; p < NPAT; p++)
			if (in[i].broker && patterns[p].scenario == in[i].scenario)
				t[p].instances++;

	l = xledger_open_ro(ledger_dir);
	if ((e = saksi_ledger_begin(l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read the ledger %s", ledger_dir);
	size = saksi_ledger_size(txn);
	for (uint64_t idx = first == UINT64_MAX ? size : first; idx < size; idx++) {
		saksi_leaf lf;
		saksi_alert a;
		uint8_t *leaf;
		size_t len, p;
		int hit = 0;

		if ((e = saksi_ledger_leaf(txn, idx, &leaf, &len)) != SAKSI_OK ||
		    (e = saksi_leaf_parse(leaf, len, &lf)) != SAKSI_OK)
			xdie_err(e, "entry %" PRIu64 " of %s cannot be read; run saksi verify", idx,
			    ledger_dir);
		if (lf.lf_kind != SAKSI_LEAF_ALERT) {
			free(leaf);
			continue;
		}
		/* Cap, late and re-raise alerts say nothing about a pattern. */
		if (saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, &a) != SAKSI_OK ||
		    a.al_kind != SAKSI_ALERT_RULE) {
			other_kinds++;
			free(leaf);
			continue;
		}
		free(leaf);
		considered++;
		p = pattern_of_rule(a.al_rule);
		t[p].alerts++;
		for (size_t i = 0; i < ninst; i++) {
			if (!in[i].broker || !touches(&in[i], &a))
				continue;
			hit = 1;
			if (p < NPAT && patterns[p].scenario == in[i].scenario && !in[i].detected) {
				in[i].detected = 1;
				t[p].detected++;
			}
		}
		if (hit) {
			t[p].true_alerts++;
			continue;
		}
		/* A false positive: named after the look-alikes it touches, if any (an alert
		 * about a broker may well have honest people in its evidence: not those). */
		for (size_t i = 0; i < ninst; i++) {
			if (in[i].broker || !touches(&in[i], &a))
				continue;
			hit = 1;
			json_array_append_new(t[p].fp, json_pack("{s:I, s:s, s:s, s:I}", "instance",
			    (json_int_t)in[i].id, "scenario",
			    saksi_sim_scenario_name(in[i].scenario), "rule", a.al_rule, "alert",
			    (json_int_t)a.al_id));
		}
		if (!hit)
			t[p].unattributed++;
	}
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);

	if (json) {
		json_t *pats = json_array(), *o;
		uint64_t ti = 0, td = 0, ta = 0, tt = 0;
		char *s;

		for (size_t p = 0; p <= NPAT; p++) {
			json_t *rules;

			if (p == OTHER && t[p].alerts == 0)
				continue;
			rules = json_array();
			for (size_t i = 0; p < NPAT && i < 4 && patterns[p].rules[i] != NULL; i++)
				json_array_append_new(rules, json_string(patterns[p].rules[i]));
			o = json_pack("{s:s, s:o, s:o, s:I, s:I, s:o, s:I, s:I, s:o, s:I, s:O}",
			    "pattern", p < NPAT ? patterns[p].name : "other",
			    "scenario", p < NPAT && patterns[p].scenario >= 0 ?
			    json_string(saksi_sim_scenario_name(patterns[p].scenario)) : json_null(),
			    "rules", rules, "instances", (json_int_t)t[p].instances,
			    "detected", (json_int_t)t[p].detected,
			    "recall", ratio(t[p].detected, t[p].instances),
			    "alerts", (json_int_t)t[p].alerts,
			    "true_alerts", (json_int_t)t[p].true_alerts,
			    "precision", ratio(t[p].true_alerts, t[p].alerts),
			    "unattributed_alerts", (json_int_t)t[p].unattributed,
			    "false_positives", t[p].fp);
			json_array_append_new(pats, o);
			ti += t[p].instances;
			td += t[p].detected;
			ta += t[p].alerts;
			tt += t[p].true_alerts;
		}
		o = json_pack("{s:{s:o, s:{s:I, s:I, s:o, s:I, s:I, s:o}, s:I, s:I}}", "evaluation",
		    "patterns", pats, "total", "instances", (json_int_t)ti, "detected",
		    (json_int_t)td, "recall", ratio(td, ti), "alerts", (json_int_t)ta,
		    "true_alerts", (json_int_t)tt, "precision", ratio(tt, ta),
		    "first_entry", (json_int_t)(first == UINT64_MAX ? size : first),
		    "other_alerts", (json_int_t)other_kinds);
		if ((s = json_dumps(o, JSON_COMPACT)) == NULL)
			xdie("out of memory");
		fprintf(out, "%s\n", s);
		free(s);
		json_decref(o);
	} else {
		uint64_t ti = 0, td = 0, ta = 0, tt = 0;

		fprintf(out, "evaluation: %" PRIu64 " rule alerts from entry %" PRIu64 " on "
		    "(%" PRIu64 " cap, late or re-raise alerts not counted)\n", considered,
		    first == UINT64_MAX ? size : first, other_kinds);
		fprintf(out, "  %-24s  %-14s  %-14s  %s\n", "pattern", "recall", "precision",
		    "look-alikes alerted on (false positives)");
		for (size_t p = 0; p <= NPAT; p++) {
			json_t *x;
			size_t i;

			if (p == OTHER && t[p].alerts == 0)
				continue;
			fprintf(out, "  %-24s", p < NPAT ? patterns[p].name : "other");
			print_ratio(out, t[p].detected, t[p].instances);
			print_ratio(out, t[p].true_alerts, t[p].alerts);
			/* One mention per look-alike and rule, with the number of alerts. */
			json_array_foreach(t[p].fp, i, x) {
				size_t j, k = 0, dup = 0;
				json_t *y;

				json_array_foreach(t[p].fp, j, y) {
					if (!json_equal(json_object_get(x, "instance"),
					    json_object_get(y, "instance")) ||
					    !json_equal(json_object_get(x, "rule"),
					    json_object_get(y, "rule")))
						continue;
					dup |= j < i;
					k++;
				}
				if (dup)
					continue;
				fprintf(out, "%s%s #%" JSON_INTEGER_FORMAT " (%s", i == 0 ? "  " : ", ",
				    json_string_value(json_object_get(x, "scenario")),
				    json_integer_value(json_object_get(x, "instance")),
				    json_string_value(json_object_get(x, "rule")));
				if (k > 1)
					fprintf(out, ", %zu alerts", k);
				fputc(')', out);
			}
			fputc('\n', out);
			ti += t[p].instances;
			td += t[p].detected;
			ta += t[p].alerts;
			tt += t[p].true_alerts;
			json_decref(t[p].fp);
			t[p].fp = NULL;
		}
		fprintf(out, "  %-24s", "all");
		print_ratio(out, td, ti);
		print_ratio(out, tt, ta);
		fputc('\n', out);
	}
	for (size_t p = 0; p <= NPAT; p++)
		json_decref(t[p].fp);
	for (size_t i = 0; i < ninst; i++)
		free(in[i].leaves);
	free(in);
	return SX_OK;
}
