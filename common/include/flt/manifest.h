/* The release manifest: the payload of a release envelope (payloadType
 * FLT_PAYLOAD_RELEASE). Decoded strictly from bytes the envelope signature
 * already covered, encoded by the controller when it signs a release. */
#ifndef FLT_MANIFEST_H
#define FLT_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/ident.h"
#include "flt/json.h"
#include "flt/protocol.h"

enum flt_kind { FLT_KIND_MODEL = 0, FLT_KIND_AGENT, FLT_KIND_FIRMWARE, FLT_KIND_COUNT_ };

/* "model", "agent", "firmware"; "?" when out of range. */
const char *flt_kind_name(enum flt_kind k);
/* Sets *out and returns true for a known name. */
bool flt_kind_from_name(const char *s, enum flt_kind *out);

#define FLT_MANIFEST_MAX_OPSETS      32
#define FLT_MANIFEST_MAX_OPERATORS   512
#define FLT_MANIFEST_MAX_TENSORS     32 /* inputs, and outputs, each */
#define FLT_MANIFEST_MAX_RANK        8
#define FLT_MANIFEST_MAX_BOARDS      16
#define FLT_MANIFEST_MAX_DOMAIN      128 /* ONNX domain names, e.g. "ai.onnx.ml" */
#define FLT_MANIFEST_MAX_OPTYPE      64
#define FLT_MANIFEST_MAX_FORMAT      32
#define FLT_MANIFEST_MAX_TENSOR_NAME 128
#define FLT_MANIFEST_MAX_DIM_PARAM   64
#define FLT_MANIFEST_MAX_CHUNK_SIZE  (16u * 1024u * 1024u)
/* Agent releases are named FLT_AGENT_RELEASE_PREFIX + arch. */
#define FLT_AGENT_RELEASE_PREFIX "flotilla-agent-"

struct flt_opset {
	char domain[FLT_MANIFEST_MAX_DOMAIN + 1]; /* "" is the default ai.onnx domain */
	uint64_t version;
};

struct flt_operator {
	char domain[FLT_MANIFEST_MAX_DOMAIN + 1];
	char op_type[FLT_MANIFEST_MAX_OPTYPE + 1];
};

/* One dimension: a fixed size (param[0] == '\0', value >= 0) or a symbolic
 * name (param set, value = -1). */
struct flt_dim {
	int64_t value;
	char param[FLT_MANIFEST_MAX_DIM_PARAM + 1];
};

struct flt_tensor_sig {
	char name[FLT_MANIFEST_MAX_TENSOR_NAME + 1];
	uint32_t dtype; /* ONNX TensorProto.DataType (FLOAT = 1, ...; 0 = undefined), <= 64 */
	int32_t rank;   /* -1: shape unknown (wire: "shape" absent) */
	struct flt_dim dims[FLT_MANIFEST_MAX_RANK];
};

struct flt_manifest {
	enum flt_kind kind;
	char name[FLT_IDENT_MAX + 1];
	uint64_t version;              /* >= 1, grows per name */
	char label[FLT_MAX_LABEL + 1]; /* free text, may be "" */

	uint64_t artifact_size; /* >= 1 */
	char artifact_sha256[65];

	uint32_t chunk_size; /* 1..FLT_MANIFEST_MAX_CHUNK_SIZE */
	uint32_t
	    chunk_count; /* = ceil(artifact_size / chunk_size); on the wire for cross-checking */
	char chunk_index_sha256[65];
	uint64_t chunk_index_size; /* = FLT_CHUNK_INDEX_HEADER_LEN + 32 * chunk_count */

	/* runtime needs; has_runtime is true for every model (false for agent/firmware) */
	bool has_runtime;
	char format[FLT_MANIFEST_MAX_FORMAT + 1]; /* "onnx" or "generic" */
	uint64_t ir_version;                      /* 0 for generic */
	struct flt_opset *opsets;                 /* owned array */
	size_t n_opsets;
	struct flt_operator *operators; /* owned array */
	size_t n_operators;
	uint64_t peak_memory;         /* bytes; 0 = unknown */
	char arch[FLT_IDENT_MAX + 1]; /* "any", "aarch64", "armhf", "x86_64" */

	struct flt_tensor_sig *inputs; /* owned array (models only) */
	size_t n_inputs;
	struct flt_tensor_sig *outputs; /* owned array */
	size_t n_outputs;

	uint64_t latency_ms_max;                                 /* 0 = no limit */
	char boards[FLT_MANIFEST_MAX_BOARDS][FLT_IDENT_MAX + 1]; /* compatible boards; none = any */
	size_t n_boards;
	uint64_t min_firmware_version; /* 0 = any */
	uint64_t min_agent_version;    /* 0 = any */

	bool has_golden;
	char golden_sha256[65];
	uint64_t golden_size;
	double golden_rtol, golden_atol; /* finite, >= 0 */

	uint64_t rollback_of; /* lineage: version this re-signs; 0 = none */

	int64_t issued_at, expires_at; /* Unix seconds; expires_at > issued_at */
};

/* Decodes a manifest (at most FLT_MAX_MANIFEST_BYTES). Every key is checked:
 * unknown keys, missing required ones, wrong types, duplicates, nesting,
 * numbers above 2^53-1, invalid identifiers, chunk count not matching size
 * and chunk size, agent release not named flotilla-agent-<arch>.
 * Errors: FLT_EPARSE (MALFORMED), FLT_ELIMIT (TOO_LARGE), FLT_EUNSUPPORTED
 * (UNSUPPORTED_PROTOCOL), FLT_EINVAL (NULL args), FLT_ENOMEM; err (may be
 * NULL) says which field. On success *out is a new manifest owned by the
 * caller (flt_manifest_free). */
FLT_WUR flt_err flt_manifest_parse(const char *buf, size_t len, struct flt_manifest **out,
                                   struct flt_json_err *err);

/* Checks a manifest struct against the same rules the decoder applies.
 * FLT_EINVAL (err says which field) or FLT_OK. */
FLT_WUR flt_err flt_manifest_validate(const struct flt_manifest *m, struct flt_json_err *err);

/* Encodes a valid manifest as compact JSON. *out (owned, flt_free, NUL-
 * terminated) and *len are set on success. FLT_EINVAL if validation fails,
 * FLT_ENOMEM. */
FLT_WUR flt_err flt_manifest_encode(const struct flt_manifest *m, char **out, size_t *len);

/* ceil(size / chunk_size), or 0 if chunk_size is 0. */
uint64_t flt_manifest_chunk_count(uint64_t size, uint32_t chunk_size);

/* Frees a manifest and its arrays; accepts NULL. */
void flt_manifest_free(struct flt_manifest *m);

#endif
