/* Rollouts end to end: a real Mosquitto, `flotilla serve` (with its rollout
 * engine) and real `flotilla-agent` processes on loopback. A rollout reaches
 * every device canary first; a model failing its golden vectors halts at the
 * canary and leaves the others as they were; serve killed with -9 in the
 * middle of a rollout resumes it; an offline device is offline (not failed)
 * and completes when it returns, and one offline when its rollout halts never
 * installs the halted version; --supersede and the conflict without it;
 * --remove everywhere; a device past its deadline trips the failure limit. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "tt_mosq.h"
#include "tt_proc.h"

#define N_DEV 3
static const char *const devs[N_DEV] = {"ro-a", "ro-b", "ro-c"};
static char bin[4096];
static char *tmp;
static char dd[512];
static struct tt_mosq *broker;
static struct tt_proc *serve, *agents[N_DEV];
static char out[1 << 16], errbuf[8192];

static int flv(const char *const *args)
{
	char errpath[600];
	snprintf(errpath, sizeof(errpath), "%s/cli-stderr.txt", tmp);
	int rc = tt_cli_run(bin, dd, errpath, args, out, sizeof(out), errbuf, sizeof(errbuf));
	if (rc < 0)
		fail_msg("cannot run %s: %s", bin, strerror(errno));
	return rc;
}
#define FL(...) flv((const char *const[]){__VA_ARGS__, NULL})
#define OK(call)                                                                                   \
	do {                                                                                       \
		int rc_ = (call);                                                                  \
		if (rc_ != 0)                                                                      \
			fail_msg("%s: exit %d; stderr: %s", #call, rc_, errbuf);                   \
	} while (0)

static void start_serve(void)
{
	char setb[600], envb[600];
	snprintf(setb, sizeof(setb), "mqtt.broker=%s", tt_mosq_uri(broker));
	const char *argv[] = {
	    bin, "serve", "--set", setb, "--set", "serve.poll_ms=50", "--set", "serve.flush_ms=20",
	    NULL};
	snprintf(envb, sizeof(envb), "FLOTILLA_DATA_DIR=%s", dd);
	const char *env[] = {envb, getenv("TT_SERVE_LOG") ? "FLOTILLA_LOG=debug" : NULL, NULL};
	assert_int_equal(tt_proc_spawn(bin, argv, env, NULL, &serve), 0);
}

static void start_agent(int i)
{
	char conf[1024], body[2048];
	snprintf(conf, sizeof(conf), "%s/%s.conf", tmp, devs[i]);
	int n = snprintf(body, sizeof(body),
	                 "[device]\nid = %s\n[mqtt]\nbroker = %s\nbackoff_min_ms = 50\n"
	                 "backoff_max_ms = 300\n[storage]\ndata_dir = %s/%s\ndisk_reserve = 0\n"
	                 "[trust]\nroot_keys = %s/keys/root.pub\n[install]\nrefetch_ms = 400\n"
	                 "[serving]\nsocket = %s/%s.sock\n[log]\nlevel = info\n",
	                 devs[i], tt_mosq_uri(broker), tmp, devs[i], dd, tmp, devs[i]);
	assert_int_equal(tt_write_file(conf, body, (size_t)n), 0);
	const char *argv[] = {TT_AGENT, "run", "-c", conf, NULL};
	assert_int_equal(tt_proc_spawn(TT_AGENT, argv, NULL, NULL, &agents[i]), 0);
}

static int n_devices_reporting(void)
{
	if (FL("device", "list", "-o", "json") != 0)
		return 0;
	cJSON *a = cJSON_Parse(out);
	int n = 0;
	cJSON *x;
	cJSON_ArrayForEach(x, a)
	{
		const cJSON *on = cJSON_GetObjectItemCaseSensitive(x, "online");
		if (cJSON_IsString(on) && !strcmp(on->valuestring, "online"))
			n++;
	}
	cJSON_Delete(a);
	return n;
}

static bool all_reporting(void *arg)
{
	(void)arg;
	return n_devices_reporting() == N_DEV;
}

struct want {
	long id;
	const char *state;
};

static char last_state[32];

static bool rollout_in(void *arg)
{
	const struct want *w = arg;
	char ids[32];
	snprintf(ids, sizeof(ids), "%ld", w->id);
	if (FL("rollout", "status", ids, "-o", "json") != 0)
		return false;
	cJSON *d = cJSON_Parse(out);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(d, "state");
	snprintf(last_state, sizeof(last_state), "%s", cJSON_IsString(s) ? s->valuestring : "?");
	cJSON_Delete(d);
	/* A rollout that ended otherwise will not change again: stop waiting. */
	return !strcmp(last_state, w->state) || !strcmp(last_state, "completed") ||
	       !strcmp(last_state, "halted") || !strcmp(last_state, "aborted");
}

