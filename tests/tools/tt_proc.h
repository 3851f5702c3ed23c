/* Test helpers: waiting for a condition with a deadline, temporary folders, and
 * subprocesses with captured output. Integration tests only; every process and
 * folder made here is killed/removed at exit even if a test fails. */
#ifndef TT_PROC_H
#define TT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Monotonic milliseconds. */
int64_t tt_now_ms(void);

/* Calls cond(arg) until it returns true (-> true) or timeout_ms passes (-> false),
 * backing off from 1 ms to 20 ms between calls. */
bool tt_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms);

/* Creates a fresh folder /tmp/flt-<tag>-XXXXXX, removed at exit. Returns a
 * malloc'd path (caller frees) or NULL. */
char *tt_tempdir(const char *tag);

/* rm -rf without a shell. Returns 0 or -1. */
int tt_rm_rf(const char *path);

/* Reads a whole file (NUL-terminated; *len optional). Caller frees. NULL on error. */
char *tt_read_file(const char *path, size_t *len);

/* Writes a whole file. Returns 0 or -1. */
int tt_write_file(const char *path, const void *data, size_t len);

/* True if the file exists and contains `needle`. */
bool tt_file_contains(const char *path, const char *needle);

struct tt_proc;

/* Starts `path` with argv (argv[0] included, NULL-terminated) and the current
 * environment plus `env` ("K=V" strings, NULL-terminated, may be NULL).
 * stdout and stderr go to files in out_dir (a new temp dir if NULL). The child
 * gets SIGKILL if the test process dies. Returns 0 or -1. */
int tt_proc_spawn(const char *path, const char *const argv[], const char *const env[],
                  const char *out_dir, struct tt_proc **out);

pid_t tt_proc_pid(const struct tt_proc *p);
const char *tt_proc_stdout_path(const struct tt_proc *p);
const char *tt_proc_stderr_path(const struct tt_proc *p);

/* Waits up to timeout_ms (-1: forever) for the process to end. Returns 0 and
 * the waitpid status in *status (optional), or -1 on timeout / error. */
int tt_proc_wait(struct tt_proc *p, int timeout_ms, int *status);

/* Sends a signal if the process is still running. Returns 0 or -1. */
int tt_proc_kill(struct tt_proc *p, int sig);

/* True while the process has not been reaped and has not exited. */
bool tt_proc_running(struct tt_proc *p);

/* Waits until the process's stdout contains `needle` (or it exits); returns true if found. */
bool tt_proc_wait_output(struct tt_proc *p, const char *needle, int timeout_ms);

/* SIGKILLs the process if it still runs, reaps it and frees. Accepts NULL. */
void tt_proc_free(struct tt_proc *p);

/* Runs `bin` with the NULL-terminated `args` (argv[1..]) and FLOTILLA_DATA_DIR
 * set to `data_dir`, to completion. Its stdout goes into `out` (NUL-terminated,
 * cut at outsz-1 bytes); its stderr goes through the file `err_path` into
 * `err` likewise. Returns the exit code, 128 if a signal ended it, -1 if the
 * child could not be started. For CLI tests of the `flotilla` binary. */
int tt_cli_run(const char *bin, const char *data_dir, const char *err_path, const char *const *args,
               char *out, size_t outsz, char *err, size_t errsz);

#endif
