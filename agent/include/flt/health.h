/* Health of the agent and its device, sampled once per telemetry interval: CPU use
 * of the agent process, its RSS/PSS/private memory, system memory, free disk of the
 * data directory, uptime, temperature where /sys has it, and MQTT bytes per purpose
 * (counted by the MQTT session and passed in).
 *
 * Every /proc and /sys parser takes the file's bytes as a buffer (not necessarily
 * NUL-terminated) so it can be tested with fixed text and fuzzed; the sampler reads
 * the files into a fixed buffer and calls them.
 */
#ifndef FLT_HEALTH_H
#define FLT_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"

/* What MQTT bytes were spent on, so operators on metered links see what costs what. */
enum flt_health_purpose {
	FLT_HEALTH_MQTT_CHUNKS = 0, /* artifact chunks and fetch requests */
	FLT_HEALTH_MQTT_TELEMETRY,  /* telemetry and events */
	FLT_HEALTH_MQTT_STATE,      /* desired/reported state, keys, acks, status */
	FLT_HEALTH_MQTT_OTHER,      /* protocol overhead, anything else */
	FLT_HEALTH_PURPOSE_COUNT_
};

/* "chunks", "telemetry", "state", "other"; "unknown" otherwise. */
const char *flt_health_purpose_name(enum flt_health_purpose p);

/* Cumulative since the agent started (the receiver takes differences). */
struct flt_health_mqtt {
	uint64_t sent[FLT_HEALTH_PURPOSE_COUNT_];
	uint64_t received[FLT_HEALTH_PURPOSE_COUNT_];
};

/* Memory of one process, bytes. */
struct flt_health_mem {
	uint64_t rss;
	uint64_t pss;         /* valid when has_pss */
	uint64_t private_mem; /* Private_Clean + Private_Dirty; valid when has_pss */
	bool has_pss;         /* false when only /proc/self/status was available */
};

struct flt_health_sample {
	int64_t time_ms; /* Unix time, milliseconds */
	double cpu_pct;  /* agent CPU (user + system) over the interval, % of one core
	                  * (can exceed 100 with several threads busy); the first sample
	                  * covers the time since the process started */
	struct flt_health_mem mem;
	uint64_t mem_total, mem_available; /* system, bytes */
	uint64_t disk_free, disk_total;    /* of the data directory's filesystem, bytes;
	                                    * free counts what an unprivileged user may use */
	double uptime_s;
	bool has_temp;
	double temp_c; /* hottest thermal zone, °C; valid when has_temp */
	struct flt_health_mqtt mqtt;
};

/* --- parsers: bytes in, values out; FLT_EPARSE when a required field is missing
 * or malformed (out-params are then untouched). --- */

/* /proc/<pid>/stat: *TICKS = utime + stime and *START_TICKS = starttime, in clock
 * ticks. The command name may hold spaces and parentheses. */
FLT_WUR flt_err flt_health_parse_proc_stat(const char *buf, size_t len, uint64_t *ticks,
                                           uint64_t *start_ticks);

/* /proc/<pid>/smaps_rollup: Rss, Pss, Private_Clean + Private_Dirty (kB -> bytes);
 * sets has_pss. */
FLT_WUR flt_err flt_health_parse_smaps_rollup(const char *buf, size_t len,
                                              struct flt_health_mem *out);

/* /proc/<pid>/status: VmRSS only (the fallback when smaps_rollup is absent, e.g.
 * kernels before 4.14); has_pss false. */
FLT_WUR flt_err flt_health_parse_status(const char *buf, size_t len, struct flt_health_mem *out);

/* /proc/meminfo: MemTotal and MemAvailable in bytes; kernels without MemAvailable
 * (before 3.14) get MemFree + Buffers + Cached instead. */
FLT_WUR flt_err flt_health_parse_meminfo(const char *buf, size_t len, uint64_t *total,
                                         uint64_t *available);

/* /proc/uptime: the first number, seconds. */
FLT_WUR flt_err flt_health_parse_uptime(const char *buf, size_t len, double *seconds);

/* /sys/class/thermal/thermal_zone*\/temp: millidegrees Celsius, possibly negative,
 * converted to °C. FLT_EPARSE outside -273..+500 °C (sensors report nonsense when
 * broken). */
FLT_WUR flt_err flt_health_parse_thermal(const char *buf, size_t len, double *celsius);

/* CPU % of one core for DTICKS clock ticks over DT_S seconds; 0 when dt_s <= 0. */
double flt_health_cpu_pct(uint64_t dticks, long ticks_per_s, double dt_s);

/* --- sampler (not named struct flt_health: that is the wire sample in flt/msg.h) --- */

struct flt_health_sampler;

/* A sampler for this process. DATA_DIR (copied) is the directory whose free space is
 * reported. PROC_ROOT and SYS_ROOT (copied; NULL means "/proc" and "/sys") let tests
 * point at a fake tree; the process's own files are <proc_root>/self/...
 * Errors: FLT_EINVAL, FLT_ENOMEM. *OUT is owned by the caller (flt_health_sampler_free). */
FLT_WUR flt_err flt_health_sampler_new(const char *data_dir, const char *proc_root,
                                       const char *sys_root, struct flt_health_sampler **out);

void flt_health_sampler_free(struct flt_health_sampler *h);

/* Samples everything; MQTT (may be NULL: zeros) is copied into the sample. Fields
 * whose source is missing or unreadable are left 0 (temperature: has_temp false) and
 * logged at debug level: a sample is always produced. Errors: FLT_EINVAL only. */
FLT_WUR flt_err flt_health_sample(struct flt_health_sampler *h, const struct flt_health_mqtt *mqtt,
                                  struct flt_health_sample *out);

#endif
