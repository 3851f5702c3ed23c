/* Telemetry costs on the device: the queue's write cost per sample (WAL,
 * synchronous=FULL, beside a rollback journal with the same durability as peer) and
 * the telemetry bytes one device sends per hour at the default interval. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "benchlib.h"
#include "flt/health.h"
#include "flt/telemetry_queue.h"
#include "flt/usage.h"

/* The agent's default telemetry interval (agent.conf telemetry_interval_s). */
#define INTERVAL_S 60
/* Model versions a typical device serves at once (e.g. detector + classifier). */
#define MODELS 2
/* MQTT 5 PUBLISH overhead besides the payload: fixed header (~3), topic
 * "flotilla/v1/dev/<id>/up/telemetry" with a 20-byte id (~45), packet id (2),
 * properties length (1); plus the PUBACK (4). */
#define MQTT_OVERHEAD 55

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

/* A health sample as a queue item: JSON text without seq, in the shape of the
 * up/telemetry draft (see notes). */
static char *health_item(const struct flt_health_sample *h, size_t *len)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "time", (double)(h->time_ms / 1000));
	cJSON_AddNumberToObject(o, "interval_s", INTERVAL_S);
	cJSON_AddStringToObject(o, "type", "health");
	cJSON_AddNumberToObject(o, "cpu_pct", (double)(int)(h->cpu_pct * 100) / 100.0);
	cJSON_AddNumberToObject(o, "rss_bytes", (double)h->mem.rss);
	cJSON_AddNumberToObject(o, "pss_bytes", (double)h->mem.pss);
	cJSON_AddNumberToObject(o, "mem_avail_bytes", (double)h->mem_available);
	cJSON_AddNumberToObject(o, "mem_total_bytes", (double)h->mem_total);
	cJSON_AddNumberToObject(o, "disk_free_bytes", (double)h->disk_free);
	cJSON_AddNumberToObject(o, "uptime_s", (double)(uint64_t)h->uptime_s);
	cJSON_AddNumberToObject(o, "temp_mc", 48250);
	static const char *const mq[] = {"tx_state", "tx_events", "tx_telemetry", "tx_fetch",
					 "rx_desired", "rx_keys", "rx_ack", "rx_chunks"};
	static const double mqv[] = {0, 312, 1873, 0, 0, 0, 118, 0};
	for (size_t i = 0; i < sizeof(mq) / sizeof(mq[0]); i++)
		cJSON_AddNumberToObject(o, mq[i], mqv[i]);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	*len = s ? strlen(s) : 0;
	return s;
}

static char *usage_item(const struct flt_usage_entry *e, int64_t until_ms, size_t *len)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "time", (double)(until_ms / 1000));
	cJSON_AddNumberToObject(o, "interval_s", INTERVAL_S);
	cJSON_AddStringToObject(o, "type", "model");
	cJSON_AddStringToObject(o, "name", e->model);
	cJSON_AddNumberToObject(o, "version", (double)e->version);
	cJSON_AddNumberToObject(o, "requests", (double)e->requests);
	cJSON_AddNumberToObject(o, "err_input", (double)e->errors[FLT_USAGE_BAD_INPUT]);
	cJSON_AddNumberToObject(o, "err_runtime", (double)e->errors[FLT_USAGE_RUNTIME]);
	cJSON_AddNumberToObject(o, "err_timeout", (double)e->errors[FLT_USAGE_TIMEOUT]);
	cJSON_AddNumberToObject(o, "err_overload", (double)e->errors[FLT_USAGE_BUSY]);
	cJSON_AddNumberToObject(o, "crashes", 0);
	cJSON_AddNumberToObject(o, "p50_us", (double)(flt_usage_hist_percentile(&e->latency, 50) / 1000));
	cJSON_AddNumberToObject(o, "p95_us", (double)(flt_usage_hist_percentile(&e->latency, 95) / 1000));
	cJSON_AddNumberToObject(o, "p99_us", (double)(flt_usage_hist_percentile(&e->latency, 99) / 1000));
	cJSON_AddNumberToObject(o, "bytes_in", (double)e->bytes_in);
	cJSON_AddNumberToObject(o, "bytes_out", (double)e->bytes_out);
	cJSON_AddNumberToObject(o, "last_used", (double)(e->last_used_ms / 1000));
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	*len = s ? strlen(s) : 0;
	return s;
}

