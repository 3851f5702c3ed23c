/* Private to the agent daemon: the context struct, the per-model record and
 * install job, and the functions the daemon's files share. */
#ifndef FLT_AGENTD_INT_H
#define FLT_AGENTD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentd_net.h"
#include "flt/agentd.h"
#include "flt/chunk.h"
#include "flt/crypto.h"
#include "flt/desired.h"
#include "flt/keylist.h"
#include "flt/manifest.h"
#include "flt/health.h"
#include "flt/msg.h"
#include "flt/runtime.h"
#include "flt/telemetry_queue.h"

struct flt_serving;
struct flt_usage;

#define AGENTD_MAX_MODELS FLT_MAX_DESIRED_ENTRIES
#define AGENTD_MAX_BAD    16
#define AGENTD_PATH       1024

/* Serving seam: what the pipeline needs from the serving side. The built-in
 * one loads the model into the runtime and keeps it; issue 7's serving module
 * replaces it. Each returns FLT_OK or an error (activation failure). */
struct agentd_serving {
	flt_err (*activate)(void *ctx, const char *name, uint64_t version, const char *model_path);
	void (*remove)(void *ctx, const char *name);
	void *ctx;
};

struct agentd_bad {
	uint64_t version;
	char deployment_id[FLT_IDENT_MAX + 1];
};

/* What one artifact download holds in memory (never persisted but the resume
 * map and the partial file). */
struct agentd_fetch {
	uint8_t sha[FLT_SHA256_LEN];
	char sha_hex[65];
	uint32_t count, chunk_size;
	uint64_t size;
	bool to_memory; /* chunk index and golden bundle: small, kept in memory */
	uint8_t *mem;   /* to_memory: the bytes */
	uint8_t *have;  /* to_memory: per chunk present */
	uint32_t n_have;
	flt_resume_map *map; /* artifact: chunks present and durable */
	int fd;              /* artifact: partial file */
	uint32_t unsynced;   /* chunks written since the last map save */
	uint64_t *asked_ms;  /* per chunk: when last requested (0: not outstanding) */
	uint32_t outstanding;
	uint64_t last_progress_ms;
	bool subscribed;
};

struct agentd_job {
	struct flt_manifest *man;
	flt_chunk_index *index;
	struct agentd_fetch f; /* current download */
	int phase;             /* 0 index, 1 artifact, 2 golden, 3 done */
	uint8_t *golden;       /* golden bundle bytes */
	size_t golden_len;
};

/* One model name the agent knows; persisted in state.json. */
struct agentd_model {
	char name[FLT_IDENT_MAX + 1];
	bool from_desired; /* installed from a desired state (removed with it) */
	uint64_t active, committed, previous;
	struct agentd_bad bad[AGENTD_MAX_BAD];
	size_t n_bad;
	/* the latest deployment worked on */
	bool has_dep;
	bool local; /* offline install (no deployment id) */
	char deployment_id[FLT_IDENT_MAX + 1];
	uint8_t env_sha[FLT_SHA256_LEN]; /* the release envelope this deployment is about */
	uint64_t version;
	enum flt_step step;
	enum flt_reason reason;
	char *envelope; /* release envelope text (owned) while a job runs */
	struct flt_probation prob;
	int64_t prob_start;      /* Unix seconds when probation began */
	uint64_t crashes;        /* restarts seen during this probation */
	uint32_t latency_ms_max; /* the manifest's, for probation */
	/* runtime only */
	struct agentd_job *job;
};

struct flt_agentd {
	struct flt_agentd_conf conf;
	char topic_root[128]; /* flotilla/v1/dev/<id> */
	flt_key *roots[FLT_TRUST_MAX_KEYS];
	size_t nroots;
	struct flt_trust_set root_set;

	flt_keylist *kl;
	struct flt_keylist_state kl_state;
	uint64_t desired_serial;
	uint8_t desired_sha[FLT_SHA256_LEN];
	struct flt_desired *desired; /* last accepted, decoded */
	char *pending_desired;       /* arrived before any key list */
	size_t pending_desired_len;

	struct agentd_model models[AGENTD_MAX_MODELS];
	size_t n_models;
	enum flt_reason last_error;
	char last_error_msg[FLT_MAX_MESSAGE + 1];

