/* `flotilla firmware register|list` and `agent-release register|list`: versions
 * grow per name, agent versions only grow per arch (conflict otherwise), bad
 * input is refused with the documented exit codes, and the stored bytes are
 * kept by blob GC because the release tables feed blob_refs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flt/controller.h"

#include "sys_testutil.h"

struct fx {
	char dir[256], data[300], img[300];
};

static int setup(void **state)
{
	static struct fx f;
	if (tu_mkdtemp(f.dir, sizeof(f.dir), "rel") != 0)
		return -1;
	snprintf(f.data, sizeof(f.data), "%s/data", f.dir);
	snprintf(f.img, sizeof(f.img), "%s/image.bin", f.dir);
	uint8_t buf[4096];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7u);
	if (tu_write(f.img, buf, sizeof(buf)) != 0)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	tu_rmtree(f->dir);
	return 0;
}

static int run(int argc, const char **argv)
{
	return flt_controller_cli(argc, (char **)argv);
}

static void test_firmware_register_versions(void **state)
{
	struct fx *f = *state;
	const char *reg[] = {"flotilla", "firmware",   "register", "--data-dir", f->data,
	                     "-n",       "rpi4-image", "-f",       f->img,       "--compatible",
	                     "rpi4",     "-o",         "json"};
	assert_int_equal(run(13, reg), 0);
	assert_int_equal(run(13, reg), 0);
	const char *bad_board[] = {"flotilla", "firmware",     "register",   "--data-dir",
	                           f->data,    "-n",           "rpi4-image", "-f",
	                           f->img,     "--compatible", "../x"};
	assert_int_equal(run(11, bad_board), 5);
	const char *missing[] = {"flotilla", "firmware",   "register", "--data-dir", f->data,
	                         "-n",       "rpi4-image", "-f",       f->img};
	assert_int_equal(run(9, missing), 2);
	const char *list[] = {"flotilla", "firmware", "list", "--data-dir", f->data};
	assert_int_equal(run(5, list), 0);
	/* Both versions share one blob; GC must keep it. */
	const char *gc[] = {"flotilla", "model", "gc", "--data-dir", f->data};
	assert_int_equal(run(5, gc), 0);
	char blobs[400];
	snprintf(blobs, sizeof(blobs), "%s/blobs/sha256", f->data);
	assert_int_equal(tu_count_entries(blobs), 1);
}

static void test_agent_release_versions_only_grow(void **state)
{
	struct fx *f = *state;
	const char *v3[] = {"flotilla", "agent-release", "register", "--data-dir", f->data, "-f",
	                    f->img,     "--arch",        "armhf",    "--version",  "3"};
	assert_int_equal(run(11, v3), 0);
	assert_int_equal(run(11, v3), 4); /* same version again: conflict */
	const char *v2[] = {"flotilla", "agent-release", "register", "--data-dir", f->data, "-f",
	                    f->img,     "--arch",        "armhf",    "--version",  "2"};
	assert_int_equal(run(11, v2), 4);
	/* Another arch has its own sequence. */
	const char *x2[] = {"flotilla", "agent-release", "register", "--data-dir", f->data, "-f",
	                    f->img,     "--arch",        "x86_64",   "--version",  "2"};
	assert_int_equal(run(11, x2), 0);
	const char *mips[] = {"flotilla", "agent-release", "register", "--data-dir", f->data, "-f",
	                      f->img,     "--arch",        "mips",     "--version",  "9"};
	assert_int_equal(run(11, mips), 5);
	const char *zero[] = {"flotilla", "agent-release", "register", "--data-dir", f->data, "-f",
	                      f->img,     "--arch",        "armhf",    "--version",  "0"};
	assert_int_equal(run(11, zero), 5);
	const char *list[] = {"flotilla", "agent-release", "list", "--data-dir",
	                      f->data,    "--arch",        "armhf"};
	assert_int_equal(run(7, list), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_firmware_register_versions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agent_release_versions_only_grow, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