/* The batch as sent: header plus each item with its seq spliced in. */
static size_t batch_bytes(const struct flt_tq_batch *b)
{
	char head[160];
	size_t total = (size_t)snprintf(head, sizeof(head),
					"{\"v\":1,\"epoch\":%" PRIu64 ",\"low_seq\":%" PRIu64
					",\"dropped\":%" PRIu64 ",\"samples\":[]}",
					b->epoch, b->low_seq, b->dropped);
	for (size_t i = 0; i < b->n; i++) {
		char seq[32];
		total += (size_t)snprintf(seq, sizeof(seq), "\"seq\":%" PRIu64 ",", b->items[i].seq);
		total += b->items[i].len + (i > 0); /* item and comma */
	}
	return total;
}

/* One interval's samples appended, then sent as one batch: the bytes on the wire. */
static int bytes_per_interval(struct flt_tq *q, struct flt_health_sampler *hs, struct flt_usage *u,
			      size_t *wire, size_t *item_bytes, size_t *items)
{
	struct flt_health_sample h;
	if (flt_health_sample(hs, NULL, &h) != FLT_OK)
		return -1;
	/* A busy minute: ~2 requests/s per model with a few errors. */
	for (int m = 0; m < MODELS; m++) {
		for (int i = 0; i < 120; i++) {
			enum flt_usage_outcome o = i % 40 == 0 ? FLT_USAGE_BUSY : FLT_USAGE_OK;
			if (flt_usage_record(u, m ? "classifier" : "detector", 7, o,
					     (uint64_t)(3000000 + i * 20000), 150528, 4000) != FLT_OK)
				return -1;
		}
	}
	struct flt_usage_snapshot *snap = NULL;
	if (flt_usage_snapshot_reset(u, &snap) != FLT_OK)
		return -1;
	size_t len;
	char *s = health_item(&h, &len);
	*item_bytes = len;
	*items = 1;
	int rc = s && flt_tq_append(q, "telemetry", s, len, NULL) == FLT_OK ? 0 : -1;
	cJSON_free(s);
	for (size_t i = 0; rc == 0 && i < snap->n; i++) {
		s = usage_item(&snap->entries[i], snap->until_ms, &len);
		*item_bytes += len;
		(*items)++;
		rc = s && flt_tq_append(q, "telemetry", s, len, NULL) == FLT_OK ? 0 : -1;
		cJSON_free(s);
	}
	flt_usage_snapshot_free(snap);
	struct flt_tq_batch *b = NULL;
	if (rc != 0 || flt_tq_next_batch(q, "telemetry", 256, 200000, &b) != FLT_OK)
		return -1;
	*wire = batch_bytes(b) + MQTT_OVERHEAD;
	size_t del;
	rc = flt_tq_ack(q, "telemetry", b->epoch, b->last_seq, &del) == FLT_OK ? 0 : -1;
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
	if (sqlite3_prepare_v2(db, "INSERT INTO items(stream, seq, data) VALUES (1, ?1, ?2)", -1, &ins,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE streams SET next_seq = ?1 WHERE id = 1", -1, &upd, NULL) !=
		    SQLITE_OK) {
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
	    flt_health_sampler_new(dir, NULL, NULL, &hs) != FLT_OK || flt_usage_new(8, &u) != FLT_OK)
		goto out;

	/* Bytes per hour first: it also yields a realistic sample for the write cost. */
	size_t wire = 0, item_bytes = 0, items = 0;
	if (bytes_per_interval(q, hs, u, &wire, &item_bytes, &items) != 0)
		goto out;
	double per_hour = (double)wire * (3600.0 / INTERVAL_S);
	snprintf(notes, sizeof(notes),
		 "%d s interval, one batch per interval: 1 health + %d model samples (%zu B of JSON "
		 "items) + batch header + ~%d B MQTT 5 overhead; JSON in the shape of proto's "
		 "up/telemetry draft built with cJSON (the telemetry codec was not on main yet)",
		 INTERVAL_S, MODELS, item_bytes, MQTT_OVERHEAD);
	struct bench_fig fb = {
		.figure = "telemetry bytes per device per hour (default interval)",
		.value = per_hour,
		.unit = "bytes/h",
		.target_of = "value",
		.target_op = "<=",
		.target_value = 150000, /* ~100 MB a month: a cheap metered plan */
		.notes = notes,
	};
	(void)items;
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
