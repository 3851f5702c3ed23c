/* Serving costs on the device: idle memory of a serving process (PSS and
 * private, no model), memory with the digits model loaded, cold start to
 * ready, requests/s and latency through the socket beside calling the
 * runtime directly, and how long requests wait because of a hot swap. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"
#include "flotilla.h"
#include "flt/alloc.h"
#include "flt/runtime.h"
#include "flt/serving.h"
#include "flt/usage.h"

static char dir[64], sock[128], v1[1024], v2[1024];
static struct flt_rt_tensor input;

static int setup(void)
{
	const char *src = getenv("FLT_SOURCE_DIR");
	char p[1024], err[256];
	if (!src)
		src = ".";
	snprintf(dir, sizeof(dir), "/tmp/flt-bench-serving-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
	snprintf(v1, sizeof(v1), "%s/examples/models/digits/v1.onnx", src);
	snprintf(v2, sizeof(v2), "%s/examples/models/digits/v2.onnx", src);
	snprintf(p, sizeof(p), "%s/examples/models/digits/golden/input_0.pb", src);
	FILE *f = fopen(p, "rb");
	if (!f) {
		fprintf(stderr,
		        "bench_serving: cannot open %s (run from the source tree or set "
		        "FLT_SOURCE_DIR)\n",
		        p);
		return -1;
	}
	static uint8_t buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (flt_rt_tensor_decode(buf, n, &input, NULL, err, sizeof(err)) || input.rank != 4 ||
	    input.dims[0] < 1)
		return -1;
	input.size /= (size_t)input.dims[0]; /* first image of the golden batch */
	input.dims[0] = 1;
	return 0;
}

/* Pss and Private_Clean + Private_Dirty of PID in KiB, from smaps_rollup. */
static int mem_kib(pid_t pid, double *pss, double *priv)
{
	char p[64], line[256];
	snprintf(p, sizeof(p), "/proc/%d/smaps_rollup", (int)pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return -1;
	*pss = *priv = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long v;
		if (sscanf(line, "Pss: %lu", &v) == 1)
			*pss = (double)v;
		else if (sscanf(line, "Private_Clean: %lu", &v) == 1 ||
		         sscanf(line, "Private_Dirty: %lu", &v) == 1)
			*priv += (double)v;
	}
	fclose(f);
	return 0;
}

/* The serving child: create, report, wait for "load", activate, report, wait. */
static void child(int cmd_fd, int rep_fd) __attribute__((noreturn));
static void child(int cmd_fd, int rep_fd)
{
	struct flt_serving *s = NULL;
	char c, err[256];
	double t0 = bench_now();
	struct flt_serving_opts o = {.socket_path = sock, .workers = 2};
	if (flt_serving_create(&o, &s))
		_exit(1);
	double t_create = bench_now() - t0;
	if (write(rep_fd, &t_create, sizeof(t_create)) != sizeof(t_create) ||
	    read(cmd_fd, &c, 1) != 1)
		_exit(1);
	t0 = bench_now();
	if (flt_serving_activate(s, "digits", 1, v1, 0, err, sizeof(err)))
		_exit(1);
	double t_act = bench_now() - t0;
	if (write(rep_fd, &t_act, sizeof(t_act)) != sizeof(t_act))
		_exit(1);
	while (read(cmd_fd, &c, 1) == 1)
		;
	flt_serving_destroy(s);
	_exit(0);
}

