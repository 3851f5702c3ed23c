/* Reported state codec (up/state): what the device is, what its runtime can
 * run, and what it holds of each release. The controller sizes chunks from
 * max_packet_size and checks operators here before it signs anything. */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "flt/alloc.h"
#include "flt/msg.h"

static const char *const top_keys[] = {"v",
                                       "device_id",
                                       "time",
                                       "arch",
                                       "board",
                                       "ram_bytes",
                                       "disk_free_bytes",
                                       "max_packet_size",
                                       "agent_version",
                                       "runtime_version",
                                       "firmware_version",
                                       "clock_synced",
                                       "operators",
                                       "releases",
                                       "last_error",
                                       NULL};
static const char *const op_keys[] = {"domain", "op_type", "since", "until", NULL};
static const char *const rel_keys[] = {"kind",      "name",       "installed", "active",
                                       "committed", "deployment", NULL};
static const char *const dep_keys[] = {"id", "version", "step", "reason", NULL};
static const char *const lasterr_keys[] = {"reason", "message", NULL};

void flt_state_free(struct flt_state *s)
{
	if (!s)
		return;
	flt_free(s->operators);
	flt_free(s->releases);
	flt_free(s);
}

flt_err flt_state_validate(const struct flt_state *s, struct flt_json_err *err)
{
	flt_err rc = FLT_OK;

	if (!s)
		INVALID("no state");
	if (!flt_ident_device_valid(s->device_id))
		INVALID("'device_id' is not a valid device id");
	if (s->time < 0 || s->time > (int64_t)FLT_JSON_MAX_SAFE_INT)
		INVALID("'time' out of range");
	if (!flt_ident_valid(s->arch) || !flt_ident_valid(s->board))
		INVALID("'arch' or 'board' is not a valid identifier");
	if (s->ram_bytes > FLT_JSON_MAX_SAFE_INT || s->disk_free_bytes > FLT_JSON_MAX_SAFE_INT ||
	    s->firmware_version > FLT_JSON_MAX_SAFE_INT)
		INVALID("number above 2^53-1");
	if (s->max_packet_size < 1 || s->max_packet_size > FLT_MQTT_MAX_PACKET)
		INVALID("'max_packet_size' must be 1..%u", FLT_MQTT_MAX_PACKET);
	if (s->agent_version < 1 || s->agent_version > FLT_JSON_MAX_SAFE_INT)
		INVALID("'agent_version' must be >= 1");
	if (!codec_text_ok(s->runtime_version, FLT_STATE_MAX_RUNTIME_VERSION))
		INVALID("bad 'runtime_version'");
	if (s->n_operators > FLT_STATE_MAX_OPERATORS || (s->n_operators && !s->operators))
		INVALID("too many operators");
	for (size_t i = 0; i < s->n_operators; i++) {
		const struct flt_op_support *o = &s->operators[i];
		if (!codec_text_ok(o->domain, FLT_MANIFEST_MAX_DOMAIN) ||
		    !codec_text_ok(o->op_type, FLT_MANIFEST_MAX_OPTYPE) || !o->op_type[0] ||
		    o->since < 1 || o->since > FLT_JSON_MAX_SAFE_INT ||
		    o->until > FLT_JSON_MAX_SAFE_INT || (o->until && o->until < o->since))
			INVALID("operators[%zu]: bad domain, op_type or opset range", i);
	}
	if (s->n_releases > FLT_STATE_MAX_RELEASES || (s->n_releases && !s->releases))
		INVALID("too many releases");
	for (size_t i = 0; i < s->n_releases; i++) {
		const struct flt_state_release *r = &s->releases[i];
		if ((unsigned)r->kind >= FLT_KIND_COUNT_ || !flt_ident_valid(r->name))
			INVALID("releases[%zu]: bad kind or name", i);
		if (r->n_installed > FLT_STATE_MAX_INSTALLED)
			INVALID("releases[%zu]: too many installed versions", i);
		for (size_t k = 0; k < r->n_installed; k++)
			if (r->installed[k] < 1 || r->installed[k] > FLT_JSON_MAX_SAFE_INT ||
			    (k && r->installed[k] <= r->installed[k - 1]))
				INVALID("releases[%zu]: installed versions must ascend", i);
		if (r->active > FLT_JSON_MAX_SAFE_INT || r->committed > FLT_JSON_MAX_SAFE_INT)
			INVALID("releases[%zu]: number above 2^53-1", i);
		if (r->has_deployment &&
		    (!flt_ident_valid(r->deployment_id) || r->deployment_version < 1 ||
		     r->deployment_version > FLT_JSON_MAX_SAFE_INT ||
		     (unsigned)r->step >= FLT_STEP_COUNT_ ||
		     (unsigned)r->reason >= FLT_REASON_COUNT_))
			INVALID("releases[%zu]: bad deployment", i);
		for (size_t j = 0; j < i; j++)
			if (s->releases[j].kind == r->kind &&
			    strcmp(s->releases[j].name, r->name) == 0)
				INVALID("releases[%zu]: listed twice", i);
	}
	if (s->has_last_error && ((unsigned)s->last_error_reason >= FLT_REASON_COUNT_ ||
	                          !codec_text_ok(s->last_error_message, FLT_MAX_MESSAGE)))
		INVALID("bad 'last_error'");
out:
	return rc;
}

