/*
 * fuzz_rstate.c: libFuzzer target for the rules engine's own stored records (RULES.md
 * 4.1), which saksid reads back from its LMDB: a group record, a join record, an alert
 * `A`, the ack state `T`, the meta `M`, the re-raise log `Q` and `E`, the open index `O`,
 * and memory mode's snapshot meta `N` and `C` (RULES.md 4.4, read by saksi_rules_attach).
 * The file is the daemon's own, but an altered or damaged one must be refused
 * (SAKSI_ERR_CORRUPT, or SAKSI_ERR_VERSION for an unknown version), never crash. The
 * first byte picks the record, the second the rule or join (the shipped default rules),
 * the rest is the value (for `O`, the key). Group, join and alert records go through
 * saksi_rules_record_decode (the decoders themselves, on an exact-size copy); the others
 * are written into a real rules database in a write transaction that is aborted after
 * the public readers ran. A group that decodes must encode back to the same bytes.
 */
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "bytes.h"
#include "fuzz.h"
#include "rules.h"
#include "rules_impl.h"

#ifndef SAKSI_SOURCE_SCHEMA_DIR
#define SAKSI_SOURCE_SCHEMA_DIR SAKSI_SOURCE_DIR "/schemas/events"
#endif

/* Set once by LLVMFuzzerInitialize, read-only afterwards. */
static char fz_dir[64];
static MDB_env *fz_env;
static saksi_rules *fz_r;
static char *fz_text;     /* default.rules, for a fresh rule set in memory mode */
static size_t fz_text_len;

static void
cleanup(void)
{
	saksi_rules_free(fz_r);
	free(fz_text);
	if (fz_env != NULL)
		mdb_env_close(fz_env);
	fuzz_rmtree(fz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512] = "";
	MDB_txn *txn;

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	FUZZ_SCRATCH(fz_dir, sizeof fz_dir, "fzrstate");
	atexit(cleanup);
	if (saksi_rules_load(SAKSI_SOURCE_DIR "/schemas/rules/default.rules",
	                     SAKSI_SOURCE_SCHEMA_DIR, &fz_r, err, sizeof err) != SAKSI_OK) {
		fprintf(stderr, "default.rules: %s\n", err);
		FUZZ_SETUP(0);
	}
	FUZZ_SETUP(fz_r->rs_nrules > 0 && fz_r->rs_njoins > 0);
	{
		FILE *f = fopen(SAKSI_SOURCE_DIR "/schemas/rules/default.rules", "rb");

		FUZZ_SETUP(f != NULL && (fz_text = malloc(1 << 20)) != NULL);
		fz_text_len = fread(fz_text, 1, 1 << 20, f);
		fclose(f);
		FUZZ_SETUP(fz_text_len > 0 && fz_text_len < (1 << 20));
	}
	FUZZ_SETUP(mdb_env_create(&fz_env) == 0);
	FUZZ_SETUP(mdb_env_set_maxdbs(fz_env, 8) == 0);
	FUZZ_SETUP(mdb_env_set_mapsize(fz_env, 64u << 20) == 0);
	FUZZ_SETUP(mdb_env_open(fz_env, fz_dir, MDB_NOTLS | MDB_NOSYNC, 0600) == 0);
	FUZZ_SETUP(mdb_txn_begin(fz_env, NULL, 0, &txn) == 0);
	FUZZ_SETUP(saksi_rules_attach(fz_r, txn) == SAKSI_OK);
	FUZZ_SETUP(mdb_txn_commit(txn) == 0);
	return 0;
}

/* Puts key/value into the rules database in txn; 0 if LMDB will not take it. */
static int
put(MDB_txn *txn, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };

	return mdb_put(txn, fz_r->rs_dbi, &key, &val, 0) == 0;
}

