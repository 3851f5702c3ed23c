/* Helpers shared by the serving tests: paths of the digits models, their
 * golden input, a private socket directory, and the expected logits of each
 * model version computed directly on the runtime. */
#ifndef SERVING_UTIL_H
#define SERVING_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flt/alloc.h"
#include "flt/runtime.h"

struct su_env {
	char dir[64];
	char sock[128];
	char v1[1024], v2[1024];
	struct flt_rt_tensor input; /* golden 1x1x8x8 float "image" */
	float logits[2][16];        /* expected outputs of v1 and v2 on it */
	size_t n_logits;
};

static inline int su_emulated(void)
{
	const char *e = getenv("FLT_EMULATED");
	return e && e[0] == '1';
}

static inline uint8_t *su_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = NULL;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0) {
		long n = ftell(f);
		if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (b = flt_malloc((size_t)n)) &&
		    fread(b, 1, (size_t)n, f) != (size_t)n) {
			flt_free(b);
			b = NULL;
		}
		*len = n > 0 ? (size_t)n : 0;
	}
	fclose(f);
	return b;
}

static inline void su_expect(const char *model, struct su_env *e, int which)
{
	struct flt_rt_model *m = NULL;
	char err[256];
	struct flt_rt_tensor out;
	memset(&out, 0, sizeof(out));
	if (flt_rt_model_load_file(model, NULL, &m, err, sizeof(err)) ||
	    flt_rt_run(m, &e->input, 1, &out, 1, err, sizeof(err))) {
		fprintf(stderr, "cannot run %s: %s\n", model, err);
		abort();
	}
	e->n_logits = out.size / sizeof(float);
	if (e->n_logits > 16)
		abort();
	memcpy(e->logits[which], out.data, out.size);
	flt_free(out.data);
	flt_rt_model_free(m);
}

/* Sets everything up; returns 0 or -1 (printed). */
static inline int su_setup(struct su_env *e)
{
	const char *src = getenv("FLT_SOURCE_DIR");
	char p[1024];
	size_t len = 0;
	char err[256];
	memset(e, 0, sizeof(*e));
	if (!src)
		src = ".";
	snprintf(e->dir, sizeof(e->dir), "/tmp/flt-serving-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->sock, sizeof(e->sock), "%s/agent.sock", e->dir);
	snprintf(e->v1, sizeof(e->v1), "%s/examples/models/digits/v1.onnx", src);
	snprintf(e->v2, sizeof(e->v2), "%s/examples/models/digits/v2.onnx", src);
	snprintf(p, sizeof(p), "%s/examples/models/digits/golden/input_0.pb", src);
	uint8_t *b = su_read(p, &len);
	if (!b || flt_rt_tensor_decode(b, len, &e->input, NULL, err, sizeof(err))) {
		fprintf(stderr, "cannot read %s\n", p);
		flt_free(b);
		return -1;
	}
	flt_free(b);
	/* the golden file holds a batch; the tests send its first image */
	if (e->input.rank != 4 || e->input.dims[0] < 1 || e->input.dtype != FLT_RT_FLOAT)
		return -1;
	e->input.size /= (size_t)e->input.dims[0];
	e->input.dims[0] = 1;
	su_expect(e->v1, e, 0);
	su_expect(e->v2, e, 1);
	if (!memcmp(e->logits[0], e->logits[1], e->n_logits * sizeof(float))) {
		fprintf(stderr,
		        "v1 and v2 give the same logits; the test could not tell them apart\n");
		return -1;
	}
	return 0;
}

static inline void su_teardown(struct su_env *e)
{
	flt_rt_tensor_release(&e->input);
	unlink(e->sock);
	rmdir(e->dir);
}

/* Which model file produced these logits: 0 (v1), 1 (v2) or -1. */
static inline int su_which(const struct su_env *e, const void *data, size_t size)
{
	if (size != e->n_logits * sizeof(float))
		return -1;
	for (int w = 0; w < 2; w++)
		if (!memcmp(data, e->logits[w], size))
			return w;
	return -1;
}

static inline void su_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

#endif
