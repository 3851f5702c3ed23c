/* The small fixed-size messages: up/status, down/ack, up/fetch, plus the
 * names of install steps and streams used by the other message codecs. */
#include <string.h>

#include "codec.h"
#include "flt/msg.h"

static const char *const step_names[FLT_STEP_COUNT_] = {"verifying", "downloading", "checking",
                                                        "testing",   "activating",  "probation",
                                                        "committed", "failed",      "rolled_back"};
static const char *const stream_names[FLT_STREAM_COUNT_] = {"telemetry", "events"};

const char *flt_step_name(enum flt_step s)
{
	return (unsigned)s < FLT_STEP_COUNT_ ? step_names[s] : "?";
}

bool flt_step_from_name(const char *s, enum flt_step *out)
{
	for (unsigned i = 0; s && i < FLT_STEP_COUNT_; i++) {
		if (strcmp(s, step_names[i]) == 0) {
			*out = (enum flt_step)i;
			return true;
		}
	}
	return false;
}

const char *flt_stream_name(enum flt_stream s)
{
	return (unsigned)s < FLT_STREAM_COUNT_ ? stream_names[s] : "?";
}

bool flt_stream_from_name(const char *s, enum flt_stream *out)
{
	for (unsigned i = 0; s && i < FLT_STREAM_COUNT_; i++) {
		if (strcmp(s, stream_names[i]) == 0) {
			*out = (enum flt_stream)i;
			return true;
		}
	}
	return false;
}

/* ---- status ---- */

static const char *const status_keys[] = {"v", "status", NULL};

flt_err flt_status_parse(const char *buf, size_t len, struct flt_status *out,
                         struct flt_json_err *err)
{
	cJSON *root = NULL;
	const char *s = NULL;
	flt_err rc;

	if (!out)
		return FLT_EINVAL;
	rc = codec_open(buf, len, FLT_MAX_STATUS_BYTES, status_keys, &root, err);
	if (rc != FLT_OK)
		return rc;
	CHECK(flt_json_get_str(root, "status", 16, &s, err));
	if (strcmp(s, "online") == 0)
		out->online = true;
	else if (strcmp(s, "offline") == 0)
		out->online = false;
	else
		INVALID("'status' must be online or offline");
out:
	cJSON_Delete(root);
	return codec_wire_err(rc);
}

flt_err flt_status_encode(const struct flt_status *s, char **out, size_t *len)
{
	cJSON *root;
	flt_err rc;

	if (!s || !out || !len)
		return FLT_EINVAL;
	root = cJSON_CreateObject();
	if (!root)
		return FLT_ENOMEM;
	CHECK(flt_json_add_uint(root, "v", FLT_PROTOCOL_VERSION));
	CHECK(flt_json_add_str(root, "status", s->online ? "online" : "offline"));
	rc = flt_json_print(root, out, len);
out:
	cJSON_Delete(root);
	return rc;
}

/* ---- ack ---- */

static const char *const ack_keys[] = {"v", "acks", NULL};
static const char *const ack_entry_keys[] = {"stream", "epoch", "seq", NULL};

flt_err flt_ack_validate(const struct flt_ack *a, struct flt_json_err *err)
{
	flt_err rc = FLT_OK;

	if (!a || a->n < 1 || a->n > FLT_STREAM_COUNT_)
		INVALID("'acks' must hold 1..%d entries", FLT_STREAM_COUNT_);
	for (size_t i = 0; i < a->n; i++) {
		if ((unsigned)a->acks[i].stream >= FLT_STREAM_COUNT_ || a->acks[i].epoch < 1 ||
		    a->acks[i].epoch > FLT_JSON_MAX_SAFE_INT ||
		    a->acks[i].seq > FLT_JSON_MAX_SAFE_INT)
			INVALID("acks[%zu]: bad stream, epoch or seq", i);
		for (size_t j = 0; j < i; j++)
			if (a->acks[j].stream == a->acks[i].stream)
				INVALID("acks[%zu]: stream listed twice", i);
	}
out:
	return rc;
}

flt_err flt_ack_parse(const char *buf, size_t len, struct flt_ack *out, struct flt_json_err *err)
{
	cJSON *root = NULL;
	const cJSON *arr = NULL, *it;
	struct flt_ack a;
	size_t n = 0;
	flt_err rc;

	if (!out)
		return FLT_EINVAL;
	memset(&a, 0, sizeof(a));
	rc = codec_open(buf, len, FLT_MAX_ACK_BYTES, ack_keys, &root, err);
	if (rc != FLT_OK)
		return rc;
	CHECK(flt_json_get_arr(root, "acks", FLT_STREAM_COUNT_, &arr, &n, err));
	cJSON_ArrayForEach(it, arr)
	{
		struct flt_ack_entry *e = &a.acks[a.n++];
		const char *s = NULL;

		if (!cJSON_IsObject(it))
			INVALID("acks: item is not an object");
		CHECK(flt_json_check_keys(it, ack_entry_keys, err));
		CHECK(flt_json_get_str(it, "stream", 16, &s, err));
		if (!flt_stream_from_name(s, &e->stream))
			INVALID("acks: unknown stream");
		CHECK(flt_json_get_uint(it, "epoch", FLT_JSON_MAX_SAFE_INT, &e->epoch, err));
		CHECK(flt_json_get_uint(it, "seq", FLT_JSON_MAX_SAFE_INT, &e->seq, err));
	}
	CHECK(flt_ack_validate(&a, err));
	*out = a;
out:
	cJSON_Delete(root);
	return codec_wire_err(rc);
}

