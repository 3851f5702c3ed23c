/* `flotilla model register onnx|generic`: validate and analyse the file, store
 * its bytes (and golden vectors) as blobs, then record the version and all
 * its metadata in one write transaction with the next dense version number. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blob_store.h"
#define FLT_LOG_MODULE "registry"
#include "cli_args.h"
#include "flt/audit.h"
#include "flt/log.h"
#include "cmds.h"
#include "flt/alloc.h"
#include "model_resolve.h"
#include "sig_json.h"
#include "flt/atomicfile.h"
#include "flt/golden.h"

#define MODEL_MAX_BYTES                                                                            \
	((uint64_t)SIZE_MAX > (16ULL << 30) ? (size_t)(16ULL << 30) : (size_t)(SIZE_MAX / 2))
#define GOLDEN_MAX_BYTES ((size_t)256 << 20)
#define MAX_KV           64

static const struct cli_opt opts[] = {
    {"name", 'n', 1, "NAME", "model name: [a-z0-9][a-z0-9._-]{0,63}"},
    {"file", 'f', 1, "FILE", "the model file"},
    {"framework", 0, 1, "FW", "framework of a generic model (tflite, pytorch, ...)"},
    {"tag", 0, 1, "K=V", "tag (repeatable)"},
    {"metric", 0, 1, "K=V", "numeric metric (repeatable)"},
    {"lineage", 0, 1, "K=V",
     "what made it: code=git:SHA, data=sha256:..., compute=... (repeatable)"},
    {"parent", 0, 1, "REF", "a model version it was made from (repeatable)"},
    {"golden", 0, 1, "DIR",
     "golden vectors: an ONNX test_data_set (input_N.pb, output_N.pb) or folders of them"},
    {"rtol", 0, 1, "R", "relative tolerance for golden outputs (default 1e-3)"},
    {"atol", 0, 1, "A", "absolute tolerance for golden outputs (default 1e-5)"},
    {0},
};

static const struct cli_spec spec = {
    "model register",
    "onnx|generic -n NAME -f FILE [--framework FW] [--tag k=v] [--metric k=v] [--lineage k=v] "
    "[--parent NAME:VER] [--golden DIR --rtol R --atol A]",
    "Registers a model file as the next version of NAME. ONNX files are analysed (operators, "
    "opsets, parameters, signature, peak memory); generic files are stored with their framework.",
    opts,
    1,
    1,
};

struct reg_input {
	const char *format, *framework;
	struct cli_kv tags[MAX_KV], metrics[MAX_KV], lineage[MAX_KV];
	double metric_vals[MAX_KV];
	int n_tags, n_metrics, n_lineage;
	struct reg_version parents[MAX_KV];
	int n_parents;
	uint8_t *model;
	size_t model_len;
	uint8_t *golden; /* flt/golden.h bundle */
	size_t golden_len;
	int golden_count;
	double rtol, atol;
	struct flt_rt_analysis *an;
	char *sig_json;
};

static int framework_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static int parse_kvs(struct cli *c, const char *opt, struct cli_kv *out, int *n)
{
	int cnt = cli_count(c, opt);
	if (cnt > MAX_KV)
		return cli_fail(c, FLT_EINVAL, "at most %d --%s options", MAX_KV, opt);
	for (int i = 0; i < cnt; i++) {
		if (cli_parse_kv(cli_nth(c, opt, i), &out[i]) != FLT_OK)
			return cli_fail(c, FLT_EINVAL,
			                "--%s '%s' is not KEY=VALUE (key [A-Za-z0-9_.:/-]{1,64}, "
			                "value 1..1024 bytes)",
			                opt, cli_nth(c, opt, i));
		/* One value per key at registration: a repeated key would silently
		 * keep only one of them. */
		for (int k = 0; k < i; k++)
			if (strcmp(out[k].key, out[i].key) == 0)
				return cli_fail(c, FLT_EINVAL,
				                "--%s %s is given twice; give each key once "
				                "(log later values with 'model metric log')",
				                opt, out[i].key);
	}
	*n = cnt;
	return CLI_CONTINUE;
}

