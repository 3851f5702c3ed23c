/* Config loading: a declared option table applied to a caller's struct by
 * offset; defaults, file, then overrides; every refusal names where and which key.
 * Format and value syntax are documented in flt/conf.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/conf.h"

#define CONF_LINE_MAX 4096
#define CONF_FILE_MAX ((size_t)1 << 20)
#define CONF_NAME_MAX 128

__attribute__((format(printf, 3, 4))) static void errf(char *err, size_t errlen, const char *fmt,
                                                       ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
	       c == '.' || c == '-';
}

static bool name_ok(const char *p, size_t n)
{
	if (n == 0 || n >= CONF_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(p[i]))
			return false;
	return true;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool ieq(const char *a, const char *b)
{
	while (*a && *b && lower(*a) == lower(*b)) {
		a++;
		b++;
	}
	return *a == '\0' && *b == '\0';
}

/* ---- value parsers ---------------------------------------------------------- */

flt_err flt_conf_parse_bool(const char *s, bool *out)
{
	static const char *const t[] = {"true", "yes", "on", "1"};
	static const char *const f[] = {"false", "no", "off", "0"};
	if (!s)
		return FLT_EINVAL;
	for (size_t i = 0; i < 4; i++) {
		if (ieq(s, t[i])) {
			*out = true;
			return FLT_OK;
		}
		if (ieq(s, f[i])) {
			*out = false;
			return FLT_OK;
		}
	}
	return FLT_EINVAL;
}

/* Leading unsigned decimal; *END after the digits. */
static flt_err parse_u64(const char *s, uint64_t *v, const char **end)
{
	uint64_t n = 0;
	const char *p = s;
	if (!is_digit(*p))
		return FLT_EINVAL;
	for (; is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return FLT_ELIMIT;
		n = n * 10 + d;
	}
	*v = n;
	*end = p;
	return FLT_OK;
}

flt_err flt_conf_parse_size(const char *s, uint64_t *out)
{
	uint64_t n, mult = 1;
	const char *p;
	flt_err e;

	if (!s)
		return FLT_EINVAL;
	e = parse_u64(s, &n, &p);
	if (e)
		return e;
	switch (lower(*p)) {
	case 'k':
		mult = (uint64_t)1 << 10;
		p++;
		break;
	case 'm':
		mult = (uint64_t)1 << 20;
		p++;
		break;
	case 'g':
		mult = (uint64_t)1 << 30;
		p++;
		break;
	case 't':
		mult = (uint64_t)1 << 40;
		p++;
		break;
	default: break;
	}
	if (mult > 1 && lower(p[0]) == 'i' && lower(p[1]) == 'b')
		p += 2;
	else if (lower(*p) == 'b')
		p++;
	if (*p)
		return FLT_EINVAL;
	if (n > UINT64_MAX / mult)
		return FLT_ELIMIT;
	*out = n * mult;
	return FLT_OK;
}

flt_err flt_conf_parse_duration(const char *s, int64_t *seconds)
{
	uint64_t n, mult = 1;
	const char *p;
	flt_err e;

	if (!s)
		return FLT_EINVAL;
	e = parse_u64(s, &n, &p);
	if (e)
		return e;
	/* Lowercase only: 'M' could be read as months. */
	switch (*p) {
	case '\0': break;
	case 's': p++; break;
	case 'm':
		mult = 60;
		p++;
		break;
	case 'h':
		mult = 3600;
		p++;
		break;
	case 'd':
		mult = 86400;
		p++;
		break;
	default: return FLT_EINVAL;
	}
	if (*p)
		return FLT_EINVAL;
	if (n > (uint64_t)INT64_MAX / mult)
		return FLT_ELIMIT;
	*seconds = (int64_t)(n * mult);
	return FLT_OK;
}

static flt_err parse_int(const char *s, int64_t *out)
{
	bool neg = *s == '-';
	uint64_t n;
	const char *p;
	flt_err e = parse_u64(s + neg, &n, &p);
	if (e)
		return e;
	if (*p)
		return FLT_EINVAL;
	if (n > (uint64_t)INT64_MAX + neg)
		return FLT_ELIMIT;
	/* Negate in unsigned space so INT64_MIN does not overflow. */
	*out = neg ? (int64_t)(0 - n) : (int64_t)n;
	return FLT_OK;
}

