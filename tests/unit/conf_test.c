/* Unit tests for config loading: precedence of defaults, file and overrides; every
 * refusal names the key and line; reload keeps the old config on error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/conf.h"

#include "sys_testutil.h"

struct tconf {
	char *device_id;
	char *data_dir;
	int64_t retries;
	bool verbose;
	int64_t interval_s;
	uint64_t reserve;
	int level;
	char *note;
};

static const char *const levels[] = {"error", "warn", "info", "debug", NULL};

static const struct flt_conf_opt topts[] = {
    {"device.id", FLT_CONF_STRING, offsetof(struct tconf, device_id), NULL, 0, 0, NULL,
     FLT_CONF_REQUIRED, "device identity"},
    {"data_dir", FLT_CONF_PATH, offsetof(struct tconf, data_dir), "/var/lib/flotilla", 0, 0, NULL,
     0, "state directory"},
    {"mqtt.retries", FLT_CONF_INT, offsetof(struct tconf, retries), "5", 1, 100, NULL, 0,
     "connection attempts"},
    {"verbose", FLT_CONF_BOOL, offsetof(struct tconf, verbose), "no", 0, 0, NULL, 0, "chatty"},
    {"telemetry.interval", FLT_CONF_DURATION, offsetof(struct tconf, interval_s), "1m", 1, 86400,
     NULL, 0, "telemetry period"},
    {"disk.reserve", FLT_CONF_SIZE, offsetof(struct tconf, reserve), "64M", 0, 0, NULL, 0,
     "kept free"},
    {"log.level", FLT_CONF_ENUM, offsetof(struct tconf, level), "info", 0, 0, levels, 0,
     "log level"},
    {"note", FLT_CONF_STRING, offsetof(struct tconf, note), NULL, 0, 0, NULL, 0, "free text"},
};

static const struct flt_conf_schema tschema = {topts, sizeof(topts) / sizeof(topts[0]),
                                               sizeof(struct tconf)};

static char err[512];

/* Parses TEXT on top of defaults (+ device.id so the required check passes). */
static flt_err parse(const char *text, struct tconf *c)
{
	flt_err e = flt_conf_init(&tschema, c, err, sizeof(err));
	if (e)
		return e;
	e = flt_conf_parse_buf(&tschema, c, text, strlen(text), "t.conf", err, sizeof(err));
	return e;
}

static void expect_err(const char *text, flt_err want, const char *s1, const char *s2)
{
	struct tconf c;
	err[0] = '\0';
	assert_int_equal(parse(text, &c), want);
	if (!strstr(err, s1) || (s2 && !strstr(err, s2)))
		fail_msg("error '%s' lacks '%s' / '%s'", err, s1, s2 ? s2 : "");
	flt_conf_free(&tschema, &c);
}

static void test_defaults(void **state)
{
	struct tconf c;
	(void)state;
	assert_int_equal(flt_conf_init(&tschema, &c, err, sizeof(err)), FLT_OK);
	assert_null(c.device_id);
	assert_string_equal(c.data_dir, "/var/lib/flotilla");
	assert_int_equal(c.retries, 5);
	assert_false(c.verbose);
	assert_int_equal(c.interval_s, 60);
	assert_int_equal(c.reserve, 64u << 20);
	assert_int_equal(c.level, 2);
	flt_conf_free(&tschema, &c);
	assert_null(c.data_dir);
	flt_conf_free(&tschema, NULL);
}

static void test_file_values(void **state)
{
	struct tconf c;
	(void)state;
	const char *text = "# agent config\r\n"
	                   "  verbose = Yes  \n"
	                   "\n"
	                   "[device]\n"
	                   "id = dev-01\n"
	                   "[mqtt]\n"
	                   "retries=100\n"
	                   "[telemetry]\n"
	                   "interval = 2h\n"
	                   "[disk]\n"
	                   "reserve = 1GiB\n"
	                   "[log]\n"
	                   "level = debug\n"
	                   "[note.x]\n"; /* a section with no keys is fine */
	assert_int_equal(parse(text, &c), FLT_OK);
	assert_string_equal(c.device_id, "dev-01");
	assert_true(c.verbose);
	assert_int_equal(c.retries, 100);
	assert_int_equal(c.interval_s, 7200);
	assert_int_equal(c.reserve, (uint64_t)1 << 30);
	assert_int_equal(c.level, 3);
	flt_conf_free(&tschema, &c);

	/* Quoted values keep spaces and '#'; escapes; top-level key after no section. */
	assert_int_equal(parse("note = \"  a # b \\\"q\\\" \\\\ \"\ndata_dir = /x#y\n", &c),
	                 FLT_OK);
	assert_string_equal(c.note, "  a # b \"q\" \\ ");
	assert_string_equal(c.data_dir, "/x#y");
	flt_conf_free(&tschema, &c);
	/* Empty string value and a file without final newline. */
	assert_int_equal(parse("note =\ndevice.id = d", &c), FLT_OK);
	assert_string_equal(c.note, "");
	assert_string_equal(c.device_id, "d");
	flt_conf_free(&tschema, &c);
}

