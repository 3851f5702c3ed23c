/* The controller's audit log: who did what (register, promote, rollout, key
 * and device operations), when, and with what outcome, in the registry's
 * audit_log table; `flotilla audit list` shows it with the security refusals
 * devices report. Commands call flt_audit_record() once per operation. */
#ifndef FLT_AUDIT_H
#define FLT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"

struct flt_registry;

/* Appends one entry. actor NULL: the invoking user (flt_audit_actor). action
 * like "keys.rotate", target what it acted on ("release:<keyid>", a device
 * id, "model:3"), outcome "ok", "failed" or "refused", detail may be NULL.
 * Runs in the caller's transaction when one is open, else on its own.
 * Strings are truncated to 256 bytes (detail 1024). FLT_EINVAL, registry errors. */
FLT_WUR flt_err flt_audit_record(struct flt_registry *reg, const char *actor, const char *action,
                                 const char *target, const char *outcome, const char *detail);

/* flt_audit_record for callers whose operation stands whatever happens to
 * its audit row (a failure is logged there). */
void flt_audit_note(struct flt_registry *reg, const char *actor, const char *action,
                    const char *target, const char *outcome, const char *detail);

/* The invoking user: $SUDO_USER when set (the person behind sudo), else the
 * effective user's name, else "uid:<n>". */
void flt_audit_actor(char *buf, size_t cap);

#endif