/* ---- applying a value ------------------------------------------------------- */

static const char *type_name(enum flt_conf_type t)
{
	switch (t) {
	case FLT_CONF_STRING: return "string";
	case FLT_CONF_PATH: return "path";
	case FLT_CONF_INT: return "integer";
	case FLT_CONF_BOOL: return "bool";
	case FLT_CONF_DURATION: return "duration";
	case FLT_CONF_SIZE: return "size";
	case FLT_CONF_ENUM: return "enum";
	}
	return "?";
}

static bool has_range(const struct flt_conf_opt *o)
{
	return o->min != 0 || o->max != 0;
}

static void choices_text(const struct flt_conf_opt *o, char *buf, size_t n)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; o->choices && o->choices[i]; i++) {
		int k = snprintf(buf + used, n - used, "%s%s", i ? "|" : "", o->choices[i]);
		if (k < 0 || (size_t)k >= n - used)
			break;
		used += (size_t)k;
	}
}

/* Applies text VAL to O's field; WHERE ("file:12") prefixes messages. */
static flt_err apply_value(const struct flt_conf_opt *o, void *cfg, const char *val,
                           const char *where, char *err, size_t errlen)
{
	unsigned char *field = (unsigned char *)cfg + o->offset;
	flt_err e = FLT_OK;

	switch (o->type) {
	case FLT_CONF_PATH:
		if (!*val) {
			errf(err, errlen, "%s: key '%s': expected a path, got an empty value",
			     where, o->name);
			return FLT_EPARSE;
		}
		for (const char *p = val; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				errf(err, errlen,
				     "%s: key '%s': expected a path, got control characters", where,
				     o->name);
				return FLT_EPARSE;
			}
		}
		/* fall through */
	case FLT_CONF_STRING: {
		char *dup = flt_strdup(val), *old;
		if (!dup) {
			errf(err, errlen, "%s: key '%s': out of memory", where, o->name);
			return FLT_ENOMEM;
		}
		memcpy(&old, field, sizeof(old));
		flt_free(old);
		memcpy(field, &dup, sizeof(dup));
		return FLT_OK;
	}
	case FLT_CONF_INT: {
		int64_t v;
		e = parse_int(val, &v);
		if (e == FLT_OK && has_range(o) && (v < o->min || v > o->max))
			e = FLT_ELIMIT;
		if (e == FLT_OK) {
			memcpy(field, &v, sizeof(v));
			return FLT_OK;
		}
		if (has_range(o))
			errf(err, errlen,
			     "%s: key '%s': expected an integer in [%" PRId64 ", %" PRId64
			     "], got '%.64s'",
			     where, o->name, o->min, o->max, val);
		else
			errf(err, errlen, "%s: key '%s': expected an integer, got '%.64s'", where,
			     o->name, val);
		return e == FLT_ELIMIT ? FLT_ELIMIT : FLT_EPARSE;
	}
	case FLT_CONF_BOOL: {
		bool b;
		if (flt_conf_parse_bool(val, &b) != FLT_OK) {
			errf(err, errlen,
			     "%s: key '%s': expected true or false (yes/no, on/off, 1/0), got "
			     "'%.64s'",
			     where, o->name, val);
			return FLT_EPARSE;
		}
		memcpy(field, &b, sizeof(b));
		return FLT_OK;
	}
	case FLT_CONF_DURATION: {
		int64_t v;
		e = flt_conf_parse_duration(val, &v);
		if (e == FLT_OK && has_range(o) && (v < o->min || v > o->max))
			e = FLT_ELIMIT;
		if (e == FLT_OK) {
			memcpy(field, &v, sizeof(v));
			return FLT_OK;
		}
		if (e == FLT_ELIMIT && has_range(o))
			errf(err, errlen,
			     "%s: key '%s': expected a duration between %" PRId64 "s and %" PRId64
			     "s, got '%.64s'",
			     where, o->name, o->min, o->max, val);
		else
			errf(err, errlen,
			     "%s: key '%s': expected a duration (N seconds, or Ns, Nm, Nh, Nd), "
			     "got '%.64s'",
			     where, o->name, val);
		return e == FLT_ELIMIT ? FLT_ELIMIT : FLT_EPARSE;
	}
	case FLT_CONF_SIZE: {
		uint64_t v;
		e = flt_conf_parse_size(val, &v);
		if (e == FLT_OK && has_range(o) &&
		    ((o->min > 0 && v < (uint64_t)o->min) || o->max < 0 || v > (uint64_t)o->max))
			e = FLT_ELIMIT;
		if (e == FLT_OK) {
			memcpy(field, &v, sizeof(v));
			return FLT_OK;
		}
		if (e == FLT_ELIMIT && has_range(o))
			errf(err, errlen,
			     "%s: key '%s': expected a size between %" PRId64 " and %" PRId64
			     " bytes, got '%.64s'",
			     where, o->name, o->min, o->max, val);
		else
			errf(err, errlen,
			     "%s: key '%s': expected a size (N bytes, or N with K, M, G, T), got "
			     "'%.64s'",
			     where, o->name, val);
		return e == FLT_ELIMIT ? FLT_ELIMIT : FLT_EPARSE;
	}
	case FLT_CONF_ENUM:
		for (int i = 0; o->choices && o->choices[i]; i++) {
			if (strcmp(o->choices[i], val) == 0) {
				memcpy(field, &i, sizeof(i));
				return FLT_OK;
			}
		}
		char list[256];
		choices_text(o, list, sizeof(list));
		errf(err, errlen, "%s: key '%s': expected one of %s, got '%.64s'", where, o->name,
		     list, val);
		return FLT_EPARSE;
	}
	errf(err, errlen, "%s: key '%s': unknown option type", where, o->name);
	return FLT_EINTERNAL;
}

