/* flotilla-agent entry points: each subcommand of the agent binary is one
 * function taking its parsed arguments. Returns a process exit code (0 ok,
 * 1 failure, 2 usage, 3 not found, 4 conflict, 5 invalid input, 6 refused). */
#ifndef FLT_AGENT_H
#define FLT_AGENT_H

/* Runs the `flotilla-agent` command line; argv[0] is the program name. */
int flt_agent_cli(int argc, char **argv);

#endif
