/* Private: the JSON description of one model version (model show, diff). */
#ifndef SHOW_VERSION_H
#define SHOW_VERSION_H

#include <cjson/cJSON.h>

#include "cli_args.h"
#include "registry_db.h"

/* Builds the full description of version v; *out owned by the caller.
 * Errors: FLT_ENOMEM, database errors. */
FLT_WUR flt_err show_version(struct flt_registry *r, const struct reg_version *v, cJSON **out);

/* Adds an ISO-8601 UTC time for a Unix-ms value. */
void show_add_time(cJSON *o, const char *key, int64_t ms);
/* Adds a string, or null when s is NULL. */
void show_add_text(cJSON *o, const char *key, const char *s);

#endif
