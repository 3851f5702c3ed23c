/* Firmware update flow on the device: stream a verified image into the
 * inactive slot, record the slot's version only once the whole image is
 * written and its hash re-read from the slot, arm the next boot with tries,
 * reboot, and after boot confirm (callbacks) then mark good — or notice that
 * the bootloader fell back, report ROLLED_BACK and mark the version bad.
 *
 * State: <state_dir>/fwstate (atomic, failpoints "fw.state.*"); the image
 * bytes go through the slot backend (failpoints "slot.<backend>.image.*"). */
#ifndef FLT_FIRMWARE_H
#define FLT_FIRMWARE_H

#include <stdbool.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/reason.h"
#include "flt/slot.h"

#define FLT_FW_MAX_BAD    32
#define FLT_FW_DEPLOY_MAX 64

/* Confirmation after a boot into a new slot; both return true when healthy.
 * Provided by the agent (broker reachable, self-test inference passes). */
struct flt_fw_confirm {
	bool (*broker_reachable)(void *arg);
	bool (*self_test)(void *arg);
	void *arg;
};

struct flt_fw_cfg {
	const char *state_dir;    /* borrowed; created if missing */
	struct flt_slot_cfg slot; /* borrowed strings */
	int tries;                /* boot attempts for a new slot (0: 3) */
	const char *reboot_cmd;   /* e.g. "systemctl reboot"; NULL: caller reboots */
};

struct flt_fw;

enum flt_fw_outcome {
	FLT_FW_NOTHING = 0,    /* no update pending; the booted slot was marked good */
	FLT_FW_CONFIRMED,      /* booted the new slot, confirmed, marked good: success */
	FLT_FW_CONFIRM_FAILED, /* booted the new slot, not healthy: reboot to try again
	                        * (the bootloader falls back when tries run out) */
	FLT_FW_ROLLED_BACK,    /* the bootloader fell back; version marked bad */
	FLT_FW_REBOOT_PENDING, /* the new slot is armed but not booted yet: reboot */
};

struct flt_fw_report {
	enum flt_fw_outcome outcome;
	char name[FLT_FW_DEPLOY_MAX + 1]; /* release name ("" when unknown) */
	uint64_t version;                 /* the version concerned (0: none) */
	char deployment_id[FLT_FW_DEPLOY_MAX + 1];
	enum flt_reason reason; /* BOOT_FAILED for rolled back / confirm failed */
	int slot;               /* booted slot */
};

/* Opens the flow: loads state and the slot backend. *OUT owned (flt_fw_close).
 * FLT_EINVAL (config), FLT_EPARSE (corrupt state), backend and I/O errors. */
flt_err flt_fw_open(const struct flt_fw_cfg *cfg, struct flt_fw **out) FLT_WUR;
void flt_fw_close(struct flt_fw *fw);

/* Call once at every start, before anything else: works out what the last
 * boot means (see enum flt_fw_outcome) and persists it. CB is used only when
 * the booted slot is the one being tried. *REP set on success. */
flt_err flt_fw_boot(struct flt_fw *fw, const struct flt_fw_confirm *cb,
                    struct flt_fw_report *rep) FLT_WUR;

/* True when VERSION was marked bad under DEPLOYMENT_ID on this device (so it
 * must not be tried again unless a new deployment asks for it). */
bool flt_fw_is_bad(const struct flt_fw *fw, uint64_t version, const char *deployment_id);

/* Starts writing release NAME (an identifier, reported back in flt_fw_report)
 * VERSION (SIZE bytes, SHA256_HEX) into the inactive slot. The
 * slot's recorded version is cleared (durably) before the first byte, so a cut
 * write never leaves a slot claiming a version. A retry of the same version
 * rewrites it. FLT_EINCOMPAT with *REASON = MARKED_BAD when flt_fw_is_bad;
 * FLT_EBUSY when an update is already armed. */
flt_err flt_fw_begin(struct flt_fw *fw, const char *name, uint64_t version,
                     const char *deployment_id, uint64_t size, const char *sha256_hex,
                     enum flt_reason *reason) FLT_WUR;
