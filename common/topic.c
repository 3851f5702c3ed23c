/* Topic names: one table of suffixes drives building and parsing, so the two
 * cannot disagree. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "flt/json.h"
#include "flt/topic.h"

#define DEV_PREFIX FLT_TOPIC_ROOT "/dev/"
#define ART_PREFIX FLT_TOPIC_ROOT "/art/"

/* suffix after dev/<id>/ (for ART_CHUNK: after art/<sha256>/); chunk kinds end in the hash */
static const struct {
	const char *suffix;
	bool retained;
} kinds[FLT_TOPIC_COUNT_] = {
    [FLT_TOPIC_DOWN_DESIRED] = {"down/desired", true},
    [FLT_TOPIC_DOWN_KEYS] = {"down/keys", true},
    [FLT_TOPIC_DOWN_ACK] = {"down/ack", true},
    [FLT_TOPIC_DOWN_CHUNK] = {"down/chunk/", false},
    [FLT_TOPIC_ART_CHUNK] = {"chunk", false},
    [FLT_TOPIC_UP_STATE] = {"up/state", true},
    [FLT_TOPIC_UP_STATUS] = {"up/status", true},
    [FLT_TOPIC_UP_EVENTS] = {"up/events", false},
    [FLT_TOPIC_UP_TELEMETRY] = {"up/telemetry", false},
    [FLT_TOPIC_UP_FETCH] = {"up/fetch", false},
};

int flt_topic_retained(enum flt_topic_kind k)
{
	return (unsigned)k < FLT_TOPIC_COUNT_ && kinds[k].retained;
}

static flt_err put(size_t cap, int n)
{
	if (n < 0)
		return FLT_EINVAL;
	return (size_t)n < cap ? FLT_OK : FLT_ELIMIT;
}

flt_err flt_topic_build(enum flt_topic_kind k, const char *device_id, const char *sha256, char *buf,
                        size_t cap)
{
	if ((unsigned)k >= FLT_TOPIC_COUNT_ || !buf || cap == 0)
		return FLT_EINVAL;
	if (k == FLT_TOPIC_ART_CHUNK) {
		if (!flt_json_sha256_hex_valid(sha256))
			return FLT_EINVAL;
		return put(cap, snprintf(buf, cap, ART_PREFIX "%s/%s", sha256, kinds[k].suffix));
	}
	if (!flt_ident_device_valid(device_id))
		return FLT_EINVAL;
	if (k == FLT_TOPIC_DOWN_CHUNK) {
		if (!flt_json_sha256_hex_valid(sha256))
			return FLT_EINVAL;
		return put(cap, snprintf(buf, cap, DEV_PREFIX "%s/%s%s", device_id, kinds[k].suffix,
		                         sha256));
	}
	return put(cap, snprintf(buf, cap, DEV_PREFIX "%s/%s", device_id, kinds[k].suffix));
}

/* Copies the level starting at s (up to '/' or the end) into dst if it is at
 * most max bytes; returns its length or -1. */
static int level(const char *s, char *dst, size_t max)
{
	size_t n = strcspn(s, "/");

	if (n > max)
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return (int)n;
}

flt_err flt_topic_parse(const char *topic, struct flt_topic *out)
{
	struct flt_topic t;
	const char *rest;
	int n;

	if (!topic || !out)
		return FLT_EINVAL;
	memset(&t, 0, sizeof(t));
	if (strncmp(topic, ART_PREFIX, strlen(ART_PREFIX)) == 0) {
		rest = topic + strlen(ART_PREFIX);
		n = level(rest, t.sha256, 64);
		if (n < 0 || !flt_json_sha256_hex_valid(t.sha256) ||
		    strcmp(rest + n, "/chunk") != 0)
			return FLT_EPARSE;
		t.kind = FLT_TOPIC_ART_CHUNK;
		*out = t;
		return FLT_OK;
	}
	if (strncmp(topic, DEV_PREFIX, strlen(DEV_PREFIX)) != 0)
		return FLT_EPARSE;
	rest = topic + strlen(DEV_PREFIX);
	n = level(rest, t.device_id, FLT_IDENT_MAX);
	if (n < 0 || rest[n] != '/' || !flt_ident_device_valid(t.device_id))
		return FLT_EPARSE;
	rest += n + 1;
	for (unsigned k = 0; k < FLT_TOPIC_COUNT_; k++) {
		if (k == FLT_TOPIC_ART_CHUNK)
			continue;
		if (k == FLT_TOPIC_DOWN_CHUNK) {
			size_t sl = strlen(kinds[k].suffix);
			if (strncmp(rest, kinds[k].suffix, sl) == 0 &&
			    flt_json_sha256_hex_valid(rest + sl)) {
				memcpy(t.sha256, rest + sl, 65);
				t.kind = FLT_TOPIC_DOWN_CHUNK;
				*out = t;
				return FLT_OK;
			}
			continue;
		}
		if (strcmp(rest, kinds[k].suffix) == 0) {
			t.kind = (enum flt_topic_kind)k;
			*out = t;
			return FLT_OK;
		}
	}
	return FLT_EPARSE;
}

flt_err flt_topic_filter_device(const char *device_id, char *buf, size_t cap)
{
	if (!flt_ident_device_valid(device_id) || !buf || cap == 0)
		return FLT_EINVAL;
	return put(cap, snprintf(buf, cap, DEV_PREFIX "%s/down/#", device_id));
}

flt_err flt_topic_filter_artifact(const char *sha256, char *buf, size_t cap)
{
	if (!flt_json_sha256_hex_valid(sha256) || !buf || cap == 0)
		return FLT_EINVAL;
	return put(cap, snprintf(buf, cap, ART_PREFIX "%s/#", sha256));
}
