/* Unit tests of the MQTT adapter's parts that need no broker: packet sizes,
 * option checks, allocation failures, offline behaviour, a refused connection. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/mqtt.h"

static void test_packet_size(void **state)
{
	(void)state;
	/* fixed header 1 + length 1 + topic len 2 + topic 1 + props 1 + payload */
	assert_int_equal(flt_mqtt_publish_packet_size(1, 0, 0), 6);
	/* QoS 1 adds the packet identifier. */
	assert_int_equal(flt_mqtt_publish_packet_size(1, 0, 1), 8);
	/* Remaining length 127 fits one byte, 128 needs two. */
	assert_int_equal(flt_mqtt_publish_packet_size(1, 123, 0), 1 + 1 + 127);
	assert_int_equal(flt_mqtt_publish_packet_size(1, 124, 0), 1 + 2 + 128);
	assert_int_equal(flt_mqtt_publish_packet_size(1, 16383 - 4, 0), 1 + 2 + 16383);
	assert_int_equal(flt_mqtt_publish_packet_size(1, 16384 - 4, 0), 1 + 3 + 16384);
	/* Never wraps, even where size_t is 32 bits; MQTT's ceiling is 268435455. */
	assert_true(flt_mqtt_publish_packet_size(10, SIZE_MAX - 5, 1) == SIZE_MAX);
	assert_true(flt_mqtt_publish_packet_size(0, 268435455u - 3, 0) == 268435455u + 5);
	assert_true(flt_mqtt_publish_packet_size(0, 268435455u - 2, 0) == SIZE_MAX);
}

static void base(struct flt_mqtt_opts *o)
{
	flt_mqtt_opts_init(o);
	o->uri = "tcp://127.0.0.1:1";
	o->client_id = "unit";
}

static void test_options_checked(void **state)
{
	(void)state;
	struct flt_mqtt_opts o;
	struct flt_mqtt *c = NULL;

	base(&o);
	o.uri = "ws://127.0.0.1:1";
	assert_int_equal(flt_mqtt_new(&o, &c), FLT_EINVAL);
	base(&o);
	o.client_id = "";
	assert_int_equal(flt_mqtt_new(&o, &c), FLT_EINVAL);
	base(&o);
	o.backoff_min_ms = 500;
	o.backoff_max_ms = 100;
	assert_int_equal(flt_mqtt_new(&o, &c), FLT_EINVAL);
	base(&o);
	o.will_topic = "t";
	o.will_len = 3; /* with no payload */
	assert_int_equal(flt_mqtt_new(&o, &c), FLT_EINVAL);
	base(&o);
	o.uri = "ssl://127.0.0.1:1";
	o.tls.crl_file = "/nonexistent.crl";
	assert_int_equal(flt_mqtt_new(&o, &c), FLT_EUNSUPPORTED);
	assert_null(c);
}

static void test_alloc_failures_leak_nothing(void **state)
{
	(void)state;
	struct flt_mqtt_opts o;
	base(&o);
	o.will_topic = "dev/x/up/status";
	o.will_payload = "offline";
	o.will_len = 7;
	o.tls.ca_file = "/ca.pem";
	bool ok = false;
	for (long n = 0; n < 64 && !ok; n++) {
		struct flt_mqtt *c = NULL;
		flt_alloc_fail_after(n);
		flt_err e = flt_mqtt_new(&o, &c);
		flt_alloc_fail_reset();
		if (e == FLT_OK) {
			ok = true;
			assert_int_equal(flt_mqtt_subscribe(c, "a/#", 0), FLT_OK);
			flt_mqtt_free(c);
		} else {
			assert_int_equal(e, FLT_ENOMEM);
			assert_null(c);
		}
	}
	assert_true(ok);
}

static void test_offline_behaviour(void **state)
{
	(void)state;
	struct flt_mqtt_opts o;
	struct flt_mqtt *c = NULL;
	base(&o);
	assert_int_equal(flt_mqtt_new(&o, &c), FLT_OK);
	assert_true(flt_mqtt_fd(c) >= 0);
	assert_int_equal(flt_mqtt_timeout_ms(c), -1);
	assert_false(flt_mqtt_is_connected(c));
	assert_int_equal(flt_mqtt_broker_max_packet(c), 0);
	assert_int_equal(flt_mqtt_publish(c, "t", "x", 1, 1, false, FLT_MQTT_PURPOSE_OTHER, NULL),
	                 FLT_ENOCONN);
	assert_int_equal(flt_mqtt_publish(c, "t", "x", 1, 2, false, FLT_MQTT_PURPOSE_OTHER, NULL),
	                 FLT_EINVAL);
	assert_int_equal(flt_mqtt_subscribe(c, "", 0), FLT_EINVAL);
	for (int i = 0; i < 32; i++) {
		char f[16];
		snprintf(f, sizeof f, "t/%d", i);
		assert_int_equal(flt_mqtt_subscribe(c, f, 0), FLT_OK);
	}
	assert_int_equal(flt_mqtt_subscribe(c, "t/0", 0), FLT_ECONFLICT);
	assert_int_equal(flt_mqtt_subscribe(c, "t/x", 0), FLT_ELIMIT);
	assert_int_equal(flt_mqtt_unsubscribe(c, "t/0"), FLT_OK);
	assert_int_equal(flt_mqtt_unsubscribe(c, "t/0"), FLT_ENOTFOUND);
	assert_int_equal(flt_mqtt_subscribe(c, "t/x", 0), FLT_OK);
	assert_int_equal(flt_mqtt_disconnect(c, 0), FLT_OK);
	flt_mqtt_free(c);
	flt_mqtt_free(NULL);
}

struct seen {
	int failed;
	flt_err err;
	int other;
};

static void on_event(void *arg, struct flt_mqtt *c, const struct flt_mqtt_event *ev)
{
	struct seen *s = arg;
	(void)c;
	if (ev->type == FLT_MQTT_EV_CONNECT_FAILED) {
		s->failed++;
		s->err = ev->err;
	} else {
		s->other++;
	}
}

static uint16_t closed_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

static void test_refused_connect_retries(void **state)
{
	(void)state;
	struct flt_mqtt_opts o;
	struct flt_mqtt *c = NULL;
	struct seen s = {0};
	char uri[64];
	snprintf(uri, sizeof uri, "tcp://127.0.0.1:%u", closed_port());
	base(&o);
	o.uri = uri;
	o.backoff_min_ms = 10;
	o.backoff_max_ms = 40;
	assert_int_equal(flt_mqtt_new(&o, &c), FLT_OK);
	assert_int_equal(flt_mqtt_poll(c, 0, on_event, &s), FLT_OK);
	assert_int_equal(flt_mqtt_connect(c), FLT_OK);
	for (int i = 0; i < 2000 && s.failed < 3; i++)
		assert_int_equal(flt_mqtt_poll(c, 50, on_event, &s), FLT_OK);
	assert_true(s.failed >= 3);
	assert_int_equal(s.err, FLT_ENOCONN);
	assert_int_equal(s.other, 0);
	/* Between attempts a retry is scheduled within the backoff ceiling. */
	int t = flt_mqtt_timeout_ms(c);
	assert_true(t == -1 || t <= 40);
	assert_int_equal(flt_mqtt_disconnect(c, 0), FLT_OK);
	assert_int_equal(flt_mqtt_timeout_ms(c), -1);
	flt_mqtt_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_packet_size),
	    cmocka_unit_test(test_options_checked),
	    cmocka_unit_test(test_alloc_failures_leak_nothing),
	    cmocka_unit_test(test_offline_behaviour),
	    cmocka_unit_test(test_refused_connect_retries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