static void test_errors_name_key_and_line(void **state)
{
	(void)state;
	expect_err("verbose = yes\nmqtt.retriez = 3\n", FLT_EPARSE, "t.conf:2",
	           "unknown key 'mqtt.retriez'");
	expect_err("[mqtt]\nbroker = x\n", FLT_EPARSE, "t.conf:2", "unknown key 'mqtt.broker'");
	expect_err("mqtt.retries = many\n", FLT_EPARSE, "t.conf:1",
	           "key 'mqtt.retries': expected an integer in [1, 100], got 'many'");
	expect_err("mqtt.retries = 12x\n", FLT_EPARSE, "mqtt.retries", "'12x'");
	expect_err("mqtt.retries = 0\n", FLT_ELIMIT, "t.conf:1", "[1, 100]");
	expect_err("mqtt.retries = 101\n", FLT_ELIMIT, "mqtt.retries", "101");
	expect_err("mqtt.retries = 99999999999999999999\n", FLT_ELIMIT, "mqtt.retries", NULL);
	expect_err("mqtt.retries = -\n", FLT_EPARSE, "mqtt.retries", NULL);
	expect_err("mqtt.retries =\n", FLT_EPARSE, "mqtt.retries", NULL);
	expect_err("verbose = maybe\n", FLT_EPARSE, "key 'verbose'", "true or false");
	expect_err("disk.reserve = 10X\n", FLT_EPARSE, "key 'disk.reserve'", "K, M, G");
	expect_err("disk.reserve = 10 M\n", FLT_EPARSE, "disk.reserve", NULL);
	expect_err("disk.reserve = -1\n", FLT_EPARSE, "disk.reserve", NULL);
	expect_err("disk.reserve = 99999999999T\n", FLT_ELIMIT, "disk.reserve", NULL);
	expect_err("telemetry.interval = 5M\n", FLT_EPARSE, "telemetry.interval", "Nm");
	expect_err("telemetry.interval = 2d\n", FLT_ELIMIT, "telemetry.interval", "86400s");
	expect_err("telemetry.interval = 0\n", FLT_ELIMIT, "telemetry.interval", NULL);
	expect_err("log.level = loud\n", FLT_EPARSE, "log.level", "one of error|warn|info|debug");
	expect_err("data_dir =\n", FLT_EPARSE, "data_dir", "path");
	expect_err("data_dir = \"a\tb\"\n", FLT_EPARSE, "data_dir", "control");
	expect_err("verbose = yes\n\nverbose = no\n", FLT_EPARSE, "t.conf:3",
	           "duplicate key 'verbose' (first set on line 1)");
	expect_err("[mqtt]\nretries = 3\n[]\n", FLT_EPARSE, "t.conf:3", "section");
	expect_err("[mqtt\n", FLT_EPARSE, "t.conf:1", "section");
	expect_err("[a b]\n", FLT_EPARSE, "t.conf:1", "section");
	expect_err("just words\n", FLT_EPARSE, "t.conf:1", "key = value");
	expect_err("= 3\n", FLT_EPARSE, "t.conf:1", "malformed key");
	expect_err("bad key = 3\n", FLT_EPARSE, "t.conf:1", "malformed key");
	expect_err("note = \"open\n", FLT_EPARSE, "note", "quoted");
	expect_err("note = \"a\\qb\"\n", FLT_EPARSE, "note", "quoted");
	expect_err("note = \"a\"b\"\n", FLT_EPARSE, "note", "quoted");

	struct tconf c;
	const char nul[] = "verbose = yes\nnote = a\0b\n";
	assert_int_equal(flt_conf_init(&tschema, &c, err, sizeof(err)), FLT_OK);
	assert_int_equal(
	    flt_conf_parse_buf(&tschema, &c, nul, sizeof(nul) - 1, "t.conf", err, sizeof(err)),
	    FLT_EPARSE);
	assert_non_null(strstr(err, "t.conf:2: NUL"));
	flt_conf_free(&tschema, &c);

	static char longline[5000];
	memset(longline, 'a', sizeof(longline) - 1);
	expect_err(longline, FLT_ELIMIT, "t.conf:1", "longer");
}

