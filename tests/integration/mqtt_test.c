/* Integration tests of the MQTT adapter (flt/mqtt.h) against a real Mosquitto on
 * loopback: round trips with retained state, reconnection after broker restarts,
 * Last Will on an abrupt end, packet-size limits, backpressure, TLS failures. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "flt/mqtt.h"
#include "tt_mosq.h"
#include "tt_proc.h"

#define WAIT_MS  15000
#define MAX_MSGS 64

struct rec_msg {
	char topic[128];
	char payload[256];
	size_t len;
	bool retained;
	enum flt_mqtt_purpose purpose;
	int seq;
};

struct rec {
	int seq;
	int connected, connect_failed, disconnected, sub_failed;
	int connected_seq;
	bool session_present;
	uint32_t broker_max;
	flt_err fail_err, disc_err;
	char fail_detail[512];
	struct rec_msg msgs[MAX_MSGS];
	int n_msgs;
	flt_mqtt_token pub_tok[MAX_MSGS];
	flt_err pub_err[MAX_MSGS];
	int n_pubs;
};

static void on_event(void *arg, struct flt_mqtt *c, const struct flt_mqtt_event *ev)
{
	struct rec *r = arg;
	(void)c;
	r->seq++;
	switch (ev->type) {
	case FLT_MQTT_EV_CONNECTED:
		r->connected++;
		r->connected_seq = r->seq;
		r->session_present = ev->session_present;
		r->broker_max = ev->broker_max_packet;
		break;
	case FLT_MQTT_EV_CONNECT_FAILED:
		r->connect_failed++;
		r->fail_err = ev->err;
		snprintf(r->fail_detail, sizeof r->fail_detail, "%s", ev->detail ? ev->detail : "");
		break;
	case FLT_MQTT_EV_DISCONNECTED:
		r->disconnected++;
		r->disc_err = ev->err;
		break;
	case FLT_MQTT_EV_SUBSCRIBE_FAILED: r->sub_failed++; break;
	case FLT_MQTT_EV_MESSAGE:
		if (r->n_msgs < MAX_MSGS) {
			struct rec_msg *m = &r->msgs[r->n_msgs++];
			snprintf(m->topic, sizeof m->topic, "%s", ev->topic);
			size_t k =
			    ev->len < sizeof m->payload - 1 ? ev->len : sizeof m->payload - 1;
			memcpy(m->payload, ev->payload, k);
			m->payload[k] = '\0';
			m->len = ev->len;
			m->retained = ev->retained;
			m->purpose = ev->purpose;
			m->seq = r->seq;
		}
		break;
	case FLT_MQTT_EV_PUBLISHED:
		if (r->n_pubs < MAX_MSGS) {
			r->pub_tok[r->n_pubs] = ev->token;
			r->pub_err[r->n_pubs] = ev->err;
			r->n_pubs++;
		}
		break;
	}
}

/* Index of the PUBLISHED event for a token, -1 if not yet seen. */
static int pub_index(const struct rec *r, flt_mqtt_token t)
{
	for (int i = 0; i < r->n_pubs; i++)
		if (r->pub_tok[i] == t)
			return i;
	return -1;
}

/* Clients of the running test, all pumped by WAIT_FOR. */
static struct {
	struct flt_mqtt *c;
	struct rec *r;
} g_cl[8];
static int g_n;

static void pump_all(void)
{
	for (int i = 0; i < g_n; i++)
		if (g_cl[i].c)
			assert_int_equal(
			    flt_mqtt_poll(g_cl[i].c, g_n == 1 ? 20 : 5, on_event, g_cl[i].r),
			    FLT_OK);
}

