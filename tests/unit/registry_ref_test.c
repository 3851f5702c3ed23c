/* Unit tests for the registry's pure parts: model names, references
 * (NAME, NAME:VER, NAME:latest, NAME@alias) and signature diff classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/registry.h"

static void test_names(void **state)
{
	(void)state;
	assert_true(flt_registry_name_valid("resnet"));
	assert_true(flt_registry_name_valid("a"));
	assert_true(flt_registry_name_valid("0model.v2_x-y"));
	char max[65];
	memset(max, 'a', 64);
	max[64] = '\0';
	assert_true(flt_registry_name_valid(max));
	char over[66];
	memset(over, 'a', 65);
	over[65] = '\0';
	assert_false(flt_registry_name_valid(over));
	assert_false(flt_registry_name_valid(""));
	assert_false(flt_registry_name_valid("."));
	assert_false(flt_registry_name_valid(".."));
	assert_false(flt_registry_name_valid("-x"));
	assert_false(flt_registry_name_valid(".hidden"));
	assert_false(flt_registry_name_valid("Upper"));
	assert_false(flt_registry_name_valid("a/b"));
	assert_false(flt_registry_name_valid("a b"));
	assert_false(flt_registry_name_valid(NULL));
}

static void test_ref_forms(void **state)
{
	(void)state;
	struct flt_model_ref r;
	assert_int_equal(flt_model_ref_parse("m", &r), FLT_OK);
	assert_string_equal(r.name, "m");
	assert_int_equal(r.kind, FLT_REF_LATEST);
	assert_int_equal(r.explicit_latest, 0);

	assert_int_equal(flt_model_ref_parse("m:latest", &r), FLT_OK);
	assert_int_equal(r.kind, FLT_REF_LATEST);
	assert_int_equal(r.explicit_latest, 1);

	assert_int_equal(flt_model_ref_parse("det.v2:42", &r), FLT_OK);
	assert_string_equal(r.name, "det.v2");
	assert_int_equal(r.kind, FLT_REF_VERSION);
	assert_int_equal(r.version, 42);

	assert_int_equal(flt_model_ref_parse("m:1796316942836", &r), FLT_OK);
	assert_int_equal(r.version, 1796316942836LL);

	assert_int_equal(flt_model_ref_parse("m@promoted", &r), FLT_OK);
	assert_int_equal(r.kind, FLT_REF_ALIAS);
	assert_string_equal(r.alias, "promoted");
}

static void test_ref_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    ":1",
	    "@a",
	    "m:",
	    "m@",
	    "m:0",
	    "m:-1",
	    "m:+1",
	    "m:01",
	    "m: 1",
	    "m:1x",
	    "m:1.5",
	    "m:99999999999999999999",
	    "m:1:2",
	    "m@a@b",
	    "m:1@a",
	    "m@a:1",
	    "M",
	    "m@A",
	    "m@..",
	    "..:1",
	    "m:latest2",
	    "m:LATEST",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct flt_model_ref r;
		memset(&r, 0x5a, sizeof(r));
		if (flt_model_ref_parse(bad[i], &r) != FLT_EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		/* out-parameter untouched on failure */
		assert_int_equal(((unsigned char *)&r)[0], 0x5a);
	}
	struct flt_model_ref r;
	assert_int_equal(flt_model_ref_parse(NULL, &r), FLT_EINVAL);
}

static void test_ref_format(void **state)
{
	(void)state;
	char buf[96];
	flt_model_ref_format("m", 7, buf, sizeof(buf));
	assert_string_equal(buf, "m:7");
	struct flt_model_ref r;
	assert_int_equal(flt_model_ref_parse(buf, &r), FLT_OK);
	assert_int_equal(r.version, 7);
}

/* ---- signature diff ---- */

static struct flt_rt_value_info vi(const char *name, int32_t dtype, int rank, const int64_t *dims,
                                   const char *const *params)
{
	struct flt_rt_value_info v;
	memset(&v, 0, sizeof(v));
	v.name = (char *)name;
	v.dtype = dtype;
	v.rank = rank;
	for (int i = 0; i < FLT_RT_MAX_RANK; i++)
		v.dims[i] = -1;
	for (int i = 0; i < rank; i++) {
		v.dims[i] = dims ? dims[i] : -1;
		v.dim_params[i] = params ? (char *)params[i] : NULL;
	}
	return v;
}

static size_t diff(const struct flt_rt_value_info *a, size_t na, const struct flt_rt_value_info *b,
                   size_t nb, int outputs, struct flt_sig_change **ch)
{
	size_t n = 0;
	*ch = NULL;
	assert_int_equal(flt_sig_diff(a, na, b, nb, outputs, ch, &n), FLT_OK);
	return n;
}

static void test_diff_identical(void **state)
{
	(void)state;
	int64_t d[] = {1, 3, 224, 224};
	struct flt_rt_value_info a = vi("x", 1, 4, d, NULL);
	struct flt_sig_change *ch;
	assert_int_equal(diff(&a, 1, &a, 1, 0, &ch), 0);
	flt_free(ch);
}

