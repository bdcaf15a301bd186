/*
 * keyreload_daemon_test.c: a keyring reload on SIGHUP through the built saksid, no restart: a
 * key added is accepted from then on (refused as unknown before), a revoked one refused
 * as revoked, a file that does not load leaves the keyring in force (and the status says
 * the reload failed), the same keyring again writes nothing, a revocation while
 * producers send loses no event and leaves none saksi verify rejects, and the sandboxed
 * saksid (root dropped for nobody, seccomp on) still reads the file again. Remote
 * queries follow each reload (a key added, a role changed, revoked, removed); an
 * outbox keeps a refusal of a key not yet added as a dead letter, never resent; the
 * status counts refused alert acks apart from the other refusals.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <jansson.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "keylog.h"
#include "client.h"
#include "ledger.h"
#include "outbox.h"
#include "remoteq.h"
#include "wire.h"

static char kr_path[DR_NAME_LEN + 32];

/* ---- helpers ---- */

/* Occurrences of what in the daemon's log, waiting (bounded, 60 s) until there are n. */
static char *
await_log_n(struct dr *d, const char *what, size_t n)
{
	for (int i = 0; i < 6000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		char *text = access(d->errlog, F_OK) == 0 ? fx_read(d->errlog, NULL) : NULL;
		size_t k = 0;

		for (const char *p = text; p != NULL && (p = strstr(p, what)) != NULL; p++)
			k++;
		if (k >= n)
			return text;
		free(text);
		assert_int_equal(waitpid(d->pid, NULL, WNOHANG), 0);
		nanosleep(&ts, NULL);
	}
	fail_msg("%s never held \"%s\" %zu times", d->errlog, what, n);
	return NULL;
}

/* saksi status --url URL --json, parsed. */
static json_t *
status_json(struct dr *d)
{
	char out[300];
	const char *const args[] = { "status", "--url", d->url, "--json", NULL };
	json_t *j;
	char *text;
	size_t len;

	snprintf(out, sizeof(out), "%s/status.out", d->fx.dir);
	assert_int_equal(dr_saksi(0, out, NULL, args), 0);
	text = fx_read(out, &len);
	assert_non_null(j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL));
	free(text);
	return j;
}

/* saksi status --url URL [how], as text. */
static char *
status_text(struct dr *d, const char *how)
{
	char out[300];
	const char *const args[] = { "status", "--url", d->url, how, NULL };

	snprintf(out, sizeof(out), "%s/status.out", d->fx.dir);
	assert_int_equal(dr_saksi(0, out, NULL, args), 0);
	return fx_read(out, NULL);
}

