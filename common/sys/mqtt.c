/* The MQTT adapter: the only file that includes MQTTAsync.h. Paho callbacks
 * (on Paho's threads) only copy what they got into the client's queue; the
 * owner's flt_mqtt_poll() turns it into events, drives reconnects and logs. */
#define FLT_LOG_MODULE "mqtt"

#include "flt/mqtt.h"

#include <MQTTAsync.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flt/alloc.h"
#include "flt/log.h"

#define MAX_SUBS 32
#define CTL_POOL 16
#define TEXT_MAX 256

enum node_kind { NODE_MSG, NODE_PUB, NODE_CTL };

struct qnode {
	struct qnode *next;
	enum node_kind kind;
};

/* An incoming message; payload then NUL-terminated topic follow the struct. */
struct msg_node {
	struct qnode q;
	size_t len;
	size_t topic_len;
	int qos;
	bool retained;
	uint8_t data[];
};

enum ctl_type { CTL_CONNACK, CTL_CONNFAIL, CTL_LOST, CTL_SRVDISC, CTL_SUBACK, CTL_SUBFAIL };

struct ctl_node {
	struct qnode q;
	bool in_use;
	bool heap; /* allocated because the pool was exhausted */
	enum ctl_type type;
	int code;   /* Paho return code */
	int reason; /* MQTT 5 reason code */
	MQTTAsync_token token;
	bool session_present;
	uint32_t max_packet;
	int n_codes;
	uint8_t codes[MAX_SUBS];
	char text[TEXT_MAX];
};

/* One publish in flight. Its address is Paho's callback context, and it is
 * queued as its own completion event, so completions never allocate. */
struct pub_slot {
	struct qnode q;
	struct flt_mqtt *c;
	bool in_use;
	bool done;
	flt_mqtt_token token;
	int code;
	int reason;
	uint64_t size;
	enum flt_mqtt_purpose purpose;
};

struct sub {
	char *filter;
	unsigned flags;
	MQTTAsync_token token;
};

enum conn_state { ST_IDLE, ST_CONNECTING, ST_SUBSCRIBING, ST_UP, ST_WAIT_RETRY, ST_STOPPED };

struct flt_mqtt {
	MQTTAsync h;
	struct flt_mqtt_opts o; /* pointers below replace the borrowed ones */
	char *uri, *client_id, *ca, *cert, *key, *will_topic;
	uint8_t *will_payload;
	bool tls;

	/* Shared with Paho's threads, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;   /* disconnect done, callbacks left */
	pthread_cond_t room; /* the owner took messages off the queue */
	bool closing;        /* flt_mqtt_free() started: callbacks drop messages */
	int in_cb;           /* message callbacks inside this client */
	struct qnode *head, *tail;
	size_t q_msgs, q_bytes;
	struct ctl_node ctl[CTL_POOL];
	char ssl_err[TEXT_MAX];
	bool disc_done;
	bool connected;
	uint32_t broker_max;
	struct flt_mqtt_stats stats;
	int pipe_rd, pipe_wr;

	/* Owner thread only. */
	struct pub_slot *slots;
	unsigned n_slots;
	struct sub subs[MAX_SUBS];
	unsigned n_subs;
	enum conn_state st;
	bool connected_once;
	unsigned attempt;
	unsigned fail_logged;
	int64_t next_attempt_ms;
	MQTTAsync_token sub_token;
	bool sub_index_stale; /* subs changed since the connect-time SUBSCRIBE */
	bool connack_session;
	int srv_reason;
	flt_mqtt_token next_token;
	uint64_t rng;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void flt_mqtt_opts_init(struct flt_mqtt_opts *o)
{
	memset(o, 0, sizeof *o);
	o->session_expiry_s = 3600;
	o->clean_start = true;
	o->keepalive_s = 30;
	o->connect_timeout_s = 10;
	o->backoff_min_ms = 500;
	o->backoff_max_ms = 60000;
	o->queue_max_msgs = 256;
	o->queue_max_bytes = 8u << 20;
	o->max_inflight = 64;
	o->tls.verify = true;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 128) {
		v /= 128;
		n++;
	}
	return n;
}

size_t flt_mqtt_publish_packet_size(size_t topic_len, size_t payload_len, int qos)
{
	/* MQTT's largest remaining length; beyond it no packet exists at all. */
	const uint64_t max_rem = 268435455u;
	if (topic_len > max_rem || payload_len > max_rem)
		return SIZE_MAX;
	/* topic length prefix + topic + packet id + empty property list + payload */
	uint64_t rem = 2 + (uint64_t)topic_len + (qos > 0 ? 2 : 0) + 1 + (uint64_t)payload_len;
	if (rem > max_rem)
		return SIZE_MAX;
	uint64_t total = 1 + varint_len(rem) + rem;
	return total > SIZE_MAX ? SIZE_MAX : (size_t)total;
}

/* ---- Paho's threads: copy and queue, nothing else ------------------------ */

static void notify(struct flt_mqtt *c)
{
	char b = 1;
	/* A full pipe already wakes the owner, so EAGAIN is fine. */
	ssize_t r = write(c->pipe_wr, &b, 1);
	(void)r;
}

static void enqueue_locked(struct flt_mqtt *c, struct qnode *n)
{
	n->next = NULL;
	if (c->tail)
		c->tail->next = n;
	else
		c->head = n;
	c->tail = n;
}

static struct ctl_node *ctl_get_locked(struct flt_mqtt *c, enum ctl_type t)
{
	struct ctl_node *n = NULL;
	for (int i = 0; i < CTL_POOL; i++) {
		if (!c->ctl[i].in_use) {
			n = &c->ctl[i];
			memset(n, 0, sizeof *n);
			break;
		}
	}
	if (!n) {
		n = flt_calloc(1, sizeof *n);
		if (!n)
			return NULL;
		n->heap = true;
	}
	n->in_use = true;
	n->q.kind = NODE_CTL;
	n->type = t;
	return n;
}

static void ctl_put(struct flt_mqtt *c, struct ctl_node *n)
{
	enqueue_locked(c, &n->q);
	pthread_mutex_unlock(&c->mu);
	notify(c);
}

