/*
 * ledger_fixture.h: what the tests that build or read real ledgers share: a log's freshly
 * generated keys, events and signed checkpoints (also wrong ones, to tamper with) stored
 * as saksid stores them, a read-only open as saksi verify's and the size. Header-only
 * (static functions, cmocka asserts): include it after <cmocka.h>. Never used outside
 * the tests.
 */
#ifndef SAKSI_LEDGER_FIXTURE_H
#define SAKSI_LEDGER_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envelope.h"
#include "keys.h"
#include "ledger.h"
#include "merkle.h"
#include "note.h"

#define LF_UNUSED __attribute__((unused))

/* A log of origin with new random keys: its signing key, a stranger's signing key (a
 * checkpoint signed by the wrong log), and the log's vkey and its verifier. */
LF_UNUSED static void
lf_log_keys(const char *origin, saksi_seckey **log, saksi_seckey **other_log,
            char vkey[SAKSI_VKEY_MAX + 1], saksi_note_verifier *v)
{
	saksi_pubkey pub;

	assert_int_equal(sodium_init() < 0, 0);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, log), SAKSI_OK);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, other_log), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(*log, &pub), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format(origin, pub.pk_key, vkey, SAKSI_VKEY_MAX + 1),
	    SAKSI_OK);
	assert_int_equal(saksi_note_vkey_parse(vkey, v), SAKSI_OK);
}

/* The ledger in dir, opened read-only as saksi verify opens it (beside a running saksid
 * too: LMDB readers do not block its writer). */
LF_UNUSED static saksi_ledger *
lf_open_ro(const char *dir)
{
	saksi_ledger_opts o;
	saksi_ledger *l = NULL;

	memset(&o, 0, sizeof(o));
	o.lo_readonly = 1;
	assert_int_equal(saksi_ledger_open(dir, NULL, NULL, &o, &l), SAKSI_OK);
	return l;
}

/* The ledger's size (its leaves) as a new read transaction sees it. */
LF_UNUSED static uint64_t
lf_size(saksi_ledger *l)
{
	saksi_ledger_txn *t;
	uint64_t n;

	assert_int_equal(saksi_ledger_begin(l, 0, &t), SAKSI_OK);
	n = saksi_ledger_size(t);
	saksi_ledger_abort(t);
	return n;
}

/*
 * Appends to txn the event of type with the clear payload, signed by k with seq at the
 * producer time t0 + seq and committed at t0 + 500 + seq, its members nik and phone
 * disclosed: the disclosures (a JSON array, malloc'd) into *disc, or dropped if disc is
 * NULL.
 */
LF_UNUSED static void
lf_append_event(saksi_ledger_txn *txn, const saksi_seckey *k, uint64_t seq, uint64_t t0,
                const char *type, const char *clear, char **disc)
{
	static const char *const personal[] = { "nik", "phone" };
	uint8_t env[SAKSI_ENV_MAX];
	char *payload, *d;
	size_t plen, dlen, elen;

	assert_int_equal(saksi_disclose_payload(clear, strlen(clear), personal, 2, &payload,
	    &plen, &d, &dlen), SAKSI_OK);
	assert_int_equal(saksi_envelope_sign(k, seq, t0 + seq, type, (const uint8_t *)payload,
	    plen, env, sizeof(env), &elen), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(txn, SAKSI_LEAF_EVENT, t0 + 500 + seq, env, elen,
	    NULL, NULL), SAKSI_OK);
	free(payload);
	if (disc != NULL)
		*disc = d;
	else
		free(d);
}

/* The checkpoint of (origin, size, root), signed by key under the note key name `name`
 * (the log's origin, whatever the body says: a test may make them differ), into
 * note[0..cap), its length in *len. */
LF_UNUSED static void
lf_sign_ckpt(const saksi_seckey *key, const char *name, const char *origin, uint64_t size,
             const saksi_hash root, char *note, size_t cap, size_t *len)
{
	saksi_checkpoint c;
	char body[512];
	size_t bl;

	memset(&c, 0, sizeof(c));
	snprintf(c.ck_origin, sizeof(c.ck_origin), "%s", origin);
	c.ck_size = size;
	memcpy(c.ck_root, root, SAKSI_HASH_LEN);
	assert_int_equal(saksi_checkpoint_format(&c, body, sizeof(body), &bl), SAKSI_OK);
	assert_int_equal(saksi_note_sign(body, bl, name, saksi_seckey_ed25519(key), note, cap,
	    len), SAKSI_OK);
}

/* The checkpoint of txn's tree at size, signed by key for origin, into note[0..cap). */
LF_UNUSED static void
lf_tree_ckpt(saksi_ledger_txn *txn, const saksi_seckey *key, const char *origin,
             uint64_t size, char *note, size_t cap, size_t *len)
{
	saksi_hash root;

	assert_int_equal(saksi_ledger_root(txn, size, root), SAKSI_OK);
	lf_sign_ckpt(key, origin, origin, size, root, note, cap, len);
}

/* Signs and stores the checkpoint of txn's tree at size inside txn, as saksid does. */
LF_UNUSED static void
lf_put_ckpt(saksi_ledger_txn *txn, const saksi_seckey *key, const char *origin,
            uint64_t size)
{
	char note[1024];
	size_t len;

	lf_tree_ckpt(txn, key, origin, size, note, sizeof(note), &len);
	assert_int_equal(saksi_ledger_ckpt_put(txn, size, note, len), SAKSI_OK);
}

#endif