static long find_opt(const struct flt_conf_schema *s, const char *key)
{
	for (size_t i = 0; i < s->nopts; i++)
		if (strcmp(s->opts[i].name, key) == 0)
			return (long)i;
	return -1;
}

/* Unquotes V (length N, already trimmed) into OUT (size >= N+1). False on a
 * malformed quoted value. */
static bool unquote(const char *v, size_t n, char *out)
{
	if (n == 0 || v[0] != '"') {
		memcpy(out, v, n);
		out[n] = '\0';
		return true;
	}
	if (n < 2 || v[n - 1] != '"')
		return false;
	size_t o = 0;
	for (size_t i = 1; i < n - 1; i++) {
		char c = v[i];
		if (c == '"')
			return false;
		if (c == '\\') {
			if (++i >= n - 1)
				return false;
			switch (v[i]) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			default: return false;
			}
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

static void trim(const char **a, const char **b)
{
	while (*a < *b && is_ws(**a))
		(*a)++;
	while (*b > *a && is_ws((*b)[-1]))
		(*b)--;
}

/* ---- public ----------------------------------------------------------------- */

flt_err flt_conf_init(const struct flt_conf_schema *s, void *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, s->size);
	for (size_t i = 0; i < s->nopts; i++) {
		const struct flt_conf_opt *o = &s->opts[i];
		if (!o->def)
			continue;
		flt_err e = apply_value(o, cfg, o->def, "default", err, errlen);
		if (e) {
			flt_conf_free(s, cfg);
			return e == FLT_ENOMEM ? e : FLT_EINTERNAL;
		}
	}
	return FLT_OK;
}

flt_err flt_conf_parse_buf(const struct flt_conf_schema *s, void *cfg, const char *buf, size_t len,
                           const char *source, char *err, size_t errlen)
{
	char line[CONF_LINE_MAX + 1], val[CONF_LINE_MAX + 1];
	char section[CONF_NAME_MAX] = "", key[2 * CONF_NAME_MAX + 1], where[300];
	unsigned long *seen = NULL;
	unsigned long lineno = 0;
	size_t pos = 0;
	flt_err e = FLT_OK;

	if (!source)
		source = "config";
	seen = flt_calloc(s->nopts ? s->nopts : 1, sizeof(*seen));
	if (!seen) {
		errf(err, errlen, "%s: out of memory", source);
		return FLT_ENOMEM;
	}
	while (pos < len) {
		const char *start = buf + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		pos += n + (nl ? 1 : 0);
		lineno++;
		snprintf(where, sizeof(where), "%.200s:%lu", source, lineno);
		if (n > CONF_LINE_MAX) {
			errf(err, errlen, "%s: line longer than %d bytes", where, CONF_LINE_MAX);
			e = FLT_ELIMIT;
			goto out;
		}
		if (memchr(start, '\0', n)) {
			errf(err, errlen, "%s: NUL byte in line", where);
			e = FLT_EPARSE;
			goto out;
		}
		memcpy(line, start, n);
		line[n] = '\0';
		const char *a = line, *b = line + n;
		if (b > a && b[-1] == '\r')
			b--;
		trim(&a, &b);
		if (a == b || *a == '#')
			continue;
		if (*a == '[') {
			if (b[-1] != ']' || !name_ok(a + 1, (size_t)(b - a - 2))) {
				errf(err, errlen,
				     "%s: malformed section header (expected [name] with name of "
				     "[A-Za-z0-9_.-])",
				     where);
				e = FLT_EPARSE;
				goto out;
			}
			memcpy(section, a + 1, (size_t)(b - a - 2));
			section[b - a - 2] = '\0';
			continue;
		}
		const char *eq = memchr(a, '=', (size_t)(b - a));
		if (!eq) {
			errf(err, errlen, "%s: expected 'key = value', got '%.64s'", where, a);
			e = FLT_EPARSE;
			goto out;
		}
		const char *ka = a, *kb = eq, *va = eq + 1, *vb = b;
		trim(&ka, &kb);
		trim(&va, &vb);
		if (!name_ok(ka, (size_t)(kb - ka))) {
			errf(err, errlen, "%s: malformed key '%.*s' (expected [A-Za-z0-9_.-]+)",
			     where, (int)((kb - ka) > 64 ? 64 : (kb - ka)), ka);
			e = FLT_EPARSE;
			goto out;
		}
		snprintf(key, sizeof(key), "%s%s%.*s", section, section[0] ? "." : "",
		         (int)(kb - ka), ka);
		long idx = find_opt(s, key);
		if (idx < 0) {
			errf(err, errlen, "%s: unknown key '%s'", where, key);
			e = FLT_EPARSE;
			goto out;
		}
		if (seen[idx]) {
			errf(err, errlen, "%s: duplicate key '%s' (first set on line %lu)", where,
			     key, seen[idx]);
			e = FLT_EPARSE;
			goto out;
		}
		seen[idx] = lineno;
		if (!unquote(va, (size_t)(vb - va), val)) {
			errf(err, errlen,
			     "%s: key '%s': malformed quoted value (escapes are \\\" \\\\ \\n \\t)",
			     where, key);
			e = FLT_EPARSE;
			goto out;
		}
		e = apply_value(&s->opts[idx], cfg, val, where, err, errlen);
		if (e)
			goto out;
	}
out:
	flt_free(seen);
	return e;
}

flt_err flt_conf_parse_file(const struct flt_conf_schema *s, void *cfg, const char *path, char *err,
                            size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	flt_err e = flt_file_read_all(path, CONF_FILE_MAX, &buf, &len, "conf");
	switch (e) {
	case FLT_OK: break;
	case FLT_ENOTFOUND: errf(err, errlen, "config file '%s' not found", path); return e;
	case FLT_ELIMIT: errf(err, errlen, "config file '%s' is larger than 1 MiB", path); return e;
	case FLT_EINVAL:
		errf(err, errlen, "config file '%s' is not a regular file", path);
		return e;
	default:
		errf(err, errlen, "cannot read config file '%s': %s", path, flt_strerror(e));
		return e;
	}
	e = flt_conf_parse_buf(s, cfg, (const char *)buf, len, path, err, errlen);
	flt_free(buf);
	return e;
}

flt_err flt_conf_set(const struct flt_conf_schema *s, void *cfg, const char *kv, char *err,
                     size_t errlen)
{
	char key[CONF_NAME_MAX], where[CONF_NAME_MAX + 32];
	char *val = NULL;
	flt_err e;

	const char *eq = kv ? strchr(kv, '=') : NULL;
	if (!eq) {
		errf(err, errlen, "override '%.64s': expected key=value", kv ? kv : "");
		return FLT_EINVAL;
	}
	const char *ka = kv, *kb = eq, *va = eq + 1, *vb = eq + 1 + strlen(eq + 1);
	trim(&ka, &kb);
	trim(&va, &vb);
	if (!name_ok(ka, (size_t)(kb - ka))) {
		errf(err, errlen, "override '%.64s': malformed key", kv);
		return FLT_EINVAL;
	}
	memcpy(key, ka, (size_t)(kb - ka));
	key[kb - ka] = '\0';
	snprintf(where, sizeof(where), "override %s", key);
	long idx = find_opt(s, key);
	if (idx < 0) {
		errf(err, errlen, "override: unknown key '%s'", key);
		return FLT_EPARSE;
	}
	val = flt_malloc((size_t)(vb - va) + 1);
	if (!val) {
		errf(err, errlen, "override: out of memory");
		return FLT_ENOMEM;
	}
	if (!unquote(va, (size_t)(vb - va), val)) {
		errf(err, errlen, "%s: malformed quoted value", where);
		e = FLT_EPARSE;
		goto out;
	}
	e = apply_value(&s->opts[idx], cfg, val, where, err, errlen);
out:
	flt_free(val);
	return e;
}

flt_err flt_conf_check(const struct flt_conf_schema *s, const void *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->nopts; i++) {
		const struct flt_conf_opt *o = &s->opts[i];
		if (!(o->flags & FLT_CONF_REQUIRED))
			continue;
		if (o->type != FLT_CONF_STRING && o->type != FLT_CONF_PATH)
			continue;
		const char *v;
		memcpy(&v, (const unsigned char *)cfg + o->offset, sizeof(v));
		if (!v || !*v) {
			errf(err, errlen, "required key '%s' is not set (%s)", o->name,
			     o->help ? o->help : type_name(o->type));
			return FLT_EINVAL;
		}
	}
	return FLT_OK;
}

