/* Unit tests for flt/chunk.h: the chunk message (round trip, zero-length,
 * oversized and inconsistent lengths, every truncation), the chunk index
 * (builder, decode against the manifest's values, per-chunk checks, hash
 * mismatches) and the resume map (bits, round trip, torn-file detection). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/chunk.h"

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131u + seed) >> 3);
}

/* ---- chunk message ---------------------------------------------------------------- */

static void test_chunk_roundtrip(void **state)
{
	(void)state;
	uint8_t payload[100], buf[FLT_CHUNK_HEADER_LEN + 100];
	struct flt_chunk c = {.index = 3, .count = 7, .len = sizeof payload, .data = payload}, d;
	size_t n = 0;
	fill(payload, sizeof payload, 1);
	fill(c.artifact_sha256, 32, 2);
	assert_int_equal(flt_chunk_encode(&c, buf, sizeof buf, &n), FLT_OK);
	assert_int_equal(n, sizeof buf);
	/* Big-endian on the wire whatever the host. */
	assert_memory_equal(buf, "FLTC\x01\x00\x00\x00", 8);
	assert_memory_equal(buf + 40, "\x00\x00\x00\x03\x00\x00\x00\x07\x00\x00\x00\x64", 12);
	assert_int_equal(flt_chunk_decode(buf, n, 0, &d), FLT_OK);
	assert_int_equal(d.index, 3);
	assert_int_equal(d.count, 7);
	assert_int_equal(d.len, 100);
	assert_ptr_equal(d.data, buf + FLT_CHUNK_HEADER_LEN);
	assert_memory_equal(d.artifact_sha256, c.artifact_sha256, 32);
	assert_int_equal(flt_chunk_encode(&c, buf, sizeof buf - 1, &n), FLT_ELIMIT);

	/* Decoding at an odd offset: no alignment assumptions. */
	uint8_t odd[sizeof buf + 1];
	memcpy(odd + 1, buf, sizeof buf);
	assert_int_equal(flt_chunk_decode(odd + 1, sizeof buf, 0, &d), FLT_OK);
	assert_int_equal(d.len, 100);
}

