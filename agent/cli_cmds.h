/* Subcommands of flotilla-agent implemented outside cli.c; each takes the
 * subcommand's argv (argv[0] is its name) and returns a process exit code. */
#ifndef FLT_AGENT_CLI_CMDS_H
#define FLT_AGENT_CLI_CMDS_H

int cli_ops(int argc, char **argv);
int cli_infer(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_install(int argc, char **argv);

#endif
