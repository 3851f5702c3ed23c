/* Can this release run on this device? Decided from the signed manifest and
 * the capabilities the device reports in up/state, by one function both sides
 * call: serve to skip a device before it signs anything, the agent in its
 * verifying step. Both must give the same answer, so the rule lives here. */
#ifndef FLT_COMPAT_H
#define FLT_COMPAT_H

#include <stddef.h>

#include "flt/manifest.h"
#include "flt/msg.h"
#include "flt/reason.h"

/* Returns FLT_REASON_NONE when `m` can run on the device described by `dev`,
 * else the first failing rule, checked in this order:
 *   WRONG_ARCH           agent release for another arch (flotilla-agent-<arch>),
 *                        or a model whose runtime.arch is neither "any" nor dev->arch
 *   INCOMPATIBLE_BOARD   compatible.boards non-empty without dev->board, or
 *                        dev->firmware_version below compatible.min_firmware_version
 *   AGENT_TOO_OLD        dev->agent_version below min_agent_version
 *   MODEL_INCOMPATIBLE   a format other than "onnx" or "generic", or an operator
 *                        whose domain has no opset in the manifest
 *   OPERATOR_UNSUPPORTED an operator (domain, op_type) the device lists at no version
 *   OPSET_UNSUPPORTED    the operator is listed, but no since..until range
 *                        covers the model's opset for its domain
 *   INSUFFICIENT_DISK    artifact + chunk index + golden bundle > dev->disk_free_bytes
 *   INSUFFICIENT_MEMORY  runtime.peak_memory > dev->ram_bytes
 * Domains "" and "ai.onnx" are the same. `detail` (may be NULL; cap bytes)
 * gets a one-line explanation for the event message. NULL m or dev: INTERNAL. */
enum flt_reason flt_compat_check(const struct flt_manifest *m, const struct flt_state *dev,
                                 char *detail, size_t cap);

#endif
