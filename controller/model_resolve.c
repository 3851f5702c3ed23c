/* Reference resolution: the one place NAME, NAME:VER, NAME:latest and
 * NAME@alias turn into a version row. */
#include <string.h>

#include "model_resolve.h"

flt_err reg_resolve(struct flt_registry *r, const struct flt_model_ref *ref,
                    struct reg_version *out)
{
	sqlite3_stmt *st;
	flt_err e;
	int row;
	switch (ref->kind) {
	case FLT_REF_VERSION:
		e = reg_stmt(r, REG_Q_RESOLVE_VERSION, &st);
		if (!e)
			e = reg_bind(r, st, "ti", ref->name, ref->version);
		break;
	case FLT_REF_ALIAS:
		e = reg_stmt(r, REG_Q_RESOLVE_ALIAS, &st);
		if (!e)
			e = reg_bind(r, st, "tt", ref->name, ref->alias);
		break;
	default:
		e = reg_stmt(r, REG_Q_RESOLVE_LATEST, &st);
		if (!e)
			e = reg_bind(r, st, "t", ref->name);
		break;
	}
	if (e)
		return e;
	if ((e = reg_step(r, st, &row)) != FLT_OK)
		return e;
	if (!row) {
		sqlite3_reset(st);
		return FLT_ENOTFOUND;
	}
	struct reg_version v;
	memset(&v, 0, sizeof(v));
	v.id = sqlite3_column_int64(st, 0);
	v.version = sqlite3_column_int64(st, 1);
	v.model_id = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	memcpy(v.name, ref->name, sizeof(v.name));
	flt_model_ref_format(v.name, v.version, v.ref, sizeof(v.ref));
	*out = v;
	return FLT_OK;
}