static void test_diff_inputs(void **state)
{
	(void)state;
	int64_t fixed[] = {1, 3, 224, 224}, other[] = {1, 3, 256, 256}, dyn[] = {-1, 3, 224, 224};
	const char *const np[] = {"N", NULL, NULL, NULL};
	const char *const bp[] = {"batch", NULL, NULL, NULL};
	struct flt_sig_change *ch;

	/* fixed batch -> symbolic batch: accepts more, compatible */
	struct flt_rt_value_info a = vi("x", 1, 4, fixed, NULL), b = vi("x", 1, 4, dyn, np);
	assert_int_equal(diff(&a, 1, &b, 1, 0, &ch), 1);
	assert_int_equal(ch[0].breaking, 0);
	assert_non_null(strstr(ch[0].reason, "accepts more"));
	flt_free(ch);

	/* symbolic -> fixed: accepts less, breaking */
	assert_int_equal(diff(&b, 1, &a, 1, 0, &ch), 1);
	assert_int_equal(ch[0].breaking, 1);
	flt_free(ch);

	/* symbol renamed: compatible */
	struct flt_rt_value_info c = vi("x", 1, 4, dyn, bp);
	assert_int_equal(diff(&b, 1, &c, 1, 0, &ch), 1);
	assert_int_equal(ch[0].breaking, 0);
	flt_free(ch);

	/* fixed size changed: breaking, one change per dim */
	struct flt_rt_value_info o = vi("x", 1, 4, other, NULL);
	assert_int_equal(diff(&a, 1, &o, 1, 0, &ch), 2);
	assert_int_equal(ch[0].breaking, 1);
	assert_int_equal(ch[1].breaking, 1);
	assert_non_null(strstr(ch[0].reason, "224 -> 256"));
	flt_free(ch);

	/* dtype changed: breaking */
	struct flt_rt_value_info t = vi("x", 10, 4, fixed, NULL);
	assert_int_equal(diff(&a, 1, &t, 1, 0, &ch), 1);
	assert_int_equal(ch[0].breaking, 1);
	assert_non_null(strstr(ch[0].reason, "float -> float16"));
	flt_free(ch);

	/* rank changed: breaking */
	struct flt_rt_value_info r3 = vi("x", 1, 3, fixed, NULL);
	assert_int_equal(diff(&a, 1, &r3, 1, 0, &ch), 1);
	assert_int_equal(ch[0].breaking, 1);
	flt_free(ch);

	/* input added (callers don't feed it) and removed: both breaking */
	struct flt_rt_value_info two[2] = {a, vi("mask", 9, 1, fixed, NULL)};
	assert_int_equal(diff(&a, 1, two, 2, 0, &ch), 1);
	assert_int_equal(ch[0].breaking, 1);
	assert_string_equal(ch[0].name, "mask");
	flt_free(ch);
	assert_int_equal(diff(two, 2, &a, 1, 0, &ch), 1);
	assert_int_equal(ch[0].breaking, 1);
	assert_non_null(strstr(ch[0].reason, "removed"));
	flt_free(ch);

	/* unknown shape on the new side: an input accepting anything is compatible */
	struct flt_rt_value_info u = vi("x", 1, -1, NULL, NULL);
	assert_int_equal(diff(&a, 1, &u, 1, 0, &ch), 1);
	assert_int_equal(ch[0].breaking, 0);
	flt_free(ch);
}

static void test_diff_outputs(void **state)
{
	(void)state;
	int64_t fixed[] = {1, 1000}, dyn[] = {-1, 1000};
	const char *const np[] = {"N", NULL};
	struct flt_sig_change *ch;
	struct flt_rt_value_info a = vi("y", 1, 2, fixed, NULL), b = vi("y", 1, 2, dyn, np);
	/* output fixed -> symbolic: readers sized buffers, breaking */
	assert_int_equal(diff(&a, 1, &b, 1, 1, &ch), 1);
	assert_int_equal(ch[0].breaking, 1);
	assert_int_equal(ch[0].output, 1);
	flt_free(ch);
	/* output symbolic -> fixed: narrower, compatible */
	assert_int_equal(diff(&b, 1, &a, 1, 1, &ch), 1);
	assert_int_equal(ch[0].breaking, 0);
	flt_free(ch);
	/* output added: compatible; output removed: breaking */
	struct flt_rt_value_info two[2] = {a, vi("scores", 1, 2, fixed, NULL)};
	assert_int_equal(diff(&a, 1, two, 2, 1, &ch), 1);
	assert_int_equal(ch[0].breaking, 0);
	flt_free(ch);
	assert_int_equal(diff(two, 2, &a, 1, 1, &ch), 1);
	assert_int_equal(ch[0].breaking, 1);
	flt_free(ch);
	/* output shape now unknown: breaking */
	struct flt_rt_value_info u = vi("y", 1, -1, NULL, NULL);
	assert_int_equal(diff(&a, 1, &u, 1, 1, &ch), 1);
	assert_int_equal(ch[0].breaking, 1);
	flt_free(ch);
}

static void test_diff_nomem(void **state)
{
	(void)state;
	int64_t d[] = {1};
	struct flt_rt_value_info a = vi("x", 1, 1, d, NULL), b = vi("x", 7, 1, d, NULL);
	struct flt_sig_change *ch = NULL;
	size_t n = 0;
	flt_alloc_fail_after(0);
	assert_int_equal(flt_sig_diff(&a, 1, &b, 1, 0, &ch, &n), FLT_ENOMEM);
	flt_alloc_fail_reset();
	assert_null(ch);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),          cmocka_unit_test(test_ref_forms),
	    cmocka_unit_test(test_ref_rejects),    cmocka_unit_test(test_ref_format),
	    cmocka_unit_test(test_diff_identical), cmocka_unit_test(test_diff_inputs),
	    cmocka_unit_test(test_diff_outputs),   cmocka_unit_test(test_diff_nomem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
