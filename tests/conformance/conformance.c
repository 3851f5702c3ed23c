/* ONNX backend conformance runner: for every test directory of a group
 * (model.onnx + test_data_set_N/{input,output}_K.pb), runs the model when its
 * operators are supported and its graph inputs/outputs are float32/int64, and
 * compares with the ONNX backend tolerances (rtol 1e-3, atol 1e-7).
 * Prints passed / failed / skipped-with-reason; exits 1 on any failure. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "flt/alloc.h"
#include "flt/runtime.h"

#define MAX_IO 32

struct stats {
	int pass, fail, skip;
};

static int verbose;
/* ONNX-ML graphs (--ml): a label output declared as strings or a ZipMap
 * output declared as seq(map) is accepted when the loaded model produces it
 * as int64 / float (the runtime's mapping, agent/runtime/ops/ops_ml.h). */
static int ml_outputs;

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t cap = 1 << 16, n = 0;
	uint8_t *b = flt_malloc(cap);
	while (b) {
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		uint8_t *nb = flt_realloc(b, cap * 2);
		if (!nb) {
			flt_free(b);
			b = NULL;
			break;
		}
		b = nb;
		cap *= 2;
	}
	fclose(f);
	if (!b)
		return -1;
	*buf = b;
	*len = n;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of entries of dir starting with prefix. */