static flt_err get_reason(const cJSON *o, const char *key, enum flt_reason *out,
                          struct flt_json_err *err)
{
	const char *s = NULL;
	flt_err rc = flt_json_get_str(o, key, 32, &s, err);

	if (rc != FLT_OK)
		return rc;
	if (!flt_reason_from_name(s, out)) {
		flt_json_errf(err, "'%s' is not a known reason code", key);
		return FLT_EPARSE;
	}
	return FLT_OK;
}

static flt_err read_release(const cJSON *it, struct flt_state_release *r, struct flt_json_err *err)
{
	const cJSON *arr = NULL, *v, *d = NULL;
	const char *s = NULL;
	size_t n = 0;
	flt_err rc = FLT_OK;

	if (!cJSON_IsObject(it))
		INVALID("not an object");
	CHECK(flt_json_check_keys(it, rel_keys, err));
	CHECK(flt_json_get_str(it, "kind", 16, &s, err));
	if (!flt_kind_from_name(s, &r->kind))
		INVALID("unknown kind");
	CHECK(flt_json_get_ident(it, "name", r->name, err));
	CHECK(flt_json_get_arr(it, "installed", FLT_STATE_MAX_INSTALLED, &arr, &n, err));
	cJSON_ArrayForEach(v, arr) CHECK(flt_json_uint(v, "installed", FLT_JSON_MAX_SAFE_INT,
	                                               &r->installed[r->n_installed++], err));
	CHECK(flt_json_get_uint(it, "active", FLT_JSON_MAX_SAFE_INT, &r->active, err));
	CHECK(flt_json_get_uint(it, "committed", FLT_JSON_MAX_SAFE_INT, &r->committed, err));
	if (flt_json_has(it, "deployment")) {
		CHECK(flt_json_get_obj(it, "deployment", &d, err));
		CHECK(flt_json_check_keys(d, dep_keys, err));
		CHECK(flt_json_get_ident(d, "id", r->deployment_id, err));
		CHECK(flt_json_get_uint(d, "version", FLT_JSON_MAX_SAFE_INT, &r->deployment_version,
		                        err));
		CHECK(flt_json_get_str(d, "step", 16, &s, err));
		if (!flt_step_from_name(s, &r->step))
			INVALID("deployment: unknown step");
		CHECK(get_reason(d, "reason", &r->reason, err));
		r->has_deployment = true;
	}
out:
	return rc;
}

flt_err flt_state_parse(const char *buf, size_t len, struct flt_state **out,
                        struct flt_json_err *err)
{
	cJSON *root = NULL;
	const cJSON *arr = NULL, *it, *o = NULL;
	struct flt_state *s = NULL;
	size_t n = 0;
	flt_err rc;

