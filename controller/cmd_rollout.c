/* `flotilla rollout create|status|list|pause|resume|abort`: operators' view
 * of the rollout engine. The CLI only writes the registry; `flotilla serve`
 * runs the engine (rollout_engine.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flt/msg.h"
#include "cli_args.h"
#include "cmds.h"
#include "flt/audit.h"
#include "rollout.h"

static const char *const show_states[] = {
    "pending",    "offline",   "skipped",   "verifying", "downloading", "checking",   "testing",
    "activating", "probation", "committed", "failed",    "rolled_back", "superseded", "cancelled"};
#define N_SHOW (sizeof(show_states) / sizeof(show_states[0]))

/* Seconds: N, or N followed by s, m, h or d. */
static flt_err parse_secs(const char *s, int64_t *out)
{
	char *end = NULL;
	if (!s || !*s || *s == '-')
		return FLT_EINVAL;
	long long v = strtoll(s, &end, 10);
	if (end == s || v <= 0 || v > 100LL * 365 * 86400)
		return FLT_EINVAL;
	long long mul = 1;
	if (*end == 'm')
		mul = 60;
	else if (*end == 'h')
		mul = 3600;
	else if (*end == 'd')
		mul = 86400;
	else if (*end && *end != 's')
		return FLT_EINVAL;
	if (*end && end[1])
		return FLT_EINVAL;
	*out = v * mul;
	return FLT_OK;
}

int rollout_cli_create(struct cli *c, const char *action, const char *name,
                       const struct reg_version *v)
{
	struct rollout_params p;
	char why[512];
	int64_t id = 0;
	memset(&p, 0, sizeof(p));
	p.kind = "model";
	p.action = action;
	p.name = name;
	p.version_id = v ? v->id : 0;
	p.ref = v ? v->ref : name;
	p.target = cli_get(c, "target");
	p.canary = cli_get(c, "canary");
	p.wave = cli_get(c, "wave");
	p.max_failures = cli_get(c, "max-failures");
	p.supersede = cli_flag(c, "supersede");
	if (!p.target)
		return cli_usage(c, "--target group:G|tag:k=v|device:ID,...|all is required");
	if (cli_get(c, "probation") && parse_secs(cli_get(c, "probation"), &p.probation_s))
		return cli_usage(c, "--probation takes seconds (N, Ns, Nm, Nh)");
	if (cli_get(c, "deadline") && parse_secs(cli_get(c, "deadline"), &p.deadline_s))
		return cli_usage(c, "--deadline takes seconds (N, Ns, Nm, Nh)");
	flt_err e = rollout_create(c->reg, &p, reg_now_ms(), &id, why, sizeof(why));
	char target[256];
	snprintf(target, sizeof(target), "%s -> %s", p.ref, p.target);
	flt_audit_note(c->reg, NULL, "rollout.create", target, e ? "refused" : "ok",
	               e ? why : action);
	if (e)
		return cli_fail(c, e, "%s; no rollout created", why);
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddNumberToObject(doc, "rollout", (double)id);
		cJSON_AddStringToObject(doc, "ref", p.ref);
		cJSON_AddStringToObject(doc, "action", action);
		cJSON_AddStringToObject(doc, "target", p.target);
	}
	return cli_emit(c, doc);
}

static const struct cli_opt create_opts[] = {
    {"model", 0, 1, "REF", "the version to roll out (NAME@alias resolves now)"},
    {"remove", 0, 1, "NAME", "unload and delete model NAME"},
    ROLLOUT_CREATE_OPTS,
    {0},
};
static const struct cli_spec create_spec = {
    "rollout create",
    "(--model REF | --remove NAME) --target T [--canary N|P%] [--wave N|P%] [--probation S] "
    "[--deadline S] [--max-failures N|P%] [--supersede]",
    "Creates a rollout; `flotilla serve` runs it: canary, then waves.",
    create_opts,
    0,
    0,
};

