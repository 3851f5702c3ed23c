/* `flotilla model promote -n NEW (--experiment-id E --by METRIC --max|--min | -m REF)`:
 * registers the winning run's model as the next version of NEW — the same
 * blob, its analysis copied, lineage to the source version and the run — and
 * points NEW@promoted at it, all in one write transaction. */
#include <string.h>

#define FLT_LOG_MODULE "registry"
#include "cli_args.h"
#include "flt/audit.h"
#include "flt/log.h"
#include "cmds.h"
#include "model_resolve.h"

int run_id_valid(const char *s);

static const struct cli_opt opts[] = {
    {"name", 'n', 1, "NEW", "the model name to register under"},
    {"experiment-id", 'e', 1, "E", "experiment whose best run to promote"},
    {"by", 0, 1, "METRIC", "the run metric that decides"},
    {"max", 0, 0, NULL, "highest METRIC wins"},
    {"min", 0, 0, NULL, "lowest METRIC wins"},
    {"model", 'm', 1, "REF", "promote this version instead of choosing by metric"},
    {0},
};

static const struct cli_spec spec = {
    "model promote",
    "-n NEW (--experiment-id E --by METRIC --max|--min | -m REF [--experiment-id E])",
    "Registers the best run's model (or REF) as a new version of NEW with the same bytes and sets "
    "alias 'promoted'.",
    opts,
    0,
    0,
};

