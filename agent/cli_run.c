/* `flotilla-agent run`, `status` and `install`: parse arguments into the
 * config struct and call into the agent library. Signal handlers only set
 * flags; the daemon loop acts on them. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_cmds.h"
#include "flt/agentd.h"
#include "flt/alloc.h"
#include "flt/log.h"
#include "flt/reason.h"

#define DEFAULT_CONF "/etc/flotilla/agent.conf"
#define MAX_SETS     32

static volatile sig_atomic_t g_stop, g_hup;

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	g_hup = 1;
}

struct common_args {
	const char *conf;
	const char *sets[MAX_SETS];
	size_t nsets;
	int json;
};

/* Parses -c CONF, --set key=value and -o json|table; returns the index of the
 * first other argument, -1 for usage errors. */
static int parse_common(int argc, char **argv, struct common_args *c, const char *cmd)
{
	int i;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			c->conf = argv[++i];
		} else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
			if (c->nsets == MAX_SETS)
				return -1;
			c->sets[c->nsets++] = argv[++i];
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			const char *v = argv[++i];
			if (!strcmp(v, "json"))
				c->json = 1;
			else if (strcmp(v, "table")) {
				fprintf(stderr,
				        "flotilla-agent %s: unknown output format '%s'; use table "
				        "or json\n",
				        cmd, v);
				return -1;
			}
		} else if (!strcmp(argv[i], "--")) {
			return i + 1;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "flotilla-agent %s: unknown option '%s'; see --help\n", cmd,
			        argv[i]);
			return -1;
		} else {
			break;
		}
	}
	return i;
}

static int load_conf(const struct common_args *c, struct flt_agentd_conf *conf, const char *cmd)
{
	char err[512] = "";
	flt_err e = flt_agentd_conf_load(c->conf, c->sets, c->nsets, conf, err, sizeof(err));
	if (e) {
		fprintf(stderr, "flotilla-agent %s: %s\n", cmd, err[0] ? err : flt_strerror(e));
		return e == FLT_ENOTFOUND ? 3 : 5;
	}
	flt_log_set_level((enum flt_log_level)conf->log_level);
	return 0;
}

static int has_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

int cli_run(int argc, char **argv)
{
	struct common_args c = {.conf = DEFAULT_CONF};
	if (has_help(argc, argv)) {
		printf(
		    "usage: flotilla-agent run [-c CONF] [--set key=value]...\n\n"
		    "Runs the device agent. Config options (file keys, [section] key = value):\n");
		flt_agentd_conf_help(stdout);
		return 0;
	}
	int i = parse_common(argc, argv, &c, "run");
	if (i < 0 || i != argc)
		return 2;
	struct flt_agentd_conf conf;
	int rc = load_conf(&c, &conf, "run");
	if (rc)
		return rc;
	struct flt_agentd *a = NULL;
	flt_err e = flt_agentd_new(&conf, &a);
	flt_agentd_conf_free(&conf);
	if (e) {
		fprintf(stderr, "flotilla-agent run: cannot start: %s\n", flt_strerror(e));
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((e = flt_agentd_start(a))) {
		fprintf(stderr, "flotilla-agent run: MQTT: %s\n", flt_strerror(e));
		flt_agentd_free(a);
		return 1;
	}
	printf("agent running\n");
	fflush(stdout);
	e = flt_agentd_run(a, &g_stop, &g_hup, c.conf);
	flt_agentd_free(a);
	return e ? 1 : 0;
}

static void print_table(const char *json)
{
	cJSON *root = cJSON_Parse(json), *m;
	if (!root) {
		printf("%s\n", json);
		return;
	}
	printf("%-24s %-8s %-9s %-8s %-12s %-8s %s\n", "MODEL", "ACTIVE", "COMMITTED", "JOB",
	       "STEP", "DEPLOY", "REASON");
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(root, "models"))
	{
		const cJSON *d = cJSON_GetObjectItem(m, "dep");
		printf("%-24s %-8.0f %-9.0f %-8.0f %-12s %-8s %s\n",
		       cJSON_GetStringValue(cJSON_GetObjectItem(m, "name")),
		       cJSON_GetNumberValue(cJSON_GetObjectItem(m, "active")),
		       cJSON_GetNumberValue(cJSON_GetObjectItem(m, "committed")),
		       d ? cJSON_GetNumberValue(cJSON_GetObjectItem(d, "version")) : 0.0,
		       d ? cJSON_GetStringValue(cJSON_GetObjectItem(d, "step")) : "-",
		       d && cJSON_GetStringValue(cJSON_GetObjectItem(d, "id"))[0]
		           ? cJSON_GetStringValue(cJSON_GetObjectItem(d, "id"))
		           : "-",
		       d ? cJSON_GetStringValue(cJSON_GetObjectItem(d, "reason")) : "-");
	}
	const char *le = cJSON_GetStringValue(cJSON_GetObjectItem(root, "last_error"));
	if (le && strcmp(le, "NONE"))
		printf("last error: %s %s\n", le,
		       cJSON_GetStringValue(cJSON_GetObjectItem(root, "last_error_msg")));
	cJSON_Delete(root);
}

