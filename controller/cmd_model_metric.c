/* `flotilla model metric log REF k=v...` (numeric, timestamped, several per
 * key) and `flotilla model metrics NAME --key K` (the history across versions). */
#include <string.h>

#include "cli_args.h"
#include "cmds.h"
#include "model_resolve.h"
#include "show_version.h"

static const struct cli_opt no_opts[] = {{0}};

static const struct cli_spec log_spec = {
    "model metric",
    "log REF K=V [K=V...]",
    "Records metric values for one version, timestamped now; earlier values are kept.",
    no_opts,
    3,
    CLI_MAX_POS,
};

int cmd_model_metric(int argc, char **argv)
{
	struct cli c;
	struct reg_version v;
	struct cli_kv kv[CLI_MAX_POS];
	double val[CLI_MAX_POS];
	int rc;
	flt_err e = FLT_OK;
	if ((rc = cli_start(&c, &log_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if (strcmp(c.pos[0], "log"))
		return cli_end(&c, cli_usage(&c, "'model metric' takes log, not '%s'", c.pos[0]));
	for (int i = 2; i < c.n_pos; i++)
		if (cli_parse_kv(c.pos[i], &kv[i]) != FLT_OK ||
		    cli_parse_double(kv[i].value, &val[i]) != FLT_OK)
			return cli_end(
			    &c, cli_fail(&c, FLT_EINVAL, "'%s' is not KEY=NUMBER", c.pos[i]));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((e = reg_begin(c.reg)) != FLT_OK)
		return cli_end(
		    &c, cli_fail(&c, e, "the registry stayed locked; nothing changed, retry"));
	if ((rc = cli_resolve(&c, c.pos[1], &v)) != CLI_CONTINUE)
		goto out;
	int64_t now = reg_now_ms();
	for (int i = 2; i < c.n_pos && !e; i++)
		e = reg_exec(c.reg, REG_Q_METRIC_INSERT, "itdi", v.id, kv[i].key, val[i], now);
	if (!e)
		e = reg_commit(c.reg);
	if (e) {
		rc = cli_fail(&c, e, "cannot log metrics for %s: %s; nothing changed", v.ref,
		              flt_strerror(e));
		goto out;
	}
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "ref", v.ref);
		cJSON *m = cJSON_AddObjectToObject(doc, "logged");
		for (int i = 2; m && i < c.n_pos; i++)
			cJSON_AddNumberToObject(m, kv[i].key, val[i]);
	}
	rc = cli_emit(&c, doc);
out:
	reg_rollback(c.reg);
	return cli_end(&c, rc);
}

static const struct cli_opt hist_opts[] = {
    {"key", 'k', 1, "K", "the metric to show"},
    {0},
};

static const struct cli_spec hist_spec = {
    "model metrics",
    "NAME --key K",
    "Shows every recorded value of metric K across the versions of NAME, oldest version first.",
    hist_opts,
    1,
    1,
};

int cmd_model_metrics(int argc, char **argv)
{
	struct cli c;
	int rc, row;
	int64_t mid;
	sqlite3_stmt *st;
	cJSON *doc = NULL;
	if ((rc = cli_start(&c, &hist_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *name = c.pos[0], *key = cli_get(&c, "key");
	if (!key)
		return cli_end(&c, cli_usage(&c, "--key K is required"));
	if (!flt_registry_name_valid(name))
		return cli_end(
		    &c,
		    cli_fail(&c, FLT_EINVAL,
		             "'%s' is not a model name (metrics take NAME, not a version)", name));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = reg_begin_read(c.reg);
	if (!e)
		e = reg_query_int(c.reg, REG_Q_MODEL_GET_ID, &mid, "t", name);
	if (e == FLT_ENOTFOUND) {
		rc = cli_fail(&c, e, "no model named '%s'; see 'flotilla model list'", name);
		goto out;
	}
	if (!e)
		e = reg_stmt(c.reg, REG_Q_MODEL_METRIC_HISTORY, &st);
	if (!e)
		e = reg_bind(c.reg, st, "tt", name, key);
	doc = cJSON_CreateArray();
	while (!e && doc && !(e = reg_step(c.reg, st, &row)) && row) {
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddItemToArray(doc, o);
		char ref[96];
		flt_model_ref_format(name, sqlite3_column_int64(st, 0), ref, sizeof(ref));
		cJSON_AddStringToObject(o, "ref", ref);
		cJSON_AddNumberToObject(o, "version", (double)sqlite3_column_int64(st, 0));
		cJSON_AddStringToObject(o, "key", key);
		cJSON_AddNumberToObject(o, "value", sqlite3_column_double(st, 1));
		show_add_time(o, "logged", sqlite3_column_int64(st, 2));
	}
	if (!e)
		sqlite3_reset(st);
	if (e) {
		rc = cli_fail(&c, e, "cannot read metrics of '%s': %s", name, flt_strerror(e));
		goto out;
	}
	rc = cli_emit(&c, doc);
	doc = NULL;
out:
	cJSON_Delete(doc);
	reg_rollback(c.reg);
	return cli_end(&c, rc);
}
