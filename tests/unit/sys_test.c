/* Unit tests for the small system helpers: random bytes, clocks, free disk space. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flt/sys.h"

static void test_random(void **state)
{
	unsigned char a[64], b[64], zero[64] = {0};
	(void)state;
	assert_int_equal(flt_sys_random(a, sizeof(a)), FLT_OK);
	assert_int_equal(flt_sys_random(b, sizeof(b)), FLT_OK);
	/* 2^-512 chance of a false failure. */
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_int_equal(flt_sys_random(a, 0), FLT_OK);
	/* More than one getrandom call's worth on some kernels. */
	static unsigned char big[1 << 20];
	assert_int_equal(flt_sys_random(big, sizeof(big)), FLT_OK);
	size_t zeros = 0;
	for (size_t i = 0; i < sizeof(big); i++)
		zeros += big[i] == 0;
	assert_true(zeros < sizeof(big) / 128); /* expected ~1/256 */
}

static void test_clocks(void **state)
{
	(void)state;
	uint64_t m1 = flt_sys_mono_ms(), m2 = flt_sys_mono_ms();
	assert_true(m2 >= m1);
	int64_t w = flt_sys_wall_ms();
	assert_true(w > INT64_C(1600000000000)); /* after 2020 */
	assert_true(w < INT64_C(4102444800000)); /* before 2100 */
}

static void test_disk_free(void **state)
{
	uint64_t n = 0;
	(void)state;
	assert_int_equal(flt_sys_disk_free(".", &n), FLT_OK);
	assert_true(n > 0);
	n = 42;
	assert_int_equal(flt_sys_disk_free("/no/such/path/here", &n), FLT_ENOTFOUND);
	assert_int_equal(n, 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random),
	    cmocka_unit_test(test_clocks),
	    cmocka_unit_test(test_disk_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
