/* Strict JSON decoding over cJSON, used by every decoder in Flotilla: bounded
 * size and depth, no duplicate keys, typed getters that refuse wrong types and
 * out-of-range numbers, and a closed list of allowed keys per object. */
#ifndef FLT_JSON_H
#define FLT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "flt/error.h"
#include "flt/ident.h"
#include "flt/reason.h"

/* Deepest nesting any Flotilla message uses is 6; 16 leaves room and keeps
 * recursion bounded. Depth 1 is a flat object or array. */
#define FLT_JSON_MAX_DEPTH 16
/* Largest integer a double holds exactly: 2^53 - 1. */
#define FLT_JSON_MAX_SAFE_INT ((uint64_t)9007199254740991ULL)

/* Why decoding failed: the reason code that travels to the controller
 * (MALFORMED, TOO_LARGE, UNSUPPORTED_PROTOCOL, ...) and a message for logs and
 * events. msg is always NUL-terminated and names the field (unknown keys are
 * quoted with non-printable bytes replaced by '?'). Every decoder in common/
 * fills one of these on failure. */
struct flt_json_err {
	char msg[128];
	enum flt_reason reason;
};

/* Formats `err` and sets its reason to MALFORMED (err may be NULL: then
 * nothing happens). */
void flt_json_errf(struct flt_json_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Same with an explicit reason. */
void flt_json_fail(struct flt_json_err *err, enum flt_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to err->msg (truncating), so nested decoders can say
 * where they were ("artifact: key 'sha256' missing"). err may be NULL. */
void flt_json_err_prefix(struct flt_json_err *err, const char *prefix);

/* Parses exactly `len` bytes at `buf` (need not be NUL-terminated) into a tree.
 * Refuses, before cJSON sees the text: len > max_bytes (FLT_ELIMIT), len == 0,
 * NUL bytes, nesting deeper than max_depth (0 means FLT_JSON_MAX_DEPTH)
 * (FLT_ELIMIT), "\u0000" escapes. After parsing refuses: invalid JSON, trailing
 * bytes other than whitespace, and duplicate keys in any object (FLT_EPARSE).
 * Also FLT_EINVAL for NULL buf/out, FLT_ENOMEM.
 * On success *out is owned by the caller (cJSON_Delete). Strings in it are not
 * yet checked for UTF-8: the typed getters do that. */
FLT_WUR flt_err flt_json_parse(const char *buf, size_t len, size_t max_bytes, int max_depth,
                               cJSON **out, struct flt_json_err *err);

/* Parses like flt_json_parse and additionally requires the root to be an object. */
FLT_WUR flt_err flt_json_parse_object(const char *buf, size_t len, size_t max_bytes, int max_depth,
                                      cJSON **out, struct flt_json_err *err);

/* Every key of `obj` must be in the NULL-terminated list `allowed`. The first
 * unknown key is named in err. FLT_EPARSE if one is unknown or obj is not an object. */
FLT_WUR flt_err flt_json_check_keys(const cJSON *obj, const char *const *allowed,
                                    struct flt_json_err *err);

/* True when `obj` is an object holding `key` (any value, including null). */
bool flt_json_has(const cJSON *obj, const char *key);

/*
 * Typed getters. Two forms:
 *  - flt_json_get_X(obj, key, ...): the key must be present in object `obj`;
 *  - flt_json_X(item, name, ...): checks an item itself (array elements);
 *    `name` only labels errors.
 * Errors: FLT_EPARSE when the key is missing or the value has the wrong type
 * or is out of range; FLT_ELIMIT when a string or array is longer than allowed.
 * Out-params are set only on success. Returned strings and items are borrowed
 * from the tree and live as long as it does.
 */

/* A string of valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF), no NUL,
 * at most max_len bytes. */
FLT_WUR flt_err flt_json_str(const cJSON *item, const char *name, size_t max_len, const char **out,
                             struct flt_json_err *err);
FLT_WUR flt_err flt_json_get_str(const cJSON *obj, const char *key, size_t max_len,
                                 const char **out, struct flt_json_err *err);

/* An integral, non-negative number within 2^53-1 (else FLT_EPARSE), no larger
 * than `max` (else FLT_ELIMIT, reason TOO_LARGE). */
FLT_WUR flt_err flt_json_uint(const cJSON *item, const char *name, uint64_t max, uint64_t *out,
                              struct flt_json_err *err);
FLT_WUR flt_err flt_json_get_uint(const cJSON *obj, const char *key, uint64_t max, uint64_t *out,
                                  struct flt_json_err *err);

/* An integral number within [-(2^53-1), 2^53-1]. */
FLT_WUR flt_err flt_json_int(const cJSON *item, const char *name, int64_t *out,
                             struct flt_json_err *err);
FLT_WUR flt_err flt_json_get_int(const cJSON *obj, const char *key, int64_t *out,
                                 struct flt_json_err *err);

/* A finite number within [min, max]. */
FLT_WUR flt_err flt_json_double(const cJSON *item, const char *name, double min, double max,
                                double *out, struct flt_json_err *err);
FLT_WUR flt_err flt_json_get_double(const cJSON *obj, const char *key, double min, double max,
                                    double *out, struct flt_json_err *err);

FLT_WUR flt_err flt_json_bool(const cJSON *item, const char *name, bool *out,
                              struct flt_json_err *err);
FLT_WUR flt_err flt_json_get_bool(const cJSON *obj, const char *key, bool *out,
                                  struct flt_json_err *err);

/* An object (borrowed). */
FLT_WUR flt_err flt_json_get_obj(const cJSON *obj, const char *key, const cJSON **out,
                                 struct flt_json_err *err);

/* An array of at most max_items items (borrowed); *count gets its length. */
FLT_WUR flt_err flt_json_arr(const cJSON *item, const char *name, size_t max_items,
                             const cJSON **out, size_t *count, struct flt_json_err *err);
FLT_WUR flt_err flt_json_get_arr(const cJSON *obj, const char *key, size_t max_items,
                                 const cJSON **out, size_t *count, struct flt_json_err *err);

/* Copies a string of at most cap-1 bytes (rules of flt_json_str) into dst. */
FLT_WUR flt_err flt_json_get_strbuf(const cJSON *obj, const char *key, char *dst, size_t cap,
                                    struct flt_json_err *err);

/* A string obeying flt_ident_valid (see flt/ident.h), copied into dst. */
FLT_WUR flt_err flt_json_ident(const cJSON *item, const char *name, char dst[FLT_IDENT_MAX + 1],
                               struct flt_json_err *err);
FLT_WUR flt_err flt_json_get_ident(const cJSON *obj, const char *key, char dst[FLT_IDENT_MAX + 1],
                                   struct flt_json_err *err);

/* A SHA-256 as exactly 64 lowercase hex digits, copied into dst (NUL-terminated). */
FLT_WUR flt_err flt_json_get_sha256(const cJSON *obj, const char *key, char dst[65],
                                    struct flt_json_err *err);
bool flt_json_sha256_hex_valid(const char *s);

/* Checks the protocol/schema version member "v" every Flotilla JSON payload
 * carries: missing or ill-typed -> FLT_EPARSE (MALFORMED); any value other
 * than `supported` -> FLT_EUNSUPPORTED (UNSUPPORTED_PROTOCOL). */
FLT_WUR flt_err flt_json_check_version(const cJSON *obj, uint64_t supported,
                                       struct flt_json_err *err);

/* True if the `len` bytes at s are valid UTF-8 (shortest forms, no surrogates,
 * no code point above U+10FFFF). NUL bytes are valid UTF-8; callers that
 * refuse them check separately. */
bool flt_json_utf8_valid(const char *s, size_t len);

/* Encoding helpers: build trees with plain cJSON for objects, arrays, strings
 * and booleans, but add NUMBERS only through these: cJSON 1.7 prints doubles
 * with 15 significant digits, so 2^53-1 would not survive a round trip.
 * They store the number as a cJSON_Raw item (exact decimal text), which only
 * matters if someone reads the tree back before printing it. */

/* Adds an integer member; FLT_EINVAL if |v| > FLT_JSON_MAX_SAFE_INT (a
 * double would not round-trip it), FLT_ENOMEM. */
FLT_WUR flt_err flt_json_add_uint(cJSON *obj, const char *key, uint64_t v);
FLT_WUR flt_err flt_json_add_int(cJSON *obj, const char *key, int64_t v);
/* Adds a finite double in the shortest of 15..17 significant digits that
 * reads back exactly; FLT_EINVAL if not finite. */
FLT_WUR flt_err flt_json_add_double(cJSON *obj, const char *key, double v);
/* Adds a string member (copied); FLT_EINVAL for NULL, FLT_ENOMEM. */
FLT_WUR flt_err flt_json_add_str(cJSON *obj, const char *key, const char *v);
/* Appends to an array; same rules as the add_ forms. */
FLT_WUR flt_err flt_json_push_uint(cJSON *arr, uint64_t v);
FLT_WUR flt_err flt_json_push_int(cJSON *arr, int64_t v);
FLT_WUR flt_err flt_json_push_str(cJSON *arr, const char *v);

/* Prints `root` compactly into a new buffer. On success *out (owned, free
 * with flt_free, NUL-terminated) and *len (without the NUL) are set.
 * FLT_ENOMEM. */
FLT_WUR flt_err flt_json_print(const cJSON *root, char **out, size_t *len);

#endif
