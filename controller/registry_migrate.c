/* Numbered schema migrations: controller/sql/NNNN_*.sql, embedded at build
 * time, applied in order, each inside one BEGIN IMMEDIATE transaction that
 * also records it in schema_version, so a crash leaves a whole schema. */
#define FLT_LOG_MODULE "registry"
#include "flt/log.h"
#include "registry_db.h"

flt_err reg_schema_version(struct flt_registry *r, int *out)
{
	int64_t v = 0;
	flt_err e = reg_query_int(r, REG_Q_SCHEMA_VERSION_GET, &v, "");
	if (e == FLT_ENOTFOUND)
		v = 0;
	else if (e)
		return e;
	*out = (int)v;
	return FLT_OK;
}

flt_err reg_migrate(struct flt_registry *r)
{
	int have = 0;
	flt_err e;
	/* Creating the version table is idempotent and harmless outside a
	 * migration; every reader can then ask for the version. */
	if ((e = reg_exec(r, REG_Q_SCHEMA_VERSION_CREATE, "")) != FLT_OK)
		return e;
	if ((e = reg_schema_version(r, &have)) != FLT_OK)
		return e;
	if (have > flt_registry_schema_version()) {
		flt_log_err("registry schema %d is newer than this build's %d", have,
		            flt_registry_schema_version());
		return FLT_EINCOMPAT;
	}
	for (size_t i = 0; i < reg_n_migrations; i++) {
		const struct reg_migration *m = &reg_migrations[i];
		if (m->number <= have)
			continue;
		if ((e = reg_begin(r)) != FLT_OK)
			return e;
		/* Another process may have migrated while we waited for the lock. */
		int now = 0;
		if ((e = reg_schema_version(r, &now)) != FLT_OK)
			goto fail;
		if (now >= m->number) {
			reg_rollback(r);
			have = now;
			continue;
		}
		if ((e = reg_exec_raw(r, m->sql, m->file)) != FLT_OK)
			goto fail;
		if ((e = reg_exec(r, REG_Q_SCHEMA_VERSION_SET, "ii", (int64_t)m->number,
		                  reg_now_ms())) != FLT_OK)
			goto fail;
		if ((e = reg_commit(r)) != FLT_OK)
			return e;
		flt_log_info("registry schema upgraded to %d (%s)", m->number, m->file);
		have = m->number;
	}
	return FLT_OK;
fail:
	reg_rollback(r);
	return e;
}
