/* Strict JSON layer over cJSON: a raw-text pre-pass bounds depth and refuses
 * NUL escapes before cJSON allocates anything, then a tree walk refuses
 * duplicate keys, which cJSON would silently keep. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/ident.h"
#include "flt/json.h"

void flt_json_errf(struct flt_json_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->reason = FLT_REASON_MALFORMED;
}

void flt_json_fail(struct flt_json_err *err, enum flt_reason reason, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->reason = reason;
}

void flt_json_err_prefix(struct flt_json_err *err, const char *prefix)
{
	char tmp[2 * sizeof(err->msg)];
	size_t n;

	if (!err || !prefix)
		return;
	snprintf(tmp, sizeof(tmp), "%.100s: %s", prefix, err->msg);
	n = strnlen(tmp, sizeof(err->msg) - 1);
	memcpy(err->msg, tmp, n);
	err->msg[n] = '\0';
}

/* Copies a key into `dst` for an error message, replacing anything that is not
 * printable ASCII: keys come from the network. */
static void safe_name(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	if (!src)
		src = "(null)";
	for (; src[i] && i + 1 < cap && i < 40; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

bool flt_json_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;
		uint32_t min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* Length of the JSON number at p (grammar of RFC 8259:
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?), or 0 if the text there is not
 * one. cJSON hands numbers to strtod, which would also take "01", "1." or "-"
 * followed by nothing; refusing them keeps one spelling per value closer to
 * the standard every other peer implements. */
static size_t number_len(const char *p, size_t n)
{
	size_t i = 0, d;

	if (i < n && p[i] == '-')
		i++;
	if (i < n && p[i] == '0') {
		i++;
	} else {
		for (d = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++, d++)
			;
		if (d == 0)
			return 0;
	}
	if (i < n && p[i] == '.') {
		i++;
		for (d = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++, d++)
			;
		if (d == 0)
			return 0;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		for (d = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++, d++)
			;
		if (d == 0)
			return 0;
	}
	/* a number must not run straight into more number-like characters */
	if (i < n && ((p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == '+' || p[i] == '-' ||
	              p[i] == 'e' || p[i] == 'E'))
		return 0;
	return i;
}

/* Walks the raw text once: tracks strings so brackets inside them do not
 * count, bounds nesting, refuses NUL bytes, \u0000 (cJSON would cut the
 * string there, so two different texts would decode alike), raw control
 * characters (inside strings JSON forbids them; outside, cJSON would skip them
 * as whitespace) and numbers outside the JSON grammar. */
static flt_err prescan(const char *buf, size_t len, int max_depth, struct flt_json_err *err)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (c == '\0') {
			flt_json_errf(err, "NUL byte at offset %zu", i);
			return FLT_EPARSE;
		}
		if (in_str) {
			if ((unsigned char)c < 0x20) {
				flt_json_errf(err, "control character in string at offset %zu", i);
				return FLT_EPARSE;
			}
			if (c == '\\') {
				if (i + 1 < len && buf[i + 1] == 'u' && len - i >= 6 &&
				    memcmp(buf + i + 2, "0000", 4) == 0) {
					flt_json_errf(err, "\\u0000 in string at offset %zu", i);
					return FLT_EPARSE;
				}
				i++; /* skip the escaped character */
			} else if (c == '"') {
				in_str = false;
			}
			continue;
		}
		if ((unsigned char)c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			flt_json_errf(err, "control character at offset %zu", i);
			return FLT_EPARSE;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max_depth) {
				flt_json_fail(err, FLT_REASON_TOO_LARGE, "nesting deeper than %d",
				              max_depth);
				return FLT_ELIMIT;
			}
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t n = number_len(buf + i, len - i);
			if (n == 0) {
				flt_json_errf(err, "malformed number at offset %zu", i);
				return FLT_EPARSE;
			}
			i += n - 1;
		}
	}
	return FLT_OK;
}

static int cmp_keys(const void *a, const void *b)
{
	const char *const *ka = a;
	const char *const *kb = b;
	return strcmp(*ka, *kb);
}

/* Refuses duplicate keys anywhere in the tree. Depth is already bounded by the
 * pre-pass, so the recursion is too. Small objects are checked pairwise; larger
 * ones are sorted so a hostile object with many keys stays O(n log n). */