static int rollout_create_cmd(int argc, char **argv)
{
	struct cli c;
	struct reg_version v;
	int rc;
	if ((rc = cli_start(&c, &create_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *model = cli_get(&c, "model"), *rm = cli_get(&c, "remove");
	if (!model == !rm)
		return cli_end(&c,
		               cli_usage(&c, "give exactly one of --model REF or --remove NAME"));
	if (rm && !flt_registry_name_valid(rm))
		return cli_end(&c, cli_usage(&c, "'%s' is not a valid model name", rm));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if (model) {
		if ((rc = cli_resolve(&c, model, &v)) != CLI_CONTINUE)
			return cli_end(&c, rc);
		rc = rollout_cli_create(&c, "install", v.name, &v);
	} else {
		rc = rollout_cli_create(&c, "remove", rm, NULL);
	}
	return cli_end(&c, rc);
}

/* ---- status ------------------------------------------------------------------ */

static cJSON *status_doc(struct flt_registry *r, int64_t id, flt_err *err)
{
	sqlite3_stmt *st = NULL;
	int row = 0;
	cJSON *doc = NULL;
	flt_err e;
	if ((e = reg_stmt(r, REG_Q_RO_GET, &st)) || (e = reg_bind(r, st, "i", id)) ||
	    (e = reg_step(r, st, &row)))
		goto out;
	if (!row) {
		e = FLT_ENOTFOUND;
		goto out;
	}
	doc = cJSON_CreateObject();
	if (!doc) {
		e = FLT_ENOMEM;
		goto out;
	}
#define S(col) ((const char *)sqlite3_column_text(st, col))
	cJSON_AddNumberToObject(doc, "rollout", (double)id);
	cJSON_AddStringToObject(doc, "kind", S(1));
	cJSON_AddStringToObject(doc, "name", S(2));
	cJSON_AddStringToObject(doc, "action", S(3));
	cJSON_AddStringToObject(doc, "ref", S(5));
	cJSON_AddStringToObject(doc, "target", S(6));
	cJSON_AddStringToObject(doc, "state", S(7));
	if (S(8))
		cJSON_AddStringToObject(doc, "reason", S(8));
	int64_t n_waves = sqlite3_column_int64(st, 11);
	cJSON_AddNumberToObject(doc, "current_wave", (double)sqlite3_column_int64(st, 12));
	cJSON_AddNumberToObject(doc, "waves", (double)n_waves);
	cJSON_AddNumberToObject(doc, "probation_s", (double)sqlite3_column_int64(st, 13));
	cJSON_AddNumberToObject(doc, "deadline_s", (double)sqlite3_column_int64(st, 14));
	cJSON_AddNumberToObject(doc, "max_failures", (double)sqlite3_column_int64(st, 15));
	if (sqlite3_column_type(st, 18) != SQLITE_NULL)
		cJSON_AddNumberToObject(doc, "rollback_version_id",
		                        (double)sqlite3_column_int64(st, 18));
#undef S
	cJSON *counts = cJSON_AddObjectToObject(doc, "counts");
	cJSON *waves = cJSON_AddArrayToObject(doc, "wave_progress");
	cJSON *devs = cJSON_AddArrayToObject(doc, "devices");
	if (!counts || !waves || !devs) {
		e = FLT_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < N_SHOW; i++)
		cJSON_AddNumberToObject(counts, show_states[i], 0);
	for (int64_t w = 0; w < n_waves && w < 10000; w++) {
		cJSON *o = cJSON_CreateObject();
		if (!o) {
			e = FLT_ENOMEM;
			goto out;
		}
		cJSON_AddNumberToObject(o, "wave", (double)w);
		cJSON_AddNumberToObject(o, "devices", 0);
		cJSON_AddNumberToObject(o, "done", 0);
		cJSON_AddNumberToObject(o, "committed", 0);
		cJSON_AddItemToArray(waves, o);
	}
	if ((e = reg_stmt(r, REG_Q_RO_DEVICES, &st)) || (e = reg_bind(r, st, "i", id)))
		goto out;
	while (!(e = reg_step(r, st, &row)) && row) {
		const char *dev = (const char *)sqlite3_column_text(st, 0);
		int64_t w = sqlite3_column_int64(st, 1);
		const char *state = (const char *)sqlite3_column_text(st, 2);
		const char *reason = (const char *)sqlite3_column_text(st, 3);
		const char *dep = (const char *)sqlite3_column_text(st, 4);
		cJSON *o = cJSON_CreateObject();
		if (!o) {
			e = FLT_ENOMEM;
			goto out;
		}
		cJSON_AddStringToObject(o, "device", dev ? dev : "");
		cJSON_AddNumberToObject(o, "wave", (double)w);
		cJSON_AddStringToObject(o, "state", state ? state : "");
		if (reason)
			cJSON_AddStringToObject(o, "reason", reason);
		if (dep)
			cJSON_AddStringToObject(o, "deployment_id", dep);
		cJSON_AddItemToArray(devs, o);
		cJSON *cnt = state ? cJSON_GetObjectItemCaseSensitive(counts, state) : NULL;
		if (cnt)
			cJSON_SetNumberValue(cnt, cnt->valuedouble + 1);
		cJSON *wo = w >= 0 ? cJSON_GetArrayItem(waves, (int)w) : NULL;
		if (wo && state) {
			cJSON *x = cJSON_GetObjectItemCaseSensitive(wo, "devices");
			cJSON_SetNumberValue(x, x->valuedouble + 1);
			if (rollout_state_final(state)) {
				x = cJSON_GetObjectItemCaseSensitive(wo, "done");
				cJSON_SetNumberValue(x, x->valuedouble + 1);
			}
			if (!strcmp(state, "committed")) {
				x = cJSON_GetObjectItemCaseSensitive(wo, "committed");
				cJSON_SetNumberValue(x, x->valuedouble + 1);
			}
		}
	}
out:
	if (e) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	*err = e;
	return doc;
}

static int num(const cJSON *o, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(x) ? (int)x->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(x) ? x->valuestring : "";
}

static void print_status(const cJSON *doc)
{
	printf("rollout %d  %s %s  target %s  state %s%s%s\n", num(doc, "rollout"),
	       str(doc, "action"), str(doc, "ref"), str(doc, "target"), str(doc, "state"),
	       cJSON_GetObjectItemCaseSensitive(doc, "reason") ? ": " : "", str(doc, "reason"));
	const cJSON *w;
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(doc, "wave_progress"))
	{
		int total = num(w, "devices"), done = num(w, "done"), ok = num(w, "committed");
		char bar[31];
		int fill = total ? done * 30 / total : 0;
		for (int i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[30] = '\0';
		printf("  %s %-6d [%s] %d/%d done, %d committed\n",
		       num(w, "wave") == 0 ? "canary" : "wave  ", num(w, "wave"), bar, done, total,
		       ok);
	}
	const cJSON *counts = cJSON_GetObjectItemCaseSensitive(doc, "counts"), *c;
	printf("  ");
	cJSON_ArrayForEach(c, counts)
	{
		if (c->valuedouble > 0)
			printf("%s %d  ", c->string, (int)c->valuedouble);
	}
	printf("\n");
	const cJSON *d;
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(doc, "devices"))
	{
		const char *st = str(d, "state");
		if (strcmp(st, "committed") && strcmp(st, "pending")) {
			bool r = cJSON_GetObjectItemCaseSensitive(d, "reason") != NULL;
			printf("  %-24s wave %-3d %s%s%s%s\n", str(d, "device"), num(d, "wave"), st,
			       r ? " (" : "", r ? str(d, "reason") : "", r ? ")" : "");
		}
	}
}

static const struct cli_opt status_opts[] = {
    {"watch", 0, 0, NULL, "refresh every second until the rollout ends"},
    {0},
};
static const struct cli_spec status_spec = {
    "rollout status",
    "[ID] [--watch]",
    "Progress per wave and devices per state (the latest rollout without ID).",
    status_opts,
    0,
    1};

static flt_err parse_id(const char *s, int64_t *out)
{
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end || v <= 0)
		return FLT_EINVAL;
	*out = v;
	return FLT_OK;
}

static int rollout_status(int argc, char **argv)
{
	struct cli c;
	int rc;
	int64_t id = 0;
	if ((rc = cli_start(&c, &status_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if (c.n_pos && parse_id(c.pos[0], &id))
		return cli_end(&c, cli_usage(&c, "'%s' is not a rollout id", c.pos[0]));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if (!id && reg_query_int(c.reg, REG_Q_RO_LATEST, &id, "") != FLT_OK)
		id = 0;
	if (!id)
		return cli_end(&c, cli_fail(&c, FLT_ENOTFOUND, "no rollouts yet"));
	for (;;) {
		flt_err e;
		cJSON *doc = status_doc(c.reg, id, &e);
		if (!doc)
			return cli_end(
			    &c, cli_fail(&c, e, "rollout %lld: %s", (long long)id,
			                 e == FLT_ENOTFOUND ? "no such rollout" : flt_strerror(e)));
		bool live =
		    !strcmp(str(doc, "state"), "running") || !strcmp(str(doc, "state"), "paused");
		if (c.json) {
			rc = cli_emit(&c, doc);
		} else {
			if (cli_flag(&c, "watch"))
				printf("\033[H\033[2J");
			print_status(doc);
			cJSON_Delete(doc);
			rc = CLI_OK;
		}
		fflush(stdout);
		if (!cli_flag(&c, "watch") || !live)
			break;
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
	}
	return cli_end(&c, rc);
}

static const struct cli_spec list_spec = {"rollout list", "", "Every rollout.", NULL, 0, 0};

static int rollout_list(int argc, char **argv)
{
	struct cli c;
	sqlite3_stmt *st = NULL;
	int rc, row = 0;
	static const struct cli_opt none[] = {{0}};
	struct cli_spec spec = list_spec;
	spec.opts = none;
	if ((rc = cli_start(&c, &spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	cJSON *arr = cJSON_CreateArray();
	flt_err e = reg_stmt(c.reg, REG_Q_RO_LIST, &st);
	while (arr && !e && !(e = reg_step(c.reg, st, &row)) && row) {
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
#define S(col) ((const char *)sqlite3_column_text(st, col))
		cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, 0));
		cJSON_AddStringToObject(o, "action", S(3));
		cJSON_AddStringToObject(o, "ref", S(4));
		cJSON_AddStringToObject(o, "target", S(5));
		cJSON_AddStringToObject(o, "state", S(6));
		cJSON_AddNumberToObject(o, "wave", (double)sqlite3_column_int64(st, 7));
		cJSON_AddNumberToObject(o, "waves", (double)sqlite3_column_int64(st, 8));
		cJSON_AddNumberToObject(o, "committed", (double)sqlite3_column_int64(st, 9));
		cJSON_AddNumberToObject(o, "failed", (double)sqlite3_column_int64(st, 10));
		cJSON_AddNumberToObject(o, "devices", (double)sqlite3_column_int64(st, 11));
		cJSON_AddStringToObject(o, "reason", S(12) ? S(12) : "");
#undef S
		cJSON_AddItemToArray(arr, o);
	}
	if (e) {
		cJSON_Delete(arr);
		return cli_end(&c, cli_fail(&c, e, "cannot list rollouts: %s", flt_strerror(e)));
	}
	return cli_end(&c, cli_emit(&c, arr));
}

/* ---- pause / resume / abort ---------------------------------------------------- */

static const struct cli_spec ctl_spec = {
    "rollout pause|resume|abort", "ID", "Pauses, resumes or aborts a rollout.", NULL, 1, 1};

static int rollout_ctl(int argc, char **argv)
{
	struct cli c;
	int rc;
	int64_t id = 0;
	static const struct cli_opt none[] = {{0}};
	struct cli_spec spec = ctl_spec;
	const char *op = argv[0];
	spec.opts = none;
	if ((rc = cli_start(&c, &spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if (parse_id(c.pos[0], &id))
		return cli_end(&c, cli_usage(&c, "'%s' is not a rollout id", c.pos[0]));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e;
	cJSON *doc = status_doc(c.reg, id, &e);
	if (!doc)
		return cli_end(&c,
		               cli_fail(&c, e, "rollout %lld: %s", (long long)id,
		                        e == FLT_ENOTFOUND ? "no such rollout" : flt_strerror(e)));
	char state[16];
	snprintf(state, sizeof(state), "%s", str(doc, "state"));
	cJSON_Delete(doc);
	int64_t now = reg_now_ms();
	if (!strcmp(op, "abort")) {
		e = rollout_stop(c.reg, id, "aborted", "ABORTED: by the operator", false, now);
		if (e == FLT_EINVAL)
			return cli_end(&c, cli_fail(&c, FLT_ECONFLICT,
			                            "rollout %lld is %s, not running or paused",
			                            (long long)id, state));
	} else {
		bool pause = !strcmp(op, "pause");
		const char *want = pause ? "running" : "paused";
		if (strcmp(state, want))
			return cli_end(&c, cli_fail(&c, FLT_ECONFLICT, "rollout %lld is %s, not %s",
			                            (long long)id, state, want));
		if (!(e = reg_begin(c.reg))) {
			int64_t since = 0;
			if (!pause &&
			    reg_query_int(c.reg, REG_Q_RO_PAUSED_SINCE, &since, "i", id) ==
			        FLT_OK &&
			    now > since)
				e = reg_exec(c.reg, REG_Q_RO_SHIFT_DEADLINES, "ii", id,
				             now - since);
			if (!e)
				e = reg_exec(c.reg, REG_Q_RO_SET_STATE, "itTi", id,
				             pause ? "paused" : "running", NULL, now);
			if (!e)
				e = reg_commit(c.reg);
			else
				reg_rollback(c.reg);
		}
	}
	char what[32], target[32];
	snprintf(what, sizeof(what), "rollout.%s", op);
	snprintf(target, sizeof(target), "%lld", (long long)id);
	flt_audit_note(c.reg, NULL, what, target, e ? "failed" : "ok", e ? flt_strerror(e) : state);
	if (e)
		return cli_end(&c, cli_fail(&c, e, "rollout %lld unchanged: %s", (long long)id,
		                            flt_strerror(e)));
	doc = status_doc(c.reg, id, &e);
	return cli_end(&c, cli_emit(&c, doc));
}

struct sub {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct sub subs[] = {
    {"create", "start rolling a version out (or a model's removal)", rollout_create_cmd},
    {"status", "progress per wave and devices per state", rollout_status},
    {"list", "every rollout", rollout_list},
    {"pause", "stop starting new devices", rollout_ctl},
    {"resume", "carry on a paused rollout", rollout_ctl},
    {"abort", "stop; devices not committed go back", rollout_ctl},
};

int cmd_rollout(int argc, char **argv)
{
	size_t n = sizeof(subs) / sizeof(subs[0]);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: flotilla rollout <subcommand> [options]\n\nsubcommands:\n");
		for (size_t i = 0; i < n; i++)
			fprintf(f, "  %-8s %s\n", subs[i].name, subs[i].summary);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].run(argc - 1, argv + 1);
	fprintf(stderr,
	        "flotilla rollout: unknown subcommand '%s'; see 'flotilla rollout --help'\n",
	        argv[1]);
	return CLI_USAGE;
}
