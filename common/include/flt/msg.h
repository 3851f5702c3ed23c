/* The unsigned MQTT messages between agent and controller: reported state
 * (up/state), status (up/status), events (up/events), telemetry
 * (up/telemetry), chunk requests (up/fetch) and acknowledgements (down/ack).
 * Each has a strict decoder (bytes in, validated struct out), a validator and
 * an encoder; docs/protocol.md shows each on the wire.
 *
 * Common to every decoder here: refuses what flt_json_parse refuses (size over
 * the FLT_MAX_*_BYTES of flt/protocol.h, depth, duplicate keys), an unknown
 * "v" (FLT_EUNSUPPORTED, UNSUPPORTED_PROTOCOL), unknown/missing/ill-typed keys,
 * numbers above 2^53-1 or negative where a count or size is meant, strings
 * that are not UTF-8 or too long, identifiers failing flt/ident.h (FLT_EPARSE,
 * MALFORMED; FLT_ELIMIT, TOO_LARGE for limits). FLT_EINVAL for NULL
 * arguments, FLT_ENOMEM. err (may be NULL) gets reason and field. Out-params
 * are set only on success. Encoders validate first (FLT_EINVAL) and return
 * compact JSON in a new buffer owned by the caller (flt_free).
 */
#ifndef FLT_MSG_H
#define FLT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/ident.h"
#include "flt/json.h"
#include "flt/manifest.h"
#include "flt/protocol.h"
#include "flt/reason.h"

/* ---- install steps ----------------------------------------------------------- */

enum flt_step {
	FLT_STEP_VERIFYING = 0,
	FLT_STEP_DOWNLOADING,
	FLT_STEP_CHECKING,
	FLT_STEP_TESTING,
	FLT_STEP_ACTIVATING,
	FLT_STEP_PROBATION,
	FLT_STEP_COMMITTED,
	FLT_STEP_FAILED,      /* before activation; reason says why */
	FLT_STEP_ROLLED_BACK, /* after activation; reason says why */
	FLT_STEP_COUNT_
};

/* "verifying", ..., "rolled_back"; "?" when out of range. */
const char *flt_step_name(enum flt_step s);
bool flt_step_from_name(const char *s, enum flt_step *out);

/* ---- up/status ----------------------------------------------------------------- */

/* {"v":1,"status":"online"|"offline"}; the agent's Last Will is the offline form. */
struct flt_status {
	bool online;
};

FLT_WUR flt_err flt_status_parse(const char *buf, size_t len, struct flt_status *out,
                                 struct flt_json_err *err);
FLT_WUR flt_err flt_status_encode(const struct flt_status *s, char **out, size_t *len);

/* ---- up/state ------------------------------------------------------------------ */

#define FLT_STATE_MAX_OPERATORS       1024
#define FLT_STATE_MAX_RELEASES        64
#define FLT_STATE_MAX_INSTALLED       4
#define FLT_STATE_MAX_RUNTIME_VERSION 32
#define FLT_MQTT_MAX_PACKET           268435455u /* MQTT's own limit */

/* An operator the runtime implements, for opset versions since..until
 * inclusive (until = 0: still current). */
struct flt_op_support {
	char domain[FLT_MANIFEST_MAX_DOMAIN + 1];
	char op_type[FLT_MANIFEST_MAX_OPTYPE + 1];
	uint64_t since, until;
};

/* What the device has of one release name. Versions are 0 when absent. */
struct flt_state_release {
	enum flt_kind kind;
	char name[FLT_IDENT_MAX + 1];
	uint64_t installed[FLT_STATE_MAX_INSTALLED]; /* versions on disk, ascending */
	size_t n_installed;
	uint64_t active;    /* serving now */
	uint64_t committed; /* passed probation; never goes down */
	/* The latest deployment the agent worked on for this name, if any. */
	bool has_deployment;
	char deployment_id[FLT_IDENT_MAX + 1];
	uint64_t deployment_version;
	enum flt_step step;
	enum flt_reason reason; /* NONE unless step is failed or rolled_back */
};

struct flt_state {
	char device_id[FLT_IDENT_MAX + 1];
	int64_t time;                  /* Unix seconds when reported */
	char arch[FLT_IDENT_MAX + 1];  /* "aarch64", "armhf", "x86_64" */
	char board[FLT_IDENT_MAX + 1]; /* matched against a manifest's compatible.boards */
	uint64_t ram_bytes;
	uint64_t disk_free_bytes;
	uint64_t
	    max_packet_size;    /* largest MQTT packet the device accepts, 1..FLT_MQTT_MAX_PACKET */
	uint64_t agent_version; /* >= 1 */
	char runtime_version[FLT_STATE_MAX_RUNTIME_VERSION + 1];
	uint64_t firmware_version; /* 0 when unknown */
	bool clock_synced;
	struct flt_op_support *operators; /* owned array */
	size_t n_operators;
	struct flt_state_release *releases; /* owned array; (kind, name) unique */
	size_t n_releases;
	bool has_last_error;
	enum flt_reason last_error_reason;
	char last_error_message[FLT_MAX_MESSAGE + 1];
};

