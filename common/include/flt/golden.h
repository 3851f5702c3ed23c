/* The golden-vector bundle: a release's second artifact (named by hash in the
 * manifest's "golden") holding test cases of input and expected output
 * TensorProtos with the tolerances they are compared at. This codec only
 * frames the TensorProto bytes; the runtime parses them.
 *
 * Layout (docs/protocol.md, "Golden-vector bundle"):
 *   "FLTGOLD1" (8 bytes) | header length H (u32 little-endian) | header (H
 *   bytes of JSON) | data
 *   header = {"v":1,"rtol":R,"atol":A,"cases":[{"inputs":[{"size":N},...],
 *             "outputs":[{"size":N},...]},...]}
 * The data area is every blob in order (case by case, inputs then outputs),
 * back to back, and nothing else: offsets follow from sizes, so one bundle
 * has exactly one encoding. */
#ifndef FLT_GOLDEN_H
#define FLT_GOLDEN_H

#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/json.h"

#define FLT_GOLDEN_MAGIC       "FLTGOLD1"
#define FLT_GOLDEN_MAGIC_LEN   8
#define FLT_GOLDEN_MAX_HEADER  (64u * 1024u)
#define FLT_GOLDEN_MAX_CASES   64
#define FLT_GOLDEN_MAX_TENSORS 32 /* inputs, and outputs, per case */
#define FLT_GOLDEN_MAX_TOL     1e6

struct flt_golden_blob {
	const uint8_t *data; /* a serialized onnx.TensorProto; borrowed (see flt_golden_parse) */
	size_t len;
};

struct flt_golden_case {
	struct flt_golden_blob *inputs; /* owned array (the blobs' bytes are not owned), >= 1 */
	size_t n_inputs;
	struct flt_golden_blob *outputs; /* expected outputs, >= 1 */
	size_t n_outputs;
};

struct flt_golden {
	double rtol, atol; /* |got - want| <= atol + rtol * |want|; finite, 0..FLT_GOLDEN_MAX_TOL */
	struct flt_golden_case *cases; /* owned array, 1..FLT_GOLDEN_MAX_CASES */
	size_t n_cases;
};

/* Decodes a bundle of `len` bytes, at most max_len (FLT_ELIMIT past it). The
 * blobs point INTO buf: keep buf alive and unchanged while *out is used.
 * Errors: FLT_EPARSE (bad magic, header, or a data area that does not match the
 * sizes exactly), FLT_ELIMIT, FLT_EUNSUPPORTED (header "v"), FLT_EINVAL,
 * FLT_ENOMEM; err (may be NULL) gets reason and detail. *out owned by the caller
 * (flt_golden_free). */
FLT_WUR flt_err flt_golden_parse(const uint8_t *buf, size_t len, size_t max_len,
                                 struct flt_golden **out, struct flt_json_err *err);

/* FLT_EINVAL (err says why) or FLT_OK. */
FLT_WUR flt_err flt_golden_validate(const struct flt_golden *g, struct flt_json_err *err);

/* Encodes a valid bundle. *out owned (flt_free). FLT_EINVAL, FLT_ELIMIT (size
 * would overflow), FLT_ENOMEM. */
FLT_WUR flt_err flt_golden_encode(const struct flt_golden *g, uint8_t **out, size_t *len);

/* Frees the arrays (not the blob bytes); accepts NULL. */
void flt_golden_free(struct flt_golden *g);

#endif
