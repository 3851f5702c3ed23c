/* Glue between the agent's measurements, its queue and the wire: turns one
 * interval's health sample and usage snapshot into up/telemetry samples (flt/msg.h)
 * and queues them, and encodes a queue batch as the up/telemetry or up/events
 * payload. The daemon's telemetry tick is: sample, snapshot, flt_tbatch_enqueue;
 * when online: flt_tq_next_batch, flt_tbatch_encode, publish. */
#ifndef FLT_TELEMETRY_BATCH_H
#define FLT_TELEMETRY_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/health.h"
#include "flt/mqtt.h"
#include "flt/msg.h"
#include "flt/telemetry_queue.h"
#include "flt/usage.h"

/* Queue stream names (the same strings as flt_stream_name()). */
#define FLT_TBATCH_TELEMETRY "telemetry"
#define FLT_TBATCH_EVENTS    "events"

/* Copies the MQTT session's cumulative byte counters (flt_mqtt_get_stats) into the
 * health sampler's purposes (the two enums order the purposes differently). */
void flt_tbatch_mqtt_counters(const struct flt_mqtt_stats *st, struct flt_health_mqtt *out);

/* Fills OUT with the wire health sample for H over INTERVAL_S seconds. MQTT byte
 * counts on the wire are deltas: H's cumulative counters minus PREV (may be NULL:
 * everything counts; a counter below PREV, as after a restart, counts in full).
 * Values beyond the wire's ranges are clamped. seq is left 0 (the queue assigns it). */
void flt_tbatch_health(const struct flt_health_sample *h, const struct flt_health_mqtt *prev,
                       uint64_t interval_s, struct flt_sample *out);

/* Fills OUT with the wire usage sample of E at TIME_S (Unix seconds) over
 * INTERVAL_S; latencies are E's p50/p95/p99 in microseconds; crashes 0 (the
 * daemon sets them). FLT_EINVAL if E's version is 0. */
FLT_WUR flt_err flt_tbatch_model(const struct flt_usage_entry *e, int64_t time_s,
                                 uint64_t interval_s, struct flt_sample *out);

/* Encodes H (with PREV, as flt_tbatch_health) and every entry of U (may be NULL) and
 * appends them to the queue's telemetry stream, health first, one durable append each.
 * *APPENDED (may be NULL) gets how many were appended, also on failure (the interval
 * may then be partly queued). Errors: those of flt_sample_item_encode and
 * flt_tq_append. */
FLT_WUR flt_err flt_tbatch_enqueue(struct flt_tq *q, const struct flt_health_sample *h,
                                   const struct flt_health_mqtt *prev,
                                   const struct flt_usage_snapshot *u, uint64_t interval_s,
                                   size_t *appended);

/* Encodes queue batch B (stream "telemetry" or "events", at most
 * FLT_MAX_STREAM_BATCH items) as the JSON payload of up/telemetry or up/events,
 * with B's epoch, low_seq, dropped and each item's seq. *OUT is owned by the caller
 * (flt_free). Errors: FLT_EINVAL (another stream, too many items), FLT_EPARSE (a
 * stored item does not decode: written by an incompatible agent version), FLT_ENOMEM. */
FLT_WUR flt_err flt_tbatch_encode(const struct flt_tq_batch *b, char **out, size_t *len);

#endif
