/* Model names and references (NAME, NAME:VER, NAME:latest, NAME@alias): the
 * one parser every command and the rollout engine share. Pure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flt/ident.h"
#include "flt/registry.h"

/* Names become topic levels, folder and certificate names: the project's one
 * identifier rule (flt/ident.h). */
int flt_registry_name_valid(const char *name)
{
	return flt_ident_valid(name);
}

static int copy_name(char *dst, const char *src, size_t len)
{
	if (len == 0 || len > FLT_REGISTRY_NAME_MAX)
		return 0;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return flt_registry_name_valid(dst);
}

flt_err flt_model_ref_parse(const char *s, struct flt_model_ref *out)
{
	struct flt_model_ref r;
	memset(&r, 0, sizeof(r));
	if (!s)
		return FLT_EINVAL;
	const char *colon = strchr(s, ':'), *at = strchr(s, '@');
	if (colon && at)
		return FLT_EINVAL;
	if (at) {
		if (!copy_name(r.name, s, (size_t)(at - s)) ||
		    !copy_name(r.alias, at + 1, strlen(at + 1)))
			return FLT_EINVAL;
		r.kind = FLT_REF_ALIAS;
	} else if (colon) {
		const char *v = colon + 1;
		if (!copy_name(r.name, s, (size_t)(colon - s)))
			return FLT_EINVAL;
		if (!strcmp(v, "latest")) {
			r.kind = FLT_REF_LATEST;
			r.explicit_latest = 1;
		} else {
			/* Digits only: no sign, no spaces, no leading zeros. */
			if (v[0] < '1' || v[0] > '9' || strlen(v) > 18)
				return FLT_EINVAL;
			for (const char *p = v; *p; p++)
				if (*p < '0' || *p > '9')
					return FLT_EINVAL;
			errno = 0;
			long long n = strtoll(v, NULL, 10);
			if (errno || n < 1)
				return FLT_EINVAL;
			r.kind = FLT_REF_VERSION;
			r.version = (int64_t)n;
		}
	} else {
		if (!copy_name(r.name, s, strlen(s)))
			return FLT_EINVAL;
		r.kind = FLT_REF_LATEST;
	}
	*out = r;
	return FLT_OK;
}

void flt_model_ref_format(const char *name, int64_t version, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s:%lld", name, (long long)version);
}
