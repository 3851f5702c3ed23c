/* `flotilla` entry point: the controller CLI and `flotilla serve`.
 * Returns a process exit code (0 ok, 1 failure, 2 usage, 3 not found,
 * 4 conflict, 5 invalid input, 6 verification refused). */
#ifndef FLT_CONTROLLER_H
#define FLT_CONTROLLER_H

/* Runs the `flotilla` command line; argv[0] is the program name. */
int flt_controller_cli(int argc, char **argv);

#endif
