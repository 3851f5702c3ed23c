/* Consumption per model version, counted by the serving workers and read once per
 * telemetry interval: requests, errors by kind, a fixed-size latency histogram
 * (p50/p95/p99), bytes in and out, and when the version was last used.
 *
 * Memory is fixed at creation: at most MAX_MODELS versions are tracked per interval
 * (records for more are counted in `untracked` and otherwise dropped), and each
 * version's histogram has FLT_USAGE_BUCKETS buckets whatever the traffic.
 *
 * Threads: flt_usage_record and flt_usage_snapshot_reset may be called from any
 * number of threads at once (one mutex, held for a few dozen instructions).
 */
#ifndef FLT_USAGE_H
#define FLT_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/ident.h"

/* How a request ended. The error kinds are a fixed list the controller knows. */
enum flt_usage_outcome {
	FLT_USAGE_OK = 0,
	FLT_USAGE_BAD_INPUT, /* wrong dtype, shape or size from the app */
	FLT_USAGE_RUNTIME,   /* the model failed to run */
	FLT_USAGE_BUSY,      /* refused: queue full or swapping */
	FLT_USAGE_TIMEOUT,   /* did not finish within its deadline */
	FLT_USAGE_INTERNAL,  /* an agent bug */
	FLT_USAGE_OUTCOME_COUNT_
};

/* Stable lowercase names for the wire ("ok", "bad_input", "runtime", "busy",
 * "timeout", "internal"); "unknown" for anything else. */
const char *flt_usage_outcome_name(enum flt_usage_outcome o);

/*
 * Latency histogram: bucket 0 holds latencies below FLT_USAGE_LAT_MIN_NS (10 µs),
 * the last bucket those at or above FLT_USAGE_LAT_MAX_NS (60 s), and the
 * FLT_USAGE_BUCKETS - 2 buckets between are spaced by the same ratio
 * r = (60 s / 10 µs)^(1/126) ~ 1.1318.
 * Error bound: a percentile is reported as the geometric middle of the bucket that
 * holds the nearest-rank sample, clamped to the exact minimum and maximum seen, so
 * for latencies within [10 µs, 60 s) it is within a factor sqrt(r) (+6.4% / -6.0%)
 * of the true nearest-rank value (the lowest and highest ranks are exact). Below 10 µs it is at
 * most 10 µs; at or above 60 s it is at least 60 s (the exact maximum bounds both).
 */
#define FLT_USAGE_BUCKETS    128
#define FLT_USAGE_LAT_MIN_NS 10000ULL
#define FLT_USAGE_LAT_MAX_NS 60000000000ULL

struct flt_usage_hist {
	uint64_t counts[FLT_USAGE_BUCKETS];
	uint64_t n;
	uint64_t sum_ns;
	uint64_t min_ns, max_ns; /* exact; 0 when n == 0 */
};

/* Index of the bucket holding a latency of NS nanoseconds. */
unsigned flt_usage_bucket(uint64_t ns);

/* The bucket's lower bound in nanoseconds (0 for bucket 0); for i >=
 * FLT_USAGE_BUCKETS returns UINT64_MAX. Bucket i holds [lower(i), lower(i+1)). */
uint64_t flt_usage_bucket_lower_ns(unsigned i);

/* Nearest-rank percentile P (0 < P <= 100) of H in nanoseconds, within the bound
 * above; 0 when H is empty or P out of range. */
uint64_t flt_usage_hist_percentile(const struct flt_usage_hist *h, double p);

/* Adds one latency to H (not thread-safe by itself; flt_usage_record locks). */
void flt_usage_hist_add(struct flt_usage_hist *h, uint64_t ns);

struct flt_usage_entry {
	char model[FLT_IDENT_MAX + 1];
	uint64_t version;
	uint64_t requests;                         /* all outcomes */
	uint64_t errors[FLT_USAGE_OUTCOME_COUNT_]; /* errors[FLT_USAGE_OK] is always 0 */
	uint64_t bytes_in, bytes_out;
	int64_t last_used_ms;          /* Unix time of the latest request, milliseconds */
	struct flt_usage_hist latency; /* successful requests only */
};

/* What one interval consumed: every version that served at least one request. */
struct flt_usage_snapshot {
	size_t n;
	struct flt_usage_entry *entries; /* owned by the snapshot */
	uint64_t untracked;              /* records dropped: more versions than MAX_MODELS */
	int64_t since_ms, until_ms;      /* the interval, Unix time in milliseconds */
};

struct flt_usage;

/* Creates a counter set for at most MAX_MODELS (1..1024) model versions per
 * interval. FLT_EINVAL, FLT_ENOMEM. *OUT is owned by the caller (flt_usage_free). */
FLT_WUR flt_err flt_usage_new(size_t max_models, struct flt_usage **out);

/* NULL is a no-op. No thread may be recording. */
void flt_usage_free(struct flt_usage *u);

/* Counts one request of MODEL (copied) at VERSION that ended with OUTCOME after
 * LATENCY_NS (added to the histogram only when OUTCOME is FLT_USAGE_OK), reading
 * BYTES_IN and writing BYTES_OUT. Errors: FLT_EINVAL (bad name
 * or outcome), FLT_ELIMIT (MAX_MODELS versions already counted this interval: the
 * record is counted in `untracked` only). Thread-safe. */
FLT_WUR flt_err flt_usage_record(struct flt_usage *u, const char *model, uint64_t version,
                                 enum flt_usage_outcome outcome, uint64_t latency_ns,
                                 uint64_t bytes_in, uint64_t bytes_out);

/* Takes everything counted since the last call (or creation) and starts a new
 * interval, atomically with respect to flt_usage_record: each record lands in
 * exactly one snapshot. Errors: FLT_EINVAL, FLT_ENOMEM (nothing is reset then).
 * *OUT is owned by the caller (flt_usage_snapshot_free). Thread-safe. */
FLT_WUR flt_err flt_usage_snapshot_reset(struct flt_usage *u, struct flt_usage_snapshot **out);

void flt_usage_snapshot_free(struct flt_usage_snapshot *s);

#endif
