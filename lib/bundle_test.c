/*
 * bundle_test.c: evidence bundles over a real ledger in a mkdtemp() directory: built,
 * written, read back and verified, plain and sealed; then every tampering the format must
 * catch (a leaf byte, a proof hash, the checkpoint's signature, a disclosure, disclosures
 * swapped or added, an entry dropped or duplicated, evidence missing, the access entry
 * bent) failing with its reason and the entry named; and hostile files refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "bundle.h"
#include "envelope.h"
#include "ledger.h"
#include "note.h"
#include "rules.h"
#include "verify.h"
#include "../tests/keyring_fixture.h"
#include "../tests/ledger_fixture.h"
#include "../tests/tmpdir.h"

#define ORIGIN "bundle-test.saksi.example/log"
#define T0 1760000000000ull
#define CASE "SPI-2026-0042"

struct fix {
	char dir[64];
	saksi_seckey *log, *prod, *sup, *box, *box2, *stranger;
	saksi_note_verifier v;
	saksi_keyring *kr;
	saksi_ledger *l;
	/* The ledger: 0 A's booking, 1 B's booking, 2 a non-personal event, 3 C's booking
	 * (outside the case), 4 an alert naming 0 and 1, 5 the access entry. */
	char *disc[4];        /* the disclosures JSON array of events 0, 1, 3 (2: none) */
	char *ckpt;
	size_t ckpt_len;
	uint64_t size;
	char *plain, *sealed; /* the two bundle files */
	size_t plain_len, sealed_len;
};

static uint64_t g_seed;

/* with_prod: the kiosk's key too; 2: and the supervisor's key under role queue. */
static saksi_keyring *
keyring(struct fix *x, int with_prod)
{
	json_t *root = json_pack("{s:i, s:{s:[s], s:[s]}, s:[]}", "saksi_keyring", 1, "roles",
	    "queue", "queue.*", "supervisor", "supervisor.*", "keys");
	saksi_keyring *kr;
	char *text, err[256];

	if (with_prod)
		json_array_append_new(json_object_get(root, "keys"), kf_entry(x->prod, "kiosk-1",
		    "queue", "*"));
	json_array_append_new(json_object_get(root, "keys"), kf_entry(x->sup, "spi-1",
	    with_prod == 2 ? "queue" : "supervisor", "*"));
	text = json_dumps(root, 0);
	json_decref(root);
	assert_int_equal(saksi_keyring_parse(text, strlen(text), &kr, err, sizeof(err)), SAKSI_OK);
	free(text);
	return kr;
}

/* A checkpoint of the tree in t, signed with the log key. */
static char *
sign_ckpt(struct fix *x, saksi_ledger_txn *t, uint64_t size, size_t *len)
{
	char *note = malloc(SAKSI_NOTE_MAX + 1);

	assert_non_null(note);
	lf_tree_ckpt(t, x->log, ORIGIN, size, note, SAKSI_NOTE_MAX + 1, len);
	return note;
}

/* The bundle of entries want[] (n of them) at the checkpoint x->ckpt. */
static char *
build(struct fix *x, int mode, const uint64_t *want, size_t n, int forget1, size_t *len)
{
	saksi_bundle *b;
	saksi_ledger_txn *t;
	saksi_pubkey bp;
	char *out;

	assert_int_equal(saksi_seckey_public(x->box, &bp), SAKSI_OK);
	assert_int_equal(saksi_bundle_new(mode, CASE, 1760000009999ull, "alert=1", ORIGIN,
	    x->ckpt, x->ckpt_len, bp.pk_id, 5, &b), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(x->l, 0, &t), SAKSI_OK);
	for (size_t i = 0; i < n; i++) {
		saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
		saksi_bundle_entry *e;
		uint8_t *leaf;
		size_t ll, np;

		assert_int_equal(saksi_ledger_leaf(t, want[i], &leaf, &ll), SAKSI_OK);
		assert_int_equal(saksi_ledger_prove_inclusion(t, want[i], x->size, proof, &np),
		    SAKSI_OK);
		assert_int_equal(saksi_bundle_add(b, want[i], leaf, ll, proof, np, &e), SAKSI_OK);
		free(leaf);
		if (forget1 && want[i] == 1)
			saksi_bundle_set_forgotten(b, e);
		else if (want[i] < 4 && x->disc[want[i]] != NULL)
			assert_int_equal(saksi_bundle_set_disclosures(b, e,
			    (const uint8_t *)x->disc[want[i]], strlen(x->disc[want[i]]), bp.pk_key),
			    SAKSI_OK);
	}
	saksi_ledger_abort(t);
	/* Unsigned: nothing to write. */
	assert_int_equal(saksi_bundle_format(b, &out, len), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_bundle_sign(b, x->box), SAKSI_ERR_KEY);
	assert_int_equal(saksi_bundle_sign(b, x->sup), SAKSI_OK);
	assert_int_equal(saksi_bundle_format(b, &out, len), SAKSI_OK);
	saksi_bundle_free(b);
	return out;
}

