/* The project's one error enum and its messages. Foreign error codes (errno,
 * mbedTLS, SQLite, Paho) are translated to these at the adapter that calls the
 * foreign library; detailed reasons that travel to the controller are in reason.h. */
#ifndef FLT_ERROR_H
#define FLT_ERROR_H

#define FLT_WUR __attribute__((warn_unused_result))

typedef enum flt_err {
	FLT_OK = 0,
	FLT_EINVAL,       /* bad argument or input that breaks the rules */
	FLT_EPARSE,       /* bytes that do not parse */
	FLT_ENOMEM,       /* allocation failed or a memory limit was hit */
	FLT_EIO,          /* file or device I/O failed */
	FLT_ENOCONN,      /* no connection to the peer or broker */
	FLT_ETIMEOUT,     /* a deadline passed */
	FLT_EAUTH,        /* identity or permission refused */
	FLT_EVERIFY,      /* a signature, hash or threshold check failed */
	FLT_EINCOMPAT,    /* well-formed but cannot run or apply here */
	FLT_ECONFLICT,    /* clashes with existing state */
	FLT_ENOTFOUND,    /* the named thing does not exist */
	FLT_EUNSUPPORTED, /* a version, operator or feature this build lacks */
	FLT_EBUSY,        /* try again later */
	FLT_ELIMIT,       /* a configured size or count limit was exceeded */
	FLT_EINTERNAL,    /* a bug: an invariant did not hold */
	FLT_ERR_COUNT_
} flt_err;

/* Returns a static, human-readable one-line description; never NULL. */
const char *flt_strerror(flt_err e);

/* Returns the stable lowercase name of an error ("invalid", "parse", ...); never NULL. */
const char *flt_errname(flt_err e);

/* Maps an errno value to the closest flt_err. */
flt_err flt_err_from_errno(int errnum);

#endif
