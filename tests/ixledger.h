/*
 * ixledger.h: what the library tests of the query engine and the reports share: a real
 * ledger in a scratch directory with its query index and its key store, and events
 * appended to it as saksid appends them (signed, disclosures sealed at rest, indexed, in
 * one transaction). Header-only (static functions, cmocka asserts): include it after
 * <cmocka.h> and testutil.h. Never used by the daemon or the CLI.
 */
#ifndef SAKSI_IXLEDGER_H
#define SAKSI_IXLEDGER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <sodium.h>

#include "blind.h"
#include "bytes.h"
#include "datakey.h"
#include "envelope.h"
#include "index.h"
#include "keys.h"
#include "ledger.h"

#define IXL_ORIGIN "bpjs.example/saksi/test"
#define IXL_VKEY "bpjs.example/saksi/test+0a1b2c3d+AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefgh="

/* The fixture: the ledger l in dir, the index key b and the index dbi (prepared), the
 * producer sk (its last seq), the store key, another store key (other: what opens
 * nothing of this ledger), the key store dk of participants' data keys. */
struct ixl {
	char dir[256];
	saksi_ledger *l;
	saksi_blind *b;
	saksi_seckey *sk, *store, *other;
	saksi_datakeys *dk;
	MDB_dbi dbi;
	uint64_t seq;
};

/* A fresh indexed ledger in $TMPDIR/NAME-XXXXXX; the index key from blind_key, or
 * random when it is NULL. */
TU_UNUSED static void
ixl_open(struct ixl *x, const char *name, const uint8_t *blind_key)
{
	char slots[300], master[300];
	saksi_ledger_txn *t;
	uint8_t key[32];
	uint64_t upto;

	memset(x, 0, sizeof(*x));
	assert_true(sodium_init() >= 0);
	if (tmpdir_make(x->dir, sizeof(x->dir), name) != 0)
		fail_msg("cannot make a directory %s-XXXXXX in $TMPDIR or /tmp", name);
	assert_int_equal(saksi_ledger_open(x->dir, IXL_ORIGIN, IXL_VKEY, NULL, &x->l),
	                 SAKSI_OK);
	if (blind_key != NULL)
		memcpy(key, blind_key, sizeof(key));
	else
		randombytes_buf(key, sizeof(key));
	assert_int_equal(saksi_blind_new(key, &x->b), SAKSI_OK);
	sodium_memzero(key, sizeof(key));
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &x->sk), SAKSI_OK);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SYM, &x->store), SAKSI_OK);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SYM, &x->other), SAKSI_OK);
	snprintf(slots, sizeof(slots), "%s/datakeys", x->dir);
	snprintf(master, sizeof(master), "%s/datakeys.master", x->dir);
	assert_int_equal(saksi_dk_open(slots, master, x->store, 1, 1, &x->dk), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(x->l, 1, &t), SAKSI_OK);
	assert_int_equal(saksi_index_open(saksi_ledger_txn_mdb(t), 1, &x->dbi), SAKSI_OK);
	assert_int_equal(saksi_index_prepare(saksi_ledger_txn_mdb(t), x->dbi, x->b, &upto,
	    NULL), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
}

/* The end of ixl_open: everything closed and freed, the directory removed. */
TU_UNUSED static void
ixl_close(struct ixl *x)
{
	saksi_dk_close(x->dk);
	saksi_ledger_close(x->l);
	saksi_blind_free(x->b);
	saksi_seckey_free(x->sk);
	saksi_seckey_free(x->store);
	saksi_seckey_free(x->other);
	rm_rf(x->dir);
}

/* ixl_open as a cmocka setup: a struct ixl (calloc'd) in *state. */
TU_UNUSED static int
ixl_setup(void **state, const char *name, const uint8_t *blind_key)
{
	struct ixl *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	ixl_open(x, name, blind_key);
	*state = x;
	return 0;
}

/* The cmocka teardown of ixl_setup. */
TU_UNUSED static int
ixl_teardown(void **state)
{
	ixl_close(*state);
	free(*state);
	return 0;
}

/* How ixl_add seals an event's disclosures at rest: with the store key, with the other
 * store key, with participant slot's data key, or (the store key) a disclosure that
 * matches no digest of the event. */
enum ixl_seal { IXL_STORE, IXL_OTHER, IXL_SLOT, IXL_WRONG };

/*
 * Appends one event of type (producer time tms, committed at commit_ms; the clear
 * payload, personal[0..np) its personal members), seals its disclosures at rest as how
 * says (slot: the participant's, for IXL_SLOT) and indexes it, all in one transaction,
 * as saksid does. Returns its leaf index.
 */
TU_UNUSED static uint64_t
ixl_add(struct ixl *x, const char *type, uint64_t tms, uint64_t commit_ms,
        const char *clear, const char *const *personal, size_t np, enum ixl_seal how,
        uint64_t slot)
{
	uint8_t env[SAKSI_ENV_MAX], *blob, kid[8], dkey[SAKSI_DK_KEYLEN];
	char *payload, *disc;
	size_t plen, dlen, elen, blen;
	saksi_ledger_txn *t;
	saksi_hash h;
	uint64_t idx;

	assert_int_equal(saksi_disclose_payload(clear, strlen(clear), personal, np, &payload,
	    &plen, &disc, &dlen), SAKSI_OK);
	assert_int_equal(saksi_envelope_sign(x->sk, ++x->seq, tms, type,
	    (const uint8_t *)payload, plen, env, sizeof(env), &elen), SAKSI_OK);
	assert_int_equal(saksi_ledger_begin(x->l, 1, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(t, SAKSI_LEAF_EVENT, commit_ms, env, elen, &idx,
	    h), SAKSI_OK);
	if (np > 0) {
		const char *sealed = disc;
		size_t slen = dlen;
		char wrong[] = "[\"WyJzYWx0c2FsdHNhbHRzYWx0c2EiLCJuaWsiLCIxIl0\"]";

		if (how == IXL_WRONG) {
			sealed = wrong;   /* a disclosure that matches no digest */
			slen = strlen(wrong);
		}
		blob = malloc(saksi_disc2_bound(slen));
		assert_non_null(blob);
		if (how == IXL_SLOT) {
			assert_int_equal(saksi_dk_create(x->dk, slot, dkey), SAKSI_OK);
			saksi_put_u64(kid, slot);
			assert_int_equal(saksi_disc2_seal(SAKSI_DK_DATA, kid, dkey, idx, h,
			    (const uint8_t *)sealed, slen, blob, saksi_disc2_bound(slen), &blen),
			    SAKSI_OK);
			sodium_memzero(dkey, sizeof(dkey));
		} else {
			const saksi_seckey *k = how == IXL_OTHER ? x->other : x->store;

			assert_int_equal(saksi_disc2_seal(SAKSI_DK_STORE, saksi_seckey_id(k),
			    saksi_seckey_sym(k), idx, h, (const uint8_t *)sealed, slen, blob,
			    saksi_disc2_bound(slen), &blen), SAKSI_OK);
		}
		assert_int_equal(saksi_ledger_disc_put(t, idx, blob, blen), SAKSI_OK);
		free(blob);
	}
	assert_int_equal(saksi_index_event(saksi_ledger_txn_mdb(t), x->dbi, x->b, idx, env,
	    elen, np > 0 ? (const uint8_t *)disc : NULL, np > 0 ? dlen : 0), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	free(payload);
	if (disc != NULL) {
		sodium_memzero(disc, dlen);
		free(disc);
	}
	return idx;
}

#endif
