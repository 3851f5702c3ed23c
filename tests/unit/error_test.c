/* Unit tests for the error enum and the allocation wrapper's failure injection. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/error.h"

static void test_every_error_has_text(void **state)
{
	(void)state;
	for (int e = 0; e < FLT_ERR_COUNT_; e++) {
		assert_non_null(flt_strerror((flt_err)e));
		assert_string_not_equal(flt_errname((flt_err)e), "unknown");
	}
	assert_string_equal(flt_strerror((flt_err)999), "unknown error");
	assert_string_equal(flt_errname(FLT_EVERIFY), "verify");
}

static void test_errno_mapping(void **state)
{
	(void)state;
	assert_int_equal(flt_err_from_errno(ENOENT), FLT_ENOTFOUND);
	assert_int_equal(flt_err_from_errno(ENOSPC), FLT_ELIMIT);
	assert_int_equal(flt_err_from_errno(ENOMEM), FLT_ENOMEM);
	assert_int_equal(flt_err_from_errno(EIO), FLT_EIO);
}

static void test_alloc_injection(void **state)
{
	(void)state;
	flt_alloc_fail_after(2);
	void *a = flt_malloc(8), *b = flt_malloc(8), *c = flt_malloc(8);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(c);
	assert_null(flt_strdup("x"));
	flt_alloc_fail_reset();
	char *d = flt_strdup("hello");
	assert_string_equal(d, "hello");
	flt_free(a);
	flt_free(b);
	flt_free(d);
	flt_free(NULL);
}

static void test_calloc_overflow(void **state)
{
	(void)state;
	assert_null(flt_calloc(SIZE_MAX / 2, 4));
	assert_null(flt_reallocarray(NULL, SIZE_MAX / 2, 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_error_has_text),
	    cmocka_unit_test(test_errno_mapping),
	    cmocka_unit_test(test_alloc_injection),
	    cmocka_unit_test(test_calloc_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
