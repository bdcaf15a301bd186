/* error_test.c: every error code and reason code has its own name; LMDB's codes map as
 * saksi_error_of_mdb says. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <lmdb.h>

#include "saksi_error.h"
#include "wire.h"

static void
test_every_error_named(void **state)
{
	(void)state;
	for (int i = 0; i < SAKSI_ERR__COUNT; i++) {
		assert_non_null(saksi_strerror((saksi_err)i));
		assert_string_not_equal(saksi_strerror((saksi_err)i), "unknown error");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(saksi_strerror((saksi_err)i),
			                        saksi_strerror((saksi_err)j));
	}
	assert_string_equal(saksi_strerror(SAKSI_ERR__COUNT), "unknown error");
	assert_string_equal(saksi_strerror((saksi_err)-1), "unknown error");
}

static void
test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(saksi_reason_name(SAKSI_R_EQUIVOCATION), "equivocation");
	assert_string_equal(saksi_reason_name(SAKSI_R_CLOCK_SKEW), "clock_skew");
	assert_string_equal(saksi_reason_name(99), "unknown");
	assert_string_equal(saksi_reason_name(-1), "unknown");
}

static void
test_of_mdb(void **state)
{
	static const struct {
		int rc;
		saksi_err want;
	} m[] = {
		{ MDB_SUCCESS, SAKSI_OK },
		{ MDB_NOTFOUND, SAKSI_ERR_NOT_FOUND }, { ENOENT, SAKSI_ERR_NOT_FOUND },
		{ MDB_MAP_FULL, SAKSI_ERR_FULL }, { MDB_TXN_FULL, SAKSI_ERR_FULL },
		{ ENOSPC, SAKSI_ERR_FULL }, { EDQUOT, SAKSI_ERR_FULL },
		{ ENOMEM, SAKSI_ERR_NOMEM }, { EIO, SAKSI_ERR_IO },
		{ EACCES, SAKSI_ERR_PERM }, { EPERM, SAKSI_ERR_PERM }, { EROFS, SAKSI_ERR_PERM },
		{ MDB_CORRUPTED, SAKSI_ERR_CORRUPT }, { MDB_PAGE_NOTFOUND, SAKSI_ERR_CORRUPT },
		{ MDB_VERSION_MISMATCH, SAKSI_ERR_VERSION },
		/* Not an LMDB file: the caller decides; unknown codes are the ledger's. */
		{ MDB_INVALID, SAKSI_ERR_LEDGER }, { MDB_INCOMPATIBLE, SAKSI_ERR_LEDGER },
		{ MDB_KEYEXIST, SAKSI_ERR_LEDGER }, { EINVAL, SAKSI_ERR_LEDGER },
		{ -1, SAKSI_ERR_LEDGER },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		assert_int_equal(saksi_error_of_mdb(m[i].rc), m[i].want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_error_named),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_of_mdb),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
