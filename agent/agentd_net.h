/* The agent's thin wrapper over flt/mqtt.h. Kept apart because flt/mqtt.h and
 * flt/msg.h both declare enum flt_mqtt_purpose and cannot share a file. */
#ifndef FLT_AGENTD_NET_H
#define FLT_AGENTD_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"

enum net_purpose { NET_OTHER = 0, NET_CHUNKS, NET_TELEMETRY, NET_STATE };

enum net_ev { NET_EV_CONNECTED = 1, NET_EV_DISCONNECTED, NET_EV_MESSAGE, NET_EV_CONNECT_FAILED };

struct net_event {
	enum net_ev type;
	const char *topic; /* MESSAGE; borrowed */
	const uint8_t *payload;
	size_t len;
	flt_err err;        /* CONNECT_FAILED: FLT_EAUTH for a failed TLS handshake */
	const char *detail; /* CONNECT_FAILED; borrowed, may be NULL */
};

typedef void (*net_handler)(void *arg, const struct net_event *ev);

struct net_opts {
	const char *uri, *client_id, *ca_file, *cert_file, *key_file;
	unsigned keepalive_s, session_expiry_s, backoff_min_ms, backoff_max_ms;
	uint32_t max_packet;
	const char *will_topic;
	const void *will_payload;
	size_t will_len;
};

struct net;
FLT_WUR flt_err net_new(const struct net_opts *o, struct net **out);
FLT_WUR flt_err net_connect(struct net *n);
void net_free(struct net *n);
FLT_WUR flt_err net_subscribe(struct net *n, const char *filter);
flt_err net_unsubscribe(struct net *n, const char *filter);
FLT_WUR flt_err net_publish(struct net *n, const char *topic, const void *data, size_t len,
                            bool retained, enum net_purpose p);
FLT_WUR flt_err net_poll(struct net *n, int timeout_ms, net_handler h, void *arg);
bool net_connected(struct net *n);
/* Cumulative payload bytes sent/received per purpose (chunks, telemetry, state, other). */
void net_bytes(struct net *n, uint64_t sent[4], uint64_t recv[4]);
/* Clean disconnect (no will) with a wait. */
void net_disconnect(struct net *n, int timeout_ms);

#endif
