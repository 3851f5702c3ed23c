/* Serving lifecycle: socket mode and group (a missing group is a clear
 * error, a non-socket file is never replaced), live reconfiguration of the
 * worker pool, removal, several models side by side, and the SIGTERM path:
 * destroy lets a request already running finish and delivers its reply. */
#include <grp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "flotilla.h"
#include "flt/serving.h"
#include "serving_util.h"

static struct su_env env;

static int infer(const char *model, uint64_t *version)
{
	flotilla_client *c = NULL;
	struct flotilla_result *r = NULL;
	struct flotilla_tensor in = {.name = "image",
	                             .dtype = FLOTILLA_FLOAT,
	                             .rank = 4,
	                             .dims = {1, 1, 8, 8},
	                             .data = env.input.data,
	                             .size = env.input.size};
	int st = flotilla_connect(env.sock, 10000, &c);
	if (!st)
		st = flotilla_infer(c, model, 0, &in, 1, &r);
	if (!st && version)
		*version = r->version;
	flotilla_result_free(r);
	flotilla_close(c);
	return st;
}

static void test_socket_mode_and_group(void **state)
{
	(void)state;
	struct flt_serving *s = NULL;
	struct stat st;
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	struct flt_serving_opts o = {.socket_path = env.sock, .socket_group = "no-such-group-flt"};
	assert_int_equal(flt_serving_create(&o, &s), FLT_ENOTFOUND);
	assert_null(s);
	/* the process's own primary group exists under some name */
	struct group *g = getgrgid(getgid());
	o.socket_group = g ? g->gr_name : NULL;
	assert_int_equal(flt_serving_create(&o, &s), FLT_OK);
	assert_int_equal(lstat(env.sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_gid, getgid());
	flt_serving_destroy(s);
	assert_int_not_equal(lstat(env.sock, &st), 0); /* removed on the way out */
	/* a stale socket is replaced; a regular file is not */
	o.socket_mode = 0600;
	assert_int_equal(flt_serving_create(&o, &s), FLT_OK);
	flt_serving_destroy(s);
	FILE *f = fopen(env.sock, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(flt_serving_create(&o, &s), FLT_EINVAL);
	unlink(env.sock);
	o.socket_path = NULL;
	assert_int_equal(flt_serving_create(&o, &s), FLT_EINVAL);
}

static void test_models_side_by_side_and_reconfigure(void **state)
{
	(void)state;
	struct flt_serving *s = NULL;
	char err[256];
	uint64_t v = 0;
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	struct flt_serving_opts o = {.socket_path = env.sock, .workers = 2};
	assert_int_equal(flt_serving_create(&o, &s), FLT_OK);
	assert_int_equal(flt_serving_activate(s, "detector", 5, env.v1, 0, err, sizeof(err)),
	                 FLT_OK);
	assert_int_equal(flt_serving_activate(s, "classifier", 9, env.v2, 0, err, sizeof(err)),
	                 FLT_OK);
	assert_int_equal(infer("detector", &v), FLOTILLA_OK);
	assert_int_equal(v, 5);
	assert_int_equal(infer("classifier", &v), FLOTILLA_OK);
	assert_int_equal(v, 9);
	/* more workers, then fewer, with requests between */
	assert_int_equal(flt_serving_reconfigure(s, 6, 8, 100, 500), FLT_OK);
	for (int i = 0; i < 10; i++)
		assert_int_equal(infer(i % 2 ? "detector" : "classifier", NULL), FLOTILLA_OK);
	assert_int_equal(flt_serving_reconfigure(s, 1, 0, 0, 0), FLT_OK);
	for (int i = 0; i < 10; i++)
		assert_int_equal(infer(i % 2 ? "detector" : "classifier", NULL), FLOTILLA_OK);
	assert_int_equal(flt_serving_reconfigure(s, 100000, 0, 0, 0), FLT_EINVAL);
	/* removal: the other model keeps serving */
	assert_int_equal(flt_serving_remove(s, "detector"), FLT_OK);
	assert_int_equal(flt_serving_remove(s, "detector"), FLT_ENOTFOUND);
	assert_int_equal(infer("detector", NULL), FLOTILLA_NOT_FOUND);
	assert_int_equal(flt_serving_active(s, "detector", &v), FLT_ENOTFOUND);
	assert_int_equal(infer("classifier", &v), FLOTILLA_OK);
	/* a file that is not a model leaves the active version in place */
	assert_int_not_equal(
	    flt_serving_activate(s, "classifier", 10, env.sock, 0, err, sizeof(err)), FLT_OK);
	assert_true(err[0] != 0);
	assert_int_equal(flt_serving_active(s, "classifier", &v), FLT_OK);
	assert_int_equal(v, 9);
	assert_int_equal(flt_serving_activate(s, "Bad Name", 1, env.v1, 0, err, sizeof(err)),
	                 FLT_EINVAL);
	flt_serving_destroy(s);
}

static void test_batches(void **state)
{
	(void)state;
	struct flt_serving *s = NULL;
	flotilla_client *c = NULL;
	struct flotilla_result *r = NULL;
	char err[256];
	static float two[2 * 64];
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	memcpy(two, env.input.data, 256);
	memcpy(two + 64, env.input.data, 256);
	struct flt_serving_opts o = {.socket_path = env.sock, .workers = 1, .max_batch = 4};
	assert_int_equal(flt_serving_create(&o, &s), FLT_OK);
	assert_int_equal(flt_serving_activate(s, "digits", 1, env.v1, 0, err, sizeof(err)), FLT_OK);
	assert_int_equal(flotilla_connect(env.sock, 10000, &c), FLOTILLA_OK);
	struct flotilla_tensor in = {.name = "image",
	                             .dtype = FLOTILLA_FLOAT,
	                             .rank = 4,
	                             .dims = {2, 1, 8, 8},
	                             .data = two,
	                             .size = sizeof(two)};
	assert_int_equal(flotilla_infer(c, "digits", 0, &in, 1, &r), FLOTILLA_OK);
	assert_int_equal(r->outputs[0].rank, 2);
	assert_int_equal(r->outputs[0].dims[0], 2);
	size_t row = r->outputs[0].size / 2;
	assert_int_equal(su_which(&env, r->outputs[0].data, row), 0);
	assert_int_equal(su_which(&env, (const char *)r->outputs[0].data + row, row), 0);
	flotilla_result_free(r);
	in.dims[0] = 1;
	in.size = 256;
	assert_int_equal(flotilla_infer(c, "digits", 0, &in, 1, &r), FLOTILLA_OK);
	flotilla_result_free(r);
	/* over max_batch: refused as bad input */
	static float five[5 * 64];
	in.dims[0] = 5;
	in.data = five;
	in.size = sizeof(five);
	assert_int_equal(flotilla_infer(c, "digits", 0, &in, 1, &r), FLOTILLA_BAD_INPUT);
	flotilla_close(c);
	flt_serving_destroy(s);
}

struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int entered, open;
};

static flt_err gate_hook(void *arg, const char *name, uint64_t version)
{
	struct gate *g = arg;
	(void)name, (void)version;
	pthread_mutex_lock(&g->mu);
	g->entered++;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	return FLT_OK;
}

struct call {
	int st;
	uint64_t version;
};

static void *call_main(void *arg)
{
	struct call *c = arg;
	c->st = infer("digits", &c->version);
	return NULL;
}

/* Connects without sending anything, so no work is queued behind the gate. */
static int can_connect(void)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, env.sock, strlen(env.sock) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void *destroy_main(void *arg)
{
	flt_serving_destroy(arg);
	return NULL;
}

static void test_destroy_drains(void **state)
{
	(void)state;
	struct gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct flt_serving *s = NULL;
	struct call c = {.st = -1};
	pthread_t tc, td;
	char err[256];
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	struct flt_serving_opts o = {
	    .socket_path = env.sock, .workers = 1, .fault = gate_hook, .fault_arg = &g};
	assert_int_equal(flt_serving_create(&o, &s), FLT_OK);
	assert_int_equal(flt_serving_activate(s, "digits", 3, env.v1, 0, err, sizeof(err)), FLT_OK);
	assert_int_equal(pthread_create(&tc, NULL, call_main, &c), 0);
	pthread_mutex_lock(&g.mu);
	while (!g.entered)
		pthread_cond_wait(&g.cv, &g.mu);
	pthread_mutex_unlock(&g.mu);
	/* SIGTERM path while the request runs: new connections are refused... */
	assert_int_equal(pthread_create(&td, NULL, destroy_main, s), 0);
	while (can_connect())
		sched_yield();
	/* ...and the running one still gets its answer */
	pthread_mutex_lock(&g.mu);
	g.open = 1;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	pthread_join(tc, NULL);
	pthread_join(td, NULL);
	assert_int_equal(c.st, FLOTILLA_OK);
	assert_int_equal(c.version, 3);
}

static int setup(void **state)
{
	(void)state;
	return su_setup(&env);
}

static int teardown(void **state)
{
	(void)state;
	su_teardown(&env);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_socket_mode_and_group),
	    cmocka_unit_test(test_models_side_by_side_and_reconfigure),
	    cmocka_unit_test(test_batches),
	    cmocka_unit_test(test_destroy_drains),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
