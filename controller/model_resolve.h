/* Private: resolving a parsed model reference to a live version row. */
#ifndef MODEL_RESOLVE_H
#define MODEL_RESOLVE_H

#include "cli_args.h"
#include "registry_db.h"

/* NAME and NAME:latest skip archived versions; NAME:VER and NAME@alias do not.
 * Deleted versions never resolve. Errors: FLT_ENOTFOUND, database errors. */
FLT_WUR flt_err reg_resolve(struct flt_registry *r, const struct flt_model_ref *ref,
                            struct reg_version *out);

#endif