static flt_err check_dups(const cJSON *node, struct flt_json_err *err)
{
	const cJSON *c;
	flt_err rc = FLT_OK;

	if (cJSON_IsObject(node)) {
		size_t n = 0;

		for (c = node->child; c; c = c->next) {
			if (!c->string) {
				flt_json_errf(err, "object member without a key");
				return FLT_EPARSE;
			}
			n++;
		}
		if (n <= 8) {
			for (c = node->child; c; c = c->next)
				for (const cJSON *d = c->next; d; d = d->next)
					if (strcmp(c->string, d->string) == 0)
						goto dup;
		} else {
			const char **keys = flt_calloc(n, sizeof(*keys));
			size_t i = 0;

			if (!keys) {
				flt_json_fail(err, FLT_REASON_INTERNAL, "out of memory");
				return FLT_ENOMEM;
			}
			for (c = node->child; c; c = c->next)
				keys[i++] = c->string;
			qsort(keys, n, sizeof(*keys), cmp_keys);
			for (i = 1; i < n; i++) {
				if (strcmp(keys[i - 1], keys[i]) == 0) {
					char name[48];
					safe_name(name, sizeof(name), keys[i]);
					flt_json_errf(err, "duplicate key '%s'", name);
					flt_free(keys);
					return FLT_EPARSE;
				}
			}
			flt_free(keys);
		}
	}
	if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
		for (c = node->child; c; c = c->next) {
			rc = check_dups(c, err);
			if (rc != FLT_OK)
				return rc;
		}
	}
	return FLT_OK;
dup:;
	char name[48];
	safe_name(name, sizeof(name), c->string);
	flt_json_errf(err, "duplicate key '%s'", name);
	return FLT_EPARSE;
}

flt_err flt_json_parse(const char *buf, size_t len, size_t max_bytes, int max_depth, cJSON **out,
                       struct flt_json_err *err)
{
	cJSON *root = NULL;
	const char *end = NULL;
	flt_err rc;

	if (!buf || !out) {
		flt_json_errf(err, "no input");
		return FLT_EINVAL;
	}
	if (max_depth <= 0)
		max_depth = FLT_JSON_MAX_DEPTH;
	if (len > max_bytes) {
		flt_json_fail(err, FLT_REASON_TOO_LARGE, "message of %zu bytes exceeds limit %zu",
		              len, max_bytes);
		return FLT_ELIMIT;
	}
	if (len == 0) {
		flt_json_errf(err, "empty message");
		return FLT_EPARSE;
	}
	rc = prescan(buf, len, max_depth, err);
	if (rc != FLT_OK)
		return rc;
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (!root) {
		/* cJSON reports a failure position but not whether it ran out of
		 * memory; a malformed text is by far the likelier cause. */
		flt_json_errf(err, "invalid JSON");
		return FLT_EPARSE;
	}
	if (end) {
		size_t off = (size_t)(end - buf);
		while (off < len && (buf[off] == ' ' || buf[off] == '\t' || buf[off] == '\n' ||
		                     buf[off] == '\r'))
			off++;
		if (off != len) {
			flt_json_errf(err, "trailing bytes at offset %zu", off);
			rc = FLT_EPARSE;
			goto out;
		}
	}
	rc = check_dups(root, err);
	if (rc != FLT_OK)
		goto out;
	*out = root;
	root = NULL;
out:
	cJSON_Delete(root);
	return rc;
}

flt_err flt_json_parse_object(const char *buf, size_t len, size_t max_bytes, int max_depth,
                              cJSON **out, struct flt_json_err *err)
{
	cJSON *root = NULL;
	flt_err rc = flt_json_parse(buf, len, max_bytes, max_depth, &root, err);

	if (rc != FLT_OK)
		return rc;
	if (!cJSON_IsObject(root)) {
		flt_json_errf(err, "top level is not an object");
		cJSON_Delete(root);
		return FLT_EPARSE;
	}
	*out = root;
	return FLT_OK;
}

flt_err flt_json_check_keys(const cJSON *obj, const char *const *allowed, struct flt_json_err *err)
{
	if (!cJSON_IsObject(obj)) {
		flt_json_errf(err, "not an object");
		return FLT_EPARSE;
	}
	for (const cJSON *c = obj->child; c; c = c->next) {
		bool ok = false;
		for (const char *const *a = allowed; a && *a; a++) {
			if (c->string && strcmp(*a, c->string) == 0) {
				ok = true;
				break;
			}
		}
		if (!ok) {
			char name[48];
			safe_name(name, sizeof(name), c->string);
			flt_json_errf(err, "unknown key '%s'", name);
			return FLT_EPARSE;
		}
	}
	return FLT_OK;
}

