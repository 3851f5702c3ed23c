/* flotilla-agent command-line dispatch: one table of subcommands, each parsing
 * its own options and calling one run function. */
#include <stdio.h>
#include <string.h>

#include "cli_cmds.h"
#include "flt/agent.h"
#include "flt/config.h"

struct subcmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct subcmd cmds[] = {
    {"run", "run the agent daemon", cli_run},
    {"ops", "list supported operators with opset ranges", cli_ops},
    {"status", "show installed, active and committed models", cli_status},
    {"install", "install a model from a signed envelope and artifact", cli_install},
    {"infer", "run inference on a model file or through the agent", cli_infer},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: flotilla-agent <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n'flotilla-agent <command> --help' for a command's options.\n");
}

int flt_agent_cli(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("flotilla-agent %s (agent version %d, %s)\n", FLT_VERSION_STRING,
		       FLT_AGENT_VERSION, FLT_ARCH);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "flotilla-agent: unknown command '%s'; see 'flotilla-agent --help'\n",
	        argv[1]);
	return 2;
}
