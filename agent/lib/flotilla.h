/* libflotilla: the client library a device application links to run models
 * through the local Flotilla agent (Unix socket, docs/inference-socket.md).
 * Depends on libc only. A client is one connection; use one per thread. */
#ifndef FLOTILLA_H
#define FLOTILLA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FLOTILLA_API __attribute__((visibility("default")))
#else
#define FLOTILLA_API
#endif

#define FLOTILLA_DEFAULT_SOCKET "/run/flotilla/agent.sock"
#define FLOTILLA_MAX_RANK       8
#define FLOTILLA_MAX_TENSORS    64

/* ONNX element types carried by the protocol. */
enum flotilla_dtype {
	FLOTILLA_FLOAT = 1,
	FLOTILLA_UINT8 = 2,
	FLOTILLA_INT8 = 3,
	FLOTILLA_UINT16 = 4,
	FLOTILLA_INT16 = 5,
	FLOTILLA_INT32 = 6,
	FLOTILLA_INT64 = 7,
	FLOTILLA_BOOL = 9,
	FLOTILLA_FLOAT16 = 10,
	FLOTILLA_DOUBLE = 11,
	FLOTILLA_UINT32 = 12,
	FLOTILLA_UINT64 = 13,
	FLOTILLA_BFLOAT16 = 16
};

/* Results. 1..8 are the agent's reply status; 100 and up happen in the client. */
enum flotilla_status {
	FLOTILLA_OK = 0,
	FLOTILLA_BAD_REQUEST = 1, /* the agent could not decode the request */
	FLOTILLA_NOT_FOUND = 2,   /* no such model, or that version is not active */
	FLOTILLA_BAD_INPUT = 3,   /* wrong input count, name, dtype, shape or size */
	FLOTILLA_BUSY = 4,        /* the agent is overloaded or swapping: retry later */
	FLOTILLA_RUNTIME = 5,     /* the model failed to run */
	FLOTILLA_TOO_LARGE = 6,   /* request or response over the frame limit */
	FLOTILLA_INTERNAL = 7,    /* an agent error */
	FLOTILLA_SHUTDOWN = 8,    /* the agent is stopping */
	FLOTILLA_EINVAL = 100,    /* bad arguments */
	FLOTILLA_EIO = 101,       /* cannot connect, or the connection broke */
	FLOTILLA_ETIMEOUT = 102,  /* no complete reply within the timeout */
	FLOTILLA_ENOMEM = 103,
	FLOTILLA_EPROTO = 104 /* the reply does not decode */
};

/* A tensor: row-major, contiguous, little-endian. */
struct flotilla_tensor {
	const char *name; /* graph input/output name */
	int32_t dtype;    /* enum flotilla_dtype */
	int32_t rank;     /* 0..FLOTILLA_MAX_RANK */
	int64_t dims[FLOTILLA_MAX_RANK];
	const void *data; /* size bytes: product(dims) * element size */
	size_t size;
};

struct flotilla_result {
	uint64_t version; /* the model version that answered */
	size_t n_outputs;
	struct flotilla_tensor *outputs; /* owned by the result; data 8-byte aligned */
};

typedef struct flotilla_client flotilla_client;

/* Connects to the agent's socket (NULL: FLOTILLA_DEFAULT_SOCKET). TIMEOUT_MS
 * bounds connecting and each whole inference (<= 0: 30000). On success *out
 * is owned by the caller (flotilla_close). Returns FLOTILLA_OK, FLOTILLA_EINVAL,
 * FLOTILLA_EIO, FLOTILLA_ENOMEM. */
FLOTILLA_API int flotilla_connect(const char *socket_path, int timeout_ms, flotilla_client **out);

/* Runs MODEL (version 0: whichever the agent has active) on the inputs
 * (matched by name). On FLOTILLA_OK *out holds the outputs and the answering
 * version (free with flotilla_result_free). Any other result leaves *out
 * untouched and flotilla_last_error says what happened. After EIO, ETIMEOUT or
 * EPROTO the connection is dropped and the next call reconnects. Inputs are
 * borrowed for the call. */
FLOTILLA_API int flotilla_infer(flotilla_client *c, const char *model, uint64_t version,
                                const struct flotilla_tensor *inputs, size_t n_inputs,
                                struct flotilla_result **out);

/* Changes the per-call timeout (<= 0: 30000 ms). */
FLOTILLA_API void flotilla_set_timeout(flotilla_client *c, int timeout_ms);

/* One line describing the last failure on C (never NULL; "" after success). */
FLOTILLA_API const char *flotilla_last_error(const flotilla_client *c);

/* Short name of a status ("ok", "busy", "timeout", ...). */
FLOTILLA_API const char *flotilla_strstatus(int status);

FLOTILLA_API void flotilla_result_free(struct flotilla_result *r);
FLOTILLA_API void flotilla_close(flotilla_client *c);

#ifdef __cplusplus
}
#endif

#endif