static int
setup(void **state)
{
	struct fix *x = calloc(1, sizeof(*x));
	char vkey[SAKSI_VKEY_MAX + 1], access[512], hex[17];
	saksi_pubkey pub;
	saksi_ledger_txn *t;
	static const uint64_t all[] = { 0, 1, 2, 4, 5 };
	saksi_alert al;
	uint8_t body[SAKSI_ALERT_LEAF_MAX];
	size_t bl;

	g_seed = getenv("SAKSI_TEST_SEED") ? strtoull(getenv("SAKSI_TEST_SEED"), NULL, 10) :
	    (uint64_t)time(NULL);
	print_message("bundle_test seed %llu (SAKSI_TEST_SEED to repeat)\n",
	    (unsigned long long)g_seed);
	assert_int_equal(tmpdir_make(x->dir, sizeof(x->dir), "bundle_test"), 0);
	x->log = kf_seed_key(g_seed, "log", SAKSI_KEY_SIGN);
	x->prod = kf_seed_key(g_seed, "kiosk", SAKSI_KEY_SIGN);
	x->sup = kf_seed_key(g_seed, "supervisor", SAKSI_KEY_SIGN);
	x->box = kf_seed_key(g_seed, "recipient", SAKSI_KEY_BOX);
	x->box2 = kf_seed_key(g_seed, "other recipient", SAKSI_KEY_BOX);
	x->stranger = kf_seed_key(g_seed, "stranger", SAKSI_KEY_SIGN);
	x->kr = keyring(x, 1);
	assert_int_equal(saksi_seckey_public(x->log, &pub), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format(ORIGIN, pub.pk_key, vkey, sizeof(vkey)),
	    SAKSI_OK);
	assert_int_equal(saksi_note_vkey_parse(vkey, &x->v), SAKSI_OK);
	assert_int_equal(saksi_ledger_open(x->dir, ORIGIN, vkey, NULL, &x->l), SAKSI_OK);

	assert_int_equal(saksi_ledger_begin(x->l, 1, &t), SAKSI_OK);
	lf_append_event(t, x->prod, 1, T0,
	    "queue.booking.created", "{\"branch\":\"KC-MAKASSAR\","
	    "\"booking_id\":\"BK-1\",\"nik\":\"7371014101900001\",\"phone\":\"+6281234500001\"}",
	    &x->disc[0]);
	lf_append_event(t, x->prod, 2, T0,
	    "queue.booking.created", "{\"branch\":\"KC-MAKASSAR\","
	    "\"booking_id\":\"BK-2\",\"nik\":\"7371014101900002\",\"phone\":\"+6281234500002\"}",
	    &x->disc[1]);
	lf_append_event(t, x->prod, 3, T0,
	    "queue.ticket.called", "{\"branch\":\"KC-MAKASSAR\","
	    "\"booking_id\":\"BK-1\"}", NULL);
	lf_append_event(t, x->prod, 4, T0,
	    "queue.booking.created", "{\"branch\":\"KC-MAKASSAR\","
	    "\"booking_id\":\"BK-3\",\"nik\":\"7371014101900003\",\"phone\":\"+6281234500003\"}",
	    &x->disc[3]);
	memset(&al, 0, sizeof(al));
	al.al_id = 1;
	al.al_kind = 1;
	al.al_severity = 3;
	snprintf(al.al_rule, sizeof(al.al_rule), "device_many_niks");
	snprintf(al.al_group, sizeof(al.al_group), "*");
	al.al_first_ms = 1;
	al.al_last_ms = 2;
	al.al_value = 2;
	al.al_threshold = 2;
	al.al_trigger = 1;
	al.al_total = 2;
	al.al_nevidence = 2;
	al.al_evidence[0] = 0;
	al.al_evidence[1] = 1;
	assert_int_equal(saksi_alert_leaf_encode(&al, body, sizeof(body), &bl), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(t, SAKSI_LEAF_ALERT, 1760000000600ull, body, bl,
	    NULL, NULL), SAKSI_OK);
	sodium_bin2hex(hex, sizeof(hex), saksi_seckey_id(x->sup), 8);
	snprintf(access, sizeof(access), "{\"branch\":\"KP-PUSAT\",\"key_id\":\"%s\","
	    "\"command\":\"bundle\",\"filter\":\"alert=1\",\"personal_filter\":false,"
	    "\"results\":4,\"revealed\":true,\"case_ref\":\"%s\"}", hex, CASE);
	lf_append_event(t, x->sup, 1, T0, "supervisor.access.logged", access, NULL);
	/* Later entries: the bundle's checkpoint is not the latest. */
	lf_append_event(t, x->prod, 5, T0,
	    "queue.ticket.called", "{\"branch\":\"KC-MAKASSAR\","
	    "\"booking_id\":\"BK-3\"}", NULL);
	x->size = 6;
	x->ckpt = sign_ckpt(x, t, 6, &x->ckpt_len);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);

	x->plain = build(x, SAKSI_BUNDLE_PLAIN, all, 5, 0, &x->plain_len);
	x->sealed = build(x, SAKSI_BUNDLE_SEALED, all, 5, 0, &x->sealed_len);
	/* Seeds for tests/fuzz/corpus/bundle (fake people, test keys). */
	if (getenv("SAKSI_BUNDLE_SEED_DIR") != NULL) {
		char p[512];
		FILE *fp;

		snprintf(p, sizeof(p), "%s/seed-plain", getenv("SAKSI_BUNDLE_SEED_DIR"));
		assert_non_null(fp = fopen(p, "w"));
		fwrite(x->plain, 1, x->plain_len, fp);
		fclose(fp);
		snprintf(p, sizeof(p), "%s/seed-sealed", getenv("SAKSI_BUNDLE_SEED_DIR"));
		assert_non_null(fp = fopen(p, "w"));
		fwrite(x->sealed, 1, x->sealed_len, fp);
		fclose(fp);
	}
	*state = x;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *x = *state;
	char cmd[128];

	saksi_ledger_close(x->l);
	saksi_keyring_free(x->kr);
	saksi_seckey_free(x->log);
	saksi_seckey_free(x->prod);
	saksi_seckey_free(x->sup);
	saksi_seckey_free(x->box);
	saksi_seckey_free(x->box2);
	saksi_seckey_free(x->stranger);
	for (int i = 0; i < 4; i++)
		free(x->disc[i]);
	free(x->ckpt);
	free(x->plain);
	free(x->sealed);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", x->dir);
	assert_int_equal(system(cmd), 0);
	free(x);
	return 0;
}