/* Golden vectors: DIR is one ONNX test_data_set (input_N.pb, output_N.pb) or
 * a directory of them (one case each, in name order). Every file must decode
 * as a TensorProto and each case must match the model's input and output
 * counts; the cases go into the project's bundle format (flt/golden.h). */
struct golden_files {
	uint8_t *bufs[FLT_GOLDEN_MAX_CASES * FLT_GOLDEN_MAX_TENSORS * 2];
	size_t n;
};

static int has_input0(const char *d)
{
	char p[4400];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/input_0.pb", d);
	return stat(p, &sb) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_tensors(struct cli *c, const char *casedir, const char *prefix,
                        struct golden_files *gf, struct flt_golden_blob *out, size_t *n)
{
	size_t k = 0;
	for (;; k++) {
		char p[4400], why[160] = "";
		struct stat sb;
		snprintf(p, sizeof(p), "%s/%s_%zu.pb", casedir, prefix, k);
		if (stat(p, &sb) != 0)
			break;
		if (k >= FLT_GOLDEN_MAX_TENSORS || gf->n >= sizeof(gf->bufs) / sizeof(gf->bufs[0]))
			return cli_fail(c, FLT_EINVAL, "'%s' has more than %d %s tensors", casedir,
			                FLT_GOLDEN_MAX_TENSORS, prefix);
		uint8_t *buf = NULL;
		size_t len = 0;
		flt_err e = flt_file_read_all(p, GOLDEN_MAX_BYTES, &buf, &len, NULL);
		if (e)
			return cli_fail(c, FLT_EINVAL, "cannot read golden file '%s': %s", p,
			                flt_strerror(e));
		gf->bufs[gf->n++] = buf;
		struct flt_rt_tensor t;
		memset(&t, 0, sizeof(t));
		if ((e = flt_rt_tensor_decode(buf, len, &t, NULL, why, sizeof(why))) != FLT_OK)
			return cli_fail(c, FLT_EINVAL, "golden file '%s' is not a TensorProto: %s",
			                p, why[0] ? why : flt_strerror(e));
		flt_rt_tensor_release(&t);
		out[k].data = buf;
		out[k].len = len;
	}
	*n = k;
	if (k == 0)
		return cli_fail(c, FLT_EINVAL,
		                "'%s' has no %s_0.pb (expected an ONNX test_data_set layout)",
		                casedir, prefix);
	return CLI_CONTINUE;
}

static int load_golden(struct cli *c, const char *dir, struct reg_input *in)
{
	struct golden_files gf;
	struct flt_golden g;
	struct flt_golden_case cases[FLT_GOLDEN_MAX_CASES];
	struct flt_golden_blob blobs[FLT_GOLDEN_MAX_CASES][2][FLT_GOLDEN_MAX_TENSORS];
	char *names[FLT_GOLDEN_MAX_CASES + 1];
	size_t ncase = 0, nnames = 0;
	int rc = CLI_CONTINUE;
	DIR *d = NULL;
	struct stat sb;
	memset(&gf, 0, sizeof(gf));
	memset(&g, 0, sizeof(g));
	memset(cases, 0, sizeof(cases));
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return cli_fail(c, FLT_EINVAL,
		                "golden directory '%s' does not exist or is not a directory", dir);
	if (has_input0(dir)) {
		names[nnames++] = flt_strdup(dir);
	} else if ((d = opendir(dir)) != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			char p[4200];
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			if (!has_input0(p))
				continue;
			if (nnames >= FLT_GOLDEN_MAX_CASES) {
				rc = cli_fail(c, FLT_EINVAL, "'%s' holds more than %d test cases",
				              dir, FLT_GOLDEN_MAX_CASES);
				goto out;
			}
			names[nnames++] = flt_strdup(p);
		}
	}
	for (size_t i = 0; i < nnames; i++)
		if (!names[i]) {
			rc = cli_fail(c, FLT_ENOMEM, "out of memory");
			goto out;
		}
	if (nnames == 0) {
		rc = cli_fail(c, FLT_EINVAL,
		              "golden directory '%s' needs input_N.pb and output_N.pb TensorProto "
		              "files (an ONNX "
		              "test_data_set) or folders of them",
		              dir);
		goto out;
	}
	qsort(names, nnames, sizeof(names[0]), cmp_str);
	for (ncase = 0; ncase < nnames; ncase++) {
		struct flt_golden_case *gc = &cases[ncase];
		gc->inputs = blobs[ncase][0];
		gc->outputs = blobs[ncase][1];
		if ((rc = load_tensors(c, names[ncase], "input", &gf, gc->inputs, &gc->n_inputs)) !=
		        CLI_CONTINUE ||
		    (rc = load_tensors(c, names[ncase], "output", &gf, gc->outputs,
		                       &gc->n_outputs)) != CLI_CONTINUE)
			goto out;
		if (in->an &&
		    (gc->n_inputs != in->an->n_inputs || gc->n_outputs != in->an->n_outputs)) {
			rc = cli_fail(c, FLT_EINVAL,
			              "golden case '%s' has %zu inputs and %zu outputs; the model "
			              "has %zu and %zu",
			              names[ncase], gc->n_inputs, gc->n_outputs, in->an->n_inputs,
			              in->an->n_outputs);
			goto out;
		}
	}
	g.rtol = in->rtol;
	g.atol = in->atol;
	g.cases = cases;
	g.n_cases = ncase;
	struct flt_json_err jerr;
	memset(&jerr, 0, sizeof(jerr));
	flt_err e = flt_golden_validate(&g, &jerr);
	if (!e)
		e = flt_golden_encode(&g, &in->golden, &in->golden_len);
	if (e) {
		rc = cli_fail(c, FLT_EINVAL, "cannot bundle the golden vectors in '%s': %s", dir,
		              flt_strerror(e));
		goto out;
	}
	in->golden_count = (int)ncase;
out:
	if (d)
		closedir(d);
	for (size_t i = 0; i < nnames; i++)
		flt_free(names[i]);
	for (size_t i = 0; i < gf.n; i++)
		flt_free(gf.bufs[i]);
	return rc;
}

