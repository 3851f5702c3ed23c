/* Unit tests for the strict JSON layer (flt/json.h) and the identifier rule
 * (flt/ident.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/ident.h"
#include "flt/json.h"

#define P(s, out, e) flt_json_parse((s), strlen(s), 4096, 0, (out), (e))

static void test_parse_ok_and_trailing(void **state)
{
	(void)state;
	struct flt_json_err e = {.reason = FLT_REASON_NONE};
	cJSON *t = NULL;

	assert_int_equal(P(" {\"a\":1} \n", &t, &e), FLT_OK);
	assert_non_null(t);
	cJSON_Delete(t);
	t = NULL;
	assert_int_equal(P("{\"a\":1} x", &t, &e), FLT_EPARSE);
	assert_null(t);
	assert_int_equal(P("{\"a\":1}{}", &t, &e), FLT_EPARSE);
	assert_int_equal(P("", &t, &e), FLT_EPARSE);
	assert_int_equal(P("{\"a\":", &t, &e), FLT_EPARSE);
	/* the length bounds the parse even without a NUL terminator */
	const char buf[] = {'{', '}', 'x'};
	assert_int_equal(flt_json_parse(buf, 2, 100, 0, &t, &e), FLT_OK);
	cJSON_Delete(t);
	t = NULL;
	assert_int_equal(flt_json_parse(buf, 3, 100, 0, &t, &e), FLT_EPARSE);
	assert_int_equal(flt_json_parse_object("[1]", 3, 100, 0, &t, &e), FLT_EPARSE);
	assert_int_equal(flt_json_parse(NULL, 0, 100, 0, &t, &e), FLT_EINVAL);
}

static void test_parse_limits(void **state)
{
	(void)state;
	struct flt_json_err e = {.reason = FLT_REASON_NONE};
	cJSON *t = NULL;
	char deep[64];
	size_t n = 0;

	assert_int_equal(flt_json_parse("{}", 2, 1, 0, &t, &e), FLT_ELIMIT);
	assert_non_null(strstr(e.msg, "exceeds"));
	/* 16 levels pass, 17 do not */
	for (int i = 0; i < 16; i++)
		deep[n++] = '[';
	for (int i = 0; i < 16; i++)
		deep[n++] = ']';
	assert_int_equal(flt_json_parse(deep, n, 100, 0, &t, &e), FLT_OK);
	cJSON_Delete(t);
	t = NULL;
	n = 0;
	for (int i = 0; i < 17; i++)
		deep[n++] = '[';
	for (int i = 0; i < 17; i++)
		deep[n++] = ']';
	assert_int_equal(flt_json_parse(deep, n, 100, 0, &t, &e), FLT_ELIMIT);
	assert_int_equal(flt_json_parse(deep, 4, 100, 3, &t, &e), FLT_ELIMIT);
	/* brackets inside strings do not count */
	assert_int_equal(P("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\"}", &t, &e), FLT_OK);
	cJSON_Delete(t);
	t = NULL;
	/* NUL byte and \u0000 */
	assert_int_equal(flt_json_parse("{\"a\":1}\0", 8, 100, 0, &t, &e), FLT_EPARSE);
	assert_int_equal(P("{\"a\":\"x\\u0000y\"}", &t, &e), FLT_EPARSE);
	assert_null(t);
	/* numbers outside the JSON grammar, control characters */
	static const char *const bad[] = {"[01]",  "[1.]",       "[-]",        "[.5]",     "[1e]",
	                                  "[1e+]", "[-01]",      "[1.5.2]",    "[1-2]",    "[0x10]",
	                                  "[+1]",  "[\"a\tb\"]", "[1,\x01 2]", "[\"\n\"]", NULL};
	for (const char *const *b = bad; *b; b++) {
		if (P(*b, &t, &e) == FLT_OK)
			fail_msg("accepted %s", *b);
		assert_null(t);
	}
	static const char *const good[] = {
	    "[0]",     "[-0]",       "[1.5e-3]",         "[10E+2]",  "[0.0]", "[-12]",
	    "[1e5,2]", "{\"a\":-1}", "[\"\\u00e9\\n\"]", " [1]\r\n", NULL};
	for (const char *const *g = good; *g; g++) {
		if (P(*g, &t, &e) != FLT_OK)
			fail_msg("refused %s: %s", *g, e.msg);
		cJSON_Delete(t);
		t = NULL;
	}
	/* an escaped backslash followed by u0000 text is not an escape */
	assert_int_equal(P("{\"a\":\"\\\\u0000\"}", &t, &e), FLT_OK);
	cJSON_Delete(t);
}

