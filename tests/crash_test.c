/*
 * crash_test.c: the promise "never lose an acknowledged event", tested on the built saksid.
 * Producer threads submit batches through the client library and keep every envelope they
 * got a receipt for; saksid is killed with SIGKILL at seeded random moments and restarted
 * on the same state; after every restart each receipted event must be in the ledger at its
 * index with exactly its bytes, its receipt must still verify, and the whole ledger must
 * verify. A request lost with the daemon is resubmitted with the same bytes (accepted or
 * duplicate, never equivocation), so at the end every event is in the ledger exactly once.
 * Detection runs with the default rules, so alert entries are committed in the same groups;
 * at the end their ids must increase in ledger order (none raised twice across restarts).
 * Last, events picked at random are sent again: duplicates, with their first receipts.
 *
 * Environment:
 *   SAKSI_TEST_SEED=n     replays the random choices (kill points, delays) of a run
 *                         (thread scheduling still varies). The seed is printed.
 *   SAKSI_CRASH_KILLS=n   number of kills (default 15: about 5 s, 8 s under ASan; 1000 for
 *                         the long soak: about 40 minutes on a busy 2-core machine, as
 *                         every round verifies the whole, growing ledger).
 * It never asserts on time: a bounded number of polls only keeps a hung daemon from
 * hanging the suite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include <jansson.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "client.h"
#include "datakey.h"
#include "envelope.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"
#include "rules.h"
#include "verify.h"
#include "wire.h"
#include "events_gen.h"

#define NPROD 4                 /* producer threads, each with its own key */
#define BATCH 8                 /* events per request */
#define DEFAULT_KILLS 15
#define CLIENT_TIMEOUT_MS 400   /* a request lost with the daemon is retried after this */
#define PROGRESS_POLLS 60000    /* x 1 ms of waiting for receipts before a kill */
#define MAX_LOSS_REPORT 20

/* One event a producer got a receipt for. Immutable once published. */
struct rec {
	uint8_t *env;
	size_t env_len;
	uint8_t *sealed;        /* its sealed disclosures, for the resubmission at the end */
	size_t sealed_len;
	uint64_t seq;
	uint64_t index;
	char *receipt;
	int accepted_round;     /* the kill round in which the receipt came */
	/* The checker's own: set once the receipt verified in full. */
	int verified;
	uint64_t ck_size;       /* the receipt's signed tree size and root */
	saksi_hash ck_root;
};

struct prod {
	struct crash *cr;
	size_t t;
	pthread_t th;
	pthread_mutex_t mu;     /* guards recs/nrecs against the checker's snapshot */
	struct rec **recs;
	size_t nrecs, cap;
	uint64_t next_seq;
	long retries;           /* requests that failed (daemon gone) and were resent */
	long dups;              /* results that came back as duplicates */
	char fatal[512];        /* anything that must never happen */
	_Atomic int has_fatal;  /* set once fatal is written, for the main thread to read */
};

struct crash {
	struct fx fx;
	char url[256], conf[256], errlog[256], ledger_dir[256];
	pid_t pid;
	struct prod prod[NPROD];
	_Atomic int stop;
	_Atomic int abandon;    /* after a failure: leave even a batch in flight */
	pthread_mutex_t pmu;    /* pausing the producers for a check */
	pthread_cond_t pcv;
	int paused, parked, exited;
	_Atomic int round;
	_Atomic uint64_t receipts;
	uint64_t rng;
	long kills, startup_kills, losses, checks;
	uint64_t alerts;        /* alert entries in the final ledger */
	size_t keys_checked;    /* events whose data keys the last check opened */
	int passed;
};

static uint64_t
rnd(struct crash *cr)
{
	return gen_rnd(&cr->rng);   /* splitmix64: the seeded choices of a run */
}

static void
sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
write_conf(struct crash *cr)
{
	dr_write_conf(cr->conf,
	              "index_key = index.key\n"
	              "rules = %s/schemas/rules/default.rules\n"
	              "alerts_listen = ipc://alerts.sock\n"
	              "group_wait_us = 2000\n"
	              "workers = 2\n"
	              "map_size_mb = 1024\n",
	              SAKSI_SOURCE_DIR);
}

/* posix_spawn, not fork: producer threads are running, and the child must touch no lock. */
static pid_t
spawn(struct crash *cr)
{
	return dr_saksid_start(cr->conf, cr->errlog, NULL);
}

/* Ready once it answers a checkpoint request with a signed checkpoint. */
static void
wait_ready(struct crash *cr)
{
	dr_await_ready(cr->url, &cr->fx.v, &cr->pid, cr->errlog, 0);
}