static int parse_inputs(struct cli *c, struct reg_input *in)
{
	int rc;
	in->format = c->pos[0];
	if (strcmp(in->format, "onnx") && strcmp(in->format, "generic"))
		return cli_usage(c, "the format is onnx or generic, not '%s'", in->format);
	const char *name = cli_get(c, "name"), *file = cli_get(c, "file");
	if (!name)
		return cli_usage(c, "-n NAME is required");
	if (!file)
		return cli_usage(c, "-f FILE is required");
	if (!flt_registry_name_valid(name))
		return cli_fail(
		    c, FLT_EINVAL,
		    "'%s' is not a valid model name; use [a-z0-9][a-z0-9._-]{0,63}, not . or ..",
		    name);
	in->framework = cli_get(c, "framework");
	if (!strcmp(in->format, "generic")) {
		if (!in->framework)
			return cli_usage(
			    c, "a generic model needs --framework (tflite, pytorch, ...)");
		if (!framework_valid(in->framework))
			return cli_fail(c, FLT_EINVAL,
			                "--framework '%s' must match [a-z0-9._-]{1,32}",
			                in->framework);
		if (!strcmp(in->framework, "onnx"))
			return cli_fail(c, FLT_EINVAL,
			                "register ONNX files with 'model register onnx'");
	} else {
		if (in->framework && strcmp(in->framework, "onnx"))
			return cli_fail(c, FLT_EINVAL,
			                "--framework '%s' contradicts the onnx format",
			                in->framework);
		in->framework = "onnx";
	}
	if ((rc = parse_kvs(c, "tag", in->tags, &in->n_tags)) != CLI_CONTINUE ||
	    (rc = parse_kvs(c, "metric", in->metrics, &in->n_metrics)) != CLI_CONTINUE ||
	    (rc = parse_kvs(c, "lineage", in->lineage, &in->n_lineage)) != CLI_CONTINUE)
		return rc;
	for (int i = 0; i < in->n_metrics; i++)
		if (cli_parse_double(in->metrics[i].value, &in->metric_vals[i]) != FLT_OK)
			return cli_fail(c, FLT_EINVAL,
			                "--metric %s=%s: the value must be a finite number",
			                in->metrics[i].key, in->metrics[i].value);
	in->n_parents = cli_count(c, "parent");
	if (in->n_parents > MAX_KV)
		return cli_fail(c, FLT_EINVAL, "at most %d --parent options", MAX_KV);
	for (int i = 0; i < in->n_parents; i++) {
		struct flt_model_ref ref;
		if (flt_model_ref_parse(cli_nth(c, "parent", i), &ref) != FLT_OK)
			return cli_fail(c, FLT_EINVAL,
			                "--parent '%s' is not NAME, NAME:VER or NAME@alias",
			                cli_nth(c, "parent", i));
	}
	const char *golden = cli_get(c, "golden"), *rtol = cli_get(c, "rtol"),
	           *atol = cli_get(c, "atol");
	in->rtol = 1e-3;
	in->atol = 1e-5;
	if (!golden && (rtol || atol))
		return cli_usage(c, "--rtol and --atol go with --golden DIR");
	if ((rtol && (cli_parse_double(rtol, &in->rtol) || in->rtol < 0)) ||
	    (atol && (cli_parse_double(atol, &in->atol) || in->atol < 0)))
		return cli_fail(c, FLT_EINVAL, "--rtol and --atol take non-negative numbers");
	return CLI_CONTINUE;
}