	if (!out)
		return FLT_EINVAL;
	rc = codec_open(buf, len, FLT_MAX_STATE_BYTES, top_keys, &root, err);
	if (rc != FLT_OK)
		return rc;
	s = flt_calloc(1, sizeof(*s));
	if (!s) {
		rc = FLT_ENOMEM;
		goto out;
	}
	CHECK(flt_json_get_ident(root, "device_id", s->device_id, err));
	CHECK(flt_json_get_int(root, "time", &s->time, err));
	CHECK(flt_json_get_ident(root, "arch", s->arch, err));
	CHECK(flt_json_get_ident(root, "board", s->board, err));
	CHECK(flt_json_get_uint(root, "ram_bytes", FLT_JSON_MAX_SAFE_INT, &s->ram_bytes, err));
	CHECK(flt_json_get_uint(root, "disk_free_bytes", FLT_JSON_MAX_SAFE_INT, &s->disk_free_bytes,
	                        err));
	CHECK(flt_json_get_uint(root, "max_packet_size", FLT_MQTT_MAX_PACKET, &s->max_packet_size,
	                        err));
	CHECK(flt_json_get_uint(root, "agent_version", FLT_JSON_MAX_SAFE_INT, &s->agent_version,
	                        err));
	CHECK(flt_json_get_strbuf(root, "runtime_version", s->runtime_version,
	                          sizeof(s->runtime_version), err));
	CHECK(flt_json_get_uint(root, "firmware_version", FLT_JSON_MAX_SAFE_INT,
	                        &s->firmware_version, err));
	CHECK(flt_json_get_bool(root, "clock_synced", &s->clock_synced, err));