static void
publish(struct prod *p, struct rec *r)
{
	pthread_mutex_lock(&p->mu);
	if (p->nrecs == p->cap) {
		p->cap = p->cap == 0 ? 256 : 2 * p->cap;
		p->recs = realloc(p->recs, p->cap * sizeof(*p->recs));
		if (p->recs == NULL)
			abort();
	}
	p->recs[p->nrecs++] = r;
	pthread_mutex_unlock(&p->mu);
	atomic_fetch_add(&p->cr->receipts, 1);
}

/*
 * A booking with its own NIK and booking id: one device (the example's) booking for many
 * NIKs fast is what the default rules call a broker, so alerts are raised as well.
 */
static void
booking(struct crash *cr, const struct prod *p, uint64_t seq, struct fx_item *it)
{
	char nik[32], bk[32], *payload;
	const char *set[] = { "nik", nik, "booking_id", bk, NULL };

	snprintf(nik, sizeof(nik), "73710545078%01zu%04u", p->t % 10, (unsigned)(seq % 10000));
	snprintf(bk, sizeof(bk), "BK-%zu-%llu", p->t, (unsigned long long)seq);
	payload = fx_payload("queue.booking.created", set);
	fx_build(&cr->fx, cr->fx.prod[FX_NFIXED + p->t], "queue.booking.created", payload, seq,
	         wall_ms(), it);
	free(payload);
}

/* Between batches: waits while the checker has the producers paused. */
static void
park(struct crash *cr)
{
	pthread_mutex_lock(&cr->pmu);
	if (cr->paused) {
		cr->parked++;
		pthread_cond_broadcast(&cr->pcv);
		while (cr->paused)
			pthread_cond_wait(&cr->pcv, &cr->pmu);
		cr->parked--;
	}
	pthread_mutex_unlock(&cr->pmu);
}

/*
 * Pauses (on = 1) every producer between two batches, or lets them go on. A producer's
 * batch in flight is finished first (the daemon is up), so a round's events stay few and
 * the long run stays linear in its kills, not in the ledger's size.
 */
static void
pause_producers(struct crash *cr, int on)
{
	pthread_mutex_lock(&cr->pmu);
	cr->paused = on;
	pthread_cond_broadcast(&cr->pcv);
	while (on && cr->parked + cr->exited < NPROD) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&cr->pcv, &cr->pmu, &ts);
	}
	pthread_mutex_unlock(&cr->pmu);
}

/*
 * Submits batches until told to stop; a batch whose request failed is sent again, the
 * same bytes, until it gets an answer. Stops only between batches, so that every event it
 * built ends with a receipt.
 */