bool flt_json_has(const cJSON *obj, const char *key)
{
	return cJSON_IsObject(obj) && key && cJSON_GetObjectItemCaseSensitive(obj, key) != NULL;
}

static const cJSON *lookup(const cJSON *obj, const char *key, struct flt_json_err *err)
{
	const cJSON *v;

	if (!cJSON_IsObject(obj) || !key) {
		flt_json_errf(err, "'%s': parent is not an object", key ? key : "?");
		return NULL;
	}
	v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v)
		flt_json_errf(err, "missing key '%s'", key);
	return v;
}

flt_err flt_json_str(const cJSON *item, const char *name, size_t max_len, const char **out,
                     struct flt_json_err *err)
{
	size_t len;

	if (!cJSON_IsString(item) || !item->valuestring) {
		flt_json_errf(err, "'%s' is not a string", name);
		return FLT_EPARSE;
	}
	/* Bounded scan: a value longer than max_len is refused without reading it all. */
	len = strnlen(item->valuestring, max_len + 1);
	if (len > max_len) {
		flt_json_fail(err, FLT_REASON_TOO_LARGE, "'%s' longer than %zu bytes", name,
		              max_len);
		return FLT_ELIMIT;
	}
	if (!flt_json_utf8_valid(item->valuestring, len)) {
		flt_json_errf(err, "'%s' is not valid UTF-8", name);
		return FLT_EPARSE;
	}
	*out = item->valuestring;
	return FLT_OK;
}

flt_err flt_json_get_str(const cJSON *obj, const char *key, size_t max_len, const char **out,
                         struct flt_json_err *err)
{
	const cJSON *v = lookup(obj, key, err);
	return v ? flt_json_str(v, key, max_len, out, err) : FLT_EPARSE;
}

/* True if d is a whole number in [-(2^53-1), 2^53-1]. */
static bool safe_integral(double d)
{
	const double lim = 9007199254740991.0;
	return isfinite(d) && d >= -lim && d <= lim && floor(d) == d;
}

flt_err flt_json_uint(const cJSON *item, const char *name, uint64_t max, uint64_t *out,
                      struct flt_json_err *err)
{
	double d;
	uint64_t v;

	if (!cJSON_IsNumber(item)) {
		flt_json_errf(err, "'%s' is not a number", name);
		return FLT_EPARSE;
	}
	d = item->valuedouble;
	if (!safe_integral(d)) {
		flt_json_errf(err, "'%s' is not an integer within 2^53-1", name);
		return FLT_EPARSE;
	}
	if (d < 0) {
		flt_json_errf(err, "'%s' is negative", name);
		return FLT_EPARSE;
	}
	v = (uint64_t)d;
	if (v > max) {
		flt_json_fail(err, FLT_REASON_TOO_LARGE, "'%s' above %llu", name,
		              (unsigned long long)max);
		return FLT_ELIMIT;
	}
	*out = v;
	return FLT_OK;
}

flt_err flt_json_get_uint(const cJSON *obj, const char *key, uint64_t max, uint64_t *out,
                          struct flt_json_err *err)
{
	const cJSON *v = lookup(obj, key, err);
	return v ? flt_json_uint(v, key, max, out, err) : FLT_EPARSE;
}

flt_err flt_json_int(const cJSON *item, const char *name, int64_t *out, struct flt_json_err *err)
{
	if (!cJSON_IsNumber(item)) {
		flt_json_errf(err, "'%s' is not a number", name);
		return FLT_EPARSE;
	}
	if (!safe_integral(item->valuedouble)) {
		flt_json_errf(err, "'%s' is not an integer within +-(2^53-1)", name);
		return FLT_EPARSE;
	}
	*out = (int64_t)item->valuedouble;
	return FLT_OK;
}

flt_err flt_json_get_int(const cJSON *obj, const char *key, int64_t *out, struct flt_json_err *err)
{
	const cJSON *v = lookup(obj, key, err);
	return v ? flt_json_int(v, key, out, err) : FLT_EPARSE;
}

flt_err flt_json_double(const cJSON *item, const char *name, double min, double max, double *out,
                        struct flt_json_err *err)
{
	double d;

