/* Unit tests for the reason codes: names round-trip, meanings exist, and every
 * code is documented in docs/protocol.md (so the document stays true). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flt/reason.h"

static void test_names_round_trip(void **state)
{
	(void)state;
	for (unsigned i = 0; i < FLT_REASON_COUNT_; i++) {
		enum flt_reason r = FLT_REASON_COUNT_;
		const char *n = flt_reason_name((enum flt_reason)i);
		assert_true(strlen(flt_reason_meaning((enum flt_reason)i)) > 5);
		assert_true(flt_reason_from_name(n, &r));
		assert_int_equal(r, i);
	}
	enum flt_reason r = FLT_REASON_NONE;
	assert_false(flt_reason_from_name("bad_signature", &r));
	assert_false(flt_reason_from_name(NULL, &r));
	assert_int_equal(r, FLT_REASON_NONE);
	assert_string_equal(flt_reason_name(FLT_REASON_BAD_SIGNATURE), "BAD_SIGNATURE");
	assert_string_equal(flt_reason_name((enum flt_reason)9999), "INTERNAL");
	assert_int_equal(flt_reason_from_err(FLT_ELIMIT), FLT_REASON_TOO_LARGE);
	assert_int_equal(flt_reason_from_err(FLT_EUNSUPPORTED), FLT_REASON_UNSUPPORTED_PROTOCOL);
	assert_int_equal(flt_reason_from_err(FLT_ENOMEM), FLT_REASON_INTERNAL);
}

static void test_documented(void **state)
{
	(void)state;
	const char *src = getenv("FLT_SOURCE_DIR");
	char path[4096];
	FILE *f;
	char *doc;
	long n;

	assert_non_null(src);
	snprintf(path, sizeof(path), "%s/docs/protocol.md", src);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	doc = calloc(1, (size_t)n + 1);
	assert_non_null(doc);
	assert_int_equal(fread(doc, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	for (unsigned i = 0; i < FLT_REASON_COUNT_; i++) {
		char needle[64];
		snprintf(needle, sizeof(needle), "`%s`", flt_reason_name((enum flt_reason)i));
		if (!strstr(doc, needle))
			fail_msg("reason %s is not documented in docs/protocol.md", needle);
	}
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_round_trip),
	    cmocka_unit_test(test_documented),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