static saksi_bundle *
parse_ok(const char *text, size_t len)
{
	saksi_bundle *b;
	char err[256];

	if (saksi_bundle_parse(text, len, &b, err, sizeof(err)) != SAKSI_OK)
		fail_msg("parse: %s", err);
	return b;
}

/* Verifies b and checks the outcome: want reason, naming entry (or NO_ENTRY). */
static void
expect(struct fix *x, const saksi_bundle *b, const saksi_seckey *box, int reason,
       uint64_t entry)
{
	saksi_bundle_verify_opts o;
	saksi_bundle_report r;
	saksi_err e;

	memset(&o, 0, sizeof(o));
	o.bo_log = &x->v;
	o.bo_keyring = x->kr;
	o.bo_box = box;
	e = saksi_bundle_verify(b, &o, &r);
	if (r.br_reason != reason)
		fail_msg("want %s, got %s: %s", saksi_bundle_reason_name(reason),
		    saksi_bundle_reason_name(r.br_reason), r.br_message);
	assert_int_equal(e, reason == SAKSI_BV_OK ? SAKSI_OK : SAKSI_ERR_CORRUPT);
	assert_true(r.br_entry == entry);
	if (entry != SAKSI_BUNDLE_NO_ENTRY) {
		char want[32];

		snprintf(want, sizeof(want), "entry %llu:", (unsigned long long)entry);
		assert_non_null(strstr(r.br_message, want));
	}
}

/* The text with the JSON edited by fn. */
static char *
edit(const char *text, void (*fn)(json_t *root, void *arg), void *arg, size_t *len)
{
	json_t *root = json_loads(text, 0, NULL);
	char *out;

	assert_non_null(root);
	fn(root, arg);
	out = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(root);
	*len = strlen(out);
	return out;
}

