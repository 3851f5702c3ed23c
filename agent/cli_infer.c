/* `flotilla-agent infer -m MODEL`: runs a model file once on the built-in
 * runtime; `infer -n NAME[:VER]` asks the running agent through libflotilla,
 * as a device app would. Inputs are TensorProto files (as the ONNX conformance data stores
 * them) or raw little-endian float32 files given a --shape; outputs are
 * written as output_N.pb TensorProtos. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_cmds.h"
#include "flotilla.h"
#include "flt/alloc.h"
#include "flt/ident.h"
#include "flt/runtime.h"

#define MAX_INPUTS 64
#define MAX_FILE   (1u << 30)

enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2, EX_NOTFOUND = 3, EX_INVALID = 5 };

struct infer_args {
	const char *model;
	const char *inputs[MAX_INPUTS];
	const char *shapes[MAX_INPUTS]; /* NULL: a TensorProto file */
	size_t n_inputs;
	const char *out_dir;
	const char *name;   /* -n NAME[:VER] */
	const char *socket; /* --socket PATH */
};

static void infer_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: flotilla-agent infer (-m MODEL.onnx | -n NAME[:VER] [--socket PATH])\n"
	    "                            -i INPUT [--shape DxDx..] [-i INPUT ...] [--output-dir "
	    "DIR]\n\n"
	    "-m runs MODEL once on the built-in runtime; -n asks the running agent to run its\n"
	    "active (or the given) version of model NAME over the local socket "
	    "(default\n" FLOTILLA_DEFAULT_SOCKET ") and prints the version that answered.\n"
	    "Each -i is a TensorProto file (input_N.pb; its name picks the model input) or, when\n"
	    "followed by --shape, raw little-endian float32 data of that shape (taken in order).\n"
	    "Writes output_N.pb for every graph output into DIR (default: current directory).\n");
}

static int read_file(const char *path, uint8_t **buf, size_t *len, const char *what)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int en = errno;
		fprintf(stderr, "flotilla-agent infer: cannot open %s '%s': %s\n", what, path,
		        strerror(en));
		return en == ENOENT ? EX_NOTFOUND : EX_FAIL;
	}
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_FILE) {
		fclose(f);
		fprintf(stderr, "flotilla-agent infer: %s '%s' is not a regular file under 1 GiB\n",
		        what, path);
		return EX_INVALID;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *b = flt_malloc(n ? n : 1);
	if (!b || fread(b, 1, n, f) != n) {
		fclose(f);
		flt_free(b);
		fprintf(stderr, "flotilla-agent infer: cannot read %s '%s'\n", what, path);
		return EX_FAIL;
	}
	fclose(f);
	*buf = b;
	*len = n;
	return EX_OK;
}

/* "1x3x224x224" -> dims; returns -1 if malformed. */
static int parse_shape(const char *s, struct flt_rt_tensor *t)
{
	t->rank = 0;
	if (!*s)
		return 0; /* scalar */
	for (;;) {
		char *end;
		errno = 0;
		long long v = strtoll(s, &end, 10);
		if (end == s || errno || v < 0 || t->rank >= FLT_RT_MAX_RANK)
			return -1;
		t->dims[t->rank++] = v;
		if (*end == 0)
			return 0;
		if (*end != 'x' && *end != 'X' && *end != ',')
			return -1;
		s = end + 1;
	}
}

static int load_input(const char *path, const char *shape, struct flt_rt_tensor *t, char **name)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char err[256];
	int rc = read_file(path, &buf, &len, "input");
	if (rc)
		return rc;
	if (!shape) {
		flt_err e = flt_rt_tensor_decode(buf, len, t, name, err, sizeof(err));
		flt_free(buf);
		if (e) {
			fprintf(stderr,
			        "flotilla-agent infer: input '%s' is not a TensorProto: %s\n", path,
			        err[0] ? err : flt_strerror(e));
			return EX_INVALID;
		}
		return EX_OK;
	}
	memset(t, 0, sizeof(*t));
	if (parse_shape(shape, t)) {
		flt_free(buf);
		fprintf(stderr, "flotilla-agent infer: bad --shape '%s'; write dims like 1x3x8x8\n",
		        shape);
		return EX_USAGE;
	}
	uint64_t n = 4;
	for (int32_t d = 0; d < t->rank; d++) {
		if (t->dims[d] && n > UINT64_MAX / (uint64_t)t->dims[d]) {
			n = UINT64_MAX;
			break;
		}
		n *= (uint64_t)t->dims[d];
	}
	if (n != len) {
		flt_free(buf);
		fprintf(stderr,
		        "flotilla-agent infer: raw input '%s' has %zu bytes, shape %s needs %llu\n",
		        path, len, shape, (unsigned long long)n);
		return EX_INVALID;
	}
	t->dtype = FLT_RT_FLOAT;
	t->data = buf;
	t->size = len;
	return EX_OK;
}

