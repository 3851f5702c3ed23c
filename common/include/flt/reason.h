/* Reason codes that travel to the controller in events, reported state and
 * decoder errors. Stable names (UPPER_SNAKE) are the wire form; the list is
 * documented with one line each in docs/protocol.md. Add only at the end of a
 * group; never renumber or rename: the controller stores the names. */
#ifndef FLT_REASON_H
#define FLT_REASON_H

#include <stdbool.h>

#include "flt/error.h"

/* X(NAME, "one-line meaning") */
#define FLT_REASONS(X)                                                                             \
	X(NONE, "no error")                                                                        \
	/* decoding: before anything else happens */                                               \
	X(MALFORMED,                                                                               \
	  "bytes that do not decode: bad JSON, missing/ill-typed/duplicate/unknown key")           \
	X(TOO_LARGE, "a message, string, array or size exceeds its limit")                         \
	X(UNSUPPORTED_PROTOCOL, "unknown protocol or schema version")                              \
	X(WRONG_PAYLOAD_TYPE, "envelope payloadType is not the one expected here")                 \
	/* trust */                                                                                \
	X(BAD_SIGNATURE, "a signature does not verify")                                            \
	X(UNTRUSTED_KEY, "signed only by keys that are not trusted")                               \
	X(THRESHOLD_UNMET, "fewer distinct trusted keys of the required role than the threshold")  \
	X(KEY_REVOKED, "signed by a key the current key list no longer holds")                     \
	X(WRONG_ROLE, "signed by a trusted key of the wrong role")                                 \
	X(EXPIRED, "the document or the key list has expired")                                     \
	X(CLOCK_UNSYNCED, "the device clock is not trustworthy, so expiry cannot be checked")      \
	X(OLD_SERIAL, "serial not greater than the last one accepted")                             \
	X(WRONG_DEVICE, "desired state names another device")                                      \
	/* admission */                                                                            \
	X(VERSION_LOWER, "release version lower than the committed one")                           \
	X(MARKED_BAD, "version marked bad earlier; retried only under a new deployment_id")        \
	X(WRONG_ARCH, "release built for another CPU architecture")                                \
	X(INCOMPATIBLE_BOARD, "firmware release not made for this board")                          \
	X(AGENT_TOO_OLD, "release needs a newer agent (min_agent_version)")                        \
	X(OPERATOR_UNSUPPORTED, "the runtime lacks an operator the model uses")                    \
	X(OPSET_UNSUPPORTED, "the model needs an opset this runtime does not implement")           \
	X(MODEL_INCOMPATIBLE, "format or IR version the runtime cannot run")                       \
	X(INSUFFICIENT_DISK, "not enough free disk for the artifact")                              \
	X(INSUFFICIENT_MEMORY, "not enough memory for the model's peak")                           \
	/* download and check */                                                                   \
	X(CHUNK_INDEX_MISMATCH, "chunk index does not hash to the manifest's value")               \
	X(CHUNK_HASH_MISMATCH, "a chunk does not hash to its chunk-index entry")                   \
	X(FILE_HASH_MISMATCH, "the assembled artifact does not hash to the manifest's value")      \
	X(DOWNLOAD_STALLED, "no chunk progress within the fetch deadline")                         \
	X(IO_ERROR, "local storage failed (write, fsync, rename)")                                 \
	/* test and activate */                                                                    \
	X(LOAD_FAILED, "the artifact does not load or plan in the runtime")                        \
	X(SIGNATURE_MISMATCH, "model inputs/outputs differ from the manifest's signature")         \
	X(GOLDEN_MISMATCH, "outputs on the golden vectors differ beyond rtol/atol")                \
	X(ACTIVATION_FAILED, "the atomic switch to the new version failed")                        \
	/* probation: reasons for rolled_back */                                                   \
	X(ERROR_RATE, "inference error rate above max_error_rate during probation")                \
	X(CRASHES, "more crashes than max_crashes during probation")                               \
	X(LATENCY, "p99 latency above latency_ms_max during probation")                            \
	X(BOOT_FAILED, "new firmware or agent did not confirm a healthy start")                    \
	/* other */                                                                                \
	X(SUPERSEDED, "a newer desired state replaced this install before it finished")            \
	X(INTERNAL, "a bug or an unexpected local failure; see the message")                       \
	X(QUEUE_RESET,                                                                             \
	  "the outbound queue file was unreadable and moved aside; what it held is lost")

enum flt_reason {
#define FLT_REASON_ENUM_(n, m) FLT_REASON_##n,
	FLT_REASONS(FLT_REASON_ENUM_)
#undef FLT_REASON_ENUM_
	    FLT_REASON_COUNT_
};

/* Wire name, e.g. "BAD_SIGNATURE"; never NULL ("INTERNAL" for out-of-range values). */
const char *flt_reason_name(enum flt_reason r);

/* One-line meaning; never NULL. */
const char *flt_reason_meaning(enum flt_reason r);

/* Looks up a wire name (exact, case-sensitive). Sets *out and returns true if
 * known; false (and *out untouched) otherwise, including for NULL. */
bool flt_reason_from_name(const char *s, enum flt_reason *out);

/* The reason a decoder failure with generic error `e` maps to:
 * FLT_OK -> NONE, EPARSE/EINVAL -> MALFORMED, ELIMIT -> TOO_LARGE,
 * EUNSUPPORTED -> UNSUPPORTED_PROTOCOL, EIO -> IO_ERROR, anything else -> INTERNAL. */
enum flt_reason flt_reason_from_err(flt_err e);

#endif
