/*
 * sim.h: the traffic simulator. Generates a deterministic (seeded) stream of queue, claim
 * and staff events for branches of the JHT claim service, in producer-time order, with
 * labelled broker scenarios, honest look-alikes and the ground truth of which events belong
 * to which scenario. It never signs or sends anything: personal values are synthetic and
 * in clear, as a producer holds them before disclosure. No global state.
 */
#ifndef SAKSI_SIM_H
#define SAKSI_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "saksi_error.h"

#define SAKSI_SIM_BRANCHES_MAX 300 /* about the number of branch offices */
#define SAKSI_SIM_DAYS_MAX 366

/* How many broker scenarios to inject (expected instances per branch day). */
enum saksi_sim_level {
	SAKSI_SIM_NONE = 0,   /* no broker traffic; honest look-alikes stay */
	SAKSI_SIM_LOW = 1,    /* 0.1 of each broker scenario per branch day */
	SAKSI_SIM_MEDIUM = 2, /* 0.3 */
	SAKSI_SIM_HIGH = 3,   /* 1 */
};

/*
 * Scenario labels. Broker scenarios first, then honest look-alikes that a detector must
 * not alert on. The names (saksi_sim_scenario_name) are the labels in the truth file.
 */
enum saksi_sim_scenario {
	SAKSI_SIM_DEVICE_MANY_NIK,         /* one device books for many NIKs */
	SAKSI_SIM_PHONE_MANY_NIK,          /* one phone number for many NIKs */
	SAKSI_SIM_ACCOUNT_MANY_CLAIMANTS,  /* one bank account receives many claimants' payouts */
	SAKSI_SIM_CANCEL_REBOOK,           /* slot cancelled, instantly rebooked for another NIK */
	SAKSI_SIM_BOT_OPENING,             /* bookings within a second of the slot opening */
	SAKSI_SIM_OUT_OF_ORDER,            /* an officer calls tickets out of order */
	SAKSI_SIM_SERVED_WITHOUT_BOOKING,  /* a claim served at a counter without any ticket */
	SAKSI_SIM_QUOTA_OVERRIDE,          /* quota raised without approval, filled at the counter */
	SAKSI_SIM_NIK_CHECK_RETRY,         /* repeated civil-registry mismatches, then a match */
	SAKSI_SIM_NOSHOW_SOURCE,           /* one source books many slots that are not used */
	SAKSI_SIM_BULK_PROBE,              /* bulk eligibility probing from one source */
	SAKSI_SIM_OFFICER_SHARED_SOURCE,   /* an officer approves claims of one device/account */
	SAKSI_SIM_FAMILY_PHONE,            /* honest: 2-3 relatives share one phone and device */
	SAKSI_SIM_INTERNET_CAFE,           /* honest: many residents book from one cafe */
	SAKSI_SIM_CARRIER_NAT,             /* honest: unrelated people behind one carrier IP */
	SAKSI_SIM_HR_COLLECTIVE,           /* honest: a partner HR office files for laid-off staff */
	SAKSI_SIM_OFFICER_FAMILY,          /* honest: an officer approves 2-3 relatives' claims */
	SAKSI_SIM__COUNT
};
#define SAKSI_SIM_HONEST_FIRST SAKSI_SIM_FAMILY_PHONE

typedef struct saksi_sim_opts {
	uint64_t so_seed;
	unsigned so_branches;  /* 1..SAKSI_SIM_BRANCHES_MAX */
	unsigned so_days;      /* service (working) days, 1..SAKSI_SIM_DAYS_MAX */
	int so_level;          /* enum saksi_sim_level */
	/*
	 * Days since 1970-01-01 (UTC calendar) of the first candidate day, >= 10; the first
	 * service day is the first Monday-to-Friday on or after it. Bookings for a day start
	 * three days before it, payments may follow up to two days after it.
	 */
	int64_t so_start_day;
} saksi_sim_opts;

/* A producer identity: one signing key, one role of the keyring. */
typedef struct saksi_sim_producer {
	const char *sp_name;    /* e.g. "portal-web", "kiosk-kc-makassar"; [a-z0-9-] */
	const char *sp_role;    /* "queue", "claim" or "staff" */
	const char *sp_branch;  /* branch code, or "*" for a national system */
} saksi_sim_producer;

typedef struct saksi_sim_event {
	uint64_t se_index;          /* position in the stream, from 0 */
	size_t se_producer;         /* index into the producer table */
	const char *se_producer_name; /* valid while the simulator lives */
	const char *se_type;        /* static storage */
	char *se_payload;           /* JSON object, personal values in clear; owned (malloc) */
	size_t se_payload_len;
	uint64_t se_time_ms;        /* producer time, ms since the Unix epoch */
	int se_scenario;            /* enum saksi_sim_scenario, or -1 for ordinary traffic */
	uint32_t se_instance;       /* scenario instance id (1-based), 0 for ordinary traffic */
	int se_signal;              /* 1 if the event itself shows the pattern */
} saksi_sim_event;

typedef struct saksi_sim saksi_sim;

/*
 * Prepares a simulation. Nothing is generated yet: days are generated as the stream is
 * read, so memory holds about five days of traffic, not the whole run.
 * SAKSI_ERR_INVAL for options out of range, SAKSI_ERR_NOMEM.
 */
saksi_err saksi_sim_open(const saksi_sim_opts *opts, saksi_sim **out);
void saksi_sim_close(saksi_sim *s);

/*
 * The next event of the stream, in producer-time order (ties in generation order).
 * SAKSI_OK with *ev filled (free its payload with saksi_sim_event_clear),
 * SAKSI_ERR_NOT_FOUND at the end of the stream, SAKSI_ERR_NOMEM (the simulator is then
 * unusable: every later call fails the same way).
 */
saksi_err saksi_sim_next(saksi_sim *s, saksi_sim_event *ev);
void saksi_sim_event_clear(saksi_sim_event *ev);

/* The producer table: national systems first, then four producers per branch. */
size_t saksi_sim_producer_count(const saksi_sim *s);
const saksi_sim_producer *saksi_sim_producer_at(const saksi_sim *s, size_t i);
/* The i-th branch code (i < so_branches), or NULL. */
const char *saksi_sim_branch_at(const saksi_sim *s, size_t i);
/* The i-th service day (i < so_days), days since 1970-01-01; -1 out of range. */
int64_t saksi_sim_day(const saksi_sim *s, size_t i);

/* Scenario instances created so far (all of a day's once any event of it was read). */
size_t saksi_sim_instances(const saksi_sim *s, int scenario);

/*
 * Ground truth of the events read so far, as JSON (malloc'd, NUL-terminated):
 * {"saksi_sim_truth":1,"seed":"S","level":"medium","branches":[...],"days":[...],
 *  "events":N,"counts":{label:instances},"instances":[{"id","scenario","broker",
 *  "branch","date","key":{...},"events":[indices],"signal":[indices]}]}
 * Call it after the end of the stream for the whole run.
 */
saksi_err saksi_sim_truth_json(const saksi_sim *s, char **json, size_t *len);

/* "broker.device_many_nik", ... ; NULL outside the enum. Static storage. */
const char *saksi_sim_scenario_name(int scenario);
/* 1 for a broker scenario, 0 for an honest look-alike or an invalid value. */
int saksi_sim_scenario_is_broker(int scenario);
/* "none", "low", "medium", "high" <-> enum saksi_sim_level. */
saksi_err saksi_sim_level_parse(const char *name, int *level);
const char *saksi_sim_level_name(int level);

#endif
