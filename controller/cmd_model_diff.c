/* `flotilla model diff A B`: what an application written against A must know
 * before moving to B — signature changes classified breaking or compatible
 * with the reason, operators added or removed, opsets, size, parameters, metrics. */
#include <math.h>
#include <string.h>

#include "cli_args.h"
#include "cmds.h"
#include "flt/alloc.h"
#include "model_resolve.h"
#include "show_version.h"
#include "sig_json.h"

static const struct cli_opt no_opts[] = {{0}};

static const struct cli_spec spec = {
    "model diff",
    "REF_A REF_B",
    "Compares two versions from the point of view of an application written against REF_A.",
    no_opts,
    2,
    2,
};

static void add_delta(cJSON *doc, const char *key, const cJSON *a, const cJSON *b)
{
	cJSON *o = cJSON_AddObjectToObject(doc, key);
	if (!o)
		return;
	cJSON_AddItemToObject(o, "a",
	                      a && cJSON_IsNumber(a) ? cJSON_CreateNumber(a->valuedouble)
	                                             : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "b",
	                      b && cJSON_IsNumber(b) ? cJSON_CreateNumber(b->valuedouble)
	                                             : cJSON_CreateNull());
	if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
		cJSON_AddNumberToObject(o, "delta", b->valuedouble - a->valuedouble);
	else
		cJSON_AddNullToObject(o, "delta");
}

static const cJSON *find_op(const cJSON *ops, const cJSON *op)
{
	const cJSON *x;
	const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "domain"));
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "op_type"));
	cJSON_ArrayForEach(x, ops)
	{
		const char *d2 =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "domain"));
		const char *t2 =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "op_type"));
		if (d && t && d2 && t2 && !strcmp(d, d2) && !strcmp(t, t2))
			return x;
	}
	return NULL;
}

static void op_text(const cJSON *op, char *buf, size_t cap)
{
	const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "domain"));
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "op_type"));
	if (d && strcmp(d, "ai.onnx"))
		snprintf(buf, cap, "%s:%s", d, t ? t : "?");
	else
		snprintf(buf, cap, "%s", t ? t : "?");
}

static void diff_ops(cJSON *doc, const cJSON *a, const cJSON *b)
{
	cJSON *o = cJSON_AddObjectToObject(doc, "operators");
	cJSON *added = cJSON_AddArrayToObject(o, "added"),
	      *removed = cJSON_AddArrayToObject(o, "removed");
	cJSON *changed = cJSON_AddArrayToObject(o, "count_changed");
	const cJSON *x;
	char buf[160];
	cJSON_ArrayForEach(x, b)
	{
		if (!find_op(a, x)) {
			op_text(x, buf, sizeof(buf));
			cJSON_AddItemToArray(added, cJSON_CreateString(buf));
		}
	}
	cJSON_ArrayForEach(x, a)
	{
		const cJSON *y = find_op(b, x);
		op_text(x, buf, sizeof(buf));
		if (!y) {
			cJSON_AddItemToArray(removed, cJSON_CreateString(buf));
			continue;
		}
		double ca = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "count"));
		double cb = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(y, "count"));
		if (ca != cb) {
			cJSON *c = cJSON_CreateObject();
			cJSON_AddStringToObject(c, "op", buf);
			cJSON_AddNumberToObject(c, "a", ca);
			cJSON_AddNumberToObject(c, "b", cb);
			cJSON_AddItemToArray(changed, c);
		}
	}
}

static void diff_opsets(cJSON *doc, const cJSON *a, const cJSON *b)
{
	cJSON *arr = cJSON_AddArrayToObject(doc, "opsets");
	const cJSON *x, *y;
	/* Every domain on either side, with the version on each (null = absent). */
	for (int pass = 0; pass < 2; pass++) {
		cJSON_ArrayForEach(x, (pass ? b : a))
		{
			const char *d =
			    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "domain"));
			const cJSON *other = NULL;
			cJSON_ArrayForEach(y, (pass ? a : b))
			{
				const char *d2 = cJSON_GetStringValue(
				    cJSON_GetObjectItemCaseSensitive(y, "domain"));
				if (d && d2 && !strcmp(d, d2))
					other = y;
			}
			if (pass && other)
				continue;
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "domain", d ? d : "?");
			const cJSON *va = pass ? other : x, *vb = pass ? x : other;
			add_delta(o, "version",
			          va ? cJSON_GetObjectItemCaseSensitive(va, "version") : NULL,
			          vb ? cJSON_GetObjectItemCaseSensitive(vb, "version") : NULL);
			cJSON *ver = cJSON_DetachItemFromObjectCaseSensitive(o, "version");
			cJSON_AddItemToObject(o, "a",
			                      cJSON_DetachItemFromObjectCaseSensitive(ver, "a"));
			cJSON_AddItemToObject(o, "b",
			                      cJSON_DetachItemFromObjectCaseSensitive(ver, "b"));
			cJSON_Delete(ver);
			cJSON_AddItemToArray(arr, o);
		}
	}
}