static int load_model(struct cli *c, struct reg_input *in)
{
	const char *file = cli_get(c, "file");
	flt_err e =
	    flt_file_read_all(file, MODEL_MAX_BYTES, &in->model, &in->model_len, "registry.model");
	if (e)
		return cli_fail(c, FLT_EINVAL,
		                "cannot read '%s': %s; check the path and permissions", file,
		                e == FLT_EINVAL ? "not a regular file" : flt_strerror(e));
	if (in->model_len == 0)
		return cli_fail(c, FLT_EINVAL, "'%s' is empty; nothing registered", file);
	if (strcmp(in->format, "onnx"))
		return CLI_CONTINUE;
	e = flt_rt_analyze(in->model, in->model_len, &in->an);
	if (e == FLT_EPARSE)
		return cli_fail(c, FLT_EINVAL,
		                "'%s' is not a parseable ONNX model (truncated or corrupt?); "
		                "nothing registered",
		                file);
	if (e == FLT_EUNSUPPORTED)
		return cli_fail(
		    c, e, "this build cannot analyse ONNX models yet; register it as generic");
	if (e)
		return cli_fail(c, e, "cannot analyse '%s': %s", file, flt_strerror(e));
	cJSON *sig = cJSON_CreateObject();
	cJSON *ins = sig_json_encode(in->an->inputs, in->an->n_inputs);
	cJSON *outs = sig_json_encode(in->an->outputs, in->an->n_outputs);
	if (sig && ins)
		cJSON_AddItemToObject(sig, "inputs", ins);
	else
		cJSON_Delete(ins);
	if (sig && outs)
		cJSON_AddItemToObject(sig, "outputs", outs);
	else
		cJSON_Delete(outs);
	if (sig && ins && outs)
		in->sig_json = cJSON_PrintUnformatted(sig);
	cJSON_Delete(sig);
	if (!in->sig_json)
		return cli_fail(c, FLT_ENOMEM, "out of memory");
	return CLI_CONTINUE;
}