static long create(const char *const *args)
{
	OK(flv(args));
	cJSON *d = cJSON_Parse(out);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "rollout");
	assert_true(cJSON_IsNumber(id));
	long v = (long)id->valuedouble;
	cJSON_Delete(d);
	return v;
}

static void wait_state(long id, const char *state, int ms)
{
	struct want w = {id, state};
	if (!tt_wait_until(rollout_in, &w, ms) || strcmp(last_state, state)) {
		char ids[32];
		snprintf(ids, sizeof(ids), "%ld", id);
		FL("rollout", "status", ids);
		fail_msg("rollout %ld: %s, not %s after %d ms\n%s", id, last_state, state, ms, out);
	}
}

/* The state and reason of one device in a rollout's status. */
static void dev_in(long id, const char *dev, char *state, char *reason)
{
	char ids[32];
	snprintf(ids, sizeof(ids), "%ld", id);
	OK(FL("rollout", "status", ids, "-o", "json"));
	cJSON *d = cJSON_Parse(out);
	cJSON *x;
	state[0] = reason[0] = '\0';
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(d, "devices"))
	{
		if (strcmp(cJSON_GetObjectItemCaseSensitive(x, "device")->valuestring, dev))
			continue;
		snprintf(state, 32, "%s",
		         cJSON_GetObjectItemCaseSensitive(x, "state")->valuestring);
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(x, "reason");
		if (cJSON_IsString(r))
			snprintf(reason, 256, "%s", r->valuestring);
	}
	cJSON_Delete(d);
}

static int setup(void **state)
{
	(void)state;
	struct tt_mosq_opts o;
	tmp = tt_tempdir("rollout");
	assert_non_null(tmp);
	snprintf(dd, sizeof(dd), "%s/data", tmp);
	tt_mosq_opts_init(&o);
	assert_int_equal(tt_mosq_start(&o, &broker), 0);
	OK(FL("keys", "init"));
	char f[4096], g[4096];
	snprintf(f, sizeof(f), "%s/examples/models/digits/v1.onnx", TT_SRC_DIR);
	snprintf(g, sizeof(g), "%s/examples/models/digits/golden-v1", TT_SRC_DIR);
	OK(FL("model", "register", "onnx", "-n", "digits", "-f", f, "--golden", g, "--rtol", "1e-3",
	      "--atol", "1e-4"));
	snprintf(f, sizeof(f), "%s/examples/models/digits/v2.onnx", TT_SRC_DIR);
	OK(FL("model", "register", "onnx", "-n", "digits", "-f", f));
	snprintf(f, sizeof(f), "%s/examples/models/digits/v3-bad.onnx", TT_SRC_DIR);
	snprintf(g, sizeof(g), "%s/examples/models/digits/golden", TT_SRC_DIR);
	OK(FL("model", "register", "onnx", "-n", "digits", "-f", f, "--golden", g, "--rtol", "1e-3",
	      "--atol", "1e-4"));
	start_serve();
	for (int i = 0; i < N_DEV; i++)
		start_agent(i);
	if (!tt_wait_until(all_reporting, NULL, 30000))
		fail_msg("devices did not report: %s", out);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < N_DEV; i++) {
		tt_proc_free(agents[i]);
		agents[i] = NULL;
	}
	tt_proc_free(serve);
	serve = NULL;
	tt_mosq_free(broker);
	broker = NULL;
	tt_rm_rf(tmp);
	free(tmp);
	return 0;
}

