/* The local inference socket's frame codec (docs/inference-socket.md): pure,
 * allocation-free, libc only, so libflotilla compiles it in without flt_common.
 * Decoding never copies: decoded names and tensor data point into the frame. */
#ifndef FLT_SOCKFRAME_H
#define FLT_SOCKFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"

#define FLT_FRAME_MAGIC       0x49544c46u /* "FLTI" as little-endian bytes */
#define FLT_FRAME_VERSION     1
#define FLT_FRAME_HEADER      16 /* bytes */
#define FLT_FRAME_MAX_TENSORS 64
#define FLT_FRAME_MAX_RANK    8
#define FLT_FRAME_NAME_MAX    64   /* model names (flt/ident.h rule, checked by the server) */
#define FLT_FRAME_TNAME_MAX   1024 /* tensor names */
#define FLT_FRAME_MSG_MAX     1024 /* error messages */
#define FLT_FRAME_ALIGN       8    /* tensor data starts at a multiple of 8 from the frame start */

enum flt_frame_type { FLT_FRAME_REQUEST = 1, FLT_FRAME_RESPONSE = 2 };

/* Response status codes (wire values; never renumber). */
enum flt_frame_status {
	FLT_FRAME_OK = 0,
	FLT_FRAME_BAD_REQUEST = 1, /* the frame does not decode */
	FLT_FRAME_NOT_FOUND = 2,   /* no such model, or that version is not active */
	FLT_FRAME_BAD_INPUT = 3,   /* wrong tensor count, name, dtype, shape or size */
	FLT_FRAME_BUSY = 4,        /* queue full or a swap took too long: retry later */
	FLT_FRAME_RUNTIME = 5,     /* the model failed to run */
	FLT_FRAME_TOO_LARGE = 6,   /* request or response over the frame limit */
	FLT_FRAME_INTERNAL = 7,    /* an agent bug or out of memory */
	FLT_FRAME_SHUTDOWN = 8,    /* the agent is stopping */
	FLT_FRAME_STATUS_COUNT_
};

/* Lowercase name of a status ("ok", "busy", ...); "unknown" otherwise. */
const char *flt_frame_status_name(uint32_t status);

struct flt_frame_header {
	uint8_t type;        /* enum flt_frame_type */
	uint32_t request_id; /* chosen by the client, echoed in the response */
	uint32_t body_len;   /* bytes after the header */
};

struct flt_frame_tensor {
	const char *name; /* not NUL-terminated; points into the frame (or the caller's string) */
	size_t name_len;
	int32_t dtype; /* ONNX elem type */
	uint32_t rank;
	int64_t dims[FLT_FRAME_MAX_RANK];
	const void *data; /* size bytes = product(dims) * element size */
	size_t size;
};

struct flt_frame_request {
	const char *model; /* not NUL-terminated */
	size_t model_len;
	uint64_t version; /* 0: whichever is active */
	size_t n_tensors;
	struct flt_frame_tensor tensors[FLT_FRAME_MAX_TENSORS];
};

struct flt_frame_response {
	uint32_t status;  /* enum flt_frame_status */
	uint64_t version; /* the version that answered; 0 when none did */
	size_t n_tensors; /* 0 unless status is OK */
	struct flt_frame_tensor tensors[FLT_FRAME_MAX_TENSORS];
	const char *message; /* not NUL-terminated; empty when OK */
	size_t message_len;
};

/* Bytes of one element of an ONNX elem type the protocol carries; 0 if unknown. */
size_t flt_frame_dtype_size(int32_t dtype);

/* Checks the 16 header bytes at BUF. Errors: FLT_EPARSE (bad magic, unknown
 * type, reserved bits set), FLT_EUNSUPPORTED (other protocol version),
 * FLT_ELIMIT (header + body over MAX_FRAME; nothing should be allocated). */
FLT_WUR flt_err flt_frame_header_decode(const void *buf, uint32_t max_frame,
                                        struct flt_frame_header *h);

/* Decodes a whole request frame (header included) of LEN bytes at FRAME.
 * Every length is checked against the frame; tensors must be a known dtype
 * with data exactly product(dims) * element size; trailing bytes are refused.
 * On failure *why (if non-NULL) is a static one-line reason.
 * Errors: as flt_frame_header_decode, FLT_EPARSE (truncated, inconsistent),
 * FLT_EINVAL (wrong frame type). Out-params set only on success. */
FLT_WUR flt_err flt_frame_decode_request(const void *frame, size_t len, uint32_t max_frame,
                                         struct flt_frame_header *h, struct flt_frame_request *r,
                                         const char **why);

/* As above for a response frame. */
FLT_WUR flt_err flt_frame_decode_response(const void *frame, size_t len, uint32_t max_frame,
                                          struct flt_frame_header *h, struct flt_frame_response *r,
                                          const char **why);

/* Encoded size of a request / response frame; 0 if it cannot be encoded (too
 * many tensors, names too long, sizes inconsistent, over SIZE_MAX/4 GiB). */
size_t flt_frame_request_size(const struct flt_frame_request *r);
size_t flt_frame_response_size(const struct flt_frame_response *r);

/* Encodes into BUF (CAP bytes, at least the size above). Errors: FLT_EINVAL
 * (cannot be encoded), FLT_ELIMIT (CAP too small). *len set on success. */
FLT_WUR flt_err flt_frame_encode_request(uint32_t request_id, const struct flt_frame_request *r,
                                         void *buf, size_t cap, size_t *len);
FLT_WUR flt_err flt_frame_encode_response(uint32_t request_id, const struct flt_frame_response *r,
                                          void *buf, size_t cap, size_t *len);

#endif