/* Everything after the blobs exist: one transaction. */
static flt_err record(struct cli *c, struct reg_input *in, const char *name, const char *hex,
                      const char *ghex, int64_t *version_out, flt_err *bad_parent,
                      int *bad_parent_idx)
{
	struct flt_registry *r = c->reg;
	int64_t model_id, version, vid, now = reg_now_ms();
	flt_err e = reg_begin(r);
	if (e)
		return e;
	/* Parents again, under the lock: one may have been deleted since. */
	for (int i = 0; i < in->n_parents; i++) {
		struct flt_model_ref ref;
		if ((e = flt_model_ref_parse(cli_nth(c, "parent", i), &ref)) != FLT_OK ||
		    (e = reg_resolve(r, &ref, &in->parents[i])) != FLT_OK) {
			*bad_parent = e;
			*bad_parent_idx = i;
			goto fail;
		}
	}
	e = reg_query_int(r, REG_Q_MODEL_GET_ID, &model_id, "t", name);
	if (e == FLT_ENOTFOUND) {
		if ((e = reg_exec(r, REG_Q_MODEL_INSERT, "ti", name, now)) != FLT_OK)
			goto fail;
		model_id = sqlite3_last_insert_rowid(r->db);
	} else if (e) {
		goto fail;
	}
	if ((e = reg_query_int(r, REG_Q_MODEL_NEXT_VERSION, &version, "i", model_id)) != FLT_OK)
		goto fail;
	if ((e = blob_pin(r, hex, in->model, in->model_len)) != FLT_OK)
		goto fail;
	if (ghex && (e = blob_pin(r, ghex, in->golden, in->golden_len)) != FLT_OK)
		goto fail;
	const struct flt_rt_analysis *a = in->an;
	int64_t peak = a ? a->peak_memory_bytes : -1, gcount = in->golden_count;
	int64_t ir = a ? a->ir_version : 0, pc = a ? (int64_t)a->param_count : 0,
	        pb = a ? (int64_t)a->param_bytes : 0;
	const char *reason =
	    a ? a->not_runnable_reason : "generic format: not runnable by the built-in runtime";
	if (a && !a->runnable && !reason)
		reason = "not runnable by this runtime";
	sqlite3_stmt *st;
	if ((e = reg_stmt(r, REG_Q_VERSION_INSERT, &st)) != FLT_OK)
		goto fail;
	e = reg_bind(r, st,
	             "iittti"
	             "ITIIIiTTi"
	             "TDDII",
	             model_id, version, in->format, in->framework, hex, (int64_t)in->model_len,
	             a ? &ir : NULL, a ? a->producer : NULL, a ? &pc : NULL, a ? &pb : NULL,
	             (a && peak >= 0) ? &peak : NULL, (int64_t)(a && a->runnable),
	             (a && a->runnable) ? NULL : reason, in->sig_json, now, ghex,
	             ghex ? &in->rtol : NULL, ghex ? &in->atol : NULL, ghex ? &gcount : NULL,
	             (const int64_t *)NULL);
	if (e)
		goto fail;
	int row;
	if ((e = reg_step(r, st, &row)) != FLT_OK)
		goto fail;
	sqlite3_reset(st);
	vid = sqlite3_last_insert_rowid(r->db);
	for (size_t i = 0; a && i < a->n_opsets; i++)
		if ((e = reg_exec(r, REG_Q_OPSET_INSERT, "iti", vid,
		                  a->opsets[i].domain ? a->opsets[i].domain : "",
		                  a->opsets[i].version)) != FLT_OK)
			goto fail;
	for (size_t i = 0; a && i < a->n_ops; i++)
		if ((e = reg_exec(r, REG_Q_OP_INSERT, "ittii", vid,
		                  a->ops[i].domain ? a->ops[i].domain : "", a->ops[i].op_type,
		                  (int64_t)a->ops[i].count, (int64_t)(a->ops[i].supported != 0))) !=
		    FLT_OK)
			goto fail;
	for (int i = 0; i < in->n_tags; i++)
		if ((e = reg_exec(r, REG_Q_TAG_SET, "itt", vid, in->tags[i].key,
		                  in->tags[i].value)) != FLT_OK)
			goto fail;
	for (int i = 0; i < in->n_metrics; i++)
		if ((e = reg_exec(r, REG_Q_METRIC_INSERT, "itdi", vid, in->metrics[i].key,
		                  in->metric_vals[i], now)) != FLT_OK)
			goto fail;
	for (int i = 0; i < in->n_lineage; i++)
		if ((e = reg_exec(r, REG_Q_LINEAGE_INSERT, "itt", vid, in->lineage[i].key,
		                  in->lineage[i].value)) != FLT_OK)
			goto fail;
	for (int i = 0; i < in->n_parents; i++)
		if ((e = reg_exec(r, REG_Q_PARENT_INSERT, "iit", vid, in->parents[i].id,
		                  "parent")) != FLT_OK)
			goto fail;
	if ((e = reg_exec(r, REG_Q_MODEL_BUMP_VERSION, "ii", model_id, version)) != FLT_OK)
		goto fail;
	if (sqlite3_changes(r->db) != 1) {
		e = FLT_EINTERNAL;
		goto fail;
	}
	if ((e = reg_commit(r)) != FLT_OK)
		return e;
	*version_out = version;
	return FLT_OK;
fail:
	reg_rollback(r);
	return e;
}