static void test_value_parsers(void **state)
{
	uint64_t sz;
	int64_t d;
	bool b;
	(void)state;
	assert_int_equal(flt_conf_parse_size("0", &sz), FLT_OK);
	assert_int_equal(sz, 0);
	assert_int_equal(flt_conf_parse_size("512b", &sz), FLT_OK);
	assert_int_equal(sz, 512);
	assert_int_equal(flt_conf_parse_size("64k", &sz), FLT_OK);
	assert_int_equal(sz, 65536);
	assert_int_equal(flt_conf_parse_size("3MB", &sz), FLT_OK);
	assert_int_equal(sz, 3u << 20);
	assert_int_equal(flt_conf_parse_size("2T", &sz), FLT_OK);
	assert_int_equal(sz, (uint64_t)2 << 40);
	assert_int_equal(flt_conf_parse_size("18446744073709551615", &sz), FLT_OK);
	assert_int_equal(flt_conf_parse_size("18446744073709551616", &sz), FLT_ELIMIT);
	assert_int_equal(flt_conf_parse_size("16777216T", &sz), FLT_ELIMIT);
	assert_int_equal(flt_conf_parse_size("1iB", &sz), FLT_EINVAL);
	assert_int_equal(flt_conf_parse_size("1KiBx", &sz), FLT_EINVAL);
	assert_int_equal(flt_conf_parse_size("", &sz), FLT_EINVAL);
	assert_int_equal(flt_conf_parse_size(" 1", &sz), FLT_EINVAL);
	assert_int_equal(flt_conf_parse_size("+1", &sz), FLT_EINVAL);
	assert_int_equal(flt_conf_parse_duration("90", &d), FLT_OK);
	assert_int_equal(d, 90);
	assert_int_equal(flt_conf_parse_duration("3d", &d), FLT_OK);
	assert_int_equal(d, 3 * 86400);
	assert_int_equal(flt_conf_parse_duration("1h30m", &d), FLT_EINVAL);
	assert_int_equal(flt_conf_parse_duration("1ms", &d), FLT_EINVAL);
	assert_int_equal(flt_conf_parse_duration("-1", &d), FLT_EINVAL);
	assert_int_equal(flt_conf_parse_duration("999999999999999999d", &d), FLT_ELIMIT);
	assert_int_equal(flt_conf_parse_bool("ON", &b), FLT_OK);
	assert_true(b);
	assert_int_equal(flt_conf_parse_bool("0", &b), FLT_OK);
	assert_false(b);
	assert_int_equal(flt_conf_parse_bool("tru", &b), FLT_EINVAL);
	assert_int_equal(flt_conf_parse_bool("", &b), FLT_EINVAL);
}

static void test_load_precedence(void **state)
{
	char dir[256], path[300];
	struct tconf c;
	(void)state;
	assert_int_equal(tu_mkdtemp(dir, sizeof(dir), "conf"), 0);
	snprintf(path, sizeof(path), "%s/agent.conf", dir);
	const char *file = "device.id = from-file\nmqtt.retries = 7\nverbose = yes\n";
	assert_int_equal(tu_write(path, file, strlen(file)), 0);

	/* defaults < file < overrides; a later override wins over an earlier one. */
	const char *sets[] = {"mqtt.retries=8", " log.level = warn ", "mqtt.retries = 9"};
	assert_int_equal(flt_conf_load(&tschema, &c, path, sets, 3, err, sizeof(err)), FLT_OK);
	assert_string_equal(c.device_id, "from-file");
	assert_int_equal(c.retries, 9);
	assert_true(c.verbose);
	assert_int_equal(c.level, 1);
	assert_int_equal(c.interval_s, 60);
	flt_conf_free(&tschema, &c);

	/* No file: defaults + overrides, and the required key must come from somewhere. */
	assert_int_equal(flt_conf_load(&tschema, &c, NULL, NULL, 0, err, sizeof(err)), FLT_EINVAL);
	assert_non_null(strstr(err, "required key 'device.id'"));
	const char *id[] = {"device.id=x"};
	assert_int_equal(flt_conf_load(&tschema, &c, NULL, id, 1, err, sizeof(err)), FLT_OK);
	assert_string_equal(c.device_id, "x");
	flt_conf_free(&tschema, &c);

	/* Bad overrides. */
	const char *bad1[] = {"nokey"};
	assert_int_equal(flt_conf_load(&tschema, &c, path, bad1, 1, err, sizeof(err)), FLT_EINVAL);
	assert_non_null(strstr(err, "key=value"));
	const char *bad2[] = {"mqtt.brokr=x"};
	assert_int_equal(flt_conf_load(&tschema, &c, path, bad2, 1, err, sizeof(err)), FLT_EPARSE);
	assert_non_null(strstr(err, "unknown key 'mqtt.brokr'"));
	const char *bad3[] = {"mqtt.retries=0"};
	assert_int_equal(flt_conf_load(&tschema, &c, path, bad3, 1, err, sizeof(err)), FLT_ELIMIT);
	assert_non_null(strstr(err, "override mqtt.retries"));

	/* Missing file. */
	char missing[320];
	snprintf(missing, sizeof(missing), "%s/none.conf", dir);
	assert_int_equal(flt_conf_load(&tschema, &c, missing, NULL, 0, err, sizeof(err)),
	                 FLT_ENOTFOUND);
	assert_non_null(strstr(err, "none.conf"));
	assert_int_equal(flt_conf_load(&tschema, &c, dir, NULL, 0, err, sizeof(err)), FLT_EINVAL);
	tu_rmtree(dir);
}

