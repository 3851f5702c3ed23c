/* Names and meanings of the reason codes, generated from the one list in
 * flt/reason.h so the enum and its strings cannot drift apart. */
#include <string.h>

#include "flt/reason.h"

static const char *const names[] = {
#define N_(n, m) #n,
    FLT_REASONS(N_)
#undef N_
};

static const char *const meanings[] = {
#define M_(n, m) m,
    FLT_REASONS(M_)
#undef M_
};

const char *flt_reason_name(enum flt_reason r)
{
	if ((unsigned)r >= FLT_REASON_COUNT_)
		return names[FLT_REASON_INTERNAL];
	return names[r];
}

const char *flt_reason_meaning(enum flt_reason r)
{
	if ((unsigned)r >= FLT_REASON_COUNT_)
		return meanings[FLT_REASON_INTERNAL];
	return meanings[r];
}

bool flt_reason_from_name(const char *s, enum flt_reason *out)
{
	if (!s)
		return false;
	for (unsigned i = 0; i < FLT_REASON_COUNT_; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum flt_reason)i;
			return true;
		}
	}
	return false;
}

enum flt_reason flt_reason_from_err(flt_err e)
{
	switch (e) {
	case FLT_OK: return FLT_REASON_NONE;
	case FLT_EPARSE:
	case FLT_EINVAL: return FLT_REASON_MALFORMED;
	case FLT_ELIMIT: return FLT_REASON_TOO_LARGE;
	case FLT_EUNSUPPORTED: return FLT_REASON_UNSUPPORTED_PROTOCOL;
	case FLT_EIO: return FLT_REASON_IO_ERROR;
	default: return FLT_REASON_INTERNAL;
	}
}