static int bench_memory(void)
{
	int cmd[2], rep[2];
	double t_create = 0, t_act = 0, pss0, priv0, pss1, priv1;
	if (pipe(cmd) || pipe(rep))
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* a fresh image, so no page is shared with this process and PSS is honest */
		char a1[16], a2[16];
		close(cmd[1]);
		close(rep[0]);
		snprintf(a1, sizeof(a1), "%d", cmd[0]);
		snprintf(a2, sizeof(a2), "%d", rep[1]);
		execl("/proc/self/exe", "bench_serving", "--serve-child", a1, a2, dir,
		      (char *)NULL);
		_exit(127);
	}
	close(cmd[0]);
	close(rep[1]);
	int rc = -1;
	if (read(rep[0], &t_create, sizeof(t_create)) != sizeof(t_create) ||
	    mem_kib(pid, &pss0, &priv0))
		goto out;
	if (write(cmd[1], "l", 1) != 1 || read(rep[0], &t_act, sizeof(t_act)) != sizeof(t_act) ||
	    mem_kib(pid, &pss1, &priv1))
		goto out;
	const char *n_idle =
	    "a freshly exec'd process serving with 2 workers, socket bound, no model (the "
	    "bench binary: flt_agent, flt_runtime, flt_common static; libc, sqlite, paho, mbedtls "
	    "shared, their PSS shared with other processes); peer: Greengrass nucleus lite's "
	    "published 12-16 MB PSS";
	struct bench_fig f = {"idle PSS of a serving process (no model)",
	                      pss0 / 1024,
	                      "MiB",
	                      "Greengrass nucleus lite (published)",
	                      12,
	                      "value",
	                      "<=",
	                      5,
	                      n_idle};
	bench_emit("serving", &f);
	f = (struct bench_fig){"idle private memory of a serving process (no model)",
	                       priv0 / 1024,
	                       "MiB",
	                       NULL,
	                       0,
	                       "value",
	                       "<=",
	                       2,
	                       n_idle};
	bench_emit("serving", &f);
	f = (struct bench_fig){"PSS with the digits model loaded",
	                       pss1 / 1024,
	                       "MiB",
	                       NULL,
	                       0,
	                       NULL,
	                       NULL,
	                       0,
	                       "examples/models/digits/v1.onnx, 2 run contexts"};
	bench_emit("serving", &f);
	f = (struct bench_fig){"private memory with the digits model loaded",
	                       priv1 / 1024,
	                       "MiB",
	                       NULL,
	                       0,
	                       NULL,
	                       NULL,
	                       0,
	                       "examples/models/digits/v1.onnx, 2 run contexts"};
	bench_emit("serving", &f);
	f = (struct bench_fig){"cold start to ready (socket + workers + load and warm digits)",
	                       (t_create + t_act) * 1e3,
	                       "ms",
	                       NULL,
	                       0,
	                       NULL,
	                       NULL,
	                       0,
	                       "in a freshly exec'd process: flt_serving_create + "
	                       "flt_serving_activate (load, plan, warm)"};
	bench_emit("serving", &f);
	rc = 0;
out:
	close(cmd[1]); /* EOF: the child stops */
	close(rep[0]);
	int st;
	waitpid(pid, &st, 0);
	return rc;
}

static int bench_latency(int n)
{
	struct flt_serving *s = NULL;
	struct flt_rt_model *m = NULL;
	flotilla_client *c = NULL;
	struct flt_usage_hist hs, hd;
	char err[256];
	int rc = -1;
	memset(&hs, 0, sizeof(hs));
	memset(&hd, 0, sizeof(hd));
	struct flt_serving_opts o = {.socket_path = sock, .workers = 2};
	if (flt_serving_create(&o, &s) ||
	    flt_serving_activate(s, "digits", 1, v1, 0, err, sizeof(err)) ||
	    flotilla_connect(sock, 10000, &c))
		goto out;
	struct flotilla_tensor in = {.name = "image",
	                             .dtype = FLOTILLA_FLOAT,
	                             .rank = 4,
	                             .dims = {1, 1, 8, 8},
	                             .data = input.data,
	                             .size = input.size};
	double t0 = bench_now();
	for (int i = 0; i < n; i++) {
		struct flotilla_result *r = NULL;
		double a = bench_now();
		if (flotilla_infer(c, "digits", 0, &in, 1, &r))
			goto out;
		flt_usage_hist_add(&hs, (uint64_t)((bench_now() - a) * 1e9));
		flotilla_result_free(r);
	}
	double sock_s = bench_now() - t0;
	struct flt_rt_opts ro = {.max_batch = 1, .max_concurrency = 1};
	if (flt_rt_model_load_file(v1, &ro, &m, err, sizeof(err)))
		goto out;
	static float out_buf[64];
	t0 = bench_now();
	for (int i = 0; i < n; i++) {
		struct flt_rt_tensor ot = {.data = out_buf, .size = sizeof(out_buf)};
		double a = bench_now();
		if (flt_rt_run(m, &input, 1, &ot, 1, err, sizeof(err)))
			goto out;
		flt_usage_hist_add(&hd, (uint64_t)((bench_now() - a) * 1e9));
	}
	double direct_s = bench_now() - t0;
	const char *note = "digits v1, batch 1, one client, sequential requests; latency from the "
	                   "flt/usage.h histogram (+-6%)";
	struct bench_fig f = {"requests/s through the socket (libflotilla)",
	                      n / sock_s,
	                      "req/s",
	                      "flt_rt_run called directly",
	                      n / direct_s,
	                      NULL,
	                      NULL,
	                      0,
	                      note};
	bench_emit("serving", &f);
	f = (struct bench_fig){"latency p50 through the socket",
	                       (double)flt_usage_hist_percentile(&hs, 50) / 1e3,
	                       "us",
	                       "flt_rt_run called directly",
	                       (double)flt_usage_hist_percentile(&hd, 50) / 1e3,
	                       NULL,
	                       NULL,
	                       0,
	                       note};
	bench_emit("serving", &f);
	f = (struct bench_fig){"latency p99 through the socket",
	                       (double)flt_usage_hist_percentile(&hs, 99) / 1e3,
	                       "us",
	                       "flt_rt_run called directly",
	                       (double)flt_usage_hist_percentile(&hd, 99) / 1e3,
	                       NULL,
	                       NULL,
	                       0,
	                       note};
	bench_emit("serving", &f);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "bench_serving: latency run failed: %s %s\n", err,
		        c ? flotilla_last_error(c) : "");
	flotilla_close(c);
	flt_rt_model_free(m);
	flt_serving_destroy(s);
	return rc;
}

