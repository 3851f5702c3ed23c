/* Unit tests for health sampling: each /proc and /sys parser against fixed sample
 * text (including awkward command names and old kernels), and the sampler against a
 * fake /proc and /sys tree and against the real ones. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "flt/health.h"

static const char smaps_rollup[] =
    "555ad6351000-7fffcb8f5000 ---p 00000000 00:00 0                          [rollup]\n"
    "Rss:                1772 kB\n"
    "Pss:                 302 kB\n"
    "Pss_Dirty:           112 kB\n"
    "Pss_Anon:            112 kB\n"
    "Pss_File:            190 kB\n"
    "Pss_Shmem:             0 kB\n"
    "Shared_Clean:       1608 kB\n"
    "Shared_Dirty:          0 kB\n"
    "Private_Clean:        52 kB\n"
    "Private_Dirty:       112 kB\n"
    "Referenced:         1772 kB\n"
    "Anonymous:           112 kB\n"
    "Swap:                  0 kB\n"
    "SwapPss:               0 kB\n"
    "Locked:                0 kB\n";

/* An older kernel's rollup (4.14): no Pss_Dirty/Pss_Anon lines. */
static const char smaps_rollup_old[] =
    "00400000-7ffc5a5fe000 ---p 00000000 00:00 0                              [rollup]\n"
    "Rss:                 884 kB\n"
    "Pss:                 121 kB\n"
    "Shared_Clean:        764 kB\n"
    "Shared_Dirty:          0 kB\n"
    "Private_Clean:         4 kB\n"
    "Private_Dirty:       116 kB\n";

static const char status_text[] = "Name:\tflotilla-agent\n"
                                  "Umask:\t0022\n"
                                  "State:\tS (sleeping)\n"
                                  "VmPeak:\t   10440 kB\n"
                                  "VmSize:\t   10388 kB\n"
                                  "VmHWM:\t    2100 kB\n"
                                  "VmRSS:\t    2036 kB\n"
                                  "RssAnon:\t     116 kB\n"
                                  "Threads:\t1\n";

static const char meminfo_text[] = "MemTotal:        1011444 kB\n"
                                   "MemFree:          123456 kB\n"
                                   "MemAvailable:     654321 kB\n"
                                   "Buffers:           6124 kB\n"
                                   "Cached:          336832 kB\n"
                                   "SwapCached:            0 kB\n";

static const char meminfo_old[] = "MemTotal:         255000 kB\n"
                                  "MemFree:           10000 kB\n"
                                  "Buffers:            2000 kB\n"
                                  "Cached:            30000 kB\n"
                                  "SwapCached:            0 kB\n";

static void test_parse_smaps_rollup(void **state)
{
	(void)state;
	struct flt_health_mem m;
	assert_int_equal(flt_health_parse_smaps_rollup(smaps_rollup, strlen(smaps_rollup), &m),
	                 FLT_OK);
	assert_int_equal(m.rss, 1772 * 1024);
	assert_int_equal(m.pss, 302 * 1024);
	assert_int_equal(m.private_mem, (52 + 112) * 1024);
	assert_true(m.has_pss);
	assert_int_equal(
	    flt_health_parse_smaps_rollup(smaps_rollup_old, strlen(smaps_rollup_old), &m), FLT_OK);
	assert_int_equal(m.pss, 121 * 1024);
	assert_int_equal(m.private_mem, 120 * 1024);
	/* cut before Private_Dirty: refused, out untouched */
	memset(&m, 0x11, sizeof(m));
	const char *cut = strstr(smaps_rollup, "Private_Dirty");
	assert_int_equal(
	    flt_health_parse_smaps_rollup(smaps_rollup, (size_t)(cut - smaps_rollup), &m),
	    FLT_EPARSE);
	assert_int_equal(m.rss, 0x1111111111111111ULL);
	/* a number that overflows when turned into bytes */
	const char huge[] =
	    "Rss: 99999999999999999 kB\nPss: 1 kB\nPrivate_Clean: 1 kB\nPrivate_Dirty: 1 kB\n";
	assert_int_equal(flt_health_parse_smaps_rollup(huge, strlen(huge), &m), FLT_EPARSE);
	const char nonum[] = "Rss: kB\nPss: 1 kB\nPrivate_Clean: 1 kB\nPrivate_Dirty: 1 kB\n";
	assert_int_equal(flt_health_parse_smaps_rollup(nonum, strlen(nonum), &m), FLT_EPARSE);
	assert_int_equal(flt_health_parse_smaps_rollup("", 0, &m), FLT_EPARSE);
}

