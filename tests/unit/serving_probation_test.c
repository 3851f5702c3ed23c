/* Probation: the pure verdict on hand-made statistics (each limit, the
 * minimum request count, the window end), then on real serving statistics:
 * a version that starts failing after activation and one that is too slow
 * each FAIL with their reason, while a good one PASSes and the previous
 * version can be switched back in. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "flt/serving.h"
#include "serving_util.h"

static void test_verdicts(void **state)
{
	(void)state;
	struct flt_probation_limits lim = {.probation_s = 60,
	                                   .max_error_rate = 0.05,
	                                   .max_crashes = 1,
	                                   .latency_ms_max = 10,
	                                   .min_requests = 20};
	struct flt_serving_stats st;
	enum flt_reason why = FLT_REASON_INTERNAL;
	memset(&st, 0, sizeof(st));

	/* nothing yet: keep watching; the window's end alone passes */
	assert_int_equal(flt_probation_evaluate(&lim, &st, 0, 1, &why), FLT_PROBATION_CONTINUE);
	assert_int_equal(why, FLT_REASON_NONE);
	assert_int_equal(flt_probation_evaluate(&lim, &st, 0, 60, &why), FLT_PROBATION_PASS);

	/* crashes: one allowed, two not */
	assert_int_equal(flt_probation_evaluate(&lim, &st, 1, 5, &why), FLT_PROBATION_CONTINUE);
	assert_int_equal(flt_probation_evaluate(&lim, &st, 2, 5, &why), FLT_PROBATION_FAIL);
	assert_int_equal(why, FLT_REASON_CRASHES);

	/* error rate: 5 of 19 is not judged yet (min 20); 5 of 20 is 25% > 5% */
	st.ok = 14;
	st.errors[FLT_USAGE_RUNTIME] = 5;
	assert_int_equal(flt_probation_evaluate(&lim, &st, 0, 5, &why), FLT_PROBATION_CONTINUE);
	st.ok = 15;
	assert_int_equal(flt_probation_evaluate(&lim, &st, 0, 5, &why), FLT_PROBATION_FAIL);
	assert_int_equal(why, FLT_REASON_ERROR_RATE);
	/* exactly at the limit passes: 1 of 20 = 5% */
	st.ok = 19;
	st.errors[FLT_USAGE_RUNTIME] = 1;
	assert_int_equal(flt_probation_evaluate(&lim, &st, 0, 60, &why), FLT_PROBATION_PASS);
	/* busy and bad input are not the model's fault */
	st.errors[FLT_USAGE_BUSY] = 1000;
	st.errors[FLT_USAGE_BAD_INPUT] = 1000;
	assert_int_equal(flt_probation_evaluate(&lim, &st, 0, 60, &why), FLT_PROBATION_PASS);
	/* timeouts and internal errors are */
	st.errors[FLT_USAGE_TIMEOUT] = 1;
	st.errors[FLT_USAGE_INTERNAL] = 1;
	assert_int_equal(flt_probation_evaluate(&lim, &st, 0, 60, &why), FLT_PROBATION_FAIL);
	assert_int_equal(why, FLT_REASON_ERROR_RATE);

	/* latency: 1 of 100 over is p99 within; 2 of 100 is over */
	memset(&st, 0, sizeof(st));
	st.ok = 100;
	st.over_latency = 1;
	assert_int_equal(flt_probation_evaluate(&lim, &st, 0, 60, &why), FLT_PROBATION_PASS);
	st.over_latency = 2;
	assert_int_equal(flt_probation_evaluate(&lim, &st, 0, 5, &why), FLT_PROBATION_FAIL);
	assert_int_equal(why, FLT_REASON_LATENCY);
	lim.latency_ms_max = 0; /* not judged without a bound */
	assert_int_equal(flt_probation_evaluate(&lim, &st, 0, 60, &why), FLT_PROBATION_PASS);

	/* min_requests 0 means the documented default */
	lim.min_requests = 0;
	memset(&st, 0, sizeof(st));
	st.errors[FLT_USAGE_RUNTIME] = FLT_PROBATION_MIN_REQUESTS - 1;
	assert_int_equal(flt_probation_evaluate(&lim, &st, 0, 5, &why), FLT_PROBATION_CONTINUE);
	st.errors[FLT_USAGE_RUNTIME]++;
	assert_int_equal(flt_probation_evaluate(&lim, &st, 0, 5, &why), FLT_PROBATION_FAIL);
	assert_int_equal(why, FLT_REASON_ERROR_RATE);
}

/* Fault plan per version: fail every 2nd request after the 5th, or be slow. */
struct plan {
	uint64_t failing_version, slow_version;
	atomic_uint calls;
};

static flt_err plan_hook(void *arg, const char *name, uint64_t version)
{
	struct plan *p = arg;
	(void)name;
	if (version == p->failing_version) {
		unsigned n = atomic_fetch_add(&p->calls, 1);
		if (n >= 5 && n % 2)
			return FLT_EINTERNAL;
	}
	if (version == p->slow_version) {
		struct timespec ts = {
		    0, 12 * 1000000}; /* models a slow model, not a synchronisation */
		nanosleep(&ts, NULL);
	}
	return FLT_OK;
}

static unsigned drive(struct flt_serving *s, struct su_env *e, unsigned n, uint64_t *version)
{
	unsigned failed = 0;
	for (unsigned i = 0; i < n; i++) {
		struct flt_rt_tensor out;
		char err[256];
		memset(&out, 0, sizeof(out));
		if (flt_serving_infer(s, "digits", 0, &e->input, 1, &out, 1, version, err,
		                      sizeof(err)))
			failed++;
		flt_free(out.data);
	}
	return failed;
}