static json_t *
entry_at(json_t *root, uint64_t index)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(root, "entries"), i, e)
		if ((uint64_t)json_integer_value(json_object_get(e, "index")) == index)
			return e;
	fail_msg("no entry %llu", (unsigned long long)index);
	return NULL;
}

static void
test_roundtrip(void **state)
{
	struct fix *x = *state;
	saksi_bundle *b = parse_ok(x->plain, x->plain_len), *s;
	saksi_bundle_verify_opts o;
	saksi_bundle_report r;
	char *again;
	size_t alen;

	assert_int_equal(b->b_n, 5);
	assert_string_equal(b->b_case, CASE);
	/* Written again, the same bytes: one spelling per bundle. */
	assert_int_equal(saksi_bundle_format(b, &again, &alen), SAKSI_OK);
	assert_int_equal(alen, x->plain_len);
	assert_memory_equal(again, x->plain, alen);
	free(again);
	memset(&o, 0, sizeof(o));
	o.bo_log = &x->v;
	o.bo_keyring = x->kr;
	assert_int_equal(saksi_bundle_verify(b, &o, &r), SAKSI_OK);
	assert_int_equal(r.br_entries, 5);
	assert_int_equal(r.br_events, 4);
	assert_int_equal(r.br_alerts, 1);
	assert_int_equal(r.br_disclosed, 2);
	assert_int_equal(r.br_size, 6);
	assert_string_equal(r.br_exporter, "spi-1");
	/* The plain bundle holds A's and B's NIKs (base64url in disclosures), not C's. */
	{
		char d[64];

		snprintf(d, sizeof(d), "%.40s", x->disc[0] + 2);
		assert_non_null(strstr(x->plain, d));
		snprintf(d, sizeof(d), "%.40s", x->disc[3] + 2);
		assert_null(strstr(x->plain, d));
	}
	assert_null(strstr(x->plain, "7371014101900003"));

	/* Sealed: verified without the key (disclosures left unopened), then opened. */
	s = parse_ok(x->sealed, x->sealed_len);
	assert_int_equal(saksi_bundle_verify(s, &o, &r), SAKSI_OK);
	assert_int_equal(r.br_unopened, 2);
	assert_int_equal(r.br_disclosed, 0);
	o.bo_box = x->box;
	assert_int_equal(saksi_bundle_verify(s, &o, &r), SAKSI_OK);
	assert_int_equal(r.br_unopened, 0);
	assert_int_equal(r.br_disclosed, 2);
	/* No disclosure string of the plain bundle appears in the sealed one. */
	for (size_t i = 0; i < b->b_n; i++)
		if (b->b_entries[i].be_disc_kind == SAKSI_BD_PLAIN) {
			char d[64];

			snprintf(d, sizeof(d), "%.40s", (const char *)b->b_entries[i].be_disc + 2);
			assert_null(strstr(x->sealed, d));
		}
	/* Another recipient's key opens nothing. */
	expect(x, s, x->box2, SAKSI_BV_SEALED, 0);
	{
		char *json;
		size_t jl;

		assert_int_equal(saksi_bundle_open(&s->b_entries[0], x->box, &json, &jl), SAKSI_OK);
		assert_string_equal(json, x->disc[0]);
		sodium_memzero(json, jl);
		free(json);
		assert_int_equal(saksi_bundle_open(&s->b_entries[0], x->sup, &json, &jl),
		    SAKSI_ERR_KEY);
		assert_int_equal(saksi_bundle_open(&b->b_entries[0], x->box, &json, &jl),
		    SAKSI_ERR_INVAL);
	}
	saksi_bundle_free(s);
	saksi_bundle_free(b);
}