static void copy_text(char *dst, const char *src)
{
	if (src)
		snprintf(dst, TEXT_MAX, "%s", src);
	else
		dst[0] = '\0';
}

static void on_connect_ok(void *ctx, MQTTAsync_successData5 *r)
{
	struct flt_mqtt *c = ctx;
	pthread_mutex_lock(&c->mu);
	struct ctl_node *n = ctl_get_locked(c, CTL_CONNACK);
	if (!n) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	if (r) {
		n->session_present = r->alt.connect.sessionPresent != 0;
		if (MQTTProperties_hasProperty(&r->properties,
		                               MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE)) {
			int v = MQTTProperties_getNumericValue(
			    &r->properties, MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE);
			n->max_packet = v > 0 ? (uint32_t)v : 0;
		}
	}
	ctl_put(c, n);
}

static void on_connect_fail(void *ctx, MQTTAsync_failureData5 *r)
{
	struct flt_mqtt *c = ctx;
	pthread_mutex_lock(&c->mu);
	struct ctl_node *n = ctl_get_locked(c, CTL_CONNFAIL);
	if (!n) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	n->code = r ? r->code : MQTTASYNC_FAILURE;
	n->reason = r ? (int)r->reasonCode : 0;
	copy_text(n->text, r ? r->message : NULL);
	ctl_put(c, n);
}

static void on_lost(void *ctx, char *cause)
{
	struct flt_mqtt *c = ctx;
	pthread_mutex_lock(&c->mu);
	struct ctl_node *n = ctl_get_locked(c, CTL_LOST);
	if (!n) {
		pthread_mutex_unlock(&c->mu);
		MQTTAsync_free(cause);
		return;
	}
	copy_text(n->text, cause);
	ctl_put(c, n);
	MQTTAsync_free(cause);
}

static void on_server_disconnect(void *ctx, MQTTProperties *props, enum MQTTReasonCodes rc)
{
	struct flt_mqtt *c = ctx;
	(void)props;
	pthread_mutex_lock(&c->mu);
	struct ctl_node *n = ctl_get_locked(c, CTL_SRVDISC);
	if (!n) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	n->reason = (int)rc;
	ctl_put(c, n);
}

/* Paho fills alt.sub only for a multi-topic SUBACK; a single one has just
 * reasonCode (alt is then garbage), hence two callbacks. */
static void sub_ok(void *ctx, MQTTAsync_successData5 *r, bool many)
{
	struct flt_mqtt *c = ctx;
	pthread_mutex_lock(&c->mu);
	struct ctl_node *n = ctl_get_locked(c, CTL_SUBACK);
	if (!n) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	if (r) {
		n->token = r->token;
		if (many && r->alt.sub.reasonCodes) {
			int k = r->alt.sub.reasonCodeCount;
			n->n_codes = k > MAX_SUBS ? MAX_SUBS : (k < 0 ? 0 : k);
			for (int i = 0; i < n->n_codes; i++)
				n->codes[i] = (uint8_t)r->alt.sub.reasonCodes[i];
		} else {
			n->n_codes = 1;
			n->codes[0] = (uint8_t)r->reasonCode;
		}
	}
	ctl_put(c, n);
}

static void on_sub_ok_one(void *ctx, MQTTAsync_successData5 *r)
{
	sub_ok(ctx, r, false);
}

static void on_sub_ok_many(void *ctx, MQTTAsync_successData5 *r)
{
	sub_ok(ctx, r, true);
}

static void on_sub_fail(void *ctx, MQTTAsync_failureData5 *r)
{
	struct flt_mqtt *c = ctx;
	pthread_mutex_lock(&c->mu);
	struct ctl_node *n = ctl_get_locked(c, CTL_SUBFAIL);
	if (!n) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	if (r) {
		n->token = r->token;
		n->code = r->code;
		n->reason = (int)r->reasonCode;
		copy_text(n->text, r->message);
	}
	ctl_put(c, n);
}

static void pub_done(struct pub_slot *s, int code, int reason)
{
	struct flt_mqtt *c = s->c;
	pthread_mutex_lock(&c->mu);
	if (s->in_use && !s->done) {
		s->done = true;
		s->code = code;
		s->reason = reason;
		s->q.kind = NODE_PUB;
		enqueue_locked(c, &s->q);
	}
	pthread_mutex_unlock(&c->mu);
	notify(c);
}

static void on_pub_ok(void *ctx, MQTTAsync_successData5 *r)
{
	pub_done(ctx, MQTTASYNC_SUCCESS, r ? (int)r->reasonCode : 0);
}

static void on_pub_fail(void *ctx, MQTTAsync_failureData5 *r)
{
	pub_done(ctx, r ? r->code : MQTTASYNC_FAILURE, r ? (int)r->reasonCode : 0);
}

