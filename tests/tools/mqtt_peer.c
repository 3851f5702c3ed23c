/* Test helper program: one flt_mqtt client in its own process, so a test can
 * SIGKILL it and watch the broker act on its abrupt end (Last Will).
 * Usage: mqtt_peer URI CLIENT_ID [WILL_TOPIC WILL_PAYLOAD]; prints "connected". */
#include <stdio.h>
#include <string.h>

#include "flt/mqtt.h"

static void on_event(void *arg, struct flt_mqtt *c, const struct flt_mqtt_event *ev)
{
	(void)arg;
	(void)c;
	if (ev->type == FLT_MQTT_EV_CONNECTED) {
		printf("connected\n");
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: mqtt_peer URI CLIENT_ID [WILL_TOPIC WILL_PAYLOAD]\n");
		return 2;
	}
	struct flt_mqtt_opts o;
	flt_mqtt_opts_init(&o);
	o.uri = argv[1];
	o.client_id = argv[2];
	o.backoff_min_ms = 50;
	o.backoff_max_ms = 500;
	if (argc == 5) {
		o.will_topic = argv[3];
		o.will_payload = argv[4];
		o.will_len = strlen(argv[4]);
		o.will_retained = true;
	}
	struct flt_mqtt *c = NULL;
	if (flt_mqtt_new(&o, &c) != FLT_OK || flt_mqtt_connect(c) != FLT_OK) {
		fprintf(stderr, "mqtt_peer: cannot start\n");
		flt_mqtt_free(c);
		return 1;
	}
	/* Runs until killed: the point is to die without a DISCONNECT. */
	for (;;) {
		if (flt_mqtt_poll(c, -1, on_event, NULL) != FLT_OK)
			break;
	}
	flt_mqtt_free(c);
	return 1;
}
