/*
 * server.c: the nanomsg front of saksid. A receiver thread frames requests, workers check
 * items on every core, one committer thread groups them and answers each request once
 * all of its items are decided. Memory is capped: a full queue answers `unavailable`, a
 * producer key over its share of items in flight `busy`. Never blocks the committer on a
 * slow client, never logs what a request carries.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <lmdb.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <sodium.h>

#include "bytes.h"
#include "envelope.h"
#include "note.h"
#include "remote.h"
#include "remoteq.h"
#include "server.h"
#include "wire.h"

#define CHUNK 8                           /* items a worker takes at once, at most */
#define RECV_POLL_MS 100                  /* how soon the receiver notices a stop */
#define MSG_CAP (2 * SAKSI_WIRE_MSG_MAX)  /* larger: nanomsg drops the connection */
#define LINGER_US 100000                  /* let the last replies leave before close */
#define KEY_BUCKETS 4096                  /* per-key load table; keyed hash, so chains stay
                                             short whatever key ids a flood claims */

/*
 * The stages a submission goes through, in order; with the trace on (so_trace) each is
 * stamped, so that a slow receipt can be blamed on the stage that held it.
 */
enum {
	T_RECV,      /* taken off the socket */
	T_QUEUED,    /* framed and in the queue */
	T_CLAIMED,   /* a worker took its first chunk */
	T_CHECKED,   /* its last item checked */
	T_GROUPED,   /* the committer took it into a group */
	T_CLOSED,    /* its group closed: the commit starts */
	T_COMMITTED, /* committed, synced, receipts built */
	T_SENT,      /* its answer handed to nanomsg */
	T__COUNT
};

struct req {
	struct req *r_next;
	void *r_msg;              /* nanomsg buffer (nn_freemsg) */
	size_t r_len;
	void *r_ctl;              /* control header: the route back to the requester */
	int r_op;
	size_t r_cost;            /* bytes counted against the queue cap */
	size_t r_count;           /* items (submit) */
	size_t r_claimed;         /* items handed to workers; under s_mu */
	size_t r_share;           /* items a worker takes of it at once (1..CHUNK) */
	size_t r_checked;         /* items checked; under s_mu */
	saksid_remote_answer *r_q; /* op 7 with an access entry: the rows waiting for it */
	uint64_t r_gen;           /* keyring generation its first chunk was checked under */
	uint64_t r_t[T__COUNT];   /* stage times (trace on only), CLOCK_MONOTONIC ns */
	/* Answered by the syncer (sync_main): its group's ticket and size, and the reply
	 * built by the committer while the receipts were there. */
	uint64_t r_ticket;
	size_t r_gitems;
	uint8_t *r_reply;         /* nn_allocmsg */
	size_t r_reply_len;
	saksid_item r_items[];
};

/* Items in flight of one producer key, as claimed by the envelopes' bytes. */
struct keyload {
	struct keyload *k_next;
	uint8_t k_id[SAKSI_KEYID_LEN];
	size_t k_items;
};

/* One submission's passage, kept by the trace. */
struct trace_rec {
	uint64_t tr_t[T__COUNT];
	uint32_t tr_items;
	uint32_t tr_gitems;       /* items in its group */
};

/*
 * One keyring in force and the checking context made on it (keyreload.h). The workers
 * take the current one under s_mu for each chunk (kg_users counts them); a generation
 * replaced by a reload is freed by its last user, or at once if it has none.
 */
struct kgen {
	saksid_ingest *kg_ig;
	saksi_keyring *kg_kr;     /* a reload's, ours; NULL for the start's (the caller's) */
	int kg_owned;             /* 1: kg_ig is ours (a reload's, or so_ingest_owned) */
	uint64_t kg_gen;
	size_t kg_users;          /* workers checking with it now; under s_mu */
};

/* A reload handed to the committer thread (saksid_server_keyring_swap). */
struct swap {
	struct kgen *w_kg;
	const uint8_t *const *w_bodies;
	const size_t *w_lens;
	size_t w_n;
	uint64_t w_now_ms;
	uint64_t w_index;
	saksi_err w_err;
	int w_done;
};

/* Busy refusals not yet handed to the committer (it counts them with its next group). */
struct busy {
	uint8_t b_id[SAKSI_KEYID_LEN];
	uint64_t b_n, b_first, b_last;
};

struct saksid_server {
	saksid_server_opts s_o;
	int s_sock;
	atomic_int s_stop;

	pthread_mutex_t s_mu;
	pthread_cond_t s_cv_work;     /* workers: new items or read requests */
	pthread_cond_t s_cv_commit;   /* committer: a request is fully checked */
	struct req *s_head, *s_tail;  /* submits, arrival order */
	struct req *s_claim;          /* first submit with unclaimed items */
	size_t s_unclaimed;           /* items queued and not yet handed to a worker */
	struct req *s_rhead, *s_rtail; /* read requests */
	size_t s_nreq, s_bytes;
	saksid_server_stats s_stats;

	pthread_t s_recv, s_commit, *s_workers;
	unsigned s_nworkers;
	int s_recv_up, s_commit_up;

	/*
	 * The syncer (sync_main): groups committed with their meta page not yet synced
	 * (saksid_commit_ticket), in commit order, answered once it is. Under s_smu.
	 */
	pthread_t s_sync;
	int s_sync_up, s_sync_stop;
	pthread_mutex_t s_smu;
	pthread_cond_t s_cv_sync;
	struct req *s_shead, *s_stail;
	uint64_t s_handed;            /* the newest ticket handed to it (committer only) */

	/* Back-pressure, under s_mu. */
	struct keyload *s_keys[KEY_BUCKETS];
	size_t s_nkeys;
	uint8_t s_hkey[crypto_shorthash_KEYBYTES];
	uint64_t s_group_ms;          /* how long the last group took */
	struct busy s_busy[SAKSID_COMMIT_EXTRA_MAX];
	size_t s_nbusy;
	uint64_t s_started_ms;
	MDB_dbi s_dbi_stat, s_dbi_seq, s_dbi_seqmax; /* opened at start, for the status op */
	int s_have_dbi;

	saksid_remote *s_remote;      /* op 7; NULL: remote queries are off */
	uint64_t s_access_seq;        /* the access key's last sequence number; under s_mu */

	/* The stage trace (so_trace): a ring the committer writes, under s_tmu. */
	pthread_mutex_t s_tmu;
	struct trace_rec *s_trace;
	uint64_t s_tn;                /* records written since the last reset */
	uint64_t s_tgroups, s_tclose[SAKSID_TC__COUNT];
	int s_close;                  /* committer only: why its group closed */

	saksid_item **s_group;        /* committer only */

