/* Helpers shared by the message codecs in common/ (private to flt_common). */
#ifndef FLT_COMMON_CODEC_H
#define FLT_COMMON_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/json.h"

/* Early-exit on failure inside a decoder that uses `rc` and `goto out`. */
#define CHECK(expr)                                                                                \
	do {                                                                                       \
		rc = (expr);                                                                       \
		if (rc != FLT_OK)                                                                  \
			goto out;                                                                  \
	} while (0)

/* Makes a validation failure: FLT_EINVAL with a MALFORMED reason. */
#define INVALID(...)                                                                               \
	do {                                                                                       \
		flt_json_errf(err, __VA_ARGS__);                                                   \
		rc = FLT_EINVAL;                                                                   \
		goto out;                                                                          \
	} while (0)

/* Parses a payload into a root object and checks its "v" member and the
 * allowed key list. */
flt_err codec_open(const char *buf, size_t len, size_t max_bytes, const char *const *allowed,
                   cJSON **root, struct flt_json_err *err);

/* Bounded string length check with UTF-8 validity, for validators of
 * structs about to be encoded. */
bool codec_text_ok(const char *s, size_t max_len);

/* Adds `item` to obj (or frees it); FLT_ENOMEM. */
flt_err codec_add(cJSON *obj, const char *key, cJSON *item);

/* Turns a decoder's FLT_EINVAL from a validator into FLT_EPARSE: the struct
 * came from the wire, so it is the input that was malformed. */
static inline flt_err codec_wire_err(flt_err rc)
{
	return rc == FLT_EINVAL ? FLT_EPARSE : rc;
}

#endif
