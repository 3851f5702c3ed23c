/* The registry commands' shared front end: option parsing from a table, the
 * common options, exit codes, one-line errors, and JSON or table output. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "flt/alloc.h"
#include "flt/log.h"
#include "model_resolve.h"

static const struct cli_opt common_opts[] = {
    {"data-dir", 0, 1, "DIR", "data directory (default $FLOTILLA_DATA_DIR or /var/lib/flotilla)"},
    {"output", 'o', 1, "json|table", "output format (default table)"},
    {"help", 'h', 0, NULL, "show this help"},
    {0},
};

static void print_opts(FILE *f, const struct cli_opt *o)
{
	for (; o && o->name; o++) {
		char left[64];
		if (o->shrt)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shrt, o->name,
			         o->has_arg ? " " : "", o->has_arg ? o->metavar : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->has_arg ? " " : "",
			         o->has_arg ? o->metavar : "");
		fprintf(f, "  %-28s %s\n", left, o->help);
	}
}

static void help(const struct cli_spec *s)
{
	printf("usage: flotilla %s %s\n\n%s\n\noptions:\n", s->path, s->synopsis, s->about);
	print_opts(stdout, s->opts);
	print_opts(stdout, common_opts);
	printf("\nexit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 conflict, 5 invalid input, "
	       "6 verification refused\n");
}

static const struct cli_opt *find_opt(const struct cli_opt *tab, const char *name, size_t nlen,
                                      char shrt)
{
	for (const struct cli_opt *o = tab; o && o->name; o++) {
		if (shrt ? o->shrt == shrt
		         : (strlen(o->name) == nlen && !strncmp(o->name, name, nlen)))
			return o;
	}
	return NULL;
}

int cli_usage(const struct cli *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "flotilla %s: %s; see 'flotilla %s --help'\n", c->spec->path, msg,
	        c->spec->path);
	return CLI_USAGE;
}

int cli_start(struct cli *c, const struct cli_spec *spec, int argc, char **argv)
{
	memset(c, 0, sizeof(*c));
	c->spec = spec;
	c->data_dir = getenv("FLOTILLA_DATA_DIR");
	if (!c->data_dir || !c->data_dir[0])
		c->data_dir = "/var/lib/flotilla";
	/* The CLI speaks through its one-line errors; library chatter only
	 * when asked for (FLOTILLA_LOG=debug). */
	const char *lvl = getenv("FLOTILLA_LOG");
	int l = lvl ? flt_log_level_parse(lvl) : -1;
	flt_log_set_level(l >= 0 ? (enum flt_log_level)l : FLT_LOG_ERROR);

	int only_pos = 0;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (c->n_pos >= CLI_MAX_POS || c->n_pos >= spec->max_pos)
				return cli_usage(c, "unexpected argument '%s'", a);
			c->pos[c->n_pos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = 1;
			continue;
		}
		const struct cli_opt *o;
		const char *val = NULL;
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
			o = find_opt(spec->opts, name, nlen, 0);
			if (!o)
				o = find_opt(common_opts, name, nlen, 0);
			if (!o)
				return cli_usage(c, "unknown option '%s'", a);
			if (eq) {
				if (!o->has_arg)
					return cli_usage(c, "option '--%s' takes no value",
					                 o->name);
				val = eq + 1;
			}
		} else {
			if (a[2] != '\0')
				return cli_usage(
				    c, "unknown option '%s' (write short options separately)", a);
			o = find_opt(spec->opts, NULL, 0, a[1]);
			if (!o)
				o = find_opt(common_opts, NULL, 0, a[1]);
			if (!o)
				return cli_usage(c, "unknown option '%s'", a);
		}
		if (o->has_arg && !val) {
			if (i + 1 >= argc)
				return cli_usage(c, "option '--%s' needs a value (%s)", o->name,
				                 o->metavar);
			val = argv[++i];
		}
		if (!strcmp(o->name, "help")) {
			help(spec);
			return CLI_OK;
		}
		if (!strcmp(o->name, "data-dir")) {
			if (!val[0])
				return cli_usage(c, "--data-dir is empty");
			c->data_dir = val;
			continue;
		}
		if (!strcmp(o->name, "output")) {
			if (!strcmp(val, "json"))
				c->json = 1;
			else if (!strcmp(val, "table"))
				c->json = 0;
			else
				return cli_usage(c, "-o takes json or table, not '%s'", val);
			continue;
		}
		if (c->n_vals >= CLI_MAX_VALUES)
			return cli_usage(c, "too many options");
		c->vals[c->n_vals].opt = o;
		c->vals[c->n_vals].val = val ? val : "";
		c->n_vals++;
	}
	if (c->n_pos < spec->min_pos)
		return cli_usage(c, "missing argument (usage: flotilla %s %s)", spec->path,
		                 spec->synopsis);
	return CLI_CONTINUE;
}

