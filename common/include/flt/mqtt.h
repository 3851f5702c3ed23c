/* The one MQTT 5 adapter (over Paho MQTTAsync), shared by flotilla-agent and
 * `flotilla serve`: one client object per session, reconnect with backoff and
 * jitter, and every Paho callback turned into an event the owner's loop drains. */
#ifndef FLT_MQTT_H
#define FLT_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"

/*
 * Threading: a client belongs to one owner thread. Paho's own threads only
 * queue events into the client; the owner gets them, in arrival order, from
 * flt_mqtt_poll(), which also drives reconnection. Every function here is for
 * the owner thread, except flt_mqtt_get_stats(), flt_mqtt_broker_max_packet()
 * and flt_mqtt_is_connected(), which any thread may call. Clients share no
 * state, so many can live in one process (one per simulated device).
 *
 * Backpressure: incoming messages wait in a bounded queue (opts.queue_max_msgs
 * and queue_max_bytes; a single message bigger than queue_max_bytes is still
 * taken when the queue is empty). When it is full, Paho's thread waits until
 * the owner takes messages off it: Paho then stops reading sockets and TCP
 * pushes back to the broker, so nothing is dropped. (Refusing the message
 * instead would stall it: Paho 1.3 offers a refused message again only when
 * that socket next has traffic.) Paho has ONE receive thread per process, so
 * while it waits for a client whose owner does not drain, every client in the
 * process waits: owners must keep polling. stats.deferred counts the waits.
 */

/* What a publish or an incoming message is for; byte counters are kept per purpose. */
enum flt_mqtt_purpose {
	FLT_MQTT_PURPOSE_OTHER = 0,
	FLT_MQTT_PURPOSE_CHUNKS,
	FLT_MQTT_PURPOSE_TELEMETRY,
	FLT_MQTT_PURPOSE_STATE,
	FLT_MQTT_PURPOSE_COUNT_
};

/* Names an incoming topic's purpose. Called on the owner thread from flt_mqtt_poll(). */
typedef enum flt_mqtt_purpose (*flt_mqtt_classify_fn)(void *arg, const char *topic);

struct flt_mqtt_tls {
	const char *ca_file;   /* PEM CA(s) the broker's certificate must chain to */
	const char *cert_file; /* PEM client certificate (chain) */
	const char *key_file;  /* PEM client private key (unencrypted) */
	/* Paho 1.3 cannot check a CRL on the client side; a non-NULL crl_file makes
	 * flt_mqtt_new() fail with FLT_EUNSUPPORTED rather than silently ignore it.
	 * Device revocation is enforced by the broker's CRL. */
	const char *crl_file;
	bool verify; /* verify the broker's certificate and host name (default true) */
};

/* All strings and buffers are borrowed: flt_mqtt_new() copies what it keeps. */
struct flt_mqtt_opts {
	const char *uri;           /* "tcp://host:port" or "ssl://host:port" */
	const char *client_id;     /* must equal the certificate identity under TLS */
	struct flt_mqtt_tls tls;   /* used only for ssl:// */
	uint32_t session_expiry_s; /* MQTT 5 Session Expiry Interval, sent explicitly */
	bool clean_start;          /* for the first connect only; reconnects resume the session */
	unsigned keepalive_s;
	unsigned connect_timeout_s;
	/* Last Will (QoS 1), e.g. up/status "offline"; will_topic NULL = no will. */
	const char *will_topic;
	const void *will_payload;
	size_t will_len;
	bool will_retained;
	/* Maximum Packet Size declared in CONNECT (the broker sends nothing bigger);
	 * 0 declares none. */
	uint32_t max_packet_size;
	/* Broker limit assumed when CONNACK carries no Maximum Packet Size; 0 = none. */
	uint32_t broker_max_packet_fallback;
	/* Reconnect delay: doubles from min to max per failed attempt, each delay
	 * drawn uniformly from [d/2, d]; reset after a successful connect. */
	unsigned backoff_min_ms;
	unsigned backoff_max_ms;
	size_t queue_max_msgs;         /* incoming message queue bound (count) */
	size_t queue_max_bytes;        /* incoming message queue bound (payload+topic bytes) */
	unsigned max_inflight;         /* publishes not yet completed; beyond it FLT_EBUSY */
	flt_mqtt_classify_fn classify; /* NULL: everything incoming is OTHER */
	void *classify_arg;            /* borrowed */
};

/* Sets the defaults: keepalive 30 s, connect timeout 10 s, session expiry 3600 s,
 * clean start on, backoff 500 ms..60 s, queue 256 messages / 8 MiB, 64 in flight,
 * TLS verify on; every pointer NULL and sizes 0. */
