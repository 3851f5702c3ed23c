/* `flotilla model <subcommand>`: the table of model subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli_args.h"
#include "cmds.h"

struct sub {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct sub subs[] = {
    {"register", "register an ONNX or generic model file as a new version", cmd_model_register},
    {"list", "list versions (--name GLOB, --tag k=v)", cmd_model_list},
    {"show", "everything about one version", cmd_model_show},
    {"lineage", "what made a version and what was made from it", cmd_model_lineage},
    {"diff", "signature, operator, size, parameter and metric changes", cmd_model_diff},
    {"metrics", "a metric's history across versions", cmd_model_metrics},
    {"metric", "metric log REF k=v: record metrics later", cmd_model_metric},
    {"tag", "tag add|rm REF k=v|k", cmd_model_tag},
    {"alias", "alias set REF ALIAS | alias rm NAME ALIAS", cmd_model_alias},
    {"archive", "hide a version from latest and new rollouts", cmd_model_archive},
    {"delete", "delete a version no device runs", cmd_model_delete},
    {"gc", "collect unreferenced blobs", cmd_model_gc},
    {"promote", "register an experiment's best run under a new name", cmd_model_promote},
    {"update", "request that every device running NAME moves to a version", cmd_model_update},
    {"usage", "where each version runs, since when, and its health", cmd_model_usage},
    {"targets", "devices and groups able to run a version, and why not", cmd_model_targets},
    {"export", "signed envelope + artifact for offline install", cmd_model_export},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: flotilla model <subcommand> [options]\n\nsubcommands:\n");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		fprintf(f, "  %-9s %s\n", subs[i].name, subs[i].summary);
	fprintf(f, "\n'flotilla model <subcommand> --help' for its options.\n");
}

int cmd_model(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "flotilla model: unknown subcommand '%s'; see 'flotilla model --help'\n",
	        argv[1]);
	return CLI_USAGE;
}