static void on_disc_ok(void *ctx, MQTTAsync_successData5 *r)
{
	struct flt_mqtt *c = ctx;
	(void)r;
	pthread_mutex_lock(&c->mu);
	c->disc_done = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void on_disc_fail(void *ctx, MQTTAsync_failureData5 *r)
{
	on_disc_ok(ctx, NULL);
	(void)r;
}

static int on_ssl_error(const char *str, size_t len, void *ctx)
{
	struct flt_mqtt *c = ctx;
	pthread_mutex_lock(&c->mu);
	size_t used = strlen(c->ssl_err);
	if (used + 2 < sizeof c->ssl_err) {
		size_t room = sizeof c->ssl_err - used - 1;
		if (used > 0) {
			c->ssl_err[used++] = ' ';
			room--;
		}
		size_t k = len < room ? len : room;
		memcpy(c->ssl_err + used, str, k);
		used += k;
		/* OpenSSL lines end with a newline; keep one line. */
		while (used > 0 && (c->ssl_err[used - 1] == '\n' || c->ssl_err[used - 1] == '\r'))
			used--;
		c->ssl_err[used] = '\0';
	}
	pthread_mutex_unlock(&c->mu);
	return 1;
}

/* Waits for room when the queue is full: Paho 1.3 offers a refused message
 * again only when that client's socket next has traffic, so refusing would
 * stall it; waiting stops Paho reading and pushes back to the broker instead. */
static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
	struct flt_mqtt *c = ctx;
	size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
	size_t plen = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
	size_t cost = tlen + plen;
	bool waited = false;

	pthread_mutex_lock(&c->mu);
	c->in_cb++;
	while (!c->closing && (c->q_msgs >= c->o.queue_max_msgs ||
	                       (c->q_msgs > 0 && cost > c->o.queue_max_bytes - c->q_bytes))) {
		if (!waited)
			c->stats.deferred++;
		waited = true;
		pthread_cond_wait(&c->room, &c->mu);
	}
	bool closing = c->closing;
	pthread_mutex_unlock(&c->mu);

	struct msg_node *n = NULL;
	if (!closing) {
		n = flt_malloc(sizeof *n + plen + tlen + 1);
		if (!n) {
			/* Out of memory: leave it with Paho, which offers it again later. */
			pthread_mutex_lock(&c->mu);
			c->in_cb--;
			pthread_cond_broadcast(&c->cv);
			pthread_mutex_unlock(&c->mu);
			return 0;
		}
		n->q.kind = NODE_MSG;
		n->len = plen;
		n->topic_len = tlen;
		n->qos = m->qos;
		n->retained = m->retained != 0;
		if (plen)
			memcpy(n->data, m->payload, plen);
		memcpy(n->data + plen, topic, tlen);
		n->data[plen + tlen] = '\0';
	}

	pthread_mutex_lock(&c->mu);
	if (n) {
		enqueue_locked(c, &n->q);
		c->q_msgs++;
		c->q_bytes += cost;
	}
	c->in_cb--;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (n)
		notify(c);

	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

/* ---- owner thread ---------------------------------------------------------- */

static flt_err reason_to_err(int reason)
{
	switch (reason) {
	case MQTTREASONCODE_PACKET_TOO_LARGE: return FLT_ELIMIT;
	case MQTTREASONCODE_NOT_AUTHORIZED:
	case MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD:
	case MQTTREASONCODE_CLIENT_IDENTIFIER_NOT_VALID:
	case MQTTREASONCODE_BANNED:
	case MQTTREASONCODE_BAD_AUTHENTICATION_METHOD: return FLT_EAUTH;
	case MQTTREASONCODE_SESSION_TAKEN_OVER: return FLT_ECONFLICT;
	case MQTTREASONCODE_UNSUPPORTED_PROTOCOL_VERSION: return FLT_EINCOMPAT;
	case MQTTREASONCODE_SERVER_UNAVAILABLE:
	case MQTTREASONCODE_SERVER_BUSY:
	case MQTTREASONCODE_QUOTA_EXCEEDED:
	case MQTTREASONCODE_CONNECTION_RATE_EXCEEDED:
	case MQTTREASONCODE_MESSAGE_RATE_TOO_HIGH: return FLT_EBUSY;
	case MQTTREASONCODE_TOPIC_NAME_INVALID:
	case MQTTREASONCODE_TOPIC_FILTER_INVALID:
	case MQTTREASONCODE_PAYLOAD_FORMAT_INVALID:
	case MQTTREASONCODE_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: return FLT_EINVAL;
	default: return reason >= MQTTREASONCODE_UNSPECIFIED_ERROR ? FLT_EIO : FLT_OK;
	}
}

static flt_err code_to_err(int code)
{
	switch (code) {
	case MQTTASYNC_SUCCESS: return FLT_OK;
	case MQTTASYNC_DISCONNECTED:
	case MQTTASYNC_OPERATION_INCOMPLETE: return FLT_ENOCONN;
	case MQTTASYNC_MAX_MESSAGES_INFLIGHT:
	case MQTTASYNC_MAX_BUFFERED_MESSAGES:
	case MQTTASYNC_NO_MORE_MSGIDS: return FLT_EBUSY;
	case MQTTASYNC_BAD_UTF8_STRING:
	case MQTTASYNC_NULL_PARAMETER:
	case MQTTASYNC_TOPICNAME_TRUNCATED:
	case MQTTASYNC_BAD_QOS: return FLT_EINVAL;
	case MQTTASYNC_SSL_NOT_SUPPORTED: return FLT_EUNSUPPORTED;
	default: return FLT_EIO;
	}
}

static const char *reason_str(int reason)
{
	const char *s = MQTTReasonCode_toString((enum MQTTReasonCodes)reason);
	return s ? s : "?";
}

static const char *code_str(int code)
{
	const char *s = MQTTAsync_strerror(code);
	return s ? s : "?";
}

static uint64_t rng_next(struct flt_mqtt *c)
{
	uint64_t x = c->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	c->rng = x;
	return x;
}

static void schedule_retry(struct flt_mqtt *c)
{
	uint64_t d = c->o.backoff_min_ms;
	for (unsigned i = 0; i < c->attempt && d < c->o.backoff_max_ms; i++)
		d *= 2;
	if (d > c->o.backoff_max_ms)
		d = c->o.backoff_max_ms;
	if (c->attempt < 64)
		c->attempt++;
	/* Uniform in [d/2, d] so a fleet that lost the broker together spreads out. */
	uint64_t half = d / 2;
	uint64_t delay = half + rng_next(c) % (d - half + 1);
	c->next_attempt_ms = now_ms() + (int64_t)delay;
	c->st = ST_WAIT_RETRY;
}

static flt_err start_attempt(struct flt_mqtt *c)
{
	flt_err err = FLT_OK;
	MQTTProperties props = MQTTProperties_initializer;
	MQTTProperty p;
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer5;
	MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;

	memset(&p, 0, sizeof p);
	p.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
	p.value.integer4 = c->o.session_expiry_s;
	if (MQTTProperties_add(&props, &p) != 0) {
		err = FLT_ENOMEM;
		goto out;
	}
	if (c->o.max_packet_size > 0) {
		memset(&p, 0, sizeof p);
		p.identifier = MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE;
		p.value.integer4 = c->o.max_packet_size;
		if (MQTTProperties_add(&props, &p) != 0) {
			err = FLT_ENOMEM;
			goto out;
		}
	}

	co.keepAliveInterval = (int)c->o.keepalive_s;
	co.connectTimeout = (int)c->o.connect_timeout_s;
	/* Only a fresh process may drop its session; a reconnect resumes it so
	 * in-flight QoS 1 messages survive a network blip. */
	co.cleanstart = (c->o.clean_start && !c->connected_once) ? 1 : 0;
	co.automaticReconnect = 0;
	co.MQTTVersion = MQTTVERSION_5;
	co.connectProperties = &props;
	co.onSuccess5 = on_connect_ok;
	co.onFailure5 = on_connect_fail;
	co.context = c;
	if (c->will_topic) {
		will.topicName = c->will_topic;
		/* Paho takes the binary payload only when message is NULL, and an
		 * empty one only as a string. */
		will.message = c->o.will_len ? NULL : "";
		will.payload.len = (int)c->o.will_len;
		will.payload.data = c->will_payload;
		will.retained = c->o.will_retained ? 1 : 0;
		will.qos = 1;
		co.will = &will;
	}
	if (c->tls) {
		ssl.trustStore = c->ca;
		ssl.keyStore = c->cert;
		ssl.privateKey = c->key;
		ssl.enableServerCertAuth = c->o.tls.verify ? 1 : 0;
		ssl.verify = c->o.tls.verify ? 1 : 0;
		ssl.disableDefaultTrustStore = c->ca ? 1 : 0;
		ssl.ssl_error_cb = on_ssl_error;
		ssl.ssl_error_context = c;
		co.ssl = &ssl;
	}

	pthread_mutex_lock(&c->mu);
	c->ssl_err[0] = '\0';
	pthread_mutex_unlock(&c->mu);
	c->st = ST_CONNECTING;
	int rc = MQTTAsync_connect(c->h, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		flt_log_err("connect to %s refused by Paho: %d (%s)", c->uri, rc, code_str(rc));
		schedule_retry(c);
		err = FLT_EIO;
	}
out:
	if (err == FLT_ENOMEM)
		schedule_retry(c);
	MQTTProperties_free(&props);
	return err;
}

flt_err flt_mqtt_new(const struct flt_mqtt_opts *o, struct flt_mqtt **out)
{
	flt_err err = FLT_OK;
	struct flt_mqtt *c = NULL;
	int fds[2] = {-1, -1};

	if (!o || !out || !o->uri || !o->client_id || !o->client_id[0] || o->backoff_min_ms == 0 ||
	    o->backoff_min_ms > o->backoff_max_ms || o->will_len > INT_MAX ||
	    (o->will_len > 0 && !o->will_payload) || o->max_inflight == 0 ||
	    o->queue_max_msgs == 0 || o->queue_max_bytes == 0) {
		err = FLT_EINVAL;
		goto out;
	}
	bool tls = strncmp(o->uri, "ssl://", 6) == 0;
	if (!tls && strncmp(o->uri, "tcp://", 6) != 0) {
		flt_log_err("broker URI %s: only tcp:// and ssl:// are supported", o->uri);
		err = FLT_EINVAL;
		goto out;
	}
	if (tls && o->tls.crl_file) {
		flt_log_err(
		    "a client-side CRL is not supported by Paho; the broker enforces revocation");
		err = FLT_EUNSUPPORTED;
		goto out;
	}

	c = flt_calloc(1, sizeof *c);
	if (!c) {
		err = FLT_ENOMEM;
		goto out;
	}
	c->pipe_rd = c->pipe_wr = -1;
	c->o = *o;
	c->tls = tls;
	c->uri = flt_strdup(o->uri);
	c->client_id = flt_strdup(o->client_id);
	c->ca = o->tls.ca_file ? flt_strdup(o->tls.ca_file) : NULL;
	c->cert = o->tls.cert_file ? flt_strdup(o->tls.cert_file) : NULL;
	c->key = o->tls.key_file ? flt_strdup(o->tls.key_file) : NULL;
	c->will_topic = o->will_topic ? flt_strdup(o->will_topic) : NULL;
	c->will_payload = o->will_len ? flt_memdup(o->will_payload, o->will_len) : NULL;
	c->slots = flt_calloc(o->max_inflight, sizeof *c->slots);
	if (!c->uri || !c->client_id || (o->tls.ca_file && !c->ca) ||
	    (o->tls.cert_file && !c->cert) || (o->tls.key_file && !c->key) ||
	    (o->will_topic && !c->will_topic) || (o->will_len && !c->will_payload) || !c->slots) {
		err = FLT_ENOMEM;
		goto out;
	}
	/* The copy must not keep borrowed pointers. */
	c->o.uri = c->uri;
	c->o.client_id = c->client_id;
	c->o.will_topic = c->will_topic;
	c->o.will_payload = c->will_payload;
	c->o.tls.ca_file = c->ca;
	c->o.tls.cert_file = c->cert;
	c->o.tls.key_file = c->key;
	c->o.tls.crl_file = NULL;
	c->n_slots = o->max_inflight;
	for (unsigned i = 0; i < c->n_slots; i++)
		c->slots[i].c = c;
	c->rng = ((uint64_t)now_ms() << 20) ^ (uint64_t)(uintptr_t)c ^ (uint64_t)getpid();
	if (c->rng == 0)
		c->rng = 0x9e3779b97f4a7c15ull;
	c->next_token = 1;

	if (pipe(fds) != 0) {
		err = flt_err_from_errno(errno);
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		int fl = fcntl(fds[i], F_GETFL);
		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
		    fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
			err = flt_err_from_errno(errno);
			goto out;
		}
	}
	c->pipe_rd = fds[0];
	c->pipe_wr = fds[1];
	fds[0] = fds[1] = -1;
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		err = FLT_ENOMEM;
		goto out;
	}
	if (pthread_cond_init(&c->cv, NULL) != 0) {
		pthread_mutex_destroy(&c->mu);
		err = FLT_ENOMEM;
		goto out;
	}
	if (pthread_cond_init(&c->room, NULL) != 0) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		err = FLT_ENOMEM;
		goto out;
	}

	MQTTAsync_createOptions cro = MQTTAsync_createOptions_initializer5;
	cro.sendWhileDisconnected = 0;
	cro.maxBufferedMessages = (int)(o->max_inflight > INT_MAX ? INT_MAX : o->max_inflight);
	int rc = MQTTAsync_createWithOptions(&c->h, c->uri, c->client_id,
	                                     MQTTCLIENT_PERSISTENCE_NONE, NULL, &cro);
	if (rc != MQTTASYNC_SUCCESS) {
		flt_log_err("cannot create MQTT client for %s: %d (%s)", c->uri, rc, code_str(rc));
		c->h = NULL;
		err = rc == MQTTASYNC_BAD_PROTOCOL ? FLT_EINVAL : FLT_EIO;
		goto destroy_sync;
	}
	rc = MQTTAsync_setCallbacks(c->h, c, on_lost, on_message, NULL);
	if (rc == MQTTASYNC_SUCCESS)
		rc = MQTTAsync_setDisconnected(c->h, c, on_server_disconnect);
	if (rc != MQTTASYNC_SUCCESS) {
		flt_log_err("cannot set MQTT callbacks: %d (%s)", rc, code_str(rc));
		MQTTAsync_destroy(&c->h);
		err = FLT_EIO;
		goto destroy_sync;
	}
	*out = c;
	c = NULL;
	goto out;