static void
test_tamper_struct(void **state)
{
	struct fix *x = *state;
	saksi_bundle *b;
	saksi_bundle_entry tmp;

	/* A byte of a leaf. */
	b = parse_ok(x->plain, x->plain_len);
	b->b_entries[1].be_leaf[b->b_entries[1].be_leaf_len - 70] ^= 1;
	expect(x, b, NULL, SAKSI_BV_PROOF, 1);
	saksi_bundle_free(b);
	/* A hash of a proof. */
	b = parse_ok(x->plain, x->plain_len);
	b->b_entries[2].be_proof[0][5] ^= 0x80;
	expect(x, b, NULL, SAKSI_BV_PROOF, 2);
	saksi_bundle_free(b);
	/* The checkpoint's signature. */
	b = parse_ok(x->plain, x->plain_len);
	{
		char *dash = strstr(b->b_checkpoint, "\xe2\x80\x94 ");
		char *sp = strchr(dash + 4, ' ');

		sp[10] = sp[10] == 'A' ? 'B' : 'A';
	}
	expect(x, b, NULL, SAKSI_BV_CKPT, SAKSI_BUNDLE_NO_ENTRY);
	saksi_bundle_free(b);
	/* A disclosure's byte. */
	b = parse_ok(x->plain, x->plain_len);
	b->b_entries[0].be_disc[10] = b->b_entries[0].be_disc[10] == 'A' ? 'B' : 'A';
	expect(x, b, NULL, SAKSI_BV_DISCLOSURE, 0);
	saksi_bundle_free(b);
	/* Disclosures swapped between entries 0 and 1: entry 0 is named. */
	b = parse_ok(x->plain, x->plain_len);
	tmp = b->b_entries[0];
	b->b_entries[0].be_disc = b->b_entries[1].be_disc;
	b->b_entries[0].be_disc_len = b->b_entries[1].be_disc_len;
	b->b_entries[1].be_disc = tmp.be_disc;
	b->b_entries[1].be_disc_len = tmp.be_disc_len;
	expect(x, b, NULL, SAKSI_BV_DISCLOSURE, 0);
	saksi_bundle_free(b);
	/* Sealed boxes swapped: they do not open as the other entry's. */
	b = parse_ok(x->sealed, x->sealed_len);
	tmp = b->b_entries[0];
	b->b_entries[0].be_disc = b->b_entries[1].be_disc;
	b->b_entries[0].be_disc_len = b->b_entries[1].be_disc_len;
	b->b_entries[1].be_disc = tmp.be_disc;
	b->b_entries[1].be_disc_len = tmp.be_disc_len;
	expect(x, b, x->box, SAKSI_BV_SEALED, 0);
	saksi_bundle_free(b);
	/* A producer key the verifier's keyring lacks. */
	b = parse_ok(x->plain, x->plain_len);
	{
		saksi_keyring *full = x->kr;

		x->kr = keyring(x, 0);
		expect(x, b, NULL, SAKSI_BV_UNKNOWN_KEY, 0);
		saksi_keyring_free(x->kr);
		/* An exporter whose role may not write access entries. */
		x->kr = keyring(x, 2);
		expect(x, b, NULL, SAKSI_BV_EXPORTER, SAKSI_BUNDLE_NO_ENTRY);
		saksi_keyring_free(x->kr);
		x->kr = full;
	}
	saksi_bundle_free(b);
	/* A field of the header: only the exporter's signature covers it. */
	b = parse_ok(x->plain, x->plain_len);
	b->b_selection[0] = 'X';
	expect(x, b, NULL, SAKSI_BV_EXPORTER, SAKSI_BUNDLE_NO_ENTRY);
	saksi_bundle_free(b);
	b = parse_ok(x->plain, x->plain_len);
	b->b_sig[3] ^= 1;
	expect(x, b, NULL, SAKSI_BV_EXPORTER, SAKSI_BUNDLE_NO_ENTRY);
	saksi_bundle_free(b);
	/* Another case's name: the access entry says which case was exported. */
	b = parse_ok(x->plain, x->plain_len);
	snprintf(b->b_case, sizeof(b->b_case), "SPI-OTHER");
	expect(x, b, NULL, SAKSI_BV_ACCESS, 5);
	saksi_bundle_free(b);
	/* Another log. */
	b = parse_ok(x->plain, x->plain_len);
	snprintf(b->b_log, sizeof(b->b_log), "other.example/log");
	expect(x, b, NULL, SAKSI_BV_ORIGIN, SAKSI_BUNDLE_NO_ENTRY);
	saksi_bundle_free(b);
	/* An index moved past the checkpoint. */
	b = parse_ok(x->plain, x->plain_len);
	b->b_entries[4].be_index = 9;
	b->b_access = 9;
	expect(x, b, NULL, SAKSI_BV_RANGE, 9);
	saksi_bundle_free(b);
}

static void
drop_entry(json_t *root, void *arg)
{
	json_t *arr = json_object_get(root, "entries");
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e)
		if ((uint64_t)json_integer_value(json_object_get(e, "index")) == *(uint64_t *)arg) {
			json_array_remove(arr, i);
			return;
		}
}

