/* Config loading into one validated struct per program. Options are declared once,
 * in a table (name, type, offset in the struct, default, range, help); the loader
 * applies defaults, then the file, then command-line overrides, and refuses
 * anything it does not know.
 *
 * File format
 *   # a comment (only whole lines; '#' inside a value is part of the value)
 *   key = value
 *   [mqtt]
 *   broker = mqtts://host:8883   -> key "mqtt.broker"
 *   client_cert = "/etc/flotilla/my cert.pem"
 * - Whitespace around keys and values is ignored. A value may be double-quoted to
 *   keep leading/trailing spaces; inside quotes \" \\ \n \t are the only escapes.
 * - "[section]" prefixes the keys after it with "section."; a later header
 *   replaces it. Section and key names are [A-Za-z0-9_.-]+.
 * - A key given twice in one file, an unknown key, a line without '=' and a
 *   value of the wrong shape are errors naming the source, line and key.
 * - Lines end with \n (a \r before it is dropped); at most 4096 bytes per line,
 *   1 MiB per file; NUL bytes are refused.
 *
 * Value syntax per type
 *   STRING    any text (may be empty)
 *   PATH      non-empty, no control characters; not resolved or checked to exist
 *   INT       decimal, optional '-', within [min, max]
 *   BOOL      true|false|yes|no|on|off|1|0 (any case)
 *   DURATION  seconds: N, Ns, Nm, Nh or Nd (N a non-negative integer), within [min, max]
 *   SIZE      bytes: N, or N with K, M, G or T (powers of 1024, any case, optionally
 *             followed by B or iB: 64K, 10MiB, 2gb), within [min, max]
 *   ENUM      one of the option's choices, exactly
 */
#ifndef FLT_CONF_H
#define FLT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flt/error.h"

enum flt_conf_type {
	FLT_CONF_STRING,   /* field: char * (owned by the struct, NULL if no default) */
	FLT_CONF_PATH,     /* field: char * */
	FLT_CONF_INT,      /* field: int64_t */
	FLT_CONF_BOOL,     /* field: bool */
	FLT_CONF_DURATION, /* field: int64_t seconds */
	FLT_CONF_SIZE,     /* field: uint64_t bytes */
	FLT_CONF_ENUM,     /* field: int, index into choices */
};

/* STRING/PATH only: after all layers the value must be set (non-NULL, non-empty). */
#define FLT_CONF_REQUIRED 1u

struct flt_conf_opt {
	const char *name; /* full key, "section.key" or "key" */
	enum flt_conf_type type;
	size_t offset;              /* offsetof(struct, field) */
	const char *def;            /* default in file syntax; NULL: NULL string / 0 */
	int64_t min, max;           /* INT, DURATION, SIZE: inclusive; both 0: no range */
	const char *const *choices; /* ENUM: NULL-terminated list */
	unsigned flags;             /* FLT_CONF_REQUIRED */
	const char *help;           /* one line for --help */
};

/* A program's schema: its option table and the size of its struct. Example:
 *   struct agent_conf { char *device_id; int64_t telemetry_s; uint64_t reserve; };
 *   static const struct flt_conf_opt agent_opts[] = {
 *     {"device.id", FLT_CONF_STRING, offsetof(struct agent_conf, device_id), NULL,
 *      0, 0, NULL, FLT_CONF_REQUIRED, "device identity (matches the certificate)"},
 *     {"telemetry.interval", FLT_CONF_DURATION, offsetof(struct agent_conf, telemetry_s),
 *      "60s", 1, 86400, NULL, 0, "how often to send telemetry"},
 *     {"disk.reserve", FLT_CONF_SIZE, offsetof(struct agent_conf, reserve), "64M",
 *      0, 0, NULL, 0, "free space never used for models"},
 *   };
 *   static const struct flt_conf_schema agent_schema = {agent_opts, 3, sizeof(struct agent_conf)};
 */
struct flt_conf_schema {
	const struct flt_conf_opt *opts;
	size_t nopts;
	size_t size;
};

/* The whole sequence into *CFG: defaults, then the file PATH (NULL: none), then each of
 * the NSETS "key=value" overrides in order (a later override of the same key wins),
 * then the REQUIRED check. CFG is treated as uninitialised and set only on success
 * (free it with flt_conf_free). ERR (ERRLEN bytes, may be NULL) gets a one-line
 * message naming the source, line and key. Errors: FLT_ENOTFOUND (file missing),
 * FLT_EPARSE (malformed line, unknown key, duplicate key, bad value), FLT_ELIMIT
 * (value out of range, file or line too long), FLT_EINVAL (a REQUIRED key unset,
 * malformed override), FLT_EIO, FLT_ENOMEM, FLT_EINTERNAL (a bad default in the table). */
flt_err flt_conf_load(const struct flt_conf_schema *s, void *cfg, const char *path,
                      const char *const *sets, size_t nsets, char *err, size_t errlen) FLT_WUR;

/* SIGHUP semantics: loads as flt_conf_load into a fresh struct and, only on success,
 * frees the strings of *CFG and replaces it. On error *CFG is untouched. */
flt_err flt_conf_reload(const struct flt_conf_schema *s, void *cfg, const char *path,
                        const char *const *sets, size_t nsets, char *err, size_t errlen) FLT_WUR;

/* The steps, for callers that need them apart. flt_conf_init zeroes CFG and applies
 * defaults. The others apply on top of an initialised CFG and may leave it partly
 * updated on error (use flt_conf_load/reload for all-or-nothing). SOURCE names the
 * buffer in messages ("agent.conf"). */
flt_err flt_conf_init(const struct flt_conf_schema *s, void *cfg, char *err, size_t errlen) FLT_WUR;
flt_err flt_conf_parse_buf(const struct flt_conf_schema *s, void *cfg, const char *buf, size_t len,
                           const char *source, char *err, size_t errlen) FLT_WUR;
flt_err flt_conf_parse_file(const struct flt_conf_schema *s, void *cfg, const char *path, char *err,
                            size_t errlen) FLT_WUR;
/* KV is "key=value" (whitespace around both ignored, value syntax as in a file). */
flt_err flt_conf_set(const struct flt_conf_schema *s, void *cfg, const char *kv, char *err,
                     size_t errlen) FLT_WUR;
/* FLT_EINVAL naming the first REQUIRED option that is unset. */
flt_err flt_conf_check(const struct flt_conf_schema *s, const void *cfg, char *err,
                       size_t errlen) FLT_WUR;

/* Frees the strings CFG owns and zeroes them; CFG itself is the caller's. NULL ok. */
void flt_conf_free(const struct flt_conf_schema *s, void *cfg);

/* One line per option: name, type, default, help. */
void flt_conf_print_help(const struct flt_conf_schema *s, FILE *out);

/* Value parsers shared with command lines (e.g. --probation 10m). Each returns
 * FLT_EINVAL for a malformed value, FLT_ELIMIT for one that overflows; *OUT set
 * only on success. */
flt_err flt_conf_parse_size(const char *s, uint64_t *out) FLT_WUR;
flt_err flt_conf_parse_duration(const char *s, int64_t *seconds) FLT_WUR;
flt_err flt_conf_parse_bool(const char *s, bool *out) FLT_WUR;

#endif