	CHECK(flt_json_get_arr(root, "operators", FLT_STATE_MAX_OPERATORS, &arr, &n, err));
	if (n && !(s->operators = flt_calloc(n, sizeof(*s->operators)))) {
		rc = FLT_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(it, arr)
	{
		struct flt_op_support *op = &s->operators[s->n_operators];
		if (!cJSON_IsObject(it))
			INVALID("operators[%zu] is not an object", s->n_operators);
		CHECK(flt_json_check_keys(it, op_keys, err));
		CHECK(flt_json_get_strbuf(it, "domain", op->domain, sizeof(op->domain), err));
		CHECK(flt_json_get_strbuf(it, "op_type", op->op_type, sizeof(op->op_type), err));
		CHECK(flt_json_get_uint(it, "since", FLT_JSON_MAX_SAFE_INT, &op->since, err));
		CHECK(flt_json_get_uint(it, "until", FLT_JSON_MAX_SAFE_INT, &op->until, err));
		s->n_operators++;
	}
	CHECK(flt_json_get_arr(root, "releases", FLT_STATE_MAX_RELEASES, &arr, &n, err));
	if (n && !(s->releases = flt_calloc(n, sizeof(*s->releases)))) {
		rc = FLT_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(it, arr)
	{
		rc = read_release(it, &s->releases[s->n_releases], err);
		if (rc != FLT_OK) {
			char where[32];
			snprintf(where, sizeof(where), "releases[%zu]", s->n_releases);
			flt_json_err_prefix(err, where);
			goto out;
		}
		s->n_releases++;
	}
	if (flt_json_has(root, "last_error")) {
		CHECK(flt_json_get_obj(root, "last_error", &o, err));
		CHECK(flt_json_check_keys(o, lasterr_keys, err));
		CHECK(get_reason(o, "reason", &s->last_error_reason, err));
		CHECK(flt_json_get_strbuf(o, "message", s->last_error_message,
		                          sizeof(s->last_error_message), err));
		s->has_last_error = true;
	}
	CHECK(flt_state_validate(s, err));
	*out = s;
	s = NULL;
out:
	cJSON_Delete(root);
	flt_state_free(s);
	return codec_wire_err(rc);
}

static flt_err add_obj_to_arr(cJSON *arr, cJSON **o)
{
	*o = cJSON_CreateObject();
	if (!*o || !cJSON_AddItemToArray(arr, *o)) {
		cJSON_Delete(*o);
		return FLT_ENOMEM;
	}
	return FLT_OK;
}

flt_err flt_state_encode(const struct flt_state *s, char **out, size_t *len)
{
	cJSON *root = NULL, *arr, *o, *a2;
	flt_err rc;

	if (!out || !len)
		return FLT_EINVAL;
	rc = flt_state_validate(s, NULL);
	if (rc != FLT_OK)
		return rc;
	root = cJSON_CreateObject();
	if (!root)
		return FLT_ENOMEM;
	CHECK(flt_json_add_uint(root, "v", FLT_PROTOCOL_VERSION));
	CHECK(flt_json_add_str(root, "device_id", s->device_id));
	CHECK(flt_json_add_int(root, "time", s->time));
	CHECK(flt_json_add_str(root, "arch", s->arch));
	CHECK(flt_json_add_str(root, "board", s->board));
	CHECK(flt_json_add_uint(root, "ram_bytes", s->ram_bytes));
	CHECK(flt_json_add_uint(root, "disk_free_bytes", s->disk_free_bytes));
	CHECK(flt_json_add_uint(root, "max_packet_size", s->max_packet_size));
	CHECK(flt_json_add_uint(root, "agent_version", s->agent_version));
	CHECK(flt_json_add_str(root, "runtime_version", s->runtime_version));
	CHECK(flt_json_add_uint(root, "firmware_version", s->firmware_version));
	rc = FLT_ENOMEM;
	if (!cJSON_AddBoolToObject(root, "clock_synced", s->clock_synced))
		goto out;
	if (!(arr = cJSON_AddArrayToObject(root, "operators")))
		goto out;
	for (size_t i = 0; i < s->n_operators; i++) {
		CHECK(add_obj_to_arr(arr, &o));
		CHECK(flt_json_add_str(o, "domain", s->operators[i].domain));
		CHECK(flt_json_add_str(o, "op_type", s->operators[i].op_type));
		CHECK(flt_json_add_uint(o, "since", s->operators[i].since));
		CHECK(flt_json_add_uint(o, "until", s->operators[i].until));
	}
	rc = FLT_ENOMEM;
	if (!(arr = cJSON_AddArrayToObject(root, "releases")))
		goto out;
	for (size_t i = 0; i < s->n_releases; i++) {
		const struct flt_state_release *r = &s->releases[i];
		CHECK(add_obj_to_arr(arr, &o));
		CHECK(flt_json_add_str(o, "kind", flt_kind_name(r->kind)));
		CHECK(flt_json_add_str(o, "name", r->name));
		rc = FLT_ENOMEM;
		if (!(a2 = cJSON_AddArrayToObject(o, "installed")))
			goto out;
		for (size_t k = 0; k < r->n_installed; k++)
			CHECK(flt_json_push_uint(a2, r->installed[k]));
		CHECK(flt_json_add_uint(o, "active", r->active));
		CHECK(flt_json_add_uint(o, "committed", r->committed));
		if (r->has_deployment) {
			cJSON *d = cJSON_AddObjectToObject(o, "deployment");
			rc = FLT_ENOMEM;
			if (!d)
				goto out;
			CHECK(flt_json_add_str(d, "id", r->deployment_id));
			CHECK(flt_json_add_uint(d, "version", r->deployment_version));
			CHECK(flt_json_add_str(d, "step", flt_step_name(r->step)));
			CHECK(flt_json_add_str(d, "reason", flt_reason_name(r->reason)));
		}
	}
	if (s->has_last_error) {
		rc = FLT_ENOMEM;
		if (!(o = cJSON_AddObjectToObject(root, "last_error")))
			goto out;
		CHECK(flt_json_add_str(o, "reason", flt_reason_name(s->last_error_reason)));
		CHECK(flt_json_add_str(o, "message", s->last_error_message));
	}
	rc = flt_json_print(root, out, len);
out:
	cJSON_Delete(root);
	return rc;
}
