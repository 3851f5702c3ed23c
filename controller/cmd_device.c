/* `flotilla device list|show|tag|set-model` and `flotilla group
 * create|add|rm|list`: the fleet as serve recorded it. `device set-model` is
 * a low-level tool that writes a device's desired row directly (rollouts are
 * the normal way). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "cmds.h"
#include "flt/ident.h"
#include "flt/keystore.h"
#include "flt/msg.h"
#include "registry_db.h"

#define HEALTH_WINDOW_S 3600

static void add_time_ms(cJSON *o, const char *key, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	char buf[32];
	time_t t = (time_t)(sqlite3_column_int64(st, col) / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		cJSON_AddStringToObject(o, key, buf);
	else
		cJSON_AddNumberToObject(o, key, (double)sqlite3_column_int64(st, col));
}

static const char *col_str(sqlite3_stmt *st, int col, const char *dflt)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	return t ? t : dflt;
}

/* ---- device list --------------------------------------------------------------- */

static const struct cli_opt no_opts[] = {{0}};
static const struct cli_spec list_spec = {
    "device list", "", "Every device: groups, online, last seen, what it runs, health (last hour).",
    no_opts,       0,  0,
};

static int device_list(int argc, char **argv)
{
	struct cli c;
	int rc, row = 0;
	sqlite3_stmt *st = NULL;
	if ((rc = cli_start(&c, &list_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = reg_stmt(c.reg, REG_Q_DEVICE_LIST, &st);
	if (!e)
		e = reg_bind(c.reg, st, "i", (int64_t)time(NULL) - HEALTH_WINDOW_S);
	cJSON *doc = cJSON_CreateArray();
	while (!e && doc && !(e = reg_step(c.reg, st, &row)) && row) {
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddItemToArray(doc, o);
		cJSON_AddStringToObject(o, "id", col_str(st, 0, ""));
		cJSON_AddStringToObject(o, "groups", col_str(st, 3, ""));
		cJSON_AddStringToObject(o, "online",
		                        sqlite3_column_int(st, 1) ? "online" : "offline");
		add_time_ms(o, "last_seen", st, 2);
		cJSON_AddStringToObject(o, "models", col_str(st, 4, ""));
		int64_t fails = sqlite3_column_int64(st, 5);
		int64_t req = sqlite3_column_int64(st, 6), err = sqlite3_column_int64(st, 7);
		char health[96];
		if (fails)
			snprintf(health, sizeof(health), "%lld failed installs", (long long)fails);
		else if (req)
			snprintf(health, sizeof(health), "%lld req, %.2f%% errors", (long long)req,
			         100.0 * (double)err / (double)req);
		else
			snprintf(health, sizeof(health), "-");
		cJSON_AddStringToObject(o, "health", health);
	}
	if (e)
		return cli_end(&c, cli_fail(&c, e, "cannot list devices: %s", flt_strerror(e)));
	return cli_end(&c, cli_emit(&c, doc));
}

/* ---- device show ----------------------------------------------------------------- */

static const struct cli_opt show_opts[] = {
    {"events", 0, 1, "N", "recent events to show (default 20)"},
    {0},
};
static const struct cli_spec show_spec = {
    "device show",
    "ID [--events N]",
    "One device: capabilities, groups and tags, desired state, deployment history, recent events.",
    show_opts,
    1,
    1,
};

static cJSON *capabilities(const char *json)
{
	struct flt_state *s = NULL;
	if (!json || flt_state_parse(json, strlen(json), &s, NULL) != FLT_OK)
		return cJSON_CreateNull();
	cJSON *o = cJSON_CreateObject();
	if (o) {
		cJSON_AddStringToObject(o, "arch", s->arch);
		cJSON_AddStringToObject(o, "board", s->board);
		cJSON_AddNumberToObject(o, "ram_bytes", (double)s->ram_bytes);
		cJSON_AddNumberToObject(o, "disk_free_bytes", (double)s->disk_free_bytes);
		cJSON_AddNumberToObject(o, "max_packet_size", (double)s->max_packet_size);
		cJSON_AddNumberToObject(o, "agent_version", (double)s->agent_version);
		cJSON_AddStringToObject(o, "runtime_version", s->runtime_version);
		cJSON_AddNumberToObject(o, "firmware_version", (double)s->firmware_version);
		cJSON_AddBoolToObject(o, "clock_synced", s->clock_synced);
		cJSON_AddNumberToObject(o, "operators", (double)s->n_operators);
		if (s->has_last_error) {
			char le[FLT_MAX_MESSAGE + 64];
			snprintf(le, sizeof(le), "%s: %s", flt_reason_name(s->last_error_reason),
			         s->last_error_message);
			cJSON_AddStringToObject(o, "last_error", le);
		}
	}
	flt_state_free(s);
	return o;
}

static int device_show(int argc, char **argv)
{
	struct cli c;
	int rc, row = 0;
	sqlite3_stmt *st = NULL;
	int64_t nev = 20;
	if ((rc = cli_start(&c, &show_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *id = c.pos[0];
	if (cli_get(&c, "events")) {
		char *end = NULL;
		nev = strtoll(cli_get(&c, "events"), &end, 10);
		if (!end || *end || nev < 0 || nev > 10000)
			return cli_end(&c, cli_usage(&c, "--events takes 0..10000"));
	}
	if (!flt_ident_device_valid(id))
		return cli_end(&c, cli_fail(&c, FLT_EINVAL, "'%s' is not a device id", id));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	cJSON *doc = cJSON_CreateObject();
	flt_err e = reg_begin_read(c.reg);
	if (!e)
		e = reg_stmt(c.reg, REG_Q_DEVICE_GET, &st);
	if (!e)
		e = reg_bind(c.reg, st, "t", id);
	if (!e)
		e = reg_step(c.reg, st, &row);
	if (!e && !row) {
		reg_rollback(c.reg);
		cJSON_Delete(doc);
		return cli_end(
		    &c, cli_fail(&c, FLT_ENOTFOUND,
		                 "no device '%s'; devices appear when they first connect", id));
	}
	if (!e && doc) {
		cJSON_AddStringToObject(doc, "id", id);
		cJSON_AddStringToObject(doc, "online",
		                        sqlite3_column_int(st, 3) ? "online" : "offline");
		add_time_ms(doc, "first_seen", st, 1);
		add_time_ms(doc, "last_seen", st, 2);
		add_time_ms(doc, "state_reported", st, 6);
		cJSON_AddNumberToObject(doc, "desired_serial", (double)sqlite3_column_int64(st, 7));
		cJSON_AddItemToObject(doc, "capabilities",
		                      capabilities((const char *)sqlite3_column_text(st, 5)));
	}
	cJSON *groups = cJSON_CreateArray(), *tags = cJSON_CreateObject();
	cJSON *desired = cJSON_CreateArray(), *hist = cJSON_CreateArray(),
	      *evs = cJSON_CreateArray();
	cJSON_AddItemToObject(doc, "groups", groups);
	cJSON_AddItemToObject(doc, "tags", tags);
	cJSON_AddItemToObject(doc, "desired", desired);
	cJSON_AddItemToObject(doc, "history", hist);
	cJSON_AddItemToObject(doc, "events", evs);
	if (!e && !(e = reg_stmt(c.reg, REG_Q_DEVICE_GROUPS_OF, &st)) &&
	    !(e = reg_bind(c.reg, st, "t", id)))
		while (!(e = reg_step(c.reg, st, &row)) && row)
			cJSON_AddItemToArray(groups, cJSON_CreateString(col_str(st, 0, "")));
	if (!e && !(e = reg_stmt(c.reg, REG_Q_DEVICE_TAGS, &st)) &&
	    !(e = reg_bind(c.reg, st, "t", id)))
		while (!(e = reg_step(c.reg, st, &row)) && row)
			cJSON_AddStringToObject(tags, col_str(st, 0, ""), col_str(st, 1, ""));
	if (!e && !(e = reg_stmt(c.reg, REG_Q_DEVICE_DESIRED_ROWS, &st)) &&
	    !(e = reg_bind(c.reg, st, "t", id)))
		while (!(e = reg_step(c.reg, st, &row)) && row) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddItemToArray(desired, o);
			cJSON_AddStringToObject(o, "kind", col_str(st, 0, ""));
			cJSON_AddStringToObject(o, "version", col_str(st, 2, ""));
			cJSON_AddStringToObject(o, "deployment_id", col_str(st, 3, ""));
			cJSON_AddStringToObject(o, "status",
			                        sqlite3_column_type(st, 4) == SQLITE_NULL
			                            ? "sent"
			                            : col_str(st, 4, ""));
		}
	if (!e && !(e = reg_stmt(c.reg, REG_Q_DEVICE_HISTORY, &st)) &&
	    !(e = reg_bind(c.reg, st, "t", id)))
		while (!(e = reg_step(c.reg, st, &row)) && row) {
			cJSON *o = cJSON_CreateObject();
			char ref[96];
			cJSON_AddItemToArray(hist, o);
			snprintf(ref, sizeof(ref), "%s:%lld", col_str(st, 0, "?"),
			         (long long)sqlite3_column_int64(st, 1));
			cJSON_AddStringToObject(o, "version", ref);
			cJSON_AddStringToObject(o, "state", col_str(st, 2, ""));
			add_time_ms(o, "from", st, 3);
			add_time_ms(o, "until", st, 4);
			cJSON_AddStringToObject(o, "deployment_id", col_str(st, 5, ""));
		}
	if (!e && !(e = reg_stmt(c.reg, REG_Q_DEVICE_RECENT_EVENTS, &st)) &&
	    !(e = reg_bind(c.reg, st, "ti", id, nev)))
		while (!(e = reg_step(c.reg, st, &row)) && row) {
			cJSON *o = cJSON_CreateObject();
			char ref[96];
			cJSON_AddItemToArray(evs, o);
			cJSON_AddNumberToObject(o, "time", (double)sqlite3_column_int64(st, 1));
			snprintf(ref, sizeof(ref), "%s:%lld", col_str(st, 3, "?"),
			         (long long)sqlite3_column_int64(st, 4));
			cJSON_AddStringToObject(o, "release", ref);
			cJSON_AddStringToObject(o, "deployment_id", col_str(st, 5, ""));
			cJSON_AddStringToObject(o, "step", col_str(st, 6, ""));
			cJSON_AddStringToObject(o, "reason", col_str(st, 7, ""));
			cJSON_AddStringToObject(o, "message", col_str(st, 8, ""));
		}
	reg_rollback(c.reg);
	if (e) {
		cJSON_Delete(doc);
		return cli_end(&c,
		               cli_fail(&c, e, "cannot read device '%s': %s", id, flt_strerror(e)));
	}
	return cli_end(&c, cli_emit(&c, doc));
}

/* ---- device tag ------------------------------------------------------------------- */

static const struct cli_opt tag_opts[] = {
    {"rm", 0, 1, "K", "remove tag K (repeatable)"},
    {0},
};
static const struct cli_spec tag_spec = {
    "device tag", "ID [K=V...] [--rm K...]", "Sets and removes tags on a device.", tag_opts, 1,
    CLI_MAX_POS,
};

static int device_tag(int argc, char **argv)
{
	struct cli c;
	int rc;
	int64_t one = 0;
	struct cli_kv kv;
	if ((rc = cli_start(&c, &tag_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *id = c.pos[0];
	if (!flt_ident_device_valid(id))
		return cli_end(&c, cli_fail(&c, FLT_EINVAL, "'%s' is not a device id", id));
	for (int i = 1; i < c.n_pos; i++)
		if (cli_parse_kv(c.pos[i], &kv) != FLT_OK)
			return cli_end(&c,
			               cli_fail(&c, FLT_EINVAL, "'%s' is not KEY=VALUE", c.pos[i]));
	if (c.n_pos < 2 && !cli_count(&c, "rm"))
		return cli_end(&c, cli_usage(&c, "give K=V tags to set or --rm K"));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = reg_begin(c.reg);
	if (e)
		return cli_end(
		    &c, cli_fail(&c, e, "the registry stayed locked; nothing changed, retry"));
	e = reg_query_int(c.reg, REG_Q_DEVICE_EXISTS, &one, "t", id);
	if (e == FLT_ENOTFOUND) {
		reg_rollback(c.reg);
		return cli_end(&c, cli_fail(&c, e,
		                            "no device '%s'; devices appear when they first "
		                            "connect",
		                            id));
	}
	for (int i = 1; !e && i < c.n_pos; i++) {
		if (cli_parse_kv(c.pos[i], &kv) == FLT_OK)
			e = reg_exec(c.reg, REG_Q_DEVICE_TAG_SET, "ttt", id, kv.key, kv.value);
	}
	for (int i = 0; !e && i < cli_count(&c, "rm"); i++)
		e = reg_exec(c.reg, REG_Q_DEVICE_TAG_RM, "tt", id, cli_nth(&c, "rm", i));
	if (!e)
		e = reg_commit(c.reg);
	reg_rollback(c.reg);
	if (e)
		return cli_end(&c, cli_fail(&c, e, "cannot tag '%s': %s; nothing changed", id,
		                            flt_strerror(e)));
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "device", id);
		cJSON_AddStringToObject(doc, "result", "tagged");
	}
	return cli_end(&c, cli_emit(&c, doc));
}

/* ---- device set-model (low level) ------------------------------------------------------ */

static const struct cli_opt set_opts[] = {
    {"deployment-id", 0, 1, "ID", "deployment id (default: a new one)"},
    {"probation", 0, 1, "S", "probation seconds (default 300)"},
    {"max-error-rate", 0, 1, "R", "probation error-rate limit 0..1 (default 0.05)"},
    {"max-crashes", 0, 1, "N", "probation crash limit (default 3)"},
    {"remove", 0, 0, NULL, "REF is a model NAME: remove it from the device"},
    {0},
};
static const struct cli_spec set_spec = {
    "device set-model",
    "ID REF [--deployment-id D] [--probation S] | ID NAME --remove",
    "LOW-LEVEL: writes what one device should run directly, bypassing rollouts (tests, repair). "
    "serve signs and publishes it.",
    set_opts,
    2,
    2,
};

static int device_set_model(int argc, char **argv)
{
	struct cli c;
	struct reg_version v;
	int rc;
	char depid[FLT_IDENT_MAX + 1];
	if ((rc = cli_start(&c, &set_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *id = c.pos[0];
	if (!flt_ident_device_valid(id))
		return cli_end(&c, cli_fail(&c, FLT_EINVAL, "'%s' is not a device id", id));
	int64_t probation = 300, crashes = 3;
	double rate = 0.05;
	if (cli_get(&c, "probation")) {
		char *end = NULL;
		probation = strtoll(cli_get(&c, "probation"), &end, 10);
		if (!end || *end || probation < 0 || probation > 30 * 86400)
			return cli_end(&c, cli_usage(&c, "--probation takes 0..2592000 seconds"));
	}
	if (cli_get(&c, "max-crashes")) {
		char *end = NULL;
		crashes = strtoll(cli_get(&c, "max-crashes"), &end, 10);
		if (!end || *end || crashes < 0 || crashes > 1000)
			return cli_end(&c, cli_usage(&c, "--max-crashes takes 0..1000"));
	}
	if (cli_get(&c, "max-error-rate") &&
	    (cli_parse_double(cli_get(&c, "max-error-rate"), &rate) != FLT_OK || rate < 0 ||
	     rate > 1))
		return cli_end(&c, cli_usage(&c, "--max-error-rate takes 0..1"));
	const char *d = cli_get(&c, "deployment-id");
	if (d && !flt_ident_valid(d))
		return cli_end(&c,
		               cli_fail(&c, FLT_EINVAL, "'%s' is not a valid deployment id", d));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e;
	if (cli_flag(&c, "remove")) {
		if (!flt_ident_valid(c.pos[1]))
			return cli_end(
			    &c, cli_fail(&c, FLT_EINVAL, "'%s' is not a model name", c.pos[1]));
		e = reg_exec(c.reg, REG_Q_DEVICE_DESIRED_RM, "tt", id, c.pos[1]);
		if (e)
			return cli_end(
			    &c, cli_fail(&c, e, "cannot change '%s': %s", id, flt_strerror(e)));
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "device", id);
		cJSON_AddStringToObject(doc, "result", "removed");
		return cli_end(&c, cli_emit(&c, doc));
	}
	if (!d) {
		int64_t n = 0;
		if ((e = flt_registry_counter_next(c.reg, "deployment_serial", &n)) != FLT_OK)
			return cli_end(&c, cli_fail(&c, e, "cannot allocate a deployment id: %s",
			                            flt_strerror(e)));
		snprintf(depid, sizeof(depid), "manual-%lld", (long long)n);
		d = depid;
	}
	if ((e = reg_begin(c.reg)) != FLT_OK)
		return cli_end(
		    &c, cli_fail(&c, e, "the registry stayed locked; nothing changed, retry"));
	if ((rc = cli_resolve(&c, c.pos[1], &v)) != CLI_CONTINUE) {
		reg_rollback(c.reg);
		return cli_end(&c, rc);
	}
	e = reg_exec(c.reg, REG_Q_DEVICE_DESIRED_SET, "ttitidii", id, v.name, v.id, d, probation,
	             rate, crashes, reg_now_ms());
	if (!e)
		e = reg_commit(c.reg);
	reg_rollback(c.reg);
	if (e)
		return cli_end(
		    &c, cli_fail(&c, e, "cannot set %s on '%s': %s", v.ref, id, flt_strerror(e)));
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "device", id);
		cJSON_AddStringToObject(doc, "ref", v.ref);
		cJSON_AddStringToObject(doc, "deployment_id", d);
		cJSON_AddStringToObject(doc, "result", "set");
	}
	return cli_end(&c, cli_emit(&c, doc));
}

/* ---- dispatch ------------------------------------------------------------------------ */

struct sub {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct sub device_subs[] = {
    {"list", "every device: online, last seen, models, health", device_list},
    {"show", "one device: capabilities, history, events", device_show},
    {"tag", "set or remove device tags", device_tag},
    {"set-model", "LOW-LEVEL: set a model version on one device directly", device_set_model},
    {"provision", "key, certificate and agent.conf bundle for a device", cmd_device_provision},
    {"revoke", "revoke a device's certificates and cut it off", cmd_device_revoke},
};

static int dispatch(const char *what, const struct sub *subs, size_t n, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: flotilla %s <subcommand> [options]\n\nsubcommands:\n", what);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "  %-10s %s\n", subs[i].name, subs[i].summary);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "flotilla %s: unknown subcommand '%s'; see 'flotilla %s --help'\n", what,
	        argv[1], what);
	return CLI_USAGE;
}

int cmd_device(int argc, char **argv)
{
	return dispatch("device", device_subs, sizeof(device_subs) / sizeof(device_subs[0]), argc,
	                argv);
}

/* ---- groups ---------------------------------------------------------------------------- */

static const struct cli_spec group_spec = {
    "group",
    "create NAME | add NAME ID... | rm NAME ID... | list",
    "Device groups (rollout targets).",
    no_opts,
    1,
    CLI_MAX_POS,
};

int cmd_group(int argc, char **argv)
{
	struct cli c;
	int rc, row = 0;
	int64_t gid = 0;
	sqlite3_stmt *st = NULL;
	if ((rc = cli_start(&c, &group_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *op = c.pos[0];
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = FLT_OK;
	if (!strcmp(op, "list")) {
		cJSON *doc = cJSON_CreateArray();
		e = reg_stmt(c.reg, REG_Q_GROUP_LIST, &st);
		while (!e && doc && !(e = reg_step(c.reg, st, &row)) && row) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddItemToArray(doc, o);
			cJSON_AddStringToObject(o, "group", col_str(st, 0, ""));
			cJSON_AddNumberToObject(o, "devices", (double)sqlite3_column_int64(st, 1));
			cJSON_AddStringToObject(o, "members", col_str(st, 2, ""));
		}
		if (e) {
			cJSON_Delete(doc);
			return cli_end(&c,
			               cli_fail(&c, e, "cannot list groups: %s", flt_strerror(e)));
		}
		return cli_end(&c, cli_emit(&c, doc));
	}
	if (c.n_pos < 2)
		return cli_end(&c, cli_usage(&c, "'group %s' needs a group name", op));
	const char *name = c.pos[1];
	if (!flt_ident_valid(name))
		return cli_end(
		    &c, cli_fail(&c, FLT_EINVAL,
		                 "'%s' is not a group name; use [a-z0-9][a-z0-9._-]{0,63}", name));
	int create = !strcmp(op, "create"), add = !strcmp(op, "add"), rm = !strcmp(op, "rm");
	if (!create && !add && !rm)
		return cli_end(
		    &c, cli_usage(&c, "'group' takes create, add, rm or list, not '%s'", op));
	if ((add || rm) && c.n_pos < 3)
		return cli_end(&c, cli_usage(&c, "'group %s' needs device ids", op));
	for (int i = 2; i < c.n_pos; i++)
		if (!flt_ident_device_valid(c.pos[i]))
			return cli_end(
			    &c, cli_fail(&c, FLT_EINVAL, "'%s' is not a device id", c.pos[i]));
	if ((e = reg_begin(c.reg)) != FLT_OK)
		return cli_end(
		    &c, cli_fail(&c, e, "the registry stayed locked; nothing changed, retry"));
	if (create) {
		e = reg_exec(c.reg, REG_Q_GROUP_CREATE, "ti", name, reg_now_ms());
		if (e == FLT_ECONFLICT) {
			reg_rollback(c.reg);
			return cli_end(&c, cli_fail(&c, e, "group '%s' already exists", name));
		}
	} else {
		e = reg_query_int(c.reg, REG_Q_GROUP_ID, &gid, "t", name);
		if (e == FLT_ENOTFOUND) {
			reg_rollback(c.reg);
			return cli_end(&c, cli_fail(&c, e, "no group '%s'; create it first", name));
		}
		for (int i = 2; !e && i < c.n_pos; i++) {
			if (add) {
				int64_t one;
				e = reg_query_int(c.reg, REG_Q_DEVICE_EXISTS, &one, "t", c.pos[i]);
				if (e == FLT_ENOTFOUND) {
					reg_rollback(c.reg);
					return cli_end(
					    &c, cli_fail(&c, e, "no device '%s'; nothing changed",
					                 c.pos[i]));
				}
				if (!e)
					e = reg_exec(c.reg, REG_Q_GROUP_ADD, "it", gid, c.pos[i]);
			} else {
				e = reg_exec(c.reg, REG_Q_GROUP_RM, "it", gid, c.pos[i]);
			}
		}
	}
	if (!e)
		e = reg_commit(c.reg);
	reg_rollback(c.reg);
	if (e)
		return cli_end(&c, cli_fail(&c, e, "cannot change group '%s': %s; nothing changed",
		                            name, flt_strerror(e)));
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "group", name);
		cJSON_AddStringToObject(doc, "result",
		                        create ? "created"
		                        : add  ? "added"
		                               : "removed");
	}
	return cli_end(&c, cli_emit(&c, doc));
}
