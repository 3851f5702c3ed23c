/* Unit tests for topic names (flt/topic.h): every kind builds and parses back,
 * and hostile topics (other roots, bad or reserved ids, wildcards, extra
 * levels, bad hashes) are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flt/topic.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_build_parse(void **state)
{
	(void)state;
	char buf[FLT_TOPIC_MAX];
	struct flt_topic t;

	for (int k = 0; k < FLT_TOPIC_COUNT_; k++) {
		assert_int_equal(
		    flt_topic_build((enum flt_topic_kind)k, "dev-01", SHA, buf, sizeof(buf)),
		    FLT_OK);
		assert_int_equal(flt_topic_parse(buf, &t), FLT_OK);
		assert_int_equal(t.kind, k);
		if (k == FLT_TOPIC_ART_CHUNK)
			assert_string_equal(t.device_id, "");
		else
			assert_string_equal(t.device_id, "dev-01");
		if (k == FLT_TOPIC_ART_CHUNK || k == FLT_TOPIC_DOWN_CHUNK)
			assert_string_equal(t.sha256, SHA);
		else
			assert_string_equal(t.sha256, "");
	}
	assert_int_equal(flt_topic_build(FLT_TOPIC_UP_STATE, "dev-01", NULL, buf, sizeof(buf)),
	                 FLT_OK);
	assert_string_equal(buf, "flotilla/v1/dev/dev-01/up/state");
	assert_int_equal(flt_topic_build(FLT_TOPIC_DOWN_CHUNK, "d", SHA, buf, sizeof(buf)), FLT_OK);
	assert_string_equal(buf, "flotilla/v1/dev/d/down/chunk/" SHA);
	assert_int_equal(flt_topic_build(FLT_TOPIC_ART_CHUNK, NULL, SHA, buf, sizeof(buf)), FLT_OK);
	assert_string_equal(buf, "flotilla/v1/art/" SHA "/chunk");
	assert_true(flt_topic_retained(FLT_TOPIC_DOWN_DESIRED));
	assert_true(flt_topic_retained(FLT_TOPIC_UP_STATUS));
	assert_false(flt_topic_retained(FLT_TOPIC_UP_TELEMETRY));
	assert_false(flt_topic_retained(FLT_TOPIC_COUNT_));

	/* a 64-character id fits FLT_TOPIC_MAX with the longest suffix */
	char id[65];
	memset(id, 'a', 64);
	id[64] = '\0';
	assert_int_equal(flt_topic_build(FLT_TOPIC_DOWN_CHUNK, id, SHA, buf, sizeof(buf)), FLT_OK);
	assert_int_equal(flt_topic_parse(buf, &t), FLT_OK);
	assert_int_equal(flt_topic_build(FLT_TOPIC_UP_STATE, "dev-01", NULL, buf, 10), FLT_ELIMIT);
}

static void test_refused(void **state)
{
	(void)state;
	char buf[FLT_TOPIC_MAX];
	struct flt_topic t = {.kind = FLT_TOPIC_UP_FETCH};
	static const char *const bad[] = {
	    "",
	    "flotilla/v1/dev/dev-01/up/state/x",
	    "flotilla/v1/dev/dev-01/up/stat",
	    "flotilla/v1/dev/dev-01/up/",
	    "flotilla/v1/dev/dev-01",
	    "flotilla/v1/dev//up/state",
	    "flotilla/v1/dev/../up/state",
	    "flotilla/v1/dev/Dev/up/state",
	    "flotilla/v1/dev/+/up/state",
	    "flotilla/v1/dev/#",
	    "flotilla/v1/dev/flotilla-controller/up/state",
	    "flotilla/v2/dev/dev-01/up/state",
	    "/flotilla/v1/dev/dev-01/up/state",
	    "flotilla/v1/dev/dev-01/down/chunk/" SHA "/x",
	    "flotilla/v1/dev/dev-01/down/chunk/",
	    "flotilla/v1/dev/dev-01/down/chunk/ABCDEF",
	    "flotilla/v1/art/" SHA "/chunk/x",
	    "flotilla/v1/art/" SHA,
	    "flotilla/v1/art/" SHA "0/chunk",
	    "flotilla/v1/art/xyz/chunk",
	    NULL,
	};
	for (const char *const *b = bad; *b; b++)
		if (flt_topic_parse(*b, &t) != FLT_EPARSE)
			fail_msg("accepted %s", *b);
	assert_int_equal(t.kind, FLT_TOPIC_UP_FETCH);
	assert_int_equal(
	    flt_topic_build(FLT_TOPIC_UP_STATE, FLT_CONTROLLER_IDENTITY, NULL, buf, sizeof(buf)),
	    FLT_EINVAL);
	assert_int_equal(flt_topic_build(FLT_TOPIC_UP_STATE, "a/b", NULL, buf, sizeof(buf)),
	                 FLT_EINVAL);
	assert_int_equal(flt_topic_build(FLT_TOPIC_DOWN_CHUNK, "d", "abc", buf, sizeof(buf)),
	                 FLT_EINVAL);
	assert_int_equal(flt_topic_build(FLT_TOPIC_COUNT_, "d", SHA, buf, sizeof(buf)), FLT_EINVAL);
	assert_int_equal(flt_topic_parse(NULL, &t), FLT_EINVAL);
}

static void test_filters(void **state)
{
	(void)state;
	char buf[FLT_TOPIC_MAX];

	assert_int_equal(flt_topic_filter_device("dev-01", buf, sizeof(buf)), FLT_OK);
	assert_string_equal(buf, "flotilla/v1/dev/dev-01/down/#");
	assert_int_equal(flt_topic_filter_artifact(SHA, buf, sizeof(buf)), FLT_OK);
	assert_string_equal(buf, "flotilla/v1/art/" SHA "/#");
	assert_string_equal(FLT_TOPIC_FILTER_SERVE, "flotilla/v1/dev/+/up/#");
	assert_int_equal(flt_topic_filter_device("+", buf, sizeof(buf)), FLT_EINVAL);
	assert_int_equal(flt_topic_filter_artifact("#", buf, sizeof(buf)), FLT_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_parse),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_filters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