FLT_WUR flt_err flt_state_parse(const char *buf, size_t len, struct flt_state **out,
                                struct flt_json_err *err);
FLT_WUR flt_err flt_state_validate(const struct flt_state *s, struct flt_json_err *err);
FLT_WUR flt_err flt_state_encode(const struct flt_state *s, char **out, size_t *len);
void flt_state_free(struct flt_state *s);

/* ---- streams: up/events, up/telemetry, down/ack ---------------------------------- */

enum flt_stream { FLT_STREAM_TELEMETRY = 0, FLT_STREAM_EVENTS, FLT_STREAM_COUNT_ };
/* "telemetry", "events"; "?" when out of range. */
const char *flt_stream_name(enum flt_stream s);
bool flt_stream_from_name(const char *s, enum flt_stream *out);

/* One stored item of a stream as the agent's queue holds it: the item's JSON
 * text without "seq" (from flt_event_item_encode / flt_sample_item_encode)
 * and the sequence number the queue gave it. Borrowed. */
struct flt_stream_item {
	uint64_t seq;
	const char *data;
	size_t len;
};

/* Batch header shared by events and telemetry. epoch 1..2^53-1; items carry
 * strictly increasing seq >= 1; low_seq (<= first item's seq) is the lowest
 * sequence the device still holds; dropped counts items lost to the queue
 * bound since the epoch began (cumulative). */
#define FLT_MAX_STREAM_BATCH 256

struct flt_event {
	uint64_t seq;
	int64_t time;
	enum flt_kind kind;
	char name[FLT_IDENT_MAX + 1];
	uint64_t version;
	char deployment_id[FLT_IDENT_MAX +
	                   1]; /* "" when the step has no deployment (local install) */
	enum flt_step step;
	enum flt_reason reason; /* NONE unless failed/rolled_back (or a refusal in verifying) */
	char message[FLT_MAX_MESSAGE + 1]; /* may be "" */
};

struct flt_event_batch {
	uint64_t epoch, low_seq, dropped;
	struct flt_event *events; /* owned array, 1..FLT_MAX_STREAM_BATCH */
	size_t n;
};

FLT_WUR flt_err flt_events_parse(const char *buf, size_t len, struct flt_event_batch **out,
                                 struct flt_json_err *err);
FLT_WUR flt_err flt_events_validate(const struct flt_event_batch *b, struct flt_json_err *err);
FLT_WUR flt_err flt_events_encode(const struct flt_event_batch *b, char **out, size_t *len);
void flt_events_free(struct flt_event_batch *b);
/* One event as a queue item (no "seq"), and back. The item decoder leaves seq 0. */
FLT_WUR flt_err flt_event_item_encode(const struct flt_event *e, char **out, size_t *len);
FLT_WUR flt_err flt_event_item_parse(const char *buf, size_t len, struct flt_event *out,
                                     struct flt_json_err *err);
/* Builds a batch from queue items (each decoded strictly, seq taken from the
 * item); FLT_EPARSE if a stored item does not decode. *out owned. */
FLT_WUR flt_err flt_events_from_items(uint64_t epoch, uint64_t low_seq, uint64_t dropped,
                                      const struct flt_stream_item *items, size_t n,
                                      struct flt_event_batch **out, struct flt_json_err *err);

/* Telemetry samples: a health snapshot of the device or the consumption of
 * one model version. Counters are deltas over the interval_s seconds ending at
 * `time`; gauges are values at `time`. Shapes follow what agent/health.c and
 * agent/usage.c measure (docs/telemetry.md). */

/* What MQTT payload bytes were spent on, as telemetry reports it (same order
 * as agent/health.h). Not flt/mqtt.h's enum flt_mqtt_purpose, which orders the
 * same purposes differently for the session's own accounting; the two headers
 * can be included together. */
enum flt_wire_purpose {
	FLT_WIRE_PURPOSE_CHUNKS = 0, /* artifact chunks and fetch requests */
	FLT_WIRE_PURPOSE_TELEMETRY,  /* telemetry and events */
	FLT_WIRE_PURPOSE_STATE,      /* desired/reported state, keys, acks, status */
	FLT_WIRE_PURPOSE_OTHER,
	FLT_WIRE_PURPOSE_COUNT_
};