destroy_sync:
	pthread_cond_destroy(&c->room);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
out:
	if (c) {
		if (c->pipe_rd >= 0)
			close(c->pipe_rd);
		if (c->pipe_wr >= 0)
			close(c->pipe_wr);
		flt_free(c->uri);
		flt_free(c->client_id);
		flt_free(c->ca);
		flt_free(c->cert);
		flt_free(c->key);
		flt_free(c->will_topic);
		flt_free(c->will_payload);
		flt_free(c->slots);
		flt_free(c);
	}
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return err;
}

static void free_node(struct flt_mqtt *c, struct qnode *n)
{
	if (n->kind == NODE_MSG) {
		flt_free(n);
	} else if (n->kind == NODE_CTL) {
		struct ctl_node *k = (struct ctl_node *)n;
		pthread_mutex_lock(&c->mu);
		k->in_use = false;
		pthread_mutex_unlock(&c->mu);
		if (k->heap)
			flt_free(k);
	}
	/* Publish slots are released by their dispatcher. */
}

void flt_mqtt_free(struct flt_mqtt *c)
{
	if (!c)
		return;
	/* Release a Paho thread waiting for room, and keep it from waiting again. */
	pthread_mutex_lock(&c->mu);
	c->closing = true;
	pthread_cond_broadcast(&c->room);
	pthread_mutex_unlock(&c->mu);
	if (c->st != ST_IDLE && c->st != ST_STOPPED) {
		flt_err e = flt_mqtt_disconnect(c, 1000);
		if (e != FLT_OK)
			flt_log_dbg("disconnect before free: %s", flt_strerror(e));
	}
	pthread_mutex_lock(&c->mu);
	while (c->in_cb > 0)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	MQTTAsync_destroy(&c->h);
	struct qnode *n = c->head;
	while (n) {
		struct qnode *next = n->next;
		free_node(c, n);
		n = next;
	}
	for (unsigned i = 0; i < c->n_subs; i++)
		flt_free(c->subs[i].filter);
	pthread_cond_destroy(&c->room);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	close(c->pipe_rd);
	close(c->pipe_wr);
	flt_free(c->uri);
	flt_free(c->client_id);
	flt_free(c->ca);
	flt_free(c->cert);
	flt_free(c->key);
	flt_free(c->will_topic);
	flt_free(c->will_payload);
	flt_free(c->slots);
	flt_free(c);
}