/* After a failed transaction, take back blob files this command created. */
static void discard(struct flt_registry *r, const char *hex)
{
	if (reg_begin(r) != FLT_OK)
		return;
	if (blob_drop_if_unreferenced(r, hex, NULL) != FLT_OK || reg_commit(r) != FLT_OK)
		reg_rollback(r);
}

int cmd_model_register(int argc, char **argv)
{
	struct cli c;
	struct reg_input in;
	char hex[BLOB_HEX_LEN + 1], ghex[BLOB_HEX_LEN + 1];
	int created = 0, gcreated = 0, rc;
	memset(&in, 0, sizeof(in));
	if ((rc = cli_start(&c, &spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = parse_inputs(&c, &in)) != CLI_CONTINUE)
		goto out;
	if ((rc = load_model(&c, &in)) != CLI_CONTINUE)
		goto out;
	if (cli_get(&c, "golden") &&
	    (rc = load_golden(&c, cli_get(&c, "golden"), &in)) != CLI_CONTINUE)
		goto out;
	if ((rc = cli_registry(&c, in.n_parents == 0)) != CLI_CONTINUE)
		goto out;
	/* Parents are checked before any byte is stored, so a typo writes nothing. */
	for (int i = 0; i < in.n_parents; i++)
		if ((rc = cli_resolve(&c, cli_nth(&c, "parent", i), &in.parents[i])) !=
		    CLI_CONTINUE)
			goto out;
	flt_err e = blob_put(c.reg->blob_root, in.model, in.model_len, hex, &created);
	if (!e && in.golden)
		e = blob_put(c.reg->blob_root, in.golden, in.golden_len, ghex, &gcreated);
	if (e) {
		rc = cli_fail(&c, e, "cannot store the model bytes in '%s': %s", c.reg->blob_root,
		              flt_strerror(e));
		if (created)
			discard(c.reg, hex);
		goto out;
	}
	const char *name = cli_get(&c, "name");
	int64_t version = 0;
	flt_err bad_parent = FLT_OK;
	int bad_idx = -1;
	e = record(&c, &in, name, hex, in.golden ? ghex : NULL, &version, &bad_parent, &bad_idx);
	if (e) {
		if (created)
			discard(c.reg, hex);
		if (gcreated)
			discard(c.reg, ghex);
		if (bad_idx >= 0)
			rc = cli_fail(&c, bad_parent,
			              "--parent '%s' no longer resolves; nothing registered",
			              cli_nth(&c, "parent", bad_idx));
		else if (e == FLT_EBUSY)
			rc = cli_fail(&c, e,
			              "the registry stayed locked; nothing registered, retry");
		else
			rc = cli_fail(&c, e, "cannot record '%s': %s; nothing registered", name,
			              flt_strerror(e));
		if (flt_audit_record(c.reg, NULL, "model.register", name, "failed",
		                     flt_strerror(e)) != FLT_OK)
			flt_log_dbg("audit entry lost");
		goto out;
	}
	char ref[96];
	flt_model_ref_format(name, version, ref, sizeof(ref));
	/* A lost audit row is logged by flt_audit_record; the registration stands. */
	if (flt_audit_record(c.reg, NULL, "model.register", ref, "ok", hex) != FLT_OK)
		flt_log_dbg("audit entry lost");
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "ref", ref);
		cJSON_AddStringToObject(doc, "name", name);
		cJSON_AddNumberToObject(doc, "version", (double)version);
		cJSON_AddStringToObject(doc, "format", in.format);
		cJSON_AddStringToObject(doc, "framework", in.framework);
		cJSON_AddStringToObject(doc, "sha256", hex);
		cJSON_AddNumberToObject(doc, "size", (double)in.model_len);
		cJSON_AddBoolToObject(doc, "runnable", in.an && in.an->runnable);
		cJSON_AddBoolToObject(doc, "deduplicated", !created);
		if (in.golden)
			cJSON_AddStringToObject(doc, "golden_sha256", ghex);
	}
	rc = cli_emit(&c, doc);
out:
	flt_free(in.model);
	flt_free(in.golden);
	cJSON_free(in.sig_json);
	flt_rt_analysis_free(in.an);
	return cli_end(&c, rc);
}
