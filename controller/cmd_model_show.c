/* `flotilla model list` and `flotilla model show`: what do I have, and
 * everything recorded about one version. */
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "cmds.h"
#include "model_resolve.h"
#include "show_version.h"

static const struct cli_opt list_opts[] = {
    {"name", 0, 1, "GLOB", "only models whose name matches (shell glob)"},
    {"tag", 0, 1, "K=V", "only versions carrying this tag (repeatable: all must match)"},
    {"all", 0, 0, NULL, "include archived versions"},
    {"limit", 0, 1, "N", "at most N rows"},
    {0},
};

static const struct cli_spec list_spec = {
    "model list",
    "[--name GLOB] [--tag k=v] [--all] [--limit N]",
    "Lists model versions, oldest first per name; archived versions only with --all.",
    list_opts,
    0,
    0,
};

int cmd_model_list(int argc, char **argv)
{
	struct cli c;
	int rc;
	cJSON *tags = NULL, *doc = NULL;
	char *tags_json = NULL;
	if ((rc = cli_start(&c, &list_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	int64_t limit = -1;
	const char *ls = cli_get(&c, "limit");
	if (ls) {
		char *end;
		limit = strtoll(ls, &end, 10);
		if (*end || limit < 0)
			return cli_end(
			    &c, cli_fail(&c, FLT_EINVAL, "--limit takes a non-negative integer"));
	}
	int nt = cli_count(&c, "tag");
	if (nt) {
		tags = cJSON_CreateArray();
		for (int i = 0; tags && i < nt; i++) {
			struct cli_kv kv;
			if (cli_parse_kv(cli_nth(&c, "tag", i), &kv) != FLT_OK) {
				rc = cli_fail(&c, FLT_EINVAL, "--tag '%s' is not KEY=VALUE",
				              cli_nth(&c, "tag", i));
				goto out;
			}
			cJSON_AddItemToArray(tags, cJSON_CreateString(cli_nth(&c, "tag", i)));
		}
		if (!tags || !(tags_json = cJSON_PrintUnformatted(tags))) {
			rc = cli_fail(&c, FLT_ENOMEM, "out of memory");
			goto out;
		}
	}
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		goto out;
	sqlite3_stmt *st;
	flt_err e = reg_stmt(c.reg, REG_Q_VERSION_LIST, &st);
	if (!e)
		e = reg_bind(c.reg, st, "TTii", cli_get(&c, "name"), tags_json,
		             (int64_t)cli_flag(&c, "all"), limit);
	doc = cJSON_CreateArray();
	int row = 0;
	while (!e && doc && !(e = reg_step(c.reg, st, &row)) && row) {
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddItemToArray(doc, o);
		char ref[96];
		flt_model_ref_format((const char *)sqlite3_column_text(st, 0),
		                     sqlite3_column_int64(st, 1), ref, sizeof(ref));
		cJSON_AddStringToObject(o, "ref", ref);
		cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(st, 0));
		cJSON_AddNumberToObject(o, "version", (double)sqlite3_column_int64(st, 1));
		cJSON_AddStringToObject(o, "format", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddStringToObject(o, "framework", (const char *)sqlite3_column_text(st, 3));
		cJSON_AddNumberToObject(o, "size", (double)sqlite3_column_int64(st, 4));
		cJSON_AddBoolToObject(o, "runnable", sqlite3_column_int(st, 5));
		cJSON_AddBoolToObject(o, "archived", sqlite3_column_int(st, 6));
		show_add_time(o, "created", sqlite3_column_int64(st, 7));
		show_add_text(o, "tags", (const char *)sqlite3_column_text(st, 8));
		show_add_text(o, "aliases", (const char *)sqlite3_column_text(st, 9));
	}
	sqlite3_reset(st);
	if (e) {
		rc = cli_fail(&c, e, "cannot list models: %s", flt_strerror(e));
		goto out;
	}
	rc = cli_emit(&c, doc);
	doc = NULL;
out:
	cJSON_Delete(doc);
	cJSON_Delete(tags);
	cJSON_free(tags_json);
	return cli_end(&c, rc);
}

static const struct cli_opt show_opts[] = {{0}};

static const struct cli_spec show_spec = {
    "model show",
    "REF",
    "Shows one version: format, runtime needs (opsets, operators, memory), signature, parameters, "
    "tags, aliases, latest metrics, lineage and golden vectors. REF is NAME, NAME:VER, NAME:latest "
    "or NAME@alias.",
    show_opts,
    1,
    1,
};

int cmd_model_show(int argc, char **argv)
{
	struct cli c;
	struct reg_version v;
	cJSON *doc = NULL;
	int rc;
	if ((rc = cli_start(&c, &show_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = reg_begin_read(c.reg);
	if (e)
		return cli_end(&c,
		               cli_fail(&c, e, "cannot read the registry: %s", flt_strerror(e)));
	if ((rc = cli_resolve(&c, c.pos[0], &v)) != CLI_CONTINUE)
		goto out;
	if ((e = show_version(c.reg, &v, &doc)) != FLT_OK) {
		rc = cli_fail(&c, e, "cannot read %s: %s", v.ref, flt_strerror(e));
		goto out;
	}
	rc = cli_emit(&c, doc);
out:
	reg_rollback(c.reg);
	return cli_end(&c, rc);
}