static void
dup_entry(json_t *root, void *arg)
{
	json_t *arr = json_object_get(root, "entries");

	(void)arg;
	json_array_insert_new(arr, 1, json_deep_copy(json_array_get(arr, 1)));
}

static void
add_stranger_disc(json_t *root, void *arg)
{
	/* C's disclosures (outside the case) added to A's entry. */
	json_t *c = json_loads(arg, 0, NULL), *d = json_object_get(entry_at(root, 0),
	    "disclosures");

	json_array_extend(d, c);
	json_decref(c);
}

static void
drop_disc(json_t *root, void *arg)
{
	(void)arg;
	json_object_del(entry_at(root, 1), "disclosures");
}

static void
mark_forgotten(json_t *root, void *arg)
{
	(void)arg;
	json_object_del(entry_at(root, 1), "disclosures");
	json_object_set_new(entry_at(root, 1), "forgotten", json_true());
}

static void
test_tamper_file(void **state)
{
	struct fix *x = *state;
	saksi_bundle *b;
	char *t, err[256];
	size_t len;
	uint64_t which;

	/* An evidence entry dropped: the alert names it. */
	which = 1;
	t = edit(x->plain, drop_entry, &which, &len);
	b = parse_ok(t, len);
	expect(x, b, NULL, SAKSI_BV_EVIDENCE, 4);
	saksi_bundle_free(b);
	free(t);
	/* Another entry dropped: the access entry counted it. */
	which = 2;
	t = edit(x->plain, drop_entry, &which, &len);
	b = parse_ok(t, len);
	expect(x, b, NULL, SAKSI_BV_ACCESS, 5);
	saksi_bundle_free(b);
	free(t);
	/* The access entry dropped: the file does not parse. */
	which = 5;
	t = edit(x->plain, drop_entry, &which, &len);
	assert_int_equal(saksi_bundle_parse(t, len, &b, err, sizeof(err)), SAKSI_ERR_FORMAT);
	assert_non_null(strstr(err, "access"));
	free(t);
	/* An entry duplicated: refused, named. */
	t = edit(x->plain, dup_entry, NULL, &len);
	assert_int_equal(saksi_bundle_parse(t, len, &b, err, sizeof(err)), SAKSI_ERR_FORMAT);
	assert_non_null(strstr(err, "entry 1: duplicated"));
	free(t);
	/* Someone outside the case's disclosures added to an entry. */
	t = edit(x->plain, add_stranger_disc, x->disc[3], &len);
	b = parse_ok(t, len);
	expect(x, b, NULL, SAKSI_BV_DISCLOSURE, 0);
	saksi_bundle_free(b);
	free(t);
	/* Disclosures withheld without saying so. */
	t = edit(x->plain, drop_disc, NULL, &len);
	b = parse_ok(t, len);
	expect(x, b, NULL, SAKSI_BV_DISCLOSURE, 1);
	saksi_bundle_free(b);
	free(t);
	/* Marked forgotten after export: the entries verify, the signature does not. */
	t = edit(x->plain, mark_forgotten, NULL, &len);
	b = parse_ok(t, len);
	expect(x, b, NULL, SAKSI_BV_EXPORTER, SAKSI_BUNDLE_NO_ENTRY);
	saksi_bundle_free(b);
	free(t);
	/* Exported as forgotten: verifies, and says so. */
	{
		static const uint64_t all[] = { 0, 1, 2, 4, 5 };
		saksi_bundle_verify_opts o;
		saksi_bundle_report r;

		t = build(x, SAKSI_BUNDLE_PLAIN, all, 5, 1, &len);
		assert_null(strstr(t, x->disc[1] + 2));
		b = parse_ok(t, len);
		memset(&o, 0, sizeof(o));
		o.bo_log = &x->v;
		o.bo_keyring = x->kr;
		assert_int_equal(saksi_bundle_verify(b, &o, &r), SAKSI_OK);
		assert_int_equal(r.br_forgotten, 1);
		assert_int_equal(r.br_disclosed, 1);
		saksi_bundle_free(b);
		sodium_memzero(t, len);
		free(t);
	}
}