	struct net *net;
	bool connected;
	bool state_dirty;
	struct flt_tq *q;
	uint64_t next_event_send_ms, next_telemetry_ms;

	struct agentd_serving serving;
	struct flt_serving *srv; /* NULL without serving.socket */
	struct flt_usage *usage;
	struct flt_health_mqtt prev_mqtt; /* counters at the last telemetry sample */
	bool have_prev_mqtt;
	struct flt_rt_model *loaded[AGENTD_MAX_MODELS]; /* built-in serving */
	char loaded_name[AGENTD_MAX_MODELS][FLT_IDENT_MAX + 1];

	uint8_t refused_sha[FLT_SHA256_LEN]; /* last refused desired state, reported once */
	/* the cause of the current run of failed connects (error and clock
	 * verdict), so each distinct cause is logged and reported once */
	int conn_fail_cause;
	bool clock_unsynced; /* the last TLS failure was the clock's */
	uint8_t ota_seen[AGENTD_MAX_MODELS][FLT_SHA256_LEN]; /* agent/firmware envelopes reported */
	size_t n_ota_seen;
	bool ota_report_done;      /* boot report looked at since start */
	bool ota_loaded;           /* ota.json read (ota_job.c) */
	struct agentd_model ota_m; /* the agent/firmware release downloading (ota_job.c) */
	enum flt_kind ota_kind;
	char ota_agent_dep[FLT_IDENT_MAX + 1]; /* deployment of the agent release installed last */
	bool ota_confirm_done; /* this agent's slot confirmed (or nothing to confirm) */
	struct flt_agentd_counters counters;
	int stop;
};

