/* Shared pieces of the strict message codecs: opening a payload (size, depth,
 * duplicates, version, allowed keys) and validating text before encoding. */
#include <string.h>

#include "codec.h"
#include "flt/protocol.h"

flt_err codec_open(const char *buf, size_t len, size_t max_bytes, const char *const *allowed,
                   cJSON **root, struct flt_json_err *err)
{
	cJSON *r = NULL;
	flt_err rc;

	if (!root)
		return FLT_EINVAL;
	rc = flt_json_parse_object(buf, len, max_bytes, 0, &r, err);
	if (rc != FLT_OK)
		return rc;
	/* The version decides which keys exist, so it is checked first. */
	rc = flt_json_check_version(r, FLT_PROTOCOL_VERSION, err);
	if (rc == FLT_OK)
		rc = flt_json_check_keys(r, allowed, err);
	if (rc != FLT_OK) {
		cJSON_Delete(r);
		return rc;
	}
	*root = r;
	return FLT_OK;
}

bool codec_text_ok(const char *s, size_t max_len)
{
	size_t n;

	if (!s)
		return false;
	n = strnlen(s, max_len + 1);
	return n <= max_len && flt_json_utf8_valid(s, n);
}

flt_err codec_add(cJSON *obj, const char *key, cJSON *item)
{
	if (!item)
		return FLT_ENOMEM;
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return FLT_ENOMEM;
	}
	return FLT_OK;
}