/* Appends verified bytes (in order). Write errors: the update is abandoned. */
flt_err flt_fw_write(struct flt_fw *fw, const void *buf, size_t len) FLT_WUR;
/* Ends the write: makes it durable, re-reads the slot and checks size and hash
 * (FLT_EVERIFY, *REASON FILE_HASH_MISMATCH), records the version, then arms the
 * slot as next boot with the configured tries. Afterwards the caller reboots
 * (flt_fw_reboot). */
flt_err flt_fw_finish(struct flt_fw *fw, enum flt_reason *reason) FLT_WUR;
/* Abandons a write in progress (the slot's version stays cleared). */
void flt_fw_abort(struct flt_fw *fw);
/* Records that a reboot is under way and runs the configured reboot command
 * (FLT_EUNSUPPORTED when none is configured: the caller reboots). */
flt_err flt_fw_reboot(struct flt_fw *fw) FLT_WUR;

/* What the device runs and holds: the committed (booted and confirmed)
 * version, and the version recorded per slot (0: none or being written). */
uint64_t flt_fw_committed_version(const struct flt_fw *fw);
uint64_t flt_fw_slot_version(const struct flt_fw *fw, int slot);
/* The borrowed slot backend (for tests and status). */
struct flt_slot *flt_fw_slot(struct flt_fw *fw);

/* ---- /etc/flotilla/firmware.conf (flt/conf.h syntax) ---------------------------
 *   state_dir = /var/lib/flotilla/firmware
 *   tries = 3
 *   reboot_cmd = systemctl reboot
 *   broker_check = ...   command whose exit 0 means the broker is reachable
 *   self_test = ...      command whose exit 0 means a self-test inference passed
 *   [slot]  backend = dir|uboot|command, dir, fw_printenv, fw_setenv, device_a,
 *           device_b, booted_file, install_cmd, booted_cmd, mark_good_cmd,
 *           mark_bad_cmd, staging
 * Unknown keys are errors. */
struct flt_fw_conf {
	char *state_dir, *reboot_cmd, *broker_check, *self_test;
	int64_t tries;
	int backend; /* index into "dir", "uboot", "command" */
	char *dir, *fw_printenv, *fw_setenv, *device_a, *device_b, *booted_file;
	char *install_cmd, *booted_cmd, *mark_good_cmd, *mark_bad_cmd, *staging;
};

/* Loads PATH (NULL: defaults only) then the "key=value" overrides SETS. *CONF
 * set on success (flt_fw_conf_free). Errors as flt_conf_load; ERR says which key. */
flt_err flt_fw_conf_load(const char *path, const char *const *sets, size_t nsets,
                         struct flt_fw_conf *conf, char *err, size_t errlen) FLT_WUR;
void flt_fw_conf_free(struct flt_fw_conf *conf);
/* Fills CFG from CONF (strings borrowed from CONF). */
void flt_fw_conf_to_cfg(const struct flt_fw_conf *conf, struct flt_fw_cfg *cfg);

/* The boot report a start leaves in <state_dir>/boot-report (JSON, atomic) for
 * the agent to send as an event: {"outcome":"confirmed|rolled_back|...",
 * "name":"...","version":N,"deployment_id":"...","reason":"BOOT_FAILED|NONE","slot":"A|B"}. */
const char *flt_fw_outcome_name(enum flt_fw_outcome o);
flt_err flt_fw_write_report(const char *state_dir, const struct flt_fw_report *rep) FLT_WUR;

/* Kind-specific admission of a release whose envelope already verified: for
 * kind firmware, BOARD must be among the manifest's compatible boards (none
 * listed = any; INCOMPATIBLE_BOARD) and FIRMWARE_VERSION at least its
 * min_firmware_version; for kind agent, the release must be
 * flotilla-agent-ARCH for this device's ARCH (WRONG_ARCH) and newer than the
 * running AGENT_VERSION (VERSION_LOWER); for both, AGENT_VERSION at least
 * min_agent_version (AGENT_TOO_OLD). A model manifest is MALFORMED here.
 * FLT_OK, or FLT_EINCOMPAT with *REASON set (MSG, MSGLEN: one line). */
struct flt_manifest;
flt_err flt_fw_admit(const struct flt_manifest *m, const char *board, const char *arch,
                     uint64_t agent_version, uint64_t firmware_version, enum flt_reason *reason,
                     char *msg, size_t msglen) FLT_WUR;

#endif
