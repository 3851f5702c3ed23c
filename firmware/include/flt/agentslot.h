/* Agent self-update: two agent slots under one directory
 * (<dir>/slot-a/flotilla-agent, <dir>/slot-b/flotilla-agent) and a state file
 * <dir>/state (atomic, failpoints "agentslot.*"). A new binary is written to the
 * inactive slot only, so the running one is never overwritten; the supervisor
 * starts the pending slot at most N times and goes back to the previous agent
 * unless the new one confirmed (connected and passed its self-test). */
#ifndef FLT_AGENTSLOT_H
#define FLT_AGENTSLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/slot.h"

#define FLT_AGENTSLOT_BINARY "flotilla-agent"
/* Environment the supervisor gives the agent: which slot it runs from, and the
 * agent-slot directory (for flt_agentslot_confirm). */
#define FLT_AGENTSLOT_ENV_SLOT "FLT_AGENT_SLOT"
#define FLT_AGENTSLOT_ENV_DIR  "FLT_AGENT_SLOT_DIR"

struct flt_agentslot_state {
	int active;           /* slot of the last confirmed agent */
	int pending;          /* slot being tried, or FLT_SLOT_NONE */
	int starts_left;      /* starts the pending slot still gets */
	uint64_t version[2];  /* agent version per slot (0: unknown/none) */
	uint64_t rolled_back; /* last version that failed to confirm (0: none) */
};

/* Reads <dir>/state; a missing file is a fresh device: slot A active, nothing
 * pending. FLT_EPARSE when corrupt. *ST set on success. */
flt_err flt_agentslot_load(const char *dir, struct flt_agentslot_state *st) FLT_WUR;

/* Copies the verified binary SRC (SHA256_HEX) into the inactive slot (temp
 * file, fsync, mode 0755, rename, directory fsync), re-hashes what landed,
 * and makes it pending with STARTS starts (>= 1). FLT_EVERIFY on a hash
 * mismatch (nothing pending then); I/O errors. The next (re)start of the agent
 * by the supervisor runs it. */
flt_err flt_agentslot_install(const char *dir, const char *src, uint64_t version,
                              const char *sha256_hex, int starts) FLT_WUR;

/* Called by the new agent once it is healthy (broker reached, self-test
 * passed): SLOT becomes active. FLT_OK also when SLOT already is active;
 * FLT_EINVAL when SLOT is neither active nor pending. */
flt_err flt_agentslot_confirm(const char *dir, int slot) FLT_WUR;

/* Supervisor: decides which slot to start now and persists the decision (the
 * pending slot spends one start; with none left the previous agent comes back
 * and *ROLLED_BACK_VERSION, if not NULL, gets the version given up, else 0).
 * *SLOT set on success. */
flt_err flt_agentslot_next_start(const char *dir, int *slot, uint64_t *rolled_back_version) FLT_WUR;

/* Path of the binary in SLOT into OUT (CAP bytes). FLT_ELIMIT if too long. */
flt_err flt_agentslot_binary(const char *dir, int slot, char *out, size_t cap) FLT_WUR;

/* The supervisor's command line (flotilla-supervisor): parses ARGV and runs
 * the supervise loop or the confirm command. Returns the exit code. */
int flt_supervisor_main(int argc, char **argv);

#endif