	if (!cJSON_IsNumber(item)) {
		flt_json_errf(err, "'%s' is not a number", name);
		return FLT_EPARSE;
	}
	d = item->valuedouble;
	if (!isfinite(d) || d < min || d > max) {
		flt_json_errf(err, "'%s' out of range [%g, %g]", name, min, max);
		return FLT_EPARSE;
	}
	*out = d;
	return FLT_OK;
}

flt_err flt_json_get_double(const cJSON *obj, const char *key, double min, double max, double *out,
                            struct flt_json_err *err)
{
	const cJSON *v = lookup(obj, key, err);
	return v ? flt_json_double(v, key, min, max, out, err) : FLT_EPARSE;
}

flt_err flt_json_bool(const cJSON *item, const char *name, bool *out, struct flt_json_err *err)
{
	if (!cJSON_IsBool(item)) {
		flt_json_errf(err, "'%s' is not a boolean", name);
		return FLT_EPARSE;
	}
	*out = cJSON_IsTrue(item);
	return FLT_OK;
}

flt_err flt_json_get_bool(const cJSON *obj, const char *key, bool *out, struct flt_json_err *err)
{
	const cJSON *v = lookup(obj, key, err);
	return v ? flt_json_bool(v, key, out, err) : FLT_EPARSE;
}

flt_err flt_json_get_obj(const cJSON *obj, const char *key, const cJSON **out,
                         struct flt_json_err *err)
{
	const cJSON *v = lookup(obj, key, err);

	if (!v)
		return FLT_EPARSE;
	if (!cJSON_IsObject(v)) {
		flt_json_errf(err, "'%s' is not an object", key);
		return FLT_EPARSE;
	}
	*out = v;
	return FLT_OK;
}

flt_err flt_json_arr(const cJSON *item, const char *name, size_t max_items, const cJSON **out,
                     size_t *count, struct flt_json_err *err)
{
	size_t n = 0;

	if (!cJSON_IsArray(item)) {
		flt_json_errf(err, "'%s' is not an array", name);
		return FLT_EPARSE;
	}
	for (const cJSON *c = item->child; c; c = c->next) {
		if (++n > max_items) {
			flt_json_fail(err, FLT_REASON_TOO_LARGE, "'%s' has more than %zu items",
			              name, max_items);
			return FLT_ELIMIT;
		}
	}
	*out = item;
	if (count)
		*count = n;
	return FLT_OK;
}

flt_err flt_json_get_arr(const cJSON *obj, const char *key, size_t max_items, const cJSON **out,
                         size_t *count, struct flt_json_err *err)
{
	const cJSON *v = lookup(obj, key, err);
	return v ? flt_json_arr(v, key, max_items, out, count, err) : FLT_EPARSE;
}

/* cJSON 1.7 prints numbers with %1.15g and accepts the result if it reads back
 * within a relative epsilon, so 2^53-1 would come out as 9.00719925474099e+15.
 * Numbers are therefore written as raw text we format ourselves. */
static flt_err add_raw(cJSON *obj, const char *key, const char *text)
{
	return cJSON_AddRawToObject(obj, key, text) ? FLT_OK : FLT_ENOMEM;
}

flt_err flt_json_add_uint(cJSON *obj, const char *key, uint64_t v)
{
	char buf[32];

	if (v > FLT_JSON_MAX_SAFE_INT)
		return FLT_EINVAL;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return add_raw(obj, key, buf);
}

flt_err flt_json_add_int(cJSON *obj, const char *key, int64_t v)
{
	char buf[32];

	if (v > (int64_t)FLT_JSON_MAX_SAFE_INT || v < -(int64_t)FLT_JSON_MAX_SAFE_INT)
		return FLT_EINVAL;
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return add_raw(obj, key, buf);
}

flt_err flt_json_add_double(cJSON *obj, const char *key, double v)
{
	char buf[40];

	if (!isfinite(v))
		return FLT_EINVAL;
	/* The shortest of 15..17 significant digits that reads back as the same
	 * double: 0.05 stays "0.05", and every value still round-trips exactly.
	 * The C locale is assumed, as cJSON's own parser assumes it. */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return add_raw(obj, key, buf);
}

static flt_err item_raw(cJSON *arr, const char *text)
{
	cJSON *it = cJSON_CreateRaw(text);

	if (!it)
		return FLT_ENOMEM;
	if (!cJSON_AddItemToArray(arr, it)) {
		cJSON_Delete(it);
		return FLT_ENOMEM;
	}
	return FLT_OK;
}

