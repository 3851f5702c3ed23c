/* `flotilla model tag add|rm` and `flotilla model alias set|rm`: labels on
 * versions, each change one write transaction. */
#include <string.h>

#include "cli_args.h"
#include "cmds.h"
#include "model_resolve.h"

static const struct cli_opt no_opts[] = {{0}};

static const struct cli_spec tag_spec = {
    "model tag",
    "add REF K=V [K=V...] | rm REF K [K...]",
    "Adds (or replaces) and removes tags on one version.",
    no_opts,
    3,
    CLI_MAX_POS,
};

static int done(struct cli *c, const struct reg_version *v, const char *what)
{
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "ref", v->ref);
		cJSON_AddStringToObject(doc, "result", what);
	}
	return cli_emit(c, doc);
}

int cmd_model_tag(int argc, char **argv)
{
	struct cli c;
	struct reg_version v;
	int rc, add;
	flt_err e = FLT_OK;
	if ((rc = cli_start(&c, &tag_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if (!strcmp(c.pos[0], "add"))
		add = 1;
	else if (!strcmp(c.pos[0], "rm"))
		add = 0;
	else
		return cli_end(&c,
		               cli_usage(&c, "'model tag' takes add or rm, not '%s'", c.pos[0]));
	struct cli_kv kv[CLI_MAX_POS];
	for (int i = 2; i < c.n_pos; i++) {
		if (add && cli_parse_kv(c.pos[i], &kv[i]) != FLT_OK)
			return cli_end(&c,
			               cli_fail(&c, FLT_EINVAL, "'%s' is not KEY=VALUE", c.pos[i]));
		if (!add) {
			char tmp[80];
			snprintf(tmp, sizeof(tmp), "%s=x", c.pos[i]);
			if (strchr(c.pos[i], '=') || cli_parse_kv(tmp, &kv[i]) != FLT_OK)
				return cli_end(&c, cli_fail(&c, FLT_EINVAL, "'%s' is not a tag key",
				                            c.pos[i]));
		}
	}
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((e = reg_begin(c.reg)) != FLT_OK)
		return cli_end(
		    &c, cli_fail(&c, e, "the registry stayed locked; nothing changed, retry"));
	if ((rc = cli_resolve(&c, c.pos[1], &v)) != CLI_CONTINUE)
		goto out;
	for (int i = 2; i < c.n_pos && !e; i++) {
		if (add)
			e = reg_exec(c.reg, REG_Q_TAG_SET, "itt", v.id, kv[i].key, kv[i].value);
		else {
			e = reg_exec(c.reg, REG_Q_TAG_RM, "it", v.id, kv[i].key);
			if (!e && sqlite3_changes(c.reg->db) == 0) {
				rc = cli_fail(&c, FLT_ENOTFOUND,
				              "%s has no tag '%s'; nothing changed", v.ref,
				              kv[i].key);
				goto out;
			}
		}
	}
	if (!e)
		e = reg_commit(c.reg);
	if (e) {
		rc = cli_fail(&c, e, "cannot change tags of %s: %s; nothing changed", v.ref,
		              flt_strerror(e));
		goto out;
	}
	rc = done(&c, &v, add ? "tagged" : "untagged");
out:
	reg_rollback(c.reg);
	return cli_end(&c, rc);
}

static const struct cli_opt alias_opts[] = {
    {"rollout", 0, 0, NULL,
     "set: also roll the version out (needs --target; see 'rollout create')"},
    ROLLOUT_CREATE_OPTS,
    {0},
};

static const struct cli_spec alias_spec = {
    "model alias",
    "set REF ALIAS [--rollout --target T [rollout options]] | rm NAME ALIAS",
    "Points NAME@ALIAS at a version, or removes the alias. 'latest' is reserved.",
    alias_opts,
    3,
    3,
};

int cmd_model_alias(int argc, char **argv)
{
	struct cli c;
	struct reg_version v;
	int rc;
	flt_err e;
	if ((rc = cli_start(&c, &alias_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	int set = !strcmp(c.pos[0], "set");
	if (!set && strcmp(c.pos[0], "rm"))
		return cli_end(&c,
		               cli_usage(&c, "'model alias' takes set or rm, not '%s'", c.pos[0]));
	const char *alias = c.pos[2];
	if (!flt_registry_name_valid(alias) || !strcmp(alias, "latest"))
		return cli_end(
		    &c,
		    cli_fail(
		        &c, FLT_EINVAL,
		        "'%s' is not a valid alias; use [a-z0-9][a-z0-9._-]{0,63}, not 'latest'",
		        alias));
	if (cli_flag(&c, "rollout") && (!set || !cli_get(&c, "target")))
		return cli_end(&c,
		               cli_usage(&c, "--rollout goes with 'alias set' and needs --target"));
	if (!set && !flt_registry_name_valid(c.pos[1]))
		return cli_end(&c, cli_fail(&c, FLT_EINVAL, "'%s' is not a model name", c.pos[1]));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((e = reg_begin(c.reg)) != FLT_OK)
		return cli_end(
		    &c, cli_fail(&c, e, "the registry stayed locked; nothing changed, retry"));
	if (set) {
		if ((rc = cli_resolve(&c, c.pos[1], &v)) != CLI_CONTINUE)
			goto out;
		e = reg_exec(c.reg, REG_Q_ALIAS_SET, "itii", v.model_id, alias, v.id, reg_now_ms());
	} else {
		int64_t mid;
		memset(&v, 0, sizeof(v));
		snprintf(v.ref, sizeof(v.ref), "%s@%s", c.pos[1], alias);
		e = reg_query_int(c.reg, REG_Q_MODEL_GET_ID, &mid, "t", c.pos[1]);
		if (!e)
			e = reg_exec(c.reg, REG_Q_ALIAS_RM, "it", mid, alias);
		if (!e && sqlite3_changes(c.reg->db) == 0)
			e = FLT_ENOTFOUND;
		if (e == FLT_ENOTFOUND) {
			rc = cli_fail(&c, e, "model '%s' has no alias '%s'; nothing changed",
			              c.pos[1], alias);
			goto out;
		}
	}
	if (!e)
		e = reg_commit(c.reg);
	if (e) {
		rc = cli_fail(&c, e, "cannot change alias '%s': %s; nothing changed", alias,
		              flt_strerror(e));
		goto out;
	}
	if (set && cli_flag(&c, "rollout")) {
		/* The alias is set; the rollout is a second transaction, and its
		 * failure (say a conflict) is reported with its own exit code. */
		rc = rollout_cli_create(&c, "install", v.name, &v);
		goto out;
	}
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		char full[160];
		snprintf(full, sizeof(full), "%s@%s", set ? v.name : c.pos[1], alias);
		cJSON_AddStringToObject(doc, "alias", full);
		if (set)
			cJSON_AddStringToObject(doc, "ref", v.ref);
		cJSON_AddStringToObject(doc, "result", set ? "set" : "removed");
	}
	rc = cli_emit(&c, doc);
out:
	reg_rollback(c.reg);
	return cli_end(&c, rc);
}
