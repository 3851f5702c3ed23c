/* tt_pub: the MQTT side (thread, outgoing queue, incoming dispatch) of the
 * test publisher; documents and chunk answers are in tt_pub_docs.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flt/alloc.h"
#include "flt/mqtt.h"
#include "tt_proc.h"
#include "tt_pub_int.h"

void ttp_enqueue(struct tt_pub *p, const char *topic, const void *data, size_t len, bool retained)
{
	struct tt_out *o = calloc(1, sizeof(*o));
	if (!o || !(o->data = malloc(len ? len : 1))) {
		free(o);
		return;
	}
	snprintf(o->topic, sizeof(o->topic), "%s", topic);
	memcpy(o->data, data, len);
	o->len = len;
	o->retained = retained;
	if (p->out_tail)
		p->out_tail->next = o;
	else
		p->out_head = o;
	p->out_tail = o;
}

void ttp_retain(struct tt_pub *p, const char *topic, const void *data, size_t len)
{
	struct tt_retained *r = NULL;
	for (size_t i = 0; i < p->nret; i++)
		if (!strcmp(p->ret[i].topic, topic))
			r = &p->ret[i];
	if (!r && p->nret < TT_MAX_RET)
		r = &p->ret[p->nret++];
	if (r) {
		snprintf(r->topic, sizeof(r->topic), "%s", topic);
		free(r->data);
		r->data = malloc(len ? len : 1);
		if (r->data)
			memcpy(r->data, data, len);
		r->len = len;
	}
	ttp_enqueue(p, topic, data, len, true);
}

static void on_event(void *arg, struct flt_mqtt *c, const struct flt_mqtt_event *ev)
{
	struct tt_pub *p = arg;
	(void)c;
	pthread_mutex_lock(&p->mu);
	if (ev->type == FLT_MQTT_EV_CONNECTED) {
		p->connected = true;
		for (size_t i = 0; i < p->nret; i++)
			ttp_enqueue(p, p->ret[i].topic, p->ret[i].data, p->ret[i].len, true);
	} else if (ev->type == FLT_MQTT_EV_DISCONNECTED) {
		p->connected = false;
	} else if (ev->type == FLT_MQTT_EV_MESSAGE && ev->len) {
		/* flotilla/v1/dev/<id>/up/<what> */
		char device[65] = "";
		const char *s = ev->topic + strlen("flotilla/v1/dev/");
		const char *slash = strchr(s, '/');
		if (slash && (size_t)(slash - s) < sizeof(device)) {
			memcpy(device, s, (size_t)(slash - s));
			device[slash - s] = 0;
			if (!strcmp(slash, "/up/fetch"))
				ttp_on_fetch(p, device, ev->payload, ev->len);
			else if (!strcmp(slash, "/up/events"))
				ttp_on_events(p, device, ev->payload, ev->len);
			else if (!strcmp(slash, "/up/state")) {
				struct tt_retained *r = NULL;
				for (size_t i = 0; i < p->nstates; i++)
					if (!strcmp(p->states[i].topic, device))
						r = &p->states[i];
				if (!r && p->nstates < TT_MAX_RET)
					r = &p->states[p->nstates++];
				if (r) {
					snprintf(r->topic, sizeof(r->topic), "%s", device);
					free(r->data);
					r->data = malloc(ev->len + 1);
					if (r->data) {
						memcpy(r->data, ev->payload, ev->len);
						r->data[ev->len] = 0;
					}
					r->len = ev->len;
				}
			}
		}
	}
	pthread_mutex_unlock(&p->mu);
}

static void *thread_main(void *arg)
{
	struct tt_pub *p = arg;
	while (!p->stop) {
		if (flt_mqtt_poll(p->c, 5, on_event, p) != FLT_OK)
			break;
		pthread_mutex_lock(&p->mu);
		while (p->out_head && p->connected) {
			struct tt_out *o = p->out_head;
			flt_err e = flt_mqtt_publish(p->c, o->topic, o->data, o->len, 1,
			                             o->retained, FLT_MQTT_PURPOSE_OTHER, NULL);
			if (e == FLT_EBUSY)
				break;
			p->out_head = o->next;
			if (!p->out_head)
				p->out_tail = NULL;
			free(o->data);
			free(o);
		}
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

static bool is_connected(void *arg)
{
	struct tt_pub *p = arg;
	pthread_mutex_lock(&p->mu);
	bool c = p->connected;
	pthread_mutex_unlock(&p->mu);
	return c;
}

int tt_pub_new(const char *uri, struct tt_pub **out)
{
	static int n;
	char id[64];
	struct tt_pub *p = calloc(1, sizeof(*p));
	if (!p)
		return -1;
	pthread_mutex_init(&p->mu, NULL);
	p->limit = -1;
	if (flt_key_generate(NULL, &p->root) || flt_key_generate(NULL, &p->director) ||
	    flt_key_generate(NULL, &p->release) || flt_key_generate(NULL, &p->release2) ||
	    flt_key_generate(NULL, &p->stray))
		goto fail;
	snprintf(id, sizeof(id), "tt-pub-%d-%d", (int)getpid(), n++);
	struct flt_mqtt_opts o;
	flt_mqtt_opts_init(&o);
	o.uri = uri;
	o.client_id = id;
	o.backoff_min_ms = 50;
	o.backoff_max_ms = 300;
	o.max_inflight = 1024;
	o.queue_max_msgs = 4096;
	if (flt_mqtt_new(&o, &p->c) || flt_mqtt_subscribe(p->c, "flotilla/v1/dev/+/up/#", 0) ||
	    flt_mqtt_connect(p->c))
		goto fail;
	if (pthread_create(&p->th, NULL, thread_main, p))
		goto fail;
	if (!tt_wait_until(is_connected, p, 10000)) {
		p->stop = 1;
		pthread_join(p->th, NULL);
		goto fail;
	}
	*out = p;
	return 0;
fail:
	flt_mqtt_free(p->c);
	flt_key_free(p->root);
	flt_key_free(p->director);
	flt_key_free(p->release);
	flt_key_free(p->release2);
	flt_key_free(p->stray);
	free(p);
	return -1;
}

void tt_pub_free(struct tt_pub *p)
{
	if (!p)
		return;
	p->stop = 1;
	pthread_join(p->th, NULL);
	flt_mqtt_free(p->c);
	flt_key_free(p->root);
	flt_key_free(p->director);
	flt_key_free(p->release);
	flt_key_free(p->release2);
	flt_key_free(p->stray);
	for (size_t i = 0; i < p->narts; i++)
		free(p->arts[i].data);
	for (size_t i = 0; i < p->nret; i++)
		free(p->ret[i].data);
	for (size_t i = 0; i < p->nstates; i++)
		free(p->states[i].data);
	while (p->out_head) {
		struct tt_out *o = p->out_head;
		p->out_head = o->next;
		free(o->data);
		free(o);
	}
	free(p->evs);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