flt_err flt_conf_load(const struct flt_conf_schema *s, void *cfg, const char *path,
                      const char *const *sets, size_t nsets, char *err, size_t errlen)
{
	void *tmp = flt_malloc(s->size);
	flt_err e;

	if (!tmp) {
		errf(err, errlen, "out of memory");
		return FLT_ENOMEM;
	}
	e = flt_conf_init(s, tmp, err, errlen);
	if (e) {
		flt_free(tmp);
		return e;
	}
	if (path)
		e = flt_conf_parse_file(s, tmp, path, err, errlen);
	for (size_t i = 0; i < nsets && !e; i++)
		e = flt_conf_set(s, tmp, sets[i], err, errlen);
	if (!e)
		e = flt_conf_check(s, tmp, err, errlen);
	if (e)
		flt_conf_free(s, tmp);
	else
		memcpy(cfg, tmp, s->size);
	flt_free(tmp);
	return e;
}

flt_err flt_conf_reload(const struct flt_conf_schema *s, void *cfg, const char *path,
                        const char *const *sets, size_t nsets, char *err, size_t errlen)
{
	void *fresh = flt_malloc(s->size);
	flt_err e;

	if (!fresh) {
		errf(err, errlen, "out of memory");
		return FLT_ENOMEM;
	}
	e = flt_conf_load(s, fresh, path, sets, nsets, err, errlen);
	if (!e) {
		flt_conf_free(s, cfg);
		memcpy(cfg, fresh, s->size);
	}
	flt_free(fresh);
	return e;
}