static void test_canary_waves_halt_and_resume(void **state)
{
	(void)state;
	char st[32], why[256];
	/* 1. v1 everywhere: canary, then waves of one. */
	long r1 = create((const char *const[]){
	    "rollout", "create", "--model", "digits:1", "--target", "all", "--canary", "1",
	    "--wave", "1", "--probation", "1", "--deadline", "60", "-o", "json", NULL});
	wait_state(r1, "completed", 90000);
	for (int i = 0; i < N_DEV; i++) {
		dev_in(r1, devs[i], st, why);
		assert_string_equal(st, "committed");
	}
	/* Conflict without --supersede while a rollout is active. */
	long r2 = create((const char *const[]){"rollout", "create", "--model", "digits:3",
	                                       "--target", "all", "--canary", "1", "--probation",
	                                       "1", "--deadline", "60", "-o", "json", NULL});
	assert_int_equal(FL("rollout", "create", "--model", "digits:2", "--target", "all"), 4);
	/* 2. v3 fails its golden vectors on the canary: halted there. */
	wait_state(r2, "halted", 90000);
	int failed = 0, cancelled = 0;
	for (int i = 0; i < N_DEV; i++) {
		dev_in(r2, devs[i], st, why);
		if (!strcmp(st, "failed")) {
			failed++;
			assert_non_null(strstr(why, "GOLDEN_MISMATCH"));
		} else if (!strcmp(st, "cancelled")) {
			cancelled++;
		}
	}
	assert_int_equal(failed, 1);
	assert_int_equal(cancelled, N_DEV - 1);
	/* 3. v2 with serve killed -9 mid-rollout: resumes and completes. */
	long r3 = create((const char *const[]){
	    "rollout", "create", "--model", "digits:2", "--target", "all", "--canary", "1",
	    "--wave", "1", "--probation", "2", "--deadline", "60", "-o", "json", NULL});
	struct want w = {r3, "running"};
	assert_true(tt_wait_until(rollout_in, &w, 10000));
	tt_proc_kill(serve, SIGKILL);
	tt_proc_free(serve);
	serve = NULL;
	start_serve();
	wait_state(r3, "completed", 90000);
	for (int i = 0; i < N_DEV; i++) {
		dev_in(r3, devs[i], st, why);
		assert_string_equal(st, "committed");
	}
}

/* The "models" column of `device list` for dev, and whether it is online. */
static bool dev_list(const char *dev, char *models, size_t cap)
{
	bool online = false;
	models[0] = '\0';
	if (FL("device", "list", "-o", "json") != 0)
		return false;
	cJSON *a = cJSON_Parse(out);
	cJSON *x;
	cJSON_ArrayForEach(x, a)
	{
		if (strcmp(cJSON_GetObjectItemCaseSensitive(x, "id")->valuestring, dev))
			continue;
		online =
		    !strcmp(cJSON_GetObjectItemCaseSensitive(x, "online")->valuestring, "online");
		snprintf(models, cap, "%s",
		         cJSON_GetObjectItemCaseSensitive(x, "models")->valuestring);
	}
	cJSON_Delete(a);
	return online;
}

static bool c_offline(void *arg)
{
	char m[256];
	(void)arg;
	return !dev_list("ro-c", m, sizeof(m));
}

static bool c_runs_v1(void *arg)
{
	char m[256];
	(void)arg;
	return dev_list("ro-c", m, sizeof(m)) && strstr(m, "digits:1 (committed)");
}

struct devwant {
	long id;
	const char *dev, *state;
};

static bool dev_is(void *arg)
{
	const struct devwant *w = arg;
	char st[32], why[256];
	dev_in(w->id, w->dev, st, why);
	return !strcmp(st, w->state);
}

