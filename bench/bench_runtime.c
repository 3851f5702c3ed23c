/* Runtime kernels: Conv (3x3, im2col + blocked GEMM) and Gemm throughput
 * through flt_rt_run, against a naive loop as the peer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/rt_builder.h"
#include "benchlib.h"
#include "flt/runtime.h"

static void fill(float *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (float)(seed >> 9) / (float)(1u << 23) - 0.5f;
	}
}

/* Times `reps` runs of a one-input model; returns seconds per run. */
static double time_model(uint8_t *buf, size_t len, struct flt_rt_tensor *in, size_t out_bytes,
                         int reps)
{
	struct flt_rt_model *m = NULL;
	char err[256];
	if (flt_rt_model_load(buf, len, NULL, &m, err, sizeof(err))) {
		fprintf(stderr, "bench_runtime: load: %s\n", err);
		exit(1);
	}
	float *y = malloc(out_bytes);
	struct flt_rt_tensor out = {.data = y, .size = out_bytes};
	double best = 1e9;
	for (int r = 0; r < reps; r++) {
		double t0 = bench_now();
		if (flt_rt_run(m, in, 1, &out, 1, err, sizeof(err))) {
			fprintf(stderr, "bench_runtime: run: %s\n", err);
			exit(1);
		}
		double dt = bench_now() - t0;
		best = dt < best ? dt : best;
	}
	free(y);
	flt_rt_model_free(m);
	return best;
}

static double naive_gemm(const float *a, const float *b, float *c, int n)
{
	double t0 = bench_now();
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			float s = 0;
			for (int k = 0; k < n; k++)
				s += a[i * n + k] * b[k * n + j];
			c[i * n + j] = s;
		}
	return bench_now() - t0;
}

int main(void)
{
	int full = bench_full();
	int reps = full ? 10 : 3;
	/* Gemm N x N x N */
	int n = full ? 512 : 256;
	float *a = malloc(sizeof(float) * (size_t)n * (size_t)n),
	      *b = malloc(sizeof(float) * (size_t)n * (size_t)n);
	float *c = malloc(sizeof(float) * (size_t)n * (size_t)n);
	fill(a, (size_t)n * (size_t)n, 1);
	fill(b, (size_t)n * (size_t)n, 2);
	struct tb t;
	size_t len;
	int64_t d[2] = {n, n};
	tb_init(&t, 13);
	tb_input(&t, "a", FLT_RT_FLOAT, 2, d);
	tb_init_tensor(&t, "b", FLT_RT_FLOAT, 2, d, b, sizeof(float) * (size_t)n * (size_t)n);
	tb_node(&t, "MatMul", "a,b", "y");
	tb_output(&t, "y", FLT_RT_FLOAT);
	uint8_t *buf = tb_finish(&t, &len);
	struct flt_rt_tensor in = {.dtype = FLT_RT_FLOAT,
	                           .rank = 2,
	                           .dims = {n, n},
	                           .data = a,
	                           .size = sizeof(float) * (size_t)n * (size_t)n};
	double ts = time_model(buf, len, &in, in.size, reps);
	double tn = naive_gemm(a, b, c, n);
	double flops = 2.0 * n * n * n;
	char notes[128];
	snprintf(notes, sizeof(notes), "MatMul %dx%dx%d, best of %d", n, n, n, reps);
	struct bench_fig f = {"runtime_matmul_gflops",
	                      flops / ts / 1e9,
	                      "GFLOP/s",
	                      "naive ijk loop",
	                      flops / tn / 1e9,
	                      "ratio",
	                      ">=",
	                      5.0,
	                      notes};
	bench_emit("bench_runtime", &f);
	free(buf);

	/* Conv 3x3, C -> C channels, HxW, pad 1 */
	int ch = full ? 64 : 32, hw = full ? 56 : 28;
	size_t xn = (size_t)ch * (size_t)hw * (size_t)hw, wn = (size_t)ch * (size_t)ch * 9;
	float *x = malloc(xn * 4), *w = malloc(wn * 4);
	fill(x, xn, 3);
	fill(w, wn, 4);
	int64_t xd[4] = {1, ch, hw, hw}, wd[4] = {ch, ch, 3, 3}, pads[4] = {1, 1, 1, 1};
	tb_init(&t, 13);
	tb_input(&t, "x", FLT_RT_FLOAT, 4, xd);
	tb_init_tensor(&t, "w", FLT_RT_FLOAT, 4, wd, w, wn * 4);
	tb_node(&t, "Conv", "x,w", "y");
	tb_attr_ints(&t, "pads", 4, pads);
	tb_output(&t, "y", FLT_RT_FLOAT);
	buf = tb_finish(&t, &len);
	struct flt_rt_tensor xin = {
	    .dtype = FLT_RT_FLOAT, .rank = 4, .dims = {1, ch, hw, hw}, .data = x, .size = xn * 4};
	ts = time_model(buf, len, &xin, xn * 4, reps);
	flops = 2.0 * (double)ch * ch * 9 * hw * hw;
	snprintf(notes, sizeof(notes), "Conv 3x3 %d->%d on %dx%d, best of %d", ch, ch, hw, hw,
	         reps);
	struct bench_fig g = {"runtime_conv3x3_gflops",
	                      flops / ts / 1e9,
	                      "GFLOP/s",
	                      NULL,
	                      0,
	                      "value",
	                      ">=",
	                      5.0,
	                      notes};
	bench_emit("bench_runtime", &g);
	free(buf);
	free(a);
	free(b);
	free(c);
	free(x);
	free(w);
	return 0;
}