static int write_output(const char *dir, size_t i, const char *name, const struct flt_rt_tensor *t)
{
	char path[4096], tmp[4200];
	uint8_t *pb = NULL;
	size_t len = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/output_%zu.pb", dir, i) >= sizeof(path)) {
		fprintf(stderr, "flotilla-agent infer: output directory path too long\n");
		return EX_USAGE;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (flt_rt_tensor_encode(name, t, &pb, &len)) {
		fprintf(stderr, "flotilla-agent infer: cannot encode output %zu\n", i);
		return EX_FAIL;
	}
	FILE *f = fopen(tmp, "wb");
	int ok = f && fwrite(pb, 1, len, f) == len;
	if (f && fclose(f))
		ok = 0;
	flt_free(pb);
	if (!ok || rename(tmp, path)) {
		int en = errno;
		unlink(tmp);
		fprintf(stderr, "flotilla-agent infer: cannot write '%s': %s\n", path,
		        strerror(en));
		return EX_FAIL;
	}
	printf("%s: %s %s [", path, name, flt_rt_dtype_name(t->dtype));
	for (int32_t d = 0; d < t->rank; d++)
		printf("%s%lld", d ? "," : "", (long long)t->dims[d]);
	printf("]\n");
	return EX_OK;
}

static int parse_args(int argc, char **argv, struct infer_args *a)
{
	memset(a, 0, sizeof(*a));
	a->out_dir = ".";
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		int has_val = i + 1 < argc;
		if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
			infer_usage(stdout);
			return -1;
		} else if (!strcmp(o, "-m") && has_val) {
			a->model = argv[++i];
		} else if (!strcmp(o, "-i") && has_val) {
			if (a->n_inputs == MAX_INPUTS) {
				fprintf(stderr, "flotilla-agent infer: at most %d inputs\n",
				        MAX_INPUTS);
				return EX_USAGE;
			}
			a->inputs[a->n_inputs++] = argv[++i];
		} else if (!strcmp(o, "--shape") && has_val) {
			if (!a->n_inputs || a->shapes[a->n_inputs - 1]) {
				fprintf(stderr, "flotilla-agent infer: --shape must follow the -i "
				                "it describes\n");
				return EX_USAGE;
			}
			a->shapes[a->n_inputs - 1] = argv[++i];
		} else if (!strcmp(o, "--output-dir") && has_val) {
			a->out_dir = argv[++i];
		} else if (!strcmp(o, "-n") && has_val) {
			a->name = argv[++i];
		} else if (!strcmp(o, "--socket") && has_val) {
			a->socket = argv[++i];
		} else {
			fprintf(stderr,
			        "flotilla-agent infer: unexpected argument '%s'; see --help\n", o);
			return EX_USAGE;
		}
	}
	if (!a->model == !a->name) {
		fprintf(stderr, "flotilla-agent infer: give exactly one of -m MODEL or -n "
		                "NAME[:VER]; see --help\n");
		return EX_USAGE;
	}
	if (a->socket && !a->name) {
		fprintf(stderr, "flotilla-agent infer: --socket goes with -n; see --help\n");
		return EX_USAGE;
	}
	return EX_OK;
}

static int exit_for(int st)
{
	switch (st) {
	case FLOTILLA_NOT_FOUND: return EX_NOTFOUND;
	case FLOTILLA_BAD_INPUT:
	case FLOTILLA_BAD_REQUEST:
	case FLOTILLA_TOO_LARGE:
	case FLOTILLA_EINVAL: return EX_INVALID;
	default: return EX_FAIL;
	}
}

