/* Unit tests for agent.conf options that shape the daemon: serving settings
 * (validated, defaults as flt/serving.h's) and the probation window bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flt/agentd.h"

static flt_err load(const char *extra, struct flt_agentd_conf *c, char *err, size_t errlen)
{
	const char *sets[] = {"device.id=dev-1", "mqtt.broker=tcp://127.0.0.1:1", extra};
	return flt_agentd_conf_load(NULL, sets, extra ? 3 : 2, c, err, errlen);
}

static void test_serving_defaults_and_values(void **state)
{
	(void)state;
	struct flt_agentd_conf c;
	char err[256] = "";
	assert_int_equal(load(NULL, &c, err, sizeof(err)), FLT_OK);
	assert_int_equal(c.srv_workers, 2);
	assert_int_equal(c.srv_queue_max, 64);
	assert_int_equal(c.srv_max_conns, 1024);
	assert_int_equal(c.srv_swap_wait_ms, 2000);
	assert_int_equal(c.srv_read_timeout_ms, 30000);
	assert_int_equal(c.srv_max_batch, 1);
	assert_int_equal(c.srv_memory_budget, 0);
	flt_agentd_conf_free(&c);
	assert_int_equal(load("serving.memory_budget=64M", &c, err, sizeof(err)), FLT_OK);
	assert_int_equal(c.srv_memory_budget, 64u * 1024u * 1024u);
	flt_agentd_conf_free(&c);
	assert_int_equal(load("serving.workers=8", &c, err, sizeof(err)), FLT_OK);
	assert_int_equal(c.srv_workers, 8);
	flt_agentd_conf_free(&c);
	/* out of range: refused, naming the key */
	assert_int_not_equal(load("serving.workers=0", &c, err, sizeof(err)), FLT_OK);
	assert_non_null(strstr(err, "serving.workers"));
	assert_int_not_equal(load("serving.queue_max=-1", &c, err, sizeof(err)), FLT_OK);
	assert_non_null(strstr(err, "serving.queue_max"));
	assert_int_not_equal(load("serving.max_batch=100000", &c, err, sizeof(err)), FLT_OK);
	assert_non_null(strstr(err, "serving.max_batch"));
}

static void test_probation_bounds(void **state)
{
	(void)state;
	struct flt_agentd_conf c;
	char err[256] = "";
	assert_int_equal(load(NULL, &c, err, sizeof(err)), FLT_OK);
	assert_int_equal(flt_agentd_probation_s(&c, 0), 600); /* default 10m */
	assert_int_equal(flt_agentd_probation_s(&c, 30), 30);
	assert_int_equal(flt_agentd_probation_s(&c, 86400 * 3), 86400); /* max 1d */
	c.probation_default_s = 5 * 86400; /* a default above the max is bounded too */
	assert_int_equal(flt_agentd_probation_s(&c, 0), 86400);
	c.probation_default_s = 0;
	assert_int_equal(flt_agentd_probation_s(&c, 0), 0);
	flt_agentd_conf_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_serving_defaults_and_values),
	    cmocka_unit_test(test_probation_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