void flt_mqtt_opts_init(struct flt_mqtt_opts *o);

struct flt_mqtt;
typedef uint64_t flt_mqtt_token; /* never reused within one client; 0 is never a token */

enum flt_mqtt_event_type {
	/* Connected and every subscription acknowledged. Retained messages for the
	 * subscriptions follow as MESSAGE events (subscriptions are renewed on every
	 * connect, so the broker resends retained state each time). */
	FLT_MQTT_EV_CONNECTED = 1,
	/* A connect attempt failed; another follows after the backoff unless the
	 * owner calls flt_mqtt_disconnect(). err: FLT_EAUTH when this side's TLS
	 * checks failed (broker certificate untrusted, expired or not yet valid,
	 * as with an unsynced clock; detail and flt_mqtt_tls_error() hold
	 * OpenSSL's text) or the broker refused the identity in CONNACK;
	 * FLT_ENOCONN (unreachable, or closed before CONNACK: this is also how a
	 * broker refusing our certificate looks, OpenSSL gives Paho no text for
	 * the peer's alert), FLT_ETIMEOUT, FLT_EINCOMPAT (protocol refused), FLT_EBUSY. */
	FLT_MQTT_EV_CONNECT_FAILED,
	/* An established connection was lost; reconnection is scheduled. err:
	 * FLT_ENOCONN, FLT_ELIMIT (broker said packet too large), FLT_ECONFLICT
	 * (session taken over), FLT_EAUTH (not authorized). */
	FLT_MQTT_EV_DISCONNECTED,
	FLT_MQTT_EV_MESSAGE,
	/* A publish completed: err FLT_OK (QoS 1: PUBACK received; QoS 0: written),
	 * FLT_ELIMIT (refused for size), FLT_EAUTH (not authorized), FLT_EBUSY
	 * (quota), FLT_ENOCONN (dropped with the connection), FLT_EIO otherwise. */
	FLT_MQTT_EV_PUBLISHED,
	/* The broker refused a subscription (err FLT_EAUTH or FLT_EINVAL). */
	FLT_MQTT_EV_SUBSCRIBE_FAILED,
};

/* Everything in an event is borrowed for the duration of the handler call. */
struct flt_mqtt_event {
	enum flt_mqtt_event_type type;
	flt_err err;
	const char *detail; /* may be NULL; for failures: library/TLS text */
	/* MESSAGE; SUBSCRIBE_FAILED uses topic for the filter */
	const char *topic;
	const uint8_t *payload;
	size_t len;
	bool retained;
	int qos;
	enum flt_mqtt_purpose purpose; /* from the classifier */
	/* CONNECTED */
	bool session_present;
	uint32_t broker_max_packet; /* from CONNACK, 0 if absent */
	/* PUBLISHED */
	flt_mqtt_token token;
};

/* Called on the owner thread from flt_mqtt_poll(). It may publish, subscribe,
 * unsubscribe and disconnect on the same client; it must not poll or free it. */
typedef void (*flt_mqtt_handler)(void *arg, struct flt_mqtt *c, const struct flt_mqtt_event *ev);

struct flt_mqtt_stats {
	uint64_t sent_bytes[FLT_MQTT_PURPOSE_COUNT_]; /* PUBLISH packet bytes acknowledged */
	uint64_t recv_bytes[FLT_MQTT_PURPOSE_COUNT_]; /* PUBLISH packet bytes delivered */
	uint64_t sent_msgs, recv_msgs;
	uint64_t connects;     /* successful connects, first one included */
	uint64_t deferred;     /* times Paho's thread waited for room in the queue */
	uint64_t refused_size; /* publishes refused locally as too big for the broker */
};

/* Creates a client (no network yet). Errors: FLT_EINVAL (no uri/client id, bad
 * scheme, backoff min > max, will_len too big), FLT_EUNSUPPORTED (crl_file set),
 * FLT_ENOMEM, FLT_EIO (Paho refused to create the client; raw code logged).
 * *out is owned by the caller (flt_mqtt_free) and set only on success. */
flt_err flt_mqtt_new(const struct flt_mqtt_opts *o, struct flt_mqtt **out) FLT_WUR;

/* Disconnects cleanly (so the Last Will is not sent) waiting at most 1 s, then
 * frees everything. Pending events are dropped. Accepts NULL. */
void flt_mqtt_free(struct flt_mqtt *c);

/* Subscription options for flt_mqtt_subscribe(). */
#define FLT_MQTT_SUB_NO_LOCAL            0x1u /* do not receive our own publishes */
#define FLT_MQTT_SUB_RETAIN_AS_PUBLISHED 0x2u /* keep the retain flag as published */