static flt_err subscribe_one(struct flt_mqtt *c, struct sub *s)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess5 = on_sub_ok_one;
	ro.onFailure5 = on_sub_fail;
	ro.context = c;
	ro.subscribeOptions.noLocal = (s->flags & FLT_MQTT_SUB_NO_LOCAL) ? 1 : 0;
	ro.subscribeOptions.retainAsPublished =
	    (s->flags & FLT_MQTT_SUB_RETAIN_AS_PUBLISHED) ? 1 : 0;
	int rc = MQTTAsync_subscribe(c->h, s->filter, 1, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		flt_log_warn("subscribe %s: %d (%s)", s->filter, rc, code_str(rc));
		return code_to_err(rc);
	}
	s->token = ro.token;
	return FLT_OK;
}

flt_err flt_mqtt_subscribe(struct flt_mqtt *c, const char *filter, unsigned flags)
{
	if (!c || !filter || !filter[0])
		return FLT_EINVAL;
	for (unsigned i = 0; i < c->n_subs; i++)
		if (strcmp(c->subs[i].filter, filter) == 0)
			return FLT_ECONFLICT;
	if (c->n_subs >= MAX_SUBS)
		return FLT_ELIMIT;
	struct sub *s = &c->subs[c->n_subs];
	s->filter = flt_strdup(filter);
	if (!s->filter)
		return FLT_ENOMEM;
	s->flags = flags;
	s->token = 0;
	c->n_subs++;
	/* While the connect-time subscribe is in flight this one was not in it. */
	if (c->st == ST_UP || c->st == ST_SUBSCRIBING)
		return subscribe_one(c, s);
	return FLT_OK;
}

flt_err flt_mqtt_unsubscribe(struct flt_mqtt *c, const char *filter)
{
	if (!c || !filter)
		return FLT_EINVAL;
	unsigned i = 0;
	while (i < c->n_subs && strcmp(c->subs[i].filter, filter) != 0)
		i++;
	if (i == c->n_subs)
		return FLT_ENOTFOUND;
	if (c->st == ST_UP || c->st == ST_SUBSCRIBING) {
		MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
		int rc = MQTTAsync_unsubscribe(c->h, filter, &ro);
		if (rc != MQTTASYNC_SUCCESS)
			flt_log_warn("unsubscribe %s: %d (%s)", filter, rc, code_str(rc));
	}
	flt_free(c->subs[i].filter);
	/* Keep the order: a connect-time SUBACK maps reason codes by index. A
	 * SUBACK in flight for the old list is then matched by token only. */
	memmove(&c->subs[i], &c->subs[i + 1], (c->n_subs - i - 1) * sizeof c->subs[0]);
	c->n_subs--;
	if (c->st == ST_SUBSCRIBING)
		c->sub_index_stale = true;
	return FLT_OK;
}