static void *
producer(void *arg)
{
	struct prod *p = arg;
	struct crash *cr = p->cr;
	struct fx_item items[BATCH];
	saksi_result res[BATCH];
	saksi_client_opts co;
	saksi_client *c;
	int have = 0, tries = 0, round0;

	memset(&co, 0, sizeof(co));
	co.co_url = cr->url;
	co.co_key = cr->fx.prod[FX_NFIXED + p->t];
	co.co_box_pk = cr->fx.box_pub.pk_key;
	co.co_log = &cr->fx.v;
	co.co_schemas = cr->fx.sc;
	co.co_timeout_ms = CLIENT_TIMEOUT_MS;
	if (saksi_client_open(&co, &c) != SAKSI_OK) {
		snprintf(p->fatal, sizeof(p->fatal), "client open failed");
		atomic_store(&p->has_fatal, 1);
		return NULL;
	}
	for (;;) {
		const uint8_t *env[BATCH], *sealed[BATCH];
		size_t env_len[BATCH], sealed_len[BATCH];
		saksi_err e;

		if (!have) {
			park(cr);
			if (atomic_load(&cr->stop))
				break;
			for (size_t i = 0; i < BATCH; i++)
				booking(cr, p, p->next_seq++, &items[i]);
			have = 1;
			tries = 0;
		}
		for (size_t i = 0; i < BATCH; i++) {
			env[i] = items[i].env;
			env_len[i] = items[i].env_len;
			sealed[i] = items[i].sealed;
			sealed_len[i] = items[i].sealed_len;
		}
		memset(res, 0, sizeof(res));
		round0 = atomic_load(&cr->round);
		e = saksi_client_submit_raw(c, env, env_len, sealed, sealed_len, BATCH, res);
		tries++;
		if (e == SAKSI_ERR_REFUSED) {
			int status;

			for (size_t i = 0; i < BATCH; i++)
				saksi_result_clear(&res[i]);
			/* Only "unavailable" and "busy" (retry later) are answers to resend on. */
			(void)saksi_client_refusal(c, &status);
			if (status != SAKSI_R_UNAVAILABLE && status != SAKSI_R_BUSY)
				e = SAKSI_ERR_FORMAT;
		}
		if (e == SAKSI_ERR_NET || e == SAKSI_ERR_TIMEOUT || e == SAKSI_ERR_REFUSED) {
			/* The daemon is gone or starting: the same bytes again. */
			p->retries++;
			if (atomic_load(&cr->abandon))
				break;
			continue;
		}
		if (e != SAKSI_OK) {
			int status;
			const char *why = saksi_client_refusal(c, &status);

			snprintf(p->fatal, sizeof(p->fatal), "producer %zu: submit: %s (%d %s)",
			         p->t, saksi_strerror(e), status, why);
			break;
		}
		for (size_t i = 0; i < BATCH; i++) {
			struct rec *r;
			int code = res[i].sr_code;

			/* A duplicate on the first send is right only if the daemon restarted
			 * meanwhile: nanomsg's REQ resends a pending request to the new daemon by
			 * itself, and the first copy may have been committed. */
			if ((code != SAKSI_R_ACCEPTED && code != SAKSI_R_DUPLICATE) ||
			    res[i].sr_receipt == NULL ||
			    (code == SAKSI_R_DUPLICATE && tries == 1 &&
			     atomic_load(&cr->round) == round0)) {
				if (p->fatal[0] == '\0')
					snprintf(p->fatal, sizeof(p->fatal),
					         "producer %zu seq %llu (try %d): code %d, %s", p->t,
					         (unsigned long long)(p->next_seq - BATCH + i), tries,
					         code, res[i].sr_message);
				continue;
			}
			p->dups += code == SAKSI_R_DUPLICATE;
			r = calloc(1, sizeof(*r));
			r->env = items[i].env;
			r->env_len = items[i].env_len;
			r->sealed = items[i].sealed;
			r->sealed_len = items[i].sealed_len;
			items[i].env = NULL;
			items[i].sealed = NULL;
			r->seq = p->next_seq - BATCH + i;
			r->index = res[i].sr_index;
			r->receipt = res[i].sr_receipt;
			res[i].sr_receipt = NULL;
			r->accepted_round = atomic_load(&cr->round);
			publish(p, r);
		}
		for (size_t i = 0; i < BATCH; i++) {
			saksi_result_clear(&res[i]);
			fx_item_free(&items[i]);
		}
		have = 0;
		if (p->fatal[0] != '\0')
			break;
	}
	if (have)
		for (size_t i = 0; i < BATCH; i++)
			fx_item_free(&items[i]);
	saksi_client_close(c);
	if (p->fatal[0] != '\0')
		atomic_store(&p->has_fatal, 1);
	pthread_mutex_lock(&cr->pmu);
	cr->exited++;
	pthread_cond_broadcast(&cr->pcv);
	pthread_mutex_unlock(&cr->pmu);
	return NULL;
}

/* 1 if r is in the ledger as its receipt says, with its exact bytes; prints why not. */
static int
check_rec(struct crash *cr, saksi_ledger_txn *t, uint64_t size, size_t prod, struct rec *r,
          saksi_tlog_proof *tp, int quiet, int full)
{
	saksi_checkpoint ck;
	saksi_leaf lf;
	saksi_hash h, root;
	uint8_t *leaf = NULL;
	size_t len;
	saksi_err e;
	const char *why = NULL;

	if (r->index >= size)
		why = "index beyond the ledger's size";
	else if ((e = saksi_ledger_leaf(t, r->index, &leaf, &len)) != SAKSI_OK)
		why = "no leaf at the receipt's index";
	else if (saksi_leaf_parse(leaf, len, &lf) != SAKSI_OK || lf.lf_kind != SAKSI_LEAF_EVENT)
		why = "the leaf at the receipt's index is not an event";
	else if (lf.lf_body_len != r->env_len || memcmp(lf.lf_body, r->env, r->env_len) != 0)
		why = "the leaf at the receipt's index holds other bytes";
	else if (full || !r->verified) {
		/* The receipt's text never changes: its signature is checked in full the first
		 * time and at the end; in between, what can change is the ledger under it. */
		if (saksi_tlog_proof_parse(r->receipt, strlen(r->receipt), tp) != SAKSI_OK)
			why = "the receipt does not parse";
		else if (tp->tp_index != r->index || !tp->tp_has_extra ||
		         tp->tp_extra_len != SAKSI_LEAF_HDR ||
		         memcmp(tp->tp_extra, leaf, SAKSI_LEAF_HDR) != 0)
			why = "the receipt names another leaf header or index";
		else {
			saksi_merkle_leaf_hash(h, leaf, len);
			if (saksi_tlog_proof_verify(tp, &cr->fx.v, h, &ck) != SAKSI_OK)
				why = "the receipt does not verify against the log key";
			else {
				r->verified = 1;
				r->ck_size = ck.ck_size;
				memcpy(r->ck_root, ck.ck_root, 32);
			}
		}
	}
	/* The leaf's header and every leaf before it are under the signed root. */
	if (why == NULL && (r->ck_size > size ||
	                    saksi_ledger_root(t, r->ck_size, root) != SAKSI_OK ||
	                    memcmp(root, r->ck_root, 32) != 0))
		why = "the receipt's signed root is not the ledger's root at that size";
	free(leaf);
	if (why == NULL)
		return 1;
	if (!quiet && cr->losses < MAX_LOSS_REPORT)
		printf("# LOSS: producer %zu seq %llu, receipt index %llu (received in round %d), "
		       "ledger size %llu, after kill %ld: %s\n", prod, (unsigned long long)r->seq,
		       (unsigned long long)r->index, r->accepted_round, (unsigned long long)size,
		       cr->kills, why);
	return 0;
}