int cli_status(int argc, char **argv)
{
	struct common_args c = {.conf = DEFAULT_CONF};
	if (has_help(argc, argv)) {
		printf("usage: flotilla-agent status [-c CONF] [-o table|json]\n\n"
		       "Shows installed, active and committed models, the install in progress and "
		       "the last failure.\n");
		return 0;
	}
	int i = parse_common(argc, argv, &c, "status");
	if (i < 0 || i != argc)
		return 2;
	struct flt_agentd_conf conf;
	int rc = load_conf(&c, &conf, "status");
	if (rc)
		return rc;
	char *json = NULL;
	flt_err e = flt_agentd_status_json(&conf, &json);
	flt_agentd_conf_free(&conf);
	if (e) {
		fprintf(stderr, "flotilla-agent status: cannot read the agent's state: %s\n",
		        flt_strerror(e));
		return 1;
	}
	if (c.json)
		printf("%s\n", json);
	else
		print_table(json);
	flt_free(json);
	return 0;
}

int cli_install(int argc, char **argv)
{
	struct common_args c = {.conf = DEFAULT_CONF};
	const char *golden = NULL, *keylist = NULL, *pos[2] = {NULL, NULL};
	size_t npos = 0;
	if (has_help(argc, argv)) {
		printf("usage: flotilla-agent install [-c CONF] ENVELOPE ARTIFACT [--golden FILE] "
		       "[--keys KEYLIST]\n\n"
		       "Installs a model offline through the same verify/check/test/activate "
		       "steps, trusted via the\n"
		       "provisioned root keys and a root-signed key list (--keys, else the one "
		       "last received).\n");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--golden") && i + 1 < argc)
			golden = argv[++i];
		else if (!strcmp(argv[i], "--keys") && i + 1 < argc)
			keylist = argv[++i];
		else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			c.conf = argv[++i];
		else if (!strcmp(argv[i], "--set") && i + 1 < argc && c.nsets < MAX_SETS)
			c.sets[c.nsets++] = argv[++i];
		else if (argv[i][0] != '-' && npos < 2)
			pos[npos++] = argv[i];
		else {
			fprintf(stderr,
			        "flotilla-agent install: unexpected argument '%s'; see --help\n",
			        argv[i]);
			return 2;
		}
	}
	if (npos != 2) {
		fprintf(stderr, "flotilla-agent install: need ENVELOPE and ARTIFACT; see --help\n");
		return 2;
	}
	struct flt_agentd_conf conf;
	int rc = load_conf(&c, &conf, "install");
	if (rc)
		return rc;
	struct flt_agentd *a = NULL;
	flt_err e = flt_agentd_new(&conf, &a);
	flt_agentd_conf_free(&conf);
	if (e) {
		fprintf(stderr,
		        "flotilla-agent install: cannot open the agent's state: %s (is the daemon "
		        "running?)\n",
		        flt_strerror(e));
		return e == FLT_EBUSY ? 4 : 1;
	}
	int reason = 0;
	e = flt_agentd_install_local(a, pos[0], pos[1], golden, keylist, &reason);
	flt_agentd_free(a);
	if (e == FLT_EVERIFY) {
		fprintf(stderr, "flotilla-agent install: refused: %s (%s)\n",
		        flt_reason_name((enum flt_reason)reason),
		        flt_reason_meaning((enum flt_reason)reason));
		return 6;
	}
	if (e) {
		fprintf(stderr, "flotilla-agent install: %s\n", flt_strerror(e));
		return e == FLT_ENOTFOUND ? 3 : e == FLT_EINVAL ? 5 : 1;
	}
	printf("installed and committed\n");
	return 0;
}