static void subscribe_all(struct flt_mqtt *c)
{
	char *filters[MAX_SUBS];
	int qos[MAX_SUBS];
	MQTTSubscribe_options so[MAX_SUBS];
	MQTTSubscribe_options init = MQTTSubscribe_options_initializer;

	for (unsigned i = 0; i < c->n_subs; i++) {
		filters[i] = c->subs[i].filter;
		qos[i] = 1;
		so[i] = init;
		so[i].noLocal = (c->subs[i].flags & FLT_MQTT_SUB_NO_LOCAL) ? 1 : 0;
		so[i].retainAsPublished =
		    (c->subs[i].flags & FLT_MQTT_SUB_RETAIN_AS_PUBLISHED) ? 1 : 0;
	}
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess5 = c->n_subs == 1 ? on_sub_ok_one : on_sub_ok_many;
	ro.onFailure5 = on_sub_fail;
	ro.context = c;
	if (c->n_subs == 1) {
		ro.subscribeOptions = so[0];
	} else {
		ro.subscribeOptionsCount = (int)c->n_subs;
		ro.subscribeOptionsList = so;
	}
	int rc = MQTTAsync_subscribeMany(c->h, (int)c->n_subs, filters, qos, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		/* The connection is going away; its loss event follows. */
		flt_log_warn("subscribe after connect: %d (%s)", rc, code_str(rc));
		c->sub_token = 0;
		return;
	}
	c->sub_token = ro.token;
	c->sub_index_stale = false;
	for (unsigned i = 0; i < c->n_subs; i++)
		c->subs[i].token = ro.token;
	c->st = ST_SUBSCRIBING;
}

flt_err flt_mqtt_connect(struct flt_mqtt *c)
{
	if (!c)
		return FLT_EINVAL;
	if (c->st != ST_IDLE && c->st != ST_STOPPED)
		return FLT_EBUSY;
	c->attempt = 0;
	c->fail_logged = 0;
	return start_attempt(c);
}

