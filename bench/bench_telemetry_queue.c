/* Telemetry costs on the device: the queue's write cost per sample (WAL,
 * synchronous=FULL, beside a rollback journal with the same durability as peer) and
 * the telemetry bytes one device sends per hour at the default interval. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "benchlib.h"
#include "flt/alloc.h"
#include "flt/health.h"
#include "flt/telemetry_batch.h"
#include "flt/telemetry_queue.h"
#include "flt/usage.h"

/* The agent's default telemetry interval (agent.conf telemetry_interval_s). */
#define INTERVAL_S 60
/* Model versions a typical device serves at once (e.g. detector + classifier). */
#define MODELS 2
/* A device id of typical length. */
#define TOPIC "flotilla/v1/dev/pi-0123456789abcdef/up/telemetry"

static char dir[512];

static void rm_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		char p[1024];
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* One interval's samples appended, then sent as one batch: the bytes on the wire. */
static int bytes_per_interval(struct flt_tq *q, struct flt_health_sampler *hs, struct flt_usage *u,
                              size_t *wire, size_t *payload, size_t *items)
{
	struct flt_health_sample h;
	if (flt_health_sample(hs, NULL, &h) != FLT_OK)
		return -1;
	/* Realistic counters for an interval (the sampler's are cumulative from 0 here). */
	h.mqtt.sent[FLT_HEALTH_MQTT_TELEMETRY] = 1873;
	h.mqtt.sent[FLT_HEALTH_MQTT_STATE] = 312;
	h.mqtt.received[FLT_HEALTH_MQTT_STATE] = 118;
	h.has_temp = true;
	h.temp_c = 48.25;
	/* A busy minute: ~2 requests/s per model with a few errors. */
	for (int m = 0; m < MODELS; m++) {
		for (int i = 0; i < 120; i++) {
			enum flt_usage_outcome o = i % 40 == 0 ? FLT_USAGE_BUSY : FLT_USAGE_OK;
			if (flt_usage_record(u, m ? "classifier" : "detector", 7, o,
			                     (uint64_t)(3000000 + i * 20000), 150528,
			                     4000) != FLT_OK)
				return -1;
		}
	}
	struct flt_usage_snapshot *snap = NULL;
	if (flt_usage_snapshot_reset(u, &snap) != FLT_OK)
		return -1;
	int rc = flt_tbatch_enqueue(q, &h, NULL, snap, INTERVAL_S, items) == FLT_OK ? 0 : -1;
	flt_usage_snapshot_free(snap);
	struct flt_tq_batch *b = NULL;
	if (rc != 0 || flt_tq_next_batch(q, FLT_TBATCH_TELEMETRY, 256, 200000, &b) != FLT_OK)
		return -1;
	char *json = NULL;
	size_t len = 0;
	if (flt_tbatch_encode(b, &json, &len) != FLT_OK) {
		flt_tq_batch_free(b);
		return -1;
	}
	*payload = len;
	*wire = flt_mqtt_publish_packet_size(strlen(TOPIC), len, 1) + 4; /* + PUBACK */
	flt_free(json);
	size_t del;
	rc = flt_tq_ack(q, FLT_TBATCH_TELEMETRY, b->epoch, b->last_seq, &del) == FLT_OK ? 0 : -1;
	flt_tq_batch_free(b);
	return rc;
}

/* The same durable append with a rollback journal (journal_mode=DELETE,
 * synchronous=FULL): the alternative the queue did not choose. */
static double rollback_us_per_sample(const char *path, const char *payload, size_t len, int n)
{
	sqlite3 *db = NULL;
	double us = -1;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db,
	                 "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;"
	                 "CREATE TABLE streams(id INTEGER PRIMARY KEY, next_seq INTEGER);"
	                 "INSERT INTO streams VALUES (1, 1);"
	                 "CREATE TABLE items(id INTEGER PRIMARY KEY, stream INTEGER, seq INTEGER,"
	                 " data BLOB, UNIQUE(stream, seq));",
	                 NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	sqlite3_stmt *ins = NULL, *upd = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO items(stream, seq, data) VALUES (1, ?1, ?2)", -1,
	                       &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE streams SET next_seq = ?1 WHERE id = 1", -1, &upd,
	                       NULL) != SQLITE_OK) {
		sqlite3_finalize(ins);
		goto out;
	}
	double t0 = bench_now();
	for (int i = 1; i <= n; i++) {
		sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		sqlite3_bind_int(ins, 1, i);
		sqlite3_bind_blob(ins, 2, payload, (int)len, SQLITE_STATIC);
		sqlite3_step(ins);
		sqlite3_reset(ins);
		sqlite3_bind_int(upd, 1, i + 1);
		sqlite3_step(upd);
		sqlite3_reset(upd);
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			break;
		if (i == n)
			us = (bench_now() - t0) / n * 1e6;
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
out:
	sqlite3_close(db);
	return us;
}