struct flt_health {
	double cpu_pct; /* agent CPU over the interval, % of one core, 0..100000 */
	uint64_t rss_bytes;
	bool has_pss; /* false on kernels without smaps_rollup */
	uint64_t pss_bytes, private_bytes;
	uint64_t mem_total_bytes, mem_avail_bytes;  /* system */
	uint64_t disk_free_bytes, disk_total_bytes; /* data directory's filesystem */
	uint64_t uptime_s;                          /* device uptime */
	bool has_temp;
	double temp_c;                               /* hottest thermal zone, -273.15..1000 */
	uint64_t mqtt_sent[FLT_WIRE_PURPOSE_COUNT_]; /* deltas */
	uint64_t mqtt_received[FLT_WIRE_PURPOSE_COUNT_];
};

/* Failed requests by kind (same kinds as agent/usage.h, without "ok"). */
enum flt_model_error {
	FLT_MODEL_ERR_BAD_INPUT = 0,
	FLT_MODEL_ERR_RUNTIME,
	FLT_MODEL_ERR_BUSY,
	FLT_MODEL_ERR_TIMEOUT,
	FLT_MODEL_ERR_INTERNAL,
	FLT_MODEL_ERR_COUNT_
};

struct flt_model_usage {
	char name[FLT_IDENT_MAX + 1];
	uint64_t version;
	uint64_t requests; /* all outcomes */
	uint64_t errors[FLT_MODEL_ERR_COUNT_];
	uint64_t crashes;                /* agent restarts while this version was active */
	uint64_t p50_us, p95_us, p99_us; /* latency of successful requests; 0 when none */
	uint64_t bytes_in, bytes_out;
	int64_t last_used; /* Unix seconds; 0 = never */
};

enum flt_sample_type { FLT_SAMPLE_HEALTH = 0, FLT_SAMPLE_MODEL };

struct flt_sample {
	uint64_t seq;
	int64_t time;
	uint64_t interval_s;
	enum flt_sample_type type;
	union {
		struct flt_health health;
		struct flt_model_usage model;
	} u;
};

struct flt_telemetry_batch {
	uint64_t epoch, low_seq, dropped;
	struct flt_sample *samples; /* owned array, 1..FLT_MAX_STREAM_BATCH */
	size_t n;
};

FLT_WUR flt_err flt_telemetry_parse(const char *buf, size_t len, struct flt_telemetry_batch **out,
                                    struct flt_json_err *err);
FLT_WUR flt_err flt_telemetry_validate(const struct flt_telemetry_batch *b,
                                       struct flt_json_err *err);
FLT_WUR flt_err flt_telemetry_encode(const struct flt_telemetry_batch *b, char **out, size_t *len);
void flt_telemetry_free(struct flt_telemetry_batch *b);
FLT_WUR flt_err flt_sample_item_encode(const struct flt_sample *s, char **out, size_t *len);
FLT_WUR flt_err flt_sample_item_parse(const char *buf, size_t len, struct flt_sample *out,
                                      struct flt_json_err *err);
FLT_WUR flt_err flt_telemetry_from_items(uint64_t epoch, uint64_t low_seq, uint64_t dropped,
                                         const struct flt_stream_item *items, size_t n,
                                         struct flt_telemetry_batch **out,
                                         struct flt_json_err *err);

/* down/ack is one retained topic for both streams, so one message carries the
 * latest acknowledgement of each (a retained message keeps only the last
 * publish). seq is the highest sequence stored without gaps (0: none yet). */
struct flt_ack_entry {
	enum flt_stream stream;
	uint64_t epoch; /* 1..2^53-1 */
	uint64_t seq;
};

struct flt_ack {
	struct flt_ack_entry acks[FLT_STREAM_COUNT_]; /* each stream at most once */
	size_t n;                                     /* 1..FLT_STREAM_COUNT_ */
};

FLT_WUR flt_err flt_ack_parse(const char *buf, size_t len, struct flt_ack *out,
                              struct flt_json_err *err);
FLT_WUR flt_err flt_ack_validate(const struct flt_ack *a, struct flt_json_err *err);
FLT_WUR flt_err flt_ack_encode(const struct flt_ack *a, char **out, size_t *len);

/* ---- up/fetch ------------------------------------------------------------------ */

/* Chunks [first, first + count) of the artifact named by its SHA-256 (the
 * chunk index is an artifact too). Ranges ascend and do not overlap; counts
 * >= 1; first + count <= FLT_MAX_CHUNKS; all counts together <=
 * FLT_MAX_FETCH_CHUNKS. */
struct flt_chunk_range {
	uint32_t first, count;
};

struct flt_fetch {
	char artifact[65];
	struct flt_chunk_range ranges[FLT_MAX_FETCH_RANGES];
	size_t n_ranges; /* 1..FLT_MAX_FETCH_RANGES */
};

FLT_WUR flt_err flt_fetch_parse(const char *buf, size_t len, struct flt_fetch *out,
                                struct flt_json_err *err);
FLT_WUR flt_err flt_fetch_validate(const struct flt_fetch *f, struct flt_json_err *err);
FLT_WUR flt_err flt_fetch_encode(const struct flt_fetch *f, char **out, size_t *len);

#endif