#define OK_OR(e, ...) FUZZ_CHECK((e) == SAKSI_OK || (e) == SAKSI_ERR_CORRUPT || \
	(e) == SAKSI_ERR_VERSION || (e) == SAKSI_ERR_NOT_FOUND __VA_ARGS__, "%s", \
	saksi_strerror(e))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *v;
	uint8_t k[64], *copy;
	size_t vl;
	saksi_alert a;
	saksi_alert_state st;
	uint64_t x;
	MDB_txn *txn;
	int canon;
	saksi_err e;

	if (size < 2 || size > 16384)
		return 0;
	v = data + 2;
	vl = size - 2;
	switch (data[0] % 10) {
	case 0:   /* G: a group record of one of the rules */
	case 1:   /* J: a join record */
	case 2:   /* A: an alert */
		if ((copy = (uint8_t *)fuzz_copy(v, vl, 0)) == NULL)
			return 0;
		if (data[0] % 10 == 0) {
			e = saksi_rules_record_decode(fz_r, 'G', data[1] % fz_r->rs_nrules, copy, vl,
			                              &canon);
			FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_CORRUPT, "group: %s",
			           saksi_strerror(e));
			FUZZ_CHECK(e != SAKSI_OK || canon, "a group record that does not encode "
			           "back to its bytes was accepted");
		} else {
			e = saksi_rules_record_decode(fz_r, data[0] % 10 == 1 ? 'J' : 'A',
			    data[1] % fz_r->rs_njoins, copy, vl, NULL);
			FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_CORRUPT, "%c: %s",
			           data[0] % 10 == 1 ? 'J' : 'A', saksi_strerror(e));
		}
		free(copy);
		return 0;
	default:
		break;
	}

	/* The others through LMDB and the public readers, in a transaction never committed. */
	FUZZ_SETUP(mdb_txn_begin(fz_env, NULL, 0, &txn) == 0);
	switch (data[0] % 10) {
	case 3:   /* M: the meta record */
		k[0] = 'M';
		if (put(txn, k, 1, v, vl)) {
			e = saksi_rules_alert_last(fz_r, txn, &x);
			OK_OR(e);
			e = saksi_rules_published_get(fz_r, txn, &x);
			OK_OR(e);
		}
		break;
	case 4:   /* T: the ack state of alert 1 (with an alert 1 in the log, or none) */
		k[0] = 'T';
		saksi_put_u64(k + 1, 1);
		if (put(txn, k, 9, v, vl)) {
			e = saksi_rules_alert_state(fz_r, txn, 1, &st);
			OK_OR(e);
			e = saksi_rules_alert_ack(fz_r, txn, 1, 7, 1000);
			OK_OR(e, || e == SAKSI_ERR_EXISTS);
			e = saksi_rules_reraise(fz_r, txn, 1, 2000, &a);
			OK_OR(e, || e == SAKSI_ERR_RANGE);
		}
		break;
	case 5:   /* Q: the re-raise log's meta */
		k[0] = 'Q';
		if (put(txn, k, 1, v, vl)) {
			e = saksi_rules_reraise_last(fz_r, txn, &x);
			OK_OR(e);
			e = saksi_rules_reraise_published_get(fz_r, txn, &x);
			OK_OR(e);
			e = saksi_rules_reraise_published_set(fz_r, txn, 1);
			OK_OR(e, || e == SAKSI_ERR_RANGE);
		}
		break;
	case 6:   /* E: re-raise 1 */
		k[0] = 'E';
		saksi_put_u64(k + 1, 1);
		if (put(txn, k, 9, v, vl)) {
			e = saksi_rules_reraise_get(fz_r, txn, 1, &a);
			OK_OR(e);
		}
		break;
	case 8:   /* N, C: memory mode's snapshot meta, read by attach */
	case 9: {
		saksi_rules *m = NULL;
		uint64_t from, to;
		char err[256];

		k[0] = data[0] % 10 == 8 ? 'N' : 'C';
		FUZZ_SETUP(saksi_rules_parse(fz_text, fz_text_len, "default.rules", NULL, &m, err,
		                             sizeof err) == SAKSI_OK);
		FUZZ_SETUP(saksi_rules_memory(m, 1000, 0) == SAKSI_OK);
		if (put(txn, k, 1, v, vl)) {
			e = saksi_rules_attach(m, txn);
			FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_CORRUPT || e == SAKSI_ERR_VERSION,
			           "attach: %s", saksi_strerror(e));
			if (e == SAKSI_OK)
				FUZZ_CHECK(saksi_rules_resume_range(m, &from, &to) == SAKSI_OK &&
				           from <= to, "resume range %llu..%llu",
				           (unsigned long long)from, (unsigned long long)to);
		}
		saksi_rules_free(m);
		break;
	}
	default:  /* O: an open-index key of any length, the value empty */
		k[0] = 'O';
		if (vl > sizeof(k) - 1)
			vl = sizeof(k) - 1;
		memcpy(k + 1, v, vl);
		if (put(txn, k, 1 + vl, (const uint8_t *)"", 0)) {
			e = saksi_rules_reraise_due(fz_r, txn, UINT64_MAX / 2, 1000, &x);
			OK_OR(e);
		}
		break;
	}
	mdb_txn_abort(txn);
	return 0;
}
