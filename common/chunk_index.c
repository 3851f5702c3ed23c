/* The chunk index: artifact hash, size, chunk size, count, then each chunk's
 * SHA-256. Its own hash travels in the signed manifest, so it is checked
 * before a single field is read; the builder produces it in one streaming pass. */
#include <string.h>

#include "bytes.h"
#include "flt/alloc.h"
#include "flt/chunk.h"

static const uint8_t index_magic[4] = {'F', 'L', 'T', 'I'};

enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 4,
	OFF_FLAGS = 5,
	OFF_RESERVED = 6,
	OFF_SIZE = 8,
	OFF_CHUNK_SIZE = 16,
	OFF_COUNT = 20,
	OFF_ARTIFACT = 24,
};

_Static_assert(OFF_ARTIFACT + FLT_SHA256_LEN == FLT_CHUNK_INDEX_HEADER_LEN, "index header layout");

/* ceil(size / chunk_size) for size >= 1, chunk_size >= 1, without overflow. */
static uint64_t chunk_count(uint64_t size, uint32_t chunk_size)
{
	return (size - 1) / chunk_size + 1;
}

flt_err flt_chunk_index_decode(const uint8_t *buf, size_t len,
                               const struct flt_chunk_index_expect *exp, flt_chunk_index **out)
{
	uint8_t digest[FLT_SHA256_LEN];
	flt_chunk_index *idx = NULL;
	flt_err e;

	if (!buf || !exp || !exp->index_sha256 || !exp->artifact_sha256 || !out)
		return FLT_EINVAL;
	/* Unverified bytes are not parsed at all. */
	e = flt_sha256(buf, len, digest);
	if (e != FLT_OK)
		return e;
	if (!flt_ct_equal(digest, exp->index_sha256, FLT_SHA256_LEN))
		return FLT_EVERIFY;

	uint32_t max_count = exp->max_count;
	if (max_count == 0 || max_count > FLT_CHUNK_MAX_COUNT)
		max_count = FLT_CHUNK_MAX_COUNT;
	if (len < FLT_CHUNK_INDEX_HEADER_LEN ||
	    memcmp(buf + OFF_MAGIC, index_magic, sizeof index_magic) != 0)
		return FLT_EPARSE;
	if (buf[OFF_VERSION] != FLT_CHUNK_INDEX_VERSION)
		return FLT_EUNSUPPORTED;
	if (buf[OFF_FLAGS] != 0 || get_be16(buf + OFF_RESERVED) != 0)
		return FLT_EPARSE;
	uint64_t size = get_be64(buf + OFF_SIZE);
	uint32_t csize = get_be32(buf + OFF_CHUNK_SIZE);
	uint32_t count = get_be32(buf + OFF_COUNT);
	if (size == 0 || csize == 0 || count == 0 || chunk_count(size, csize) != count)
		return FLT_EPARSE;
	if (count > max_count)
		return FLT_ELIMIT;
	/* count <= 2^24, so this cannot overflow even with a 32-bit size_t. */
	if (len != FLT_CHUNK_INDEX_HEADER_LEN + (size_t)count * FLT_SHA256_LEN)
		return FLT_EPARSE;
	if (size != exp->artifact_size || csize != exp->chunk_size ||
	    memcmp(buf + OFF_ARTIFACT, exp->artifact_sha256, FLT_SHA256_LEN) != 0)
		return FLT_EVERIFY;

	idx = flt_calloc(1, sizeof *idx);
	if (!idx)
		return FLT_ENOMEM;
	idx->hashes = flt_calloc(count, FLT_SHA256_LEN);
	if (!idx->hashes) {
		flt_free(idx);
		return FLT_ENOMEM;
	}
	memcpy(idx->artifact_sha256, buf + OFF_ARTIFACT, FLT_SHA256_LEN);
	idx->artifact_size = size;
	idx->chunk_size = csize;
	idx->count = count;
	memcpy(idx->hashes, buf + FLT_CHUNK_INDEX_HEADER_LEN, (size_t)count * FLT_SHA256_LEN);
	*out = idx;
	return FLT_OK;
}

uint32_t flt_chunk_index_chunk_len(const flt_chunk_index *idx, uint32_t i)
{
	if (!idx || i >= idx->count)
		return 0;
	if (i + 1 < idx->count)
		return idx->chunk_size;
	return (uint32_t)(idx->artifact_size - (uint64_t)i * idx->chunk_size);
}

uint64_t flt_chunk_index_chunk_offset(const flt_chunk_index *idx, uint32_t i)
{
	return (uint64_t)i * idx->chunk_size;
}

flt_err flt_chunk_index_check(const flt_chunk_index *idx, uint32_t i, const uint8_t *data,
                              size_t len)
{
	uint8_t digest[FLT_SHA256_LEN];
	if (!idx || !data || i >= idx->count)
		return FLT_EINVAL;
	if (len != flt_chunk_index_chunk_len(idx, i))
		return FLT_EVERIFY;
	flt_err e = flt_sha256(data, len, digest);
	if (e != FLT_OK)
		return e;
	return flt_ct_equal(digest, idx->hashes[i], FLT_SHA256_LEN) ? FLT_OK : FLT_EVERIFY;
}

void flt_chunk_index_free(flt_chunk_index *idx)
{
	if (!idx)
		return;
	flt_free(idx->hashes);
	flt_free(idx);
}

/* ---- builder ------------------------------------------------------------------------- */

struct flt_chunk_index_builder {
	uint32_t chunk_size, max_count;
	uint32_t count, cap; /* finished chunks, capacity of hashes */
	uint64_t size;       /* bytes seen */
	uint32_t fill;       /* bytes in the current, unfinished chunk */
	uint8_t (*hashes)[FLT_SHA256_LEN];
	flt_sha256_ctx whole, chunk;
	bool failed;
};

