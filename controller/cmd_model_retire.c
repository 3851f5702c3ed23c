/* `flotilla model archive|delete|gc`: hiding a version from latest and new
 * rollouts, deleting one no device runs (a tombstone keeps lineage and
 * deployment history answerable), and collecting unreferenced blobs. */
#include <string.h>

#include "blob_store.h"
#include "cli_args.h"
#include "cmds.h"
#include "model_resolve.h"

static const struct cli_opt archive_opts[] = {
    {"undo", 0, 0, NULL, "unarchive instead"},
    {0},
};

static const struct cli_spec archive_spec = {
    "model archive",
    "REF [--undo]",
    "Hides a version from NAME/NAME:latest and from new rollouts; NAME:VER still resolves.",
    archive_opts,
    1,
    1,
};

int cmd_model_archive(int argc, char **argv)
{
	struct cli c;
	struct reg_version v;
	int rc;
	if ((rc = cli_start(&c, &archive_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	int undo = cli_flag(&c, "undo");
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = reg_begin(c.reg);
	if (e)
		return cli_end(
		    &c, cli_fail(&c, e, "the registry stayed locked; nothing changed, retry"));
	if ((rc = cli_resolve(&c, c.pos[0], &v)) != CLI_CONTINUE)
		goto out;
	e = reg_exec(c.reg, REG_Q_VERSION_SET_ARCHIVED, "ii", v.id, (int64_t)!undo);
	if (!e)
		e = reg_commit(c.reg);
	if (e) {
		rc = cli_fail(&c, e, "cannot archive %s: %s; nothing changed", v.ref,
		              flt_strerror(e));
		goto out;
	}
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "ref", v.ref);
		cJSON_AddBoolToObject(doc, "archived", !undo);
	}
	rc = cli_emit(&c, doc);
out:
	reg_rollback(c.reg);
	return cli_end(&c, rc);
}

static const struct cli_opt no_opts[] = {{0}};

static const struct cli_spec delete_spec = {
    "model delete",
    "NAME:VER",
    "Deletes one version and collects its blobs unless another version shares them. Refused while "
    "any device runs it. Lineage and history keep a tombstone; the number is never reused.",
    no_opts,
    1,
    1,
};

int cmd_model_delete(int argc, char **argv)
{
	struct cli c;
	struct reg_version v;
	struct flt_model_ref ref;
	char blob[BLOB_HEX_LEN + 1] = "", golden[BLOB_HEX_LEN + 1] = "";
	int rc, row;
	sqlite3_stmt *st;
	if ((rc = cli_start(&c, &delete_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if (flt_model_ref_parse(c.pos[0], &ref) == FLT_OK && ref.kind != FLT_REF_VERSION)
		return cli_end(
		    &c, cli_usage(&c, "name the version to delete explicitly (NAME:VER), not '%s'",
		                  c.pos[0]));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = reg_begin(c.reg);
	if (e)
		return cli_end(
		    &c, cli_fail(&c, e, "the registry stayed locked; nothing changed, retry"));
	if ((rc = cli_resolve(&c, c.pos[0], &v)) != CLI_CONTINUE)
		goto out;
	/* Devices running it: refuse, naming a few. */
	if ((e = reg_stmt(c.reg, REG_Q_VERSION_OPEN_DEPLOYMENTS, &st)) != FLT_OK ||
	    (e = reg_bind(c.reg, st, "i", v.id)) != FLT_OK)
		goto fail;
	char devs[256] = "";
	int ndev = 0;
	while (!(e = reg_step(c.reg, st, &row)) && row) {
		if (ndev < 3) {
			size_t l = strlen(devs);
			snprintf(devs + l, sizeof(devs) - l, "%s%s", l ? ", " : "",
			         (const char *)sqlite3_column_text(st, 0));
		}
		ndev++;
	}
	sqlite3_reset(st);
	if (e)
		goto fail;
	if (ndev) {
		rc = cli_fail(&c, FLT_ECONFLICT,
		              "%s runs on %d device%s (%s%s); roll it off them first", v.ref, ndev,
		              ndev == 1 ? "" : "s", devs, ndev > 3 ? ", ..." : "");
		goto out;
	}
	if ((e = reg_stmt(c.reg, REG_Q_VERSION_BLOBS, &st)) != FLT_OK ||
	    (e = reg_bind(c.reg, st, "i", v.id)) || (e = reg_step(c.reg, st, &row)) != FLT_OK)
		goto fail;
	if (row) {
		const char *b = (const char *)sqlite3_column_text(st, 0),
		           *g = (const char *)sqlite3_column_text(st, 1);
		if (b)
			snprintf(blob, sizeof(blob), "%s", b);
		if (g)
			snprintf(golden, sizeof(golden), "%s", g);
	}
	sqlite3_reset(st);
	if ((e = reg_exec(c.reg, REG_Q_VERSION_TOMBSTONE, "ii", v.id, reg_now_ms())) != FLT_OK ||
	    (e = reg_exec(c.reg, REG_Q_VERSION_CLEAR_TAGS, "i", v.id)) != FLT_OK ||
	    (e = reg_exec(c.reg, REG_Q_VERSION_CLEAR_METRICS, "i", v.id)) != FLT_OK ||
	    (e = reg_exec(c.reg, REG_Q_VERSION_CLEAR_ALIASES, "i", v.id)) != FLT_OK)
		goto fail;
	if ((e = reg_commit(c.reg)) != FLT_OK)
		goto fail;
	/* Blob files go in a second transaction: an unlink cannot be rolled back,
	 * so it happens only after the rows that referenced it are gone for good.
	 * A crash in between leaves an unreferenced blob for `model gc`. */
	int removed = 0, gremoved = 0;
	if ((e = reg_begin(c.reg)) == FLT_OK) {
		if (blob[0])
			e = blob_drop_if_unreferenced(c.reg, blob, &removed);
		if (!e && golden[0])
			e = blob_drop_if_unreferenced(c.reg, golden, &gremoved);
		if (!e)
			e = reg_commit(c.reg);
		reg_rollback(c.reg);
	}
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "ref", v.ref);
		cJSON_AddStringToObject(doc, "result", "deleted");
		cJSON_AddBoolToObject(doc, "blob_removed", removed);
		if (e)
			cJSON_AddStringToObject(doc, "note",
			                        "blob collection deferred to 'flotilla model gc'");
	}
	rc = cli_emit(&c, doc);
	goto out;
fail:
	rc = cli_fail(&c, e, "cannot delete %s: %s; nothing changed", v.ref, flt_strerror(e));
out:
	reg_rollback(c.reg);
	return cli_end(&c, rc);
}

static const struct cli_spec gc_spec = {
    "model gc",
    "",
    "Removes blobs no version references, and stray files left by interrupted writers.",
    no_opts,
    0,
    0,
};

int cmd_model_gc(int argc, char **argv)
{
	struct cli c;
	int rc;
	uint64_t n = 0, bytes = 0;
	if ((rc = cli_start(&c, &gc_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = blob_gc(c.reg, &n, &bytes);
	if (e)
		return cli_end(
		    &c, cli_fail(&c, e, "blob collection failed: %s; retry", flt_strerror(e)));
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddNumberToObject(doc, "removed", (double)n);
		cJSON_AddNumberToObject(doc, "bytes", (double)bytes);
	}
	return cli_end(&c, cli_emit(&c, doc));
}