static void test_duplicates(void **state)
{
	(void)state;
	struct flt_json_err e = {.reason = FLT_REASON_NONE};
	cJSON *t = NULL;
	char big[2048];
	int off = 0;

	assert_int_equal(P("{\"a\":1,\"a\":2}", &t, &e), FLT_EPARSE);
	assert_string_equal(e.msg, "duplicate key 'a'");
	assert_int_equal(P("{\"x\":[{\"b\":1,\"c\":2,\"b\":3}]}", &t, &e), FLT_EPARSE);
	assert_int_equal(P("{\"x\":{\"y\":{\"k\":1}},\"y\":{\"k\":1}}", &t, &e), FLT_OK);
	cJSON_Delete(t);
	t = NULL;
	/* many keys: the sorted path */
	off += snprintf(big + off, sizeof(big) - (size_t)off, "{");
	for (int i = 0; i < 40; i++)
		off += snprintf(big + off, sizeof(big) - (size_t)off, "\"k%d\":%d,", i, i);
	off += snprintf(big + off, sizeof(big) - (size_t)off, "\"k17\":0}");
	assert_int_equal(flt_json_parse(big, (size_t)off, 4096, 0, &t, &e), FLT_EPARSE);
	assert_string_equal(e.msg, "duplicate key 'k17'");
	big[off - 5] = '9';
	big[off - 6] = '9'; /* "k99" */
	assert_int_equal(flt_json_parse(big, (size_t)off, 4096, 0, &t, &e), FLT_OK);
	cJSON_Delete(t);
}

static void test_check_keys(void **state)
{
	(void)state;
	struct flt_json_err e = {.reason = FLT_REASON_NONE};
	cJSON *t = NULL;
	static const char *const allowed[] = {"a", "b", NULL};

	assert_int_equal(P("{\"a\":1,\"b\":2}", &t, &e), FLT_OK);
	assert_int_equal(flt_json_check_keys(t, allowed, &e), FLT_OK);
	cJSON_Delete(t);
	assert_int_equal(P("{\"a\":1,\"zz\\n\":2,\"c\":3}", &t, &e), FLT_OK);
	assert_int_equal(flt_json_check_keys(t, allowed, &e), FLT_EPARSE);
	assert_string_equal(e.msg, "unknown key 'zz?'");
	assert_true(flt_json_has(t, "c"));
	assert_false(flt_json_has(t, "b"));
	cJSON_Delete(t);
}