static json_int_t
jint(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	if (b != NULL)
		v = json_object_get(v, b);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void
file_sha(const char *path, char hex[65])
{
	uint8_t h[crypto_hash_sha256_BYTES];
	size_t len;
	char *text = fx_read(path, &len);

	crypto_hash_sha256(h, (const uint8_t *)text, len);
	sodium_bin2hex(hex, 65, h, sizeof(h));
	free(text);
}

/* fx->keyring_json with the key named `name` revoked at ms, written to kr_path. */
static void
keyring_revoke(struct fx *fx, const char *name, uint64_t ms)
{
	json_t *root = json_loads(fx->keyring_json, JSON_REJECT_DUPLICATES, NULL), *keys, *k;
	size_t i;

	assert_non_null(root);
	keys = json_object_get(root, "keys");
	json_array_foreach(keys, i, k)
		if (strcmp(json_string_value(json_object_get(k, "name")), name) == 0)
			json_object_set_new(k, "revoked_ms", json_integer((json_int_t)ms));
	free(fx->keyring_json);
	assert_non_null(fx->keyring_json = json_dumps(root, JSON_INDENT(2)));
	json_decref(root);
	fx_write(kr_path, fx->keyring_json, strlen(fx->keyring_json), 0644);
}

/* fx->keyring_json with member `what` of the key named `name` set to the string to
 * (a role the keyring lacks is defined, as role.*), written to kr_path. */
static void
keyring_set(struct fx *fx, const char *name, const char *what, const char *to)
{
	json_t *root = json_loads(fx->keyring_json, JSON_REJECT_DUPLICATES, NULL), *keys, *k;
	json_t *roles;
	char events[64];
	size_t i;

	assert_non_null(root);
	roles = json_object_get(root, "roles");
	if (strcmp(what, "role") == 0 && json_object_get(roles, to) == NULL) {
		snprintf(events, sizeof(events), "%s.*", to);
		assert_int_equal(json_object_set_new(roles, to, json_pack("[s]", events)), 0);
	}
	keys = json_object_get(root, "keys");
	json_array_foreach(keys, i, k)
		if (strcmp(json_string_value(json_object_get(k, "name")), name) == 0)
			json_object_set_new(k, what, json_string(to));
	free(fx->keyring_json);
	assert_non_null(fx->keyring_json = json_dumps(root, JSON_INDENT(2)));
	json_decref(root);
	fx_write(kr_path, fx->keyring_json, strlen(fx->keyring_json), 0644);
}

/* One booking signed by k, submitted alone: its code, its leaf index if accepted. */
static int
submit_key(struct dr *d, const saksi_seckey *k, uint64_t seq, uint64_t *index)
{
	struct fx_item fi;
	char text[4096], *p = fx_payload("queue.booking.created", NULL);
	const char *ix;
	int code;

	fx_build(&d->fx, k, "queue.booking.created", p, seq, wall_ms(), &fi);
	free(p);
	code = dr_submit1(d->url, &fi, text, sizeof(text));
	fx_item_free(&fi);
	if (index != NULL) {
		*index = UINT64_MAX;
		if (code == SAKSI_R_ACCEPTED && (ix = strstr(text, "\nindex ")) != NULL)
			*index = strtoull(ix + 7, NULL, 10);
	}
	return code;
}

/* The kind of the leaf at index of the ledger at dir, read while saksid runs. */
static int
leaf_kind(const char *dir, uint64_t index)
{
	saksi_ledger_opts o;
	saksi_ledger *l = NULL;
	saksi_ledger_txn *t;
	saksi_leaf lf;
	uint8_t *leaf;
	size_t len;
	int kind;

	memset(&o, 0, sizeof(o));
	o.lo_readonly = 1;
	assert_int_equal(saksi_ledger_open(dir, NULL, NULL, &o, &l), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(t, index, &leaf, &len), SAKSI_OK);
	assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
	kind = lf.lf_kind;
	free(leaf);
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
	return kind;
}

/* saksi verify of the stopped daemon's ledger with the keyring file: exit 0, and its
 * summary line's event count into *events. */
static void
verify_ok(struct dr *d, uint64_t *events)
{
	char out[300], err[300], *text, *p;
	const char *const args[] = { "verify", "--ledger", d->ledger_dir, "--vkey", d->fx.vkey,
	    "--keyring", kr_path, NULL };
	int rc;

	snprintf(out, sizeof(out), "%s/verify.out", d->fx.dir);
	snprintf(err, sizeof(err), "%s/verify.err", d->fx.dir);
	rc = dr_saksi(0, out, err, args);
	text = fx_read(out, NULL);
	printf("# %s", text);
	if (rc != 0) {
		char *e = fx_read(err, NULL);
		printf("# %s", e);
		free(e);
	}
	assert_int_equal(rc, 0);
	assert_non_null(p = strstr(text, "(events "));
	*events = strtoull(p + 8, NULL, 10);
	free(text);
}

/* ---- a key added, the same keyring, a broken file, a key revoked ---- */

static void
test_reload_keys(void **state)
{
	struct dr *d = *state;
	saksi_seckey *x;
	saksi_pubkey pub;
	char hex[17], sha[65], want[512], *log, *text, *bak;
	uint64_t idx, entry, entry2, size;
	json_t *st, *k;
	size_t n;

	x = dr_new_key(&d->fx, "kiosk-x", "x.key", NULL);
	assert_int_equal(saksi_seckey_public(x, &pub), SAKSI_OK);
	sodium_bin2hex(hex, sizeof(hex), pub.pk_id, SAKSI_KEYID_LEN);
	dr_start(d);

	/* The status names the keyring in force: the start's, entry 0, no reload yet. */
	st = status_json(d);
	k = json_object_get(st, "keyring");
	assert_true(json_is_object(k));
	assert_string_equal(json_string_value(json_object_get(k, "file")), kr_path);
	file_sha(kr_path, sha);
	assert_string_equal(json_string_value(json_object_get(k, "sha256")), sha);
	assert_int_equal(jint(k, "count", NULL), d->fx.nprod);
	assert_int_equal(jint(k, "entry", NULL), 0);
	assert_int_equal(jint(k, "entries", NULL), 1);
	assert_true(json_is_null(json_object_get(k, "last_reload")));
	json_decref(st);

	/* Not in the keyring: refused as unknown, before the reload. */
	assert_int_equal(submit_key(d, x, 1, NULL), SAKSI_R_UNKNOWN_KEY);

	/* Added, then a reload: recorded, and accepted from then on. */
	dr_keyring_add(&d->fx, x, "kiosk-x", "queue", FX_BRANCH, 0);
	fx_write(kr_path, d->fx.keyring_json, strlen(d->fx.keyring_json), 0644);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	log = await_log_n(d, "keyring.json reloaded: recorded at entry ", 1);
	printf("# saksid's log:\n%s", log);
	entry = strtoull(strstr(log, "reloaded: recorded at entry ") + 28, NULL, 10);
	snprintf(want, sizeof(want), "1 change: 1 added, 0 revoked, 0 changed, 0 removed\n");
	assert_non_null(strstr(log, want));
	snprintf(want, sizeof(want), "keyring.json: key %s (kiosk-x, role queue, branch "
	    "KC-MAKASSAR): added\n", hex);
	assert_non_null(strstr(log, want));
	free(log);
	assert_int_equal(leaf_kind(d->ledger_dir, entry), SAKSI_LEAF_KEYRING);
	assert_int_equal(submit_key(d, x, 2, &idx), SAKSI_R_ACCEPTED);
	assert_true(idx > entry);
	st = status_json(d);
	k = json_object_get(st, "keyring");
	assert_int_equal(jint(k, "entry", NULL), entry);
	assert_int_equal(jint(k, "count", NULL), d->fx.nprod + 1);
	file_sha(kr_path, sha);
	assert_string_equal(json_string_value(json_object_get(k, "sha256")), sha);
	assert_true(json_is_true(json_object_get(json_object_get(k, "last_reload"), "ok")));
	assert_true(json_is_true(json_object_get(json_object_get(k, "last_reload"),
	    "changed")));
	size = (uint64_t)jint(st, "ledger", "entries");
	json_decref(st);

	/* The same keyring, spelt otherwise (compact): nothing written. */
	{
		json_t *j = json_loads(d->fx.keyring_json, 0, NULL);
		char *compact = json_dumps(j, JSON_COMPACT);

		fx_write(kr_path, compact, strlen(compact), 0644);
		free(compact);
		json_decref(j);
	}
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	free(await_log_n(d, "keyring.json reloaded: unchanged, nothing recorded", 1));
	st = status_json(d);
	assert_int_equal(jint(st, "ledger", "entries"), size);
	k = json_object_get(st, "keyring");
	assert_int_equal(jint(k, "entry", NULL), entry);
	file_sha(kr_path, sha);
	assert_string_equal(json_string_value(json_object_get(k, "sha256")), sha);
	assert_true(json_is_false(json_object_get(json_object_get(k, "last_reload"),
	    "changed")));
	json_decref(st);

	/* A file that does not load: logged with its reason, the keyring stays. */
	bak = fx_read(kr_path, &n);
	fx_write(kr_path, "{\"saksi_keyring\": 1, \"roles\": ", 30, 0644);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	log = await_log_n(d, "keyring.json not reloaded: ", 1);
	snprintf(want, sizeof(want), "the keyring in force stays (entry %llu, %zu keys)\n",
	    (unsigned long long)entry, d->fx.nprod + 1);
	assert_non_null(strstr(log, want));
	free(log);
	assert_int_equal(submit_key(d, x, 3, NULL), SAKSI_R_ACCEPTED);
	st = status_json(d);
	k = json_object_get(st, "keyring");
	assert_int_equal(jint(k, "entry", NULL), entry);
	assert_string_equal(json_string_value(json_object_get(k, "sha256")), sha);
	assert_true(json_is_false(json_object_get(json_object_get(k, "last_reload"), "ok")));
	assert_non_null(json_string_value(json_object_get(json_object_get(k, "last_reload"),
	    "error")));
	json_decref(st);
	text = status_text(d, NULL);
	printf("# saksi status:\n%s", text);
	assert_non_null(strstr(text, "FAILED, the keyring above stays"));
	free(text);
	/* A file that is gone: the same. */
	assert_int_equal(unlink(kr_path), 0);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	free(await_log_n(d, "keyring.json not reloaded: ", 2));
	fx_write(kr_path, bak, n, 0644);
	free(bak);

	/* Revoked: recorded, and refused as revoked at once, counted. */
	keyring_revoke(&d->fx, "kiosk-x", 1000);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	log = await_log_n(d, "keyring.json reloaded: recorded at entry ", 2);
	entry2 = strtoull(strstr(strstr(log, "reloaded: recorded at entry ") + 1,
	    "reloaded: recorded at entry ") + 28, NULL, 10);
	assert_true(entry2 > entry);
	assert_non_null(strstr(log, "1 change: 0 added, 1 revoked, 0 changed, 0 removed\n"));
	snprintf(want, sizeof(want), "key %s (kiosk-x): not revoked -> revoked at 1000\n", hex);
	assert_non_null(strstr(log, want));
	free(log);
	assert_int_equal(submit_key(d, x, 4, NULL), SAKSI_R_REVOKED_KEY);
	assert_int_equal(submit_key(d, d->fx.prod[FX_QUEUE], 1, NULL), SAKSI_R_ACCEPTED);
	st = status_json(d);
	assert_int_equal(jint(st, "refused", "revoked_key"), 1);
	assert_int_equal(jint(st, "refused", "unknown_key"), 1);
	assert_int_equal(jint(json_object_get(st, "keyring"), "entry", NULL), entry2);
	json_decref(st);
	text = status_text(d, "--prometheus");
	snprintf(want, sizeof(want), "\nsaksi_keyring_entry %llu\n", (unsigned long long)entry2);
	assert_non_null(strstr(text, want));
	assert_non_null(strstr(text, "\nsaksi_keyring_last_reload_ok 1\n"));
	free(text);
	dr_stop(d, SIGTERM);
	assert_int_equal(leaf_kind(d->ledger_dir, entry2), SAKSI_LEAF_KEYRING);
	/* Each event checked against the keyring in force at its leaf. */
	verify_ok(d, &idx);
	assert_int_equal(idx, 3);
	saksi_seckey_free(x);
}

/* ---- a revocation while producers send ---- */

#define STREAM_ITEMS 600   /* per producer, built before: ample for the waits below */
#define STREAM_BATCH 3

struct producer {
	const char *url;
	struct fx_item *items;
	int codes[STREAM_ITEMS];
	int after[STREAM_ITEMS];       /* sent after the test saw the reload's log line */
	atomic_size_t sent, accepted, revoked;
	atomic_int *stop, *reloaded;
	atomic_size_t *limit;          /* items it may have sent so far (the test raises it) */
	int failed;                    /* a reply that could not be read */
};

/* Submits its items in batches, one request at a time, until told to stop. No cmocka
 * assert here (another thread): failures are recorded and checked by the test. */
static void *
producer_main(void *arg)
{
	struct producer *p = arg;
	int s = nn_socket(AF_SP, NN_REQ), to = 60000, max = -1;

	if (s < 0 || nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &to, sizeof(to)) < 0 ||
	    nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max, sizeof(max)) < 0 ||
	    nn_connect(s, p->url) < 0) {
		p->failed = 1;
		return NULL;
	}
	for (size_t i = 0; i + STREAM_BATCH <= STREAM_ITEMS && !atomic_load(p->stop);
	     i += STREAM_BATCH) {
		size_t len = 4, off = 4;
		uint8_t *req, *r;
		void *buf = NULL;
		int n, after;

		/* Held back at the limit, so that a fast machine does not run out of items
		 * before the test has seen what it waits for. */
		while (i + STREAM_BATCH > atomic_load(p->limit) && !atomic_load(p->stop)) {
			struct timespec ts = { 0, 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (atomic_load(p->stop))
			break;
		after = atomic_load(p->reloaded);

		for (size_t j = i; j < i + STREAM_BATCH; j++)
			len += 8 + p->items[j].env_len + p->items[j].sealed_len;
		if ((req = malloc(len)) == NULL) {
			p->failed = 1;
			break;
		}
		req[0] = 1;
		req[1] = SAKSI_OP_SUBMIT;
		saksi_put_u16(req + 2, STREAM_BATCH);
		for (size_t j = i; j < i + STREAM_BATCH; j++) {
			const struct fx_item *it = &p->items[j];

			saksi_put_u32(req + off, (uint32_t)it->env_len);
			memcpy(req + off + 4, it->env, it->env_len);
			off += 4 + it->env_len;
			saksi_put_u32(req + off, (uint32_t)it->sealed_len);
			memcpy(req + off + 4, it->sealed, it->sealed_len);
			off += 4 + it->sealed_len;
		}
		n = nn_send(s, req, len, 0);
		free(req);
		if (n != (int)len || (n = nn_recv(s, &buf, NN_MSG, 0)) < 5) {
			p->failed = 1;
			break;
		}
		r = buf;
		off = 5;
		if (r[2] != 0 || saksi_get_u16(r + 3) != STREAM_BATCH)
			p->failed = 1;
		for (size_t j = i; j < i + STREAM_BATCH && !p->failed; j++) {
			if (off + 5 > (size_t)n || off + 5 + saksi_get_u32(r + off + 1) > (size_t)n) {
				p->failed = 1;
				break;
			}
			p->codes[j] = r[off];
			p->after[j] = after;
			off += 5 + saksi_get_u32(r + off + 1);
			if (p->codes[j] == SAKSI_R_ACCEPTED)
				atomic_fetch_add(&p->accepted, 1);
			else if (p->codes[j] == SAKSI_R_REVOKED_KEY)
				atomic_fetch_add(&p->revoked, 1);
		}
		nn_freemsg(buf);
		atomic_store(&p->sent, i + STREAM_BATCH);
		if (p->failed)
			break;
	}
	nn_close(s);
	return NULL;
}

static void
await_count(struct dr *d, atomic_size_t *c, size_t n, const struct producer *p)
{
	for (int i = 0; i < 6000 && atomic_load(c) < n; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		assert_int_equal(waitpid(d->pid, NULL, WNOHANG), 0);
		assert_false(p->failed);
		assert_true(atomic_load(&p->sent) < STREAM_ITEMS);
		nanosleep(&ts, NULL);
	}
	assert_true(atomic_load(c) >= n);
}

static void
test_reload_stream(void **state)
{
	struct dr *d = *state;
	struct producer pa, pb;
	pthread_t ta, tb;
	atomic_int stop = 0, reloaded = 0;
	atomic_size_t limit = STREAM_ITEMS / 2;
	char name[32], *p = fx_payload("queue.booking.created", NULL), *log;
	size_t accepted = 0, revoked_b = 0, i;
	uint64_t events, now = wall_ms();
	json_t *st;

	/* The items first, signed now: the producers only send. */
	memset(&pa, 0, sizeof(pa));
	memset(&pb, 0, sizeof(pb));
	assert_non_null(pa.items = calloc(STREAM_ITEMS, sizeof(*pa.items)));
	assert_non_null(pb.items = calloc(STREAM_ITEMS, sizeof(*pb.items)));
	for (i = 0; i < STREAM_ITEMS; i++) {
		fx_build(&d->fx, d->fx.prod[FX_QUEUE], "queue.booking.created", p, i + 1, now,
		         &pa.items[i]);
		fx_build(&d->fx, d->fx.prod[FX_NFIXED], "queue.booking.created", p, i + 1, now,
		         &pb.items[i]);
	}
	free(p);
	dr_start(d);
	pa.url = pb.url = d->url;
	pa.stop = pb.stop = &stop;
	pa.reloaded = pb.reloaded = &reloaded;
	pa.limit = pb.limit = &limit;
	assert_int_equal(pthread_create(&ta, NULL, producer_main, &pa), 0);
	assert_int_equal(pthread_create(&tb, NULL, producer_main, &pb), 0);

	/* Both flowing, then B revoked (from now) while they send. */
	await_count(d, &pa.accepted, 30, &pa);
	await_count(d, &pb.accepted, 30, &pb);
	snprintf(name, sizeof(name), "producer-%d", FX_NFIXED);
	keyring_revoke(&d->fx, name, wall_ms());
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	free(await_log_n(d, "keyring.json reloaded: recorded at entry ", 1));
	atomic_store(&reloaded, 1);
	atomic_store(&limit, STREAM_ITEMS);
	/* B refused from then on, A still accepted. */
	await_count(d, &pb.revoked, 30, &pb);
	{
		size_t a = atomic_load(&pa.accepted);
		await_count(d, &pa.accepted, a + 30, &pa);
	}
	atomic_store(&stop, 1);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_false(pa.failed);
	assert_false(pb.failed);

	/* Every item answered: A's all accepted; B's accepted, then revoked, never again
	 * accepted once refused, and refused for every request sent after the reload. */
	for (i = 0; i < atomic_load(&pa.sent); i++)
		assert_int_equal(pa.codes[i], SAKSI_R_ACCEPTED);
	for (i = 0; i < atomic_load(&pb.sent); i++) {
		if (pb.codes[i] == SAKSI_R_REVOKED_KEY) {
			revoked_b++;
			continue;
		}
		assert_int_equal(pb.codes[i], SAKSI_R_ACCEPTED);
		assert_int_equal(revoked_b, 0);
		assert_false(pb.after[i]);
	}
	accepted = atomic_load(&pa.sent) + atomic_load(&pb.sent) - revoked_b;
	printf("# A sent %zu, B sent %zu, B refused as revoked %zu\n", atomic_load(&pa.sent),
	    atomic_load(&pb.sent), revoked_b);
	st = status_json(d);
	assert_int_equal(jint(st, "refused", "revoked_key"), revoked_b);
	assert_int_equal(jint(st, "accepted", NULL), accepted);
	printf("# rechecked by the committer: %lld\n",
	    (long long)jint(st, "keyring", "rechecked"));
	json_decref(st);
	log = fx_read(d->errlog, NULL);
	assert_null(strstr(log, "error"));
	free(log);
	dr_stop(d, SIGTERM);
	/* No event lost, none that the keyring in force at its leaf rejects. */
	verify_ok(d, &events);
	assert_int_equal(events, accepted);
	for (i = 0; i < STREAM_ITEMS; i++) {
		fx_item_free(&pa.items[i]);
		fx_item_free(&pb.items[i]);
	}
	free(pa.items);
	free(pb.items);
}

/* ---- the sandboxed saksid reads the file again ---- */

static void
test_reload_sandboxed(void **state)
{
	struct dr *d = *state;
	struct passwd *pw = getpwnam("nobody");
	char run[128], text[2048], hex[17], want[256], *log;
	saksi_seckey *x;
	saksi_pubkey pub;
	uint64_t events;

	if (geteuid() != 0 || pw == NULL) {
		print_message("not root, or no account nobody: no root to drop\n");
		skip();
	}
	/* nobody must reach the keyring, the state and the socket: the test dir is 0700. */
	assert_int_equal(chmod(d->fx.dir, 0755), 0);
	snprintf(run, sizeof(run), "%s/run", d->fx.dir);
	assert_int_equal(mkdir(run, 0755), 0);
	assert_int_equal(chown(run, pw->pw_uid, pw->pw_gid), 0);
	snprintf(d->url, sizeof(d->url), "ipc://%s/ingest.sock", run);
	snprintf(text, sizeof(text), "# generated for a saksi test\norigin = %s\n"
	    "state_dir = state\nlisten = %s\nkeyring = keyring.json\nlog_key = log.key\n"
	    "box_key = box.key\nstore_key = store.key\nschemas_dir = %s/schemas/events\n"
	    "group_wait_us = 0\nworkers = 2\nmap_size_mb = 64\nuser = nobody\n"
	    "seccomp = yes\n", FX_ORIGIN, d->url, SAKSI_SOURCE_DIR);
	fx_write(d->conf, text, strlen(text), 0644);
	dr_start(d);
	free(await_log_n(d, "sandbox: dropped root for user nobody, no_new_privs, no core "
	    "dumps, seccomp on", 1));

	x = dr_new_key(&d->fx, "kiosk-y", "y.key", NULL);
	assert_int_equal(saksi_seckey_public(x, &pub), SAKSI_OK);
	sodium_bin2hex(hex, sizeof(hex), pub.pk_id, SAKSI_KEYID_LEN);
	assert_int_equal(submit_key(d, x, 1, NULL), SAKSI_R_UNKNOWN_KEY);
	dr_keyring_add(&d->fx, x, "kiosk-y", "queue", FX_BRANCH, 0);
	fx_write(kr_path, d->fx.keyring_json, strlen(d->fx.keyring_json), 0644);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	log = await_log_n(d, "keyring.json reloaded: recorded at entry ", 1);
	snprintf(want, sizeof(want), "key %s (kiosk-y, role queue, branch KC-MAKASSAR): "
	    "added\n", hex);
	assert_non_null(strstr(log, want));
	free(log);
	assert_int_equal(submit_key(d, x, 2, NULL), SAKSI_R_ACCEPTED);
	/* A file nobody may not read: refused with the reason, the keyring stays. */
	assert_int_equal(chmod(kr_path, 0600), 0);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	log = await_log_n(d, "keyring.json not reloaded: ", 1);
	assert_non_null(strstr(log, "keyring.json: Permission denied; the keyring in force "
	    "stays"));
	free(log);
	assert_int_equal(submit_key(d, x, 3, NULL), SAKSI_R_ACCEPTED);
	dr_stop(d, SIGTERM);
	assert_int_equal(chmod(kr_path, 0644), 0);
	verify_ok(d, &events);
	assert_int_equal(events, 2);
	saksi_seckey_free(x);
}

/* ---- remote queries follow the keyring in force ---- */

/* A masked query by k over url: the reply's status, its one-line reason into msg. */
static int
query_status(const char *url, const struct fx *fx, const saksi_seckey *k, char *msg,
             size_t msglen)
{
	saksi_rq_params p;
	uint8_t *req, *body = NULL;
	size_t len, blen;
	int status = -1;

	memset(&p, 0, sizeof(p));
	p.rp_command = SAKSI_RQ_QUERY;
	p.rp_limit = 5;
	p.rp_time_ms = wall_ms();
	p.rp_value[SAKSI_IX_BRANCH] = FX_BRANCH;
	assert_int_equal(saksi_rq_request_make(k, fx->box_pub.pk_key, &p, &req, &len), SAKSI_OK);
	assert_int_equal(saksi_rq_exchange(url, 60000, req, len, &status, &body, &blen),
	    SAKSI_OK);
	snprintf(msg, msglen, "%s", status != 0 ? (const char *)body : "");
	free(body);
	free(req);
	return status;
}

/*
 * A query by k over url: masked, or a personal look (by nik, revealed if reveal). Its
 * status, the reason into msg; answered, the reply opened with k (signed by the log
 * key, for this request) and its access entry's index into *access (UINT64_MAX: none).
 */
static int
query_ask(struct dr *d, const saksi_seckey *k, const char *nik, int reveal, char *msg,
          size_t msglen, uint64_t *access)
{
	saksi_rq_params p;
	uint8_t *req, *body = NULL, hash[32];
	size_t len, blen, jlen;
	uint64_t size;
	char *json = NULL;
	int status = -1;

	memset(&p, 0, sizeof(p));
	p.rp_command = SAKSI_RQ_QUERY;
	p.rp_limit = 5;
	p.rp_time_ms = wall_ms();
	p.rp_reveal = reveal;
	p.rp_value[SAKSI_IX_NIK] = nik;
	p.rp_value[SAKSI_IX_BRANCH] = nik == NULL ? FX_BRANCH : NULL;
	assert_int_equal(saksi_rq_request_make(k, d->fx.box_pub.pk_key, &p, &req, &len),
	    SAKSI_OK);
	saksi_rq_request_hash(req, len, hash);
	assert_int_equal(saksi_rq_exchange(d->url, 60000, req, len, &status, &body, &blen),
	    SAKSI_OK);
	free(req);
	msg[0] = '\0';
	*access = UINT64_MAX;
	if (status != 0)
		snprintf(msg, msglen, "%s", (const char *)body);
	else {
		assert_int_equal(saksi_rq_reply_open(body, blen, d->fx.v.nv_pk, hash, k, access,
		    &size, &json, &jlen), SAKSI_OK);
		sodium_memzero(json, jlen);
		free(json);
	}
	free(body);
	return status;
}

/* The access entry at index (read while saksid runs): signed by the access key acc,
 * for the requester key hex. */
static void
access_at(struct dr *d, uint64_t index, const saksi_seckey *acc, const char *hex)
{
	saksi_ledger_opts o;
	saksi_ledger *l = NULL;
	saksi_ledger_txn *t;
	saksi_leaf lf;
	saksi_envelope ev;
	uint8_t *leaf;
	size_t len;
	json_t *p;

	memset(&o, 0, sizeof(o));
	o.lo_readonly = 1;
	assert_int_equal(saksi_ledger_open(d->ledger_dir, NULL, NULL, &o, &l), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_leaf(t, index, &leaf, &len), SAKSI_OK);
	assert_int_equal(saksi_leaf_parse(leaf, len, &lf), SAKSI_OK);
	assert_int_equal(lf.lf_kind, SAKSI_LEAF_EVENT);
	assert_int_equal(saksi_envelope_parse(lf.lf_body, lf.lf_body_len, &ev), SAKSI_OK);
	assert_string_equal(ev.ev_type, "supervisor.access.logged");
	assert_memory_equal(ev.ev_key_id, saksi_seckey_id(acc), SAKSI_KEYID_LEN);
	assert_non_null(p = json_loadb((const char *)ev.ev_payload, ev.ev_payload_len, 0,
	    NULL));
	assert_string_equal(json_string_value(json_object_get(p, "key_id")), hex);
	assert_true(json_is_true(json_object_get(p, "personal_filter")));
	json_decref(p);
	free(leaf);
	saksi_ledger_abort(t);
	saksi_ledger_close(l);
}

/* The ledger entry the log's n-th "reloaded: recorded at entry " names. */
static uint64_t
reload_entry(struct dr *d, size_t n)
{
	char *log = await_log_n(d, "keyring.json reloaded: recorded at entry ", n), *p = log;
	uint64_t e;

	for (size_t i = 0; i < n; i++)
		p = strstr(p, "reloaded: recorded at entry ") + 1;
	e = strtoull(p - 1 + 28, NULL, 10);
	free(log);
	return e;
}

static void
test_reload_query(void **state)
{
	struct dr *d = *state;
	saksi_seckey *acc, *sup, *ix, *sup2;
	char path[300], msg[256], hex[17], hex2[17], want[256];
	uint64_t access, e1;
	static const char nik[] = "7371012345600001";

	/* Remote queries on: an index key, an access key, a supervisor's key. */
	acc = dr_new_key(&d->fx, "access", "access.key", NULL);
	sup = dr_new_key(&d->fx, "supervisor", "sup.key", NULL);
	sodium_bin2hex(hex, sizeof(hex), saksi_seckey_id(sup), SAKSI_KEYID_LEN);
	ix = fx_key(d->fx.seed, "index", SAKSI_KEY_SYM);
	snprintf(path, sizeof(path), "%s/index.key", d->fx.dir);
	assert_int_equal(saksi_seckey_save(ix, path, NULL, "test index key"), SAKSI_OK);
	saksi_seckey_free(ix);
	dr_keyring_add(&d->fx, acc, "access", "supervisor", "*", 0);
	dr_keyring_add(&d->fx, sup, "sup-1", "supervisor", "*", 0);
	fx_write(kr_path, d->fx.keyring_json, strlen(d->fx.keyring_json), 0644);
	dr_write_conf(d->conf, "group_wait_us = 0\nworkers = 2\nmap_size_mb = 64\n"
	    "index_key = index.key\naccess_key = access.key\n");
	dr_start(d);
	assert_int_equal(submit_key(d, d->fx.prod[FX_QUEUE], 1, NULL), SAKSI_R_ACCEPTED);
	assert_int_equal(query_status(d->url, &d->fx, sup, msg, sizeof(msg)), 0);

	/* A supervisory officer's key not in the keyring: refused as unknown. */
	sup2 = dr_new_key(&d->fx, "supervisor-2", "sup2.key", NULL);
	sodium_bin2hex(hex2, sizeof(hex2), saksi_seckey_id(sup2), SAKSI_KEYID_LEN);
	assert_int_equal(query_ask(d, sup2, NULL, 0, msg, sizeof(msg), &access),
	    SAKSI_R_UNKNOWN_KEY);
	snprintf(want, sizeof(want), "key %s is not in the keyring", hex2);
	assert_string_equal(msg, want);
	/* Added by a reload: answered at once, no restart; a personal look's access entry
	 * follows the keyring entry that added the key, and names him. */
	dr_keyring_add(&d->fx, sup2, "sup-2", "supervisor", "*", 0);
	fx_write(kr_path, d->fx.keyring_json, strlen(d->fx.keyring_json), 0644);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	e1 = reload_entry(d, 1);
	assert_int_equal(query_ask(d, sup2, NULL, 0, msg, sizeof(msg), &access), 0);
	assert_int_equal(access, UINT64_MAX);
	assert_int_equal(query_ask(d, sup2, nik, 1, msg, sizeof(msg), &access), 0);
	assert_true(access != UINT64_MAX && access > e1);
	access_at(d, access, acc, hex2);
	/* Its role changed by a reload to security: masked only, from then on. */
	keyring_set(&d->fx, "sup-2", "role", "security");
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	(void)reload_entry(d, 2);
	assert_int_equal(query_ask(d, sup2, nik, 1, msg, sizeof(msg), &access), SAKSI_R_ROLE);
	snprintf(want, sizeof(want), "key %s has role security: it may query masked, never "
	    "reveal", hex2);
	assert_string_equal(msg, want);
	assert_int_equal(query_ask(d, sup2, NULL, 0, msg, sizeof(msg), &access), 0);
	/* ... and to ombudsman: no rows at all. */
	keyring_set(&d->fx, "sup-2", "role", "ombudsman");
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	(void)reload_entry(d, 3);
	assert_int_equal(query_ask(d, sup2, NULL, 0, msg, sizeof(msg), &access), SAKSI_R_ROLE);
	assert_non_null(strstr(msg, "has role ombudsman"));
	/* Back to supervisor: a personal look again, its entry names him. */
	keyring_set(&d->fx, "sup-2", "role", "supervisor");
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	e1 = reload_entry(d, 4);
	assert_int_equal(query_ask(d, sup2, nik, 0, msg, sizeof(msg), &access), 0);
	assert_true(access != UINT64_MAX && access > e1);
	access_at(d, access, acc, hex2);

	/* Revoked by a reload: its queries are refused from then on, as revoked. */
	keyring_revoke(&d->fx, "sup-1", 1000);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	free(await_log_n(d, "keyring.json reloaded: recorded at entry ", 5));
	assert_int_equal(query_status(d->url, &d->fx, sup, msg, sizeof(msg)),
	    SAKSI_R_REVOKED_KEY);
	snprintf(want, sizeof(want), "key %s is revoked", hex);
	assert_string_equal(msg, want);
	/* Removed (the keyring of the start only): refused as unknown. */
	{
		json_t *root = json_loads(d->fx.keyring_json, 0, NULL), *keys, *k;
		size_t i;

		assert_non_null(root);
		keys = json_object_get(root, "keys");
		json_array_foreach(keys, i, k)
			if (strcmp(json_string_value(json_object_get(k, "name")), "sup-1") == 0)
				break;
		assert_int_equal(json_array_remove(keys, i), 0);
		free(d->fx.keyring_json);
		assert_non_null(d->fx.keyring_json = json_dumps(root, JSON_INDENT(2)));
		json_decref(root);
		fx_write(kr_path, d->fx.keyring_json, strlen(d->fx.keyring_json), 0644);
	}
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	free(await_log_n(d, "keyring.json reloaded: recorded at entry ", 6));
	assert_int_equal(query_status(d->url, &d->fx, sup, msg, sizeof(msg)),
	    SAKSI_R_UNKNOWN_KEY);
	snprintf(want, sizeof(want), "key %s is not in the keyring", hex);
	assert_string_equal(msg, want);
	/* The key the reloads added still queries. */
	assert_int_equal(query_ask(d, sup2, NULL, 0, msg, sizeof(msg), &access), 0);
	/* The events go on. */
	assert_int_equal(submit_key(d, d->fx.prod[FX_QUEUE], 2, NULL), SAKSI_R_ACCEPTED);
	{
		/* unknown x2, role x2, revoked x1: each counted just after its reply left,
		 * so waited for (bounded). */
		json_int_t n = 0;

		for (int i = 0; i < 6000 && n < 5; i++) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			json_t *st = status_json(d);

			n = jint(st, "requests", "queries_refused");
			json_decref(st);
			if (n < 5)
				nanosleep(&ts, NULL);
		}
		assert_int_equal(n, 5);
	}
	dr_stop(d, SIGTERM);
	/* Each access entry checked against the keyring in force at its leaf: its
	 * requester (added by a reload) is in it, and its signature verifies. */
	{
		uint64_t events;

		verify_ok(d, &events);
	}
	saksi_seckey_free(acc);
	saksi_seckey_free(sup);
	saksi_seckey_free(sup2);
}

