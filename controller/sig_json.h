/* Private: input/output signatures as stored in model_versions.signature_json:
 * {"inputs":[{"name","dtype","type","shape":[3,"N",null]}],"outputs":[...]}
 * where a shape entry is a fixed size, a symbol name, or null (unknown), and
 * "shape" itself is null when the rank is unknown. */
#ifndef SIG_JSON_H
#define SIG_JSON_H

#include <cjson/cJSON.h>

#include "flt/runtime.h"

/* Builds the JSON for one side; returns NULL on allocation failure. */
cJSON *sig_json_encode(const struct flt_rt_value_info *v, size_t n);

/* Parses one side (an array node) into a new owned array *out of *n entries.
 * Errors: FLT_EPARSE, FLT_ENOMEM. */
FLT_WUR flt_err sig_json_decode(const cJSON *arr, struct flt_rt_value_info **out, size_t *n);

/* Frees an array from sig_json_decode; accepts NULL. */
void sig_json_free(struct flt_rt_value_info *v, size_t n);

#endif
