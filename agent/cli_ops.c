/* `flotilla-agent ops`: the operators the built-in runtime implements, with
 * opset ranges — the same list the agent reports as a capability. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_cmds.h"
#include "flt/runtime.h"

static void ops_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: flotilla-agent ops [-o table|json]\n\n"
	    "Lists the operators of the built-in runtime with the opset versions each serves.\n");
}

int cli_ops(int argc, char **argv)
{
	int json = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			ops_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			const char *v = argv[++i];
			if (!strcmp(v, "json")) {
				json = 1;
			} else if (!strcmp(v, "table")) {
				json = 0;
			} else {
				fprintf(stderr,
				        "flotilla-agent ops: unknown output format '%s'; use table "
				        "or json\n",
				        v);
				return 2;
			}
		} else {
			fprintf(stderr,
			        "flotilla-agent ops: unexpected argument '%s'; see --help\n",
			        argv[i]);
			return 2;
		}
	}
	size_t n = flt_rt_op_count();
	if (!json) {
		printf("%-12s %-20s %s\n", "DOMAIN", "OPERATOR", "OPSETS");
		for (size_t i = 0; i < n; i++) {
			struct flt_rt_op_info op;
			flt_rt_op_get(i, &op);
			printf("%-12s %-20s %d-%d\n", op.domain[0] ? op.domain : "ai.onnx",
			       op.op_type, op.since, op.until);
		}
		return 0;
	}
	cJSON *root = cJSON_CreateObject(), *arr = NULL;
	int rc = 1;
	if (!root || !cJSON_AddStringToObject(root, "runtime", flt_runtime_version()) ||
	    !(arr = cJSON_AddArrayToObject(root, "operators")))
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct flt_rt_op_info op;
		flt_rt_op_get(i, &op);
		cJSON *o = cJSON_CreateObject();
		if (!o)
			goto out;
		cJSON_AddItemToArray(arr, o);
		if (!cJSON_AddStringToObject(o, "domain", op.domain[0] ? op.domain : "ai.onnx") ||
		    !cJSON_AddStringToObject(o, "op_type", op.op_type) ||
		    !cJSON_AddNumberToObject(o, "since", op.since) ||
		    !cJSON_AddNumberToObject(o, "until", op.until))
			goto out;
	}
	char *s = cJSON_PrintUnformatted(root);
	if (!s)
		goto out;
	printf("%s\n", s);
	cJSON_free(s);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "flotilla-agent ops: out of memory\n");
	cJSON_Delete(root);
	return rc;
}
