/* `flotilla model register onnx|generic`: validate and analyse the file, store
 * its bytes (and golden vectors) as blobs, then record the version and all
 * its metadata in one write transaction with the next dense version number. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "blob_store.h"
#include "cli_args.h"
#include "cmds.h"
#include "file_util.h"
#include "flt/alloc.h"
#include "model_resolve.h"
#include "sig_json.h"
#include "tar_io.h"

#define MODEL_MAX_BYTES (16ULL << 30)
#define GOLDEN_MAX_BYTES (1ULL << 30)
#define MAX_KV 64

static const struct cli_opt opts[] = {
	{"name", 'n', 1, "NAME", "model name: [a-z0-9][a-z0-9._-]{0,63}"},
	{"file", 'f', 1, "FILE", "the model file"},
	{"framework", 0, 1, "FW", "framework of a generic model (tflite, pytorch, ...)"},
	{"tag", 0, 1, "K=V", "tag (repeatable)"},
	{"metric", 0, 1, "K=V", "numeric metric (repeatable)"},
	{"lineage", 0, 1, "K=V", "what made it: code=git:SHA, data=sha256:..., compute=... (repeatable)"},
	{"parent", 0, 1, "REF", "a model version it was made from (repeatable)"},
	{"golden", 0, 1, "DIR", "golden vectors: input_N.pb and output_N.pb TensorProto files"},
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
	opts, 1, 1,
};

struct reg_input {
	const char *format, *framework;
	struct cli_kv tags[MAX_KV], metrics[MAX_KV], lineage[MAX_KV];
	double metric_vals[MAX_KV];
	int n_tags, n_metrics, n_lineage;
	struct reg_version parents[MAX_KV];
	int n_parents;
	unsigned char *model;
	size_t model_len;
	unsigned char *golden;
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
					"--%s '%s' is not KEY=VALUE (key [A-Za-z0-9_.:/-]{1,64}, value 1..1024 bytes)",
					opt, cli_nth(c, opt, i));
	}
	*n = cnt;
	return CLI_CONTINUE;
}

static int is_golden_name(const char *n, const char *prefix)
{
	size_t pl = strlen(prefix), l = strlen(n);
	if (strncmp(n, prefix, pl) != 0 || l < pl + 4 || strcmp(n + l - 3, ".pb") != 0)
		return 0;
	for (size_t i = pl; i < l - 3; i++)
		if (n[i] < '0' || n[i] > '9')
			return 0;
	return l > pl + 3;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Bundles input_N.pb / output_N.pb from DIR into a ustar (sorted names),
 * the format documented in docs/registry.md until common/ defines one. */