int cli_end(struct cli *c, int code)
{
	flt_registry_close(c->reg);
	c->reg = NULL;
	fflush(stdout);
	return code;
}

const char *cli_get(const struct cli *c, const char *name)
{
	for (int i = c->n_vals - 1; i >= 0; i--)
		if (!strcmp(c->vals[i].opt->name, name))
			return c->vals[i].val;
	return NULL;
}

int cli_flag(const struct cli *c, const char *name)
{
	return cli_get(c, name) != NULL;
}

int cli_count(const struct cli *c, const char *name)
{
	int n = 0;
	for (int i = 0; i < c->n_vals; i++)
		n += !strcmp(c->vals[i].opt->name, name);
	return n;
}

const char *cli_nth(const struct cli *c, const char *name, int k)
{
	for (int i = 0; i < c->n_vals; i++)
		if (!strcmp(c->vals[i].opt->name, name) && k-- == 0)
			return c->vals[i].val;
	return NULL;
}

int cli_exit_code(flt_err e)
{
	switch (e) {
	case FLT_OK: return CLI_OK;
	case FLT_ENOTFOUND: return CLI_NOTFOUND;
	case FLT_ECONFLICT: return CLI_CONFLICT;
	case FLT_EINVAL:
	case FLT_EPARSE:
	case FLT_EINCOMPAT: return CLI_INVALID;
	case FLT_EVERIFY:
	case FLT_EAUTH: return CLI_REFUSED;
	default: return CLI_FAILURE;
	}
}

int cli_fail(const struct cli *c, flt_err e, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "flotilla %s: %s\n", c->spec->path, msg);
	return cli_exit_code(e);
}

int cli_registry(struct cli *c, int create)
{
	flt_err e = flt_registry_open(c->data_dir, create, &c->reg);
	switch (e) {
	case FLT_OK: return CLI_CONTINUE;
	case FLT_ENOTFOUND:
	case FLT_ECONFLICT:
		/* When creating, these come from making the folder, not from a missing registry. */
		if (create)
			return cli_fail(
			    c, FLT_EIO,
			    "cannot create the data directory '%s' (%s); give --data-dir a "
			    "directory that exists or can be created",
			    c->data_dir, flt_strerror(e));
		return cli_fail(c, e,
		                "no registry in '%s'; register a model first or pass --data-dir",
		                c->data_dir);
	case FLT_EINCOMPAT:
		return cli_fail(
		    c, e, "the registry in '%s' was made by a newer flotilla; upgrade flotilla",
		    c->data_dir);
	case FLT_EPARSE:
		return cli_fail(
		    c, e, "'%s/registry.db' is not a registry database; restore it from a backup",
		    c->data_dir);
	case FLT_EAUTH:
		return cli_fail(
		    c, e, "no permission to use the registry in '%s'; check its owner and mode",
		    c->data_dir);
	case FLT_EBUSY:
		return cli_fail(
		    c, e, "the registry in '%s' stayed locked; retry when other writers finish",
		    c->data_dir);
	default:
		return cli_fail(c, e, "cannot open the registry in '%s': %s", c->data_dir,
		                flt_strerror(e));
	}
}

/* ---- output ---------------------------------------------------------------- */

