/* Shared body of the JSON codec fuzz targets: decode arbitrary bytes; if they
 * are accepted, the encoding must decode again and re-encode to the same
 * bytes (the encoding is canonical); a refusal must leave *out NULL and fill
 * the error (a message and a reason code other than NONE). */
#ifndef FLT_FUZZ_ROUNDTRIP_H
#define FLT_FUZZ_ROUNDTRIP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The error struct starts as garbage so a failure that forgets to fill it shows. */
static inline void flt_fuzz_err_init(struct flt_json_err *e)
{
	memset(e, 'x', sizeof(*e));
}

static inline void flt_fuzz_err_check(const struct flt_json_err *e)
{
	if (!memchr(e->msg, '\0', sizeof(e->msg)) || (unsigned)e->reason >= FLT_REASON_COUNT_ ||
	    e->reason == FLT_REASON_NONE)
		abort();
}

#define FLT_FUZZ_HEAP_CODEC(type, parse, encode, freefn)                                           \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                               \
	{                                                                                          \
		type *a = NULL, *b = NULL;                                                         \
		char *e1 = NULL, *e2 = NULL;                                                       \
		size_t l1 = 0, l2 = 0;                                                             \
		struct flt_json_err err;                                                           \
		flt_fuzz_err_init(&err);                                                           \
		if (parse((const char *)data, size, &a, &err) != FLT_OK) {                         \
			if (a)                                                                     \
				abort();                                                           \
			flt_fuzz_err_check(&err);                                                  \
			return 0;                                                                  \
		}                                                                                  \
		if (encode(a, &e1, &l1) != FLT_OK)                                                 \
			abort();                                                                   \
		if (parse(e1, l1, &b, &err) != FLT_OK)                                             \
			abort();                                                                   \
		if (encode(b, &e2, &l2) != FLT_OK || l1 != l2 || memcmp(e1, e2, l1) != 0)          \
			abort();                                                                   \
		freefn(a);                                                                         \
		freefn(b);                                                                         \
		flt_free(e1);                                                                      \
		flt_free(e2);                                                                      \
		return 0;                                                                          \
	}

#define FLT_FUZZ_VALUE_CODEC(type, parse, encode)                                                  \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                               \
	{                                                                                          \
		type a, b;                                                                         \
		char *e1 = NULL, *e2 = NULL;                                                       \
		size_t l1 = 0, l2 = 0;                                                             \
		struct flt_json_err err;                                                           \
		flt_fuzz_err_init(&err);                                                           \
		if (parse((const char *)data, size, &a, &err) != FLT_OK) {                         \
			flt_fuzz_err_check(&err);                                                  \
			return 0;                                                                  \
		}                                                                                  \
		if (encode(&a, &e1, &l1) != FLT_OK)                                                \
			abort();                                                                   \
		if (parse(e1, l1, &b, &err) != FLT_OK)                                             \
			abort();                                                                   \
		if (encode(&b, &e2, &l2) != FLT_OK || l1 != l2 || memcmp(e1, e2, l1) != 0)         \
			abort();                                                                   \
		flt_free(e1);                                                                      \
		flt_free(e2);                                                                      \
		return 0;                                                                          \
	}

#endif
