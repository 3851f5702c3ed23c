/* Private: the state of one `flotilla serve` process, shared by its files:
 * serve.c (config, loop, desired state), serve_ingest.c (reports, streams,
 * acks) and serve_chunks.c (chunk server). One thread owns all of it. */
#ifndef SERVE_LOOP_H
#define SERVE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "flt/mqtt.h"
#include "serve.h"

struct serve_conf {
	char *broker;               /* mqtt.broker */
	char *ca_file;              /* mqtt.ca_file (ssl:// only) */
	char *cert_file;            /* mqtt.cert_file */
	char *key_file;             /* mqtt.key_file */
	uint64_t broker_max_packet; /* mqtt.max_packet: assumed when CONNACK names none */
	int64_t poll_ms;            /* serve.poll_ms: registry change check */
	int64_t flush_ms;           /* serve.flush_ms: ingest batching */
	int64_t release_validity_s; /* signing.release_validity */
	int64_t resign_margin_s;    /* signing.resign_margin */
	int64_t keylist_validity_s; /* signing.keylist_validity */
	int64_t keylist_margin_s;   /* signing.keylist_margin */
	uint64_t chunk_max;         /* chunks.max_size */
	uint64_t chunk_min;         /* chunks.min_size: below it a device is skipped */
	int64_t chunks_per_device;  /* chunks.queue_per_device */
	int64_t chunks_total;       /* chunks.queue_total */
	int64_t telemetry_keep_s;   /* retention.telemetry */
	int64_t events_keep_s;      /* retention.events */
};

struct serve_stream_msg {
	struct serve_stream_msg *next;
	char dev[FLT_IDENT_MAX + 1];
	enum flt_stream stream;
	struct flt_event_batch *events;        /* owned, stream == EVENTS */
	struct flt_telemetry_batch *telemetry; /* owned, stream == TELEMETRY */
};

struct serve_chunk_job {
	struct serve_chunk_job *next;
	char dev[FLT_IDENT_MAX + 1];
	char sha[65];
	int64_t env_id;
	uint32_t chunk_size, count;
	uint64_t size;
	struct flt_chunk_range ranges[FLT_MAX_FETCH_RANGES];
	size_t n_ranges, cur_range;
	uint32_t cur;    /* offset inside the current range */
	uint32_t queued; /* chunks still to send */
	int fd;
};

struct serve {
	struct serve_conf conf;
	const char *data_dir;
	struct flt_registry *reg;
	flt_keystore *ks;
	struct flt_mqtt *mq;
	bool connected;
	bool republish; /* after a (re)connect: re-send every retained topic */
	bool dirty;     /* reconcile desired state on the next tick */
	int64_t data_version;
	struct serve_stream_msg *pending, **pending_tail;
	size_t n_pending;
	int64_t pending_since_ms;
	struct serve_chunk_job *jobs;
	uint64_t jobs_queued;
	uint64_t ingested_items;            /* for tests and the bench: items stored */
	char (*cleared)[FLT_IDENT_MAX + 1]; /* revoked devices whose topics were cleared */
	size_t n_cleared;
	int64_t kl_ino, kl_size, kl_mtime_ns; /* keys/keylist.json as last loaded */
};

/* serve.c */
/* True when dev was revoked (`device revoke`): serve publishes nothing for it,
 * serves it no chunks and ingests nothing from it. */
bool serve_device_revoked(struct serve *s, const char *dev);

/* serve_ingest.c */
void serve_on_state(struct serve *s, const char *dev, const uint8_t *p, size_t len);
void serve_on_status(struct serve *s, const char *dev, const uint8_t *p, size_t len);
void serve_queue_stream(struct serve *s, const char *dev, enum flt_stream stream, const uint8_t *p,
                        size_t len);
/* Stores every queued batch in one transaction, then publishes the acks. */
void serve_flush_streams(struct serve *s);
/* Publishes the retained ack of one device from its stream heads. */
FLT_WUR flt_err serve_publish_ack(struct serve *s, const char *dev);
/* Rolls telemetry older than the limit into hourly sums; drops old events. */
FLT_WUR flt_err serve_retention(struct flt_registry *r, int64_t now, int64_t telemetry_keep_s,
                                int64_t events_keep_s);
/* Stores stream batches (no MQTT): used by serve_flush_streams and the bench. */
FLT_WUR flt_err serve_store_streams(struct flt_registry *r, struct serve_stream_msg *list,
                                    int64_t now_ms, uint64_t *stored);

/* serve_chunks.c */
void serve_on_fetch(struct serve *s, const char *dev, const uint8_t *p, size_t len);
void serve_send_chunks(struct serve *s);
void serve_chunks_free(struct serve *s);
/* Drops the queued chunk jobs of one device. */
void serve_chunks_drop_device(struct serve *s, const char *dev);

#endif
