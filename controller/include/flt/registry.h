/* The model registry: SQLite (WAL, numbered migrations) plus a content-addressed
 * blob store in the controller's data directory. This header is the part other
 * modules, tests and benchmarks use: opening the registry, parsing model
 * references, and classifying signature changes between two versions. */
#ifndef FLT_REGISTRY_H
#define FLT_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/runtime.h"

#define FLT_REGISTRY_NAME_MAX 64

struct flt_registry;

/* Opens <data_dir>/registry.db, creating the directory, database and blob
 * store when `create` is non-zero, and applies pending migrations (each in
 * one transaction). On success *out is owned by the caller.
 * Errors: FLT_ENOTFOUND (no registry and create == 0), FLT_EINCOMPAT (made by
 * a newer build), FLT_EIO, FLT_EPARSE (not a registry), FLT_EBUSY, FLT_ENOMEM. */
FLT_WUR flt_err flt_registry_open(const char *data_dir, int create, struct flt_registry **out);

/* Closes the registry; accepts NULL. */
void flt_registry_close(struct flt_registry *r);

/* Returns the schema version this build writes (the last migration's number). */
int flt_registry_schema_version(void);

/* Returns 1 when `name` is a valid model name: [a-z0-9][a-z0-9._-]{0,63},
 * never "." or "..". */
int flt_registry_name_valid(const char *name);

/* ---- model references: NAME, NAME:VER, NAME:latest, NAME@alias ------------ */

enum flt_ref_kind {
	FLT_REF_LATEST = 0, /* NAME or NAME:latest */
	FLT_REF_VERSION,    /* NAME:3 */
	FLT_REF_ALIAS,      /* NAME@alias */
};

struct flt_model_ref {
	char name[FLT_REGISTRY_NAME_MAX + 1];
	enum flt_ref_kind kind;
	int explicit_latest;                   /* 1 when written NAME:latest */
	int64_t version;                       /* FLT_REF_VERSION: >= 1 */
	char alias[FLT_REGISTRY_NAME_MAX + 1]; /* FLT_REF_ALIAS; same rules as names */
};

/* Parses a reference. *out is set only on success.
 * Errors: FLT_EINVAL (bad name, version not a positive integer, bad alias). */
FLT_WUR flt_err flt_model_ref_parse(const char *s, struct flt_model_ref *out);

/* Writes the canonical text of a resolved reference ("name:3") into buf. */
void flt_model_ref_format(const char *name, int64_t version, char *buf, size_t cap);

/* ---- signature diff ------------------------------------------------------- */

struct flt_sig_change {
	int breaking;     /* 1 breaking, 0 compatible */
	int output;       /* 0 input, 1 output */
	char name[128];   /* tensor name */
	char reason[256]; /* one line, e.g. "input 'x' dim 0: 1 -> N (accepts more)" */
};

/* Compares one side (inputs or outputs, per `outputs`) of two signatures, A
 * then B, from the point of view of an application written against A: what
 * it feeds (inputs) and what it reads (outputs). Appends one change per
 * difference to *changes (an owned array, grown with flt_reallocarray; pass
 * NULL and 0 to start) and updates *n. Unchanged tensors add nothing.
 * Errors: FLT_ENOMEM (what was appended so far stays valid). */
FLT_WUR flt_err flt_sig_diff(const struct flt_rt_value_info *a, size_t na,
                             const struct flt_rt_value_info *b, size_t nb, int outputs,
                             struct flt_sig_change **changes, size_t *n);

#endif
