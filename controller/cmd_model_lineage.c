/* `flotilla model lineage REF`: the graph up (parents, recursively, plus the
 * recorded code/data/compute and experiment run) and down (what was made from it). */
#include <string.h>

#include "cli_args.h"
#include "cmds.h"
#include "model_resolve.h"
#include "show_version.h"

static const struct cli_opt no_opts[] = {{0}};

static const struct cli_spec spec = {
    "model lineage",
    "REF",
    "Shows what made a version (lineage keys, run, parents up the graph) and what was made from "
    "it.",
    no_opts,
    1,
    1,
};

static flt_err walk(struct flt_registry *r, enum reg_q q, int64_t vid, cJSON *arr)
{
	sqlite3_stmt *st;
	int row;
	flt_err e = reg_stmt(r, q, &st);
	if (!e)
		e = reg_bind(r, st, "i", vid);
	while (!e && !(e = reg_step(r, st, &row)) && row) {
		cJSON *o = cJSON_CreateObject();
		char ref[96];
		if (!o)
			return FLT_ENOMEM;
		cJSON_AddItemToArray(arr, o);
		flt_model_ref_format((const char *)sqlite3_column_text(st, 0),
		                     sqlite3_column_int64(st, 1), ref, sizeof(ref));
		cJSON_AddStringToObject(o, "ref", ref);
		cJSON_AddStringToObject(o, "relation", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddNumberToObject(o, "depth", (double)sqlite3_column_int64(st, 3));
		show_add_text(o, q == REG_Q_LINEAGE_UP ? "parent_of" : "child_of",
		              (const char *)sqlite3_column_text(st, 5));
		cJSON_AddBoolToObject(o, "deleted", sqlite3_column_int(st, 4));
	}
	if (!e)
		sqlite3_reset(st);
	return e;
}

int cmd_model_lineage(int argc, char **argv)
{
	struct cli c;
	struct reg_version v;
	cJSON *full = NULL, *doc = NULL;
	int rc;
	if ((rc = cli_start(&c, &spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = reg_begin_read(c.reg);
	if (e)
		return cli_end(&c,
		               cli_fail(&c, e, "cannot read the registry: %s", flt_strerror(e)));
	if ((rc = cli_resolve(&c, c.pos[0], &v)) != CLI_CONTINUE)
		goto out;
	if ((e = show_version(c.reg, &v, &full)) != FLT_OK)
		goto fail;
	doc = cJSON_CreateObject();
	cJSON *up = cJSON_CreateArray(), *down = cJSON_CreateArray();
	if (!doc || !up || !down) {
		cJSON_Delete(up);
		cJSON_Delete(down);
		e = FLT_ENOMEM;
		goto fail;
	}
	cJSON_AddStringToObject(doc, "ref", v.ref);
	cJSON_AddItemToObject(doc, "lineage",
	                      cJSON_DetachItemFromObjectCaseSensitive(full, "lineage"));
	cJSON_AddItemToObject(doc, "run", cJSON_DetachItemFromObjectCaseSensitive(full, "run"));
	cJSON_AddItemToObject(doc, "up", up);
	cJSON_AddItemToObject(doc, "down", down);
	if ((e = walk(c.reg, REG_Q_LINEAGE_UP, v.id, up)) != FLT_OK ||
	    (e = walk(c.reg, REG_Q_LINEAGE_DOWN, v.id, down)) != FLT_OK)
		goto fail;
	rc = cli_emit(&c, doc);
	doc = NULL;
	goto out;
fail:
	rc = cli_fail(&c, e, "cannot read the lineage of %s: %s", v.ref, flt_strerror(e));
out:
	cJSON_Delete(full);
	cJSON_Delete(doc);
	reg_rollback(c.reg);
	return cli_end(&c, rc);
}