void flt_conf_free(const struct flt_conf_schema *s, void *cfg)
{
	if (!s || !cfg)
		return;
	for (size_t i = 0; i < s->nopts; i++) {
		const struct flt_conf_opt *o = &s->opts[i];
		if (o->type != FLT_CONF_STRING && o->type != FLT_CONF_PATH)
			continue;
		unsigned char *field = (unsigned char *)cfg + o->offset;
		char *p;
		memcpy(&p, field, sizeof(p));
		flt_free(p);
		p = NULL;
		memcpy(field, &p, sizeof(p));
	}
}

void flt_conf_print_help(const struct flt_conf_schema *s, FILE *out)
{
	for (size_t i = 0; i < s->nopts; i++) {
		const struct flt_conf_opt *o = &s->opts[i];
		char list[256] = "";
		if (o->type == FLT_CONF_ENUM)
			choices_text(o, list, sizeof(list));
		fprintf(out, "  %-28s %s%s%s%s%s%s%s\n", o->name, type_name(o->type),
		        list[0] ? " " : "", list, o->def ? " (default " : "", o->def ? o->def : "",
		        o->def ? ")" : "", o->flags & FLT_CONF_REQUIRED ? " required" : "");
		if (o->help)
			fprintf(out, "      %s\n", o->help);
	}
}
