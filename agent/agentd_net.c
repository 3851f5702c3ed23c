/* The agent's MQTT session over flt/mqtt.h: options, subscriptions, and
 * events handed to the daemon loop as plain structs (see agentd_net.h). */
#include <string.h>

#define FLT_LOG_MODULE "agent.net"
#include "agentd_net.h"
#include "flt/alloc.h"
#include "flt/log.h"
#include "flt/mqtt.h"

struct net {
	struct flt_mqtt *c;
	net_handler h;
	void *harg;
};

static enum flt_mqtt_purpose classify(void *arg, const char *topic)
{
	(void)arg;
	if (strstr(topic, "/down/chunk/") || !strncmp(topic, "flotilla/v1/art/", 16))
		return FLT_MQTT_PURPOSE_CHUNKS;
	if (strstr(topic, "/down/ack"))
		return FLT_MQTT_PURPOSE_TELEMETRY;
	return FLT_MQTT_PURPOSE_STATE;
}

flt_err net_new(const struct net_opts *o, struct net **out)
{
	struct flt_mqtt_opts mo;
	flt_mqtt_opts_init(&mo);
	mo.uri = o->uri;
	mo.client_id = o->client_id;
	mo.tls.ca_file = o->ca_file;
	mo.tls.cert_file = o->cert_file;
	mo.tls.key_file = o->key_file;
	mo.keepalive_s = o->keepalive_s;
	mo.session_expiry_s = o->session_expiry_s;
	/* The retained desired state is re-read on every connect, so a resumed
	 * session adds nothing but stale chunk deliveries. */
	mo.clean_start = true;
	mo.backoff_min_ms = o->backoff_min_ms;
	mo.backoff_max_ms = o->backoff_max_ms;
	mo.max_packet_size = o->max_packet;
	mo.will_topic = o->will_topic;
	mo.will_payload = o->will_payload;
	mo.will_len = o->will_len;
	mo.will_retained = true;
	mo.classify = classify;
	struct net *n = flt_calloc(1, sizeof(*n));
	if (!n)
		return FLT_ENOMEM;
	flt_err e = flt_mqtt_new(&mo, &n->c);
	if (e) {
		flt_free(n);
		return e;
	}
	*out = n;
	return FLT_OK;
}

flt_err net_connect(struct net *n)
{
	flt_err e = flt_mqtt_connect(n->c);
	/* A failed first attempt is rescheduled by the adapter. */
	return e == FLT_EIO || e == FLT_ENOMEM ? FLT_OK : e;
}

void net_free(struct net *n)
{
	if (!n)
		return;
	flt_mqtt_free(n->c);
	flt_free(n);
}

flt_err net_subscribe(struct net *n, const char *filter)
{
	flt_err e = flt_mqtt_subscribe(n->c, filter, 0);
	return e == FLT_ECONFLICT ? FLT_OK : e;
}

flt_err net_unsubscribe(struct net *n, const char *filter)
{
	return flt_mqtt_unsubscribe(n->c, filter);
}

static const enum flt_mqtt_purpose purposes[] = {FLT_MQTT_PURPOSE_OTHER, FLT_MQTT_PURPOSE_CHUNKS,
                                                 FLT_MQTT_PURPOSE_TELEMETRY,
                                                 FLT_MQTT_PURPOSE_STATE};

flt_err net_publish(struct net *n, const char *topic, const void *data, size_t len, bool retained,
                    enum net_purpose p)
{
	return flt_mqtt_publish(n->c, topic, data, len, 1, retained, purposes[p], NULL);
}

static void on_event(void *arg, struct flt_mqtt *c, const struct flt_mqtt_event *ev)
{
	(void)c;
	struct net *n = arg;
	struct net_event ne = {0};
	switch (ev->type) {
	case FLT_MQTT_EV_CONNECTED: ne.type = NET_EV_CONNECTED; break;
	case FLT_MQTT_EV_DISCONNECTED: ne.type = NET_EV_DISCONNECTED; break;
	case FLT_MQTT_EV_MESSAGE:
		ne.type = NET_EV_MESSAGE;
		ne.topic = ev->topic;
		ne.payload = ev->payload;
		ne.len = ev->len;
		break;
	case FLT_MQTT_EV_CONNECT_FAILED:
		ne.type = NET_EV_CONNECT_FAILED;
		ne.err = ev->err;
		ne.detail = ev->detail;
		break;
	case FLT_MQTT_EV_SUBSCRIBE_FAILED:
		flt_log_warn("subscription to %s refused: %s", ev->topic ? ev->topic : "?",
		             flt_strerror(ev->err));
		return;
	default: return;
	}
	n->h(n->harg, &ne);
}

flt_err net_poll(struct net *n, int timeout_ms, net_handler h, void *arg)
{
	n->h = h;
	n->harg = arg;
	return flt_mqtt_poll(n->c, timeout_ms, on_event, n);
}

bool net_connected(struct net *n)
{
	return flt_mqtt_is_connected(n->c);
}

void net_bytes(struct net *n, uint64_t sent[4], uint64_t recv[4])
{
	struct flt_mqtt_stats st;
	flt_mqtt_get_stats(n->c, &st);
	/* chunks, telemetry, state, other: the order of the telemetry wire format */
	const enum flt_mqtt_purpose order[4] = {FLT_MQTT_PURPOSE_CHUNKS, FLT_MQTT_PURPOSE_TELEMETRY,
	                                        FLT_MQTT_PURPOSE_STATE, FLT_MQTT_PURPOSE_OTHER};
	for (int i = 0; i < 4; i++) {
		sent[i] = st.sent_bytes[order[i]];
		recv[i] = st.recv_bytes[order[i]];
	}
}

void net_disconnect(struct net *n, int timeout_ms)
{
	if (flt_mqtt_disconnect(n->c, timeout_ms) != FLT_OK)
		flt_log_dbg("disconnect did not complete in %d ms", timeout_ms);
}