static void scalar_text(const cJSON *v, char *buf, size_t cap)
{
	if (cJSON_IsString(v)) {
		snprintf(buf, cap, "%s", v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d == floor(d) && fabs(d) < 9.0e15)
			snprintf(buf, cap, "%.0f", d);
		else
			snprintf(buf, cap, "%.6g", d);
	} else if (cJSON_IsBool(v)) {
		snprintf(buf, cap, "%s", cJSON_IsTrue(v) ? "yes" : "no");
	} else if (!v || cJSON_IsNull(v)) {
		snprintf(buf, cap, "-");
	} else if (cJSON_IsArray(v)) {
		size_t off = 0;
		const cJSON *x;
		buf[0] = '\0';
		cJSON_ArrayForEach(x, v)
		{
			char one[256];
			if (cJSON_IsObject(x) || cJSON_IsArray(x)) {
				char *s = cJSON_PrintUnformatted(x);
				snprintf(one, sizeof(one), "%s", s ? s : "?");
				cJSON_free(s);
			} else {
				scalar_text(x, one, sizeof(one));
			}
			int k = snprintf(buf + off, cap - off, "%s%s", off ? "," : "", one);
			if (k < 0 || (size_t)k >= cap - off)
				break;
			off += (size_t)k;
		}
		if (!buf[0])
			snprintf(buf, cap, "-");
	} else {
		size_t off = 0;
		const cJSON *x;
		buf[0] = '\0';
		cJSON_ArrayForEach(x, v)
		{
			char one[256];
			scalar_text(x, one, sizeof(one));
			int k = snprintf(buf + off, cap - off, "%s%s=%s", off ? "," : "", x->string,
			                 one);
			if (k < 0 || (size_t)k >= cap - off)
				break;
			off += (size_t)k;
		}
		if (!buf[0])
			snprintf(buf, cap, "-");
	}
}

static void print_rows(const cJSON *arr, int indent)
{
	const cJSON *first = cJSON_GetArrayItem(arr, 0), *k, *row;
	int ncol = 0, w[32] = {0};
	if (!first) {
		printf("%*s(none)\n", indent, "");
		return;
	}
	if (!cJSON_IsObject(first)) {
		char buf[4096];
		scalar_text(arr, buf, sizeof(buf));
		printf("%*s%s\n", indent, "", buf);
		return;
	}
	cJSON_ArrayForEach(k, first)
	{
		if (ncol < 32)
			w[ncol++] = (int)strlen(k->string);
	}
	cJSON_ArrayForEach(row, arr)
	{
		int i = 0;
		cJSON_ArrayForEach(k, first)
		{
			char buf[1024];
			if (i >= ncol)
				break;
			scalar_text(cJSON_GetObjectItemCaseSensitive(row, k->string), buf,
			            sizeof(buf));
			int l = (int)strlen(buf);
			if (l > w[i])
				w[i] = l > 60 ? 60 : l;
			i++;
		}
	}
	int i = 0;
	printf("%*s", indent, "");
	cJSON_ArrayForEach(k, first)
	{
		if (i >= ncol)
			break;
		char up[128];
		size_t j;
		for (j = 0; k->string[j] && j < sizeof(up) - 1; j++)
			up[j] = (k->string[j] >= 'a' && k->string[j] <= 'z')
			            ? (char)(k->string[j] - 32)
			            : k->string[j];
		up[j] = '\0';
		if (i + 1 < ncol)
			printf("%-*s  ", w[i], up);
		else
			printf("%s\n", up);
		i++;
	}
	cJSON_ArrayForEach(row, arr)
	{
		i = 0;
		printf("%*s", indent, "");
		cJSON_ArrayForEach(k, first)
		{
			char buf[1024];
			if (i >= ncol)
				break;
			scalar_text(cJSON_GetObjectItemCaseSensitive(row, k->string), buf,
			            sizeof(buf));
			if (i + 1 < ncol)
				printf("%-*s  ", w[i], buf);
			else
				printf("%s\n", buf);
			i++;
		}
	}
}