int cmd_model_promote(int argc, char **argv)
{
	struct cli c;
	struct reg_version src;
	int rc, row;
	if ((rc = cli_start(&c, &spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *name = cli_get(&c, "name"), *exp = cli_get(&c, "experiment-id"),
	           *by = cli_get(&c, "by"), *ref = cli_get(&c, "model");
	int mx = cli_flag(&c, "max"), mn = cli_flag(&c, "min");
	if (!name)
		return cli_end(&c, cli_usage(&c, "-n NEW is required"));
	if (!flt_registry_name_valid(name))
		return cli_end(&c,
		               cli_fail(&c, FLT_EINVAL, "'%s' is not a valid model name", name));
	if (ref && (by || mx || mn))
		return cli_end(
		    &c, cli_usage(&c, "-m REF and --by METRIC --max|--min exclude each other"));
	if (!ref && (!exp || !by || mx + mn != 1))
		return cli_end(&c, cli_usage(&c, "give --experiment-id E --by METRIC with one of "
		                                 "--max or --min, or -m REF"));
	if (exp && !run_id_valid(exp))
		return cli_end(&c, cli_fail(&c, FLT_EINVAL, "'%s' is not an experiment id", exp));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = reg_begin(c.reg);
	if (e)
		return cli_end(
		    &c, cli_fail(&c, e, "the registry stayed locked; nothing changed, retry"));
	int64_t run_pk = 0, have_run = 0;
	double best = 0;
	char run_id[160] = "";
	sqlite3_stmt *st;
	if (ref) {
		if ((rc = cli_resolve(&c, ref, &src)) != CLI_CONTINUE)
			goto out;
		if (exp) {
			e = reg_query_int(c.reg, REG_Q_RUN_FOR_VERSION, &run_pk, "ti", exp, src.id);
			if (e == FLT_ENOTFOUND) {
				rc = cli_fail(&c, e,
				              "no run of experiment '%s' names %s; log it with "
				              "'flotilla run log'",
				              exp, src.ref);
				goto out;
			}
			if (e)
				goto fail;
			have_run = 1;
		}
	} else {
		if ((e = reg_stmt(c.reg, REG_Q_RUN_BEST, &st)) ||
		    (e = reg_bind(c.reg, st, "tti", exp, by, (int64_t)mx)) ||
		    (e = reg_step(c.reg, st, &row)))
			goto fail;
		if (!row) {
			sqlite3_reset(st);
			rc = cli_fail(&c, FLT_ENOTFOUND,
			              "no run of experiment '%s' has metric '%s' and a live model; "
			              "log runs with "
			              "'flotilla run log --model REF'",
			              exp, by);
			goto out;
		}
		run_pk = sqlite3_column_int64(st, 0);
		snprintf(run_id, sizeof(run_id), "%s", (const char *)sqlite3_column_text(st, 1));
		src.id = sqlite3_column_int64(st, 2);
		best = sqlite3_column_double(st, 3);
		have_run = 1;
		sqlite3_reset(st);
		/* Name the source version for the output and lineage. */
		if ((e = reg_stmt(c.reg, REG_Q_VERSION_SHOW, &st)) ||
		    (e = reg_bind(c.reg, st, "i", src.id)) || (e = reg_step(c.reg, st, &row)))
			goto fail;
		if (!row) {
			sqlite3_reset(st);
			e = FLT_EINTERNAL;
			goto fail;
		}
		snprintf(src.name, sizeof(src.name), "%s",
		         (const char *)sqlite3_column_text(st, 0));
		src.version = sqlite3_column_int64(st, 1);
		flt_model_ref_format(src.name, src.version, src.ref, sizeof(src.ref));
		sqlite3_reset(st);
	}
	int64_t model_id, version, vid, now = reg_now_ms();
	e = reg_query_int(c.reg, REG_Q_MODEL_GET_ID, &model_id, "t", name);
	if (e == FLT_ENOTFOUND) {
		if ((e = reg_exec(c.reg, REG_Q_MODEL_INSERT, "ti", name, now)))
			goto fail;
		model_id = sqlite3_last_insert_rowid(c.reg->db);
	} else if (e) {
		goto fail;
	}
	if ((e = reg_query_int(c.reg, REG_Q_MODEL_NEXT_VERSION, &version, "i", model_id)))
		goto fail;
	if ((e = reg_exec(c.reg, REG_Q_VERSION_COPY, "iiiIi", model_id, version, now,
	                  have_run ? &run_pk : NULL, src.id)))
		goto fail;
	vid = sqlite3_last_insert_rowid(c.reg->db);
	if ((e = reg_exec(c.reg, REG_Q_OPSETS_COPY, "ii", vid, src.id)) ||
	    (e = reg_exec(c.reg, REG_Q_OPS_COPY, "ii", vid, src.id)) ||
	    (e = reg_exec(c.reg, REG_Q_LINEAGE_COPY, "ii", vid, src.id)) ||
	    (e = reg_exec(c.reg, REG_Q_PARENT_INSERT, "iit", vid, src.id, "promoted-from")) ||
	    (have_run && (e = reg_exec(c.reg, REG_Q_RUN_METRICS_COPY, "ii", vid, run_pk))) ||
	    (e = reg_exec(c.reg, REG_Q_ALIAS_SET, "itii", model_id, "promoted", vid, now)) ||
	    (e = reg_exec(c.reg, REG_Q_MODEL_BUMP_VERSION, "ii", model_id, version)))
		goto fail;
	if ((e = reg_commit(c.reg)))
		goto fail;
	char nref[96];
	flt_model_ref_format(name, version, nref, sizeof(nref));
	if (flt_audit_record(c.reg, NULL, "model.promote", nref, "ok", src.ref) != FLT_OK)
		flt_log_dbg("audit entry lost");
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "ref", nref);
		cJSON_AddStringToObject(doc, "from", src.ref);
		if (exp)
			cJSON_AddStringToObject(doc, "experiment_id", exp);
		if (run_id[0]) {
			cJSON_AddStringToObject(doc, "run_id", run_id);
			cJSON_AddStringToObject(doc, "by", by);
			cJSON_AddNumberToObject(doc, "value", best);
		}
		char al[96];
		snprintf(al, sizeof(al), "%s@promoted", name);
		cJSON_AddStringToObject(doc, "alias", al);
	}
	rc = cli_emit(&c, doc);
	goto out;
fail:
	rc =
	    cli_fail(&c, e, "cannot promote into '%s': %s; nothing changed", name, flt_strerror(e));
	reg_rollback(c.reg);
	if (flt_audit_record(c.reg, NULL, "model.promote", name, "failed", flt_strerror(e)) !=
	    FLT_OK)
		flt_log_dbg("audit entry lost");
out:
	reg_rollback(c.reg);
	return cli_end(&c, rc);
}