/*
 * The check itself must be able to fail: a receipted event with one envelope byte changed,
 * or moved to the next index, or with its receipt's proof changed, or under a root that is
 * not its receipt's, is a loss.
 */
static void
self_check(struct crash *cr, saksi_ledger *l, struct rec **recs, size_t n,
           saksi_tlog_proof *tp)
{
	saksi_ledger_txn *t;
	struct rec r;
	char *pos;
	uint64_t size;

	assert_true(n > 0);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	size = saksi_ledger_size(t);
	r = *recs[n / 2];
	assert_int_equal(check_rec(cr, t, size, 0, &r, tp, 1, 1), 1);
	r.env = malloc(r.env_len);
	memcpy(r.env, recs[n / 2]->env, r.env_len);
	r.env[r.env_len - 1] ^= 1;
	assert_int_equal(check_rec(cr, t, size, 0, &r, tp, 1, 1), 0);
	free(r.env);
	r = *recs[n / 2];
	r.index++;
	assert_int_equal(check_rec(cr, t, size, 0, &r, tp, 1, 1), 0);
	r.index = size;
	assert_int_equal(check_rec(cr, t, size, 0, &r, tp, 1, 1), 0);
	r = *recs[n / 2];
	r.receipt = strdup(r.receipt);
	/* The first proof hash's first base64 character, after the "index" line. */
	pos = strstr(r.receipt, "\nindex ");
	assert_non_null(pos);
	pos = strchr(pos + 1, '\n');
	assert_non_null(pos);
	pos[1] = pos[1] == 'A' ? 'B' : 'A';
	assert_int_equal(check_rec(cr, t, size, 0, &r, tp, 1, 1), 0);
	free(r.receipt);
	/* Between full checks: a ledger whose root no longer matches the receipt's. */
	r = *recs[n / 2];
	assert_int_equal(r.verified, 1);
	assert_int_equal(check_rec(cr, t, size, 0, &r, tp, 1, 0), 1);
	r.ck_root[0] ^= 1;
	assert_int_equal(check_rec(cr, t, size, 0, &r, tp, 1, 0), 0);
	saksi_ledger_abort(t);
}

/*
 * Every receipted event so far is where its receipt says, with its bytes; the receipt
 * still verifies; the whole ledger verifies. Runs beside the live, restarted daemon (the
 * producers paused, but the snapshot would be sound without: a receipt published before
 * it was committed before our read transaction).
 * With final set, also: every event is in the ledger exactly once.
 */
struct slotnik {
	uint64_t sn_slot;
	char sn_nik[32];
};

static int
by_slot(const void *a, const void *b)
{
	const struct slotnik *x = a, *y = b;

	if (x->sn_slot != y->sn_slot)
		return x->sn_slot < y->sn_slot ? -1 : 1;
	return strcmp(x->sn_nik, y->sn_nik);
}

static int
by_nik(const void *a, const void *b)
{
	const struct slotnik *x = a, *y = b;
	int c = strcmp(x->sn_nik, y->sn_nik);

	if (c != 0)
		return c;
	return x->sn_slot < y->sn_slot ? -1 : x->sn_slot > y->sn_slot;
}

/*
 * Every receipted event's disclosures open with what the appliance holds, under the data
 * key of its participant, and no data key serves two participants (or a participant two
 * keys): across kills, new participants' slots are made ahead in synced batches, made
 * anew at each start, and handed out in the groups' transactions (FORMATS.md 7.3).
 */
