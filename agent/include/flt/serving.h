/* Serving: loaded model versions behind the local inference socket, hot swap
 * with zero failed requests (refcounted versions, atomic switch), per-version
 * statistics for probation, and the pure probation evaluation.
 * The daemon (agentd) decides what to activate, persists state and rolls back;
 * this module loads, switches, serves and counts. Protocol: docs/inference-socket.md. */
#ifndef FLT_SERVING_H
#define FLT_SERVING_H

#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/ident.h"
#include "flt/reason.h"
#include "flt/runtime.h"
#include "flt/usage.h"

struct flt_serving;

/* Test and fault-injection hook, called by a worker right before each run of
 * NAME at VERSION. A non-FLT_OK result makes the request fail as a runtime
 * error (as if the model had failed). NULL in production. */
typedef flt_err (*flt_serving_fault_fn)(void *arg, const char *name, uint64_t version);

struct flt_serving_opts {
	const char *
	    socket_path; /* required; borrowed for the call; an old socket file there is replaced */
	unsigned socket_mode; /* 0: 0660 */
	const char
	    *socket_group;  /* NULL or "": keep the process's group; else resolved with getgrnam */
	unsigned workers;   /* inference threads; 0: 2 */
	unsigned queue_max; /* complete requests waiting for a worker; 0: 64; beyond: BUSY reply */
	unsigned max_conns; /* open client connections; 0: 1024; beyond: accepted then closed */
	uint32_t max_frame; /* largest request or response frame in bytes; 0: 16 MiB */
	unsigned swap_wait_ms;    /* how long a request waits for a swap in progress; 0: 2000 */
	unsigned read_timeout_ms; /* a frame begun must be complete within this, or the
	                           * connection is closed (half a frame held open); 0: 30000.
	                           * Idle connections between frames are kept. */
	unsigned run_concurrency; /* run contexts per loaded model; 0: the worker count */
	unsigned max_batch;       /* largest batch (dim 0) a request may carry; 0: 1. Models
	                           * without a batch dimension are loaded for batch 1 */
	uint64_t
	    memory_budget;       /* bytes for all loaded models; 0: unlimited. When the old and the
	                          * new   version of a model do not fit together, the swap unloads the
	                          * old   one first and requests wait (up to swap_wait_ms) meanwhile */
	struct flt_usage *usage; /* borrowed, may be NULL: every request is also recorded there */
	flt_serving_fault_fn fault; /* see above; NULL normally */
	void *fault_arg;
};

/* Creates the serving context: binds and listens on the socket (mode, group),
 * starts the I/O thread (poll-based: one thread for every connection) and the
 * worker pool. No model is loaded yet: requests get NOT_FOUND until one is
 * activated. Errors: FLT_EINVAL (bad options), FLT_ENOTFOUND (the group does
 * not exist; the message names it), FLT_EIO (socket, bind, chmod, chown,
 * thread), FLT_ENOMEM. On success *out is owned by the caller. */
FLT_WUR flt_err flt_serving_create(const struct flt_serving_opts *o, struct flt_serving **out);

/* Stops accepting, lets queued and running requests finish and their replies
 * be written (bounded by ~2 s for clients that do not read), closes every
 * connection, unloads every model, removes the socket file and frees S.
 * The SIGTERM path. Accepts NULL. No other call on S may be running. */
void flt_serving_destroy(struct flt_serving *s);

/* Applies changed settings live (SIGHUP): worker count (threads are added or
 * retired), queue bound, connection bound, swap wait. 0 keeps a value.
 * Errors: FLT_EINVAL, FLT_EIO (a thread could not start; the old count stays). */
FLT_WUR flt_err flt_serving_reconfigure(struct flt_serving *s, unsigned workers, unsigned queue_max,
                                        unsigned max_conns, unsigned swap_wait_ms);

/* Loads MODEL_PATH as NAME at VERSION, runs it once on zero inputs (warm),
 * then switches NAME to it atomically: requests already running finish on the
 * previous version, which is unloaded when its last request ends; requests
 * arriving after the switch run on the new one. If the memory budget cannot
 * hold both, the previous version is drained and unloaded first, and requests
 * for NAME wait during that (up to swap_wait_ms, then BUSY). Returns after the
 * switch. Activating the version already active reloads it.
 * LATENCY_MS_MAX (0: none) is the manifest's bound counted in the stats.
 * On failure the previous version keeps serving (unless it had to be unloaded
 * for the budget, in which case it is reloaded from its own file).
 * A one-line reason goes to err (if errlen > 0).
 * Errors: FLT_EINVAL (bad name), FLT_ENOTFOUND / FLT_EIO (file), FLT_EPARSE,
 * FLT_EUNSUPPORTED, FLT_ELIMIT (does not fit the memory budget even alone),
 * FLT_ENOMEM, FLT_EBUSY (shutting down). */