static void
test_consistency(void **state)
{
	struct fix *x = *state;
	saksi_bundle *b = parse_ok(x->plain, x->plain_len);
	saksi_bundle_verify_opts o;
	saksi_bundle_report r;
	saksi_ledger_txn *t;
	saksi_hash proof[SAKSI_MERKLE_MAX_PROOF];
	size_t np, nl;
	char *newer;

	assert_int_equal(saksi_ledger_begin(x->l, 1, &t), SAKSI_OK);
	lf_append_event(t, x->prod, 6, T0,
	    "queue.ticket.called", "{\"branch\":\"KC-MAKASSAR\","
	    "\"booking_id\":\"BK-1\"}", NULL);
	newer = sign_ckpt(x, t, 7, &nl);
	assert_int_equal(saksi_ledger_prove_consistency(t, 6, 7, proof, &np), SAKSI_OK);
	saksi_ledger_abort(t);
	memset(&o, 0, sizeof(o));
	o.bo_log = &x->v;
	o.bo_keyring = x->kr;
	o.bo_newer = newer;
	o.bo_newer_len = nl;
	o.bo_consistency = (const saksi_hash *)proof;
	o.bo_consistency_len = np;
	assert_int_equal(saksi_bundle_verify(b, &o, &r), SAKSI_OK);
	assert_int_equal(r.br_consistent, 1);
	assert_int_equal(r.br_newer_size, 7);
	proof[0][0] ^= 1;
	assert_int_equal(saksi_bundle_verify(b, &o, &r), SAKSI_ERR_CORRUPT);
	assert_int_equal(r.br_reason, SAKSI_BV_CONSISTENCY);
	o.bo_newer_len = nl - 3;
	assert_int_equal(saksi_bundle_verify(b, &o, &r), SAKSI_ERR_CORRUPT);
	assert_int_equal(r.br_reason, SAKSI_BV_CONSISTENCY);
	assert_int_equal(saksi_bundle_verify(b, NULL, &r), SAKSI_ERR_INVAL);
	free(newer);
	saksi_bundle_free(b);
}

static void
set_member(json_t *root, void *arg)
{
	const char *const *kv = arg;

	json_object_set_new(root, kv[0], json_loads(kv[1], JSON_DECODE_ANY, NULL));
}

static void
set_entry_member(json_t *root, void *arg)
{
	const char *const *kv = arg;

	json_object_set_new(entry_at(root, 0), kv[0], json_loads(kv[1], JSON_DECODE_ANY, NULL));
}