static void diff_metrics(cJSON *doc, const cJSON *a, const cJSON *b)
{
	cJSON *arr = cJSON_AddArrayToObject(doc, "metrics");
	const cJSON *x;
	for (int pass = 0; pass < 2; pass++) {
		cJSON_ArrayForEach(x, (pass ? b : a))
		{
			const cJSON *other =
			    cJSON_GetObjectItemCaseSensitive(pass ? a : b, x->string);
			if (pass && other)
				continue;
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "key", x->string);
			const cJSON *va = pass ? other : x, *vb = pass ? x : other;
			cJSON_AddItemToObject(
			    o, "a", va ? cJSON_CreateNumber(va->valuedouble) : cJSON_CreateNull());
			cJSON_AddItemToObject(
			    o, "b", vb ? cJSON_CreateNumber(vb->valuedouble) : cJSON_CreateNull());
			if (va && vb)
				cJSON_AddNumberToObject(o, "delta",
				                        vb->valuedouble - va->valuedouble);
			else
				cJSON_AddNullToObject(o, "delta");
			cJSON_AddItemToArray(arr, o);
		}
	}
}

static flt_err diff_signature(cJSON *doc, const cJSON *a, const cJSON *b)
{
	cJSON *arr = cJSON_AddArrayToObject(doc, "signature");
	struct flt_sig_change *ch = NULL;
	size_t n = 0;
	flt_err e = FLT_OK;
	int breaking = 0;
	const char *sides[2] = {"inputs", "outputs"};
	for (int s = 0; s < 2 && !e; s++) {
		struct flt_rt_value_info *va = NULL, *vb = NULL;
		size_t na = 0, nb = 0;
		const cJSON *ja = cJSON_GetObjectItemCaseSensitive(a, sides[s]);
		const cJSON *jb = cJSON_GetObjectItemCaseSensitive(b, sides[s]);
		if (cJSON_IsNull(ja) || cJSON_IsNull(jb) || !ja || !jb)
			continue; /* a generic model has no recorded signature */
		e = sig_json_decode(ja, &va, &na);
		if (!e)
			e = sig_json_decode(jb, &vb, &nb);
		if (!e)
			e = flt_sig_diff(va, na, vb, nb, s, &ch, &n);
		sig_json_free(va, na);
		sig_json_free(vb, nb);
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "class", ch[i].breaking ? "breaking" : "compatible");
		cJSON_AddStringToObject(o, "side", ch[i].output ? "output" : "input");
		cJSON_AddStringToObject(o, "tensor", ch[i].name);
		cJSON_AddStringToObject(o, "reason", ch[i].reason);
		cJSON_AddItemToArray(arr, o);
		breaking |= ch[i].breaking;
	}
	flt_free(ch);
	int known = !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(a, "inputs")) &&
	            !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(b, "inputs"));
	cJSON_AddStringToObject(doc, "compatibility",
	                        !known     ? "unknown (no recorded signature)"
	                        : breaking ? "breaking"
	                                   : "compatible");
	return e;
}

int cmd_model_diff(int argc, char **argv)
{
	struct cli c;
	struct reg_version va, vb;
	cJSON *a = NULL, *b = NULL, *doc = NULL;
	int rc;
	if ((rc = cli_start(&c, &spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = reg_begin_read(c.reg);
	if (e)
		return cli_end(&c,
		               cli_fail(&c, e, "cannot read the registry: %s", flt_strerror(e)));
	if ((rc = cli_resolve(&c, c.pos[0], &va)) != CLI_CONTINUE ||
	    (rc = cli_resolve(&c, c.pos[1], &vb)) != CLI_CONTINUE)
		goto out;
	if ((e = show_version(c.reg, &va, &a)) != FLT_OK ||
	    (e = show_version(c.reg, &vb, &b)) != FLT_OK)
		goto fail;
	doc = cJSON_CreateObject();
	if (!doc) {
		e = FLT_ENOMEM;
		goto fail;
	}
	cJSON_AddStringToObject(doc, "a", va.ref);
	cJSON_AddStringToObject(doc, "b", vb.ref);
	if ((e = diff_signature(doc, a, b)) != FLT_OK)
		goto fail;
	diff_ops(doc, cJSON_GetObjectItemCaseSensitive(a, "operators"),
	         cJSON_GetObjectItemCaseSensitive(b, "operators"));
	diff_opsets(doc, cJSON_GetObjectItemCaseSensitive(a, "opsets"),
	            cJSON_GetObjectItemCaseSensitive(b, "opsets"));
	static const char *const nums[] = {"size", "param_count", "param_bytes",
	                                   "peak_memory_bytes", "ir_version"};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		add_delta(doc, nums[i], cJSON_GetObjectItemCaseSensitive(a, nums[i]),
		          cJSON_GetObjectItemCaseSensitive(b, nums[i]));
	cJSON *same = cJSON_GetObjectItemCaseSensitive(a, "sha256"),
	      *sameb = cJSON_GetObjectItemCaseSensitive(b, "sha256");
	cJSON_AddBoolToObject(doc, "same_bytes",
	                      cJSON_IsString(same) && cJSON_IsString(sameb) &&
	                          !strcmp(same->valuestring, sameb->valuestring));
	diff_metrics(doc, cJSON_GetObjectItemCaseSensitive(a, "metrics"),
	             cJSON_GetObjectItemCaseSensitive(b, "metrics"));
	rc = cli_emit(&c, doc);
	doc = NULL;
	goto out;
fail:
	rc = cli_fail(&c, e, "cannot compare %s and %s: %s", c.pos[0], c.pos[1], flt_strerror(e));
out:
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(doc);
	reg_rollback(c.reg);
	return cli_end(&c, rc);
}
