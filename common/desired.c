/* Desired-state codec. The release envelopes inside are kept as text: their
 * signatures cover the base64-decoded payload, so re-printing the JSON wrapper
 * changes nothing that is verified. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "flt/alloc.h"
#include "flt/desired.h"

static const char *const top_keys[] = {"v", "device_id", "serial", "issued_at", "entries", NULL};
static const char *const entry_keys[] = {"kind",     "name",      "deployment_id",
                                         "envelope", "probation", NULL};
static const char *const prob_keys[] = {"probation_s", "max_error_rate", "max_crashes", NULL};

void flt_desired_free(struct flt_desired *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_entries; i++)
		flt_free(d->entries[i].envelope);
	flt_free(d->entries);
	flt_free(d);
}

const struct flt_desired_entry *flt_desired_find(const struct flt_desired *d, enum flt_kind kind,
                                                 const char *name)
{
	for (size_t i = 0; d && name && i < d->n_entries; i++)
		if (d->entries[i].kind == kind && strcmp(d->entries[i].name, name) == 0)
			return &d->entries[i];
	return NULL;
}

flt_err flt_desired_validate(const struct flt_desired *d, struct flt_json_err *err)
{
	flt_err rc = FLT_OK;

	if (!d)
		INVALID("no desired state");
	if (!flt_ident_device_valid(d->device_id))
		INVALID("'device_id' is not a valid device id");
	if (d->serial < 1 || d->serial > FLT_JSON_MAX_SAFE_INT)
		INVALID("'serial' must be 1..2^53-1");
	if (d->issued_at < 0 || d->issued_at > (int64_t)FLT_JSON_MAX_SAFE_INT)
		INVALID("'issued_at' out of range");
	if (d->n_entries > FLT_MAX_DESIRED_ENTRIES || (d->n_entries && !d->entries))
		INVALID("too many entries");
	for (size_t i = 0; i < d->n_entries; i++) {
		const struct flt_desired_entry *e = &d->entries[i];

		if ((unsigned)e->kind >= FLT_KIND_COUNT_ || !flt_ident_valid(e->name) ||
		    !flt_ident_valid(e->deployment_id))
			INVALID("entries[%zu]: bad kind, name or deployment_id", i);
		if (!e->envelope || e->envelope_len == 0 ||
		    e->envelope_len > FLT_MAX_ENVELOPE_BYTES ||
		    strnlen(e->envelope, e->envelope_len + 1) != e->envelope_len)
			INVALID("entries[%zu]: bad envelope text", i);
		if (e->probation.probation_s > FLT_DESIRED_MAX_PROBATION_S ||
		    e->probation.max_crashes > FLT_DESIRED_MAX_CRASHES ||
		    !isfinite(e->probation.max_error_rate) || e->probation.max_error_rate < 0 ||
		    e->probation.max_error_rate > 1)
			INVALID("entries[%zu]: probation limits out of range", i);
		for (size_t j = 0; j < i; j++)
			if (d->entries[j].kind == e->kind &&
			    strcmp(d->entries[j].name, e->name) == 0)
				INVALID("entries[%zu]: %s %s listed twice", i,
				        flt_kind_name(e->kind), e->name);
	}
out:
	return rc;
}

static flt_err read_entry(const cJSON *it, struct flt_desired_entry *e, struct flt_json_err *err)
{
	const cJSON *p = NULL;
	const char *s = NULL;
	char *env = NULL;
	flt_err rc = FLT_OK;

	if (!cJSON_IsObject(it))
		INVALID("not an object");
	CHECK(flt_json_check_keys(it, entry_keys, err));
	CHECK(flt_json_get_str(it, "kind", 16, &s, err));
	if (!flt_kind_from_name(s, &e->kind))
		INVALID("unknown kind");
	CHECK(flt_json_get_ident(it, "name", e->name, err));
	CHECK(flt_json_get_ident(it, "deployment_id", e->deployment_id, err));
	CHECK(flt_json_get_obj(it, "envelope", &p, err));
	env = cJSON_PrintUnformatted(p);
	if (!env) {
		rc = FLT_ENOMEM;
		goto out;
	}
	e->envelope_len = strlen(env);
	if (e->envelope_len > FLT_MAX_ENVELOPE_BYTES) {
		flt_json_fail(err, FLT_REASON_TOO_LARGE, "envelope larger than %u bytes",
		              FLT_MAX_ENVELOPE_BYTES);
		rc = FLT_ELIMIT;
		goto out;
	}
	e->envelope = flt_memdup(env, e->envelope_len + 1);
	if (!e->envelope) {
		rc = FLT_ENOMEM;
		goto out;
	}
	CHECK(flt_json_get_obj(it, "probation", &p, err));
	CHECK(flt_json_check_keys(p, prob_keys, err));
	CHECK(flt_json_get_uint(p, "probation_s", FLT_DESIRED_MAX_PROBATION_S,
	                        &e->probation.probation_s, err));
	CHECK(flt_json_get_double(p, "max_error_rate", 0, 1, &e->probation.max_error_rate, err));
	CHECK(flt_json_get_uint(p, "max_crashes", FLT_DESIRED_MAX_CRASHES,
	                        &e->probation.max_crashes, err));
out:
	cJSON_free(env);
	return rc;
}

flt_err flt_desired_parse(const char *buf, size_t len, struct flt_desired **out,
                          struct flt_json_err *err)
{
	cJSON *root = NULL;
	const cJSON *arr = NULL, *it;
	struct flt_desired *d = NULL;
	size_t n = 0;
	flt_err rc;

	if (!out)
		return FLT_EINVAL;
	rc = codec_open(buf, len, FLT_MAX_DESIRED_BYTES, top_keys, &root, err);
	if (rc != FLT_OK)
		return rc;
	d = flt_calloc(1, sizeof(*d));
	if (!d) {
		rc = FLT_ENOMEM;
		goto out;
	}
	CHECK(flt_json_get_ident(root, "device_id", d->device_id, err));
	CHECK(flt_json_get_uint(root, "serial", FLT_JSON_MAX_SAFE_INT, &d->serial, err));
	CHECK(flt_json_get_int(root, "issued_at", &d->issued_at, err));
	CHECK(flt_json_get_arr(root, "entries", FLT_MAX_DESIRED_ENTRIES, &arr, &n, err));
	if (n && !(d->entries = flt_calloc(n, sizeof(*d->entries)))) {
		rc = FLT_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(it, arr)
	{
		/* counted before reading so a failure frees what was read */
		size_t i = d->n_entries++;
		rc = read_entry(it, &d->entries[i], err);
		if (rc != FLT_OK) {
			char where[32];
			snprintf(where, sizeof(where), "entries[%zu]", i);
			flt_json_err_prefix(err, where);
			goto out;
		}
	}
	CHECK(flt_desired_validate(d, err));
	*out = d;
	d = NULL;