#define WAIT_FOR(expr)                                                                             \
	do {                                                                                       \
		int64_t dl_ = tt_now_ms() + WAIT_MS;                                               \
		while (!(expr)) {                                                                  \
			if (tt_now_ms() > dl_)                                                     \
				fail_msg("timed out waiting for %s", #expr);                       \
			pump_all();                                                                \
		}                                                                                  \
	} while (0)

static enum flt_mqtt_purpose classify(void *arg, const char *topic)
{
	(void)arg;
	if (strstr(topic, "/state") || strstr(topic, "/desired"))
		return FLT_MQTT_PURPOSE_STATE;
	if (strstr(topic, "/chunk"))
		return FLT_MQTT_PURPOSE_CHUNKS;
	if (strstr(topic, "/telemetry"))
		return FLT_MQTT_PURPOSE_TELEMETRY;
	return FLT_MQTT_PURPOSE_OTHER;
}

static void base_opts(struct flt_mqtt_opts *o, const char *uri, const char *id)
{
	flt_mqtt_opts_init(o);
	o->uri = uri;
	o->client_id = id;
	o->keepalive_s = 5;
	o->connect_timeout_s = 5;
	o->backoff_min_ms = 20;
	o->backoff_max_ms = 200;
	o->classify = classify;
}

/* Creates a client registered for pumping; subscribes to the given filters (NULL-ended). */
static struct flt_mqtt *client(const struct flt_mqtt_opts *o, struct rec *r, ...)
{
	struct flt_mqtt *c = NULL;
	memset(r, 0, sizeof *r);
	assert_int_equal(flt_mqtt_new(o, &c), FLT_OK);
	va_list ap;
	va_start(ap, r);
	const char *f;
	while ((f = va_arg(ap, const char *)) != NULL)
		assert_int_equal(flt_mqtt_subscribe(c, f, 0), FLT_OK);
	va_end(ap);
	assert_true(g_n < 8);
	g_cl[g_n].c = c;
	g_cl[g_n].r = r;
	g_n++;
	return c;
}

static void drop_client(struct flt_mqtt *c)
{
	for (int i = 0; i < g_n; i++)
		if (g_cl[i].c == c)
			g_cl[i].c = NULL;
	flt_mqtt_free(c);
}

static void drop_all(void)
{
	for (int i = 0; i < g_n; i++)
		flt_mqtt_free(g_cl[i].c);
	g_n = 0;
}

static struct tt_mosq *broker(bool persistence, uint32_t max_packet)
{
	struct tt_mosq_opts mo;
	struct tt_mosq *m = NULL;
	tt_mosq_opts_init(&mo);
	mo.persistence = persistence;
	mo.max_packet_size = max_packet;
	assert_int_equal(tt_mosq_start(&mo, &m), 0);
	return m;
}

static flt_err publish(struct flt_mqtt *c, const char *topic, const char *payload, bool retained,
                       flt_mqtt_token *tok)
{
	return flt_mqtt_publish(c, topic, payload, strlen(payload), 1, retained,
	                        classify(NULL, topic), tok);
}

static void test_round_trip_retained(void **state)
{
	(void)state;
	struct tt_mosq *m = broker(false, 0);
	struct flt_mqtt_opts o;
	struct rec ra, rb;
	flt_mqtt_token t1 = 0, t2 = 0;

	base_opts(&o, tt_mosq_uri(m), "rt-a");
	struct flt_mqtt *a = client(&o, &ra, NULL);
	assert_int_equal(flt_mqtt_publish(a, "x", "y", 1, 1, false, 0, NULL), FLT_ENOCONN);
	assert_int_equal(flt_mqtt_connect(a), FLT_OK);
	assert_int_equal(flt_mqtt_connect(a), FLT_EBUSY);
	WAIT_FOR(ra.connected == 1);
	assert_true(flt_mqtt_is_connected(a));

	const char *st = "flotilla/v1/dev/d1/up/state";
	assert_int_equal(publish(a, st, "hello", true, &t1), FLT_OK);
	assert_true(t1 != 0);
	WAIT_FOR(ra.n_pubs == 1);
	assert_int_equal(ra.pub_err[0], FLT_OK);
	assert_true(ra.pub_tok[0] == t1);

	/* A late subscriber gets the retained state right after CONNECTED. */
	base_opts(&o, tt_mosq_uri(m), "rt-b");
	struct flt_mqtt *b = client(&o, &rb, "flotilla/v1/dev/+/up/#", NULL);
	assert_int_equal(flt_mqtt_connect(b), FLT_OK);
	WAIT_FOR(rb.n_msgs == 1);
	assert_int_equal(rb.connected, 1);
	assert_true(rb.connected_seq < rb.msgs[0].seq);
	assert_string_equal(rb.msgs[0].topic, st);
	assert_string_equal(rb.msgs[0].payload, "hello");
	assert_true(rb.msgs[0].retained);
	assert_int_equal(rb.msgs[0].purpose, FLT_MQTT_PURPOSE_STATE);

	assert_int_equal(publish(a, st, "live", false, &t2), FLT_OK);
	assert_true(t2 != t1);
	WAIT_FOR(rb.n_msgs == 2 && ra.n_pubs == 2);
	assert_string_equal(rb.msgs[1].payload, "live");
	assert_false(rb.msgs[1].retained);

	struct flt_mqtt_stats sa, sb;
	size_t p1 = flt_mqtt_publish_packet_size(strlen(st), 5, 1);
	size_t p2 = flt_mqtt_publish_packet_size(strlen(st), 4, 1);
	flt_mqtt_get_stats(a, &sa);
	flt_mqtt_get_stats(b, &sb);
	assert_int_equal(sa.sent_bytes[FLT_MQTT_PURPOSE_STATE], p1 + p2);
	assert_int_equal(sa.sent_bytes[FLT_MQTT_PURPOSE_OTHER], 0);
	assert_int_equal(sa.sent_msgs, 2);
	assert_int_equal(sb.recv_bytes[FLT_MQTT_PURPOSE_STATE], p1 + p2);
	assert_int_equal(sb.recv_msgs, 2);
	assert_int_equal(sa.connects, 1);

	drop_all();
	tt_mosq_free(m);
}

static void test_retained_reread_after_broker_restart(void **state)
{
	(void)state;
	struct tt_mosq *m = broker(true, 0);
	struct flt_mqtt_opts o;
	struct rec ra, rb;
	const char *topic = "flotilla/v1/dev/d2/down/desired";

	base_opts(&o, tt_mosq_uri(m), "rr-a");
	struct flt_mqtt *a = client(&o, &ra, NULL);
	assert_int_equal(flt_mqtt_connect(a), FLT_OK);
	WAIT_FOR(ra.connected == 1);
	assert_int_equal(publish(a, topic, "serial-7", true, NULL), FLT_OK);
	WAIT_FOR(ra.n_pubs == 1);
	assert_int_equal(ra.pub_err[0], FLT_OK);

	base_opts(&o, tt_mosq_uri(m), "rr-b");
	struct flt_mqtt *b = client(&o, &rb, "flotilla/v1/dev/d2/down/#", NULL);
	assert_int_equal(flt_mqtt_connect(b), FLT_OK);
	WAIT_FOR(rb.n_msgs == 1);
	assert_true(tt_file_contains(tt_mosq_log(m), "as rr-b (p5, c1"));

	/* Graceful stop: the broker saves retained messages; both clients reconnect
	 * by themselves and b is sent the retained state again. */
	assert_int_equal(tt_mosq_stop(m), 0);
	WAIT_FOR(rb.disconnected == 1 && ra.disconnected == 1);
	assert_false(flt_mqtt_is_connected(b));
	assert_int_equal(tt_mosq_restart(m), 0);
	WAIT_FOR(rb.connected == 2 && rb.n_msgs == 2);
	assert_true(rb.connected_seq < rb.msgs[1].seq);
	assert_string_equal(rb.msgs[1].payload, "serial-7");
	assert_true(rb.msgs[1].retained);
	/* The first connect started clean, the reconnect asked to resume (whether
	 * Mosquitto 2.0.11 restored the session from its file is its business). */
	assert_true(tt_file_contains(tt_mosq_log(m), "as rr-b (p5, c0"));
	WAIT_FOR(ra.connected == 2);

	struct flt_mqtt_stats sb;
	flt_mqtt_get_stats(b, &sb);
	assert_int_equal(sb.connects, 2);

	drop_all();
	tt_mosq_free(m);
}

static void test_reconnect_after_kill9(void **state)
{
	(void)state;
	struct tt_mosq *m = broker(false, 0);
	struct flt_mqtt_opts o;
	struct rec ra, rb;

	base_opts(&o, tt_mosq_uri(m), "k9-a");
	struct flt_mqtt *a = client(&o, &ra, NULL);
	base_opts(&o, tt_mosq_uri(m), "k9-b");
	struct flt_mqtt *b = client(&o, &rb, "k9/#", NULL);
	assert_int_equal(flt_mqtt_connect(a), FLT_OK);
	assert_int_equal(flt_mqtt_connect(b), FLT_OK);
	WAIT_FOR(ra.connected == 1 && rb.connected == 1);

	assert_int_equal(tt_mosq_kill(m), 0);
	WAIT_FOR(ra.disconnected == 1 && rb.disconnected == 1);
	assert_int_equal(rb.disc_err, FLT_ENOCONN);
	assert_int_equal(publish(a, "k9/x", "lost", false, NULL), FLT_ENOCONN);
	/* Let the clients fail a few attempts against the dead port first. */
	WAIT_FOR(rb.connect_failed >= 2);
	assert_int_equal(rb.fail_err, FLT_ENOCONN);

	assert_int_equal(tt_mosq_restart(m), 0);
	WAIT_FOR(ra.connected == 2 && rb.connected == 2);
	/* The broker lost everything: only a renewed subscription delivers this. */
	assert_false(rb.session_present);
	assert_int_equal(publish(a, "k9/x", "after", false, NULL), FLT_OK);
	WAIT_FOR(rb.n_msgs == 1);
	assert_string_equal(rb.msgs[0].payload, "after");

	drop_all();
	tt_mosq_free(m);
}

static void test_connect_while_broker_down(void **state)
{
	(void)state;
	struct tt_mosq *m = broker(false, 0);
	struct flt_mqtt_opts o;
	struct rec ra;

	assert_int_equal(tt_mosq_kill(m), 0);
	base_opts(&o, tt_mosq_uri(m), "down-a");
	struct flt_mqtt *a = client(&o, &ra, "down/#", NULL);
	assert_int_equal(flt_mqtt_connect(a), FLT_OK);
	WAIT_FOR(ra.connect_failed >= 3);
	assert_int_equal(ra.fail_err, FLT_ENOCONN);
	assert_int_equal(ra.connected, 0);
	assert_true(flt_mqtt_timeout_ms(a) >= 0);
	assert_true(flt_mqtt_timeout_ms(a) <= 200);

	assert_int_equal(tt_mosq_restart(m), 0);
	WAIT_FOR(ra.connected == 1);
	assert_int_equal(flt_mqtt_timeout_ms(a), -1);

	drop_all();
	tt_mosq_free(m);
}

static void test_last_will_on_kill(void **state)
{
	(void)state;
	struct tt_mosq *m = broker(false, 0);
	struct flt_mqtt_opts o;
	struct rec ro, rn;
	struct tt_proc *p = NULL;
	const char *status = "flotilla/v1/dev/p1/up/status";

	base_opts(&o, tt_mosq_uri(m), "will-obs");
	struct flt_mqtt *obs = client(&o, &ro, "flotilla/v1/dev/+/up/status", NULL);
	assert_int_equal(flt_mqtt_connect(obs), FLT_OK);
	WAIT_FOR(ro.connected == 1);

	const char *argv[] = {TT_MQTT_PEER, tt_mosq_uri(m), "p1", status, "offline", NULL};
	assert_int_equal(tt_proc_spawn(TT_MQTT_PEER, argv, NULL, tt_mosq_dir(m), &p), 0);
	assert_true(tt_proc_wait_output(p, "connected", WAIT_MS));
	assert_int_equal(ro.n_msgs, 0);

	/* Killed: its socket closes without DISCONNECT, so the broker sends the will. */
	assert_int_equal(tt_proc_kill(p, SIGKILL), 0);
	int st = 0;
	assert_int_equal(tt_proc_wait(p, WAIT_MS, &st), 0);
	assert_true(WIFSIGNALED(st));
	WAIT_FOR(ro.n_msgs == 1);
	assert_string_equal(ro.msgs[0].topic, status);
	assert_string_equal(ro.msgs[0].payload, "offline");

	/* And it is retained for whoever looks later. */
	base_opts(&o, tt_mosq_uri(m), "will-late");
	struct flt_mqtt *late = client(&o, &rn, "flotilla/v1/dev/+/up/status", NULL);
	assert_int_equal(flt_mqtt_connect(late), FLT_OK);
	WAIT_FOR(rn.n_msgs == 1);
	assert_string_equal(rn.msgs[0].payload, "offline");
	assert_true(rn.msgs[0].retained);

	tt_proc_free(p);
	drop_all();
	tt_mosq_free(m);
}

static void test_no_will_on_clean_close(void **state)
{
	(void)state;
	struct tt_mosq *m = broker(false, 0);
	struct flt_mqtt_opts o;
	struct rec ra, rn;
	const char *status = "flotilla/v1/dev/a1/up/status";

	base_opts(&o, tt_mosq_uri(m), "a1");
	o.will_topic = status;
	o.will_payload = "offline";
	o.will_len = 7;
	o.will_retained = true;
	struct flt_mqtt *a = client(&o, &ra, NULL);
	assert_int_equal(flt_mqtt_connect(a), FLT_OK);
	WAIT_FOR(ra.connected == 1);
	assert_int_equal(publish(a, status, "online", true, NULL), FLT_OK);
	WAIT_FOR(ra.n_pubs == 1);
	drop_client(a);

	base_opts(&o, tt_mosq_uri(m), "a1-late");
	struct flt_mqtt *n = client(&o, &rn, status, NULL);
	assert_int_equal(flt_mqtt_connect(n), FLT_OK);
	WAIT_FOR(rn.n_msgs == 1);
	assert_string_equal(rn.msgs[0].payload, "online");

	drop_all();
	tt_mosq_free(m);
}

static void test_packet_too_large(void **state)
{
	(void)state;
	struct tt_mosq *m = broker(false, 1024);
	struct flt_mqtt_opts o;
	struct rec ra, rb;
	static char big[2048];
	memset(big, 'x', sizeof big);

	base_opts(&o, tt_mosq_uri(m), "big-a");
	struct flt_mqtt *a = client(&o, &ra, NULL);
	base_opts(&o, tt_mosq_uri(m), "big-b");
	struct flt_mqtt *b = client(&o, &rb, "big/#", NULL);
	assert_int_equal(flt_mqtt_connect(a), FLT_OK);
	assert_int_equal(flt_mqtt_connect(b), FLT_OK);
	WAIT_FOR(ra.connected == 1 && rb.connected == 1);
	assert_int_equal(ra.broker_max, 1024);
	assert_int_equal(flt_mqtt_broker_max_packet(a), 1024);
	assert_int_equal(flt_mqtt_publish_limit(a), 1024);

	/* "big/t": a 1011-byte payload makes exactly a 1024-byte packet. */
	assert_int_equal(flt_mqtt_publish_packet_size(5, 1011, 1), 1024);
	assert_int_equal(
	    flt_mqtt_publish(a, "big/t", big, 1011, 1, false, FLT_MQTT_PURPOSE_CHUNKS, NULL),
	    FLT_OK);
	WAIT_FOR(rb.n_msgs == 1 && ra.n_pubs == 1);
	assert_int_equal(ra.pub_err[0], FLT_OK);
	assert_int_equal(rb.msgs[0].len, 1011);

	/* One byte more is refused here, once, and nothing goes on the wire. */
	assert_int_equal(
	    flt_mqtt_publish(a, "big/t", big, 1012, 1, false, FLT_MQTT_PURPOSE_CHUNKS, NULL),
	    FLT_ELIMIT);
	assert_int_equal(
	    flt_mqtt_publish(a, "big/t", big, 2000, 0, false, FLT_MQTT_PURPOSE_CHUNKS, NULL),
	    FLT_ELIMIT);
	assert_int_equal(publish(a, "big/after", "ok", false, NULL), FLT_OK);
	WAIT_FOR(rb.n_msgs == 2 && ra.n_pubs == 2);
	assert_string_equal(rb.msgs[1].payload, "ok");
	assert_int_equal(ra.n_pubs, 2);
	assert_int_equal(ra.disconnected, 0);

	struct flt_mqtt_stats sa;
	flt_mqtt_get_stats(a, &sa);
	assert_int_equal(sa.refused_size, 2);
	assert_int_equal(sa.connects, 1);
	assert_int_equal(sa.sent_bytes[FLT_MQTT_PURPOSE_CHUNKS], 1024);

	drop_all();
	tt_mosq_free(m);
}

static void test_packet_limit_fallback(void **state)
{
	(void)state;
	struct tt_mosq *m = broker(false, 0);
	struct flt_mqtt_opts o;
	struct rec ra;
	static char buf[300];
	memset(buf, 'y', sizeof buf);

	base_opts(&o, tt_mosq_uri(m), "fb-a");
	o.broker_max_packet_fallback = 200;
	struct flt_mqtt *a = client(&o, &ra, NULL);
	assert_int_equal(flt_mqtt_connect(a), FLT_OK);
	WAIT_FOR(ra.connected == 1);
	/* Mosquitto without max_packet_size announces no limit. */
	assert_int_equal(ra.broker_max, 0);
	assert_int_equal(flt_mqtt_publish_limit(a), 200);
	assert_int_equal(flt_mqtt_publish(a, "fb/t", buf, sizeof buf, 1, false, 0, NULL),
	                 FLT_ELIMIT);
	assert_int_equal(flt_mqtt_publish(a, "fb/t", buf, 100, 1, false, 0, NULL), FLT_OK);
	WAIT_FOR(ra.n_pubs == 1);
	assert_int_equal(ra.pub_err[0], FLT_OK);

	drop_all();
	tt_mosq_free(m);
}

/* The size a client declares in CONNECT is honoured by the broker: it never
 * sends that client anything bigger (MQTT 5 says it drops the message). */
static void test_declared_max_packet_size(void **state)
{
	(void)state;
	struct tt_mosq *m = broker(false, 0);
	struct flt_mqtt_opts o;
	struct rec ra, rb;
	static char big[600];
	memset(big, 'z', sizeof big);

	base_opts(&o, tt_mosq_uri(m), "mp-a");
	struct flt_mqtt *a = client(&o, &ra, NULL);
	base_opts(&o, tt_mosq_uri(m), "mp-b");
	o.max_packet_size = 256;
	struct flt_mqtt *b = client(&o, &rb, "mp/#", NULL);
	assert_int_equal(flt_mqtt_connect(a), FLT_OK);
	assert_int_equal(flt_mqtt_connect(b), FLT_OK);
	WAIT_FOR(ra.connected == 1 && rb.connected == 1);

	assert_int_equal(flt_mqtt_publish(a, "mp/t", big, sizeof big, 1, false, 0, NULL), FLT_OK);
	assert_int_equal(flt_mqtt_publish(a, "mp/t", big, 200, 1, false, 0, NULL), FLT_OK);
	WAIT_FOR(ra.n_pubs == 2 && rb.n_msgs >= 1);
	/* Same publisher, same subscriber: in order, so the small one marks the end. */
	assert_int_equal(rb.n_msgs, 1);
	assert_int_equal(rb.msgs[0].len, 200);

	drop_all();
	tt_mosq_free(m);
}

struct deferred_wait {
	struct flt_mqtt *pub;
	struct rec *rpub;
	struct flt_mqtt *sub;
};

static bool deferred_seen(void *arg)
{
	struct deferred_wait *w = arg;
	struct flt_mqtt_stats s;
	/* Keep the publisher's loop running; the subscriber is left alone. (Its
	 * acks may wait too: Paho's receive thread is shared and is now waiting.) */
	assert_int_equal(flt_mqtt_poll(w->pub, 5, on_event, w->rpub), FLT_OK);
	flt_mqtt_get_stats(w->sub, &s);
	return s.deferred > 0;
}

static void test_backpressure_loses_nothing(void **state)
{
	(void)state;
	struct tt_mosq *m = broker(false, 0);
	struct flt_mqtt_opts o;
	struct rec ra, rb;

	base_opts(&o, tt_mosq_uri(m), "bp-a");
	struct flt_mqtt *a = client(&o, &ra, NULL);
	base_opts(&o, tt_mosq_uri(m), "bp-b");
	o.queue_max_msgs = 2;
	struct flt_mqtt *b = client(&o, &rb, "bp/#", NULL);
	assert_int_equal(flt_mqtt_connect(a), FLT_OK);
	assert_int_equal(flt_mqtt_connect(b), FLT_OK);
	WAIT_FOR(ra.connected == 1 && rb.connected == 1);

	for (int i = 0; i < 20; i++) {
		char msg[16];
		snprintf(msg, sizeof msg, "m%d", i);
		assert_int_equal(publish(a, "bp/t", msg, false, NULL), FLT_OK);
	}
	struct deferred_wait w = {a, &ra, b};
	assert_true(tt_wait_until(deferred_seen, &w, WAIT_MS));

	assert_true(rb.n_msgs <= 2);
	WAIT_FOR(rb.n_msgs == 20 && ra.n_pubs == 20);
	for (int i = 0; i < 20; i++) {
		char msg[16];
		snprintf(msg, sizeof msg, "m%d", i);
		assert_string_equal(rb.msgs[i].payload, msg);
	}

	drop_all();
	tt_mosq_free(m);
}

static void test_two_clients_one_process(void **state)
{
	(void)state;
	struct tt_mosq *m = broker(false, 0);
	struct flt_mqtt_opts o;
	struct rec ra, rb;

	base_opts(&o, tt_mosq_uri(m), "dev-a");
	struct flt_mqtt *a = client(&o, &ra, "two/a/in", NULL);
	base_opts(&o, tt_mosq_uri(m), "dev-b");
	struct flt_mqtt *b = client(&o, &rb, "two/b/in", NULL);
	assert_int_equal(flt_mqtt_connect(a), FLT_OK);
	assert_int_equal(flt_mqtt_connect(b), FLT_OK);
	WAIT_FOR(ra.connected == 1 && rb.connected == 1);
	assert_int_equal(publish(a, "two/b/in", "to-b", false, NULL), FLT_OK);
	assert_int_equal(publish(b, "two/a/in", "to-a", false, NULL), FLT_OK);
	WAIT_FOR(ra.n_msgs == 1 && rb.n_msgs == 1 && ra.n_pubs == 1 && rb.n_pubs == 1);
	assert_string_equal(ra.msgs[0].payload, "to-a");
	assert_string_equal(rb.msgs[0].payload, "to-b");

	/* A subscription added while connected takes effect at once. */
	assert_int_equal(flt_mqtt_subscribe(a, "two/extra", FLT_MQTT_SUB_NO_LOCAL), FLT_OK);
	assert_int_equal(flt_mqtt_subscribe(a, "two/extra", 0), FLT_ECONFLICT);
	/* Its SUBACK is not observable as an event; a retained message proves it. */
	assert_int_equal(publish(b, "two/extra", "x", true, NULL), FLT_OK);
	WAIT_FOR(ra.n_msgs == 2);
	assert_string_equal(ra.msgs[1].payload, "x");

	/* Unsubscribed: b's next message there is not delivered; one b sends after
	 * it on a still-subscribed topic is, and in order, so it marks the end. */
	assert_int_equal(flt_mqtt_unsubscribe(a, "two/extra"), FLT_OK);
	assert_int_equal(flt_mqtt_unsubscribe(a, "two/extra"), FLT_ENOTFOUND);
	/* The UNSUBACK is not an event either: wait for it through a round trip. */
	assert_int_equal(flt_mqtt_subscribe(a, "two/sync", 0), FLT_OK);
	assert_int_equal(publish(b, "two/sync", "s", true, NULL), FLT_OK);
	WAIT_FOR(ra.n_msgs == 3);
	assert_int_equal(publish(b, "two/extra", "y", false, NULL), FLT_OK);
	assert_int_equal(publish(b, "two/a/in", "end", false, NULL), FLT_OK);
	WAIT_FOR(ra.n_msgs == 4);
	assert_string_equal(ra.msgs[3].payload, "end");

	/* An empty retained publish clears the retained message. */
	flt_mqtt_token clear = 0;
	assert_int_equal(flt_mqtt_publish(b, "two/extra", NULL, 0, 1, true, 0, &clear), FLT_OK);
	WAIT_FOR(pub_index(&rb, clear) >= 0);
	assert_int_equal(rb.pub_err[pub_index(&rb, clear)], FLT_OK);
	struct rec rc;
	base_opts(&o, tt_mosq_uri(m), "dev-c");
	struct flt_mqtt *c = client(&o, &rc, "two/extra", "two/sync", NULL);
	assert_int_equal(flt_mqtt_connect(c), FLT_OK);
	WAIT_FOR(rc.connected == 1);
	assert_int_equal(publish(b, "two/sync", "after", false, NULL), FLT_OK);
	WAIT_FOR(rc.n_msgs >= 1 && strcmp(rc.msgs[rc.n_msgs - 1].payload, "after") == 0);
	for (int i = 0; i < rc.n_msgs; i++)
		assert_string_not_equal(rc.msgs[i].topic, "two/extra");

	drop_all();
	tt_mosq_free(m);
}

/* Publishes the broker never acknowledged must still complete, once, when the
 * broker comes back without the session, or their slots would leak. */
static void test_inflight_completes_after_broker_loss(void **state)
{
	(void)state;
	struct tt_mosq *m = broker(false, 0);
	struct flt_mqtt_opts o;
	struct rec ra;

	base_opts(&o, tt_mosq_uri(m), "if-a");
	o.max_inflight = 4;
	struct flt_mqtt *a = client(&o, &ra, NULL);
	assert_int_equal(flt_mqtt_connect(a), FLT_OK);
	WAIT_FOR(ra.connected == 1);

	assert_int_equal(kill(tt_mosq_pid(m), SIGSTOP), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(publish(a, "if/t", "pending", false, NULL), FLT_OK);
	assert_int_equal(publish(a, "if/t", "one too many", false, NULL), FLT_EBUSY);
	assert_int_equal(tt_mosq_kill(m), 0);
	WAIT_FOR(ra.disconnected == 1);
	assert_int_equal(tt_mosq_restart(m), 0);
	WAIT_FOR(ra.connected == 2 && ra.n_pubs == 4);
	print_message("in-flight outcomes: %s %s %s %s\n", flt_errname(ra.pub_err[0]),
	              flt_errname(ra.pub_err[1]), flt_errname(ra.pub_err[2]),
	              flt_errname(ra.pub_err[3]));
	/* Every slot is free again. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(publish(a, "if/t", "again", false, NULL), FLT_OK);
	WAIT_FOR(ra.n_pubs == 8);
	for (int i = 4; i < 8; i++)
		assert_int_equal(ra.pub_err[i], FLT_OK);

	drop_all();
	tt_mosq_free(m);
}

/* The fleet simulator's shape: many sessions in one process, one owner loop. */
static void test_many_clients_one_process(void **state)
{
	(void)state;
	enum { N = 24 };
	struct tt_mosq *m = broker(false, 0);
	struct flt_mqtt *cl[N];
	static struct rec rec[N];
	struct flt_mqtt_opts o;

	for (int i = 0; i < N; i++) {
		char id[32], filter[64];
		snprintf(id, sizeof id, "sim-%d", i);
		snprintf(filter, sizeof filter, "flotilla/v1/dev/sim-%d/down/#", i);
		base_opts(&o, tt_mosq_uri(m), id);
		memset(&rec[i], 0, sizeof rec[i]);
		assert_int_equal(flt_mqtt_new(&o, &cl[i]), FLT_OK);
		assert_int_equal(flt_mqtt_subscribe(cl[i], filter, 0), FLT_OK);
		assert_int_equal(flt_mqtt_connect(cl[i]), FLT_OK);
	}
	int64_t dl = tt_now_ms() + WAIT_MS;
	for (int done = 0; done < N;) {
		assert_true(tt_now_ms() < dl);
		done = 0;
		for (int i = 0; i < N; i++) {
			assert_int_equal(flt_mqtt_poll(cl[i], 0, on_event, &rec[i]), FLT_OK);
			done += rec[i].connected == 1;
		}
	}
	/* Each one publishes to the next one's down/ topic. */
	for (int i = 0; i < N; i++) {
		char topic[64], payload[32];
		snprintf(topic, sizeof topic, "flotilla/v1/dev/sim-%d/down/desired", (i + 1) % N);
		snprintf(payload, sizeof payload, "from-%d", i);
		assert_int_equal(publish(cl[i], topic, payload, false, NULL), FLT_OK);
	}
	for (int done = 0; done < N;) {
		assert_true(tt_now_ms() < dl);
		done = 0;
		for (int i = 0; i < N; i++) {
			assert_int_equal(flt_mqtt_poll(cl[i], 0, on_event, &rec[i]), FLT_OK);
			done += rec[i].n_msgs == 1 && rec[i].n_pubs == 1;
		}
	}
	for (int i = 0; i < N; i++) {
		char want[32];
		snprintf(want, sizeof want, "from-%d", (i + N - 1) % N);
		assert_string_equal(rec[i].msgs[0].payload, want);
		assert_int_equal(rec[i].pub_err[0], FLT_OK);
		flt_mqtt_free(cl[i]);
	}
	tt_mosq_free(m);
}

static int reset(void **state)
{
	(void)state;
	g_n = 0;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_round_trip_retained, reset),
	    cmocka_unit_test_setup(test_retained_reread_after_broker_restart, reset),
	    cmocka_unit_test_setup(test_reconnect_after_kill9, reset),
	    cmocka_unit_test_setup(test_connect_while_broker_down, reset),
	    cmocka_unit_test_setup(test_last_will_on_kill, reset),
	    cmocka_unit_test_setup(test_no_will_on_clean_close, reset),
	    cmocka_unit_test_setup(test_packet_too_large, reset),
	    cmocka_unit_test_setup(test_packet_limit_fallback, reset),
	    cmocka_unit_test_setup(test_declared_max_packet_size, reset),
	    cmocka_unit_test_setup(test_backpressure_loses_nothing, reset),
	    cmocka_unit_test_setup(test_two_clients_one_process, reset),
	    cmocka_unit_test_setup(test_inflight_completes_after_broker_loss, reset),
	    cmocka_unit_test_setup(test_many_clients_one_process, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
