/* Private: `flotilla serve` pieces shared between its files (release signing,
 * desired state, chunk server, ingest) and the CLI commands that reuse them
 * (model export, device show). */
#ifndef SERVE_H
#define SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "flt/keystore.h"
#include "flt/msg.h"
#include "registry_db.h"

/* Resets every cached statement of r. A statement left after its first row
 * keeps a read snapshot open; a later write on this connection would then
 * fail with SQLITE_BUSY_SNAPSHOT once another process (the CLI) has written.
 * serve calls this before its writes and once per loop turn. */
void serve_db_idle(struct flt_registry *r);

/* Topic of one device: "flotilla/v1/dev/<id>/<suffix>". */
FLT_WUR flt_err serve_topic(char *buf, size_t cap, const char *device_id, const char *suffix);

/* Largest chunk payload for a packet limit `max_packet` (0: none) so that the
 * chunk message on the longest per-device topic fits, capped at cap; 0 when
 * nothing fits. */
uint32_t serve_chunk_size_for(uint64_t max_packet, uint32_t cap);

/* Signs a release envelope for model version `version_id` with chunks of
 * `chunk_size` bytes: builds the chunk index (stored as a blob), the manifest
 * (flt/manifest.h) and the DSSE envelope with the release key, valid from now
 * for validity_s, and records it in release_envelopes in one write
 * transaction. *env_id (optional) gets the row id. FLT_ENOTFOUND (version
 * deleted or without bytes), FLT_EIO, FLT_ENOMEM, registry errors. */
FLT_WUR flt_err release_sign(struct flt_registry *r, const flt_keystore *ks, int64_t version_id,
                             uint32_t chunk_size, int64_t now, int64_t validity_s, int64_t *env_id);

/* An envelope for version_id usable now: not stale, valid beyond now +
 * margin_s, chunks at most max_chunk. *env_id, *chunk_size set; *envelope
 * (owned, flt_free) set when non-NULL. FLT_ENOTFOUND if none. */
FLT_WUR flt_err release_find(struct flt_registry *r, int64_t version_id, int64_t now,
                             int64_t margin_s, uint32_t max_chunk, int64_t *env_id,
                             uint32_t *chunk_size, char **envelope);

/* Why a device cannot run model version version_id, from its reported state
 * (NULL: unknown yet, which is not a reason). Writes a one-line reason starting
 * with a reason code into why and returns false; true when it can. */
bool serve_device_can_run(struct flt_registry *r, int64_t version_id, const struct flt_state *st,
                          char *why, size_t cap);

#endif