/* -n NAME[:VER]: through the agent's socket with libflotilla. */
static int infer_agent(const struct infer_args *a, struct flt_rt_tensor *in, char **names)
{
	char model[FLT_IDENT_MAX + 1], tname[MAX_INPUTS][32];
	struct flotilla_tensor ft[MAX_INPUTS];
	struct flotilla_result *res = NULL;
	flotilla_client *c = NULL;
	uint64_t ver = 0;
	int rc = EX_OK, st;
	const char *colon = strchr(a->name, ':');
	size_t nl = colon ? (size_t)(colon - a->name) : strlen(a->name);
	if (!nl || nl > FLT_IDENT_MAX) {
		fprintf(stderr, "flotilla-agent infer: bad model name '%s'\n", a->name);
		return EX_USAGE;
	}
	memcpy(model, a->name, nl);
	model[nl] = 0;
	if (colon) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || !v) {
			fprintf(stderr,
			        "flotilla-agent infer: bad version in '%s'; write NAME:VER with "
			        "VER >= 1\n",
			        a->name);
			return EX_USAGE;
		}
		ver = v;
	}
	memset(ft, 0, sizeof(ft));
	for (size_t i = 0; i < a->n_inputs; i++) {
		snprintf(tname[i], sizeof(tname[i]), "input_%zu", i);
		ft[i].name = names[i] && names[i][0] ? names[i] : tname[i];
		ft[i].dtype = in[i].dtype;
		ft[i].rank = in[i].rank;
		memcpy(ft[i].dims, in[i].dims, sizeof(ft[i].dims));
		ft[i].data = in[i].data;
		ft[i].size = in[i].size;
	}
	if ((st = flotilla_connect(a->socket, 30000, &c))) {
		fprintf(stderr,
		        "flotilla-agent infer: cannot connect to the agent at %s (%s); is it "
		        "running, and are you in its socket group?\n",
		        a->socket ? a->socket : FLOTILLA_DEFAULT_SOCKET, flotilla_strstatus(st));
		return EX_FAIL;
	}
	if ((st = flotilla_infer(c, model, ver, ft, a->n_inputs, &res))) {
		fprintf(stderr, "flotilla-agent infer: %s\n", flotilla_last_error(c));
		rc = exit_for(st);
		goto out;
	}
	printf("%s: answered by version %llu\n", model, (unsigned long long)res->version);
	for (size_t i = 0; i < res->n_outputs && !rc; i++) {
		struct flt_rt_tensor t;
		memset(&t, 0, sizeof(t));
		t.dtype = res->outputs[i].dtype;
		t.rank = res->outputs[i].rank;
		memcpy(t.dims, res->outputs[i].dims, sizeof(t.dims));
		t.data = (void *)(uintptr_t)res->outputs[i].data;
		t.size = res->outputs[i].size;
		rc = write_output(a->out_dir, i, res->outputs[i].name, &t);
	}
out:
	flotilla_result_free(res);
	flotilla_close(c);
	return rc;
}

int cli_infer(int argc, char **argv)
{
	struct infer_args a;
	struct flt_rt_tensor in[MAX_INPUTS], out[MAX_INPUTS];
	struct flt_rt_model *m = NULL;
	char *names[MAX_INPUTS];
	char err[1024];
	flt_err e;
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? EX_OK : rc;

	memset(in, 0, sizeof(in));
	memset(out, 0, sizeof(out));
	memset(names, 0, sizeof(names));
	for (size_t i = 0; i < a.n_inputs; i++)
		if ((rc = load_input(a.inputs[i], a.shapes[i], &in[i], &names[i])))
			goto out;
	if (a.name) {
		rc = infer_agent(&a, in, names);
		goto out;
	}

	/* A batch larger than 1 re-plans the batch dimension for that size. */
	struct flt_rt_opts opts = {.max_batch = 1, .max_concurrency = 1};
	if (a.n_inputs && in[0].rank > 0 && in[0].dims[0] > 1 && in[0].dims[0] <= 4096)
		opts.max_batch = (uint32_t)in[0].dims[0];
	e = flt_rt_model_load_file(a.model, &opts, &m, err, sizeof(err));
	if (e == FLT_EINCOMPAT && opts.max_batch > 1) {
		opts.max_batch = 1;
		e = flt_rt_model_load_file(a.model, &opts, &m, err, sizeof(err));
	}
	if (e) {
		fprintf(stderr, "flotilla-agent infer: cannot load '%s': %s\n", a.model,
		        err[0] ? err : flt_strerror(e));
		rc = e == FLT_ENOTFOUND                  ? EX_NOTFOUND
		     : (e == FLT_EIO || e == FLT_ENOMEM) ? EX_FAIL
		                                         : EX_INVALID;
		goto out;
	}
	size_t ni = flt_rt_model_n_inputs(m), no = flt_rt_model_n_outputs(m);
	if (ni != a.n_inputs) {
		fprintf(stderr, "flotilla-agent infer: the model takes %zu inputs, %zu given\n", ni,
		        a.n_inputs);
		rc = EX_USAGE;
		goto out;
	}
	if (no > MAX_INPUTS) {
		fprintf(stderr, "flotilla-agent infer: the model has too many outputs (%zu)\n", no);
		rc = EX_INVALID;
		goto out;
	}
	/* output buffers left NULL: the run allocates exactly what each needs */
	if ((e = flt_rt_run(m, in, ni, out, no, err, sizeof(err)))) {
		fprintf(stderr, "flotilla-agent infer: %s\n", err[0] ? err : flt_strerror(e));
		rc = e == FLT_EINVAL ? EX_INVALID : EX_FAIL;
		goto out;
	}
	for (size_t i = 0; i < no && !rc; i++)
		rc = write_output(a.out_dir, i, flt_rt_model_output(m, i)->name, &out[i]);
out:
	for (size_t i = 0; i < MAX_INPUTS; i++) {
		flt_free(in[i].data);
		flt_free(out[i].data);
		flt_free(names[i]);
	}
	flt_rt_model_free(m);
	return rc;
}