flt_err flt_json_push_uint(cJSON *arr, uint64_t v)
{
	char buf[32];

	if (v > FLT_JSON_MAX_SAFE_INT)
		return FLT_EINVAL;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return item_raw(arr, buf);
}

flt_err flt_json_push_int(cJSON *arr, int64_t v)
{
	char buf[32];

	if (v > (int64_t)FLT_JSON_MAX_SAFE_INT || v < -(int64_t)FLT_JSON_MAX_SAFE_INT)
		return FLT_EINVAL;
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return item_raw(arr, buf);
}

flt_err flt_json_push_str(cJSON *arr, const char *v)
{
	cJSON *it;

	if (!v)
		return FLT_EINVAL;
	it = cJSON_CreateString(v);
	if (!it)
		return FLT_ENOMEM;
	if (!cJSON_AddItemToArray(arr, it)) {
		cJSON_Delete(it);
		return FLT_ENOMEM;
	}
	return FLT_OK;
}

flt_err flt_json_add_str(cJSON *obj, const char *key, const char *v)
{
	if (!v)
		return FLT_EINVAL;
	return cJSON_AddStringToObject(obj, key, v) ? FLT_OK : FLT_ENOMEM;
}

flt_err flt_json_print(const cJSON *root, char **out, size_t *len)
{
	char *p = cJSON_PrintUnformatted(root);
	char *copy;
	size_t n;

	if (!p)
		return FLT_ENOMEM;
	n = strlen(p);
	/* Hand back memory from our allocator so callers free everything alike. */
	copy = flt_memdup(p, n + 1);
	cJSON_free(p);
	if (!copy)
		return FLT_ENOMEM;
	*out = copy;
	*len = n;
	return FLT_OK;
}

flt_err flt_json_get_strbuf(const cJSON *obj, const char *key, char *dst, size_t cap,
                            struct flt_json_err *err)
{
	const char *s = NULL;
	flt_err rc;
	size_t n;

	if (!dst || cap == 0)
		return FLT_EINVAL;
	rc = flt_json_get_str(obj, key, cap - 1, &s, err);
	if (rc != FLT_OK)
		return rc;
	n = strlen(s);
	memcpy(dst, s, n + 1);
	return FLT_OK;
}

flt_err flt_json_ident(const cJSON *item, const char *name, char dst[FLT_IDENT_MAX + 1],
                       struct flt_json_err *err)
{
	const char *s = NULL;
	flt_err rc = flt_json_str(item, name, FLT_IDENT_MAX, &s, err);

	if (rc != FLT_OK)
		return rc;
	if (!flt_ident_valid(s)) {
		flt_json_errf(err, "'%s' is not a valid identifier", name);
		return FLT_EPARSE;
	}
	memcpy(dst, s, strlen(s) + 1);
	return FLT_OK;
}

flt_err flt_json_get_ident(const cJSON *obj, const char *key, char dst[FLT_IDENT_MAX + 1],
                           struct flt_json_err *err)
{
	const cJSON *v = lookup(obj, key, err);
	return v ? flt_json_ident(v, key, dst, err) : FLT_EPARSE;
}

bool flt_json_sha256_hex_valid(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		if (i >= 64 || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return i == 64;
}

flt_err flt_json_get_sha256(const cJSON *obj, const char *key, char dst[65],
                            struct flt_json_err *err)
{
	const char *s = NULL;
	flt_err rc = flt_json_get_str(obj, key, 64, &s, err);

	if (rc != FLT_OK)
		return rc;
	if (!flt_json_sha256_hex_valid(s)) {
		flt_json_errf(err, "'%s' is not 64 lowercase hex digits", key);
		return FLT_EPARSE;
	}
	memcpy(dst, s, 65);
	return FLT_OK;
}

flt_err flt_json_check_version(const cJSON *obj, uint64_t supported, struct flt_json_err *err)
{
	uint64_t v = 0;
	flt_err rc = flt_json_get_uint(obj, "v", FLT_JSON_MAX_SAFE_INT, &v, err);

	if (rc != FLT_OK)
		return FLT_EPARSE;
	if (v != supported) {
		flt_json_fail(err, FLT_REASON_UNSUPPORTED_PROTOCOL,
		              "protocol version %llu not supported (want %llu)",
		              (unsigned long long)v, (unsigned long long)supported);
		return FLT_EUNSUPPORTED;
	}
	return FLT_OK;
}