static size_t list_dir(const char *dir, const char *prefix, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nv = flt_reallocarray(v, cap, sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		if (!(v[n] = flt_strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	return n;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		flt_free(v[i]);
	flt_free(v);
}

static int io_ok(int32_t dt)
{
	return dt == FLT_RT_FLOAT || dt == FLT_RT_INT64;
}

/* Returns NULL if every value is within tolerance, else a static reason. */
static const char *compare(const struct flt_rt_tensor *got, const struct flt_rt_tensor *want,
                           double rtol, double atol, char *why, size_t wlen)
{
	if (got->dtype != want->dtype) {
		snprintf(why, wlen, "dtype %s, expected %s", flt_rt_dtype_name(got->dtype),
		         flt_rt_dtype_name(want->dtype));
		return why;
	}
	int same = got->rank == want->rank;
	for (int32_t d = 0; same && d < got->rank; d++)
		same = got->dims[d] == want->dims[d];
	if (!same || got->size != want->size) {
		snprintf(why, wlen, "shape differs (rank %d vs %d)", (int)got->rank,
		         (int)want->rank);
		return why;
	}
	size_t n = want->size / flt_rt_dtype_size(want->dtype);
	for (size_t i = 0; i < n; i++) {
		if (want->dtype == FLT_RT_INT64) {
			int64_t a = ((const int64_t *)got->data)[i],
			        b = ((const int64_t *)want->data)[i];
			if (a != b) {
				snprintf(why, wlen, "element %zu: %lld, expected %lld", i,
				         (long long)a, (long long)b);
				return why;
			}
			continue;
		}
		double a = ((const float *)got->data)[i], b = ((const float *)want->data)[i];
		if (isnan(a) && isnan(b))
			continue;
		if (a == b)
			continue;
		if (!(fabs(a - b) <= atol + rtol * fabs(b))) {
			snprintf(why, wlen, "element %zu: %.9g, expected %.9g", i, a, b);
			return why;
		}
	}
	return NULL;
}

static void run_case(const char *group_dir, const char *name, struct stats *st)
{
	char path[4096], err[1024], why[6000];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct flt_rt_analysis *an = NULL;
	struct flt_rt_model *m = NULL;
	char **sets = NULL;
	size_t n_sets = 0;
	struct flt_rt_tensor in[MAX_IO], want[MAX_IO], got[MAX_IO];
	const char *result = NULL;
	flt_err e;

	memset(in, 0, sizeof(in));
	memset(want, 0, sizeof(want));
	memset(got, 0, sizeof(got));
	snprintf(path, sizeof(path), "%s/%s/model.onnx", group_dir, name);
	if (read_file(path, &buf, &len)) {
		printf("SKIP %s: no model.onnx\n", name);
		st->skip++;
		goto out;
	}
	if ((e = flt_rt_analyze(buf, len, &an))) {
		printf("FAIL %s: analyse: %s\n", name, flt_strerror(e));
		st->fail++;
		goto out;
	}
	for (size_t i = 0; i < an->n_ops; i++)
		if (!an->ops[i].supported) {
			printf("SKIP %s: unsupported operator %s%s%s\n", name, an->ops[i].domain,
			       an->ops[i].domain[0] ? "." : "", an->ops[i].op_type);
			st->skip++;
			goto out;
		}
	for (size_t i = 0; i < an->n_inputs + an->n_outputs; i++) {
		const struct flt_rt_value_info *vi =
		    i < an->n_inputs ? &an->inputs[i] : &an->outputs[i - an->n_inputs];
		if (!io_ok(vi->dtype) && !(ml_outputs && i >= an->n_inputs)) {
			printf("SKIP %s: graph %s '%s' is %s\n", name,
			       i < an->n_inputs ? "input" : "output", vi->name,
			       flt_rt_dtype_name(vi->dtype));
			st->skip++;
			goto out;
		}
	}
	if (an->n_inputs > MAX_IO || an->n_outputs > MAX_IO) {
		printf("SKIP %s: too many inputs/outputs\n", name);
		st->skip++;
		goto out;
	}
	if (!an->runnable && strstr(an->not_runnable_reason, "newer than this runtime")) {
		printf("SKIP %s: %s\n", name, an->not_runnable_reason);
		st->skip++;
		goto out;
	}
	if ((e = flt_rt_model_load(buf, len, NULL, &m, err, sizeof(err)))) {
		printf("FAIL %s: load: %s\n", name, err);
		st->fail++;
		goto out;
	}
	for (size_t k = 0; k < flt_rt_model_n_outputs(m); k++)
		if (!io_ok(flt_rt_model_output(m, k)->dtype)) {
			printf("FAIL %s: output '%s' is %s after load\n", name,
			       flt_rt_model_output(m, k)->name,
			       flt_rt_dtype_name(flt_rt_model_output(m, k)->dtype));
			st->fail++;
			goto out;
		}
	snprintf(path, sizeof(path), "%s/%s", group_dir, name);
	n_sets = list_dir(path, "test_data_set_", &sets);
	for (size_t s = 0; s < n_sets && !result; s++) {
		size_t ni = flt_rt_model_n_inputs(m), no = flt_rt_model_n_outputs(m);
		for (size_t k = 0; k < ni + no && !result; k++) {
			uint8_t *tb = NULL;
			size_t tl = 0;
			snprintf(path, sizeof(path), "%s/%s/%s/%s_%zu.pb", group_dir, name, sets[s],
			         k < ni ? "input" : "output", k < ni ? k : k - ni);
			if (read_file(path, &tb, &tl)) {
				snprintf(why, sizeof(why), "cannot read %s", path);
				result = why;
				break;
			}
			e = flt_rt_tensor_decode(tb, tl, k < ni ? &in[k] : &want[k - ni], NULL, err,
			                         sizeof(err));
			flt_free(tb);
			if (e) {
				snprintf(why, sizeof(why), "%s: %s", path, err);
				result = why;
			}
		}
		for (size_t k = 0; k < no && !result; k++) {
			/* static plans: caller buffers; dynamic ones: the run allocates */
			got[k].size = flt_rt_model_output_bytes(m, k);
			if (!flt_rt_model_is_dynamic(m) &&
			    !(got[k].data = flt_malloc(got[k].size ? got[k].size : 1)))
				result = "out of memory";
		}
		if (!result && (e = flt_rt_run(m, in, ni, got, no, err, sizeof(err)))) {
			snprintf(why, sizeof(why), "run: %s", err);
			result = why;
		}
		for (size_t k = 0; k < no && !result; k++)
			result = compare(&got[k], &want[k], 1e-3, 1e-7, why, sizeof(why));
		for (size_t k = 0; k < MAX_IO; k++) {
			flt_rt_tensor_release(&in[k]);
			flt_rt_tensor_release(&want[k]);
			flt_free(got[k].data);
			memset(&got[k], 0, sizeof(got[k]));
		}
	}
	if (result) {
		printf("FAIL %s: %s\n", name, result);
		st->fail++;
	} else {
		if (verbose)
			printf("PASS %s\n", name);
		st->pass++;
	}
out:
	free_list(sets, n_sets);
	flt_rt_model_free(m);
	flt_rt_analysis_free(an);
	flt_free(buf);
}

/* --compare GOT WANT: every WANT/output_K.pb against GOT/output_K.pb (what
 * `flotilla-agent infer --output-dir` wrote), with the given tolerances. */
static int compare_dirs(const char *got_dir, const char *want_dir, double rtol, double atol)
{
	char **names = NULL, path[4096], err[512], why[1024];
	size_t n = list_dir(want_dir, "output_", &names);
	int bad = 0;
	if (!n) {
		printf("FAIL: no output_*.pb in %s\n", want_dir);
		return 1;
	}
	for (size_t k = 0; k < n; k++) {
		struct flt_rt_tensor got = {0}, want = {0};
		uint8_t *gb = NULL, *wb = NULL;
		size_t gl = 0, wl = 0;
		const char *res = NULL;
		snprintf(path, sizeof(path), "%s/%s", want_dir, names[k]);
		if (read_file(path, &wb, &wl) ||
		    flt_rt_tensor_decode(wb, wl, &want, NULL, err, sizeof(err)))
			res = "expected tensor unreadable";
		snprintf(path, sizeof(path), "%s/%s", got_dir, names[k]);
		if (!res && (read_file(path, &gb, &gl) ||
		             flt_rt_tensor_decode(gb, gl, &got, NULL, err, sizeof(err))))
			res = "output missing or unreadable";
		if (!res)
			res = compare(&got, &want, rtol, atol, why, sizeof(why));
		printf("%s %s%s%s\n", res ? "FAIL" : "PASS", names[k], res ? ": " : "",
		       res ? res : "");
		bad |= res != NULL;
		flt_rt_tensor_release(&got);
		flt_rt_tensor_release(&want);
		flt_free(gb);
		flt_free(wb);
	}
	free_list(names, n);
	return bad;
}

static int parse_tol(const char *s, double *out)
{
	char *end;
	*out = strtod(s, &end);
	return *end || !(*out >= 0);
}

int main(int argc, char **argv)
{
	long min_pass = 0;
	const char *filter = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--min-pass") && i + 1 < argc) {
			char *end;
			min_pass = strtol(argv[++i], &end, 10);
			if (*end || min_pass < 0) {
				fprintf(stderr, "conformance: bad --min-pass\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--compare") && i + 2 < argc) {
			double rtol = 1e-3, atol = 1e-7;
			const char *got = argv[++i], *want = argv[++i];
			for (i++; i + 1 < argc; i += 2) {
				if ((strcmp(argv[i], "--rtol") && strcmp(argv[i], "--atol")) ||
				    parse_tol(argv[i + 1], argv[i][2] == 'r' ? &rtol : &atol)) {
					fprintf(stderr, "conformance: bad --compare option '%s'\n",
					        argv[i]);
					return 2;
				}
			}
			return compare_dirs(got, want, rtol, atol);
		} else if (!strcmp(argv[i], "--ml")) {
			ml_outputs = 1;
		} else if (!strcmp(argv[i], "-v")) {
			verbose = 1;
		} else if (!strcmp(argv[i], "--filter") && i + 1 < argc) {
			filter = argv[++i];
		} else {
			fprintf(stderr, "usage: conformance [-v] [--ml] [--min-pass N] [--filter "
			                "SUBSTR] GROUP_DIR\n"
			                "       conformance --compare GOT_DIR WANT_DIR [--rtol R] "
			                "[--atol A]\n");
			return 2;
		}
	}
	if (i != argc - 1) {
		fprintf(
		    stderr,
		    "usage: conformance [-v] [--ml] [--min-pass N] [--filter SUBSTR] GROUP_DIR\n"
		    "       conformance --compare GOT_DIR WANT_DIR [--rtol R] [--atol A]\n");
		return 2;
	}
	const char *dir = argv[i];
	char **tests = NULL;
	size_t n = list_dir(dir, "test_", &tests);
	struct stats st = {0};
	for (size_t k = 0; k < n; k++)
		if (!filter || strstr(tests[k], filter))
			run_case(dir, tests[k], &st);
	free_list(tests, n);
	const char *g = strrchr(dir, '/');
	printf("%s: %d passed, %d failed, %d skipped\n", g ? g + 1 : dir, st.pass, st.fail,
	       st.skip);
	if (st.pass < min_pass) {
		printf("only %d passed, at least %ld expected\n", st.pass, min_pass);
		return 1;
	}
	return st.fail ? 1 : 0;
}
