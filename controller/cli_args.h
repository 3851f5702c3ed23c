/* Private: the registry commands' shared front end: option tables, the common
 * options (--data-dir, -o json|table, --help), one-line errors with the
 * design's exit codes, and JSON/table output. */
#ifndef CLI_ARGS_H
#define CLI_ARGS_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "flt/registry.h"

enum {
	CLI_OK = 0,
	CLI_FAILURE = 1,
	CLI_USAGE = 2,
	CLI_NOTFOUND = 3,
	CLI_CONFLICT = 4,
	CLI_INVALID = 5,
	CLI_REFUSED = 6,
	CLI_CONTINUE = -1,
};

#define CLI_MAX_VALUES 256
#define CLI_MAX_POS    8

struct cli_opt {
	const char *name; /* long name without dashes */
	char shrt;        /* short letter or 0 */
	int has_arg;
	const char *metavar;
	const char *help;
};

struct cli_spec {
	const char *path;           /* "model register" */
	const char *synopsis;       /* after the path: "onnx|generic -n NAME -f FILE" */
	const char *about;          /* one line */
	const struct cli_opt *opts; /* terminated by {0} */
	int min_pos, max_pos;
};

struct cli {
	const struct cli_spec *spec;
	const char *data_dir;
	int json;
	char *pos[CLI_MAX_POS];
	int n_pos;
	struct {
		const struct cli_opt *opt;
		const char *val;
	} vals[CLI_MAX_VALUES];
	int n_vals;
	struct flt_registry *reg; /* owned; closed by cli_end */
};

/* Parses argv (argv[0] is the subcommand word) against spec. Returns
 * CLI_CONTINUE to go on, or an exit code (0 after --help, 2 on misuse). */
int cli_start(struct cli *c, const struct cli_spec *spec, int argc, char **argv);

/* Releases what cli_start/cli_registry acquired; returns `code`. */
int cli_end(struct cli *c, int code);

/* Last value of option `name`, NULL if absent. */
const char *cli_get(const struct cli *c, const char *name);
/* 1 if flag `name` was given. */
int cli_flag(const struct cli *c, const char *name);
/* Number of values of a repeatable option and the i-th of them. */
int cli_count(const struct cli *c, const char *name);
const char *cli_nth(const struct cli *c, const char *name, int i);

/* Maps an flt_err to the design's exit code. */
int cli_exit_code(flt_err e);

/* Prints "flotilla <path>: <message>" to stderr and returns cli_exit_code(e). */
int cli_fail(const struct cli *c, flt_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints a usage error and returns 2. */
int cli_usage(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Opens the registry in c->data_dir (creating it when `create`); on failure
 * prints the error and returns its exit code, else CLI_CONTINUE. */
int cli_registry(struct cli *c, int create);

/* Prints doc as JSON (-o json) or as a table; takes ownership of doc.
 * Returns CLI_OK, or CLI_FAILURE when doc is NULL (allocation failed). */
int cli_emit(const struct cli *c, cJSON *doc);

/* Splits "k=v" into key and value (borrowed from a static-size buffer in
 * *kv); keys match [A-Za-z0-9_.:/-]{1,64}, values are 1..1024 bytes. */
struct cli_kv {
	char key[65];
	char value[1025];
};
FLT_WUR flt_err cli_parse_kv(const char *s, struct cli_kv *kv);

/* Parses a finite double. */
FLT_WUR flt_err cli_parse_double(const char *s, double *out);

/* Resolves a reference to a live version. Errors: FLT_EINVAL (bad text),
 * FLT_ENOTFOUND, database errors. On failure prints the one-line error and
 * returns the exit code; CLI_CONTINUE on success. */
struct reg_version {
	int64_t id;
	int64_t model_id;
	int64_t version;
	char name[FLT_REGISTRY_NAME_MAX + 1];
	char ref[FLT_REGISTRY_NAME_MAX + 24]; /* "name:3" */
};
int cli_resolve(struct cli *c, const char *text, struct reg_version *out);

#endif