static void test_reload_keeps_old_on_error(void **state)
{
	char dir[256], path[300];
	struct tconf c;
	(void)state;
	assert_int_equal(tu_mkdtemp(dir, sizeof(dir), "conf"), 0);
	snprintf(path, sizeof(path), "%s/agent.conf", dir);
	const char *v1 = "device.id = one\nnote = first\n";
	assert_int_equal(tu_write(path, v1, strlen(v1)), 0);
	assert_int_equal(flt_conf_load(&tschema, &c, path, NULL, 0, err, sizeof(err)), FLT_OK);

	const char *bad = "device.id = two\nnote = second\nmqtt.retries = lots\n";
	assert_int_equal(tu_write(path, bad, strlen(bad)), 0);
	assert_int_equal(flt_conf_reload(&tschema, &c, path, NULL, 0, err, sizeof(err)),
	                 FLT_EPARSE);
	assert_non_null(strstr(err, ":3:"));
	assert_string_equal(c.device_id, "one");
	assert_string_equal(c.note, "first");

	const char *v2 = "device.id = two\n";
	assert_int_equal(tu_write(path, v2, strlen(v2)), 0);
	assert_int_equal(flt_conf_reload(&tschema, &c, path, NULL, 0, err, sizeof(err)), FLT_OK);
	assert_string_equal(c.device_id, "two");
	assert_null(c.note);

	/* Out of memory during reload: still the old config. */
	flt_alloc_fail_after(2);
	assert_int_equal(flt_conf_reload(&tschema, &c, path, NULL, 0, err, sizeof(err)),
	                 FLT_ENOMEM);
	flt_alloc_fail_reset();
	assert_string_equal(c.device_id, "two");
	flt_conf_free(&tschema, &c);
	tu_rmtree(dir);
}

static void test_bad_default_is_internal(void **state)
{
	static const struct flt_conf_opt bad[] = {
	    {"n", FLT_CONF_INT, 0, "ten", 0, 0, NULL, 0, "broken default"},
	};
	static const struct flt_conf_schema s = {bad, 1, sizeof(int64_t)};
	int64_t v;
	(void)state;
	assert_int_equal(flt_conf_init(&s, &v, err, sizeof(err)), FLT_EINTERNAL);
	assert_non_null(strstr(err, "default"));
}

static void test_alloc_failures(void **state)
{
	(void)state;
	/* Every allocation failing in turn: an error, never a crash or a leak. */
	const char *text = "device.id = a\nnote = b\ndata_dir = /c\n";
	for (long n = 0; n < 12; n++) {
		struct tconf c;
		flt_alloc_fail_after(n);
		flt_err e = flt_conf_init(&tschema, &c, err, sizeof(err));
		if (e == FLT_OK) {
			e = flt_conf_parse_buf(&tschema, &c, text, strlen(text), "t", err,
			                       sizeof(err));
			flt_conf_free(&tschema, &c);
		}
		flt_alloc_fail_reset();
		assert_true(e == FLT_OK || e == FLT_ENOMEM);
	}
}

static void test_help(void **state)
{
	char buf[4096] = "";
	(void)state;
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	assert_non_null(f);
	flt_conf_print_help(&tschema, f);
	fclose(f);
	assert_non_null(strstr(buf, "telemetry.interval"));
	assert_non_null(strstr(buf, "(default 1m)"));
	assert_non_null(strstr(buf, "error|warn|info|debug"));
	assert_non_null(strstr(buf, "required"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_file_values),
	    cmocka_unit_test(test_errors_name_key_and_line),
	    cmocka_unit_test(test_value_parsers),
	    cmocka_unit_test(test_load_precedence),
	    cmocka_unit_test(test_reload_keeps_old_on_error),
	    cmocka_unit_test(test_bad_default_is_internal),
	    cmocka_unit_test(test_alloc_failures),
	    cmocka_unit_test(test_help),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