flt_err flt_chunk_index_builder_new(uint32_t chunk_size, uint32_t max_count,
                                    flt_chunk_index_builder **out)
{
	if (chunk_size == 0 || !out)
		return FLT_EINVAL;
	flt_chunk_index_builder *b = flt_calloc(1, sizeof *b);
	if (!b)
		return FLT_ENOMEM;
	b->chunk_size = chunk_size;
	b->max_count =
	    max_count == 0 || max_count > FLT_CHUNK_MAX_COUNT ? FLT_CHUNK_MAX_COUNT : max_count;
	flt_sha256_init(&b->whole);
	flt_sha256_init(&b->chunk);
	*out = b;
	return FLT_OK;
}

/* Closes the current chunk: stores its hash and starts the next one. */
static flt_err close_chunk(flt_chunk_index_builder *b)
{
	if (b->count >= b->max_count)
		return FLT_ELIMIT;
	if (b->count == b->cap) {
		uint32_t ncap = b->cap ? b->cap * 2 : 64;
		if (ncap > b->max_count)
			ncap = b->max_count;
		void *n = flt_reallocarray(b->hashes, ncap, FLT_SHA256_LEN);
		if (!n)
			return FLT_ENOMEM;
		b->hashes = n;
		b->cap = ncap;
	}
	flt_err e = flt_sha256_final(&b->chunk, b->hashes[b->count]);
	if (e != FLT_OK)
		return e;
	b->count++;
	b->fill = 0;
	flt_sha256_init(&b->chunk);
	return FLT_OK;
}

flt_err flt_chunk_index_builder_update(flt_chunk_index_builder *b, const void *data, size_t len)
{
	const uint8_t *p = data;
	if (!b || (!data && len))
		return FLT_EINVAL;
	if (b->failed)
		return FLT_EINVAL;
	while (len > 0) {
		/* A full chunk is closed only when more bytes arrive, so the last
		 * chunk is closed by finish and never counted twice. */
		if (b->fill == b->chunk_size) {
			flt_err e = close_chunk(b);
			/* These bytes start one chunk more than allowed. */
			if (e == FLT_OK && b->count >= b->max_count)
				e = FLT_ELIMIT;
			if (e != FLT_OK) {
				b->failed = true;
				return e;
			}
		}
		size_t n = b->chunk_size - b->fill;
		if (n > len)
			n = len;
		flt_sha256_update(&b->chunk, p, n);
		flt_sha256_update(&b->whole, p, n);
		b->fill += (uint32_t)n;
		b->size += n;
		p += n;
		len -= n;
	}
	return FLT_OK;
}

flt_err flt_chunk_index_builder_finish(flt_chunk_index_builder *b, uint8_t **out, size_t *outlen,
                                       uint8_t index_sha256[FLT_SHA256_LEN],
                                       uint8_t artifact_sha256[FLT_SHA256_LEN],
                                       uint64_t *artifact_size)
{
	uint8_t whole[FLT_SHA256_LEN], ihash[FLT_SHA256_LEN];
	uint8_t *buf = NULL;
	flt_err e;

	if (!b || !out || !outlen || b->failed || b->size == 0)
		return FLT_EINVAL;
	b->failed = true; /* finish runs once */
	e = close_chunk(b);
	if (e != FLT_OK)
		return e;
	e = flt_sha256_final(&b->whole, whole);
	if (e != FLT_OK)
		return e;
	size_t len = FLT_CHUNK_INDEX_HEADER_LEN + (size_t)b->count * FLT_SHA256_LEN;
	buf = flt_malloc(len);
	if (!buf)
		return FLT_ENOMEM;
	memcpy(buf + OFF_MAGIC, index_magic, sizeof index_magic);
	buf[OFF_VERSION] = FLT_CHUNK_INDEX_VERSION;
	buf[OFF_FLAGS] = 0;
	put_be16(buf + OFF_RESERVED, 0);
	put_be64(buf + OFF_SIZE, b->size);
	put_be32(buf + OFF_CHUNK_SIZE, b->chunk_size);
	put_be32(buf + OFF_COUNT, b->count);
	memcpy(buf + OFF_ARTIFACT, whole, FLT_SHA256_LEN);
	memcpy(buf + FLT_CHUNK_INDEX_HEADER_LEN, b->hashes, (size_t)b->count * FLT_SHA256_LEN);
	e = flt_sha256(buf, len, ihash);
	if (e != FLT_OK) {
		flt_free(buf);
		return e;
	}
	if (index_sha256)
		memcpy(index_sha256, ihash, FLT_SHA256_LEN);
	if (artifact_sha256)
		memcpy(artifact_sha256, whole, FLT_SHA256_LEN);
	if (artifact_size)
		*artifact_size = b->size;
	*out = buf;
	*outlen = len;
	return FLT_OK;
}

void flt_chunk_index_builder_free(flt_chunk_index_builder *b)
{
	if (!b)
		return;
	flt_free(b->hashes);
	flt_free(b);
}

flt_err flt_chunk_index_build(const uint8_t *artifact, size_t len, uint32_t chunk_size,
                              uint8_t **out, size_t *outlen, uint8_t index_sha256[FLT_SHA256_LEN])
{
	flt_chunk_index_builder *b = NULL;
	flt_err e = flt_chunk_index_builder_new(chunk_size, 0, &b);
	if (e == FLT_OK)
		e = flt_chunk_index_builder_update(b, artifact, len);
	if (e == FLT_OK)
		e = flt_chunk_index_builder_finish(b, out, outlen, index_sha256, NULL, NULL);
	flt_chunk_index_builder_free(b);
	return e;
}
