/* The audit log writer: one row per controller operation, with the invoking
 * user as actor. Never fails the operation it records (callers log and go on). */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FLT_LOG_MODULE "audit"
#include "flt/audit.h"
#include "flt/log.h"
#include "registry_db.h"

void flt_audit_actor(char *buf, size_t cap)
{
	const char *sudo = getenv("SUDO_USER");
	if (sudo && *sudo) {
		snprintf(buf, cap, "%s", sudo);
		return;
	}
	struct passwd pw, *res = NULL;
	char tmp[1024];
	if (getpwuid_r(geteuid(), &pw, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(buf, cap, "%s", res->pw_name);
	else
		snprintf(buf, cap, "uid:%u", (unsigned)geteuid());
}

flt_err flt_audit_record(struct flt_registry *reg, const char *actor, const char *action,
                         const char *target, const char *outcome, const char *detail)
{
	char who[257], a[257], t[257], o[257], d[1025];
	if (!reg || !action || !target || !outcome)
		return FLT_EINVAL;
	if (actor)
		snprintf(who, sizeof(who), "%s", actor);
	else
		flt_audit_actor(who, sizeof(who));
	snprintf(a, sizeof(a), "%s", action);
	snprintf(t, sizeof(t), "%s", target);
	snprintf(o, sizeof(o), "%s", outcome);
	snprintf(d, sizeof(d), "%s", detail ? detail : "");
	int64_t now = reg_now_ms();
	flt_err e = reg_exec(reg, REG_Q_AUDIT_INSERT, "ittttt", now, who, a, t, o, d);
	if (e)
		flt_log_warn("audit entry %s %s not recorded: %s", a, t, flt_strerror(e));
	return e;
}

void flt_audit_note(struct flt_registry *reg, const char *actor, const char *action,
                    const char *target, const char *outcome, const char *detail)
{
	if (flt_audit_record(reg, actor, action, target, outcome, detail) != FLT_OK)
		flt_log_dbg("audit row for %s lost (logged above)", action ? action : "?");
}