	/* The keyring in force (struct kgen): written by the committer thread alone, under
	 * s_mu; s_swap is a reload waiting for it, s_cv_swap its caller's wake-up. */
	struct kgen *s_kg;
	struct swap *s_swap;
	pthread_cond_t s_cv_swap;
	char *s_kr_info;              /* the status op's "keyring" member; under s_mu */
	uint64_t s_log_ms;            /* committer only: last refusal log line */
	uint64_t s_log_refused[SAKSI_R__COUNT];
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* Stamps stage k of r when the trace is on. */
static void
stamp(const saksid_server *s, struct req *r, int k)
{
	if (s->s_o.so_trace > 0)
		r->r_t[k] = mono_ns();
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sends body to the requester behind ctl; takes ownership of msg (an nn_allocmsg buffer)
 * and ctl whatever happens. Never waits: a client that does not read loses its reply
 * and, after its own timeout, resubmits (and gets duplicates' receipts). */
static void
send_msg(saksid_server *s, void *ctl, void *msg, size_t len)
{
	struct nn_iovec iov;
	struct nn_msghdr hdr;

	iov.iov_base = &msg;
	iov.iov_len = NN_MSG;
	memset(&hdr, 0, sizeof(hdr));
	hdr.msg_iov = &iov;
	hdr.msg_iovlen = 1;
	hdr.msg_control = &ctl;
	hdr.msg_controllen = NN_MSG;
	(void)len;
	if (nn_sendmsg(s->s_sock, &hdr, NN_DONTWAIT) < 0) {
		nn_freemsg(msg);
		if (ctl != NULL)
			nn_freemsg(ctl);
	}
}

/* A whole-request answer: status and a body (for a failure, one line of English). */
static void
reply(saksid_server *s, void *ctl, int op, int status, const void *body, size_t blen)
{
	uint8_t *m;

	if ((m = nn_allocmsg(3 + blen, 0)) == NULL) {
		if (ctl != NULL)
			nn_freemsg(ctl);
		return;
	}
	m[0] = SAKSI_WIRE_VERSION;
	m[1] = (uint8_t)op;
	m[2] = (uint8_t)status;
	if (blen > 0)
		memcpy(m + 3, body, blen);
	send_msg(s, ctl, m, 3 + blen);
}

static void
reply_text(saksid_server *s, void *ctl, int op, int status, const char *text)
{
	reply(s, ctl, op, status, text, strlen(text));
}

static void
req_free(struct req *r)
{
	for (size_t i = 0; i < r->r_count; i++)
		saksid_item_clear(&r->r_items[i]);
	if (r->r_msg != NULL)
		nn_freemsg(r->r_msg);
	if (r->r_ctl != NULL)
		nn_freemsg(r->r_ctl);
	if (r->r_reply != NULL)
		nn_freemsg(r->r_reply);
	if (r->r_q != NULL) {
		saksid_remote_answer_clear(r->r_q);
		free(r->r_q);
	}
	free(r);
}

static void
kgen_free(struct kgen *kg)
{
	if (kg == NULL)
		return;
	/* The ingest context wipes the disclosure keys (sodium_free). */
	if (kg->kg_owned)
		saksid_ingest_free(kg->kg_ig);
	saksi_keyring_free(kg->kg_kr);
	free(kg);
}

/* ---- per-key load (s_mu held) ---- */

/* The key id an item claims (its envelope's bytes 2..10), zero if it has none. */
static void
item_key(const saksid_item *it, uint8_t id[SAKSI_KEYID_LEN])
{
	if (it->it_env != NULL && it->it_env_len >= 2 + SAKSI_KEYID_LEN)
		memcpy(id, it->it_env + 2, SAKSI_KEYID_LEN);
	else
		memset(id, 0, SAKSI_KEYID_LEN);
}

static struct keyload **
key_slot(saksid_server *s, const uint8_t id[SAKSI_KEYID_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];
	struct keyload **kp;

	crypto_shorthash(h, id, SAKSI_KEYID_LEN, s->s_hkey);
	kp = &s->s_keys[saksi_get_u64(h) % KEY_BUCKETS];
	while (*kp != NULL && memcmp((*kp)->k_id, id, SAKSI_KEYID_LEN) != 0)
		kp = &(*kp)->k_next;
	return kp;
}

static size_t
key_items(saksid_server *s, const uint8_t id[SAKSI_KEYID_LEN])
{
	struct keyload *k = *key_slot(s, id);

	return k != NULL ? k->k_items : 0;
}

/* Is item i the first of its request with its key? Then it speaks for the key. */
static size_t
key_first(const struct req *r, size_t i, uint8_t id[SAKSI_KEYID_LEN])
{
	uint8_t other[SAKSI_KEYID_LEN];
	size_t n = 0;

	item_key(&r->r_items[i], id);
	for (size_t j = 0; j < i; j++) {
		item_key(&r->r_items[j], other);
		if (memcmp(other, id, SAKSI_KEYID_LEN) == 0)
			return 0;
	}
	for (size_t j = i; j < r->r_count; j++) {
		item_key(&r->r_items[j], other);
		n += memcmp(other, id, SAKSI_KEYID_LEN) == 0;
	}
	return n;
}

/*
 * The first key of r that would go over its share, or -1. A lone request larger than
 * the share is let in when its key has nothing in flight: a batch is never refused for
 * good.
 */
static long
key_over(saksid_server *s, const struct req *r, uint8_t id[SAKSI_KEYID_LEN], size_t *have)
{
	for (size_t i = 0; i < r->r_count; i++) {
		size_t n = key_first(r, i, id);

		if (n == 0)
			continue;
		*have = key_items(s, id);
		if (*have > 0 && *have + n > s->s_o.so_key_inflight)
			return (long)n;
	}
	return -1;
}

/* Adds (sign 1) or takes back (sign -1) r's items from their keys' loads. */
static int
key_load(saksid_server *s, const struct req *r, int sign)
{
	uint8_t id[SAKSI_KEYID_LEN];
	struct keyload **kp, *k;

	for (size_t i = 0; i < r->r_count; i++) {
		size_t n = key_first(r, i, id);

		if (n == 0)
			continue;
		kp = key_slot(s, id);
		if (sign > 0) {
			if (*kp == NULL) {
				if ((k = calloc(1, sizeof(*k))) == NULL) {
					/* Undo what this request added so far. */
					for (size_t j = 0; j < i; j++) {
						size_t m = key_first(r, j, id);
						if (m > 0)
							(*key_slot(s, id))->k_items -= m;
					}
					return -1;
				}
				memcpy(k->k_id, id, SAKSI_KEYID_LEN);
				*kp = k;
				s->s_nkeys++;
			}
			(*kp)->k_items += n;
		} else if ((k = *kp) != NULL) {
			k->k_items -= n < k->k_items ? n : k->k_items;
			if (k->k_items == 0) {
				*kp = k->k_next;
				free(k);
				s->s_nkeys--;
			}
		}
	}
	return 0;
}

/* Notes n items of key id refused as busy, for the committer's next group. */
static void
busy_note(saksid_server *s, const uint8_t id[SAKSI_KEYID_LEN], uint64_t n, uint64_t now)
{
	static const uint8_t zero[SAKSI_KEYID_LEN];
	size_t i;

	for (i = 0; i < s->s_nbusy; i++)
		if (memcmp(s->s_busy[i].b_id, id, SAKSI_KEYID_LEN) == 0)
			break;
	if (i == s->s_nbusy && s->s_nbusy == SAKSID_COMMIT_EXTRA_MAX) {
		/* Full: the last slot holds the zero key id, for the rest. */
		i = SAKSID_COMMIT_EXTRA_MAX - 1;
		id = zero;
		if (memcmp(s->s_busy[i].b_id, zero, SAKSI_KEYID_LEN) != 0) {
			memcpy(s->s_busy[i].b_id, zero, SAKSI_KEYID_LEN);
			/* What the slot held stays counted, now under the zero key id. */
		}
	}
	if (i == s->s_nbusy) {
		memcpy(s->s_busy[i].b_id, id, SAKSI_KEYID_LEN);
		s->s_busy[i].b_n = 0;
		s->s_busy[i].b_first = now;
		s->s_nbusy++;
	}
	s->s_busy[i].b_n += n;
	s->s_busy[i].b_last = now;
}

/* Gives back a finished request's share of the queue caps and of its keys. */
static void
req_release(saksid_server *s, struct req *r)
{
	pthread_mutex_lock(&s->s_mu);
	s->s_nreq--;
	s->s_bytes -= r->r_cost;
	if (r->r_op == SAKSI_OP_SUBMIT)
		(void)key_load(s, r, -1);
	pthread_mutex_unlock(&s->s_mu);
}

static void
req_done(saksid_server *s, struct req *r)
{
	req_release(s, r);
	req_free(r);
}

/*
 * Queues submission r for the workers and wakes as many as it has chunks (s_mu held).
 * A submission shares itself out when the workers have little else to do: a batch
 * alone in the queue is checked on every core, not serially on one, since its receipt
 * waits for its last item. A deep queue keeps whole chunks (fewer trips to the lock).
 */
static void
submit_enqueue(saksid_server *s, struct req *r)
{
	size_t nw = s->s_o.so_workers, chunks;

	if (s->s_tail != NULL)
		s->s_tail->r_next = r;
	else
		s->s_head = r;
	s->s_tail = r;
	if (s->s_claim == NULL)
		s->s_claim = r;
	s->s_unclaimed += r->r_count;
	r->r_share = (s->s_unclaimed + nw - 1) / nw;
	if (r->r_share > CHUNK)
		r->r_share = CHUNK;
	if (r->r_share == 0)
		r->r_share = 1;
	chunks = (r->r_count + r->r_share - 1) / r->r_share;
	/* One waiter per chunk: a woken worker that finds nothing is a wasted switch on
	 * a machine whose cores the committer needs. */
	if (chunks >= nw)
		pthread_cond_broadcast(&s->s_cv_work);
	else
		for (size_t i = 0; i < chunks; i++)
			pthread_cond_signal(&s->s_cv_work);
}

/* ---- receiver ---- */

static void on_status(saksid_server *s, void *ctl);

/* Counts a request refused as a whole with status st (s_mu held). */
static void
count_refused(saksid_server *s, int st, size_t items)
{
	s->s_stats.ss_requests++;
	if (st >= 0 && st < SAKSI_R__COUNT) {
		s->s_stats.ss_req_refused[st]++;
		s->s_stats.ss_req_refused_items[st] += items;
	}
}

static void
on_message(saksid_server *s, uint8_t *m, size_t len, void *ctl, uint64_t t_recv)
{
	struct req *r;
	char msg[SAKSID_MSG_MAX];
	uint8_t kid[SAKSI_KEYID_LEN];
	size_t count = 0, cost, need = 0, have = 0;
	long over;
	int op = len >= 2 ? m[1] : 0, st = SAKSI_R_PARSE;

	if (len < 2 || m[0] != SAKSI_WIRE_VERSION) {
		reply_text(s, ctl, op, SAKSI_R_PARSE, len < 2 ? "request shorter than its header"
		                                            : "unknown request version");
		goto bad;
	}
	if (len > SAKSI_WIRE_MSG_MAX) {
		reply_text(s, ctl, op, SAKSI_R_SIZE, "request larger than 4 MiB");
		st = SAKSI_R_SIZE;
		goto bad;
	}
	switch (op) {
	case SAKSI_OP_SUBMIT:
		st = saksid_submit_count(m + 2, len - 2, &count, msg, sizeof(msg));
		if (st != SAKSI_R_ACCEPTED) {
			reply_text(s, ctl, op, st, msg);
			goto bad;
		}
		break;
	case SAKSI_OP_CHECKPOINT: need = 0; break;
	case SAKSI_OP_INCLUSION: need = 16; break;
	case SAKSI_OP_CONSISTENCY: need = 16; break;
	case SAKSI_OP_GET: need = 8; break;
	case SAKSI_OP_STATUS: need = 0; break;
	case SAKSI_OP_QUERY: need = len - 2; break;   /* parsed by a worker (remote.h) */
	default:
		reply_text(s, ctl, op, SAKSI_R_PARSE, "unknown op");
		goto bad;
	}
	if (op != SAKSI_OP_SUBMIT && len - 2 != need) {
		snprintf(msg, sizeof(msg), "op %d takes a %zu-byte body", op, need);
		reply_text(s, ctl, op, SAKSI_R_PARSE, msg);
		goto bad;
	}
	if (op == SAKSI_OP_STATUS) {
		/* Answered here, ahead of any queue: an operator sees a flood while it lasts. */
		nn_freemsg(m);
		on_status(s, ctl);
		return;
	}

	cost = sizeof(*r) + count * (sizeof(saksid_item) + sizeof(struct keyload));
	if ((r = malloc(cost)) == NULL) {
		reply_text(s, ctl, op, SAKSI_R_UNAVAILABLE, "saksid is out of memory; retry later");
		goto busy;
	}
	memset(r, 0, sizeof(*r));
	r->r_msg = m;
	r->r_len = len;
	r->r_op = op;
	r->r_count = count;
	r->r_cost = cost + len;
	if (op == SAKSI_OP_SUBMIT) {
		st = saksid_submit_frame(m + 2, len - 2, r->r_items, count, now_ms(), msg,
		                         sizeof(msg));
		if (st != SAKSI_R_ACCEPTED) {
			r->r_msg = NULL;
			r->r_count = 0;
			free(r);
			reply_text(s, ctl, op, st, msg);
			goto bad;
		}
	}
	r->r_ctl = ctl;
	r->r_t[T_RECV] = t_recv;
	st = SAKSI_R_UNAVAILABLE;

	pthread_mutex_lock(&s->s_mu);
	if (op == SAKSI_OP_SUBMIT && (over = key_over(s, r, kid, &have)) >= 0) {
		/* Over its share: this producer waits, the others go on. The hint is the time
		 * of one commit group, what it takes for its items in flight to move. */
		uint64_t now = now_ms(), after = s->s_group_ms + 10;

		count_refused(s, SAKSI_R_BUSY, count);
		s->s_stats.ss_busy++;
		busy_note(s, kid, (uint64_t)over, now);
		for (size_t i = 0; i < count; i++) {
			uint8_t id[SAKSI_KEYID_LEN];
			size_t n = key_first(r, i, id);
			if (n > 0 && memcmp(id, kid, SAKSI_KEYID_LEN) != 0)
				busy_note(s, id, n, now);
		}
		pthread_mutex_unlock(&s->s_mu);
		snprintf(msg, sizeof(msg), "saksid is busy with %zu items in flight from this "
		         "producer key (its share is %u); retry after %llu ms", have,
		         s->s_o.so_key_inflight, (unsigned long long)after);
		r->r_ctl = NULL;
		r->r_msg = NULL;
		r->r_count = 0;
		free(r);
		reply_text(s, ctl, op, SAKSI_R_BUSY, msg);
		nn_freemsg(m);
		return;
	}
	if (s->s_nreq >= s->s_o.so_queue_reqs ||
	    s->s_bytes + r->r_cost > s->s_o.so_queue_bytes ||
	    (op == SAKSI_OP_SUBMIT && key_load(s, r, 1) != 0)) {
		s->s_stats.ss_busy++;
		count_refused(s, SAKSI_R_UNAVAILABLE, count);
		pthread_mutex_unlock(&s->s_mu);
		r->r_ctl = NULL;
		r->r_msg = NULL;
		r->r_count = 0;
		free(r);
		reply_text(s, ctl, op, SAKSI_R_UNAVAILABLE, "saksid is busy; retry later");
		nn_freemsg(m);
		return;
	}
	s->s_stats.ss_requests++;
	s->s_nreq++;
	s->s_bytes += r->r_cost;
	stamp(s, r, T_QUEUED);
	if (op == SAKSI_OP_SUBMIT)
		submit_enqueue(s, r);
	else {
		if (s->s_rtail != NULL)
			s->s_rtail->r_next = r;
		else
			s->s_rhead = r;
		s->s_rtail = r;
		pthread_cond_signal(&s->s_cv_work);
	}
	pthread_mutex_unlock(&s->s_mu);
	return;

bad:
	pthread_mutex_lock(&s->s_mu);
	count_refused(s, st, count);
	s->s_stats.ss_bad++;
	pthread_mutex_unlock(&s->s_mu);
	nn_freemsg(m);
	return;
busy:
	pthread_mutex_lock(&s->s_mu);
	count_refused(s, SAKSI_R_UNAVAILABLE, count);
	s->s_stats.ss_busy++;
	pthread_mutex_unlock(&s->s_mu);
	nn_freemsg(m);
}

static void *
recv_main(void *arg)
{
	saksid_server *s = arg;

	while (!atomic_load(&s->s_stop)) {
		void *m = NULL, *ctl = NULL;
		struct nn_iovec iov;
		struct nn_msghdr hdr;
		int rc;

		iov.iov_base = &m;
		iov.iov_len = NN_MSG;
		memset(&hdr, 0, sizeof(hdr));
		hdr.msg_iov = &iov;
		hdr.msg_iovlen = 1;
		hdr.msg_control = &ctl;
		hdr.msg_controllen = NN_MSG;
		rc = nn_recvmsg(s->s_sock, &hdr, 0);
		if (rc < 0) {
			int e = nn_errno();
			if (e == ETIMEDOUT || e == EAGAIN || e == EINTR)
				continue;
			if (e == EBADF || e == ETERM)
				break;
			saksid_logf(s->s_o.so_log, LOG_WARNING, "receive failed: %s",
			            nn_strerror(e));
			usleep(10000);
			continue;
		}
		on_message(s, m, (size_t)rc, ctl, s->s_o.so_trace > 0 ? mono_ns() : 0);
	}
	return NULL;
}

/* ---- workers: item checks and read requests ---- */

static void
read_op(saksid_server *s, struct req *r)
{
	const uint8_t *b = (const uint8_t *)r->r_msg + 2;
	saksi_ledger_txn *txn = NULL;
	saksi_tlog_proof *p = NULL;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
	uint8_t *leaf = NULL, *out = NULL;
	char *note = NULL, msg[SAKSID_MSG_MAX];
	size_t note_len = 0, leaf_len, np, outlen = 0;
	uint64_t a, z, size, ck_size;
	saksi_err e;
	void *ctl = r->r_ctl;

	r->r_ctl = NULL;
	if ((e = saksi_ledger_begin(s->s_o.so_ledger, 0, &txn)) != SAKSI_OK)
		goto ledger_fail;
	size = saksi_ledger_size(txn);
	switch (r->r_op) {
	case SAKSI_OP_CHECKPOINT:
		e = saksi_ledger_ckpt_latest(txn, &ck_size, &note, &note_len);
		if (e == SAKSI_ERR_NOT_FOUND) {
			reply_text(s, ctl, r->r_op, SAKSI_R_UNAVAILABLE, "the log has no checkpoint "
			           "yet");
			goto out;
		}
		if (e != SAKSI_OK)
			goto ledger_fail;
		reply(s, ctl, r->r_op, SAKSI_R_ACCEPTED, note, note_len);
		goto out;
	case SAKSI_OP_INCLUSION:
		a = saksi_get_u64(b);
		z = saksi_get_u64(b + 8);
		/* size 0: the latest checkpoint. Otherwise one must exist at exactly z: a
		 * proof is only worth something against a signed tree head. */
		if (z == 0)
			e = saksi_ledger_ckpt_latest(txn, &ck_size, &note, &note_len);
		else {
			ck_size = z;
			e = saksi_ledger_ckpt_get(txn, z, &note, &note_len);
		}
		if (e == SAKSI_ERR_NOT_FOUND) {
			snprintf(msg, sizeof(msg), "no signed checkpoint of size %llu",
			         (unsigned long long)z);
			reply_text(s, ctl, r->r_op, SAKSI_R_PARSE, msg);
			goto out;
		}
		if (e != SAKSI_OK)
			goto ledger_fail;
		if (note_len > SAKSI_NOTE_MAX) {
			e = SAKSI_ERR_CORRUPT;
			goto ledger_fail;
		}
		if (a >= ck_size) {
			snprintf(msg, sizeof(msg), "index %llu is not below size %llu",
			         (unsigned long long)a, (unsigned long long)ck_size);
			reply_text(s, ctl, r->r_op, SAKSI_R_PARSE, msg);
			goto out;
		}
		if ((p = calloc(1, sizeof(*p))) == NULL) {
			e = SAKSI_ERR_NOMEM;
			goto ledger_fail;
		}
		if ((e = saksi_ledger_leaf(txn, a, &leaf, &leaf_len)) != SAKSI_OK)
			goto ledger_fail;
		if (leaf_len < SAKSI_LEAF_HDR) {
			e = SAKSI_ERR_CORRUPT;
			goto ledger_fail;
		}
		memcpy(p->tp_extra, leaf, SAKSI_LEAF_HDR);
		p->tp_extra_len = SAKSI_LEAF_HDR;
		p->tp_has_extra = 1;
		p->tp_index = a;
		memcpy(p->tp_note, note, note_len);
		p->tp_note_len = note_len;
		e = saksi_ledger_prove_inclusion(txn, a, ck_size, p->tp_proof, &p->tp_proof_len);
		if (e != SAKSI_OK)
			goto ledger_fail;
		outlen = SAKSI_NOTE_MAX + SAKSI_MERKLE_MAX_PROOF * 48 + 512;
		if ((out = malloc(outlen)) == NULL) {
			e = SAKSI_ERR_NOMEM;
			goto ledger_fail;
		}
		if ((e = saksi_tlog_proof_format(p, (char *)out, outlen, &outlen)) != SAKSI_OK)
			goto ledger_fail;
		reply(s, ctl, r->r_op, SAKSI_R_ACCEPTED, out, outlen);
		goto out;
	case SAKSI_OP_CONSISTENCY:
		a = saksi_get_u64(b);
		z = saksi_get_u64(b + 8);
		if (a == 0 || a > z || z > size) {
			snprintf(msg, sizeof(msg), "sizes %llu and %llu are not 0 < m <= n <= %llu",
			         (unsigned long long)a, (unsigned long long)z,
			         (unsigned long long)size);
			reply_text(s, ctl, r->r_op, SAKSI_R_PARSE, msg);
			goto out;
		}
		if ((e = saksi_ledger_prove_consistency(txn, a, z, proof, &np)) != SAKSI_OK)
			goto ledger_fail;
		if ((out = malloc(1 + np * SAKSI_HASH_LEN)) == NULL) {
			e = SAKSI_ERR_NOMEM;
			goto ledger_fail;
		}
		out[0] = (uint8_t)np;
		for (size_t i = 0; i < np; i++)
			memcpy(out + 1 + i * SAKSI_HASH_LEN, proof[i], SAKSI_HASH_LEN);
		reply(s, ctl, r->r_op, SAKSI_R_ACCEPTED, out, 1 + np * SAKSI_HASH_LEN);
		goto out;
	case SAKSI_OP_GET:
		a = saksi_get_u64(b);
		if (a >= size) {
			snprintf(msg, sizeof(msg), "index %llu is not below size %llu",
			         (unsigned long long)a, (unsigned long long)size);
			reply_text(s, ctl, r->r_op, SAKSI_R_PARSE, msg);
			goto out;
		}
		if ((e = saksi_ledger_leaf(txn, a, &leaf, &leaf_len)) != SAKSI_OK)
			goto ledger_fail;
		reply(s, ctl, r->r_op, SAKSI_R_ACCEPTED, leaf, leaf_len);
		goto out;
	default:
		abort();   /* on_message let only known ops through */
	}

ledger_fail:
	saksid_logf(s->s_o.so_log, LOG_ERR, "op %d: %s", r->r_op, saksi_strerror(e));
	snprintf(msg, sizeof(msg), "ledger error (%s); retry later", saksi_strerror(e));
	reply_text(s, ctl, r->r_op, SAKSI_R_UNAVAILABLE, msg);
out:
	if (txn != NULL)
		saksi_ledger_abort(txn);
	free(note);
	free(leaf);
	free(out);
	free(p);
}

/*
 * The keyring in force, taken for a remote query (kg_users, as a worker's chunk), so
 * that adding, revoking or removing a key or changing its role takes effect for queries
 * at the reload, as for events; kgen_put gives it back. The start's generation has no
 * keyring of its own: the caller's (so_keyring) is the one it was made on.
 */
static struct kgen *
kgen_take(saksid_server *s, const saksi_keyring **kr)
{
	struct kgen *kg;

	pthread_mutex_lock(&s->s_mu);
	kg = s->s_kg;
	kg->kg_users++;
	pthread_mutex_unlock(&s->s_mu);
	*kr = kg->kg_kr != NULL ? kg->kg_kr : s->s_o.so_keyring;
	return kg;
}

static void
kgen_put(saksid_server *s, struct kgen *kg)
{
	pthread_mutex_lock(&s->s_mu);
	if (--kg->kg_users == 0 && kg != s->s_kg)
		kgen_free(kg);   /* replaced by a reload while the query used it */
	pthread_mutex_unlock(&s->s_mu);
}

/*
 * Op 7 (remote.h): refused, answered at once, or (a personal look) its access entry
 * queued for the committer as a request of its own, answered once committed.
 */
static void
query_op(saksid_server *s, struct req *r)
{
	saksid_remote_answer *a;
	struct req *q;
	uint8_t env[SAKSI_ENV_MAX];
	size_t elen;
	uint64_t now = now_ms(), qgen;
	void *ctl = r->r_ctl;
	struct kgen *kg;
	const saksi_keyring *kr;

	r->r_ctl = NULL;
	if (s->s_remote == NULL) {
		reply_text(s, ctl, SAKSI_OP_QUERY, SAKSI_R_UNAVAILABLE, "this saksid answers no "
		           "remote queries (its config has no access_key)");
		goto refused;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		reply_text(s, ctl, SAKSI_OP_QUERY, SAKSI_R_UNAVAILABLE, "saksid is out of memory; "
		           "retry later");
		goto refused;
	}
	kg = kgen_take(s, &kr);
	qgen = kg->kg_gen;
	saksid_remote_handle_kr(s->s_remote, kr, (const uint8_t *)r->r_msg + 2, r->r_len - 2,
	                        now, a);
	kgen_put(s, kg);
	if (a->ra_status != 0) {
		reply_text(s, ctl, SAKSI_OP_QUERY, a->ra_status, a->ra_msg);
		saksid_remote_answer_clear(a);
		free(a);
		goto refused;
	}
	if (a->ra_access == NULL) {
		reply(s, ctl, SAKSI_OP_QUERY, SAKSI_R_ACCEPTED, a->ra_reply, a->ra_reply_len);
		saksid_remote_answer_clear(a);
		free(a);
		pthread_mutex_lock(&s->s_mu);
		s->s_stats.ss_queries++;
		pthread_mutex_unlock(&s->s_mu);
		return;
	}
	/* The access entry goes through the same checks and commit as any event; its
	 * sequence number is taken, and the entry queued, under one lock, so that entries
	 * reach the committer in the order of their numbers. */
	if ((q = calloc(1, sizeof(*q) + sizeof(saksid_item))) == NULL)
		goto nomem;
	q->r_op = SAKSI_OP_QUERY;
	q->r_count = 1;
	q->r_q = a;
	q->r_gen = qgen;   /* the query's generation, kept by the worker (recheck) */
	q->r_ctl = ctl;
	pthread_mutex_lock(&s->s_mu);
	if (saksid_remote_envelope(s->s_remote, a, s->s_access_seq + 1, now, env, sizeof(env),
	                           &elen) != SAKSI_OK ||
	    (q->r_msg = nn_allocmsg(elen, 0)) == NULL) {
		pthread_mutex_unlock(&s->s_mu);
		q->r_ctl = NULL;
		q->r_q = NULL;
		req_free(q);
		goto nomem;
	}
	s->s_access_seq++;
	memcpy(q->r_msg, env, elen);
	q->r_len = elen;
	q->r_cost = sizeof(*q) + sizeof(saksid_item) + elen;
	q->r_items[0].it_env = q->r_msg;
	q->r_items[0].it_env_len = elen;
	q->r_items[0].it_recv_ms = now;
	stamp(s, q, T_RECV);
	q->r_t[T_QUEUED] = q->r_t[T_RECV];
	s->s_nreq++;
	s->s_bytes += q->r_cost;
	submit_enqueue(s, q);
	pthread_mutex_unlock(&s->s_mu);
	return;
nomem:
	saksid_remote_answer_clear(a);
	free(a);
	reply_text(s, ctl, SAKSI_OP_QUERY, SAKSI_R_UNAVAILABLE, "saksid is out of memory; "
	           "retry later");
refused:
	pthread_mutex_lock(&s->s_mu);
	s->s_stats.ss_query_refused++;
	pthread_mutex_unlock(&s->s_mu);
}

/*
 * The ingest workers run this much nicer than the other threads: every event passes
 * through the one committer thread, and while it waits for a core behind a worker the
 * whole queue waits with it (docs/performance.md, "The committer's cost"). Only lowers the
 * priority, which needs no privilege; a failure changes nothing else.
 */
#define WORKER_NICE 5

static void
worker_nice(void)
{
	pid_t tid = gettid();
	int base;

	errno = 0;
	base = getpriority(PRIO_PROCESS, (id_t)tid);
	if (base == -1 && errno != 0)
		return;
	(void)setpriority(PRIO_PROCESS, (id_t)tid, base + WORKER_NICE > 19 ? 19 :
	                  base + WORKER_NICE);
}

static void *
worker_main(void *arg)
{
	saksid_server *s = arg;
	struct req *r;
	struct kgen *kg;
	size_t first, k;

	worker_nice();
	pthread_mutex_lock(&s->s_mu);
	for (;;) {
		while (!atomic_load(&s->s_stop) && s->s_rhead == NULL && s->s_claim == NULL)
			pthread_cond_wait(&s->s_cv_work, &s->s_mu);
		if (atomic_load(&s->s_stop))
			break;
		if ((r = s->s_rhead) != NULL) {
			s->s_rhead = r->r_next;
			if (s->s_rhead == NULL)
				s->s_rtail = NULL;
			pthread_mutex_unlock(&s->s_mu);
			if (r->r_op == SAKSI_OP_QUERY)
				query_op(s, r);
			else
				read_op(s, r);
			req_done(s, r);
			pthread_mutex_lock(&s->s_mu);
			continue;
		}
		r = s->s_claim;
		first = r->r_claimed;
		if (first == 0)
			stamp(s, r, T_CLAIMED);
		k = r->r_count - first < r->r_share ? r->r_count - first : r->r_share;
		r->r_claimed += k;
		s->s_unclaimed -= k;
		if (r->r_claimed == r->r_count)
			s->s_claim = r->r_next;
		/* The keyring in force now; chunks claimed later can only have a newer one,
		 * so the first chunk's generation says whether the request is stale. */
		kg = s->s_kg;
		kg->kg_users++;
		if (first == 0 && r->r_op != SAKSI_OP_QUERY)
			r->r_gen = kg->kg_gen;
		pthread_mutex_unlock(&s->s_mu);

		uint64_t now = now_ms();
		for (size_t i = first; i < first + k; i++)
			saksid_ingest_check(kg->kg_ig, &r->r_items[i], now);

		pthread_mutex_lock(&s->s_mu);
		if (--kg->kg_users == 0 && kg != s->s_kg)
			kgen_free(kg);   /* replaced by a reload while we checked with it */
		r->r_checked += k;
		if (r->r_checked == r->r_count) {
			stamp(s, r, T_CHECKED);
			s->s_stats.ss_checked++;
			/* Only the head can start or grow a group (arrival order): another
			 * finished request waits for it without waking the committer. */
			if (r == s->s_head)
				pthread_cond_signal(&s->s_cv_commit);
		}
	}
	pthread_mutex_unlock(&s->s_mu);
	return NULL;
}

/* ---- committer ---- */

/* Op 7 whose access entry the group just decided: the rows, or nothing. */
static void
answer_query(saksid_server *s, struct req *r)
{
	const saksid_item *it = &r->r_items[0];
	uint8_t *body = NULL;
	size_t blen;
	char msg[SAKSID_MSG_MAX + 64];
	void *ctl = r->r_ctl;
	int ok = 0;

	r->r_ctl = NULL;
	if (r->r_q->ra_status != 0) {
		/* Refused under the keyring a reload put in force since (recheck): no
		 * access entry was written. */
		reply_text(s, ctl, SAKSI_OP_QUERY, r->r_q->ra_status, r->r_q->ra_msg);
	} else if (it->it_code == SAKSI_R_ACCEPTED &&
	    saksid_remote_finish(s->s_remote, r->r_q, it->it_index, &body, &blen) == SAKSI_OK) {
		reply(s, ctl, SAKSI_OP_QUERY, SAKSI_R_ACCEPTED, body, blen);
		free(body);
		ok = 1;
	} else {
		snprintf(msg, sizeof(msg), "the access entry could not be written (%s: %s); "
		         "results withheld", saksi_reason_name(it->it_code),
		         it->it_code >= SAKSI_R_PARSE ? it->it_msg : "reply");
		reply_text(s, ctl, SAKSI_OP_QUERY, SAKSI_R_UNAVAILABLE, msg);
		saksid_logf(s->s_o.so_log, LOG_ERR, "remote query: %s", msg);
	}
	pthread_mutex_lock(&s->s_mu);
	if (ok)
		s->s_stats.ss_queries++;
	else
		s->s_stats.ss_query_refused++;
	pthread_mutex_unlock(&s->s_mu);
}

/* A submission's reply (nn_allocmsg), or NULL if out of memory. */
static uint8_t *
answer_msg(saksid_server *s, struct req *r, size_t *lenp)
{
	const saksid_committer *c = s->s_o.so_committer;
	size_t len = 5, off;
	uint8_t *m;

	for (size_t i = 0; i < r->r_count; i++) {
		const saksid_item *it = &r->r_items[i];
		len += 5 + (it->it_code <= SAKSI_R_DUPLICATE ? it->it_receipt_len
		                                               : strlen(it->it_msg));
	}
	if ((m = nn_allocmsg(len, 0)) == NULL)
		return NULL;
	m[0] = SAKSI_WIRE_VERSION;
	m[1] = SAKSI_OP_SUBMIT;
	m[2] = SAKSI_R_ACCEPTED;
	saksi_put_u16(m + 3, (uint16_t)r->r_count);
	off = 5;
	for (size_t i = 0; i < r->r_count; i++) {
		const saksid_item *it = &r->r_items[i];
		const char *text;
		size_t tl;

		if (it->it_code <= SAKSI_R_DUPLICATE) {
			text = saksid_commit_receipt(c, it);
			tl = it->it_receipt_len;
		} else {
			text = it->it_msg;
			tl = strlen(it->it_msg);
		}
		m[off] = (uint8_t)it->it_code;
		saksi_put_u32(m + off + 1, (uint32_t)tl);
		memcpy(m + off + 5, text, tl);
		off += 5 + tl;
	}
	*lenp = len;
	return m;
}

static void
answer(saksid_server *s, struct req *r)
{
	void *ctl = r->r_ctl;
	uint8_t *m;
	size_t len;

	if (r->r_op == SAKSI_OP_QUERY) {
		answer_query(s, r);
		return;
	}
	r->r_ctl = NULL;
	if ((m = answer_msg(s, r, &len)) == NULL) {
		if (ctl != NULL)
			nn_freemsg(ctl);
		return;
	}
	send_msg(s, ctl, m, len);
}

/* At most one line a second about refusals, with counts by reason since the last. */
static void
log_refusals(saksid_server *s, uint64_t now, int force)
{
	char line[512];
	size_t off = 0;
	uint64_t total = 0;

	if (!force && now - s->s_log_ms < 1000)
		return;
	for (int i = SAKSI_R_PARSE; i < SAKSI_R__COUNT; i++) {
		if (s->s_log_refused[i] == 0)
			continue;
		total += s->s_log_refused[i];
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%llu",
		                        saksi_reason_name(i),
		                        (unsigned long long)s->s_log_refused[i]);
		s->s_log_refused[i] = 0;
	}
	if (total > 0)
		saksid_logf(s->s_o.so_log, LOG_NOTICE, "refused %llu item(s):%s",
		            (unsigned long long)total, line);
	s->s_log_ms = now;
}

/* Keeps r's stage times in the ring; a stage it skipped (no items to check) takes
 * the time of the stage before. */
static void
trace_push(saksid_server *s, const struct req *r, size_t gitems)
{
	struct trace_rec *t;

	pthread_mutex_lock(&s->s_tmu);
	t = &s->s_trace[s->s_tn++ % s->s_o.so_trace];
	for (int k = 0; k < T__COUNT; k++)
		t->tr_t[k] = r->r_t[k] != 0 || k == 0 ? r->r_t[k] : t->tr_t[k - 1];
	t->tr_items = (uint32_t)r->r_count;
	t->tr_gitems = (uint32_t)gitems;
	pthread_mutex_unlock(&s->s_tmu);
}

/*
 * A request checked (at least in part) under a keyring a reload has since replaced: its
 * items that passed are checked again, here, under the keyring in force. Why here: the
 * committer thread alone changes the keyring, between groups, right after committing
 * the new keyring's entry, so every event a group appends was checked under the
 * keyring the ledger records last before it: an event of a key the reload revoked or
 * removed can never follow that entry (saksi verify checks each event against the
 * keyring in force at its leaf). Checking again rather than answering `unavailable`
 * spares the producers a retry; it costs the committer one check per item in flight
 * at a reload, once. The items the old keyring refused for a reason of its own
 * (unknown_key, revoked_key, role, branch) are checked again too; other refusals stay.
 */
static void
recheck(saksid_server *s, struct req *r, uint64_t now)
{
	uint64_t n = 0;

	/* A personal look answered under the old keyring: its rows go only to a key the
	 * new one still allows them (remote.h); else no access entry (run_group). */
	if (r->r_op == SAKSI_OP_QUERY && r->r_q != NULL && r->r_q->ra_status == 0 &&
	    saksid_remote_recheck(s->s_kg->kg_kr != NULL ? s->s_kg->kg_kr :
	                          s->s_o.so_keyring, r->r_q, now) != 0) {
		r->r_gen = s->s_kg->kg_gen;
		pthread_mutex_lock(&s->s_mu);
		s->s_stats.ss_rechecked++;
		pthread_mutex_unlock(&s->s_mu);
		return;
	}
	for (size_t i = 0; i < r->r_count; i++) {
		saksid_item *it = &r->r_items[i];

		/* The keyring's own refusals are decided again under the keyring in force:
		 * an event of a key the reload adds, sent while it came into force, is not
		 * lost to a refusal the producer's outbox would never resend (it keeps
		 * refusals as dead letters). Any other refusal stands. */
		if (it->it_code != SAKSI_R_ACCEPTED && it->it_code != SAKSI_R_UNKNOWN_KEY &&
		    it->it_code != SAKSI_R_REVOKED_KEY && it->it_code != SAKSI_R_ROLE &&
		    it->it_code != SAKSI_R_BRANCH)
			continue;
		saksid_item_clear(it);
		it->it_code = SAKSI_R_ACCEPTED;   /* checked from the start again */
		it->it_msg[0] = '\0';
		saksid_ingest_check(s->s_kg->kg_ig, it, now);
		n++;
	}
	r->r_gen = s->s_kg->kg_gen;
	pthread_mutex_lock(&s->s_mu);
	s->s_stats.ss_rechecked += n;
	pthread_mutex_unlock(&s->s_mu);
}

/*
 * A group whose commit left its meta page unsynced (ledger.h, saksi_ledger_commit_nosync):
 * its replies are built now, while the committer holds its receipts, and queued for the
 * syncer, which sends them once saksi_ledger_sync has returned. The committer meanwhile
 * takes the next group: the meta page's sync overlaps that group's work instead of
 * delaying it. A remote query's rows (op 7) are read and sent by the syncer, after its
 * access entry is durable.
 */
static void
defer_answers(saksid_server *s, struct req *group, uint64_t ticket, size_t n)
{
	struct req *r, *last = NULL;

	for (r = group; r != NULL; r = r->r_next) {
		r->r_ticket = ticket;
		r->r_gitems = n;
		if (r->r_op != SAKSI_OP_QUERY)
			r->r_reply = answer_msg(s, r, &r->r_reply_len);
		last = r;
	}
	pthread_mutex_lock(&s->s_smu);
	if (s->s_stail != NULL)
		s->s_stail->r_next = group;
	else
		s->s_shead = group;
	s->s_stail = last;
	pthread_cond_signal(&s->s_cv_sync);
	pthread_mutex_unlock(&s->s_smu);
}

/*
 * The syncer: makes the queued groups durable, one fdatasync for all of them (the last
 * one's ticket covers every commit before it), and only then answers them, in commit
 * order. If the sync fails nothing of theirs is known to be on disk: every receipt is
 * replaced by `unavailable` (the ledger refuses further writes, ledger.h).
 */
static void *
sync_main(void *arg)
{
	saksid_server *s = arg;
	struct req *list, *r, *next;
	uint64_t ticket;
	saksi_err e;

	pthread_mutex_lock(&s->s_smu);
	for (;;) {
		while (s->s_shead == NULL && !s->s_sync_stop)
			pthread_cond_wait(&s->s_cv_sync, &s->s_smu);
		if (s->s_shead == NULL)
			break;
		list = s->s_shead;
		ticket = s->s_stail->r_ticket;
		s->s_shead = s->s_stail = NULL;
		pthread_mutex_unlock(&s->s_smu);

		e = saksi_ledger_sync(s->s_o.so_ledger, ticket);
		if (e != SAKSI_OK)
			saksid_logf(s->s_o.so_log, LOG_ERR, "the ledger's sync failed (%s): "
			            "the last groups' events may not be on disk and were not "
			            "acknowledged; nothing more is written: restart saksid",
			            saksi_strerror(e));
		for (r = list; r != NULL; r = next) {
			void *ctl;

			next = r->r_next;
			if (r->r_op == SAKSI_OP_QUERY) {
				/* No rows without a durable access entry. */
				if (e != SAKSI_OK)
					r->r_items[0].it_code = SAKSI_R_UNAVAILABLE;
				answer_query(s, r);
				goto sent;
			}
			ctl = r->r_ctl;
			r->r_ctl = NULL;
			if (e != SAKSI_OK) {
				if (r->r_reply != NULL)
					nn_freemsg(r->r_reply);
				/* Every item: a refusal may rest on the unsynced state too
				 * (replay, equivocation, an ack of an alert that state
				 * closed); after a restart the same bytes get a true answer. */
				for (size_t i = 0; i < r->r_count; i++) {
					saksid_item *it = &r->r_items[i];

					it->it_code = SAKSI_R_UNAVAILABLE;
					snprintf(it->it_msg, sizeof(it->it_msg), "the ledger could "
					         "not be synced (%s): saksid writes nothing more until "
					         "it is restarted (see its log); resubmit the same bytes "
					         "then", saksi_strerror(e));
				}
				r->r_reply = answer_msg(s, r, &r->r_reply_len);
			}
			if (r->r_reply != NULL) {
				send_msg(s, ctl, r->r_reply, r->r_reply_len);
				r->r_reply = NULL;
			} else if (ctl != NULL)
				nn_freemsg(ctl);
sent:
			if (s->s_o.so_trace > 0) {
				stamp(s, r, T_SENT);
				trace_push(s, r, r->r_gitems);
			}
			req_free(r);
		}
		pthread_mutex_lock(&s->s_smu);
	}
	pthread_mutex_unlock(&s->s_smu);
	return NULL;
}

/*
 * The alert acknowledgements among the group's n refused items, by code, into the
 * stats: the status tells a refused ack from the other `schema` refusals (an ack of an
 * alert that is not open is refused `schema`, RULES.md 5.3) without a new wire code.
 */
static void
count_acks(saksid_server *s, size_t n)
{
	uint64_t acks[SAKSI_R__COUNT];
	saksi_envelope env;
	int any = 0;

	memset(acks, 0, sizeof(acks));
	for (size_t i = 0; i < n; i++) {
		const saksid_item *it = s->s_group[i];

		/* Only refusals after the signature check: before it the type is the
		 * sender's unverified claim, and anyone could inflate the counts. */
		if (it->it_code < SAKSI_R_ROLE || it->it_code > SAKSI_R_CLOCK_SKEW ||
		    saksi_envelope_parse(it->it_env, it->it_env_len, &env) != SAKSI_OK ||
		    strcmp(env.ev_type, "security.alert.acked") != 0)
			continue;
		acks[it->it_code]++;
		any = 1;
	}
	if (!any)
		return;
	pthread_mutex_lock(&s->s_mu);
	for (int i = 0; i < SAKSI_R__COUNT; i++)
		s->s_stats.ss_ack_refused[i] += acks[i];
	pthread_mutex_unlock(&s->s_mu);
}

static void
run_group(saksid_server *s, struct req *group)
{
	size_t n = 0;
	uint64_t now, counts[SAKSI_R__COUNT], ticket;
	struct req *r, *next;
	saksi_err e;

	struct busy busy[SAKSID_COMMIT_EXTRA_MAX];
	size_t nbusy;
	uint64_t t0;

	/* The group's time: the keyring checks below and the entries it appends. */
	now = now_ms();
	for (r = group; r != NULL; r = r->r_next) {
		stamp(s, r, T_CLOSED);
		if (r->r_gen != s->s_kg->kg_gen)
			recheck(s, r, now);
		else if (r->r_op == SAKSI_OP_QUERY && r->r_q->ra_status == 0)
			/* No reload, but a revocation dated between the query's check and
			 * now has come into force: the rows go only to a key the keyring
			 * allows when their access entry is written. */
			(void)saksid_remote_recheck(s->s_kg->kg_kr != NULL ? s->s_kg->kg_kr :
			    s->s_o.so_keyring, r->r_q, now);
		if (r->r_op == SAKSI_OP_QUERY && r->r_q->ra_status != 0)
			continue;   /* refused by the recheck: no access entry */
		for (size_t i = 0; i < r->r_count; i++)
			s->s_group[n++] = &r->r_items[i];
	}
	/* The busy answers since the last group are counted with this one. */
	pthread_mutex_lock(&s->s_mu);
	s->s_stats.ss_closed++;
	nbusy = s->s_nbusy;
	memcpy(busy, s->s_busy, nbusy * sizeof(busy[0]));
	s->s_nbusy = 0;
	pthread_mutex_unlock(&s->s_mu);
	for (size_t i = 0; i < nbusy; i++)
		saksid_commit_refused_add(s->s_o.so_committer, busy[i].b_id, SAKSI_R_BUSY,
		                          busy[i].b_n, busy[i].b_first, busy[i].b_last);
	t0 = mono_ms();
	e = saksid_commit_group(s->s_o.so_committer, s->s_group, n, now);
	for (r = group; r != NULL; r = r->r_next)
		stamp(s, r, T_COMMITTED);
	if (e != SAKSI_OK)
		saksid_logf(s->s_o.so_log, LOG_ERR, "commit of %zu item(s) failed: %s", n,
		            saksi_strerror(e));
	memset(counts, 0, sizeof(counts));
	for (size_t i = 0; i < n; i++) {
		const saksid_item *it = s->s_group[i];
		if (it->it_code >= 0 && it->it_code < SAKSI_R__COUNT)
			counts[it->it_code]++;
		if (it->it_code >= SAKSI_R_PARSE) {
			char hex[17];
			s->s_log_refused[it->it_code]++;
			sodium_bin2hex(hex, sizeof(hex), it->it_key_id, 8);
			saksid_logf(s->s_o.so_log, LOG_DEBUG, "refused key %s seq %llu: %s", hex,
			            (unsigned long long)it->it_seq, saksi_reason_name(it->it_code));
		}
	}
	saksid_logf(s->s_o.so_log, LOG_DEBUG, "group of %zu: %llu accepted, %llu duplicate, "
	            "tree size %llu", n, (unsigned long long)counts[SAKSI_R_ACCEPTED],
	            (unsigned long long)counts[SAKSI_R_DUPLICATE],
	            (unsigned long long)saksid_commit_size(s->s_o.so_committer));
	log_refusals(s, now, 0);
	count_acks(s, n);
	/* Counted before anyone is answered: a status asked after a reply includes it. */
	pthread_mutex_lock(&s->s_mu);
	s->s_group_ms = mono_ms() - t0;
	s->s_stats.ss_groups++;
	for (int i = 0; i < SAKSI_R__COUNT; i++)
		s->s_stats.ss_items[i] += counts[i];
	pthread_mutex_unlock(&s->s_mu);
	/* Released before anyone is answered: a producer that sends again on its reply
	 * finds its share free, and a status asked then an empty queue. */
	for (r = group; r != NULL; r = r->r_next)
		req_release(s, r);
	/* The group counted before its records: a reader that sees them sees it too. */
	if (s->s_o.so_trace > 0) {
		pthread_mutex_lock(&s->s_tmu);
		s->s_tgroups++;
		s->s_tclose[s->s_close]++;
		pthread_mutex_unlock(&s->s_tmu);
	}
	/*
	 * Once a group has waited for the syncer, every later one does too, behind it: a
	 * group that wrote nothing may still answer from one not yet synced (a duplicate's
	 * receipt proves it into the checkpoint of the group that committed it).
	 */
	if ((ticket = saksid_commit_ticket(s->s_o.so_committer)) > s->s_handed)
		s->s_handed = ticket;
	if (s->s_handed != 0) {
		defer_answers(s, group, s->s_handed, n);
		group = NULL;
	}
	for (r = group; r != NULL; r = next) {
		next = r->r_next;
		answer(s, r);
		if (s->s_o.so_trace > 0) {
			stamp(s, r, T_SENT);
			trace_push(s, r, n);
		}
		req_free(r);
	}
	/* Answered: what may wait for the next group (data keys made ahead). */
	saksid_commit_after(s->s_o.so_committer);
}

static int
head_ready(const saksid_server *s)
{
	return s->s_head != NULL && s->s_head->r_checked == s->s_head->r_count;
}

/* The committer's own timer: alerts left unacknowledged are raised again (RULES.md
 * 5.3), by the daemon's clock. Runs with s_mu released. */
static void
tick(saksid_server *s)
{
	saksi_err e;

	uint64_t forgotten;

	/* Retention: participants silent for too long are forgotten (shred.h). */
	if (saksid_commit_retention_due(s->s_o.so_committer, now_ms())) {
		e = saksid_commit_retention(s->s_o.so_committer, now_ms(), &forgotten);
		if (e != SAKSI_OK)
			saksid_logf(s->s_o.so_log, LOG_ERR, "retention failed: %s; retried at "
			            "the next tick", saksi_strerror(e));
		else if (forgotten > 0)
			saksid_logf(s->s_o.so_log, LOG_NOTICE, "retention: %llu participant(s) "
			            "forgotten", (unsigned long long)forgotten);
	}
	e = saksid_commit_reraise(s->s_o.so_committer, now_ms());
	if (e != SAKSI_OK)
		saksid_logf(s->s_o.so_log, LOG_ERR, "re-raise of unacknowledged alerts failed: "
		            "%s; retried at the next tick", saksi_strerror(e));
	else if (saksid_commit_alerts(s->s_o.so_committer) > 0)
		saksid_logf(s->s_o.so_log, LOG_NOTICE, "raised %llu unacknowledged alert(s) "
		            "again", (unsigned long long)saksid_commit_alerts(s->s_o.so_committer));
}

/*
 * The committer's half of a reload (s_mu not held): the new keyring's entry first, in a
 * commit group of its own; only once it is committed do the workers check under it.
 */
static void
swap_keyring(saksid_server *s, struct swap *w)
{
	struct kgen *old;

	w->w_err = saksid_commit_keyring_parts(s->s_o.so_committer, w->w_bodies, w->w_lens,
	                                       w->w_n, w->w_now_ms, &w->w_index);
	if (w->w_err != SAKSI_OK)
		return;
	pthread_mutex_lock(&s->s_mu);
	old = s->s_kg;
	w->w_kg->kg_gen = old->kg_gen + 1;
	s->s_kg = w->w_kg;
	if (old->kg_users == 0)
		kgen_free(old);
	pthread_mutex_unlock(&s->s_mu);
}

static void *
commit_main(void *arg)
{
	saksid_server *s = arg;
	struct req *group, *last, *r;
	struct timespec deadline;
	size_t nitems;
	int timed_out;
	uint64_t next_tick = mono_ms() + s->s_o.so_tick_ms;

	pthread_mutex_lock(&s->s_mu);
	for (;;) {
		while (!atomic_load(&s->s_stop) && !head_ready(s) && s->s_swap == NULL) {
			uint64_t t;

			if (s->s_o.so_tick_ms == 0) {
				pthread_cond_wait(&s->s_cv_commit, &s->s_mu);
				continue;
			}
			if ((t = mono_ms()) >= next_tick)
				break;
			deadline.tv_sec = (time_t)(next_tick / 1000);
			deadline.tv_nsec = (long)(next_tick % 1000) * 1000000;
			(void)pthread_cond_timedwait(&s->s_cv_commit, &s->s_mu, &deadline);
		}
		if (atomic_load(&s->s_stop))
			break;
		/* A reload: between two groups, so that no group straddles it. */
		if (s->s_swap != NULL) {
			struct swap *w = s->s_swap;

			s->s_swap = NULL;
			pthread_mutex_unlock(&s->s_mu);
			swap_keyring(s, w);
			pthread_mutex_lock(&s->s_mu);
			w->w_done = 1;
			pthread_cond_broadcast(&s->s_cv_swap);
			continue;
		}
		/* Checked after every group too: under load the wait above never times out. */
		if (s->s_o.so_tick_ms > 0 && mono_ms() >= next_tick) {
			pthread_mutex_unlock(&s->s_mu);
			tick(s);
			pthread_mutex_lock(&s->s_mu);
			next_tick = mono_ms() + s->s_o.so_tick_ms;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_nsec += (long)s->s_o.so_group_wait_us * 1000;
		deadline.tv_sec += deadline.tv_nsec / 1000000000;
		deadline.tv_nsec %= 1000000000;
		group = last = NULL;
		nitems = 0;
		timed_out = 0;
		for (;;) {
			/* Whole requests only, while they fit (a lone large one always does). */
			while (head_ready(s) && (nitems == 0 ||
			       nitems + s->s_head->r_count <= s->s_o.so_group_max)) {
				r = s->s_head;
				s->s_head = r->r_next;
				if (s->s_head == NULL)
					s->s_tail = NULL;
				r->r_next = NULL;
				stamp(s, r, T_GROUPED);
				if (last != NULL)
					last->r_next = r;
				else
					group = r;
				last = r;
				nitems += r->r_count;
			}
			s->s_close = nitems >= s->s_o.so_group_max ? SAKSID_TC_FULL :
			             atomic_load(&s->s_stop) ? SAKSID_TC_STOP :
			             head_ready(s) ? SAKSID_TC_NOFIT :
			             timed_out || s->s_head != NULL ? SAKSID_TC_WAITED :
			             SAKSID_TC_IDLE;
			if (nitems >= s->s_o.so_group_max || atomic_load(&s->s_stop) ||
			    head_ready(s) || timed_out)
				break;
			/*
			 * Nothing else has arrived: close now. Waiting group_wait_us for
			 * submissions not yet sent only delays this one; those that come
			 * meanwhile queue behind its commit and make the next group (the
			 * group grows with the load, not with a timer). A submission
			 * already here and still being checked is waited for, up to
			 * group_wait_us: it is a worker's share of a millisecond away.
			 */
			if (s->s_head == NULL)
				break;
			if (pthread_cond_timedwait(&s->s_cv_commit, &s->s_mu, &deadline) ==
			    ETIMEDOUT)
				timed_out = 1;
		}
		pthread_mutex_unlock(&s->s_mu);
		run_group(s, group);
		pthread_mutex_lock(&s->s_mu);
	}
	/* A reload asked as the server stops is not done: the old keyring stays. */
	if (s->s_swap != NULL) {
		s->s_swap->w_err = SAKSI_ERR_INVAL;
		s->s_swap->w_done = 1;
		s->s_swap = NULL;
		pthread_cond_broadcast(&s->s_cv_swap);
	}
	pthread_mutex_unlock(&s->s_mu);
	log_refusals(s, now_ms(), 1);
	return NULL;
}

/* ---- status (FORMATS.md 3.3) ---- */

/*
 * The handles of the ledger's own databases the status op reads. They are open in the
 * environment since the ledger opened it, so this is a lookup; done once, before any
 * thread of ours runs (LMDB: no concurrent mdb_dbi_open).
 */
static void
open_dbis(saksid_server *s)
{
	saksi_ledger_txn *txn;
	MDB_txn *mt;

	if (saksi_ledger_begin(s->s_o.so_ledger, 0, &txn) != SAKSI_OK)
		return;
	if ((mt = saksi_ledger_txn_mdb(txn)) != NULL &&
	    mdb_dbi_open(mt, "stat", 0, &s->s_dbi_stat) == 0 &&
	    mdb_dbi_open(mt, "seq", 0, &s->s_dbi_seq) == 0 &&
	    mdb_dbi_open(mt, "seqmax", 0, &s->s_dbi_seqmax) == 0)
		s->s_have_dbi = 1;
	saksi_ledger_abort(txn);
}

static json_t *
juint(uint64_t v)
{
	/* JSON integers are signed 64-bit here: a counter cannot get near 2^63. */
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Sums of the `stat` counters by reason, and the rows of seq and seqmax. */
static saksi_err
ledger_counts(saksid_server *s, MDB_txn *mt, uint64_t refused[256], uint64_t *events,
              uint64_t *producers)
{
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_stat st;
	int rc;

	memset(refused, 0, 256 * sizeof(refused[0]));
	*events = *producers = 0;
	if (!s->s_have_dbi)
		return SAKSI_ERR_LEDGER;
	if (mdb_stat(mt, s->s_dbi_seq, &st) != 0)
		return SAKSI_ERR_LEDGER;
	*events = st.ms_entries;
	if (mdb_stat(mt, s->s_dbi_seqmax, &st) != 0)
		return SAKSI_ERR_LEDGER;
	*producers = st.ms_entries;
	if (mdb_cursor_open(mt, s->s_dbi_stat, &cur) != 0)
		return SAKSI_ERR_LEDGER;
	/* One row per (reason, key id) ever refused: as many as keys times reasons. */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *kb = k.mv_data;
		uint64_t n;

		if (k.mv_size != 1 + SAKSI_KEYID_LEN || v.mv_size != 8)
			continue;
		n = saksi_get_u64(v.mv_data);
		refused[kb[0]] = refused[kb[0]] + n < n ? UINT64_MAX : refused[kb[0]] + n;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? SAKSI_OK : SAKSI_ERR_LEDGER;
}

/*
 * The query indexes (FORMATS.md 7.4): null without index_key; else how far they cover the
 * ledger of this snapshot (size entries), the catch-up still running or not, and what
 * stopped it if something did.
 */
/* A wall time in ms, or null for 0 (never, or not now). */
static json_t *
jms(uint64_t ms)
{
	return ms == 0 ? json_null() : juint(ms);
}

/* The catch-up's failures and retries (commit.h, saksid_commit_index_health): what an
 * operator needs to see that the index is behind, since when, and why. */
static void
index_health(saksid_server *s, json_t *ix)
{
	saksid_index_health h;

	(void)saksid_commit_index_health(s->s_o.so_committer, &h);
	json_object_set_new(ix, "behind_since_ms", jms(h.ih_behind_since_ms));
	json_object_set_new(ix, "failures", juint(h.ih_failures));
	json_object_set_new(ix, "failing_since_ms", jms(h.ih_failing_since_ms));
	json_object_set_new(ix, "last_error", h.ih_last_err_ms == 0 ? json_null() :
	                    json_string(saksi_strerror(h.ih_last_err)));
	json_object_set_new(ix, "last_error_ms", jms(h.ih_last_err_ms));
	json_object_set_new(ix, "retry_at_ms", jms(h.ih_retry_at_ms));
}

static json_t *
index_status(saksid_server *s, uint64_t size)
{
	uint64_t upto;
	int behind;
	saksi_err ie;
	json_t *ix;

	if (!saksid_commit_index_progress(s->s_o.so_committer, &upto, &behind, &ie) ||
	    (ix = json_object()) == NULL)
		return json_null();
	if (!behind || upto > size)
		upto = size;
	json_object_set_new(ix, "upto", juint(upto));
	json_object_set_new(ix, "catching_up", json_boolean(behind));
	json_object_set_new(ix, "error", ie == SAKSI_OK ? json_null() :
	                    json_string(saksi_strerror(ie)));
	index_health(s, ix);
	return ix;
}

saksi_err
saksid_server_status_json(saksid_server *s, char **out)
{
	saksid_server_stats st;
	saksi_ledger_txn *txn = NULL;
	MDB_txn *mt;
	MDB_envinfo info;
	MDB_stat est;
	struct statvfs vfs;
	json_t *o = NULL, *led, *ck, *ref, *reft, *req, *al, *disk, *q;
	uint64_t refused[256], events = 0, producers = 0, size, cksize = 0, ckms = 0, alerts;
	uint64_t acked;
	size_t nreq, nbytes, nkeys, note_len;
	uint8_t *leaf = NULL;
	size_t leaf_len;
	char *note = NULL, *kr_info;
	saksi_err e;

	*out = NULL;
	pthread_mutex_lock(&s->s_mu);
	st = s->s_stats;
	nreq = s->s_nreq;
	nbytes = s->s_bytes;
	nkeys = s->s_nkeys;
	kr_info = s->s_kr_info != NULL ? strdup(s->s_kr_info) : NULL;
	pthread_mutex_unlock(&s->s_mu);

	if ((e = saksi_ledger_begin(s->s_o.so_ledger, 0, &txn)) != SAKSI_OK) {
		free(kr_info);
		return e;
	}
	if ((mt = saksi_ledger_txn_mdb(txn)) == NULL) {
		e = SAKSI_ERR_LEDGER;
		goto out;
	}
	size = saksi_ledger_size(txn);
	if ((e = ledger_counts(s, mt, refused, &events, &producers)) != SAKSI_OK)
		goto out;
	e = saksi_ledger_ckpt_latest(txn, &cksize, &note, &note_len);
	if (e == SAKSI_OK && cksize > 0 &&
	    (e = saksi_ledger_leaf(txn, cksize - 1, &leaf, &leaf_len)) == SAKSI_OK &&
	    leaf_len >= SAKSI_LEAF_HDR)
		ckms = saksi_get_u64(leaf + 2);
	if (e != SAKSI_OK && e != SAKSI_ERR_NOT_FOUND)
		goto out;
	e = SAKSI_ERR_NOMEM;
	if (mdb_env_info(mdb_txn_env(mt), &info) != 0 || mdb_env_stat(mdb_txn_env(mt), &est) != 0) {
		e = SAKSI_ERR_LEDGER;
		goto out;
	}
	alerts = saksid_commit_alert_total(s->s_o.so_committer);
	acked = saksid_commit_alert_acked(s->s_o.so_committer);

	if ((o = json_object()) == NULL)
		goto out;
	json_object_set_new(o, "saksi_status", json_integer(1));
	json_object_set_new(o, "version", json_string(SAKSI_VERSION));
	if (s->s_o.so_origin != NULL)
		json_object_set_new(o, "origin", json_string(s->s_o.so_origin));
	json_object_set_new(o, "now_ms", juint(now_ms()));
	json_object_set_new(o, "up_since_ms", juint(s->s_started_ms));

	led = json_object();
	json_object_set_new(led, "entries", juint(size));
	json_object_set_new(led, "events", juint(events));
	json_object_set_new(led, "used_bytes", juint(((uint64_t)info.me_last_pgno + 1) *
	                                              est.ms_psize));
	json_object_set_new(led, "map_bytes", juint(info.me_mapsize));
	json_object_set_new(o, "ledger", led);

	ck = json_object();
	json_object_set_new(ck, "size", juint(cksize));
	json_object_set_new(ck, "time_ms", note != NULL && cksize > 0 ? juint(ckms) : json_null());
	/* No witness cosigns our checkpoints yet: said plainly, not left out. */
	json_object_set_new(ck, "witnesses", json_array());
	json_object_set_new(o, "checkpoint", ck);

	ref = json_object();
	reft = json_object();
	for (int i = SAKSI_R_PARSE; i < SAKSI_R__COUNT; i++) {
		json_object_set_new(ref, saksi_reason_name(i),
		                    juint(st.ss_items[i] + st.ss_req_refused_items[i]));
		json_object_set_new(reft, saksi_reason_name(i), juint(refused[i]));
	}
	json_object_set_new(o, "refused", ref);
	json_object_set_new(o, "refused_total", reft);
	json_object_set_new(o, "accepted", juint(st.ss_items[SAKSI_R_ACCEPTED]));
	json_object_set_new(o, "duplicates", juint(st.ss_items[SAKSI_R_DUPLICATE]));

	req = json_object();
	json_object_set_new(req, "total", juint(st.ss_requests));
	json_object_set_new(req, "groups", juint(st.ss_groups));
	json_object_set_new(req, "status", juint(st.ss_status));
	json_object_set_new(req, "queries", juint(st.ss_queries));
	json_object_set_new(req, "queries_refused", juint(st.ss_query_refused));
	{
		json_t *rr = json_object();
		for (int i = SAKSI_R_PARSE; i < SAKSI_R__COUNT; i++)
			if (st.ss_req_refused[i] > 0)
				json_object_set_new(rr, saksi_reason_name(i), juint(st.ss_req_refused[i]));
		json_object_set_new(req, "refused", rr);
	}
	json_object_set_new(o, "requests", req);

	json_object_set_new(o, "producers_seen", juint(producers));

	al = json_object();
	json_object_set_new(al, "detection", json_boolean(saksid_commit_detecting(s->s_o.so_committer)));
	json_object_set_new(al, "raised", juint(alerts));
	/* Acknowledged: null while unknown (no detection yet); then open = raised - acked.
	 * Refusal alerts cannot be acknowledged (RULES.md 5.4): they stay open. */
	json_object_set_new(al, "acknowledged", acked == UINT64_MAX ? json_null() : juint(acked));
	json_object_set_new(al, "open", juint(acked == UINT64_MAX || acked > alerts ? alerts
	                                                                            : alerts - acked));
	{
		json_t *ar = json_object();

		for (int i = SAKSI_R_PARSE; i < SAKSI_R__COUNT; i++)
			json_object_set_new(ar, saksi_reason_name(i), juint(st.ss_ack_refused[i]));
		json_object_set_new(al, "acks_refused", ar);
	}
	json_object_set_new(o, "alerts", al);
	json_object_set_new(o, "index", index_status(s, size));
	{
		/* The rules main loaded (file, SHA-256, count, when, last reload): null without. */
		char *ri = saksid_commit_rules_info(s->s_o.so_committer);
		json_t *rj = ri != NULL ? json_loads(ri, 0, NULL) : NULL;

		free(ri);
		json_object_set_new(o, "rules", rj != NULL ? rj : json_null());
	}
	{
		/* The keyring in force (main's text), and the items checked again because a
		 * reload replaced the keyring they were first checked under. */
		json_t *kj = kr_info != NULL ? json_loads(kr_info, 0, NULL) : NULL;

		if (json_is_object(kj))
			json_object_set_new(kj, "rechecked", juint(st.ss_rechecked));
		json_object_set_new(o, "keyring", kj != NULL ? kj : json_null());
	}

	q = json_object();
	json_object_set_new(q, "requests", juint(nreq));
	json_object_set_new(q, "bytes", juint(nbytes));
	json_object_set_new(q, "max_requests", juint(s->s_o.so_queue_reqs));
	json_object_set_new(q, "max_bytes", juint(s->s_o.so_queue_bytes));
	json_object_set_new(q, "producer_keys", juint(nkeys));
	json_object_set_new(q, "max_per_key", juint(s->s_o.so_key_inflight));
	json_object_set_new(o, "queue", q);

	if (s->s_o.so_state_dir != NULL && statvfs(s->s_o.so_state_dir, &vfs) == 0) {
		disk = json_object();
		json_object_set_new(disk, "total_bytes", juint((uint64_t)vfs.f_blocks * vfs.f_frsize));
		json_object_set_new(disk, "free_bytes", juint((uint64_t)vfs.f_bfree * vfs.f_frsize));
		json_object_set_new(disk, "avail_bytes", juint((uint64_t)vfs.f_bavail * vfs.f_frsize));
		json_object_set_new(o, "disk", disk);
	} else
		json_object_set_new(o, "disk", json_null());

	e = (*out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) != NULL ? SAKSI_OK
	                                                                  : SAKSI_ERR_NOMEM;
out:
	json_decref(o);
	free(note);
	free(leaf);
	free(kr_info);
	if (txn != NULL)
		saksi_ledger_abort(txn);
	return e;
}

static void
on_status(saksid_server *s, void *ctl)
{
	char *json = NULL, msg[SAKSID_MSG_MAX];
	saksi_err e;

	/* Counted first: the answer counts itself, as a scrape that sees itself should. */
	pthread_mutex_lock(&s->s_mu);
	s->s_stats.ss_requests++;
	s->s_stats.ss_status++;
	pthread_mutex_unlock(&s->s_mu);
	if ((e = saksid_server_status_json(s, &json)) != SAKSI_OK) {
		if (saksi_ledger_failed(s->s_o.so_ledger))
			/* Its counts rest on a durable read, which a failed sync rules out. */
			snprintf(msg, sizeof(msg), "status unavailable: the ledger's sync failed; "
			         "saksid writes nothing more until it is restarted (see its log)");
		else
			snprintf(msg, sizeof(msg), "status unavailable (%s); retry later",
			         saksi_strerror(e));
		reply_text(s, ctl, SAKSI_OP_STATUS, SAKSI_R_UNAVAILABLE, msg);
	} else
		reply(s, ctl, SAKSI_OP_STATUS, SAKSI_R_ACCEPTED, json, strlen(json));
	free(json);
}

/* ---- the stage trace ---- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The time a record spent in stage k (enum saksid_trace_stage), ns. */
static uint64_t
rec_stage(const struct trace_rec *t, int k)
{
	if (k == SAKSID_TS_TOTAL)
		return t->tr_t[T_SENT] - t->tr_t[T_RECV];
	return t->tr_t[k + 1] - t->tr_t[k];
}

saksi_err
saksid_server_trace(saksid_server *s, saksid_trace_summary *out, int reset)
{
	struct trace_rec *recs;
	uint64_t *v, ntail, cut;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (s == NULL || s->s_o.so_trace == 0 || s->s_trace == NULL)
		return SAKSI_ERR_INVAL;
	/* A copy, sorted outside the lock: the committer waits for no sort. */
	pthread_mutex_lock(&s->s_tmu);
	n = s->s_tn < s->s_o.so_trace ? (size_t)s->s_tn : s->s_o.so_trace;
	recs = malloc((n > 0 ? n : 1) * sizeof(*recs));
	v = malloc((n > 0 ? n : 1) * sizeof(*v));
	if (recs == NULL || v == NULL) {
		pthread_mutex_unlock(&s->s_tmu);
		free(recs);
		free(v);
		return SAKSI_ERR_NOMEM;
	}
	memcpy(recs, s->s_trace, n * sizeof(*recs));
	out->ts_groups = s->s_tgroups;
	memcpy(out->ts_closed, s->s_tclose, sizeof(out->ts_closed));
	if (reset) {
		s->s_tn = 0;
		s->s_tgroups = 0;
		memset(s->s_tclose, 0, sizeof(s->s_tclose));
	}
	pthread_mutex_unlock(&s->s_tmu);

	out->ts_requests = n;
	for (size_t i = 0; i < n; i++) {
		out->ts_items += recs[i].tr_items;
		for (int k = 1; k < T__COUNT; k++)
			if (recs[i].tr_t[k] < recs[i].tr_t[k - 1]) {
				out->ts_unordered++;
				break;
			}
	}
	if (n == 0)
		goto out;
	/* The slowest 1 % by total time (at least one): what holds them, stage by stage. */
	for (size_t i = 0; i < n; i++)
		v[i] = rec_stage(&recs[i], SAKSID_TS_TOTAL);
	qsort(v, n, sizeof(*v), cmp_u64);
	ntail = n / 100 > 0 ? n / 100 : 1;
	cut = v[n - ntail];
	for (int k = 0; k < SAKSID_TS__COUNT; k++) {
		uint64_t sum = 0, m = 0;

		for (size_t i = 0; i < n; i++) {
			v[i] = rec_stage(&recs[i], k);
			if (rec_stage(&recs[i], SAKSID_TS_TOTAL) >= cut && m < ntail) {
				sum += v[i];
				m++;
			}
		}
		qsort(v, n, sizeof(*v), cmp_u64);
		out->ts_p50_us[k] = v[n / 2] / 1000;
		out->ts_p99_us[k] = v[(size_t)((double)n * 0.99)] / 1000;
		out->ts_max_us[k] = v[n - 1] / 1000;
		out->ts_tail_us[k] = sum / (m > 0 ? m : 1) / 1000;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = recs[i].tr_gitems;
	qsort(v, n, sizeof(*v), cmp_u64);
	out->ts_group_p50 = v[n / 2];
	out->ts_group_p99 = v[(size_t)((double)n * 0.99)];
out:
	free(recs);
	free(v);
	return SAKSI_OK;
}

void
saksid_server_trace_log(saksid_server *s)
{
	static const char *const names[SAKSID_TS__COUNT] = {
		"queue", "to-worker", "check", "to-committer", "group-fill", "commit",
		"answer", "total"
	};
	saksid_trace_summary t;
	char line[1024];
	size_t off;

	if (s == NULL || s->s_o.so_trace == 0 || saksid_server_trace(s, &t, 1) != SAKSI_OK)
		return;
	saksid_logf(s->s_o.so_log, LOG_NOTICE, "trace: %llu submissions, %llu items, %llu "
	            "groups (closed: full %llu, next did not fit %llu, waited %llu, idle %llu, "
	            "stop %llu), items per group p50 %llu p99 %llu, %llu out of order",
	            (unsigned long long)t.ts_requests, (unsigned long long)t.ts_items,
	            (unsigned long long)t.ts_groups,
	            (unsigned long long)t.ts_closed[SAKSID_TC_FULL],
	            (unsigned long long)t.ts_closed[SAKSID_TC_NOFIT],
	            (unsigned long long)t.ts_closed[SAKSID_TC_WAITED],
	            (unsigned long long)t.ts_closed[SAKSID_TC_IDLE],
	            (unsigned long long)t.ts_closed[SAKSID_TC_STOP],
	            (unsigned long long)t.ts_group_p50, (unsigned long long)t.ts_group_p99,
	            (unsigned long long)t.ts_unordered);
	off = 0;
	for (int k = 0; k < SAKSID_TS__COUNT; k++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%s %s %.3f/%.3f/%.3f",
		                        k > 0 ? ";" : "", names[k], t.ts_p50_us[k] / 1000.0,
		                        t.ts_p99_us[k] / 1000.0, t.ts_max_us[k] / 1000.0);
	saksid_logf(s->s_o.so_log, LOG_NOTICE, "trace: ms p50/p99/max:%s", line);
	off = 0;
	for (int k = 0; k < SAKSID_TS__COUNT; k++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%s %s %.3f",
		                        k > 0 ? ";" : "", names[k], t.ts_tail_us[k] / 1000.0);
	saksid_logf(s->s_o.so_log, LOG_NOTICE, "trace: the slowest 1%%, mean ms:%s", line);
}

/* ---- start and stop ---- */

void
saksid_server_stats_get(saksid_server *s, saksid_server_stats *st)
{
	pthread_mutex_lock(&s->s_mu);
	*st = s->s_stats;
	pthread_mutex_unlock(&s->s_mu);
}

static void
drain(saksid_server *s, struct req *r)
{
	struct req *next;

	for (; r != NULL; r = next) {
		next = r->r_next;
		reply_text(s, r->r_ctl, r->r_op, SAKSI_R_UNAVAILABLE,
		           "saksid is shutting down; retry later");
		r->r_ctl = NULL;
		s->s_nreq--;
		s->s_bytes -= r->r_cost;
		if (r->r_op == SAKSI_OP_SUBMIT)
			(void)key_load(s, r, -1);
		req_free(r);
	}
}

void
saksid_server_stop(saksid_server *s, saksid_server_stats *final)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->s_mu);
	atomic_store(&s->s_stop, 1);
	pthread_cond_broadcast(&s->s_cv_work);
	pthread_cond_broadcast(&s->s_cv_commit);
	pthread_mutex_unlock(&s->s_mu);
	/* Receiver first (no new requests), then the workers (they finish the chunk in
	 * hand), then the committer (it finishes and answers its group). */
	if (s->s_recv_up)
		pthread_join(s->s_recv, NULL);
	for (unsigned i = 0; i < s->s_nworkers; i++)
		pthread_join(s->s_workers[i], NULL);
	if (s->s_commit_up)
		pthread_join(s->s_commit, NULL);
	/* Then the syncer: it answers every group the committer handed it. */
	if (s->s_sync_up) {
		pthread_mutex_lock(&s->s_smu);
		s->s_sync_stop = 1;
		pthread_cond_signal(&s->s_cv_sync);
		pthread_mutex_unlock(&s->s_smu);
		pthread_join(s->s_sync, NULL);
	}
	drain(s, s->s_head);
	drain(s, s->s_rhead);
	if (final != NULL)
		*final = s->s_stats;
	saksid_server_trace_log(s);
	s->s_head = s->s_tail = s->s_claim = s->s_rhead = s->s_rtail = NULL;
	if (s->s_sock >= 0) {
		usleep(LINGER_US);
		nn_close(s->s_sock);
	}
	for (size_t b = 0; b < KEY_BUCKETS; b++) {
		struct keyload *k, *next;
		for (k = s->s_keys[b]; k != NULL; k = next) {
			next = k->k_next;
			free(k);
		}
	}
	saksid_remote_free(s->s_remote);
	/* The workers are joined: no generation has a user left. */
	kgen_free(s->s_kg);
	free(s->s_kr_info);
	pthread_cond_destroy(&s->s_cv_swap);
	pthread_cond_destroy(&s->s_cv_work);
	pthread_cond_destroy(&s->s_cv_commit);
	pthread_cond_destroy(&s->s_cv_sync);
	pthread_mutex_destroy(&s->s_smu);
	pthread_mutex_destroy(&s->s_mu);
	pthread_mutex_destroy(&s->s_tmu);
	free(s->s_trace);
	free(s->s_workers);
	free(s->s_group);
	free(s);
}

/*
 * Binds only: no thread of ours runs yet, so a request that arrives now waits in
 * nanomsg's queue until saksid_server_run, after main has dropped root and installed
 * the filter (issue #6: nothing is served as root or unfiltered).
 */
saksi_err
saksid_server_bind(const saksid_server_opts *o, saksid_server **out, char *errbuf,
                   size_t errlen)
{
	saksid_server *s;
	pthread_condattr_t ca;
	int v;

	*out = NULL;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (o == NULL || o->so_nlisten == 0 || o->so_ledger == NULL || o->so_ingest == NULL ||
	    o->so_committer == NULL || o->so_workers == 0 || o->so_group_max == 0 ||
	    o->so_group_max > SAKSID_COMMIT_ITEMS_MAX)
		return SAKSI_ERR_INVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return SAKSI_ERR_NOMEM;
	s->s_o = *o;
	if (s->s_o.so_queue_bytes == 0)
		s->s_o.so_queue_bytes = 256u << 20;
	if (s->s_o.so_queue_reqs == 0)
		s->s_o.so_queue_reqs = 4096;
	if (s->s_o.so_key_inflight == 0)
		s->s_o.so_key_inflight = 1024;
	randombytes_buf(s->s_hkey, sizeof(s->s_hkey));
	s->s_started_ms = now_ms();
	open_dbis(s);
	if (o->so_access_key != NULL) {
		saksid_remote_opts ro;
		saksi_err e;

		memset(&ro, 0, sizeof(ro));
		ro.ro_ledger = o->so_ledger;
		ro.ro_keyring = o->so_keyring;
		ro.ro_blind = o->so_blind;
		ro.ro_store_key = o->so_store_key;
		ro.ro_dk = o->so_query_dk;
		ro.ro_box_key = o->so_box_key;
		ro.ro_log_key = o->so_log_key;
		ro.ro_access_key = o->so_access_key;
		ro.ro_max_age_ms = o->so_query_max_age_ms;
		ro.ro_started_ms = s->s_started_ms;
		if ((e = saksid_remote_new(&ro, &s->s_remote, &s->s_access_seq)) != SAKSI_OK) {
			if (errbuf != NULL && errlen > 0)
				snprintf(errbuf, errlen, "remote queries: %s%s", saksi_strerror(e),
				         e == SAKSI_ERR_NOT_FOUND ? " (no index yet)" : "");
			free(s);
			return e;
		}
	}
	s->s_sock = -1;
	atomic_init(&s->s_stop, 0);
	pthread_mutex_init(&s->s_mu, NULL);
	pthread_mutex_init(&s->s_tmu, NULL);
	pthread_mutex_init(&s->s_smu, NULL);
	pthread_cond_init(&s->s_cv_sync, NULL);
	pthread_cond_init(&s->s_cv_work, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->s_cv_commit, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->s_cv_swap, NULL);
	/* The start's keyring, generation 0: ours only once bound (so_ingest_owned). */
	if ((s->s_kg = calloc(1, sizeof(*s->s_kg))) != NULL)
		s->s_kg->kg_ig = (saksid_ingest *)o->so_ingest;
	s->s_workers = calloc(o->so_workers, sizeof(*s->s_workers));
	/* A group is at most group_max items, or one request when that is larger. */
	s->s_group = calloc(o->so_group_max > SAKSI_WIRE_BATCH_MAX ? o->so_group_max
	                                                          : SAKSI_WIRE_BATCH_MAX,
	                    sizeof(*s->s_group));
	if (o->so_trace > 0)
		s->s_trace = calloc(o->so_trace, sizeof(*s->s_trace));
	if (s->s_workers == NULL || s->s_group == NULL || s->s_kg == NULL ||
	    (o->so_trace > 0 && s->s_trace == NULL)) {
		saksid_server_stop(s, NULL);
		return SAKSI_ERR_NOMEM;
	}

	if ((s->s_sock = nn_socket(AF_SP_RAW, NN_REP)) < 0) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "nn_socket: %s", nn_strerror(nn_errno()));
		saksid_server_stop(s, NULL);
		return SAKSI_ERR_NET;
	}
	v = MSG_CAP;
	nn_setsockopt(s->s_sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &v, sizeof(v));
	v = RECV_POLL_MS;
	nn_setsockopt(s->s_sock, NN_SOL_SOCKET, NN_RCVTIMEO, &v, sizeof(v));
	for (size_t i = 0; i < o->so_nlisten; i++) {
		if (nn_bind(s->s_sock, o->so_listen[i]) < 0) {
			if (errbuf != NULL && errlen > 0)
				snprintf(errbuf, errlen, "cannot listen on %s: %s", o->so_listen[i],
				         nn_strerror(nn_errno()));
			saksid_server_stop(s, NULL);
			return SAKSI_ERR_NET;
		}
	}

	s->s_kg->kg_owned = o->so_ingest_owned;
	*out = s;
	return SAKSI_OK;
}

saksi_err
saksid_server_run(saksid_server *s, char *errbuf, size_t errlen)
{
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (s == NULL || s->s_commit_up)
		return SAKSI_ERR_INVAL;
	/* Receiver last: nothing is taken off the socket before there is someone to check
	 * and commit it. A thread that started stays up until saksid_server_stop. */
	if (pthread_create(&s->s_sync, NULL, sync_main, s) != 0)
		goto thread_fail;
	s->s_sync_up = 1;
	if (pthread_create(&s->s_commit, NULL, commit_main, s) != 0)
		goto thread_fail;
	s->s_commit_up = 1;
	for (unsigned i = 0; i < s->s_o.so_workers; i++) {
		if (pthread_create(&s->s_workers[i], NULL, worker_main, s) != 0)
			goto thread_fail;
		s->s_nworkers++;
	}
	if (pthread_create(&s->s_recv, NULL, recv_main, s) != 0)
		goto thread_fail;
	s->s_recv_up = 1;
	return SAKSI_OK;

thread_fail:
	if (errbuf != NULL && errlen > 0)
		snprintf(errbuf, errlen, "cannot start a thread");
	return SAKSI_ERR_IO;
}

saksi_err
saksid_server_start(const saksid_server_opts *o, saksid_server **out, char *errbuf,
                    size_t errlen)
{
	saksi_err e;

	if ((e = saksid_server_bind(o, out, errbuf, errlen)) != SAKSI_OK)
		return e;
	if ((e = saksid_server_run(*out, errbuf, errlen)) != SAKSI_OK) {
		saksid_server_stop(*out, NULL);
		*out = NULL;
	}
	return e;
}

saksi_err
saksid_server_keyring_swap(saksid_server *s, saksid_ingest *ig, saksi_keyring *kr,
                           const uint8_t *const *bodies, const size_t *lens, size_t n,
                           uint64_t now_ms_, uint64_t *index)
{
	struct swap w;
	struct kgen *kg;

	if (index != NULL)
		*index = UINT64_MAX;
	if (s == NULL || ig == NULL || kr == NULL || bodies == NULL || lens == NULL || n == 0)
		return SAKSI_ERR_INVAL;
	if ((kg = calloc(1, sizeof(*kg))) == NULL)
		return SAKSI_ERR_NOMEM;
	kg->kg_ig = ig;
	kg->kg_kr = kr;
	kg->kg_owned = 1;
	memset(&w, 0, sizeof(w));
	w.w_kg = kg;
	w.w_bodies = bodies;
	w.w_lens = lens;
	w.w_n = n;
	w.w_now_ms = now_ms_;
	w.w_index = UINT64_MAX;
	pthread_mutex_lock(&s->s_mu);
	if (!s->s_commit_up || atomic_load(&s->s_stop) || s->s_swap != NULL) {
		pthread_mutex_unlock(&s->s_mu);
		free(kg);
		return SAKSI_ERR_INVAL;
	}
	s->s_swap = &w;
	s->s_stats.ss_reloads++;
	pthread_cond_signal(&s->s_cv_commit);
	while (!w.w_done)
		pthread_cond_wait(&s->s_cv_swap, &s->s_mu);
	pthread_mutex_unlock(&s->s_mu);
	if (w.w_err != SAKSI_OK) {
		free(kg);   /* not swapped in: ig and kr stay the caller's */
		return w.w_err;
	}
	if (index != NULL)
		*index = w.w_index;
	return SAKSI_OK;
}

saksi_err
saksid_server_keyring_info_set(saksid_server *s, const char *json)
{
	char *copy = NULL;

	if (s == NULL)
		return SAKSI_ERR_INVAL;
	if (json != NULL && (copy = strdup(json)) == NULL)
		return SAKSI_ERR_NOMEM;
	pthread_mutex_lock(&s->s_mu);
	free(s->s_kr_info);
	s->s_kr_info = copy;
	pthread_mutex_unlock(&s->s_mu);
	return SAKSI_OK;
}