static void
keys_check(struct crash *cr, saksi_ledger_txn *t, struct rec ***snap, const size_t *nsnap,
           size_t total)
{
	char slots[DR_NAME_LEN + 16], master[DR_NAME_LEN + 32];
	struct slotnik *sn = calloc(total + 1, sizeof(*sn));
	saksi_datakeys *dk;
	size_t n = 0;

	assert_non_null(sn);
	snprintf(slots, sizeof(slots), "%s/datakeys", cr->ledger_dir);
	snprintf(master, sizeof(master), "%s/state/datakeys.master", cr->fx.dir);
	assert_int_equal(saksi_dk_open(slots, master, cr->fx.store, 0, 0, &dk), SAKSI_OK);
	for (size_t p = 0; p < NPROD; p++)
		for (size_t i = 0; i < nsnap[p]; i++) {
			uint64_t index = snap[p][i]->index;
			uint8_t *blob;
			size_t bl, jl, k;
			saksi_hash h;
			char *json;
			int kind;
			json_t *a, *v;

			assert_int_equal(saksi_ledger_disc_get(t, index, &blob, &bl), SAKSI_OK);
			assert_int_equal(saksi_ledger_node(t, 0, index, h), SAKSI_OK);
			assert_int_equal(saksi_disc2_key(blob, bl, &kind, &sn[n].sn_slot), SAKSI_OK);
			assert_int_equal(kind, SAKSI_DK_DATA);
			if (saksi_disc_open_any(cr->fx.store, dk, index, h, blob, bl, &json, &jl) !=
			    SAKSI_OK)
				fail_msg("entry %llu: its disclosures do not open under slot %llu",
				         (unsigned long long)index,
				         (unsigned long long)sn[n].sn_slot);
			free(blob);
			assert_non_null(a = json_loadb(json, jl, 0, NULL));
			json_array_foreach(a, k, v) {
				char *name, *value;

				assert_int_equal(saksi_disclosure_decode(json_string_value(v),
				                 json_string_length(v), &name, &value), SAKSI_OK);
				if (strcmp(name, "nik") == 0)
					snprintf(sn[n].sn_nik, sizeof(sn[n].sn_nik), "%s", value);
				free(name);
				free(value);
			}
			json_decref(a);
			free(json);
			assert_true(sn[n].sn_nik[0] != '\0');
			n++;
		}
	saksi_dk_close(dk);
	qsort(sn, n, sizeof(*sn), by_slot);
	for (size_t i = 1; i < n; i++)
		if (sn[i].sn_slot == sn[i - 1].sn_slot &&
		    strcmp(sn[i].sn_nik, sn[i - 1].sn_nik) != 0)
			fail_msg("after kill %ld slot %llu serves two participants", cr->kills,
			         (unsigned long long)sn[i].sn_slot);
	qsort(sn, n, sizeof(*sn), by_nik);
	for (size_t i = 1; i < n; i++)
		if (strcmp(sn[i].sn_nik, sn[i - 1].sn_nik) == 0 &&
		    sn[i].sn_slot != sn[i - 1].sn_slot)
			fail_msg("after kill %ld a participant has slots %llu and %llu", cr->kills,
			         (unsigned long long)sn[i - 1].sn_slot,
			         (unsigned long long)sn[i].sn_slot);
	cr->keys_checked = n;
	free(sn);
}

