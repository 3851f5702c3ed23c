/* MQTT topic names of the protocol (docs/protocol.md, "Topics"): building them
 * for publishing and subscribing, and parsing an incoming topic back into its
 * kind, device id and artifact hash. Parsing is strict because the device id
 * in a topic decides whose record a message updates. */
#ifndef FLT_TOPIC_H
#define FLT_TOPIC_H

#include <stddef.h>

#include "flt/error.h"
#include "flt/ident.h"
#include "flt/protocol.h"

enum flt_topic_kind {
	FLT_TOPIC_DOWN_DESIRED = 0, /* flotilla/v1/dev/<id>/down/desired   (serve, retained) */
	FLT_TOPIC_DOWN_KEYS,        /* flotilla/v1/dev/<id>/down/keys      (serve, retained) */
	FLT_TOPIC_DOWN_ACK,         /* flotilla/v1/dev/<id>/down/ack       (serve, retained) */
	FLT_TOPIC_DOWN_CHUNK,       /* flotilla/v1/dev/<id>/down/chunk/<sha256> (serve) */
	FLT_TOPIC_ART_CHUNK,        /* flotilla/v1/art/<sha256>/chunk      (serve, broadcast) */
	FLT_TOPIC_UP_STATE,         /* flotilla/v1/dev/<id>/up/state       (agent, retained) */
	FLT_TOPIC_UP_STATUS,    /* flotilla/v1/dev/<id>/up/status      (agent + Will, retained) */
	FLT_TOPIC_UP_EVENTS,    /* flotilla/v1/dev/<id>/up/events      (agent) */
	FLT_TOPIC_UP_TELEMETRY, /* flotilla/v1/dev/<id>/up/telemetry   (agent) */
	FLT_TOPIC_UP_FETCH,     /* flotilla/v1/dev/<id>/up/fetch       (agent) */
	FLT_TOPIC_COUNT_
};

/* Longest topic this protocol produces, with its NUL. */
#define FLT_TOPIC_MAX 192

/* Whether messages on this kind of topic are published retained. */
int flt_topic_retained(enum flt_topic_kind k);

/* Builds the topic of kind k into buf (cap bytes; its contents are undefined
 * on failure). device_id is required for
 * every kind but FLT_TOPIC_ART_CHUNK (ignored there) and must pass
 * flt_ident_device_valid; sha256 (64 lowercase hex) is required for the two
 * chunk kinds and ignored otherwise. Errors: FLT_EINVAL (bad kind, id or hash),
 * FLT_ELIMIT (cap too small). */
FLT_WUR flt_err flt_topic_build(enum flt_topic_kind k, const char *device_id, const char *sha256,
                                char *buf, size_t cap);

struct flt_topic {
	enum flt_topic_kind kind;
	char device_id[FLT_IDENT_MAX + 1]; /* "" for FLT_TOPIC_ART_CHUNK */
	char sha256[65];                   /* "" unless a chunk kind */
};

/* Parses a topic received from the broker. Exactly the shapes above; anything
 * else (another root, an invalid or reserved device id, a bad hash, extra or
 * missing levels, wildcards) is FLT_EPARSE. *out set only on success. */
FLT_WUR flt_err flt_topic_parse(const char *topic, struct flt_topic *out);

/* Subscription filters. */
/* What an agent subscribes to: flotilla/v1/dev/<id>/down/# */
FLT_WUR flt_err flt_topic_filter_device(const char *device_id, char *buf, size_t cap);
/* One artifact's broadcast chunks: flotilla/v1/art/<sha256>/# */
FLT_WUR flt_err flt_topic_filter_artifact(const char *sha256, char *buf, size_t cap);
/* What serve subscribes to: every device's up/ topics. */
#define FLT_TOPIC_FILTER_SERVE FLT_TOPIC_ROOT "/dev/+/up/#"

#endif