flt_err flt_mqtt_disconnect(struct flt_mqtt *c, int timeout_ms)
{
	flt_err err = FLT_OK;
	if (!c)
		return FLT_EINVAL;
	enum conn_state prev = c->st;
	c->st = ST_STOPPED;
	pthread_mutex_lock(&c->mu);
	c->connected = false;
	c->disc_done = false;
	pthread_mutex_unlock(&c->mu);
	if (prev == ST_IDLE || prev == ST_STOPPED)
		return FLT_OK;

	MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
	d.timeout = timeout_ms < 0 ? 0 : timeout_ms;
	d.onSuccess5 = on_disc_ok;
	d.onFailure5 = on_disc_fail;
	d.context = c;
	int rc = MQTTAsync_disconnect(c->h, &d);
	if (rc != MQTTASYNC_SUCCESS) {
		/* Not connected (e.g. waiting to retry): nothing to tell the broker. */
		flt_log_dbg("disconnect: %d (%s)", rc, code_str(rc));
		return FLT_OK;
	}
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	int64_t wait_ms = (timeout_ms < 0 ? 0 : timeout_ms) + 500;
	dl.tv_sec += wait_ms / 1000;
	dl.tv_nsec += (wait_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->mu);
	while (!c->disc_done) {
		if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT) {
			err = FLT_ETIMEOUT;
			break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return err;
}

static struct pub_slot *slot_get(struct flt_mqtt *c)
{
	for (unsigned i = 0; i < c->n_slots; i++) {
		struct pub_slot *s = &c->slots[i];
		if (!s->in_use) {
			pthread_mutex_lock(&c->mu);
			s->in_use = true;
			s->done = false;
			pthread_mutex_unlock(&c->mu);
			return s;
		}
	}
	return NULL;
}

static void slot_put(struct flt_mqtt *c, struct pub_slot *s)
{
	pthread_mutex_lock(&c->mu);
	s->in_use = false;
	s->done = false;
	pthread_mutex_unlock(&c->mu);
}

uint32_t flt_mqtt_publish_limit(struct flt_mqtt *c)
{
	pthread_mutex_lock(&c->mu);
	uint32_t lim = c->broker_max ? c->broker_max : c->o.broker_max_packet_fallback;
	pthread_mutex_unlock(&c->mu);
	return lim;
}

flt_err flt_mqtt_publish(struct flt_mqtt *c, const char *topic, const void *data, size_t len,
                         int qos, bool retained, enum flt_mqtt_purpose purpose,
                         flt_mqtt_token *token)
{
	if (!c || !topic || !topic[0] || (len > 0 && !data) || qos < 0 || qos > 1 ||
	    (unsigned)purpose >= FLT_MQTT_PURPOSE_COUNT_)
		return FLT_EINVAL;
	if (c->st != ST_UP && c->st != ST_SUBSCRIBING)
		return FLT_ENOCONN;
	size_t size = flt_mqtt_publish_packet_size(strlen(topic), len, qos);
	uint32_t lim = flt_mqtt_publish_limit(c);
	if (len > INT_MAX || (lim > 0 && size > lim)) {
		flt_log_err("publish to %s refused: %zu-byte packet exceeds the broker's maximum "
		            "packet size %u",
		            topic, size, lim);
		pthread_mutex_lock(&c->mu);
		c->stats.refused_size++;
		pthread_mutex_unlock(&c->mu);
		return FLT_ELIMIT;
	}
	struct pub_slot *s = slot_get(c);
	if (!s)
		return FLT_EBUSY;
	s->token = c->next_token++;
	s->size = size;
	s->purpose = purpose;

	MQTTAsync_message m = MQTTAsync_message_initializer;
	m.payload = (void *)(uintptr_t)data;
	m.payloadlen = (int)len;
	m.qos = qos;
	m.retained = retained ? 1 : 0;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	ro.onSuccess5 = on_pub_ok;
	ro.onFailure5 = on_pub_fail;
	ro.context = s;
	int rc = MQTTAsync_sendMessage(c->h, topic, &m, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		flt_err e = code_to_err(rc);
		if (e != FLT_EBUSY && e != FLT_ENOCONN)
			flt_log_warn("publish to %s: %d (%s)", topic, rc, code_str(rc));
		slot_put(c, s);
		return e;
	}
	if (token)
		*token = s->token;
	return FLT_OK;
}

/* ---- event dispatch ---------------------------------------------------------- */

static void emit_connected(struct flt_mqtt *c, flt_mqtt_handler h, void *arg, bool session_present)
{
	struct flt_mqtt_event ev = {.type = FLT_MQTT_EV_CONNECTED};
	c->st = ST_UP;
	pthread_mutex_lock(&c->mu);
	c->connected = true;
	ev.broker_max_packet = c->broker_max;
	pthread_mutex_unlock(&c->mu);
	ev.session_present = session_present;
	flt_log_info("connected to %s as %s (session %s, broker max packet %u)", c->uri,
	             c->client_id, session_present ? "resumed" : "new", ev.broker_max_packet);
	h(arg, c, &ev);
}

static void emit_sub_failed(struct flt_mqtt *c, flt_mqtt_handler h, void *arg, struct sub *s,
                            int reason)
{
	struct flt_mqtt_event ev = {.type = FLT_MQTT_EV_SUBSCRIBE_FAILED};
	ev.err = reason_to_err(reason);
	if (ev.err == FLT_OK)
		ev.err = FLT_EIO;
	ev.topic = s->filter;
	ev.detail = reason_str(reason);
	flt_log_err("subscription %s refused by the broker: reason %d (%s)", s->filter, reason,
	            ev.detail);
	h(arg, c, &ev);
}

static struct sub *sub_by_token(struct flt_mqtt *c, MQTTAsync_token t)
{
	for (unsigned i = 0; i < c->n_subs; i++)
		if (c->subs[i].token == t)
			return &c->subs[i];
	return NULL;
}

static void handle_ctl(struct flt_mqtt *c, struct ctl_node *n, flt_mqtt_handler h, void *arg)
{
	switch (n->type) {
	case CTL_CONNACK:
		if (c->st == ST_STOPPED) {
			/* Stopped while this attempt was in flight: honour the stop. */
			MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
			int rc = MQTTAsync_disconnect(c->h, &d);
			flt_log_dbg("late CONNACK after stop, disconnecting: %d", rc);
			break;
		}
		if (c->st != ST_CONNECTING)
			break;
		c->attempt = 0;
		c->fail_logged = 0;
		c->connected_once = true;
		c->srv_reason = 0;
		pthread_mutex_lock(&c->mu);
		c->broker_max = n->max_packet;
		c->stats.connects++;
		pthread_mutex_unlock(&c->mu);
		if (c->n_subs > 0) {
			c->st = ST_SUBSCRIBING;
			subscribe_all(c);
			/* sub_token 0: the subscribe was refused locally, the loss follows. */
			if (c->sub_token != 0)
				c->connack_session = n->session_present;
			else
				emit_connected(c, h, arg, n->session_present);
		} else {
			emit_connected(c, h, arg, n->session_present);
		}
		break;
	case CTL_SUBACK:
		if (c->st == ST_SUBSCRIBING && n->token == c->sub_token) {
			for (int i = 0; i < n->n_codes && i < (int)c->n_subs && !c->sub_index_stale;
			     i++)
				if (n->codes[i] >= MQTTREASONCODE_UNSPECIFIED_ERROR)
					emit_sub_failed(c, h, arg, &c->subs[i], n->codes[i]);
			emit_connected(c, h, arg, c->connack_session);
		} else if (n->n_codes > 0 && n->codes[0] >= MQTTREASONCODE_UNSPECIFIED_ERROR) {
			struct sub *s = sub_by_token(c, n->token);
			if (s)
				emit_sub_failed(c, h, arg, s, n->codes[0]);
		}
		break;
	case CTL_SUBFAIL:
		if (n->reason < MQTTREASONCODE_UNSPECIFIED_ERROR) {
			/* Not a refusal: the connection went away; its loss event follows. */
			flt_log_dbg("subscribe did not complete: %d (%s)", n->code,
			            code_str(n->code));
			break;
		}
		if (c->st == ST_SUBSCRIBING && n->token == c->sub_token) {
			for (unsigned i = 0; i < c->n_subs; i++)
				if (c->subs[i].token == n->token)
					emit_sub_failed(c, h, arg, &c->subs[i], n->reason);
			emit_connected(c, h, arg, c->connack_session);
		} else {
			struct sub *s = sub_by_token(c, n->token);
			if (s)
				emit_sub_failed(c, h, arg, s, n->reason);
		}
		break;
	case CTL_CONNFAIL: {
		if (c->st != ST_CONNECTING)
			break;
		struct flt_mqtt_event ev = {.type = FLT_MQTT_EV_CONNECT_FAILED};
		char ssl[TEXT_MAX];
		pthread_mutex_lock(&c->mu);
		snprintf(ssl, sizeof ssl, "%s", c->ssl_err);
		pthread_mutex_unlock(&c->mu);
		if (ssl[0]) {
			ev.err = FLT_EAUTH;
			ev.detail = ssl;
		} else {
			ev.err = reason_to_err(n->reason);
			if (ev.err == FLT_OK || ev.err == FLT_EIO)
				ev.err = FLT_ENOCONN;
			if (n->text[0] && strstr(n->text, "timed out"))
				ev.err = FLT_ETIMEOUT;
			ev.detail = n->text[0] ? n->text : code_str(n->code);
		}
		/* The first failure of a series is news; the retries after it are not. */
		if (c->fail_logged++ == 0)
			flt_log_warn("connect to %s failed: code %d, reason %d (%s): %s", c->uri,
			             n->code, n->reason, reason_str(n->reason), ev.detail);
		else
			flt_log_dbg("connect to %s failed again: code %d, reason %d: %s", c->uri,
			            n->code, n->reason, ev.detail);
		schedule_retry(c);
		h(arg, c, &ev);
		break;
	}
	case CTL_SRVDISC:
		c->srv_reason = n->reason;
		flt_log_warn("broker sent DISCONNECT: reason %d (%s)", n->reason,
		             reason_str(n->reason));
		break;
	case CTL_LOST: {
		if (c->st != ST_UP && c->st != ST_SUBSCRIBING)
			break;
		struct flt_mqtt_event ev = {.type = FLT_MQTT_EV_DISCONNECTED};
		ev.err = reason_to_err(c->srv_reason);
		if (ev.err == FLT_OK || ev.err == FLT_EIO || ev.err == FLT_EBUSY)
			ev.err = FLT_ENOCONN;
		ev.detail =
		    c->srv_reason ? reason_str(c->srv_reason) : (n->text[0] ? n->text : NULL);
		flt_log_warn("connection to %s lost%s%s", c->uri, ev.detail ? ": " : "",
		             ev.detail ? ev.detail : "");
		c->srv_reason = 0;
		pthread_mutex_lock(&c->mu);
		c->connected = false;
		pthread_mutex_unlock(&c->mu);
		c->attempt = 0;
		schedule_retry(c);
		h(arg, c, &ev);
		break;
	}
	}
}

static void handle_pub(struct flt_mqtt *c, struct pub_slot *s, flt_mqtt_handler h, void *arg)
{
	struct flt_mqtt_event ev = {.type = FLT_MQTT_EV_PUBLISHED};
	ev.token = s->token;
	if (s->code == MQTTASYNC_SUCCESS && s->reason < MQTTREASONCODE_UNSPECIFIED_ERROR) {
		ev.err = FLT_OK;
	} else if (s->reason >= MQTTREASONCODE_UNSPECIFIED_ERROR) {
		ev.err = reason_to_err(s->reason);
		ev.detail = reason_str(s->reason);
	} else {
		ev.err = code_to_err(s->code);
		ev.detail = code_str(s->code);
	}
	if (ev.err != FLT_OK)
		flt_log_warn("publish %llu failed: code %d, reason %d (%s)",
		             (unsigned long long)s->token, s->code, s->reason, ev.detail);
	pthread_mutex_lock(&c->mu);
	if (ev.err == FLT_OK) {
		c->stats.sent_bytes[s->purpose] += s->size;
		c->stats.sent_msgs++;
	}
	pthread_mutex_unlock(&c->mu);
	/* Free the slot first so the handler can publish again. */
	slot_put(c, s);
	h(arg, c, &ev);
}

static void handle_msg(struct flt_mqtt *c, struct msg_node *n, flt_mqtt_handler h, void *arg)
{
	struct flt_mqtt_event ev = {.type = FLT_MQTT_EV_MESSAGE};
	ev.topic = (const char *)(n->data + n->len);
	ev.payload = n->data;
	ev.len = n->len;
	ev.retained = n->retained;
	ev.qos = n->qos;
	ev.purpose =
	    c->o.classify ? c->o.classify(c->o.classify_arg, ev.topic) : FLT_MQTT_PURPOSE_OTHER;
	if ((unsigned)ev.purpose >= FLT_MQTT_PURPOSE_COUNT_)
		ev.purpose = FLT_MQTT_PURPOSE_OTHER;
	pthread_mutex_lock(&c->mu);
	c->q_msgs--;
	c->q_bytes -= n->len + n->topic_len;
	pthread_cond_signal(&c->room);
	c->stats.recv_bytes[ev.purpose] +=
	    flt_mqtt_publish_packet_size(n->topic_len, n->len, n->qos);
	c->stats.recv_msgs++;
	pthread_mutex_unlock(&c->mu);
	h(arg, c, &ev);
}

static void run_timer(struct flt_mqtt *c)
{
	if (c->st == ST_WAIT_RETRY && now_ms() >= c->next_attempt_ms)
		(void)start_attempt(c);
}

int flt_mqtt_timeout_ms(const struct flt_mqtt *c)
{
	if (!c || c->st != ST_WAIT_RETRY)
		return -1;
	int64_t d = c->next_attempt_ms - now_ms();
	if (d < 0)
		return 0;
	return d > INT_MAX ? INT_MAX : (int)d;
}

flt_err flt_mqtt_poll(struct flt_mqtt *c, int timeout_ms, flt_mqtt_handler h, void *arg)
{
	if (!c || !h)
		return FLT_EINVAL;
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	for (;;) {
		run_timer(c);
		char buf[64];
		while (read(c->pipe_rd, buf, sizeof buf) > 0)
			;
		pthread_mutex_lock(&c->mu);
		struct qnode *list = c->head;
		c->head = c->tail = NULL;
		pthread_mutex_unlock(&c->mu);
		if (list) {
			while (list) {
				struct qnode *n = list;
				list = n->next;
				if (n->kind == NODE_MSG)
					handle_msg(c, (struct msg_node *)n, h, arg);
				else if (n->kind == NODE_PUB)
					handle_pub(c, (struct pub_slot *)n, h, arg);
				else
					handle_ctl(c, (struct ctl_node *)n, h, arg);
				free_node(c, n);
			}
			return FLT_OK;
		}
		int64_t now = now_ms();
		int64_t wait = deadline < 0 ? -1 : deadline - now;
		if (wait == 0 || (wait < 0 && deadline >= 0))
			return FLT_OK;
		int t = flt_mqtt_timeout_ms(c);
		if (t >= 0 && (wait < 0 || t < wait))
			wait = t;
		struct pollfd pfd = {.fd = c->pipe_rd, .events = POLLIN};
		int pr = poll(&pfd, 1, wait > INT_MAX ? INT_MAX : (int)wait);
		if (pr < 0 && errno != EINTR)
			return flt_err_from_errno(errno);
		/* EINTR: the owner's signal flags need checking; let it run. */
		if (pr < 0)
			return FLT_OK;
	}
}

int flt_mqtt_fd(const struct flt_mqtt *c)
{
	return c ? c->pipe_rd : -1;
}

bool flt_mqtt_is_connected(struct flt_mqtt *c)
{
	pthread_mutex_lock(&c->mu);
	bool v = c->connected;
	pthread_mutex_unlock(&c->mu);
	return v;
}

uint32_t flt_mqtt_broker_max_packet(struct flt_mqtt *c)
{
	pthread_mutex_lock(&c->mu);
	uint32_t v = c->broker_max;
	pthread_mutex_unlock(&c->mu);
	return v;
}

void flt_mqtt_get_stats(struct flt_mqtt *c, struct flt_mqtt_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->stats;
	pthread_mutex_unlock(&c->mu);
}

void flt_mqtt_tls_error(struct flt_mqtt *c, char *buf, size_t n)
{
	if (!buf || n == 0)
		return;
	pthread_mutex_lock(&c->mu);
	snprintf(buf, n, "%s", c->ssl_err);
	pthread_mutex_unlock(&c->mu);
}
