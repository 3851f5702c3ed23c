/* Shared body of the JSON codec fuzz targets: decode arbitrary bytes; if they
 * are accepted, the encoding must decode again and re-encode to the same
 * bytes (the encoding is canonical), and a refusal must leave *out NULL. */
#ifndef FLT_FUZZ_ROUNDTRIP_H
#define FLT_FUZZ_ROUNDTRIP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FLT_FUZZ_HEAP_CODEC(type, parse, encode, freefn)                                         \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                               \
	{                                                                                          \
		type *a = NULL, *b = NULL;                                                         \
		char *e1 = NULL, *e2 = NULL;                                                       \
		size_t l1 = 0, l2 = 0;                                                             \
		struct flt_json_err err;                                                           \
		if (parse((const char *)data, size, &a, &err) != FLT_OK) {                         \
			if (a)                                                                     \
				abort();                                                           \
			if (!memchr(err.msg, '\0', sizeof(err.msg)))                               \
				abort();                                                           \
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

#define FLT_FUZZ_VALUE_CODEC(type, parse, encode)                                                \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                               \
	{                                                                                          \
		type a, b;                                                                         \
		char *e1 = NULL, *e2 = NULL;                                                       \
		size_t l1 = 0, l2 = 0;                                                             \
		struct flt_json_err err;                                                           \
		if (parse((const char *)data, size, &a, &err) != FLT_OK)                           \
			return 0;                                                                  \
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
