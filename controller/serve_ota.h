/* Release envelopes of kind firmware and agent, signed from the
 * firmware_releases / agent_releases tables (private to the controller). */
#ifndef FLT_SERVE_OTA_H
#define FLT_SERVE_OTA_H

#include <stdint.h>

#include "flt/error.h"
#include "flt/keystore.h"
#include "registry_db.h"

/* Signs a release envelope for firmware NAME:VERSION (KIND firmware;
 * compatible = the registered board) or for the agent release of arch NAME at
 * VERSION (KIND agent; named flotilla-agent-<arch>, arch in the manifest).
 * Builds the chunk index with CHUNK_SIZE and pins it in the blob store, so
 * the chunk server can serve both by hash; valid from NOW for VALIDITY_S.
 * *ENVELOPE (owned, flt_free) is the compact envelope JSON. FLT_ENOTFOUND (no
 * such release), FLT_EINVAL (bad arguments, no release key), FLT_EIO (blob
 * unreadable), FLT_ENOMEM, registry errors. */
FLT_WUR flt_err serve_ota_sign(struct flt_registry *r, const flt_keystore *ks, int kind,
                               const char *name, uint64_t version, uint32_t chunk_size, int64_t now,
                               int64_t validity_s, char **envelope);

#endif