struct loader {
	atomic_int stop, phase; /* phase 0: no swaps yet, 1: swapping */
	atomic_ulong ok, failed;
};

struct client {
	struct loader *l;
	struct flt_usage_hist lat[2]; /* per phase */
};

static void *load_main(void *arg)
{
	struct client *cl = arg;
	struct loader *l = cl->l;
	flotilla_client *c = NULL;
	struct flotilla_tensor in = {.name = "image",
	                             .dtype = FLOTILLA_FLOAT,
	                             .rank = 4,
	                             .dims = {1, 1, 8, 8},
	                             .data = input.data,
	                             .size = input.size};
	if (flotilla_connect(sock, 10000, &c))
		return NULL;
	while (!atomic_load(&l->stop)) {
		struct flotilla_result *r = NULL;
		int ph = atomic_load(&l->phase);
		double a = bench_now();
		if (flotilla_infer(c, "digits", 0, &in, 1, &r) == FLOTILLA_OK) {
			flt_usage_hist_add(&cl->lat[ph], (uint64_t)((bench_now() - a) * 1e9));
			atomic_fetch_add(&l->ok, 1);
		} else {
			atomic_fetch_add(&l->failed, 1);
		}
		flotilla_result_free(r);
	}
	flotilla_close(c);
	return NULL;
}

static void hist_merge(struct flt_usage_hist *into, const struct flt_usage_hist *h)
{
	for (unsigned i = 0; i < FLT_USAGE_BUCKETS; i++)
		into->counts[i] += h->counts[i];
	if (h->n && (!into->n || h->min_ns < into->min_ns))
		into->min_ns = h->min_ns;
	if (h->max_ns > into->max_ns)
		into->max_ns = h->max_ns;
	into->n += h->n;
	into->sum_ns += h->sum_ns;
}

static void wait_requests(struct loader *l, unsigned long n)
{
	unsigned long before = atomic_load(&l->ok);
	while (atomic_load(&l->ok) + atomic_load(&l->failed) < before + n)
		sched_yield();
}

/* 4 clients, first without swaps, then during SWAPS swaps v1 <-> v2; with
 * BUDGET (old and new cannot coexist) each swap drains the old one first. */