static void test_chunk_refusals(void **state)
{
	(void)state;
	uint8_t payload[64], buf[FLT_CHUNK_HEADER_LEN + 65];
	struct flt_chunk c = {.index = 0, .count = 1, .len = sizeof payload, .data = payload}, d;
	size_t n = 0;
	fill(payload, sizeof payload, 5);
	assert_int_equal(flt_chunk_encode(&c, buf, sizeof buf, &n), FLT_OK);

	/* Zero-length chunks: refused to encode and to decode. */
	struct flt_chunk z = c;
	z.len = 0;
	assert_int_equal(flt_chunk_encode(&z, buf + 100, 0, &n), FLT_EINVAL);
	uint8_t hdr[FLT_CHUNK_HEADER_LEN];
	assert_int_equal(flt_chunk_encode_header(&z, hdr), FLT_EINVAL);
	memcpy(hdr, buf, sizeof hdr);
	hdr[51] = 0; /* length 0 */
	assert_int_equal(flt_chunk_decode(hdr, sizeof hdr, 0, &d), FLT_EPARSE);

	/* Oversized: over the caller's limit, and over the hard limit. */
	size_t len = FLT_CHUNK_HEADER_LEN + sizeof payload;
	assert_int_equal(flt_chunk_decode(buf, len, 63, &d), FLT_ELIMIT);
	assert_int_equal(flt_chunk_decode(buf, len, 64, &d), FLT_OK);
	struct flt_chunk big = c;
	big.len = FLT_CHUNK_MAX_PAYLOAD + 1;
	assert_int_equal(flt_chunk_encode_header(&big, hdr), FLT_EINVAL);

	/* The payload length must equal what follows the header. */
	buf[len] = 0;
	assert_int_equal(flt_chunk_decode(buf, len + 1, 0, &d), FLT_EPARSE);
	assert_int_equal(flt_chunk_decode(buf, len - 1, 0, &d), FLT_EPARSE);
	/* A declared length of 2^32-1 with a short buffer. */
	uint8_t huge[FLT_CHUNK_HEADER_LEN + 1];
	memcpy(huge, buf, FLT_CHUNK_HEADER_LEN);
	memset(huge + 48, 0xff, 4);
	huge[FLT_CHUNK_HEADER_LEN] = 1;
	assert_int_equal(flt_chunk_decode(huge, sizeof huge, 0, &d), FLT_ELIMIT);
	assert_int_equal(flt_chunk_decode(huge, sizeof huge, SIZE_MAX, &d), FLT_ELIMIT);

	/* Every truncation, on an exact-size heap copy. */
	for (size_t k = 0; k < len; k++) {
		uint8_t *cut = flt_memdup(buf, k ? k : 1);
		assert_int_not_equal(flt_chunk_decode(cut, k, 0, &d), FLT_OK);
		flt_free(cut);
	}

	/* Header fields. */
	struct {
		size_t off;
		uint8_t val;
		flt_err want;
	} bad[] = {
	    {0, 'X', FLT_EPARSE},                         /* magic */
	    {4, 2, FLT_EUNSUPPORTED},                     /* version */
	    {4, 0, FLT_EUNSUPPORTED}, {5, 1, FLT_EPARSE}, /* flags */
	    {7, 1, FLT_EPARSE},                           /* reserved */
	    {43, 1, FLT_EPARSE},                          /* index 1 >= count 1 */
	    {47, 0, FLT_EPARSE},                          /* count 0 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t save = buf[bad[i].off];
		buf[bad[i].off] = bad[i].val;
		assert_int_equal(flt_chunk_decode(buf, len, 0, &d), bad[i].want);
		buf[bad[i].off] = save;
	}
	assert_int_equal(flt_chunk_decode(buf, len, 0, &d), FLT_OK);

	struct flt_chunk wrong = c;
	wrong.index = 1;
	assert_int_equal(flt_chunk_encode(&wrong, buf, sizeof buf, &n), FLT_EINVAL);
	wrong = c;
	wrong.count = 0;
	assert_int_equal(flt_chunk_encode(&wrong, buf, sizeof buf, &n), FLT_EINVAL);
}

/* ---- chunk index ------------------------------------------------------------------- */

struct built {
	uint8_t *idx;
	size_t len;
	uint8_t index_sha[32], artifact_sha[32];
	uint64_t size;
};

static void build(const uint8_t *art, size_t n, uint32_t csize, size_t piece, struct built *b)
{
	flt_chunk_index_builder *bl = NULL;
	assert_int_equal(flt_chunk_index_builder_new(csize, 0, &bl), FLT_OK);
	for (size_t off = 0; off < n; off += piece) {
		size_t m = n - off < piece ? n - off : piece;
		assert_int_equal(flt_chunk_index_builder_update(bl, art + off, m), FLT_OK);
	}
	assert_int_equal(flt_chunk_index_builder_finish(bl, &b->idx, &b->len, b->index_sha,
	                                                b->artifact_sha, &b->size),
	                 FLT_OK);
	flt_chunk_index_builder_free(bl);
}

static struct flt_chunk_index_expect expect_of(const struct built *b, uint32_t csize)
{
	struct flt_chunk_index_expect e = {
	    .index_sha256 = b->index_sha,
	    .artifact_sha256 = b->artifact_sha,
	    .artifact_size = b->size,
	    .chunk_size = csize,
	};
	return e;
}

static void test_index_build_and_check(void **state)
{
	(void)state;
	uint8_t art[1000];
	fill(art, sizeof art, 9);
	struct built b;
	build(art, sizeof art, 300, sizeof art, &b);
	assert_int_equal(b.size, 1000);
	assert_int_equal(b.len, FLT_CHUNK_INDEX_HEADER_LEN + 4 * 32);
	uint8_t h[32];
	assert_int_equal(flt_sha256(art, sizeof art, h), FLT_OK);
	assert_memory_equal(h, b.artifact_sha, 32);

	/* Any piece sizes give the same index. */
	size_t pieces[] = {1, 7, 299, 300, 301, 999};
	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
		struct built o;
		build(art, sizeof art, 300, pieces[i], &o);
		assert_int_equal(o.len, b.len);
		assert_memory_equal(o.idx, b.idx, b.len);
		flt_free(o.idx);
	}

	struct flt_chunk_index_expect ex = expect_of(&b, 300);
	flt_chunk_index *idx = NULL;
	assert_int_equal(flt_chunk_index_decode(b.idx, b.len, &ex, &idx), FLT_OK);
	assert_int_equal(idx->count, 4);
	assert_int_equal(flt_chunk_index_chunk_len(idx, 0), 300);
	assert_int_equal(flt_chunk_index_chunk_len(idx, 3), 100);
	assert_int_equal(flt_chunk_index_chunk_len(idx, 4), 0);
	assert_int_equal(flt_chunk_index_chunk_offset(idx, 3), 900);
	for (uint32_t i = 0; i < 4; i++) {
		uint32_t cl = flt_chunk_index_chunk_len(idx, i);
		assert_int_equal(flt_chunk_index_check(idx, i, art + 300 * i, cl), FLT_OK);
		/* Chunk i's bytes presented as chunk i+1. */
		if (i < 2)
			assert_int_equal(flt_chunk_index_check(idx, i + 1, art + 300 * i, cl),
			                 FLT_EVERIFY);
	}
	/* One flipped bit in a chunk; a wrong length; out of range. */
	art[450] ^= 0x10;
	assert_int_equal(flt_chunk_index_check(idx, 1, art + 300, 300), FLT_EVERIFY);
	art[450] ^= 0x10;
	assert_int_equal(flt_chunk_index_check(idx, 1, art + 300, 299), FLT_EVERIFY);
	assert_int_equal(flt_chunk_index_check(idx, 3, art + 900, 101), FLT_EVERIFY);
	assert_int_equal(flt_chunk_index_check(idx, 4, art, 1), FLT_EINVAL);
	flt_chunk_index_free(idx);
	flt_chunk_index_free(NULL);

	/* An exact multiple: the last chunk is full, and there is no empty one. */
	struct built m;
	build(art, 900, 300, 300, &m);
	struct flt_chunk_index_expect mx = expect_of(&m, 300);
	assert_int_equal(flt_chunk_index_decode(m.idx, m.len, &mx, &idx), FLT_OK);
	assert_int_equal(idx->count, 3);
	assert_int_equal(flt_chunk_index_chunk_len(idx, 2), 300);
	flt_chunk_index_free(idx);
	flt_free(m.idx);

	/* One-shot build equals the streaming one. */
	uint8_t *one = NULL, osha[32];
	size_t olen = 0;
	assert_int_equal(flt_chunk_index_build(art, sizeof art, 300, &one, &olen, osha), FLT_OK);
	assert_int_equal(olen, b.len);
	assert_memory_equal(one, b.idx, olen);
	assert_memory_equal(osha, b.index_sha, 32);
	flt_free(one);

	/* Builder limits: empty artifact, chunk size 0, too many chunks. */
	flt_chunk_index_builder *bl = NULL;
	assert_int_equal(flt_chunk_index_builder_new(0, 0, &bl), FLT_EINVAL);
	assert_int_equal(flt_chunk_index_builder_new(10, 0, &bl), FLT_OK);
	assert_int_equal(flt_chunk_index_builder_finish(bl, &one, &olen, NULL, NULL, NULL),
	                 FLT_EINVAL);
	flt_chunk_index_builder_free(bl);
	assert_int_equal(flt_chunk_index_builder_new(10, 3, &bl), FLT_OK);
	assert_int_equal(flt_chunk_index_builder_update(bl, art, 30), FLT_OK);
	assert_int_equal(flt_chunk_index_builder_update(bl, art, 1), FLT_ELIMIT);
	flt_chunk_index_builder_free(bl);

	flt_free(b.idx);
}

/* Re-encodes an index header field and recomputes the hash, so the decoder's
 * structural checks (not the hash check) are what refuses it. */
static flt_err decode_patched(const struct built *b, size_t off, const uint8_t *val, size_t n,
                              size_t len, uint64_t size, uint32_t csize)
{
	uint8_t *copy = flt_malloc(len);
	uint8_t sha[32];
	memcpy(copy, b->idx, len < b->len ? len : b->len);
	if (len > b->len)
		memset(copy + b->len, 0, len - b->len);
	memcpy(copy + off, val, n);
	assert_int_equal(flt_sha256(copy, len, sha), FLT_OK);
	struct flt_chunk_index_expect ex = {.index_sha256 = sha,
	                                    .artifact_sha256 = b->artifact_sha,
	                                    .artifact_size = size,
	                                    .chunk_size = csize};
	flt_chunk_index *idx = NULL;
	flt_err e = flt_chunk_index_decode(copy, len, &ex, &idx);
	if (e == FLT_OK)
		flt_chunk_index_free(idx);
	else
		assert_null(idx);
	flt_free(copy);
	return e;
}

static void test_index_refusals(void **state)
{
	(void)state;
	uint8_t art[1000];
	fill(art, sizeof art, 3);
	struct built b;
	build(art, sizeof art, 300, 1000, &b);
	struct flt_chunk_index_expect ex = expect_of(&b, 300);
	flt_chunk_index *idx = NULL;

	/* Hash mismatch: any flipped bit of the index. */
	for (size_t bit = 0; bit < b.len * 8; bit += 3) {
		b.idx[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(flt_chunk_index_decode(b.idx, b.len, &ex, &idx), FLT_EVERIFY);
		b.idx[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* Truncated: the hash no longer matches. */
	assert_int_equal(flt_chunk_index_decode(b.idx, b.len - 1, &ex, &idx), FLT_EVERIFY);

	/* The manifest disagrees with a well-hashed index. */
	struct flt_chunk_index_expect w = ex;
	w.artifact_size = 999;
	assert_int_equal(flt_chunk_index_decode(b.idx, b.len, &w, &idx), FLT_EVERIFY);
	w = ex;
	w.chunk_size = 250;
	assert_int_equal(flt_chunk_index_decode(b.idx, b.len, &w, &idx), FLT_EVERIFY);
	uint8_t other[32] = {0};
	w = ex;
	w.artifact_sha256 = other;
	assert_int_equal(flt_chunk_index_decode(b.idx, b.len, &w, &idx), FLT_EVERIFY);
	w = ex;
	w.max_count = 3;
	assert_int_equal(flt_chunk_index_decode(b.idx, b.len, &w, &idx), FLT_ELIMIT);
	assert_int_equal(flt_chunk_index_decode(b.idx, b.len, NULL, &idx), FLT_EINVAL);

	/* Structural refusals with a matching hash. */
	const uint8_t two = 2, one = 1, X = 'X';
	const uint8_t count5[4] = {0, 0, 0, 5}, count3[4] = {0, 0, 0, 3}, zero4[4] = {0};
	const uint8_t zero8[8] = {0};
	assert_int_equal(decode_patched(&b, 0, &X, 1, b.len, 1000, 300), FLT_EPARSE);
	assert_int_equal(decode_patched(&b, 4, &two, 1, b.len, 1000, 300), FLT_EUNSUPPORTED);
	assert_int_equal(decode_patched(&b, 5, &one, 1, b.len, 1000, 300), FLT_EPARSE);
	assert_int_equal(decode_patched(&b, 6, &one, 1, b.len, 1000, 300), FLT_EPARSE);
	assert_int_equal(decode_patched(&b, 20, count5, 4, b.len + 32, 1000, 300), FLT_EPARSE);
	assert_int_equal(decode_patched(&b, 20, count3, 4, b.len - 32, 1000, 300), FLT_EPARSE);
	assert_int_equal(decode_patched(&b, 16, zero4, 4, b.len, 1000, 0), FLT_EPARSE);
	assert_int_equal(decode_patched(&b, 8, zero8, 8, b.len, 0, 300), FLT_EPARSE);
	/* Length other than header + 32 * count. */
	assert_int_equal(decode_patched(&b, 0, &one, 0, b.len + 1, 1000, 300), FLT_EPARSE);
	/* Unchanged still decodes through the same helper. */
	assert_int_equal(decode_patched(&b, 0, &one, 0, b.len, 1000, 300), FLT_OK);
	flt_free(b.idx);
}

/* ---- resume map -------------------------------------------------------------------- */

static void test_resume_map_bits(void **state)
{
	(void)state;
	uint8_t art[32];
	fill(art, 32, 4);
	flt_resume_map *m = NULL;
	uint32_t i = 0;
	assert_int_equal(flt_resume_map_new(art, 0, &m), FLT_EINVAL);
	assert_int_equal(flt_resume_map_new(art, FLT_CHUNK_MAX_COUNT + 1, &m), FLT_EINVAL);
	assert_int_equal(flt_resume_map_new(art, 21, &m), FLT_OK);
	assert_int_equal(flt_resume_map_count(m), 21);
	assert_int_equal(flt_resume_map_present(m), 0);
	assert_true(flt_resume_map_first_missing(m, &i));
	assert_int_equal(i, 0);
	for (uint32_t k = 0; k < 21; k++)
		if (k != 17)
			assert_int_equal(flt_resume_map_set(m, k), FLT_OK);
	assert_int_equal(flt_resume_map_set(m, 3), FLT_OK); /* twice counts once */
	assert_int_equal(flt_resume_map_present(m), 20);
	assert_false(flt_resume_map_complete(m));
	assert_true(flt_resume_map_first_missing(m, &i));
	assert_int_equal(i, 17);
	assert_false(flt_resume_map_next_missing(m, 18, &i));
	assert_true(flt_resume_map_test(m, 20));
	assert_false(flt_resume_map_test(m, 17));
	assert_false(flt_resume_map_test(m, 21));
	assert_int_equal(flt_resume_map_set(m, 21), FLT_EINVAL);
	assert_int_equal(flt_resume_map_set(m, 17), FLT_OK);
	assert_true(flt_resume_map_complete(m));
	assert_false(flt_resume_map_first_missing(m, &i));
	assert_int_equal(flt_resume_map_clear(m, 8), FLT_OK);
	assert_int_equal(flt_resume_map_clear(m, 8), FLT_OK);
	assert_int_equal(flt_resume_map_present(m), 20);
	assert_true(flt_resume_map_first_missing(m, &i));
	assert_int_equal(i, 8);
	assert_int_equal(flt_resume_map_clear(m, 99), FLT_EINVAL);
	flt_resume_map_free(m);
	flt_resume_map_free(NULL);
}

static void test_resume_map_persist(void **state)
{
	(void)state;
	uint8_t art[32], other[32];
	fill(art, 32, 4);
	fill(other, 32, 5);
	flt_resume_map *m = NULL, *back = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(flt_resume_map_new(art, 21, &m), FLT_OK);
	uint32_t set[] = {0, 5, 7, 8, 20};
	for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
		assert_int_equal(flt_resume_map_set(m, set[i]), FLT_OK);
	assert_int_equal(flt_resume_map_serialize(m, &buf, &len), FLT_OK);
	assert_int_equal(len, 44 + 3 + 32);

	assert_int_equal(flt_resume_map_load(buf, len, art, 21, &back), FLT_OK);
	assert_int_equal(flt_resume_map_present(back), 5);
	for (uint32_t k = 0; k < 21; k++)
		assert_int_equal(flt_resume_map_test(back, k), flt_resume_map_test(m, k));
	flt_resume_map_free(back);
	back = NULL;

	/* A map of another artifact or chunk count. */
	assert_int_equal(flt_resume_map_load(buf, len, other, 21, &back), FLT_ECONFLICT);
	assert_int_equal(flt_resume_map_load(buf, len, art, 22, &back), FLT_ECONFLICT);

	/* Torn: every truncation, and any flipped bit (checksum). */
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = flt_memdup(buf, n ? n : 1);
		assert_int_equal(flt_resume_map_load(cut, n, art, 21, &back), FLT_EPARSE);
		flt_free(cut);
	}
	for (size_t bit = 0; bit < len * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		flt_err e = flt_resume_map_load(buf, len, art, 21, &back);
		/* A flip in the count field changes the expected length first. */
		assert_true(e == FLT_EPARSE);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* A zero-filled tail, as a power cut before the data reached disk leaves. */
	memset(buf + 44, 0, len - 44);
	assert_int_equal(flt_resume_map_load(buf, len, art, 21, &back), FLT_EPARSE);
	assert_null(back);
	flt_free(buf);

	/* Bits past count are refused even with a correct checksum. */
	assert_int_equal(flt_resume_map_serialize(m, &buf, &len), FLT_OK);
	buf[44 + 2] |= 0x80; /* bit 23 of a 21-chunk map */
	assert_int_equal(flt_sha256(buf, len - 32, buf + len - 32), FLT_OK);
	assert_int_equal(flt_resume_map_load(buf, len, art, 21, &back), FLT_EPARSE);
	buf[4] = 2; /* another version, with a matching checksum */
	buf[44 + 2] &= 0x7f;
	assert_int_equal(flt_sha256(buf, len - 32, buf + len - 32), FLT_OK);
	assert_int_equal(flt_resume_map_load(buf, len, art, 21, &back), FLT_EUNSUPPORTED);
	flt_free(buf);
	flt_resume_map_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chunk_roundtrip),       cmocka_unit_test(test_chunk_refusals),
	    cmocka_unit_test(test_index_build_and_check), cmocka_unit_test(test_index_refusals),
	    cmocka_unit_test(test_resume_map_bits),       cmocka_unit_test(test_resume_map_persist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
