/* libFuzzer target: the chunk index. The expected values are taken from the
 * input itself (its own hash, the header fields) so the fuzzer gets past the
 * hash check into the structural checks. Properties: no crash; a decoded index
 * answers chunk lengths that add up to the artifact size; every input also
 * streams through the builder, whose output must decode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void decode_self(const uint8_t *data, size_t size)
{
	uint8_t sha[FLT_SHA256_LEN], art[FLT_SHA256_LEN] = {0};
	if (flt_sha256(data, size, sha) != FLT_OK)
		abort();
	struct flt_chunk_index_expect ex = {
	    .index_sha256 = sha, .artifact_sha256 = art, .max_count = 4096};
	if (size >= FLT_CHUNK_INDEX_HEADER_LEN) {
		ex.artifact_size = be(data + 8, 8);
		ex.chunk_size = (uint32_t)be(data + 16, 4);
		memcpy(art, data + 24, sizeof art);
	}
	flt_chunk_index *idx = NULL;
	if (flt_chunk_index_decode(data, size, &ex, &idx) != FLT_OK)
		return;
	uint64_t total = 0;
	for (uint32_t i = 0; i < idx->count; i++) {
		uint32_t n = flt_chunk_index_chunk_len(idx, i);
		if (n == 0 || n > idx->chunk_size)
			abort();
		total += n;
	}
	if (total != idx->artifact_size)
		abort();
	uint32_t last = idx->count - 1;
	uint32_t n = flt_chunk_index_chunk_len(idx, last);
	if (n <= size && flt_chunk_index_check(idx, last, data, n) == FLT_EINVAL)
		abort();
	flt_chunk_index_free(idx);
}

static void build_and_decode(const uint8_t *data, size_t size)
{
	if (size < 2)
		return;
	uint32_t csize = (uint32_t)data[0] + 1;
	flt_chunk_index_builder *b = NULL;
	uint8_t *out = NULL, isha[FLT_SHA256_LEN], asha[FLT_SHA256_LEN];
	size_t outlen = 0;
	uint64_t asize = 0;
	if (flt_chunk_index_builder_new(csize, 0, &b) != FLT_OK)
		abort();
	/* Pieces of varying size, steered by the second byte. */
	size_t step = (size_t)data[1] % 37 + 1;
	for (size_t off = 1; off < size; off += step)
		if (flt_chunk_index_builder_update(b, data + off,
		                                   size - off < step ? size - off : step) != FLT_OK)
			abort();
	if (flt_chunk_index_builder_finish(b, &out, &outlen, isha, asha, &asize) != FLT_OK)
		abort();
	flt_chunk_index_builder_free(b);
	struct flt_chunk_index_expect ex = {.index_sha256 = isha,
	                                    .artifact_sha256 = asha,
	                                    .artifact_size = asize,
	                                    .chunk_size = csize};
	flt_chunk_index *idx = NULL;
	if (flt_chunk_index_decode(out, outlen, &ex, &idx) != FLT_OK)
		abort();
	for (uint32_t i = 0; i < idx->count; i++)
		if (flt_chunk_index_check(idx, i, data + 1 + (size_t)i * csize,
		                          flt_chunk_index_chunk_len(idx, i)) != FLT_OK)
			abort();
	flt_chunk_index_free(idx);
	flt_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_self(data, size);
	build_and_decode(data, size);
	return 0;
}