/* Adds a QoS 1 subscription, kept for the client's lifetime and renewed on every
 * connect; if connected, subscribes now (a refusal arrives as SUBSCRIBE_FAILED).
 * Errors: FLT_EINVAL (empty filter), FLT_ELIMIT (more than 32 subscriptions),
 * FLT_ECONFLICT (already subscribed), FLT_ENOMEM. `filter` is copied. */
flt_err flt_mqtt_subscribe(struct flt_mqtt *c, const char *filter, unsigned flags) FLT_WUR;

/* Removes a subscription added with flt_mqtt_subscribe() (e.g. art/<sha256>/#
 * once an artifact is complete); if connected, unsubscribes now (best effort:
 * a failure is logged, and the filter is not renewed on the next connect).
 * Errors: FLT_EINVAL, FLT_ENOTFOUND (not subscribed). */
flt_err flt_mqtt_unsubscribe(struct flt_mqtt *c, const char *filter) FLT_WUR;

/* Starts connecting; the outcome arrives as CONNECTED or CONNECT_FAILED, and the
 * client keeps reconnecting until flt_mqtt_disconnect(). Errors: FLT_EBUSY
 * (already started), FLT_EIO / FLT_ENOMEM (this attempt could not start; raw
 * code logged; the next one is scheduled all the same). */
flt_err flt_mqtt_connect(struct flt_mqtt *c) FLT_WUR;

/* Stops reconnecting and disconnects cleanly (no Last Will), waiting at most
 * timeout_ms for the broker. flt_mqtt_connect() may be called again later.
 * Errors: FLT_ETIMEOUT (did not complete in time; the connection is dropped anyway). */
flt_err flt_mqtt_disconnect(struct flt_mqtt *c, int timeout_ms) FLT_WUR;

/* Publishes `len` bytes (borrowed; Paho copies them) with qos 0 or 1. The result
 * arrives as a PUBLISHED event with the token set in *token (optional).
 * Errors: FLT_ENOCONN (not connected: nothing is buffered while offline),
 * FLT_ELIMIT (the PUBLISH packet would exceed the broker's maximum packet size:
 * refused here, never sent, never retried), FLT_EBUSY (max_inflight reached, or
 * Paho's buffer full), FLT_EINVAL (bad qos, empty topic, bad UTF-8), FLT_EIO. */
flt_err flt_mqtt_publish(struct flt_mqtt *c, const char *topic, const void *data, size_t len,
                         int qos, bool retained, enum flt_mqtt_purpose purpose,
                         flt_mqtt_token *token) FLT_WUR;

/* Size in bytes of the PUBLISH packet for a topic and payload length (QoS > 0
 * adds the packet identifier), as compared with the broker's limit; SIZE_MAX
 * when MQTT cannot carry it at all (remaining length above 268435455). */
size_t flt_mqtt_publish_packet_size(size_t topic_len, size_t payload_len, int qos);

/* Delivers queued events to `h` in arrival order and runs the reconnect timer.
 * Waits up to timeout_ms (0: do not wait, -1: forever) for the first event;
 * returns after delivering the events that were queued once it has any.
 * Returns FLT_OK (with or without events) or FLT_EINVAL. */
flt_err flt_mqtt_poll(struct flt_mqtt *c, int timeout_ms, flt_mqtt_handler h, void *arg) FLT_WUR;

/* A descriptor that becomes readable when events are queued, for an owner that
 * poll()s other descriptors too; it then calls flt_mqtt_poll(c, 0, ...). Borrowed. */
int flt_mqtt_fd(const struct flt_mqtt *c);

/* Milliseconds until flt_mqtt_poll() must run for a reconnect attempt; -1 if
 * no attempt is scheduled. For owners that wait on flt_mqtt_fd() themselves. */
int flt_mqtt_timeout_ms(const struct flt_mqtt *c);

/* True between CONNECTED and the loss of that connection (as the owner has seen it). */
bool flt_mqtt_is_connected(struct flt_mqtt *c);

/* The broker's Maximum Packet Size from the last CONNACK; 0 if absent or not yet connected. */
uint32_t flt_mqtt_broker_max_packet(struct flt_mqtt *c);

/* The limit publishes are checked against: the CONNACK value, else the
 * configured fallback; 0 = unlimited. */
uint32_t flt_mqtt_publish_limit(struct flt_mqtt *c);

/* Copies the counters. */
void flt_mqtt_get_stats(struct flt_mqtt *c, struct flt_mqtt_stats *out);

/* Copies the OpenSSL error text of the last failed connect attempt (empty if
 * none) into buf, NUL-terminated and truncated to n. */
void flt_mqtt_tls_error(struct flt_mqtt *c, char *buf, size_t n);

#endif
