/* The flotilla-agent daemon: configuration, the per-device context (MQTT
 * session, reconciler, install pipeline, model store) and local installs.
 * All state lives in one struct flt_agentd, so many agents can share a
 * process (the fleet simulator and the tests do). Design: docs/agent.md. */
#ifndef FLT_AGENTD_H
#define FLT_AGENTD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"

/* agent.conf, one validated struct (flt/conf.h). Strings owned by the struct. */
struct flt_agentd_conf {
	char *device_id; /* device.id: identifier, matches the certificate */
	char *board;     /* device.board: matched against firmware `compatible` */
	char *broker;    /* mqtt.broker: tcp://host:port or ssl://host:port */
	char *ca_file, *cert_file, *key_file;   /* mqtt.ca_file, mqtt.cert_file, mqtt.key_file */
	int64_t keepalive_s;                    /* mqtt.keepalive */
	int64_t session_expiry_s;               /* mqtt.session_expiry */
	uint64_t max_packet;                    /* mqtt.max_packet: declared Maximum Packet Size */
	int64_t backoff_min_ms, backoff_max_ms; /* mqtt.backoff_min_ms / backoff_max_ms */
	char *data_dir;                         /* storage.data_dir */
	uint64_t disk_reserve;    /* storage.disk_reserve: free space never used for models */
	char *root_keys;          /* trust.root_keys: PEM file with one or more root public keys */
	int64_t root_threshold;   /* trust.root_threshold */
	char *socket_path;        /* serving.socket */
	char *socket_group;       /* serving.socket_group */
	int64_t srv_workers;      /* serving.workers: inference threads (live on SIGHUP) */
	int64_t srv_queue_max;    /* serving.queue_max: requests waiting for a worker; beyond: BUSY
	                             (live) */
	int64_t srv_max_conns;    /* serving.max_conns: open client connections (live) */
	int64_t srv_swap_wait_ms; /* serving.swap_wait_ms: a request's wait for a swap (live) */
	int64_t
	    srv_read_timeout_ms; /* serving.read_timeout_ms: a begun frame must complete in this */
	int64_t srv_max_batch;   /* serving.max_batch: largest batch a request may carry */
	uint64_t srv_memory_budget;  /* serving.memory_budget: bytes for all loaded models; 0:
	                                unlimited */
	int64_t telemetry_s;         /* telemetry.interval */
	uint64_t queue_bytes;        /* telemetry.queue_bytes */
	int64_t probation_default_s; /* probation.default */
	int64_t probation_max_s;     /* probation.max */
	uint64_t max_artifact;       /* install.max_artifact */
	int64_t chunks_in_flight;    /* install.chunks_in_flight */
	int64_t stall_s; /* install.stall_timeout: no progress for this long -> DOWNLOAD_STALLED */
	int64_t refetch_ms;  /* install.refetch_ms: re-request chunks not arrived after this */
	int log_level;       /* log.level: index into error,warn,info,debug */
	char *firmware_conf; /* ota.firmware_conf: slot backend settings (flt/firmware.h) */
	char *agent_slots;   /* ota.agent_slots: agent slot directory (flt/agentslot.h) */
};

/* Loads defaults, then PATH (NULL: none), then "key=value" overrides. Unknown
 * keys are errors naming the key. ERR gets a one-line message. Errors as
 * flt_conf_load; FLT_EINVAL also for an invalid device id. *out set on success. */
FLT_WUR flt_err flt_agentd_conf_load(const char *path, const char *const *sets, size_t nsets,
                                     struct flt_agentd_conf *out, char *err, size_t errlen);
void flt_agentd_conf_free(struct flt_agentd_conf *c);
/* The probation window for a desired-state entry asking for DESIRED_S
 * seconds: probation.default when DESIRED_S is 0 (absent), and never more
 * than probation.max. */
uint64_t flt_agentd_probation_s(const struct flt_agentd_conf *c, uint64_t desired_s);
/* Prints every option with its default and help. */
void flt_agentd_conf_help(void *file);

struct flt_agentd;

/* Creates an agent from a copy of CONF: creates the data directory, reads
 * the root keys, loads persisted state (counting a crash for a version found
 * in probation) and opens the event queue. No network yet.
 * Errors: FLT_EINVAL (bad conf), FLT_ENOTFOUND / FLT_EPARSE (root keys),
 * FLT_EIO, FLT_EBUSY (another agent holds the data directory), FLT_ENOMEM. */
FLT_WUR flt_err flt_agentd_new(const struct flt_agentd_conf *conf, struct flt_agentd **out);

/* Starts the MQTT session (connects in the background, reconnects forever). */
FLT_WUR flt_err flt_agentd_start(struct flt_agentd *a);

/* One loop iteration: handles MQTT events, drives installs, probation and
 * telemetry, sleeping at most timeout_ms for work. FLT_OK or FLT_EINVAL. */
FLT_WUR flt_err flt_agentd_step(struct flt_agentd *a, int timeout_ms);

/* Runs steps until *stop becomes nonzero; re-reads config (path, sets) when
 * *hup becomes nonzero, swapping it in only when valid. Flags are set by
 * signal handlers only (volatile int). Publishes offline on the way out. */
FLT_WUR flt_err flt_agentd_run(struct flt_agentd *a, volatile sig_atomic_t *stop,
                               volatile sig_atomic_t *hup, const char *conf_path);

/* Stops MQTT cleanly (publishes status offline) and frees everything. NULL ok. */
void flt_agentd_free(struct flt_agentd *a);

/* For tests and the simulator: model state as the agent sees it now. */
struct flt_agentd_model_info {
	uint64_t active, committed, previous;
	bool has_job;
	uint64_t job_version;
	int step;   /* enum flt_step */
	int reason; /* enum flt_reason */
};
/* FLT_ENOTFOUND when the agent knows no model NAME. */
FLT_WUR flt_err flt_agentd_model(const struct flt_agentd *a, const char *name,
                                 struct flt_agentd_model_info *out);
/* Counters for tests: installs committed, events queued, fetch requests sent,
 * connect attempts that failed. */
struct flt_agentd_counters {
	uint64_t committed, events, fetch_requests, chunks_written, connects, connect_failures;
};
void flt_agentd_counters(const struct flt_agentd *a, struct flt_agentd_counters *out);

/* Offline install: ENVELOPE (release envelope JSON file), ARTIFACT, GOLDEN
 * (bundle file, NULL if the manifest names none) and KEYLIST (root-signed
 * key list file; NULL: the one persisted from the broker) through the same
 * verify/check/test/activate/commit steps, committed at once (no probation).
 * *reason (may be NULL) gets the reason code (enum flt_reason) on refusal.
 * Errors: FLT_EVERIFY (refused: see reason), FLT_EIO, FLT_EINVAL, FLT_ENOMEM. */
FLT_WUR flt_err flt_agentd_install_local(struct flt_agentd *a, const char *envelope,
                                         const char *artifact, const char *golden,
                                         const char *keylist, int *reason);

/* The persisted state as JSON (installed, active, committed, in progress,
 * last error). *out owned (flt_free). */
FLT_WUR flt_err flt_agentd_status_json(const struct flt_agentd_conf *conf, char **out);

#endif