static void test_parse_status(void **state)
{
	(void)state;
	struct flt_health_mem m;
	assert_int_equal(flt_health_parse_status(status_text, strlen(status_text), &m), FLT_OK);
	assert_int_equal(m.rss, 2036 * 1024);
	assert_false(m.has_pss);
	assert_int_equal(flt_health_parse_status(status_text, 40, &m), FLT_EPARSE);
}

static void test_parse_meminfo(void **state)
{
	(void)state;
	uint64_t t = 0, a = 0;
	assert_int_equal(flt_health_parse_meminfo(meminfo_text, strlen(meminfo_text), &t, &a),
	                 FLT_OK);
	assert_int_equal(t, 1011444ULL * 1024);
	assert_int_equal(a, 654321ULL * 1024);
	/* before MemAvailable existed: free + buffers + cached */
	assert_int_equal(flt_health_parse_meminfo(meminfo_old, strlen(meminfo_old), &t, &a),
	                 FLT_OK);
	assert_int_equal(t, 255000ULL * 1024);
	assert_int_equal(a, 42000ULL * 1024);
	assert_int_equal(flt_health_parse_meminfo("MemFree: 1 kB\n", 14, &t, &a), FLT_EPARSE);
}

static void test_parse_proc_stat(void **state)
{
	(void)state;
	uint64_t ticks = 0, start = 0;
	const char plain[] =
	    "25824 (cat) R 25821 25821 14099 0 -1 4194304 100 0 0 0 7 3 0 0 20 0 1 0 "
	    "106264 3133440 379 18446744073709551615 1 2 3\n";
	assert_int_equal(flt_health_parse_proc_stat(plain, strlen(plain), &ticks, &start), FLT_OK);
	assert_int_equal(ticks, 10);
	assert_int_equal(start, 106264);
	/* a command name with spaces and ") " inside */
	const char odd[] =
	    "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 1520 0 0 0 157 42 0 0 20 0 3 0 "
	    "98765 12345678 900\n";
	assert_int_equal(flt_health_parse_proc_stat(odd, strlen(odd), &ticks, &start), FLT_OK);
	assert_int_equal(ticks, 199);
	assert_int_equal(start, 98765);
	/* truncated before starttime */
	assert_int_equal(flt_health_parse_proc_stat(odd, 60, &ticks, &start), FLT_EPARSE);
	assert_int_equal(flt_health_parse_proc_stat("no paren", 8, &ticks, &start), FLT_EPARSE);
	const char neg[] = "1 (x) S 1 1 1 0 -1 0 0 0 0 0 -5 3 0 0 20 0 1 0 5 1 1\n";
	assert_int_equal(flt_health_parse_proc_stat(neg, strlen(neg), &ticks, &start), FLT_EPARSE);
}

static void test_parse_uptime_thermal(void **state)
{
	(void)state;
	double d = -1;
	assert_int_equal(flt_health_parse_uptime("1062.64 1802.04\n", 16, &d), FLT_OK);
	assert_true(d > 1062.639 && d < 1062.641);
	assert_int_equal(flt_health_parse_uptime("35 12\n", 6, &d), FLT_OK);
	assert_true(d == 35.0);
	assert_int_equal(flt_health_parse_uptime("12.x", 4, &d), FLT_EPARSE);
	assert_int_equal(flt_health_parse_uptime("abc", 3, &d), FLT_EPARSE);
	assert_int_equal(flt_health_parse_thermal("45500\n", 6, &d), FLT_OK);
	assert_true(d == 45.5);
	assert_int_equal(flt_health_parse_thermal("-5000\n", 6, &d), FLT_OK);
	assert_true(d == -5.0);
	assert_int_equal(flt_health_parse_thermal("999999\n", 7, &d), FLT_EPARSE);
	assert_int_equal(flt_health_parse_thermal("45 C\n", 5, &d), FLT_EPARSE);
	assert_int_equal(flt_health_parse_thermal("", 0, &d), FLT_EPARSE);
	assert_true(flt_health_cpu_pct(50, 100, 2.0) == 25.0);
	assert_true(flt_health_cpu_pct(50, 100, 0) == 0);
	assert_string_equal(flt_health_purpose_name(FLT_HEALTH_MQTT_CHUNKS), "chunks");
	assert_string_equal(flt_health_purpose_name(FLT_HEALTH_PURPOSE_COUNT_), "unknown");
}

/* ---- the sampler on a fake tree ---- */

static char root[256];