static void
check(struct crash *cr, int final)
{
	saksi_ledger *l;
	saksi_ledger_txn *t;
	saksi_verify_opts vo;
	saksi_verify_report vr;
	saksi_tlog_proof *tp = malloc(sizeof(*tp));
	struct rec **snap[NPROD];
	size_t nsnap[NPROD], total = 0;
	uint64_t size, events = 0;
	uint64_t *idx, last_alert_id = 0, gaps = 0;
	saksi_err e;

	for (size_t p = 0; p < NPROD; p++) {
		pthread_mutex_lock(&cr->prod[p].mu);
		nsnap[p] = cr->prod[p].nrecs;
		snap[p] = malloc((nsnap[p] + 1) * sizeof(**snap));
		if (nsnap[p] > 0)
			memcpy(snap[p], cr->prod[p].recs, nsnap[p] * sizeof(**snap));
		pthread_mutex_unlock(&cr->prod[p].mu);
		total += nsnap[p];
	}
	l = lf_open_ro(cr->ledger_dir);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	size = saksi_ledger_size(t);
	idx = malloc((total + 1) * sizeof(*idx));
	total = 0;
	for (size_t p = 0; p < NPROD; p++)
		for (size_t i = 0; i < nsnap[p]; i++) {
			if (!check_rec(cr, t, size, p, snap[p][i], tp, 0, final))
				cr->losses++;
			idx[total++] = snap[p][i]->index;
		}
	if (cr->losses == 0)
		keys_check(cr, t, snap, nsnap, total);
	if (final) {
		/* Distinct indices, and no event leaf that is not one of ours: exactly once. */
		for (uint64_t i = 0; i < size; i++) {
			uint8_t *leaf;
			size_t len;
			saksi_leaf lf;

			assert_int_equal(saksi_ledger_leaf(t, i, &leaf, &len), SAKSI_OK);
			assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
			events += lf.lf_kind == SAKSI_LEAF_EVENT;
			if (lf.lf_kind == SAKSI_LEAF_ALERT) {
				saksi_alert *a = malloc(sizeof(*a));

				/* Alert ids go on across restarts: never one raised twice. */
				assert_int_equal(saksi_alert_leaf_parse(lf.lf_body, lf.lf_body_len, a),
				                 SAKSI_OK);
				if (a->al_id <= last_alert_id)
					fail_msg("alert entry %llu has id %llu after id %llu",
					         (unsigned long long)i, (unsigned long long)a->al_id,
					         (unsigned long long)last_alert_id);
				gaps += a->al_id != last_alert_id + 1;
				last_alert_id = a->al_id;
				cr->alerts++;
				free(a);
			}
			free(leaf);
		}
	}
	saksi_ledger_abort(t);

	memset(&vo, 0, sizeof(vo));
	vo.vo_log = &cr->fx.v;
	vo.vo_keyring = cr->fx.kr;
	vo.vo_threads = 2;
	e = saksi_verify_ledger(l, &vo, &vr);
	if (e != SAKSI_OK)
		fail_msg("after kill %ld the ledger does not verify: %s (%s, entry %llu): %s",
		         cr->kills, saksi_strerror(e), saksi_verify_reason_name(vr.vr_reason),
		         (unsigned long long)vr.vr_index, vr.vr_message);
	assert_true(vr.vr_size >= size);

	if (final) {
		/* Sorting the indices finds an event receipted twice at two places. */
		for (size_t i = 1; i < total; i++) {
			uint64_t v = idx[i];
			size_t j = i;
			while (j > 0 && idx[j - 1] > v) {
				idx[j] = idx[j - 1];
				j--;
			}
			idx[j] = v;
		}
		for (size_t i = 1; i < total; i++)
			if (idx[i] == idx[i - 1])
				fail_msg("two receipted events share index %llu",
				         (unsigned long long)idx[i]);
		if (gaps > 0)
			printf("# alert ids skip %llu times in ledger order\n",
			       (unsigned long long)gaps);
		if (events != total)
			fail_msg("the ledger holds %llu events, the producers built %zu",
			         (unsigned long long)events, total);
		self_check(cr, l, snap[0], nsnap[0], tp);
	}
	saksi_ledger_close(l);
	cr->checks++;
	free(idx);
	free(tp);
	for (size_t p = 0; p < NPROD; p++)
		free(snap[p]);
	if (cr->losses > 0)
		fail_msg("%ld acknowledged events lost or changed (see LOSS lines)", cr->losses);
}

static void
any_fatal(struct crash *cr)
{
	for (size_t p = 0; p < NPROD; p++)
		if (atomic_load(&cr->prod[p].has_fatal))
			fail_msg("%s", cr->prod[p].fatal);
}

/*
 * After all the restarts, events picked at random are sent again, the same bytes: each is a
 * duplicate at its index, with the same receipt as the first time, byte for byte.
 */
static void
resubmit_check(struct crash *cr)
{
	saksi_client_opts co;
	saksi_client *c;
	const uint8_t *env[BATCH], *sealed[BATCH];
	size_t env_len[BATCH], sealed_len[BATCH];
	saksi_result res[BATCH];
	struct rec *picked[BATCH];

	memset(&co, 0, sizeof(co));
	co.co_url = cr->url;
	co.co_log = &cr->fx.v;
	co.co_timeout_ms = 30000;
	assert_int_equal(saksi_client_open(&co, &c), SAKSI_OK);
	for (size_t p = 0; p < NPROD; p++) {
		assert_true(cr->prod[p].nrecs > 0);
		for (size_t i = 0; i < BATCH; i++) {
			picked[i] = cr->prod[p].recs[rnd(cr) % cr->prod[p].nrecs];
			env[i] = picked[i]->env;
			env_len[i] = picked[i]->env_len;
			sealed[i] = picked[i]->sealed;
			sealed_len[i] = picked[i]->sealed_len;
		}
		memset(res, 0, sizeof(res));
		assert_int_equal(saksi_client_submit_raw(c, env, env_len, sealed, sealed_len, BATCH,
		                                         res), SAKSI_OK);
		for (size_t i = 0; i < BATCH; i++) {
			if (res[i].sr_code != SAKSI_R_DUPLICATE)
				fail_msg("producer %zu seq %llu sent again: code %d, %s", p,
				         (unsigned long long)picked[i]->seq, res[i].sr_code,
				         res[i].sr_message);
			assert_int_equal(res[i].sr_index, picked[i]->index);
			assert_non_null(res[i].sr_receipt);
			if (strcmp(res[i].sr_receipt, picked[i]->receipt) != 0)
				fail_msg("producer %zu seq %llu sent again: another receipt than the "
				         "first time:\n%s\nfirst:\n%s", p,
				         (unsigned long long)picked[i]->seq, res[i].sr_receipt,
				         picked[i]->receipt);
			saksi_result_clear(&res[i]);
		}
	}
	saksi_client_close(c);
}

