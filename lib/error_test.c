/* error_test.c: every error code and reason code has its own name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_error_named),
		cmocka_unit_test(test_reason_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