/* ---- verify-bundle with the keyrings a bundle proves ---- */

static void
test_reload_bundle(void **state)
{
	struct dr *d = *state;
	saksi_seckey *x, *sup;
	char old_kr[300], sup_path[DR_NAME_LEN], bundle[300], bundle0[300], out[300],
	    err[300], l1[24], l2[24], *text;
	uint64_t e1, e2;

	/* A supervisor who exports; the keyring file of the start kept aside. */
	sup = dr_new_key(&d->fx, "supervisor", "sup.key", sup_path);
	dr_keyring_add(&d->fx, sup, "spi-1", "supervisor", "*", 0);
	fx_write(kr_path, d->fx.keyring_json, strlen(d->fx.keyring_json), 0644);
	snprintf(old_kr, sizeof(old_kr), "%s/keyring-start.json", d->fx.dir);
	fx_write(old_kr, d->fx.keyring_json, strlen(d->fx.keyring_json), 0644);
	snprintf(bundle, sizeof(bundle), "%s/case.bundle", d->fx.dir);
	snprintf(bundle0, sizeof(bundle0), "%s/case0.bundle", d->fx.dir);
	snprintf(out, sizeof(out), "%s/out", d->fx.dir);
	snprintf(err, sizeof(err), "%s/err", d->fx.dir);
	dr_start(d);
	assert_int_equal(submit_key(d, d->fx.prod[FX_QUEUE], 1, &e1), SAKSI_R_ACCEPTED);
	/* A key added by a reload, and an event of it. */
	x = dr_new_key(&d->fx, "kiosk-b", "b.key", NULL);
	dr_keyring_add(&d->fx, x, "kiosk-b", "queue", FX_BRANCH, 0);
	fx_write(kr_path, d->fx.keyring_json, strlen(d->fx.keyring_json), 0644);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	free(await_log_n(d, "keyring.json reloaded: recorded at entry ", 1));
	assert_int_equal(submit_key(d, x, 1, &e2), SAKSI_R_ACCEPTED);
	snprintf(l1, sizeof(l1), "%llu", (unsigned long long)e1);
	snprintf(l2, sizeof(l2), "%llu", (unsigned long long)e2);
	{
		/* With the keyrings in force at its events, and without. */
		const char *const with[] = { "bundle", "--config", d->conf, "--case", "C-KR",
		    "--leaf", l1, "--leaf", l2, "--decrypted", "-k", sup_path, "-o", bundle,
		    "--keyrings", NULL };
		const char *const without[] = { "bundle", "--config", d->conf, "--case", "C-KR0",
		    "--leaf", l1, "--leaf", l2, "--decrypted", "-k", sup_path, "-o", bundle0,
		    NULL };

		assert_int_equal(dr_saksi(0, out, err, with), 0);
		assert_int_equal(dr_saksi(0, out, err, without), 0);
	}
	dr_stop(d, SIGTERM);
	{
		/* The start's keyring file lacks the key added since: the bundle proves it. */
		const char *const args[] = { "verify-bundle", bundle, "--vkey", d->fx.vkey,
		    "--keyring", old_kr, NULL };
		const char *const args0[] = { "verify-bundle", bundle0, "--vkey", d->fx.vkey,
		    "--keyring", old_kr, NULL };
		const char *const jargs[] = { "verify-bundle", bundle, "--vkey", d->fx.vkey,
		    "--keyring", old_kr, "--json", NULL };
		json_t *j;

		assert_int_equal(dr_saksi(0, out, err, args), 0);
		text = fx_read(out, NULL);
		printf("# %s", text);
		/* e1 after the start's keyring (entry 0), e2 and the access entry after the
		 * reload's: all three checked with proved keyrings. */
		assert_non_null(strstr(text, "keyring: 3 of 3 events checked with the 2 keyrings "
		    "the bundle proves"));
		free(text);
		assert_int_equal(dr_saksi(0, out, err, jargs), 0);
		text = fx_read(out, NULL);
		assert_non_null(j = json_loads(text, 0, NULL));
		free(text);
		assert_int_equal(jint(j, "keyrings", "proved"), 2);
		assert_int_equal(jint(j, "keyrings", "events"), 3);
		json_decref(j);
		/* Without them, the file decides: the key added since is unknown to it. */
		assert_int_equal(dr_saksi(0, out, err, args0), 1);
		text = fx_read(err, NULL);
		printf("# %s", text);
		assert_non_null(strstr(text, "is not in the keyring"));
		free(text);
	}
	saksi_seckey_free(x);
	saksi_seckey_free(sup);
}