static int bench_swap(int swaps, uint64_t budget)
{
	struct flt_serving *s = NULL;
	struct loader l;
	static struct client cl[4];
	pthread_t th[4];
	char err[256];
	uint64_t waits = 0, wmax = 0, wp99 = 0;
	int rc = -1, started = 0;
	memset(&l, 0, sizeof(l));
	memset(cl, 0, sizeof(cl));
	struct flt_serving_opts o = {.socket_path = sock, .workers = 2, .memory_budget = budget};
	if (flt_serving_create(&o, &s) ||
	    flt_serving_activate(s, "digits", 1, v1, 0, err, sizeof(err)))
		goto out;
	for (; started < 4; started++) {
		cl[started].l = &l;
		if (pthread_create(&th[started], NULL, load_main, &cl[started]))
			goto out;
	}
	for (int i = 0; i < swaps; i++)
		wait_requests(&l, 20);
	atomic_store(&l.phase, 1);
	for (uint64_t v = 2; v <= (uint64_t)swaps + 1; v++) {
		wait_requests(&l, 20);
		struct flt_serving_stats st;
		if (flt_serving_stats(s, "digits", v - 1, &st) == FLT_OK) {
			waits += st.swap_waits;
			wmax = st.swap_wait_max_ns > wmax ? st.swap_wait_max_ns : wmax;
			wp99 = st.swap_wait_p99_ns > wp99 ? st.swap_wait_p99_ns : wp99;
		}
		if (flt_serving_activate(s, "digits", v, v % 2 ? v1 : v2, 0, err, sizeof(err)))
			goto out;
	}
	wait_requests(&l, 20);
	rc = 0;
out:
	atomic_store(&l.stop, 1);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	flt_serving_destroy(s);
	if (rc)
		return rc;
	struct flt_usage_hist h0, h1;
	memset(&h0, 0, sizeof(h0));
	memset(&h1, 0, sizeof(h1));
	for (int i = 0; i < 4; i++) {
		hist_merge(&h0, &cl[i].lat[0]);
		hist_merge(&h1, &cl[i].lat[1]);
	}
	char note[400];
	struct bench_fig f;
	if (!budget) {
		snprintf(note, sizeof(note),
		         "4 clients through the socket, %d swaps v1<->v2 with room for both: no "
		         "request waits "
		         "by design (%llu waited); %lu requests, %lu failed; peer: the same "
		         "clients before any swap",
		         swaps, (unsigned long long)waits, atomic_load(&l.ok),
		         atomic_load(&l.failed));
		f = (struct bench_fig){"request latency p99 during hot swaps",
		                       (double)flt_usage_hist_percentile(&h1, 99) / 1e6,
		                       "ms",
		                       "same clients, no swaps",
		                       (double)flt_usage_hist_percentile(&h0, 99) / 1e6,
		                       NULL,
		                       NULL,
		                       0,
		                       note};
		bench_emit("serving", &f);
		return 0;
	}
	snprintf(
	    note, sizeof(note),
	    "%d swaps v1<->v2 under 4 clients, memory budget %llu B so old and new cannot coexist "
	    "(drain, "
	    "load, warm): %llu of %lu requests waited, max %.3f ms, %lu failed; p99 of the waits",
	    swaps, (unsigned long long)budget, (unsigned long long)waits, atomic_load(&l.ok),
	    (double)wmax / 1e6, atomic_load(&l.failed));
	f = (struct bench_fig){"swap wait p99 (drain-then-load swaps)",
	                       (double)wp99 / 1e6,
	                       "ms",
	                       NULL,
	                       0,
	                       "value",
	                       "<=",
	                       1,
	                       note};
	bench_emit("serving", &f);
	return 0;
}

/* A memory budget that holds either digits version alone but not both. */
static uint64_t tight_budget(void)
{
	struct flt_serving *s = NULL;
	struct flt_serving_stats a, b;
	char err[256];
	uint64_t r = 0;
	struct flt_serving_opts o = {.socket_path = sock, .workers = 2};
	if (!flt_serving_create(&o, &s) &&
	    !flt_serving_activate(s, "a", 1, v1, 0, err, sizeof(err)) &&
	    !flt_serving_activate(s, "b", 1, v2, 0, err, sizeof(err)) &&
	    !flt_serving_stats(s, "a", 1, &a) && !flt_serving_stats(s, "b", 1, &b))
		r = (a.memory_bytes > b.memory_bytes ? a.memory_bytes : b.memory_bytes) + 1;
	flt_serving_destroy(s);
	return r;
}

int main(int argc, char **argv)
{
	int rc = 1;
	signal(SIGPIPE, SIG_IGN);
	if (argc == 5 && !strcmp(argv[1], "--serve-child")) {
		const char *src = getenv("FLT_SOURCE_DIR");
		snprintf(sock, sizeof(sock), "%s/agent.sock", argv[4]);
		snprintf(v1, sizeof(v1), "%s/examples/models/digits/v1.onnx", src ? src : ".");
		child((int)strtol(argv[2], NULL, 10), (int)strtol(argv[3], NULL, 10));
	}
	if (setup())
		return 1;
	int n = bench_full() ? 20000 : 2000;
	if (bench_memory() || bench_latency(n))
		goto out;
	int swaps = bench_full() ? 100 : 20;
	uint64_t tight = tight_budget();
	if (!tight || bench_swap(swaps, 0) || bench_swap(swaps, tight))
		goto out;
	rc = 0;
out:
	flt_rt_tensor_release(&input);
	unlink(sock);
	rmdir(dir);
	return rc;
}
