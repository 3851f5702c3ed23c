/* `flotilla model update -n NAME:latest --all`: records a request that every
 * device running NAME move to the resolved version; the rollout engine in
 * `serve` executes pending requests. */
#include <string.h>

#include "cli_args.h"
#include "cmds.h"
#include "model_resolve.h"

static const struct cli_opt opts[] = {
    {"name", 'n', 1, "REF", "the version to move to (NAME:latest, NAME:VER, NAME@alias)"},
    {"all", 0, 0, NULL, "every device running NAME"},
    {0},
};

static const struct cli_spec spec = {
    "model update",
    "-n REF --all",
    "Requests that every device running the model move to REF (resolved now). The rollout engine "
    "executes the request.",
    opts,
    0,
    0,
};

int cmd_model_update(int argc, char **argv)
{
	struct cli c;
	struct reg_version v;
	int rc;
	if ((rc = cli_start(&c, &spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *ref = cli_get(&c, "name");
	if (!ref)
		return cli_end(&c, cli_usage(&c, "-n REF is required"));
	if (!cli_flag(&c, "all"))
		return cli_end(
		    &c,
		    cli_usage(
		        &c, "--all is required (per-group updates are 'flotilla rollout create')"));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = reg_begin(c.reg);
	if (e)
		return cli_end(
		    &c, cli_fail(&c, e, "the registry stayed locked; nothing changed, retry"));
	if ((rc = cli_resolve(&c, ref, &v)) != CLI_CONTINUE)
		goto out;
	int64_t now = reg_now_ms();
	e = reg_exec(c.reg, REG_Q_UPDATE_REQUEST_INSERT, "iiti", v.model_id, v.id, "all", now);
	int64_t id = e ? 0 : sqlite3_last_insert_rowid(c.reg->db);
	if (!e)
		e = reg_commit(c.reg);
	if (e) {
		rc = cli_fail(&c, e, "cannot record the update: %s; nothing changed",
		              flt_strerror(e));
		goto out;
	}
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddNumberToObject(doc, "request", (double)id);
		cJSON_AddStringToObject(doc, "ref", v.ref);
		cJSON_AddStringToObject(doc, "target", "all");
		cJSON_AddStringToObject(doc, "state", "pending");
	}
	rc = cli_emit(&c, doc);
out:
	reg_rollback(c.reg);
	return cli_end(&c, rc);
}