FLT_WUR flt_err flt_serving_activate(struct flt_serving *s, const char *name, uint64_t version,
                                     const char *model_path, uint32_t latency_ms_max, char *err,
                                     size_t errlen);

/* Stops serving NAME: new requests get NOT_FOUND, running ones finish, the
 * model is unloaded when the last ends. Errors: FLT_ENOTFOUND, FLT_EINVAL. */
FLT_WUR flt_err flt_serving_remove(struct flt_serving *s, const char *name);

/* The version of NAME new requests go to. Errors: FLT_ENOTFOUND, FLT_EINVAL. */
FLT_WUR flt_err flt_serving_active(struct flt_serving *s, const char *name, uint64_t *version);

/* What one version did since its activation. */
struct flt_serving_stats {
	uint64_t requests;                         /* every request that reached the model's slot */
	uint64_t errors[FLT_USAGE_OUTCOME_COUNT_]; /* by kind; errors[FLT_USAGE_OK] is 0 */
	uint64_t ok;                               /* successful requests */
	uint64_t over_latency;   /* successful requests slower than latency_ms_max */
	uint32_t latency_ms_max; /* as given at activation (0: none) */
	uint64_t p50_ns, p99_ns; /* of successful requests (flt/usage.h histogram) */
	uint64_t swap_waits;     /* requests that waited for a swap (budgeted swaps only) */
	uint64_t swap_wait_max_ns, swap_wait_p99_ns; /* of those waits */
	double active_s;                             /* seconds since activation */
	uint64_t memory_bytes;                       /* estimate held: file + run arenas */
};

/* Copies the statistics of NAME at VERSION (active, or still draining).
 * Errors: FLT_ENOTFOUND (not loaded), FLT_EINVAL. */
FLT_WUR flt_err flt_serving_stats(struct flt_serving *s, const char *name, uint64_t version,
                                  struct flt_serving_stats *out);

/* Run directly in-process through the same slot and accounting as the socket
 * (benchmarks, the agent's own checks). VERSION 0: the active one. Inputs in
 * graph order; outputs as flt_rt_run takes them (data NULL: allocated with
 * flt_malloc, the caller frees it). On success *answered is the version that
 * ran. Errors: FLT_ENOTFOUND, FLT_EBUSY, FLT_EINVAL (inputs), FLT_ELIMIT,
 * FLT_EINTERNAL, FLT_ENOMEM (run). */
FLT_WUR flt_err flt_serving_infer(struct flt_serving *s, const char *name, uint64_t version,
                                  const struct flt_rt_tensor *inputs, size_t n_inputs,
                                  struct flt_rt_tensor *outputs, size_t n_outputs,
                                  uint64_t *answered, char *err, size_t errlen);

/* ---- probation (pure) ---------------------------------------------------- */

/* Limits from the desired-state entry, already bounded by agent.conf. */
struct flt_probation_limits {
	double probation_s;      /* window after activation */
	double max_error_rate;   /* 0..1: failed / judged requests */
	unsigned max_crashes;    /* agent crashes seen during the window */
	uint32_t latency_ms_max; /* 0: latency not judged */
	uint64_t min_requests;   /* judged requests needed before the error rate or the
	                          * latency is judged; 0 means FLT_PROBATION_MIN_REQUESTS */
};

#define FLT_PROBATION_MIN_REQUESTS 20

enum flt_probation_verdict {
	FLT_PROBATION_CONTINUE = 0, /* keep watching */
	FLT_PROBATION_PASS,         /* the window ended within limits: commit */
	FLT_PROBATION_FAIL,         /* roll back, with *reason */
};

/* Judges a version in probation. Judged requests exclude BUSY (agent load) and
 * BAD_INPUT (the app's mistake); failures are RUNTIME, TIMEOUT and INTERNAL.
 * FAIL as soon as: crashes > max_crashes (CRASHES); with at least min_requests
 * judged, failures / judged > max_error_rate (ERROR_RATE); with at least
 * min_requests successes, more than 1% of them over latency_ms_max, i.e. the
 * p99 above it (LATENCY). PASS once elapsed_s >= probation_s otherwise (few
 * requests are no evidence against a version). *reason (if non-NULL) is set
 * to FLT_REASON_NONE unless FAIL. */
enum flt_probation_verdict flt_probation_evaluate(const struct flt_probation_limits *lim,
                                                  const struct flt_serving_stats *st,
                                                  unsigned crashes, double elapsed_s,
                                                  enum flt_reason *reason);

#endif