flt_err flt_ack_encode(const struct flt_ack *a, char **out, size_t *len)
{
	cJSON *root = NULL, *arr;
	flt_err rc;

	if (!out || !len)
		return FLT_EINVAL;
	rc = flt_ack_validate(a, NULL);
	if (rc != FLT_OK)
		return rc;
	root = cJSON_CreateObject();
	if (!root)
		return FLT_ENOMEM;
	CHECK(flt_json_add_uint(root, "v", FLT_PROTOCOL_VERSION));
	rc = FLT_ENOMEM;
	if (!(arr = cJSON_AddArrayToObject(root, "acks")))
		goto out;
	for (size_t i = 0; i < a->n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			rc = FLT_ENOMEM;
			goto out;
		}
		CHECK(flt_json_add_str(o, "stream", flt_stream_name(a->acks[i].stream)));
		CHECK(flt_json_add_uint(o, "epoch", a->acks[i].epoch));
		CHECK(flt_json_add_uint(o, "seq", a->acks[i].seq));
	}
	rc = flt_json_print(root, out, len);
out:
	cJSON_Delete(root);
	return rc;
}

/* ---- fetch ---- */

static const char *const fetch_keys[] = {"v", "artifact", "ranges", NULL};
static const char *const range_keys[] = {"first", "count", NULL};

flt_err flt_fetch_validate(const struct flt_fetch *f, struct flt_json_err *err)
{
	flt_err rc = FLT_OK;
	uint64_t total = 0, next = 0;

	if (!f || !flt_json_sha256_hex_valid(f->artifact))
		INVALID("'artifact' is not a SHA-256");
	if (f->n_ranges < 1 || f->n_ranges > FLT_MAX_FETCH_RANGES)
		INVALID("'ranges' must hold 1..%d entries", FLT_MAX_FETCH_RANGES);
	for (size_t i = 0; i < f->n_ranges; i++) {
		uint64_t first = f->ranges[i].first, count = f->ranges[i].count;

		if (count < 1 || first + count > FLT_MAX_CHUNKS)
			INVALID("ranges[%zu]: count must be >= 1 and end within %u chunks", i,
			        FLT_MAX_CHUNKS);
		if (first < next)
			INVALID("ranges[%zu]: ranges must ascend without overlap", i);
		next = first + count;
		total += count;
	}
	if (total > FLT_MAX_FETCH_CHUNKS) {
		flt_json_fail(err, FLT_REASON_TOO_LARGE, "more than %d chunks requested",
		              FLT_MAX_FETCH_CHUNKS);
		rc = FLT_ELIMIT;
	}
out:
	return rc;
}

flt_err flt_fetch_parse(const char *buf, size_t len, struct flt_fetch *out,
                        struct flt_json_err *err)
{
	cJSON *root = NULL;
	const cJSON *arr = NULL, *it;
	struct flt_fetch f;
	size_t n = 0;
	flt_err rc;

	if (!out)
		return FLT_EINVAL;
	memset(&f, 0, sizeof(f));
	rc = codec_open(buf, len, FLT_MAX_FETCH_BYTES, fetch_keys, &root, err);
	if (rc != FLT_OK)
		return rc;
	CHECK(flt_json_get_sha256(root, "artifact", f.artifact, err));
	CHECK(flt_json_get_arr(root, "ranges", FLT_MAX_FETCH_RANGES, &arr, &n, err));
	cJSON_ArrayForEach(it, arr)
	{
		struct flt_chunk_range *r = &f.ranges[f.n_ranges++];
		uint64_t v = 0;

		if (!cJSON_IsObject(it))
			INVALID("ranges: item is not an object");
		CHECK(flt_json_check_keys(it, range_keys, err));
		CHECK(flt_json_get_uint(it, "first", FLT_MAX_CHUNKS, &v, err));
		r->first = (uint32_t)v;
		CHECK(flt_json_get_uint(it, "count", FLT_MAX_FETCH_CHUNKS, &v, err));
		r->count = (uint32_t)v;
	}
	CHECK(flt_fetch_validate(&f, err));
	*out = f;
out:
	cJSON_Delete(root);
	return codec_wire_err(rc);
}

flt_err flt_fetch_encode(const struct flt_fetch *f, char **out, size_t *len)
{
	cJSON *root = NULL, *arr;
	flt_err rc;

	if (!out || !len)
		return FLT_EINVAL;
	rc = flt_fetch_validate(f, NULL);
	if (rc != FLT_OK)
		return rc == FLT_ELIMIT ? FLT_EINVAL : rc;
	root = cJSON_CreateObject();
	if (!root)
		return FLT_ENOMEM;
	CHECK(flt_json_add_uint(root, "v", FLT_PROTOCOL_VERSION));
	CHECK(flt_json_add_str(root, "artifact", f->artifact));
	rc = FLT_ENOMEM;
	if (!(arr = cJSON_AddArrayToObject(root, "ranges")))
		goto out;
	for (size_t i = 0; i < f->n_ranges; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			rc = FLT_ENOMEM;
			goto out;
		}
		CHECK(flt_json_add_uint(o, "first", f->ranges[i].first));
		CHECK(flt_json_add_uint(o, "count", f->ranges[i].count));
	}
	rc = flt_json_print(root, out, len);
out:
	cJSON_Delete(root);
	return rc;
}