/* What saksid said across its restarts, beyond its start lines: once per kind of line. */
static void
print_log_summary(struct crash *cr)
{
	char *log = fx_read(cr->errlog, NULL), *line, *save = NULL;
	size_t shown = 0;

	assert_non_null(log);
	for (line = strtok_r(log, "\n", &save); line != NULL && shown < 10;
	     line = strtok_r(NULL, "\n", &save)) {
		char *prev;
		int seen = 0;

		if (strstr(line, "info: started:") != NULL)
			continue;
		/* Only the first of lines that agree up to their first digit. */
		for (prev = log; prev < line && !seen; prev += strlen(prev) + 1)
			seen = strcspn(prev, "0123456789") == strcspn(line, "0123456789") &&
			       strncmp(prev, line, strcspn(line, "0123456789")) == 0;
		if (!seen) {
			printf("# %s\n", line);
			shown++;
		}
	}
	free(log);
}

static void
test_crash(void **state)
{
	struct crash *cr = *state;
	const char *env = getenv("SAKSI_CRASH_KILLS");
	long nkills = env != NULL ? strtol(env, NULL, 10) : DEFAULT_KILLS;
	long retries = 0, dups = 0;
	int st;

	assert_true(nkills >= 0);
	cr->pid = spawn(cr);
	wait_ready(cr);
	for (size_t p = 0; p < NPROD; p++)
		assert_int_equal(pthread_create(&cr->prod[p].th, NULL, producer, &cr->prod[p]), 0);

	for (cr->kills = 0; cr->kills < nkills;) {
		/* A random moment: after a random number of new receipts (0: at once, while the
		 * producers are still resending), then a random delay of up to 20 ms. */
		uint64_t target = atomic_load(&cr->receipts) + rnd(cr) % (3 * NPROD * BATCH + 1);
		long delay = (long)(rnd(cr) % 20000);
		int down = rnd(cr) % 3 == 0;
		int polls;

		for (polls = 0; polls < PROGRESS_POLLS; polls++) {
			if (atomic_load(&cr->receipts) >= target)
				break;
			any_fatal(cr);
			sleep_us(1000);
		}
		if (polls == PROGRESS_POLLS)
			fail_msg("no progress from the producers before kill %ld", cr->kills + 1);
		sleep_us(delay);
		assert_int_equal(kill(cr->pid, SIGKILL), 0);
		assert_int_equal(waitpid(cr->pid, &st, 0), cr->pid);
		cr->pid = -1;
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			fail_msg("saksid ended before kill %ld; see %s", cr->kills + 1, cr->errlog);
		cr->kills++;
		/* One time in three the daemon stays down past the client's timeout, so that
		 * requests fail and the producers resend them themselves; otherwise nanomsg's REQ
		 * resends a pending request to the new daemon within the same call. */
		if (down)
			sleep_us(1000L * CLIENT_TIMEOUT_MS + 100000);
		atomic_fetch_add(&cr->round, 1);
		cr->pid = spawn(cr);
		/* One restart in five is itself killed while saksid starts (opening the ledger,
		 * checking it, binding), the producers already resending. */
		while (cr->kills < nkills && rnd(cr) % 5 == 0) {
			sleep_us((long)(rnd(cr) % 30000));
			assert_int_equal(kill(cr->pid, SIGKILL), 0);
			assert_int_equal(waitpid(cr->pid, &st, 0), cr->pid);
			cr->pid = -1;
			if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
				fail_msg("saksid exited while starting; see %s", cr->errlog);
			cr->kills++;
			cr->startup_kills++;
			cr->pid = spawn(cr);
		}
		wait_ready(cr);
		pause_producers(cr, 1);
		check(cr, 0);
		any_fatal(cr);
		pause_producers(cr, 0);
	}

	/* The end: every producer finishes its batch in flight, then the final check. */
	atomic_store(&cr->stop, 1);
	for (size_t p = 0; p < NPROD; p++) {
		assert_int_equal(pthread_join(cr->prod[p].th, NULL), 0);
		cr->prod[p].th = 0;
	}
	any_fatal(cr);
	check(cr, 1);
	resubmit_check(cr);
	for (size_t p = 0; p < NPROD; p++) {
		retries += cr->prod[p].retries;
		dups += cr->prod[p].dups;
	}
	printf("# kills %ld (%ld of them while starting), receipts %llu, losses %ld, "
	       "duplicates seen %ld, requests resent %ld, checks %ld, alert entries %llu\n",
	       cr->kills, cr->startup_kills, (unsigned long long)atomic_load(&cr->receipts),
	       cr->losses, dups, retries, cr->checks, (unsigned long long)cr->alerts);
	printf("# the last check opened %zu receipted events' disclosures, each under its "
	       "participant's one data key\n", cr->keys_checked);
	assert_int_equal(cr->losses, 0);
	print_log_summary(cr);

	assert_int_equal(kill(cr->pid, SIGTERM), 0);
	assert_int_equal(waitpid(cr->pid, &st, 0), cr->pid);
	cr->pid = -1;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	cr->passed = 1;
}