static void test_getters(void **state)
{
	(void)state;
	struct flt_json_err e = {.reason = FLT_REASON_NONE};
	cJSON *t = NULL;
	const char *s = NULL;
	uint64_t u = 7;
	int64_t i = 7;
	double d = 0;
	bool b = false;
	const cJSON *o = NULL;
	size_t n = 0;
	const char *text =
	    "{\"s\":\"h\\u00e9llo\",\"u\":9007199254740991,\"big\":9007199254740992,"
	    "\"neg\":-3,\"frac\":1.5,\"exp\":1e3,\"huge\":1e400,\"b\":true,\"o\":{},"
	    "\"a\":[1,2,3],\"bad\":\"\xc0\xaf\",\"sur\":\"\xed\xa0\x80\",\"n\":null}";

	assert_int_equal(P(text, &t, &e), FLT_OK);
	assert_int_equal(flt_json_get_str(t, "s", 10, &s, &e), FLT_OK);
	assert_string_equal(s, "h\xc3\xa9llo");
	assert_int_equal(flt_json_get_str(t, "s", 5, &s, &e), FLT_ELIMIT);
	assert_int_equal(flt_json_get_str(t, "bad", 10, &s, &e), FLT_EPARSE);
	assert_non_null(strstr(e.msg, "UTF-8"));
	assert_int_equal(flt_json_get_str(t, "sur", 10, &s, &e), FLT_EPARSE);
	assert_int_equal(flt_json_get_str(t, "u", 10, &s, &e), FLT_EPARSE);
	assert_int_equal(flt_json_get_str(t, "missing", 10, &s, &e), FLT_EPARSE);
	assert_string_equal(e.msg, "missing key 'missing'");

	assert_int_equal(flt_json_get_uint(t, "u", UINT64_MAX, &u, &e), FLT_OK);
	assert_true(u == FLT_JSON_MAX_SAFE_INT);
	u = 7;
	assert_int_equal(flt_json_get_uint(t, "big", UINT64_MAX, &u, &e), FLT_EPARSE);
	assert_int_equal(flt_json_get_uint(t, "neg", UINT64_MAX, &u, &e), FLT_EPARSE);
	assert_int_equal(flt_json_get_uint(t, "frac", UINT64_MAX, &u, &e), FLT_EPARSE);
	assert_int_equal(flt_json_get_uint(t, "huge", UINT64_MAX, &u, &e), FLT_EPARSE);
	assert_int_equal(flt_json_get_uint(t, "s", UINT64_MAX, &u, &e), FLT_EPARSE);
	assert_int_equal(flt_json_get_uint(t, "n", UINT64_MAX, &u, &e), FLT_EPARSE);
	assert_true(u == 7); /* untouched on failure */
	assert_int_equal(flt_json_get_uint(t, "exp", 999, &u, &e), FLT_ELIMIT);
	assert_int_equal(e.reason, FLT_REASON_TOO_LARGE);
	assert_int_equal(flt_json_get_uint(t, "exp", 1000, &u, &e), FLT_OK);
	assert_true(u == 1000);

	assert_int_equal(flt_json_get_int(t, "neg", &i, &e), FLT_OK);
	assert_true(i == -3);
	assert_int_equal(flt_json_get_int(t, "big", &i, &e), FLT_EPARSE);
	assert_int_equal(flt_json_get_int(t, "frac", &i, &e), FLT_EPARSE);

	assert_int_equal(flt_json_get_double(t, "frac", 0, 2, &d, &e), FLT_OK);
	assert_true(d == 1.5);
	assert_int_equal(flt_json_get_double(t, "frac", 0, 1, &d, &e), FLT_EPARSE);

	assert_int_equal(flt_json_get_bool(t, "b", &b, &e), FLT_OK);
	assert_true(b);
	assert_int_equal(flt_json_get_bool(t, "u", &b, &e), FLT_EPARSE);

	assert_int_equal(flt_json_get_obj(t, "o", &o, &e), FLT_OK);
	assert_int_equal(flt_json_get_obj(t, "a", &o, &e), FLT_EPARSE);
	assert_int_equal(flt_json_get_arr(t, "a", 3, &o, &n, &e), FLT_OK);
	assert_int_equal(n, 3);
	assert_int_equal(flt_json_get_arr(t, "a", 2, &o, &n, &e), FLT_ELIMIT);
	assert_int_equal(flt_json_get_arr(t, "o", 2, &o, &n, &e), FLT_EPARSE);
	cJSON_Delete(t);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(flt_json_utf8_valid("", 0));
	assert_true(flt_json_utf8_valid("\xf0\x9f\x98\x80", 4));
	assert_false(flt_json_utf8_valid("\xf0\x9f\x98", 3));     /* truncated */
	assert_false(flt_json_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(flt_json_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
	assert_false(flt_json_utf8_valid("\xff", 1));
	assert_false(flt_json_utf8_valid("\x80", 1));
}

static void test_encode(void **state)
{
	(void)state;
	cJSON *o = cJSON_CreateObject();
	char *out = NULL;
	size_t len = 0;

	assert_non_null(o);
	assert_int_equal(flt_json_add_uint(o, "u", FLT_JSON_MAX_SAFE_INT), FLT_OK);
	assert_int_equal(flt_json_add_uint(o, "v", FLT_JSON_MAX_SAFE_INT + 1), FLT_EINVAL);
	assert_int_equal(flt_json_add_int(o, "i", -5), FLT_OK);
	assert_int_equal(flt_json_add_str(o, "s", "x"), FLT_OK);
	assert_int_equal(flt_json_add_double(o, "d", 0.1), FLT_OK);
	assert_int_equal(flt_json_add_double(o, "nan", NAN), FLT_EINVAL);
	cJSON *a = cJSON_AddArrayToObject(o, "a");
	assert_int_equal(flt_json_push_uint(a, 1), FLT_OK);
	assert_int_equal(flt_json_push_int(a, -1), FLT_OK);
	assert_int_equal(flt_json_push_str(a, "z"), FLT_OK);
	assert_int_equal(flt_json_print(o, &out, &len), FLT_OK);
	assert_string_equal(out, "{\"u\":9007199254740991,\"i\":-5,\"s\":\"x\",\"d\":0.1,"
	                         "\"a\":[1,-1,\"z\"]}");
	/* and it reads back exactly */
	cJSON *back = NULL;
	double d = 0;
	uint64_t u = 0;
	assert_int_equal(flt_json_parse(out, len, 4096, 0, &back, NULL), FLT_OK);
	assert_int_equal(flt_json_get_double(back, "d", 0, 1, &d, NULL), FLT_OK);
	assert_true(d == 0.1);
	/* a value that needs all 17 digits still reads back exactly */
	cJSON *o2 = cJSON_CreateObject();
	char *t2 = NULL;
	size_t l2 = 0;
	const double hard = 0.1 + 0.2;
	assert_int_equal(flt_json_add_double(o2, "x", hard), FLT_OK);
	assert_int_equal(flt_json_print(o2, &t2, &l2), FLT_OK);
	assert_string_equal(t2, "{\"x\":0.30000000000000004}");
	cJSON *b2 = NULL;
	assert_int_equal(flt_json_parse(t2, l2, 100, 0, &b2, NULL), FLT_OK);
	assert_int_equal(flt_json_get_double(b2, "x", 0, 1, &d, NULL), FLT_OK);
	assert_true(d == hard);
	cJSON_Delete(b2);
	cJSON_Delete(o2);
	flt_free(t2);
	assert_int_equal(flt_json_get_uint(back, "u", UINT64_MAX, &u, NULL), FLT_OK);
	assert_true(u == FLT_JSON_MAX_SAFE_INT);
	cJSON_Delete(back);
	assert_int_equal(len, strlen(out));
	flt_free(out);
	cJSON_Delete(o);
}

static void test_ident(void **state)
{
	(void)state;
	char long_ok[65], long_bad[66];

	assert_true(flt_ident_valid("a"));
	assert_true(flt_ident_valid("dev-01.lab_2"));
	assert_true(flt_ident_valid("0"));
	assert_false(flt_ident_valid(NULL));
	assert_false(flt_ident_valid(""));
	assert_false(flt_ident_valid("."));
	assert_false(flt_ident_valid(".."));
	assert_false(flt_ident_valid(".hidden"));
	assert_false(flt_ident_valid("-x"));
	assert_false(flt_ident_valid("_x"));
	assert_false(flt_ident_valid("Abc"));
	assert_false(flt_ident_valid("a/b"));
	assert_false(flt_ident_valid("a b"));
	assert_false(flt_ident_valid("a+"));
	assert_false(flt_ident_valid("a#"));
	assert_false(flt_ident_valid("\xc3\xa9"));
	memset(long_ok, 'a', 64);
	long_ok[64] = '\0';
	memset(long_bad, 'a', 65);
	long_bad[65] = '\0';
	assert_true(flt_ident_valid(long_ok));
	assert_false(flt_ident_valid(long_bad));
	assert_true(flt_ident_valid(FLT_CONTROLLER_IDENTITY));
	assert_false(flt_ident_device_valid(FLT_CONTROLLER_IDENTITY));
	assert_true(flt_ident_device_valid("flotilla-controller2"));
	assert_false(flt_ident_device_valid(".."));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ok_and_trailing),
	    cmocka_unit_test(test_parse_limits),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_check_keys),
	    cmocka_unit_test(test_getters),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_encode),
	    cmocka_unit_test(test_ident),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