/* ---- a producer's outbox and a key the keyring does not hold yet ---- */

struct deads {
	size_t n;
	uint64_t id[8];
	int code[8];
};

static void
dead_one(void *arg, const saksi_outbox_dead *dl)
{
	struct deads *ds = arg;

	if (ds->n < 8) {
		ds->id[ds->n] = dl->od_id;
		ds->code[ds->n] = dl->od_code;
	}
	ds->n++;
}

/*
 * The outbox keeps an unknown_key refusal as a dead letter and never sends it again,
 * before the reload or after; the producer queues those events again as new ones (new
 * seqs) once the reload has added its key, and they are delivered.
 */
static void
test_reload_outbox(void **state)
{
	struct dr *d = *state;
	saksi_outbox_opts oo;
	saksi_outbox *ob;
	saksi_outbox_flush_result fr;
	saksi_outbox_status os;
	saksi_client_opts co;
	saksi_client *c;
	saksi_seckey *x;
	struct deads ds;
	char dir[300], *p[2];
	uint64_t t[2], id, seq, events;

	x = dr_new_key(&d->fx, "kiosk-o", "o.key", NULL);
	dr_start(d);
	snprintf(dir, sizeof(dir), "%s/outbox", d->fx.dir);
	memset(&oo, 0, sizeof(oo));
	oo.ob_log = &d->fx.v;
	oo.ob_key = x;
	oo.ob_box_pk = d->fx.box_pub.pk_key;
	oo.ob_schemas = d->fx.sc;
	assert_int_equal(saksi_outbox_open(dir, &oo, &ob), SAKSI_OK);
	memset(&co, 0, sizeof(co));
	co.co_url = d->url;
	co.co_timeout_ms = 60000;
	assert_int_equal(saksi_client_open(&co, &c), SAKSI_OK);

	/* Sent before the key is in the keyring: two dead letters, the queue empty. */
	for (int i = 0; i < 2; i++) {
		p[i] = fx_payload("queue.booking.created", NULL);
		t[i] = wall_ms();
		assert_int_equal(saksi_outbox_enqueue_event(ob, "queue.booking.created", p[i],
		    t[i], 0, &seq, &id), SAKSI_OK);
		assert_int_equal(seq, (uint64_t)i + 1);
	}
	assert_int_equal(saksi_outbox_flush(ob, c, 0, 0, NULL, NULL, &fr), SAKSI_OK);
	assert_int_equal(fr.of_dead, 2);
	assert_int_equal(fr.of_delivered, 0);
	memset(&ds, 0, sizeof(ds));
	assert_int_equal(saksi_outbox_dead_list(ob, dead_one, &ds), SAKSI_OK);
	assert_int_equal(ds.n, 2);
	assert_int_equal(ds.code[0], SAKSI_R_UNKNOWN_KEY);
	assert_int_equal(ds.code[1], SAKSI_R_UNKNOWN_KEY);

	/* The reload adds the key: the dead letters stay where they are, unsent. */
	dr_keyring_add(&d->fx, x, "kiosk-o", "queue", FX_BRANCH, 0);
	fx_write(kr_path, d->fx.keyring_json, strlen(d->fx.keyring_json), 0644);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	free(await_log_n(d, "keyring.json reloaded: recorded at entry ", 1));
	assert_int_equal(saksi_outbox_flush(ob, c, 0, 0, NULL, NULL, &fr), SAKSI_OK);
	assert_int_equal(fr.of_sent, 0);
	assert_int_equal(saksi_outbox_stat(ob, &os), SAKSI_OK);
	assert_int_equal(os.os_pending, 0);
	assert_int_equal(os.os_dead, 2);

	/* Queued again as new events (same payload and time, new seqs): delivered. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(saksi_outbox_enqueue_event(ob, "queue.booking.created", p[i],
		    t[i], 0, &seq, &id), SAKSI_OK);
		assert_int_equal(seq, (uint64_t)i + 3);
		assert_int_equal(saksi_outbox_dead_remove(ob, ds.id[i]), SAKSI_OK);
		free(p[i]);
	}
	assert_int_equal(saksi_outbox_flush(ob, c, 0, 0, NULL, NULL, &fr), SAKSI_OK);
	assert_int_equal(fr.of_delivered, 2);
	assert_int_equal(fr.of_dead, 0);
	assert_int_equal(saksi_outbox_stat(ob, &os), SAKSI_OK);
	assert_int_equal(os.os_pending, 0);
	assert_int_equal(os.os_dead, 0);
	saksi_client_close(c);
	saksi_outbox_close(ob);
	dr_stop(d, SIGTERM);
	verify_ok(d, &events);
	assert_int_equal(events, 2);
	saksi_seckey_free(x);
}

/* ---- refused alert acknowledgements, told apart in the status ---- */

/* An ack of alert n signed by k with seq: its code. */
static int
submit_ack(struct dr *d, const saksi_seckey *k, uint64_t seq, uint64_t n)
{
	struct fx_item fi;
	char text[4096], payload[256];
	int code;

	snprintf(payload, sizeof(payload), "{\"branch\": \"%s\", \"officer_id\": \"sec-1\", "
	    "\"alert_id\": %llu, \"note\": \"checked\"}", FX_BRANCH, (unsigned long long)n);
	fx_build(&d->fx, k, "security.alert.acked", payload, seq, wall_ms(), &fi);
	code = dr_submit1(d->url, &fi, text, sizeof(text));
	fx_item_free(&fi);
	return code;
}

/*
 * Acks refused for each reason they can meet, and another event's schema refusal: the
 * status counts the acks apart (JSON, text, Prometheus), the refused total as before.
 */
static void
test_status_acks(void **state)
{
	struct dr *d = *state;
	saksi_seckey *sec;
	struct fx_item fi;
	char text[4096], *out;
	json_t *st, *ar;

	sec = dr_new_key(&d->fx, "security-1", "sec.key", NULL);
	dr_start(d);
	/* Not in the keyring yet: refused, but not counted as an ack (its type is the
	 * sender's unverified claim before the signature check). */
	assert_int_equal(submit_ack(d, sec, 1, 7), SAKSI_R_UNKNOWN_KEY);
	dr_keyring_add(&d->fx, sec, "sec-1", "security", FX_BRANCH, 0);
	fx_write(kr_path, d->fx.keyring_json, strlen(d->fx.keyring_json), 0644);
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	free(await_log_n(d, "keyring.json reloaded: recorded at entry ", 1));
	/* No open alert 7 (detection is off here), twice. */
	assert_int_equal(submit_ack(d, sec, 2, 7), SAKSI_R_SCHEMA);
	assert_int_equal(submit_ack(d, sec, 3, 8), SAKSI_R_SCHEMA);
	/* A queue key may not acknowledge. */
	assert_int_equal(submit_ack(d, d->fx.prod[FX_QUEUE], 1, 7), SAKSI_R_ROLE);
	/* A booking that fails its schema: a schema refusal, not an ack's. */
	fx_build(&d->fx, d->fx.prod[FX_QUEUE], "queue.booking.created",
	         "{\"branch\": \"" FX_BRANCH "\"}", 2, wall_ms(), &fi);
	assert_int_equal(dr_submit1(d->url, &fi, text, sizeof(text)), SAKSI_R_SCHEMA);
	fx_item_free(&fi);

	st = status_json(d);
	ar = json_object_get(json_object_get(st, "alerts"), "acks_refused");
	assert_true(json_is_object(ar));
	assert_int_equal(json_object_size(ar), SAKSI_R__COUNT - SAKSI_R_PARSE);
	assert_int_equal(jint(ar, "schema", NULL), 2);
	assert_int_equal(jint(ar, "role", NULL), 1);
	assert_int_equal(jint(ar, "unknown_key", NULL), 0);
	assert_int_equal(jint(st, "refused", "unknown_key"), 1);
	assert_int_equal(jint(ar, "revoked_key", NULL), 0);
	assert_int_equal(jint(st, "refused", "schema"), 3);
	assert_int_equal(jint(st, "refused", "role"), 1);
	json_decref(st);
	out = status_text(d, NULL);
	printf("# %s", strstr(out, "alert acks"));
	assert_non_null(strstr(out, "\nalert acks        3 refused since start: role 1, "
	    "schema 2 (no open alert of that number, or bad payload)\n"));
	free(out);
	out = status_text(d, "--prometheus");
	assert_non_null(strstr(out, "\nsaksi_alert_acks_refused_total{reason=\"schema\"} 2\n"));
	assert_non_null(strstr(out, "\nsaksi_alert_acks_refused_total{reason=\"role\"} 1\n"));
	assert_non_null(strstr(out, "\nsaksi_alert_acks_refused_total{reason=\"busy\"} 0\n"));
	free(out);
	dr_stop(d, SIGTERM);
	saksi_seckey_free(sec);
}

static int
setup(void **state)
{
	static struct dr sd;

	*state = &sd;
	dr_setup(&sd, 1);
	snprintf(kr_path, sizeof(kr_path), "%s/keyring.json", sd.fx.dir);
	dr_save_keys(&sd.fx, DR_KEYRING | DR_BOX_PUB);
	dr_write_conf(sd.conf, "group_wait_us = 0\nworkers = 2\nmap_size_mb = 64\n");
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reload_keys, setup, dr_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_reload_stream, setup, dr_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_reload_query, setup, dr_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_reload_bundle, setup, dr_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_reload_outbox, setup, dr_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_status_acks, setup, dr_cmocka_teardown),
		cmocka_unit_test_setup_teardown(test_reload_sandboxed, setup,
		                                dr_cmocka_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