static void print_object(const cJSON *o, int indent)
{
	const cJSON *x;
	cJSON_ArrayForEach(x, o)
	{
		int nested_rows = cJSON_IsArray(x) && cJSON_IsObject(cJSON_GetArrayItem(x, 0));
		int nested_obj = 0;
		if (cJSON_IsObject(x)) {
			const cJSON *y;
			cJSON_ArrayForEach(y, x) nested_obj |=
			    cJSON_IsObject(y) || cJSON_IsArray(y);
		}
		if (nested_rows) {
			printf("%*s%s:\n", indent, "", x->string);
			print_rows(x, indent + 2);
		} else if (nested_obj) {
			printf("%*s%s:\n", indent, "", x->string);
			print_object(x, indent + 2);
		} else {
			char buf[4096];
			scalar_text(x, buf, sizeof(buf));
			printf("%*s%-20s %s\n", indent, "", x->string, buf);
		}
	}
}

int cli_emit(const struct cli *c, cJSON *doc)
{
	if (!doc) {
		fprintf(stderr, "flotilla %s: out of memory while building the output\n",
		        c->spec->path);
		return CLI_FAILURE;
	}
	if (c->json) {
		char *s = cJSON_PrintUnformatted(doc);
		if (!s) {
			cJSON_Delete(doc);
			fprintf(stderr, "flotilla %s: out of memory while printing\n",
			        c->spec->path);
			return CLI_FAILURE;
		}
		fputs(s, stdout);
		fputc('\n', stdout);
		cJSON_free(s);
	} else if (cJSON_IsArray(doc)) {
		print_rows(doc, 0);
	} else {
		print_object(doc, 0);
	}
	cJSON_Delete(doc);
	return CLI_OK;
}

/* ---- small parsers ---------------------------------------------------------- */

flt_err cli_parse_kv(const char *s, struct cli_kv *kv)
{
	const char *eq = s ? strchr(s, '=') : NULL;
	if (!eq || eq == s || (size_t)(eq - s) >= sizeof(kv->key))
		return FLT_EINVAL;
	size_t klen = (size_t)(eq - s), vlen = strlen(eq + 1);
	for (size_t i = 0; i < klen; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-' ||
		      ch == ':' || ch == '/'))
			return FLT_EINVAL;
	}
	if (vlen == 0 || vlen >= sizeof(kv->value))
		return FLT_EINVAL;
	memcpy(kv->key, s, klen);
	kv->key[klen] = '\0';
	memcpy(kv->value, eq + 1, vlen + 1);
	return FLT_OK;
}

flt_err cli_parse_double(const char *s, double *out)
{
	char *end = NULL;
	if (!s || !*s)
		return FLT_EINVAL;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || !end || *end || !isfinite(d))
		return FLT_EINVAL;
	*out = d;
	return FLT_OK;
}

int cli_resolve(struct cli *c, const char *text, struct reg_version *out)
{
	struct flt_model_ref ref;
	if (flt_model_ref_parse(text, &ref) != FLT_OK)
		return cli_fail(
		    c, FLT_EINVAL,
		    "'%s' is not a model reference; write NAME, NAME:VERSION, NAME:latest or "
		    "NAME@alias (names match [a-z0-9][a-z0-9._-]{0,63})",
		    text);
	flt_err e = reg_resolve(c->reg, &ref, out);
	if (e == FLT_ENOTFOUND) {
		switch (ref.kind) {
		case FLT_REF_VERSION:
			return cli_fail(c, e,
			                "model '%s' has no version %" PRId64
			                "; see 'flotilla model list --name %s'",
			                ref.name, ref.version, ref.name);
		case FLT_REF_ALIAS:
			return cli_fail(
			    c, e, "model '%s' has no alias '%s'; see 'flotilla model show %s'",
			    ref.name, ref.alias, ref.name);
		default:
			return cli_fail(c, e,
			                "no live version of model '%s'; see 'flotilla model list'",
			                ref.name);
		}
	}
	if (e)
		return cli_fail(c, e, "cannot resolve '%s': %s", text, flt_strerror(e));
	return CLI_CONTINUE;
}