static enum flt_probation_verdict judge(struct flt_serving *s, uint64_t v, double elapsed,
                                        enum flt_reason *why)
{
	struct flt_serving_stats st;
	assert_int_equal(flt_serving_stats(s, "digits", v, &st), FLT_OK);
	struct flt_probation_limits lim = {.probation_s = 30,
	                                   .max_error_rate = 0.1,
	                                   .max_crashes = 0,
	                                   .latency_ms_max = st.latency_ms_max,
	                                   .min_requests = 20};
	return flt_probation_evaluate(&lim, &st, 0, elapsed, why);
}

static void test_serving_probation(void **state)
{
	(void)state;
	struct su_env env;
	struct flt_serving *s = NULL;
	struct plan p = {.failing_version = 2, .slow_version = 3};
	enum flt_reason why;
	char err[256];
	uint64_t v = 0;
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	assert_int_equal(su_setup(&env), 0);
	struct flt_serving_opts o = {
	    .socket_path = env.sock, .workers = 1, .fault = plan_hook, .fault_arg = &p};
	assert_int_equal(flt_serving_create(&o, &s), FLT_OK);

	/* committed version 1: good */
	/* good versions get a bound no scheduling hiccup reaches (the machine is shared) */
	assert_int_equal(flt_serving_activate(s, "digits", 1, env.v1, 2000, err, sizeof(err)),
	                 FLT_OK);
	assert_int_equal(drive(s, &env, 40, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(judge(s, 1, 10, &why), FLT_PROBATION_CONTINUE);
	assert_int_equal(judge(s, 1, 30, &why), FLT_PROBATION_PASS);
	assert_int_equal(why, FLT_REASON_NONE);

	/* version 2 starts failing after activation */
	assert_int_equal(flt_serving_activate(s, "digits", 2, env.v2, 2000, err, sizeof(err)),
	                 FLT_OK);
	unsigned failed = drive(s, &env, 40, &v);
	assert_true(failed >= 15);
	assert_int_equal(judge(s, 2, 3, &why), FLT_PROBATION_FAIL);
	assert_int_equal(why, FLT_REASON_ERROR_RATE);
	struct flt_serving_stats st;
	assert_int_equal(flt_serving_stats(s, "digits", 2, &st), FLT_OK);
	assert_int_equal(st.requests, 40);
	assert_int_equal(st.errors[FLT_USAGE_RUNTIME], failed);
	/* agentd switches back to the committed version */
	assert_int_equal(flt_serving_activate(s, "digits", 1, env.v1, 2000, err, sizeof(err)),
	                 FLT_OK);
	assert_int_equal(drive(s, &env, 5, &v), 0);
	assert_int_equal(v, 1);
	/* stats start afresh at each activation */
	assert_int_equal(flt_serving_stats(s, "digits", 1, &st), FLT_OK);
	assert_int_equal(st.requests, 5);

	/* version 3 is too slow for its manifest's latency_ms_max = 5 (it takes 12 ms or more) */
	assert_int_equal(flt_serving_activate(s, "digits", 3, env.v2, 5, err, sizeof(err)), FLT_OK);
	assert_int_equal(drive(s, &env, 20, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(judge(s, 3, 3, &why), FLT_PROBATION_FAIL);
	assert_int_equal(why, FLT_REASON_LATENCY);
	assert_int_equal(flt_serving_stats(s, "digits", 3, &st), FLT_OK);
	assert_int_equal(st.over_latency, 20);
	assert_true(st.p99_ns > 5 * 1000000ull);

	/* version 4: good, passes at the end of its window */
	assert_int_equal(flt_serving_activate(s, "digits", 4, env.v2, 2000, err, sizeof(err)),
	                 FLT_OK);
	assert_int_equal(drive(s, &env, 30, &v), 0);
	assert_int_equal(judge(s, 4, 29, &why), FLT_PROBATION_CONTINUE);
	assert_int_equal(judge(s, 4, 30, &why), FLT_PROBATION_PASS);
	/* older versions are gone once nothing runs on them */
	assert_int_equal(flt_serving_stats(s, "digits", 3, &st), FLT_ENOTFOUND);

	flt_serving_destroy(s);
	su_teardown(&env);
}

static void test_usage_fed(void **state)
{
	(void)state;
	struct su_env env;
	struct flt_serving *s = NULL;
	struct flt_usage *u = NULL;
	struct flt_usage_snapshot *snap = NULL;
	struct plan p = {.failing_version = 7};
	char err[256];
	uint64_t v;
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	assert_int_equal(su_setup(&env), 0);
	assert_int_equal(flt_usage_new(8, &u), FLT_OK);
	struct flt_serving_opts o = {
	    .socket_path = env.sock, .workers = 1, .usage = u, .fault = plan_hook, .fault_arg = &p};
	assert_int_equal(flt_serving_create(&o, &s), FLT_OK);
	assert_int_equal(flt_serving_activate(s, "digits", 7, env.v1, 0, err, sizeof(err)), FLT_OK);
	unsigned failed = drive(s, &env, 10, &v);
	assert_int_equal(flt_usage_snapshot_reset(u, &snap), FLT_OK);
	assert_int_equal(snap->n, 1);
	assert_string_equal(snap->entries[0].model, "digits");
	assert_int_equal(snap->entries[0].version, 7);
	assert_int_equal(snap->entries[0].requests, 10);
	assert_int_equal(snap->entries[0].errors[FLT_USAGE_RUNTIME], failed);
	assert_int_equal(snap->entries[0].latency.n, 10 - failed);
	assert_int_equal(snap->entries[0].bytes_in, 10 * env.input.size);
	flt_usage_snapshot_free(snap);
	flt_serving_destroy(s);
	flt_usage_free(u);
	su_teardown(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verdicts),
	    cmocka_unit_test(test_serving_probation),
	    cmocka_unit_test(test_usage_fed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