static void put(const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void mk(const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		char p[1024];
		struct stat sb;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
			rm_tree(p);
		else
			unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static void test_sampler_fake_tree(void **state)
{
	(void)state;
	const char *tmp = getenv("TMPDIR");
	snprintf(root, sizeof(root), "%s/health-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(root));
	mk("proc");
	mk("proc/self");
	mk("sys");
	mk("sys/class");
	mk("sys/class/thermal");
	mk("sys/class/thermal/thermal_zone0");
	mk("sys/class/thermal/thermal_zone1");
	mk("sys/class/thermal/thermal_zone2");
	mk("sys/class/thermal/cooling_device0");
	put("proc/uptime", "1000.00 3000.00\n");
	/* started at 900 s (ticks 90000 at 100 Hz), 50 s of CPU since: 50% of one core */
	char stat[256];
	long hz = sysconf(_SC_CLK_TCK);
	snprintf(stat, sizeof(stat),
	         "7 (flotilla-agent) S 1 7 7 0 -1 0 0 0 0 0 %ld %ld 0 0 20 0 1 0 %ld 1 1\n",
	         30 * hz, 20 * hz, 900 * hz);
	put("proc/self/stat", stat);
	put("proc/self/smaps_rollup", smaps_rollup);
	put("proc/self/status", status_text);
	put("proc/meminfo", meminfo_text);
	put("sys/class/thermal/thermal_zone0/temp", "41000\n");
	put("sys/class/thermal/thermal_zone1/temp", "57250\n");
	put("sys/class/thermal/thermal_zone2/temp", "garbage\n");
	put("sys/class/thermal/cooling_device0/temp", "99000\n");

	char proc[300], sys[300];
	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(sys, sizeof(sys), "%s/sys", root);
	struct flt_health_sampler *h = NULL;
	assert_int_equal(flt_health_sampler_new(root, proc, sys, &h), FLT_OK);
	struct flt_health_mqtt mq = {0};
	mq.sent[FLT_HEALTH_MQTT_TELEMETRY] = 1234;
	mq.received[FLT_HEALTH_MQTT_CHUNKS] = 99;
	struct flt_health_sample s;
	assert_int_equal(flt_health_sample(h, &mq, &s), FLT_OK);
	assert_true(s.cpu_pct > 49.99 && s.cpu_pct < 50.01);
	assert_int_equal(s.mem.pss, 302 * 1024);
	assert_true(s.mem.has_pss);
	assert_int_equal(s.mem_total, 1011444ULL * 1024);
	assert_int_equal(s.mem_available, 654321ULL * 1024);
	assert_true(s.uptime_s == 1000.0);
	assert_true(s.has_temp);
	assert_true(s.temp_c == 57.25); /* the hottest valid zone, not a cooling device */
	assert_true(s.disk_total > 0 && s.disk_free <= s.disk_total);
	assert_int_equal(s.mqtt.sent[FLT_HEALTH_MQTT_TELEMETRY], 1234);
	assert_int_equal(s.mqtt.received[FLT_HEALTH_MQTT_CHUNKS], 99);
	assert_true(s.time_ms > 1700000000000LL);

	/* no smaps_rollup: RSS from status, no PSS; no thermal zones: no temperature */
	char p[512];
	snprintf(p, sizeof(p), "%s/proc/self/smaps_rollup", root);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sys/class", root);
	rm_tree(p);
	assert_int_equal(flt_health_sample(h, NULL, &s), FLT_OK);
	assert_int_equal(s.mem.rss, 2036 * 1024);
	assert_false(s.mem.has_pss);
	assert_false(s.has_temp);
	/* no CPU ticks passed since the last sample */
	assert_true(s.cpu_pct == 0);
	assert_int_equal(s.mqtt.sent[FLT_HEALTH_MQTT_TELEMETRY], 0);
	flt_health_sampler_free(h);
	rm_tree(root);
}

static void test_sampler_real_proc(void **state)
{
	(void)state;
	struct flt_health_sampler *h = NULL;
	assert_int_equal(flt_health_sampler_new(".", NULL, NULL, &h), FLT_OK);
	struct flt_health_sample s;
	assert_int_equal(flt_health_sample(h, NULL, &s), FLT_OK);
	assert_true(s.mem.rss > 0);
	assert_true(s.mem_total > 0 && s.mem_available <= s.mem_total);
	assert_true(s.uptime_s > 0);
	assert_true(s.disk_total > 0);
	assert_true(s.cpu_pct >= 0);
	if (s.mem.has_pss)
		assert_true(s.mem.pss > 0 && s.mem.private_mem <= s.mem.rss);
	flt_health_sampler_free(h);
	flt_health_sampler_free(NULL);
	assert_int_equal(flt_health_sampler_new(NULL, NULL, NULL, &h), FLT_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_smaps_rollup),   cmocka_unit_test(test_parse_status),
	    cmocka_unit_test(test_parse_meminfo),        cmocka_unit_test(test_parse_proc_stat),
	    cmocka_unit_test(test_parse_uptime_thermal), cmocka_unit_test(test_sampler_fake_tree),
	    cmocka_unit_test(test_sampler_real_proc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