out:
	cJSON_Delete(root);
	flt_desired_free(d);
	return codec_wire_err(rc);
}

flt_err flt_desired_encode(const struct flt_desired *d, char **out, size_t *len)
{
	cJSON *root = NULL, *arr;
	flt_err rc;

	if (!out || !len)
		return FLT_EINVAL;
	rc = flt_desired_validate(d, NULL);
	if (rc != FLT_OK)
		return rc;
	root = cJSON_CreateObject();
	if (!root)
		return FLT_ENOMEM;
	CHECK(flt_json_add_uint(root, "v", FLT_PROTOCOL_VERSION));
	CHECK(flt_json_add_str(root, "device_id", d->device_id));
	CHECK(flt_json_add_uint(root, "serial", d->serial));
	CHECK(flt_json_add_int(root, "issued_at", d->issued_at));
	arr = cJSON_AddArrayToObject(root, "entries");
	if (!arr) {
		rc = FLT_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < d->n_entries; i++) {
		const struct flt_desired_entry *e = &d->entries[i];
		cJSON *o = cJSON_CreateObject(), *env = NULL, *p;

		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			rc = FLT_ENOMEM;
			goto out;
		}
		CHECK(flt_json_add_str(o, "kind", flt_kind_name(e->kind)));
		CHECK(flt_json_add_str(o, "name", e->name));
		CHECK(flt_json_add_str(o, "deployment_id", e->deployment_id));
		rc = flt_json_parse_object(e->envelope, e->envelope_len, FLT_MAX_ENVELOPE_BYTES, 0,
		                           &env, NULL);
		if (rc != FLT_OK) {
			rc = rc == FLT_ENOMEM ? rc : FLT_EINVAL;
			goto out;
		}
		CHECK(codec_add(o, "envelope", env));
		p = cJSON_AddObjectToObject(o, "probation");
		if (!p) {
			rc = FLT_ENOMEM;
			goto out;
		}
		CHECK(flt_json_add_uint(p, "probation_s", e->probation.probation_s));
		CHECK(flt_json_add_double(p, "max_error_rate", e->probation.max_error_rate));
		CHECK(flt_json_add_uint(p, "max_crashes", e->probation.max_crashes));
	}
	rc = flt_json_print(root, out, len);
out:
	cJSON_Delete(root);
	return rc;
}