static int
setup(void **state)
{
	struct crash *cr = calloc(1, sizeof(*cr));
	const char *env = getenv("SAKSI_TEST_SEED") != NULL ? getenv("SAKSI_TEST_SEED") :
	                  getenv("SAKSID_TEST_SEED");
	char seedbuf[32];
	uint64_t seed = env != NULL ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);

	printf("# crash seed %llu (set SAKSI_TEST_SEED to repeat)\n", (unsigned long long)seed);
	/* The fixture's keys follow the same seed. */
	snprintf(seedbuf, sizeof(seedbuf), "%llu", (unsigned long long)seed);
	setenv("SAKSID_TEST_SEED", seedbuf, 1);
	fx_init(&cr->fx, NPROD);
	cr->rng = seed;
	cr->pid = -1;
	dr_names(&cr->fx, cr->url, NULL, cr->conf, cr->errlog, cr->ledger_dir);
	/* Detection on (index.key), as saksi init sets it up: alert entries are committed in
	 * the same groups as the events the kills interrupt. */
	dr_save_keys(&cr->fx, DR_INDEX_KEY | DR_KEYRING);
	write_conf(cr);
	for (size_t p = 0; p < NPROD; p++) {
		cr->prod[p].cr = cr;
		cr->prod[p].t = p;
		cr->prod[p].next_seq = 1;
		pthread_mutex_init(&cr->prod[p].mu, NULL);
	}
	pthread_mutex_init(&cr->pmu, NULL);
	pthread_cond_init(&cr->pcv, NULL);
	*state = cr;
	return 0;
}

static int
teardown(void **state)
{
	struct crash *cr = *state;

	/* After a failed assertion: stop the producers and the daemon before freeing. */
	atomic_store(&cr->stop, 1);
	atomic_store(&cr->abandon, 1);
	pause_producers(cr, 0);
	for (size_t p = 0; p < NPROD; p++)
		if (cr->prod[p].th != 0)
			pthread_join(cr->prod[p].th, NULL);
	if (cr->pid > 0) {
		kill(cr->pid, SIGKILL);
		waitpid(cr->pid, NULL, 0);
	}
	for (size_t p = 0; p < NPROD; p++) {
		for (size_t i = 0; i < cr->prod[p].nrecs; i++) {
			free(cr->prod[p].recs[i]->env);
			free(cr->prod[p].recs[i]->sealed);
			free(cr->prod[p].recs[i]->receipt);
			free(cr->prod[p].recs[i]);
		}
		free(cr->prod[p].recs);
		pthread_mutex_destroy(&cr->prod[p].mu);
	}
	pthread_mutex_destroy(&cr->pmu);
	pthread_cond_destroy(&cr->pcv);
	if (!cr->passed) {
		/* Keep the state (ledger, saksid.log) of a failed run for whoever looks into it. */
		char keep[64], cmd[256];

		if (tmpdir_make(keep, sizeof(keep), "saksi-crash-kept") == 0) {
			snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/'", cr->fx.dir, keep);
			if (system(cmd) == 0)
				printf("# the failed run's state is kept in %s\n", keep);
		}
	}
	fx_free(&cr->fx);
	free(cr);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
