/* Private: rollouts, shared by `flotilla rollout …` / `model update` /
 * `model alias set --rollout` (creation, stop) and `flotilla serve` (the
 * engine tick). All state lives in the registry (schema 8); docs/rollouts.md. */
#ifndef ROLLOUT_H
#define ROLLOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "registry_db.h"

struct rollout_params {
	const char *kind;   /* "model" (firmware/agent: the OTA issue) */
	const char *action; /* "install" or "remove" */
	const char *name;   /* release name */
	int64_t version_id; /* install: the resolved version; remove: 0 */
	const char *ref;    /* resolved reference text, for display ("digits:3") */
	/* group:G, tag:k=v, device:ID[,ID…], all, or running (devices that have
	 * or are asked to run `name`: what `model update --all` targets). */
	const char *target;
	const char *canary;       /* "N" or "P%"; NULL: 1 */
	const char *wave;         /* "N" or "P%"; NULL: all remaining */
	const char *max_failures; /* "N" or "P%"; NULL: 0 */
	int64_t probation_s;      /* 0: 300 */
	int64_t deadline_s;       /* 0: 3600 */
	bool supersede;
	int64_t update_request_id; /* 0: none */
};

/* Creates a rollout in one write transaction (the caller must not hold one):
 * resolves the target to devices, checks each device's compatibility (skipped
 * with the reason, never sent), assigns canary and waves. *id set on success.
 * Errors, with a one-line explanation in why: FLT_EINVAL (bad target or size),
 * FLT_ENOTFOUND (no such group/device, or no device matches), FLT_ECONFLICT
 * (a device is in another active rollout of the same release and !supersede),
 * registry errors. */
FLT_WUR flt_err rollout_create(struct flt_registry *r, const struct rollout_params *p,
                               int64_t now_ms, int64_t *id, char *why, size_t cap);

/* Stops rollout id in one write transaction: state becomes `state` ("halted"
 * or "aborted") with `reason`; every started device that has not committed
 * gets its previous desired entry back (or none), devices not started are
 * cancelled; when rollback_committed, devices that committed are moved to a
 * new, higher version re-signing their previous artifact (lineage
 * rollback-of). FLT_ENOTFOUND, FLT_EINVAL (not running or paused), registry
 * errors. */
FLT_WUR flt_err rollout_stop(struct flt_registry *r, int64_t id, const char *state,
                             const char *reason, bool rollback_committed, int64_t now_ms);

/* One engine pass over every running rollout: turns pending model update
 * requests into rollouts, folds device reports into per-device states, fails
 * devices past their deadline, halts a rollout whose failures exceed its limit,
 * and starts the next wave when the current one is done. *changed tells
 * whether desired state changed (serve then reconciles). Registry errors. */
FLT_WUR flt_err rollout_tick(struct flt_registry *r, int64_t now_ms, bool *changed);

/* Resets every cached statement of r, so no read snapshot outlives a pass. */
void rollout_db_idle(struct flt_registry *r);

/* True for device states that end a device's part in a wave. */
bool rollout_state_final(const char *state);

#endif
