/* Unit tests for the desired-state codec (flt/desired.h): round trip, the
 * generic strictness cases, and desired-state rules (device id, duplicated
 * entries, envelope form, probation limits). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec_check.h"
#include "flt/desired.h"

static flt_err dec(const char *b, size_t l, void **o, struct flt_json_err *e)
{
	return flt_desired_parse(b, l, (struct flt_desired **)o, e);
}
static flt_err enc(const void *m, char **o, size_t *l)
{
	return flt_desired_encode(m, o, l);
}
static void fre(void *m)
{
	flt_desired_free(m);
}
static const struct cc_codec codec = {"desired", dec, enc, fre, FLT_MAX_DESIRED_BYTES, "envelope"};

static char env1[] =
    "{\"payloadType\":\"application/vnd.flotilla.release+json\",\"payload\":\"eyJ2IjoxfQ==\","
    "\"signatures\":[{\"keyid\":\"ab12\",\"sig\":\"MEUCIQ==\"}]}";
static char env2[] = "{\"payloadType\":\"application/"
                     "vnd.flotilla.release+json\",\"payload\":\"e30=\",\"signatures\":[]}";

static void sample(struct flt_desired *d, struct flt_desired_entry e[2])
{
	memset(d, 0, sizeof(*d));
	memset(e, 0, 2 * sizeof(*e));
	memcpy(d->device_id, "dev-01", 7);
	d->serial = 42;
	d->issued_at = 1764000000;
	e[0].kind = FLT_KIND_MODEL;
	memcpy(e[0].name, "digits", 7);
	memcpy(e[0].deployment_id, "r7-digits-3", 12);
	e[0].envelope = env1;
	e[0].envelope_len = strlen(env1);
	e[0].probation.probation_s = 600;
	e[0].probation.max_error_rate = 0.05;
	e[0].probation.max_crashes = 2;
	e[1].kind = FLT_KIND_AGENT;
	memcpy(e[1].name, "flotilla-agent-armhf", 21);
	memcpy(e[1].deployment_id, "r8", 3);
	e[1].envelope = env2;
	e[1].envelope_len = strlen(env2);
	e[1].probation.probation_s = 300;
	d->entries = e;
	d->n_entries = 2;
}

static void test_round_trip(void **state)
{
	(void)state;
	struct flt_desired d, *back = NULL;
	struct flt_desired_entry e[2];
	char *text = NULL;
	size_t len = 0;

	sample(&d, e);
	cc_round_trip(&codec, &d, "two-entries");
	assert_int_equal(flt_desired_encode(&d, &text, &len), FLT_OK);
	assert_int_equal(flt_desired_parse(text, len, &back, NULL), FLT_OK);
	assert_string_equal(back->device_id, "dev-01");
	assert_int_equal(back->serial, 42);
	assert_int_equal(back->n_entries, 2);
	assert_string_equal(back->entries[0].envelope, env1);
	assert_int_equal(back->entries[0].envelope_len, strlen(env1));
	assert_true(back->entries[0].probation.max_error_rate == 0.05);
	assert_non_null(flt_desired_find(back, FLT_KIND_AGENT, "flotilla-agent-armhf"));
	assert_null(flt_desired_find(back, FLT_KIND_MODEL, "flotilla-agent-armhf"));
	flt_desired_free(back);
	flt_free(text);

	/* removing everything is an empty list */
	d.n_entries = 0;
	cc_round_trip(&codec, &d, "empty");
}

static void test_strict(void **state)
{
	(void)state;
	struct flt_desired d;
	struct flt_desired_entry e[2];
	static const char *const required[] = {"v",         "device_id", "serial",
	                                       "issued_at", "entries",   NULL};

	sample(&d, e);
	cc_strict(&codec, &d, required);
	cc_torture(&codec, &d);
}

static void test_rules(void **state)
{
	(void)state;
	struct flt_desired d;
	struct flt_desired_entry e[2];
	char *text = NULL;
	size_t len = 0;

#define REFUSED(mut)                                                                               \
	do {                                                                                       \
		sample(&d, e);                                                                     \
		mut;                                                                               \
		assert_int_equal(flt_desired_encode(&d, &text, &len), FLT_EINVAL);                 \
	} while (0)
	REFUSED(memcpy(d.device_id, FLT_CONTROLLER_IDENTITY, sizeof(FLT_CONTROLLER_IDENTITY)));
	REFUSED(memcpy(d.device_id, "..", 3));
	REFUSED(d.serial = 0);
	REFUSED(memcpy(e[1].name, "digits", 7); e[1].kind = FLT_KIND_MODEL);
	REFUSED(e[0].probation.max_error_rate = 1.5);
	REFUSED(e[0].probation.probation_s = FLT_DESIRED_MAX_PROBATION_S + 1);
	REFUSED(e[0].envelope = NULL);
	REFUSED(e[0].envelope_len = 3);
	REFUSED(e[0].envelope = (char *)"[1]"; e[0].envelope_len = 3);
	REFUSED(e[0].deployment_id[0] = '\0');
#undef REFUSED

	/* the same on the wire: a duplicated entry and a non-object envelope */
	struct flt_desired *back = NULL;
	struct flt_json_err er = {.reason = FLT_REASON_NONE};
	const char *dup =
	    "{\"v\":1,\"device_id\":\"d\",\"serial\":1,\"issued_at\":0,\"entries\":["
	    "{\"kind\":\"model\",\"name\":\"m\",\"deployment_id\":\"x\",\"envelope\":{},"
	    "\"probation\":{\"probation_s\":0,\"max_error_rate\":0,\"max_crashes\":0}},"
	    "{\"kind\":\"model\",\"name\":\"m\",\"deployment_id\":\"y\",\"envelope\":{},"
	    "\"probation\":{\"probation_s\":0,\"max_error_rate\":0,\"max_crashes\":0}}]}";
	assert_int_equal(flt_desired_parse(dup, strlen(dup), &back, &er), FLT_EPARSE);
	assert_non_null(strstr(er.msg, "listed twice"));
	const char *notobj =
	    "{\"v\":1,\"device_id\":\"d\",\"serial\":1,\"issued_at\":0,\"entries\":["
	    "{\"kind\":\"model\",\"name\":\"m\",\"deployment_id\":\"x\",\"envelope\":\"{}\","
	    "\"probation\":{\"probation_s\":0,\"max_error_rate\":0,\"max_crashes\":0}}]}";
	assert_int_equal(flt_desired_parse(notobj, strlen(notobj), &back, &er), FLT_EPARSE);
	assert_non_null(strstr(er.msg, "entries[0]"));
	const char *ctl = "{\"v\":1,\"device_id\":\"flotilla-controller\",\"serial\":1,\"issued_"
	                  "at\":0,\"entries\":[]}";
	assert_int_equal(flt_desired_parse(ctl, strlen(ctl), &back, &er), FLT_EPARSE);
	const char *neg =
	    "{\"v\":1,\"device_id\":\"d\",\"serial\":-1,\"issued_at\":0,\"entries\":[]}";
	assert_int_equal(flt_desired_parse(neg, strlen(neg), &back, &er), FLT_EPARSE);
	assert_null(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_strict),
	    cmocka_unit_test(test_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