/* agentd_store.c */
FLT_WUR flt_err store_load(struct flt_agentd *a);
FLT_WUR flt_err store_save(struct flt_agentd *a, const char *fp);
int store_path(const struct flt_agentd *a, char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
struct agentd_model *store_model(struct flt_agentd *a, const char *name, bool create);
void store_model_drop(struct flt_agentd *a, struct agentd_model *m);
bool store_is_bad(const struct agentd_model *m, uint64_t version, const char *dep);
void store_mark_bad(struct agentd_model *m, uint64_t version, const char *dep);
FLT_WUR flt_err store_rm_rf(const char *path);

/* install_verify.c */
FLT_WUR flt_err verify_keylist(struct flt_agentd *a, const char *json, size_t len, bool persist);
FLT_WUR flt_err verify_desired(struct flt_agentd *a, const char *json, size_t len,
                               struct flt_desired **out, enum flt_reason *reason, char *msg,
                               size_t msglen);
FLT_WUR flt_err verify_release(struct flt_agentd *a, const struct agentd_model *m,
                               const char *envelope, size_t len, const char *name,
                               struct flt_manifest **out, uint64_t *version,
                               enum flt_reason *reason, char *msg, size_t msglen);

/* install_fetch.c */
FLT_WUR flt_err fetch_begin(struct flt_agentd *a, struct agentd_model *m);
void fetch_tick(struct flt_agentd *a, struct agentd_model *m, uint64_t now_ms);
void fetch_on_chunk(struct flt_agentd *a, const uint8_t *buf, size_t len);
void fetch_abort(struct flt_agentd *a, struct agentd_model *m);
void fetch_resubscribe(struct flt_agentd *a);

/* install_test.c */
FLT_WUR flt_err test_file_hash(const char *path, const struct flt_manifest *man,
                               enum flt_reason *reason);
FLT_WUR flt_err test_model(const char *path, const struct flt_manifest *man, const uint8_t *golden,
                           size_t golden_len, enum flt_reason *reason, char *msg, size_t msglen);

/* install_activate.c */
void install_after_download(struct flt_agentd *a, struct agentd_model *m);
FLT_WUR flt_err install_resume(struct flt_agentd *a, struct agentd_model *m);
void install_probation_tick(struct flt_agentd *a, struct agentd_model *m);
void install_fail(struct flt_agentd *a, struct agentd_model *m, enum flt_reason r, const char *msg);
FLT_WUR flt_err install_remove(struct flt_agentd *a, struct agentd_model *m);
void install_set_step(struct flt_agentd *a, struct agentd_model *m, enum flt_step s);
FLT_WUR flt_err install_stage_and_switch(struct flt_agentd *a, struct agentd_model *m,
                                         const char *staged_dir);
FLT_WUR flt_err install_commit(struct flt_agentd *a, struct agentd_model *m);
void install_job_free(struct agentd_model *m);
void serving_builtin(struct flt_agentd *a);
void serving_builtin_free(struct flt_agentd *a);

/* agentd_events.c */
void events_emit(struct flt_agentd *a, const struct agentd_model *m, enum flt_step step,
                 enum flt_reason r, const char *msg);
void events_send(struct flt_agentd *a);
void events_on_ack(struct flt_agentd *a, const uint8_t *buf, size_t len);
void state_publish(struct flt_agentd *a);
FLT_WUR flt_err state_build(const struct flt_agentd *a, struct flt_state **out);

/* agentd_serving.c */
FLT_WUR flt_err agentd_serving_start(struct flt_agentd *a);
void agentd_serving_stop(struct flt_agentd *a);
/* -1 roll back (*reason), 1 commit, 0 keep watching. */
/* SIGHUP: applies C's live serving settings (workers, queue, connections,
 * swap wait) and keeps them in a->conf; warns about those needing a restart. */
void agentd_serving_reload(struct flt_agentd *a, const struct flt_agentd_conf *c);
int agentd_probation_verdict(struct flt_agentd *a, const struct agentd_model *m, int64_t elapsed_s,
                             enum flt_reason *reason);

/* agentd_conf.c */
FLT_WUR flt_err agentd_conf_copy(const struct flt_agentd_conf *src, struct flt_agentd_conf *dst);

/* agentd.c */
void agentd_job_start(struct flt_agentd *a, struct agentd_model *m);
void agentd_reconcile(struct flt_agentd *a);

/* ota_install.c: agent and firmware releases. ota_verify_release: envelope
 * trust and expiry as for models, then flt_fw_admit; *out owned on success.
 * ota_install_file: when ENV is an agent or firmware release (*handled set),
 * verifies it, checks ARTIFACT's hash and hands it to the firmware slots
 * (ota.firmware_conf) or the agent slots (ota.agent_slots); *reason on failure. */
flt_err ota_verify_release(struct flt_agentd *a, const char *env, size_t len, uint64_t fw_version,
                           struct flt_manifest **out, enum flt_reason *reason, char *msg,
                           size_t msglen);
flt_err ota_install_file(struct flt_agentd *a, const char *env, size_t env_len,
                         const char *artifact, const char *deployment_id, enum flt_reason *reason,
                         bool *handled);
/* An agent or firmware desired-state entry: admission checked once per
 * release envelope, refusals (INCOMPATIBLE_BOARD, WRONG_ARCH, ...) sent as events. */
void ota_reconcile_entry(struct flt_agentd *a, const struct flt_desired_entry *de);
void ota_event(struct flt_agentd *a, const struct flt_desired_entry *de, uint64_t version,
               enum flt_step step, enum flt_reason r, const char *msg);
/* Writes a verified image into the inactive firmware slot and arms it;
 * reboots through the configured command when REBOOT. */
flt_err ota_firmware_install(struct flt_agentd *a, const struct flt_manifest *man,
                             const char *artifact, const char *deployment_id, enum flt_reason *r,
                             bool reboot);
void ota_firmware_reboot(struct flt_agentd *a);
/* ota_job.c: the MQTT download of agent/firmware releases on a->ota_m, which
 * the shared fetch and install steps route here (ota_is). */
bool ota_is(const struct flt_agentd *a, const struct agentd_model *m);
bool ota_busy(const struct flt_agentd *a);
void ota_fail(struct flt_agentd *a, enum flt_reason r, const char *msg);
void ota_set_step(struct flt_agentd *a, enum flt_step s);
void ota_after_download(struct flt_agentd *a);
void ota_tick(struct flt_agentd *a, uint64_t now_ms);
void ota_free(struct flt_agentd *a);
/* On connection: a new agent started by the supervisor from a pending slot
 * confirms it (it runs and reached the broker) and reports committed. */
void ota_on_connected(struct flt_agentd *a);
/* Sends the firmware boot report (confirmed / rolled back) as an event, once. */
void ota_boot_report(struct flt_agentd *a);
void agentd_publish(struct flt_agentd *a, const char *sub, const void *data, size_t len,
                    bool retained, enum net_purpose p);
int64_t agentd_now(void);

#endif