static void stop_c(void)
{
	tt_proc_kill(agents[2], SIGTERM);
	assert_int_equal(tt_proc_wait(agents[2], 10000, NULL), 0);
	tt_proc_free(agents[2]);
	agents[2] = NULL;
	assert_true(tt_wait_until(c_offline, NULL, 20000));
}

static void test_offline_supersede_remove(void **state)
{
	(void)state;
	char st[32], why[256], m[256];
	/* An offline device is offline, not failed, and completes when it returns. */
	stop_c();
	long r1 = create((const char *const[]){"rollout", "create", "--model", "digits:1",
	                                       "--target", "all", "--canary", "2", "--probation",
	                                       "1", "--deadline", "120", "-o", "json", NULL});
	struct devwant dw = {r1, "ro-c", "offline"};
	assert_true(tt_wait_until(dev_is, &dw, 60000));
	start_agent(2);
	wait_state(r1, "completed", 90000);
	dev_in(r1, "ro-c", st, why);
	assert_string_equal(st, "committed");
	/* Offline when its rollout halts: never installs the halted version. */
	stop_c();
	long r2 = create((const char *const[]){"rollout", "create", "--model", "digits:3",
	                                       "--target", "all", "--canary", "3", "--probation",
	                                       "1", "--deadline", "120", "-o", "json", NULL});
	wait_state(r2, "halted", 90000);
	dev_in(r2, "ro-c", st, why);
	assert_string_equal(st, "cancelled");
	start_agent(2);
	assert_true(tt_wait_until(c_runs_v1, NULL, 30000));
	OK(FL("device", "show", "ro-c", "-o", "json"));
	assert_null(strstr(out, "digits:3"));
	/* --supersede takes a device over from an active rollout. */
	long r3 = create((const char *const[]){"rollout", "create", "--model", "digits:2",
	                                       "--target", "all", "--canary", "3", "--probation",
	                                       "2", "--deadline", "120", "-o", "json", NULL});
	assert_int_equal(FL("rollout", "create", "--model", "digits:2", "--target", "device:ro-a"),
	                 4);
	long r4 = create((const char *const[]){
	    "rollout", "create", "--model", "digits:2", "--target", "device:ro-a", "--supersede",
	    "--probation", "1", "--deadline", "120", "-o", "json", NULL});
	dev_in(r3, "ro-a", st, why);
	assert_string_equal(st, "superseded");
	wait_state(r3, "completed", 90000);
	wait_state(r4, "completed", 90000);
	dev_in(r4, "ro-a", st, why);
	assert_string_equal(st, "committed");
	/* --remove unloads the model everywhere. */
	long r5 = create((const char *const[]){"rollout", "create", "--remove", "digits",
	                                       "--target", "all", "--canary", "1", "--deadline",
	                                       "120", "-o", "json", NULL});
	wait_state(r5, "completed", 90000);
	for (int i = 0; i < N_DEV; i++) {
		dev_list(devs[i], m, sizeof(m));
		assert_null(strstr(m, "digits"));
	}
}

/* A device that does not commit by its deadline fails (TIMEOUT) and trips
 * the failure limit. */
static void test_deadline(void **state)
{
	(void)state;
	char st[32], why[256];
	stop_c();
	long r = create((const char *const[]){
	    "rollout", "create", "--model", "digits:1", "--target", "all", "--canary", "3",
	    "--probation", "1", "--deadline", "3", "--max-failures", "0", "-o", "json", NULL});
	wait_state(r, "halted", 60000);
	dev_in(r, "ro-c", st, why);
	assert_string_equal(st, "failed");
	assert_non_null(strstr(why, "TIMEOUT"));
}

int main(void)
{
	const char *b = getenv("FLT_BINARY_DIR");
	if (!b) {
		fprintf(stderr, "FLT_BINARY_DIR must be set (ctest sets it)\n");
		return 1;
	}
	snprintf(bin, sizeof(bin), "%s/controller/flotilla", b);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_canary_waves_halt_and_resume, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_offline_supersede_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