int main(void)
{
	int n = bench_full() ? 3000 : 300;
	int rc = 1;
	struct flt_tq *q = NULL;
	struct flt_health_sampler *hs = NULL;
	struct flt_usage *u = NULL;
	char path[600], peer_path[600], notes[512];

	/* On the same filesystem as the results (a real disk, not tmpfs), as on a device. */
	const char *out = getenv("BENCH_OUT_DIR");
	snprintf(dir, sizeof(dir), "%s/tq-bench-XXXXXX", out && *out ? out : ".");
	if (!mkdtemp(dir)) {
		snprintf(dir, sizeof(dir), "./tq-bench-XXXXXX");
		if (!mkdtemp(dir))
			return 1;
	}
	snprintf(path, sizeof(path), "%s/queue.db", dir);
	snprintf(peer_path, sizeof(peer_path), "%s/rollback.db", dir);

	if (flt_tq_open(path, 16u << 20, &q, NULL) != FLT_OK ||
	    flt_health_sampler_new(dir, NULL, NULL, &hs) != FLT_OK ||
	    flt_usage_new(8, &u) != FLT_OK)
		goto out;

	/* Bytes per hour first: it also yields a realistic sample for the write cost. */
	size_t wire = 0, payload_bytes = 0, items = 0;
	if (bytes_per_interval(q, hs, u, &wire, &payload_bytes, &items) != 0)
		goto out;
	double per_hour = (double)wire * (3600.0 / INTERVAL_S);
	snprintf(notes, sizeof(notes),
	         "%d s interval, one up/telemetry batch per interval: %zu samples (1 health + %d "
	         "models) encoded by the common/ codec, %zu B payload + MQTT 5 PUBLISH/PUBACK "
	         "framing; events and reconnects not included",
	         INTERVAL_S, items, MODELS, payload_bytes);
	struct bench_fig fb = {
	    .figure = "telemetry bytes per device per hour (default interval)",
	    .value = per_hour,
	    .unit = "bytes/h",
	    .target_of = "value",
	    .target_op = "<=",
	    .target_value = 150000, /* ~100 MB a month: a cheap metered plan */
	    .notes = notes,
	};
	if (bench_emit("telemetry_queue", &fb) != 0)
		goto out;

	/* Write cost: appends of a realistic ~450-byte sample, each durable on return. */
	char payload[450];
	memset(payload, '7', sizeof(payload));
	double t0 = bench_now();
	for (int i = 0; i < n; i++) {
		if (flt_tq_append(q, "telemetry", payload, sizeof(payload), NULL) != FLT_OK)
			goto out;
	}
	double us = (bench_now() - t0) / n * 1e6;
	double peer = rollback_us_per_sample(peer_path, payload, sizeof(payload), n);
	snprintf(notes, sizeof(notes),
	         "%d appends of 450 B, WAL + synchronous=FULL + locking_mode=EXCLUSIVE (one fsync "
	         "per sample); peer: same transaction with a rollback journal, synchronous=FULL; "
	         "dominated by the disk's fsync latency",
	         n);
	struct bench_fig fw = {
	    .figure = "telemetry queue write cost per sample (durable append)",
	    .value = us,
	    .unit = "us/sample",
	    .peer = peer > 0 ? "rollback journal, synchronous=FULL" : NULL,
	    .peer_value = peer,
	    .target_of = peer > 0 ? "ratio" : NULL,
	    .target_op = "<=",
	    .target_value = 1.0,
	    .notes = notes,
	};
	if (bench_emit("telemetry_queue", &fw) != 0)
		goto out;
	rc = 0;
out:
	flt_tq_close(q);
	flt_health_sampler_free(hs);
	flt_usage_free(u);
	rm_dir();
	return rc;
}
