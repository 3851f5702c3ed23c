/* flotilla command-line dispatch: a table of command groups, each parsing its
 * own options into a struct and calling one run function. */
#include <stdio.h>
#include <string.h>

#include "flt/config.h"
#include "flt/controller.h"
#include "cmds.h"

struct subcmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct subcmd cmds[] = {
    {"model", "register, list, inspect and evolve models", cmd_model},
    {"run", "log experiment runs", cmd_run},
    {"device", "list, tag, provision and revoke devices", cmd_device},
    {"group", "manage device groups", cmd_group},
    {"rollout", "roll versions out to devices", cmd_rollout},
    {"firmware", "register and list firmware images", cmd_firmware},
    {"agent-release", "register and list agent binaries", cmd_agent_release},
    {"keys", "signing keys and the fleet CA", cmd_keys},
    {"serve", "run the controller daemon", cmd_serve},
    {"broker-config", "write a Mosquitto configuration for the fleet", cmd_broker_config},
    {"audit", "who did what on the controller", cmd_audit},
    {"backup", "write the registry and its blobs to one file", cmd_backup},
    {"restore", "restore a backup into the data directory", cmd_restore},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: flotilla <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-13s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n'flotilla <command> --help' for a command's options.\n");
}

int flt_controller_cli(int argc, char **argv)
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
		printf("flotilla %s\n", FLT_VERSION_STRING);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "flotilla: unknown command '%s'; see 'flotilla --help'\n", argv[1]);
	return 2;
}