static void
test_hostile(void **state)
{
	struct fix *x = *state;
	static const struct {
		int entry;
		const char *k, *v;
		saksi_err want;
	} cases[] = {
		{ 0, "saksi_bundle", "2", SAKSI_ERR_VERSION },
		{ 0, "saksi_bundle", "\"1\"", SAKSI_ERR_FORMAT },
		{ 0, "extra", "1", SAKSI_ERR_FORMAT },
		{ 0, "mode", "\"clear\"", SAKSI_ERR_FORMAT },
		{ 0, "case_ref", "\"a b\"", SAKSI_ERR_FORMAT },
		{ 0, "created_ms", "-1", SAKSI_ERR_FORMAT },
		{ 0, "exporter", "\"ABCDEF0123456789\"", SAKSI_ERR_FORMAT },
		{ 0, "recipient", "\"0123456789abcdef\"", SAKSI_ERR_FORMAT },
		{ 0, "selection", "\"a\\nb\"", SAKSI_ERR_FORMAT },
		{ 0, "log", "\"a b\"", SAKSI_ERR_FORMAT },
		{ 0, "checkpoint", "\"x\\n\"", SAKSI_ERR_FORMAT },
		{ 0, "signature", "\"AAAA\"", SAKSI_ERR_FORMAT },
		{ 0, "entries", "[]", SAKSI_ERR_FORMAT },
		{ 1, "extra", "1", SAKSI_ERR_FORMAT },
		{ 1, "index", "-5", SAKSI_ERR_FORMAT },
		{ 1, "leaf", "\"AB==\"", SAKSI_ERR_FORMAT },     /* stray padding bits */
		{ 1, "leaf", "\"!!!!\"", SAKSI_ERR_FORMAT },
		{ 1, "proof", "[\"AAAA\"]", SAKSI_ERR_FORMAT },
		{ 1, "proof", "{}", SAKSI_ERR_FORMAT },
		{ 1, "forgotten", "false", SAKSI_ERR_FORMAT },
		{ 1, "forgotten", "true", SAKSI_ERR_FORMAT },    /* besides disclosures */
		{ 1, "sealed", "\"AAAA\"", SAKSI_ERR_FORMAT },   /* in a plain bundle */
		{ 1, "disclosures", "[]", SAKSI_ERR_FORMAT },
		{ 1, "disclosures", "[\"a b\"]", SAKSI_ERR_FORMAT },
		{ 1, "disclosures", "[1]", SAKSI_ERR_FORMAT },
	};
	saksi_bundle *b;
	char *t, err[256];
	size_t len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *kv[2] = { cases[i].k, cases[i].v };

		t = edit(x->plain, cases[i].entry ? set_entry_member : set_member, kv, &len);
		if (saksi_bundle_parse(t, len, &b, err, sizeof(err)) != cases[i].want)
			fail_msg("case %zu (%s = %s): not refused as %s (%s)", i, cases[i].k, cases[i].v,
			    saksi_strerror(cases[i].want), err);
		assert_null(b);
		free(t);
	}
	/* Not JSON; duplicate members; too large; truncated. */
	assert_int_equal(saksi_bundle_parse("{", 1, &b, err, sizeof(err)), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_bundle_parse("{\"saksi_bundle\":1,\"saksi_bundle\":1}", 35, &b,
	    err, sizeof(err)), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_bundle_parse(x->plain, SAKSI_BUNDLE_MAX + 1ul, &b, NULL, 0),
	    SAKSI_ERR_TOO_LARGE);
	for (size_t cut = 0; cut < x->plain_len; cut += 97)
		assert_int_not_equal(saksi_bundle_parse(x->plain, cut, &b, NULL, 0), SAKSI_OK);
	assert_int_equal(saksi_bundle_parse(NULL, 0, &b, NULL, 0), SAKSI_ERR_INVAL);
	/* The builder's own checks. */
	{
		saksi_hash h[1] = { { 0 } };
		uint8_t leaf[1] = { 1 };
		saksi_bundle_entry *e;

		assert_int_equal(saksi_bundle_new(3, CASE, 0, "x", ORIGIN, x->ckpt, x->ckpt_len,
		    NULL, 0, &b), SAKSI_ERR_INVAL);
		assert_int_equal(saksi_bundle_new(SAKSI_BUNDLE_SEALED, CASE, 0, "x", ORIGIN,
		    x->ckpt, x->ckpt_len, NULL, 0, &b), SAKSI_ERR_INVAL);
		assert_int_equal(saksi_bundle_new(SAKSI_BUNDLE_PLAIN, "bad case", 0, "x", ORIGIN,
		    x->ckpt, x->ckpt_len, NULL, 0, &b), SAKSI_ERR_INVAL);
		assert_int_equal(saksi_bundle_new(SAKSI_BUNDLE_PLAIN, CASE, 0, "", ORIGIN,
		    x->ckpt, x->ckpt_len, NULL, 0, &b), SAKSI_ERR_INVAL);
		assert_int_equal(saksi_bundle_new(SAKSI_BUNDLE_PLAIN, CASE, 0, "x", ORIGIN,
		    "no note", 7, NULL, 0, &b), SAKSI_ERR_INVAL);
		assert_int_equal(saksi_bundle_new(SAKSI_BUNDLE_PLAIN, CASE, 0, "x", ORIGIN,
		    x->ckpt, x->ckpt_len, NULL, 0, &b), SAKSI_OK);
		assert_int_equal(saksi_bundle_add(b, 3, leaf, 1, h, 1, &e), SAKSI_OK);
		assert_int_equal(saksi_bundle_add(b, 3, leaf, 1, h, 1, &e), SAKSI_ERR_INVAL);
		assert_int_equal(saksi_bundle_add(b, 4, leaf, 0, h, 1, &e), SAKSI_ERR_INVAL);
		assert_int_equal(saksi_bundle_add(b, 4, leaf, 1, h, SAKSI_MERKLE_MAX_PROOF + 1, &e),
		    SAKSI_ERR_INVAL);
		assert_int_equal(saksi_bundle_set_disclosures(b, e, (const uint8_t *)"[1]", 3, NULL),
		    SAKSI_ERR_INVAL);
		assert_int_equal(saksi_bundle_set_disclosures(b, e, (const uint8_t *)"[]", 0, NULL),
		    SAKSI_ERR_INVAL);
		saksi_bundle_free(b);
	}
	assert_string_equal(saksi_bundle_reason_name(SAKSI_BV_PROOF), "proof");
	assert_string_equal(saksi_bundle_reason_name(99), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_tamper_struct),
		cmocka_unit_test(test_tamper_file),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_consistency),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
