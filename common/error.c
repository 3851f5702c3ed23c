/* Messages and names for the project error enum, and the errno adapter. */
#include <errno.h>

#include "flt/error.h"

static const struct {
	const char *name;
	const char *msg;
} errs[FLT_ERR_COUNT_] = {
    [FLT_OK] = {"ok", "success"},
    [FLT_EINVAL] = {"invalid", "invalid argument or input"},
    [FLT_EPARSE] = {"parse", "malformed data"},
    [FLT_ENOMEM] = {"nomem", "out of memory"},
    [FLT_EIO] = {"io", "input/output error"},
    [FLT_ENOCONN] = {"noconn", "not connected"},
    [FLT_ETIMEOUT] = {"timeout", "timed out"},
    [FLT_EAUTH] = {"auth", "not authorised"},
    [FLT_EVERIFY] = {"verify", "verification failed"},
    [FLT_EINCOMPAT] = {"incompatible", "incompatible with this target"},
    [FLT_ECONFLICT] = {"conflict", "conflicts with existing state"},
    [FLT_ENOTFOUND] = {"notfound", "not found"},
    [FLT_EUNSUPPORTED] = {"unsupported", "not supported"},
    [FLT_EBUSY] = {"busy", "busy, try again"},
    [FLT_ELIMIT] = {"limit", "limit exceeded"},
    [FLT_EINTERNAL] = {"internal", "internal error"},
};

const char *flt_strerror(flt_err e)
{
	if ((unsigned)e >= FLT_ERR_COUNT_)
		return "unknown error";
	return errs[e].msg;
}

const char *flt_errname(flt_err e)
{
	if ((unsigned)e >= FLT_ERR_COUNT_)
		return "unknown";
	return errs[e].name;
}

flt_err flt_err_from_errno(int errnum)
{
	switch (errnum) {
	case 0: return FLT_OK;
	case ENOMEM: return FLT_ENOMEM;
	case ENOENT: return FLT_ENOTFOUND;
	case EEXIST: return FLT_ECONFLICT;
	case EACCES:
	case EPERM: return FLT_EAUTH;
	case EINVAL: return FLT_EINVAL;
	case ETIMEDOUT: return FLT_ETIMEOUT;
	case EAGAIN: return FLT_EBUSY;
	case ENOSPC:
	case EFBIG:
	case EDQUOT: return FLT_ELIMIT;
	case ECONNREFUSED:
	case ENOTCONN:
	case ECONNRESET:
	case EPIPE: return FLT_ENOCONN;
	case ENOSYS:
	case EOPNOTSUPP: return FLT_EUNSUPPORTED;
	default: return FLT_EIO;
	}
}
