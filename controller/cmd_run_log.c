/* `flotilla run log --experiment-id E --run-id R --metric k=v [--model REF]`:
 * experiment runs with numeric metrics, optionally naming the model version
 * the run produced (what `model promote` later picks from). */
#include <string.h>

#include "cli_args.h"
#include "cmds.h"
#include "model_resolve.h"

static const struct cli_opt opts[] = {
    {"experiment-id", 'e', 1, "E", "experiment id"},
    {"run-id", 'r', 1, "R", "run id within the experiment"},
    {"metric", 0, 1, "K=V", "numeric metric (repeatable)"},
    {"model", 'm', 1, "REF", "the model version this run produced"},
    {0},
};

static const struct cli_spec spec = {
    "run log",
    "--experiment-id E --run-id R [--metric k=v...] [--model REF]",
    "Records a run of an experiment: metric values (timestamped, several per key) and the model it "
    "made.",
    opts,
    0,
    0,
};

/* Experiment and run ids are free text for people, but bounded and printable. */
int run_id_valid(const char *s);
int run_id_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._:-", s[i])))
			return 0;
	return 1;
}

int cmd_run(int argc, char **argv)
{
	struct cli c;
	struct reg_version v;
	struct cli_kv kv[64];
	double val[64];
	int rc, row;
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: flotilla run log --experiment-id E --run-id R [--metric k=v...] "
		       "[--model REF]\n");
		return CLI_OK;
	}
	if (argc < 2 || strcmp(argv[1], "log")) {
		fprintf(
		    stderr,
		    "flotilla run: the only subcommand is 'log'; see 'flotilla run log --help'\n");
		return CLI_USAGE;
	}
	if ((rc = cli_start(&c, &spec, argc - 1, argv + 1)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *exp = cli_get(&c, "experiment-id"), *run = cli_get(&c, "run-id"),
	           *model = cli_get(&c, "model");
	int nm = cli_count(&c, "metric");
	if (!exp || !run)
		return cli_end(&c, cli_usage(&c, "--experiment-id and --run-id are required"));
	if (!nm && !model)
		return cli_end(&c, cli_usage(&c, "give at least one --metric or --model"));
	if (!run_id_valid(exp) || !run_id_valid(run))
		return cli_end(&c,
		               cli_fail(&c, FLT_EINVAL,
		                        "experiment and run ids are 1..128 of [A-Za-z0-9._:-]"));
	if (nm > 64)
		return cli_end(&c, cli_fail(&c, FLT_EINVAL, "at most 64 --metric options"));
	for (int i = 0; i < nm; i++)
		if (cli_parse_kv(cli_nth(&c, "metric", i), &kv[i]) != FLT_OK ||
		    cli_parse_double(kv[i].value, &val[i]) != FLT_OK)
			return cli_end(&c,
			               cli_fail(&c, FLT_EINVAL, "--metric '%s' is not KEY=NUMBER",
			                        cli_nth(&c, "metric", i)));
	if ((rc = cli_registry(&c, model == NULL)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = reg_begin(c.reg);
	if (e)
		return cli_end(
		    &c, cli_fail(&c, e, "the registry stayed locked; nothing changed, retry"));
	if (model && (rc = cli_resolve(&c, model, &v)) != CLI_CONTINUE)
		goto out;
	sqlite3_stmt *st;
	int64_t run_pk = 0, have_version = 0, now = reg_now_ms();
	int exists = 0, have_v = 0;
	if ((e = reg_stmt(c.reg, REG_Q_RUN_GET, &st)) ||
	    (e = reg_bind(c.reg, st, "tt", exp, run)) || (e = reg_step(c.reg, st, &row)))
		goto fail;
	if (row) {
		exists = 1;
		run_pk = sqlite3_column_int64(st, 0);
		have_v = sqlite3_column_type(st, 1) != SQLITE_NULL;
		have_version = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (!exists) {
		if ((e = reg_exec(c.reg, REG_Q_RUN_INSERT, "ttIi", exp, run, model ? &v.id : NULL,
		                  now)))
			goto fail;
		run_pk = sqlite3_last_insert_rowid(c.reg->db);
	} else if (model) {
		if (have_v && have_version != v.id) {
			rc =
			    cli_fail(&c, FLT_ECONFLICT,
			             "run %s/%s already names another model version; log a new run",
			             exp, run);
			goto out;
		}
		if ((e = reg_exec(c.reg, REG_Q_RUN_SET_VERSION, "ii", run_pk, v.id)))
			goto fail;
	}
	for (int i = 0; i < nm; i++)
		if ((e = reg_exec(c.reg, REG_Q_RUN_METRIC_INSERT, "itdi", run_pk, kv[i].key, val[i],
		                  now)))
			goto fail;
	if ((e = reg_commit(c.reg)))
		goto fail;
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "experiment_id", exp);
		cJSON_AddStringToObject(doc, "run_id", run);
		if (model)
			cJSON_AddStringToObject(doc, "model", v.ref);
		cJSON *m = cJSON_AddObjectToObject(doc, "logged");
		for (int i = 0; m && i < nm; i++)
			cJSON_AddNumberToObject(m, kv[i].key, val[i]);
	}
	rc = cli_emit(&c, doc);
	goto out;
fail:
	rc =
	    cli_fail(&c, e, "cannot log run %s/%s: %s; nothing changed", exp, run, flt_strerror(e));
out:
	reg_rollback(c.reg);
	return cli_end(&c, rc);
}
