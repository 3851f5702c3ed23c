/* Hot swap under load through the real socket and libflotilla: 4 client
 * threads send continuously during 20 swaps between the digits v1 and v2
 * models. No request may fail, each answer must come from the model file of
 * the version it names, and no thread may see a version older than one it
 * saw or than the last swap completed before it asked. Once with room for
 * both versions, once under a memory budget that forces drain-then-load. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "flotilla.h"
#include "flt/serving.h"
#include "serving_util.h"

#define CLIENTS 4
#define SWAPS   20

struct shared {
	struct su_env *env;
	atomic_ullong completed; /* version of the last swap that returned */
	atomic_int stop;
};

struct client {
	struct shared *sh;
	unsigned long ok, failed, wrong_model, went_back, stale;
	uint64_t seen_max;
	char first_error[256];
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct su_env *e = c->sh->env;
	flotilla_client *fc = NULL;
	struct flotilla_tensor in;
	memset(&in, 0, sizeof(in));
	in.name = "image";
	in.dtype = e->input.dtype;
	in.rank = e->input.rank;
	memcpy(in.dims, e->input.dims, sizeof(in.dims));
	in.data = e->input.data;
	in.size = e->input.size;
	if (flotilla_connect(e->sock, 10000, &fc)) {
		c->failed++;
		return NULL;
	}
	while (!atomic_load(&c->sh->stop)) {
		uint64_t before = atomic_load(&c->sh->completed);
		struct flotilla_result *r = NULL;
		int st = flotilla_infer(fc, "digits", 0, &in, 1, &r);
		if (st) {
			if (!c->failed++)
				snprintf(c->first_error, sizeof(c->first_error), "%s",
				         flotilla_last_error(fc));
			continue;
		}
		/* odd versions are v1.onnx, even ones v2.onnx */
		int want = r->version % 2 ? 0 : 1;
		if (r->n_outputs != 1 ||
		    su_which(e, r->outputs[0].data, r->outputs[0].size) != want)
			c->wrong_model++;
		if (r->version < c->seen_max)
			c->went_back++;
		if (r->version < before)
			c->stale++;
		if (r->version > c->seen_max)
			c->seen_max = r->version;
		c->ok++;
		flotilla_result_free(r);
	}
	flotilla_close(fc);
	return NULL;
}

static void swap_under_load(uint64_t budget)
{
	struct su_env env;
	struct shared sh;
	struct client cl[CLIENTS];
	pthread_t th[CLIENTS];
	struct flt_serving *s = NULL;
	char err[256];
	if (su_emulated()) {
		print_message("skipped: threads are unreliable under qemu-user\n");
		return;
	}
	assert_int_equal(su_setup(&env), 0);
	struct flt_serving_opts o = {.socket_path = env.sock,
	                             .workers = 2,
	                             .queue_max = 64,
	                             .memory_budget = budget,
	                             .swap_wait_ms = 5000};
	assert_int_equal(flt_serving_create(&o, &s), FLT_OK);
	assert_int_equal(flt_serving_activate(s, "digits", 1, env.v1, 0, err, sizeof(err)), FLT_OK);
	memset(&sh, 0, sizeof(sh));
	sh.env = &env;
	atomic_store(&sh.completed, 1);
	memset(cl, 0, sizeof(cl));
	for (int i = 0; i < CLIENTS; i++) {
		cl[i].sh = &sh;
		assert_int_equal(pthread_create(&th[i], NULL, client_main, &cl[i]), 0);
	}
	uint64_t waits = 0, wait_max = 0;
	for (uint64_t v = 2; v <= SWAPS + 1; v++) {
		/* let some requests land on each version before the next swap */
		unsigned long before = 0, now;
		for (int i = 0; i < CLIENTS; i++)
			before += __atomic_load_n(&cl[i].ok, __ATOMIC_RELAXED);
		do {
			now = 0;
			for (int i = 0; i < CLIENTS; i++)
				now += __atomic_load_n(&cl[i].ok, __ATOMIC_RELAXED) +
				       __atomic_load_n(&cl[i].failed, __ATOMIC_RELAXED);
			sched_yield();
		} while (now < before + 8);
		struct flt_serving_stats st;
		assert_int_equal(flt_serving_stats(s, "digits", v - 1, &st), FLT_OK);
		assert_int_equal(flt_serving_activate(s, "digits", v, v % 2 ? env.v1 : env.v2, 0,
		                                      err, sizeof(err)),
		                 FLT_OK);
		atomic_store(&sh.completed, v);
		uint64_t active = 0;
		assert_int_equal(flt_serving_active(s, "digits", &active), FLT_OK);
		assert_int_equal(active, v);
		/* the swapped-out version only lingers while requests still run on it */
		waits += st.swap_waits;
		if (st.swap_wait_max_ns > wait_max)
			wait_max = st.swap_wait_max_ns;
	}
	atomic_store(&sh.stop, 1);
	unsigned long ok = 0;
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(th[i], NULL);
		print_message("client %d: ok %lu failed %lu seen up to %llu %s\n", i, cl[i].ok,
		              cl[i].failed, (unsigned long long)cl[i].seen_max, cl[i].first_error);
		assert_int_equal(cl[i].failed, 0);
		assert_int_equal(cl[i].wrong_model, 0);
		assert_int_equal(cl[i].went_back, 0);
		assert_int_equal(cl[i].stale, 0);
		ok += cl[i].ok;
	}
	assert_true(ok >= SWAPS * 8);
	print_message("budget %llu: %lu requests, %llu waited for a swap (max %.3f ms)\n",
	              (unsigned long long)budget, ok, (unsigned long long)waits,
	              (double)wait_max / 1e6);
	flt_serving_destroy(s);
	su_teardown(&env);
}

static void test_swap_room_for_both(void **state)
{
	(void)state;
	swap_under_load(0);
}

static void test_swap_under_memory_budget(void **state)
{
	(void)state;
	struct su_env env;
	struct flt_serving *s = NULL;
	struct flt_serving_stats st1, st2;
	char err[256];
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	/* measure each version alone, then allow a little more than the larger */
	assert_int_equal(su_setup(&env), 0);
	struct flt_serving_opts o = {.socket_path = env.sock, .workers = 2};
	assert_int_equal(flt_serving_create(&o, &s), FLT_OK);
	assert_int_equal(flt_serving_activate(s, "digits", 1, env.v1, 0, err, sizeof(err)), FLT_OK);
	assert_int_equal(flt_serving_stats(s, "digits", 1, &st1), FLT_OK);
	assert_int_equal(flt_serving_activate(s, "digits", 2, env.v2, 0, err, sizeof(err)), FLT_OK);
	assert_int_equal(flt_serving_stats(s, "digits", 2, &st2), FLT_OK);
	flt_serving_destroy(s);
	su_teardown(&env);
	uint64_t big = st1.memory_bytes > st2.memory_bytes ? st1.memory_bytes : st2.memory_bytes;
	print_message("v1 holds ~%llu bytes, v2 ~%llu\n", (unsigned long long)st1.memory_bytes,
	              (unsigned long long)st2.memory_bytes);
	assert_true(big > 0);
	swap_under_load(big + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_swap_room_for_both),
	    cmocka_unit_test(test_swap_under_memory_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