static int load_golden(struct cli *c, const char *dir, struct reg_input *in)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, n_in = 0, n_out = 0;
	int rc = CLI_CONTINUE;
	FILE *mem = NULL;
	char *buf = NULL;
	size_t blen = 0;
	uint64_t total = 0;
	if (!d)
		return cli_fail(c, FLT_EINVAL, "cannot open golden directory '%s': %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		int isin = is_golden_name(de->d_name, "input_"), isout = is_golden_name(de->d_name, "output_");
		if (!isin && !isout)
			continue;
		char **g = flt_reallocarray(names, n + 1, sizeof(*names));
		if (!g || !(g[n] = flt_strdup(de->d_name))) {
			names = g ? g : names;
			rc = cli_fail(c, FLT_ENOMEM, "out of memory");
			goto out;
		}
		names = g;
		n++;
		n_in += (size_t)isin;
		n_out += (size_t)isout;
	}
	if (!n_in || !n_out) {
		rc = cli_fail(c, FLT_EINVAL,
			      "golden directory '%s' needs input_N.pb and output_N.pb TensorProto files "
			      "(as in an ONNX test_data_set)",
			      dir);
		goto out;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	mem = open_memstream(&buf, &blen);
	if (!mem) {
		rc = cli_fail(c, FLT_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		unsigned char *data = NULL;
		size_t len = 0;
		const char *why = "";
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		flt_err e = fu_read_file(path, GOLDEN_MAX_BYTES, &data, &len, &why);
		if (e) {
			rc = cli_fail(c, FLT_EINVAL, "cannot read golden file '%s': %s", path, why);
			goto out;
		}
		/* A TensorProto is never empty: it carries at least its data type. */
		if (len == 0 || (total += len) > GOLDEN_MAX_BYTES) {
			flt_free(data);
			rc = cli_fail(c, FLT_EINVAL, "golden file '%s' is %s", path,
				      len ? "beyond the 1 GiB bundle limit" : "empty");
			goto out;
		}
		e = tar_write_member(mem, names[i], data, len, 0444);
		flt_free(data);
		if (e) {
			rc = cli_fail(c, e, "cannot bundle golden file '%s': %s", path, flt_strerror(e));
			goto out;
		}
	}
	if (tar_write_end(mem) != FLT_OK || fclose(mem) != 0) {
		mem = NULL;
		rc = cli_fail(c, FLT_EIO, "cannot bundle golden files");
		goto out;
	}
	mem = NULL;
	in->golden = (unsigned char *)buf;
	in->golden_len = blen;
	in->golden_count = (int)n_in;
	buf = NULL;
out:
	if (mem)
		fclose(mem);
	free(buf); /* open_memstream allocates with malloc */
	for (size_t i = 0; i < n; i++)
		flt_free(names[i]);
	flt_free(names);
	closedir(d);
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
		return cli_fail(c, FLT_EINVAL,
				"'%s' is not a valid model name; use [a-z0-9][a-z0-9._-]{0,63}, not . or ..", name);
	in->framework = cli_get(c, "framework");
	if (!strcmp(in->format, "generic")) {
		if (!in->framework)
			return cli_usage(c, "a generic model needs --framework (tflite, pytorch, ...)");
		if (!framework_valid(in->framework))
			return cli_fail(c, FLT_EINVAL, "--framework '%s' must match [a-z0-9._-]{1,32}",
					in->framework);
		if (!strcmp(in->framework, "onnx"))
			return cli_fail(c, FLT_EINVAL, "register ONNX files with 'model register onnx'");
	} else {
		if (in->framework && strcmp(in->framework, "onnx"))
			return cli_fail(c, FLT_EINVAL, "--framework '%s' contradicts the onnx format",
					in->framework);
		in->framework = "onnx";
	}
	if ((rc = parse_kvs(c, "tag", in->tags, &in->n_tags)) != CLI_CONTINUE ||
	    (rc = parse_kvs(c, "metric", in->metrics, &in->n_metrics)) != CLI_CONTINUE ||
	    (rc = parse_kvs(c, "lineage", in->lineage, &in->n_lineage)) != CLI_CONTINUE)
		return rc;
	for (int i = 0; i < in->n_metrics; i++)
		if (cli_parse_double(in->metrics[i].value, &in->metric_vals[i]) != FLT_OK)
			return cli_fail(c, FLT_EINVAL, "--metric %s=%s: the value must be a finite number",
					in->metrics[i].key, in->metrics[i].value);
	in->n_parents = cli_count(c, "parent");
	if (in->n_parents > MAX_KV)
		return cli_fail(c, FLT_EINVAL, "at most %d --parent options", MAX_KV);
	for (int i = 0; i < in->n_parents; i++) {
		struct flt_model_ref ref;
		if (flt_model_ref_parse(cli_nth(c, "parent", i), &ref) != FLT_OK)
			return cli_fail(c, FLT_EINVAL, "--parent '%s' is not NAME, NAME:VER or NAME@alias",
					cli_nth(c, "parent", i));
	}
	const char *golden = cli_get(c, "golden"), *rtol = cli_get(c, "rtol"), *atol = cli_get(c, "atol");
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
	const char *file = cli_get(c, "file"), *why = "";
	flt_err e = fu_read_file(file, MODEL_MAX_BYTES, &in->model, &in->model_len, &why);
	if (e)
		return cli_fail(c, FLT_EINVAL, "cannot read '%s': %s; check the path and permissions", file, why);
	if (in->model_len == 0)
		return cli_fail(c, FLT_EINVAL, "'%s' is empty; nothing registered", file);
	if (strcmp(in->format, "onnx"))
		return CLI_CONTINUE;
	e = flt_rt_analyze(in->model, in->model_len, &in->an);
	if (e == FLT_EPARSE)
		return cli_fail(c, FLT_EINVAL,
				"'%s' is not a parseable ONNX model (truncated or corrupt?); nothing registered",
				file);
	if (e == FLT_EUNSUPPORTED)
		return cli_fail(c, e, "this build cannot analyse ONNX models yet; register it as generic");
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
		      const char *ghex, int64_t *version_out, flt_err *bad_parent, int *bad_parent_idx)
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
	const char *reason = a ? a->not_runnable_reason
			       : "generic format: not runnable by the built-in runtime";
	if (a && !a->runnable && !reason)
		reason = "not runnable by this runtime";
	sqlite3_stmt *st;
	if ((e = reg_stmt(r, REG_Q_VERSION_INSERT, &st)) != FLT_OK)
		goto fail;
	e = reg_bind(r, st, "iittti" "ITIIIiTTi" "TDDII", model_id, version, in->format, in->framework, hex,
		     (int64_t)in->model_len, a ? &ir : NULL, a ? a->producer : NULL, a ? &pc : NULL,
		     a ? &pb : NULL, (a && peak >= 0) ? &peak : NULL, (int64_t)(a && a->runnable),
		     (a && a->runnable) ? NULL : reason, in->sig_json, now, ghex, ghex ? &in->rtol : NULL,
		     ghex ? &in->atol : NULL, ghex ? &gcount : NULL, (const int64_t *)NULL);
	if (e)
		goto fail;
	int row;
	if ((e = reg_step(r, st, &row)) != FLT_OK)
		goto fail;
	sqlite3_reset(st);
	vid = sqlite3_last_insert_rowid(r->db);
	for (size_t i = 0; a && i < a->n_opsets; i++)
		if ((e = reg_exec(r, REG_Q_OPSET_INSERT, "iti", vid, a->opsets[i].domain ? a->opsets[i].domain : "",
				  a->opsets[i].version)) != FLT_OK)
			goto fail;
	for (size_t i = 0; a && i < a->n_ops; i++)
		if ((e = reg_exec(r, REG_Q_OP_INSERT, "ittii", vid, a->ops[i].domain ? a->ops[i].domain : "",
				  a->ops[i].op_type, (int64_t)a->ops[i].count,
				  (int64_t)(a->ops[i].supported != 0))) != FLT_OK)
			goto fail;
	for (int i = 0; i < in->n_tags; i++)
		if ((e = reg_exec(r, REG_Q_TAG_SET, "itt", vid, in->tags[i].key, in->tags[i].value)) != FLT_OK)
			goto fail;
	for (int i = 0; i < in->n_metrics; i++)
		if ((e = reg_exec(r, REG_Q_METRIC_INSERT, "itdi", vid, in->metrics[i].key, in->metric_vals[i],
				  now)) != FLT_OK)
			goto fail;
	for (int i = 0; i < in->n_lineage; i++)
		if ((e = reg_exec(r, REG_Q_LINEAGE_INSERT, "itt", vid, in->lineage[i].key,
				  in->lineage[i].value)) != FLT_OK)
			goto fail;
	for (int i = 0; i < in->n_parents; i++)
		if ((e = reg_exec(r, REG_Q_PARENT_INSERT, "iit", vid, in->parents[i].id, "parent")) != FLT_OK)
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
	if (cli_get(&c, "golden") && (rc = load_golden(&c, cli_get(&c, "golden"), &in)) != CLI_CONTINUE)
		goto out;
	if ((rc = cli_registry(&c, 1)) != CLI_CONTINUE)
		goto out;
	/* Parents are checked before any byte is stored, so a typo writes nothing. */
	for (int i = 0; i < in.n_parents; i++)
		if ((rc = cli_resolve(&c, cli_nth(&c, "parent", i), &in.parents[i])) != CLI_CONTINUE)
			goto out;
	flt_err e = blob_put(c.reg->blob_root, in.model, in.model_len, hex, &created);
	if (!e && in.golden)
		e = blob_put(c.reg->blob_root, in.golden, in.golden_len, ghex, &gcreated);
	if (e) {
		rc = cli_fail(&c, e, "cannot store the model bytes in '%s': %s", c.reg->blob_root, flt_strerror(e));
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
			rc = cli_fail(&c, bad_parent, "--parent '%s' no longer resolves; nothing registered",
				      cli_nth(&c, "parent", bad_idx));
		else if (e == FLT_EBUSY)
			rc = cli_fail(&c, e, "the registry stayed locked; nothing registered, retry");
		else
			rc = cli_fail(&c, e, "cannot record '%s': %s; nothing registered", name, flt_strerror(e));
		goto out;
	}
	char ref[96];
	flt_model_ref_format(name, version, ref, sizeof(ref));
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
	free(in.golden);
	cJSON_free(in.sig_json);
	flt_rt_analysis_free(in.an);
	return cli_end(&c, rc);
}
